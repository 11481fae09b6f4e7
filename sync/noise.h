/*
 * noise: the Noise_XX_25519_ChaChaPoly_BLAKE2b handshake and transport
 * ciphers, written from the Noise Protocol Framework specification,
 * revision 34, on libsodium primitives (X25519, ChaCha20-Poly1305 IETF,
 * BLAKE2b; HMAC and HKDF as the specification defines them, sections 4.3
 * and 5.1). The handshake is an explicit state machine: each call checks
 * the step first and advances only on success; on any failure the state
 * is wiped and every later call fails.
 *
 *   XX:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 *
 * Nothing here does I/O, reads a clock or allocates. kr_noise_init and
 * kr_noise_split lock the state they fill into RAM (mlock: never swapped);
 * the caller ends its life with kr_noise_wipe and kr_noise_cipher_wipe.
 */
#ifndef KR_NOISE_H
#define KR_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define KR_NOISE_PROTOCOL "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define KR_NOISE_DHLEN    32
#define KR_NOISE_HASHLEN  64
#define KR_NOISE_KEYLEN   32
#define KR_NOISE_TAGLEN   16
#define KR_NOISE_MSG_MAX  65535u      /* bytes of one Noise message (spec 3) */
#define KR_NOISE_PLAIN_MAX (KR_NOISE_MSG_MAX - KR_NOISE_TAGLEN)

/* A CipherState (spec 5.1). n == UINT64_MAX is never used as a nonce. */
typedef struct {
  uint8_t k[KR_NOISE_KEYLEN];
  uint64_t n;
  int has_key;
} kr_noise_cipher;

typedef enum {
  KR_NOISE_MSG1 = 0,   /* -> e */
  KR_NOISE_MSG2,       /* <- e, ee, s, es */
  KR_NOISE_MSG3,       /* -> s, se */
  KR_NOISE_DONE,       /* split may be called */
  KR_NOISE_FAILED
} kr_noise_step;

/* A HandshakeState with its SymmetricState (spec 5.2, 5.3). */
typedef struct {
  int initiator;
  kr_noise_step step;
  uint8_t ck[KR_NOISE_HASHLEN], h[KR_NOISE_HASHLEN];
  kr_noise_cipher cs;
  uint8_t s_sk[KR_NOISE_DHLEN], s_pk[KR_NOISE_DHLEN];
  uint8_t e_sk[KR_NOISE_DHLEN], e_pk[KR_NOISE_DHLEN];
  uint8_t rs[KR_NOISE_DHLEN], re[KR_NOISE_DHLEN];
} kr_noise_hs;

/*
 * Initialize(XX, initiator, prologue, s, e). s_sk is the X25519 static
 * private key; e_sk the ephemeral one, or NULL for a fresh random key
 * (only test vectors pass one).
 */
void kr_noise_init(kr_noise_hs *hs, int initiator, const uint8_t *prologue, size_t prologue_len,
                   const uint8_t s_sk[static KR_NOISE_DHLEN], const uint8_t *e_sk);

/* WriteMessage: the next handshake message with payload into out (cap
 * bytes); *out_len its length. KR_EINVAL if it is not our turn. */
int kr_noise_write(kr_noise_hs *hs, const uint8_t *payload, size_t payload_len, uint8_t *out,
                   size_t cap, size_t *out_len);
/* ReadMessage: check and read the peer's next message; its payload goes
 * to payload (cap bytes), *payload_len its length. KR_EBADSIG if a MAC
 * fails, KR_EMALFORMED if the length is wrong for the step. */
int kr_noise_read(kr_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload, size_t cap,
                  size_t *payload_len);

/* After the third message: the peer's static public key. */
const uint8_t *kr_noise_remote_static(const kr_noise_hs *hs);
/* The handshake hash h (channel binding). */
const uint8_t *kr_noise_hash(const kr_noise_hs *hs);
/*
 * Split: the cipher for what we send and the one for what we receive.
 * The handshake's secrets are wiped; the hash and remote static stay.
 */
int kr_noise_split(kr_noise_hs *hs, kr_noise_cipher *send, kr_noise_cipher *recv);
/* Wipe everything (and unlock it from RAM: kr_noise_init locks it). */
void kr_noise_wipe(kr_noise_hs *hs);
/* Wipe a cipher that kr_noise_split keyed (and locked into RAM). */
void kr_noise_cipher_wipe(kr_noise_cipher *c);

/* EncryptWithAd(empty ad): out gets len + KR_NOISE_TAGLEN bytes. KR_EINVAL
 * when the nonce would reach its reserved maximum. */
int kr_noise_encrypt(kr_noise_cipher *c, const uint8_t *plain, size_t len, uint8_t *out);
/* DecryptWithAd(empty ad): out gets len - KR_NOISE_TAGLEN bytes. */
int kr_noise_decrypt(kr_noise_cipher *c, const uint8_t *ct, size_t len, uint8_t *out);
/* Rekey (spec 4.2): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). */
void kr_noise_rekey(kr_noise_cipher *c);

#endif
