/*
 * member: the network and its members. Membership is replicated state,
 * changed only by signed ops (docs/crdt.md, "Membership"):
 *
 *   FOUND  the founder's op naming the network; the founder is a member
 *          from its first change.
 *   ADMIT  a member admits a node (with the invite it used).
 *   EXPEL  a member removes a node: the node's changes up to after_seq
 *          (what the remover held of it) still count, later ones never.
 *
 * A change is accepted only when its origin is a member at that change's
 * seq. The founder cannot be removed. One invite admits one node: of two
 * admissions naming the same invite and different nodes the earliest
 * stamp stands and the other is void. Two admissions of one node: the
 * earliest in force gives its name. Two removals: the smallest after_seq
 * and the earliest stamp count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/internal.h"

static int commit_op(kr_node *n, const kr_op *op)
{
  kr_txn *t;
  int rc;

  if ((rc = kr_txn_begin(n, &t))) return rc;
  if ((rc = kr__txn_member_op(t, op))) {
    kr_txn_abort(t);
    return rc;
  }
  return kr_txn_commit(t, NULL);
}

/* The founding change: FOUND, and the starting list of purposes, so that
 * consent can be recorded at once. */
int kr__found(kr_node *n)
{
  kr_txn *t;
  kr_op op;
  int rc;

  memset(&op, 0, sizeof op);
  op.type = KR_OP_FOUND;
  memcpy(op.subject, n->network, KR_NETWORK_LEN);
  op.org = n->org;
  op.kind = n->kind;
  if ((rc = kr_txn_begin(n, &t))) return rc;
  if ((rc = kr__txn_member_op(t, &op)) || (rc = kr__purposes_start(t))) {
    kr_txn_abort(t);
    return rc;
  }
  return kr_txn_commit(t, NULL);
}

/*
 * Two different changes signed as one (origin, seq): the origin's key
 * signed two histories, and no node can tell which is "right". This node
 * removes it from there on (after_seq = seq - 1), in an ordinary change
 * that every node will apply, so that every node takes back whichever
 * version it holds and all end the same (docs/crdt.md). The change in
 * hand is then refused as past the removal (KR_ENOTMEMBER), which a sync
 * session skips. The founder cannot be removed, and a node that is not a
 * member cannot remove anyone: then it stays a refusal (KR_ECONFLICT).
 */
int kr__equivocation(kr_node *n, const kr_change *c)
{
  char why[96];
  kr_op op;
  int rc;

  if (memcmp(c->origin, n->founder, KR_NODE_LEN) == 0 ||
      memcmp(c->origin, kr_node_id(n), KR_NODE_LEN) == 0 || c->seq < 1)
    return KR_ECONFLICT;
  if ((rc = kr_node_is_member(n, kr_node_id(n))) != 1) return rc < 0 ? rc : KR_ECONFLICT;
  snprintf(why, sizeof why, "signed two different changes as seq %llu", (unsigned long long)c->seq);
  memset(&op, 0, sizeof op);
  op.type = KR_OP_EXPEL;
  memcpy(op.subject, n->network, KR_NETWORK_LEN);
  memcpy(op.member, c->origin, KR_NODE_LEN);
  op.after_seq = c->seq - 1;
  op.value = why;
  if ((rc = kr__author(n, &op, 1, NULL, NULL))) return rc;
  return KR_ENOTMEMBER;
}

/* Member state of one node: *admitted, *cutoff (UINT64_MAX if none). */
static int member_state(kr_node *n, const uint8_t node[KR_NODE_LEN], int *admitted,
                        uint64_t *cutoff)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_MEMBER_GET);
  int rc;

  *admitted = memcmp(node, n->founder, KR_NODE_LEN) == 0;
  *cutoff = UINT64_MAX;
  if (!s) return KR_EDB;
  sqlite3_bind_blob(s, 1, node, KR_NODE_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *admitted |= sqlite3_column_int(s, 0);
    if (sqlite3_column_type(s, 1) != SQLITE_NULL)
      *cutoff = (uint64_t)sqlite3_column_int64(s, 1);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? 0 : KR_EDB;
  }
  sqlite3_reset(s);
  return rc;
}

int kr__member_check(kr_node *n, const kr_change *c)
{
  uint64_t cutoff;
  int admitted, rc;

  for (uint32_t i = 0; i < c->nops; i++) {
    const kr_op *op = &c->ops[i];
    if (op->type == KR_OP_FOUND || op->type == KR_OP_EXPEL) {
      if (memcmp(op->subject, n->network, KR_NETWORK_LEN) != 0) return KR_ENETWORK;
      if (op->type == KR_OP_FOUND && memcmp(c->origin, n->founder, KR_NODE_LEN) != 0)
        return KR_ENOTMEMBER;
      /* The founder cannot be removed: a change that tries is refused
       * whole, from anywhere (docs/crdt.md, "Membership"). */
      if (op->type == KR_OP_EXPEL && memcmp(op->member, n->founder, KR_NODE_LEN) == 0)
        return KR_EFOUNDER;
    }
    /* An admission proves that the invite's holder asked for this node. */
    if (op->type == KR_OP_ADMIT && (rc = kr_admit_check(op))) return rc;
  }
  if ((rc = member_state(n, c->origin, &admitted, &cutoff))) return rc;
  if (!admitted || c->seq > cutoff) return KR_ENOTMEMBER;
  return 0;
}

static void stamp_bind(sqlite3_stmt *s, int col, const kr_stamp *st)
{
  sqlite3_bind_int64(s, col, (sqlite3_int64)st->hlc);
  sqlite3_bind_blob(s, col + 1, st->origin, KR_NODE_LEN, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, col + 2, st->idx);
}

static int run(kr_node *n, const char *sql, const uint8_t node[KR_NODE_LEN], const kr_op *op,
               const kr_stamp *st)
{
  sqlite3_stmt *s;
  int rc;

  if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) != SQLITE_OK) return KR_EDB;
  sqlite3_bind_blob(s, 1, node, KR_NODE_LEN, SQLITE_TRANSIENT);
  stamp_bind(s, 2, st);
  if (op->org) sqlite3_bind_text(s, 5, op->org, -1, SQLITE_TRANSIENT);
  if (op->kind) sqlite3_bind_text(s, 6, op->kind, -1, SQLITE_TRANSIENT);
  if (op->type == KR_OP_ADMIT) sqlite3_bind_blob(s, 7, op->subject, KR_SUBJECT_LEN, SQLITE_TRANSIENT);
  if (op->type == KR_OP_EXPEL) {
    sqlite3_bind_int64(s, 8, (sqlite3_int64)(op->after_seq > INT64_MAX ? INT64_MAX : op->after_seq));
    sqlite3_bind_text(s, 9, op->value, -1, SQLITE_TRANSIENT);
  }
  rc = sqlite3_step(s);
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? 0 : KR_EDB;
}

/* (hlc, origin, idx) of ?2..?4 orders before the removal stamp held. */
#define EARLIER(h, o, i) "(" h " IS NULL OR ?2<" h " OR (?2=" h " AND (?3<" o \
                         " OR (?3=" o " AND ?4<" i "))))"

/* b's stamp orders before a's. */
#define B_BEFORE_A "(b.hlc<a.hlc OR (b.hlc=a.hlc AND (b.origin<a.origin OR " \
                   "(b.origin=a.origin AND b.idx<a.idx))))"

/* An admission is in force when no admission with the same invite names
 * another node with an earlier stamp: one invite admits one node, the
 * earliest admission of it wins on every node. FOUND counts as the
 * founder's admission (no invite). Each member row takes its name from
 * the earliest admission of it in force, or none. */
#define ADMISSION_IN_FORCE                                                          \
  "(a.invite IS NULL OR NOT EXISTS (SELECT 1 FROM admits b WHERE b.invite=a.invite" \
  " AND b.node<>a.node AND " B_BEFORE_A "))"

int kr__member_apply(kr_node *n, const kr_op *op, const kr_stamp *st)
{
  const uint8_t *node = op->type == KR_OP_FOUND ? st->origin : op->member;
  sqlite3_stmt *s;
  int rc;

  if ((rc = run(n, "INSERT OR IGNORE INTO members(node) VALUES(?1)", node, op, st))) return rc;
  if (op->type == KR_OP_EXPEL)
    return run(n, "UPDATE members SET cutoff=min(coalesce(cutoff,?8),?8),"
                  " r_hlc=CASE WHEN " EARLIER("r_hlc", "r_origin", "r_idx") " THEN ?2 ELSE r_hlc END,"
                  " reason=CASE WHEN " EARLIER("r_hlc", "r_origin", "r_idx") " THEN ?9 ELSE reason END,"
                  " r_origin=CASE WHEN " EARLIER("r_hlc", "r_origin", "r_idx") " THEN ?3 ELSE r_origin END,"
                  " r_idx=CASE WHEN " EARLIER("r_hlc", "r_origin", "r_idx") " THEN ?4 ELSE r_idx END"
                  " WHERE node=?1",
               node, op, st);
  if ((rc = run(n, "INSERT OR IGNORE INTO admits(node,invite,hlc,origin,idx,org,kind)"
                   " VALUES(?1,?7,?2,?3,?4,?5,?6)", node, op, st)) ||
      (rc = run(n, "UPDATE members SET (org,kind,invite,a_hlc,a_origin,a_idx)=(SELECT a.org,"
                   " a.kind, a.invite, a.hlc, a.origin, a.idx FROM admits a WHERE"
                   " a.node=members.node AND " ADMISSION_IN_FORCE " ORDER BY a.hlc, a.origin,"
                   " a.idx LIMIT 1) WHERE node=?1 OR node IN (SELECT node FROM admits WHERE"
                   " invite=?7)", node, op, st)))
    return rc;
  if (op->type != KR_OP_ADMIT) return 0;
  /* Another node admitted with the same invite may have lost its
   * admission here: the caller takes back what it no longer may hold. */
  if (sqlite3_prepare_v2(n->db, "SELECT count(DISTINCT node) FROM admits WHERE invite=?1", -1, &s,
                         NULL) != SQLITE_OK)
    return KR_EDB;
  sqlite3_bind_blob(s, 1, op->subject, KR_SUBJECT_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_int(s, 0) > 1) n->memb_shrank = 1;
  rc = rc == SQLITE_ROW ? 0 : KR_EDB;
  sqlite3_finalize(s);
  return rc;
}

int kr_node_void_admissions(kr_node *n, kr_void_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc = 0, step;

  /* Each admission not in force, with the earliest admission of its
   * invite (the one in force). */
  if (sqlite3_prepare_v2(n->db,
        "SELECT a.node, a.org, a.hlc, a.origin, a.idx, b.node, b.org, b.hlc, b.origin, b.idx"
        " FROM admits a JOIN admits b ON b.invite=a.invite AND b.node<>a.node AND " B_BEFORE_A
        " AND NOT EXISTS (SELECT 1 FROM admits c WHERE c.invite=b.invite AND"
        " (c.hlc<b.hlc OR (c.hlc=b.hlc AND (c.origin<b.origin OR (c.origin=b.origin AND"
        " c.idx<b.idx))))) ORDER BY a.hlc, a.origin, a.idx", -1, &s, NULL) != SQLITE_OK)
    return KR_EDB;
  while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
    kr_void_admission v;
    if (sqlite3_column_bytes(s, 0) != KR_NODE_LEN || sqlite3_column_bytes(s, 5) != KR_NODE_LEN)
      continue;
    memcpy(v.node, sqlite3_column_blob(s, 0), KR_NODE_LEN);
    v.org = (const char *)sqlite3_column_text(s, 1);
    kr__read_stamp(s, 2, &v.at);
    memcpy(v.winner, sqlite3_column_blob(s, 5), KR_NODE_LEN);
    v.winner_org = (const char *)sqlite3_column_text(s, 6);
    kr__read_stamp(s, 7, &v.winner_at);
    rc = cb(ctx, &v);
  }
  if (!rc && step != SQLITE_DONE) rc = KR_EDB;
  sqlite3_finalize(s);
  return rc;
}

int kr_node_network(const kr_node *n, uint8_t network[static KR_NETWORK_LEN],
                    uint8_t founder[static KR_NODE_LEN])
{
  memcpy(network, n->network, KR_NETWORK_LEN);
  memcpy(founder, n->founder, KR_NODE_LEN);
  return 0;
}

int kr_node_members(kr_node *n, kr_member_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc = 0, step;

  if (sqlite3_prepare_v2(n->db,
                         "SELECT node, org, kind, invite, a_hlc, a_origin, a_idx, cutoff,"
                         " r_hlc, r_origin, r_idx, reason FROM members ORDER BY a_hlc IS NULL,"
                         " a_hlc, node", -1, &s, NULL) != SQLITE_OK)
    return KR_EDB;
  while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
    kr_member m;
    memset(&m, 0, sizeof m);
    if (sqlite3_column_bytes(s, 0) != KR_NODE_LEN) continue;
    memcpy(m.node, sqlite3_column_blob(s, 0), KR_NODE_LEN);
    m.founder = memcmp(m.node, n->founder, KR_NODE_LEN) == 0;
    m.admitted = sqlite3_column_type(s, 1) != SQLITE_NULL;
    m.org = m.admitted ? (const char *)sqlite3_column_text(s, 1) : "";
    m.kind = m.admitted ? (const char *)sqlite3_column_text(s, 2) : "";
    if (sqlite3_column_bytes(s, 3) == KR_SUBJECT_LEN)
      memcpy(m.invite, sqlite3_column_blob(s, 3), KR_SUBJECT_LEN);
    if (m.admitted) kr__read_stamp(s, 4, &m.admitted_at);
    m.removed = sqlite3_column_type(s, 7) != SQLITE_NULL;
    if (m.removed) {
      m.cutoff = (uint64_t)sqlite3_column_int64(s, 7);
      kr__read_stamp(s, 8, &m.removed_at);
      m.reason = (const char *)sqlite3_column_text(s, 11);
    }
    rc = cb(ctx, &m);
  }
  if (!rc && step != SQLITE_DONE) rc = KR_EDB;
  sqlite3_finalize(s);
  return rc;
}

int kr_node_is_member(kr_node *n, const uint8_t id[static KR_NODE_LEN])
{
  uint64_t cutoff;
  int admitted, rc = member_state(n, id, &admitted, &cutoff);
  if (rc) return rc;
  return admitted && cutoff == UINT64_MAX;
}

int kr_node_set_inviter(kr_node *n, const uint8_t inviter[static KR_NODE_LEN])
{
  return kr__meta_put_blob(n, "inviter", inviter, KR_NODE_LEN);
}

int kr_node_trusted(kr_node *n, const uint8_t id[static KR_NODE_LEN])
{
  uint8_t inviter[KR_NODE_LEN];
  int rc = kr_node_is_member(n, id), me;
  if (rc) return rc;
  /* Until this node knows itself admitted, it knows no members but the
   * founder and the member whose invite it used. */
  if ((me = kr_node_is_member(n, kr_node_id(n))) != 0) return me < 0 ? me : 0;
  if (memcmp(id, n->founder, KR_NODE_LEN) == 0) return 1;
  return kr__meta_get_blob(n, "inviter", inviter, KR_NODE_LEN) == 0 &&
         memcmp(id, inviter, KR_NODE_LEN) == 0;
}

int kr_node_member_org(kr_node *n, const uint8_t id[static KR_NODE_LEN], char *out, size_t cap)
{
  sqlite3_stmt *s;
  int rc;
  if (sqlite3_prepare_v2(n->db, "SELECT org FROM members WHERE node=?1 AND org IS NOT NULL", -1,
                         &s, NULL))
    return KR_EDB;
  sqlite3_bind_blob(s, 1, id, KR_NODE_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    rc = 1;
  } else {
    rc = rc == SQLITE_DONE ? 0 : KR_EDB;
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_is_removed(kr_node *n, const uint8_t id[static KR_NODE_LEN])
{
  uint64_t cutoff;
  int admitted, rc = member_state(n, id, &admitted, &cutoff);
  if (rc) return rc;
  return cutoff != UINT64_MAX;
}

int kr_node_invite_used(kr_node *n, const uint8_t invite[static KR_SUBJECT_LEN])
{
  sqlite3_stmt *s;
  int rc;

  if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM admits WHERE invite=?1", -1, &s, NULL))
    return KR_EDB;
  sqlite3_bind_blob(s, 1, invite, KR_SUBJECT_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  sqlite3_finalize(s);
  return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : KR_EDB;
}

int kr_node_max_seq(kr_node *n, const uint8_t origin[static KR_NODE_LEN], uint64_t *seq)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_CHG_MAXSEQ);
  if (!s) return KR_EDB;
  *seq = 0;
  sqlite3_bind_blob(s, 1, origin, KR_NODE_LEN, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW)
    *seq = (uint64_t)sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  return 0;
}

int kr_node_admit(kr_node *n, const uint8_t member[static KR_NODE_LEN], const char *org,
                  const char *kind, const uint8_t invite_pk[static KR_NODE_LEN],
                  const uint8_t proof[static 64])
{
  kr_op op;
  uint64_t cutoff;
  int admitted, rc;

  /* A member, or a removed one: a removed node never comes back under
   * the same key (it joins again as a new node). */
  if ((rc = member_state(n, member, &admitted, &cutoff))) return rc;
  if (admitted || cutoff != UINT64_MAX) return KR_EEXISTS;
  memset(&op, 0, sizeof op);
  op.type = KR_OP_ADMIT;
  kr_invite_key_id(invite_pk, op.subject);
  memcpy(op.invite_pk, invite_pk, KR_NODE_LEN);
  memcpy(op.proof, proof, 64);
  memcpy(op.member, member, KR_NODE_LEN);
  op.org = org;
  op.kind = kind;
  if (kr_admit_check(&op)) return KR_EBADSIG;   /* the proof binds name and kind too */
  return commit_op(n, &op);
}

/* The origin's contiguous prefix held (its version vector entry). */
static int contig_of(kr_node *n, const uint8_t origin[KR_NODE_LEN], uint64_t *seq)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_ORIGIN_GET);
  int rc;
  *seq = 0;
  if (!s) return KR_EDB;
  sqlite3_bind_blob(s, 1, origin, KR_NODE_LEN, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *seq = (uint64_t)sqlite3_column_int64(s, 1);
  sqlite3_reset(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : KR_EDB;
}

int kr_node_expel(kr_node *n, const uint8_t member[static KR_NODE_LEN], const char *reason)
{
  kr_op op;
  int rc;

  if (memcmp(member, n->founder, KR_NODE_LEN) == 0) return KR_EFOUNDER;
  if ((rc = kr_node_is_member(n, member)) < 0) return rc;
  if (!rc) return KR_ENOTFOUND;
  if (!reason || kr__has_bsn(reason)) return reason ? KR_EBSN : KR_EINVAL;
  memset(&op, 0, sizeof op);
  op.type = KR_OP_EXPEL;
  memcpy(op.subject, n->network, KR_NETWORK_LEN);
  memcpy(op.member, member, KR_NODE_LEN);
  op.value = reason;
  /* What this node holds of it without a gap from seq 1 counts; nothing
   * past that: not a change held aside (stamped ahead of this clock), nor
   * one it holds past a gap, which it cannot vouch for. */
  if ((rc = contig_of(n, member, &op.after_seq))) return rc;
  return commit_op(n, &op);
}
