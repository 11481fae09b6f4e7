/*
 * fuzz_join: libFuzzer target for the join request decoder. A request
 * that decodes has passed the new node's signature and the proof, names a
 * valid kind and an organisation; the inviter's signature is then checked
 * as a member of the seeds' network would (fuzz_key's node founded it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/err.h"
#include "fuzz_key.h"
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
    uint8_t pk[32], sk[64], net[KR_NETWORK_LEN];
    if (!kr_kind_valid(req.kind) || !req.org[0] || req.inv.expires_ms % 60000) abort();
    fuzz_key(pk, sk);
    memset(net, 7, sizeof net);
    kr_join_check_inviter(&req, net, pk, pk);
  }
  free(text);
  return 0;
}
