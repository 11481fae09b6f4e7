/* export: the local record of exports (see export.h; table `exports`,
 * schema migration 5 -> 6 in store.c). */
#include <string.h>

#include "crdt/err.h"
#include "node/export.h"
#include "node/internal.h"

int kr_node_export_record(kr_node *n, const kr_export_rec *r)
{
  sqlite3_stmt *s;
  int rc;

  if (sqlite3_prepare_v2(n->db, "INSERT INTO exports(at,user,format,fields,filter,count,file) "
                                "VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &s, NULL) != SQLITE_OK)
    return kr__db_err(sqlite3_errcode(n->db));
  sqlite3_bind_int64(s, 1, (sqlite3_int64)r->at_ms);
  sqlite3_bind_text(s, 2, r->user ? r->user : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, r->format, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, r->fields, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, r->filter ? r->filter : "", -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 6, (sqlite3_int64)r->count);
  sqlite3_bind_text(s, 7, r->file, -1, SQLITE_STATIC);
  rc = sqlite3_step(s);
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? 0 : kr__db_err(rc);
}

int kr_node_exports(kr_node *n, kr_export_cb cb, void *ctx)
{
  sqlite3_stmt *s;
  int rc = 0;

  if (sqlite3_prepare_v2(n->db, "SELECT at,user,format,fields,filter,count,file FROM exports "
                                "ORDER BY n", -1, &s, NULL) != SQLITE_OK)
    return kr__db_err(sqlite3_errcode(n->db));
  while (!rc && kr__step(s, &rc)) {
    kr_export_rec r;
    r.at_ms = (uint64_t)sqlite3_column_int64(s, 0);
    r.user = (const char *)sqlite3_column_text(s, 1);
    r.format = (const char *)sqlite3_column_text(s, 2);
    r.fields = (const char *)sqlite3_column_text(s, 3);
    r.filter = (const char *)sqlite3_column_text(s, 4);
    r.count = (uint64_t)sqlite3_column_int64(s, 5);
    r.file = (const char *)sqlite3_column_text(s, 6);
    rc = cb(ctx, &r);
  }
  sqlite3_finalize(s);
  return rc;
}
