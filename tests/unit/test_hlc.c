/* test_hlc: the hybrid logical clock. */
#include "check.h"
#include "crdt/hlc.h"

int main(void)
{
  kr_hlc c = 0, a, b;

  /* Ticks follow the wall clock and are strictly increasing. */
  a = kr_hlc_tick(&c, 1000);
  CHECK_EQ(kr_hlc_ms(a), 1000);
  CHECK_EQ(kr_hlc_ctr(a), 0);
  b = kr_hlc_tick(&c, 1000);
  CHECK(b > a);
  CHECK_EQ(kr_hlc_ms(b), 1000);
  CHECK_EQ(kr_hlc_ctr(b), 1);
  /* A wall clock that steps back does not move the clock back. */
  a = kr_hlc_tick(&c, 500);
  CHECK(a > b);
  /* A full counter rolls into the next millisecond. */
  c = kr_hlc_make(2000, 0xffff);
  a = kr_hlc_tick(&c, 2000);
  CHECK_EQ(kr_hlc_ms(a), 2001);
  CHECK_EQ(kr_hlc_ctr(a), 0);

  /* A remote clock within the skew is adopted. */
  c = kr_hlc_make(10000, 0);
  kr_hlc_recv(&c, kr_hlc_make(10500, 3), 10000, 1000);
  CHECK_EQ(c, kr_hlc_make(10500, 3));
  a = kr_hlc_tick(&c, 10000);
  CHECK(a > kr_hlc_make(10500, 3));
  /* A remote clock a year ahead drags ours no further than the skew. */
  c = kr_hlc_make(10000, 0);
  kr_hlc_recv(&c, kr_hlc_make(10000 + 365ull * 86400000, 0), 10000, 1000);
  CHECK(kr_hlc_ms(c) <= 11000);
  /* An older remote clock leaves ours alone. */
  c = kr_hlc_make(10000, 5);
  kr_hlc_recv(&c, kr_hlc_make(9000, 0), 10000, 1000);
  CHECK_EQ(c, kr_hlc_make(10000, 5));
  /* The 48-bit limit holds. */
  c = 0;
  a = kr_hlc_tick(&c, UINT64_MAX);
  CHECK_EQ(kr_hlc_ms(a), KR_HLC_MS_MAX);
  return check_done("test_hlc");
}
