#!/bin/sh
# TAP test of the man pages and the bash completion (issue 11 item 2). The
# pages are generated here from the CLI under test (man/gen-man.sh) the
# way `make man` does; every command the main help lists has a page that
# man renders without a warning, whose NAME line whatis can read and which
# shows every option its --help shows; zonedev-bench(1) has every
# benchmark and its options; zonedev-scenario(5) names every scenario step
# and expect form. The completion, sourced into bash, offers the
# commands, each command's options, the benchmarks, the arch profiles and
# (after run --list-steps) every step name.
# Env: ZD_CLI = the zonedev binary, ZD_SRCDIR = the repository root.
set -u
. "$(dirname "$0")/tap.sh"
cd "$ZD_SRCDIR" || exit 1
version=$(sed -n 's/^#define ZONEDEV_VERSION "\(.*\)"/\1/p' include/zonedev/zonedev.h)
out=$tmp/man
if sh man/gen-man.sh "$ZD_CLI" "$ZD_SRCDIR" "$out" "$version" 2>"$tmp/gen.err"; then
	pass "man/gen-man.sh writes the pages"
else
	fail "man/gen-man.sh"; diag_file "$tmp/gen.err"
fi
"$ZD_CLI" --help | awk '/^commands:$/ { on = 1; next } /^[^ ]/ { on = 0 }
	on && /^  [a-z]/ { print $1 }' | grep -vx help > "$tmp/cmds"
[ -s "$tmp/cmds" ] || fail "no commands in zonedev --help"

# render PAGE: man's text in $tmp/page, its warnings in $tmp/warn
render() { MANWIDTH=100 man --warnings -l "$1" >"$tmp/page" 2>"$tmp/warn"; }

for page in zonedev.1 zonedev-scenario.5 $(sed 's/.*/zonedev-&.1/' "$tmp/cmds"); do
	f=$out/$page
	if [ ! -f "$f" ]; then fail "$page: missing"; continue; fi
	if render "$f" && [ ! -s "$tmp/warn" ]; then
		pass "man -l $page renders without warnings"
	else
		fail "man -l $page"; diag_file "$tmp/warn"
	fi
	name=${page%.[15]}
	if lexgrog "$f" 2>/dev/null | grep -q "\"$name - ."; then
		pass "$page: whatis reads its NAME line"
	else
		fail "$page: NAME line: $(lexgrog "$f" 2>&1)"
	fi
	check "$page: has a SYNOPSIS or DESCRIPTION" "$tmp/page" "$(case $page in *.5) echo DESCRIPTION;; *) echo SYNOPSIS;; esac)"
done

# Every option a command's help shows is on its page (man hyphenates long
# words at line ends, so compare with hyphenation off: MANWIDTH wide enough
# and the rendered text's soft hyphens removed).
opts_of() { "$@" --help | grep -oE '(^|[ ,[])--[a-z][a-z0-9-]*' | sed 's/^[ ,[]//' | sort -u; }
while read -r cmd; do
	render "$out/zonedev-$cmd.1"
	missing=
	for o in $(opts_of "$ZD_CLI" "$cmd"); do
		grep -q -- "$o" "$tmp/page" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then pass "zonedev-$cmd(1) has every option of '$cmd --help'"
	else fail "zonedev-$cmd(1) lacks:$missing"; fi
done < "$tmp/cmds"

render "$out/zonedev-bench.1"
"$ZD_CLI" bench --help | awk '/^benchmarks:$/ { on = 1; next } /^[^ ]/ { on = 0 }
	on && /^  [a-z]/ { print $1 }' > "$tmp/benches"
missing=
while read -r b; do
	grep -q "^BENCHMARK $b\$" "$tmp/page" || { missing="$missing $b"; continue; }
	for o in $(opts_of "$ZD_CLI" bench "$b"); do
		grep -q -- "$o" "$tmp/page" || missing="$missing $b:$o"
	done
done < "$tmp/benches"
if [ -z "$missing" ]; then pass "zonedev-bench(1) has every benchmark and its options"
else fail "zonedev-bench(1) lacks:$missing"; fi

render "$out/zonedev-scenario.5"
"$ZD_CLI" run --list-steps | sed -n 's/^\([a-z_0-9]*\)\( VALUE\)\{0,1\}: .*/\1/p' > "$tmp/steps"
missing=
while read -r s; do grep -qw -- "$s" "$tmp/page" || missing="$missing $s"; done < "$tmp/steps"
if [ -s "$tmp/steps" ] && [ -z "$missing" ]; then
	pass "zonedev-scenario(5) names all $(wc -l < "$tmp/steps") steps"
else
	fail "zonedev-scenario(5) lacks:$missing"
fi
check "zonedev.1 points at the scenario page" "$out/zonedev.1" 'zonedev\-scenario\fR(5)'
# Markdown inline code became bold; a backtick left outside the examples
# is code the converter paired wrongly (one that wrapped across lines).
awk '/^\.nf/ { ex = 1 } /^\.fi/ { ex = 0 } !ex && /`/ { print FILENAME ":" NR ": " $0 }' \
	"$out/zonedev-scenario.5" > "$tmp/ticks"
if [ -s "$tmp/ticks" ]; then fail "zonedev-scenario(5) has stray backticks"; diag_file "$tmp/ticks"
else pass "zonedev-scenario(5): every inline code span converted"; fi
# The NAME lines keep roff's \- whatever awk runs them (gawk would eat a -v escape).
if grep -q '^zonedev\\-run \\- ' "$out/zonedev-run.1"; then pass "NAME line keeps its roff escapes"
else fail "NAME line: $(sed -n 4p "$out/zonedev-run.1")"; fi

# ---- completion ----
complete_words() {   # complete_words WORD...: what <TAB> offers after them
	bash -c '. "$1/completion/zonedev.bash"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
		_zonedev; printf "%s\n" "${COMPREPLY[@]}"' _ "$ZD_SRCDIR" "$ZD_CLI" "$@" | sort -u
}
same() {   # same NAME FILE_WANT FILE_GOT
	if [ -s "$2" ] && cmp -s "$2" "$3"; then pass "$1"
	else fail "$1"; diff "$2" "$3" | head -10 | sed 's/^/# /'; fi
}
sort -u "$tmp/cmds" > "$tmp/want"
complete_words "" | grep -v '^-' | grep -vx help > "$tmp/got"
same "completion offers every command" "$tmp/want" "$tmp/got"
sort -u "$tmp/steps" > "$tmp/want"
complete_words run --list-steps "" | grep -v '^-' > "$tmp/got"
same "completion offers every step after run --list-steps" "$tmp/want" "$tmp/got"
complete_words run --list-steps migrate_to_ > "$tmp/got"
printf 'migrate_to_device\nmigrate_to_system\n' > "$tmp/want"
same "completion narrows steps by prefix" "$tmp/want" "$tmp/got"
"$ZD_CLI" iomem --help | sed -n 's/.*architecture profile (default [^)]*): //p' | tr -d ',' |
	tr ' ' '\n' | sort -u > "$tmp/want"
complete_words iomem --arch "" > "$tmp/got"
same "completion offers every arch after --arch" "$tmp/want" "$tmp/got"
sort -u "$tmp/benches" > "$tmp/want"
complete_words bench "" > "$tmp/got"
same "completion offers every benchmark" "$tmp/want" "$tmp/got"
complete_words run --li > "$tmp/got"
check "completion offers run's options" "$tmp/got" "--list-steps"
complete_words bench memmap --re > "$tmp/got"
check "completion offers a benchmark's options" "$tmp/got" "--repeat"
complete_words infoblock tests/data/kernel-infoblocks/devdax-2 > "$tmp/got"
check "completion offers any file after infoblock" "$tmp/got" "devdax-2M.infoblock.bin"
complete_words run scenarios/pmem-dev > "$tmp/got"
check "completion offers scenario files after run" "$tmp/got" "scenarios/pmem-devdax.yaml"
complete_words run tests/data/kernel-infoblocks/devdax-2 > "$tmp/got"
lacks "completion offers only YAML files after run" "$tmp/got" "devdax-2M.infoblock.bin"

echo "1..$n"
[ "$failed" -eq 0 ]
