/*
 * When a pfn / dax info block is refused, and what an accepted one maps to:
 * every validation rule of devices.md §2.4 with its errno and "rule N"
 * reason (with positive controls and boundaries), every rule evaluated on
 * its own with missing context skipped (zd_nd_pfn_check_rules), single-byte corruption of
 * generated and kernel-written blocks, the __nvdimm_setup_pfn arithmetic
 * that turns a block into a pgmap layout (altmap base, reserve and free,
 * start_pad/end_trunc, 64K pages, map=mem), and the block on a file
 * (init, read, validate, short reads).
 * Why: a block accepted wrongly puts a memmap over user data; one refused
 * for the wrong reason sends the operator after the wrong fix.
 * The block's layout, checksum, golden blocks and sizing are in
 * t_infoblock.c. Golden data: tests/data/kernel-infoblocks (a missing file fails).
 */
#include <zonedev/nd_pfn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

#define REGION_BASE TAP_ND_REGION_BASE
#define REGION_SIZE TAP_ND_REGION_SIZE

static char why[256];

static bool why_names(const char *rule)
{
	size_t n = strlen(rule);

	return strncmp(why, rule, n) == 0 && why[n] == ':';
}

/* ------------------------------------------------------------ validation rules */

/* A fresh valid block: 8 GiB at 4 GiB, like the golden ones. */
static void make_block(struct zd_nd_pfn_sb *sb, struct zd_nd_pfn_validate_ctx *c,
		       enum zd_nd_pfn_kind kind, enum zd_nd_pfn_mode map, uint64_t align)
{
	struct zd_nd_pfn_params p;

	memset(&p, 0, sizeof(p));
	p.kind = kind;
	p.map = map;
	p.align = align;
	p.start = REGION_BASE;
	p.size = REGION_SIZE;
	tap_must_uuid("0a0b0c0d-1111-4222-8333-444455556666", p.uuid);
	tap_must_uuid("f0e0d0c0-aaaa-4bbb-8ccc-ddddeeeeffff", p.parent_uuid);
	if (zd_nd_pfn_init_sb(sb, &p, why, sizeof(why))) {
		fprintf(stderr, "make_block: %s\n", why);
		exit(2);
	}
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	memcpy(c->parent_uuid, p.parent_uuid, 16);
	c->start = REGION_BASE;
	c->size = REGION_SIZE;
}

static void expect(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_validate_ctx *c,
		   int err, const char *rule, const char *what)
{
	int rc = zd_nd_pfn_validate(sb, c, NULL, why, sizeof(why));

	is_int(rc, err, "%s: %s", rule, what);
	if (!ok(why_names(rule), "  reason names %s: %s", rule, why))
		diag("  rc %d", rc);
}

static void test_rules(void)
{
	struct zd_nd_pfn_sb sb, base;
	struct zd_nd_pfn_validate_ctx c, bc;
	struct zd_nd_pfn_info info;

	/* Positive control. */
	make_block(&base, &bc, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 4 * K);
	is_int(zd_nd_pfn_validate(&base, &bc, &info, why, sizeof(why)), 0, "control block validates");
	ok(why[0] == '\0', "no reason on success");

	/* 1 */
	expect(NULL, &bc, -ENODEV, "rule 1", "no buffer");
	expect(&base, NULL, -ENODEV, "rule 1", "no namespace");
	c = bc;
	c.region_not_memory = true;
	expect(&base, &c, -ENODEV, "rule 1", "region is not pmem");

	/* 3 */
	sb = base;
	sb.signature[7] = 'X';
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -ENODEV, "rule 3", "corrupt signature");
	c = bc;
	c.kind = ZD_ND_DEVDAX;
	expect(&base, &c, -ENODEV, "rule 3", "pfn block probed for dax");
	memcpy(sb.signature, "BTT_ARENA_INFO\0\0", 16);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -ENODEV, "rule 3", "a BTT block");

	/* 4 */
	sb = base;
	zd_le64_put(&sb.npfns, zd_le64_get(&sb.npfns) + 1);
	expect(&sb, &bc, -ENODEV, "rule 4", "npfns changed without a new checksum");
	ok(strstr(why, "stored 0x") && strstr(why, "computed 0x"), "  reason has both values");
	sb = base;
	sb.checksum ^= 1;
	expect(&sb, &bc, -ENODEV, "rule 4", "checksum itself changed");

	/* 5 */
	sb = base;
	sb.parent_uuid[0] ^= 0x80;
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -ENODEV, "rule 5", "parent_uuid of another namespace");

	/* 6: fields unknown to the writer's minor are defaulted. */
	sb = base;
	zd_le32_put(&sb.page_size, 64 * K);       /* would break rule 9 ... */
	zd_le16_put(&sb.page_struct_size, 16);     /* ... and rule 10 */
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 9", "minor 4 honours page_size");
	zd_le16_put(&sb.version_minor, 3);
	zd_nd_sb_set_checksum(&sb);
	is_int(zd_nd_pfn_validate(&sb, &bc, &info, why, sizeof(why)), 0,
	       "rule 6: minor 3 ignores page_size/page_struct_size (%s)", why);
	ok(info.page_size == 4096 && info.page_struct_size == 64,
	   "rule 6: defaulted to PAGE_SIZE and 64 (%u, %u)", info.page_size, info.page_struct_size);
	sb = base;
	zd_le32_put(&sb.start_pad, 4 * K);         /* would break rule 16 */
	zd_le32_put(&sb.end_trunc, 4 * K);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 16", "minor 4 honours start_pad");
	zd_le16_put(&sb.version_minor, 0);
	zd_nd_sb_set_checksum(&sb);
	/* minor 0 also drops align: derived 1 << ilog2(130M) = 128M breaks rule 15 */
	expect(&sb, &bc, -EOPNOTSUPP, "rule 15", "minor 0: paddings ignored, align derived from dataoff");
	{
		struct zd_nd_pfn_sb m;
		struct zd_nd_pfn_validate_ctx mc;

		make_block(&m, &mc, ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M);
		zd_le32_put(&m.start_pad, 4 * K);
		zd_le32_put(&m.end_trunc, 4 * K);
		zd_le32_put(&m.align, 12345);
		zd_le16_put(&m.version_minor, 0);
		zd_nd_sb_set_checksum(&m);
		is_int(zd_nd_pfn_validate(&m, &mc, &info, why, sizeof(why)), 0,
		       "rule 6: minor 0 block validates (%s)", why);
		ok(info.start_pad == 0 && info.end_trunc == 0 && info.align == 2 * M && info.align_derived,
		   "rule 6/8: start_pad, end_trunc zero; align derived 2M (%#llx)",
		   (unsigned long long)info.align);
		zd_le16_put(&m.version_minor, 1);
		zd_nd_sb_set_checksum(&m);
		/* minor 1 honours start_pad: data start 4K off the derived 2M align */
		expect(&m, &mc, -EOPNOTSUPP, "rule 15", "minor 1 honours start_pad");
	}

	/* 7 */
	sb = base;
	zd_le32_put(&sb.mode, ZD_PFN_MODE_NONE);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -ENXIO, "rule 7", "mode none");
	zd_le32_put(&sb.mode, 3);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -ENXIO, "rule 7", "mode 3");

	/* 8: align 0 on a minor-4 block is derived too. */
	sb = base;
	zd_le32_put(&sb.align, 0);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 15", "rule 8 derives 128M from dataoff 130M, misaligned");
	sb = base;
	zd_le32_put(&sb.align, 0);
	zd_le64_put(&sb.dataoff, 128 * M);
	zd_nd_sb_set_checksum(&sb);
	ok(zd_nd_pfn_validate(&sb, &bc, &info, why, sizeof(why)) == 0 && info.align == 128 * M,
	   "rule 8: dataoff 128M gives align 128M (%s)", why);
	sb = base;
	zd_le32_put(&sb.align, 0);
	zd_le64_put(&sb.dataoff, 0);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 13", "rule 8 with dataoff 0 yields 1<<63");

	/* 9 */
	sb = base;
	zd_le32_put(&sb.page_size, 64 * K);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 9", "pmem block written with 64K pages");
	{
		struct zd_nd_pfn_sb m;
		struct zd_nd_pfn_validate_ctx mc;

		make_block(&m, &mc, ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M);
		zd_le32_put(&m.page_size, 64 * K);
		zd_nd_sb_set_checksum(&m);
		is_int(zd_nd_pfn_validate(&m, &mc, NULL, why, sizeof(why)), 0,
		       "rule 9 only applies to map=dev (%s)", why);
	}

	/* 10 */
	sb = base;
	zd_le16_put(&sb.page_struct_size, 56);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 10", "block budgeted 56-byte struct pages");
	c = bc;
	c.struct_page_size = 128;
	expect(&base, &c, -EOPNOTSUPP, "rule 10", "kernel with a 128-byte struct page");

	/* 11 */
	{
		struct zd_nd_pfn_sb d;
		struct zd_nd_pfn_validate_ctx dc;

		make_block(&d, &dc, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 2 * M);
		is_int(zd_nd_pfn_validate(&d, &dc, NULL, why, sizeof(why)), 0, "devdax control validates");
		zd_le32_put(&d.align, 64 * K);
		zd_nd_sb_set_checksum(&d);
		expect(&d, &dc, -EOPNOTSUPP, "rule 11", "devdax align 64K");
		make_block(&d, &dc, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
		dc.dax_aligns[0] = 4 * K;
		dc.dax_aligns[1] = 2 * M;   /* no PUD THP */
		expect(&d, &dc, -EOPNOTSUPP, "rule 11", "devdax 1G without PUD support");
		sb = base;
		zd_le32_put(&sb.align, 64 * K);
		zd_nd_sb_set_checksum(&sb);
		is_int(zd_nd_pfn_validate(&sb, &bc, NULL, why, sizeof(why)), 0,
		       "rule 11 only applies to dax (%s)", why);
	}

	/* 12 */
	c = bc;
	c.adopted = true;
	memcpy(c.adopted_uuid, base.uuid, 16);
	c.adopted_align = 4 * K;
	c.adopted_mode = ZD_PFN_MODE_PMEM;
	is_int(zd_nd_pfn_validate(&base, &c, NULL, why, sizeof(why)), 0, "rule 12: matching settings");
	c.adopted_uuid[3] ^= 1;
	expect(&base, &c, -ENODEV, "rule 12", "another instance uuid");
	c.adopted_uuid[3] ^= 1;
	c.adopted_align = 2 * M;
	expect(&base, &c, -EOPNOTSUPP, "rule 12", "align changed behind the block");
	ok(strstr(why, "settings mismatch") != NULL, "  reason says settings mismatch");
	c.adopted_align = 4 * K;
	c.adopted_mode = ZD_PFN_MODE_RAM;
	expect(&base, &c, -EOPNOTSUPP, "rule 12", "mode changed behind the block");

	/* 13 */
	{
		struct zd_nd_pfn_sb d;
		struct zd_nd_pfn_validate_ctx dc;

		make_block(&d, &dc, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
		dc.size = 512 * M;
		expect(&d, &dc, -EOPNOTSUPP, "rule 13", "1G align on a 512M namespace");
		dc.size = REGION_SIZE;
		dc.capacity = 1 * G;
		is_int(zd_nd_pfn_validate(&d, &dc, NULL, why, sizeof(why)), 0,
		       "rule 13: align equal to the capacity is fine (%s)", why);
		dc.capacity = 1 * G - 4 * K;
		expect(&d, &dc, -EOPNOTSUPP, "rule 13", "capacity just below the 1G align");
	}

	/* 14 */
	c = bc;
	c.size = 128 * M;
	expect(&base, &c, -EOPNOTSUPP, "rule 14", "dataoff 130M on a 128M namespace");
	c.size = 130 * M;
	c.end = REGION_BASE + REGION_SIZE - 1;
	expect(&base, &c, -EOPNOTSUPP, "rule 14", "dataoff 130M on a 130M namespace (boundary)");

	/* 15 */
	make_block(&sb, &c, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
	c.start = REGION_BASE + 1 * M;
	expect(&sb, &c, -EOPNOTSUPP, "rule 15", "namespace moved by 1M under a 2M align");
	sb = base;
	zd_le32_put(&sb.align, 1 * K);
	zd_le64_put(&sb.dataoff, 130 * M + 1 * K);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 15", "dataoff aligned to align but not to a page");

	/* 16 */
	sb = base;
	zd_le32_put(&sb.start_pad, 4 * K);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 16", "start_pad 4K");
	{
		struct zd_nd_pfn_sb m;
		struct zd_nd_pfn_validate_ctx mc;
		struct zd_nd_pfn_params p;

		memset(&p, 0, sizeof(p));
		p.kind = ZD_ND_FSDAX;
		p.map = ZD_ND_MAP_DEV;
		p.align = 2 * M;
		p.start = REGION_BASE + 2 * M;
		p.size = REGION_SIZE - 2 * M;
		memcpy(p.parent_uuid, bc.parent_uuid, 16);
		ok(zd_nd_pfn_init_sb(&m, &p, why, sizeof(why)) == 0, "2M-aligned namespace sized");
		memset(&mc, 0, sizeof(mc));
		mc.kind = ZD_ND_FSDAX;
		memcpy(mc.parent_uuid, p.parent_uuid, 16);
		mc.start = p.start;
		mc.size = p.size;
		is_int(zd_nd_pfn_validate(&m, &mc, NULL, why, sizeof(why)), 0, "validates at 2M compat");
		mc.compat_align = 16 * M;   /* e.g. ppc64 */
		expect(&m, &mc, -EOPNOTSUPP, "rule 16", "start misaligned to a 16M compat align");
	}

	/* 17 */
	sb = base;
	zd_le32_put(&sb.end_trunc, 4 * K);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 17", "end_trunc 4K");
	c = bc;
	c.end = REGION_BASE + REGION_SIZE - 1 - 4 * K;
	expect(&base, &c, -EOPNOTSUPP, "rule 17", "resource end 4K short");

	/* 18 */
	sb = base;
	zd_le32_put(&sb.start_pad, 4 * G - 2 * M);
	zd_le32_put(&sb.end_trunc, 4 * G - 2 * M);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 18", "paddings leave 4M for a 130M dataoff");
	zd_le32_put(&sb.end_trunc, 0xf8000000u);
	zd_nd_sb_set_checksum(&sb);
	expect(&sb, &bc, -EOPNOTSUPP, "rule 18", "paddings leave exactly dataoff (boundary)");
	zd_le32_put(&sb.start_pad, 2 * M);
	zd_le32_put(&sb.end_trunc, 2 * M);
	zd_nd_sb_set_checksum(&sb);
	is_int(zd_nd_pfn_validate(&sb, &bc, &info, why, sizeof(why)), 0,
	       "legacy 2M start_pad/end_trunc still honoured (%s)", why);
}

/* Every rule on its own (zd_nd_pfn_check_rules): what an inspection tool
 * sees, including the rules after the kernel's first refusal and the ones
 * it cannot decide without namespace context. */
static void test_check_rules(void)
{
	struct zd_nd_pfn_sb sb, base;
	struct zd_nd_pfn_validate_ctx c, bc;
	struct zd_nd_pfn_check chk;
	int passes = 0, infos = 0;

	make_block(&base, &bc, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 2 * M);
	zd_nd_pfn_check_rules(&base, &bc, ZD_ND_KNOWS_ALL, &chk);
	for (int r = 1; r <= ZD_ND_NR_RULES; r++) {
		passes += chk.rules[r - 1].result == ZD_ND_RULE_PASS;
		infos += chk.rules[r - 1].result == ZD_ND_RULE_INFO;
	}
	ok(chk.first_fail == 0 && chk.err == 0 && passes == 16 && infos == 2,
	   "all context: 16 rules pass, 6 and 8 are info (first_fail %d)", chk.first_fail);
	is_u64(chk.info.dataoff, zd_le64_get(&base.dataoff), "decoded info comes back");

	/* Nothing known: the context rules are skipped, and say what they need. */
	memset(&c, 0, sizeof(c));
	zd_nd_pfn_check_rules(&base, &c, 0, &chk);
	ok(chk.first_fail == 0, "no context: nothing fails (%s)",
	   chk.first_fail ? chk.rules[chk.first_fail - 1].detail : "");
	is_int(chk.rules[2].result, ZD_ND_RULE_PASS, "no kind given: a dax signature passes rule 3");
	is_int(chk.info.kind, ZD_ND_DEVDAX, "  and makes the block devdax");
	is_int(chk.rules[10].result, ZD_ND_RULE_PASS, "  so rule 11 checks the dax align: %s",
	       chk.rules[10].detail);
	ok(chk.rules[0].result == ZD_ND_RULE_SKIPPED && chk.rules[0].needs == ZD_ND_KNOWS_REGION,
	   "rule 1 skipped for the region type");
	ok(chk.rules[4].result == ZD_ND_RULE_SKIPPED && chk.rules[4].needs == ZD_ND_KNOWS_PARENT,
	   "rule 5 skipped for the namespace uuid");
	for (int r = 13; r <= 18; r++) {
		unsigned want = r == 15 || r == 16 ? ZD_ND_KNOWS_START :
				r == 17 ? ZD_ND_KNOWS_START | ZD_ND_KNOWS_SIZE : ZD_ND_KNOWS_SIZE;

		ok(chk.rules[r - 1].result == ZD_ND_RULE_SKIPPED && chk.rules[r - 1].needs == want,
		   "rule %d skipped, needs 0x%x (got %d, 0x%x)", r, want, chk.rules[r - 1].result,
		   chk.rules[r - 1].needs);
	}

	/* Rule 15's page part needs no start: a misaligned dataoff fails anyway. */
	sb = base;
	zd_le64_put(&sb.dataoff, zd_le64_get(&sb.dataoff) + 512);
	zd_nd_sb_set_checksum(&sb);
	zd_nd_pfn_check_rules(&sb, &c, 0, &chk);
	ok(chk.first_fail == 15 && chk.err == -EOPNOTSUPP && !strncmp(chk.rules[14].detail, "rule 15:", 8),
	   "no start: dataoff off a page still fails rule 15 (%s)", chk.rules[14].detail);

	/* Neither signature, with no kind given. */
	sb = base;
	memcpy(sb.signature, "BTT_ARENA_INFO\0\0", 16);
	zd_nd_sb_set_checksum(&sb);
	zd_nd_pfn_check_rules(&sb, &c, 0, &chk);
	ok(chk.first_fail == 3 && chk.err == -ENODEV && strstr(chk.rules[2].detail, "neither"),
	   "a BTT block fails rule 3 as neither signature: %s", chk.rules[2].detail);

	/* Two faults: the kernel stops at the first, the later one is still found. */
	sb = base;
	zd_le32_put(&sb.align, 64 * K);
	c = bc;
	c.size = 64 * M;
	zd_nd_pfn_check_rules(&sb, &c, ZD_ND_KNOWS_ALL, &chk);
	ok(chk.first_fail == 4 && chk.err == -ENODEV, "stale checksum and a small namespace: "
	   "first failure is rule 4 (got %d)", chk.first_fail);
	ok(chk.rules[10].result == ZD_ND_RULE_FAIL && chk.rules[10].err == -EOPNOTSUPP &&
	   chk.rules[13].result == ZD_ND_RULE_FAIL && chk.rules[13].err == -EOPNOTSUPP,
	   "  rules 11 (64K dax align) and 14 (dataoff) fail too, after it");
	is_int(zd_nd_pfn_validate(&sb, &c, NULL, why, sizeof(why)), -ENODEV,
	       "  zd_nd_pfn_validate returns the first one's errno");
	ok(!strcmp(why, chk.rules[3].detail), "  and its reason: %s", why);

	/* The rule descriptions the tool prints. */
	ok(zd_nd_pfn_rule_desc(0) == NULL && zd_nd_pfn_rule_desc(ZD_ND_NR_RULES + 1) == NULL &&
	   !strcmp(zd_nd_pfn_rule_desc(4)->name, "checksum") &&
	   !strcmp(zd_nd_pfn_rule_desc(14)->errnos, "EOPNOTSUPP") &&
	   !strcmp(zd_nd_pfn_rule_desc(6)->errnos, ""), "rule descriptions by number");
}

/* Flip one byte at 64 positions of each valid block: always refused. */
static void flip_block(const struct zd_nd_pfn_sb *good, const struct zd_nd_pfn_validate_ctx *c,
		       const char *name)
{
	int bad = 0, tried = 0;

	for (int i = 0; i < 64; i++) {
		size_t pos = (size_t)i * 64 + (size_t)((i * 37) % 64);
		if (i == 1)
			pos = 94;    /* first padding byte */
		if (i == 62)
			pos = 4088;  /* checksum, low byte */
		if (i == 63)
			pos = 4095;  /* checksum, high byte */
		struct zd_nd_pfn_sb sb = *good;
		unsigned char *b = (unsigned char *)&sb;
		const char *rule = pos < 16 ? "rule 3" : "rule 4";
		int rc;

		b[pos] ^= (unsigned char)(1u << (i % 8));
		rc = zd_nd_pfn_validate(&sb, c, NULL, why, sizeof(why));
		tried++;
		if (rc != -ENODEV || !why_names(rule) ||
		    (pos >= 16 && zd_nd_sb_checksum(&sb) == zd_le64_get(&sb.checksum))) {
			bad++;
			diag("  %s: flip at %zu accepted or refused for another reason: rc %d, %s",
			     name, pos, rc, why);
		}
	}
	ok(bad == 0 && tried == 64, "%s: %d single-byte flips all refused (signature: rule 3, else checksum)",
	   name, tried);
}

static void test_flips(void)
{
	struct zd_nd_pfn_sb sb;
	struct zd_nd_pfn_validate_ctx c;
	const char *dir = tap_golden_dir();

	make_block(&sb, &c, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
	flip_block(&sb, &c, "generated fsdax block");
	make_block(&sb, &c, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
	flip_block(&sb, &c, "generated devdax block");
	if (!dir) {
		fail("kernel-written info blocks missing from tests/data/kernel-infoblocks (ZD_SRCDIR=%s)", getenv("ZD_SRCDIR") ? getenv("ZD_SRCDIR") : ".");
		return;
	}
	for (size_t i = 0; i < tap_nr_goldens; i++) {
		if (!tap_load_block(dir, tap_goldens[i].file, &sb))
			continue;
		tap_golden_ctx(&tap_goldens[i], &c);
		flip_block(&sb, &c, tap_goldens[i].file);
	}
}

/* ------------------------------------------------------------ pgmap layout */

static void test_pgmap_layout(void)
{
	struct zd_nd_pfn_params p;
	struct zd_nd_pfn_sb sb;
	struct zd_nd_pfn_info info;
	struct zd_nd_pfn_layout l;
	uint64_t start = 0x240000000ULL, end = start + 16 * G - 1;

	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0, "16G map=dev at 0x240000000");
	zd_nd_pfn_decode(&sb, 4096, &info);
	is_int(zd_nd_pfn_to_pgmap_layout(&info, start, end, 12, &l, why, sizeof(why)), 0, "layout");
	is_u64(l.range_start, start, "range start");
	is_u64(l.range_end, end, "range end");
	ok(l.has_altmap, "map=dev has an altmap");
	is_u64(l.base_pfn, 0x240000, "altmap base_pfn");
	is_u64(l.reserve, 2, "altmap reserve 2 (the 8K info area)");
	is_u64(l.free, 66046, "altmap free 66046");
	is_u64(l.reserve + l.free, 258 * M / 4096, "reserve + free = 258 MiB of pages");
	is_u64(l.end_pfn, end >> 12, "altmap end_pfn = PFN(end)");
	is_u64(l.alloc, 0, "altmap alloc 0");
	is_u64(l.npfns, 4128256, "npfns from the range");
	is_u64(l.data_start, start + 0x10200000, "sysfs resource");
	is_u64(l.data_size, 16 * G - 0x10200000, "sysfs size");

	/* A legacy start_pad of one page: reserve counts the pages below base. */
	info.start_pad = 4096;
	info.dataoff -= 4096;
	ok(zd_nd_pfn_to_pgmap_layout(&info, start, end, 12, &l, why, sizeof(why)) == 0 &&
	   l.base_pfn == 0x240000 && l.reserve == 3 && l.range_start == start + 4096,
	   "start_pad 4K: base_pfn subsection-aligned down, reserve 3 (got %llu)",
	   (unsigned long long)l.reserve);
	/* A legacy 64 MiB start_pad and end_trunc. */
	zd_nd_pfn_decode(&sb, 4096, &info);
	info.start_pad = 64 * M;
	info.end_trunc = 64 * M;
	ok(zd_nd_pfn_to_pgmap_layout(&info, start, end, 12, &l, why, sizeof(why)) == 0 &&
	   l.range_start == start + 64 * M && l.range_end == end - 64 * M &&
	   l.data_start == start + 64 * M + 0x10200000 && l.reserve == 2 &&
	   l.npfns == (16 * G - 128 * M - 0x10200000) / 4096 && l.npfns_truncated,
	   "start_pad/end_trunc 64M: range shrinks, npfns truncated");

	/* 64K pages: the info reserve rounds up to one page. */
	zd_nd_pfn_decode(&sb, 4096, &info);
	ok(zd_nd_pfn_to_pgmap_layout(&info, start, end, 16, &l, why, sizeof(why)) == 0 &&
	   l.reserve == 1 && l.free == (0x10200000 - 64 * K) >> 16,
	   "64K pages: reserve 1, free %llu", (unsigned long long)l.free);

	/* map=mem: no altmap, npfns from the block, dataoff >= 8K. */
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M);
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0, "16G map=mem");
	zd_nd_pfn_decode(&sb, 4096, &info);
	ok(zd_nd_pfn_to_pgmap_layout(&info, start, end, 12, &l, why, sizeof(why)) == 0 && !l.has_altmap &&
	   l.npfns == 4193792 && l.data_start == start + 2 * M, "map=mem layout");
	info.dataoff = 4096;
	is_int(zd_nd_pfn_to_pgmap_layout(&info, start, end, 12, &l, why, sizeof(why)), -EINVAL,
	       "map=mem with dataoff 4K: -EINVAL");
	info.dataoff = 8192;
	is_int(zd_nd_pfn_to_pgmap_layout(&info, start, end, 12, &l, why, sizeof(why)), 0,
	       "map=mem with dataoff 8K is enough");
	info.mode = ZD_PFN_MODE_NONE;
	is_int(zd_nd_pfn_to_pgmap_layout(&info, start, end, 12, &l, why, sizeof(why)), -ENXIO,
	       "mode none: -ENXIO");
}

/* ------------------------------------------------------------ file I/O */

static int tmpfile_of(uint64_t size)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/zd-infoblock-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, (off_t)size)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_fd(void)
{
	struct zd_nd_pfn_params p;
	struct zd_nd_pfn_validate_ctx c;
	struct zd_nd_pfn_sb sb, back;
	struct zd_nd_pfn_info info;
	bool created = false;
	uint64_t ns_off = 1 * M;   /* the namespace starts 1 MiB into the file */
	int fd = tmpfile_of(ns_off + 64 * M);

	if (!ok(fd >= 0, "temporary namespace file"))
		return;
	memset(&p, 0, sizeof(p));
	p.kind = ZD_ND_DEVDAX;
	p.map = ZD_ND_MAP_DEV;
	p.align = 2 * M;
	p.start = REGION_BASE;
	p.size = 64 * M;
	tap_must_uuid("12345678-9abc-4def-8123-456789abcdef", p.uuid);
	tap_must_uuid("fedcba98-7654-4321-8fed-cba987654321", p.parent_uuid);

	is_int(zd_nd_pfn_init_fd(fd, ns_off, &p, true, &info, &created, why, sizeof(why)), -ENXIO,
	       "no block on a read-only region: -ENXIO");
	is_int(zd_nd_pfn_init_fd(fd, ns_off, &p, false, &info, &created, why, sizeof(why)), 0,
	       "init on an empty namespace (%s)", why);
	ok(created, "a fresh block was written");
	ok(zd_nd_pfn_read_sb(fd, ns_off, &back, why, sizeof(why)) == 0 &&
	   zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && !memcmp(&sb, &back, sizeof(sb)),
	   "the bytes at namespace offset 4096 are the sized block");
	is_u64(info.dataoff, 2 * M, "64M map=dev: dataoff 2M (8K + 1M memmap, 2M aligned)");
	is_int(zd_nd_pfn_init_fd(fd, ns_off, &p, true, &info, &created, why, sizeof(why)), 0,
	       "second init uses the block, even read-only");
	ok(!created, "nothing written the second time");
	p.align = 4 * K;
	is_int(zd_nd_pfn_init_fd(fd, ns_off, &p, false, &info, &created, why, sizeof(why)), -EOPNOTSUPP,
	       "same uuid, other align: -EOPNOTSUPP (%s)", why);
	p.align = 2 * M;
	p.uuid[0] ^= 1;
	is_int(zd_nd_pfn_init_fd(fd, ns_off, &p, false, &info, &created, why, sizeof(why)), 0,
	       "another instance uuid: block rewritten");
	ok(created && zd_nd_pfn_read_sb(fd, ns_off, &back, why, sizeof(why)) == 0 && back.uuid[0] == p.uuid[0],
	   "the new uuid is on media");

	memset(&c, 0, sizeof(c));
	c.kind = ZD_ND_DEVDAX;
	memcpy(c.parent_uuid, p.parent_uuid, 16);
	c.start = p.start;
	c.size = p.size;
	is_int(zd_nd_pfn_validate_fd(fd, ns_off, &c, NULL, why, sizeof(why)), 0, "validate_fd");
	c.region_not_memory = true;
	is_int(zd_nd_pfn_validate_fd(fd, ns_off, &c, NULL, why, sizeof(why)), -ENODEV,
	       "validate_fd on a non-pmem region: -ENODEV");
	ok(why_names("rule 1"), "  reason names rule 1: %s", why);
	c.region_not_memory = false;

	/* Rule 2: the namespace ends inside the info block. */
	if (ftruncate(fd, (off_t)(ns_off + 4096 + 1000)) == 0) {
		is_int(zd_nd_pfn_validate_fd(fd, ns_off, &c, NULL, why, sizeof(why)), -ENXIO,
		       "rule 2: short read: -ENXIO");
		ok(why_names("rule 2"), "  reason names rule 2: %s", why);
	} else {
		skip("ftruncate failed");
	}
	close(fd);
	is_int(zd_nd_pfn_read_sb(fd, 0, &back, why, sizeof(why)), -ENXIO, "rule 2: read error: -ENXIO");
	ok(why_names("rule 2"), "  reason names rule 2: %s", why);
}

int main(void)
{
	test_rules();
	test_check_rules();
	test_flips();
	test_pgmap_layout();
	test_fd();
	return done_testing();
}
