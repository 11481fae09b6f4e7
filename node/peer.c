/*
 * peer: the address book of peers this node syncs with over the network
 * (table addrs): a name the administrator chose, a HOST:PORT, the node id
 * that answered there last, and how the last attempt went.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/err.h"
#include "node/internal.h"

#define STEP_DONE(s) (sqlite3_step(s) == SQLITE_DONE ? 0 : KR_EDB)

static int run(kr_node *n, const char *sql, sqlite3_stmt **out)
{
  return sqlite3_prepare_v2(n->db, sql, -1, out, NULL) == SQLITE_OK ? 0 : KR_EDB;
}

int kr_node_addr_add(kr_node *n, const char *name, const char *addr)
{
  sqlite3_stmt *s;
  int rc;
  if ((rc = run(n, "INSERT OR IGNORE INTO addrs(name, addr, added) VALUES(?1,?2,?3)", &s)))
    return rc;
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, addr, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)kr_node_now_ms(n));
  rc = STEP_DONE(s);
  if (!rc && sqlite3_changes(n->db) == 0) rc = KR_EEXISTS;
  sqlite3_finalize(s);
  return rc;
}

int kr_node_addr_remove(kr_node *n, const char *name)
{
  sqlite3_stmt *s;
  int rc;
  if ((rc = run(n, "DELETE FROM addrs WHERE name=?1", &s))) return rc;
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  rc = STEP_DONE(s);
  if (!rc && sqlite3_changes(n->db) == 0) rc = KR_ENOTFOUND;
  sqlite3_finalize(s);
  return rc;
}

int kr_node_addrs(kr_node *n, kr_addr_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc, step;
  if ((rc = run(n, "SELECT name, addr, node, added, last_ok, last_try, last_err FROM addrs"
                   " ORDER BY name", &s)))
    return rc;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    kr_addr a;
    memset(&a, 0, sizeof a);
    a.name = (const char *)sqlite3_column_text(s, 0);
    a.addr = (const char *)sqlite3_column_text(s, 1);
    if (sqlite3_column_bytes(s, 2) == KR_NODE_LEN) {
      memcpy(a.node, sqlite3_column_blob(s, 2), KR_NODE_LEN);
      a.has_node = 1;
    }
    a.added_ms = (uint64_t)sqlite3_column_int64(s, 3);
    a.last_ok_ms = (uint64_t)sqlite3_column_int64(s, 4);
    a.last_try_ms = (uint64_t)sqlite3_column_int64(s, 5);
    a.last_err = (const char *)sqlite3_column_text(s, 6);
    if ((rc = cb(ctx, &a))) break;
  }
  if (!rc && step != SQLITE_DONE) rc = KR_EDB;
  sqlite3_finalize(s);
  return rc;
}

int kr_node_addr_result(kr_node *n, const char *name, const uint8_t *node, const char *err)
{
  sqlite3_stmt *s;
  int rc;
  if ((rc = run(n, "UPDATE addrs SET node=coalesce(?2, node), last_try=?3,"
                   " last_ok=CASE WHEN ?4 IS NULL THEN ?3 ELSE last_ok END, last_err=?4"
                   " WHERE name=?1", &s)))
    return rc;
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  if (node) sqlite3_bind_blob(s, 2, node, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)kr_node_now_ms(n));
  if (err) sqlite3_bind_text(s, 4, err, -1, SQLITE_STATIC);
  rc = STEP_DONE(s);
  sqlite3_finalize(s);
  return rc;
}

/* Peers whose wall clock differed from this node's by more than
 * KR_HLC_MAX_SKEW_MS at their last handshake (table clock_skew): sessions
 * with them are refused until the clocks agree again. */
int kr_node_clock_note(kr_node *n, const uint8_t peer[static KR_NODE_LEN], int64_t skew_ms)
{
  sqlite3_stmt *s;
  int rc, off = skew_ms > (int64_t)KR_HLC_MAX_SKEW_MS || skew_ms < -(int64_t)KR_HLC_MAX_SKEW_MS;

  if (!off) {
    /* The common case writes nothing: only a note that is there goes. */
    if ((rc = run(n, "SELECT 1 FROM clock_skew WHERE peer=?1", &s))) return rc;
    sqlite3_bind_blob(s, 1, peer, KR_NODE_LEN, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return KR_EDB;
  }
  if ((rc = run(n, off ? "INSERT OR REPLACE INTO clock_skew(peer, skew, at) VALUES(?1,?2,?3)"
                       : "DELETE FROM clock_skew WHERE peer=?1", &s)))
    return rc;
  sqlite3_bind_blob(s, 1, peer, KR_NODE_LEN, SQLITE_STATIC);
  if (off) {
    sqlite3_bind_int64(s, 2, skew_ms);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)kr_node_now_ms(n));
  }
  rc = STEP_DONE(s);
  sqlite3_finalize(s);
  return rc;
}

int kr_node_clock_notes(kr_node *n, kr_clock_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc = 0, step;

  if ((rc = run(n, "SELECT peer, skew, at FROM clock_skew ORDER BY at", &s))) return rc;
  while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
    kr_clock_note c;
    if (sqlite3_column_bytes(s, 0) != KR_NODE_LEN) continue;
    memcpy(c.peer, sqlite3_column_blob(s, 0), KR_NODE_LEN);
    c.skew_ms = sqlite3_column_int64(s, 1);
    c.at_ms = (uint64_t)sqlite3_column_int64(s, 2);
    rc = cb(ctx, &c);
  }
  if (!rc && step != SQLITE_DONE) rc = KR_EDB;
  sqlite3_finalize(s);
  return rc;
}
