/*
 * test_session: the sync session and its link to a node, with bytes
 * carried in memory. The same sync fed whole, byte by byte and in random
 * chunks ends in the same state; big syncs go in several bounded batches;
 * rekeying keeps both sides in step; a cut link loses at most the batch in
 * flight; strangers, non-members, removed members, garbage, forged,
 * out-of-order and oversized input close the session with nothing of the
 * batch stored; values against the field rules in a sealed group are
 * ignored by the readers that open it; a join request inside the
 * handshake admits a new node.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "crdt/err.h"
#include "sync/invite.h"
#include "sync/link.h"

static unsigned rng = 12345;
static unsigned rnd(unsigned n)
{
  rng = rng * 1103515245u + 12345u;
  return (rng >> 8) % n;
}

static void volunteers(kr_node *n, int count, const char *tag)
{
  for (int i = 0; i < count; i++) {
    kr_txn *t;
    uint8_t id[KR_SUBJECT_LEN];
    char name[64];
    snprintf(name, sizeof name, "%s vrijwilliger %d", tag, i);
    REQUIRE(kr_txn_begin(n, &t) == 0);
    kr_txn_new_subject(t, id);
    REQUIRE(kr_txn_set(t, id, KR_F_NAME, name, NULL) == 0);
    REQUIRE(kr_txn_set(t, id, KR_F_CITY, "Utrecht", NULL) == 0);
    REQUIRE(kr_txn_add(t, id, KR_F_SKILLS, "koken", NULL) == 0);
    REQUIRE(kr_txn_set(t, id, KR_F_NOTES, "Helpt op dinsdag en donderdag in de voedselbank, "
                       "rijdt ook de bus naar de distributiepunten. Heeft een rijbewijs C en "
                       "een VOG voor het werk met kinderen; liever niet op zaterdag, dan "
                       "werkt ze in de moestuin van de buurt.", NULL) == 0);
    REQUIRE(kr_txn_commit(t, NULL) == 0);
  }
}

static uint64_t changes(kr_node *n)
{
  uint64_t v, e, c;
  REQUIRE(kr_node_counts(n, &v, &e, &c) == 0);
  return c;
}

/* ---- carrying bytes ---- */

/* One end: a link, or a bare session (a hostile peer). */
typedef struct {
  kr_link *l;
  kr_sess *s;
} end;

static const uint8_t *pending(end *e, size_t *n)
{
  return e->l ? kr_link_pending(e->l, n) : kr_sess_pending(e->s, n);
}
static void sent(end *e, size_t n)
{
  if (e->l) kr_link_sent(e->l, n); else kr_sess_sent(e->s, n);
}
static void feed(end *e, const uint8_t *p, size_t n)
{
  if (e->l) kr_link_feed(e->l, p, n); else kr_sess_feed(e->s, p, n);
}

/* Move what a has for b, in pieces of at most chunk bytes (0: whole, or
 * random sizes when chunk is (size_t)-1). Stops after budget bytes if
 * budget is not 0 (*budget counts down). Returns bytes moved. */
static size_t move(end *a, end *b, size_t chunk, size_t *budget)
{
  size_t n, total = 0;
  const uint8_t *p = pending(a, &n);
  while (n) {
    size_t k = chunk == 0 ? n : chunk == (size_t)-1 ? 1 + rnd(5000) : chunk;
    if (k > n) k = n;
    if (budget) {
      if (*budget == 0) break;
      if (k > *budget) k = *budget;
      *budget -= k;
    }
    /* the pending bytes may move when b's answer is produced: copy first */
    {
      uint8_t *c = malloc(k);
      REQUIRE(c);
      memcpy(c, p, k);
      sent(a, k);
      feed(b, c, k);
      free(c);
    }
    total += k;
    p = pending(a, &n);
  }
  return total;
}

/* Shuttle until neither side has anything to say. */
static void shuttle(end *a, end *b, size_t chunk, size_t *budget)
{
  while (move(a, b, chunk, budget) + move(b, a, chunk, budget) > 0)
    if (budget && *budget == 0) break;
}

static void link_pair(kr_node *a, kr_node *b, end *ea, end *eb)
{
  memset(ea, 0, sizeof *ea);
  memset(eb, 0, sizeof *eb);
  REQUIRE(kr_link_new(a, 1, NULL, kr_node_now_ms(a), &ea->l) == 0);
  REQUIRE(kr_link_new(b, 0, NULL, kr_node_now_ms(b), &eb->l) == 0);
}

static void unlink_pair(end *ea, end *eb)
{
  kr_link_free(ea->l);
  kr_link_free(eb->l);
  kr_sess_free(ea->s);
  kr_sess_free(eb->s);
}

static const kr_link_info *info(end *e) { return kr_link_info_get(e->l); }

/* ---- copies of a home, so one starting state can be synced many ways ---- */

static void copy_file(const char *from, const char *to)
{
  char buf[65536];
  ssize_t k;
  int in = open(from, O_RDONLY), out;
  REQUIRE(in >= 0);
  out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(out >= 0);
  while ((k = read(in, buf, sizeof buf)) > 0) REQUIRE(write(out, buf, (size_t)k) == k);
  close(in);
  close(out);
}

static void copy_home(const char *from, const char *to)
{
  char a[4200], b[4200];
  REQUIRE(mkdir(to, 0700) == 0);
  snprintf(a, sizeof a, "%s/node.key", from);
  snprintf(b, sizeof b, "%s/node.key", to);
  copy_file(a, b);
  snprintf(a, sizeof a, "%s/kring.db", from);
  snprintf(b, sizeof b, "%s/kring.db", to);
  copy_file(a, b);
}

/* ---- tests ---- */

static void test_chunkings(void)
{
  kr_node *nodes[2];
  uint8_t want[32] = {0};
  const size_t modes[] = {0, 1, (size_t)-1, 7, 65537};
  uint64_t want_sent = 0, want_recv = 0;

  check_network(nodes, 2, "ch", "foodbank");
  volunteers(nodes[0], 2500, "A");    /* over 1 MiB of changes: two batches or more */
  volunteers(nodes[1], 150, "B");
  REQUIRE(kr_node_checkpoint(nodes[0]) == 0 && kr_node_checkpoint(nodes[1]) == 0);
  {
    char a0[4200], a1[4200];
    snprintf(a0, sizeof a0, "%s", check_path("ch0"));
    snprintf(a1, sizeof a1, "%s", check_path("ch1"));
    kr_node_close(nodes[0]);
    kr_node_close(nodes[1]);
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
      char c0[64], c1[64];
      kr_node *a, *b;
      end ea, eb;
      uint8_t d[32];
      snprintf(c0, sizeof c0, "ch0-%zu", m);
      snprintf(c1, sizeof c1, "ch1-%zu", m);
      copy_home(a0, check_path(c0));
      copy_home(a1, check_path(c1));
      REQUIRE(kr_node_open(check_path(c0), &a) == 0 && kr_node_open(check_path(c1), &b) == 0);
      link_pair(a, b, &ea, &eb);
      if (modes[m] == 7) {      /* rekey after every third transport message */
        kr__sess_rekey_every(kr_link_session(ea.l), 3);
        kr__sess_rekey_every(kr_link_session(eb.l), 3);
      }
      shuttle(&ea, &eb, modes[m], NULL);
      CHECK_EQ(info(&ea)->state, 1);
      CHECK_EQ(info(&eb)->state, 1);
      if (info(&ea)->state != 1) fprintf(stderr, "mode %zu: %s\n", m, info(&ea)->reason);
      if (info(&eb)->state != 1) fprintf(stderr, "mode %zu: %s\n", m, info(&eb)->reason);
      CHECK(check_same_digest(a, b));
      CHECK_EQ(info(&ea)->sent, info(&ea)->to_send);
      CHECK_EQ(info(&ea)->sent, info(&eb)->received);
      CHECK_EQ(info(&eb)->applied, 2500);
      CHECK_EQ(info(&ea)->applied, 150);
      CHECK(kr_sess_stats_get(kr_link_session(ea.l))->batches_out >= 2);
      REQUIRE(kr_node_digest(a, d) == 0);
      if (m == 0) {
        memcpy(want, d, 32);
        want_sent = info(&ea)->sent;
        want_recv = info(&ea)->received;
      } else {
        CHECK(memcmp(want, d, 32) == 0);
        CHECK_EQ(info(&ea)->sent, want_sent);
        CHECK_EQ(info(&ea)->received, want_recv);
      }
      unlink_pair(&ea, &eb);
      /* a second session has nothing to carry and still ends cleanly */
      link_pair(b, a, &eb, &ea);
      shuttle(&eb, &ea, 0, NULL);
      CHECK_EQ(info(&ea)->state, 1);
      CHECK_EQ(info(&eb)->sent + info(&ea)->sent, 0);
      unlink_pair(&ea, &eb);
      kr_node_close(a);
      kr_node_close(b);
    }
  }
}

static void test_cut(void)
{
  kr_node *n[2];
  uint64_t before, total;
  int sessions = 0;

  check_network(n, 2, "cut", "buurtteam");
  volunteers(n[0], 3000, "A");
  volunteers(n[1], 100, "B");
  before = changes(n[1]);
  total = changes(n[0]) + 100;
  /* cut each session after a growing number of bytes, until one finishes */
  for (size_t cut = 20000;; cut *= 2) {
    end ea, eb;
    size_t budget = cut;
    int done;
    link_pair(n[0], n[1], &ea, &eb);
    shuttle(&ea, &eb, (size_t)-1, &budget);
    done = info(&ea)->state == 1 && info(&eb)->state == 1;
    if (!done) {
      kr_link_closed(ea.l, NULL);
      kr_link_closed(eb.l, NULL);
      CHECK_EQ(info(&ea)->state, -1);
      CHECK_EQ(info(&ea)->err, KR_ECLOSED);
      /* what was committed stays, in whole batches */
      CHECK(changes(n[1]) >= before);
      before = changes(n[1]);
    }
    unlink_pair(&ea, &eb);
    sessions++;
    if (done) break;
    REQUIRE(cut < (64u << 20));
  }
  CHECK(sessions > 2);
  CHECK(check_same_digest(n[0], n[1]));
  CHECK_EQ(changes(n[1]), total);
  CHECK_EQ(changes(n[0]), total);
  kr_node_close(n[0]);
  kr_node_close(n[1]);
}

static void expect_refused(kr_node *a, kr_node *b, int err_a, int err_b, const char *why)
{
  end ea, eb;
  uint64_t ca = changes(a), cb = changes(b);
  link_pair(a, b, &ea, &eb);
  shuttle(&ea, &eb, 0, NULL);
  /* the side that gave up closes the connection */
  kr_link_closed(ea.l, NULL);
  kr_link_closed(eb.l, NULL);
  CHECK_EQ(info(&ea)->state, -1);
  CHECK_EQ(info(&eb)->state, -1);
  CHECK_EQ(info(&ea)->err, err_a);
  CHECK_EQ(info(&eb)->err, err_b);
  if (why && !strstr(info(&ea)->reason, why) && !strstr(info(&eb)->reason, why)) {
    fprintf(stderr, "reasons '%s' / '%s' lack '%s'\n", info(&ea)->reason, info(&eb)->reason, why);
    CHECK(0);
  }
  CHECK_EQ(changes(a), ca);
  CHECK_EQ(changes(b), cb);
  unlink_pair(&ea, &eb);
}

static void test_strangers(void)
{
  kr_node *n[3], *other, *pending;
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];

  check_network(n, 3, "st", "centre");
  volunteers(n[0], 5, "A");
  REQUIRE(kr_node_create(check_path("other"), "Elders", "care", &other) == 0);
  kr_node_network(n[0], net, founder);
  REQUIRE(kr_node_create_joining(check_path("pending"), "Nog niet", "mzo", net, founder, &pending) == 0);
  check_same_clock(pending, n[0]);

  /* another network: the prologue differs, the handshake fails at its first MAC */
  expect_refused(other, n[1], KR_EBADSIG, KR_ECLOSED, "another network");
  /* a node of this network that was never admitted: refused by the member */
  expect_refused(pending, n[0], KR_EREFUSED, KR_ENOTMEMBER, "not a member");
  /* a member refuses a stranger that calls it (the initiator checks too) */
  expect_refused(n[0], pending, KR_ENOTMEMBER, KR_ECLOSED, NULL);
  /* a removed member */
  REQUIRE(kr_node_expel(n[0], kr_node_id(n[2]), "gestopt") == 0);
  expect_refused(n[2], n[0], KR_EREFUSED, KR_ENOTMEMBER, "removed");
  /* itself */
  expect_refused(n[0], n[0], KR_EINVAL, KR_ECLOSED, "itself");
  kr_node_close(other);
  kr_node_close(pending);
  for (int i = 0; i < 3; i++) kr_node_close(n[i]);
}

static void test_garbage_and_timeout(void)
{
  kr_node *n[2];
  end ea, eb;
  uint8_t junk[100];

  check_network(n, 2, "gb", "other");
  volunteers(n[0], 800, "A");
  /* random bytes as a first message */
  link_pair(n[0], n[1], &ea, &eb);
  randombytes_buf(junk, sizeof junk);
  junk[0] = 0;
  junk[1] = 98;
  kr_link_feed(eb.l, junk, sizeof junk);
  CHECK_EQ(info(&eb)->state, -1);
  unlink_pair(&ea, &eb);
  /* a flipped bit in the transport stream: the MAC fails, nothing of the batch is stored */
  {
    uint64_t before = changes(n[1]);
 const uint8_t *p;
    size_t len;
    link_pair(n[0], n[1], &ea, &eb);
    move(&ea, &eb, 0, NULL);                       /* -> e */
    move(&eb, &ea, 0, NULL);                       /* <- e, ee, s, es; A accepts, sends -> s, se + VEC */
    move(&ea, &eb, 0, NULL);                       /* B accepts, sends its VEC */
    move(&eb, &ea, 0, NULL);                       /* A now sends its first batch */
    p = kr_link_pending(ea.l, &len);
    REQUIRE(len > 70000);
    ((uint8_t *)p)[70000] ^= 0x10;
    move(&ea, &eb, 0, NULL);
    CHECK_EQ(info(&eb)->state, -1);
    CHECK(strstr(info(&eb)->reason, "authenticate") != NULL);
    CHECK_EQ(changes(n[1]), before);
    move(&eb, &ea, 0, NULL);                       /* B's ERR frame reaches A */
    CHECK_EQ(info(&ea)->state, -1);
    CHECK_EQ(info(&ea)->err, KR_EREFUSED);
    unlink_pair(&ea, &eb);
  }
  /* a handshake that never finishes */
  link_pair(n[0], n[1], &ea, &eb);
  kr_link_tick(ea.l, kr_node_now_ms(n[0]) + KR_SYNC_HANDSHAKE_MS - 1000);
  CHECK_EQ(info(&ea)->state, 0);
  kr_link_tick(ea.l, kr_node_now_ms(n[0]) + KR_SYNC_HANDSHAKE_MS + 1000);
  CHECK_EQ(info(&ea)->state, -1);
  CHECK_EQ(info(&ea)->err, KR_ETIMEOUT);
  unlink_pair(&ea, &eb);
  kr_node_close(n[0]);
  kr_node_close(n[1]);
}

static const char *field_of(kr_node *n, const uint8_t id[16], int field, char *out, size_t cap);

/* A bare session for attacker (ea) and a link for victim (ev), through the
 * handshake and both vectors: ea may send batches now. */
static void hostile_open(kr_node *attacker, kr_node *victim, end *ea, end *ev)
{
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  kr_sess_event e;
  kr_vv empty;

  memset(ea, 0, sizeof *ea);
  memset(ev, 0, sizeof *ev);
  kr_vv_init(&empty);
  kr_node_network(attacker, net, founder);
  REQUIRE(kr_sess_new(1, kr_node_secret_key(attacker), net, NULL, kr_node_now_ms(attacker), &ea->s) == 0);
  REQUIRE(kr_link_new(victim, 0, NULL, kr_node_now_ms(victim), &ev->l) == 0);
  move(ea, ev, 0, NULL);
  move(ev, ea, 0, NULL);
  REQUIRE(kr_sess_poll(ea->s, &e) == KR_SEV_PEER);
  REQUIRE(kr_sess_accept(ea->s, &empty, NULL) == 0);
  move(ea, ev, 0, NULL);
  move(ev, ea, 0, NULL);
  REQUIRE(kr_sess_poll(ea->s, &e) == KR_SEV_VECTOR);
}

/* A hostile member speaks through a bare session: after the handshake and
 * the vectors it sends one batch of the given changes. Returns the
 * victim's link info state and error. */
static int hostile(kr_node *attacker, kr_node *victim, const kr_buf *chg, size_t nchg,
                   const size_t *lens, int *err)
{
  end ea, ev;
  size_t off = 0;
  int state;

  hostile_open(attacker, victim, &ea, &ev);
  for (size_t i = 0; i < nchg; i++) {
    REQUIRE(kr_sess_send_change(ea.s, chg->data + off, lens[i]) == 0);
    off += lens[i];
  }
  if (nchg) REQUIRE(kr_sess_end_batch(ea.s) == 0);
  move(&ea, &ev, 0, NULL);
  state = info(&ev)->state;
  *err = info(&ev)->err;
  if (state == -1) fprintf(stderr, "  refused as expected: %s\n", info(&ev)->reason);
  kr_sess_free(ea.s);
  kr_link_free(ev.l);
  return state;
}

/* 1 when the victim refuses the attacker at the handshake. */
static int hostile_refused(kr_node *attacker, kr_node *victim)
{
  end ea, ev;
  int refused;
  link_pair(attacker, victim, &ea, &ev);
  shuttle(&ea, &ev, 0, NULL);
  refused = info(&ev)->state == -1 && info(&ev)->err == KR_ENOTMEMBER;
  unlink_pair(&ea, &ev);
  return refused;
}

/* One clear op signed by n as seq, stamped at hlc, appended to out. */
static void build_op(kr_node *n, uint64_t seq, kr_hlc hlc, const kr_op *op, kr_buf *out,
                     size_t *len)
{
  size_t before = out->len;
  REQUIRE(kr_change_build(kr_node_secret_key(n), seq, hlc, check_nonce, op, 1, out) == 0);
  *len = out->len - before;
}

/* What a modified member could sign (check_build_sealed), its length in *len. */
static void build_sealed(kr_node *n, uint64_t seq, kr_hlc hlc, const kr_op *ops, uint32_t nops,
                         int fresh, kr_node *const *readers, kr_buf *out, size_t *len)
{
  size_t before = out->len;
  check_build_sealed(n, seq, hlc, ops, nops, fresh, readers, out);
  *len = out->len - before;
}

/* A value of field (on a new subject, sealed to readers) as n's change seq. */
static void build_field(kr_node *n, uint64_t seq, int field, const char *value,
                        kr_node *const *readers, kr_buf *out, size_t *len, uint8_t *subject)
{
  kr_op op;
  memset(&op, 0, sizeof op);
  op.type = kr_field_is_set(field) ? KR_OP_ADD : KR_OP_SET;
  check_new_subject(n, op.subject);
  op.field = (uint8_t)field;
  op.value = value;
  if (subject) memcpy(subject, op.subject, KR_SUBJECT_LEN);
  build_sealed(n, seq, kr_node_now_ms(n) << 16, &op, 1, 1, readers, out, len);
}

static void build(kr_node *n, uint64_t seq, const char *name, kr_node *const *readers,
                  kr_buf *out, size_t *len)
{
  build_field(n, seq, KR_F_NAME, name, readers, out, len, NULL);
}

/* The attacker's own store holds what it signed (as a modified kring's
 * would): its next change follows them. */
static void keep_own(kr_node *n, const kr_buf *chg, size_t nchg, const size_t *lens)
{
  size_t off = 0;
  for (size_t i = 0; i < nchg; i++) {
    int fresh;
    REQUIRE(kr_node_apply(n, chg->data + off, lens[i], &fresh) == 0);
    off += lens[i];
  }
}

static uint64_t bad_groups(kr_node *n)
{
  uint64_t c;
  REQUIRE(kr_node_bad_groups(n, &c) == 0);
  return c;
}

static int count_cb(void *ctx, const kr_consent_status *st)
{
  (void)st;
  ++*(int *)ctx;
  return 0;
}

/* Nothing of a value the victim ignored is there: it holds the group's
 * key (so the volunteer reads as known) but no field, no set value, no
 * consent. */
static void check_nothing(kr_node *n, const uint8_t subject[KR_SUBJECT_LEN])
{
  kr_volunteer v;
  kr_stamp st;
  int rc = kr_node_volunteer(n, subject, &v), grants = 0;
  CHECK(rc == 0 || rc == KR_ESEALED);
  if (rc) return;
  for (int f = 0; f < 32; f++) {
    CHECK(v.val.v[f] == NULL);
    CHECK_EQ(v.val.set[f].n, 0);
  }
  kr_volunteer_free(&v);
  for (int f = 1; f < 12; f++) CHECK_EQ(kr_node_field_stamp(n, subject, f, &st), KR_ENOTFOUND);
  CHECK_EQ(kr_node_consent(n, subject, count_cb, &grants), 0);
  CHECK_EQ(grants, 0);
}

/*
 * A modified member sends values kring's own CLI would refuse. Inside a
 * sealed group only the readers can check them: the victim, a reader,
 * opens the group and ignores it (bad_groups); the change is stored (a
 * non-reader could not have refused it, and every node holds the same
 * changes), nothing of the values is. A group the victim cannot open is
 * stored unchecked. Clear text (an erasure's reason) refuses the change
 * whole, nothing of the batch stored. *seq: the attacker's last seq,
 * advanced past what the victim took.
 */
static void test_forged_values(kr_node *attacker, kr_node *victim, uint64_t *seq)
{
  static const struct { int field; const char *value; } bad[] = {
    {KR_F_NAME, "Anna\nconsent   contact to all: granted"},
    {KR_F_NOTES, "BSN 111222333"},
    {KR_F_PHONE, "111222333"},
    {KR_F_PHONE, "12345"},
    {KR_F_EMAIL, "<script>alert(1)</script>"},
    {KR_F_POSTCODE, "1234ab"},      /* not in the stored form */
    {KR_F_NAME, " Anna"},
    {KR_F_BIRTH_YEAR, "2999"},
    {KR_F_AVAILABILITY, "Mon-AM"},
  };
  kr_node *const to[] = {victim, NULL};
  uint64_t before = changes(victim), nbad = bad_groups(victim);
  kr_buf b;
  size_t len[2];
  uint8_t subj[KR_SUBJECT_LEN];
  int err;

  kr_buf_init(&b, 1u << 20);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kr_buf_reset(&b);
    build(attacker, *seq + 1, "Goed", to, &b, &len[0]);
    build_field(attacker, *seq + 2, bad[i].field, bad[i].value, to, &b, &len[1], subj);
    CHECK_EQ(hostile(attacker, victim, &b, 2, len, &err), 0);    /* the session goes on */
    CHECK_EQ(changes(victim), before + 2);
    CHECK_EQ(bad_groups(victim), nbad + 1);
    check_nothing(victim, subj);
    keep_own(attacker, &b, 2, len);
    *seq += 2;
    before += 2;
    nbad++;
  }
  /* consent text in a group: one line */
  {
    kr_op op;
    memset(&op, 0, sizeof op);
    op.type = KR_OP_GRANT;
    check_new_subject(attacker, op.subject);
    op.purpose = "contact";
    op.recipient_all = 1;
    op.text_version = "v1\n2026-01-01 withdrawn";
    op.until = "";
    kr_buf_reset(&b);
    build_sealed(attacker, *seq + 1, kr_node_now_ms(attacker) << 16, &op, 1, 1, to, &b, &len[0]);
    CHECK_EQ(hostile(attacker, victim, &b, 1, len, &err), 0);
    CHECK_EQ(changes(victim), before + 1);
    CHECK_EQ(bad_groups(victim), nbad + 1);
    check_nothing(victim, op.subject);
    keep_own(attacker, &b, 1, len);
    *seq += 1;
    before += 1;
    nbad++;
  }
  /* a group sealed to nobody but its writer: stored, unchecked, sealed here */
  {
    uint64_t sealed0, sealed1;
    REQUIRE(kr_node_sealed_count(victim, &sealed0) == 0);
    kr_buf_reset(&b);
    build_field(attacker, *seq + 1, KR_F_NOTES, "BSN 111222333", NULL, &b, &len[0], subj);
    CHECK_EQ(hostile(attacker, victim, &b, 1, len, &err), 0);
    CHECK_EQ(changes(victim), before + 1);
    CHECK_EQ(bad_groups(victim), nbad);
    REQUIRE(kr_node_sealed_count(victim, &sealed1) == 0);
    CHECK_EQ(sealed1, sealed0 + 1);
    check_nothing(victim, subj);
    keep_own(attacker, &b, 1, len);
    *seq += 1;
    before += 1;
  }
  /* text carried in the clear by erasure ops: no BSN, refused whole */
  {
    kr_op op;
    memset(&op, 0, sizeof op);
    op.type = KR_OP_ERASE;
    randombytes_buf(op.subject, KR_SUBJECT_LEN);
    op.value = "verzoek 111222333";
    kr_buf_reset(&b);
    build(attacker, *seq + 1, "Goed", to, &b, &len[0]);
    build_op(attacker, *seq + 2, kr_node_now_ms(attacker) << 16, &op, &b, &len[1]);
    CHECK_EQ(hostile(attacker, victim, &b, 2, len, &err), -1);
    CHECK_EQ(err, KR_EBSN);
    CHECK_EQ(changes(victim), before);
  }
  /* the same values from the victim's own API are refused too */
  {
    kr_txn *t;
    uint8_t id[KR_SUBJECT_LEN];
    REQUIRE(kr_txn_begin(victim, &t) == 0);
    kr_txn_new_subject(t, id);
    CHECK_EQ(kr_txn_set(t, id, KR_F_NOTES, "BSN 111222333", NULL), KR_EBSN);
    CHECK_EQ(kr_txn_set(t, id, KR_F_EMAIL, "<script>alert(1)</script>", NULL), KR_EVALIDATION);
    kr_txn_abort(t);
  }
  kr_buf_free(&b);
}

/* Nobody removes the founder: not the CLI's call, not a change from a
 * member; the change is refused whole and nothing of it stored. */
static void test_founder_stays(kr_node *founder, kr_node *attacker, kr_node *victim, uint64_t seq)
{
  uint8_t net[KR_NETWORK_LEN], fid[KR_NODE_LEN];
  uint64_t before = changes(victim);
  kr_buf b;
  kr_op op;
  size_t len[2];
  int err;

  kr_node_network(victim, net, fid);
  CHECK(memcmp(fid, kr_node_id(founder), KR_NODE_LEN) == 0);
  CHECK_EQ(kr_node_expel(attacker, fid, "weg ermee"), KR_EFOUNDER);
  CHECK_EQ(kr_node_expel(founder, fid, "zelf weg"), KR_EFOUNDER);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_EXPEL;
  memcpy(op.subject, net, KR_NETWORK_LEN);
  memcpy(op.member, fid, KR_NODE_LEN);
  op.after_seq = 1;
  op.value = "weg ermee";
  kr_buf_init(&b, 1u << 20);
  build(attacker, seq + 1, "Goed", NULL, &b, &len[0]);
  build_op(attacker, seq + 2, kr_node_now_ms(attacker) << 16, &op, &b, &len[1]);
  CHECK_EQ(hostile(attacker, victim, &b, 2, len, &err), -1);
  CHECK_EQ(err, KR_EFOUNDER);
  CHECK_EQ(changes(victim), before);
  CHECK_EQ(kr_node_is_member(victim, fid), 1);
  /* alone, in a bundle-like apply: refused too */
  kr_buf_reset(&b);
  build_op(attacker, seq + 1, kr_node_now_ms(attacker) << 16, &op, &b, &len[0]);
  CHECK_EQ(kr_node_apply(victim, b.data, b.len, NULL), KR_EFOUNDER);
  CHECK_EQ(changes(victim), before);
  kr_buf_free(&b);
}

static void test_hostile(void)
{
  kr_node *n[3], *stranger;
  kr_buf b;
  size_t lens[4];
  uint64_t seq, seq2, before;
  int err;

  check_network(n, 3, "ho", "mzo");
  REQUIRE(kr_node_create(check_path("stranger"), "Vreemd", "other", &stranger) == 0);
  kr_buf_init(&b, 1u << 22);
  before = changes(n[0]);

  /* a good change, then one with a bad signature: the whole batch goes */
  REQUIRE(kr_node_max_seq(n[1], kr_node_id(n[1]), &seq) == 0);
  build(n[1], seq + 1, "Goed", NULL, &b, &lens[0]);
  build(n[1], seq + 2, "Vervalst", NULL, &b, &lens[1]);
  {
    /* flip a bit inside the second change's signature */
    kr_change c;
    uint8_t *p = NULL;
    REQUIRE(kr_change_decode(b.data + lens[0], lens[1], KR_CHANGE_MAX, &c) == 0);
    for (size_t i = lens[0]; i + KR_SIG_LEN <= lens[0] + lens[1] && !p; i++)
      if (!memcmp(b.data + i, c.sig, KR_SIG_LEN)) p = b.data + i;
    kr_change_free(&c);
    REQUIRE(p);
    p[10] ^= 0x01;
  }
  CHECK_EQ(hostile(n[1], n[0], &b, 2, lens, &err), -1);
  CHECK_EQ(err, KR_EBADSIG);
  CHECK_EQ(changes(n[0]), before);

  /* a gap in the origin's seq: the change is skipped, not stored (its
   * sender may hold it past a gap of its own, from a bundle), and the
   * session goes on */
  kr_buf_reset(&b);
  build(n[1], seq + 3, "Drie", NULL, &b, &lens[0]);
  build(n[1], seq + 4, "Vier", NULL, &b, &lens[1]);
  CHECK_EQ(hostile(n[1], n[0], &b, 2, lens, &err), 0);
  CHECK_EQ(changes(n[0]), before);

  test_forged_values(n[1], n[0], &seq);
  before = changes(n[0]);
  check_sync(n[1], n[2]);           /* n2 holds what n1 signed: no gap before its next */
  test_founder_stays(n[0], n[1], n[2], seq);

  /* a member relays a change from a node that was never admitted: it is
   * skipped (never stored) and the session goes on */
  kr_buf_reset(&b);
  build(stranger, 1, "Niemand", NULL, &b, &lens[0]);
  CHECK_EQ(hostile(n[1], n[0], &b, 1, lens, &err), 0);
  CHECK_EQ(changes(n[0]), before);
  CHECK_EQ(kr_node_max_seq(n[0], kr_node_id(stranger), &seq2), 0);
  CHECK_EQ(seq2, 0);

  /* a batch over the limit never reaches the store */
  {
    end ea, ev;
    kr_buf big;
    size_t bl;
    kr_buf_init(&big, 4u << 20);
    hostile_open(n[1], n[0], &ea, &ev);
    /* more than a batch may hold, written raw past the sender's own checks */
    build(n[1], seq + 1, "Groot", NULL, &big, &bl);
    for (int i = 0; i < 6000; i++) {
      if (kr__sess_frame(ea.s, KR_FRAME_CHG, big.data, bl)) break;
    }
    move(&ea, &ev, 0, NULL);
    CHECK_EQ(info(&ev)->state, -1);
    CHECK_EQ(info(&ev)->err, KR_ETOOBIG);
    kr_sess_free(ea.s);
    kr_link_free(ev.l);
    kr_buf_free(&big);
  }
  CHECK_EQ(changes(n[0]), before);
  /* equivocation: a second change under a seq already held. The victim
   * removes the origin from that seq on (its own signed change), takes
   * back the version it held, skips the other, and the session goes on. */
  {
    kr_txn *t;
    uint8_t id[KR_SUBJECT_LEN];
    kr_volunteer v;
    char val[16];
    REQUIRE(kr_txn_begin(n[1], &t) == 0);
    kr_txn_new_subject(t, id);
    REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Echt", NULL) == 0);
    REQUIRE(kr_txn_grant(t, id, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
    kr_buf_reset(&b);
    REQUIRE(kr_txn_commit(t, &b) == 0);
    REQUIRE(kr_node_max_seq(n[1], kr_node_id(n[1]), &seq) == 0);
    lens[0] = b.len;
    CHECK_EQ(hostile(n[1], n[0], &b, 1, lens, &err), 0);  /* applied, the session goes on */
    CHECK_EQ(changes(n[0]), before + 1);
    CHECK(!strcmp(field_of(n[0], id, KR_F_NAME, val, sizeof val), "Echt"));
    kr_buf_reset(&b);
    build(n[1], seq, "Anders", NULL, &b, &lens[0]);
    CHECK_EQ(hostile(n[1], n[0], &b, 1, lens, &err), 0);
    CHECK_EQ(kr_node_is_removed(n[0], kr_node_id(n[1])), 1);
    CHECK_EQ(changes(n[0]), before + 1);   /* "Echt" taken back, the removal added */
    CHECK(kr_node_volunteer(n[0], id, &v) == KR_ENOTFOUND);
    /* the removed node is refused from now on, and reported no more */
    CHECK_EQ(hostile_refused(n[1], n[0]), 1);
    CHECK_EQ(changes(n[0]), before + 1);
    /* the other member learns the removal and takes back its copy too */
    check_sync(n[1], n[2]);
    CHECK_EQ(kr_node_is_member(n[2], kr_node_id(n[1])), 1);
    CHECK(!strcmp(field_of(n[2], id, KR_F_NAME, val, sizeof val), "Echt"));
    check_sync(n[0], n[2]);
    CHECK_EQ(kr_node_is_removed(n[2], kr_node_id(n[1])), 1);
    CHECK(kr_node_volunteer(n[2], id, &v) == KR_ENOTFOUND);
  }
  kr_buf_free(&b);
  kr_node_close(stranger);
  for (int i = 0; i < 3; i++) kr_node_close(n[i]);
}

static int clock_note_cb(void *ctx, const kr_clock_note *c)
{
  *(kr_clock_note *)ctx = *c;
  return 0;
}

static int count_held(void *ctx, const kr_held *h)
{
  kr_held *out = ctx;
  *out = *h;
  return 0;
}

static const char *field_of(kr_node *n, const uint8_t id[16], int field, char *out, size_t cap)
{
  kr_volunteer v;
  out[0] = 0;
  if (kr_node_volunteer(n, id, &v) == 0) {
    if (v.val.v[field]) snprintf(out, cap, "%s", v.val.v[field]);
    kr_volunteer_free(&v);
  }
  return out;
}

/*
 * A change stamped far ahead (a clock in 2100) would win every field it
 * sets for decades. It is held: not applied, not refused, listed; local
 * edits win meanwhile; once this clock reaches it, it is applied. Only its
 * own stamp decides: the origin's next change, stamped now, is applied. And two nodes whose clocks differ
 * by more than 10 minutes refuse to sync, each saying by how much.
 */
static void test_future(void)
{
  static uint64_t late;
  kr_node *n[2], *both[3] = {NULL, NULL, NULL};
  kr_txn *t;
  kr_buf b;
  kr_op op;
  kr_held h;
  size_t lens[2];
  uint8_t id[KR_SUBJECT_LEN];
  uint64_t seq, before;
  kr_hlc far = (kr_hlc)(UINT64_C(4102444800000) << 16);   /* 2100-01-01 */
  char val[64];
  int err;

  check_network(n, 2, "fu", "buurtteam");
  REQUIRE(kr_txn_begin(n[1], &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Anna", NULL) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_CITY, "Utrecht", NULL) == 0);
  REQUIRE(kr_txn_grant(t, id, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(n[1], n[0]);
  before = changes(n[0]);
  both[0] = n[0];
  both[1] = n[1];
  CHECK(!strcmp(field_of(n[0], id, KR_F_CITY, val, sizeof val), "Utrecht"));

  /* n1's clock says 2100: a change that sets the city, then an ordinary one */
  REQUIRE(kr_node_max_seq(n[1], kr_node_id(n[1]), &seq) == 0);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_SET;
  memcpy(op.subject, id, KR_SUBJECT_LEN);
  op.field = KR_F_CITY;
  op.value = "Toekomst";
  kr_buf_init(&b, 1u << 20);
  build_sealed(n[1], seq + 1, far, &op, 1, 0, both, &b, &lens[0]);
  op.field = KR_F_NAME;
  op.value = "Anna B";
  build_sealed(n[1], seq + 2, kr_node_now_ms(n[1]) << 16, &op, 1, 0, both, &b, &lens[1]);
  CHECK_EQ(hostile(n[1], n[0], &b, 2, lens, &err), 0);        /* not refused */
  /* only the one stamped ahead is held; the next is applied (its own
   * stamp decides, so every node decides alike in any order) */
  CHECK_EQ(changes(n[0]), before + 1);
  memset(&h, 0, sizeof h);
  REQUIRE(kr_node_held(n[0], count_held, &h) == 0);
  CHECK_EQ(h.count, 1);
  CHECK(!memcmp(h.origin, kr_node_id(n[1]), 32));
  CHECK_EQ(h.until_ms, kr_hlc_ms(far) - KR_HLC_MAX_SKEW_MS);
  CHECK(!strcmp(field_of(n[0], id, KR_F_CITY, val, sizeof val), "Utrecht"));
  CHECK(!strcmp(field_of(n[0], id, KR_F_NAME, val, sizeof val), "Anna B"));
  /* sent again (the vector does not say it is held): known, still held */
  CHECK_EQ(hostile(n[1], n[0], &b, 2, lens, &err), 0);
  CHECK_EQ(changes(n[0]), before + 1);
  /* the same seq with other bytes: an equivocation, settled as usual */
  /* a local edit wins meanwhile: no clock pins the field */
  REQUIRE(kr_txn_begin(n[0], &t) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_CITY, "Delft", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  CHECK(!strcmp(field_of(n[0], id, KR_F_CITY, val, sizeof val), "Delft"));
  /* this node's clock reaches 2100: it is applied */
  late = kr_hlc_ms(far) - KR_HLC_MAX_SKEW_MS + 1;
  kr_node_set_clock(n[0], check_clock, &late);
  CHECK_EQ(kr_node_release_held(n[0]), 0);
  CHECK_EQ(changes(n[0]), before + 3);
  memset(&h, 0, sizeof h);
  REQUIRE(kr_node_held(n[0], count_held, &h) == 0);
  CHECK_EQ(h.count, 0);
  CHECK(!strcmp(field_of(n[0], id, KR_F_CITY, val, sizeof val), "Toekomst"));
  CHECK(!strcmp(field_of(n[0], id, KR_F_NAME, val, sizeof val), "Anna B"));
  kr_buf_free(&b);

  /* clocks 3 h apart: both sides refuse, each naming the difference */
  {
    end ea, eb;
    static uint64_t ahead;
    kr_clock_note note;
    ahead = kr_node_now_ms(n[1]) + 3 * 3600000ull + 12 * 60000ull;
    kr_node_set_clock(n[0], check_clock, &ahead);
    link_pair(n[0], n[1], &ea, &eb);
    shuttle(&ea, &eb, 0, NULL);
    CHECK_EQ(info(&ea)->state, -1);
    CHECK_EQ(info(&eb)->state, -1);
    CHECK_EQ(info(&ea)->err, KR_ECLOCK);
    CHECK_EQ(info(&eb)->err, KR_ECLOCK);
    fprintf(stderr, "  refused as expected: %s | %s\n", info(&ea)->reason, info(&eb)->reason);
    CHECK(strstr(info(&ea)->reason, "this node's clock is 3 h 12 min ahead of Org fu1's") != NULL);
    CHECK(strstr(info(&eb)->reason, "this node's clock is 3 h 12 min behind Org fu0's") != NULL);
    unlink_pair(&ea, &eb);
    memset(&note, 0, sizeof note);
    REQUIRE(kr_node_clock_notes(n[1], clock_note_cb, &note) == 0);
    CHECK(!memcmp(note.peer, kr_node_id(n[0]), 32));
    CHECK(note.skew_ms >= 3 * 3600000ll);
    /* set right: they sync, and the note goes */
    ahead = kr_node_now_ms(n[1]);
    link_pair(n[0], n[1], &ea, &eb);
    shuttle(&ea, &eb, 0, NULL);
    CHECK_EQ(info(&ea)->state, 1);
    CHECK_EQ(info(&eb)->state, 1);
    unlink_pair(&ea, &eb);
    memset(&note, 0, sizeof note);
    REQUIRE(kr_node_clock_notes(n[1], clock_note_cb, &note) == 0);
    CHECK_EQ(note.skew_ms, 0);
  }
  kr_node_close(n[0]);
  kr_node_close(n[1]);
}

static void test_join(void)
{
  kr_node *n[2], *j, *k;
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  char inv_text[KR_INVITE_TEXT_MAX + 1], join_text[KR_INVITE_TEXT_MAX + 1];
  kr_invite inv;
  end ej, ea;

  check_network(n, 2, "jo", "foodbank");
  volunteers(n[0], 300, "A");
  volunteers(n[1], 20, "B");
  check_sync(n[1], n[0]);
  kr_node_network(n[0], net, founder);
  REQUIRE(kr_invite_make(kr_node_secret_key(n[1]), net, founder, kr_node_now_ms(n[1]) + 3600000,
                         NULL, 0, inv_text, sizeof inv_text) == 0);
  REQUIRE(kr_invite_parse(inv_text, &inv) == 0);
  REQUIRE(kr_node_create_joining(check_path("joiner"), "Buurtteam Oost", "buurtteam", net, founder, &j) == 0);
  check_same_clock(j, n[0]);
  REQUIRE(kr_node_set_inviter(j, inv.inviter) == 0);
  REQUIRE(kr_join_make(&inv, kr_node_secret_key(j), "Buurtteam Oost", "buurtteam", join_text,
                       sizeof join_text) == 0);
  /* the joiner will only talk to the founder or its inviter */
  CHECK_EQ(kr_node_trusted(j, kr_node_id(n[1])), 1);
  CHECK_EQ(kr_node_trusted(j, kr_node_id(n[0])), 1);

  memset(&ej, 0, sizeof ej);
  memset(&ea, 0, sizeof ea);
  REQUIRE(kr_link_new(j, 1, join_text, kr_node_now_ms(j), &ej.l) == 0);
  REQUIRE(kr_link_new(n[1], 0, NULL, kr_node_now_ms(n[1]), &ea.l) == 0);
  shuttle(&ej, &ea, 0, NULL);
  CHECK_EQ(info(&ej)->state, 1);
  CHECK_EQ(info(&ea)->state, 1);
  CHECK_EQ(info(&ea)->admitted, 1);
  CHECK_EQ(kr_node_is_member(j, kr_node_id(j)), 1);
  CHECK(check_same_digest(j, n[1]));
  unlink_pair(&ej, &ea);
  /* a retry with the same request (a cut after admission) is welcome */
  REQUIRE(kr_link_new(j, 1, join_text, kr_node_now_ms(j), &ej.l) == 0);
  REQUIRE(kr_link_new(n[1], 0, NULL, kr_node_now_ms(n[1]), &ea.l) == 0);
  shuttle(&ej, &ea, 0, NULL);
  CHECK_EQ(info(&ej)->state, 1);
  CHECK_EQ(info(&ea)->admitted, 0);
  unlink_pair(&ej, &ea);
  /* once admitted, its own changes travel too, to a member that has
   * heard of the admission */
  volunteers(j, 3, "J");
  link_pair(n[1], n[0], &ej, &ea);
  shuttle(&ej, &ea, 0, NULL);
  CHECK_EQ(info(&ea)->state, 1);
  unlink_pair(&ej, &ea);
  link_pair(j, n[0], &ej, &ea);
  shuttle(&ej, &ea, 0, NULL);
  CHECK_EQ(info(&ea)->state, 1);
  CHECK(check_same_digest(j, n[0]));
  unlink_pair(&ej, &ea);

  /* the same invite for another node: refused, nothing admitted */
  REQUIRE(kr_node_create_joining(check_path("second"), "Tweede", "other", net, founder, &k) == 0);
  check_same_clock(k, n[1]);
  REQUIRE(kr_node_set_inviter(k, inv.inviter) == 0);
  REQUIRE(kr_join_make(&inv, kr_node_secret_key(k), "Tweede", "other", join_text,
                       sizeof join_text) == 0);
  REQUIRE(kr_link_new(k, 1, join_text, kr_node_now_ms(k), &ej.l) == 0);
  REQUIRE(kr_link_new(n[1], 0, NULL, kr_node_now_ms(n[1]), &ea.l) == 0);
  shuttle(&ej, &ea, 0, NULL);
  CHECK_EQ(info(&ea)->state, -1);
  CHECK_EQ(info(&ea)->err, KR_EUSED);
  CHECK(strstr(info(&ej)->reason, "already been used") != NULL);
  CHECK_EQ(kr_node_is_member(n[1], kr_node_id(k)), 0);
  unlink_pair(&ej, &ea);
  /* The request names 4 bytes of the network and of the inviter: any
   * member finds the inviter by them and checks its signature; a node of
   * another network, or one that knows no such member, refuses. */
  {
    static kr_join_req r;
    kr_node *x;
    REQUIRE(kr_join_parse(join_text, &r) == 0);
    CHECK_EQ(kr_join_inviter(n[0], &r), 0);
    CHECK(memcmp(r.inv.inviter, kr_node_id(n[1]), KR_NODE_LEN) == 0);
    CHECK(memcmp(r.inv.network, net, KR_NETWORK_LEN) == 0);
    CHECK(memcmp(r.inv.founder, founder, KR_NODE_LEN) == 0);
    REQUIRE(kr_join_parse(join_text, &r) == 0);
    CHECK_EQ(kr_join_inviter(k, &r), KR_ENOTMEMBER);
    REQUIRE(kr_node_create(check_path("elsewhere"), "Elders", "other", &x) == 0);
    CHECK_EQ(kr_join_inviter(x, &r), KR_ENETWORK);
    kr_node_close(x);
  }
  kr_node_close(k);
  kr_node_close(j);
  kr_node_close(n[0]);
  kr_node_close(n[1]);
}

int main(void)
{
  REQUIRE(sodium_init() >= 0);
  test_chunkings();
  test_cut();
  test_strangers();
  test_garbage_and_timeout();
  test_hostile();
  test_future();
  test_join();
  return check_done("test_session");
}
