/*
 * vstate: the values of one volunteer as one row (vols), merged in C.
 *
 * A row holds every single-valued field with the stamp of the write that
 * holds it (LWW), and every element of the set fields with the tag of the
 * add that made it and whether a remove has observed that tag (OR-set,
 * add-wins; a remove that came before its add is kept until the add comes).
 * docs/crdt.md gives the rules; this file only stores them compactly: one
 * read and one write per volunteer per transaction instead of a statement
 * per field and per element.
 *
 * The row being worked on stays decoded in n->vs until the transaction
 * commits (kr__vs_flush, from kr__exec "COMMIT") or another volunteer is
 * needed; a rollback drops it. Outside a write, a read decodes the row.
 * The full-text entry (vol_fts) is written with the row, from the same
 * values, and deleted with it (kr__vs_forget). The index keeps no copy of
 * the values (contentless): an entry is deleted by the values it was
 * given, which the row still held when it first changed (touch).
 *
 * Row layout (schema 13; local, never sent): name (the name field, for
 * ordering lists), state = msgpack [stamps, fields, elements, tombs] with
 *   stamps   = array of 3 per stamp the fields were written with: hlc,
 *              origin (origins.n), place (the op index's upper 16 bits);
 *              the fields a change wrote of a volunteer share one
 *   fields   = array of 4 per field written: code, value or nil, its
 *              stamp (an index into stamps), the op index's lower 16 bits
 *   elements = array of 4 per element: code, state (1 live, 2 removed),
 *              tag (bin 16), value
 *   tombs    = how many rows of vtombs the volunteer has: removes that
 *              came before the add they observed (its field, value, tag).
 *              They stay out of the row: a remove may name thousands of
 *              tags no add has (any bytes), and the row is read and written
 *              whole; the table is read only while the count is not 0.
 * A row of schema 9 to 12, [fields, elements, tombs] with 5 per field
 * (code, value or nil, hlc, origin, op index), is read too, and written
 * back in this layout when it changes.
 * The strict reader of crdt/mp.h decodes it; a row that does not decode is
 * a damaged store (KR_EDB).
 */
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/err.h"
#include "crdt/mp.h"
#include "node/internal.h"

/* A row's bytes. Tombstones of set elements stay (add-wins needs them), so
 * a row only grows; a member could make one large on purpose. SQLite's own
 * limit for a value is 1e9 bytes. */
#define VS_MAX (512u << 20)
#define VS_LINEAR 32        /* elements searched one by one; past that, hashed */

void kr__vs_free(kr_vstate *v)
{
  if (!v) return;
  for (int i = 0; i < 32; i++) free(v->f[i].value);
  for (size_t i = 0; i < v->ne; i++) free(v->e[i].value);
  free(v->e);
  free(v->ix);
  free(v->fts_old);
  free(v);
}

static char *dupn(const char *s, uint32_t len)
{
  char *d = malloc((size_t)len + 1);
  if (d) {
    memcpy(d, s, len);
    d[len] = 0;
  }
  return d;
}

/* The slot of a tag: SipHash under a key of this process (tags in a
 * remove are any bytes a member sends: no collisions by choice). */
static size_t tag_hash(const uint8_t *tag)
{
  static uint8_t key[crypto_shorthash_KEYBYTES];
  static int keyed;
  uint8_t h[crypto_shorthash_BYTES];
  uint64_t x;
  if (!keyed) {
    randombytes_buf(key, sizeof key);
    keyed = 1;
  }
  crypto_shorthash(h, tag, KR_TAG_LEN, key);
  memcpy(&x, h, sizeof x);
  return (size_t)x;
}

static void ix_put(kr_vstate *v, size_t i)
{
  size_t m = v->ixcap - 1, k = tag_hash(v->e[i].tag) & m;
  while (v->ix[k]) k = (k + 1) & m;
  v->ix[k] = (uint32_t)(i + 1);
}

/* Build the index afresh, twice the elements' count or more (a power of 2). */
static int ix_build(kr_vstate *v)
{
  size_t cap = 64;
  while (cap < 2 * (v->ne + 1)) cap *= 2;
  free(v->ix);
  if (!(v->ix = calloc(cap, sizeof *v->ix))) {
    v->ixcap = 0;
    return KR_ENOMEM;
  }
  v->ixcap = cap;
  for (size_t i = 0; i < v->ne; i++) ix_put(v, i);
  return 0;
}

static int elem_add(kr_vstate *v, int field, int state, const uint8_t *tag, const char *value,
                    size_t len)
{
  kr_velem *e;
  if (v->ne == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 8;
    kr_velem *ne = realloc(v->e, cap * sizeof *ne);
    if (!ne) return KR_ENOMEM;
    v->e = ne;
    v->cap = cap;
  }
  e = &v->e[v->ne];
  if (!(e->value = dupn(value, (uint32_t)len))) return KR_ENOMEM;
  e->field = (uint8_t)field;
  e->state = (uint8_t)state;
  memcpy(e->tag, tag, KR_TAG_LEN);
  v->ne++;
  if (v->ixcap) {
    if (2 * v->ne > v->ixcap) return ix_build(v);
    ix_put(v, v->ne - 1);
  }
  return 0;
}

/* A row's stamps (layout of schema 13): at most one per field. */
typedef struct {
  uint64_t hlc, origin, place;
} vstamp;

/* The stamps of a row in the layout of schema 13 (*ns of them), or, for
 * one of schema 9 to 12 (three parts), none (*ns = 0, *old = 1). */
static int read_stamps(kr_mp *r, vstamp st[31], uint32_t *ns, int *old)
{
  uint32_t n, k;

  *ns = 0;
  if (kr_mp_array(r, &n) || (n != 3 && n != 4)) return KR_EDB;
  if ((*old = n == 3)) return 0;
  if (kr_mp_array(r, &k) || k % 3 || k / 3 > 31) return KR_EDB;
  for (uint32_t i = 0; i < k / 3; i++)
    if (kr_mp_uint(r, &st[i].hlc) || kr_mp_uint(r, &st[i].origin) ||
        kr_mp_uint(r, &st[i].place) || st[i].place > 0xffff)
      return KR_EDB;
  *ns = k / 3;
  return 0;
}

/* One field of a row: its code, value (s, sl; nil: s NULL) and stamp. */
static int read_field(kr_mp *r, int old, const vstamp *st, uint32_t ns, uint64_t *code,
                      const char **s, uint32_t *sl, kr_hlc *hlc, uint64_t *origin, uint32_t *idx)
{
  uint64_t a, b, c;

  *s = NULL;
  *sl = 0;
  if (kr_mp_uint(r, code) || *code < 1 || *code > 31) return KR_EDB;
  if (!kr_mp_take_nil(r) && kr_mp_str(r, s, sl)) return KR_EDB;
  if (old) {
    if (kr_mp_uint(r, &a) || kr_mp_uint(r, &b) || kr_mp_uint(r, &c) || c > UINT32_MAX)
      return KR_EDB;
    *hlc = a;
    *origin = b;
    *idx = (uint32_t)c;
    return 0;
  }
  if (kr_mp_uint(r, &a) || a >= ns || kr_mp_uint(r, &b) || b > 0xffff) return KR_EDB;
  *hlc = st[a].hlc;
  *origin = st[a].origin;
  *idx = KR_OP_IDX(st[a].place, b);
  return 0;
}

/* A row's stamps and how many fields follow (*nf), in either layout. */
static int read_head(kr_mp *r, vstamp st[31], uint32_t *ns, int *old, uint32_t *nf)
{
  uint32_t k;
  if (read_stamps(r, st, ns, old) || kr_mp_array(r, &k) || k % (*old ? 5 : 4)) return KR_EDB;
  *nf = k / (*old ? 5 : 4);
  return 0;
}

static int decode(kr_vstate *v, const uint8_t *p, size_t len)
{
  kr_mp r;
  uint32_t nf, ne, ns;
  vstamp st[31];
  int old;

  kr_mp_init(&r, p, len);
  if (read_head(&r, st, &ns, &old, &nf)) return KR_EDB;
  for (uint32_t i = 0; i < nf; i++) {
    uint64_t code, origin;
    kr_hlc hlc;
    uint32_t idx, sl;
    const char *s;
    if (read_field(&r, old, st, ns, &code, &s, &sl, &hlc, &origin, &idx)) return KR_EDB;
    if (v->f[code].set) return KR_EDB;
    if (s && !(v->f[code].value = dupn(s, sl))) return KR_ENOMEM;
    v->f[code].set = 1;
    v->f[code].hlc = hlc;
    v->f[code].origin = (sqlite3_int64)origin;
    v->f[code].idx = idx;
  }
  if (kr_mp_array(&r, &ne) || ne % 4) return KR_EDB;
  for (uint32_t i = 0; i < ne / 4; i++) {
    uint64_t code, state;
    const uint8_t *tag;
    uint32_t tl, sl;
    const char *s;
    int rc;
    if (kr_mp_uint(&r, &code) || code < 32 || code > 63 || kr_mp_uint(&r, &state) || state < 1 ||
        state > 2 ||
        kr_mp_bin(&r, &tag, &tl) || tl != KR_TAG_LEN || kr_mp_str(&r, &s, &sl))
      return KR_EDB;
    if ((rc = elem_add(v, (int)code, (int)state, tag, s, sl))) return rc;
  }
  {
    uint64_t t;
    if (kr_mp_uint(&r, &t) || t > UINT32_MAX) return KR_EDB;
    v->ntombs = (uint32_t)t;
  }
  return kr_mp_left(&r) ? KR_EDB : 0;
}

static int encode(const kr_vstate *v, kr_buf *out)
{
  msgpack_packer pk;
  uint32_t nf = 0;

  vstamp st[31];
  uint8_t of[32];                        /* each field's stamp */
  uint32_t ns = 0;

  msgpack_packer_init(&pk, out, kr_buf_mp_write);
  for (int i = 1; i < 32; i++) {
    const kr_vfield *f = &v->f[i];
    uint32_t k = 0;
    if (!f->set) continue;
    nf++;
    while (k < ns && !(st[k].hlc == f->hlc && st[k].origin == (uint64_t)f->origin &&
                       st[k].place == f->idx >> 16))
      k++;
    if (k == ns) {
      st[ns].hlc = f->hlc;
      st[ns].origin = (uint64_t)f->origin;
      st[ns++].place = f->idx >> 16;
    }
    of[i] = (uint8_t)k;
  }
#define P(call) do { if ((call) != 0) return KR_ETOOBIG; } while (0)
  P(msgpack_pack_array(&pk, 4));
  P(msgpack_pack_array(&pk, 3 * ns));
  for (uint32_t k = 0; k < ns; k++) {
    P(msgpack_pack_uint64(&pk, st[k].hlc));
    P(msgpack_pack_uint64(&pk, st[k].origin));
    P(msgpack_pack_uint64(&pk, st[k].place));
  }
  P(msgpack_pack_array(&pk, 4 * nf));
  for (int i = 1; i < 32; i++) {
    const kr_vfield *f = &v->f[i];
    if (!f->set) continue;
    P(msgpack_pack_uint8(&pk, (uint8_t)i));
    if (f->value) {
      size_t l = strlen(f->value);
      P(msgpack_pack_str(&pk, l));
      P(msgpack_pack_str_body(&pk, f->value, l));
    } else {
      P(msgpack_pack_nil(&pk));
    }
    P(msgpack_pack_uint8(&pk, of[i]));
    P(msgpack_pack_uint32(&pk, f->idx & 0xffff));
  }
  P(msgpack_pack_array(&pk, 4 * (uint32_t)v->ne));
  for (size_t i = 0; i < v->ne; i++) {
    const kr_velem *e = &v->e[i];
    size_t l = strlen(e->value);
    P(msgpack_pack_uint8(&pk, e->field));
    P(msgpack_pack_uint8(&pk, e->state));
    P(msgpack_pack_bin(&pk, KR_TAG_LEN));
    P(msgpack_pack_bin_body(&pk, e->tag, KR_TAG_LEN));
    P(msgpack_pack_str(&pk, l));
    P(msgpack_pack_str_body(&pk, e->value, l));
  }
  P(msgpack_pack_uint32(&pk, v->ntombs));
#undef P
  return 0;
}

/* The row of sn decoded into a new state (empty when there is none). */
static int load(kr_node *n, sqlite3_int64 sn, kr_vstate **out)
{
  sqlite3_stmt *s;
  kr_vstate *v = calloc(1, sizeof *v);
  uint8_t *f = kr__fresh(n, sn);
  int rc = 0;

  if (!v) return KR_ENOMEM;
  v->sn = sn;
  /* made for the change being applied and not read in it yet: no row */
  if (f && !(*f & KR_FRESH_ROW)) {
    *f |= KR_FRESH_ROW;
    *out = v;
    return 0;
  }
  if (!(s = kr__q(n, KR_Q_VS_GET))) {
    free(v);
    return KR_EDB;
  }
  sqlite3_bind_int64(s, 1, sn);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    int len = sqlite3_column_bytes(s, 0);
    rc = len > 0 && (size_t)len <= VS_MAX ? decode(v, sqlite3_column_blob(s, 0), (size_t)len)
                                         : KR_EDB;
    v->stored = 1;
  } else {
    rc = rc == SQLITE_DONE ? 0 : kr__db_err(rc);
  }
  sqlite3_reset(s);
  if (rc) {
    kr__vs_free(v);
    return rc;
  }
  *out = v;
  return 0;
}

/* The set field's live values, space separated, into b (NUL-terminated),
 * at most KR_FTS_COL_MAX bytes of them: past that the column ends in the
 * word KR_FTS_MORE, and list filters look at every volunteer whose column
 * has it (the row decides). The index never makes a merge fail. */
static int join_values(const kr_vstate *v, int field, kr_buf *b)
{
  char **vals;
  size_t k, start = b->len;          /* b may hold the columns before this one */
  int rc = kr__vs_values(v, field, &vals, &k);
  if (rc) return rc;
  for (size_t i = 0; i < k; i++) {
    size_t l = strlen(vals[i]);
    if (b->len - start + l + 1 > KR_FTS_COL_MAX) {
      if (b->len > start) kr_buf_add(b, " ", 1);
      kr_buf_add(b, KR_FTS_MORE, strlen(KR_FTS_MORE));
      break;
    }
    if (i) kr_buf_add(b, " ", 1);
    kr_buf_add(b, vals[i], l);
  }
  free(vals);
  return kr_buf_add(b, "", 1) ? KR_ENOMEM : 0;
}

/* The full-text columns of v, as the index is fed them, into *out (a new
 * buffer of *len bytes): name, skills, city, notes (what `search` looks
 * in), languages, availability (for list filters), each ended by a NUL;
 * no value is "". */
static int fts_cols(const kr_vstate *v, char **out, size_t *len)
{
  static const int cols[] = {KR_F_NAME, KR_F_SKILLS, KR_F_CITY, KR_F_NOTES, KR_F_LANGUAGES,
                             KR_F_AVAILABILITY};
  kr_buf b;
  int rc = 0;

  kr_buf_init(&b, 6 * (KR_FTS_COL_MAX + 64));
  for (size_t i = 0; i < 6 && !rc; i++) {
    const char *val = cols[i] < 32 ? v->f[cols[i]].value : NULL;
    if (cols[i] >= 32) rc = join_values(v, cols[i], &b);
    else rc = kr_buf_add(&b, val ? val : "", (val ? strlen(val) : 0) + 1) ? KR_ENOMEM : 0;
  }
  if (rc) {
    kr_buf_free(&b);
    return rc;
  }
  *out = (char *)b.data;
  *len = b.len;
  return 0;
}

/* Run FTS_ADD or FTS_DEL for v->sn with the columns cols (fts_cols). */
static int fts_run(kr_node *n, int q, sqlite3_int64 sn, const char *cols)
{
  sqlite3_stmt *s = kr__q(n, q);
  int rc;
  if (!s) return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  for (int i = 0; i < 6; i++, cols += strlen(cols) + 1)
    sqlite3_bind_text(s, 2 + i, cols, -1, SQLITE_STATIC);
  rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE ? 0 : kr__db_err(rc);
}

/* Before a stored row first changes: the columns its entry holds (the
 * index keeps no copy of them, and deletes an entry by them). */
static int touch(kr_vstate *v)
{
  int rc;
  if (v->stored && !v->dirty && !v->fts_old &&
      (rc = fts_cols(v, &v->fts_old, &v->fts_old_len)))
    return rc;
  v->dirty = 1;
  return 0;
}

/* The full-text entry of v, from its values in hand. A volunteer with no
 * row yet has no entry either (both are written and deleted together): it
 * is added. A stored one's entry is deleted by the columns it was given
 * (touch) and added anew, unless they are the same (a phone number
 * changed, say): then the index is not written at all. */
static int fts_put(kr_node *n, kr_vstate *v)
{
  char *cols;
  size_t len;
  int rc = fts_cols(v, &cols, &len);

  if (rc) return rc;
  if (v->stored && !v->fts_old) rc = KR_EDB;          /* changed without touch() */
  else if (v->stored && len == v->fts_old_len && !memcmp(cols, v->fts_old, len)) rc = 0;
  else if (!(v->stored && (rc = fts_run(n, KR_Q_FTS_DEL, v->sn, v->fts_old))))
    rc = fts_run(n, KR_Q_FTS_ADD, v->sn, cols);
  free(cols);
  return rc;
}

int kr__vs_flush(kr_node *n)
{
  kr_vstate *v = n->vs;
  sqlite3_stmt *s;
  kr_buf b;
  int rc;

  if (!v || !v->dirty) return 0;
  kr_buf_init(&b, VS_MAX);
  if ((rc = encode(v, &b))) {
    kr_buf_free(&b);
    return rc;
  }
  if (!(s = kr__q(n, KR_Q_VS_PUT))) {
    kr_buf_free(&b);
    return KR_EDB;
  }
  sqlite3_bind_int64(s, 1, v->sn);
  if (v->f[KR_F_NAME].value) sqlite3_bind_text(s, 2, v->f[KR_F_NAME].value, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 3, b.data, (int)b.len, SQLITE_STATIC);
  rc = sqlite3_step(s);
  sqlite3_reset(s);
  kr_buf_free(&b);
  if (rc != SQLITE_DONE) return kr__db_err(rc);
  if ((rc = fts_put(n, v))) return rc;
  v->dirty = 0;
  v->stored = 1;
  free(v->fts_old);
  v->fts_old = NULL;
  return 0;
}

void kr__vs_drop(kr_node *n)
{
  kr__vs_free(n->vs);
  n->vs = NULL;
}

int kr__vs_get(kr_node *n, sqlite3_int64 sn, kr_vstate **out)
{
  int rc;

  if (n->vs && n->vs->sn == sn) {
    *out = n->vs;
    return 0;
  }
  if ((rc = kr__vs_flush(n))) return rc;
  kr__vs_drop(n);
  if ((rc = load(n, sn, &n->vs))) return rc;
  *out = n->vs;
  return 0;
}

int kr__vs_read(kr_node *n, sqlite3_int64 sn, kr_vstate **out)
{
  if (n->vs && n->vs->sn == sn) {
    *out = n->vs;
    return 0;
  }
  return load(n, sn, out);
}

void kr__vs_done(kr_node *n, kr_vstate *v)
{
  if (v != n->vs) kr__vs_free(v);
}

int kr__vs_forget(kr_node *n, sqlite3_int64 sn)
{
  sqlite3_stmt *s;
  kr_vstate *v = n->vs && n->vs->sn == sn ? n->vs : NULL;
  char *cols = NULL;
  size_t len;
  int rc;

  /* the entry the index holds: of the row as stored */
  if (!v && (rc = load(n, sn, &v))) return rc;
  if (!v->stored) rc = 0;
  else if (v->dirty) rc = fts_run(n, KR_Q_FTS_DEL, sn, v->fts_old);
  else if (!(rc = fts_cols(v, &cols, &len))) rc = fts_run(n, KR_Q_FTS_DEL, sn, cols);
  free(cols);
  if (v != n->vs) kr__vs_free(v);
  if (rc) return rc;
  if (n->vs && n->vs->sn == sn) kr__vs_drop(n);
  for (int q = 0; q < 2; q++) {
    if (!(s = kr__q(n, q ? KR_Q_TOMB_ALL : KR_Q_VS_DEL))) return KR_EDB;
    sqlite3_bind_int64(s, 1, sn);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return kr__db_err(rc);
  }
  return 0;
}

/* The origin key of origins.n o (stamps compare by it on an hlc tie). */
static int origin_key(kr_node *n, sqlite3_int64 o, uint8_t key[KR_NODE_LEN])
{
  sqlite3_stmt *s = kr__qs(n, "SELECT key FROM origins WHERE n=?1");
  int rc;
  if (!s) return KR_EDB;
  sqlite3_bind_int64(s, 1, o);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == KR_NODE_LEN)
    memcpy(key, sqlite3_column_blob(s, 0), KR_NODE_LEN);
  else
    memset(key, 0, KR_NODE_LEN);
  sqlite3_reset(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : kr__db_err(rc);
}

int kr__vs_stamp(kr_node *n, const kr_vstate *v, int field, kr_stamp *st)
{
  const kr_vfield *f = &v->f[field];
  if (field < 1 || field > 31 || !f->set) return KR_ENOTFOUND;
  st->hlc = f->hlc;
  st->idx = f->idx;
  return origin_key(n, f->origin, st->origin);
}

int kr__vs_set(kr_node *n, kr_vstate *v, const kr_op *op, const kr_stamp *st)
{
  kr_vfield *f = &v->f[op->field];
  char *val = NULL;
  int rc;

  if (op->field < 1 || op->field > 31) return KR_EUNKNOWN;
  if (f->set) {
    int newer;
    if (st->hlc != f->hlc) {
      newer = st->hlc > f->hlc;
    } else if (n->cur_origin == f->origin) {
      newer = st->idx > f->idx;
    } else {
      kr_stamp cur;
      if ((rc = kr__vs_stamp(n, v, op->field, &cur))) return rc;
      newer = kr_stamp_cmp(st, &cur) > 0;
    }
    if (!newer) return 0;
  }
  if ((rc = touch(v))) return rc;
  if (op->value && !(val = strdup(op->value))) return KR_ENOMEM;
  free(f->value);
  f->value = val;
  f->set = 1;
  f->hlc = st->hlc;
  f->origin = n->cur_origin;
  f->idx = st->idx;
  return 0;
}

static int elem_is(const kr_velem *e, int field, const char *value, const uint8_t *tag)
{
  return e->field == field && !memcmp(e->tag, tag, KR_TAG_LEN) && !strcmp(e->value, value);
}

/* The element (field, value, tag), or NULL; *rc: an error building the
 * index. */
static kr_velem *elem_find(kr_vstate *v, int field, const char *value, const uint8_t *tag,
                           int *rc)
{
  size_t m, k;

  *rc = 0;
  if (v->ne <= VS_LINEAR) {
    for (size_t i = 0; i < v->ne; i++)
      if (elem_is(&v->e[i], field, value, tag)) return &v->e[i];
    return NULL;
  }
  if (!v->ixcap && (*rc = ix_build(v))) return NULL;
  m = v->ixcap - 1;
  for (k = tag_hash(tag) & m; v->ix[k]; k = (k + 1) & m)
    if (elem_is(&v->e[v->ix[k] - 1], field, value, tag)) return &v->e[v->ix[k] - 1];
  return NULL;
}

/* Bind (subj, tag, field, value) of a tombstone. */
static void bind_tomb(sqlite3_stmt *s, const kr_vstate *v, const kr_op *op, const uint8_t *tag)
{
  sqlite3_bind_int64(s, 1, v->sn);
  sqlite3_bind_blob(s, 2, tag, KR_TAG_LEN, SQLITE_STATIC);
  sqlite3_bind_int(s, 3, op->field);
  sqlite3_bind_text(s, 4, op->value, -1, SQLITE_STATIC);
}

int kr__vs_add(kr_node *n, kr_vstate *v, const kr_op *op, const uint8_t tag[KR_TAG_LEN])
{
  int rc, removed = 0;
  kr_velem *e = elem_find(v, op->field, op->value, tag, &rc);

  if (rc) return rc;
  if (e) return 0;                       /* the same add again */
  if (v->ntombs) {                       /* did its remove come first? */
    sqlite3_stmt *s = kr__q(n, KR_Q_TOMB_DEL);
    if (!s) return KR_EDB;
    bind_tomb(s, v, op, tag);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return kr__db_err(rc);
    if ((removed = sqlite3_changes(n->db) > 0)) v->ntombs--;
  }
  if ((rc = touch(v))) return rc;
  return elem_add(v, op->field, removed ? 2 : 1, tag, op->value, strlen(op->value));
}

int kr__vs_remove(kr_node *n, kr_vstate *v, const kr_op *op)
{
  for (uint32_t i = 0; i < op->ntags; i++) {
    const uint8_t *tag = op->tags + (size_t)i * KR_TAG_LEN;
    int rc;
    kr_velem *e = elem_find(v, op->field, op->value, tag, &rc);
    sqlite3_stmt *s;
    if (rc) return rc;
    if (e) {
      if (e->state == 1) {
        if ((rc = touch(v))) return rc;
        e->state = 2;
      }
      continue;
    }
    /* no such add (yet): a tombstone beside the row */
    if (!(s = kr__q(n, KR_Q_TOMB_PUT))) return KR_EDB;
    bind_tomb(s, v, op, tag);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return kr__db_err(rc);
    if (sqlite3_changes(n->db) > 0) {
      if ((rc = touch(v))) return rc;
      v->ntombs++;
    }
  }
  return 0;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int kr__vs_values(const kr_vstate *v, int field, char ***out, size_t *count)
{
  char **l = NULL;
  size_t k = 0;

  *out = NULL;
  *count = 0;
  for (size_t i = 0; i < v->ne; i++) {
    char **nl;
    if (v->e[i].field != field || v->e[i].state != 1) continue;
    if (!(nl = realloc(l, (k + 1) * sizeof *l))) {
      free(l);
      return KR_ENOMEM;
    }
    l = nl;
    l[k++] = v->e[i].value;
  }
  if (k > 1) {
    size_t j = 0;
    qsort(l, k, sizeof *l, cmp_str);
    for (size_t i = 0; i < k; i++)
      if (!j || strcmp(l[j - 1], l[i])) l[j++] = l[i];
    k = j;
  }
  *out = l;
  *count = k;
  return 0;
}

static int cmp_tag(const void *a, const void *b) { return memcmp(a, b, KR_TAG_LEN); }

int kr__vs_tags(const kr_vstate *v, int field, const char *value, uint8_t **tags, uint32_t *count)
{
  uint8_t *t = NULL;
  uint32_t k = 0;

  *tags = NULL;
  *count = 0;
  for (size_t i = 0; i < v->ne; i++) {
    uint8_t *nt;
    if (v->e[i].field != field || v->e[i].state != 1 || strcmp(v->e[i].value, value)) continue;
    if (!(nt = realloc(t, (size_t)(k + 1) * KR_TAG_LEN))) {
      free(t);
      return KR_ENOMEM;
    }
    t = nt;
    memcpy(t + (size_t)k++ * KR_TAG_LEN, v->e[i].tag, KR_TAG_LEN);
  }
  if (k > 1) qsort(t, k, KR_TAG_LEN, cmp_tag);
  *tags = t;
  *count = k;
  return 0;
}

int kr__vs_values_into(kr_node *n, sqlite3_int64 sn, kr_values *out)
{
  kr_vstate *v;
  int rc = kr__vs_read(n, sn, &v);

  if (rc) return rc;
  for (int f = 1; f < 32 && !rc; f++)
    if (v->f[f].value && !(out->v[f] = strdup(v->f[f].value))) rc = KR_ENOMEM;
  for (int f = 0; f < 32 && !rc; f++) {
    char **vals;
    size_t k;
    if ((rc = kr__vs_values(v, 32 + f, &vals, &k)) || !k) continue;
    if (!(out->set[f].v = calloc(k, sizeof *vals))) rc = KR_ENOMEM;
    for (size_t i = 0; !rc && i < k; i++, out->set[f].n++)
      if (!(out->set[f].v[i] = strdup(vals[i]))) rc = KR_ENOMEM;
    free(vals);
  }
  kr__vs_done(n, v);
  return rc;
}

int kr__vs_fts_refill(kr_node *n)
{
  sqlite3_stmt *s;
  int rc = 0;

  if (sqlite3_prepare_v2(n->db, "SELECT subj, state FROM vols", -1, &s, NULL) != SQLITE_OK)
    return KR_EDB;
  while (!rc && kr__step(s, &rc)) {
    kr_vstate *v = calloc(1, sizeof *v);
    int len = sqlite3_column_bytes(s, 1);
    char *cols = NULL;
    size_t cl;
    if (!v) {
      rc = KR_ENOMEM;
      break;
    }
    v->sn = sqlite3_column_int64(s, 0);
    rc = len > 0 && (size_t)len <= VS_MAX ? decode(v, sqlite3_column_blob(s, 1), (size_t)len)
                                         : KR_EDB;
    if (!rc && !(rc = fts_cols(v, &cols, &cl))) rc = fts_run(n, KR_Q_FTS_ADD, v->sn, cols);
    free(cols);
    kr__vs_free(v);
  }
  sqlite3_finalize(s);
  return rc;
}

/* 1 when field holds value (ASCII case folded, as COLLATE NOCASE), read
 * from a row's bytes as stored, without decoding it into memory (list
 * filters check every candidate the full-text index gives). 1, 0, or
 * KR_EDB for a row that does not parse. */
int kr__vs_row_has(const void *row, size_t len, int field, const char *value)
{
  kr_mp r;
  uint32_t nf, ne, ns;
  vstamp st[31];
  int old;
  size_t vl = strlen(value);

  kr_mp_init(&r, row, len);
  if (read_head(&r, st, &ns, &old, &nf)) return KR_EDB;
  for (uint32_t i = 0; i < nf; i++) {
    uint64_t code, origin;
    kr_hlc hlc;
    uint32_t idx, sl;
    const char *s;
    if (read_field(&r, old, st, ns, &code, &s, &sl, &hlc, &origin, &idx)) return KR_EDB;
    if ((int)code == field && s && sl == vl && !sqlite3_strnicmp(s, value, (int)vl)) return 1;
  }
  if (field < 32) return 0;
  if (kr_mp_array(&r, &ne) || ne % 4) return KR_EDB;
  for (uint32_t i = 0; i < ne / 4; i++) {
    uint64_t code, state;
    const uint8_t *tag;
    const char *s;
    uint32_t tl, sl;
    if (kr_mp_uint(&r, &code) || kr_mp_uint(&r, &state) || kr_mp_bin(&r, &tag, &tl) ||
        kr_mp_str(&r, &s, &sl))
      return KR_EDB;
    if ((int)code == field && state == 1 && sl == vl && !sqlite3_strnicmp(s, value, (int)vl))
      return 1;
  }
  return 0;
}

/* SQL: kr_vs_has(state, field, value): kr__vs_row_has in a query, so that
 * list filters drop a candidate before the sort (which then carries no
 * rows' bytes). NULL state or value: 0. */
static void sql_has(sqlite3_context *c, int argc, sqlite3_value **v)
{
  const void *row = sqlite3_value_blob(v[0]);
  const char *val = (const char *)sqlite3_value_text(v[2]);
  int rc;
  (void)argc;
  if (!row || !val) {
    sqlite3_result_int(c, 0);
    return;
  }
  rc = kr__vs_row_has(row, (size_t)sqlite3_value_bytes(v[0]), sqlite3_value_int(v[1]), val);
  if (rc < 0)
    sqlite3_result_error_code(c, SQLITE_CORRUPT);
  else
    sqlite3_result_int(c, rc);
}

int kr__vs_sql_functions(kr_node *n)
{
  return sqlite3_create_function(n->db, "kr_vs_has", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC |
                                 SQLITE_DIRECTONLY, NULL, sql_has, NULL, NULL) == SQLITE_OK
             ? 0 : KR_EDB;
}
