#!/usr/bin/env bash
# test_po: every message marked for translation in the files of
# po/POTFILES has a Dutch translation in po/nl.po (none missing, none
# fuzzy), po/kring.pot is current, and every cli file that marks
# messages is in po/POTFILES. The error texts of crdt/err.h (KR_ERR_MAP)
# count too: --keyword=X:2 takes them. Usage: test_po.sh SOURCE_DIR
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
for f in $(grep -l '_("\|N_("\|ngettext(' cli/*.c); do
  grep -qx "$f" po/POTFILES || { echo "FAIL: $f marks messages but is not in po/POTFILES"; fails=$((fails + 1)); }
done
echo "test_po: $(cat "$T/stat"), $fails failed"
[ "$fails" -eq 0 ]
