/*
 * net: sync sessions over TCP with libuv. It only carries bytes between
 * sockets and sync/link.c, keeps the clocks (handshake, idle), and for
 * `kring serve` listens, schedules syncs with the address book, notices
 * local changes, and backs off from unreachable peers.
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
#define KR_SERVE_MAX_CONNS  64         /* sessions at once */

/* One line per session for the log. */
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
