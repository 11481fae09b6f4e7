/*
 * modelcheck: does the naive reference model (tests/prop/model.c) agree
 * with a node's store? Reads every change the node in HOME holds and the
 * keys it holds, feeds them to the model and compares what the node reads
 * (kr_node_digest_readable) with the model's digest of what it may read,
 * and what it holds (kr_node_digest) with the model's. Prints both and
 * exits 0 when they agree, 1 when not. The import tests run it after
 * importing and re-importing a sheet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/change.h"
#include "crdt/err.h"
#include "model.h"
#include "node/node.h"

struct all {
  kr_node *n;
  kr_change *c;
  size_t len, cap;
  int rc;
};

static int one(void *ctx, const kr_change_info *ci)
{
  struct all *a = ctx;
  kr_buf b;
  kr_buf_init(&b, KR_CHANGE_MAX);
  if (kr_node_change_bytes(a->n, ci->origin, ci->seq, &b) == 0) {
    if (a->len == a->cap) {
      a->cap = a->cap ? 2 * a->cap : 64;
      if (!(a->c = realloc(a->c, a->cap * sizeof *a->c))) abort();
    }
    if (kr_change_decode(b.data, b.len, KR_CHANGE_MAX, &a->c[a->len]) == 0) a->len++;
    else a->rc = 1;
  } else {
    a->rc = 1;
  }
  kr_buf_free(&b);
  return 0;
}

int main(int argc, char **argv)
{
  struct all a;
  uint8_t d1[32], d2[32], h1[32], h2[32], net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  char day[11];
  model_keys keys = {NULL, 0};
  model *m;
  int rc, same;

  memset(&a, 0, sizeof a);
  if (argc != 2) { fprintf(stderr, "usage: modelcheck HOME\n"); return 2; }
  if ((rc = kr_node_open(argv[1], &a.n))) { fprintf(stderr, "modelcheck: %s\n", kr_strerror(rc)); return 1; }
  if (kr_node_log(a.n, one, &a) || a.rc || kr_node_digest_readable(a.n, d1) ||
      kr_node_digest(a.n, h1)) {
    fprintf(stderr, "modelcheck: cannot read the changes\n");
    return 1;
  }
  kr_node_network(a.n, net, founder);
  kr_node_today(a.n, day);
  model_node_keys(&keys, a.n);
  model_sealed_keys(&keys, a.c, a.len, net, kr_node_secret_key(a.n));
  m = model_new(a.c, a.len, net, &keys);
  model_digest(m, kr_node_id(a.n), day, d2);
  model_held_digest(m, h2);
  same = !memcmp(d1, d2, 32) && !memcmp(h1, h2, 32);
  printf("modelcheck: %zu changes; node and model digests %s\n", a.len, same ? "agree" : "DIFFER");
  model_free(m);
  model_keys_free(&keys);
  for (size_t i = 0; i < a.len; i++) kr_change_free(&a.c[i]);
  free(a.c);
  kr_node_close(a.n);
  return !same;
}
