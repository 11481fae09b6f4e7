/*
 * test_consent_attack: attacks on the reading rule (docs/crdt.md, "Who
 * reads a volunteer") by a hostile member, and odd but honest orders.
 * Each scenario is a network of its own. A hostile member M crafts
 * changes of its own (signed with its key, applied to its own store first
 * so that its later changes follow them) and syncs them like any change.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "crdt/change.h"
#include "crdt/err.h"
#include "node/internal.h"    /* kr_node's header_reads (padded_table) */
#include "node/node.h"

#ifndef KR_CONSENT_OPEN
#define KR_CONSENT_OPEN 0
#endif

static void add(kr_node *n, uint8_t v[16], const char *name, const uint8_t *to, int to_all)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, name, NULL) == 0);
  if (to || to_all)
    REQUIRE(kr_txn_grant(t, v, "matching", to_all ? NULL : to, KR_METHOD_PAPER, "v1", "", NULL) ==
            0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
}

static void grant(kr_node *n, const uint8_t v[16], const char *purpose, const uint8_t *to)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_grant(t, v, purpose, to, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
}

static void withdraw(kr_node *n, const uint8_t v[16], const char *purpose, const uint8_t *to)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_withdraw(t, v, purpose, to, KR_METHOD_PAPER, "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
}

static int set_city(kr_node *n, const uint8_t v[16], const char *city)
{
  kr_txn *t;
  int rc;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  if ((rc = kr_txn_set(t, v, KR_F_CITY, city, NULL))) {
    kr_txn_abort(t);
    return rc;
  }
  return kr_txn_commit(t, NULL);
}

/* 1: n reads v and its name is name; 0: sealed; -1: reads it, other name. */
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

/* v's city as n reads it, "" for none, "(sealed)" when n does not read v. */
static const char *city(kr_node *n, const uint8_t v[16], char *buf, size_t cap)
{
  kr_volunteer vol;
  if (kr_node_volunteer(n, v, &vol)) return "(sealed)";
  snprintf(buf, cap, "%s", vol.val.v[KR_F_CITY] ? vol.val.v[KR_F_CITY] : "");
  kr_volunteer_free(&vol);
  return buf;
}

/* The number of keys of v in n's store (the test reads the file itself):
 * every key, or (only_ok) those that opened a group (a key op may carry
 * any 32 bytes: those that open nothing are no key of v). */
static int count_keys(kr_node *n, const uint8_t v[16], int only_ok);
static int nkeys(kr_node *n, const uint8_t v[16]) { return count_keys(n, v, 0); }
static int okkeys(kr_node *n, const uint8_t v[16]) { return count_keys(n, v, 1); }
static int count_keys(kr_node *n, const uint8_t v[16], int only_ok)
{
  sqlite3 *db;
  sqlite3_stmt *s;
  int k = 0;
  db = check_store(n);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM vkeys k JOIN subjects s ON s.n=k.subj"
                                 " WHERE s.id=?1 AND (k.ok OR NOT ?2)", -1, &s, NULL) == SQLITE_OK);
  sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
  sqlite3_bind_int(s, 2, only_ok);
  if (sqlite3_step(s) == SQLITE_ROW) k = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return k;
}

/* How many key ops of v n has sealed to node to (n's own store): a hostile
 * node need not run kring's code, what it was sent is what it can read. */
static int gave_keys(kr_node *n, const uint8_t v[16], const uint8_t *to)
{
  sqlite3 *db;
  sqlite3_stmt *s;
  int k = 0;
  db = check_store(n);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM keyops k JOIN subjects s ON s.n=k.subj"
                                 " JOIN nodes r ON r.n=k.reader JOIN nodes o ON o.n=k.origin"
                                 " WHERE s.id=?1 AND r.id=?2 AND o.id=?3", -1, &s,
                             NULL) == SQLITE_OK);
  sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, to, 32, SQLITE_STATIC);
  sqlite3_bind_blob(s, 3, kr_node_id(n), 32, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) k = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return k;
}

/* 1 when n's files (kring.db, -wal, -shm) hold needle. */
static int files_hold(kr_node *n, const char *needle)
{
  return check_home_holds(kr_node_home(n), needle);
}

/* M signs ops as its next change, stamped hlc (0: its clock), and applies it
 * to its own store. KEY and GROUP parts are packed into records
 * (check_change_build): parts of one record must be sealed at its place. */
static void forge(kr_node *m, const kr_op *ops, uint32_t nops, kr_hlc hlc)
{
  kr_buf b;
  uint64_t seq;
  int fresh;
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  kr_buf_init(&b, KR_CHANGE_MAX);
  REQUIRE(check_change_build(kr_node_secret_key(m), seq + 1, hlc ? hlc : kr_node_now_ms(m) << 16,
                             check_nonce, ops, nops, &b) == 0);
  REQUIRE(kr_node_apply(m, b.data, b.len, &fresh) == 0);
  kr_buf_free(&b);
}

/* A key op (a record's key entry) from node `from` giving reader key for
 * (v, en, creator), sealed as from's changes seal the first key entry of
 * the record at place (slot 1). sealed: KR_SEALED_KEY_LEN bytes. */
#define key_op(from, v, en, creator, reader, key, sealed) \
  key_op_at(from, v, en, creator, reader, key, sealed, 0)
static kr_op key_op_at(kr_node *from, const uint8_t v[16], uint64_t en, const uint8_t *creator,
                       const uint8_t *reader, const uint8_t key[32], uint8_t *sealed,
                       uint32_t place)
{
  kr_op op;
  memset(&op, 0, sizeof op);
  op.type = KR_OP_KEY;
  memcpy(op.subject, v, 16);
  op.epoch = en;
  memcpy(op.creator, creator, 32);
  memcpy(op.member, reader, 32);
  check_seal_key(from, reader, place, &op, key, sealed);
  return op;
}

/* A group (a record's box) of the inner ops in (v's subject), sealed under
 * key as (en, creator), at place (slot 0) of M's change seq (0: its next).
 * box receives the bytes. A grant inside names its recipient by number
 * when the change's node table has it: the origin always, and named
 * (NULL: none) besides. */
#define group_op(m, v, en, creator, key, in, nin, place, box) \
  group_op_t(m, 0, v, en, creator, key, in, nin, place, box, NULL)
static kr_op group_op_t(kr_node *m, uint64_t seq, const uint8_t v[16], uint64_t en,
                        const uint8_t *creator, const uint8_t key[32], const kr_op *in,
                        uint32_t nin, uint32_t place, kr_buf *box, const uint8_t *named)
{
  kr_op g;
  kr_buf plain;
  uint8_t netid[16], founder[32];
  kr_nodes t = {kr_node_id(m), (const uint8_t (*)[32])named, named ? 1 : 0};
  memset(&g, 0, sizeof g);
  g.type = KR_OP_GROUP;
  memcpy(g.subject, v, 16);
  g.epoch = en;
  memcpy(g.creator, creator, 32);
  kr_buf_init(&plain, KR_CHANGE_MAX);
  REQUIRE(kr_group_encode(in, nin, &t, &plain) == 0);
  kr_node_network(m, netid, founder);
  if (!seq) {
    REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
    seq++;
  }
  kr_buf_reset(box);
  REQUIRE(kr_group_seal(key, netid, kr_node_id(m), seq, check_nonce, place, &g, plain.data,
                        plain.len, box) == 0);
  g.box = box->data;
  g.box_len = (uint32_t)box->len;
  kr_buf_free(&plain);
  return g;
}

/* 1 when reader opens, from the change buf, a key entry sealed to it
 * and with that key the box of the same record (at its place, slot 1 + k
 * and 0): the forged record is one its reader can read. */
static int record_opens(kr_node *reader, const uint8_t *buf, size_t len)
{
  kr_change ch;
  uint8_t netid[16], founder[32], pair[32], key[32];
  int opened = 0;
  kr_node_network(reader, netid, founder);
  REQUIRE(kr_change_decode(buf, len, KR_CHANGE_MAX, &ch) == 0);
  REQUIRE(kr_pair_key_ed(kr_node_secret_key(reader), ch.origin, pair) == 0);
  for (uint32_t i = 0; i < ch.nops; i++) {
    kr_op part, g;
    if (!KR_OP_IS_RECORD(ch.ops[i].type) || !kr_record_group(&ch.ops[i], &g)) continue;
    for (uint32_t k = 0; k < ch.ops[i].nkeys; k++) {
      kr_buf p;
      kr_record_key(&ch.ops[i], k, &part);
      if (memcmp(part.member, kr_node_id(reader), 32) != 0 ||
          kr_key_open(pair, netid, ch.origin, ch.nonce, i, &part, key) != 0)
        continue;
      kr_buf_init(&p, KR_CHANGE_MAX);
      if (kr_group_open(key, netid, ch.origin, ch.seq, ch.nonce, i, &g, &p) == 0) opened = 1;
      kr_buf_free(&p);
    }
  }
  kr_change_free(&ch);
  return opened;
}

/* The same for m's latest change. */
static int forged_opens(kr_node *reader, kr_node *m)
{
  kr_buf b;
  uint64_t seq;
  int r;
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  kr_buf_init(&b, KR_CHANGE_MAX);
  REQUIRE(kr_node_change_bytes(m, kr_node_id(m), seq, &b) == 0);
  r = record_opens(reader, b.data, b.len);
  kr_buf_free(&b);
  return r;
}

static kr_op grant_inner(const uint8_t v[16], const char *purpose, const uint8_t *to)
{
  kr_op op;
  memset(&op, 0, sizeof op);
  op.type = KR_OP_GRANT;
  memcpy(op.subject, v, 16);
  op.purpose = purpose;
  op.recipient_all = to == NULL;
  if (to) memcpy(op.recipient, to, 32);
  op.method = KR_METHOD_PAPER;
  op.text_version = "v1";
  op.until = "";
  return op;
}

static kr_op set_inner(const uint8_t v[16], int field, const char *value)
{
  kr_op op;
  memset(&op, 0, sizeof op);
  op.type = KR_OP_SET;
  memcpy(op.subject, v, 16);
  op.field = (uint8_t)field;
  op.value = value;
  return op;
}

typedef struct { const uint8_t *node; int registrar; } find_reader;
static int reader_cb(void *ctx, const kr_reader *r)
{
  find_reader *f = ctx;
  if (memcmp(r->node, f->node, 32) == 0 && r->registrar) f->registrar = 1;
  return 0;
}

/* ------------------------------------------------------------------------ */

/* How many registrations of v n's store holds (the test reads the file
 * itself); the origin of the last in reg. */
static int registrations(kr_node *n, const uint8_t v[16], uint8_t reg[32])
{
  sqlite3 *db;
  sqlite3_stmt *s;
  int k = 0;
  db = check_store(n);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT o.id FROM registrations r JOIN subjects s"
                                 " ON s.n=r.subj JOIN nodes o ON o.n=r.origin WHERE s.id=?1", -1,
                             &s, NULL) == SQLITE_OK);
  sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
  while (sqlite3_step(s) == SQLITE_ROW)
    if (sqlite3_column_bytes(s, 0) == 32) {
      memcpy(reg, sqlite3_column_blob(s, 0), 32);
      k++;
    }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return k;
}

/* change (kr_change bytes) with its op 0 withheld as [0, type, label,
 * hash], appended to red (reset first). */
static void withhold_first(const kr_buf *change, uint8_t type, const uint8_t label[16],
                           kr_buf *red)
{
  kr_change d;
  msgpack_packer pk;

  REQUIRE(kr_change_decode(change->data, change->len, KR_CHANGE_MAX, &d) == 0);
  kr_buf_reset(red);
  msgpack_packer_init(&pk, red, kr_buf_mp_write);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_bin(&pk, d.header_len);
  msgpack_pack_bin_body(&pk, d.header, d.header_len);
  msgpack_pack_bin(&pk, KR_SIG_LEN);
  msgpack_pack_bin_body(&pk, d.sig, KR_SIG_LEN);
  msgpack_pack_array(&pk, d.nops);
  for (uint32_t i = 0; i < d.nops; i++) {
    if (i) {
      msgpack_pack_bin(&pk, d.op_len[i]);
      msgpack_pack_bin_body(&pk, d.op_bytes[i], d.op_len[i]);
      continue;
    }
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint8(&pk, KR_OP_REDACTED);
    msgpack_pack_uint8(&pk, type);
    msgpack_pack_bin(&pk, KR_SUBJECT_LEN);
    msgpack_pack_bin_body(&pk, label, KR_SUBJECT_LEN);
    msgpack_pack_bin(&pk, KR_HASH_LEN);
    msgpack_pack_bin_body(&pk, d.hashes[i], KR_HASH_LEN);
  }
  kr_change_free(&d);
}

/*
 * 1. A hostile member backdates a registration. A registers V (consent to
 * B). M, which may not read V, signs a registration of V stamped at the
 * start of time, hoping the earliest registration names it V's registrar.
 * (It did, until a volunteer's id became one only its registrar can make.)
 * Now a registering record names no subject: every node derives it from
 * the change's origin, nonce and the registering records before it, so M
 * cannot sign a registering record of V (kr_change_build refuses one whose
 * subject is not derived), the registering record it can sign registers an
 * id of M's own (derived from M), not V, and a withheld one labelled V is
 * refused. M never reads V and A stays the registrar.
 */
static void backdated_register(void)
{
  kr_node *n[3], *a, *b, *m;
  uint8_t v[16], mv[16], nonce[KR_NONCE_LEN];
  char buf[64];
  kr_op op;
  kr_buf w, red;
  uint64_t seq;

  check_net(n, 3, "reg");
  a = n[0];
  b = n[1];
  m = n[2];
  add(a, v, "Anna Registratie", kr_node_id(b), 0);
  check_syncall(n, 3);
  CHECK_EQ(reads(m, v, ""), 0);

  kr_buf_init(&w, KR_CHANGE_MAX);
  kr_buf_init(&red, KR_CHANGE_MAX);
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_REGREC;                /* bare: a registration */
  op.epoch = 1;
  memcpy(op.creator, kr_node_id(m), 32);
  /* V's id is derived from A (and the nonce of A's change): no nonce of
   * M's derives it, so M cannot sign a registering record of V */
  for (int t = 0; t < 2; t++) {
    if (t) randombytes_buf(nonce, sizeof nonce);
    else memcpy(nonce, check_nonce, sizeof nonce);
    memcpy(op.subject, v, 16);
    kr_buf_reset(&w);
    CHECK_EQ(kr_change_build(kr_node_secret_key(m), seq + 1, (kr_hlc)1 << 16, nonce, &op, 1, &w),
             KR_EINVAL);
  }
  /* the registering record M can sign registers M's own id: the one
   * derived from M, its nonce and r = 0 */
  kr_subject_derive(kr_node_id(m), check_nonce, 0, mv);
  CHECK(memcmp(mv, v, 16) != 0);
  memcpy(op.subject, mv, 16);
  kr_buf_reset(&w);
  REQUIRE(kr_change_build(kr_node_secret_key(m), seq + 1, (kr_hlc)1 << 16, check_nonce, &op, 1,
                          &w) == 0);
  {
    kr_change d;
    REQUIRE(kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &d) == 0);
    REQUIRE(d.nops == 1);
    CHECK_EQ(d.ops[0].type, KR_OP_REGREC);
    CHECK(memcmp(d.ops[0].subject, mv, 16) == 0);  /* derived by the decoder */
    kr_change_free(&d);
  }
  /* withheld, labelled V: refused (the label of a withheld registering
   * record must be the derived id); labelled with it, it decodes */
  withhold_first(&w, KR_OP_REGREC, v, &red);
  CHECK_EQ(kr_node_apply(a, red.data, red.len, NULL), KR_EMALFORMED);
  CHECK_EQ(kr_node_apply(b, red.data, red.len, NULL), KR_EMALFORMED);
  {
    kr_change d;
    withhold_first(&w, KR_OP_REGREC, mv, &red);
    CHECK_EQ(kr_change_decode(red.data, red.len, KR_CHANGE_MAX, &d), 0);
    kr_change_free(&d);
  }
  /* the backdated change itself: it registers M's id, not V */
  CHECK_EQ(kr_node_apply(m, w.data, w.len, NULL), 0);
  CHECK_EQ(kr_node_apply(a, w.data, w.len, NULL), 0);
  CHECK_EQ(kr_node_apply(b, w.data, w.len, NULL), 0);
  kr_buf_free(&w);
  kr_buf_free(&red);
  check_syncall(n, 3);

  /* readers touch V: A records another consent for B; B edits */
  grant(a, v, "newsletter", kr_node_id(b));
  check_syncall(n, 3);
  REQUIRE(set_city(b, v, "Zwolle") == 0);
  check_syncall(n, 3);

  CHECK_EQ(reads(m, v, ""), 0);                      /* M never reads V */
  CHECK_EQ(nkeys(m, v), 0);
  CHECK_EQ(gave_keys(a, v, kr_node_id(m)) + gave_keys(b, v, kr_node_id(m)), 0);
  CHECK(strcmp(city(a, v, buf, sizeof buf), "Zwolle") == 0);   /* A reads B's edit */
  {
    find_reader f = {kr_node_id(a), 0};
    CHECK_EQ(kr_node_readers(a, v, reader_cb, &f), 0);
    CHECK(f.registrar);                              /* A is still V's registrar */
  }
  {
    find_reader f = {kr_node_id(m), 0};
    CHECK_EQ(kr_node_readers(a, v, reader_cb, &f), 0);
    CHECK(!f.registrar);                             /* M is not */
  }
  /* in A's and B's stores (the test reads the files): V's registration is
   * A's alone, and M's registering record registered an id of its own (A
   * knows it, sealed: it holds no key of it) */
  for (int i = 0; i < 2; i++) {
    uint8_t reg[32];
    CHECK_EQ(registrations(n[i], v, reg), 1);
    CHECK(memcmp(reg, kr_node_id(a), 32) == 0);
    CHECK_EQ(registrations(n[i], mv, reg), 1);
    CHECK(memcmp(reg, kr_node_id(m), 32) == 0);
  }
  {
    find_reader f = {kr_node_id(m), 0};
    CHECK_EQ(kr_node_readers(a, mv, reader_cb, &f), KR_ESEALED);
  }
  check_closeall(n, 3);
}

/*
 * 2. A member that may not read V writes a group of V under an epoch of
 * its own making, with that epoch's key sealed to A: A opens it, and the
 * group holds a consent for M. A then counts M as a reader and seals V's
 * keys to M. * (It did, until only a group whose writer read V at its stamp counts:
 * M's group is kept but has no effect.)
 */
static void forged_consent(void)
{
  kr_node *n[3], *a, *m;
  uint8_t v[16], key[32], sealed[KR_SEALED_KEY_LEN];
  kr_op ops[2], in;
  kr_buf box;

  check_net(n, 3, "fgc");
  a = n[0];
  m = n[2];
  add(a, v, "Bert Vervalst", NULL, 0);
  check_syncall(n, 3);
  kr_buf_init(&box, KR_CHANGE_MAX);
  randombytes_buf(key, sizeof key);
  ops[0] = key_op(m, v, 9, kr_node_id(m), kr_node_id(a), key, sealed);
  in = grant_inner(v, "matching", kr_node_id(m));
  ops[1] = group_op(m, v, 9, kr_node_id(m), key, &in, 1, 0, &box);
  forge(m, ops, 2, 0);
  CHECK(forged_opens(a, m));                       /* one record A can read */
  check_syncall(n, 3);
  CHECK_EQ(gave_keys(a, v, kr_node_id(m)), 0);     /* M need not run kring's code */
  CHECK_EQ(reads(m, v, ""), 0);
  CHECK_EQ(nkeys(m, v), 0);
  kr_buf_free(&box);
  check_closeall(n, 3);
}

/*
 * 3. A member that may not read V writes V's name, under an epoch of its
 * own whose key it seals to B only. B opens the group and applies it, and
 * passes M's key on to the other readers: B and C agree (same rights, same
 * changes, same state), but every reader shows the name M wrote, blind. * (It did, until only a group whose writer read V at its stamp counts:
 * M's group is kept but has no effect.)
 */
static void non_reader_writes(void)
{
  kr_node *n[4], *a, *b, *c, *m;
  uint8_t v[16], key[32], sealed[KR_SEALED_KEY_LEN];
  kr_op ops[2], in;
  kr_buf box;

  check_net(n, 4, "div");
  a = n[0];
  b = n[1];
  c = n[2];
  m = n[3];
  add(a, v, "Carla Gelijk", kr_node_id(b), 0);
  grant(a, v, "matching", kr_node_id(c));
  check_syncall(n, 4);
  CHECK_EQ(reads(b, v, "Carla Gelijk"), 1);
  CHECK_EQ(reads(c, v, "Carla Gelijk"), 1);
  CHECK(check_same_readable(b, c));
  kr_buf_init(&box, KR_CHANGE_MAX);
  randombytes_buf(key, sizeof key);
  ops[0] = key_op(m, v, 9, kr_node_id(m), kr_node_id(b), key, sealed);
  in = set_inner(v, KR_F_NAME, "Carla Vervalst");
  ops[1] = group_op(m, v, 9, kr_node_id(m), key, &in, 1, 0, &box);
  forge(m, ops, 2, 0);
  CHECK(forged_opens(b, m));                       /* one record B can read */
  check_syncall(n, 4);
  CHECK(check_same_digest(b, c));
  CHECK(check_same_readable(b, c));
  CHECK_EQ(reads(b, v, "Carla Gelijk"), 1);
  kr_buf_free(&box);
  check_closeall(n, 4);
}

/* Everything from holds that to lacks, applied in one transaction (as a
 * bundle is). */
struct collect { const uint8_t **b; size_t *l; size_t n; };
static int collect_one(void *ctx, const uint8_t *buf, size_t len)
{
  struct collect *c = ctx;
  uint8_t *p = malloc(len);
  REQUIRE(p);
  memcpy(p, buf, len);
  c->b = realloc(c->b, (c->n + 1) * sizeof *c->b);
  c->l = realloc(c->l, (c->n + 1) * sizeof *c->l);
  c->b[c->n] = p;
  c->l[c->n++] = len;
  return 0;
}

static void sync_once(kr_node *from, kr_node *to)
{
  kr_vv vv;
  kr_lacks *l;
  struct collect c = {NULL, NULL, 0};
  size_t count;
  REQUIRE(kr_node_vector(to, &vv) == 0);
  REQUIRE(kr_lacks_open(from, &vv, &l) == 0);
  do {
    REQUIRE(kr_lacks_next(l, 1u << 20, collect_one, &c, &count) == 0);
  } while (count);
  kr_lacks_close(l);
  kr_vv_free(&vv);
  if (c.n) CHECK_EQ(kr_node_apply_many(to, c.b, c.l, c.n, NULL), 0);
  for (size_t i = 0; i < c.n; i++) free((void *)c.b[i]);
  free(c.b);
  free(c.l);
}

/*
 * 4. Key ops that carry nothing block the real keys. A, B, X read V; A
 * withdraws X, and B's next write makes a new epoch (2, B). A, not yet
 * holding (2, B), grants D: its change carries A's keys, and B is to send
 * D the key of (2, B) once it sees the grant. M (no reader) sees in clear
 * that D got keys, and seals garbage to D as V's key of (2, B). B takes the
 * grant and M's change in one transaction (one bundle): D "has" (2, B),
 * so no reader ever sends it, and D never reads B's write.
 */
static void garbage_blocks_keys(void)
{
  kr_node *n[5], *a, *b, *m, *d, *x;
  uint8_t v[16], junk[32], sealed[KR_SEALED_KEY_LEN];
  kr_op op;
  char buf[64];

  check_net(n, 5, "blk");
  a = n[0];
  b = n[1];
  m = n[2];
  d = n[3];
  x = n[4];
  add(a, v, "Dirk Sleutel", kr_node_id(b), 0);
  grant(a, v, "matching", kr_node_id(x));
  check_syncall(n, 5);
  withdraw(a, v, "matching", kr_node_id(x));
  check_sync(a, b);
  REQUIRE(set_city(b, v, "Zwolle") == 0);           /* epoch (2, B), sealed to A and B */
  grant(a, v, "matching", kr_node_id(d));           /* A lacks (2, B) */
  check_sync(a, m);
  check_sync(b, m);
  memset(junk, 0x5a, sizeof junk);
  op = key_op(m, v, 2, kr_node_id(b), kr_node_id(d), junk, sealed);
  forge(m, &op, 1, 0);
  sync_once(m, b);
  sync_once(b, a);
  check_syncall(n, 5);
  CHECK_EQ(reads(d, v, "Dirk Sleutel"), 1);
  CHECK(strcmp(city(d, v, buf, sizeof buf), "Zwolle") == 0);
  check_closeall(n, 5);
}

/*
 * 5. A second key for a real epoch. M seals a key of its own to A as V's
 * key of epoch (1, A), with a group under it that opens with that key.
 * A then holds two keys of (1, A) and sends neither to a reader it grants
 * later: the new reader never reads what was written under (1, A), the
 * volunteer's name among it.
 */
static void second_key_hides_history(void)
{
  kr_node *n[3], *a, *b, *m;
  uint8_t v[16], key[32], sealed[KR_SEALED_KEY_LEN];
  kr_op ops[2], in;
  kr_buf box;

  check_net(n, 3, "two");
  a = n[0];
  b = n[1];
  m = n[2];
  add(a, v, "Els Geschiedenis", NULL, 0);
  check_syncall(n, 3);
  kr_buf_init(&box, KR_CHANGE_MAX);
  randombytes_buf(key, sizeof key);
  ops[0] = key_op(m, v, 1, kr_node_id(a), kr_node_id(a), key, sealed);
  in = set_inner(v, KR_F_NOTES, "x");
  ops[1] = group_op(m, v, 1, kr_node_id(a), key, &in, 1, 0, &box);
  forge(m, ops, 2, 0);
  CHECK(forged_opens(a, m));                       /* one record A can read */
  check_syncall(n, 3);
  grant(a, v, "matching", kr_node_id(b));
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Els Geschiedenis"), 1);
  kr_buf_free(&box);
  check_closeall(n, 3);
}

/*
 * 5b. A planted epoch. M seals a key of its own to A as V's key of epoch
 * (5, A), an epoch A never made, with a group under it that the key
 * opens. A takes it for the newest epoch it holds, all of whose holders
 * read V, and writes V under it: M, which may not read V, opens what A
 * writes (and A seals M's key to every other reader too).
 */
static void planted_epoch(void)
{
  kr_node *n[3], *a, *b, *m;
  uint8_t v[16], key[32], sealed[KR_SEALED_KEY_LEN], netid[16], founder[32];
  kr_op ops[2], in;
  kr_buf box, w;
  kr_change ch;
  int opened = 0, groups = 0;

  check_net(n, 3, "pla");
  a = n[0];
  b = n[1];
  m = n[2];
  add(a, v, "Nel Geplant", kr_node_id(b), 0);
  check_syncall(n, 3);
  kr_buf_init(&box, KR_CHANGE_MAX);
  kr_buf_init(&w, KR_CHANGE_MAX);
  randombytes_buf(key, sizeof key);
  ops[0] = key_op(m, v, 5, kr_node_id(a), kr_node_id(a), key, sealed);
  in = set_inner(v, KR_F_NOTES, "x");
  ops[1] = group_op(m, v, 5, kr_node_id(a), key, &in, 1, 0, &box);
  forge(m, ops, 2, 0);
  CHECK(forged_opens(a, m));                       /* one record A can read */
  check_syncall(n, 3);
  {
    kr_txn *t;
    REQUIRE(kr_txn_begin(a, &t) == 0);
    REQUIRE(kr_txn_set(t, v, KR_F_PHONE, "0612345678", NULL) == 0);
    REQUIRE(kr_txn_commit(t, &w) == 0);
  }
  kr_node_network(a, netid, founder);
  REQUIRE(kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &ch) == 0);
  for (uint32_t i = 0; i < ch.nops; i++) {
    kr_buf p;
    kr_op g;
    if (!kr_record_group(&ch.ops[i], &g)) continue;     /* a record's box */
    groups++;
    kr_buf_init(&p, KR_CHANGE_MAX);
    if (kr_group_open(key, netid, ch.origin, ch.seq, ch.nonce, i, &g, &p) == 0) opened = 1;
    kr_buf_free(&p);
  }
  kr_change_free(&ch);
  CHECK_EQ(groups, 1);                               /* A's write: one box */
  CHECK(!opened);                                    /* M's key opens nothing A writes */
  kr_buf_free(&box);
  kr_buf_free(&w);
  check_closeall(n, 3);
}

/*
 * 6. A withdrawn reader kept reading by a key op that opens nothing: M
 * seals garbage to B as V's key, stamped after the withdrawal. B compares
 * the withdrawal with the last key it got, garbage or not, and keeps V.
 */
static void garbage_keeps_reader(void)
{
  kr_node *n[3], *a, *b, *m;
  uint8_t v[16], junk[32], sealed[KR_SEALED_KEY_LEN];
  kr_op op;

  check_net(n, 3, "kep");
  a = n[0];
  b = n[1];
  m = n[2];
  add(a, v, "Frits Blijft", kr_node_id(b), 0);
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Frits Blijft"), 1);
  withdraw(a, v, "matching", kr_node_id(b));
  check_clk[check_nclk - 1] += 100000;                           /* M stamps after the withdrawal */
  memset(junk, 0x33, sizeof junk);
  op = key_op(m, v, 1, kr_node_id(a), kr_node_id(b), junk, sealed);
  forge(m, &op, 1, 0);
  check_sync(m, b);                                  /* the garbage first */
  check_sync(a, b);                                  /* then the withdrawal */
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(okkeys(b, v), 0);                         /* M's garbage may stay: no key */
  kr_node_tidy(b);
  CHECK(!files_hold(b, "Frits"));
  check_closeall(n, 3);
}

/*
 * 7. Honest: a withdrawal concurrent with another reader's new epoch. A,
 * B, C read V. A withdrew D's consent and C knows it; A now withdraws B's
 * consent, while C, which has not seen that yet, writes V: C's write makes
 * a new epoch (D held the old one) and seals it to B, stamped after the
 * withdrawal (C's clock runs a little ahead). Once B holds everything, B
 * is no reader, yet it keeps V.
 */
static void concurrent_new_epoch(void)
{
  kr_node *n[4], *a, *b, *c, *d;
  uint8_t v[16];

  check_net(n, 4, "cnc");
  a = n[0];
  b = n[1];
  c = n[2];
  d = n[3];
  add(a, v, "Gerda Gelijktijdig", kr_node_id(b), 0);
  grant(a, v, "matching", kr_node_id(c));
  grant(a, v, "matching", kr_node_id(d));
  check_syncall(n, 4);
  withdraw(a, v, "matching", kr_node_id(d));
  check_syncall(n, 4);
  withdraw(a, v, "matching", kr_node_id(b));       /* not yet known to C */
  check_clk[check_nclk - 2] += 5000;                             /* C's clock: 5 s ahead of A's */
  REQUIRE(set_city(c, v, "Kampen") == 0);
  check_syncall(n, 4);
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(nkeys(b, v), 0);
  CHECK_EQ(reads(d, v, ""), 0);
  check_closeall(n, 4);
}

/*
 * 8. Retraction: C (a reader by consent) grants B; A removes C without
 * having seen that grant (its removal cuts C's change off). B read V by
 * that grant; once B learns the removal it takes the grant back, and is
 * no reader of V. What B reads by changes that still count stays: W
 * (consent to B from A) and U (registered by C before its removal, with
 * consent to B).
 */
static int lost_one(void *ctx, const kr_access_loss *l)
{
  (void)l;
  ++*(int *)ctx;
  return 0;
}

static void retracted_grant(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16], w[16], u[16];
  int lost = 0;

  check_net(n, 3, "ret");
  a = n[0];
  b = n[1];
  c = n[2];
  add(a, v, "Hein Teruggedraaid", kr_node_id(c), 0);
  add(a, w, "Wim Blijft", kr_node_id(b), 0);
  add(c, u, "Ugo Van C", kr_node_id(b), 0);
  check_syncall(n, 3);
  CHECK_EQ(reads(c, v, "Hein Teruggedraaid"), 1);
  CHECK_EQ(reads(b, u, "Ugo Van C"), 1);
  REQUIRE(kr_node_expel(a, kr_node_id(c), "test: removed") == 0);
  grant(c, v, "matching", kr_node_id(b));           /* C has not seen its removal */
  check_sync(c, b);
  CHECK_EQ(reads(b, v, "Hein Teruggedraaid"), 1);
  check_sync(a, b);                                  /* the removal: C's grant is cut off */
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(nkeys(b, v), 0);
  CHECK_EQ(reads(b, w, "Wim Blijft"), 1);
  CHECK_EQ(reads(b, u, "Ugo Van C"), 1);
  kr_node_access_lost(b, lost_one, &lost);
  CHECK_EQ(lost, 1);
  kr_node_tidy(b);
  CHECK(!files_hold(b, "Teruggedraaid"));
  check_sync(b, a);
  CHECK(check_same_digest(a, b));
  check_closeall(n, 3);
}

/*
 * 9. Epoch numbers near the top. Numbers past 2^63 - 1 do not fit the
 * store's columns: a key op naming one made A's next epoch overflow (A no
 * longer read what it wrote). Now no op may name an epoch past
 * KR_EPOCH_MAX; M (no reader) and B (a reader) name that one, A withdraws
 * C, and A's next write makes a new epoch all the same: A and B read it.
 */
static void epoch_overflow(void)
{
  kr_node *n[4], *a, *b, *c, *m;
  uint8_t v[16], junk[32], s1[KR_SEALED_KEY_LEN];
  kr_op op;
  kr_buf x;
  char buf[64];

  check_net(n, 4, "ovf");
  a = n[0];
  b = n[1];
  c = n[2];
  m = n[3];
  add(a, v, "Ida Overloop", kr_node_id(b), 0);
  grant(a, v, "matching", kr_node_id(c));
  check_syncall(n, 4);
  memset(junk, 0x44, sizeof junk);
  kr_buf_init(&x, KR_CHANGE_MAX);
  op = key_op(m, v, UINT64_C(0x7fffffffffffffff), kr_node_id(m), kr_node_id(m), junk, s1);
  CHECK(check_change_build(kr_node_secret_key(m), 99, 1, check_nonce, &op, 1, &x) != 0);
  op.epoch = KR_EPOCH_MAX + 1;
  CHECK(check_change_build(kr_node_secret_key(m), 99, 1, check_nonce, &op, 1, &x) != 0);
  op.epoch = KR_EPOCH_MAX;
  forge(m, &op, 1, 0);
  op = key_op(b, v, KR_EPOCH_MAX, kr_node_id(b), kr_node_id(a), junk, s1);
  forge(b, &op, 1, 0);
  check_syncall(n, 4);
  withdraw(a, v, "matching", kr_node_id(c));
  CHECK_EQ(set_city(a, v, "Urk"), 0);
  check_syncall(n, 4);
  CHECK(strcmp(city(a, v, buf, sizeof buf), "Urk") == 0);
  CHECK(strcmp(city(b, v, buf, sizeof buf), "Urk") == 0);
  CHECK_EQ(reads(c, v, ""), 0);
  CHECK(check_same_digest(a, b));
  kr_buf_free(&x);
  check_closeall(n, 4);
}

/*
 * 10. Odd but honest orders on one reader: the withdrawal before the
 * grant and its keys; a re-grant after a withdrawal, all arriving at once;
 * a grant concurrent with a withdrawal (disable wins).
 */
static void apply_seq(kr_node *to, kr_node *from, uint64_t seq)
{
  kr_buf b;
  kr_buf_init(&b, KR_CHANGE_MAX);
  REQUIRE(kr_node_change_bytes(from, kr_node_id(from), seq, &b) == 0);
  CHECK_EQ(kr_node_apply(to, b.data, b.len, NULL), 0);
  kr_buf_free(&b);
}

static void odd_orders(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16], w[16], u[16];
  uint64_t s0, s1;

  check_net(n, 3, "odd");
  a = n[0];
  b = n[1];
  c = n[2];
  check_syncall(n, 3);
  /* withdrawal first, then the registration with the grant and key */
  REQUIRE(kr_node_max_seq(a, kr_node_id(a), &s0) == 0);
  add(a, v, "Jan Omgekeerd", kr_node_id(b), 0);
  withdraw(a, v, "matching", kr_node_id(b));
  apply_seq(b, a, s0 + 2);
  apply_seq(b, a, s0 + 1);
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(nkeys(b, v), 0);
  check_syncall(n, 3);
  /* grant, withdraw, grant again: B sees them all at once, in any order */
  REQUIRE(kr_node_max_seq(a, kr_node_id(a), &s1) == 0);
  add(a, w, "Kees Opnieuw", kr_node_id(b), 0);
  withdraw(a, w, "matching", kr_node_id(b));
  grant(a, w, "matching", kr_node_id(b));
  apply_seq(b, a, s1 + 3);
  apply_seq(b, a, s1 + 2);
  apply_seq(b, a, s1 + 1);
  CHECK_EQ(reads(b, w, "Kees Opnieuw"), 1);
  check_syncall(n, 3);
  CHECK_EQ(reads(b, w, "Kees Opnieuw"), 1);
  /* concurrent: A withdraws B while C (a reader) grants B again */
  add(a, u, "Lies Tegelijk", kr_node_id(b), 0);
  grant(a, u, "matching", kr_node_id(c));
  check_syncall(n, 3);
  withdraw(a, u, "matching", kr_node_id(b));
  grant(c, u, "matching", kr_node_id(b));
  check_syncall(n, 3);
  CHECK_EQ(reads(b, u, ""), 0);
  CHECK_EQ(nkeys(b, u), 0);
  CHECK(check_same_readable(a, c) || 1);            /* A is registrar: rights differ */
  CHECK(check_same_digest(a, b) && check_same_digest(a, c));
  check_closeall(n, 3);
}

/*
 * 11. Erasure: every key of the subject goes, on readers and on the
 * registrar; a key op arriving after it stores nothing.
 */
static void erasure_keys(void)
{
  kr_node *n[3], *a, *b, *m;
  uint8_t v[16], junk[32], sealed[KR_SEALED_KEY_LEN];
  kr_op op;
  kr_txn *t;

  check_net(n, 3, "era");
  a = n[0];
  b = n[1];
  m = n[2];
  add(a, v, "Mies Vergeten", kr_node_id(b), 0);
  check_syncall(n, 3);
  CHECK(nkeys(b, v) > 0);
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_erase(t, v, "asked to be forgotten", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 3);
  CHECK_EQ(nkeys(a, v), 0);
  CHECK_EQ(nkeys(b, v), 0);
  memset(junk, 1, sizeof junk);
  op = key_op(m, v, 1, kr_node_id(a), kr_node_id(b), junk, sealed);
  forge(m, &op, 1, 0);
  check_syncall(n, 3);
  CHECK_EQ(nkeys(b, v), 0);
  check_closeall(n, 3);
}

/*
 * 12. Honest: a consent recorded after its end date (a paper form entered
 * late, "until" already past). The recipient is no reader, yet the grant's
 * change carries it the keys, stamped after the expiry.
 */
static void expired_when_granted(void)
{
  kr_node *n[3], *a, *b;
  uint8_t v[16];
  kr_txn *t;

  check_net(n, 3, "exp");
  a = n[0];
  b = n[1];
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Olga Verlopen", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(b), KR_METHOD_PAPER, "v1", "2025-12-01",
                       NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 3);
  CHECK_EQ(kr_node_release_held(b), 0);
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(okkeys(b, v), 0);
  check_closeall(n, 3);
}

/*
 * Night expiry. An end date is the last valid day on the node's own
 * calendar (kr_node_today: local time), so a grant ends at the node's
 * local midnight. The end used to be taken at midnight UTC, which east of
 * UTC (the Netherlands: +1 or +2 h) lies after local midnight: for an hour
 * or two every night, a reader that lost its access through an expired
 * grant while another grant still names it needed a key op "after" an
 * end still in the future, and every change touching the volunteer sent
 * it again. A in Amsterdam: V's consent to B for matching ends on
 * 2026-01-02, for contact it does not; at 00:30 on the 3rd A records
 * three more grants to B: one key op for B at most, not one per grant.
 */
static void night_expiry(void)
{
  kr_node *n[2], *a, *b;
  uint8_t v[16];
  kr_txn *t;
  int base = check_nclk, before, after;
  char *tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

  setenv("TZ", "Europe/Amsterdam", 1);
  tzset();
  check_net(n, 2, "nex");
  a = n[0];
  b = n[1];
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Nina Nacht", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(b), KR_METHOD_PAPER, "v1", "2026-01-02",
                       NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "contact", kr_node_id(b), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 2);
  CHECK_EQ(reads(b, v, "Nina Nacht"), 1);
  /* 2026-01-02 23:30 UTC: 00:30 on the 3rd in Amsterdam */
  check_clk[base] = check_clk[base + 1] = UINT64_C(1767396600000);
  CHECK_EQ(kr_node_release_held(a), 0);
  CHECK_EQ(kr_node_release_held(b), 0);
  check_syncall(n, 2);
  before = gave_keys(a, v, kr_node_id(b));
  grant(a, v, "placement", kr_node_id(b));       /* each looks at V's readers again */
  grant(a, v, "newsletter", kr_node_id(b));
  grant(a, v, "photos", kr_node_id(b));
  after = gave_keys(a, v, kr_node_id(b));
  CHECK(after - before <= 1);
  check_syncall(n, 2);
  CHECK_EQ(reads(b, v, "Nina Nacht"), 1);         /* contact still names B */
  check_closeall(n, 2);
  if (tz) setenv("TZ", tz, 1); else unsetenv("TZ");
  free(tz);
  tzset();
}

/*
 * 13. Honest: consent for an organisation recorded before it is admitted
 * (its node id is known from its join request). Once admitted it is a
 * reader of V; a reader must send it the keys.
 */
static void grant_before_admission(void)
{
  kr_node *n[2], *a, *d;
  uint8_t v[16], netid[16], founder[32];

  check_net(n, 2, "adm");
  a = n[0];
  kr_node_network(a, netid, founder);
  REQUIRE(kr_node_create_joining(check_path("adm-d"), "Org D", "buurtteam", netid, founder, &d) ==
          0);
  check_same_clock(d, a);
  add(a, v, "Piet Vooraf", kr_node_id(d), 0);
  REQUIRE(check_admit(a, kr_node_id(d), "Org D", "buurtteam", 91) == 0);
  check_sync(a, d);
  CHECK_EQ(reads(d, v, "Piet Vooraf"), 1);
  kr_node_close(d);
  check_closeall(n, 2);
}

/*
 * 14. A member that may not read V withdraws B's consent, in a group of
 * its own epoch sealed to A only: A takes B for no reader any more, and
 * B, an honest reader, does not read what A writes next. * (It did, until only a group whose writer read V at its stamp counts:
 * M's group is kept but has no effect.)
 */
static void forged_withdrawal(void)
{
  kr_node *n[3], *a, *b, *m;
  uint8_t v[16], key[32], s1[KR_SEALED_KEY_LEN];
  kr_op ops[2], in;
  kr_buf box;

  check_net(n, 3, "fwd");
  a = n[0];
  b = n[1];
  m = n[2];
  add(a, v, "Quinten Ingetrokken", kr_node_id(b), 0);
  check_syncall(n, 3);
  kr_buf_init(&box, KR_CHANGE_MAX);
  randombytes_buf(key, sizeof key);
  ops[0] = key_op(m, v, 9, kr_node_id(m), kr_node_id(a), key, s1);
  memset(&in, 0, sizeof in);
  in.type = KR_OP_WITHDRAW;            /* a withdrawal travels in clear */
  memcpy(in.subject, v, 16);
  in.purpose = "matching";
  memcpy(in.recipient, kr_node_id(b), 32);
  in.method = KR_METHOD_VERBAL;
  in.text_version = "";
  ops[1] = in;
  forge(m, ops, 2, 0);
  check_syncall(n, 3);
  REQUIRE(set_city(a, v, "Hoorn") == 0);
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Quinten Ingetrokken"), 1);
  {
    char buf[64];
    CHECK(strcmp(city(b, v, buf, sizeof buf), "Hoorn") == 0);
  }
  kr_buf_free(&box);
  check_closeall(n, 3);
}

/*
 * 15. A reader seals V's keys to a member no consent names (a mistake, a
 * bug, or on purpose): that member shows V, and holds it in its files,
 * though it is no reader.
 */
static void key_without_consent(void)
{
  kr_node *n[3], *a, *e;
  uint8_t v[16], netid[16], founder[32];
  kr_op op;

  check_net(n, 3, "kwc");
  a = n[0];
  e = n[2];
  add(a, v, "Rosa Zonder", NULL, 0);
  check_syncall(n, 3);
  /* A seals its key of (1, A) to E: read from A's own store */
  {
    sqlite3 *db;
    sqlite3_stmt *s;
    uint8_t key[32], sealed[KR_SEALED_KEY_LEN];
    db = check_store(a);
    REQUIRE(sqlite3_prepare_v2(db, "SELECT key FROM vkeys", -1, &s, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    memcpy(key, sqlite3_column_blob(s, 0), 32);
    sqlite3_finalize(s);
    sqlite3_close(db);
    op = key_op(a, v, 1, kr_node_id(a), kr_node_id(e), key, sealed);
    forge(a, &op, 1, 0);
  }
  kr_node_network(a, netid, founder);
  check_syncall(n, 3);
  CHECK_EQ(reads(e, v, ""), 0);
  kr_node_tidy(e);
  CHECK(!files_hold(e, "Rosa Zonder"));
  check_closeall(n, 3);
}

/*
 * 16. Honest: a re-grant, and a key that comes ahead of it. A withdraws
 * B's consent (B forgets V); C writes V under a new epoch (2, C); A, not
 * yet holding (2, C), grants B again, and C, once it sees that, seals
 * (2, C) to B. B gets C's key first (no consent in force: deleted again),
 * then A's grant: B reads V again, C's write included.
 */
static void regrant_recovers(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16];
  uint64_t s0, s1;
  char buf[64];
  int lost = 0;

  check_net(n, 3, "rgr");
  a = n[0];
  b = n[1];
  c = n[2];
  add(a, v, "Sara Terug", kr_node_id(b), 0);
  grant(a, v, "matching", kr_node_id(c));
  check_syncall(n, 3);
  withdraw(a, v, "matching", kr_node_id(b));
  check_sync(a, b);
  check_sync(a, c);
  CHECK_EQ(reads(b, v, ""), 0);
  REQUIRE(kr_node_max_seq(c, kr_node_id(c), &s0) == 0);
  REQUIRE(set_city(c, v, "Sneek") == 0);            /* (2, C): B is no reader */
  grant(a, v, "matching", kr_node_id(b));           /* A lacks (2, C) */
  check_sync(a, c);                                  /* C seals (2, C) to B */
  REQUIRE(kr_node_max_seq(c, kr_node_id(c), &s1) == 0);
  CHECK(s1 > s0 + 1);
  for (uint64_t q = s0 + 1; q <= s1; q++) apply_seq(b, c, q);
  CHECK_EQ(reads(b, v, ""), 0);
  check_sync(a, b);                                  /* the grant */
  CHECK_EQ(reads(b, v, "Sara Terug"), 1);
  CHECK(strcmp(city(b, v, buf, sizeof buf), "Sneek") == 0);
  kr_node_access_lost(b, lost_one, &lost);
  CHECK_EQ(lost, 1);
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Sara Terug"), 1);
  check_closeall(n, 3);
}

/*
 * 17. After a withdrawal, B's files hold V's old groups (every node relays
 * them) and the key ops sealed to B (the same): whoever holds B's files
 * and its node key opens them again, name and all. "Deletes its copy of
 * the key" holds for the vkeys table only.
 */
static void files_still_open(void)
{
  kr_node *n[2], *a, *b;
  uint8_t v[16], netid[16], founder[32];
  sqlite3 *db;
  sqlite3_stmt *s;
  uint8_t keys[8][32];
  int nk = 0, found = 0;

  check_net(n, 2, "fso");
  a = n[0];
  b = n[1];
  add(a, v, "Teun Terugvindbaar", kr_node_id(b), 0);
  check_syncall(n, 2);
  withdraw(a, v, "matching", kr_node_id(b));
  check_syncall(n, 2);
  CHECK_EQ(reads(b, v, ""), 0);
  kr_node_network(b, netid, founder);
  db = check_store(b);
  /* records (14, 15): a registering record's subject is the store's (it
   * names none), as kr__op_parse_at takes it */
  REQUIRE(sqlite3_prepare_v2(db, "SELECT p.body, o.key, c.header, p.idx, s.id, c.seq FROM ops p"
                                 " JOIN changes c ON c.n=p.chg JOIN origins o ON o.n=c.origin"
                                 " JOIN subjects s ON s.n=p.subj WHERE p.type IN (14,15)"
                                 " AND p.body IS NOT NULL", -1, &s, NULL) == SQLITE_OK);
  for (int pass = 0; pass < 2; pass++) {
    /* pass 0: the keys sealed to B; pass 1: the boxes they open */
    sqlite3_reset(s);
    while (sqlite3_step(s) == SQLITE_ROW) {
      kr_op rec, part;
      void *mem = NULL, *tm = NULL;
      uint8_t pair[32], nonce[KR_NONCE_LEN];
      uint32_t place = (uint32_t)sqlite3_column_int(s, 3);
      const uint8_t *origin = sqlite3_column_blob(s, 1);
      kr_nodes t;
      kr_buf p;
      if (kr_change_header_ctx(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
                               nonce, &t, &tm) != 0 ||
          kr_op_parse(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &t, &rec,
                      &mem) != 0 ||
          sqlite3_column_bytes(s, 4) != 16) {
        free(mem);
        free(tm);
        continue;
      }
      if (rec.type == KR_OP_REGREC) memcpy(rec.subject, sqlite3_column_blob(s, 4), 16);
      if (pass == 0) {
        for (uint32_t k = 0; k < rec.nkeys && nk < 8; k++) {
          kr_record_key(&rec, k, &part);
          if (memcmp(part.member, kr_node_id(b), 32) == 0 &&
              kr_pair_key_ed(kr_node_secret_key(b), origin, pair) == 0 &&
              kr_key_open(pair, netid, origin, nonce, place, &part, keys[nk]) == 0)
            nk++;
        }
      } else if (kr_record_group(&rec, &part)) {
        kr_buf_init(&p, KR_CHANGE_MAX);
        for (int k = 0; k < nk; k++)
          if (kr_group_open(keys[k], netid, origin, (uint64_t)sqlite3_column_int64(s, 5), nonce,
                            place, &part, &p) == 0 &&
              memmem(p.data, p.len, "Terugvindbaar", 13))
            found = 1;
        kr_buf_free(&p);
      }
      free(mem);
      free(tm);
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  CHECK(!found);
  check_closeall(n, 2);
}

/*
 * 18. Honest: two withdrawals of one register, the later one by a node
 * that the earlier one made no reader. A registers V with consent to all
 * and to B; C withdraws the consent to all, and D (not yet knowing)
 * withdraws it too, later by the clock. Only C's counts (D read V only
 * through it). A gets C's first, B gets D's first: B must fold V again
 * when C's arrives, so that both read the same consent history.
 */
static void late_withdrawal(void)
{
  kr_node *n[4], *a, *b, *c, *d;
  uint8_t v[16];
  uint64_t sc, sd;
  int base = check_nclk;
  kr_txn *t;

  check_net(n, 4, "lwd");
  a = n[0];
  b = n[1];
  c = n[2];
  d = n[3];
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Uma Tweemaal", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "contact", kr_node_id(b), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 4);
  CHECK_EQ(reads(d, v, "Uma Tweemaal"), 1);
  check_clk[base + 2] += 1000;
  withdraw(c, v, "matching", NULL);
  check_clk[base + 3] += 2000;
  withdraw(d, v, "matching", NULL);                 /* D is no reader since C's */
  REQUIRE(kr_node_max_seq(c, kr_node_id(c), &sc) == 0);
  REQUIRE(kr_node_max_seq(d, kr_node_id(d), &sd) == 0);
  apply_seq(a, c, sc);
  apply_seq(a, d, sd);
  apply_seq(b, d, sd);                               /* D's first: it counts, for now */
  apply_seq(b, c, sc);                               /* C's, stamped before it */
  CHECK_EQ(reads(a, v, "Uma Tweemaal"), 1);
  CHECK_EQ(reads(b, v, "Uma Tweemaal"), 1);
  CHECK(check_same_readable(a, b));
  check_closeall(n, 4);
}

/*
 * 19. Honest: a node loses access by its own withdrawal, which a
 * withdrawal it gets later voids. A registers V with consent to all until
 * 3 January. D withdraws it (A learns it); B, not knowing, withdraws the
 * consent `contact` to all, and A, not knowing that, grants `contact` to
 * all. B reads A's grant as not in force (it did not see B's withdrawal),
 * so once the consent to all ends B deletes V. Then D's withdrawal comes:
 * B was no reader when it withdrew, its withdrawal does not count, A's
 * grant is in force, and B must read V again. It holds the key ops sealed
 * to it: it opens them again and decides anew.
 */
static void own_withdrawal_voided(void)
{
  kr_node *n[4], *a, *b, *d;
  uint8_t v[16];
  uint64_t sa, sd;
  int base = check_nclk, lost = 0;
  kr_txn *t;

  check_net(n, 4, "owv");
  a = n[0];
  b = n[1];
  d = n[3];
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Vera Herzien", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", NULL, KR_METHOD_PAPER, "v1", "2026-01-03", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 4);
  CHECK_EQ(reads(b, v, "Vera Herzien"), 1);
  check_clk[base + 3] += 1000;
  withdraw(d, v, "matching", NULL);
  REQUIRE(kr_node_max_seq(d, kr_node_id(d), &sd) == 0);
  apply_seq(a, d, sd);
  check_clk[base + 1] += 2000;
  withdraw(b, v, "contact", NULL);                  /* B is no reader since D's */
  check_clk[base + 0] += 3000;
  grant(a, v, "contact", NULL);                     /* not seeing B's withdrawal */
  REQUIRE(kr_node_max_seq(a, kr_node_id(a), &sa) == 0);
  apply_seq(b, a, sa);
  CHECK_EQ(reads(b, v, "Vera Herzien"), 1);
  for (int i = 0; i < 4; i++) check_clk[base + i] += UINT64_C(5) * 86400000;
  CHECK_EQ(kr_node_release_held(b), 0);             /* 6 January: the consent to all ended */
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(nkeys(b, v), 0);
  apply_seq(b, d, sd);
  CHECK_EQ(reads(b, v, "Vera Herzien"), 1);
  kr_node_access_lost(b, lost_one, &lost);
  CHECK_EQ(lost, 1);                                 /* noted once */
  check_syncall(n, 4);
  CHECK_EQ(reads(b, v, "Vera Herzien"), 1);
  CHECK(check_same_readable(a, b));
  check_closeall(n, 4);
}

/* The state of v's consent register (purpose, to or NULL for all) as n
 * reads it. */
typedef struct {
  const char *purpose;
  const uint8_t *to;
  int state;
} reg_ask;

static int reg_cb(void *ctx, const kr_consent_status *st)
{
  reg_ask *r = ctx;
  if (strcmp(st->purpose, r->purpose) != 0) return 0;
  if (r->to ? st->all || memcmp(st->recipient, r->to, 32) != 0 : !st->all) return 0;
  r->state = (int)st->state;
  return 0;
}

static int consent_state(kr_node *n, const uint8_t v[16], const char *purpose, const uint8_t *to)
{
  reg_ask r = {purpose, to, KR_CONSENT_NONE};
  REQUIRE(kr_node_consent(n, v, reg_cb, &r) == 0);
  return r.state;
}

/*
 * 20. A withdrawal that arrives after a later one it decides: C withdraws
 * "matching" to all (B's only way to read V) at t1; B, not yet knowing,
 * withdraws C's "newsletter" at t2 > t1. A takes B's change first (B read
 * V then, as far as A knew: it counts), then C's: B read V no longer at
 * t2, so its withdrawal has no effect, as on a node that took them in
 * stamp order. A late withdrawal folds V again, as a late group's consent
 * does (simulation seed 82).
 */
static void late_withdrawal_order(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16];
  int base = check_nclk;

  check_net(n, 3, "lwo");
  a = n[0];
  b = n[1];
  c = n[2];
  add(a, v, "Lotte Laat", NULL, 1);
  grant(a, v, "newsletter", kr_node_id(c));
  check_syncall(n, 3);
  withdraw(c, v, "matching", NULL);                  /* t1 */
  check_clk[base + 1] += 5000;                             /* B's clock: 5 s ahead */
  withdraw(b, v, "newsletter", kr_node_id(c));       /* t2 > t1 */
  sync_once(b, a);
  CHECK_EQ(consent_state(a, v, "newsletter", kr_node_id(c)), KR_CONSENT_WITHDRAWN);
  sync_once(c, a);
  CHECK_EQ(consent_state(a, v, "newsletter", kr_node_id(c)), KR_CONSENT_GRANTED);
  CHECK_EQ(consent_state(a, v, "matching", NULL), KR_CONSENT_WITHDRAWN);
  check_syncall(n, 3);
  CHECK_EQ(consent_state(c, v, "newsletter", kr_node_id(c)), KR_CONSENT_GRANTED);
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK(check_same_digest(a, b) && check_same_digest(a, c));
  check_closeall(n, 3);
}

/*
 * 21. A reader again reads its own withdrawal. B withdraws its own
 * consent (and deletes V). A, not yet knowing, withdraws C, writes under a
 * new epoch (2, A) sealed to B (a reader, as A knows) and grants "photos"
 * to all, under (2, A): that grant makes B a reader again. B opens it with
 * (2, A), then its key of (1, A) again from the key op sealed to it: the
 * grant to B, under (1, A), stamped before B's withdrawal, made B a reader
 * at its stamp, so B's withdrawal counts (it read on as granted).
 */
static void own_withdrawal_recovered(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16];
  char buf[64];

  check_net(n, 3, "owr");
  a = n[0];
  b = n[1];
  c = n[2];
  add(a, v, "Olga Eigen", kr_node_id(b), 0);
  grant(a, v, "matching", kr_node_id(c));
  check_syncall(n, 3);
  withdraw(b, v, "matching", kr_node_id(b));
  CHECK_EQ(reads(b, v, ""), 0);
  withdraw(a, v, "matching", kr_node_id(c));         /* A has not seen B's */
  REQUIRE(set_city(a, v, "Oss") == 0);               /* (2, A), sealed to B */
  grant(a, v, "photos", NULL);
  sync_once(a, b);
  CHECK_EQ(reads(b, v, "Olga Eigen"), 1);
  CHECK(strcmp(city(b, v, buf, sizeof buf), "Oss") == 0);
  CHECK_EQ(consent_state(b, v, "matching", kr_node_id(b)), KR_CONSENT_WITHDRAWN);
  check_syncall(n, 3);
  CHECK_EQ(consent_state(a, v, "matching", kr_node_id(b)), KR_CONSENT_WITHDRAWN);
  CHECK_EQ(consent_state(b, v, "matching", kr_node_id(b)), KR_CONSENT_WITHDRAWN);
  CHECK(check_same_readable(b, c));
  CHECK(check_same_digest(a, b) && check_same_digest(a, c));
  check_closeall(n, 3);
}

/*
 * 22. An epoch whose creator is removed, its key op taken back, while
 * another reader's groups under it still count. X makes (2, X) (C, who
 * held (1, A), no longer reads V) and seals it to A and W; W writes under
 * it. A removes X before it saw X's change: X's key ops are taken back
 * everywhere. W's write counts (W read V), so its change carries the key
 * of (2, X) sealed to W itself and to A, V's registrar: both still open
 * it (simulation seed 151).
 */
static void kept_epoch(void)
{
  kr_node *n[4], *a, *w, *x, *c;
  uint8_t v[16];
  uint64_t s0, s1;
  char buf[64];

  check_net(n, 4, "kpe");
  a = n[0];
  w = n[1];
  x = n[2];
  c = n[3];
  add(a, v, "Kees Gehouden", kr_node_id(w), 0);
  grant(a, v, "matching", kr_node_id(x));
  grant(a, v, "matching", kr_node_id(c));
  check_syncall(n, 4);
  withdraw(a, v, "matching", kr_node_id(c));
  check_syncall(n, 4);
  REQUIRE(set_city(x, v, "Xanten") == 0);            /* (2, X), to A and W */
  check_sync(x, w);
  REQUIRE(kr_node_max_seq(w, kr_node_id(w), &s0) == 0);
  REQUIRE(set_city(w, v, "Wierden") == 0);           /* under (2, X) */
  REQUIRE(kr_node_max_seq(w, kr_node_id(w), &s1) == 0);
  REQUIRE(kr_node_expel(a, kr_node_id(x), "test: removed") == 0);
  for (uint64_t q = s0 + 1; q <= s1; q++) apply_seq(a, w, q);   /* W's write, not X's */
  CHECK(strcmp(city(a, v, buf, sizeof buf), "Wierden") == 0);
  check_sync(a, w);                                  /* W takes X's change back */
  CHECK(strcmp(city(w, v, buf, sizeof buf), "Wierden") == 0);
  check_sync(w, a);
  check_sync(a, c);
  CHECK(strcmp(city(a, v, buf, sizeof buf), "Wierden") == 0);
  CHECK(strcmp(city(w, v, buf, sizeof buf), "Wierden") == 0);
  CHECK(check_same_digest(a, w) && check_same_digest(a, c));
  check_closeall(n, 4);
}

/*
 * 23. A key op a node sealed to itself is no proof that it holds the key.
 * A withdraws "matching" to all; W, not yet knowing, writes under (1, A)
 * and seals its key to itself (test 22). C, not knowing either, grants W
 * "contact": W is a reader again, and C's change carries no key for it (W
 * read V, as C knew). W, told of the withdrawal, deleted its keys, and
 * cannot open C's grant without (1, A): the readers must send it again,
 * W's own key op notwithstanding.
 */
static void self_sealed_key(void)
{
  kr_node *n[3], *a, *w, *c;
  uint8_t v[16];
  char buf[64], want[64];
  int base = check_nclk;

  check_net(n, 3, "ssk");
  a = n[0];
  w = n[1];
  c = n[2];
  add(a, v, "Saskia Zelf", NULL, 1);
  grant(a, v, "photos", kr_node_id(c));
  check_syncall(n, 3);
  withdraw(a, v, "matching", NULL);
  check_clk[base + 1] += 5000;                             /* W's clock: 5 s ahead */
  REQUIRE(set_city(w, v, "Winsum") == 0);
  grant(c, v, "contact", kr_node_id(w));
  check_sync(w, c);                                  /* W's key op first */
  check_sync(w, a);
  check_sync(a, c);
  check_sync(c, a);
  check_sync(a, w);
  check_sync(c, w);
  check_syncall(n, 3);
  CHECK_EQ(reads(w, v, "Saskia Zelf"), 1);
  snprintf(want, sizeof want, "%s", city(a, v, buf, sizeof buf));
  CHECK(strcmp(city(w, v, buf, sizeof buf), want) == 0);
  CHECK(check_same_readable(w, c));
  CHECK(check_same_digest(a, w) && check_same_digest(a, c));
  check_closeall(n, 3);
}

/*
 * 24. A group under an epoch whose key only a node with a jumped clock
 * holds stays sealed on the other nodes (sim seed 334; docs/crdt.md,
 * "Stamps and the clock"). Not a node fix: this pins the rule. A
 * registers V with "matching" to all; C grants B "photos", which A does
 * not see. A withdraws "matching" and, knowing no other reader, writes
 * V's city under a new epoch sealed to no one. A's clock then runs three
 * hours ahead; set right, A learns C's grant and seals that epoch to B,
 * stamped ahead: B holds the key op, reads V without the city, and gets
 * it when its clock reaches the key op's stamp.
 */
static void jumped_epoch(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16];
  char buf[64];
  int base = check_nclk, k0;

  check_net(n, 3, "jep");
  a = n[0];
  b = n[1];
  c = n[2];
  add(a, v, "Jan Vooruit", NULL, 1);
  check_syncall(n, 3);
  grant(c, v, "photos", kr_node_id(b));
  check_sync(c, b);
  /* (each clock moves 1 ms per reading: A's withdrawal is stamped after
   * C's grant however often either node read its clock so far) */
  check_clk[base] += 1000;
  withdraw(a, v, "matching", NULL);
  k0 = gave_keys(a, v, kr_node_id(b));
  REQUIRE(set_city(a, v, "Assen") == 0);             /* a new epoch, to no one */
  CHECK_EQ(gave_keys(a, v, kr_node_id(b)), k0);
  check_clk[base] += 3 * 3600 * 1000;                      /* A's clock: 3 h ahead */
  grant(a, v, "contact", kr_node_id(a));             /* stamped ahead */
  check_clk[base] -= 3 * 3600 * 1000;                      /* set right; A's hlc stays */
  check_sync(c, a);                                  /* A learns C's grant to B */
  check_sync(a, b);
  check_sync(a, c);
  check_sync(b, c);
  check_sync(c, b);
  CHECK(gave_keys(a, v, kr_node_id(b)) > k0);          /* the new epoch, stamped ahead */
  CHECK(strcmp(city(a, v, buf, sizeof buf), "Assen") == 0);
  CHECK_EQ(reads(b, v, "Jan Vooruit"), 1);
  CHECK(strcmp(city(b, v, buf, sizeof buf), "") == 0);
  CHECK_EQ(reads(c, v, "Jan Vooruit"), 0);
  check_clk[base + 1] += 3 * 3600 * 1000 + 60000;          /* B's clock reaches A's */
  REQUIRE(kr_node_release_held(b) == 0);
  CHECK(strcmp(city(b, v, buf, sizeof buf), "Assen") == 0);
  check_closeall(n, 3);
}

/*
 * 25. A grant whose end date is past when it is recorded ends access at
 * its own stamp. A grants "photos" to all (B reads V with the key of
 * (1, A)), then "placement" to all: B read V, as A knew, so that change
 * carries no key for it. B, not yet knowing, grants "photos" to all again
 * until a day already past: as B reads it, no consent names it, and it
 * deletes V and its keys. When A reads B's grant, B's key op of (1, A)
 * (stamped before it) no longer tells that B holds the key: A seals it to
 * B again (simulation seed 462; the end was taken as the day after the
 * end date, long before the key op).
 */
static void expired_by_own_grant(void)
{
  kr_node *n[3], *a, *b;
  uint8_t v[16];
  uint64_t sb;
  int keys;
  kr_txn *t;

  check_net(n, 3, "ebg");
  a = n[0];
  b = n[1];
  add(a, v, "Evi Verstreken", NULL, 0);
  grant(a, v, "photos", NULL);
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Evi Verstreken"), 1);
  grant(a, v, "placement", NULL);
  keys = gave_keys(a, v, kr_node_id(b));
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_grant(t, v, "photos", NULL, KR_METHOD_PAPER, "v1", "2025-12-01", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  REQUIRE(kr_node_max_seq(b, kr_node_id(b), &sb) == 0);
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(nkeys(b, v), 0);
  apply_seq(a, b, sb);
  CHECK_EQ(consent_state(a, v, "photos", NULL), KR_CONSENT_EXPIRED);
  CHECK(gave_keys(a, v, kr_node_id(b)) > keys);      /* sent again */
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Evi Verstreken"), 1);
  CHECK(check_same_readable(a, b));
  CHECK(check_same_digest(a, b) && check_same_digest(a, n[2]));
  check_closeall(n, 3);
}

/*
 * 26. A grant a former reader cannot see without the keys it deleted. A
 * grants B "placement" (B reads V, with the key of (1, A)); A then grants
 * B "photos", under (1, A): B read V, as A knew, so the change carries no
 * key for it. B, not yet knowing, withdraws its "placement": it reads no
 * consent naming it and deletes V and its keys. A's grant comes: a group
 * B cannot open, of an epoch whose key op sealed to B it holds. B opens
 * the key ops sealed to it again and decides anew: "photos" names it, so
 * it reads V (without waiting for a reader to see its withdrawal and send
 * the keys again: in the simulation that reader's clock had jumped ahead,
 * seed 228).
 */
static void unseen_grant_sealed(void)
{
  kr_node *n[3], *a, *b;
  uint8_t v[16];
  uint64_t sa;
  int lost = 0;

  check_net(n, 3, "ugs");
  a = n[0];
  b = n[1];
  add(a, v, "Ursula Onbekend", NULL, 0);
  grant(a, v, "placement", kr_node_id(b));
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Ursula Onbekend"), 1);
  grant(a, v, "photos", kr_node_id(b));
  REQUIRE(kr_node_max_seq(a, kr_node_id(a), &sa) == 0);
  CHECK_EQ(gave_keys(a, v, kr_node_id(b)), 1);       /* the first grant's only */
  withdraw(b, v, "placement", kr_node_id(b));
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(nkeys(b, v), 0);
  apply_seq(b, a, sa);
  CHECK_EQ(reads(b, v, "Ursula Onbekend"), 1);
  if (reads(b, v, "Ursula Onbekend") == 1) {
    CHECK_EQ(consent_state(b, v, "photos", kr_node_id(b)), KR_CONSENT_GRANTED);
    CHECK_EQ(consent_state(b, v, "placement", kr_node_id(b)), KR_CONSENT_WITHDRAWN);
  }
  kr_node_access_lost(b, lost_one, &lost);
  CHECK_EQ(lost, 1);                                 /* noted once */
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Ursula Onbekend"), 1);
  CHECK(check_same_readable(a, b));
  CHECK(check_same_digest(a, b) && check_same_digest(a, n[2]));
  check_closeall(n, 3);
}

static void grant_until(kr_node *n, const uint8_t v[16], const char *purpose, const uint8_t *to,
                        const char *until)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_grant(t, v, purpose, to, KR_METHOD_PAPER, "v1", until, NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
}

/*
 * 27. A grant that ends its recipient's access, under an epoch the
 * recipient never got. B, a reader through "matching" to all, grants
 * itself "placement" until 2031. A, not knowing, withdraws "matching" to
 * all and records B's "placement" consent with an end date already past
 * (a paper form entered late): the later grant sets the terms, so B reads
 * V no longer. A took B for no reader, so that grant went under a new
 * epoch (2, A) sealed to nobody. B sees the withdrawal (clear) but not the
 * grant, and read on as granted until 2031 (simulation seed 744): a
 * reader seals to a former reader every epoch made before its access
 * last ended, so B opens the grant and deletes V.
 */
static void ended_by_unseen_grant(void)
{
  kr_node *n[2], *a, *b;
  uint8_t v[16];
  int base = check_nclk;

  check_net(n, 2, "eug");
  a = n[0];
  b = n[1];
  add(a, v, "Gerda Verlopen", NULL, 1);
  check_syncall(n, 2);
  CHECK_EQ(reads(b, v, "Gerda Verlopen"), 1);
  grant_until(b, v, "placement", kr_node_id(b), "2031-12-31");
  check_clk[base] += 5000;                                 /* A's clock: 5 s ahead */
  withdraw(a, v, "matching", NULL);
  grant_until(a, v, "placement", kr_node_id(b), "2025-01-01");
  check_sync(a, b);
  check_sync(b, a);
  check_sync(a, b);
  CHECK_EQ(consent_state(a, v, "placement", kr_node_id(b)), KR_CONSENT_EXPIRED);
  CHECK_EQ(reads(b, v, ""), 0);
  CHECK_EQ(nkeys(b, v), 0);
  check_syncall(n, 2);
  CHECK(check_same_digest(a, b));
  check_closeall(n, 2);
}

/*
 * 28. A withdrawal whose writer read V by a grant its recipient cannot
 * open. X reads V through "matching" to all and through "placement" that W
 * granted it. A withdraws "matching" to all and grants W "contact" under a
 * new epoch (2, A), sealed to W (A has not seen W's grant to X). W, not
 * having seen A's changes, withdraws X's "placement" later: W read V then
 * (A's grant), so the withdrawal counts. X sees both withdrawals (clear),
 * but not the grant to W: it took W for no reader and read on (simulation
 * seed 702). The readers seal (2, A) to X, a reader when A made it: X
 * opens the grant to W, and deletes V.
 */
static void withdrawn_by_unseen_reader(void)
{
  kr_node *n[3], *a, *w, *x;
  uint8_t v[16];
  int base = check_nclk;

  check_net(n, 3, "wur");
  a = n[0];
  w = n[1];
  x = n[2];
  add(a, v, "Wim Onbekend", NULL, 1);
  check_syncall(n, 3);
  grant(w, v, "placement", kr_node_id(x));
  check_sync(w, x);
  check_clk[base] += 5000;                                 /* A: after W's grant */
  withdraw(a, v, "matching", NULL);
  grant(a, v, "contact", kr_node_id(w));             /* (2, A), to W */
  check_clk[base + 1] += 10000;                            /* W: after A's grant */
  withdraw(w, v, "placement", kr_node_id(x));
  check_sync(a, x);
  check_sync(w, x);
  CHECK_EQ(consent_state(x, v, "matching", NULL), KR_CONSENT_WITHDRAWN);
  CHECK_EQ(reads(x, v, "Wim Onbekend"), 1);          /* for now */
  sync_once(w, a);                                   /* W's grant and withdrawal at once */
  check_sync(a, w);
  CHECK_EQ(consent_state(a, v, "placement", kr_node_id(x)), KR_CONSENT_WITHDRAWN);
  check_sync(a, x);
  check_sync(w, x);
  CHECK_EQ(reads(x, v, ""), 0);
  CHECK_EQ(nkeys(x, v), 0);
  check_syncall(n, 3);
  CHECK_EQ(reads(x, v, ""), 0);
  CHECK(check_same_digest(a, x) && check_same_digest(a, w));
  CHECK(check_same_readable(a, w));
  check_closeall(n, 3);
}

/*
 * 29. Two keys of one epoch. M, a reader, signs two versions of one change
 * (seq 1), each making epoch (2, M) with a key of its own and a group
 * under it: K1 sealed to X, K2 to W. X, holding K1, seals it to A, B and W
 * (B holds "the key of (2, M)" by a reader's key op). A removes M before
 * it holds any of M's changes, and X takes its version back. W gets X's
 * key ops, then M's other version, and writes V's city under (2, M) with
 * K2 (sealing it to itself and A). Once M's changes are taken back
 * everywhere, no key op from M tells which key is the epoch's: X's key op
 * to B gave K1, and B cannot open W's write. A and W must seal K2 to B
 * all the same (simulation seed 878, where the equivocator was removed and
 * both keys had writers).
 */
static void two_keys_one_epoch(void)
{
  kr_node *n[5], *a, *b, *w, *x, *m;
  uint8_t v[16], key[2][32], sealed[2][KR_SEALED_KEY_LEN];
  kr_buf box[2], ch[2];
  uint64_t sm, sx;
  char buf[64];

  check_net(n, 5, "tke");
  a = n[0];
  b = n[1];
  w = n[2];
  x = n[3];
  m = n[4];
  add(a, v, "Tamara Tweesleutel", NULL, 1);          /* "matching" to all */
  check_syncall(n, 5);
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &sm) == 0);
  for (int i = 0; i < 2; i++) {
    kr_op ops[2], in;
    randombytes_buf(key[i], sizeof key[i]);
    kr_buf_init(&box[i], KR_CHANGE_MAX);
    kr_buf_init(&ch[i], KR_CHANGE_MAX);
    ops[0] = key_op(m, v, 2, kr_node_id(m), kr_node_id(i ? w : x), key[i], sealed[i]);
    in = set_inner(v, KR_F_NOTES, i ? "twee" : "een");
    ops[1] = group_op(m, v, 2, kr_node_id(m), key[i], &in, 1, 0, &box[i]);
    REQUIRE(check_change_build(kr_node_secret_key(m), sm + 1, kr_node_now_ms(m) << 16, check_nonce,
                               ops, 2, &ch[i]) == 0);
    CHECK(record_opens(i ? w : x, ch[i].data, ch[i].len));
  }
  CHECK_EQ(kr_node_apply(x, ch[0].data, ch[0].len, NULL), 0);
  CHECK_EQ(gave_keys(x, v, kr_node_id(b)), 1);       /* K1, to B (and A, W) */
  REQUIRE(kr_node_max_seq(x, kr_node_id(x), &sx) == 0);
  REQUIRE(kr_node_expel(a, kr_node_id(m), "test: removed") == 0);
  check_sync(a, x);                                  /* X takes M's change back */
  apply_seq(w, x, sx);                               /* X's key ops, not M's change */
  CHECK_EQ(kr_node_apply(w, ch[1].data, ch[1].len, NULL), 0);
  REQUIRE(set_city(w, v, "Wierden") == 0);           /* under (2, M), with K2 */
  check_syncall(n, 5);
  CHECK_EQ(reads(b, v, "Tamara Tweesleutel"), 1);
  CHECK(strcmp(city(a, v, buf, sizeof buf), "Wierden") == 0);
  CHECK(strcmp(city(b, v, buf, sizeof buf), "Wierden") == 0);
  CHECK(strcmp(city(x, v, buf, sizeof buf), "Wierden") == 0);
  CHECK(check_same_readable(a, b) && check_same_readable(a, x));
  CHECK(check_same_digest(a, b) && check_same_digest(a, w));
  for (int i = 0; i < 2; i++) {
    kr_buf_free(&box[i]);
    kr_buf_free(&ch[i]);
  }
  check_closeall(n, 5);
}

/*
 * 30. A withdrawal voided in the transaction that brings a new epoch. A
 * grants B "contact" and C "placement" (epoch (1, A), sealed to both). A
 * withdraws C's "placement" and writes V's city under a new epoch (2, A),
 * sealed to B only. C, not yet knowing, withdraws B's "contact" later: C
 * read V no longer, so that withdrawal has no effect. B takes C's
 * withdrawal first (C read V then, as far as B knew: it counts) and
 * deletes V and its keys; then A's two changes at once. (2, A) makes B
 * read V again before it opens its key op of (1, A) again: its grant, and
 * the grant to C that A's withdrawal ends, are groups of (1, A). B read
 * no consent naming it with (2, A) alone, opened (1, A) again, read its
 * grant in force and C's withdrawal void, and deleted V all the same
 * (simulation seed 1131).
 */
static void voided_in_new_epoch(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16];
  char buf[64];
  int base = check_nclk, lost = 0;

  check_net(n, 3, "vne");
  a = n[0];
  b = n[1];
  c = n[2];
  add(a, v, "Bram Wiebengazy", NULL, 0);
  grant(a, v, "contact", kr_node_id(b));
  grant(a, v, "placement", kr_node_id(c));
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Bram Wiebengazy"), 1);
  CHECK_EQ(reads(c, v, "Bram Wiebengazy"), 1);
  withdraw(a, v, "placement", kr_node_id(c));        /* t1 */
  REQUIRE(set_city(a, v, "Den Haag") == 0);          /* (2, A), sealed to B */
  check_clk[base + 2] += 5000;                             /* C's clock: 5 s ahead */
  withdraw(c, v, "contact", kr_node_id(b));          /* t2 > t1: C reads V no longer */
  sync_once(c, b);
  CHECK_EQ(reads(b, v, ""), 0);                      /* for now */
  CHECK_EQ(nkeys(b, v), 0);
  sync_once(a, b);                                   /* A's withdrawal and write at once */
  CHECK_EQ(reads(b, v, "Bram Wiebengazy"), 1);
  CHECK(strcmp(city(b, v, buf, sizeof buf), "Den Haag") == 0);
  CHECK_EQ(consent_state(b, v, "contact", kr_node_id(b)), KR_CONSENT_GRANTED);
  CHECK_EQ(consent_state(b, v, "placement", kr_node_id(c)), KR_CONSENT_WITHDRAWN);
  kr_node_access_lost(b, lost_one, &lost);
  CHECK_EQ(lost, 1);                                 /* C's withdrawal, noted once */
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Bram Wiebengazy"), 1);
  CHECK_EQ(reads(c, v, ""), 0);
  CHECK_EQ(consent_state(a, v, "contact", kr_node_id(b)), KR_CONSENT_GRANTED);
  CHECK(check_same_readable(a, b));
  CHECK(check_same_digest(a, b) && check_same_digest(a, c));
  check_closeall(n, 3);
}

/* One local change makes 400 volunteers, each with consent for B and for
 * C: their key ops do not all fit in it (a change carries at most 1,500 of
 * its own ops' worth of them), and the readers of the last ones get their
 * keys from the end of the transaction, in a change of their own. The
 * first ones, whose keys the change carried, get none twice (kr__finish
 * skips a volunteer the change sealed every key of, not one it cut). */
static void keys_past_one_change(void)
{
  kr_node *nd[3];
  uint8_t v[400][16];
  kr_txn *t;
  char name[32];
  int all_b = 1, all_c = 1;

  check_net(nd, 3, "kpc");
  REQUIRE(kr_txn_begin(nd[0], &t) == 0);
  for (int i = 0; i < 400; i++) {
    kr_txn_new_subject(t, v[i]);
    snprintf(name, sizeof name, "Vrijwilliger %d", i);
    REQUIRE(kr_txn_set(t, v[i], KR_F_NAME, name, NULL) == 0);
    REQUIRE(kr_txn_grant(t, v[i], "matching", kr_node_id(nd[1]), KR_METHOD_PAPER, "v1", "",
                         NULL) == 0);
    REQUIRE(kr_txn_grant(t, v[i], "matching", kr_node_id(nd[2]), KR_METHOD_PAPER, "v1", "",
                         NULL) == 0);
  }
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(nd, 3);
  for (int i = 0; i < 400; i++) {
    snprintf(name, sizeof name, "Vrijwilliger %d", i);
    all_b &= reads(nd[1], v[i], name) == 1;
    all_c &= reads(nd[2], v[i], name) == 1;
  }
  CHECK(all_b);
  CHECK(all_c);
  CHECK_EQ(gave_keys(nd[0], v[0], kr_node_id(nd[1])), 1);
  CHECK_EQ(gave_keys(nd[0], v[399], kr_node_id(nd[2])), 1);
  check_closeall(nd, 3);
}

/*
 * 31. Two consent entries of V with one tag, in two registers, the tag
 * having observed four withdrawals (two in each register). No change
 * makes such a store today (a tag is BLAKE2b of origin, seq and place, and
 * a second change under one (origin, seq) is refused or removes its
 * origin): the rows are written straight into A's file. kr_node_consent
 * and kr_node_readers resolve both grants in force: C reads V, and A seals
 * C its key when it next touches V's consent. The end of a transaction
 * (its view of V) added each observed tag once per entry, so the two
 * entries' runs interleaved: each read some tags of the other's and
 * missed its own last ones, C's grant was withdrawn there and C got no
 * key.
 */
static int names_node(void *ctx, const kr_reader *r)
{
  find_reader *f = ctx;
  if (memcmp(r->node, f->node, 32) == 0) f->registrar = 1;   /* (here: named at all) */
  return 0;
}

static void shared_tag(void)
{
  kr_node *n[4], *a, *c, *d;
  uint8_t v[16], tag[16], w[4][16];
  sqlite3 *db;
  sqlite3_stmt *s;
  char path[4096];
  find_reader fc;
  static const char *const ins =
      "INSERT INTO consent_ops(subj,purpose,recipient,tag,is_grant,method,text_version,until,hlc,"
      "origin,idx,seq) SELECT s.n, ?2, r.n, ?4, ?5, 0, 'v1', '', ?6, o.n, ?7, 1 FROM subjects s,"
      " origins o, nodes r WHERE s.id=?1 AND o.key=?8 AND r.id=?3";

  check_net(n, 4, "stg");
  a = n[0];
  c = n[2];
  d = n[3];
  add(a, v, "Tweemaal Dezelfde", NULL, 0);           /* A alone reads V */
  check_syncall(n, 4);
  memset(tag, 0x70, sizeof tag);
  for (int i = 0; i < 4; i++) memset(w[i], 0x10 * (i + 1), sizeof w[i]);
  snprintf(path, sizeof path, "%s/kring.db", kr_node_home(a));
  REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  /* consent_ops names its recipients by their numbers in nodes */
  REQUIRE(sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO nodes(id) VALUES(?1)", -1, &s, NULL) ==
          SQLITE_OK);
  for (int i = 0; i < 2; i++) {
    sqlite3_reset(s);
    sqlite3_bind_blob(s, 1, kr_node_id(i ? d : c), 32, SQLITE_STATIC);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
  }
  sqlite3_finalize(s);
  REQUIRE(sqlite3_prepare_v2(db, ins, -1, &s, NULL) == SQLITE_OK);
  /* (matching, C): grant `tag`, withdrawals w2, w3; (contact, D): grant
   * `tag`, withdrawals w0, w1; the grant tag observed all four */
  for (int e = 0; e < 6; e++) {
    int reg = e < 3 ? 0 : 1, grant = e % 3 == 0;
    sqlite3_reset(s);
    sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, reg ? "contact" : "matching", -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, kr_node_id(reg ? d : c), 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, grant ? tag : w[(reg ? 0 : 2) + e % 3 - 1], 16, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, grant);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)((kr_node_now_ms(a) - 60000 + (grant ? 1000 : e)) << 16));
    sqlite3_bind_int(s, 7, 100 + e);
    sqlite3_bind_blob(s, 8, kr_node_id(a), 32, SQLITE_STATIC);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
  }
  sqlite3_finalize(s);
  REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO consent_observed(subj,grant_tag,withdraw_tag) SELECT"
                                 " n, ?2, ?3 FROM subjects WHERE id=?1", -1, &s, NULL) == SQLITE_OK);
  for (int i = 0; i < 4; i++) {
    sqlite3_reset(s);
    sqlite3_bind_blob(s, 1, v, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, tag, 16, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, w[i], 16, SQLITE_STATIC);
    REQUIRE(sqlite3_step(s) == SQLITE_DONE);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);

  CHECK_EQ(consent_state(a, v, "matching", kr_node_id(c)), KR_CONSENT_GRANTED);
  CHECK_EQ(consent_state(a, v, "contact", kr_node_id(d)), KR_CONSENT_GRANTED);
  fc = (find_reader){kr_node_id(c), 0};
  CHECK_EQ(kr_node_readers(a, v, names_node, &fc), 0);
  CHECK(fc.registrar);                               /* C is named a reader */
  grant(a, v, "newsletter", kr_node_id(n[1]));       /* A touches V's consent */
  CHECK_EQ(gave_keys(a, v, kr_node_id(n[1])), 1);
  CHECK_EQ(gave_keys(a, v, kr_node_id(d)), 1);
  CHECK_EQ(gave_keys(a, v, kr_node_id(c)), 1);       /* and seals C its key too */
  check_closeall(n, 4);
}

/*
 * 32. A new volunteer's key op after its group in the change that makes it
 * (a subject made for the change being applied skips the look for groups
 * stored before its key op only when none came earlier in the change).
 * Since format 4 all a change says of one volunteer and epoch is one
 * record, its key entries before its box, and a change that registers v
 * carries no other record on v: "the key after the group" can no longer
 * be said within the change that makes v (such a change is refused, as
 * is one with two records of one epoch). What can still vary: whether the
 * key comes in the registering record or in a later change, ahead of
 * later groups or after them, the place of v's record in its change
 * (other registering records and key-only records of another epoch of v
 * before or after it), and the order the changes arrive in. B reads both
 * groups whatever the order.
 *
 * M's changes, ord split at '|' (the first registers v, a volunteer made
 * by M), each by the letters: 'g' v's next group under (1, M) (SET name +
 * GRANT B for the first, SET city for the second), 'k' the key of (1, M)
 * sealed to B, 'u' a bare registering record of another new volunteer of
 * M (first change only), 'x' a key-only record of v under (2, M) sealed to
 * B (a key that opens nothing). Consecutive 'k' and 'g' make one record,
 * one apart another. rev: B gets them last first. want: what B's apply of
 * the last change gives (0, or KR_EMALFORMED for a change the decoder
 * refuses; then in the order built only).
 */
static void fresh_order(const char *ord, int rev, int want, const char *tag)
{
  kr_node *n[3], *b, *m;
  uint8_t v[16], u[16], key[32], junk[32], sealed[8][KR_SEALED_KEY_LEN];
  kr_op ops[8];
  kr_buf box[2], w[3];
  uint64_t seq;
  int ng = 0, nch = 0, ns = 0, fresh;
  uint32_t rv = 0;
  char buf[64], pre[16];
  const char *p;

  snprintf(pre, sizeof pre, "fo%s", tag);
  check_net(n, 3, pre);
  b = n[1];
  m = n[2];
  randombytes_buf(key, sizeof key);
  randombytes_buf(junk, sizeof junk);
  /* v: the registering records before it in the first change */
  for (p = ord; *p && *p != '|' && *p != 'k' && *p != 'g'; p++) rv += *p == 'u';
  kr_subject_derive(kr_node_id(m), check_nonce, rv, v);
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  for (p = ord; *p; nch++) {
    uint32_t k = 0, place = 0, nreg = 0;
    int vrec = -1, tob = 0;            /* v's (1, M) record: its place */
    REQUIRE(nch < 3);
    /* the change names B (its node table) when it seals a key to B */
    for (const char *q = p; *q && *q != '|'; q++) tob |= *q == 'k' || *q == 'x';
    memset(ops, 0, sizeof ops);
    for (; *p && *p != '|'; p++) {
      /* a key of v's (1, M) record runs on into its next part; a box, or
       * any other op, ends the record */
      int cont = k > 0 && ops[k - 1].type == KR_OP_KEY && ops[k - 1].epoch == 1;
      REQUIRE(k + 2 <= sizeof ops / sizeof ops[0] && ns < 8);
      if (*p == 'u') {
        REQUIRE(nch == 0);
        ops[k].type = KR_OP_REGISTER;
        kr_subject_derive(kr_node_id(m), check_nonce, nreg++, u);
        memcpy(ops[k++].subject, u, 16);
        place++;
        continue;
      }
      if (*p == 'x') {
        ops[k] = key_op_at(m, v, 2, kr_node_id(m), kr_node_id(b), junk, sealed[ns++], place++);
        k++;
        continue;
      }
      if (!cont) {                     /* v's record of (1, M) starts here */
        if (nch == 0 && vrec < 0) {    /* the first registers v */
          ops[k].type = KR_OP_REGISTER;
          nreg++;
          memcpy(ops[k++].subject, v, 16);
        }
        vrec = (int)place++;
      }
      if (*p == 'k') {
        ops[k] = key_op_at(m, v, 1, kr_node_id(m), kr_node_id(b), key, sealed[ns++],
                           (uint32_t)vrec);
        k++;
      } else {
        kr_op x[2];
        uint32_t nx = 0;
        REQUIRE(ng < 2);
        if (ng == 0) {
          x[nx++] = set_inner(v, KR_F_NAME, "Fien Volgorde");
          x[nx++] = grant_inner(v, "matching", kr_node_id(b));
        } else {
          x[nx++] = set_inner(v, KR_F_CITY, "Assen");
        }
        kr_buf_init(&box[ng], KR_CHANGE_MAX);
        ops[k++] = group_op_t(m, seq + 1 + (uint64_t)nch, v, 1, kr_node_id(m), key, x, nx,
                              (uint32_t)vrec, &box[ng], tob ? kr_node_id(b) : NULL);
        ng++;
      }
    }
    if (*p == '|') p++;
    kr_buf_init(&w[nch], KR_CHANGE_MAX);
    REQUIRE(check_change_build(kr_node_secret_key(m), seq + 1 + (uint64_t)nch,
                               kr_node_now_ms(m) << 16, check_nonce, ops, k, &w[nch]) == 0);
  }
  for (int i = 0; i < nch; i++) {
    int c = rev ? nch - 1 - i : i;
    CHECK_EQ(kr_node_apply(b, w[c].data, w[c].len, &fresh), c == nch - 1 ? want : 0);
  }
  if (want) {
    kr_volunteer vol;
    int rc = kr_node_volunteer(b, v, &vol);
    CHECK(rc != 0);                               /* B reads nothing of v */
    if (!rc) kr_volunteer_free(&vol);
  } else {
    CHECK_EQ(reads(b, v, "Fien Volgorde"), 1);
    CHECK(strcmp(city(b, v, buf, sizeof buf), ng > 1 ? "Assen" : "") == 0);
  }
  for (int i = 0; i < nch; i++) kr_buf_free(&w[i]);
  for (int i = 0; i < ng; i++) kr_buf_free(&box[i]);
  check_closeall(n, 3);
}

static void fresh_key_orders(void)
{
  fresh_order("kg", 0, 0, "a");          /* key and group in the registering record */
  fresh_order("g|k", 0, 0, "b");         /* the key after the group: in the next change */
  fresh_order("g|k", 1, 0, "c");         /*   arriving first */
  fresh_order("g|kg", 0, 0, "d");        /* between the two groups */
  fresh_order("g|g|k", 1, 0, "e");       /* after both, arriving first */
  fresh_order("kg|g", 0, 0, "f");        /* before both */
  fresh_order("kg|g", 1, 0, "g");
  fresh_order("ukg", 0, 0, "h");         /* v's record at place 1, registered as r = 1 */
  fresh_order("kgu|xg", 0, 0, "i");      /* a key-only record of (2, M) before v's box */
  fresh_order("g|kgx", 1, 0, "j");       /*   after it */
  /* no longer said: the key after the group in the change that makes v
   * (a record on v besides its registering record), two records of one
   * epoch in one change */
  fresh_order("gk", 0, KR_EMALFORMED, "k");
  fresh_order("kgx", 0, KR_EMALFORMED, "l");
  fresh_order("g|kxg", 0, KR_EMALFORMED, "m");
}

/*
 * 33. One local change makes three volunteers, their ops interleaved (so
 * V1 and V2 are sealed in two groups each, the second of each as a
 * volunteer known already), with grants to one node, to all, a withdrawal
 * in the middle and a grant after it. The end of the transaction issues
 * no keys for a volunteer the change sealed every key of: every reader
 * reads each all the same, and A gives each reader one key op, not two.
 */
static void new_volunteers_interleaved(void)
{
  kr_node *n[4], *a, *b, *c, *d;
  uint8_t v1[16], v2[16], v3[16];
  kr_txn *t;

  check_net(n, 4, "nvi");
  a = n[0];
  b = n[1];
  c = n[2];
  d = n[3];
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v1);
  REQUIRE(kr_txn_set(t, v1, KR_F_NAME, "Een Eerste", NULL) == 0);
  kr_txn_new_subject(t, v2);
  REQUIRE(kr_txn_set(t, v2, KR_F_NAME, "Twee Tweede", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v2, "matching", kr_node_id(c), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v1, "matching", kr_node_id(b), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_withdraw(t, v1, "matching", kr_node_id(b), KR_METHOD_PAPER, "", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v1, "contact", kr_node_id(d), KR_METHOD_PAPER, "v1", "", NULL) == 0);
  kr_txn_new_subject(t, v3);
  REQUIRE(kr_txn_set(t, v3, KR_F_NAME, "Drie Derde", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v3, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_set(t, v2, KR_F_CITY, "Emmen", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 4);
  CHECK_EQ(reads(b, v1, ""), 0);
  CHECK_EQ(reads(d, v1, "Een Eerste"), 1);
  CHECK_EQ(reads(c, v2, "Twee Tweede"), 1);
  CHECK_EQ(reads(b, v2, ""), 0);
  CHECK_EQ(reads(b, v3, "Drie Derde"), 1);
  CHECK_EQ(reads(c, v3, "Drie Derde"), 1);
  CHECK_EQ(reads(d, v3, "Drie Derde"), 1);
  CHECK_EQ(gave_keys(a, v1, kr_node_id(d)), 1);
  CHECK_EQ(gave_keys(a, v2, kr_node_id(c)), 1);
  CHECK_EQ(gave_keys(a, v3, kr_node_id(b)), 1);
  CHECK_EQ(gave_keys(a, v3, kr_node_id(d)), 1);
  CHECK(check_same_digest(a, b) && check_same_digest(a, c) && check_same_digest(a, d));
  check_closeall(n, 4);
}

/*
 * 34. A new volunteer with a grant that ends today (its recipient reads it
 * today) and one that ended yesterday (none): the change seals keys to the
 * readers of today only, and the end of the transaction adds none.
 */
static void new_volunteer_dates(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16];
  kr_txn *t;
  char today[11], yesterday[11];
  time_t secs;
  struct tm tm;

  check_net(n, 3, "nvd");
  a = n[0];
  b = n[1];
  c = n[2];
  kr_node_today(a, today);
  secs = (time_t)(kr_node_now_ms(a) / 1000) - 86400;
  localtime_r(&secs, &tm);
  strftime(yesterday, sizeof yesterday, "%Y-%m-%d", &tm);
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Dag Datum", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", kr_node_id(b), KR_METHOD_PAPER, "v1", today, NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "contact", kr_node_id(c), KR_METHOD_PAPER, "v1", yesterday, NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 3);
  CHECK_EQ(reads(b, v, "Dag Datum"), 1);
  CHECK_EQ(reads(c, v, ""), 0);
  CHECK_EQ(gave_keys(a, v, kr_node_id(c)), 0);
  check_closeall(n, 3);
}

/*
 * Relabelled redaction. In the first cut of format 4 a redaction
 * [0, subject, hash] bound only its hash (the root): its subject was not
 * signed. A relay could withhold any op of another origin's change (an
 * erasure, a purpose, a membership op) by labelling it with a volunteer
 * the receiver had erased; the receiver stored the change as known and
 * never took the full op. Now every op's leaf binds its type and subject
 * and only ops of types 5, 14, 15 may be withheld: a relabelled
 * redaction (claimed as a record on W) breaks the root and is refused.
 * C has erased W; B erases V; C gets B's change with the erasure of V
 * withheld under W's id, then the full change: C must end with V erased
 * like B, and with B's purpose.
 */
static uint64_t nerased(kr_node *n)
{
  uint64_t v, e, c;
  REQUIRE(kr_node_counts(n, &v, &e, &c) == 0);
  return e;
}

/* B's latest change with every op i that want(i) withheld under label. */
static void relabel(kr_node *b, const uint8_t label[16], int (*want)(const kr_op *), kr_buf *full,
                    kr_buf *red)
{
  uint64_t seq;
  kr_change d;
  uint8_t (*subj)[KR_SUBJECT_LEN];
  const uint8_t **bytes;

  REQUIRE(kr_node_max_seq(b, kr_node_id(b), &seq) == 0);
  kr_buf_init(full, KR_CHANGE_MAX);
  kr_buf_init(red, KR_CHANGE_MAX);
  REQUIRE(kr_node_change_bytes(b, kr_node_id(b), seq, full) == 0);
  REQUIRE(kr_change_decode(full->data, full->len, KR_CHANGE_MAX, &d) == 0);
  REQUIRE((subj = calloc(d.nops, sizeof *subj)) && (bytes = calloc(d.nops, sizeof *bytes)));
  for (uint32_t i = 0; i < d.nops; i++) {
    memcpy(subj[i], label, KR_SUBJECT_LEN);
    bytes[i] = want(&d.ops[i]) ? NULL : d.op_bytes[i];
  }
  {
    /* by hand: kr_change_assemble withholds only what may be withheld */
    msgpack_packer pk;
    msgpack_packer_init(&pk, red, kr_buf_mp_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_bin(&pk, d.header_len);
    msgpack_pack_bin_body(&pk, d.header, d.header_len);
    msgpack_pack_bin(&pk, KR_SIG_LEN);
    msgpack_pack_bin_body(&pk, d.sig, KR_SIG_LEN);
    msgpack_pack_array(&pk, d.nops);
    for (uint32_t i = 0; i < d.nops; i++) {
      if (bytes[i]) {
        msgpack_pack_bin(&pk, d.op_len[i]);
        msgpack_pack_bin_body(&pk, bytes[i], d.op_len[i]);
        continue;
      }
      msgpack_pack_array(&pk, 4);
      msgpack_pack_uint8(&pk, KR_OP_REDACTED);
      msgpack_pack_uint8(&pk, KR_OP_RECORD);        /* claimed: a record on W */
      msgpack_pack_bin(&pk, KR_SUBJECT_LEN);
      msgpack_pack_bin_body(&pk, subj[i], KR_SUBJECT_LEN);
      msgpack_pack_bin(&pk, KR_HASH_LEN);
      msgpack_pack_bin_body(&pk, d.hashes[i], KR_HASH_LEN);
    }
  }
  free(subj);
  free(bytes);
  kr_change_free(&d);
}

static int is_erase(const kr_op *op) { return op->type == KR_OP_ERASE; }
static int is_purpose(const kr_op *op) { return op->type == KR_OP_PURPOSE; }

static void relabelled_redaction(void)
{
  kr_node *n[3], *a, *b, *c;
  uint8_t v[16], w[16];
  kr_buf full, red;
  kr_purpose p;
  kr_txn *t;
  int fresh, rc;

  check_net(n, 3, "rlb");
  a = n[0];
  b = n[1];
  c = n[2];
  add(a, v, "Vera Blijft", NULL, 1);
  add(a, w, "Wim Weg", NULL, 1);
  REQUIRE(kr_txn_begin(a, &t) == 0);
  REQUIRE(kr_txn_erase(t, w, "verzoek", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_syncall(n, 3);
  CHECK_EQ(nerased(c), 1);

  /* an erasure withheld as an op on W */
  REQUIRE(kr_txn_begin(b, &t) == 0);
  REQUIRE(kr_txn_erase(t, v, "verzoek", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  CHECK_EQ(nerased(b), 2);
  relabel(b, w, is_erase, &full, &red);
  rc = kr_node_apply(c, red.data, red.len, &fresh);
  CHECK_EQ(rc, KR_EBADHASH);         /* the leaf binds type and subject */
  kr_node_apply(c, full.data, full.len, &fresh);
  check_syncall(n, 3);
  CHECK_EQ(nerased(c), 2);           /* main: 1, V is never erased on C */
  kr_buf_free(&full);
  kr_buf_free(&red);

  /* a purpose withheld as an op on W */
  REQUIRE(kr_node_purpose_set(b, "vog", "voor de VOG", "", NULL) == 0);
  relabel(b, w, is_purpose, &full, &red);
  CHECK_EQ(kr_node_apply(c, red.data, red.len, &fresh), KR_EBADHASH);
  kr_node_apply(c, full.data, full.len, &fresh);
  check_syncall(n, 3);
  rc = kr_node_purpose_get(c, "vog", &p);
  CHECK_EQ(rc, 0);                   /* main: KR_ENOTFOUND, for good */
  if (!rc) kr_purpose_free(&p);
  kr_buf_free(&full);
  kr_buf_free(&red);
  check_closeall(n, 3);
}

/*
 * Renamed member. An admission's proof (by the invite key over the node
 * id) is public: it is in the admit op. Any member can copy it into an
 * admission of its own of the same node, with another name and kind,
 * stamped early; the earliest admission gives the name and kind
 * (docs/crdt.md, "Membership"), so M renamed B on every node: the join
 * request's node_sig, which binds the name, does not travel. Now the
 * proof ("kring-admit-v2") binds the name and kind too: M's copy is
 * refused whole.
 */
static void renamed_member(void)
{
  kr_node *n[3], *a, *b, *m;
  kr_op op;
  int found = 0;
  uint64_t max;
  char org[64];

  check_net(n, 3, "rnm");
  a = n[0];
  b = n[1];
  m = n[2];
  check_syncall(n, 3);
  REQUIRE(kr_node_member_org(a, kr_node_id(b), org, sizeof org) == 1);
  CHECK(strcmp(org, "Org rnm1") == 0);
  REQUIRE(kr_node_max_seq(a, kr_node_id(a), &max) == 0);
  for (uint64_t s = 1; s <= max && !found; s++) {
    kr_buf buf;
    kr_change d;
    kr_buf_init(&buf, KR_CHANGE_MAX);
    REQUIRE(kr_node_change_bytes(a, kr_node_id(a), s, &buf) == 0);
    REQUIRE(kr_change_decode(buf.data, buf.len, KR_CHANGE_MAX, &d) == 0);
    for (uint32_t i = 0; i < d.nops && !found; i++)
      if (d.ops[i].type == KR_OP_ADMIT && memcmp(d.ops[i].member, kr_node_id(b), 32) == 0) {
        op = d.ops[i];
        op.org = "Nep";
        op.kind = "other";
        found = 1;
      }
    kr_change_free(&d);
    kr_buf_free(&buf);
  }
  REQUIRE(found);
  {
    /* the proof binds the name and kind B asked for: refused whole */
    kr_buf w;
    uint64_t seq;
    REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
    kr_buf_init(&w, KR_CHANGE_MAX);
    REQUIRE(kr_change_build(kr_node_secret_key(m), seq + 1, (kr_hlc)1 << 16, check_nonce, &op, 1,
                            &w) == 0);
    CHECK_EQ(kr_node_apply(a, w.data, w.len, NULL), KR_EBADSIG);
    CHECK_EQ(kr_node_apply(m, w.data, w.len, NULL), KR_EBADSIG);
    kr_buf_free(&w);
  }
  check_syncall(n, 3);
  REQUIRE(kr_node_member_org(a, kr_node_id(b), org, sizeof org) == 1);
  CHECK(strcmp(org, "Org rnm1") == 0);   /* main: "Nep" */
  check_closeall(n, 3);
}

/*
 * Held forever. A change's hlc is a uint64 (protocol.md, "Header") and the
 * store keeps it in a signed SQLite integer: from 2^63 on it reads as
 * negative. M's changes stamped 2^63 are held (stamped ahead), yet every
 * release picks them first as due (hlc <= now), holds them again, and
 * stops at 64: an honest change held because its origin's clock ran 20
 * minutes ahead is never released once the receiver's clock gets there
 * (and comes again only as "held already"). Now the decoder refuses an
 * hlc from 2^63 (protocol.md, "Header"): nothing of M's is held.
 */
static void held_forever(void)
{
  kr_node *n[3], *r, *m, *h;
  int base = check_nclk, hi;
  kr_purpose p;
  int rc;

  check_net(n, 3, "hfv");
  r = n[0];
  hi = memcmp(kr_node_id(n[1]), kr_node_id(n[2]), 32) < 0 ? 2 : 1;
  h = n[hi];                                /* honest: the higher id */
  m = n[3 - hi];                            /* M's changes come first by origin */
  check_syncall(n, 3);
  for (int i = 0; i < 64; i++) {
    kr_op op;
    char name[8];
    snprintf(name, sizeof name, "p%d", i);
    memset(&op, 0, sizeof op);
    op.type = KR_OP_PURPOSE;
    crypto_generichash(op.subject, KR_SUBJECT_LEN, (const uint8_t *)name, strlen(name), NULL, 0);
    op.purpose = name;
    op.value = "een doel";
    op.text_version = "";
    {
      /* stamped from 2^63 (a negative number in the store): refused */
      kr_buf b;
      uint64_t seq;
      REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
      kr_buf_init(&b, KR_CHANGE_MAX);
      REQUIRE(kr_change_build(kr_node_secret_key(m), seq + 1 + (uint64_t)i, (kr_hlc)1 << 63,
                              check_nonce, &op, 1, &b) == 0);
      CHECK_EQ(kr_node_apply(r, b.data, b.len, NULL), KR_EMALFORMED);
      kr_buf_free(&b);
    }
  }
  check_clk[base + hi] += 20 * 60 * 1000;         /* H's clock runs 20 min ahead */
  REQUIRE(kr_node_purpose_set(h, "eerlijk", "een doel", "", NULL) == 0);
  check_sync(m, r);
  check_sync(h, r);
  CHECK(kr_node_purpose_get(r, "eerlijk", &p) == KR_ENOTFOUND);   /* held */
  check_clk[base + 0] += 30 * 60 * 1000;          /* R's clock gets there */
  CHECK_EQ(kr_node_release_held(r), 0);
  check_sync(h, r);
  rc = kr_node_purpose_get(r, "eerlijk", &p);
  CHECK_EQ(rc, 0);                          /* main: KR_ENOTFOUND, for good */
  if (!rc) kr_purpose_free(&p);
  check_closeall(n, 3);
}

/*
 * Seq past 2^63. A change's seq is a uint64 (protocol.md, "Header") and
 * the store keeps it in a signed SQLite integer, as it keeps the hlc: from
 * 2^63 on it reads as negative. M hands A (by a bundle: no gap rule there)
 * a change of seq 2^63 that adds a purpose. A stores it, but never sends it
 * on: "seq > what the peer holds" is false for a negative number, so B
 * never gets it and the two differ for good. And when M is removed, A's
 * retraction ("seq > cutoff") keeps it, while a node that knew the removal
 * first refuses it (2^63 > cutoff in C). Now the decoder refuses a seq
 * from 2^63, like an hlc (protocol.md, "Header").
 */
static void seq_past_int64(void)
{
  kr_node *n[3], *a, *b, *m;
  kr_op op;
  kr_purpose p;
  kr_buf w;
  int rca, rcb;

  check_net(n, 3, "s63");
  a = n[0];
  b = n[1];
  m = n[2];
  check_syncall(n, 3);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_PURPOSE;
  crypto_generichash(op.subject, KR_SUBJECT_LEN, (const uint8_t *)"stiekem", 7, NULL, 0);
  op.purpose = "stiekem";
  op.value = "een doel";
  op.text_version = "";
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_change_build(kr_node_secret_key(m), (uint64_t)1 << 63, kr_node_now_ms(m) << 16,
                          check_nonce, &op, 1, &w) == 0);
  CHECK_EQ(kr_node_apply(a, w.data, w.len, NULL), KR_EMALFORMED);   /* main: 0 */
  kr_buf_free(&w);
  check_syncall(n, 3);
  rca = kr_node_purpose_get(a, "stiekem", &p);
  if (!rca) kr_purpose_free(&p);
  rcb = kr_node_purpose_get(b, "stiekem", &p);
  if (!rcb) kr_purpose_free(&p);
  CHECK_EQ(rca, rcb);                       /* main: A has it, B never gets it */
  CHECK_EQ(rca, KR_ENOTFOUND);
  /* removed: A takes back what M made past its cutoff, B refuses it */
  REQUIRE(kr_node_expel(a, kr_node_id(m), "weg") == 0);
  check_syncall(n, 3);
  rca = kr_node_purpose_get(a, "stiekem", &p);
  if (!rca) kr_purpose_free(&p);
  CHECK_EQ(rca, KR_ENOTFOUND);              /* main: still there */
  check_closeall(n, 3);
}

/*
 * Padded table. A change may name up to 4096 nodes in its header's table
 * (protocol.md, "Node numbers"), and a decoder keeps entries no field
 * uses. Every op read back from the store is parsed with its change's
 * table, and kr__op_parse_at (rebuild, fold, recover, epoch_made) reads
 * and copies the whole table again for each op: M's change of 10,000
 * withdrawals with a table of 4096 ids makes every rebuild (any removal
 * that takes a change back) and every fold of that volunteer do 10,000
 * parses of a 139 KB header. Measured: rebuild 0.019 s with a table of
 * one id, 0.30 s with 4096 (16 times, for a 488 KB change). Open: each
 * change's table could be read once per change in those loops (their rows
 * come ordered by change), not once per op.
 */
static uint64_t padded_reads;      /* headers the rebuild read */
static double padded_rebuild(uint32_t k, const char *prefix)
{
  kr_node *n[3], *a, *b, *m;
  uint32_t nops = 10000;
  kr_op *ops = calloc(nops, sizeof *ops), e;
  uint8_t v[16], netid[16], founder[32];
  uint64_t seq;
  kr_buf w;
  struct timespec t0, t1;

  REQUIRE(ops);
  check_net(n, 3, prefix);
  a = n[0];
  b = n[1];
  m = n[2];
  check_syncall(n, 3);
  REQUIRE(kr_node_purpose_set(b, "eerlijk", "een doel", "", NULL) == 0);
  check_sync(b, a);
  randombytes_buf(v, sizeof v);
  for (uint32_t i = 0; i < nops; i++) {
    ops[i].type = KR_OP_WITHDRAW;
    memcpy(ops[i].subject, v, 16);
    ops[i].purpose = "contact";
    ops[i].text_version = "";
    memset(ops[i].recipient, 0x55, 32);
    ops[i].recipient[0] = (uint8_t)(i % k >> 8);
    ops[i].recipient[1] = (uint8_t)(i % k);
  }
  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_change_build(kr_node_secret_key(m), seq + 1, kr_node_now_ms(m) << 16, check_nonce,
                          ops, nops, &w) == 0);
  REQUIRE(kr_node_apply(a, w.data, w.len, NULL) == 0);
  /* M removes B from its first change on: A takes it back and rebuilds */
  kr_node_network(a, netid, founder);
  memset(&e, 0, sizeof e);
  e.type = KR_OP_EXPEL;
  memcpy(e.subject, netid, 16);
  memcpy(e.member, kr_node_id(b), 32);
  e.value = "weg";
  kr_buf_reset(&w);
  REQUIRE(kr_change_build(kr_node_secret_key(m), seq + 2, (kr_node_now_ms(m) << 16) + 9,
                          check_nonce, &e, 1, &w) == 0);
  padded_reads = a->header_reads;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  REQUIRE(kr_node_apply(a, w.data, w.len, NULL) == 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  padded_reads = a->header_reads - padded_reads;
  CHECK(kr_node_purpose_get(a, "eerlijk", &(kr_purpose){0}) == KR_ENOTFOUND);   /* taken back */
  kr_buf_free(&w);
  free(ops);
  check_closeall(n, 3);
  return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void padded_table(void)
{
  double one = padded_rebuild(1, "pt1"), full = padded_rebuild(4096, "pt4");
  uint64_t reads = padded_reads;
  printf("  padded_table: rebuild %.3f s (table of 1), %.3f s (4096), %llu headers read\n", one,
         full, (unsigned long long)reads);
  /* a header is read once per change the rebuild meets, not once per op
   * (it was 10,000 reads of a 139 KB header: 16 times slower) */
  CHECK(reads < 100);
}

int main(int argc, char **argv)
{
  /* open: problems found and not fixed (docs/crdt.md does not promise
   * otherwise yet); built as test_consent_open, which ctest lists as
   * disabled until they are */
  static const struct { const char *name; void (*fn)(void); int open; } all[] = {
    {"backdated_register", backdated_register, 0},
    {"forged_consent", forged_consent, 0},
    {"non_reader_writes", non_reader_writes, 0},
    {"garbage_blocks_keys", garbage_blocks_keys, 0},
    {"second_key_hides_history", second_key_hides_history, 0},
    {"planted_epoch", planted_epoch, 0},
    {"garbage_keeps_reader", garbage_keeps_reader, 0},
    {"concurrent_new_epoch", concurrent_new_epoch, 0},
    {"retracted_grant", retracted_grant, 0},
    {"epoch_overflow", epoch_overflow, 0},
    {"odd_orders", odd_orders, 0},
    {"erasure_keys", erasure_keys, 0},
    {"expired_when_granted", expired_when_granted, 0},
    {"night_expiry", night_expiry, 0},
    {"grant_before_admission", grant_before_admission, 0},
    {"forged_withdrawal", forged_withdrawal, 0},
    {"key_without_consent", key_without_consent, 0},
    {"regrant_recovers", regrant_recovers, 0},
    {"late_withdrawal", late_withdrawal, 0},
    {"own_withdrawal_voided", own_withdrawal_voided, 0},
    {"late_withdrawal_order", late_withdrawal_order, 0},
    {"own_withdrawal_recovered", own_withdrawal_recovered, 0},
    {"kept_epoch", kept_epoch, 0},
    {"self_sealed_key", self_sealed_key, 0},
    {"jumped_epoch", jumped_epoch, 0},
    {"expired_by_own_grant", expired_by_own_grant, 0},
    {"unseen_grant_sealed", unseen_grant_sealed, 0},
    {"ended_by_unseen_grant", ended_by_unseen_grant, 0},
    {"withdrawn_by_unseen_reader", withdrawn_by_unseen_reader, 0},
    {"two_keys_one_epoch", two_keys_one_epoch, 0},
    {"voided_in_new_epoch", voided_in_new_epoch, 0},
    {"keys_past_one_change", keys_past_one_change, 0},
    {"shared_tag", shared_tag, 0},
    {"fresh_key_orders", fresh_key_orders, 0},
    {"new_volunteers_interleaved", new_volunteers_interleaved, 0},
    {"new_volunteer_dates", new_volunteer_dates, 0},
    {"relabelled_redaction", relabelled_redaction, 0},
    {"renamed_member", renamed_member, 0},
    {"held_forever", held_forever, 0},
    {"seq_past_int64", seq_past_int64, 0},
    {"files_still_open", files_still_open, 1},
    {"padded_table", padded_table, 0},
  };
  REQUIRE(sodium_init() >= 0);
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    int before = check_failures;
    if (argc > 1 ? strcmp(argv[1], all[i].name) != 0 : all[i].open != KR_CONSENT_OPEN) continue;
    all[i].fn();
    fprintf(stderr, "%s: %s\n", all[i].name, check_failures == before ? "holds" : "BROKEN");
  }
  return check_done(KR_CONSENT_OPEN ? "test_consent_open" : "test_consent_attack");
}
