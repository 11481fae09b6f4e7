/*
 * fuzz_frame: libFuzzer target for the session's frame stream after the
 * handshake (the decrypted bytes a peer controls): vectors, changes,
 * batches, acknowledgements, DONE, END, ERR. Every event is answered as a
 * node would; a batch event must respect the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/err.h"
#include "fuzz_key.h"
#include "sync/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint8_t net[KR_NETWORK_LEN] = {1, 2, 3};
  uint8_t pk[32], sk[64];
  kr_sess *s;
  kr_sess_event ev;
  kr_sess_event_type t;
  kr_vv v;
  int failed = 0;

  if (size > (2u << 20)) return 0;
  fuzz_key(pk, sk);
  if (kr_sess_new(0, sk, net, NULL, 0, &s)) abort();
  kr_vv_init(&v);
  kr__sess_plain(s, data, size);
  while ((t = kr_sess_poll(s, &ev)) != KR_SEV_NONE) {
    switch (t) {
    case KR_SEV_VECTOR:
      if (!ev.vector || ev.vector->n > KR_VV_MAX) abort();
      kr_sess_send_done(s);            /* so that END frames are read too */
      break;
    case KR_SEV_BATCH: {
      size_t bytes = 0;
      if (ev.count == 0 || ev.count > KR_SYNC_BATCH_COUNT) abort();
      for (size_t i = 0; i < ev.count; i++) bytes += ev.len[i];
      if (bytes > KR_SYNC_BATCH_MAX) abort();
      kr_sess_applied(s, (uint32_t)ev.count, 0);
      break;
    }
    case KR_SEV_DRAINED: kr_sess_send_end(s, &v); break;
    case KR_SEV_FAILED:
      if (failed++ || !ev.reason || ev.err >= 0) abort();
      break;
    default: break;
    }
  }
  kr_sess_free(s);
  return 0;
}
