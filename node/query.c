/*
 * query: reading the materialised state. Lookups by id prefix, one
 * volunteer's values, indexed lists by skill, language, city and
 * availability, FTS5 search, consent state and history, the change log.
 * Every read loop passes a failed step up (kr__step): a damaged page must
 * fail the read, never shorten its answer.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/internal.h"

static int prep(kr_node *n, const char *sql, sqlite3_stmt **s)
{
  int rc = sqlite3_prepare_v2(n->db, sql, -1, s, NULL);
  return rc == SQLITE_OK ? 0 : kr__db_err(rc);
}

static int hexval(int c)
{
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int kr_node_find(kr_node *n, const char *hex, uint8_t id[static KR_SUBJECT_LEN])
{
  uint8_t lo[KR_SUBJECT_LEN] = {0}, hi[KR_SUBJECT_LEN];
  size_t len = strlen(hex);
  sqlite3_stmt *s;
  int rc, found = 0;

  memset(hi, 0xff, sizeof hi);
  if (len < 4 || len > 2 * KR_SUBJECT_LEN) return KR_EINVAL;
  for (size_t i = 0; i < len; i++) {
    int v = hexval((unsigned char)hex[i]);
    if (v < 0) return KR_EINVAL;
    if (i % 2 == 0) {
      lo[i / 2] = (uint8_t)(v << 4);
      hi[i / 2] = (uint8_t)((v << 4) | 0x0f);
    } else {
      lo[i / 2] |= (uint8_t)v;
      hi[i / 2] = lo[i / 2];
    }
  }
  /* Only volunteers this node reads (or knows erased): the others are
   * not there for it, but a whole id of one is told apart. */
  if ((rc = prep(n, "SELECT id FROM subjects s WHERE id BETWEEN ?1 AND ?2 AND (EXISTS (SELECT 1"
                    " FROM vkeys k WHERE k.subj=s.n AND k.ok) OR EXISTS (SELECT 1 FROM erasures e WHERE"
                    " e.subj=s.n)) LIMIT 2", &s))) return rc;
  sqlite3_bind_blob(s, 1, lo, KR_SUBJECT_LEN, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, hi, KR_SUBJECT_LEN, SQLITE_STATIC);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (sqlite3_column_bytes(s, 0) != KR_SUBJECT_LEN) continue;
    memcpy(id, sqlite3_column_blob(s, 0), KR_SUBJECT_LEN);
    found++;
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return kr__db_err(rc);
  if (!found && len == 2 * KR_SUBJECT_LEN) {
    sqlite3_int64 sn;
    if (kr__subject_n(n, lo, &sn) == 0) {
      memcpy(id, lo, KR_SUBJECT_LEN);      /* which one, for kr_node_registrar_org */
      return KR_ESEALED;
    }
  }
  return found == 1 ? 0 : found ? KR_EAMBIGUOUS : KR_ENOTFOUND;
}

void kr_volunteer_free(kr_volunteer *v)
{
  for (int i = 0; i < 32; i++) {
    free(v->val.v[i]);
    for (size_t j = 0; j < v->val.set[i].n; j++) free(v->val.set[i].v[j]);
    free(v->val.set[i].v);
  }
  free(v->erase_reason);
  memset(v, 0, sizeof *v);
}

static int volunteer_read(kr_node *n, sqlite3_int64 sn, kr_volunteer *v)
{
  sqlite3_stmt *s;
  int rc;

  if ((rc = prep(n, "SELECT e.hlc, o.key, e.idx, e.reason FROM erasures e JOIN origins o "
                    "ON o.n=e.origin WHERE e.subj=?1", &s))) return rc;
  sqlite3_bind_int64(s, 1, sn);
  if (kr__step(s, &rc)) {
    v->erased = 1;
    kr__read_stamp(s, 0, &v->erased_at);
    if (sqlite3_column_text(s, 3)) v->erase_reason = strdup((const char *)sqlite3_column_text(s, 3));
  }
  sqlite3_finalize(s);
  if (rc || v->erased) return rc;

  return kr__vs_values_into(n, sn, &v->val);
}

int kr_node_volunteer(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], kr_volunteer *v)
{
  sqlite3_int64 sn;
  int rc;

  memset(v, 0, sizeof *v);
  memcpy(v->id, id, KR_SUBJECT_LEN);
  if ((rc = kr__subject_read(n, id, &sn))) return rc;
  if ((rc = volunteer_read(n, sn, v))) kr_volunteer_free(v);
  return rc;
}

static int token_cb(void *ctx, int flags, const char *tok, int n, int start, int end)
{
  (void)flags, (void)tok, (void)n, (void)start, (void)end;
  ++*(int *)ctx;
  return SQLITE_DONE;          /* one is enough */
}

/* 1 when FTS5's own tokenizer, as vol_fts uses it, finds a word in value
 * (symbols and punctuation, ASCII or not, are no words to it); -1 when it
 * cannot tell. */
static int has_token(kr_node *n, const char *value)
{
  static const char *args[] = {"remove_diacritics", "2"};
  fts5_api *api = NULL;
  fts5_tokenizer tk;
  Fts5Tokenizer *t;
  sqlite3_stmt *s;
  void *ud;
  int words = 0, rc;

  if (sqlite3_prepare_v2(n->db, "SELECT fts5(?1)", -1, &s, NULL) != SQLITE_OK) return -1;
  sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
  sqlite3_step(s);
  sqlite3_finalize(s);
  if (!api || api->xFindTokenizer(api, "unicode61", &ud, &tk) != SQLITE_OK ||
      tk.xCreate(ud, args, 2, &t) != SQLITE_OK)
    return -1;
  rc = tk.xTokenize(t, &words, FTS5_TOKENIZE_QUERY, value, (int)strlen(value), token_cb);
  tk.xDelete(t);
  return rc == SQLITE_OK || rc == SQLITE_DONE ? words > 0 : -1;
}

/* One FTS5 phrase of value in column col (col : ("value" OR more), quotes
 * doubled; FTS5 splits it into words as it split the indexed text; `more`
 * marks a column cut at KR_FTS_COL_MAX), into q. A value with no word adds
 * nothing and returns 0 (the rows decide), else 1. */
static int phrase(kr_node *n, kr_buf *q, const char *col, const char *value)
{
  if (has_token(n, value) != 1) return 0;
  if (q->len) kr_buf_add(q, " AND ", 5);
  kr_buf_add(q, col, strlen(col));
  kr_buf_add(q, " : (\"", 5);
  for (const char *p = value; *p; p++) {
    if (*p == '"') kr_buf_add(q, "\"", 1);   /* a quote inside a phrase is doubled */
    kr_buf_add(q, p, 1);
  }
  kr_buf_add(q, "\" OR ", 5);
  kr_buf_add(q, KR_FTS_MORE, strlen(KR_FTS_MORE));
  return kr_buf_add(q, ")", 1) ? KR_ETOOBIG : 1;
}

/*
 * The filters go through the full-text index (a phrase per filter, in its
 * column), then each candidate's row decides exactly (case folded as
 * COLLATE NOCASE). A filter value without letters or digits has no
 * phrase: every volunteer is a candidate then.
 */
int kr_node_list(kr_node *n, const kr_filter *f, kr_id_cb cb, void *ctx)
{
  static const struct { size_t off; const char *col; int field; } fl[] = {
    {offsetof(kr_filter, skill), "skills", KR_F_SKILLS},
    {offsetof(kr_filter, language), "languages", KR_F_LANGUAGES},
    {offsetof(kr_filter, city), "city", KR_F_CITY},
    {offsetof(kr_filter, available), "availability", KR_F_AVAILABILITY},
  };
  kr_buf q;
  sqlite3_stmt *s;
  int rc;

  /* inside a batch, the row merged in memory goes to the index first */
  if ((rc = kr__vs_flush(n))) return rc;
  kr_buf_init(&q, 1u << 16);
  for (size_t i = 0; f && i < sizeof fl / sizeof fl[0]; i++) {
    const char *val = *(const char *const *)((const char *)f + fl[i].off);
    if (!val) continue;
    if ((rc = phrase(n, &q, fl[i].col, val)) < 0) { kr_buf_free(&q); return rc; }
  }
  if (kr_buf_add(&q, "", 1)) { kr_buf_free(&q); return KR_ETOOBIG; }
  {
    /* the exact check of each filter, in the query: before the sort */
    char sql[2048];
    snprintf(sql, sizeof sql, "%s%s%s%s%s ORDER BY v.name COLLATE NOCASE, s.id",
             q.len > 1 ? "SELECT s.id FROM vol_fts f JOIN vols v ON v.subj=f.rowid JOIN subjects"
                         " s ON s.n=f.rowid WHERE vol_fts MATCH ?1 AND EXISTS(SELECT 1 FROM vkeys"
                         " k WHERE k.subj=s.n AND k.ok)"
                       /* (one read with no value yet is listed too, without a name) */
                       : "SELECT s.id FROM subjects s LEFT JOIN vols v ON v.subj=s.n WHERE"
                         " EXISTS(SELECT 1 FROM vkeys k WHERE k.subj=s.n AND k.ok) AND NOT EXISTS"
                         "(SELECT 1 FROM erasures e WHERE e.subj=s.n)",
             f && f->skill ? " AND kr_vs_has(v.state, 32, ?2)" : "",
             f && f->language ? " AND kr_vs_has(v.state, 33, ?3)" : "",
             f && f->city ? " AND kr_vs_has(v.state, 5, ?4)" : "",
             f && f->available ? " AND kr_vs_has(v.state, 34, ?5)" : "");
    rc = prep(n, sql, &s);
  }
  if (rc) { kr_buf_free(&q); return rc; }
  if (q.len > 1) sqlite3_bind_text(s, 1, (const char *)q.data, -1, SQLITE_STATIC);
  if (f) {
    if (f->skill) sqlite3_bind_text(s, 2, f->skill, -1, SQLITE_STATIC);
    if (f->language) sqlite3_bind_text(s, 3, f->language, -1, SQLITE_STATIC);
    if (f->city) sqlite3_bind_text(s, 4, f->city, -1, SQLITE_STATIC);
    if (f->available) sqlite3_bind_text(s, 5, f->available, -1, SQLITE_STATIC);
  }
  while (!rc && kr__step(s, &rc))
    rc = cb(ctx, sqlite3_column_blob(s, 0));
  sqlite3_finalize(s);
  kr_buf_free(&q);
  return rc;
}

int kr_node_search(kr_node *n, const char *text, kr_id_cb cb, void *ctx)
{
  kr_buf q;
  sqlite3_stmt *s;
  const char *p = text;
  int rc, words = 0, step = SQLITE_DONE;

  if ((rc = kr__vs_flush(n))) return rc;     /* inside a batch: the row in memory first */
  /* Each word becomes a quoted prefix term: "word"*, all of them required.
   * Quoting keeps FTS5 syntax out of the user's hands. */
  kr_buf_init(&q, 8192);
  while (*p) {
    const char *w;
    while (*p && (isspace((unsigned char)*p) || *p == '"')) p++;
    if (!*p) break;
    w = p;
    while (*p && !isspace((unsigned char)*p) && *p != '"') p++;
    if (words++) kr_buf_add(&q, " ", 1);
    kr_buf_add(&q, "\"", 1);
    if (kr_buf_add(&q, w, (size_t)(p - w))) { kr_buf_free(&q); return KR_ETOOBIG; }
    kr_buf_add(&q, "\"*", 2);
  }
  if (kr_buf_add(&q, "", 1) || !words) { kr_buf_free(&q); return KR_EINVAL; }
  /* only the columns a search looks in (languages and availability are
   * there for list filters) */
  if ((rc = prep(n, "SELECT s.id FROM vol_fts f JOIN subjects s ON s.n=f.rowid "
                    "WHERE vol_fts MATCH '{name skills city notes} : (' || ?1 || ')' "
                    "ORDER BY rank", &s))) {
    kr_buf_free(&q);
    return rc;
  }
  sqlite3_bind_text(s, 1, (const char *)q.data, -1, SQLITE_STATIC);
  rc = 0;
  while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
    rc = cb(ctx, sqlite3_column_blob(s, 0));
  if (!rc && step != SQLITE_DONE)   /* SQLITE_ERROR: a query FTS5 cannot parse */
    rc = step == SQLITE_ERROR || step == SQLITE_MISUSE ? KR_EINVAL : kr__db_err(step);
  sqlite3_finalize(s);
  kr_buf_free(&q);
  return rc;
}

/* Load one register's entries; memory in *mem (free with free()). */
static int load_register(kr_node *n, sqlite3_int64 sn, const char *purpose,
                         const void *rcpt, int rlen, kr_consent_entry **out, size_t *count,
                         char ***strs, size_t *nstrs)
{
  sqlite3_stmt *s, *o;
  kr_consent_entry *e = NULL;
  size_t ne = 0;
  int rc;

  *strs = NULL;
  *nstrs = 0;
  /* cached: this runs for every register a reader checks */
  if (!(s = kr__qs(n, "SELECT c.tag, c.hlc, o.key, c.idx, c.is_grant, c.until FROM consent_ops c "
                      "JOIN origins o ON o.n=c.origin "
                      "WHERE c.subj=?1 AND c.purpose=?2 AND c.recipient=" RCPT_NO("?3"))) ||
      !(o = kr__qs(n, "SELECT withdraw_tag FROM consent_observed WHERE subj=?2 AND grant_tag=?1")))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_text(s, 2, purpose, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 3, rcpt, rlen, SQLITE_STATIC);
  rc = 0;
  while (!rc && kr__step(s, &rc)) {
    kr_consent_entry *ne2 = realloc(e, (ne + 1) * sizeof *e);
    kr_consent_entry *x;
    uint8_t *obs = NULL;
    uint32_t nobs = 0;
    char **ns;
    if (!ne2) { rc = KR_ENOMEM; break; }
    e = ne2;
    x = &e[ne];
    memset(x, 0, sizeof *x);
    memcpy(x->tag, sqlite3_column_blob(s, 0), KR_TAG_LEN);
    kr__read_stamp(s, 1, &x->stamp);
    x->is_grant = sqlite3_column_int(s, 4);
    ns = realloc(*strs, (*nstrs + 2) * sizeof *ns);
    if (!ns) { rc = KR_ENOMEM; break; }
    *strs = ns;
    ns[(*nstrs)++] = strdup((const char *)sqlite3_column_text(s, 5));
    x->until = ns[*nstrs - 1];
    sqlite3_reset(o);
    sqlite3_bind_blob(o, 1, x->tag, KR_TAG_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(o, 2, sn);
    while (!rc && kr__step(o, &rc)) {
      uint8_t *nb = realloc(obs, ((size_t)nobs + 1) * KR_TAG_LEN);
      if (!nb) { rc = KR_ENOMEM; break; }
      obs = nb;
      memcpy(obs + (size_t)nobs * KR_TAG_LEN, sqlite3_column_blob(o, 0), KR_TAG_LEN);
      nobs++;
    }
    ns[(*nstrs)++] = (char *)obs;
    x->observed = obs;
    x->nobserved = nobs;
    ne++;
  }
  sqlite3_reset(s);
  sqlite3_reset(o);
  *out = e;
  *count = ne;
  return rc;
}

static void free_strs(char **strs, size_t n)
{
  for (size_t i = 0; i < n; i++) free(strs[i]);
  free(strs);
}

void kr_node_today(kr_node *n, char out[static 11])
{
  time_t secs = (time_t)(kr_node_now_ms(n) / 1000);
  struct tm tm;
  localtime_r(&secs, &tm);
  strftime(out, 11, "%Y-%m-%d", &tm);
}

int kr__consent_in_force(kr_node *n, sqlite3_int64 sn, const char *purpose, const void *rcpt,
                         int rlen, const char *day, kr_consent_state *state, uint8_t tag[16],
                         int *has)
{
  kr_consent_entry *e = NULL;
  size_t ne = 0, best, nstrs;
  char **strs;
  int rc = load_register(n, sn, purpose, rcpt, rlen, &e, &ne, &strs, &nstrs);

  *has = 0;
  if (!rc) {
    *state = kr_consent_resolve(e, ne, day, &best);
    if (best != (size_t)-1) {
      *has = 1;
      memcpy(tag, e[best].tag, KR_TAG_LEN);
    }
  }
  free(e);
  free_strs(strs, nstrs);
  return rc;
}

int kr__consent_granted_before(kr_node *n, sqlite3_int64 sn, const char *purpose,
                               const void *rcpt, int rlen, kr_hlc before, int *granted)
{
  kr_consent_entry *e = NULL;
  size_t ne = 0, keep = 0, best, nstrs;
  char **strs, day[11];
  time_t secs = (time_t)(kr_hlc_ms(before) / 1000);
  struct tm tm;
  int rc = load_register(n, sn, purpose, rcpt, rlen, &e, &ne, &strs, &nstrs);

  *granted = 0;
  if (!rc) {
    /* the register as it stood just before that stamp, read on its day (UTC) */
    for (size_t i = 0; i < ne; i++)
      if (e[i].stamp.hlc < before) e[keep++] = e[i];
    gmtime_r(&secs, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    *granted = keep && kr_consent_resolve(e, keep, day, &best) == KR_CONSENT_GRANTED;
  }
  free(e);
  free_strs(strs, nstrs);
  return rc;
}

int kr_node_consent(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN],
                    kr_consent_cb cb, void *ctx)
{
  sqlite3_stmt *s, *g;
  char day[11];
  sqlite3_int64 sn;
  int rc;

  kr_node_today(n, day);
  if ((rc = kr__subject_read(n, id, &sn))) return rc;
  if ((rc = prep(n, "SELECT DISTINCT purpose, " RCPT_ID("recipient") " FROM consent_ops WHERE"
                    " subj=?1 ORDER BY purpose, 2", &s)))
    return rc;
  if ((rc = prep(n, "SELECT c.method, c.text_version, c.until, c.hlc, o.key, c.idx FROM consent_ops c "
                    "JOIN origins o ON o.n=c.origin WHERE c.subj=?2 AND c.purpose=?3 AND "
                    "c.recipient=" RCPT_NO("?4") " AND c.tag=?1", &g))) {
    sqlite3_finalize(s);
    return rc;
  }
  sqlite3_bind_int64(s, 1, sn);
  rc = 0;
  while (!rc && kr__step(s, &rc)) {
    kr_consent_status st;
    uint8_t tag[KR_TAG_LEN];
    const void *r = sqlite3_column_blob(s, 1);
    int rlen = sqlite3_column_bytes(s, 1);
    memset(&st, 0, sizeof st);
    st.purpose = (const char *)sqlite3_column_text(s, 0);
    st.all = rlen == 0;
    if (rlen == KR_NODE_LEN) memcpy(st.recipient, r, KR_NODE_LEN);
    if ((rc = kr__consent_in_force(n, sn, st.purpose, rlen ? r : "", rlen, day, &st.state, tag,
                                   &st.has_grant)))
      break;
    if (st.has_grant) {
      sqlite3_reset(g);
      sqlite3_bind_blob(g, 1, tag, KR_TAG_LEN, SQLITE_STATIC);
      sqlite3_bind_int64(g, 2, sn);
      sqlite3_bind_text(g, 3, st.purpose, -1, SQLITE_STATIC);
      sqlite3_bind_blob(g, 4, rlen ? r : "", rlen, SQLITE_STATIC);
      if (kr__step(g, &rc)) {
        st.method = sqlite3_column_int(g, 0);
        st.text_version = (const char *)sqlite3_column_text(g, 1);
        st.until = (const char *)sqlite3_column_text(g, 2);
        kr__read_stamp(g, 3, &st.granted_at);
      }
    }
    if (!rc) rc = cb(ctx, &st);
  }
  sqlite3_finalize(s);
  sqlite3_finalize(g);
  return rc;
}

int kr_node_consent_history(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN],
                            kr_event_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  sqlite3_int64 sn;
  int rc;

  if ((rc = kr__subject_read(n, id, &sn))) return rc;
  if ((rc = prep(n, "SELECT c.is_grant, c.purpose, " RCPT_ID("c.recipient") ", c.method, c.text_version, c.until, "
                    "c.hlc, o.key, c.idx, c.seq FROM consent_ops c JOIN origins o ON o.n=c.origin "
                    "WHERE c.subj=?1 ORDER BY c.hlc, o.key, c.idx", &s)))
    return rc;
  sqlite3_bind_int64(s, 1, sn);
  rc = 0;
  while (!rc && kr__step(s, &rc)) {
    kr_consent_event e;
    memset(&e, 0, sizeof e);
    e.is_grant = sqlite3_column_int(s, 0);
    e.purpose = (const char *)sqlite3_column_text(s, 1);
    e.all = sqlite3_column_bytes(s, 2) == 0;
    if (!e.all) memcpy(e.recipient, sqlite3_column_blob(s, 2), KR_NODE_LEN);
    e.method = sqlite3_column_int(s, 3);
    e.text_version = (const char *)sqlite3_column_text(s, 4);
    e.until = (const char *)sqlite3_column_text(s, 5);
    kr__read_stamp(s, 6, &e.at);
    e.seq = (uint64_t)sqlite3_column_int64(s, 9);
    rc = cb(ctx, &e);
  }
  sqlite3_finalize(s);
  return rc;
}

/* Columns 0..3: origin key, seq, hlc, nops; the rest of *c zeroed. */
static void read_change_info(sqlite3_stmt *s, kr_change_info *c)
{
  memset(c, 0, sizeof *c);
  memcpy(c->origin, sqlite3_column_blob(s, 0), KR_NODE_LEN);
  c->seq = (uint64_t)sqlite3_column_int64(s, 1);
  c->hlc = (kr_hlc)sqlite3_column_int64(s, 2);
  c->nops = (uint32_t)sqlite3_column_int64(s, 3);
}

int kr_node_log(kr_node *n, kr_change_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc;

  if ((rc = prep(n, "SELECT o.key, c.seq, c.hlc, c.nops FROM changes c JOIN origins o "
                    "ON o.n=c.origin ORDER BY c.n", &s))) return rc;
  rc = 0;
  while (!rc && kr__step(s, &rc)) {
    kr_change_info c;
    read_change_info(s, &c);
    rc = cb(ctx, &c);
  }
  sqlite3_finalize(s);
  return rc;
}

/* The ops inside the group g at place of stored change chg (x holds it)
 * on sn, each as its own row of c: 1 when they were reported, 0 when no
 * key this node holds opens the box, or its ops were ignored (bad_groups). */
static int group_rows(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, kr_chgctx *x,
                      const kr_op *g, uint32_t place, kr_change_info *c, kr_change_cb cb,
                      void *ctx, int *rc)
{
  sqlite3_stmt *s;
  kr_op *ops = NULL;
  kr_buf plain;
  void *mem = NULL;
  uint32_t nops = 0;
  int ok = 0, bad = 0;

  if (prep(n, "SELECT 1 FROM bad_groups WHERE chg=?1 AND idx=?2", &s)) return 0;
  sqlite3_bind_int64(s, 1, chg);
  sqlite3_bind_int64(s, 2, place);
  bad = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  if (bad || prep(n, "SELECT key FROM vkeys WHERE subj=?1 AND en=?2 AND creator=" NODE_NO("?3"), &s)) return 0;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)(g->epoch > INT64_MAX ? INT64_MAX : g->epoch));
  sqlite3_bind_blob(s, 3, g->creator, KR_NODE_LEN, SQLITE_STATIC);
  kr_buf_init(&plain, KR_CHANGE_MAX);
  while (!ok && sqlite3_step(s) == SQLITE_ROW)
    if (sqlite3_column_bytes(s, 0) == KR_KEY_LEN &&
        kr_group_open(sqlite3_column_blob(s, 0), n->network, c->origin, c->seq, x->nonce, place, g,
                      &plain) == 0)
      ok = 1;
  sqlite3_finalize(s);
  if (ok && kr_group_decode(plain.data, plain.len, g->subject, &x->t, &ops, &nops, &mem)) ok = 0;
  for (uint32_t j = 0; ok && j < nops && !*rc; j++) {
    c->idx = KR_OP_IDX(place, j);
    c->type = ops[j].type;
    c->field = ops[j].field;
    *rc = cb(ctx, c);
  }
  memset(plain.data, 0, plain.cap);
  kr_buf_free(&plain);
  free(mem);
  return ok;
}

/* A stored record's parts as rows of c: its registration, a row per key
 * entry, its group (the ops in it where this node reads them). */
static int record_rows(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, kr_chgctx *x,
                       const void *body, int blen, uint32_t place, kr_change_info *c,
                       kr_change_cb cb, void *ctx)
{
  kr_op r, g;
  void *mem = NULL;
  int rc = 0;

  if (kr__op_parse_at(n, x, chg, sn, body, blen, &r, &mem)) return KR_EDB;
  c->field = 0;
  if (r.type == KR_OP_REGREC) {
    c->type = KR_OP_REGISTER;
    rc = cb(ctx, c);
  }
  for (uint32_t k = 0; !rc && k < r.nkeys; k++) {
    c->type = KR_OP_KEY;
    rc = cb(ctx, c);
  }
  if (!rc && kr_record_group(&r, &g) && !group_rows(n, sn, chg, x, &g, place, c, cb, ctx, &rc) &&
      !rc) {
    c->idx = KR_OP_IDX(place, 0);
    c->type = KR_OP_GROUP;
    rc = cb(ctx, c);
  }
  free(mem);
  return rc;
}

int kr_node_subject_ops(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN],
                        kr_change_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  sqlite3_int64 sn;
  kr_chgctx x = {0};
  int rc;

  if ((rc = kr__subject_read(n, id, &sn))) return rc;
  if ((rc = prep(n, "SELECT g.key, c.seq, c.hlc, c.nops, o.idx, o.type, o.field, "
                    "o.body IS NULL, o.body, c.n FROM ops o JOIN changes c ON c.n=o.chg "
                    "JOIN origins g ON g.n=c.origin WHERE o.subj=?1 "
                    "ORDER BY c.hlc, g.key, o.idx", &s)))
    return rc;
  sqlite3_bind_int64(s, 1, sn);
  rc = 0;
  while (!rc && kr__step(s, &rc)) {
    kr_change_info c;
    read_change_info(s, &c);
    c.idx = KR_OP_IDX(sqlite3_column_int64(s, 4), 0);
    c.type = sqlite3_column_int(s, 5);
    /* a record's field column holds its flags (KR_REC_BOX, KR_REC_KEYS):
     * it names no field, also once deleted after erasure */
    c.field = KR_OP_IS_RECORD(c.type) ? 0 : sqlite3_column_int(s, 6);
    if (sqlite3_column_int(s, 7) && c.type != KR_OP_ERASE) c.type = KR_OP_REDACTED;
    if (KR_OP_IS_RECORD(c.type))
      rc = record_rows(n, sn, sqlite3_column_int64(s, 9), &x, sqlite3_column_blob(s, 8),
                       sqlite3_column_bytes(s, 8), (uint32_t)sqlite3_column_int64(s, 4), &c, cb,
                       ctx);
    else
      rc = cb(ctx, &c);
  }
  sqlite3_finalize(s);
  kr__chgctx_free(&x);
  return rc;
}

int kr_node_counts(kr_node *n, uint64_t *volunteers, uint64_t *erased, uint64_t *changes)
{
  sqlite3_stmt *s;
  int rc;

  /* volunteers: those this node reads */
  if ((rc = prep(n, "SELECT (SELECT count(*) FROM subjects s WHERE EXISTS (SELECT 1 FROM vkeys k"
                    " WHERE k.subj=s.n AND k.ok)) + (SELECT count(*) FROM erasures), (SELECT count(*)"
                    " FROM erasures), (SELECT count(*) FROM changes)", &s)))
    return rc;
  if (kr__step(s, &rc)) {
    *erased = (uint64_t)sqlite3_column_int64(s, 1);
    *volunteers = (uint64_t)sqlite3_column_int64(s, 0) - *erased;
    *changes = (uint64_t)sqlite3_column_int64(s, 2);
  } else if (!rc) {
    rc = KR_EDB;
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_field_stamp(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], int field,
                        kr_stamp *st)
{
  sqlite3_int64 sn;
  kr_vstate *v;
  int rc;

  if (field < 1 || field > 31) return KR_ENOTFOUND;
  if ((rc = kr__subject_read(n, id, &sn)) || (rc = kr__vs_read(n, sn, &v))) return rc;
  rc = kr__vs_stamp(n, v, field, st);
  kr__vs_done(n, v);
  return rc;
}

int kr_node_sealed_count(kr_node *n, uint64_t *sealed)
{
  sqlite3_stmt *s;
  int rc;

  *sealed = 0;
  if ((rc = prep(n, "SELECT count(*) FROM subjects s WHERE NOT EXISTS (SELECT 1 FROM vkeys k"
                    " WHERE k.subj=s.n AND k.ok) AND NOT EXISTS (SELECT 1 FROM erasures e WHERE"
                    " e.subj=s.n)", &s)))
    return rc;
  if (kr__step(s, &rc)) *sealed = (uint64_t)sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc;
}

int kr_node_registrar_org(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], char *org,
                          size_t cap)
{
  sqlite3_stmt *s;
  int rc, found = 0;

  if ((rc = prep(n, "SELECT m.org FROM subjects s JOIN registrations r ON r.subj=s.n JOIN nodes o"
                    " ON o.n=r.origin JOIN members m ON m.node=o.id WHERE s.id=?1 AND m.org IS NOT"
                    " NULL", &s)))
    return rc;
  sqlite3_bind_blob(s, 1, id, KR_SUBJECT_LEN, SQLITE_STATIC);
  if (kr__step(s, &rc) && cap) {
    snprintf(org, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    found = 1;
  }
  sqlite3_finalize(s);
  return rc ? rc : found ? 0 : KR_ENOTFOUND;
}
