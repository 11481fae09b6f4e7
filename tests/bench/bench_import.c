/*
 * bench_import: kring import of a large volunteer sheet, as CSV and as
 * XLSX, against a plain SQLite floor. Writes N synthetic rows (Dutch
 * names, e-mail, a mobile number that lost its leading zero, postcode in
 * lower case, city, birth date dd-mm-jjjj, two skills, Dutch
 * availability) as a ';' CSV in Windows-1252 and as an XLSX workbook
 * (libxlsxwriter), imports each into a new node with the real kring
 * binary in a child (its own peak memory, KRING_REPORT_PEAK), and
 * compares with the floor: the same CSV read with the same reader and
 * its values inserted into one plain SQLite table in one transaction,
 * measured before and after each import (the machine's speed drifts; the
 * ratio is to their mean). Prints time, ratio to the floor and peak
 * memory, with PASS or MISS against issue 17's targets (CSV within 3x of
 * the floor, peak under 100 MiB); and the CSV's check
 * alone (--dry-run: pass 1, which reads, repairs, matches and checks every
 * row; the rest of an import is pass 2, writing). Not part of the test run.
 * KRING_BENCH_KEEP=1 keeps the sheets and homes.
 *
 * usage: bench_import [N] [PATH/TO/kring]   (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <xlsxwriter.h>

#include "cli/sheet.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *first[] = {"Anna", "Piet", "Fatima", "Mohammed", "Sanne", "Jos\xe9", "Zo\xeb", "Daan",
                              "Fran\xe7oise", "Emre", "Lotte", "Yusuf"};
static const char *infix[] = {"", "de", "van", "van der", "", "ten", "", ""};
static const char *last[] = {"Vries", "Jansen", "Bakker", "Visser", "Smit", "M\xfcller", "Yilmaz",
                             "El Amrani", "Dekker", "Brouwer"};
static const char *city[] = {"Amsterdam", "Zaandam", "Utrecht", "Rotterdam", "Groningen", "Den Haag"};
static const char *skill[] = {"koken", "rijden", "logistiek", "administratie", "taalles", "ehbo"};
static const char *avail[] = {"ma ochtend", "di middag", "wo avond", "za", "ma-vr ochtend", "zo"};

/* The fields of row i (Windows-1252 text for the CSV). */
static void row_fields(long i, char f[9][64])
{
  snprintf(f[0], 64, "%s", first[i % 12]);
  snprintf(f[1], 64, "%s", infix[i % 8]);
  snprintf(f[2], 64, "%s %ld", last[i % 10], i);
  snprintf(f[3], 64, "v%ld@example.nl", i);
  snprintf(f[4], 64, "6%08ld", 10000000 + i);
  snprintf(f[5], 64, "%04ld%c%c", 1000 + i % 8999, 'a' + (int)(i % 18), 'b' + (int)(i % 24));
  snprintf(f[6], 64, "%s", city[i % 6]);
  snprintf(f[7], 64, "%02ld-%02ld-%04ld", 1 + i % 28, 1 + i % 12, 1940 + i % 65);
  snprintf(f[8], 64, "%s, %s", skill[i % 6], skill[(i / 6) % 6]);
}

static const char *heads[10] = {"Voornaam", "Tussenvoegsel", "Achternaam", "E-mail", "Mobiel",
                                "Postcode", "Woonplaats", "Geboortedatum", "Vaardigheden",
                                "Beschikbaarheid"};

static void write_csv(const char *path, long n)
{
  FILE *f = fopen(path, "wb");
  char v[9][64];
  if (!f) { perror(path); exit(1); }
  for (int k = 0; k < 10; k++) fprintf(f, "%s%s", k ? ";" : "", heads[k]);
  fputs("\r\n", f);
  for (long i = 0; i < n; i++) {
    row_fields(i, v);
    fprintf(f, "%s;%s;%s;%s;%s;%s;%s;%s;\"%s\";%s\r\n", v[0], v[1], v[2], v[3], v[4], v[5], v[6],
            v[7], v[8], avail[i % 6]);
  }
  fclose(f);
}

/* Windows-1252 to UTF-8 for the Latin-1 letters used above. */
static void utf8(const char *in, char *out)
{
  for (; *in; in++) {
    unsigned char c = (unsigned char)*in;
    if (c < 0x80) *out++ = (char)c;
    else { *out++ = (char)(0xc0 | (c >> 6)); *out++ = (char)(0x80 | (c & 0x3f)); }
  }
  *out = 0;
}

static void write_xlsx(const char *path, long n)
{
  lxw_workbook_options o = {.constant_memory = LXW_TRUE, .tmpdir = NULL};
  lxw_workbook *wb = workbook_new_opt(path, &o);
  lxw_worksheet *ws = workbook_add_worksheet(wb, "Vrijwilligers");
  char v[9][64], u[128];
  for (int k = 0; k < 10; k++) worksheet_write_string(ws, 0, (lxw_col_t)k, heads[k], NULL);
  for (long i = 0; i < n; i++) {
    row_fields(i, v);
    for (int k = 0; k < 9; k++) {
      if (k == 4) {           /* a number: the leading zero is gone, as in Excel */
        worksheet_write_number(ws, (lxw_row_t)i + 1, 4, atof(v[4]), NULL);
        continue;
      }
      if (!v[k][0]) continue;
      utf8(v[k], u);
      worksheet_write_string(ws, (lxw_row_t)i + 1, (lxw_col_t)k, u, NULL);
    }
    worksheet_write_string(ws, (lxw_row_t)i + 1, 9, avail[i % 6], NULL);
  }
  if (workbook_close(wb) != LXW_NO_ERROR) { fprintf(stderr, "cannot write %s\n", path); exit(1); }
}

/* Run kring with args; wall time and its own peak memory (MiB). */
static int run(const char *bin, char *const args[], const char *home, double *secs, double *mib)
{
  char errf[] = "/tmp/kring-bench-err-XXXXXX", line[512];
  double t0 = now_s();
  int status, fd = mkstemp(errf);
  pid_t pid;
  FILE *f;

  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout) || dup2(fd, 2) < 0) _exit(127);
    setenv("KRING_REPORT_PEAK", "1", 1);
    setenv("KRING_HOME", home, 1);
    execv(bin, args);
    _exit(127);
  }
  close(fd);
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  *secs = now_s() - t0;
  *mib = -1;
  if ((f = fopen(errf, "r"))) {
    while (fgets(line, sizeof line, f)) {
      long kb;
      if (sscanf(line, "kring: peak memory %ld kB", &kb) == 1) *mib = kb / 1024.0;
      else fputs(line, stderr);
    }
    fclose(f);
  }
  unlink(errf);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

struct floor_ctx {
  sqlite3_stmt *ins;
  long row;
};

static int floor_row(void *ctx, const sheet_row *r)
{
  struct floor_ctx *c = ctx;
  if (r->row == 1) return 0;
  for (size_t i = 0; i < r->n; i++) {
    if (!r->cell[i][0]) continue;
    sqlite3_bind_int64(c->ins, 1, c->row);
    sqlite3_bind_int(c->ins, 2, (int)i);
    sqlite3_bind_text(c->ins, 3, r->cell[i], -1, SQLITE_STATIC);
    if (sqlite3_step(c->ins) != SQLITE_DONE) return 1;
    sqlite3_reset(c->ins);
  }
  c->row++;
  return 0;
}

/* The floor: the CSV read with the same reader, its values into one plain
 * table (row, column, value) in one transaction. */
static double floor_s(const char *csv, const char *db)
{
  sqlite3 *s;
  struct floor_ctx c = {NULL, 0};
  sheet_info info;
  double t0 = now_s();
  FILE *f = fopen(csv, "rb");

  unlink(db);
  if (!f || sqlite3_open(db, &s) != SQLITE_OK) exit(1);
  sqlite3_exec(s, "PRAGMA journal_mode=WAL; CREATE TABLE v(r INTEGER, c INTEGER, value TEXT,"
                  " PRIMARY KEY(r, c)); BEGIN", NULL, NULL, NULL);
  sqlite3_prepare_v2(s, "INSERT INTO v VALUES(?1,?2,?3)", -1, &c.ins, NULL);
  memset(&info, 0, sizeof info);
  if (sheet_csv_read(f, 0, &info, floor_row, &c) != 0) exit(1);
  sqlite3_finalize(c.ins);
  sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(s);
  fclose(f);
  return now_s() - t0;
}

int main(int argc, char **argv)
{
  long n = argc > 1 ? atol(argv[1]) : 100000;
  const char *bin = argc > 2 ? argv[2] : KRING_BIN;
  char dir[] = "/tmp/kring-bench-import-XXXXXX", csv[300], xlsx[300], db[300], home[300], cmd[400];
  double t, mib, tf, tgen;

  if (n < 1 || !mkdtemp(dir)) return 2;
  snprintf(csv, sizeof csv, "%s/sheet.csv", dir);
  snprintf(xlsx, sizeof xlsx, "%s/sheet.xlsx", dir);
  snprintf(db, sizeof db, "%s/floor.db", dir);
  tgen = now_s();
  write_csv(csv, n);
  write_xlsx(xlsx, n);
  printf("bench_import: %ld rows (10 columns, every phone number and postcode repaired); "
         "sheets written in %.1f s\n", n, now_s() - tgen);
  /* the machine's speed drifts: each ratio is to the mean of the floors
   * measured just before and just after its phase */
  tf = floor_s(csv, db);
  printf("  floor (read CSV, plain SQLite, 1 txn)  %7.2f s\n", tf);
  for (int k = 0; k < 3; k++) {
    double before = tf;
    const char *file = k == 1 ? xlsx : csv;
    char *init[] = {(char *)bin, "init", "--org", "Bench", NULL};
    char *imp[] = {(char *)bin, "import", (char *)file, k == 2 ? "--dry-run" : NULL, NULL};
    snprintf(home, sizeof home, "%s/home%d", dir, k);
    if (run(bin, init, home, &t, &mib) != 0) { fprintf(stderr, "init failed\n"); return 1; }
    if (run(bin, imp, home, &t, &mib) != 0) { fprintf(stderr, "import failed\n"); return 1; }
    tf = floor_s(csv, db);
    printf("  floor again                            %7.2f s\n", tf);
    tf = (before + tf) / 2;
    if (k == 2)
      printf("  of which the check (CSV --dry-run) %5.2f s  ratio to floor %.1fx  peak %.1f MiB\n",
             t, t / tf, mib);
    else
      printf("  kring import %-4s %7.2f s  %8.0f rows/s  ratio to floor %.1fx%s  peak %.1f MiB %s\n",
             k ? "XLSX" : "CSV", t, n / t, t / tf,
             k ? "" : t / tf <= 3.0 ? " (<= 3x PASS)" : " (<= 3x MISS)", mib,
             mib < 100 ? "(< 100 PASS)" : "(< 100 MISS)");
  }
  /* KRING_BENCH_KEEP=1: the sheets and homes stay, to profile an import */
  if (getenv("KRING_BENCH_KEEP")) {
    printf("  kept: %s\n", dir);
    return 0;
  }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) != 0;
}
