#!/usr/bin/env bash
# test_harden: the real kring binary on a home it may not write, and the
# process's own protection of what it holds in memory:
# - a read-only home: read commands work (SQLite reads it immutable when
#   it cannot create its -shm beside it), writes fail with one line that
#   says why, and nothing is written; a store whose changes are still in
#   kring.db-wal cannot be read there, and the line says so.
# - no core dumps and no ptrace: a kring serve killed with SIGSEGV under
#   `ulimit -c unlimited` leaves no core file, its RLIMIT_CORE is 0, and it
#   is not dumpable (/proc/PID/status is then owned by root, not by the
#   user that runs it).
# Root ignores file permissions, so as root the checks that need them run
# kring as the user nobody (setpriv); where that is impossible they are
# skipped with a line that says so.
# Usage: test_harden.sh PATH/TO/kring
set -u
KRING="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
T="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"; }
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
    --home "$RO" erase "$ANNA" --reason test --yes
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

# --- no core dump, no ptrace ---------------------------------------------------------
S="$T/serve"
cp -r "$H" "$S"; own "$S"
mkdir "$T/cwd"; chmod 777 "$T/cwd"
if ! (ulimit -c unlimited) 2>/dev/null; then
  skip "core dumps: cannot raise RLIMIT_CORE here"
else
  ( cd "$T/cwd" && ulimit -c unlimited && exec "${AS[@]}" "$KRING" --home "$S" serve --listen 127.0.0.1:0 --interval 60 ) 2>"$T/serve.log" &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 100); do grep -q "serving on" "$T/serve.log" && break; sleep 0.05; done
  grep -q "serving on" "$T/serve.log" || { bad "serve did not start: $(cat "$T/serve.log")"; exit 1; }
  n=$((n + 1))
  limit=$(sed -n 's/^Max core file size *\([^ ]*\) *\([^ ]*\).*/\1 \2/p' "/proc/$pid/limits")
  [ "$limit" = "0 0" ] || bad "serve: RLIMIT_CORE is '$limit', want '0 0'"
  # Not dumpable: the kernel makes /proc/PID/* root's (proc(5)).
  n=$((n + 1))
  if as_user; then
    owner=$(stat -c %u "/proc/$pid/status")
    [ "$owner" = 0 ] || bad "serve: /proc/$pid/status belongs to uid $owner: the process is dumpable"
  else
    skip "dumpable: running as root without setpriv, /proc/PID is root's either way"
  fi
  kill -SEGV "$pid"
  wait "$pid" 2>/dev/null
  pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
  n=$((n + 1))
  case "$pattern" in
    "|"*) skip "core file: core_pattern pipes cores to ${pattern%% *}" ;;
    /*) skip "core file: core_pattern writes cores to ${pattern%/*}, outside this test" ;;
    *) [ -z "$(ls -A "$T/cwd")" ] || bad "SIGSEGV left a core file: $(ls "$T/cwd")" ;;
  esac
fi

echo "test_harden: $n checks, $fails failed, $skips skipped"
[ "$fails" -eq 0 ]
