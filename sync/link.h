/*
 * link: one sync session answered from a node. It feeds the session, and
 * answers its events with the node's rules: the peer must be a member (or
 * bring a valid join request, which admits it), batches are applied in
 * order and committed in one transaction each before they are
 * acknowledged, what the peer lacks is read from a second connection's
 * snapshot and sent in batches, and the peer's final vector is recorded.
 * Still no sockets: sync/net.c, the tests and the simulation carry bytes.
 */
#ifndef KR_LINK_H
#define KR_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "sync/session.h"

typedef struct kr_link kr_link;

typedef struct {
  int state;                   /* 0 running, 1 done, -1 failed */
  int err;                     /* failed: a kr_err */
  char reason[300];            /* failed: one line */
  uint8_t peer[KR_NODE_LEN];   /* once the handshake showed it */
  int have_peer;
  int admitted;                /* we admitted the peer from its join request */
  uint64_t to_send;            /* changes the peer lacked at the start */
  uint64_t sent, received;     /* changes in batches each way */
  uint64_t applied, known, skipped;  /* of those received; skipped: origin not a member here */
  uint64_t held;               /* of those received: kept aside, stamped ahead of our clock */
  uint64_t bytes_in, bytes_out;
  uint64_t batches_in, batches_acked;  /* committed here / acknowledged by the peer */
  uint64_t diverged;           /* origins whose history differs from the peer's */
  int64_t peer_skew_ms;        /* the peer's wall clock minus ours, at the handshake */
  int clock_refused;           /* refused: the clocks differ by more than the skew */
} kr_link_info;

/* join: the initiator's join request text, or NULL. now_ms starts the
 * handshake clock. */
int kr_link_new(kr_node *n, int initiator, const char *join, uint64_t now_ms, kr_link **out);
void kr_link_free(kr_link *l);

/* Bytes that arrived; runs the session as far as they allow. */
int kr_link_feed(kr_link *l, const uint8_t *buf, size_t len);
/* The transport closed: a session that is not over fails (KR_ECLOSED). */
void kr_link_closed(kr_link *l, const char *why);
/* The clock: a handshake past its time fails. */
void kr_link_tick(kr_link *l, uint64_t now_ms);

const uint8_t *kr_link_pending(const kr_link *l, size_t *len);
void kr_link_sent(kr_link *l, size_t len);

const kr_link_info *kr_link_info_get(kr_link *l);
/* A span of time for a person: "74 years", "3 days", "3 h 12 min", "12 min 5 s"
 * (English; cli_reason translates it, sync/reason.h). */
void kr_link_span(uint64_t ms, char *out, size_t cap);
/* The first 12 hex digits of a node id, for log lines. */
void kr_link_hex12(const uint8_t *id, char out[13]);
kr_sess *kr_link_session(kr_link *l);

/* Tests and the simulation: fn sees each batch right after its COMMIT and
 * before its ACK is queued (so a crash there loses the ACK, not the data). */
typedef void (*kr_link_commit_fn)(void *ctx, uint64_t batch, const uint8_t *const *chg,
                                  const size_t *len, size_t count);
void kr_link_on_commit(kr_link *l, kr_link_commit_fn fn, void *ctx);

#endif
