#!/bin/sh
# TAP test of the CLI at the edges (issue 7): a full filesystem is a clear
# ENOSPC naming the file and leaves the region file byte for byte as it was;
# a SIGBUS on a backing mapping (reservations switched off with the
# ZD_BACKING_NORESERVE test hook) is an error for the step, not a crash;
# SIGINT, SIGTERM and SIGPIPE remove the temporary files a run made and
# keep the files a user named; a kill -9 at a region-file write
# (ZD_CRASH_WRITE) leaves a file the next run boots.
# The small filesystem is a 64 MiB tmpfs in a private mount namespace
# (unshare -m as root, unshare -rm as a user where user namespaces are
# allowed); without one, those parts are skipped and say why.
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root.
set -u

if [ -z "${ZD_ROBUST_NS:-}" ]; then
	for u in "unshare -m" "unshare -rm"; do
		if $u true 2>/dev/null; then
			ZD_ROBUST_NS=1 exec $u sh "$0" "$@"
		fi
	done
fi

. "$(dirname "$0")/tap.sh"
cd "$ZD_SRCDIR" || exit 1

small=$tmp/small
mkdir "$small" || exit 1
if [ -n "${ZD_ROBUST_NS:-}" ] && mount -t tmpfs -o size=64m tmpfs "$small" 2>/dev/null; then
	mode=tmpfs
	trap 'umount "$small" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
else
	mode=none
fi
echo "# small filesystem: $mode"
nospace=ENOSPC

# zd WANT_RC NAME ARGS...: run the CLI, output in $tmp/out and $tmp/err.
zd() {
	want=$1 name=$2
	shift 2
	"$ZD_CLI" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq "$want" ]; then
		pass "$name (exit $want)"
	else
		fail "$name (exit $rc, wanted $want)"
		diag_file "$tmp/err"
		diag_file "$tmp/out"
	fi
}

has() {
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

fill() {
	dd if=/dev/zero of="$small/filler" bs=1M 2>/dev/null
	sync
}
unfill() { rm -f "$small/filler"; }

sum() { sha256sum "$1" | cut -d' ' -f1; }

small_fs() {
	# ---- 1. the shipped devdax scenario on the small filesystem ----
	ZD_TMPDIR=$small zd 1 "pmem-devdax.yaml on a 64 MiB filesystem fails" \
		run scenarios/pmem-devdax.yaml
	has "the failing step says $nospace" "$tmp/err" "failed with $nospace"
	has "the message names the region file" "$tmp/err" "$small/pmem-devdax-dev.img"
	has "the message says how many bytes" "$tmp/err" "bytes ("
	lacks "no SIGBUS" "$tmp/err" "SIGBUS"
	rm -f "$small"/*

	# ---- 2. a region file keeps its state when a reconfiguration does not fit ----
	# 01 makes an fsdax namespace with the memmap in RAM (2 MiB of metadata)
	# and writes data; 02 (on a full filesystem) forces map=dev, which needs
	# 4 MiB more for the memmap, and writes past what was allocated; 03 reboots
	# and finds 01's namespace and data.
	machine="machine:
  arch: x86_64
  ram: [{start: 1M, size: 1023M}]
  pmem: [{start: 4G, size: 256M, file: \"$small/keep.img\"}]
steps:"
	cat >"$tmp/01.yaml" <<EOF
$machine
  - create_namespace: {region: region0, mode: fsdax, map: mem, align: 2M}
  - write_namespace: {namespace: namespace0.0, offset: 0, data: "kept across ENOSPC"}
EOF
	cat >"$tmp/02-map.yaml" <<EOF
$machine
  - create_namespace: {region: region0, mode: fsdax, map: dev, align: 2M, force: true}
EOF
	cat >"$tmp/02-write.yaml" <<EOF
$machine
  - write_namespace: {namespace: namespace0.0, offset: 200M, data: "does not fit"}
EOF
	cat >"$tmp/03.yaml" <<EOF
$machine
  - expect: {namespace: namespace0.0, mode: fsdax, map: mem}
  - expect: {namespace: namespace0.0, data_at: 0, data: "kept across ENOSPC"}
EOF
	zd 0 "a namespace is created and written on the small filesystem" run "$tmp/01.yaml"
	before=$(sum "$small/keep.img")
	fill
	zd 1 "forcing map=dev on a full filesystem fails" run "$tmp/02-map.yaml"
	has "create_namespace says $nospace" "$tmp/err" "step 'create_namespace': failed with $nospace"
	has "and names the info block's reservation" "$tmp/err" "$small/keep.img: the info block and the memmap (map=dev) needs"
	zd 1 "a write past the allocated blocks fails" run "$tmp/02-write.yaml"
	has "write_namespace says $nospace" "$tmp/err" "step 'write_namespace': failed with $nospace"
	unfill
	if [ "$(sum "$small/keep.img")" = "$before" ]; then
		pass "the region file is byte for byte as before"
	else
		fail "the region file changed"
	fi
	zd 0 "the next boot finds the namespace and its data" run "$tmp/03.yaml"

	# ---- 3. without reservations a full disk is a SIGBUS, caught per step ----
	fill
	ZD_BACKING_NORESERVE=1 zd 1 "an unreserved map=dev memmap on a full filesystem fails" \
		run "$tmp/02-map.yaml"
	has "the step says SIGBUS and EIO" "$tmp/err" "step 'create_namespace': failed with EIO: SIGBUS at 0x"
	has "and names the backing file" "$tmp/err" "backing file $small/keep.img could not be provided"
	unfill
	rm -f "$small"/*

	# ---- 4. bench on a filesystem too small for its memmap ----
	zd 1 "bench memremap map=dev 10G on 64 MiB fails" \
		bench memremap --type fsdax --map dev --size 10G --repeat 1 --dir "$small"
	cat "$tmp/out" "$tmp/err" >"$tmp/both"
	has "bench says how many bytes the memmap needs" "$tmp/both" "bytes ("
	has "bench reports $nospace" "$tmp/both" "$nospace"
	if ls "$small"/zonedev-bench-* >/dev/null 2>&1; then
		fail "bench left its region file behind"
	else
		pass "bench removed its region file"
	fi
}

if [ $mode = tmpfs ]; then
	small_fs
else
	skip "full-filesystem tests: no private mount namespace for a small tmpfs (unshare -m / -rm refused)"
fi

# ---- 5. signals remove what the run made, keep what the user named ----
# SIGPIPE: the demo's own temporary directory goes, a ZD_TMPDIR stays.
mkdir "$tmp/demo-tmp" "$tmp/demo-keep"
TMPDIR=$tmp/demo-tmp "$ZD_CLI" demo 2>/dev/null | head -n 1 >/dev/null
if [ -z "$(ls -A "$tmp/demo-tmp")" ]; then
	pass "demo | head: the demo's temporary directory is removed"
else
	fail "demo | head left $(ls "$tmp/demo-tmp")"
fi
ZD_TMPDIR=$tmp/demo-keep "$ZD_CLI" demo 2>/dev/null | head -n 1 >/dev/null
if [ -f "$tmp/demo-keep/demo-pmem.img" ]; then
	pass "demo | head: a region file in the user's ZD_TMPDIR is kept"
else
	fail "demo | head removed the user's region file"
fi

# SIGINT and SIGTERM in the middle of a bench. env --default-signal undoes
# the SIGINT a shell ignores for background jobs.
for sig in INT:2 TERM:15; do
	num=${sig#*:} sig=${sig%:*}
	d=$tmp/bench-$sig
	mkdir "$d"
	env --default-signal=INT "$ZD_CLI" bench memremap --size 8G --repeat 100000 \
		--dir "$d" >/dev/null 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 200 ] && ! ls "$d"/zonedev-bench-* >/dev/null 2>&1; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.2
	kill -$sig $pid
	{ wait $pid; } 2>/dev/null
	rc=$?
	want=$((128 + num))
	if [ $rc -eq $want ]; then
		pass "bench dies of SIG$sig (exit $rc)"
	else
		fail "bench after SIG$sig: exit $rc, wanted $want"
	fi
	if [ -z "$(ls -A "$d")" ]; then
		pass "SIG$sig: bench removed its region file"
	else
		fail "SIG$sig: bench left $(ls "$d")"
	fi
done

# ---- kill -9 at a chosen region-file write (the ZD_CRASH_WRITE hook) ----
# Write 1 sizes the fresh file, write 2 is the info block: killed before it,
# the file holds a raw namespace and the sequence simply runs again.
d=$tmp/crash
mkdir "$d" || exit 1
export ZD_TMPDIR="$d" ZD_CRASH_WRITE=2
zd 137 "killed by SIGKILL at region-file write 2 (ZD_CRASH_WRITE=2)" run scenarios/pmem/01-pmem-fsdax.yaml
has "the kill names the write" "$tmp/err" "crash injection: SIGKILL at region-file write 2 after 0 of 4096 bytes"
unset ZD_CRASH_WRITE
zd 0 "the next run finds the namespace raw and creates it" run scenarios/pmem/01-pmem-fsdax.yaml
export ZD_CRASH_WRITE=x
zd 0 "with a malformed ZD_CRASH_WRITE the reopen runs" run scenarios/pmem/02-pmem-reopen.yaml
has "and the value is reported as ignored" "$tmp/err" "ZD_CRASH_WRITE=x is not N[:PREFIX]"
unset ZD_CRASH_WRITE ZD_TMPDIR

echo "1..$n"
[ $failed -eq 0 ]
