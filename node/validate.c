/* validate: field rules, normalisation and the BSN guard (see validate.h). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/err.h"
#include "crdt/op.h"
#include "node/internal.h"
#include "node/validate.h"

/* ---- text ---------------------------------------------------------------- */

/* The code point of the valid UTF-8 sequence at p (before end) into *cp:
 * its length in bytes, or 0 when no valid sequence starts at p (overlong,
 * surrogate, beyond U+10FFFF, cut short). The rules of kr_utf8_ok. */
static size_t utf8_next(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
  unsigned c = *p;
  size_t n;
  uint32_t v;

  if (c < 0x80) { *cp = c; return 1; }
  if (c >= 0xc2 && c <= 0xdf) { n = 1; v = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 2; v = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 3; v = c & 0x07; }
  else return 0;
  if ((size_t)(end - p) < n + 1) return 0;
  for (size_t i = 1; i <= n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    v = (v << 6) | (p[i] & 0x3f);
  }
  if ((n == 2 && v < 0x800) || (n == 3 && (v < 0x10000 || v > 0x10ffff)) ||
      (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return n + 1;
}

static const char why_utf8[] = "not valid text (UTF-8)";
static const char why_line[] = "has a line break, and this field holds one line of text";
static const char why_sep[] =
  "has a Unicode line or paragraph separator (U+2028, U+2029); use an ordinary line break";
static const char why_ctrl[] =
  "has an invisible control character (a tab, or one copied in from another program); "
  "type the text again without it";
static const char why_bidi[] =
  "has an invisible text-direction character (U+202A to U+202E, U+2066 to U+2069), which "
  "can make text show differently from what is stored; type the text again without it";

static int text_ok(const char *s, size_t len, int multiline, const char **why)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  const char *dummy;

  if (!why) why = &dummy;
  *why = NULL;
  while (p < end) {
    uint32_t c;
    size_t n = utf8_next(p, end, &c);
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

int kr_text_has_bsn(const char *s)
{
  const char *p = s;

  while (*p) {
    char d[16];
    int nd = 0;
    if (!isdigit((unsigned char)*p) || (p > s && isdigit((unsigned char)p[-1]))) {
      p++;
      continue;
    }
    /* A run of digits with single separators between them. */
    while (*p) {
      if (isdigit((unsigned char)*p)) {
        if (nd < 15) d[nd] = *p;
        nd++;
        p++;
      } else if ((*p == ' ' || *p == '.' || *p == '-') && isdigit((unsigned char)p[1])) {
        p++;
      } else {
        break;
      }
    }
    if (nd == 9 && kr_elfproef(d))
      return 1;
  }
  return 0;
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

static int date_ok(const char *s)
{
  int y, m, d;
  char tail;
  if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
    return 0;
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
  while (*s == ' ' || *s == '\t') s++;
  e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
  n = (size_t)(e - s);
  if (field == KR_F_NOTES) { max = 4000; multiline = 1; }
  if (n == 0) { *why = "empty value"; return KR_EVALIDATION; }
  if (n > max || n >= cap) { *why = "value too long"; return KR_EVALIDATION; }
  if ((rc = text_ok(s, n, multiline, why))) return rc;
  memcpy(out, s, n);
  out[n] = 0;
  if (kr_text_has_bsn(out))
    return KR_EBSN;

  switch (field) {
  case KR_F_EMAIL:
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!kr_valid_email(out)) { *why = "not an e-mail address"; return KR_EVALIDATION; }
    break;
  case KR_F_PHONE: {
    char ph[11];
    if (!kr_norm_phone(out, ph)) {
      *why = "not a Dutch phone number (10 digits, e.g. 06-12345678 or +31 20 1234567)";
      return KR_EVALIDATION;
    }
    strcpy(out, ph);
    break;
  }
  case KR_F_POSTCODE: {
    char pc[8];
    if (!kr_norm_postcode(out, pc)) { *why = "not a Dutch postcode (1234 AB)"; return KR_EVALIDATION; }
    strcpy(out, pc);
    break;
  }
  case KR_F_BIRTH_YEAR: {
    char *end;
    long y = strtol(out, &end, 10);
    if (*end || n != 4 || y < 1900 || y > this_year) {
      *why = "not a year of birth (1900 up to this year)";
      return KR_EVALIDATION;
    }
    break;
  }
  case KR_F_VOG_CHECKED_ON:
    if (!date_ok(out)) { *why = "not a date (YYYY-MM-DD)"; return KR_EVALIDATION; }
    break;
  case KR_F_VOG_MEETS:
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (strcmp(out, "yes") && strcmp(out, "no")) { *why = "must be yes or no"; return KR_EVALIDATION; }
    break;
  case KR_F_AVAILABILITY:
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!kr_valid_availability(out)) {
      *why = "not an availability (mon-am, tue-pm, ..., sun-ev)";
      return KR_EVALIDATION;
    }
    break;
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
