/* net: sync sessions over TCP with libuv (see net.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "crdt/err.h"
#include "sync/invite.h"
#include "sync/net.h"

#define TICK_MS      250
#define RELOAD_MS    2000
#define CLOSE_MS     3000       /* longest wait for the last bytes to go out */

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
  char label[320];
  char addr[300];
  uint64_t t0, last_io, finished_at;
  struct conn *prev, *next;
  char rbuf[65536];
};

struct net {
  uv_loop_t loop;
  kr_node *n;
  kr_net_log_fn log;
  void *ctx;
  const char *join;
  struct conn *conns;
  int nconns, stopping, failed;
  /* serve */
  uv_tcp_t listener;
  uv_timer_t sched;
  uv_signal_t sigint, sigterm;
  int serving;
  struct slot **slots;
  size_t nslots;
  unsigned interval_s;
  uint64_t version, reloaded;
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

/* ---- one connection -------------------------------------------------------- */

static void conn_free(struct conn *c)
{
  kr_link_free(c->link);
  if (c->prev) c->prev->next = c->next; else c->net->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->net->nconns--;
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
  const uint8_t *p = kr_link_pending(c->link, &len);
  uv_write_t *req;
  uv_buf_t b;

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
  if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
    free(b.base);
    free(req);
  }
}

static void after_io(struct conn *c)
{
  flush(c);
  if (kr_link_info_get(c->link)->state != 0) finish(c, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
  struct conn *c = h->data;
  (void)suggested;
  b->base = c->rbuf;
  b->len = sizeof c->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
  struct conn *c = s->data;
  if (c->finished) return;
  if (nread > 0) {
    c->last_io = uv_now(&c->net->loop);
    kr_link_feed(c->link, (const uint8_t *)b->base, (size_t)nread);
    after_io(c);
  } else if (nread < 0) {
    char why[200];
    if (nread == UV_EOF) snprintf(why, sizeof why, "the peer closed the connection");
    else snprintf(why, sizeof why, "connection lost: %s", uv_strerror((int)nread));
    finish(c, why);
  }
}

static void on_tick(uv_timer_t *tm)
{
  struct conn *c = tm->data;
  if (c->finished) {
    if (uv_now(&c->net->loop) - c->finished_at > CLOSE_MS) close_all(c);
    return;
  }
  kr_link_tick(c->link, kr_node_now_ms(c->net->n));
  if (kr_link_info_get(c->link)->state == 0 && uv_now(&c->net->loop) - c->last_io > KR_IDLE_MS) {
    finish(c, "no data either way for 60 s");
    return;
  }
  after_io(c);
}

static struct conn *conn_new(struct net *t, int outbound, const char *label)
{
  struct conn *c = calloc(1, sizeof *c);
  int rc;
  if (!c) return NULL;
  c->net = t;
  c->outbound = outbound;
  c->t0 = uv_hrtime();
  c->last_io = uv_now(&t->loop);
  snprintf(c->label, sizeof c->label, "%s", label);
  if ((rc = kr_link_new(t->n, outbound, outbound ? t->join : NULL, kr_node_now_ms(t->n), &c->link))) {
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
  t->nconns++;
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
    snprintf(why, sizeof why, "cannot connect to %s: %s", c->addr, uv_strerror(status));
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
    snprintf(why, sizeof why, "cannot find %s: %s", c->addr, uv_strerror(status));
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
    snprintf(why, sizeof why, "cannot connect to %s: %s", c->addr, uv_strerror(status));
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
    snprintf(why, sizeof why, "'%s' is not an address (HOST:PORT)", addr);
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
    snprintf(why, sizeof why, "cannot find %s: %s", addr, uv_strerror(rc));
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
      snprintf(tg[i].info.reason, sizeof tg[i].info.reason, "out of memory");
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
  for (size_t i = 0; i < t->nslots && t->nconns < KR_SERVE_MAX_CONNS; i++) {
    struct slot *s = t->slots[i];
    if (s->busy || now < s->due) continue;
    s->busy = 1;
    if (!dial(t, s->addr, s->name, NULL, s)) s->busy = 0;
  }
}

static void on_connection(uv_stream_t *server, int status)
{
  struct net *t = server->data;
  struct conn *c;
  struct sockaddr_storage sa;
  int len = sizeof sa;
  char ip[64] = "?";

  if (status < 0 || t->stopping) return;
  if (t->nconns >= KR_SERVE_MAX_CONNS) {
    uv_tcp_t *drop = malloc(sizeof *drop);
    if (!drop) return;
    uv_tcp_init(&t->loop, drop);
    if (uv_accept(server, (uv_stream_t *)drop) == 0)
      logf_(t, "refused a connection: already %d sessions", t->nconns);
    uv_close((uv_handle_t *)drop, (uv_close_cb)free);
    return;
  }
  if (!(c = conn_new(t, 0, "?"))) return;
  start_tcp(c);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    finish(c, "cannot accept the connection");
    return;
  }
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0) {
    if (sa.ss_family == AF_INET) uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
    else uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
  }
  snprintf(c->label, sizeof c->label, "%s", ip);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *sig, int signum)
{
  struct net *t = sig->data;
  if (t->stopping) return;
  t->stopping = 1;
  logf_(t, "stopping (%s)", signum == SIGINT ? "SIGINT" : "SIGTERM");
  uv_close((uv_handle_t *)&t->listener, NULL);
  uv_close((uv_handle_t *)&t->sched, NULL);
  uv_close((uv_handle_t *)&t->sigint, NULL);
  uv_close((uv_handle_t *)&t->sigterm, NULL);
  for (struct conn *c = t->conns, *nx; c; c = nx) {
    nx = c->next;
    if (c->resolving) uv_cancel((uv_req_t *)&c->gai);
    finish(c, "kring serve is stopping");
  }
}

int kr_net_serve(kr_node *n, const kr_serve_opts *o)
{
  struct net t;
  struct sockaddr_storage sa;
  char host[300];
  int port, rc, namelen = sizeof sa;

  memset(&t, 0, sizeof t);
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
  uv_tcp_init(&t.loop, &t.listener);
  t.listener.data = &t;
  if ((rc = uv_tcp_bind(&t.listener, (struct sockaddr *)&sa, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&t.listener, 64, on_connection)) != 0) {
    logf_(&t, "cannot listen on %s: %s", o->listen, uv_strerror(rc));
    uv_close((uv_handle_t *)&t.listener, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    uv_loop_close(&t.loop);
    return KR_ECONNECT;
  }
  uv_tcp_getsockname(&t.listener, (struct sockaddr *)&sa, &namelen);
  port = ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
                                       : ((struct sockaddr_in6 *)&sa)->sin6_port);
  kr_node_data_version(n, &t.version);
  reload(&t);
  t.reloaded = uv_now(&t.loop);
  uv_timer_init(&t.loop, &t.sched);
  t.sched.data = &t;
  uv_timer_start(&t.sched, on_sched, 0, TICK_MS);
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
  logf_(&t, "stopped");
  return 0;
}
