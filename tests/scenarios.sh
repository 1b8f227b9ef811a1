#!/bin/sh
# TAP test of the scenario files (run by `make check` through prove).
# Every scenarios/*.yaml must run clean (exit 0), print the same text twice
# (determinism) and give valid JSON with --json. Every scenarios/bad/*.yaml
# must fail with the exit status and the stderr line its header declares:
#   # expect-exit: 1
#   # expect-stderr: bad/NAME.yaml:LINE:COL: message
# A scenario may declare "# zonedev-test: needs-memory 18G"; it is skipped
# when the host has less MemAvailable.
# Each run gets ZD_TMPDIR (where scenarios put pmem region files) pointing at
# an empty directory, always the same path, so region files start fresh and
# paths in the output do not differ between the two runs.
# Sequences: a subdirectory of scenarios/ (other than bad/ and data/) holding
# NN-*.yaml files is a sequence. Its files run in name order on one shared
# ZD_TMPDIR (a later one sees the region files an earlier one left), each
# must run clean, the whole sequence must print the same twice and give
# valid JSON; and every file but the first must FAIL when run alone on a
# fresh ZD_TMPDIR, with the line its "# alone-stderr: ..." header declares.
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root.
set -u

. "$(dirname "$0")/tap.sh"

cd "$ZD_SRCDIR/scenarios" || { echo "Bail out! no $ZD_SRCDIR/scenarios"; exit 1; }

# ZD_TMPDIR for the scenarios: one path, emptied before each (sequence) run.
ZD_TMPDIR=$tmp/zd-tmpdir
export ZD_TMPDIR
fresh_tmpdir() { rm -rf "$ZD_TMPDIR" && mkdir "$ZD_TMPDIR"; }
# bad/unset-variable.yaml relies on this one being unset.
unset ZD_TEST_UNSET_VARIABLE


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
		skip "$f --json twice (needs $need)"
		continue
	fi

	fresh_tmpdir
	"$ZD_CLI" run "$f" >"$tmp/out1" 2>"$tmp/err1"
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$f runs clean"
	else
		fail "$f runs clean (exit $rc)"
		diag_file "$tmp/err1"
	fi

	fresh_tmpdir
	"$ZD_CLI" run "$f" >"$tmp/out2" 2>"$tmp/err2"
	if cmp -s "$tmp/out1" "$tmp/out2" && cmp -s "$tmp/err1" "$tmp/err2"; then
		pass "$f prints the same output twice"
	else
		fail "$f prints the same output twice"
		diff "$tmp/out1" "$tmp/out2" | head -n 20 | sed 's/^/# /'
	fi

	if [ $have_python = no ]; then
		skip "$f --json (no python3 to parse it)"
		skip "$f --json twice (no python3)"
		continue
	fi
	fresh_tmpdir
	"$ZD_CLI" run --json "$f" >"$tmp/json" 2>"$tmp/err3"
	rc=$?
	if [ $rc -eq 0 ] && python3 -m json.tool "$tmp/json" >/dev/null 2>"$tmp/jerr"; then
		pass "$f --json is one valid JSON document"
	else
		fail "$f --json is one valid JSON document (exit $rc)"
		diag_file "$tmp/jerr"
		diag_file "$tmp/err3"
	fi
	# The JSON carries each step's dmesg: it must not depend on the clock.
	# The second run pauses after each step (ZD_STEP_DELAY_MS), so a line a
	# background thread logs late cannot pass by luck of timing.
	fresh_tmpdir
	ZD_STEP_DELAY_MS=5 "$ZD_CLI" run --json "$f" >"$tmp/json2" 2>/dev/null
	if cmp -s "$tmp/json" "$tmp/json2"; then
		pass "$f --json prints the same twice"
	else
		fail "$f --json prints the same twice"
		diff "$tmp/json" "$tmp/json2" | head -n 20 | sed 's/^/# /'
	fi
done

# ---- sequences (e.g. scenarios/pmem/) ----
for d in */; do
	d=${d%/}
	case $d in bad|data) continue ;; esac
	set -- "$d"/[0-9]*.yaml
	[ -e "$1" ] || continue

	# Twice in text mode (determinism), once with --json.
	for pass in 1 2 json; do
		fresh_tmpdir
		: >"$tmp/seq-$pass"
		for f in "$@"; do
			if [ $pass = json ]; then
				"$ZD_CLI" run --json "$f" >"$tmp/json" 2>"$tmp/err"
				rc=$?
				if [ $have_python = no ]; then
					skip "$f --json in sequence $d (no python3 to parse it)"
				elif [ $rc -eq 0 ] && python3 -m json.tool "$tmp/json" >/dev/null 2>"$tmp/jerr"; then
					pass "$f --json in sequence $d is one valid JSON document"
				else
					fail "$f --json in sequence $d is one valid JSON document (exit $rc)"
					diag_file "$tmp/jerr"
					diag_file "$tmp/err"
				fi
				continue
			fi
			"$ZD_CLI" run "$f" >>"$tmp/seq-$pass" 2>>"$tmp/seq-$pass"
			rc=$?
			if [ $pass = 1 ]; then
				if [ $rc -eq 0 ]; then
					pass "$f runs clean in sequence $d"
				else
					fail "$f runs clean in sequence $d (exit $rc)"
					tail -n 20 "$tmp/seq-$pass" | sed 's/^/# /'
				fi
			fi
		done
	done
	if cmp -s "$tmp/seq-1" "$tmp/seq-2"; then
		pass "sequence $d prints the same output twice"
	else
		fail "sequence $d prints the same output twice"
		diff "$tmp/seq-1" "$tmp/seq-2" | head -n 20 | sed 's/^/# /'
	fi

	# Alone, every file after the first must fail, and say why.
	shift
	for f in "$@"; do
		want_msg=$(sed -n 's/^# alone-stderr: *//p' "$f" | head -n 1)
		fresh_tmpdir
		"$ZD_CLI" run "$f" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ -z "$want_msg" ]; then
			fail "$f declares alone-stderr (what it says when run without its sequence)"
		elif [ $rc -eq 1 ] && grep -qF -- "$want_msg" "$tmp/err"; then
			pass "$f alone fails with exit 1 and '$want_msg'"
		else
			fail "$f alone fails with exit 1 and '$want_msg' (got exit $rc)"
			diag_file "$tmp/err"
		fi
	done
done
rm -rf "$ZD_TMPDIR"

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
