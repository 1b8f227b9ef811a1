#!/bin/sh
# TAP test of the zonedev command line (run by `make check` through prove):
# help texts, exit codes of usage errors, the built-in demo (and that it is
# byte-for-byte scenarios/demo.yaml; that it runs without ZD_TMPDIR and
# cleans up after itself), JSON output (the ZONE_DEVICE reports too), and
# `zonedev iomem` importing the checked-in example and saying where every
# layout came from (ZD_HOST_IOMEM stands in for the host's /proc/iomem).
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root.
set -u

. "$(dirname "$0")/tap.sh"

# Where the demo and the scenarios below put their pmem region files.
ZD_TMPDIR=$tmp/zd-tmpdir
mkdir "$ZD_TMPDIR" || exit 1
export ZD_TMPDIR
cd "$ZD_SRCDIR" || exit 1

# ---- help ----
run "zonedev --help" 0 --help
check "--help lists the commands" "$tmp/out" "run FILE.yaml"
check "--help lists demo and iomem" "$tmp/out" "iomem"
check "--help states the exit codes" "$tmp/out" "2 usage error"
run "zonedev -h" 0 -h
run "zonedev --version" 0 --version
check "--version prints the version" "$tmp/out" "zonedev "
for cmd in demo run iomem; do
	run "zonedev $cmd --help" 0 "$cmd" --help
	check "$cmd --help shows its usage" "$tmp/out" "usage: zonedev $cmd"
	check "$cmd --help mentions --json" "$tmp/out" "--json"
	run "zonedev help $cmd" 0 help "$cmd"
done
run "iomem --help names the arch profiles" 0 iomem --help
check "iomem --help lists x86_64-la57" "$tmp/out" "x86_64-la57"
run "zonedev run --help" 0 run --help
check "run --help explains expect_error" "$tmp/out" "expect_error"

# ---- usage errors: exit 2, message on stderr, nothing on stdout ----
run "no arguments" 2
run "unknown command" 2 frobnicate
check "unknown command is named" "$tmp/err" "unknown command 'frobnicate'"
run "unknown top-level option" 2 --frobnicate
run "run without a file" 2 run
check "run without a file says so" "$tmp/err" "missing scenario"
run "run with two files" 2 run a.yaml b.yaml
run "run with an unknown option" 2 run --frobnicate scenarios/demo.yaml
check "unknown option is named" "$tmp/err" "unknown option '--frobnicate'"
run "demo with an argument" 2 demo extra
run "demo with an unknown option" 2 demo -x
run "iomem with an unknown arch" 2 iomem --arch vax
check "unknown arch lists the profiles" "$tmp/err" "x86_64-la57"
run "iomem with bad --phys-bits" 2 iomem --phys-bits lots
run "iomem with --phys-bits 0" 2 iomem --phys-bits 0
run "iomem with --phys-bits below a section" 2 iomem --phys-bits 12
run "iomem with --phys-bits above the profile" 2 iomem --arch x86_64 --phys-bits 52
run "iomem --import without a path" 2 iomem --import
run "iomem --import with --default" 2 iomem --import x --default
run "help for an unknown command" 2 help frobnicate
if [ -s "$tmp/out" ]; then fail "usage errors print nothing on stdout"; else pass "usage errors print nothing on stdout"; fi

# ---- scenario failures: exit 1 ----
run "run a missing file" 1 run scenarios/no-such-file.yaml
check "missing file is named" "$tmp/err" "scenarios/no-such-file.yaml: cannot open"
run "run --json a missing file" 1 run --json scenarios/no-such-file.yaml
json_ok "a failed run still prints one JSON document" "$tmp/out"
check "the failure is in the JSON" "$tmp/out" '"result": "failed"'

# ---- demo ----
run "demo runs" 0 demo
cp "$tmp/out" "$tmp/demo1"
check "demo echoes its steps" "$tmp/demo1" "== demo.yaml:"
check "demo shows /proc/iomem" "$tmp/demo1" " : System RAM"
check "demo shows an expected EBUSY" "$tmp/demo1" "failed as expected: EBUSY"
check "demo ends clean" "$tmp/demo1" "no invariant check fired"
run "demo runs again" 0 demo
if cmp -s "$tmp/demo1" "$tmp/out"; then
	pass "demo prints the same output twice"
else
	fail "demo prints the same output twice"
	diff "$tmp/demo1" "$tmp/out" | head -n 20 | sed 's/^/# /'
fi
run "demo --print-scenario" 0 demo --print-scenario
if cmp -s "$tmp/out" scenarios/demo.yaml; then
	pass "built-in demo is scenarios/demo.yaml byte for byte"
else
	fail "built-in demo is scenarios/demo.yaml byte for byte (run tools/zonedev/gen-demo.sh)"
	diff scenarios/demo.yaml "$tmp/out" | head -n 20 | sed 's/^/# /'
fi
run "run scenarios/demo.yaml" 0 run scenarios/demo.yaml
sed 's/== scenarios\/demo.yaml/== demo.yaml/' "$tmp/out" >"$tmp/demo-file"
if cmp -s "$tmp/demo1" "$tmp/demo-file"; then
	pass "demo and run scenarios/demo.yaml print the same"
else
	fail "demo and run scenarios/demo.yaml print the same"
	diff "$tmp/demo1" "$tmp/demo-file" | head -n 20 | sed 's/^/# /'
fi
run "demo --quiet" 0 demo --quiet
if grep -q '^== ' "$tmp/out"; then fail "--quiet echoes no steps"; else pass "--quiet echoes no steps"; fi
check "--quiet still prints reports" "$tmp/out" " : System RAM"
run "demo --dmesg" 0 demo --dmesg
check "--dmesg echoes kernel lines" "$tmp/out" "hotplug: added"
run "demo --json" 0 demo --json
json_ok "demo --json is one valid JSON document" "$tmp/out"
check "demo --json reports success" "$tmp/out" '"result": "ok"'
check "demo --json holds reports" "$tmp/out" '"report":'
if grep -q '^== ' "$tmp/out"; then fail "--json prints no step echo"; else pass "--json prints no step echo"; fi

# ---- the demo's pmem file: ZD_TMPDIR, or a directory of its own ----
if [ -f "$ZD_TMPDIR/demo-pmem.img" ]; then
	pass "the demo keeps its region file in \$ZD_TMPDIR"
else
	fail "the demo keeps its region file in \$ZD_TMPDIR"
fi
mkdir "$tmp/base"
(unset ZD_TMPDIR; TMPDIR=$tmp/base "$ZD_CLI" demo) >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ]; then pass "demo runs without ZD_TMPDIR (exit 0)"; else fail "demo runs without ZD_TMPDIR (exit $rc)"; diag_file "$tmp/err"; fi
check "demo without ZD_TMPDIR uses a temporary directory" "$tmp/out" "$tmp/base/zonedev-demo-"
check "demo without ZD_TMPDIR ends clean" "$tmp/out" "no invariant check fired"
if [ -z "$(ls -A "$tmp/base")" ]; then
	pass "demo removes the temporary directory it made"
else
	fail "demo removes the temporary directory it made"
	ls -la "$tmp/base" | sed 's/^/# /'
fi
(unset ZD_TMPDIR; "$ZD_CLI" run scenarios/demo.yaml) >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ]; then pass "run demo.yaml without ZD_TMPDIR fails (exit 1)"; else fail "run demo.yaml without ZD_TMPDIR fails (exit $rc, wanted 1)"; fi
line=$(grep -n 'ZD_TMPDIR}/demo-pmem.img' scenarios/demo.yaml | head -n 1 | cut -d: -f1)
check "an unset variable is named with its line" "$tmp/err" "scenarios/demo.yaml:$line:"
check "an unset variable is named" "$tmp/err" "environment variable ZD_TMPDIR is not set"

# ---- ZONE_DEVICE reports and steps in --json ----
cat >"$tmp/devices.yaml" <<'YAML'
description: ZONE_DEVICE reports as JSON
machine:
  ram:
    - {start: 1M, size: 2047M}
  pmem:
    - {start: 4G, size: 1G, file: region0.img}     # relative to this file
    - {start: 8G, size: 1G, file: "${ZD_TMPDIR}/region1.img"}
  gpus:
    - {name: gpu0, vram: 512M}
steps:
  - create_namespace: {region: region0, mode: devdax, map: mem, align: 2M}
  - create_namespace: {region: region1, mode: fsdax, map: dev}
  - write_namespace: {namespace: namespace1.0, offset: 4K, data: "json \"quoted\"\n"}
  - expect: {namespace: namespace1.0, data_at: 4K, data: "json \"quoted\"\n"}
  - gpu_add_chunk: {gpu: gpu0}
  - gpu_alloc: {gpu: gpu0, as: page}
  - memremap: {type: p2pdma, start: 64G, size: 2M, as: bar}
  - list_namespaces
  - report: namespaces
  - report: devices
  - report: vmemmap
YAML
run "run a ZONE_DEVICE scenario" 0 run "$tmp/devices.yaml"
check "report namespaces shows the devdax namespace" "$tmp/out" "namespace0.0   devdax"
check "report devices shows the dax device and its driver" "$tmp/out" "driver=device_dax"
check "report vmemmap shows resident bytes on the device" "$tmp/out" "on the device:"
check "list_namespaces prints ndctl JSON" "$tmp/out" '"dev":"namespace1.0"'
check "data with quotes and newlines is echoed escaped" "$tmp/out" 'data="json \"quoted\"\n"'
if [ -f "$tmp/region0.img" ] && [ -f "$ZD_TMPDIR/region1.img" ]; then
	pass "region files: relative to the scenario, and from \${ZD_TMPDIR}"
else
	fail "region files: relative to the scenario, and from \${ZD_TMPDIR}"
fi
rm -f "$tmp/region0.img" "$ZD_TMPDIR/region1.img"
run "run --json a ZONE_DEVICE scenario" 0 run --json "$tmp/devices.yaml"
json_ok "ZONE_DEVICE --json is one valid JSON document" "$tmp/out"
if [ $have_python = no ]; then
	skip "ZONE_DEVICE JSON reports have their fields (no python3)"
elif python3 - "$tmp/out" >"$tmp/pyerr" 2>&1 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
steps = doc["steps"]
def step(name, what=None):
    for s in steps:
        if s["step"] == name and (what is None or s["args"].get("what") == what):
            return s
    raise SystemExit("no step %s %s" % (name, what))
ns = step("report", "namespaces")["report"]
assert [n["dev"] for n in ns] == ["namespace0.0", "namespace1.0"], ns
assert ns[0]["mode"] == "devdax" and ns[0]["map"] == "mem" and ns[0]["chardev"] == "dax0.0", ns[0]
assert ns[1]["mode"] == "fsdax" and ns[1]["map"] == "dev" and ns[1]["blockdev"] == "pmem1", ns[1]
devs = {d["name"]: d["driver"] for d in step("report", "devices")["report"]}
assert devs == {"region0": None, "region1": None, "gpu0": "hmm_dmirror",
                "dax0.0": "device_dax", "pfn1.0": "nd_pmem"}, devs
vm = step("report", "vmemmap")["report"]
for k in ("mapped_bytes", "resident_bytes", "resident_ram_bytes", "resident_device_bytes"):
    assert isinstance(vm[k], int), k
assert vm["resident_device_bytes"] > 0, vm
lst = step("list_namespaces")["namespaces"]
assert lst[1]["dev"] == "namespace1.0" and lst[1]["mode"] == "fsdax", lst
assert step("create_namespace")["namespace"]["chardev"] == "dax0.0"
assert step("gpu_alloc")["phys"].startswith("0x")
assert step("memremap")["cpu_addressable"] is True
assert doc["machine"]["pmem"][1]["file"] == "${ZD_TMPDIR}/region1.img"
assert doc["machine"]["gpus"][0]["vram"] == 512 << 20
PY
then
	pass "ZONE_DEVICE JSON reports have their fields"
else
	fail "ZONE_DEVICE JSON reports have their fields"
	diag_file "$tmp/pyerr"
fi
rm -f "$tmp/region0.img" "$ZD_TMPDIR/region1.img"

# ---- console loglevel and dynamic debug ----
rm -f "$ZD_TMPDIR"/pmem*.img
run "run --dmesg (default console level)" 0 run scenarios/pmem-devdax.yaml --dmesg
if grep -q "memmap_init_zone_device initialised" "$tmp/out"; then
	fail "pr_debug lines stay off the console by default"
else
	pass "pr_debug lines stay off the console by default"
fi
rm -f "$ZD_TMPDIR"/pmem*.img
run "run --dyndbg 'func memmap_init_zone_device +p'" 0 run scenarios/pmem-devdax.yaml --dmesg \
	--dyndbg 'func memmap_init_zone_device +p'
check "--dyndbg shows that function's pr_debug line" "$tmp/out" "memmap_init_zone_device initialised"
if grep -q "altmap: pfn" "$tmp/out"; then
	fail "--dyndbg shows no other function's pr_debug lines"
else
	pass "--dyndbg shows no other function's pr_debug lines"
fi
rm -f "$ZD_TMPDIR"/pmem*.img
run "run --log-level debug" 0 run scenarios/pmem-devdax.yaml --dmesg --log-level debug
check "--log-level debug shows every pr_debug line" "$tmp/out" "altmap: pfn"
rm -f "$ZD_TMPDIR"/pmem*.img
run "run --log-level err" 0 run scenarios/pmem-devdax.yaml --dmesg --log-level err
if grep -q "memremap: generic pgmap" "$tmp/out"; then
	fail "--log-level err hides info lines"
else
	pass "--log-level err hides info lines"
fi
run "run --log-level bogus" 2 run scenarios/pmem-devdax.yaml --log-level bogus
check "a bad --log-level says what it wants" "$tmp/err" "--log-level wants"
run "run --dyndbg with a bad query" 1 run scenarios/pmem-devdax.yaml --dyndbg 'func x'
check "a bad --dyndbg query says why" "$tmp/err" "bad query"
rm -f "$ZD_TMPDIR"/pmem*.img

# ---- iomem ----
example=scenarios/data/iomem-example.txt
run "iomem --import the example" 0 iomem --import "$example"
missing=0
grep -v '^ ' "$example" >"$tmp/top"
while IFS= read -r line; do
	grep -qxF -- "$line" "$tmp/out" || { missing=$((missing + 1)); echo "# missing: $line"; }
done <"$tmp/top"
if [ $missing -eq 0 ]; then
	pass "every top-level range of the example is in the output"
else
	fail "every top-level range of the example is in the output ($missing missing)"
fi
run "iomem --import the example --json" 0 iomem --import "$example" --json
json_ok "iomem --json is one valid JSON document" "$tmp/out"
check "iomem --json names its source" "$tmp/out" "\"source\": \"$example\""
run "iomem --import a missing file" 1 iomem --import scenarios/data/no-such-file.txt
# bounded: a listing past 16 MiB (here blank lines) is no /proc/iomem
yes '' | head -c 17M >"$tmp/big-iomem"
run "iomem --import 17 MiB" 1 iomem --import "$tmp/big-iomem"
check "is refused as too long" "$tmp/err" "the listing passes 16 MiB: not a /proc/iomem listing"
printf '00000000-0009ffff : %s\n' "$(head -c 1100 /dev/zero | tr '\0' x)" >"$tmp/long-iomem"
run "iomem --import a 1120-byte line" 1 iomem --import "$tmp/long-iomem"
check "is refused naming the line" "$tmp/err" "line 1: longer than 1023 bytes"
rm -f "$tmp/big-iomem" "$tmp/long-iomem"
run "iomem (host /proc/iomem or the default layout)" 0 iomem
check "iomem prints System RAM" "$tmp/out" " : System RAM"
run "iomem --json (host or default)" 0 iomem --json
json_ok "iomem --json (host or default) is valid JSON" "$tmp/out"
for arch in x86_64 x86_64-la57 arm64-4k arm64-16k arm64-64k ppc64; do
	run "iomem --default --arch $arch" 0 iomem --default --arch "$arch"
done
run "iomem --default --phys-bits 40" 0 iomem --default --phys-bits 40

# Where the layout came from: said on stderr and in the JSON.
run "iomem --import (its stderr)" 0 iomem --import "$example"
check "iomem --import says the layout's source" "$tmp/err" "layout: imported from $example"
run "iomem --default --json" 0 iomem --default --json
check "--default says so" "$tmp/err" "layout: the built-in x86_64 layout (--default)"
check "--json carries source_detail" "$tmp/out" "\"source_detail\": \"the built-in x86_64 layout (--default)\""
check "iomem JSON addresses are 0x strings, 0 as 0x0" "$tmp/out" "\"start\":\"0x0\""
# What a user other than root reads from /proc/iomem.
printf '00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n' >"$tmp/zeros"
ZD_HOST_IOMEM=$tmp/zeros run "iomem with a host listing of zeros" 0 iomem
check "falls back and says why" "$tmp/err" "shows every address as 0 (it hides them from users other than root)"
ZD_HOST_IOMEM=$example run "iomem on the host's listing" 0 iomem --arch x86_64
case $(uname -m) in
x86_64)
	check "the host's listing is imported for the host's arch" "$tmp/err" "layout: imported from this host's $example"
	ZD_HOST_IOMEM=$example run "iomem --arch arm64-4k on an x86_64 host" 0 iomem --arch arm64-4k
	check "another arch never imports the host's listing" "$tmp/err" "this host is x86_64, so its $example describes another architecture than arm64-4k"
	;;
*)
	check "an x86_64 machine on this host does not import its listing" "$tmp/err" "describes another architecture than x86_64"
	;;
esac

# --- run --list-steps: the schema, and docs/scenarios.md agreeing with it ---

run "run --list-steps" 0 run --list-steps
check "--list-steps shows a step with its keys" "$tmp/out" "add_memory: zd_add_memory()"
check "--list-steps shows a required key" "$tmp/out" "start                  address; required"
check "--list-steps shows a default" "$tmp/out" "gfp                    kernel, movable, dma32 or dma; default kernel"
check "--list-steps shows the expect forms" "$tmp/out" "expect zoneinfo"
sed -n 's/^\([a-z0-9_]*\)\( VALUE\)\{0,1\}: .*/\1/p' "$tmp/out" | sort >"$tmp/schema-steps"
sed -n 's/^expect \([a-z0-9_]*\).*/\1/p' "$tmp/out" | sort -u >"$tmp/schema-forms"
# The step reference tables (RAM, ZONE_DEVICE, processes) and the expect table.
awk '/^### Step reference/ || /^### ZONE_DEVICE steps/ || /^### Process steps/ { on = 1; next }
     /^###? / { on = 0 }
     on && /^\| `[a-z0-9_]*` \|/ { sub(/^\| `/, ""); sub(/`.*/, ""); print }' \
	"$ZD_SRCDIR/docs/scenarios.md" | sort -u >"$tmp/doc-steps"
awk '/^### expect$/ { on = 1; next } /^###? / { on = 0 }
     on && /^\| `\{[a-z0-9_]*:/ { sub(/^\| `\{/, ""); sub(/:.*/, ""); print }' \
	"$ZD_SRCDIR/docs/scenarios.md" | sort -u >"$tmp/doc-forms"
# same_names WHAT: $tmp/schema-WHAT (from --list-steps) is non-empty and
# equals $tmp/doc-WHAT (from docs/scenarios.md); the differences otherwise.
same_names() {
	if [ -s "$tmp/schema-$1" ] && cmp -s "$tmp/schema-$1" "$tmp/doc-$1"; then
		pass "docs/scenarios.md documents exactly the $2 --list-steps prints"
	else
		fail "docs/scenarios.md documents exactly the $2 --list-steps prints"
		diff "$tmp/schema-$1" "$tmp/doc-$1" | sed 's/^/# /'
	fi
}
same_names steps steps
same_names forms "expect forms"
# The machine section's keys: the table under "## machine".
sed -n '/^The machine section (machine:):/,/^machine\./s/^    \([a-z0-9_]*\) .*/\1/p' "$tmp/out" |
	sort >"$tmp/schema-machine"
awk '/^## machine/ { on = 1; next } /^###? / { on = 0 }
     on && /^\| `[a-z0-9_]*` \|/ { sub(/^\| `/, ""); sub(/`.*/, ""); print }' \
	"$ZD_SRCDIR/docs/scenarios.md" | sort -u >"$tmp/doc-machine"
same_names machine "machine keys"
check "--list-steps shows a machine list's entry keys" "$tmp/out" "machine.pmem: each entry"
run "run --list-steps --json" 0 run --list-steps --json
check "--list-steps --json has the steps" "$tmp/out" '"name": "memremap"'
check "--list-steps --json gives choices" "$tmp/out" '"choices": ['
check "--list-steps --json has the machine lists" "$tmp/out" '"name": "gpus"'
run "run --list-steps with a file" 2 run --list-steps scenarios/demo.yaml
check "--list-steps with a file says why" "$tmp/err" "unknown step 'scenarios/demo.yaml'"
run "run --list-steps STEP" 0 run --list-steps add_memory memremap
check "--list-steps STEP shows that step" "$tmp/out" "add_memory: zd_add_memory()"
check "--list-steps STEP shows the other named step" "$tmp/out" "memremap: "
lacks "--list-steps STEP leaves the others out" "$tmp/out" "remove_memory:"
lacks "--list-steps STEP leaves the machine section out" "$tmp/out" "machine.pmem"
run "run --list-steps expect" 0 run --list-steps expect
check "--list-steps expect shows the expect forms" "$tmp/out" "expect pfn_valid"

# ---- process data steps: fill, check, gup/put, migrate, report pagemap ----
procs() {   # procs NAME STEPS...: a two-node machine with process p and 64K at buf
	{
		printf 'machine:\n  nodes: 2\n  ram: [{start: 0, size: 1G, node: 0}, {start: 1G, size: 1G, node: 1}]\n'
		printf 'steps:\n  - process: {as: p}\n  - mmap: {process: p, size: 64K, as: buf}\n'
		shift
		for s in "$@"; do printf '  - %s\n' "$s"; done
	} >"$tmp/proc.yaml"
}
procs ok 'fill: {process: p, addr: buf, size: 64K, seed: 7}' \
	'migrate: {process: p, addr: buf, size: 64K, node: 1}' \
	'check: {process: p, addr: buf, size: 64K, seed: 7}' \
	'report: {what: pagemap, process: p, addr: buf, size: 8K}'
run "fill, migrate, check, pagemap" 0 run "$tmp/proc.yaml"
check "migrate says where the pages are" "$tmp/out" "16 of 16 pages on node 1"
check "pagemap decodes the entries" "$tmp/out" "present,exclusive"
run "the same as JSON" 0 run --json "$tmp/proc.yaml"
json_ok "pagemap JSON parses" "$tmp/out"
check "pagemap JSON has the pfn" "$tmp/out" '"pfn": "0x'
procs bad 'migrate: {process: p, addr: buf, size: 4K, node: 5}'
run "migrate to node 5 of 2" 1 run "$tmp/proc.yaml"
check "a bad node is ENODEV with the library's reason" "$tmp/err" "failed with ENODEV (-19); dmesg: move_pages: page 0: node 5 does not exist"
procs unmapped 'migrate: {process: p, addr: 0x1000, size: 4K, node: 1}'
run "migrate of a range with no VMA" 1 run "$tmp/proc.yaml"
check "an unmapped range is EFAULT, naming the page" "$tmp/err" "move_pages status of 0x1000: EFAULT (no VMA there"
procs shared 'write: {process: p, addr: buf, data: "x"}' 'fork: {process: p, as: c}' \
	'migrate: {process: p, addr: buf, size: 4K, node: 1}'
run "migrate of a page a child shares" 1 run "$tmp/proc.yaml"
check "a shared page is EACCES without move_all" "$tmp/err" "EACCES (mapped by more than one process; flags move_all moves it)"
procs mismatch 'fill: {process: p, addr: buf, size: 8K, pattern: 0x11}' \
	'write: {process: p, addr: 0x7ffff7fef064, data: "A"}' \
	'check: {process: p, addr: buf, size: 8K, pattern: 0x11}'
run "check over a changed byte" 1 run "$tmp/proc.yaml"
check "check names the first differing address, found and expected bytes" "$tmp/err" \
	"the byte at 0x7ffff7fef064 is 0x41, expected 0x11 (the first that differs from pattern 0x11 over [0x7ffff7fef000-0x7ffff7ff1000))"
procs mismatch2 'fill: {process: p, addr: buf, size: 4K, seed: 1}' \
	'check: {process: p, addr: buf, size: 4K, seed: 2}'
run "check against another seed" 1 run "$tmp/proc.yaml"
check "a seed mismatch names the seed" "$tmp/err" "the first that differs from the stream of seed 2"
procs both 'fill: {process: p, addr: buf, size: 4K, seed: 1, pattern: 3}'
run "fill with pattern and seed" 1 run "$tmp/proc.yaml"
check "fill takes one source" "$tmp/err" "takes one of 'pattern' (a byte) and 'seed' (a pseudo-random stream), not both"
procs datasize 'check: {process: p, addr: buf, size: 4K, data: "x"}'
run "check with data and size" 1 run "$tmp/proc.yaml"
check "check's data sets the length" "$tmp/err" "with 'data' the range is the data's length: drop 'size'"
procs scalar 'report: pagemap'
run "report pagemap without a range" 1 run "$tmp/proc.yaml"
check "pagemap needs a process and a range" "$tmp/err" "report pagemap reads a range of one process"
procs rangeless 'report: {what: maps, process: p}'
run "report maps with a process" 1 run "$tmp/proc.yaml"
check "only pagemap takes a range" "$tmp/err" "report maps takes no 'process'"
procs gupunpin 'gup: {process: p, addr: buf, size: 4K, as: g}' 'unpin: {handle: g}'
run "unpin of a gup handle" 1 run "$tmp/proc.yaml"
check "GET references are not pins" "$tmp/err" "no earlier pin step defined a handle named 'g'"
procs gupleft 'gup: {process: p, addr: buf, size: 8K, flags: write, as: g}'
run "a gup handle still held at the end" 0 run "$tmp/proc.yaml"
check "gup takes GET references" "$tmp/out" "2 of 2 pages referenced"
procs longterm 'gup: {process: p, addr: buf, size: 4K, flags: longterm, as: g, expect_error: EINVAL, expect_warn: 1}'
run "gup with longterm" 0 run "$tmp/proc.yaml"
# ---- a background truncate and its wait ----
cat >"$tmp/bgt.yaml" <<EOF
machine:
  ram: [{start: 1M, size: 1023M}]
  pmem: [{start: 4G, size: 256M, file: "$tmp/bgt.img"}]
steps:
  - create_namespace: {region: region0, mode: fsdax, map: mem, align: 2M}
  - mkfs: {namespace: namespace0.0}
  - dax_file: {namespace: namespace0.0, name: f, size: 4M}
  - truncate: {namespace: namespace0.0, name: f, size: 1M, as: t}
  - wait: {handle: t}
  - wait: {handle: t}
EOF
run "a wait for a truncate already waited for" 1 run "$tmp/bgt.yaml"
check "an unpinned background truncate returns at once" "$tmp/out" "runs in the background: it has returned already"
check "the second wait names the handle's state" "$tmp/err" "waited for"
cat >"$tmp/bgt2.yaml" <<EOF
machine:
  ram: [{start: 1M, size: 1023M}]
steps:
  - process: {as: p}
  - wait: {handle: p}
EOF
run "wait on a process handle" 1 run "$tmp/bgt2.yaml"
check "wait takes only a background step's handle" "$tmp/err" "no earlier truncate or p2pdma_release step defined a handle named 'p'"

# ---- bench gup and bench fault, tiny: their JSON's keys and positive figures ----
for b in gup fault; do
	run "bench $b --help" 0 bench $b --help
	check "bench $b --help shows its usage" "$tmp/out" "usage: zonedev bench $b"
	run "bench $b --kind bogus is a usage error" 2 bench $b --kind bogus
	check "bench $b names the bad kind" "$tmp/err" "'bogus' is not one of"
	mkdir -p "$tmp/bench-$b"
	run "bench $b --size 4M --repeats 1 -j" 0 bench $b --size 4M --repeats 1 -q -j \
		--dir "$tmp/bench-$b"
	if ls "$tmp/bench-$b"/zonedev-bench-* >/dev/null 2>&1; then
		fail "bench $b left its region files"
	else
		pass "bench $b removed its region files"
	fi
	if [ $have_python = no ]; then
		skip "bench $b JSON keys (no python3)"
	elif python3 - "$b" "$tmp/out" >"$tmp/pyerr" 2>&1 <<'PY'
import json, sys
b, d = sys.argv[1], json.load(open(sys.argv[2]))
assert d["bench"] == b and d["result"] == "ok", d.get("result")
kinds = {k["kind"]: k for k in d["kinds"]}
assert set(kinds) == {"anon-4k", "thp", "devdax-2m", "devdax-1g", "fsdax"}, kinds.keys()
for name, k in kinds.items():
    assert k["available"], k   # every kind runs (THP and fsdax included)
    if b == "gup":
        assert k["pages"] > 0 and k["baseline_ns_per_page"] > 0, k
        assert k["fast_walk_pages"] == k["pages"], k
        rows = {(r["command"], r["form"]) for r in k["rows"]}
        assert rows == {(c, f) for c in ("get", "pin", "pin-longterm")
                        for f in ("fast", "slow")}, rows
        for r in k["rows"]:
            if name == "fsdax" and r["command"] == "pin-longterm":
                assert r["refused"] == "EOPNOTSUPP", r   # FOLL_LONGTERM on fsdax
                continue
            for key in ("get_ns_per_page", "put_ns_per_page", "get_ratio_to_baseline",
                        "put_ratio_to_baseline"):
                assert r[key] > 0, (name, r)
    else:
        assert k["faults"] == k["leaves"] > 0, k
        assert k["faults_per_s"] > 0 and k["ns_per_fault"] > 0, k
        assert (k["ratio_to_host"] is None) == (name == "devdax-1g"), k
        assert k["ratio_to_host"] is None or k["ratio_to_host"] > 0, k
if b == "gup":
    assert len(d["kernel_reference"]) == 3
    assert all(r["kernel_ns_per_page"] > 0 for r in d["kernel_reference"])
else:
    assert [h["name"] for h in d["host"]] == ["4k", "2m-thp"]
    assert all(h["faults_per_s"] > 0 for h in d["host"]), d["host"]
    assert isinstance(d["host"][1]["thp"], bool) and d["host_thp_setting"]
PY
	then
		pass "bench $b JSON has its keys and positive figures"
	else
		fail "bench $b JSON has its keys and positive figures"
		diag_file "$tmp/pyerr"
	fi
done

# ---- bench p2pdma, small: refusals, and every figure of the JSON positive ----
run "bench p2pdma --help" 0 bench p2pdma --help
check "bench p2pdma --help shows its usage" "$tmp/out" "usage: zonedev bench p2pdma"
run "bench p2pdma --endpoints 10 is a usage error" 2 bench p2pdma --endpoints 10
check "bench p2pdma says the range" "$tmp/err" "--endpoints 10: not in 32-4096"
run "bench p2pdma more providers than endpoints" 2 bench p2pdma --endpoints 64 --providers 65
check "bench p2pdma says why" "$tmp/err" "more providers (65) than endpoints (64)"
run "bench p2pdma --endpoints 256 --providers 8 -j" 0 bench p2pdma --endpoints 256 \
	--providers 8 --segments 32 --repeat 1 -q -j
if [ $have_python = no ]; then
	skip "bench p2pdma JSON keys (no python3)"
elif python3 - "$tmp/out" >"$tmp/pyerr" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bench"] == "p2pdma" and d["result"] == "ok", d.get("result")
assert (d["endpoints"], d["providers"], d["segments"]) == (256, 8, 32), d
f = d["find_many"]
assert f["found"] == 16, f   # every pair of clients finds a whitelisted provider
for k in ("cold_us", "warm_us", "walk_us", "cold_ratio_to_walk", "warm_ratio_to_walk"):
    assert f[k] > 0, (k, f)
m = d["dma_map"]
assert m["baseline_segments_per_s"] > 0, m
for k in ("ram-direct", "ram-iommu", "p2p-bus-addr"):
    assert m[k]["segments_per_s"] > 0 and m[k]["ratio_to_baseline"] > 0, (k, m)
PY
then
	pass "bench p2pdma JSON has its keys and positive figures"
else
	fail "bench p2pdma JSON has its keys and positive figures"
	diag_file "$tmp/pyerr"
fi

# ---- bench migrate and bench hmm_range_fault, tiny: JSON keys, both designs ----
run "bench migrate --help" 0 bench migrate --help
check "bench migrate --help shows its usage" "$tmp/out" "usage: zonedev bench migrate"
run "bench migrate --sizes 6K is a usage error" 2 bench migrate --sizes 6K
check "bench migrate says why" "$tmp/err" "not a multiple of 4K"
run "bench hmm_range_fault --design bogus is a usage error" 2 bench hmm_range_fault --design bogus
check "bench hmm_range_fault names the bad design" "$tmp/err" "'bogus' is not one of"
run "bench migrate --sizes 512K,2M --repeat 1 -j" 0 bench migrate --sizes 512K,2M --repeat 1 -q -j
cp "$tmp/out" "$tmp/migrate.json"
run "bench hmm_range_fault --size 2M --repeat 1 -j" 0 bench hmm_range_fault --size 2M \
	--repeat 1 -q -j
if [ $have_python = no ]; then
	skip "bench migrate / hmm_range_fault JSON keys (no python3)"
elif python3 - "$tmp/migrate.json" "$tmp/out" >"$tmp/pyerr" 2>&1 <<'PY'
import json, sys
m, h = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert m["bench"] == "migrate" and m["result"] == "ok", m.get("result")
assert [s["size"] for s in m["sizes"]] == [512 << 10, 2 << 20]
for s in m["sizes"]:
    assert s["memcpy_gb_per_s"] > 0, s
    assert {(r["kind"], r["design"]) for r in s["rows"]} == \
        {(k, d) for k in ("thp", "4k") for d in ("pfn", "dpa")}, s["rows"]
    for r in s["rows"]:
        for d in ("to_device", "to_system"):
            assert r[d]["gb_per_s"] > 0 and r[d]["ratio_to_memcpy"] > 0, r
        # a written THP buffer is PMD-mapped; a 4K one never
        assert r["pmd_leaves_written"] == (r["pmds"] if r["kind"] == "thp" else 0), r
assert h["bench"] == "hmm_range_fault" and h["result"] == "ok", h.get("result")
assert [d["design"] for d in h["designs"]] == ["pfn", "dpa"]
for d in h["designs"]:
    rows = {r["range"]: r for r in d["rows"]}
    assert set(rows) == {"anon-4k", "thp", "device-own", "device-other"}, rows.keys()
    for name, r in rows.items():
        assert r["snapshot"]["ns_per_page"] > 0 and r["pagemap_ns_per_page"] > 0, r
        assert r["snapshot"]["faults"] == 0, r
        assert r["snapshot"]["valid"] == (0 if name == "device-other" else h["pages"]), r
        assert (r["req_fault"] is None) == (name == "device-other"), r
    assert rows["thp"]["snapshot"]["order_gt_0"] == h["pages"], rows["thp"]
    assert rows["device-own"]["snapshot"]["device_private"] == \
        (h["pages"] if d["design"] == "dpa" else 0), rows["device-own"]
PY
then
	pass "bench migrate / hmm_range_fault JSON have their keys and positive figures"
else
	fail "bench migrate / hmm_range_fault JSON have their keys and positive figures"
	diag_file "$tmp/pyerr"
fi

echo "1..$n"
[ $failed -eq 0 ]
