#!/usr/bin/env bash
# test_cli: drive the real kring binary through every command and its error
# paths. Usage: test_cli.sh PATH/TO/kring
set -u
KRING="$1"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
export KRING_HOME="$T/home"
fails=0
n=0

# ok DESC CMD...: must exit 0.
ok() {
  local desc="$1"; shift
  n=$((n + 1))
  if ! "$@" >"$T/out" 2>"$T/err"; then
    echo "FAIL: $desc: exit $? ($(head -1 "$T/err"))"; fails=$((fails + 1))
  fi
}
# err DESC STATUS PATTERN CMD...: must exit STATUS with one stderr line
# matching PATTERN (usage errors may add a usage line), and print nothing.
err() {
  local desc="$1" want="$2" pat="$3"; shift 3
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $desc: exit $got, want $want ($(head -1 "$T/err"))"; fails=$((fails + 1)); return
  fi
  if ! head -1 "$T/err" | grep -qE -- "$pat"; then
    echo "FAIL: $desc: stderr '$(head -1 "$T/err")' does not match '$pat'"; fails=$((fails + 1))
  fi
  local lines; lines=$(grep -vEc '^(usage|gebruik):' "$T/err")
  if [ "$lines" -ne 1 ]; then
    echo "FAIL: $desc: $lines lines on stderr"; fails=$((fails + 1))
  fi
  if [ -s "$T/out" ]; then
    echo "FAIL: $desc: printed on stdout on error"; fails=$((fails + 1))
  fi
}
# has DESC PATTERN: the last stdout matches.
has() {
  n=$((n + 1))
  if ! grep -qE "$2" "$T/out"; then
    echo "FAIL: $1: output lacks '$2'"; sed 's/^/  | /' "$T/out" | head -20; fails=$((fails + 1))
  fi
}
hasnt() {
  n=$((n + 1))
  if grep -qE "$2" "$T/out"; then
    echo "FAIL: $1: output has '$2'"; fails=$((fails + 1))
  fi
}
# digest of the store, to prove that an error wrote nothing
dig() { "$KRING" digest; }

# --- before init -----------------------------------------------------------
err "no command" 2 "missing command" "$KRING"
err "unknown command" 2 "unknown command 'frobnicate'" "$KRING" frobnicate
err "no node yet" 1 "no kring node in" "$KRING" id
err "init without org" 2 "--org NAME is required" "$KRING" init
err "init bad kind" 2 "unknown kind 'bank'" "$KRING" init --org X --kind bank
err "init stray argument" 2 "unexpected argument" "$KRING" init --org X extra
# an RSIN passes the elfproef like a BSN: the name is refused as such, not the folder
err "init org with a BSN-like number" 1 "^kring: --org 'Voedselbank Oost RSIN 111222333': .*BSN" \
  "$KRING" --home "$T/rsin" init --org "Voedselbank Oost RSIN 111222333" --kind foodbank
err "init unknown option" 2 "unknown option '--colour'" "$KRING" init --org X --colour red
ok "help" "$KRING" help
has "help lists commands" "subject-export"
ok "version" "$KRING" --version
has "version from CMake" "^kring [0-9]+\.[0-9]+\.[0-9]+$"
has "version of the libraries" "^libsodium [0-9.]+, SQLite [0-9.]+, libuv [0-9.]+$"
# every command of kring help has kring help COMMAND and kring COMMAND --help
"$KRING" help >"$T/help"
cmds=$(sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' "$T/help")
n=$((n + 1))
if [ "$(echo $cmds | wc -w)" -lt 21 ]; then echo "FAIL: kring help lists $(echo $cmds | wc -w) commands"; fails=$((fails + 1)); fi
for c in $cmds; do
  ok "help $c" "$KRING" help "$c"
  has "help $c: synopsis" "^  kring $c"
  has "help $c: example" "^Example:"
  ok "$c --help" "$KRING" "$c" --help
  has "$c --help: synopsis" "^  kring $c"
done
ok "subcommand --help" "$KRING" consent grant Anna -h
has "subcommand --help: options" "^  --purpose"
# --- in Dutch: KRING_LANG=nl needs no nl_NL locale on the system; LANG does
# when it is there, and kring falls back to C.UTF-8 when it is not -------
ok "help in Dutch" env KRING_LANG=nl "$KRING" help
has "help in Dutch" "gedeeld vrijwilligersregister"
has "help in Dutch: commands" "^Opdrachten:"
ok "help in Dutch via LANG" env -u LANGUAGE -u LC_ALL -u LC_MESSAGES LANG=nl_NL.UTF-8 "$KRING" help
has "help in Dutch via LANG" "gedeeld vrijwilligersregister"
ok "KRING_LANG=en wins over LANG" env LANG=nl_NL.UTF-8 KRING_LANG=en "$KRING" help
has "KRING_LANG=en" "shared volunteer register"
ok "command help in Dutch" env KRING_LANG=nl "$KRING" consent --help
has "command help in Dutch" "toestemming"
has "command help in Dutch: synopsis stays" "^  kring consent grant VOLUNTEER --purpose"
err "unknown option in Dutch" 2 "^kring: onbekende optie '--kleur'" env KRING_LANG=nl "$KRING" init --org X --kleur rood
n=$((n + 1)); grep -q '^gebruik: kring init --org NAME' "$T/err" || { echo "FAIL: Dutch usage line"; fails=$((fails + 1)); }
err "unknown command in Dutch" 2 "^kring: onbekende opdracht 'hulp'" env KRING_LANG=nl "$KRING" hulp
err "volunteer error in Dutch" 2 "^kring: niets te wijzigen" env KRING_LANG=nl "$KRING" volunteer set Anna
err "consent error in Dutch" 2 "^kring: --purpose is verplicht" env KRING_LANG=nl "$KRING" consent grant Anna --method papier --to all
err "erase error in Dutch" 2 "^kring: --reason is verplicht" env KRING_LANG=nl "$KRING" erase Anna --yes
err "bundle error in Dutch" 2 "^kring: --for en --all gaan niet samen" env KRING_LANG=nl "$KRING" bundle export --out x.bundle --for A --all
err "help for no such command" 2 "unknown command 'nope'" "$KRING" help nope
err "--help of no such command" 2 "unknown command 'nope'" "$KRING" nope --help

# --- init, id --------------------------------------------------------------
ok "init" "$KRING" init --org "Voedselbank Noord" --kind foodbank
has "init says created" "created node [0-9a-f]{64}"
err "init twice" 1 "already holds a kring node" "$KRING" init --org Again
ok "id" "$KRING" id
has "id shows org" "^[0-9a-f]{64}  Voedselbank Noord \(foodbank\)"
ok "id json" "$KRING" --json id
has "id json" '"org": "Voedselbank Noord"'
NODE=$("$KRING" --json id | sed -n 's/.*"node_id": "\([0-9a-f]*\)".*/\1/p')
ok "--home flag works as KRING_HOME" "$KRING" --home "$KRING_HOME" id
ok "--home after the command" "$KRING" id --home "$KRING_HOME"

# --- key file permissions ---------------------------------------------------
[ "$(stat -c %a "$KRING_HOME/node.key")" = 600 ] || { echo "FAIL: key mode"; fails=$((fails+1)); }
[ "$(stat -c %a "$KRING_HOME/kring.db")" = 600 ] || { echo "FAIL: db mode"; fails=$((fails+1)); }
chmod 640 "$KRING_HOME/node.key"
err "group-readable key" 1 "readable by group or others" "$KRING" id
chmod 600 "$KRING_HOME/node.key"

# --- volunteer add ------------------------------------------------------------
ok "add full" "$KRING" volunteer add --name "Anna de Vries" --email Anna@Example.nl \
  --phone 06-12345678 --postcode 1031ab --city Amsterdam --birth-year 1961 \
  --skill Driving --skill cooking --language nl --language en \
  --availability mon-am --availability thu-pm --note "Heeft rijbewijs B"
ANNA=$(cat "$T/out")
[[ "$ANNA" =~ ^[0-9a-f]{32}$ ]] || { echo "FAIL: add prints an id, got '$ANNA'"; fails=$((fails+1)); }
ok "add minimal json" "$KRING" --json volunteer add --name "Piet Bakker" --city Zaandam --skill koken
PIET=$(sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' "$T/out")
ok "add third" "$KRING" volunteer add --name "Fatma Yılmaz" --city Zaandam --language tr --availability sat-am
FATMA=$(cat "$T/out")
D0=$(dig)
err "add without name" 2 "--name is required" "$KRING" volunteer add --city X
err "add bad email" 1 "email 'anna@': not an e-mail" "$KRING" volunteer add --name A --email anna@
err "add bad phone" 1 "not a Dutch phone number" "$KRING" volunteer add --name A --phone 12345
err "add bad postcode" 1 "not a Dutch postcode" "$KRING" volunteer add --name A --postcode 12345
err "add bad availability" 1 "not an availability" "$KRING" volunteer add --name A --availability monday
err "add bad birth year" 1 "not a year of birth" "$KRING" volunteer add --name A --birth-year 1850
err "add BSN in note" 1 "BSN" "$KRING" volunteer add --name A --note "bsn 111222333"
err "add BSN in name" 1 "BSN" "$KRING" volunteer add --name "111 222 333"
err "add repeated single option" 2 "given twice" "$KRING" volunteer add --name A --name B
err "add option without value" 2 "needs a value" "$KRING" volunteer add --name
[ "$(dig)" = "$D0" ] || { echo "FAIL: a refused add changed the store"; fails=$((fails+1)); }

# --- in Dutch, with a node: output, error paths, kring's own error texts, the
# question before erase; JSON stays English --------------------------------
ok "status in Dutch" env KRING_LANG=nl "$KRING" status
has "status in Dutch" "^register 3 vrijwilligers \(0 gewist\), [0-9]+ wijzigingen bewaard$"
err "sync with an unknown peer in Dutch" 1 "^kring: 'nergens' is geen peernaam \(zie kring peer list\) en ook geen HOST:PORT$" \
  env KRING_LANG=nl "$KRING" sync nergens
err "a validator's reason in Dutch" 1 "^kring: email 'nope': geen e-mailadres$" \
  env KRING_LANG=nl "$KRING" volunteer add --name X --email nope
err "a sync failure in Dutch" 1 "^kring: synchroniseren met 127\.0\.0\.1:1 mislukt: kan geen verbinding maken met 127\.0\.0\.1:1: verbinding geweigerd$" \
  env KRING_LANG=nl "$KRING" sync 127.0.0.1:1
env KRING_LANG=nl "$KRING" --json sync 127.0.0.1:1 >"$T/out" 2>/dev/null
has "a sync failure in --json stays English" '"error": "cannot connect to 127\.0\.0\.1:1: connection refused"'
err "import of a missing file in Dutch" 1 "^kring: kan .*/ontbreekt\.csv niet lezen: het bestand bestaat niet" \
  env KRING_LANG=nl "$KRING" import "$T/ontbreekt.csv"
printf 'geen bundel\n' >"$T/geen.bundle"
err "kring's error text in Dutch" 1 "geen\.bundle is geen kring-bundel, of is beschadigd \(de invoer is" \
  env KRING_LANG=nl "$KRING" bundle import "$T/geen.bundle"
err "erase question in Dutch" 1 "^kring: Het wissen van Anna de Vries \(id [0-9a-f]{8}\) .* Dit kan niet ongedaan gemaakt worden, en er is geen terminal" \
  sh -c 'KRING_LANG=nl "$0" erase "$1" --reason test </dev/null' "$KRING" "$ANNA"
printf 'Naam;Geboortedatum\r\nKees;31-31-2000\r\n' >"$T/datum.csv"
ok "import in Dutch" env KRING_LANG=nl "$KRING" import "$T/datum.csv" --dry-run
has "import in Dutch" "'31-31-2000' is geen datum \(dd-mm-jjjj\)"
ok "import --json in Dutch" env KRING_LANG=nl "$KRING" --json import "$T/datum.csv" --dry-run
has "import --json stays English" "\"reason\": \"'31-31-2000' is not a date"
[ "$(dig)" = "$D0" ] || { echo "FAIL: a Dutch check changed the store"; fails=$((fails+1)); }

# --- show, list, search -----------------------------------------------------------
ok "show" "$KRING" volunteer show "$ANNA"
has "show name" "^name +Anna de Vries"
has "show normalised phone" "^phone +0612345678"
has "show normalised postcode" "^postcode +1031 AB"
has "show email lowercased" "anna@example.nl"
has "show skills" "^skills +cooking, driving"
has "show who reads: the registrar" "^readers +Voedselbank Noord: registered it$"
ok "show by prefix" "$KRING" volunteer show "${ANNA:0:8}"
ok "show json" "$KRING" --json volunteer show "$ANNA"
has "show json languages" '"en"'
err "show unknown" 1 "no volunteer with id" "$KRING" volunteer show 00000000000000000000000000000000
err "show bad id" 1 "no volunteer named .xyz!.*kring volunteer search" "$KRING" volunteer show xyz!
err "show no id" 2 "which volunteer\? Give the name" "$KRING" volunteer show
err "volunteer no sub" 2 "missing subcommand" "$KRING" volunteer
err "volunteer bad sub" 2 "unknown subcommand" "$KRING" volunteer delete
ok "list all" "$KRING" volunteer list
has "list has three" "Fatma"
ok "list skill" "$KRING" volunteer list --skill koken
has "list skill piet" "Piet Bakker"
hasnt "list skill not anna" "Anna"
ok "list city any case" "$KRING" volunteer list --city zaandam
has "list city" "Fatma"
hasnt "list city not anna" "Anna"
ok "list language + availability" "$KRING" volunteer list --language en --available thu-pm
has "list lang" "Anna"
ok "list json" "$KRING" --json volunteer list --language tr
has "list json" '"name": "Fatma Yılmaz"'
err "list bad available" 2 "--available takes" "$KRING" volunteer list --available never
err "list positional" 2 "unexpected argument" "$KRING" volunteer list koken
ok "search" "$KRING" volunteer search rijbew
has "search note prefix" "Anna"
ok "search city" "$KRING" volunteer search zaandam
has "search two" "Piet"
ok "search syntax is inert" "$KRING" volunteer search '"AND OR ('
err "search nothing" 2 "missing TEXT" "$KRING" volunteer search

# --- set ---------------------------------------------------------------------
ok "set" "$KRING" volunteer set "$ANNA" city=Zaandam email=anna@vries.nl --add skill=logistics --remove language=en
ok "show after set" "$KRING" volunteer show "$ANNA"
has "set city" "^city +Zaandam"
has "set add" "logistics"
hasnt "set remove" "^languages +.*en"
ok "set clears with empty value" "$KRING" volunteer set "$ANNA" notes=
ok "show after clear" "$KRING" volunteer show "$ANNA"
hasnt "notes cleared" "^notes"
D1=$(dig)
err "set unknown field" 1 "unknown field 'shoe_size'" "$KRING" volunteer set "$ANNA" shoe_size=44
err "set list field as single" 1 "is a list" "$KRING" volunteer set "$ANNA" skills=x
err "set add to single field" 1 "holds one value" "$KRING" volunteer set "$ANNA" --add city=Delft
err "set remove missing value" 1 "no such value" "$KRING" volunteer set "$ANNA" --remove skill=zwemmen
err "set bad value" 1 "not a Dutch postcode" "$KRING" volunteer set "$ANNA" postcode=ABCD
err "set not an assignment" 2 "expected FIELD=VALUE" "$KRING" volunteer set "$ANNA" city
err "set nothing" 2 "nothing to change" "$KRING" volunteer set "$ANNA"
err "set BSN" 1 "BSN" "$KRING" volunteer set "$ANNA" notes="nummer 111.222.333"
err "set unknown volunteer" 1 "no volunteer" "$KRING" volunteer set ffffffff city=X
[ "$(dig)" = "$D1" ] || { echo "FAIL: a refused set changed the store"; fails=$((fails+1)); }

# --- consent -----------------------------------------------------------------
ok "grant" "$KRING" consent grant "$ANNA" --purpose contact --to all --method paper --text-version 2024-1
ok "grant to self by org name" "$KRING" consent grant --method papier "$ANNA" --purpose placement --to "Voedselbank Noord" --until 2031-12-31
ok "grant to node id" "$KRING" consent grant "$FATMA" --purpose photos --to "$NODE" --method digital
ok "show consent" "$KRING" consent show "$ANNA"
has "granted" "contact +to all +granted"
ok "withdraw" "$KRING" consent withdraw "$ANNA" --purpose contact --to all --method verbal
ok "show consent after withdraw" "$KRING" consent show "$ANNA"
has "withdrawn" "contact +to all +withdrawn"
has "history grant" "grant +contact"
has "history withdraw" "withdraw +contact"
has "history method" "paper, text 2024-1"
ok "grant again after withdrawal" "$KRING" consent grant "$ANNA" --purpose contact --to all --method digital
ok "consent json" "$KRING" --json consent show "$ANNA"
has "json current granted" '"state": "granted"'
has "json history" '"action": "withdraw"'
ok "no consent" "$KRING" consent show "$PIET"
has "no consent text" "no consent recorded"
D2=$(dig)
err "grant no purpose" 2 "--purpose is required" "$KRING" consent grant --method papier "$ANNA" --to all
err "grant no to" 2 "--to ORG\|all is required" "$KRING" consent grant --method papier "$ANNA" --purpose contact
err "grant bad purpose" 1 "cannot be a purpose \(1-40 characters a-z, 0-9 or '-'\)" "$KRING" consent grant --method papier "$ANNA" --purpose "Nieuwsbrief!" --to all
err "grant bad method" 2 "unknown method 'fax'" "$KRING" consent grant "$ANNA" --purpose contact --to all --method fax
err "grant bad date" 1 "real date" "$KRING" consent grant --method papier "$ANNA" --purpose contact --to all --until 2031-02-30
err "grant past date" 1 "in the past" "$KRING" consent grant --method papier "$ANNA" --purpose contact --to all --until 2020-01-01
err "grant unknown recipient" 1 "no member .Nobody." "$KRING" consent grant --method papier "$ANNA" --purpose contact --to "Nobody"
err "withdraw takes no until" 2 "unknown option '--until'" "$KRING" consent withdraw "$ANNA" --purpose contact --to all --until 2030-01-01
err "consent no sub" 2 "missing subcommand" "$KRING" consent
err "consent show unknown" 1 "no volunteer" "$KRING" consent show abcdabcd
err "grant to a node id that is no member" 1 "no member with node id 0123456789ab.*consent goes to all or to a member: Voedselbank Noord" \
  "$KRING" consent grant --method papier "$ANNA" --purpose contact --to 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
err "withdraw for a node id no consent names" 1 "no consent of this volunteer names it; the members are: Voedselbank Noord" \
  "$KRING" consent withdraw "$ANNA" --purpose contact --to 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
err "unknown recipient names the members" 1 "the members are: Voedselbank Noord$" "$KRING" consent grant --method papier "$ANNA" --purpose contact --to "Nobody"
[ "$(dig)" = "$D2" ] || { echo "FAIL: a refused consent changed the store"; fails=$((fails+1)); }

# --- text that could forge output ---------------------------------------------
# clean DESC FILE: no control, C1 or bidi character reached the terminal raw.
clean() {
  n=$((n + 1))
  if ! python3 - "$2" <<'PY'
import sys
t = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
sys.exit(any((ord(c) < 32 and c != '\n') or 0x7f <= ord(c) <= 0x9f or 0x202a <= ord(c) <= 0x202e
             or 0x2066 <= ord(c) <= 0x2069 or ord(c) in (0x2028, 0x2029) for c in t))
PY
  then echo "FAIL: $1: a control or bidi character reached the terminal"; fails=$((fails + 1)); fi
}
# escaped DESC TEXT: the last stderr shows TEXT (an escape such as \u202e) literally.
escaped() {
  n=$((n + 1))
  grep -qF -- "$2" "$T/err" || { echo "FAIL: $1: stderr lacks '$2': $(head -1 "$T/err")"; fails=$((fails + 1)); }
}
CSI=$'\xc2\x9b' NEL=$'\xc2\x85' RLO=$'\xe2\x80\xae' LRI=$'\xe2\x81\xa6'
D3=$(dig)
err "newline in name" 1 "^kring: name 'Anna\\\\nconsent .*holds one line" \
  "$KRING" volunteer add --name $'Anna\nconsent                  contact to all: granted'
err "newline in city" 1 "city .*holds one line" "$KRING" volunteer set "$ANNA" city=$'Zaandam\nid                       0000'
err "C1 control in city" 1 "control character" "$KRING" volunteer add --name A --city "${CSI}31mZaandam"
clean "C1 control: the error line" "$T/err"
escaped "C1 control shown escaped" '\u009b31mZaandam'
err "bidi override in name" 1 "text-direction" "$KRING" volunteer add --name "Anna ${RLO}seirV ed"
clean "bidi override: the error line" "$T/err"
escaped "bidi override shown escaped" 'Anna \u202eseirV ed'
err "bidi isolate in skill" 1 "text-direction" "$KRING" volunteer set "$ANNA" --add skill="koken${LRI}"
err "tab in notes" 1 "control character" "$KRING" volunteer set "$ANNA" notes=$'a\tb'
err "terminal escape in notes" 1 "control character" "$KRING" volunteer set "$ANNA" notes=$'a\e[2Jb'
err "line separator in notes" 1 "line or paragraph separator" "$KRING" volunteer set "$ANNA" notes=$'a\xe2\x80\xa8b'
err "newline in text version" 1 "text-version .*holds one line" "$KRING" consent grant --method papier "$ANNA" --purpose contact \
  --to all --text-version $'2024-1\n  2026-01-01T00:00:00Z  grant    contact'
err "bidi in text version" 1 "text-version .*text-direction" "$KRING" consent grant --method papier "$ANNA" --purpose contact \
  --to all --text-version "2024${RLO}1"
err "newline in erase reason" 1 "reason.*holds one line" "$KRING" erase "$FATMA" --reason $'verzoek\nid                       0000'
err "C1 in erase reason" 1 "reason.*holds one line" "$KRING" erase "$FATMA" --reason "verzoek${NEL}"
err "newline in removal reason" 1 "reason .*holds one line" "$KRING" member remove "Voedselbank Noord" --reason $'weg\nx'
err "bidi in an organisation name" 1 "org .*text-direction" "$KRING" --home "$T/other" init --org "Voedselbank ${RLO}Noord"
[ ! -e "$T/other/kring.db" ] || { echo "FAIL: a refused init made a node"; fails=$((fails+1)); }
[ "$(dig)" = "$D3" ] || { echo "FAIL: refused text changed the store"; fails=$((fails+1)); }

# Notes keep their line breaks; continuation lines are indented under the
# value, so no line of a note can pass for a line of kring's own.
NOTE=$'eerste regel\nconsent                  contact to all: granted\nid                       0000'
ok "multi-line note" "$KRING" volunteer set "$FATMA" notes="$NOTE"
ok "show multi-line note" "$KRING" volunteer show "$FATMA"
has "note's first line" "^notes +eerste regel$"
has "continuation indented under the value" "^ {25}consent +contact to all: granted$"
hasnt "note forges no consent line" "^consent +contact"
hasnt "note forges no id line" "^id +0000"
ok "multi-line note json" "$KRING" --json volunteer show "$FATMA"
n=$((n + 1))
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["notes"] != sys.argv[2])' "$T/out" "$NOTE" ||
  { echo "FAIL: JSON does not hold the note exactly"; fails=$((fails+1)); }

# Values stored before these rules (or by a node that did not keep them)
# are printed escaped, whatever they hold; JSON keeps them exactly.
cp -r "$KRING_HOME" "$T/old"
BAD=$'Zaandam\xc2\x9b31m\xe2\x80\xae\nconsent                  x'
python3 - "$T/old/kring.db" "$ANNA" "$BAD" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
s = db.execute("SELECT n FROM subjects WHERE id=?", (bytes.fromhex(sys.argv[2]),)).fetchone()[0]
bad = sys.argv[3]
# the volunteer's row (node/vstate.c): msgpack [fields, elements]
def mp(x):
    if x is None: return b"\xc0"
    if isinstance(x, int): return bytes([x]) if x < 128 else b"\xcf" + x.to_bytes(8, "big")
    if isinstance(x, bytes): return b"\xc4" + bytes([len(x)]) + x
    if isinstance(x, str):
        e = x.encode(); return (bytes([0xa0 | len(e)]) if len(e) < 32 else b"\xd9" + bytes([len(e)])) + e
    return bytes([0x90 | len(x)]) + b"".join(mp(i) for i in x)
state = [[1, "Anna de Vries", 1, 1, 0, 5, bad, 1, 1, 1, 8, bad + "\n\x1b[2J", 1, 1, 2],
         [32, 1, bytes(16), bad], 0]
db.execute("UPDATE vols SET state=? WHERE subj=?", (mp(state), s))
db.execute("UPDATE consent_ops SET text_version=? WHERE subj=?", (bad, s))
db.execute("UPDATE members SET org=?", ("Voedselbank\u2067\nNoord",))
db.execute("UPDATE meta SET value=? WHERE key='org'", ("Voedselbank\u2067\nNoord",))
db.commit()
PY
for cmd in "volunteer show $ANNA" "volunteer list" "volunteer search zaandam" "consent show $ANNA" "id" "log" \
           "member list" "network" "status"; do
  # shellcheck disable=SC2086
  ok "old data: $cmd" "$KRING" --home "$T/old" $cmd
  clean "old data: $cmd prints no raw control" "$T/out"
done
ok "old data: show" "$KRING" --home "$T/old" volunteer show "$ANNA"
has "old city escaped on one line" '^city +Zaandam\\u009b31m\\u202e\\nconsent +x$'
has "old notes: continuation indented, escape shown" '^ {25}\\u001b\[2J$'
hasnt "old data forges no consent line" "^consent +x"
ok "old data: json exact" "$KRING" --home "$T/old" --json volunteer show "$ANNA"
n=$((n + 1))
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["city"] != sys.argv[2])' "$T/out" "$BAD" ||
  { echo "FAIL: JSON does not hold the old value exactly"; fails=$((fails+1)); }

# --- subject-export ----------------------------------------------------------
ok "subject-export" "$KRING" subject-export "$ANNA"
has "export fields" '"name": "Anna de Vries"'
has "export consent history" '"consent_history"'
has "export changes" '"action": "set"'
has "export changes: the registration" '"action": "register"'
has "export who reads" '"reason": "registered"'
n=$((n + 1))
python3 - "$T/out" <<'PY' || { echo "FAIL: export who reads: registrar, contact to all, placement to itself until 2031-12-31"; fails=$((fails+1)); }
import json, sys
r = [(x["org"], x["reason"], x.get("purpose"), x.get("to"), x.get("until"))
     for x in json.load(open(sys.argv[1]))["readers"]]
want = {("Voedselbank Noord", "registered", None, None, None),
        ("Voedselbank Noord", "consent", "contact", "all", ""),
        ("Voedselbank Noord", "consent", "placement", "member", "2031-12-31")}
sys.exit(set(r) != want)
PY
has "export who" "\"by\": \"$NODE\""
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" 2>/dev/null || { echo "FAIL: export is not JSON"; fails=$((fails+1)); }
err "export no id" 2 "which volunteer\? Give the name" "$KRING" subject-export

# --- erase ---------------------------------------------------------------------
err "erase without reason" 2 "--reason is required" "$KRING" erase "$PIET"
ok "erase" "$KRING" erase "$PIET" --reason "verzoek van de vrijwilliger" --yes
err "erase twice" 1 "already been erased" "$KRING" erase "$PIET" --reason again
err "edit erased" 1 "has been erased" "$KRING" volunteer set "$PIET" city=Delft
err "grant erased" 1 "has been erased" "$KRING" consent grant --method papier "$PIET" --purpose contact --to all
ok "show erased" "$KRING" volunteer show "$PIET"
has "show erased marker" "^erased"
hasnt "no name" "Piet"
ok "list without erased" "$KRING" volunteer list
hasnt "list no piet" "Piet"
ok "export erased" "$KRING" subject-export "$PIET"
hasnt "export erased has no name" "Piet|Bakker|koken"
has "export erased marker" '"erased"'
if grep -aq "Piet Bakker" "$KRING_HOME"/kring.db*; then echo "FAIL: erased name still in the database file"; fails=$((fails+1)); fi
if grep -aq "Bakker" "$KRING_HOME"/kring.db*; then echo "FAIL: erased surname still in the database file"; fails=$((fails+1)); fi

# --- log, digest ---------------------------------------------------------------
ok "log" "$KRING" log
# A change counts its ops as they travel: Anna's add is one registering
# record (her registration and the box that holds her 13 field ops).
has "log rows" "seq 2 +1 op"
ok "log --access" "$KRING" log --access
has "log --access: none" "has not stopped reading any volunteer"
ok "log --access json" "$KRING" --json log --access
has "log --access json" "^\[\]$"
err "log two options" 2 "unexpected argument" "$KRING" log --access --exports
ok "log json" "$KRING" --json log
has "log json" '"seq": 1'
ok "digest" "$KRING" digest
has "digest hex" "^[0-9a-f]{64}$"
ok "digest json" "$KRING" --json digest
ok "digest --readable" "$KRING" digest --readable
has "digest --readable hex" "^[0-9a-f]{64}$"
n=$((n + 1)); [ "$(cat "$T/out")" != "$(dig)" ] || { echo "FAIL: digest --readable is the digest of the changes"; fails=$((fails+1)); }
ok "status json counts the sealed" "$KRING" --json status
has "status json: none sealed" '"sealed": 0'
has "status json: no access lost" '"access_lost": \[\]'
ok "help digest" "$KRING" help digest
has "help digest --readable" "^  --readable"
err "digest extra" 2 "unexpected argument" "$KRING" digest now
err "log extra" 2 "unexpected argument" "$KRING" log all

# --- check: SQLite's integrity check --------------------------------------------
ok "check" "$KRING" check
has "check ok" "^ok$"
err "check extra" 2 "unexpected argument" "$KRING" check now
cp -r "$KRING_HOME" "$T/damaged"
# overwrite the root page of the changes table with text: its b-tree no
# longer parses (a page in the middle of the file may be a free one)
root=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT rootpage FROM sqlite_schema WHERE name=\x27changes\x27").fetchone()[0])' "$T/damaged/kring.db")
printf 'kapot%.0s' $(seq 1 800) | dd of="$T/damaged/kring.db" bs=1 seek=$(((root - 1) * 4096)) conv=notrunc 2>/dev/null
err "check damaged" 1 "the store in .*/damaged is damaged\. Restore .* from a backup.*Details: .+" "$KRING" --home "$T/damaged" check

# --- the key file: exactly 64 bytes, seed then its public key -------------------
# (docs/protocol.md, "Node key file")
cp -r "$KRING_HOME" "$T/copy"
head -c 10 /dev/zero > "$T/copy/node.key"; chmod 600 "$T/copy/node.key"
err "short key file" 1 "node.key is not a kring node key \(it is 10 bytes, not 64" "$KRING" --home "$T/copy" id
head -c 64 /dev/urandom > "$T/copy/node.key"
err "64 random bytes as key" 1 "node.key is not a kring node key \(its second half is not the public key of its first" "$KRING" --home "$T/copy" id
err "64 random bytes: no write either" 1 "node.key is not a kring node key" "$KRING" --home "$T/copy" volunteer add --name X
{ cat "$KRING_HOME/node.key"; printf 'extra'; } > "$T/copy/node.key"
err "key with trailing bytes" 1 "node.key is not a kring node key \(it is 69 bytes, not 64" "$KRING" --home "$T/copy" id
cp "$KRING_HOME/node.key" "$T/copy/node.key"
ok "the key restored" "$KRING" --home "$T/copy" id
has "same node" "^$NODE "

# --- a store another process holds for a moment: commands wait for it --------------
# (the busy timeout is set before the first read of the store)
rm -f "$T/locked"
python3 - "$KRING_HOME/kring.db" "$T/locked" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode=EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE")
db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('lock-test', 1)")
open(sys.argv[2], "w").close()
time.sleep(1)
db.execute("DELETE FROM meta WHERE key='lock-test'")
db.execute("COMMIT")
PY
LOCKER=$!
for _ in $(seq 1 100); do [ -e "$T/locked" ] && break; sleep 0.05; done
ok "a store locked for a second" "$KRING" id
wait "$LOCKER"

# --- an empty or damaged store: one line that says so, exit 1, nothing written -----
DMG="Restore .* from a backup; or move it aside, ask a member for an invite and join again as a new node"
cp -r "$KRING_HOME" "$T/empty"; rm -f "$T/empty"/kring.db-*
: > "$T/empty/kring.db"
for c in id "volunteer list" digest check log; do
  err "empty store: $c" 1 "the store in .*/empty is damaged\. $DMG.*Details: kring.db is empty" "$KRING" --home "$T/empty" $c
done
[ "$(stat -c %s "$T/empty/kring.db")" = 0 ] || { echo "FAIL: an empty store was written to"; fails=$((fails+1)); }
err "init still refuses" 1 "already holds a kring node" "$KRING" --home "$T/empty" init --org X

cp -r "$KRING_HOME" "$T/junk"; rm -f "$T/junk"/kring.db-*
head -c 16384 /dev/urandom > "$T/junk/kring.db"
err "random bytes as store: check" 1 "the store in .*/junk is damaged\. $DMG.*Details: file is not a database" "$KRING" --home "$T/junk" check
err "random bytes as store: list" 1 "is damaged\..*Details: file is not a database" "$KRING" --home "$T/junk" volunteer list

cp -r "$KRING_HOME" "$T/short"; rm -f "$T/short"/kring.db-*
head -c 3000 "$KRING_HOME/kring.db" > "$T/short/kring.db"
err "truncated store: check" 1 "the store in .*/short is damaged\..*Details: database disk image is malformed" "$KRING" --home "$T/short" check
err "truncated store: digest" 1 "is damaged\..*Details: database disk image is malformed" "$KRING" --home "$T/short" digest

# One damaged page: the root of the volunteer rows (names, cities).
# Every command that reads it fails with the same line, none prints a
# shorter answer.
cp -r "$KRING_HOME" "$T/page"; rm -f "$T/page"/kring.db-*
python3 - "$T/page/kring.db" <<'PY' || { echo "FAIL: cannot damage a page"; fails=$((fails+1)); }
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name='vols'").fetchone()[0]
size = db.execute("PRAGMA page_size").fetchone()[0]
db.close()
with open(sys.argv[1], "r+b") as f:
    f.seek((root - 1) * size)
    f.write(b"kapot" * (size // 5))
PY
PAGE="the store in .*/page is damaged\. $DMG.*Details: database disk image is malformed"
err "damaged page: list" 1 "$PAGE" "$KRING" --home "$T/page" volunteer list
# (kring digest reads the changes only, not the values: --readable does)
err "damaged page: digest" 1 "$PAGE" "$KRING" --home "$T/page" digest --readable
err "damaged page: show" 1 "$PAGE" "$KRING" --home "$T/page" volunteer show "$ANNA"
err "damaged page: search" 1 "$PAGE" "$KRING" --home "$T/page" volunteer search anna
err "damaged page: export" 1 "$PAGE" "$KRING" --home "$T/page" subject-export "$FATMA"
err "damaged page: set" 1 "$PAGE" "$KRING" --home "$T/page" volunteer set "$ANNA" city=Delft
err "damaged page: check" 1 "the store in .*/page is damaged\. $DMG.*Details: .+" "$KRING" --home "$T/page" check

# A store of schema 8 (made by the kring of 2026-12-01: tests/data/store-v8)
# holds changes of format 3, which this kring no longer reads: it is
# refused with what to do, and left as it was.
V8="$(dirname "$0")/../data/store-v8"
mkdir -p "$T/v8" && cp "$V8/kring.db" "$V8/node.key" "$T/v8/" && chmod 700 "$T/v8" && chmod 600 "$T/v8"/*
err "schema 8: refused, with what to do" 1 "made by an earlier kring.*make a new node" \
  "$KRING" --home "$T/v8" digest
cmp -s "$V8/kring.db" "$T/v8/kring.db" || { echo "FAIL: schema 8: the refused store was changed"; fails=$((fails+1)); }
n=$((n + 1))

# A store of schema 12 (made by the kring of 2026-12-01 before the full-text
# index became contentless: tests/data/store-v12; three volunteers, Piet's
# city and skills and Anna's name changed once; consent for contact to all
# and to the node itself, one withdrawn) opens and is brought to schema 13:
# the same changes held and the same readable state (both digests), the
# same volunteers listed and found, the index filled again from the rows
# (an edit then deletes an entry by the values the row had), vkeys and
# consent_ops by node number (each volunteer opens, consent reads alike).
V12="$(dirname "$0")/../data/store-v12"
mkdir -p "$T/v12" && cp "$V12/kring.db" "$V12/node.key" "$T/v12/" && chmod 700 "$T/v12" && chmod 600 "$T/v12"/*
ok "schema 12: digest" env KRING_HOME="$T/v12" "$KRING" digest
has "schema 12: the changes held are the same" "^e559f3c3f9060006c720797e266749a3fb749e7a0b04c5d9c72110cc0e845d07$"
ok "schema 12: readable digest" env KRING_HOME="$T/v12" "$KRING" digest --readable
has "schema 12: what it reads is the same" "^685b8181d614f3535e1a01935642ab3a3797958ea42d9b61a2703e139caff743$"
ok "schema 12: list" env KRING_HOME="$T/v12" "$KRING" volunteer list
has "schema 12: list: Anna" "^1bd51de02c3e4f657aed8817063dc4a9 +Anna de Vries-Jansen +Utrecht +koken, rijden$"
has "schema 12: list: Piet" "^ee92561748e59557bb55e993c97b7abd +Piet Bakker +Amsterdam +koken$"
has "schema 12: list: Fatma" "Fatma Yılmaz +Delft +taalles$"
ok "schema 12: list --skill" env KRING_HOME="$T/v12" "$KRING" volunteer list --skill koken
[ "$(grep -c . "$T/out")" -eq 2 ] || { echo "FAIL: schema 12: list --skill koken: $(grep -c . "$T/out") lines"; fails=$((fails+1)); }
ok "schema 12: search" env KRING_HOME="$T/v12" "$KRING" volunteer search Vries-Jansen
has "schema 12: search finds Anna" "Anna de Vries-Jansen"
ok "schema 12: search a removed skill" env KRING_HOME="$T/v12" "$KRING" volunteer search tuinieren
hasnt "schema 12: a removed skill finds no one" "Piet"
ok "schema 12: show" env KRING_HOME="$T/v12" "$KRING" volunteer show Fatma
has "schema 12: show reads Fatma" "Delft"
ok "schema 12: consent" env KRING_HOME="$T/v12" "$KRING" consent show Anna
has "schema 12: consent to all, withdrawn" "contact +to all +withdrawn"
has "schema 12: consent to the node, granted" "contact +to [0-9a-f]{12} \(Voedselbank Oost\) granted"
ok "schema 12: edit" env KRING_HOME="$T/v12" "$KRING" volunteer set Piet "name=Pieter Smit"
ok "schema 12: search the old name" env KRING_HOME="$T/v12" "$KRING" volunteer search Bakker
hasnt "schema 12: the old name is gone from the index" "ee925617"
ok "schema 12: search the new name" env KRING_HOME="$T/v12" "$KRING" volunteer search Smit
has "schema 12: the new name is found" "^ee92561748e59557bb55e993c97b7abd +Pieter Smit"
ok "schema 12: consent after the edit" env KRING_HOME="$T/v12" "$KRING" consent withdraw Piet --purpose contact --to "Voedselbank Oost" --method papier
ok "schema 12: check" env KRING_HOME="$T/v12" "$KRING" check
# Erased after the upgrade: the index filled again from the rows (and the
# contentless one's entries, deleted by the values they were given) keeps
# no word of them, nor does any file.
ok "schema 12: erase Anna" env KRING_HOME="$T/v12" "$KRING" erase 1bd51de02c3e4f657aed8817063dc4a9 --reason verzoek --yes
ok "schema 12: erase Piet" env KRING_HOME="$T/v12" "$KRING" erase ee92561748e59557bb55e993c97b7abd --reason verzoek --yes
for w in Vries Jansen Utrecht zaterdag anna@example rijden Pieter Smit Bakker Amsterdam tuinieren koken; do
  if grep -aqi "$w" "$T/v12"/kring.db*; then echo "FAIL: schema 12: erased word '$w' still in the database files"; fails=$((fails+1)); fi
done
ok "schema 12: search after erasure" env KRING_HOME="$T/v12" "$KRING" volunteer search Fatma
has "schema 12: Fatma still found" "Fatma"

echo "test_cli: $n checks, $fails failed"
[ "$fails" -eq 0 ]
