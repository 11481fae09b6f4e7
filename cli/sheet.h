/*
 * sheet: the readers of the files organisations keep their volunteers in,
 * CSV (csv.c, on libcsv and iconv) and XLSX (xlsx.c, on libzip and
 * expat). Both stream: a row at a time reaches a callback as UTF-8 text
 * cells, so a sheet of 100,000 rows needs no more memory than one row
 * (and, for XLSX, its shared strings). Both treat the file as hostile:
 * every cell, row, XML part and string table has a hard cap, and going
 * past one stops the read with a message for a person in info->err.
 */
#ifndef KR_SHEET_H
#define KR_SHEET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SHEET_CELL_MAX    (64u << 10)    /* bytes of text in one cell */
#define SHEET_COLS_MAX    1024u          /* columns in one row */
#define SHEET_XML_MAX     (256u << 20)   /* bytes of one XML part, unpacked */
#define SHEET_STRINGS_MAX (64u << 20)    /* bytes of all shared strings, as text */
#define SHEET_NSTRINGS_MAX (4u << 20)    /* number of shared strings */
#define SHEET_RATIO_MAX   200u           /* unpacked : packed, for parts over 1 MiB */

/* One row as a spreadsheet shows it. */
typedef struct {
  uint64_t row;                /* row number (1: the first line or row) */
  size_t n;                    /* cells; empty ones at the end may be missing */
  const char *const *cell;     /* UTF-8, NUL-terminated; "" when empty */
} sheet_row;

/* Called per row, in order; a non-zero return stops the read and is
 * returned by the reader. */
typedef int (*sheet_cb)(void *ctx, const sheet_row *r);

typedef struct {
  char sep;                    /* OUT (CSV): the separator found or given */
  const char *encoding;        /* OUT (CSV): "UTF-8", "UTF-8 with BOM", "Windows-1252" */
  char sheet[128];             /* OUT (XLSX): the name of the sheet read */
  char err[512];               /* OUT: why the file cannot be read */
} sheet_info;

#define SHEET_EREAD (-1)       /* the file cannot be read: info->err says why */

/*
 * CSV as Excel writes it: the separator (';', ',' or tab) found on the
 * first line unless sep is given (non-zero), or named by an Excel "sep=;"
 * first line; an optional UTF-8 byte-order mark; UTF-8, or else
 * Windows-1252 (decided over the whole file, which must be seekable);
 * quoted fields with separators, quotes and line breaks; CRLF, LF or CR.
 * Returns 0, SHEET_EREAD, or what cb returned.
 */
int sheet_csv_read(FILE *f, char sep, sheet_info *info, sheet_cb cb, void *ctx);

/*
 * The first sheet of an XLSX workbook (or the one named sheet_name):
 * shared and inline strings, numbers as written in the file (dates are
 * serial numbers there), booleans as 1 or 0. Returns as sheet_csv_read.
 */
int sheet_xlsx_read_file(const char *path, const char *sheet_name, sheet_info *info,
                         sheet_cb cb, void *ctx);
int sheet_xlsx_read_mem(const void *buf, size_t len, const char *sheet_name, sheet_info *info,
                        sheet_cb cb, void *ctx);

#endif
