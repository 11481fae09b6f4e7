/*
 * test_rev9: review of cb29201 (keyops.tried, schema 13: a node that
 * deletes its keys of a volunteer marks every key op sealed to it as not
 * tried, and recover() opens those again once it reads the volunteer).
 * Each scenario is a defect found by the review, or something it checked
 * that held: see the comment above each.
 *
 * Found too, no test (it needs a store of schema 12 damaged by the bug
 * cb29201 fixes, made by the kring before it): the migration 12 -> 13
 * marked tried every key op of an epoch the node held a key of, so a node
 * whose second key of an epoch was lost before the upgrade (rev6 3b)
 * stayed without it. Now it marks none tried: each volunteer's key ops
 * are opened once more the first time the node decides anew who reads it.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "crdt/change.h"
#include "crdt/err.h"
#include "node/internal.h"
#include "node/node.h"

static void grant(kr_node *n, const uint8_t v[16], const char *purpose, const uint8_t *to)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_grant(t, v, purpose, to, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
}

/* The value of field f of v as n reads it ("(sealed)" when it reads none). */
static const char *field(kr_node *n, const uint8_t v[16], int f, char *buf, size_t cap)
{
  kr_volunteer vol;
  if (kr_node_volunteer(n, v, &vol)) return "(sealed)";
  snprintf(buf, cap, "%s", vol.val.v[f] ? vol.val.v[f] : "");
  kr_volunteer_free(&vol);
  return buf;
}

/* How many key ops of v sealed to n are not tried (n's store). */
static int untried(kr_node *n, const uint8_t v[16])
{
  sqlite3_stmt *s;
  int k = -1;
  REQUIRE(sqlite3_prepare_v2(n->db, "SELECT count(*) FROM keyops k JOIN subjects s ON s.n=k.subj"
                                    " WHERE s.id=?1 AND k.reader=(SELECT n FROM nodes WHERE id=?2)"
                                    " AND NOT k.tried", -1, &s, NULL) == SQLITE_OK);
  sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, kr_node_id(n), 32, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) k = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return k;
}

/* C registers V, readers A and H (H hostile). Returns through n. */
static void setup(kr_node **n, const char *prefix, uint8_t v[16])
{
  kr_txn *t;
  check_net(n, 4, prefix);
  REQUIRE(kr_txn_begin(n[2], &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Vera Vroegsleutel", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(n[0]), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(n[3]), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 4);
}

/*
 * 1 (fixed). Two key ops of one row. keyops names a key op by (subject,
 * epoch, creator, reader, hlc, origin): two changes of one origin with
 * one stamp, each a key entry of one epoch for one reader, are one row.
 * A reader that gets them opens both on arrival; a node that opens them
 * again (recover) opened the first, which marked the row tried, and
 * skipped the second. H, a reader, stamps two changes alike, each a key
 * of (1, C) of its own sealed to A and to B with a box: one sets V's
 * phone, the other V's notes. B gets them before its consent. C grants B:
 * B read one of the two fields, A both. Now recover() decides which
 * entries to open from the rows as they stood before it opened any.
 */
static void one_row_two_keys(void)
{
  kr_node *n[4], *a, *b, *c, *h;
  uint8_t v[16], k1[32], k2[32];
  char ba[64], bb[64];
  kr_hlc at;

  setup(n, "orw", v);
  a = n[0];
  b = n[1];
  c = n[2];
  h = n[3];
  randombytes_buf(k1, sizeof k1);
  randombytes_buf(k2, sizeof k2);
  at = kr_node_now_ms(h) << 16;
  check_forge_record(h, at, v, 1, kr_node_id(c), kr_node_id(a), k1, KR_F_PHONE, "0612345678");
  check_forge_record(h, at, v, 1, kr_node_id(c), kr_node_id(a), k2, KR_F_NOTES, "van H");
  check_forge_record(h, at + 1, v, 1, kr_node_id(c), kr_node_id(b), k1, KR_F_PHONE, "0612345678");
  check_forge_record(h, at + 1, v, 1, kr_node_id(c), kr_node_id(b), k2, KR_F_NOTES, "van H");
  check_sync(h, a);
  CHECK(strcmp(field(a, v, KR_F_PHONE, ba, sizeof ba), "0612345678") == 0);
  CHECK(strcmp(field(a, v, KR_F_NOTES, ba, sizeof ba), "van H") == 0);
  check_sync(h, b);                                  /* before B's consent */
  grant(c, v, "matching", kr_node_id(b));
  check_sync(c, b);
  check_sync(a, b);
  CHECK(strcmp(field(b, v, KR_F_PHONE, bb, sizeof bb), field(a, v, KR_F_PHONE, ba, sizeof ba)) ==
        0);
  CHECK(strcmp(field(b, v, KR_F_NOTES, bb, sizeof bb), field(a, v, KR_F_NOTES, ba, sizeof ba)) ==
        0);
  CHECK_EQ(untried(b, v), 0);
  check_closeall(n, 4);
}

int main(void)
{
  REQUIRE(sodium_init() >= 0);
  one_row_two_keys();
  return check_done("test_rev9");
}
