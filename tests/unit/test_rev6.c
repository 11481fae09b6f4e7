/*
 * test_rev6: review of change format 4 with records (types 14 and 15),
 * commit c27415e. Each scenario is a defect found by the review (or an
 * attack that held): see the comment above each.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
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

/* ---- helpers to craft a change byte by byte ------------------------------ */

static void pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
  msgpack_pack_bin(pk, n);
  msgpack_pack_bin_body(pk, p, n);
}

/* A change of sk at seq whose ops are the raw op encodings ops[i] (lens[i]
 * bytes each, none withheld), empty node table, into out. Leaves as the
 * protocol says: type, the 16 bytes after it (a registering record is not
 * supported here), the op's hash. */
static void raw_change(const uint8_t sk[64], uint64_t seq, const uint8_t *const *ops,
                       const size_t *lens, uint32_t nops, kr_buf *out)
{
  crypto_generichash_state h;
  uint8_t root[32], sig[64], nonce[16];
  kr_buf hdr;
  msgpack_packer pk;

  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const uint8_t *)"kring-ops-4", 11);
  for (uint32_t i = 0; i < nops; i++) {
    uint8_t leaf[32], hash[32], in[1 + 16 + 32];
    crypto_generichash(hash, 32, ops[i], lens[i], NULL, 0);
    in[0] = ops[i][1];                        /* fixarray, then a fixint type */
    REQUIRE(ops[i][2] == 0xc4 && ops[i][3] == 16);
    memcpy(in + 1, ops[i] + 4, 16);
    memcpy(in + 17, hash, 32);
    crypto_generichash(leaf, 32, in, sizeof in, NULL, 0);
    crypto_generichash_update(&h, leaf, 32);
  }
  crypto_generichash_final(&h, root, 32);
  randombytes_buf(nonce, sizeof nonce);
  kr_buf_init(&hdr, KR_CHANGE_MAX);
  msgpack_packer_init(&pk, &hdr, kr_buf_mp_write);
  msgpack_pack_array(&pk, 7);
  msgpack_pack_uint8(&pk, 4);
  pk_bin(&pk, sk + 32, 32);
  msgpack_pack_uint64(&pk, seq);
  msgpack_pack_uint64(&pk, UINT64_C(1767225600000) << 16);
  pk_bin(&pk, nonce, 16);
  msgpack_pack_array(&pk, 0);
  pk_bin(&pk, root, 32);
  crypto_sign_detached(sig, NULL, hdr.data, hdr.len, sk);
  msgpack_packer_init(&pk, out, kr_buf_mp_write);
  msgpack_pack_array(&pk, 3);
  pk_bin(&pk, hdr.data, hdr.len);
  pk_bin(&pk, sig, 64);
  msgpack_pack_array(&pk, nops);
  for (uint32_t i = 0; i < nops; i++) pk_bin(&pk, ops[i], lens[i]);
  kr_buf_free(&hdr);
}

/*
 * 1. A record whose keys array claims more entries than the decoder's
 * arena holds. kr_mp_array only checks one byte per element, but each key
 * entry takes 88 bytes of the decoder's memory (kr_keyent and the sealed
 * copy) for the 51 bytes it takes on the wire at least: a record of ~350
 * bytes whose keys array says 60 elements (30 entries) made
 * kr_change_decode answer KR_ENOMEM before it read a single entry. ENOMEM
 * is not a refusal: kr_bundle_import (carry.c, refusable) aborts the whole
 * import on it instead of counting the change refused and applying the
 * rest, and a sync batch reports it as the node's own failure. Anyone can
 * make such a change (the signature is any key's, checked before the ops,
 * membership only later). A malformed change must be refused as such.
 */
static void keys_claim_memory(void)
{
  uint8_t pk[32], sk[64];
  uint8_t op[512];
  size_t len = 0;
  const uint8_t *ops[1];
  kr_buf w;
  kr_change c;
  int rc;

  crypto_sign_keypair(pk, sk);
  op[len++] = 0x96;                         /* array(6) */
  op[len++] = 14;                           /* record */
  op[len++] = 0xc4;
  op[len++] = 16;
  randombytes_buf(op + len, 16);            /* subject */
  len += 16;
  op[len++] = 1;                            /* epoch 1 */
  op[len++] = 0;                            /* creator: the origin */
  op[len++] = 0xc0;                         /* no box */
  op[len++] = 0xdc;                         /* keys: array16 of 60 ... */
  op[len++] = 0;
  op[len++] = 60;
  memset(op + len, 0, 60);                  /* ... of which 60 bytes follow */
  len += 60;
  ops[0] = op;
  kr_buf_init(&w, KR_CHANGE_MAX);
  raw_change(sk, 1, ops, &len, 1, &w);
  rc = kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c);
  if (rc == 0) kr_change_free(&c);
  CHECK(rc != 0);
  CHECK(rc != KR_ENOMEM);                   /* a refusal, not a failure of this node */
  /* the same record with 4097 entries claimed and as many bytes after them */
  {
    uint8_t *big = malloc(20000);
    size_t blen = 0;
    REQUIRE(big);
    memcpy(big, op, 23);                    /* up to the nil box */
    blen = 23;
    big[blen++] = 0xdc;
    big[blen++] = (uint8_t)(8194 >> 8);
    big[blen++] = (uint8_t)(8194 & 0xff);
    memset(big + blen, 0, 8194);
    blen += 8194;
    ops[0] = big;
    kr_buf_reset(&w);
    raw_change(sk, 1, ops, &blen, 1, &w);
    rc = kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c);
    if (rc == 0) kr_change_free(&c);
    CHECK(rc != 0);
    CHECK(rc != KR_ENOMEM);
    free(big);
  }
  kr_buf_free(&w);
}

/* ---- 2. the access export of an erased volunteer ------------------------- */

typedef struct { int rows, redacted, with_field; } rowcount;
static int count_row(void *ctx, const kr_change_info *c)
{
  rowcount *r = ctx;
  r->rows++;
  if (c->type == KR_OP_REDACTED) {
    r->redacted++;
    if (c->field) r->with_field++;
  }
  return 0;
}

/*
 * 2. kr_node_subject_ops (the GDPR access export, kring subject-export)
 * reports a record deleted after erasure with the ops row's field column,
 * which for a record now holds its flags (1 box, 2 keys, 3 withheld): the
 * export of an erased volunteer says its records wrote the field "name"
 * (1), "email" (2) or "phone" (3). Before records, a group's, key op's and
 * registration's field was 0. A record names no field: 0.
 */
static void export_after_erasure(void)
{
  kr_node *n[2];
  uint8_t v[16];
  kr_txn *t;
  rowcount rc = {0, 0, 0};

  check_net(n, 2, "exe");
  REQUIRE(kr_txn_begin(n[0], &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Erna Uitgewist", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(n[1]), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  REQUIRE(kr_txn_begin(n[0], &t) == 0);
  REQUIRE(kr_txn_set(t, v, KR_F_CITY, "Ede", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 2);
  REQUIRE(kr_txn_begin(n[0], &t) == 0);
  REQUIRE(kr_txn_erase(t, v, "asked to be forgotten", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 2);
  for (int i = 0; i < 2; i++) {
    memset(&rc, 0, sizeof rc);
    CHECK_EQ(kr_node_subject_ops(n[i], v, count_row, &rc), 0);
    CHECK(rc.redacted >= 2);
    CHECK_EQ(rc.with_field, 0);
  }
  check_closeall(n, 2);
}

/* ---- 3. two keys of one epoch for one reader ----------------------------- */

static int nkeys_of(kr_node *n, const uint8_t v[16], uint64_t en, const uint8_t *creator)
{
  sqlite3 *db;
  sqlite3_stmt *s;
  int k = 0;
  db = check_store(n);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM vkeys k JOIN subjects s ON s.n=k.subj"
                                 " WHERE s.id=?1 AND k.en=?2 AND k.creator=(SELECT n FROM nodes WHERE id=?3)", -1, &s, NULL) ==
          SQLITE_OK);
  sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)en);
  sqlite3_bind_blob(s, 3, creator, 32, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) k = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return k;
}

/* How many key ops of (v, en, creator) n's own changes gave node to (n's
 * store: one row per change). */
static int gave_of(kr_node *n, const uint8_t v[16], uint64_t en, const uint8_t *creator,
                   const uint8_t *to)
{
  sqlite3 *db;
  sqlite3_stmt *s;
  int k = 0;
  db = check_store(n);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM keyops k JOIN subjects s ON s.n=k.subj"
                                 " JOIN nodes c ON c.n=k.creator JOIN nodes r ON r.n=k.reader"
                                 " JOIN nodes o ON o.n=k.origin WHERE s.id=?1 AND k.en=?2 AND"
                                 " c.id=?3 AND r.id=?4 AND o.id=?5", -1, &s, NULL) == SQLITE_OK);
  sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)en);
  sqlite3_bind_blob(s, 3, creator, 32, SQLITE_STATIC);
  sqlite3_bind_blob(s, 4, to, 32, SQLITE_STATIC);
  sqlite3_bind_blob(s, 5, kr_node_id(n), 32, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) k = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return k;
}

static const char *notes(kr_node *n, const uint8_t v[16], char *buf, size_t cap)
{
  kr_volunteer vol;
  if (kr_node_volunteer(n, v, &vol)) return "(sealed)";
  snprintf(buf, cap, "%s", vol.val.v[KR_F_NOTES] ? vol.val.v[KR_F_NOTES] : "");
  kr_volunteer_free(&vol);
  return buf;
}

/*
 * 3. "A node sends a reader every key it holds of an epoch (it may hold
 * two: the reader tries each)" (protocol.md, "Keys and key entries"). A
 * record holds one key entry per reader, and a change one record per
 * (subject, epoch, creator): two keys of one epoch for one reader cannot
 * travel in one change. pack() (access.c) keeps one and drops the other
 * without a word. C registers V (epoch (1, C)), readers A and H. H, a
 * hostile reader, seals a key of its own to A as (1, C)'s and writes V's
 * notes under it: A holds two keys of (1, C), both open a group, and reads
 * H's notes. C grants B (B reads V with C's key). A, ending the
 * transaction that brings C's grant, sends B the keys B lacks: both of
 * (1, C), in one change; the packer dropped one (H's, or C's: the order of
 * the keys), and B never read what A reads, though both have the same
 * rights. Likewise when A grants B itself. Now a change carries the
 * trusted key first (SENDABLE_KEYS), and kr__finish sends the second key
 * of an epoch for one reader in a change of its own (send_keys).
 *
 * (And 3b, below: a key that reaches a node before the consent that makes
 * it a reader.)
 */
/* how: 0 C grants B, B reads V first; 1 A grants B; 2 C grants B, and B
 * takes A's changes first (A's keys come before the grant that makes B a
 * reader: 3b) */
static void two_keys_one_reader_by(int how)
{
  kr_node *n[4], *a, *b, *c, *h;
  uint8_t v[16], k2[32];
  kr_txn *t;
  char buf[64], bufa[64];

  check_net(n, 4, how == 1 ? "tka" : how == 2 ? "tkb" : "tkr");
  a = n[0];
  b = n[1];
  c = n[2];
  h = n[3];
  REQUIRE(kr_txn_begin(c, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Twan Tweesleutel", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(a), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(h), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 4);
  REQUIRE(nkeys_of(a, v, 1, kr_node_id(c)) == 1);
  randombytes_buf(k2, sizeof k2);
  check_forge_record(h, 0, v, 1, kr_node_id(c), kr_node_id(a), k2, KR_F_NOTES, "van H");
  check_sync(h, a);
  CHECK_EQ(nkeys_of(a, v, 1, kr_node_id(c)), 2);
  CHECK(strcmp(notes(a, v, bufa, sizeof bufa), "van H") == 0);
  if (how == 1) {
    grant(a, v, "matching", kr_node_id(b));          /* A's own grant: its keys to B */
    check_sync(a, b);
  } else if (how == 2) {
    grant(c, v, "matching", kr_node_id(b));
    check_sync(c, a);
    check_sync(a, b);                                /* A's keys, then C's grant */
  } else {
    grant(c, v, "matching", kr_node_id(b));          /* C seals B its key */
    check_sync(c, b);                                /* B reads V */
    check_sync(c, a);                                /* A sends B the keys B lacks */
    check_sync(a, b);
  }
  check_sync(c, b);
  /* A gave B both keys of (1, C) (two changes: a record holds one entry
   * per reader), B holds them and reads what A reads */
  CHECK_EQ(gave_of(a, v, 1, kr_node_id(c), kr_node_id(b)), 2);
  CHECK_EQ(nkeys_of(b, v, 1, kr_node_id(c)), 2);
  CHECK(strcmp(notes(b, v, buf, sizeof buf), notes(a, v, bufa, sizeof bufa)) == 0);
  check_closeall(n, 4);
}

static void two_keys_one_reader(void)
{
  two_keys_one_reader_by(0);
  two_keys_one_reader_by(1);
}

/*
 * 3b (fixed in the fifth session; so before records too). The same, but
 * B takes A's changes before C's grant: A's two keys of (1, C) reach B
 * before any consent naming it, and check_mine deletes them (a key
 * without consent). C's grant then gives B C's key, and recover() opened
 * again only the key entries of epochs B held no key of: H's key, sealed
 * to B by A, was never opened again, and B read V without H's notes, A
 * with them, for good: two readers with the same rights read different
 * values. Now a node that deletes its keys of a volunteer marks every key
 * op sealed to it as not tried (keyops.tried), and recover() opens those.
 */
static void keys_before_consent(void)
{
  two_keys_one_reader_by(2);
}

/* ---- attacks that held -------------------------------------------------- */

static int count_kind(void *ctx, const kr_change_info *c)
{
  int *k = ctx;
  if (c->type == KR_OP_KEY) k[0]++;
  else if (c->type == KR_OP_REGISTER) k[1]++;
  else k[2]++;
  return 0;
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, 32); }

/*
 * 4 (held). A record with 4097 key entries, the most a change's table
 * allows: the origin and 4096 nodes, all but one (A) no member. M, a
 * hostile member, signs it on a subject nobody registered. Every node
 * decodes and stores it alike (the digest), A opens its entry, and the
 * access export lists every entry.
 */
static void big_record(void)
{
  kr_node *n[3], *a, *b, *m;
  static uint8_t ids[4096][32];
  uint8_t v[16], key[32], netid[16], founder[32], sk[64];
  kr_keyent *ent = calloc(4097, sizeof *ent);
  uint8_t *sealed = malloc((size_t)4097 * KR_SEALED_KEY_LEN);
  kr_op rec;
  kr_buf w;
  uint64_t seq;
  int fresh, kinds[3] = {0, 0, 0};

  REQUIRE(ent && sealed);
  check_net(n, 3, "big");
  a = n[0];
  b = n[1];
  m = n[2];
  kr_node_network(m, netid, founder);
  randombytes_buf(v, sizeof v);
  randombytes_buf(key, sizeof key);
  memcpy(ids[0], kr_node_id(a), 32);
  for (int i = 1; i < 4096; i++) {
    uint8_t pk[32];
    crypto_sign_keypair(pk, sk);
    memcpy(ids[i], pk, 32);
  }
  qsort(ids, 4096, 32, cmp_id);
  memset(&rec, 0, sizeof rec);
  rec.type = KR_OP_RECORD;
  memcpy(rec.subject, v, 16);
  rec.epoch = 7;
  memcpy(rec.creator, kr_node_id(m), 32);
  memcpy(ent[0].reader, kr_node_id(m), 32);
  for (int i = 0; i < 4096; i++) memcpy(ent[1 + i].reader, ids[i], 32);
  rec.keys = ent;
  rec.nkeys = 4097;
  for (uint32_t k = 0; k < 4097; k++) {
    kr_op kp;
    uint8_t pair[32];
    ent[k].sealed = sealed + (size_t)k * KR_SEALED_KEY_LEN;
    kr_record_key(&rec, k, &kp);
    REQUIRE(kr_pair_key_ed(kr_node_secret_key(m), ent[k].reader, pair) == 0);
    REQUIRE(kr_key_seal(pair, netid, kr_node_id(m), check_nonce, 0, &kp, key,
                        sealed + (size_t)k * KR_SEALED_KEY_LEN) == 0);
  }
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_change_build(kr_node_secret_key(m), seq + 1, kr_node_now_ms(m) << 16, check_nonce,
                          &rec, 1, &w) == 0);
  CHECK(w.len > 300000);
  CHECK_EQ(kr_node_apply(m, w.data, w.len, &fresh), 0);
  check_sync(m, a);
  check_sync(m, b);
  CHECK(check_same_digest(a, b) && check_same_digest(a, m));
  CHECK_EQ(nkeys_of(a, v, 7, kr_node_id(m)), 1);      /* its entry opens */
  CHECK_EQ(kr_node_subject_ops(b, v, count_kind, kinds), KR_ESEALED);
  /* the 4096 ids its entries name are kept as numbers (nodes), not as
   * origins, which every sync session walks: those stay the three members */
  for (int i = 0; i < 3; i++) {
    sqlite3_stmt *q;
    int origins = -1, nodes = -1;
    REQUIRE(sqlite3_prepare_v2(n[i]->db, "SELECT (SELECT count(*) FROM origins), (SELECT count(*)"
                               " FROM nodes)", -1, &q, NULL) == SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW) {
      origins = sqlite3_column_int(q, 0);
      nodes = sqlite3_column_int(q, 1);
    }
    sqlite3_finalize(q);
    CHECK(origins >= 1 && origins <= 3);
    CHECK(nodes >= 4097);
  }
  kr_buf_free(&w);
  free(ent);
  free(sealed);
  check_closeall(n, 3);
}

/*
 * 5 (held). One change registers two volunteers (registering records r =
 * 0 and 1); the first is erased. A node that joins later gets the change
 * from a node that holds it redacted: the withheld registering record
 * carries its derived subject and still counts in the derivation of the
 * second. Every node holds the same; the second volunteer reads alike.
 */
static void erased_first_registration(void)
{
  kr_node *n[3], *a, *b, *d;
  uint8_t v0[16], v1[16], net_id[16], founder[32];
  kr_txn *t;
  char buf[64];

  check_net(n, 2, "efr");
  a = n[0];
  b = n[1];
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v0);
  REQUIRE(kr_txn_set(t, v0, KR_F_NAME, "Nul Eerste", NULL) == 0);
  kr_txn_new_subject(t, v1);
  REQUIRE(kr_txn_set(t, v1, KR_F_NAME, "Een Tweede", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v0, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v1, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 2);
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_erase(t, v0, "asked to be forgotten", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 2);
  /* D joins, admitted by A, and syncs from B alone */
  kr_node_network(a, net_id, founder);
  REQUIRE(kr_node_create_joining(check_path("efr-d"), "Org efr-d", "foodbank", net_id, founder,
                                 &d) == 0);
  check_same_clock(d, a);
  REQUIRE(check_admit(a, kr_node_id(d), "Org efr-d", "foodbank", 9) == 0);
  check_sync(a, b);
  check_sync(b, d);                          /* the change, its first record withheld */
  n[2] = d;
  check_syncall(n, 3);
  CHECK(check_same_digest(a, d) && check_same_digest(b, d));
  CHECK(strcmp(notes(d, v1, buf, sizeof buf), "") == 0);   /* read ("matching" to all) */
  {
    kr_volunteer vol;
    CHECK_EQ(kr_node_volunteer(d, v0, &vol), 0);
    CHECK(vol.erased);
    kr_volunteer_free(&vol);
  }
  check_closeall(n, 3);
}

/*
 * 6 (held). A hostile member reuses its change nonce: two changes register
 * the same derived subject (a bare registration, then one with a box).
 * The earliest registration counts; every node holds the same.
 */
static void reused_nonce(void)
{
  kr_node *n[3], *a, *b, *m;
  uint8_t v[16], v2[16], key[32];
  kr_op ops[2];
  kr_buf w, box;
  uint64_t seq;
  int fresh;

  check_net(n, 3, "rnc");
  a = n[0];
  b = n[1];
  m = n[2];
  kr_subject_derive(kr_node_id(m), check_nonce, 0, v);
  memset(ops, 0, sizeof ops);
  ops[0].type = KR_OP_REGISTER;
  memcpy(ops[0].subject, v, 16);
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(check_change_build(kr_node_secret_key(m), seq + 1, kr_node_now_ms(m) << 16, check_nonce,
                             ops, 1, &w) == 0);
  REQUIRE(kr_node_apply(m, w.data, w.len, &fresh) == 0);
  check_sync(m, a);
  /* the same nonce again: the same subject, registered with a box */
  randombytes_buf(key, sizeof key);
  {
    kr_op in;
    uint8_t netid[16], founder[32];
    kr_buf plain;
    kr_nodes tt = {kr_node_id(m), NULL, 0};
    memset(&in, 0, sizeof in);
    in.type = KR_OP_SET;
    memcpy(in.subject, v, 16);
    in.field = KR_F_NOTES;
    in.value = "tweede keer";
    kr_buf_init(&plain, KR_CHANGE_MAX);
    kr_buf_init(&box, KR_CHANGE_MAX);
    REQUIRE(kr_group_encode(&in, 1, &tt, &plain) == 0);
    ops[1].type = KR_OP_GROUP;
    memcpy(ops[1].subject, v, 16);
    ops[1].epoch = 1;
    memcpy(ops[1].creator, kr_node_id(m), 32);
    kr_node_network(m, netid, founder);
    REQUIRE(kr_group_seal(key, netid, kr_node_id(m), seq + 2, check_nonce, 0, &ops[1], plain.data,
                          plain.len, &box) == 0);
    ops[1].box = box.data;
    ops[1].box_len = (uint32_t)box.len;
    kr_buf_free(&plain);
  }
  kr_buf_reset(&w);
  REQUIRE(check_change_build(kr_node_secret_key(m), seq + 2, kr_node_now_ms(m) << 16, check_nonce,
                             ops, 2, &w) == 0);
  REQUIRE(kr_node_apply(m, w.data, w.len, &fresh) == 0);
  kr_subject_derive(kr_node_id(m), check_nonce, 1, v2);
  check_sync(m, b);
  check_sync(m, a);
  check_syncall(n, 3);
  CHECK(check_same_digest(a, b) && check_same_digest(a, m));
  kr_buf_free(&w);
  kr_buf_free(&box);
  check_closeall(n, 3);
}

static const char *field_of(kr_node *n, const uint8_t v[16], int f, char *buf, size_t cap)
{
  kr_volunteer vol;
  if (kr_node_volunteer(n, v, &vol)) return "(sealed)";
  snprintf(buf, cap, "%s", vol.val.v[f] ? vol.val.v[f] : "");
  kr_volunteer_free(&vol);
  return buf;
}

/* The records of n's change seq: how many, and how many hold a box. */
static void records_of(kr_node *n, uint64_t seq, int *records, int *boxes)
{
  kr_buf b;
  kr_change c;
  *records = *boxes = 0;
  kr_buf_init(&b, KR_CHANGE_MAX);
  REQUIRE(kr_node_change_bytes(n, kr_node_id(n), seq, &b) == 0);
  REQUIRE(kr_change_decode(b.data, b.len, KR_CHANGE_MAX, &c) == 0);
  for (uint32_t i = 0; i < c.nops; i++)
    if (KR_OP_IS_RECORD(c.ops[i].type)) {
      ++*records;
      *boxes += c.ops[i].box != NULL;
    }
  kr_change_free(&c);
  kr_buf_free(&b);
}

/*
 * 7 (held). One transaction touches two volunteers in interleaved runs, a
 * withdrawal in clear between them, and registers a third between: one
 * record with a box per volunteer (kr__seal_change gathers a volunteer's
 * ops), every value lands, and the reader reads what the writer reads.
 */
static void interleaved_runs(void)
{
  kr_node *n[2], *a, *b;
  uint8_t v1[16], v2[16], v3[16];
  kr_txn *t;
  char x[64], y[64];
  int recs, boxes;
  uint64_t seq;

  check_net(n, 2, "ilr");
  a = n[0];
  b = n[1];
  for (int k = 0; k < 2; k++) {
    REQUIRE(kr_txn_begin(a, &t) == 0);
    kr_txn_new_subject(t, k ? v2 : v1);
    REQUIRE(kr_txn_set(t, k ? v2 : v1, KR_F_NAME, k ? "Twee Tweede" : "Een Eerste", NULL) == 0);
    REQUIRE(kr_txn_grant(t, k ? v2 : v1, "matching", kr_node_id(b), KR_METHOD_PAPER, "v1", "",
                         NULL) == 0);
    REQUIRE(kr_txn_commit(t, NULL) == 0);
  }
  check_syncall(n, 2);
  REQUIRE(kr_node_max_seq(a, kr_node_id(a), &seq) == 0);
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_set(t, v1, KR_F_CITY, "Assen", NULL) == 0);
  REQUIRE(kr_txn_set(t, v2, KR_F_CITY, "Breda", NULL) == 0);
  REQUIRE(kr_txn_withdraw(t, v1, "photos", NULL, KR_METHOD_PAPER, "", NULL) == 0);
  kr_txn_new_subject(t, v3);
  REQUIRE(kr_txn_set(t, v3, KR_F_NAME, "Drie Derde", NULL) == 0);
  REQUIRE(kr_txn_set(t, v1, KR_F_POSTCODE, "9401 AA", NULL) == 0);
  REQUIRE(kr_txn_set(t, v2, KR_F_POSTCODE, "4811 AB", NULL) == 0);
  REQUIRE(kr_txn_set(t, v1, KR_F_CITY, "Assen-Noord", NULL) == 0);   /* the last set wins */
  REQUIRE(kr_txn_grant(t, v3, "matching", kr_node_id(b), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  records_of(a, seq + 1, &recs, &boxes);
  CHECK_EQ(boxes, 3);
  CHECK_EQ(recs, 3);
  check_syncall(n, 2);
  CHECK(strcmp(field_of(b, v1, KR_F_CITY, x, sizeof x), "Assen-Noord") == 0);
  CHECK(strcmp(field_of(b, v1, KR_F_POSTCODE, x, sizeof x), "9401 AA") == 0);
  CHECK(strcmp(field_of(b, v2, KR_F_CITY, x, sizeof x), "Breda") == 0);
  CHECK(strcmp(field_of(b, v2, KR_F_POSTCODE, x, sizeof x), "4811 AB") == 0);
  CHECK(strcmp(field_of(b, v3, KR_F_NAME, x, sizeof x), "Drie Derde") == 0);
  CHECK(strcmp(field_of(a, v1, KR_F_CITY, y, sizeof y), "Assen-Noord") == 0);
  CHECK(check_same_readable(a, b) && check_same_digest(a, b));
  check_closeall(n, 2);
}

int main(void)
{
  REQUIRE(sodium_init() >= 0);
  keys_claim_memory();
  export_after_erasure();
  two_keys_one_reader();
  keys_before_consent();
  big_record();
  erased_first_registration();
  reused_nonce();
  interleaved_runs();
  return check_done("test_rev6");
}
