/*
 * store: the node's home directory, key file and SQLite store. Opening
 * checks the key file (docs/protocol.md, "Node key file") and keeps the
 * key in guarded memory, refuses a store that is damaged or holds no kring
 * schema (only creating a node writes one), falls back to reading a store
 * it cannot write, runs the schema migrations (PRAGMA user_version), sets
 * WAL mode and secure_delete (deleted personal data is overwritten, not
 * just unlinked), and prepares statements on first use.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/i18n.h"
#include "node/internal.h"
#include "node/validate.h"

#define KEY_FILE "node.key"
#define DB_FILE  "kring.db"

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[] = {
  /* 0 -> 1: the first schema. Node keys are stored once, in origins, and
   * subjects once, in subjects; the other tables refer to them by number.
   * Numbers grow in arrival order, so new rows land at the end of every
   * B-tree instead of at random places (random 128-bit ids as keys made
   * each commit rewrite pages all over the file). */
  "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
  "CREATE TABLE origins(n INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE);"
  "CREATE TABLE changes(n INTEGER PRIMARY KEY, origin INTEGER NOT NULL REFERENCES origins,"
  "  seq INTEGER NOT NULL, hlc INTEGER NOT NULL, header BLOB NOT NULL, sig BLOB NOT NULL,"
  "  nops INTEGER NOT NULL, arrived INTEGER NOT NULL, UNIQUE(origin, seq));"
  "CREATE TABLE subjects(n INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE);"
  "CREATE TABLE ops(chg INTEGER NOT NULL, idx INTEGER NOT NULL, subj INTEGER,"
  "  rsubject BLOB, type INTEGER NOT NULL, field INTEGER NOT NULL, body BLOB,"
  "  PRIMARY KEY(chg, idx)) WITHOUT ROWID;"
  "CREATE INDEX ops_subj ON ops(subj);"
  "CREATE TABLE erasures(subj INTEGER PRIMARY KEY, hlc INTEGER NOT NULL,"
  "  origin INTEGER NOT NULL, idx INTEGER NOT NULL, reason TEXT);"
  "CREATE TABLE fields(subj INTEGER NOT NULL, field INTEGER NOT NULL, value TEXT,"
  "  hlc INTEGER NOT NULL, origin INTEGER NOT NULL, idx INTEGER NOT NULL,"
  "  PRIMARY KEY(subj, field)) WITHOUT ROWID;"
  "CREATE INDEX fields_city ON fields(value COLLATE NOCASE) WHERE field=5;"
  "CREATE TABLE set_adds(subj INTEGER NOT NULL, field INTEGER NOT NULL, value TEXT NOT NULL,"
  "  tag BLOB NOT NULL, live INTEGER NOT NULL,"
  "  PRIMARY KEY(subj, field, value, tag)) WITHOUT ROWID;"
  "CREATE INDEX set_adds_value ON set_adds(field, value COLLATE NOCASE) WHERE live;"
  "CREATE TABLE set_removed(subj INTEGER NOT NULL, field INTEGER NOT NULL,"
  "  value TEXT NOT NULL, tag BLOB NOT NULL,"
  "  PRIMARY KEY(subj, field, value, tag)) WITHOUT ROWID;"
  "CREATE TABLE consent_ops(subj INTEGER NOT NULL, purpose TEXT NOT NULL,"
  "  recipient BLOB NOT NULL, tag BLOB NOT NULL, is_grant INTEGER NOT NULL,"
  "  method INTEGER NOT NULL, text_version TEXT NOT NULL, until TEXT NOT NULL,"
  "  hlc INTEGER NOT NULL, origin INTEGER NOT NULL, idx INTEGER NOT NULL,"
  "  seq INTEGER NOT NULL, PRIMARY KEY(subj, purpose, recipient, tag)) WITHOUT ROWID;"
  "CREATE TABLE consent_observed(subj INTEGER NOT NULL, grant_tag BLOB NOT NULL,"
  "  withdraw_tag BLOB NOT NULL, PRIMARY KEY(subj, grant_tag, withdraw_tag)) WITHOUT ROWID;"
  "CREATE VIRTUAL TABLE vol_fts USING fts5(name, skills, city, notes,"
  "  tokenize='unicode61 remove_diacritics 2');",

  /* 1 -> 2: networks. Per origin the contiguous prefix held (the version
   * vector; a store from version 1 without gaps keeps its whole prefix,
   * with gaps it starts at 0 and catches up on the next change), changes
   * that carry membership ops, the members, and what each peer was last
   * known to hold. */
  "ALTER TABLE origins ADD COLUMN contig INTEGER NOT NULL DEFAULT 0;"
  "UPDATE origins SET contig=(SELECT CASE WHEN count(*)=max(seq) THEN max(seq) ELSE 0 END "
  "  FROM changes WHERE origin=origins.n);"
  "ALTER TABLE changes ADD COLUMN memb INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX changes_memb ON changes(hlc) WHERE memb;"
  "CREATE TABLE members(node BLOB PRIMARY KEY, org TEXT, kind TEXT, invite BLOB,"
  "  a_hlc INTEGER, a_origin BLOB, a_idx INTEGER, cutoff INTEGER,"
  "  r_hlc INTEGER, r_origin BLOB, r_idx INTEGER, reason TEXT) WITHOUT ROWID;"
  "CREATE INDEX members_invite ON members(invite);"
  "CREATE TABLE peers(node BLOB PRIMARY KEY, vector BLOB NOT NULL,"
  "  seen INTEGER NOT NULL) WITHOUT ROWID;",

  /* 2 -> 3: the address book of peers to sync with over the network, and
   * the outcome of the last attempt with each. */
  "CREATE TABLE addrs(name TEXT PRIMARY KEY, addr TEXT NOT NULL, node BLOB, added INTEGER NOT NULL, last_ok INTEGER, last_try INTEGER, last_err TEXT);",

  /* 3 -> 4: changes that erase travel first too (memb now means "sent
   * first, ahead of the origin's prefix": membership or erasure). */
  "UPDATE changes SET memb=1 WHERE n IN (SELECT chg FROM ops WHERE type=6);",

  /* 4 -> 5: every admission (one invite admits one node network-wide: the
   * earliest admission of an invite voids the others, so all are kept to
   * decide); changes held because they are stamped ahead of this clock
   * (applied when it reaches them); peers whose clock was too far off. */
  "CREATE TABLE admits(node BLOB NOT NULL, invite BLOB, hlc INTEGER NOT NULL,"
  "  origin BLOB NOT NULL, idx INTEGER NOT NULL, org TEXT NOT NULL, kind TEXT NOT NULL,"
  "  UNIQUE(hlc, origin, idx));"
  "CREATE INDEX admits_node ON admits(node);"
  "CREATE INDEX admits_invite ON admits(invite);"
  "INSERT INTO admits SELECT node, invite, a_hlc, a_origin, a_idx, org, kind FROM members"
  "  WHERE org IS NOT NULL;"
  "CREATE TABLE held(origin BLOB NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,"
  "  header BLOB NOT NULL, bytes BLOB NOT NULL, arrived INTEGER NOT NULL,"
  "  PRIMARY KEY(origin, seq)) WITHOUT ROWID;"
  "CREATE TABLE clock_skew(peer BLOB PRIMARY KEY, skew INTEGER NOT NULL,"
  "  at INTEGER NOT NULL) WITHOUT ROWID;",

  /* 5 -> 6: the local record of exports (kring export, kring log
   * --exports): who wrote which fields of how many volunteers to which
   * file, and when. Not replicated. */
  "CREATE TABLE exports(n INTEGER PRIMARY KEY, at INTEGER NOT NULL, user TEXT NOT NULL,"
  "  format TEXT NOT NULL, fields TEXT NOT NULL, filter TEXT NOT NULL,"
  "  count INTEGER NOT NULL, file TEXT NOT NULL);",

  /* 6 -> 7: consent decides who reads (change format 2). Stores of
   * version 1..6 hold changes of format 1 and are refused (migrate); a new
   * store runs this step too. vkeys: the volunteer keys this node holds
   * (secret; deleted when it stops reading; ok once it opened a group;
   * trusted when this node made it or the epoch's creator sent it: only
   * those are written under); keyops: every key op, who got which epoch's
   * key from whom (clear, on every node); registrations: the earliest
   * registration of each volunteer (its origin is the registrar); access:
   * this node's own record of volunteers it stopped reading; bad_groups:
   * boxes this node opened whose ops break the rules (ignored);
   * purposes: the network's consent purposes, the latest values per name
   * (origin is origins.n, like fields). */
  "CREATE TABLE vkeys(subj INTEGER NOT NULL, en INTEGER NOT NULL, creator BLOB NOT NULL,"
  "  key BLOB NOT NULL, got INTEGER NOT NULL, ok INTEGER NOT NULL DEFAULT 0,"
  "  trusted INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY(subj, en, creator, key)) WITHOUT ROWID;"
  "CREATE TABLE keyops(subj INTEGER NOT NULL, en INTEGER NOT NULL, creator BLOB NOT NULL,"
  "  reader BLOB NOT NULL, hlc INTEGER NOT NULL, origin BLOB NOT NULL,"
  "  PRIMARY KEY(subj, en, creator, reader, hlc, origin)) WITHOUT ROWID;"
  "CREATE TABLE registrations(subj INTEGER PRIMARY KEY, hlc INTEGER NOT NULL,"
  "  origin BLOB NOT NULL, idx INTEGER NOT NULL);"
  "CREATE TABLE access(n INTEGER PRIMARY KEY, subject BLOB NOT NULL, at INTEGER NOT NULL,"
  "  why TEXT NOT NULL);"
  "CREATE TABLE bad_groups(chg INTEGER NOT NULL, idx INTEGER NOT NULL, why TEXT NOT NULL,"
  "  PRIMARY KEY(chg, idx)) WITHOUT ROWID;"
  "CREATE TABLE purposes(name TEXT PRIMARY KEY, description TEXT NOT NULL,"
  "  text_version TEXT NOT NULL, hlc INTEGER NOT NULL, origin INTEGER NOT NULL,"
  "  idx INTEGER NOT NULL) WITHOUT ROWID;",

  /* 7 -> 8: change format 3 (key ops under the key a pair of nodes
   * shares, not crypto_box_seal). The tables stay; a store of version 7
   * holds format-2 changes and is refused. */
  "SELECT 1;",

  /* 8 -> 9: one row per volunteer (vols: its values and their merge
   * metadata, merged in C, node/vstate.c) instead of a row per field and
   * per set element (a remove that came before its add stays a row of
   * vtombs); the full-text index also holds languages and
   * availability (list filters go through it). (Stores of version 8 were
   * converted; since format 4 they are refused, and a new store has no
   * rows to convert.) */
  "DROP TABLE fields; DROP TABLE set_adds; DROP TABLE set_removed;"
  "CREATE TABLE vols(subj INTEGER PRIMARY KEY, name TEXT, state BLOB NOT NULL);"
  "CREATE TABLE vtombs(subj INTEGER NOT NULL, tag BLOB NOT NULL, field INTEGER NOT NULL,"
  "  value TEXT NOT NULL, PRIMARY KEY(subj, tag, field, value)) WITHOUT ROWID;"
  "DROP TABLE vol_fts;"
  "CREATE VIRTUAL TABLE vol_fts USING fts5(name, skills, city, notes, languages, availability,"
  "  tokenize='unicode61 remove_diacritics 2');",

  /* 9 -> 10: change format 4 (a root over the ops' hashes in the header,
   * one nonce per change). A withheld op keeps its hash (the root needs
   * it to send the change on). Stores of version 9 and before hold
   * format-3 changes and are refused. */
  "ALTER TABLE ops ADD COLUMN hash BLOB;",

  /* 10 -> 11: change format 4 with records: all a change says of one
   * volunteer and epoch is one op (14, 15), one row of ops; its field
   * column tells whether it holds a box (1) and key entries (2). Stores
   * of version 10 hold groups, key ops and registrations as ops of their
   * own and are refused. */
  "SELECT 1;",

  /* 11 -> 12: keyops names its nodes (creator, reader, the key op's
   * sender) and registrations its registrar by their numbers in nodes,
   * which holds every node they name (apart from origins, which holds
   * those of changes: a key entry may name any id, and sync sessions walk
   * origins). Stores of version 11 (a development build of the same day)
   * hold ids there and are refused. */
  "DROP TABLE keyops;"
  "CREATE TABLE keyops(subj INTEGER NOT NULL, en INTEGER NOT NULL, creator INTEGER NOT NULL,"
  "  reader INTEGER NOT NULL, hlc INTEGER NOT NULL, origin INTEGER NOT NULL,"
  "  PRIMARY KEY(subj, en, creator, reader, hlc, origin)) WITHOUT ROWID;"
  "DROP TABLE registrations;"
  "CREATE TABLE registrations(subj INTEGER PRIMARY KEY, hlc INTEGER NOT NULL,"
  "  origin INTEGER NOT NULL, idx INTEGER NOT NULL);"
  "CREATE TABLE nodes(n INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE);",

  /* 12 -> 13: a row of vols names each stamp of its fields once (vstate.c,
   * "Row layout"). Rows of the layout before are read as they are and
   * written in the new one when they change: nothing to convert. (A kring
   * of schema 12 would take such a row for damage: it refuses the store.)
   * The full-text index keeps no copy of the values (contentless): a
   * change deletes a volunteer's entry by the values it had, from its row.
   * fts_layout() fills it again from vols (kr__vs_fts_refill). */
  "DROP TABLE vol_fts;"
  "CREATE VIRTUAL TABLE vol_fts USING fts5(name, skills, city, notes, languages, availability,"
  "  content='', tokenize='unicode61 remove_diacritics 2');"
  /* vkeys names an epoch's creator by its number in nodes, as keyops does */
  "INSERT OR IGNORE INTO nodes(id) SELECT DISTINCT creator FROM vkeys;"
  "CREATE TABLE vkeys13(subj INTEGER NOT NULL, en INTEGER NOT NULL, creator INTEGER NOT NULL,"
  "  key BLOB NOT NULL, got INTEGER NOT NULL, ok INTEGER NOT NULL DEFAULT 0,"
  "  trusted INTEGER NOT NULL DEFAULT 0,"
  "  PRIMARY KEY(subj, en, creator, key)) WITHOUT ROWID;"
  "INSERT INTO vkeys13 SELECT v.subj, v.en, d.n, v.key, v.got, v.ok, v.trusted FROM vkeys v"
  "  JOIN nodes d ON d.id=v.creator;"
  "DROP TABLE vkeys;"
  "ALTER TABLE vkeys13 RENAME TO vkeys;"
  /* consent_ops names a register's recipient by its number too, 0 for all */
  "INSERT OR IGNORE INTO nodes(id) SELECT DISTINCT recipient FROM consent_ops"
  "  WHERE length(recipient)=32;"
  "CREATE TABLE consent13(subj INTEGER NOT NULL, purpose TEXT NOT NULL,"
  "  recipient INTEGER NOT NULL, tag BLOB NOT NULL, is_grant INTEGER NOT NULL,"
  "  method INTEGER NOT NULL, text_version TEXT NOT NULL, until TEXT NOT NULL,"
  "  hlc INTEGER NOT NULL, origin INTEGER NOT NULL, idx INTEGER NOT NULL,"
  "  seq INTEGER NOT NULL, PRIMARY KEY(subj, purpose, recipient, tag)) WITHOUT ROWID;"
  "INSERT INTO consent13 SELECT c.subj, c.purpose, coalesce(d.n, 0), c.tag, c.is_grant,"
  "  c.method, c.text_version, c.until, c.hlc, c.origin, c.idx, c.seq FROM consent_ops c"
  "  LEFT JOIN nodes d ON d.id=c.recipient WHERE length(c.recipient) IN (0, 32);"
  "DROP TABLE consent_ops;"
  "ALTER TABLE consent13 RENAME TO consent_ops;"
  /* keyops: whether this node tried to open a key op sealed to it since it
   * last deleted its keys of the volunteer (recover opens the others).
   * None counts as tried: a store of schema 12 may have lost a second key
   * of an epoch for good (docs/crdt.md), and opens each volunteer's key ops
   * once more the first time it decides anew who reads it */
  "ALTER TABLE keyops ADD COLUMN tried INTEGER NOT NULL DEFAULT 0;",
};
/* The first schema version this kring reads (older ones hold older
 * change formats). */
#define SCHEMA_FIRST_READ 12
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

static const char *const sql_text[KR_Q__COUNT] = {
#define KR_SQL_TEXT(name, sql) sql,
  KR_SQL_MAP(KR_SQL_TEXT)
#undef KR_SQL_TEXT
};

static uint64_t wall_ms(void *ctx)
{
  struct timespec ts;
  (void)ctx;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int kr_kind_ok(const char *kind) { return kr_kind_valid(kind); }

sqlite3_stmt *kr__q(kr_node *n, int q)
{
  sqlite3_stmt *s = n->q[q];

  if (!s) {
    if (sqlite3_prepare_v3(n->db, sql_text[q], -1, SQLITE_PREPARE_PERSISTENT, &n->q[q], NULL))
      return NULL;
    return n->q[q];
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

sqlite3_stmt *kr__qs(kr_node *n, const char *sql)
{
  size_t nq = sizeof n->qs / sizeof n->qs[0], h = ((uintptr_t)sql >> 3) % nq;
  sqlite3_stmt *s;

  for (size_t i = 0; i < nq; i++) {
    size_t k = (h + i) % nq;
    if (n->qs[k].sql == sql) {
      sqlite3_reset(n->qs[k].s);
      sqlite3_clear_bindings(n->qs[k].s);
      return n->qs[k].s;
    }
    if (!n->qs[k].sql) {
      if (sqlite3_prepare_v3(n->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL)) return NULL;
      n->qs[k].sql = sql;
      n->qs[k].s = s;
      return s;
    }
  }
  /* full: an uncached statement would leak; never happens with static texts */
  return NULL;
}

/* ---- store trouble, process-wide ------------------------------------- */

/* The worst trouble seen: KR_EDAMAGED outranks KR_EREADONLY; the words
 * are kring's (why) or else SQLite's for its result code (rc). */
static _Atomic int trouble, trouble_rc;
static const char *_Atomic trouble_why;

static void note_trouble(int code, int sqlite_rc, const char *why)
{
  int cur = atomic_load(&trouble);

  while (cur != code && cur != KR_EDAMAGED)
    if (atomic_compare_exchange_weak(&trouble, &cur, code)) {
      atomic_store(&trouble_rc, sqlite_rc);
      atomic_store(&trouble_why, why);
      return;
    }
}

int kr_node_store_error(const char **why)
{
  int code = atomic_load(&trouble);
  const char *w = atomic_load(&trouble_why);

  if (why) *why = !code ? NULL : w ? w : sqlite3_errstr(atomic_load(&trouble_rc));
  return code;
}

void kr_node_store_error_clear(void)
{
  atomic_store(&trouble, 0);
  atomic_store(&trouble_rc, 0);
  atomic_store(&trouble_why, NULL);
}

/* SQLite logs every error a statement ends with and every corruption it
 * detects, also where a caller of kr__q() does not pass the error up.
 * The callback may call no SQLite function. */
static void sqlite_log(void *ctx, int rc, const char *msg)
{
  (void)ctx;
  (void)msg;
  switch (rc & 0xff) {
  case SQLITE_CORRUPT: case SQLITE_NOTADB: note_trouble(KR_EDAMAGED, rc & 0xff, NULL); break;
  /* only a refused write: the extended codes are about reading beside a
   * read-only -shm, which a read-only open works around */
  case SQLITE_READONLY: if (rc == SQLITE_READONLY) note_trouble(KR_EREADONLY, rc, NULL); break;
  default: break;
  }
}

/* Before SQLite's first use; later (a test that used SQLite first) it
 * fails and kr__db_err alone notes trouble. */
static void watch_sqlite(void)
{
  static atomic_flag once = ATOMIC_FLAG_INIT;
  if (!atomic_flag_test_and_set(&once)) sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL);
}

int kr__db_err(int sqlite_rc)
{
  switch (sqlite_rc & 0xff) {
  case SQLITE_FULL: return KR_EFULL;
  case SQLITE_BUSY: case SQLITE_LOCKED: return KR_EBUSY;
  case SQLITE_NOMEM: return KR_ENOMEM;
  case SQLITE_CORRUPT: case SQLITE_NOTADB:
    note_trouble(KR_EDAMAGED, sqlite_rc & 0xff, NULL);
    return KR_EDAMAGED;
  case SQLITE_READONLY:
    note_trouble(KR_EREADONLY, SQLITE_READONLY, NULL);
    return KR_EREADONLY;
  default: return KR_EDB;
  }
}

int kr__step(sqlite3_stmt *s, int *rc)
{
  int step = sqlite3_step(s);

  if (step == SQLITE_ROW) return 1;
  if (step != SQLITE_DONE) *rc = kr__db_err(step);
  return 0;
}

int kr__exec(kr_node *n, const char *sql)
{
  int rc;

  /* The volunteer row merged in memory is written before a commit and
   * forgotten with a rollback (vstate.c). */
  if (!strcmp(sql, "COMMIT") && (rc = kr__vs_flush(n))) return rc;
  if (!strcmp(sql, "ROLLBACK")) n->nnodeno = 0;      /* numbers given since may be undone */
  if (!strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK")) {
    kr__vs_drop(n);
    n->issued.n = n->cut.n = 0;     /* subject numbers of this transaction only */
  }
  rc = sqlite3_exec(n->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : kr__db_err(rc);
}

int kr__meta_get_int(kr_node *n, const char *key, int64_t *v)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_META_GET);
  int rc;

  if (!s) return kr__db_err(sqlite3_errcode(n->db));
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *v = sqlite3_column_int64(s, 0);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? KR_ENOTFOUND : kr__db_err(rc);
  }
  sqlite3_reset(s);
  return rc;
}

int kr__meta_put_int(kr_node *n, const char *key, int64_t v)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_META_PUT);
  int rc;

  if (!s) return KR_EDB;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, v);
  rc = sqlite3_step(s) == SQLITE_DONE ? 0 : KR_EDB;
  sqlite3_reset(s);
  return rc;
}

int kr__meta_put_blob(kr_node *n, const char *key, const void *v, size_t len)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_META_PUT);
  int rc;

  if (!s) return KR_EDB;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, v, (int)len, SQLITE_STATIC);
  rc = sqlite3_step(s) == SQLITE_DONE ? 0 : KR_EDB;
  sqlite3_reset(s);
  return rc;
}

int kr__meta_get_blob(kr_node *n, const char *key, void *out, size_t len)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_META_GET);
  int rc = 0;

  if (!s) return kr__db_err(sqlite3_errcode(n->db));
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  if (kr__step(s, &rc) && sqlite3_column_type(s, 0) == SQLITE_BLOB &&
      (size_t)sqlite3_column_bytes(s, 0) == len)
    memcpy(out, sqlite3_column_blob(s, 0), len);
  else if (!rc)
    rc = KR_ENOTFOUND;
  sqlite3_reset(s);
  return rc;
}

static int meta_put_text(kr_node *n, const char *key, const char *v)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_META_PUT);
  int rc;

  if (!s) return KR_EDB;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, v, -1, SQLITE_STATIC);
  rc = sqlite3_step(s) == SQLITE_DONE ? 0 : KR_EDB;
  sqlite3_reset(s);
  return rc;
}

static int meta_get_text(kr_node *n, const char *key, char *out, size_t cap)
{
  sqlite3_stmt *s = kr__q(n, KR_Q_META_GET);
  int rc = 0;

  if (!s) return kr__db_err(sqlite3_errcode(n->db));
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  if (kr__step(s, &rc)) {
    const char *v = (const char *)sqlite3_column_text(s, 0);
    snprintf(out, cap, "%s", v ? v : "");
  } else if (!rc) {
    rc = KR_ENOTFOUND;
  }
  sqlite3_reset(s);
  return rc;
}

/* The schema version: the first read of the file, so it is where SQLite
 * finds a file that is no database, or cannot read it at all. Returns
 * SQLite's code. */
static int user_version(kr_node *n, int *version)
{
  sqlite3_stmt *s;
  int rc = sqlite3_prepare_v2(n->db, "PRAGMA user_version", -1, &s, NULL);

  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      *version = sqlite3_column_int(s, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(s);
  return rc;
}

/* The full-text index keeps no copy of the values (schema 13): an entry
 * is deleted by the columns it was given, so what vstate.c makes of a
 * row (fts_cols) must not change under an index made otherwise. A store
 * whose index was made by other columns (or by none: schema 12, a new
 * store) has it made again from its rows, once. */
#define FTS_LAYOUT 2                /* 1: the first of schema 13, its set columns cut short */
static int fts_layout(kr_node *n)
{
  int64_t have = 0;
  int rc = kr__meta_get_int(n, "fts_layout", &have);

  if (rc && rc != KR_ENOTFOUND) return rc;
  if (have == FTS_LAYOUT || n->readonly) return 0;
  if ((rc = kr__exec(n, "BEGIN IMMEDIATE"))) return rc;
  if ((rc = kr__exec(n, "INSERT INTO vol_fts(vol_fts) VALUES('delete-all')")) ||
      (rc = kr__vs_fts_refill(n)) || (rc = kr__meta_put_int(n, "fts_layout", FTS_LAYOUT))) {
    kr__exec(n, "ROLLBACK");
    return rc;
  }
  return kr__exec(n, "COMMIT");
}

/* From version to SCHEMA_VERSION, one transaction per step. */
static int migrate(kr_node *n, int version)
{
  int rc = 0;

  if (version > SCHEMA_VERSION) return KR_EUNKNOWN; /* made by a newer kring */
  if (version > 0 && version < SCHEMA_FIRST_READ) return KR_EOLDSTORE;
  if (version < SCHEMA_VERSION && n->readonly) {
    note_trouble(KR_EREADONLY, 0, N_("this kring must upgrade the store once, which writes to it"));
    return KR_EREADONLY;
  }
  for (int v = version; v < SCHEMA_VERSION && !rc; v++) {
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
    if ((rc = kr__exec(n, "BEGIN IMMEDIATE"))) return rc;
    if ((rc = kr__exec(n, migrations[v])) || (rc = kr__exec(n, pragma)))
      kr__exec(n, "ROLLBACK");
    else
      rc = kr__exec(n, "COMMIT");
  }
  return rc ? rc : fts_layout(n);
}

static int durable = 1;

void kr_node_set_durable(int on)
{
  durable = on != 0;
}

/* path as a file: URI with immutable=1 (SQLite reads it without locks,
 * -shm or -wal): every byte but [A-Za-z0-9/._~-] percent-encoded. */
static int immutable_uri(const char *path, char *out, size_t cap)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;

  o += (size_t)snprintf(out, cap, "file:");
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    if (o + 4 >= cap) return -1;
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("/._~-", *p)) {
      out[o++] = (char)*p;
    } else {
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    }
  }
  return snprintf(out + o, cap - o, "?immutable=1") < (int)(cap - o) ? 0 : -1;
}

/*
 * Open the existing store at path and read its schema version. A store
 * in WAL mode needs its -shm file (and the -wal, if any) beside it; where
 * the folder is read-only and they are missing, SQLite cannot read the
 * store even to list it. Without a -wal every committed change is in the
 * main file, and opening it immutable reads it without them.
 */
static int db_connect(kr_node *n, const char *home, const char *path, int *version)
{
  char uri[3 * 4096 + 32], wal[4096 + 8];
  struct stat st;
  int rc;

  if (sqlite3_open_v2(path, &n->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    return kr__db_err(sqlite3_errcode(n->db));
  /* before the first read: another process may be recovering the WAL */
  sqlite3_busy_timeout(n->db, KR_BUSY_MS);
  rc = user_version(n, version);
  if (rc != SQLITE_CANTOPEN && rc != SQLITE_READONLY) return rc ? kr__db_err(rc) : 0;
  /* Only for want of write access (a read-only folder, file or disk):
   * never beside a writer, which immutable would not see. */
  if (access(home, W_OK) == 0 && access(path, W_OK) == 0) return kr__db_err(rc);
  snprintf(wal, sizeof wal, "%s-wal", path);
  if (stat(wal, &st) == 0 && st.st_size > 0) {
    note_trouble(KR_EREADONLY, 0, N_("kring.db-wal holds changes not yet in kring.db, which "
                                    "SQLite can read only with write access to the folder"));
    return KR_EREADONLY;
  }
  if (immutable_uri(path, uri, sizeof uri)) return KR_EINVAL;
  sqlite3_close(n->db);
  n->db = NULL;
  if (sqlite3_open_v2(uri, &n->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK)
    return kr__db_err(sqlite3_errcode(n->db));
  sqlite3_busy_timeout(n->db, KR_BUSY_MS);
  rc = user_version(n, version);
  return rc ? kr__db_err(rc) : 0;
}

static int db_open(kr_node *n, const char *home, int create)
{
  char path[4096];
  struct stat st;
  int rc, version = 0;

  watch_sqlite();
  snprintf(path, sizeof path, "%s/%s", home, DB_FILE);
  if (create) {
    /* Personal data: the store is for this user only. SQLite gives the
     * -wal and -shm files the same mode. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return errno == EEXIST ? KR_EEXISTS : KR_EIO;
    close(fd);
    if (sqlite3_open_v2(path, &n->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL))
      return KR_EDB;
  } else {
    if (stat(path, &st) != 0) return errno == ENOENT ? KR_ENOTFOUND : KR_EIO;
    if ((rc = db_connect(n, home, path, &version))) return rc;
    /* Only kr_node_create writes a schema: a store without one was
     * emptied or replaced (`: > kring.db`, a failed copy). */
    if (version == 0) {
      note_trouble(KR_EDAMAGED, 0, st.st_size == 0 ? N_("kring.db is empty")
                                                   : N_("kring.db holds no kring store"));
      return KR_EDAMAGED;
    }
    n->readonly = sqlite3_db_readonly(n->db, "main") == 1;
  }
  kr__profile_start(n);
  sqlite3_busy_timeout(n->db, KR_BUSY_MS);
  /* FULL: a commit is on the disk before it returns, so a batch this node
   * acknowledged survives a power cut, not only a killed process (in WAL
   * mode NORMAL may lose the last commits to a power cut). A read-only
   * store keeps the journal mode it has. */
  if ((!n->readonly && (rc = kr__exec(n, "PRAGMA journal_mode=WAL"))) ||
      (rc = kr__exec(n, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")) ||
      (rc = kr__exec(n, "PRAGMA secure_delete=ON")) || (rc = kr__exec(n, "PRAGMA foreign_keys=ON")) ||
      (rc = kr__exec(n, "PRAGMA cache_size=-32768")) || (rc = kr__exec(n, "PRAGMA temp_store=MEMORY")))
    return rc;
  if ((rc = kr__vs_sql_functions(n))) return rc;
  return migrate(n, version);
}

static uint64_t (*default_now)(void *ctx) = wall_ms;
static void *default_ctx;

void kr_node_set_default_clock(uint64_t (*now_ms)(void *ctx), void *ctx)
{
  default_now = now_ms ? now_ms : wall_ms;
  default_ctx = ctx;
}

/* A node with its key buffer: guarded memory (sodium_malloc: guard pages,
 * locked into RAM, left out of core dumps), writable until key_lock(). */
static kr_node *node_new(void)
{
  kr_node *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  /* the Ed25519 secret key, then its X25519 form: public, secret (key ops) */
  if (!(n->sk = sodium_malloc(KR_SK_LEN + 64))) {
    free(n);
    return NULL;
  }
  n->now_ms = default_now;
  n->now_ctx = default_ctx;
  return n;
}

static void key_lock(kr_node *n)
{
  if (crypto_sign_ed25519_pk_to_curve25519(n->sk + KR_SK_LEN, n->sk + 32) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519(n->sk + KR_SK_LEN + 32, n->sk) != 0)
    memset(n->sk + KR_SK_LEN, 0, 64);     /* opens nothing */
  sodium_mprotect_readonly(n->sk);
}

/*
 * The key file: exactly KR_SK_LEN bytes, libsodium's Ed25519 secret key:
 * the 32-byte seed, then the public key that seed makes. Anything else
 * (other length, halves that do not belong together) is KR_EBADKEY: a
 * node must never sign under a key it cannot verify as its own.
 */
static int key_read(const char *home, uint8_t sk[static KR_SK_LEN])
{
  char path[4096];
  uint8_t pk[KR_NODE_LEN], full[KR_SK_LEN], extra;
  struct stat st;
  size_t got = 0;
  int fd, rc = 0;

  snprintf(path, sizeof path, "%s/%s", home, KEY_FILE);
  fd = open(path, O_RDONLY);
  if (fd < 0) return errno == ENOENT ? KR_ENOTFOUND : KR_EIO;
  if (fstat(fd, &st) != 0) { rc = KR_EIO; goto out; }
  if (st.st_mode & 077) { rc = KR_EKEYPERM; goto out; }
  if (!S_ISREG(st.st_mode) || st.st_size != KR_SK_LEN) { rc = KR_EBADKEY; goto out; }
  while (got < KR_SK_LEN) {
    ssize_t r = read(fd, sk + got, KR_SK_LEN - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { rc = r < 0 ? KR_EIO : KR_EBADKEY; goto out; }
    got += (size_t)r;
  }
  if (read(fd, &extra, 1) != 0) { rc = KR_EBADKEY; goto out; }  /* it grew */
  crypto_sign_seed_keypair(pk, full, sk);
  if (sodium_memcmp(pk, sk + 32, KR_NODE_LEN) != 0) rc = KR_EBADKEY;
out:
  sodium_memzero(full, sizeof full);
  if (rc) sodium_memzero(sk, KR_SK_LEN);
  close(fd);
  return rc;
}

/*
 * A new home: key pair, key file, store, organisation. network and founder
 * NULL found a new network with this node as founder (its first change is
 * the FOUND op); otherwise the node is in that network and waits to be
 * admitted.
 */
static int node_make(const char *home, const char *org, const char *kind,
                     const uint8_t *network, const uint8_t *founder, kr_node **out)
{
  kr_node *n;
  char path[4096];
  uint8_t pk[KR_NODE_LEN];
  struct stat st;
  int fd = -1, rc;

  *out = NULL;
  if (!org || !org[0] || strlen(org) > KR_ORG_MAX || kr_text_single_ok(org, strlen(org), NULL) ||
      !kind || !kr_kind_ok(kind))
    return KR_EINVAL;
  if (sodium_init() < 0) return KR_ENOMEM;
  snprintf(path, sizeof path, "%s/%s", home, KEY_FILE);
  if (stat(path, &st) == 0) return KR_EEXISTS;
  snprintf(path, sizeof path, "%s/%s", home, DB_FILE);
  if (stat(path, &st) == 0) return KR_EEXISTS;
  if (mkdir(home, 0700) != 0 && errno != EEXIST) return KR_EIO;
  if (!(n = node_new())) return KR_ENOMEM;

  crypto_sign_keypair(pk, n->sk);
  key_lock(n);
  snprintf(path, sizeof path, "%s/%s", home, KEY_FILE);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) { rc = errno == EEXIST ? KR_EEXISTS : KR_EIO; goto err0; }
  if (write(fd, n->sk, KR_SK_LEN) != (ssize_t)KR_SK_LEN || fsync(fd) != 0) {
    rc = KR_EIO;
    close(fd);
    unlink(path);
    goto err0;
  }
  close(fd);

  if ((rc = db_open(n, home, 1))) goto err1;
  if (!(n->home = strdup(home))) { rc = KR_ENOMEM; goto err1; }
  snprintf(n->org, sizeof n->org, "%s", org);
  snprintf(n->kind, sizeof n->kind, "%s", kind);
  if (network) {
    memcpy(n->network, network, KR_NETWORK_LEN);
    memcpy(n->founder, founder, KR_NODE_LEN);
  } else {
    randombytes_buf(n->network, KR_NETWORK_LEN);
    memcpy(n->founder, kr_node_id(n), KR_NODE_LEN);
  }
  if (kr__exec(n, "BEGIN") || meta_put_text(n, "org", org) || meta_put_text(n, "kind", kind) ||
      kr__meta_put_int(n, "created_ms", (int64_t)n->now_ms(n->now_ctx)) ||
      kr__meta_put_int(n, "clock", 0) ||
      kr__meta_put_blob(n, "network", n->network, KR_NETWORK_LEN) ||
      kr__meta_put_blob(n, "founder", n->founder, KR_NODE_LEN) || kr__exec(n, "COMMIT")) {
    rc = KR_EDB;
    goto err1;
  }
  if (!network && (rc = kr__found(n))) goto err1;
  *out = n;
  return 0;
err1:
  kr_node_close(n);
  snprintf(path, sizeof path, "%s/%s", home, DB_FILE);
  unlink(path);
  snprintf(path, sizeof path, "%s/%s-wal", home, DB_FILE);
  unlink(path);
  snprintf(path, sizeof path, "%s/%s-shm", home, DB_FILE);
  unlink(path);
  snprintf(path, sizeof path, "%s/%s", home, KEY_FILE);
  unlink(path);
  return rc;
err0:
  kr_node_close(n);
  return rc;
}

int kr_node_create(const char *home, const char *org, const char *kind, kr_node **out)
{
  return node_make(home, org, kind, NULL, NULL, out);
}

int kr_node_create_joining(const char *home, const char *org, const char *kind,
                           const uint8_t network[static KR_NETWORK_LEN],
                           const uint8_t founder[static KR_NODE_LEN], kr_node **out)
{
  return node_make(home, org, kind, network, founder, out);
}

int kr_node_open(const char *home, kr_node **out)
{
  kr_node *n;
  int rc;
  int64_t clock;

  *out = NULL;
  if (sodium_init() < 0) return KR_ENOMEM;
  if (!(n = node_new())) return KR_ENOMEM;
  if ((rc = key_read(home, n->sk))) goto err;
  key_lock(n);
  if ((rc = db_open(n, home, 0))) goto err;
  if (!(n->home = strdup(home))) { rc = KR_ENOMEM; goto err; }
  if ((rc = meta_get_text(n, "org", n->org, sizeof n->org)) ||
      (rc = meta_get_text(n, "kind", n->kind, sizeof n->kind)) ||
      (rc = kr__meta_get_int(n, "clock", &clock))) {
    /* every schema since the first has them */
    if (rc == KR_ENOTFOUND) {
      note_trouble(KR_EDAMAGED, 0, N_("kring.db lacks this node's organisation"));
      rc = KR_EDAMAGED;
    }
    goto err;
  }
  n->clock = (kr_hlc)clock;
  if (kr__meta_get_blob(n, "network", n->network, KR_NETWORK_LEN) ||
      kr__meta_get_blob(n, "founder", n->founder, KR_NODE_LEN)) {
    /* A store from before networks: it founds its own. */
    if (n->readonly) {
      note_trouble(KR_EREADONLY, 0, N_("this kring must upgrade the store once, which writes to it"));
      rc = KR_EREADONLY;
      goto err;
    }
    randombytes_buf(n->network, KR_NETWORK_LEN);
    memcpy(n->founder, kr_node_id(n), KR_NODE_LEN);
    if (kr__meta_put_blob(n, "network", n->network, KR_NETWORK_LEN) ||
        kr__meta_put_blob(n, "founder", n->founder, KR_NODE_LEN)) {
      rc = KR_EDB;
      goto err;
    }
    if ((rc = kr__found(n))) goto err;
  }
  *out = n;
  return 0;
err:
  kr_node_close(n);
  return rc;
}

void kr_node_close(kr_node *n)
{
  if (!n) return;
  for (int i = 0; i < KR_Q__COUNT; i++)
    sqlite3_finalize(n->q[i]);
  for (size_t i = 0; i < sizeof n->qs / sizeof n->qs[0]; i++)
    sqlite3_finalize(n->qs[i].s);
  if (n->db) kr__profile_end(n);
  if (n->db) sqlite3_close(n->db);
  sodium_free(n->sk);               /* wipes it first */
  sodium_free(n->pairs);
  kr__vs_drop(n);
  free(n->withheld.id);
  free(n->skipped.id);
  free(n->touched.id);
  free(n->reopen.id);
  free(n->replay.id);
  free(n->retry.id);
  free(n->issued.id);
  kr__own_done(n);
  free(n->made);
  free(n->cut.id);
  free(n->home);
  free(n);
}

void kr_node_set_clock(kr_node *n, uint64_t (*now_ms)(void *ctx), void *ctx)
{
  n->now_ms = now_ms ? now_ms : wall_ms;
  n->now_ctx = ctx;
}

uint64_t kr_node_now_ms(kr_node *n) { return n->now_ms(n->now_ctx); }
const uint8_t *kr_node_id(const kr_node *n) { return n->sk + 32; }
const char *kr_node_org(const kr_node *n) { return n->org; }
const char *kr_node_kind(const kr_node *n) { return n->kind; }
const char *kr_node_errmsg(kr_node *n) { return sqlite3_errmsg(n->db); }
const char *kr_node_home(const kr_node *n) { return n->home; }
int kr_node_readonly(const kr_node *n) { return n->readonly; }

int kr_node_data_version(kr_node *n, uint64_t *v)
{
  sqlite3_stmt *s;
  int rc = KR_EDB;
  if (sqlite3_prepare_v2(n->db, "PRAGMA data_version", -1, &s, NULL)) return KR_EDB;
  if (sqlite3_step(s) == SQLITE_ROW) {
    *v = (uint64_t)sqlite3_column_int64(s, 0);
    rc = 0;
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_reopen(const kr_node *n, kr_node **out)
{
  int rc = kr_node_open(n->home, out);
  if (!rc) kr_node_set_clock(*out, n->now_ms, n->now_ctx);
  return rc;
}

int kr_node_check(kr_node *n, char *msg, size_t cap)
{
  sqlite3_stmt *s;
  int rc = 0, rows = 0;

  if (cap) msg[0] = 0;
  if ((rc = sqlite3_prepare_v2(n->db, "PRAGMA integrity_check", -1, &s, NULL)) != SQLITE_OK) {
    if (cap) snprintf(msg, cap, "%s", sqlite3_errmsg(n->db));
    return kr__db_err(rc);
  }
  while (kr__step(s, &rc)) {
    const char *line = (const char *)sqlite3_column_text(s, 0);
    if (rows++ == 0 && line && !strcmp(line, "ok")) break;
    rc = KR_EDAMAGED;
    /* the first real complaint, one line ("*** in database main ***" is a heading) */
    while (cap && line && *line && !msg[0]) {
      size_t len = strcspn(line, "\n");
      if (strncmp(line, "***", 3) != 0)
        snprintf(msg, cap, "%.*s", (int)(len < cap - 1 ? len : cap - 1), line);
      line += len + (line[len] == '\n');
    }
  }
  if (rc && rows == 0 && cap) snprintf(msg, cap, "%s", sqlite3_errmsg(n->db));
  sqlite3_finalize(s);
  if (!rc && rows == 0) rc = KR_EDB;
  if (rc == KR_EDAMAGED) note_trouble(KR_EDAMAGED, SQLITE_CORRUPT, NULL);
  return rc;
}

int kr_node_checkpoint(kr_node *n)
{
  return sqlite3_wal_checkpoint_v2(n->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) ==
                 SQLITE_OK ? 0 : KR_EDB;
}
