/*
 * nd_pfn_validate() as a list of rule results (drivers/nvdimm/pfn_devs.c;
 * devices.md §2.4 numbering): the probe path wants the first refusal and
 * its errno, an inspection tool wants every rule's verdict and which ones
 * it could not decide. Both come from zd_nd_pfn_check_rules(), so the
 * validator and `zonedev infoblock` cannot disagree about a block.
 *
 * Invariants:
 *  - rules are evaluated in the kernel's order and each one on its own: a
 *    later rule sees the decoded block as the kernel would have, not the
 *    outcome of an earlier failure; first_fail is where the kernel stops;
 *  - a rule is SKIPPED only for context the caller said it lacks, and is
 *    never reported as passing on a guess;
 *  - a FAIL detail starts with "rule N:" and is exactly the reason
 *    zd_nd_pfn_validate() returns; the block is never written.
 */
#include <zonedev/nd_pfn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include "base/align.h"

static const struct zd_nd_pfn_rule_desc rule_descs[ZD_ND_NR_RULES] = {
	{ "region", "an info block, a namespace, and the namespace's region is pmem", "ENODEV" },
	{ "read", "4096 bytes read at namespace offset 4096", "ENXIO" },
	{ "signature", "signature of the claim probed (pfn: NVDIMM_PFN_INFO, dax: NVDIMM_DAX_INFO)",
	  "ENODEV" },
	{ "checksum", "Fletcher-64 of the block with checksum zeroed equals checksum", "ENODEV" },
	{ "parent_uuid", "parent_uuid is the namespace's uuid", "ENODEV" },
	{ "defaults", "fields newer than version_minor take their defaults", "" },
	{ "mode", "mode is ram (1) or pmem (2)", "ENXIO" },
	{ "align", "align 0 on media becomes 1 << ilog2(dataoff)", "" },
	{ "page_size", "map=dev: page_size <= PAGE_SIZE", "EOPNOTSUPP" },
	{ "page_struct_size", "map=dev: page_struct_size >= sizeof(struct page)", "EOPNOTSUPP" },
	{ "dax_align", "devdax: align is a supported fault size", "EOPNOTSUPP" },
	{ "instance", "a bound instance: same uuid, then same align and mode", "ENODEV/EOPNOTSUPP" },
	{ "capacity", "align <= namespace capacity", "EOPNOTSUPP" },
	{ "dataoff", "dataoff < namespace size", "EOPNOTSUPP" },
	{ "data_align", "start + dataoff + start_pad is align-aligned, dataoff is page-aligned",
	  "EOPNOTSUPP" },
	{ "start_align", "start + start_pad is memremap_compat_align()-aligned", "EOPNOTSUPP" },
	{ "end_align", "end + 1 - end_trunc is memremap_compat_align()-aligned", "EOPNOTSUPP" },
	{ "data_fits", "dataoff < size - start_pad - end_trunc", "EOPNOTSUPP" },
};

const struct zd_nd_pfn_rule_desc *zd_nd_pfn_rule_desc(int rule)
{
	return rule >= 1 && rule <= ZD_ND_NR_RULES ? &rule_descs[rule - 1] : NULL;
}

__attribute__((format(printf, 3, 4)))
static void set(struct zd_nd_pfn_check *c, int rule, const char *fmt, ...)
{
	struct zd_nd_pfn_rule *r = &c->rules[rule - 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* The rule holds; detail says what was found. */
#define PASS(c, n, ...) do { (c)->rules[(n) - 1].result = ZD_ND_RULE_PASS; set(c, n, __VA_ARGS__); } while (0)
#define INFO(c, n, ...) do { (c)->rules[(n) - 1].result = ZD_ND_RULE_INFO; set(c, n, __VA_ARGS__); } while (0)

/* The rule fails with err; detail is the validator's reason "rule N: ...". */
__attribute__((format(printf, 4, 5)))
static void fail_rule(struct zd_nd_pfn_check *c, int rule, int err, const char *fmt, ...)
{
	struct zd_nd_pfn_rule *r = &c->rules[rule - 1];
	int n = snprintf(r->detail, sizeof(r->detail), "rule %d: ", rule);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail + n, sizeof(r->detail) - (size_t)n, fmt, ap);
	va_end(ap);
	r->result = ZD_ND_RULE_FAIL;
	r->err = err;
	if (!c->first_fail) {
		c->first_fail = rule;
		c->err = err;
	}
}

/* The rule needs what the caller lacks. */
static void skip_rule(struct zd_nd_pfn_check *c, int rule, unsigned needs, const char *what)
{
	struct zd_nd_pfn_rule *r = &c->rules[rule - 1];

	r->result = ZD_ND_RULE_SKIPPED;
	r->needs = needs;
	snprintf(r->detail, sizeof(r->detail), "%s", what);
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

static bool supported_alignment(uint64_t align, const uint64_t *list)
{
	if (align == 0)
		return false;
	for (int i = 0; i < ZD_ND_MAX_ALIGNS && list[i]; i++)
		if (list[i] == align)
			return true;
	return false;
}

/* The signature up to its NUL, non-printable bytes as \xNN (a corrupt
 * block's bytes must not reach a terminal raw). */
static const char *sig_text(const uint8_t *sig, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < ZD_PFN_SIG_LEN && sig[i] && o + 5 < len; i++) {
		if (sig[i] >= 0x20 && sig[i] < 0x7f && sig[i] != '"' && sig[i] != '\\')
			buf[o++] = (char)sig[i];
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", sig[i]);
	}
	buf[o] = '\0';
	return buf;
}

/* Rule 3: which claim the signature belongs to; false when neither. */
static bool check_signature(struct zd_nd_pfn_check *c, const struct zd_nd_pfn_sb *sb,
			    const struct zd_nd_pfn_validate_ctx *ctx, unsigned knows,
			    enum zd_nd_pfn_kind *kind)
{
	char s[ZD_PFN_SIG_LEN * 4 + 1];

	sig_text(sb->signature, s, sizeof(s));
	if (knows & ZD_ND_KNOWS_KIND) {
		*kind = ctx->kind;
		if (memcmp(sb->signature, zd_nd_pfn_sig(ctx->kind), ZD_PFN_SIG_LEN)) {
			fail_rule(c, 3, -ENODEV, "signature mismatch (want %s, found \"%s\")",
				  (const char *)zd_nd_pfn_sig(ctx->kind), s);
			return false;
		}
	} else if (!memcmp(sb->signature, zd_nd_pfn_sig(ZD_ND_DEVDAX), ZD_PFN_SIG_LEN)) {
		*kind = ZD_ND_DEVDAX;
	} else if (!memcmp(sb->signature, zd_nd_pfn_sig(ZD_ND_FSDAX), ZD_PFN_SIG_LEN)) {
		*kind = ZD_ND_FSDAX;
	} else {
		*kind = ZD_ND_FSDAX;
		fail_rule(c, 3, -ENODEV, "signature is neither %s nor %s (found \"%s\")",
			  ZD_PFN_SIG, ZD_DAX_SIG, s);
		return false;
	}
	PASS(c, 3, "%s (%s)", s, *kind == ZD_ND_DEVDAX ? "devdax, a dax claim" : "fsdax, a pfn claim");
	return true;
}

/* Rule 6: what the writer's minor version did not record. */
static void note_defaults(struct zd_nd_pfn_check *c, const struct zd_nd_pfn_info *i)
{
	unsigned minor = i->version_minor;

	if (minor >= 4)
		INFO(c, 6, "version %u.%u records every field", i->version_major, minor);
	else
		INFO(c, 6, "version %u.%u:%s%s page_size = PAGE_SIZE %u, page_struct_size = 64",
		     i->version_major, minor, minor < 1 ? " start_pad = end_trunc = 0;" : "",
		     minor < 2 ? " align = 0;" : "", i->page_size);
}

/* Rule 12: the first probe adopts, a bound instance compares. */
static void check_instance(struct zd_nd_pfn_check *c, const struct zd_nd_pfn_sb *sb,
			   const struct zd_nd_pfn_validate_ctx *ctx, const struct zd_nd_pfn_info *i)
{
	char a[ZD_UUID_STR_LEN], b[ZD_UUID_STR_LEN];

	if (!ctx->adopted) {
		PASS(c, 12, "first probe: uuid %s, align 0x%llx and mode %s adopted",
		     zd_nd_uuid_format(sb->uuid, a), (unsigned long long)i->align,
		     zd_nd_pfn_mode_name(i->mode));
	} else if (memcmp(ctx->adopted_uuid, sb->uuid, 16)) {
		fail_rule(c, 12, -ENODEV, "uuid %s is not the instance uuid %s",
			  zd_nd_uuid_format(sb->uuid, a), zd_nd_uuid_format(ctx->adopted_uuid, b));
	} else if (ctx->adopted_align != i->align || ctx->adopted_mode != i->mode) {
		fail_rule(c, 12, -EOPNOTSUPP, "settings mismatch (align 0x%llx:0x%llx mode %u:%u)",
			  (unsigned long long)ctx->adopted_align, (unsigned long long)i->align,
			  (unsigned)ctx->adopted_mode, (unsigned)i->mode);
	} else {
		PASS(c, 12, "the bound instance's uuid, align and mode");
	}
}

/* Rules 13-18: the block against the namespace's geometry. */
static void check_geometry(struct zd_nd_pfn_check *c, const struct zd_nd_pfn_validate_ctx *ctx,
			   unsigned knows, const struct zd_nd_pfn_info *i, uint64_t page_size)
{
	bool size = knows & ZD_ND_KNOWS_SIZE, start = knows & ZD_ND_KNOWS_START;
	uint64_t compat = or_default(ctx->compat_align, ZD_ND_DEFAULT_COMPAT_ALIGN);
	uint64_t capacity = or_default(ctx->capacity, ctx->size);
	uint64_t end = ctx->end ? ctx->end : ctx->start + ctx->size - 1;

	if (!size)
		skip_rule(c, 13, ZD_ND_KNOWS_SIZE, "needs the namespace capacity");
	else if (i->align > capacity)
		fail_rule(c, 13, -EOPNOTSUPP, "alignment 0x%llx exceeds capacity 0x%llx",
			  (unsigned long long)i->align, (unsigned long long)capacity);
	else
		PASS(c, 13, "align 0x%llx <= capacity 0x%llx", (unsigned long long)i->align,
		     (unsigned long long)capacity);

	if (!size)
		skip_rule(c, 14, ZD_ND_KNOWS_SIZE, "needs the namespace size");
	else if (i->dataoff >= ctx->size)
		fail_rule(c, 14, -EOPNOTSUPP, "pfn array size (dataoff 0x%llx) exceeds namespace size 0x%llx",
			  (unsigned long long)i->dataoff, (unsigned long long)ctx->size);
	else
		PASS(c, 14, "dataoff 0x%llx < size 0x%llx", (unsigned long long)i->dataoff,
		     (unsigned long long)ctx->size);

	/* Rule 15: its page part needs no context, its align part the start. */
	if (!ZD_IS_ALIGNED(i->dataoff, page_size) && !start)
		fail_rule(c, 15, -EOPNOTSUPP, "bad offset 0x%llx (not a multiple of PAGE_SIZE 0x%llx)",
			  (unsigned long long)i->dataoff, (unsigned long long)page_size);
	else if (!start)
		skip_rule(c, 15, ZD_ND_KNOWS_START,
			  "dataoff is page-aligned; start + dataoff + start_pad against align needs the namespace start");
	else if ((i->align && !ZD_IS_ALIGNED(ctx->start + i->dataoff + i->start_pad, i->align)) ||
		 !ZD_IS_ALIGNED(i->dataoff, page_size))
		fail_rule(c, 15, -EOPNOTSUPP, "bad offset 0x%llx (start 0x%llx, start_pad 0x%x, align 0x%llx)",
			  (unsigned long long)i->dataoff, (unsigned long long)ctx->start,
			  i->start_pad, (unsigned long long)i->align);
	else
		PASS(c, 15, "data at 0x%llx, a multiple of align 0x%llx and of PAGE_SIZE",
		     (unsigned long long)(ctx->start + i->dataoff + i->start_pad),
		     (unsigned long long)i->align);

	if (!start)
		skip_rule(c, 16, ZD_ND_KNOWS_START, "needs the namespace start");
	else if (!ZD_IS_ALIGNED(ctx->start + i->start_pad, compat))
		fail_rule(c, 16, -EOPNOTSUPP, "resource start 0x%llx + start_pad 0x%x misaligned to 0x%llx",
			  (unsigned long long)ctx->start, i->start_pad, (unsigned long long)compat);
	else
		PASS(c, 16, "0x%llx is a multiple of 0x%llx",
		     (unsigned long long)(ctx->start + i->start_pad), (unsigned long long)compat);

	if (!start || !size)
		skip_rule(c, 17, (start ? 0 : ZD_ND_KNOWS_START) | (size ? 0 : ZD_ND_KNOWS_SIZE),
			  "needs the namespace start and size");
	else if (!ZD_IS_ALIGNED(end + 1 - i->end_trunc, compat))
		fail_rule(c, 17, -EOPNOTSUPP, "resource end 0x%llx + 1 - end_trunc 0x%x misaligned to 0x%llx",
			  (unsigned long long)end, i->end_trunc, (unsigned long long)compat);
	else
		PASS(c, 17, "0x%llx is a multiple of 0x%llx",
		     (unsigned long long)(end + 1 - i->end_trunc), (unsigned long long)compat);

	/*
	 * Rule 18. Like the kernel's resource_size_t arithmetic this wraps
	 * when the paddings exceed the size (the check then cannot fire).
	 */
	if (!size)
		skip_rule(c, 18, ZD_ND_KNOWS_SIZE, "needs the namespace size");
	else if (i->dataoff >= ctx->size - i->start_pad - i->end_trunc)
		fail_rule(c, 18, -EOPNOTSUPP,
			  "bad offset 0x%llx with small namespace (size 0x%llx, start_pad 0x%x, end_trunc 0x%x)",
			  (unsigned long long)i->dataoff, (unsigned long long)ctx->size,
			  i->start_pad, i->end_trunc);
	else
		PASS(c, 18, "dataoff 0x%llx < 0x%llx", (unsigned long long)i->dataoff,
		     (unsigned long long)(ctx->size - i->start_pad - i->end_trunc));
}

void zd_nd_pfn_check_rules(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_validate_ctx *ctx,
			   unsigned knows, struct zd_nd_pfn_check *out)
{
	static const struct zd_nd_pfn_validate_ctx no_ctx;
	struct zd_nd_pfn_info *i = &out->info;
	uint64_t page_size, struct_page, dax_aligns[ZD_ND_MAX_ALIGNS], stored, computed;
	enum zd_nd_pfn_kind kind;
	char a[ZD_UUID_STR_LEN], b[ZD_UUID_STR_LEN];

	memset(out, 0, sizeof(*out));
	for (int r = 1; r <= ZD_ND_NR_RULES; r++)
		out->rules[r - 1].rule = r;

	/* Rule 1: something to validate, on a memory (pmem) region. */
	if (!sb) {
		fail_rule(out, 1, -ENODEV, "no info block buffer");
		for (int r = 2; r <= ZD_ND_NR_RULES; r++)
			skip_rule(out, r, 0, "no info block");
		return;
	}
	if (!ctx) {
		fail_rule(out, 1, -ENODEV, "no namespace");
		ctx = &no_ctx;
		knows = 0;
	} else if (!(knows & ZD_ND_KNOWS_REGION)) {
		skip_rule(out, 1, ZD_ND_KNOWS_REGION, "whether the parent region is pmem is not known");
	} else if (ctx->region_not_memory) {
		fail_rule(out, 1, -ENODEV, "parent region is not a pmem region");
	} else {
		PASS(out, 1, "a block and a namespace of a pmem region");
	}

	page_size = or_default(ctx->page_size, 4096);
	struct_page = or_default(ctx->struct_page_size, ZD_ND_MAX_STRUCT_PAGE_SIZE);
	if (ctx->dax_aligns[0]) {
		memcpy(dax_aligns, ctx->dax_aligns, sizeof(dax_aligns));
	} else {
		dax_aligns[0] = page_size;
		dax_aligns[1] = SZ_2M;
		dax_aligns[2] = SZ_1G;
		dax_aligns[3] = 0;
	}

	/* Rule 2 (the read) belongs to whoever filled sb. */
	PASS(out, 2, "the block is in memory");

	check_signature(out, sb, ctx, knows, &kind);

	/* Rule 4: Fletcher-64 over the block with its checksum field zeroed. */
	stored = zd_le64_get(&sb->checksum);
	computed = zd_nd_sb_checksum_const(sb);
	if (stored != computed)
		fail_rule(out, 4, -ENODEV, "checksum mismatch (stored 0x%llx, computed 0x%llx)",
			  (unsigned long long)stored, (unsigned long long)computed);
	else
		PASS(out, 4, "0x%llx", (unsigned long long)stored);

	/* Rule 5: the block belongs to this namespace. */
	if (!(knows & ZD_ND_KNOWS_PARENT))
		skip_rule(out, 5, ZD_ND_KNOWS_PARENT, "needs the namespace uuid");
	else if (memcmp(sb->parent_uuid, ctx->parent_uuid, 16))
		fail_rule(out, 5, -ENODEV, "parent_uuid %s is not the namespace uuid %s",
			  zd_nd_uuid_format(sb->parent_uuid, a), zd_nd_uuid_format(ctx->parent_uuid, b));
	else
		PASS(out, 5, "%s", zd_nd_uuid_format(sb->parent_uuid, a));

	/* Rules 6 and 8: minor-version defaults, derived alignment. */
	zd_nd_pfn_decode(sb, page_size, i);
	note_defaults(out, i);

	/* Rule 7: a memmap location we know. */
	if (i->mode != ZD_PFN_MODE_RAM && i->mode != ZD_PFN_MODE_PMEM)
		fail_rule(out, 7, -ENXIO, "mode %u is neither ram (1) nor pmem (2)", (unsigned)i->mode);
	else
		PASS(out, 7, "%u: %s (map=%s)", (unsigned)i->mode, zd_nd_pfn_mode_name(i->mode),
		     i->mode == ZD_PFN_MODE_PMEM ? "dev" : "mem");

	if (i->align_derived)
		INFO(out, 8, "align 0 on media: 1 << ilog2(dataoff 0x%llx) = 0x%llx",
		     (unsigned long long)i->dataoff, (unsigned long long)i->align);
	else
		INFO(out, 8, "align 0x%llx recorded", (unsigned long long)i->align);

	/* Rules 9-10: a memmap in pmem laid out for bigger pages or smaller
	 * struct pages than this kernel's cannot be used. */
	if (i->mode != ZD_PFN_MODE_PMEM)
		PASS(out, 9, "not map=dev: the memmap is not in the namespace");
	else if (i->page_size > page_size)
		fail_rule(out, 9, -EOPNOTSUPP, "page size mismatch (block %u, PAGE_SIZE %llu)",
			  i->page_size, (unsigned long long)page_size);
	else
		PASS(out, 9, "page_size %u <= PAGE_SIZE %llu", i->page_size,
		     (unsigned long long)page_size);
	if (i->mode != ZD_PFN_MODE_PMEM)
		PASS(out, 10, "not map=dev: the memmap is not in the namespace");
	else if (i->page_struct_size < struct_page)
		fail_rule(out, 10, -EOPNOTSUPP,
			  "struct page size mismatch (block %u, sizeof(struct page) %llu)",
			  i->page_struct_size, (unsigned long long)struct_page);
	else
		PASS(out, 10, "page_struct_size %u >= sizeof(struct page) %llu", i->page_struct_size,
		     (unsigned long long)struct_page);

	/* Rule 11: device-dax only maps at a supported fault size. */
	if (kind != ZD_ND_DEVDAX)
		PASS(out, 11, "not devdax: no fault size to match");
	else if (!supported_alignment(i->align, dax_aligns))
		fail_rule(out, 11, -EOPNOTSUPP, "alignment mismatch (dax align 0x%llx is not supported)",
			  (unsigned long long)i->align);
	else
		PASS(out, 11, "align 0x%llx is a supported fault size", (unsigned long long)i->align);

	check_instance(out, sb, ctx, i);
	check_geometry(out, ctx, knows, i, page_size);
}

int zd_nd_pfn_validate(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_validate_ctx *ctx,
		       struct zd_nd_pfn_info *out, char *why, size_t whylen)
{
	struct zd_nd_pfn_check c;

	zd_nd_pfn_check_rules(sb, ctx, ZD_ND_KNOWS_ALL, &c);
	if (why && whylen)
		snprintf(why, whylen, "%s", c.first_fail ? c.rules[c.first_fail - 1].detail : "");
	if (c.first_fail)
		return c.err;
	if (out)
		*out = c.info;
	return 0;
}
