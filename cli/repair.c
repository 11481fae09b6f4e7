/*
 * repair: what Excel does to volunteer data, undone before a value reaches
 * kr_txn_* (which then validates and normalises it as for any edit).
 * Headers recognised in Dutch and English, Dutch availability, dates
 * written the Dutch way or as Excel serial numbers, phone numbers that lost
 * their leading zero or turned into scientific notation, postcodes without
 * the space. Pure functions of their input; each repair says what it did
 * in a short note for the import report.
 */
#include <ctype.h>
#include <libintl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/repair.h"
#include "crdt/op.h"

/* The notes and reasons are for a person: translated as in cli/cli.h,
 * which this file (also built into the fuzz targets) does not include. */
#define _(s) gettext(s)

/* ---- headers ------------------------------------------------------------------ */

/* Lower case ASCII letters and digits only; the accented Latin letters of
 * Latin-1 (é, ë, ï, ö, ü, ç ...) as their base letter; text in brackets
 * left out unless nothing else is left. */
void rp_header_key(const char *in, char *out, size_t cap)
{
  static const char latin1[] = /* U+00C0 .. U+00FF */
    "aaaaaaaceeeeiiiidnooooo/ouuuuyts"
    "aaaaaaaceeeeiiiidnooooo/ouuuuyty";
  size_t o = 0;
  int depth = 0;

  for (int pass = 0; pass < 2 && o == 0; pass++) {
    const unsigned char *p = (const unsigned char *)in;
    depth = 0;
    while (*p && o + 1 < cap) {
      unsigned c = *p;
      char ch = 0;
      if (c == '(' || c == '[') { depth++; p++; continue; }
      if ((c == ')' || c == ']') && depth) { depth--; p++; continue; }
      if (c == 0xc3 && p[1] >= 0x80 && p[1] <= 0xbf) {
        ch = latin1[(p[1] - 0x80) & 0x3f];
        p += 2;
      } else {
        ch = (char)tolower(c);
        p++;
      }
      if (depth && pass == 0) continue;
      if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) out[o++] = ch;
    }
  }
  out[o] = 0;
}

static const struct {
  const char *key;
  int kind;
  int field;
} headers[] = {
  {"naam", RP_FIELD, KR_F_NAME}, {"name", RP_FIELD, KR_F_NAME},
  {"volledigenaam", RP_FIELD, KR_F_NAME}, {"fullname", RP_FIELD, KR_F_NAME},
  {"voornaamachternaam", RP_FIELD, KR_F_NAME}, {"voorenachternaam", RP_FIELD, KR_F_NAME},
  {"naamvrijwilliger", RP_FIELD, KR_F_NAME}, {"vrijwilliger", RP_FIELD, KR_F_NAME},
  {"voornaam", RP_FIRST, 0}, {"voornamen", RP_FIRST, 0}, {"firstname", RP_FIRST, 0},
  {"givenname", RP_FIRST, 0},
  {"roepnaam", RP_NICK, 0}, {"nickname", RP_NICK, 0},
  {"tussenvoegsel", RP_INFIX, 0}, {"tussenvoegsels", RP_INFIX, 0}, {"tussenv", RP_INFIX, 0},
  {"tv", RP_INFIX, 0}, {"infix", RP_INFIX, 0},
  {"achternaam", RP_LAST, 0}, {"familienaam", RP_LAST, 0}, {"lastname", RP_LAST, 0},
  {"surname", RP_LAST, 0}, {"familyname", RP_LAST, 0},
  {"email", RP_FIELD, KR_F_EMAIL}, {"emailadres", RP_FIELD, KR_F_EMAIL},
  {"mail", RP_FIELD, KR_F_EMAIL}, {"mailadres", RP_FIELD, KR_F_EMAIL},
  {"emailaddress", RP_FIELD, KR_F_EMAIL},
  {"telefoon", RP_FIELD, KR_F_PHONE}, {"telefoonnummer", RP_FIELD, KR_F_PHONE},
  {"telefoonnr", RP_FIELD, KR_F_PHONE}, {"tel", RP_FIELD, KR_F_PHONE},
  {"telnr", RP_FIELD, KR_F_PHONE}, {"mobiel", RP_FIELD, KR_F_PHONE},
  {"mobielnummer", RP_FIELD, KR_F_PHONE}, {"mobieltelefoon", RP_FIELD, KR_F_PHONE},
  {"telefoonmobiel", RP_FIELD, KR_F_PHONE}, {"06nummer", RP_FIELD, KR_F_PHONE},
  {"gsm", RP_FIELD, KR_F_PHONE}, {"phone", RP_FIELD, KR_F_PHONE},
  {"phonenumber", RP_FIELD, KR_F_PHONE}, {"mobile", RP_FIELD, KR_F_PHONE},
  {"telephone", RP_FIELD, KR_F_PHONE},
  {"postcode", RP_FIELD, KR_F_POSTCODE}, {"postalcode", RP_FIELD, KR_F_POSTCODE},
  {"zipcode", RP_FIELD, KR_F_POSTCODE}, {"zip", RP_FIELD, KR_F_POSTCODE},
  {"woonplaats", RP_FIELD, KR_F_CITY}, {"plaats", RP_FIELD, KR_F_CITY},
  {"stad", RP_FIELD, KR_F_CITY}, {"city", RP_FIELD, KR_F_CITY}, {"town", RP_FIELD, KR_F_CITY},
  {"geboortedatum", RP_BIRTHDATE, KR_F_BIRTH_YEAR}, {"gebdatum", RP_BIRTHDATE, KR_F_BIRTH_YEAR},
  {"geboren", RP_BIRTHDATE, KR_F_BIRTH_YEAR}, {"dateofbirth", RP_BIRTHDATE, KR_F_BIRTH_YEAR},
  {"birthdate", RP_BIRTHDATE, KR_F_BIRTH_YEAR}, {"birthday", RP_BIRTHDATE, KR_F_BIRTH_YEAR},
  {"geboortejaar", RP_FIELD, KR_F_BIRTH_YEAR}, {"birthyear", RP_FIELD, KR_F_BIRTH_YEAR},
  {"jaarvangeboorte", RP_FIELD, KR_F_BIRTH_YEAR},
  {"vaardigheden", RP_FIELD, KR_F_SKILLS}, {"vaardigheid", RP_FIELD, KR_F_SKILLS},
  {"kwaliteiten", RP_FIELD, KR_F_SKILLS}, {"competenties", RP_FIELD, KR_F_SKILLS},
  {"skills", RP_FIELD, KR_F_SKILLS},
  {"talen", RP_FIELD, KR_F_LANGUAGES}, {"taal", RP_FIELD, KR_F_LANGUAGES},
  {"spreekt", RP_FIELD, KR_F_LANGUAGES}, {"languages", RP_FIELD, KR_F_LANGUAGES},
  {"beschikbaarheid", RP_FIELD, KR_F_AVAILABILITY}, {"beschikbaar", RP_FIELD, KR_F_AVAILABILITY},
  {"dagdelen", RP_FIELD, KR_F_AVAILABILITY}, {"availability", RP_FIELD, KR_F_AVAILABILITY},
  {"opmerkingen", RP_FIELD, KR_F_NOTES}, {"opmerking", RP_FIELD, KR_F_NOTES},
  {"notities", RP_FIELD, KR_F_NOTES}, {"notitie", RP_FIELD, KR_F_NOTES},
  {"bijzonderheden", RP_FIELD, KR_F_NOTES}, {"notes", RP_FIELD, KR_F_NOTES},
  {"comments", RP_FIELD, KR_F_NOTES},
  {"vogdatum", RP_FIELD, KR_F_VOG_CHECKED_ON}, {"datumvog", RP_FIELD, KR_F_VOG_CHECKED_ON},
  {"voggecontroleerdop", RP_FIELD, KR_F_VOG_CHECKED_ON}, {"vogcheckedon", RP_FIELD, KR_F_VOG_CHECKED_ON},
  {"vogdate", RP_FIELD, KR_F_VOG_CHECKED_ON},
  {"voggecontroleerddoor", RP_FIELD, KR_F_VOG_CHECKED_BY}, {"vogcheckedby", RP_FIELD, KR_F_VOG_CHECKED_BY},
  {"vogdoor", RP_FIELD, KR_F_VOG_CHECKED_BY},
  {"voginorde", RP_FIELD, KR_F_VOG_MEETS}, {"vogakkoord", RP_FIELD, KR_F_VOG_MEETS},
  {"vogok", RP_FIELD, KR_F_VOG_MEETS}, {"vogmeetsrequirements", RP_FIELD, KR_F_VOG_MEETS},
  {"vogvoldoet", RP_FIELD, KR_F_VOG_MEETS},
  {"organisatie", RP_FIELD, KR_F_HOME_ORG}, {"thuisorganisatie", RP_FIELD, KR_F_HOME_ORG},
  {"homeorg", RP_FIELD, KR_F_HOME_ORG}, {"organisaties", RP_FIELD, KR_F_ORGANISATIONS},
  {"organisations", RP_FIELD, KR_F_ORGANISATIONS}, {"plaatsingen", RP_FIELD, KR_F_PLACEMENTS},
  {"plaatsing", RP_FIELD, KR_F_PLACEMENTS}, {"placements", RP_FIELD, KR_F_PLACEMENTS},
  {"kringid", RP_SKIP, 0}, {"id", RP_SKIP, 0},
  {"bsn", RP_BSN, 0}, {"burgerservicenummer", RP_BSN, 0}, {"bsnnummer", RP_BSN, 0},
  {"sofinummer", RP_BSN, 0}, {"sofinr", RP_BSN, 0}, {"citizenservicenumber", RP_BSN, 0},
};

int rp_header(const char *header, int *field)
{
  char key[128];

  rp_header_key(header, key, sizeof key);
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
    if (strcmp(key, headers[i].key) == 0) {
      *field = headers[i].field;
      return headers[i].kind;
    }
  return RP_UNKNOWN;
}

int rp_target(const char *name, int *field)
{
  char f[64];
  size_t i;

  for (i = 0; name[i] && i + 1 < sizeof f; i++) f[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
  f[i] = 0;
  *field = 0;
  if (!f[0] || strcmp(f, "skip") == 0 || strcmp(f, "ignore") == 0) return RP_SKIP;
  if (strcmp(f, "first_name") == 0 || strcmp(f, "first") == 0) return RP_FIRST;
  if (strcmp(f, "nickname") == 0 || strcmp(f, "nick") == 0) return RP_NICK;
  if (strcmp(f, "infix") == 0) return RP_INFIX;
  if (strcmp(f, "last_name") == 0 || strcmp(f, "last") == 0) return RP_LAST;
  if (strcmp(f, "birth_date") == 0) { *field = KR_F_BIRTH_YEAR; return RP_BIRTHDATE; }
  if (strcmp(f, "skill") == 0) strcpy(f, "skills");
  if (strcmp(f, "language") == 0) strcpy(f, "languages");
  if ((*field = kr_field_code(f)) > 0) return RP_FIELD;
  return RP_UNKNOWN;
}

/* ---- small text helpers -------------------------------------------------------- */

/* s without white space at both ends, into out (cap bytes). */
void rp_trim(const char *s, char *out, size_t cap)
{
  const char *e;
  size_t n;

  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) e--;
  n = (size_t)(e - s);
  if (n >= cap) n = cap - 1;
  memcpy(out, s, n);
  out[n] = 0;
}

int rp_truthy(const char *s)
{
  static const char *const yes[] = {"ja", "j", "yes", "y", "x", "1", "waar", "true", "wahr", "ok",
                                    "\xe2\x9c\x93", "\xe2\x9c\x94"};
  char t[16];
  rp_trim(s, t, sizeof t);
  for (char *c = t; *c; c++) *c = (char)tolower((unsigned char)*c);
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (strcmp(t, yes[i]) == 0) return 1;
  return 0;
}

/* ---- dates ---------------------------------------------------------------------- */

static int days_in(int y, int m)
{
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return d[m - 1];
}

/* An Excel serial day number (1900 system, days since 1899-12-30 from
 * 1 March 1900 on) as a date. */
static void serial_date(long serial, int *y, int *m, int *d)
{
  /* civil_from_days (Howard Hinnant), from the Unix epoch */
  long z = serial - 25569 + 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

int rp_date(const char *in, int this_year, int birth, int *y, int *m, int *d, char *note, size_t cap)
{
  char s[64];
  int a, b, c, n = 0;
  char sep1, sep2;

  rp_trim(in, s, sizeof s);
  note[0] = 0;
  /* yyyy-mm-dd, perhaps with a time after it */
  if (sscanf(s, "%4d-%2d-%2d%n", &a, &b, &c, &n) == 3 && n == 10 &&
      (s[10] == 0 || s[10] == ' ' || s[10] == 'T')) {
    *y = a, *m = b, *d = c;
  } else if (sscanf(s, "%2d%c%2d%c%4d%n", &a, &sep1, &b, &sep2, &c, &n) == 5 &&
             (sep1 == '-' || sep1 == '/' || sep1 == '.') && sep2 == sep1 &&
             (s[n] == 0 || s[n] == ' ')) {
    /* d-m-jj or dd-mm-jjjj: count the year's digits */
    const char *yp = strrchr(s, sep1) + 1;
    size_t yl = strspn(yp, "0123456789");
    *d = a, *m = b;
    if (yl == 4) {
      *y = c;
    } else if (yl == 2) {
      int cent = birth && c > this_year % 100 ? 1900 : 2000;
      *y = cent + c;
      snprintf(note, cap, _("year '%02d' read as %d"), c, *y);
    } else {
      return 0;
    }
  } else {
    /* an Excel serial number: digits, perhaps a fraction (a time) */
    char *end;
    double v = strtod(s, &end);
    long serial;
    if (!s[0] || *end || strspn(s, "0123456789.") != strlen(s) || v < 367 || v > 80000) return 0;
    serial = (long)v;
    serial_date(serial, y, m, d);
    snprintf(note, cap, _("Excel date number %ld read as %02d-%02d-%04d"), serial, *d, *m, *y);
  }
  if (*m < 1 || *m > 12 || *d < 1 || *y < 1900 || *y > 2200 || *d > days_in(*y, *m)) return 0;
  return 1;
}

/* ---- phone numbers, postcodes ------------------------------------------------ */

int rp_phone(const char *in, char *out, size_t cap, char *note, size_t ncap, const char **why)
{
  char s[64], d[64];
  size_t o = 0;
  int plus = 0;

  rp_trim(in, s, sizeof s);
  note[0] = 0;
  if ((strchr(s, 'E') || strchr(s, 'e')) && strspn(s, "0123456789,.Ee+- ") == strlen(s) &&
      isdigit((unsigned char)s[0])) {
    *why = _("Excel turned the number into scientific notation (like 6,12E+08) and its digits "
             "are lost; format the column as text in Excel and type the number again");
    return 0;
  }
  /* a number cell read back as 612345678.0 */
  if (strlen(s) > 2 && (strcmp(s + strlen(s) - 2, ".0") == 0 || strcmp(s + strlen(s) - 2, ",0") == 0) &&
      strspn(s, "0123456789") == strlen(s) - 2)
    s[strlen(s) - 2] = 0;
  for (const char *p = s; *p; p++) {
    if (*p == '+' && o == 0 && !plus) plus = 1;
    else if (isdigit((unsigned char)*p)) { if (o + 1 < sizeof d) d[o++] = *p; }
    else if (!strchr(" -()./", *p)) { snprintf(out, cap, "%s", s); return 1; }   /* let kring judge */
  }
  d[o] = 0;
  if (!plus && o == 9 && d[0] != '0') {
    snprintf(out, cap, "0%s", d);
    snprintf(note, ncap, _("%s: the leading zero was lost (Excel), read as %s"), s, out);
  } else if (!plus && o == 11 && d[0] == '3' && d[1] == '1' && d[2] != '0') {
    snprintf(out, cap, "0%s", d + 2);
    snprintf(note, ncap, _("%s: read as +%s, %s"), s, d, out);
  } else {
    snprintf(out, cap, "%s", s);
  }
  return 1;
}

void rp_postcode(const char *in, char *out, size_t cap)
{
  char s[64];
  size_t o = 0;
  rp_trim(in, s, sizeof s);
  for (const char *p = s; *p && o + 2 < cap; p++) {
    if (*p == ' ' || *p == '-') continue;
    if (o == 4) out[o++] = ' ';
    out[o++] = (char)toupper((unsigned char)*p);
  }
  out[o] = 0;
}

/* ---- availability ------------------------------------------------------------- */

static const char *const day_code[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const part_code[3] = {"am", "pm", "ev"};
static const char *const day_nl[7] = {"ma", "di", "wo", "do", "vr", "za", "zo"};
static const char *const part_nl[3] = {"ochtend", "middag", "avond"};

static const struct { const char *w; int day; } day_words[] = {
  {"maandag", 0}, {"dinsdag", 1}, {"woensdag", 2}, {"donderdag", 3}, {"vrijdag", 4},
  {"zaterdag", 5}, {"zondag", 6}, {"monday", 0}, {"tuesday", 1}, {"wednesday", 2},
  {"thursday", 3}, {"friday", 4}, {"saturday", 5}, {"sunday", 6},
  {"mon", 0}, {"tue", 1}, {"wed", 2}, {"thu", 3}, {"fri", 4}, {"sat", 5}, {"sun", 6},
  {"ma", 0}, {"di", 1}, {"wo", 2}, {"do", 3}, {"vr", 4}, {"za", 5}, {"zo", 6},
};
static const struct { const char *w; int part; } part_words[] = {
  {"ochtend", 0}, {"morgen", 0}, {"voormiddag", 0}, {"morning", 0}, {"am", 0},
  {"namiddag", 1}, {"middag", 1}, {"afternoon", 1}, {"pm", 1},
  {"avond", 2}, {"evening", 2}, {"ev", 2},
  {"heledag", 3}, {"dag", 3}, {"allday", 3},
};

/* The day a word starts with (its length in *len), or -1. */
static int day_prefix(const char *w, size_t *len)
{
  for (size_t i = 0; i < sizeof day_words / sizeof day_words[0]; i++) {
    size_t l = strlen(day_words[i].w);
    if (strncmp(w, day_words[i].w, l) == 0) { *len = l; return day_words[i].day; }
  }
  return -1;
}

static int part_of(const char *w)
{
  size_t l = strlen(w);
  char t[32];
  if (l >= sizeof t) return -1;
  strcpy(t, w);
  if (l > 2 && t[l - 1] == 's') t[l - 1] = 0;     /* ochtends, middags, avonds */
  for (size_t i = 0; i < sizeof part_words / sizeof part_words[0]; i++)
    if (strcmp(t, part_words[i].w) == 0) return part_words[i].part;
  return -1;
}

/* One item ("ma ochtend", "ma-vr avond", "za", "maandagmiddag", "mon-am")
 * into a 7x3 grid. 0 when it cannot be read. */
static int avail_item(const char *item, unsigned char grid[7][3])
{
  char buf[256], *w, *save = NULL;
  int days[7] = {0}, parts[3] = {0}, anyday = 0, anypart = 0, last = -1, range = 0;
  size_t o = 0;

  for (const char *p = item; *p && o + 4 < sizeof buf; p++) {
    char c = (char)tolower((unsigned char)*p);
    if (c == '-') { buf[o++] = ' '; buf[o++] = '-'; buf[o++] = ' '; }
    else if (c == '\'') continue;
    else buf[o++] = c;
  }
  buf[o] = 0;
  for (w = strtok_r(buf, " .", &save); w; w = strtok_r(NULL, " .", &save)) {
    size_t dl;
    int d, pt;
    if (strcmp(w, "-") == 0 || strcmp(w, "tm") == 0 || strcmp(w, "tot") == 0 || strcmp(w, "en") == 0 ||
        strcmp(w, "t/m") == 0) {
      if (strcmp(w, "en") != 0 && last >= 0) range = 1;
      continue;
    }
    if (strcmp(w, "s") == 0 || strcmp(w, "de") == 0 || strcmp(w, "hele") == 0) continue;
    if (strcmp(w, "weekend") == 0) { days[5] = days[6] = anyday = 1; last = -1; continue; }
    if (strcmp(w, "doordeweeks") == 0 || strcmp(w, "werkdagen") == 0) {
      for (int i = 0; i < 5; i++) days[i] = 1;
      anyday = 1;
      last = -1;
      continue;
    }
    if ((pt = part_of(w)) >= 0) {
      if (pt == 3) parts[0] = parts[1] = parts[2] = 1; else parts[pt] = 1;
      anypart = 1;
      range = 0;
      continue;
    }
    if ((d = day_prefix(w, &dl)) >= 0 && (w[dl] == 0 || (w[dl] == 's' && w[dl + 1] == 0) ||
                                         part_of(w + dl) >= 0)) {
      if (range && last >= 0) {
        for (int i = last; i != d; i = (i + 1) % 7) days[i] = 1;
      }
      days[d] = 1;
      anyday = 1;
      last = d;
      range = 0;
      if (w[dl] && w[dl] != 's') {
        int p2 = part_of(w + dl);
        if (p2 == 3) parts[0] = parts[1] = parts[2] = 1; else parts[p2] = 1;
        anypart = 1;
      }
      continue;
    }
    return 0;
  }
  if (!anyday) return 0;
  if (!anypart) parts[0] = parts[1] = parts[2] = 1;
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < 3; j++)
      if (days[i] && parts[j]) grid[i][j] = 1;
  return 1;
}

/* Split a list on , ; / and line breaks ("t/m" stays whole) into items. */
size_t rp_split(const char *in, char items[][RP_ITEM_MAX], size_t max)
{
  size_t n = 0, o = 0;
  char cur[RP_ITEM_MAX];

  for (const char *p = in;; p++) {
    int end = !*p;
    if (!end && (p[0] == 't' || p[0] == 'T') && p[1] == '/' && (p[2] == 'm' || p[2] == 'M')) {
      if (o + 3 < sizeof cur) { cur[o++] = 't'; cur[o++] = '/'; cur[o++] = 'm'; }
      p += 2;
      continue;
    }
    if (end || strchr(",;/\n\r", *p)) {
      cur[o] = 0;
      if (n < max) {
        rp_trim(cur, items[n], RP_ITEM_MAX);
        if (items[n][0]) n++;
      }
      o = 0;
      if (end) break;
      continue;
    }
    if (o + 1 < sizeof cur) cur[o++] = *p;
  }
  return n;
}

int rp_availability(const char *item, char codes[21][8], size_t *n)
{
  unsigned char grid[7][3];
  memset(grid, 0, sizeof grid);
  *n = 0;
  if (!avail_item(item, grid)) return 0;
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < 3; j++)
      if (grid[i][j]) snprintf(codes[(*n)++], 8, "%s-%s", day_code[i], part_code[j]);
  return 1;
}

const char *rp_availability_nl(const char *code, char *out, size_t cap)
{
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < 3; j++)
      if (strncmp(code, day_code[i], 3) == 0 && code[3] == '-' && strcmp(code + 4, part_code[j]) == 0) {
        snprintf(out, cap, "%s %s", day_nl[i], part_nl[j]);
        return out;
      }
  snprintf(out, cap, "%s", code);
  return out;
}

/* ---- the BSN guard for a whole column ----------------------------------------- */

int rp_bsn_like(const char *in)
{
  char d[16];
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
    if (isdigit(*p)) { if (n >= 9) return 0; d[n++] = (char)*p; }
    else if (!strchr(" .-\t", *p)) return 0;
  }
  if (n == 8) { memmove(d + 1, d, 8); d[0] = '0'; n = 9; }   /* lost its leading zero */
  if (n != 9) return 0;
  {
    int sum = 0, zero = 1;
    for (int i = 0; i < 8; i++) {
      sum += (9 - i) * (d[i] - '0');
      if (d[i] != '0') zero = 0;
    }
    sum -= d[8] - '0';
    return !zero && sum % 11 == 0;
  }
}
