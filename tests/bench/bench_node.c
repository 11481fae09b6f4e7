/*
 * bench_node: how fast one node creates and applies volunteers, against a
 * plain SQLite floor. In one run: N synthetic volunteers (10 fields each:
 * realistic Dutch names, e-mail, phone, postcode, city, birth year, two
 * skills, a language, an availability) are created through the node API
 * in changes of 500 volunteers, each with consent `matching` to node B
 * (so B reads them all: their keys are sealed to it); the resulting
 * changes are applied to B's empty store (a reader of all), and to a
 * fourth empty store E that may read none of them (sealed groups stored,
 * nothing opened); and the same rows are inserted into one plain
 * SQLite table in one transaction. Prints rates, ratios to the floor,
 * database sizes and peak memory. Then, with the real kring binary in
 * child processes (so that each one's peak memory is its own): a bundle
 * of everything exported from the first node and imported into a third,
 * empty one, against the same floor; and the size of the bundle that
 * carries one edit once both hold everything. Not part of the default
 * test run.
 *
 * usage: bench_node [N] [PATH/TO/kring]   (default 100000, the kring built beside it)
 */
#include <sodium.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "crdt/err.h"
#include "node/node.h"

#define PER_CHANGE 500

static const char *first[] = {"Anna", "Daan", "Emma", "Lucas", "Sophie", "Sem", "Julia", "Noah",
  "Fatima", "Mohammed", "Saskia", "Jeroen", "Ingrid", "Kees", "Marloes", "Ahmet", "Ayşe", "Wim",
  "Priya", "Thijs", "Lotte", "Bram", "Nadia", "Yusuf", "Femke", "Ruben", "Esra", "Joost"};
static const char *last[] = {"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker",
  "Janssen", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
  "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "Yılmaz", "El Amrani", "Kaya", "Bouali"};
static const char *cities[] = {"Amsterdam", "Rotterdam", "Den Haag", "Utrecht", "Eindhoven",
  "Groningen", "Tilburg", "Almere", "Breda", "Nijmegen", "Zaandam", "Haarlem", "Arnhem", "Zwolle"};
static const char *skills[] = {"koken", "rijden", "tuinieren", "administratie", "taalcoach",
  "klussen", "boodschappen", "computerhulp", "voorlezen", "sorteren", "inpakken", "begeleiding"};
static const char *langs[] = {"nl", "en", "tr", "ar", "pl", "fr", "de", "ti", "uk"};
static const char *days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *parts[] = {"am", "pm", "ev"};

typedef struct {
  char name[64], email[96], phone[16], postcode[8], city[32], year[8], skill1[32], skill2[32],
      lang[8], avail[8];
} person;

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}
#define PICK(a) a[rnd(sizeof a / sizeof a[0])]

static void make_person(person *p, unsigned i)
{
  const char *f = PICK(first), *l = PICK(last);
  snprintf(p->name, sizeof p->name, "%s %s", f, l);
  snprintf(p->email, sizeof p->email, "%c.%u@voorbeeld.nl", f[0] | 0x20, i);
  snprintf(p->phone, sizeof p->phone, "06%08u", rnd(100000000));
  snprintf(p->postcode, sizeof p->postcode, "%04u %c%c", 1000 + rnd(9000), 'A' + rnd(18), 'A' + rnd(26));
  snprintf(p->city, sizeof p->city, "%s", PICK(cities));
  snprintf(p->year, sizeof p->year, "%u", 1940 + rnd(66));
  snprintf(p->skill1, sizeof p->skill1, "%s", skills[i % 12]);
  snprintf(p->skill2, sizeof p->skill2, "%s", skills[(i / 12 + 5) % 12]);
  snprintf(p->lang, sizeof p->lang, "%s", PICK(langs));
  snprintf(p->avail, sizeof p->avail, "%s-%s", PICK(days), PICK(parts));
}

/* A figure against its target: PASS or MISS. */
static const char *verdict(double v, double target) { return v <= target ? "PASS" : "MISS"; }

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long fsize(const char *dir, const char *name)
{
  char p[4200];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

/* Run kring with args in a child; its wall time and peak RSS (MiB). The
 * child reports its own VmHWM (KRING_REPORT_PEAK): a forked child's
 * rusage would count the bench's own pages. */
static int run_kring_out(const char *bin, char *const args[], double *secs, double *rss_mib,
                         const char *out);
static int run_kring(const char *bin, char *const args[], double *secs, double *rss_mib)
{
  return run_kring_out(bin, args, secs, rss_mib, NULL);
}

/* As run_kring, with standard output kept in out (NULL: dropped). */
static int run_kring_out(const char *bin, char *const args[], double *secs, double *rss_mib,
                         const char *out)
{
  char errf[] = "/tmp/kring-bench-err-XXXXXX", line[256];
  double t0 = now_s();
  int status, fd = mkstemp(errf);
  pid_t pid;
  FILE *f;

  if (fd < 0) return -1;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid == 0) {
    if (!freopen(out ? out : "/dev/null", "w", stdout) || dup2(fd, 2) < 0) _exit(127);
    setenv("KRING_REPORT_PEAK", "1", 1);
    execv(bin, args);
    _exit(127);
  }
  close(fd);
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  *secs = now_s() - t0;
  *rss_mib = -1;
  if ((f = fopen(errf, "r"))) {
    while (fgets(line, sizeof line, f)) {
      long kb;
      if (sscanf(line, "kring: peak memory %ld kB", &kb) == 1) *rss_mib = kb / 1024.0;
      else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fputs(line, stderr);  /* why it failed */
    }
    fclose(f);
  }
  unlink(errf);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Start kring serve on home in the background; its pid, port and log. */
static pid_t serve(const char *bin, const char *home, const char *log, int *port)
{
  pid_t pid;
  fflush(stdout);
  if ((pid = fork()) == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 2) < 0 || !freopen("/dev/null", "w", stdout)) _exit(127);
    setenv("KRING_REPORT_PEAK", "1", 1);
    execl(bin, bin, "--home", home, "serve", "--listen", "127.0.0.1:0", "--interval", "3600",
          (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    char line[512];
    FILE *f = fopen(log, "r");
    *port = 0;
    while (f && fgets(line, sizeof line, f)) {
      const char *p = strstr(line, " port ");
      if (p && strstr(line, "serving on")) *port = atoi(p + 6);
    }
    if (f) fclose(f);
    if (*port) return pid;
    usleep(20000);
  }
  return -1;
}

/* Stop a serve process; its peak memory from its log (MiB). */
static double stop(pid_t pid, const char *log)
{
  char line[512];
  double mib = -1;
  FILE *f;
  int st;
  kill(pid, SIGTERM);
  waitpid(pid, &st, 0);
  if ((f = fopen(log, "r"))) {
    while (fgets(line, sizeof line, f)) {
      long kb;
      const char *p = strstr(line, "peak memory");
      if (p && sscanf(p, "peak memory %ld kB", &kb) == 1) mib = kb / 1024.0;
    }
    fclose(f);
  }
  return mib;
}

static long long json_num(const char *path, const char *key)
{
  char buf[4096], pat[64];
  const char *p;
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = 0;
  snprintf(pat, sizeof pat, "\"%s\":", key);
  p = strstr(buf, pat);
  return p ? atoll(p + strlen(pat)) : -1;
}

/* t_floor: the floor measured just before (the last phase's after). */
static int online(const char *bin, const char *dir, const char *ha, const char *hd, double t_floor,
                  long long bundle_bytes)
{
  char loga[300], logd[300], out[300], addr[64], addrd[64];
  int port, portd;
  double t, rss, t1, rss1;
  pid_t pa, pd;

  snprintf(loga, sizeof loga, "%s/serve-a.log", dir);
  snprintf(logd, sizeof logd, "%s/serve-d.log", dir);
  snprintf(out, sizeof out, "%s/sync.json", dir);
  if ((pa = serve(bin, ha, loga, &port)) < 0) return fprintf(stderr, "serve a failed\n"), 1;
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  {
    char *sync_args[] = {(char *)bin, "--home", (char *)hd, "--json", "sync", addr, NULL};
    char *add_args[] = {(char *)bin, "--home", (char *)ha, "volunteer", "add", "--name",
                        "Een Edit", NULL};
    long long in, outb;
    if (run_kring_out(bin, sync_args, &t, &rss, out)) return fprintf(stderr, "online sync failed\n"), 1;
    in = json_num(out, "bytes_in");
    outb = json_num(out, "bytes_out");
    printf("  online initial sync (all)    %8.2f s  ratio to floor %5.1fx  target 4x  %s"
           "  wire %.1f MiB (%.2fx the bundle)  peak receiver %.1f MiB\n", t, t / t_floor,
           verdict(t / t_floor, 4), (in + outb) / 1048576.0, (in + outb) / (double)bundle_bytes,
           rss);
    if (run_kring(bin, add_args, &t1, &rss1) || run_kring_out(bin, sync_args, &t1, &rss1, out))
      return fprintf(stderr, "one-edit sync failed\n"), 1;
    printf("  online one-edit sync         %8.3f s  wire %lld bytes\n", t1,
           json_num(out, "bytes_in") + json_num(out, "bytes_out"));
  }
  /* edit-to-peer: d serves too and a knows it as a peer; an edit on a
   * must show on d by itself */
  if ((pd = serve(bin, hd, logd, &portd)) < 0) return fprintf(stderr, "serve d failed\n"), 1;
  snprintf(addrd, sizeof addrd, "127.0.0.1:%d", portd);
  {
    char *peer_args[] = {(char *)bin, "--home", (char *)ha, "peer", "add", "d", addrd, NULL};
    char name[64], word[32];
    char *add_args[] = {(char *)bin, "--home", (char *)ha, "volunteer", "add", "--name", name, NULL};
    /* d reads the volunteer only once it has consented to d */
    char *grant_args[] = {(char *)bin, "--home", (char *)ha, "consent", "grant", name, "--purpose",
                          "matching", "--to", "Bench D", "--method", "paper", NULL};
    char *find_args[] = {(char *)bin, "--home", (char *)hd, "volunteer", "search", word, NULL};
    double t0, dt[5], x, y, sum = 0, worst = 0;
    if (run_kring(bin, peer_args, &x, &y)) return 1;
    usleep(2500000);          /* serve reloads its address book and syncs once */
    for (int k = 0; k < 5; k++) {
      snprintf(word, sizeof word, "Latentie%c", 'a' + k);
      snprintf(name, sizeof name, "%s Meting", word);
      usleep(300000);
      dt[k] = -1;
      t0 = now_s();
      if (run_kring(bin, add_args, &x, &y) || run_kring(bin, grant_args, &x, &y)) return 1;
      for (int i = 0; i < 500; i++) {
        char fo[300], line[256] = "";
        FILE *f;
        snprintf(fo, sizeof fo, "%s/find.out", dir);
        run_kring_out(bin, find_args, &x, &y, fo);
        if ((f = fopen(fo, "r"))) {
          if (!fgets(line, sizeof line, f)) line[0] = 0;
          fclose(f);
        }
        if (strstr(line, word)) { dt[k] = now_s() - t0; break; }
        usleep(10000);
      }
      sum += dt[k];
      if (dt[k] > worst || dt[k] < 0) worst = dt[k] < 0 ? 1e9 : dt[k];
    }
    printf("  edit to a serving peer       %8.3f s mean, %.3f s worst of 5 (from the start of kring volunteer add,\n"
           "                               then consent grant for the peer)\n",
           sum / 5, worst);
  }
  printf("  peak memory of kring serve   sender %.1f MiB, peer %.1f MiB\n", stop(pa, loga),
         stop(pd, logd));
  return 0;
}

/* by admits node with a fresh invite, proof and all. */
static int bench_admit(kr_node *by, const uint8_t *node, const char *org, const char *kind)
{
  uint8_t pk[32], sk[64], proof[64];
  crypto_sign_keypair(pk, sk);
  kr_admit_proof(sk, node, kind, org, proof);
  return kr_node_admit(by, node, org, kind, pk, proof);
}

/* The floor: the same rows, one plain SQLite table, one transaction
 * (journal and sync as the node's, WAL, synchronous=NORMAL); a new file
 * each time. The machine's speed drifts by up to 40% over minutes, so the
 * floor is measured before and after each kring phase, and a phase's
 * ratio is to the mean of the two. */
static double floor_run(const char *hf, const person *people, unsigned n)
{
  sqlite3 *db;
  sqlite3_stmt *s;
  double t0;
  char wal[320];

  unlink(hf);
  snprintf(wal, sizeof wal, "%s-wal", hf);
  unlink(wal);
  sqlite3_open(hf, &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "CREATE TABLE v(id BLOB PRIMARY KEY, name, email, phone, postcode, city,"
                   " birth_year, skills, languages, availability)", NULL, NULL, NULL);
  t0 = now_s();
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  sqlite3_prepare_v2(db, "INSERT INTO v VALUES(?,?,?,?,?,?,?,?,?,?)", -1, &s, NULL);
  for (unsigned i = 0; i < n; i++) {
    const person *p = &people[i];
    char sk[70];
    uint8_t id[16];
    for (int k = 0; k < 16; k++) id[k] = (uint8_t)rnd(256);
    snprintf(sk, sizeof sk, "%s,%s", p->skill1, p->skill2);
    sqlite3_bind_blob(s, 1, id, 16, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, p->email, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, p->phone, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, p->postcode, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, p->city, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, p->year, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, sk, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, p->lang, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, p->avail, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  t0 = now_s() - t0;
  sqlite3_close(db);
  return t0;
}

static int count_cb(void *ctx, const uint8_t *id)
{
  (void)id;
  ++*(unsigned *)ctx;
  return 0;
}

/* The best of three runs of a query on node x, in seconds; *hits: rows. */
static double query_time(kr_node *x, const kr_filter *f, const char *search, unsigned *hits)
{
  double best = 1e9;
  for (int r = 0; r < 3; r++) {
    double t0 = now_s();
    *hits = 0;
    if (search) kr_node_search(x, search, count_cb, hits);
    else kr_node_list(x, f, count_cb, hits);
    t0 = now_s() - t0;
    if (t0 < best) best = t0;
  }
  return best;
}

#define CHECKRC(x) do { int rc_ = (x); if (rc_) { fprintf(stderr, "%s: %s\n", #x, kr_strerror(rc_)); exit(1); } } while (0)

int main(int argc, char **argv)
{
  unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;
  const char *bin = argc > 2 ? argv[2] : KRING_BIN;
  char dir[256], ha[300], hb[300], hc[300], hd[300], he[300], hf[300], bundle[300], edit[300],
      back[300];
  uint8_t net[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  kr_node *c;
  person *people = malloc(sizeof *people * n);
  kr_buf *wires;
  size_t nw = 0, raw = 0;
  kr_node *a, *b;
  double t0, t_create, t_apply, t_sealed, t_floor, f[6], q_skill, q_city, q_search;
  unsigned h_skill, h_city, h_search;
  struct rusage ru;

  snprintf(dir, sizeof dir, "%s/kring-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir) || !people) return 1;
  snprintf(ha, sizeof ha, "%s/a", dir);
  snprintf(hb, sizeof hb, "%s/b", dir);
  snprintf(hc, sizeof hc, "%s/c", dir);
  snprintf(hd, sizeof hd, "%s/d", dir);
  snprintf(he, sizeof he, "%s/e", dir);
  snprintf(hf, sizeof hf, "%s/floor.db", dir);
  snprintf(bundle, sizeof bundle, "%s/all.krb", dir);
  snprintf(edit, sizeof edit, "%s/edit.krb", dir);
  snprintf(back, sizeof back, "%s/back.krb", dir);
  for (unsigned i = 0; i < n; i++) {
    make_person(&people[i], i);
    raw += strlen(people[i].name) + strlen(people[i].email) + strlen(people[i].phone) +
           strlen(people[i].postcode) + strlen(people[i].city) + strlen(people[i].year) +
           strlen(people[i].skill1) + strlen(people[i].skill2) + strlen(people[i].lang) +
           strlen(people[i].avail);
  }
  wires = calloc(n / PER_CHANGE + 2, sizeof *wires);

  /* 0. One network: a founds it and admits b and c. */
  CHECKRC(kr_node_create(ha, "Bench A", "foodbank", &a));
  kr_node_network(a, net, founder);
  CHECKRC(kr_node_create_joining(hb, "Bench B", "buurtteam", net, founder, &b));
  CHECKRC(kr_node_create_joining(hc, "Bench C", "care", net, founder, &c));
  CHECKRC(bench_admit(a, kr_node_id(b), "Bench B", "buurtteam"));
  CHECKRC(bench_admit(a, kr_node_id(c), "Bench C", "care"));
  {
    kr_node *d;
    CHECKRC(kr_node_create_joining(hd, "Bench D", "centre", net, founder, &d));
    CHECKRC(bench_admit(a, kr_node_id(d), "Bench D", "centre"));
    kr_node_close(d);
  }
  {
    kr_node *e;
    CHECKRC(kr_node_create_joining(he, "Bench E", "other", net, founder, &e));
    CHECKRC(bench_admit(a, kr_node_id(e), "Bench E", "other"));
    kr_node_close(e);
  }
  for (uint64_t q = 1; q <= 5; q++) {
    kr_buf m;
    int fresh;
    kr_buf_init(&m, KR_CHANGE_MAX);
    CHECKRC(kr_node_change_bytes(a, kr_node_id(a), q, &m));
    CHECKRC(kr_node_apply(b, m.data, m.len, &fresh));
    kr_buf_free(&m);
  }
  kr_node_close(c);

  /* 1. Create through the node API. */
  f[0] = floor_run(hf, people, n);
  t0 = now_s();
  for (unsigned i = 0; i < n; i += PER_CHANGE) {
    kr_txn *t;
    CHECKRC(kr_txn_begin(a, &t));
    for (unsigned j = i; j < n && j < i + PER_CHANGE; j++) {
      person *p = &people[j];
      uint8_t id[KR_SUBJECT_LEN];
      kr_txn_new_subject(t, id);
      CHECKRC(kr_txn_set(t, id, KR_F_NAME, p->name, NULL));
      CHECKRC(kr_txn_set(t, id, KR_F_EMAIL, p->email, NULL));
      CHECKRC(kr_txn_set(t, id, KR_F_PHONE, p->phone, NULL));
      CHECKRC(kr_txn_set(t, id, KR_F_POSTCODE, p->postcode, NULL));
      CHECKRC(kr_txn_set(t, id, KR_F_CITY, p->city, NULL));
      CHECKRC(kr_txn_set(t, id, KR_F_BIRTH_YEAR, p->year, NULL));
      CHECKRC(kr_txn_add(t, id, KR_F_SKILLS, p->skill1, NULL));
      CHECKRC(kr_txn_add(t, id, KR_F_SKILLS, p->skill2, NULL));
      CHECKRC(kr_txn_add(t, id, KR_F_LANGUAGES, p->lang, NULL));
      CHECKRC(kr_txn_add(t, id, KR_F_AVAILABILITY, p->avail, NULL));
      CHECKRC(kr_txn_grant(t, id, "matching", kr_node_id(b), KR_METHOD_PAPER, "v1", "", NULL));
    }
    kr_buf_init(&wires[nw], KR_CHANGE_MAX);
    CHECKRC(kr_txn_commit(t, &wires[nw]));
    nw++;
  }
  kr_node_checkpoint(a);
  t_create = now_s() - t0;
  /* KRING_BENCH_ONLY=create: stop here (to profile create alone) */
  if (getenv("KRING_BENCH_ONLY") && !strcmp(getenv("KRING_BENCH_ONLY"), "create")) {
    printf("  create via node API           %6.2f s\n", t_create);
    kr_node_close(a);
    kr_node_close(b);
    return 0;
  }
  f[1] = floor_run(hf, people, n);

  /* 2. Apply the changes to a second, empty store. */
  t0 = now_s();
  for (size_t k = 0; k < nw; k++) {
    int fresh;
    CHECKRC(kr_node_apply(b, wires[k].data, wires[k].len, &fresh));
  }
  kr_node_checkpoint(b);
  t_apply = now_s() - t0;
  f[2] = floor_run(hf, people, n);
  {
    uint8_t d1[32], d2[32];
    kr_node_digest(a, d1);
    kr_node_digest(b, d2);
    if (memcmp(d1, d2, 32)) { fprintf(stderr, "digests differ\n"); return 1; }
    kr_node_digest_readable(a, d1);
    kr_node_digest_readable(b, d2);
    if (memcmp(d1, d2, 32)) { fprintf(stderr, "readable digests differ\n"); return 1; }
  }
  /* 2b. The same changes to a store that may read none of them. */
  {
    kr_node *e;
    uint64_t vols, erased, changes;
    CHECKRC(kr_node_open(he, &e));
    for (uint64_t q = 1; q <= 5; q++) {
      kr_buf m;
      int fresh;
      kr_buf_init(&m, KR_CHANGE_MAX);
      CHECKRC(kr_node_change_bytes(a, kr_node_id(a), q, &m));
      CHECKRC(kr_node_apply(e, m.data, m.len, &fresh));
      kr_buf_free(&m);
    }
    t0 = now_s();
    for (size_t k = 0; k < nw; k++) {
      int fresh;
      CHECKRC(kr_node_apply(e, wires[k].data, wires[k].len, &fresh));
    }
    kr_node_checkpoint(e);
    t_sealed = now_s() - t0;
    f[3] = floor_run(hf, people, n);
    CHECKRC(kr_node_counts(e, &vols, &erased, &changes));
    if (vols != 0) { fprintf(stderr, "E reads %llu volunteers\n", (unsigned long long)vols); return 1; }
    kr_node_close(e);
  }

  /* Queries on B (reads all), as `kring volunteer list --skill`, `--city`
   * and `search` run them. */
  {
    kr_filter fs = {.skill = "koken"}, fc = {.city = "Utrecht"};
    q_skill = query_time(b, &fs, NULL, &h_skill);
    q_city = query_time(b, &fc, NULL, &h_city);
    q_search = query_time(b, NULL, "Jansen", &h_search);
  }
  getrusage(RUSAGE_SELF, &ru);
  t_floor = (f[0] + f[1] + f[2] + f[3]) / 4;

  {
    double ops = (double)n * 10, fl_vps = n / t_floor, fl_ops = ops / t_floor;
    size_t wire_total = 0;
    for (size_t k = 0; k < nw; k++) wire_total += wires[k].len;
    double fc = (f[0] + f[1]) / 2, fa = (f[1] + f[2]) / 2, fe = (f[2] + f[3]) / 2;
    double db_b = (double)fsize(hb, "kring.db"), db_f = (double)fsize(dir, "floor.db");
    printf("kring bench_node: %u volunteers, 10 fields each, %zu changes of %d\n", n, nw, PER_CHANGE);
    printf("  floor (plain SQLite, 1 txn)  %8.2f s  %10.0f volunteers/s  %10.0f fields/s"
           "  (runs %.2f %.2f %.2f %.2f s)\n", t_floor, fl_vps, fl_ops, f[0], f[1], f[2], f[3]);
    printf("  create via node API          %8.2f s  %10.0f volunteers/s  ratio to floor %5.1fx"
           "  target 3x   %s\n", t_create, n / t_create, t_create / fc, verdict(t_create / fc, 3));
    printf("  apply, reader of all (B)     %8.2f s  %10.0f ops/s         ratio to floor %5.1fx"
           "  target 3x   %s\n", t_apply, ops / t_apply, t_apply / fa, verdict(t_apply / fa, 3));
    printf("  apply, reader of none (E)    %8.2f s  %10.0f ops/s         ratio to floor %5.1fx"
           "  target 3x   %s\n", t_sealed, ops / t_sealed, t_sealed / fe, verdict(t_sealed / fe, 3));
    printf("  raw field data %.1f MiB; changes on the wire %.1f MiB (%.1fx)\n", raw / 1048576.0,
           wire_total / 1048576.0, wire_total / (double)raw);
    printf("  db size: node A %.1f MiB, node B %.1f MiB, floor %.1f MiB: B %.1fx  target 3x   %s\n",
           fsize(ha, "kring.db") / 1048576.0, db_b / 1048576.0, db_f / 1048576.0, db_b / db_f,
           verdict(db_b / db_f, 3));
    printf("  list --skill koken (B)       %8.1f ms  %u volunteers  target 50 ms  %s\n",
           q_skill * 1000, h_skill, verdict(q_skill, 0.05));
    printf("  list --city Utrecht (B)      %8.1f ms  %u volunteers  target 50 ms  %s\n",
           q_city * 1000, h_city, verdict(q_city, 0.05));
    printf("  search Jansen (B)            %8.1f ms  %u volunteers  target 50 ms  %s\n",
           q_search * 1000, h_search, verdict(q_search, 0.05));
    printf("  peak memory (max RSS) %.1f MiB (the bench holds every change in memory)\n",
           ru.ru_maxrss / 1024.0);
  }
  kr_node_close(a);
  kr_node_close(b);

  /* 4. Bundles, with the kring binary: everything from a into empty c.
   * KRING_BENCH_QUICK=1 stops before (for profiling the node API alone). */
  if (getenv("KRING_BENCH_QUICK")) return 0;
  {
    double t_exp, t_imp, rss_exp, rss_imp, t_e1, rss_e1;
    char *exp_args[] = {(char *)bin, "--home", ha, "bundle", "export", "--for", "Bench C", "--out",
                        bundle, NULL};
    char *imp_args[] = {(char *)bin, "--home", hc, "bundle", "import", bundle, NULL};
    char *back_args[] = {(char *)bin, "--home", hc, "bundle", "export", "--for", "Bench A",
                         "--out", back, NULL};
    char *back_imp[] = {(char *)bin, "--home", ha, "bundle", "import", back, NULL};
    char *set_args[] = {(char *)bin, "--home", ha, "volunteer", "add", "--name", "Nieuwe Vrijwilliger",
                        "--city", "Delft", NULL};
    char *edit_args[] = {(char *)bin, "--home", ha, "bundle", "export", "--for", "Bench C", "--out",
                         edit, NULL};
    double t_x, r_x;
    /* KRING_BENCH_ONLY=export: stop once the bundle is written, C still
     * empty and everything kept (to profile `kring bundle import` alone) */
    if (getenv("KRING_BENCH_ONLY") && !strcmp(getenv("KRING_BENCH_ONLY"), "export")) {
      if (run_kring(bin, exp_args, &t_exp, &rss_exp)) return 1;
      printf("  kept: %s (import with: kring --home %s bundle import %s)\n", dir, hc, bundle);
      return 0;
    }
    if (run_kring(bin, exp_args, &t_exp, &rss_exp) || run_kring(bin, imp_args, &t_imp, &rss_imp)) {
      fprintf(stderr, "bundle export/import with %s failed\n", bin);
      return 1;
    }
    f[4] = floor_run(hf, people, n);
    printf("  bundle export (all)          %8.2f s  file %.1f MiB (raw field data %.1f MiB, %.1fx,"
           " target 2.5x %s)  peak %.1f MiB\n", t_exp, fsize(dir, "all.krb") / 1048576.0,
           raw / 1048576.0, fsize(dir, "all.krb") / (double)raw,
           verdict(fsize(dir, "all.krb") / (double)raw, 2.5), rss_exp);
    printf("  bundle import into empty     %8.2f s  ratio to floor %5.1fx  target 4x  %s"
           "  peak %.1f MiB (target 100: %s)\n", t_imp, t_imp / ((f[3] + f[4]) / 2),
           verdict(t_imp / ((f[3] + f[4]) / 2), 4), rss_imp, verdict(rss_imp, 100));
    /* c tells a what it holds; then one edit on a travels to c. */
    if (run_kring(bin, back_args, &t_x, &r_x) || run_kring(bin, back_imp, &t_x, &r_x) ||
        run_kring(bin, set_args, &t_x, &r_x) || run_kring(bin, edit_args, &t_e1, &rss_e1)) {
      fprintf(stderr, "one-edit bundle failed\n");
      return 1;
    }
    printf("  one-edit bundle              %8.3f s  file %.0f bytes\n", t_e1,
           (double)fsize(dir, "edit.krb"));
  }
  /* 5. Online, with kring serve on a and kring sync from d (empty). */
  if (online(bin, dir, ha, hd, f[4], fsize(dir, "all.krb"))) return 1;
  for (size_t k = 0; k < nw; k++) kr_buf_free(&wires[k]);
  free(wires);
  free(people);
  {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (!getenv("KRING_BENCH_KEEP") && system(cmd)) return 1;
  }
  return 0;
}
