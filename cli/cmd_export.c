/*
 * cmd_export: kring export --format csv|xlsx|json --out FILE. Writes the
 * volunteers this node may read (optionally a selection, optionally only
 * those with consent in force for a purpose) to a sheet that opens
 * cleanly in Dutch Excel, and records the export in the store (who, when,
 * which fields, how many volunteers, which file; kring log --exports).
 *
 * CSV: ';', UTF-8 with a byte-order mark, CRLF (what Dutch Excel opens by
 * double-click); quoting through libcsv. XLSX: libxlsxwriter, every value
 * a text cell (phone numbers and postcodes keep their zeros; no cell is
 * ever a formula), a frozen header row with an auto-filter. A cell that
 * starts with = + - @ tab or carriage return is neutralised (OWASP, CSV
 * injection): a leading apostrophe in CSV, a text cell in XLSX. Phone
 * numbers are written 06-12345678, which no spreadsheet takes for a number.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>
#include <xlsxwriter.h>

#include "cli/cli.h"
#include "cli/repair.h"
#include "crdt/err.h"
#include "node/export.h"

static const char usage[] =
  "kring export --format csv|xlsx|json --out FILE [--fields f1,f2,...] [--skill S] [--city C] "
  "[--available A] [--consent PURPOSE] [--separator ';'|','|tab] [--lang nl|en]";

#define EXP_FIELDS_DEFAULT "name,email,phone,postcode,city,birth_year,skills,languages,availability"
#define EXP_FIELD_ID 0           /* the volunteer's kring id, as "field" 0 */

static const struct { int field; const char *nl, *en; double width; } heads[] = {
  {EXP_FIELD_ID, "kring-id", "kring-id", 34},
  {KR_F_NAME, "Naam", "Name", 28}, {KR_F_EMAIL, "E-mail", "E-mail", 30},
  {KR_F_PHONE, "Telefoon", "Phone", 14}, {KR_F_POSTCODE, "Postcode", "Postcode", 10},
  {KR_F_CITY, "Woonplaats", "City", 18}, {KR_F_BIRTH_YEAR, "Geboortejaar", "Birth year", 12},
  {KR_F_HOME_ORG, "Organisatie", "Home org", 20}, {KR_F_NOTES, "Opmerkingen", "Notes", 40},
  {KR_F_VOG_CHECKED_ON, "VOG datum", "VOG checked on", 14},
  {KR_F_VOG_CHECKED_BY, "VOG gecontroleerd door", "VOG checked by", 22},
  {KR_F_VOG_MEETS, "VOG in orde", "VOG meets requirements", 12},
  {KR_F_SKILLS, "Vaardigheden", "Skills", 28}, {KR_F_LANGUAGES, "Talen", "Languages", 18},
  {KR_F_AVAILABILITY, "Beschikbaarheid", "Availability", 32},
  {KR_F_ORGANISATIONS, "Organisaties", "Organisations", 24},
  {KR_F_PLACEMENTS, "Plaatsingen", "Placements", 24},
};

static int head_index(int field)
{
  for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
    if (heads[i].field == field) return (int)i;
  return -1;
}

typedef struct {
  kr_node *n;
  int fmt;                     /* 0 csv, 1 xlsx, 2 json */
  int dutch;
  char sep;
  int fields[64];
  size_t nf;
  const char *consent;
  FILE *f;                     /* csv, json */
  lxw_workbook *wb;
  lxw_worksheet *ws;
  lxw_format *head_fmt, *text_fmt;
  json_t *arr;
  uint64_t count;
  int err;
} exp_ctx;

/* A cell's text: lists joined with ", ", availability in Dutch when asked,
 * phone numbers as 06-12345678. */
static char *cell_text(exp_ctx *e, const kr_volunteer *v, int field)
{
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);

  if (!m) return NULL;
  if (field == EXP_FIELD_ID) {
    char hex[33];
    cli_hex(v->id, KR_SUBJECT_LEN, hex);
    fputs(hex, m);
  } else if (field < 32) {
    const char *s = v->val.v[field];
    if (s && field == KR_F_PHONE && strlen(s) == 10)
      fprintf(m, "%.*s-%s", s[1] == '6' ? 2 : 3, s, s + (s[1] == '6' ? 2 : 3));
    else if (s)
      fputs(s, m);
  } else {
    static const char *const week[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    static const char *const parts[] = {"am", "pm", "ev"};
    size_t nv = v->val.set[field - 32].n, out_n = 0;
    if (field == KR_F_AVAILABILITY) {
      /* in the order of the week */
      for (int d = 0; d < 7; d++)
        for (int p = 0; p < 3; p++)
          for (size_t k = 0; k < nv; k++) {
            const char *s = v->val.set[field - 32].v[k];
            char nl[32];
            if (strncmp(s, week[d], 3) != 0 || strcmp(s + 4, parts[p]) != 0) continue;
            if (out_n++) fputs(", ", m);
            fputs(e->dutch ? rp_availability_nl(s, nl, sizeof nl) : s, m);
          }
    } else {
      for (size_t k = 0; k < nv; k++) {
        if (k) fputs(", ", m);
        fputs(v->val.set[field - 32].v[k], m);
      }
    }
  }
  fclose(m);
  return out;
}

static int dangerous(const char *s)
{
  return s[0] && strchr("=+-@\t\r", s[0]) != NULL;
}

static void csv_cell(exp_ctx *e, const char *s, int first)
{
  size_t len = strlen(s);
  if (!first) fputc(e->sep, e->f);
  if (dangerous(s)) {
    /* OWASP: a leading apostrophe, inside the quotes */
    char *q = malloc(len + 2);
    if (!q) { e->err = KR_ENOMEM; return; }
    q[0] = '\'';
    memcpy(q + 1, s, len + 1);
    csv_fwrite2(e->f, q, len + 1, '"');
    free(q);
  } else if (strchr(s, e->sep) || strchr(s, '"') || strchr(s, '\n') || strchr(s, '\r') ||
             (len && (s[0] == ' ' || s[len - 1] == ' '))) {
    csv_fwrite2(e->f, s, len, '"');
  } else {
    fwrite(s, 1, len, e->f);
  }
}

static const char *head_of(exp_ctx *e, int field)
{
  int i = head_index(field);
  return e->dutch ? heads[i].nl : heads[i].en;
}

struct consent_find {
  const char *purpose;
  const uint8_t *self;
  int ok;
};

static int consent_one(void *ctx, const kr_consent_status *s)
{
  struct consent_find *f = ctx;
  if (strcmp(s->purpose, f->purpose) == 0 && s->state == KR_CONSENT_GRANTED &&
      (s->all || memcmp(s->recipient, f->self, KR_NODE_LEN) == 0))
    f->ok = 1;
  return 0;
}

static int one(void *ctx, const uint8_t id[KR_SUBJECT_LEN])
{
  exp_ctx *e = ctx;
  kr_volunteer v;
  int rc = kr_node_volunteer(e->n, id, &v);

  if (rc) return rc;
  if (v.erased) goto out;
  if (e->consent) {
    struct consent_find cf = {e->consent, kr_node_id(e->n), 0};
    if ((rc = kr_node_consent(e->n, id, consent_one, &cf))) goto out;
    if (!cf.ok) goto out;
  }
  e->count++;
  if (e->fmt == 2) {
    json_t *j = json_object();
    for (size_t i = 0; i < e->nf; i++) {
      int f = e->fields[i];
      if (f == EXP_FIELD_ID) {
        char hex[33];
        cli_hex(id, KR_SUBJECT_LEN, hex);
        json_object_set_new(j, "id", json_string(hex));
      } else if (f < 32) {
        if (v.val.v[f]) json_object_set_new(j, kr_field_name(f), json_string(v.val.v[f]));
      } else {
        json_t *a = json_array();
        for (size_t k = 0; k < v.val.set[f - 32].n; k++)
          json_array_append_new(a, json_string(v.val.set[f - 32].v[k]));
        json_object_set_new(j, kr_field_name(f), a);
      }
    }
    json_array_append_new(e->arr, j);
    goto out;
  }
  for (size_t i = 0; i < e->nf && !e->err; i++) {
    char *s = cell_text(e, &v, e->fields[i]);
    if (!s) { e->err = KR_ENOMEM; break; }
    if (e->fmt == 0) {
      csv_cell(e, s, i == 0);
    } else if (s[0]) {
      lxw_error x;
      if (e->fields[i] == KR_F_BIRTH_YEAR)
        x = worksheet_write_number(e->ws, (lxw_row_t)e->count, (lxw_col_t)i, atof(s), NULL);
      else
        x = worksheet_write_string(e->ws, (lxw_row_t)e->count, (lxw_col_t)i, s, e->text_fmt);
      if (x) e->err = KR_EIO;
    }
    free(s);
  }
  if (e->fmt == 0) fputs("\r\n", e->f);
out:
  kr_volunteer_free(&v);
  return rc ? rc : e->err;
}

struct filter_text {
  char s[512];
};

int cmd_export(int argc, char **argv)
{
  enum { FORMAT, OUT, FIELDS, SKILL, CITY, AVAIL, CONSENT, SEP, LANG, NOPT };
  cli_opt o[NOPT] = {{"format", 1, 0, NULL, 0}, {"out", 1, 0, NULL, 0}, {"fields", 1, 0, NULL, 0},
                     {"skill", 1, 0, NULL, 0}, {"city", 1, 0, NULL, 0}, {"available", 1, 0, NULL, 0},
                     {"consent", 1, 0, NULL, 0}, {"separator", 1, 0, NULL, 0}, {"lang", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  size_t npos;
  exp_ctx e;
  kr_filter flt;
  char *list = NULL, tmp[PATH_MAX + 32], abs[PATH_MAX], fieldnames[512] = "", filter[512] = "";
  const char *fmt, *out;
  int rc, wrote = 0;

  memset(&e, 0, sizeof e);
  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, NOPT, pos, &npos, usage))) goto done;
  if (npos) { rc = cli_usage(usage, _("unexpected argument '%s'"), pos[0]); goto done; }
  fmt = cli_val(&o[FORMAT]);
  out = cli_val(&o[OUT]);
  if (!fmt || !out) { rc = cli_usage(usage, _("--format and --out are required")); goto done; }
  if (strcmp(fmt, "csv") == 0) e.fmt = 0;
  else if (strcmp(fmt, "xlsx") == 0) e.fmt = 1;
  else if (strcmp(fmt, "json") == 0) e.fmt = 2;
  else { rc = cli_usage(usage, _("--format takes csv, xlsx or json")); goto done; }
  e.dutch = !cli_val(&o[LANG]) || strcmp(cli_val(&o[LANG]), "nl") == 0;
  if (cli_val(&o[LANG]) && !e.dutch && strcmp(cli_val(&o[LANG]), "en") != 0) {
    rc = cli_usage(usage, _("--lang takes nl or en"));
    goto done;
  }
  e.sep = ';';
  if (cli_val(&o[SEP])) {
    const char *s = cli_val(&o[SEP]);
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0) e.sep = '\t';
    else if (strlen(s) == 1 && strchr(";,\t", s[0])) e.sep = s[0];
    else { rc = cli_usage(usage, _("--separator takes ';', ',' or tab")); goto done; }
  }
  if (!(list = strdup(cli_val(&o[FIELDS]) ? cli_val(&o[FIELDS]) : EXP_FIELDS_DEFAULT))) {
    rc = cli_fail(_("out of memory"));
    goto done;
  }
  {
    char *save = NULL;
    for (char *w = strtok_r(list, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
      int f;
      for (char *c = w; *c; c++) if (*c == '-') *c = '_';
      if (strcmp(w, "id") == 0) f = EXP_FIELD_ID;
      else if (strcmp(w, "skill") == 0) f = KR_F_SKILLS;
      else if (strcmp(w, "language") == 0) f = KR_F_LANGUAGES;
      else f = kr_field_code(w);
      if (f < 0 || head_index(f) < 0) {
        rc = cli_usage(usage, _("--fields: unknown field '%s' (fields: id, name, email, phone, postcode, "
                       "city, birth_year, home_org, notes, vog_checked_on, vog_checked_by, "
                       "vog_meets_requirements, skills, languages, availability, organisations, "
                       "placements)"), w);
        goto done;
      }
      if (e.nf >= 64) { rc = cli_usage(usage, _("--fields: too many fields")); goto done; }
      e.fields[e.nf++] = f;
      snprintf(fieldnames + strlen(fieldnames), sizeof fieldnames - strlen(fieldnames), "%s%s",
               strlen(fieldnames) ? "," : "", f == EXP_FIELD_ID ? "id" : kr_field_name(f));
    }
  }
  if (!e.nf) { rc = cli_usage(usage, _("--fields names no field")); goto done; }
  memset(&flt, 0, sizeof flt);
  flt.skill = cli_val(&o[SKILL]);
  flt.city = cli_val(&o[CITY]);
  flt.available = cli_val(&o[AVAIL]);
  e.consent = cli_val(&o[CONSENT]);
  if (flt.available && (strlen(flt.available) != 6 || flt.available[3] != '-')) {
    rc = cli_usage(usage, _("--available takes mon-am ... sun-ev"));
    goto done;
  }
  {
    const char *names[4] = {"skill", "city", "available", "consent"};
    const char *vals[4] = {flt.skill, flt.city, flt.available, e.consent};
    for (int i = 0; i < 4; i++)
      if (vals[i])
        snprintf(filter + strlen(filter), sizeof filter - strlen(filter), "%s%s=%s",
                 filter[0] ? " " : "", names[i], vals[i]);
  }
  if ((rc = cli_open(&e.n))) goto done;
  if (kr_node_readonly(e.n)) {
    rc = cli_fail(_("cannot export from %s: the store is read-only, and every export must be "
                  "recorded in it (kring log --exports); nothing was exported"), cli_home);
    goto done;
  }
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
  if (e.fmt == 1) {
    lxw_workbook_options wo = {.constant_memory = LXW_TRUE, .tmpdir = NULL};
    if (!(e.wb = workbook_new_opt(tmp, &wo)) ||
        !(e.ws = workbook_add_worksheet(e.wb, e.dutch ? "Vrijwilligers" : "Volunteers"))) {
      rc = cli_fail(_("cannot write %s: %s"), out, strerror(errno));
      goto done;
    }
    e.head_fmt = workbook_add_format(e.wb);
    format_set_bold(e.head_fmt);
    e.text_fmt = workbook_add_format(e.wb);
    format_set_num_format(e.text_fmt, "@");
    for (size_t i = 0; i < e.nf; i++) {
      int h = head_index(e.fields[i]);
      worksheet_set_column(e.ws, (lxw_col_t)i, (lxw_col_t)i, heads[h].width,
                           e.fields[i] == KR_F_BIRTH_YEAR ? NULL : e.text_fmt);
      worksheet_write_string(e.ws, 0, (lxw_col_t)i, head_of(&e, e.fields[i]), e.head_fmt);
    }
    worksheet_freeze_panes(e.ws, 1, 0);
  } else {
    if (!(e.f = fopen(tmp, "wb"))) {
      rc = cli_fail(_("cannot write %s: %s"), out, strerror(errno));
      goto done;
    }
    if (e.fmt == 0) {
      fputs("\xef\xbb\xbf", e.f);
      for (size_t i = 0; i < e.nf; i++) csv_cell(&e, head_of(&e, e.fields[i]), i == 0);
      fputs("\r\n", e.f);
    } else {
      e.arr = json_array();
    }
  }
  wrote = 1;
  rc = kr_node_list(e.n, &flt, one, &e);
  if (!rc && e.fmt == 1) {
    if (e.count) worksheet_autofilter(e.ws, 0, 0, (lxw_row_t)e.count, (lxw_col_t)(e.nf - 1));
    else worksheet_autofilter(e.ws, 0, 0, 0, (lxw_col_t)(e.nf - 1));
    if (workbook_close(e.wb) != LXW_NO_ERROR) rc = KR_EIO;
    e.wb = NULL;
  } else if (!rc && e.fmt == 2) {
    if (json_dumpf(e.arr, e.f, JSON_INDENT(2)) != 0) rc = KR_EIO;
    fputc('\n', e.f);
  }
  if (e.f) {
    if (fflush(e.f) != 0 || ferror(e.f) || fsync(fileno(e.f)) != 0) rc = rc ? rc : KR_EIO;
    fclose(e.f);
    e.f = NULL;
  }
  if (rc) {
    rc = cli_fail(_("cannot export: %s; nothing was exported"),
                  rc == KR_EIO ? _("writing the file failed (is the disk full?)") : cli_strerror(rc));
    goto done;
  }
  if (rename(tmp, out) != 0) {
    rc = cli_fail(_("cannot write %s: %s; nothing was exported"), out, strerror(errno));
    goto done;
  }
  wrote = 0;
  {
    kr_export_rec r;
    struct passwd *pw = getpwuid(getuid());
    const char *user = pw && pw->pw_name ? pw->pw_name : getenv("USER");
    r.at_ms = cli_now_ms();
    r.user = user ? user : "?";
    r.format = fmt;
    r.fields = fieldnames;
    r.filter = filter;
    r.count = e.count;
    r.file = realpath(out, abs) ? abs : out;
    if ((rc = kr_node_export_record(e.n, &r))) {
      unlink(out);
      if (!cli_store_trouble())
        cli_fail(_("cannot record the export in the store (%s), so %s was deleted again; nothing "
                 "was exported"), cli_strerror(rc), out);
      rc = CLI_FAIL;
      goto done;
    }
  }
  if (cli_json)
    rc = cli_print_json(json_pack("{s:s, s:s, s:I, s:s, s:s}", "file", out, "format", fmt,
                                  "volunteers", (json_int_t)e.count, "fields", fieldnames,
                                  "filter", filter));
  else
    printf(ngettext("wrote %llu volunteer (%s) to %s; recorded (kring log --exports)\n",
                    "wrote %llu volunteers (%s) to %s; recorded (kring log --exports)\n",
                    (unsigned long)e.count),
           (unsigned long long)e.count, fieldnames, cli_safe(out, -1));
done:
  if (e.wb) workbook_close(e.wb);
  if (e.f) fclose(e.f);
  if (wrote) unlink(tmp);
  json_decref(e.arr);
  kr_node_close(e.n);
  free(list);
  for (int i = 0; i < NOPT; i++) free(o[i].vals);
  free(pos);
  return rc;
}

/* kring log --exports */
static int log_one(void *ctx, const kr_export_rec *r)
{
  json_t *arr = ctx;
  char t[32];
  cli_ms_time(r->at_ms, t);
  if (arr) {
    json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s}", "at_ms",
                                         (json_int_t)r->at_ms, "user", r->user, "format", r->format,
                                         "fields", r->fields, "filter", r->filter, "volunteers",
                                         (json_int_t)r->count, "file", r->file));
  } else {
    /* TRANSLATORS: a table row; the two forms line up (same width) */
    printf(ngettext("%s  %-10s %-4s %6llu volunteer   %s%s%s  %s\n",
                    "%s  %-10s %-4s %6llu volunteers  %s%s%s  %s\n", (unsigned long)r->count),
           t, cli_safe(r->user, -1), cli_safe(r->format, -1), (unsigned long long)r->count,
           cli_safe(r->fields, -1), r->filter[0] ? _("  where ") : "", cli_safe(r->filter, -1),
           cli_safe(r->file, -1));
  }
  return 0;
}

int cli_log_exports(kr_node *n)
{
  json_t *arr = cli_json ? json_array() : NULL;
  int rc = kr_node_exports(n, log_one, arr);
  if (rc) {
    json_decref(arr);
    return cli_fail(_("reading the record of exports: %s"), cli_strerror(rc));
  }
  return arr ? cli_print_json(arr) : CLI_OK;
}
