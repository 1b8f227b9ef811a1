#!/bin/sh
# TAP test of the scenario files (run by `make check` through prove).
# Every scenarios/*.yaml must run clean (exit 0), print the same text twice
# (determinism) and give valid JSON with --json. Every scenarios/bad/*.yaml
# must fail with the exit status and the stderr line its header declares:
#   # expect-exit: 1
#   # expect-stderr: bad/NAME.yaml:LINE:COL: message
# A scenario may declare "# zonedev-test: needs-memory 18G"; it is skipped
# when the host has less MemAvailable.
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root.
set -u

: "${ZD_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${ZD_CLI:=$ZD_SRCDIR/build/zonedev}"
case $ZD_CLI in /*) ;; *) ZD_CLI=$(pwd)/$ZD_CLI ;; esac

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
failed=0

pass() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
# Show a file as TAP diagnostics (first 20 lines).
diag_file() { head -n 20 "$1" | sed 's/^/# /'; }

if [ ! -x "$ZD_CLI" ]; then
	echo "1..0 # SKIP no zonedev binary at $ZD_CLI"
	exit 0
fi
cd "$ZD_SRCDIR/scenarios" || { echo "Bail out! no $ZD_SRCDIR/scenarios"; exit 1; }

have_python=no
command -v python3 >/dev/null 2>&1 && have_python=yes

# Bytes of MemAvailable, or a large number when unknown.
mem_available() {
	awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024; found = 1 }
	     END { if (!found) print 1e18 }' /proc/meminfo 2>/dev/null || echo 1000000000000000000
}

# "18G" -> bytes (K/M/G/T).
to_bytes() {
	echo "$1" | awk '{
		v = $1; m = 1; u = substr(v, length(v), 1)
		if (u == "K") m = 1024; else if (u == "M") m = 1048576
		else if (u == "G") m = 1073741824; else if (u == "T") m = 1099511627776
		if (m > 1) v = substr(v, 1, length(v) - 1)
		printf "%.0f\n", v * m }'
}

for f in *.yaml; do
	[ -e "$f" ] || continue
	need=$(sed -n 's/^# zonedev-test: needs-memory \([0-9]*[KMGT]\?\).*/\1/p' "$f" | head -n 1)
	if [ -n "$need" ] && [ "$(mem_available)" -lt "$(to_bytes "$need")" ] 2>/dev/null; then
		skip "$f needs $need of available memory"
		skip "$f determinism (needs $need)"
		skip "$f --json (needs $need)"
		continue
	fi

	"$ZD_CLI" run "$f" >"$tmp/out1" 2>"$tmp/err1"
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$f runs clean"
	else
		fail "$f runs clean (exit $rc)"
		diag_file "$tmp/err1"
	fi

	"$ZD_CLI" run "$f" >"$tmp/out2" 2>"$tmp/err2"
	if cmp -s "$tmp/out1" "$tmp/out2" && cmp -s "$tmp/err1" "$tmp/err2"; then
		pass "$f prints the same output twice"
	else
		fail "$f prints the same output twice"
		diff "$tmp/out1" "$tmp/out2" | head -n 20 | sed 's/^/# /'
	fi

	if [ $have_python = no ]; then
		skip "$f --json (no python3 to parse it)"
		continue
	fi
	"$ZD_CLI" run --json "$f" >"$tmp/json" 2>"$tmp/err3"
	rc=$?
	if [ $rc -eq 0 ] && python3 -m json.tool "$tmp/json" >/dev/null 2>"$tmp/jerr"; then
		pass "$f --json is one valid JSON document"
	else
		fail "$f --json is one valid JSON document (exit $rc)"
		diag_file "$tmp/jerr"
		diag_file "$tmp/err3"
	fi
done

for f in bad/*.yaml; do
	[ -e "$f" ] || continue
	want_rc=$(sed -n 's/^# expect-exit: *\([0-9]*\).*/\1/p' "$f" | head -n 1)
	want_msg=$(sed -n 's/^# expect-stderr: *//p' "$f" | head -n 1)
	if [ -z "$want_rc" ] || [ -z "$want_msg" ]; then
		fail "$f declares expect-exit and expect-stderr"
		continue
	fi
	"$ZD_CLI" run "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && grep -qF -- "$want_msg" "$tmp/err"; then
		pass "$f fails with exit $want_rc and the expected message"
	else
		fail "$f fails with exit $want_rc and '$want_msg' (got exit $rc)"
		diag_file "$tmp/err"
	fi
done

echo "1..$n"
[ $failed -eq 0 ]
