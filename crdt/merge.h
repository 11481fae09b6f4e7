/*
 * merge: the merge rules, as pure functions over values node/ reads from
 * its store. docs/crdt.md states each rule with an example.
 *
 *  - LWW register: the write with the greatest stamp wins. A stamp is
 *    (hlc, origin, op index); the index only separates two writes in one
 *    change.
 *  - OR-set (add-wins): an element is present while some add of it has a
 *    tag that no remove has observed.
 *  - Consent register (disable-wins): a grant is in force only if it
 *    observed every withdrawal of the register; the in-force grant with the
 *    greatest stamp gives the terms; an in-force grant past its end date
 *    reads as expired; no in-force grant reads as none or withdrawn.
 *  - Erasure absorbs: the earliest erasure stamp is the marker; every op on
 *    the subject, before or after, has no effect.
 */
#ifndef KR_MERGE_H
#define KR_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/hlc.h"
#include "crdt/op.h"

typedef struct {
  kr_hlc hlc;
  uint8_t origin[KR_NODE_LEN];
  uint32_t idx;
} kr_stamp;

/* <0, 0, >0 as a orders before, equal to, after b. */
int kr_stamp_cmp(const kr_stamp *a, const kr_stamp *b);

typedef enum {
  KR_CONSENT_NONE = 0,      /* never granted */
  KR_CONSENT_GRANTED,
  KR_CONSENT_WITHDRAWN,     /* a withdrawal disables every grant */
  KR_CONSENT_EXPIRED,       /* the grant in force has passed its end date */
} kr_consent_state;

const char *kr_consent_state_name(kr_consent_state s);

/* One grant or withdrawal of a single (subject, purpose, recipient). */
typedef struct {
  uint8_t tag[KR_TAG_LEN];
  kr_stamp stamp;
  int is_grant;
  const char *until;        /* grants: "" or YYYY-MM-DD */
  const uint8_t *observed;  /* grants: tags of the withdrawals it observed */
  uint32_t nobserved;
} kr_consent_entry;

/*
 * Resolve a consent register of n entries, in any order. today is
 * "YYYY-MM-DD" (passed in: crdt/ reads no clock). *in_force (OUT) is the
 * index of the grant in force, or (size_t)-1.
 */
kr_consent_state kr_consent_resolve(const kr_consent_entry *e, size_t n,
                                    const char *today, size_t *in_force);

#endif
