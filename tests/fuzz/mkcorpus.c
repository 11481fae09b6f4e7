/*
 * mkcorpus: writes seed inputs for fuzz_invite, fuzz_join, fuzz_bundle,
 * fuzz_handshake, fuzz_frame, fuzz_change, fuzz_op and fuzz_group into the
 * directories given. Run once by hand:
 *   build/tests/fuzz_mkcorpus tests/fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/change.h"
#include "fuzz_key.h"
#include "sync/bundle.h"
#include "sync/invite.h"
#include "sync/session.h"

static void put(const char *dir, const char *sub, const char *name, const void *p, size_t n)
{
  char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
  if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n || fclose(f)) {
    perror(path);
    exit(1);
  }
}

/* One session frame: u8 type | u32 length | body. */
static void frame(kr_buf *b, int type, const void *body, size_t len)
{
  uint8_t h[5] = {(uint8_t)type, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                  (uint8_t)len};
  kr_buf_add(b, h, 5);
  if (len) kr_buf_add(b, body, len);
}

/* A change of one record holding a sealed group: name set on subject,
 * under a fixed key of epoch (1, origin). */
static void group_change(const uint8_t sk[64], const uint8_t net[16], uint64_t seq, uint64_t ms,
                         uint8_t subj, const char *name, kr_buf *chg, const char *dir)
{
  static const uint8_t key[32] = {0x6b, 0x72};
  kr_op op, g;
  kr_buf plain, box;
  uint8_t nonce[KR_NONCE_LEN];
  randombytes_buf(nonce, sizeof nonce);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_SET;
  memset(op.subject, subj, 16);
  op.field = 1;
  op.value = name;
  memset(&g, 0, sizeof g);
  g.type = KR_OP_RECORD;
  memcpy(g.subject, op.subject, 16);
  g.epoch = 1;
  memcpy(g.creator, sk + 32, 32);
  kr_buf_init(&plain, KR_CHANGE_MAX);
  kr_buf_init(&box, KR_CHANGE_MAX);
  kr_group_encode(&op, 1, &fuzz_nodes, &plain);
  if (dir) put(dir, "group", "seed-set", plain.data, plain.len);
  kr_group_seal(key, net, sk + 32, seq, nonce, 0, &g, plain.data, plain.len, &box);
  g.box = box.data;
  g.box_len = (uint32_t)box.len;
  if (dir) {
    kr_buf ob;
    kr_buf_init(&ob, KR_CHANGE_MAX);
    kr_nodes own = {sk + 32, NULL, 0};        /* the origin alone: number 0 */
    if (kr_op_encode(&g, &own, &ob) == 0) put(dir, "op", "seed-group", ob.data, ob.len);
    kr_buf_free(&ob);
  }
  kr_change_build(sk, seq, ms << 16, nonce, &g, 1, chg);
  if (dir) {
    /* the same epoch's key, sealed by the origin to itself: a record of
     * a key entry and the box, and a change of it */
    kr_op kp, rec = g;
    kr_keyent e;
    uint8_t pair[32], sealed[KR_SEALED_KEY_LEN];
    kr_buf ob, kc;
    memcpy(e.reader, sk + 32, 32);
    e.sealed = sealed;
    rec.keys = &e;
    rec.nkeys = 1;
    kr_record_key(&rec, 0, &kp);
    if (kr_pair_key_ed(sk, sk + 32, pair) == 0 &&
        kr_key_seal(pair, net, sk + 32, nonce, 0, &kp, key, sealed) == 0) {
      kr_buf_init(&ob, KR_CHANGE_MAX);
      kr_buf_init(&kc, KR_CHANGE_MAX);
      kr_nodes own = {sk + 32, NULL, 0};
      if (kr_op_encode(&rec, &own, &ob) == 0) put(dir, "op", "seed-key", ob.data, ob.len);
      if (kr_change_build(sk, seq, ms << 16, nonce, &rec, 1, &kc) == 0)
        put(dir, "change", "seed-key", kc.data, kc.len);
      kr_buf_free(&ob);
      kr_buf_free(&kc);
    }
  }
  kr_buf_free(&plain);
  kr_buf_free(&box);
}

static void session_seeds(const char *dir, const uint8_t sk[64])
{
  static const uint8_t empty_vv = 0x90;
  const uint8_t batch[12] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
  /* VEC: the vector, then the heads (an empty bin; or one entry and its head) */
  static const uint8_t vec[] = {0x90, 0xc4, 0x00};
  static const uint8_t vec_heads[] = {
    0x91, 0x92, 0xc4, 0x20, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0x05, 0xc4, 0x08, 1, 2, 3, 4, 5, 6, 7, 8};
  const uint8_t ack[16] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
  uint8_t hs[1 + 2 + 96];
  kr_buf b, chg;

  kr_buf_init(&b, 1u << 22);
  kr_buf_init(&chg, KR_CHANGE_MAX);
  {
    uint8_t net[16];
    memset(net, 7, sizeof net);
    group_change(sk, net, 1, 1767225600000ull, 9, "Fatima El Amrani", &chg, dir);
    put(dir, "change", "seed-group", chg.data, chg.len);
  }
  /* an admission with its invite key and proof (op type 8, seven fields) */
  {
    kr_buf ob;
    uint8_t ipk[32], isk[64];
    kr_op a;
    memset(&a, 0, sizeof a);
    a.type = KR_OP_ADMIT;
    crypto_sign_keypair(ipk, isk);
    memcpy(a.invite_pk, ipk, 32);
    kr_invite_key_id(ipk, a.subject);
    memset(a.member, 5, 32);
    a.org = "Buurtteam Oost";
    a.kind = "buurtteam";
    kr_admit_proof(isk, a.member, a.kind, a.org, a.proof);
    kr_buf_init(&ob, 4096);
    if (kr_op_encode(&a, &fuzz_nodes, &ob) == 0) put(dir, "op", "seed-admit", ob.data, ob.len);
    kr_buf_free(&ob);
  }
  frame(&b, KR_FRAME_VEC, vec, sizeof vec);
  frame(&b, KR_FRAME_CHG, chg.data, chg.len);
  frame(&b, KR_FRAME_BATCH, batch, sizeof batch);
  frame(&b, KR_FRAME_DONE, NULL, 0);
  frame(&b, KR_FRAME_END, &empty_vv, 1);
  put(dir, "frame", "seed-batch", b.data, b.len);
  kr_buf_reset(&b);
  frame(&b, KR_FRAME_VEC, vec_heads, sizeof vec_heads);
  frame(&b, KR_FRAME_ACK, ack, sizeof ack);
  put(dir, "frame", "seed-ack", b.data, b.len);
  kr_buf_reset(&b);
  frame(&b, KR_FRAME_ERR, "not a member", 12);
  put(dir, "frame", "seed-err", b.data, b.len);
  /* handshake: a responder reading -> e; an initiator reading a fake <- e, ee, s, es */
  memset(hs, 0, sizeof hs);
  hs[0] = 0;
  hs[2] = 32;
  crypto_scalarmult_base(hs + 3, sk);
  put(dir, "handshake", "seed-msg1", hs, 3 + 32);
  hs[0] = 1;
  hs[2] = 96;
  randombytes_buf(hs + 35, 64);
  put(dir, "handshake", "seed-msg2", hs, sizeof hs);
  kr_buf_free(&b);
  kr_buf_free(&chg);
}

static int buf_write(void *ctx, const void *p, size_t n) { return kr_buf_add(ctx, p, n); }

/* line as a mail program delivers it: wrapped at width, each line quoted,
 * text around it */
static void mail(const char *dir, const char *sub, const char *name, const char *line, int width,
                 const char *quote)
{
  char text[3 * KR_INVITE_TEXT_MAX];
  size_t at = (size_t)snprintf(text, sizeof text, "Hoi,\n\n%s", quote);
  for (size_t i = 0; i < strlen(line); i += (size_t)width)
    at += (size_t)snprintf(text + at, sizeof text - at, "%.*s\n%s", width, line + i, quote);
  at += (size_t)snprintf(text + at, sizeof text - at, "\nGroeten, Els\n");
  put(dir, sub, name, text, at);
}

int main(int argc, char **argv)
{
  uint8_t pk[32], sk[64], net[16], opk[32], osk[64];
  const char *addrs[] = {"10.0.0.5:7311"};
  const char *more[] = {"[2001:db8::5]:7311", "kring.example.nl:7311", "192.168.001.5"};
  char inv[KR_INVITE_TEXT_MAX + 1], req[KR_INVITE_TEXT_MAX + 1];
  static kr_invite parsed;

  if (argc != 2) { fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]); return 2; }
  fuzz_key(pk, sk);
  crypto_sign_keypair(opk, osk);
  memset(net, 7, sizeof net);
  /* the founder's invites, with an IPv4 address and without */
  kr_invite_make(sk, net, pk, 1767225600000ull, addrs, 1, inv, sizeof inv);
  put(argv[1], "invite", "seed-addr", inv, strlen(inv));
  kr_invite_parse(inv, &parsed);
  kr_join_make(&parsed, osk, "Buurtteam Oost", "buurtteam", req, sizeof req);
  put(argv[1], "join", "seed", req, strlen(req));
  mail(argv[1], "join", "seed-mail", req, 60, ">> ");
  kr_invite_make(sk, net, pk, 1767225600000ull, NULL, 0, inv, sizeof inv);
  put(argv[1], "invite", "seed-noaddr", inv, strlen(inv));
  mail(argv[1], "invite", "seed-mail", inv, 76, "> ");
  /* a member's invite (it names itself) with every kind of address */
  kr_invite_make(osk, net, pk, 1767225600000ull, more, sizeof more / sizeof more[0], inv, sizeof inv);
  put(argv[1], "invite", "seed-member", inv, strlen(inv));
  kr_invite_parse(inv, &parsed);
  kr_join_make(&parsed, sk, "Stichting Vrijwilligerscentrale Zuidoost", "centre", req, sizeof req);
  put(argv[1], "join", "seed-member", req, strlen(req));
  session_seeds(argv[1], sk);
  {
    /* a group of every op type that travels sealed; a withdrawal in clear */
    static const uint8_t tags[32] = {1, [16] = 2};
    kr_op o[6];
    kr_buf plain;
    memset(o, 0, sizeof o);
    for (int i = 0; i < 6; i++) memset(o[i].subject, 9, 16);
    o[0].type = KR_OP_SET; o[0].field = 5; o[0].value = "Utrecht";
    o[1].type = KR_OP_SET; o[1].field = 3; o[1].value = NULL;
    o[2].type = KR_OP_ADD; o[2].field = 32; o[2].value = "koken";
    o[3].type = KR_OP_REMOVE; o[3].field = 32; o[3].value = "tuinieren"; o[3].tags = tags; o[3].ntags = 2;
    o[4].type = KR_OP_GRANT; o[4].purpose = "matching"; o[4].recipient_all = 1; o[4].method = 1;
    o[4].text_version = "v1"; o[4].until = "2027-01-31"; o[4].tags = tags; o[4].ntags = 1;
    o[4].recipient_all = 0; memcpy(o[4].recipient, fuzz_node_ids[3], 32);   /* number 3 */
    o[5].type = KR_OP_WITHDRAW; o[5].purpose = "photos"; memcpy(o[5].recipient, fuzz_node_ids[2], 32);
    o[5].method = 2; o[5].text_version = "";
    kr_buf_init(&plain, KR_CHANGE_MAX);
    if (kr_group_encode(o, 5, &fuzz_nodes, &plain) == 0)
      put(argv[1], "group", "seed-all", plain.data, plain.len);
    kr_buf_reset(&plain);
    memset(o[5].subject, 9, 16);
    if (kr_op_encode(&o[5], &fuzz_nodes, &plain) == 0)
      put(argv[1], "op", "seed-withdraw", plain.data, plain.len);
    kr_buf_free(&plain);
  }

  {
    /* a purpose of the network's list (op type 13, in clear), and the
     * founder's change that carries it */
    kr_op p;
    kr_buf ob, chg;
    memset(&p, 0, sizeof p);
    p.type = KR_OP_PURPOSE;
    p.purpose = "photos";
    p.value = "om foto's van de vrijwilliger te gebruiken in publicaties";
    p.text_version = "2025-1";
    kr_purpose_key(p.purpose, p.subject);
    kr_buf_init(&ob, 4096);
    kr_buf_init(&chg, KR_CHANGE_MAX);
    if (kr_op_encode(&p, &fuzz_nodes, &ob) == 0) put(argv[1], "op", "seed-purpose", ob.data, ob.len);
    if (kr_change_build(sk, 2, 1767225600000ull << 16, NULL, &p, 1, &chg) == 0)
      put(argv[1], "change", "seed-purpose", chg.data, chg.len);
    kr_buf_free(&ob);
    kr_buf_free(&chg);
  }

  for (int b = 0; b < 3; b++) {
    kr_bundle_writer w;
    kr_buf out, chg;
    kr_vv v;
    uint8_t rcpt[2][32];
    char name[32];
    int n = b == 0 ? 0 : b == 1 ? 1 : 5;
    kr_buf_init(&out, 1u << 24);
    kr_buf_init(&chg, KR_CHANGE_MAX);
    kr_vv_init(&v);
    kr_vv_set(&v, pk, (uint64_t)n);
    memcpy(rcpt[0], pk, 32);
    memcpy(rcpt[1], opk, 32);
    kr_bundle_write_begin(&w, sk, net, b == 1 ? opk : NULL, &v, (uint64_t)n, 1767225600000ull,
                          (const uint8_t (*)[32])rcpt, 2, buf_write, &out);
    for (int i = 0; i < n; i++) {
      kr_buf_reset(&chg);
      group_change(sk, net, (uint64_t)i + 1, 1767225600000ull + (uint64_t)i, (uint8_t)(i + 1),
                   "Anna de Vries", &chg, NULL);
      kr_bundle_write_change(&w, chg.data, chg.len);
    }
    kr_bundle_write_end(&w);
    kr_bundle_writer_free(&w);
    snprintf(name, sizeof name, "seed-%d", n);
    put(argv[1], "bundle", name, out.data, out.len);
    kr_buf_free(&out);
    kr_buf_free(&chg);
    kr_vv_free(&v);
  }
  return 0;
}
