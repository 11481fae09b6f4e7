/*
 * validate: what a value must look like before this node writes it, and
 * data minimisation. Pure functions; node/write.c calls them for every
 * local edit, and node/apply.c for every op of every change, local or from
 * elsewhere, before it is stored (kr_op_values_ok): a modified node cannot
 * make this one store what its own CLI would refuse. docs/protocol.md,
 * "Field rules", lists them; they decide what converges.
 */
#ifndef KR_VALIDATE_H
#define KR_VALIDATE_H

#include <stddef.h>

#include "crdt/op.h"

/* 1 when the 9 digits pass the BSN elfproef (11-test). */
int kr_elfproef(const char digits[static 9]);
/* 1 when s holds a run of exactly 9 digits (optionally split by single
 * spaces, dots or dashes) that passes the elfproef. */
int kr_text_has_bsn(const char *s);

int kr_valid_email(const char *s);
/* Dutch phone numbers: 0XXXXXXXXX, +31XXXXXXXXX or 0031XXXXXXXXX with any
 * spaces, dashes or parentheses; normalised to 0XXXXXXXXX. */
int kr_norm_phone(const char *in, char out[static 11]);
/* Dutch postcode 1234 AB (space optional, any case); normalised "1234 AB". */
int kr_norm_postcode(const char *in, char out[static 8]);
/* mon-am ... sun-ev */
int kr_valid_availability(const char *s);

/*
 * Validate and normalise value for field code into out (cap bytes).
 * Returns 0, KR_EVALIDATION with *why set, or KR_EBSN.
 */
int kr_normalise_field(int field, const char *in, char *out, size_t cap,
                       int this_year, const char **why);

/*
 * The field rules for one op from anywhere: every value is exactly what
 * kr_normalise_field makes of it (so already normalised), with year as
 * "this year" for years of birth; text versions, reasons and organisation
 * names are one line and hold no BSN. 0, KR_EVALIDATION (*why set) or
 * KR_EBSN.
 */
int kr_op_values_ok(const kr_op *op, int year, const char **why);

#endif
