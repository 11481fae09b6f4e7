/* check: test helpers (see check.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "crdt/err.h"

int check_failures;
static char dir[4096];

const char *check_tmpdir(void)
{
  if (!dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kring-test-XXXXXX", t && t[0] ? t : "/tmp");
    REQUIRE(mkdtemp(dir));
  }
  return dir;
}

const char *check_path(const char *name)
{
  static char ring[8][4096];
  static int k;
  char *p = ring[k++ % 8];
  /* (a path that does not fit is cut, and the test's open of it fails) */
  if (snprintf(p, 4096, "%s/%s", check_tmpdir(), name) >= 4096) p[4095] = 0;
  return p;
}

int check_done(const char *name)
{
  if (dir[0] && !getenv("KRING_KEEP_TMP")) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
  if (check_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

uint64_t check_clock(void *ctx)
{
  static uint64_t t = UINT64_C(1767225600000);
  uint64_t *c = ctx;
  if (c) return (*c)++;
  return t++;
}

int check_same_digest(kr_node *a, kr_node *b)
{
  uint8_t da[32], db[32];
  REQUIRE(kr_node_digest(a, da) == 0 && kr_node_digest(b, db) == 0);
  return memcmp(da, db, 32) == 0;
}

int check_same_readable(kr_node *a, kr_node *b)
{
  uint8_t da[32], db[32];
  REQUIRE(kr_node_digest_readable(a, da) == 0 && kr_node_digest_readable(b, db) == 0);
  return memcmp(da, db, 32) == 0;
}

void check_same_clock(kr_node *n, kr_node *like)
{
  static uint64_t clocks[64];
  static int next;
  uint64_t *c = &clocks[next++ % 64];
  *c = kr_node_now_ms(like);
  kr_node_set_clock(n, check_clock, c);
}

struct apply_ctx { kr_node *to; size_t fresh; };
static int apply_one(void *ctx, const uint8_t *buf, size_t len)
{
  struct apply_ctx *a = ctx;
  int f = 0, rc = kr_node_apply(a->to, buf, len, &f);
  a->fresh += (size_t)f;
  return rc;
}

size_t check_sync(kr_node *from, kr_node *to)
{
  kr_vv v;
  kr_lacks *l;
  struct apply_ctx a = {to, 0};
  size_t count;

  REQUIRE(kr_node_vector(to, &v) == 0);
  REQUIRE(kr_lacks_open(from, &v, &l) == 0);
  do {
    REQUIRE(kr_lacks_next(l, 1u << 20, apply_one, &a, &count) == 0);
  } while (count);
  kr_lacks_close(l);
  kr_vv_free(&v);
  return a.fresh;
}

static void invite_keys(uint8_t invite, uint8_t pk[32], uint8_t sk[64])
{
  uint8_t seed[32];
  memset(seed, invite, sizeof seed);
  seed[0] = 0x1e;                     /* not a node's seed */
  crypto_sign_seed_keypair(pk, sk, seed);
}

void check_invite_id(uint8_t invite, uint8_t id[16])
{
  uint8_t pk[32], sk[64];
  invite_keys(invite, pk, sk);
  kr_invite_key_id(pk, id);
}

int check_admit(kr_node *by, const uint8_t node[32], const char *org, const char *kind,
                uint8_t invite)
{
  uint8_t pk[32], sk[64], proof[64];
  int rc;
  invite_keys(invite, pk, sk);
  kr_admit_proof(sk, node, kind, org, proof);
  rc = kr_node_admit(by, node, org, kind, pk, proof);
  sodium_memzero(sk, sizeof sk);
  return rc;
}

uint64_t check_clk[256];
int check_nclk;

void check_net(kr_node **nodes, int k, const char *prefix)
{
  check_network(nodes, k, prefix, "foodbank");
  for (int i = 0; i < k; i++) {
    REQUIRE(check_nclk < 256);
    check_clk[check_nclk] = UINT64_C(1767225600000);
    kr_node_set_clock(nodes[i], check_clock, &check_clk[check_nclk++]);
  }
}

void check_syncall(kr_node **nodes, int k)
{
  for (int r = 0; r < 2; r++)
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++)
        if (i != j) check_sync(nodes[i], nodes[j]);
}

void check_closeall(kr_node **nodes, int k)
{
  for (int i = 0; i < k; i++) kr_node_close(nodes[i]);
}

void check_network(kr_node **nodes, int k, const char *prefix, const char *kind)
{
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN], invite[KR_SUBJECT_LEN] = {0};
  char name[64], org[64];
  static uint64_t t = UINT64_C(1767200000000); /* before every test clock */

  kr_node_set_default_clock(check_clock, &t);
  snprintf(name, sizeof name, "%s0", prefix);
  snprintf(org, sizeof org, "Org %s0", prefix);
  REQUIRE(kr_node_create(check_path(name), org, kind, &nodes[0]) == 0);
  kr_node_network(nodes[0], net, founder);
  for (int i = 1; i < k; i++) {
    snprintf(name, sizeof name, "%s%d", prefix, i);
    snprintf(org, sizeof org, "Org %s%d", prefix, i);
    REQUIRE(kr_node_create_joining(check_path(name), org, kind, net, founder, &nodes[i]) == 0);
    invite[0] = (uint8_t)i;
    REQUIRE(check_admit(nodes[0], kr_node_id(nodes[i]), org, kind, invite[0]) == 0);
  }
  for (int i = 1; i < k; i++) check_sync(nodes[0], nodes[i]);
  kr_node_set_default_clock(NULL, NULL);
}

static struct { uint8_t subject[KR_SUBJECT_LEN], nonce[KR_NONCE_LEN]; } made[256];
static size_t nmade;

void check_new_subject(kr_node *n, uint8_t subject[KR_SUBJECT_LEN])
{
  REQUIRE(nmade < sizeof made / sizeof made[0]);
  /* the first registering record of a change under this nonce */
  randombytes_buf(made[nmade].nonce, KR_NONCE_LEN);
  kr_subject_derive(kr_node_id(n), made[nmade].nonce, 0, subject);
  memcpy(made[nmade++].subject, subject, KR_SUBJECT_LEN);
}

const uint8_t check_nonce[KR_NONCE_LEN] = "kring test nonc";

static void seal_key_under(kr_node *from, const uint8_t to[32], const uint8_t *nonce,
                           uint32_t place, kr_op *op, const uint8_t key[32],
                           uint8_t box[KR_SEALED_KEY_LEN])
{
  uint8_t pair[KR_KEY_LEN], net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  kr_node_network(from, net, founder);
  REQUIRE(kr_pair_key_ed(kr_node_secret_key(from), to, pair) == 0);
  REQUIRE(kr_key_seal(pair, net, kr_node_id(from), nonce, place, op, key, box) == 0);
  op->box = box;
  op->box_len = KR_SEALED_KEY_LEN;
}

void check_seal_key(kr_node *from, const uint8_t to[32], uint32_t place, kr_op *op,
                    const uint8_t key[32], uint8_t box[KR_SEALED_KEY_LEN])
{
  if (!op->slot) op->slot = 1;        /* the first key entry of its record */
  seal_key_under(from, to, check_nonce, place, op, key, box);
}

static int same_triple(const kr_op *a, const kr_op *b)
{
  return a->epoch == b->epoch && !memcmp(a->subject, b->subject, KR_SUBJECT_LEN) &&
         !memcmp(a->creator, b->creator, KR_NODE_LEN);
}

int check_change_build(const uint8_t sk[64], uint64_t seq, kr_hlc hlc, const uint8_t *nonce,
                       const kr_op *ops, uint32_t nops, kr_buf *out)
{
  kr_op *rec = calloc((size_t)nops + 1, sizeof *rec);
  kr_keyent *ent = calloc((size_t)nops + 1, sizeof *ent);
  uint32_t n = 0, ne = 0;
  int rc = 0;

  REQUIRE(rec && ent);
  for (uint32_t i = 0; i < nops && !rc;) {
    const kr_op *o = &ops[i];
    kr_op *r;
    if (o->type != KR_OP_KEY && o->type != KR_OP_GROUP && o->type != KR_OP_REGISTER) {
      rec[n++] = ops[i++];
      continue;
    }
    r = &rec[n++];
    memset(r, 0, sizeof *r);
    r->type = KR_OP_RECORD;
    memcpy(r->subject, o->subject, KR_SUBJECT_LEN);
    r->epoch = o->epoch;
    memcpy(r->creator, o->creator, KR_NODE_LEN);
    if (o->type == KR_OP_REGISTER) {
      /* bare, or with the parts on its subject that follow */
      r->type = KR_OP_REGREC;
      i++;
      r->epoch = 1;
      memcpy(r->creator, sk + 32, KR_NODE_LEN);
      if (i < nops && (ops[i].type == KR_OP_KEY || ops[i].type == KR_OP_GROUP) &&
          !memcmp(ops[i].subject, r->subject, KR_SUBJECT_LEN)) {
        r->epoch = ops[i].epoch;
        memcpy(r->creator, ops[i].creator, KR_NODE_LEN);
      }
    }
    r->keys = &ent[ne];
    while (i < nops && (ops[i].type == KR_OP_KEY || ops[i].type == KR_OP_GROUP) &&
           same_triple(&ops[i], r) && !r->box) {
      if (ops[i].type == KR_OP_KEY) {
        if (ops[i].box_len != KR_SEALED_KEY_LEN) rc = KR_EINVAL;
        memcpy(ent[ne].reader, ops[i].member, KR_NODE_LEN);
        ent[ne++].sealed = ops[i].box;
        r->nkeys++;
      } else {
        r->box = ops[i].box;
        r->box_len = ops[i].box_len;
        if (!r->box) rc = KR_EINVAL;
      }
      i++;
    }
    if (!r->nkeys) r->keys = NULL;
  }
  if (!rc) rc = kr_change_build(sk, seq, hlc, nonce, rec, n, out);
  free(rec);
  free(ent);
  return rc;
}

void check_build_sealed(kr_node *n, uint64_t seq, kr_hlc hlc, const kr_op *ops, uint32_t nops,
                        int fresh, kr_node *const *readers, kr_buf *out)
{
  static uint64_t epoch = 100;        /* apart from the epochs nodes make (1, 2, ...) */
  uint8_t key[KR_KEY_LEN], net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  uint8_t sealed[4][KR_SEALED_KEY_LEN];
  const uint8_t *nonce = check_nonce;
  kr_keyent ent[4];
  kr_op rec;
  kr_buf plain, box;
  uint32_t k = 0;

  kr_node_network(n, net, founder);
  randombytes_buf(key, sizeof key);
  memset(&rec, 0, sizeof rec);
  epoch++;
  /* one record: its registration when fresh, a key entry per reader, the box */
  rec.type = KR_OP_RECORD;
  if (fresh) {
    size_t i;
    for (i = 0; i < nmade && memcmp(made[i].subject, ops[0].subject, KR_SUBJECT_LEN); i++) {}
    REQUIRE(i < nmade);                 /* made by check_new_subject */
    rec.type = KR_OP_REGREC;
    nonce = made[i].nonce;
  }
  memcpy(rec.subject, ops[0].subject, KR_SUBJECT_LEN);
  rec.epoch = epoch;
  memcpy(rec.creator, kr_node_id(n), KR_NODE_LEN);
  for (int i = 0; readers && readers[i]; i++, k++) {
    REQUIRE(i < 4);
    memcpy(ent[k].reader, kr_node_id(readers[i]), KR_NODE_LEN);
  }
  /* by reader number: n itself (0) first, then by id */
  for (uint32_t i = 0; i < k; i++)
    for (uint32_t j = i + 1; j < k; j++) {
      int io = !memcmp(ent[i].reader, kr_node_id(n), KR_NODE_LEN);
      int jo = !memcmp(ent[j].reader, kr_node_id(n), KR_NODE_LEN);
      if (jo || (!io && memcmp(ent[i].reader, ent[j].reader, KR_NODE_LEN) > 0)) {
        kr_keyent t = ent[i];
        ent[i] = ent[j];
        ent[j] = t;
      }
    }
  for (uint32_t i = 0; i < k; i++) {
    kr_op kop;
    rec.keys = ent;
    rec.nkeys = k;
    ent[i].sealed = NULL;
    kr_record_key(&rec, i, &kop);
    seal_key_under(n, ent[i].reader, nonce, 0, &kop, key, sealed[i]);
    ent[i].sealed = sealed[i];
  }
  rec.keys = k ? ent : NULL;
  rec.nkeys = k;
  kr_buf_init(&plain, KR_CHANGE_MAX);
  kr_buf_init(&box, KR_CHANGE_MAX);
  {
    /* the readers it seals to are named by a consent in the group too (a
     * key alone does not make a reader: docs/crdt.md) */
    kr_op *all = malloc(sizeof *all * (nops + 4));
    uint32_t m = nops;
    int has = 0;
    REQUIRE(all);
    memcpy(all, ops, sizeof *all * nops);
    for (uint32_t i = 0; i < nops; i++) has |= ops[i].type == KR_OP_GRANT;
    for (int i = 0; !has && readers && readers[i]; i++, m++) {
      memset(&all[m], 0, sizeof all[m]);
      all[m].type = KR_OP_GRANT;
      memcpy(all[m].subject, ops[0].subject, KR_SUBJECT_LEN);
      all[m].purpose = "test";
      memcpy(all[m].recipient, kr_node_id(readers[i]), KR_NODE_LEN);
      all[m].method = KR_METHOD_PAPER;
      all[m].text_version = "";
      all[m].until = "";
    }
    {
      /* the change's node table (kr_change_build makes the same) */
      uint8_t (*ids)[KR_NODE_LEN];
      kr_nodes t = {kr_node_id(n), NULL, 0};
      REQUIRE(kr_nodes_collect(kr_node_id(n), &rec, 1, &ids, &t.n) == 0);
      t.id = (const uint8_t (*)[KR_NODE_LEN])ids;
      REQUIRE(kr_group_encode(all, m, &t, &plain) == 0);
      free(ids);
    }
    free(all);
  }
  REQUIRE(kr_group_seal(key, net, kr_node_id(n), seq, nonce, 0, &rec, plain.data, plain.len,
                        &box) == 0);
  rec.box = box.data;
  rec.box_len = (uint32_t)box.len;
  REQUIRE(kr_change_build(kr_node_secret_key(n), seq, hlc, nonce, &rec, 1, out) == 0);
  sodium_memzero(key, sizeof key);
  kr_buf_free(&plain);
  kr_buf_free(&box);
}

int check_file_has(const char *path, const char *needle)
{
  FILE *f = fopen(path, "rb");
  size_t n = strlen(needle), got = 0, cap = 1 << 20, len;
  char *buf;
  int found = 0;
  if (!f) return 0;
  buf = malloc(cap);
  REQUIRE(buf);
  while ((len = fread(buf + got, 1, cap - got, f)) > 0) {
    got += len;
    if (got == cap) { cap *= 2; buf = realloc(buf, cap); REQUIRE(buf); }
  }
  fclose(f);
  for (size_t i = 0; i + n <= got && !found; i++) found = memcmp(buf + i, needle, n) == 0;
  free(buf);
  return found;
}

int check_home_holds(const char *home, const char *needle)
{
  static const char *const names[] = {"kring.db", "kring.db-wal", "kring.db-shm"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", home, names[k]);
    if (check_file_has(path, needle)) return 1;
  }
  return 0;
}

void check_forge_record(kr_node *m, kr_hlc hlc, const uint8_t v[16], uint64_t en,
                     const uint8_t *creator, const uint8_t *reader, const uint8_t key[32], int f,
                     const char *text)
{
  kr_op ops[2], in;
  uint8_t sealed[KR_SEALED_KEY_LEN], netid[16], founder[32];
  kr_buf box, plain, b;
  uint64_t seq;
  kr_nodes t = {kr_node_id(m), NULL, 0};
  int fresh;

  REQUIRE(kr_node_max_seq(m, kr_node_id(m), &seq) == 0);
  seq++;
  memset(ops, 0, sizeof ops);
  ops[0].type = KR_OP_KEY;
  memcpy(ops[0].subject, v, 16);
  ops[0].epoch = en;
  memcpy(ops[0].creator, creator, 32);
  memcpy(ops[0].member, reader, 32);
  check_seal_key(m, reader, 0, &ops[0], key, sealed);
  memset(&in, 0, sizeof in);
  in.type = KR_OP_SET;
  memcpy(in.subject, v, 16);
  in.field = f;
  in.value = text;
  kr_buf_init(&plain, KR_CHANGE_MAX);
  kr_buf_init(&box, KR_CHANGE_MAX);
  REQUIRE(kr_group_encode(&in, 1, &t, &plain) == 0);
  ops[1].type = KR_OP_GROUP;
  memcpy(ops[1].subject, v, 16);
  ops[1].epoch = en;
  memcpy(ops[1].creator, creator, 32);
  kr_node_network(m, netid, founder);
  REQUIRE(kr_group_seal(key, netid, kr_node_id(m), seq, check_nonce, 0, &ops[1], plain.data,
                        plain.len, &box) == 0);
  ops[1].box = box.data;
  ops[1].box_len = (uint32_t)box.len;
  kr_buf_init(&b, KR_CHANGE_MAX);
  REQUIRE(check_change_build(kr_node_secret_key(m), seq, hlc ? hlc : kr_node_now_ms(m) << 16,
                             check_nonce, ops, 2, &b) == 0);
  REQUIRE(kr_node_apply(m, b.data, b.len, &fresh) == 0);
  kr_buf_free(&b);
  kr_buf_free(&box);
  kr_buf_free(&plain);
}

struct sqlite3 *check_store(kr_node *n)
{
  char path[4096];
  sqlite3 *db;
  snprintf(path, sizeof path, "%s/kring.db", kr_node_home(n));
  REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  return db;
}
