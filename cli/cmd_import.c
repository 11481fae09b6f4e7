/*
 * cmd_import: kring import FILE.csv|FILE.xlsx. Brings an organisation's
 * volunteer sheet into the register, and brings the register up to date
 * when the same sheet is imported again later.
 *
 * Two passes over the file (each streamed, a row at a time):
 *   1. check: map the columns, repair each value (repair.c), match the row
 *      to a volunteer already held (e-mail, else phone, else name and
 *      year of birth), and run every edit of a volunteer held already
 *      (and, with --consent, of a new one) through kr_txn_* in a scratch
 *      transaction that is never committed, so that each refusal carries
 *      kring's own reason; a new volunteer's values went through the same
 *      kr_normalise_field when they were repaired (new_row_cost). Nothing
 *      is written. --dry-run stops here.
 *      Each row to write (new or updated) is kept, repaired and
 *      normalised, in an unnamed temporary file in the home folder.
 *   2. write (only when pass 1 refused no row, or with --skip-bad): the
 *      kept rows, read back from that file (the sheet is not read again:
 *      what is written is exactly what was checked), their edits
 *      committed as changes of at most IMP_BATCH operations and
 *      IMP_CHANGE_BYTES of values.
 * A column that holds BSNs refuses the whole import after pass 1 at the
 * latest, before anything is written.
 */
#define _GNU_SOURCE              /* O_TMPFILE */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "cli/repair.h"
#include "cli/sheet.h"
#include "crdt/err.h"
#include "node/validate.h"

#define IMP_BATCH 4000           /* operations in one change, at most */
#define IMP_OP_BYTES 32          /* what an operation costs in a change, besides its value */
#define IMP_CHANGE_BYTES (384u << 10) /* values and operations in one change (of 1 MiB, sealed) */
#define IMP_ROW_BYTES (256u << 10)    /* the same for one row: more is refused in pass 1 */
#define IMP_LIST_MAX 10000       /* report lines kept per kind (the rest counted) */
#define IMP_SHOW_MAX 50          /* report lines printed per kind (all with --json) */
#define IMP_HEADER_SCAN 10       /* rows searched for the header */
#define IMP_ITEMS 64             /* items in one list cell */

static const char usage[] =
  "kring import FILE.csv|FILE.xlsx [--dry-run] [--skip-bad] [--sync-sets] [--sheet NAME] "
  "[--separator ';'|','|tab] [--map 'Column=field']... [--consent PURPOSE --to ORG|all "
  "--consent-column COLUMN [--method paper|verbal|digital] [--text-version V]]";

typedef struct {
  char *header;
  int kind, field;
  uint64_t filled, bsn;        /* non-empty cells; of those, what a BSN looks like */
} column;

/* A hash map from text to a volunteer (>= 0: index into ids) or a row of
 * this sheet (< 0: -row). Keys live in one arena; each slot keeps its
 * key's hash, so that neither a probe nor growing reads keys needlessly. */
typedef struct {
  char **key;
  int64_t *val;
  uint64_t *hv;
  size_t cap, n;
  char *arena;
  size_t alen, acap;
  char **blocks;
  size_t nblocks;
} map;

/* One data row as kring would store it: its values repaired and
 * normalised, each with the column it came from (an index into the
 * columns; -1: none). The buffers stay for the next row. */
typedef struct {
  uint64_t row;
  char *single[32];            /* normalised values from the sheet (NULL: not given) */
  int col_of[32];              /* the column each came from */
  char *items[32];             /* set fields: NUL-separated normalised values */
  size_t nitems[32], ilen[32], icap[32];
  int scol[32];                /* the column of each set field */
  int consent;
  const char *err_col;
  char err[600];
  char sbuf[32][KR_VALUE_MAX + 1];  /* where single[] points */
} plan;

typedef struct {
  kr_node *n;
  const char *file;
  int dry, skip_bad, sync_sets, json, tty;
  const char *consent, *consent_col, *text_version;
  const uint8_t *recipient;    /* NULL: all */
  uint8_t rcpt[KR_NODE_LEN];
  int method;
  const char **maps;
  size_t nmaps;
  int this_year;
  char today[11];
  /* the columns */
  column *col;
  size_t ncol;
  uint64_t header_row;
  int have_header;
  int set_cols[32];            /* a column of this set field is in the sheet */
  /* volunteers held: ids, and the match map */
  uint8_t (*ids)[KR_SUBJECT_LEN];
  size_t nids, capids;
  map m;
  /* per data row, from pass 1 */
  uint64_t *taken;             /* per volunteer held: the row that matched it (0: none) */
  size_t nrows;                /* data rows read */
  size_t row_i;                /* pass 2: the data row being written, and those before it */
  int pass;
  plan *p;                     /* the row at hand */
  FILE *keep;                  /* the rows to write, from pass 1 to pass 2 (NULL: --dry-run) */
  int keep_errno;              /* why it failed (IMP_EKEEP) */
  uint8_t keep_key[32];        /* the file's rows are sealed under it: no personal data */
  uint64_t keep_w, keep_r;     /* rows written, read: each row's nonce */
  char *rec;                   /* one kept row, as written or read */
  size_t rlen, rcap;
  /* the transaction */
  kr_txn *t;
  size_t tbytes, rbytes;       /* what the change, and the row at hand, put in it (estimated) */
  uint64_t changes, ops;
  /* counts and the report */
  uint64_t n_new, n_update, n_same, n_refused, n_empty, n_repairs, n_above;
  json_t *refused, *repairs, *updated, *unmapped, *mapped;
  size_t l_refused, l_repairs, l_updated;
  int fatal;                   /* a failure that ends the import (message printed) */
} imp;

/* ---- the match map ------------------------------------------------------------- */

static uint64_t hash(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static char *arena_dup(map *m, const char *s)
{
  size_t l = strlen(s) + 1;
  char *p;
  if (m->alen + l > m->acap) {
    size_t sz = l > 65536 ? l : 65536;
    char **b = realloc(m->blocks, (m->nblocks + 1) * sizeof *b);
    if (!b) return NULL;
    m->blocks = b;
    if (!(m->arena = malloc(sz))) return NULL;
    m->blocks[m->nblocks++] = m->arena;
    m->alen = 0;
    m->acap = sz;
  }
  p = m->arena + m->alen;
  memcpy(p, s, l);
  m->alen += l;
  return p;
}

static int64_t *map_find_h(map *m, const char *k, uint64_t h)
{
  if (!m->cap) return NULL;
  for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->key[i]) return NULL;
    if (m->hv[i] == h && strcmp(m->key[i], k) == 0) return &m->val[i];
  }
}

/* Add k -> v unless k is there already; h is hash(k). */
static int map_put_h(map *m, const char *k, uint64_t h, int64_t v)
{
  if (map_find_h(m, k, h)) return 0;
  if ((m->n + 1) * 4 > m->cap * 3) {           /* at most 3/4 full */
    size_t nc = m->cap ? m->cap * 2 : 1024;
    char **nk = calloc(nc, sizeof *nk);
    int64_t *nv = calloc(nc, sizeof *nv);
    uint64_t *nh = calloc(nc, sizeof *nh);
    if (!nk || !nv || !nh) { free(nk); free(nv); free(nh); return KR_ENOMEM; }
    for (size_t i = 0; i < m->cap; i++)
      if (m->key[i]) {
        size_t j = m->hv[i] & (nc - 1);
        while (nk[j]) j = (j + 1) & (nc - 1);
        nk[j] = m->key[i];
        nv[j] = m->val[i];
        nh[j] = m->hv[i];
      }
    free(m->key);
    free(m->val);
    free(m->hv);
    m->key = nk;
    m->val = nv;
    m->hv = nh;
    m->cap = nc;
  }
  {
    size_t i = h & (m->cap - 1);
    char *kk = arena_dup(m, k);
    if (!kk) return KR_ENOMEM;
    while (m->key[i]) i = (i + 1) & (m->cap - 1);
    m->key[i] = kk;
    m->val[i] = v;
    m->hv[i] = h;
    m->n++;
  }
  return 0;
}

static int map_put(map *m, const char *k, int64_t v) { return map_put_h(m, k, hash(k), v); }

static void map_free(map *m)
{
  for (size_t i = 0; i < m->nblocks; i++) free(m->blocks[i]);
  free(m->blocks);
  free(m->key);
  free(m->val);
  free(m->hv);
}

/* The match keys of a volunteer: e-mail, phone, name with year of birth. */
static void name_key(const char *name, const char *year, char *out, size_t cap)
{
  size_t o = 0;
  int sp = 0;
  o += (size_t)snprintf(out, cap, "n:%s:", year);
  for (const char *p = name; *p && o + 1 < cap; p++) {
    if (*p == ' ' || *p == '\t') { sp = 1; continue; }
    if (sp && o > 0 && out[o - 1] != ':') out[o++] = ' ';
    sp = 0;
    out[o++] = (char)tolower((unsigned char)*p);
  }
  out[o] = 0;
}

static int put_keys(imp *im, const char *email, const char *phone, const char *name,
                    const char *year, int64_t v)
{
  char k[KR_VALUE_MAX + 16];
  int rc = 0;
  if (email) { snprintf(k, sizeof k, "e:%s", email); rc = map_put(&im->m, k, v); }
  if (!rc && phone) { snprintf(k, sizeof k, "p:%s", phone); rc = map_put(&im->m, k, v); }
  if (!rc && name && year) { name_key(name, year, k, sizeof k); rc = map_put(&im->m, k, v); }
  return rc;
}

static int held_one(void *ctx, const uint8_t id[KR_SUBJECT_LEN])
{
  imp *im = ctx;
  kr_volunteer v;
  int rc = kr_node_volunteer(im->n, id, &v);

  if (rc) return rc;
  if (!v.erased) {
    if (im->nids == im->capids) {
      size_t nc = im->capids ? 2 * im->capids : 1024;
      void *g = realloc(im->ids, nc * KR_SUBJECT_LEN);
      if (!g) { kr_volunteer_free(&v); return KR_ENOMEM; }
      im->ids = g;
      im->capids = nc;
    }
    memcpy(im->ids[im->nids], id, KR_SUBJECT_LEN);
    rc = put_keys(im, v.val.v[KR_F_EMAIL], v.val.v[KR_F_PHONE], v.val.v[KR_F_NAME],
                  v.val.v[KR_F_BIRTH_YEAR], (int64_t)im->nids);
    im->nids++;
  }
  kr_volunteer_free(&v);
  return rc;
}

/* ---- the report ------------------------------------------------------------------- */

static void note(imp *im, json_t *list, size_t *count, json_t *entry)
{
  if (im->pass != 1 || *count >= IMP_LIST_MAX) {
    json_decref(entry);
    return;
  }
  json_array_append_new(list, entry);
  ++*count;
}

/* A column's header (NULL for -1). */
static const char *colname(const imp *im, int col)
{
  return col >= 0 && (size_t)col < im->ncol ? im->col[col].header : NULL;
}

/* Empty p for the next row (its buffers stay). */
static void plan_reset(plan *p, uint64_t row)
{
  p->row = row;
  for (int i = 0; i < 32; i++) {
    p->single[i] = NULL;
    p->col_of[i] = p->scol[i] = -1;
    p->nitems[i] = p->ilen[i] = 0;
  }
  p->consent = 0;
  p->err_col = NULL;
  p->err[0] = 0;
}

static void plan_free(plan *p)
{
  if (!p) return;
  for (int i = 0; i < 32; i++) free(p->items[i]);
  free(p);
}

static int refuse(plan *p, const char *col, const char *fmt, const char *a, const char *b)
{
  if (p->err[0]) return -1;
  p->err_col = col;
  snprintf(p->err, sizeof p->err, fmt, a ? a : "", b ? b : "");
  return -1;
}

/* Whether a repair's note would be listed (once the list is full, repairs
 * are only counted: their notes need not be written). */
static int notes_wanted(const imp *im)
{
  return im->pass == 1 && im->l_repairs < IMP_LIST_MAX;
}

/* A repair made (what: its note; NULL when !notes_wanted). */
static void repaired(imp *im, uint64_t row, const char *col, const char *what)
{
  if (im->pass != 1) return;
  im->n_repairs++;
  if (im->l_repairs >= IMP_LIST_MAX || !what) return;   /* counted; the list is full */
  note(im, im->repairs, &im->l_repairs,
       json_pack("{s:I, s:s, s:s}", "row", (json_int_t)row, "column", col, "repair", what));
}

/* Normalise value for field as kring would store it into out
 * (KR_VALUE_MAX + 1 bytes); refuse the row if kring would not. */
static int norm(imp *im, plan *p, int col, int field, const char *value, char *out)
{
  const char *why = NULL;
  int rc = kr_normalise_field(field, value, out, KR_VALUE_MAX + 1, im->this_year, &why);
  if (rc == KR_EBSN)
    return refuse(p, colname(im, col),
                  _("'%s' looks like a BSN (citizen service number); kring never stores one%s"),
                  value, "");
  if (rc) return refuse(p, colname(im, col), "'%s': %s", value, why ? cli_why(why) : cli_strerror(rc));
  return 0;
}

static int set_single(imp *im, plan *p, int col, int field, const char *value)
{
  if (p->single[field]) return 0;      /* an earlier column gave it */
  if (norm(im, p, col, field, value, p->sbuf[field])) return -1;
  p->single[field] = p->sbuf[field];
  p->col_of[field] = col;
  return 0;
}

/* Add a normalised item of set field f (0..31) unless it is there. */
static int put_item(plan *p, int f, const char *out, size_t l)
{
  const char *s = p->items[f];
  for (size_t i = 0; i < p->nitems[f]; i++) {
    if (strcmp(s, out) == 0) return 0;
    s += strlen(s) + 1;
  }
  if (p->ilen[f] + l + 1 > p->icap[f]) {
    size_t nc = p->icap[f] ? p->icap[f] : 256;
    char *g;
    while (nc < p->ilen[f] + l + 1) nc *= 2;
    if (!(g = realloc(p->items[f], nc))) return KR_ENOMEM;
    p->items[f] = g;
    p->icap[f] = nc;
  }
  memcpy(p->items[f] + p->ilen[f], out, l + 1);
  p->ilen[f] += l + 1;
  p->nitems[f]++;
  return 0;
}

static int add_item(imp *im, plan *p, int col, int field, const char *value)
{
  char out[KR_VALUE_MAX + 1];

  if (norm(im, p, col, field, value, out)) return -1;
  if (put_item(p, field - 32, out, strlen(out)))
    return refuse(p, colname(im, col), _("out of memory%s%s"), NULL, NULL);
  p->scol[field - 32] = col;
  return 0;
}

/* ---- one row: repair and normalise ------------------------------------------------- */

static int cell_value(imp *im, plan *p, const column *c, const char *raw)
{
  char v[SHEET_CELL_MAX + 1], fixed[256], nt[300];
  const char *col = c->header;
  int ci = (int)(c - im->col);

  if (c->kind == RP_FIELD && c->field == KR_F_NOTES) {
    /* keep line breaks, as LF */
    size_t o = 0;
    rp_trim(raw, v, sizeof v);
    for (size_t i = 0; v[i]; i++) {
      if (v[i] == '\r') { v[o++] = '\n'; if (v[i + 1] == '\n') i++; }
      else v[o++] = v[i];
    }
    v[o] = 0;
  } else {
    rp_trim(raw, v, sizeof v);
  }
  if (!v[0]) return 0;
  /* An apostrophe that a careful export put before =, +, - or @ */
  if (v[0] == '\'' && v[1] && strchr("=+-@", v[1])) memmove(v, v + 1, strlen(v));
  switch (c->kind) {
  case RP_FIRST: case RP_NICK: case RP_INFIX: case RP_LAST: case RP_CONSENT:
    return 0;                          /* taken together below */
  case RP_BIRTHDATE: {
    int y, m, d;
    char year[8];
    if (!rp_date(v, im->this_year, 1, &y, &m, &d, nt, sizeof nt))
      return refuse(p, col, _("'%s' is not a date (dd-mm-jjjj)%s"), v, "");
    if (nt[0]) repaired(im, p->row, col, nt);
    snprintf(year, sizeof year, "%d", y);
    return set_single(im, p, ci, KR_F_BIRTH_YEAR, year);
  }
  case RP_FIELD:
    break;
  default:
    return 0;
  }
  switch (c->field) {
  case KR_F_PHONE: {
    const char *why;
    if (!rp_phone(v, fixed, sizeof fixed, nt, sizeof nt, &why))
      return refuse(p, col, "'%s': %s", v, why);
    if (nt[0]) repaired(im, p->row, col, nt);
    return set_single(im, p, ci, c->field, fixed);
  }
  case KR_F_POSTCODE:
    rp_postcode(v, fixed, sizeof fixed);
    if (strcmp(fixed, v) != 0 && !notes_wanted(im)) {
      repaired(im, p->row, col, NULL);            /* counted; the list is full */
    } else if (strcmp(fixed, v) != 0) {
      snprintf(nt, sizeof nt, _("%s written as %s"), v, fixed);
      repaired(im, p->row, col, nt);
    }
    return set_single(im, p, ci, c->field, fixed);
  case KR_F_BIRTH_YEAR: {
    int y, m, d;
    if (strlen(v) != 4 || strspn(v, "0123456789") != 4) {
      if (!rp_date(v, im->this_year, 1, &y, &m, &d, nt, sizeof nt))
        return refuse(p, col, _("'%s' is not a year of birth%s"), v, "");
      snprintf(fixed, sizeof fixed, "%d", y);
      if (notes_wanted(im))
        snprintf(nt, sizeof nt, _("year of birth %s taken from the date %s"), fixed, v);
      repaired(im, p->row, col, notes_wanted(im) ? nt : NULL);
      return set_single(im, p, ci, c->field, fixed);
    }
    return set_single(im, p, ci, c->field, v);
  }
  case KR_F_VOG_CHECKED_ON: {
    int y, m, d;
    if (!rp_date(v, im->this_year, 0, &y, &m, &d, nt, sizeof nt))
      return refuse(p, col, _("'%s' is not a date (dd-mm-jjjj)%s"), v, "");
    snprintf(fixed, sizeof fixed, "%04d-%02d-%02d", y, m, d);
    if (nt[0]) repaired(im, p->row, col, nt);
    return set_single(im, p, ci, c->field, fixed);
  }
  case KR_F_VOG_MEETS: {
    char l[16];
    rp_trim(v, l, sizeof l);
    for (char *q = l; *q; q++) *q = (char)tolower((unsigned char)*q);
    if (rp_truthy(l)) return set_single(im, p, ci, c->field, "yes");
    if (!strcmp(l, "nee") || !strcmp(l, "no") || !strcmp(l, "n") || !strcmp(l, "0") ||
        !strcmp(l, "onwaar") || !strcmp(l, "false"))
      return set_single(im, p, ci, c->field, "no");
    return refuse(p, col, _("'%s': must be ja or nee%s"), v, "");
  }
  case KR_F_EMAIL:
    if (strncasecmp(v, "mailto:", 7) == 0) memmove(v, v + 7, strlen(v + 7) + 1);
    return set_single(im, p, ci, c->field, v);
  case KR_F_NAME: case KR_F_CITY: {
    /* one space between words */
    size_t o = 0;
    for (size_t i = 0; v[i]; i++)
      if (!(v[i] == ' ' && (o == 0 || v[o - 1] == ' '))) v[o++] = v[i];
    v[o] = 0;
    return set_single(im, p, ci, c->field, v);
  }
  default:
    break;
  }
  if (kr_field_is_set(c->field)) {
    static char items[IMP_ITEMS][RP_ITEM_MAX];
    size_t n = rp_split(v, items, IMP_ITEMS);
    for (size_t i = 0; i < n; i++) {
      if (c->field == KR_F_AVAILABILITY) {
        char codes[21][8];
        size_t k;
        if (!rp_availability(items[i], codes, &k))
          return refuse(p, col, _("'%s' is not an availability (ma ochtend, di middag, wo avond, "
                                "za, ma-vr ochtend, or mon-am ... sun-ev)%s"), items[i], "");
        if ((k != 1 || strcmp(codes[0], items[i]) != 0) && !notes_wanted(im)) {
          repaired(im, p->row, col, NULL);        /* counted; the list is full */
        } else if (k != 1 || strcmp(codes[0], items[i]) != 0) {
          char list[21 * 8] = "";
          for (size_t j = 0; j < k; j++) {
            if (j) strcat(list, " ");
            strcat(list, codes[j]);
          }
          snprintf(nt, sizeof nt, _("'%s' read as %s"), items[i], list);
          repaired(im, p->row, col, nt);
        }
        for (size_t j = 0; j < k; j++)
          if (add_item(im, p, ci, c->field, codes[j])) return -1;
      } else if (add_item(im, p, ci, c->field, items[i])) {
        return -1;
      }
    }
    return 0;
  }
  return set_single(im, p, ci, c->field, v);
}

/* Nothing but white space (what rp_trim makes empty). */
static int blank(const char *s)
{
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
  return 1;
}

/* The row's values into p; 0, or -1 with p->err when it is refused. */
static int read_row(imp *im, const sheet_row *r, plan *p, int *empty)
{
  char part[4][KR_VALUE_MAX + 1];
  int name_col = -1;
  int have[4] = {0};

  plan_reset(p, r->row);
  *empty = 1;
  for (size_t i = 0; i < r->n && i < im->ncol && *empty; i++)
    if (im->col[i].kind != RP_UNKNOWN && im->col[i].kind != RP_SKIP && !blank(r->cell[i])) *empty = 0;
  if (*empty) return 0;
  for (size_t i = 0; i < r->n && i < im->ncol; i++) {
    column *c = &im->col[i];
    int k = c->kind == RP_FIRST ? 0 : c->kind == RP_NICK ? 1 : c->kind == RP_INFIX ? 2
          : c->kind == RP_LAST ? 3 : -1;
    if (k >= 0) {
      char t[KR_VALUE_MAX + 1];
      rp_trim(r->cell[i], t, sizeof t);
      if (t[0] && !have[k]) {
        snprintf(part[k], sizeof part[k], "%s", t);
        have[k] = 1;
        if (name_col < 0 || k == 3) name_col = (int)i;
      }
      continue;
    }
    if (c->kind == RP_CONSENT) { p->consent = rp_truthy(r->cell[i]); continue; }
    if (cell_value(im, p, c, r->cell[i])) return -1;
  }
  if (!p->single[KR_F_NAME] && (have[0] || have[1] || have[3])) {
    char name[3 * KR_VALUE_MAX + 8] = "";
    const char *first = have[1] ? part[1] : have[0] ? part[0] : NULL;
    if (first) strcat(name, first);
    if (have[2]) { if (name[0]) strcat(name, " "); strcat(name, part[2]); }
    if (have[3]) { if (name[0]) strcat(name, " "); strcat(name, part[3]); }
    if (set_single(im, p, name_col, KR_F_NAME, name)) return -1;
  }
  if (!p->single[KR_F_NAME] && !p->single[KR_F_EMAIL] && !p->single[KR_F_PHONE])
    return refuse(p, NULL, _("the row has no name, e-mail or phone number to know the volunteer by%s%s"),
                  NULL, NULL);
  return 0;
}

/* ---- one row: match and edit ------------------------------------------------------- */

static int has_item(const kr_volunteer *v, int field, const char *val)
{
  for (size_t k = 0; k < v->val.set[field - 32].n; k++)
    if (strcmp(v->val.set[field - 32].v[k], val) == 0) return 1;
  return 0;
}

struct consent_find {
  const char *purpose;
  const uint8_t *rcpt;
  int granted;
};

static int consent_one(void *ctx, const kr_consent_status *s)
{
  struct consent_find *f = ctx;
  if (strcmp(s->purpose, f->purpose) != 0) return 0;
  if (f->rcpt ? s->all || memcmp(s->recipient, f->rcpt, KR_NODE_LEN) != 0 : !s->all) return 0;
  if (s->state == KR_CONSENT_GRANTED) f->granted = 1;
  return 0;
}

/* Put the edits of p on volunteer id (new: a subject new in this txn) into
 * im->t; the names of changed fields into changed (unless it is NULL);
 * what they cost in the change added to im->rbytes. */
static int edit(imp *im, plan *p, const uint8_t id[KR_SUBJECT_LEN], int new, char *changed,
                size_t cap, size_t *nops)
{
  kr_volunteer v;
  const char *why = NULL;
  int rc = 0;

  memset(&v, 0, sizeof v);
  if (changed) changed[0] = 0;
  *nops = 0;
  if (!new && (rc = kr_node_volunteer(im->n, id, &v))) return rc;
#define CHANGED(f)                                                                  \
  do {                                                                              \
    if (changed && !strstr(changed, kr_field_name(f)) && strlen(changed) + 40 < cap) \
      snprintf(changed + strlen(changed), cap - strlen(changed), "%s%s",            \
               changed[0] ? ", " : "", kr_field_name(f));                           \
  } while (0)
  for (int f = 1; f < 32 && !rc; f++) {
    if (!p->single[f]) continue;
    if (!new && v.val.v[f] && strcmp(v.val.v[f], p->single[f]) == 0) continue;
    if ((rc = kr_txn_set(im->t, id, f, p->single[f], &why))) {
      refuse(p, colname(im, p->col_of[f]), "'%s': %s", p->single[f], rc == KR_EBSN ? _("looks like a BSN") : why ? cli_why(why) : cli_strerror(rc));
      break;
    }
    ++*nops;
    im->rbytes += strlen(p->single[f]) + IMP_OP_BYTES;
    CHANGED(f);
  }
  for (int f = 32; f < 64 && !rc; f++) {
    const char *s = p->items[f - 32];
    if (!p->nitems[f - 32] && (new || !im->sync_sets || !im->set_cols[f - 32])) continue;
    if (!kr_field_name(f)) continue;
    for (size_t i = 0; i < p->nitems[f - 32] && !rc; i++, s += strlen(s) + 1) {
      if (!new && has_item(&v, f, s)) continue;
      if ((rc = kr_txn_add(im->t, id, f, s, &why))) {
        refuse(p, colname(im, p->scol[f - 32]), "'%s': %s", s, why ? cli_why(why) : cli_strerror(rc));
        break;
      }
      ++*nops;
      im->rbytes += strlen(s) + IMP_OP_BYTES;
      CHANGED(f);
    }
    if (!rc && !new && im->sync_sets && im->set_cols[f - 32]) {
      for (size_t k = 0; k < v.val.set[f - 32].n && !rc; k++) {
        const char *have = v.val.set[f - 32].v[k], *q = p->items[f - 32];
        int keep = 0;
        for (size_t i = 0; i < p->nitems[f - 32]; i++, q += strlen(q) + 1)
          if (strcmp(q, have) == 0) keep = 1;
        if (keep) continue;
        if ((rc = kr_txn_remove(im->t, id, f, have, &why))) {
          refuse(p, colname(im, p->scol[f - 32]), _("removing '%s': %s"), have, why ? cli_why(why) : cli_strerror(rc));
          break;
        }
        ++*nops;
        im->rbytes += strlen(have) + 4 * IMP_OP_BYTES;   /* and the tags it removes */
        CHANGED(f);
      }
    }
  }
  if (!rc && im->consent && p->consent) {
    struct consent_find cf = {im->consent, im->recipient, 0};
    if (!new && (rc = kr_node_consent(im->n, id, consent_one, &cf))) goto out;
    if (!cf.granted) {
      if ((rc = kr_txn_grant(im->t, id, im->consent, im->recipient, im->method,
                             im->text_version, "", &why))) {
        refuse(p, im->consent_col, _("consent: %s%s"), why ? cli_why(why) : cli_strerror(rc), "");
      } else {
        ++*nops;
        im->rbytes += strlen(im->consent) + (im->text_version ? strlen(im->text_version) : 0) +
                      KR_NODE_LEN + IMP_OP_BYTES;
        if (changed && strlen(changed) + 40 < cap)
          snprintf(changed + strlen(changed), cap - strlen(changed), "%sconsent %s",
                   changed[0] ? ", " : "", im->consent);
      }
    }
  }
#undef CHANGED
out:
  if (!new) kr_volunteer_free(&v);
  return rc;
}

/* Start a new change when this row might not fit in the current one:
 * IMP_BATCH operations, or IMP_CHANGE_BYTES of them (a change holds
 * at most KR_CHANGE_MAX bytes once sealed). */
static int room(imp *im)
{
  int rc;
  if (im->t && kr_txn_count(im->t) < IMP_BATCH && im->tbytes < IMP_CHANGE_BYTES) return 0;
  im->tbytes = 0;
  if (im->t) {
    if (im->pass == 1) {
      kr_txn_abort(im->t);
    } else {
      size_t n = kr_txn_count(im->t);
      rc = n ? kr_txn_commit(im->t, NULL) : (kr_txn_abort(im->t), 0);
      im->t = NULL;
      if (rc) return rc;
      if (n) im->changes++, im->ops += n;
    }
    im->t = NULL;
  }
  return kr_txn_begin(im->n, &im->t);
}

static int flush(imp *im)
{
  size_t n;
  int rc = 0;
  if (!im->t) return 0;
  n = kr_txn_count(im->t);
  if (im->pass == 2 && n) {
    rc = kr_txn_commit(im->t, NULL);
    if (!rc) im->changes++, im->ops += n;
  } else {
    kr_txn_abort(im->t);
  }
  im->t = NULL;
  return rc;
}

static void progress(imp *im, uint64_t row, int last)
{
  static time_t shown;
  time_t now = time(NULL);
  if (!im->tty || im->json) return;
  if (!last && now == shown) return;
  shown = now;
  if (im->pass == 1) {
    fputc('\r', stderr);
    fprintf(stderr, _("kring import: checking row %llu"), (unsigned long long)row);
  } else {
    size_t done = im->row_i, total = im->nrows ? im->nrows : 1, w = 30, fill = done * w / total;
    fprintf(stderr, "\r%s [", _("kring import: writing"));
    for (size_t i = 0; i < w; i++) fputc(i < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] ");
    fprintf(stderr, _("%zu/%zu rows"), done, im->nrows);
  }
  if (last) fputc('\n', stderr);
  fflush(stderr);
}

/* ---- the rows to write, kept between the passes -------------------------------------- */

/* A private error: the file that keeps them could not be made, written or
 * read (errno in im->keep_errno). */
#define IMP_EKEEP (-1000)

/* An unnamed file in the home folder (the store's own disk and
 * permissions; gone when kring exits, however it exits). */
static int keep_open(imp *im)
{
  const char *home = kr_node_home(im->n);
  int fd = -1;

#ifdef O_TMPFILE
  fd = open(home, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
  if (fd < 0) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/.import-XXXXXX", home) >= sizeof path) {
      errno = ENAMETOOLONG;
      return IMP_EKEEP;
    }
    if ((fd = mkstemp(path)) >= 0) unlink(path);
  }
  if (fd < 0 || !(im->keep = fdopen(fd, "w+b"))) {
    im->keep_errno = errno;
    if (fd >= 0) close(fd);
    return IMP_EKEEP;
  }
  /* the rows are personal data: sealed under a key that lives in this
   * process alone, so the disk never holds them in clear (an unlinked
   * file's blocks are freed, not wiped) */
  crypto_aead_xchacha20poly1305_ietf_keygen(im->keep_key);
  im->keep_w = im->keep_r = 0;
  return 0;
}

/* The nonce of kept row k. */
static void keep_nonce(uint64_t k, uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
  memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  memcpy(nonce, &k, sizeof k);
}

/* A kept row is one record: its length (4 bytes), then the row number and
 * the data row's index (8 bytes each), the match and consent (4 bytes
 * each), then per field given: its code, its column (4 bytes each) and
 * its value (a set field: the number of values, then each), a value as
 * its length (4 bytes) and its bytes; code 0 ends the record. */
static int rec_add(imp *im, const void *b, size_t n)
{
  if (im->rlen + n > im->rcap) {
    size_t nc = im->rcap ? im->rcap : 4096;
    char *g;
    while (nc < im->rlen + n) nc *= 2;
    if (!(g = realloc(im->rec, nc))) return KR_ENOMEM;
    im->rec = g;
    im->rcap = nc;
  }
  memcpy(im->rec + im->rlen, b, n);
  im->rlen += n;
  return 0;
}

static int rec_u32(imp *im, uint32_t v) { return rec_add(im, &v, sizeof v); }

static int rec_text(imp *im, const char *s)
{
  size_t l = strlen(s);
  return rec_u32(im, (uint32_t)l) || rec_add(im, s, l);
}

/* Keep row p (data row idx) for pass 2, for the volunteer held at index
 * match (< 0: a new one). */
static int keep_row(imp *im, const plan *p, size_t idx, int32_t match)
{
  uint64_t head[2] = {p->row, idx};
  uint32_t len;
  int rc;

  im->rlen = 0;
  rc = rec_u32(im, 0) || rec_add(im, head, sizeof head) || rec_u32(im, (uint32_t)match) ||
       rec_u32(im, (uint32_t)p->consent);
  for (int i = 1; i < 32 && !rc; i++)
    if (p->single[i])
      rc = rec_u32(im, (uint32_t)i) || rec_u32(im, (uint32_t)p->col_of[i]) || rec_text(im, p->single[i]);
  for (int i = 0; i < 32 && !rc; i++) {
    const char *s = p->items[i];
    if (!p->nitems[i]) continue;
    rc = rec_u32(im, (uint32_t)(32 + i)) || rec_u32(im, (uint32_t)p->scol[i]) ||
         rec_u32(im, (uint32_t)p->nitems[i]);
    for (size_t k = 0; k < p->nitems[i] && !rc; k++, s += strlen(s) + 1) rc = rec_text(im, s);
  }
  if (rc || rec_u32(im, 0)) return KR_ENOMEM;
  {
    /* seal what follows the length in place (room for the tag first) */
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned long long clen;
    size_t plen = im->rlen - sizeof len;
    if (rec_add(im, "0123456789abcdef", crypto_aead_xchacha20poly1305_ietf_ABYTES))
      return KR_ENOMEM;
    keep_nonce(im->keep_w++, nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt((uint8_t *)im->rec + sizeof len, &clen,
                                               (const uint8_t *)im->rec + sizeof len, plen, NULL, 0,
                                               NULL, nonce, im->keep_key);
    im->rlen = sizeof len + (size_t)clen;
  }
  len = (uint32_t)im->rlen;
  memcpy(im->rec, &len, sizeof len);
  if (fwrite(im->rec, 1, im->rlen, im->keep) != im->rlen) {
    im->keep_errno = errno ? errno : EIO;
    return IMP_EKEEP;
  }
  return 0;
}

/* Reading a record: the next 4 bytes, and a value, from *at (up to end). */
static int rec_get(const char **at, const char *end, uint32_t *v)
{
  if ((size_t)(end - *at) < sizeof *v) return -1;
  memcpy(v, *at, sizeof *v);
  *at += sizeof *v;
  return 0;
}

static int rec_value(const char **at, const char *end, const char **s, uint32_t *len)
{
  if (rec_get(at, end, len) || *len > KR_VALUE_MAX || (size_t)(end - *at) < *len) return -1;
  *s = *at;
  *at += *len;
  return 0;
}

/* The next kept row into p: 1, or 0 at the end, or IMP_EKEEP. */
static int next_row(imp *im, plan *p, size_t *idx, int32_t *match)
{
  uint32_t len, v, col, consent, l;
  uint64_t head[2];
  const char *at, *end, *s;

  if (fread(&len, sizeof len, 1, im->keep) != 1) {
    if (feof(im->keep) && !ferror(im->keep)) return 0;
    goto bad;
  }
  if (len < sizeof len + sizeof head + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
      len > (1u << 30))
    goto bad;
  if (len > im->rcap) {
    char *g = realloc(im->rec, len);
    if (!g) return KR_ENOMEM;
    im->rec = g;
    im->rcap = len;
  }
  if (fread(im->rec + sizeof len, 1, len - sizeof len, im->keep) != len - sizeof len) goto bad;
  {
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    unsigned long long mlen;
    keep_nonce(im->keep_r++, nonce);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)im->rec + sizeof len, &mlen, NULL,
                                                   (const uint8_t *)im->rec + sizeof len,
                                                   len - sizeof len, NULL, 0, nonce,
                                                   im->keep_key) != 0)
      goto bad;                        /* changed on disk since pass 1 */
    len = (uint32_t)(sizeof len + mlen);
  }
  at = im->rec + sizeof len;
  end = im->rec + len;
  memcpy(head, at, sizeof head);
  at += sizeof head;
  plan_reset(p, head[0]);
  *idx = (size_t)head[1];
  if (rec_get(&at, end, &v) || rec_get(&at, end, &consent)) goto bad;
  *match = (int32_t)v;
  p->consent = (int)consent;
  for (;;) {
    if (rec_get(&at, end, &v)) goto bad;
    if (v == 0) {
      if (at == end) return 1;
      goto bad;
    }
    if (v >= 64 || rec_get(&at, end, &col)) goto bad;
    if (v < 32) {
      if (rec_value(&at, end, &s, &l)) goto bad;
      memcpy(p->sbuf[v], s, l);
      p->sbuf[v][l] = 0;
      p->single[v] = p->sbuf[v];
      p->col_of[v] = (int)col;
    } else {
      uint32_t n;
      char item[KR_VALUE_MAX + 1];
      if (rec_get(&at, end, &n)) goto bad;
      for (uint32_t k = 0; k < n; k++) {
        if (rec_value(&at, end, &s, &l)) goto bad;
        memcpy(item, s, l);
        item[l] = 0;
        if (put_item(p, (int)v - 32, item, l)) return KR_ENOMEM;
      }
      p->scol[v - 32] = (int)col;
    }
  }
bad:
  im->keep_errno = ferror(im->keep) && errno ? errno : EIO;
  return IMP_EKEEP;
}

/* ---- one row: match and write ------------------------------------------------------- */

/* A match key of a row (as put_keys makes them) and its hash. */
typedef struct {
  char k[KR_VALUE_MAX + 16];
  uint64_t h;
  int on;
} mkey;

static void match_key(mkey *m, const char *prefix, const char *value)
{
  size_t l;
  m->on = value != NULL;
  if (!m->on) return;
  if ((l = strlen(value)) > KR_VALUE_MAX) l = KR_VALUE_MAX;
  memcpy(m->k, prefix, 2);
  memcpy(m->k + 2, value, l);
  m->k[2 + l] = 0;
  m->h = hash(m->k);
}

/*
 * Pass 1, a new volunteer (without --consent): what its edits count and
 * cost, without building them. Each value was normalised by norm() with
 * kr_normalise_field, which kr_txn_set and kr_txn_add run too (the year
 * the same or, past midnight on 31 December, one lower), and nothing of a
 * new volunteer is read: the scratch change would find nothing else. (Were
 * pass 2 refused all the same, it stops with nothing written.) 0 when the
 * row needs the scratch change after all.
 */
static int new_row_cost(imp *im, const plan *p, size_t *nops)
{
  size_t bytes = 2 * KR_SUBJECT_LEN + IMP_OP_BYTES, k = 0;

  if (im->consent) return 0;
  for (int f = 1; f < 32; f++) {
    if (!p->single[f]) continue;
    if (!kr_field_is_single(f)) return 0;
    bytes += strlen(p->single[f]) + IMP_OP_BYTES;
    k++;
  }
  for (int f = 32; f < 64; f++) {
    const char *s = p->items[f - 32];
    if (!p->nitems[f - 32] || !kr_field_name(f)) continue;
    if (!kr_field_is_set(f)) return 0;
    for (size_t i = 0; i < p->nitems[f - 32]; i++, s += strlen(s) + 1) {
      bytes += strlen(s) + IMP_OP_BYTES;
      k++;
    }
  }
  im->rbytes = bytes;
  *nops = k;
  return 1;
}

/* Put the edits of p into the current change (a new one when it might not
 * fit): on the volunteer held at index match, or (match < 0) on a new one.
 * 0 with p->err set when the row is refused. */
static int put_row(imp *im, plan *p, int32_t match, char *changed, size_t cap, size_t *nops)
{
  uint8_t id[KR_SUBJECT_LEN];
  int rc;

  *nops = 0;
  if (im->pass == 1 && match < 0 && p->single[KR_F_NAME] && new_row_cost(im, p, nops)) {
    rc = 0;
    goto sized;
  }
  if ((rc = room(im))) return rc;
  im->rbytes = 0;
  if (match >= 0) {
    memcpy(id, im->ids[match], KR_SUBJECT_LEN);
  } else {
    if (!p->single[KR_F_NAME]) {
      refuse(p, NULL, _("a new volunteer needs a name%s%s"), NULL, NULL);
      return 0;
    }
    kr_txn_new_subject(im->t, id);
    im->rbytes += 2 * KR_SUBJECT_LEN + IMP_OP_BYTES;
  }
  rc = edit(im, p, id, match < 0, changed, cap, nops);
sized:
  im->tbytes += im->rbytes;
  if (!rc && !p->err[0] && im->rbytes > IMP_ROW_BYTES) {
    char kib[16];
    snprintf(kib, sizeof kib, "%u", IMP_ROW_BYTES >> 10);
    refuse(p, NULL, _("the row holds more than %s KiB for one volunteer, more than kring writes "
                      "at once%s"), kib, "");
  }
  return p->err[0] ? 0 : rc;
}

/* Pass 1: a data row of the sheet. */
static int data_row(imp *im, const sheet_row *r)
{
  plan *p = im->p;
  int empty, rc;
  size_t idx, nops;
  char changed[512];
  mkey key[3];
  int64_t *hit = NULL;
  const char *by = NULL;
  int32_t match;

  /* the BSN guard, per column, over every row */
  for (size_t i = 0; i < r->n && i < im->ncol; i++) {
    char t[64];
    if (blank(r->cell[i])) continue;
    rp_trim(r->cell[i], t, sizeof t);
    im->col[i].filled++;
    if (rp_bsn_like(t)) im->col[i].bsn++;
  }
  idx = im->nrows++;
  progress(im, r->row, 0);
  if (read_row(im, r, p, &empty)) goto refused;
  if (empty) {
    im->n_empty++;
    return 0;
  }
  /* match: e-mail, else phone, else name and year of birth */
  match_key(&key[0], "e:", p->single[KR_F_EMAIL]);
  match_key(&key[1], "p:", p->single[KR_F_PHONE]);
  key[2].on = p->single[KR_F_NAME] && p->single[KR_F_BIRTH_YEAR];
  if (key[2].on) {
    name_key(p->single[KR_F_NAME], p->single[KR_F_BIRTH_YEAR], key[2].k, sizeof key[2].k);
    key[2].h = hash(key[2].k);
  }
  for (int k = 0; k < 3 && !hit; k++)
    if (key[k].on && (hit = map_find_h(&im->m, key[k].k, key[k].h)))
      by = k == 0 ? _("e-mail") : k == 1 ? _("phone number") : _("name and year of birth");
  if (hit && *hit < 0) {
    char rowtxt[32];
    snprintf(rowtxt, sizeof rowtxt, "%lld", (long long)-*hit);
    refuse(p, NULL, _("the same volunteer as row %s (same %s); keep one of the two rows"), rowtxt, by);
    goto refused;
  }
  if (hit && im->taken[*hit]) {
    char rowtxt[32];
    snprintf(rowtxt, sizeof rowtxt, "%llu", (unsigned long long)im->taken[*hit]);
    refuse(p, NULL, _("the same volunteer as row %s (same %s); keep one of the two rows"), rowtxt, by);
    goto refused;
  }
  if (hit) im->taken[*hit] = r->row;
  match = hit ? (int32_t)*hit : -1;
  /* the edits, in a change that is never committed: kring's own checks */
  rc = put_row(im, p, match, match < 0 ? NULL : changed, sizeof changed, &nops);
  if (p->err[0]) goto refused;
  if (rc) return rc;
  if (match < 0) {
    im->n_new++;
    for (int k = 0; k < 3 && !rc; k++)
      if (key[k].on) rc = map_put_h(&im->m, key[k].k, key[k].h, -(int64_t)r->row);
    if (rc) return rc;
  } else if (nops) {
    im->n_update++;
    note(im, im->updated, &im->l_updated,
         json_pack("{s:I, s:s?, s:s}", "row", (json_int_t)r->row, "name", p->single[KR_F_NAME],
                   "fields", changed));
  } else {
    im->n_same++;
    return 0;
  }
  /* new or updated: kept for pass 2 */
  return im->keep ? keep_row(im, p, idx, match) : 0;
refused:
  im->n_refused++;
  note(im, im->refused, &im->l_refused,
       json_pack("{s:I, s:s?, s:s}", "row", (json_int_t)r->row, "column", p->err_col,
                 "reason", p->err));
  return 0;
}

/* Pass 2: the rows kept in pass 1, written. */
static int write_rows(imp *im)
{
  plan *p = im->p;
  size_t idx, nops;
  int32_t match;
  int rc;

  if (fflush(im->keep) != 0 || fseek(im->keep, 0, SEEK_SET) != 0) {
    im->keep_errno = errno;
    return IMP_EKEEP;
  }
  while ((rc = next_row(im, p, &idx, &match)) == 1) {
    if (match < -1 || (match >= 0 && (size_t)match >= im->nids) || idx >= im->nrows) {
      im->keep_errno = EIO;
      return IMP_EKEEP;
    }
    im->row_i = idx + 1;
    progress(im, p->row, 0);
    rc = put_row(im, p, match, NULL, 0, &nops);
    if (p->err[0]) {
      /* what pass 1 let through is refused now (another kring changed the
       * store between the two passes): stop; nothing is written (pass 2
       * is one transaction) */
      fprintf(stderr, "\n");
      cli_fail(_("row %llu%s%s%s: %s; kring changed while the sheet was checked, so nothing was "
               "imported: import the sheet again"),
               (unsigned long long)p->row, p->err_col ? _(", column '") : "", p->err_col ? p->err_col : "",
               p->err_col ? "'" : "", p->err);
      im->fatal = 1;
      return KR_EINVAL;
    }
    if (rc) return rc;
  }
  if (rc == 0) im->row_i = im->nrows;
  return rc;
}

/* ---- the header ---------------------------------------------------------------------- */

static int map_header(imp *im, const sheet_row *r)
{
  int known = 0, fields_seen[64] = {0};

  im->col = calloc(r->n ? r->n : 1, sizeof *im->col);
  if (!im->col) return KR_ENOMEM;
  im->ncol = r->n;
  for (size_t i = 0; i < r->n; i++) {
    column *c = &im->col[i];
    char key[128], t[KR_VALUE_MAX + 1];
    rp_trim(r->cell[i], t, sizeof t);
    if (!(c->header = strdup(t[0] ? t : _("(no header)")))) return KR_ENOMEM;
    rp_header_key(t, key, sizeof key);
    c->kind = rp_header(t, &c->field);
    for (size_t k = 0; k < im->nmaps; k++) {
      const char *eq = strrchr(im->maps[k], '=');
      char mk[128], name[256];
      size_t l = (size_t)(eq - im->maps[k]);
      if (l >= sizeof name) l = sizeof name - 1;
      memcpy(name, im->maps[k], l);
      name[l] = 0;
      rp_header_key(name, mk, sizeof mk);
      if (strcmp(mk, key) == 0 && key[0]) c->kind = rp_target(eq + 1, &c->field);
    }
    if (im->consent_col) {
      char ck[128];
      rp_header_key(im->consent_col, ck, sizeof ck);
      if (strcmp(ck, key) == 0 && key[0]) c->kind = RP_CONSENT;
    }
    if (c->kind == RP_BSN) {
      cli_fail(_("column '%s' holds BSNs (citizen service numbers). kring never stores a BSN, and "
               "Dutch law does not allow your organisation to keep them. Delete the column from "
               "the sheet and import again; nothing was imported"), c->header);
      im->fatal = 1;
      return KR_EBSN;
    }
    if (c->kind == RP_FIELD || c->kind == RP_BIRTHDATE) {
      if (kr_field_is_set(c->field)) im->set_cols[c->field - 32] = 1;
      fields_seen[c->field]++;
    }
    if (c->kind != RP_UNKNOWN && c->kind != RP_SKIP) known++;
    if (c->kind == RP_UNKNOWN && t[0])
      json_array_append_new(im->unmapped, json_string(c->header));
    else if (c->kind != RP_UNKNOWN && c->kind != RP_SKIP) {
      const char *what = c->kind == RP_FIRST ? "name (first name)" : c->kind == RP_NICK ? "name (nickname)"
                       : c->kind == RP_INFIX ? "name (tussenvoegsel)" : c->kind == RP_LAST ? "name (last name)"
                       : c->kind == RP_BIRTHDATE ? "birth_year (from the date)"
                       : c->kind == RP_CONSENT ? "consent" : kr_field_name(c->field);
      json_array_append_new(im->mapped, json_pack("{s:s, s:s}", "column", c->header, "field", what));
    }
  }
  if (im->consent_col) {
    int found = 0;
    for (size_t i = 0; i < im->ncol; i++) found |= im->col[i].kind == RP_CONSENT;
    if (!found) {
      cli_fail(_("--consent-column '%s': the sheet has no such column"), im->consent_col);
      im->fatal = 1;
      return KR_ENOTFOUND;
    }
  }
  return known ? 0 : KR_ENOTFOUND;
}

/* The callback of the sheet readers. */
static int on_row(void *ctx, const sheet_row *r)
{
  imp *im = ctx;
  int rc;

  if (im->pass == 1 && !im->have_header) {
    /* The header: the first row with a column kring knows, among the first few. */
    int any = 0, known = 0;
    for (size_t i = 0; i < r->n; i++) {
      int f;
      char t[8];
      rp_trim(r->cell[i], t, sizeof t);
      if (t[0]) any = 1;
      if (rp_header(r->cell[i], &f) != RP_UNKNOWN) known = 1;
    }
    if (known || (any && im->nmaps)) {
      rc = map_header(im, r);
      if (rc == KR_ENOTFOUND && !im->fatal && r->row < IMP_HEADER_SCAN) {
        for (size_t i = 0; i < im->ncol; i++) free(im->col[i].header);
        free(im->col);
        im->col = NULL;
        im->ncol = 0;
        json_array_clear(im->unmapped);
        json_array_clear(im->mapped);
        im->n_above++;
        return 0;
      }
      if (rc) return rc;
      im->have_header = 1;
      im->header_row = r->row;
      return 0;
    }
    im->n_above++;
    if (r->row >= IMP_HEADER_SCAN) {
      cli_fail(_("found no column kring knows in the first %d rows of %s; the header row should "
               "hold names such as Naam, E-mail, Telefoon, Postcode, Woonplaats (or use "
               "--map 'Column=field')"), IMP_HEADER_SCAN, im->file);
      im->fatal = 1;
      return KR_ENOTFOUND;
    }
    return 0;
  }
  if (r->row <= im->header_row) return 0;
  return data_row(im, r);         /* (pass 2 reads the rows kept, not the sheet) */
}

/* ---- the command ----------------------------------------------------------------------- */

static int read_file(imp *im, const char *sheet, char sep, sheet_info *info)
{
  const char *dot = strrchr(im->file, '.');
  if (dot && strcasecmp(dot, ".xlsx") == 0)
    return sheet_xlsx_read_file(im->file, sheet, info, on_row, im);
  if (dot && strcasecmp(dot, ".xls") == 0) {
    snprintf(info->err, sizeof info->err, _("an old Excel file (.xls) cannot be read; open it in "
             "Excel or LibreOffice and save it as .xlsx (Excel workbook) or CSV"));
    return SHEET_EREAD;
  }
  {
    FILE *f = fopen(im->file, "rb");
    int rc;
    if (!f) {
      snprintf(info->err, sizeof info->err, "%s", _("cannot open it"));
      return SHEET_EREAD;
    }
    rc = sheet_csv_read(f, sep, info, on_row, im);
    fclose(f);
    return rc;
  }
}

static void print_list(json_t *list, uint64_t total, const char *title, int kind)
{
  size_t i;
  json_t *e;
  if (!total) return;
  printf("%s:\n", title);
  json_array_foreach(list, i, e) {
    const char *col = json_string_value(json_object_get(e, "column"));
    if (i >= IMP_SHOW_MAX) break;
    if (kind == 0)
      printf(_("  row %lld%s%s%s: %s\n"), (long long)json_integer_value(json_object_get(e, "row")),
             col ? _(", column '") : "", col ? cli_safe(col, -1) : "", col ? "'" : "",
             cli_safe(json_string_value(json_object_get(e, "reason")), -1));
    else if (kind == 1)
      printf(_("  row %lld, column '%s': %s\n"), (long long)json_integer_value(json_object_get(e, "row")),
             cli_safe(col, -1), cli_safe(json_string_value(json_object_get(e, "repair")), -1));
    else
      printf(_("  row %lld (%s): %s\n"), (long long)json_integer_value(json_object_get(e, "row")),
             cli_safe(json_string_value(json_object_get(e, "name")), -1),
             cli_safe(json_string_value(json_object_get(e, "fields")), -1));
  }
  if (total > IMP_SHOW_MAX)
    printf(_("  ... and %llu more (--json lists them)\n"), (unsigned long long)(total - IMP_SHOW_MAX));
}

static json_t *report(imp *im, const sheet_info *info, int written)
{
  return json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, "
                   "s:b, s:I, s:I}",
                   "file", im->file, "format", info->encoding ? "csv" : "xlsx",
                   "encoding", info->encoding, "sheet", info->sheet[0] ? info->sheet : NULL,
                   "header_row", (json_int_t)im->header_row, "columns", json_incref(im->mapped),
                   "left_out", json_incref(im->unmapped), "new", (json_int_t)im->n_new,
                   "updated", (json_int_t)im->n_update, "unchanged", (json_int_t)im->n_same,
                   "refused", (json_int_t)im->n_refused, "empty", (json_int_t)im->n_empty,
                   "repaired", (json_int_t)im->n_repairs, "refused_rows", json_incref(im->refused),
                   "repairs", json_incref(im->repairs), "updated_rows", json_incref(im->updated),
                   "written", written, "changes", (json_int_t)im->changes,
                   "operations", (json_int_t)im->ops);
}

int cmd_import(int argc, char **argv)
{
  enum { DRY, SKIP, SYNC, SHEET, SEP, MAP, CONSENT, TO, CCOL, METHOD, TEXTV, NOPT };
  cli_opt o[NOPT] = {{"dry-run", 0, 0, NULL, 0}, {"skip-bad", 0, 0, NULL, 0},
                     {"sync-sets", 0, 0, NULL, 0}, {"sheet", 1, 0, NULL, 0},
                     {"separator", 1, 0, NULL, 0}, {"map", 1, 1, NULL, 0},
                     {"consent", 1, 0, NULL, 0}, {"to", 1, 0, NULL, 0},
                     {"consent-column", 1, 0, NULL, 0}, {"method", 1, 0, NULL, 0},
                     {"text-version", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  size_t npos;
  imp im;
  sheet_info info;
  char sep = 0;
  int rc;

  memset(&im, 0, sizeof im);
  memset(&info, 0, sizeof info);
  /* With --json the report is for a program: its reasons and repairs
   * stay English, as the texts in kring's other JSON are. */
  if (cli_json) setlocale(LC_MESSAGES, "C");
  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, NOPT, pos, &npos, usage))) goto out;
  if (npos != 1) { rc = cli_usage(usage, npos ? _("one FILE at a time") : _("missing FILE")); goto out; }
  im.file = pos[0];
  im.dry = o[DRY].n > 0;
  im.skip_bad = o[SKIP].n > 0;
  im.sync_sets = o[SYNC].n > 0;
  im.json = cli_json;
  im.tty = isatty(2);
  im.maps = o[MAP].vals;
  im.nmaps = o[MAP].n;
  for (size_t i = 0; i < im.nmaps; i++) {
    const char *eq = strrchr(im.maps[i], '=');
    int f;
    if (!eq || eq == im.maps[i]) { rc = cli_usage(usage, _("--map takes 'Column=field', got '%s'"), im.maps[i]); goto out; }
    if (rp_target(eq + 1, &f) == RP_UNKNOWN) {
      rc = cli_usage(usage, _("--map '%s': unknown field '%s' (fields: name, first_name, nickname, "
                     "infix, last_name, email, phone, postcode, city, birth_year, birth_date, "
                     "skills, languages, availability, notes, vog_checked_on, vog_checked_by, "
                     "vog_meets_requirements, home_org, organisations, placements; or skip)"),
                     im.maps[i], eq + 1);
      goto out;
    }
  }
  if (cli_val(&o[SEP])) {
    const char *s = cli_val(&o[SEP]);
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0) sep = '\t';
    else if (strlen(s) == 1 && strchr(";,\t|", s[0])) sep = s[0];
    else { rc = cli_usage(usage, _("--separator takes ';', ',', '|' or tab")); goto out; }
  }
  im.consent = cli_val(&o[CONSENT]);
  im.consent_col = cli_val(&o[CCOL]);
  im.text_version = cli_val(&o[TEXTV]);
  im.method = KR_METHOD_PAPER;
  if (im.consent && (!cli_val(&o[TO]) || !im.consent_col)) {
    rc = cli_usage(usage, _("--consent needs --to ORG|all and --consent-column COLUMN (the column "
                          "that says, per volunteer, whether they signed)"));
    goto out;
  }
  if (!im.consent && (cli_val(&o[TO]) || im.consent_col || cli_val(&o[METHOD]) || im.text_version)) {
    rc = cli_usage(usage, _("--to, --consent-column, --method and --text-version go with --consent PURPOSE"));
    goto out;
  }
  if (cli_val(&o[METHOD]) && (im.method = kr_method_code(cli_val(&o[METHOD]))) < 1) {
    rc = cli_usage(usage, _("unknown method '%s'"), cli_val(&o[METHOD]));
    goto out;
  }
  if (access(im.file, R_OK) != 0) { rc = cli_fail(_("cannot read %s: no such file, or not readable"), im.file); goto out; }
  if ((rc = cli_open(&im.n))) goto out;
  if (im.consent && (rc = cli_purpose_known(im.n, im.consent))) goto out;
  if (im.consent && strcmp(cli_val(&o[TO]), "all") != 0) {
    if ((rc = cli_member(im.n, cli_val(&o[TO]), im.rcpt, NULL))) goto out;
    im.recipient = im.rcpt;
  }
  {
    time_t secs = (time_t)(kr_node_now_ms(im.n) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    im.this_year = tm.tm_year + 1900;
  }
  im.refused = json_array();
  im.repairs = json_array();
  im.updated = json_array();
  im.unmapped = json_array();
  im.mapped = json_array();
  if ((rc = kr_node_list(im.n, NULL, held_one, &im))) {
    rc = cli_fail(_("reading the register: %s"), cli_strerror(rc));
    goto out;
  }
  if (!(im.taken = calloc(im.nids + 1, sizeof *im.taken)) || !(im.p = calloc(1, sizeof *im.p))) {
    rc = cli_fail(_("out of memory"));
    goto out;
  }

  /* pass 1: check, and keep the rows to write */
  im.pass = 1;
  rc = im.dry ? 0 : keep_open(&im);
  if (rc == 0) rc = read_file(&im, cli_val(&o[SHEET]), sep, &info);
  if (rc == 0) rc = flush(&im);
  if (im.tty && !im.json) progress(&im, 0, 1);
  if (rc == SHEET_EREAD) { rc = cli_fail(_("cannot import %s: %s"), im.file, info.err); goto out; }
  if (rc == IMP_EKEEP) {
    /* a store that cannot be written gets its own line, as from pass 2 */
    rc = kr_node_readonly(im.n) ? cli_readonly()
       : cli_fail(_("cannot import %s: cannot keep the checked rows in a temporary file in %s (%s); "
                    "nothing was imported"), im.file, kr_node_home(im.n), strerror(im.keep_errno));
    goto out;
  }
  if (im.fatal) { rc = CLI_FAIL; goto out; }
  if (rc) { rc = cli_fail(_("cannot import %s: %s"), im.file, cli_strerror(rc)); goto out; }
  if (!im.have_header) {
    rc = cli_fail(_("%s holds no header row with a column kring knows (Naam, E-mail, Telefoon, ...); "
                  "nothing was imported"), im.file);
    goto out;
  }
  for (size_t i = 0; i < im.ncol; i++) {
    column *c = &im.col[i];
    if (c->kind == RP_FIELD && c->field == KR_F_PHONE) continue;
    if (c->bsn && c->bsn * 2 >= c->filled) {
      rc = cli_fail(_("column '%s' holds BSNs (citizen service numbers): %llu of its %llu values are "
                    "9-digit numbers that pass the elfproef. kring never stores a BSN, and Dutch law "
                    "does not allow your organisation to keep them. Delete the column from the "
                    "sheet and import again; nothing was imported"),
                    c->header, (unsigned long long)c->bsn, (unsigned long long)c->filled);
      goto out;
    }
  }

  /* pass 2: write */
  if (!im.dry && (!im.n_refused || im.skip_bad) && (im.n_new || im.n_update)) {
    /* the kept rows say which volunteer each is for: the match map is done */
    map_free(&im.m);
    memset(&im.m, 0, sizeof im.m);
    im.pass = 2;
    im.row_i = 0;
    /* every change of the import in one transaction: all on disk, or none */
    if ((rc = kr_node_group_begin(im.n)) == 0) {
      rc = write_rows(&im);
      if (rc == 0) rc = flush(&im);
      else if (im.t) { kr_txn_abort(im.t); im.t = NULL; }
      {
        int end = kr_node_group_end(im.n, rc == 0 && !im.fatal);
        if (!rc) rc = end;
      }
      if (rc) im.changes = 0;               /* rolled back */
    }
    if (im.tty && !im.json) progress(&im, 0, 1);
    if (rc == IMP_EKEEP) {
      rc = cli_fail(_("cannot read back the checked rows from the temporary file (%s); nothing was "
                    "imported: import again"), strerror(im.keep_errno));
      goto out;
    }
    if (im.fatal) { rc = CLI_FAIL; goto out; }
    if (rc) {
      if (!cli_store_trouble())
        cli_fail(_("storing the import: %s; nothing was imported: import again once that is "
                   "solved"), cli_strerror(rc));
      rc = CLI_FAIL;
      goto out;
    }
  }

  {
    int written = im.pass == 2;
    if (im.json) {
      rc = cli_print_json(report(&im, &info, written));
    } else {
      size_t i;
      json_t *e;
      printf("%s: ", cli_safe(im.file, -1));
      if (info.encoding) printf(_("CSV, %s, separator '%s'"), info.encoding,
                                info.sep == '\t' ? "tab" : (char[]){info.sep, 0});
      else printf(_("Excel workbook, sheet '%s'"), cli_safe(info.sheet, -1));
      printf(_(", header in row %llu\n"), (unsigned long long)im.header_row);
      json_array_foreach(im.mapped, i, e)
        printf("  %-28s -> %s\n", cli_safe(json_string_value(json_object_get(e, "column")), -1),
               json_string_value(json_object_get(e, "field")));
      json_array_foreach(im.unmapped, i, e)
        printf(_("  %-28s left out: not a column kring knows (--map '%s=FIELD' imports it)\n"),
               cli_safe(json_string_value(e), -1), cli_safe(json_string_value(e), -1));
      print_list(im.repairs, im.n_repairs, _("repaired"), 1);
      print_list(im.updated, im.n_update, im.dry ? _("would update") : _("updated"), 2);
      print_list(im.refused, im.n_refused, _("refused"), 0);
      printf(ngettext("%s: %llu new, %llu updated, %llu unchanged, %llu refused, %llu empty row",
                      "%s: %llu new, %llu updated, %llu unchanged, %llu refused, %llu empty rows",
                      (unsigned long)im.n_empty),
             im.dry ? _("dry run") : written ? _("imported") : im.n_refused && !im.skip_bad ? _("not imported") : _("nothing to write"),
             (unsigned long long)im.n_new, (unsigned long long)im.n_update,
             (unsigned long long)im.n_same, (unsigned long long)im.n_refused,
             (unsigned long long)im.n_empty);
      if (im.dry) printf(_("; nothing was written\n"));
      else if (written) printf(ngettext("; %llu change written\n", "; %llu changes written\n",
                                        (unsigned long)im.changes), (unsigned long long)im.changes);
      else printf("\n");
    }
    if (!im.dry && im.n_refused && !im.skip_bad) {
      rc = cli_fail(ngettext("%llu row refused (listed above); nothing was imported. Correct the "
                             "sheet and import again, or add --skip-bad to import the other rows",
                             "%llu rows refused (listed above); nothing was imported. Correct the "
                             "sheet and import again, or add --skip-bad to import the other rows",
                             (unsigned long)im.n_refused), (unsigned long long)im.n_refused);
    }
  }
out:
  if (im.t) kr_txn_abort(im.t);
  for (size_t i = 0; i < im.ncol; i++) free(im.col[i].header);
  free(im.col);
  free(im.ids);
  plan_free(im.p);
  if (im.keep) fclose(im.keep);
  sodium_memzero(im.keep_key, sizeof im.keep_key);
  if (im.rec) sodium_memzero(im.rec, im.rcap);
  free(im.rec);
  free(im.taken);
  map_free(&im.m);
  json_decref(im.refused);
  json_decref(im.repairs);
  json_decref(im.updated);
  json_decref(im.unmapped);
  json_decref(im.mapped);
  kr_node_close(im.n);
  for (int i = 0; i < NOPT; i++) free(o[i].vals);
  free(pos);
  return rc;
}
