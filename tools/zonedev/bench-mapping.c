/*
 * The mapping kinds of `bench gup` and `bench fault` (bench-mapping.h) and
 * the machine they run on. Devdax namespaces keep their memmap in RAM
 * (map=mem): with 2M and 1G folios it is deduplicated to two memmap pages
 * per folio, so a GiB-sized mapping costs the host a few MiB; the region
 * files stay sparse except for the bytes a bench writes. THP is probed,
 * not assumed: a MADV_HUGEPAGE anonymous write fault must map a PMD leaf,
 * or the rows say THP is not there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zonedev/dax.h>
#include "bench.h"
#include "bench-mapping.h"
#include "cli.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
/* Device regions above boot RAM, 1 GiB aligned so 1G folios align. */
#define REGION_START (64 * GIB)
#define REGION_ALIGN (16 * MIB)

static int64_t map_anon(struct bench_mm *b, uint64_t len)
{
	return zd_vm_mmap(b->mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE,
			  ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
}

static int probe_anon(struct bench_mm *b, char *note, size_t n)
{
	(void)b, (void)note, (void)n;
	return 0;
}

/* An anonymous range with its start on a PMD boundary: mmap leaf more and
 * give back the ends, so a huge page fault has whole aligned PMDs. */
static int64_t map_anon_aligned(struct bench_mm *b, uint64_t len, uint64_t align)
{
	int64_t a = map_anon(b, len + align);
	uint64_t start;

	if (a < 0)
		return a;
	start = bench_align((uint64_t)a, align);
	if (start > (uint64_t)a)
		zd_vm_munmap(b->mm, (uint64_t)a, start - (uint64_t)a);
	if ((uint64_t)a + align > start)
		zd_vm_munmap(b->mm, start + len, (uint64_t)a + align - start);
	return (int64_t)start;
}

static int64_t map_thp(struct bench_mm *b, uint64_t len)
{
	int64_t a = map_anon_aligned(b, len, 2 * MIB);
	int rc;

	if (a < 0)
		return a;
	rc = zd_do_madvise(b->mm, (uint64_t)a, len, ZD_MADV_HUGEPAGE);
	if (rc) {
		zd_vm_munmap(b->mm, (uint64_t)a, len);
		return rc;
	}
	return a;
}

/* One write fault in a fresh MADV_HUGEPAGE range: a PMD leaf, or no THP. */
static int probe_thp(struct bench_mm *b, char *note, size_t n)
{
	int64_t a = map_thp(b, 2 * MIB);
	enum zd_pt_level level = ZD_PT_PTE;
	struct zd_page *page;
	char c = 1;
	int rc;

	if (a < 0) {
		snprintf(note, n, "mmap of a MADV_HUGEPAGE range failed with %s",
			 zd_errno_name((int)a));
		return (int)a;
	}
	rc = zd_access_vm(b->mm, (uint64_t)a, &c, 1, true);
	if (!rc)
		zd_follow_pte(b->mm, (uint64_t)a, &level, &page);
	zd_vm_munmap(b->mm, (uint64_t)a, 2 * MIB);
	if (rc) {
		snprintf(note, n, "a write to a MADV_HUGEPAGE range failed with %s",
			 zd_errno_name(rc));
		return rc;
	}
	if (level != ZD_PT_PMD) {
		snprintf(note, n, "no THP: a write fault in a 2M-aligned MADV_HUGEPAGE range "
			 "mapped a %s entry, not a PMD leaf (anonymous PMD folios are not "
			 "modelled in this build)", level == ZD_PT_PTE ? "PTE" : "non-PMD");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int probe_dax(struct bench_mm *b, int i, char *note, size_t n)
{
	if (!b->dax[i]) {
		snprintf(note, n, "no device-dax instance");
		return -ENODEV;
	}
	return 0;
}

static int probe_dax2m(struct bench_mm *b, char *note, size_t n)
{
	return probe_dax(b, BENCH_DAX_2M, note, n);
}

static int probe_dax1g(struct bench_mm *b, char *note, size_t n)
{
	return probe_dax(b, BENCH_DAX_1G, note, n);
}

static int64_t map_dax(struct bench_mm *b, int i, uint64_t len)
{
	return zd_vm_mmap(b->mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, b->dax[i], 0);
}

static int64_t map_dax2m(struct bench_mm *b, uint64_t len)
{
	return map_dax(b, BENCH_DAX_2M, len);
}

static int64_t map_dax1g(struct bench_mm *b, uint64_t len)
{
	return map_dax(b, BENCH_DAX_1G, len);
}

static int probe_fsdax(struct bench_mm *b, char *note, size_t n)
{
	return probe_dax(b, BENCH_FSDAX, note, n);
}

/* The file is 2M-aligned extents, so MAP_SHARED faults map PMD leaves. */
static int64_t map_fsdax(struct bench_mm *b, uint64_t len)
{
	return map_dax(b, BENCH_FSDAX, len);
}

const struct bench_kind bench_kinds[] = {
	{ "anon-4k", "anonymous 4K pages", 4096, probe_anon, map_anon },
	{ "thp", "anonymous THP (2M PMD folios, MADV_HUGEPAGE)", 2 * MIB, probe_thp, map_thp },
	{ "devdax-2m", "device-dax, align 2M (PMD leaves of compound folios)", 2 * MIB,
	  probe_dax2m, map_dax2m },
	{ "devdax-1g", "device-dax, align 1G (PUD leaves of compound folios)", GIB,
	  probe_dax1g, map_dax1g },
	{ "fsdax", "a DAX file on an fsdax namespace (2M extents: PMD leaves, pages refcounted "
	  "as since v6.15)", 2 * MIB, probe_fsdax, map_fsdax },
};
const size_t bench_nr_kinds = sizeof(bench_kinds) / sizeof(bench_kinds[0]);

const char *bench_kind_names(void)
{
	static char names[128];

	if (!names[0])
		for (size_t i = 0; i < bench_nr_kinds; i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 i ? "," : "", bench_kinds[i].name);
	return names;
}

int bench_mapping_args(const struct bench *b, uint64_t size, const char *size_arg,
		       const char *dir)
{
	struct stat st;

	if (size % (2 * MIB))
		return bench_bad(b, "--size", size_arg, "not a multiple of 2M");
	if (size > (1ULL << 40))
		return bench_bad(b, "--size", size_arg, "more than the bench's 1T");
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return bench_bad(b, "--dir", dir, "not a directory");
	return 0;
}

uint32_t bench_parse_kinds(const struct bench *b, const char *list, int *rc)
{
	uint32_t mask = 0;
	const char *p = list;

	*rc = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < bench_nr_kinds; i++)
			if (strlen(bench_kinds[i].name) == len && !strncmp(bench_kinds[i].name, p, len))
				break;
		if (i == bench_nr_kinds || !len) {
			*rc = bench_bad(b, "--kind", list, "'%.*s' is not one of %s", (int)len, p,
					bench_kind_names());
			return 0;
		}
		mask |= 1u << i;
		p += len + (p[len] == ',');
	}
	if (!mask)
		*rc = bench_bad(b, "--kind", list, "names no kind (one or more of %s)",
				bench_kind_names());
	return mask;
}

static bool wants(uint32_t kinds, const char *name)
{
	for (size_t i = 0; i < bench_nr_kinds; i++)
		if ((kinds & (1u << i)) && !strcmp(bench_kinds[i].name, name))
			return true;
	return false;
}

static bool wants_anon(uint32_t kinds)
{
	return wants(kinds, "anon-4k") || wants(kinds, "thp");
}

static uint64_t ram_bytes(uint64_t size, uint32_t kinds)
{
	/* the anonymous mapping, its page tables and the kernel's own */
	return (wants_anon(kinds) ? bench_align(size, GIB) : 0) + 2 * GIB;
}

uint64_t bench_mm_host_bytes(uint64_t size, uint32_t kinds)
{
	uint64_t anon = wants_anon(kinds) ? bench_align(size, 2 * MIB) : 0;

	/* boot memmap (64 bytes per 4 KiB) and the devdax memmap (two pages
	 * per folio) stay small next to the anonymous bytes; the fsdax
	 * namespace's memmap is not deduplicated */
	return anon + ram_bytes(size, kinds) / 64 + bench_align(size, GIB) / 256 +
	       (wants(kinds, "fsdax") ? bench_align(size, 2 * MIB) / 64 : 0);
}

static uint64_t region_bytes(uint64_t size, uint64_t align)
{
	/* the info block and the padding to the first aligned data byte */
	return bench_align(bench_align(size, align) + align, REGION_ALIGN);
}

int bench_mm_create(struct bench *bn, struct bench_mm *b, uint64_t size, uint32_t kinds,
		    const char *dir)
{
	static const uint64_t aligns[BENCH_NR_DAX] = { 2 * MIB, GIB, 2 * MIB };
	static const char *names[BENCH_NR_DAX] = { "devdax-2m", "devdax-1g", "fsdax" };
	/* the file system's metadata and a 2M-aligned start for the file */
	static const uint64_t slack[BENCH_NR_DAX] = { 0, 0, 8 * MIB };
	struct zd_mem_range ram[] = { { .start = 0, .size = ram_bytes(size, kinds) } };
	struct zd_nd_region_desc pm[BENCH_NR_DAX];
	struct zd_nd_region *r[BENCH_NR_DAX] = { 0 };
	int idx[BENCH_NR_DAX];
	size_t npm = 0;
	uint64_t at = REGION_START;

	memset(b, 0, sizeof(*b));
	for (int i = 0; i < BENCH_NR_DAX; i++) {
		idx[i] = -1;
		if (!wants(kinds, names[i]))
			continue;
		snprintf(b->path[i], sizeof(b->path[i]), "%s/zonedev-bench-%d-%s.pmem", dir,
			 (int)getpid(), names[i]);
		unlink(b->path[i]);
		cleanup_register_file(b->path[i]);
		pm[npm] = (struct zd_nd_region_desc){ .start = at,
						      .size = region_bytes(size + slack[i], aligns[i]),
						      .path = b->path[i] };
		at = bench_align(at + pm[npm].size, GIB);
		idx[i] = (int)npm++;
	}
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = pm,
				     .nr_pmem = npm, .host_memory_unguarded = bn->no_guard,
				     .progress = progress_update };
	b->m = zd_machine_create(&d);
	if (ZD_IS_ERR(b->m)) {
		b->m = NULL;
		bench_mm_destroy(b);
		return bench_fail(bn, "%s", zd_machine_create_error());
	}
	bn->m = b->m;
	b->mm = zd_mm_alloc(b->m);
	if (ZD_IS_ERR(b->mm)) {
		b->mm = NULL;
		return bench_fail(bn, "cannot make a process on the bench machine");
	}
	for (int i = 0; i < BENCH_NR_DAX; i++) {
		struct zd_nd_namespace_opts o = {
			.mode = i == BENCH_FSDAX ? ZD_NS_MODE_FSDAX : ZD_NS_MODE_DEVDAX,
			.map = ZD_ND_MAP_MEM, .align = aligns[i] };
		struct zd_nd_namespace_info in;
		char region[24];
		int rc;

		if (idx[i] < 0)
			continue;
		snprintf(region, sizeof(region), "region%d", idx[i]);
		r[i] = zd_nd_region_find(b->m, region);
		rc = r[i] ? zd_nd_create_namespace(r[i], &o) : -ENODEV;
		if (rc)
			return bench_fail(bn, "%s: create-namespace --mode %s --align %lluM "
					  "failed with %s", names[i], i == BENCH_FSDAX ? "fsdax" :
					  "devdax", ULL(aligns[i] >> 20), zd_errno_name(rc));
		if (i == BENCH_FSDAX) {
			if ((rc = zd_daxfs_mkfs(r[i])) ||
			    (rc = zd_daxfs_create(r[i], "bench", bench_align(size, 2 * MIB))))
				return bench_fail(bn, "fsdax: mkfs or a %llu-byte file failed with %s",
						  ULL(bench_align(size, 2 * MIB)), zd_errno_name(rc));
			b->dax[i] = zd_daxfs_open(r[i], "bench", ZD_FMODE_READ | ZD_FMODE_WRITE);
			if (ZD_IS_ERR(b->dax[i])) {
				rc = (int)ZD_PTR_ERR(b->dax[i]);
				b->dax[i] = NULL;
				return bench_fail(bn, "fsdax: opening the file failed with %s",
						  zd_errno_name(rc));
			}
			continue;
		}
		zd_nd_namespace_get(r[i], &in);
		if (in.size < bench_align(size, aligns[i]))
			return bench_fail(bn, "%s: the namespace holds %llu bytes, not the %llu the "
					  "mapping needs", names[i], ULL(in.size),
					  ULL(bench_align(size, aligns[i])));
		b->dax[i] = zd_dev_dax_open(r[i]);
		if (ZD_IS_ERR(b->dax[i])) {
			rc = (int)ZD_PTR_ERR(b->dax[i]);
			b->dax[i] = NULL;
			return bench_fail(bn, "%s: opening its dax device failed with %s", names[i],
					  zd_errno_name(rc));
		}
	}
	return 0;
}

void bench_mm_destroy(struct bench_mm *b)
{
	for (int i = 0; i < BENCH_NR_DAX; i++)
		if (b->dax[i])
			zd_fput(b->dax[i]);
	if (b->mm)
		zd_mmput(b->mm);
	if (b->m)
		zd_machine_destroy(b->m);
	for (int i = 0; i < BENCH_NR_DAX; i++)
		if (b->path[i][0])
			unlink(b->path[i]);
	memset(b, 0, sizeof(*b));
}

int bench_mm_touch(struct bench_mm *b, uint64_t addr, uint64_t len, uint64_t step)
{
	for (uint64_t off = 0; off < len; off += step) {
		char c = (char)(off / step) | 1;
		int rc = zd_access_vm(b->mm, addr + off, &c, 1, true);

		if (rc)
			return rc;
	}
	return 0;
}
