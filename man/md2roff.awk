# Turns docs/scenarios.md into zonedev-scenario(5): the scenario format has
# one source, the markdown the repository documents it in. Handles what that
# file uses: #/##/### headings, paragraphs, fenced code, "- " lists, tables
# (each row a tagged paragraph: the first cell is the tag, the other cells
# follow under their header names) and inline `code`, **bold**, *italic*
# and [links](...). Variables: title, section, date, version; the NAME
# line in ENVIRON["ZD_NAME_LINE"] (awk -v would process its escapes).
function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	return s
}
function inline(s,   out, c) {
	s = esc(s)
	while (match(s, /\[[^]]*\]\([^)]*\)/)) {
		c = substr(s, RSTART + 1, RLENGTH - 1); sub(/\]\(.*/, "", c)
		s = substr(s, 1, RSTART - 1) c substr(s, RSTART + RLENGTH)
	}
	while (match(s, /`[^`]*`/)) s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
	while (match(s, /\*\*[^*]+\*\*/)) s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" substr(s, RSTART + RLENGTH)
	while (match(s, /\*[^* ][^*]*\*/)) s = substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" substr(s, RSTART + RLENGTH)
	if (s ~ /^[.']/) s = "\\&" s
	return s
}
function cells(row, arr,   n) {
	sub(/^\| */, "", row); sub(/ *\| *$/, "", row)
	# a "\|" inside a cell is a literal bar
	gsub(/\\\|/, "\001", row)
	n = split(row, arr, / *\| */)
	for (i = 1; i <= n; i++) gsub(/\001/, "|", arr[i])
	return n
}
BEGIN {
	printf ".TH %s %s \"%s\" \"zonedev %s\" \"zonedev manual\"\n", toupper(title), section, date, version
	print ".SH NAME"
	print ENVIRON["ZD_NAME_LINE"]
}
/^```/ {
	if (code) { print ".fi"; print ".RE"; code = 0 } else { print ".RS"; print ".nf"; code = 1 }
	next
}
code { s = esc($0); if (s ~ /^[.']/) s = "\\&" s; print s; next }
/^# / { if (NR > 1) { print ".SH \"" toupper(substr($0, 3)) "\"" } else print ".SH DESCRIPTION"; next }
/^## / { print ".SH \"" toupper(substr($0, 4)) "\""; next }
/^### / { print ".SS \"" substr($0, 5) "\""; next }
/^\|/ {
	n = cells($0, c)
	if (!intable) { intable = 1; nh = cells($0, hdr); next }
	if ($0 ~ /^\|[-: |]+\|$/) next
	print ".TP"
	print inline(c[1])
	body = ""
	for (i = 2; i <= n; i++) {
		if (c[i] == "") continue
		part = (i > 2 && hdr[i] != "") ? hdr[i] ": " c[i] : c[i]
		body = body (body == "" ? "" : "; ") part
	}
	print inline(body)
	next
}
{ intable = 0 }
/^$/ { print ".PP"; next }
/^[-*] / { print ".IP \\(bu 2"; print inline(substr($0, 3)); next }
/^  +[^ ]/ && !/^    / { s = $0; sub(/^ +/, "", s); print inline(s); next }
/^    / { print ".nf"; print inline(substr($0, 5)); print ".fi"; next }
{ print inline($0) }
