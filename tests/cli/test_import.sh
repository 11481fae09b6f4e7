#!/usr/bin/env bash
# test_import: kring import and kring export with the golden sheets of
# tests/data (made by LibreOffice: tests/data/make-golden.sh), re-imports
# of an edited sheet (checked against the naive model), the BSN guard,
# consent from a column, formula injection, the record of exports, and,
# when LibreOffice is installed, round trips through it.
# Usage: test_import.sh PATH/TO/kring PATH/TO/modelcheck
set -u
KRING="$1"
MODELCHECK="$2"
DATA="$(cd "$(dirname "$0")/../data" && pwd)"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0
n=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# ok DESC CMD...: must exit 0 (output in $T/out, $T/err)
ok() {
  local desc="$1"; shift
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err" || fail "$desc: exit $? ($(head -1 "$T/err"))"
}
# err DESC PATTERN CMD...: must exit 1 with a line on stderr matching PATTERN
err() {
  local desc="$1" pat="$2"; shift 2
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  [ "$got" -eq 1 ] || { fail "$desc: exit $got, want 1 ($(head -1 "$T/err"))"; return; }
  grep -qE -- "$pat" "$T/err" || fail "$desc: stderr '$(tail -1 "$T/err")' does not match '$pat'"
}
# has DESC PATTERN FILE: FILE holds a line matching PATTERN
has() {
  n=$((n + 1))
  grep -qE -- "$2" "$3" || fail "$1: no line matching '$2' in $(basename "$3")"
}
hasnt() {
  n=$((n + 1))
  ! grep -qE -- "$2" "$3" || fail "$1: a line matches '$2' in $(basename "$3")"
}
changes() { "$KRING" --json log | grep -c '"seq"'; }
# The volunteers without their ids (random per node), for comparing nodes.
vols() { "$KRING" --json volunteer list | grep -v '"id"'; }

k() { "$KRING" "$@"; }
mk() { export KRING_HOME="$T/$1"; k init --org "Voedselbank Noord" --kind foodbank >/dev/null; }

# ---- the golden sheet, as CSV in Windows-1252 --------------------------------------
mk a
ok "dry run" k import "$DATA/vrijwilligers-1252.csv" --dry-run
has "dry run counts" "^dry run: 4 new, 0 updated, 0 unchanged, 1 refused, 1 empty row; nothing was written" "$T/out"
has "encoding found" "CSV, Windows-1252, separator ';'" "$T/out"
has "invalid e-mail refused with row and column" "row 6, column 'E-mailadres': 'zoe@@example.nl': not an e-mail address" "$T/out"
has "leading zero repaired" "row 2, column 'Mobiel': 612345678: the leading zero was lost" "$T/out"
has "postcode repaired" "row 2, column 'Postcode': 1031ab written as 1031 AB" "$T/out"
has "two-digit year" "row 2, column 'Geboortedatum': year '80' read as 1980" "$T/out"
has "availability" "'ma-vr avond' read as mon-ev tue-ev wed-ev thu-ev fri-ev" "$T/out"
has "unknown column reported" "Nr .*left out: not a column kring knows" "$T/out"
[ "$(changes)" -eq 1 ] || fail "dry run wrote something"
err "a refused row stops the import" "1 row refused \(listed above\); nothing was imported" \
  k import "$DATA/vrijwilligers-1252.csv"
[ "$(changes)" -eq 1 ] || fail "a refused import wrote something"
ok "--skip-bad" k import "$DATA/vrijwilligers-1252.csv" --skip-bad
has "imported" "^imported: 4 new, 0 updated, 0 unchanged, 1 refused, 1 empty row; 1 change written" "$T/out"
vols > "$T/a.json"
has "accents and tussenvoegsel" '"name": "Françoise van der Berg"' "$T/a.json"
has "accents" '"name": "José Müller"' "$T/a.json"
has "ë" '"name": "Noël ten Brink"' "$T/a.json"
has "phone without zero" '"phone": "0201234567"' "$T/a.json"
has "+31 phone" '"phone": "0611112222"' "$T/a.json"
has "postcode" '"postcode": "1031 AB"' "$T/a.json"
has "birth year from d-m-jj" '"birth_year": "1990"' "$T/a.json"
has "VOG date" '"vog_checked_on": "2024-02-01"' "$T/a.json"
has "notes with quotes and ;" '"notes": "Spreekt ook \\"Duits\\"; belt liever"' "$T/a.json"
has "languages split on ;" '"spaans"' "$T/a.json"
has "skills split on /" '"taalles"' "$T/a.json"
hasnt "the invalid row is not there" 'Öztürk' "$T/a.json"
k --json digest > "$T/digest.a"

# ---- the same sheet as CSV UTF-8 with BOM, and as XLSX: the same register ----------
mk b
ok "UTF-8 with BOM" k import "$DATA/vrijwilligers-utf8.csv" --skip-bad
has "UTF-8 BOM found" "CSV, UTF-8 with BOM, separator ';'" "$T/out"
vols > "$T/b.json"
cmp -s "$T/a.json" "$T/b.json" || fail "UTF-8 CSV and Windows-1252 CSV give different volunteers"
mk c
ok "XLSX" k import "$DATA/vrijwilligers.xlsx" --skip-bad
has "XLSX sheet" "Excel workbook, sheet 'vrijwilligers'" "$T/out"
has "XLSX: serial date" "Excel date number 29295 read as 15-03-1980" "$T/out"
has "XLSX counts" "^imported: 4 new, 0 updated, 0 unchanged, 1 refused, 0 empty rows" "$T/out"
vols > "$T/c.json"
cmp -s "$T/a.json" "$T/c.json" || fail "XLSX and CSV give different volunteers: $(diff "$T/a.json" "$T/c.json" | head -5)"
err "no such sheet" "has no sheet named 'Blad9' \(its sheets: vrijwilligers\)" \
  k import "$DATA/vrijwilligers.xlsx" --sheet Blad9

# ---- re-import: the same sheet changes nothing; an edited one exactly what changed ---
export KRING_HOME="$T/a"
ok "re-import" k import "$DATA/vrijwilligers-1252.csv" --skip-bad
has "re-import counts" "^nothing to write: 0 new, 0 updated, 4 unchanged, 1 refused, 1 empty row" "$T/out"
k --json digest | cmp -s - "$T/digest.a" || fail "re-importing the same sheet changed the digest"
# Edit: Anna moves to Zaandam and learns first aid; Françoise unchanged; José
# left out (stays in kring); Noël gets a new phone number; Zoë's e-mail is
# put right (new); a new row for Kees.
iconv -f cp1252 -t utf-8 "$DATA/vrijwilligers-1252.csv" | sed \
  -e 's/"Amsterdam";15-03-80;"koken, rijden"/"Zaandam";15-03-80;"koken, rijden, ehbo"/' \
  -e '/"José"/d' -e 's/"+31 6 11112222"/"06-99998888"/' -e 's/zoe@@example.nl/zoe@example.nl/' \
  > "$T/edited.csv"
printf '7;"Kees";;"Bakker";"kees@example.nl";"0622223333";"1234AB";"Zaandam";01-01-70;"rijden";;"za ochtend";;;"ja"\r\n' >> "$T/edited.csv"
ok "edited dry run" k import "$T/edited.csv" --dry-run
has "edited counts" "^dry run: 2 new, 2 updated, 1 unchanged, 0 refused, 1 empty row" "$T/out"
has "updated fields named" "row 2 \(Anna de Vries\): city, skills" "$T/out"
has "updated phone named" "\(Noël ten Brink\): phone" "$T/out"
ok "edited import" k import "$T/edited.csv"
has "edited written" "^imported: 2 new, 2 updated, 1 unchanged" "$T/out"
[ "$(k volunteer list 2>/dev/null | wc -l)" -eq 6 ] || fail "the edited import should leave 6 volunteers"
k volunteer list --skill ehbo 2>/dev/null | grep -q "Anna de Vries" || fail "Anna's new skill is missing"
k volunteer list --skill rijden 2>/dev/null | grep -q "Anna de Vries" || fail "Anna lost a skill without --sync-sets"
sed -i 's/"koken, rijden, ehbo"/"koken, ehbo"/' "$T/edited.csv"
ok "sync-sets" k import "$T/edited.csv" --sync-sets
has "sync-sets counts" "^imported: 0 new, 1 updated, 4 unchanged" "$T/out"
k volunteer list --skill rijden 2>/dev/null | grep -q "Anna de Vries" && fail "--sync-sets did not remove the skill"
ok "the naive model agrees after the re-imports" "$MODELCHECK" "$T/a"

# ---- consent from a column ---------------------------------------------------------------
mk d
ok "consent column" k import "$DATA/vrijwilligers.xlsx" --skip-bad --consent contact --to all \
  --consent-column Toestemming --method paper --text-version 2024-1
k --json volunteer list > "$T/d.json"
for who in Anna Françoise Noël; do
  id=$(grep -B1 "\"name\": \"$who" "$T/d.json" | sed -n 's/.*"id": "\(.*\)".*/\1/p')
  k consent show "$id" > "$T/c.$who" 2>&1
done
has "ja grants consent" "contact .*all.*granted" "$T/c.Anna"
hasnt "nee grants nothing" "granted" "$T/c.Françoise"
hasnt "empty grants nothing" "granted" "$T/c.Noël"
ok "consent re-import" k import "$DATA/vrijwilligers.xlsx" --skip-bad --consent contact --to all \
  --consent-column Toestemming
has "consent already given: unchanged" "0 new, 0 updated, 4 unchanged" "$T/out"
err "consent column missing" "no such column" \
  k import "$DATA/vrijwilligers.xlsx" --consent contact --to all --consent-column Handtekening

# ---- the BSN guard, merged name column, and refusals -------------------------------------
mk e
err "BSN header" "column 'BSN' holds BSNs .*nothing was imported" k import "$DATA/vrijwilligers-bsn.csv"
err "BSN values" "column 'Nummer' holds BSNs .*2 of its 2 values .*nothing was imported" \
  k import "$DATA/vrijwilligers-nummer.csv" --dry-run
[ "$(changes)" -eq 1 ] || fail "a BSN sheet wrote something"
ok "merged name column, ',' separator" k import "$DATA/vrijwilligers-naam.csv"
has "merged name" "Voornaam/achternaam +-> name" "$T/out"
has "merged name counts" "2 new, 0 updated" "$T/out"
k volunteer list 2>/dev/null | grep -q "Bakker, Piet" || fail "a quoted name with the separator"
err "no file" "cannot read .*nope.csv" k import "$T/nope.csv"
printf 'x' > "$T/old.xls"
err "old .xls" "old Excel file \(.xls\) cannot be read" k import "$T/old.xls"
printf '\xff\xfeN\x00a\x00' > "$T/u16.csv"
err "UTF-16" "UTF-16" k import "$T/u16.csv"
printf 'Naam;E-mail\r\nAnna;anna@example.nl\r\nPiet;6,12E+08\r\n' > "$T/sci.csv"
printf 'Naam;Telefoon\r\nAnna;6,12346E+08\r\n' > "$T/sci.csv"
ok "scientific notation refused" k import "$T/sci.csv" --dry-run
has "scientific notation" "scientific notation .* digits are lost" "$T/out"
printf 'Naam;Lidnummer\r\nAnna;12\r\n' > "$T/map.csv"
ok "--map" k import "$T/map.csv" --dry-run --map "Lidnummer=skip"
hasnt "--map skip: not reported" "left out" "$T/out"
n=$((n + 1)); "$KRING" import "$T/map.csv" --map "Lidnummer=shoe_size" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--map unknown field is a usage error"
{ printf 'Naam;Opmerkingen\r\nAnna;"'; head -c 100000000 /dev/zero | tr '\0' a; printf '"\r\n'; } > "$T/big.csv"
err "100 MB cell" "a cell in row 2 holds more than 64 KiB of text" k import "$T/big.csv"
rm -f "$T/big.csv"

# ---- long values: a change stays under its size limit; nothing left behind -------------
mk f
note=$(head -c 3900 /dev/zero | tr '\0' x)
{ printf 'Naam;E-mail;Opmerkingen\r\n'
  for i in $(seq 1 300); do printf 'Anna %d;anna%d@example.nl;%s %d\r\n' "$i" "$i" "$note" "$i"; done
} > "$T/long.csv"
ok "rows with long notes" k import "$T/long.csv"
has "long notes imported" "^imported: 300 new, 0 updated, 0 unchanged, 0 refused, 0 empty rows; [3-9] changes written" "$T/out"
n=$((n + 1)); [ "$(ls -A "$KRING_HOME" | grep -cv '^kring\.db\|^node\.key$')" -eq 0 ] ||
  fail "the import left files in the home: $(ls -A "$KRING_HOME" | tr '\n' ' ')"

# ---- export: CSV for Dutch Excel, XLSX, injection, the record --------------------------
export KRING_HOME="$T/a"
k volunteer add --name "=HYPERLINK(\"http://x\")" --email evil@example.nl --city "@SUM(A1)" >/dev/null
ok "export csv" k export --format csv --out "$T/out.csv"
has "export says" "wrote 7 volunteers" "$T/out"
n=$((n + 1)); head -c 3 "$T/out.csv" | od -An -tx1 | grep -q "ef bb bf" || fail "CSV without BOM"
has "Dutch header, ';'" "^.?.?.?Naam;E-mail;Telefoon;Postcode;Woonplaats;Geboortejaar;Vaardigheden;Talen;Beschikbaarheid.$" "$T/out.csv"
n=$((n + 1)); [ "$(grep -c $'\r$' "$T/out.csv")" -eq 8 ] || fail "CSV lines do not end in CRLF"
has "formula neutralised" "^\"'=HYPERLINK\(\"\"http://x\"\"\)\";evil@example.nl" "$T/out.csv"
has "@ neutralised" "'@SUM\(A1\)" "$T/out.csv"
has "phone as text" "Anna de Vries;anna@example.nl;06-12345678;1031 AB;Zaandam;1980" "$T/out.csv"
has "Dutch availability" "ma ochtend, di middag" "$T/out.csv"
ok "export csv ," k export --format csv --separator , --lang en --out "$T/out-en.csv" --skill koken
has "English header, ','" "^.?.?.?Name,E-mail,Phone" "$T/out-en.csv"
ok "export xlsx" k export --format xlsx --out "$T/out.xlsx"
ok "export consent" k export --format csv --out "$T/consent.csv" --consent contact
has "no consent, no volunteers" "wrote 0 volunteers" "$T/out"
# The exported sheet, imported back: every volunteer unchanged.
ok "xlsx back in" k import "$T/out.xlsx" --dry-run
has "xlsx round trip" "^dry run: 0 new, 0 updated, 7 unchanged, 0 refused" "$T/out"
ok "csv back in" k import "$T/out.csv" --dry-run
has "csv round trip" "^dry run: 0 new, 0 updated, 7 unchanged, 0 refused" "$T/out"
ok "log --exports" k log --exports
has "export recorded" "root|$(id -un) +csv +7 volunteers +name,email,phone.* $T/out.csv" "$T/out"
has "filtered export recorded" "csv +[0-9]+ volunteers? .*where skill=koken" "$T/out"
has "xlsx export recorded" "xlsx +7 volunteers" "$T/out"
n=$((n + 1)); [ "$(k log --exports | wc -l)" -eq 4 ] || fail "4 exports should be recorded"
ls "$T"/out.csv.tmp-* >/dev/null 2>&1 && fail "a temporary file was left behind"

# ---- round trips through LibreOffice (when it is installed) -------------------------------
if command -v soffice >/dev/null 2>&1; then
  export HOME="$T/lo"   # a fresh LibreOffice profile
  mkdir -p "$T/lo" "$T/lo1" "$T/lo2"
  before=$(k digest)
  # import -> export xlsx -> LibreOffice to CSV -> import again: no change
  soffice --headless --convert-to 'csv:Text - txt - csv (StarCalc):59,34,76,1' --outdir "$T/lo1" \
    "$T/out.xlsx" >/dev/null 2>&1
  [ -s "$T/lo1/out.csv" ] || fail "LibreOffice made no CSV of our XLSX"
  ok "LibreOffice CSV of our XLSX" k import "$T/lo1/out.csv"
  has "LibreOffice CSV: no change" "0 new, 0 updated, 7 unchanged, 0 refused" "$T/out"
  [ "$(k digest)" = "$before" ] || fail "the round trip through LibreOffice changed the digest"
  # export csv -> LibreOffice opens it (to xlsx) -> the right columns
  soffice --headless --infilter="Text - txt - csv (StarCalc):59,34,76,1" \
    --convert-to xlsx --outdir "$T/lo2" "$T/out.csv" >/dev/null 2>&1
  ok "LibreOffice XLSX of our CSV" k import "$T/lo2/out.xlsx" --dry-run
  has "LibreOffice XLSX: the right columns" "0 new, 0 updated, 7 unchanged, 0 refused" "$T/out"
  hasnt "LibreOffice XLSX: no column left out" "left out" "$T/out"
else
  echo "test_import: SKIP the LibreOffice round trips: soffice is not installed (apt-get install libreoffice-calc-nogui)"
fi

echo "test_import: $n checks, $fails failed"
[ "$fails" -eq 0 ]
