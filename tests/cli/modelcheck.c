/*
 * modelcheck: does the naive reference model (tests/prop/model.c) agree
 * with a node's store? Reads every change the node in HOME holds, opens
 * the sealed groups it holds a key of (the keys read from its store, as
 * only a test may), hands the model each change with its groups replaced
 * by the ops in them at their stamp index (KR_OP_IDX), and compares
 * model_digest_at with kr_node_digest_readable: the state of the
 * volunteers the node reads. Meant for a node that reads every volunteer
 * it holds (the import tests' single node); one it holds sealed counts as
 * a disagreement. Prints both and exits 0 when they agree, 1 when not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "crdt/change.h"
#include "crdt/err.h"
#include "model.h"
#include "node/node.h"

typedef struct {
  uint8_t subject[KR_SUBJECT_LEN];
  uint64_t epoch;
  uint8_t creator[KR_NODE_LEN];
  uint8_t key[KR_KEY_LEN];
} vkey;

struct all {
  kr_node *n;
  uint8_t network[KR_NETWORK_LEN];
  vkey *keys;
  size_t nkeys;
  kr_change *c;          /* as held */
  kr_change *x;          /* the same, groups opened: ops point into c or mem */
  uint32_t **idx;        /* x[k].ops[i] has stamp index idx[k][i] */
  void ***mem;           /* per change, the decoded groups' memory */
  size_t *nmem;
  size_t len, cap;
  unsigned sealed;       /* groups no key opened */
  int rc;
};

static int load_keys(struct all *a, const char *home)
{
  char path[4200];
  sqlite3 *db;
  sqlite3_stmt *s;
  int rc;

  snprintf(path, sizeof path, "file:%s/kring.db?mode=ro", home);
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT s.id, k.en, k.creator, k.key FROM vkeys k JOIN subjects s"
                             " ON s.n=k.subj", -1, &s, NULL) != SQLITE_OK) {
    fprintf(stderr, "modelcheck: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return -1;
  }
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    vkey *k;
    if (sqlite3_column_bytes(s, 0) != KR_SUBJECT_LEN || sqlite3_column_bytes(s, 2) != KR_NODE_LEN ||
        sqlite3_column_bytes(s, 3) != KR_KEY_LEN)
      continue;
    if (!(a->keys = realloc(a->keys, (a->nkeys + 1) * sizeof *a->keys))) abort();
    k = &a->keys[a->nkeys++];
    memcpy(k->subject, sqlite3_column_blob(s, 0), KR_SUBJECT_LEN);
    k->epoch = (uint64_t)sqlite3_column_int64(s, 1);
    memcpy(k->creator, sqlite3_column_blob(s, 2), KR_NODE_LEN);
    memcpy(k->key, sqlite3_column_blob(s, 3), KR_KEY_LEN);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* Append op (stamp index at) to change k's opened form. */
static void put(struct all *a, size_t k, const kr_op *op, uint32_t at)
{
  kr_change *x = &a->x[k];
  if (!(x->ops = realloc(x->ops, (x->nops + 1) * sizeof *x->ops)) ||
      !(a->idx[k] = realloc(a->idx[k], (x->nops + 1) * sizeof **a->idx)))
    abort();
  x->ops[x->nops] = *op;
  a->idx[k][x->nops++] = at;
}

/* Change k with its groups opened; keys, registrations: what the model
 * does not know, and needs not. */
static void open_change(struct all *a, size_t k)
{
  const kr_change *c = &a->c[k];
  kr_buf plain;

  memset(&a->x[k], 0, sizeof a->x[k]);
  memcpy(a->x[k].origin, c->origin, KR_NODE_LEN);
  a->x[k].seq = c->seq;
  a->x[k].hlc = c->hlc;
  a->idx[k] = NULL;
  a->mem[k] = NULL;
  a->nmem[k] = 0;
  kr_buf_init(&plain, KR_CHANGE_MAX);
  for (uint32_t i = 0; i < c->nops; i++) {
    const kr_op *g = &c->ops[i];
    int opened = 0;
    if (g->type == KR_OP_KEY || g->type == KR_OP_REGISTER) continue;
    if (g->type != KR_OP_GROUP) {
      put(a, k, g, KR_OP_IDX(i, 0));
      continue;
    }
    for (size_t j = 0; j < a->nkeys && !opened; j++) {
      kr_op *ops;
      uint32_t nops;
      void *mem;
      if (memcmp(a->keys[j].subject, g->subject, KR_SUBJECT_LEN) || a->keys[j].epoch != g->epoch ||
          memcmp(a->keys[j].creator, g->creator, KR_NODE_LEN) ||
          kr_group_open(a->keys[j].key, a->network, c->origin, c->seq, i, g, &plain) ||
          kr_group_decode(plain.data, plain.len, g->subject, &ops, &nops, &mem))
        continue;
      opened = 1;
      if (!(a->mem[k] = realloc(a->mem[k], (a->nmem[k] + 1) * sizeof *a->mem[k]))) abort();
      a->mem[k][a->nmem[k]++] = mem;
      for (uint32_t o = 0; o < nops; o++) put(a, k, &ops[o], KR_OP_IDX(i, o));
    }
    if (!opened) a->sealed++;
  }
  kr_buf_free(&plain);
}

static int one(void *ctx, const kr_change_info *ci)
{
  struct all *a = ctx;
  kr_buf b;
  kr_buf_init(&b, KR_CHANGE_MAX);
  if (kr_node_change_bytes(a->n, ci->origin, ci->seq, &b) == 0) {
    if (a->len == a->cap) {
      a->cap = a->cap ? 2 * a->cap : 64;
      if (!(a->c = realloc(a->c, a->cap * sizeof *a->c))) abort();
    }
    if (kr_change_decode(b.data, b.len, KR_CHANGE_MAX, &a->c[a->len]) == 0) a->len++;
    else a->rc = 1;
  } else {
    a->rc = 1;
  }
  kr_buf_free(&b);
  return 0;
}

int main(int argc, char **argv)
{
  struct all a;
  uint8_t d1[32], d2[32], founder[KR_NODE_LEN];
  int rc;

  memset(&a, 0, sizeof a);
  if (argc != 2) { fprintf(stderr, "usage: modelcheck HOME\n"); return 2; }
  if ((rc = kr_node_open(argv[1], &a.n))) { fprintf(stderr, "modelcheck: %s\n", kr_strerror(rc)); return 1; }
  if (kr_node_network(a.n, a.network, founder) || load_keys(&a, argv[1]) ||
      kr_node_log(a.n, one, &a) || a.rc || kr_node_digest_readable(a.n, d1)) {
    fprintf(stderr, "modelcheck: cannot read the changes\n");
    return 1;
  }
  if (!(a.x = calloc(a.len + 1, sizeof *a.x)) || !(a.idx = calloc(a.len + 1, sizeof *a.idx)) ||
      !(a.mem = calloc(a.len + 1, sizeof *a.mem)) || !(a.nmem = calloc(a.len + 1, sizeof *a.nmem)))
    abort();
  for (size_t k = 0; k < a.len; k++) open_change(&a, k);
  model_digest_at(a.x, a.len, (const uint32_t *const *)a.idx, d2);
  printf("modelcheck: %zu changes, %u groups sealed; node and model digests %s\n", a.len,
         a.sealed, memcmp(d1, d2, 32) ? "DIFFER" : "agree");
  for (size_t k = 0; k < a.len; k++) {
    for (size_t m = 0; m < a.nmem[k]; m++) free(a.mem[k][m]);
    free(a.mem[k]);
    free(a.idx[k]);
    free(a.x[k].ops);
    kr_change_free(&a.c[k]);
  }
  free(a.x);
  free(a.idx);
  free(a.mem);
  free(a.nmem);
  free(a.c);
  free(a.keys);
  kr_node_close(a.n);
  return memcmp(d1, d2, 32) != 0 || a.sealed != 0;
}
