/*
 * test_rev7: review of ffabbbe..cffa957 (fresh/keys_me apply skip, import
 * group, KR_EBUSY, own groups applied from the ops sealed, gather fast
 * path, keyops and registrations by node number). Each scenario is a
 * defect found by the review (or something that held): see the comment
 * above each.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "crdt/err.h"
#include "node/internal.h"
#include "node/node.h"


static const char *field_of(kr_node *n, const uint8_t v[16], int f, char *buf, size_t cap)
{
  kr_volunteer vol;
  if (kr_node_volunteer(n, v, &vol)) return "(sealed)";
  snprintf(buf, cap, "%s", vol.val.v[f] ? vol.val.v[f] : "");
  kr_volunteer_free(&vol);
  return buf;
}

static void new_vol(kr_node *n, uint8_t v[16], const char *name)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, name, NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
}

/*
 * 94d015b: kr__group_apply takes n->own[place] (the ops this node just
 * sealed) for any group at that place while n->own is set, without
 * checking that the group is of the change being authored (before, the
 * kept key had to open the box, which binds origin, seq and place). It
 * stays set for the whole kr__apply_change of the authored change,
 * including kr__retract -> rebuild, which folds every stored change
 * again: a record at the same place of an older change then gets the new
 * change's ops. An authored change with a group and a removal (or an
 * admission that voids another) triggers it.
 */
static void own_ops_in_rebuild(void)
{
  kr_node *n[3], *a, *b;
  uint8_t v1[16], v2[16], vb[16];
  kr_txn *t;
  kr_op ex;
  char x[64];

  check_net(n, 3, "own");
  a = n[0];
  b = n[1];
  new_vol(a, v1, "Een Eerste");
  new_vol(b, vb, "Bee Bee");
  check_syncall(n, 3);
  CHECK(strcmp(field_of(a, v1, KR_F_NAME, x, sizeof x), "Een Eerste") == 0);
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v2);
  REQUIRE(kr_txn_set(t, v2, KR_F_NAME, "Twee Tweede", NULL) == 0);
  memset(&ex, 0, sizeof ex);
  ex.type = KR_OP_EXPEL;
  memcpy(ex.subject, a->network, KR_NETWORK_LEN);
  memcpy(ex.member, kr_node_id(b), KR_NODE_LEN);
  ex.after_seq = 0;
  ex.value = "test";
  REQUIRE(kr__txn_member_op(t, &ex) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  /* v1 keeps its own name on the author, as on every other node */
  CHECK(strcmp(field_of(a, v1, KR_F_NAME, x, sizeof x), "Een Eerste") == 0);
  CHECK(strcmp(field_of(a, v2, KR_F_NAME, x, sizeof x), "Twee Tweede") == 0);
  check_sync(a, n[2]);
  CHECK(strcmp(field_of(n[2], v1, KR_F_NAME, x, sizeof x), "(sealed)") == 0 ||
        strcmp(field_of(n[2], v1, KR_F_NAME, x, sizeof x), "Een Eerste") == 0);
  CHECK(check_same_digest(a, n[2]));
  for (int i = 0; i < 3; i++) kr_node_close(n[i]);
}

int main(void)
{
  REQUIRE(sodium_init() >= 0);
  own_ops_in_rebuild();
  return check_done("test_rev7");
}
