/*
 * net: sync sessions over TCP with libuv. It only carries bytes between
 * sockets and sync/link.c, keeps the clocks (handshake, idle), and for
 * `kring serve` listens, schedules syncs with the address book, notices
 * local changes, and backs off from unreachable peers. It also keeps
 * connections that have not proved to be a member from crowding out the
 * members: limits per address and in all, a deadline for the first
 * message, a handshake rate per address, and one log line per address per
 * minute about them.
 */
#ifndef KR_NET_H
#define KR_NET_H

#include <stdint.h>

#include "node/node.h"
#include "sync/link.h"

#define KR_DEFAULT_PORT     7733
#define KR_IDLE_MS          60000      /* a session with no bytes either way this long fails */
#define KR_SERVE_INTERVAL_S 60         /* default time between scheduled syncs with a peer */
#define KR_BACKOFF_MAX_S    300        /* longest wait before retrying an unreachable peer */
#define KR_SERVE_MAX_CONNS  64         /* sessions: handshake finished, or our own dial */

/*
 * Connections that have not finished the handshake (anyone may open them)
 * never take a session's place: kring serve keeps them apart, in a pool
 * of their own with these limits (docs/protocol.md, "S4. Limits").
 */
#define KR_SERVE_MAX_PENDING  256      /* connections still in the handshake, in all */
#define KR_SERVE_HOST_PENDING 8        /* of those from one address (IPv6: one /64) */
#define KR_SERVE_FIRST_MS     3000     /* handshake message 1 must be in within this */
#define KR_SERVE_HS_BURST     10       /* handshakes one address may start at once, */
#define KR_SERVE_HS_PER_S     2        /* then this many a second */
#define KR_SERVE_LOG_S        60       /* about them, one log line per address per this */
#define KR_SERVE_HOSTS        4096     /* addresses remembered for the limits above */
#define KR_SERVE_ACCEPTS      32       /* connections accepted per turn of the event loop */

/* One line for the log: per session, and about connections that did not
 * finish the handshake at most one per address per KR_SERVE_LOG_S. */
typedef void (*kr_net_log_fn)(void *ctx, const char *line);

typedef struct {
  const char *name;            /* address-book name, or NULL */
  const char *addr;            /* HOST:PORT (PORT defaults to KR_DEFAULT_PORT) */
  kr_link_info info;           /* OUT */
  double seconds;              /* OUT: wall time of the session */
} kr_net_target;

/* Split "HOST:PORT", "[v6]:PORT" or "HOST" into host and port. */
int kr_net_parse_addr(const char *addr, char *host, size_t cap, int *port);

/*
 * Sync with every target at once and return when all sessions have ended;
 * join (may be NULL) is sent inside each handshake. Records outcomes of
 * named targets in the address book. Returns how many failed.
 */
int kr_net_sync(kr_node *n, kr_net_target *t, size_t count, const char *join,
                kr_net_log_fn log, void *ctx);

typedef struct {
  const char *listen;          /* HOST:PORT */
  unsigned interval_s;         /* between scheduled syncs with each peer */
  kr_net_log_fn log;
  void *ctx;
  void (*ready)(void *ctx, int port);   /* called once listening (may be NULL) */
} kr_serve_opts;

/* Serve until SIGINT or SIGTERM. 0 on a clean stop. */
int kr_net_serve(kr_node *n, const kr_serve_opts *o);

#endif
