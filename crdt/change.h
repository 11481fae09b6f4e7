/*
 * change: what one local transaction produced. A signed header
 *   { version, origin node key, seq, hlc, nonce, root }
 * and the operations themselves; the root is a hash over the hashes of all
 * ops. The Ed25519 signature covers the header bytes only, so a node may
 * later withhold the payload of an erased subject's operation ("redact"
 * it: the op's hash travels in its place) and the change still verifies.
 * docs/protocol.md gives the bytes.
 */
#ifndef KR_CHANGE_H
#define KR_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "crdt/hlc.h"
#include "crdt/op.h"

#define KR_CHANGE_VERSION 4
#define KR_NONCE_LEN      16          /* the change's nonce: every AEAD nonce derives from it */
#define KR_CHANGE_MAX     (1u << 20)  /* bytes of one encoded change */
#define KR_CHANGE_MAX_OPS 10000u
#define KR_SIG_LEN        64
#define KR_SK_LEN         64          /* libsodium Ed25519 secret key */

typedef struct {
  uint8_t origin[KR_NODE_LEN];
  uint64_t seq;
  kr_hlc hlc;
  uint8_t nonce[KR_NONCE_LEN];
  kr_nodes nodes;                     /* the header's node table (origin: number 0) */
  uint8_t root[KR_HASH_LEN];
  uint32_t nops;
  uint8_t sig[KR_SIG_LEN];
  uint8_t (*hashes)[KR_HASH_LEN];     /* nops: each op's bytes' hash, computed or (withheld) carried */
  uint8_t *types;                     /* nops: each op's type (withheld: the one it carries) */
  kr_op *ops;                         /* nops; type KR_OP_REDACTED if withheld */
  const uint8_t **op_bytes;           /* nops; the encoded op, NULL if redacted */
  size_t *op_len;                     /* nops */
  const uint8_t *header;              /* the signed bytes */
  size_t header_len;
  void *mem;                          /* owns everything above */
} kr_change;

/*
 * Encode, hash and sign a change of nops operations by the node whose
 * libsodium secret key is sk (the origin is its public half), under the
 * change's nonce (the one its groups and key ops were sealed with; NULL:
 * a fresh random one, for a change that seals nothing). Appends the wire
 * bytes to out. Each op must pass what the decoder checks of it alone
 * (KR_EINVAL), a registering record's subject being the one derived; the
 * rules across records (one per subject, epoch and creator; none on a
 * subject the change registers) are the decoder's alone, so that tests
 * can make a change that breaks them.
 */
int kr_change_build(const uint8_t sk[static KR_SK_LEN], uint64_t seq, kr_hlc hlc,
                    const uint8_t *nonce, const kr_op *ops, uint32_t nops, kr_buf *out);

/*
 * kr_change_build, and in *view the change as kr_change_decode would give
 * it back from those bytes, without decoding them (the node applies its
 * own change so). The rules across records are checked here (KR_EINVAL),
 * as the decoder checks them, so that a change its author applies is one
 * every node takes. view->ops is ops itself: the caller keeps ops, and
 * everything they point to, while it uses view. kr_change_free(view).
 */
int kr_change_build_view(const uint8_t sk[static KR_SK_LEN], uint64_t seq, kr_hlc hlc,
                         const uint8_t *nonce, const kr_op *ops, uint32_t nops, kr_buf *out,
                         kr_change *view);

/*
 * Wire bytes from stored parts: the signed header, its signature, and per
 * op either its encoding or (op_bytes[i] == NULL) a redaction of an op of
 * types[i] (5, 14 or 15) on subjects[i] whose bytes hash to hashes[i].
 */
int kr_change_assemble(const uint8_t *header, size_t header_len,
                       const uint8_t sig[static KR_SIG_LEN], uint32_t nops,
                       const uint8_t *const *op_bytes, const size_t *op_len,
                       const uint8_t (*subjects)[KR_SUBJECT_LEN], const uint8_t *types,
                       const uint8_t (*hashes)[KR_HASH_LEN], kr_buf *out);

/* The nonce and the node table of a signed header: *t points into *mem
 * (free()). 0, KR_EMALFORMED or KR_ENOMEM. */
int kr_change_header_ctx(const uint8_t *header, size_t len, uint8_t nonce[static KR_NONCE_LEN],
                         kr_nodes *t, void **mem);

/*
 * Decode and verify one change of len bytes; refuse more than max bytes.
 * Checks the canonical encoding, the version, every field, the signature
 * over the header and the root over the ops' hashes (KR_EBADHASH). On success *out
 * owns its memory (release with kr_change_free); on error *out is empty.
 */
int kr_change_decode(const uint8_t *buf, size_t len, size_t max, kr_change *out);
void kr_change_free(kr_change *c);

/* Decode one op's bytes (exactly len, at most KR_CHANGE_MAX) of a change
 * whose node table is t into op (a registering record's subject, which
 * its bytes do not hold, is left zero). The strings live in *mem, which
 * the caller frees with free(). */
int kr_op_parse(const uint8_t *buf, size_t len, const kr_nodes *t, kr_op *op, void **mem);

/*
 * Groups (docs/protocol.md, "Sealed groups"). A volunteer's ops of one
 * change travel as one group, the box of its record (kr_record_group gives
 * it as a GROUP op): their inner encodings (kr_op_encode_inner)
 * in one array, sealed with XChaCha20-Poly1305-IETF under the volunteer's
 * key of the group's epoch, with associated data that binds the box to the
 * network, the change (origin, seq), its place in the change, the subject
 * and the epoch.
 */
int kr_group_encode(const kr_op *ops, uint32_t n, const kr_nodes *t, kr_buf *out);
/* The ops of a group's plaintext (each on subject) in a change whose node
 * table is t; *mem (free()) owns them. */
int kr_group_decode(const uint8_t *plain, size_t len, const uint8_t subject[static KR_SUBJECT_LEN],
                    const kr_nodes *t, kr_op **ops, uint32_t *nops, void **mem);
/* Seal plen bytes for the group g (a GROUP op or its record: subject,
 * epoch, creator set) at place of change (origin, seq, nonce): appends
 * ciphertext || tag to box.
 * Its AEAD nonce is the change's nonce || place || slot 0 (kr_aead_nonce). */
int kr_group_seal(const uint8_t key[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                  const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
                  const uint8_t nonce[static KR_NONCE_LEN], uint32_t place, kr_op *g,
                  const uint8_t *plain, size_t plen, kr_buf *box);
/* Open g's box into plain (reset first): 0, or KR_EBADSIG when the key is
 * not this box's or the box was moved or altered. */
int kr_group_open(const uint8_t key[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                  const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
                  const uint8_t nonce[static KR_NONCE_LEN], uint32_t place, const kr_op *g,
                  kr_buf *plain);
/* The 24-byte XChaCha20-Poly1305 nonce of slot at place of a change:
 * its nonce (16) || place (4, big-endian) || slot (4, big-endian). */
void kr_aead_nonce(const uint8_t nonce[static KR_NONCE_LEN], uint32_t place, uint32_t slot,
                   uint8_t out[static 24]);
/* Keys reach readers in key ops, a record's key entries (docs/protocol.md
 * "Keys and key entries"; kr_record_key gives one as a KEY op). The key a
 * pair of nodes shares: BLAKE2b-256 of "kring-pair-1" || X25519(own
 * secret, other's public) || the two X25519 public keys, lower first (so
 * both ends get the same). xsk/xpk_self: this node's X25519 forms;
 * xpk_other: the other's. KR_EINVAL for a low-order point. */
int kr_pair_key(const uint8_t xsk[static 32], const uint8_t xpk_self[static 32],
                const uint8_t xpk_other[static 32], uint8_t pair[static KR_KEY_LEN]);
/* The same from this node's Ed25519 secret key and the other's node id. */
int kr_pair_key_ed(const uint8_t sk[static KR_SK_LEN], const uint8_t other[static KR_NODE_LEN],
                   uint8_t pair[static KR_KEY_LEN]);
/* key sealed for the KEY op k (subject, epoch, creator, member = reader;
 * a key entry of the record at place, slot = 1 + its index) of a change by
 * origin under nonce, under the pair key of origin and reader: box =
 * XChaCha20-Poly1305 of the key (32) || tag (16), AEAD nonce
 * kr_aead_nonce(nonce, place, k->slot), associated data binding network,
 * origin, subject, epoch, creator and reader. */
int kr_key_seal(const uint8_t pair[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                const uint8_t origin[static KR_NODE_LEN], const uint8_t nonce[static KR_NONCE_LEN],
                uint32_t place, const kr_op *k, const uint8_t key[static KR_KEY_LEN],
                uint8_t box[static KR_SEALED_KEY_LEN]);
/* Open k's box: 0, or KR_EBADSIG (another pair's, moved or altered). */
int kr_key_open(const uint8_t pair[static KR_KEY_LEN], const uint8_t network[static KR_NETWORK_LEN],
                const uint8_t origin[static KR_NODE_LEN], const uint8_t nonce[static KR_NONCE_LEN],
                uint32_t place, const kr_op *k, uint8_t key[static KR_KEY_LEN]);

#endif
