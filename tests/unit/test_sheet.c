/*
 * test_sheet: the CSV and XLSX readers (cli/csv.c, cli/xlsx.c) on what
 * Excel writes and on hostile files: separators, BOM, Windows-1252,
 * quotes and line breaks in cells, CRLF, the sep= line; a zip bomb, a
 * 100 MB cell, a DOCTYPE, a reference to a shared string that is not there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "check.h"
#include "cli/repair.h"
#include "cli/sheet.h"

struct got {
  char text[4096];
  size_t rows;
};

/* Rows as "row:cell|cell|...\n". */
static int collect(void *ctx, const sheet_row *r)
{
  struct got *g = ctx;
  size_t l = strlen(g->text);
  l += (size_t)snprintf(g->text + l, sizeof g->text - l, "%llu:", (unsigned long long)r->row);
  for (size_t i = 0; i < r->n && l < sizeof g->text; i++)
    l += (size_t)snprintf(g->text + l, sizeof g->text - l, "%s%s", i ? "|" : "", r->cell[i]);
  if (l < sizeof g->text) snprintf(g->text + l, sizeof g->text - l, "\n");
  g->rows++;
  return 0;
}

static int csv(const char *data, size_t len, struct got *g, sheet_info *info)
{
  FILE *f = fmemopen((void *)data, len, "rb");
  int rc;
  memset(g, 0, sizeof *g);
  memset(info, 0, sizeof *info);
  REQUIRE(f);
  rc = sheet_csv_read(f, 0, info, collect, g);
  fclose(f);
  return rc;
}

#define CSV(s, g, i) csv(s, sizeof s - 1, g, i)

/* An in-memory zip with the given (name, data, len) entries. */
static void *mkzip(size_t *len, const char *const *names, const void *const *datas,
                   const size_t *lens, size_t n)
{
  zip_error_t ze;
  zip_source_t *src;
  zip_t *za;
  zip_stat_t st;
  void *out;

  zip_error_init(&ze);
  REQUIRE((src = zip_source_buffer_create(NULL, 0, 0, &ze)));
  zip_source_keep(src);
  REQUIRE((za = zip_open_from_source(src, ZIP_TRUNCATE, &ze)));
  for (size_t i = 0; i < n; i++) {
    zip_source_t *s = zip_source_buffer(za, datas[i], lens[i], 0);
    REQUIRE(s && zip_file_add(za, names[i], s, 0) >= 0);
  }
  REQUIRE(zip_close(za) == 0);
  REQUIRE(zip_source_stat(src, &st) == 0);
  REQUIRE((out = malloc(st.size)));
  REQUIRE(zip_source_open(src) == 0);
  REQUIRE(zip_source_read(src, out, st.size) == (zip_int64_t)st.size);
  zip_source_close(src);
  zip_source_free(src);
  *len = st.size;
  return out;
}

static const char wb[] =
  "<?xml version=\"1.0\"?><workbook xmlns:r=\"x\"><sheets><sheet name=\"Blad1\" sheetId=\"1\" "
  "r:id=\"rId1\"/></sheets></workbook>";
static const char rels[] =
  "<?xml version=\"1.0\"?><Relationships><Relationship Id=\"rId1\" "
  "Target=\"worksheets/sheet1.xml\"/></Relationships>";

static int xlsx(const char *sheet, size_t sheetlen, const char *strings, struct got *g, sheet_info *info)
{
  const char *names[4] = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml",
                          "xl/sharedStrings.xml"};
  const void *datas[4] = {wb, rels, sheet, strings};
  size_t lens[4] = {sizeof wb - 1, sizeof rels - 1, sheetlen, strings ? strlen(strings) : 0};
  size_t len;
  void *z = mkzip(&len, names, datas, lens, strings ? 4 : 3);
  int rc;
  memset(g, 0, sizeof *g);
  memset(info, 0, sizeof *info);
  rc = sheet_xlsx_read_mem(z, len, NULL, info, collect, g);
  free(z);
  return rc;
}

int main(void)
{
  struct got g;
  sheet_info in;

  /* ';' with quotes, separators, quotes and a line break in cells; CRLF */
  CHECK_EQ(CSV("Naam;Notes\r\n\"de Vries; Anna\";\"zegt \"\"ja\"\"\r\nmorgen\"\r\n", &g, &in), 0);
  CHECK(in.sep == ';' && strcmp(in.encoding, "UTF-8") == 0);
  CHECK(strcmp(g.text, "1:Naam|Notes\n2:de Vries; Anna|zegt \"ja\"\r\nmorgen\n") == 0);
  /* ',' and tab found; a BOM; an empty line keeps the numbering */
  CHECK_EQ(CSV("\xef\xbb\xbf" "a,b\n\n1,2\n", &g, &in), 0);
  CHECK(in.sep == ',' && strcmp(in.encoding, "UTF-8 with BOM") == 0);
  CHECK(strcmp(g.text, "1:a|b\n2:\n3:1|2\n") == 0);
  CHECK_EQ(CSV("a\tb\tc;d\n1\t2\t3;4\n", &g, &in), 0);
  CHECK(in.sep == '\t' && strcmp(g.text, "1:a|b|c;d\n2:1|2|3;4\n") == 0);
  /* Windows-1252: é ë ç ö and the euro sign */
  CHECK_EQ(CSV("Naam;Plaats\r\nJos\xe9 M\xfcller;Fran\xe7oise \x80\r\n", &g, &in), 0);
  CHECK(strcmp(in.encoding, "Windows-1252") == 0);
  CHECK(strcmp(g.text, "1:Naam|Plaats\n2:José Müller|Françoise €\n") == 0);
  /* Excel's sep= line; no newline at the end */
  CHECK_EQ(CSV("sep=,\r\nx;y,z\r\n1;2,3", &g, &in), 0);
  CHECK(in.sep == ',' && strcmp(g.text, "1:x;y|z\n2:1;2|3\n") == 0);
  /* UTF-16 is refused with a way out */
  CHECK_EQ(CSV("\xff\xfeN\0a\0", &g, &in), SHEET_EREAD);
  CHECK(strstr(in.err, "CSV UTF-8") != NULL);
  /* a cell past the cap */
  {
    size_t big = SHEET_CELL_MAX * 2;
    char *s = malloc(big + 16);
    REQUIRE(s);
    memcpy(s, "a\n\"", 3);
    memset(s + 3, 'x', big);
    memcpy(s + 3 + big, "\"\n", 2);
    CHECK_EQ(csv(s, big + 5, &g, &in), SHEET_EREAD);
    CHECK(strstr(in.err, "more than 64 KiB") != NULL);
    free(s);
  }

  /* XLSX: shared, inline, number and boolean cells; gaps in columns and rows */
  {
    static const char sh[] =
      "<worksheet><sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"C1\" "
      "t=\"inlineStr\"><is><t>Tel</t></is></c></row><row r=\"3\"><c r=\"A3\" t=\"s\"><v>1</v></c>"
      "<c r=\"B3\" t=\"b\"><v>1</v></c><c r=\"C3\"><v>612345678</v></c></row></sheetData></worksheet>";
    static const char ss[] =
      "<sst><si><t>Naam</t></si><si><r><t>Jos</t></r><r><t>é</t></r><rPh><t>x</t></rPh></si></sst>";
    CHECK_EQ(xlsx(sh, sizeof sh - 1, ss, &g, &in), 0);
    CHECK(strcmp(g.text, "1:Naam||Tel\n3:José|1|612345678\n") == 0);
    CHECK(strcmp(in.sheet, "Blad1") == 0);
  }
  /* a zip bomb: 64 MiB of the same byte is refused before it is unpacked */
  {
    size_t big = 64u << 20;
    char *s = malloc(big);
    REQUIRE(s);
    memset(s, ' ', big);
    memcpy(s, "<worksheet>", 11);
    CHECK_EQ(xlsx(s, big, NULL, &g, &in), SHEET_EREAD);
    CHECK(strstr(in.err, "zip bomb") != NULL);
    CHECK_EQ(g.rows, 0);
    free(s);
  }
  /* a 100 MB cell (an inline string), from a zip whose ratio passes */
  {
    size_t big = 100u << 20;
    char *s = malloc(big + 200);
    size_t l;
    REQUIRE(s);
    l = (size_t)sprintf(s, "<worksheet><sheetData><row r=\"1\"><c t=\"inlineStr\"><is><t>");
    for (size_t i = 0; i < big; i++) s[l + i] = (char)('a' + (i * 7919 % 26));
    l += big;
    l += (size_t)sprintf(s + l, "</t></is></c></row></sheetData></worksheet>");
    CHECK_EQ(xlsx(s, l, NULL, &g, &in), SHEET_EREAD);
    CHECK(strstr(in.err, "more than 64 KiB") != NULL || strstr(in.err, "zip bomb") != NULL);
    free(s);
  }
  /* a DOCTYPE (entities: the billion laughs) is refused */
  {
    static const char sh[] = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]>"
                             "<worksheet><sheetData><row><c t=\"inlineStr\"><is><t>&a;</t></is>"
                             "</c></row></sheetData></worksheet>";
    CHECK_EQ(xlsx(sh, sizeof sh - 1, NULL, &g, &in), SHEET_EREAD);
    CHECK(strstr(in.err, "DOCTYPE") != NULL);
  }
  /* a shared string that is not there; not a zip at all */
  {
    static const char sh[] = "<worksheet><sheetData><row><c t=\"s\"><v>7</v></c></row></sheetData></worksheet>";
    CHECK_EQ(xlsx(sh, sizeof sh - 1, "<sst><si><t>a</t></si></sst>", &g, &in), SHEET_EREAD);
    CHECK(strstr(in.err, "shared string 7") != NULL);
    CHECK_EQ(sheet_xlsx_read_mem("PK nothing", 10, NULL, &in, collect, &g), SHEET_EREAD);
    CHECK(strstr(in.err, "zip") != NULL);
  }

  /* repairs */
  {
    char out[64], note[200];
    const char *why;
    int y, m, d;
    CHECK(rp_phone("612345678", out, sizeof out, note, sizeof note, &why) && strcmp(out, "0612345678") == 0);
    CHECK(rp_phone("31612345678", out, sizeof out, note, sizeof note, &why) && strcmp(out, "0612345678") == 0);
    CHECK(!rp_phone("6,12346E+08", out, sizeof out, note, sizeof note, &why));
    CHECK(rp_date("15-03-1980", 2026, 1, &y, &m, &d, note, sizeof note) && y == 1980 && m == 3 && d == 15);
    CHECK(rp_date("3-4-85", 2026, 1, &y, &m, &d, note, sizeof note) && y == 1985 && d == 3 && m == 4);
    CHECK(rp_date("29295", 2026, 1, &y, &m, &d, note, sizeof note) && y == 1980 && m == 3 && d == 15);
    CHECK(rp_date("1-1-20", 2026, 0, &y, &m, &d, note, sizeof note) && y == 2020);
    CHECK(!rp_date("31-02-1980", 2026, 1, &y, &m, &d, note, sizeof note));
    rp_postcode("1031ab", out, sizeof out);
    CHECK(strcmp(out, "1031 AB") == 0);
  }
  {
    char codes[21][8];
    size_t n;
    CHECK(rp_availability("ma ochtend", codes, &n) && n == 1 && strcmp(codes[0], "mon-am") == 0);
    CHECK(rp_availability("za", codes, &n) && n == 3 && strcmp(codes[2], "sat-ev") == 0);
    CHECK(rp_availability("ma-vr ochtend", codes, &n) && n == 5 && strcmp(codes[4], "fri-am") == 0);
    CHECK(rp_availability("ma t/m wo 's avonds", codes, &n) && n == 3 && strcmp(codes[1], "tue-ev") == 0);
    CHECK(rp_availability("donderdagmiddag", codes, &n) && n == 1 && strcmp(codes[0], "thu-pm") == 0);
    CHECK(rp_availability("weekend", codes, &n) && n == 6);
    CHECK(rp_availability("wed-pm", codes, &n) && n == 1 && strcmp(codes[0], "wed-pm") == 0);
    CHECK(!rp_availability("soms", codes, &n));
    CHECK(!rp_availability("ochtend", codes, &n));
  }
  {
    int f;
    CHECK(rp_header("E-mailadres", &f) == RP_FIELD && f == 2);
    CHECK(rp_header("  Tussenvoegsel(s) ", &f) == RP_INFIX);
    CHECK(rp_header("GEBOORTEDATUM (dd-mm-jjjj)", &f) == RP_BIRTHDATE);
    CHECK(rp_header("Burgerservicenummer", &f) == RP_BSN);
    CHECK(rp_header("Télefoon", &f) == RP_FIELD);
    CHECK(rp_header("Schoenmaat", &f) == RP_UNKNOWN);
    CHECK(rp_bsn_like("111222333") && rp_bsn_like("111 222 333") && !rp_bsn_like("612345678"));
  }
  return check_done("test_sheet");
}
