/* net: sync sessions over TCP with libuv (see net.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <sodium.h>
#include <uv.h>

#include "crdt/err.h"
#include "node/i18n.h"
#include "sync/invite.h"
#include "sync/net.h"

#define TICK_MS      250
#define RELOAD_MS    2000
#define CLOSE_MS     3000       /* longest wait for the last bytes to go out */
#define SWEEP_MS     1000       /* how often serve looks over the addresses it remembers */
#define LOG_MS       ((uint64_t)KR_SERVE_LOG_S * 1000)
#define BACKLOG      4096       /* connections the kernel may queue (it caps this at somaxconn) */
#define FDS_WANTED   4096       /* serve raises its open-files limit this far, if it may */
#define BUCKETS      4096       /* of the address table (a power of two) */
#define HELD_MAX     1024       /* bytes kept of a connection waiting for its turn to handshake */

/* Why a connection ended before its handshake did; counted per address. */
enum { END_IDLE, END_CROWD, END_FULL, END_RATE, END_CLOSED, END_FAILED, END_N };

struct conn;

/* One address (IPv6: one /64) that has connections in the handshake, or had
 * them lately: how many, its handshake allowance, what is not logged yet. */
struct host {
  uint8_t key[16];             /* IPv4 as ::ffff:a.b.c.d; IPv6 cut to its /64 */
  char name[INET6_ADDRSTRLEN + 4];
  struct conn *first, *last;   /* its connections in the handshake, oldest first */
  unsigned npending;
  uint32_t tokens;             /* handshakes it may start now, in thousandths */
  uint64_t refilled;           /* uv_now when tokens were last topped up */
  uint64_t logged;             /* uv_now of its last log line */
  int has_logged;
  uint64_t count[END_N];       /* ended since that line */
  struct host *chain;          /* same bucket */
  struct host *older, *newer;  /* least recently seen first */
};

struct slot {                  /* one address-book entry, in serve */
  char name[KR_PEER_NAME_MAX + 1];
  char addr[300];
  uint64_t due;                /* uv_now when the next sync is due */
  unsigned fails;
  int busy, seen;
};

struct net;

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t creq;
  uv_getaddrinfo_t gai;
  uv_shutdown_t sreq;
  struct net *net;
  kr_link *link;
  kr_net_target *target;       /* kr_net_sync */
  struct slot *slot;           /* serve, outbound */
  int outbound, port, handles, finished, tcp_open, resolving;
  int session;                 /* holds one of the KR_SERVE_MAX_CONNS places */
  /* serve, inbound, until the handshake is done: */
  struct host *host;           /* set while it waits in the pending pool */
  int spoke, answered;         /* a byte came in; our handshake answer went out */
  uint8_t *held;               /* its first bytes, while it waits for its turn */
  size_t nheld;
  uint64_t accepted;           /* uv_now */
  struct conn *pprev, *pnext;  /* the pool, oldest first */
  struct conn *hprev, *hnext;  /* its address's share of the pool */
  char label[320];
  char addr[300];
  uint64_t t0, last_io, finished_at;
  struct conn *prev, *next;
};

struct net {
  uv_loop_t loop;
  kr_node *n;
  kr_net_log_fn log;
  void *ctx;
  const char *join;
  struct conn *conns;
  int nsessions, stopping, failed;
  char rbuf[65536];            /* every read lands here and is fed at once */
  /* serve */
  uv_tcp_t listener;
  uv_timer_t sched;
  uv_prepare_t prep;
  uv_signal_t sigint, sigterm;
  int serving;
  struct slot **slots;
  size_t nslots;
  unsigned interval_s;
  uint64_t version, reloaded, swept;
  /* serve: connections that have not finished the handshake */
  struct conn *pfirst, *plast;
  unsigned npending;
  int accepts, accept_held;    /* accepts left in this turn of the loop; one waits */
  struct host **buckets;
  size_t nhosts;
  struct host *oldest, *newest;
  uint8_t hashkey[crypto_shorthash_KEYBYTES];
  uint64_t quiet_until;        /* new addresses get no line of their own before this */
  uint64_t others, others_hosts, others_logged;  /* ended on addresses no longer remembered */
};

static void logf_(struct net *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct net *t, const char *fmt, ...)
{
  char line[600];
  va_list ap;
  if (!t->log) return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  t->log(t->ctx, line);
}

int kr_net_parse_addr(const char *addr, char *host, size_t cap, int *port)
{
  const char *colon, *h = addr;
  size_t hl;
  char *end;
  long p = KR_DEFAULT_PORT;

  if (!addr || !addr[0] || strlen(addr) > KR_ADDR_MAX) return KR_EINVAL;
  if (addr[0] == '[') {
    const char *close = strchr(addr, ']');
    if (!close) return KR_EINVAL;
    h = addr + 1;
    hl = (size_t)(close - h);
    colon = close[1] == ':' ? close + 1 : NULL;
    if (close[1] && !colon) return KR_EINVAL;
  } else {
    colon = strrchr(addr, ':');
    if (colon && strchr(addr, ':') != colon) return KR_EINVAL;  /* bare v6: use [..] */
    hl = colon ? (size_t)(colon - addr) : strlen(addr);
  }
  if (colon) {
    p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535) return KR_EINVAL;   /* 0: listen on any */
  }
  if (hl == 0 || hl >= cap) return KR_EINVAL;
  memcpy(host, h, hl);
  host[hl] = 0;
  *port = (int)p;
  return 0;
}

/* ---- connections still in the handshake (serve) ----------------------------- */

/*
 * Anyone may connect to kring serve, so a connection that has not finished
 * the handshake waits in a pool of its own, apart from the sessions, which
 * it can never take:
 *
 * - at most KR_SERVE_HOST_PENDING from one address, KR_SERVE_MAX_PENDING
 *   in all. A newcomer over either limit pushes out the oldest connection
 *   that has sent nothing (a member's node sends handshake message 1 at
 *   once). If every one has sent something, a silent newcomer is turned
 *   away, and one that has sent something pushes out the oldest still
 *   waiting to start, else the oldest in the middle of the handshake.
 * - On Linux the kernel holds back a connection until its first bytes are
 *   in (TCP_DEFER_ACCEPT), so a member's arrives with message 1 and one
 *   that sends nothing reaches the pool only KR_SERVE_FIRST_MS later.
 * - Message 1 must be in within KR_SERVE_FIRST_MS of the accept.
 * - Message 1 costs us three X25519 operations: each address may start
 *   KR_SERVE_HS_BURST handshakes at once and KR_SERVE_HS_PER_S a second
 *   after that. One over that waits for its turn, its first bytes held,
 *   within the same deadline.
 * - None of them gets a log line of its own: per address, the first one
 *   is logged and the rest are counted and logged at most once every
 *   KR_SERVE_LOG_S seconds.
 * - At most KR_SERVE_ACCEPTS are accepted per turn of the event loop, so
 *   that sessions are served between the accepts of a flood.
 */

static void end_text(int why, char *out, size_t cap)
{
  switch (why) {
  case END_IDLE:
    snprintf(out, cap, "sent no handshake within %d s", KR_SERVE_FIRST_MS / 1000);
    break;
  case END_CROWD:
    snprintf(out, cap, "more than %d at once from this address", KR_SERVE_HOST_PENDING);
    break;
  case END_FULL:
    snprintf(out, cap, "more than %d at once from all addresses", KR_SERVE_MAX_PENDING);
    break;
  case END_RATE:
    snprintf(out, cap, "waited %d s for its turn: more than %d handshakes a second from this address",
             KR_SERVE_FIRST_MS / 1000, KR_SERVE_HS_PER_S);
    break;
  case END_CLOSED: snprintf(out, cap, "closed by the other side"); break;
  default: snprintf(out, cap, "handshake failed"); break;
  }
}

/* Whether bytes wait in the socket that we have not read yet. */
static int has_bytes(struct conn *c)
{
  uv_os_fd_t fd;
  char b;
  if (!c->tcp_open || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) return 0;
  return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static size_t host_bucket(struct net *t, const uint8_t key[static 16])
{
  uint8_t h[crypto_shorthash_BYTES];
  uint64_t v = 0;
  crypto_shorthash(h, key, 16, t->hashkey);
  for (int i = 0; i < 8; i++) v = v << 8 | h[i];
  return (size_t)(v & (BUCKETS - 1));
}

static void lru_unlink(struct net *t, struct host *h)
{
  if (h->older) h->older->newer = h->newer; else t->oldest = h->newer;
  if (h->newer) h->newer->older = h->older; else t->newest = h->older;
  h->older = h->newer = NULL;
}

static void lru_push(struct net *t, struct host *h)
{
  h->older = t->newest;
  h->newer = NULL;
  if (t->newest) t->newest->newer = h; else t->oldest = h;
  t->newest = h;
}

static void host_free(struct net *t, struct host *h)
{
  struct host **p = &t->buckets[host_bucket(t, h->key)];
  while (*p != h) p = &(*p)->chain;
  *p = h->chain;
  lru_unlink(t, h);
  t->nhosts--;
  free(h);
}

/* Forget the least recently seen address with nothing in the pool, to make
 * room: what it had not logged yet goes to the count of other addresses,
 * and no new address gets a line of its own until a minute after its last
 * line (it may come back as a new entry). 0 if there was none to forget. */
static int host_forget_one(struct net *t)
{
  struct host *h = t->oldest;
  uint64_t n = 0;
  while (h && h->npending) h = h->newer;
  if (!h) return 0;
  for (int i = 0; i < END_N; i++) n += h->count[i];
  if (n) {
    t->others += n;
    t->others_hosts++;
  }
  if (h->has_logged && h->logged + LOG_MS > t->quiet_until) t->quiet_until = h->logged + LOG_MS;
  host_free(t, h);
  return 1;
}

/* The entry of the address in sa, made if new; NULL when it cannot be. */
static struct host *host_get(struct net *t, const struct sockaddr_storage *sa)
{
  uint8_t key[16] = {0};
  struct host *h;
  size_t b;
  uint64_t now = uv_now(&t->loop);

  if (sa->ss_family == AF_INET) {
    key[10] = key[11] = 0xff;
    memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
  } else if (sa->ss_family == AF_INET6) {
    const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(key, a, memcmp(a, mapped, 12) == 0 ? 16 : 8);
  } else {
    return NULL;
  }
  for (h = t->buckets[b = host_bucket(t, key)]; h; h = h->chain)
    if (memcmp(h->key, key, 16) == 0) {
      lru_unlink(t, h);
      lru_push(t, h);
      return h;
    }
  if (t->nhosts >= KR_SERVE_HOSTS && !host_forget_one(t)) return NULL;
  if (!(h = calloc(1, sizeof *h))) return NULL;
  memcpy(h->key, key, 16);
  if (key[10] == 0xff && key[11] == 0xff && !memcmp(key, (uint8_t[10]){0}, 10)) {
    inet_ntop(AF_INET, key + 12, h->name, sizeof h->name);
  } else {
    inet_ntop(AF_INET6, key, h->name, INET6_ADDRSTRLEN);
    strcat(h->name, "/64");
  }
  h->tokens = KR_SERVE_HS_BURST * 1000u;
  h->refilled = now;
  if (now < t->quiet_until) {      /* see host_forget_one */
    h->has_logged = 1;
    h->logged = now;
  }
  h->chain = t->buckets[b];
  t->buckets[b] = h;
  lru_push(t, h);
  t->nhosts++;
  return h;
}

/* One handshake for h, if its allowance has one. */
static int host_take(struct net *t, struct host *h)
{
  uint64_t now = uv_now(&t->loop), add = (now - h->refilled) * KR_SERVE_HS_PER_S;
  h->refilled = now;
  h->tokens = add >= KR_SERVE_HS_BURST * 1000u - h->tokens ? KR_SERVE_HS_BURST * 1000u
                                                            : h->tokens + (uint32_t)add;
  if (h->tokens < 1000) return 0;
  h->tokens -= 1000;
  return 1;
}

/* A connection from h ended before its handshake did: the first line about
 * h in a minute is written now, later ones are counted (hosts_sweep). */
static void tally(struct net *t, struct host *h, int why, const char *detail)
{
  uint64_t now = uv_now(&t->loop);
  char text[200];
  if (t->stopping) return;
  if (!h->has_logged || now - h->logged >= LOG_MS) {
    end_text(why, text, sizeof text);
    h->has_logged = 1;
    h->logged = now;
    logf_(t, "%s: a connection did not finish the handshake: %s (more from this address are "
          "counted, one line a minute)", h->name, detail && detail[0] ? detail : text);
    return;
  }
  h->count[why]++;
}

/* The line about what h counted since its last one. */
static void host_report(struct net *t, struct host *h, uint64_t now)
{
  char parts[600] = "", text[200];
  uint64_t n = 0;
  size_t off = 0;
  for (int i = 0; i < END_N; i++) {
    if (!h->count[i]) continue;
    n += h->count[i];
    end_text(i, text, sizeof text);
    off += (size_t)snprintf(parts + off, off < sizeof parts ? sizeof parts - off : 0, "%s%llu %s",
                            off ? ", " : "", (unsigned long long)h->count[i], text);
    if (off >= sizeof parts) off = sizeof parts - 1;
    h->count[i] = 0;
  }
  logf_(t, "%s: %llu more connection%s did not finish the handshake in the last %llu s (%s); "
        "members can still sync; if this goes on, block this address in the firewall",
        h->name, (unsigned long long)n, n == 1 ? "" : "s",
        (unsigned long long)((now - h->logged) / 1000), parts);
  h->logged = now;
}

/* Every second: write the lines that are due, forget addresses gone quiet. */
static void hosts_sweep(struct net *t, uint64_t now)
{
  for (struct host *h = t->oldest, *nx; h; h = nx) {
    int counted = 0;
    nx = h->newer;
    for (int i = 0; i < END_N; i++) counted |= h->count[i] != 0;
    if (counted && now - h->logged >= LOG_MS) host_report(t, h, now);
    else if (!counted && !h->npending && now - h->logged >= LOG_MS &&
             now - h->refilled >= (uint64_t)KR_SERVE_HS_BURST * 1000 / KR_SERVE_HS_PER_S)
      host_free(t, h);             /* nothing to say, allowance full again */
  }
  if (t->others && now - t->others_logged >= LOG_MS) {
    logf_(t, "%llu connections from %llu other addresses did not finish the handshake "
          "(too many addresses to name each)", (unsigned long long)t->others,
          (unsigned long long)t->others_hosts);
    t->others = t->others_hosts = 0;
    t->others_logged = now;
  }
}

static void pending_add(struct net *t, struct conn *c, struct host *h)
{
  c->host = h;
  c->pprev = t->plast;
  if (t->plast) t->plast->pnext = c; else t->pfirst = c;
  t->plast = c;
  c->hprev = h->last;
  if (h->last) h->last->hnext = c; else h->first = c;
  h->last = c;
  h->npending++;
  t->npending++;
}

static void pending_del(struct conn *c)
{
  struct net *t = c->net;
  struct host *h = c->host;
  if (!h) return;
  if (c->pprev) c->pprev->pnext = c->pnext; else t->pfirst = c->pnext;
  if (c->pnext) c->pnext->pprev = c->pprev; else t->plast = c->pprev;
  if (c->hprev) c->hprev->hnext = c->hnext; else h->first = c->hnext;
  if (c->hnext) c->hnext->hprev = c->hprev; else h->last = c->hprev;
  c->pprev = c->pnext = c->hprev = c->hnext = NULL;
  h->npending--;
  t->npending--;
  c->host = NULL;
}

/* ---- one connection -------------------------------------------------------- */

static void conn_free(struct conn *c)
{
  pending_del(c);
  free(c->held);
  kr_link_free(c->link);
  if (c->prev) c->prev->next = c->next; else c->net->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->session) c->net->nsessions--;
  free(c);
}

static void on_closed(uv_handle_t *h)
{
  struct conn *c = h->data;
  if (--c->handles == 0 && !c->resolving) conn_free(c);
}

static void close_all(struct conn *c)
{
  if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_closed);
  if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_closed);
}

/* Close at once with a reset: nothing is owed to a connection that never
 * finished the handshake, and no TIME_WAIT is left behind here. */
static void reset_close(struct conn *c)
{
  c->finished = 1;
  c->finished_at = uv_now(&c->net->loop);
  if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp) &&
      uv_tcp_close_reset(&c->tcp, on_closed) != 0)
    uv_close((uv_handle_t *)&c->tcp, on_closed);
  close_all(c);
}

/* A connection in the pool ends: counted for its address, closed. */
static void pending_end(struct conn *c, int why, const char *detail)
{
  struct host *h = c->host;
  pending_del(c);
  if (h) tally(c->net, h, why, detail);
  reset_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
  (void)status;
  close_all(req->data);
}

static void reschedule(struct net *t, struct conn *c, const kr_link_info *in);

/* The session is over (or could not start): log, record, close. */
static void finish(struct conn *c, const char *why)
{
  struct net *t = c->net;
  const kr_link_info *in;
  char who[400], id[13];
  double secs = (double)(uv_hrtime() - c->t0) / 1e9;

  if (c->finished) return;
  if (c->host) {                   /* still in the handshake: counted, not logged */
    if (t->stopping) {
      pending_del(c);
      reset_close(c);
    } else if (c->link && kr_link_info_get(c->link)->state == -1) {
      pending_end(c, END_FAILED, kr_link_info_get(c->link)->reason);
    } else {
      pending_end(c, END_CLOSED,
                  c->answered ? "closed by the other side after our first answer (a node of "
                                "another kring network does that)" : why);
    }
    return;
  }
  c->finished = 1;
  c->finished_at = uv_now(&t->loop);
  if (kr_link_info_get(c->link)->state == 0) kr_link_closed(c->link, why);
  in = kr_link_info_get(c->link);
  if (in->have_peer) {
    char org[KR_ORG_MAX + 1] = "";
    if (kr_node_member_org(t->n, in->peer, org, sizeof org) != 1) org[0] = 0;
    kr_link_hex12(in->peer, id);
    snprintf(who, sizeof who, "%s (%s%s%s)", c->label, org, org[0] ? " " : "", id);
  } else {
    snprintf(who, sizeof who, "%s", c->label);
  }
  if (in->state == 1)
    logf_(t, "sync %s %s: sent %llu, received %llu (%llu new%s), %.2f s", c->outbound ? "with" : "from",
          who, (unsigned long long)in->sent, (unsigned long long)in->received,
          (unsigned long long)in->applied, in->admitted ? ", admitted it" : "", secs);
  else
    logf_(t, "sync %s %s failed after %.2f s: %s", c->outbound ? "with" : "from", who, secs,
          in->reason);
  if (in->state != 1) t->failed++;
  if (c->target) {
    c->target->info = *in;
    c->target->seconds = secs;
  }
  {
    const char *book = c->target ? c->target->name : c->slot ? c->slot->name : NULL;
    if (book)
      kr_node_addr_result(t->n, book, in->have_peer ? in->peer : NULL,
                          in->state == 1 ? NULL : in->reason);
  }
  reschedule(t, c, in);
  /* Send what is queued (the last frames, or an ERR saying why) and close;
   * on_tick closes anyway if that does not happen within CLOSE_MS, and a
   * stopping serve does not wait at all. */
  if (!t->stopping && c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp)) {
    c->sreq.data = c;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) == 0) return;
  }
  close_all(c);
}

static void on_write(uv_write_t *req, int status)
{
  free(req->data);
  free(req);
  (void)status;    /* a failed write shows as a read error or EOF */
}

/* Hand what the session has to send to the socket. */
static void flush(struct conn *c)
{
  size_t len;
  const uint8_t *p;
  uv_write_t *req;
  uv_buf_t b;

  if (!c->link) return;
  p = kr_link_pending(c->link, &len);
  if (!len || !c->tcp_open || uv_is_closing((uv_handle_t *)&c->tcp)) return;
  req = malloc(sizeof *req);
  b.base = malloc(len);
  if (!req || !b.base) {
    free(req);
    free(b.base);
    return;       /* try again at the next tick */
  }
  memcpy(b.base, p, len);
  b.len = len;
  req->data = b.base;
  kr_link_sent(c->link, len);
  c->last_io = uv_now(&c->net->loop);
  c->answered = 1;
  if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
    free(b.base);
    free(req);
  }
}

/* The handshake is done (the peer showed who it is): the connection leaves
 * the pool and takes a session's place, if one is free. */
static void promote(struct conn *c)
{
  struct net *t = c->net;
  char why[KR_SYNC_REASON_MAX];
  pending_del(c);
  c->session = 1;
  if (++t->nsessions > KR_SERVE_MAX_CONNS && kr_link_info_get(c->link)->state == 0) {
    snprintf(why, sizeof why, N_("kring serve already has %d sessions; it will sync later"),
             KR_SERVE_MAX_CONNS);
    kr_sess_fail(kr_link_session(c->link), KR_EREFUSED, why);
    kr_link_closed(c->link, why);
  }
}

static void after_io(struct conn *c)
{
  if (!c->link) return;
  flush(c);
  if (c->host && kr_link_info_get(c->link)->have_peer) {
    promote(c);
    flush(c);
  }
  if (kr_link_info_get(c->link)->state != 0) finish(c, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
  struct conn *c = h->data;
  (void)suggested;
  b->base = c->net->rbuf;
  b->len = sizeof c->net->rbuf;
}

/* The handshake of an accepted connection starts, with its first bytes. */
static void start_inbound(struct conn *c, const uint8_t *buf, size_t len)
{
  struct net *t = c->net;
  if (kr_link_new(t->n, 0, NULL, kr_node_now_ms(t->n), &c->link)) {
    pending_end(c, END_FAILED, "out of memory");
    return;
  }
  kr_link_feed(c->link, buf, len);
  after_io(c);
}

/* Its address may start no handshake now: keep the first bytes and read
 * no more until on_tick finds it a turn. */
static void hold(struct conn *c, const uint8_t *buf, size_t len)
{
  uint8_t *p;
  if (c->nheld + len > HELD_MAX || !(p = realloc(c->held, c->nheld + len))) {
    pending_end(c, END_FAILED, "sent more than its first handshake message before our answer");
    return;
  }
  memcpy(p + c->nheld, buf, len);
  c->held = p;
  c->nheld += len;
  uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
  struct conn *c = s->data;
  if (c->finished) return;
  if (nread > 0) {
    c->last_io = uv_now(&c->net->loop);
    c->spoke = 1;
    if (c->link) {
      kr_link_feed(c->link, (const uint8_t *)b->base, (size_t)nread);
      after_io(c);
    } else if (c->held || !host_take(c->net, c->host)) {
      hold(c, (const uint8_t *)b->base, (size_t)nread);
    } else {
      start_inbound(c, (const uint8_t *)b->base, (size_t)nread);
    }
  } else if (nread < 0) {
    char why[200];
    if (nread == UV_EOF) snprintf(why, sizeof why, N_("the peer closed the connection"));
    else snprintf(why, sizeof why, N_("connection lost: %s"), uv_strerror((int)nread));
    finish(c, why);
  }
}

static void on_tick(uv_timer_t *tm)
{
  struct conn *c = tm->data;
  uint64_t now = uv_now(&c->net->loop);
  if (c->finished) {
    if (now - c->finished_at > CLOSE_MS) close_all(c);
    return;
  }
  if (c->host && !c->answered && now - c->accepted > KR_SERVE_FIRST_MS) {
    pending_end(c, c->held ? END_RATE : END_IDLE, NULL);
    return;
  }
  if (c->held && host_take(c->net, c->host)) {     /* its turn came */
    uint8_t *p = c->held;
    size_t n = c->nheld;
    c->held = NULL;
    c->nheld = 0;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    start_inbound(c, p, n);
    free(p);
    return;
  }
  if (!c->link) return;
  kr_link_tick(c->link, kr_node_now_ms(c->net->n));
  if (kr_link_info_get(c->link)->state == 0 && now - c->last_io > KR_IDLE_MS) {
    finish(c, N_("no data either way for 60 s"));
    return;
  }
  after_io(c);
}

/* A connection: outbound ones start their session at once, inbound ones
 * at their first bytes (start_inbound). */
static struct conn *conn_new(struct net *t, int outbound, const char *label)
{
  struct conn *c = calloc(1, sizeof *c);
  int rc;
  if (!c) return NULL;
  c->net = t;
  c->outbound = outbound;
  c->t0 = uv_hrtime();
  c->last_io = c->accepted = uv_now(&t->loop);
  snprintf(c->label, sizeof c->label, "%s", label);
  if (outbound &&
      (rc = kr_link_new(t->n, outbound, t->join, kr_node_now_ms(t->n), &c->link))) {
    free(c);
    return NULL;
  }
  uv_timer_init(&t->loop, &c->timer);
  c->timer.data = c;
  c->handles = 1;
  uv_timer_start(&c->timer, on_tick, TICK_MS, TICK_MS);
  c->next = t->conns;
  if (t->conns) t->conns->prev = c;
  t->conns = c;
  if (outbound) {
    c->session = 1;
    t->nsessions++;
  }
  return c;
}

static void start_tcp(struct conn *c)
{
  uv_tcp_init(&c->net->loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_open = 1;
  c->handles++;
  uv_tcp_nodelay(&c->tcp, 1);
}

static void on_connect(uv_connect_t *req, int status)
{
  struct conn *c = req->data;
  char why[400];
  if (c->finished) return;
  if (status < 0) {
    snprintf(why, sizeof why, N_("cannot connect to %s: %s"), c->addr, uv_strerror(status));
    kr_sess_fail(kr_link_session(c->link), KR_ECONNECT, why);
    finish(c, why);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  after_io(c);                 /* the first handshake message */
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  struct conn *c = req->data;
  char why[400];
  c->resolving = 0;
  if (c->finished) {
    uv_freeaddrinfo(res);
    if (c->handles == 0) conn_free(c);
    return;
  }
  if (status < 0 || !res) {
    snprintf(why, sizeof why, N_("cannot find %s: %s"), c->addr, uv_strerror(status));
    kr_sess_fail(kr_link_session(c->link), KR_ECONNECT, why);
    finish(c, why);
    uv_freeaddrinfo(res);
    return;
  }
  if (res->ai_family == AF_INET) ((struct sockaddr_in *)res->ai_addr)->sin_port = htons((uint16_t)c->port);
  else ((struct sockaddr_in6 *)res->ai_addr)->sin6_port = htons((uint16_t)c->port);
  start_tcp(c);
  c->creq.data = c;
  if ((status = uv_tcp_connect(&c->creq, &c->tcp, res->ai_addr, on_connect)) != 0) {
    snprintf(why, sizeof why, N_("cannot connect to %s: %s"), c->addr, uv_strerror(status));
    kr_sess_fail(kr_link_session(c->link), KR_ECONNECT, why);
    finish(c, why);
  }
  uv_freeaddrinfo(res);
}

static struct conn *dial(struct net *t, const char *addr, const char *label,
                         kr_net_target *target, struct slot *slot)
{
  struct addrinfo hints;
  char host[300], why[400];
  struct conn *c = conn_new(t, 1, label);
  int rc;

  if (!c) return NULL;
  c->target = target;
  c->slot = slot;
  snprintf(c->addr, sizeof c->addr, "%s", addr);
  if (kr_net_parse_addr(addr, host, sizeof host, &c->port)) {
    snprintf(why, sizeof why, N_("'%s' is not an address (HOST:PORT)"), addr);
    kr_sess_fail(kr_link_session(c->link), KR_EINVAL, why);
    finish(c, why);
    return c;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  c->gai.data = c;
  c->resolving = 1;
  if ((rc = uv_getaddrinfo(&t->loop, &c->gai, on_resolved, host, NULL, &hints)) != 0) {
    c->resolving = 0;
    snprintf(why, sizeof why, N_("cannot find %s: %s"), addr, uv_strerror(rc));
    kr_sess_fail(kr_link_session(c->link), KR_ECONNECT, why);
    finish(c, why);
  }
  return c;
}

/* ---- one-shot sync ---------------------------------------------------------- */

static void reschedule(struct net *t, struct conn *c, const kr_link_info *in)
{
  uint64_t now = uv_now(&t->loop);
  if (!t->serving) return;
  if (c->slot) {
    struct slot *s = c->slot;
    s->busy = 0;
    if (in->state == 1) {
      s->fails = 0;
      s->due = now + (uint64_t)t->interval_s * 1000;
    } else if (in->batches_in || in->batches_acked) {
      /* cut, but it got somewhere: go on soon from what was committed */
      s->fails = 0;
      s->due = now + 500 + randombytes_uniform(1000);
    } else {
      /* exponential backoff with jitter: 1 s, 2 s, 4 s ... at most KR_BACKOFF_MAX_S,
       * each times a random 0.5 .. 1.5 so that peers do not retry in step */
      uint64_t base = 1000ull << (s->fails < 9 ? s->fails : 9);
      if (base > KR_BACKOFF_MAX_S * 1000ull) base = KR_BACKOFF_MAX_S * 1000ull;
      s->fails++;
      s->due = now + base / 2 + randombytes_uniform((uint32_t)base + 1);
    }
  }
  /* fresh changes go on to the other peers at once */
  if (in->state == 1 && in->applied)
    for (size_t i = 0; i < t->nslots; i++)
      if (t->slots[i] != c->slot) t->slots[i]->due = now;
}

int kr_net_sync(kr_node *n, kr_net_target *tg, size_t count, const char *join,
                kr_net_log_fn log, void *ctx)
{
  struct net t;
  memset(&t, 0, sizeof t);
  if (uv_loop_init(&t.loop)) return -1;
  t.n = n;
  t.log = log;
  t.ctx = ctx;
  t.join = join;
  for (size_t i = 0; i < count; i++) {
    if (!dial(&t, tg[i].addr, tg[i].name ? tg[i].name : tg[i].addr, &tg[i], NULL)) {
      tg[i].info.state = -1;
      tg[i].info.err = KR_ENOMEM;
      snprintf(tg[i].info.reason, sizeof tg[i].info.reason, N_("out of memory"));
      t.failed++;
    }
  }
  uv_run(&t.loop, UV_RUN_DEFAULT);
  uv_loop_close(&t.loop);
  return t.failed;
}

/* ---- serve -------------------------------------------------------------------- */

static int load_slot(void *ctx, const kr_addr *a)
{
  struct net *t = ctx;
  struct slot *s, **p;
  for (size_t i = 0; i < t->nslots; i++)
    if (strcmp(t->slots[i]->name, a->name) == 0) {
      t->slots[i]->seen = 1;
      if (strcmp(t->slots[i]->addr, a->addr) != 0) {
        snprintf(t->slots[i]->addr, sizeof t->slots[i]->addr, "%s", a->addr);
        t->slots[i]->due = uv_now(&t->loop);
        t->slots[i]->fails = 0;
      }
      return 0;
    }
  if (!(s = calloc(1, sizeof *s))) return KR_ENOMEM;
  if (!(p = realloc(t->slots, (t->nslots + 1) * sizeof *p))) { free(s); return KR_ENOMEM; }
  t->slots = p;
  snprintf(s->name, sizeof s->name, "%s", a->name);
  snprintf(s->addr, sizeof s->addr, "%s", a->addr);
  s->due = uv_now(&t->loop);
  s->seen = 1;
  t->slots[t->nslots++] = s;
  return 0;
}

static void reload(struct net *t)
{
  size_t k = 0;
  for (size_t i = 0; i < t->nslots; i++) t->slots[i]->seen = 0;
  kr_node_addrs(t->n, load_slot, t);
  for (size_t i = 0; i < t->nslots; i++) {
    if (!t->slots[i]->seen && !t->slots[i]->busy) { free(t->slots[i]); continue; }
    t->slots[k++] = t->slots[i];
  }
  t->nslots = k;
}

static void on_sched(uv_timer_t *tm)
{
  struct net *t = tm->data;
  uint64_t now = uv_now(&t->loop), v;

  if (t->stopping) return;
  if (now - t->reloaded >= RELOAD_MS) {
    reload(t);
    t->reloaded = now;
  }
  /* another kring command on this home committed something: sync now */
  if (kr_node_data_version(t->n, &v) == 0 && v != t->version) {
    t->version = v;
    for (size_t i = 0; i < t->nslots; i++) t->slots[i]->due = now;
  }
  if (now - t->swept >= SWEEP_MS) {
    hosts_sweep(t, now);
    t->swept = now;
  }
  for (size_t i = 0; i < t->nslots && t->nsessions < KR_SERVE_MAX_CONNS; i++) {
    struct slot *s = t->slots[i];
    if (s->busy || now < s->due) continue;
    s->busy = 1;
    if (!dial(t, s->addr, s->name, NULL, s)) s->busy = 0;
  }
}

/* Which connection of h (of the whole pool when h is NULL) makes room for
 * a newcomer: the oldest that has sent nothing; if none, and the newcomer
 * has sent something, the oldest that waits for its turn or has not sent
 * all of message 1, then the oldest in the middle of the handshake. */
static struct conn *victim(struct net *t, struct host *h, int spoke)
{
  struct conn *c, *waiting = NULL, *talking = NULL;
  for (c = h ? h->first : t->pfirst; c; c = h ? c->hnext : c->pnext) {
    if (!c->spoke && !(c->spoke = has_bytes(c))) return c;
    if (!c->answered && !waiting) waiting = c;
    if (c->answered && !talking) talking = c;
  }
  if (!spoke) return NULL;
  return waiting ? waiting : talking;
}

/* Accept one connection into the pool (see "connections still in the
 * handshake" above). */
static void accept_one(struct net *t)
{
  struct sockaddr_storage sa;
  int len = sizeof sa;
  struct conn *c = conn_new(t, 0, "?"), *v;
  struct host *h;
  char ip[64] = "?";

  if (!c) {                        /* take it off the queue all the same */
    uv_tcp_t *drop = malloc(sizeof *drop);
    if (!drop) { t->accept_held = 1; return; }
    uv_tcp_init(&t->loop, drop);
    uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)drop);
    uv_close((uv_handle_t *)drop, (uv_close_cb)free);
    return;
  }
  start_tcp(c);
  if (uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)&c->tcp) != 0 ||
      uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) != 0 ||
      !(h = host_get(t, &sa))) {
    reset_close(c);                /* gone already, or no room to remember it */
    return;
  }
  if (sa.ss_family == AF_INET) uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
  else uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
  snprintf(c->label, sizeof c->label, "%s", ip);
  c->spoke = has_bytes(c);
  if (h->npending >= KR_SERVE_HOST_PENDING) {
    if (!(v = victim(t, h, c->spoke))) {
      tally(t, h, END_CROWD, NULL);
      reset_close(c);
      return;
    }
    pending_end(v, END_CROWD, NULL);
  }
  if (t->npending >= KR_SERVE_MAX_PENDING) {
    if (!(v = victim(t, NULL, c->spoke))) {
      tally(t, h, END_FULL, NULL);
      reset_close(c);
      return;
    }
    pending_end(v, END_FULL, NULL);
  }
  pending_add(t, c, h);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* At most KR_SERVE_ACCEPTS connections a turn of the loop, so that a flood
 * of them cannot starve the sessions: past that, libuv stops watching the
 * listener until on_prepare takes the one left waiting. */
static void on_connection(uv_stream_t *server, int status)
{
  struct net *t = server->data;
  if (status < 0 || t->stopping) return;
  if (t->accepts <= 0) {
    t->accept_held = 1;
    return;
  }
  t->accepts--;
  accept_one(t);
}

static void on_prepare(uv_prepare_t *p)
{
  struct net *t = p->data;
  t->accepts = KR_SERVE_ACCEPTS;
  if (t->accept_held && !t->stopping) {
    t->accept_held = 0;
    t->accepts--;
    accept_one(t);
  }
}

static void on_signal(uv_signal_t *sig, int signum)
{
  struct net *t = sig->data;
  uint64_t n = t->others, hosts = t->others_hosts;
  if (t->stopping) return;
  for (struct host *h = t->oldest; h; h = h->newer) {
    uint64_t k = 0;
    for (int i = 0; i < END_N; i++) k += h->count[i];
    n += k;
    hosts += k != 0;
  }
  if (n)
    logf_(t, "%llu connection%s from %llu address%s did not finish the handshake since the last "
          "line about them", (unsigned long long)n, n == 1 ? "" : "s", (unsigned long long)hosts,
          hosts == 1 ? "" : "es");
  t->stopping = 1;
  logf_(t, "stopping (%s)", signum == SIGINT ? "SIGINT" : "SIGTERM");
  uv_close((uv_handle_t *)&t->listener, NULL);
  uv_close((uv_handle_t *)&t->sched, NULL);
  uv_close((uv_handle_t *)&t->prep, NULL);
  uv_close((uv_handle_t *)&t->sigint, NULL);
  uv_close((uv_handle_t *)&t->sigterm, NULL);
  for (struct conn *c = t->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->resolving) uv_cancel((uv_req_t *)&c->gai);
    finish(c, N_("kring serve is stopping"));
  }
}

int kr_net_serve(kr_node *n, const kr_serve_opts *o)
{
  struct net t;
  struct sockaddr_storage sa;
  char host[300];
  int port, rc, namelen = sizeof sa;
  struct rlimit rl;

  memset(&t, 0, sizeof t);
  /* the pool and the sessions need some 600 files; leave room */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < FDS_WANTED &&
      rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FDS_WANTED ? FDS_WANTED : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (kr_net_parse_addr(o->listen, host, sizeof host, &port)) return KR_EINVAL;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0)
    return KR_EINVAL;
  if (uv_loop_init(&t.loop)) return KR_ENOMEM;
  t.n = n;
  t.log = o->log;
  t.ctx = o->ctx;
  t.serving = 1;
  t.interval_s = o->interval_s ? o->interval_s : KR_SERVE_INTERVAL_S;
  if (!(t.buckets = calloc(BUCKETS, sizeof *t.buckets))) {
    uv_loop_close(&t.loop);
    return KR_ENOMEM;
  }
  randombytes_buf(t.hashkey, sizeof t.hashkey);
  uv_tcp_init(&t.loop, &t.listener);
  t.listener.data = &t;
  if ((rc = uv_tcp_bind(&t.listener, (struct sockaddr *)&sa, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&t.listener, BACKLOG, on_connection)) != 0) {
    logf_(&t, "cannot listen on %s: %s", o->listen, uv_strerror(rc));
    uv_close((uv_handle_t *)&t.listener, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    uv_loop_close(&t.loop);
    free(t.buckets);
    return KR_ECONNECT;
  }
#ifdef TCP_DEFER_ACCEPT
  {
    /* Linux: hand us a connection only once its first bytes are in (or
     * KR_SERVE_FIRST_MS later), so one that sends nothing waits in the
     * kernel, not in the pool */
    uv_os_fd_t fd;
    int secs = KR_SERVE_FIRST_MS / 1000;
    if (uv_fileno((uv_handle_t *)&t.listener, &fd) == 0)
      setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
  }
#endif
  uv_tcp_getsockname(&t.listener, (struct sockaddr *)&sa, &namelen);
  port = ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
                                       : ((struct sockaddr_in6 *)&sa)->sin6_port);
  kr_node_data_version(n, &t.version);
  reload(&t);
  t.reloaded = uv_now(&t.loop);
  uv_timer_init(&t.loop, &t.sched);
  t.sched.data = &t;
  uv_timer_start(&t.sched, on_sched, 0, TICK_MS);
  uv_prepare_init(&t.loop, &t.prep);
  t.prep.data = &t;
  t.accepts = KR_SERVE_ACCEPTS;
  uv_prepare_start(&t.prep, on_prepare);
  uv_signal_init(&t.loop, &t.sigint);
  uv_signal_init(&t.loop, &t.sigterm);
  t.sigint.data = t.sigterm.data = &t;
  uv_signal_start(&t.sigint, on_signal, SIGINT);
  uv_signal_start(&t.sigterm, on_signal, SIGTERM);
  logf_(&t, "serving on %s port %d (%zu peer%s in the address book)", host, port, t.nslots,
        t.nslots == 1 ? "" : "s");
  if (o->ready) o->ready(o->ctx, port);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  uv_loop_close(&t.loop);
  for (size_t i = 0; i < t.nslots; i++) free(t.slots[i]);
  free(t.slots);
  while (t.oldest) host_free(&t, t.oldest);
  free(t.buckets);
  logf_(&t, "stopped");
  return 0;
}
