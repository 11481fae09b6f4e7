/*
 * xlsx: the XLSX reader of sheet.h. An XLSX workbook is a zip archive
 * (libzip) of XML parts (expat): xl/workbook.xml names the sheets,
 * xl/_rels/workbook.xml.rels says which part holds each, and
 * xl/sharedStrings.xml holds the text most cells refer to by number. The
 * sheet's part is streamed through expat a chunk at a time and each
 * <row> reaches the callback as soon as it closes. Every part is capped
 * twice: by the size its zip entry declares (and its packing ratio: a zip
 * bomb is refused before it is unpacked) and by the bytes really read.
 * A DOCTYPE is refused outright: a workbook has none, and entity
 * definitions are how XML is made to explode.
 */
#include <ctype.h>
#include <libintl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>
#include <zip.h>

#include "cli/sheet.h"

/* Its errors are for a person: translated as in cli/cli.h, which this
 * file (also built into the fuzz targets) does not include. */
#define _(s) gettext(s)

#define CHUNK 65536

/* A growable text with a hard cap. */
typedef struct {
  char *s;
  size_t len, cap, max;
  int over;                    /* something was cut: past max */
} text;

static int text_add(text *t, const char *s, size_t n)
{
  if (t->len + n > t->max) { t->over = 1; return -1; }
  if (t->len + n + 1 > t->cap) {
    size_t nc = t->cap ? t->cap : 256;
    char *g;
    while (nc < t->len + n + 1) nc *= 2;
    if (!(g = realloc(t->s, nc))) { t->over = 1; return -1; }
    t->s = g;
    t->cap = nc;
  }
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = 0;
  return 0;
}

/* The local part of an XML name ("x:row" and "row" alike). */
static const char *local(const char *name)
{
  const char *c = strrchr(name, ':');
  return c ? c + 1 : name;
}

static const char *attr(const char **atts, const char *name)
{
  for (size_t i = 0; atts[i]; i += 2)
    if (strcmp(local(atts[i]), name) == 0) return atts[i + 1];
  return NULL;
}

struct xl {
  zip_t *za;
  sheet_info *info;
  XML_Parser xp;
  int stop;                    /* SHEET_EREAD or cb's return */
  /* workbook: the sheet wanted */
  const char *want;            /* NULL: the first */
  char rid[128];               /* its relationship id */
  char names[256];             /* every sheet's name, for a message */
  char target[512];            /* its part, from the relationships */
  /* shared strings */
  text strings;                /* every string, NUL-separated */
  size_t *off;                 /* where each starts in strings */
  size_t nstr, capstr;
  int in_si, in_t, in_rph;
  /* the sheet */
  sheet_cb cb;
  void *ctx;
  char **cell;
  size_t ncell, capcell;
  uint64_t rownum, lastrow;
  int in_row, in_c, in_v, in_is;
  size_t col;
  char ctype[16];
  text val;
};

static void fail(struct xl *x, const char *fmt, const char *arg)
{
  if (x->stop) return;
  snprintf(x->info->err, sizeof x->info->err, fmt, arg ? arg : "");
  x->stop = SHEET_EREAD;
  if (x->xp) XML_StopParser(x->xp, XML_FALSE);
}

static void XMLCALL no_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
  fail(data, _("the workbook holds an XML DOCTYPE, which no spreadsheet program writes; "
             "refusing to read it"), NULL);
}

/*
 * Stream the zip entry name through a new expat parser with the given
 * handlers. missing_ok: a part that is not there is no error (1 returned).
 */
static int parse_part(struct xl *x, const char *name, XML_StartElementHandler start,
                      XML_EndElementHandler end, XML_CharacterDataHandler chars, int missing_ok)
{
  zip_stat_t st;
  zip_file_t *zf;
  char *buf;
  zip_int64_t got;
  uint64_t total = 0;
  int rc = 0;

  zip_stat_init(&st);
  if (zip_stat(x->za, name, 0, &st) != 0) {
    if (missing_ok) return 1;
    fail(x, _("the workbook has no part %s: it is not an Excel workbook, or it is damaged"), name);
    return -1;
  }
  if ((st.valid & ZIP_STAT_SIZE) &&
      (st.size > SHEET_XML_MAX ||
       ((st.valid & ZIP_STAT_COMP_SIZE) && st.size > (1u << 20) &&
        st.size / (st.comp_size ? st.comp_size : 1) > SHEET_RATIO_MAX))) {
    fail(x, _("the part %s of the workbook would unpack to far more than any volunteer sheet "
            "(a zip bomb?); refusing to read it"), name);
    return -1;
  }
  if (!(zf = zip_fopen(x->za, name, 0))) {
    fail(x, _("cannot unpack %s from the workbook: it is damaged"), name);
    return -1;
  }
  if (!(x->xp = XML_ParserCreate("UTF-8")) || !(buf = malloc(CHUNK))) {
    if (x->xp) XML_ParserFree(x->xp);
    x->xp = NULL;
    zip_fclose(zf);
    fail(x, _("out of memory"), NULL);
    return -1;
  }
  XML_SetUserData(x->xp, x);
  XML_SetElementHandler(x->xp, start, end);
  XML_SetCharacterDataHandler(x->xp, chars);
  XML_SetStartDoctypeDeclHandler(x->xp, no_doctype);
  for (;;) {
    int last;
    got = zip_fread(zf, buf, CHUNK);
    if (got < 0) {
      fail(x, _("cannot unpack %s from the workbook: it is damaged"), name);
      break;
    }
    total += (uint64_t)got;
    if (total > SHEET_XML_MAX) {
      fail(x, _("the part %s of the workbook unpacks to more than any volunteer sheet "
              "(a zip bomb?); refusing to read it"), name);
      break;
    }
    last = got == 0;
    if (XML_Parse(x->xp, buf, (int)got, last) == XML_STATUS_ERROR) {
      if (!x->stop) {
        char msg[300];
        snprintf(msg, sizeof msg, _("%s, line %lu: %s"), name,
                 (unsigned long)XML_GetCurrentLineNumber(x->xp),
                 XML_ErrorString(XML_GetErrorCode(x->xp)));
        fail(x, _("the workbook is damaged (%s)"), msg);
      }
      break;
    }
    if (last || x->stop) break;
  }
  if (x->stop) rc = -1;
  XML_ParserFree(x->xp);
  x->xp = NULL;
  free(buf);
  zip_fclose(zf);
  return rc;
}

/* ---- xl/workbook.xml and its relationships ------------------------------- */

static void XMLCALL wb_start(void *data, const XML_Char *el, const XML_Char **atts)
{
  struct xl *x = data;
  const char *name, *id;

  if (strcmp(local(el), "sheet") != 0) return;
  name = attr(atts, "name");
  id = attr(atts, "id");
  if (!name || !id) return;
  if (strlen(x->names) + strlen(name) + 3 < sizeof x->names)
    snprintf(x->names + strlen(x->names), sizeof x->names - strlen(x->names), "%s%s",
             x->names[0] ? ", " : "", name);
  if (x->rid[0]) return;
  if (!x->want || strcmp(x->want, name) == 0 || strcasecmp(x->want, name) == 0) {
    snprintf(x->rid, sizeof x->rid, "%s", id);
    snprintf(x->info->sheet, sizeof x->info->sheet, "%s", name);
  }
}

static void XMLCALL no_end(void *data, const XML_Char *el) { (void)data; (void)el; }
static void XMLCALL no_chars(void *data, const XML_Char *s, int len) { (void)data; (void)s; (void)len; }

static void XMLCALL rel_start(void *data, const XML_Char *el, const XML_Char **atts)
{
  struct xl *x = data;
  const char *id, *target;

  if (strcmp(local(el), "Relationship") != 0) return;
  id = attr(atts, "Id");
  target = attr(atts, "Target");
  if (!id || !target || strcmp(id, x->rid) != 0) return;
  /* relative to xl/, or absolute from the root of the archive */
  if (target[0] == '/') snprintf(x->target, sizeof x->target, "%s", target + 1);
  else snprintf(x->target, sizeof x->target, "xl/%s", target);
}

/* ---- xl/sharedStrings.xml ------------------------------------------------------ */

static void XMLCALL ss_start(void *data, const XML_Char *el, const XML_Char **atts)
{
  struct xl *x = data;
  const char *l = local(el);

  if (strcmp(l, "si") == 0) {
    if (x->nstr >= SHEET_NSTRINGS_MAX) {
      fail(x, _("the workbook holds more shared strings than any volunteer sheet%s"), NULL);
      return;
    }
    if (x->nstr == x->capstr) {
      size_t nc = x->capstr ? 2 * x->capstr : 1024;
      size_t *g = realloc(x->off, nc * sizeof *g);
      if (!g) { fail(x, _("out of memory%s"), NULL); return; }
      x->off = g;
      x->capstr = nc;
    }
    x->off[x->nstr++] = x->strings.len;
    x->in_si = 1;
  } else if (strcmp(l, "rPh") == 0) {
    x->in_rph = 1;             /* phonetic hints (Japanese): not the text */
  } else if (strcmp(l, "t") == 0 && x->in_si && !x->in_rph) {
    x->in_t = 1;
  }
}

static void XMLCALL ss_end(void *data, const XML_Char *el)
{
  struct xl *x = data;
  const char *l = local(el);

  if (strcmp(l, "si") == 0) {
    if (text_add(&x->strings, "", 1))
      fail(x, _("the shared strings of the workbook are larger than any volunteer sheet's%s"), NULL);
    x->in_si = 0;
  } else if (strcmp(l, "rPh") == 0) {
    x->in_rph = 0;
  } else if (strcmp(l, "t") == 0) {
    x->in_t = 0;
  }
}

static void XMLCALL ss_chars(void *data, const XML_Char *s, int len)
{
  struct xl *x = data;
  size_t start;

  if (!x->in_t || x->stop) return;
  start = x->off[x->nstr - 1];
  if (x->strings.len - start + (size_t)len > SHEET_CELL_MAX) {
    char n[32];
    snprintf(n, sizeof n, "%zu", x->nstr);
    fail(x, _("shared string %s of the workbook holds more than 64 KiB of text; this is not a "
            "volunteer sheet"), n);
    return;
  }
  if (text_add(&x->strings, s, (size_t)len))
    fail(x, _("the shared strings of the workbook are larger than any volunteer sheet's%s"), NULL);
}

/* ---- the sheet ------------------------------------------------------------------- */

static void clear_row(struct xl *x)
{
  for (size_t i = 0; i < x->ncell; i++) free(x->cell[i]);
  x->ncell = 0;
}

/* Column number (0: A) from a cell reference such as "BC12"; -1 if none. */
static long ref_col(const char *r)
{
  long c = 0;
  int any = 0;
  for (; *r && isalpha((unsigned char)*r); r++) {
    c = c * 26 + (toupper((unsigned char)*r) - 'A' + 1);
    if (c > 100000) return -1;
    any = 1;
  }
  return any ? c - 1 : -1;
}

static void XMLCALL sh_start(void *data, const XML_Char *el, const XML_Char **atts)
{
  struct xl *x = data;
  const char *l = local(el);

  if (x->stop) return;
  if (strcmp(l, "row") == 0) {
    const char *r = attr(atts, "r");
    unsigned long long n = r ? strtoull(r, NULL, 10) : 0;
    x->rownum = n > x->lastrow ? n : x->lastrow + 1;
    x->in_row = 1;
    x->col = 0;
    clear_row(x);
  } else if (strcmp(l, "c") == 0 && x->in_row) {
    const char *r = attr(atts, "r"), *t = attr(atts, "t");
    long c = r ? ref_col(r) : -1;
    if (c >= 0) x->col = (size_t)c;
    snprintf(x->ctype, sizeof x->ctype, "%s", t ? t : "n");
    x->in_c = 1;
    x->val.len = 0;
    x->val.over = 0;
    if (x->val.s) x->val.s[0] = 0;
  } else if (x->in_c && strcmp(l, "v") == 0) {
    x->in_v = 1;
  } else if (x->in_c && strcmp(l, "is") == 0) {
    x->in_is = 1;
  } else if (x->in_is && strcmp(l, "rPh") == 0) {
    x->in_rph = 1;
  } else if (x->in_is && strcmp(l, "t") == 0 && !x->in_rph) {
    x->in_t = 1;
  }
}

static void cell_done(struct xl *x)
{
  const char *v = x->val.s ? x->val.s : "";
  char *c;

  if (x->col >= SHEET_COLS_MAX) {
    char n[32];
    snprintf(n, sizeof n, "%llu", (unsigned long long)x->rownum);
    fail(x, _("row %s has more than 1024 columns; this is not a volunteer sheet"), n);
    return;
  }
  if (strcmp(x->ctype, "s") == 0) {
    char *end;
    unsigned long i = strtoul(v, &end, 10);
    if (!v[0] || *end || i >= x->nstr) {
      fail(x, _("the workbook is damaged (a cell refers to shared string %s, which is not there)"), v);
      return;
    }
    v = x->strings.s + x->off[i];
  }
  if (x->col >= x->capcell) {
    size_t nc = x->capcell ? x->capcell : 16;
    char **g;
    while (nc <= x->col) nc *= 2;
    if (!(g = realloc(x->cell, nc * sizeof *g))) { fail(x, _("out of memory%s"), NULL); return; }
    x->cell = g;
    x->capcell = nc;
  }
  while (x->ncell < x->col) {
    if (!(x->cell[x->ncell] = strdup(""))) { fail(x, _("out of memory%s"), NULL); return; }
    x->ncell++;
  }
  if (!(c = strdup(v))) { fail(x, _("out of memory%s"), NULL); return; }
  if (x->ncell > x->col) {        /* the same cell twice: the last counts */
    free(x->cell[x->col]);
    x->cell[x->col] = c;
  } else {
    x->cell[x->ncell++] = c;
  }
  x->col++;
}

static void XMLCALL sh_end(void *data, const XML_Char *el)
{
  struct xl *x = data;
  const char *l = local(el);

  if (x->stop) return;
  if (strcmp(l, "row") == 0 && x->in_row) {
    sheet_row row = {x->rownum, x->ncell, (const char *const *)x->cell};
    int rc = x->cb(x->ctx, &row);
    x->lastrow = x->rownum;
    x->in_row = 0;
    clear_row(x);
    if (rc) {
      x->stop = rc;
      XML_StopParser(x->xp, XML_FALSE);
    }
  } else if (strcmp(l, "c") == 0 && x->in_c) {
    x->in_c = 0;
    cell_done(x);
  } else if (strcmp(l, "v") == 0) {
    x->in_v = 0;
  } else if (strcmp(l, "is") == 0) {
    x->in_is = 0;
  } else if (strcmp(l, "rPh") == 0) {
    x->in_rph = 0;
  } else if (strcmp(l, "t") == 0) {
    x->in_t = 0;
  }
}

static void XMLCALL sh_chars(void *data, const XML_Char *s, int len)
{
  struct xl *x = data;

  if (x->stop || !x->in_c || !(x->in_v || (x->in_is && x->in_t))) return;
  if (text_add(&x->val, s, (size_t)len)) {
    char n[32];
    snprintf(n, sizeof n, "%llu", (unsigned long long)x->rownum);
    fail(x, _("a cell in row %s holds more than 64 KiB of text; this is not a volunteer sheet"), n);
  }
}

/* ---- the whole ---------------------------------------------------------------------- */

static int read_zip(zip_t *za, const char *sheet_name, sheet_info *info, sheet_cb cb, void *ctx)
{
  struct xl x;
  int rc;

  memset(&x, 0, sizeof x);
  x.za = za;
  x.info = info;
  x.want = sheet_name;
  x.cb = cb;
  x.ctx = ctx;
  x.strings.max = SHEET_STRINGS_MAX;
  x.val.max = SHEET_CELL_MAX;
  if (parse_part(&x, "xl/workbook.xml", wb_start, no_end, no_chars, 0)) goto out;
  if (!x.rid[0]) {
    if (sheet_name)
      snprintf(info->err, sizeof info->err, _("the workbook has no sheet named '%s' (its sheets: %s)"),
               sheet_name, x.names[0] ? x.names : _("none"));
    else
      snprintf(info->err, sizeof info->err, "%s", _("the workbook has no sheet"));
    x.stop = SHEET_EREAD;
    goto out;
  }
  rc = parse_part(&x, "xl/_rels/workbook.xml.rels", rel_start, no_end, no_chars, 1);
  if (rc < 0) goto out;
  if (!x.target[0]) snprintf(x.target, sizeof x.target, "xl/worksheets/sheet1.xml");
  if (parse_part(&x, "xl/sharedStrings.xml", ss_start, ss_end, ss_chars, 1) < 0) goto out;
  parse_part(&x, x.target, sh_start, sh_end, sh_chars, 0);
out:
  clear_row(&x);
  free(x.cell);
  free(x.val.s);
  free(x.strings.s);
  free(x.off);
  return x.stop;
}

static void zip_fail(sheet_info *info, int code)
{
  snprintf(info->err, sizeof info->err, "%s",
           code == ZIP_ER_NOZIP ? _("not an Excel workbook (.xlsx): it is no zip archive; "
                                    "an old .xls must be saved as .xlsx or CSV first")
           : code == ZIP_ER_NOENT ? _("the file does not exist")
           : code == ZIP_ER_OPEN || code == ZIP_ER_READ ? _("cannot open the file")
                                                         : _("the workbook is damaged (not a sound zip archive)"));
}

int sheet_xlsx_read_file(const char *path, const char *sheet_name, sheet_info *info,
                         sheet_cb cb, void *ctx)
{
  int err = 0, rc;
  zip_t *za;

  info->err[0] = info->sheet[0] = 0;
  info->encoding = NULL;
  if (!(za = zip_open(path, ZIP_RDONLY, &err))) {
    zip_fail(info, err);
    return SHEET_EREAD;
  }
  rc = read_zip(za, sheet_name, info, cb, ctx);
  zip_discard(za);
  return rc;
}

int sheet_xlsx_read_mem(const void *buf, size_t len, const char *sheet_name, sheet_info *info,
                        sheet_cb cb, void *ctx)
{
  zip_error_t ze;
  zip_source_t *src;
  zip_t *za;
  int rc;

  info->err[0] = info->sheet[0] = 0;
  info->encoding = NULL;
  zip_error_init(&ze);
  if (!(src = zip_source_buffer_create(buf, len, 0, &ze))) {
    zip_error_fini(&ze);
    snprintf(info->err, sizeof info->err, "%s", _("out of memory"));
    return SHEET_EREAD;
  }
  if (!(za = zip_open_from_source(src, ZIP_RDONLY, &ze))) {
    zip_fail(info, zip_error_code_zip(&ze));
    zip_source_free(src);
    zip_error_fini(&ze);
    return SHEET_EREAD;
  }
  zip_error_fini(&ze);
  rc = read_zip(za, sheet_name, info, cb, ctx);
  zip_discard(za);
  return rc;
}
