/* hlc: hybrid logical clock arithmetic (see hlc.h). */
#include "crdt/hlc.h"

kr_hlc kr_hlc_tick(kr_hlc *clock, uint64_t wall_ms)
{
  kr_hlc now;

  if (wall_ms > KR_HLC_MS_MAX)
    wall_ms = KR_HLC_MS_MAX;
  now = kr_hlc_make(wall_ms, 0);
  if (now <= *clock) {
    /* Same or earlier millisecond: count on. A full counter rolls into the
     * next millisecond, which keeps the clock strictly increasing. */
    now = *clock + 1;
  }
  *clock = now;
  return now;
}

kr_hlc kr_hlc_recv(kr_hlc *clock, kr_hlc remote, uint64_t wall_ms,
                   uint64_t max_skew_ms)
{
  uint64_t limit_ms = wall_ms + max_skew_ms;
  kr_hlc cap;

  if (limit_ms > KR_HLC_MS_MAX)
    limit_ms = KR_HLC_MS_MAX;
  cap = kr_hlc_make(limit_ms, KR_HLC_CTR_MAX);
  if (remote > cap)
    remote = cap;
  if (remote > *clock)
    *clock = remote;
  return *clock;
}
