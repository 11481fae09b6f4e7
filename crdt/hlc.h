/*
 * hlc: hybrid logical clock. A timestamp is 64 bits: the upper 48 are
 * milliseconds since the Unix epoch, the lower 16 a counter that orders
 * events within one millisecond. The wall clock is passed in: crdt/ reads
 * no clock. A remote timestamp far in the future is accepted (its change is
 * signed and cannot be altered) but never moves the local clock further
 * than max_skew_ms past the local wall clock.
 */
#ifndef KR_HLC_H
#define KR_HLC_H

#include <stdint.h>

typedef uint64_t kr_hlc;

#define KR_HLC_MS_MAX  ((UINT64_C(1) << 48) - 1)
#define KR_HLC_CTR_MAX 0xffffu
/* Default bound on how far a remote clock may drag ours: 10 minutes. */
#define KR_HLC_MAX_SKEW_MS (10u * 60u * 1000u)

static inline kr_hlc kr_hlc_make(uint64_t ms, uint16_t ctr)
{
  return (ms << 16) | ctr;
}
static inline uint64_t kr_hlc_ms(kr_hlc t) { return t >> 16; }
static inline uint16_t kr_hlc_ctr(kr_hlc t) { return (uint16_t)(t & 0xffff); }

/*
 * A timestamp for a local event. `clock` is the node's last timestamp
 * (IN/OUT); wall_ms the current wall clock. The result is strictly greater
 * than *clock.
 */
kr_hlc kr_hlc_tick(kr_hlc *clock, uint64_t wall_ms);

/*
 * Merge a received timestamp into the local clock (IN/OUT) so that later
 * local events order after it, but never past wall_ms + max_skew_ms.
 * Returns the new local clock value.
 */
kr_hlc kr_hlc_recv(kr_hlc *clock, kr_hlc remote, uint64_t wall_ms,
                   uint64_t max_skew_ms);

#endif
