/* fuzz_key: the fixed node key the bundle target decrypts with, and that
 * mkcorpus seals its seed bundles for. */
#ifndef KR_FUZZ_KEY_H
#define KR_FUZZ_KEY_H

#include <string.h>

#include <sodium.h>

#include "crdt/op.h"

static inline void fuzz_key(uint8_t pk[32], uint8_t sk[64])
{
  uint8_t seed[32];
  memset(seed, 0x42, sizeof seed);
  if (sodium_init() < 0) abort();
  crypto_sign_seed_keypair(pk, sk, seed);
}

/* The node table fuzz_op and fuzz_group decode with: an origin (number
 * 0) and three nodes (1-3), ascending. */
static const uint8_t fuzz_node_ids[4][32] = {{0x01}, {0x10}, {0x20}, {0x30}};
static const kr_nodes fuzz_nodes = {fuzz_node_ids[0], (const uint8_t (*)[32])fuzz_node_ids[1], 3};

#endif
