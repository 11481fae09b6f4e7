#!/usr/bin/env bash
# test_crash: SIGKILL at random moments. 25 times during `kring bundle
# import` (5,000 + 1,000 changes): afterwards the store passes `kring
# check` (SQLite's integrity check) and holds either nothing of the bundle
# or all of it (one transaction), and importing again ends in the state of
# an import that was never interrupted. 25 times during a sync between a
# `kring serve` and `kring sync`, killing one side or the other: both
# stores pass the check, neither lost a change it had committed before,
# and syncing again converges to equal digests and change counts. Every
# 5th volunteer has consent for all members, so each node also reads some
# of the other's: what it reads after the kill and the retry equals what it
# reads after the uninterrupted run (kring digest --readable).
# usage: test_crash.sh KRING MKVOL [SEED] [ROUNDS]
set -uo pipefail
K="$1"; MKVOL="$2"
SEED="${3:-$RANDOM}"; ROUNDS="${4:-25}"
echo "test_crash: seed $SEED, $ROUNDS kills each (rerun: test_crash.sh KRING MKVOL $SEED $ROUNDS)"
. "$(dirname "$0")/../procs.sh"
changes() { k "$1" log | wc -l; }
ms() { date +%s%3N; }
# a moment between 0 and $1 ms, as seconds for sleep
moment() { awk -v r="$RANDOM" -v d="$1" 'BEGIN { printf "%.3f", r / 32768 * d / 1000 }'; }

serve() {
  local h="$1"
  : >"$T/$h.log"
  "$K" --home "$T/$h" serve --listen 127.0.0.1:0 --interval 3600 2>>"$T/$h.log" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*serving on 127.0.0.1 port \([0-9]*\).*/\1/p' "$T/$h.log" | tail -1)
    [ -n "$PORT" ] && return 0
    sleep 0.05
  done
  echo "serve $h did not start" >&2; cat "$T/$h.log" >&2; exit 1
}
halt() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# ---- two members: A0 with 5,000 volunteers, B0 with 1,000 ----
k A0 init --org "Voedselbank" --kind foodbank >/dev/null
serve A0
INV=$(k A0 invite --address "127.0.0.1:$PORT" 2>/dev/null)
k B0 join "$INV" --org "Buurtteam" --kind buurtteam >/dev/null 2>&1 || { echo "join failed" >&2; exit 1; }
halt "$SPID"
"$MKVOL" "$T/A0" 5000 "Vrijwilliger A" 5 || exit 1
"$MKVOL" "$T/B0" 1000 "Vrijwilliger B" 5 || exit 1
k A0 bundle export --out "$T/a.kb" --all >/dev/null 2>&1 || { echo "export failed" >&2; exit 1; }
B_BEFORE=$(changes B0)

# the reference: an import never interrupted
cp -a "$T/B0" "$T/R"
t0=$(ms); k R bundle import "$T/a.kb" >/dev/null 2>&1; t1=$(ms)
IMPORT_MS=$(( t1 - t0 + 1 ))
REF=$(k R digest); R_AFTER=$(changes R); REF_READ=$(k R digest --readable)
check '[ "$R_AFTER" -gt "$B_BEFORE" ]' "the reference import added changes"
check '[ "$(k R volunteer list 2>&1 >/dev/null)" = "2000 volunteers" ]' "the reference reads its 1000 and a's 1000 with consent for all"
echo "  import of $((R_AFTER - B_BEFORE)) new changes takes $IMPORT_MS ms"

# ---- SIGKILL during bundle import ----
mid=0
for i in $(seq 1 "$ROUNDS"); do
  rm -rf "$T/B"; cp -a "$T/B0" "$T/B"
  k B bundle import "$T/a.kb" >/dev/null 2>&1 &
  pid=$!; PIDS+=("$pid")
  sleep "$(moment $((IMPORT_MS * 12 / 10)))"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  check 'k B check >/dev/null 2>&1' "import kill $i: integrity check: $(k B check 2>&1)"
  n=$(changes B)
  check '[ "$n" -eq "$B_BEFORE" ] || [ "$n" -eq "$R_AFTER" ]' "import kill $i: $n changes, neither none nor all of the bundle"
  [ "$n" -eq "$B_BEFORE" ] && mid=$((mid + 1))
  k B bundle import "$T/a.kb" >/dev/null 2>&1
  check '[ "$(k B digest)" = "$REF" ]' "import kill $i: importing again does not reach the reference state"
  check '[ "$(k B digest --readable)" = "$REF_READ" ]' "import kill $i: importing again does not read what the reference reads"
done
echo "  bundle import: $ROUNDS kills, $mid before the commit"

# ---- SIGKILL during a sync, either side ----
rm -rf "$T/A" "$T/B"; cp -a "$T/A0" "$T/A"; cp -a "$T/B0" "$T/B"
serve A
t0=$(ms); k B sync "127.0.0.1:$PORT" >/dev/null 2>&1; t1=$(ms)
SYNC_MS=$(( t1 - t0 + 1 ))
halt "$SPID"
check '[ "$(k A digest)" = "$(k B digest)" ]' "an uninterrupted sync converges"
READ_A=$(k A digest --readable); READ_B=$(k B digest --readable)
check '[ "$READ_B" = "$REF_READ" ]' "b reads after a sync what it reads after the bundle"
echo "  a whole sync takes $SYNC_MS ms"
cut=0
for i in $(seq 1 "$ROUNDS"); do
  rm -rf "$T/A" "$T/B"; cp -a "$T/A0" "$T/A"; cp -a "$T/B0" "$T/B"
  serve A
  a0=$(changes A); b0=$(changes B)
  k B sync "127.0.0.1:$PORT" >/dev/null 2>&1 &
  pid=$!; PIDS+=("$pid")
  sleep "$(moment $((SYNC_MS * 12 / 10)))"
  if [ $((i % 2)) -eq 0 ]; then
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; halt "$SPID"; who="kring sync"
  else
    kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; wait "$pid" 2>/dev/null; who="kring serve"
  fi
  check 'k A check >/dev/null 2>&1 && k B check >/dev/null 2>&1' "sync kill $i ($who): integrity check"
  a1=$(changes A); b1=$(changes B)
  check '[ "$a1" -ge "$a0" ] && [ "$b1" -ge "$b0" ]' "sync kill $i ($who): a store lost changes ($a0 -> $a1, $b0 -> $b1)"
  { [ "$a1" -lt "$R_AFTER" ] || [ "$b1" -lt "$R_AFTER" ]; } && cut=$((cut + 1))
  serve A
  k B sync "127.0.0.1:$PORT" >/dev/null 2>&1
  halt "$SPID"
  check '[ "$(k A digest)" = "$(k B digest)" ] && [ "$(changes A)" -eq "$(changes B)" ]' \
    "sync kill $i ($who): syncing again does not converge"
  check '[ "$(k A digest --readable)" = "$READ_A" ] && [ "$(k B digest --readable)" = "$READ_B" ]' \
    "sync kill $i ($who): syncing again does not read what an uninterrupted sync reads"
done
echo "  sync: $ROUNDS kills, $cut of them before both held everything"
echo "test_crash: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
