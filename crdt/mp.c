/* mp: strict canonical msgpack reader (see mp.h). */
#include <string.h>

#include "crdt/err.h"
#include "crdt/mp.h"

static int need(const kr_mp *r, size_t n)
{
  return kr_mp_left(r) < n ? KR_ETRUNCATED : 0;
}

static uint64_t be(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

int kr_mp_array(kr_mp *r, uint32_t *n)
{
  uint8_t t;
  uint64_t v;

  if (need(r, 1)) return KR_ETRUNCATED;
  t = *r->p;
  if ((t & 0xf0) == 0x90) {
    v = t & 0x0f;
    r->p += 1;
  } else if (t == 0xdc || t == 0xdd) {
    int w = t == 0xdc ? 2 : 4;
    if (need(r, 1 + (size_t)w)) return KR_ETRUNCATED;
    v = be(r->p + 1, w);
    if ((w == 2 && v < 16) || (w == 4 && v <= 0xffff)) return KR_ENONCANON;
    r->p += 1 + w;
  } else {
    return KR_EMALFORMED;
  }
  /* Every element takes at least one byte. */
  if (v > kr_mp_left(r)) return KR_ETRUNCATED;
  *n = (uint32_t)v;
  return 0;
}

int kr_mp_uint(kr_mp *r, uint64_t *v)
{
  uint8_t t;
  int w;

  if (need(r, 1)) return KR_ETRUNCATED;
  t = *r->p;
  if (t <= 0x7f) {
    *v = t;
    r->p++;
    return 0;
  }
  switch (t) {
  case 0xcc: w = 1; break;
  case 0xcd: w = 2; break;
  case 0xce: w = 4; break;
  case 0xcf: w = 8; break;
  default: return KR_EMALFORMED;
  }
  if (need(r, 1 + (size_t)w)) return KR_ETRUNCATED;
  *v = be(r->p + 1, w);
  if ((w == 1 && *v <= 0x7f) || (w == 2 && *v <= 0xff) ||
      (w == 4 && *v <= 0xffff) || (w == 8 && *v <= 0xffffffffu))
    return KR_ENONCANON;
  r->p += 1 + w;
  return 0;
}

int kr_mp_bool(kr_mp *r, int *v)
{
  if (need(r, 1)) return KR_ETRUNCATED;
  if (*r->p != 0xc2 && *r->p != 0xc3) return KR_EMALFORMED;
  *v = *r->p == 0xc3;
  r->p++;
  return 0;
}

static int raw(kr_mp *r, int is_str, const uint8_t **b, uint32_t *len)
{
  uint8_t t;
  uint64_t v;
  int w;

  if (need(r, 1)) return KR_ETRUNCATED;
  t = *r->p;
  if (is_str && (t & 0xe0) == 0xa0) {
    v = t & 0x1f;
    w = 0;
  } else if (is_str && (t == 0xd9 || t == 0xda || t == 0xdb)) {
    w = t == 0xd9 ? 1 : t == 0xda ? 2 : 4;
  } else if (!is_str && (t == 0xc4 || t == 0xc5 || t == 0xc6)) {
    w = t == 0xc4 ? 1 : t == 0xc5 ? 2 : 4;
  } else {
    return KR_EMALFORMED;
  }
  if (w) {
    if (need(r, 1 + (size_t)w)) return KR_ETRUNCATED;
    v = be(r->p + 1, w);
    if (is_str) {
      if ((w == 1 && v < 32) || (w == 2 && v <= 0xff) || (w == 4 && v <= 0xffff))
        return KR_ENONCANON;
    } else {
      if ((w == 2 && v <= 0xff) || (w == 4 && v <= 0xffff))
        return KR_ENONCANON;
    }
  }
  if (need(r, 1 + (size_t)w + v)) return KR_ETRUNCATED;
  *b = r->p + 1 + w;
  *len = (uint32_t)v;
  r->p += 1 + w + v;
  return 0;
}

int kr_mp_str(kr_mp *r, const char **s, uint32_t *len)
{
  return raw(r, 1, (const uint8_t **)s, len);
}

int kr_mp_bin(kr_mp *r, const uint8_t **b, uint32_t *len)
{
  return raw(r, 0, b, len);
}

int kr_mp_bin_fixed(kr_mp *r, uint8_t *out, uint32_t len)
{
  const uint8_t *b;
  uint32_t n;
  int rc = kr_mp_bin(r, &b, &n);

  if (rc) return rc;
  if (n != len) return KR_EMALFORMED;
  memcpy(out, b, len);
  return 0;
}

int kr_mp_take_nil(kr_mp *r)
{
  if (kr_mp_left(r) && *r->p == 0xc0) {
    r->p++;
    return 1;
  }
  return 0;
}
