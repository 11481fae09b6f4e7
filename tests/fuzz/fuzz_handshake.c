/*
 * fuzz_handshake: libFuzzer target for the Noise XX handshake messages as
 * a session reads them. The first byte picks the side: a responder reads
 * the input as the initiator's messages, an initiator (after sending its
 * first message) as the responder's. Whatever comes, the session either
 * waits, fails once with a reason, or reports a peer whose node id owns
 * the static key (it cannot, without the peer's secret key).
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

  if (size < 1 || size > (1u << 20)) return 0;
  fuzz_key(pk, sk);
  if (kr_sess_new(data[0] & 1, sk, net, (data[0] & 2) ? "kring-join-1.x" : NULL, 0, &s)) abort();
  kr_vv_init(&v);
  kr_sess_feed(s, data + 1, size - 1);
  while ((t = kr_sess_poll(s, &ev)) != KR_SEV_NONE) {
    if (t == KR_SEV_PEER) {
      if (!ev.peer) abort();
      kr_sess_accept(s, &v, NULL);
    } else if (t == KR_SEV_FAILED) {
      if (failed++ || !ev.reason || ev.err >= 0) abort();
    } else if (t == KR_SEV_BATCH) {
      kr_sess_applied(s, 0, (uint32_t)ev.count);
    } else if (t == KR_SEV_DRAINED) {
      kr_sess_send_end(s, &v);
    }
  }
  kr_sess_tick(s, KR_SYNC_HANDSHAKE_MS + 1);
  kr_sess_free(s);
  return 0;
}
