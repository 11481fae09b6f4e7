/* test_sync: version vectors, invites and join requests, the bundle
 * format against damage, the membership rules on apply, and the order and
 * bounds of the lacks stream. */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "crdt/err.h"
#include "crdt/vv.h"
#include "sync/bundle.h"
#include "sync/invite.h"

/* ---- memory carriers for the bundle format ---- */
struct mem { kr_buf b; size_t pos; };
static int mem_write(void *ctx, const void *p, size_t n) { return kr_buf_add(&((struct mem *)ctx)->b, p, n); }
static long mem_read(void *ctx, void *p, size_t n)
{
  struct mem *m = ctx;
  size_t k = m->b.len - m->pos < n ? m->b.len - m->pos : n;
  memcpy(p, m->b.data + m->pos, k);
  m->pos += k;
  return (long)k;
}

/* Read a whole bundle: the count of changes, or a negative error. */
static long read_bundle(const uint8_t *data, size_t len, const uint8_t sk[64])
{
  kr_bundle_reader r;
  struct mem m;
  kr_buf plain;
  long count = 0;
  int rc, end = 0;

  m.b.data = (uint8_t *)data; m.b.len = len; m.pos = 0;
  kr_buf_init(&plain, KR_BUNDLE_CHUNK_MAX + 64);
  if ((rc = kr_bundle_read_header(&r, mem_read, &m)) || (rc = kr_bundle_unlock(&r, sk))) goto out;
  while (!end) {
    size_t off = 0, cl;
    const uint8_t *c;
    if ((rc = kr_bundle_read_chunk(&r, mem_read, &m, &plain, &end))) goto out;
    while (!(rc = kr_bundle_next_change(&plain, &off, &c, &cl)) && c) count++;
    if (rc) goto out;
  }
out:
  kr_bundle_reader_free(&r);
  kr_buf_free(&plain);
  return rc ? rc : count;
}

static void test_vv(void)
{
  kr_vv v, w;
  kr_buf b;
  kr_mp r;
  uint8_t o[3][32];

  memset(o, 0, sizeof o);
  o[0][0] = 3; o[1][0] = 1; o[2][0] = 2;
  kr_vv_init(&v);
  kr_buf_init(&b, 1 << 20);
  for (int i = 0; i < 3; i++) CHECK_EQ(kr_vv_set(&v, o[i], (uint64_t)(i + 5)), 0);
  CHECK_EQ(kr_vv_get(&v, o[1]), 6);
  CHECK_EQ(kr_vv_encode(&v, &b), 0);
  kr_mp_init(&r, b.data, b.len);
  CHECK_EQ(kr_vv_decode(&r, &w), 0);
  CHECK_EQ(w.n, 3);
  CHECK(memcmp(w.e[0].origin, o[1], 32) == 0);   /* ascending */
  kr_vv_free(&w);
  /* Swapped order is not canonical; seq 0 is malformed; truncation fails. */
  {
    kr_vv x;
    uint8_t bad[256];
    memcpy(bad, b.data, b.len);
    /* entries are 1 + 2 + 32 + 1 bytes (seq < 128): swap the first two */
    uint8_t tmp[36];
    memcpy(tmp, bad + 1, 36); memcpy(bad + 1, bad + 37, 36); memcpy(bad + 37, tmp, 36);
    kr_mp_init(&r, bad, b.len);
    CHECK_EQ(kr_vv_decode(&r, &x), KR_ENONCANON);
    memcpy(bad, b.data, b.len);
    bad[36] = 0;
    kr_mp_init(&r, bad, b.len);
    CHECK_EQ(kr_vv_decode(&r, &x), KR_EMALFORMED);
    for (size_t l = 0; l < b.len; l++) {
      kr_mp_init(&r, b.data, l);
      CHECK(kr_vv_decode(&r, &x) < 0);
    }
  }
  CHECK_EQ(kr_vv_set(&v, o[1], 0), 0);
  CHECK_EQ(v.n, 2);
  kr_vv_free(&v);
  kr_buf_free(&b);
}

static void test_invite(void)
{
  uint8_t pk[32], sk[64], npk[32], nsk[64], mpk[32], msk[64], net[16], other[16], founder[32];
  uint8_t id1[16], id2[16];
  const char *addrs[] = {"192.168.1.10:7311", "kring.example.nl:7311"};
  char line[KR_INVITE_TEXT_MAX + 1], req[KR_INVITE_TEXT_MAX + 1];
  static kr_invite inv, inv2;
  static kr_join_req j;

  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(npk, nsk);
  crypto_sign_keypair(mpk, msk);
  randombytes_buf(net, 16);
  memcpy(other, net, 16);
  other[15] ^= 1;
  memcpy(founder, pk, 32);
  CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, addrs, 2, line, sizeof line), 0);
  CHECK(strncmp(line, KR_INVITE_PREFIX, strlen(KR_INVITE_PREFIX)) == 0);
  CHECK(strchr(line, '\n') == NULL && strchr(line, ' ') == NULL);
  CHECK_EQ(kr_invite_parse(line, &inv), 0);
  CHECK(memcmp(inv.network, net, 16) == 0 && memcmp(inv.inviter, pk, 32) == 0);
  CHECK(memcmp(inv.founder, pk, 32) == 0);
  CHECK_EQ(inv.expires_ms, 1767225600000ull);
  CHECK_EQ(inv.naddr, 2);
  CHECK(strcmp(inv.addr[0], "192.168.1.10:7311") == 0);
  CHECK(strcmp(inv.addr[1], "kring.example.nl:7311") == 0);
  /* The founder's invite: 133 bytes and an IPv4 address in 7 (base64url,
   * 4 characters per 3 bytes) */
  CHECK_EQ(strlen(line), strlen(KR_INVITE_PREFIX) + ((133 + 7 + 22) * 4 + 2) / 3);
  /* Two invites are two secrets. */
  CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, NULL, 0, req, sizeof req), 0);
  CHECK_EQ(strlen(req), strlen(KR_INVITE_PREFIX) + 178);
  CHECK_EQ(kr_invite_parse(req, &inv2), 0);
  kr_invite_id(&inv, id1);
  kr_invite_id(&inv2, id2);
  CHECK(memcmp(id1, id2, 16) != 0);
  /* Every changed character is refused, never accepted as another invite
   * (the secret and the addresses give the key the inviter signed). */
  for (size_t i = strlen(KR_INVITE_PREFIX); line[i]; i++) {
    char save = line[i];
    line[i] = save == 'A' ? 'B' : 'A';
    CHECK(kr_invite_parse(line, &inv2) < 0);
    line[i] = save;
  }
  /* a byte from 0x80 up is no '_' (libsodium 1.0.18 would read it so) */
  {
    char u[KR_INVITE_TEXT_MAX + 1], *at = NULL;
    for (int i = 0; i < 100 && !at; i++) {
      REQUIRE(kr_invite_make(sk, net, founder, 1767225600000ull, NULL, 0, u, sizeof u) == 0);
      at = strchr(u + strlen(KR_INVITE_PREFIX), '_');
    }
    REQUIRE(at != NULL);
    *at = (char)0xde;
    CHECK_EQ(kr_invite_parse(u, &inv2), KR_EMALFORMED);
    *at = '_';
    CHECK_EQ(kr_invite_parse(u, &inv2), 0);
  }
  CHECK(kr_invite_parse("kring-invite-2.", &inv2) < 0);
  CHECK_EQ(kr_invite_parse("kring-invite-1.k8SElwHEEDzoj0vvDyts8pSt", &inv2), KR_EUNKNOWN);
  CHECK(kr_invite_parse("hello", &inv2) < 0);
  line[strlen(line) - 4] = 0;
  CHECK_EQ(kr_invite_parse(line, &inv2), KR_ETRUNCATED);
  CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, addrs, 2, line, sizeof line), 0);
  CHECK_EQ(kr_invite_parse(line, &inv), 0);

  CHECK_EQ(kr_join_make(&inv, nsk, "Buurtteam Oost", "buurtteam", req, sizeof req), 0);
  /* 270 bytes and the organisation's name */
  CHECK_EQ(strlen(req), strlen(KR_JOIN_PREFIX) + ((270 + 14) * 4 + 2) / 3);
  CHECK_EQ(kr_join_parse(req, &j), 0);
  CHECK(memcmp(j.node, npk, 32) == 0 && strcmp(j.org, "Buurtteam Oost") == 0);
  CHECK(strcmp(j.kind, "buurtteam") == 0);
  CHECK(memcmp(j.inv.invite_pk, inv.invite_pk, 32) == 0);
  CHECK_EQ(j.inv.expires_ms, inv.expires_ms);
  {
    uint8_t zero[32] = {0};
    CHECK(memcmp(j.inv.seed, zero, 32) == 0);   /* the secret does not travel */
  }
  /* the inviter's signature holds for this network, founder and inviter only */
  CHECK_EQ(kr_join_check_inviter(&j, net, founder, pk), 0);
  CHECK_EQ(kr_join_check_inviter(&j, other, founder, pk), KR_EBADSIG);
  CHECK_EQ(kr_join_check_inviter(&j, net, mpk, pk), KR_EBADSIG);
  CHECK_EQ(kr_join_check_inviter(&j, net, founder, mpk), KR_EBADSIG);
  for (size_t i = strlen(KR_JOIN_PREFIX); req[i]; i++) {
    char save = req[i];
    req[i] = save == 'A' ? 'B' : 'A';
    CHECK(kr_join_parse(req, &j) < 0);
    req[i] = save;
  }
  CHECK_EQ(kr_join_make(&inv, nsk, "", "care", req, sizeof req), KR_EINVAL);
  CHECK_EQ(kr_join_make(&inv, nsk, "X", "bank", req, sizeof req), KR_EINVAL);
  /* every kind travels */
  {
    char kinds[] = KR_KINDS, *save = NULL;
    for (char *k = strtok_r(kinds, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
      CHECK_EQ(kr_join_make(&inv, nsk, "Org", k, req, sizeof req), 0);
      CHECK_EQ(kr_join_parse(req, &j), 0);
      CHECK(strcmp(j.kind, k) == 0);
    }
  }
  /* Without the secret (a parsed join request's invite) no valid proof. */
  REQUIRE(kr_join_make(&inv, nsk, "Buurtteam Oost", "buurtteam", req, sizeof req) == 0);
  REQUIRE(kr_join_parse(req, &j) == 0);
  CHECK_EQ(kr_join_make(&j.inv, nsk, "X", "care", req, sizeof req), 0);
  CHECK_EQ(kr_join_parse(req, &j), KR_EBADSIG);

  /* A member's invite names the inviter too; the expiry is rounded up to
   * the minute. */
  CHECK_EQ(kr_invite_make(msk, net, founder, 1767225600001ull, NULL, 0, line, sizeof line), 0);
  CHECK_EQ(strlen(line), strlen(KR_INVITE_PREFIX) + ((133 + 32) * 4 + 2) / 3);
  CHECK_EQ(kr_invite_parse(line, &inv), 0);
  CHECK(memcmp(inv.founder, pk, 32) == 0 && memcmp(inv.inviter, mpk, 32) == 0);
  CHECK_EQ(inv.expires_ms, 1767225660000ull);
  CHECK_EQ(kr_join_make(&inv, nsk, "MZO Samen", "mzo", req, sizeof req), 0);
  CHECK_EQ(kr_join_parse(req, &j), 0);
  CHECK(memcmp(j.inviter_tag, mpk, KR_JOIN_TAG_LEN) == 0 && memcmp(j.network_tag, net, 4) == 0);
  CHECK_EQ(kr_join_check_inviter(&j, net, founder, mpk), 0);
  CHECK_EQ(kr_join_check_inviter(&j, net, founder, pk), KR_EBADSIG);

  /* Addresses: an IPv4 or IPv6 address as it prints goes in binary, any
   * other text as it is, and each comes back as it went in. */
  {
    const char *as[] = {"10.0.0.5:7733", "[2001:db8::20]:7733", "[::1]:1", "192.168.001.1:7733",
                        "kring.example.nl", "10.0.0.5", "[2001:DB8::20]:7733", "0.0.0.0:0",
                        "255.255.255.255:65535", "1.2.3.4:65536", "h:1"};
    const char *bad[] = {"", "ab", "line\nbreak:7733"};
    size_t na = sizeof as / sizeof as[0];
    for (size_t i = 0; i < na; i += KR_INVITE_ADDRS) {
      size_t k = na - i < KR_INVITE_ADDRS ? na - i : KR_INVITE_ADDRS;
      CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, as + i, k, line, sizeof line), 0);
      CHECK_EQ(kr_invite_parse(line, &inv), 0);
      CHECK_EQ(inv.naddr, k);
      for (size_t a = 0; a < k && a < inv.naddr; a++) CHECK(strcmp(inv.addr[a], as[i + a]) == 0);
    }
    CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, as, 1, line, sizeof line), 0);
    CHECK_EQ(strlen(line), strlen(KR_INVITE_PREFIX) + ((133 + 7) * 4 + 2) / 3);
    CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, as + 1, 1, line, sizeof line), 0);
    CHECK_EQ(strlen(line), strlen(KR_INVITE_PREFIX) + ((133 + 19) * 4 + 2) / 3);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, bad + i, 1, line, sizeof line),
               KR_EINVAL);
    CHECK_EQ(kr_invite_make(sk, net, founder, 1767225600000ull, as, KR_INVITE_ADDRS + 1, line,
                            sizeof line), KR_ETOOBIG);
  }
}

/* An invite or join request as mail delivers it: found, and its end told
 * by its own lengths. */
static void test_extract(void)
{
  uint8_t pk[32], sk[64], npk[32], nsk[64], net[16];
  const char *addrs[] = {"kring.example.nl:7733"};
  char line[KR_INVITE_TEXT_MAX + 1], req[KR_INVITE_TEXT_MAX + 1], out[KR_INVITE_TEXT_MAX + 1];
  char mail[4 * KR_INVITE_TEXT_MAX];
  static kr_invite inv;
  size_t at = 0, ll;

  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(npk, nsk);
  randombytes_buf(net, 16);
  REQUIRE(kr_invite_make(sk, net, pk, 1767225600000ull, addrs, 1, line, sizeof line) == 0);
  ll = strlen(line);
  /* wrapped at 40, quoted twice, text around it, a word straight after */
  at += (size_t)snprintf(mail + at, sizeof mail - at, "Hoi,\n\nde uitnodiging:\n> > ");
  for (size_t i = 0; i < ll; i += 40)
    at += (size_t)snprintf(mail + at, sizeof mail - at, "%.40s\n> > ", line + i);
  snprintf(mail + at, sizeof mail - at, "Groeten, Els\n");
  CHECK_EQ(kr_invite_extract(mail, KR_INVITE_PREFIX, out, sizeof out), 0);
  CHECK(strcmp(out, line) == 0);
  CHECK_EQ(kr_invite_parse(out, &inv), 0);
  CHECK_EQ(kr_invite_extract(mail, KR_JOIN_PREFIX, out, sizeof out), KR_ENOTFOUND);
  /* cut short */
  snprintf(mail, sizeof mail, "%.*s", (int)(ll - 10), line);
  CHECK_EQ(kr_invite_extract(mail, KR_INVITE_PREFIX, out, sizeof out), KR_ETRUNCATED);
  snprintf(mail, sizeof mail, "%.20s", line);
  CHECK_EQ(kr_invite_extract(mail, KR_INVITE_PREFIX, out, sizeof out), KR_ETRUNCATED);
  /* another format */
  CHECK_EQ(kr_invite_extract("zie kring-invite-1.k8SElwHEEDzoj0vvDyts8pSt", KR_INVITE_PREFIX, out,
                             sizeof out), KR_EUNKNOWN);
  CHECK_EQ(kr_invite_extract("kring-invite-2.____", KR_INVITE_PREFIX, out, sizeof out),
           KR_EMALFORMED);
  /* a join request the same way */
  REQUIRE(kr_invite_parse(line, &inv) == 0);
  REQUIRE(kr_join_make(&inv, nsk, "Buurtteam Oost", "buurtteam", req, sizeof req) == 0);
  ll = strlen(req);
  at = (size_t)snprintf(mail, sizeof mail, "> ");
  for (size_t i = 0; i < ll; i += 76)
    at += (size_t)snprintf(mail + at, sizeof mail - at, "%.76s\n> ", req + i);
  snprintf(mail + at, sizeof mail - at, "\n> Kees\n");
  CHECK_EQ(kr_invite_extract(mail, KR_JOIN_PREFIX, out, sizeof out), 0);
  CHECK(strcmp(out, req) == 0);
  CHECK_EQ(kr_invite_extract(mail, KR_INVITE_PREFIX, out, sizeof out), KR_ENOTFOUND);
}

static void test_bundle(void)
{
  uint8_t pk[32], sk[64], pk2[32], sk2[64], pk3[32], sk3[64], net[16];
  uint8_t rcpt[2][32];
  kr_bundle_writer w;
  struct mem m;
  kr_vv v;
  uint8_t change[3000];
  int nchg = 300;

  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(pk2, sk2);
  crypto_sign_keypair(pk3, sk3);
  randombytes_buf(net, 16);
  memcpy(rcpt[0], pk, 32);
  memcpy(rcpt[1], pk2, 32);
  kr_vv_init(&v);
  kr_vv_set(&v, pk, 7);
  kr_buf_init(&m.b, 64u << 20);
  m.pos = 0;
  /* Opaque payloads are fine here: the format does not parse changes. */
  REQUIRE(kr_bundle_write_begin(&w, sk, net, NULL, &v, (uint64_t)nchg, 1, (const uint8_t (*)[32])rcpt, 2,
                                mem_write, &m) == 0);
  /* The writer signs with the caller's (guarded) key in place: no copy of
   * it sits in the writer. */
  for (size_t i = 0; i + 32 <= sizeof w; i++) CHECK(memcmp((uint8_t *)&w + i, sk, 32) != 0);
  for (int i = 0; i < nchg; i++) {
    memset(change, i & 0xff, sizeof change);
    REQUIRE(kr_bundle_write_change(&w, change, 1000 + (size_t)i * 5) == 0);
  }
  REQUIRE(kr_bundle_write_end(&w) == 0);
  CHECK_EQ(w.written, m.b.len);
  kr_bundle_writer_free(&w);
  CHECK_EQ(read_bundle(m.b.data, m.b.len, sk), nchg);
  CHECK_EQ(read_bundle(m.b.data, m.b.len, sk2), nchg);       /* every recipient */
  CHECK_EQ(read_bundle(m.b.data, m.b.len, sk3), KR_ENOKEY);  /* not a recipient */
  /* Truncated anywhere, or one flipped bit anywhere: refused. */
  for (size_t l = 0; l < m.b.len; l += 1 + l / 7)
    CHECK(read_bundle(m.b.data, l, sk2) < 0);
  for (size_t i = 0; i < m.b.len; i += 1 + i / 11) {
    m.b.data[i] ^= 0x10;
    CHECK(read_bundle(m.b.data, m.b.len, sk2) < 0);
    m.b.data[i] ^= 0x10;
  }
  /* Bytes after the signature are refused too. */
  kr_buf_add(&m.b, "x", 1);
  CHECK(read_bundle(m.b.data, m.b.len, sk2) < 0);
  kr_buf_free(&m.b);
  kr_vv_free(&v);
}

struct order { int memb_done, bad; uint8_t last_origin[32]; uint64_t last_seq; size_t n; };
static int see(void *ctx, const uint8_t *buf, size_t len)
{
  struct order *o = ctx;
  kr_change c;
  int memb = 0;
  REQUIRE(kr_change_decode(buf, len, KR_CHANGE_MAX, &c) == 0);
  for (uint32_t i = 0; i < c.nops; i++) memb |= KR_OP_IS_MEMBERSHIP(c.ops[i].type);
  if (memb && o->memb_done) o->bad = 1;          /* membership first */
  if (!memb) {
    if (!o->memb_done) o->memb_done = 1;
    else if (memcmp(o->last_origin, c.origin, 32) == 0 && c.seq <= o->last_seq) o->bad = 1;
    memcpy(o->last_origin, c.origin, 32);
    o->last_seq = c.seq;
  }
  o->n++;
  kr_change_free(&c);
  return 0;
}

static void test_membership_and_lacks(void)
{
  kr_node *n[3], *x;
  kr_buf w, late;
  kr_txn *t;
  uint8_t id[16], net[16], founder[32];
  int fresh;

  check_network(n, 3, "m", "care");
  kr_buf_init(&w, KR_CHANGE_MAX);
  kr_buf_init(&late, KR_CHANGE_MAX);
  kr_node_network(n[0], net, founder);
  /* A node that never was a member: its changes are refused. */
  REQUIRE(kr_node_create_joining(check_path("stranger"), "Vreemd", "other", net, founder, &x) == 0);
  REQUIRE(kr_txn_begin(x, &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Niemand", NULL) == 0);
  CHECK_EQ(kr_txn_commit(t, NULL), KR_ENOTMEMBER);
  kr_node_close(x);
  /* A node of another network cannot found ours. */
  REQUIRE(kr_node_create(check_path("other"), "Ander", "other", &x) == 0);
  {
    kr_buf f;
    kr_buf_init(&f, KR_CHANGE_MAX);
    REQUIRE(kr_node_change_bytes(x, kr_node_id(x), 1, &f) == 0);
    CHECK_EQ(kr_node_apply(n[0], f.data, f.len, &fresh), KR_ENETWORK);
    kr_buf_free(&f);
  }
  kr_node_close(x);

  /* n2 edits (seen by n0), then is removed by n0, then edits again. */
  REQUIRE(kr_txn_begin(n[2], &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Voor", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &w) == 0);
  CHECK_EQ(kr_node_apply(n[0], w.data, w.len, &fresh), 0);
  CHECK_EQ(fresh, 1);
  CHECK_EQ(kr_node_is_member(n[0], kr_node_id(n[2])), 1);
  CHECK_EQ(kr_node_expel(n[0], kr_node_id(n[2]), "gestopt"), 0);
  CHECK_EQ(kr_node_is_member(n[0], kr_node_id(n[2])), 0);
  CHECK_EQ(kr_node_expel(n[0], kr_node_id(n[2]), "nog eens"), KR_ENOTFOUND);
  CHECK_EQ(check_admit(n[0], kr_node_id(n[2]), "Terug", "care", id[0]), KR_EEXISTS);
  REQUIRE(kr_txn_begin(n[2], &t) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Na", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &late) == 0);
  CHECK_EQ(kr_node_apply(n[0], late.data, late.len, &fresh), KR_ENOTMEMBER);
  /* n1 learns of the removal through the lacks stream, then refuses too;
   * the change from before the removal still counts. */
  check_sync(n[0], n[1]);
  CHECK_EQ(kr_node_apply(n[1], late.data, late.len, &fresh), KR_ENOTMEMBER);
  CHECK_EQ(kr_node_apply(n[1], w.data, w.len, &fresh), 0);
  CHECK_EQ(fresh, 0);

  /* The vector and the lacks stream. */
  {
    kr_vv v, empty;
    kr_lacks *l;
    struct order o;
    size_t count, batches = 0;
    uint64_t total;
    REQUIRE(kr_node_vector(n[0], &v) == 0);
    CHECK_EQ(kr_vv_get(&v, kr_node_id(n[2])), 1);
    kr_vv_init(&empty);
    /* Many small changes so that the budget splits them. */
    for (int i = 0; i < 150; i++) {
      REQUIRE(kr_txn_begin(n[1], &t) == 0);
      kr_txn_new_subject(t, id);
      REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Vrijwilliger", NULL) == 0);
      REQUIRE(kr_txn_commit(t, NULL) == 0);
    }
    check_sync(n[1], n[0]);
    memset(&o, 0, sizeof o);
    REQUIRE(kr_lacks_open(n[0], &empty, &l) == 0);
    total = kr_lacks_total(l);
    do {
      REQUIRE(kr_lacks_next(l, 4096, see, &o, &count) == 0);
      batches += count > 0;
    } while (count);
    kr_lacks_close(l);
    CHECK_EQ(o.n, total);
    CHECK(!o.bad);
    CHECK(batches > 5);
    /* A peer that holds everything lacks nothing. */
    kr_vv_free(&v);
    REQUIRE(kr_node_vector(n[0], &v) == 0);
    REQUIRE(kr_lacks_open(n[0], &v, &l) == 0);
    CHECK_EQ(kr_lacks_total(l), 0);
    CHECK_EQ(kr_lacks_next(l, 4096, see, &o, &count), 0);
    CHECK_EQ(count, 0);
    kr_lacks_close(l);
    /* Peer vectors merge. */
    REQUIRE(kr_node_peer_record(n[0], kr_node_id(n[1]), &v) == 0);
    kr_vv_free(&empty);
    REQUIRE(kr_node_peer_vector(n[0], kr_node_id(n[1]), &empty) == 0);
    CHECK_EQ(empty.n, v.n);
    kr_vv_free(&v);
    kr_vv_free(&empty);
  }
  for (int i = 0; i < 3; i++) kr_node_close(n[i]);
  kr_buf_free(&w);
  kr_buf_free(&late);
}

/* A removal reaches a node that applied the removed node's later changes
 * first: it takes them back (and what they brought in: a late admission
 * and that node's changes), and keeps an erasure among them by erasing
 * again itself, so every node ends the same (docs/crdt.md, Membership). */
static void test_retraction(void)
{
  kr_node *n[4];
  kr_txn *t;
  kr_volunteer v;
  uint8_t kept[16], erased[16], late[16], fromd[16], invite[16] = {9};
  uint64_t cutoff;
  int rc;

  check_network(n, 3, "rt", "care");
  {
    uint8_t net[16], founder[32];
    kr_node_network(n[0], net, founder);
    REQUIRE(kr_node_create_joining(check_path("rt3"), "Laat", "other", net, founder, &n[3]) == 0);
    /* the network's clock, not the wall clock: else n3's changes are
     * stamped far ahead of the others' clocks and held, not applied */
    check_same_clock(n[3], n[0]);
  }
  /* n0 creates two volunteers; everyone has them, and reads them (every
   * volunteer here consents to all members). */
  REQUIRE(kr_txn_begin(n[0], &t) == 0);
  kr_txn_new_subject(t, kept);
  REQUIRE(kr_txn_set(t, kept, KR_F_NAME, "Blijft", NULL) == 0);
  REQUIRE(kr_txn_grant(t, kept, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  kr_txn_new_subject(t, erased);
  REQUIRE(kr_txn_set(t, erased, KR_F_NAME, "Wordt gewist", NULL) == 0);
  REQUIRE(kr_txn_grant(t, erased, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(n[0], n[1]);
  check_sync(n[0], n[2]);
  REQUIRE(kr_node_max_seq(n[0], kr_node_id(n[1]), &cutoff) == 0);
  /* n1, after what n0 holds of it: edits, erases, admits n3; n3 edits. */
  REQUIRE(kr_txn_begin(n[1], &t) == 0);
  REQUIRE(kr_txn_set(t, kept, KR_F_CITY, "Tilburg", NULL) == 0);
  kr_txn_new_subject(t, late);
  REQUIRE(kr_txn_set(t, late, KR_F_NAME, "Te laat", NULL) == 0);
  REQUIRE(kr_txn_grant(t, late, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  REQUIRE(kr_txn_begin(n[1], &t) == 0);
  REQUIRE(kr_txn_erase(t, erased, "verzoek", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  REQUIRE(check_admit(n[1], kr_node_id(n[3]), "Laat", "other", invite[0]) == 0);
  kr_node_set_inviter(n[3], kr_node_id(n[1]));
  check_sync(n[1], n[3]);
  REQUIRE(kr_txn_begin(n[3], &t) == 0);
  kr_txn_new_subject(t, fromd);
  REQUIRE(kr_txn_set(t, fromd, KR_F_NAME, "Van n3", NULL) == 0);
  REQUIRE(kr_txn_grant(t, fromd, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(n[1], n[2]);
  check_sync(n[3], n[2]);
  REQUIRE(kr_node_volunteer(n[2], erased, &v) == 0);
  CHECK(v.erased);
  kr_volunteer_free(&v);
  /* n2 reads what n1 and n3 wrote. */
  REQUIRE(kr_node_volunteer(n[2], kept, &v) == 0);
  CHECK(v.val.v[KR_F_CITY] && !strcmp(v.val.v[KR_F_CITY], "Tilburg"));
  kr_volunteer_free(&v);
  REQUIRE(kr_node_volunteer(n[2], late, &v) == 0);
  CHECK(v.val.v[KR_F_NAME] && !strcmp(v.val.v[KR_F_NAME], "Te laat"));
  kr_volunteer_free(&v);
  REQUIRE(kr_node_volunteer(n[2], fromd, &v) == 0);
  CHECK(v.val.v[KR_F_NAME] && !strcmp(v.val.v[KR_F_NAME], "Van n3"));
  kr_volunteer_free(&v);
  CHECK_EQ(kr_node_is_member(n[2], kr_node_id(n[3])), 1);
  /* n0, not having seen any of it, removes n1 after `cutoff`. */
  CHECK_EQ(kr_node_expel(n[0], kr_node_id(n[1]), "gestopt"), 0);
  check_sync(n[0], n[2]);
  /* n2 took back n1's late changes, n3's admission and n3's change ... */
  CHECK_EQ(kr_node_is_member(n[2], kr_node_id(n[3])), 0);
  /* (n2 sealed its key of `late` to n3 in a change of its own when n3 was
   * admitted; that change stays and names `late`, but nothing n1 wrote of
   * it does) */
  rc = kr_node_volunteer(n[2], late, &v);
  /* n2's key of it opens no group that remains: n2 does not read it */
  CHECK(rc == KR_ENOTFOUND || rc == KR_ESEALED);
  if (rc == 0) kr_volunteer_free(&v);
  CHECK(kr_node_volunteer(n[2], fromd, &v) == KR_ENOTFOUND);
  REQUIRE(kr_node_volunteer(n[2], kept, &v) == 0);
  CHECK(v.val.v[KR_F_NAME] && !strcmp(v.val.v[KR_F_NAME], "Blijft"));
  CHECK(!v.val.v[KR_F_CITY]);
  kr_volunteer_free(&v);
  /* ... and the erasure stands, now its own. */
  REQUIRE(kr_node_volunteer(n[2], erased, &v) == 0);
  CHECK(v.erased);
  CHECK(!memcmp(v.erased_at.origin, kr_node_id(n[2]), 32));
  CHECK(!v.val.v[KR_F_NAME]);
  kr_volunteer_free(&v);
  /* A volunteer that arrives after the retraction, sealed for n2, is not
   * read through a key left over from a taken-back change. */
  {
    uint8_t after[16];
    REQUIRE(kr_txn_begin(n[0], &t) == 0);
    kr_txn_new_subject(t, after);
    REQUIRE(kr_txn_set(t, after, KR_F_NAME, "Daarna", NULL) == 0);
    REQUIRE(kr_txn_commit(t, NULL) == 0);
    check_sync(n[0], n[2]);
    rc = kr_node_volunteer(n[2], after, &v);
    if (rc == 0) kr_volunteer_free(&v);
    CHECK_EQ(rc, KR_ESEALED);
  }
  /* n0 learns it from n2; both end the same. */
  check_sync(n[2], n[0]);
  check_sync(n[0], n[2]);
  REQUIRE(kr_node_volunteer(n[0], erased, &v) == 0);
  CHECK(v.erased);
  CHECK(!v.val.v[KR_F_NAME]);
  kr_volunteer_free(&v);
  CHECK(check_same_digest(n[0], n[2]));
  {
    kr_vv vv;
    REQUIRE(kr_node_vector(n[2], &vv) == 0);
    CHECK_EQ(kr_vv_get(&vv, kr_node_id(n[1])), cutoff);
    CHECK_EQ(kr_vv_get(&vv, kr_node_id(n[3])), 0);
    kr_vv_free(&vv);
  }
  for (int i = 0; i < 4; i++) kr_node_close(n[i]);
}

static int void_count(void *ctx, const kr_void_admission *v)
{
  kr_void_admission *out = ctx;
  *out = *v;
  out->org = out->winner_org = NULL;   /* valid during the call only */
  return 0;
}

/*
 * One invite admits one node, network-wide. n0 admits C with an invite
 * while n1, not yet synced with n0, admits D with the same invite; D
 * syncs with n1 and writes. When n0 and n1 meet, the earliest admission
 * stands on both: C is a member, D's admission is void, and D's change is
 * taken back on n1. Both agree, and both can name what happened.
 */
static void test_invite_once(void)
{
  kr_node *n[4];
  kr_txn *t;
  kr_volunteer v;
  kr_void_admission va;
  uint8_t net[16], founder[32], invite[16] = {0x77}, fromd[16], iid[16];

  check_network(n, 2, "io", "centre");
  kr_node_network(n[0], net, founder);
  REQUIRE(kr_node_create_joining(check_path("ioC"), "Org C", "other", net, founder, &n[2]) == 0);
  REQUIRE(kr_node_create_joining(check_path("ioD"), "Org D", "other", net, founder, &n[3]) == 0);
  check_same_clock(n[2], n[0]);
  check_same_clock(n[3], n[0]);
  REQUIRE(check_admit(n[0], kr_node_id(n[2]), "Org C", "other", invite[0]) == 0);
  check_invite_id(invite[0], iid);
  CHECK_EQ(kr_node_invite_used(n[0], iid), 1);
  CHECK_EQ(kr_node_invite_used(n[1], iid), 0);
  REQUIRE(check_admit(n[1], kr_node_id(n[3]), "Org D", "other", invite[0]) == 0);
  check_sync(n[1], n[3]);
  REQUIRE(kr_txn_begin(n[3], &t) == 0);
  kr_txn_new_subject(t, fromd);
  REQUIRE(kr_txn_set(t, fromd, KR_F_NAME, "Van D", NULL) == 0);
  REQUIRE(kr_txn_grant(t, fromd, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, NULL) == 0);
  check_sync(n[3], n[1]);
  REQUIRE(kr_node_volunteer(n[1], fromd, &v) == 0);
  kr_volunteer_free(&v);
  CHECK_EQ(kr_node_is_member(n[1], kr_node_id(n[3])), 1);

  check_sync(n[0], n[1]);
  check_sync(n[1], n[0]);
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(kr_node_is_member(n[i], kr_node_id(n[2])), 1);
    CHECK_EQ(kr_node_is_member(n[i], kr_node_id(n[3])), 0);
    CHECK(kr_node_volunteer(n[i], fromd, &v) == KR_ENOTFOUND);
    memset(&va, 0, sizeof va);
    REQUIRE(kr_node_void_admissions(n[i], void_count, &va) == 0);
    CHECK(!memcmp(va.node, kr_node_id(n[3]), 32));
    CHECK(!memcmp(va.winner, kr_node_id(n[2]), 32));
    CHECK(!memcmp(va.at.origin, kr_node_id(n[1]), 32));
  }
  CHECK(check_same_digest(n[0], n[1]));
  /* D's change is refused like a non-member's from now on. */
  {
    kr_buf b;
    uint64_t last;
    kr_buf_init(&b, KR_CHANGE_MAX);
    REQUIRE(kr_node_max_seq(n[3], kr_node_id(n[3]), &last) == 0);
    REQUIRE(kr_node_change_bytes(n[3], kr_node_id(n[3]), last, &b) == 0);
    CHECK_EQ(kr_node_apply(n[0], b.data, b.len, NULL), KR_ENOTMEMBER);
    CHECK(kr_node_volunteer(n[0], fromd, &v) == KR_ENOTFOUND);
    kr_buf_free(&b);
  }
  for (int i = 0; i < 4; i++) kr_node_close(n[i]);
}

int main(void)
{
  if (sodium_init() < 0) return 1;
  test_vv();
  test_invite();
  test_extract();
  test_bundle();
  test_membership_and_lacks();
  test_retraction();
  test_invite_once();
  return check_done("test_sync");
}
