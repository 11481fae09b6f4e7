/*
 * test_converge: the property that makes kring a CRDT. Several replicas
 * make random edits (fields, set adds and removes, consent grants and
 * withdrawals, erasures) while exchanging random subsets of each other's
 * changes. Then other members ("spares", idle until then) and fresh
 * stores that are no members apply all changes in many random orders with
 * duplicates. Two properties, each checked against the naive model in
 * model.c:
 *
 *   everyone reads: every volunteer has consent to all members. Every
 *   member reads the same state (kr_node_digest_readable) as every other
 *   and as the model, whatever the order, and every node, member or not,
 *   holds the same changes (kr_node_digest).
 *
 *   the registrar alone reads some: replica 0 registers every volunteer,
 *   and only some have consent to all. The held digest still agrees
 *   everywhere; the readable digest agrees among the nodes with the same
 *   rights (every member but replica 0 reads the same volunteers) and with
 *   the model's for each node's rights, replica 0's included.
 *
 * A member that applies changes may seal keys to readers that lack them,
 * in changes of its own: the replicas' go to everyone; a spare's are
 * counted with what it holds. On failure the seed is printed; rerun one
 * seed with: test_converge SEED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crdt/err.h"
#include "model.h"
#include "node/node.h"

#define REPLICAS 4
#define SPARES   4            /* members that only replay, one per order */
#define SUBJECTS 5
#define CONSENTED_ALL 3       /* property 2: subjects 0..2 have consent to all */

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
static model_keys keys;

static void keep_bytes(blob **set, size_t *n, const uint8_t *p, size_t len)
{
  *set = realloc(*set, (*n + 1) * sizeof **set);
  (*set)[*n].data = malloc(len);
  memcpy((*set)[*n].data, p, len);
  (*set)[*n].len = len;
  (*n)++;
}

/* The changes node x made since *seen (its own seq), into set; the keys it
 * holds into the model's. Returns how many. */
static size_t collect(kr_node *x, uint64_t *seen, blob **set, size_t *n)
{
  uint64_t max;
  size_t got = 0;
  kr_buf w;
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_node_max_seq(x, kr_node_id(x), &max) == 0);
  for (; *seen < max; got++) {
    kr_buf_reset(&w);
    REQUIRE(kr_node_change_bytes(x, kr_node_id(x), ++*seen, &w) == 0);
    keep_bytes(set, n, w.data, w.len);
  }
  kr_buf_free(&w);
  model_node_keys(&keys, x);
  return got;
}

/* x applies all[k]; what it seals at the end of that transaction is kept
 * at once, before a later erasure redacts it on x (a change whose ops on
 * a volunteer are withheld is refused where the volunteer is not erased). */
static void apply_keep(kr_node *x, uint64_t *seen, size_t k)
{
  REQUIRE(kr_node_apply(x, all[k].data, all[k].len, NULL) == 0);
  collect(x, seen, &all, &nall);
}

static const char *names[] = {"Anna", "Bram", "Çiğdem", "Daan", "Eva", "Fatima"};
static const char *cities[] = {"Amsterdam", "Zaandam", "Utrecht", "Den Haag"};
static const char *skills[] = {"koken", "rijden", "tuinieren", "administratie"};
static const char *purposes[] = {"contact", "photos"};
static const char *untils[] = {"", "", "2025-01-01", "2031-12-31"};

/* Random edits by n. Consent ops use other purposes than "matching" (the
 * consent that decides who reads here); in property 2 the volunteers
 * without consent get none, so that rights stay as they are. */
static void random_txn(kr_node *n, uint8_t subj[SUBJECTS][16], kr_node *nodes[REPLICAS],
                       int property)
{
  kr_txn *t;
  kr_buf w;
  int k = 1 + pick(3);

  REQUIRE(kr_txn_begin(n, &t) == 0);
  for (int i = 0; i < k; i++) {
    int si = pick(SUBJECTS);
    const uint8_t *s = subj[si];
    const uint8_t *rcpt = pick(2) ? NULL : kr_node_id(nodes[pick(REPLICAS)]);
    int r = pick(100), rc = 0;
    if (property == 2 && si >= CONSENTED_ALL && r >= 60 && r < 96) r = pick(60);
    if (r < 25) rc = kr_txn_set(t, s, pick(2) ? KR_F_NAME : KR_F_CITY,
                                pick(8) ? (pick(2) ? names[pick(6)] : cities[pick(4)]) : NULL, NULL);
    else if (r < 45) rc = kr_txn_add(t, s, KR_F_SKILLS, skills[pick(4)], NULL);
    else if (r < 60) rc = kr_txn_remove(t, s, KR_F_SKILLS, skills[pick(4)], NULL);
    else if (r < 78) rc = kr_txn_grant(t, s, purposes[pick(2)], rcpt, pick(4), "v1", untils[pick(4)], NULL);
    else if (r < 96) rc = kr_txn_withdraw(t, s, purposes[pick(2)], rcpt, pick(4), "", NULL);
    else rc = kr_txn_erase(t, s, "verzoek", NULL);
    /* Refusals are part of the game: erased subjects, nothing to remove,
     * a volunteer this node may not read (property 2 only). */
    REQUIRE(rc == 0 || rc == KR_EERASED || rc == KR_ENOTFOUND ||
            (rc == KR_ESEALED && property == 2 && si >= CONSENTED_ALL && n != nodes[0]));
  }
  if (!kr_txn_count(t)) {
    kr_txn_abort(t);
    return;
  }
  kr_buf_init(&w, KR_CHANGE_MAX);
  REQUIRE(kr_txn_commit(t, &w) == 0);
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

static void decode_all(const blob *set, size_t n, kr_change *out)
{
  for (size_t k = 0; k < n; k++)
    REQUIRE(kr_change_decode(set[k].data, set[k].len, KR_CHANGE_MAX, &out[k]) == 0);
}

/* Does x hold what the model says, and read what it may? extra: changes x
 * made itself besides all. Returns 1 when not. */
static int judge(kr_node *x, const model *m, const blob *extra, size_t nextra,
                 const uint8_t net[16], const kr_change *decoded, const char *who, uint64_t seed)
{
  uint8_t d[32], want[32];
  char day[11];
  int failed = 0;

  kr_node_today(x, day);
  REQUIRE(kr_node_digest_readable(x, d) == 0);
  model_digest(m, kr_node_id(x), day, want);
  if (memcmp(d, want, 32)) {
    fprintf(stderr, "seed %llu: %s does not read what the model says it may\n",
            (unsigned long long)seed, who);
    failed = 1;
  }
  REQUIRE(kr_node_digest(x, d) == 0);
  if (!nextra) {
    model_held_digest(m, want);
  } else {
    /* what it holds: every change, and its own */
    kr_change *c = calloc(nall + nextra, sizeof *c);
    model *h;
    memcpy(c, decoded, nall * sizeof *c);
    decode_all(extra, nextra, c + nall);
    h = model_new(c, nall + nextra, net, &keys);
    model_held_digest(h, want);
    model_free(h);
    for (size_t k = nall; k < nall + nextra; k++) kr_change_free(&c[k]);
    free(c);
  }
  if (memcmp(d, want, 32)) {
    fprintf(stderr, "seed %llu: %s does not hold every change\n", (unsigned long long)seed, who);
    failed = 1;
  }
  return failed;
}

static int run(uint64_t seed, int property, int steps, int orders)
{
  kr_node *nodes[REPLICAS + SPARES];
  uint64_t clocks[REPLICAS + SPARES], seen[REPLICAS + SPARES];
  uint8_t subj[SUBJECTS][16], first[32], d[32];
  kr_change *decoded;
  model *m;
  char dir[64], who[64];
  uint8_t net[16], founder[32];
  size_t nmemb;
  int failed = 0;

  rng = seed * 2654435761u + (uint64_t)property;
  nall = 0;
  snprintf(dir, sizeof dir, "s%llu-p%d-r", (unsigned long long)seed, property);
  check_network(nodes, REPLICAS + SPARES, dir, "other");
  kr_node_network(nodes[0], net, founder);
  memset(seen, 0, sizeof seen);
  /* The network's own changes (the founder's) first: a fresh store needs
   * them before it accepts any change of the other members. */
  nmemb = collect(nodes[0], &seen[0], &all, &nall);
  for (int r = 0; r < REPLICAS + SPARES; r++) {
    /* Skewed clocks, up to a few minutes apart. */
    clocks[r] = UINT64_C(1767225600000) + (uint64_t)pick(300000);
    kr_node_set_clock(nodes[r], check_clock, &clocks[r]);
  }
  /* Replica 0 registers the volunteers, with consent to all members (in
   * property 2 only some); everyone learns of them. */
  {
    kr_txn *t;
    kr_buf w;
    size_t from;
    kr_buf_init(&w, KR_CHANGE_MAX);
    REQUIRE(kr_txn_begin(nodes[0], &t) == 0);
    for (int s = 0; s < SUBJECTS; s++) {
      kr_txn_new_subject(t, subj[s]);
      REQUIRE(kr_txn_set(t, subj[s], KR_F_NAME, names[s], NULL) == 0);
      if (property == 1 || s < CONSENTED_ALL)
        REQUIRE(kr_txn_grant(t, subj[s], "matching", NULL, KR_METHOD_PAPER, "v1", "", NULL) == 0);
    }
    REQUIRE(kr_txn_commit(t, &w) == 0);
    kr_buf_free(&w);
    from = nall;
    collect(nodes[0], &seen[0], &all, &nall);
    for (size_t k = from, n = nall; k < n; k++)
      for (int r = 1; r < REPLICAS; r++) apply_keep(nodes[r], &seen[r], k);
  }
  for (int i = 0; i < steps; i++) {
    int r = pick(REPLICAS);
    clocks[r] += (uint64_t)pick(5000);
    if (pick(4) == 0) {
      /* Partial sync: r learns a random subset of what exists. */
      for (size_t k = 0, n = nall; k < n; k++)
        if (pick(2)) apply_keep(nodes[r], &seen[r], k);
    } else {
      random_txn(nodes[r], subj, nodes, property);
    }
    collect(nodes[r], &seen[r], &all, &nall);
  }

  /* The replicas hold everything, until none of them has keys to seal. */
  for (int round = 0, more = 1; more; round++) {
    REQUIRE(round < 10);
    more = 0;
    for (int r = 0; r < REPLICAS; r++) {
      size_t before = nall;
      for (size_t k = 0, n = nall; k < n; k++) apply_keep(nodes[r], &seen[r], k);
      more |= nall > before;
    }
  }

  /* The model's answer, with every key sealed to a replica or a spare. */
  decoded = calloc(nall, sizeof *decoded);
  decode_all(all, nall, decoded);
  for (int r = 0; r < REPLICAS + SPARES; r++)
    model_sealed_keys(&keys, decoded, nall, net, kr_node_secret_key(nodes[r]));
  m = model_new(decoded, nall, net, &keys);
  if (model_sealed(m)) {
    fprintf(stderr, "seed %llu: %zu groups no key known opens\n", (unsigned long long)seed,
            model_sealed(m));
    failed = 1;
  }

  for (int r = 0; r < REPLICAS; r++) {
    snprintf(who, sizeof who, "property %d: replica %d", property, r);
    failed |= judge(nodes[r], m, NULL, 0, net, decoded, who, seed);
    /* Erased subjects hold no values; a volunteer the node reads opens. */
    for (int s = 0; s < SUBJECTS; s++) {
      kr_volunteer v;
      int rc = kr_node_volunteer(nodes[r], subj[s], &v);
      if (rc == KR_ESEALED) {
        char day[11];
        kr_node_today(nodes[r], day);
        if (model_reads(m, subj[s], kr_node_id(nodes[r]), day)) failed = 1;
        continue;
      }
      REQUIRE(rc == 0);
      if (v.erased) {
        for (int f = 0; f < 32; f++) if (v.val.v[f] || v.val.set[f].n) failed = 1;
      }
      kr_volunteer_free(&v);
    }
  }
  /* Property 2: every member but the registrar has the same rights. */
  if (property == 2) {
    REQUIRE(kr_node_digest_readable(nodes[1], first) == 0);
    for (int r = 2; r < REPLICAS; r++) {
      REQUIRE(kr_node_digest_readable(nodes[r], d) == 0);
      if (memcmp(d, first, 32)) {
        fprintf(stderr, "seed %llu: replicas 1 and %d read differently\n", (unsigned long long)seed, r);
        failed = 1;
      }
    }
  }

  /* Spares and fresh stores: all changes in random orders, with
   * duplicates. A spare is a member (a reader of what has consent to all);
   * a fresh store is none, and reads nothing. */
  for (int o = 0; o < orders; o++) {
    kr_node *x;
    size_t n = nall + nall / 3, *idx = malloc(n * sizeof *idx);
    blob *own = NULL;
    size_t nown = 0;
    uint64_t xseen = 0, xclock = UINT64_C(1767225600000) + 600000 + (uint64_t)o;
    int spare = o < SPARES;
    for (size_t k = 0; k < n; k++) idx[k] = k < nall ? k : (size_t)pick((int)nall);
    shuffle(idx, n);
    if (spare) {
      x = nodes[REPLICAS + o];
    } else {
      snprintf(dir, sizeof dir, "s%llu-p%d-o%d", (unsigned long long)seed, property, o);
      REQUIRE(kr_node_create_joining(check_path(dir), "Fresh", "other", net, founder, &x) == 0);
      for (size_t k = 0; k < nmemb; k++) REQUIRE(kr_node_apply(x, all[k].data, all[k].len, NULL) == 0);
    }
    for (int r = 0; r < REPLICAS; r++) xclock = clocks[r] > xclock ? clocks[r] : xclock;
    kr_node_set_clock(x, check_clock, &xclock);
    if (spare) REQUIRE(kr_node_max_seq(x, kr_node_id(x), &xseen) == 0);
    if (o % 2) {
      for (size_t k = 0; k < n; k++) REQUIRE(kr_node_apply(x, all[idx[k]].data, all[idx[k]].len, NULL) == 0);
    } else {
      /* In batches, as a sync session delivers them. */
      const uint8_t **b = malloc(n * sizeof *b);
      size_t *l = malloc(n * sizeof *l);
      for (size_t k = 0; k < n; k++) { b[k] = all[idx[k]].data; l[k] = all[idx[k]].len; }
      for (size_t k = 0; k < n; k += 7) {
        int rc = kr_node_apply_many(x, b + k, l + k, n - k < 7 ? n - k : 7, NULL);
        if (rc) fprintf(stderr, "order %d batch at %zu: %s\n", o, k, kr_strerror(rc));
        REQUIRE(rc == 0);
      }
      free(b);
      free(l);
    }
    if (spare) collect(x, &xseen, &own, &nown);
    snprintf(who, sizeof who, "property %d: order %d (%s)", property, o, spare ? "member" : "not a member");
    failed |= judge(x, m, own, nown, net, decoded, who, seed);
    /* The same rights, the same reading. */
    if (spare && property == 2) {
      REQUIRE(kr_node_digest_readable(x, d) == 0);
      if (memcmp(d, first, 32)) {
        fprintf(stderr, "seed %llu: order %d reads otherwise than replica 1\n", (unsigned long long)seed, o);
        failed = 1;
      }
    }
    if (!spare) kr_node_close(x);
    for (size_t k = 0; k < nown; k++) free(own[k].data);
    free(own);
    free(idx);
  }

  model_free(m);
  for (size_t k = 0; k < nall; k++) {
    kr_change_free(&decoded[k]);
    free(all[k].data);
  }
  free(decoded);
  model_keys_free(&keys);
  for (int r = 0; r < REPLICAS + SPARES; r++) kr_node_close(nodes[r]);
  return failed;
}

int main(int argc, char **argv)
{
  int seeds = 12, steps = 60, orders = SPARES + 2;
  uint64_t first = 1;

  if (argc > 1) { first = strtoull(argv[1], NULL, 10); seeds = 1; }
  if (getenv("KRING_PROP_SEEDS")) seeds = atoi(getenv("KRING_PROP_SEEDS"));
  for (int s = 0; s < seeds; s++) {
    uint64_t seed = first + (uint64_t)s;
    for (int p = 1; p <= 2; p++)
      if (run(seed, p, steps, orders)) {
        fprintf(stderr, "FAILED: rerun with test_converge %llu\n", (unsigned long long)seed);
        check_failures++;
      }
  }
  free(all);
  return check_done("test_converge");
}
