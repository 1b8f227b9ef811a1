#!/bin/sh
# TAP test of `zonedev infoblock` (issue 11 item 4): the six info blocks a
# real Linux 6.1 kernel wrote (tests/data/kernel-infoblocks) decode with the
# fields the README's table gives them and pass every rule once the
# README's namespace geometry is given; without it the geometry rules are
# skipped, not passed. Copies corrupted in $tmp name the rule that fails:
# a bad checksum (rule 4), a bad signature (3), a changed field with the
# checksum fixed so a later rule fails (dax align: 11, mode: 7), dataoff
# beyond the namespace (14, from the file's size or --namespace-size), a
# misaligned start (15), another namespace (5), a bound instance (12).
# The command never writes: the copies are read-only (for root, CAP_DAC_OVERRIDE
# is dropped with setpriv so the mode bits bind) and byte-identical after.
# Errors: a directory (EISDIR), a short file (ENXIO), a missing one; bad
# options exit 2; --json is one document, also on failure.
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root.
set -u

. "$(dirname "$0")/tap.sh"
cd "$ZD_SRCDIR" || exit 1

D=tests/data/kernel-infoblocks

# le_put FILE OFFSET NBYTES VALUE: VALUE little-endian into FILE (in place).
le_put() {
	_s="" _i=0
	while [ $_i -lt "$3" ]; do
		_s="$_s$(printf '\\%03o' $((($4 >> (8 * _i)) & 255)))"
		_i=$((_i + 1))
	done
	printf "$_s" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# fix_checksum FILE: store the checksum the command computes for the bare
# block in FILE, so a changed field reaches the rules after rule 4.
fix_checksum() {
	"$ZD_CLI" infoblock "$1" --offset 0 >"$tmp/fix" 2>/dev/null
	_sum=$(sed -n 's/^  checksum .*computed 0x\([0-9a-f]\{16\}\).*/\1/p' "$tmp/fix")
	if [ ${#_sum} -ne 16 ]; then
		echo "# fix_checksum: no computed checksum for $1"
		return 1
	fi
	le_put "$1" 4088 4 "0x$(echo "$_sum" | cut -c9-16)"
	le_put "$1" 4092 4 "0x$(echo "$_sum" | cut -c1-8)"
}

# invalid NAME RULE ERRNO ARGS...: exit 1 naming RULE as the first failure.
invalid() {
	_name=$1 _rule=$2 _err=$3
	shift 3
	run "$_name" 1 infoblock "$@" || return 0
	check "$_name: rule $_rule is the one the kernel stops at" "$tmp/out" \
		"result: invalid: rule $_rule ("
	check "$_name: the kernel's errno" "$tmp/out" "returns -$_err"
}

# ---- the README's geometry: one 8 GiB region at 0x100000000 ----
readme=$D/README.md
if grep -qF "one 8 GiB pmem region at physical address 0x100000000" "$readme"; then
	pass "README: 8 GiB at 0x100000000"
else
	fail "README no longer says the geometry this test uses"
fi
GEOM="--namespace-start 0x100000000 --namespace-size 8G"

# ---- the six kernel-written blocks ----
nblocks=0
# "| file | fsdax, map=dev, align=2M | uuid | parent_uuid |" rows
awk -F'|' '/^[|] [A-Za-z0-9-]*[.]infoblock[.]bin/ { gsub(/ /, ""); print $2, $3, $4, $5 }' "$readme" >"$tmp/table"
while read -r file opts uuid parent; do
	nblocks=$((nblocks + 1))
	kind=${opts%%,*}
	map=$(echo "$opts" | sed -n 's/.*map=\([a-z]*\).*/\1/p')
	align=$(echo "$opts" | sed -n 's/.*align=\([0-9]*[KMG]\).*/\1/p')
	case $kind in fsdax) sig=NVDIMM_PFN_INFO ;; *) sig=NVDIMM_DAX_INFO ;; esac
	case $map in dev) mode="2 (PFN_MODE_PMEM: map=dev)" ;; *) mode="1 (PFN_MODE_RAM: map=mem)" ;; esac
	case $align in 4K) ahex=0x1000 ;; 2M) ahex=0x200000 ;; 1G) ahex=0x40000000 ;; *) ahex=?$align ;; esac
	cp "$D/$file" "$tmp/$file" && chmod 0444 "$tmp/$file"
	f=$tmp/$file

	run "$file: valid with the README's namespace" 0 infoblock "$f" $GEOM --parent-uuid "$parent"
	check "$file: valid" "$tmp/out" "result: valid: no rule fails (skipped: 1 region)"
	lacks "$file: no rule fails" "$tmp/out" " FAIL "
	check "$file: signature" "$tmp/out" "  signature         \"$sig\""
	check "$file: uuid" "$tmp/out" "  uuid              $uuid"
	check "$file: parent_uuid" "$tmp/out" "  parent_uuid       $parent"
	check "$file: mode (map=$map)" "$tmp/out" "  mode              $mode"
	check "$file: align $align" "$tmp/out" "  align             $ahex ("
	check "$file: version 1.4" "$tmp/out" "  version_minor     4"
	check "$file: dataoff + npfns pages fill the 8 GiB" "$tmp/out" \
		"(start_pad + dataoff + data + end_trunc): matches the namespace"
	check "$file: parent uuid checked" "$tmp/out" "     5 parent_uuid       pass"
	check "$file: the offset read is said on stderr" "$tmp/err" "reading the block at offset 0x0"

	run "$file: valid without context" 0 infoblock "$f"
	check "$file: alone, the geometry rules are skipped" "$tmp/out" \
		"    14 dataoff           skipped EOPNOTSUPP         needs the namespace size; give --namespace-size"
	check "$file: alone, rule 5 asks for the uuid" "$tmp/out" "give --parent-uuid"

	run "$file: --json" 0 infoblock --json "$f" $GEOM --parent-uuid "$parent"
	json_ok "$file: --json parses" "$tmp/out"
	check "$file: JSON result" "$tmp/out" '"result": "valid"'
	check "$file: JSON read_infoblock version" "$tmp/out" '"version":"1.4"'

	invalid "$file: another namespace's uuid" 5 ENODEV "$f" $GEOM \
		--parent-uuid 00000000-0000-0000-0000-000000000001
	invalid "$file: probed as the other claim" 3 ENODEV "$f" \
		--claim "$([ "$kind" = fsdax ] && echo devdax || echo fsdax)"
	invalid "$file: a bound instance of another uuid" 12 ENODEV "$f" \
		--uuid 00000000-0000-0000-0000-000000000002
	run "$file: the bound instance it is" 0 infoblock "$f" --uuid "$uuid" --align "$align" \
		--map "$map"
	if [ "$map" = dev ]; then
		invalid "$file: a kernel with a 128-byte struct page" 10 EOPNOTSUPP "$f" \
			--struct-page-size 128
	else
		run "$file: map=mem ignores the struct page size" 0 infoblock "$f" --struct-page-size 128
	fi
done <"$tmp/table"
if [ "$nblocks" -eq 6 ]; then pass "six blocks in the README"; else fail "README lists $nblocks blocks"; fi

# ---- corrupted copies ----
cp "$D/fsdax-dev.infoblock.bin" "$tmp/sum.bin"
le_put "$tmp/sum.bin" 200 1 0x5a
invalid "a padding byte changed" 4 ENODEV "$tmp/sum.bin"
check "the checksum line says it differs" "$tmp/out" "differs)"
check "the stray padding byte is shown" "$tmp/out" "1 of 3994 bytes nonzero, the first at 0xc8"

cp "$D/fsdax-dev.infoblock.bin" "$tmp/sig.bin"
printf 'NVDIMM_XYZ_INFO' | dd of="$tmp/sig.bin" bs=1 conv=notrunc 2>/dev/null
invalid "a bad signature" 3 ENODEV "$tmp/sig.bin"
check "the signature is named" "$tmp/out" 'neither NVDIMM_PFN_INFO nor NVDIMM_DAX_INFO (found "NVDIMM_XYZ_INFO")'
check "rule 4 fails too, below where the kernel stops" "$tmp/out" "     4 checksum          FAIL"
check "the kernel stop is marked" "$tmp/out" "-- the kernel stops here"
if fix_checksum "$tmp/sig.bin"; then
	invalid "a bad signature, checksum fixed" 3 ENODEV "$tmp/sig.bin"
	check "  now the checksum passes" "$tmp/out" "     4 checksum          pass"
fi

cp "$D/devdax-2M.infoblock.bin" "$tmp/align.bin"
le_put "$tmp/align.bin" 84 4 0x10000
invalid "align 64K without a new checksum" 4 ENODEV "$tmp/align.bin"
if fix_checksum "$tmp/align.bin"; then
	invalid "devdax align 64K, checksum fixed" 11 EOPNOTSUPP "$tmp/align.bin"
	check "  the align is named" "$tmp/out" "dax align 0x10000 is not supported"
	check "  the field shows the change" "$tmp/out" "  align             0x10000 ("
fi

# Rule 11 takes the reading kernel's fault sizes: PAGE_SIZE, its PMD and
# its PUD where PUD THP exists (x86_64, ppc64 radix; not arm64). A 2M devdax block is refused by a 16K or 64K arm64
# kernel; a 32M one is arm64-16k's PMD and no fault size of x86_64's.
invalid "devdax 2M on arm64-16k" 11 EOPNOTSUPP "$D/devdax-2M.infoblock.bin" --arch arm64-16k
invalid "devdax 2M with --page-size 64K (arm64-64k)" 11 EOPNOTSUPP \
	"$D/devdax-2M.infoblock.bin" --page-size 64K
check "  the profile --page-size picked is said" "$tmp/out" "arm64-64k (from --page-size)"
invalid "devdax 1G on arm64-4k (no PUD THP: 1G is no fault size)" 11 EOPNOTSUPP \
	"$D/devdax-1G.infoblock.bin" --arch arm64-4k
run "devdax 1G on ppc64 (radix has PUD THP)" 0 infoblock "$D/devdax-1G.infoblock.bin" --arch ppc64
cp "$D/devdax-2M.infoblock.bin" "$tmp/a32m.bin"
le_put "$tmp/a32m.bin" 84 4 0x2000000
if fix_checksum "$tmp/a32m.bin"; then
	run "devdax align 32M on arm64-16k: its PMD" 0 infoblock "$tmp/a32m.bin" --arch arm64-16k
	check "  rule 11 passes" "$tmp/out" "    11 dax_align         pass"
	check "  the kernel's fault sizes are shown" "$tmp/out" "dax fault sizes 0x4000 (16 KiB) 0x2000000 (32 MiB)"
	invalid "devdax align 32M on x86_64" 11 EOPNOTSUPP "$tmp/a32m.bin"
else
	fail "devdax align 32M: could not fix the checksum"
fi

# A QEMU NVDIMM backing file keeps its label area after the namespace: the
# file is larger than the namespace, so a rule failing only under the
# file-size guess is skipped, not a verdict; --namespace-size gives one.
truncate -s $((8 * 1024 * 1024 * 1024 + 131072)) "$tmp/qemu.img"
dd if="$D/devdax-2M.infoblock.bin" of="$tmp/qemu.img" bs=4096 seek=1 conv=notrunc 2>/dev/null
run "a QEMU backing file with a 128K label area at its end" 0 infoblock "$tmp/qemu.img" \
	--namespace-start 0x100000000
check "  rule 17 is skipped, not failed" "$tmp/out" "    17 end_align         skipped"
check "  and says why" "$tmp/out" "fails if the namespace is the file's 0x200020000 bytes"
run "the same with --namespace-size 8G" 0 infoblock "$tmp/qemu.img" --namespace-start 0x100000000 \
	--namespace-size 8G
check "  rule 17 passes" "$tmp/out" "    17 end_align         pass"
rm -f "$tmp/qemu.img"

cp "$D/fsdax-mem.infoblock.bin" "$tmp/mode.bin"
le_put "$tmp/mode.bin" 72 4 0
if fix_checksum "$tmp/mode.bin"; then
	invalid "mode 0, checksum fixed" 7 ENXIO "$tmp/mode.bin"
	check "  PFN_MODE_NONE named" "$tmp/out" "  mode              0 (PFN_MODE_NONE)"
fi

invalid "dataoff beyond --namespace-size" 14 EOPNOTSUPP "$D/fsdax-dev.infoblock.bin" \
	--namespace-size 64M
check "  rule 18 fails as well" "$tmp/out" "    18 data_fits         FAIL"
invalid "a namespace start 1 MiB off the 2M align" 15 EOPNOTSUPP "$D/fsdax-dev.infoblock.bin" \
	--namespace-start 0x100100000 --namespace-size 8G
check "  and the compat alignment fails (rule 16)" "$tmp/out" "    16 start_align       FAIL"
invalid "a bound instance with another align" 12 EOPNOTSUPP "$D/fsdax-dev.infoblock.bin" \
	--uuid ec094fe8-1049-456b-884d-fe695d359ed0 --align 4K

# ---- namespace images: the block at 4096, the size from the file ----
dd if="$D/fsdax-dev.infoblock.bin" of="$tmp/ns.img" bs=4096 seek=1 2>/dev/null
truncate -s 64M "$tmp/ns.img"
cp "$tmp/ns.img" "$tmp/ns.copy"
invalid "a 64 MiB image: dataoff beyond the namespace" 14 EOPNOTSUPP "$tmp/ns.img"
check "  the offset read is SZ_4K" "$tmp/err" "reading the block at offset 0x1000"
check "  the size came from the file" "$tmp/out" "the file's bytes from offset 0x0 (the namespace start) to its end"
run "  --json too" 1 infoblock --json "$tmp/ns.img"
if cmp -s "$tmp/ns.img" "$tmp/ns.copy"; then pass "  the image is byte-identical"; else fail "  the image changed"; fi
truncate -s 8G "$tmp/ns.img"
run "an 8 GiB image with the start is valid" 0 infoblock "$tmp/ns.img" --namespace-start 4G
check "  only rules 1 and 5 skipped" "$tmp/out" "(skipped: 1 region, 5 parent_uuid)"
check "  the altmap it implies" "$tmp/out" "reserve 2, free 33278 pages, base_pfn 0x100000"
head -c 8192 "$tmp/ns.img" >"$tmp/dump8k"
run "an 8 KiB dump (labels + block) is no namespace size" 0 infoblock "$tmp/dump8k"
check "  so the size rules are skipped" "$tmp/out" "less than the 16 MiB"
{ head -c 512 /dev/zero; cat "$D/devdax-1G.infoblock.bin"; } >"$tmp/at512"
run "--offset reads a block anywhere" 0 infoblock "$tmp/at512" --offset 512
check "  the block found" "$tmp/out" "NVDIMM_DAX_INFO"
check "  and the offset said" "$tmp/err" "offset 0x200 (--offset)"

# ---- the command never writes ----
same=0
for f in "$D"/*.infoblock.bin; do
	cmp -s "$f" "$tmp/$(basename "$f")" && same=$((same + 1))
done
if [ $same -eq 6 ]; then
	pass "the six read-only copies are byte-identical after every run"
else
	fail "only $same of the six copies are unchanged"
fi
if [ "$(id -u)" != 0 ]; then
	run "a read-only file is enough (no write access needed)" 0 infoblock "$tmp/fsdax-dev.infoblock.bin"
elif command -v setpriv >/dev/null 2>&1; then
	if setpriv --bounding-set=-dac_override --inh-caps=-all "$ZD_CLI" infoblock \
		"$tmp/fsdax-dev.infoblock.bin" >"$tmp/out" 2>"$tmp/err"; then
		pass "a read-only file is enough (root without CAP_DAC_OVERRIDE)"
	else
		fail "a read-only file is not enough without CAP_DAC_OVERRIDE"
		diag_file "$tmp/err"
	fi
	# The same drop makes a write open fail: the check above can fail.
	if setpriv --bounding-set=-dac_override --inh-caps=-all sh -c \
		": >>\"$tmp/fsdax-dev.infoblock.bin\"" 2>/dev/null; then
		fail "setpriv did not take write access away"
	else
		pass "  (without CAP_DAC_OVERRIDE the copy cannot be opened for writing)"
	fi
else
	skip "read-only open as root needs setpriv to drop CAP_DAC_OVERRIDE"
fi

# ---- errors: exit 1 ----
mkdir "$tmp/dir"
run "a directory" 1 infoblock "$tmp/dir"
check "  says EISDIR" "$tmp/err" "is a directory, not a namespace image or a block (EISDIR)"
run "a directory, --json" 1 infoblock --json "$tmp/dir"
json_ok "  one JSON document" "$tmp/out"
check "  with the errno" "$tmp/out" '"errno": "EISDIR"'
run "a missing file" 1 infoblock "$tmp/none"
check "  says ENOENT" "$tmp/err" "cannot open it read-only: No such file or directory (ENOENT)"
head -c 100 "$D/fsdax-dev.infoblock.bin" >"$tmp/short"
run "a 100-byte file" 1 infoblock "$tmp/short"
check "  is a short file, rule 2's ENXIO" "$tmp/err" "short file: the 4096-byte block at offset 0x1000 needs 0x2000 bytes"
check "  with ENXIO" "$tmp/err" "(ENXIO)"
run "a 100-byte file, --json" 1 infoblock --json "$tmp/short" --offset 0
json_ok "  one JSON document" "$tmp/out"
check "  result error" "$tmp/out" '"result": "error"'
run "an invalid block, --json" 1 infoblock --json "$tmp/sum.bin"
json_ok "  one JSON document" "$tmp/out"
check "  names the failing rule" "$tmp/out" '"failing_rule": 4'
check "  and its reason" "$tmp/out" '"reason": "rule 4: checksum mismatch'

# ---- usage: exit 2, nothing on stdout ----
F=$D/fsdax-dev.infoblock.bin
run "infoblock --help" 0 infoblock --help
check "  usage line" "$tmp/out" "usage: zonedev infoblock FILE"
for o in --offset --namespace-start --namespace-size --parent-uuid --claim --uuid --align \
	--map --arch --page-size --struct-page-size --compat-align --json; do
	check "  --help lists $o" "$tmp/out" "  $o"
done
check "  states the exit codes" "$tmp/out" "2 usage error"
run "zonedev help infoblock" 0 help infoblock
run "zonedev --help lists infoblock" 0 --help
check "  infoblock in the command list" "$tmp/out" "infoblock FILE"
: >"$tmp/usage-out"
usage() {
	_name=$1
	shift
	run "$_name" 2 infoblock "$@"
	cat "$tmp/out" >>"$tmp/usage-out"
}
run "no FILE" 2 infoblock
check "  says so" "$tmp/err" "missing FILE"
usage "two FILEs" "$F" "$F"
usage "--offset abc" "$F" --offset abc
usage "--claim btt" "$F" --claim btt
usage "--map without --uuid" "$F" --map dev
usage "--page-size 3000" "$F" --page-size 3000
usage "--page-size 8K (no profile has it)" "$F" --page-size 8K
usage "--arch sparc" "$F" --arch sparc
usage "--arch x86_64 --page-size 64K" "$F" --arch x86_64 --page-size 64K
usage "--compat-align 3M" "$F" --compat-align 3M
usage "--namespace-size 0" "$F" --namespace-size 0
usage "--parent-uuid not-a-uuid" "$F" --parent-uuid not-a-uuid
usage "--align 3K" "$F" --uuid ec094fe8-1049-456b-884d-fe695d359ed0 --align 3K
usage "an unknown option" "$F" --frobnicate
check "  the option is named" "$tmp/err" "unknown option '--frobnicate'"
if [ -s "$tmp/usage-out" ]; then fail "usage errors print nothing on stdout"; else pass "usage errors print nothing on stdout"; fi

echo "1..$n"
[ "$failed" -eq 0 ]
