#!/usr/bin/env bash
# test_purpose: the network's list of consent purposes (issue 20, 5),
# through the real binary. A new network lists the starting purposes; a
# grant for a purpose not on the list (a typo) is refused with the nearest
# ones and how to add one, and records nothing; kring purpose add makes a
# purpose, after which the grant goes through; a change of its text
# version shows; a withdrawal may name any purpose. The list reaches a
# second organisation by bundle, and a purpose that organisation adds or
# changes comes back the same way; both print the same list and digests.
# Usage: test_purpose.sh PATH/TO/kring
set -u
KRING="$1"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0
n=0

A="$T/a" B="$T/b"
k() { local h="$1"; shift; "$KRING" --home "$h" "$@"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
must() { n=$((n + 1)); "$@" >"$T/out" 2>"$T/err" || fail "'$*': exit $? ($(head -1 "$T/err"))"; }
has() { n=$((n + 1)); grep -qE -- "$2" "$T/out" || { fail "$1: no line matches '$2'"; sed 's/^/  | /' "$T/out" | head -20; }; }
hasnt() { n=$((n + 1)); ! grep -qE -- "$2" "$T/out" || fail "$1: a line matches '$2'"; }
# refused DESC STATUS PATTERN CMD...: exit STATUS, one line on stderr
# matching PATTERN (a usage error adds the usage line), nothing on stdout
refused() {
  local desc="$1" want="$2" pat="$3"; shift 3
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then fail "$desc: exit $got, want $want ($(head -1 "$T/err"))"; return; fi
  head -1 "$T/err" | grep -qE -- "$pat" || fail "$desc: stderr '$(head -1 "$T/err")' does not match '$pat'"
  [ "$(wc -l <"$T/err")" -le $((want == 2 ? 2 : 1)) ] || fail "$desc: $(wc -l <"$T/err") lines on stderr"
  [ ! -s "$T/out" ] || fail "$desc: printed on stdout"
}
give() {   # give FROM TO: a bundle of what TO lacks, carried from FROM to TO
  must k "$1" bundle export --for "$(k "$2" id | cut -c1-16)" --out "$T/bundle"
  must k "$2" bundle import "$T/bundle"
}

# --- a new network starts with a list ----------------------------------------
must k "$A" init --org "Voedselbank Noord" --kind foodbank
must k "$A" purpose list
for p in contact matching placement newsletter photos; do has "starting purpose $p" "^  $p +om "; done
has "descriptions in Dutch" "^  contact +om contact op te nemen over vrijwilligerswerk$"
must k "$A" --json purpose list
has "json: name" '"name": "photos"'
has "json: text version" '"text_version": ""'

must k "$A" volunteer add --name "Anna de Vries" --city Utrecht
must k "$A" digest
d0=$(cat "$T/out")

# --- a typo is refused, with the nearest purposes ---------------------------
refused "typo fotos" 1 "'fotos' is not a purpose of this network: did you mean photos\? .*kring purpose add fotos --description" \
  k "$A" consent grant "Anna de Vries" --purpose fotos --to all --method papier
refused "typo contcat" 1 "did you mean contact\?" \
  k "$A" consent grant "Anna de Vries" --purpose contcat --to all --method papier
refused "nothing near" 1 "'vog' is not a purpose of this network \(its purposes: contact, matching, newsletter, photos, placement\)" \
  k "$A" consent grant "Anna de Vries" --purpose vog --to all --method papier
refused "not a purpose name" 1 "'Foto's' cannot be a purpose .*did you mean photos\?" \
  k "$A" consent grant "Anna de Vries" --purpose "Foto's" --to all --method papier
refused "import --consent too" 1 "'fotos' is not a purpose of this network" \
  k "$A" import /dev/null --consent fotos --to all --consent-column Foto
KRING_LANG=nl k "$A" consent grant "Anna de Vries" --purpose fotos --to all --method papier \
  >"$T/out" 2>"$T/err"
n=$((n + 1))
grep -q "'fotos' is geen doel van dit netwerk: bedoel je photos?" "$T/err" || fail "in Dutch: $(cat "$T/err")"
must k "$A" digest
[ "$(cat "$T/out")" = "$d0" ] || fail "a refused grant changed something"
must k "$A" consent show "Anna de Vries"
has "no consent recorded" "no consent recorded"

# --- a new purpose, then the grant goes through -----------------------------
refused "add without a description" 2 "--description is required" k "$A" purpose add first-aid
refused "add a bad name" 1 "'EHBO!' cannot be a purpose" k "$A" purpose add 'EHBO!' --description x
refused "a BSN in a description" 1 "BSN" k "$A" purpose add first-aid --description "bsn 111222333"
must k "$A" purpose add first-aid --description "om te weten wie EHBO kan verlenen" --text-version 2025-1
has "added" "^added purpose first-aid: om te weten wie EHBO kan verlenen \(consent text 2025-1\)$"
must k "$A" purpose add first-aid --description "om te weten wie EHBO kan verlenen" --text-version 2025-1
has "the same again changes nothing" "already reads so; nothing changed"
must k "$A" consent grant "Anna de Vries" --purpose first-aid --to all --method papier --text-version 2025-1
must k "$A" consent grant "Anna de Vries" --purpose photos --to all --method digitaal
must k "$A" consent show "Anna de Vries"
has "granted first-aid" "^  first-aid +to all +granted"
has "granted photos" "^  photos +to all +granted"
must k "$A" consent withdraw "Anna de Vries" --purpose oude-fotos --to all --method papier
has "a withdrawal may name any purpose" "withdrew oude-fotos"
must k "$A" purpose add photos --text-version 2025-2
has "changed, description kept" "^changed purpose photos: om foto's van de vrijwilliger te gebruiken in publicaties \(consent text 2025-2\)$"

# --- the list travels by bundle, both ways ----------------------------------
must k "$B" join "$(k "$A" invite 2>/dev/null)" --org "Buurtteam Oost" --kind buurtteam --offline
req=$(cat "$T/out")
must k "$A" member accept "$req"
give "$A" "$B"
must k "$B" purpose list
has "b has first-aid" "^  first-aid +om te weten wie EHBO kan verlenen \(consent text 2025-1\)$"
has "b has photos at 2025-2" "^  photos +.* \(consent text 2025-2\)$"
must k "$B" purpose add nieuwsbrief-papier --description "de nieuwsbrief op papier thuis"
must k "$B" purpose add first-aid --description "om te weten wie EHBO of reanimatie kan verlenen"
must k "$B" consent grant "Anna de Vries" --purpose nieuwsbrief-papier --to all --method papier
give "$B" "$A"
must k "$A" purpose list
has "a has b's purpose" "^  nieuwsbrief-papier +de nieuwsbrief op papier thuis$"
has "a has b's change, text version kept" "^  first-aid +om te weten wie EHBO of reanimatie kan verlenen \(consent text 2025-1\)$"
k "$A" purpose list >"$T/la" 2>&1
k "$B" purpose list >"$T/lb" 2>&1
n=$((n + 1))
cmp -s "$T/la" "$T/lb" || fail "a and b list different purposes: $(diff "$T/la" "$T/lb" | head -5)"
k "$A" digest >"$T/da"; k "$B" digest >"$T/db"
n=$((n + 1))
cmp -s "$T/da" "$T/db" || fail "a and b hold different changes"

echo "test_purpose: $n checks, $fails failed"
[ "$fails" -eq 0 ]
