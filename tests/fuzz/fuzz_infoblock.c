/*
 * libFuzzer target: the pfn/dax info-block validator and its neighbours
 * (src/drivers/nvdimm/pfn_devs.c): zd_nd_pfn_validate(), the dev_pagemap
 * layout of an accepted block, and the file path (zd_nd_pfn_validate_fd,
 * zd_nd_pfn_init_fd) on a memfd holding a small region image.
 * Input: the first 4096 bytes are the block (zero-padded); any bytes after
 * them choose a region geometry, a namespace offset and nd_pfn_init
 * parameters. A random block almost never has the right signature and
 * checksum, so each block is also tried "repaired" (signature of the kind
 * probed, checksum recomputed) to reach the geometry rules.
 * Invariants checked:
 *  - a refused block gives a negative errno and a reason "rule N: ...", and
 *    the errno is the one devices.md §2.4 gives rule N (ENODEV 1-5 and the
 *    rule 12 uuid, ENXIO 2 and 7, EOPNOTSUPP 9-18); an accepted one gives an
 *    empty reason, a ram or pmem mode and a dataoff inside the namespace;
 *  - the validator does not write to the block it checks;
 *  - an accepted block either gets a dev_pagemap layout that lies inside
 *    the namespace, with the data inside the range and the altmap for pmem
 *    mode only, or is refused cleanly (negative errno and a reason);
 *  - through the file: validation never changes a byte of the image (label
 *    area, block or data, whose bytes follow a known pattern); a read-only
 *    nd_pfn_init changes nothing either; a writable one changes only the
 *    4096 bytes of the block, and a block it creates validates on the next
 *    probe with the same settings (otherwise the next boot refuses it).
 */
#include "fuzz.h"

#include <zonedev/nd_pfn.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SB_SIZE 4096
#define SZ_2M (2ULL << 20)
#define SZ_1G (1ULL << 30)
#define SZ_4G (4ULL << 30)
#define SZ_8G (8ULL << 30)
#define IMG_DATA (24u << 10)             /* data bytes after the block in the image */
#define IMG_MAX_OFF (16u << 12)          /* the largest namespace offset used */
#define IMG_MAX (IMG_MAX_OFF + 2 * SB_SIZE + IMG_DATA)

/* The bytes after the block, read as a little-endian stream padded with zeros. */
struct tail {
	const uint8_t *p;
	size_t n, off;
};

static uint64_t get(struct tail *t, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++, t->off++)
		v |= (uint64_t)(t->off < t->n ? t->p[t->off] : 0) << (8 * i);
	return v;
}

/* What the errno of a refusal by rule N must be. */
static bool errno_matches_rule(int rule, int rc)
{
	switch (rule) {
	case 1: case 3: case 4: case 5:
		return rc == -ENODEV;
	case 2: case 7:
		return rc == -ENXIO;
	case 12:
		return rc == -ENODEV || rc == -EOPNOTSUPP;
	case 9: case 10: case 11: case 13: case 14: case 15: case 16: case 17: case 18:
		return rc == -EOPNOTSUPP;
	default:
		return false;
	}
}

static void check_refusal(int rc, const char *why, const char *what)
{
	int rule = -1, used = 0;

	FUZZ_CHECK(rc < 0 && rc >= -4095, "%s: return %d", what, rc);
	FUZZ_CHECK(why[0] != '\0', "%s: refused (%d) without a reason", what, rc);
	FUZZ_CHECK(strncmp(why, "rule ", 5) == 0, "%s: reason does not start with \"rule \": %s",
		   what, why);
	FUZZ_CHECK(sscanf(why, "rule %d:%n", &rule, &used) == 1 && used > 0,
		   "%s: reason is not \"rule N: ...\": %s", what, why);
	FUZZ_CHECK(errno_matches_rule(rule, rc), "%s: rule %d refused with errno %d: %s", what,
		   rule, -rc, why);
}

static unsigned page_shift_of(uint64_t page_size)
{
	return page_size && !(page_size & (page_size - 1)) ? (unsigned)__builtin_ctzll(page_size) : 0;
}

static void check_layout(const struct zd_nd_pfn_info *info, const struct zd_nd_pfn_validate_ctx *c)
{
	uint64_t page_size = c->page_size ? c->page_size : 4096;
	uint64_t end = c->end ? c->end : c->start + c->size - 1;
	unsigned shift = page_shift_of(page_size);
	struct zd_nd_pfn_layout l;
	char why[256];
	int rc;

	if (!shift)
		shift = 12;
	memset(why, 'x', sizeof(why));
	rc = zd_nd_pfn_to_pgmap_layout(info, c->start, end, shift, &l, why, sizeof(why));
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL, "layout reason not terminated");
	if (rc) {
		FUZZ_CHECK(rc < 0 && rc >= -4095, "layout returned %d", rc);
		FUZZ_CHECK(why[0] != '\0', "layout refused (%d) without a reason", rc);
		return;
	}
	FUZZ_CHECK(why[0] == '\0', "layout succeeded with a reason: %s", why);
	FUZZ_CHECK(c->start <= l.range_start && l.range_start <= l.range_end && l.range_end <= end,
		   "range [%#llx-%#llx] not inside the namespace [%#llx-%#llx]",
		   (unsigned long long)l.range_start, (unsigned long long)l.range_end,
		   (unsigned long long)c->start, (unsigned long long)end);
	FUZZ_CHECK(l.data_start > l.range_start && l.data_start <= l.range_end &&
		   l.data_size == l.range_end - l.data_start + 1,
		   "data [%#llx + %#llx] not the tail of the range [%#llx-%#llx]",
		   (unsigned long long)l.data_start, (unsigned long long)l.data_size,
		   (unsigned long long)l.range_start, (unsigned long long)l.range_end);
	FUZZ_CHECK(l.has_altmap == (info->mode == ZD_PFN_MODE_PMEM), "altmap %d for mode %u",
		   l.has_altmap, (unsigned)info->mode);
	if (l.has_altmap) {
		FUZZ_CHECK(l.base_pfn <= l.range_start >> shift && l.end_pfn == l.range_end >> shift,
			   "altmap pfns %#llx..%#llx for range [%#llx-%#llx]",
			   (unsigned long long)l.base_pfn, (unsigned long long)l.end_pfn,
			   (unsigned long long)l.range_start, (unsigned long long)l.range_end);
		FUZZ_CHECK(l.base_pfn + l.reserve + l.free <= (l.data_start >> shift),
			   "altmap reserve %#llx + free %#llx past the data pfn %#llx",
			   (unsigned long long)l.reserve, (unsigned long long)l.free,
			   (unsigned long long)(l.data_start >> shift));
	}
}

static void validate(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_validate_ctx *c)
{
	struct zd_nd_pfn_sb before;
	struct zd_nd_pfn_info info;
	char why[256];
	int rc;

	memcpy(&before, sb, sizeof(before));
	memset(why, 'x', sizeof(why));
	rc = zd_nd_pfn_validate(sb, c, &info, why, sizeof(why));
	FUZZ_CHECK(memcmp(&before, sb, sizeof(before)) == 0, "validation changed the block");
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL, "reason not terminated");
	if (rc) {
		check_refusal(rc, why, "zd_nd_pfn_validate");
		return;
	}
	FUZZ_CHECK(why[0] == '\0', "accepted with a reason: %s", why);
	FUZZ_CHECK(info.mode == ZD_PFN_MODE_RAM || info.mode == ZD_PFN_MODE_PMEM,
		   "accepted mode %u", (unsigned)info.mode);
	FUZZ_CHECK(info.dataoff < c->size, "accepted dataoff %#llx >= size %#llx",
		   (unsigned long long)info.dataoff, (unsigned long long)c->size);
	FUZZ_CHECK(info.kind == c->kind, "accepted kind %d probing %d", info.kind, c->kind);
	check_layout(&info, c);
}

/* ------------------------------------------------------------ the file path */

static int memfd = -1;
/* pristine: the data pattern; image: what the file must hold now. */
static uint8_t pristine[IMG_MAX], image[IMG_MAX], readback[IMG_MAX];

static void open_image(void)
{
	/*
	 * zd_nd_pfn_reserve() fallocates the map=dev memmap area (up to
	 * dataoff: 128 MiB for the 8 GiB namespaces here, any size for the
	 * fuzzed ones) before the block is written. On a memfd that is RAM on
	 * every run and it grows the small image, while it changes no byte
	 * (t_region_files holds it to that), so this process turns it off
	 * with the library's own test switch.
	 */
	setenv("ZD_BACKING_NORESERVE", "1", 1);
	memfd = memfd_create("fuzz-infoblock", MFD_CLOEXEC);
	FUZZ_CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
	for (size_t i = 0; i < IMG_MAX; i++)
		pristine[i] = (uint8_t)(((i * 2654435761u) >> 11) ^ 0xa5);
}

/* Image: pattern, the block at ns_offset + 4096, pattern; len bytes of it. */
static void write_image(const struct zd_nd_pfn_sb *sb, size_t ns_offset, size_t len)
{
	if (memfd < 0)
		open_image();
	memcpy(image, pristine, len);
	if (ns_offset + 2 * SB_SIZE <= len)
		memcpy(image + ns_offset + SB_SIZE, sb, SB_SIZE);
	else if (ns_offset + SB_SIZE < len)
		memcpy(image + ns_offset + SB_SIZE, sb, len - ns_offset - SB_SIZE);
	FUZZ_CHECK(ftruncate(memfd, (off_t)len) == 0, "ftruncate: %s", strerror(errno));
	FUZZ_CHECK(pwrite(memfd, image, len, 0) == (ssize_t)len, "pwrite: %s", strerror(errno));
}

static void same_bytes(size_t from, size_t to, const char *what)
{
	if (from >= to || !memcmp(readback + from, image + from, to - from))
		return;
	for (size_t i = from; i < to; i++)
		FUZZ_CHECK(readback[i] == image[i], "%s changed byte %#zx of the image (%#x -> %#x)",
			   what, i, image[i], readback[i]);
}

/* The image is as written, except possibly [skip, skip + skiplen). */
static void check_image(size_t len, size_t skip, size_t skiplen, const char *what)
{
	off_t size = lseek(memfd, 0, SEEK_END);

	FUZZ_CHECK(size == (off_t)len, "%s: image size %lld became %lld", what, (long long)len,
		   (long long)size);
	FUZZ_CHECK(pread(memfd, readback, len, 0) == (ssize_t)len, "pread: %s", strerror(errno));
	if (skip > len)
		skip = len;
	same_bytes(0, skip, what);
	same_bytes(skip + skiplen < len ? skip + skiplen : len, len, what);
}

static void validate_file(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_validate_ctx *c,
			  size_t ns_offset, size_t len)
{
	struct zd_nd_pfn_info info;
	char why[256];
	int rc;

	write_image(sb, ns_offset, len);
	memset(why, 'x', sizeof(why));
	rc = zd_nd_pfn_validate_fd(memfd, ns_offset, c, &info, why, sizeof(why));
	FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL, "reason not terminated");
	if (rc)
		check_refusal(rc, why, "zd_nd_pfn_validate_fd");
	else
		FUZZ_CHECK(len >= ns_offset + 2 * SB_SIZE, "validated a block the image cuts short");
	check_image(len, 0, 0, "zd_nd_pfn_validate_fd");
}

/* The probe nd_pfn_init_fd() itself makes (a bound instance). */
static void init_ctx(const struct zd_nd_pfn_params *p, struct zd_nd_pfn_validate_ctx *c)
{
	uint64_t page_size = p->page_size ? p->page_size : 4096;
	uint64_t pmd = p->pmd_size ? p->pmd_size : SZ_2M;

	memset(c, 0, sizeof(*c));
	c->kind = p->kind;
	memcpy(c->parent_uuid, p->parent_uuid, 16);
	c->start = p->start;
	c->size = p->size;
	c->page_size = page_size;
	c->struct_page_size = p->struct_page_size;
	c->compat_align = p->compat_align;
	c->dax_aligns[0] = page_size;
	c->dax_aligns[1] = pmd;
	c->dax_aligns[2] = p->pud_size ? p->pud_size : SZ_1G;
	c->adopted = true;
	memcpy(c->adopted_uuid, p->uuid, 16);
	c->adopted_align = p->align ? p->align : pmd;
	c->adopted_mode = p->map;
}

static void init_file(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_params *p,
		      size_t ns_offset, size_t len)
{
	struct zd_nd_pfn_validate_ctx c;
	struct zd_nd_pfn_info info;
	bool created = true;
	char why[256];
	int rc;

	/* Read-only: nothing may change. */
	write_image(sb, ns_offset, len);
	why[0] = 'x';
	rc = zd_nd_pfn_init_fd(memfd, ns_offset, p, true, &info, &created, why, sizeof(why));
	FUZZ_CHECK(rc <= 0 && rc >= -4095, "read-only init returned %d", rc);
	FUZZ_CHECK(!created, "read-only init says it created a block");
	FUZZ_CHECK(rc == 0 || why[0] != '\0', "read-only init refused (%d) without a reason", rc);
	check_image(len, 0, 0, "read-only zd_nd_pfn_init_fd");

	/*
	 * Writable: a block that is refused, or accepted as it is, leaves every
	 * byte alone (the data after it above all); only a fresh block may
	 * replace the 4096 bytes at ns_offset + 4096, and it must validate.
	 */
	write_image(sb, ns_offset, len);
	rc = zd_nd_pfn_init_fd(memfd, ns_offset, p, false, &info, &created, why, sizeof(why));
	FUZZ_CHECK(rc <= 0 && rc >= -4095, "init returned %d", rc);
	FUZZ_CHECK(rc == 0 || why[0] != '\0', "init refused (%d) without a reason", rc);
	FUZZ_CHECK(rc == 0 || !created, "init failed (%d) but says it created a block", rc);
	if (created)
		check_image(len, ns_offset + SB_SIZE, SB_SIZE, "zd_nd_pfn_init_fd writing a block");
	else
		check_image(len, 0, 0, rc ? "a refused zd_nd_pfn_init_fd" : "zd_nd_pfn_init_fd");
	if (rc == 0 && created) {
		init_ctx(p, &c);
		rc = zd_nd_pfn_validate_fd(memfd, ns_offset, &c, &info, why, sizeof(why));
		FUZZ_CHECK(rc == 0,
			   "a block nd_pfn_init wrote is refused by the next probe (%d): %s "
			   "[kind %d map %d align %#llx start %#llx size %#llx page %#llx]",
			   rc, why, p->kind, p->map, (unsigned long long)p->align,
			   (unsigned long long)p->start, (unsigned long long)p->size,
			   (unsigned long long)p->page_size);
		check_layout(&info, &c);
	}
}

/* ------------------------------------------------------------ geometries */

/* The README's: one 8 GiB namespace at 4 GiB, 4 KiB pages, 64-byte struct page. */
static void geometry_recorded(struct zd_nd_pfn_validate_ctx *c, const struct zd_nd_pfn_sb *sb)
{
	c->start = SZ_4G;
	c->size = SZ_8G;
	memcpy(c->parent_uuid, sb->parent_uuid, 16);
}

/* The namespace the block itself describes: paddings, dataoff and npfns. */
static void geometry_from_block(struct zd_nd_pfn_validate_ctx *c, const struct zd_nd_pfn_sb *sb)
{
	struct zd_nd_pfn_info i;
	uint64_t core;

	zd_nd_pfn_decode(sb, 4096, &i);
	core = i.dataoff + (i.npfns > (UINT64_MAX >> 13) ? 0 : i.npfns * 4096);
	core = (core + SZ_2M - 1) & ~(SZ_2M - 1);
	c->start = SZ_4G - i.start_pad;
	c->size = core + i.start_pad + i.end_trunc;
	memcpy(c->parent_uuid, sb->parent_uuid, 16);
}

/* Anything the tail says, including nonsense a caller could pass. */
static void geometry_from_tail(struct zd_nd_pfn_validate_ctx *c, const struct zd_nd_pfn_sb *sb,
			       struct tail *t)
{
	static const uint64_t pages[] = { 0, 4096, 16384, 65536 };
	static const uint64_t compats[] = { 0, 4096, SZ_2M, 16ULL << 20 };
	unsigned f = (unsigned)get(t, 2);

	c->start = get(t, 8);
	c->size = get(t, 8);
	if (f & 1)
		c->end = get(t, 8);
	if (f & 2)
		c->capacity = get(t, 8);
	c->page_size = f & 4 ? get(t, 4) : pages[(f >> 3) & 3];
	c->struct_page_size = f & 32 ? get(t, 2) : (f & 64 ? 128 : 0);
	c->compat_align = f & 128 ? get(t, 8) : compats[(f >> 8) & 3];
	if (f & 0x400)
		for (int k = 0; k < ZD_ND_MAX_ALIGNS; k++)
			c->dax_aligns[k] = get(t, 8);
	if (f & 0x800) {
		c->adopted = true;
		if (f & 0x1000)
			memcpy(c->adopted_uuid, sb->uuid, 16);
		c->adopted_align = get(t, 8);
		c->adopted_mode = (enum zd_nd_pfn_mode)get(t, 1);
	}
	c->region_not_memory = (f & 0x6000) == 0x6000;
	if (!(f & 0x8000))
		memcpy(c->parent_uuid, sb->parent_uuid, 16);
}

/* nd_pfn_init parameters: mostly well-formed, so sizing succeeds often. */
static void init_params(struct zd_nd_pfn_params *p, const struct zd_nd_pfn_sb *sb,
			enum zd_nd_pfn_kind kind, struct tail *t)
{
	static const uint64_t aligns[] = { 0, 4096, SZ_2M, SZ_1G };
	unsigned f = (unsigned)get(t, 2);

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->map = f & 1 ? ZD_ND_MAP_MEM : ZD_ND_MAP_DEV;
	if ((f & 6) == 6)
		p->map = (enum zd_nd_pfn_mode)get(t, 1);
	p->align = f & 8 ? get(t, 4) : aligns[(f >> 4) & 3];
	p->start = SZ_4G + (f & 0x40 ? get(t, 4) << 21 : 0) + (f & 0x80 ? get(t, 3) : 0);
	p->size = f & 0x100 ? get(t, 8) : SZ_8G - (get(t, 4) << 12);
	if (f & 0x200)
		p->page_size = 65536;
	if (f & 0x400)
		p->struct_page_size = 128;
	p->nvdimm_kmsan = f & 0x800;
	p->no_pud_thp = f & 0x1000;
	memcpy(p->uuid, sb->uuid, 16);
	memcpy(p->parent_uuid, sb->parent_uuid, 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tail t = { .p = data + (size > SB_SIZE ? SB_SIZE : size),
			  .n = size > SB_SIZE ? size - SB_SIZE : 0 };
	struct zd_nd_pfn_sb raw, fixed;
	struct zd_nd_pfn_validate_ctx c[3];
	struct zd_nd_pfn_params p;
	size_t ns_offset, len;
	unsigned f;

	memset(&raw, 0, sizeof(raw));
	memcpy(&raw, data, size < SB_SIZE ? size : SB_SIZE);

	memset(c, 0, sizeof(c));
	geometry_recorded(&c[0], &raw);
	geometry_from_block(&c[1], &raw);
	geometry_from_tail(&c[2], &raw, &t);

	for (int kind = ZD_ND_FSDAX; kind <= ZD_ND_DEVDAX; kind++) {
		memcpy(&fixed, &raw, sizeof(fixed));
		memcpy(fixed.signature, zd_nd_pfn_sig((enum zd_nd_pfn_kind)kind), ZD_PFN_SIG_LEN);
		zd_nd_sb_set_checksum(&fixed);
		for (int g = 0; g < 3; g++) {
			c[g].kind = (enum zd_nd_pfn_kind)kind;
			validate(&raw, &c[g]);
			validate(&fixed, &c[g]);
		}
	}

	/* The file path: an image with the block at a namespace offset. */
	f = (unsigned)get(&t, 1);
	ns_offset = (f & 15) * 4096u;
	len = ns_offset + 2 * SB_SIZE + IMG_DATA;
	if (f & 16)     /* cut the image short, possibly inside the block */
		len = (size_t)get(&t, 2) % (len + 1);
	for (int kind = ZD_ND_FSDAX; kind <= ZD_ND_DEVDAX; kind++) {
		const struct zd_nd_pfn_sb *sb = f & 32 ? &raw : &fixed;

		memcpy(&fixed, &raw, sizeof(fixed));
		memcpy(fixed.signature, zd_nd_pfn_sig((enum zd_nd_pfn_kind)kind), ZD_PFN_SIG_LEN);
		zd_nd_sb_set_checksum(&fixed);
		c[0].kind = c[1].kind = (enum zd_nd_pfn_kind)kind;
		validate_file(sb, &c[f & 64 ? 1 : 0], ns_offset, len);
		init_params(&p, &raw, (enum zd_nd_pfn_kind)kind, &t);
		init_file(sb, &p, ns_offset, len);
	}
	return 0;
}
