/*
 * vector: what this node holds per origin (origins.contig, kept current by
 * apply.c), what each peer was last known to hold (peers), and the stream
 * of changes a peer lacks, read in bounded batches so that memory stays
 * flat whatever the store's size.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/err.h"
#include "node/internal.h"

int kr_node_vector(kr_node *n, kr_vv *out)
{
  sqlite3_stmt *s;
  int rc = 0, step;

  kr_vv_init(out);
  if (sqlite3_prepare_v2(n->db, "SELECT key, contig FROM origins WHERE contig>0", -1, &s, NULL))
    return KR_EDB;
  while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
    if (sqlite3_column_bytes(s, 0) == KR_NODE_LEN)
      rc = kr_vv_set(out, sqlite3_column_blob(s, 0), (uint64_t)sqlite3_column_int64(s, 1));
  if (!rc && step != SQLITE_DONE) rc = KR_EDB;
  sqlite3_finalize(s);
  if (rc) kr_vv_free(out);
  return rc;
}

int kr_node_head(kr_node *n, const uint8_t origin[static KR_NODE_LEN], uint64_t seq,
                 uint8_t out[static KR_HEAD_LEN])
{
  sqlite3_stmt *s = kr__q(n, KR_Q_CHG_GET);
  int rc;

  if (!s) return KR_EDB;
  sqlite3_bind_blob(s, 1, origin, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    uint8_t h[32];
    crypto_generichash(h, sizeof h, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                       NULL, 0);
    memcpy(out, h, KR_HEAD_LEN);
    rc = 0;
  } else {
    rc = rc == SQLITE_DONE ? KR_ENOTFOUND : KR_EDB;
  }
  sqlite3_reset(s);
  return rc;
}

int kr_node_heads(kr_node *n, const kr_vv *v, uint8_t *out)
{
  int rc = 0;
  for (size_t i = 0; i < v->n && !rc; i++)
    rc = kr_node_head(n, v->e[i].origin, v->e[i].seq, out + i * KR_HEAD_LEN);
  return rc;
}

int kr_node_peer_vector(kr_node *n, const uint8_t peer[static KR_NODE_LEN], kr_vv *out)
{
  sqlite3_stmt *s;
  int rc = 0;

  kr_vv_init(out);
  if (sqlite3_prepare_v2(n->db, "SELECT vector FROM peers WHERE node=?1", -1, &s, NULL))
    return KR_EDB;
  sqlite3_bind_blob(s, 1, peer, KR_NODE_LEN, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW) {
    kr_mp r;
    kr_mp_init(&r, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
    rc = kr_vv_decode(&r, out);
  }
  sqlite3_finalize(s);
  return rc;
}

int kr_node_peer_record(kr_node *n, const uint8_t peer[static KR_NODE_LEN], const kr_vv *v)
{
  kr_vv cur;
  kr_buf b;
  sqlite3_stmt *s = NULL;
  int rc;

  kr_buf_init(&b, 1u << 20);
  if ((rc = kr_node_peer_vector(n, peer, &cur))) kr_vv_init(&cur); /* unreadable: replace */
  if ((rc = kr_vv_merge(&cur, v)) || (rc = kr_vv_encode(&cur, &b))) goto out;
  rc = KR_EDB;
  if (sqlite3_prepare_v2(n->db, "INSERT OR REPLACE INTO peers(node, vector, seen) VALUES(?1,?2,?3)",
                         -1, &s, NULL))
    goto out;
  sqlite3_bind_blob(s, 1, peer, KR_NODE_LEN, SQLITE_STATIC);
  sqlite3_bind_blob(s, 2, b.data ? (const void *)b.data : "", (int)b.len, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)kr_node_now_ms(n));
  rc = sqlite3_step(s);
  rc = rc == SQLITE_DONE ? 0 : kr__db_err(rc);     /* a full disk is KR_EFULL */
out:
  sqlite3_finalize(s);
  kr_buf_free(&b);
  kr_vv_free(&cur);
  return rc;
}

/* ---- what a peer lacks -------------------------------------------------- */

typedef struct {
  sqlite3_int64 n;
  uint8_t key[KR_NODE_LEN];
  uint64_t from;      /* the peer holds up to here */
  sqlite3_int64 upto; /* a removed member's changes count up to here */
} lack_origin;

typedef struct {
  uint8_t key[KR_NODE_LEN];
  uint64_t seq;
} lack_change;

struct kr_lacks {
  kr_node *n;
  lack_change *memb;          /* membership changes the peer lacks, clock order */
  size_t nmemb, imemb;
  lack_origin *orig;
  size_t norig, iorig;
  uint64_t last;              /* last seq handed out of orig[iorig] */
  sqlite3_stmt *next;         /* non-membership changes of one origin after a seq */
  uint64_t total;
  int snapshot;               /* inside SAVEPOINT lacks: one consistent view */
  kr_buf pend;                /* read, but over the last call's budget */
  int has_pend;
};

void kr_lacks_close(kr_lacks *l)
{
  if (!l) return;
  sqlite3_finalize(l->next);
  if (l->snapshot) kr__exec(l->n, "RELEASE lacks");
  kr_buf_free(&l->pend);
  free(l->memb);
  free(l->orig);
  free(l);
}

int kr_lacks_open(kr_node *n, const kr_vv *peer, kr_lacks **out)
{
  kr_lacks *l = calloc(1, sizeof *l);
  sqlite3_stmt *s = NULL;
  int rc = KR_EDB, step;

  *out = NULL;
  if (!l) return KR_ENOMEM;
  l->n = n;
  kr_buf_init(&l->pend, KR_CHANGE_MAX);
  if (kr__exec(n, "SAVEPOINT lacks")) { free(l); return KR_EDB; }
  l->snapshot = 1;
  /* Origins are few (one per member), so they are held in memory, each
   * with the count of its non-membership changes the peer lacks. A removed
   * member's changes past its cutoff are never sent: they are refused
   * everywhere the removal is known. */
  {
    sqlite3_stmt *cnt = NULL;
    if (sqlite3_prepare_v2(n->db, "SELECT o.n, o.key, coalesce(m.cutoff, 9223372036854775807)"
                           " FROM origins o LEFT JOIN members m ON m.node=o.key ORDER BY o.n",
                           -1, &s, NULL) ||
        sqlite3_prepare_v2(n->db, "SELECT count(*) FROM changes WHERE origin=?1 AND seq>?2"
                           " AND seq<=?3 AND NOT memb", -1, &cnt, NULL)) {
      sqlite3_finalize(cnt);
      goto err;
    }
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
      lack_origin *o;
      if (sqlite3_column_bytes(s, 1) != KR_NODE_LEN) continue;
      if (!(o = realloc(l->orig, (l->norig + 1) * sizeof *o))) { rc = KR_ENOMEM; break; }
      l->orig = o;
      o = &l->orig[l->norig];
      o->n = sqlite3_column_int64(s, 0);
      memcpy(o->key, sqlite3_column_blob(s, 1), KR_NODE_LEN);
      o->from = kr_vv_get(peer, o->key);
      o->upto = sqlite3_column_int64(s, 2);
      sqlite3_reset(cnt);
      sqlite3_bind_int64(cnt, 1, o->n);
      sqlite3_bind_int64(cnt, 2, (sqlite3_int64)o->from);
      sqlite3_bind_int64(cnt, 3, o->upto);
      if (sqlite3_step(cnt) != SQLITE_ROW) break;
      l->total += (uint64_t)sqlite3_column_int64(cnt, 0);
      l->norig++;
    }
    sqlite3_finalize(cnt);
    if (step != SQLITE_DONE) goto err;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (sqlite3_prepare_v2(n->db, "SELECT o.key, c.seq FROM changes c JOIN origins o ON o.n=c.origin"
                         " LEFT JOIN members m ON m.node=o.key WHERE c.memb AND"
                         " (m.cutoff IS NULL OR c.seq<=m.cutoff) ORDER BY c.hlc, c.origin, c.seq",
                         -1, &s, NULL))
    goto err;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    const uint8_t *key = sqlite3_column_blob(s, 0);
    uint64_t seq = (uint64_t)sqlite3_column_int64(s, 1);
    lack_change *m;
    if (sqlite3_column_bytes(s, 0) != KR_NODE_LEN || seq <= kr_vv_get(peer, key)) continue;
    if (!(m = realloc(l->memb, (l->nmemb + 1) * sizeof *m))) { rc = KR_ENOMEM; goto err; }
    l->memb = m;
    memcpy(m[l->nmemb].key, key, KR_NODE_LEN);
    m[l->nmemb].seq = seq;
    l->nmemb++;
  }
  if (step != SQLITE_DONE) goto err;
  sqlite3_finalize(s);
  s = NULL;
  l->total += l->nmemb;
  if (sqlite3_prepare_v2(n->db, "SELECT seq FROM changes WHERE origin=?1 AND seq>?2 AND seq<=?3"
                         " AND NOT memb ORDER BY seq LIMIT 64", -1, &l->next, NULL))
    goto err;
  if (l->norig) l->last = l->orig[0].from;
  *out = l;
  return 0;
err:
  sqlite3_finalize(s);
  kr_lacks_close(l);
  return rc;
}

uint64_t kr_lacks_total(const kr_lacks *l) { return l->total; }

/* Read one change; hand it to cb unless it would take a batch that has
 * one already past budget, in which case it waits for the next call. */
static int hand(kr_lacks *l, const uint8_t *key, uint64_t seq, size_t budget, kr_bytes_cb cb,
                void *ctx, size_t *bytes, size_t *count)
{
  int rc;
  l->pend.len = 0;
  if ((rc = kr_node_change_bytes(l->n, key, seq, &l->pend))) return rc;
  if (*count && *bytes + l->pend.len > budget) {
    l->has_pend = 1;
    return 0;
  }
  *bytes += l->pend.len;
  ++*count;
  return cb(ctx, l->pend.data, l->pend.len);
}

int kr_lacks_next(kr_lacks *l, size_t budget, kr_bytes_cb cb, void *ctx, size_t *count)
{
  size_t bytes = 0;
  int rc = 0;

  *count = 0;
  if (l->has_pend) {
    l->has_pend = 0;
    bytes = l->pend.len;
    *count = 1;
    rc = cb(ctx, l->pend.data, l->pend.len);
  }
  while (!rc && !l->has_pend && l->imemb < l->nmemb) {
    rc = hand(l, l->memb[l->imemb].key, l->memb[l->imemb].seq, budget, cb, ctx, &bytes, count);
    l->imemb++;
  }
  while (!rc && !l->has_pend && l->iorig < l->norig) {
    lack_origin *o = &l->orig[l->iorig];
    uint64_t seqs[64];
    int k = 0, step;
    sqlite3_reset(l->next);
    sqlite3_bind_int64(l->next, 1, o->n);
    sqlite3_bind_int64(l->next, 2, (sqlite3_int64)l->last);
    sqlite3_bind_int64(l->next, 3, o->upto);
    while (k < 64 && (step = sqlite3_step(l->next)) == SQLITE_ROW)
      seqs[k++] = (uint64_t)sqlite3_column_int64(l->next, 0);
    sqlite3_reset(l->next);
    if (k < 64 && step != SQLITE_DONE) { rc = KR_EDB; break; }
    if (k == 0) {
      if (++l->iorig < l->norig) l->last = l->orig[l->iorig].from;
      continue;
    }
    for (int i = 0; i < k && !rc && !l->has_pend; i++) {
      rc = hand(l, o->key, seqs[i], budget, cb, ctx, &bytes, count);
      l->last = seqs[i];
    }
  }
  return rc;
}
