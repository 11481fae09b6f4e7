/*
 * test_diskfull: the disk fills up during a bundle import and during a
 * sync. A SQLite VFS registered as the default wraps the real one and
 * fails every write with SQLITE_FULL once a byte budget is spent (as a
 * full disk does). Each time: a clear error (KR_EFULL), the store passes
 * its integrity check, nothing of the failed transaction is stored,
 * nothing the peer saw acknowledged is missing, and once there is room
 * again the same import or sync completes and the nodes converge.
 */
#include <string.h>

#include <sqlite3.h>

#include "check.h"
#include "crdt/err.h"
#include "sync/carry.h"
#include "sync/link.h"

/* ---- a VFS whose disk holds only so many more bytes ---- */

static sqlite3_vfs *real_vfs;
static sqlite3_vfs full_vfs;
static long long budget = -1;     /* bytes writes may still take; -1: no limit */
static long long written;
static long long wal_syncs;       /* xSync calls on write-ahead logs */

typedef struct {
  sqlite3_file base;
  sqlite3_file *real;             /* follows this struct in the same allocation */
  int wal;
} ffile;

#define REAL(f) (((ffile *)(f))->real)

static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
  if (budget >= 0) {
    if (budget < n) return SQLITE_FULL;
    budget -= n;
  }
  written += n;
  return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 s) { return REAL(f)->pMethods->xTruncate(REAL(f), s); }
static int f_sync(sqlite3_file *f, int fl)
{
  if (((ffile *)f)->wal) wal_syncs++;
  return REAL(f)->pMethods->xSync(REAL(f), fl);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *s) { return REAL(f)->pMethods->xFileSize(REAL(f), s); }
static int f_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int f_control(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_dev(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **p) { return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p); }
static int f_shmlock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void f_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shmunmap(sqlite3_file *f, int d) { return REAL(f)->pMethods->xShmUnmap(REAL(f), d); }
static int f_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) { return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int f_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods full_io = {
  3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_reserved,
  f_control, f_sector, f_dev, f_shmmap, f_shmlock, f_shmbarrier, f_shmunmap, f_fetch, f_unfetch,
};

static int f_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
  ffile *ff = (ffile *)f;
  int rc;
  (void)v;
  ff->real = (sqlite3_file *)(ff + 1);
  ff->wal = (flags & SQLITE_OPEN_WAL) != 0;
  rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
  f->pMethods = rc == SQLITE_OK && ff->real->pMethods ? &full_io : NULL;
  return rc;
}

static void full_vfs_install(void)
{
  REQUIRE((real_vfs = sqlite3_vfs_find(NULL)) != NULL);
  REQUIRE(real_vfs->iVersion >= 2);
  full_vfs = *real_vfs;
  full_vfs.zName = "kring-test-full";
  full_vfs.szOsFile = (int)sizeof(ffile) + real_vfs->szOsFile;
  full_vfs.xOpen = f_open;
  REQUIRE(sqlite3_vfs_register(&full_vfs, 1) == SQLITE_OK);
}

/* ---- the nodes ---- */

/* count new volunteers on n; every other one consents to all members, so
 * the receiving nodes both open and materialise (readers) and store
 * sealed (the rest). */
static void volunteers(kr_node *n, int count)
{
  for (int i = 0; i < count; i++) {
    kr_txn *t;
    uint8_t id[KR_SUBJECT_LEN];
    char name[64];
    snprintf(name, sizeof name, "Vrijwilliger %d", i);
    REQUIRE(kr_txn_begin(n, &t) == 0);
    kr_txn_new_subject(t, id);
    REQUIRE(kr_txn_set(t, id, KR_F_NAME, name, NULL) == 0);
    REQUIRE(kr_txn_set(t, id, KR_F_NOTES, "Rijdt op dinsdag de bus naar de uitgiftepunten, "
                       "helpt bij de intake en spreekt Arabisch en Tigrinya.", NULL) == 0);
    if (i % 2 == 0)
      REQUIRE(kr_txn_grant(t, id, "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
    REQUIRE(kr_txn_commit(t, NULL) == 0);
  }
}

typedef struct {
  uint64_t changes;
  uint8_t digest[32];
} snap;

static snap take(kr_node *n)
{
  snap s;
  uint64_t v, e;
  REQUIRE(kr_node_counts(n, &v, &e, &s.changes) == 0);
  REQUIRE(kr_node_digest(n, s.digest) == 0);
  return s;
}

static int same(snap a, snap b) { return a.changes == b.changes && !memcmp(a.digest, b.digest, 32); }

/* How many volunteers n reads. */
static uint64_t readable(kr_node *n)
{
  uint64_t v, e, c;
  REQUIRE(kr_node_counts(n, &v, &e, &c) == 0);
  return v;
}

static int sound(kr_node *n)
{
  char msg[256];
  return kr_node_check(n, msg, sizeof msg) == 0;
}

/* Shuttle bytes between two links until both are over. */
static void shuttle(kr_link *a, kr_link *b)
{
  for (int moved = 1; moved;) {
    kr_link *from[2] = {a, b}, *to[2] = {b, a};
    moved = 0;
    for (int k = 0; k < 2; k++) {
      size_t n;
      const uint8_t *p = kr_link_pending(from[k], &n);
      if (!n) continue;
      uint8_t *c = malloc(n);
      REQUIRE(c);
      memcpy(c, p, n);
      kr_link_sent(from[k], n);
      kr_link_feed(to[k], c, n);
      free(c);
      moved = 1;
    }
  }
  kr_link_closed(a, NULL);
  kr_link_closed(b, NULL);
}

/* A syncs with B in memory; returns B's link state, and what A saw
 * acknowledged (changes B said it applied). on_commit, if not NULL, is
 * B's commit hook. */
static int sync_pair(kr_node *a, kr_node *b, int *err, uint64_t *acked_applied,
                     kr_link_commit_fn on_commit)
{
  kr_link *la, *lb;
  int state;
  REQUIRE(kr_link_new(a, 1, NULL, kr_node_now_ms(a), &la) == 0);
  REQUIRE(kr_link_new(b, 0, NULL, kr_node_now_ms(b), &lb) == 0);
  if (on_commit) kr_link_on_commit(lb, on_commit, NULL);
  shuttle(la, lb);
  state = kr_link_info_get(lb)->state;
  *err = kr_link_info_get(lb)->err;
  if (state == -1) fprintf(stderr, "  sync stopped as expected: %s\n", kr_link_info_get(lb)->reason);
  *acked_applied = kr_sess_stats_get(kr_link_session(la))->applied_out;
  kr_link_free(la);
  kr_link_free(lb);
  return state;
}

static void test_import(void)
{
  kr_node *n[2];
  kr_export_result er;
  kr_import_result ir;
  snap before, after;
  const char *bundle = check_path("all.kb");
  int rc;

  check_network(n, 2, "imp", "foodbank");
  volunteers(n[0], 3000);
  REQUIRE(kr_bundle_export(n[0], bundle, NULL, NULL, NULL, &er) == 0);
  before = take(n[1]);

  /* Room for a few pages only: the import stops with a full disk. */
  budget = 64 * 1024;
  rc = kr_bundle_import(n[1], bundle, NULL, NULL, &ir);
  budget = -1;
  CHECK_EQ(rc, KR_EFULL);
  fprintf(stderr, "  import stopped as expected: %s\n", kr_strerror(rc));
  CHECK_EQ(ir.applied, 0);
  after = take(n[1]);
  CHECK(same(before, after));
  CHECK(sound(n[1]));

  /* With room again the same bundle imports whole. */
  REQUIRE(kr_bundle_import(n[1], bundle, NULL, NULL, &ir) == 0);
  CHECK(ir.applied >= 3000);
  CHECK(same(take(n[1]), take(n[0])));
  CHECK(sound(n[1]));
  CHECK_EQ(readable(n[1]), 1500);              /* those that consent to all */
  for (int i = 0; i < 2; i++) kr_node_close(n[i]);
}

static void test_sync(void)
{
  kr_node *n[3];
  snap before, after, sender;
  uint64_t acked;
  long long whole;
  int err, state;

  check_network(n, 3, "syn", "care");
  volunteers(n[0], 9000);          /* about 3 MiB: several batches */
  before = take(n[1]);
  sender = take(n[0]);
  /* What a whole sync writes, measured on n2 (the same start as n1). */
  written = 0;
  REQUIRE(sync_pair(n[0], n[2], &err, &acked, NULL) == 1);
  whole = written;

  /* The disk fills after some batches have been committed. */
  budget = whole / 2;
  state = sync_pair(n[0], n[1], &err, &acked, NULL);
  budget = -1;
  CHECK_EQ(state, -1);
  CHECK_EQ(err, KR_EFULL);
  after = take(n[1]);
  CHECK(sound(n[1]));
  /* every change the sender saw acknowledged is there, nothing else */
  CHECK(after.changes >= before.changes + acked);
  CHECK(after.changes < sender.changes);
  CHECK(acked > 0);
  fprintf(stderr, "  %llu changes acknowledged before the disk filled, %llu stored\n",
          (unsigned long long)acked, (unsigned long long)(after.changes - before.changes));

  /* With room again the next sync finishes and both agree; n1 reads what
   * n2, with the same rights and a sync that never failed, reads. */
  state = sync_pair(n[0], n[1], &err, &acked, NULL);
  CHECK_EQ(state, 1);
  CHECK(same(take(n[0]), take(n[1])));
  CHECK(sound(n[1]));
  CHECK(check_same_readable(n[1], n[2]));
  CHECK_EQ(readable(n[1]), 4500);

  /* A full disk on the sending side's own edits: the edit fails clearly. */
  {
    kr_txn *t;
    uint8_t id[KR_SUBJECT_LEN];
    snap s0 = take(n[0]);
    REQUIRE(kr_txn_begin(n[0], &t) == 0);
    kr_txn_new_subject(t, id);
    REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Past niet meer", NULL) == 0);
    budget = 0;
    CHECK_EQ(kr_txn_commit(t, NULL), KR_EFULL);
    budget = -1;
    CHECK(same(s0, take(n[0])));
    CHECK(sound(n[0]));
  }
  for (int i = 0; i < 3; i++) kr_node_close(n[i]);
}

/* ---- durability: on the disk before it is reported or acknowledged ---- */

static long long syncs_seen;
static int commits_seen, commits_unsynced;

static void on_commit(void *ctx, uint64_t batch, const uint8_t *const *chg, const size_t *len,
                      size_t count)
{
  (void)ctx, (void)batch, (void)chg, (void)len, (void)count;
  commits_seen++;
  if (wal_syncs == syncs_seen) commits_unsynced++;
  syncs_seen = wal_syncs;
}

static void test_durable(void)
{
  kr_node *n[2];
  uint64_t acked;
  long long before;
  int err;

  check_network(n, 2, "dur", "buurtteam");
  /* A local edit is on the disk when the commit returns. */
  before = wal_syncs;
  volunteers(n[0], 1);
  CHECK(wal_syncs > before);

  /* Every batch the receiver acknowledges was synced after it was
   * applied: the hook runs after the commit and before the ACK. */
  volunteers(n[0], 6000);
  syncs_seen = wal_syncs;
  CHECK_EQ(sync_pair(n[0], n[1], &err, &acked, on_commit), 1);
  CHECK(commits_seen >= 2);
  CHECK_EQ(commits_unsynced, 0);
  fprintf(stderr, "  %d batches, %d of them synced before the ACK\n", commits_seen,
          commits_seen - commits_unsynced);
  CHECK(same(take(n[0]), take(n[1])));
  for (int i = 0; i < 2; i++) kr_node_close(n[i]);
}

int main(void)
{
  full_vfs_install();
  test_durable();
  test_import();
  test_sync();
  return check_done("test_diskfull");
}
