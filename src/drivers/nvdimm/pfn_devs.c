/*
 * pfn / dax info blocks (drivers/nvdimm/pfn_devs.c): decoding and sizing a
 * block (nd_pfn_init), turning a valid one into the dev_pagemap range and
 * vmem_altmap (__nvdimm_setup_pfn), plus file I/O, uuid text and an ndctl
 * read-infoblock shaped dump. Validation (nd_pfn_validate) is in
 * pfn_validate.c.
 *
 * Everything here is a pure function of its arguments; the "kernel build"
 * facts (PAGE_SIZE, sizeof(struct page), memremap_compat_align(), the
 * supported huge-page sizes) come in through params / ctx so one process can
 * model several configurations. Failures return a negative errno and write
 * one reason line into the caller's `why` buffer; validation reasons start
 * with "rule N:" (devices.md §2.4 numbering).
 *
 * Target: what Linux 6.1.192 wrote in shared/testdata/kernel-infoblocks:
 * version 1.4, page_struct_size 64 and a 64-byte memmap budget (dataoff
 * 130 MiB for 8 GiB; the v6.1-era 128-byte KMSAN budget would give 258 MiB).
 * That is exactly the "current" formula set of devices.md §2.5, so no
 * 6.1-specific branch exists; t_infoblock reproduces all six blocks.
 */
#include <zonedev/err.h>
#include <zonedev/nd_pfn.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include "base/align.h"
#include "base/backing.h"

/* The on-media layout, field by field (devices.md §2.1). */
static_assert(sizeof(struct zd_nd_pfn_sb) == 4096, "nd_pfn_sb is 4 KiB");
static_assert(offsetof(struct zd_nd_pfn_sb, signature) == 0, "signature");
static_assert(offsetof(struct zd_nd_pfn_sb, uuid) == 16, "uuid");
static_assert(offsetof(struct zd_nd_pfn_sb, parent_uuid) == 32, "parent_uuid");
static_assert(offsetof(struct zd_nd_pfn_sb, flags) == 48, "flags");
static_assert(offsetof(struct zd_nd_pfn_sb, version_major) == 52, "version_major");
static_assert(offsetof(struct zd_nd_pfn_sb, version_minor) == 54, "version_minor");
static_assert(offsetof(struct zd_nd_pfn_sb, dataoff) == 56, "dataoff");
static_assert(offsetof(struct zd_nd_pfn_sb, npfns) == 64, "npfns");
static_assert(offsetof(struct zd_nd_pfn_sb, mode) == 72, "mode");
static_assert(offsetof(struct zd_nd_pfn_sb, start_pad) == 76, "start_pad");
static_assert(offsetof(struct zd_nd_pfn_sb, end_trunc) == 80, "end_trunc");
static_assert(offsetof(struct zd_nd_pfn_sb, align) == 84, "align");
static_assert(offsetof(struct zd_nd_pfn_sb, page_size) == 88, "page_size");
static_assert(offsetof(struct zd_nd_pfn_sb, page_struct_size) == 92, "page_struct_size");
static_assert(offsetof(struct zd_nd_pfn_sb, padding) == 94, "padding");
static_assert(sizeof(((struct zd_nd_pfn_sb *)0)->padding) == 3994, "padding size");
static_assert(offsetof(struct zd_nd_pfn_sb, checksum) == 4088, "checksum");


static const uint8_t pfn_sig[ZD_PFN_SIG_LEN] = ZD_PFN_SIG;
static const uint8_t dax_sig[ZD_PFN_SIG_LEN] = ZD_DAX_SIG;

const uint8_t *zd_nd_pfn_sig(enum zd_nd_pfn_kind kind)
{
	return kind == ZD_ND_DEVDAX ? dax_sig : pfn_sig;
}

static const char *kind_name(enum zd_nd_pfn_kind kind)
{
	return kind == ZD_ND_DEVDAX ? "dax" : "pfn";
}

const char *zd_nd_pfn_mode_name(enum zd_nd_pfn_mode mode)
{
	switch (mode) {
	case ZD_PFN_MODE_RAM:
		return "ram";
	case ZD_PFN_MODE_PMEM:
		return "pmem";
	default:
		return "none";
	}
}

/* Write the reason (if the caller gave room) and return err. */
__attribute__((format(printf, 4, 5)))
static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static void clear_why(char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}


static int ilog2_u64(uint64_t x)
{
	return x ? 63 - __builtin_clzll(x) : -1;
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

/* ------------------------------------------------------------ decode */

void zd_nd_pfn_decode(const struct zd_nd_pfn_sb *sb, uint64_t page_size, struct zd_nd_pfn_info *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = memcmp(sb->signature, dax_sig, ZD_PFN_SIG_LEN) ? ZD_ND_FSDAX : ZD_ND_DEVDAX;
	memcpy(out->uuid, sb->uuid, 16);
	memcpy(out->parent_uuid, sb->parent_uuid, 16);
	out->flags = zd_le32_get(&sb->flags);
	out->version_major = zd_le16_get(&sb->version_major);
	out->version_minor = zd_le16_get(&sb->version_minor);
	out->dataoff = zd_le64_get(&sb->dataoff);
	out->npfns = zd_le64_get(&sb->npfns);
	out->mode = (enum zd_nd_pfn_mode)zd_le32_get(&sb->mode);
	out->start_pad = zd_le32_get(&sb->start_pad);
	out->end_trunc = zd_le32_get(&sb->end_trunc);
	out->align = zd_le32_get(&sb->align);
	out->page_size = zd_le32_get(&sb->page_size);
	out->page_struct_size = zd_le16_get(&sb->page_struct_size);
	out->checksum = zd_le64_get(&sb->checksum);

	/* Rule 6: fields a writer of an older minor did not know about. */
	if (out->version_minor < 1) {
		out->start_pad = 0;
		out->end_trunc = 0;
	}
	if (out->version_minor < 2)
		out->align = 0;
	if (out->version_minor < 4) {
		out->page_struct_size = 64;
		out->page_size = (uint32_t)or_default(page_size, 4096);
	}

	/*
	 * Rule 8: no recorded alignment means "the largest power of two that
	 * divides into dataoff from below" (1 << ilog2(dataoff)). dataoff 0
	 * has no logarithm; x86's shift by ilog2(0) = -1 yields 1 << 63,
	 * which rule 13 then refuses, so model exactly that value.
	 */
	if (out->align == 0) {
		int l = ilog2_u64(out->dataoff);

		out->align = 1ULL << (l < 0 ? 63 : l);
		out->align_derived = true;
	}
}

/* ------------------------------------------------------------ sizing */

int zd_nd_pfn_init_sb(struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_params *p,
		      char *why, size_t whylen)
{
	uint64_t page_size = or_default(p->page_size, 4096);
	uint64_t struct_page = or_default(p->struct_page_size, ZD_ND_MAX_STRUCT_PAGE_SIZE);
	uint64_t compat = or_default(p->compat_align, ZD_ND_DEFAULT_COMPAT_ALIGN);
	uint64_t pmd = or_default(p->pmd_size, SZ_2M), pud = or_default(p->pud_size, SZ_1G);
	uint64_t align = or_default(p->align, pmd); /* nd_pfn_default_alignment() */
	uint64_t start = p->start, size = p->size;
	uint64_t npfns, a, end_trunc, offset, page_struct_size = ZD_ND_MAX_STRUCT_PAGE_SIZE;
	bool ok_align;

	if (!is_pow2(page_size) || !is_pow2(compat))
		return fail(why, whylen, -EINVAL, "page size 0x%llx / compat align 0x%llx not a power of two",
			    (unsigned long long)page_size, (unsigned long long)compat);

	/*
	 * The align set (sysfs align_store, nd_pfn_supported_alignments(), the
	 * same for pfn and dax claims): PAGE_SIZE, the PMD size with THP and
	 * the PUD size where the arch has PUD-sized THP.
	 */
	ok_align = align == page_size || align == pmd || (!p->no_pud_thp && align == pud);
	if (!ok_align)
		return fail(why, whylen, -EOPNOTSUPP, "%s: align 0x%llx not supported (%s)",
			    kind_name(p->kind), (unsigned long long)align,
			    p->no_pud_thp ? "PAGE_SIZE or PMD size" : "PAGE_SIZE, PMD or PUD size");

	/* A pfn/dax claim needs at least 16 MiB (nd_namespace_store). */
	if (size < ZD_ND_MIN_NAMESPACE_SIZE)
		return fail(why, whylen, -ENXIO, "namespace size 0x%llx below the 16 MiB claim minimum",
			    (unsigned long long)size);

	/* New kernels never create start_pad: a misaligned start is refused. */
	if (!ZD_IS_ALIGNED(start, compat))
		return fail(why, whylen, -EINVAL, "start 0x%llx misaligned to 0x%llx",
			    (unsigned long long)start, (unsigned long long)compat);

	npfns = (size - ZD_ND_INFO_RESERVE) / page_size;
	a = align > compat ? align : compat;
	end_trunc = start + size - ZD_ALIGN_DOWN(start + size, a);

	if (p->map == ZD_PFN_MODE_PMEM) {
		/*
		 * The memmap is budgeted at 64 bytes per page whatever the
		 * real struct page is, so blocks stay portable between
		 * kernel builds; a debug build with a bigger struct page is
		 * refused unless CONFIG_NVDIMM_KMSAN makes it budget (and
		 * record) its real size.
		 */
		if (struct_page > ZD_ND_MAX_STRUCT_PAGE_SIZE) {
			if (!p->nvdimm_kmsan)
				return fail(why, whylen, -EINVAL,
					    "Memory debug options prevent using pmem for the page map (struct page %llu > %llu)",
					    (unsigned long long)struct_page,
					    (unsigned long long)ZD_ND_MAX_STRUCT_PAGE_SIZE);
			page_struct_size = struct_page;
		}
		offset = ZD_ALIGN(start + ZD_ND_INFO_RESERVE + page_struct_size * npfns, a) - start;
	} else if (p->map == ZD_PFN_MODE_RAM) {
		offset = ZD_ALIGN(start + ZD_ND_INFO_RESERVE, a) - start;
	} else {
		return fail(why, whylen, -ENXIO, "map mode %u is neither mem nor dev", (unsigned)p->map);
	}

	if (offset >= size - end_trunc)
		return fail(why, whylen, -ENXIO,
			    "unable to satisfy requested alignment (dataoff 0x%llx, size 0x%llx, end_trunc 0x%llx)",
			    (unsigned long long)offset, (unsigned long long)size,
			    (unsigned long long)end_trunc);

	npfns = (size - offset - end_trunc) / page_size;

	memset(sb, 0, sizeof(*sb));
	memcpy(sb->signature, zd_nd_pfn_sig(p->kind), ZD_PFN_SIG_LEN);
	memcpy(sb->uuid, p->uuid, 16);
	memcpy(sb->parent_uuid, p->parent_uuid, 16);
	zd_le32_put(&sb->mode, (uint32_t)p->map);
	zd_le64_put(&sb->dataoff, offset);
	zd_le64_put(&sb->npfns, npfns);
	zd_le16_put(&sb->version_major, ZD_ND_VERSION_MAJOR);
	zd_le16_put(&sb->version_minor, ZD_ND_VERSION_MINOR);
	zd_le32_put(&sb->end_trunc, (uint32_t)end_trunc);
	zd_le32_put(&sb->align, (uint32_t)align);     /* the requested one, not A */
	zd_le16_put(&sb->page_struct_size, (uint16_t)page_struct_size);
	zd_le32_put(&sb->page_size, (uint32_t)page_size);
	zd_nd_sb_set_checksum(sb);
	clear_why(why, whylen);
	return 0;
}

/* ------------------------------------------------------------ dev_pagemap */

int zd_nd_pfn_to_pgmap_layout(const struct zd_nd_pfn_info *info, uint64_t res_start,
			      uint64_t res_end, unsigned page_shift,
			      struct zd_nd_pfn_layout *out, char *why, size_t whylen)
{
	uint64_t page_size, reserve_bytes, per_subsection, base, end, range_len, pfn;

	if (page_shift < 12 || page_shift > 21)
		return fail(why, whylen, -EINVAL, "page shift %u outside 12..21", page_shift);
	if (res_end < res_start)
		return fail(why, whylen, -EINVAL, "empty resource");
	page_size = 1ULL << page_shift;
	reserve_bytes = ZD_ALIGN(ZD_ND_INFO_RESERVE, page_size); /* nd_info_block_reserve() */
	per_subsection = 1ULL << (21 - page_shift);              /* PAGES_PER_SUBSECTION */

	base = res_start + info->start_pad;
	end = res_end - info->end_trunc;
	if (end < base || info->start_pad > res_end - res_start)
		return fail(why, whylen, -EINVAL, "start_pad 0x%x + end_trunc 0x%x leave no range",
			    info->start_pad, info->end_trunc);
	range_len = end - base + 1;

	memset(out, 0, sizeof(*out));
	out->range_start = base;
	out->range_end = end;
	out->data_start = base + info->dataoff;
	out->data_size = range_len - info->dataoff;

	if (info->mode == ZD_PFN_MODE_RAM) {
		/* The struct pages live in DRAM; data may not overlap the info block. */
		if (info->dataoff < reserve_bytes)
			return fail(why, whylen, -EINVAL,
				    "ram mode: dataoff 0x%llx below the info reserve 0x%llx",
				    (unsigned long long)info->dataoff,
				    (unsigned long long)reserve_bytes);
		if (info->dataoff >= range_len)
			return fail(why, whylen, -EINVAL, "dataoff 0x%llx beyond range length 0x%llx",
				    (unsigned long long)info->dataoff, (unsigned long long)range_len);
		out->npfns = info->npfns;
	} else if (info->mode == ZD_PFN_MODE_PMEM) {
		/*
		 * Model guards: the kernel would wrap here (a block that
		 * passed validation cannot reach them with a sane dataoff).
		 */
		if (info->dataoff < reserve_bytes || info->dataoff >= range_len)
			return fail(why, whylen, -EINVAL,
				    "pmem mode: dataoff 0x%llx outside [0x%llx, 0x%llx)",
				    (unsigned long long)info->dataoff,
				    (unsigned long long)reserve_bytes, (unsigned long long)range_len);
		out->npfns = (range_len - info->dataoff) >> page_shift;
		out->npfns_truncated = info->npfns > out->npfns;
		pfn = base >> page_shift;
		out->has_altmap = true;
		out->base_pfn = pfn & ~(per_subsection - 1);       /* SUBSECTION_ALIGN_DOWN */
		out->reserve = (reserve_bytes >> page_shift) + (pfn - out->base_pfn);
		out->end_pfn = end >> page_shift;                   /* PHYS_PFN(end), inclusive end */
		out->free = (info->dataoff - reserve_bytes) >> page_shift;
		out->alloc = 0;
	} else {
		return fail(why, whylen, -ENXIO, "mode %u is neither ram nor pmem", (unsigned)info->mode);
	}
	clear_why(why, whylen);
	return 0;
}

/* ------------------------------------------------------------ file I/O */

int zd_nd_pfn_read_sb_at(int fd, uint64_t off, struct zd_nd_pfn_sb *sb, size_t *got,
			 char *why, size_t whylen)
{
	unsigned char *buf = (unsigned char *)sb;
	size_t done = 0;
	int rc = 0;

	while (done < sizeof(*sb)) {
		ssize_t n = pread(fd, buf + done, sizeof(*sb) - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(why, whylen, -ENXIO, "rule 2: read of the info block at 0x%llx failed: %s",
				  (unsigned long long)off, strerror(errno));
			break;
		}
		if (n == 0) {
			rc = fail(why, whylen, -ENXIO,
				  "rule 2: short read of the info block at 0x%llx (%zu of %zu bytes)",
				  (unsigned long long)off, done, sizeof(*sb));
			break;
		}
		done += (size_t)n;
	}
	if (got)
		*got = done;
	if (!rc)
		clear_why(why, whylen);
	return rc;
}

int zd_nd_pfn_read_sb(int fd, uint64_t ns_offset, struct zd_nd_pfn_sb *sb,
		      char *why, size_t whylen)
{
	return zd_nd_pfn_read_sb_at(fd, ns_offset + ZD_ND_INFOBLOCK_OFFSET, sb, NULL, why, whylen);
}

int zd_nd_pfn_write_sb(int fd, uint64_t ns_offset, const struct zd_nd_pfn_sb *sb,
		       char *why, size_t whylen)
{
	uint64_t off = ns_offset + ZD_ND_INFOBLOCK_OFFSET;
	int rc = zd_backing_write(fd, sb, sizeof(*sb), off);

	if (rc)
		return fail(why, whylen, rc == -ENOSPC || rc == -EDQUOT ? rc : -EIO,
			    "write of the info block at 0x%llx failed: %s", (unsigned long long)off,
			    strerror(-rc));
	clear_why(why, whylen);
	return 0;
}

int zd_nd_pfn_reserve(int fd, uint64_t ns_offset, const struct zd_nd_pfn_sb *sb,
		      char *why, size_t whylen)
{
	bool dev = zd_le32_get(&sb->mode) == ZD_PFN_MODE_PMEM;

	/* The memmap of map=dev is written through a shared mapping: without
	 * its blocks a full filesystem would SIGBUS at memmap init. */
	return zd_backing_reserve(fd, ns_offset,
				  dev ? zd_le64_get(&sb->dataoff) : ZD_ND_INFOBLOCK_OFFSET + sizeof(*sb),
				  dev ? "the info block and the memmap (map=dev)" : "the info block",
				  why, whylen);
}

int zd_nd_pfn_validate_fd(int fd, uint64_t ns_offset, const struct zd_nd_pfn_validate_ctx *ctx,
			  struct zd_nd_pfn_info *out, char *why, size_t whylen)
{
	struct zd_nd_pfn_sb sb;
	int rc;

	if (!ctx)
		return fail(why, whylen, -ENODEV, "rule 1: no namespace");
	if (ctx->region_not_memory)
		return fail(why, whylen, -ENODEV, "rule 1: parent region is not a pmem region");
	rc = zd_nd_pfn_read_sb(fd, ns_offset, &sb, why, whylen);
	if (rc)
		return rc;
	return zd_nd_pfn_validate(&sb, ctx, out, why, whylen);
}

int zd_nd_pfn_init_fd(int fd, uint64_t ns_offset, const struct zd_nd_pfn_params *p,
		      bool read_only, struct zd_nd_pfn_info *out, bool *created,
		      char *why, size_t whylen)
{
	struct zd_nd_pfn_validate_ctx ctx;
	struct zd_nd_pfn_sb sb;
	struct zd_nd_pfn_info info;
	uint64_t page_size = or_default(p->page_size, 4096);
	uint64_t pmd = or_default(p->pmd_size, SZ_2M);
	int rc;

	if (created)
		*created = false;
	memset(&ctx, 0, sizeof(ctx));
	ctx.kind = p->kind;
	memcpy(ctx.parent_uuid, p->parent_uuid, 16);
	ctx.start = p->start;
	ctx.size = p->size;
	ctx.page_size = page_size;
	ctx.struct_page_size = p->struct_page_size;
	ctx.compat_align = p->compat_align;
	ctx.dax_aligns[0] = page_size;
	ctx.dax_aligns[1] = pmd;
	ctx.dax_aligns[2] = or_default(p->pud_size, SZ_1G);
	/* The instance is configured (uuid, align, mode set through sysfs). */
	ctx.adopted = true;
	memcpy(ctx.adopted_uuid, p->uuid, 16);
	ctx.adopted_align = or_default(p->align, pmd);
	ctx.adopted_mode = p->map;

	rc = zd_nd_pfn_validate_fd(fd, ns_offset, &ctx, out, why, whylen);
	if (rc != -ENODEV)
		return rc;

	/* No valid block for this instance: write a fresh one. */
	if (read_only)
		return fail(why, whylen, -ENXIO, "region is read-only, unable to init metadata");
	rc = zd_nd_pfn_init_sb(&sb, p, why, whylen);
	if (rc)
		return rc;
	rc = zd_nd_pfn_reserve(fd, ns_offset, &sb, why, whylen);
	if (rc)
		return rc;
	rc = zd_nd_pfn_write_sb(fd, ns_offset, &sb, why, whylen);
	if (rc)
		return rc;
	zd_nd_pfn_decode(&sb, page_size, &info);
	if (out)
		*out = info;
	if (created)
		*created = true;
	return 0;
}

/* ------------------------------------------------------------ text */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int zd_nd_uuid_parse(const char *s, uint8_t out[16])
{
	uint8_t u[16];
	int n = 0;

	if (!s || strlen(s) != 36)
		return -EINVAL;
	for (int i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			i++;
			continue;
		}
		int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		u[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	memcpy(out, u, 16);
	return 0;
}

char *zd_nd_uuid_format(const uint8_t u[16], char *buf)
{
	static const char hex[] = "0123456789abcdef";
	char *p = buf;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u[i] >> 4];
		*p++ = hex[u[i] & 15];
	}
	*p = '\0';
	return buf;
}

/* A JSON string body: printable ASCII as is, the rest escaped. */
static int json_string(FILE *f, const char *s, size_t max)
{
	int total = 0, n;

	if ((n = fputc('"', f)) == EOF)
		return -1;
	total++;
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			n = fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n = fprintf(f, "\\u%04x", c);
		else
			n = fputc(c, f) == EOF ? -1 : 1;
		if (n < 0)
			return -1;
		total += n;
	}
	if (fputc('"', f) == EOF)
		return -1;
	return total + 1;
}

int zd_nd_pfn_sb_dump_json(FILE *f, const struct zd_nd_pfn_sb *sb, const char *file)
{
	char u[ZD_UUID_STR_LEN], pu[ZD_UUID_STR_LEN];
	int total = 0, n;

	if ((n = fprintf(f, "{\n")) < 0)
		return -EIO;
	total += n;
	if (file) {
		if ((n = fprintf(f, "  \"file\":")) < 0)
			return -EIO;
		total += n;
		if ((n = json_string(f, file, (size_t)-1)) < 0)
			return -EIO;
		total += n;
		if ((n = fprintf(f, ",\n")) < 0)
			return -EIO;
		total += n;
	}
	if ((n = fprintf(f, "  \"signature\":")) < 0)
		return -EIO;
	total += n;
	if ((n = json_string(f, (const char *)sb->signature, ZD_PFN_SIG_LEN)) < 0)
		return -EIO;
	total += n;
	n = fprintf(f,
		    ",\n"
		    "  \"uuid\":\"%s\",\n"
		    "  \"parent_uuid\":\"%s\",\n"
		    "  \"flags\":%u,\n"
		    "  \"version\":\"%u.%u\",\n"
		    "  \"dataoff\":%llu,\n"
		    "  \"npfns\":%llu,\n"
		    "  \"mode\":%u,\n"
		    "  \"start_pad\":%u,\n"
		    "  \"end_trunc\":%u,\n"
		    "  \"align\":%u,\n"
		    "  \"page_size\":%u,\n"
		    "  \"page_struct_size\":%u\n"
		    "}\n",
		    zd_nd_uuid_format(sb->uuid, u), zd_nd_uuid_format(sb->parent_uuid, pu),
		    zd_le32_get(&sb->flags), zd_le16_get(&sb->version_major),
		    zd_le16_get(&sb->version_minor),
		    (unsigned long long)zd_le64_get(&sb->dataoff),
		    (unsigned long long)zd_le64_get(&sb->npfns), zd_le32_get(&sb->mode),
		    zd_le32_get(&sb->start_pad), zd_le32_get(&sb->end_trunc),
		    zd_le32_get(&sb->align), zd_le32_get(&sb->page_size),
		    (unsigned)zd_le16_get(&sb->page_struct_size));
	if (n < 0)
		return -EIO;
	return total + n;
}
