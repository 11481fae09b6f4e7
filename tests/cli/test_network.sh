#!/usr/bin/env bash
# test_network: three organisations in three homes, a network founded and
# joined offline, bundles carried in random orders (some twice, some
# stale), erasure relayed through a third node, and every refusal the
# bundle and membership rules promise. A node reads a volunteer it
# registered or one whose consent names it (or all): the volunteers edited
# everywhere here have consent for 'matching' to all, which no edit
# withdraws. Usage: test_network.sh PATH/TO/kring [SEED]
set -u
KRING="$1"
SEED="${2:-$RANDOM}"
RANDOM=$SEED
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0
n=0
echo "test_network: seed $SEED"

A="$T/a" B="$T/b" C="$T/c"
k() { local h="$1"; shift; "$KRING" --home "$h" "$@"; }
check() {   # check DESC COND...
  local desc="$1"; shift
  n=$((n + 1))
  if ! "$@"; then echo "FAIL: $desc"; fails=$((fails + 1)); fi
}
# refuse DESC PATTERN CMD...: exit 1, the pattern on stderr, nothing on stdout
refuse() {
  local desc="$1" pat="$2"; shift 2
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne 1 ] || ! grep -qE -- "$pat" "$T/err" || [ -s "$T/out" ]; then
    echo "FAIL: $desc: exit $got, stderr '$(head -1 "$T/err")'"; fails=$((fails + 1))
  fi
}
must() { "$@" >"$T/out" 2>"$T/err" || { echo "FAIL: '$*': $(head -1 "$T/err")"; fails=$((fails + 1)); }; }

# --- founding and joining offline ---------------------------------------
must k "$A" init --org "Voedselbank Noord" --kind foodbank
INV_B=$(k "$A" invite --expires 2h 2>/dev/null)
INV_C=$(k "$A" invite 2>/dev/null)
REQ_B=$(k "$B" join "$INV_B" --org "Buurtteam Oost" --kind buurtteam --offline 2>/dev/null)
REQ_C=$(k "$C" join "$INV_C" --org "MZO Samen" --kind mzo --offline 2>/dev/null)
check "join prints a request" test -n "$REQ_B" -a -n "$REQ_C"
refuse "not yet a member cannot edit" "waiting to be admitted.*kring member accept.*bundle import" k "$B" volunteer add --name "Vroeg"
refuse "not yet a member cannot export" "not a member yet" k "$B" bundle export --all --out "$T/x"
must k "$A" member accept "$REQ_B"
must k "$A" member accept "$REQ_C"
refuse "reused invite" "already been used" k "$A" member accept "$REQ_B"
refuse "join on an existing home" "already holds" k "$B" join "$INV_B" --org X --offline
must k "$A" bundle export --for "Buurtteam Oost" --out "$T/a-b0"
must k "$A" bundle export --for "MZO Samen" --out "$T/a-c0"
must k "$B" bundle import "$T/a-b0"
must k "$C" bundle import "$T/a-c0"
must k "$B" member list
check "b sees three members" test "$(grep -c . "$T/out")" -eq 3

# Expired and forged invites.
SHORT=$(k "$A" invite --expires 1m 2>/dev/null)
refuse "malformed invite" "this invite is damaged.*as a file" k "$T/d" join "kring-invite-2.____" --org D --offline
TAMPER="${SHORT%?}$( [ "${SHORT: -1}" = A ] && echo B || echo A)"
refuse "tampered invite" "does not verify|is damaged" k "$T/d" join "$TAMPER" --org D --offline
check "refused join leaves no home" test ! -e "$T/d/kring.db"
faketime_join() { KRING_TEST_NOW_MS=$(( $(date +%s) * 1000 + 3600 * 1000 )) k "$@"; }
refuse "expired invite (join)" "expired" faketime_join "$T/d" join "$SHORT" --org D --offline
REQ_D=$(k "$T/d" join "$SHORT" --org D --offline 2>/dev/null)
refuse "expired invite (accept)" "expired" faketime_join "$A" member accept "$REQ_D"

# --- concurrent edits on all three ---------------------------------------
ANNA=$(k "$A" volunteer add --name "Anna de Vries" --city Amsterdam --skill koken)
PIET=$(k "$A" volunteer add --name "Piet Zeldzaamnaam" --city Utrecht --skill rijden)
# every member reads them: consent for matching to all, which no edit below withdraws
must k "$A" consent grant "$ANNA" --purpose matching --to all --method paper
must k "$A" consent grant "$PIET" --purpose matching --to all --method paper
must k "$A" consent grant "$ANNA" --purpose contact --to all --method paper
# and one only a reads (no consent): held sealed by the others
ALLEEN=$(k "$A" volunteer add --name "Alleen Noordelijk" --city Groningen)
must k "$A" bundle export --for "Buurtteam Oost" --out "$T/a-b1"
must k "$A" bundle export --for "MZO Samen" --out "$T/a-c1"
must k "$B" bundle import "$T/a-b1"
must k "$C" bundle import "$T/a-c1"

i=0
for round in 1 2 3; do
  for h in "$A" "$B" "$C"; do
    i=$((i + 1))
    case $((RANDOM % 6)) in
      0) must k "$h" volunteer set "$ANNA" city="Stad$i" ;;
      1) must k "$h" volunteer set "$ANNA" --add skill="vak$i" ;;
      2) must k "$h" consent withdraw "$ANNA" --purpose contact --to all ;;
      3) must k "$h" consent grant "$ANNA" --purpose contact --to all --method verbal ;;
      4) must k "$h" volunteer set "$PIET" phone=0612345678 ;;
      5) NEW=$(k "$h" volunteer add --name "Nieuw $i" --city Zwolle)
         must k "$h" consent grant "$NEW" --purpose matching --to all --method paper ;;
    esac
  done
  # Bundles between random pairs, sometimes twice, sometimes stale.
  for j in 1 2 3 4; do
    from=$(( RANDOM % 3 )); to=$(( (from + 1 + RANDOM % 2) % 3 ))
    hs=("$A" "$B" "$C")
    f="$T/bundle-$round-$j"
    must k "${hs[$from]}" bundle export --for "$(k "${hs[$to]}" id | cut -c1-16)" --out "$f"
    must k "${hs[$to]}" bundle import "$f"
    [ $((RANDOM % 3)) -eq 0 ] && must k "${hs[$to]}" bundle import "$f"
    [ $round -gt 1 ] && [ $((RANDOM % 2)) -eq 0 ] && must k "${hs[$to]}" bundle import "$T/bundle-1-$j"
  done
done

# --- erasure relayed: made on c, reaches a only through b ----------------
must k "$C" bundle export --for "Buurtteam Oost" --out "$T/c-b"
must k "$B" bundle import "$T/c-b"
must k "$C" erase "$PIET" --reason "verzoek van de vrijwilliger" --yes
must k "$C" bundle export --for "Buurtteam Oost" --out "$T/c-b2"
must k "$B" bundle import "$T/c-b2"
must k "$B" bundle export --for "Voedselbank Noord" --out "$T/b-a"
must k "$A" bundle import "$T/b-a"
must k "$A" volunteer show "$PIET"
check "a learned the erasure through b" grep -q "erased" "$T/out"

# --- everyone everything: equal digests, equal to in-order import -------
for from in "$A" "$B" "$C"; do
  for to in "$A" "$B" "$C"; do
    [ "$from" = "$to" ] && continue
    must k "$from" bundle export --for "$(k "$to" id | cut -c1-16)" --out "$T/final"
    must k "$to" bundle import "$T/final"
  done
done
DA=$(k "$A" digest); DB=$(k "$B" digest); DC=$(k "$C" digest)
check "digests equal (a=b)" test "$DA" = "$DB"
check "digests equal (a=c)" test "$DA" = "$DC"
# What each reads: b and c the same volunteers, a one more (its own, sealed
# for the others).
RA=$(k "$A" digest --readable); RB=$(k "$B" digest --readable); RC=$(k "$C" digest --readable)
check "readable digests equal with the same rights (b=c)" test "$RB" = "$RC"
check "readable digests differ with other rights (a, b)" test "$RA" != "$RB"
must k "$B" status --json
check "b holds a's own volunteer sealed" grep -q '"sealed": 1' "$T/out"
refuse3() {   # refuse3 DESC CMD...: exit 3, the sealed line, nothing on stdout
  local desc="$1"; shift
  n=$((n + 1))
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne 3 ] || ! grep -q "sealed: this node may not read this volunteer" "$T/err" || [ -s "$T/out" ]; then
    echo "FAIL: $desc: exit $got, stderr '$(head -1 "$T/err")'"; fails=$((fails + 1))
  fi
}
refuse3 "b may not read a's own volunteer" k "$B" volunteer show "$ALLEEN"
# A node that imports everything in one bundle, in order.
REQ_E=$(k "$T/e" join "$(k "$A" invite 2>/dev/null)" --org "Zorg" --kind care --offline 2>/dev/null)
must k "$A" member accept "$REQ_E"
must k "$A" bundle export --all --out "$T/all"
must k "$T/e" bundle import "$T/all"
for h in "$B" "$C"; do must k "$A" bundle export --for "$(k "$h" id | cut -c1-16)" --out "$T/adm"; must k "$h" bundle import "$T/adm"; done
DA=$(k "$A" digest); DE=$(k "$T/e" digest); DB=$(k "$B" digest)
check "in-order node has the same digest" test "$DA" = "$DE"
check "admission reached b" test "$DA" = "$DB"
# The new member reads what has consent for all (a sealed the keys to it
# when it admitted it), and so what b reads.
check "the new member reads what b reads" test "$(k "$T/e" digest --readable)" = "$(k "$B" digest --readable)"
must k "$T/e" volunteer show "$ANNA"
check "the new member reads anna" grep -q "^name *Anna de Vries" "$T/out"

# The erased name is in no database file.
# (secure_delete overwrites deleted cells; no VACUUM needed.)
for h in "$A" "$B" "$C" "$T/e"; do
  check "no erased name in $(basename "$h")" bash -c "! grep -qa Zeldzaamnaam '$h/kring.db' '$h/kring.db-wal' 2>/dev/null"
done

# --- refusals leave the digest unchanged ---------------------------------
must k "$B" volunteer set "$ANNA" notes="van b"
must k "$B" bundle export --for "Voedselbank Noord" --out "$T/good"
BEFORE=$(k "$A" digest)
SIZE=$(stat -c %s "$T/good")
cp "$T/good" "$T/flip"; printf '\x55' | dd of="$T/flip" bs=1 seek=$((SIZE / 2)) conv=notrunc status=none
cmp -s "$T/good" "$T/flip" && printf '\xaa' | dd of="$T/flip" bs=1 seek=$((SIZE / 2)) conv=notrunc status=none
refuse "flipped byte" "does not verify|damaged" k "$A" bundle import "$T/flip"
head -c $((SIZE - 10)) "$T/good" > "$T/trunc"
refuse "truncated" "truncated|does not verify" k "$A" bundle import "$T/trunc"
head -c 100 "$T/good" > "$T/short"
refuse "very short" "truncated|not a kring bundle" k "$A" bundle import "$T/short"
refuse "not a bundle" "not a kring bundle" k "$A" bundle import /etc/hostname
refuse "missing file" "no such file" k "$A" bundle import "$T/nothing"
must k "$T/other" init --org "Ander Netwerk"
must k "$T/other" bundle export --all --out "$T/othernet"
refuse "other network" "another kring network" k "$A" bundle import "$T/othernet"
check "digest unchanged by refusals" test "$BEFORE" = "$(k "$A" digest)"
must k "$A" bundle import "$T/good"
check "the good bundle still imports" test "$BEFORE" != "$(k "$A" digest)"

# --- a clock set ahead pins nothing ---------------------------------------
# b's clock is 3 hours ahead: its edit reaches a in a bundle and is held,
# not applied and not refused; a's own edit shows meanwhile; status says
# what is held and until when; once a's clock is there, it is applied.
AHEAD=$(( $(date +%s) * 1000 + 3 * 3600 * 1000 ))
KEES=$(k "$A" volunteer add --name "Kees Klok" --city Utrecht)
must k "$A" consent grant "$KEES" --purpose matching --to "Buurtteam Oost" --method paper
must k "$A" bundle export --for "Buurtteam Oost" --out "$T/kees"
must k "$B" bundle import "$T/kees"
must env KRING_TEST_NOW_MS=$AHEAD "$KRING" --home "$B" volunteer set "$KEES" city=Toekomststad
must env KRING_TEST_NOW_MS=$AHEAD "$KRING" --home "$B" bundle export --for "Voedselbank Noord" --out "$T/ahead"
must k "$A" bundle import "$T/ahead"
check "import says a change is held" grep -q "^1 change held: stamped ahead" "$T/out"
must k "$A" volunteer show "$KEES"
check "a change from 3 h ahead is not applied" grep -q "Utrecht" "$T/out"
must k "$A" status
check "status says what is held and why" grep -qE "1 change of .*Buurtteam Oost.* held until .*: stamped ahead of this clock" "$T/out"
must k "$A" volunteer set "$KEES" city=Delft
must k "$A" volunteer show "$KEES"
check "a's own edit shows meanwhile" grep -q "Delft" "$T/out"
# (on a copy: a's clock stamps what it writes from then on, and a node
# whose clock ran ahead has its next changes held elsewhere in turn)
cp -r "$A" "$T/a-later"
must env KRING_TEST_NOW_MS=$(( AHEAD + 60000 )) "$KRING" --home "$T/a-later" volunteer show "$KEES"
check "applied once the clock is there" grep -q "Toekomststad" "$T/out"
must env KRING_TEST_NOW_MS=$(( AHEAD + 60000 )) "$KRING" --home "$T/a-later" status --json
check "nothing held any more" grep -q '"held": \[\]' "$T/out"

# --- the founder stays; who admitted whom ----------------------------------
refuse "the founder cannot be removed" "founded this network and cannot be removed" \
  k "$B" member remove "Voedselbank Noord" --reason "weg"
must k "$B" network
check "network says who admitted whom, and when" \
  grep -qE "Buurtteam Oost .*member \(this node\), admitted by .*Voedselbank Noord.* on [0-9]{4}-" "$T/out"

# --- a removed member's later bundle is refused --------------------------
must k "$A" member remove "MZO Samen" --reason "organisatie gestopt" --yes
refuse "remove twice" "removed already" k "$A" member remove "MZO Samen" --reason again
refuse "remove self" "cannot remove itself" k "$A" member remove "Voedselbank Noord" --reason x
# Nothing goes to a removed member: a bundle for it (sealed for the current
# members only, it could not read it) or consent to it. A withdrawal still may.
refuse "bundle for a removed member" "MZO Samen\) was removed from the network, so it cannot read a bundle; export for a current member: Voedselbank Noord, Buurtteam Oost, Zorg$" \
  k "$A" bundle export --for "MZO Samen" --out "$T/for-removed"
check "no bundle for the removed member" test ! -e "$T/for-removed"
C_ID=$(k "$C" id | cut -c1-64)
refuse "bundle for a removed member's id" "was removed" k "$A" bundle export --for "$C_ID" --out "$T/for-removed"
refuse "grant to a removed member" "was removed from the network, so consent cannot go to it; consent goes to all or to a member: Voedselbank Noord, Buurtteam Oost, Zorg$" \
  k "$A" consent grant --method papier "$ANNA" --purpose contact --to "MZO Samen"
refuse "grant to a removed member's id" "was removed" k "$A" consent grant --method papier "$ANNA" --purpose contact --to "$C_ID"
refuse "grant to a node id that is no member" "no member with node id 0123456789ab.*: Voedselbank Noord, Buurtteam Oost, Zorg$" \
  k "$A" consent grant --method papier "$ANNA" --purpose contact --to 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
must k "$A" consent withdraw "$ANNA" --purpose contact --to "MZO Samen"
must k "$A" consent withdraw "$ANNA" --purpose contact --to "$C_ID"
must k "$C" volunteer add --name "Na verwijdering"
must k "$C" bundle export --for "Voedselbank Noord" --out "$T/removed"
BEFORE=$(k "$A" digest)
refuse "removed member's bundle" "not a member" k "$A" bundle import "$T/removed"
check "digest unchanged" test "$BEFORE" = "$(k "$A" digest)"
# The removal travels; b then refuses c's later changes too.
must k "$A" bundle export --for "Buurtteam Oost" --out "$T/a-b-rm"
must k "$B" bundle import "$T/a-b-rm"
refuse "b refuses the removed member" "not a member" k "$B" bundle import "$T/removed"
must k "$B" member list
check "member list shows the removal" grep -q "removed" "$T/out"

# --- a member's invite: it names the member; another member accepts it ------
INV_F=$(k "$B" invite 2>/dev/null)
INV_A=$(k "$A" invite 2>/dev/null)
check "a member's invite names it too (32 bytes more)" test "${#INV_F}" -gt "${#INV_A}"
REQ_F=$(k "$T/f" join "$INV_F" --org "Wijkteam Zuid" --kind buurtteam --offline 2>/dev/null)
check "the new node trusts its inviter" test -n "$REQ_F"
must k "$A" member accept "$REQ_F"
check "a member accepts another member's invite" grep -q "admitted Wijkteam Zuid" "$T/out"
refuse "the request again, now used" "already been used" k "$A" member accept "$REQ_F"
refuse "a request for another network" "for another kring network" k "$T/other" member accept "$REQ_F"

echo "test_network: $n checks, $fails failed (seed $SEED)"
[ "$fails" -eq 0 ]
