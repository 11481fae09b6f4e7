/*
 * node: one organisation's replica. A home directory holds the node key
 * (node.key, mode 0600) and the SQLite store (kring.db, WAL mode). Local
 * edits are collected in a kr_txn and committed as one signed change;
 * changes from elsewhere enter through kr_node_apply(). Both paths verify
 * and materialise in one SQLite transaction.
 */
#ifndef KR_NODE_H
#define KR_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "crdt/change.h"
#include "crdt/merge.h"
#include "crdt/op.h"
#include "crdt/vv.h"

typedef struct kr_node kr_node;
typedef struct kr_txn kr_txn;

#define KR_ORG_MAX 100

/* Organisation kinds; kr_kind_ok() says whether a name is one of them. */
#define KR_KINDS "foodbank|buurtteam|mzo|centre|care|other"
int kr_kind_ok(const char *kind);

/* Create a new node in home (which must not exist or be empty). */
int kr_node_create(const char *home, const char *org, const char *kind, kr_node **out);
/* Create a node in home that belongs to an existing network (from an
 * invite) and waits to be admitted: until a change admitting it arrives,
 * it can make no change of its own. */
int kr_node_create_joining(const char *home, const char *org, const char *kind,
                           const uint8_t network[static KR_NETWORK_LEN],
                           const uint8_t founder[static KR_NODE_LEN], kr_node **out);
/*
 * Open an existing node. The key file must be mode 0600 (KR_EKEYPERM) and
 * exactly the libsodium Ed25519 secret key: 64 bytes, the 32-byte seed
 * then the public key that seed makes (KR_EBADKEY otherwise). A store
 * that SQLite finds damaged, or that is empty or holds no kring schema, is
 * KR_EDAMAGED (only kr_node_create writes a schema). A store that cannot
 * be written opens read-only (kr_node_readonly) where SQLite can read it;
 * else KR_EREADONLY, with the reason in kr_node_store_error().
 */
int kr_node_open(const char *home, kr_node **out);
void kr_node_close(kr_node *n);

/* The wall clock in ms; tests and benchmarks may replace it. */
void kr_node_set_clock(kr_node *n, uint64_t (*now_ms)(void *ctx), void *ctx);
uint64_t kr_node_now_ms(kr_node *n);
/* The clock nodes created or opened from now on start with (tests and the
 * simulation; NULL restores the wall clock). */
void kr_node_set_default_clock(uint64_t (*now_ms)(void *ctx), void *ctx);
/* Whether stores opened from now on wait for the disk at each commit
 * (the default, 1). The simulation turns it off: a process crash loses no
 * commit either way, and it only simulates process crashes. */
void kr_node_set_durable(int on);

const uint8_t *kr_node_id(const kr_node *n);
const char *kr_node_org(const kr_node *n);
const char *kr_node_kind(const kr_node *n);
/* The last error message from SQLite, for logs. */
const char *kr_node_errmsg(kr_node *n);
/* The home directory; a second connection to the same store (its own
 * transactions and snapshots; same clock). */
const char *kr_node_home(const kr_node *n);
int kr_node_reopen(const kr_node *n, kr_node **out);
/* Changes when another connection (another kring process) commits. */
int kr_node_data_version(kr_node *n, uint64_t *v);

/* ---- local edits ------------------------------------------------------ */

/* Start collecting a local change. Nothing is stored before commit. */
int kr_txn_begin(kr_node *n, kr_txn **out);
/* A new random subject id. */
void kr_txn_new_subject(kr_txn *t, uint8_t subject[static KR_SUBJECT_LEN]);
/*
 * Field edits. Values are validated and normalised per field (email, Dutch
 * phone, postcode, availability, years, dates), and any free-text value
 * holding a 9-digit number that passes the elfproef is refused (KR_EBSN).
 * value NULL clears a single-valued field. why (OUT, may be NULL) receives
 * a short reason for KR_EVALIDATION: static English, marked N_() for a
 * translation where it is shown (node/i18n.h).
 */
int kr_txn_set(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN], int field,
               const char *value, const char **why);
int kr_txn_add(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN], int field,
               const char *value, const char **why);
/* Removes every add of value this node has seen (KR_ENOTFOUND if none). */
int kr_txn_remove(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN], int field,
                  const char *value, const char **why);
/* recipient NULL means "all". until "" or YYYY-MM-DD. */
int kr_txn_grant(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN],
                 const char *purpose, const uint8_t *recipient, int method,
                 const char *text_version, const char *until, const char **why);
int kr_txn_withdraw(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN],
                    const char *purpose, const uint8_t *recipient, int method,
                    const char *text_version, const char **why);
int kr_txn_erase(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN],
                 const char *reason, const char **why);
size_t kr_txn_count(const kr_txn *t);
/*
 * Sign the collected ops as the next change of this node and apply it.
 * If wire is not NULL the change's bytes are appended to it. The txn is
 * freed either way.
 */
int kr_txn_commit(kr_txn *t, kr_buf *wire);
void kr_txn_abort(kr_txn *t);
/*
 * Make the txns committed until kr_node_group_end one SQLite transaction:
 * all of their changes are on disk together, or none is (kring import:
 * one commit, one disk flush, instead of one per change). After a failed
 * kr_txn_commit inside a group, end it with commit 0. The store stays
 * locked for writing by other processes until the end.
 */
int kr_node_group_begin(kr_node *n);
int kr_node_group_end(kr_node *n, int commit);

/* ---- changes from elsewhere -------------------------------------------- */

/*
 * Verify and apply one encoded change (at most KR_CHANGE_MAX bytes), in one
 * transaction. Idempotent: a change already held sets *fresh = 0 and
 * changes nothing. A different change under an (origin, seq) already held
 * is KR_ECONFLICT.
 */
int kr_node_apply(kr_node *n, const uint8_t *buf, size_t len, int *fresh);
/* Apply many in one transaction: all or nothing. *fresh counts new ones. */
int kr_node_apply_many(kr_node *n, const uint8_t *const *bufs, const size_t *lens,
                       size_t count, size_t *fresh);

/*
 * A long batch in one transaction, for bundles and sync sessions. A change
 * that batch_apply refuses (bad signature, not a member, equivocation)
 * has written nothing and the batch goes on; KR_EDB and KR_ENOMEM mean the
 * batch must end without commit. batch_end(n, 0) rolls everything back.
 */
int kr_node_batch_begin(kr_node *n);
int kr_node_batch_apply(kr_node *n, const uint8_t *buf, size_t len, int *fresh);
int kr_node_batch_end(kr_node *n, int commit);
/* 1 when the last change batch_apply took was held, not applied: stamped
 * more than KR_HLC_MAX_SKEW_MS ahead of this clock (*fresh was 0; it
 * counts as neither new nor known, and is applied when this clock reaches
 * it: kr_node_held). */
int kr_node_last_held(const kr_node *n);
/* As batch_apply, for changes sent in lacks order (sync sessions): a
 * change without membership ops must be the next of its origin after what
 * is held (KR_EGAP otherwise). */
int kr_node_batch_apply_next(kr_node *n, const uint8_t *buf, size_t len, int *fresh);

/* Apply, in a transaction of its own, the changes held because they were
 * stamped ahead of this clock, now that it has reached them (kring does
 * so at every open and every transaction that applies changes). */
int kr_node_release_held(kr_node *n);

typedef struct {
  uint8_t origin[KR_NODE_LEN];
  uint64_t count;              /* changes of origin held */
  kr_hlc first;                /* the earliest stamp among them */
  uint64_t until_ms;           /* when this clock reaches it: applied then */
} kr_held;
typedef int (*kr_held_cb)(void *ctx, const kr_held *h);
/* Per origin, the changes held because they are stamped ahead of this
 * clock (docs/crdt.md, "Stamps and the clock"). */
int kr_node_held(kr_node *n, kr_held_cb cb, void *ctx);

/* The node's Ed25519 secret key (public half at +32): for sync/ to sign
 * bundles and derive its Noise key. */
const uint8_t *kr_node_secret_key(const kr_node *n);

/* The stored change (origin, seq) as wire bytes, redacted where erased. */
int kr_node_change_bytes(kr_node *n, const uint8_t origin[static KR_NODE_LEN],
                         uint64_t seq, kr_buf *out);

/* ---- network and membership (member.c) ------------------------------ */

int kr_node_network(const kr_node *n, uint8_t network[static KR_NETWORK_LEN],
                    uint8_t founder[static KR_NODE_LEN]);

typedef struct {
  uint8_t node[KR_NODE_LEN];
  int founder;                 /* the network's founder */
  int admitted;                /* 0: only a removal is known so far */
  const char *org, *kind;
  uint8_t invite[KR_SUBJECT_LEN]; /* the invite its admission used (zero: founder) */
  kr_stamp admitted_at;
  int removed;
  uint64_t cutoff;             /* removed: its changes up to this seq count */
  kr_stamp removed_at;
  const char *reason;
} kr_member;
typedef int (*kr_member_cb)(void *ctx, const kr_member *m);
/* Every node the membership ops name, in order of admission. */
int kr_node_members(kr_node *n, kr_member_cb cb, void *ctx);
/* 1 when id is a current member (admitted, not removed), 0 if not. */
int kr_node_is_member(kr_node *n, const uint8_t id[static KR_NODE_LEN]);
/* The organisation name of an admitted member into out (cap bytes): 1,
 * or 0 when id was never admitted. */
int kr_node_member_org(kr_node *n, const uint8_t id[static KR_NODE_LEN], char *out, size_t cap);
/* 1 when a removal of id is known. */
int kr_node_is_removed(kr_node *n, const uint8_t id[static KR_NODE_LEN]);
/* A joining node: the member whose invite it used (see kr_node_trusted). */
int kr_node_set_inviter(kr_node *n, const uint8_t inviter[static KR_NODE_LEN]);
/* 1 when this node may sync with id: a current member, or, while this
 * node has not seen its own admission, the founder or its inviter. */
int kr_node_trusted(kr_node *n, const uint8_t id[static KR_NODE_LEN]);
/* An admission that is void: another node was admitted earlier with the
 * same invite (one invite admits one node, network-wide). */
typedef struct {
  uint8_t node[KR_NODE_LEN];   /* the node whose admission is void */
  const char *org;
  kr_stamp at;                 /* the void admission: when, and by whom (origin) */
  uint8_t winner[KR_NODE_LEN]; /* the node the invite admitted */
  const char *winner_org;
  kr_stamp winner_at;
} kr_void_admission;
typedef int (*kr_void_cb)(void *ctx, const kr_void_admission *v);
int kr_node_void_admissions(kr_node *n, kr_void_cb cb, void *ctx);
/* 1 when an admission held used this invite id. */
int kr_node_invite_used(kr_node *n, const uint8_t invite[static KR_SUBJECT_LEN]);
/* Commit an ADMIT (KR_EEXISTS if member or removed; KR_EBADSIG when
 * proof, kr_admit_proof by the invite's key, does not name member) or an
 * EXPEL (cutoff: what this node holds of the member without a gap;
 * KR_ENOTFOUND if not a member, KR_EFOUNDER for the founder). */
int kr_node_admit(kr_node *n, const uint8_t member[static KR_NODE_LEN], const char *org,
                  const char *kind, const uint8_t invite_pk[static KR_NODE_LEN],
                  const uint8_t proof[static 64]);
int kr_node_expel(kr_node *n, const uint8_t member[static KR_NODE_LEN], const char *reason);
/* The highest seq of origin held (0 if none), gaps or not. */
int kr_node_max_seq(kr_node *n, const uint8_t origin[static KR_NODE_LEN], uint64_t *seq);

/* ---- the network's consent purposes (purpose.c) ---------------------- */

/* One purpose of the network's list (docs/crdt.md, "Purposes"). */
typedef struct {
  const char *name;            /* 1-40 of a-z 0-9 -: what grants name */
  const char *description;     /* one line for people, 1-200 bytes */
  const char *text_version;    /* the version of the consent text ("" if none) */
  kr_stamp changed;            /* the op whose values these are (last writer wins) */
} kr_purpose;
typedef int (*kr_purpose_cb)(void *ctx, const kr_purpose *p);
/* Every purpose of the list, by name. The strings are valid during the
 * call only. */
int kr_node_purposes(kr_node *n, kr_purpose_cb cb, void *ctx);
/* One purpose by name into *out (strings owned by out: kr_purpose_free);
 * KR_ENOTFOUND when the list does not hold it. */
int kr_node_purpose_get(kr_node *n, const char *name, kr_purpose *out);
void kr_purpose_free(kr_purpose *p);
/* Add a purpose to the list, or change its description and text version
 * (text_version NULL: ""), in a change of this node; nothing when both
 * are as the list holds them already. KR_EVALIDATION (or KR_EBSN) with
 * *why (may be NULL) for a name or text that is not allowed. */
int kr_node_purpose_set(kr_node *n, const char *name, const char *description,
                        const char *text_version, const char **why);

/* ---- version vectors and what a peer lacks (vector.c) ----------------- */

/* Per origin, the highest seq up to which every change is held. */
int kr_node_vector(kr_node *n, kr_vv *out);
/* The head of (origin, seq): the first KR_HEAD_LEN bytes of BLAKE2b-256
 * of the change's signed header, equal on every node that holds the same
 * change (KR_ENOTFOUND if not held). kr_node_heads: one per entry of v. */
#define KR_HEAD_LEN 8
int kr_node_head(kr_node *n, const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
                 uint8_t out[static KR_HEAD_LEN]);
int kr_node_heads(kr_node *n, const kr_vv *v, uint8_t *out);
/* The last vector known of peer (empty if none); record merges. */
int kr_node_peer_vector(kr_node *n, const uint8_t peer[static KR_NODE_LEN], kr_vv *out);
int kr_node_peer_record(kr_node *n, const uint8_t peer[static KR_NODE_LEN], const kr_vv *v);

/*
 * The changes a peer with vector peer lacks, in an order it can apply:
 * changes with membership ops first (in clock order), then per origin by
 * ascending seq; a removed member's changes past its cutoff are left out.
 * Streamed: each kr_lacks_next() hands changes to cb and sets *count (0 at
 * the end): at most budget bytes, or one change when that alone is more.
 */
typedef struct kr_lacks kr_lacks;
typedef int (*kr_bytes_cb)(void *ctx, const uint8_t *buf, size_t len);
int kr_lacks_open(kr_node *n, const kr_vv *peer, kr_lacks **out);
uint64_t kr_lacks_total(const kr_lacks *l);
int kr_lacks_next(kr_lacks *l, size_t budget, kr_bytes_cb cb, void *ctx, size_t *count);
void kr_lacks_close(kr_lacks *l);

/* ---- the address book of network peers (peer.c) ---------------------- */

#define KR_PEER_NAME_MAX 64

typedef struct {
  const char *name, *addr;     /* addr: HOST:PORT */
  uint8_t node[KR_NODE_LEN];   /* who answered there last, if has_node */
  int has_node;
  uint64_t added_ms, last_ok_ms, last_try_ms;   /* 0: never */
  const char *last_err;        /* NULL if the last attempt succeeded */
} kr_addr;
typedef int (*kr_addr_cb)(void *ctx, const kr_addr *a);
/* KR_EEXISTS when the name is taken. */
int kr_node_addr_add(kr_node *n, const char *name, const char *addr);
/* KR_ENOTFOUND when there is no such name. */
int kr_node_addr_remove(kr_node *n, const char *name);
int kr_node_addrs(kr_node *n, kr_addr_cb cb, void *ctx);
/* Record an attempt: err NULL for success; node (may be NULL) who answered. */
int kr_node_addr_result(kr_node *n, const char *name, const uint8_t *node, const char *err);

/* A peer's wall clock at its last handshake, when it differed from this
 * node's by more than KR_HLC_MAX_SKEW_MS (sessions with it are refused
 * then). skew_ms: the peer's clock minus this node's. */
typedef struct {
  uint8_t peer[KR_NODE_LEN];
  int64_t skew_ms;
  uint64_t at_ms;
} kr_clock_note;
typedef int (*kr_clock_cb)(void *ctx, const kr_clock_note *c);
/* Record the skew seen at a handshake: kept while too large, dropped once
 * the clocks agree (then nothing is written if there was no note). */
int kr_node_clock_note(kr_node *n, const uint8_t peer[static KR_NODE_LEN], int64_t skew_ms);
int kr_node_clock_notes(kr_node *n, kr_clock_cb cb, void *ctx);

/* ---- queries ------------------------------------------------------------ */

typedef struct {
  char *v[32];                 /* single-valued fields by code; NULL if unset */
  struct { char **v; size_t n; } set[32];   /* multi-valued, by code - 32 */
} kr_values;

typedef struct {
  uint8_t id[KR_SUBJECT_LEN];
  int erased;
  kr_stamp erased_at;          /* if erased */
  char *erase_reason;
  kr_values val;
} kr_volunteer;

/* Resolve a hex id or unique prefix (>= 4 hex digits) of a volunteer this
 * node reads or knows erased. KR_ESEALED for the whole id of one held
 * sealed (id is set then), KR_ENOTFOUND, KR_EAMBIGUOUS. */
int kr_node_find(kr_node *n, const char *hex, uint8_t id[static KR_SUBJECT_LEN]);
int kr_node_volunteer(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], kr_volunteer *out);
void kr_volunteer_free(kr_volunteer *v);

/* The stamp of the value that holds a single-valued field (the last
 * writer by (hlc, origin, index)); KR_ENOTFOUND when it was never set. */
int kr_node_field_stamp(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], int field,
                        kr_stamp *st);

typedef struct {
  const char *skill, *language, *city, *available; /* NULL: no filter */
} kr_filter;
/* Calls cb for each live volunteer this node reads that matches, ordered
 * by name (sealed ones are not listed); stops and returns cb's value when
 * it is non-zero. */
typedef int (*kr_id_cb)(void *ctx, const uint8_t id[KR_SUBJECT_LEN]);
int kr_node_list(kr_node *n, const kr_filter *f, kr_id_cb cb, void *ctx);
/* Full-text search over name, skills, city and notes (words, prefixes). */
int kr_node_search(kr_node *n, const char *text, kr_id_cb cb, void *ctx);

typedef struct {
  const char *purpose;
  int all;
  uint8_t recipient[KR_NODE_LEN];
  kr_consent_state state;
  /* The grant in force, if any (also when it has expired). */
  int has_grant;
  int method;
  const char *text_version, *until;
  kr_stamp granted_at;
} kr_consent_status;
typedef int (*kr_consent_cb)(void *ctx, const kr_consent_status *s);
int kr_node_consent(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN],
                    kr_consent_cb cb, void *ctx);
/*
 * Who reads a volunteer (docs/crdt.md, "Who reads a volunteer"): the
 * organisation that registered it, and every member a consent in force
 * names (or all members). One call per reader and reason; the recipients an
 * access request must name. KR_ESEALED when this node does not read it.
 */
typedef struct {
  uint8_t node[KR_NODE_LEN];
  int registrar;               /* registered the volunteer */
  const char *purpose;         /* else: the consent's purpose, */
  int all;                     /* given to all members (else to this one), */
  const char *until;           /* in force until this day ("" no end date) */
} kr_reader;
typedef int (*kr_reader_cb)(void *ctx, const kr_reader *r);
int kr_node_readers(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], kr_reader_cb cb,
                    void *ctx);
/* Volunteers this node stopped reading (and deleted what it knew of them). */
typedef struct {
  uint8_t subject[KR_SUBJECT_LEN];
  uint64_t at_ms;
  const char *why;             /* "consent withdrawn", "consent expired", ... */
} kr_access_loss;
typedef int (*kr_access_cb)(void *ctx, const kr_access_loss *l);
int kr_node_access_lost(kr_node *n, kr_access_cb cb, void *ctx);
/* Volunteers held here only sealed (this node may not read them). */
int kr_node_sealed_count(kr_node *n, uint64_t *sealed);
/* The organisation that registered volunteer id (the origin of its
 * registration, known to every node in clear), as its admission names it:
 * the one to ask for consent when id is sealed here. 0 and org (at most
 * cap bytes with the NUL), KR_ENOTFOUND when no registration or member
 * name is known. */
int kr_node_registrar_org(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN], char *org,
                          size_t cap);
/* Sealed groups this node opened whose ops break the field rules (ignored). */
int kr_node_bad_groups(kr_node *n, uint64_t *count);

/* The day consent is read for: the node's clock, local time, YYYY-MM-DD. */
void kr_node_today(kr_node *n, char out[static 11]);

typedef struct {
  int is_grant;
  const char *purpose;
  int all;
  uint8_t recipient[KR_NODE_LEN];
  int method;
  const char *text_version, *until;
  kr_stamp at;                 /* when and by which node */
  uint64_t seq;
} kr_consent_event;
typedef int (*kr_event_cb)(void *ctx, const kr_consent_event *e);
/* The full history of one subject's consent, oldest first. */
int kr_node_consent_history(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN],
                            kr_event_cb cb, void *ctx);

typedef struct {
  uint8_t origin[KR_NODE_LEN];
  uint64_t seq;
  kr_hlc hlc;
  uint32_t nops;
  uint32_t idx;                /* op queries: the op's index */
  int type;                    /* op queries: kr_op_type (REDACTED if payload gone) */
  int field;                   /* op queries: field code, 0 if none */
} kr_change_info;
typedef int (*kr_change_cb)(void *ctx, const kr_change_info *c);
/* Every change held, in arrival order. */
int kr_node_log(kr_node *n, kr_change_cb cb, void *ctx);
/* Every op held on one subject, in stamp order. A sealed group this node
 * reads is reported as the ops in it (idx: their stamp index KR_OP_IDX);
 * one it cannot open, or whose ops it ignored, as the GROUP op itself. */
int kr_node_subject_ops(kr_node *n, const uint8_t id[static KR_SUBJECT_LEN],
                        kr_change_cb cb, void *ctx);

/* BLAKE2b-256 of what every node holds alike, readers or not: the
 * changes (docs/crdt.md, "State digest"). */
int kr_node_digest(kr_node *n, uint8_t out[static 32]);
/* BLAKE2b-256 of the state of the volunteers this node reads
 * (crdt/digest.h): equal on two nodes with the same rights. */
int kr_node_digest_readable(kr_node *n, uint8_t out[static 32]);

/* Counts for status lines. */
int kr_node_counts(kr_node *n, uint64_t *volunteers, uint64_t *erased, uint64_t *changes);

/* SQLite's integrity check of the whole store: 0 when it is sound, else
 * KR_EDAMAGED with its first complaint in msg. */
int kr_node_check(kr_node *n, char *msg, size_t cap);
/* Finish what an erasure left pending because a reader held it up (the
 * WAL checkpoint); never waits. */
void kr_node_tidy(kr_node *n);
/* Checkpoint the WAL into the main file and truncate it. */
int kr_node_checkpoint(kr_node *n);

/* ---- a damaged or read-only store ------------------------------------ */

/* Whether the store was opened read-only (its folder, its file or the
 * disk cannot be written): reads work, every write fails. */
int kr_node_readonly(const kr_node *n);
/*
 * The worst trouble with a store file met in this process so far, even
 * where a caller did not pass the error up: KR_EDAMAGED (SQLite found the
 * file damaged, SQLITE_CORRUPT or SQLITE_NOTADB, or kring found it empty),
 * KR_EREADONLY (a write was refused, or a read-only store cannot be read),
 * or 0. *why (may be NULL) gets the words, SQLite's own or kring's (a
 * static string). Watched through SQLite's error log from the first
 * kr_node_open or kr_node_create on. Process-wide: SQLite's log does not
 * say which connection.
 */
int kr_node_store_error(const char **why);
/* Forget it (tests). */
void kr_node_store_error_clear(void);

#endif
