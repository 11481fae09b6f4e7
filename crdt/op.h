/*
 * op: the operations a change carries, their field codes, and their
 * canonical msgpack encoding. An operation names one subject (a volunteer,
 * by a random 128-bit id) and does one thing to it: set a single-valued
 * field (LWW register), add to or remove from a multi-valued field (add-wins
 * OR-set), grant or withdraw consent (disable-wins register), or erase the
 * subject (absorbing). Besides, membership ops change the network's
 * members and purpose ops its list of consent purposes. docs/protocol.md
 * gives the bytes.
 */
#ifndef KR_OP_H
#define KR_OP_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"

#define KR_SUBJECT_LEN 16
#define KR_TAG_LEN     16
#define KR_NODE_LEN    32
#define KR_HASH_LEN    32
#define KR_VALUE_MAX   4096   /* bytes in one text value */
#define KR_PURPOSE_MAX 40
#define KR_PURPOSE_DESC_MAX 200 /* bytes in a purpose's description */
#define KR_TEXT_VERSION_MAX 64  /* bytes in a consent text version */
#define KR_TAGS_MAX    4096   /* observed tags carried by one op */

typedef enum {
  KR_OP_REDACTED = 0, /* payload deleted after an erasure; only the hash remains */
  KR_OP_SET      = 1,
  KR_OP_ADD      = 2,
  KR_OP_REMOVE   = 3,
  KR_OP_GRANT    = 4,
  KR_OP_WITHDRAW = 5,
  KR_OP_ERASE    = 6,
  KR_OP_FOUND    = 7, /* membership: the founder creates the network */
  KR_OP_ADMIT    = 8, /* membership: a member admits a new node */
  KR_OP_EXPEL    = 9, /* membership: a member removes a node */
  /* 10-12 never travel on their own: a record (14, 15) carries them. A
   * node handles each part of a record as its own op (kr_record_group,
   * kr_record_key), so these name the parts. */
  KR_OP_GROUP    = 10, /* a volunteer's ops of one change, sealed under its key */
  KR_OP_KEY      = 11, /* a volunteer's key of one epoch, sealed to one reader */
  KR_OP_REGISTER = 12, /* the volunteer's registration: its origin is the registrar */
  KR_OP_PURPOSE  = 13, /* the network's list: a purpose, its description and text version */
  KR_OP_RECORD   = 14, /* one volunteer, one epoch: a group and/or key entries */
  KR_OP_REGREC   = 15, /* a registering record: a registration, a record, a derived subject */
} kr_op_type;

/* 1 for a record (14) or registering record (15). */
#define KR_OP_IS_RECORD(t) ((t) == KR_OP_RECORD || (t) == KR_OP_REGREC)

/* 1 for the op types that travel sealed inside a GROUP (never on their
 * own in a change). A withdrawal travels in clear: a reader that loses its
 * access by it must read it even when it holds no key of the epoch the
 * writer used (docs/crdt.md, "How access ends"). */
#define KR_OP_IS_SEALED(t) ((t) >= KR_OP_SET && (t) <= KR_OP_GRANT)
/* The ops whose tag (kr_op_tag) the merge rules use: an add is removed by
 * it, a grant and a withdrawal observe each other by it. */
#define KR_OP_IS_TAGGED(t) ((t) == KR_OP_ADD || (t) == KR_OP_GRANT || (t) == KR_OP_WITHDRAW)
#define KR_KEY_LEN     32     /* a volunteer's key of one epoch */
#define KR_SEALED_KEY_LEN 48  /* a key op's box: key 32, tag 16 (the nonce is derived) */
#define KR_BOX_MIN     16     /* a group's box: at least the tag */
/* The highest epoch number a group or key op may carry (a node makes a new
 * epoch only when a volunteer's readers shrink: far below). Keeps every
 * epoch exact in a signed 64-bit column. */
#define KR_EPOCH_MAX   UINT64_C(0xffffffff)

/* 1 for the op types that change the network's membership. */
#define KR_OP_IS_MEMBERSHIP(t) ((t) >= KR_OP_FOUND && (t) <= KR_OP_EXPEL)
#define KR_NETWORK_LEN KR_SUBJECT_LEN
#define KR_ORG_NAME_MAX 100
#define KR_REASON_MAX 1000

/* Field codes. 1..31 single-valued (LWW), 32..63 multi-valued (OR-set). */
#define KR_FIELD_MAP(X)                          \
  X(NAME,           1,  "name")                  \
  X(EMAIL,          2,  "email")                 \
  X(PHONE,          3,  "phone")                 \
  X(POSTCODE,       4,  "postcode")              \
  X(CITY,           5,  "city")                  \
  X(BIRTH_YEAR,     6,  "birth_year")            \
  X(HOME_ORG,       7,  "home_org")              \
  X(NOTES,          8,  "notes")                 \
  X(VOG_CHECKED_ON, 9,  "vog_checked_on")        \
  X(VOG_CHECKED_BY, 10, "vog_checked_by")        \
  X(VOG_MEETS,      11, "vog_meets_requirements")\
  X(SKILLS,         32, "skills")                \
  X(LANGUAGES,      33, "languages")             \
  X(AVAILABILITY,   34, "availability")          \
  X(ORGANISATIONS,  35, "organisations")         \
  X(PLACEMENTS,     36, "placements")

enum {
#define KR_FIELD_ENUM(id, code, name) KR_F_##id = code,
  KR_FIELD_MAP(KR_FIELD_ENUM)
#undef KR_FIELD_ENUM
};

typedef enum {
  KR_METHOD_UNSPECIFIED = 0,
  KR_METHOD_PAPER = 1,
  KR_METHOD_VERBAL = 2,
  KR_METHOD_DIGITAL = 3,
} kr_method;

/* The field's name, or NULL for an unknown code. */
const char *kr_field_name(int code);
/* The code for a name (also accepts the singular "skill", "language"), or -1. */
int kr_field_code(const char *name);
int kr_field_is_single(int code);
int kr_field_is_set(int code);
const char *kr_method_name(int m);
int kr_method_code(const char *name); /* -1 if unknown */

/* 1 when kind is one of the organisation kinds (foodbank, buurtteam, mzo,
 * centre, care, other). */
int kr_kind_valid(const char *kind);

/*
 * One operation. Strings are NUL-terminated UTF-8. In a decoded change they
 * point into the change's own memory. Membership ops use the subject slot
 * for a 16-byte key: FOUND and EXPEL the network id, ADMIT the invite id;
 * PURPOSE the purpose's key (kr_purpose_key of its name).
 */
typedef struct {
  uint8_t type;                        /* kr_op_type */
  uint8_t subject[KR_SUBJECT_LEN];
  uint8_t field;                       /* SET, ADD, REMOVE */
  const char *value;                   /* SET (NULL clears), ADD, REMOVE; ERASE: reason;
                                          PURPOSE: the description */
  const uint8_t *tags;                 /* REMOVE: observed add tags;
                                          GRANT: observed withdrawal tags */
  uint32_t ntags;
  const char *purpose;                 /* GRANT, WITHDRAW; PURPOSE: the name */
  int recipient_all;                   /* GRANT, WITHDRAW: 1 = everyone */
  uint8_t recipient[KR_NODE_LEN];      /*   else this organisation's node */
  uint8_t method;                      /* kr_method */
  const char *text_version;            /* GRANT, WITHDRAW, PURPOSE: "" if none */
  const char *until;                   /* GRANT: "" or YYYY-MM-DD */
  uint8_t member[KR_NODE_LEN];         /* ADMIT, EXPEL: the node */
  uint8_t invite_pk[KR_NODE_LEN];      /* ADMIT: the invite's public key (its id is
                                          BLAKE2b-128 of it: the subject slot) */
  uint8_t proof[64];                   /* ADMIT: kr_admit_proof by the invite's key */
  const char *org, *kind;              /* FOUND, ADMIT: the organisation */
  uint64_t after_seq;                  /* EXPEL: the last of its changes that count */
                                       /* EXPEL: value is the reason */
  uint64_t epoch;                      /* GROUP, KEY, records: the epoch's number (>= 1) */
  uint8_t creator[KR_NODE_LEN];        /* GROUP, KEY, records: the node that made the epoch */
  const uint8_t *box;                  /* GROUP: ciphertext || tag; KEY: sealed key;
                                          records: the group's box, NULL (nil) if none */
  uint32_t box_len;                    /* KEY: the reader is in member */
  uint32_t slot;                       /* GROUP 0, KEY 1 + its entry in its record: the
                                          last 4 bytes of its AEAD nonce (kr_aead_nonce) */
  const struct kr_keyent *keys;        /* records: the key entries, readers ascending */
  uint32_t nkeys;
  uint8_t normal;                      /* SET, ADD, REMOVE made here (kr_txn): value was
                                          given in the form kr_normalise_field makes of
                                          it (so it passes the field rules). Never
                                          encoded; no decoder sets it. */
} kr_op;

/* A record's key entry: the epoch's key sealed to reader (a key op). */
typedef struct kr_keyent {
  uint8_t reader[KR_NODE_LEN];
  const uint8_t *sealed;               /* KR_SEALED_KEY_LEN bytes */
} kr_keyent;

/* The parts of a record r (docs/protocol.md, "Records"), each as the op
 * the node handles: its registration (type 12, REGREC only), its key
 * entries as KEY ops (slot 1 + k), its box as a GROUP (slot 0). A part
 * points into r's memory. kr_record_group: 1 when r holds a box. */
int kr_record_group(const kr_op *r, kr_op *g);
void kr_record_key(const kr_op *r, uint32_t k, kr_op *key);

/*
 * The node table of a change (docs/protocol.md, "Node numbers"): the
 * change names a node in a clear field (a record's creator, its key
 * entries' readers, a withdrawal's recipient) and a grant's recipient by
 * its number: 0 for the origin, i + 1 for id[i]. id ascending, no
 * repeats, without the origin, at most KR_NODES_MAX.
 */
#define KR_NODES_MAX 4096u
typedef struct {
  const uint8_t *origin;
  const uint8_t (*id)[KR_NODE_LEN];
  uint32_t n;
} kr_nodes;
/* id's number in t, or -1 (t NULL: -1). */
int64_t kr_nodes_no(const kr_nodes *t, const uint8_t id[static KR_NODE_LEN]);
/* The id of number no in t, or NULL. */
const uint8_t *kr_nodes_id(const kr_nodes *t, uint64_t no);
/* The table of ops by origin: the nodes their clear fields name, in a new
 * array *ids (free()) of *n. KR_ETOOBIG past KR_NODES_MAX. */
int kr_nodes_collect(const uint8_t origin[static KR_NODE_LEN], const kr_op *ops, uint32_t nops,
                     uint8_t (**ids)[KR_NODE_LEN], uint32_t *n);

/* Append the canonical encoding of op to out, naming nodes by their
 * numbers in t. KR_EINVAL for an op that the decoder would refuse (or a
 * node t lacks where a number is required). */
int kr_op_encode(const kr_op *op, const kr_nodes *t, kr_buf *out);

/* The sealed form of one op inside a group (an "inner op"): a one-byte
 * code, then its fields without an array or the subject (the group names
 * it). Codes: 1-31 set of that field, 32-63 add to that field, 64 grant,
 * 96-127 remove from field code - 64. Only KR_OP_IS_SEALED types. */
#define KR_INNER_GRANT  64
#define KR_INNER_REMOVE 64   /* added to the field code */
int kr_op_encode_inner(const kr_op *op, const kr_nodes *t, kr_buf *out);

/* The stamp index of op j of the group at place i of its change (every
 * other op: j = 0): i << 16 | j, so that every node, reader or not, numbers
 * ops alike. */
#define KR_OP_IDX(i, j) (((uint32_t)(i) << 16) | (uint32_t)(j))
#define KR_GROUP_MAX_OPS 0xffffu

/*
 * Check an op against the rules the decoder enforces (types, field kinds,
 * UTF-8, lengths, purpose syntax, dates).
 */
int kr_op_check(const kr_op *op);

/*
 * The op's identity in sets and consent registers: BLAKE2b-128 of
 * origin || seq (8 bytes big-endian) || index (4 bytes big-endian).
 */
void kr_op_tag(const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
               uint32_t idx, uint8_t tag[static KR_TAG_LEN]);

/*
 * The proof that the holder of an invite's secret asked for node to be
 * admitted as org of kind: Ed25519 by the invite's key over
 * "kring-admit-v2" || node || length of kind (1 byte) || kind || org.
 * Every admission carries it, so no member can make an admission with an
 * invite it does not hold (one invite admits one node, network-wide), nor
 * give the node another name or kind than it asked for.
 * kr_admit_check: 0, or KR_EBADSIG when the proof or the invite id (the
 * op's subject, BLAKE2b-128 of invite_pk) does not match.
 */
void kr_admit_proof(const uint8_t invite_sk[static 64], const uint8_t node[static KR_NODE_LEN],
                    const char *kind, const char *org, uint8_t proof[static 64]);
int kr_admit_check(const kr_op *op);
/* A new volunteer's id: BLAKE2b-128(registrar || nonce || r (4 bytes,
 * big-endian)), the nonce of the change whose registering record r
 * (counted from 0) registers it. A registering record names no subject:
 * every node derives it from the change's origin, so only the node that
 * made the id can register it, and no member can claim another's
 * volunteer by a backdated registration. */
void kr_subject_derive(const uint8_t registrar[static KR_NODE_LEN], const uint8_t nonce[static 16],
                       uint32_t r, uint8_t subject[static KR_SUBJECT_LEN]);
/* A purpose's key, the 16-byte slot of its PURPOSE ops: BLAKE2b-128 of
 * its name. kr_op_check refuses a PURPOSE op whose key is not this, so
 * one name has one key and every node folds it into one entry. */
void kr_purpose_key(const char *name, uint8_t key[static KR_SUBJECT_LEN]);
/* 1 when name has the syntax of a purpose: 1-40 bytes of a-z 0-9 -. */
int kr_purpose_name_ok(const char *name);
/* The invite id of an invite public key: BLAKE2b-128 of it. */
void kr_invite_key_id(const uint8_t invite_pk[static KR_NODE_LEN], uint8_t id[static KR_SUBJECT_LEN]);

/* The code point of the valid UTF-8 sequence at p (before end) into *cp:
 * its length in bytes, or 0 when no valid sequence starts at p (overlong,
 * surrogate, beyond U+10FFFF, cut short). */
size_t kr_utf8_next(const unsigned char *p, const unsigned char *end, uint32_t *cp);

/* 1 when s (len bytes) is valid UTF-8 with no NUL and no control chars
 * (C0, DEL, C1) other than tab and newline. */
int kr_utf8_ok(const char *s, size_t len);

#endif
