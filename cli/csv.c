/*
 * csv: the CSV reader of sheet.h. libcsv splits records and fields (quotes,
 * doubled quotes, separators and line breaks inside quotes); this file
 * decides the encoding (a byte-order mark, else UTF-8 if the whole file is
 * valid UTF-8, else Windows-1252, which is what Excel's plain "CSV" is in
 * a Dutch office), finds the separator, turns fields into UTF-8 with
 * iconv, numbers rows as a spreadsheet does, and caps every cell.
 */
#include <errno.h>
#include <iconv.h>
#include <libintl.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "cli/sheet.h"

/* Its errors are for a person: translated as in cli/cli.h, which this
 * file (also built into the fuzz targets) does not include. */
#define _(s) gettext(s)

#define CHUNK 65536

/* libcsv grows a field's buffer through this; a cell past SHEET_CELL_MAX
 * is refused here, so a 100 MB cell never gets allocated. libcsv takes
 * no context for it: the flag is per thread. */
static _Thread_local int cell_too_big;

static void *capped_realloc(void *p, size_t n)
{
  if (n > (size_t)SHEET_CELL_MAX + 4096) {
    cell_too_big = 1;
    return NULL;
  }
  return realloc(p, n);
}

/* Spaces around unquoted fields are trimmed; never a tab (a separator). */
static int is_space(unsigned char c) { return c == ' '; }

struct rd {
  sheet_info *info;
  sheet_cb cb;
  void *ctx;
  iconv_t cd;                  /* Windows-1252 to UTF-8, or (iconv_t)-1 */
  char **cell;
  size_t n, cap;
  uint64_t row;                /* rows reported so far */
  int last_term;               /* what ended the previous record */
  int stop;                    /* cb's non-zero return, or SHEET_EREAD */
};

static void fail(struct rd *r, const char *msg)
{
  if (!r->stop) {
    snprintf(r->info->err, sizeof r->info->err, "%s", msg);
    r->stop = SHEET_EREAD;
  }
}

/* Windows-1252 to UTF-8; the five bytes it leaves undefined become U+FFFD. */
static char *from_1252(struct rd *r, const char *s, size_t len)
{
  size_t cap = len * 3 + 1, left = cap - 1;
  char *out = malloc(cap), *o = out;
  char *in = (char *)s;
  size_t inleft = len;

  if (!out) return NULL;
  iconv(r->cd, NULL, NULL, NULL, NULL);
  while (inleft) {
    if (iconv(r->cd, &in, &inleft, &o, &left) != (size_t)-1) break;
    if (errno != EILSEQ && errno != EINVAL) { free(out); return NULL; }
    memcpy(o, "\xef\xbf\xbd", 3);   /* left >= 3: each byte makes at most 3 */
    o += 3;
    left -= 3;
    in++;
    inleft--;
  }
  *o = 0;
  return out;
}

/* Only ASCII (which Windows-1252 leaves as it is): no conversion needed. */
static int ascii(const unsigned char *s, size_t len)
{
  unsigned char any = 0;
  for (size_t i = 0; i < len; i++) any |= s[i];
  return any < 0x80;
}

static void on_field(void *s, size_t len, void *data)
{
  struct rd *r = data;
  char *c;

  if (r->stop) return;
  if (r->n >= SHEET_COLS_MAX) {
    char msg[160];
    snprintf(msg, sizeof msg, _("row %llu has more than %u columns; this is not a volunteer sheet"),
             (unsigned long long)r->row + 1, SHEET_COLS_MAX);
    fail(r, msg);
    return;
  }
  if (r->n == r->cap) {
    size_t nc = r->cap ? 2 * r->cap : 16;
    char **g = realloc(r->cell, nc * sizeof *g);
    if (!g) { fail(r, _("out of memory")); return; }
    r->cell = g;
    r->cap = nc;
  }
  if (r->cd != (iconv_t)-1 && !ascii(s, len)) {
    c = from_1252(r, s, len);
  } else if ((c = malloc(len + 1))) {
    if (len) memcpy(c, s, len);
    c[len] = 0;
  }
  if (!c) { fail(r, _("out of memory")); return; }
  r->cell[r->n++] = c;
}

static void clear_row(struct rd *r)
{
  for (size_t i = 0; i < r->n; i++) free(r->cell[i]);
  r->n = 0;
}

static void on_row(int term, void *data)
{
  struct rd *r = data;
  sheet_row row;

  /* With CSV_REPALL_NL every line break outside a record is reported: the
   * LF of a CRLF that ended a record is no row of its own. */
  if (r->n == 0 && term == '\n' && r->last_term == '\r') {
    r->last_term = 0;
    return;
  }
  r->last_term = term;
  if (r->stop) { clear_row(r); return; }
  r->row++;
  row.row = r->row;
  row.n = r->n;
  row.cell = (const char *const *)r->cell;
  if (r->n || term != -1) {
    int rc = r->cb(r->ctx, &row);
    if (rc) r->stop = rc;
  }
  clear_row(r);
}

/* 1 when every byte of f is valid UTF-8 (read to the end, then rewound). */
static int all_utf8(FILE *f)
{
  unsigned char buf[CHUNK + 4];
  size_t carry = 0, got;
  int ok = 1;

  while (ok && (got = fread(buf + carry, 1, CHUNK, f)) > 0) {
    size_t len = carry + got, i = 0;
    while (i < len) {
      unsigned c = buf[i];
      size_t need;
      if (c < 0x80) { i++; continue; }
      if (c >= 0xc2 && c <= 0xdf) need = 1;
      else if (c >= 0xe0 && c <= 0xef) need = 2;
      else if (c >= 0xf0 && c <= 0xf4) need = 3;
      else { ok = 0; break; }
      if (i + need >= len) break;              /* cut by the chunk: carry it */
      for (size_t k = 1; k <= need; k++)
        if ((buf[i + k] & 0xc0) != 0x80) ok = 0;
      if (!ok) break;
      i += need + 1;
    }
    carry = len - i;
    if (carry > 3) carry = 3;
    memmove(buf, buf + len - carry, carry);
  }
  if (ok && carry) ok = 0;                     /* the file ends inside a character */
  rewind(f);
  return ok;
}

/* The separator of the first record in buf: the most frequent of ';', ','
 * and tab outside quotes; ';' when there is none (one column). */
static char find_sep(const unsigned char *buf, size_t len)
{
  size_t semi = 0, comma = 0, tab = 0;
  int quoted = 0;

  for (size_t i = 0; i < len; i++) {
    unsigned char c = buf[i];
    if (c == '"') quoted = !quoted;
    else if (quoted) continue;
    else if (c == '\n' || c == '\r') break;
    else if (c == ';') semi++;
    else if (c == ',') comma++;
    else if (c == '\t') tab++;
  }
  if (tab > semi && tab > comma) return '\t';
  if (comma > semi) return ',';
  return ';';
}

int sheet_csv_read(FILE *f, char sep, sheet_info *info, sheet_cb cb, void *ctx)
{
  struct csv_parser p;
  unsigned char *buf = malloc(CHUNK);
  size_t got, skip = 0;
  struct rd r;
  int bom = 0;

  memset(&r, 0, sizeof r);
  r.info = info;
  r.cb = cb;
  r.ctx = ctx;
  r.cd = (iconv_t)-1;
  info->err[0] = 0;
  info->sheet[0] = 0;
  if (!buf) { snprintf(info->err, sizeof info->err, "%s", _("out of memory")); return SHEET_EREAD; }
  got = fread(buf, 1, CHUNK, f);
  if (ferror(f)) {
    snprintf(info->err, sizeof info->err, "%s", _("cannot read the file"));
    free(buf);
    return SHEET_EREAD;
  }
  if ((got >= 2 && ((buf[0] == 0xff && buf[1] == 0xfe) || (buf[0] == 0xfe && buf[1] == 0xff)))) {
    snprintf(info->err, sizeof info->err, "%s",
             _("the file is UTF-16 (Excel's \"Unicode text\"); save it from Excel as "
             "\"CSV UTF-8\" or as an Excel workbook (.xlsx) and import that"));
    free(buf);
    return SHEET_EREAD;
  }
  if (got >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) bom = 1, skip = 3;
  rewind(f);
  if (bom) info->encoding = "UTF-8 with BOM";
  else if (all_utf8(f)) info->encoding = "UTF-8";
  else {
    info->encoding = "Windows-1252";
    if ((r.cd = iconv_open("UTF-8", "WINDOWS-1252")) == (iconv_t)-1) {
      snprintf(info->err, sizeof info->err, "%s", _("cannot convert from Windows-1252 (iconv)"));
      free(buf);
      return SHEET_EREAD;
    }
  }
  /* Excel's own hint on the first line: sep=; */
  if (got >= skip + 5 && memcmp(buf + skip, "sep=", 4) == 0 &&
      (got == skip + 5 || buf[skip + 5] == '\r' || buf[skip + 5] == '\n')) {
    if (!sep) sep = (char)buf[skip + 4];
    skip += 5;
    if (skip < got && buf[skip] == '\r') skip++;
    if (skip < got && buf[skip] == '\n') skip++;
  }
  if (!sep) sep = find_sep(buf + skip, got - skip);
  info->sep = sep;

  if (csv_init(&p, CSV_REPALL_NL)) {
    snprintf(info->err, sizeof info->err, "%s", _("out of memory"));
    if (r.cd != (iconv_t)-1) iconv_close(r.cd);
    free(buf);
    return SHEET_EREAD;
  }
  csv_set_delim(&p, (unsigned char)sep);
  csv_set_space_func(&p, is_space);
  csv_set_realloc_func(&p, capped_realloc);
  cell_too_big = 0;
  if (fseek(f, (long)skip, SEEK_SET) != 0) fail(&r, _("cannot read the file"));
  while (!r.stop && (got = fread(buf, 1, CHUNK, f)) > 0) {
    if (csv_parse(&p, buf, got, on_field, on_row, &r) != got && !r.stop) {
      char msg[200];
      if (cell_too_big)
        snprintf(msg, sizeof msg, _("a cell in row %llu holds more than %u KiB of text; "
                 "this is not a volunteer sheet"), (unsigned long long)r.row + 1, SHEET_CELL_MAX >> 10);
      else
        snprintf(msg, sizeof msg, _("cannot read row %llu: %s"), (unsigned long long)r.row + 1,
                 csv_strerror(csv_error(&p)));
      fail(&r, msg);
    }
  }
  if (!r.stop && ferror(f)) fail(&r, _("cannot read the file"));
  if (!r.stop && csv_fini(&p, on_field, on_row, &r) != 0) fail(&r, _("cannot read the last row (out of memory, or a cell too large)"));
  clear_row(&r);
  csv_free(&p);
  free(r.cell);
  free(buf);
  if (r.cd != (iconv_t)-1) iconv_close(r.cd);
  return r.stop;
}
