/*
 * fuzz_xlsx: libFuzzer target for the XLSX reader (cli/xlsx.c): a zip
 * archive of XML parts, read from memory. Every row handed out must hold
 * at most SHEET_COLS_MAX cells of at most SHEET_CELL_MAX bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sheet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int row(void *ctx, const sheet_row *r)
{
  (void)ctx;
  if (r->n > SHEET_COLS_MAX) abort();
  for (size_t i = 0; i < r->n; i++)
    if (!r->cell[i] || strlen(r->cell[i]) > SHEET_CELL_MAX) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  sheet_info info;
  memset(&info, 0, sizeof info);
  sheet_xlsx_read_mem(data, size, NULL, &info, row, NULL);
  return 0;
}
