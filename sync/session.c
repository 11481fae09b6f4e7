/* session: the sync session state machine (see session.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "crdt/err.h"
#include "crdt/mp.h"
#include "node/i18n.h"
#include "sync/session.h"

#define IN_MAX   (4u << 20)          /* bytes fed and not yet parsed */
#define OUT_MAX  (16u << 20)         /* bytes waiting to be sent */
#define RX_MAX   (KR_SYNC_FRAME_MAX + 5 + KR_NOISE_MSG_MAX)
#define HDR      5                   /* u8 type | u32 length */

typedef enum { ST_HANDSHAKE, ST_VERDICT, ST_OPEN, ST_DONE, ST_FAILED } sess_state;

struct kr_sess {
  int initiator;
  sess_state state;
  kr_noise_hs hs;
  kr_noise_cipher tx, rx;
  uint64_t rekey_every, tx_msgs, rx_msgs;
  uint8_t id[KR_NODE_LEN], peer[KR_NODE_LEN];
  int have_peer;
  char *join_out;
  char join_in[KR_SYNC_JOIN_MAX + 1];
  int has_join_in;
  uint64_t start_ms, now_ms;         /* the handshake clock; the clock now */
  uint64_t peer_clock;               /* the peer's wall clock, from its payload */

  kr_buf in;  size_t in_off;         /* wire bytes fed */
  kr_buf rxp; size_t rx_off;         /* decrypted frame stream */
  kr_buf out; size_t out_off;        /* wire bytes to send */
  kr_buf stage;                      /* frames not yet sealed */

  /* receiving */
  int got_vec, got_done, got_end, awaiting;   /* awaiting: an answer to an event */
  kr_vv peer_vec, end_vec;
  uint8_t *peer_heads;          /* KR_SYNC_HEAD_LEN per peer_vec entry, or NULL */
  kr_buf batch;
  size_t nchg, cap;
  const uint8_t **chg;
  size_t *off, *len;
  uint64_t batch_in;                 /* the number the next batch must carry */

  /* sending */
  int sent_vec, sent_done, sent_end, batch_open;
  uint64_t batch_out, acked;         /* batches closed / acknowledged */
  size_t open_bytes;
  uint32_t open_count;

  int err, reported, done_reported;
  char reason[KR_SYNC_REASON_MAX + 64];
  kr_sess_stats st;
};

/* ---- failing ------------------------------------------------------------- */

static void stage_frame(kr_sess *s, int type, const void *body, size_t len);
static int seal_some(kr_sess *s, int whole_only);
static int seal(kr_sess *s) { return seal_some(s, 0); }

static void fail(kr_sess *s, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(kr_sess *s, int err, const char *fmt, ...)
{
  va_list ap;
  if (s->state == ST_FAILED) return;
  va_start(ap, fmt);
  vsnprintf(s->reason, sizeof s->reason, fmt, ap);
  va_end(ap);
  s->err = err;
  /* Tell the peer why, when the channel is up and the cause is not theirs to hear twice. */
  if (s->tx.has_key && err != KR_EREFUSED) {
    size_t n = strlen(s->reason);
    stage_frame(s, KR_FRAME_ERR, s->reason, n > KR_SYNC_REASON_MAX ? KR_SYNC_REASON_MAX : n);
    seal(s);
  }
  s->state = ST_FAILED;
  /* The ERR frame is sealed above: no key is needed any more. */
  kr_noise_wipe(&s->hs);
  kr_noise_cipher_wipe(&s->rx);
  kr_noise_cipher_wipe(&s->tx);
}

void kr_sess_fail(kr_sess *s, int err, const char *reason)
{
  s->awaiting = 0;
  fail(s, err, "%s", reason);
}

void kr_sess_refuse(kr_sess *s, int err, const char *reason)
{
  kr_sess_fail(s, err, reason);
}

static int payload(const kr_sess *s, kr_buf *b);
static int write_hs(kr_sess *s, const kr_buf *pay);

void kr_sess_refuse_told(kr_sess *s, int err, const char *reason)
{
  if (s->initiator && s->state == ST_VERDICT) {   /* -> s, se: then the channel is up */
    kr_buf b;
    kr_buf_init(&b, KR_SYNC_JOIN_MAX + 256);
    if (payload(s, &b) == 0 && write_hs(s, &b) == 0 && kr_noise_split(&s->hs, &s->tx, &s->rx) == 0)
      s->state = ST_OPEN;
    kr_buf_free(&b);
  }
  kr_sess_fail(s, err, reason);
}

/* ---- output -------------------------------------------------------------- */

static void put_u16(uint8_t *p, size_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_u32(uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint64_t get_be(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* A handshake message or ciphertext, behind its 2-byte length. */
static int put_msg(kr_sess *s, const uint8_t *msg, size_t len)
{
  uint8_t l[2];
  put_u16(l, len);
  if (kr_buf_add(&s->out, l, 2) || kr_buf_add(&s->out, msg, len)) return KR_ETOOBIG;
  return 0;
}

static void stage_frame(kr_sess *s, int type, const void *body, size_t len)
{
  uint8_t h[HDR];
  h[0] = (uint8_t)type;
  put_u32(h + 1, len);
  if (kr_buf_add(&s->stage, h, HDR) || (len && kr_buf_add(&s->stage, body, len)))
    s->err = KR_ETOOBIG;   /* seal() reports it */
}

/* Encrypt the staged frames into transport messages; with whole_only,
 * only full ones, keeping the rest staged for later frames to fill. */
static int seal_some(kr_sess *s, int whole_only)
{
  uint8_t ct[KR_NOISE_MSG_MAX];
  size_t off = 0;
  int rc = 0;

  if (s->err == KR_ETOOBIG && s->state != ST_FAILED) rc = KR_ETOOBIG;
  while (!rc && off < s->stage.len) {
    size_t n = s->stage.len - off;
    if (n > KR_NOISE_PLAIN_MAX) n = KR_NOISE_PLAIN_MAX;
    else if (whole_only && n < KR_NOISE_PLAIN_MAX) break;
    if ((rc = kr_noise_encrypt(&s->tx, s->stage.data + off, n, ct))) break;
    if ((rc = put_msg(s, ct, n + KR_NOISE_TAGLEN))) break;
    off += n;
    if (++s->tx_msgs % s->rekey_every == 0) kr_noise_rekey(&s->tx);
  }
  if (rc || off == s->stage.len) {
    kr_buf_reset(&s->stage);
  } else if (off) {
    memmove(s->stage.data, s->stage.data + off, s->stage.len - off);
    s->stage.len -= off;
  }
  sodium_memzero(ct, sizeof ct);
  if (rc && s->state != ST_FAILED) {
    s->tx.has_key = 0;     /* no ERR frame after a failed seal */
    fail(s, rc, N_("cannot queue output: %s"), kr_strerror(rc));
  }
  return rc;
}

const uint8_t *kr_sess_pending(const kr_sess *s, size_t *len)
{
  *len = s->out.len - s->out_off;
  return s->out.data ? s->out.data + s->out_off : NULL;
}

void kr_sess_sent(kr_sess *s, size_t len)
{
  if (len > s->out.len - s->out_off) len = s->out.len - s->out_off;
  s->out_off += len;
  s->st.bytes_out += len;
  if (s->out_off == s->out.len) {
    s->out.len = 0;
    s->out_off = 0;
  }
}

/* ---- handshake payloads ----------------------------------------------------- */

static int payload(const kr_sess *s, kr_buf *b)
{
  msgpack_packer pk;
  int e = 0;
  msgpack_packer_init(&pk, b, kr_buf_mp_write);
  e |= msgpack_pack_array(&pk, s->initiator ? 4 : 3);
  e |= msgpack_pack_uint8(&pk, KR_SYNC_VERSION);
  e |= msgpack_pack_bin(&pk, KR_NODE_LEN) | msgpack_pack_bin_body(&pk, s->id, KR_NODE_LEN);
  if (s->initiator) {
    if (s->join_out) {
      size_t n = strlen(s->join_out);
      e |= msgpack_pack_str(&pk, n) | msgpack_pack_str_body(&pk, s->join_out, n);
    } else {
      e |= msgpack_pack_nil(&pk);
    }
  }
  e |= msgpack_pack_uint64(&pk, s->now_ms);
  return e ? KR_ETOOBIG : 0;
}

/* Read the peer's payload; its id must own the static key just proven. */
static int read_payload(kr_sess *s, const uint8_t *p, size_t len)
{
  kr_mp r;
  uint32_t n;
  uint64_t ver;
  uint8_t x[KR_NOISE_DHLEN];
  int rc;

  kr_mp_init(&r, p, len);
  if ((rc = kr_mp_array(&r, &n))) return rc;
  if (n != (s->initiator ? 3u : 4u)) return KR_EMALFORMED;
  if ((rc = kr_mp_uint(&r, &ver))) return rc;
  if (ver != KR_SYNC_VERSION) return KR_EUNKNOWN;
  if ((rc = kr_mp_bin_fixed(&r, s->peer, KR_NODE_LEN))) return rc;
  if (!s->initiator && !kr_mp_take_nil(&r)) {
    const char *j;
    uint32_t jl;
    if ((rc = kr_mp_str(&r, &j, &jl))) return rc;
    if (jl == 0 || jl > KR_SYNC_JOIN_MAX || memchr(j, 0, jl)) return KR_EMALFORMED;
    memcpy(s->join_in, j, jl);
    s->join_in[jl] = 0;
    s->has_join_in = 1;
  }
  if ((rc = kr_mp_uint(&r, &s->peer_clock))) return rc;
  if (kr_mp_left(&r)) return KR_EMALFORMED;
  if (crypto_sign_ed25519_pk_to_curve25519(x, s->peer) != 0 ||
      sodium_memcmp(x, kr_noise_remote_static(&s->hs), KR_NOISE_DHLEN) != 0)
    return KR_EBADSIG;
  s->have_peer = 1;
  return 0;
}

static int write_hs(kr_sess *s, const kr_buf *pay)
{
  uint8_t msg[KR_NOISE_MSG_MAX];
  size_t n;
  int rc = kr_noise_write(&s->hs, pay ? pay->data : NULL, pay ? pay->len : 0, msg, sizeof msg, &n);
  if (!rc) rc = put_msg(s, msg, n);
  return rc;
}

int kr_sess_new(int initiator, const uint8_t sk[static KR_SK_LEN],
                const uint8_t network[static KR_NETWORK_LEN], const char *join, uint64_t now_ms,
                kr_sess **out)
{
  kr_sess *s = calloc(1, sizeof *s);
  uint8_t xsk[KR_NOISE_DHLEN], pro[sizeof KR_SYNC_PROLOGUE - 1 + KR_NETWORK_LEN];
  int rc = 0;

  *out = NULL;
  if (!s) return KR_ENOMEM;
  if (join && (strlen(join) > KR_SYNC_JOIN_MAX || !(s->join_out = strdup(join)))) {
    free(s);
    return join && strlen(join) > KR_SYNC_JOIN_MAX ? KR_ETOOBIG : KR_ENOMEM;
  }
  s->initiator = initiator;
  s->start_ms = s->now_ms = now_ms;
  s->rekey_every = KR_SYNC_REKEY_EVERY;
  s->batch_in = 1;
  memcpy(s->id, sk + 32, KR_NODE_LEN);
  kr_buf_init(&s->in, IN_MAX);
  kr_buf_init(&s->rxp, RX_MAX);
  kr_buf_init(&s->out, OUT_MAX);
  kr_buf_init(&s->stage, OUT_MAX);
  kr_buf_init(&s->batch, KR_SYNC_BATCH_MAX);
  kr_vv_init(&s->peer_vec);
  kr_vv_init(&s->end_vec);
  memcpy(pro, KR_SYNC_PROLOGUE, sizeof KR_SYNC_PROLOGUE - 1);
  memcpy(pro + sizeof KR_SYNC_PROLOGUE - 1, network, KR_NETWORK_LEN);
  crypto_sign_ed25519_sk_to_curve25519(xsk, sk);
  kr_noise_init(&s->hs, initiator, pro, sizeof pro, xsk, NULL);
  sodium_memzero(xsk, sizeof xsk);
  if (initiator) rc = write_hs(s, NULL);      /* -> e */
  if (rc) {
    kr_sess_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void kr__sess_rekey_every(kr_sess *s, uint64_t every)
{
  if (every) s->rekey_every = every;
}

int kr__sess_plain(kr_sess *s, const uint8_t *buf, size_t len)
{
  if (s->state == ST_HANDSHAKE) {
    memset(&s->tx, 0, sizeof s->tx);
    s->tx.has_key = 1;
    s->state = ST_OPEN;
  }
  return kr_buf_add(&s->rxp, buf, len) ? KR_ETOOBIG : 0;
}

int kr__sess_frame(kr_sess *s, int type, const void *body, size_t len)
{
  if (s->state != ST_OPEN) return KR_EINVAL;
  stage_frame(s, type, body, len);
  return seal(s);
}

void kr_sess_free(kr_sess *s)
{
  if (!s) return;
  kr_noise_wipe(&s->hs);
  kr_noise_cipher_wipe(&s->tx);
  kr_noise_cipher_wipe(&s->rx);
  kr_buf_free(&s->in);
  kr_buf_free(&s->rxp);
  kr_buf_free(&s->out);
  kr_buf_free(&s->stage);
  kr_buf_free(&s->batch);
  kr_vv_free(&s->peer_vec);
  free(s->peer_heads);
  kr_vv_free(&s->end_vec);
  free(s->chg);
  free(s->off);
  free(s->len);
  free(s->join_out);
  free(s);
}

/* ---- input --------------------------------------------------------------- */

int kr_sess_feed(kr_sess *s, const uint8_t *buf, size_t len)
{
  if (s->state == ST_FAILED || s->state == ST_DONE) return 0;  /* late bytes are dropped */
  if (s->in_off) {
    memmove(s->in.data, s->in.data + s->in_off, s->in.len - s->in_off);
    s->in.len -= s->in_off;
    s->in_off = 0;
  }
  s->st.bytes_in += len;
  if (kr_buf_add(&s->in, buf, len)) {
    fail(s, KR_ETOOBIG, N_("more input queued than %u bytes"), IN_MAX);
    return KR_ETOOBIG;
  }
  return 0;
}

/* The next whole message on the wire, or NULL. */
static const uint8_t *next_msg(kr_sess *s, size_t *len)
{
  size_t have = s->in.len - s->in_off, n;
  const uint8_t *p;
  if (have < 2) return NULL;      /* in.data may still be NULL */
  p = s->in.data + s->in_off;
  n = (size_t)get_be(p, 2);
  if (have < 2 + n) return NULL;
  s->in_off += 2 + n;
  *len = n;
  return p + 2;
}

void kr_sess_tick(kr_sess *s, uint64_t now_ms)
{
  s->now_ms = now_ms;
  if ((s->state == ST_HANDSHAKE || s->state == ST_VERDICT) &&
      now_ms > s->start_ms && now_ms - s->start_ms > KR_SYNC_HANDSHAKE_MS)
    fail(s, KR_ETIMEOUT, N_("handshake not finished within %d s"), KR_SYNC_HANDSHAKE_MS / 1000);
}

static kr_sess_event_type handshake_step(kr_sess *s, kr_sess_event *ev)
{
  uint8_t pay[KR_NOISE_MSG_MAX];
  const uint8_t *m;
  size_t len, plen;
  int rc;

  if (!(m = next_msg(s, &len))) return KR_SEV_NONE;
  if ((rc = kr_noise_read(&s->hs, m, len, pay, sizeof pay, &plen))) {
    if (rc == KR_EBADSIG)
      fail(s, rc, N_("handshake failed: %s (another network, or not a kring node)"), kr_strerror(rc));
    else
      fail(s, rc, N_("handshake failed: %s"), kr_strerror(rc));
    return KR_SEV_NONE;
  }
  switch (s->hs.step) {
  case KR_NOISE_MSG2: {          /* responder read -> e: answer <- e, ee, s, es */
    kr_buf b;
    if (plen != 0) { fail(s, KR_EPROTOCOL, N_("first handshake message carries a payload")); break; }
    kr_buf_init(&b, 256);
    rc = payload(s, &b);
    if (!rc) rc = write_hs(s, &b);
    kr_buf_free(&b);
    if (rc) fail(s, rc, N_("handshake: %s"), kr_strerror(rc));
    break;
  }
  case KR_NOISE_MSG3:            /* initiator read <- e, ee, s, es */
  case KR_NOISE_DONE:            /* responder read -> s, se */
    if ((rc = read_payload(s, pay, plen))) {
      fail(s, KR_EPROTOCOL, N_("handshake payload refused: %s"), kr_strerror(rc));
      break;
    }
    if (!s->initiator) {
      if ((rc = kr_noise_split(&s->hs, &s->tx, &s->rx))) { fail(s, rc, N_("split failed")); break; }
    }
    s->state = ST_VERDICT;
    s->awaiting = 1;
    ev->type = KR_SEV_PEER;
    ev->peer = s->peer;
    ev->join = s->has_join_in ? s->join_in : NULL;
    ev->peer_clock_ms = s->peer_clock;
    sodium_memzero(pay, sizeof pay);
    return KR_SEV_PEER;
  default:
    fail(s, KR_EPROTOCOL, N_("handshake out of order"));
  }
  sodium_memzero(pay, sizeof pay);
  return KR_SEV_NONE;
}

/* VEC: the vector, then the heads (bin, empty when not given); END: the
 * vector alone. */
static int send_vec(kr_sess *s, int type, const kr_vv *v, const uint8_t *heads)
{
  kr_buf b;
  int rc;
  kr_buf_init(&b, KR_SYNC_FRAME_MAX);
  if (!(rc = kr_vv_encode(v, &b)) && type == KR_FRAME_VEC) {
    msgpack_packer pk;
    size_t n = heads ? v->n * KR_SYNC_HEAD_LEN : 0;
    msgpack_packer_init(&pk, &b, kr_buf_mp_write);
    if (msgpack_pack_bin(&pk, n) || (n && msgpack_pack_bin_body(&pk, heads, n))) rc = KR_ETOOBIG;
  }
  if (!rc) {
    stage_frame(s, type, b.data, b.len);
    rc = seal(s);
  }
  kr_buf_free(&b);
  return rc;
}

int kr_sess_accept(kr_sess *s, const kr_vv *ours, const uint8_t *heads)
{
  int rc;
  if (s->state != ST_VERDICT) return KR_EINVAL;
  s->awaiting = 0;
  if (s->initiator) {            /* -> s, se, with our payload */
    kr_buf b;
    kr_buf_init(&b, KR_SYNC_JOIN_MAX + 256);
    rc = payload(s, &b);
    if (!rc) rc = write_hs(s, &b);
    kr_buf_free(&b);
    if (!rc) rc = kr_noise_split(&s->hs, &s->tx, &s->rx);
    if (rc) { fail(s, rc, N_("handshake: %s"), kr_strerror(rc)); return rc; }
  }
  s->state = ST_OPEN;
  if ((rc = send_vec(s, KR_FRAME_VEC, ours, heads))) return rc;
  s->sent_vec = 1;
  return 0;
}

/* Decrypt the next transport message into the frame stream. 1 if one was read. */
static int open_msg(kr_sess *s)
{
  const uint8_t *m;
  size_t len;
  int rc;

  if (!(m = next_msg(s, &len))) return 0;
  if (len < KR_NOISE_TAGLEN) { fail(s, KR_EPROTOCOL, N_("transport message too short")); return 0; }
  if (s->rx_off) {
    memmove(s->rxp.data, s->rxp.data + s->rx_off, s->rxp.len - s->rx_off);
    s->rxp.len -= s->rx_off;
    s->rx_off = 0;
  }
  if (kr_buf_reserve(&s->rxp, s->rxp.len + len)) { fail(s, KR_ETOOBIG, N_("frame stream too long")); return 0; }
  if ((rc = kr_noise_decrypt(&s->rx, m, len, s->rxp.data + s->rxp.len))) {
    fail(s, rc, N_("transport message does not authenticate (damaged or forged)"));
    return 0;
  }
  s->rxp.len += len - KR_NOISE_TAGLEN;
  if (++s->rx_msgs % s->rekey_every == 0) kr_noise_rekey(&s->rx);
  return 1;
}

/* A vector; with heads, then a bin of KR_SYNC_HEAD_LEN bytes per entry
 * (or empty: *heads stays NULL). */
static int decode_vec(const uint8_t *b, size_t len, kr_vv *v, uint8_t **heads)
{
  kr_mp r;
  int rc;
  kr_vv_free(v);
  kr_mp_init(&r, b, len);
  if ((rc = kr_vv_decode(&r, v))) return rc;
  if (heads) {
    const uint8_t *h;
    uint32_t hl;
    free(*heads);
    *heads = NULL;
    if ((rc = kr_mp_bin(&r, &h, &hl))) goto bad;
    if (hl && hl != v->n * KR_SYNC_HEAD_LEN) { rc = KR_EMALFORMED; goto bad; }
    if (hl) {
      if (!(*heads = malloc(hl))) { rc = KR_ENOMEM; goto bad; }
      memcpy(*heads, h, hl);
    }
  }
  if (!kr_mp_left(&r)) return 0;
  rc = KR_EMALFORMED;
bad:
  kr_vv_free(v);
  kr_vv_init(v);
  return rc;
}

static int over(kr_sess *s)
{
  return s->sent_done && s->acked == s->batch_out && s->sent_end && s->got_end;
}

static int add_change(kr_sess *s, const uint8_t *b, size_t len)
{
  if (s->nchg == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    const uint8_t **c;
    size_t *o, *l;
    if (cap > KR_SYNC_BATCH_COUNT) cap = KR_SYNC_BATCH_COUNT;
    if (!(c = realloc(s->chg, cap * sizeof *c))) return KR_ENOMEM;
    s->chg = c;
    if (!(o = realloc(s->off, cap * sizeof *o))) return KR_ENOMEM;
    s->off = o;
    if (!(l = realloc(s->len, cap * sizeof *l))) return KR_ENOMEM;
    s->len = l;
    s->cap = cap;
  }
  s->off[s->nchg] = s->batch.len;
  s->len[s->nchg] = len;
  s->nchg++;
  return kr_buf_add(&s->batch, b, len);
}

/* One whole frame: its event, or NONE to go on. */
static kr_sess_event_type frame(kr_sess *s, int type, const uint8_t *b, size_t len,
                                kr_sess_event *ev)
{
  int rc;
  if (!s->got_vec && type != KR_FRAME_VEC && type != KR_FRAME_ERR) {
    fail(s, KR_EPROTOCOL, N_("frame %d before the peer's vector"), type);
    return KR_SEV_NONE;
  }
  switch (type) {
  case KR_FRAME_VEC:
    if (s->got_vec) break;
    if ((rc = decode_vec(b, len, &s->peer_vec, &s->peer_heads))) {
      fail(s, KR_EPROTOCOL, N_("peer's vector: %s"), kr_strerror(rc));
      return KR_SEV_NONE;
    }
    s->got_vec = 1;
    ev->vector = &s->peer_vec;
    ev->heads = s->peer_heads;
    return KR_SEV_VECTOR;
  case KR_FRAME_CHG:
    if (s->got_done) break;
    if (len == 0 || s->nchg >= KR_SYNC_BATCH_COUNT || s->batch.len + len > KR_SYNC_BATCH_MAX) {
      fail(s, KR_ETOOBIG, N_("batch %llu larger than %u bytes or %u changes"),
           (unsigned long long)s->batch_in, KR_SYNC_BATCH_MAX, KR_SYNC_BATCH_COUNT);
      return KR_SEV_NONE;
    }
    if ((rc = add_change(s, b, len))) { fail(s, rc, N_("batch: %s"), kr_strerror(rc)); return KR_SEV_NONE; }
    return KR_SEV_NONE;
  case KR_FRAME_BATCH:
    if (s->got_done || len != 12) break;
    if (get_be(b, 8) != s->batch_in || get_be(b + 8, 4) != s->nchg || s->nchg == 0) {
      fail(s, KR_EPROTOCOL, N_("batch %llu: wrong number or count"), (unsigned long long)s->batch_in);
      return KR_SEV_NONE;
    }
    for (size_t i = 0; i < s->nchg; i++) s->chg[i] = s->batch.data + s->off[i];
    ev->chg = s->chg;
    ev->len = s->len;
    ev->count = s->nchg;
    ev->batch = s->batch_in;
    s->awaiting = 1;
    return KR_SEV_BATCH;
  case KR_FRAME_ACK:
    if (len != 16 || get_be(b, 8) != s->acked + 1 || s->acked >= s->batch_out) break;
    s->acked++;
    s->st.batches_acked++;
    ev->batch = s->acked;
    ev->applied = (uint32_t)get_be(b + 8, 4);
    ev->known = (uint32_t)get_be(b + 12, 4);
    s->st.applied_out += ev->applied;
    return KR_SEV_ACK;
  case KR_FRAME_DONE:
    if (s->got_done || len != 0 || s->nchg) break;
    s->got_done = 1;
    s->awaiting = 1;
    return KR_SEV_DRAINED;
  case KR_FRAME_END:
    if (!s->sent_done || s->got_end) break;
    if ((rc = decode_vec(b, len, &s->end_vec, NULL))) {
      fail(s, KR_EPROTOCOL, N_("peer's final vector: %s"), kr_strerror(rc));
      return KR_SEV_NONE;
    }
    s->got_end = 1;
    ev->vector = &s->end_vec;
    return KR_SEV_END;
  case KR_FRAME_ERR: {
    char why[KR_SYNC_REASON_MAX + 1];
    size_t n = len > KR_SYNC_REASON_MAX ? KR_SYNC_REASON_MAX : len;
    for (size_t i = 0; i < n; i++) why[i] = b[i] >= 32 && b[i] < 127 ? (char)b[i] : '?';
    why[n] = 0;
    fail(s, KR_EREFUSED, N_("peer closed: %s"), why);
    return KR_SEV_NONE;
  }
  default:
    fail(s, KR_EPROTOCOL, N_("unknown frame type %d"), type);
    return KR_SEV_NONE;
  }
  fail(s, KR_EPROTOCOL, N_("frame %d out of order or malformed"), type);
  return KR_SEV_NONE;
}

kr_sess_event_type kr_sess_poll(kr_sess *s, kr_sess_event *ev)
{
  memset(ev, 0, sizeof *ev);
  for (;;) {
    kr_sess_event_type t;
    size_t have;
    if (s->state == ST_FAILED) {
      if (s->reported) return KR_SEV_NONE;
      s->reported = 1;
      ev->err = s->err;
      ev->reason = s->reason;
      return ev->type = KR_SEV_FAILED;
    }
    if (s->state == ST_DONE) {
      if (s->done_reported) return KR_SEV_NONE;
      s->done_reported = 1;
      return ev->type = KR_SEV_DONE;
    }
    if (s->awaiting) return KR_SEV_NONE;
    if (s->state == ST_HANDSHAKE) {
      size_t before = s->in_off;
      if ((t = handshake_step(s, ev)) != KR_SEV_NONE) return ev->type = t;
      if (s->state == ST_HANDSHAKE && s->in_off == before) return KR_SEV_NONE;
      continue;
    }
    if (s->state != ST_OPEN) return KR_SEV_NONE;
    if (over(s)) {
      s->state = ST_DONE;
      continue;
    }
    have = s->rxp.len - s->rx_off;
    if (have >= HDR) {
      const uint8_t *p = s->rxp.data + s->rx_off;
      size_t len = (size_t)get_be(p + 1, 4);
      if (len > KR_SYNC_FRAME_MAX) {
        fail(s, KR_ETOOBIG, N_("frame of %zu bytes, more than %u"), len, KR_SYNC_FRAME_MAX);
        continue;
      }
      if (have >= HDR + len) {
        s->rx_off += HDR + len;
        if ((t = frame(s, p[0], p + HDR, len, ev)) != KR_SEV_NONE) return ev->type = t;
        continue;
      }
    }
    if (!open_msg(s) && s->state == ST_OPEN) return KR_SEV_NONE;
  }
}

/* ---- answers --------------------------------------------------------------- */

int kr_sess_applied(kr_sess *s, uint32_t applied, uint32_t known)
{
  uint8_t b[16];
  if (s->state != ST_OPEN || !s->awaiting || s->got_done) return KR_EINVAL;
  s->awaiting = 0;
  s->st.changes_in += s->nchg;
  s->st.applied_in += applied;
  s->st.known_in += known;
  s->st.batches_in++;
  put_u64(b, s->batch_in);
  put_u32(b + 8, applied);
  put_u32(b + 12, known);
  s->batch_in++;
  s->nchg = 0;
  kr_buf_reset(&s->batch);
  stage_frame(s, KR_FRAME_ACK, b, sizeof b);
  return seal(s);
}

int kr_sess_send_end(kr_sess *s, const kr_vv *ours)
{
  int rc;
  if (s->state != ST_OPEN || !s->awaiting || !s->got_done || s->sent_end) return KR_EINVAL;
  s->awaiting = 0;
  if ((rc = send_vec(s, KR_FRAME_END, ours, NULL))) return rc;
  s->sent_end = 1;
  return 0;
}

int kr_sess_can_send(const kr_sess *s)
{
  return s->state == ST_OPEN && s->got_vec && !s->sent_done &&
         (s->batch_open || s->batch_out - s->acked < KR_SYNC_WINDOW);
}

size_t kr_sess_batch_bytes(const kr_sess *s) { return s->open_bytes; }

int kr_sess_send_change(kr_sess *s, const uint8_t *buf, size_t len)
{
  if (!kr_sess_can_send(s) || len == 0) return KR_EINVAL;
  if (s->open_bytes + len > KR_SYNC_BATCH_MAX || s->open_count >= KR_SYNC_BATCH_COUNT)
    return KR_ETOOBIG;
  stage_frame(s, KR_FRAME_CHG, buf, len);
  s->batch_open = 1;
  s->open_bytes += len;
  s->open_count++;
  /* seal transport messages as they fill, keep the rest staged */
  return s->stage.len >= KR_NOISE_PLAIN_MAX ? seal_some(s, 1) : 0;
}

int kr_sess_end_batch(kr_sess *s)
{
  uint8_t b[12];
  if (s->state != ST_OPEN || !s->batch_open) return KR_EINVAL;
  put_u64(b, ++s->batch_out);
  put_u32(b + 8, s->open_count);
  s->st.changes_out += s->open_count;
  s->st.batches_out++;
  s->batch_open = 0;
  s->open_bytes = 0;
  s->open_count = 0;
  stage_frame(s, KR_FRAME_BATCH, b, sizeof b);
  return seal(s);
}

int kr_sess_send_done(kr_sess *s)
{
  if (s->state != ST_OPEN || !s->got_vec || s->sent_done || s->batch_open) return KR_EINVAL;
  s->sent_done = 1;
  stage_frame(s, KR_FRAME_DONE, NULL, 0);
  return seal(s);
}

int kr_sess_is_over(const kr_sess *s) { return s->state == ST_DONE || s->state == ST_FAILED; }
const kr_sess_stats *kr_sess_stats_get(const kr_sess *s) { return &s->st; }
const uint8_t *kr_sess_peer(const kr_sess *s) { return s->have_peer ? s->peer : NULL; }
