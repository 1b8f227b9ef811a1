/*
 * pfn / dax info blocks: the on-media layout, Fletcher-64, the six blocks a
 * real Linux 6.1 kernel wrote (parse, checksum, validate, and reproduce
 * byte for byte), the sizing table of devices.md §2.5, every validation rule
 * of §2.4 with its errno and "rule N" reason, single-byte corruption, the
 * __nvdimm_setup_pfn arithmetic, file I/O and the read-infoblock JSON.
 */
#include <zonedev/err.h>
#include <zonedev/nd_pfn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tap.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

#define REGION_BASE 0x100000000ULL
#define REGION_SIZE (8 * G)

static char why[256];

static bool why_names(const char *rule)
{
	size_t n = strlen(rule);

	return strncmp(why, rule, n) == 0 && why[n] == ':';
}

static void must_uuid(const char *s, uint8_t out[16])
{
	if (zd_nd_uuid_parse(s, out)) {
		fprintf(stderr, "bad uuid literal %s\n", s);
		exit(2);
	}
}

/* ------------------------------------------------------------ golden data */

struct golden {
	const char *file;
	enum zd_nd_pfn_kind kind;
	enum zd_nd_pfn_mode map;
	uint64_t align;
	const char *uuid, *parent_uuid;
	/* Expected decoded values, worked out by hand from §2.5 for 8 GiB at 4 GiB. */
	uint64_t dataoff, npfns;
};

static const struct golden goldens[] = {
	{ "fsdax-dev.infoblock.bin", ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M,
	  "ec094fe8-1049-456b-884d-fe695d359ed0", "66f03805-c073-4165-9b0b-1d8c7b0a0307",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "fsdax-dev-4K.infoblock.bin", ZD_ND_FSDAX, ZD_ND_MAP_DEV, 4 * K,
	  "80b3ff16-bd92-4d76-8a3e-ba1b8998b78c", "96e54486-254b-4769-af1b-78937d4bdfd3",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "fsdax-mem.infoblock.bin", ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M,
	  "2c62f7b8-ee69-4039-8248-d193260f6e53", "8a850927-8feb-49d3-9a20-e4d9e1bf01dc",
	  2 * M, (8 * G - 2 * M) / 4096 },
	{ "devdax-2M.infoblock.bin", ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 2 * M,
	  "118cf8cd-1fc8-46a0-8b4e-cd803f9af1b2", "317c1a79-c380-41d1-8690-2a96acf6a4e2",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "devdax-4K.infoblock.bin", ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 4 * K,
	  "b72e8011-4d66-4aa3-b72c-fe9c3c7d4f44", "083ae87e-7c02-4f9f-b050-b264c7230628",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "devdax-1G.infoblock.bin", ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G,
	  "cf9b2e22-17b1-4091-a89d-69677d77dda9", "d244977c-b168-423a-9452-ee9f40a10be0",
	  1 * G, 7 * G / 4096 },
};
#define NR_GOLDEN (sizeof(goldens) / sizeof(goldens[0]))

static void golden_params(const struct golden *g, struct zd_nd_pfn_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = g->kind;
	p->map = g->map;
	p->align = g->align;
	p->start = REGION_BASE;
	p->size = REGION_SIZE;
	must_uuid(g->uuid, p->uuid);
	must_uuid(g->parent_uuid, p->parent_uuid);
}

static void golden_ctx(const struct golden *g, struct zd_nd_pfn_validate_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = g->kind;
	must_uuid(g->parent_uuid, c->parent_uuid);
	c->start = REGION_BASE;
	c->size = REGION_SIZE;
}

static bool dir_has_blocks(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, goldens[0].file);
	return access(path, R_OK) == 0;
}

/* ZD_SHAREDDIR (the shared dir or the data dir itself), else ../shared from ZD_SRCDIR or cwd. */
static const char *find_golden_dir(void)
{
	static char dir[2048];
	const char *shared = getenv("ZD_SHAREDDIR");
	const char *src = getenv("ZD_SRCDIR");

	if (shared && *shared) {
		snprintf(dir, sizeof(dir), "%s/testdata/kernel-infoblocks", shared);
		if (dir_has_blocks(dir))
			return dir;
		snprintf(dir, sizeof(dir), "%s", shared);
		if (dir_has_blocks(dir))
			return dir;
	}
	snprintf(dir, sizeof(dir), "%s/../shared/testdata/kernel-infoblocks",
		 src && *src ? src : ".");
	if (dir_has_blocks(dir))
		return dir;
	return NULL;
}

static bool load_block(const char *dir, const char *file, struct zd_nd_pfn_sb *sb)
{
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	if (!f)
		return false;
	n = fread(sb, 1, sizeof(*sb), f);
	fclose(f);
	return n == sizeof(*sb);
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
	const char *dir = find_golden_dir();

	if (!dir) {
		skip("kernel-infoblocks not found (set ZD_SHAREDDIR or ZD_SRCDIR)");
		return;
	}
	diag("golden blocks from %s", dir);
	for (size_t i = 0; i < NR_GOLDEN; i++) {
		const struct golden *g = &goldens[i];
		struct zd_nd_pfn_sb sb, ours;
		struct zd_nd_pfn_params p;
		struct zd_nd_pfn_validate_ctx c;
		struct zd_nd_pfn_info info;
		uint8_t u[16];
		int rc;

		if (!ok(load_block(dir, g->file, &sb), "%s: 4096 bytes read", g->file))
			continue;
		ok(!memcmp(sb.signature, g->kind == ZD_ND_DEVDAX ? "NVDIMM_DAX_INFO" : "NVDIMM_PFN_INFO", 16),
		   "%s: signature", g->file);
		is_u64(zd_nd_sb_checksum(&sb), zd_le64_get(&sb.checksum), "%s: checksum valid", g->file);
		must_uuid(g->uuid, u);
		ok(!memcmp(sb.uuid, u, 16), "%s: uuid is %s", g->file, g->uuid);

		golden_ctx(g, &c);
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
		golden_ctx(g, &c);
		c.parent_uuid[15] ^= 1;
		is_int(zd_nd_pfn_validate(&sb, &c, NULL, why, sizeof(why)), -ENODEV,
		       "%s: another namespace uuid: -ENODEV", g->file);
		/* Second probe of the bound instance. */
		golden_ctx(g, &c);
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
	const char *dir = find_golden_dir();
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

	if (!dir || !load_block(dir, "fsdax-dev.infoblock.bin", &sb)) {
		skip("kernel-infoblocks not found: read-infoblock JSON");
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

static void table_params(struct zd_nd_pfn_params *p, enum zd_nd_pfn_kind kind,
			 enum zd_nd_pfn_mode map, uint64_t align)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->map = map;
	p->align = align;
	p->start = 0x240000000ULL;
	p->size = 16 * G;
	must_uuid("11111111-2222-3333-4444-555555555555", p->uuid);
	must_uuid("66666666-7777-8888-9999-aaaaaaaaaaaa", p->parent_uuid);
}

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
		table_params(&p, rows[i].kind, rows[i].map, rows[i].align);
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
	table_params(&p, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
	p.size = 16 * G + 6 * M;
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le32_get(&sb.end_trunc) == 6 * M &&
	   zd_le64_get(&sb.npfns) == 15 * G / 4096,
	   "1G align on 16G+6M: end_trunc 6M, npfns 15G/4K (got end_trunc %#x)",
	   zd_le32_get(&sb.end_trunc));
	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 4 * K);
	p.size = 16 * G + 6 * M + 4 * K;
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le32_get(&sb.end_trunc) == 4 * K,
	   "4K align uses A = compat 2M: end_trunc 4K (got %#x)", zd_le32_get(&sb.end_trunc));

	/* Errors. */
	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
	p.start += 1 * M;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -EINVAL, "start not 2M aligned: -EINVAL");
	ok(strstr(why, "misaligned") != NULL, "  why: %s", why);
	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 1 * G);
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -EOPNOTSUPP, "fsdax align 1G: -EOPNOTSUPP");
	table_params(&p, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 64 * K);
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -EOPNOTSUPP, "devdax align 64K: -EOPNOTSUPP");
	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 0);
	ok(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)) == 0 && zd_le32_get(&sb.align) == 2 * M,
	   "align 0 means the PMD default");
	table_params(&p, ZD_ND_FSDAX, ZD_PFN_MODE_NONE, 2 * M);
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -ENXIO, "map none: -ENXIO");
	table_params(&p, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
	p.size = 1 * G;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -ENXIO, "1G align on a 1G namespace: -ENXIO");
	ok(strstr(why, "unable to satisfy requested alignment") != NULL, "  why: %s", why);
	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M);
	p.size = 8 * M;
	is_int(zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why)), -ENXIO, "8 MiB namespace: -ENXIO");
	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
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
	must_uuid("0a0b0c0d-1111-4222-8333-444455556666", p.uuid);
	must_uuid("f0e0d0c0-aaaa-4bbb-8ccc-ddddeeeeffff", p.parent_uuid);
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
	const char *dir = find_golden_dir();

	make_block(&sb, &c, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
	flip_block(&sb, &c, "generated fsdax block");
	make_block(&sb, &c, ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G);
	flip_block(&sb, &c, "generated devdax block");
	if (!dir) {
		skip("kernel-infoblocks not found: flips of kernel blocks");
		return;
	}
	for (size_t i = 0; i < NR_GOLDEN; i++) {
		if (!load_block(dir, goldens[i].file, &sb))
			continue;
		golden_ctx(&goldens[i], &c);
		flip_block(&sb, &c, goldens[i].file);
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

	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M);
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
	table_params(&p, ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M);
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
	must_uuid("12345678-9abc-4def-8123-456789abcdef", p.uuid);
	must_uuid("fedcba98-7654-4321-8fed-cba987654321", p.parent_uuid);

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
	test_layout();
	test_fletcher();
	test_uuid();
	test_golden();
	test_golden_json();
	test_sizing_table();
	test_rules();
	test_flips();
	test_pgmap_layout();
	test_fd();
	return done_testing();
}
