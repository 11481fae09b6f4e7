/* test_change: change encoding (format 4), signature, sealed groups and
 * keys, and the hostile-input decoders. */
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

/* A volunteer's ops of one change: they travel sealed, in one group. */
/* The sample volunteer: its id as kr_subject_make makes it for the
 * change's origin (main fills it in before anything uses it). */
static uint8_t vsubj[16], vsalt[16];

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

/* Sign an arbitrary header (for version and structure tests). */
static void signed_raw(const uint8_t *hdr, size_t hlen, const uint8_t *op, size_t oplen, kr_buf *out)
{
  uint8_t sig[64];
  const uint8_t *ops[1] = {op};
  size_t lens[1] = {oplen};
  crypto_sign_detached(sig, NULL, hdr, hlen, sk);
  REQUIRE(kr_change_assemble(hdr, hlen, sig, 1, ops, lens, NULL, NULL, NULL, out) == 0);
}

/* The root of a change of one op of len bytes (docs/protocol.md): its
 * leaf BLAKE2b-256(type || subject || BLAKE2b-256(op)), type and subject
 * its first two elements (zeros where it has none), then
 * BLAKE2b-256("kring-ops-4" || leaf). */
static void root_of_one(const uint8_t *op, size_t len, uint8_t root[32])
{
  crypto_generichash_state h;
  uint8_t hash[32], leaf[32], type = 0, subject[16] = {0};
  kr_mp r;
  uint32_t n;
  uint64_t t;
  kr_mp_init(&r, op, len);
  if (!kr_mp_array(&r, &n) && n >= 2 && !kr_mp_uint(&r, &t) && t < 256) {
    type = (uint8_t)t;
    if (kr_mp_bin_fixed(&r, subject, 16)) memset(subject, 0, 16);
  }
  crypto_generichash(hash, 32, op, len, NULL, 0);
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, &type, 1);
  crypto_generichash_update(&h, subject, 16);
  crypto_generichash_update(&h, hash, 32);
  crypto_generichash_final(&h, leaf, 32);
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const uint8_t *)"kring-ops-4", 11);
  crypto_generichash_update(&h, leaf, 32);
  crypto_generichash_final(&h, root, 32);
}

static void header(kr_buf *b, int version, uint64_t seq, const uint8_t *op, size_t len)
{
  msgpack_packer pk_;
  uint8_t root[32];
  root_of_one(op, len, root);
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

/* Decode a properly signed change of one op given as raw bytes: the
 * decoder's answer. */
static int raw_decode(int version, uint64_t seq, const uint8_t *op, size_t len)
{
  kr_buf h, out;
  kr_change c;
  int rc;

  kr_buf_init(&h, 4096);
  kr_buf_init(&out, KR_CHANGE_MAX);
  header(&h, version, seq, op, len);
  signed_raw(h.data, h.len, op, len, &out);
  rc = kr_change_decode(out.data, out.len, KR_CHANGE_MAX, &c);
  if (!rc) kr_change_free(&c);
  kr_buf_free(&h);
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

int main(void)
{
  kr_op ops[5], outer[4];
  uint8_t tags[32], net[16], key[32], sealed[KR_SEALED_KEY_LEN], other[32];
  kr_buf w, plain, box;
  kr_change c;
  int rc;

  REQUIRE(sodium_init() >= 0);
  crypto_sign_keypair(pk, sk);
  crypto_sign_keypair(rpk, rsk);              /* the reader the key is sealed to */
  T.origin = pk;
  T.id = (const uint8_t (*)[32])rpk;
  T.n = 1;
  memset(vsalt, 0x5a, sizeof vsalt);
  kr_subject_make(pk, vsalt, vsubj);
  memset(net, 0x6e, sizeof net);
  memset(other, 0x77, sizeof other);
  randombytes_buf(key, sizeof key);
  sample_ops(ops, tags);

  /* A change of format 4: a registration, a key for a reader, the
   * volunteer's ops as one sealed group (place 2), an erasure. */
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
  memset(outer, 0, sizeof outer);
  outer[0].type = KR_OP_REGISTER;
  memcpy(outer[0].subject, vsubj, 16);
  memcpy(outer[0].salt, vsalt, 16);
  outer[1].type = KR_OP_KEY;
  memcpy(outer[1].subject, vsubj, 16);
  outer[1].epoch = 3;
  memcpy(outer[1].creator, pk, 32);
  memcpy(outer[1].member, rpk, 32);
  {
    uint8_t pair[32];
    REQUIRE(kr_pair_key_ed(sk, rpk, pair) == 0);
    REQUIRE(kr_key_seal(pair, net, pk, check_nonce, 1, &outer[1], key, sealed) == 0);
  }
  outer[1].box = sealed;
  outer[1].box_len = sizeof sealed;
  outer[2].type = KR_OP_GROUP;
  memcpy(outer[2].subject, vsubj, 16);
  outer[2].epoch = 3;
  memcpy(outer[2].creator, pk, 32);
  REQUIRE(kr_group_seal(key, net, pk, 7, check_nonce, 2, &outer[2], plain.data, plain.len,
                        &box) == 0);
  outer[2].box = box.data;
  outer[2].box_len = (uint32_t)box.len;
  CHECK_EQ(box.len, plain.len + 16);
  CHECK(!has_bytes(box.data, box.len, "Fatma", 5));
  outer[3].type = KR_OP_ERASE;
  memset(outer[3].subject, 0x22, 16);
  outer[3].value = "verzoek van de vrijwilliger";
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_change_build(sk, 7, kr_hlc_make(1000, 2), check_nonce, outer, 4, &w) == 0);
  CHECK(!has_bytes(w.data, w.len, "Fatma", 5));
  CHECK(!has_bytes(w.data, w.len, "koken", 5));
  CHECK(!has_bytes(w.data, w.len, key, sizeof key));

  /* Round trip. */
  rc = kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c);
  CHECK_EQ(rc, 0);
  if (!rc) {
    kr_buf p2;
    uint8_t k2[32];

    CHECK(memcmp(c.origin, pk, 32) == 0);
    CHECK_EQ(c.seq, 7);
    CHECK_EQ(c.hlc, kr_hlc_make(1000, 2));
    CHECK_EQ(c.nops, 4);
    CHECK(memcmp(c.nonce, check_nonce, 16) == 0);
    /* the node table: the nodes the clear fields name, less the origin */
    CHECK(c.nodes.n == 1 && memcmp(c.nodes.id[0], rpk, 32) == 0 &&
          memcmp(c.nodes.origin, c.origin, 32) == 0);
    CHECK_EQ(c.ops[0].type, KR_OP_REGISTER);
    CHECK(memcmp(c.ops[0].subject, outer[0].subject, 16) == 0);
    CHECK_EQ(c.ops[1].type, KR_OP_KEY);
    CHECK_EQ(c.ops[1].epoch, 3);
    CHECK(memcmp(c.ops[1].creator, pk, 32) == 0);
    CHECK(memcmp(c.ops[1].member, rpk, 32) == 0);
    CHECK(c.ops[1].box_len == sizeof sealed && memcmp(c.ops[1].box, sealed, sizeof sealed) == 0);
    CHECK_EQ(c.ops[2].type, KR_OP_GROUP);
    CHECK_EQ(c.ops[2].epoch, 3);
    CHECK(memcmp(c.ops[2].subject, outer[2].subject, 16) == 0);
    CHECK(memcmp(c.ops[2].creator, pk, 32) == 0);
    CHECK(c.ops[2].box_len == box.len && memcmp(c.ops[2].box, box.data, box.len) == 0);
    CHECK_EQ(c.ops[3].type, KR_OP_ERASE);
    CHECK(strcmp(c.ops[3].value, "verzoek van de vrijwilliger") == 0);
    /* Re-encoding a decoded op gives the same bytes: canonical. */
    for (uint32_t i = 0; i < c.nops; i++) {
      kr_buf e;
      kr_buf_init(&e, 1 << 16);
      CHECK_EQ(kr_op_encode(&c.ops[i], &T, &e), 0);
      CHECK(e.len == c.op_len[i] && memcmp(e.data, c.op_bytes[i], e.len) == 0);
      kr_buf_free(&e);
    }

    /* The key op opens with the pair key of its sender and reader only
     * (both ends derive the same), and not once any clear field, the
     * sender or the network differ. */
    {
      uint8_t rpair[32], opair[32], tsk[64], tpk[32];
      kr_op moved = c.ops[1];
      REQUIRE(kr_pair_key_ed(rsk, pk, rpair) == 0);
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 1, &c.ops[1], k2), 0);
      CHECK(memcmp(k2, key, 32) == 0);
      crypto_sign_keypair(tpk, tsk);          /* a third node */
      REQUIRE(kr_pair_key_ed(tsk, pk, opair) == 0);
      CHECK_EQ(kr_key_open(opair, net, c.origin, c.nonce, 1, &c.ops[1], k2), KR_EBADSIG);
      CHECK_EQ(kr_key_open(rpair, other, c.origin, c.nonce, 1, &c.ops[1], k2), KR_EBADSIG);
      CHECK_EQ(kr_key_open(rpair, net, rpk, c.nonce, 1, &c.ops[1], k2), KR_EBADSIG);
      moved.epoch = 4;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      moved = c.ops[1];
      moved.subject[0] ^= 1;
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      moved = c.ops[1];
      memcpy(moved.creator, tpk, 32);
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      moved = c.ops[1];
      memcpy(moved.member, tpk, 32);
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 1, &moved, k2), KR_EBADSIG);
      /* at another place, or under another change's nonce */
      CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 2, &c.ops[1], k2), KR_EBADSIG);
      {
        uint8_t n2[16];
        memcpy(n2, c.nonce, 16);
        n2[15] ^= 1;
        CHECK_EQ(kr_key_open(rpair, net, c.origin, n2, 1, &c.ops[1], k2), KR_EBADSIG);
      }
      /* a low-order point gives no pair key */
      {
        uint8_t zero[32] = {0}, xs[32], xp[32];
        REQUIRE(crypto_sign_ed25519_sk_to_curve25519(xs, rsk) == 0);
        REQUIRE(crypto_sign_ed25519_pk_to_curve25519(xp, rpk) == 0);
        CHECK_EQ(kr_pair_key(xs, xp, zero, opair), KR_EINVAL);
      }
    }

    /* The group opens at its place with the epoch's key and gives back
     * the volunteer's ops. */
    kr_buf_init(&p2, KR_CHANGE_MAX);
    CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &c.ops[2], &p2), 0);
    CHECK(p2.len == plain.len && memcmp(p2.data, plain.data, plain.len) == 0);
    {
      kr_op *in;
      uint32_t nin;
      void *mem;
      rc = kr_group_decode(p2.data, p2.len, c.ops[2].subject, &T, &in, &nin, &mem);
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

    /* A box moved to another place, change, subject or epoch, or opened
     * with another key or network, does not open. */
    CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 1, &c.ops[2], &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 3, &c.ops[2], &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, net, c.origin, 8, c.nonce, 2, &c.ops[2], &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, net, other, c.seq, c.nonce, 2, &c.ops[2], &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(key, other, c.origin, c.seq, c.nonce, 2, &c.ops[2], &p2), KR_EBADSIG);
    CHECK_EQ(kr_group_open(other, net, c.origin, c.seq, c.nonce, 2, &c.ops[2], &p2), KR_EBADSIG);
    {
      uint8_t n2[16];
      memcpy(n2, c.nonce, 16);
      n2[0] ^= 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, n2, 2, &c.ops[2], &p2), KR_EBADSIG);
    }
    {
      kr_op g = c.ops[2];
      g.subject[0] ^= 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2), KR_EBADSIG);
      g = c.ops[2];
      g.epoch = 4;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2), KR_EBADSIG);
      g = c.ops[2];
      g.creator[0] ^= 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2), KR_EBADSIG);
      /* not a group at all */
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 1, &c.ops[1], &p2), KR_EMALFORMED);
    }
    /* The same box copied into another change of this origin (place 0,
     * seq 8): the change is well formed, the box does not open there. */
    {
      kr_buf w8;
      kr_change c8;
      kr_buf_init(&w8, KR_CHANGE_MAX);
      REQUIRE(kr_change_build(sk, 8, kr_hlc_make(2000, 0), check_nonce, &outer[2], 1, &w8) == 0);
      CHECK_EQ(kr_change_decode(w8.data, w8.len, KR_CHANGE_MAX, &c8), 0);
      CHECK_EQ(kr_group_open(key, net, c8.origin, c8.seq, c8.nonce, 0, &c8.ops[0], &p2), KR_EBADSIG);
      CHECK_EQ(kr_group_open(key, net, c8.origin, 7, c8.nonce, 0, &c8.ops[0], &p2), KR_EBADSIG);
      CHECK_EQ(kr_group_open(key, net, c8.origin, 7, c8.nonce, 2, &c8.ops[0], &p2), 0);
      kr_change_free(&c8);
      kr_buf_free(&w8);
    }
    /* Truncated, extended or altered ciphertext does not open. */
    {
      kr_op g = c.ops[2];
      uint8_t *b = malloc(g.box_len + 1);
      REQUIRE(b);
      memcpy(b, c.ops[2].box, c.ops[2].box_len);
      g.box = b;
      for (uint32_t len = 0; len < c.ops[2].box_len; len++) {
        g.box_len = len;
        rc = kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2);
        CHECK_EQ(rc, len < KR_BOX_MIN ? KR_EMALFORMED : KR_EBADSIG);
      }
      b[c.ops[2].box_len] = 0;
      g.box_len = c.ops[2].box_len + 1;
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2), KR_EBADSIG);
      g.box_len = c.ops[2].box_len;
      for (uint32_t i = 0; i < g.box_len; i++)
        for (int bit = 0; bit < 8; bit++) {
          b[i] ^= (uint8_t)(1 << bit);
          rc = kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2);
          if (rc != KR_EBADSIG) fprintf(stderr, "box bit flip at %u/%d: %d\n", i, bit, rc);
          CHECK_EQ(rc, KR_EBADSIG);
          b[i] ^= (uint8_t)(1 << bit);
        }
      CHECK_EQ(kr_group_open(key, net, c.origin, c.seq, c.nonce, 2, &g, &p2), 0);
      free(b);
    }
    /* A key op whose sealed key is altered does not open. */
    {
      uint8_t s2[KR_SEALED_KEY_LEN];
      for (size_t i = 0; i < sizeof s2; i += 7) {
        memcpy(s2, sealed, sizeof s2);
        s2[i] ^= 0x20;
        kr_op alt = c.ops[1];
        uint8_t rpair[32];
        REQUIRE(kr_pair_key_ed(rsk, pk, rpair) == 0);
        alt.box = s2;
        CHECK_EQ(kr_key_open(rpair, net, c.origin, c.nonce, 1, &alt, k2), KR_EBADSIG);
      }
    }
    kr_buf_free(&p2);

    /* Redaction: the group's payload goes, the change still verifies. */
    {
      kr_buf r;
      const uint8_t *bytes[4];
      kr_change d;
      uint8_t subj[4][16];
      for (int i = 0; i < 4; i++) {
        bytes[i] = i == 2 ? NULL : c.op_bytes[i];
        memcpy(subj[i], c.ops[i].subject, 16);
      }
      kr_buf_init(&r, KR_CHANGE_MAX);
      CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 4, bytes, c.op_len,
                                  (const uint8_t (*)[16])subj, c.types,
                                  (const uint8_t (*)[32])c.hashes, &r), 0);
      CHECK_EQ(kr_change_decode(r.data, r.len, KR_CHANGE_MAX, &d), 0);
      CHECK_EQ(d.ops[2].type, KR_OP_REDACTED);
      CHECK(memcmp(d.ops[2].subject, outer[2].subject, 16) == 0);
      CHECK(memcmp(d.hashes[2], c.hashes[2], 32) == 0);
      CHECK(d.op_bytes[2] == NULL);
      CHECK(!has_bytes(r.data, r.len, box.data, box.len));
      CHECK(!has_bytes(r.data, r.len, box.data, 16));
      kr_change_free(&d);
      /* a withheld op that carries another hash breaks the root */
      {
        uint8_t h2[4][32];
        memcpy(h2, c.hashes, sizeof h2);
        h2[2][31] ^= 1;
        kr_buf_reset(&r);
        CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 4, bytes, c.op_len,
                                    (const uint8_t (*)[16])subj, c.types,
                                    (const uint8_t (*)[32])h2, &r), 0);
        CHECK_EQ(kr_change_decode(r.data, r.len, KR_CHANGE_MAX, &d), KR_EBADHASH);
      }
      /* withheld without a hash to carry: not assembled */
      kr_buf_reset(&r);
      CHECK_EQ(kr_change_assemble(c.header, c.header_len, c.sig, 4, bytes, c.op_len,
                                  (const uint8_t (*)[16])subj, c.types, NULL, &r), KR_ETOOBIG);
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

  /* A registration only its id's maker can sign: another salt (or
   * another origin) makes another id, and the change is refused. */
  {
    kr_op r = outer[0];
    kr_buf x;
    kr_buf_init(&x, KR_CHANGE_MAX);
    r.salt[0] ^= 1;
    REQUIRE(kr_change_build(sk, 9, kr_hlc_make(1000, 1), check_nonce, &r, 1, &x) == 0);
    CHECK_EQ(kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c), KR_EBADSIG);
    kr_buf_reset(&x);
    REQUIRE(kr_change_build(rsk, 9, kr_hlc_make(1000, 1), check_nonce, &outer[0], 1, &x) == 0);
    CHECK_EQ(kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c), KR_EBADSIG);
    kr_buf_reset(&x);
    REQUIRE(kr_change_build(sk, 9, kr_hlc_make(1000, 1), check_nonce, &outer[0], 1, &x) == 0);
    CHECK_EQ(kr_change_decode(x.data, x.len, KR_CHANGE_MAX, &c), 0);
    kr_change_free(&c);
    kr_buf_free(&x);
  }

  /* REGISTER, KEY and GROUP, byte for byte (docs/protocol.md):
   * [12, subject, salt], [11, subject, epoch, creator, reader, sealed(48)],
   * [10, subject, epoch, creator, box]. */
  {
    kr_buf e, want;
    kr_op k = outer[1];
    kr_buf_init(&e, 1 << 16);
    kr_buf_init(&want, 1 << 16);

    CHECK_EQ(kr_op_encode(&outer[0], &T, &e), 0);
    kr_buf_add(&want, "\x93\x0c", 2);
    put_bin(&want, outer[0].subject, 16);
    put_bin(&want, outer[0].salt, 16);
    CHECK(e.len == want.len && memcmp(e.data, want.data, e.len) == 0);
    CHECK_EQ(parse(e.data, e.len), 0);

    kr_buf_reset(&e);
    kr_buf_reset(&want);
    k.epoch = 300;                              /* a uint16 in canonical msgpack */
    CHECK_EQ(kr_op_encode(&k, &T, &e), 0);
    kr_buf_add(&want, "\x96\x0b", 2);
    put_bin(&want, k.subject, 16);
    kr_buf_add(&want, "\xcd\x01\x2c", 3);
    kr_buf_add(&want, "\x00\x01", 2);        /* creator pk: number 0, reader rpk: 1 */
    put_bin(&want, sealed, KR_SEALED_KEY_LEN);
    CHECK(e.len == want.len && memcmp(e.data, want.data, e.len) == 0);
    {
      kr_op d;
      void *mem;
      CHECK_EQ(kr_op_parse(e.data, e.len, &T, &d, &mem), 0);
      if (mem) {
        CHECK_EQ(d.type, KR_OP_KEY);
        CHECK_EQ(d.epoch, 300);
        CHECK(memcmp(d.creator, pk, 32) == 0 && memcmp(d.member, rpk, 32) == 0);
        CHECK(d.box_len == KR_SEALED_KEY_LEN && memcmp(d.box, sealed, KR_SEALED_KEY_LEN) == 0);
      }
      free(mem);
    }

    kr_buf_reset(&e);
    kr_buf_reset(&want);
    CHECK_EQ(kr_op_encode(&outer[2], &T, &e), 0);
    kr_buf_add(&want, "\x95\x0a", 2);
    put_bin(&want, outer[2].subject, 16);
    kr_buf_add(&want, "\x03\x00", 2);        /* epoch 3, creator number 0 */
    put_bin(&want, box.data, box.len);
    CHECK(e.len == want.len && memcmp(e.data, want.data, e.len) == 0);
    CHECK_EQ(parse(e.data, e.len), 0);

    /* The malformed forms are refused, on their own and in a change. */
    kr_buf_reset(&e);                           /* REGISTER without its salt */
    kr_buf_add(&e, "\x92\x0c", 2);
    put_bin(&e, outer[0].subject, 16);
    CHECK_EQ(parse(e.data, e.len), KR_EMALFORMED);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), KR_EMALFORMED);
    kr_buf_reset(&e);                           /* a group of epoch 0 */
    kr_buf_add(&e, "\x95\x0a", 2);
    put_bin(&e, outer[2].subject, 16);
    kr_buf_add(&e, "\x00\x00", 2);
    put_bin(&e, box.data, box.len);
    CHECK_EQ(parse(e.data, e.len), KR_EMALFORMED);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), KR_EMALFORMED);
    kr_buf_reset(&e);                           /* a box shorter than its tag */
    kr_buf_add(&e, "\x95\x0a", 2);
    put_bin(&e, outer[2].subject, 16);
    kr_buf_add(&e, "\x03\x00", 2);
    put_bin(&e, box.data, KR_BOX_MIN - 1);
    CHECK_EQ(parse(e.data, e.len), KR_EMALFORMED);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), KR_EMALFORMED);
    kr_buf_reset(&e);                           /* a sealed key one byte short */
    kr_buf_add(&e, "\x96\x0b", 2);
    put_bin(&e, k.subject, 16);
    kr_buf_add(&e, "\x03\x00\x01", 3);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN - 1);
    CHECK_EQ(parse(e.data, e.len), KR_EMALFORMED);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), KR_EMALFORMED);
    kr_buf_reset(&e);                           /* a key op without its reader */
    kr_buf_add(&e, "\x95\x0b", 2);
    put_bin(&e, k.subject, 16);
    kr_buf_add(&e, "\x03\x00", 2);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    CHECK_EQ(parse(e.data, e.len), KR_EMALFORMED);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), KR_EMALFORMED);
    kr_buf_reset(&e);                           /* a reader number the table lacks */
    kr_buf_add(&e, "\x96\x0b", 2);
    put_bin(&e, k.subject, 16);
    kr_buf_add(&e, "\x03\x00\x02", 3);
    put_bin(&e, sealed, KR_SEALED_KEY_LEN);
    CHECK_EQ(parse(e.data, e.len), KR_EMALFORMED);
    CHECK_EQ(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len), KR_EMALFORMED);
    kr_buf_reset(&e);                           /* a creator by id (format 3) */
    kr_buf_add(&e, "\x95\x0a", 2);
    put_bin(&e, outer[2].subject, 16);
    kr_buf_add(&e, "\x03", 1);
    put_bin(&e, pk, 32);
    put_bin(&e, box.data, box.len);
    CHECK(parse(e.data, e.len) < 0);
    CHECK(raw_decode(KR_CHANGE_VERSION, 1, e.data, e.len) < 0);
    /* a node the encoder's table lacks cannot be named */
    {
      kr_op g2 = outer[2];
      kr_nodes t0 = {rpk, NULL, 0};             /* pk is not in it */
      kr_buf_reset(&e);
      CHECK_EQ(kr_op_encode(&g2, &t0, &e), KR_EINVAL);
      CHECK_EQ(e.len, 0);
    }
    kr_buf_free(&e);
    kr_buf_free(&want);
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
    CHECK_EQ(kr_op_encode_inner(&outer[0], &T, &e), KR_EINVAL);
    CHECK_EQ(kr_op_encode_inner(&outer[1], &T, &e), KR_EINVAL);
    CHECK_EQ(kr_op_encode_inner(&outer[2], &T, &e), KR_EINVAL);
    CHECK_EQ(kr_op_encode_inner(&outer[3], &T, &e), KR_EINVAL);
    CHECK_EQ(kr_op_encode_inner(&found, &T, &e), KR_EINVAL);
    CHECK_EQ(e.len, 0);
    one = outer[3];
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
    REQUIRE(kr_change_build(sk2, 1, 1, check_nonce, outer, 1, &w2) == 0);
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
    bad = outer[3];
    bad.value = "bad\001control";
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad = outer[2];
    bad.epoch = 0;
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad = outer[2];
    bad.box_len = KR_BOX_MIN - 1;
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    bad = outer[1];
    bad.box_len = KR_SEALED_KEY_LEN - 1;
    CHECK(kr_change_build(sk, 1, 1, check_nonce, &bad, 1, &b) < 0);
    CHECK_EQ(b.len, 0);
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
      root_of_one(op1, sizeof op1 - 1, root);
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
  kr_buf_free(&plain);
  kr_buf_free(&box);
  kr_buf_free(&w);
  return check_done("test_change");
}
