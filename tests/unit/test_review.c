/*
 * test_review: regressions found in review of issue 14 (they fail on the
 * code as it is).
 *  1. Whether a change is held depends on arrival order: a member signs
 *     seq s+1 stamped 2100 and seq s+2 stamped now; two nodes that get the
 *     same two changes in different orders (bundles apply out of order)
 *     end with different digests, and syncing does not mend it.
 *  2. The way out for a node whose clock ran ahead (crdt.md) fails when
 *     that node then made an erasure-only change: the remover's after_seq
 *     is its max seq, past the held change, which then counts.
 *  3. A member admits a random node with another member's invite id,
 *     stamped hlc 1: that member's admission was void and its changes
 *     taken back, and removing the hostile member did not undo it. Now
 *     every admission carries the invite holder's proof for its node
 *     (kr_admit_proof), so a member without the invite's secret cannot
 *     make one.
 */
#include <string.h>
#include <sodium.h>

#include "check.h"
#include "crdt/change.h"
#include "crdt/err.h"

static void test_order(void)
{
  kr_node *n[4];
  kr_buf b;
  size_t len0, f;
  uint64_t seq;
  kr_op op;

  check_network(n, 4, "o", "foodbank");
  kr_node *const readers[] = {n[2], n[3], NULL};   /* both read what n1 signs */
  for (int i = 1; i < 4; i++) check_same_clock(n[i], n[0]);
  REQUIRE(kr_node_max_seq(n[1], kr_node_id(n[1]), &seq) == 0);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_SET;
  check_new_subject(n[1], op.subject);
  op.field = KR_F_NAME;
  op.value = "Toekomst";
  kr_buf_init(&b, 1u << 20);
  /* registered first, in a change of its own (a registration stamped
   * ahead is held with its change: until then nobody writes the volunteer) */
  op.value = "Eerst";
  check_build_sealed(n[1], seq + 1, (kr_hlc)kr_node_now_ms(n[1]) << 16, &op, 1, 1, readers, &b);
  REQUIRE(kr_node_apply(n[2], b.data, b.len, NULL) == 0);
  REQUIRE(kr_node_apply(n[3], b.data, b.len, NULL) == 0);
  kr_buf_reset(&b);
  seq++;
  op.value = "Toekomst";
  check_build_sealed(n[1], seq + 1, (kr_hlc)4102444800000ull << 16, &op, 1, 0, readers, &b);
  len0 = b.len;
  op.value = "Nu";
  check_build_sealed(n[1], seq + 2, (kr_hlc)kr_node_now_ms(n[1]) << 16, &op, 1, 0, readers, &b);
  {
    const uint8_t *fwd[2] = {b.data, b.data + len0}, *rev[2] = {b.data + len0, b.data};
    size_t lf[2] = {len0, b.len - len0}, lr[2] = {b.len - len0, len0};
    REQUIRE(kr_node_apply_many(n[2], fwd, lf, 2, &f) == 0);
    REQUIRE(kr_node_apply_many(n[3], rev, lr, 2, &f) == 0);
  }
  check_sync(n[2], n[3]);
  check_sync(n[3], n[2]);
  CHECK(check_same_digest(n[2], n[3]));
  CHECK(check_same_readable(n[2], n[3]));
  {
    kr_volunteer v;
    for (int i = 2; i < 4; i++) {
      REQUIRE(kr_node_volunteer(n[i], op.subject, &v) == 0);
      CHECK(v.val.v[KR_F_NAME] && !strcmp(v.val.v[KR_F_NAME], "Nu"));
      kr_volunteer_free(&v);
    }
  }
  kr_buf_free(&b);
  for (int i = 0; i < 4; i++) kr_node_close(n[i]);
}

static int count_held(void *ctx, const kr_held *h) { *(uint64_t *)ctx += h->count; return 0; }

static void test_way_out(void)
{
  kr_node *n[3];
  kr_txn *t;
  uint8_t a[16], e[16];
  uint64_t held = 0;
  static uint64_t far = 4102444800000ull;

  check_network(n, 3, "w", "foodbank");
  for (int i = 1; i < 3; i++) check_same_clock(n[i], n[0]);
  REQUIRE(kr_txn_begin(n[0], &t) == 0);
  kr_txn_new_subject(t, a);
  REQUIRE(kr_txn_set(t, a, KR_F_CITY, "Utrecht", NULL) == 0);
  REQUIRE(kr_txn_grant(t, a, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  kr_txn_new_subject(t, e);
  REQUIRE(kr_txn_set(t, e, KR_F_NAME, "Piet", NULL) == 0);
  REQUIRE(kr_txn_grant(t, e, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(n[0], n[2]);
  kr_node_set_clock(n[2], check_clock, &far);           /* its clock runs ahead */
  REQUIRE(kr_txn_begin(n[2], &t) == 0);
  REQUIRE(kr_txn_set(t, a, KR_F_CITY, "Toekomst", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_same_clock(n[2], n[0]);                         /* set right; it erases someone */
  REQUIRE(kr_txn_begin(n[2], &t) == 0);
  REQUIRE(kr_txn_erase(t, e, "verzoek", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(n[2], n[0]);
  REQUIRE(kr_node_expel(n[0], kr_node_id(n[2]), "klok") == 0);   /* the way out */
  REQUIRE(kr_node_held(n[0], count_held, &held) == 0);
  CHECK_EQ(held, 0);      /* the held change past what n0 held must never count */
  for (int i = 0; i < 3; i++) kr_node_close(n[i]);
}

static uint8_t victim_invite[16];
static const uint8_t *victim;
static int find_invite(void *ctx, const kr_member *m)
{
  (void)ctx;
  if (!memcmp(m->node, victim, 32)) memcpy(victim_invite, m->invite, 16);
  return 0;
}

static void test_backdated_admit(void)
{
  kr_node *n[3];
  kr_txn *t;
  kr_buf b;
  uint8_t id[16];
  uint64_t seq, v0, v1, e, c;
  kr_op op;
  int f;

  check_network(n, 3, "b", "foodbank");
  for (int i = 1; i < 3; i++) check_same_clock(n[i], n[0]);
  REQUIRE(kr_txn_begin(n[2], &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Anna", NULL) == 0);
  REQUIRE(kr_txn_grant(t, id, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(n[2], n[0]);
  REQUIRE(kr_node_counts(n[0], &v0, &e, &c) == 0);
  CHECK_EQ(v0, 1);                                  /* n0 reads Anna */
  victim = kr_node_id(n[2]);
  REQUIRE(kr_node_members(n[0], find_invite, NULL) == 0);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_ADMIT;
  memcpy(op.subject, victim_invite, 16);
  randombytes_buf(op.member, 32);
  op.org = "Nep";
  op.kind = "other";
  REQUIRE(kr_node_max_seq(n[1], kr_node_id(n[1]), &seq) == 0);
  kr_buf_init(&b, 1u << 20);
  /* Without the invite's secret: another key under the victim's invite id,
   * or a proof made with a key of its own. Both refused whole. */
  {
    uint8_t sk[64];
    crypto_sign_keypair(op.invite_pk, sk);
    kr_admit_proof(sk, op.member, op.kind, op.org, op.proof);
    REQUIRE(kr_change_build(kr_node_secret_key(n[1]), seq + 1, (kr_hlc)1, check_nonce, &op, 1, &b) == 0);
    CHECK_EQ(kr_node_apply(n[0], b.data, b.len, &f), KR_EBADSIG);
    kr_invite_key_id(op.invite_pk, op.subject);       /* its own invite: no conflict */
    kr_buf_reset(&b);
    REQUIRE(kr_change_build(kr_node_secret_key(n[1]), seq + 1, (kr_hlc)1, check_nonce, &op, 1, &b) == 0);
    memcpy(op.subject, victim_invite, 16);
    kr_buf_reset(&b);
    op.proof[0] ^= 1;
    REQUIRE(kr_change_build(kr_node_secret_key(n[1]), seq + 1, (kr_hlc)1, check_nonce, &op, 1, &b) == 0);
    CHECK_EQ(kr_node_apply(n[0], b.data, b.len, &f), KR_EBADSIG);
  }
  REQUIRE(kr_node_expel(n[0], kr_node_id(n[1]), "vals") == 0);   /* the remedy */
  REQUIRE(kr_node_counts(n[0], &v1, &e, &c) == 0);
  CHECK_EQ(kr_node_is_member(n[0], kr_node_id(n[2])), 1);
  CHECK_EQ(v1, v0);
  {
    kr_volunteer v;
    REQUIRE(kr_node_volunteer(n[0], id, &v) == 0);
    CHECK(v.val.v[KR_F_NAME] && !strcmp(v.val.v[KR_F_NAME], "Anna"));
    kr_volunteer_free(&v);
  }
  kr_buf_free(&b);
  for (int i = 0; i < 3; i++) kr_node_close(n[i]);
}

int main(void)
{
  REQUIRE(sodium_init() >= 0);
  test_order();
  test_way_out();
  test_backdated_admit();
  return check_done("test_review");
}
