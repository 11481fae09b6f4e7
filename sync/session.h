/*
 * session: one sync session between two nodes as a state machine fed with
 * bytes. It knows nothing of sockets, files or SQLite: the caller feeds it
 * what arrived (kr_sess_feed), takes what to send (kr_sess_pending), and
 * answers the events it raises (kr_sess_poll): who the peer is, the peer's
 * version vector, a batch of changes to apply, an acknowledgement. sync/
 * link.c answers them from a node; tests and the simulation may answer
 * them from anything. docs/protocol.md gives every byte.
 *
 *   1. Noise_XX handshake (sync/noise.h), each message behind a 2-byte
 *      big-endian length. The prologue is "kring-sync-6" || network id.
 *      Payloads: responder [version, node id, wall clock ms]; initiator
 *      [version, node id, join request or nil, wall clock ms]. The node
 *      id's X25519 form must be the static key the handshake
 *      authenticated.
 *   2. Transport messages (2-byte length, at most 65535 bytes, ChaChaPoly)
 *      carry a stream of frames: u8 type | u32 length | body.
 *   3. Each side sends VEC (its vector and the heads: a short hash of the
 *      change at each entry, so that two histories of one origin show),
 *      then its batches: CHG frames and a
 *      BATCH frame that closes them (at most KR_SYNC_BATCH_MAX bytes of
 *      changes), at most KR_SYNC_WINDOW unacknowledged; then DONE. The
 *      receiver applies each batch in one transaction and answers ACK;
 *      after the peer's DONE it answers END with its vector. The session
 *      is over when both sides have sent DONE and END and every batch is
 *      acknowledged.
 * Anything else closes it: a frame out of order or too large, a failed
 * MAC, a batch over the limit, a handshake past KR_SYNC_HANDSHAKE_MS.
 */
#ifndef KR_SESSION_H
#define KR_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "crdt/change.h"
#include "crdt/op.h"
#include "crdt/vv.h"
#include "sync/noise.h"

#define KR_SYNC_VERSION      3
#define KR_SYNC_PROLOGUE     "kring-sync-6"
#define KR_SYNC_BATCH_MAX    (1u << 20)     /* bytes of changes in one batch */
#define KR_SYNC_BATCH_COUNT  65536u         /* changes in one batch */
#define KR_SYNC_FRAME_MAX    (KR_CHANGE_MAX + 64)  /* body of one frame */
#define KR_SYNC_WINDOW       2              /* batches sent and not yet acknowledged */
#define KR_SYNC_HANDSHAKE_MS 10000
#define KR_SYNC_REKEY_EVERY  (1ull << 20)   /* transport messages between rekeys */
#define KR_SYNC_JOIN_MAX     4096           /* bytes of a join request in a handshake */
#define KR_SYNC_REASON_MAX   200            /* bytes of an ERR frame's text */
#define KR_SYNC_HEAD_LEN     8              /* bytes of one head in a VEC frame */

enum { KR_FRAME_VEC = 1, KR_FRAME_CHG, KR_FRAME_BATCH, KR_FRAME_ACK, KR_FRAME_DONE,
       KR_FRAME_END, KR_FRAME_ERR };

typedef enum {
  KR_SEV_NONE = 0,   /* nothing until more bytes arrive (or an answer is given) */
  KR_SEV_PEER,       /* handshake done: peer, join. Answer accept or refuse. */
  KR_SEV_VECTOR,     /* the peer's vector: start sending what it lacks */
  KR_SEV_BATCH,      /* changes to apply in one transaction: answer applied or fail */
  KR_SEV_ACK,        /* the peer committed one of our batches */
  KR_SEV_DRAINED,    /* the peer sent all it had for us: answer send_end */
  KR_SEV_END,        /* the peer's vector after all we sent */
  KR_SEV_DONE,       /* finished cleanly: send what is pending, then close */
  KR_SEV_FAILED      /* err and reason say why: send what is pending, then close */
} kr_sess_event_type;

typedef struct {
  kr_sess_event_type type;
  const uint8_t *peer;          /* PEER: its node id (Ed25519) */
  const char *join;             /* PEER: its join request, or NULL */
  uint64_t peer_clock_ms;       /* PEER: its wall clock when it wrote its payload */
  const kr_vv *vector;          /* VECTOR, END */
  const uint8_t *heads;         /* VECTOR: KR_SYNC_HEAD_LEN per vector entry, or NULL */
  const uint8_t *const *chg;    /* BATCH: count changes */
  const size_t *len;
  size_t count;
  uint64_t batch;               /* BATCH, ACK: its number (from 1) */
  uint32_t applied, known;      /* ACK: what the peer made of it */
  int err;                      /* FAILED: a kr_err */
  const char *reason;           /* FAILED: one line for the log */
} kr_sess_event;

typedef struct {
  uint64_t bytes_in, bytes_out;         /* on the wire */
  uint64_t changes_in, changes_out;     /* in batches received / sent */
  uint64_t applied_in, known_in;        /* what we made of those received */
  uint64_t applied_out;                 /* what the peer said it applied */
  uint64_t batches_in, batches_out, batches_acked;
} kr_sess_stats;

typedef struct kr_sess kr_sess;

/*
 * A session for the node whose Ed25519 secret key is sk, in the network
 * network. The initiator opens the connection; join (initiator only, may
 * be NULL) is a join request text it sends inside the handshake. now_ms
 * starts the handshake clock. The first handshake message is pending at
 * once on the initiator's side.
 */
int kr_sess_new(int initiator, const uint8_t sk[static KR_SK_LEN],
                const uint8_t network[static KR_NETWORK_LEN], const char *join, uint64_t now_ms,
                kr_sess **out);
void kr_sess_free(kr_sess *s);
/* Tests: rekey after every this many transport messages each way. */
void kr__sess_rekey_every(kr_sess *s, uint64_t every);
/* Fuzzing: skip the handshake (a zero key for what we send) and take len
 * bytes as the decrypted frame stream. */
int kr__sess_plain(kr_sess *s, const uint8_t *buf, size_t len);
/* Tests and fuzzing: send one raw frame, unchecked (as a hostile peer). */
int kr__sess_frame(kr_sess *s, int type, const void *body, size_t len);

/* Bytes that arrived (any chunking). Nothing is parsed until kr_sess_poll. */
int kr_sess_feed(kr_sess *s, const uint8_t *buf, size_t len);
/* The next event, parsing what was fed as far as it can. */
kr_sess_event_type kr_sess_poll(kr_sess *s, kr_sess_event *ev);
/* The handshake clock: fails the session when the handshake is late. */
void kr_sess_tick(kr_sess *s, uint64_t now_ms);

/* Bytes to send: *len of them at the returned pointer; then say how many
 * went out with kr_sess_sent. */
const uint8_t *kr_sess_pending(const kr_sess *s, size_t *len);
void kr_sess_sent(kr_sess *s, size_t len);

/* Answers to PEER: accept with our vector and its heads (NULL: none; see
 * kr_node_heads), or refuse (the peer is told why in an ERR frame when
 * the channel allows it). */
int kr_sess_accept(kr_sess *s, const kr_vv *ours, const uint8_t *heads);
void kr_sess_refuse(kr_sess *s, int err, const char *reason);
/* As refuse, but the initiator first finishes the handshake, so that the
 * responder learns its clock and hears why in an ERR frame (clocks too far
 * apart: each side says so in its own words). */
void kr_sess_refuse_told(kr_sess *s, int err, const char *reason);
/* Answers to BATCH. fail closes the session; nothing of it may be kept. */
int kr_sess_applied(kr_sess *s, uint32_t applied, uint32_t known);
void kr_sess_fail(kr_sess *s, int err, const char *reason);
/* Answer to DRAINED: our vector now. */
int kr_sess_send_end(kr_sess *s, const kr_vv *ours);

/* Sending: whether a batch may start now (the peer's vector is known, the
 * window has room, DONE not sent); one change into the open batch
 * (KR_ETOOBIG past the batch limits); close the batch; nothing more. */
int kr_sess_can_send(const kr_sess *s);
int kr_sess_send_change(kr_sess *s, const uint8_t *buf, size_t len);
int kr_sess_end_batch(kr_sess *s);
int kr_sess_send_done(kr_sess *s);
/* Bytes of changes in the open batch. */
size_t kr_sess_batch_bytes(const kr_sess *s);

int kr_sess_is_over(const kr_sess *s);
const kr_sess_stats *kr_sess_stats_get(const kr_sess *s);
/* The peer's node id once the handshake has shown it, else NULL. */
const uint8_t *kr_sess_peer(const kr_sess *s);

#endif
