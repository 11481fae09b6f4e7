/* test_change: change encoding (format 4), signature, records (their
 * sealed groups and keys), and the hostile-input decoders. */
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "check.h"
#include "crdt/change.h"
#include "crdt/err.h"
#include "crdt/mp.h"

static uint8_t pk[32], sk[64];
/* The node table of the sample change: the origin pk (number 0) and the
 * reader rpk (number 1); main fills it in. */
static uint8_t rpk[32], rsk[64];
static kr_nodes T;

/* A volunteer's ops of one change: they travel sealed, in one record's
 * box. The sample volunteer: the id the first registering record of a
 * change by pk under check_nonce makes (main fills it in before anything
 * uses it). */
static uint8_t vsubj[16];

static void sample_ops(kr_op *ops, uint8_t *tags)
{
  memset(ops, 0, 5 * sizeof *ops);
  memset(tags, 0xab, 16);
  memset(tags + 16, 0xcd, 16);
  for (int i = 0; i < 5; i++) memcpy(ops[i].subject, vsubj, 16);
  ops[0].type = KR_OP_SET; ops[0].field = KR_F_NAME; ops[0].value = "Fatma Yılmaz";
  ops[1].type = KR_OP_ADD; ops[1].field = KR_F_SKILLS; ops[1].value = "koken";
  ops[2].type = KR_OP_REMOVE; ops[2].field = KR_F_SKILLS; ops[2].value = "rijden";
  ops[2].tags = tags; ops[2].ntags = 2;
  ops[3].type = KR_OP_GRANT; ops[3].purpose = "contact"; ops[3].recipient_all = 1;
  ops[3].method = KR_METHOD_PAPER; ops[3].text_version = "v2"; ops[3].until = "2030-01-31";
  ops[4].type = KR_OP_SET; ops[4].field = KR_F_CITY; ops[4].value = NULL;
}

/* A registering record's subject, computed here apart from
 * kr_subject_derive: BLAKE2b-128(origin || nonce || r, 4 bytes
 * big-endian). */
static void derive(const uint8_t origin[32], const uint8_t nonce[16], uint32_t r, uint8_t s[16])
{
  uint8_t in[32 + 16 + 4];
  memcpy(in, origin, 32);
  memcpy(in + 32, nonce, 16);
  in[48] = (uint8_t)(r >> 24);
  in[49] = (uint8_t)(r >> 16);
  in[50] = (uint8_t)(r >> 8);
  in[51] = (uint8_t)r;
  crypto_generichash(s, 16, in, sizeof in, NULL, 0);
}

/* One op of a change made by hand: its bytes b (len), or (b NULL) a
 * redaction [0, rtype, rsubj, rhash]. */
typedef struct {
  const uint8_t *b;
  size_t len;
  uint8_t rtype;
  const uint8_t *rsubj, *rhash;
} rawop;

/* The root of a change by pk under check_nonce of the ops o
 * (docs/protocol.md): per op its leaf BLAKE2b-256(type || subject ||
 * BLAKE2b-256(op)), type and subject its first two elements (zeros where
 * it has none); a registering record's subject the derived one, r
 * counting the registering records before it, redacted or not; a
 * redaction's leaf from what it carries. Then BLAKE2b-256("kring-ops-4"
 * || leaf0 || ...). */
static void root_of(const rawop *o, uint32_t n, uint8_t root[32])
{
  crypto_generichash_state h, l;
  uint32_t nreg = 0;
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const uint8_t *)"kring-ops-4", 11);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t hash[32], leaf[32], type = 0, subject[16] = {0};
    if (!o[i].b) {
      type = o[i].rtype;
      memcpy(subject, o[i].rsubj, 16);
      memcpy(hash, o[i].rhash, 32);
      if (type == KR_OP_REGREC) nreg++;
    } else {
      kr_mp r;
      uint32_t m;
      uint64_t t;
      kr_mp_init(&r, o[i].b, o[i].len);
      if (!kr_mp_array(&r, &m) && m >= 2 && !kr_mp_uint(&r, &t) && t < 256) {
        type = (uint8_t)t;
        if (t == KR_OP_REGREC) derive(pk, check_nonce, nreg++, subject);
        else if (kr_mp_bin_fixed(&r, subject, 16)) memset(subject, 0, 16);
      }
      crypto_generichash(hash, 32, o[i].b, o[i].len, NULL, 0);
    }
    crypto_generichash_init(&l, NULL, 0, 32);
    crypto_generichash_update(&l, &type, 1);
    crypto_generichash_update(&l, subject, 16);
    crypto_generichash_update(&l, hash, 32);
    crypto_generichash_final(&l, leaf, 32);
    crypto_generichash_update(&h, leaf, 32);
  }
  crypto_generichash_final(&h, root, 32);
}

static void header(kr_buf *b, int version, uint64_t seq, const uint8_t root[32])
{
  msgpack_packer pk_;
  msgpack_packer_init(&pk_, b, kr_buf_mp_write);
  msgpack_pack_array(&pk_, 7);
  msgpack_pack_uint8(&pk_, (uint8_t)version);
  msgpack_pack_bin(&pk_, 32);
  msgpack_pack_bin_body(&pk_, pk, 32);
  msgpack_pack_uint64(&pk_, seq);
  msgpack_pack_uint64(&pk_, 12345);
  msgpack_pack_bin(&pk_, 16);
  msgpack_pack_bin_body(&pk_, check_nonce, 16);
  msgpack_pack_array(&pk_, 1);                  /* the node table T: rpk */
  msgpack_pack_bin(&pk_, 32);
  msgpack_pack_bin_body(&pk_, rpk, 32);
  msgpack_pack_bin(&pk_, 32);
  msgpack_pack_bin_body(&pk_, root, 32);
}

/* A properly signed change by pk of the ops o, assembled by hand (so that
 * it may withhold ops of any type): its bytes into out. */
static void raw_change(int version, uint64_t seq, const rawop *o, uint32_t n, kr_buf *out)
{
  kr_buf h;
  msgpack_packer p;
  uint8_t root[32], sig[64];
  kr_buf_init(&h, 4096);
  root_of(o, n, root);
  header(&h, version, seq, root);
  crypto_sign_detached(sig, NULL, h.data, h.len, sk);
  msgpack_packer_init(&p, out, kr_buf_mp_write);
  msgpack_pack_array(&p, 3);
  msgpack_pack_bin(&p, h.len);
  msgpack_pack_bin_body(&p, h.data, h.len);
  msgpack_pack_bin(&p, 64);
  msgpack_pack_bin_body(&p, sig, 64);
  msgpack_pack_array(&p, n);
  for (uint32_t i = 0; i < n; i++) {
    if (o[i].b) {
      msgpack_pack_bin(&p, o[i].len);
      msgpack_pack_bin_body(&p, o[i].b, o[i].len);
    } else {
      msgpack_pack_array(&p, 4);
      msgpack_pack_uint8(&p, KR_OP_REDACTED);
      msgpack_pack_uint8(&p, o[i].rtype);
      msgpack_pack_bin(&p, 16);
      msgpack_pack_bin_body(&p, o[i].rsubj, 16);
      msgpack_pack_bin(&p, 32);
      msgpack_pack_bin_body(&p, o[i].rhash, 32);
    }
  }
  kr_buf_free(&h);
}

/* Decode a properly signed change (version 4, seq 1) of the ops o: the
 * decoder's answer; on 0, *c holds the change (kr_change_free), when c is
 * not NULL. */
static int raw_decode_n(const rawop *o, uint32_t n, kr_change *c)
{
  kr_buf out;
  kr_change d;
  int rc;
  kr_buf_init(&out, KR_CHANGE_MAX);
  raw_change(KR_CHANGE_VERSION, 1, o, n, &out);
  rc = kr_change_decode(out.data, out.len, KR_CHANGE_MAX, c ? c : &d);
  if (!rc && !c) kr_change_free(&d);
  kr_buf_free(&out);
  return rc;
}

/* Decode a properly signed change of one op given as raw bytes: the
 * decoder's answer. */
static int raw_decode(int version, uint64_t seq, const uint8_t *op, size_t len)
{
  rawop o = {op, len, 0, NULL, NULL};
  kr_buf out;
  kr_change c;
  int rc;
  kr_buf_init(&out, KR_CHANGE_MAX);
  raw_change(version, seq, &o, 1, &out);
  rc = kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c);
  if (!rc) kr_change_free(&c);
  kr_buf_free(&out);
  return rc;
}

/* kr_op_parse's answer for raw op bytes. */
static int parse(const uint8_t *b, size_t len)
{
  kr_op op;
  void *mem;
  int rc = kr_op_parse(b, len, &T, &op, &mem);
  free(mem);
  return rc;
}

/* An op's bytes refused (or taken: want 0) alike on their own and as the
 * one op of a change. */
#define BOTH(e, want) do {                                                  \
    CHECK_EQ(parse((e).data, (e).len), (want));                             \
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, (e).data, (e).len), (want));  \
  } while (0)

static int has_bytes(const uint8_t *h, size_t hl, const void *needle, size_t nl)
{
  for (size_t i = 0; nl <= hl && i <= hl - nl; i++)
    if (memcmp(h + i, needle, nl) == 0) return 1;
  return 0;
}

/* The form an inner op would have as an op of the change (what format 1
 * sent): [type, subject, field, value...] or [4, subject, purpose, ...]. */
static void outer_form(const kr_op *op, kr_buf *out)
{
  msgpack_packer p;
  msgpack_packer_init(&p, out, kr_buf_mp_write);
  msgpack_pack_array(&p, op->type == KR_OP_GRANT ? 8 : op->type == KR_OP_REMOVE ? 5 : 4);
  msgpack_pack_uint8(&p, op->type);
  msgpack_pack_bin(&p, 16);
  msgpack_pack_bin_body(&p, op->subject, 16);
  if (op->type == KR_OP_GRANT) {
    msgpack_pack_str(&p, strlen(op->purpose));
    msgpack_pack_str_body(&p, op->purpose, strlen(op->purpose));
    msgpack_pack_nil(&p);
    msgpack_pack_uint8(&p, op->method);
    msgpack_pack_str(&p, strlen(op->text_version));
    msgpack_pack_str_body(&p, op->text_version, strlen(op->text_version));
    msgpack_pack_str(&p, strlen(op->until));
    msgpack_pack_str_body(&p, op->until, strlen(op->until));
    msgpack_pack_array(&p, 0);
    return;
  }
  msgpack_pack_uint8(&p, op->field);
  if (op->value) {
    msgpack_pack_str(&p, strlen(op->value));
    msgpack_pack_str_body(&p, op->value, strlen(op->value));
  } else {
    msgpack_pack_nil(&p);
  }
  if (op->type == KR_OP_REMOVE) msgpack_pack_array(&p, 0);
}

static void put_bin(kr_buf *b, const void *p, size_t n)
{
  uint8_t h[3] = {0xc4, (uint8_t)n};
  if (n > 255) {
    h[0] = 0xc5;
    h[1] = (uint8_t)(n >> 8);
    h[2] = (uint8_t)n;
  }
  kr_buf_add(b, h, n > 255 ? 3 : 2);
  kr_buf_add(b, p, n);
}

/* The encoding of op under T (REQUIRE'd to encode) into e (reset). */
static void enc(const kr_op *op, kr_buf *e)
{
  kr_buf_reset(e);
  REQUIRE(kr_op_encode(op, &T, e) == 0);
}

/* A signed header's origin replaced with another key's, signed by that
 * key, over the same ops: what a node that copied another's ops into a
 * change of its own would send. The decoder's answer. */
static int resigned(const kr_change *c, const uint8_t npk[32], const uint8_t nsk[64])
{
  uint8_t *h = malloc(c->header_len), sig[64];
  kr_buf out;
  kr_change d;
  int rc;
  REQUIRE(h);
  memcpy(h, c->header, c->header_len);
  /* [4, origin, ...]: 0x97 0x04 0xc4 0x20 then the origin */
  REQUIRE(c->header_len > 36 && memcmp(h + 4, c->origin, 32) == 0);
  memcpy(h + 4, npk, 32);
  crypto_sign_detached(sig, NULL, h, c->header_len, nsk);
  kr_buf_init(&out, KR_CHANGE_MAX);
  REQUIRE(kr_change_assemble(h, c->header_len, sig, c->nops, c->op_bytes, c->op_len, NULL, NULL,
                             NULL, &out) == 0);
  rc = kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &d);
  if (!rc) kr_change_free(&d);
  kr_buf_free(&out);
  free(h);
  return rc;
}

/* a and b say the same change: every field, every op's bytes, and each op
 * as it encodes again. */
static void same_change(const kr_change *a, const kr_change *b)
{
  CHECK(memcmp(a->origin, b->origin, 32) == 0 && a->seq == b->seq && a->hlc == b->hlc);
  CHECK(memcmp(a->nonce, b->nonce, 16) == 0 && memcmp(a->root, b->root, 32) == 0);
  CHECK(memcmp(a->sig, b->sig, sizeof a->sig) == 0);
  CHECK(a->header_len == b->header_len && memcmp(a->header, b->header, a->header_len) == 0);
  CHECK(memcmp(a->nodes.origin, b->nodes.origin, 32) == 0 && a->nodes.n == b->nodes.n &&
        memcmp(a->nodes.id, b->nodes.id, (size_t)a->nodes.n * 32) == 0);
  REQUIRE(a->nops == b->nops);
  for (uint32_t i = 0; i < a->nops; i++) {
    kr_buf x, y;
    CHECK_EQ(a->types[i], b->types[i]);
    CHECK_EQ(a->ops[i].type, b->ops[i].type);
    CHECK(memcmp(a->ops[i].subject, b->ops[i].subject, 16) == 0);
    CHECK(memcmp(a->hashes[i], b->hashes[i], 32) == 0);
    CHECK(a->op_len[i] == b->op_len[i] && memcmp(a->op_bytes[i], b->op_bytes[i], a->op_len[i]) == 0);
    kr_buf_init(&x, 1 << 16);
    kr_buf_init(&y, 1 << 16);
    CHECK_EQ(kr_op_encode(&a->ops[i], &a->nodes, &x), 0);
    CHECK_EQ(kr_op_encode(&b->ops[i], &b->nodes, &y), 0);
    CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
    CHECK(x.len == a->op_len[i] && memcmp(x.data, a->op_bytes[i], x.len) == 0);
    kr_buf_free(&x);
    kr_buf_free(&y);
  }
}

int main(void)
{
  kr_op ops[5], rec, outer[2];
  kr_keyent ent[1];
  uint8_t tags[32], net[16], key[32], sealed[KR_SEALED_KEY_LEN], other[32];
  uint8_t tpk[32], tsk[64];                   /* a third node */
  kr_buf w, plain, box;
  kr_change c;
  int rc;

  REQUIRE(sodium_init() >= 0);
  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(rpk, rsk);              /* the reader the key is sealed to */
  crypto_sign_keypair(tpk, tsk);
  T.origin = pk;
  T.id = (const uint8_t (*)[32])rpk;
  T.n = 1;
  derive(pk, check_nonce, 0, vsubj);
  memset(net, 0x6e, sizeof net);
  memset(other, 0x77, sizeof other);
  randombytes_buf(key, sizeof key);
  sample_ops(ops, tags);

  /* A registering record's subject: BLAKE2b-128(origin || nonce || r),
   * r big-endian; another r, nonce or origin, another subject. */
  {
    static const uint32_t rs[] = {1, 255, 256, 0x01020304};
    uint8_t a[16], b[16], n2[16];
    kr_subject_derive(pk, check_nonce, 0, a);
    CHECK(memcmp(a, vsubj, 16) == 0);
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
      derive(pk, check_nonce, rs[i], b);
      kr_subject_derive(pk, check_nonce, rs[i], a);
      CHECK(memcmp(a, b, 16) == 0);
      CHECK(memcmp(a, vsubj, 16) != 0);
    }
    kr_subject_derive(rpk, check_nonce, 0, a);
    CHECK(memcmp(a, vsubj, 16) != 0);
    memcpy(n2, check_nonce, 16);
    n2[15] ^= 1;
    kr_subject_derive(pk, n2, 0, a);
    CHECK(memcmp(a, vsubj, 16) != 0);
  }
  /* The AEAD nonce of a slot: the change's nonce || place || slot, both
   * big-endian (the box at slot 0, key entry k at slot 1 + k). */
  {
    uint8_t an[24];
    kr_aead_nonce(check_nonce, 0x01020304, 0x05060708, an);
    CHECK(memcmp(an, check_nonce, 16) == 0);
    CHECK(memcmp(an + 16, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
  }

  /* A change of format 4: the volunteer's registering record at place 0
   * (epoch 3 of the origin, the epoch's key sealed to the reader rpk, the
   * volunteer's ops as one sealed box), then an erasure. */
  kr_buf_init(&plain, KR_CHANGE_MAX);
  kr_buf_init(&box, KR_CHANGE_MAX);
  REQUIRE(kr_group_encode(ops, 5, &T, &plain) == 0);
  /* the inner ops byte for byte (docs/protocol.md, "Inner ops"): a code,
   * then the fields, no arrays */
  {
    kr_buf want;
    kr_buf_init(&want, 4096);
    kr_buf_add(&want, "\x01\xad" "Fatma Y\xc4\xb1lmaz", 15);  /* set name */
    kr_buf_add(&want, "\x20\xa5koken", 7);                      /* add to skills */
    kr_buf_add(&want, "\x60\xa6rijden\x92", 9);                /* remove from skills */
    put_bin(&want, tags, 16);
    put_bin(&want, tags + 16, 16);
    kr_buf_add(&want, "\x40\xa7" "contact\xc0\x01\xa2v2\xaa" "2030-01-31\x90", 26); /* grant */
    kr_buf_add(&want, "\x05\xc0", 2);                           /* set city to nil */
    CHECK(plain.len == want.len && memcmp(plain.data, want.data, want.len) == 0);
    kr_buf_free(&want);
  }
  memset(&rec, 0, sizeof rec);
  rec.type = KR_OP_REGREC;
  memcpy(rec.subject, vsubj, 16);
  rec.epoch = 3;
  memcpy(rec.creator, pk, 32);
  memcpy(ent[0].reader, rpk, 32);
  ent[0].sealed = NULL;
  rec.keys = ent;
  rec.nkeys = 1;
  {
    kr_op kp, g;
    uint8_t pair[32];
    /* entry 0 as the KEY op it is: the record's subject, epoch and
     * creator, the reader as member, slot 1 */
    kr_record_key(&rec, 0, &kp);
    CHECK_EQ(kp.type, KR_OP_KEY);
    CHECK_EQ(kp.slot, 1);
    CHECK(memcmp(kp.subject, vsubj, 16) == 0 && kp.epoch == 3 && memcmp(kp.creator, pk, 32) == 0 &&
          memcmp(kp.member, rpk, 32) == 0);
    REQUIRE(kr_pair_key_ed(sk, rpk, pair) == 0);
    REQUIRE(kr_key_seal(pair, net, pk, check_nonce, 0, &kp, key, sealed) == 0);
    CHECK_EQ(kr_record_group(&rec, &g), 0);    /* no box yet */
  }
  ent[0].sealed = sealed;
  REQUIRE(kr_group_seal(key, net, pk, 7, check_nonce, 0, &rec, plain.data, plain.len, &box) == 0);
  rec.box = box.data;
  rec.box_len = (uint32_t)box.len;
  CHECK_EQ(box.len, plain.len + 16);
  CHECK(!has_bytes(box.data, box.len, "Fatma", 5));
  outer[0] = rec;
  memset(&outer[1], 0, sizeof outer[1]);
  outer[1].type = KR_OP_ERASE;
  memset(outer[1].subject, 0x22, 16);
  outer[1].value = "verzoek van de vrijwilliger";
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_change_build(sk, 7, kr_hlc_make(1000, 2), check_nonce, outer, 2, &w) == 0);
  CHECK(!has_bytes(w.data, w.len, "Fatma", 5));
  CHECK(!has_bytes(w.data, w.len, "koken", 5));
  CHECK(!has_bytes(w.data, w.len, key, sizeof key));
  CHECK(!has_bytes(w.data, w.len, vsubj, 16));   /* derived, never sent */

  /* What the author applies (kr_change_build_view) is what every other
   * node decodes from the same bytes; the bytes are kr_change_build's. The
   * rules across records hold for it as for the decoder: two records of one
   * subject, epoch and creator are built, never viewed. */
  {
    kr_buf w2;
    kr_change v, d;
    kr_op twice[2] = {rec, rec};
    twice[1].type = KR_OP_RECORD;
    kr_buf_init(&w2, KR_CHANGE_MAX);
    REQUIRE(kr_change_build_view(sk, 7, kr_hlc_make(1000, 2), check_nonce, outer, 2, &w2, &v) == 0);
    CHECK(w2.len == w.len);
    REQUIRE(kr_change_decode(w2.data, w2.len, KR_CHANGE_MAX, &d) == 0);
    CHECK(v.ops == outer);                          /* the caller's ops, not a copy */
    same_change(&v, &d);
    kr_change_free(&v);
    kr_change_free(&d);
    kr_buf_reset(&w2);
    CHECK_EQ(kr_change_build(sk, 8, kr_hlc_make(1000, 3), check_nonce, twice, 2, &w2), 0);
    CHECK_EQ(kr_change_decode(w2.data, w2.len, KR_CHANGE_MAX, &d), KR_EMALFORMED);
    kr_buf_reset(&w2);
    CHECK_EQ(kr_change_build_view(sk, 8, kr_hlc_make(1000, 3), check_nonce, twice, 2, &w2, &v),
             KR_EINVAL);
    CHECK_EQ(w2.len, 0);
    kr_buf_free(&w2);
  }

  /* Round trip. */
  rc = kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c);
  CHECK_EQ(rc, 0);
  if (!rc) {
    kr_buf p2;
    uint8_t k2[32];
    kr_op kp, g, none;

    CHECK(memcmp(c.origin, pk, 32) == 0);
    CHECK_EQ(c.seq, 7);
    CHECK_EQ(c.hlc, kr_hlc_make(1000, 2));
    CHECK_EQ(c.nops, 2);
    CHECK(memcmp(c.nonce, check_nonce, 16) == 0);
    /* the node table: the nodes the clear fields name, less the origin */
    CHECK(c.nodes.n == 1 && memcmp(c.nodes.id[0], rpk, 32) == 0 &&
          memcmp(c.nodes.origin, c.origin, 32) == 0);
    CHECK_EQ(c.types[0], KR_OP_REGREC);
    CHECK_EQ(c.ops[0].type, KR_OP_REGREC);
    CHECK(memcmp(c.ops[0].subject, vsubj, 16) == 0);   /* derived by the decoder */
    CHECK(!has_bytes(c.op_bytes[0], c.op_len[0], vsubj, 16));
    CHECK_EQ(c.ops[0].epoch, 3);
    CHECK(memcmp(c.ops[0].creator, pk, 32) == 0);
    CHECK(c.ops[0].box_len == box.len && memcmp(c.ops[0].box, box.data, box.len) == 0);
    CHECK_EQ(c.ops[0].nkeys, 1);
    if (c.ops[0].nkeys == 1)
      CHECK(memcmp(c.ops[0].keys[0].reader, rpk, 32) == 0 &&
            memcmp(c.ops[0].keys[0].sealed, sealed, sizeof sealed) == 0);
    CHECK_EQ(c.types[1], KR_OP_ERASE);
    CHECK_EQ(c.ops[1].type, KR_OP_ERASE);
    CHECK(memcmp(c.ops[1].subject, outer[1].subject, 16) == 0);
    CHECK(strcmp(c.ops[1].value, "verzoek van de vrijwilliger") == 0);
    /* Re-encoding a decoded op gives the same bytes: canonical. */
    for (uint32_t i = 0; i < c.nops; i++) {
      kr_buf e;
      kr_buf_init(&e, 1 << 16);
      CHECK_EQ(kr_op_encode(&c.ops[i], &T, &e), 0);
      CHECK(e.len == c.op_len[i] && memcmp(e.data, c.op_bytes[i], e.len) == 0);
      kr_buf_free(&e);
    }
    /* the table of the decoded ops is the header's */
    {
      uint8_t (*ids)[32];
      uint32_t n;
      REQUIRE(kr_nodes_collect(c.origin, c.ops, c.nops, &ids, &n) == 0);
      CHECK(n == 1 && memcmp(ids[0], rpk, 32) == 0);
      free(ids);
    }

    /* The parts of the record: its key entry as a KEY op (slot 1), its
     * box as a GROUP (slot 0), each pointing into the record. */
    kr_record_key(&c.ops[0], 0, &kp);
    CHECK_EQ(kp.type, KR_OP_KEY);
    CHECK_EQ(kp.slot, 1);
    CHECK(memcmp(kp.subject, vsubj, 16) == 0 && kp.epoch == 3 && memcmp(kp.creator, pk, 32) == 0);
    CHECK(memcmp(kp.member, rpk, 32) == 0);
    CHECK(kp.box == c.ops[0].keys[0].sealed && kp.box_len == KR_SEALED_KEY_LEN);
    CHECK_EQ(kr_record_group(&c.ops[0], &g), 1);
    CHECK_EQ(g.type, KR_OP_GROUP);
    CHECK_EQ(g.slot, 0);
    CHECK(memcmp(g.subject, vsubj, 16) == 0 && g.epoch == 3 && memcmp(g.creator, pk, 32) == 0);
    CHECK(g.box == c.ops[0].box && g.box_len == c.ops[0].box_len);
    CHECK_EQ(kr_record_group(&c.ops[1], &none), 0);   /* an erasure is no record */
    CHECK_EQ(kr_record_group(&kp, &none), 0);         /* nor is a part (with a box) */

    /* The key entry opens with the pair key of its sender and reader only
     * (both ends derive the same), and not once any clear field, the
     * sender, the network, the place, the slot or the nonce differ. */
    {
      uint8_t rpair[32], spair[32], opair[32];
      kr_op moved = kp;
      REQUIRE(kr_pair_key_ed(rsk, pk, rpair) == 0);
      REQUIRE(kr_pair_key_ed(sk, rpk, spair) == 0);
      CHECK(memcmp(rpair, spair, 32) == 0);
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &kp, k2), 0);
      CHECK(memcmp(k2, key, 32) == 0);
      REQUIRE(kr_pair_key_ed(tsk, pk, opair) == 0);
      CHECK_EQ(kr_key_open(opair, net, c.origin, c.nonce, 0, &kp, k2), KR_EBADSIG);
      CHECK_EQ(kr_key_open(rpair, other, c.origin, c.nonce, 0, &kp, k2), KR_EBADSIG);
      CHECK_EQ(kr_key_open(rpair, net, rpk, c.nonce, 0, &kp, k2), KR_EBADSIG);
      moved.epoch = 4;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), KR_EBADSIG);
      moved = kp;
      moved.subject[0] ^= 1;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), KR_EBADSIG);
      moved = kp;
      memcpy(moved.creator, tpk, 32);
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), KR_EBADSIG);
      moved = kp;
      memcpy(moved.member, tpk, 32);
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), KR_EBADSIG);
      /* at another place, another slot (the box's 0, a second entry's 2),
       * or under another change's nonce */
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 1, &kp, k2), KR_EBADSIG);
      moved = kp;
      moved.slot = 0;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), KR_EBADSIG);
      moved.slot = 2;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), KR_EBADSIG);
      moved.slot = 1;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), 0);
      {
        uint8_t n2[16];
        memcpy(n2, c.nonce, 16);
        n2[15] ^= 1;
        CHECK_EQ(kr_key_open(rpair, net, c.origin, n2, 0, &kp, k2), KR_EBADSIG);
      }
      /* only a KEY op of a whole sealed key: not the record, not its box */
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &c.ops[0], k2), KR_EMALFORMED);
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &g, k2), KR_EMALFORMED);
      moved = kp;
      moved.box_len = KR_SEALED_KEY_LEN - 1;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &moved, k2), KR_EMALFORMED);
      /* a low-order point gives no pair key */
      {
        uint8_t zero[32] = {0}, xs[32], xp[32];
        REQUIRE(crypto_sign_ed25519_sk_to_curve25519(xs, rsk) == 0);
        REQUIRE(crypto_sign_ed25519_pk_to_curve25519(xp, rpk) == 0);
        CHECK_EQ(kr_pair_key(xs, xp, zero, opair), KR_EINVAL);
      }
    }

    /* The box opens at its place with the epoch's key and gives back the
     * volunteer's ops. */
    kr_buf_init(&p2, KR_CHANGE_MAX);
    CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g, &p2), 0);
    CHECK(p2.len == plain.len && memcmp(p2.data, plain.data, plain.len) == 0);
    {
      kr_op *in;
      uint32_t nin;
      void *mem;
      rc = kr_group_decode(p2.data, p2.len, g.subject, &T, &in, &nin, &mem);
      CHECK_EQ(rc, 0);
      if (!rc) {
        kr_buf e;
        CHECK_EQ(nin, 5);
        for (uint32_t i = 0; i < nin && i < 5; i++) {
          CHECK_EQ(in[i].type, ops[i].type);
          CHECK(memcmp(in[i].subject, ops[i].subject, 16) == 0);
        }
        CHECK(strcmp(in[0].value, "Fatma Yılmaz") == 0);
        CHECK_EQ(in[1].field, KR_F_SKILLS);
        CHECK(strcmp(in[1].value, "koken") == 0);
        CHECK_EQ(in[2].ntags, 2);
        CHECK(memcmp(in[2].tags, tags, 32) == 0);
        CHECK(strcmp(in[3].until, "2030-01-31") == 0);
        CHECK(strcmp(in[3].purpose, "contact") == 0);
        CHECK(strcmp(in[3].text_version, "v2") == 0);
        CHECK_EQ(in[3].method, KR_METHOD_PAPER);
        CHECK(in[3].recipient_all);
        CHECK_EQ(in[4].field, KR_F_CITY);
        CHECK(in[4].value == NULL);
        /* canonical: the decoded ops encode to the same plaintext */
        kr_buf_init(&e, KR_CHANGE_MAX);
        CHECK_EQ(kr_group_encode(in, nin, &T, &e), 0);
        CHECK(e.len == p2.len && memcmp(e.data, p2.data, e.len) == 0);
        kr_buf_free(&e);
        free(mem);
      }
    }

    /* A box moved to another place, change, subject, epoch or creator, or
     * opened with another key, network or nonce, does not open. */
    CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 1, &g, &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, net, c.origin, 8, c.nonce, 0, &g, &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, net, other, c.seq, c.nonce, 0, &g, &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, other, c.origin, c.seq, c.nonce, 0, &g, &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(other, net, c.origin, c.seq, c.nonce, 0, &g, &p2), KR_EBADSIG);
    {
      uint8_t n2[16];
      memcpy(n2, c.nonce, 16);
      n2[0] ^= 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, n2, 0, &g, &p2), KR_EBADSIG);
    }
    {
      kr_op g2 = g;
      g2.subject[0] ^= 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2), KR_EBADSIG);
      g2 = g;
      g2.epoch = 4;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2), KR_EBADSIG);
      g2 = g;
      g2.creator[0] ^= 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2), KR_EBADSIG);
      /* not a group at all: the record itself, its key entry */
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &c.ops[0], &p2), KR_EMALFORMED);
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &kp, &p2), KR_EMALFORMED);
      /* the part of the record as built opens as the decoded one does */
      REQUIRE(kr_record_group(&rec, &g2) == 1);
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2), 0);
    }
    /* The same record copied into another change of this origin under the
     * same nonce (place 1, seq 8; still its first registering record, so
     * the same subject): the change is well formed, the box and the key
     * entry do not open there. */
    {
      kr_buf w8;
      kr_change c8;
      kr_op two[2] = {outer[1], rec}, g8, k8;
      uint8_t rpair[32];
      REQUIRE(kr_pair_key_ed(rsk, pk, rpair) == 0);
      kr_buf_init(&w8, KR_CHANGE_MAX);
      REQUIRE(kr_change_build(sk, 8, kr_hlc_make(2000, 0), check_nonce, two, 2, &w8) == 0);
      rc = kr_change_decode(w8.data, w8.len, KR_CHANGE_MAX, &c8);
      CHECK_EQ(rc, 0);
      if (!rc) {
        CHECK(memcmp(c8.ops[1].subject, vsubj, 16) == 0);
        REQUIRE(kr_record_group(&c8.ops[1], &g8) == 1);
        kr_record_key(&c8.ops[1], 0, &k8);
        CHECK_EQ(kr_group_open(key, net, c8.origin, c8.seq, c8.nonce, 1, &g8, &p2), KR_EBADSIG);
        CHECK_EQ(kr_group_open(key, net, c8.origin, 7, c8.nonce, 1, &g8, &p2), KR_EBADSIG);
        CHECK_EQ(kr_group_open(key, net, c8.origin, c8.seq, c8.nonce, 0, &g8, &p2), KR_EBADSIG);
        CHECK_EQ(kr_group_open(key, net, c8.origin, 7, c8.nonce, 0, &g8, &p2), 0);
        CHECK_EQ(kr_key_open(rpair, net, c8.origin, c8.nonce, 1, &k8, k2), KR_EBADSIG);
        CHECK_EQ(kr_key_open(rpair, net, c8.origin, c8.nonce, 0, &k8, k2), 0);
        kr_change_free(&c8);
      }
      kr_buf_free(&w8);
    }
    /* Truncated, extended or altered ciphertext does not open. */
    {
      kr_op g2 = g;
      uint8_t *b = malloc(g.box_len + 1);
      REQUIRE(b);
      memcpy(b, g.box, g.box_len);
      g2.box = b;
      for (uint32_t len = 0; len < g.box_len; len++) {
        g2.box_len = len;
        rc = kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2);
        CHECK_EQ(rc, len < KR_BOX_MIN ? KR_EMALFORMED : KR_EBADSIG);
      }
      b[g.box_len] = 0;
      g2.box_len = g.box_len + 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2), KR_EBADSIG);
      g2.box_len = g.box_len;
      for (uint32_t i = 0; i < g2.box_len; i++)
        for (int bit = 0; bit < 8; bit++) {
          b[i] ^= (uint8_t)(1 << bit);
          rc = kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2);
          if (rc != KR_EBADSIG) fprintf(stderr, "box bit flip at %u/%d: %d\n", i, bit, rc);
          CHECK_EQ(rc, KR_EBADSIG);
          b[i] ^= (uint8_t)(1 << bit);
        }
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 0, &g2, &p2), 0);
      free(b);
    }
    /* A key entry whose sealed key is altered does not open. */
    {
      uint8_t s2[KR_SEALED_KEY_LEN], rpair[32];
      REQUIRE(kr_pair_key_ed(rsk, pk, rpair) == 0);
      for (size_t i = 0; i < sizeof s2; i++)
        for (int bit = 0; bit < 8; bit++) {
          kr_op alt = kp;
          memcpy(s2, sealed, sizeof s2);
          s2[i] ^= (uint8_t)(1 << bit);
          alt.box = s2;
          CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 0, &alt, k2), KR_EBADSIG);
        }
    }
    kr_buf_free(&p2);

    /* Redaction: the record's payload goes (its box and its key entry),
     * the change still verifies; the registering record's carried subject
     * is the derived one. */
    {
      kr_buf r;
      const uint8_t *bytes[2];
      kr_change d;
      uint8_t subj[2][16];
      for (int i = 0; i < 2; i++) {
        bytes[i] = i == 0 ? NULL : c.op_bytes[i];
        memcpy(subj[i], c.ops[i].subject, 16);
      }
      kr_buf_init(&r, KR_CHANGE_MAX);
      CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 2, bytes, c.op_len,
                                  (const uint8_t (*)[16])subj, c.types,
                                  (const uint8_t (*)[32])c.hashes, &r), 0);
      rc = kr_change_decode(r.data, r.len, KR_CHANGE_MAX, &d);
      CHECK_EQ(rc, 0);
      if (!rc) {
        CHECK_EQ(d.ops[0].type, KR_OP_REDACTED);
        CHECK_EQ(d.types[0], KR_OP_REGREC);
        CHECK(memcmp(d.ops[0].subject, vsubj, 16) == 0);
        CHECK(memcmp(d.hashes[0], c.hashes[0], 32) == 0);
        CHECK(d.op_bytes[0] == NULL);
        CHECK_EQ(d.ops[1].type, KR_OP_ERASE);
        kr_change_free(&d);
      }
      CHECK(!has_bytes(r.data, r.len, box.data, box.len));
      CHECK(!has_bytes(r.data, r.len, box.data, 16));
      CHECK(!has_bytes(r.data, r.len, sealed, 16));
      CHECK(has_bytes(r.data, r.len, vsubj, 16));     /* the redaction carries it */
      /* a withheld op that carries another hash breaks the root */
      {
        uint8_t h2[2][32];
        memcpy(h2, c.hashes, sizeof h2);
        h2[0][31] ^= 1;
        kr_buf_reset(&r);
        CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 2, bytes, c.op_len,
                                    (const uint8_t (*)[16])subj, c.types,
                                    (const uint8_t (*)[32])h2, &r), 0);
        CHECK_EQ(kr_change_decode(r.data, r.len, KR_CHANGE_MAX, &d), KR_EBADHASH);
      }
      /* ... another type (the type is signed too) */
      {
        uint8_t t2[2] = {KR_OP_RECORD, KR_OP_ERASE};
        kr_buf_reset(&r);
        CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 2, bytes, c.op_len,
                                    (const uint8_t (*)[16])subj, t2,
                                    (const uint8_t (*)[32])c.hashes, &r), 0);
        CHECK_EQ(kr_change_decode(r.data, r.len, KR_CHANGE_MAX, &d), KR_EBADHASH);
        /* types that are no longer withheld: not assembled */
        for (uint8_t t = KR_OP_GROUP; t <= KR_OP_REGISTER; t++) {
          t2[0] = t;
          kr_buf_reset(&r);
          CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 2, bytes, c.op_len,
                                      (const uint8_t (*)[16])subj, t2,
                                      (const uint8_t (*)[32])c.hashes, &r), KR_ETOOBIG);
          CHECK_EQ(r.len, 0);
        }
      }
      /* ... a subject other than the derived one: refused as such */
      subj[0][0] ^= 1;
      kr_buf_reset(&r);
      CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 2, bytes, c.op_len,
                                  (const uint8_t (*)[16])subj, c.types,
                                  (const uint8_t (*)[32])c.hashes, &r), 0);
      CHECK_EQ(kr_change_decode(r.data, r.len, KR_CHANGE_MAX, &d), KR_EMALFORMED);
      subj[0][0] ^= 1;
      /* withheld without a hash to carry: not assembled */
      kr_buf_reset(&r);
      CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 2, bytes, c.op_len,
                                  (const uint8_t (*)[16])subj, c.types, NULL, &r), KR_ETOOBIG);
      kr_buf_free(&r);
    }
    /* The same ops signed by another node (its key in the header's
     * origin, its signature): the registering record's subject derives
     * from that origin, and the root the header carries no longer
     * matches. Without a registering record the same swap is taken. */
    CHECK_EQ(resigned(&c, tpk, tsk), KR_EBADHASH);
    kr_change_free(&c);
  }
  {
    kr_buf x;
    kr_change e;
    kr_buf_init(&x, KR_CHANGE_MAX);
    REQUIRE(kr_change_build(sk, 9, kr_hlc_make(1000, 1), check_nonce, &outer[1], 1, &x) == 0);
    REQUIRE(kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &e) == 0);
    CHECK_EQ(resigned(&e, tpk, tsk), 0);
    kr_change_free(&e);
    kr_buf_free(&x);
  }

  /* Every truncation is refused. */
  for (size_t n = 0; n < w.len; n++) {
    rc = kr_change_decode(w.data, n, KR_CHANGE_MAX, &c);
    CHECK(rc < 0);
    if (!rc) kr_change_free(&c);
  }
  /* Trailing bytes are refused. */
  {
    kr_buf x;
    kr_buf_init(&x, KR_CHANGE_MAX + 1);
    kr_buf_add(&x, w.data, w.len);
    kr_buf_add(&x, "\0", 1);
    CHECK_EQ(kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c), KR_EMALFORMED);
    kr_buf_free(&x);
  }
  /* Over the caller's limit, and over the hard cap. */
  CHECK_EQ(kr_change_decode(w.data, w.len, w.len - 1, &c), KR_ETOOBIG);
  {
    uint8_t *big = calloc(1, KR_CHANGE_MAX + 1);
    CHECK_EQ(kr_change_decode(big, KR_CHANGE_MAX + 1, SIZE_MAX, &c), KR_ETOOBIG);
    free(big);
  }
  /* Every single bit flip is refused (signature, hash or structure). */
  for (size_t i = 0; i < w.len; i++)
    for (int bit = 0; bit < 8; bit++) {
      w.data[i] ^= (uint8_t)(1 << bit);
      rc = kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c);
      if (rc == 0) {
        fprintf(stderr, "bit flip at byte %zu bit %d accepted\n", i, bit);
        kr_change_free(&c);
      }
      CHECK(rc < 0);
      w.data[i] ^= (uint8_t)(1 << bit);
    }
  CHECK_EQ(kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c), 0);   /* restored */
  kr_change_free(&c);

  /* A registration only its id's maker can sign: a registering record
   * names no subject, and kr_change_build refuses one whose subject is
   * not the one the decoder derives (another subject, another r, another
   * nonce, another origin). */
  {
    kr_op r = rec;
    kr_buf x;
    uint8_t n2[16];
    kr_buf_init(&x, KR_CHANGE_MAX);
    r.subject[0] ^= 1;
    CHECK_EQ(kr_change_build(sk, 9, kr_hlc_make(1000, 1), check_nonce, &r, 1, &x), KR_EINVAL);
    CHECK_EQ(x.len, 0);
    r = rec;
    derive(pk, check_nonce, 1, r.subject);        /* the second's, in first place */
    CHECK_EQ(kr_change_build(sk, 9, kr_hlc_make(1000, 1), check_nonce, &r, 1, &x), KR_EINVAL);
    memcpy(n2, check_nonce, 16);
    n2[3] ^= 1;
    CHECK_EQ(kr_change_build(sk, 9, kr_hlc_make(1000, 1), n2, &rec, 1, &x), KR_EINVAL);
    CHECK_EQ(kr_change_build(sk, 9, kr_hlc_make(1000, 1), NULL, &rec, 1, &x), KR_EINVAL);
    CHECK_EQ(kr_change_build(rsk, 9, kr_hlc_make(1000, 1), check_nonce, &rec, 1, &x), KR_EINVAL);
    CHECK_EQ(x.len, 0);
    /* the subject derived from rsk's key: built, and read back as that
     * subject, not the sample volunteer's */
    r = rec;
    derive(rpk, check_nonce, 0, r.subject);
    REQUIRE(kr_change_build(rsk, 9, kr_hlc_make(1000, 1), check_nonce, &r, 1, &x) == 0);
    rc = kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c);
    CHECK_EQ(rc, 0);
    if (!rc) {
      CHECK(memcmp(c.origin, rpk, 32) == 0);
      CHECK(memcmp(c.ops[0].subject, r.subject, 16) == 0);
      CHECK(memcmp(c.ops[0].subject, vsubj, 16) != 0);
      /* the same op bytes as pk's record would have (only the numbers of
       * creator and reader differ): its subject is not on the wire */
      CHECK(!has_bytes(x.data, x.len, r.subject, 16));
      kr_change_free(&c);
    }
    kr_buf_reset(&x);
    REQUIRE(kr_change_build(sk, 9, kr_hlc_make(1000, 1), check_nonce, &rec, 1, &x) == 0);
    rc = kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c);
    CHECK_EQ(rc, 0);
    if (!rc) {
      CHECK(memcmp(c.ops[0].subject, vsubj, 16) == 0);
      kr_change_free(&c);
    }
    kr_buf_free(&x);
  }
  /* Several registering records in one change: the r-th (from 0) makes
   * subject r, a redacted one counts. */
  {
    kr_op r[3];
    kr_buf x;
    kr_change d;
    uint8_t s[3][16];
    memset(r, 0, sizeof r);
    for (uint32_t i = 0; i < 3; i++) {
      derive(pk, check_nonce, i, s[i]);
      r[i].type = KR_OP_REGREC;                  /* bare: a registration alone */
      memcpy(r[i].subject, s[i], 16);
      r[i].epoch = 1 + i;
      memcpy(r[i].creator, pk, 32);
    }
    r[1] = outer[1];                             /* an erasure between them */
    memcpy(r[2].subject, s[1], 16);
    kr_buf_init(&x, KR_CHANGE_MAX);
    REQUIRE(kr_change_build(sk, 10, kr_hlc_make(1000, 1), check_nonce, r, 3, &x) == 0);
    rc = kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c);
    CHECK_EQ(rc, 0);
    if (!rc) {
      const uint8_t *bytes[3] = {NULL, c.op_bytes[1], c.op_bytes[2]};
      uint8_t subj[3][16];
      CHECK(memcmp(c.ops[0].subject, s[0], 16) == 0);
      CHECK(memcmp(c.ops[2].subject, s[1], 16) == 0);
      CHECK(c.ops[0].box == NULL && c.ops[0].box_len == 0 && c.ops[0].nkeys == 0);
      /* the first withheld: the second still makes subject 1 */
      for (int i = 0; i < 3; i++) memcpy(subj[i], c.ops[i].subject, 16);
      kr_buf_reset(&x);
      REQUIRE(kr_change_assemble(c.header, c.header_len, c.sig, 3, bytes, c.op_len,
                                 (const uint8_t (*)[16])subj, c.types,
                                 (const uint8_t (*)[32])c.hashes, &x) == 0);
      rc = kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &d);
      CHECK_EQ(rc, 0);
      if (!rc) {
        CHECK_EQ(d.ops[0].type, KR_OP_REDACTED);
        CHECK(memcmp(d.ops[0].subject, s[0], 16) == 0);
        CHECK(memcmp(d.ops[2].subject, s[1], 16) == 0);
        kr_change_free(&d);
      }
      /* the second withheld, carrying the first's subject: refused */
      bytes[0] = c.op_bytes[0];
      bytes[2] = NULL;
      memcpy(subj[2], s[0], 16);
      kr_buf_reset(&x);
      REQUIRE(kr_change_assemble(c.header, c.header_len, c.sig, 3, bytes, c.op_len,
                                 (const uint8_t (*)[16])subj, c.types,
                                 (const uint8_t (*)[32])c.hashes, &x) == 0);
      CHECK_EQ(kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &d), KR_EMALFORMED);
      memcpy(subj[2], s[1], 16);                 /* ... its own: taken */
      kr_buf_reset(&x);
      REQUIRE(kr_change_assemble(c.header, c.header_len, c.sig, 3, bytes, c.op_len,
                                 (const uint8_t (*)[16])subj, c.types,
                                 (const uint8_t (*)[32])c.hashes, &x) == 0);
      CHECK_EQ(kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &d), 0);
      kr_change_free(&d);
      kr_change_free(&c);
    }
    /* in the other order, each names the other's subject: not built */
    {
      kr_op sw[2] = {r[2], r[0]};
      kr_buf_reset(&x);
      CHECK_EQ(kr_change_build(sk, 10, kr_hlc_make(1000, 1), check_nonce, sw, 2, &x), KR_EINVAL);
      CHECK_EQ(x.len, 0);
    }
    kr_buf_free(&x);
  }

  /* Records byte for byte (docs/protocol.md, "Records"):
   *   [15, epoch, creator, box or nil, [reader, sealed(48), ...]]
   *   [14, subject, epoch, creator, box or nil, [reader, sealed(48), ...]]
   * nodes by their numbers in the change's table, readers ascending. */
  {
    kr_buf e, want;
    kr_op r = rec, d;
    kr_keyent two[2];
    uint8_t s2[KR_SEALED_KEY_LEN + 1], zero[16] = {0};   /* + 1: one byte long, below */
    void *mem;
    kr_buf_init(&e, 1 << 16);
    kr_buf_init(&want, 1 << 16);
    memset(s2, 0x5c, sizeof s2);

    /* the sample registering record: [15, 3, 0, box, [1, sealed]] */
    CHECK_EQ(kr_op_encode(&rec, &T, &e), 0);
    kr_buf_add(&want, "\x95\x0f\x03\x00", 4);
    put_bin(&want, box.data, box.len);
    kr_buf_add(&want, "\x92\x01", 2);
    put_bin(&want, sealed, KR_SEALED_KEY_LEN);
    CHECK(e.len == want.len && memcmp(e.data, want.data, e.len) == 0);
    /* parsed on its own: no subject (the caller sets it) */
    CHECK_EQ(kr_op_parse(e.data, e.len, &T, &d, &mem), 0);
    if (mem) {
      kr_buf e2;
      CHECK_EQ(d.type, KR_OP_REGREC);
      CHECK(memcmp(d.subject, zero, 16) == 0);
      CHECK_EQ(d.epoch, 3);
      CHECK(memcmp(d.creator, pk, 32) == 0);
      CHECK(d.box_len == box.len && memcmp(d.box, box.data, box.len) == 0);
      CHECK_EQ(d.nkeys, 1);
      if (d.nkeys == 1)
        CHECK(memcmp(d.keys[0].reader, rpk, 32) == 0 &&
              memcmp(d.keys[0].sealed, sealed, KR_SEALED_KEY_LEN) == 0);
      kr_buf_init(&e2, 1 << 16);
      CHECK_EQ(kr_op_encode(&d, &T, &e2), 0);
      CHECK(e2.len == e.len && memcmp(e2.data, e.data, e.len) == 0);
      kr_buf_free(&e2);
    }
    free(mem);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), 0);

    /* a bare registering record: [15, 3, 0, nil, []] */
    r.box = NULL;
    r.box_len = 0;
    r.keys = NULL;
    r.nkeys = 0;
    enc(&r, &e);
    CHECK(e.len == 6 && memcmp(e.data, "\x95\x0f\x03\x00\xc0\x90", 6) == 0);
    CHECK_EQ(kr_op_parse(e.data, e.len, &T, &d, &mem), 0);
    if (mem) CHECK(d.type == KR_OP_REGREC && d.box == NULL && d.box_len == 0 && d.nkeys == 0);
    free(mem);
    BOTH(e, 0);

    /* a record of epoch 300 (a uint16 in canonical msgpack), box nil, two
     * key entries: [14, subject, 300, 0, nil, [0, s2, 1, sealed]] */
    r = rec;
    r.type = KR_OP_RECORD;
    r.epoch = 300;
    r.box = NULL;
    r.box_len = 0;
    memcpy(two[0].reader, pk, 32);               /* the origin: number 0 */
    two[0].sealed = s2;
    memcpy(two[1].reader, rpk, 32);
    two[1].sealed = sealed;
    r.keys = two;
    r.nkeys = 2;
    enc(&r, &e);
    kr_buf_reset(&want);
    kr_buf_add(&want, "\x96\x0e", 2);
    put_bin(&want, vsubj, 16);
    kr_buf_add(&want, "\xcd\x01\x2c\x00\xc0\x94\x00", 7);
    put_bin(&want, s2, KR_SEALED_KEY_LEN);
    kr_buf_add(&want, "\x01", 1);
    put_bin(&want, sealed, KR_SEALED_KEY_LEN);
    CHECK(e.len == want.len && memcmp(e.data, want.data, e.len) == 0);
    CHECK_EQ(kr_op_parse(e.data, e.len, &T, &d, &mem), 0);
    if (mem) {
      kr_buf e2;
      kr_op k1;
      CHECK_EQ(d.type, KR_OP_RECORD);
      CHECK(memcmp(d.subject, vsubj, 16) == 0);
      CHECK_EQ(d.epoch, 300);
      CHECK(memcmp(d.creator, pk, 32) == 0);
      CHECK(d.box == NULL && d.box_len == 0);
      CHECK_EQ(d.nkeys, 2);
      if (d.nkeys == 2) {
        CHECK(memcmp(d.keys[0].reader, pk, 32) == 0 && memcmp(d.keys[0].sealed, s2, 48) == 0);
        CHECK(memcmp(d.keys[1].reader, rpk, 32) == 0 && memcmp(d.keys[1].sealed, sealed, 48) == 0);
        kr_record_key(&d, 1, &k1);
        CHECK(k1.type == KR_OP_KEY && k1.slot == 2 && memcmp(k1.member, rpk, 32) == 0 &&
              k1.box == d.keys[1].sealed && k1.epoch == 300 && memcmp(k1.subject, vsubj, 16) == 0);
      }
      CHECK_EQ(kr_record_group(&d, &k1), 0);     /* box nil: no group */
      kr_buf_init(&e2, 1 << 16);
      CHECK_EQ(kr_op_encode(&d, &T, &e2), 0);
      CHECK(e2.len == e.len && memcmp(e2.data, e.data, e.len) == 0);
      kr_buf_free(&e2);
    }
    free(mem);
    BOTH(e, 0);

    /* a record with a box, made by the reader (number 1), no key entry:
     * [14, subject, 3, 1, box, []] */
    r = rec;
    r.type = KR_OP_RECORD;
    memcpy(r.creator, rpk, 32);
    r.keys = NULL;
    r.nkeys = 0;
    enc(&r, &e);
    kr_buf_reset(&want);
    kr_buf_add(&want, "\x96\x0e", 2);
    put_bin(&want, vsubj, 16);
    kr_buf_add(&want, "\x03\x01", 2);
    put_bin(&want, box.data, box.len);
    kr_buf_add(&want, "\x90", 1);
    CHECK(e.len == want.len && memcmp(e.data, want.data, e.len) == 0);
    CHECK_EQ(kr_op_parse(e.data, e.len, &T, &d, &mem), 0);
    if (mem) {
      kr_op g;
      CHECK(d.type == KR_OP_RECORD && memcmp(d.creator, rpk, 32) == 0 && d.nkeys == 0);
      CHECK(d.box_len == box.len && memcmp(d.box, box.data, box.len) == 0);
      CHECK_EQ(kr_record_group(&d, &g), 1);
      CHECK(g.type == KR_OP_GROUP && g.box == d.box && memcmp(g.creator, rpk, 32) == 0);
    }
    free(mem);
    BOTH(e, 0);

    /* the highest epoch, and one past it */
    r = rec;
    r.epoch = KR_EPOCH_MAX;
    enc(&r, &e);
    CHECK(e.len > 7 && memcmp(e.data, "\x95\x0f\xce\xff\xff\xff\xff\x00", 8) == 0);
    BOTH(e, 0);
    r.epoch = KR_EPOCH_MAX + 1;
    kr_buf_reset(&e);
    CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
    CHECK_EQ(e.len, 0);
    kr_buf_reset(&want);
    kr_buf_add(&want, "\x95\x0f\xcf\x00\x00\x00\x01\x00\x00\x00\x00\x00\xc0\x90", 14);
    BOTH(want, KR_EMALFORMED);
    kr_buf_reset(&want);
    kr_buf_add(&want, "\x95\x0f\xce\xff\xff\xff\xff\x00\xc0\x90", 10);
    BOTH(want, 0);

    /* The encoder refuses what the decoder would: epoch 0, a box shorter
     * than its tag (or a length without a box), a record (14) that says
     * nothing, a key entry without its sealed key, readers not ascending
     * or repeated, a node the table lacks; and a part (10, 11) or a
     * registration (12) on its own. */
    {
      kr_keyent bad[2];
      kr_op k, g;
      kr_nodes t0 = {rpk, NULL, 0};              /* pk is not in it */
      kr_nodes t1 = {pk, NULL, 0};               /* rpk is not in it */
      r = rec;
      r.epoch = 0;
      kr_buf_reset(&e);
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      r = rec;
      r.box_len = KR_BOX_MIN - 1;
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      r.box_len = KR_BOX_MIN;
      CHECK_EQ(kr_op_encode(&r, &T, &e), 0);
      kr_buf_reset(&e);
      r.box = NULL;
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      r = rec;
      r.type = KR_OP_RECORD;
      r.box = NULL;
      r.box_len = 0;
      r.keys = NULL;
      r.nkeys = 0;
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      r.type = KR_OP_REGREC;                      /* a registration may be bare */
      CHECK_EQ(kr_op_encode(&r, &T, &e), 0);
      kr_buf_reset(&e);
      r = rec;
      r.nkeys = 1;
      r.keys = NULL;
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      bad[0] = ent[0];
      bad[0].sealed = NULL;
      r.keys = bad;
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      memcpy(bad[0].reader, rpk, 32);            /* 1, 0: descending */
      bad[0].sealed = sealed;
      memcpy(bad[1].reader, pk, 32);
      bad[1].sealed = sealed;
      r.nkeys = 2;
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      memcpy(bad[1].reader, rpk, 32);            /* 1, 1: repeated */
      CHECK_EQ(kr_op_encode(&r, &T, &e), KR_EINVAL);
      memcpy(bad[0].reader, pk, 32);             /* 0, 1: taken */
      CHECK_EQ(kr_op_encode(&r, &T, &e), 0);
      kr_buf_reset(&e);
      CHECK_EQ(kr_op_encode(&rec, &t0, &e), KR_EINVAL);   /* the creator */
      CHECK_EQ(kr_op_encode(&rec, &t1, &e), KR_EINVAL);   /* the reader */
      CHECK_EQ(e.len, 0);
      kr_record_key(&rec, 0, &k);
      REQUIRE(kr_record_group(&rec, &g) == 1);
      CHECK_EQ(kr_op_encode(&k, &T, &e), KR_EINVAL);
      CHECK_EQ(kr_op_encode(&g, &T, &e), KR_EINVAL);
      k = rec;
      k.type = KR_OP_REGISTER;
      CHECK_EQ(kr_op_encode(&k, &T, &e), KR_EINVAL);
      CHECK_EQ(e.len, 0);
    }

    /* The malformed forms are refused, on their own and in a change. The
     * types 10-12 no longer travel: GROUP [10, subject, epoch, creator,
     * box], KEY [11, subject, epoch, creator, reader, sealed], REGISTER
     * [12, subject, salt]. */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0a", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x03\x00", 2);
    put_bin(&e, box.data, box.len);
    BOTH(e, KR_EUNKNOWN);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x96\x0b", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x03\x00\x01", 3);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    BOTH(e, KR_EUNKNOWN);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x93\x0c", 2);
    put_bin(&e, vsubj, 16);
    put_bin(&e, zero, 16);
    BOTH(e, KR_EUNKNOWN);
    /* ... nor in the form of a record */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x96\x0b", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x03\x00\xc0\x92\x01", 5);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    BOTH(e, KR_EUNKNOWN);
    /* type 16: unknown */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x96\x10", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x03\x00\xc0\x90", 4);
    BOTH(e, KR_EUNKNOWN);

    /* epoch 0, in both kinds of record */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x00\x00", 4);
    put_bin(&e, box.data, box.len);
    kr_buf_add(&e, "\x90", 1);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x96\x0e", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x00\x00", 2);
    put_bin(&e, box.data, box.len);
    kr_buf_add(&e, "\x90", 1);
    BOTH(e, KR_EMALFORMED);
    /* a box shorter than its tag (15 bytes, none), and just long enough */
    for (uint32_t n = 0; n <= KR_BOX_MIN; n++) {
      kr_buf_reset(&e);
      kr_buf_add(&e, "\x95\x0f\x03\x00", 4);
      put_bin(&e, box.data, n);
      kr_buf_add(&e, "\x90", 1);
      BOTH(e, n < KR_BOX_MIN ? KR_EMALFORMED : 0);
      kr_buf_reset(&e);
      kr_buf_add(&e, "\x96\x0e", 2);
      put_bin(&e, vsubj, 16);
      kr_buf_add(&e, "\x03\x00", 2);
      put_bin(&e, box.data, n);
      kr_buf_add(&e, "\x90", 1);
      BOTH(e, n < KR_BOX_MIN ? KR_EMALFORMED : 0);
    }
    /* a sealed key one byte short, one byte long */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x92\x01", 7);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN - 1);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x92\x01", 7);
    put_bin(&e, s2, KR_SEALED_KEY_LEN + 1);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);                           /* ... and of its length: taken */
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x92\x01", 7);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    BOTH(e, 0);
    /* a keys array of odd length: a reader without its key, a key
     * entry and a reader */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x91\x01", 7);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x93\x00", 7);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    kr_buf_add(&e, "\x01", 1);
    BOTH(e, KR_EMALFORMED);
    /* a reader number the table lacks; a creator number it lacks */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x92\x02", 7);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x02\xc0\x90", 6);
    BOTH(e, KR_EMALFORMED);
    /* readers not ascending: 1 then 0, 1 twice, 0 twice; 0 then 1 is taken */
    {
      static const uint8_t order[4][2] = {{1, 0}, {1, 1}, {0, 0}, {0, 1}};
      for (int v = 0; v < 4; v++) {
        kr_buf_reset(&e);
        kr_buf_add(&e, "\x96\x0e", 2);
        put_bin(&e, vsubj, 16);
        kr_buf_add(&e, "\x03\x00\xc0\x94", 4);
        kr_buf_add(&e, &order[v][0], 1);
        put_bin(&e, sealed, KR_SEALED_KEY_LEN);
        kr_buf_add(&e, &order[v][1], 1);
        put_bin(&e, s2, KR_SEALED_KEY_LEN);
        BOTH(e, v < 3 ? KR_ENONCANON : 0);
      }
    }
    /* a record (14) with neither box nor key entry; a registering one is
     * taken bare (above) */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x96\x0e", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x03\x00\xc0\x90", 4);
    BOTH(e, KR_EMALFORMED);
    /* elements missing or extra: a record without its keys array, a
     * registering record that names its subject (15 is never followed by
     * one), or without its keys */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0e", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x03\x00", 2);
    put_bin(&e, box.data, box.len);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x96\x0f", 2);
    put_bin(&e, vsubj, 16);
    kr_buf_add(&e, "\x03\x00\xc0\x90", 4);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x94\x0f\x03\x00\xc0", 5);
    BOTH(e, KR_EMALFORMED);
    kr_buf_reset(&e);                           /* [15, 3, 0, nil, [], nil]: one too many */
    kr_buf_add(&e, "\x96\x0f\x03\x00\xc0\x90\xc0", 7);
    BOTH(e, KR_EMALFORMED);
    /* fields of the wrong kind: a creator by id (format 3), a box as a
     * string, keys as nil, a reader by id, a sealed key as a string */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03", 3);
    put_bin(&e, pk, 32);
    kr_buf_add(&e, "\xc0\x90", 2);
    CHECK(parse(e.data, e.len) < 0);
    CHECK(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len) < 0);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xb0" "0123456789abcdef\x90", 22);
    CHECK(parse(e.data, e.len) < 0);
    CHECK(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len) < 0);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00", 4);
    put_bin(&e, box.data, box.len);
    kr_buf_add(&e, "\xc0", 1);
    CHECK(parse(e.data, e.len) < 0);
    CHECK(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len) < 0);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x92", 6);
    put_bin(&e, rpk, 32);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    CHECK(parse(e.data, e.len) < 0);
    CHECK(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len) < 0);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\x92\x01\xd9\x30", 9);
    kr_buf_add(&e, sealed, KR_SEALED_KEY_LEN);
    CHECK(parse(e.data, e.len) < 0);
    CHECK(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len) < 0);
    /* not canonical: epoch 3 as a uint16, a 16-byte box as a bin16, a
     * keys array as an array16 */
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\xcd\x00\x03\x00\xc0\x90", 8);
    BOTH(e, KR_ENONCANON);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc5\x00\x10", 7);
    kr_buf_add(&e, box.data, 16);
    kr_buf_add(&e, "\x90", 1);
    BOTH(e, KR_ENONCANON);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x95\x0f\x03\x00\xc0\xdc\x00\x02\x01", 9);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    BOTH(e, KR_ENONCANON);
    kr_buf_free(&e);
    kr_buf_free(&want);
  }

  /* In one change: at most one record per (subject, epoch, creator), and
   * no record (14) on a subject a registering record of the change makes
   * (it is that record's to say). */
  {
    kr_buf b[3];
    kr_op r;
    uint8_t s0[16], s1[16], sx[16];
    kr_change d;
    derive(pk, check_nonce, 0, s0);
    derive(pk, check_nonce, 1, s1);
    memset(sx, 0x5e, 16);
    for (int i = 0; i < 3; i++) kr_buf_init(&b[i], 1 << 16);
    /* b[0]: [14, sx, 3, 0, nil, [1, sealed]] */
    memset(&r, 0, sizeof r);
    r.type = KR_OP_RECORD;
    memcpy(r.subject, sx, 16);
    r.epoch = 3;
    memcpy(r.creator, pk, 32);
    r.keys = ent;
    r.nkeys = 1;
    enc(&r, &b[0]);
    {
      rawop o[3] = {{b[0].data, b[0].len, 0, NULL, NULL}, {b[1].data, 0, 0, NULL, NULL},
                    {b[2].data, 0, 0, NULL, NULL}};
#define SET(i, op) do { enc((op), &b[i]); o[i].b = b[i].data; o[i].len = b[i].len; } while (0)
      kr_op q = r;
      SET(1, &q);                                /* the same record twice */
      CHECK_EQ(raw_decode_n(o, 2, NULL), KR_EMALFORMED);
      q.keys = NULL;                             /* another record, the same triple */
      q.nkeys = 0;
      q.box = box.data;
      q.box_len = (uint32_t)box.len;
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), KR_EMALFORMED);
      q.epoch = 4;                               /* another epoch */
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), 0);
      q.epoch = 3;
      memcpy(q.creator, rpk, 32);                /* another creator */
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), 0);
      memcpy(q.creator, pk, 32);
      q.subject[15] ^= 1;                        /* another subject */
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), 0);
      /* three, the repeat not next to its twin */
      q = r;
      q.epoch = 4;
      SET(1, &q);
      SET(2, &r);
      CHECK_EQ(raw_decode_n(o, 3, NULL), KR_EMALFORMED);
      q.epoch = 5;
      SET(2, &q);
      CHECK_EQ(raw_decode_n(o, 3, NULL), 0);
      /* a registering record and a record (14) on the subject it makes:
       * in either order, of its epoch and creator or not */
      q = rec;
      q.box = NULL;
      q.box_len = 0;
      SET(0, &q);                                /* [15, 3, 0, nil, [1, sealed]]: s0 */
      q = r;
      memcpy(q.subject, s0, 16);
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), KR_EMALFORMED);
      q.epoch = 9;
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), KR_EMALFORMED);
      memcpy(q.creator, rpk, 32);
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), KR_EMALFORMED);
      {
        rawop sw[2] = {o[1], o[0]};
        CHECK_EQ(raw_decode_n(sw, 2, NULL), KR_EMALFORMED);
      }
      /* on the subject of a second registering record the change does not
       * hold, or on another: taken */
      memcpy(q.subject, s1, 16);
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), 0);
      /* two registering records: two subjects, both taken, each with
       * records (14) on others' subjects; a record on the second's is not */
      q = rec;
      q.box = NULL;
      q.box_len = 0;
      q.keys = NULL;
      q.nkeys = 0;
      SET(1, &q);
      rc = raw_decode_n(o, 2, &d);
      CHECK_EQ(rc, 0);
      if (!rc) {
        CHECK(memcmp(d.ops[0].subject, s0, 16) == 0);
        CHECK(memcmp(d.ops[1].subject, s1, 16) == 0);
        CHECK(d.ops[1].nkeys == 0 && d.ops[1].box == NULL);
        kr_change_free(&d);
      }
      SET(2, &r);
      CHECK_EQ(raw_decode_n(o, 3, NULL), 0);
      q = r;
      memcpy(q.subject, s1, 16);
      SET(2, &q);
      CHECK_EQ(raw_decode_n(o, 3, NULL), KR_EMALFORMED);
      /* other ops on the subject a registering record makes: taken */
      q = outer[1];
      memcpy(q.subject, s0, 16);
      SET(1, &q);
      CHECK_EQ(raw_decode_n(o, 2, NULL), 0);
      /* withheld, either of the two still names its type and subject: a
       * record (14) on the subject a withheld registering record makes,
       * and a withheld record (14) on the subject of a registering one,
       * are refused as the change in full would be */
      {
        uint8_t h0[32], h1[32];
        rawop wh[2];
        q = r;
        memcpy(q.subject, s0, 16);
        SET(1, &q);
        crypto_generichash(h0, 32, o[0].b, o[0].len, NULL, 0);
        crypto_generichash(h1, 32, o[1].b, o[1].len, NULL, 0);
        wh[0] = (rawop){NULL, 0, KR_OP_REGREC, s0, h0};
        wh[1] = o[1];
        CHECK_EQ(raw_decode_n(wh, 2, NULL), KR_EMALFORMED);
        wh[0] = o[0];
        wh[1] = (rawop){NULL, 0, KR_OP_RECORD, s0, h1};
        CHECK_EQ(raw_decode_n(wh, 2, NULL), KR_EMALFORMED);
        wh[1].rsubj = s1;                         /* on another subject: taken */
        CHECK_EQ(raw_decode_n(wh, 2, NULL), 0);
      }
#undef SET
    }
    for (int i = 0; i < 3; i++) kr_buf_free(&b[i]);
  }

  /* Redactions [0, type, subject, hash] in a change whose root matches
   * what they carry: of a withdrawal (5), a record (14) or a registering
   * record (15, on its derived subject) taken; of any other type (10-12
   * among them), or of a registering record on another subject, refused. */
  {
    uint8_t hash[32], s0[16], s1[16], sx[16];
    kr_buf bare;
    kr_change d;
    memset(hash, 0x48, sizeof hash);
    memset(sx, 0x5e, 16);
    derive(pk, check_nonce, 0, s0);
    derive(pk, check_nonce, 1, s1);
    kr_buf_init(&bare, 64);
    kr_buf_add(&bare, "\x95\x0f\x01\x00\xc0\x90", 6);
    for (int t = 0; t < 20; t++) {
      rawop o = {NULL, 0, (uint8_t)t, t == KR_OP_REGREC ? s0 : sx, hash};
      int ok = t == KR_OP_WITHDRAW || t == KR_OP_RECORD || t == KR_OP_REGREC;
      rc = raw_decode_n(&o, 1, &d);
      CHECK_EQ(rc, ok ? 0 : KR_EMALFORMED);
      if (!rc) {
        CHECK_EQ(d.ops[0].type, KR_OP_REDACTED);
        CHECK_EQ(d.types[0], t);
        CHECK(memcmp(d.ops[0].subject, o.rsubj, 16) == 0);
        CHECK(memcmp(d.hashes[0], hash, 32) == 0);
        CHECK(d.op_bytes[0] == NULL);
        kr_change_free(&d);
      }
    }
    {
      rawop o[2] = {{NULL, 0, KR_OP_REGREC, sx, hash}, {bare.data, bare.len, 0, NULL, NULL}};
      CHECK_EQ(raw_decode_n(o, 1, NULL), KR_EMALFORMED);   /* another subject */
      o[0].rsubj = s1;                                     /* the second's */
      CHECK_EQ(raw_decode_n(o, 1, NULL), KR_EMALFORMED);
      /* the withheld one counts: the present one makes subject 1 */
      o[0].rsubj = s0;
      rc = raw_decode_n(o, 2, &d);
      CHECK_EQ(rc, 0);
      if (!rc) {
        CHECK(memcmp(d.ops[1].subject, s1, 16) == 0);
        kr_change_free(&d);
      }
      /* withheld after a present one: it makes subject 1 */
      {
        rawop sw[2] = {o[1], o[0]};
        CHECK_EQ(raw_decode_n(sw, 2, NULL), KR_EMALFORMED);
        sw[1].rsubj = s1;
        CHECK_EQ(raw_decode_n(sw, 2, NULL), 0);
      }
    }
    kr_buf_free(&bare);
  }

  /* Ops 1-4 (SET, ADD, REMOVE, GRANT) travel sealed only: in their outer
   * form, with the subject, they are refused. A withdrawal (5) travels in
   * clear, and never inside a group. */
  {
    kr_op wd = ops[3];
    kr_buf wb;
    wd.type = KR_OP_WITHDRAW;
    wd.until = "";
    wd.ntags = 0;
    wd.tags = NULL;
    kr_buf_init(&wb, 1 << 16);
    CHECK_EQ(kr_op_encode_inner(&wd, &T, &wb), KR_EINVAL);
    CHECK_EQ(kr_op_encode(&wd, &T, &wb), 0);
    CHECK_EQ(parse(wb.data, wb.len), 0);
    kr_buf_free(&wb);
    for (int i = 0; i < 5; i++) {
      const kr_op *op = &ops[i];
      kr_buf o;
      kr_buf_init(&o, 1 << 16);
      outer_form(op, &o);
      CHECK_EQ(parse(o.data, o.len), KR_EUNKNOWN);
      CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, o.data, o.len), KR_EUNKNOWN);
      kr_buf_free(&o);
    }
  }
  /* ... and the other types never travel inside a group. */
  {
    kr_op found, one;
    kr_buf e;
    kr_op *in;
    uint32_t nin;
    void *mem;
    memset(&found, 0, sizeof found);
    found.type = KR_OP_FOUND;
    memset(found.subject, 0x33, 16);
    found.org = "Voedselbank Noord";
    found.kind = "foodbank";
    kr_buf_init(&e, 1 << 16);
    CHECK_EQ(kr_op_encode_inner(&outer[0], &T, &e), KR_EINVAL);   /* a record */
    CHECK_EQ(kr_op_encode_inner(&outer[1], &T, &e), KR_EINVAL);   /* an erasure */
    {
      kr_op part = rec;
      part.type = KR_OP_RECORD;
      CHECK_EQ(kr_op_encode_inner(&part, &T, &e), KR_EINVAL);
      kr_record_key(&rec, 0, &part);                              /* its parts */
      CHECK_EQ(kr_op_encode_inner(&part, &T, &e), KR_EINVAL);
      REQUIRE(kr_record_group(&rec, &part) == 1);
      CHECK_EQ(kr_op_encode_inner(&part, &T, &e), KR_EINVAL);
    }
    CHECK_EQ(kr_op_encode_inner(&found, &T, &e), KR_EINVAL);
    CHECK_EQ(e.len, 0);
    one = outer[1];
    memcpy(one.subject, ops[0].subject, 16);
    CHECK_EQ(kr_group_encode(&one, 1, &T, &e), KR_EINVAL);
    CHECK_EQ(e.len, 0);
    /* plaintexts with codes no op has: 0 (erase was type 6 outside),
     * 65-95, past 127; and an op in outer form (an array) */
    CHECK_EQ(kr_group_decode((const uint8_t *)"\x00\xa5reden", 7, ops[0].subject, &T, &in, &nin,
                             &mem), KR_EUNKNOWN);
    CHECK(in == NULL && mem == NULL);
    CHECK_EQ(kr_group_decode((const uint8_t *)"\x41\xc0", 2, ops[0].subject, &T, &in, &nin, &mem),
             KR_EUNKNOWN);
    CHECK_EQ(kr_group_decode((const uint8_t *)"\x5f\xa1x", 3, ops[0].subject, &T, &in, &nin, &mem),
             KR_EUNKNOWN);
    CHECK_EQ(kr_group_decode((const uint8_t *)"\xcc\x80\xa1x", 4, ops[0].subject, &T, &in, &nin,
                             &mem), KR_EUNKNOWN);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x94\x0a\x03", 3);
    put_bin(&e, pk, 32);
    put_bin(&e, box.data, box.len);
    CHECK(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem) < 0);
    /* a record's bytes as a plaintext */
    enc(&rec, &e);
    CHECK(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem) < 0);
    CHECK(in == NULL && mem == NULL);
    kr_buf_free(&e);
  }
  /* Hostile plaintexts and bad groups. */
  {
    kr_buf e;
    kr_op *in;
    uint32_t nin;
    void *mem;
    kr_op two[2];
    kr_buf_init(&e, KR_CHANGE_MAX);
    /* cut short: refused, unless cut between two ops (then fewer ops; a
     * box's tag is what keeps a plaintext whole) */
    for (size_t n = 0; n < plain.len; n++) {
      rc = kr_group_decode(plain.data, n, ops[0].subject, &T, &in, &nin, &mem);
      CHECK(rc < 0 || (rc == 0 && nin < 5));
      if (!rc) free(mem);
    }
    kr_buf_add(&e, plain.data, plain.len);
    kr_buf_add(&e, "\xc0", 1);                   /* trailing */
    CHECK_EQ(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem), KR_EMALFORMED);
    CHECK_EQ(kr_group_decode((const uint8_t *)"", 0, ops[0].subject, &T, &in, &nin, &mem),
             KR_EMALFORMED);                     /* no ops */
    CHECK_EQ(kr_group_decode((const uint8_t *)"\x90", 1, ops[0].subject, &T, &in, &nin, &mem),
             KR_EMALFORMED);                     /* an array where a code goes */
    CHECK_EQ(kr_group_decode((const uint8_t *)"\x01", 1, ops[0].subject, &T, &in, &nin, &mem),
             KR_ETRUNCATED);                     /* a code alone */
    /* 65,535 ops at most: "set notes to nil" that many times, then once more */
    kr_buf_reset(&e);
    for (uint32_t i = 0; i < KR_GROUP_MAX_OPS; i++) kr_buf_add(&e, "\x08\xc0", 2);
    CHECK_EQ(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem), 0);
    CHECK_EQ(nin, KR_GROUP_MAX_OPS);
    free(mem);
    kr_buf_add(&e, "\x08\xc0", 2);
    CHECK_EQ(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem), KR_ETOOBIG);
    /* an op inside with the subject still in it (the outer form) */
    kr_buf_reset(&e);
    outer_form(&ops[0], &e);
    CHECK(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem) < 0);
    /* set and add of fields that do not exist (12, 47), or of the other
     * kind (a set of a set field: code 32 is add of skills, so a remove
     * of a single field: code 64 + 1 = 65 is no op) */
    kr_buf_reset(&e);
    REQUIRE(kr_op_encode_inner(&ops[0], &T, &e) == 0);
    REQUIRE(e.data[0] == KR_F_NAME && (e.data[1] & 0xe0) == 0xa0);
    e.data[0] = 12;
    CHECK_EQ(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem), KR_EUNKNOWN);
    e.data[0] = 47;
    CHECK_EQ(kr_group_decode(e.data, e.len, ops[0].subject, &T, &in, &nin, &mem), KR_EUNKNOWN);
    /* one group is one subject */
    two[0] = ops[0];
    two[1] = ops[1];
    two[1].subject[15] ^= 1;
    kr_buf_reset(&e);
    CHECK_EQ(kr_group_encode(two, 2, &T, &e), KR_EINVAL);
    CHECK_EQ(kr_group_encode(two, 0, &T, &e), KR_EINVAL);
    CHECK_EQ(e.len, 0);
    kr_buf_free(&e);
  }

  /* Non-canonical: a small integer in a wider encoding. */
  {
    static const uint8_t wide[] = {0xcd, 0x00, 0x05};
    static const uint8_t arr[] = {0xdc, 0x00, 0x02, 0x01, 0x02};
    kr_mp r;
    uint64_t v;
    uint32_t n;
    kr_mp_init(&r, wide, sizeof wide);
    CHECK_EQ(kr_mp_uint(&r, &v), KR_ENONCANON);
    kr_mp_init(&r, arr, sizeof arr);
    CHECK_EQ(kr_mp_array(&r, &n), KR_ENONCANON);
  }
  /* An array that claims more elements than bytes remain. */
  {
    static const uint8_t liar[] = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01};
    CHECK_EQ(kr_change_decode(liar, sizeof liar, KR_CHANGE_MAX, &c), KR_ETRUNCATED);
  }
  /* Version 4 only (formats 1-3 are no longer read), seq 0, unknown op
   * type, all properly signed: an erasure [6, subject, "Bob"]. */
  {
    kr_buf op;
    msgpack_packer p;
    kr_buf_init(&op, 4096);
    msgpack_packer_init(&p, &op, kr_buf_mp_write);
    msgpack_pack_array(&p, 3);
    msgpack_pack_uint8(&p, KR_OP_ERASE);
    msgpack_pack_bin(&p, 16);
    msgpack_pack_bin_body(&p, tags, 16);
    msgpack_pack_str(&p, 3);
    msgpack_pack_str_body(&p, "Bob", 3);

    CHECK_EQ(raw_decode(4, 1, op.data, op.len), 0);
    CHECK_EQ(raw_decode(1, 1, op.data, op.len), KR_EUNKNOWN);
    CHECK_EQ(raw_decode(2, 1, op.data, op.len), KR_EUNKNOWN);   /* format 2: key ops of old */
    CHECK_EQ(raw_decode(3, 1, op.data, op.len), KR_EUNKNOWN);   /* format 3: a hash per op */
    CHECK_EQ(raw_decode(5, 1, op.data, op.len), KR_EUNKNOWN);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 0, op.data, op.len), KR_EMALFORMED);   /* seq 0 does not exist */
    op.data[1] = 42;                                                /* op type 42 */
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, op.data, op.len), KR_EUNKNOWN);
    op.data[1] = KR_OP_REDACTED;     /* a redaction is an array in place of the bin */
    CHECK(raw_decode(KR_CHANGE_VERSION, 1, op.data, op.len) < 0);
    kr_buf_free(&op);
  }
  /* Another key's signature is refused. */
  {
    uint8_t pk2[32], sk2[64];
    kr_buf w2;
    crypto_sign_keypair(pk2, sk2);
    kr_buf_init(&w2, KR_CHANGE_MAX);
    REQUIRE(kr_change_build(sk2, 1, 1, check_nonce, &outer[1], 1, &w2) == 0);
    /* Put the first key's origin in place of the second's: same length. */
    {
      uint8_t *o = NULL;
      for (size_t i = 0; i + 32 <= w2.len && !o; i++)
        if (memcmp(w2.data + i, pk2, 32) == 0) o = w2.data + i;
      REQUIRE(o);
      memcpy(o, pk, 32);
    }
    CHECK_EQ(kr_change_decode(w2.data, w2.len, KR_CHANGE_MAX, &c), KR_EBADSIG);
    kr_buf_free(&w2);
  }
  /* The builders refuse ops the decoders would refuse. */
  {
    kr_op bad = ops[0];
    kr_buf b;
    kr_buf_init(&b, KR_CHANGE_MAX);
    bad.value = "bad\001control";
    CHECK(kr_group_encode(&bad, 1, &T, &b) < 0);
    bad = ops[3];
    bad.purpose = "Not Valid";
    CHECK(kr_group_encode(&bad, 1, &T, &b) < 0);
    bad = ops[3];
    bad.until = "2030-02-30";
    CHECK(kr_group_encode(&bad, 1, &T, &b) < 0);
    CHECK_EQ(b.len, 0);
    bad = outer[1];
    bad.value = "bad\001control";
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad = rec;
    bad.epoch = 0;
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad.epoch = KR_EPOCH_MAX + 1;
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad = rec;
    bad.box_len = KR_BOX_MIN - 1;
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad = rec;
    bad.type = KR_OP_RECORD;
    bad.box = NULL;
    bad.box_len = 0;
    bad.keys = NULL;
    bad.nkeys = 0;
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    kr_record_key(&rec, 0, &bad);                /* a part on its own */
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    REQUIRE(kr_record_group(&rec, &bad) == 1);
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad = ops[0];                                /* a sealed type in clear */
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    CHECK_EQ(b.len, 0);
    CHECK_EQ(kr_change_build(sk, 1, 1, check_nonce, &rec, 1, &b), 0);   /* the good one */
    kr_buf_free(&b);
  }
  /* A grant's recipient inside a group: by number where the change's
   * table has it (the origin is 0), else by id; an id the table has, or
   * a number it lacks, is refused. */
  {
    kr_op g = ops[3], *in;
    kr_buf e;
    uint32_t nin;
    void *mem;
    kr_buf_init(&e, 4096);
    g.recipient_all = 0;
    memcpy(g.recipient, rpk, 32);
    REQUIRE(kr_op_encode_inner(&g, &T, &e) == 0);
    CHECK(e.len > 10 && memcmp(e.data, "\x40\xa7" "contact\x01", 10) == 0);
    CHECK_EQ(kr_group_decode(e.data, e.len, vsubj, &T, &in, &nin, &mem), 0);
    if (nin == 1) CHECK(!in[0].recipient_all && memcmp(in[0].recipient, rpk, 32) == 0);
    free(mem);
    kr_buf_reset(&e);
    memcpy(g.recipient, pk, 32);
    REQUIRE(kr_op_encode_inner(&g, &T, &e) == 0);
    CHECK(memcmp(e.data, "\x40\xa7" "contact\x00", 10) == 0);
    kr_buf_reset(&e);
    memcpy(g.recipient, other, 32);          /* not in the table: its id */
    REQUIRE(kr_op_encode_inner(&g, &T, &e) == 0);
    CHECK(memcmp(e.data, "\x40\xa7" "contact\xc4\x20", 11) == 0);
    CHECK_EQ(kr_group_decode(e.data, e.len, vsubj, &T, &in, &nin, &mem), 0);
    if (nin == 1) CHECK(memcmp(in[0].recipient, other, 32) == 0);
    free(mem);
    memcpy(e.data + 11, rpk, 32);            /* an id the table has */
    CHECK_EQ(kr_group_decode(e.data, e.len, vsubj, &T, &in, &nin, &mem), KR_ENONCANON);
    memcpy(e.data + 11, pk, 32);             /* the origin's id */
    CHECK_EQ(kr_group_decode(e.data, e.len, vsubj, &T, &in, &nin, &mem), KR_ENONCANON);
    kr_buf_reset(&e);
    kr_buf_add(&e, "\x40\xa7" "contact\x02\x01\xa0\xa0\x90", 15);   /* number 2 */
    CHECK_EQ(kr_group_decode(e.data, e.len, vsubj, &T, &in, &nin, &mem), KR_EMALFORMED);
    kr_buf_free(&e);
  }
  /* The header's table: ascending, no repeats, never the origin. */
  {
    uint8_t ids[3][32], hash[32], sig[64], op1[] = "\x93\x06\xc4\x10" "0123456789abcdef\xa3" "Bob";
    const uint8_t *opp[1] = {op1};
    size_t opl[1] = {sizeof op1 - 1};
    memset(ids[0], 0x11, 32);
    memset(ids[1], 0x22, 32);
    memcpy(ids[2], pk, 32);
    crypto_generichash(hash, 32, op1, sizeof op1 - 1, NULL, 0);
    for (int v = 0; v < 4; v++) {
      static const int order[4][3] = {{0, 1, -1}, {1, 0, -1}, {0, 0, -1}, {0, 2, -1}};
      static const int want[4] = {0, KR_ENONCANON, KR_ENONCANON, KR_EMALFORMED};
      kr_buf h, out;
      msgpack_packer q;
      uint8_t root[32];
      kr_buf_init(&h, 4096);
      kr_buf_init(&out, 4096);
      root_of(&(rawop){op1, sizeof op1 - 1, 0, NULL, NULL}, 1, root);
      msgpack_packer_init(&q, &h, kr_buf_mp_write);
      msgpack_pack_array(&q, 7);
      msgpack_pack_uint8(&q, 4);
      msgpack_pack_bin(&q, 32);
      msgpack_pack_bin_body(&q, pk, 32);
      msgpack_pack_uint8(&q, 1);
      msgpack_pack_uint8(&q, 1);
      msgpack_pack_bin(&q, 16);
      msgpack_pack_bin_body(&q, check_nonce, 16);
      msgpack_pack_array(&q, 2);
      for (int i = 0; i < 2; i++) {
        msgpack_pack_bin(&q, 32);
        msgpack_pack_bin_body(&q, ids[order[v][i]], 32);
      }
      msgpack_pack_bin(&q, 32);
      msgpack_pack_bin_body(&q, root, 32);
      crypto_sign_detached(sig, NULL, h.data, h.len, sk);
      REQUIRE(kr_change_assemble(h.data, h.len, sig, 1, opp, opl, NULL, NULL, NULL, &out) == 0);
      rc = kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c);
      CHECK_EQ(rc, want[v]);
      if (!rc) kr_change_free(&c);
      kr_buf_free(&h);
      kr_buf_free(&out);
    }
  }
  /* Purpose ops (type 13): in clear, keyed by BLAKE2b-128 of the name. */
  {
    kr_op p, *d;
    kr_buf e, want;
    kr_change pc;
    uint8_t k[16];
    void *mem;
    memset(&p, 0, sizeof p);
    p.type = KR_OP_PURPOSE;
    p.purpose = "photos";
    p.value = "om foto's te gebruiken";
    p.text_version = "2025-1";
    kr_purpose_key("photos", p.subject);
    crypto_generichash(k, 16, (const uint8_t *)"photos", 6, NULL, 0);
    CHECK(memcmp(k, p.subject, 16) == 0);
    kr_buf_init(&e, 1 << 16);
    kr_buf_init(&want, 1 << 16);
    /* 95 0d c4 10 KEY a6 "photos" b6 "om foto's te gebruiken" a6 "2025-1" */
    kr_buf_add(&want, "\x95\x0d", 2);
    put_bin(&want, k, 16);
    kr_buf_add(&want, "\xa6photos\xb6om foto's te gebruiken\xa6" "2025-1", 1 + 6 + 1 + 22 + 1 + 6);
    REQUIRE(kr_op_encode(&p, &T, &e) == 0);
    CHECK(e.len == want.len && memcmp(e.data, want.data, e.len) == 0);
    /* round trip, as an op and in a change */
    REQUIRE(kr_op_parse(e.data, e.len, &T, &(kr_op){0}, &mem) == 0);
    free(mem);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), 0);
    kr_buf_reset(&want);
    REQUIRE(kr_change_build(sk, 1, 7, check_nonce, &p, 1, &want) == 0);
    REQUIRE(kr_change_decode(want.data, want.len, KR_CHANGE_MAX, &pc) == 0);
    d = &pc.ops[0];
    CHECK_EQ(d->type, KR_OP_PURPOSE);
    CHECK(memcmp(d->subject, k, 16) == 0);
    CHECK(strcmp(d->purpose, "photos") == 0 && strcmp(d->value, p.value) == 0 &&
          strcmp(d->text_version, "2025-1") == 0);
    kr_change_free(&pc);
    /* a key that is not the hash of the name: refused to build, to parse,
     * and in a change */
    {
      kr_op q = p;
      kr_buf r;
      q.subject[0] ^= 1;
      kr_buf_reset(&e);
      CHECK_EQ(kr_op_encode(&q, &T, &e), KR_EINVAL);
      CHECK_EQ(e.len, 0);
      kr_buf_init(&r, 1 << 16);
      REQUIRE(kr_op_encode(&p, &T, &r) == 0);
      r.data[4] ^= 1;                     /* the first byte of the key */
      CHECK_EQ(parse(r.data, r.len), KR_EMALFORMED);
      CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, r.data, r.len), KR_EMALFORMED);
      /* the key of "photo" with the name "photos" */
      kr_buf_reset(&r);
      kr_buf_add(&r, "\x95\x0d", 2);
      crypto_generichash(k, 16, (const uint8_t *)"photo", 5, NULL, 0);
      put_bin(&r, k, 16);
      kr_buf_add(&r, "\xa6photos\xa1x\xa0", 1 + 6 + 2 + 1);
      CHECK_EQ(parse(r.data, r.len), KR_EMALFORMED);
      kr_buf_free(&r);
    }
    /* names, descriptions and text versions out of bounds */
    {
      static const char *bad_names[] = {"", "Photos", "foto's", "0123456789012345678901234567890123456789x"};
      char longer[KR_PURPOSE_DESC_MAX + 2];
      kr_op q;
      for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        q = p;
        q.purpose = bad_names[i];
        kr_purpose_key(q.purpose, q.subject);
        CHECK_EQ(kr_op_check(&q), KR_EMALFORMED);
      }
      q = p;
      q.value = "";
      CHECK_EQ(kr_op_check(&q), KR_EMALFORMED);
      memset(longer, 'a', sizeof longer - 1);
      longer[sizeof longer - 1] = 0;
      q.value = longer;
      CHECK_EQ(kr_op_check(&q), KR_EMALFORMED);
      longer[KR_PURPOSE_DESC_MAX] = 0;
      CHECK_EQ(kr_op_check(&q), 0);
      q = p;
      q.value = "tab\there\x01";
      CHECK_EQ(kr_op_check(&q), KR_EMALFORMED);
      q = p;
      q.text_version = NULL;
      CHECK_EQ(kr_op_check(&q), KR_EMALFORMED);
      /* [13, key, name, description]: four elements */
      kr_buf_reset(&e);
      kr_buf_add(&e, "\x94\x0d", 2);
      put_bin(&e, p.subject, 16);
      kr_buf_add(&e, "\xa6photos\xa1x", 1 + 6 + 2);
      CHECK_EQ(parse(e.data, e.len), KR_EMALFORMED);
    }
    /* never inside a group */
    kr_buf_reset(&e);
    CHECK_EQ(kr_op_encode_inner(&p, &T, &e), KR_EINVAL);
    CHECK(kr_group_decode((const uint8_t *)"\x94\x0d\xa1x\xa1y\xa0", 7, p.subject, &T, &d,
                          &(uint32_t){0}, &mem) < 0);          /* its outer form */
    CHECK_EQ(kr_group_decode((const uint8_t *)"\x0d\xa1x\xa1y\xa0", 6, p.subject, &T, &d,
                             &(uint32_t){0}, &mem), KR_EUNKNOWN); /* 13: no field */
    kr_buf_free(&e);
    kr_buf_free(&want);
  }
  /* The node table: a record's creator and readers, a withdrawal's
   * recipient, ascending, without the origin; a record's readers by
   * their numbers in it (the origin 0 first), so in that order only. */
  {
    static const uint8_t zero16[16];
    uint8_t a[32], b[32], cc[32], dd[32], (*ids)[32];
    uint32_t n;
    kr_keyent e3[3];
    kr_op three[3];
    kr_buf x;
    memset(a, 0x11, 32);
    memset(b, 0x22, 32);
    memset(cc, 0x33, 32);
    memset(dd, 0x44, 32);
    memset(three, 0, sizeof three);
    three[0].type = KR_OP_RECORD;
    memcpy(three[0].subject, vsubj, 16);
    three[0].epoch = 1;
    memcpy(three[0].creator, b, 32);            /* 2 */
    three[0].box = zero16;
    three[0].box_len = 16;
    memcpy(e3[0].reader, pk, 32);                /* 0 */
    memcpy(e3[1].reader, a, 32);                 /* 1 */
    memcpy(e3[2].reader, cc, 32);                /* 3 */
    for (int i = 0; i < 3; i++) e3[i].sealed = sealed;
    three[0].keys = e3;
    three[0].nkeys = 3;
    three[1] = ops[3];
    three[1].type = KR_OP_WITHDRAW;
    three[1].until = "";
    three[1].recipient_all = 0;
    memcpy(three[1].recipient, dd, 32);          /* 4 */
    three[2] = outer[1];
    REQUIRE(kr_nodes_collect(pk, three, 3, &ids, &n) == 0);
    CHECK(n == 4 && memcmp(ids[0], a, 32) == 0 && memcmp(ids[1], b, 32) == 0 &&
          memcmp(ids[2], cc, 32) == 0 && memcmp(ids[3], dd, 32) == 0);
    free(ids);
    REQUIRE(kr_nodes_collect(pk, &three[2], 1, &ids, &n) == 0);   /* none */
    CHECK_EQ(n, 0);
    free(ids);
    kr_buf_init(&x, KR_CHANGE_MAX);
    REQUIRE(kr_change_build(sk, 11, 1, check_nonce, three, 3, &x) == 0);
    rc = kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c);
    CHECK_EQ(rc, 0);
    if (!rc) {
      CHECK_EQ(c.nodes.n, 4);
      CHECK(c.ops[0].nkeys == 3 && memcmp(c.ops[0].keys[0].reader, pk, 32) == 0 &&
            memcmp(c.ops[0].keys[1].reader, a, 32) == 0 &&
            memcmp(c.ops[0].keys[2].reader, cc, 32) == 0);
      CHECK(memcmp(c.ops[0].creator, b, 32) == 0);
      CHECK(memcmp(c.ops[1].recipient, dd, 32) == 0);
      kr_change_free(&c);
    }
    /* the readers in another order, or one twice: not built */
    {
      kr_keyent t = e3[1];
      e3[1] = e3[2];
      e3[2] = t;
      kr_buf_reset(&x);
      CHECK_EQ(kr_change_build(sk, 11, 1, check_nonce, three, 3, &x), KR_EINVAL);
      e3[2] = e3[1];
      CHECK_EQ(kr_change_build(sk, 11, 1, check_nonce, three, 3, &x), KR_EINVAL);
      e3[0] = t;                                 /* a, cc: ascending without the origin */
      e3[1] = e3[2];
      three[0].nkeys = 2;
      CHECK_EQ(kr_change_build(sk, 11, 1, check_nonce, three, 3, &x), 0);
    }
    kr_buf_free(&x);
  }
  /* A record with two key entries, the writer's own (0) and the reader's
   * (1): entry k at slot 1 + k, each opens with its own pair key only,
   * and not at the other's slot. */
  {
    kr_op r2, k0, k1, moved;
    kr_keyent e2[2];
    uint8_t s0[48], s1[48], spair[32], rpair[32], k2[32];
    kr_op two[2];
    kr_buf x;
    memset(&r2, 0, sizeof r2);
    r2.type = KR_OP_RECORD;
    memcpy(r2.subject, vsubj, 16);
    r2.epoch = 5;
    memcpy(r2.creator, pk, 32);
    memcpy(e2[0].reader, pk, 32);
    memcpy(e2[1].reader, rpk, 32);
    e2[0].sealed = s0;
    e2[1].sealed = s1;
    r2.keys = e2;
    r2.nkeys = 2;
    REQUIRE(kr_pair_key_ed(sk, pk, spair) == 0);   /* the writer's with itself */
    REQUIRE(kr_pair_key_ed(sk, rpk, rpair) == 0);
    kr_record_key(&r2, 0, &k0);
    kr_record_key(&r2, 1, &k1);
    CHECK(k0.slot == 1 && k1.slot == 2);
    REQUIRE(kr_key_seal(spair, net, pk, check_nonce, 1, &k0, key, s0) == 0);
    REQUIRE(kr_key_seal(rpair, net, pk, check_nonce, 1, &k1, key, s1) == 0);
    two[0] = outer[1];
    two[1] = r2;                                   /* at place 1 */
    kr_buf_init(&x, KR_CHANGE_MAX);
    REQUIRE(kr_change_build(sk, 12, 1, check_nonce, two, 2, &x) == 0);
    rc = kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c);
    CHECK_EQ(rc, 0);
    if (!rc && c.ops[1].nkeys == 2) {
      uint8_t rpair2[32];
      kr_op g;
      REQUIRE(kr_pair_key_ed(rsk, pk, rpair2) == 0);  /* the reader's end */
      kr_record_key(&c.ops[1], 0, &k0);
      kr_record_key(&c.ops[1], 1, &k1);
      CHECK(k0.slot == 1 && k1.slot == 2 && memcmp(k0.member, pk, 32) == 0 &&
            memcmp(k1.member, rpk, 32) == 0);
      CHECK_EQ(kr_key_open(spair, net, c.origin, c.nonce, 1, &k0, k2), 0);
      CHECK(memcmp(k2, key, 32) == 0);
      CHECK_EQ(kr_key_open(rpair2, net, c.origin, c.nonce, 1, &k1, k2), 0);
      CHECK(memcmp(k2, key, 32) == 0);
      CHECK_EQ(kr_key_open(rpair2, net, c.origin, c.nonce, 1, &k0, k2), KR_EBADSIG);
      CHECK_EQ(kr_key_open(spair, net, c.origin, c.nonce, 1, &k1, k2), KR_EBADSIG);
      CHECK_EQ(kr_key_open(rpair2, net, c.origin, c.nonce, 0, &k1, k2), KR_EBADSIG);
      moved = k1;
      moved.slot = 1;                              /* at entry 0's slot */
      CHECK_EQ(kr_key_open(rpair2, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      moved = k0;
      moved.slot = 2;
      CHECK_EQ(kr_key_open(spair, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      /* entry 1's sealed key moved into entry 0's place (reader pk) */
      moved = k0;
      moved.box = k1.box;
      CHECK_EQ(kr_key_open(rpair2, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      memcpy(moved.member, rpk, 32);
      CHECK_EQ(kr_key_open(rpair2, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      moved.slot = 2;
      CHECK_EQ(kr_key_open(rpair2, net, c.origin, c.nonce, 1, &moved, k2), 0);
      CHECK_EQ(kr_record_group(&c.ops[1], &g), 0);   /* no box */
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 1, &c.ops[1], &x), KR_EMALFORMED);
    }
    if (!rc) kr_change_free(&c);
    kr_buf_free(&x);
  }
  kr_buf_free(&plain);
  kr_buf_free(&box);
  kr_buf_free(&w);
  return check_done("test_change");
}
