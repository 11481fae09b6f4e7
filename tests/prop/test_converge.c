/*
 * test_converge: the property that makes kring a CRDT. Several replicas
 * make random edits (fields, set adds and removes, consent grants and
 * withdrawals, erasures) while exchanging random subsets of each other's
 * changes. Then fresh stores apply all changes in many random orders with
 * duplicates. Every digest must be equal, and equal to the digest of the
 * naive model in model.c. On failure the seed is printed; rerun one seed
 * with: test_converge SEED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crdt/err.h"
#include "model.h"
#include "node/node.h"

#define REPLICAS 4
#define SUBJECTS 5

static uint64_t rng;
static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static int pick(int n) { return (int)(rnd() % (uint64_t)n); }

typedef struct {
  uint8_t *data;
  size_t len;
} blob;

static blob *all;
static size_t nall;

static void keep(kr_buf *w)
{
  all = realloc(all, (nall + 1) * sizeof *all);
  all[nall].data = malloc(w->len);
  memcpy(all[nall].data, w->data, w->len);
  all[nall].len = w->len;
  nall++;
}

static const char *names[] = {"Anna", "Bram", "Çiğdem", "Daan", "Eva", "Fatima"};
static const char *cities[] = {"Amsterdam", "Zaandam", "Utrecht", "Den Haag"};
static const char *skills[] = {"koken", "rijden", "tuinieren", "administratie"};
static const char *purposes[] = {"contact", "photos"};
static const char *untils[] = {"", "", "2025-01-01", "2031-12-31"};

static void random_txn(kr_node *n, uint8_t subj[SUBJECTS][16], kr_node *nodes[REPLICAS])
{
  kr_txn *t;
  kr_buf w;
  int k = 1 + pick(3);

  REQUIRE(kr_txn_begin(n, &t) == 0);
  for (int i = 0; i < k; i++) {
    const uint8_t *s = subj[pick(SUBJECTS)];
    const uint8_t *rcpt = pick(2) ? NULL : kr_node_id(nodes[pick(REPLICAS)]);
    int r = pick(100), rc = 0;
    if (r < 25) rc = kr_txn_set(t, s, pick(2) ? KR_F_NAME : KR_F_CITY,
                                pick(8) ? (pick(2) ? names[pick(6)] : cities[pick(4)]) : NULL, NULL);
    else if (r < 45) rc = kr_txn_add(t, s, KR_F_SKILLS, skills[pick(4)], NULL);
    else if (r < 60) rc = kr_txn_remove(t, s, KR_F_SKILLS, skills[pick(4)], NULL);
    else if (r < 78) rc = kr_txn_grant(t, s, purposes[pick(2)], rcpt, pick(4), "v1", untils[pick(4)], NULL);
    else if (r < 96) rc = kr_txn_withdraw(t, s, purposes[pick(2)], rcpt, pick(4), "", NULL);
    else rc = kr_txn_erase(t, s, "verzoek", NULL);
    /* Refusals are part of the game: erased subjects, nothing to remove. */
    REQUIRE(rc == 0 || rc == KR_EERASED || rc == KR_ENOTFOUND);
  }
  if (!kr_txn_count(t)) {
    kr_txn_abort(t);
    return;
  }
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_txn_commit(t, &w) == 0);
  keep(&w);
  kr_buf_free(&w);
}

static void shuffle(size_t *idx, size_t n)
{
  for (size_t i = n; i > 1; i--) {
    size_t j = rnd() % i, t = idx[i - 1];
    idx[i - 1] = idx[j];
    idx[j] = t;
  }
}

static int run(uint64_t seed, int steps, int orders)
{
  kr_node *nodes[REPLICAS];
  uint64_t clocks[REPLICAS];
  uint8_t subj[SUBJECTS][16], ref[32], d[32];
  kr_change *decoded;
  char dir[64];
  uint8_t net[16], founder[32];
  size_t nmemb;
  int failed = 0;

  rng = seed * 2654435761u + 1;
  nall = 0;
  snprintf(dir, sizeof dir, "s%llu-r", (unsigned long long)seed);
  check_network(nodes, REPLICAS, dir, "other");
  kr_node_network(nodes[0], net, founder);
  /* The network's own changes come first: a fresh store needs them before
   * it accepts any change of the other members. */
  {
    uint64_t max;
    kr_buf w;
    kr_buf_init(&w, KR_CHANGE_MAX);
    REQUIRE(kr_node_max_seq(nodes[0], kr_node_id(nodes[0]), &max) == 0);
    for (uint64_t q = 1; q <= max; q++) {
      kr_buf_reset(&w);
      REQUIRE(kr_node_change_bytes(nodes[0], kr_node_id(nodes[0]), q, &w) == 0);
      keep(&w);
    }
    nmemb = nall;
    kr_buf_free(&w);
  }
  for (int r = 0; r < REPLICAS; r++) {
    /* Skewed clocks, up to a few minutes apart. */
    clocks[r] = UINT64_C(1767225600000) + (uint64_t)pick(300000);
    kr_node_set_clock(nodes[r], check_clock, &clocks[r]);
  }
  /* Replica 0 creates the volunteers; everyone learns of them. */
  {
    kr_txn *t;
    kr_buf w;
    kr_buf_init(&w, KR_CHANGE_MAX);
    REQUIRE(kr_txn_begin(nodes[0], &t) == 0);
    for (int s = 0; s < SUBJECTS; s++) {
      kr_txn_new_subject(t, subj[s]);
      REQUIRE(kr_txn_set(t, subj[s], KR_F_NAME, names[s], NULL) == 0);
    }
    REQUIRE(kr_txn_commit(t, &w) == 0);
    keep(&w);
    for (int r = 1; r < REPLICAS; r++) REQUIRE(kr_node_apply(nodes[r], w.data, w.len, NULL) == 0);
    kr_buf_free(&w);
  }
  for (int i = 0; i < steps; i++) {
    int r = pick(REPLICAS);
    clocks[r] += (uint64_t)pick(5000);
    if (pick(4) == 0) {
      /* Partial sync: r learns a random subset of what exists. */
      for (size_t k = 0; k < nall; k++)
        if (pick(2)) REQUIRE(kr_node_apply(nodes[r], all[k].data, all[k].len, NULL) == 0);
    } else {
      random_txn(nodes[r], subj, nodes);
    }
  }

  /* The model's answer. */
  decoded = calloc(nall, sizeof *decoded);
  for (size_t k = 0; k < nall; k++)
    REQUIRE(kr_change_decode(all[k].data, all[k].len, KR_CHANGE_MAX, &decoded[k]) == 0);
  model_digest(decoded, nall, ref);

  /* The replicas themselves, once they hold everything. */
  for (int r = 0; r < REPLICAS; r++) {
    for (size_t k = 0; k < nall; k++) REQUIRE(kr_node_apply(nodes[r], all[k].data, all[k].len, NULL) == 0);
    kr_node_digest(nodes[r], d);
    if (memcmp(d, ref, 32)) {
      fprintf(stderr, "seed %llu: replica %d differs from the model\n", (unsigned long long)seed, r);
      failed = 1;
    }
    /* Erased subjects hold no values. */
    for (int s = 0; s < SUBJECTS; s++) {
      kr_volunteer v;
      REQUIRE(kr_node_volunteer(nodes[r], subj[s], &v) == 0);
      if (v.erased) {
        for (int f = 0; f < 32; f++) if (v.val.v[f] || v.val.set[f].n) failed = 1;
      }
      kr_volunteer_free(&v);
    }
  }
  /* Fresh stores, all changes in random orders, with duplicates. */
  for (int o = 0; o < orders; o++) {
    kr_node *x;
    size_t n = nall + nall / 3, *idx = malloc(n * sizeof *idx);
    for (size_t k = 0; k < n; k++) idx[k] = k < nall ? k : (size_t)pick((int)nall);
    shuffle(idx, n);
    snprintf(dir, sizeof dir, "s%llu-o%d", (unsigned long long)seed, o);
    REQUIRE(kr_node_create_joining(check_path(dir), "Fresh", "other", net, founder, &x) == 0);
    for (size_t k = 0; k < nmemb; k++) REQUIRE(kr_node_apply(x, all[k].data, all[k].len, NULL) == 0);
    if (o % 2) {
      for (size_t k = 0; k < n; k++) REQUIRE(kr_node_apply(x, all[idx[k]].data, all[idx[k]].len, NULL) == 0);
    } else {
      /* In batches, as a sync session delivers them. */
      const uint8_t **b = malloc(n * sizeof *b);
      size_t *l = malloc(n * sizeof *l);
      for (size_t k = 0; k < n; k++) { b[k] = all[idx[k]].data; l[k] = all[idx[k]].len; }
      for (size_t k = 0; k < n; k += 7)
        REQUIRE(kr_node_apply_many(x, b + k, l + k, n - k < 7 ? n - k : 7, NULL) == 0);
      free(b);
      free(l);
    }
    kr_node_digest(x, d);
    if (memcmp(d, ref, 32)) {
      fprintf(stderr, "seed %llu: order %d differs from the model\n", (unsigned long long)seed, o);
      failed = 1;
    }
    kr_node_close(x);
    free(idx);
  }

  for (size_t k = 0; k < nall; k++) {
    kr_change_free(&decoded[k]);
    free(all[k].data);
  }
  free(decoded);
  for (int r = 0; r < REPLICAS; r++) kr_node_close(nodes[r]);
  return failed;
}

int main(int argc, char **argv)
{
  int seeds = 12, steps = 60, orders = 6;
  uint64_t first = 1;

  if (argc > 1) { first = strtoull(argv[1], NULL, 10); seeds = 1; }
  if (getenv("KRING_PROP_SEEDS")) seeds = atoi(getenv("KRING_PROP_SEEDS"));
  for (int s = 0; s < seeds; s++) {
    uint64_t seed = first + (uint64_t)s;
    if (run(seed, steps, orders)) {
      fprintf(stderr, "FAILED: rerun with test_converge %llu\n", (unsigned long long)seed);
      check_failures++;
    }
  }
  free(all);
  return check_done("test_converge");
}
