/* test_merge: stamp order and the consent register's rules. */
#include <string.h>

#include "check.h"
#include "crdt/merge.h"

static kr_consent_entry entry(int tagbyte, kr_hlc hlc, int grant, const char *until,
                              const uint8_t *obs, uint32_t nobs)
{
  kr_consent_entry e;
  memset(&e, 0, sizeof e);
  memset(e.tag, tagbyte, sizeof e.tag);
  e.stamp.hlc = hlc;
  e.is_grant = grant;
  e.until = until;
  e.observed = obs;
  e.nobserved = nobs;
  return e;
}

int main(void)
{
  kr_stamp a = {0}, b = {0};
  size_t best;
  uint8_t w1[16], w12[32];
  kr_consent_entry e[4];

  a.hlc = b.hlc = 5;
  CHECK_EQ(kr_stamp_cmp(&a, &b), 0);
  b.origin[0] = 1;
  CHECK(kr_stamp_cmp(&a, &b) < 0);          /* equal time: origin decides */
  a.hlc = 6;
  CHECK(kr_stamp_cmp(&a, &b) > 0);          /* time first */
  a.hlc = 5;
  memcpy(a.origin, b.origin, 32);
  a.idx = 1;
  CHECK(kr_stamp_cmp(&a, &b) > 0);          /* then position in the change */

  /* Nothing recorded: none. */
  CHECK_EQ(kr_consent_resolve(e, 0, "2026-01-01", &best), KR_CONSENT_NONE);
  CHECK_EQ(best, (size_t)-1);
  /* One grant: granted. */
  e[0] = entry(1, 10, 1, "", NULL, 0);
  CHECK_EQ(kr_consent_resolve(e, 1, "2026-01-01", &best), KR_CONSENT_GRANTED);
  CHECK_EQ(best, 0);
  /* A withdrawal the grant did not observe wins, even if the grant is later. */
  memset(w1, 2, 16);
  e[1] = entry(2, 5, 0, "", NULL, 0);
  CHECK_EQ(kr_consent_resolve(e, 2, "2026-01-01", &best), KR_CONSENT_WITHDRAWN);
  /* A grant that observed the withdrawal is in force. */
  e[2] = entry(3, 20, 1, "", w1, 1);
  CHECK_EQ(kr_consent_resolve(e, 3, "2026-01-01", &best), KR_CONSENT_GRANTED);
  CHECK_EQ(best, 2);
  /* Order does not matter. */
  {
    kr_consent_entry r[3] = {e[2], e[0], e[1]};
    CHECK_EQ(kr_consent_resolve(r, 3, "2026-01-01", &best), KR_CONSENT_GRANTED);
    CHECK_EQ(best, 0);
  }
  /* A second, concurrent withdrawal disables it again. */
  e[3] = entry(4, 15, 0, "", NULL, 0);
  CHECK_EQ(kr_consent_resolve(e, 4, "2026-01-01", &best), KR_CONSENT_WITHDRAWN);
  /* ... unless the grant observed both. */
  memset(w12, 2, 16);
  memset(w12 + 16, 4, 16);
  e[2] = entry(3, 20, 1, "", w12, 2);
  CHECK_EQ(kr_consent_resolve(e, 4, "2026-01-01", &best), KR_CONSENT_GRANTED);
  /* The latest grant in force sets the terms; past its end date it reads
   * as expired (the end date is the last valid day). */
  e[0] = entry(1, 10, 1, "", NULL, 0);
  e[1] = entry(5, 30, 1, "2026-03-31", NULL, 0);
  CHECK_EQ(kr_consent_resolve(e, 2, "2026-03-31", &best), KR_CONSENT_GRANTED);
  CHECK_EQ(best, 1);
  CHECK_EQ(kr_consent_resolve(e, 2, "2026-04-01", &best), KR_CONSENT_EXPIRED);
  CHECK(strcmp(kr_consent_state_name(KR_CONSENT_EXPIRED), "expired") == 0);
  return check_done("test_merge");
}
