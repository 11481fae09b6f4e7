/*
 * purpose: the network's list of consent purposes (docs/crdt.md,
 * "Purposes"). Each purpose is a name (the purpose syntax of grants), a
 * one-line description for people and the version of the consent text
 * that goes with it. They are not personal data: PURPOSE ops travel in
 * clear, every member may add one or change one, and every node keeps, per
 * name, the description and text version of the op with the greatest
 * stamp (last writer wins). A purpose is never deleted: the consent
 * history of volunteers refers to it.
 *
 *   purposes   name -> description, text_version and the stamp that set them
 *
 * The founder's first change carries a starting list (kr__found), so a
 * new network can record consent at once.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/err.h"
#include "crdt/merge.h"
#include "node/internal.h"
#include "node/validate.h"

/* The starting list: English names, Dutch descriptions (for the Dutch
 * volunteer coordinators who read them). */
static const struct {
  const char *name, *description;
} starting[] = {
  {"contact", "om contact op te nemen over vrijwilligerswerk"},
  {"matching", "om de vrijwilliger te koppelen aan passend vrijwilligerswerk"},
  {"placement", "om een plaatsing bij een organisatie te regelen en bij te houden"},
  {"newsletter", "om de nieuwsbrief te sturen"},
  {"photos", "om foto's van de vrijwilliger te gebruiken in publicaties"},
};

static void purpose_op(kr_op *op, const char *name, const char *description,
                       const char *text_version)
{
  memset(op, 0, sizeof *op);
  op->type = KR_OP_PURPOSE;
  kr_purpose_key(name, op->subject);
  op->purpose = name;
  op->value = description;
  op->text_version = text_version;
}

int kr__purposes_start(kr_txn *t)
{
  int rc = 0;

  for (size_t i = 0; i < sizeof starting / sizeof starting[0] && !rc; i++) {
    kr_op op;
    purpose_op(&op, starting[i].name, starting[i].description, "");
    rc = kr__txn_member_op(t, &op);
  }
  return rc;
}

/* Fold one PURPOSE op (stamp st, of the change whose origin is
 * n->cur_origin): it sets the entry when its stamp is the greatest. */
int kr__purpose_apply(kr_node *n, const kr_op *op, const kr_stamp *st)
{
  static const char get[] = "SELECT p.hlc, o.key, p.idx FROM purposes p JOIN origins o "
                            "ON o.n=p.origin WHERE p.name=?1";
  static const char put[] = "INSERT OR REPLACE INTO purposes(name, description, text_version,"
                            " hlc, origin, idx) VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
  sqlite3_stmt *s = kr__qs(n, get);
  int rc = 0, newer = 1;

  if (!s) return KR_EDB;
  sqlite3_bind_text(s, 1, op->purpose, -1, SQLITE_STATIC);
  if (kr__step(s, &rc)) {
    kr_stamp cur;
    kr__read_stamp(s, 0, &cur);
    newer = kr_stamp_cmp(st, &cur) > 0;
  }
  sqlite3_reset(s);
  if (rc || !newer) return rc;
  if (!(s = kr__qs(n, put))) return KR_EDB;
  sqlite3_bind_text(s, 1, op->purpose, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, op->value, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, op->text_version, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, (sqlite3_int64)st->hlc);
  sqlite3_bind_int64(s, 5, n->cur_origin);
  sqlite3_bind_int64(s, 6, st->idx);
  kr__step(s, &rc);
  sqlite3_reset(s);
  return rc;
}

int kr_node_purpose_set(kr_node *n, const char *name, const char *description,
                        const char *text_version, const char **why)
{
  const char *dummy;
  kr_purpose cur;
  kr_txn *t;
  kr_op op;
  int rc;

  if (!why) why = &dummy;
  *why = NULL;
  if (!text_version) text_version = "";
  if (!name || !kr_purpose_name_ok(name)) {
    *why = "a purpose is 1-40 characters a-z, 0-9 or '-'";
    return KR_EVALIDATION;
  }
  if (!description || !description[0] || strlen(description) > KR_PURPOSE_DESC_MAX) {
    *why = "a description of 1-200 bytes is required";
    return KR_EVALIDATION;
  }
  if (strlen(text_version) > KR_TEXT_VERSION_MAX) {
    *why = "a text version is at most 64 bytes";
    return KR_EVALIDATION;
  }
  purpose_op(&op, name, description, text_version);
  if ((rc = kr_op_values_ok(&op, 0, why))) return rc;
  if (kr_op_check(&op)) {
    *why = "not allowed in a purpose";
    return KR_EVALIDATION;
  }
  /* Nothing to change: no change. */
  rc = kr_node_purpose_get(n, name, &cur);
  if (rc == 0) {
    int same = !strcmp(cur.description, description) && !strcmp(cur.text_version, text_version);
    kr_purpose_free(&cur);
    if (same) return 0;
  } else if (rc != KR_ENOTFOUND) {
    return rc;
  }
  if ((rc = kr_txn_begin(n, &t))) return rc;
  if ((rc = kr__txn_member_op(t, &op))) {
    kr_txn_abort(t);
    return rc;
  }
  return kr_txn_commit(t, NULL);
}

static void row(sqlite3_stmt *s, kr_purpose *p)
{
  memset(p, 0, sizeof *p);
  p->name = (const char *)sqlite3_column_text(s, 0);
  p->description = (const char *)sqlite3_column_text(s, 1);
  p->text_version = (const char *)sqlite3_column_text(s, 2);
  kr__read_stamp(s, 3, &p->changed);
}

int kr_node_purposes(kr_node *n, kr_purpose_cb cb, void *ctx)
{
  static const char sql[] = "SELECT p.name, p.description, p.text_version, p.hlc, o.key, p.idx"
                            " FROM purposes p JOIN origins o ON o.n=p.origin ORDER BY p.name";
  sqlite3_stmt *s;
  int rc = 0;

  if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) != SQLITE_OK)
    return kr__db_err(sqlite3_errcode(n->db));
  while (!rc && kr__step(s, &rc)) {
    kr_purpose p;
    row(s, &p);
    rc = cb(ctx, &p);
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_purpose_get(kr_node *n, const char *name, kr_purpose *out)
{
  static const char sql[] = "SELECT p.name, p.description, p.text_version, p.hlc, o.key, p.idx"
                            " FROM purposes p JOIN origins o ON o.n=p.origin WHERE p.name=?1";
  sqlite3_stmt *s;
  int rc = 0;

  memset(out, 0, sizeof *out);
  if (sqlite3_prepare_v2(n->db, sql, -1, &s, NULL) != SQLITE_OK)
    return kr__db_err(sqlite3_errcode(n->db));
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  if (kr__step(s, &rc)) {
    kr_purpose p;
    row(s, &p);
    out->name = strdup(p.name);
    out->description = strdup(p.description);
    out->text_version = strdup(p.text_version);
    out->changed = p.changed;
    if (!out->name || !out->description || !out->text_version) {
      kr_purpose_free(out);
      rc = KR_ENOMEM;
    }
  } else if (!rc) {
    rc = KR_ENOTFOUND;
  }
  sqlite3_finalize(s);
  return rc;
}

void kr_purpose_free(kr_purpose *p)
{
  free((void *)p->name);
  free((void *)p->description);
  free((void *)p->text_version);
  memset(p, 0, sizeof *p);
}
