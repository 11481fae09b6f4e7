/*
 * fuzz_csv: libFuzzer target for the CSV reader (cli/csv.c): any bytes,
 * any separator. Every row handed out must hold at most SHEET_COLS_MAX
 * cells of at most SHEET_CELL_MAX bytes (after conversion to UTF-8, at
 * most three times that), numbered upwards.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sheet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int row(void *ctx, const sheet_row *r)
{
  uint64_t *last = ctx;
  if (r->row <= *last || r->n > SHEET_COLS_MAX) abort();
  for (size_t i = 0; i < r->n; i++)
    if (!r->cell[i] || strlen(r->cell[i]) > 3 * (size_t)SHEET_CELL_MAX + 3 * 4096) abort();
  *last = r->row;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char seps[] = {0, ';', ',', '\t'};
  sheet_info info;
  uint64_t last = 0;
  FILE *f;

  if (size == 0) return 0;
  if (!(f = fmemopen((void *)data, size, "rb"))) return 0;
  memset(&info, 0, sizeof info);
  sheet_csv_read(f, seps[data[0] & 3], &info, row, &last);
  fclose(f);
  return 0;
}
