/*
 * fuzz_bundle: libFuzzer target for the bundle reader: header, key
 * unsealing (for the fixed key of fuzz_key.h, which the seed corpus is
 * made for), chunk decryption and framing, and every change inside through
 * the change decoder, as kring bundle import reads them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/change.h"
#include "crdt/err.h"
#include "fuzz_key.h"
#include "sync/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem { const uint8_t *p; size_t len, pos; };
static long mem_read(void *ctx, void *buf, size_t n)
{
  struct mem *m = ctx;
  size_t k = m->len - m->pos < n ? m->len - m->pos : n;
  memcpy(buf, m->p + m->pos, k);
  m->pos += k;
  return (long)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static uint8_t pk[32], sk[64];
  static int init;
  kr_bundle_reader r;
  struct mem m = {data, size, 0};
  kr_buf plain;
  int end = 0;

  if (!init) { fuzz_key(pk, sk); init = 1; }
  kr_buf_init(&plain, KR_BUNDLE_CHUNK_MAX + 64);
  if (kr_bundle_read_header(&r, mem_read, &m) == 0 && kr_bundle_unlock(&r, sk) == 0) {
    while (!end && kr_bundle_read_chunk(&r, mem_read, &m, &plain, &end) == 0) {
      size_t off = 0, len;
      const uint8_t *c;
      if (plain.len > KR_BUNDLE_CHUNK_MAX + 17) abort();
      while (kr_bundle_next_change(&plain, &off, &c, &len) == 0 && c) {
        kr_change ch;
        if (len > KR_CHANGE_MAX || off > plain.len) abort();
        if (kr_change_decode(c, len, KR_CHANGE_MAX, &ch) == 0) kr_change_free(&ch);
      }
    }
  }
  kr_bundle_reader_free(&r);
  kr_buf_free(&plain);
  return 0;
}
