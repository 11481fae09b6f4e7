/* mkvol: add COUNT volunteers to the node in HOME through the node API,
 * one change each (tests: bulk data faster than one kring process per
 * volunteer). With EVERY, every EVERY-th of them (the first, then ...)
 * has consent for matching to all members in the same change, so that the
 * other members read it; the rest only this node reads.
 * usage: mkvol HOME COUNT PREFIX [EVERY] */
#include <stdio.h>
#include <stdlib.h>

#include "node/node.h"

int main(int argc, char **argv)
{
  kr_node *n;
  long count, every = 0;
  if ((argc != 4 && argc != 5) || (count = atol(argv[2])) <= 0 ||
      (argc == 5 && (every = atol(argv[4])) <= 0)) {
    fprintf(stderr, "usage: mkvol HOME COUNT PREFIX [EVERY]\n");
    return 2;
  }
  /* Test data: a power cut during the test loses the test anyway, so the
   * commits need not wait for the disk (twice as fast). */
  kr_node_set_durable(0);
  if (kr_node_open(argv[1], &n)) {
    fprintf(stderr, "mkvol: cannot open %s\n", argv[1]);
    return 1;
  }
  for (long i = 0; i < count; i++) {
    kr_txn *t;
    uint8_t id[KR_SUBJECT_LEN];
    char name[128];
    snprintf(name, sizeof name, "%s %ld", argv[3], i);
    if (kr_txn_begin(n, &t)) return 1;
    kr_txn_new_subject(t, id);
    if (kr_txn_set(t, id, KR_F_NAME, name, NULL) || kr_txn_set(t, id, KR_F_CITY, "Zwolle", NULL) ||
        kr_txn_add(t, id, KR_F_SKILLS, "tuinieren", NULL) ||
        (every && i % every == 0 &&
         kr_txn_grant(t, id, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL)) ||
        kr_txn_commit(t, NULL)) {
      fprintf(stderr, "mkvol: cannot add volunteer %ld\n", i);
      return 1;
    }
  }
  kr_node_close(n);
  return 0;
}
