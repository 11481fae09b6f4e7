#!/usr/bin/env bash
# test_po: every message marked for translation in the files of
# po/POTFILES has a Dutch translation in po/nl.po (none missing, none
# fuzzy), po/kring.pot is current, every file of cli/, node/ and sync/
# that marks messages is in po/POTFILES, and every format sync/ marks is in
# kr_sync_reasons. The error texts of crdt/err.h (KR_ERR_MAP) count too:
# --keyword=X:2 takes them. Usage: test_po.sh SOURCE_DIR
set -u
cd "$1"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0

xgettext --from-code=UTF-8 --language=C --keyword=_ --keyword=N_ --keyword=ngettext:1,2 --keyword=X:2 \
  --add-comments=TRANSLATORS --package-name=kring --no-location -s -o "$T/fresh.pot" -f po/POTFILES
if ! msgcmp po/nl.po "$T/fresh.pot" 2>"$T/cmp"; then
  echo "FAIL: messages without a Dutch translation in po/nl.po:"; sed 's/^/  | /' "$T/cmp" | head -40
  fails=$((fails + 1))
fi
msgfmt --check --statistics -o /dev/null po/nl.po 2>"$T/stat"
if ! grep -qE '^[0-9]+ translated messages?\.$' "$T/stat"; then
  echo "FAIL: po/nl.po is not complete: $(cat "$T/stat")"; fails=$((fails + 1))
fi
ids() { msgcat --no-wrap -s "$1" | grep -E '^msgid(_plural)? ' ; }
if ! diff <(ids po/kring.pot) <(ids "$T/fresh.pot") >"$T/diff"; then
  echo "FAIL: po/kring.pot is stale (cmake --build build --target kring_pot):"
  sed 's/^/  | /' "$T/diff" | head -20; fails=$((fails + 1))
fi
for f in $(grep -l '_("\|N_("\|ngettext(' cli/*.c node/*.c sync/*.c); do
  grep -qx "$f" po/POTFILES || { echo "FAIL: $f marks messages but is not in po/POTFILES"; fails=$((fails + 1)); }
done
# cli_reason translates a sync/ reason built from a format only when that
# format is in kr_sync_reasons (sync/reason.c).
fmts() { msgcat --no-wrap "$1" | grep -E '^msgid ".*%' | LC_ALL=C sort; }
xgettext --from-code=UTF-8 --language=C --keyword=N_ --no-location -s -o "$T/sync.pot" \
  $(ls sync/*.c | grep -vx sync/reason.c)
xgettext --from-code=UTF-8 --language=C --keyword=N_ --no-location -s -o "$T/table.pot" sync/reason.c
if comm -23 <(fmts "$T/sync.pot") <(fmts "$T/table.pot") | grep . >"$T/missing"; then
  echo "FAIL: formats sync/ marks with N_() but kr_sync_reasons (sync/reason.c) lacks:"
  sed 's/^/  | /' "$T/missing"; fails=$((fails + 1))
fi
echo "test_po: $(cat "$T/stat"), $fails failed"
[ "$fails" -eq 0 ]
