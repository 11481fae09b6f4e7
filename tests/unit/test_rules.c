/* test_rules: the merge rules across two nodes that edit concurrently:
 * consent (withdrawal wins over a grant that did not see it; a later grant
 * that saw it is in force; expiry), add-wins sets, LWW fields, erasure
 * beating a concurrent edit. */
#include <string.h>

#include "check.h"
#include "crdt/err.h"
#include "node/node.h"

static uint64_t clk_a = UINT64_C(1767225600000), clk_b = UINT64_C(1767225600000);

struct st { kr_consent_state s; int seen; };
static int first_state(void *ctx, const kr_consent_status *s)
{
  struct st *x = ctx;
  x->s = s->state;
  x->seen++;
  return 0;
}

static kr_consent_state consent(kr_node *n, const uint8_t id[16])
{
  struct st x = {KR_CONSENT_NONE, 0};
  kr_node_consent(n, id, first_state, &x);
  return x.s;
}

/* Exchange: each node applies every change the other made, until neither
 * has one the other lacks. */
static void sync2(kr_node *a, kr_node *b, kr_buf *from_a, kr_buf *from_b)
{
  size_t off;
  (void)off;
  if (from_a->len) REQUIRE(kr_node_apply(b, from_a->data, from_a->len, NULL) == 0);
  if (from_b->len) REQUIRE(kr_node_apply(a, from_b->data, from_b->len, NULL) == 0);
  kr_buf_reset(from_a);
  kr_buf_reset(from_b);
  /* and the changes applying made (keys a reader sends again to one whose
   * access through some register ended: it may have lost them) */
  while (check_sync(a, b) + check_sync(b, a)) {}
}

static void same_digest(kr_node *a, kr_node *b)
{
  uint8_t d1[32], d2[32];
  kr_node_digest(a, d1);
  kr_node_digest(b, d2);
  CHECK(memcmp(d1, d2, 32) == 0);
  /* both read v: the state they read agrees too */
  kr_node_digest_readable(a, d1);
  kr_node_digest_readable(b, d2);
  CHECK(memcmp(d1, d2, 32) == 0);
}

int main(void)
{
  kr_node *a, *b, *ab[2];
  kr_txn *t;
  kr_buf wa, wb;
  uint8_t v[16];
  kr_volunteer vol;

  check_network(ab, 2, "n", "foodbank");
  a = ab[0];
  b = ab[1];
  kr_node_set_clock(a, check_clock, &clk_a);
  kr_node_set_clock(b, check_clock, &clk_b);
  kr_buf_init(&wa, KR_CHANGE_MAX);
  kr_buf_init(&wb, KR_CHANGE_MAX);

  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Sanne Jansen", NULL) == 0);
  REQUIRE(kr_txn_add(t, v, KR_F_SKILLS, "koken", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "contact", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  /* b reads v throughout: consent for b by name that nobody withdraws
   * (a withdrawal of "contact" to all alone would end b's reading). */
  REQUIRE(kr_txn_grant(t, v, "base", kr_node_id(b), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wa) == 0);
  sync2(a, b, &wa, &wb);
  CHECK_EQ(consent(b, v), KR_CONSENT_GRANTED);

  /* Concurrent: a grants again (a later clock), b withdraws. */
  clk_a += 60000;
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_grant(t, v, "contact", NULL, KR_METHOD_DIGITAL, "v2", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wa) == 0);
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_withdraw(t, v, "contact", NULL, KR_METHOD_VERBAL, "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wb) == 0);
  sync2(a, b, &wa, &wb);
  CHECK_EQ(consent(a, v), KR_CONSENT_WITHDRAWN);
  CHECK_EQ(consent(b, v), KR_CONSENT_WITHDRAWN);
  same_digest(a, b);

  /* A later grant on a, which has now seen the withdrawal: granted. */
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_grant(t, v, "contact", NULL, KR_METHOD_PAPER, "v3", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wa) == 0);
  sync2(a, b, &wa, &wb);
  CHECK_EQ(consent(a, v), KR_CONSENT_GRANTED);
  CHECK_EQ(consent(b, v), KR_CONSENT_GRANTED);
  same_digest(a, b);

  /* An expired grant reads as not granted: the clock passes its end date. */
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_grant(t, v, "photos", NULL, KR_METHOD_DIGITAL, "", "2026-01-31", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wb) == 0);
  sync2(a, b, &wa, &wb);
  {
    struct { kr_consent_state photos; } r;
    struct st x;
    (void)r;
    x.seen = 0;
    CHECK_EQ(consent(a, v), KR_CONSENT_GRANTED);   /* photos sorts after contact */
    clk_a += 40ull * 86400000;                     /* now February, on both */
    clk_b += 40ull * 86400000;
    CHECK_EQ(consent(a, v), KR_CONSENT_EXPIRED);
    (void)x;
  }

  /* Add-wins: b removes "koken" while a adds it again concurrently. */
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_remove(t, v, KR_F_SKILLS, "koken", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wb) == 0);
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_add(t, v, KR_F_SKILLS, "koken", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wa) == 0);
  sync2(a, b, &wa, &wb);
  REQUIRE(kr_node_volunteer(b, v, &vol) == 0);
  CHECK(vol.val.set[0].n == 1 && strcmp(vol.val.set[0].v[0], "koken") == 0);
  kr_volunteer_free(&vol);
  same_digest(a, b);
  /* A remove that saw every add does remove. */
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_remove(t, v, KR_F_SKILLS, "koken", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wb) == 0);
  sync2(a, b, &wa, &wb);
  REQUIRE(kr_node_volunteer(a, v, &vol) == 0);
  CHECK_EQ(vol.val.set[0].n, 0);
  kr_volunteer_free(&vol);

  /* LWW: concurrent city edits; the later clock wins on both sides. */
  clk_b = clk_a + 5000;
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_CITY, "Utrecht", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wa) == 0);
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_CITY, "Delft", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wb) == 0);
  sync2(a, b, &wa, &wb);
  REQUIRE(kr_node_volunteer(a, v, &vol) == 0);
  CHECK(vol.val.v[KR_F_CITY] && strcmp(vol.val.v[KR_F_CITY], "Delft") == 0);
  kr_volunteer_free(&vol);
  same_digest(a, b);

  /* Erasure beats a concurrent edit, in either arrival order. */
  clk_b = clk_a + 100000;                           /* the edit is even later */
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_erase(t, v, "verzoek", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wa) == 0);
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Sanne Jansen-de Boer", NULL) == 0);
  REQUIRE(kr_txn_add(t, v, KR_F_LANGUAGES, "fr", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &wb) == 0);
  sync2(a, b, &wa, &wb);
  REQUIRE(kr_node_volunteer(a, v, &vol) == 0);
  CHECK(vol.erased && !vol.val.v[KR_F_NAME] && !vol.val.set[1].n);
  kr_volunteer_free(&vol);
  REQUIRE(kr_node_volunteer(b, v, &vol) == 0);
  CHECK(vol.erased && !vol.val.v[KR_F_NAME]);
  kr_volunteer_free(&vol);
  CHECK_EQ(consent(b, v), KR_CONSENT_NONE);         /* history gone too */
  same_digest(a, b);

  kr_node_close(a);
  kr_node_close(b);
  kr_buf_free(&wa);
  kr_buf_free(&wb);
  return check_done("test_rules");
}
