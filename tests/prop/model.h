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
/* The same where op i of change k has stamp index idx[k][i] (its place in
 * the change, or KR_OP_IDX of a group's op once the group is opened);
 * idx or idx[k] NULL: its index i. */
void model_digest_at(const kr_change *changes, size_t n, const uint32_t *const *idx,
                     uint8_t out[32]);
/* The state (kr_consent_state) of one consent register on day (YYYY-MM-DD);
 * recipient NULL: "all". Duplicates of one (origin, seq) must be left out. */
int model_consent(const kr_change *changes, size_t n, const uint8_t subject[16],
                  const char *purpose, const uint8_t *recipient, const char *day);

#endif
