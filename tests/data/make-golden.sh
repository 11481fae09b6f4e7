#!/usr/bin/env bash
# Makes the golden sheets in this folder with LibreOffice Calc (headless),
# the way a Dutch office's spreadsheet program writes them. Run by hand
# when the sheet changes (needs libreoffice-calc-nogui); the results are
# committed, so the tests need no LibreOffice to read them.
#
#   vrijwilligers.xlsx        the sheet: LibreOffice read source.csv with Dutch
#                             settings (dates as dates, phone numbers as numbers,
#                             so their leading zeros are lost, as in Excel)
#   vrijwilligers-1252.csv    saved from it as CSV: ';', Windows-1252 (CRLF added)
#   vrijwilligers-utf8.csv    saved as CSV UTF-8, with the byte-order mark Excel puts
#                             in front (LibreOffice 7.4 cannot: it is added here)
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work"    # a fresh LibreOffice profile
soffice() { LC_ALL=nl_NL.UTF-8 LANG=nl_NL.UTF-8 command soffice "$@" 2>/dev/null; }   # Dutch dates
cp source.csv "$work/vrijwilligers.csv"
# source.csv: ';', UTF-8 (76), from line 1; column 9 (Geboortedatum) and
# 13 (VOG datum) as D-M-Y dates (4), Dutch (1043).
soffice --headless --infilter="Text - txt - csv (StarCalc):59,34,76,1,9/4/13/4,1043" \
  --convert-to xlsx:"Calc MS Excel 2007 XML" --outdir "$work" "$work/vrijwilligers.csv" >/dev/null 2>&1
cp "$work/vrijwilligers.xlsx" vrijwilligers.xlsx
mkdir "$work/a" "$work/b"
soffice --headless --convert-to 'csv:Text - txt - csv (StarCalc):59,34,1,1' \
  --outdir "$work/a" vrijwilligers.xlsx >/dev/null 2>&1
# with the CRLF line ends of Excel on Windows (LibreOffice on Linux writes LF)
sed 's/$/\r/' "$work/a/vrijwilligers.csv" > vrijwilligers-1252.csv
soffice --headless --convert-to 'csv:Text - txt - csv (StarCalc):59,34,76,1' \
  --outdir "$work/b" vrijwilligers.xlsx >/dev/null 2>&1
{ printf '\xef\xbb\xbf'; cat "$work/b/vrijwilligers.csv"; } > vrijwilligers-utf8.csv
echo "made vrijwilligers.xlsx, vrijwilligers-1252.csv, vrijwilligers-utf8.csv"
