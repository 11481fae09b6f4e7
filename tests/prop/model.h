/*
 * model: a deliberately naive reference of the merge rules and of the
 * reader rule, written from docs/crdt.md without node/ or crdt/merge.c.
 * Given every change (in any order, duplicates allowed) and the
 * volunteers' keys, it opens the sealed groups, recomputes the state from
 * scratch with plain loops and feeds it to the digest in the documented
 * order: over every volunteer, or over those one node may read.
 *
 * Keys come from outside the changes (a test reads what its nodes hold,
 * model_node_keys) or from the key ops sealed to a node whose secret key
 * the test knows (model_sealed_keys): the model itself never decides who
 * got a key, only who may read.
 */
#ifndef KR_MODEL_H
#define KR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "crdt/change.h"
#include "node/node.h"

/* A volunteer's key of one epoch (subject, epoch number, creator). */
typedef struct {
  uint8_t subject[KR_SUBJECT_LEN];
  uint64_t epoch;
  uint8_t creator[KR_NODE_LEN];
  uint8_t key[KR_KEY_LEN];
} model_key;

typedef struct {
  model_key *k;
  size_t n;
} model_keys;

/* Add one key (duplicates are left out). */
void model_keys_add(model_keys *ks, const model_key *k);
/* Every key a key op of changes seals to the node whose secret key is sk. */
void model_sealed_keys(model_keys *ks, const kr_change *changes, size_t n,
                       const uint8_t network[static KR_NETWORK_LEN],
                       const uint8_t sk[static KR_SK_LEN]);
/* Every key node n holds now (its store's table of keys, read directly). */
void model_node_keys(model_keys *ks, kr_node *n);
/* Add the keys of the rows of s (subject, epoch, creator, key); s is
 * stepped to its end, not finalized. */
void model_keys_rows(model_keys *ks, sqlite3_stmt *s);
void model_keys_free(model_keys *ks);

typedef struct model model;

/* The model of changes (not copied: they must outlive it) in network, with
 * every group that one of keys opens opened. A group that opens and whose
 * ops break the field rules is left out, as every reader ignores it. */
model *model_new(const kr_change *changes, size_t n, const uint8_t network[static KR_NETWORK_LEN],
                 const model_keys *keys);
void model_free(model *m);
/* Groups of volunteers not erased that no key opened (a model that cannot
 * see everything cannot judge everything). */
size_t model_sealed(const model *m);
/* Groups that opened and were left out for breaking the field rules. */
size_t model_bad(const model *m);

/* kr_node_digest_readable of a node that reads what reader may read on day
 * (and every erasure marker); reader NULL: of one that reads everything. */
void model_digest(const model *m, const uint8_t *reader, const char *day, uint8_t out[32]);
/* The same, with the nskip volunteers of skip (16-byte ids) left out as if
 * reader did not read them. */
void model_digest_but(const model *m, const uint8_t *reader, const char *day,
                      const uint8_t (*skip)[KR_SUBJECT_LEN], size_t nskip, uint8_t out[32]);
/* kr_node_digest: the headers of the distinct changes in (origin, seq)
 * order. */
void model_held_digest(const model *m, uint8_t out[32]);

/* 1 when node may read the volunteer on day (docs/crdt.md, "Who reads a
 * volunteer"): it is not erased and node is a current member that either
 * registered it (the origin of its earliest registration) or is named by a
 * consent in force (or the consent names all members). */
int model_reads(const model *m, const uint8_t subject[static KR_SUBJECT_LEN],
                const uint8_t node[static KR_NODE_LEN], const char *day);
/* 1 when node is a current member: admitted (by an admission in force) or
 * the founder, and not removed. */
int model_member(const model *m, const uint8_t node[static KR_NODE_LEN]);
/* The state (kr_consent_state) of one consent register on day (YYYY-MM-DD);
 * recipient NULL: "all". Erased subjects and unknown registers read none. */
int model_consent(const model *m, const uint8_t subject[static KR_SUBJECT_LEN],
                  const char *purpose, const uint8_t *recipient, const char *day);
/* The value of a single-valued field (NULL: none), and whether a set
 * field holds value. */
const char *model_value(const model *m, const uint8_t subject[static KR_SUBJECT_LEN], int field);
int model_has(const model *m, const uint8_t subject[static KR_SUBJECT_LEN], int field,
              const char *value);
/* Print why the model says who reads the volunteer: its registrar, and
 * every consent register with its state on day (for a failing run). */
void model_explain(const model *m, const uint8_t subject[static KR_SUBJECT_LEN], const char *day);
/* 1 when the volunteer is erased. */
int model_erased(const model *m, const uint8_t subject[static KR_SUBJECT_LEN]);

#endif
