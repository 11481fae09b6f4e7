# procs.sh: what the tests that run real kring processes share. Source it
# after setting K (the kring binary) and SEED: a temporary directory T
# removed on exit with every process in PIDS, the check counters, and
# k HOME ARGS... to run kring on the home $T/HOME.
RANDOM=$SEED
T="$(mktemp -d)"
PIDS=()
fails=0; checks=0
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT

ok()   { checks=$((checks + 1)); }
bad()  { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

k() { local h="$1"; shift; "$K" --home "$T/$h" "$@"; }
