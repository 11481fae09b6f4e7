/*
 * test_consent: consent decides who reads a volunteer (docs/crdt.md, "Who
 * reads a volunteer"). Organisations A (founder), B and C; A registers V1
 * (no consent) and V2 (consent to B). Who reads what, what each node's
 * files hold, a reader's edit, a withdrawal made while the reader is away
 * (and that no key it ever held opens what is written after), consent to
 * all and a member admitted after it, expiry on a fixed clock, removal,
 * and hostile key ops and groups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "crdt/change.h"
#include "crdt/err.h"
#include "node/node.h"

static uint64_t clk[5] = {
  UINT64_C(1767225600000), UINT64_C(1767225600000), UINT64_C(1767225600000),
  UINT64_C(1767225600000), UINT64_C(1767225600000),
};

static void add(kr_node *n, uint8_t v[16], const char *name, const char *email, const char *phone,
                const uint8_t *to_node, int to_all)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, name, NULL) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_EMAIL, email, NULL) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_PHONE, phone, NULL) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_NOTES, "Notitie Vertrouwelijk", NULL) == 0);
  if (to_node || to_all)
    REQUIRE(kr_txn_grant(t, v, "matching", to_all ? NULL : to_node, KR_METHOD_PAPER, "v1", "",
                         NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
}

static int reads(kr_node *n, const uint8_t v[16], const char *name)
{
  kr_volunteer vol;
  int rc = kr_node_volunteer(n, v, &vol), ok;
  if (rc == KR_ESEALED) return 0;
  REQUIRE(rc == 0);
  ok = vol.val.v[KR_F_NAME] && strcmp(vol.val.v[KR_F_NAME], name) == 0;
  kr_volunteer_free(&vol);
  return ok ? 1 : -1;
}

static void set_city(kr_node *n, const uint8_t v[16], const char *city, kr_buf *wire)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_CITY, city, NULL) == 0);
  REQUIRE(kr_txn_commit(t, wire) == 0);
}

static const char *city_of(kr_node *n, const uint8_t v[16], char *buf, size_t cap)
{
  kr_volunteer vol;
  if (kr_node_volunteer(n, v, &vol)) return NULL;
  snprintf(buf, cap, "%s", vol.val.v[KR_F_CITY] ? vol.val.v[KR_F_CITY] : "");
  kr_volunteer_free(&vol);
  return buf;
}

/* Every key of v a node's store holds (the test reads the file itself). */
typedef struct { uint8_t k[32][32]; int n; } keyring;
static void keys_of(const char *home, const uint8_t v[16], keyring *kr)
{
  sqlite3 *db;
  sqlite3_stmt *s;
  char path[4096];
  snprintf(path, sizeof path, "%s/kring.db", home);
  REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT k.key FROM vkeys k JOIN subjects s ON s.n=k.subj"
                                 " WHERE s.id=?1", -1, &s, NULL) == SQLITE_OK);
  sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
  while (sqlite3_step(s) == SQLITE_ROW && kr->n < 32)
    if (sqlite3_column_bytes(s, 0) == 32) memcpy(kr->k[kr->n++], sqlite3_column_blob(s, 0), 32);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

static int lost_count(void *ctx, const kr_access_loss *l)
{
  (void)l;
  ++*(int *)ctx;
  return 0;
}

/* A change by n of the given outer ops (KEY and GROUP parts packed into
 * records by check_change_build), under a seq of its own (n never stores
 * these: a second change under one seq would be an equivocation). */
static void craft(kr_node *n, const kr_op *ops, uint32_t nops, kr_buf *out)
{
  static uint64_t bump;
  uint64_t seq;
  REQUIRE(kr_node_max_seq(n, kr_node_id(n), &seq) == 0);
  kr_buf_reset(out);
  REQUIRE(check_change_build(kr_node_secret_key(n), seq + 1 + bump++, kr_node_now_ms(n) << 16,
                             check_nonce, ops, nops, out) == 0);
}

int main(void)
{
  kr_node *nodes[3], *a, *b, *c, *d, *e;
  uint8_t v1[16], v2[16], v3[16], net[16], founder[32];
  kr_buf w, x;
  char buf[64];
  keyring bkeys = {.n = 0};

  check_network(nodes, 3, "o", "foodbank");
  a = nodes[0];
  b = nodes[1];
  c = nodes[2];
  for (int i = 0; i < 3; i++) kr_node_set_clock(nodes[i], check_clock, &clk[i]);
  kr_buf_init(&w, KR_CHANGE_MAX);
  kr_buf_init(&x, KR_CHANGE_MAX);

  /* 1. A registers V1 (no consent) and V2 (consent to B). */
  add(a, v1, "Wilhelmina Zonnebloem", "wilhelmina@zonnebloem.example", "0611122233", NULL, 0);
  add(a, v2, "Bartholomeus Klaproos", "bart@klaproos.example", "0644455566", kr_node_id(b), 0);
  check_sync(a, b);
  check_sync(a, c);
  CHECK_EQ(reads(a, v1, "Wilhelmina Zonnebloem"), 1);
  CHECK_EQ(reads(a, v2, "Bartholomeus Klaproos"), 1);
  CHECK_EQ(reads(b, v2, "Bartholomeus Klaproos"), 1);
  CHECK_EQ(reads(b, v1, ""), 0);
  CHECK_EQ(reads(c, v1, ""), 0);
  CHECK_EQ(reads(c, v2, ""), 0);
  CHECK(check_same_digest(a, b) && check_same_digest(a, c));
  {
    char hex[33];
    uint8_t id[16];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", v1[i]);
    CHECK_EQ(kr_node_find(c, hex, id), KR_ESEALED);
    hex[8] = 0;
    CHECK_EQ(kr_node_find(c, hex, id), KR_ENOTFOUND);   /* a prefix finds nothing sealed */
    CHECK_EQ(kr_node_find(a, hex, id), 0);
  }
  kr_node_tidy(c);
  kr_node_tidy(b);
  {
    /* C holds nothing of either in plain text, B nothing of V1 (the
     * registrar's store holds them only sealed as well, but materialised) */
    static const char *const secret[] = {"Wilhelmina", "zonnebloem.example", "0611122233",
                                         "Bartholomeus", "klaproos.example", "0644455566",
                                         "Vertrouwelijk"};
    for (int k = 0; k < 7; k++) {
      CHECK(!check_home_holds(check_path("o2"), secret[k]));
      if (k < 3) CHECK(!check_home_holds(check_path("o1"), secret[k]));
    }
    CHECK(check_home_holds(check_path("o1"), "Bartholomeus"));   /* the check can see a name */
  }

  /* 2. B (a reader) edits V2: A sees it, C cannot read it. */
  set_city(b, v2, "Zwolle", NULL);
  check_sync(b, a);
  check_sync(b, c);
  CHECK(city_of(a, v2, buf, sizeof buf) && strcmp(buf, "Zwolle") == 0);
  CHECK_EQ(reads(c, v2, ""), 0);
  CHECK(!check_home_holds(check_path("o2"), "Zwolle"));

  /* 3. A withdraws B's consent while B is away, then edits V2. */
  keys_of(check_path("o1"), v2, &bkeys);
  CHECK(bkeys.n >= 1);
  {
    kr_txn *t;
    kr_change ch;
    int groups = 0;
    REQUIRE(kr_txn_begin(a, &t) == 0);
    REQUIRE(kr_txn_withdraw(t, v2, "matching", kr_node_id(b), KR_METHOD_VERBAL, "", NULL) == 0);
    REQUIRE(kr_txn_commit(t, NULL) == 0);
    kr_buf_reset(&w);
    set_city(a, v2, "Kampen", &w);
    REQUIRE(kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &ch) == 0);
    kr_node_network(a, net, founder);
    for (uint32_t i = 0; i < ch.nops; i++) {
      kr_buf p;
      kr_op part;
      if (!KR_OP_IS_RECORD(ch.ops[i].type)) continue;
      for (uint32_t k = 0; k < ch.ops[i].nkeys; k++) {
        kr_record_key(&ch.ops[i], k, &part);
        CHECK(memcmp(part.member, kr_node_id(b), 32) != 0);
      }
      if (!kr_record_group(&ch.ops[i], &part)) continue;
      groups++;
      kr_buf_init(&p, KR_CHANGE_MAX);
      for (int k = 0; k < bkeys.n; k++)
        CHECK(kr_group_open(bkeys.k[k], net, ch.origin, ch.seq, ch.nonce, i, &part, &p) != 0);
      kr_buf_free(&p);
    }
    CHECK_EQ(groups, 1);
    kr_change_free(&ch);
  }
  check_sync(a, b);
  CHECK_EQ(reads(b, v2, ""), 0);
  kr_node_tidy(b);
  CHECK(!check_home_holds(check_path("o1"), "Bartholomeus"));
  CHECK(!check_home_holds(check_path("o1"), "0644455566"));
  CHECK(!check_home_holds(check_path("o1"), "Vertrouwelijk"));
  CHECK(!check_home_holds(check_path("o1"), "Kampen"));
  {
    keyring now = {.n = 0};
    int lost = 0;
    keys_of(check_path("o1"), v2, &now);
    CHECK_EQ(now.n, 0);
    kr_node_access_lost(b, lost_count, &lost);
    CHECK_EQ(lost, 1);
  }
  CHECK(city_of(a, v2, buf, sizeof buf) && strcmp(buf, "Kampen") == 0);

  /* 4. Consent to all: C (and B again) read V2 after one sync; a member
   * admitted after that reads it too; V1 stays sealed. */
  {
    kr_txn *t;
    REQUIRE(kr_txn_begin(a, &t) == 0);
    REQUIRE(kr_txn_grant(t, v2, "newsletter", NULL, KR_METHOD_DIGITAL, "v1", "", NULL) == 0);
    REQUIRE(kr_txn_commit(t, NULL) == 0);
  }
  check_sync(a, c);
  check_sync(a, b);
  CHECK_EQ(reads(c, v2, "Bartholomeus Klaproos"), 1);
  CHECK_EQ(reads(b, v2, "Bartholomeus Klaproos"), 1);
  CHECK(city_of(c, v2, buf, sizeof buf) && strcmp(buf, "Kampen") == 0);
  CHECK_EQ(reads(c, v1, ""), 0);
  CHECK(check_same_readable(b, c));
  kr_node_network(a, net, founder);
  REQUIRE(kr_node_create_joining(check_path("o3"), "Org o3", "buurtteam", net, founder, &d) == 0);
  kr_node_set_clock(d, check_clock, &clk[3]);
  REQUIRE(check_admit(a, kr_node_id(d), "Org o3", "buurtteam", 42) == 0);
  check_sync(a, d);
  CHECK_EQ(reads(d, v2, "Bartholomeus Klaproos"), 1);
  CHECK_EQ(reads(d, v1, ""), 0);
  check_sync(a, b);
  check_sync(a, c);
  check_sync(d, a);
  CHECK(check_same_digest(a, d));
  CHECK(check_same_readable(c, d));

  /* 5. Expiry: a grant to C until 2026-01-10 ends C's reading on the first
   * open after that day (kr_node_release_held is what every open runs). */
  {
    kr_txn *t;
    REQUIRE(kr_txn_begin(a, &t) == 0);
    kr_txn_new_subject(t, v3);
    REQUIRE(kr_txn_set(t, v3, KR_F_NAME, "Cornelia Tijdelijk", NULL) == 0);
    REQUIRE(kr_txn_grant(t, v3, "matching", kr_node_id(c), KR_METHOD_PAPER, "v1", "2026-01-10",
                         NULL) == 0);
    REQUIRE(kr_txn_commit(t, NULL) == 0);
  }
  check_sync(a, c);
  CHECK_EQ(reads(c, v3, "Cornelia Tijdelijk"), 1);
  CHECK_EQ(kr_node_release_held(c), 0);
  CHECK_EQ(reads(c, v3, "Cornelia Tijdelijk"), 1);
  clk[2] = UINT64_C(1768176000000);              /* 2026-01-12 */
  CHECK_EQ(kr_node_release_held(c), 0);
  CHECK_EQ(reads(c, v3, ""), 0);
  kr_node_tidy(c);
  CHECK(!check_home_holds(check_path("o2"), "Cornelia"));
  CHECK_EQ(reads(c, v2, "Bartholomeus Klaproos"), 1);   /* consent to all still holds */
  clk[2] = clk[0];

  /* 6. Removal: A removes C; what A writes to V2 afterwards goes under an
   * epoch whose key C never gets; C, once it learns it, reads nothing. */
  REQUIRE(kr_node_expel(a, kr_node_id(c), "test: removed") == 0);
  kr_buf_reset(&w);
  set_city(a, v2, "Deventer", &w);
  {
    kr_change ch;
    REQUIRE(kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &ch) == 0);
    int keys = 0;
    for (uint32_t i = 0; i < ch.nops; i++)
      for (uint32_t k = 0; KR_OP_IS_RECORD(ch.ops[i].type) && k < ch.ops[i].nkeys; k++) {
        kr_op part;
        kr_record_key(&ch.ops[i], k, &part);
        CHECK(memcmp(part.member, kr_node_id(c), 32) != 0);
        keys++;
      }
    CHECK(keys >= 1);                                  /* the new epoch went to someone */
    kr_change_free(&ch);
  }
  check_sync(a, c);
  CHECK_EQ(reads(c, v2, ""), 0);
  {
    uint64_t vols, erased, changes;
    CHECK_EQ(kr_node_counts(c, &vols, &erased, &changes), 0);
    CHECK_EQ(vols, 0);
  }

  /* 7. Hostile: key ops and groups from a member (B) that do not fit. */
  {
    kr_op op;
    uint8_t key[32], sealed[KR_SEALED_KEY_LEN], box[40];
    uint64_t bad0 = 0, bad1 = 0;
    kr_node_bad_groups(d, &bad0);
    /* a key op naming D but sealed to A's key: D cannot open it, reads nothing new */
    memset(&op, 0, sizeof op);
    op.type = KR_OP_KEY;
    memcpy(op.subject, v1, 16);
    op.epoch = 1;
    memcpy(op.creator, kr_node_id(a), 32);
    memcpy(op.member, kr_node_id(d), 32);
    memset(key, 7, sizeof key);
    /* B seals it under the key B shares with A: D's pair key with B differs */
    check_seal_key(b, kr_node_id(a), 0, &op, key, sealed);
    craft(b, &op, 1, &x);
    CHECK_EQ(kr_node_apply(d, x.data, x.len, NULL), 0);
    CHECK_EQ(reads(d, v1, ""), 0);
    /* a key op sealed to D, but a key that opens nothing of V1 */
    check_seal_key(b, kr_node_id(d), 0, &op, key, sealed);
    craft(b, &op, 1, &x);
    CHECK_EQ(kr_node_apply(d, x.data, x.len, NULL), 0);
    CHECK_EQ(reads(d, v1, ""), 0);   /* holds a key that opens nothing: still sealed */
    /* a group of V2 moved into B's change (another change, another place) */
    {
      kr_change ch;
      int found = 0;
      REQUIRE(kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &ch) == 0);
      for (uint32_t i = 0; i < ch.nops && !found; i++)
        found = kr_record_group(&ch.ops[i], &op);    /* the record's box, as a part */
      REQUIRE(found);
      craft(b, &op, 1, &x);
      kr_change_free(&ch);
    }
    CHECK_EQ(kr_node_apply(a, x.data, x.len, NULL), 0);
    CHECK(city_of(a, v2, buf, sizeof buf) && strcmp(buf, "Deventer") == 0);
    /* a box of junk (40 bytes: a tag and 24 more) */
    memset(box, 1, sizeof box);
    op.box = box;
    op.box_len = sizeof box;
    craft(b, &op, 1, &x);
    CHECK_EQ(kr_node_apply(a, x.data, x.len, NULL), 0);
    CHECK(city_of(a, v2, buf, sizeof buf) && strcmp(buf, "Deventer") == 0);
    op.box_len = KR_BOX_MIN - 1;                       /* shorter than a box: refused */
    CHECK_EQ(check_change_build(kr_node_secret_key(b), 99, 1, check_nonce, &op, 1, &x), KR_EINVAL);
    op.box_len = KR_BOX_MIN;                           /* (a box of 16 is one) */
    CHECK_EQ(check_change_build(kr_node_secret_key(b), 99, 1, check_nonce, &op, 1, &x), 0);
    /* a group on its own (type 10) no longer travels */
    CHECK_EQ(kr_change_build(kr_node_secret_key(b), 99, 1, check_nonce, &op, 1, &x), KR_EINVAL);
    kr_node_bad_groups(d, &bad1);
    CHECK_EQ(bad1, bad0);
    /* a key op from a node that is not a member */
    REQUIRE(kr_node_create_joining(check_path("o4"), "Org o4", "other", net, founder, &e) == 0);
    kr_node_set_clock(e, check_clock, &clk[4]);
    op.type = KR_OP_KEY;
    op.box = sealed;
    op.box_len = KR_SEALED_KEY_LEN;
    memcpy(op.member, kr_node_id(a), 32);
    craft(e, &op, 1, &x);
    CHECK_EQ(kr_node_apply(a, x.data, x.len, NULL), KR_ENOTMEMBER);
    kr_node_close(e);
  }

  kr_buf_free(&w);
  kr_buf_free(&x);
  for (int i = 0; i < 3; i++) kr_node_close(nodes[i]);
  kr_node_close(d);
  return check_done("test_consent");
}
