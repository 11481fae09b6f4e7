/*
 * buf: a growable byte buffer with a hard cap. Growing past the cap is an
 * error (KR_ETOOBIG), not an allocation. The caller owns the struct.
 */
#ifndef KR_BUF_H
#define KR_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;    /* allocated */
  size_t limit;  /* hard cap */
} kr_buf;

void kr_buf_init(kr_buf *b, size_t limit);
void kr_buf_free(kr_buf *b);
void kr_buf_reset(kr_buf *b);
int kr_buf_add(kr_buf *b, const void *p, size_t n);
/* Make room for n bytes in all (data may move; len is kept). */
int kr_buf_reserve(kr_buf *b, size_t n);
/* msgpack-c write callback: data is a kr_buf*. Returns 0 or -1. */
int kr_buf_mp_write(void *data, const char *buf, size_t len);

#endif
