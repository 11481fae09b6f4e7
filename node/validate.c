/* validate: field rules, normalisation and the BSN guard (see validate.h). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crdt/err.h"
#include "crdt/op.h"
#include "node/i18n.h"
#include "node/internal.h"
#include "node/validate.h"

/* ---- text ---------------------------------------------------------------- */

static const char why_utf8[] = N_("not valid text (UTF-8)");
static const char why_line[] = N_("has a line break, and this field holds one line of text");
static const char why_sep[] =
  N_("has a Unicode line or paragraph separator (U+2028, U+2029); use an ordinary line break");
static const char why_ctrl[] =
  N_("has an invisible control character (a tab, or one copied in from another program); "
     "type the text again without it");
static const char why_bidi[] =
  N_("has an invisible text-direction character (U+202A to U+202E, U+2066 to U+2069), which "
     "can make text show differently from what is stored; type the text again without it");

static int text_ok(const char *s, size_t len, int multiline, const char **why)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  const char *dummy;

  if (!why) why = &dummy;
  *why = NULL;
  while (p < end) {
    uint32_t c;
    size_t n = kr_utf8_next(p, end, &c);
    if (!n) { *why = why_utf8; return KR_EVALIDATION; }
    p += n;
    if (c == '\n' && multiline) continue;
    if (c == '\n' || c == '\r' || c == 0x85 || ((c == 0x2028 || c == 0x2029) && !multiline)) {
      *why = why_line;
      return KR_EVALIDATION;
    }
    if (c == 0x2028 || c == 0x2029) { *why = why_sep; return KR_EVALIDATION; }
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) { *why = why_ctrl; return KR_EVALIDATION; }
    if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
      *why = why_bidi;
      return KR_EVALIDATION;
    }
  }
  return 0;
}

int kr_text_single_ok(const char *s, size_t len, const char **why)
{
  return text_ok(s, len, 0, why);
}

int kr_text_multi_ok(const char *s, size_t len, const char **why)
{
  return text_ok(s, len, 1, why);
}

/* ---- the BSN guard --------------------------------------------------------- */

int kr_elfproef(const char digits[static 9])
{
  int sum = 0, zero = 1;

  for (int i = 0; i < 8; i++) {
    sum += (9 - i) * (digits[i] - '0');
    if (digits[i] != '0') zero = 0;
  }
  sum -= digits[8] - '0';
  return !zero && sum % 11 == 0;
}

/* The first code point (the zero) of every block of ten decimal digits,
 * Unicode category Nd, as of Unicode 15.0: each block holds 0 to 9 in
 * order. ASCII first; then Arabic-Indic, Extended Arabic-Indic, N'Ko,
 * the Indic scripts, Thai, Lao, Tibetan, Myanmar, Khmer, Mongolian, ...,
 * full-width (U+FF10), and the mathematical digits (U+1D7CE ...). */
static const uint32_t digit_zero[] = {
  0x0030, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6,
  0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0,
  0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620,
  0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066,
  0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730,
  0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0, 0x16B50,
  0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950,
  0x1FBF0,
};

/* Digits outside Nd that NFKC turns into an ASCII digit. */
static const struct { uint32_t cp; char d; } digit_other[] = {
  {0x00B2, '2'}, {0x00B3, '3'}, {0x00B9, '1'}, {0x2070, '0'},   /* superscript */
  {0x2074, '4'}, {0x2075, '5'}, {0x2076, '6'}, {0x2077, '7'}, {0x2078, '8'}, {0x2079, '9'},
  {0x2080, '0'}, {0x2081, '1'}, {0x2082, '2'}, {0x2083, '3'}, {0x2084, '4'},   /* subscript */
  {0x2085, '5'}, {0x2086, '6'}, {0x2087, '7'}, {0x2088, '8'}, {0x2089, '9'},
  {0x2460, '1'}, {0x2461, '2'}, {0x2462, '3'}, {0x2463, '4'}, {0x2464, '5'},   /* circled */
  {0x2465, '6'}, {0x2466, '7'}, {0x2467, '8'}, {0x2468, '9'}, {0x24EA, '0'},
};

/* Characters that do not count at all: the default ignorable code points
 * (soft hyphen, zero-width space and joiners, bidi marks, variation
 * selectors, BOM, tags ...) and the combining marks (U+0300 ...,
 * including the keycap U+20E3), so that "1<ZWSP><ZWSP>2" is "12". */
static const struct { uint32_t lo, hi; } ignored[] = {
  {0x00AD, 0x00AD}, {0x0300, 0x036F}, {0x034F, 0x034F}, {0x061C, 0x061C},
  {0x115F, 0x1160}, {0x17B4, 0x17B5}, {0x180B, 0x180F}, {0x1AB0, 0x1AFF},
  {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x206F},
  {0x20D0, 0x20FF}, {0x3164, 0x3164}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F},
  {0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFF8}, {0x1BCA0, 0x1BCA3},
  {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
};

/* White space: a run of it counts as one separator. Tab, space, NBSP and
 * the other spaces of Unicode category Zs. Not the line feed. */
static int is_space(uint32_t c)
{
  return c == '\t' || c == ' ' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

static int digit_of(uint32_t c)
{
  if (c < 0x80) return c >= '0' && c <= '9' ? (int)(c - '0') : -1;
  for (size_t i = 1; i < sizeof digit_zero / sizeof digit_zero[0]; i++)
    if (c >= digit_zero[i] && c < digit_zero[i] + 10) return (int)(c - digit_zero[i]);
  for (size_t i = 0; i < sizeof digit_other / sizeof digit_other[0]; i++)
    if (c == digit_other[i].cp) return digit_other[i].d - '0';
  return -1;
}

static int is_ignored(uint32_t c)
{
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
    if (c >= ignored[i].lo && c <= ignored[i].hi) return 1;
  return 0;
}

/* The next character of *p that counts, as a token: '0' to '9' for a
 * digit, ' ' for white space, '-', '/' or '.' for themselves, '#' for any
 * other; 0 at the end. A byte that starts no valid UTF-8 is one '#'. */
static int bsn_tok(const char **p)
{
  const unsigned char *q = (const unsigned char *)*p;

  for (;;) {
    uint32_t c;
    size_t n;
    int d;
    if (!*q) { *p = (const char *)q; return 0; }
    n = kr_utf8_next(q, q + 4, &c);   /* stops at the NUL: not a continuation byte */
    if (!n) { c = 0xFFFD; n = 1; }
    q += n;
    if (c >= 0x80 && is_ignored(c)) continue;
    *p = (const char *)q;
    if ((d = digit_of(c)) >= 0) return '0' + d;
    if (is_space(c)) return ' ';
    if (c == '-' || c == '/' || c == '.') return (int)c;
    return '#';
  }
}

/* At p, where a group of digits starts: the end of the date written there
 * (d-m-yy, dd-mm-yyyy or yyyy-mm-dd, with '-', '/' or '.' twice), or NULL
 * when none is. */
static const char *date_end(const char *p)
{
  int v[3], len[3], sep = 0, t = 0;

  for (int i = 0; i < 3; i++) {
    v[i] = len[i] = 0;
    for (;;) {
      const char *r = p;
      t = bsn_tok(&r);
      if (t < '0' || t > '9') break;
      if (++len[i] > 4) return NULL;
      v[i] = v[i] * 10 + (t - '0');
      p = r;
    }
    if (!len[i]) return NULL;
    if (i == 2) break;
    if ((t != '-' && t != '/' && t != '.') || (sep && t != sep)) return NULL;
    sep = t;
    bsn_tok(&p);
  }
  if (len[0] <= 2 && len[1] <= 2 && (len[2] == 2 || len[2] == 4))
    return v[0] >= 1 && v[0] <= 31 && v[1] >= 1 && v[1] <= 12 &&
           (len[2] == 2 || (v[2] >= 1900 && v[2] <= 2099)) ? p : NULL;
  if (len[0] == 4 && len[1] <= 2 && len[2] <= 2)
    return v[0] >= 1900 && v[0] <= 2099 && v[1] >= 1 && v[1] <= 12 && v[2] >= 1 &&
           v[2] <= 31 ? p : NULL;
  return NULL;
}

int kr_text_has_bsn(const char *s)
{
  const char *p = s, *at, *e;
  char d[9];
  int nd = 0;        /* digits of the number so far; 10 stands for more than 9 */
  int gap = 2;       /* separators since its last digit (2: none yet) */
  int space = 0;     /* the last token was white space */

  {
    /* A BSN has nine digits: plain ASCII text with fewer holds none (most
     * values; text with other bytes may hold other digits: looked at) */
    int digits = 0;
    const unsigned char *q = (const unsigned char *)s;
    for (; *q && *q < 0x80; q++) digits += *q >= '0' && *q <= '9';
    if (!*q && digits < 9) return 0;
  }

  for (;;) {
    int t = bsn_tok((at = p, &p));
    if (t >= '0' && t <= '9') {
      if (gap && (e = date_end(at))) {
        /* a date ends the number before it and starts none */
        if (nd == 9 && kr_elfproef(d)) return 1;
        nd = 0;
        gap = 2;
        space = 0;
        p = e;
        continue;
      }
      if (gap >= 2) {
        if (nd == 9 && kr_elfproef(d)) return 1;
        nd = 0;
      }
      if (nd < 9) d[nd] = (char)t;
      if (nd < 10) nd++;
      gap = 0;
      space = 0;
    } else if (t == ' ') {
      if (!space && gap < 2) gap++;
      space = 1;
    } else if (t) {
      if (gap < 2) gap++;
      space = 0;
    } else {
      return nd == 9 && kr_elfproef(d);
    }
  }
}

int kr_valid_email(const char *s)
{
  const char *at = strchr(s, '@'), *p;
  int dot = 0;

  if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
    return 0;
  for (p = s; p < at; p++)
    if (!isalnum((unsigned char)*p) && !strchr("._%+-'", *p))
      return 0;
  if (!at[1] || at[1] == '.' || at[1] == '-')
    return 0;
  for (p = at + 1; *p; p++) {
    if (*p == '.') {
      if (p[-1] == '.' || !p[1]) return 0;
      dot = 1;
    } else if (!isalnum((unsigned char)*p) && *p != '-') {
      return 0;
    }
  }
  return dot;
}

int kr_norm_phone(const char *in, char out[static 11])
{
  char d[32];
  int n = 0;
  const char *p = in;

  if (strncmp(p, "+31", 3) == 0) { p += 3; d[n++] = '0'; }
  else if (strncmp(p, "0031", 4) == 0) { p += 4; d[n++] = '0'; }
  for (; *p; p++) {
    if (isdigit((unsigned char)*p)) {
      if (n >= 31) return 0;
      d[n++] = *p;
    } else if (!strchr(" -()", *p)) {
      return 0;
    }
  }
  /* (0)20 written after +31: drop the doubled trunk zero. */
  if (n == 11 && d[0] == '0' && d[1] == '0') {
    memmove(d + 1, d + 2, 9);
    n = 10;
  }
  if (n != 10 || d[0] != '0' || d[1] == '0')
    return 0;
  memcpy(out, d, 10);
  out[10] = 0;
  return 1;
}

int kr_norm_postcode(const char *in, char out[static 8])
{
  const char *p = in;
  char l1, l2;

  for (int i = 0; i < 4; i++)
    if (!isdigit((unsigned char)p[i])) return 0;
  if (p[0] == '0') return 0;
  p += 4;
  if (*p == ' ') p++;
  if (!isalpha((unsigned char)p[0]) || !isalpha((unsigned char)p[1]) || p[2])
    return 0;
  l1 = (char)toupper((unsigned char)p[0]);
  l2 = (char)toupper((unsigned char)p[1]);
  /* SA, SD and SS are not issued. */
  if (l1 == 'S' && (l2 == 'A' || l2 == 'D' || l2 == 'S'))
    return 0;
  memcpy(out, in, 4);
  out[4] = ' ';
  out[5] = l1;
  out[6] = l2;
  out[7] = 0;
  return 1;
}

int kr_valid_availability(const char *s)
{
  static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  static const char *const parts[] = {"am", "pm", "ev"};

  if (strlen(s) != 6 || s[3] != '-') return 0;
  for (int i = 0; i < 7; i++)
    if (strncmp(s, days[i], 3) == 0)
      for (int j = 0; j < 3; j++)
        if (strcmp(s + 4, parts[j]) == 0)
          return 1;
  return 0;
}

/*
 * Dutch and English spellings of a time slot, made canonical: "ma-ochtend",
 * "maandag ochtend", "monday-morning" and "Mon-AM" all become "mon-am".
 * 1 when s (lower case) was one of them and out holds the canonical form.
 */
static int slot_norm(const char *s, char out[static 7])
{
  static const char *const days[7][4] = {
    {"mon", "ma", "maandag", "monday"},   {"tue", "di", "dinsdag", "tuesday"},
    {"wed", "wo", "woensdag", "wednesday"}, {"thu", "do", "donderdag", "thursday"},
    {"fri", "vr", "vrijdag", "friday"},   {"sat", "za", "zaterdag", "saturday"},
    {"sun", "zo", "zondag", "sunday"},
  };
  static const char *const parts[3][3] = {
    {"am", "ochtend", "morning"}, {"pm", "middag", "afternoon"}, {"ev", "avond", "evening"},
  };
  const char *sep = strpbrk(s, "- ");
  size_t dl;

  if (!sep) return 0;
  dl = (size_t)(sep - s);
  for (int d = 0; d < 7; d++)
    for (int i = 0; i < 4; i++)
      if (strlen(days[d][i]) == dl && strncmp(s, days[d][i], dl) == 0)
        for (int p = 0; p < 3; p++)
          for (int j = 0; j < 3; j++)
            if (strcmp(sep + 1, parts[p][j]) == 0) {
              snprintf(out, 7, "%s-%s", days[d][0], parts[p][0]);
              return 1;
            }
  return 0;
}

/* A Dutch date, d-m-yyyy (or with '/' or '.'), as yyyy-mm-dd. */
static int date_nl(const char *s, char out[static 11])
{
  int d, m, y, len;
  char a, b, tmp[40];

  if (sscanf(s, "%2d%c%2d%c%4d%n", &d, &a, &m, &b, &y, &len) != 5 || s[len] || a != b ||
      !strchr("-/.", a) || y < 1000 || d < 1 || d > 31 || m < 1 || m > 12)
    return 0;
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
  memcpy(out, tmp, 11);
  return 1;
}

/* YYYY-MM-DD: exactly ten characters, digits where digits go. */
static int date_ok(const char *s)
{
  int y, m, d;
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return 0;
  y = atoi(s);
  m = atoi(s + 5);
  d = atoi(s + 8);
  return y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

int kr_normalise_field(int field, const char *in, char *out, size_t cap,
                       int this_year, const char **why)
{
  const char *s = in, *e;
  size_t n, max = 200;
  int multiline = 0, rc;
  const char *dummy;

  if (!why) why = &dummy;
  *why = NULL;
  while (*s == ' ' || *s == '\t' || *s == '\n') s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
  n = (size_t)(e - s);
  if (field == KR_F_NOTES) { max = 4000; multiline = 1; }
  if (n == 0) { *why = N_("empty value"); return KR_EVALIDATION; }
  if (n > max || n >= cap) { *why = N_("value too long"); return KR_EVALIDATION; }
  if ((rc = text_ok(s, n, multiline, why))) return rc;
  memcpy(out, s, n);
  out[n] = 0;
  if (kr_text_has_bsn(out))
    return KR_EBSN;

  switch (field) {
  case KR_F_EMAIL:
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!kr_valid_email(out)) { *why = N_("not an e-mail address"); return KR_EVALIDATION; }
    break;
  case KR_F_PHONE: {
    char ph[11];
    if (!kr_norm_phone(out, ph)) {
      *why = N_("not a Dutch phone number (10 digits, e.g. 06-12345678 or +31 20 1234567)");
      return KR_EVALIDATION;
    }
    strcpy(out, ph);
    break;
  }
  case KR_F_POSTCODE: {
    char pc[8];
    if (!kr_norm_postcode(out, pc)) { *why = N_("not a Dutch postcode (1234 AB)"); return KR_EVALIDATION; }
    strcpy(out, pc);
    break;
  }
  case KR_F_BIRTH_YEAR: {
    char *end;
    long y = strtol(out, &end, 10);
    if (*end || n != 4 || y < 1900 || y > this_year) {
      *why = N_("not a year of birth (1900 up to this year)");
      return KR_EVALIDATION;
    }
    break;
  }
  case KR_F_VOG_CHECKED_ON: {
    char d[11];
    if (date_nl(out, d)) strcpy(out, d);       /* 14-03-2025 is 2025-03-14 */
    if (!date_ok(out)) {
      *why = N_("not a date (2025-03-14 or 14-03-2025)");
      return KR_EVALIDATION;
    }
    break;
  }
  case KR_F_VOG_MEETS:
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!strcmp(out, "ja")) strcpy(out, "yes");
    else if (!strcmp(out, "nee")) strcpy(out, "no");
    if (strcmp(out, "yes") && strcmp(out, "no")) {
      *why = N_("must be ja or nee (yes or no)");
      return KR_EVALIDATION;
    }
    break;
  case KR_F_AVAILABILITY: {
    char slot[7];
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (slot_norm(out, slot)) strcpy(out, slot);
    if (!kr_valid_availability(out)) {
      *why = N_("not an availability (ma-ochtend, di-middag, ..., zo-avond; or mon-am, tue-pm, "
                "..., sun-ev)");
      return KR_EVALIDATION;
    }
    break;
  }
  case KR_F_SKILLS:
  case KR_F_LANGUAGES:
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
    break;
  default:
    break;
  }
  return 0;
}

int kr__has_bsn(const char *s) { return kr_text_has_bsn(s); }

/* A text an op carries that is not a field value (consent text version,
 * reasons, organisation names): one line, no BSN. empty_ok for the text
 * version, which may be left out. */
static int line_ok(const char *s, int empty_ok, const char **why)
{
  int rc;
  if (!s || (!s[0] && !empty_ok)) { *why = N_("empty text"); return KR_EVALIDATION; }
  if ((rc = kr_text_single_ok(s, strlen(s), why))) return rc;
  return kr_text_has_bsn(s) ? KR_EBSN : 0;
}

int kr_op_values_ok(const kr_op *op, int year, const char **why)
{
  char norm[KR_VALUE_MAX + 1];
  const char *dummy;
  int rc;

  if (!why) why = &dummy;
  *why = NULL;
  switch (op->type) {
  case KR_OP_SET:
    if (!op->value) return 0;                    /* clears the field */
    /* fall through */
  case KR_OP_ADD:
  case KR_OP_REMOVE:
    if ((rc = kr_normalise_field(op->field, op->value, norm, sizeof norm, year, why))) return rc;
    if (strcmp(norm, op->value) != 0) {
      *why = N_("value is not in the form kring stores (not normalised)");
      return KR_EVALIDATION;
    }
    return 0;
  case KR_OP_GRANT:
  case KR_OP_WITHDRAW:
    return line_ok(op->text_version, 1, why);
  case KR_OP_ERASE:
  case KR_OP_EXPEL:
    return line_ok(op->value, 0, why);
  case KR_OP_FOUND:
  case KR_OP_ADMIT:
    return line_ok(op->org, 0, why);
  case KR_OP_PURPOSE:
    if ((rc = line_ok(op->value, 0, why))) return rc;
    return line_ok(op->text_version, 1, why);
  default:
    return 0;                                    /* redacted: only its hash is here */
  }
}

int kr__ops_rules(const kr_op *ops, uint32_t nops, kr_hlc hlc, int own, const char **why)
{
  time_t secs = (time_t)(kr_hlc_ms(hlc) / 1000);
  struct tm tm;
  int rc = 0;

  /* Year of birth: up to the year of the change's own stamp, so that every
   * node decides alike whatever its clock says. */
  gmtime_r(&secs, &tm);
  for (uint32_t i = 0; i < nops && !rc; i++) {
    /* own: a value kr_txn found in normal form passed kr_normalise_field
     * and is its own normal form, what kr_op_values_ok asks; but a year of
     * birth is bounded by the change's stamp, which the txn had not drawn */
    if (own && ops[i].normal && ops[i].field != KR_F_BIRTH_YEAR &&
        (ops[i].type == KR_OP_SET || ops[i].type == KR_OP_ADD || ops[i].type == KR_OP_REMOVE))
      continue;
    rc = kr_op_values_ok(&ops[i], tm.tm_year + 1900, why);
  }
  return rc;
}

int kr__change_rules(const kr_change *c, const char **why)
{
  return kr__ops_rules(c->ops, c->nops, c->hlc, 0, why);
}
