/* fuzz_key: the fixed node key the bundle target decrypts with, and that
 * mkcorpus seals its seed bundles for. */
#ifndef KR_FUZZ_KEY_H
#define KR_FUZZ_KEY_H

#include <string.h>

#include <sodium.h>

static inline void fuzz_key(uint8_t pk[32], uint8_t sk[64])
{
  uint8_t seed[32];
  memset(seed, 0x42, sizeof seed);
  if (sodium_init() < 0) abort();
  crypto_sign_seed_keypair(pk, sk, seed);
}

#endif
