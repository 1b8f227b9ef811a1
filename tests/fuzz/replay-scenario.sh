#!/bin/sh
# make check: replay the scenario fuzz corpus (tests/fuzz/corpus/scenario/, crash
# reproducers included) through LLVMFuzzerTestOneInput without libFuzzer.
# TAP on stdout, one test per input. Env: ZD_BUILD = the build tree whose
# tests/fuzz/replay_scenario to run, ZD_SRCDIR = the repository root.
: "${ZD_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${ZD_BUILD:=$ZD_SRCDIR/build}"
bin=$ZD_BUILD/tests/fuzz/replay_scenario
if [ ! -x "$bin" ]; then
	echo "1..1"
	echo "not ok 1 - no $bin (make tests-build builds it)"
	exit 1
fi
exec "$bin" "$ZD_SRCDIR/tests/fuzz/corpus/scenario"
