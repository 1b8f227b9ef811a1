# Shared TAP plumbing for the shell tests (sourced by every tests/*.sh):
# where the CLI and the sources are, a scratch directory removed on exit,
# pass/fail/skip counters, and run/check/lacks/json_ok. Env: ZD_CLI = the
# zonedev binary, ZD_SRCDIR = the repository root; both have defaults.
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

# run NAME WANT_RC ARGS...: run the CLI, check its exit status; output in
# $tmp/out and $tmp/err (shown when the status is wrong).
run() {
	name=$1 want=$2
	shift 2
	"$ZD_CLI" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq "$want" ]; then
		pass "$name (exit $want)"
		return 0
	fi
	fail "$name (exit $rc, wanted $want)"
	diag_file "$tmp/err"
	diag_file "$tmp/out"
	return 1
}

# check NAME FILE FIXED-STRING: the file contains the string; lacks: not.
check() {
	if grep -qF -- "$3" "$2"; then
		pass "$1"
	else
		fail "$1: '$3' not found"
		diag_file "$2"
	fi
}
lacks() {
	if grep -qF -- "$3" "$2"; then
		fail "$1: '$3' found"
		diag_file "$2"
	else
		pass "$1"
	fi
}

if [ ! -x "$ZD_CLI" ]; then
	echo "1..0 # SKIP no zonedev binary at $ZD_CLI"
	exit 0
fi

have_python=no
command -v python3 >/dev/null 2>&1 && have_python=yes

# json_ok NAME FILE: the file is one valid JSON document.
json_ok() {
	if [ $have_python = no ]; then
		skip "$1 (no python3 to parse JSON)"
	elif python3 -m json.tool "$2" >/dev/null 2>"$tmp/jerr"; then
		pass "$1"
	else
		fail "$1"
		diag_file "$tmp/jerr"
	fi
}
