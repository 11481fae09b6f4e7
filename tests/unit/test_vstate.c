/*
 * test_vstate: a volunteer's row (node/vstate.c) merges as docs/crdt.md
 * says, whatever the order, below and above the count of elements where
 * it starts hashing tags; its bytes survive a commit and a reopen; a row
 * of many elements (a member adding thousands of values to one volunteer)
 * stays fast to merge.
 */
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crdt/buf.h"
#include "crdt/err.h"
#include "crdt/mp.h"
#include "node/internal.h"

#define NVAL 5
#define NTAG 200
#define NOPS 400

typedef struct {
  int add;                  /* else a remove of tags[0..ntags) */
  int value;
  uint8_t tag[16];          /* add: its tag */
  uint8_t tags[8][16];      /* remove: observed tags (of adds of the same value) */
  int ntags;
} top;

static const char *vals[NVAL] = {"koken", "rijden", "tuinieren", "Koken", "taalcoach"};

/* The naive OR-set: a value is live when some add of it has a tag no
 * remove of that value observed. */
static int naive_live(const top *ops, int n, int value)
{
  for (int i = 0; i < n; i++) {
    int removed = 0;
    if (!ops[i].add || ops[i].value != value) continue;
    for (int j = 0; j < n && !removed; j++)
      for (int k = 0; ops[j].value == value && !ops[j].add && k < ops[j].ntags; k++)
        removed |= !memcmp(ops[j].tags[k], ops[i].tag, 16);
    if (!removed) return 1;
  }
  return 0;
}

static void apply_all(kr_node *nd, kr_vstate *v, const top *ops, const int *order, int n)
{
  for (int i = 0; i < n; i++) {
    const top *t = &ops[order[i]];
    kr_op op;
    memset(&op, 0, sizeof op);
    op.field = KR_F_SKILLS;
    op.value = vals[t->value];
    if (t->add) {
      op.type = KR_OP_ADD;
      REQUIRE(kr__vs_add(nd, v, &op, t->tag) == 0);
    } else {
      op.type = KR_OP_REMOVE;
      op.tags = &t->tags[0][0];
      op.ntags = (uint32_t)t->ntags;
      REQUIRE(kr__vs_remove(nd, v, &op) == 0);
    }
  }
}

/* Any order of the same adds and removes ends in the same live values,
 * the naive model's; with few elements (searched one by one) and many
 * (hashed). */
static void orders(kr_node *nd, int nops)
{
  top *ops = calloc((size_t)nops, sizeof *ops);
  int *order = malloc(sizeof *order * (size_t)nops), nadd = 0;

  for (int i = 0; i < nops; i++) {
    ops[i].value = (int)randombytes_uniform(NVAL);
    ops[i].add = i < 2 || randombytes_uniform(3) != 0;
    if (ops[i].add) {
      randombytes_buf(ops[i].tag, 16);
      nadd++;
    } else {
      /* observe some adds of this value made so far, and a tag no add has */
      for (int j = 0; j < i && ops[i].ntags < 7; j++)
        if (ops[j].add && ops[j].value == ops[i].value && randombytes_uniform(2))
          memcpy(ops[i].tags[ops[i].ntags++], ops[j].tag, 16);
      randombytes_buf(ops[i].tags[ops[i].ntags++], 16);
    }
  }
  for (int round = 0; round < 5; round++) {
    kr_vstate *v = calloc(1, sizeof *v);
    char **live;
    size_t k;
    static sqlite3_int64 next_sn = 1000;
    v->sn = next_sn++;              /* its tombstones are rows of vtombs */
    for (int i = 0; i < nops; i++) order[i] = i;
    for (int i = nops - 1; round && i > 0; i--) {     /* round 0: as made */
      int j = (int)randombytes_uniform((uint32_t)i + 1), x = order[i];
      order[i] = order[j];
      order[j] = x;
    }
    apply_all(nd, v, ops, order, nops);
    REQUIRE(kr__vs_values(v, KR_F_SKILLS, &live, &k) == 0);
    for (int val = 0; val < NVAL; val++) {
      int found = 0;
      for (size_t i = 0; i < k; i++) found |= !strcmp(live[i], vals[val]);
      CHECK_EQ(found, naive_live(ops, nops, val));
    }
    for (size_t i = 1; i < k; i++) CHECK(strcmp(live[i - 1], live[i]) < 0);   /* sorted, distinct */
    /* the tags of a live value: its adds no remove observed */
    for (int val = 0; val < NVAL; val++) {
      uint8_t *tags;
      uint32_t nt;
      REQUIRE(kr__vs_tags(v, KR_F_SKILLS, vals[val], &tags, &nt) == 0);
      CHECK_EQ(nt > 0, naive_live(ops, nops, val));
      free(tags);
    }
    free(live);
    kr__vs_free(v);
  }
  (void)nadd;
  free(ops);
  free(order);
}

/* LWW: the greatest stamp wins in any order (a tie on hlc falls to the
 * origin, then the op index). */
static void lww(void)
{
  kr_node *n;
  kr_vstate *v = calloc(1, sizeof *v);
  kr_op op;
  kr_stamp st = {.hlc = 100, .idx = 1};

  REQUIRE(kr_node_create(check_path("lww"), "LWW", "other", &n) == 0);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_SET;
  op.field = KR_F_CITY;
  n->cur_origin = 1;
  op.value = "Assen";
  REQUIRE(kr__vs_set(n, v, &op, &st) == 0);
  st.hlc = 99;
  op.value = "Delft";
  REQUIRE(kr__vs_set(n, v, &op, &st) == 0);           /* older: loses */
  CHECK(!strcmp(v->f[KR_F_CITY].value, "Assen"));
  st.hlc = 100;
  st.idx = 2;
  op.value = "Emmen";
  REQUIRE(kr__vs_set(n, v, &op, &st) == 0);           /* same origin, later index */
  CHECK(!strcmp(v->f[KR_F_CITY].value, "Emmen"));
  op.value = NULL;
  st.hlc = 101;
  REQUIRE(kr__vs_set(n, v, &op, &st) == 0);           /* a clear wins too */
  CHECK(v->f[KR_F_CITY].value == NULL && v->f[KR_F_CITY].set);
  kr__vs_free(v);
  kr_node_close(n);
}

static int count_cb(void *ctx, const uint8_t *id)
{
  (void)id;
  ++*(int *)ctx;
  return 0;
}

/* Through the node: many values of one volunteer, some removed; the row
 * read back after a reopen holds exactly the rest, and merging stays fast
 * (hashed tags, not a scan per element). */
static void many(void)
{
  kr_node *n;
  kr_txn *t;
  uint8_t id[16];
  kr_volunteer vol;
  char val[32];
  kr_buf w;
  enum { MANY = 3000 };

  REQUIRE(kr_node_create(check_path("many"), "Veel", "other", &n) == 0);
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Veel Waarden", NULL) == 0);
  for (int i = 0; i < MANY; i++) {
    snprintf(val, sizeof val, "vaardigheid %04d", i);
    REQUIRE(kr_txn_add(t, id, KR_F_SKILLS, val, NULL) == 0);
  }
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_txn_commit(t, &w) == 0);
  REQUIRE(kr_txn_begin(n, &t) == 0);
  for (int i = 0; i < MANY; i += 2) {
    snprintf(val, sizeof val, "vaardigheid %04d", i);
    REQUIRE(kr_txn_remove(t, id, KR_F_SKILLS, val, NULL) == 0);
  }
  kr_buf_reset(&w);
  REQUIRE(kr_txn_commit(t, &w) == 0);
  kr_buf_free(&w);
  kr_node_close(n);
  REQUIRE(kr_node_open(check_path("many"), &n) == 0);
  REQUIRE(kr_node_volunteer(n, id, &vol) == 0);
  CHECK_EQ(vol.val.set[KR_F_SKILLS - 32].n, MANY / 2);
  CHECK(!strcmp(vol.val.set[KR_F_SKILLS - 32].v[0], "vaardigheid 0001"));
  kr_volunteer_free(&vol);
  {
    kr_filter f = {.skill = "vaardigheid 2999"}, g = {.skill = "vaardigheid 2998"};
    int count = 0;
    CHECK_EQ(kr_node_list(n, &f, count_cb, &count), 0);
    CHECK_EQ(count, 1);
    count = 0;
    CHECK_EQ(kr_node_list(n, &g, count_cb, &count), 0);   /* removed */
    CHECK_EQ(count, 0);
  }
  kr_node_close(n);
}

static int add_many(kr_node *n, const uint8_t *v, const char *pfx, int k)
{
  kr_txn *t;
  char val[256];
  REQUIRE(kr_txn_begin(n, &t) == 0);
  for (int i = 0; i < k; i++) {
    snprintf(val, sizeof val, "%s %05d %0180d", pfx, i, 0);
    REQUIRE(kr_txn_add(t, v, KR_F_SKILLS, val, NULL) == 0);
  }
  return kr_txn_commit(t, NULL);
}

/* Two readers each add 2,800 long skills to one volunteer at once: more
 * than a column of the full-text index holds (KR_FTS_COL_MAX). The merge
 * never fails for the index: both apply the other's change, end equal,
 * and a list filter still finds a value past the cut. */
static void big_sets(void)
{
  kr_node *nodes[2], *a, *b;
  uint8_t v[16];
  kr_txn *t;
  kr_filter f = {.skill = NULL};
  char val[256];
  int count = 0;

  check_network(nodes, 2, "big", "foodbank");
  a = nodes[0];
  b = nodes[1];
  REQUIRE(kr_txn_begin(a, &t) == 0);
  kr_txn_new_subject(t, v);
  REQUIRE(kr_txn_set(t, v, KR_F_NAME, "Veel Vaardig", NULL) == 0);
  REQUIRE(kr_txn_grant(t, v, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(a, b);
  CHECK_EQ(add_many(a, v, "a", 2800), 0);
  CHECK_EQ(add_many(b, v, "b", 2800), 0);
  check_sync(a, b);
  check_sync(b, a);
  CHECK(check_same_digest(a, b));
  CHECK(check_same_readable(a, b));
  snprintf(val, sizeof val, "b %05d %0180d", 2799, 0);
  f.skill = val;
  CHECK_EQ(kr_node_list(a, &f, count_cb, &count), 0);
  CHECK_EQ(count, 1);
  kr_node_close(a);
  kr_node_close(b);
}

/* A remove naming 4,096 tags no add has (any bytes a member sends) leaves
 * the volunteer's row as small as it was: such tombstones are rows of
 * their own (vtombs), and the add that comes later still finds its. */
static void orphan_tombs(void)
{
  kr_node *n;
  kr_vstate *v;
  kr_txn *t;
  uint8_t id[16], *tags = malloc(4096 * 16), tag[16];
  sqlite3_stmt *s;
  int before = 0, after = 0;
  kr_op op;

  REQUIRE(kr_node_create(check_path("tombs"), "Graf", "other", &n) == 0);
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Rij Klein", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  REQUIRE(sqlite3_prepare_v2(n->db, "SELECT length(state), subj FROM vols", -1, &s, NULL) == 0);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  before = sqlite3_column_int(s, 0);
  {
    sqlite3_int64 sn = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    randombytes_buf(tags, 4096 * 16);
    memset(&op, 0, sizeof op);
    op.type = KR_OP_REMOVE;
    op.field = KR_F_SKILLS;
    op.value = "een waarde van tweehonderd tekens lang, of bijna";
    op.tags = tags;
    op.ntags = 4096;
    REQUIRE(kr__exec(n, "BEGIN") == 0);
    REQUIRE(kr__vs_get(n, sn, &v) == 0);
    REQUIRE(kr__vs_remove(n, v, &op) == 0);
    CHECK_EQ(v->ntombs, 4096);
    REQUIRE(kr__exec(n, "COMMIT") == 0);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    after = sqlite3_column_int(s, 0);
    CHECK(after < before + 16);
    /* the add of one of those tags comes: removed at once, one tomb less */
    memcpy(tag, tags + 77 * 16, 16);
    op.type = KR_OP_ADD;
    REQUIRE(kr__exec(n, "BEGIN") == 0);
    REQUIRE(kr__vs_get(n, sn, &v) == 0);
    REQUIRE(kr__vs_add(n, v, &op, tag) == 0);
    CHECK_EQ(v->ntombs, 4095);
    CHECK_EQ(v->ne, 1);
    CHECK_EQ(v->e[0].state, 2);
    REQUIRE(kr__exec(n, "COMMIT") == 0);
  }
  sqlite3_finalize(s);
  {
    kr_volunteer vol;
    REQUIRE(kr_node_volunteer(n, id, &vol) == 0);
    CHECK_EQ(vol.val.set[KR_F_SKILLS - 32].n, 0);
    kr_volunteer_free(&vol);
  }
  free(tags);
  kr_node_close(n);
}

static int found(kr_node *n, const char *text)
{
  int count = 0;
  CHECK_EQ(kr_node_search(n, text, count_cb, &count), 0);
  return count;
}

/* The full-text index keeps no copy of the values (contentless): an entry
 * is deleted by the values it was given, from the row. Whatever changes,
 * it finds what the rows hold and nothing else: a name written over, a
 * skill removed, a change to a field it does not hold (no write), an
 * erasure. FTS5's integrity check passes after each. */
static void fts_follows(void)
{
  kr_node *n;
  kr_txn *t;
  uint8_t v1[16], v2[16];
  kr_filter f = {.skill = "rijden"};
  int count;
  sqlite3_stmt *s;

  REQUIRE(kr_node_create(check_path("ftsfollows"), "Zoeken", "other", &n) == 0);
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, v1);
  REQUIRE(kr_txn_set(t, v1, KR_F_NAME, "Eerste Nieuw", NULL) == 0);
  REQUIRE(kr_txn_set(t, v1, KR_F_CITY, "Utrecht", NULL) == 0);
  REQUIRE(kr_txn_add(t, v1, KR_F_SKILLS, "rijden", NULL) == 0);
  kr_txn_new_subject(t, v2);
  REQUIRE(kr_txn_set(t, v2, KR_F_NAME, "Tweede Buur", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  CHECK_EQ(found(n, "Eerste"), 1);
  CHECK_EQ(found(n, "Tweede"), 1);
  /* no table keeps the values a second time */
  REQUIRE(sqlite3_prepare_v2(n->db, "SELECT count(*) FROM sqlite_schema WHERE name="
                                    "'vol_fts_content'", -1, &s, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 0);
  sqlite3_finalize(s);

  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_set(t, v1, KR_F_NAME, "Anders Genoemd", NULL) == 0);
  REQUIRE(kr_txn_remove(t, v1, KR_F_SKILLS, "rijden", NULL) == 0);
  REQUIRE(kr_txn_set(t, v2, KR_F_PHONE, "0612345678", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  CHECK_EQ(found(n, "Eerste"), 0);
  CHECK_EQ(found(n, "Anders"), 1);
  CHECK_EQ(found(n, "Utrecht"), 1);
  CHECK_EQ(found(n, "Tweede"), 1);
  count = 0;
  CHECK_EQ(kr_node_list(n, &f, count_cb, &count), 0);
  CHECK_EQ(count, 0);
  CHECK_EQ(kr__exec(n, "INSERT INTO vol_fts(vol_fts) VALUES('integrity-check')"), 0);

  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_erase(t, v2, "verzoek", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  CHECK_EQ(found(n, "Tweede"), 0);
  CHECK_EQ(found(n, "Anders"), 1);
  CHECK_EQ(kr__exec(n, "INSERT INTO vol_fts(vol_fts) VALUES('integrity-check')"), 0);
  /* An index made by other columns than this kring makes (the first of
   * schema 13 cut the set columns short; meta fts_layout 1) is made again
   * from the rows on open, once. (A store of schema 12, whose index held
   * the values: test_cli, with tests/data/store-v12.) */
  REQUIRE(kr__exec(n, "INSERT INTO vol_fts(vol_fts) VALUES('delete-all')") == 0);
  REQUIRE(kr__exec(n, "UPDATE meta SET value=1 WHERE key='fts_layout'") == 0);
  CHECK_EQ(found(n, "Anders"), 0);
  kr_node_close(n);
  REQUIRE(kr_node_open(check_path("ftsfollows"), &n) == 0);
  CHECK_EQ(found(n, "Anders"), 1);
  CHECK_EQ(found(n, "Utrecht"), 1);
  CHECK_EQ(found(n, "Tweede"), 0);
  CHECK_EQ(kr__exec(n, "INSERT INTO vol_fts(vol_fts) VALUES('integrity-check')"), 0);
  kr_node_close(n);
}

/* The row's bytes of sn, into b. */
static void row_bytes(kr_node *n, sqlite3_int64 sn, kr_buf *b)
{
  sqlite3_stmt *s;
  REQUIRE(sqlite3_prepare_v2(n->db, "SELECT state FROM vols WHERE subj=?1", -1, &s, NULL) == 0);
  sqlite3_bind_int64(s, 1, sn);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  kr_buf_reset(b);
  kr_buf_add(b, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
  sqlite3_finalize(s);
}

static void put_row(kr_node *n, sqlite3_int64 sn, const kr_buf *b)
{
  sqlite3_stmt *s;
  REQUIRE(sqlite3_prepare_v2(n->db, "UPDATE vols SET state=?2 WHERE subj=?1", -1, &s, NULL) == 0);
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, b->data, (int)b->len, SQLITE_STATIC);
  REQUIRE(sqlite3_step(s) == SQLITE_DONE);
  sqlite3_finalize(s);
}

/* v as a row of the layout of schema 9 to 12: [fields (5 each), elements, tombs]. */
static void old_layout(const kr_vstate *v, kr_buf *b)
{
  msgpack_packer pk;
  uint32_t nf = 0;
  kr_buf_reset(b);
  msgpack_packer_init(&pk, b, kr_buf_mp_write);
  for (int i = 1; i < 32; i++) nf += (uint32_t)v->f[i].set;
  msgpack_pack_array(&pk, 3);
  msgpack_pack_array(&pk, 5 * nf);
  for (int i = 1; i < 32; i++) {
    if (!v->f[i].set) continue;
    msgpack_pack_uint8(&pk, (uint8_t)i);
    if (v->f[i].value) {
      msgpack_pack_str(&pk, strlen(v->f[i].value));
      msgpack_pack_str_body(&pk, v->f[i].value, strlen(v->f[i].value));
    } else {
      msgpack_pack_nil(&pk);
    }
    msgpack_pack_uint64(&pk, v->f[i].hlc);
    msgpack_pack_uint64(&pk, (uint64_t)v->f[i].origin);
    msgpack_pack_uint32(&pk, v->f[i].idx);
  }
  msgpack_pack_array(&pk, 4 * (uint32_t)v->ne);
  for (size_t i = 0; i < v->ne; i++) {
    msgpack_pack_uint8(&pk, v->e[i].field);
    msgpack_pack_uint8(&pk, v->e[i].state);
    msgpack_pack_bin(&pk, 16);
    msgpack_pack_bin_body(&pk, v->e[i].tag, 16);
    msgpack_pack_str(&pk, strlen(v->e[i].value));
    msgpack_pack_str_body(&pk, v->e[i].value, strlen(v->e[i].value));
  }
  msgpack_pack_uint32(&pk, v->ntombs);
}

/* The row's layout (schema 13): each stamp once, the fields naming it;
 * a row of the layout before is read alike, and written anew when it
 * changes; a field naming a stamp the row lacks is damage. */
static void layouts(void)
{
  kr_node *n;
  kr_txn *t;
  kr_vstate *v;
  kr_vfield before[32];
  kr_buf b;
  kr_mp r;
  uint32_t parts, k;
  uint8_t id[16];
  sqlite3_int64 sn;
  kr_filter f = {.city = "Delft"};
  int count;

  REQUIRE(kr_node_create(check_path("layouts"), "Indeling", "other", &n) == 0);
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Anna de Vries", NULL) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_CITY, "Utrecht", NULL) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_EMAIL, "anna@example.nl", NULL) == 0);
  REQUIRE(kr_txn_add(t, id, KR_F_SKILLS, "koken", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_CITY, "Delft", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  REQUIRE(kr__subject_n(n, id, &sn) == 0);
  kr_buf_init(&b, 1 << 20);
  row_bytes(n, sn, &b);
  kr_mp_init(&r, b.data, b.len);
  CHECK(kr_mp_array(&r, &parts) == 0 && parts == 4);
  CHECK(kr_mp_array(&r, &k) == 0 && k == 3 * 2);      /* two changes, two stamps */
  REQUIRE(kr__vs_read(n, sn, &v) == 0);
  memcpy(before, v->f, sizeof before);
  CHECK(before[KR_F_CITY].hlc > before[KR_F_NAME].hlc);
  CHECK(before[KR_F_NAME].idx != before[KR_F_EMAIL].idx);
  old_layout(v, &b);
  kr__vs_done(n, v);
  put_row(n, sn, &b);
  kr_node_close(n);

  REQUIRE(kr_node_open(check_path("layouts"), &n) == 0);
  REQUIRE(kr__vs_read(n, sn, &v) == 0);
  for (int i = 1; i < 32; i++) {
    CHECK_EQ(v->f[i].set, before[i].set);
    CHECK(v->f[i].hlc == before[i].hlc && v->f[i].origin == before[i].origin &&
          v->f[i].idx == before[i].idx);
  }
  CHECK(v->f[KR_F_CITY].value && strcmp(v->f[KR_F_CITY].value, "Delft") == 0);
  CHECK(v->ne == 1 && strcmp(v->e[0].value, "koken") == 0);
  kr__vs_done(n, v);
  count = 0;
  CHECK_EQ(kr_node_list(n, &f, count_cb, &count), 0);   /* the filter reads the old layout */
  CHECK_EQ(count, 1);
  /* changed: written in the new layout, the stamps it had kept */
  REQUIRE(kr_txn_begin(n, &t) == 0);
  REQUIRE(kr_txn_add(t, id, KR_F_SKILLS, "rijden", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  kr_node_close(n);
  REQUIRE(kr_node_open(check_path("layouts"), &n) == 0);
  row_bytes(n, sn, &b);
  kr_mp_init(&r, b.data, b.len);
  CHECK(kr_mp_array(&r, &parts) == 0 && parts == 4);
  REQUIRE(kr__vs_read(n, sn, &v) == 0);
  for (int i = 1; i < 32; i++)
    CHECK(v->f[i].set == before[i].set && v->f[i].hlc == before[i].hlc &&
          v->f[i].origin == before[i].origin && v->f[i].idx == before[i].idx);
  CHECK_EQ(v->ne, 2);
  kr__vs_done(n, v);
  count = 0;
  CHECK_EQ(kr_node_list(n, &f, count_cb, &count), 0);
  CHECK_EQ(count, 1);
  /* a field naming stamp 2 of a row of two: damage */
  {
    msgpack_packer pk;
    kr_buf_reset(&b);
    msgpack_packer_init(&pk, &b, kr_buf_mp_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_array(&pk, 6);
    for (int i = 0; i < 6; i++) msgpack_pack_uint8(&pk, 1);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint8(&pk, KR_F_NAME);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "Anna", 4);
    msgpack_pack_uint8(&pk, 2);
    msgpack_pack_uint8(&pk, 0);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_uint8(&pk, 0);
    put_row(n, sn, &b);
    CHECK_EQ(kr__vs_read(n, sn, &v), KR_EDB);
    b.data[b.len - 4] = 1;                              /* stamp 1: read */
    put_row(n, sn, &b);
    REQUIRE(kr__vs_read(n, sn, &v) == 0);
    CHECK(v->f[KR_F_NAME].value && strcmp(v->f[KR_F_NAME].value, "Anna") == 0);
    kr__vs_done(n, v);
  }
  kr_buf_free(&b);
  kr_node_close(n);
}

int main(void)
{
  REQUIRE(sodium_init() >= 0);
  {
    kr_node *nd;
    REQUIRE(kr_node_create(check_path("orders"), "Volgorde", "other", &nd) == 0);
    REQUIRE(kr__exec(nd, "BEGIN") == 0);
    for (int i = 0; i < 20; i++) orders(nd, 12);        /* below the hashing count */
    for (int i = 0; i < 5; i++) orders(nd, NOPS);       /* above it */
    kr__exec(nd, "ROLLBACK");
    kr_node_close(nd);
  }
  lww();
  many();
  big_sets();
  orphan_tombs();
  fts_follows();
  layouts();
  return check_done("test_vstate");
}
