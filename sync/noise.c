/* noise: Noise_XX_25519_ChaChaPoly_BLAKE2b (see noise.h). Section
 * numbers in comments are those of the Noise specification, revision 34.
 * Secrets: the handshake state and the transport ciphers are locked into
 * RAM (never swapped) from kr_noise_init / kr_noise_split until
 * kr_noise_wipe / kr_noise_cipher_wipe, and every temporary key on the
 * stack is wiped before its function returns. */
#include <string.h>

#include <sodium.h>

#include "crdt/err.h"
#include "sync/noise.h"

#define BLOCKLEN 128      /* BLAKE2b block length (4.3) */

/* ---- hash functions (4.3) --------------------------------------------- */

static void hash2(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                  uint8_t out[static KR_NOISE_HASHLEN])
{
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init(&st, NULL, 0, KR_NOISE_HASHLEN);
  crypto_generichash_blake2b_update(&st, a, alen);
  if (blen) crypto_generichash_blake2b_update(&st, b, blen);
  crypto_generichash_blake2b_final(&st, out, KR_NOISE_HASHLEN);
  sodium_memzero(&st, sizeof st);
}

/* HMAC-HASH(key, data) as RFC 2104 with BLAKE2b (key is at most HASHLEN). */
static void hmac(const uint8_t key[static KR_NOISE_HASHLEN], const uint8_t *data, size_t len,
                 uint8_t out[static KR_NOISE_HASHLEN])
{
  uint8_t pad[BLOCKLEN], inner[KR_NOISE_HASHLEN];

  memset(pad, 0x36, sizeof pad);
  for (size_t i = 0; i < KR_NOISE_HASHLEN; i++) pad[i] ^= key[i];
  hash2(pad, sizeof pad, data, len, inner);
  memset(pad, 0x5c, sizeof pad);
  for (size_t i = 0; i < KR_NOISE_HASHLEN; i++) pad[i] ^= key[i];
  hash2(pad, sizeof pad, inner, sizeof inner, out);
  sodium_memzero(pad, sizeof pad);
  sodium_memzero(inner, sizeof inner);
}

/* HKDF(chaining_key, input_key_material, 2 or 3) (4.3). out3 may be NULL. */
static void hkdf(const uint8_t ck[static KR_NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
                 uint8_t out1[static KR_NOISE_HASHLEN], uint8_t out2[static KR_NOISE_HASHLEN],
                 uint8_t *out3)
{
  uint8_t temp[KR_NOISE_HASHLEN], in[KR_NOISE_HASHLEN + 1];

  hmac(ck, ikm, ikm_len, temp);
  in[0] = 0x01;
  hmac(temp, in, 1, out1);
  memcpy(in, out1, KR_NOISE_HASHLEN);
  in[KR_NOISE_HASHLEN] = 0x02;
  hmac(temp, in, sizeof in, out2);
  if (out3) {
    memcpy(in, out2, KR_NOISE_HASHLEN);
    in[KR_NOISE_HASHLEN] = 0x03;
    hmac(temp, in, sizeof in, out3);
  }
  sodium_memzero(temp, sizeof temp);
  sodium_memzero(in, sizeof in);
}

/* ---- CipherState (5.1) ------------------------------------------------- */

static void nonce(uint64_t n, uint8_t out[static 12])
{
  /* 32 bits of zeros, then the 64-bit counter little-endian (ChaChaPoly, 12.3) */
  memset(out, 0, 4);
  for (int i = 0; i < 8; i++) out[4 + i] = (uint8_t)(n >> (8 * i));
}

static void cipher_init(kr_noise_cipher *c, const uint8_t k[static KR_NOISE_KEYLEN])
{
  memcpy(c->k, k, KR_NOISE_KEYLEN);
  c->n = 0;
  c->has_key = 1;
}

static int encrypt_ad(kr_noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *plain,
                      size_t len, uint8_t *out, size_t *out_len)
{
  uint8_t iv[12];
  unsigned long long clen;

  if (!c->has_key) {
    if (len && out != plain) memmove(out, plain, len);
    *out_len = len;
    return 0;
  }
  if (c->n == UINT64_MAX) return KR_EINVAL;  /* 2^64-1 is reserved (5.1) */
  nonce(c->n, iv);
  crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, plain, len, ad, adlen, NULL, iv, c->k);
  c->n++;
  *out_len = (size_t)clen;
  return 0;
}

static int decrypt_ad(kr_noise_cipher *c, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                      size_t len, uint8_t *out, size_t *out_len)
{
  uint8_t iv[12];
  unsigned long long plen;

  if (!c->has_key) {
    if (len && out != ct) memmove(out, ct, len);
    *out_len = len;
    return 0;
  }
  if (c->n == UINT64_MAX) return KR_EINVAL;
  if (len < KR_NOISE_TAGLEN) return KR_EMALFORMED;
  nonce(c->n, iv);
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, ct, len, ad, adlen, iv, c->k))
    return KR_EBADSIG;        /* the nonce does not advance on failure (5.1) */
  c->n++;
  *out_len = (size_t)plen;
  return 0;
}

int kr_noise_encrypt(kr_noise_cipher *c, const uint8_t *plain, size_t len, uint8_t *out)
{
  size_t olen;
  if (!c->has_key) return KR_EINVAL;
  return encrypt_ad(c, NULL, 0, plain, len, out, &olen);
}

int kr_noise_decrypt(kr_noise_cipher *c, const uint8_t *ct, size_t len, uint8_t *out)
{
  size_t olen;
  if (!c->has_key) return KR_EINVAL;
  return decrypt_ad(c, NULL, 0, ct, len, out, &olen);
}

void kr_noise_rekey(kr_noise_cipher *c)
{
  static const uint8_t zeros[KR_NOISE_KEYLEN];
  uint8_t iv[12], out[KR_NOISE_KEYLEN + KR_NOISE_TAGLEN];
  unsigned long long clen;

  nonce(UINT64_MAX, iv);
  crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, zeros, sizeof zeros, NULL, 0, NULL, iv,
                                            c->k);
  memcpy(c->k, out, KR_NOISE_KEYLEN);
  sodium_memzero(out, sizeof out);
}

/* ---- SymmetricState (5.2) ---------------------------------------------- */

static void mix_hash(kr_noise_hs *hs, const uint8_t *data, size_t len)
{
  uint8_t h[KR_NOISE_HASHLEN];
  hash2(hs->h, KR_NOISE_HASHLEN, data, len, h);
  memcpy(hs->h, h, sizeof h);
}

static void mix_key(kr_noise_hs *hs, const uint8_t *ikm, size_t len)
{
  uint8_t ck[KR_NOISE_HASHLEN], k[KR_NOISE_HASHLEN];
  hkdf(hs->ck, ikm, len, ck, k, NULL);
  memcpy(hs->ck, ck, sizeof ck);
  cipher_init(&hs->cs, k);     /* HASHLEN 64: the key is the first 32 bytes */
  sodium_memzero(ck, sizeof ck);
  sodium_memzero(k, sizeof k);
}

static int encrypt_and_hash(kr_noise_hs *hs, const uint8_t *plain, size_t len, uint8_t *out,
                            size_t *out_len)
{
  int rc = encrypt_ad(&hs->cs, hs->h, KR_NOISE_HASHLEN, plain, len, out, out_len);
  if (!rc) mix_hash(hs, out, *out_len);
  return rc;
}

static int decrypt_and_hash(kr_noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out,
                            size_t *out_len)
{
  uint8_t h[KR_NOISE_HASHLEN];
  int rc;
  /* h must take the ciphertext, which out may overwrite */
  hash2(hs->h, KR_NOISE_HASHLEN, ct, len, h);
  rc = decrypt_ad(&hs->cs, hs->h, KR_NOISE_HASHLEN, ct, len, out, out_len);
  if (!rc) memcpy(hs->h, h, sizeof h);
  return rc;
}

/* ---- DH (4.1) ------------------------------------------------------------ */

static int dh(const uint8_t sk[static KR_NOISE_DHLEN], const uint8_t pk[static KR_NOISE_DHLEN],
              uint8_t out[static KR_NOISE_DHLEN])
{
  /* libsodium refuses an all-zero result (a low-order public key). */
  return crypto_scalarmult(out, sk, pk) == 0 ? 0 : KR_EBADSIG;
}

static int mix_dh(kr_noise_hs *hs, const uint8_t *sk, const uint8_t *pk)
{
  uint8_t shared[KR_NOISE_DHLEN];
  int rc = dh(sk, pk, shared);
  if (!rc) mix_key(hs, shared, sizeof shared);
  sodium_memzero(shared, sizeof shared);
  return rc;
}

/* ---- HandshakeState (5.3) ------------------------------------------------ */

void kr_noise_init(kr_noise_hs *hs, int initiator, const uint8_t *prologue, size_t prologue_len,
                   const uint8_t s_sk[static KR_NOISE_DHLEN], const uint8_t *e_sk)
{
  static const char name[] = KR_NOISE_PROTOCOL;

  memset(hs, 0, sizeof *hs);
  sodium_mlock(hs, sizeof *hs);   /* best effort: RLIMIT_MEMLOCK may refuse */
  hs->initiator = initiator;
  /* InitializeSymmetric: the name fits in HASHLEN, so h is it zero-padded. */
  memcpy(hs->h, name, sizeof name - 1);
  memcpy(hs->ck, hs->h, KR_NOISE_HASHLEN);
  mix_hash(hs, prologue, prologue_len);
  memcpy(hs->s_sk, s_sk, KR_NOISE_DHLEN);
  crypto_scalarmult_base(hs->s_pk, hs->s_sk);
  if (e_sk) memcpy(hs->e_sk, e_sk, KR_NOISE_DHLEN);
  else randombytes_buf(hs->e_sk, KR_NOISE_DHLEN);
  crypto_scalarmult_base(hs->e_pk, hs->e_sk);
  hs->step = KR_NOISE_MSG1;
}

static int fail(kr_noise_hs *hs, int rc)
{
  kr_noise_wipe(hs);
  hs->step = KR_NOISE_FAILED;
  return rc;
}

/* Whether the message at this step is ours to write. */
static int our_turn(const kr_noise_hs *hs)
{
  switch (hs->step) {
  case KR_NOISE_MSG1: case KR_NOISE_MSG3: return hs->initiator;
  case KR_NOISE_MSG2: return !hs->initiator;
  default: return -1;
  }
}

int kr_noise_write(kr_noise_hs *hs, const uint8_t *payload, size_t payload_len, uint8_t *out,
                   size_t cap, size_t *out_len)
{
  size_t off = 0, k, need;
  int rc;

  if (our_turn(hs) != 1) return KR_EINVAL;
  /* e | e, enc(s), tag | enc(s): then the payload and (after the first) its tag */
  need = payload_len + (hs->step == KR_NOISE_MSG1 ? 32 : hs->step == KR_NOISE_MSG2 ? 96 : 64);
  if (need > cap || need > KR_NOISE_MSG_MAX) return KR_ETOOBIG;
  switch (hs->step) {
  case KR_NOISE_MSG1:
    /* e */
    memcpy(out, hs->e_pk, 32);
    mix_hash(hs, hs->e_pk, 32);
    off = 32;
    break;
  case KR_NOISE_MSG2:
    /* e */
    memcpy(out, hs->e_pk, 32);
    mix_hash(hs, hs->e_pk, 32);
    off = 32;
    /* ee */
    if ((rc = mix_dh(hs, hs->e_sk, hs->re))) return fail(hs, rc);
    /* s */
    if ((rc = encrypt_and_hash(hs, hs->s_pk, 32, out + off, &k))) return fail(hs, rc);
    off += k;
    /* es: the responder's side is DH(s, re) */
    if ((rc = mix_dh(hs, hs->s_sk, hs->re))) return fail(hs, rc);
    break;
  case KR_NOISE_MSG3:
    /* s */
    if ((rc = encrypt_and_hash(hs, hs->s_pk, 32, out, &k))) return fail(hs, rc);
    off = k;
    /* se: the initiator's side is DH(s, re) */
    if ((rc = mix_dh(hs, hs->s_sk, hs->re))) return fail(hs, rc);
    break;
  default:
    return KR_EINVAL;
  }
  if ((rc = encrypt_and_hash(hs, payload, payload_len, out + off, &k))) return fail(hs, rc);
  *out_len = off + k;
  hs->step++;
  return 0;
}

int kr_noise_read(kr_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap,
                  size_t *payload_len)
{
  size_t off = 0, k, tag = hs->step == KR_NOISE_MSG1 ? 0 : KR_NOISE_TAGLEN;
  uint8_t spk[32];
  int rc;

  if (our_turn(hs) != 0) return KR_EINVAL;
  if (len > KR_NOISE_MSG_MAX) return fail(hs, KR_ETOOBIG);
  switch (hs->step) {
  case KR_NOISE_MSG1:
    /* e */
    if (len < 32) return fail(hs, KR_EMALFORMED);
    memcpy(hs->re, msg, 32);
    mix_hash(hs, hs->re, 32);
    off = 32;
    break;
  case KR_NOISE_MSG2:
    if (len < 32 + 48 + KR_NOISE_TAGLEN) return fail(hs, KR_EMALFORMED);
    /* e */
    memcpy(hs->re, msg, 32);
    mix_hash(hs, hs->re, 32);
    off = 32;
    /* ee */
    if ((rc = mix_dh(hs, hs->e_sk, hs->re))) return fail(hs, rc);
    /* s */
    if ((rc = decrypt_and_hash(hs, msg + off, 48, spk, &k))) return fail(hs, rc);
    memcpy(hs->rs, spk, 32);
    off += 48;
    /* es: the initiator's side is DH(e, rs) */
    if ((rc = mix_dh(hs, hs->e_sk, hs->rs))) return fail(hs, rc);
    break;
  case KR_NOISE_MSG3:
    if (len < 48 + KR_NOISE_TAGLEN) return fail(hs, KR_EMALFORMED);
    /* s */
    if ((rc = decrypt_and_hash(hs, msg, 48, spk, &k))) return fail(hs, rc);
    memcpy(hs->rs, spk, 32);
    off = 48;
    /* se: the responder's side is DH(e, rs) */
    if ((rc = mix_dh(hs, hs->e_sk, hs->rs))) return fail(hs, rc);
    break;
  default:
    return KR_EINVAL;
  }
  if (len - off < tag || len - off - tag > cap) return fail(hs, KR_ETOOBIG);
  if ((rc = decrypt_and_hash(hs, msg + off, len - off, payload, &k))) return fail(hs, rc);
  *payload_len = k;
  hs->step++;
  return 0;
}

const uint8_t *kr_noise_remote_static(const kr_noise_hs *hs) { return hs->rs; }
const uint8_t *kr_noise_hash(const kr_noise_hs *hs) { return hs->h; }

int kr_noise_split(kr_noise_hs *hs, kr_noise_cipher *send, kr_noise_cipher *recv)
{
  uint8_t k1[KR_NOISE_HASHLEN], k2[KR_NOISE_HASHLEN];

  if (hs->step != KR_NOISE_DONE) return KR_EINVAL;
  hkdf(hs->ck, NULL, 0, k1, k2, NULL);
  /* c1 carries initiator -> responder, c2 the other way */
  sodium_mlock(send, sizeof *send);
  sodium_mlock(recv, sizeof *recv);
  cipher_init(hs->initiator ? send : recv, k1);
  cipher_init(hs->initiator ? recv : send, k2);
  sodium_memzero(k1, sizeof k1);
  sodium_memzero(k2, sizeof k2);
  sodium_memzero(hs->ck, sizeof hs->ck);
  sodium_memzero(&hs->cs, sizeof hs->cs);
  sodium_memzero(hs->s_sk, sizeof hs->s_sk);
  sodium_memzero(hs->e_sk, sizeof hs->e_sk);
  return 0;
}

void kr_noise_wipe(kr_noise_hs *hs)
{
  sodium_munlock(hs, sizeof *hs);   /* zeroes it, then unlocks */
}

void kr_noise_cipher_wipe(kr_noise_cipher *c)
{
  sodium_munlock(c, sizeof *c);
}
