/*
 * digest: BLAKE2b-256 over a canonical serialisation of replicated state.
 * The caller feeds the state in the canonical order (docs/crdt.md,
 * "State digest"): subjects by ascending id; within a live subject its
 * fields by code, its set elements by (code, value), its consent registers
 * by (purpose, recipient; "all" first) each followed by its op tags in
 * ascending order; then the members by ascending node id; then the
 * purposes by ascending name. Each item is a msgpack token sequence with a
 * one-letter kind, so the stream has one parse. Two replicas that hold the same
 * changes produce the same digest whatever order the changes arrived in.
 */
#ifndef KR_DIGEST_H
#define KR_DIGEST_H

#include <stdint.h>

#include <msgpack.h>
#include <sodium.h>

#include "crdt/merge.h"
#include "crdt/op.h"

typedef struct {
  crypto_generichash_state h;
  msgpack_packer pk;
} kr_digest;

void kr_digest_init(kr_digest *d);
void kr_digest_subject(kr_digest *d, const uint8_t subject[static KR_SUBJECT_LEN]);
void kr_digest_erased(kr_digest *d, const uint8_t subject[static KR_SUBJECT_LEN],
                      const kr_stamp *marker);
void kr_digest_field(kr_digest *d, int code, const char *value);
void kr_digest_element(kr_digest *d, int code, const char *value);
/* recipient NULL means "all"; in_force NULL means no grant in force. */
void kr_digest_consent(kr_digest *d, const char *purpose, const uint8_t *recipient,
                       const uint8_t *in_force);
void kr_digest_consent_op(kr_digest *d, const uint8_t tag[static KR_TAG_LEN]);
/* After every subject: each node a membership op names, by ascending id.
 * org NULL: no admission known yet; cutoff UINT64_MAX: not removed. */
void kr_digest_member(kr_digest *d, const uint8_t node[static KR_NODE_LEN], const char *org,
                      const char *kind, uint64_t cutoff);
/* After the members: each purpose of the network's list, by ascending
 * name, with the values of its latest op. */
void kr_digest_purpose(kr_digest *d, const char *name, const char *description,
                       const char *text_version);
void kr_digest_final(kr_digest *d, uint8_t out[static 32]);

#endif
