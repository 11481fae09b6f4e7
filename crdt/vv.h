/*
 * vv: version vectors. Per origin node, the highest seq up to which a
 * replica holds every change of that origin (its contiguous prefix). The
 * canonical encoding is a msgpack array of [origin (bin 32), seq (uint)]
 * pairs in strictly ascending origin order, seq >= 1; an origin of which
 * nothing is held is left out. docs/protocol.md gives the bytes.
 */
#ifndef KR_VV_H
#define KR_VV_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "crdt/mp.h"
#include "crdt/op.h"

#define KR_VV_MAX 4096u   /* origins in one vector */

typedef struct {
  uint8_t origin[KR_NODE_LEN];
  uint64_t seq;
} kr_vv_entry;

typedef struct {
  kr_vv_entry *e;        /* ascending by origin */
  size_t n, cap;
} kr_vv;

void kr_vv_init(kr_vv *v);
void kr_vv_free(kr_vv *v);
/* The seq held of origin, 0 if none. */
uint64_t kr_vv_get(const kr_vv *v, const uint8_t origin[static KR_NODE_LEN]);
/* Set origin's seq (0 removes it). KR_ETOOBIG past KR_VV_MAX origins. */
int kr_vv_set(kr_vv *v, const uint8_t origin[static KR_NODE_LEN], uint64_t seq);
/* Per origin the greater of the two. */
int kr_vv_merge(kr_vv *into, const kr_vv *from);
int kr_vv_encode(const kr_vv *v, kr_buf *out);
/* Read one vector from r; refuses non-canonical order, seq 0, and more
 * than KR_VV_MAX entries. On error *v is empty. */
int kr_vv_decode(kr_mp *r, kr_vv *v);

#endif
