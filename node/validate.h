/*
 * validate: what a value must look like before this node writes it, and
 * data minimisation. Pure functions of the value (and its field); node/
 * write.c calls them for every local edit, and node/apply.c for every op
 * of every change, local or from elsewhere, before it is stored
 * (kr_op_values_ok): a modified node cannot make this one store what its
 * own CLI would refuse. docs/protocol.md, "Field rules", lists them; they
 * decide what converges.
 */
#ifndef KR_VALIDATE_H
#define KR_VALIDATE_H

#include <stddef.h>

#include "crdt/op.h"

/*
 * Text. Every text a change carries passes one of two checks: single-line
 * text (every field but notes, consent purpose and text version, erasure
 * and removal reasons, organisation names) or multi-line text (notes).
 * Both refuse what is not UTF-8 and every character that could make
 * printed output lie about what is stored: control characters (U+0000 to
 * U+001F, U+007F to U+009F, so also tab and carriage return), the
 * bidirectional embeddings, overrides and isolates (U+202A to U+202E,
 * U+2066 to U+2069) and the line and paragraph separators (U+2028,
 * U+2029). Multi-line text may hold line feeds (U+000A).
 * Both return 0, or KR_EVALIDATION with *why (why may be NULL) saying what
 * was found, in words for the user: static English, marked N_() for a
 * translation where it is shown (node/i18n.h), as are the other whys
 * here. Neither looks for a BSN: free text also passes kr_text_has_bsn.
 */
int kr_text_single_ok(const char *s, size_t len, const char **why);
int kr_text_multi_ok(const char *s, size_t len, const char **why);

/* 1 when the 9 digits (ASCII) pass the BSN elfproef (11-test). */
int kr_elfproef(const char digits[static 9]);
/*
 * 1 when s holds a number of exactly 9 digits that passes the elfproef.
 * Read as Unicode: a digit is any decimal digit (Unicode category Nd, and
 * the superscript, subscript and circled digits), taken at its value; the
 * invisible characters (default ignorable) and combining marks between
 * them do not count. A number is a longest sequence of digits in which at
 * most one other character (any: space, '.', '-', '/', '_', tab, NBSP,
 * a letter ...) stands between two digits. A date (d-m-yy, dd-mm-yyyy,
 * yyyy-mm-dd; '-', '/' or '.' twice) is a number of its own, so a date
 * next to a short number is not a BSN. s need not be valid UTF-8 (a stray
 * byte is one other character). See docs/crdt.md, "Data minimisation".
 */
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
