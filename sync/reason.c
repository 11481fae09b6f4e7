/* reason: the formats of sync/'s reasons, for a translation (see reason.h). */
#include <stddef.h>

#include "node/i18n.h"
#include "sync/reason.h"

const char *const kr_sync_reasons[] = {
  /* sync/session.c */
  N_("cannot queue output: %s"),
  N_("more input queued than %u bytes"),
  N_("handshake not finished within %d s"),
  N_("handshake failed: %s"),
  N_("handshake failed: %s (another network, or not a kring node)"),
  N_("handshake: %s"),
  N_("handshake payload refused: %s"),
  N_("frame %d before the peer's vector"),
  N_("peer's vector: %s"),
  N_("batch %llu larger than %u bytes or %u changes"),
  N_("batch: %s"),
  N_("batch %llu: wrong number or count"),
  N_("peer's final vector: %s"),
  N_("peer closed: %s"),
  N_("unknown frame type %d"),
  N_("frame %d out of order or malformed"),
  N_("frame of %zu bytes, more than %u"),
  /* sync/link.c */
  N_("join request refused: %s"),
  N_("reading the members: %s"),
  N_("cannot admit: %s"),
  N_("%llu years"),
  N_("%llu days"),
  N_("%llu h %llu min"),
  N_("%llu min %llu s"),
  N_("%llu s"),
  N_("node %s"),
  N_("this node's clock is %s ahead of %s's: set the clock right (kring syncs "
     "only while clocks agree within %u minutes)"),
  N_("this node's clock is %s behind %s's: set the clock right (kring syncs "
     "only while clocks agree within %u minutes)"),
  N_("the admission of %s is void: its invite had already admitted %s. "
     "Ask a member for a new invite and join with it"),
  N_("node %s was removed from this network"),
  N_("node %s is not a member of this network"),
  N_("reading our vector: %s"),
  N_("batch %llu refused, nothing of it stored: change %zu (origin %s, seq %llu): %s"),
  N_("batch %llu refused, nothing of it stored: change %zu: %s"),
  N_("batch %llu refused, nothing of it stored: %s"),
  /* sync/net.c */
  N_("kring serve already has %d sessions; it will sync later"),
  N_("connection lost: %s"),
  N_("cannot connect to %s: %s"),
  N_("cannot find %s: %s"),
  N_("'%s' is not an address (HOST:PORT)"),
  /* libuv's words (uv.h, UV_ERRNO_MAP) */
  N_("connection refused"),
  N_("connection timed out"),
  N_("connection reset by peer"),
  N_("host is unreachable"),
  N_("network is unreachable"),
  N_("network is down"),
  N_("unknown node or service"),
  N_("temporary failure"),
  N_("permanent failure"),
  N_("no address"),
  N_("address not available"),
  N_("software caused connection abort"),
  N_("broken pipe"),
  N_("operation canceled"),
  N_("permission denied"),
  NULL,
};
