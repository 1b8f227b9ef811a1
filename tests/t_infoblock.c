/*
 * What a pfn / dax info block is: the on-media layout of struct nd_pfn_sb,
 * Fletcher-64 and the block checksum, uuid text, the six blocks a real
 * Linux 6.1 kernel wrote (parse, checksum, validate, reproduce byte for
 * byte, read-infoblock JSON), and the sizing table of devices.md §2.5 with
 * the inputs it refuses.
 * Why: a block we write must be one the kernel accepts, and a block the
 * kernel wrote must read back exactly; the golden blocks pin both
 * directions to real bytes rather than to our reading of the spec.
 * The validation rules, byte flips, pgmap arithmetic and file I/O are in
 * t_infoblock_rules.c. Golden data: tests/data/kernel-infoblocks (a missing file fails).
 */
#include <zonedev/nd_pfn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

static char why[256];

/* ------------------------------------------------------------ golden data */

static void golden_params(const struct tap_golden *g, struct zd_nd_pfn_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = g->kind;
	p->map = g->map;
	p->align = g->align;
	p->start = TAP_ND_REGION_BASE;
	p->size = TAP_ND_REGION_SIZE;
	tap_must_uuid(g->uuid, p->uuid);
	tap_must_uuid(g->parent_uuid, p->parent_uuid);
}

/* Print every field where two blocks differ (tells which formula is off). */
static void diff_blocks(const struct zd_nd_pfn_sb *want, const struct zd_nd_pfn_sb *got)
{
	static const struct { const char *name; size_t off, len; } f[] = {
#define F(x) { #x, offsetof(struct zd_nd_pfn_sb, x), sizeof(((struct zd_nd_pfn_sb *)0)->x) }
		F(signature), F(uuid), F(parent_uuid), F(flags), F(version_major),
		F(version_minor), F(dataoff), F(npfns), F(mode), F(start_pad), F(end_trunc),
		F(align), F(page_size), F(page_struct_size), F(padding), F(checksum),
#undef F
	};
	const unsigned char *a = (const void *)want, *b = (const void *)got;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!memcmp(a + f[i].off, b + f[i].off, f[i].len))
			continue;
		if (f[i].len <= 8) {
			uint64_t x = 0, y = 0;

			memcpy(&x, a + f[i].off, f[i].len);
			memcpy(&y, b + f[i].off, f[i].len);
			diag("  field %s differs: kernel %#llx, ours %#llx", f[i].name,
			     (unsigned long long)x, (unsigned long long)y);
		} else {
			diag("  field %s differs", f[i].name);
		}
	}
}

static void test_golden(void)
{
	const char *dir = tap_golden_dir();

	if (!dir) {
		fail("kernel-written info blocks missing from tests/data/kernel-infoblocks (ZD_SRCDIR=%s)", getenv("ZD_SRCDIR") ? getenv("ZD_SRCDIR") : ".");
		return;
	}
	diag("golden blocks from %s", dir);
	for (size_t i = 0; i < tap_nr_goldens; i++) {
		const struct tap_golden *g = &tap_goldens[i];
		struct zd_nd_pfn_sb sb, ours;
		struct zd_nd_pfn_params p;
		struct zd_nd_pfn_validate_ctx c;
		struct zd_nd_pfn_info info;
		uint8_t u[16];
		int rc;

		if (!ok(tap_load_block(dir, g->file, &sb), "%s: 4096 bytes read", g->file))
			continue;
		ok(!memcmp(sb.signature, g->kind == ZD_ND_DEVDAX ? "NVDIMM_DAX_INFO" : "NVDIMM_PFN_INFO", 16),
		   "%s: signature", g->file);
		is_u64(zd_nd_sb_checksum(&sb), zd_le64_get(&sb.checksum), "%s: checksum valid", g->file);
		tap_must_uuid(g->uuid, u);
		ok(!memcmp(sb.uuid, u, 16), "%s: uuid is %s", g->file, g->uuid);

		tap_golden_ctx(g, &c);
		rc = zd_nd_pfn_validate(&sb, &c, &info, why, sizeof(why));
		if (!is_int(rc, 0, "%s: validates against its parent uuid", g->file))
			diag("  why: %s", why);
		diag("%s: version %u.%u dataoff %#llx npfns %llu align %#llx mode %s end_trunc %#x page_size %u page_struct_size %u",
		     g->file, info.version_major, info.version_minor,
		     (unsigned long long)info.dataoff, (unsigned long long)info.npfns,
		     (unsigned long long)info.align, zd_nd_pfn_mode_name(info.mode), info.end_trunc,
		     info.page_size, info.page_struct_size);
		ok(info.version_major == 1 && info.version_minor == 4, "%s: version 1.4", g->file);
		is_u64(info.dataoff, g->dataoff, "%s: dataoff", g->file);
		is_u64(info.npfns, g->npfns, "%s: npfns", g->file);
		is_u64(info.align, g->align, "%s: align", g->file);
		is_int(info.mode, g->map, "%s: mode", g->file);
		ok(info.start_pad == 0 && info.end_trunc == 0, "%s: no start_pad/end_trunc", g->file);
		is_int(info.page_struct_size, 64, "%s: page_struct_size 64 (6.1 stable)", g->file);

		/* The other kind's signature or another namespace: no block here. */
		c.kind = g->kind == ZD_ND_DEVDAX ? ZD_ND_FSDAX : ZD_ND_DEVDAX;
		is_int(zd_nd_pfn_validate(&sb, &c, NULL, why, sizeof(why)), -ENODEV,
		       "%s: probed as the other kind: -ENODEV", g->file);
		tap_golden_ctx(g, &c);
		c.parent_uuid[15] ^= 1;
		is_int(zd_nd_pfn_validate(&sb, &c, NULL, why, sizeof(why)), -ENODEV,
		       "%s: another namespace uuid: -ENODEV", g->file);
		/* Second probe of the bound instance. */
		tap_golden_ctx(g, &c);
		c.adopted = true;
		memcpy(c.adopted_uuid, u, 16);
		c.adopted_align = g->align;
		c.adopted_mode = g->map;
		is_int(zd_nd_pfn_validate(&sb, &c, NULL, why, sizeof(why)), 0,
		       "%s: second probe with the adopted settings", g->file);

		golden_params(g, &p);
		rc = zd_nd_pfn_init_sb(&ours, &p, why, sizeof(why));
		if (!is_int(rc, 0, "%s: fresh block with the same inputs", g->file))
			diag("  why: %s", why);
		if (!ok(!memcmp(&ours, &sb, sizeof(sb)), "%s: identical 4096 bytes, checksum included",
			g->file))
			diff_blocks(&sb, &ours);
	}
}

static void test_golden_json(void)
{
	const char *dir = tap_golden_dir();
	struct zd_nd_pfn_sb sb;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	static const char want[] =
		"{\n"
		"  \"file\":\"fsdax-dev.infoblock.bin\",\n"
		"  \"signature\":\"NVDIMM_PFN_INFO\",\n"
		"  \"uuid\":\"ec094fe8-1049-456b-884d-fe695d359ed0\",\n"
		"  \"parent_uuid\":\"66f03805-c073-4165-9b0b-1d8c7b0a0307\",\n"
		"  \"flags\":0,\n"
		"  \"version\":\"1.4\",\n"
		"  \"dataoff\":136314880,\n"
		"  \"npfns\":2063872,\n"
		"  \"mode\":2,\n"
		"  \"start_pad\":0,\n"
		"  \"end_trunc\":0,\n"
		"  \"align\":2097152,\n"
		"  \"page_size\":4096,\n"
		"  \"page_struct_size\":64\n"
		"}\n";

	if (!dir || !tap_load_block(dir, "fsdax-dev.infoblock.bin", &sb)) {
		fail("kernel-written info blocks missing from tests/data/kernel-infoblocks (ZD_SRCDIR=%s)", getenv("ZD_SRCDIR") ? getenv("ZD_SRCDIR") : ".");
		return;
	}
	f = open_memstream(&buf, &len);
	if (!ok(f != NULL, "memstream"))
		return;
	int n = zd_nd_pfn_sb_dump_json(f, &sb, "fsdax-dev.infoblock.bin");
	fclose(f);
	ok(n > 0 && (size_t)n == len, "dump_json returns the byte count (%d, %zu)", n, len);
	if (!ok(buf && !strcmp(buf, want), "read-infoblock JSON of fsdax-dev"))
		diag("got:\n%s", buf ? buf : "(null)");
	free(buf);
}

/* ------------------------------------------------------------ layout, fletcher, uuid */

static void test_layout(void)
{
	is_int(sizeof(struct zd_nd_pfn_sb), 4096, "sizeof(struct zd_nd_pfn_sb) == 4096");
	is_int(offsetof(struct zd_nd_pfn_sb, signature), 0, "signature at 0");
	is_int(offsetof(struct zd_nd_pfn_sb, uuid), 16, "uuid at 16");
	is_int(offsetof(struct zd_nd_pfn_sb, parent_uuid), 32, "parent_uuid at 32");
	is_int(offsetof(struct zd_nd_pfn_sb, flags), 48, "flags at 48");
	is_int(offsetof(struct zd_nd_pfn_sb, version_major), 52, "version_major at 52");
	is_int(offsetof(struct zd_nd_pfn_sb, version_minor), 54, "version_minor at 54");
	is_int(offsetof(struct zd_nd_pfn_sb, dataoff), 56, "dataoff at 56");
	is_int(offsetof(struct zd_nd_pfn_sb, npfns), 64, "npfns at 64");
	is_int(offsetof(struct zd_nd_pfn_sb, mode), 72, "mode at 72");
	is_int(offsetof(struct zd_nd_pfn_sb, start_pad), 76, "start_pad at 76");
	is_int(offsetof(struct zd_nd_pfn_sb, end_trunc), 80, "end_trunc at 80");
	is_int(offsetof(struct zd_nd_pfn_sb, align), 84, "align at 84");
	is_int(offsetof(struct zd_nd_pfn_sb, page_size), 88, "page_size at 88");
	is_int(offsetof(struct zd_nd_pfn_sb, page_struct_size), 92, "page_struct_size at 92");
	is_int(offsetof(struct zd_nd_pfn_sb, padding), 94, "padding at 94");
	is_int(sizeof(((struct zd_nd_pfn_sb *)0)->padding), 3994, "padding is 3994 bytes");
	is_int(offsetof(struct zd_nd_pfn_sb, checksum), 4088, "checksum at 4088");

	/* Fields land little-endian at their offsets. */
	struct zd_nd_pfn_sb sb;
	const unsigned char *b = (const void *)&sb;

	memset(&sb, 0, sizeof(sb));
	zd_le64_put(&sb.dataoff, 0x0102030405060708ULL);
	zd_le16_put(&sb.page_struct_size, 0x4142);
	ok(b[56] == 0x08 && b[63] == 0x01 && b[92] == 0x42 && b[93] == 0x41,
	   "dataoff and page_struct_size are stored little-endian");
}

static void test_fletcher(void)
{
	/* Words 1, 2, 3: lo = 1, 3, 6; hi = 1, 4, 10 → 10 << 32 | 6. */
	static const unsigned char w123[12] = { 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0 };
	/* 0xffffffff then 2: lo = ffffffff, 1 (wraps); hi = ffffffff, 1_0000_0000 → 0 << 32 | 1. */
	static const unsigned char wrap[8] = { 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0 };
	/* "abcd" "efgh" = 0x64636261, 0x68676665:
	 * lo = 0x64636261, 0xcccac8c6; hi = 0x64636261, 0x1312e2b27 → 0x312e2b27cccac8c6. */
	static const char abcd[] = "abcdefgh";
	unsigned char odd[13];

	is_u64(zd_nd_fletcher64(w123, sizeof(w123), true), 0x0000000a00000006ULL, "fletcher64 of 1,2,3");
	is_u64(zd_nd_fletcher64(wrap, sizeof(wrap), true), 0x0000000000000001ULL,
	       "fletcher64: lo wraps mod 2^32, hi keeps its low 32 bits");
	is_u64(zd_nd_fletcher64(abcd, 8, true), 0x312e2b27cccac8c6ULL, "fletcher64 of \"abcdefgh\"");
	is_u64(zd_nd_fletcher64(w123, 0, true), 0, "fletcher64 of nothing is 0");
	memcpy(odd, w123, 12);
	odd[12] = 0x77;
	is_u64(zd_nd_fletcher64(odd, 13, true), 0x0000000a00000006ULL,
	       "a trailing partial word is ignored");
	is_u64(zd_nd_fletcher64(w123, sizeof(w123), false), 0x0000000a00000006ULL,
	       "native-endian words on this little-endian host");

	/* Block checksum: zeroed while computing, restored after. */
	struct zd_nd_pfn_sb sb;
	memset(&sb, 0, sizeof(sb));
	sb.signature[0] = 1;          /* word 0 = 1: lo = 1 for all 1024 words, hi = 1024 */
	sb.checksum = 0x1122334455667788ULL;
	is_u64(zd_nd_sb_checksum(&sb), 1024ULL << 32 | 1, "block checksum ignores the stored checksum");
	is_u64(sb.checksum, 0x1122334455667788ULL, "the stored checksum is restored");
}

static void test_uuid(void)
{
	uint8_t u[16], v[16];
	char s[ZD_UUID_STR_LEN];

	ok(zd_nd_uuid_parse("ec094fe8-1049-456b-884d-fe695d359ed0", u) == 0 && u[0] == 0xec &&
	   u[3] == 0xe8 && u[4] == 0x10 && u[15] == 0xd0, "uuid parse: bytes in text order");
	ok(!strcmp(zd_nd_uuid_format(u, s), "ec094fe8-1049-456b-884d-fe695d359ed0"), "uuid format round trip");
	ok(zd_nd_uuid_parse("EC094FE8-1049-456B-884D-FE695D359ED0", v) == 0 && !memcmp(u, v, 16),
	   "upper case parses the same");
	is_int(zd_nd_uuid_parse("ec094fe8-1049-456b-884d-fe695d359ed", v), -EINVAL, "short uuid: -EINVAL");
	is_int(zd_nd_uuid_parse("ec094fe8x1049-456b-884d-fe695d359ed0", v), -EINVAL, "bad dash: -EINVAL");
	is_int(zd_nd_uuid_parse("ec094fe8-1049-456b-884d-fe695d359eg0", v), -EINVAL, "bad hex: -EINVAL");
}

/* ------------------------------------------------------------ sizing */

static void test_sizing_table(void)
{
	static const struct {
		enum zd_nd_pfn_kind kind;
		enum zd_nd_pfn_mode map;
		uint64_t align, dataoff, npfns;
		const char *name;
	} rows[] = {
		{ ZD_ND_FSDAX, ZD_ND_MAP_DEV, 4 * K, 0x10200000, 4128256, "dev 4K" },
		{ ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M, 0x10200000, 4128256, "dev 2M" },
		{ ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G, 0x40000000, 3932160, "dev 1G" },
		{ ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M, 0x200000, 4193792, "mem 2M" },
		{ ZD_ND_DEVDAX, ZD_ND_MAP_MEM, 1 * G, 0x40000000, 3932160, "mem 1G" },
	};
	struct zd_nd_pfn_params p;
	struct zd_nd_pfn_sb sb;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tap_nd_table_params(&p, rows[i].kind, rows[i].map, rows[i].align);
		if (!is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), 0, "§2.5 %s: sized", rows[i].name))
			diag("  why: %s", why);
		is_u64(zd_le64_get(&sb.dataoff), rows[i].dataoff, "§2.5 %s: dataoff", rows[i].name);
		is_u64(zd_le64_get(&sb.npfns), rows[i].npfns, "§2.5 %s: npfns", rows[i].name);
		is_u64(zd_le32_get(&sb.align), rows[i].align, "§2.5 %s: the requested align is stored",
		       rows[i].name);
		is_int(zd_le32_get(&sb.mode), rows[i].map, "§2.5 %s: mode", rows[i].name);
		ok(zd_le16_get(&sb.version_major) == 1 && zd_le16_get(&sb.version_minor) == 4 &&
		   zd_le32_get(&sb.page_size) == 4096 && zd_le16_get(&sb.page_struct_size) == 64 &&
		   sb.start_pad == 0 && sb.end_trunc == 0 && sb.flags == 0,
		   "§2.5 %s: version 1.4, page_size 4096, page_struct_size 64, no padding", rows[i].name);
		is_u64(zd_nd_sb_checksum(&sb), zd_le64_get(&sb.checksum), "§2.5 %s: checksum", rows[i].name);
	}

	/* end_trunc: a namespace whose end is not align-aligned. */
	tap_nd_table_params(&p, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
	p.size = 16 * G + 6 * M;
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le32_get(&sb.end_trunc) == 6 * M &&
	   zd_le64_get(&sb.npfns) == 15 * G / 4096,
	   "1G align on 16G+6M: end_trunc 6M, npfns 15G/4K (got end_trunc %#x)",
	   zd_le32_get(&sb.end_trunc));
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 4 * K);
	p.size = 16 * G + 6 * M + 4 * K;
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le32_get(&sb.end_trunc) == 4 * K,
	   "4K align uses A = compat 2M: end_trunc 4K (got %#x)", zd_le32_get(&sb.end_trunc));

	/* Errors. */
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
	p.start += 1 * M;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -EINVAL, "start not 2M aligned: -EINVAL");
	ok(strstr(why, "misaligned") != NULL, "  why: %s", why);
	/* nd_pfn_supported_alignments() is shared by pfn and dax claims. */
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 1 * G);
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le32_get(&sb.align) == 1 * G &&
	   zd_le64_get(&sb.dataoff) == 1 * G, "fsdax align 1G is accepted (dataoff 1G), as the kernel does");
	p.no_pud_thp = true;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -EOPNOTSUPP,
	       "fsdax align 1G without PUD-sized THP: -EOPNOTSUPP");
	tap_nd_table_params(&p, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 64 * K);
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -EOPNOTSUPP, "devdax align 64K: -EOPNOTSUPP");
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 0);
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le32_get(&sb.align) == 2 * M,
	   "align 0 means the PMD default");
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_PFN_MODE_NONE, 2 * M);
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -ENXIO, "map none: -ENXIO");
	tap_nd_table_params(&p, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
	p.size = 1 * G;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -ENXIO, "1G align on a 1G namespace: -ENXIO");
	ok(strstr(why, "unable to satisfy requested alignment") != NULL, "  why: %s", why);
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M);
	p.size = 8 * M;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -ENXIO, "8 MiB namespace: -ENXIO");
	tap_nd_table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
	p.struct_page_size = 80;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -EINVAL, "80-byte struct page, map=dev: -EINVAL");
	ok(strstr(why, "Memory debug options") != NULL, "  why: %s", why);
	p.nvdimm_kmsan = true;
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le16_get(&sb.page_struct_size) == 80 &&
	   zd_le64_get(&sb.dataoff) == 0x14200000ULL,
	   "NVDIMM_KMSAN budgets and records 80 bytes (dataoff %#llx)",
	   (unsigned long long)zd_le64_get(&sb.dataoff));
	p.map = ZD_ND_MAP_MEM;
	p.nvdimm_kmsan = false;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), 0, "80-byte struct page, map=mem: fine");
}

int main(void)
{
	test_layout();
	test_fletcher();
	test_uuid();
	test_golden();
	test_golden_json();
	test_sizing_table();
	return done_testing();
}
