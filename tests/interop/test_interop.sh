#!/usr/bin/env bash
# test_interop: kr4.py, a second implementation of the change format
# written from docs/protocol.md alone, reads what the real kring writes.
# a founds a network, b and c join offline; a registers volunteers: two
# with consent to b (one to b by name, one to all: a record with key
# entries to b and c), one with none (b may not read it), one erased (a's
# bundle carries its records withheld). kr4.py reads a's bundle for b with
# b's node key and must verify every change (header, node table,
# signature, root over the leaves, registering records' derived subjects,
# redactions, the rules across a change's records), find in the derived
# subjects the ids kring printed, open every key entry sealed to b, open
# every group (record's box) of those volunteers and find the values a
# added; it must not read the others. A change with one byte of an op
# flipped (the signature still good) is refused by kr4.py with the root
# mismatch; and kring itself refuses that change in a bundle kr4.py
# writes, and reads the rest. Then kr4.py re-makes Sanne's registering
# change, re-signed with a's key, once valid (key entries, key-only
# records) and once per rule of records broken (readers twice or
# descending, odd keys, a reader not in the table, a record on the subject
# the change registers, two records of one epoch, a record with neither
# box nor key, a key op of its own): kr4.py and kring refuse each, for the
# same reason, and take the valid one. So a change to the format that
# forgets docs/protocol.md fails here. Skipped, saying so, without PyNaCl
# (Debian python3-nacl). Usage: test_interop.sh PATH/TO/kring
set -u
KRING="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
KR4="$HERE/kr4.py"

# A Python 3 that has PyNaCl: KR4_PYTHON, python3 on the PATH, or Debian's
# (python3-nacl installs into /usr/bin/python3's packages, which a python3
# of pyenv or a venv earlier on the PATH does not see).
PY=""
for p in "${KR4_PYTHON:-}" python3 /usr/bin/python3; do
  [ -n "$p" ] || continue
  if "$p" -c 'import nacl.bindings' >/dev/null 2>&1; then PY="$p"; break; fi
done
if [ -z "$PY" ]; then
  echo "test_interop: SKIP: no python3 with PyNaCl (apt-get install python3-nacl, or ./scripts/deps --test)"
  exit 0
fi

T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0
n=0
A="$T/a" B="$T/b" C="$T/c"
k() { local h="$1"; shift; "$KRING" --home "$h" "$@"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
must() { n=$((n + 1)); "$@" >"$T/out" 2>"$T/err" || fail "'$*': $(head -1 "$T/err")"; }
has() { n=$((n + 1)); grep -qE -- "$2" "$T/out" || { fail "$1: no line matches '$2'"; sed 's/^/  | /' "$T/out" | head -20; }; }

must "$PY" "$KR4" selftest

# --- the network --------------------------------------------------------
must k "$A" init --org "Voedselbank Noord" --kind foodbank
INV=$(k "$A" invite --expires 2h 2>/dev/null)
REQ=$(k "$B" join "$INV" --org "Buurtteam Oost" --kind buurtteam --offline 2>/dev/null)
must k "$A" member accept "$REQ"
BID=$(k "$B" id | cut -d' ' -f1)
INV=$(k "$A" invite --expires 2h 2>/dev/null)
REQ=$(k "$C" join "$INV" --org "Zorgcentrum West" --kind care --offline 2>/dev/null)
must k "$A" member accept "$REQ"
CID=$(k "$C" id | cut -d' ' -f1)

# Anna: consent to b by name, two purposes (the second grant names b by id
# inside the group when that change's node table lacks it), one withdrawn
# (a withdrawal in clear naming b by number); every field kind
ANNA=$(k "$A" volunteer add --name "Anna Interop" --email anna@example.nl --phone 0612345678 \
  --postcode "1234 AB" --city Utrecht --birth-year 1980 --skill koken --language nl \
  --availability ma-ochtend --note "rijbewijs B")
must k "$A" consent grant "$ANNA" --purpose contact --to "Buurtteam Oost" --method papier --text-version 2025-1
must k "$A" consent grant "$ANNA" --purpose matching --to "Buurtteam Oost" --method digitaal --until 2099-12-31
must k "$A" consent withdraw "$ANNA" --purpose matching --to "Buurtteam Oost"
must k "$A" volunteer set "$ANNA" city=Zwolle --add skill=fietsen --remove skill=koken
# Bram: consent to all (b and c get his key in one record: readers ascending)
BRAM=$(k "$A" volunteer add --name "Bram Iedereen" --city Delft)
must k "$A" consent grant "$BRAM" --purpose contact --to all --method mondeling
# Sanne: no consent, b may not read her
SANNE=$(k "$A" volunteer add --name "Sanne Alleen" --city Groningen)
# Piet: consent to b, then erased on a: his ops travel withheld
PIET=$(k "$A" volunteer add --name "Piet Gewist" --city Assen)
must k "$A" consent grant "$PIET" --purpose contact --to "Buurtteam Oost" --method papier
must k "$A" erase "$PIET" --reason "verzoek van de vrijwilliger" --yes
for v in "$ANNA" "$BRAM" "$SANNE" "$PIET"; do
  [[ "$v" =~ ^[0-9a-f]{32}$ ]] || fail "volunteer add printed '$v', not an id"
done

must k "$A" bundle export --for "Buurtteam Oost" --out "$T/ab"
COUNT=$(sed -n 's/^wrote \([0-9]*\) changes.*/\1/p' "$T/out")
[ -n "$COUNT" ] || fail "bundle export: no count in '$(head -1 "$T/out")'"

# --- kr4.py reads a's bundle with b's key -------------------------------
n=$((n + 1))
if ! "$PY" "$KR4" read "$T/ab" "$B/node.key" --json "$T/r.json" >"$T/kr4.out" 2>&1; then
  fail "kr4.py read: $(grep -m3 -E 'FAIL|kr4' "$T/kr4.out" | tr '\n' ' ')"
  sed 's/^/  | /' "$T/kr4.out" | head -60
fi

n=$((n + 1))
if ! "$PY" - "$T/r.json" "$BID" "${COUNT:-0}" "$ANNA" "$BRAM" "$SANNE" "$PIET" >"$T/check" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
bid, count, anna, bram, sanne, piet = sys.argv[2], int(sys.argv[3]), *sys.argv[4:]
bad = []
def want(cond, what):
    if not cond: bad.append(what)
chs = r['changes']
want(r['for'] == bid, 'the bundle is not for b')
want(len(chs) == count and not r['failures'], 'verified %d changes of %d, failures %s' % (len(chs), count, r['failures']))
ops = [o for c in chs for o in c['ops']]
types = {o['type'] for o in ops}
want({5, 6, 7, 8, 13, 14, 15} <= types, 'op types seen: %s' % sorted(types))
want(any(c['nodes'] for c in chs), 'no change with a node table')
recs = [o for o in ops if o['type'] in (14, 15) and not o.get('withheld')]
entries = [e for o in recs for e in o['keys']]
keys_b = [e for e in entries if e['reader'] == bid]
want(len(keys_b) >= 2 and all(e['opened'] for e in keys_b), 'key entries sealed to b: %d, opened %d'
     % (len(keys_b), sum(1 for e in keys_b if e['opened'])))
want(all(e['opened'] is False for e in entries if e['reader'] != bid), 'a key entry sealed to another node opened')
wd = [o for o in ops if o['type'] == 5]
want(len(wd) == 1 and wd[0]['subject'] == anna and wd[0]['recipient'] == bid and wd[0]['purpose'] == 'matching',
     'the withdrawal in clear: %s' % wd)
def groups(v):
    return [o for o in recs if o['subject'] == v and o['has_box']]
def inner(v):
    return [i for o in groups(v) if o.get('opened') for i in o['inner']]
for v in (anna, bram):
    want(groups(v) and all(o.get('opened') for o in groups(v)), 'groups of %s: not all opened' % v)
sets = {(i['field'], i['value']) for i in inner(anna) if i['op'] in ('set', 'add')}
for fv in [('name', 'Anna Interop'), ('email', 'anna@example.nl'), ('phone', '0612345678'),
           ('postcode', '1234 AB'), ('city', 'Utrecht'), ('city', 'Zwolle'), ('birth_year', '1980'),
           ('skills', 'koken'), ('skills', 'fietsen'), ('languages', 'nl'), ('availability', 'mon-am'),
           ('notes', 'rijbewijs B')]:
    want(fv in sets, 'Anna: %s=%s not read' % fv)
rm = [i for i in inner(anna) if i['op'] == 'remove']
want(len(rm) == 1 and rm[0]['value'] == 'koken' and len(rm[0]['observed']) == 1, 'Anna: the remove %s' % rm)
adds = {i['tag'] for i in inner(anna) if i['op'] == 'add' and i['value'] == 'koken'}
want(rm and set(rm[0]['observed']) == adds, 'Anna: the remove does not observe the add\'s tag')
gr = [(i['purpose'], i['recipient'], i['method'], i['until']) for i in inner(anna) if i['op'] == 'grant']
want(('contact', bid, 1, '') in gr and ('matching', bid, 3, '2099-12-31') in gr, 'Anna: grants %s' % gr)
want(('name', 'Bram Iedereen') in {(i['field'], i['value']) for i in inner(bram) if i['op'] == 'set'}, 'Bram: name not read')
want(any(i['op'] == 'grant' and i['recipient'] is None for i in inner(bram)), 'Bram: the grant to all not read')
want(groups(sanne) and not any(o.get('opened') for o in groups(sanne)), 'Sanne: b read a group of hers')
want(any(o['type'] == 15 and o['subject'] == sanne for o in ops), 'Sanne: no registering record')
wh = [o for o in ops if o.get('withheld')]
want(wh and all(o['subject'] == piet for o in wh), 'withheld ops: %s' % [(o['type'], o['subject']) for o in wh])
want({14, 15} <= {o['type'] for o in wh}, 'Piet: registering record and record not both withheld')
want(not any(o['subject'] == piet and not o.get('withheld') and o['type'] != 6 for o in ops), 'Piet: an op in full')
want(any(o['type'] == 6 and o['subject'] == piet for o in ops), 'Piet: no erasure')
text = json.dumps(r)
for w in ('Sanne Alleen', 'Groningen', 'Piet Gewist', 'Assen'):
    want(w not in text, '%r was read' % w)
print('\n'.join(bad) if bad else 'ok')
sys.exit(1 if bad else 0)
EOF
then
  fail "kr4.py's reading of a's bundle:"; sed 's/^/  | /' "$T/check"
fi

# the rules of records, seen in what kring wrote: each volunteer's id is
# the subject kr4.py derived for one registering record (from the origin,
# the change's nonce and r), Piet's withheld; Bram's grant to all is a
# record with key entries to b and c, readers ascending; no change holds
# two records of one (subject, epoch, creator) or a record (14) on a
# subject it registers
n=$((n + 1))
if ! "$PY" - "$T/r.json" "$BID" "$CID" "$ANNA" "$BRAM" "$SANNE" "$PIET" >"$T/check" 2>&1 <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
bid, cid, anna, bram, sanne, piet = sys.argv[2:]
bad = []
def want(cond, what):
    if not cond: bad.append(what)
regs = {}
for c in r['changes']:
    seen, registered = set(), {o['subject'] for o in c['ops'] if o['type'] == 15}
    for o in c['ops']:
        if o['type'] == 15:
            regs.setdefault(o['subject'], []).append((c['seq'], o.get('withheld', False)))
        if o['type'] == 14:
            want(o['subject'] not in registered, 'seq %d: a record (14) on a subject it registers' % c['seq'])
        if o['type'] in (14, 15) and not o.get('withheld'):
            k = (o['subject'], o['epoch'], o['creator'])
            want(k not in seen, 'seq %d: two records of %s' % (c['seq'], k))
            seen.add(k)
            nums = [e['number'] for e in o['keys']]
            want(nums == sorted(set(nums)), 'seq %d: readers %s not ascending' % (c['seq'], nums))
want(set(regs) == {anna, bram, sanne, piet} and all(len(x) == 1 for x in regs.values()),
     'registering records by derived subject: %s; the ids kring printed: %s' % (regs, [anna, bram, sanne, piet]))
want(regs.get(piet, [(0, False)])[0][1], 'Piet: his registering record not withheld')
two = [o for c in r['changes'] for o in c['ops'] if o['type'] in (14, 15) and not o.get('withheld')
       and o['subject'] == bram and [e['reader'] for e in o['keys']] == sorted([bid, cid])]
want(two, 'no record of Bram with key entries to b and c, in that order')
print('\n'.join(bad) if bad else 'ok')
sys.exit(1 if bad else 0)
EOF
then
  fail "the rules of records in a's bundle:"; sed 's/^/  | /' "$T/check"
fi

# --- a flipped byte: the root no longer matches --------------------------
mkdir "$T/chg"
must "$PY" "$KR4" changes "$T/ab" "$B/node.key" "$T/chg"
# every change alone; the one whose registering record kr4.py derived
# Sanne's id for registered her (it is not a change with membership ops or
# erasures): its one op is her registering record, in full, and her id is
# nowhere in its bytes (a registering record names no subject)
N=0
for f in "$T"/chg/*.chg; do
  must "$PY" "$KR4" change "$f"
  has "kr4.py verifies $(basename "$f") alone" '^verified: '
  N=$((N + 1))
done
[ "$N" = "${COUNT:-}" ] || fail "kr4.py changes wrote $N changes, the bundle holds ${COUNT:-?}"
SANNE_N=$("$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(*[c["index"] for c in r["changes"] for o in c["ops"] if o["type"] == 15 and o["subject"] == sys.argv[2]][:1])' \
  "$T/r.json" "$SANNE" 2>/dev/null)
if [ -z "$SANNE_N" ]; then
  fail "no registering record derives Sanne's id"
else
  F=$(printf '%s/chg/%04d.chg' "$T" "$SANNE_N")
  n=$((n + 1))
  grep -q "$SANNE" <(od -An -tx1 -v "$F" | tr -d ' \n') && fail "Sanne's registering change carries her id"
  must "$PY" "$KR4" flip "$F" "$T/flipped"
  cmp -s "$F" "$T/flipped" && fail "flip changed nothing"
  n=$((n + 1))
  "$PY" "$KR4" change "$T/flipped" >"$T/out" 2>&1 && fail "kr4.py verified a change with a flipped op"
  has "kr4.py: the flipped op's change" '^refused: KR_EBADHASH: root mismatch'

  # kring reads a bundle kr4.py writes: b imports a's changes, Sanne's
  # registration flipped, signed with a's key: kring refuses that change
  # alone and reads Anna and Bram
  must "$PY" "$KR4" rebundle "$T/ab" "$B/node.key" "$A/node.key" "$T/ab2" "$SANNE_N"
  n=$((n + 1))
  k "$B" bundle import "$T/ab2" >"$T/out" 2>&1
  has "kring imports kr4.py's bundle, refusing the flipped change" " $((COUNT - 1)) applied, 0 already known, 1 refused"
  must k "$B" volunteer show "$ANNA"
  has "b reads Anna" "Anna Interop"
  has "b reads Anna's city" "Zwolle"
  must k "$B" volunteer show "$BRAM"
  has "b reads Bram" "Bram Iedereen"

  # --- the rules of records: kr4.py re-makes Sanne's change -------------
  # (re-signed with a's key; b holds no version of it), with key entries
  # to a and b and key-only records on Anna: 'same' is the very bytes,
  # 'valid' stands, each other kind breaks one rule of records one step
  # from 'valid': kr4.py refuses it with the code docs/protocol.md gives,
  # and kring refuses it alone, for that reason (its words for the code)
  must "$PY" "$KR4" craft "$F" "$A/node.key" "$T/crafted" same
  n=$((n + 1))
  cmp -s "$F" "$T/crafted" || fail "kr4.py re-made Sanne's change with other bytes"
  for kc in reader-twice:KR_ENONCANON:canonical readers-descending:KR_ENONCANON:canonical \
            odd-keys:KR_EMALFORMED:malformed reader-not-in-table:KR_EMALFORMED:malformed \
            record-on-registered:KR_EMALFORMED:malformed dup-record:KR_EMALFORMED:malformed \
            no-box-no-key:KR_EMALFORMED:malformed key-op:KR_EUNKNOWN:unknown; do
    IFS=: read -r kind code words <<<"$kc"
    must "$PY" "$KR4" craft "$F" "$A/node.key" "$T/crafted" "$kind" "$ANNA" "$BID"
    n=$((n + 1))
    "$PY" "$KR4" change "$T/crafted" >"$T/out" 2>&1 && fail "kr4.py verified the change crafted $kind"
    has "kr4.py: the change crafted $kind" "^refused: $code: "
    must "$PY" "$KR4" rebundle "$T/ab" "$B/node.key" "$A/node.key" "$T/ab3" "$SANNE_N" "$kind" "$ANNA" "$BID"
    k "$B" bundle import "$T/ab3" >"$T/out" 2>&1
    has "kring imports the bundle with the change crafted $kind" " 0 applied, $((COUNT - 1)) already known, 1 refused"
    has "kring's reason for refusing the change crafted $kind ($code)" "refused 1 change.*$words"
  done
  must "$PY" "$KR4" craft "$F" "$A/node.key" "$T/crafted" valid "$ANNA" "$BID"
  must "$PY" "$KR4" change "$T/crafted"
  has "kr4.py verifies the change crafted valid" '^verified: '
  must "$PY" "$KR4" rebundle "$T/ab" "$B/node.key" "$A/node.key" "$T/ab3" "$SANNE_N" valid "$ANNA" "$BID"
  n=$((n + 1))
  k "$B" bundle import "$T/ab3" >"$T/out" 2>&1
  has "kring imports the change crafted valid" " 1 applied, $((COUNT - 1)) already known, 0 refused"
  # its key entries to b open for nobody: ignored, b reads Anna as before
  must k "$B" volunteer show "$ANNA"
  has "b still reads Anna" "Zwolle"
fi

echo "test_interop: $n checks, $fails failed"
[ "$fails" -eq 0 ]
