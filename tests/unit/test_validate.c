/* test_validate: field rules and the BSN guard. */
#include <string.h>

#include "check.h"
#include "crdt/err.h"
#include "crdt/op.h"
#include "node/validate.h"

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
