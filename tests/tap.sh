# Shared TAP plumbing for the shell tests (sourced by cli.sh and
# scenarios.sh): where the CLI and the sources are, a scratch directory
# removed on exit, and pass/fail/skip counters. Env: ZD_CLI = the zonedev
# binary, ZD_SRCDIR = the repository root; both have defaults.
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

have_python=no
command -v python3 >/dev/null 2>&1 && have_python=yes
