/*
 * mp: a strict reader for the canonical msgpack subset kring signs and
 * sends (nil, bool, unsigned integers, str, bin, array). Writing goes
 * through msgpack-c's packer, which always picks the shortest form; this
 * reader accepts exactly that form and nothing else, so a decoded value
 * re-encodes to the same bytes and a signature covers one meaning only.
 *
 * msgpack-c's own unpacker is not used for outside bytes because it
 * allocates an array's element table from the declared count before it
 * has seen the elements, and it accepts non-shortest encodings. Here
 * every declared length is checked against the bytes that remain.
 */
#ifndef KR_MP_H
#define KR_MP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const uint8_t *p;   /* next byte to read */
  const uint8_t *end; /* one past the last byte */
} kr_mp;

static inline void kr_mp_init(kr_mp *r, const void *buf, size_t len)
{
  r->p = buf;
  r->end = r->p + len;
}
static inline size_t kr_mp_left(const kr_mp *r) { return (size_t)(r->end - r->p); }

/* Each returns 0 or a negative kr_err (TRUNCATED, MALFORMED, NONCANON). */
int kr_mp_array(kr_mp *r, uint32_t *n);                      /* OUT: count */
int kr_mp_uint(kr_mp *r, uint64_t *v);
int kr_mp_bool(kr_mp *r, int *v);
int kr_mp_str(kr_mp *r, const char **s, uint32_t *len);      /* not NUL-terminated */
int kr_mp_bin(kr_mp *r, const uint8_t **b, uint32_t *len);
/* A bin of exactly `len` bytes, copied into out. */
int kr_mp_bin_fixed(kr_mp *r, uint8_t *out, uint32_t len);
/* 1 when the next value is nil (and consumes it), 0 otherwise. */
int kr_mp_take_nil(kr_mp *r);

#endif
