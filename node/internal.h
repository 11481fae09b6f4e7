/*
 * internal: what node/ files share and nothing above node/ may use: the
 * node struct, the statement cache and the helpers between store.c,
 * apply.c, write.c, query.c and digest.c.
 */
#ifndef KR_NODE_INTERNAL_H
#define KR_NODE_INTERNAL_H

#include <sqlite3.h>

#include "crdt/change.h"
#include "crdt/hlc.h"
#include "node/node.h"

/* Every statement the node runs, prepared once. "field=?2+0" keeps the
 * planner from weighing the partial index fields_city (WHERE field=5)
 * against the bound value, which would make SQLite re-prepare the
 * statement each time the field changes. */
#define KR_SQL_MAP(X)                                                                   \
  X(META_GET,      "SELECT value FROM meta WHERE key=?1")                               \
  X(META_PUT,      "INSERT OR REPLACE INTO meta(key,value) VALUES(?1,?2)")              \
  X(ORIGIN_GET,    "SELECT n, contig FROM origins WHERE key=?1")                        \
  X(ORIGIN_PUT,    "INSERT INTO origins(key) VALUES(?1)")                               \
  X(ORIGIN_CONTIG, "UPDATE origins SET contig=?2 WHERE n=?1")                           \
  X(CHG_HAS,       "SELECT 1 FROM changes WHERE origin=?1 AND seq=?2")                  \
  X(MEMBER_GET,    "SELECT org IS NOT NULL, cutoff FROM members WHERE node=?1")         \
  X(CHG_GET,       "SELECT c.header, c.sig, c.nops, c.n FROM changes c JOIN origins o " \
                   "ON o.n=c.origin WHERE o.key=?1 AND c.seq=?2")                       \
  X(CHG_PUT,       "INSERT INTO changes(origin,seq,hlc,header,sig,nops,arrived,memb) "  \
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")                                   \
  X(CHG_MAXSEQ,    "SELECT max(c.seq) FROM changes c JOIN origins o ON o.n=c.origin "   \
                   "WHERE o.key=?1")                                                    \
  X(OP_PUT,        "INSERT INTO ops(chg,idx,subj,rsubject,type,field,body,hash) "       \
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)")                                   \
  X(OPS_OF,        "SELECT o.idx, coalesce(s.id, o.rsubject), o.body, o.hash, o.type "  \
                   "FROM ops o "                                                        \
                   "LEFT JOIN subjects s ON s.n=o.subj WHERE o.chg=?1 ORDER BY o.idx")  \
  X(SUBJ_PUT,      "INSERT OR IGNORE INTO subjects(id) VALUES(?1)")                     \
  X(SUBJ_N,        "SELECT n FROM subjects WHERE id=?1")                                \
  X(ERASED_GET,    "SELECT e.hlc, o.key, e.idx FROM erasures e JOIN origins o "         \
                   "ON o.n=e.origin WHERE e.subj=?1")                                   \
  X(ERASED_PUT,    "INSERT OR REPLACE INTO erasures(subj,hlc,origin,idx,reason) "       \
                   "VALUES(?1,?2,?3,?4,?5)")                                            \
  X(VS_GET,        "SELECT state FROM vols WHERE subj=?1")                              \
  X(VS_PUT,        "INSERT OR REPLACE INTO vols(subj,name,state) VALUES(?1,?2,?3)")     \
  X(VS_DEL,        "DELETE FROM vols WHERE subj=?1")                                    \
  X(TOMB_PUT,      "INSERT OR IGNORE INTO vtombs(subj,tag,field,value) VALUES(?1,?2,?3,?4)")\
  X(TOMB_DEL,      "DELETE FROM vtombs WHERE subj=?1 AND tag=?2 AND field=?3 AND value=?4")\
  X(TOMB_ALL,      "DELETE FROM vtombs WHERE subj=?1")                                  \
  X(CON_PUT,       "INSERT OR IGNORE INTO consent_ops(subj,purpose,recipient,tag,"      \
                   "is_grant,method,text_version,until,hlc,origin,idx,seq) "            \
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)")                    \
  X(OBS_PUT,       "INSERT OR IGNORE INTO consent_observed(subj,grant_tag,withdraw_tag) "\
                   "VALUES(?1,?2,?3)")                                                  \
  X(CON_WD_TAGS,   "SELECT tag FROM consent_ops WHERE subj=?1 AND purpose=?2 AND "      \
                   "recipient=" RCPT_NO("?3") " AND NOT is_grant ORDER BY tag")         \
  X(HELD_GET,      "SELECT header FROM held WHERE origin=?1 AND seq=?2")                \
  X(GAP_HELD,      "SELECT (SELECT count(*) FROM changes WHERE origin=?1 AND seq>?3 AND "\
                   "seq<?4) + (SELECT count(*) FROM held WHERE origin=?2 AND seq>?3 AND "  \
                   "seq<?4)")                                                           \
  X(HELD_PUT,      "INSERT OR IGNORE INTO held(origin,seq,hlc,header,bytes,arrived) "   \
                   "VALUES(?1,?2,?3,?4,?5,?6)")                                         \
  X(HELD_DEL,      "DELETE FROM held WHERE origin=?1 AND seq=?2")                       \
  X(FTS_DEL,       "INSERT INTO vol_fts(vol_fts,rowid,name,skills,city,notes,languages,"\
                   "availability) VALUES('delete',?1,?2,?3,?4,?5,?6,?7)")               \
  X(FTS_ADD,       "INSERT INTO vol_fts(rowid,name,skills,city,notes,languages,"         \
                   "availability) VALUES(?1,?2,?3,?4,?5,?6,?7)")                         \
  X(SUBJ_NEXT,     "SELECT coalesce(max(n),0)+1 FROM subjects")

enum {
#define KR_SQL_ENUM(name, sql) KR_Q_##name,
  KR_SQL_MAP(KR_SQL_ENUM)
#undef KR_SQL_ENUM
  KR_Q__COUNT
};

/* A list of ids of one length, for one transaction. */
typedef struct {
  uint8_t *id;
  size_t n, cap;
} kr_ids;

struct kr_node {
  uint64_t header_reads;         /* stored changes' headers read (kr__chgctx_get): tests */
  sqlite3 *db;
  sqlite3_stmt *q[KR_Q__COUNT];
  uint8_t *sk;                   /* Ed25519 secret key (KR_SK_LEN), public half at +32:
                                  * sodium_malloc'd, read-only, wiped by kr_node_close */
  int readonly;                  /* the store was opened read-only */
  char org[KR_ORG_MAX + 1];
  char kind[16];
  kr_hlc clock;
  uint64_t (*now_ms)(void *ctx);
  void *now_ctx;
  uint8_t network[KR_NETWORK_LEN]; /* the network this node belongs to */
  uint8_t founder[KR_NODE_LEN];    /* its founder: a member from its first change */
  int need_fts_optimize;         /* an erasure happened: rewrite the FTS index */
  int need_checkpoint;           /* an erasure's checkpoint was held up by a reader */
  int memb_shrank;               /* apply: an admission voided another: take back */
  int last_held;                 /* apply: the last change was held (stamped ahead) */
  sqlite3_int64 cur_origin;      /* apply: origins.n of the change being applied */
  sqlite3_int64 fresh_from;      /* apply: subjects numbered from here on were made for the
                                    change being materialised (0: none is): no other
                                    change holds an op of them */
  int authoring;                 /* kr__author is sealing and applying its own change */
  int grouped;                   /* kr_node_group_begin: txns commit inside one transaction */
  struct { uint8_t id[KR_NODE_LEN]; sqlite3_int64 no; } nodeno[4];  /* access.c node_no: the
                                    last numbers looked up (cleared by a rollback) */
  unsigned nnodeno;
  struct kr_made *made;          /* author: the subjects the change being sealed made (id,
                                    number), sorted by id: its apply looks none up */
  size_t nmade, capmade;
  struct kr_own *own;            /* author: per op place of that change, its group's key
                                    and the ops sealed in it: applied without opening the
                                    box or decoding it again */
  uint32_t nown;
  uint64_t own_seq;              /* author: the seq of that change (own holds nothing
                                    of any other change: a rebuild folds them all) */
  kr_op *own_in;                 /* author: the ops those point into (kr__own_done frees) */
  void *own_rec;                 /* author: the records of that change, and what they
                                    point to (kr__own_done frees) */
  uint8_t *fresh;                /* apply: byte k, what the change did so far to subject
                                    fresh_from+k (KR_FRESH_*) */
  uint64_t fresh_cap;            /* its bytes */
  int keys_me;                   /* apply: the change holds a key entry sealed to this node
                                    (else none of its fresh subjects has a key op to it) */
  int in_order;                  /* apply: refuse a gap in an origin's plain changes */
  kr_ids withheld;               /* apply: subjects with withheld ops, to be erased
                                    by the end of the transaction */
  kr_ids skipped;                /* apply: origins a change was skipped of (withheld) */
  kr_ids touched;                /* apply: subject numbers (int64) whose readers may have
                                    changed: checked by kr__finish */
  kr_ids reopen;                 /* apply: where a key arrived (access.c reopen_at) */
  int memb_changed;              /* apply: a membership op was applied */
  kr_ids replay;                 /* apply: subject numbers to fold again in stamp order */
  kr_ids retry;                  /* apply: subject numbers this node does not read, with
                                    key ops sealed to it, that a withdrawal may make it
                                    read again (access.c) */
  kr_ids issued;                 /* seal: subject numbers a local change made, whose every
                                    reader got its key in that change (kr__finish issues
                                    none) */
  kr_ids cut;                    /* seal: subject numbers some of whose key ops did not fit
                                    in the change */
  int in_replay;                 /* access.c: folding a subject again */
  int in_recover;                /* access.c: recover() opens key ops again (it marks them
                                  * tried when done, not kr__key_op) */
  int in_finish;                 /* kr__finish is running (its own changes) */
  char *home;                    /* the home directory, for a second connection */
  struct { const char *sql; sqlite3_stmt *s; } qs[96]; /* kr__qs's cache */
  struct kr_pair *pairs;         /* access.c: key-op keys shared with other nodes
                                    (sodium_malloc'd, wiped by kr_node_close) */
  struct kr_profile *profile;    /* profile.c: KRING_SQL_PROFILE's figures */
  struct kr_vstate *vs;          /* vstate.c: the volunteer row being merged, decoded */
};

/* KRING_SQL_PROFILE (profile.c): time per statement, printed at close. */
void kr__profile_start(kr_node *n);
void kr__profile_end(kr_node *n);

/* How long a statement waits for another connection's lock. */
#define KR_BUSY_MS 10000

/* The cached statement q, reset and unbound; NULL on error. */
sqlite3_stmt *kr__q(kr_node *n, int q);
/* The same for a static SQL text (cached by its address, prepared on
 * first use): done with it, reset it (never finalize). */
sqlite3_stmt *kr__qs(kr_node *n, const char *sql);
/* A failed SQLite call as a kr_err: KR_EFULL for a full disk, KR_EDAMAGED
 * for a damaged file (also noted for kr_node_store_error), KR_EREADONLY,
 * KR_ENOMEM, else KR_EDB. */
int kr__db_err(int sqlite_rc);
/* Run SQL with no results (0 or kr__db_err's code). */
int kr__exec(kr_node *n, const char *sql);
/* Step s: 1 for a row; 0 when done, or on error with *rc = kr__db_err(...),
 * so that a read loop `while (!rc && kr__step(s, &rc))` passes errors up. */
int kr__step(sqlite3_stmt *s, int *rc);
int kr__meta_get_int(kr_node *n, const char *key, int64_t *v);
int kr__meta_put_int(kr_node *n, const char *key, int64_t v);

int kr__meta_get_blob(kr_node *n, const char *key, void *out, size_t len);
int kr__meta_put_blob(kr_node *n, const char *key, const void *v, size_t len);

/* write.c: sign ops as this node's next change and apply it inside the
 * open transaction; its bytes are appended to wire if not NULL. nonce:
 * the change's (the one its REGISTER ops' subjects derive from:
 * kr_subject_derive), or NULL for a fresh one. */
int kr__author(kr_node *n, const kr_op *ops, uint32_t nops, const uint8_t *nonce, kr_buf *wire);
/* apply.c: apply the held changes this clock has reached (in the open
 * transaction). */
int kr__release_held(kr_node *n);
/* apply.c: after a removal, take back the changes it cuts off. */
int kr__retract(kr_node *n);
/* member.c: a second change under a held (origin, seq): remove the origin. */
int kr__equivocation(kr_node *n, const kr_change *c);
struct kr_own {
  uint8_t has;
  uint8_t key[KR_KEY_LEN];
  const kr_op *ops;
  uint32_t nops;
};

/* A node's number in nodes, in SQL (NULL for a node not there: no row of
 * keyops or vkeys names it), and the id of a number. A comparison with
 * one that may be NULL is written IS or IS NOT. */
/* The number of node id in nodes (keyops, vkeys, consent_ops and
 * registrations name nodes by it), made when make and the node is not
 * there yet: 0, or KR_ENOTFOUND (access.c). */
int kr__node_no(kr_node *n, const uint8_t *id, int make, sqlite3_int64 *no);
#define NODE_NO(p) "(SELECT n FROM nodes WHERE id=" p ")"
#define NODE_ID(c) "(SELECT id FROM nodes WHERE n=" c ")"
/* consent_ops names a register's recipient by its number in nodes, 0 for
 * all; in SQL from its bytes (x'' for all) and back. */
#define RCPT_NO(p) "(CASE WHEN length(" p ")=0 THEN 0 ELSE " NODE_NO(p) " END)"
#define RCPT_ID(c) "(CASE WHEN " c "=0 THEN x'' ELSE " NODE_ID(c) " END)"

/* What the change being applied did so far to a subject made for it
 * (n->fresh): nothing of such a subject was stored before that change. */
enum {
  KR_FRESH_GROUP = 1,            /* a group of it came (access.c stored_before) */
  KR_FRESH_ROW = 2,              /* its row was read (vstate.c: before, there is none) */
  KR_FRESH_REG = 4,              /* this change registered it (so its writer is its registrar) */
};
/* Subject sn's byte of n->fresh, or NULL when sn was not made for the change
 * being applied (access.c). */
uint8_t *kr__fresh(const kr_node *n, sqlite3_int64 sn);

struct kr_made {
  uint8_t id[KR_SUBJECT_LEN];
  sqlite3_int64 sn;
};
/* The number a subject the change being authored made, or 0 (access.c). */
sqlite3_int64 kr__made(const kr_node *n, const uint8_t id[KR_SUBJECT_LEN]);
/* Forget what sealing told the apply of its own change (access.c). */
void kr__own_done(kr_node *n);
/* A group of sn is being materialised (access.c). */
void kr__group_seen(kr_node *n, sqlite3_int64 sn);
/* The number the next new subject gets. */
int kr__subject_next(kr_node *n, sqlite3_int64 *sn);
/* write.c: add an op in clear: membership or purpose (strings copied). */
int kr__txn_member_op(kr_txn *t, const kr_op *op);
/* member.c: commit this node's FOUND change (a new network). */
int kr__found(kr_node *n);
/* member.c: may this change's origin make it (KR_ENOTMEMBER, KR_ENETWORK)? */
int kr__member_check(kr_node *n, const kr_change *c);
/* member.c: fold one FOUND, ADMIT or EXPEL op into the members table. */
int kr__member_apply(kr_node *n, const kr_op *op, const kr_stamp *st);
/* purpose.c: add the starting list of purposes to a founding txn; fold
 * one PURPOSE op into the purposes table (last writer wins). */
int kr__purposes_start(kr_txn *t);
int kr__purpose_apply(kr_node *n, const kr_op *op, const kr_stamp *st);

/* Apply one decoded and verified change inside an open transaction. */
int kr__apply_change(kr_node *n, const kr_change *c, int *fresh);
/* After a committed transaction: housekeeping an erasure asks for. */
void kr__after_commit(kr_node *n);

/* Read a stamp from columns col (hlc), col+1 (origin key, bin 32) and
 * col+2 (op index) of a result row. */
void kr__read_stamp(sqlite3_stmt *s, int col, kr_stamp *st);

/* The number of a subject id in this store: 0 or KR_ENOTFOUND. */
int kr__subject_n(kr_node *n, const uint8_t id[KR_SUBJECT_LEN], sqlite3_int64 *sn);
/* The id of subject number sn into id: 0, KR_ENOTFOUND (no such row), or
 * an error of the store. */
int kr__subject_id(kr_node *n, sqlite3_int64 sn, uint8_t id[KR_SUBJECT_LEN]);
/* 1 when subject number sn is erased (marker in *m if m), 0 if not, <0 error. */
int kr__erased(kr_node *n, sqlite3_int64 sn, kr_stamp *m);

/* query.c: the grant in force of one register (rlen 0: "all"). */
int kr__consent_in_force(kr_node *n, sqlite3_int64 sn, const char *purpose, const void *rcpt,
                         int rlen, const char *day, kr_consent_state *state, uint8_t tag[16],
                         int *has);

/* vstate.c: one row of values per volunteer (vols), merged in C. */
typedef struct {
  char *value;                   /* NULL: cleared */
  int set;                       /* a write of the field was seen */
  kr_hlc hlc;                    /* the stamp of that write: hlc, */
  sqlite3_int64 origin;          /*   origins.n, */
  uint32_t idx;                  /*   op index */
} kr_vfield;
typedef struct {
  uint8_t field;
  uint8_t state;                 /* 1 live, 2 removed */
  uint8_t tag[KR_TAG_LEN];
  char *value;
} kr_velem;
typedef struct kr_vstate {
  sqlite3_int64 sn;
  int dirty;                     /* changed here, not yet written */
  int stored;                    /* its row (and full-text entry) is in the store */
  uint32_t ntombs;               /* its rows in vtombs (removes before their add) */
  kr_vfield f[32];               /* single-valued fields by code */
  kr_velem *e;                   /* set elements */
  size_t ne, cap;
  uint32_t *ix;                  /* past a few elements: slots of e (+1) by a keyed
                                    hash of the tag (open addressing) */
  size_t ixcap;
  char *fts_old;                 /* a stored row changed: its full-text columns as the
                                    index holds them (vstate.c fts_cols), to delete */
  size_t fts_old_len;
} kr_vstate;
/* A set field's column of the full-text index holds at most this many
 * bytes of its values, then the word KR_FTS_MORE (vstate.c, query.c). */
#define KR_FTS_COL_MAX (64u << 10)
#define KR_FTS_MORE "krmeerwaarden"
/* The state of sn to change (kept in n->vs until commit or another
 * subject); to read (n->vs if it is sn, else a copy: kr__vs_done). */
int kr__vs_get(kr_node *n, sqlite3_int64 sn, kr_vstate **out);
int kr__vs_read(kr_node *n, sqlite3_int64 sn, kr_vstate **out);
void kr__vs_done(kr_node *n, kr_vstate *v);
void kr__vs_free(kr_vstate *v);
/* Write n->vs and its full-text entry if it changed (before COMMIT);
 * drop it (ROLLBACK). */
int kr__vs_flush(kr_node *n);
void kr__vs_drop(kr_node *n);
/* Delete sn's row (and n->vs if it is sn). */
int kr__vs_forget(kr_node *n, sqlite3_int64 sn);
/* Fill the (empty) full-text index from every row of vols (store.c
 * fts_layout). */
int kr__vs_fts_refill(kr_node *n);
/* The merge rules (n->cur_origin is the origin of st). */
int kr__vs_set(kr_node *n, kr_vstate *v, const kr_op *op, const kr_stamp *st);
int kr__vs_add(kr_node *n, kr_vstate *v, const kr_op *op, const uint8_t tag[KR_TAG_LEN]);
int kr__vs_remove(kr_node *n, kr_vstate *v, const kr_op *op);
/* The stamp of single field `field`; KR_ENOTFOUND if never written. */
int kr__vs_stamp(kr_node *n, const kr_vstate *v, int field, kr_stamp *st);
/* The live values of set field `field`, distinct, in byte order (the
 * array is malloc'd, the strings belong to v). */
int kr__vs_values(const kr_vstate *v, int field, char ***out, size_t *count);
/* The tags of the live adds of value (malloc'd, sorted). */
int kr__vs_tags(const kr_vstate *v, int field, const char *value, uint8_t **tags,
                uint32_t *count);
/* The values of sn into out (strings malloc'd: kr_volunteer_free). */
int kr__vs_values_into(kr_node *n, sqlite3_int64 sn, kr_values *out);
/* 1 when field holds value (ASCII case folded, as COLLATE NOCASE), over a
 * row's bytes as stored (KR_EDB if they do not parse). */
int kr__vs_row_has(const void *row, size_t len, int field, const char *value);
/* The SQL function kr_vs_has(state, field, value) on n's connection. */
int kr__vs_sql_functions(kr_node *n);

/* apply.c: fold one op into the state (the merge rules). */
int kr__apply_op(kr_node *n, sqlite3_int64 sn, const kr_op *op, const kr_stamp *st,
                 const uint8_t tag[KR_TAG_LEN], uint64_t seq);
/* Delete what is materialised of subject sn in plain text (fields, sets,
 * consent, full-text entry); erasure, a loss of access and a replay start
 * here. */
int kr__forget_plain(kr_node *n, sqlite3_int64 sn);

/* access.c (docs/crdt.md, "Who reads a volunteer") */
int kr__ids_add(kr_ids *l, const void *id, size_t len);
/* Mark subject number sn for the end-of-transaction access work. */
int kr__touch(kr_node *n, sqlite3_int64 sn);
/* 1 when this node holds a key of subject number sn (reads it). */
int kr__readable(kr_node *n, sqlite3_int64 sn);
/* kr__subject_n for a volunteer this node reads or knows erased; else
 * KR_ESEALED. */
int kr__subject_read(kr_node *n, const uint8_t id[KR_SUBJECT_LEN], sqlite3_int64 *sn);
/* What opening and parsing the ops of one stored change needs: its nonce
 * and its node table (its header's). A loop over stored ops keeps one and
 * reads a change's header once, not once per op (a table may hold 4096
 * ids). chg 0: none held. */
typedef struct {
  sqlite3_int64 chg;
  uint8_t nonce[KR_NONCE_LEN];
  kr_nodes t;
  void *mem;                     /* owns t, or NULL (t is the applied change's own) */
} kr_chgctx;
/* x for change number chg: kept as it is when it holds chg already. */
int kr__chgctx_get(kr_node *n, kr_chgctx *x, sqlite3_int64 chg);
void kr__chgctx_free(kr_chgctx *x);
/* kr_op_parse of an op of stored change number chg on subject number sn
 * (a registering record's subject is the store's), with x (kr__chgctx_get). */
int kr__op_parse_at(kr_node *n, kr_chgctx *x, sqlite3_int64 chg, sqlite3_int64 sn,
                    const void *body, int len, kr_op *op, void **mem);
/* The field column of a record's row in ops: KR_REC_BOX when it holds a
 * box, KR_REC_KEYS when key entries (a withheld record: both, unknown). */
#define KR_REC_BOX  1
#define KR_REC_KEYS 2
static inline int kr__record_flags(const kr_op *op)
{
  if (op->type == KR_OP_REDACTED) return KR_REC_BOX | KR_REC_KEYS;
  return (op->box ? KR_REC_BOX : 0) | (op->nkeys ? KR_REC_KEYS : 0);
}
/* Open group g (at place of change chg = (origin, seq, hlc)) with the keys
 * held, and fold its ops in (n->cur_origin set). *opened: 1 if it was. A
 * box whose ops break the rules is noted in bad_groups and ignored. */
int kr__group_apply(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, kr_chgctx *x,
                    const uint8_t origin[static KR_NODE_LEN], uint64_t seq, kr_hlc hlc,
                    uint32_t place, const kr_op *g, int *opened);
/* A key op of origin (at place of change chg): noted for everyone; opened
 * and kept when sealed to this node (trusted when origin made the epoch). */
int kr__key_op(kr_node *n, sqlite3_int64 sn, const kr_op *op, const uint8_t *origin, kr_hlc hlc,
               sqlite3_int64 chg, kr_chgctx *x, uint32_t place);
/* A registration: the earliest counts. kr__registered also folds sn again
 * if groups of it stamped later were decided before it came. */
int kr__register_op(kr_node *n, sqlite3_int64 sn, const kr_stamp *st);
int kr__registered(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, const kr_stamp *st);
/* A withdrawal (in clear): folded in where this node reads sn and its
 * writer read sn at its stamp. */
int kr__withdrawal(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, const kr_op *op,
                   const kr_stamp *st, const uint8_t tag[KR_TAG_LEN], uint64_t seq);
/* Build this node's change seq of ops (volunteer ops grouped and sealed,
 * key ops added, all that it says of one volunteer and epoch packed into
 * one record) into out, under nonce (NULL: a fresh one; REGISTER ops need
 * the one their subjects derive from, in their order). Stores the keys of
 * new epochs and the rows of new subjects (inside the caller's
 * transaction). cv (or NULL): the change as its decoder would give it
 * (kr_change_build_view), valid until kr__own_done. */
int kr__seal_change(kr_node *n, uint64_t seq, kr_hlc hlc, const uint8_t *nonce, const kr_op *ops,
                    uint32_t nops, kr_buf *out, kr_change *cv);
/* End of a transaction that applied changes: open what new keys open,
 * forget what this node may no longer read, seal keys to readers that lack
 * them (in changes of its own). */
int kr__finish(kr_node *n, kr_buf *wire);
/* Grants to this node (or all) that expired before today on volunteers it
 * still holds keys of: 1 if any (touched when touch), 0, or an error. */
int kr__expiry_due(kr_node *n, int touch);

/* query.c: 1 in *granted when the register (rlen 0: "all") had a grant in
 * force just before stamp hlc `before` (its entries stamped earlier, read
 * on that day, UTC). */
int kr__consent_granted_before(kr_node *n, sqlite3_int64 sn, const char *purpose,
                               const void *rcpt, int rlen, kr_hlc before, int *granted);

/* validate.c */
/* Every op passes the field rules (kr_op_values_ok), years of birth up to
 * the year of hlc. own: ops this node's txn made, sealed and applies now:
 * one whose value the txn found in normal form (kr_op.normal) is not
 * normalised again. */
int kr__ops_rules(const kr_op *ops, uint32_t nops, kr_hlc hlc, int own, const char **why);
int kr__normalise(int field, const char *in, char *out, size_t cap,
                  int this_year, const char **why);
int kr__has_bsn(const char *s);
/* Every op of c passes the field rules (kr_op_values_ok), years of birth up
 * to the year of c's stamp. */
int kr__change_rules(const kr_change *c, const char **why);

#endif
