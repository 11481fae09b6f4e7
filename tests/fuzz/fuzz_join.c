/*
 * fuzz_join: libFuzzer target for the join request decoder. A request
 * that decodes has passed three signatures and names a valid kind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/err.h"
#include "sync/invite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static kr_join_req req;
  char *text;

  if (size > 2 * KR_INVITE_TEXT_MAX) return 0;
  if (!(text = malloc(size + 1))) abort();
  memcpy(text, data, size);
  text[size] = 0;
  if (kr_join_parse(text, &req) == 0) {
    if (!kr_kind_valid(req.kind) || !req.org[0]) abort();
  }
  free(text);
  return 0;
}
