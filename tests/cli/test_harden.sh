#!/usr/bin/env bash
# test_harden: the real kring binary on a home it may not write:
# - a read-only home: read commands work (SQLite reads it immutable when
#   it cannot create its -shm beside it), writes fail with one line that
#   says why, and nothing is written; a store whose changes are still in
#   kring.db-wal cannot be read there, and the line says so.
# Root ignores file permissions, so as root the checks that need them run
# kring as the user nobody (setpriv); where that is impossible they are
# skipped with a line that says so.
# Usage: test_harden.sh PATH/TO/kring
set -u
KRING="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
T="$(mktemp -d)"
cleanup() { chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
chmod 755 "$T"
fails=0
n=0
skips=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; skips=$((skips + 1)); }

# AS: how to run a command as a user that file permissions apply to.
AS=()
OWNER=""
if [ "$(id -u)" = 0 ]; then
  if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    AS=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
    OWNER="$(id -u nobody):$(id -g nobody)"
    if ! "${AS[@]}" "$KRING" --version >/dev/null 2>&1; then
      AS=(); OWNER=""
    fi
  fi
fi
as_user() { [ "$(id -u)" != 0 ] || [ ${#AS[@]} -gt 0 ]; }
own() { [ -z "$OWNER" ] || chown -R "$OWNER" "$@"; }

# run DESC WANT PATTERN ARGS...: kring as that user; exit WANT; one stderr
# line matching PATTERN when WANT != 0.
run() {
  local desc="$1" want="$2" pat="$3"; shift 3
  n=$((n + 1))
  "${AS[@]}" "$KRING" "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then bad "$desc: exit $got, want $want ($(head -1 "$T/err"))"; return; fi
  if [ "$want" -ne 0 ]; then
    head -1 "$T/err" | grep -qE -- "$pat" || bad "$desc: stderr '$(head -1 "$T/err")' does not match '$pat'"
    [ "$(wc -l <"$T/err")" -eq 1 ] || bad "$desc: $(wc -l <"$T/err") lines on stderr"
  fi
}

H="$T/home"
"$KRING" --home "$H" init --org "Buurtteam Oost" >/dev/null || { echo "FAIL: init"; exit 1; }
ANNA=$("$KRING" --home "$H" volunteer add --name "Anna de Vries" --city Delft)
DIGEST=$("$KRING" --home "$H" digest)

# --- a read-only home ---------------------------------------------------------------
if ! as_user; then
  skip "read-only home: running as root without setpriv or the user nobody"
else
  RO="$T/ro"
  cp -r "$H" "$RO"; own "$RO"; chmod 500 "$RO"
  run "read-only: list" 0 "" --home "$RO" volunteer list
  grep -q "Anna de Vries" "$T/out" || bad "read-only: list lacks Anna"
  run "read-only: show" 0 "" --home "$RO" volunteer show "$ANNA"
  run "read-only: check" 0 "" --home "$RO" check
  grep -q '^ok$' "$T/out" || bad "read-only: check does not say ok"
  run "read-only: digest" 0 "" --home "$RO" digest
  [ "$(cat "$T/out")" = "$DIGEST" ] || bad "read-only: another digest"
  run "read-only: status" 0 "" --home "$RO" status
  run "read-only: add" 1 "cannot change the store in .*/ro: it is read-only \(the folder is not writable for this user\)\. Reading works; to change it, make .*/ro and the files in it writable" \
    --home "$RO" volunteer add --name "Bert"
  run "read-only: erase" 1 "cannot change the store in .*/ro: it is read-only" \
    --home "$RO" erase "$ANNA" --reason test
  [ "$(ls "$RO")" = "$(printf 'kring.db\nnode.key')" ] || bad "read-only: files appeared: $(ls "$RO" | tr '\n' ' ')"

  # The last changes still in kring.db-wal (a process holds the store
  # open while it is copied): with -shm beside it SQLite reads it; without,
  # it cannot, and says so.
  python3 - "$H/kring.db" "$T/wal" <<'PY' || bad "read-only: cannot make a home with a WAL"
import shutil, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA wal_autocheckpoint=0")
db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('wal-test', 1)")
db.commit()
shutil.copytree(sys.argv[1].rsplit("/", 1)[0], sys.argv[2])
db.close()
PY
  [ -s "$T/wal/kring.db-wal" ] || bad "read-only: the copy has no WAL"
  own "$T/wal"; chmod 500 "$T/wal"
  run "read-only with WAL and -shm: list" 0 "" --home "$T/wal" volunteer list
  chmod 700 "$T/wal"; rm -f "$T/wal/kring.db-shm"; chmod 500 "$T/wal"
  run "read-only with WAL, no -shm" 1 "cannot open the store in .*/wal: it is read-only \(the folder is not writable for this user\) and kring.db-wal holds changes not yet in kring.db" \
    --home "$T/wal" volunteer list
fi

echo "test_harden: $n checks, $fails failed, $skips skipped"
[ "$fails" -eq 0 ]
