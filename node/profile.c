/*
 * KRING_SQL_PROFILE=1: how long each SQL statement text took in all (with
 * SQLite's own profile trace), printed to standard error when the node is
 * closed, the costliest first. A tool for finding where the store spends
 * its time (tests/bench, docs/testing.md); off unless the variable is set,
 * and then it costs a lookup per statement run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/internal.h"

struct kr_profile {
  size_t n, cap;
  struct prof_row { const char *sql; unsigned long long ns, runs; } *row;
};

static int on_profile(unsigned type, void *ctx, void *stmt, void *ns)
{
  struct kr_profile *p = ctx;
  const char *sql = sqlite3_sql(stmt);
  if (type != SQLITE_TRACE_PROFILE || !sql) return 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->row[i].sql == sql || strcmp(p->row[i].sql, sql) == 0) {
      p->row[i].ns += (unsigned long long)*(sqlite3_int64 *)ns;
      p->row[i].runs++;
      return 0;
    }
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 64;
    void *r = realloc(p->row, cap * sizeof *p->row);
    if (!r) return 0;
    p->row = r;
    p->cap = cap;
  }
  if (!(sql = strdup(sql))) return 0;
  p->row[p->n].sql = sql;
  p->row[p->n].ns = (unsigned long long)*(sqlite3_int64 *)ns;
  p->row[p->n++].runs = 1;
  return 0;
}

void kr__profile_start(kr_node *n)
{
  const char *v = getenv("KRING_SQL_PROFILE");
  if (!v || !*v || !strcmp(v, "0") || n->profile) return;
  if (!(n->profile = calloc(1, sizeof *n->profile))) return;
  sqlite3_trace_v2(n->db, SQLITE_TRACE_PROFILE, on_profile, n->profile);
}

static int by_time(const void *a, const void *b)
{
  const struct prof_row *x = a, *y = b;
  return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

void kr__profile_end(kr_node *n)
{
  struct kr_profile *p = n->profile;
  unsigned long long all = 0;
  if (!p) return;
  sqlite3_trace_v2(n->db, 0, NULL, NULL);
  qsort(p->row, p->n, sizeof *p->row, by_time);
  for (size_t i = 0; i < p->n; i++) all += p->row[i].ns;
  fprintf(stderr, "kring: SQL profile of %s: %.3f s in %zu statements\n", n->home ? n->home : "?",
          (double)all / 1e9, p->n);
  for (size_t i = 0; i < p->n; i++) {
    if (i >= 40 && p->row[i].ns < all / 1000) break;
    /* a statement's time runs from its first step to its reset: a loop's
     * includes what the loop body did meanwhile */
    fprintf(stderr, "%9.3f s %10llu  %.140s\n", (double)p->row[i].ns / 1e9, p->row[i].runs,
            p->row[i].sql);
  }
  for (size_t i = 0; i < p->n; i++) free((void *)p->row[i].sql);
  free(p->row);
  free(p);
  n->profile = NULL;
}
