#!/usr/bin/env bash
# test_package: build the .deb from this build tree (cpack -G DEB), check it
# with lintian (no error), extract it into a scratch root (dpkg -x), run
# kring --version and kring init from there, read kring(1), and check the
# kring-serve unit with systemd-analyze verify where systemd is present.
# Usage: test_package.sh BUILD_DIR
set -u
BUILD="$1"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0
n=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { local desc="$1"; shift; n=$((n + 1)); "$@" >"$T/out" 2>&1 || { fail "$desc"; sed 's/^/  | /' "$T/out" | head -20; }; }

for tool in cpack dpkg-deb dpkg-shlibdeps lintian; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is missing (./scripts/deps --test installs it)"; exit 1
  fi
done

# --- build -----------------------------------------------------------------
check "cpack -G DEB" cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/pkg"
DEB="$(ls "$T"/pkg/kring_*_*.deb 2>/dev/null | head -1)"
if [ -z "$DEB" ]; then echo "FAIL: no kring_VERSION_ARCH.deb"; exit 1; fi
n=$((n + 1))
case "$(basename "$DEB")" in
  kring_[0-9]*.[0-9]*.[0-9]*_"$(dpkg --print-architecture)".deb) ;;
  *) fail "package name $(basename "$DEB")" ;;
esac
dpkg-deb -f "$DEB" Depends >"$T/depends"
n=$((n + 1))
for lib in libsodium libsqlite3 libuv1 adduser; do
  grep -q "$lib" "$T/depends" || fail "Depends lacks $lib (dpkg-shlibdeps): $(cat "$T/depends")"
done
dpkg-deb -e "$DEB" "$T/control"
n=$((n + 1))
[ -x "$T/control/postinst" ] && grep -q 'adduser --system' "$T/control/postinst" ||
  fail "postinst does not create the system user"
check "postinst is sh" sh -n "$T/control/postinst"

# --- lintian: no error (run as root in CI: say that is meant) -------------
n=$((n + 1))
lintian --allow-root --tag-display-limit 0 "$DEB" >"$T/lintian" 2>&1
if grep -q '^E: ' "$T/lintian"; then fail "lintian reports errors"; sed 's/^/  | /' "$T/lintian"; fi

# --- the files, from a scratch root ----------------------------------------
R="$T/root"
check "dpkg -x" dpkg -x "$DEB" "$R"
UNIT="$R/usr/lib/systemd/system/kring-serve.service"
for f in usr/bin/kring usr/share/man/man1/kring.1.gz usr/share/bash-completion/completions/kring \
         usr/lib/systemd/system/kring-serve.service usr/share/doc/kring/copyright \
         usr/share/doc/kring/changelog.gz usr/share/locale/nl/LC_MESSAGES/kring.mo; do
  n=$((n + 1)); [ -f "$R/$f" ] || fail "the package lacks /$f"
done
check "kring --version" "$R/usr/bin/kring" --version
n=$((n + 1)); grep -qE '^kring [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || fail "kring --version: $(head -1 "$T/out")"
check "kring init" env KRING_HOME="$T/home" "$R/usr/bin/kring" init --org "Voedselbank Noord" --kind foodbank
check "kring id" env KRING_HOME="$T/home" "$R/usr/bin/kring" id
n=$((n + 1)); grep -q "Voedselbank Noord" "$T/out" || fail "kring id after init: $(head -1 "$T/out")"

check "kring help in Dutch" env KRING_LANG=nl "$R/usr/bin/kring" help
n=$((n + 1)); grep -q "vrijwilligersregister" "$T/out" || fail "the package's kring speaks no Dutch"

# kring(1): a section per command, the environment, files, exit status, examples
zcat "$R/usr/share/man/man1/kring.1.gz" >"$T/kring.1"
for cmd in $("$R/usr/bin/kring" help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
  n=$((n + 1)); grep -qF ".SS \"${cmd//-/\\-}" "$T/kring.1" || fail "kring(1) has no section for $cmd"
done
for sec in ENVIRONMENT FILES '"EXIT STATUS"' EXAMPLES; do
  n=$((n + 1)); grep -q "^\.SH $sec" "$T/kring.1" || fail "kring(1) has no $sec"
done
n=$((n + 1)); grep -q "^\.TH KRING 1 .* \"kring [0-9][0-9.]*\"" "$T/kring.1" || fail "kring(1) does not name the version"
if command -v man >/dev/null; then
  n=$((n + 1))
  MANPATH="$R/usr/share/man" man --warnings -P cat kring >"$T/man" 2>"$T/manerr"
  if [ -s "$T/manerr" ] || ! grep -q 'EXIT STATUS' "$T/man"; then fail "man kring"; head "$T/manerr"; fi
fi

# the bash completion: valid bash, and it names commands, options and fields
check "completion is bash" bash -n "$R/usr/share/bash-completion/completions/kring"
for w in subject-export --consent-column vog_checked_on ma-ochtend; do
  n=$((n + 1)); grep -q -- "$w" "$R/usr/share/bash-completion/completions/kring" || fail "completion lacks $w"
done

# --- the unit ------------------------------------------------------------
for want in 'User=kring' 'ExecStart=/usr/bin/kring --home /var/lib/kring serve' 'Restart=on-failure' \
            'StateDirectory=kring' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
            'NoNewPrivileges=yes' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
  n=$((n + 1)); grep -qx -- "$want" "$UNIT" || fail "kring-serve.service lacks $want"
done
if command -v systemd-analyze >/dev/null; then
  # the unit as installed, with its program where dpkg -x put it
  mkdir -p "$T/unit"
  sed "s#/usr/bin/kring#$R/usr/bin/kring#" "$UNIT" >"$T/unit/kring-serve.service"
  check "systemd-analyze verify" env MANPATH="$R/usr/share/man" \
    systemd-analyze verify "$T/unit/kring-serve.service"
else
  echo "test_package: no systemd-analyze here; the unit is not verified"
fi

echo "test_package: $n checks, $fails failed"
[ "$fails" -eq 0 ]
