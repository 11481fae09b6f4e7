#!/usr/bin/env bash
# test_names: a coordinator who knows names, not hex (issue 20). Volunteers
# and members by name, candidates when a name is not unique, a question
# before anything that cannot be undone (through a pseudo-terminal made by
# script(1)), invites that went through e-mail, Dutch answers, messages
# that say what to do next. Usage: test_names.sh PATH/TO/kring
set -u
KRING="$(readlink -f "$1")"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
export KRING_HOME="$T/a"
fails=0
n=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# ok DESC CMD...: must exit 0.
ok() {
  local desc="$1"; shift
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err" || fail "$desc: exit $? ($(head -1 "$T/err"))"
}
# err DESC STATUS PATTERN CMD...: exit STATUS, first stderr line matches.
err() {
  local desc="$1" want="$2" pat="$3"; shift 3
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err" </dev/null
  local got=$?
  [ "$got" -eq "$want" ] || { fail "$desc: exit $got, want $want ($(head -1 "$T/err"))"; return; }
  head -1 "$T/err" | grep -qE -- "$pat" || fail "$desc: stderr '$(head -1 "$T/err")' does not match '$pat'"
  [ -s "$T/out" ] && fail "$desc: printed on stdout on error"
  return 0
}
has() { n=$((n + 1)); grep -qE -- "$2" "$3" || { fail "$1: lacks '$2'"; sed 's/^/  | /' "$3" | head -20; }; }
hasnt() { n=$((n + 1)); ! grep -qE -- "$2" "$3" || fail "$1: has '$2'"; }
# tty INPUT CMD...: run CMD on a pseudo-terminal, INPUT typed; output in $T/tty
tty() {
  local input="$1"; shift
  local cmd; cmd=$(printf '%q ' "$@")
  printf '%s\n' "$input" | script -qec "$cmd" /dev/null >"$T/tty" 2>&1
}
dig() { "$KRING" digest; }

ok "init" "$KRING" init --org "Voedselbank Noord" --kind foodbank
ANNA=$("$KRING" volunteer add --name "Anna de Vries" --email anna@example.nl --city Amsterdam)
ANNA2=$("$KRING" volunteer add --name "Anna Jansen" --city Zaandam)
PIET=$("$KRING" volunteer add --name "Piet Bakker" --email piet@example.nl --city Delft)

# --- a volunteer by name or e-mail ---------------------------------------------
ok "show by full name" "$KRING" volunteer show "Anna de Vries"
has "show by name finds Anna" "^id +$ANNA" "$T/out"
ok "show by name, any case" "$KRING" volunteer show "anna de vries"
has "any case finds Anna" "^id +$ANNA" "$T/out"
ok "show by e-mail" "$KRING" volunteer show PIET@example.nl
has "e-mail finds Piet" "^id +$PIET" "$T/out"
ok "show by part of a unique name" "$KRING" volunteer show bakker
has "part finds Piet" "^id +$PIET" "$T/out"
err "ambiguous name" 1 "'Anna' matches 2 volunteers; give the id" "$KRING" volunteer show Anna
has "candidates: short id, name, city" "^  ${ANNA:0:8}  Anna de Vries +Amsterdam" "$T/err"
has "candidates: the other Anna" "^  ${ANNA2:0:8}  Anna Jansen +Zaandam" "$T/err"
err "unknown name" 1 "no volunteer named 'Henk' .*kring volunteer search" "$KRING" volunteer show Henk
ok "set by name" "$KRING" volunteer set "Anna de Vries" city=Haarlem
ok "grant by name" "$KRING" consent grant "Anna de Vries" --purpose contact --to all --method paper
ok "consent show by e-mail" "$KRING" consent show anna@example.nl
has "consent shows the grant" "contact" "$T/out"
ok "subject-export by name" "$KRING" subject-export "Piet Bakker"
has "export is Piet's" "piet@example.nl" "$T/out"

# --- erase: a question first -----------------------------------------------------
D0=$(dig)
err "erase without terminal or --yes" 1 "cannot be undone, and there is no terminal.*--yes" \
  "$KRING" erase "Piet Bakker" --reason "verzoek"
err "erase by 4 hex digits" 1 "too short an id .* at least 8" "$KRING" erase "${PIET:0:4}" --reason x --yes
err "erase by part of a name" 1 "no volunteer is named exactly 'bakker'" "$KRING" erase bakker --reason x --yes
[ "$(dig)" = "$D0" ] || fail "a refused erase changed the store"
tty "Piet" "$KRING" erase "Piet Bakker" --reason "verzoek"
n=$((n + 1)); [ "$(dig)" = "$D0" ] || fail "erase went on after a wrong answer"
has "erase says what happens" "Erasing Piet Bakker \(id ${PIET:0:8}\) deletes every value" "$T/tty"
has "erase asks for the name" "type Piet Bakker" "$T/tty"
has "wrong answer stops" "stopped: .*nothing was changed" "$T/tty"
tty "Piet Bakker" "$KRING" erase "Piet Bakker" --reason "verzoek"
has "erased after the name was typed" "erased Piet Bakker" "$T/tty"
n=$((n + 1)); [ "$(dig)" != "$D0" ] || fail "erase on a terminal did not erase"
ok "erase by 8 hex digits with --yes" "$KRING" erase "${ANNA2:0:8}" --reason "verzoek" --yes
err "erase twice" 1 "already been erased" "$KRING" erase "$PIET" --reason x --yes

# --- Dutch answers, one stored form ----------------------------------------------
JAN=$("$KRING" volunteer add --name "Jan Visser" --availability ma-ochtend --availability "Dinsdag avond" --availability sun-ev)
ok "vog ja and a Dutch date" "$KRING" volunteer set "Jan Visser" vog_meets_requirements=ja vog_checked_on=14-03-2025
ok "show Jan" "$KRING" --json volunteer show "$JAN"
has "ja is stored as yes" '"vog_meets_requirements": "yes"' "$T/out"
has "14-03-2025 is stored as 2025-03-14" '"vog_checked_on": "2025-03-14"' "$T/out"
has "ma-ochtend is stored as mon-am" '"mon-am"' "$T/out"
has "Dinsdag avond is stored as tue-ev" '"tue-ev"' "$T/out"
ok "nee" "$KRING" volunteer set "$JAN" vog_meets_requirements=Nee
ok "list by a Dutch slot" "$KRING" volunteer list --available di-avond
has "di-avond finds Jan" "Jan Visser" "$T/out"
err "misschien" 1 "must be ja or nee" "$KRING" volunteer set "$JAN" vog_meets_requirements=misschien
err "a date the wrong way" 1 "not a date \(2025-03-14 or 14-03-2025\)" "$KRING" volunteer set "$JAN" vog_checked_on=2025-3-14
err "grant without a method" 2 "--method is required: how did the volunteer give consent\? papier" \
  "$KRING" consent grant "$JAN" --purpose contact --to all
ok "grant with --method papier" "$KRING" consent grant "$JAN" --purpose contact --to all --method papier
ok "add purpose fotos" "$KRING" purpose add fotos --description "om foto's te maken"
ok "add purpose nieuwsbrief" "$KRING" purpose add nieuwsbrief --description "om de nieuwsbrief te sturen"
ok "grant with --method mondeling" "$KRING" consent grant "$JAN" --purpose fotos --to all --method Mondeling
ok "grant saying the method is not known" "$KRING" consent grant "$JAN" --purpose nieuwsbrief --to all --method onbekend
ok "withdraw without a method" "$KRING" consent withdraw "$JAN" --purpose fotos --to all
ok "consent show" "$KRING" consent show "$JAN"
has "stored as paper" "contact .* \(paper\)" "$T/out"
has "history in local time with its zone" "^  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} [A-Z+0-9-]+  grant " "$T/out"
hasnt "history not in UTC ISO" "[0-9]T[0-9:]+Z" "$T/out"
ok "consent show json" "$KRING" --json consent show "$JAN"
has "json stays UTC ISO 8601" '"at": "[0-9-]+T[0-9:]+Z"' "$T/out"
ok "erase Jan" "$KRING" erase "$JAN" --reason "verzoek van de vrijwilliger" --yes
ok "consent show after erase" "$KRING" consent show "$JAN"
has "the marker where the history was" "^erased +on .* by [0-9a-f]{12} \(Voedselbank Noord\): verzoek van de vrijwilliger" "$T/out"
has "says the history went with it" "deleted with the rest" "$T/out"
err "an erased volunteer's name is gone" 1 "erased volunteer is found by id only" "$KRING" consent show "Jan Visser"

# --- invites and join requests through e-mail --------------------------------------
B="$T/b"
INV=$("$KRING" invite 2>/dev/null)
# as a mail program wraps and quotes it, with text around it
MAIL=$(printf 'Hoi,\n\nhier is de uitnodiging:\n\n%s\n\nGroeten, Els\n' "$INV" | fold -w 76 | sed 's/^/> /')
n=$((n + 1)); [ "$(printf '%s\n' "$MAIL" | wc -l)" -gt 8 ] || fail "the mail is not wrapped"
ok "join a wrapped, quoted invite" "$KRING" --home "$B" join "$MAIL" --org "Buurtteam Oost" --kind buurtteam --offline --out "$T/verzoek.txt"
has "join says where the request is" "wrote the join request to .*verzoek.txt" "$T/out"
n=$((n + 1)); [ "$(stat -c %a "$T/verzoek.txt")" = 600 ] || fail "the request file is readable by others"
REQ=$(head -1 "$T/verzoek.txt")
err "a request where an invite goes" 1 "this is a join request, not an invite"   "$KRING" --home "$T/x" join "$T/verzoek.txt" --org X --offline
REQMAIL=$(printf '%s' "$REQ" | fold -w 60 | sed 's/^/>> /')
ok "accept a wrapped request" "$KRING" member accept "$REQMAIL"
has "accept names the organisation for the bundle" "bundle export --for \"Buurtteam Oost\"" "$T/out"
ok "invite to a file" "$KRING" invite --out "$T/uitnodiging.txt"
has "invite file says how to join" "kring join .*uitnodiging.txt" "$T/out"
n=$((n + 1)); [ "$(stat -c %a "$T/uitnodiging.txt")" = 600 ] || fail "the invite file is readable by others"
INV2=$(head -1 "$T/uitnodiging.txt")
err "an invite cut short" 1 "this invite is cut short: probably cut off, or wrapped .*kring invite --out"   "$KRING" --home "$T/x" join "${INV2:0:150}" --org X --offline
# (another character than the one there: an invite holds an A at 100 now and then)
SWAP=A; [ "${INV2:100:1}" = A ] && SWAP=B
err "an invite with a character changed" 1 "does not verify: a character in it was changed.*as a file"   "$KRING" --home "$T/x" join "${INV2:0:100}$SWAP${INV2:101}" --org X --offline
err "not an invite" 1 "this is not a kring invite \(a kring invite starts with kring-invite-2."   "$KRING" --home "$T/x" join hallo --org X --offline
err "an invite of the old format" 1 "this invite was made by an older kring \(its line starts with kring-invite-1\.; this kring reads kring-invite-2\.\): ask the member for a new invite" \
  "$KRING" --home "$T/x" join "> kring-invite-1.k8SElwHEEDzoj0vvDyts8pSt_-vCvR_EIJIAHB4axiZRAnXO5cq4TQCFjHYAA1CIj56rZeOG51XMxCCSABweGsYmUQJ1" --org X --offline
err "a join request of the old format" 1 "this join request was made by an older kring .*send the new organisation a new invite" \
  "$KRING" member accept "kring-join-1.k8UBBZYBxISXAcQQPOiPS-8PK2zylK3_68K9H8QgkgAcHhrGJlECdc7lyrhNAIWMdgADUIiP"
# short enough for three lines of a mail (the founder's invite; a member's names itself too)
n=$((n + 1)); [ "${#INV}" -le 228 ] || fail "the invite is ${#INV} characters"
n=$((n + 1)); [ "${#REQ}" -le 400 ] || fail "the join request is ${#REQ} characters"
err "no such invite file" 1 "no such file: .*nothere.txt" "$KRING" --home "$T/x" join "$T/nothere.txt" --org X --offline
n=$((n + 1)); [ ! -e "$T/x" ] || fail "a refused join created a node"
ok "join from the file" "$KRING" --home "$T/c" join "$T/uitnodiging.txt" --org "MZO Samen" --offline
# a file whose name starts like an invite is still a file
ok "invite to kring-invite-*.txt" "$KRING" invite --out "$T/kring-invite-wijkteam.txt"
ok "join from kring-invite-*.txt" "$KRING" --home "$T/w" join "$T/kring-invite-wijkteam.txt" --org "Wijkteam" --offline
err "no such kring-invite-*.txt" 1 "no such file: .*kring-invite-nothere.txt" "$KRING" --home "$T/x" join "$T/kring-invite-nothere.txt" --org X --offline

# --- messages that say why and what to do -----------------------------------------
err "init in a missing folder" 1 "the folder .*/no/such does not exist.*mkdir -p" \
  "$KRING" --home "$T/no/such/home" init --org X
err "bundle to a missing folder" 1 "cannot write .*: the folder .*/usb does not exist \(a USB stick" \
  "$KRING" bundle export --out "$T/media/usb/x.krb"

# --- things that went wrong silently -------------------------------------------------
# a second kring serve on one home is refused, naming the first one's PID
PORT=$((20000 + RANDOM % 20000))
"$KRING" serve --listen 127.0.0.1:$PORT 2>"$T/serve1.err" &
SERVE=$!
for _ in $(seq 1 50); do grep -q "$SERVE" "$KRING_HOME/serve.lock" 2>/dev/null && break; sleep 0.1; done
err "a second serve on one home" 1 "kring serve is already running for .* \(PID $SERVE\); one is enough" \
  "$KRING" serve --listen 127.0.0.1:$((PORT + 1))
kill "$SERVE"; wait "$SERVE" 2>/dev/null
# a failed online join says that the node was made, and --offline goes on with it
INV3=$("$KRING" invite --address 127.0.0.1:1 2>/dev/null)
n=$((n + 1))
"$KRING" --home "$T/j" join "$INV3" --org "Wijkteam Zuid" >"$T/out" 2>"$T/err" && fail "online join without a peer succeeded"
has "online join that cannot connect says the node was made" "could not join: the node was created in .*/j, but it is not admitted yet" "$T/err"
ok "the same join goes on offline with that node" "$KRING" --home "$T/j" join "$INV3" --org "Wijkteam Zuid" --offline --out "$T/j.txt"
has "offline join keeps the node" "node \(made before\) kept in" "$T/out"
# columns sized to their content: a long organisation name is not cut
ok "peer with a long name" "$KRING" peer add voedselbank-amsterdam-noord-oost 10.0.0.1:7733
ok "peer with a short name" "$KRING" peer add b 192.168.100.200:7733
ok "peer list" "$KRING" peer list
n=$((n + 1)); [ "$(awk '{print index($0, "last sync")}' "$T/out" | sort -u | wc -l)" = 1 ] || { fail "peer list columns do not line up"; cat "$T/out"; }
has "the long name whole" "^voedselbank-amsterdam-noord-oost 10.0.0.1:7733 " "$T/out"

# --- a copied home: equivocation settled by bundle as by session ---------------------
# A founds, B and C join; B's home is copied to B2 and both copies go on.
A="$T/eq-a" B="$T/eq-b" C="$T/eq-c" B2="$T/eq-copy"
k() { "$KRING" --home "$@"; }
k "$A" init --org "Voedselbank Noord" >/dev/null
for who in "$B:Buurtteam Oost" "$C:MZO Samen"; do
  h=${who%%:*} org=${who#*:}
  k "$A" invite --out "$T/eq-inv" >/dev/null
  k "$h" join "$T/eq-inv" --org "$org" --offline --out "$T/eq-req" >/dev/null
  k "$A" member accept "$T/eq-req" >/dev/null
done
k "$A" bundle export --out "$T/eq-a0" >/dev/null
k "$B" bundle import "$T/eq-a0" >/dev/null 2>&1
k "$C" bundle import "$T/eq-a0" >/dev/null 2>&1
V1=$(k "$B" volunteer add --name "Voor Kopie" --city Delft)
k "$B" consent grant "$V1" --purpose contact --to all --method papier >/dev/null
k "$B" bundle export --out "$T/eq-b0" >/dev/null
k "$A" bundle import "$T/eq-b0" >/dev/null 2>&1
k "$C" bundle import "$T/eq-b0" >/dev/null 2>&1
cp -a "$B" "$B2"
k "$B" volunteer add --name "Origineel Na" >/dev/null
k "$B2" volunteer add --name "Kopie Na" >/dev/null
k "$B" bundle export --out "$T/eq-b1" >/dev/null
k "$B2" bundle export --out "$T/eq-b2.krb" >/dev/null
ok "c imports b's bundle" "$KRING" --home "$C" bundle import "$T/eq-b1"
ok "c imports the copy's bundle: settled, not refused" "$KRING" --home "$C" bundle import "$T/eq-b2.krb"
has "the message names the cause" "Buurtteam Oost\) signed two different changes as seq [0-9]+: its home was copied" "$T/err"
has "and what to do" "must join again as a new node" "$T/err"
ok "c lists b as removed" "$KRING" --home "$C" member list
has "b removed for equivocation" "Buurtteam Oost .*removed .*signed two different changes" "$T/out"
k "$C" bundle export --out "$T/eq-c1" >/dev/null
ok "a imports c's bundle" "$KRING" --home "$A" bundle import "$T/eq-c1"
for h in "$A" "$B" "$C" "$B2"; do
  ok "the volunteer made before the copy survives on $(basename "$h")" "$KRING" --home "$h" volunteer show "$V1"
  has "still named on $(basename "$h")" "^name +Voor Kopie" "$T/out"
done
k "$A" bundle export --out "$T/eq-a1" >/dev/null
k "$C" bundle import "$T/eq-a1" >/dev/null 2>&1
n=$((n + 1)); [ "$(k "$A" digest)" = "$(k "$C" digest)" ] || fail "a and c do not agree after the equivocation"
err "a removed member's later bundle is refused" 1 "exported by .*not a member" "$KRING" --home "$A" bundle import "$T/eq-b2.krb"

echo "test_names: $n checks, $fails failed"
[ "$fails" -eq 0 ]
