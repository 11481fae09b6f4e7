#!/usr/bin/env bash
# test_consent_read: consent decides who reads a volunteer (issue 16),
# through the real binary and bundles. Three organisations: a registers
# V1 (no consent) and V2 (consent for matching to b). b reads V2 and not
# V1, c reads neither: the sealed line and exit 3 for every command, and
# no file of c's home holds a name, e-mail address, phone number or note
# of either (b's none of V1's). b edits V2; a sees it, c does not. A grant
# to all lets c read V2, b's edit included, after one bundle; a member
# admitted later reads it too. Then, made on a while b is offline, the
# volunteer withdraws both consents: after b imports a's bundle it shows
# nothing of V2, its files hold none of V2's values (nor a's edit made
# after), and status and log --access say that it stopped reading, by
# short id, never by name. Usage: test_consent_read.sh PATH/TO/kring
set -u
KRING="$1"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0
n=0

A="$T/a" B="$T/b" C="$T/c" D="$T/d"
k() { local h="$1"; shift; "$KRING" --home "$h" "$@"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() {   # check DESC COND...
  local desc="$1"; shift
  n=$((n + 1))
  "$@" || fail "$desc"
}
must() { "$@" >"$T/out" 2>"$T/err" || fail "'$*': $(head -1 "$T/err")"; }
has() { n=$((n + 1)); grep -qE -- "$2" "$T/out" || { fail "$1: no line matches '$2'"; sed 's/^/  | /' "$T/out" | head -20; }; }
hasnt() { n=$((n + 1)); ! grep -qiE -- "$2" "$T/out" || fail "$1: a line matches '$2'"; }
# sealed DESC CMD...: exit 3, one line on stderr (the sealed text and what
# to do next), nothing on stdout
sealed() {
  local desc="$1"; shift
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne 3 ]; then fail "$desc: exit $got, want 3 ($(head -1 "$T/err"))"; return; fi
  grep -q "sealed: this node may not read this volunteer" "$T/err" ||
    fail "$desc: no sealed text: $(head -1 "$T/err")"
  # who registered it is known in clear: the line names whom to ask
  grep -q "ask Voedselbank Noord (the organisation that registered the volunteer) to record the volunteer's consent for" "$T/err" ||
    fail "$desc: does not say whom to ask: $(head -1 "$T/err")"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$desc: $(wc -l <"$T/err") lines on stderr"
  [ ! -s "$T/out" ] || fail "$desc: printed on stdout"
}
# give FROM TO: a bundle of what TO lacks, carried from FROM to TO
give() {
  must k "$1" bundle export --for "$(k "$2" id | cut -c1-16)" --out "$T/bundle"
  must k "$2" bundle import "$T/bundle"
}
# nowhere DESC HOME WORD...: no file of HOME holds any WORD (any case).
# Every kring command has closed the node when it returns: kring.db, and
# a -wal or -shm if one is left, are what is on the disk.
nowhere() {
  local desc="$1" home="$2"; shift 2
  n=$((n + 1))
  for w in "$@"; do
    if grep -r -a -i -l -F -- "$w" "$home" >"$T/where" 2>/dev/null; then
      fail "$desc: '$w' is in $(sed "s|$home/||" "$T/where" | tr '\n' ' ')"
    fi
  done
}
somewhere() {   # the same grep finds what is there (so that nowhere means something)
  local desc="$1" home="$2" w="$3"
  n=$((n + 1))
  grep -r -a -i -q -F -- "$w" "$home" || fail "$desc: '$w' is in no file of $home"
}

# --- a founds the network, b and c join offline ---------------------------
must k "$A" init --org "Voedselbank Noord" --kind foodbank
for h in "$B:Buurtteam Oost:buurtteam" "$C:MZO Samen:mzo"; do
  IFS=: read -r home org kind <<<"$h"
  inv=$(k "$A" invite 2>/dev/null)
  req=$(k "$home" join "$inv" --org "$org" --kind "$kind" --offline 2>/dev/null)
  must k "$A" member accept "$req"
done
give "$A" "$B"
give "$A" "$C"

# --- V1 without consent, V2 with consent for matching to b ------------------
V1_WORDS=(Quakernaat Zwanhilde zwanhilde.quakernaat@voorbeeld.nl 0687654321 Vliegbrevet)
V2_WORDS=(Brummelkamp Ottoline ottoline.brummelkamp@voorbeeld.nl 0619283746 Papiamentsbrummel)
V1=$(k "$A" volunteer add --name "Zwanhilde Quakernaat" --email zwanhilde.quakernaat@voorbeeld.nl \
       --phone 06-87654321 --city Hoorn --note "Heeft een Vliegbrevet")
V2=$(k "$A" volunteer add --name "Ottoline Brummelkamp" --email ottoline.brummelkamp@voorbeeld.nl \
       --phone 06-19283746 --city Hoorn --note "Spreekt Papiamentsbrummel")
check "a registers two volunteers" test ${#V1} -eq 32 -a ${#V2} -eq 32
must k "$A" consent grant "$V2" --purpose matching --to "Buurtteam Oost" --method paper
give "$A" "$B"
give "$A" "$C"

# b reads V2, and who reads it and why
must k "$B" volunteer show "$V2"
has "b reads V2" "^name +Ottoline Brummelkamp$"
has "b reads V2's phone" "^phone +0619283746$"
has "show names the registrar" "^readers +Voedselbank Noord: registered it$"
has "show names b's consent" "^ +Buurtteam Oost: consent for matching \(to this organisation\)$"
hasnt "c reads nothing of V2" "MZO Samen"
must k "$B" --json volunteer show "$V2"
n=$((n + 1))
python3 - "$T/out" <<'PY' || fail "show --json: readers"
import json, sys
r = sorted((x["org"], x["reason"], x.get("purpose", ""), x.get("to", ""))
           for x in json.load(open(sys.argv[1]))["readers"])
sys.exit(r != [("Buurtteam Oost", "consent", "matching", "member"),
               ("Voedselbank Noord", "registered", "", "")])
PY
must k "$B" subject-export "$V2"
has "subject-export on b: readers" '"reason": "consent"'
has "subject-export on b: the values" '"name": "Ottoline Brummelkamp"'
must k "$B" volunteer list
has "b lists V2" "Ottoline Brummelkamp"
hasnt "b lists V2 only" "Quakernaat"

# b does not read V1: by id the sealed line; by name, e-mail or id prefix
# it is not there
sealed "b: volunteer show V1" k "$B" volunteer show "$V1"
for w in Zwanhilde "Zwanhilde Quakernaat" zwanhilde.quakernaat@voorbeeld.nl "${V1:0:8}"; do
  "$KRING" --home "$B" volunteer show "$w" >"$T/out" 2>"$T/err"
  got=$?; n=$((n + 1))
  [ "$got" -eq 1 ] && grep -q "no volunteer" "$T/err" || fail "b: volunteer show '$w': exit $got, $(head -1 "$T/err")"
done
must k "$B" volunteer search Quakernaat
check "b's search finds nothing of V1" test ! -s "$T/out"
must k "$B" status
has "b counts V1 as sealed" "^sealed +1 volunteer this node may not read"

# c reads neither: every command on either id is sealed
for v in "$V1" "$V2"; do
  sealed "c: volunteer show" k "$C" volunteer show "$v"
  sealed "c: volunteer set" k "$C" volunteer set "$v" city=Edam
  sealed "c: consent show" k "$C" consent show "$v"
  sealed "c: consent grant" k "$C" consent grant "$v" --purpose matching --to "MZO Samen" --method paper
  sealed "c: subject-export" k "$C" subject-export "$v"
  sealed "c: erase" k "$C" erase "$v" --reason "verzoek" --yes
done
sealed "c: --json too" k "$C" --json volunteer show "$V2"
must k "$C" volunteer list
check "c lists nobody" test ! -s "$T/out"
must k "$C" status
has "c counts both as sealed" "^sealed +2 volunteers this node may not read"
must k "$C" --json status
has "c: status --json" '"sealed": 2'
has "c: status --json, none readable" '"volunteers": 0'
n=$((n + 1))
KRING_LANG=nl "$KRING" --home "$C" volunteer show "$V2" >/dev/null 2>"$T/err"
[ $? -eq 3 ] && grep -q "^kring: $V2: afgeschermd: deze node mag deze vrijwilliger niet lezen .*vraag Voedselbank Noord (de organisatie die de vrijwilliger heeft ingeschreven)" "$T/err" ||
  fail "the sealed line in Dutch: $(cat "$T/err")"

# what is on the disks
nowhere "c's files hold nothing of V1" "$C" "${V1_WORDS[@]}"
nowhere "c's files hold nothing of V2" "$C" "${V2_WORDS[@]}"
nowhere "b's files hold nothing of V1" "$B" "${V1_WORDS[@]}"
somewhere "b's files hold V2 (the grep works)" "$B" Brummelkamp
somewhere "a's files hold V1 (the grep works)" "$A" Quakernaat

# --- b edits V2: a sees it, c does not --------------------------------------
must k "$B" volunteer set "$V2" city=Knollendam
give "$B" "$A"
give "$B" "$C"
must k "$A" volunteer show "$V2"
has "a sees b's edit" "^city +Knollendam$"
sealed "c still cannot read V2" k "$C" volunteer show "$V2"
nowhere "c's files hold nothing of b's edit" "$C" Knollendam "${V2_WORDS[@]}"
check "a, b, c hold the same changes" test "$(k "$A" digest)" = "$(k "$B" digest)" -a "$(k "$A" digest)" = "$(k "$C" digest)"
check "b and c read different volunteers" test "$(k "$B" digest --readable)" != "$(k "$C" digest --readable)"

# --- consent for all: c reads V2, b's edit included, after one bundle --------
must k "$A" consent grant "$V2" --purpose contact --to all --method paper
give "$A" "$C"
must k "$C" volunteer show "$V2"
has "c reads V2 after the grant to all" "^name +Ottoline Brummelkamp$"
has "c reads b's edit" "^city +Knollendam$"
has "c reads: consent to all" "^ +MZO Samen: consent for contact \(to all members\)$"
sealed "c still does not read V1" k "$C" volunteer show "$V1"
nowhere "c's files still hold nothing of V1" "$C" "${V1_WORDS[@]}"
give "$A" "$B"
give "$C" "$B"
give "$B" "$C"
check "b and c read the same now" test "$(k "$B" digest --readable)" = "$(k "$C" digest --readable)"

# a member admitted after the grant to all reads V2 (not V1)
inv=$(k "$A" invite 2>/dev/null)
req=$(k "$D" join "$inv" --org "Zorg Later" --kind care --offline 2>/dev/null)
must k "$A" member accept "$req"
give "$A" "$D"
must k "$D" volunteer show "$V2"
has "a later member reads V2" "^name +Ottoline Brummelkamp$"
sealed "a later member does not read V1" k "$D" volunteer show "$V1"

# --- b offline: the volunteer withdraws both consents on a -------------------
must k "$A" consent withdraw "$V2" --purpose matching --to "Buurtteam Oost"
must k "$A" consent withdraw "$V2" --purpose contact --to all
must k "$A" volunteer set "$V2" notes="Verhuist naar Zuurmondwoud"
give "$A" "$B"
sealed "b shows nothing of V2 after the withdrawal" k "$B" volunteer show "$V2"
sealed "b: consent show V2" k "$B" consent show "$V2"
must k "$B" volunteer list
check "b lists nobody" test ! -s "$T/out"
must k "$B" volunteer search Ottoline
check "b's search finds nothing of V2" test ! -s "$T/out"
nowhere "b's files hold nothing of V2 after the withdrawal" "$B" Knollendam Zuurmondwoud "${V2_WORDS[@]}"
nowhere "b's files still hold nothing of V1" "$B" "${V1_WORDS[@]}"
must k "$B" status
has "b's status: it stopped reading V2" "^stopped reading"
has "b's status: short id, date, why" "^  ${V2:0:8}  [0-9]{4}-[0-9]{2}-[0-9]{2} .* consent withdrawn$"
hasnt "b's status: no name" "Ottoline|Brummelkamp"
must k "$B" log --access
has "b's log --access" "^  ${V2:0:8}  [0-9]{4}-[0-9]{2}-[0-9]{2} .* consent withdrawn$"
hasnt "b's log --access: no name" "Ottoline|Brummelkamp"
must k "$B" --json log --access
has "b's log --access --json" "\"volunteer\": \"$V2\""
n=$((n + 1))
KRING_LANG=nl "$KRING" --home "$B" log --access >"$T/out" 2>&1
grep -q "^  ${V2:0:8}  .* toestemming ingetrokken$" "$T/out" || fail "log --access in Dutch: $(cat "$T/out")"

# c stopped reading too (consent for all withdrawn), and says so
give "$A" "$C"
sealed "c shows nothing of V2 after the withdrawal" k "$C" volunteer show "$V2"
must k "$C" status
has "c's status: it stopped reading V2" "^  ${V2:0:8}  .* consent withdrawn$"
nowhere "c's files hold nothing of V2 after the withdrawal" "$C" Knollendam Zuurmondwoud "${V2_WORDS[@]}"

# a still reads V2 (it registered it), with its last edit
must k "$A" volunteer show "$V2"
has "a reads its own volunteer" "^notes +Verhuist naar Zuurmondwoud$"
has "a is its only reader" "^readers +Voedselbank Noord: registered it$"
hasnt "no consent reader left" "consent for"
for h in "$B" "$C" "$D"; do give "$A" "$h"; give "$h" "$A"; done
for h in "$B" "$C" "$D"; do give "$A" "$h"; done
check "everyone holds the same changes" test "$(k "$A" digest)" = "$(k "$B" digest)" -a \
  "$(k "$A" digest)" = "$(k "$C" digest)" -a "$(k "$A" digest)" = "$(k "$D" digest)"
check "b, c and d read the same (nothing)" test "$(k "$B" digest --readable)" = "$(k "$C" digest --readable)" -a \
  "$(k "$B" digest --readable)" = "$(k "$D" digest --readable)"

echo "test_consent_read: $n checks, $fails failed"
[ "$fails" -eq 0 ]
