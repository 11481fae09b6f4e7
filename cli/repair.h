/*
 * repair: the import's understanding of a sheet: which header means which
 * kring field, and how to undo what Excel did to a value (repair.c).
 */
#ifndef KR_REPAIR_H
#define KR_REPAIR_H

#include <stddef.h>

/* What a column holds. */
enum {
  RP_UNKNOWN = 0,   /* not recognised: reported and left out */
  RP_SKIP,          /* left out on purpose (--map "Col=skip") */
  RP_FIELD,         /* a kring field (field code) */
  RP_FIRST,         /* voornaam */
  RP_NICK,          /* roepnaam: used for the name instead of voornaam */
  RP_INFIX,         /* tussenvoegsel */
  RP_LAST,          /* achternaam */
  RP_BIRTHDATE,     /* geboortedatum: only the year is kept */
  RP_BSN,           /* a BSN column: the import is refused */
  RP_CONSENT,       /* the column --consent-column names */
};

#define RP_ITEM_MAX 256

/* A header as a lookup key: lower case a-z0-9, accents dropped. */
void rp_header_key(const char *in, char *out, size_t cap);
/* The kind of a header (RP_*), and its field code when RP_FIELD or RP_BIRTHDATE. */
int rp_header(const char *header, int *field);
/* The kind a --map target names: a kring field name, first_name, nickname,
 * infix, last_name, birth_date, or skip (or empty). RP_UNKNOWN if none. */
int rp_target(const char *name, int *field);

void rp_trim(const char *s, char *out, size_t cap);
/* ja, yes, x, 1, waar, true ... */
int rp_truthy(const char *s);
/* dd-mm-jjjj, d-m-jj (also / and .), jjjj-mm-dd, or an Excel serial day
 * number. birth: a two-digit year after this year's is 19xx. note gets
 * what was guessed, or "". 1 when it is a date. */
int rp_date(const char *in, int this_year, int birth, int *y, int *m, int *d, char *note, size_t cap);
/* A phone number as Excel left it: the leading zero put back, 31... read
 * as +31; 0 with *why for scientific notation (the digits are lost).
 * note gets the repair made, or "". kring normalises the result. */
int rp_phone(const char *in, char *out, size_t cap, char *note, size_t ncap, const char **why);
/* 1031ab, 1031-AB -> 1031 AB (kring checks the result). */
void rp_postcode(const char *in, char *out, size_t cap);
/* A list cell split on , ; / and line breaks; items trimmed, empty ones dropped. */
size_t rp_split(const char *in, char items[][RP_ITEM_MAX], size_t max);
/* One availability item, Dutch or kring's (ma ochtend, di-vr avond, za,
 * weekend, mon-am) as kring codes; 0 if it cannot be read. */
int rp_availability(const char *item, char codes[21][8], size_t *n);
/* mon-am -> "ma ochtend" (for the Dutch export). */
const char *rp_availability_nl(const char *code, char *out, size_t cap);
/* 1 when a cell is only a 9-digit number (or 8, a lost leading zero)
 * that passes the elfproef: what a BSN looks like. */
int rp_bsn_like(const char *in);

#endif
