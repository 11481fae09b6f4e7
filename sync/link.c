/* link: a sync session answered from a node (see link.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/i18n.h"
#include "sync/invite.h"
#include "sync/link.h"

struct kr_link {
  kr_node *n;
  kr_node *reader;             /* second connection: the snapshot we send from */
  kr_lacks *lacks;
  int exhausted;
  kr_sess *s;
  int initiator;
  kr_link_info info;
  kr_link_commit_fn on_commit;
  void *commit_ctx;
};

void kr_link_hex12(const uint8_t *id, char out[13])
{
  static const char d[] = "0123456789abcdef";
  for (int i = 0; i < 6; i++) {
    out[2 * i] = d[id[i] >> 4];
    out[2 * i + 1] = d[id[i] & 15];
  }
  out[12] = 0;
}

int kr_link_new(kr_node *n, int initiator, const char *join, uint64_t now_ms, kr_link **out)
{
  kr_link *l = calloc(1, sizeof *l);
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  int rc;

  *out = NULL;
  if (!l) return KR_ENOMEM;
  kr_node_network(n, net, founder);
  if ((rc = kr_sess_new(initiator, kr_node_secret_key(n), net, join, now_ms, &l->s))) {
    free(l);
    return rc;
  }
  l->n = n;
  l->initiator = initiator;
  *out = l;
  return 0;
}

void kr_link_free(kr_link *l)
{
  if (!l) return;
  kr_lacks_close(l->lacks);
  kr_node_close(l->reader);
  kr_sess_free(l->s);
  free(l);
}

static void refuse(kr_link *l, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(kr_link *l, int err, const char *fmt, ...)
{
  char why[KR_SYNC_REASON_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  kr_sess_refuse(l->s, err, why);
}

/* A join request inside the handshake: check it as `kring member accept`
 * does, and admit the peer. */
static int admit(kr_link *l, const uint8_t *peer, const char *text)
{
  kr_join_req *req = calloc(1, sizeof *req);
  uint8_t iid[KR_SUBJECT_LEN];
  int rc, used;

  if (!req) return KR_ENOMEM;
  if ((rc = kr_join_parse(text, req))) {
    refuse(l, rc, N_("join request refused: %s"), kr_strerror(rc));
  } else if ((rc = kr_join_inviter(l->n, req)) == KR_ENETWORK) {
    refuse(l, rc, N_("join request is for another kring network"));
  } else if (rc == KR_ENOTMEMBER) {
    refuse(l, rc, N_("the invite was made by a node that is not a member"));
  } else if (rc) {
    refuse(l, rc, N_("join request refused: %s"), kr_strerror(rc));
  } else if (memcmp(req->node, peer, KR_NODE_LEN) != 0) {
    refuse(l, rc = KR_EBADSIG, N_("join request names another node"));
  } else if ((rc = kr_node_is_member(l->n, req->inv.inviter)) != 1) {
    refuse(l, rc = KR_ENOTMEMBER, N_("the invite was made by a node that is not a member"));
  } else if (kr_node_now_ms(l->n) > req->inv.expires_ms) {
    refuse(l, rc = KR_EEXPIRED, N_("the invite has expired"));
  } else {
    kr_invite_id(&req->inv, iid);
    if ((used = kr_node_invite_used(l->n, iid)) < 0) {
      refuse(l, rc = used, N_("reading the members: %s"), kr_strerror(used));
    } else if ((rc = kr_node_is_member(l->n, peer)) == 1) {
      rc = 0;                       /* admitted already: a retry after a cut link */
    } else if (used) {
      refuse(l, rc = KR_EUSED, N_("the invite has already been used"));
    } else if ((rc = kr_node_admit(l->n, peer, req->org, req->kind, req->inv.invite_pk,
                                   req->proof))) {
      refuse(l, rc, N_("cannot admit: %s"), kr_strerror(rc));
    } else {
      l->info.admitted = 1;
    }
  }
  free(req);
  return rc;
}

void kr_link_span(uint64_t ms, char *out, size_t cap)
{
  /* to the nearest minute from an hour on, else to the nearest second */
  uint64_t r = ms >= 3600000 ? (ms + 30000) / 60000 * 60000 : (ms + 500) / 1000 * 1000;
  uint64_t min = r / 60000, h = min / 60, d = h / 24;
  if (d >= 730) snprintf(out, cap, N_("%llu years"), (unsigned long long)(d / 365));
  else if (d >= 2) snprintf(out, cap, N_("%llu days"), (unsigned long long)d);
  else if (h) snprintf(out, cap, N_("%llu h %llu min"), (unsigned long long)h, (unsigned long long)(min % 60));
  else if (min) snprintf(out, cap, N_("%llu min %llu s"), (unsigned long long)min,
                         (unsigned long long)(r / 1000 % 60));
  else snprintf(out, cap, N_("%llu s"), (unsigned long long)(r / 1000));
}

/* Clocks too far apart would let one node's stamps win every field for as
 * long as the difference: both sides refuse, each saying by how much
 * (docs/protocol.md, S1). 1 when refused. */
static int clock_off(kr_link *l, const kr_sess_event *ev, int trusted)
{
  int64_t skew = (int64_t)(ev->peer_clock_ms - kr_node_now_ms(l->n));
  char span[48], org[KR_ORG_MAX + 1], who[13], why[400];
  uint64_t abs = skew < 0 ? (uint64_t)-skew : (uint64_t)skew;

  l->info.peer_skew_ms = skew;
  /* Noted for `kring status` (members only: a stranger writes nothing). */
  if (trusted) kr_node_clock_note(l->n, ev->peer, skew);
  if (abs <= KR_HLC_MAX_SKEW_MS) return 0;
  kr_link_span(abs, span, sizeof span);
  kr_link_hex12(ev->peer, who);
  if (kr_node_member_org(l->n, ev->peer, org, sizeof org) != 1)
    snprintf(org, sizeof org, N_("node %s"), who);
  l->info.clock_refused = 1;
  snprintf(why, sizeof why,
           skew < 0 ? N_("this node's clock is %s ahead of %s's: set the clock right (kring syncs "
                         "only while clocks agree within %u minutes)")
                    : N_("this node's clock is %s behind %s's: set the clock right (kring syncs "
                         "only while clocks agree within %u minutes)"),
           span, org, KR_HLC_MAX_SKEW_MS / 60000);
  kr_sess_refuse_told(l->s, KR_ECLOCK, why);
  return 1;
}

/* A node whose admission is void (its invite had admitted another node
 * first) is told so, and what to do. 1 when it was. */
struct void_find { const uint8_t *node; kr_void_admission v; char org[KR_ORG_MAX + 1], winner[KR_ORG_MAX + 1]; int found; };
static int void_cb(void *ctx, const kr_void_admission *v)
{
  struct void_find *f = ctx;
  if (f->found || memcmp(v->node, f->node, KR_NODE_LEN) != 0) return 0;
  f->found = 1;
  snprintf(f->org, sizeof f->org, "%s", v->org ? v->org : "");
  snprintf(f->winner, sizeof f->winner, "%s", v->winner_org ? v->winner_org : "");
  return 0;
}

static int void_admission(kr_link *l, const uint8_t *peer)
{
  struct void_find f;
  memset(&f, 0, sizeof f);
  f.node = peer;
  if (kr_node_void_admissions(l->n, void_cb, &f) || !f.found) return 0;
  refuse(l, KR_ENOTMEMBER, N_("the admission of %s is void: its invite had already admitted %s. "
                              "Ask a member for a new invite and join with it"), f.org, f.winner);
  return 1;
}

static int on_peer(kr_link *l, const kr_sess_event *ev)
{
  char who[13];
  kr_vv v;
  uint8_t *heads = NULL;
  int rc, ok = 0;

  memcpy(l->info.peer, ev->peer, KR_NODE_LEN);
  l->info.have_peer = 1;
  kr_link_hex12(ev->peer, who);
  if (memcmp(ev->peer, kr_node_id(l->n), KR_NODE_LEN) == 0) {
    refuse(l, KR_EINVAL, N_("connected to itself"));
    return 0;
  }
  if (!ev->join && (ok = kr_node_trusted(l->n, ev->peer)) != 1) {
    if (ok < 0) refuse(l, ok, N_("reading the members: %s"), kr_strerror(ok));
    else if (kr_node_is_removed(l->n, ev->peer) == 1)
      refuse(l, KR_ENOTMEMBER, N_("node %s was removed from this network"), who);
    else if (void_admission(l, ev->peer))
      ;
    else
      refuse(l, KR_ENOTMEMBER, N_("node %s is not a member of this network"), who);
    return 0;
  }
  /* Before a join request admits anyone: a node whose clock is off would
   * be admitted and then refused. */
  if (clock_off(l, ev, ok == 1)) return 0;
  if (ev->join && admit(l, ev->peer, ev->join)) return 0;
  if ((rc = kr_node_vector(l->n, &v)) ||
      (rc = (heads = malloc(v.n * KR_HEAD_LEN + 1)) ? 0 : KR_ENOMEM) ||
      (rc = kr_node_heads(l->n, &v, heads))) {
    refuse(l, rc, N_("reading our vector: %s"), kr_strerror(rc));
    kr_vv_free(&v);
    free(heads);
    return 0;
  }
  rc = kr_sess_accept(l->s, &v, heads);
  kr_vv_free(&v);
  free(heads);
  return rc;
}

/* Where the peer's head for an origin differs from ours at the same seq,
 * the two hold different histories of it (an equivocation): send the
 * whole history we hold, so that the peer meets the other version with
 * its signature, which is the proof it needs (node/member.c). A peer that
 * lies about heads only gets changes it had. */
static int diverged(kr_link *l, const kr_vv *peer, const uint8_t *heads, kr_vv *send_for)
{
  int rc = kr_vv_merge(send_for, peer);
  for (size_t i = 0; !rc && heads && i < peer->n; i++) {
    uint8_t mine[KR_HEAD_LEN];
    int hr = kr_node_head(l->reader, peer->e[i].origin, peer->e[i].seq, mine);
    if (hr == KR_ENOTFOUND) continue;
    if (hr) return hr;
    if (memcmp(mine, heads + i * KR_HEAD_LEN, KR_HEAD_LEN) != 0) {
      l->info.diverged++;
      rc = kr_vv_set(send_for, peer->e[i].origin, 0);
    }
  }
  return rc;
}

static int on_vector(kr_link *l, const kr_vv *peer, const uint8_t *heads)
{
  kr_vv send_for;
  int rc;
  kr_vv_init(&send_for);
  if ((rc = kr_node_reopen(l->n, &l->reader)) || (rc = diverged(l, peer, heads, &send_for)) ||
      (rc = kr_lacks_open(l->reader, &send_for, &l->lacks))) {
    kr_vv_free(&send_for);
    kr_sess_fail(l->s, rc, N_("cannot read what the peer lacks"));
    return rc;
  }
  kr_vv_free(&send_for);
  l->info.to_send = kr_lacks_total(l->lacks);
  return 0;
}

/* A refusal that the batch survives: a change whose origin is not a
 * member here (KR_ENOTMEMBER), or that withholds an op on a volunteer the
 * sender erased by a change that does not count here (KR_EREDACTED, with
 * the rest of its origin in this batch), or that does not follow what this
 * node holds of its origin (KR_EGAP: the sender holds it past a gap of its
 * own, from a bundle). It is never stored, but it does
 * not make the sender wrong: the sender may not know a removal yet, or an
 * admission that a removal took back here (docs/crdt.md, "Taking back");
 * a member relaying a stranger's change gains nothing either. Skipping,
 * rather than closing, lets the two nodes still exchange everything else
 * (among it the removal the sender lacks); the change comes again, and
 * counts once this node learns what lets it in. */
static int skippable(int rc) { return rc == KR_ENOTMEMBER || rc == KR_EREDACTED || rc == KR_EGAP; }

static int on_batch(kr_link *l, const kr_sess_event *ev)
{
  uint32_t applied = 0, known = 0, held = 0;
  int rc;

  if ((rc = kr_node_batch_begin(l->n))) {
    kr_sess_fail(l->s, rc, N_("cannot start a transaction (database busy or read-only)"));
    return rc;
  }
  for (size_t i = 0; i < ev->count; i++) {
    int fresh;
    rc = kr_node_batch_apply_next(l->n, ev->chg[i], ev->len[i], &fresh);
    if (rc == 0) {
      if (fresh) applied++;
      else if (kr_node_last_held(l->n)) held++;
      else known++;
    } else if (skippable(rc)) {
      l->info.skipped++;
    } else {
      char why[KR_SYNC_REASON_MAX];
      kr_change c;
      kr_node_batch_end(l->n, 0);
      if (kr_change_decode(ev->chg[i], ev->len[i], KR_CHANGE_MAX, &c) == 0) {
        char who[13];
        kr_link_hex12(c.origin, who);
        snprintf(why, sizeof why, N_("batch %llu refused, nothing of it stored: change %zu "
                                     "(origin %s, seq %llu): %s"),
                 (unsigned long long)ev->batch, i + 1, who, (unsigned long long)c.seq,
                 kr_strerror(rc));
        kr_change_free(&c);
      } else {
        snprintf(why, sizeof why, N_("batch %llu refused, nothing of it stored: change %zu: %s"),
                 (unsigned long long)ev->batch, i + 1, kr_strerror(rc));
      }
      kr_sess_fail(l->s, rc, why);
      return rc;
    }
  }
  if ((rc = kr_node_batch_end(l->n, 1))) {
    char why[KR_SYNC_REASON_MAX];
    snprintf(why, sizeof why, N_("batch %llu refused, nothing of it stored: %s"),
             (unsigned long long)ev->batch,
             rc == KR_EDB ? N_("cannot commit (database busy or damaged)") : kr_strerror(rc));
    kr_sess_fail(l->s, rc, why);
    return rc;
  }
  l->info.applied += applied;
  l->info.known += known;
  l->info.held += held;
  if (l->on_commit) l->on_commit(l->commit_ctx, ev->batch, ev->chg, ev->len, ev->count);
  return kr_sess_applied(l->s, applied, known);
}

static int put_change(void *ctx, const uint8_t *buf, size_t len)
{
  return kr_sess_send_change(ctx, buf, len);
}

/* Send batches while the window has room. */
static int pump(kr_link *l)
{
  int rc = 0;
  while (!rc && kr_sess_can_send(l->s) && l->lacks) {
    size_t count;
    if (l->exhausted) return kr_sess_send_done(l->s);
    if ((rc = kr_lacks_next(l->lacks, KR_SYNC_BATCH_MAX, put_change, l->s, &count))) {
      kr_sess_fail(l->s, rc, N_("cannot read changes to send"));
      break;
    }
    if (count == 0) l->exhausted = 1;
    else rc = kr_sess_end_batch(l->s);
  }
  return rc;
}

static void finish(kr_link *l, int state)
{
  const kr_sess_stats *st = kr_sess_stats_get(l->s);
  l->info.state = state;
  l->info.sent = st->changes_out;
  l->info.received = st->changes_in;
  l->info.batches_in = st->batches_in;
  l->info.batches_acked = st->batches_acked;
  kr_lacks_close(l->lacks);
  l->lacks = NULL;
  kr_node_close(l->reader);
  l->reader = NULL;
  kr_node_tidy(l->n);
}

static void run(kr_link *l)
{
  kr_sess_event ev;
  kr_sess_event_type t;
  kr_vv v;

  if (l->info.state) return;
  for (;;) {
    if ((t = kr_sess_poll(l->s, &ev)) == KR_SEV_NONE) {
      pump(l);                      /* sending may raise a failure */
      if ((t = kr_sess_poll(l->s, &ev)) == KR_SEV_NONE) return;
    }
    switch (t) {
    case KR_SEV_PEER: on_peer(l, &ev); break;
    case KR_SEV_VECTOR: on_vector(l, ev.vector, ev.heads); break;
    case KR_SEV_BATCH: on_batch(l, &ev); break;
    case KR_SEV_ACK: break;
    case KR_SEV_DRAINED:
      if (kr_node_vector(l->n, &v)) {
        kr_sess_fail(l->s, KR_EDB, N_("reading our vector"));
        break;
      }
      kr_sess_send_end(l->s, &v);
      kr_vv_free(&v);
      break;
    case KR_SEV_END: {
      /* the batches are committed: a full disk here loses only this */
      int rc = kr_node_peer_record(l->n, l->info.peer, ev.vector);
      if (rc == KR_EFULL)
        kr_sess_fail(l->s, rc, N_("cannot record the peer's vector: the disk is full"));
      else if (rc)
        kr_sess_fail(l->s, KR_EDB, N_("cannot record the peer's vector"));
      break;
    }
    case KR_SEV_DONE:
      finish(l, 1);
      return;
    case KR_SEV_FAILED:
      l->info.err = ev.err;
      snprintf(l->info.reason, sizeof l->info.reason, "%s", ev.reason);
      finish(l, -1);
      return;
    default:
      break;
    }
    pump(l);
  }
}

int kr_link_feed(kr_link *l, const uint8_t *buf, size_t len)
{
  int rc = kr_sess_feed(l->s, buf, len);
  const kr_sess_stats *st = kr_sess_stats_get(l->s);
  run(l);
  l->info.bytes_in = st->bytes_in;
  return rc;
}

void kr_link_closed(kr_link *l, const char *why)
{
  if (l->info.state) return;
  kr_sess_fail(l->s, KR_ECLOSED, why ? why : N_("connection closed before the sync finished"));
  run(l);
}

void kr_link_tick(kr_link *l, uint64_t now_ms)
{
  kr_sess_tick(l->s, now_ms);
  run(l);
}

const uint8_t *kr_link_pending(const kr_link *l, size_t *len) { return kr_sess_pending(l->s, len); }

void kr_link_sent(kr_link *l, size_t len)
{
  kr_sess_sent(l->s, len);
  l->info.bytes_out = kr_sess_stats_get(l->s)->bytes_out;
}

const kr_link_info *kr_link_info_get(kr_link *l) { return &l->info; }
kr_sess *kr_link_session(kr_link *l) { return l->s; }

void kr_link_on_commit(kr_link *l, kr_link_commit_fn fn, void *ctx)
{
  l->on_commit = fn;
  l->commit_ctx = ctx;
}
