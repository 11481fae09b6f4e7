/* merge: stamp order and consent resolution (see merge.h, docs/crdt.md). */
#include <string.h>

#include "crdt/merge.h"

int kr_stamp_cmp(const kr_stamp *a, const kr_stamp *b)
{
  int c;

  if (a->hlc != b->hlc)
    return a->hlc < b->hlc ? -1 : 1;
  if ((c = memcmp(a->origin, b->origin, KR_NODE_LEN)) != 0)
    return c < 0 ? -1 : 1;
  if (a->idx != b->idx)
    return a->idx < b->idx ? -1 : 1;
  return 0;
}

const char *kr_consent_state_name(kr_consent_state s)
{
  switch (s) {
  case KR_CONSENT_GRANTED: return "granted";
  case KR_CONSENT_WITHDRAWN: return "withdrawn";
  case KR_CONSENT_EXPIRED: return "expired";
  default: return "none";
  }
}

static int observed(const kr_consent_entry *g, const uint8_t tag[KR_TAG_LEN])
{
  for (uint32_t i = 0; i < g->nobserved; i++)
    if (memcmp(g->observed + (size_t)i * KR_TAG_LEN, tag, KR_TAG_LEN) == 0)
      return 1;
  return 0;
}

kr_consent_state kr_consent_resolve(const kr_consent_entry *e, size_t n,
                                    const char *today, size_t *in_force)
{
  size_t best = (size_t)-1;
  int any_withdrawal = 0;

  for (size_t i = 0; i < n; i++) {
    int ok = 1;
    if (!e[i].is_grant) {
      any_withdrawal = 1;
      continue;
    }
    /* Disable wins: every withdrawal must be in this grant's past. */
    for (size_t j = 0; j < n && ok; j++)
      if (!e[j].is_grant && !observed(&e[i], e[j].tag))
        ok = 0;
    if (ok && (best == (size_t)-1 || kr_stamp_cmp(&e[i].stamp, &e[best].stamp) > 0))
      best = i;
  }
  *in_force = best;
  if (best == (size_t)-1)
    return any_withdrawal ? KR_CONSENT_WITHDRAWN : KR_CONSENT_NONE;
  if (e[best].until && e[best].until[0] && strcmp(e[best].until, today) < 0)
    return KR_CONSENT_EXPIRED;
  return KR_CONSENT_GRANTED;
}
