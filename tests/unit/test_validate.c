/* test_validate: field rules and the BSN guard. */
#include <string.h>

#include "check.h"
#include "crdt/err.h"
#include "crdt/op.h"
#include "node/validate.h"

/*
 * The BSN guard, both ways. 111222333 and 123456782 pass the elfproef;
 * 111222334 does not. A case is here because it must be refused (a BSN
 * however written) or because it must pass (what a coordinator writes in
 * a note every day and a careless rule would take for a BSN).
 */
static const struct { const char *text; int bsn; } bsn_cases[] = {
  /* refused: the plain forms */
  {"111222333", 1},
  {"bsn 111222333 bekend", 1},
  {"111 222 333", 1},
  {"111.22.2333", 1},
  {"1234.56.782", 1},
  {"123-456-782", 1},
  {"BSN:111222333.", 1},
  /* refused: one separator of any kind between the groups */
  {"111_222_333", 1},
  {"111/222/333", 1},
  {"111  222  333", 1},                                  /* two spaces: one run */
  {"111\t222\t333", 1},
  {"111 \t 222 \t 333", 1},
  {"111\xc2\xa0" "222\xc2\xa0" "333", 1},                 /* NBSP */
  {"111,222,333", 1},
  {"1 1 1 2 2 2 3 3 3", 1},
  {"111\n222\n333", 1},
  {"1a1a1a2a2a2a3a3a3", 1},
  {"nummer 111-222-333, tel 06-12345678", 1},
  /* refused: digits of any script, taken at their value */
  {"\uFF11\uFF11\uFF11\uFF12\uFF12\uFF12\uFF13\uFF13\uFF13", 1},           /* full-width */
  {"\u0661\u0661\u0661\u0662\u0662\u0662\u0663\u0663\u0663", 1},           /* Arabic-Indic */
  {"\u06F1\u06F1\u06F1 \u06F2\u06F2\u06F2 \u06F3\u06F3\u06F3", 1},         /* extended */
  {"\u0967\u0967\u0967\u0968\u0968\u0968\u0969\u0969\u0969", 1},           /* Devanagari */
  {"\U0001D7CF\U0001D7CF\U0001D7CF\U0001D7D0\U0001D7D0\U0001D7D0\U0001D7D1\U0001D7D1\U0001D7D1", 1},
  {"111\u00B2\u00B2\u00B2\u00B3\u00B3\u00B3", 1},                          /* superscript */
  {"\u2460\u2460\u2460\u2461\u2461\u2461\u2462\u2462\u2462", 1},           /* circled */
  {"1\uFF11" "1 2\u0662" "2 333", 1},                                   /* mixed */
  /* refused: invisible characters do not separate */
  {"111\u200B\u200B" "222\u200B\u200B" "333", 1},                         /* zero-width space */
  {"111\u00AD\u00AD" "222 333", 1},                                      /* soft hyphens */
  {"1\uFE0F\u20E3" "1\uFE0F\u20E3" "1\uFE0F\u20E3" "222333", 1},               /* keycaps */
  /* refused: a date does not hide a BSN next to it */
  {"12-03-2024 111222333", 1},
  {"111222333 op 12-03-2024", 1},

  /* passes: not 9 digits, or not the elfproef */
  {"111222334", 0},
  {"1112223330", 0},
  {"11122233", 0},
  {"000000000", 0},
  {"111 222 333 4", 0},
  /* passes: two separators end a number */
  {"111 - 222 - 333", 0},
  {"111, 222, 333", 0},
  {"111\n\n222\n\n333", 0},
  /* passes: phone numbers (10 or 11 digits) */
  {"tel 06-12345678", 0},
  {"06 1234 5671", 0},
  {"+31 6 1234 5671", 0},
  {"+31612345671", 0},
  {"0031 6 12345671", 0},
  {"+31 (0)6 1234 5671", 0},
  {"020-1234567 / 06-12345671", 0},
  /* passes: postcodes, house numbers, IBAN, KvK, amounts, times */
  {"1031 AB", 0},
  {"Kerkstraat 12, 1031 AB Amsterdam", 0},
  {"Kerkstraat 12 1031AB", 0},
  {"NL91 ABNA 0417 1643 00", 0},
  {"NL91ABNA0417164300", 0},
  {"KvK 12345678", 0},
  {"9.00 - 12.00 en 13.00 - 17.30", 0},
  /* passes: a date is a number of its own (120320241 and 202403129 would
   * pass the elfproef) */
  {"geboren 12-03-2024 1 kind", 0},
  {"12-03-2024 1", 0},
  {"12/03/2024 1", 0},
  {"12.03.2024 1", 0},
  {"2024-03-12 9 uur", 0},
  {"1 12-03-2024", 0},
  {"12-03-2024 10:00", 0},
  {"vog 2024-03-12, 12-03-24 1", 0},
};

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
  CHECK(kr_elfproef("123456782"));
  for (size_t i = 0; i < sizeof bsn_cases / sizeof bsn_cases[0]; i++)
    if (kr_text_has_bsn(bsn_cases[i].text) != bsn_cases[i].bsn) {
      check_failures++;
      fprintf(stderr, "bsn case %zu '%s': want %s\n", i, bsn_cases[i].text,
              bsn_cases[i].bsn ? "refused" : "accepted");
    }
  for (size_t i = 0; i < sizeof bsn_cases / sizeof bsn_cases[0]; i++)
    if (bsn_cases[i].bsn)
      CHECK_EQ(kr_normalise_field(KR_F_NOTES, bsn_cases[i].text, out, sizeof out, 2026, &why),
               strchr(bsn_cases[i].text, '\t') ? KR_EVALIDATION : KR_EBSN);
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
  CHECK(!kr_utf8_ok("a\xc2\x9b" "b", 4));        /* C1: the decoder refuses it too */
  CHECK(!kr_utf8_ok("\xc2\x80", 2));
  CHECK(kr_utf8_ok("\xc2\xa0", 2));            /* NBSP, the first after C1 */
  CHECK_EQ(kr_field_code("skill"), KR_F_SKILLS);
  CHECK_EQ(kr_field_code("nonsense"), -1);
  return check_done("test_validate");
}
