/*
 * err: kring's error codes. Every fallible function in crdt/, node/ and
 * cli/ returns 0 on success or one of these negative codes; kr_strerror()
 * gives the message. One table, one message per code.
 */
#ifndef KR_ERR_H
#define KR_ERR_H

#define KR_ERR_MAP(X)                                                        \
  X(NOMEM,      "out of memory")                                             \
  X(INVAL,      "invalid argument")                                          \
  X(TOOBIG,     "input larger than the allowed maximum")                     \
  X(TRUNCATED,  "input is truncated")                                        \
  X(MALFORMED,  "input is malformed")                                        \
  X(NONCANON,   "input is not in canonical encoding")                        \
  X(UNKNOWN,    "input uses an unknown type, field or version")              \
  X(BADSIG,     "signature does not verify")                                 \
  X(BADHASH,    "operations do not match the root of their hashes in the signed header")    \
  X(GAP,        "change is not the next in its origin's sequence")           \
  X(CONFLICT,   "origin signed two different changes with the same seq")     \
  X(IO,         "input/output error")                                        \
  X(DB,         "database error")                                            \
  X(EXISTS,     "already exists")                                            \
  X(NOTFOUND,   "not found")                                                 \
  X(AMBIGUOUS,  "ambiguous id prefix")                                       \
  X(ERASED,     "subject has been erased")                                   \
  X(KEYPERM,    "node key file is readable by group or others")              \
  X(BSN,        "value contains what looks like a BSN (9 digits passing the elfproef); kring never stores a BSN") \
  X(VALIDATION, "value is not valid")                                        \
  X(NOTMEMBER,  "origin is not a member of this network at this change (never admitted, or removed before it)") \
  X(FOUNDER,    "the network's founder cannot be removed")                  \
  X(CLOCK,      "the two nodes' clocks differ by more than 10 minutes: set the clock right") \
  X(NETWORK,    "belongs to another kring network")                          \
  X(EXPIRED,    "invite has expired")                                        \
  X(USED,       "invite has already been used")                              \
  X(NOKEY,      "bundle is not encrypted for this node")                   \
  X(PROTOCOL,   "peer broke the sync protocol")                              \
  X(TIMEOUT,    "timed out")                                                 \
  X(REFUSED,    "refused by the peer")                                       \
  X(CLOSED,     "connection closed before the sync finished")                \
  X(CONNECT,    "cannot connect")                                            \
  X(REDACTED,   "change withholds an op on a volunteer that is not erased here") \
  X(FULL,       "the disk is full: free some space and try again (nothing of this was stored)") \
  X(BADKEY,     "the node key file is not a kring node key (64 bytes: a secret seed, then the public key that seed makes): restore node.key from a backup") \
  X(DAMAGED,    "the store is damaged: restore the node's folder from a backup, or make a new node and sync it from a peer") \
  X(READONLY,   "the store is read-only: make the node's folder and kring.db writable for this user") \
  X(OLDSTORE,   "the store was made by an earlier kring, whose format this kring no longer reads: make a new node (kring init or kring join) and sync it from a peer") \
  X(SEALED,     "sealed: this node may not read this volunteer (the volunteer has not consented to it)") \
  X(BUSY,       "another kring command is writing to this node's store (an import, say) and did not finish within 10 seconds: run this again when it is done")

typedef enum {
  KR_OK = 0,
#define KR_ERR_ENUM(name, msg) KR_E##name,
  KR__ERR_FIRST = -100,
  KR_ERR_MAP(KR_ERR_ENUM)
#undef KR_ERR_ENUM
  KR__ERR_LAST
} kr_err;

/* The message for a code returned by a kr_ function; never NULL. */
const char *kr_strerror(int err);

#endif
