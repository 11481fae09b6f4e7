#!/usr/bin/env bash
# test_online: real `kring serve` processes on 127.0.0.1 (ports the kernel
# picks). Three organisations join online, edit concurrently and converge;
# a node killed with SIGKILL while receiving 50,000 changes resumes with
# nothing lost or duplicated; strangers, pending and removed members are
# refused; a dead address fails clearly; two nodes converge on 20,000
# changes each through a relay that keeps cutting the link. A node reads
# the volunteers it registered and those whose consent names it or all;
# the others it holds and relays sealed, and the digests compared are of
# the changes held (kring digest).
# usage: test_online.sh KRING MKVOL RELAY [SEED]
set -uo pipefail
K="$1"; MKVOL="$2"; RELAY="$3"
SEED="${4:-$RANDOM}"
echo "test_online: seed $SEED (rerun: test_online.sh KRING MKVOL RELAY $SEED)"
. "$(dirname "$0")/../procs.sh"

# serve HOME: start kring serve, set PORT and remember the pid
serve() {
  local h="$1"
  "$K" --home "$T/$h" serve --listen 127.0.0.1:0 --interval 2 2>>"$T/$h.log" &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_$h=$pid"
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*serving on 127.0.0.1 port \([0-9]*\).*/\1/p' "$T/$h.log" | tail -1)
    [ -n "$PORT" ] && { eval "PORT_$h=$PORT"; return 0; }
    sleep 0.05
  done
  echo "serve $h did not start" >&2; cat "$T/$h.log" >&2; exit 1
}
stop() {
  local pid; eval "pid=\$PID_$1"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then bad "serve $1 did not stop within 10 s of SIGTERM"; kill -9 "$pid"; fi
  wait "$pid" 2>/dev/null
}

# converge TIMEOUT HOME...: wait until every digest is equal
converge() {
  local limit="$1"; shift
  local end=$((SECONDS + limit)) d first all
  while [ $SECONDS -le $end ]; do
    first=""; all=1
    for h in "$@"; do
      d=$(k "$h" digest 2>/dev/null) || { all=0; break; }
      if [ -z "$first" ]; then first="$d"; elif [ "$d" != "$first" ]; then all=0; fi
    done
    [ "$all" = 1 ] && return 0
    sleep 0.3
  done
  for h in "$@"; do echo "  $h: $(k "$h" digest) $(k "$h" log | wc -l) changes" >&2; done
  return 1
}

# ---- three organisations join online and edit concurrently ----
k A init --org "Voedselbank Noord" --kind foodbank >/dev/null
serve A
INV=$(k A invite --address "127.0.0.1:$PORT_A" 2>/dev/null)
check '[ -n "$INV" ]' "invite with an address"
k B join "$INV" --org "Buurtteam Oost" --kind buurtteam >"$T/join.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q "joined" "$T/join.out"' "B joins online: $(cat "$T/join.out")"
check 'k B network | grep -q "Voedselbank Noord"' "B knows the founder"
check '! k B network | grep -q "not a member yet"' "B is admitted"
# a second join with the same invite is refused
k X join "$INV" --org "Tweede" >"$T/x.out" 2>&1; rc=$?
check '[ $rc -ne 0 ] && grep -q "already been used" "$T/x.out"' "invite used twice: $(cat "$T/x.out")"
serve B
INV2=$(k B invite --address "127.0.0.1:$PORT_B" 2>/dev/null)
k C join "$INV2" --org "MZO Samen" --kind mzo >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ]' "C joins online through B"
serve C
k A peer add mzo "127.0.0.1:$PORT_C" >/dev/null
k C peer add noord "127.0.0.1:$PORT_A" >/dev/null
check 'k C peer list | grep -q noord' "peer list"
converge 30 A B C; rc=$?; check '[ $rc -eq 0 ]' "three members agree after joining"
# 15 volunteers each; 10 of them with consent for all members, 5 that
# only the node that registered them reads
for h in A B C; do
  ( for i in $(seq 1 15); do
      v=$(k "$h" volunteer add --name "$h vrijwilliger $i" --city Deventer)
      [ "$i" -le 10 ] && k "$h" consent grant "$v" --purpose matching --to all --method paper >/dev/null
    done ) &
done
wait_edits() { for j in $(jobs -p); do case " ${PIDS[*]} " in *" $j "*) ;; *) wait "$j";; esac; done; }
wait_edits
k A volunteer list | grep -q "vrijwilliger" || true
converge 60 A B C; rc=$?; check '[ $rc -eq 0 ]' "concurrent edits converge"
check '[ "$(k C volunteer list 2>/dev/null | grep -c vrijwilliger)" -eq 35 ]' "C reads its 15 volunteers and the 20 of the others with consent for all"
check 'k C status --json | grep -q "\"sealed\": 10"' "C holds the other 10 sealed"
check '[ "$(k B digest --readable)" != "$(k C digest --readable)" ]' "B and C read different volunteers"
check 'k A status | grep -q "mzo"' "status lists the peer"
check 'k A status | grep -q "lacks 0 changes"' "status: the peer lacks nothing"
check 'grep -q "sync with mzo" "$T/A.log"' "serve logs one line per session"

# one edit reaches a serving peer by itself (with consent for A, so that A reads it)
EEN=$(k B volunteer add --name "Eenmalige Edit")
k B consent grant "$EEN" --purpose matching --to "Voedselbank Noord" --method paper >/dev/null
for _ in $(seq 1 50); do k A volunteer search Eenmalige 2>/dev/null | grep -q Eenmalige && break; sleep 0.1; done
check 'k A volunteer search Eenmalige | grep -q Eenmalige' "an edit on B reaches A without a command"

# ---- refusals ----
k S init --org "Vreemd" >/dev/null
k S sync "127.0.0.1:$PORT_A" >/dev/null 2>"$T/s.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "another network" "$T/s.err"' "a node of another network is refused: $(cat "$T/s.err")"
INV3=$(k A invite 2>/dev/null)
k P join "$INV3" --org "Wacht" --offline >/dev/null 2>&1
k P sync "127.0.0.1:$PORT_A" >/dev/null 2>"$T/p.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "not a member" "$T/p.err"' "a node not admitted is refused: $(cat "$T/p.err")"
k A member remove "MZO Samen" --reason "gestopt" --yes >/dev/null
converge 30 A B; rc=$?; check '[ $rc -eq 0 ]' "the removal travels"
stop C
k C sync noord >/dev/null 2>"$T/c.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "removed" "$T/c.err"' "a removed member is refused: $(cat "$T/c.err")"
k A sync 127.0.0.1:1 >/dev/null 2>"$T/dead.err"; rc=$?
check '[ $rc -ne 0 ] && grep -q "cannot connect to 127.0.0.1:1" "$T/dead.err"' "a dead address: $(cat "$T/dead.err")"
k A sync nosuchpeer >/dev/null 2>&1; rc=$?
check '[ $rc -ne 0 ]' "an unknown peer name"

# ---- SIGKILL while receiving 50,000 changes ----
# (every 2nd with consent for all: A reads 25,000 and holds 25,000 sealed)
sealed_before=$(k A status --json | sed -n 's/.*"sealed": \([0-9]*\).*/\1/p')
"$MKVOL" "$T/B" 50000 "Massa" 2 || bad "mkvol"
stop A
before=$(k A log | wc -l)
"$K" --home "$T/A" sync "127.0.0.1:$PORT_B" >/dev/null 2>&1 &
SP=$!
# kill it once a random share of the batches has been committed
want=$((before + 2000 + RANDOM % 30000))
for _ in $(seq 1 400); do [ "$(k A log | wc -l)" -ge "$want" ] && break; sleep 0.05; done
kill -9 $SP 2>/dev/null; wait $SP 2>/dev/null
mid=$(k A log | wc -l)
echo "  killed after $((mid - before)) of about 50000 changes"
check '[ "$mid" -ge "$before" ]' "the store opens after SIGKILL"
k A sync "127.0.0.1:$PORT_B" >"$T/resume.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "the sync resumes: $(cat "$T/resume.out")"
converge 5 A B; rc=$?; check '[ $rc -eq 0 ]' "nothing lost: equal digests after the resume"
check '[ "$(k A log | wc -l)" -eq "$(k B log | wc -l)" ]' "nothing duplicated: equal change counts"
check '[ "$(k A volunteer list --json | grep -o "Massa" | wc -l)" -eq 25000 ]' "all 25000 volunteers A may read arrived"
sealed_after=$(k A status --json | sed -n 's/.*"sealed": \([0-9]*\).*/\1/p')
check '[ "$sealed_after" -eq $((sealed_before + 25000)) ]' "the 25000 others arrived sealed ($sealed_before before, $sealed_after after)"
stop B

# ---- an intermittent link: 20,000 changes each way through a cutting relay ----
k G init --org "Zorg Centrum" --kind care >/dev/null
serve G
INVG=$(k G invite --address "127.0.0.1:$PORT_G" 2>/dev/null)
k H join "$INVG" --org "Steunpunt" --kind centre >/dev/null 2>&1 || bad "H joins G"
"$MKVOL" "$T/G" 20000 "Gzijde" && "$MKVOL" "$T/H" 20000 "Hzijde" || bad "mkvol G/H"
"$RELAY" "$PORT_G" "$SEED" >"$T/relay.port" 2>"$T/relay.log" &
RELAY_PID=$!
PIDS+=("$RELAY_PID")
for _ in $(seq 1 50); do [ -s "$T/relay.port" ] && break; sleep 0.05; done
RP=$(head -1 "$T/relay.port")
k H peer remove Zorg-Centrum >/dev/null || bad "H had its inviter as a peer"
k H peer add viarelay "127.0.0.1:$RP" >/dev/null
serve H
converge 240 G H; rc=$?; check '[ $rc -eq 0 ]' "G and H converge through the relay"
echo "  relay: $(tail -1 "$T/relay.log")"
check '[ "$(grep -c "sync with viarelay" "$T/H.log")" -ge 1 ]' "H logged its sessions"
check 'grep -q "failed" "$T/H.log"' "the relay did cut sessions"

kill "$RELAY_PID" 2>/dev/null
for h in A B G H; do eval "p=\${PID_$h:-}"; [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
wait 2>/dev/null
check 'grep -q "stopped" "$T/G.log"' "serve stops cleanly on SIGTERM"

echo "test_online: $checks checks, $fails failed (seed $SEED)"
[ "$fails" -eq 0 ]
