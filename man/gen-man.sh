#!/bin/sh
# Writes the man pages from their one source each: zonedev(1) and
# zonedev-CMD(1) from the binary's own --help texts (every command the main
# help lists; zonedev-bench(1) also carries each benchmark's --help), and
# zonedev-scenario(5) from docs/scenarios.md. Run by `make man`.
# usage: gen-man.sh ZONEDEV_BINARY SRCDIR OUTDIR VERSION
set -eu
zd=$1 src=$2 out=$3 version=$4
# A reproducible date: SOURCE_DATE_EPOCH, else the last commit, else today.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
	date=$(git -C "$src" log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)
fi
mkdir -p "$out"
h2r() { ZD_NAME_LINE=$2 awk -v title="$1" -v section=1 -v date="$date" -v version="$version" \
	    -v nested="${3:-0}" -f "$src/man/help2roff.awk"; }

"$zd" --help > "$out/zonedev.help"
# The command list: "  NAME ...  what it does" lines under "commands:".
# A description that goes on over more lines is joined into one.
awk 'function out() { if (n != "") print n "\t" d; n = "" }
     /^commands:$/ { on = 1; next } /^[^ ]/ { out(); on = 0 }
     on && /^  [a-z]/ { out(); n = $1; d = $0; sub(/^  [^ ]+( [^ ]+)*   */, "", d); next }
     on && /^     */ { s = $0; sub(/^ +/, "", s); d = d " " s; next }
     END { out() }' \
	"$out/zonedev.help" | grep -v '^help	' > "$out/commands"

see="zonedev-scenario (5)"
while IFS='	' read -r cmd what; do see="$see, zonedev-$cmd (1)"; done < "$out/commands"
seealso() {
	echo ".SH \"SEE ALSO\""
	echo "$see" | sed 's/ (\([15]\))/(\1)/g; s/\([a-z-]*\)(\([15]\))/\\fB\1\\fR(\2)/g' | sed 's/-/\\-/g; s/\\\\-/\\-/g'
}

{ h2r zonedev 'zonedev \- model Linux ZONE_DEVICE memory management in user space' \
	< "$out/zonedev.help"; seealso; } > "$out/zonedev.1"

while IFS='	' read -r cmd what; do
	page=$out/zonedev-$cmd.1
	"$zd" "$cmd" --help > "$out/$cmd.help"
	{
		h2r "zonedev-$cmd" "zonedev\\-$cmd \\- $what" < "$out/$cmd.help"
		if [ "$cmd" = bench ]; then
			awk '/^benchmarks:$/ { on = 1; next } /^[^ ]/ { on = 0 }
			     on && /^  [a-z]/ { print $1 }' "$out/$cmd.help" |
			while read -r b; do
				echo ".SH \"BENCHMARK $b\""
				"$zd" bench "$b" --help | h2r "zonedev-bench-$b" "" 1
			done
		fi
		seealso
	} > "$page"
done < "$out/commands"

{ ZD_NAME_LINE='zonedev\-scenario \- the zonedev scenario file format' \
  awk -v title=zonedev-scenario -v section=5 -v date="$date" -v version="$version" \
      -f "$src/man/md2roff.awk" "$src/docs/scenarios.md"; seealso; } > "$out/zonedev-scenario.5"
rm -f "$out"/*.help "$out/commands"
