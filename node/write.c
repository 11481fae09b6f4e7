/*
 * write: local edits. A kr_txn collects validated operations; commit signs
 * them as this node's next change and applies it through the same path as
 * a remote change, in one SQLite transaction. Removes and grants record
 * what this node has observed (the add tags being removed, the withdrawals
 * a new grant supersedes), which is what makes the merge rules work.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/i18n.h"
#include "node/internal.h"
#include "node/validate.h"

struct kr_txn {
  kr_node *n;
  kr_op *ops;
  size_t nops, cap;
  void **own;                 /* strings and tag arrays the ops point to */
  size_t nown, owncap;
  uint8_t (*fresh)[KR_SUBJECT_LEN];  /* subjects created in this txn */
  size_t nfresh, freshcap;
  uint8_t nonce[KR_NONCE_LEN];       /* the change's: new subjects derive from it */
  uint32_t nreg;                     /* REGISTER ops so far */
};

static void *keep(kr_txn *t, void *p)
{
  if (!p) return NULL;
  if (t->nown == t->owncap) {
    size_t nc = t->owncap ? 2 * t->owncap : 16;
    void **o = realloc(t->own, nc * sizeof *o);
    if (!o) { free(p); return NULL; }
    t->own = o;
    t->owncap = nc;
  }
  t->own[t->nown++] = p;
  return p;
}

static const char *keep_str(kr_txn *t, const char *s)
{
  return keep(t, strdup(s));
}

/* The tags a bound statement yields (column 0), at most KR_TAGS_MAX; the
 * statement is reset. *tags is NULL when there are none. */
static int collect_tags(sqlite3_stmt *s, uint8_t **tags, uint32_t *n)
{
  *tags = NULL;
  *n = 0;
  while (sqlite3_step(s) == SQLITE_ROW && *n < KR_TAGS_MAX) {
    uint8_t *nt = realloc(*tags, ((size_t)*n + 1) * KR_TAG_LEN);
    if (!nt) {
      free(*tags);
      *tags = NULL;
      sqlite3_reset(s);
      return KR_ENOMEM;
    }
    *tags = nt;
    memcpy(*tags + (size_t)*n * KR_TAG_LEN, sqlite3_column_blob(s, 0), KR_TAG_LEN);
    ++*n;
  }
  sqlite3_reset(s);
  return 0;
}

static kr_op *next_op(kr_txn *t)
{
  if (t->nops >= KR_CHANGE_MAX_OPS) return NULL;
  if (t->nops == t->cap) {
    size_t nc = t->cap ? 2 * t->cap : 16;
    kr_op *o = realloc(t->ops, nc * sizeof *o);
    if (!o) return NULL;
    t->ops = o;
    t->cap = nc;
  }
  memset(&t->ops[t->nops], 0, sizeof t->ops[0]);
  return &t->ops[t->nops];
}

int kr_txn_begin(kr_node *n, kr_txn **out)
{
  kr_txn *t = calloc(1, sizeof *t);
  if (!t) return KR_ENOMEM;
  t->n = n;
  randombytes_buf(t->nonce, sizeof t->nonce);
  *out = t;
  return 0;
}

void kr_txn_abort(kr_txn *t)
{
  if (!t) return;
  for (size_t i = 0; i < t->nown; i++) free(t->own[i]);
  free(t->own);
  free(t->ops);
  free(t->fresh);
  free(t);
}

size_t kr_txn_count(const kr_txn *t) { return t->nops; }

void kr_txn_new_subject(kr_txn *t, uint8_t subject[static KR_SUBJECT_LEN])
{
  kr_op *op;

  /* the id only this node can register, derived from the change's nonce
   * and the registrations before it (the sealer keeps them in this order);
   * the registration goes first */
  kr_subject_derive(kr_node_id(t->n), t->nonce, t->nreg, subject);
  if ((op = next_op(t))) {
    op->type = KR_OP_REGISTER;
    memcpy(op->subject, subject, KR_SUBJECT_LEN);
    t->nops++;
    t->nreg++;
  }
  if (t->nfresh == t->freshcap) {
    size_t nc = t->freshcap ? 2 * t->freshcap : 16;
    void *f = realloc(t->fresh, nc * KR_SUBJECT_LEN);
    if (!f) return; /* the subject then reads as unknown: refused below */
    t->fresh = f;
    t->freshcap = nc;
  }
  memcpy(t->fresh[t->nfresh++], subject, KR_SUBJECT_LEN);
}

/* The subject must be new in this txn (*sn = 0), or known and not erased. */
static int check_subject(kr_txn *t, const uint8_t subject[KR_SUBJECT_LEN], sqlite3_int64 *sn)
{
  int rc;

  *sn = 0;
  for (size_t i = t->nfresh; i-- > 0;)
    if (memcmp(t->fresh[i], subject, KR_SUBJECT_LEN) == 0)
      return 0;
  if ((rc = kr__subject_n(t->n, subject, sn))) return rc;
  rc = kr__erased(t->n, *sn, NULL);
  if (rc) return rc < 0 ? rc : KR_EERASED;
  return kr__readable(t->n, *sn) ? 0 : KR_ESEALED;
}

static int this_year(kr_txn *t)
{
  time_t secs = (time_t)(kr_node_now_ms(t->n) / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  return tm.tm_year + 1900;
}

static int field_op(kr_txn *t, int type, const uint8_t subject[KR_SUBJECT_LEN],
                    int field, const char *value, const char **why)
{
  char norm[KR_VALUE_MAX + 1];
  sqlite3_int64 sn;
  kr_op *op;
  int rc;

  if (type == KR_OP_SET ? !kr_field_is_single(field) : !kr_field_is_set(field)) {
    if (why) *why = N_("not a field of that kind");
    return KR_EUNKNOWN;
  }
  if ((rc = check_subject(t, subject, &sn))) return rc;
  /* (the year only bounds a year of birth: the clock is read for that alone) */
  if (value && (rc = kr_normalise_field(field, value, norm, sizeof norm,
                                        field == KR_F_BIRTH_YEAR ? this_year(t) : 0, why)))
    return rc;
  if (!(op = next_op(t))) return KR_ETOOBIG;
  op->type = (uint8_t)type;
  memcpy(op->subject, subject, KR_SUBJECT_LEN);
  op->field = (uint8_t)field;
  if (value && !(op->value = keep_str(t, norm))) return KR_ENOMEM;
  /* given in normal form already (an import's second pass): the field
   * rules its apply runs would normalise it to itself again */
  op->normal = value && strcmp(value, norm) == 0;

  if (type == KR_OP_REMOVE) {
    kr_vstate *v;
    uint8_t *tags = NULL;
    uint32_t n = 0;
    /* sn is 0 for a new subject: no row, no tags */
    if ((rc = kr__vs_read(t->n, sn, &v))) return rc;
    rc = kr__vs_tags(v, field, norm, &tags, &n);
    kr__vs_done(t->n, v);
    if (rc) return rc;
    if (n > KR_TAGS_MAX) n = KR_TAGS_MAX;
    if (!n) {
      if (why) *why = N_("the volunteer has no such value");
      return KR_ENOTFOUND;
    }
    if (!(op->tags = keep(t, tags))) return KR_ENOMEM;
    op->ntags = n;
  }
  if ((rc = kr_op_check(op))) {
    if (why) *why = N_("value not allowed");
    return KR_EVALIDATION;
  }
  t->nops++;
  return 0;
}

int kr_txn_set(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN], int field,
               const char *value, const char **why)
{
  return field_op(t, KR_OP_SET, subject, field, value, why);
}

int kr_txn_add(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN], int field,
               const char *value, const char **why)
{
  if (!value) return KR_EINVAL;
  return field_op(t, KR_OP_ADD, subject, field, value, why);
}

int kr_txn_remove(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN], int field,
                  const char *value, const char **why)
{
  if (!value) return KR_EINVAL;
  return field_op(t, KR_OP_REMOVE, subject, field, value, why);
}

static int consent_op(kr_txn *t, int type, const uint8_t subject[KR_SUBJECT_LEN],
                      const char *purpose, const uint8_t *recipient, int method,
                      const char *text_version, const char *until, const char **why)
{
  kr_op *op;
  sqlite3_int64 sn;
  int rc;

  if ((rc = check_subject(t, subject, &sn))) return rc;
  if (text_version && (rc = kr_text_single_ok(text_version, strlen(text_version), why)))
    return rc;
  if (text_version && kr__has_bsn(text_version)) return KR_EBSN;
  if (!(op = next_op(t))) return KR_ETOOBIG;
  op->type = (uint8_t)type;
  memcpy(op->subject, subject, KR_SUBJECT_LEN);
  op->recipient_all = recipient == NULL;
  if (recipient) memcpy(op->recipient, recipient, KR_NODE_LEN);
  op->method = (uint8_t)method;
  if (!(op->purpose = keep_str(t, purpose ? purpose : "")) ||
      !(op->text_version = keep_str(t, text_version ? text_version : "")) ||
      !(op->until = keep_str(t, until ? until : "")))
    return KR_ENOMEM;

  if (type == KR_OP_GRANT && sn) {
    /* A grant observes every withdrawal this node holds for the register
     * (none for a volunteer this txn makes: sn 0). */
    sqlite3_stmt *s = kr__q(t->n, KR_Q_CON_WD_TAGS);
    uint8_t *tags = NULL;
    uint32_t n = 0;
    if (!s) return KR_EDB;
    sqlite3_bind_int64(s, 1, sn);
    sqlite3_bind_text(s, 2, op->purpose, -1, SQLITE_STATIC);
    if (recipient) sqlite3_bind_blob(s, 3, recipient, KR_NODE_LEN, SQLITE_STATIC);
    else sqlite3_bind_zeroblob(s, 3, 0);
    if (collect_tags(s, &tags, &n)) return KR_ENOMEM;
    if (n && !(op->tags = keep(t, tags))) return KR_ENOMEM;
    op->ntags = n;
  }
  if ((rc = kr_op_check(op))) {
    if (why)
      *why = !op->purpose[0] || strlen(op->purpose) > KR_PURPOSE_MAX ||
                     strspn(op->purpose, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(op->purpose)
                 ? N_("purpose must be 1-40 characters a-z, 0-9 or '-'")
             : op->method > KR_METHOD_DIGITAL ? N_("unknown method")
             : type == KR_OP_GRANT && op->until[0] ? N_("end date must be a real date YYYY-MM-DD")
                                                   : N_("text version not allowed");
    return KR_EVALIDATION;
  }
  t->nops++;
  return 0;
}

int kr_txn_grant(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN],
                 const char *purpose, const uint8_t *recipient, int method,
                 const char *text_version, const char *until, const char **why)
{
  return consent_op(t, KR_OP_GRANT, subject, purpose, recipient, method, text_version,
                    until, why);
}

int kr_txn_withdraw(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN],
                    const char *purpose, const uint8_t *recipient, int method,
                    const char *text_version, const char **why)
{
  return consent_op(t, KR_OP_WITHDRAW, subject, purpose, recipient, method, text_version,
                    "", why);
}

int kr_txn_erase(kr_txn *t, const uint8_t subject[static KR_SUBJECT_LEN],
                 const char *reason, const char **why)
{
  kr_op *op;
  sqlite3_int64 sn;
  int rc;

  if ((rc = check_subject(t, subject, &sn))) return rc;
  if (!reason || !reason[0] || strlen(reason) > KR_REASON_MAX) {
    if (why) *why = N_("a reason (up to 1000 characters of text) is required");
    return KR_EVALIDATION;
  }
  if ((rc = kr_text_single_ok(reason, strlen(reason), why))) return rc;
  if (kr__has_bsn(reason)) return KR_EBSN;
  if (!(op = next_op(t))) return KR_ETOOBIG;
  op->type = KR_OP_ERASE;
  memcpy(op->subject, subject, KR_SUBJECT_LEN);
  if (!(op->value = keep_str(t, reason))) return KR_ENOMEM;
  t->nops++;
  return 0;
}

int kr__txn_member_op(kr_txn *t, const kr_op *in)
{
  kr_op *op;

  if ((!KR_OP_IS_MEMBERSHIP(in->type) && in->type != KR_OP_PURPOSE) || kr_op_check(in))
    return KR_EINVAL;
  if (!(op = next_op(t))) return KR_ETOOBIG;
  *op = *in;
  if ((in->org && !(op->org = keep_str(t, in->org))) ||
      (in->kind && !(op->kind = keep_str(t, in->kind))) ||
      (in->value && !(op->value = keep_str(t, in->value))) ||
      (in->purpose && !(op->purpose = keep_str(t, in->purpose))) ||
      (in->text_version && !(op->text_version = keep_str(t, in->text_version))))
    return KR_ENOMEM;
  t->nops++;
  return 0;
}

int kr__author(kr_node *n, const kr_op *ops, uint32_t nops, const uint8_t *nonce, kr_buf *wire)
{
  kr_buf buf;
  kr_change c;
  int64_t clock;
  uint64_t seq;
  kr_hlc hlc;
  int rc, fresh;

  /* Another kring process may have committed since we opened: reread. */
  if ((rc = kr__meta_get_int(n, "clock", &clock))) return rc;
  n->clock = (kr_hlc)clock;
  if ((rc = kr_node_max_seq(n, kr_node_id(n), &seq))) return rc;
  seq++;
  hlc = kr_hlc_tick(&n->clock, kr_node_now_ms(n));
  kr_buf_init(&buf, KR_CHANGE_MAX);
  /* the subjects sealing makes are made for this change (kr__apply_change) */
  kr__own_done(n);
  n->authoring = 1;
  if (!(rc = kr__subject_next(n, &n->fresh_from)) &&
      !(rc = kr__seal_change(n, seq, hlc, nonce, ops, nops, &buf, &c))) {
    rc = kr__apply_change(n, &c, &fresh);
    kr_change_free(&c);
  }
  kr__own_done(n);
  n->authoring = 0;
  n->fresh_from = 0;
  if (!rc && wire) rc = kr_buf_add(wire, buf.data, buf.len);
  kr_buf_free(&buf);
  return rc;
}

int kr_txn_commit(kr_txn *t, kr_buf *wire)
{
  kr_node *n = t->n;
  size_t before = wire ? wire->len : 0;
  int rc;

  if (t->nops == 0) { kr_txn_abort(t); return KR_EINVAL; }
  if (!n->grouped && (rc = kr__exec(n, "BEGIN IMMEDIATE"))) { kr_txn_abort(t); return rc; }
  n->touched.n = n->reopen.n = n->replay.n = n->retry.n = n->issued.n = n->cut.n = 0;
  n->memb_changed = 0;
  if ((rc = kr__release_held(n)) || (rc = kr__author(n, t->ops, (uint32_t)t->nops, t->nonce, wire)) ||
      (rc = kr__finish(n, wire)))
    goto fail;
  if (n->grouped) {                          /* kr_node_group_end commits */
    kr_txn_abort(t);
    return 0;
  }
  if ((rc = kr__exec(n, "COMMIT"))) goto fail;
  kr__after_commit(n);
  kr_txn_abort(t);
  return 0;
fail:
  if (!n->grouped) {                         /* else the group's end rolls back */
    kr__exec(n, "ROLLBACK");
    n->need_fts_optimize = 0;
  }
  if (wire) wire->len = before;
  kr_txn_abort(t);
  return rc;
}

int kr_node_group_begin(kr_node *n)
{
  int rc;
  if (n->grouped) return KR_EINVAL;
  if ((rc = kr__exec(n, "BEGIN IMMEDIATE"))) return rc;
  n->grouped = 1;
  return 0;
}

int kr_node_group_end(kr_node *n, int commit)
{
  int rc = 0;
  if (!n->grouped) return KR_EINVAL;
  n->grouped = 0;
  if (commit && !(rc = kr__exec(n, "COMMIT"))) {
    kr__after_commit(n);
    return 0;
  }
  kr__exec(n, "ROLLBACK");
  n->need_fts_optimize = 0;
  return rc;
}
