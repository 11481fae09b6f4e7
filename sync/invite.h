/*
 * invite: the one-line invite a member hands to a new organisation, and
 * the join request the new node answers with. Both are text, so they fit
 * in a mail or chat:
 *
 *   kring-invite-1.<base64url of msgpack>     kring-join-1.<base64url of msgpack>
 *
 * An invite carries a fresh Ed25519 key pair (its 32-byte seed is the
 * secret), signed by the inviter together with the network, the founder
 * and the expiry. A join request repeats the signed invite body without the
 * secret and proves it held the secret by signing the new node's identity
 * with the invite key; the new node signs the same bytes with its own key.
 * So any member can check a request, not only the inviter. Expiry,
 * membership of the inviter and single use are checked against a store by
 * the caller. docs/protocol.md gives the bytes.
 */
#ifndef KR_INVITE_H
#define KR_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/op.h"

#define KR_INVITE_TEXT_MAX 4096   /* characters of an invite or join request */
#define KR_INVITE_ADDRS    8      /* addresses in one invite */
#define KR_ADDR_MAX        255    /* characters of one address */
#define KR_INVITE_PREFIX   "kring-invite-1."
#define KR_JOIN_PREFIX     "kring-join-1."

typedef struct {
  uint8_t network[KR_NETWORK_LEN];
  uint8_t founder[KR_NODE_LEN];
  uint8_t inviter[KR_NODE_LEN];
  uint8_t invite_pk[KR_NODE_LEN];   /* the invite's own public key */
  uint64_t expires_ms;
  char addr[KR_INVITE_ADDRS][KR_ADDR_MAX + 1];
  size_t naddr;
  uint8_t inviter_sig[64];          /* over "kring-invite-v1" || body */
  uint8_t seed[32];                 /* the secret; zero in a join request */
  uint8_t body[2560];               /* the signed invite body */
  size_t body_len;
} kr_invite;

typedef struct {
  kr_invite inv;                    /* without the secret */
  uint8_t proof[64];                /* kr_admit_proof by the invite's key for node */
  uint8_t node[KR_NODE_LEN];
  char org[KR_ORG_NAME_MAX + 1];
  char kind[16];
} kr_join_req;

/* Make an invite signed by inviter_sk; writes the text line to out. */
int kr_invite_make(const uint8_t inviter_sk[static 64], const uint8_t network[static KR_NETWORK_LEN],
                   const uint8_t founder[static KR_NODE_LEN], uint64_t expires_ms,
                   const char *const *addrs, size_t naddr, char *out, size_t cap);
/* Decode an invite line and check the inviter's signature. */
int kr_invite_parse(const char *text, kr_invite *out);
/* The invite's id: BLAKE2b-128 of its public key (recorded on admission). */
void kr_invite_id(const kr_invite *inv, uint8_t id[static KR_SUBJECT_LEN]);

/*
 * The invite or join request line (prefix KR_INVITE_PREFIX or
 * KR_JOIN_PREFIX) found in text as it came through e-mail or a file:
 * wrapped over several lines, quoted with '>', with blanks and text
 * around it. Writes the line alone to out (cap bytes). KR_ENOTFOUND: no
 * prefix; KR_ETRUNCATED: the text ends before the line does (cut off or
 * wrapped with a part lost); KR_EMALFORMED: not base64url of an envelope.
 * Only the length is checked here: kr_invite_parse and kr_join_parse
 * check the rest.
 */
int kr_invite_extract(const char *text, const char *prefix, char *out, size_t cap);

/* Make a join request for the node whose secret key is node_sk. */
int kr_join_make(const kr_invite *inv, const uint8_t node_sk[static 64], const char *org,
                 const char *kind, char *out, size_t cap);
/* Decode a join request and check all three signatures. */
int kr_join_parse(const char *text, kr_join_req *out);

#endif
