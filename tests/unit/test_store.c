/* test_store: the node's store: creation, key file (layout, guarded
 * memory), migrations, apply, idempotence, equivocation, queries (of the
 * volunteers a node reads), full-text search, erasure on disk (at a
 * reader and at a node that holds the volunteer sealed), an empty or
 * damaged store, the network's list of purposes. */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "check.h"
#include "crdt/err.h"
#include "node/internal.h"
#include "node/node.h"

static uint64_t clk = UINT64_C(1767225600000);


struct ids { int n; uint8_t id[16][16]; };
static int collect(void *ctx, const uint8_t id[16])
{
  struct ids *x = ctx;
  if (x->n < 16) memcpy(x->id[x->n++], id, 16);
  return 0;
}

/* A new volunteer registered by n; consent given to every member (all),
 * or to the member to, or to nobody (the other nodes hold it sealed). */
static void add_volunteer(kr_node *n, uint8_t id[16], const char *name, const char *city,
                          const char *skill, const char *lang, const char *avail, int all,
                          const uint8_t *to, kr_buf *wire);

/* Replace a file's bytes (mode 0600). */
static void put_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  REQUIRE(f && fwrite(data, 1, len, f) == len && fclose(f) == 0);
  REQUIRE(chmod(path, 0600) == 0);
}

static long file_size(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Overwrite page `page` (1-based, 4096 bytes) of a closed store. */
static void smash_page(const char *path, long page)
{
  FILE *f = fopen(path, "r+b");
  char junk[4096];
  memset(junk, 'k', sizeof junk);
  REQUIRE(f && fseek(f, (page - 1) * 4096, SEEK_SET) == 0 &&
          fwrite(junk, 1, sizeof junk, f) == sizeof junk && fclose(f) == 0);
}

/* The root page of a table, read with SQLite directly. */
static long root_page(const char *path, const char *table)
{
  sqlite3 *db;
  sqlite3_stmt *s;
  long page = -1;
  REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_schema WHERE name=?1", -1, &s,
                             NULL) == SQLITE_OK);
  sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) page = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return page;
}

static int count_id(void *ctx, const uint8_t id[16])
{
  (void)id;
  ++*(int *)ctx;
  return 0;
}

/* The key file: exactly the 64-byte libsodium secret key, seed then the
 * public key the seed makes (docs/protocol.md, "Node key file"); and the
 * key in memory is read-only. */
static void test_key_file(kr_node *a)
{
  const char *key = check_path("s0/node.key");
  uint8_t k[KR_SK_LEN + 1], bad[KR_SK_LEN];
  kr_node *x;
  FILE *f;

  REQUIRE((f = fopen(key, "rb")) && fread(k, 1, sizeof k, f) == KR_SK_LEN && fclose(f) == 0);
  k[KR_SK_LEN] = '\n';
  put_file(key, k, KR_SK_LEN + 1);                   /* a byte too many */
  CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EBADKEY);
  put_file(key, k, KR_SK_LEN - 1);                   /* a byte short */
  CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EBADKEY);
  put_file(key, k, 0);
  CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EBADKEY);
  randombytes_buf(bad, sizeof bad);                  /* 64 random bytes */
  put_file(key, bad, sizeof bad);
  CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EBADKEY);
  memcpy(bad, k, sizeof bad);                        /* the right seed, another public key */
  bad[40] ^= 1;
  put_file(key, bad, sizeof bad);
  CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EBADKEY);
  memcpy(bad, k, sizeof bad);                        /* another seed, the right public key */
  bad[3] ^= 1;
  put_file(key, bad, sizeof bad);
  CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EBADKEY);
  put_file(key, k, KR_SK_LEN);
  REQUIRE(kr_node_open(check_path("s0"), &x) == 0);
  CHECK(memcmp(kr_node_id(x), kr_node_id(a), 32) == 0);
  CHECK(memcmp(kr_node_secret_key(x), k, KR_SK_LEN) == 0);

  /* Guarded memory: writing to the key kills the process (it is
   * mprotect'ed read-only, between guard pages). */
  {
    pid_t pid;
    int status = 0;
    fflush(NULL);
    if ((pid = fork()) == 0) {
      signal(SIGSEGV, SIG_DFL);
      signal(SIGBUS, SIG_DFL);
      ((volatile uint8_t *)kr_node_secret_key(x))[0] ^= 1;
      _exit(0);
    }
    REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS));
  }
  kr_node_close(x);
  sodium_memzero(k, sizeof k);
}

/* A store that is empty, not a database, truncated, or has a damaged page. */
static void test_damaged(void)
{
  kr_node *x;
  uint8_t id[16], d[32];
  const char *why;
  char msg[256];
  int count = 0;

  kr_node_store_error_clear();
  REQUIRE(kr_node_create(check_path("dmg"), "Damaged", "other", &x) == 0);
  kr_node_set_clock(x, check_clock, &clk);
  for (int i = 0; i < 40; i++) add_volunteer(x, id, "Anna de Vries", "Utrecht", "koken", "nl", "mon-am", 0, NULL, NULL);
  CHECK_EQ(kr_node_check(x, msg, sizeof msg), 0);
  CHECK_EQ(kr_node_store_error(NULL), 0);
  kr_node_close(x);                                  /* checkpoints: all in kring.db */

  /* Empty (`: > kring.db`): refused, and left empty; only create writes a schema. */
  {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && cp -r '%s' '%s' && cp -r '%s' '%s'",
             check_path("dmg"), check_path("empty"), check_path("dmg"), check_path("junk"),
             check_path("dmg"), check_path("page"));
    REQUIRE(system(cmd) == 0);
  }
  put_file(check_path("empty/kring.db"), "", 0);
  CHECK_EQ(kr_node_open(check_path("empty"), &x), KR_EDAMAGED);
  CHECK_EQ(file_size(check_path("empty/kring.db")), 0);
  CHECK_EQ(kr_node_store_error(&why), KR_EDAMAGED);
  CHECK(why && strstr(why, "empty"));
  CHECK_EQ(kr_node_create(check_path("empty"), "Again", "other", &x), KR_EEXISTS);

  /* Not a database at all. */
  kr_node_store_error_clear();
  {
    uint8_t junk[8192];
    randombytes_buf(junk, sizeof junk);
    put_file(check_path("junk/kring.db"), junk, sizeof junk);
  }
  CHECK_EQ(kr_node_open(check_path("junk"), &x), KR_EDAMAGED);
  CHECK_EQ(kr_node_store_error(&why), KR_EDAMAGED);
  CHECK(why && strcmp(why, sqlite3_errstr(SQLITE_NOTADB)) == 0);

  /* One damaged page, in the table of volunteer rows: the node
   * opens, but every read that meets the page fails, and the failure is
   * known as damage (not a shorter list, not another digest). */
  kr_node_store_error_clear();
  {
    long root = root_page(check_path("page/kring.db"), "vols");
    REQUIRE(root > 1);
    smash_page(check_path("page/kring.db"), root);
  }
  REQUIRE(kr_node_open(check_path("page"), &x) == 0);
  CHECK_EQ(kr_node_list(x, NULL, count_id, &count), KR_EDAMAGED);
  CHECK_EQ(count, 0);
  /* the digest of what x reads meets the page (the digest of the changes
   * held does not read the volunteer rows) */
  CHECK_EQ(kr_node_digest_readable(x, d), KR_EDAMAGED);
  {
    kr_volunteer v;
    CHECK_EQ(kr_node_volunteer(x, id, &v), KR_EDAMAGED);
  }
  CHECK_EQ(kr_node_store_error(&why), KR_EDAMAGED);
  CHECK(why && strcmp(why, sqlite3_errstr(SQLITE_CORRUPT)) == 0);
  CHECK_EQ(kr_node_check(x, msg, sizeof msg), KR_EDAMAGED);
  CHECK(msg[0] != 0);
  kr_node_close(x);
  kr_node_store_error_clear();
}

static void add_volunteer(kr_node *n, uint8_t id[16], const char *name, const char *city,
                          const char *skill, const char *lang, const char *avail, int all,
                          const uint8_t *to, kr_buf *wire)
{
  kr_txn *t;
  REQUIRE(kr_txn_begin(n, &t) == 0);
  kr_txn_new_subject(t, id);
  REQUIRE(kr_txn_set(t, id, KR_F_NAME, name, NULL) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_CITY, city, NULL) == 0);
  REQUIRE(kr_txn_add(t, id, KR_F_SKILLS, skill, NULL) == 0);
  REQUIRE(kr_txn_add(t, id, KR_F_LANGUAGES, lang, NULL) == 0);
  REQUIRE(kr_txn_add(t, id, KR_F_AVAILABILITY, avail, NULL) == 0);
  REQUIRE(kr_txn_set(t, id, KR_F_NOTES, "houdt van fietsen", NULL) == 0);
  if (all || to)
    REQUIRE(kr_txn_grant(t, id, "matching", all ? NULL : to, KR_METHOD_PAPER, "v1", "", NULL) == 0);
  REQUIRE(kr_txn_commit(t, wire) == 0);
}

/* kr_node_group_begin/end (kring import): the txns between are one
 * transaction. Ended with 0, none of their changes is held, and the
 * node's next change takes the first seq again; ended with 1, all are,
 * and another process sees them only then. */
static void test_group(void)
{
  kr_node *g[1], *other;
  uint8_t v[3][16], d0[32], d1[32];
  uint64_t seq0, seq, vols, erased, changes0, changes;
  check_network(g, 1, "grp", "foodbank");
  REQUIRE(kr_node_max_seq(g[0], kr_node_id(g[0]), &seq0) == 0);
  REQUIRE(kr_node_counts(g[0], &vols, &erased, &changes0) == 0);
  REQUIRE(kr_node_digest(g[0], d0) == 0);
  CHECK_EQ(kr_node_group_end(g[0], 1), KR_EINVAL);          /* none begun */
  REQUIRE(kr_node_group_begin(g[0]) == 0);
  CHECK_EQ(kr_node_group_begin(g[0]), KR_EINVAL);           /* one at a time */
  for (int i = 0; i < 3; i++)
    add_volunteer(g[0], v[i], "Groep Lid", "Utrecht", "koken", "nl", "mon-am", 0, NULL, NULL);
  REQUIRE(kr_node_max_seq(g[0], kr_node_id(g[0]), &seq) == 0);
  CHECK_EQ(seq, seq0 + 3);
  /* another process: the store is locked for writing, its last commit
   * unchanged; a write there fails as busy once it has waited (a tenth
   * of a second here, KR_BUSY_MS in kring) */
  REQUIRE(kr_node_open(check_path("grp0"), &other) == 0);
  REQUIRE(kr_node_counts(other, &vols, &erased, &changes) == 0);
  CHECK_EQ(changes, changes0);
  {
    kr_txn *t;
    uint8_t id[16];
    sqlite3_busy_timeout(other->db, 100);
    REQUIRE(kr_txn_begin(other, &t) == 0);
    kr_txn_new_subject(t, id);
    REQUIRE(kr_txn_set(t, id, KR_F_NAME, "Wacht Even", NULL) == 0);
    CHECK_EQ(kr_txn_commit(t, NULL), KR_EBUSY);
  }
  kr_node_close(other);
  CHECK_EQ(kr_node_group_end(g[0], 0), 0);                  /* rolled back */
  REQUIRE(kr_node_max_seq(g[0], kr_node_id(g[0]), &seq) == 0);
  CHECK_EQ(seq, seq0);
  REQUIRE(kr_node_counts(g[0], &vols, &erased, &changes) == 0);
  CHECK_EQ(changes, changes0);
  CHECK_EQ(vols, 0);
  REQUIRE(kr_node_digest(g[0], d1) == 0);
  CHECK(memcmp(d0, d1, 32) == 0);
  REQUIRE(kr_node_group_begin(g[0]) == 0);
  for (int i = 0; i < 3; i++)
    add_volunteer(g[0], v[i], "Groep Lid", "Utrecht", "koken", "nl", "mon-am", 0, NULL, NULL);
  CHECK_EQ(kr_node_group_end(g[0], 1), 0);
  REQUIRE(kr_node_open(check_path("grp0"), &other) == 0);
  REQUIRE(kr_node_counts(other, &vols, &erased, &changes) == 0);
  CHECK_EQ(changes, changes0 + 3);
  CHECK_EQ(vols, 3);
  kr_node_close(other);
  kr_node_close(g[0]);
}

/* A txn that comes back to a volunteer after another (set A, set B, set A
 * again, a new volunteer's ops split around B's too): its change holds
 * one box per volunteer (a change holds one record per volunteer and
 * epoch), and the last set of a field wins as in the order typed. */
static void test_runs(void)
{
  kr_node *g[1];
  kr_txn *t;
  kr_buf w;
  kr_change c;
  kr_volunteer v;
  uint8_t a[16], b[16], x[16];
  check_network(g, 1, "runs", "foodbank");
  add_volunteer(g[0], a, "Anna Eerst", "Utrecht", "koken", "nl", "mon-am", 0, NULL, NULL);
  add_volunteer(g[0], b, "Bert Tussen", "Zwolle", "koken", "nl", "mon-am", 0, NULL, NULL);
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_txn_begin(g[0], &t) == 0);
  REQUIRE(kr_txn_set(t, a, KR_F_CITY, "Delft", NULL) == 0);
  kr_txn_new_subject(t, x);
  REQUIRE(kr_txn_set(t, x, KR_F_NAME, "Xandra Nieuw", NULL) == 0);
  REQUIRE(kr_txn_set(t, b, KR_F_CITY, "Kampen", NULL) == 0);
  REQUIRE(kr_txn_set(t, a, KR_F_CITY, "Gouda", NULL) == 0);
  REQUIRE(kr_txn_add(t, a, KR_F_SKILLS, "tuinieren", NULL) == 0);
  REQUIRE(kr_txn_set(t, x, KR_F_CITY, "Assen", NULL) == 0);
  REQUIRE(kr_txn_commit(t, &w) == 0);
  REQUIRE(kr_change_decode(w.data, w.len, KR_CHANGE_MAX, &c) == 0);
  {
    int boxes[3] = {0, 0, 0};
    const uint8_t *ids[3] = {a, b, x};
    CHECK_EQ(c.nops, 3);
    for (uint32_t i = 0; i < c.nops; i++)
      for (int k = 0; k < 3; k++)
        boxes[k] += KR_OP_IS_RECORD(c.ops[i].type) && c.ops[i].box &&
                    !memcmp(c.ops[i].subject, ids[k], 16);
    CHECK(boxes[0] == 1 && boxes[1] == 1 && boxes[2] == 1);
  }
  kr_change_free(&c);
  REQUIRE(kr_node_volunteer(g[0], a, &v) == 0);
  CHECK(v.val.v[KR_F_CITY] && !strcmp(v.val.v[KR_F_CITY], "Gouda"));
  CHECK_EQ(v.val.set[KR_F_SKILLS - 32].n, 2);
  kr_volunteer_free(&v);
  REQUIRE(kr_node_volunteer(g[0], x, &v) == 0);
  CHECK(v.val.v[KR_F_NAME] && !strcmp(v.val.v[KR_F_NAME], "Xandra Nieuw"));
  CHECK(v.val.v[KR_F_CITY] && !strcmp(v.val.v[KR_F_CITY], "Assen"));
  kr_volunteer_free(&v);
  REQUIRE(kr_node_volunteer(g[0], b, &v) == 0);
  CHECK(v.val.v[KR_F_CITY] && !strcmp(v.val.v[KR_F_CITY], "Kampen"));
  kr_volunteer_free(&v);
  kr_buf_free(&w);
  kr_node_close(g[0]);
}

struct plist { int n; char names[8][16]; };
static int purpose_row(void *ctx, const kr_purpose *p)
{
  struct plist *l = ctx;
  if (l->n < 8) snprintf(l->names[l->n++], sizeof l->names[0], "%s", p->name);
  return 0;
}

/* 1 when n's list holds name with this description and text version. */
static int purpose_is(kr_node *n, const char *name, const char *desc, const char *tv)
{
  kr_purpose p;
  int ok;
  if (kr_node_purpose_get(n, name, &p)) return 0;
  ok = !strcmp(p.description, desc) && !strcmp(p.text_version, tv);
  kr_purpose_free(&p);
  return ok;
}

/* The network's list of purposes (docs/crdt.md, "Purposes"): the starting
 * list of the founding change, replicated; two members change one purpose
 * while apart and every node ends with the later one; the rules. */
static void test_purposes(void)
{
  kr_node *p[3];
  struct plist l = {0};
  kr_purpose pa, pb;
  const char *why;
  uint64_t seq0, seq1;

  check_network(p, 3, "p", "care");
  for (int i = 0; i < 3; i++) kr_node_set_clock(p[i], check_clock, &clk);
  /* The founding change carried the starting list; the members hold it. */
  REQUIRE(kr_node_purposes(p[2], purpose_row, &l) == 0);
  CHECK_EQ(l.n, 5);
  CHECK(!strcmp(l.names[0], "contact") && !strcmp(l.names[1], "matching") &&
        !strcmp(l.names[2], "newsletter") && !strcmp(l.names[3], "photos") &&
        !strcmp(l.names[4], "placement"));
  CHECK(purpose_is(p[1], "contact", "om contact op te nemen over vrijwilligerswerk", ""));
  CHECK_EQ(kr_node_purpose_get(p[1], "fotos", &pa), KR_ENOTFOUND);
  CHECK(check_same_readable(p[0], p[1]) && check_same_readable(p[0], p[2]));

  /* A and B change photos while apart; C hears B first, then A. */
  REQUIRE(kr_node_purpose_set(p[0], "photos", "foto's op de website", "2025-1", NULL) == 0);
  REQUIRE(kr_node_purpose_set(p[1], "photos", "foto's in de nieuwsbrief", NULL, NULL) == 0);
  REQUIRE(kr_node_purpose_set(p[1], "first-aid", "om te weten wie EHBO kan", "v3", NULL) == 0);
  check_sync(p[1], p[2]);
  check_sync(p[0], p[2]);
  check_sync(p[0], p[1]);
  check_sync(p[1], p[0]);
  REQUIRE(kr_node_purpose_get(p[0], "photos", &pa) == 0);
  REQUIRE(kr_node_purpose_get(p[1], "photos", &pb) == 0);
  CHECK(!strcmp(pa.description, pb.description) && !strcmp(pa.text_version, pb.text_version));
  /* the later stamp wins: the second writer's (its clock read later) */
  CHECK(!memcmp(pa.changed.origin, kr_node_id(p[1]), 32));
  CHECK(purpose_is(p[2], "photos", "foto's in de nieuwsbrief", ""));
  CHECK(purpose_is(p[0], "first-aid", "om te weten wie EHBO kan", "v3"));
  kr_purpose_free(&pa);
  kr_purpose_free(&pb);
  CHECK(check_same_digest(p[0], p[2]) && check_same_readable(p[0], p[2]));
  CHECK(check_same_readable(p[0], p[1]) && check_same_readable(p[1], p[2]));

  /* Setting what the list holds already makes no change. */
  REQUIRE(kr_node_max_seq(p[2], kr_node_id(p[2]), &seq0) == 0);
  CHECK_EQ(kr_node_purpose_set(p[2], "photos", "foto's in de nieuwsbrief", "", NULL), 0);
  REQUIRE(kr_node_max_seq(p[2], kr_node_id(p[2]), &seq1) == 0);
  CHECK_EQ(seq1, seq0);

  /* The rules: a name of the grants' syntax, one line of text, no BSN. */
  CHECK_EQ(kr_node_purpose_set(p[2], "Foto's", "foto's", NULL, &why), KR_EVALIDATION);
  CHECK(why != NULL);
  CHECK_EQ(kr_node_purpose_set(p[2], "photos", "", NULL, NULL), KR_EVALIDATION);
  CHECK_EQ(kr_node_purpose_set(p[2], "photos", "twee\nregels", NULL, NULL), KR_EVALIDATION);
  CHECK_EQ(kr_node_purpose_set(p[2], "photos", "bsn 111222333", NULL, NULL), KR_EBSN);
  CHECK(purpose_is(p[2], "photos", "foto's in de nieuwsbrief", ""));
  /* ... which every node checks in a change it receives, too. */
  {
    kr_op op;
    kr_buf w;
    uint64_t seq;
    memset(&op, 0, sizeof op);
    op.type = KR_OP_PURPOSE;
    op.purpose = "photos";
    op.value = "twee\nregels";          /* the decoder takes a line feed; the rules do not */
    op.text_version = "";
    kr_purpose_key("photos", op.subject);
    kr_buf_init(&w, KR_CHANGE_MAX);
    REQUIRE(kr_node_max_seq(p[0], kr_node_id(p[0]), &seq) == 0);
    REQUIRE(kr_change_build(kr_node_secret_key(p[0]), seq + 1, (kr_hlc)clk << 16, check_nonce, &op, 1, &w) == 0);
    CHECK_EQ(kr_node_apply(p[1], w.data, w.len, NULL), KR_EVALIDATION);
    kr_buf_free(&w);
  }
  /* A removal takes back a purpose its member added past the cutoff: the
   * list is rebuilt from the changes that remain, the rest stays. */
  REQUIRE(kr_node_purpose_set(p[1], "late", "na de verwijdering", NULL, NULL) == 0);
  check_sync(p[1], p[2]);
  CHECK(purpose_is(p[2], "late", "na de verwijdering", ""));
  REQUIRE(kr_node_expel(p[0], kr_node_id(p[1]), "test") == 0);
  check_sync(p[0], p[2]);
  CHECK_EQ(kr_node_purpose_get(p[2], "late", &pa), KR_ENOTFOUND);
  CHECK(purpose_is(p[2], "first-aid", "om te weten wie EHBO kan", "v3"));
  CHECK(purpose_is(p[2], "photos", "foto's in de nieuwsbrief", ""));
  CHECK(purpose_is(p[2], "contact", "om contact op te nemen over vrijwilligerswerk", ""));
  CHECK(check_same_readable(p[0], p[2]));
  for (int i = 0; i < 3; i++) kr_node_close(p[i]);
}

int main(void)
{
  kr_node *a, *b, *c, *x, *abc[3];
  uint8_t v1[16], v2[16], v3[16], v4[16], d1[32], d2[32];
  kr_buf w1, w2;
  struct ids ids;
  kr_filter f;
  int fresh;

  kr_buf_init(&w1, KR_CHANGE_MAX);
  kr_buf_init(&w2, KR_CHANGE_MAX);
  test_group();
  test_runs();
  check_network(abc, 3, "s", "foodbank");
  a = abc[0];
  b = abc[1];
  c = abc[2];
  kr_node_set_clock(a, check_clock, &clk);
  kr_node_set_clock(b, check_clock, &clk);
  kr_node_set_clock(c, check_clock, &clk);

  /* A home that holds a node is refused. */
  CHECK_EQ(kr_node_create(check_path("s0"), "Again", "other", &x), KR_EEXISTS);
  CHECK_EQ(kr_node_create(check_path("c"), "", "other", &x), KR_EINVAL);
  CHECK_EQ(kr_node_create(check_path("c"), "Org", "bank", &x), KR_EINVAL);

  /* The key file is 0600; a group-readable key refuses to open. */
  {
    struct stat st;
    REQUIRE(stat(check_path("s0/node.key"), &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    REQUIRE(stat(check_path("s0/kring.db"), &st) == 0);
    CHECK_EQ(st.st_mode & 077, 0);
    chmod(check_path("s0/node.key"), 0640);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EKEYPERM);
    chmod(check_path("s0/node.key"), 0604);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EKEYPERM);
    chmod(check_path("s0/node.key"), 0600);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), 0);
    CHECK(memcmp(kr_node_id(x), kr_node_id(a), 32) == 0);
    CHECK(strcmp(kr_node_org(x), "Org s0") == 0);
    kr_node_close(x);
    CHECK_EQ(kr_node_open(check_path("nothing"), &x), KR_ENOTFOUND);
  }
  test_key_file(a);
  /* Schema version and WAL mode. */
  {
    sqlite3 *db;
    sqlite3_stmt *s;
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 13);
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0);
    sqlite3_finalize(s);
    /* A store from a newer kring is refused rather than misread. */
    sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EUNKNOWN);
    /* A store of versions 1..6 holds changes of format 1: refused. */
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=6", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EOLDSTORE);
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EOLDSTORE);
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL);
    sqlite3_close(db);
    /* 7 holds changes of format 2 (key ops as sealed boxes): refused too */
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EOLDSTORE);
    /* 8 and 9 hold changes of format 3 (a hash per op): refused */
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=9", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EOLDSTORE);
    /* 10 holds format 4 before records (groups, key ops, registrations
     * as ops of their own): refused */
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=10", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EOLDSTORE);
    /* 11 names nodes by id in keyops and registrations: refused */
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=11", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ(kr_node_open(check_path("s0"), &x), KR_EOLDSTORE);
    /* back to 13 (a store of schema 12 opens and is converted: test_cli,
     * with tests/data/store-v12, made by the kring of then) */
    REQUIRE(sqlite3_open(check_path("s0/kring.db"), &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version=13", NULL, NULL, NULL);
    sqlite3_close(db);
    REQUIRE(kr_node_open(check_path("s0"), &x) == 0);
    kr_node_close(x);
  }

  /* Consent to all: b reads both. */
  add_volunteer(a, v1, "Anna de Vries", "Amsterdam", "koken", "nl", "mon-am", 1, NULL, &w1);
  add_volunteer(a, v2, "Piet Bakker", "Zaandam", "rijden", "en", "tue-pm", 1, NULL, &w2);

  /* Apply on b: new, then idempotent. */
  CHECK_EQ(kr_node_apply(b, w1.data, w1.len, &fresh), 0);
  CHECK_EQ(fresh, 1);
  CHECK_EQ(kr_node_apply(b, w1.data, w1.len, &fresh), 0);
  CHECK_EQ(fresh, 0);
  CHECK_EQ(kr_node_apply(b, w2.data, w2.len, &fresh), 0);
  kr_node_digest(a, d1);
  kr_node_digest(b, d2);
  CHECK(memcmp(d1, d2, 32) == 0);
  CHECK(check_same_readable(a, b));
  /* A volunteer without consent: b holds it sealed. */
  {
    kr_buf w4;
    kr_buf_init(&w4, KR_CHANGE_MAX);
    add_volunteer(a, v4, "Karel Verborgen", "Amsterdam", "koken", "en", "tue-pm", 0, NULL, &w4);
    CHECK_EQ(kr_node_apply(b, w4.data, w4.len, &fresh), 0);
    CHECK_EQ(fresh, 1);
    kr_buf_free(&w4);
  }
  CHECK(check_same_digest(a, b));
  CHECK(!check_same_readable(a, b));
  /* A damaged change is refused and stores nothing. */
  kr_node_digest(a, d1);
  w1.data[w1.len / 2] ^= 1;
  CHECK(kr_node_apply(b, w1.data, w1.len, &fresh) < 0);
  w1.data[w1.len / 2] ^= 1;
  kr_node_digest(b, d2);
  CHECK(memcmp(d1, d2, 32) == 0);
  /* The stored change re-encodes to the bytes that were applied. */
  {
    kr_buf r;
    kr_buf_init(&r, KR_CHANGE_MAX);
    kr_change ch;
    REQUIRE(kr_change_decode(w1.data, w1.len, KR_CHANGE_MAX, &ch) == 0);
    CHECK_EQ(kr_node_change_bytes(b, kr_node_id(a), ch.seq, &r), 0);
    kr_change_free(&ch);
    CHECK(r.len == w1.len && memcmp(r.data, w1.data, r.len) == 0);
    kr_buf_free(&r);
  }

  /* Queries. */
  memset(&f, 0, sizeof f);
  f.skill = "koken";
  ids.n = 0;
  CHECK_EQ(kr_node_list(b, &f, collect, &ids), 0);
  CHECK(ids.n == 1 && memcmp(ids.id[0], v1, 16) == 0);
  memset(&f, 0, sizeof f);
  f.city = "zaandam";
  ids.n = 0;
  kr_node_list(b, &f, collect, &ids);
  CHECK(ids.n == 1 && memcmp(ids.id[0], v2, 16) == 0);
  memset(&f, 0, sizeof f);
  f.language = "en";
  f.available = "tue-pm";
  ids.n = 0;
  kr_node_list(b, &f, collect, &ids);
  CHECK_EQ(ids.n, 1);
  f.available = "mon-am";
  ids.n = 0;
  kr_node_list(b, &f, collect, &ids);
  CHECK_EQ(ids.n, 0);
  ids.n = 0;
  kr_node_list(b, NULL, collect, &ids);
  CHECK(ids.n == 2 && memcmp(ids.id[0], v1, 16) == 0); /* by name: Anna first; not v4 */
  ids.n = 0;
  kr_node_list(a, NULL, collect, &ids);
  CHECK(ids.n == 3 && memcmp(ids.id[1], v4, 16) == 0); /* a reads v4: Karel second */
  ids.n = 0;
  CHECK_EQ(kr_node_search(b, "piet", collect, &ids), 0);
  CHECK(ids.n == 1 && memcmp(ids.id[0], v2, 16) == 0);
  ids.n = 0;
  kr_node_search(b, "fiets", collect, &ids);              /* prefix in notes */
  CHECK_EQ(ids.n, 2);
  ids.n = 0;
  kr_node_search(b, "amster kok", collect, &ids);         /* city and skill */
  CHECK_EQ(ids.n, 1);
  ids.n = 0;
  kr_node_search(b, "verborgen", collect, &ids);          /* sealed here */
  CHECK_EQ(ids.n, 0);
  ids.n = 0;
  kr_node_search(a, "verborgen", collect, &ids);
  CHECK(ids.n == 1 && memcmp(ids.id[0], v4, 16) == 0);
  ids.n = 0;
  CHECK_EQ(kr_node_search(b, "\") OR (", collect, &ids), 0); /* FTS syntax is inert */
  CHECK_EQ(kr_node_search(b, "   ", collect, &ids), KR_EINVAL);
  {
    uint8_t id[16];
    char hex[40];
    for (int i = 0; i < 16; i++) sprintf(hex + 2 * i, "%02x", v1[i]);
    CHECK_EQ(kr_node_find(b, hex, id), 0);
    CHECK(memcmp(id, v1, 16) == 0);
    hex[8] = 0;
    CHECK_EQ(kr_node_find(b, hex, id), 0);
    CHECK_EQ(kr_node_find(b, "zz", id), KR_EINVAL);
    CHECK_EQ(kr_node_find(b, "00000000", id), memcmp(v1, "\0\0\0\0", 4) && memcmp(v2, "\0\0\0\0", 4) ? KR_ENOTFOUND : 0);
    /* v4 is sealed on b: a whole id says so, a prefix finds nothing */
    for (int i = 0; i < 16; i++) sprintf(hex + 2 * i, "%02x", v4[i]);
    CHECK_EQ(kr_node_find(b, hex, id), KR_ESEALED);
    CHECK_EQ(kr_node_find(a, hex, id), 0);
    hex[8] = 0;
    CHECK_EQ(kr_node_find(b, hex, id), KR_ENOTFOUND);
    {
      kr_volunteer v;
      uint64_t vols, erased, changes, sealed;
      CHECK_EQ(kr_node_volunteer(b, v4, &v), KR_ESEALED);
      CHECK_EQ(kr_node_counts(b, &vols, &erased, &changes), 0);
      CHECK_EQ(vols, 2);
      CHECK_EQ(kr_node_sealed_count(b, &sealed), 0);
      CHECK_EQ(sealed, 1);
      CHECK_EQ(kr_node_counts(a, &vols, &erased, &changes), 0);
      CHECK_EQ(vols, 3);
    }
  }

  /* Local validation: BSN refused, nothing stored. */
  {
    kr_txn *t;
    const char *why;
    REQUIRE(kr_txn_begin(a, &t) == 0);
    CHECK_EQ(kr_txn_set(t, v1, KR_F_NOTES, "BSN 111222333", &why), KR_EBSN);
    CHECK_EQ(kr_txn_set(t, v1, KR_F_EMAIL, "not-an-address", &why), KR_EVALIDATION);
    CHECK(why != NULL);
    CHECK_EQ(kr_txn_remove(t, v1, KR_F_SKILLS, "zwemmen", &why), KR_ENOTFOUND);
    CHECK_EQ(kr_txn_set(t, v1, KR_F_SKILLS, "x", &why), KR_EUNKNOWN);
    CHECK_EQ(kr_txn_count(t), 0);
    CHECK_EQ(kr_txn_commit(t, NULL), KR_EINVAL);
  }

  /* Erasure. v3 consents to b only: b reads it (the name is in its
   * file), c holds it sealed (the name is never in its files). After the
   * erasure and VACUUM the name is in no file of a, b or c. */
  {
    kr_txn *t;
    kr_buf e, c3;
    kr_volunteer v;
    uint64_t seq3, sealed;
    kr_buf_init(&e, KR_CHANGE_MAX);
    kr_buf_init(&c3, KR_CHANGE_MAX);
    add_volunteer(a, v3, "Zwaantje Zeldzaamnaam", "Utrecht", "tuinieren", "nl", "wed-ev", 0,
                  kr_node_id(b), &c3);
    REQUIRE(kr_node_max_seq(a, kr_node_id(a), &seq3) == 0);
    CHECK_EQ(kr_node_apply(b, c3.data, c3.len, &fresh), 0);
    CHECK_EQ(fresh, 1);
    CHECK_EQ(kr_node_volunteer(b, v3, &v), 0);
    CHECK(v.val.v[KR_F_NAME] && strcmp(v.val.v[KR_F_NAME], "Zwaantje Zeldzaamnaam") == 0);
    kr_volunteer_free(&v);
    kr_node_checkpoint(b);
    CHECK(check_file_has(check_path("s1/kring.db"), "Zeldzaamnaam"));
    CHECK(check_sync(a, c) > 0);
    CHECK(check_same_digest(a, c));
    CHECK_EQ(kr_node_volunteer(c, v3, &v), KR_ESEALED);
    CHECK_EQ(kr_node_sealed_count(c, &sealed), 0);
    CHECK_EQ(sealed, 2);                               /* v3 and v4 */
    kr_node_checkpoint(c);
    CHECK(!check_file_has(check_path("s2/kring.db"), "Zeldzaamnaam"));
    CHECK(!check_file_has(check_path("s2/kring.db"), "tuinieren"));
    CHECK(!check_file_has(check_path("s2/kring.db-wal"), "Zeldzaamnaam"));
    CHECK(check_file_has(check_path("s2/kring.db"), "Piet Bakker"));   /* what c reads is there */

    REQUIRE(kr_txn_begin(a, &t) == 0);
    CHECK_EQ(kr_txn_erase(t, v3, "verzoek van de vrijwilliger", NULL), 0);
    CHECK_EQ(kr_txn_commit(t, &e), 0);
    CHECK_EQ(kr_node_apply(b, e.data, e.len, &fresh), 0);
    CHECK_EQ(kr_node_apply(c, e.data, e.len, &fresh), 0);
    CHECK_EQ(fresh, 1);
    CHECK_EQ(kr_node_volunteer(b, v3, &v), 0);
    CHECK(v.erased && v.val.v[KR_F_NAME] == NULL);
    kr_volunteer_free(&v);
    CHECK_EQ(kr_node_volunteer(c, v3, &v), 0);          /* c knows it erased */
    CHECK(v.erased && v.val.v[KR_F_NAME] == NULL);
    kr_volunteer_free(&v);
    /* Edits to an erased volunteer are refused locally. */
    REQUIRE(kr_txn_begin(b, &t) == 0);
    CHECK_EQ(kr_txn_set(t, v3, KR_F_CITY, "Delft", NULL), KR_EERASED);
    kr_txn_abort(t);
    /* The stored change now carries the op's hash only: its one
     * registering record (the registration, the key sealed to b, the box). */
    for (int k = 0; k < 2; k++) {
      kr_change ch;
      kr_buf_reset(&c3);
      CHECK_EQ(kr_node_change_bytes(k ? c : b, kr_node_id(a), seq3, &c3), 0);
      CHECK_EQ(kr_change_decode(c3.data, c3.len, KR_CHANGE_MAX, &ch), 0);
      CHECK_EQ(ch.nops, 1);
      for (uint32_t i = 0; i < ch.nops; i++) {
        CHECK_EQ(ch.ops[i].type, KR_OP_REDACTED);
        CHECK_EQ(ch.types[i], KR_OP_REGREC);
      }
      kr_change_free(&ch);
    }
    kr_node_close(b);
    kr_node_close(c);
    for (int k = 1; k <= 2; k++) {
      sqlite3 *db;
      REQUIRE(sqlite3_open(check_path(k == 1 ? "s1/kring.db" : "s2/kring.db"), &db) == SQLITE_OK);
      CHECK_EQ(sqlite3_exec(db, "VACUUM", NULL, NULL, NULL), SQLITE_OK);
      sqlite3_close(db);
    }
    CHECK(!check_file_has(check_path("s1/kring.db"), "Zeldzaamnaam"));
    CHECK(!check_file_has(check_path("s1/kring.db"), "Zwaantje"));
    CHECK(!check_file_has(check_path("s1/kring.db"), "tuinieren"));
    CHECK(!check_file_has(check_path("s1/kring.db-wal"), "Zeldzaamnaam"));
    CHECK(!check_file_has(check_path("s0/kring.db"), "Zeldzaamnaam"));
    CHECK(!check_file_has(check_path("s2/kring.db"), "Zeldzaamnaam"));
    CHECK(!check_file_has(check_path("s2/kring.db"), "Zwaantje"));
    CHECK(!check_file_has(check_path("s2/kring.db-wal"), "Zeldzaamnaam"));
    CHECK(check_file_has(check_path("s1/kring.db"), "Piet Bakker"));   /* the rest stays */
    REQUIRE(kr_node_open(check_path("s1"), &b) == 0);
    REQUIRE(kr_node_open(check_path("s2"), &c) == 0);
    CHECK(check_same_digest(a, b));
    CHECK(check_same_digest(a, c));
    kr_buf_free(&e);
    kr_buf_free(&c3);
  }

  /* Equivocation: a second, different change 1 from a is refused. */
  {
    kr_node *a2;
    kr_buf fake;
    uint8_t id[16];
    kr_buf_init(&fake, KR_CHANGE_MAX);
    /* Build a node with a's key but an empty store: its next seq is 1. */
    uint8_t net[16], founder[32];
    kr_node_network(a, net, founder);
    REQUIRE(kr_node_create_joining(check_path("a2"), "Copy", "other", net, founder, &a2) == 0);
    kr_node_close(a2);
    {
      FILE *src = fopen(check_path("s0/node.key"), "rb"), *dst = fopen(check_path("a2/node.key"), "wb");
      char k[64];
      REQUIRE(src && dst && fread(k, 1, 64, src) == 64 && fwrite(k, 1, 64, dst) == 64);
      fclose(src);
      fclose(dst);
    }
    REQUIRE(kr_node_open(check_path("a2"), &a2) == 0);
    add_volunteer(a2, id, "Fake", "Delft", "x", "nl", "mon-am", 0, NULL, &fake);
    CHECK_EQ(kr_node_apply(b, fake.data, fake.len, &fresh), KR_ECONFLICT);
    kr_node_close(a2);
    kr_buf_free(&fake);
  }

  kr_node_close(a);
  kr_node_close(b);
  kr_node_close(c);
  kr_buf_free(&w1);
  kr_buf_free(&w2);
  test_damaged();
  test_purposes();
  return check_done("test_store");
}
