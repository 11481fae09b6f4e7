/*
 * model: a deliberately naive reference of the merge rules, written from
 * docs/crdt.md without node/ or crdt/merge.c. Given every change (in any
 * order, duplicates allowed) it recomputes the state from scratch with
 * plain loops and feeds it to the digest in the documented order.
 */
#ifndef KR_MODEL_H
#define KR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/change.h"

void model_digest(const kr_change *changes, size_t n, uint8_t out[32]);

#endif
