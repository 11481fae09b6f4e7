/* carry: bundle export and import through files (see carry.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crdt/err.h"
#include "sync/bundle.h"
#include "sync/carry.h"

#define PROGRESS_EVERY 500   /* changes between progress calls */

/* ---- export ------------------------------------------------------------- */

struct out_file {
  int fd;
};

static int write_fd(void *ctx, const void *buf, size_t n)
{
  struct out_file *o = ctx;
  const uint8_t *p = buf;
  while (n) {
    ssize_t k = write(o->fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return KR_EIO;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

struct rcpts {
  uint8_t (*id)[KR_NODE_LEN];
  uint32_t n;
};

static int add_rcpt(void *ctx, const kr_member *m)
{
  struct rcpts *r = ctx;
  void *p;
  if (!m->admitted || m->removed) return 0;
  if (r->n >= KR_BUNDLE_RCPT_MAX) return KR_ETOOBIG;
  if (!(p = realloc(r->id, (r->n + 1) * sizeof *r->id))) return KR_ENOMEM;
  r->id = p;
  memcpy(r->id[r->n++], m->node, KR_NODE_LEN);
  return 0;
}

struct exp_ctx {
  kr_bundle_writer *w;
  uint64_t done, total;
  kr_progress_fn progress;
  void *pctx;
};

static int put_change(void *ctx, const uint8_t *buf, size_t len)
{
  struct exp_ctx *e = ctx;
  int rc = kr_bundle_write_change(e->w, buf, len);
  if (!rc && ++e->done % PROGRESS_EVERY == 0 && e->progress)
    e->progress(e->pctx, e->done, e->total);
  return rc;
}

int kr_bundle_export(kr_node *n, const char *path, const uint8_t *for_node,
                     kr_progress_fn progress, void *pctx, kr_export_result *res)
{
  kr_vv peer, mine;
  kr_lacks *l = NULL;
  struct rcpts r = {NULL, 0};
  kr_bundle_writer w;
  struct out_file o = {-1};
  struct exp_ctx e = {&w, 0, 0, progress, pctx};
  uint8_t network[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  char tmp[4200] = "";
  size_t count;
  int rc, started = 0;

  memset(res, 0, sizeof *res);
  kr_vv_init(&peer);
  kr_vv_init(&mine);
  kr_node_network(n, network, founder);
  if (for_node && (rc = kr_node_peer_vector(n, for_node, &peer))) return rc;
  if ((rc = kr_node_members(n, add_rcpt, &r))) goto out;
  if (r.n == 0) { rc = KR_ENOTMEMBER; goto out; }    /* not admitted yet: nobody to seal for */
  if ((rc = kr_lacks_open(n, &peer, &l)) || (rc = kr_node_vector(n, &mine))) goto out;
  e.total = kr_lacks_total(l);

  snprintf(tmp, sizeof tmp, "%s.part", path);
  if ((o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) { rc = KR_EIO; goto out; }
  rc = kr_bundle_write_begin(&w, kr_node_secret_key(n), network, for_node, &mine, e.total,
                             kr_node_now_ms(n), (const uint8_t (*)[KR_NODE_LEN])r.id, r.n,
                             write_fd, &o);
  started = 1;
  if (rc) goto out;
  do {
    rc = kr_lacks_next(l, 1u << 20, put_change, &e, &count);
  } while (!rc && count);
  if (rc) goto out;
  if (e.done != e.total) { rc = KR_EDB; goto out; }   /* the snapshot moved: never expected */
  if ((rc = kr_bundle_write_end(&w))) goto out;
  if (fsync(o.fd) != 0 || close(o.fd) != 0) { o.fd = -1; rc = KR_EIO; goto out; }
  o.fd = -1;
  if (rename(tmp, path) != 0) { rc = KR_EIO; goto out; }
  if (progress) progress(pctx, e.done, e.total);
  res->changes = e.done;
  res->bytes = w.written;
  res->recipients = r.n;
out:
  if (o.fd >= 0) close(o.fd);
  if (rc && tmp[0]) unlink(tmp);      /* only ever the .part file this export made */
  if (started) kr_bundle_writer_free(&w);
  kr_lacks_close(l);
  kr_vv_free(&peer);
  kr_vv_free(&mine);
  free(r.id);
  return rc;
}

/* ---- import ------------------------------------------------------------- */

struct in_file {
  FILE *f;
};

static long read_file(void *ctx, void *buf, size_t n)
{
  struct in_file *in = ctx;
  size_t k = fread(buf, 1, n, in->f);
  if (k == 0 && ferror(in->f)) return KR_EIO;
  return (long)k;
}

/* Refusals of single changes; anything else ends the import. */
static int refusable(int rc)
{
  switch (rc) {
  case KR_ENOTMEMBER: case KR_ENETWORK: case KR_ECONFLICT: case KR_EBADSIG: case KR_EBADHASH:
  case KR_EMALFORMED: case KR_ENONCANON: case KR_EUNKNOWN: case KR_ETRUNCATED: case KR_ETOOBIG:
  case KR_EFOUNDER: case KR_EVALIDATION: case KR_EBSN: case KR_EREDACTED:
    return 1;
  default:
    return 0;
  }
}

static void first_seq(const uint8_t *buf, size_t len, kr_import_result *res)
{
  kr_change c;
  if (kr_change_decode(buf, len, KR_CHANGE_MAX, &c) == 0) {
    memcpy(res->refused_origin, c.origin, KR_NODE_LEN);
    res->refused_seq = c.seq;
    kr_change_free(&c);
  }
}

int kr_bundle_import(kr_node *n, const char *path, kr_progress_fn progress, void *pctx,
                     kr_import_result *res)
{
  kr_bundle_reader r;
  struct in_file in = {NULL};
  kr_buf plain;
  uint8_t network[KR_NETWORK_LEN], founder[KR_NODE_LEN];
  uint64_t seen = 0;
  int rc, end = 0, batch = 0, member, removed_before;

  memset(res, 0, sizeof *res);
  kr_buf_init(&plain, KR_BUNDLE_CHUNK_MAX + 64);
  if (!(in.f = fopen(path, "rb"))) return errno == ENOENT ? KR_ENOTFOUND : KR_EIO;
  kr_node_network(n, network, founder);
  if ((rc = kr_bundle_read_header(&r, read_file, &in))) goto out;
  memcpy(res->exporter, r.h.exporter, KR_NODE_LEN);
  res->created_ms = r.h.created_ms;
  res->total = r.h.count;
  if (memcmp(r.h.network, network, KR_NETWORK_LEN) != 0) { rc = KR_ENETWORK; goto out; }
  if ((rc = kr_bundle_unlock(&r, kr_node_secret_key(n)))) goto out;
  if ((removed_before = kr_node_is_removed(n, r.h.exporter)) < 0) { rc = removed_before; goto out; }
  if ((rc = kr_node_batch_begin(n))) goto out;
  batch = 1;
  while (!end) {
    size_t off = 0, len;
    const uint8_t *chg;
    if ((rc = kr_bundle_read_chunk(&r, read_file, &in, &plain, &end))) goto out;
    for (;;) {
      int fresh;
      if ((rc = kr_bundle_next_change(&plain, &off, &chg, &len))) goto out;
      if (!chg) break;
      if (++seen > r.h.count) { rc = KR_EMALFORMED; goto out; }
      rc = kr_node_batch_apply(n, chg, len, &fresh);
      if (rc == 0) {
        if (fresh) res->applied++;
        else if (kr_node_last_held(n)) res->held++;
        else res->known++;
      } else if (refusable(rc)) {
        if (!res->refused++) {
          res->refusal = rc;
          first_seq(chg, len, res);
        }
      } else {
        goto out;
      }
      if (progress && seen % PROGRESS_EVERY == 0) progress(pctx, seen, r.h.count);
    }
  }
  /* The signature has been checked (read_chunk at the end). */
  if (seen != r.h.count) { rc = KR_EMALFORMED; goto out; }
  /* The exporter must be a member, as this store now knows the network;
   * or one removed by this very import: its removal was in the bundle,
   * or this node removed it on finding two changes it signed under one
   * seq (a copied home) in the bundle. Such a bundle is kept, as a sync
   * session keeps it: its changes were each checked against the
   * removal, and the removal must reach the other nodes. */
  if ((member = kr_node_is_member(n, r.h.exporter)) < 0) { rc = member; goto out; }
  if (!member && (removed_before || kr_node_is_removed(n, r.h.exporter) != 1)) {
    rc = KR_ENOTMEMBER;
    goto out;
  }
  res->exporter_removed = !member;
  if (member && memcmp(r.h.exporter, kr_node_id(n), KR_NODE_LEN) != 0 &&
      (rc = kr_node_peer_record(n, r.h.exporter, &r.h.vector)))
    goto out;
  rc = kr_node_batch_end(n, 1);
  batch = 0;
  if (!rc && progress) progress(pctx, seen, r.h.count);
out:
  if (batch) kr_node_batch_end(n, 0);
  if (rc) res->applied = res->known = res->held = 0;
  kr_bundle_reader_free(&r);
  kr_buf_free(&plain);
  fclose(in.f);
  return rc;
}
