#!/bin/sh
# TAP test of `zonedev map` (run by `make check` through prove): its help and
# usage errors; that map-page.c is what gen-map-page.sh makes of map.css and
# map.js; pages of the demo (hot-added memory online, an fsdax namespace
# with its memmap in an altmap, a GPU's device-private chunk), of a 52-bit
# machine and of a device-private dpa machine, loaded in headless Chromium:
# the page's self-check passed, no script error or console message was
# recorded, the DOM holds the regions the scenario made (and not those it
# did not), a zoom given in the URL redraws the axis, and a screenshot
# shows the regions' colours. The page's own check must be able to fail:
# broken data and a failing script are reported. -o replaces a file only
# with a complete page; a failing step writes nothing.
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root,
# ZD_CHROMIUM = the browser (default chromium; make check-deps installs it).
set -u

. "$(dirname "$0")/tap.sh"

cd "$ZD_SRCDIR" || exit 1
chromium=${ZD_CHROMIUM:-chromium}
# The demo makes its own temporary directory for its pmem files.
unset ZD_TMPDIR

# dom NAME URL: the DOM after load (the page runs its checks on load).
dom() {
	timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
		--user-data-dir="$tmp/chrome" --dump-dom "$2" >"$tmp/$1.dom" 2>>"$tmp/chrome.log"
}
# shot NAME URL: a 1400x900 screenshot.
shot() {
	timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$tmp/chrome" --window-size=1400,900 \
		--screenshot="$tmp/$1.png" "$2" >>"$tmp/chrome.log" 2>&1
}
# page_ok NAME: the self-check passed and nothing was recorded as an error.
page_ok() {
	check "$1: the page's self-check passed" "$tmp/$1.dom" 'data-ok="1"'
	check "$1: no script error or console output recorded" "$tmp/$1.dom" \
		'<ul id="zd-errors"></ul>'
}
# has NAME WHAT PATTERN: the DOM has an element matching the extended regex.
has() {
	if grep -qE -- "$3" "$tmp/$1.dom"; then
		pass "$1: $2"
	else
		fail "$1: $2: /$3/ not in the DOM"
	fi
}
hasnt() {
	if grep -qE -- "$3" "$tmp/$1.dom"; then
		fail "$1: $2: /$3/ in the DOM"
	else
		pass "$1: $2"
	fi
}
# rect LAYER NAME [START]: a regex for an item's rect (attributes in the
# order map.js writes them).
rect() {
	printf '<rect [^>]*data-layer="%s" data-name="%s"[^>]*%s' "$1" "$2" \
		"${3:+data-start=\"$3\"}"
}

if ! command -v "$chromium" >/dev/null 2>&1; then
	echo "1..1"
	echo "not ok 1 - $chromium is missing: apt-get install chromium (make check-deps does)"
	exit 1
fi

# ---- help, usage errors ----
run "map --help" 0 map --help
check "map --help shows its usage" "$tmp/out" "usage: zonedev map"
for o in --steps --line --output --demo --json --no-memory-guard; do
	check "map --help lists $o" "$tmp/out" "$o"
done
run "zonedev help map" 0 help map
run "zonedev --help lists map" 0 --help
check "the command list names map" "$tmp/out" "map FILE.yaml"
run "map without a scenario" 2 map
check "...says what is missing" "$tmp/err" "missing scenario FILE.yaml"
run "map with two scenarios" 2 map scenarios/demo.yaml scenarios/la57-1tib.yaml
run "map --demo with a file" 2 map --demo scenarios/demo.yaml
run "map --steps and --line" 2 map --demo --steps 3 --line 40
check "...says to give one" "$tmp/err" "give one"
run "map --steps not a number" 2 map --demo --steps many
run "map --steps beyond the scenario" 2 map --demo --steps 5000
check "...names the number of steps" "$tmp/err" "demo.yaml has 93 steps"
run "map --line before the first step" 2 map --demo --line 3
check "...says no step starts there" "$tmp/err" "no step of demo.yaml starts at or before"
run "map --line 0" 2 map --demo --line 0
run "map with an unknown option" 2 map --demo --frobnicate
lacks "usage errors print no page" "$tmp/out" "<html"

# ---- the page's script and style are the checked-in sources ----
if sh tools/zonedev/gen-map-page.sh "$tmp/map-page.c" && cmp -s "$tmp/map-page.c" \
	tools/zonedev/map-page.c; then
	pass "map-page.c is gen-map-page.sh's output for map.css and map.js"
else
	fail "map-page.c is stale: run sh tools/zonedev/gen-map-page.sh"
fi

# ---- the demo: hot-added memory, pmem with an altmap, a GPU chunk ----
run "map the demo after onlining 1 GiB at 8G" 0 map --demo --line 63 -o "$tmp/hot.html"
lacks "-o leaves stdout empty" "$tmp/out" "<"
dom hot "file://$tmp/hot.html"
page_ok hot
has hot "the booted System RAM at 4G" "$(rect iomem "System RAM" 0x100000000)"
has hot "the hot-added System RAM at 8G" "$(rect iomem "System RAM" 0x200000000) data-end=\"0x23fffffff\""
has hot "its memory blocks online in Movable" 'data-name="memory64-71" data-cls="blk-online-movable"'
has hot "its sections online, not early" 'data-name="sections 64-71" data-cls="sec-online"'
has hot "a Movable zone on node 0" 'data-name="Movable" data-cls="zone-movable"'
has hot "a kernel image resource one level down" "$(rect iomem "Kernel code")"
hasnt hot "no pgmap yet" 'data-layer="pgmaps" data-name'
has hot "the axis spans the 46-bit space" 'data-lo="0x0" data-hi="0x400000000000" data-scale="log"'

run "map the demo after the fsdax namespace (map=dev)" 0 map --demo --line 107 -o "$tmp/pmem.html"
dom pmem "file://$tmp/pmem.html"
page_ok pmem
has pmem "the pmem region in iomem" "$(rect iomem "Persistent Memory" 0x400000000)"
has pmem "the namespace inside it" "$(rect iomem namespace0.0 0x400000000)"
has pmem "an FS_DAX pgmap owned by the namespace" 'data-layer="pgmaps" data-name="namespace0.0" data-cls="pg-fsdax"'
has pmem "the altmap's struct pages on the device" 'data-layer="memmap" data-name="altmap: struct pages" data-cls="mm-altmap-store"'
has pmem "the info block reserve ahead of them" 'data-name="reserve" data-cls="mm-reserve" data-start="0x400000000"'
hasnt pmem "the hot-added memory is gone again" "$(rect iomem "System RAM" 0x200000000)"
shot pmem "file://$tmp/pmem.html"

run "map the demo with the GPU's chunk (pfn design)" 0 map --demo --line 156 -o "$tmp/gpu.html"
dom gpu "file://$tmp/gpu.html"
page_ok gpu
has gpu "the chunk's device-private resource at the top" "$(rect iomem gpu0 0x3ffff0000000)"
has gpu "a PRIVATE pgmap owned by gpu0's chunk 0" 'data-layer="pgmaps" data-name="gpu0 chunk 0" data-cls="pg-private" data-start="0x3ffff0000000"'
has gpu "a GENERIC pgmap for the devdax namespace" 'data-layer="pgmaps" data-name="dax0.0" data-cls="pg-generic"'
has gpu "its memmap deduplicated" 'data-cls="mm-dedup"'
hasnt gpu "no dpa panel on a pfn machine" 'id="panel-dpa"'

# ---- a 52-bit machine ----
run "map la57-1tib after onlining at 1 PiB" 0 map scenarios/la57-1tib.yaml --line 38 \
	-o "$tmp/la57.html"
dom la57 "file://$tmp/la57.html"
page_ok la57
has la57 "1 TiB of System RAM at 1 PiB" "$(rect iomem "System RAM" 0x4000000000000) data-end=\"0x400ffffffffff\""
has la57 "two blocks online in Movable" 'data-name="memory8388608-8388609" data-cls="blk-online-movable"'
has la57 "the rest offline" 'data-name="memory8388610-8396799" data-cls="blk-offline"'
has la57 "the axis spans 52 bits (4 PiB)" 'data-lo="0x0" data-hi="0x10000000000000"'
dom la57z "file://$tmp/la57.html#zoom=0x4000000000000-0x400ffffffffff"
page_ok la57z
has la57z "a zoom in the URL narrows the axis" 'data-lo="0x4000000000000" data-hi="0x4010000000000"'
has la57z "...and the region fills the width" '<rect x="178.00" y="[0-9.]+" width="1[0-9]{3}.[0-9]+" height="19" class="it c-ram"'
hasnt la57z "...and what lies outside is not drawn" "$(rect iomem "System RAM" 0x100000000)"
shot la57 "file://$tmp/la57.html"

# ---- a device-private dpa machine ----
run "map device-private-43bit-dpa" 0 map scenarios/device-private-43bit-dpa.yaml \
	-o "$tmp/dpa.html"
dom dpa "file://$tmp/dpa.html"
page_ok dpa
has dpa "a panel for the device-private address space" '<section class="panel" id="panel-dpa"'
cnt=$(grep -oE '<rect [^>]*data-panel="dpa" data-layer="pgmaps"[^>]*data-cls="pg-private"' \
	"$tmp/dpa.dom" | wc -l)
if [ "$cnt" -eq 16 ]; then pass "dpa: 16 chunk pgmaps in the dpa panel"; else
	fail "dpa: $cnt chunk pgmaps in the dpa panel, wanted 16"; fi
has dpa "gpu7's second chunk among them" 'data-panel="dpa" data-layer="pgmaps" data-name="gpu7 chunk 1"'
has dpa "their memmaps are arrays of their own" 'data-panel="dpa" data-layer="memmap" data-name="own array" data-cls="mm-array"'
hasnt dpa "no device-private pgmap in the pfn view" 'data-panel="pfn" data-layer="pgmaps" data-name'
hasnt dpa "no device-private resource in iomem" 'class="it c-devpriv"'
has dpa "the pfn view says where they are" 'none here \(dpa view below\)'
shot dpa "file://$tmp/dpa.html"

# ---- the self-check can fail ----
sed 's/"cls": "pg-private"/"cls": "no-such-class"/' "$tmp/dpa.html" >"$tmp/bad.html"
dom bad "file://$tmp/bad.html"
check "broken data: the self-check fails" "$tmp/bad.dom" 'data-ok="0"'
check "broken data: the problem is listed" "$tmp/bad.dom" "has no legend entry"
sed 's|</body>|<script>noSuchFunction();</script></body>|' "$tmp/hot.html" >"$tmp/err.html"
dom err "file://$tmp/err.html"
check "a script error: the page says so" "$tmp/err.dom" 'data-ok="0"'
check "a script error: recorded in #zd-errors" "$tmp/err.dom" "noSuchFunction"

# ---- screenshots: not blank, the regions' colours are there ----
for s in pmem la57 dpa; do
	if [ -s "$tmp/$s.png" ] && [ "$(head -c 8 "$tmp/$s.png" | od -An -tx1 | tr -d ' \n')" = \
		89504e470d0a1a0a ]; then
		pass "$s: the screenshot is a PNG"
	else
		fail "$s: no screenshot"
		diag_file "$tmp/chrome.log"
	fi
done
# colours (map.css): System RAM, pmem-ns, the FS_DAX pgmap, the altmap store;
# RAM, Movable blocks, zone Movable; the PRIVATE pgmaps and their arrays.
pngcheck() {
	python3 - "$@" <<'EOF'
import struct, sys, zlib
def pixels(path):
    data = open(path, 'rb').read()
    pos, idat, w = 8, b'', 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert depth == 8 and ctype in (2, 6) and not interlace, 'unexpected PNG format'
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw, stride, prev, seen = zlib.decompress(idat), w * bpp, bytearray(w * bpp), set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        seen.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return seen
seen = pixels(sys.argv[1])
missing = [c for c in sys.argv[2:] if bytes.fromhex(c) not in seen]
print('%d colours; missing: %s' % (len(seen), ' '.join(missing) or 'none'))
sys.exit(1 if missing or len(seen) < 16 else 0)
EOF
}
if [ "$have_python" = yes ]; then
	for s in "pmem 4caf50 b39ddb 3949ab 4527a0" "la57 4caf50 26c6da ffca28" "dpa fb8c00 ffb74d 4caf50"; do
		set -- $s
		if pngcheck "$tmp/$1.png" "$2" "$3" "$4" ${5:-} >"$tmp/png.out" 2>&1; then
			pass "$1: the screenshot shows the regions' colours ($(cat "$tmp/png.out"))"
		else
			fail "$1: the screenshot lacks colours: $(cat "$tmp/png.out")"
		fi
	done
else
	for s in pmem la57 dpa; do
		if [ "$(wc -c <"$tmp/$s.png")" -gt 30000 ]; then
			pass "$s: the screenshot is not blank (no python3 to count its colours)"
		else
			fail "$s: the screenshot is suspiciously small"
		fi
	done
fi

# ---- the HTML: well formed, its data is --json's document ----
run "map --json for the same point" 0 map --demo --line 107 --json
cp "$tmp/out" "$tmp/pmem.json"
if [ "$have_python" = yes ]; then
	if python3 - "$tmp/pmem.html" "$tmp/pmem.json" >"$tmp/py.out" 2>&1 <<'EOF'
import json, sys
from html.parser import HTMLParser
VOID = {'meta', 'br', 'img', 'input', 'link', 'hr'}
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.data, self.cur, self.bad = [], None, None, []
    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)
        self.cur = dict(attrs).get('id')
    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.bad.append('unbalanced </%s>' % tag)
    def handle_data(self, d):
        if self.stack and self.stack[-1] == 'script' and self.cur == 'zd-data':
            self.data = (self.data or '') + d
p = P()
p.feed(open(sys.argv[1]).read())
p.close()
assert not p.bad and not p.stack, (p.bad, p.stack)
assert p.data is not None, 'no #zd-data'
assert json.loads(p.data) == json.load(open(sys.argv[2])), 'the page data differs from --json'
for bad in ('http://', 'https://', '<link', 'src='):
    assert bad not in open(sys.argv[1]).read().replace('http://www.w3.org/2000/svg', ''), bad
print('ok')
EOF
	then
		pass "the page is well formed, self-contained, its data is --json's"
	else
		fail "the page: $(tail -n 3 "$tmp/py.out")"
	fi
else
	check "the page has its data inline" "$tmp/pmem.html" '<script type="application/json" id="zd-data">'
fi
run "map --steps 0: the machine as booted" 0 map --demo --steps 0 --json
check "...says so" "$tmp/out" '"steps": 0'
lacks "...without the hot-added memory" "$tmp/out" '"memory64'
run "map --steps 7" 0 map --demo --steps 7 --json
cp "$tmp/out" "$tmp/s7.json"
run "map --line 52 (the 7th step)" 0 map --demo --line 52 --json
if cmp -s "$tmp/out" "$tmp/s7.json"; then pass "--line 52 and --steps 7 give the same map"
else fail "--line 52 and --steps 7 differ"; fi

# ---- -o: all or nothing ----
cat >"$tmp/failing.yaml" <<'EOF'
machine: {}
steps:
  - add_memory: {start: 8G, size: 128M}
  - add_memory: {start: 8G, size: 128M}
EOF
echo "old page" >"$tmp/keep.html"
run "a failing step stops map" 1 map "$tmp/failing.yaml" -o "$tmp/keep.html"
check "...with the step's error" "$tmp/err" "failing.yaml:4: step 'add_memory'"
check "...and the old file is left as it was" "$tmp/keep.html" "old page"
run "a failing step writes nothing to stdout" 1 map "$tmp/failing.yaml"
if [ -s "$tmp/out" ]; then fail "...but stdout has output"; else pass "...stdout is empty"; fi
run "with --json, a failing step" 1 map --json "$tmp/failing.yaml"
check "...still prints a document saying so" "$tmp/out" '"result": "failed"'
check "...with the step's error in it" "$tmp/out" "failing.yaml:4: step 'add_memory': failed with EEXIST"
run "map --steps 1 of it works" 0 map "$tmp/failing.yaml" --steps 1 -o "$tmp/keep.html"
check "...and replaces the file" "$tmp/keep.html" "<!DOCTYPE html>"
run "-o into a missing directory" 1 map "$tmp/failing.yaml" --steps 1 -o "$tmp/no/such/x.html"
check "...names the file and the errno" "$tmp/err" "cannot write $tmp/no/such/x.html: ENOENT"
if ls -A "$tmp" | grep -q '^\.zonedev-map-'; then fail "temporary files left behind"
else pass "no temporary file left behind"; fi

echo "1..$n"
[ $failed -eq 0 ]
