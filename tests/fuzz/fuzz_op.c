/*
 * fuzz_op: libFuzzer target for the operation decoder, which sits behind
 * the signature check in fuzz_change (a fuzzer cannot forge signatures, so
 * it would never reach it there). A decoded op must re-encode to the same
 * bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/change.h"
#include "fuzz_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  kr_op op;
  void *mem;
  kr_buf out;

  if (kr_op_parse(data, size, &fuzz_nodes, &op, &mem) != 0)
    return 0;
  kr_buf_init(&out, KR_CHANGE_MAX);
  if (kr_op_encode(&op, &fuzz_nodes, &out) != 0) abort();
  if (out.len != size || memcmp(out.data, data, size) != 0) abort();
  kr_buf_free(&out);
  free(mem);
  return 0;
}
