/*
 * invite: the invite a member hands to a new organisation, and the join
 * request the new node answers with. Both are one line of text, short
 * enough for a mail or chat (docs/protocol.md gives every byte and why
 * it is there):
 *
 *   kring-invite-2.<base64url>      kring-join-3.<base64url>
 *
 * An invite carries a 16-byte secret from which the invite's own Ed25519
 * key pair is derived, the network id, the founder and (when it is not
 * the founder) the inviter, the expiry, where to reach the inviter, and
 * the inviter's signature over the network, founder, inviter, invite key
 * and expiry. A join request leaves out the secret, the addresses and
 * what any member knows already (the network, founder and inviter ids;
 * 4 bytes of the network's, to say "another network", and of the
 * inviter's, to find it), and proves it held the secret by the invite
 * key's signature over the new node's id; the new node signs the whole
 * request. So any member can check a request, not only the inviter.
 * Expiry, membership of the inviter and single use are checked against a
 * store by the caller.
 */
#ifndef KR_INVITE_H
#define KR_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/op.h"
#include "node/node.h"

#define KR_INVITE_TEXT_MAX 4096   /* characters of an invite or join request */
#define KR_INVITE_ADDRS    8      /* addresses in one invite */
#define KR_ADDR_MAX        255    /* characters of one address */
#define KR_INVITE_STEM     "kring-invite-"   /* then the format's number and '.' */
#define KR_JOIN_STEM       "kring-join-"
#define KR_INVITE_FORMAT   2
#define KR_INVITE_PREFIX   KR_INVITE_STEM "2."
#define KR_JOIN_PREFIX     KR_JOIN_STEM "3."
#define KR_JOIN_TAG_LEN    4      /* bytes of the network and inviter ids in a join request */

typedef struct {
  uint8_t network[KR_NETWORK_LEN];
  uint8_t founder[KR_NODE_LEN];
  uint8_t inviter[KR_NODE_LEN];
  uint8_t invite_pk[KR_NODE_LEN];   /* the invite's own public key */
  uint64_t expires_ms;              /* a whole minute */
  char addr[KR_INVITE_ADDRS][KR_ADDR_MAX + 1];
  size_t naddr;
  uint8_t inviter_sig[64];          /* over "kring-invite-v2" || network || founder || ... */
  uint8_t seed[32];                 /* the invite key's seed; zero in a join request */
} kr_invite;

typedef struct {
  /* Without the secret and the addresses; network, founder and inviter
   * are zero until kr_join_inviter found them. */
  kr_invite inv;
  uint8_t network_tag[KR_JOIN_TAG_LEN];  /* the first bytes of the network id */
  uint8_t inviter_tag[KR_JOIN_TAG_LEN];  /* the first bytes of the inviter's id */
  uint8_t proof[64];                /* kr_admit_proof by the invite's key for node */
  uint8_t node[KR_NODE_LEN];
  char org[KR_ORG_NAME_MAX + 1];
  char kind[16];
} kr_join_req;

/* Make an invite signed by inviter_sk; writes the text line to out. The
 * expiry is rounded up to a whole minute. */
int kr_invite_make(const uint8_t inviter_sk[static 64], const uint8_t network[static KR_NETWORK_LEN],
                   const uint8_t founder[static KR_NODE_LEN], uint64_t expires_ms,
                   const char *const *addrs, size_t naddr, char *out, size_t cap);
/* Decode an invite line and check the inviter's signature (with the key
 * the invite names: this finds any changed character, it does not tell
 * who made it). KR_EUNKNOWN: an invite of another format. */
int kr_invite_parse(const char *text, kr_invite *out);
/* The invite's id: BLAKE2b-128 of its public key (recorded on admission). */
void kr_invite_id(const kr_invite *inv, uint8_t id[static KR_SUBJECT_LEN]);

/*
 * The invite or join request line (prefix KR_INVITE_PREFIX or
 * KR_JOIN_PREFIX) found in text as it came through e-mail or a file:
 * wrapped over several lines, quoted with '>', with blanks and text
 * around it. Writes the line alone to out (cap bytes). KR_ENOTFOUND: no
 * prefix; KR_EUNKNOWN: a line of another format (the stem with another
 * number); KR_ETRUNCATED: the text ends before the line does (cut off or
 * wrapped with a part lost); KR_EMALFORMED: not the start of a line of
 * this format. Only the length is checked here: kr_invite_parse and
 * kr_join_parse check the rest.
 */
int kr_invite_extract(const char *text, const char *prefix, char *out, size_t cap);

/* Make a join request for the node whose secret key is node_sk. */
int kr_join_make(const kr_invite *inv, const uint8_t node_sk[static 64], const char *org,
                 const char *kind, char *out, size_t cap);
/* Decode a join request and check the new node's signature and the proof
 * (not yet the inviter's signature: kr_join_inviter). */
int kr_join_parse(const char *text, kr_join_req *out);
/* Whether the inviter's signature in req verifies for this network,
 * founder and inviter: 0 or KR_EBADSIG. */
int kr_join_check_inviter(const kr_join_req *req, const uint8_t network[static KR_NETWORK_LEN],
                          const uint8_t founder[static KR_NODE_LEN],
                          const uint8_t inviter[static KR_NODE_LEN]);
/*
 * The inviter of a parsed join request, among the nodes n knows as members
 * (or removed members): the one whose id begins with the inviter tag and
 * whose signature verifies for n's network. Fills req->inv's network,
 * founder and inviter. KR_ENETWORK: the request is for another network;
 * KR_ENOTMEMBER: no node n knows has that tag; KR_EBADSIG: none of them
 * signed it. Whether the inviter is a current member is the caller's.
 */
int kr_join_inviter(kr_node *n, kr_join_req *req);

#endif
