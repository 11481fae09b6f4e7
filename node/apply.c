/*
 * apply: the one path by which a change enters the store, local or remote.
 * The change has been decoded and verified (crdt/change.c); here it is
 * checked against what the store holds (duplicate, equivocation), stored,
 * and folded into the materialised tables by the rules of crdt/merge.h:
 *
 *   fields       LWW winner per (subject, field), with its stamp
 *   set_adds     every add, live while no remove has observed its tag
 *   set_removed  every (tag, element) a remove observed, even before the add
 *   consent_ops  every grant and withdrawal: the register and its history
 *   erasures     the absorbing marker; the subject's data is purged
 *   vol_fts      full-text index over name, skills, city, notes
 *   members      the network's members (member.c)
 *   purposes     the network's consent purposes, LWW per name (purpose.c)
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/err.h"
#include "crdt/merge.h"
#include "node/internal.h"

static int step_done(sqlite3_stmt *s)
{
  int rc = sqlite3_step(s);
  return rc == SQLITE_DONE ? 0 : kr__db_err(rc);
}
#define STEP_DONE(s) step_done(s)

/* A stamp of the change being applied: its origin is n->cur_origin. */
static void bind_stamp(kr_node *n, sqlite3_stmt *s, int col, const kr_stamp *st)
{
  sqlite3_bind_int64(s, col, (sqlite3_int64)st->hlc);
  sqlite3_bind_int64(s, col + 1, n->cur_origin);
  sqlite3_bind_int64(s, col + 2, st->idx);
}

void kr__read_stamp(sqlite3_stmt *s, int col, kr_stamp *st)
{
  const void *o = sqlite3_column_blob(s, col + 1);
  st->hlc = (kr_hlc)sqlite3_column_int64(s, col);
  memset(st->origin, 0, KR_NODE_LEN);
  if (o && sqlite3_column_bytes(s, col + 1) == KR_NODE_LEN)
    memcpy(st->origin, o, KR_NODE_LEN);
  st->idx = (uint32_t)sqlite3_column_int64(s, col + 2);
}

int kr__subject_n(kr_node *n, const uint8_t id[KR_SUBJECT_LEN], sqlite3_int64 *sn)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_SUBJ_N);
  int rc;

  if (!s) return KR_EDB;
  sqlite3_bind_blob(s, 1, id, KR_SUBJECT_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *sn = sqlite3_column_int64(s, 0);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? KR_ENOTFOUND : KR_EDB;
  }
  sqlite3_reset(s);
  return rc;
}

int kr__subject_id(kr_node *n, sqlite3_int64 sn, uint8_t id[KR_SUBJECT_LEN])
{
  sqlite3_stmt *s = kr__qs(n, "SELECT id FROM subjects WHERE n=?1");
  int rc;

  if (!s) return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == KR_SUBJECT_LEN) {
    memcpy(id, sqlite3_column_blob(s, 0), KR_SUBJECT_LEN);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? KR_ENOTFOUND : rc == SQLITE_ROW ? KR_EDB : kr__db_err(rc);
  }
  sqlite3_reset(s);
  return rc;
}

int kr__subject_next(kr_node *n, sqlite3_int64 *sn)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_SUBJ_NEXT);
  int rc;

  if (!s) return KR_EDB;
  rc = sqlite3_step(s);
  *sn = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  return rc == SQLITE_ROW ? 0 : kr__db_err(rc);
}

int kr__erased(kr_node *n, sqlite3_int64 sn, kr_stamp *m)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_ERASED_GET);
  int rc;

  if (!s) return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    if (m) kr__read_stamp(s, 0, m);
    rc = 1;
  } else {
    rc = rc == SQLITE_DONE ? 0 : KR_EDB;
  }
  sqlite3_reset(s);
  return rc;
}

/* Run each statement of sql (one parameter: the subject number). */
static int run_each(kr_node *n, const char *const *sql, size_t count, sqlite3_int64 sn)
{
  for (size_t i = 0; i < count; i++) {
    sqlite3_stmt *s;
    int rc;
    if (sqlite3_prepare_v2(n->db, sql[i], -1, &s, NULL) != SQLITE_OK) return KR_EDB;
    sqlite3_bind_int64(s, 1, sn);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return kr__db_err(rc);
  }
  return 0;
}

int kr__forget_plain(kr_node *n, sqlite3_int64 sn)
{
  static const char *const sql[] = {
    "DELETE FROM consent_observed WHERE subj=?1",
    "DELETE FROM consent_ops WHERE subj=?1",
  };
  int rc = kr__vs_forget(n, sn);
  if (!rc) rc = run_each(n, sql, sizeof sql / sizeof sql[0], sn);
  if (!rc) n->need_fts_optimize = 1;
  return rc;
}

int kr__chgctx_get(kr_node *n, kr_chgctx *x, sqlite3_int64 chg)
{
  sqlite3_stmt *s;
  int rc;

  if (x->chg == chg && chg) return 0;
  kr__chgctx_free(x);
  n->header_reads++;
  if (!(s = kr__qs(n, "SELECT header FROM changes WHERE n=?1"))) return KR_EDB;
  sqlite3_bind_int64(s, 1, chg);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    rc = kr_change_header_ctx(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                              x->nonce, &x->t, &x->mem);
    if (rc == KR_EMALFORMED) rc = KR_EDB;       /* the store's own bytes */
  } else {
    rc = rc == SQLITE_DONE ? KR_ENOTFOUND : kr__db_err(rc);
  }
  sqlite3_reset(s);
  if (!rc) x->chg = chg;
  return rc;
}

void kr__chgctx_free(kr_chgctx *x)
{
  free(x->mem);
  memset(x, 0, sizeof *x);
}

int kr__op_parse_at(kr_node *n, kr_chgctx *x, sqlite3_int64 chg, sqlite3_int64 sn,
                    const void *body, int len, kr_op *op, void **mem)
{
  int rc;

  *mem = NULL;
  if (len < 0) return KR_EDB;
  if ((rc = kr__chgctx_get(n, x, chg))) return rc;
  /* op holds copies of its ids */
  if ((rc = kr_op_parse(body, (size_t)len, &x->t, op, mem))) return rc;
  if (op->type != KR_OP_REGREC) return 0;
  /* a registering record names no subject (it is derived): the store's */
  if ((rc = kr__subject_id(n, sn, op->subject))) {
    rc = KR_EDB;                       /* its op's row names it: the store's own bytes */
    free(*mem);
    *mem = NULL;
  }
  return rc;
}

/* Every op on sn but its erasure kept as its hash alone: the root of its
 * change needs the hash when the change is sent on with the op withheld. */
static int withhold_ops(kr_node *n, sqlite3_int64 sn)
{
  sqlite3_stmt *s, *u;
  int rc = 0;

  if (!(s = kr__qs(n, "SELECT chg, idx, body FROM ops WHERE subj=?1 AND type IN (5,14,15) AND"
                      " body IS NOT NULL")))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  while (!rc && kr__step(s, &rc)) {
    uint8_t h[KR_HASH_LEN];
    crypto_generichash(h, sizeof h, sqlite3_column_blob(s, 2),
                       (unsigned long long)sqlite3_column_bytes(s, 2), NULL, 0);
    if (!(u = kr__qs(n, "UPDATE ops SET body=NULL, hash=?3 WHERE chg=?1 AND idx=?2"))) {
      rc = KR_EDB;
      break;
    }
    sqlite3_bind_int64(u, 1, sqlite3_column_int64(s, 0));
    sqlite3_bind_int64(u, 2, sqlite3_column_int64(s, 1));
    sqlite3_bind_blob(u, 3, h, KR_HASH_LEN, SQLITE_TRANSIENT);
    rc = STEP_DONE(u);
  }
  sqlite3_reset(s);
  return rc;
}

static int purge_subject(kr_node *n, sqlite3_int64 sn)
{
  static const char *const sql[] = {
    "DELETE FROM bad_groups WHERE chg IN (SELECT chg FROM ops WHERE subj=?1)",
    "DELETE FROM vkeys WHERE subj=?1",
  };
  int rc = kr__forget_plain(n, sn);
  if (!rc) rc = run_each(n, sql, sizeof sql / sizeof sql[0], sn);
  return rc ? rc : withhold_ops(n, sn);
}

/* SET, ADD, REMOVE: into the volunteer's row (vstate.c). */
static int apply_value(kr_node *n, sqlite3_int64 sn, const kr_op *op, const kr_stamp *st,
                       const uint8_t tag[KR_TAG_LEN])
{
  kr_vstate *v;
  int rc = kr__vs_get(n, sn, &v);
  if (rc) return rc;
  switch (op->type) {
  case KR_OP_SET: return kr__vs_set(n, v, op, st);
  case KR_OP_ADD: return kr__vs_add(n, v, op, tag);
  default: return kr__vs_remove(n, v, op);
  }
}

static int apply_consent(kr_node *n, sqlite3_int64 sn, const kr_op *op, const kr_stamp *st,
                         const uint8_t tag[KR_TAG_LEN], uint64_t seq)
{
  sqlite3_stmt *s;
  sqlite3_int64 rno = 0;                 /* all */
  int rc;

  if (!op->recipient_all && (rc = kr__node_no(n, op->recipient, 1, &rno))) return rc;
  if (!(s = kr__q(n, KR_Q_CON_PUT))) return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  sqlite3_bind_text(s, 2, op->purpose, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, rno);
  sqlite3_bind_blob(s, 4, tag, KR_TAG_LEN, SQLITE_STATIC);
  sqlite3_bind_int(s, 5, op->type == KR_OP_GRANT);
  sqlite3_bind_int(s, 6, op->method);
  sqlite3_bind_text(s, 7, op->text_version, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 8, op->type == KR_OP_GRANT ? op->until : "", -1, SQLITE_STATIC);
  bind_stamp(n, s, 9, st);
  sqlite3_bind_int64(s, 12, (sqlite3_int64)seq);
  if ((rc = STEP_DONE(s))) return rc;
  for (uint32_t i = 0; op->type == KR_OP_GRANT && i < op->ntags; i++) {
    if (!(s = kr__q(n, KR_Q_OBS_PUT))) return KR_EDB;
    sqlite3_bind_int64(s, 1, sn);
    sqlite3_bind_blob(s, 2, tag, KR_TAG_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, op->tags + (size_t)i * KR_TAG_LEN, KR_TAG_LEN, SQLITE_STATIC);
    if ((rc = STEP_DONE(s))) return rc;
  }
  return 0;
}

static int apply_erase(kr_node *n, sqlite3_int64 sn, const kr_op *op, const kr_stamp *st)
{
  kr_stamp cur;
  sqlite3_stmt *s;
  int was = kr__erased(n, sn, &cur), rc;

  if (was < 0) return was;
  if (was && kr_stamp_cmp(st, &cur) >= 0) return 0; /* the earliest erasure is the marker */
  if (!(s = kr__q(n, KR_Q_ERASED_PUT))) return KR_EDB;
  sqlite3_bind_int64(s, 1, sn);
  bind_stamp(n, s, 2, st);
  sqlite3_bind_text(s, 5, op->value, -1, SQLITE_STATIC);
  if ((rc = STEP_DONE(s))) return rc;
  return was ? 0 : purge_subject(n, sn);
}

/* Fold one op into the state (the merge rules of docs/crdt.md). */
int kr__apply_op(kr_node *n, sqlite3_int64 sn, const kr_op *op, const kr_stamp *st,
                 const uint8_t tag[KR_TAG_LEN], uint64_t seq)
{
  switch (op->type) {
  case KR_OP_SET:
  case KR_OP_ADD:
  case KR_OP_REMOVE: return apply_value(n, sn, op, st, tag);
  case KR_OP_GRANT:
  case KR_OP_WITHDRAW: return apply_consent(n, sn, op, st, tag, seq);
  case KR_OP_ERASE: return apply_erase(n, sn, op, st);
  case KR_OP_FOUND:
  case KR_OP_ADMIT:
  case KR_OP_EXPEL: n->memb_changed = 1; return kr__member_apply(n, op, st);
  case KR_OP_REGISTER: return kr__register_op(n, sn, st);
  case KR_OP_PURPOSE: return kr__purpose_apply(n, op, st);
  default: return KR_EUNKNOWN;
  }
}

/* The origin's contiguous prefix after storing seq: it grows while the
 * next seq is held (changes may arrive out of order). */
static int advance_contig(kr_node *n, uint64_t contig, uint64_t seq)
{
  uint64_t c = contig;
  sqlite3_stmt *s;

  if (seq <= contig) return 0;
  for (;;) {
    int rc;
    if (!(s = kr__q(n, KR_Q_CHG_HAS))) return KR_EDB;
    sqlite3_bind_int64(s, 1, n->cur_origin);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(c + 1));
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return KR_EDB;
    c++;
  }
  if (c == contig) return 0;
  if (!(s = kr__q(n, KR_Q_ORIGIN_CONTIG))) return KR_EDB;
  sqlite3_bind_int64(s, 1, n->cur_origin);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)c);
  return STEP_DONE(s);
}

#define ids_add kr__ids_add

static int ids_has(const kr_ids *l, const uint8_t *id, size_t len)
{
  for (size_t i = 0; i < l->n; i++)
    if (memcmp(l->id + i * len, id, len) == 0) return 1;
  return 0;
}

/* Start of a transaction that applies changes. */
static void txn_start(kr_node *n)
{
  n->withheld.n = 0;
  n->skipped.n = 0;
  n->touched.n = 0;
  n->reopen.n = 0;
  n->replay.n = 0;
  n->retry.n = 0;
  n->issued.n = 0;
  n->cut.n = 0;
  n->memb_changed = 0;
}

/* 1 when the subject is erased here. */
static int erased_here(kr_node *n, const uint8_t subject[KR_SUBJECT_LEN])
{
  sqlite3_int64 sn;
  int rc = kr__subject_n(n, subject, &sn);
  if (rc) return rc == KR_ENOTFOUND ? 0 : rc;
  return kr__erased(n, sn, NULL);
}

/*
 * Withheld ops. A change whose sender had erased a volunteer comes with
 * those ops withheld (only their hashes). That is right only where the
 * volunteer is erased too: anywhere else the withheld values would be
 * missing for good. Changes that erase travel first (kr_lacks), so when a
 * change that is not itself sent first (memb 0) arrives, an erasure that
 * counts here has been applied already: if the subject is not erased, the
 * sender's erasure does not count here (a removed node's late change),
 * and the change is skipped (KR_EREDACTED) like a non-member's, with the
 * rest of its origin in this transaction; the sender takes the erasure
 * back once it learns the removal, erases again itself, and the change
 * comes again (docs/crdt.md). Changes sent first may come before the
 * erasure that redacted them (they are ordered by clock): their subjects
 * are checked when the transaction ends (withheld_ok), and the whole
 * transaction is refused if one is not erased by then.
 */
static int check_withheld(kr_node *n, const kr_change *c, int memb)
{
  for (uint32_t i = 0; i < c->nops; i++) {
    int rc;
    if (c->ops[i].type != KR_OP_REDACTED) continue;
    if (memb) {
      if ((rc = ids_add(&n->withheld, c->ops[i].subject, KR_SUBJECT_LEN))) return rc;
      continue;
    }
    if ((rc = erased_here(n, c->ops[i].subject)) < 0) return rc;
    if (!rc) {
      if ((rc = ids_add(&n->skipped, c->origin, KR_NODE_LEN))) return rc;
      return KR_EREDACTED;
    }
  }
  return 0;
}

static int withheld_ok(kr_node *n)
{
  int rc = 0;
  for (size_t i = 0; i < n->withheld.n && !rc; i++)
    if ((rc = erased_here(n, n->withheld.id + i * KR_SUBJECT_LEN)) >= 0) rc = rc ? 0 : KR_EREDACTED;
  n->withheld.n = 0;
  return rc;
}

/* Step 1, known: 0 for a change not held, 1 for one held already (the same
 * header bytes: a duplicate), or what an equivocation makes of it (other
 * bytes under the same (origin, seq): the origin signed two histories).
 * Held means stored, or kept aside until this clock reaches it. */
static int known(kr_node *n, const kr_change *c)
{
  static const int q[2] = {KR_Q_CHG_GET, KR_Q_HELD_GET};
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *s = kr__q(n, q[k]);
    int rc, same;
    if (!s) return KR_EDB;
    sqlite3_bind_blob(s, 1, c->origin, KR_NODE_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)c->seq);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) { sqlite3_reset(s); continue; }
    if (rc != SQLITE_ROW) { sqlite3_reset(s); return KR_EDB; }
    same = (size_t)sqlite3_column_bytes(s, 0) == c->header_len &&
           memcmp(sqlite3_column_blob(s, 0), c->header, c->header_len) == 0;
    sqlite3_reset(s);
    return same ? 1 : kr__equivocation(n, c);
  }
  return 0;
}

/* Step 2, admit: only members make changes, and only up to their removal;
 * every value passes the rules a local edit passes. */
static int admit(kr_node *n, const kr_change *c)
{
  int rc = kr__member_check(n, c);
  return rc ? rc : kr__change_rules(c, NULL);
}

/* 1 when c's stamp may decide something: it holds an op other than an
 * erasure or a membership op. Those two never decide by a late stamp
 * (erasure is absorbing; of admissions and removals the earliest counts)
 * and are never withheld, so every node decides alike, whatever version
 * of c it received. */
static int stamp_matters(const kr_change *c)
{
  for (uint32_t i = 0; i < c->nops; i++)
    if (c->ops[i].type != KR_OP_ERASE && !KR_OP_IS_MEMBERSHIP(c->ops[i].type)) return 1;
  return 0;
}

/*
 * Step 3, hold: a change stamped more than KR_HLC_MAX_SKEW_MS ahead of
 * this clock would win every field it sets until the clock catches up,
 * so it is kept aside (table held), not applied and not refused, and
 * applied when this clock reaches it (kr__release_held). Only its own
 * stamp decides, so that every node decides alike in whatever order the
 * changes come (an honest origin's later changes are stamped later, and
 * held by their own stamps). A change of erasures and membership ops only
 * is applied: its stamp decides nothing, and an erasure must reach every
 * node now. This node's own changes are never held. Returns 1 when held.
 */
static int hold(kr_node *n, const kr_change *c)
{
  sqlite3_stmt *s;
  kr_buf b;
  uint8_t (*subj)[KR_SUBJECT_LEN];
  int rc;

  if (memcmp(c->origin, kr_node_id(n), KR_NODE_LEN) == 0 || !stamp_matters(c) ||
      kr_hlc_ms(c->hlc) <= kr_node_now_ms(n) + KR_HLC_MAX_SKEW_MS)
    return 0;
  if (!(subj = malloc(((size_t)c->nops ? c->nops : 1) * KR_SUBJECT_LEN))) return KR_ENOMEM;
  for (uint32_t i = 0; i < c->nops; i++) memcpy(subj[i], c->ops[i].subject, KR_SUBJECT_LEN);
  kr_buf_init(&b, KR_CHANGE_MAX);
  if ((rc = kr_change_assemble(c->header, c->header_len, c->sig, c->nops,
                               (const uint8_t *const *)c->op_bytes, c->op_len,
                               (const uint8_t (*)[KR_SUBJECT_LEN])subj, c->types,
                               (const uint8_t (*)[KR_HASH_LEN])c->hashes, &b)) == 0) {
    if (!(s = kr__q(n, KR_Q_HELD_PUT))) {
      rc = KR_EDB;
    } else {
      sqlite3_bind_blob(s, 1, c->origin, KR_NODE_LEN, SQLITE_STATIC);
      sqlite3_bind_int64(s, 2, (sqlite3_int64)c->seq);
      sqlite3_bind_int64(s, 3, (sqlite3_int64)c->hlc);
      sqlite3_bind_blob(s, 4, c->header, (int)c->header_len, SQLITE_STATIC);
      sqlite3_bind_blob(s, 5, b.data, (int)b.len, SQLITE_STATIC);
      sqlite3_bind_int64(s, 6, (sqlite3_int64)kr_node_now_ms(n));
      rc = STEP_DONE(s);
    }
  }
  kr_buf_free(&b);
  free(subj);
  return rc ? rc : 1;
}

/* In a session, a change without membership ops or erasures must follow
 * what this node holds of its origin: every seq between its vector entry
 * and it stored (beyond a gap, from a bundle) or held aside. Else the
 * change is skipped, with the rest of its origin in this transaction (the
 * sender holds it past a gap of its own; it comes again). */
static int gap(kr_node *n, const kr_change *c, uint64_t contig)
{
  sqlite3_stmt *s;
  int64_t have;
  int rc;

  if (c->seq <= contig + 1) return 0;
  if (!(s = kr__q(n, KR_Q_GAP_HELD))) return KR_EDB;
  sqlite3_bind_int64(s, 1, n->cur_origin);
  sqlite3_bind_blob(s, 2, c->origin, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)contig);
  sqlite3_bind_int64(s, 4, (sqlite3_int64)c->seq);
  rc = sqlite3_step(s);
  have = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_reset(s);
  if (have < 0) return KR_EDB;
  if ((uint64_t)have == c->seq - contig - 1) return 0;
  if ((rc = ids_add(&n->skipped, c->origin, KR_NODE_LEN))) return rc;
  return KR_EGAP;
}

/* Step 4, place: the origin's number (new or known), the gap rule for
 * changes sent in order, the change row and the origin's vector entry.
 * *chg receives the change's row number. */
static int place(kr_node *n, const kr_change *c, int memb, sqlite3_int64 *chg)
{
  sqlite3_stmt *s;
  uint64_t contig = 0;
  int rc;

  if (!(s = kr__q(n, KR_Q_ORIGIN_GET))) return KR_EDB;
  sqlite3_bind_blob(s, 1, c->origin, KR_NODE_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    n->cur_origin = sqlite3_column_int64(s, 0);
    contig = (uint64_t)sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    /* Changes sent first (membership, erasure) may come ahead of their
     * origin's prefix; others must follow it. */
    if (n->in_order && !memb && (rc = gap(n, c, contig))) return rc;
  } else {
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return KR_EDB;
    if (n->in_order && !memb && c->seq > 1) {
      int held;
      n->cur_origin = 0;                /* no stored change of it */
      if ((held = gap(n, c, 0))) return held;
    }
    if (!(s = kr__q(n, KR_Q_ORIGIN_PUT))) return KR_EDB;
    sqlite3_bind_blob(s, 1, c->origin, KR_NODE_LEN, SQLITE_STATIC);
    if ((rc = STEP_DONE(s))) return rc;
    n->cur_origin = sqlite3_last_insert_rowid(n->db);
  }
  if (!(s = kr__q(n, KR_Q_CHG_PUT))) return KR_EDB;
  sqlite3_bind_int64(s, 1, n->cur_origin);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)c->seq);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)c->hlc);
  sqlite3_bind_blob(s, 4, c->header, (int)c->header_len, SQLITE_STATIC);
  sqlite3_bind_blob(s, 5, c->sig, KR_SIG_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 6, c->nops);
  sqlite3_bind_int64(s, 7, (sqlite3_int64)kr_node_now_ms(n));
  sqlite3_bind_int(s, 8, memb);
  if ((rc = STEP_DONE(s))) return rc;
  *chg = sqlite3_last_insert_rowid(n->db);
  return advance_contig(n, contig, c->seq);
}

/* A record's parts in their order (docs/protocol.md, "Records"): its
 * registration, its key entries, then its box; the record at place of
 * stored change chg (x: its header), seq and stamp st that change's. */
static int apply_record(kr_node *n, sqlite3_int64 sn, sqlite3_int64 chg, kr_chgctx *x,
                        const kr_op *r, const kr_stamp *st, uint64_t seq, uint32_t place)
{
  kr_op part;
  int rc = 0, opened;

  if (r->type == KR_OP_REGREC && (rc = kr__registered(n, sn, chg, st))) return rc;
  for (uint32_t k = 0; k < r->nkeys && !rc; k++) {
    kr_record_key(r, k, &part);
    rc = kr__key_op(n, sn, &part, st->origin, st->hlc, chg, x, place);
  }
  if (rc || !kr_record_group(r, &part)) return rc;
  kr__group_seen(n, sn);           /* (a change being applied only: stored_before) */
  return kr__group_apply(n, sn, chg, x, st->origin, seq, st->hlc, place, &part, &opened);
}

/* Step 5, materialise: store each op (its bytes, or its hash alone where
 * the subject is erased) and fold it into the state (a volunteer's row
 * and full-text entry are written once, when its merge is done:
 * vstate.c). *expel is set when the change removes a member. */
static int materialise(kr_node *n, const kr_change *c, sqlite3_int64 chg, int *expel)
{
  const uint8_t *prev = NULL;   /* ops of one subject come together: look it up once */
  int prev_gone = 0, erasures = 0, rc;
  sqlite3_int64 sn = 0;
  sqlite3_stmt *s;
  kr_chgctx x = {.chg = chg, .t = c->nodes};   /* the change in hand: nothing to read */

  memcpy(x.nonce, c->nonce, KR_NONCE_LEN);

  for (uint32_t i = 0; i < c->nops; i++) {
    const kr_op *op = &c->ops[i];
    kr_stamp st = {.hlc = c->hlc, .idx = KR_OP_IDX(i, 0)};
    uint8_t tag[KR_TAG_LEN];
    int gone = 0, keyed;

    memcpy(st.origin, c->origin, KR_NODE_LEN);
    if (KR_OP_IS_TAGGED(op->type)) kr_op_tag(c->origin, c->seq, st.idx, tag);
    else memset(tag, 0, sizeof tag);           /* (no rule reads it) */
    /* Redacted, membership and purpose ops name no stored subject: their
     * 16-byte slot is kept as it is (rsubject). */
    keyed = op->type == KR_OP_REDACTED || KR_OP_IS_MEMBERSHIP(op->type) ||
            op->type == KR_OP_PURPOSE;
    if (!keyed) {
      if (prev && memcmp(prev, op->subject, KR_SUBJECT_LEN) == 0) {
        gone = prev_gone;
      } else if ((sn = kr__made(n, op->subject)) != 0) {
        /* made by this node's sealing of this very change: erased only by
         * an erasure in it */
        if (erasures && (gone = kr__erased(n, sn, NULL)) < 0) return gone;
        if (!erasures) gone = 0;
      } else {
        if (!(s = kr__q(n, KR_Q_SUBJ_PUT))) return KR_EDB;
        sqlite3_bind_blob(s, 1, op->subject, KR_SUBJECT_LEN, SQLITE_STATIC);
        if ((rc = STEP_DONE(s))) return rc;
        if (sqlite3_changes(n->db)) {
          sn = sqlite3_last_insert_rowid(n->db);
          gone = 0;
        } else {
          if ((rc = kr__subject_n(n, op->subject, &sn))) return rc;
          if ((gone = kr__erased(n, sn, NULL)) < 0) return gone;
        }
      }
      /* After an erasure in this change, the next op looks again. */
      prev = op->type == KR_OP_ERASE ? NULL : op->subject;
      erasures += op->type == KR_OP_ERASE;
      prev_gone = gone;
    }
    if (!(s = kr__q(n, KR_Q_OP_PUT))) return KR_EDB;
    sqlite3_bind_int64(s, 1, chg);
    sqlite3_bind_int64(s, 2, i);
    if (keyed)
      sqlite3_bind_blob(s, 4, op->subject, KR_SUBJECT_LEN, SQLITE_STATIC);
    else
      sqlite3_bind_int64(s, 3, sn);
    sqlite3_bind_int(s, 5, c->types[i]);       /* a withheld op's too: to send it on */
    sqlite3_bind_int(s, 6, KR_OP_IS_RECORD(c->types[i]) ? kr__record_flags(op) : op->field);
    /* An op on an erased subject is kept as its hash alone (the root
     * needs it when the change is sent on). */
    if (c->op_bytes[i] && (!gone || op->type == KR_OP_ERASE))
      sqlite3_bind_blob(s, 7, c->op_bytes[i], (int)c->op_len[i], SQLITE_STATIC);
    else
      sqlite3_bind_blob(s, 8, c->hashes[i], KR_HASH_LEN, SQLITE_STATIC);
    if ((rc = STEP_DONE(s))) return rc;
    if (op->type == KR_OP_REDACTED || (gone && op->type != KR_OP_ERASE))
      continue;

    switch (op->type) {
    case KR_OP_RECORD:
    case KR_OP_REGREC:
      if ((rc = apply_record(n, sn, chg, &x, op, &st, c->seq, i))) return rc;
      break;
    case KR_OP_WITHDRAW:
      if ((rc = kr__withdrawal(n, sn, chg, op, &st, tag, c->seq))) return rc;
      break;
    default:
      if ((rc = kr__apply_op(n, sn, op, &st, tag, c->seq))) return rc;
    }
    if (op->type == KR_OP_EXPEL) *expel = 1;
  }
  return 0;
}

/* 1 when the change is sent first in every stream: it holds a membership
 * op or an erasure (kr_lacks), and may arrive ahead of its origin's prefix. */
static int sent_first(const kr_change *c)
{
  for (uint32_t i = 0; i < c->nops; i++)
    if (KR_OP_IS_MEMBERSHIP(c->ops[i].type) || c->ops[i].type == KR_OP_ERASE) return 1;
  return 0;
}

/*
 * The one path by which a change enters the store (docs/crdt.md): known
 * already? admitted (member, field rules)? withheld ops right here? held
 * until this clock reaches it? Then placed (stored, vector), materialised
 * (each op folded into the state), indexed (full text), and whatever a
 * removal cut off taken back.
 */
int kr__apply_change(kr_node *n, const kr_change *c, int *fresh)
{
  sqlite3_int64 chg;
  int memb = sent_first(c), expel = 0, rc;

  *fresh = 0;
  n->memb_shrank = 0;
  n->last_held = 0;
  if ((rc = known(n, c))) return rc > 0 ? 0 : rc;
  /* In a session, an origin whose change was skipped has a gap after it. */
  if (n->in_order && ids_has(&n->skipped, c->origin, KR_NODE_LEN)) return KR_EREDACTED;
  if ((rc = admit(n, c))) return rc;
  if ((rc = check_withheld(n, c, memb))) return rc;
  if ((rc = hold(n, c))) {
    n->last_held = rc > 0;
    return rc > 0 ? 0 : rc;
  }
  if ((rc = place(n, c, memb, &chg))) return rc;

  kr_hlc_recv(&n->clock, c->hlc, kr_node_now_ms(n), KR_HLC_MAX_SKEW_MS);
  /* (kr__author sets fresh_from before it seals: the subjects it makes) */
  if (!n->fresh_from && (rc = kr__subject_next(n, &n->fresh_from))) return rc;
  n->fresh_cap = (uint64_t)c->nops;
  n->keys_me = 0;
  for (uint32_t i = 0; i < c->nops && !n->keys_me; i++)
    for (uint32_t k = 0; KR_OP_IS_RECORD(c->ops[i].type) && k < c->ops[i].nkeys; k++)
      if (memcmp(c->ops[i].keys[k].reader, kr_node_id(n), KR_NODE_LEN) == 0) n->keys_me = 1;
  rc = (n->fresh = calloc(c->nops + 1, 1)) ? materialise(n, c, chg, &expel) : KR_ENOMEM;
  n->fresh_from = 0;
  free(n->fresh);
  n->fresh = NULL;
  if (rc || (rc = kr__meta_put_int(n, "clock", (int64_t)n->clock))) return rc;
  /* A removal, or an admission that voids another, may cut off changes
   * held already: retract them. */
  if ((expel || n->memb_shrank) && (rc = kr__retract(n))) return rc;
  *fresh = 1;
  return 0;
}

/*
 * Changes held because they were stamped ahead of this clock, applied now
 * that it has reached them, in (origin, seq) order. Inside the caller's
 * transaction. A change refused now (its origin removed meanwhile) is
 * dropped.
 */
int kr__release_held(kr_node *n)
{
  sqlite3_stmt *s;
  int rc = 0, in_order = n->in_order;
  struct { uint8_t *p; size_t n; } due[64];
  size_t ndue = 0;

  if (sqlite3_prepare_v2(n->db, "SELECT bytes FROM held WHERE hlc<=?1 ORDER BY origin, seq",
                         -1, &s, NULL) != SQLITE_OK)
    return KR_EDB;
  sqlite3_bind_int64(s, 1, (sqlite3_int64)kr_hlc_make(kr_node_now_ms(n) + KR_HLC_MAX_SKEW_MS,
                                                      KR_HLC_CTR_MAX));
  while (ndue < sizeof due / sizeof due[0] && sqlite3_step(s) == SQLITE_ROW) {
    size_t len = (size_t)sqlite3_column_bytes(s, 0);
    if (!(due[ndue].p = malloc(len ? len : 1))) { rc = KR_ENOMEM; break; }
    memcpy(due[ndue].p, sqlite3_column_blob(s, 0), len);
    due[ndue++].n = len;
  }
  sqlite3_finalize(s);
  n->in_order = 0;
  for (size_t i = 0; i < ndue; i++) {
    kr_change c;
    int f;
    if (!rc && kr_change_decode(due[i].p, due[i].n, KR_CHANGE_MAX, &c) == 0) {
      if (!(s = kr__q(n, KR_Q_HELD_DEL))) {
        rc = KR_EDB;
      } else {
        sqlite3_bind_blob(s, 1, c.origin, KR_NODE_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)c.seq);
        if (!(rc = STEP_DONE(s))) {
          rc = kr__apply_change(n, &c, &f);
          /* refused now: dropped, as it would be on arrival (a failure
           * of the store is no refusal: it stays held) */
          if (rc != KR_EDB && rc != KR_ENOMEM && rc != KR_EFULL && rc != KR_EBUSY &&
              rc != KR_EDAMAGED && rc != KR_EREADONLY && rc != KR_EIO)
            rc = 0;
        }
      }
      kr_change_free(&c);
    }
    free(due[i].p);
  }
  n->in_order = in_order;
  return rc;
}

/* Truncate the WAL, erased values and all, without waiting for readers:
 * a sync session's snapshot may hold it up for as long as the session
 * lasts. Then it stays pending until kr_node_tidy() or the next commit
 * (and closing the last connection checkpoints anyway). */
static void checkpoint_now(kr_node *n)
{
  int rc;
  sqlite3_busy_timeout(n->db, 0);
  rc = sqlite3_wal_checkpoint_v2(n->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  sqlite3_busy_timeout(n->db, KR_BUSY_MS);
  n->need_checkpoint = rc != SQLITE_OK;
}

void kr__after_commit(kr_node *n)
{
  if (n->need_fts_optimize) {
    /* FTS5 keeps deleted terms in old segments until they are merged. With
     * secure_delete on, rewriting the index overwrites the erased words. */
    kr__exec(n, "INSERT INTO vol_fts(vol_fts) VALUES('optimize')");
    n->need_fts_optimize = 0;
    n->need_checkpoint = 1;
  }
  if (n->need_checkpoint) checkpoint_now(n);
}

void kr_node_tidy(kr_node *n)
{
  if (n && n->need_checkpoint) checkpoint_now(n);
}

int kr_node_apply_many(kr_node *n, const uint8_t *const *bufs, const size_t *lens,
                       size_t count, size_t *fresh)
{
  int rc = 0;
  size_t nfresh = 0;

  if (fresh) *fresh = 0;
  if ((rc = kr__exec(n, "BEGIN IMMEDIATE"))) return rc;
  txn_start(n);
  rc = kr__release_held(n);
  for (size_t i = 0; i < count && !rc; i++) {
    kr_change c;
    int f = 0;
    if ((rc = kr_change_decode(bufs[i], lens[i], KR_CHANGE_MAX, &c))) break;
    rc = kr__apply_change(n, &c, &f);
    kr_change_free(&c);
    nfresh += (size_t)f;
  }
  if (!rc) rc = withheld_ok(n);
  if (!rc) rc = kr__finish(n, NULL);
  if (!rc) rc = kr__exec(n, "COMMIT");
  if (rc) {
    kr__exec(n, "ROLLBACK");
    n->need_fts_optimize = 0;
    kr__meta_get_int(n, "clock", (int64_t *)&n->clock);
    return rc;
  }
  kr__after_commit(n);
  if (fresh) *fresh = nfresh;
  return 0;
}

int kr_node_release_held(kr_node *n)
{
  sqlite3_stmt *s;
  int rc, due;

  if (sqlite3_db_readonly(n->db, "main") == 1) return 0;     /* a writer will */
  if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM held WHERE hlc<=?1 LIMIT 1", -1, &s, NULL))
    return KR_EDB;
  sqlite3_bind_int64(s, 1, (sqlite3_int64)kr_hlc_make(kr_node_now_ms(n) + KR_HLC_MAX_SKEW_MS,
                                                      KR_HLC_CTR_MAX));
  due = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  /* a grant to this node that ended yesterday ends its reading today */
  if (!due && (due = kr__expiry_due(n, 0)) < 0) return due;
  if (!due) return 0;
  if ((rc = kr_node_batch_begin(n))) return rc;
  if ((rc = kr__expiry_due(n, 1)) < 0) {
    kr_node_batch_end(n, 0);
    return rc;
  }
  return kr_node_batch_end(n, 1);
}

int kr_node_batch_begin(kr_node *n)
{
  int rc;
  if ((rc = kr__exec(n, "BEGIN IMMEDIATE"))) return rc;
  txn_start(n);
  if ((rc = kr__release_held(n))) kr_node_batch_end(n, 0);
  return rc;
}

int kr_node_batch_apply(kr_node *n, const uint8_t *buf, size_t len, int *fresh)
{
  kr_change c;
  int rc;

  *fresh = 0;
  if ((rc = kr_change_decode(buf, len, KR_CHANGE_MAX, &c))) return rc;
  rc = kr__apply_change(n, &c, fresh);
  kr_change_free(&c);
  return rc;
}

int kr_node_last_held(const kr_node *n) { return n->last_held; }

int kr_node_batch_apply_next(kr_node *n, const uint8_t *buf, size_t len, int *fresh)
{
  int rc;
  n->in_order = 1;
  rc = kr_node_batch_apply(n, buf, len, fresh);
  n->in_order = 0;
  return rc;
}

int kr_node_batch_end(kr_node *n, int commit)
{
  int rc = commit ? withheld_ok(n) : 0;
  if (commit && !rc) rc = kr__finish(n, NULL);
  if (commit && !rc && (rc = kr__exec(n, "COMMIT")) == 0) {
    kr__after_commit(n);
    return 0;
  }
  kr__exec(n, "ROLLBACK");
  n->need_fts_optimize = 0;
  txn_start(n);
  kr__meta_get_int(n, "clock", (int64_t *)&n->clock);
  return commit ? (rc ? rc : KR_EDB) : 0;
}

const uint8_t *kr_node_secret_key(const kr_node *n) { return n->sk; }

int kr_node_apply(kr_node *n, const uint8_t *buf, size_t len, int *fresh)
{
  size_t f = 0;
  int rc = kr_node_apply_many(n, &buf, &len, 1, &f);
  if (fresh) *fresh = (int)f;
  return rc;
}

int kr_node_change_bytes(kr_node *n, const uint8_t origin[static KR_NODE_LEN],
                         uint64_t seq, kr_buf *out)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_CHG_GET);
  uint8_t *header = NULL, sig[KR_SIG_LEN];
  size_t hlen;
  uint32_t nops, got = 0;
  sqlite3_int64 chg;
  const uint8_t **bytes = NULL;
  size_t *lens = NULL;
  uint8_t (*subj)[KR_SUBJECT_LEN] = NULL, (*hash)[KR_HASH_LEN] = NULL, *types = NULL;
  int rc = KR_EDB;

  if (!s) return KR_EDB;
  sqlite3_bind_blob(s, 1, origin, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
  if (sqlite3_step(s) != SQLITE_ROW) { sqlite3_reset(s); return KR_ENOTFOUND; }
  hlen = (size_t)sqlite3_column_bytes(s, 0);
  header = malloc(hlen ? hlen : 1);
  nops = (uint32_t)sqlite3_column_int64(s, 2);
  if (!header || sqlite3_column_bytes(s, 1) != KR_SIG_LEN || nops > KR_CHANGE_MAX_OPS) {
    sqlite3_reset(s);
    goto out;
  }
  memcpy(header, sqlite3_column_blob(s, 0), hlen);
  chg = sqlite3_column_int64(s, 3);
  memcpy(sig, sqlite3_column_blob(s, 1), KR_SIG_LEN);
  sqlite3_reset(s);

  bytes = calloc(nops, sizeof *bytes);
  lens = calloc(nops, sizeof *lens);
  subj = calloc(nops, sizeof *subj);
  hash = calloc(nops, sizeof *hash);
  types = calloc(nops, 1);
  if (!bytes || !lens || !subj || !hash || !types) { rc = KR_ENOMEM; goto out; }
  if (!(s = kr__q(n, KR_Q_OPS_OF))) goto out;
  sqlite3_bind_int64(s, 1, chg);
  while (sqlite3_step(s) == SQLITE_ROW) {
    uint32_t i = (uint32_t)sqlite3_column_int64(s, 0);
    if (i >= nops) break;
    memcpy(subj[i], sqlite3_column_blob(s, 1), KR_SUBJECT_LEN);
    types[i] = (uint8_t)sqlite3_column_int(s, 4);
    if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
      size_t l = (size_t)sqlite3_column_bytes(s, 2);
      uint8_t *b = malloc(l ? l : 1);
      if (!b) break;
      memcpy(b, sqlite3_column_blob(s, 2), l);
      bytes[i] = b;
      lens[i] = l;
    } else if (sqlite3_column_bytes(s, 3) == KR_HASH_LEN) {
      memcpy(hash[i], sqlite3_column_blob(s, 3), KR_HASH_LEN);
    } else {
      break;                             /* withheld without its hash: not sendable */
    }
    got++;
  }
  sqlite3_reset(s);
  if (got != nops) goto out;
  rc = kr_change_assemble(header, hlen, sig, nops, bytes, lens,
                          (const uint8_t (*)[KR_SUBJECT_LEN])subj, types,
                          (const uint8_t (*)[KR_HASH_LEN])hash, out);
out:
  for (uint32_t i = 0; bytes && i < nops; i++) free((void *)bytes[i]);
  free(bytes);
  free(lens);
  free(subj);
  free(hash);
  free(types);
  free(header);
  return rc;
}

/* ---- retraction: a removal cuts off changes held already ------------------
 *
 * docs/crdt.md, "Membership": a removed node's changes past after_seq never
 * count, wherever they arrived first. A node that applied such changes
 * before the removal reached it takes them back: it deletes them, rebuilds
 * the state from the changes that remain (the merge rules do not depend on
 * order), and repeats while the removal takes further changes with it (an
 * admission the removed node made late). An erasure cannot be undone: a
 * subject that only a retracted change erased is erased again by this
 * node, in its own change, so every node ends the same. A node's own
 * changes are never taken back here: a removed node keeps what it wrote
 * (it can no longer send it anywhere). */

static int run_sql(kr_node *n, const char *sql, sqlite3_int64 arg)
{
  sqlite3_stmt *s;
  int rc;
  if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) != SQLITE_OK) return KR_EDB;
  if (sqlite3_bind_parameter_count(s) >= 1) sqlite3_bind_int64(s, 1, arg);
  rc = sqlite3_step(s);
  sqlite3_finalize(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : KR_EDB;
}

/* Run SQL that leaves out the founder (?1) and this node (?2): retraction
 * never takes back their changes. */
static int run_not_ours(kr_node *n, const char *sql)
{
  sqlite3_stmt *s;
  int rc;
  if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) != SQLITE_OK) return KR_EDB;
  sqlite3_bind_blob(s, 1, n->founder, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, kr_node_id(n), KR_NODE_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s) == SQLITE_DONE ? 0 : KR_EDB;
  sqlite3_finalize(s);
  return rc;
}

/* Rebuild every table the ops fold into, from the ops held. */
static int rebuild(kr_node *n)
{
  static const char *const wipe[] = {
    "DELETE FROM vols", "DELETE FROM vtombs",
    "DELETE FROM consent_ops", "DELETE FROM consent_observed", "DELETE FROM erasures",
    "DELETE FROM members", "DELETE FROM admits",
    "INSERT INTO vol_fts(vol_fts) VALUES('delete-all')",
    "DELETE FROM keyops", "DELETE FROM registrations", "DELETE FROM bad_groups",
    "DELETE FROM purposes",
    /* a key counts again once it opens a group that remains */
    "UPDATE vkeys SET ok=0",
  };
  sqlite3_stmt *s;
  kr_chgctx x = {0};             /* ops come by change: its header read once */
  int rc = 0;

  kr__vs_drop(n);
  /* Every change is folded again, the one being authored too: its keys'
   * ok is reset below, so its groups must open as any other's (the ops
   * and keys its sealing kept take the key for held, ok, and would leave
   * its new volunteers sealed). */
  kr__own_done(n);
  /* The keys too: a key counts only while the key op that gave it is held
   * (a retracted grant's keys go with it); the epochs this node made stay.
   * Volunteers read before and by no key after are noted (kring log). */
  if ((rc = run_sql(n, "CREATE TEMP TABLE IF NOT EXISTS kr_had(subj INTEGER PRIMARY KEY)", 0)) ||
      (rc = run_sql(n, "DELETE FROM kr_had", 0)) ||
      (rc = run_sql(n, "INSERT INTO kr_had SELECT DISTINCT subj FROM vkeys WHERE ok", 0)) ||
      (rc = run_not_ours(n, "DELETE FROM vkeys WHERE ?1=?1 AND NOT (trusted AND creator IS " NODE_NO("?2") ")")))
    return rc;
  for (size_t i = 0; i < sizeof wipe / sizeof wipe[0]; i++)
    if ((rc = run_sql(n, wipe[i], 0))) return rc;
  if (sqlite3_prepare_v2(n->db,
        "SELECT o.key, c.seq, c.hlc, p.idx, p.body, p.subj, o.n, c.n FROM ops p "
        "JOIN changes c ON c.n=p.chg JOIN origins o ON o.n=c.origin "
        "WHERE p.body IS NOT NULL ORDER BY c.n, p.idx", -1, &s, NULL) != SQLITE_OK)
    return KR_EDB;
  while (!rc && sqlite3_step(s) == SQLITE_ROW) {
    kr_op op;
    kr_stamp st;
    uint8_t tag[KR_TAG_LEN];
    void *mem = NULL;
    uint64_t seq = (uint64_t)sqlite3_column_int64(s, 1);
    if (kr__op_parse_at(n, &x, sqlite3_column_int64(s, 7), sqlite3_column_int64(s, 5),
                        sqlite3_column_blob(s, 4), sqlite3_column_bytes(s, 4), &op, &mem)) {
      rc = KR_EDB;                 /* the store's own bytes no longer parse */
      break;
    }
    memcpy(st.origin, sqlite3_column_blob(s, 0), KR_NODE_LEN);
    st.hlc = (kr_hlc)sqlite3_column_int64(s, 2);
    st.idx = KR_OP_IDX(sqlite3_column_int(s, 3), 0);
    kr_op_tag(st.origin, seq, st.idx, tag);
    n->cur_origin = sqlite3_column_int64(s, 6);   /* stamps are stored by origin number */
    if (KR_OP_IS_RECORD(op.type)) {
      rc = apply_record(n, sqlite3_column_int64(s, 5), sqlite3_column_int64(s, 7), &x, &op, &st,
                        seq, (uint32_t)sqlite3_column_int(s, 3));
    } else if (op.type == KR_OP_WITHDRAW) {
      rc = kr__withdrawal(n, sqlite3_column_int64(s, 5), sqlite3_column_int64(s, 7), &op, &st, tag,
                          seq);
    } else {
      rc = kr__apply_op(n, sqlite3_column_int64(s, 5), &op, &st, tag, seq);
    }
    free(mem);
  }
  sqlite3_finalize(s);
  kr__chgctx_free(&x);
  if (rc) return rc;
  if (sqlite3_prepare_v2(n->db, "INSERT INTO access(subject, at, why) SELECT s.id, ?1, 'the"
                                " change that let this node read it was taken back (its origin"
                                " was removed)' FROM kr_had h JOIN subjects s ON s.n=h.subj WHERE"
                                " NOT EXISTS (SELECT 1 FROM vkeys k WHERE k.subj=h.subj) AND NOT"
                                " EXISTS (SELECT 1 FROM erasures e WHERE e.subj=h.subj)",
                         -1, &s, NULL) != SQLITE_OK)
    return KR_EDB;
  sqlite3_bind_int64(s, 1, (sqlite3_int64)kr_node_now_ms(n));
  rc = sqlite3_step(s) == SQLITE_DONE ? 0 : KR_EDB;
  sqlite3_finalize(s);
  if (rc) return rc;
  /* (each volunteer row folded again wrote its full-text entry) */
  n->need_fts_optimize = 1;
  return rc;
}

typedef struct {
  uint8_t subject[KR_SUBJECT_LEN];
  char reason[KR_REASON_MAX + 1];
} adopt;

int kr__retract(kr_node *n)
{
  adopt *keep = NULL;
  size_t nkeep = 0;
  int rc = 0;

  for (int round = 0; !rc; round++) {
    sqlite3_stmt *s;
    if ((rc = run_sql(n, "CREATE TEMP TABLE IF NOT EXISTS kr_gone(n INTEGER PRIMARY KEY)", 0)) ||
        (rc = run_sql(n, "DELETE FROM kr_gone", 0)))
      break;
    /* Held changes whose origin is not (or no longer) a member there. */
    if ((rc = run_not_ours(n, "INSERT INTO kr_gone SELECT c.n FROM changes c JOIN origins o "
                              "ON o.n=c.origin LEFT JOIN members m ON m.node=o.key WHERE "
                              "o.key<>?1 AND o.key<>?2 AND (m.node IS NULL OR m.org IS NULL OR "
                              "(m.cutoff IS NOT NULL AND c.seq>m.cutoff))")) ||
        sqlite3_changes(n->db) == 0)
      break;

    /* Erasures only a retracted change made: kept, by this node. */
    if (sqlite3_prepare_v2(n->db,
          "SELECT s.id, p.body FROM ops p JOIN subjects s ON s.n=p.subj WHERE p.type=6 AND "
          "p.chg IN kr_gone AND p.body IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ops q WHERE "
          "q.subj=p.subj AND q.type=6 AND q.chg NOT IN kr_gone)", -1, &s, NULL) != SQLITE_OK) {
      rc = KR_EDB;
      break;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      kr_op op;
      void *mem = NULL;
      adopt *a;
      size_t i;
      for (i = 0; i < nkeep && memcmp(keep[i].subject, sqlite3_column_blob(s, 0), KR_SUBJECT_LEN); i++) {}
      if (i < nkeep) continue;
      if (!(a = realloc(keep, (nkeep + 1) * sizeof *keep))) { rc = KR_ENOMEM; break; }
      keep = a;
      memcpy(keep[nkeep].subject, sqlite3_column_blob(s, 0), KR_SUBJECT_LEN);
      keep[nkeep].reason[0] = 0;
      if (!kr_op_parse(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1), NULL, &op,
                       &mem) &&    /* an erasure names no node */
          op.value)
        snprintf(keep[nkeep].reason, sizeof keep[nkeep].reason, "%s", op.value);
      free(mem);
      nkeep++;
    }
    sqlite3_finalize(s);
    if (rc) break;

    /* Held changes of origins that are no longer members go too. */
    if ((rc = run_not_ours(n, "DELETE FROM held WHERE origin<>?1 AND origin<>?2 AND NOT EXISTS "
                              "(SELECT 1 FROM members m WHERE m.node=held.origin AND m.org IS "
                              "NOT NULL AND (m.cutoff IS NULL OR held.seq<=m.cutoff))")))
      break;

    /* Gone: the changes, their ops; each origin's vector is cut back to
     * what remains of its prefix (a removal cuts a suffix). */
    if ((rc = run_sql(n, "DELETE FROM ops WHERE chg IN kr_gone", 0)) ||
        (rc = run_sql(n, "DELETE FROM changes WHERE n IN kr_gone", 0)) ||
        (rc = run_sql(n, "DELETE FROM subjects WHERE n NOT IN (SELECT subj FROM ops WHERE "
                         "subj IS NOT NULL)", 0)) ||
        /* and the keys of the subjects gone: their numbers may be given
         * to new subjects, which the keys would make readable here */
        (rc = run_sql(n, "DELETE FROM vkeys WHERE subj NOT IN (SELECT n FROM subjects)", 0)) ||
        (rc = run_sql(n, "UPDATE origins SET contig=(SELECT count(*) FROM changes c WHERE "
                         "c.origin=origins.n AND c.seq<=origins.contig)", 0)) ||
        (rc = rebuild(n)))
      break;
  }
  /* Keep the erasures (only a member can; a removed node cannot). */
  for (size_t i = 0; !rc && i < nkeep; i++) {
    sqlite3_int64 sn;
    kr_op op;
    int gone;
    /* Not found: only withheld ops name it now, which is erased all the same. */
    if ((rc = kr__subject_n(n, keep[i].subject, &sn)) && rc != KR_ENOTFOUND) break;
    if (rc == 0 && (gone = kr__erased(n, sn, NULL)) != 0) {
      if (gone < 0) { rc = gone; break; }
      continue;
    }
    memset(&op, 0, sizeof op);
    op.type = KR_OP_ERASE;
    memcpy(op.subject, keep[i].subject, KR_SUBJECT_LEN);
    op.value = keep[i].reason[0] ? keep[i].reason : "erased";
    rc = kr__author(n, &op, 1, NULL, NULL);
    if (rc == KR_ENOTMEMBER) rc = 0;
  }
  free(keep);
  n->memb_shrank = 0;
  return rc;
}

int kr_node_held(kr_node *n, kr_held_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc = 0, step;

  if (sqlite3_prepare_v2(n->db, "SELECT origin, count(*), min(hlc) FROM held GROUP BY origin"
                                " ORDER BY min(hlc)", -1, &s, NULL) != SQLITE_OK)
    return KR_EDB;
  while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
    kr_held h;
    uint64_t ms;
    if (sqlite3_column_bytes(s, 0) != KR_NODE_LEN) continue;
    memcpy(h.origin, sqlite3_column_blob(s, 0), KR_NODE_LEN);
    h.count = (uint64_t)sqlite3_column_int64(s, 1);
    h.first = (kr_hlc)sqlite3_column_int64(s, 2);
    ms = kr_hlc_ms(h.first);
    h.until_ms = ms > KR_HLC_MAX_SKEW_MS ? ms - KR_HLC_MAX_SKEW_MS : 0;
    rc = cb(ctx, &h);
  }
  if (!rc && step != SQLITE_DONE) rc = KR_EDB;
  sqlite3_finalize(s);
  return rc;
}
