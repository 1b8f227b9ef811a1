# Sourced by replay-TARGET.sh with $target set: make check replays that
# fuzz target's corpus (tests/fuzz/corpus/TARGET/, crash reproducers
# included) through LLVMFuzzerTestOneInput without libFuzzer. TAP on stdout,
# one test per input; a missing replay program fails. Env: ZD_BUILD = the
# build tree whose tests/fuzz/replay_TARGET to run, ZD_SRCDIR = the
# repository root.
: "${ZD_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${ZD_BUILD:=$ZD_SRCDIR/build}"
bin=$ZD_BUILD/tests/fuzz/replay_$target
if [ ! -x "$bin" ]; then
	echo "1..1"
	echo "not ok 1 - no $bin (make tests-build builds it)"
	exit 1
fi
exec "$bin" "$ZD_SRCDIR/tests/fuzz/corpus/$target"
