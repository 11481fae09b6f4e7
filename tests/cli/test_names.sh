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

echo "test_names: $n checks, $fails failed"
[ "$fails" -eq 0 ]
