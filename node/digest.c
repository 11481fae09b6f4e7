/*
 * digest: feed the materialised state to crdt/digest.c in canonical order.
 * SQLite's BINARY collation compares bytes like memcmp and then length,
 * which is the order docs/crdt.md prescribes; "all" is stored as an empty
 * recipient and so sorts first. A step that fails fails the digest: a
 * digest of what a damaged page let through would look like divergence.
 */
#include <string.h>

#include <sodium.h>

#include "crdt/digest.h"
#include "crdt/err.h"
#include "node/internal.h"

/*
 * What every node holds alike, readers or not: BLAKE2b-256 over
 * "kring-held-1" and then, for each change held in (origin, seq) order, the
 * BLAKE2b-256 of its signed header. A redacted op keeps its hash in the
 * header, and everything else in the state follows from the changes, so
 * two nodes that hold the same changes agree whatever they may read.
 */
int kr_node_digest(kr_node *n, uint8_t out[static 32])
{
  crypto_generichash_state h;
  sqlite3_stmt *s;
  int rc = 0;

  if ((rc = sqlite3_prepare_v2(n->db, "SELECT c.header FROM changes c JOIN origins o ON"
                                      " o.n=c.origin ORDER BY o.key, c.seq", -1, &s, NULL)))
    return kr__db_err(rc);
  if ((rc = kr__exec(n, "BEGIN"))) {
    sqlite3_finalize(s);
    return rc;
  }
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const unsigned char *)"kring-held-1", 12);
  while (!rc && kr__step(s, &rc)) {
    uint8_t hh[32];
    crypto_generichash(hh, sizeof hh, sqlite3_column_blob(s, 0),
                       (size_t)sqlite3_column_bytes(s, 0), NULL, 0);
    crypto_generichash_update(&h, hh, sizeof hh);
  }
  sqlite3_finalize(s);
  kr__exec(n, "COMMIT");
  if (!rc) crypto_generichash_final(&h, out, 32);
  return rc;
}

/* The materialised state of the volunteers this node reads (and every
 * erasure marker), then the members, then the purposes: two nodes with the
 * same rights that hold the same changes agree. */
/* The values of sn: single fields by code, then set elements by field and
 * value (byte order), each distinct value once. */
static int digest_values(kr_node *n, sqlite3_int64 sn, kr_digest *d)
{
  kr_vstate *v;
  int rc = kr__vs_read(n, sn, &v);

  if (rc) return rc;
  for (int f = 1; f < 32; f++)
    if (v->f[f].value) kr_digest_field(d, f, v->f[f].value);
  for (int f = 32; f < 64 && !rc; f++) {
    char **vals;
    size_t k;
    if ((rc = kr__vs_values(v, f, &vals, &k))) break;
    for (size_t i = 0; i < k; i++) kr_digest_element(d, f, vals[i]);
    free(vals);
  }
  kr__vs_done(n, v);
  return rc;
}

int kr_node_digest_readable(kr_node *n, uint8_t out[static 32])
{
  sqlite3_stmt *subj = NULL, *er = NULL, *reg = NULL, *ops = NULL;
  kr_digest d;
  int rc = 0;

#define PREP(s, sql) \
  if ((rc = sqlite3_prepare_v2(n->db, sql, -1, &s, NULL)) != SQLITE_OK) { rc = kr__db_err(rc); goto out; }
  PREP(subj, "SELECT id, n FROM subjects s WHERE EXISTS (SELECT 1 FROM erasures e WHERE"
             " e.subj=s.n) OR EXISTS (SELECT 1 FROM vkeys k WHERE k.subj=s.n AND k.ok) ORDER BY id");
  PREP(er, "SELECT e.hlc, o.key, e.idx FROM erasures e JOIN origins o ON o.n=e.origin "
           "WHERE e.subj=?1");
  PREP(reg, "SELECT DISTINCT purpose, " RCPT_ID("recipient") " FROM consent_ops WHERE subj=?1 "
            "ORDER BY purpose, 2");
  PREP(ops, "SELECT tag FROM consent_ops WHERE subj=?1 AND purpose=?2 AND recipient="
            RCPT_NO("?3") " ORDER BY tag");
#undef PREP
  if ((rc = kr__exec(n, "BEGIN"))) goto out;
  kr_digest_init(&d);
  while (!rc && kr__step(subj, &rc)) {
    const uint8_t *id = sqlite3_column_blob(subj, 0);
    sqlite3_int64 sn = sqlite3_column_int64(subj, 1);
    sqlite3_reset(er);
    sqlite3_bind_int64(er, 1, sn);
    if (kr__step(er, &rc)) {
      kr_stamp m;
      kr__read_stamp(er, 0, &m);
      kr_digest_erased(&d, id, &m);
      continue;
    }
    if (rc) break;
    kr_digest_subject(&d, id);
    if ((rc = digest_values(n, sn, &d))) break;
    sqlite3_reset(reg);
    sqlite3_bind_int64(reg, 1, sn);
    while (!rc && kr__step(reg, &rc)) {
      const char *purpose = (const char *)sqlite3_column_text(reg, 0);
      const void *r = sqlite3_column_blob(reg, 1);
      int rlen = sqlite3_column_bytes(reg, 1);
      kr_consent_state st;
      uint8_t tag[KR_TAG_LEN];
      int has;
      /* The grant in force does not depend on the day; only its reading does. */
      if ((rc = kr__consent_in_force(n, sn, purpose, rlen ? r : "", rlen, "0000-00-00", &st, tag,
                                     &has)))
        break;
      kr_digest_consent(&d, purpose, rlen ? r : NULL, has ? tag : NULL);
      sqlite3_reset(ops);
      sqlite3_bind_int64(ops, 1, sn);
      sqlite3_bind_text(ops, 2, purpose, -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(ops, 3, rlen ? r : "", rlen, SQLITE_TRANSIENT);
      while (!rc && kr__step(ops, &rc))
        kr_digest_consent_op(&d, sqlite3_column_blob(ops, 0));
    }
  }
  if (rc) goto rollback;
  {
    sqlite3_stmt *m;
    if ((rc = sqlite3_prepare_v2(n->db, "SELECT node, org, kind, cutoff FROM members ORDER BY node",
                                 -1, &m, NULL))) {
      rc = kr__db_err(rc);
      goto rollback;
    }
    while (!rc && kr__step(m, &rc)) {
      if (sqlite3_column_bytes(m, 0) != KR_NODE_LEN) continue;
      kr_digest_member(&d, sqlite3_column_blob(m, 0), (const char *)sqlite3_column_text(m, 1),
                       (const char *)sqlite3_column_text(m, 2),
                       sqlite3_column_type(m, 3) == SQLITE_NULL
                           ? UINT64_MAX : (uint64_t)sqlite3_column_int64(m, 3));
    }
    sqlite3_finalize(m);
    if (rc) goto rollback;
  }
  {
    sqlite3_stmt *p;
    if ((rc = sqlite3_prepare_v2(n->db, "SELECT name, description, text_version FROM purposes"
                                        " ORDER BY name", -1, &p, NULL))) {
      rc = kr__db_err(rc);
      goto rollback;
    }
    while (!rc && kr__step(p, &rc))
      kr_digest_purpose(&d, (const char *)sqlite3_column_text(p, 0),
                        (const char *)sqlite3_column_text(p, 1),
                        (const char *)sqlite3_column_text(p, 2));
    sqlite3_finalize(p);
    if (rc) goto rollback;
  }
  kr_digest_final(&d, out);
rollback:
  kr__exec(n, "COMMIT");
out:
  sqlite3_finalize(subj);
  sqlite3_finalize(er);
  sqlite3_finalize(reg);
  sqlite3_finalize(ops);
  return rc;
}
