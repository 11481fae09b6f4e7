/* test_validate: field rules and the BSN guard. */
#include <string.h>

#include "check.h"
#include "crdt/err.h"
#include "crdt/op.h"
#include "node/validate.h"

/* Text rules: what a single-line field (name) and a multi-line field
 * (notes) accept. */
static const struct { const char *text; int single, multi; } text_cases[] = {
  {"Anna de Vries", 1, 1},
  {"Fatma Y\xc4\xb1lmaz", 1, 1},
  {"\xd8\xb9\xd9\x84\xd9\x8a", 1, 1},                           /* Arabic, right to left */
  {"Anna\u200Bde Vries", 1, 1},                                  /* zero-width space: harmless */
  {"regel een\nregel twee", 0, 1},
  {"contact\nconsent   contact to all: granted", 0, 1},
  {"2024-1\r\n", 0, 0},
  {"a\tb", 0, 0},
  {"a\x01" "b", 0, 0},
  {"a\x1b[31mb", 0, 0},                                         /* ESC: a terminal sequence */
  {"a\x7f" "b", 0, 0},
  {"a\xc2\x85" "b", 0, 0},                                        /* U+0085 NEL */
  {"a\xc2\x9b" "31mb", 0, 0},                                      /* U+009B CSI */
  {"a\xc2\x9f" "b", 0, 0},
  {"a\xc2\xa0" "b", 1, 1},                                        /* NBSP is text */
  {"Anna\u202Egnirts", 0, 0},
  {"a\u202Ab", 0, 0}, {"a\u202Bb", 0, 0}, {"a\u202Cb", 0, 0}, {"a\u202Db", 0, 0},
  {"a\u2066" "b", 0, 0}, {"a\u2067" "b", 0, 0}, {"a\u2068" "b", 0, 0}, {"a\u2069" "b", 0, 0},
  {"a\u200Fb", 1, 1},                                            /* RLM mark: no override */
  {"a\u2028" "b", 0, 0},
  {"a\u2029" "b", 0, 0},
  {"bad \xff utf8", 0, 0},
  {"\xc0\xaf", 0, 0},
};

int main(void)
{
  char out[64];
  const char *why;

  /* 111222333 passes the elfproef, 111222334 does not. */
  CHECK(kr_elfproef("111222333"));
  CHECK(!kr_elfproef("111222334"));
  CHECK(!kr_elfproef("000000000"));
  CHECK(kr_text_has_bsn("bsn 111222333 bekend"));
  CHECK(kr_text_has_bsn("111 222 333"));
  CHECK(kr_text_has_bsn("111.22.2333"));
  CHECK(!kr_text_has_bsn("1112223330"));       /* 10 digits: not a BSN */
  CHECK(!kr_text_has_bsn("111222334"));
  CHECK(!kr_text_has_bsn("tel 06-12345678"));
  CHECK_EQ(kr_normalise_field(KR_F_NOTES, "BSN: 111222333", out, sizeof out, 2026, &why), KR_EBSN);
  CHECK_EQ(kr_normalise_field(KR_F_NAME, "Jan 111222333", out, sizeof out, 2026, &why), KR_EBSN);

  CHECK(kr_valid_email("anna@example.nl"));
  CHECK(kr_valid_email("a.b+c@sub.example.org"));
  CHECK(!kr_valid_email("anna@"));
  CHECK(!kr_valid_email("anna.example.nl"));
  CHECK(!kr_valid_email("anna@localhost"));
  CHECK(!kr_valid_email("a@b@c.nl"));
  CHECK_EQ(kr_normalise_field(KR_F_EMAIL, " Anna@Example.NL ", out, sizeof out, 2026, &why), 0);
  CHECK(strcmp(out, "anna@example.nl") == 0);

  {
    char ph[11];
    CHECK(kr_norm_phone("06-12345678", ph) && strcmp(ph, "0612345678") == 0);
    CHECK(kr_norm_phone("+31 6 1234 5678", ph) && strcmp(ph, "0612345678") == 0);
    CHECK(kr_norm_phone("0031201234567", ph) && strcmp(ph, "0201234567") == 0);
    CHECK(kr_norm_phone("+31 (0)20 123 4567", ph) && strcmp(ph, "0201234567") == 0);
    CHECK(!kr_norm_phone("12345", ph));
    CHECK(!kr_norm_phone("06-1234567x", ph));
    CHECK(!kr_norm_phone("+44 20 7946 0958", ph));
  }
  {
    char pc[8];
    CHECK(kr_norm_postcode("1031ab", pc) && strcmp(pc, "1031 AB") == 0);
    CHECK(kr_norm_postcode("9999 ZZ", pc));
    CHECK(!kr_norm_postcode("0123 AB", pc));
    CHECK(!kr_norm_postcode("1234 SS", pc));
    CHECK(!kr_norm_postcode("12345 AB", pc));
    CHECK(!kr_norm_postcode("1234 A", pc));
  }
  CHECK(kr_valid_availability("mon-am"));
  CHECK(kr_valid_availability("sun-ev"));
  CHECK(!kr_valid_availability("mon-night"));
  CHECK(!kr_valid_availability("xyz-am"));
  CHECK_EQ(kr_normalise_field(KR_F_AVAILABILITY, "Tue-PM", out, sizeof out, 2026, &why), 0);
  CHECK(strcmp(out, "tue-pm") == 0);
  CHECK_EQ(kr_normalise_field(KR_F_BIRTH_YEAR, "1961", out, sizeof out, 2026, &why), 0);
  CHECK_EQ(kr_normalise_field(KR_F_BIRTH_YEAR, "2031", out, sizeof out, 2026, &why), KR_EVALIDATION);
  CHECK_EQ(kr_normalise_field(KR_F_BIRTH_YEAR, "19a1", out, sizeof out, 2026, &why), KR_EVALIDATION);
  CHECK_EQ(kr_normalise_field(KR_F_NAME, "   ", out, sizeof out, 2026, &why), KR_EVALIDATION);
  CHECK_EQ(kr_normalise_field(KR_F_NAME, "two\nlines", out, sizeof out, 2026, &why), KR_EVALIDATION);
  CHECK_EQ(kr_normalise_field(KR_F_NAME, "bad \xff utf8", out, sizeof out, 2026, &why), KR_EVALIDATION);
  for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
    const char *t = text_cases[i].text;
    int single = kr_normalise_field(KR_F_NAME, t, out, sizeof out, 2026, &why), multi;
    if (single) CHECK(why != NULL);
    multi = kr_normalise_field(KR_F_NOTES, t, out, sizeof out, 2026, &why);
    if ((single == 0) != text_cases[i].single || (multi == 0) != text_cases[i].multi) {
      check_failures++;
      fprintf(stderr, "text case %zu: name %s, notes %s; want %s, %s\n", i,
              single ? "refused" : "accepted", multi ? "refused" : "accepted",
              text_cases[i].single ? "accepted" : "refused",
              text_cases[i].multi ? "accepted" : "refused");
    }
    /* the same rules, as functions of the value alone */
    CHECK_EQ(kr_text_single_ok(t, strlen(t), NULL) == 0, text_cases[i].single);
    CHECK_EQ(kr_text_multi_ok(t, strlen(t), &why) == 0, text_cases[i].multi);
  }
  /* notes keep their line breaks; trailing ones go */
  CHECK_EQ(kr_normalise_field(KR_F_NOTES, "een\ntwee\n\n", out, sizeof out, 2026, &why), 0);
  CHECK(strcmp(out, "een\ntwee") == 0);
  CHECK_EQ(kr_normalise_field(KR_F_CITY, "Zaandam\u202E", out, sizeof out, 2026, &why), KR_EVALIDATION);
  CHECK(why && strstr(why, "text-direction"));
  CHECK_EQ(kr_normalise_field(KR_F_CITY, "Zaan\ndam", out, sizeof out, 2026, &why), KR_EVALIDATION);
  CHECK(why && strstr(why, "one line"));
  CHECK_EQ(kr_normalise_field(KR_F_VOG_MEETS, "Yes", out, sizeof out, 2026, &why), 0);
  CHECK(strcmp(out, "yes") == 0);
  CHECK_EQ(kr_normalise_field(KR_F_VOG_CHECKED_ON, "2026-13-01", out, sizeof out, 2026, &why), KR_EVALIDATION);
  CHECK(kr_utf8_ok("Yılmaz", strlen("Yılmaz")));
  CHECK(!kr_utf8_ok("\xc0\xaf", 2));           /* overlong */
  CHECK(!kr_utf8_ok("\xed\xa0\x80", 3));       /* surrogate */
  CHECK_EQ(kr_field_code("skill"), KR_F_SKILLS);
  CHECK_EQ(kr_field_code("nonsense"), -1);
  return check_done("test_validate");
}
