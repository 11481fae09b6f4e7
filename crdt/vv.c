/* vv: version vectors (see vv.h). */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "crdt/err.h"
#include "crdt/vv.h"

void kr_vv_init(kr_vv *v) { memset(v, 0, sizeof *v); }

void kr_vv_free(kr_vv *v)
{
  free(v->e);
  kr_vv_init(v);
}

/* Index of origin, or of where it would go (and *found = 0). */
static size_t find(const kr_vv *v, const uint8_t *origin, int *found)
{
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(v->e[mid].origin, origin, KR_NODE_LEN);
    if (c == 0) { *found = 1; return mid; }
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  *found = 0;
  return lo;
}

uint64_t kr_vv_get(const kr_vv *v, const uint8_t origin[static KR_NODE_LEN])
{
  int found;
  size_t i = find(v, origin, &found);
  return found ? v->e[i].seq : 0;
}

int kr_vv_set(kr_vv *v, const uint8_t origin[static KR_NODE_LEN], uint64_t seq)
{
  int found;
  size_t i = find(v, origin, &found);

  if (found) {
    if (seq) {
      v->e[i].seq = seq;
    } else {
      memmove(&v->e[i], &v->e[i + 1], (v->n - i - 1) * sizeof v->e[0]);
      v->n--;
    }
    return 0;
  }
  if (!seq) return 0;
  if (v->n >= KR_VV_MAX) return KR_ETOOBIG;
  if (v->n == v->cap) {
    size_t nc = v->cap ? 2 * v->cap : 8;
    kr_vv_entry *e = realloc(v->e, nc * sizeof *e);
    if (!e) return KR_ENOMEM;
    v->e = e;
    v->cap = nc;
  }
  memmove(&v->e[i + 1], &v->e[i], (v->n - i) * sizeof v->e[0]);
  memcpy(v->e[i].origin, origin, KR_NODE_LEN);
  v->e[i].seq = seq;
  v->n++;
  return 0;
}

int kr_vv_merge(kr_vv *into, const kr_vv *from)
{
  for (size_t i = 0; i < from->n; i++) {
    if (kr_vv_get(into, from->e[i].origin) < from->e[i].seq) {
      int rc = kr_vv_set(into, from->e[i].origin, from->e[i].seq);
      if (rc) return rc;
    }
  }
  return 0;
}

int kr_vv_encode(const kr_vv *v, kr_buf *out)
{
  msgpack_packer pk;
  size_t start = out->len;
  int e = 0;

  msgpack_packer_init(&pk, out, kr_buf_mp_write);
  e |= msgpack_pack_array(&pk, (uint32_t)v->n);
  for (size_t i = 0; i < v->n && !e; i++) {
    e |= msgpack_pack_array(&pk, 2);
    e |= msgpack_pack_bin(&pk, KR_NODE_LEN);
    e |= msgpack_pack_bin_body(&pk, v->e[i].origin, KR_NODE_LEN);
    e |= msgpack_pack_uint64(&pk, v->e[i].seq);
  }
  if (e) {
    out->len = start;
    return KR_ETOOBIG;
  }
  return 0;
}

int kr_vv_decode(kr_mp *r, kr_vv *v)
{
  uint32_t n, two;
  int rc;

  kr_vv_init(v);
  if ((rc = kr_mp_array(r, &n))) return rc;
  if (n > KR_VV_MAX) return KR_ETOOBIG;
  if (n && !(v->e = malloc(n * sizeof *v->e))) return KR_ENOMEM;
  v->cap = n;
  for (uint32_t i = 0; i < n; i++) {
    kr_vv_entry *e = &v->e[i];
    if ((rc = kr_mp_array(r, &two)) || (two != 2 && (rc = KR_EMALFORMED)) ||
        (rc = kr_mp_bin_fixed(r, e->origin, KR_NODE_LEN)) || (rc = kr_mp_uint(r, &e->seq)))
      goto bad;
    if (e->seq == 0) { rc = KR_EMALFORMED; goto bad; }
    if (i && memcmp(v->e[i - 1].origin, e->origin, KR_NODE_LEN) >= 0) { rc = KR_ENONCANON; goto bad; }
    v->n = i + 1;
  }
  return 0;
bad:
  kr_vv_free(v);
  return rc;
}
