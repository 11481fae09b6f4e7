/*
 * fuzz_group: libFuzzer target for what a reader does with a sealed group
 * once its box opens: decoding the ops inside (kr_group_decode), which no
 * fuzzer reaches through fuzz_change (it cannot forge a signature or a
 * box). A decoded group must re-encode to the same bytes. The same bytes,
 * taken as a box, go through kr_group_open with a fixed key: it must fail
 * cleanly (a fuzzer cannot forge the Poly1305 tag either).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/change.h"
#include "fuzz_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint8_t subject[KR_SUBJECT_LEN] = {9, 9, 9};
  static const uint8_t key[KR_KEY_LEN] = {0x6b, 0x72}, net[KR_NETWORK_LEN] = {7};
  static const uint8_t origin[KR_NODE_LEN] = {1}, nonce[KR_NONCE_LEN] = {5};
  kr_op *ops, g;
  uint32_t n;
  void *mem;
  kr_buf out;

  kr_buf_init(&out, KR_CHANGE_MAX);
  if (kr_group_decode(data, size, subject, &fuzz_nodes, &ops, &n, &mem) == 0) {
    if (kr_group_encode(ops, n, &fuzz_nodes, &out) != 0) abort();
    if (out.len != size || memcmp(out.data, data, size) != 0) abort();
    free(mem);
  }
  memset(&g, 0, sizeof g);
  g.type = KR_OP_GROUP;
  memcpy(g.subject, subject, KR_SUBJECT_LEN);
  g.epoch = 1;
  g.box = data;
  g.box_len = (uint32_t)(size > KR_CHANGE_MAX ? KR_CHANGE_MAX : size);
  if (size >= KR_BOX_MIN && kr_group_open(key, net, origin, 1, nonce, 0, &g, &out) == 0) abort();
  kr_buf_free(&out);
  return 0;
}
