/* test_change: change encoding, signature and the hostile-input decoder. */
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "check.h"
#include "crdt/change.h"
#include "crdt/err.h"
#include "crdt/mp.h"

static uint8_t pk[32], sk[64];

static void sample_ops(kr_op *ops, uint8_t *tags)
{
  memset(ops, 0, 5 * sizeof *ops);
  memset(tags, 0xab, 16);
  memset(tags + 16, 0xcd, 16);
  for (int i = 0; i < 5; i++) memset(ops[i].subject, 0x11, 16);
  ops[0].type = KR_OP_SET; ops[0].field = KR_F_NAME; ops[0].value = "Fatma Yılmaz";
  ops[1].type = KR_OP_ADD; ops[1].field = KR_F_SKILLS; ops[1].value = "koken";
  ops[2].type = KR_OP_REMOVE; ops[2].field = KR_F_SKILLS; ops[2].value = "rijden";
  ops[2].tags = tags; ops[2].ntags = 2;
  ops[3].type = KR_OP_GRANT; ops[3].purpose = "contact"; ops[3].recipient_all = 1;
  ops[3].method = KR_METHOD_PAPER; ops[3].text_version = "v2"; ops[3].until = "2030-01-31";
  ops[4].type = KR_OP_SET; ops[4].field = KR_F_CITY; ops[4].value = NULL;
}

/* Sign an arbitrary header (for version and structure tests). */
static void signed_raw(const uint8_t *hdr, size_t hlen, const uint8_t *op, size_t oplen, kr_buf *out)
{
  uint8_t sig[64];
  const uint8_t *ops[1] = {op};
  size_t lens[1] = {oplen};
  crypto_sign_detached(sig, NULL, hdr, hlen, sk);
  REQUIRE(kr_change_assemble(hdr, hlen, sig, 1, ops, lens, NULL, out) == 0);
}

static void header(kr_buf *b, int version, uint64_t seq, const uint8_t hash[32])
{
  msgpack_packer pk_;
  msgpack_packer_init(&pk_, b, kr_buf_mp_write);
  msgpack_pack_array(&pk_, 5);
  msgpack_pack_uint8(&pk_, (uint8_t)version);
  msgpack_pack_bin(&pk_, 32);
  msgpack_pack_bin_body(&pk_, pk, 32);
  msgpack_pack_uint64(&pk_, seq);
  msgpack_pack_uint64(&pk_, 12345);
  msgpack_pack_array(&pk_, 1);
  msgpack_pack_bin(&pk_, 32);
  msgpack_pack_bin_body(&pk_, hash, 32);
}

int main(void)
{
  kr_op ops[5];
  uint8_t tags[32];
  kr_buf w;
  kr_change c;
  int rc;

  REQUIRE(sodium_init() >= 0);
  crypto_sign_keypair(pk, sk);
  sample_ops(ops, tags);
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_change_build(sk, 7, kr_hlc_make(1000, 2), ops, 5, &w) == 0);

  /* Round trip. */
  rc = kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c);
  CHECK_EQ(rc, 0);
  if (!rc) {
    CHECK(memcmp(c.origin, pk, 32) == 0);
    CHECK_EQ(c.seq, 7);
    CHECK_EQ(c.hlc, kr_hlc_make(1000, 2));
    CHECK_EQ(c.nops, 5);
    CHECK(strcmp(c.ops[0].value, "Fatma Yılmaz") == 0);
    CHECK_EQ(c.ops[2].ntags, 2);
    CHECK(memcmp(c.ops[2].tags, tags, 32) == 0);
    CHECK(strcmp(c.ops[3].until, "2030-01-31") == 0);
    CHECK(c.ops[3].recipient_all);
    CHECK(c.ops[4].value == NULL);
    /* Re-encoding a decoded op gives the same bytes: canonical. */
    for (uint32_t i = 0; i < c.nops; i++) {
      kr_buf e;
      kr_buf_init(&e, 1 << 16);
      CHECK_EQ(kr_op_encode(&c.ops[i], &e), 0);
      CHECK(e.len == c.op_len[i] && memcmp(e.data, c.op_bytes[i], e.len) == 0);
      kr_buf_free(&e);
    }
    /* Redaction: the payload goes, the change still verifies. */
    {
      kr_buf r;
      const uint8_t *bytes[5];
      kr_change d;
      uint8_t subj[5][16];
      for (int i = 0; i < 5; i++) {
        bytes[i] = i == 1 ? NULL : c.op_bytes[i];
        memcpy(subj[i], c.ops[i].subject, 16);
      }
      kr_buf_init(&r, KR_CHANGE_MAX);
      CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 5, bytes, c.op_len,
                                  (const uint8_t (*)[16])subj, &r), 0);
      CHECK_EQ(kr_change_decode(r.data, r.len, KR_CHANGE_MAX, &d), 0);
      CHECK_EQ(d.ops[1].type, KR_OP_REDACTED);
      CHECK(memcmp(d.ops[1].subject, ops[1].subject, 16) == 0);
      CHECK(!strstr((const char *)r.data, "koken"));
      kr_change_free(&d);
      kr_buf_free(&r);
    }
    kr_change_free(&c);
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
  /* Unknown version, unknown op type, unknown field, all properly signed. */
  {
    kr_buf h, op, out;
    uint8_t hash[32];
    msgpack_packer p;
    kr_buf_init(&op, 4096);
    msgpack_packer_init(&p, &op, kr_buf_mp_write);
    msgpack_pack_array(&p, 4);
    msgpack_pack_uint8(&p, KR_OP_SET);
    msgpack_pack_bin(&p, 16);
    msgpack_pack_bin_body(&p, tags, 16);
    msgpack_pack_uint8(&p, KR_F_NAME);
    msgpack_pack_str(&p, 3);
    msgpack_pack_str_body(&p, "Bob", 3);
    crypto_generichash(hash, 32, op.data, op.len, NULL, 0);

    kr_buf_init(&h, 4096);
    kr_buf_init(&out, KR_CHANGE_MAX);
    header(&h, 1, 1, hash);
    signed_raw(h.data, h.len, op.data, op.len, &out);
    CHECK_EQ(kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c), 0);
    kr_change_free(&c);

    kr_buf_reset(&h); kr_buf_reset(&out);
    header(&h, 2, 1, hash);
    signed_raw(h.data, h.len, op.data, op.len, &out);
    CHECK_EQ(kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c), KR_EUNKNOWN);

    kr_buf_reset(&h); kr_buf_reset(&out);
    header(&h, 1, 0, hash);   /* seq 0 does not exist */
    signed_raw(h.data, h.len, op.data, op.len, &out);
    CHECK_EQ(kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c), KR_EMALFORMED);

    op.data[4 + 16] = 99;     /* field code 99: after array, type, bin header (2), subject */
    op.data[1] = KR_OP_SET;
    crypto_generichash(hash, 32, op.data, op.len, NULL, 0);
    kr_buf_reset(&h); kr_buf_reset(&out);
    header(&h, 1, 1, hash);
    signed_raw(h.data, h.len, op.data, op.len, &out);
    CHECK_EQ(kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c), KR_EUNKNOWN);

    op.data[1] = 42;          /* op type 42 */
    crypto_generichash(hash, 32, op.data, op.len, NULL, 0);
    kr_buf_reset(&h); kr_buf_reset(&out);
    header(&h, 1, 1, hash);
    signed_raw(h.data, h.len, op.data, op.len, &out);
    CHECK_EQ(kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c), KR_EUNKNOWN);
    kr_buf_free(&h);
    kr_buf_free(&op);
    kr_buf_free(&out);
  }
  /* Another key's signature is refused. */
  {
    uint8_t pk2[32], sk2[64];
    kr_buf w2;
    crypto_sign_keypair(pk2, sk2);
    kr_buf_init(&w2, KR_CHANGE_MAX);
    REQUIRE(kr_change_build(sk2, 1, 1, ops, 1, &w2) == 0);
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
  /* The builder refuses ops the decoder would refuse. */
  {
    kr_op bad = ops[0];
    kr_buf b;
    kr_buf_init(&b, KR_CHANGE_MAX);
    bad.value = "bad\001control";
    CHECK(kr_change_build(sk, 1, 1, &bad, 1, &b) < 0);
    bad = ops[3];
    bad.purpose = "Not Valid";
    CHECK(kr_change_build(sk, 1, 1, &bad, 1, &b) < 0);
    bad = ops[3];
    bad.until = "2030-02-30";
    CHECK(kr_change_build(sk, 1, 1, &bad, 1, &b) < 0);
    kr_buf_free(&b);
  }
  kr_buf_free(&w);
  return check_done("test_change");
}
