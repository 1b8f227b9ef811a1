/*
 * Output of `zonedev infoblock` (see infoblock.c): the raw fields of struct
 * nd_pfn_sb under the kernel's names, the sizing the decoded block implies,
 * and the rule results of zd_nd_pfn_check_rules(), as text or as one JSON
 * document. Text and JSON are built from the same computed sizing, so they
 * cannot say different things.
 * Invariants: fields are shown as stored on media (defaults of rules 6 and
 * 8 appear in the sizing and the rules, not in the fields); products of
 * block fields are checked for 64-bit overflow, since a corrupt block may
 * hold any value; addresses go out as "0x..." strings in JSON, counts and
 * sizes as numbers (as ndctl's read-infoblock prints the fields).
 */
#include "infoblock.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* What the decoded block implies; *_ok false when a product overflows. */
struct sizing {
	const struct zd_nd_pfn_info *i;
	bool mode_ok, dev;
	uint64_t data_offset;           /* start_pad + dataoff, from the namespace start */
	bool data_ok, implied_ok, memmap_ok, matches;
	uint64_t data_bytes;            /* npfns x page_size */
	uint64_t implied_size;          /* start_pad + dataoff + data + end_trunc */
	uint64_t memmap_bytes;          /* npfns x page_struct_size */
	uint64_t reserve;               /* nd_info_block_reserve() */
	bool layout_ok;
	struct zd_nd_pfn_layout l;
	char layout_why[200];
};

static unsigned shift_of(uint64_t pow2)
{
	return (unsigned)__builtin_ctzll(pow2);
}

static void compute_sizing(const struct ib_state *s, const struct ib_opts *o, struct sizing *z)
{
	const struct zd_nd_pfn_info *i = &s->chk.info;
	uint64_t start = o->have_start ? o->start : 0, t;

	memset(z, 0, sizeof(*z));
	z->i = i;
	z->mode_ok = i->mode == ZD_PFN_MODE_RAM || i->mode == ZD_PFN_MODE_PMEM;
	z->dev = i->mode == ZD_PFN_MODE_PMEM;
	z->data_offset = i->start_pad + i->dataoff;
	z->data_ok = !__builtin_mul_overflow(i->npfns, (uint64_t)i->page_size, &z->data_bytes) &&
		     z->data_offset >= i->dataoff;
	z->implied_ok = z->data_ok && !__builtin_add_overflow(z->data_offset, z->data_bytes, &t) &&
			!__builtin_add_overflow(t, (uint64_t)i->end_trunc, &z->implied_size);
	z->memmap_ok = !__builtin_mul_overflow(i->npfns, (uint64_t)i->page_struct_size,
					       &z->memmap_bytes);
	z->reserve = (ZD_ND_INFO_RESERVE + o->page_size - 1) & ~(o->page_size - 1);
	/* npfns is rounded down to whole pages: up to a page less is a match. */
	z->matches = s->ns_size_known && z->implied_ok && s->ns_size >= z->implied_size &&
		     s->ns_size - z->implied_size < i->page_size;
	if (!s->ns_size_known) {
		snprintf(z->layout_why, sizeof(z->layout_why), "needs the namespace size");
		return;
	}
	z->layout_ok = !zd_nd_pfn_to_pgmap_layout(i, start, start + s->ns_size - 1,
						  shift_of(o->page_size), &z->l, z->layout_why,
						  sizeof(z->layout_why));
}

static const char *kind_text(enum zd_nd_pfn_kind k)
{
	return k == ZD_ND_DEVDAX ? "devdax" : "fsdax";
}

static const char *result_name(enum zd_nd_rule_result r)
{
	switch (r) {
	case ZD_ND_RULE_PASS: return "pass";
	case ZD_ND_RULE_FAIL: return "FAIL";
	case ZD_ND_RULE_SKIPPED: return "skipped";
	default: return "info";
	}
}

/* The options that give what a skipped rule needs ("" for none). */
static const char *needs_text(unsigned needs, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (needs & ZD_ND_KNOWS_PARENT)
		used = list_add(buf, len, used, " and ", "--parent-uuid");
	if (needs & ZD_ND_KNOWS_START)
		used = list_add(buf, len, used, " and ", "--namespace-start");
	if (needs & ZD_ND_KNOWS_SIZE)
		used = list_add(buf, len, used, " and ", "--namespace-size");
	if (needs & ZD_ND_KNOWS_KIND)
		list_add(buf, len, used, " and ", "--claim");
	return buf;
}

/* The signature bytes up to the NUL; all but printable ASCII as \xNN, so
 * a corrupt block's bytes never reach a terminal raw. */
static const char *sig_text(const struct zd_nd_pfn_sb *sb, char *buf, size_t len)
{
	size_t o = 0;

	for (int k = 0; k < ZD_PFN_SIG_LEN && sb->signature[k] && o + 5 < len; k++) {
		uint8_t c = sb->signature[k];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static size_t padding_nonzero(const struct zd_nd_pfn_sb *sb, size_t *first)
{
	size_t n = 0;

	*first = 0;
	for (size_t k = 0; k < sizeof(sb->padding); k++)
		if (sb->padding[k] && !n++)
			*first = offsetof(struct zd_nd_pfn_sb, padding) + k;
	return n;
}

/* ------------------------------------------------------------ text */

static const char *sz(uint64_t v, char *buf, size_t len)
{
	char h[32];

	snprintf(buf, len, "0x%llx (%s)", (unsigned long long)v, fmt_size_human(v, h, sizeof(h)));
	return buf;
}

static void text_header(const struct ib_state *s, const struct ib_opts *o)
{
	char u[ZD_UUID_STR_LEN], b[64];

	printf("file              %s (%s", o->file, s->file_type);
	if (s->file_size_known)
		printf(", %llu bytes", (unsigned long long)s->file_size);
	printf(")\nblock offset      0x%llx: %s\n", (unsigned long long)s->offset, s->offset_source);
	if (o->have_start)
		printf("namespace start   0x%llx (--namespace-start)\n", (unsigned long long)o->start);
	else
		printf("namespace start   unknown (--namespace-start)\n");
	if (s->ns_size_known)
		printf("namespace size    %s: %s\n", sz(s->ns_size, b, sizeof(b)), s->size_source);
	else
		printf("namespace size    %s\n", s->size_source);
	printf("namespace uuid    %s\n",
	       o->have_parent ? zd_nd_uuid_format(o->parent, u) : "unknown (--parent-uuid)");
	printf("kernel            %s%s: PAGE_SIZE %s, dax fault sizes", o->arch,
	       o->have_arch ? "" : o->have_page_size ? " (from --page-size)" : " (default; --arch)",
	       sz(o->page_size, b, sizeof(b)));
	for (int i = 0; i < ZD_ND_MAX_ALIGNS && o->dax_aligns[i]; i++)
		printf(" %s", sz(o->dax_aligns[i], b, sizeof(b)));
	putchar('\n');
}

static void text_fields(const struct ib_state *s)
{
	const struct zd_nd_pfn_sb *sb = &s->sb;
	uint32_t mode = zd_le32_get(&sb->mode);
	uint64_t stored = zd_le64_get(&sb->checksum), computed = zd_nd_sb_checksum_const(sb);
	char sig[80], u[ZD_UUID_STR_LEN], b[64];
	size_t first, nz = padding_nonzero(sb, &first);

	printf("\nstruct nd_pfn_sb (as stored)\n");
	printf("  signature         \"%s\"\n", sig_text(sb, sig, sizeof(sig)));
	printf("  uuid              %s\n", zd_nd_uuid_format(sb->uuid, u));
	printf("  parent_uuid       %s\n", zd_nd_uuid_format(sb->parent_uuid, u));
	printf("  flags             0x%x\n", zd_le32_get(&sb->flags));
	printf("  version_major     %u\n", zd_le16_get(&sb->version_major));
	printf("  version_minor     %u\n", zd_le16_get(&sb->version_minor));
	printf("  dataoff           %s\n", sz(zd_le64_get(&sb->dataoff), b, sizeof(b)));
	printf("  npfns             %llu\n", (unsigned long long)zd_le64_get(&sb->npfns));
	printf("  mode              %u (%s)\n", mode,
	       mode == ZD_PFN_MODE_PMEM ? "PFN_MODE_PMEM: map=dev" :
	       mode == ZD_PFN_MODE_RAM ? "PFN_MODE_RAM: map=mem" :
	       mode == ZD_PFN_MODE_NONE ? "PFN_MODE_NONE" : "unknown");
	printf("  start_pad         0x%x\n", zd_le32_get(&sb->start_pad));
	printf("  end_trunc         0x%x\n", zd_le32_get(&sb->end_trunc));
	printf("  align             %s\n", sz(zd_le32_get(&sb->align), b, sizeof(b)));
	printf("  page_size         %u\n", zd_le32_get(&sb->page_size));
	printf("  page_struct_size  %u\n", (unsigned)zd_le16_get(&sb->page_struct_size));
	if (nz)
		printf("  padding           %zu of %zu bytes nonzero, the first at 0x%zx (no rule "
		       "reads them; the checksum covers them)\n", nz, sizeof(sb->padding), first);
	else
		printf("  padding           %zu bytes, all zero\n", sizeof(sb->padding));
	printf("  checksum          0x%016llx (computed 0x%016llx: %s)\n",
	       (unsigned long long)stored, (unsigned long long)computed,
	       stored == computed ? "matches" : "differs");
}

static void text_sizing(const struct ib_state *s, const struct ib_opts *o, const struct sizing *z)
{
	const struct zd_nd_pfn_info *i = z->i;
	char b[64], c[64];

	printf("\nsizing (decoded: %s, PAGE_SIZE %llu)\n", kind_text(i->kind),
	       (unsigned long long)o->page_size);
	printf("  data offset       %s from the namespace start (start_pad + dataoff)\n",
	       sz(z->data_offset, b, sizeof(b)));
	if (z->data_ok)
		printf("  data              %s: npfns %llu x page_size %u\n",
		       sz(z->data_bytes, b, sizeof(b)), (unsigned long long)i->npfns, i->page_size);
	else
		printf("  data              npfns %llu x page_size %u overflows 64 bits\n",
		       (unsigned long long)i->npfns, i->page_size);
	if (z->implied_ok)
		printf("  namespace size    %s assumed (start_pad + dataoff + data + end_trunc)%s\n",
		       sz(z->implied_size, b, sizeof(b)),
		       !s->ns_size_known ? "" : z->matches ? ": matches the namespace" :
		       ": differs from the namespace");
	if (!z->mode_ok)
		printf("  memmap            nowhere: mode %u is neither ram nor pmem\n", (unsigned)i->mode);
	else if (z->memmap_ok)
		printf("  memmap            %s (map=%s): npfns %llu x page_struct_size %u = %s\n",
		       z->dev ? "in the namespace" : "in DRAM", z->dev ? "dev" : "mem",
		       (unsigned long long)i->npfns, i->page_struct_size,
		       sz(z->memmap_bytes, b, sizeof(b)));
	printf("  info reserve      %s: labels and this block, before any metadata\n",
	       sz(z->reserve, b, sizeof(b)));
	if (z->dev && i->dataoff >= z->reserve)
		printf("  metadata area     %s from 0x%llx up to dataoff: the memmap and its "
		       "alignment padding\n", sz(i->dataoff - z->reserve, b, sizeof(b)),
		       (unsigned long long)z->reserve);
	printf("  align             %s%s\n", sz(i->align, b, sizeof(b)),
	       i->align_derived ? ", derived from dataoff (rule 8)" : "");
	if (!z->layout_ok) {
		printf("  dev_pagemap       not computed: %s\n", z->layout_why);
		return;
	}
	printf("  dev_pagemap       %llu pages of data%s", (unsigned long long)z->l.npfns,
	       z->l.npfns_truncated ? " (fewer than npfns: the range is smaller)" : "");
	if (o->have_start)
		printf(", range 0x%llx-0x%llx, data at 0x%llx",
		       (unsigned long long)z->l.range_start, (unsigned long long)z->l.range_end,
		       (unsigned long long)z->l.data_start);
	printf(", size %s\n", sz(z->l.data_size, c, sizeof(c)));
	if (z->l.has_altmap) {
		printf("  vmem_altmap       reserve %llu, free %llu pages", (unsigned long long)z->l.reserve,
		       (unsigned long long)z->l.free);
		if (o->have_start)
			printf(", base_pfn 0x%llx, end_pfn 0x%llx", (unsigned long long)z->l.base_pfn,
			       (unsigned long long)z->l.end_pfn);
		printf("\n");
	}
}

static void text_rules(const struct ib_state *s)
{
	const struct zd_nd_pfn_check *c = &s->chk;
	char needs[96];

	printf("\nnd_pfn_validate(), in the kernel's order\n");
	printf("  rule name              result  errno              detail\n");
	for (int n = 1; n <= ZD_ND_NR_RULES; n++) {
		const struct zd_nd_pfn_rule *r = &c->rules[n - 1];
		const struct zd_nd_pfn_rule_desc *d = zd_nd_pfn_rule_desc(n);
		const char *e = r->result == ZD_ND_RULE_FAIL ? zd_errno_name(r->err) : d->errnos;

		printf("  %4d %-17s %-7s %-18s %s", n, d->name, result_name(r->result),
		       e && *e ? e : "-", r->detail);
		if (r->result == ZD_ND_RULE_SKIPPED && *needs_text(r->needs, needs, sizeof(needs)))
			printf("; give %s", needs);
		printf("\n");
		if (n == c->first_fail && n < ZD_ND_NR_RULES)
			printf("       -- the kernel stops here; it does not reach the rules below --\n");
	}
}

static void text_result(const struct ib_state *s)
{
	const struct zd_nd_pfn_check *c = &s->chk;
	char list[200];
	size_t used = 0;

	list[0] = '\0';
	for (int n = 1; n <= ZD_ND_NR_RULES; n++) {
		char item[40];

		if (c->rules[n - 1].result != ZD_ND_RULE_SKIPPED)
			continue;
		snprintf(item, sizeof(item), "%d %s", n, zd_nd_pfn_rule_desc(n)->name);
		used = list_add(list, sizeof(list), used, ", ", item);
	}
	if (!c->first_fail) {
		printf("\nresult: valid: no rule fails%s%s%s\n", *list ? " (skipped: " : "", list,
		       *list ? ")" : "");
		return;
	}
	printf("\nresult: invalid: rule %d (%s) fails: nd_pfn_validate() returns -%s%s\n",
	       c->first_fail, zd_nd_pfn_rule_desc(c->first_fail)->name, zd_errno_name(c->err),
	       c->err == -ENODEV ? " (no valid info block here: nd_pfn_init would write a fresh one)" :
	       " (fatal to nd_pfn_init)");
}

/* ------------------------------------------------------------ JSON */

static void json_head(struct jw *w, const struct ib_state *s, const struct ib_opts *o)
{
	char u[ZD_UUID_STR_LEN];

	jw_kstr(w, "zonedev", ZONEDEV_VERSION);
	jw_kstr(w, "file", o->file);
	jw_kstr(w, "file_type", s->file_type);
	jw_key(w, "file_size");
	if (s->file_size_known)
		jw_u64(w, s->file_size);
	else
		jw_null(w);
	jw_ku64(w, "offset", s->offset);
	jw_kstr(w, "offset_source", s->offset_source);
	jw_key(w, "namespace");
	jw_obj_begin(w);
	jw_key(w, "start");
	if (o->have_start)
		jw_hex(w, o->start);
	else
		jw_null(w);
	jw_key(w, "size");
	if (s->ns_size_known)
		jw_u64(w, s->ns_size);
	else
		jw_null(w);
	jw_kstr(w, "size_source", s->size_source);
	jw_kstr(w, "uuid", o->have_parent ? zd_nd_uuid_format(o->parent, u) : NULL);
	jw_obj_end(w);
	jw_key(w, "kernel");
	jw_obj_begin(w);
	jw_kstr(w, "arch", o->arch);
	jw_ku64(w, "page_size", o->page_size);
	jw_key(w, "dax_aligns");
	jw_arr_begin(w);
	for (int i = 0; i < ZD_ND_MAX_ALIGNS && o->dax_aligns[i]; i++)
		jw_u64(w, o->dax_aligns[i]);
	jw_arr_end(w);
	jw_obj_end(w);
}

/* A one-level object the library printed, its lines indented to sit
 * under the document's first level. */
static void indent_raw(struct jw *w, const char *json)
{
	size_t n = strlen(json), extra = 0, o = 0;
	char *out;

	for (size_t k = 0; k < n; k++)
		extra += json[k] == '\n';
	out = malloc(n + 2 * extra + 1);
	if (!out) {
		jw_raw(w, json);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		out[o++] = json[k];
		if (json[k] == '\n' && k + 1 < n) {
			out[o++] = ' ';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
	jw_raw(w, out);
	free(out);
}

static void json_fields(struct jw *w, const struct ib_state *s, const struct ib_opts *o)
{
	const struct zd_nd_pfn_sb *sb = &s->sb;
	char u[ZD_UUID_STR_LEN], *buf = NULL;
	size_t len = 0, first, nz = padding_nonzero(sb, &first);
	FILE *f;

	jw_key(w, "fields");
	jw_obj_begin(w);
	jw_key(w, "signature");
	jw_strn(w, (const char *)sb->signature, strnlen((const char *)sb->signature, ZD_PFN_SIG_LEN));
	jw_kstr(w, "uuid", zd_nd_uuid_format(sb->uuid, u));
	jw_kstr(w, "parent_uuid", zd_nd_uuid_format(sb->parent_uuid, u));
	jw_ku64(w, "flags", zd_le32_get(&sb->flags));
	jw_ku64(w, "version_major", zd_le16_get(&sb->version_major));
	jw_ku64(w, "version_minor", zd_le16_get(&sb->version_minor));
	jw_ku64(w, "dataoff", zd_le64_get(&sb->dataoff));
	jw_ku64(w, "npfns", zd_le64_get(&sb->npfns));
	jw_ku64(w, "mode", zd_le32_get(&sb->mode));
	jw_ku64(w, "start_pad", zd_le32_get(&sb->start_pad));
	jw_ku64(w, "end_trunc", zd_le32_get(&sb->end_trunc));
	jw_ku64(w, "align", zd_le32_get(&sb->align));
	jw_ku64(w, "page_size", zd_le32_get(&sb->page_size));
	jw_ku64(w, "page_struct_size", zd_le16_get(&sb->page_struct_size));
	jw_ku64(w, "padding_nonzero", nz);
	jw_khex(w, "checksum", zd_le64_get(&sb->checksum));
	jw_khex(w, "checksum_computed", zd_nd_sb_checksum_const(sb));
	jw_obj_end(w);

	/* The same block as ndctl read-infoblock prints it. */
	jw_key(w, "read_infoblock");
	f = open_memstream(&buf, &len);
	if (f && zd_nd_pfn_sb_dump_json(f, sb, o->file) >= 0 && !fclose(f)) {
		indent_raw(w, buf);
	} else {
		if (f)
			fclose(f);
		jw_null(w);
	}
	free(buf);
}

/* A size the block implies, or null when its product overflows. */
static void ku64_or_null(struct jw *w, const char *key, bool ok, uint64_t v)
{
	jw_key(w, key);
	if (ok)
		jw_u64(w, v);
	else
		jw_null(w);
}

static void json_sizing(struct jw *w, const struct ib_state *s, const struct ib_opts *o,
			const struct sizing *z)
{
	const struct zd_nd_pfn_info *i = z->i;

	jw_key(w, "sizing");
	jw_obj_begin(w);
	jw_kstr(w, "kind", kind_text(i->kind));
	jw_kstr(w, "map", !z->mode_ok ? NULL : z->dev ? "dev" : "mem");
	jw_kstr(w, "memmap_in", !z->mode_ok ? NULL : z->dev ? "namespace" : "dram");
	jw_ku64(w, "page_size", i->page_size);
	jw_ku64(w, "page_struct_size", i->page_struct_size);
	jw_ku64(w, "align", i->align);
	jw_kbool(w, "align_derived", i->align_derived);
	jw_ku64(w, "start_pad", i->start_pad);
	jw_ku64(w, "end_trunc", i->end_trunc);
	jw_ku64(w, "data_offset", z->data_offset);
	ku64_or_null(w, "data_bytes", z->data_ok, z->data_bytes);
	ku64_or_null(w, "namespace_size_assumed", z->implied_ok, z->implied_size);
	jw_key(w, "namespace_size_matches");
	if (s->ns_size_known && z->implied_ok)
		jw_bool(w, z->matches);
	else
		jw_null(w);
	ku64_or_null(w, "memmap_bytes", z->memmap_ok && z->mode_ok, z->memmap_bytes);
	jw_ku64(w, "info_reserve", z->reserve);
	ku64_or_null(w, "metadata_bytes", z->dev && i->dataoff >= z->reserve, i->dataoff - z->reserve);
	jw_key(w, "dev_pagemap");
	if (!z->layout_ok) {
		jw_null(w);
	} else {
		jw_obj_begin(w);
		jw_ku64(w, "npfns", z->l.npfns);
		jw_kbool(w, "npfns_truncated", z->l.npfns_truncated);
		jw_key(w, "range_start");
		o->have_start ? jw_hex(w, z->l.range_start) : jw_null(w);
		jw_key(w, "range_end");
		o->have_start ? jw_hex(w, z->l.range_end) : jw_null(w);
		jw_key(w, "data_start");
		o->have_start ? jw_hex(w, z->l.data_start) : jw_null(w);
		jw_ku64(w, "data_size", z->l.data_size);
		jw_key(w, "altmap");
		if (z->l.has_altmap) {
			jw_obj_begin(w);
			jw_ku64(w, "reserve", z->l.reserve);
			jw_ku64(w, "free", z->l.free);
			jw_key(w, "base_pfn");
			o->have_start ? jw_hex(w, z->l.base_pfn) : jw_null(w);
			jw_key(w, "end_pfn");
			o->have_start ? jw_hex(w, z->l.end_pfn) : jw_null(w);
			jw_obj_end(w);
		} else {
			jw_null(w);
		}
		jw_obj_end(w);
	}
	jw_kstr(w, "dev_pagemap_why", z->layout_ok ? NULL : z->layout_why);
	jw_obj_end(w);
}

static void json_rules(struct jw *w, const struct ib_state *s)
{
	const struct zd_nd_pfn_check *c = &s->chk;

	jw_key(w, "rules");
	jw_arr_begin(w);
	for (int n = 1; n <= ZD_ND_NR_RULES; n++) {
		const struct zd_nd_pfn_rule *r = &c->rules[n - 1];
		const struct zd_nd_pfn_rule_desc *d = zd_nd_pfn_rule_desc(n);
		static const struct { unsigned bit; const char *opt; } opts[] = {
			{ ZD_ND_KNOWS_PARENT, "--parent-uuid" }, { ZD_ND_KNOWS_START, "--namespace-start" },
			{ ZD_ND_KNOWS_SIZE, "--namespace-size" }, { ZD_ND_KNOWS_KIND, "--claim" },
		};
		const char *e = r->result == ZD_ND_RULE_FAIL ? zd_errno_name(r->err) : d->errnos;

		jw_obj_begin(w);
		jw_ku64(w, "rule", (uint64_t)n);
		jw_kstr(w, "name", d->name);
		jw_kstr(w, "check", d->check);
		jw_kstr(w, "result", r->result == ZD_ND_RULE_FAIL ? "fail" : result_name(r->result));
		jw_kstr(w, "errno", e && *e ? e : NULL);
		jw_kbool(w, "reached", !c->first_fail || n <= c->first_fail);
		jw_kstr(w, "detail", r->detail);
		jw_key(w, "needs");
		jw_arr_begin(w);
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (r->result == ZD_ND_RULE_SKIPPED && (r->needs & opts[k].bit))
				jw_str(w, opts[k].opt);
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void ib_show(const struct ib_state *s, const struct ib_opts *o)
{
	const struct zd_nd_pfn_check *c = &s->chk;
	struct sizing z;
	struct jw w;

	compute_sizing(s, o, &z);
	if (!o->json) {
		text_header(s, o);
		text_fields(s);
		text_sizing(s, o, &z);
		text_rules(s);
		text_result(s);
		fflush(stdout);
		return;
	}
	jw_init(&w, stdout);
	jw_obj_begin(&w);
	json_head(&w, s, o);
	json_fields(&w, s, o);
	json_sizing(&w, s, o, &z);
	json_rules(&w, s);
	jw_kstr(&w, "result", c->first_fail ? "invalid" : "valid");
	jw_key(&w, "failing_rule");
	if (c->first_fail)
		jw_u64(&w, (uint64_t)c->first_fail);
	else
		jw_null(&w);
	jw_kstr(&w, "errno", c->first_fail ? zd_errno_name(c->err) : NULL);
	jw_kstr(&w, "reason", c->first_fail ? c->rules[c->first_fail - 1].detail : NULL);
	jw_obj_end(&w);
	jw_finish(&w);
}

int ib_show_error(const struct ib_state *s, const struct ib_opts *o, int err, const char *why)
{
	char e[32];
	struct jw w;

	fmt_errno(err, e, sizeof(e));
	fprintf(stderr, "zonedev infoblock: %s: %s (%s)\n", o->file, why, e);
	if (!o->json)
		return EXIT_FAIL;
	jw_init(&w, stdout);
	jw_obj_begin(&w);
	jw_kstr(&w, "zonedev", ZONEDEV_VERSION);
	jw_kstr(&w, "file", o->file);
	jw_kstr(&w, "file_type", s->file_type);
	jw_key(&w, "file_size");
	if (s->file_size_known)
		jw_u64(&w, s->file_size);
	else
		jw_null(&w);
	jw_key(&w, "offset");
	if (s->offset_source[0])
		jw_u64(&w, s->offset);
	else
		jw_null(&w);
	jw_kstr(&w, "result", "error");
	jw_kstr(&w, "errno", e);
	jw_kstr(&w, "error", why);
	jw_obj_end(&w);
	jw_finish(&w);
	return EXIT_FAIL;
}
