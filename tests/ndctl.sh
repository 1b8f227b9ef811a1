#!/bin/sh
# TAP test of zonedev ndctl, daxctl, lsmem and chmem on a persistent
# machine (run by `make check` through prove): an ndctl/daxctl script that
# knows nothing of zonedev runs against the recorded machine (QEMU's 2 GiB
# PC layout, one label-less 8 GiB region at 4 GiB) and its JSON matches
# tests/data/ndctl/ key for key, in order, value for value but the uuid;
# what only the running kernel keeps survives between invocations (state
# file) until --reboot; ndctl's refusals leave the region file as it was,
# with ndctl's messages and exit codes; lsmem's text and JSON, chmem.
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root.
set -u

. "$(dirname "$0")/tap.sh"

data=$ZD_SRCDIR/tests/data/ndctl
if ! command -v jq >/dev/null 2>&1; then
	echo "1..1"
	echo "not ok 1 - jq is missing: make check-deps installs it (apt-get install jq)"
	exit 1
fi

# The machine tests/data/ndctl/ was recorded on, as the docs show it.
M=$tmp/M.yaml
cp "$ZD_SRCDIR/scenarios/data/ndctl-machine.yaml" "$M" || exit 1
img=$tmp/pmem0.img

# The tools under their own names, as a script on a host would call them.
bin=$tmp/bin
mkdir "$bin" "$tmp/out1" || exit 1
for t in ndctl daxctl lsmem chmem; do
	printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$ZD_CLI" "$t" >"$bin/$t"
	chmod +x "$bin/$t"
done

# same_json NAME OUT RECORDED: the same keys, order, nesting and values,
# the uuid aside (random per create, as with ndctl), which must look like one;
# and the sizes: ndctl prints them human-readable only on a terminal (the
# recordings were made on one), so a piped "size" is the number of bytes
# and the recorded "7.87 GiB (8.45 GB)" is compared as a size.
same_json() {
	_norm='del(.uuid) | (.. | objects | select(has("size")) | .size) |= "SIZE"'
	if [ "$(jq -c "$_norm" "$2" 2>&1)" = "$(jq -c "$_norm" "$3")" ] &&
	   [ "$(jq -c '[.. | objects | select(has("size")) | .size | type] | unique' "$2")" = '["number"]' ]
	then
		pass "$1"
	else
		fail "$1"
		diff "$3" "$2" | head -n 20 | sed 's/^/# /'
	fi
	if jq -r .uuid "$2" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
	then pass "$1: a version-4 uuid"; else fail "$1: a version-4 uuid"; diag_file "$2"; fi
}
# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', wanted '$3'"; fi
}

# ---- help and usage ----
for t in ndctl daxctl lsmem chmem; do
	run "$t --help" 0 "$t" --help
	check "$t --help shows its usage" "$tmp/out" "usage: zonedev $t"
	check "$t --help names --reboot" "$tmp/out" "--reboot"
done
# every option the commands take is in their help (the man pages come from it)
for spec in "ndctl:machine state reboot dmesg namespaces regions dimms dimm device-dax idle configured media-errors verbose bus human region namespace mode reconfig force map align size type uuid name help" \
	"daxctl:machine state reboot dmesg devices regions mappings idle human region dev mode no-online no-movable force verbose help" \
	"lsmem:machine state reboot dmesg all bytes json pairs raw noheadings output output-all split summary help" \
	"chmem:machine state reboot dmesg enable disable blocks block zone verbose help"; do
	t=${spec%%:*}
	"$ZD_CLI" "$t" --help >"$tmp/help" 2>&1
	missing=
	for o in ${spec#*:}; do grep -q -- "--$o\b" "$tmp/help" || missing="$missing --$o"; done
	is "$t --help documents every option" "$missing" ""
done
run "zonedev help ndctl" 0 help ndctl
check "is ndctl --help" "$tmp/out" "usage: zonedev ndctl"
run "zonedev --help lists ndctl" 0 --help
for c in ndctl daxctl lsmem chmem; do
	check "zonedev --help lists $c" "$tmp/out" "  $c "
done
(unset ZD_MACHINE; "$ZD_CLI" ndctl list) >"$tmp/out" 2>"$tmp/err"
is "ndctl without a machine is a usage error (129, as ndctl)" $? 129
check "it says how to give one" "$tmp/err" "--machine FILE"
run "an unknown ndctl command" 129 ndctl --machine "$M" frobnicate
run "an invalid mode" 129 ndctl --machine "$M" create-namespace -e namespace0.0 -m frob
check "the mode is named" "$tmp/err" "invalid mode 'frob'"
run "sector mode" 129 ndctl --machine "$M" create-namespace -e namespace0.0 -m sector
check "sector mode: says it is not modelled" "$tmp/err" "sector mode (BTT) is not modelled"
run "a uuid that is not one" 129 ndctl --machine "$M" create-namespace -e namespace0.0 -u 1234-nope
check "a bad uuid: says which" "$tmp/err" "failed to parse uuid: '1234-nope'"
run "an align that is no power of two" 129 ndctl --machine "$M" create-namespace -e namespace0.0 -a 3M
run "destroy without a namespace" 129 ndctl --machine "$M" destroy-namespace
check "destroy says what to give" "$tmp/err" 'specify a namespace to destroy, or "all"'
run "reconfigure-device without --mode (129, as daxctl)" 129 daxctl --machine "$M" reconfigure-device dax0.0
run "chmem without -e or -d (1, as chmem)" 1 chmem --machine "$M" 128M
run "ndctl list -vv (buses and DIMMs, not modelled)" 129 ndctl --machine "$M" list -vv
check "-vv says why" "$tmp/err" "does not model"
[ -e "$img" ] && fail "usage errors boot nothing" || pass "usage errors boot nothing"
run "list -m with a legacy name (memory is fsdax)" 0 ndctl --machine "$M" list -m memory

# ---- the script: unchanged ndctl/daxctl usage ----
cat >"$tmp/script.sh" <<'EOF'
#!/bin/sh
# What one would run on the recorded host; nothing here knows zonedev.
set -e
out=$1
ndctl create-namespace -f -e namespace0.0 --mode=fsdax --map=dev --align=2M >"$out/fsdax-dev.json"
ndctl list -N | jq -r '.[0].mode + " " + .[0].blockdev' >"$out/list-fsdax.txt"
ndctl create-namespace -f -e namespace0.0 --mode=fsdax --map=mem --align=2M >"$out/fsdax-mem.json"
ndctl create-namespace -f -e namespace0.0 --mode=devdax --map=dev --align=2M >"$out/devdax.json"
dev=$(ndctl list -N | jq -r '.[] | select(.dev == "namespace0.0") | .chardev')
daxctl list -d "$dev" | jq -r '.[0].mode' >"$out/mode-before.txt"
daxctl reconfigure-device --mode=system-ram "$dev" >"$out/system-ram.json"
lsmem -o RANGE,SIZE,STATE,BLOCK,ZONES >"$out/lsmem.txt"
ndctl list -N -X | jq -c '.[0].daxregion.devices[0] | [.mode, .online_memblocks]' >"$out/nested.txt"
daxctl reconfigure-device -f --mode=devdax "$dev" >"$out/devdax-again.json"
ndctl destroy-namespace -f namespace0.0
ndctl list -N -i >"$out/destroyed.json"
EOF
PATH=$bin:$PATH ZD_MACHINE=$M sh "$tmp/script.sh" "$tmp/out1" >"$tmp/out" 2>"$tmp/err"
rc=$?
is "the ndctl script runs unchanged (exit 0)" $rc 0
[ $rc -eq 0 ] || diag_file "$tmp/err"
o=$tmp/out1
same_json "create-namespace fsdax map=dev 2M is the recorded JSON" "$o/fsdax-dev.json" \
	"$data/create-namespace-fsdax-dev-2M.json"
same_json "create-namespace fsdax map=mem 2M is the recorded JSON" "$o/fsdax-mem.json" \
	"$data/create-namespace-fsdax-mem-2M.json"
same_json "create-namespace devdax map=dev 2M is the recorded JSON" "$o/devdax.json" \
	"$data/create-namespace-devdax-2M.json"
is "piped create-namespace: the size in bytes" "$(jq -c '[.size, .daxregion.size]' "$o/devdax.json")" \
	"[8453619712,8453619712]"
# On a terminal (script(1) gives one) the output is the recording itself.
ZD_MACHINE=$M script -qefc \
	"$bin/ndctl create-namespace -f -e namespace0.0 --mode=devdax --map=dev --align=2M" \
	/dev/null 2>"$tmp/tty.err" | tr -d '\r' >"$tmp/tty.json"
if [ "$(jq -c 'del(.uuid)' "$tmp/tty.json" 2>&1)" = \
     "$(jq -c 'del(.uuid)' "$data/create-namespace-devdax-2M.json")" ]; then
	pass "create-namespace on a terminal: the recorded JSON, human sizes and all"
else
	fail "create-namespace on a terminal"; diag_file "$tmp/tty.json"; diag_file "$tmp/tty.err"
fi
is "list -N through jq: fsdax on pmem0" "$(cat "$o/list-fsdax.txt")" "fsdax pmem0"
is "daxctl list -d dax0.0: devdax" "$(cat "$o/mode-before.txt")" "devdax"
is "system-ram: memory34..memory95 online movable, as recorded" \
	"$(jq -c '.[0] | [.chardev, .mode, .online_memblocks, .total_memblocks, .movable]' \
	   "$o/system-ram.json")" '["dax0.0","system-ram",62,62,true]'
is "daxctl's device keys, in daxctl's order" "$(jq -c '.[0] | keys_unsorted' "$o/system-ram.json")" \
	'["chardev","size","target_node","align","mode","online_memblocks","total_memblocks","movable"]'
check "lsmem shows the hot-added blocks in ZONE_MOVABLE" "$o/lsmem.txt" \
	"0x0000000110000000-0x00000002ffffffff  7.8G online 34-95 Movable"
check "lsmem still shows boot RAM" "$o/lsmem.txt" "0x0000000008000000-0x000000007fffffff  1.9G online  1-15   DMA32"
is "ndctl -X nests the system-ram device" "$(cat "$o/nested.txt")" '["system-ram",62]'
is "back to devdax" "$(jq -r '.[0].mode' "$o/devdax-again.json")" "devdax"
is "destroy leaves it raw and disabled (list -Ni)" "$(jq -c '.[0]' "$o/destroyed.json")" \
	'{"dev":"namespace0.0","mode":"raw","size":8589934592,"sector_size":512,"state":"disabled"}'
check "destroy said so" "$tmp/err" "destroyed 1 namespace"
check "reconfigure-device said so" "$tmp/err" "reconfigured 1 device"

# ---- persistence: a fresh invocation sees the last one's work ----
run "create devdax" 0 ndctl --machine "$M" create-namespace -f -e namespace0.0 -m devdax
uuid=$(jq -r .uuid "$tmp/out")
run "a new invocation lists it" 0 ndctl --machine "$M" list -N
is "with the same uuid (from the info block)" "$(jq -r '.[0].uuid' "$tmp/out")" "$uuid"
run "--reboot keeps the media" 0 ndctl --machine "$M" --reboot list -N
is "after a reboot: still devdax, same uuid" "$(jq -r '.[0].mode + " " + .[0].uuid' "$tmp/out")" \
	"devdax $uuid"
run "disable-namespace" 0 ndctl --machine "$M" disable-namespace namespace0.0
check "disable says so" "$tmp/err" "disabled 1 namespace"
[ -f "$M.state" ] && pass "the state file holds it" || fail "the state file holds it"
check "as 'namespace 0 disabled'" "$M.state" "namespace 0 disabled"
run "list -N after disable" 0 ndctl --machine "$M" list -N
[ -s "$tmp/out" ] && fail "a disabled namespace is not listed without -i" ||
	pass "a disabled namespace is not listed without -i"
run "list -N -i after disable" 0 ndctl --machine "$M" list -N -i -u
is "list -Ni -u shows it disabled (one object)" "$(jq -c '[.mode, .state]' "$tmp/out")" '["raw","disabled"]'
run "daxctl list: no device while disabled" 0 daxctl --machine "$M" list
[ -s "$tmp/out" ] && fail "daxctl list prints nothing" || pass "daxctl list prints nothing"
run "--reboot drops the disable" 0 ndctl --machine "$M" --reboot list -N
is "enabled again after the reboot" "$(jq -r '.[0].mode + " " + .[0].chardev' "$tmp/out")" "devdax dax0.0"
[ -e "$M.state" ] && fail "--reboot removed the state file" || pass "--reboot removed the state file"
run "disable again" 0 ndctl --machine "$M" disable-namespace all
run "enable-namespace" 0 ndctl --machine "$M" enable-namespace namespace0.0
check "enable says so" "$tmp/err" "enabled 1 namespace"
[ -e "$M.state" ] && fail "back to the booted state: no state file" ||
	pass "back to the booted state: no state file"
run "--reboot alone" 0 ndctl --machine "$M" --reboot

# system-ram and chmem survive too, and come back exactly
run "to system-ram" 0 daxctl --machine "$M" reconfigure-device -m system-ram dax0.0
run "chmem -d 256M offlines the top two blocks" 0 chmem --machine "$M" -d 256M
run "lsmem after chmem" 0 lsmem --machine "$M" -b
check "94-95 offline" "$tmp/out" "0x00000002f0000000-0x00000002ffffffff  268435456 offline           94-95"
check "34-93 online" "$tmp/out" "0x0000000110000000-0x00000002efffffff 8053063680  online       yes 34-93"
check "the summary in bytes" "$tmp/out" "Total offline memory:         268435456"
run "daxctl list counts them" 0 daxctl --machine "$M" list -u
is "60 of 62 online, not all movable" "$(jq -c '[.online_memblocks, .total_memblocks, .movable]' \
	"$tmp/out")" '[60,62,null]'
grep -q '"movable"' "$tmp/out" && fail "no movable key while a block is offline" ||
	pass "no movable key while a block is offline (daxctl cannot tell its zone)"
run "daxctl list -R" 0 daxctl --machine "$M" list -R
is "the region's path is on the NFIT bus" "$(jq -r '.[0].path' "$tmp/out")" \
	"/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0"
check "the state file has the offline block" "$M.state" "block 95 offline"
check "the state file has the online block and zone" "$M.state" "block 34 online Movable"
run "destroy refuses while the memory is online" 240 ndctl --machine "$M" destroy-namespace -f namespace0.0
check "as ndctl says it" "$tmp/err" "error destroying namespaces: Device or resource busy"
run "disable refuses too" 240 ndctl --machine "$M" disable-namespace namespace0.0
run "devdax without -f refuses" 240 daxctl --machine "$M" reconfigure-device -m devdax dax0.0
check "daxctl's message" "$tmp/err" "error reconfiguring devices: Device or resource busy"
check "and count" "$tmp/err" "reconfigured 0 devices"
run "chmem -e -b 94-95" 0 chmem --machine "$M" -e -b 94-95
run "lsmem -J" 0 lsmem --machine "$M" -J -o RANGE,STATE,BLOCK,NODE,ZONES
is "lsmem -J: util-linux's shape" "$(jq -c '.memory[2]' "$tmp/out")" \
	'{"range":"0x0000000110000000-0x00000002ffffffff","state":"online","block":"34-95","node":0,"zones":"Movable"}'
check "lsmem -J indents by three" "$tmp/out" '   "memory": ['
run "offline-memory (a /dev path names the device, as daxctl takes it)" 0 \
	daxctl --machine "$M" offline-memory /dev/dax0.0
check "offline-memory says so" "$tmp/err" "offlined memory for 1 device"
run "destroy now goes" 0 ndctl --machine "$M" destroy-namespace -f namespace0.0
run "no kmem blocks left" 0 lsmem --machine "$M" --summary
check "only boot RAM" "$tmp/out" "Total online memory:       2G"
is "the state holds only the disabled namespace" "$(grep -v '^#' "$M.state" | sed 1d)" \
	"namespace 0 disabled
end 1"

# ---- the state file is the machine's and nobody else's ----
run "disable (raw)" 0 ndctl --machine "$M" disable-namespace namespace0.0
printf '\n' >>"$M"
run "a changed machine file refuses the state" 1 ndctl --machine "$M" list -N
check "and says what to do" "$tmp/err" "--reboot"
run "--reboot fixes it" 0 ndctl --machine "$M" --reboot list -N
is "raw and enabled" "$(jq -r '.[0].blockdev' "$tmp/out")" "pmem0"
printf 'zonedev-state 1 0\n' >"$tmp/other.state"
run "--state names another file" 1 ndctl --machine "$M" --state "$tmp/other.state" list
printf 'garbage\n' >"$M.state"
run "a garbage state file" 1 ndctl --machine "$M" list
check "is refused, named" "$tmp/err" "not a zonedev state file"
rm -f "$M.state"
# the end line: a cut file is refused, not half replayed
run "disable for the cut tests" 0 ndctl --machine "$M" disable-namespace namespace0.0
check "the state ends with its count" "$M.state" "end 1"
grep -v '^end' "$M.state" >"$tmp/cut"; cp "$tmp/cut" "$M.state"
run "a state file cut before its end line" 1 ndctl --machine "$M" list -N
check "is refused as cut short" "$tmp/err" "no 'end' line"
grep '^#' "$M.state" >"$tmp/cut"; cp "$tmp/cut" "$M.state"
run "a state file cut to its comments" 1 ndctl --machine "$M" list -N
rm -f "$M.state"
# --reboot alone waits for a command in progress (the machine file's lock)
run "disable for the lock test" 0 ndctl --machine "$M" disable-namespace namespace0.0
flock "$M" sleep 2 &
holder=$!
sleep 0.5
"$ZD_CLI" ndctl --machine "$M" --reboot &
rebooter=$!
sleep 0.5
[ -e "$M.state" ] && pass "--reboot alone waits for the lock" || fail "--reboot alone waits for the lock"
wait $holder
wait $rebooter
is "and drops the state once it has it" "$([ -e "$M.state" ] && echo kept || echo gone)" gone
# a state that cannot be written stops the command before it acts
run "an unwritable state path" 1 ndctl --machine "$M" --state "$tmp/no/such/dir/s" \
	create-namespace -f -e namespace0.0 -m fsdax
check "says nothing was done" "$tmp/err" "(nothing was done)"
run "disable with an unwritable state path" 1 ndctl --machine "$M" --state "$tmp/no/such/dir/s" \
	disable-namespace namespace0.0
run "list with it still works (list saves nothing)" 0 ndctl --machine "$M" \
	--state "$tmp/no/such/dir/s" list -N
is "the namespace is still raw and enabled" "$(jq -c '.[0] | [.mode, .blockdev]' "$tmp/out")" \
	'["raw","pmem0"]'
ls "$M".state.* 2>/dev/null && fail "no state temporary left" || pass "no state temporary left"

# disable on a read-only region: ndctl_namespace_disable_safe() checks no
# read-only flag, so nothing is said but the count
printf 'machine:\n  arch: x86_64\n  ram:\n    - {start: 1M, size: 1023M}\n  pmem:\n    - {start: 4G, size: 256M, file: ro.img, read_only: true}\n' >"$tmp/ro.yaml"
truncate -s 256M "$tmp/ro.img"
run "disable on a read-only region" 0 ndctl --machine "$tmp/ro.yaml" disable-namespace namespace0.0
is "says only the count" "$(cat "$tmp/err")" "disabled 1 namespace"

# a region file that cannot be written is read-only media, not an error;
# what the state holds is kept for when it is writable again
printf 'machine:\n  arch: x86_64\n  ram:\n    - {start: 1M, size: 1023M}\n  pmem:\n    - {start: 4G, size: 256M, file: rw.img}\n    - {start: 8G, size: 256M, file: rw1.img}\n' >"$tmp/rw.yaml"
truncate -s 256M "$tmp/rw.img" "$tmp/rw1.img"
run "disable namespace1.0 while all is writable" 0 ndctl --machine "$tmp/rw.yaml" \
	disable-namespace namespace1.0
if [ "$(id -u)" = 0 ]; then chattr +i "$tmp/rw.img" 2>/dev/null; else chmod a-w "$tmp/rw.img"; fi
if [ -w "$tmp/rw.img" ] && ! lsattr "$tmp/rw.img" 2>/dev/null | grep -q '^....i'; then
	for t in 1 2 3 4 5; do skip "an unwritable region file (no immutable flag for root here)"; done
else
	run "list with an unwritable region file" 0 ndctl --machine "$tmp/rw.yaml" list -N
	is "lists it (raw, read-only)" "$(jq -r '.[0].blockdev' "$tmp/out")" "pmem0"
	run "an unwritable region file refuses changes" 250 ndctl --machine "$tmp/rw.yaml" \
		create-namespace -f -e namespace0.0 -m fsdax
	check "with ndctl's read-only message" "$tmp/err" "read-only, re-configuration disabled"
	run "enable the other namespace meanwhile" 0 ndctl --machine "$tmp/rw.yaml" \
		enable-namespace namespace1.0
	check "says the state is kept" "$tmp/err" "the state file is kept as it was"
fi
chattr -i "$tmp/rw.img" 2>/dev/null; chmod u+w "$tmp/rw.img"
run "writable again" 0 ndctl --machine "$tmp/rw.yaml" list -N -i -n namespace1.0
is "the state survived the read-only boots" "$(jq -r '.[0].state' "$tmp/out")" "disabled"
# version 1 state files (before the end line) still load; a killed
# command's temporary is removed under the lock
printf '# old\nzonedev-state 1 %s\nnamespace 1 disabled\n' \
	"$(sed -n 's/^zonedev-state 2 //p' "$tmp/rw.yaml.state")" >"$tmp/rw.yaml.state"
: >"$tmp/rw.yaml.state.AbC123"
run "a version 1 state file" 0 ndctl --machine "$tmp/rw.yaml" list -N -i -n namespace1.0
is "is replayed" "$(jq -r '.[0].state' "$tmp/out")" "disabled"
[ -e "$tmp/rw.yaml.state.AbC123" ] && fail "a stale temporary is removed" ||
	pass "a stale temporary is removed"
check "and named" "$tmp/err" "left by a command that was killed"
# a machine path long enough that the state's comment line passes 256 bytes
long=$tmp/$(printf 'd%.0s' $(seq 1 120))/$(printf 'e%.0s' $(seq 1 120))
mkdir -p "$long" && cp "$tmp/rw.yaml" "$long/M.yaml" && truncate -s 256M "$long/rw.img" "$long/rw1.img"
run "disable under a long path" 0 ndctl --machine "$long/M.yaml" disable-namespace namespace0.0
run "and read the state back" 0 ndctl --machine "$long/M.yaml" list -N -i -n namespace0.0
is "the long comment line is skipped whole" "$(jq -r '.[0].state' "$tmp/out")" "disabled"
rm -rf "$tmp/$(printf 'd%.0s' $(seq 1 120))"

# ---- list's filters, as ndctl's filter.c reads them ----
run "list -v" 0 ndctl --machine "$M" list -v
is "-v adds numa_node and target_node" "$(jq -c '.[0] | [.dev, .numa_node, .target_node]' \
	"$tmp/out")" '["namespace0.0",0,0]'
run "list -N -b ndbus0" 0 ndctl --machine "$M" list -N -b ndbus0
is "the bus matches" "$(jq -r '.[0].dev' "$tmp/out")" "namespace0.0"
run "list -N -b ndbus1" 0 ndctl --machine "$M" list -N -b ndbus1
is "another bus matches nothing" "$(cat "$tmp/out")" ""
run "list -b alone (buses, not modelled)" 129 ndctl --machine "$M" list -b ndbus0
check "says to add -N or -R" "$tmp/err" "add -N or -R"
run "list -R -v" 0 ndctl --machine "$M" list -R -v
is "-v regions carry numa_node and target_node" \
	"$(jq -c '.regions[0] | [.dev, .numa_node, .target_node]' "$tmp/out")" '["region0",0,0]'
run "list -N -b ACPI.NFIT" 0 ndctl --machine "$M" list -N -b "e820 ACPI.NFIT"
is "the bus by its provider (the recorded machine's NFIT)" "$(jq -r '.[0].dev' "$tmp/out")" \
	"namespace0.0"
run "list -t blk" 0 ndctl --machine "$M" list -t blk
is "no blk regions" "$(cat "$tmp/out")" ""
run "list -R -r 0x0" 0 ndctl --machine "$M" list -R -r 0x0
is "a number in any base (strtoul)" "$(jq -r '.[0].dev' "$tmp/out")" "region0"
run "list -R -r region0x" 0 ndctl --machine "$M" list -R -r region0x
is "a name matches exactly" "$(cat "$tmp/out")" ""
run "list -n with two words" 0 ndctl --machine "$M" list -n "namespace9.0 namespace0.0"
is "space-separated namespaces" "$(jq -r '.[0].dev' "$tmp/out")" "namespace0.0"
run "disable for -c" 0 ndctl --machine "$M" disable-namespace namespace0.0
run "list (a disabled namespace is not listed)" 0 ndctl --machine "$M" list
is "nothing" "$(cat "$tmp/out")" ""
run "list -c" 0 ndctl --machine "$M" list -c
is "-c lists a disabled namespace with a size" "$(jq -c '.[0] | [.dev, .state]' "$tmp/out")" \
	'["namespace0.0","disabled"]'
run "enable after -c" 0 ndctl --machine "$M" enable-namespace namespace0.0
run "list -m sector" 0 ndctl --machine "$M" list -m sector
is "a valid mode nothing has" "$(cat "$tmp/out")" ""

# ---- refusals change nothing: ndctl's messages and exit codes ----
# (8 GiB are slow to hash: the part metadata can reach, the allocation)
sum() { echo "$(head -c 256M "$img" | sha256sum) $(stat -c %b "$img")"; }
before=$(sum)
run "active without -f" 240 ndctl --machine "$M" create-namespace -e namespace0.0 -m fsdax
check "ndctl's EBUSY message" "$tmp/err" "namespace0.0 is active, specify --force for re-configuration"
check "and its summary" "$tmp/err" "failed to reconfigure namespace: Device or resource busy"
run "a size that is not the region's" 234 ndctl --machine "$M" create-namespace -f -e namespace0.0 -s 4G
check "label-less regions cannot be split" "$tmp/err" "  Error: Legacy / label-less namespaces do not support sub-dividing a region"
is "the refusals left the region file as it was" "$(sum)" "$before"
run "1G align fits 8G" 0 ndctl --machine "$M" create-namespace -f -e namespace0.0 -m devdax -M mem -a 1G
is "1G devdax (piped: plain numbers, as ndctl prints off a terminal)" \
	"$(jq -c '[.map, .align, .daxregion.devices[0].align]' "$tmp/out")" \
	'["mem",1073741824,1073741824]'
run "a fresh invocation" 0 ndctl --machine "$M" list -N -X
is "devdax map=mem, plain numbers" "$(jq -c '.[0] | [.mode, .map, .daxregion.devices[0].align]' \
	"$tmp/out")" '["devdax","mem",1073741824]'
run "back to raw" 0 ndctl --machine "$M" create-namespace -f -e namespace0.0 -m raw
before=$(sum)
run "create without -e on a label-less region" 237 ndctl --machine "$M" create-namespace -m fsdax
check "fails as ndctl does" "$tmp/err" "failed to create namespace: No space left on device"
run "a bare create (ndctl retries with type blk)" 237 ndctl --machine "$M" create-namespace
check "and finds no blk region" "$tmp/err" "failed to create namespace: No such device or address"
run "create -s past every region" 237 ndctl --machine "$M" create-namespace -s 16G
is "is only out of space (validate_available_capacity)" "$(cat "$tmp/err")" \
	"failed to create namespace: No space left on device"
run "an unknown namespace" 250 ndctl --machine "$M" create-namespace -f -e namespace7.0
run "an unsupported align" 250 ndctl --machine "$M" create-namespace -f -e namespace0.0 -m fsdax -a 8K
check "named" "$tmp/err" "  Error: unsupported align: 8K"
run "raw takes no align" 250 ndctl --machine "$M" create-namespace -f -e namespace0.0 -m raw -a 2M
is "after the refusals the raw region file is as it was" "$(sum)" "$before"

# a region that is no multiple of its align, one not 16 MiB aligned,
# one whose size does not fit the align
M2=$tmp/M2.yaml
cat >"$M2" <<'EOF'
machine:
  ram:
    - {start: 1M, size: 1023M}
  pmem:
    - {start: 4G, size: 0x4400000, file: r0.img}
    - {start: 0x140200000, size: 1G, file: r1.img}
    - {start: 8G, size: 80M, file: r2.img}
  auto_online_blocks: online_movable
EOF
run "M2 boots" 0 ndctl --machine "$M2" list -R -u
is "three regions" "$(jq -r '.[2].dev + " " + .[2].size' "$tmp/out")" "region2 80.00 MiB (83.89 MB)"
sums=$(cat "$tmp"/r?.img | sha256sum)
run "region align" 234 ndctl --machine "$M2" create-namespace -f -e namespace0.0
check "ndctl's misaligned message" "$tmp/err" "  Error: create namespace: region0: align setting is 0x1000000 size 0x4400000 is misaligned"
run "disable namespace1.0" 0 ndctl --machine "$M2" disable-namespace namespace1.0
run "not 16M aligned" 234 ndctl --machine "$M2" create-namespace -e namespace1.0 -m fsdax
check "ndctl's 16M message" "$tmp/err" "  Error: namespace1.0 misaligned to 16M, adjust region alignment and retry"
run "still disabled" 0 ndctl --machine "$M2" list -N -i -r 1 -n namespace1.0
is "still raw and disabled" "$(jq -r '.[0].state' "$tmp/out")" "disabled"
run "1G align on 80M" 234 ndctl --machine "$M2" create-namespace -f -e namespace2.0 -m devdax -a 1G -s 80M
check "did you intend" "$tmp/err" "did you intend --size=1024M?"
is "the region files are byte-identical" "$(cat "$tmp"/r?.img | sha256sum)" "$sums"
run "-f skips the 16M check" 0 ndctl --machine "$M2" create-namespace -f -e namespace1.0 -m devdax
run "auto-online policy: daxctl refuses movable" 240 daxctl --machine "$M2" reconfigure-device -m system-ram dax1.0
check "daxctl's policy message" "$tmp/err" "dax1.0: error: kernel policy will auto-online memory, aborting"
run "with -f it goes" 0 daxctl --machine "$M2" reconfigure-device -f -m system-ram all
is "the policy onlined them movable" "$(jq -c '.[0] | [.online_memblocks, .movable]' "$tmp/out")" '[7,true]'
run "ndctl list -RN: regions hold their namespaces" 0 ndctl --machine "$M2" list -R -N -r 1
is "one object: regions[].namespaces[]" "$(jq -c '[.regions[0].dev, .regions[0].namespaces[0].dev]' \
	"$tmp/out")" '["region1","namespace1.0"]'

# ---- lsmem text ----
run "lsmem on M" 0 lsmem --machine "$M"
cat >"$tmp/want" <<'EOF'
RANGE                                 SIZE  STATE REMOVABLE BLOCK
0x0000000000000000-0x000000007fffffff   2G online       yes  0-15

Memory block size:       128M
Total online memory:       2G
Total offline memory:      0B
EOF
if cmp -s "$tmp/want" "$tmp/out"; then pass "lsmem prints util-linux's table and summary"; else
	fail "lsmem prints util-linux's table and summary"; diff "$tmp/want" "$tmp/out" | sed 's/^/# /'; fi
run "lsmem -a -n -o BLOCK,ZONES" 0 lsmem --machine "$M" -a -n -o BLOCK,ZONES --summary=never
is "one line per block" "$(wc -l <"$tmp/out" | tr -d ' ')" 16
is "block 0 spans DMA and DMA32" "$(head -n 1 "$tmp/out")" "    0  None"
run "lsmem -P" 0 lsmem --machine "$M" -P
check "key=value pairs" "$tmp/out" 'RANGE="0x0000000000000000-0x000000007fffffff" SIZE="2G" STATE="online" REMOVABLE="yes" BLOCK="0-15"'
run "lsmem -J and -r exclude each other (1, as lsmem)" 1 lsmem --machine "$M" -J -r
run "chmem: a size off the block size (1, as chmem)" 1 chmem --machine "$M" -d 100M
check "chmem says the block size" "$tmp/err" "Size must be aligned to memory block size (128M)"
run "chmem -d of a missing block range" 1 chmem --machine "$M" -d -b 200-201

echo "1..$n"
[ "$failed" -eq 0 ]
