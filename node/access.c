/*
 * access: consent decides who reads a volunteer (docs/crdt.md, "Who reads
 * a volunteer"). A volunteer's ops travel in sealed groups, one per change,
 * under the volunteer's key of an epoch; a node reads a volunteer when it
 * holds a key of it. Here:
 *
 *   - readers: the registrar and every current member some consent in
 *     force names (or "all"), as this node reads them;
 *   - sealing: the ops of a local change grouped per volunteer, each group
 *     sealed under the newest epoch whose every holder is still a reader (a
 *     new epoch when there is none: its key sealed to every reader);
 *   - opening: a group whose key this node holds is opened and folded in;
 *     a key sealed to this node opens every stored group of that epoch;
 *   - at the end of each transaction: a node that stopped reading a
 *     volunteer deletes what it knew of it and its keys; a reader seals the
 *     keys it holds to readers that lack them, in a change of its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/internal.h"
#include "node/validate.h"

/* Statements here are cached (kr__qs): "finished" means reset. */
static int prep(kr_node *n, const char *sql, sqlite3_stmt **s)
{
  return (*s = kr__qs(n, sql)) ? 0 : KR_EDB;
}
#define sqlite3_finalize(s) sqlite3_reset(s)

static int done(sqlite3_stmt *s)
{
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : kr__db_err(rc);
}

int kr__node_no(kr_node *n, const uint8_t *id, int make, sqlite3_int64 *no)
{
  sqlite3_stmt *s;
  unsigned c = n->nnodeno < 4 ? n->nnodeno : 4;
  int rc;
  for (unsigned i = 0; i < c; i++)          /* a change names a few nodes, again and again */
    if (!memcmp(n->nodeno[i].id, id, KR_NODE_LEN)) {
      *no = n->nodeno[i].no;
      return 0;
    }
  if (!(s = kr__qs(n, "SELECT n FROM nodes WHERE id=?1"))) return KR_EDB;
  sqlite3_bind_blob(s, 1, id, KR_NODE_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *no = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  if (rc != SQLITE_ROW) {
    if (rc != SQLITE_DONE) return kr__db_err(rc);
    if (!make) return KR_ENOTFOUND;
    if (!(s = kr__qs(n, "INSERT INTO nodes(id) VALUES(?1)"))) return KR_EDB;
    sqlite3_bind_blob(s, 1, id, KR_NODE_LEN, SQLITE_STATIC);
    if ((rc = done(s))) return rc;
    *no = sqlite3_last_insert_rowid(n->db);
  }
  memcpy(n->nodeno[n->nnodeno % 4].id, id, KR_NODE_LEN);
  n->nodeno[n->nnodeno % 4].no = *no;
  n->nnodeno++;
  return 0;
}


int kr__ids_add(kr_ids *l, const void *id, size_t len)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    uint8_t *p = realloc(l->id, cap * len);
    if (!p) return KR_ENOMEM;
    l->id = p;
    l->cap = cap;
  }
  memcpy(l->id + l->n++ * len, id, len);
  return 0;
}

int kr__touch(kr_node *n, sqlite3_int64 sn)
{
  if (n->touched.n && memcmp(n->touched.id + (n->touched.n - 1) * sizeof sn, &sn, sizeof sn) == 0)
    return 0;
  return kr__ids_add(&n->touched, &sn, sizeof sn);
}

int kr__readable(kr_node *n, sqlite3_int64 sn)
{
  sqlite3_stmt *s;
  int r;
  if (prep(n, "SELECT 1 FROM vkeys WHERE subj=?1 AND ok LIMIT 1", &s)) return 0;
  sqlite3_bind_int64(s, 1, sn);
  r = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return r;
}

int kr__subject_read(kr_node *n, const uint8_t id[KR_SUBJECT_LEN], sqlite3_int64 *sn)
{
  int rc = kr__subject_n(n, id, sn);
  if (rc) return rc;
  if ((rc = kr__erased(n, *sn, NULL)) != 0) return rc < 0 ? rc : 0;
  return kr__readable(n, *sn) ? 0 : KR_ESEALED;
}

/* ---- readers ------------------------------------------------------------- */

typedef struct {
  uint8_t node[KR_NODE_LEN];
  kr_hlc since;              /* its key ops must be stamped after this */
} reader;

typedef struct {
  reader *r;
  size_t n;
} readers;

static int readers_add(readers *rs, const uint8_t *node, kr_hlc since)
{
  reader *p;
  for (size_t i = 0; i < rs->n; i++)
    if (memcmp(rs->r[i].node, node, KR_NODE_LEN) == 0) {
      if (since < rs->r[i].since) rs->r[i].since = since;
      return 0;
    }
  if (!(p = realloc(rs->r, (rs->n + 1) * sizeof *p))) return KR_ENOMEM;
  rs->r = p;
  memcpy(rs->r[rs->n].node, node, KR_NODE_LEN);
  rs->r[rs->n++].since = since;
  return 0;
}

static int readers_has(const readers *rs, const uint8_t *node)
{
  for (size_t i = 0; i < rs->n; i++)
    if (memcmp(rs->r[i].node, node, KR_NODE_LEN) == 0) return 1;
  return 0;
}

/* 1 when a removal of this node is known here. */
static int am_removed(kr_node *n)
{
  sqlite3_stmt *s;
  int r;
  if (prep(n, "SELECT 1 FROM members WHERE node=?1 AND cutoff IS NOT NULL", &s)) return 0;
  sqlite3_bind_blob(s, 1, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  r = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return r;
}

/* The registrar of sn (origin of its earliest registration): 1 and *out,
 * or 0 when none is known. */
static int registrar(kr_node *n, sqlite3_int64 sn, uint8_t out[KR_NODE_LEN])
{
  sqlite3_stmt *s;
  int r = 0;
  if (prep(n, "SELECT o.id FROM registrations r JOIN nodes o ON o.n=r.origin WHERE r.subj=?1",
           &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == KR_NODE_LEN) {
    memcpy(out, sqlite3_column_blob(s, 0), KR_NODE_LEN);
    r = 1;
  }
  sqlite3_finalize(s);
  return r;
}

/* ---- what the end of a transaction reads once per volunteer ---------------- */

/* One consent register of a volunteer: its entries e[first..first+count). */
typedef struct {
  const char *purpose;
  const uint8_t *rcpt;       /* NULL: all */
  size_t first, count;
} creg;

/*
 * A view: what deciding who reads a volunteer needs, each read at most
 * once. The current members (read once per view: nothing here changes
 * them), and, for one volunteer sn at a time, its registrar and every
 * consent entry, grouped per register (purpose, recipient) in that order,
 * each grant with the withdrawal tags it observed. Two statements per
 * volunteer instead of five or more per register and per question. A
 * caller that writes sn's consent (recover, lose_access) calls
 * view_dirty; view_subject switches to another volunteer.
 */
typedef struct {
  uint8_t (*m)[KR_NODE_LEN];
  size_t nm;
  int m_loaded;
  sqlite3_int64 sn;
  int reg;                   /* -1 not read; 0 none known; 1 in regnode */
  uint8_t regnode[KR_NODE_LEN];
  int cs_loaded;
  kr_consent_entry *e;
  size_t ne;
  creg *r;
  size_t nr;
  char *text;                /* purposes and end dates, NUL-terminated */
  uint8_t *bin;              /* recipients, then observed tags */
} view;

static void view_dirty(view *v)
{
  free(v->e);
  free(v->r);
  free(v->text);
  free(v->bin);
  v->e = NULL;
  v->r = NULL;
  v->text = NULL;
  v->bin = NULL;
  v->ne = v->nr = 0;
  v->cs_loaded = 0;
  v->reg = -1;
}

static void view_subject(view *v, sqlite3_int64 sn)
{
  if (v->sn == sn) return;
  view_dirty(v);
  v->sn = sn;
}

static void view_free(view *v)
{
  view_dirty(v);
  free(v->m);
  memset(v, 0, sizeof *v);
}

static void view_init(view *v)
{
  memset(v, 0, sizeof *v);
  v->sn = -1;
  v->reg = -1;
}

static int view_members(kr_node *n, view *v)
{
  sqlite3_stmt *s;
  int rc = 0;
  if (v->m_loaded) return 0;
  if (prep(n, "SELECT node FROM members WHERE org IS NOT NULL AND cutoff IS NULL", &s))
    return KR_EDB;
  while (!rc && kr__step(s, &rc)) {
    void *p;
    if (sqlite3_column_bytes(s, 0) != KR_NODE_LEN) continue;
    if (!(p = realloc(v->m, (v->nm + 1) * sizeof *v->m))) { rc = KR_ENOMEM; break; }
    v->m = p;
    memcpy(v->m[v->nm++], sqlite3_column_blob(s, 0), KR_NODE_LEN);
  }
  sqlite3_finalize(s);
  v->m_loaded = !rc;
  return rc;
}

static int view_registrar(kr_node *n, view *v, sqlite3_int64 sn, uint8_t out[KR_NODE_LEN])
{
  view_subject(v, sn);
  if (v->reg < 0 && (v->reg = registrar(n, sn, v->regnode)) < 0) {
    int rc = v->reg;
    v->reg = -1;
    return rc;
  }
  if (v->reg == 1 && out) memcpy(out, v->regnode, KR_NODE_LEN);
  return v->reg;
}

typedef struct {
  uint8_t tag[KR_TAG_LEN];
  size_t i;
} tag_at;

static int cmp_tag_at(const void *a, const void *b)
{
  return memcmp(((const tag_at *)a)->tag, ((const tag_at *)b)->tag, KR_TAG_LEN);
}

/* Read every consent entry of sn (two statements), unless read already. */
static int view_consents(kr_node *n, view *v, sqlite3_int64 sn)
{
  sqlite3_stmt *s;
  kr_buf text, bin;
  size_t *toff = NULL, *roff = NULL, *ooff = NULL, cap = 0;
  uint32_t *ocount = NULL;
  tag_at *by_tag = NULL;
  int rc = 0;

  view_subject(v, sn);
  if (v->cs_loaded) return 0;
  /* as many entries as the store holds: a bound here would let a member
   * that adds enough consent entries stop every transaction touching sn */
  kr_buf_init(&text, SIZE_MAX / 2);
  kr_buf_init(&bin, SIZE_MAX / 2);
  /* (registers in the order of the index: a register's entries together
   * is all the grouping below needs) */
  if (prep(n, "SELECT c.purpose, " RCPT_ID("c.recipient") ", c.tag, c.hlc, o.key, c.idx,"
              " c.is_grant, c.until FROM consent_ops c JOIN origins o ON o.n=c.origin WHERE"
              " c.subj=?1 ORDER BY c.purpose, c.recipient", &s)) {
    rc = KR_EDB;
    goto out;
  }
  sqlite3_bind_int64(s, 1, sn);
  while (!rc && kr__step(s, &rc)) {
    const char *purpose = (const char *)sqlite3_column_text(s, 0);
    const char *until = sqlite3_column_text(s, 7) ? (const char *)sqlite3_column_text(s, 7) : "";
    int rlen = sqlite3_column_bytes(s, 1);
    kr_consent_entry *x;
    if ((rlen != 0 && rlen != KR_NODE_LEN) || sqlite3_column_bytes(s, 2) != KR_TAG_LEN || !purpose)
      continue;
    if (v->ne == cap) {
      size_t nc = cap ? 2 * cap : 8;
      void *p;
      if (!(p = realloc(v->e, nc * sizeof *v->e))) { rc = KR_ENOMEM; break; }
      v->e = p;
      if (!(p = realloc(toff, 2 * nc * sizeof *toff))) { rc = KR_ENOMEM; break; }
      toff = p;
      if (!(p = realloc(roff, nc * sizeof *roff))) { rc = KR_ENOMEM; break; }
      roff = p;
      cap = nc;
    }
    x = &v->e[v->ne];
    memset(x, 0, sizeof *x);
    memcpy(x->tag, sqlite3_column_blob(s, 2), KR_TAG_LEN);
    kr__read_stamp(s, 3, &x->stamp);
    x->is_grant = sqlite3_column_int(s, 6);
    toff[2 * v->ne] = text.len;
    if ((rc = kr_buf_add(&text, purpose, strlen(purpose) + 1))) break;
    toff[2 * v->ne + 1] = text.len;
    if ((rc = kr_buf_add(&text, until, strlen(until) + 1))) break;
    roff[v->ne] = rlen ? bin.len : (size_t)-1;
    if (rlen && (rc = kr_buf_add(&bin, sqlite3_column_blob(s, 1), KR_NODE_LEN))) break;
    v->ne++;
  }
  sqlite3_finalize(s);
  if (rc) goto out;
  /* the withdrawal tags each entry observed (only grants do), by tag */
  if (v->ne) {
    if (!(by_tag = malloc(v->ne * sizeof *by_tag)) || !(ooff = calloc(v->ne, sizeof *ooff)) ||
        !(ocount = calloc(v->ne, sizeof *ocount))) {
      rc = KR_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < v->ne; i++) {
      memcpy(by_tag[i].tag, v->e[i].tag, KR_TAG_LEN);
      by_tag[i].i = i;
    }
    qsort(by_tag, v->ne, sizeof *by_tag, cmp_tag_at);
    if (prep(n, "SELECT grant_tag, withdraw_tag FROM consent_observed WHERE subj=?1"
                " ORDER BY grant_tag", &s)) {
      rc = KR_EDB;
      goto out;
    }
    sqlite3_bind_int64(s, 1, sn);
    while (!rc && kr__step(s, &rc)) {
      tag_at key, *hit;
      size_t at = bin.len;
      if (sqlite3_column_bytes(s, 0) != KR_TAG_LEN || sqlite3_column_bytes(s, 1) != KR_TAG_LEN)
        continue;
      memcpy(key.tag, sqlite3_column_blob(s, 0), KR_TAG_LEN);
      if (!(hit = bsearch(&key, by_tag, v->ne, sizeof *by_tag, cmp_tag_at))) continue;
      while (hit > by_tag && !memcmp(hit[-1].tag, key.tag, KR_TAG_LEN)) hit--;
      /* rows come by grant tag: a tag's observed tags are one run, added
       * once and shared by every entry with that tag (one per entry would
       * interleave two entries' runs) */
      if ((rc = kr_buf_add(&bin, sqlite3_column_blob(s, 1), KR_TAG_LEN))) break;
      for (; hit < by_tag + v->ne && !memcmp(hit->tag, key.tag, KR_TAG_LEN); hit++) {
        if (!ocount[hit->i]) ooff[hit->i] = at;
        ocount[hit->i]++;
      }
    }
    sqlite3_finalize(s);
    if (rc) goto out;
  }
  /* the buffers are final: point into them; one register per run */
  for (size_t i = 0; i < v->ne; i++) {
    kr_consent_entry *x = &v->e[i];
    const char *purpose = (const char *)text.data + toff[2 * i];
    const uint8_t *rcpt = roff[i] == (size_t)-1 ? NULL : bin.data + roff[i];
    creg *last = v->nr ? &v->r[v->nr - 1] : NULL;
    x->until = (const char *)text.data + toff[2 * i + 1];
    x->observed = ocount[i] ? bin.data + ooff[i] : NULL;
    x->nobserved = ocount[i];
    if (!last || strcmp(last->purpose, purpose) != 0 || !last->rcpt != !rcpt ||
        (rcpt && memcmp(last->rcpt, rcpt, KR_NODE_LEN) != 0)) {
      void *p = realloc(v->r, (v->nr + 1) * sizeof *v->r);
      if (!p) { rc = KR_ENOMEM; goto out; }
      v->r = p;
      last = &v->r[v->nr++];
      last->purpose = purpose;
      last->rcpt = rcpt;
      last->first = i;
      last->count = 0;
    }
    last->count++;
  }
  v->text = (char *)text.data;
  v->bin = bin.data;
  text.data = bin.data = NULL;
  v->cs_loaded = 1;
out:
  free(toff);
  free(roff);
  free(ooff);
  free(ocount);
  free(by_tag);
  kr_buf_free(&text);
  kr_buf_free(&bin);
  if (rc) view_dirty(v);
  return rc;
}

/* The consent registers of sn (as this node reads them), each resolved for
 * today: cb(recipient or NULL for all, state, the in-force grant's hlc and
 * until, the latest withdrawal's hlc). only: the registers naming that
 * node or all. */
typedef int (*register_cb)(void *ctx, const uint8_t *rcpt, kr_consent_state st, kr_hlc granted,
                           const char *until, kr_hlc withdrawn);

static int each_register(kr_node *n, view *v, sqlite3_int64 sn, const uint8_t *only,
                         register_cb cb, void *ctx)
{
  char day[11];
  int rc;

  if ((rc = view_consents(n, v, sn))) return rc;
  kr_node_today(n, day);
  for (size_t k = 0; k < v->nr && !rc; k++) {
    const creg *r = &v->r[k];
    const kr_consent_entry *e = v->e + r->first;
    size_t best;
    kr_consent_state st;
    kr_hlc granted = 0, withdrawn = 0;
    char until[11] = "";
    int ended = 0;

    if (only && r->rcpt && memcmp(r->rcpt, only, KR_NODE_LEN) != 0) continue;
    st = kr_consent_resolve(e, r->count, day, &best);
    if (best != (size_t)-1) {
      granted = e[best].stamp.hlc;
      snprintf(until, sizeof until, "%s", e[best].until);
    }
    for (size_t i = 0; i < r->count; i++) {
      if (!e[i].is_grant && e[i].stamp.hlc > withdrawn) withdrawn = e[i].stamp.hlc;
      ended |= !e[i].is_grant || e[i].until[0];
    }
    /* A register whose grants never ended (no withdrawal, no end date)
     * gave access once: a key from any time will do. Else the key must
     * come after the grant in force (access may have ended before it). */
    if (!ended) granted = 0;
    rc = cb(ctx, r->rcpt, st, granted, until, withdrawn);
  }
  return rc;
}

static kr_hlc day_after(const char *day);

typedef struct {
  kr_node *n;
  readers *rs;
  const uint8_t (*members)[KR_NODE_LEN];
  size_t nmembers;
  readers ends;              /* per register: its recipient (zeros: all), its last end */
} readers_ctx;

static int readers_cb(void *ctx, const uint8_t *rcpt, kr_consent_state st, kr_hlc granted,
                      const char *until, kr_hlc withdrawn)
{
  static const uint8_t all[KR_NODE_LEN];
  readers_ctx *x = ctx;
  kr_hlc end = withdrawn;
  int rc = 0;
  /* What may have ended a reader's access through this register, in force
   * or not: its latest withdrawal, or its grant's end date once passed; a
   * grant that set an end date already past when it was recorded ended it
   * at its own stamp (its readers deleted their keys on reading it). */
  if (st == KR_CONSENT_EXPIRED) {
    kr_hlc e = day_after(until);
    if (granted > e) e = granted;
    if (e > end) end = e;
  }
  if (end) {
    reader *p = realloc(x->ends.r, (x->ends.n + 1) * sizeof *p);
    if (!p) return KR_ENOMEM;
    x->ends.r = p;
    memcpy(p[x->ends.n].node, rcpt ? rcpt : all, KR_NODE_LEN);
    p[x->ends.n++].since = end;
  }
  if (st != KR_CONSENT_GRANTED) return 0;
  for (size_t i = 0; i < x->nmembers && !rc; i++)
    if (!rcpt || memcmp(rcpt, x->members[i], KR_NODE_LEN) == 0)
      rc = readers_add(x->rs, x->members[i], granted);
  return rc;
}

/* The readers of sn as this node reads its consent: the registrar (if a
 * member) and the current members some consent in force names. */
static int readers_of(kr_node *n, view *v, sqlite3_int64 sn, readers *rs)
{
  static const uint8_t all[KR_NODE_LEN];
  uint8_t reg[KR_NODE_LEN];
  readers_ctx x;
  int rc, reg_known;

  rs->r = NULL;
  rs->n = 0;
  if ((rc = view_members(n, v))) return rc;
  if ((reg_known = view_registrar(n, v, sn, reg)) < 0) return reg_known;
  if (reg_known) {
    for (size_t i = 0; i < v->nm && !rc; i++)
      if (memcmp(v->m[i], reg, KR_NODE_LEN) == 0) rc = readers_add(rs, reg, 0);
  }
  x = (readers_ctx){n, rs, (const uint8_t (*)[KR_NODE_LEN])v->m, v->nm, {NULL, 0}};
  if (!rc) rc = each_register(n, v, sn, NULL, readers_cb, &x);
  /* A reader that lost its access through one register (and deleted its
   * keys) while another names it may have lost the keys it had: its keys
   * must come after that end. The registrar never loses them. */
  for (size_t i = 0; i < rs->n && !rc; i++) {
    if (reg_known && memcmp(rs->r[i].node, reg, KR_NODE_LEN) == 0) continue;
    for (size_t e = 0; e < x.ends.n; e++)
      if ((!memcmp(x.ends.r[e].node, all, KR_NODE_LEN) ||
           !memcmp(x.ends.r[e].node, rs->r[i].node, KR_NODE_LEN)) &&
          x.ends.r[e].since > rs->r[i].since)
        rs->r[i].since = x.ends.r[e].since;
  }
  free(x.ends.r);
  if (rc) {
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
  }
  return rc;
}

/* ---- this node's own access ------------------------------------------------ */

/* The first hlc of the day after day (YYYY-MM-DD) on this node's
 * calendar: local midnight, as kr_node_today tells the day (docs/crdt.md:
 * an end date is the last valid day where the node is). */
static kr_hlc day_after(const char *day)
{
  struct tm tm;
  time_t t;
  memset(&tm, 0, sizeof tm);
  if (sscanf(day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_mday += 1;
  tm.tm_isdst = -1;                    /* whatever the zone's rule is that day */
  if ((t = mktime(&tm)) == (time_t)-1 || t < 0) return 0;
  return kr_hlc_make((uint64_t)t * 1000u, 0);
}

typedef struct {
  int reader;
  kr_hlc lost;               /* the latest event that ended this node's access */
  int expired;               /* that event was an expiry */
} mine;

static int mine_cb(void *ctx, const uint8_t *rcpt, kr_consent_state st, kr_hlc granted,
                   const char *until, kr_hlc withdrawn)
{
  mine *x = ctx;
  (void)rcpt;
  (void)granted;
  if (st == KR_CONSENT_GRANTED) {
    x->reader = 1;
  } else if (st == KR_CONSENT_EXPIRED) {
    kr_hlc t = day_after(until);
    if (t > x->lost) { x->lost = t; x->expired = 1; }
  } else if (st == KR_CONSENT_WITHDRAWN && withdrawn > x->lost) {
    x->lost = withdrawn;
    x->expired = 0;
  }
  return 0;
}

/* Delete what this node knows of sn in plain text, and its keys of sn;
 * note it for kring log and status. The sealed groups stay, and so do the
 * key ops sealed to this node (every node relays them): should a grant
 * make it a reader again, it opens them again (recover). why NULL: not
 * noted again (a key that came after the loss, deleted too). */
static int lose_access(kr_node *n, sqlite3_int64 sn, const char *why)
{
  sqlite3_stmt *s;
  int rc;

  if ((rc = kr__forget_plain(n, sn))) return rc;
  if (prep(n, "DELETE FROM vkeys WHERE subj=?1", &s)) return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  if ((rc = done(s))) return rc;
  /* every key op sealed to it is to be opened again should it read sn
   * again (recover), not only those of epochs it will hold no key of: a
   * reader may hold two keys of one epoch, and send both */
  if (prep(n, "UPDATE keyops SET tried=0 WHERE subj=?1 AND reader=" NODE_NO("?2"), &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  if ((rc = done(s)) || !why) return rc;
  if (prep(n, "INSERT INTO access(subject, at, why) SELECT id, ?2, ?3 FROM subjects WHERE n=?1",
           &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)kr_node_now_ms(n));
  sqlite3_bind_text(s, 3, why, -1, SQLITE_STATIC);
  return done(s);
}

static int recover(kr_node *n, sqlite3_int64 sn);
static int replay(kr_node *n, sqlite3_int64 sn);

/*
 * Does this node still read sn? If it holds keys of sn but no consent in
 * force names it (as far as it reads sn's consent), and it is not the
 * registrar, it forgets sn: its plain text and its keys. Whatever the
 * stamps of its keys: a reader that has not yet seen a withdrawal still
 * seals new epochs to the former reader, stamped after it; and a reader
 * may send a key ahead of the grant that makes this node a reader (from
 * another node). Such a key is deleted too, and opened again from its
 * key op (every node keeps and relays it) once the grant is read: every
 * grant carries, in its own change, the keys its recipient needs to read
 * it (recover). quiet: this node did not read sn when the transaction
 * began (it opened its key ops again to decide anew): a loss is not noted
 * twice.
 */
static int check_mine(kr_node *n, view *v, sqlite3_int64 sn, int removed, int quiet)
{
  sqlite3_stmt *s;
  uint8_t reg[KR_NODE_LEN];
  mine x = {0, 0, 0}, first;
  int rc, has;

  if (prep(n, "SELECT 1 FROM vkeys WHERE subj=?1 LIMIT 1", &s)) return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  has = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  if (!has) return 0;
  if (removed) {
    view_dirty(v);
    return lose_access(n, sn, "this node was removed from the network");
  }
  /* No registration yet: the volunteer's first change has not come, so
   * nothing it holds is decided yet (no writer counts before it): wait. */
  if ((rc = view_registrar(n, v, sn, reg)) != 1) return rc < 0 ? rc : 0;
  if (memcmp(reg, kr_node_id(n), KR_NODE_LEN) == 0) return 0;
  /* a node that registered sn itself reads it, whoever else claims to
   * have registered it earlier */
  if (prep(n, "SELECT 1 FROM ops p JOIN changes c ON c.n=p.chg JOIN origins o ON o.n=c.origin"
              " WHERE p.subj=?1 AND p.type=15 AND o.key=?2 LIMIT 1", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  has = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  if (has) return 0;
  if ((rc = each_register(n, v, sn, kr_node_id(n), mine_cb, &x))) return rc;
  /* The keys sealed to this node that it deleted (its access ended, or a
   * key came ahead of its grant) are opened again before it decides: the
   * groups they open may hold consent too, the grant naming it among them
   * (its writer took this node for a reader already, and so sealed it no
   * key in the grant's change; and the readers, seeing its key ops, send
   * none). A reader reads that consent again, and so does a node that
   * reads none naming it with the keys it holds now. */
  first = x;
  if ((rc = recover(n, sn)) < 0) return rc;
  if (rc > 0) {
    view_dirty(v);                     /* the groups opened may hold consent */
    memset(&x, 0, sizeof x);
    if ((rc = each_register(n, v, sn, kr_node_id(n), mine_cb, &x))) return rc;
    /* it reads on when a consent those keys open names it (its grant may
     * be in an epoch it held no key of); else a node that read none naming
     * it before notes no loss now */
    if (!x.reader && !first.reader) x = first;
  }
  if (x.reader) return 0;
  /* no consent in force names it: a key came without one (a reader that
   * has not seen a withdrawal, another reader's key ahead of the grant, a
   * reader's mistake); forgotten at once, noted only when consent ended */
  view_dirty(v);
  return lose_access(n, sn, !x.lost || quiet ? NULL
                            : x.expired ? "consent expired" : "consent withdrawn");
}

/* ---- keys ---------------------------------------------------------------- */

/* The key this node shares with node other for key ops (kr_pair_key),
 * kept for the life of the handle: one X25519 (and one conversion of
 * other's Ed25519 key) per pair, not per key op. */
struct kr_pair {
  uint8_t node[KR_NODE_LEN], key[KR_KEY_LEN];
  int used;
};
#define PAIRS 64

static int pair_key(kr_node *n, const uint8_t *other, uint8_t key[KR_KEY_LEN])
{
  uint8_t xpk[32];
  size_t h = other[0] % PAIRS;
  struct kr_pair *p = NULL;

  if (!n->pairs) {
    if (!(n->pairs = sodium_malloc(PAIRS * sizeof *n->pairs))) return KR_ENOMEM;
    sodium_memzero(n->pairs, PAIRS * sizeof *n->pairs);
  }
  for (size_t i = 0; i < PAIRS; i++) {
    struct kr_pair *q = &n->pairs[(h + i) % PAIRS];
    if (q->used && memcmp(q->node, other, KR_NODE_LEN) == 0) {
      memcpy(key, q->key, KR_KEY_LEN);
      return 0;
    }
    if (!q->used) {
      p = q;
      break;
    }
  }
  if (crypto_sign_ed25519_pk_to_curve25519(xpk, other) != 0 ||
      kr_pair_key(n->sk + KR_SK_LEN + 32, n->sk + KR_SK_LEN, xpk, key)) /* xsk, xpk */
    return KR_EINVAL;
  if (p) {                             /* full: computed each time */
    memcpy(p->node, other, KR_NODE_LEN);
    memcpy(p->key, key, KR_KEY_LEN);
    p->used = 1;
  }
  return 0;
}


typedef struct {
  sqlite3_int64 sn, chg;
  uint32_t place;
} reopen_at;

uint8_t *kr__fresh(const kr_node *n, sqlite3_int64 sn)
{
  if (!n->fresh || !n->fresh_from || sn < n->fresh_from ||
      (uint64_t)(sn - n->fresh_from) >= n->fresh_cap)
    return NULL;
  return &n->fresh[sn - n->fresh_from];
}

/* 0 when no group of sn can be stored before this key op: sn was made for
 * the change being applied, and no group of it came earlier in that change
 * (the usual case: a change carries a new volunteer's key ops before its
 * group). Else 1: look (reopen). */
static int stored_before(kr_node *n, sqlite3_int64 sn)
{
  const uint8_t *f = kr__fresh(n, sn);
  return !f || (*f & KR_FRESH_GROUP);
}

void kr__group_seen(kr_node *n, sqlite3_int64 sn)
{
  uint8_t *f = kr__fresh(n, sn);
  if (f) *f |= KR_FRESH_GROUP;
}

int kr__key_op(kr_node *n, sqlite3_int64 sn, const kr_op *op, const uint8_t *origin, kr_hlc hlc,
               sqlite3_int64 chg, kr_chgctx *x, uint32_t place)
{
  sqlite3_stmt *s;
  uint8_t key[KR_KEY_LEN];
  /* Only the epoch's creator vouches for its key: a key any other node
   * sends is read with, never written under (another node may have sealed
   * a key of its own as this epoch's, with groups that it opens). */
  int trusted = memcmp(origin, op->creator, KR_NODE_LEN) == 0, rc;
  sqlite3_int64 cno, rno, ono;

  /* (numbers first: the lookups share the one statement s is not) */
  if ((rc = kr__node_no(n, op->creator, 1, &cno)) || (rc = kr__node_no(n, op->member, 1, &rno)) ||
      (rc = kr__node_no(n, origin, 1, &ono)))
    return rc;
  /* (tried: this node opens one sealed to it now; recover marks the
   * others it opens again) */
  if (prep(n, "INSERT INTO keyops(subj,en,creator,reader,hlc,origin,tried)"
              " VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(subj,en,creator,reader,hlc,origin) DO UPDATE"
              " SET tried=1 WHERE ?7", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)(op->epoch > INT64_MAX ? INT64_MAX : op->epoch));
  sqlite3_bind_int64(s, 3, cno);
  sqlite3_bind_int64(s, 4, rno);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)hlc);
  sqlite3_bind_int64(s, 6, ono);
  sqlite3_bind_int(s, 7, !n->in_recover && memcmp(op->member, kr_node_id(n), KR_NODE_LEN) == 0);
  if ((rc = done(s))) return rc;
  if (memcmp(op->member, kr_node_id(n), KR_NODE_LEN) != 0) return 0;
  /* Sealed to this node. One that does not open (sealed to another key,
   * or damaged) is ignored: the reader waits for a key that opens. */
  {
    uint8_t pair[KR_KEY_LEN];
    if ((rc = kr__chgctx_get(n, x, chg))) return rc;
    if ((rc = pair_key(n, origin, pair)) == KR_ENOMEM) return rc;
    if (!rc) rc = kr_key_open(pair, n->network, origin, x->nonce, place, op, key);
    sodium_memzero(pair, sizeof pair);
    if (rc) return 0;
  }
  if (prep(n, "INSERT OR IGNORE INTO vkeys(subj,en,creator,key,got,trusted)"
              " VALUES(?1,?2,?3,?4,?5,?6)", &s)) {
    sodium_memzero(key, sizeof key);
    return KR_EDB;
  }
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)(op->epoch > INT64_MAX ? INT64_MAX : op->epoch));
  sqlite3_bind_int64(s, 3, cno);
  sqlite3_bind_blob(s, 4, key, KR_KEY_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)hlc);
  sqlite3_bind_int(s, 6, trusted);
  rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) {
    sodium_memzero(key, sizeof key);
    sqlite3_finalize(s);
    return kr__db_err(rc);
  }
  sqlite3_finalize(s);
  rc = 0;
  if (sqlite3_changes(n->db) == 0) {
    /* held already (from another node): the creator's own key op vouches */
    if (trusted && !prep(n, "UPDATE vkeys SET trusted=1 WHERE subj=?1 AND en=?2 AND creator=?3"
                            " AND key=?4", &s)) {
      sqlite3_bind_int64(s, 1, sn);
      sqlite3_bind_int64(s, 2, (sqlite3_int64)(op->epoch > INT64_MAX ? INT64_MAX : op->epoch));
      sqlite3_bind_int64(s, 3, cno);
      sqlite3_bind_blob(s, 4, key, KR_KEY_LEN, SQLITE_STATIC);
      rc = done(s);
    }
    sodium_memzero(key, sizeof key);
    return rc;
  }
  sodium_memzero(key, sizeof key);
  if (stored_before(n, sn)) {
    /* the groups stored before this key op may open now */
    reopen_at r = {sn, chg, place};
    if ((rc = kr__ids_add(&n->reopen, &r, sizeof r))) return rc;
  }
  return kr__touch(n, sn);
}

int kr__register_op(kr_node *n, sqlite3_int64 sn, const kr_stamp *st)
{
  sqlite3_stmt *s;
  sqlite3_int64 no;
  int rc;
  /* the earliest stamp counts; on a tie of hlc the lower origin id */
  if ((rc = kr__node_no(n, st->origin, 1, &no))) return rc;
  if (prep(n, "INSERT INTO registrations(subj,hlc,origin,idx) VALUES(?1,?2,?5,?4) ON CONFLICT(subj)"
              " DO UPDATE SET hlc=?2, origin=?5, idx=?4 WHERE ?2<hlc OR (?2=hlc AND (?3<"
              NODE_ID("origin") " OR (?5=origin AND ?4<idx)))", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)st->hlc);
  sqlite3_bind_blob(s, 3, st->origin, KR_NODE_LEN, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 4, st->idx);
  sqlite3_bind_int64(s, 5, no);
  return done(s);
}

/* ---- opening groups -------------------------------------------------------- */

/* Did origin read sn just before stamp hlc? The registrar always; any other
 * node while a consent naming it (or all) was in force, as the registers
 * stood before that stamp. Only a reader's group counts (docs/crdt.md,
 * "Who writes"): a member that may not read V cannot make its own epoch,
 * seal it to a reader, and so write V's values or consent. */
static int was_reader(kr_node *n, sqlite3_int64 sn, const uint8_t *origin, kr_hlc hlc)
{
  sqlite3_stmt *s;
  uint8_t reg[KR_NODE_LEN];
  const uint8_t *f = kr__fresh(n, sn);
  int rc = 0, yes = 0;

  /* made for this change: registered by its writer in it, or by no one */
  if (f && (*f & KR_FRESH_REG)) return 1;
  if (!f && registrar(n, sn, reg) == 1 && memcmp(reg, origin, KR_NODE_LEN) == 0) return 1;
  if (prep(n, "SELECT DISTINCT purpose, " RCPT_ID("recipient") " FROM consent_ops WHERE"
              " subj=?1 AND (recipient=" RCPT_NO("?2") " OR recipient=0) AND hlc<?3", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, origin, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)hlc);
  while (!yes && !rc && kr__step(s, &rc)) {
    char purpose[KR_PURPOSE_MAX + 1];
    uint8_t rcpt[KR_NODE_LEN];
    int rlen = sqlite3_column_bytes(s, 1);
    if (rlen != 0 && rlen != KR_NODE_LEN) continue;
    snprintf(purpose, sizeof purpose, "%s", (const char *)sqlite3_column_text(s, 0));
    if (rlen) memcpy(rcpt, sqlite3_column_blob(s, 1), KR_NODE_LEN);
    rc = kr__consent_granted_before(n, sn, purpose, rlen ? (const void *)rcpt : "", rlen, hlc, &yes);
  }
  sqlite3_reset(s);
  return rc ? rc : yes;
}

/* A group's consent, a withdrawal or a registration arrived with a stamp
 * before a group or a withdrawal of sn already decided (whether its writer
 * read sn then may have changed): sn is folded again, in stamp order
 * (kr__finish). */
static int late(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, kr_hlc hlc)
{
  sqlite3_stmt *s;
  int later;
  if (n->in_replay) return 0;
  /* made for the change being applied: no other change holds an op of it */
  if (n->fresh_from && sn >= n->fresh_from) return 0;
  if (prep(n, "SELECT 1 FROM ops p JOIN changes c ON c.n=p.chg WHERE p.subj=?1 AND (p.type=5 OR"
              " (p.type IN (14,15) AND p.field&1)) AND p.chg<>?2 AND c.hlc>=?3 LIMIT 1", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, chg);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)hlc);
  later = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_reset(s);
  return later ? kr__ids_add(&n->replay, &sn, sizeof sn) : 0;
}

/* 1 when a key op sealed to this node (of the epoch of group g, if g) was
 * not tried since this node last deleted its keys of sn (its access
 * ended, or a key came ahead of the consent that makes it a reader). */
static int keys_to_recover(kr_node *n, sqlite3_int64 sn, const kr_op *g)
{
  sqlite3_stmt *s;
  int any;
  if (prep(n, "SELECT 1 FROM keyops k WHERE k.subj=?1 AND k.reader=" NODE_NO("?2") " AND (?3 IS"
              " NULL OR (k.en=?3 AND k.creator=" NODE_NO("?4") ")) AND NOT k.tried LIMIT 1", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  if (g) {
    sqlite3_bind_int64(s, 3, (sqlite3_int64)(g->epoch > INT64_MAX ? INT64_MAX : g->epoch));
    sqlite3_bind_blob(s, 4, g->creator, KR_NODE_LEN, SQLITE_STATIC);
  }
  any = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_reset(s);
  return any;
}

int kr__withdrawal(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, const kr_op *op,
                   const kr_stamp *st, const uint8_t tag[KR_TAG_LEN], uint64_t seq)
{
  int rc;
  /* only where this node reads V (else it waits, stored, for a replay once
   * it reads V), and only a reader's withdrawal counts. A node that read V
   * and stopped may have stopped by a withdrawal this one voids (stamped
   * before it, this one's writer was a reader and the other's was not):
   * it opens the key ops sealed to it again and decides anew (kr__finish,
   * recover; check_mine deletes them again if no consent names it). */
  if (!n->in_replay && !kr__readable(n, sn)) {
    uint8_t reg[KR_NODE_LEN];
    if ((rc = registrar(n, sn, reg)) <= 0 || (rc = keys_to_recover(n, sn, NULL)) <= 0) return rc;
    return kr__ids_add(&n->retry, &sn, sizeof sn);
  }
  if ((rc = was_reader(n, sn, st->origin, st->hlc)) <= 0) return rc;
  if ((rc = kr__apply_op(n, sn, op, st, tag, seq)) || (rc = kr__touch(n, sn))) return rc;
  return late(n, sn, chg, st->hlc);
}

int kr__registered(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, const kr_stamp *st)
{
  uint8_t *f = kr__fresh(n, sn);
  int rc = kr__register_op(n, sn, st);
  if (!rc && f) *f |= KR_FRESH_REG;
  return rc ? rc : late(n, sn, chg, st->hlc);
}

static int bad_group(kr_node *n, sqlite3_int64 chg, uint32_t place, const char *why)
{
  sqlite3_stmt *s;
  if (prep(n, "INSERT OR REPLACE INTO bad_groups(chg,idx,why) VALUES(?1,?2,?3)", &s)) return KR_EDB;
  sqlite3_bind_int64(s, 1, chg);
  sqlite3_bind_int64(s, 2, place);
  sqlite3_bind_text(s, 3, why, -1, SQLITE_TRANSIENT);
  return done(s);
}

/* 1 when sn has a group or withdrawal stored besides the group at (chg,
 * place): only then can folding sn again change what it reads (a new
 * volunteer's first group, the usual case, has none). */
static int others(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, uint32_t place)
{
  sqlite3_stmt *s;
  int rc;
  if (prep(n, "SELECT 1 FROM ops WHERE subj=?1 AND (type=5 OR (type IN (14,15) AND field&1)) AND"
              " body IS NOT NULL AND"
              " NOT (chg=?2 AND idx=?3) LIMIT 1", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, chg);
  sqlite3_bind_int64(s, 3, place);
  rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : kr__db_err(rc);
}

int kr__group_apply(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, kr_chgctx *x,
                    const uint8_t origin[static KR_NODE_LEN], uint64_t seq, kr_hlc hlc,
                    uint32_t place, const kr_op *g, int *opened)
{
  sqlite3_stmt *s;
  kr_buf plain;
  kr_op *ops = NULL;
  uint32_t nops = 0;
  void *mem = NULL;
  const char *why = NULL;
  uint8_t key[KR_KEY_LEN];
  int rc = 0, ok = 0, consent = 0, known = 0, own = 0;

  *opened = 0;
  /* A subject made for the change being applied (not this node's own) has
   * keys from that change alone: none here when it holds no key entry
   * sealed to this node. (Nothing below would open the box or note it.) */
  if (!n->authoring && kr__fresh(n, sn) && !n->keys_me) return 0;
  /* x holds chg: nothing below reads another change's (it is used before
   * anything that may) */
  if ((rc = kr__chgctx_get(n, x, chg))) return rc;
  if (prep(n, "SELECT key, ok FROM vkeys WHERE subj=?1 AND en=?2 AND creator=" NODE_NO("?3")
              " ORDER BY ok DESC",
           &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)(g->epoch > INT64_MAX ? INT64_MAX : g->epoch));
  sqlite3_bind_blob(s, 3, g->creator, KR_NODE_LEN, SQLITE_STATIC);
  kr_buf_init(&plain, KR_CHANGE_MAX);
  /* this node's own change, just sealed: its key, held (ok) since, and
   * the ops it sealed in the box (no need to open and decode it again) */
  if (n->own && place < n->nown && n->own[place].has && seq == n->own_seq &&
      memcmp(origin, kr_node_id(n), KR_NODE_LEN) == 0) {
    ok = known = own = 1;
    memcpy(key, n->own[place].key, KR_KEY_LEN);
    ops = (kr_op *)n->own[place].ops;
    nops = n->own[place].nops;
  }
  while (!ok && sqlite3_step(s) == SQLITE_ROW)
    if (sqlite3_column_bytes(s, 0) == KR_KEY_LEN &&
        kr_group_open(sqlite3_column_blob(s, 0), n->network, origin, seq, x->nonce, place, g,
                      &plain) == 0) {
      ok = 1;
      memcpy(key, sqlite3_column_blob(s, 0), KR_KEY_LEN);
      known = sqlite3_column_int(s, 1);
    }
  sqlite3_finalize(s);
  if (!ok) {
    /* Sealed for this node. One that reads nothing of sn may hold a key op
     * of this very epoch sealed to it, whose key it deleted when its
     * access ended: the group may hold a grant naming it that its writer
     * made taking it for a reader still (so with no key for it), concurrent
     * with what ended its access. It opens the key ops sealed to it again
     * and decides anew (kr__finish, recover; check_mine deletes them again,
     * unnoted, if no consent names it). A subject made for the change
     * being applied has key ops from that change alone: none to this node
     * when the change holds no key entry for it. */
    if (!n->in_replay && !(kr__fresh(n, sn) && !n->keys_me) && !kr__readable(n, sn) &&
        (rc = keys_to_recover(n, sn, g)) > 0) {
      uint8_t reg[KR_NODE_LEN];
      if ((rc = registrar(n, sn, reg)) > 0) rc = kr__ids_add(&n->retry, &sn, sizeof sn);
    }
    goto out;
  }
  if (!ops && (rc = kr_group_decode(plain.data, plain.len, g->subject, &x->t, &ops, &nops, &mem))) {
    rc = bad_group(n, chg, place, "its ops cannot be decoded");
    goto out;
  }
  if ((rc = kr__ops_rules(ops, nops, hlc, own, &why))) {
    rc = bad_group(n, chg, place, why ? why : "a value breaks the field rules");
    goto out;
  }
  /* written by a node that did not read the volunteer then: no effect
   * (kept; folded again should a consent stamped before it arrive) */
  if ((rc = was_reader(n, sn, origin, hlc)) <= 0) goto out;
  rc = 0;
  if (!known) {
    /* the key opened a group whose ops pass: it is the epoch's key and this
     * node reads the volunteer (a key op may carry any 32 bytes, and a box
     * of a hostile member's may hold anything) */
    sqlite3_stmt *u;
    if (prep(n, "UPDATE vkeys SET ok=1 WHERE subj=?1 AND en=?2 AND creator=" NODE_NO("?3")
                " AND key=?4", &u)) {
      rc = KR_EDB;
      goto out;
    }
    sqlite3_bind_int64(u, 1, sn);
    sqlite3_bind_int64(u, 2, (sqlite3_int64)(g->epoch > INT64_MAX ? INT64_MAX : g->epoch));
    sqlite3_bind_blob(u, 3, g->creator, KR_NODE_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(u, 4, key, KR_KEY_LEN, SQLITE_STATIC);
    if ((rc = done(u))) goto out;
    /* whether this node still reads sn is checked again at the end of the
     * transaction (check_mine); the withdrawals (clear) stored while it
     * read nothing of sn count now: fold sn again */
    if ((rc = kr__touch(n, sn))) goto out;
    if (!n->in_replay && (rc = others(n, sn, chg, place)) > 0 &&
        (rc = kr__ids_add(&n->replay, &sn, sizeof sn)))
      goto out;
    if (rc < 0) goto out;
    rc = 0;
  }
  for (uint32_t j = 0; j < nops && !rc; j++) {
    kr_stamp st = {.hlc = hlc, .idx = KR_OP_IDX(place, j)};
    uint8_t tag[KR_TAG_LEN];
    memcpy(st.origin, origin, KR_NODE_LEN);
    if (KR_OP_IS_TAGGED(ops[j].type)) kr_op_tag(origin, seq, st.idx, tag);
    else memset(tag, 0, sizeof tag);           /* (a hash per op saved: no rule reads it) */
    rc = kr__apply_op(n, sn, &ops[j], &st, tag, seq);
    consent |= ops[j].type == KR_OP_GRANT || ops[j].type == KR_OP_WITHDRAW;
  }
  if (!rc) *opened = 1;
  if (!rc && consent) rc = kr__touch(n, sn);
  if (!rc && consent) rc = late(n, sn, chg, hlc);
out:
  sodium_memzero(key, sizeof key);
  sodium_memzero(plain.data, plain.cap);
  free(mem);
  kr_buf_free(&plain);
  return rc;
}

/* Fold into sn the rows of s, in its order: each a group (opened where a
 * key is held) or a withdrawal; columns: body, place, seq, hlc, origin key,
 * origin number, change number. (The row writes its full-text entry
 * itself: vstate.c.) */
static int fold(kr_node *n, sqlite3_int64 sn, sqlite3_stmt *s)
{
  kr_chgctx x = {0};             /* rows by change: a header read once */
  int rc = 0;

  while (!rc && kr__step(s, &rc)) {
    kr_op g;
    void *mem = NULL;
    int opened;
    kr_op part;
    if (kr__op_parse_at(n, &x, sqlite3_column_int64(s, 6), sn, sqlite3_column_blob(s, 0),
                        sqlite3_column_bytes(s, 0), &g, &mem)) {
      free(mem);
      kr__chgctx_free(&x);
      return KR_EDB;
    }
    n->cur_origin = sqlite3_column_int64(s, 5);
    if (g.type == KR_OP_WITHDRAW) {
      kr_stamp st = {.hlc = (kr_hlc)sqlite3_column_int64(s, 3),
                     .idx = KR_OP_IDX(sqlite3_column_int64(s, 1), 0)};
      uint8_t tag[KR_TAG_LEN];
      uint64_t seq = (uint64_t)sqlite3_column_int64(s, 2);
      memcpy(st.origin, sqlite3_column_blob(s, 4), KR_NODE_LEN);
      kr_op_tag(st.origin, seq, st.idx, tag);
      rc = kr__withdrawal(n, sn, sqlite3_column_int64(s, 6), &g, &st, tag, seq);
    } else if (kr_record_group(&g, &part)) {
      rc = kr__group_apply(n, sn, sqlite3_column_int64(s, 6), &x, sqlite3_column_blob(s, 4),
                           (uint64_t)sqlite3_column_int64(s, 2), (kr_hlc)sqlite3_column_int64(s, 3),
                           (uint32_t)sqlite3_column_int64(s, 1), &part, &opened);
    }
    free(mem);
  }
  kr__chgctx_free(&x);
  return rc;
}

/* Open every group of sn stored before change chg's op place that this
 * node now holds a key for (later ones were opened on arrival). */
static int reopen(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, uint32_t place)
{
  sqlite3_stmt *s;
  int rc;

  if (prep(n, "SELECT p.body, p.idx, c.seq, c.hlc, o.key, o.n, c.n FROM ops p JOIN changes c ON"
              " c.n=p.chg JOIN origins o ON o.n=c.origin WHERE p.subj=?1 AND p.type IN (14,15)"
              " AND p.field&1 AND p.body IS NOT NULL AND (p.chg<?2 OR (p.chg=?2 AND p.idx<?3))"
              " ORDER BY c.hlc, o.key, p.idx", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, chg);
  sqlite3_bind_int64(s, 3, place);
  rc = fold(n, sn, s);
  sqlite3_finalize(s);
  return rc;
}

/* A reader again: open the key ops sealed to this node not tried since it
 * deleted its keys of sn (when its access ended, or as keys without
 * consent), and the groups they open. 1 when it opened any, 0 when there
 * were none. */
static int recover(kr_node *n, sqlite3_int64 sn)
{
  sqlite3_stmt *s;
  kr_chgctx x = {0};
  int rc = 0, any = 0;

  if ((rc = keys_to_recover(n, sn, NULL)) <= 0) return rc;
  rc = 0;
  if (prep(n, "SELECT p.body, c.hlc, o.key, c.n, p.idx FROM ops p JOIN changes c ON c.n=p.chg"
              " JOIN origins o ON o.n=c.origin WHERE p.subj=?1 AND p.type IN (14,15) AND"
              " p.field&2 AND p.body IS NOT NULL ORDER BY c.hlc, o.key, p.idx", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  /* every entry is checked against the rows as they stood before this
   * loop opened any: two key ops of one origin, stamp and (epoch, reader)
   * (two changes) are one row, and the first must not mark the second */
  n->in_recover = 1;
  while (!rc && kr__step(s, &rc)) {
    kr_op rec, op;
    void *mem = NULL;
    if (kr__op_parse_at(n, &x, sqlite3_column_int64(s, 3), sn, sqlite3_column_blob(s, 0),
                        sqlite3_column_bytes(s, 0), &rec, &mem) ||
        !KR_OP_IS_RECORD(rec.type) || sqlite3_column_bytes(s, 2) != KR_NODE_LEN) {
      free(mem);
      continue;
    }
    for (uint32_t k = 0; !rc && k < rec.nkeys; k++) {
      sqlite3_stmt *v;
      int held = 1;
      if (memcmp(rec.keys[k].reader, kr_node_id(n), KR_NODE_LEN) != 0) continue;
      kr_record_key(&rec, k, &op);
      /* tried since its keys were deleted: (kr__key_op marks it) */
      if (!prep(n, "SELECT tried FROM keyops WHERE subj=?1 AND en=?2 AND creator=" NODE_NO("?3")
                   " AND reader=" NODE_NO("?4") " AND hlc=?5 AND origin=" NODE_NO("?6"), &v)) {
        sqlite3_bind_int64(v, 1, sn);
        sqlite3_bind_int64(v, 2, (sqlite3_int64)op.epoch);
        sqlite3_bind_blob(v, 3, op.creator, KR_NODE_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(v, 4, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(v, 5, sqlite3_column_int64(s, 1));
        sqlite3_bind_blob(v, 6, sqlite3_column_blob(s, 2), KR_NODE_LEN, SQLITE_STATIC);
        held = sqlite3_step(v) != SQLITE_ROW || sqlite3_column_int(v, 0);
        sqlite3_finalize(v);
      }
      if (!held) {
        rc = kr__key_op(n, sn, &op, sqlite3_column_blob(s, 2), (kr_hlc)sqlite3_column_int64(s, 1),
                        sqlite3_column_int64(s, 3), &x, (uint32_t)sqlite3_column_int64(s, 4));
        any = 1;
      }
    }
    free(mem);
  }
  sqlite3_finalize(s);
  kr__chgctx_free(&x);
  n->in_recover = 0;
  /* each key op sealed to it is tried now (also one whose entry no longer
   * parses: it would never open) */
  if (!rc && !prep(n, "UPDATE keyops SET tried=1 WHERE subj=?1 AND reader=" NODE_NO("?2")
                      " AND NOT tried", &s)) {
    sqlite3_bind_int64(s, 1, sn);
    sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
    rc = done(s);
  } else if (!rc) {
    rc = KR_EDB;
  }
  /* Fold sn again from all its groups and withdrawals, in stamp order: a
   * group these keys open may hold the grant that made a writer a reader
   * before a later group or withdrawal (its own, say), decided while this
   * node held none of these keys. */
  if (!rc && any) rc = replay(n, sn);
  return rc ? rc : any;
}

/* Fold sn again from its groups, in stamp order: a consent or registration
 * stamped before a group already decided arrived later than it (whether
 * that group's writer read sn then may have changed). */
static int replay(kr_node *n, sqlite3_int64 sn)
{
  sqlite3_stmt *s;
  int rc;

  if ((rc = kr__forget_plain(n, sn))) return rc;
  if (prep(n, "SELECT p.body, p.idx, c.seq, c.hlc, o.key, o.n, c.n FROM ops p JOIN changes c"
              " ON c.n=p.chg JOIN origins o ON o.n=c.origin WHERE p.subj=?1 AND (p.type=5 OR"
              " (p.type IN (14,15) AND p.field&1)) AND p.body IS NOT NULL ORDER BY c.hlc, o.key, p.idx", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  n->in_replay = 1;
  rc = fold(n, sn, s);
  sqlite3_reset(s);
  n->in_replay = 0;
  n->need_fts_optimize = 1;
  return rc ? rc : kr__touch(n, sn);
}

/* ---- sealing a local change ------------------------------------------------ */

/* 1 when a key op of origin vouches that its reader holds an epoch of
 * creator: it comes from the creator, this node or a reader (a node that
 * never held the key cannot give it, and must not make others think it
 * did). */
static int vouches(kr_node *n, const readers *rs, const void *origin, int len, const void *creator)
{
  if (len != KR_NODE_LEN) return 0;
  return memcmp(origin, creator, KR_NODE_LEN) == 0 ||
         memcmp(origin, kr_node_id(n), KR_NODE_LEN) == 0 || readers_has(rs, origin);
}

/* The epoch this node writes sn under: the newest it holds whose every
 * holder (its creator, every node a key op gave it to) is still a reader,
 * and of which it holds one trusted key only (made here, or sent by the
 * epoch's creator). 1 and the epoch, or 0 for none. */
static int usable_epoch(kr_node *n, sqlite3_int64 sn, const readers *rs, uint64_t *en,
                        uint8_t creator[KR_NODE_LEN], uint8_t key[KR_KEY_LEN])
{
  sqlite3_stmt *s, *h;
  int rc = 0, found = 0;

  if (prep(n, "SELECT en, " NODE_ID("creator") ", min(key), count(*) FROM vkeys WHERE subj=?1 AND ok"
              " AND trusted GROUP BY en, creator ORDER BY en DESC, 2 DESC", &s))
    return KR_EDB;
  if (prep(n, "SELECT r.id, o.id FROM keyops k JOIN nodes r ON r.n=k.reader JOIN nodes o ON"
              " o.n=k.origin WHERE k.subj=?1 AND k.en=?2 AND k.creator=" NODE_NO("?3"), &h)) {
    sqlite3_finalize(s);
    return KR_EDB;
  }
  sqlite3_bind_int64(s, 1, sn);
  while (!found && !rc && kr__step(s, &rc)) {
    const uint8_t *c = sqlite3_column_blob(s, 1);
    int ok;
    if (sqlite3_column_int(s, 3) != 1 || sqlite3_column_bytes(s, 1) != KR_NODE_LEN ||
        sqlite3_column_bytes(s, 2) != KR_KEY_LEN)
      continue;
    ok = readers_has(rs, c);
    sqlite3_reset(h);
    sqlite3_bind_int64(h, 1, sn);
    sqlite3_bind_int64(h, 2, sqlite3_column_int64(s, 0));
    sqlite3_bind_blob(h, 3, c, KR_NODE_LEN, SQLITE_STATIC);
    while (ok && sqlite3_step(h) == SQLITE_ROW)
      if (vouches(n, rs, sqlite3_column_blob(h, 1), sqlite3_column_bytes(h, 1), c) &&
          !readers_has(rs, sqlite3_column_blob(h, 0)))
        ok = 0;
    if (!ok) continue;
    *en = (uint64_t)sqlite3_column_int64(s, 0);
    memcpy(creator, c, KR_NODE_LEN);
    memcpy(key, sqlite3_column_blob(s, 2), KR_KEY_LEN);
    found = 1;
  }
  sqlite3_finalize(s);
  sqlite3_finalize(h);
  return rc ? rc : found;
}

static int store_key(kr_node *n, sqlite3_int64 sn, uint64_t en, const uint8_t *creator,
                     const uint8_t *key, kr_hlc got)
{
  sqlite3_stmt *s;
  sqlite3_int64 cno;
  int rc;
  if ((rc = kr__node_no(n, creator, 1, &cno))) return rc;
  if (prep(n, "INSERT OR IGNORE INTO vkeys(subj,en,creator,key,got,ok,trusted)"
              " VALUES(?1,?2,?3,?4,?5,1,1)", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)en);
  sqlite3_bind_int64(s, 3, cno);
  sqlite3_bind_blob(s, 4, key, KR_KEY_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)got);
  return done(s);
}

/* A growable list of ops and the memory they point to. */
typedef struct {
  kr_op *op;
  size_t n, cap;
  void **own;
  size_t nown, owncap;
} oplist;

static kr_op *oplist_next(oplist *l)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    kr_op *p = realloc(l->op, cap * sizeof *p);
    if (!p) return NULL;
    l->op = p;
    l->cap = cap;
  }
  memset(&l->op[l->n], 0, sizeof l->op[0]);
  return &l->op[l->n++];
}

static void *oplist_own(oplist *l, size_t len)
{
  void *p;
  if (l->nown == l->owncap) {
    size_t cap = l->owncap ? 2 * l->owncap : 16;
    void **q = realloc(l->own, cap * sizeof *q);
    if (!q) return NULL;
    l->own = q;
    l->owncap = cap;
  }
  if (!(p = malloc(len ? len : 1))) return NULL;
  l->own[l->nown++] = p;
  return p;
}

static void oplist_free(oplist *l)
{
  for (size_t i = 0; i < l->n; i++)              /* a key not sealed yet (key_op) */
    if (l->op[i].type == KR_OP_KEY && l->op[i].box_len == KR_KEY_LEN)
      sodium_memzero((void *)l->op[i].box, KR_KEY_LEN);
  for (size_t i = 0; i < l->nown; i++) free(l->own[i]);
  free(l->own);
  free(l->op);
  memset(l, 0, sizeof *l);
}

/* A key op giving reader the key of (sn's subject, en, creator). Its box
 * holds the key itself (KR_KEY_LEN bytes): kr__seal_change packs it into
 * its record and seals it there, at the record's place and the entry's
 * slot under the change's nonce (oplist_free wipes it then). A record
 * whose entry is not sealed fails kr_op_check, so no key in clear can
 * leave in a change. */
static int key_op(kr_node *n, oplist *l, const uint8_t *subject, uint64_t en,
                  const uint8_t *creator, const uint8_t *key, const uint8_t *reader_node)
{
  kr_op *op = oplist_next(l);
  uint8_t *box = op ? oplist_own(l, KR_KEY_LEN) : NULL;
  uint8_t pair[KR_KEY_LEN];
  int rc;
  if (!box) return KR_ENOMEM;
  if ((rc = pair_key(n, reader_node, pair)) == KR_ENOMEM) return rc;
  sodium_memzero(pair, sizeof pair);
  if (rc) {
    l->n--;                              /* not a node key: nobody to seal to */
    return 0;
  }
  op->type = KR_OP_KEY;
  memcpy(op->subject, subject, KR_SUBJECT_LEN);
  op->epoch = en;
  memcpy(op->creator, creator, KR_NODE_LEN);
  memcpy(op->member, reader_node, KR_NODE_LEN);
  memcpy(box, key, KR_KEY_LEN);
  op->box = box;
  op->box_len = KR_KEY_LEN;
  return 0;
}

/* The keys of sn (?1) this node sends to readers: every key that opened a
 * group, all keys of an epoch if it holds several (one may be another
 * node's, sealed as that epoch's key: the reader tries each), but never
 * one sealed to it as an epoch of its own (?2) that it did not make. Of
 * an epoch, the trusted key first: a change carries one key of an epoch
 * per reader (pack), the first; the others follow in changes of their
 * own (kr__finish). */
#define SENDABLE_KEYS "SELECT en, " NODE_ID("creator") ", key FROM vkeys WHERE subj=?1 AND ok AND" \
                      " (trusted OR creator IS NOT " NODE_NO("?2") ") ORDER BY en, creator, trusted DESC," \
                      " key"

/* A grant in this very change makes its recipients readers: the keys of
 * every epoch this node holds of sn go to each new one in the same change
 * (before: the readers before it). */
/* Key ops a local change carries itself, at most (a change is at most
 * 1 MiB; a key op takes about 140 bytes of it): beyond, the readers that
 * lack a key get it from kr__finish, in changes of their own. */
#define SEAL_KEYS_MAX 1500

/* new_key: sn is a volunteer this change makes, whose one key is new_key
 * (epoch 1 of this node): no need to look. *cut: 1 when the change has no
 * room left for these key ops (kr__finish sends them). */
static int grant_keys(kr_node *n, view *v, sqlite3_int64 sn, const kr_op *ops, size_t count,
                      const readers *before, const uint8_t *new_key, oplist *l, int *cut)
{
  readers add = {NULL, 0};
  sqlite3_stmt *s;
  char day[11];
  int rc = 0;

  if (l->n >= SEAL_KEYS_MAX) {               /* kr__finish sends the rest */
    *cut = 1;
    return 0;
  }
  if ((rc = view_members(n, v))) return rc;
  kr_node_today(n, day);
  for (size_t i = 0; i < count && !rc; i++) {
    if (ops[i].type != KR_OP_GRANT) continue;
    /* a consent recorded after its end date makes no reader */
    if (ops[i].until && ops[i].until[0] && strcmp(ops[i].until, day) < 0) continue;
    for (size_t k = 0; k < v->nm && !rc; k++) {
      const uint8_t *m = v->m[k];
      if ((!ops[i].recipient_all && memcmp(m, ops[i].recipient, KR_NODE_LEN) != 0) ||
          memcmp(m, kr_node_id(n), KR_NODE_LEN) == 0 || readers_has(before, m))
        continue;
      rc = readers_add(&add, m, 0);
    }
  }
  if (rc || !add.n) goto out;
  if (new_key) {
    for (size_t k = 0; k < add.n && !rc; k++)
      rc = key_op(n, l, ops[0].subject, 1, kr_node_id(n), new_key, add.r[k].node);
    goto out;
  }
  if (prep(n, SENDABLE_KEYS, &s)) { rc = KR_EDB; goto out; }
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  while (!rc && kr__step(s, &rc))
    for (size_t k = 0; k < add.n && !rc; k++)
      rc = key_op(n, l, ops[0].subject, (uint64_t)sqlite3_column_int64(s, 0),
                  sqlite3_column_blob(s, 1), sqlite3_column_blob(s, 2), add.r[k].node);
  sqlite3_finalize(s);
out:
  free(add.r);
  return rc;
}

/* The number of a new epoch of sn made here: one higher than any epoch of
 * sn a reader made (rs: the readers and this node) that this node knows
 * from the reader itself (a key it sent, or its key op); a non-reader
 * cannot push it up. Should a reader have pushed it past KR_EPOCH_MAX,
 * one higher than this node's own epochs: (en, this node) stays unique. */
static int new_epoch(kr_node *n, sqlite3_int64 sn, const readers *rs, uint64_t *en)
{
  sqlite3_stmt *s;
  uint64_t max = 0, own = 0;
  int rc = 0;

  if (prep(n, "SELECT en, " NODE_ID("creator") " FROM vkeys WHERE subj=?1 AND trusted UNION"
              " SELECT k.en, c.id FROM keyops k JOIN nodes c ON c.n=k.creator WHERE k.subj=?1 AND"
              " k.origin=k.creator", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  while (kr__step(s, &rc)) {
    uint64_t e = (uint64_t)sqlite3_column_int64(s, 0);
    const uint8_t *c = sqlite3_column_blob(s, 1);
    if (sqlite3_column_bytes(s, 1) != KR_NODE_LEN || !readers_has(rs, c)) continue;
    if (e > max) max = e;
    if (e > own && memcmp(c, kr_node_id(n), KR_NODE_LEN) == 0) own = e;
  }
  sqlite3_finalize(s);
  if (rc) return rc;
  *en = max + 1 <= KR_EPOCH_MAX ? max + 1 : own + 1;
  return *en <= KR_EPOCH_MAX ? 0 : KR_ETOOBIG;
}

/* A writer under an epoch another node made seals that key, in its own
 * change, to itself and to V's registrar (unless it made the epoch; once
 * per epoch, reader and writer): the creator's key ops may be taken back
 * with its late changes (docs/crdt.md, "Taking back"), while this writer's
 * groups under the epoch still count; its own change stands as long as
 * they do. */
static int keep_epoch(kr_node *n, view *v, sqlite3_int64 sn, const readers *rs,
                      const uint8_t *subject, uint64_t en, const uint8_t *creator,
                      const uint8_t *key, oplist *l)
{
  uint8_t to[2][KR_NODE_LEN];
  int nto = 0, rc = 0;

  if (memcmp(creator, kr_node_id(n), KR_NODE_LEN) == 0) return 0;
  memcpy(to[nto++], kr_node_id(n), KR_NODE_LEN);
  if (view_registrar(n, v, sn, to[nto]) == 1 && memcmp(to[nto], kr_node_id(n), KR_NODE_LEN) != 0 &&
      memcmp(to[nto], creator, KR_NODE_LEN) != 0 && readers_has(rs, to[nto]))
    nto++;
  for (int k = 0; k < nto && !rc; k++) {
    sqlite3_stmt *s;
    int sent = 0;
    for (size_t i = 0; i < l->n && !sent; i++)
      sent = l->op[i].type == KR_OP_KEY && l->op[i].epoch == en &&
             memcmp(l->op[i].subject, subject, KR_SUBJECT_LEN) == 0 &&
             memcmp(l->op[i].creator, creator, KR_NODE_LEN) == 0 &&
             memcmp(l->op[i].member, to[k], KR_NODE_LEN) == 0;
    if (!sent) {
      if (prep(n, "SELECT 1 FROM keyops WHERE subj=?1 AND en=?2 AND creator=" NODE_NO("?3")
                  " AND reader=" NODE_NO("?4") " AND origin=" NODE_NO("?5"), &s))
        return KR_EDB;
      sqlite3_bind_int64(s, 1, sn);
      sqlite3_bind_int64(s, 2, (sqlite3_int64)en);
      sqlite3_bind_blob(s, 3, creator, KR_NODE_LEN, SQLITE_STATIC);
      sqlite3_bind_blob(s, 4, to[k], KR_NODE_LEN, SQLITE_STATIC);
      sqlite3_bind_blob(s, 5, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
      sent = sqlite3_step(s) == SQLITE_ROW;
      sqlite3_finalize(s);
    }
    if (!sent) rc = key_op(n, l, subject, en, creator, key, to[k]);
  }
  return rc;
}

static int cmp_made(const void *a, const void *b)
{
  return memcmp(((const struct kr_made *)a)->id, ((const struct kr_made *)b)->id, KR_SUBJECT_LEN);
}

static int made_add(kr_node *n, const uint8_t *id, sqlite3_int64 sn)
{
  if (n->nmade == n->capmade) {
    size_t cap = n->capmade ? 2 * n->capmade : 64;
    struct kr_made *p = realloc(n->made, cap * sizeof *p);
    if (!p) return KR_ENOMEM;
    n->made = p;
    n->capmade = cap;
  }
  memcpy(n->made[n->nmade].id, id, KR_SUBJECT_LEN);
  n->made[n->nmade++].sn = sn;
  return 0;
}

sqlite3_int64 kr__made(const kr_node *n, const uint8_t id[KR_SUBJECT_LEN])
{
  struct kr_made key, *hit;
  if (!n->nmade) return 0;
  memcpy(key.id, id, KR_SUBJECT_LEN);
  hit = bsearch(&key, n->made, n->nmade, sizeof *n->made, cmp_made);
  return hit ? hit->sn : 0;
}


typedef struct {
  size_t at;                 /* the GROUP op's index in the list of parts */
  size_t first, count;       /* its ops in the input */
  uint8_t key[KR_KEY_LEN];
} pending;

/* ---- packing: all a change says of one volunteer and epoch, one record ---- */

/* KEY and GROUP parts by (subject, epoch, creator), then by their place. */
static int cmp_part(const void *a, const void *b)
{
  const kr_op *x = *(const kr_op *const *)a, *y = *(const kr_op *const *)b;
  int c = memcmp(x->subject, y->subject, KR_SUBJECT_LEN);
  if (c) return c;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  if ((c = memcmp(x->creator, y->creator, KR_NODE_LEN))) return c;
  return x < y ? -1 : x > y;
}

static int cmp_subject_of(const void *a, const void *b)
{
  return memcmp((*(const kr_op *const *)a)->subject, (*(const kr_op *const *)b)->subject,
                KR_SUBJECT_LEN);
}

/* KEY parts by reader id, then in their order (of two keys of one epoch
 * for one reader, the first is packed). */
static int cmp_entry(const void *a, const void *b)
{
  const kr_op *x = *(const kr_op *const *)a, *y = *(const kr_op *const *)b;
  int c = memcmp(x->member, y->member, KR_NODE_LEN);
  return c ? c : (x < y ? -1 : x > y);
}

/* The change's ops packed from the list of parts l: clear ops as they
 * are; each REGISTER a registering record, in their order (the subjects
 * derive from it), which takes the KEY and GROUP parts of (its subject,
 * epoch 1, this node); every other (subject, epoch, creator) one record
 * at the place of its last part (so a volunteer's key-only records come
 * before the record with its box). Key entries by reader number, one per
 * reader; their keys still in clear (clear[], sealed by the caller). */
typedef struct {
  kr_op *op;
  size_t n;
  kr_keyent *ent;            /* the records' key entries */
  kr_op **entop;             /* per entry: its KEY part (the key in clear) */
  size_t *place;             /* per part of l: the place of its record (GROUP parts) */
} packed;

static void packed_free(packed *p)
{
  free(p->op);
  free(p->ent);
  free(p->entop);
  free(p->place);
  memset(p, 0, sizeof *p);
}

static int pack(const uint8_t *self, oplist *l, packed *p)
{
  size_t m = l->n, np = 0, nr = 0, ne = 0;
  kr_op **ix = NULL, **regs = NULL;
  size_t *run = NULL, *run_end = NULL;
  int rc = 0;

  memset(p, 0, sizeof *p);
  if (!(ix = malloc((m + 1) * sizeof *ix)) || !(regs = malloc((m + 1) * sizeof *regs)) ||
      !(run = malloc((m + 1) * sizeof *run)) || !(run_end = malloc((m + 1) * sizeof *run_end)) ||
      !(p->op = calloc(m + 1, sizeof *p->op)) || !(p->ent = calloc(m + 1, sizeof *p->ent)) ||
      !(p->entop = calloc(m + 1, sizeof *p->entop)) || !(p->place = malloc((m + 1) * sizeof *p->place))) {
    rc = KR_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < m; i++) {
    kr_op *o = &l->op[i];
    run[i] = run_end[i] = p->place[i] = SIZE_MAX;
    if (o->type == KR_OP_KEY && o->box_len != KR_KEY_LEN) { rc = KR_EINVAL; goto out; }
    if (o->type == KR_OP_KEY || o->type == KR_OP_GROUP) ix[np++] = o;
    if (o->type == KR_OP_REGISTER) regs[nr++] = o;
  }
  qsort(ix, np, sizeof *ix, cmp_part);
  qsort(regs, nr, sizeof *regs, cmp_subject_of);
  for (size_t a = 0, b; a < np; a = b) {
    kr_op **reg;
    size_t host;
    for (b = a + 1; b < np && ix[a]->epoch == ix[b]->epoch &&
                    !memcmp(ix[a]->subject, ix[b]->subject, KR_SUBJECT_LEN) &&
                    !memcmp(ix[a]->creator, ix[b]->creator, KR_NODE_LEN);
         b++)
      ;
    reg = nr ? bsearch(&ix[a], regs, nr, sizeof *regs, cmp_subject_of) : NULL;
    if (reg) {
      /* a new volunteer: epoch 1 of this node, nothing else */
      if (ix[a]->epoch != 1 || memcmp(ix[a]->creator, self, KR_NODE_LEN)) { rc = KR_EINVAL; goto out; }
      host = (size_t)(*reg - l->op);
    } else {
      host = (size_t)(ix[b - 1] - l->op);
    }
    run[host] = a;
    run_end[host] = b;
  }
  for (size_t i = 0; i < m && !rc; i++) {
    kr_op *o = &l->op[i], *r = &p->op[p->n];
    if (o->type != KR_OP_KEY && o->type != KR_OP_GROUP && o->type != KR_OP_REGISTER) {
      *r = *o;
      p->n++;
      continue;
    }
    if (o->type != KR_OP_REGISTER && run[i] == SIZE_MAX) continue;  /* in another's record */
    r->type = o->type == KR_OP_REGISTER ? KR_OP_REGREC : KR_OP_RECORD;
    memcpy(r->subject, o->subject, KR_SUBJECT_LEN);
    r->epoch = 1;
    memcpy(r->creator, self, KR_NODE_LEN);
    if (run[i] != SIZE_MAX) {
      size_t a = run[i], b = run_end[i], first = ne;
      int boxed = 0;
      r->epoch = ix[a]->epoch;
      memcpy(r->creator, ix[a]->creator, KR_NODE_LEN);
      for (size_t k = a; k < b; k++) {
        if (ix[k]->type == KR_OP_GROUP) {
          if (p->place[ix[k] - l->op] != SIZE_MAX || boxed) { rc = KR_EINVAL; break; }
          p->place[ix[k] - l->op] = p->n;     /* its box is set when sealed */
          boxed = 1;
        } else {
          p->entop[ne++] = ix[k];
        }
      }
      /* by reader number (the origin, number 0, first; then by id), each
       * reader once: a record holds one entry per reader. The same key
       * twice says no more; a second key of the epoch for one reader (a
       * node may hold two) is left out here: kr__finish sends it in a
       * change of its own (issue finds it not given, gave_key) */
      qsort(p->entop + first, ne - first, sizeof *p->entop, cmp_entry);
      {
        size_t w = first;
        for (size_t k = first; k < ne; k++)
          if (k == first || memcmp(p->entop[k]->member, p->entop[w - 1]->member, KR_NODE_LEN))
            p->entop[w++] = p->entop[k];
        ne = w;
      }
      for (size_t k = first; k < ne; k++)
        if (memcmp(p->entop[k]->member, self, KR_NODE_LEN) == 0) {
          kr_op *own = p->entop[k];
          memmove(p->entop + first + 1, p->entop + first, (k - first) * sizeof *p->entop);
          p->entop[first] = own;
          break;
        }
      for (size_t k = first; k < ne; k++) memcpy(p->ent[k].reader, p->entop[k]->member, KR_NODE_LEN);
      r->nkeys = (uint32_t)(ne - first);
      r->keys = r->nkeys ? &p->ent[first] : NULL;
    }
    p->n++;
  }
out:
  free(ix);
  free(regs);
  free(run);
  free(run_end);
  if (rc) packed_free(p);
  return rc;
}

/* Sealed ops by subject, then by their place in the input. */
static int cmp_subject_place(const void *a, const void *b)
{
  const kr_op *x = *(const kr_op *const *)a, *y = *(const kr_op *const *)b;
  int c = memcmp(x->subject, y->subject, KR_SUBJECT_LEN);
  return c ? c : (x < y ? -1 : x > y);
}

/* The input with each subject's sealed ops together, at the place of its
 * first (in their order): one group per volunteer and change, as a change
 * holds one record per volunteer and epoch. *out (free()) has nops ops. */
static int gather(const kr_op *ops, uint32_t nops, kr_op **out)
{
  const kr_op **p = malloc(sizeof *p * ((size_t)nops + 1));
  size_t *lead = malloc(sizeof *lead * ((size_t)nops + 1));
  kr_op *g = malloc(sizeof *g * ((size_t)nops + 1));
  uint32_t k = 0, w = 0;

  *out = NULL;
  if (!p || !lead || !g) {
    free(p);
    free(lead);
    free(g);
    return KR_ENOMEM;
  }
  /* together already (the usual case: no subject's run comes twice)? The
   * runs' first ops, sorted, tell. */
  for (uint32_t i = 0; i < nops; i++)
    if (KR_OP_IS_SEALED(ops[i].type) &&
        (!i || !KR_OP_IS_SEALED(ops[i - 1].type) ||
         memcmp(ops[i - 1].subject, ops[i].subject, KR_SUBJECT_LEN)))
      p[k++] = &ops[i];
  qsort(p, k, sizeof *p, cmp_subject_place);
  {
    int twice = 0;
    for (uint32_t i = 1; i < k && !twice; i++)
      twice = !memcmp(p[i]->subject, p[i - 1]->subject, KR_SUBJECT_LEN);
    if (!twice) {
      memcpy(g, ops, sizeof *g * nops);
      free(p);
      free(lead);
      *out = g;
      return 0;
    }
  }
  k = 0;
  for (uint32_t i = 0; i < nops; i++) {
    lead[i] = SIZE_MAX;
    if (KR_OP_IS_SEALED(ops[i].type)) p[k++] = &ops[i];
  }
  qsort(p, k, sizeof *p, cmp_subject_place);
  for (uint32_t i = 0; i < k; i++)            /* a subject's first op leads its run */
    if (!i || memcmp(p[i]->subject, p[i - 1]->subject, KR_SUBJECT_LEN))
      lead[p[i] - ops] = i;
  for (uint32_t i = 0; i < nops; i++) {
    if (!KR_OP_IS_SEALED(ops[i].type)) {
      g[w++] = ops[i];
    } else if (lead[i] != SIZE_MAX) {
      for (size_t j = lead[i]; j < k && !memcmp(p[j]->subject, ops[i].subject, KR_SUBJECT_LEN); j++)
        g[w++] = *p[j];
    }
  }
  free(p);
  free(lead);
  *out = g;
  return 0;
}

/* The records of a change this node sealed, kept while it applies them. */
typedef struct {
  packed pk;
  oplist l;
} own_rec;

int kr__seal_change(kr_node *n, uint64_t seq, kr_hlc hlc, const uint8_t *nonce_in,
                    const kr_op *in, uint32_t nops, kr_buf *out, kr_change *cv)
{
  oplist l = {0};
  pending *pg = NULL;
  size_t npg = 0;
  kr_buf plain, box;
  view v;
  packed pk = {0};
  kr_op *ops = NULL;
  uint8_t nonce[KR_NONCE_LEN], (*tids)[KR_NODE_LEN] = NULL;
  kr_nodes tab = {kr_node_id(n), NULL, 0};
  int rc = 0;

  /* every AEAD nonce of the change derives from this (protocol.md) */
  if (nonce_in) memcpy(nonce, nonce_in, sizeof nonce);
  else randombytes_buf(nonce, sizeof nonce);
  if ((rc = gather(in, nops, &ops))) return rc;
  view_init(&v);
  kr_buf_init(&plain, KR_CHANGE_MAX);
  kr_buf_init(&box, KR_CHANGE_MAX);
  for (uint32_t i = 0; i < nops && !rc;) {
    const kr_op *op = &ops[i];
    uint32_t j = i + 1;
    sqlite3_int64 sn;
    kr_op *g;
    pending *p;

    if (!KR_OP_IS_SEALED(op->type)) {
      if (!(g = oplist_next(&l))) { rc = KR_ENOMEM; break; }
      *g = *op;
      i++;
      continue;
    }
    /* The run of ops on one subject is one group. */
    while (j < nops && KR_OP_IS_SEALED(ops[j].type) && j - i < KR_GROUP_MAX_OPS &&
           memcmp(ops[j].subject, op->subject, KR_SUBJECT_LEN) == 0)
      j++;
    if (!(p = realloc(pg, (npg + 1) * sizeof *pg))) { rc = KR_ENOMEM; break; }
    pg = p;
    p = &pg[npg++];
    p->first = i;
    p->count = j - i;

    /* A volunteer this change registers (its REGISTER op just before:
     * kr_txn_new_subject) is new: its id derives from this change's
     * nonce. Any other is looked up. */
    if (i > 0 && ops[i - 1].type == KR_OP_REGISTER &&
        memcmp(ops[i - 1].subject, op->subject, KR_SUBJECT_LEN) == 0)
      rc = KR_ENOTFOUND;
    else
      rc = kr__subject_n(n, op->subject, &sn);
    if (rc == KR_ENOTFOUND) {
      /* A new volunteer: registered by this change (its REGISTER op comes
       * first: kr_txn_new_subject), epoch (1, this node). */
      sqlite3_stmt *s = kr__q(n, KR_Q_SUBJ_PUT);
      int reg = 0;
      for (uint32_t k = i; k-- > 0 && !reg;)      /* usually just before */
        reg = ops[k].type == KR_OP_REGISTER &&
              memcmp(ops[k].subject, op->subject, KR_SUBJECT_LEN) == 0;
      if (!reg) { rc = KR_EINVAL; break; }
      if (!s) { rc = KR_EDB; break; }
      sqlite3_bind_blob(s, 1, op->subject, KR_SUBJECT_LEN, SQLITE_STATIC);
      if (sqlite3_step(s) != SQLITE_DONE) { rc = KR_EDB; break; }
      if (sqlite3_changes(n->db) != 1) { rc = KR_EINVAL; break; }   /* held already */
      sn = sqlite3_last_insert_rowid(n->db);
      if (n->authoring && (rc = made_add(n, op->subject, sn))) break;
      randombytes_buf(p->key, KR_KEY_LEN);
      if ((rc = store_key(n, sn, 1, kr_node_id(n), p->key, hlc))) break;
      {
        readers none = {NULL, 0};
        int cut = 0;
        if ((rc = grant_keys(n, &v, sn, op, p->count, &none, p->key, &l, &cut))) break;
        /* every reader it has got its key in this change: kr__finish has
         * none to send (unless another group of it is cut short) */
        if (!cut && (rc = kr__ids_add(&n->issued, &sn, sizeof sn))) break;
      }
      if (!(g = oplist_next(&l))) { rc = KR_ENOMEM; break; }
      g->epoch = 1;
      memcpy(g->creator, kr_node_id(n), KR_NODE_LEN);
    } else if (rc == 0) {
      readers rs;
      uint64_t en = 0;
      uint8_t creator[KR_NODE_LEN];
      int have;
      if ((rc = readers_of(n, &v, sn, &rs))) break;
      /* a writer holds the key it writes under */
      if ((rc = readers_add(&rs, kr_node_id(n), 0))) { free(rs.r); break; }
      have = usable_epoch(n, sn, &rs, &en, creator, p->key);
      if (have < 0) { rc = have; free(rs.r); break; }
      if (!have) {
        /* A new epoch: its key to every reader but this node. */
        if ((rc = new_epoch(n, sn, &rs, &en))) { free(rs.r); break; }
        memcpy(creator, kr_node_id(n), KR_NODE_LEN);
        randombytes_buf(p->key, KR_KEY_LEN);
        if ((rc = store_key(n, sn, en, creator, p->key, hlc))) { free(rs.r); break; }
        /* a reader left out (too many for one change) gets it at the end */
        if (!rc) rc = kr__touch(n, sn);
        for (size_t k = 0; k < rs.n && !rc && l.n < SEAL_KEYS_MAX; k++)
          if (memcmp(rs.r[k].node, kr_node_id(n), KR_NODE_LEN) != 0)
            rc = key_op(n, &l, op->subject, en, creator, p->key, rs.r[k].node);
        /* A node that did not register V may lose its access and its keys,
         * and later read V again: it must then open its own epoch's groups
         * too (else it reads V without, say, its own grant that ended its
         * access). So it seals the key to itself as well, where its store
         * keeps it as it keeps every key op sealed to it. */
        if (!rc) {
          uint8_t reg[KR_NODE_LEN];
          if (view_registrar(n, &v, sn, reg) != 1 || memcmp(reg, kr_node_id(n), KR_NODE_LEN) != 0)
            rc = key_op(n, &l, op->subject, en, creator, p->key, kr_node_id(n));
        }
      } else if ((rc = keep_epoch(n, &v, sn, &rs, op->subject, en, creator, p->key, &l))) {
        free(rs.r);
        break;
      }
      if (!rc) {
        int cut = 0;
        rc = grant_keys(n, &v, sn, op, p->count, &rs, NULL, &l, &cut);
        if (!rc && cut) rc = kr__ids_add(&n->cut, &sn, sizeof sn);
      }
      free(rs.r);
      if (rc) break;
      if (!(g = oplist_next(&l))) { rc = KR_ENOMEM; break; }
      g->epoch = en;
      memcpy(g->creator, creator, KR_NODE_LEN);
    } else {
      break;
    }
    g->type = KR_OP_GROUP;
    memcpy(g->subject, op->subject, KR_SUBJECT_LEN);
    p->at = l.n - 1;
    i = j;
  }
  /* One record per volunteer and epoch (pack) ... */
  if (!rc) rc = pack(kr_node_id(n), &l, &pk);
  /* ... and the change's node table: its groups' grants name a node by
   * number where it has one (kr_change_build makes the same table). */
  if (!rc && (rc = kr_nodes_collect(kr_node_id(n), pk.op, (uint32_t)pk.n, &tids, &tab.n)) == 0)
    tab.id = (const uint8_t (*)[KR_NODE_LEN])tids;
  /* Seal each key entry at its record's place and slot (key_op left the
   * key in its KEY part), ... */
  for (size_t i = 0; i < pk.n && !rc; i++) {
    kr_op *r = &pk.op[i];
    for (uint32_t k = 0; KR_OP_IS_RECORD(r->type) && k < r->nkeys && !rc; k++) {
      kr_op kp;
      uint8_t *sealed = oplist_own(&l, KR_SEALED_KEY_LEN), pair[KR_KEY_LEN];
      const kr_op *clear = pk.entop[r->keys - pk.ent + k];
      if (!sealed) { rc = KR_ENOMEM; break; }
      kr_record_key(r, k, &kp);
      if ((rc = pair_key(n, kp.member, pair))) { rc = rc == KR_ENOMEM ? rc : KR_EINVAL; break; }
      rc = kr_key_seal(pair, n->network, kr_node_id(n), nonce, (uint32_t)i, &kp, clear->box, sealed);
      sodium_memzero(pair, sizeof pair);
      pk.ent[r->keys - pk.ent + k].sealed = sealed;
    }
  }
  /* ... and each group at its record's place, slot 0. */
  for (size_t k = 0; k < npg && !rc; k++) {
    size_t at = pk.place[pg[k].at];
    kr_op *g = &pk.op[at];
    uint8_t *b;
    plain.len = 0;
    box.len = 0;
    if ((rc = kr_group_encode(&ops[pg[k].first], (uint32_t)pg[k].count, &tab, &plain)) ||
        (rc = kr_group_seal(pg[k].key, n->network, kr_node_id(n), seq, nonce, (uint32_t)at, g,
                            plain.data, plain.len, &box)))
      break;
    if (!(b = oplist_own(&l, box.len))) { rc = KR_ENOMEM; break; }
    memcpy(b, box.data, box.len);
    g->box = b;
    g->box_len = (uint32_t)box.len;
    pg[k].at = at;                           /* its place in the change, from here on */
  }
  if (!rc && pk.n > KR_CHANGE_MAX_OPS) rc = KR_ETOOBIG;
  if (!rc && cv) {
    /* its apply reads the records built here, not the bytes decoded (the
     * caller ran kr__own_done: own_rec is free) */
    own_rec *r = n->own_rec ? NULL : malloc(sizeof *r);
    if (!r) rc = n->own_rec ? KR_EINVAL : KR_ENOMEM;
    else if ((rc = kr_change_build_view(n->sk, seq, hlc, nonce, pk.op, (uint32_t)pk.n, out, cv)))
      free(r);
    else
      n->own_rec = r;                        /* pk and l, theirs below */
  } else if (!rc) {
    rc = kr_change_build(n->sk, seq, hlc, nonce, pk.op, (uint32_t)pk.n, out);
  }
  /* what its apply need not look up: the subjects made, each group's key */
  if (!rc && n->nmade)
    qsort(n->made, n->nmade, sizeof *n->made, cmp_made);
  if (!rc && npg && n->authoring && !n->own && (n->own = calloc(pk.n, sizeof *n->own))) {
    n->nown = (uint32_t)pk.n;
    n->own_seq = seq;
    for (size_t k = 0; k < npg; k++) {
      struct kr_own *e = &n->own[pg[k].at];
      e->has = 1;
      memcpy(e->key, pg[k].key, KR_KEY_LEN);
      e->ops = &ops[pg[k].first];
      e->nops = (uint32_t)pg[k].count;
    }
    n->own_in = ops;                         /* theirs now (kr__own_done) */
    ops = NULL;
  }
  if (!rc && cv) {
    own_rec *r = n->own_rec;
    r->pk = pk;
    r->l = l;
    memset(&pk, 0, sizeof pk);
    memset(&l, 0, sizeof l);
  }
  if (plain.data) sodium_memzero(plain.data, plain.cap);
  for (size_t k = 0; k < npg; k++) sodium_memzero(pg[k].key, KR_KEY_LEN);
  free(pg);
  free(tids);
  packed_free(&pk);
  free(ops);
  kr_buf_free(&plain);
  kr_buf_free(&box);
  oplist_free(&l);
  view_free(&v);
  return rc;
}

void kr__own_done(kr_node *n)
{
  n->nmade = 0;
  if (n->own) {
    sodium_memzero(n->own, (size_t)n->nown * sizeof *n->own);
    free(n->own);
  }
  n->own = NULL;
  n->nown = 0;
  free(n->own_in);
  n->own_in = NULL;
  if (n->own_rec) {
    own_rec *r = n->own_rec;
    packed_free(&r->pk);
    oplist_free(&r->l);
    free(r);
    n->own_rec = NULL;
  }
}

/* ---- the end of a transaction ---------------------------------------------- */

static int cmp_hlc_desc(const void *a, const void *b)
{
  kr_hlc x = *(const kr_hlc *)a, y = *(const kr_hlc *)b;
  return x > y ? -1 : x < y;
}

/* The members that read sn once and no longer do, as this node reads sn's
 * consent: for each, in since, the stamp of the last consent entry (of a
 * register naming it, or all) just before which it read sn. Not the
 * readers rs, nor this node. */
static int former_readers(kr_node *n, view *v, sqlite3_int64 sn, const readers *rs, readers *out)
{
  readers cand = {NULL, 0};
  kr_hlc *at = NULL;
  int rc;

  out->r = NULL;
  out->n = 0;
  if ((rc = view_members(n, v)) || (rc = view_consents(n, v, sn))) return rc;
  /* the current members some consent entry of sn names (or all) */
  for (size_t i = 0; i < v->nm && !rc; i++) {
    const uint8_t *m = v->m[i];
    int named = 0;
    if (readers_has(rs, m) || memcmp(m, kr_node_id(n), KR_NODE_LEN) == 0) continue;
    for (size_t k = 0; k < v->nr && !named; k++)
      named = !v->r[k].rcpt || memcmp(v->r[k].rcpt, m, KR_NODE_LEN) == 0;
    if (named) rc = readers_add(&cand, m, 0);
  }
  if (rc || !cand.n) goto out;
  if (!(at = malloc(v->ne * sizeof *at))) {
    rc = KR_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < cand.n && !rc; i++) {
    kr_hlc last = 0;
    size_t nat = 0;
    /* the stamps of the entries naming it (or all), latest first */
    for (size_t k = 0; k < v->nr; k++) {
      if (v->r[k].rcpt && memcmp(v->r[k].rcpt, cand.r[i].node, KR_NODE_LEN) != 0) continue;
      for (size_t j = 0; j < v->r[k].count; j++) at[nat++] = v->e[v->r[k].first + j].stamp.hlc;
    }
    qsort(at, nat, sizeof *at, cmp_hlc_desc);
    for (size_t j = 0; j < nat && !last && !rc; j++) {
      int was;
      if (j && at[j] == at[j - 1]) continue;
      if ((was = was_reader(n, sn, cand.r[i].node, at[j])) < 0) rc = was;
      else if (was) last = at[j];
    }
    if (!rc && last) rc = readers_add(out, cand.r[i].node, last);
  }
out:
  free(at);
  free(cand.r);
  if (rc) {
    free(out->r);
    out->r = NULL;
    out->n = 0;
  }
  return rc;
}

/* The stamp at which epoch (en, creator) of sn was made, as far as this
 * node holds it: its earliest group, or key op from its creator. 0: none
 * held. */
static int epoch_made(kr_node *n, sqlite3_int64 sn, uint64_t en, const uint8_t *creator,
                      kr_hlc *made)
{
  sqlite3_stmt *s;
  kr_chgctx x = {0};
  int rc = 0;

  *made = 0;
  if (prep(n, "SELECT min(hlc) FROM keyops WHERE subj=?1 AND en=?2 AND creator=" NODE_NO("?3")
              " AND origin=creator", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)en);
  sqlite3_bind_blob(s, 3, creator, KR_NODE_LEN, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    *made = (kr_hlc)sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  if (prep(n, "SELECT p.body, c.hlc, c.n FROM ops p JOIN changes c ON c.n=p.chg WHERE p.subj=?1"
              " AND p.type IN (14,15) AND p.field&1 AND p.body IS NOT NULL", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  while (!rc && kr__step(s, &rc)) {
    kr_op g;
    void *mem = NULL;
    kr_hlc at = (kr_hlc)sqlite3_column_int64(s, 1);
    if (!kr__op_parse_at(n, &x, sqlite3_column_int64(s, 2), sn, sqlite3_column_blob(s, 0),
                         sqlite3_column_bytes(s, 0), &g, &mem) && g.box &&
        g.epoch == en && memcmp(g.creator, creator, KR_NODE_LEN) == 0 && (!*made || at < *made))
      *made = at;
    free(mem);
  }
  sqlite3_finalize(s);
  kr__chgctx_free(&x);
  return rc;
}

/* 1 when a key op tells nothing of which key of (sn, en, creator) its
 * reader got: this node holds two keys of the epoch, or no key op of the
 * epoch from its creator is held (the creator's changes were taken back
 * with a removal; an equivocating creator signed two versions of the
 * change that made it, each with a key of its own, and writers under
 * either kept theirs: docs/crdt.md, "How keys move"). Only the sender and
 * the reader of a key op can open it. */
static int ambiguous_epoch(kr_node *n, sqlite3_int64 sn, sqlite3_int64 en, const uint8_t *creator)
{
  sqlite3_stmt *s;
  int rc;
  if (prep(n, "SELECT (SELECT count(*) FROM vkeys WHERE subj=?1 AND en=?2 AND creator=" NODE_NO("?3")
              " AND ok AND (trusted OR creator IS NOT " NODE_NO("?4") ")) > 1 OR (?3<>?4 AND NOT EXISTS (SELECT 1 FROM keyops WHERE"
              " subj=?1 AND en=?2 AND creator=" NODE_NO("?3") " AND origin=creator))", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_int64(s, 2, en);
  sqlite3_bind_blob(s, 3, creator, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_blob(s, 4, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) != 0 : KR_EDB;
  sqlite3_finalize(s);
  return rc;
}

/* 1 when a key op of this node's own, stamped at or after since, gave
 * node `to` this very key of (sn, en, creator): it opens its own key ops
 * with the key it shares with that node. */
static int gave_key(kr_node *n, sqlite3_int64 sn, uint64_t en, const uint8_t *creator,
                    const uint8_t *key, const uint8_t *to, kr_hlc since)
{
  sqlite3_stmt *s;
  kr_chgctx x = {0};
  uint8_t pair[KR_KEY_LEN];
  int rc = 0, gave = 0, have_pair = 0;

  if (prep(n, "SELECT p.body, c.n, p.idx FROM ops p JOIN changes c ON c.n=p.chg JOIN"
              " origins o ON o.n=c.origin WHERE p.subj=?1 AND p.type IN (14,15) AND p.field&2 AND"
              " p.body IS NOT NULL AND o.key=?2 AND c.hlc>=?3", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)since);
  while (!gave && !rc && kr__step(s, &rc)) {
    kr_op rec, op;
    void *mem = NULL;
    uint8_t k[KR_KEY_LEN];
    if (kr__op_parse_at(n, &x, sqlite3_column_int64(s, 1), sn, sqlite3_column_blob(s, 0),
                        sqlite3_column_bytes(s, 0), &rec, &mem) == 0 &&
        KR_OP_IS_RECORD(rec.type) && rec.epoch == en &&
        memcmp(rec.creator, creator, KR_NODE_LEN) == 0) {
      for (uint32_t e = 0; !gave && !rc && e < rec.nkeys; e++) {
        if (memcmp(rec.keys[e].reader, to, KR_NODE_LEN) != 0) continue;
        kr_record_key(&rec, e, &op);
        if (!have_pair && (rc = pair_key(n, to, pair)) == 0) have_pair = 1;
        if (rc == KR_EINVAL) rc = 0;
        if (have_pair &&
            kr_key_open(pair, n->network, kr_node_id(n), x.nonce,
                        (uint32_t)sqlite3_column_int64(s, 2), &op, k) == 0) {
          gave = sodium_memcmp(k, key, KR_KEY_LEN) == 0;
          sodium_memzero(k, sizeof k);
        }
      }
    }
    free(mem);
  }
  kr__chgctx_free(&x);
  sqlite3_finalize(s);
  sodium_memzero(pair, sizeof pair);
  return rc ? rc : gave;
}

/* Seal the keys this node holds of sn to every reader that lacks them. */
static int issue(kr_node *n, view *v, sqlite3_int64 sn, oplist *l)
{
  readers rs, was;
  sqlite3_stmt *s, *h;
  uint8_t subject[KR_SUBJECT_LEN];
  int rc;

  /* gone: a retraction in this transaction took back every op on it */
  if ((rc = kr__subject_id(n, sn, subject))) return rc == KR_ENOTFOUND ? 0 : rc;
  if ((rc = readers_of(n, v, sn, &rs))) return rc;
  if ((rc = former_readers(n, v, sn, &rs, &was))) {
    free(rs.r);
    return rc;
  }
  /* the creator of an epoch holds its key, unless it may have lost it */
  if (prep(n, SENDABLE_KEYS, &s)) {
    free(rs.r);
    free(was.r);
    return KR_EDB;
  }
  /* (a key op a reader sealed to itself does not count: it keeps it for
   * itself, and opens it again only once it sees a consent naming it) */
  if (prep(n, "SELECT o.id FROM keyops k JOIN nodes o ON o.n=k.origin WHERE k.subj=?1 AND"
              " k.en=?2 AND k.creator=" NODE_NO("?3") " AND k.reader=" NODE_NO("?4") " AND"
              " k.hlc>=?5 AND k.origin<>k.reader UNION ALL SELECT ?3 WHERE ?3=?4 AND ?5=0", &h)) {
    sqlite3_finalize(s);
    free(rs.r);
    free(was.r);
    return KR_EDB;
  }
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  while (!rc && kr__step(s, &rc)) {
    int amb;
    if (sqlite3_column_bytes(s, 1) != KR_NODE_LEN || sqlite3_column_bytes(s, 2) != KR_KEY_LEN)
      continue;
    /* an epoch that may have several keys: only this node's own key op
     * tells that a reader got this one */
    if ((amb = ambiguous_epoch(n, sn, sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1))) < 0) {
      rc = amb;
      break;
    }
    for (size_t k = 0; k < rs.n && !rc; k++) {
      int has;
      if (memcmp(rs.r[k].node, kr_node_id(n), KR_NODE_LEN) == 0) continue;
      if (amb) {
        if ((has = gave_key(n, sn, (uint64_t)sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
                            sqlite3_column_blob(s, 2), rs.r[k].node, rs.r[k].since)) < 0)
          rc = has;
        else if (!has)
          rc = key_op(n, l, subject, (uint64_t)sqlite3_column_int64(s, 0),
                      sqlite3_column_blob(s, 1), sqlite3_column_blob(s, 2), rs.r[k].node);
        continue;
      }
      sqlite3_reset(h);
      sqlite3_bind_int64(h, 1, sn);
      sqlite3_bind_int64(h, 2, sqlite3_column_int64(s, 0));
      sqlite3_bind_blob(h, 3, sqlite3_column_blob(s, 1), KR_NODE_LEN, SQLITE_STATIC);
      sqlite3_bind_blob(h, 4, rs.r[k].node, KR_NODE_LEN, SQLITE_STATIC);
      sqlite3_bind_int64(h, 5, (sqlite3_int64)rs.r[k].since);
      has = 0;
      while (!has && sqlite3_step(h) == SQLITE_ROW)
        has = vouches(n, &rs, sqlite3_column_blob(h, 0), sqlite3_column_bytes(h, 0),
                      sqlite3_column_blob(s, 1));
      if (!has)
        rc = key_op(n, l, subject, (uint64_t)sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
                    sqlite3_column_blob(s, 2), rs.r[k].node);
    }
    /* A former reader gets the key of every epoch made before its access
     * last ended, as it would have had every reader known of its consent
     * in time: it may need one to read what ended its access (a grant that
     * made the withdrawal's writer a reader, a later grant whose end date
     * has passed), and would read on without it (docs/crdt.md, "How
     * access ends"). */
    for (size_t k = 0; k < was.n && !rc; k++) {
      kr_hlc made;
      int has = 0;
      sqlite3_reset(h);
      sqlite3_bind_int64(h, 1, sn);
      sqlite3_bind_int64(h, 2, sqlite3_column_int64(s, 0));
      sqlite3_bind_blob(h, 3, sqlite3_column_blob(s, 1), KR_NODE_LEN, SQLITE_STATIC);
      sqlite3_bind_blob(h, 4, was.r[k].node, KR_NODE_LEN, SQLITE_STATIC);
      sqlite3_bind_int64(h, 5, 0);
      while (!has && sqlite3_step(h) == SQLITE_ROW)
        has = vouches(n, &rs, sqlite3_column_blob(h, 0), sqlite3_column_bytes(h, 0),
                      sqlite3_column_blob(s, 1));
      if (has) continue;
      if ((rc = epoch_made(n, sn, (uint64_t)sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
                           &made)))
        break;
      if (made && made <= was.r[k].since)
        rc = key_op(n, l, subject, (uint64_t)sqlite3_column_int64(s, 0), sqlite3_column_blob(s, 1),
                    sqlite3_column_blob(s, 2), was.r[k].node);
    }
  }
  sqlite3_finalize(s);
  sqlite3_finalize(h);
  free(rs.r);
  free(was.r);
  return rc;
}

static int cmp_reopen(const void *a, const void *b)
{
  const reopen_at *x = a, *y = b;
  if (x->sn != y->sn) return x->sn < y->sn ? -1 : 1;
  if (x->chg != y->chg) return x->chg < y->chg ? -1 : 1;
  return x->place < y->place ? -1 : x->place > y->place;
}

static int cmp_i64(const void *a, const void *b)
{
  sqlite3_int64 x, y;
  memcpy(&x, a, sizeof x);
  memcpy(&y, b, sizeof y);
  return x < y ? -1 : x > y;
}

/* Subjects a membership change may give readers or take them from. */
static int touch_query(kr_node *n, const char *sql)
{
  sqlite3_stmt *s;
  int rc = 0;
  if (prep(n, sql, &s)) return KR_EDB;
  while (!rc && kr__step(s, &rc)) rc = kr__touch(n, sqlite3_column_int64(s, 0));
  sqlite3_finalize(s);
  return rc;
}

/* KEY ops by (subject, epoch, creator, reader), then in their order. */
static int cmp_keyop(const void *a, const void *b)
{
  const kr_op *x = *(const kr_op *const *)a, *y = *(const kr_op *const *)b;
  int c = memcmp(x->subject, y->subject, KR_SUBJECT_LEN);
  if (c) return c;
  if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
  if ((c = memcmp(x->creator, y->creator, KR_NODE_LEN))) return c;
  if ((c = memcmp(x->member, y->member, KR_NODE_LEN))) return c;
  return x < y ? -1 : x > y;
}

/* The key ops of l in changes of this node's own: round r holds the r-th
 * key op of each (subject, epoch, creator, reader), so that none is left
 * out of its record (pack keeps one entry per reader); 2000 a change. */
static int send_keys(kr_node *n, oplist *l, kr_buf *wire)
{
  const kr_op **ix = malloc(sizeof *ix * l->n);
  uint32_t *round = malloc(sizeof *round * l->n);
  kr_op *batch = malloc(sizeof *batch * l->n);
  uint32_t last = 0;
  int rc = 0;

  if (!ix || !round || !batch) {
    free(ix);
    free(round);
    free(batch);
    return KR_ENOMEM;
  }
  for (size_t i = 0; i < l->n; i++) ix[i] = &l->op[i];
  qsort(ix, l->n, sizeof *ix, cmp_keyop);
  for (size_t i = 0; i < l->n; i++) {
    uint32_t r = 0;
    if (i && ix[i]->epoch == ix[i - 1]->epoch &&
        !memcmp(ix[i]->subject, ix[i - 1]->subject, KR_SUBJECT_LEN) &&
        !memcmp(ix[i]->creator, ix[i - 1]->creator, KR_NODE_LEN) &&
        !memcmp(ix[i]->member, ix[i - 1]->member, KR_NODE_LEN))
      r = round[ix[i - 1] - l->op] + 1;
    round[ix[i] - l->op] = r;
    if (r > last) last = r;
  }
  for (uint32_t r = 0; !rc && r <= last; r++) {
    size_t m = 0;
    for (size_t i = 0; i < l->n; i++)           /* in their order */
      if (round[i] == r) batch[m++] = l->op[i];
    for (size_t at = 0; !rc && at < m; at += 2000) {
      size_t k = m - at < 2000 ? m - at : 2000;
      rc = kr__author(n, batch + at, (uint32_t)k, NULL, wire);
      if (rc == KR_ENOTMEMBER) rc = 0;
    }
  }
  free(ix);
  free(round);
  free(batch);
  return rc;
}

int kr__finish(kr_node *n, kr_buf *wire)
{
  oplist l = {0};
  view v;
  sqlite3_int64 *t;
  size_t nt;
  int rc = 0, removed, memb_changed;

  if (n->in_finish) return 0;
  n->in_finish = 1;
  {
    /* a withdrawal may void the one that ended this node's access: open the
     * key ops sealed to it again (the folds below decide with them) */
    sqlite3_int64 *r = (sqlite3_int64 *)n->retry.id;
    size_t nr = n->retry.n;
    if (nr) qsort(r, nr, sizeof *r, cmp_i64);
    for (size_t i = 0; i < nr && !rc; i++)
      if ((!i || r[i] != r[i - 1]) && kr__erased(n, r[i], NULL) == 0 && !kr__readable(n, r[i]) &&
          (rc = recover(n, r[i])) > 0)
        rc = 0;
  }
  {
    reopen_at *r = (reopen_at *)n->reopen.id;
    size_t nr = n->reopen.n;
    if (nr) qsort(r, nr, sizeof *r, cmp_reopen);
    for (size_t i = 0; i < nr && !rc; i++) {
      if (i + 1 < nr && r[i + 1].sn == r[i].sn) continue;   /* the latest key op of sn */
      if (kr__erased(n, r[i].sn, NULL) == 0) rc = reopen(n, r[i].sn, r[i].chg, r[i].place);
    }
  }
  n->reopen.n = 0;
  {
    sqlite3_int64 *r = (sqlite3_int64 *)n->replay.id;
    size_t nr = n->replay.n;
    if (nr) qsort(r, nr, sizeof *r, cmp_i64);
    for (size_t i = 0; i < nr && !rc; i++)
      if ((!i || r[i] != r[i - 1]) && kr__erased(n, r[i], NULL) == 0) rc = replay(n, r[i]);
    n->replay.n = 0;
  }
  removed = am_removed(n);
  memb_changed = n->memb_changed;
  if (!rc && n->memb_changed)
    rc = touch_query(n, removed ? "SELECT DISTINCT subj FROM vkeys"
                                : "SELECT DISTINCT c.subj FROM consent_ops c WHERE c.is_grant AND"
                                  " (c.recipient=0 OR NOT EXISTS (SELECT 1 FROM keyops o WHERE"
                                  " o.subj=c.subj AND o.reader=c.recipient)) AND"
                                  " EXISTS (SELECT 1"
                                  " FROM vkeys k WHERE k.subj=c.subj AND k.ok)");
  n->memb_changed = 0;
  /* the list is taken: what is touched from here on (keys recovered,
   * groups reopened) is checked already */
  t = (sqlite3_int64 *)n->touched.id;
  nt = n->touched.n;
  memset(&n->touched, 0, sizeof n->touched);
  if (nt) qsort(t, nt, sizeof *t, cmp_i64);
  view_init(&v);
  if (n->issued.n) qsort(n->issued.id, n->issued.n, sizeof *t, cmp_i64);
  if (n->cut.n) qsort(n->cut.id, n->cut.n, sizeof *t, cmp_i64);
  for (size_t i = 0; i < nt && !rc; i++) {
    int sent;
    if (i && t[i] == t[i - 1]) continue;
    if (kr__erased(n, t[i], NULL) != 0) continue;
    /* made by a local change of this transaction, its keys sealed in it to
     * every reader it has (its consent is that change's alone) */
    sent = !memb_changed && n->issued.n &&
           bsearch(&t[i], n->issued.id, n->issued.n, sizeof t[i], cmp_i64) &&
           !(n->cut.n && bsearch(&t[i], n->cut.id, n->cut.n, sizeof t[i], cmp_i64));
    view_subject(&v, t[i]);
    if ((rc = check_mine(n, &v, t[i], removed,
                         n->retry.n && bsearch(&t[i], n->retry.id, n->retry.n, sizeof t[i],
                                               cmp_i64) != NULL)))
      break;
    if (!removed && !sent) rc = issue(n, &v, t[i], &l);
  }
  view_free(&v);
  n->issued.n = 0;
  n->cut.n = 0;
  free(t);
  n->touched.n = 0;
  n->reopen.n = 0;
  n->retry.n = 0;
  /* The keys go out in changes of this node's own, 2000 key ops a change.
   * A change holds one key entry per volunteer, epoch and reader (one
   * record per volunteer and epoch, one entry per reader in it): a second
   * key of one epoch for one reader goes in a later change (rounds). */
  if (!rc && l.n) rc = send_keys(n, &l, wire);
  oplist_free(&l);
  n->in_finish = 0;
  return rc;
}

int kr__expiry_due(kr_node *n, int touch)
{
  sqlite3_stmt *s;
  char day[11], seen[11] = "";
  int64_t last = 0;
  int rc = 0, any = 0;

  kr_node_today(n, day);
  if (prep(n, "SELECT DISTINCT c.subj FROM consent_ops c WHERE c.is_grant AND c.until<>'' AND"
              " c.until<?1 AND (c.recipient=" RCPT_NO("?2") " OR c.recipient=0) AND EXISTS (SELECT 1 FROM"
              " vkeys k WHERE k.subj=c.subj) AND NOT EXISTS (SELECT 1 FROM registrations r WHERE"
              " r.subj=c.subj AND r.origin=" NODE_NO("?2") ")", &s))
    return KR_EDB;
  sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  while (!rc && kr__step(s, &rc)) {
    any = 1;
    if (!touch) break;
    rc = kr__touch(n, sqlite3_column_int64(s, 0));
  }
  sqlite3_finalize(s);
  if (rc || (any && !touch)) return rc ? rc : any;
  /* A grant to another node (or all) that ended since the day last looked
   * at: a reader of the volunteer looks again at who lacks its keys (that
   * node may have lost them while another consent still names it; issue,
   * at the end of the transaction). Once a day. */
  if (kr__meta_get_int(n, "ends_seen", &last) == 0 && last > 0)
    snprintf(seen, sizeof seen, "%04d-%02d-%02d", (int)(last / 10000), (int)(last / 100 % 100),
             (int)(last % 100));
  if (strcmp(seen, day) >= 0) return any;
  if (prep(n, "SELECT DISTINCT c.subj FROM consent_ops c WHERE c.is_grant AND c.until<>'' AND"
              " c.until<?1 AND c.until>=?2 AND EXISTS (SELECT 1 FROM vkeys k WHERE"
              " k.subj=c.subj AND k.ok)", &s))
    return KR_EDB;
  sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, seen, -1, SQLITE_STATIC);
  while (!rc && kr__step(s, &rc)) {
    any = 1;
    if (!touch) break;
    rc = kr__touch(n, sqlite3_column_int64(s, 0));
  }
  sqlite3_finalize(s);
  if (!rc && touch) {
    int y = 0, mo = 0, d = 0;
    sscanf(day, "%4d-%2d-%2d", &y, &mo, &d);
    rc = kr__meta_put_int(n, "ends_seen", (int64_t)y * 10000 + mo * 100 + d);
  }
  return rc ? rc : any;
}

/* ---- what a coordinator reads ---------------------------------------------- */

typedef struct {
  kr_node *n;
  kr_reader_cb cb;
  void *ctx;
  const char *purpose;
} list_ctx;

static int list_cb(void *ctx, const uint8_t *rcpt, kr_consent_state st, kr_hlc granted,
                   const char *until, kr_hlc withdrawn)
{
  list_ctx *x = ctx;
  sqlite3_stmt *s;
  int rc = 0;
  (void)granted;
  (void)withdrawn;
  if (st != KR_CONSENT_GRANTED) return 0;
  if (prep(x->n, "SELECT node FROM members WHERE org IS NOT NULL AND cutoff IS NULL AND"
                 " (?1 IS NULL OR node=?1) ORDER BY org", &s))
    return KR_EDB;
  if (rcpt) sqlite3_bind_blob(s, 1, rcpt, KR_NODE_LEN, SQLITE_STATIC);
  while (!rc && kr__step(s, &rc)) {
    kr_reader r;
    memset(&r, 0, sizeof r);
    if (sqlite3_column_bytes(s, 0) != KR_NODE_LEN) continue;
    memcpy(r.node, sqlite3_column_blob(s, 0), KR_NODE_LEN);
    r.purpose = x->purpose;
    r.all = rcpt == NULL;
    r.until = until;
    rc = x->cb(x->ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_readers(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], kr_reader_cb cb,
                    void *ctx)
{
  sqlite3_int64 sn;
  sqlite3_stmt *s;
  uint8_t reg[KR_NODE_LEN];
  int rc;

  if ((rc = kr__subject_read(n, id, &sn))) return rc;
  if (registrar(n, sn, reg) == 1) {
    kr_reader r;
    memset(&r, 0, sizeof r);
    memcpy(r.node, reg, KR_NODE_LEN);
    r.registrar = 1;
    if ((rc = cb(ctx, &r))) return rc;
  }
  /* per purpose, so that each reader is named with the purpose it reads for */
  if (prep(n, "SELECT DISTINCT purpose FROM consent_ops WHERE subj=?1 ORDER BY purpose", &s))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  while (!rc && kr__step(s, &rc)) {
    list_ctx x = {n, cb, ctx, (const char *)sqlite3_column_text(s, 0)};
    sqlite3_stmt *r;
    char day[11];
    kr_node_today(n, day);
    if (prep(n, "SELECT DISTINCT " RCPT_ID("recipient") " FROM consent_ops WHERE subj=?1 AND"
                 " purpose=?2", &r)) {
      rc = KR_EDB;
      break;
    }
    sqlite3_bind_int64(r, 1, sn);
    sqlite3_bind_text(r, 2, x.purpose, -1, SQLITE_STATIC);
    while (!rc && kr__step(r, &rc)) {
      const void *rc_ = sqlite3_column_blob(r, 0);
      int rlen = sqlite3_column_bytes(r, 0);
      kr_consent_state st;
      uint8_t tag[KR_TAG_LEN];
      int has;
      char until[11] = "";
      if (rlen != 0 && rlen != KR_NODE_LEN) continue;
      if ((rc = kr__consent_in_force(n, sn, x.purpose, rlen ? rc_ : "", rlen, day, &st, tag, &has)))
        break;
      if (has) {
        sqlite3_stmt *u;
        if (!prep(n, "SELECT until FROM consent_ops WHERE subj=?1 AND tag=?2", &u)) {
          sqlite3_bind_int64(u, 1, sn);
          sqlite3_bind_blob(u, 2, tag, KR_TAG_LEN, SQLITE_STATIC);
          if (sqlite3_step(u) == SQLITE_ROW && sqlite3_column_text(u, 0))
            snprintf(until, sizeof until, "%s", (const char *)sqlite3_column_text(u, 0));
          sqlite3_finalize(u);
        }
      }
      rc = list_cb(&x, rlen ? rc_ : NULL, st, 0, until, 0);
    }
    sqlite3_finalize(r);
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_access_lost(kr_node *n, kr_access_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc = 0;

  if (prep(n, "SELECT subject, at, why FROM access ORDER BY n", &s)) return KR_EDB;
  while (!rc && kr__step(s, &rc)) {
    kr_access_loss l;
    if (sqlite3_column_bytes(s, 0) != KR_SUBJECT_LEN) continue;
    memcpy(l.subject, sqlite3_column_blob(s, 0), KR_SUBJECT_LEN);
    l.at_ms = (uint64_t)sqlite3_column_int64(s, 1);
    l.why = (const char *)sqlite3_column_text(s, 2);
    rc = cb(ctx, &l);
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_bad_groups(kr_node *n, uint64_t *count)
{
  sqlite3_stmt *s;
  int rc = 0;
  *count = 0;
  if (prep(n, "SELECT count(*) FROM bad_groups", &s)) return KR_EDB;
  if (kr__step(s, &rc)) *count = (uint64_t)sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc;
}
