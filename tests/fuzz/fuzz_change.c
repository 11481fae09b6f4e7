/*
 * fuzz_change: libFuzzer target for the change decoder, the first decoder
 * of outside bytes. Whatever decodes must re-assemble to the same bytes
 * (one meaning, one encoding) and each op must parse on its own.
 * Built with clang -fsanitize=fuzzer when KRING_FUZZ=ON; the normal test
 * run replays tests/fuzz/corpus/change through replay.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/change.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  kr_change c;
  kr_buf out;
  uint8_t (*subj)[KR_SUBJECT_LEN];

  if (kr_change_decode(data, size, KR_CHANGE_MAX, &c) != 0)
    return 0;
  subj = malloc((size_t)c.nops * KR_SUBJECT_LEN);
  if (!subj) abort();
  for (uint32_t i = 0; i < c.nops; i++) {
    memcpy(subj[i], c.ops[i].subject, KR_SUBJECT_LEN);
    if (c.op_bytes[i]) {
      kr_op op;
      void *mem;
      if (kr_op_parse(c.op_bytes[i], c.op_len[i], &c.nodes, &op, &mem) != 0) abort();
      free(mem);
    }
  }
  kr_buf_init(&out, KR_CHANGE_MAX);
  if (kr_change_assemble(c.header, c.header_len, c.sig, c.nops, c.op_bytes, c.op_len,
                         (const uint8_t (*)[KR_SUBJECT_LEN])subj, c.types,
                         (const uint8_t (*)[KR_HASH_LEN])c.hashes, &out) != 0)
    abort();
  if (out.len != size || memcmp(out.data, data, size) != 0) abort();
  kr_buf_free(&out);
  free(subj);
  kr_change_free(&c);
  return 0;
}
