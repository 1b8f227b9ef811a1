#!/bin/sh
# TAP test of the CLI at the edges (issue 7): a full filesystem is a clear
# ENOSPC naming the file and leaves the region file byte for byte as it was;
# a SIGBUS on a backing mapping (reservations switched off with the
# ZD_BACKING_NORESERVE test hook) is an error for the step, not a crash;
# SIGINT, SIGTERM and SIGPIPE remove the temporary files a run made and
# keep the files a user named; bench option values are checked (exit 2,
# nothing rounded), a failed bench --json is one document; the host memory
# guard refuses (with the host's figure faked by ZD_HOST_MEM_AVAILABLE) and
# --no-memory-guard lifts it; a progress line shows on a terminal (a pty
# from script(1)) and nowhere else.
# A kill -9 at a region-file write (ZD_CRASH_WRITE) leaves a file the next
# run boots.
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

# fill leaves a 64 KiB spare file that spare_free gives back, so a write
# can find some room but not all it needs.
fill() {
	dd if=/dev/zero of="$small/spare" bs=64K count=1 2>/dev/null
	dd if=/dev/zero of="$small/filler" bs=1M 2>/dev/null
	dd if=/dev/zero of="$small/filler2" bs=4K 2>/dev/null
	sync
}
spare_free() { rm -f "$small/spare"; }
unfill() { rm -f "$small/filler" "$small/filler2" "$small/spare"; }

sum() { sha256sum "$1" | cut -d' ' -f1; }

small_fs() {
	# ---- 1. the shipped devdax scenario on the small filesystem ----
	ZD_TMPDIR=$small run "pmem-devdax.yaml on a 64 MiB filesystem fails" 1 \
		run scenarios/pmem-devdax.yaml
	check "the failing step says $nospace" "$tmp/err" "failed with $nospace"
	check "the message names the region file" "$tmp/err" "$small/pmem-devdax-dev.img"
	check "the message says how many bytes" "$tmp/err" "bytes ("
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
	# 256 KiB into a hole with 64 KiB free: unreserved, pwrite would store
	# the first 64 KiB and then fail.
	big=$(awk 'BEGIN { for (i = 0; i < 262144; i++) printf "x" }')
	cat >"$tmp/02-write.yaml" <<EOF
$machine
  - write_namespace: {namespace: namespace0.0, offset: 200M, data: "$big"}
EOF
	cat >"$tmp/03.yaml" <<EOF
$machine
  - expect: {namespace: namespace0.0, mode: fsdax, map: mem}
  - expect: {namespace: namespace0.0, data_at: 0, data: "kept across ENOSPC"}
EOF
	run "a namespace is created and written on the small filesystem" 0 run "$tmp/01.yaml"
	before=$(sum "$small/keep.img")
	fill
	run "forcing map=dev on a full filesystem fails" 1 run "$tmp/02-map.yaml"
	check "create_namespace says $nospace" "$tmp/err" "step 'create_namespace': failed with $nospace"
	check "and names the info block's reservation" "$tmp/err" "$small/keep.img: the info block and the memmap (map=dev) needs"
	spare_free
	run "a write larger than the free space fails" 1 run "$tmp/02-write.yaml"
	check "write_namespace says $nospace" "$tmp/err" "step 'write_namespace': failed with $nospace"
	check "and names the write's reservation" "$tmp/err" "the write needs 262144 bytes"
	unfill
	if [ "$(sum "$small/keep.img")" = "$before" ]; then
		pass "the region file is byte for byte as before"
	else
		fail "the region file changed"
	fi
	run "the next boot finds the namespace and its data" 0 run "$tmp/03.yaml"

	# ---- 3. without reservations a full disk is a SIGBUS, caught per step ----
	fill
	ZD_BACKING_NORESERVE=1 run "an unreserved map=dev memmap on a full filesystem fails" 1 \
		run "$tmp/02-map.yaml"
	check "the step says SIGBUS and EIO" "$tmp/err" "step 'create_namespace': failed with EIO: SIGBUS at 0x"
	check "and names the backing file" "$tmp/err" "backing file $small/keep.img could not be provided"
	unfill
	# The new info block was written before the memmap ran out of blocks,
	# as when a kernel's enable fails after ndctl wrote it: the next boot
	# finds a valid fsdax namespace, never a torn or raw one.
	cat >"$tmp/04.yaml" <<EOF
$machine
  - expect: {namespace: namespace0.0, mode: fsdax, refused: false}
EOF
	run "after the SIGBUS the next boot finds a valid fsdax namespace" 0 run "$tmp/04.yaml"
	rm -f "$small"/*

	# ---- 4. bench on a filesystem too small for its memmap ----
	run "bench memremap map=dev 10G on 64 MiB fails" 1 \
		bench memremap --type fsdax --map dev --size 10G --repeat 1 --dir "$small"
	cat "$tmp/out" "$tmp/err" >"$tmp/both"
	check "bench says how many bytes the memmap needs" "$tmp/both" "bytes ("
	check "bench reports $nospace" "$tmp/both" "$nospace"
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

# Until the bench's region file exists in $1 (bounded), and a little more.
wait_for_bench() {
	i=0
	while [ $i -lt 200 ] && ! ls "$1"/zonedev-bench-* >/dev/null 2>&1; do
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.2
}

# SIGINT and SIGTERM in the middle of a bench. env --default-signal undoes
# the SIGINT a shell ignores for background jobs.
for sig in INT:2 TERM:15; do
	num=${sig#*:} sig=${sig%:*}
	d=$tmp/bench-$sig
	mkdir "$d"
	env --default-signal=INT "$ZD_CLI" bench memremap --size 8G --repeat 100000 \
		--dir "$d" >/dev/null 2>&1 &
	pid=$!
	wait_for_bench "$d"
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

# A SIGBUS that is not a fault on a region file (here: sent with kill) is
# not taken for one: the default action, exit 128 + 7, no EIO message.
d=$tmp/bench-BUS
mkdir "$d"
(ulimit -c 0; exec "$ZD_CLI" bench memremap --size 8G --repeat 100000 --dir "$d") \
	>/dev/null 2>"$tmp/err" &
pid=$!
wait_for_bench "$d"
kill -BUS $pid
{ wait $pid; } 2>/dev/null
rc=$?
if [ $rc -eq 135 ]; then
	pass "kill -BUS keeps the default action (exit 135)"
else
	fail "kill -BUS: exit $rc, wanted 135"
fi
lacks "kill -BUS is not reported as a backing-file fault" "$tmp/err" "backing file"
rm -rf "$d"

# ---- 6. bench options: a bad value names the option, exit 2, nothing rounded ----
while IFS='|' read -r args msg; do
	run "bench $args" 2 bench $args
	check "bench $args: says why" "$tmp/err" "$msg"
	if [ -s "$tmp/out" ]; then
		fail "bench $args: printed on stdout"
	else
		pass "bench $args: nothing on stdout"
	fi
done <<'EOF'
memremap --repeat 0|--repeat 0: must be 1 to 1000000
memremap --size 1M|--size 1M: not a multiple of 16M
memremap --size 0xffffffffffffffff|--size 0xffffffffffffffff: not a multiple of 16M
memremap --size 0xfffffffffff000000|--size 0xfffffffffff000000: does not fit in 64 bits
memremap --size 64T|--size 64T: the region (at 64 GiB) does not fit
memremap --size 0|--size 0: must be more than 0
memremap --align 3M|--align 3M: must be 4K, 2M or 1G
memremap --type pmem|--type pmem: must be fsdax or devdax
memremap --map ram|--map ram: must be dev or mem
memremap --dir /nonexistent|--dir /nonexistent: not a directory
memremap --bogus|unknown option '--bogus'
memmap --size 1M|--size 1M: not a whole number of x86_64 memory sections (128M each)
memmap --size 0xfffffffff8000000|does not fit x86_64's 46-bit physical address space
memmap --arch sparc|--arch sparc: unknown architecture
memmap --repeat x|--repeat x: is not
EOF
# Every option the bench's getopt table knows is in its --help.
for b in fault gup memmap memremap; do
	"$ZD_CLI" bench $b --help >"$tmp/out" 2>&1
	for opt in $(grep -o '{ "[a-z-]*", [a-z_]*_argument' "$ZD_SRCDIR/tools/zonedev/bench-$b.c" |
		     cut -d'"' -f2); do
		check "bench $b --help documents --$opt" "$tmp/out" "--$opt"
	done
done

# ---- 7. the host memory guard, with the host's figure faked small ----
cat >"$tmp/guard.yaml" <<EOF
machine:
  arch: x86_64
  ram: [{start: 1M, size: 4095M}]
steps:
  - report: meminfo
EOF
ZD_HOST_MEM_AVAILABLE=33554432 run "a 4 GiB machine on a host with 32 MiB free is refused" 1 \
	run "$tmp/guard.yaml"
check "the guard says need and have" "$tmp/err" \
	"needs 64 MiB of host memory for its struct pages, the host has 32 MiB available"
ZD_HOST_MEM_AVAILABLE=33554432 run "--no-memory-guard lifts it" 0 \
	run --no-memory-guard "$tmp/guard.yaml"
sed 's/^  arch: x86_64$/  arch: x86_64\n  host_memory_guard: false/' "$tmp/guard.yaml" >"$tmp/unguarded.yaml"
ZD_HOST_MEM_AVAILABLE=33554432 run "so does the machine key host_memory_guard: false" 0 \
	run "$tmp/unguarded.yaml"
ZD_HOST_MEM_AVAILABLE=33554432 run "bench memremap map=mem on that host is refused" 1 \
	bench memremap --map mem --size 4G --repeat 1 --dir "$tmp" --json
check "bench names what needs the memory" "$tmp/err" \
	"host memory guard: the memset baseline of a 4 GiB namespace's struct pages needs 64 MiB"
if [ $have_python = yes ]; then
	if python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(d["result"] != "failed" or not d["errors"])' "$tmp/out"; then
		pass "bench --json prints one failure document"
	else
		fail "bench --json failure document"
		diag_file "$tmp/out"
	fi
else
	skip "bench --json failure document: no python3"
fi
# The baseline is a bounded sample: a 1 TiB dedup bench (16 GiB of struct
# pages undeduplicated, 1 GiB folios) fits a host with 1 GiB free.
ZD_HOST_MEM_AVAILABLE=1073741824 run "bench memremap devdax 1G map=mem 1T on a 1 GiB host" 0 \
	bench memremap --type devdax --align 1G --map mem --size 1T --repeat 1 --dir "$tmp" --json
check "its baseline was a 128 MiB sample" "$tmp/out" '"baseline_sample_bytes": 134217728'
check "it reports a non-temporal-store baseline" "$tmp/out" '"ntstore_warm": {'
check "and each phase's ratio to it" "$tmp/out" '"ratio_to_ntstore":'
check "it times the per-page init in the same run" "$tmp/out" '"rebind_init_per_page": {'
check "a map=mem rebind compares with the cold baselines" "$tmp/out" '"rebind_baseline": "cold"'
run "bench memmap 1G --json" 0 bench memmap --size 1G --repeat 1 --json
check "bench memmap times the per-page init in the same run" "$tmp/out" '"warm_init_per_page": {'
check "and the non-temporal baseline" "$tmp/out" '"ntstore_cold": {'
peak=$(sed -n 's/.*"peak_rss_bytes": \([0-9]*\).*/\1/p' "$tmp/out")
if [ -n "$peak" ] && [ "$peak" -lt 536870912 ]; then
	pass "the 1 TiB dedup bench peaks below 512 MiB of RSS ($peak bytes)"
else
	fail "the 1 TiB dedup bench peaks below 512 MiB of RSS (got '$peak')"
fi
if ls "$tmp"/zonedev-bench-* >/dev/null 2>&1; then
	fail "a refused bench left a file"
else
	pass "a refused bench creates no file"
fi

# ---- 8. progress: on a terminal only, not with --quiet ----
if command -v script >/dev/null 2>&1; then
	pty() { script -qefc "$1" "$tmp/pty" >/dev/null 2>&1; }
	pty "ZD_PROGRESS_DELAY_MS=0 '$ZD_CLI' bench memremap --size 4G --repeat 1 --dir '$tmp'"
	check "bench on a terminal shows a progress line" "$tmp/pty" "bench memremap: first bind: memmap_init_zone_device ["
	check "with a rate and an ETA" "$tmp/pty" "pages/s ETA"
	pty "ZD_PROGRESS_DELAY_MS=0 '$ZD_CLI' bench memremap --size 4G --repeat 1 --dir '$tmp' --quiet"
	lacks "--quiet: no progress line" "$tmp/pty" "ETA"
	pty "ZD_PROGRESS_DELAY_MS=0 '$ZD_CLI' run scenarios/hotplug-basics.yaml"
	check "a scenario on a terminal shows its step" "$tmp/pty" "step 1/"
	pty "ZD_PROGRESS_DELAY_MS=0 '$ZD_CLI' run --quiet scenarios/hotplug-basics.yaml"
	lacks "run --quiet: no progress line" "$tmp/pty" "ETA"
else
	skip "progress on a terminal: no script(1) for a pseudo-terminal"
fi
ZD_PROGRESS_DELAY_MS=0 "$ZD_CLI" bench memremap --size 4G --repeat 1 --dir "$tmp" \
	>"$tmp/out" 2>"$tmp/err"
if grep -q "$(printf '\r')" "$tmp/out" "$tmp/err"; then
	fail "not a terminal: a carriage return in the output"
else
	pass "not a terminal: no progress line"
fi

# ---- kill -9 at a chosen region-file write (the ZD_CRASH_WRITE hook) ----
# Write 1 sizes the fresh file, write 2 is the info block: killed before it,
# the file holds a raw namespace and the sequence simply runs again.
d=$tmp/crash
mkdir "$d" || exit 1
export ZD_TMPDIR="$d" ZD_CRASH_WRITE=2
run "killed by SIGKILL at region-file write 2 (ZD_CRASH_WRITE=2)" 137 run scenarios/pmem/01-pmem-fsdax.yaml
check "the kill names the write" "$tmp/err" "crash injection: SIGKILL at region-file write 2 after 0 of 4096 bytes"
unset ZD_CRASH_WRITE
run "the next run finds the namespace raw and creates it" 0 run scenarios/pmem/01-pmem-fsdax.yaml
export ZD_CRASH_WRITE=x
run "with a malformed ZD_CRASH_WRITE the reopen runs" 0 run scenarios/pmem/02-pmem-reopen.yaml
check "and the value is reported as ignored" "$tmp/err" "ZD_CRASH_WRITE=x is not N[:PREFIX]"
unset ZD_CRASH_WRITE ZD_TMPDIR

echo "1..$n"
[ $failed -eq 0 ]
