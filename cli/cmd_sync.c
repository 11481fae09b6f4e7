/* cmd_sync: kring serve, peer add|list|remove, sync, status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crdt/err.h"
#include "sync/net.h"

/* ---- logging ---------------------------------------------------------------- */

static void log_line(void *ctx, const char *line)
{
  char t[32];
  time_t now = time(NULL);
  struct tm tm;
  (void)ctx;
  localtime_r(&now, &tm);
  strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", &tm);
  fprintf(stderr, "%s kring: %s\n", t, cli_safe(line, -1));
  fflush(stderr);
}

/* ---- kring serve -------------------------------------------------------------- */

/*
 * One kring serve per home: two would sync with the same peers in turn,
 * dozens of times a second. serve.lock in the home holds the PID of the
 * one running, under an flock that the system lets go when it exits
 * (however it exits). *fd stays open while serving. -1 (printed) when
 * another holds it.
 */
static int serve_lock(int *fd)
{
  char path[4096], pid[32] = "";
  ssize_t k;

  snprintf(path, sizeof path, "%s/serve.lock", cli_home);
  if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) return 0;  /* read-only home */
  if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return 0;
    k = pread(*fd, pid, sizeof pid - 1, 0);
    pid[k > 0 ? k : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    close(*fd);
    *fd = -1;
    if (!pid[0]) snprintf(pid, sizeof pid, "%s", _("unknown"));
    cli_fail(_("kring serve is already running for %s (PID %s); one is enough. Stop that one first "
             "(kill %s, or systemctl stop kring-serve when it runs as a service) if you want to start "
             "it again"), cli_home, pid, pid);
    return -1;
  }
  snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, strlen(pid), 0) < 0) { /* the lock still holds */ }
  return 0;
}

int cmd_serve(int argc, char **argv)
{
  static const char usage[] = "kring serve [--listen HOST:PORT] [--interval SECONDS]";
  cli_opt o[] = {{"listen", 1, 0, NULL, 0}, {"interval", 1, 0, NULL, 0}};
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char listen[300], host[300];
  kr_serve_opts so;
  kr_node *n = NULL;
  size_t npos;
  int rc, port, lock = -1;
  long interval = KR_SERVE_INTERVAL_S;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, o, 2, pos, &npos, usage))) goto out;
  if (npos) { rc = cli_usage(usage, _("unexpected argument '%s'"), pos[0]); goto out; }
  if (!cli_val(&o[0])) snprintf(listen, sizeof listen, "0.0.0.0:%d", KR_DEFAULT_PORT);
  else snprintf(listen, sizeof listen, "%s", cli_val(&o[0]));
  if (kr_net_parse_addr(listen, host, sizeof host, &port)) {
    rc = cli_usage(usage, _("--listen takes HOST:PORT, such as 0.0.0.0:%d"), KR_DEFAULT_PORT);
    goto out;
  }
  snprintf(listen, sizeof listen, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
  if (cli_val(&o[1])) {
    char *end;
    interval = strtol(cli_val(&o[1]), &end, 10);
    if (*end || interval < 1 || interval > 86400) {
      rc = cli_usage(usage, _("--interval takes seconds, 1 to 86400"));
      goto out;
    }
  }
  if ((rc = cli_open(&n))) goto out;
  if (serve_lock(&lock) < 0) { rc = CLI_FAIL; goto out; }
  signal(SIGPIPE, SIG_IGN);
  memset(&so, 0, sizeof so);
  so.listen = listen;
  so.interval_s = (unsigned)interval;
  so.log = log_line;
  rc = kr_net_serve(n, &so);
  if (rc == KR_EINVAL) rc = cli_fail(_("cannot listen on '%s': not an IP address and port"), listen);
  else if (rc) rc = cli_fail(_("cannot listen on %s: another program uses that port (a kring serve "
                             "for another home?), or this user may not use it; pick another with "
                             "--listen HOST:PORT"), listen);
out:
  if (lock >= 0) close(lock);
  kr_node_close(n);
  free(o[0].vals);
  free(o[1].vals);
  free(pos);
  return rc;
}

/* ---- kring peer ------------------------------------------------------------- */

static int name_ok(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > KR_PEER_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
      return 0;
  return 1;
}

struct peer_ctx {
  kr_node *n;
  json_t *arr;
  int count;
  int status;            /* status: with what each lacks */
  int measure;           /* first pass: only measure the columns */
  int w[3];              /* widths of name, address, who */
};

/* Columns a text takes on a terminal (one per character). */
static int cols(const char *s)
{
  int c = 0;
  for (; *s; s++) c += ((unsigned char)*s & 0xc0) != 0x80;
  return c;
}

/* s, then spaces up to width w (at least one). */
static void cell(const char *s, int w)
{
  printf("%s%*s", s, w - cols(s) + 1, "");
}

/* How many changes the peer lacks from us as far as we know, or -1. */
static long long lacks_of(kr_node *n, const uint8_t *node)
{
  kr_vv v;
  kr_lacks *l;
  long long total = -1;
  if (kr_node_peer_vector(n, node, &v)) return -1;
  if (kr_lacks_open(n, &v, &l) == 0) {
    total = (long long)kr_lacks_total(l);
    kr_lacks_close(l);
  }
  kr_vv_free(&v);
  return total;
}

static int peer_row(void *ctx, const kr_addr *a)
{
  struct peer_ctx *p = ctx;
  char ok[32], hex[65] = "", who[80];
  long long lacks = a->has_node ? lacks_of(p->n, a->node) : -1;

  if (!p->measure) p->count++;
  snprintf(who, sizeof who, "%s", _("not yet met"));
  cli_ms_time(a->last_ok_ms, ok);
  if (a->has_node) {
    cli_hex(a->node, KR_NODE_LEN, hex);
    cli_node_name(p->n, a->node, who);
  }
  if (p->measure) {
    const char *c[3] = {cli_safe(a->name, -1), cli_safe(a->addr, -1), who};
    for (int i = 0; i < 3; i++)
      if (cols(c[i]) > p->w[i]) p->w[i] = cols(c[i]);
    return 0;
  }
  if (p->arr) {
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "name", a->name, "address", a->addr,
                          "node_id", a->has_node ? hex : NULL, "last_sync",
                          a->last_ok_ms ? ok : NULL, "last_error", a->last_err);
    if (p->status) json_object_set_new(o, "lacks", lacks >= 0 ? json_integer(lacks) : json_null());
    json_array_append_new(p->arr, o);
    return 0;
  }
  if (p->status) printf("  ");
  cell(cli_safe(a->name, -1), p->w[0]);
  cell(cli_safe(a->addr, -1), p->w[1]);
  cell(who, p->w[2]);
  printf(_("last sync %s"), ok);
  if (p->status) {
    if (lacks >= 0)
      printf(ngettext(", lacks %lld change", ", lacks %lld changes", (unsigned long)lacks), lacks);
    else printf(_(", lacks unknown"));
  }
  if (a->last_err) {
    char why[600];
    printf(_("\n%*s last attempt failed: %s"), p->w[0] + (p->status ? 2 : 0), "",
           cli_safe(cli_reason(a->last_err, why, sizeof why), -1));
  }
  printf("\n");
  return 0;
}

int cmd_peer(int argc, char **argv)
{
  static const char usage[] = "kring peer add NAME HOST:PORT | list | remove NAME";
  char host[300];
  kr_node *n = NULL;
  int rc, port;

  if (argc < 1) return cli_usage(usage, _("which peer command?"));
  if (strcmp(argv[0], "add") == 0) {
    if (argc != 3) return cli_usage(usage, _("peer add takes a name and an address"));
    if (!name_ok(argv[1]))
      return cli_usage(usage, _("a peer name is 1 to %d letters, digits, '-', '_' or '.'"), KR_PEER_NAME_MAX);
    if (kr_net_parse_addr(argv[2], host, sizeof host, &port) || port == 0)
      return cli_usage(usage, _("'%s' is not HOST:PORT (IPv6 as [ADDR]:PORT)"), argv[2]);
    if ((rc = cli_open(&n))) return rc;
    rc = kr_node_addr_add(n, argv[1], argv[2]);
    if (rc == KR_EEXISTS) rc = cli_fail(_("a peer named '%s' exists already (kring peer remove %s first)"), argv[1], argv[1]);
    else if (rc) rc = cli_fail(_("cannot add the peer: %s"), cli_strerror(rc));
    else if (!cli_json) printf(_("added peer %s at %s; kring serve syncs with it, or run kring sync %s\n"), argv[1], argv[2], argv[1]);
    else rc = cli_print_json(json_pack("{s:s, s:s}", "added", argv[1], "address", argv[2]));
  } else if (strcmp(argv[0], "remove") == 0) {
    if (argc != 2) return cli_usage(usage, _("peer remove takes a name"));
    if ((rc = cli_open(&n))) return rc;
    rc = kr_node_addr_remove(n, argv[1]);
    if (rc == KR_ENOTFOUND) rc = cli_fail(_("no peer named '%s' (see kring peer list)"), argv[1]);
    else if (rc) rc = cli_fail(_("cannot remove the peer: %s"), cli_strerror(rc));
    else if (!cli_json) printf(_("removed peer %s from the address book (it stays a member)\n"), argv[1]);
    else rc = cli_print_json(json_pack("{s:s}", "removed", argv[1]));
  } else if (strcmp(argv[0], "list") == 0) {
    struct peer_ctx p = {NULL, NULL, 0, 0, 1, {0, 0, 0}};
    if (argc != 1) return cli_usage(usage, _("peer list takes no arguments"));
    if ((rc = cli_open(&n))) return rc;
    p.n = n;
    if (cli_json) p.arr = json_array();
    if (!p.arr) kr_node_addrs(n, peer_row, &p);
    p.measure = 0;
    if ((rc = kr_node_addrs(n, peer_row, &p))) {
      json_decref(p.arr);
      rc = cli_fail(_("reading the peers: %s"), cli_strerror(rc));
    } else if (p.arr) {
      rc = cli_print_json(p.arr);
    } else if (!p.count) {
      printf(_("no peers yet: kring peer add NAME HOST:PORT\n"));
    }
  } else {
    return cli_usage(usage, _("unknown peer command '%s'"), argv[0]);
  }
  kr_node_close(n);
  return rc;
}

/* ---- kring sync ---------------------------------------------------------------- */

struct book {
  kr_net_target *t;
  size_t n, cap;
  char **owned;
  size_t nowned;
};

static char *keep(struct book *b, const char *s)
{
  char *c = strdup(s), **o;
  if (!c || !(o = realloc(b->owned, (b->nowned + 1) * sizeof *o))) { free(c); return NULL; }
  b->owned = o;
  o[b->nowned++] = c;
  return c;
}

static int add_target(struct book *b, const char *name, const char *addr)
{
  kr_net_target *t;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 8;
    if (!(t = realloc(b->t, cap * sizeof *t))) return KR_ENOMEM;
    b->t = t;
    b->cap = cap;
  }
  t = &b->t[b->n++];
  memset(t, 0, sizeof *t);
  t->name = name ? keep(b, name) : NULL;
  t->addr = keep(b, addr);
  return t->addr && (!name || t->name) ? 0 : KR_ENOMEM;
}

static int book_all(void *ctx, const kr_addr *a) { return add_target(ctx, a->name, a->addr); }

struct book_find { const char *name; char addr[300]; int found; };
static int book_one(void *ctx, const kr_addr *a)
{
  struct book_find *f = ctx;
  if (strcmp(a->name, f->name) != 0) return 0;
  snprintf(f->addr, sizeof f->addr, "%s", a->addr);
  f->found = 1;
  return 1;
}

int cmd_sync(int argc, char **argv)
{
  static const char usage[] = "kring sync [PEER|HOST:PORT]...";
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  struct book b = {NULL, 0, 0, NULL, 0};
  kr_node *n = NULL;
  json_t *arr = NULL;
  size_t npos;
  int rc, failed;

  if (!pos) return cli_fail(_("out of memory"));
  if ((rc = cli_parse(argc, argv, NULL, 0, pos, &npos, usage))) goto out;
  if ((rc = cli_open(&n))) goto out;
  for (size_t i = 0; i < npos; i++) {
    struct book_find f = {pos[i], "", 0};
    char host[300];
    int port;
    if (kr_node_addrs(n, book_one, &f) < 0) { rc = cli_fail(_("cannot read the peers")); goto out; }
    if (f.found) rc = add_target(&b, pos[i], f.addr);
    else if (strchr(pos[i], ':') && kr_net_parse_addr(pos[i], host, sizeof host, &port) == 0)
      rc = add_target(&b, NULL, pos[i]);
    else {
      rc = cli_fail(_("'%s' is neither a peer name (see kring peer list) nor HOST:PORT"), pos[i]);
      goto out;
    }
    if (rc) { rc = cli_fail(_("out of memory")); goto out; }
  }
  if (!npos) {
    if ((rc = kr_node_addrs(n, book_all, &b))) { rc = cli_fail(_("cannot read the peers: %s"), cli_strerror(rc)); goto out; }
    if (!b.n) {
      rc = cli_fail(_("no peers to sync with: add one with kring peer add NAME HOST:PORT, or name HOST:PORT"));
      goto out;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  failed = kr_net_sync(n, b.t, b.n, NULL, NULL, NULL);
  if (cli_json) arr = json_array();
  for (size_t i = 0; i < b.n; i++) {
    const kr_link_info *in = &b.t[i].info;
    const char *label = b.t[i].name ? b.t[i].name : b.t[i].addr;
    char who[80] = "";
    if (in->have_peer) cli_node_name(n, in->peer, who);
    if (arr) {
      json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:f}", "peer", label,
                            "address", b.t[i].addr, "ok", in->state == 1, "sent",
                            (json_int_t)in->sent, "received", (json_int_t)in->received, "new",
                            (json_int_t)in->applied, "bytes_out", (json_int_t)in->bytes_out,
                            "bytes_in", (json_int_t)in->bytes_in, "seconds", b.t[i].seconds);
      if (in->state != 1) json_object_set_new(o, "error", json_string(in->reason));
      json_array_append_new(arr, o);
    } else if (in->state == 1) {
      printf(_("%s%s%s%s: sent %llu, received %llu (%llu new), %.2f s\n"), cli_safe(label, -1),
             who[0] ? " (" : "",
             who, who[0] ? ")" : "", (unsigned long long)in->sent,
             (unsigned long long)in->received, (unsigned long long)in->applied, b.t[i].seconds);
    } else {
      char why[600];
      fprintf(stderr, _("kring: sync with %s failed: %s\n"), cli_safe(label, -1),
              cli_safe(cli_reason(in->reason, why, sizeof why), -1));
    }
  }
  if (arr) cli_print_json(arr);
  rc = failed ? CLI_FAIL : CLI_OK;
out:
  kr_node_close(n);
  for (size_t i = 0; i < b.nowned; i++) free(b.owned[i]);
  free(b.owned);
  free(b.t);
  free(pos);
  return rc;
}

/* ---- kring status ---------------------------------------------------------------- */

static int count_member(void *ctx, const kr_member *m)
{
  int *c = ctx;
  if (m->admitted && !m->removed) (*c)++;
  return 0;
}

/* What this node holds back, and why: changes stamped ahead of its clock,
 * peers whose clock was too far off, admissions that do not count. */
struct notes_ctx {
  kr_node *n;
  json_t *held, *clocks, *voids;
  int lines;
};

static void notes_heading(struct notes_ctx *c)
{
  if (!c->lines++) printf(_("\nheld back\n"));
}

static int held_row(void *ctx, const kr_held *h)
{
  struct notes_ctx *c = ctx;
  char who[80], t[32], hex[65];
  cli_node_name(c->n, h->origin, who);
  if (c->held) {
    cli_hex(h->origin, KR_NODE_LEN, hex);
    cli_time(kr_hlc_make(h->until_ms, 0), 1, t);
    json_array_append_new(c->held, json_pack("{s:s, s:I, s:s}", "origin", hex, "changes",
                                             (json_int_t)h->count, "until", t));
    return 0;
  }
  cli_time(kr_hlc_make(h->until_ms, 0), 0, t);
  notes_heading(c);
  printf(ngettext("  %llu change of %s held until %s: stamped ahead of this clock. It is "
                  "applied then;\n  if %s's clock was set wrong, ask them to set it right\n",
                  "  %llu changes of %s held until %s: stamped ahead of this clock. They are "
                  "applied then;\n  if %s's clock was set wrong, ask them to set it right\n",
                  (unsigned long)h->count),
         (unsigned long long)h->count, who, t, who);
  return 0;
}

static int clock_row(void *ctx, const kr_clock_note *k)
{
  struct notes_ctx *c = ctx;
  char who[80], t[32], span[48], tspan[96], hex[65];
  uint64_t abs = k->skew_ms < 0 ? (uint64_t)-k->skew_ms : (uint64_t)k->skew_ms;
  cli_node_name(c->n, k->peer, who);
  if (c->clocks) {
    cli_hex(k->peer, KR_NODE_LEN, hex);
    cli_ms_time(k->at_ms, t);
    json_array_append_new(c->clocks, json_pack("{s:s, s:I, s:s}", "peer", hex, "skew_ms",
                                               (json_int_t)k->skew_ms, "at", t));
    return 0;
  }
  kr_link_span(abs, span, sizeof span);
  cli_ms_time(k->at_ms, t);
  notes_heading(c);
  printf(k->skew_ms < 0
         ? _("  clock: on %s this node's clock was %s ahead of %s's; syncs with it are refused "
             "until the\n  clocks agree within %u minutes: set the wrong one right\n")
         : _("  clock: on %s this node's clock was %s behind %s's; syncs with it are refused "
             "until the\n  clocks agree within %u minutes: set the wrong one right\n"),
         t, cli_reason(span, tspan, sizeof tspan), who, KR_HLC_MAX_SKEW_MS / 60000);
  return 0;
}

static int void_row(void *ctx, const kr_void_admission *v)
{
  struct notes_ctx *c = ctx;
  char by[80], winner[80], hex[65];
  if (c->voids) {
    cli_hex(v->node, KR_NODE_LEN, hex);
    json_array_append_new(c->voids, json_pack("{s:s, s:s}", "node_id", hex, "org",
                                              v->org ? v->org : ""));
    return 0;
  }
  cli_node_name(c->n, v->at.origin, by);
  cli_node_name(c->n, v->winner, winner);
  notes_heading(c);
  printf(_("  the admission of %s by %s is void: its invite had already admitted %s.\n"
         "  %s must ask a member for a new invite and join with it\n"),
         cli_safe(v->org, -1), by, winner, cli_safe(v->org, -1));
  return 0;
}

static int notes(kr_node *n, struct notes_ctx *c)
{
  int rc;
  c->n = n;
  if ((rc = kr_node_held(n, held_row, c)) || (rc = kr_node_clock_notes(n, clock_row, c)) ||
      (rc = kr_node_void_admissions(n, void_row, c)))
    return cli_fail(_("reading the store: %s"), cli_strerror(rc));
  return CLI_OK;
}

int cmd_status(int argc, char **argv)
{
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  char nhex[33], id[65];
  uint64_t vols, erased, changes, sealed, bad;
  struct peer_ctx p = {NULL, NULL, 0, 1, 0, {0, 0, 0}};
  kr_node *n;
  json_t *lost = NULL;
  int rc, members = 0, me;

  if (argc) return cli_usage("kring status", _("unexpected argument '%s'"), argv[0]);
  if ((rc = cli_open(&n))) return rc;
  p.n = n;
  kr_node_network(n, net, founder);
  cli_hex(net, KR_NETWORK_LEN, nhex);
  cli_hex(kr_node_id(n), KR_NODE_LEN, id);
  me = kr_node_is_member(n, kr_node_id(n));
  if ((rc = kr_node_members(n, count_member, &members)) ||
      (rc = kr_node_counts(n, &vols, &erased, &changes)) ||
      (rc = kr_node_sealed_count(n, &sealed)) || (rc = kr_node_bad_groups(n, &bad)) ||
      !(lost = cli_access_lost_json(n, &rc))) {
    rc = cli_fail(_("reading the store: %s"), cli_strerror(rc));
    goto out;
  }
  if (cli_json) {
    struct notes_ctx c = {NULL, json_array(), json_array(), json_array(), 0};
    p.arr = json_array();
    if ((rc = kr_node_addrs(n, peer_row, &p))) rc = cli_fail(_("reading the peers"));
    else rc = notes(n, &c);
    if (rc) {
      json_decref(p.arr);
      json_decref(c.held);
      json_decref(c.clocks);
      json_decref(c.voids);
      goto out;
    }
    rc = cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:I, s:I, s:I, s:I, s:o, s:o,"
                                  " s:o, s:o, s:O}",
                                  "node_id", id, "org", kr_node_org(n), "kind", kr_node_kind(n),
                                  "network_id", nhex, "member", me == 1, "members", members,
                                  "volunteers", (json_int_t)vols, "sealed", (json_int_t)sealed,
                                  "bad_groups", (json_int_t)bad, "changes", (json_int_t)changes,
                                  "peers", p.arr, "held", c.held, "clock_refused", c.clocks,
                                  "void_admissions", c.voids, "access_lost", lost));
    goto out;
  }
  printf(_("node     %s (%s), id %.12s\n"), cli_safe(kr_node_org(n), -1), cli_safe(kr_node_kind(n), -1),
         id);
  printf(ngettext("network  %s, %d member%s\n", "network  %s, %d members%s\n", members), nhex,
         members, me == 1 ? "" : _("; this node is not admitted yet"));
  printf(ngettext("register %llu volunteer (%llu erased)", "register %llu volunteers (%llu erased)",
                  (unsigned long)vols), (unsigned long long)vols, (unsigned long long)erased);
  printf(ngettext(", %llu change held\n", ", %llu changes held\n", (unsigned long)changes),
         (unsigned long long)changes);
  /* the volunteers held only sealed: counted, never shown */
  if (sealed)
    printf(ngettext("sealed   %llu volunteer this node may not read (no consent for this "
                    "organisation): held sealed, never shown\n",
                    "sealed   %llu volunteers this node may not read (no consent for this "
                    "organisation): held sealed, never shown\n", (unsigned long)sealed),
           (unsigned long long)sealed);
  if (bad)
    printf(ngettext("ignored  %llu sealed group whose values break the field rules (made by a "
                    "faulty or dishonest node)\n",
                    "ignored  %llu sealed groups whose values break the field rules (made by a "
                    "faulty or dishonest node)\n", (unsigned long)bad),
           (unsigned long long)bad);
  if (json_array_size(lost)) {
    printf(_("\nstopped reading (what this node knew of them is deleted here)\n"));
    cli_access_lost_print(lost, 10);
  }
  printf(_("\npeers\n"));
  p.measure = 1;
  kr_node_addrs(n, peer_row, &p);
  p.measure = 0;
  if ((rc = kr_node_addrs(n, peer_row, &p))) { rc = cli_fail(_("reading the peers")); goto out; }
  if (!p.count) printf(_("  none yet: kring peer add NAME HOST:PORT\n"));
  {
    struct notes_ctx c = {NULL, NULL, NULL, NULL, 0};
    rc = notes(n, &c);
  }
out:
  json_decref(lost);
  kr_node_close(n);
  return rc;
}
