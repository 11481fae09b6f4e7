/* buf: capped growable buffer (see buf.h). */
#include <stdlib.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/err.h"

void kr_buf_init(kr_buf *b, size_t limit)
{
  b->data = NULL;
  b->len = b->cap = 0;
  b->limit = limit;
}

void kr_buf_free(kr_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void kr_buf_reset(kr_buf *b) { b->len = 0; }

int kr_buf_reserve(kr_buf *b, size_t need)
{
  if (need > b->limit)
    return KR_ETOOBIG;
  if (need > b->cap) {
    size_t ncap = b->cap ? b->cap : 256;
    uint8_t *nd;
    while (ncap < need)
      ncap *= 2;
    if (ncap > b->limit)
      ncap = b->limit;
    nd = realloc(b->data, ncap);
    if (!nd)
      return KR_ENOMEM;
    b->data = nd;
    b->cap = ncap;
  }
  return 0;
}

int kr_buf_add(kr_buf *b, const void *p, size_t n)
{
  int rc;
  if (n > b->limit - b->len)
    return KR_ETOOBIG;
  if ((rc = kr_buf_reserve(b, b->len + n)))
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int kr_buf_mp_write(void *data, const char *buf, size_t len)
{
  return kr_buf_add(data, buf, len) ? -1 : 0;
}
