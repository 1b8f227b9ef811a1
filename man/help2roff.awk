# Turns a zonedev --help text into a man page body (roff), so the pages
# cannot drift from what the binary prints. Layout the help texts follow
# (tools/zonedev/main.c): "usage:" lines, description paragraphs, sections
# headed by a "name:" line at column 0 whose items are "  TERM   text" with
# continuation lines indented deeper, and a closing "exit status:" line.
# Variables: title (page name), section (1), date, version; the NAME line
# comes from ENVIRON["ZD_NAME_LINE"] (awk -v would process its escapes)
# (the NAME section's "zonedev-x \- what"), nested (1: emit the body only, as
# a .SS block inside another page, e.g. one benchmark in zonedev-bench(1)).
function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	return s
}
function line_out(s) {
	s = esc(s)
	if (s ~ /^[.']/) s = "\\&" s
	print s
}
function flush_para() { para = 0 }
function term_out(t) {
	print ".TP"
	print "\\fB" esc(t) "\\fR"
}
BEGIN {
	mode = "usage"; para = 0
	if (!nested) {
		printf ".TH %s %s \"%s\" \"zonedev %s\" \"zonedev manual\"\n", toupper(title), section, date, version
		print ".SH NAME"
		print ENVIRON["ZD_NAME_LINE"]
		print ".SH SYNOPSIS"
		print ".nf"
	}
}
# usage lines and their continuations
mode == "usage" {
	if ($0 ~ /^usage: / || $0 ~ /^       / || $0 ~ /^ +\[/) {
		s = $0; sub(/^usage: /, "", s); sub(/^ +/, "", s)
		if (nested) { if (!started) { print ".nf"; started = 1 } }
		line_out(s)
		next
	}
	print ".fi"
	mode = "desc"
	# DESCRIPTION is written with its first line (a help may have none).
	if (!nested) want_desc = 1
	else print ".PP"
}
/^$/ && want_desc { next }
/^$/ { if (mode == "example") { print ".fi"; print ".RE"; mode = lastmode } flush_para(); print ".PP"; next }
/^exit status: / {
	s = $0; sub(/^exit status: /, "", s)
	if (nested) print ".PP\nExit status: " esc(s)
	else { print ".SH \"EXIT STATUS\""; line_out(s) }
	mode = "exit"; next
}
mode == "exit" { s = $0; sub(/^ +/, "", s); line_out(s); next }
/^[A-Za-z][A-Za-z ']*:$/ {
	want_desc = 0
	if (mode == "example") { print ".fi"; print ".RE" }
	h = $0; sub(/:$/, "", h)
	if (nested) print ".PP\n\\fI" esc(h) ":\\fR"
	else print ".SH " toupper(h)
	mode = "list"; next
}
mode == "list" {
	if (match($0, /^  [^ ]/)) {
		s = substr($0, 3)
		# TERM, two or more spaces, text; or a TERM alone whose text follows
		if (match(s, /   */)) {
			term_out(substr(s, 1, RSTART - 1))
			line_out(substr(s, RSTART + RLENGTH))
		} else if (s ~ /^-/) {
			# An option too long for the column: its words (flags,
			# METAVARS, [optional] parts) are the term, the rest is text.
			n = split(s, w, " "); t = w[1]
			for (i = 2; i <= n && w[i] ~ /^(-[^ ]+,?|[A-Z][A-Z0-9_.=|]*|\[.*\])$/; i++) t = t " " w[i]
			term_out(t); r = ""
			for (; i <= n; i++) r = r (r == "" ? "" : " ") w[i]
			if (r != "") line_out(r)
		} else term_out(s)
		next
	}
	if ($0 ~ /^   +/) { s = $0; sub(/^ +/, "", s); line_out(s); next }
	mode = "desc"
}
mode == "desc" && want_desc && $0 != "" { print ".SH DESCRIPTION"; want_desc = 0 }
mode == "desc" || mode == "example" {
	if ($0 ~ /^  +/) {
		if (mode != "example") { print ".RS"; print ".nf"; lastmode = mode; mode = "example" }
		s = $0; sub(/^  /, "", s); line_out(s); next
	}
	if (mode == "example") { print ".fi"; print ".RE"; mode = lastmode }
	line_out($0); next
}
