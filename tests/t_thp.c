/*
 * Anonymous THP (mm/huge_memory.c): the transparent_hugepage policy, PMD
 * faults and the huge zero folio, the split of a PMD a range takes in part
 * (munmap, mprotect, DONTNEED), COW after fork, a pin that keeps a folio
 * out of fork's sharing, mremap, MADV_FREE, and the counters the kernel
 * keeps (vmstat thp_*, meminfo AnonHugePages, smaps_rollup, pagemap).
 * Each case checks bytes through the CPU model, not only the tables.
 * Run on x86_64 (2 MiB PMD) and arm64 4K (the same size, another format).
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/swapops.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t ps, hps;   /* base page, PMD size */
static const char *an;
static char *buf;

static uint64_t meminfo(const char *f)
{
	uint64_t kb = 0;

	zd_meminfo_field(m, f, &kb);
	return kb;
}

static uint64_t map(uint64_t len, bool hugepage)
{
	int64_t a = zd_vm_mmap(mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE,
			       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);

	if (a > 0 && hugepage)
		zd_do_madvise(mm, (uint64_t)a, len, ZD_MADV_HUGEPAGE);
	return (uint64_t)a;
}

static enum zd_pt_level level_of(struct zd_mm *p, uint64_t a)
{
	enum zd_pt_level l = ZD_PT_PTE;
	struct zd_page *page;
	zd_pte_t e = zd_follow_pte(p, a, &l, &page);

	return m->arch.pgtable->pte_present(&m->arch, e) ? l : (enum zd_pt_level)-1;
}

static uint64_t pfn_of(struct zd_mm *p, uint64_t a)
{
	uint64_t pme = 0;

	zd_pagemap_read(p, (a / ps) * 8, &pme, 8);
	return pme & ((1ULL << 55) - 1);
}

static void pattern(struct zd_mm *p, uint64_t a, uint64_t len, unsigned seed)
{
	for (uint64_t i = 0; i < len; i++)
		buf[i] = (char)(seed + i * 7 + (i >> 12));
	zd_access_vm(p, a, buf, len, true);
}

static bool has_pattern(struct zd_mm *p, uint64_t a, uint64_t len, unsigned seed)
{
	if (zd_access_vm(p, a, buf, len, false))
		return false;
	for (uint64_t i = 0; i < len; i++)
		if (buf[i] != (char)(seed + i * 7 + (i >> 12)))
			return false;
	return true;
}

static unsigned long vmstat(unsigned long *field)
{
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

static void policy(void)
{
	static const struct { enum zd_thp_policy p; bool madv, nohuge, want; const char *what; } c[] = {
		{ ZD_THP_MADVISE, false, false, false, "madvise, no MADV_HUGEPAGE: base pages" },
		{ ZD_THP_MADVISE, true, false, true, "madvise + MADV_HUGEPAGE: a PMD" },
		{ ZD_THP_ALWAYS, false, false, true, "always: a PMD without advice" },
		{ ZD_THP_ALWAYS, false, true, false, "always + MADV_NOHUGEPAGE: base pages" },
		{ ZD_THP_NEVER, true, false, false, "never, even with MADV_HUGEPAGE: base pages" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t a;

		m->thp_enabled = c[i].p;
		a = map(hps, c[i].madv);
		if (c[i].nohuge)
			zd_do_madvise(mm, a, hps, ZD_MADV_NOHUGEPAGE);
		pattern(mm, a, 1, 1);
		is_int(level_of(mm, a), c[i].want ? ZD_PT_PMD : ZD_PT_PTE, "%s: %s", an, c[i].what);
		zd_vm_munmap(mm, a, hps);
	}
	m->thp_enabled = ZD_THP_MADVISE;

	/* thp_vma_suitable_order(): the PMD block must lie in the VMA */
	uint64_t a = map(hps / 2, true);
	pattern(mm, a, 1, 1);
	is_int(level_of(mm, a), ZD_PT_PTE, "%s: a VMA smaller than a PMD gets base pages", an);
	zd_vm_munmap(mm, a, hps / 2);
}

static void write_fault(void)
{
	unsigned long alloc0 = vmstat(&m->thp_fault_alloc);
	uint64_t pt0 = meminfo("PageTables"), anon0 = meminfo("AnonPages");
	uint64_t a = map(hps, true);

	pattern(mm, a + 5 * ps + 3, 1, 9);
	is_int(level_of(mm, a + hps - 1), ZD_PT_PMD, "%s: a write fault maps a PMD", an);
	is_u64(vmstat(&m->thp_fault_alloc) - alloc0, 1, "%s: thp_fault_alloc counts it", an);
	is_u64(meminfo("AnonHugePages"), hps >> 10, "%s: AnonHugePages", an);
	is_u64(meminfo("AnonPages") - anon0, hps >> 10, "%s: AnonPages counts its pages", an);
	is_u64((uint64_t)mm->rss_stat[ZD_MM_ANONPAGES], hps / ps, "%s: rss counts 512 pages", an);
	ok(meminfo("PageTables") > pt0, "%s: a PTE table is deposited with it (PageTables)", an);
	is_u64(pfn_of(mm, a + 7 * ps), pfn_of(mm, a) + 7, "%s: pagemap shows the subpage frames",
	       an);
	pattern(mm, a, hps, 3);
	ok(has_pattern(mm, a, hps, 3), "%s: 2 MiB of bytes round trip", an);
	zd_vm_munmap(mm, a, hps);
	is_u64(meminfo("AnonHugePages"), 0, "%s: munmap takes the THP", an);
	is_u64(meminfo("PageTables"), pt0, "%s: ... and its deposited table", an);
}

static void zero_folio(void)
{
	unsigned long zalloc0 = vmstat(&m->thp_zero_page_alloc);
	uint64_t a = map(hps, true);
	static char zero[64];

	ok(zd_access_vm(mm, a + 100, buf, 64, false) == 0 && !memcmp(buf, zero, 64),
	   "%s: a read fault reads zeroes", an);
	is_int(level_of(mm, a), ZD_PT_PMD, "%s: ... through a PMD", an);
	ok(m->huge_zero_folio && pfn_of(mm, a) == zd_page_to_pfn(m, m->huge_zero_folio),
	   "%s: ... of the huge zero folio", an);
	ok(vmstat(&m->thp_zero_page_alloc) - zalloc0 <= 1, "%s: allocated once at most", an);
	is_u64(meminfo("AnonHugePages"), 0, "%s: the zero folio is not AnonHugePages", an);
	pattern(mm, a + ps, 1, 4);
	is_int(level_of(mm, a), ZD_PT_PMD, "%s: a write then maps a THP (do_huge_zero_wp_pmd)", an);
	ok(pfn_of(mm, a) != zd_page_to_pfn(m, m->huge_zero_folio), "%s: ... of its own", an);
	is_u64(meminfo("AnonHugePages"), hps >> 10, "%s: ... counted", an);
	zd_vm_munmap(mm, a, hps);

	/* no THP to be had: the write falls back to the PTE path */
	unsigned long fb0 = vmstat(&m->thp_fault_fallback);
	a = map(hps, true);
	zd_access_vm(mm, a, buf, 1, false);
	zd_fault_inject_set(m, "alloc_thp", 1);
	pattern(mm, a, 1, 5);
	is_u64(vmstat(&m->thp_fault_fallback) - fb0, 1, "%s: thp_fault_fallback", an);
	is_int(level_of(mm, a), ZD_PT_PTE, "%s: the zero PMD was split for the 4K COW", an);
	ok(has_pattern(mm, a, 1, 5) && zd_access_vm(mm, a + ps, buf, 8, false) == 0 &&
	   !memcmp(buf, zero, 8), "%s: the written page and the zero pages read right", an);
	zd_vm_munmap(mm, a, hps);
}

/* A range that takes part of a THP splits its PMD first. */
static void partial(void)
{
	unsigned long split0 = vmstat(&m->thp_split_pmd);
	uint64_t anon0 = meminfo("AnonPages");
	uint64_t a = map(hps, true);

	pattern(mm, a, hps, 11);
	ok(zd_vm_munmap(mm, a + 8 * ps, ps) == 0, "%s: munmap of one page of a THP", an);
	is_u64(vmstat(&m->thp_split_pmd) - split0, 1, "%s: ... splits its PMD", an);
	is_int(level_of(mm, a), ZD_PT_PTE, "%s: ... into PTEs", an);
	is_u64(meminfo("AnonHugePages"), 0, "%s: ... no longer AnonHugePages", an);
	is_u64(meminfo("AnonPages") - anon0, (hps - ps) >> 10, "%s: ... one page less mapped", an);
	is_u64((uint64_t)mm->rss_stat[ZD_MM_ANONPAGES], hps / ps - 1, "%s: rss 511", an);
	ok(has_pattern(mm, a, 8 * ps, 11), "%s: the bytes before the hole stay", an);
	ok(zd_access_vm(mm, a + 8 * ps, buf, 1, false) != 0, "%s: the hole faults", an);
	zd_vm_munmap(mm, a, hps);

	a = map(hps, true);
	pattern(mm, a, hps, 12);
	ok(zd_do_mprotect(mm, a + ps, ps, ZD_PROT_READ) == 0, "%s: mprotect of one page", an);
	ok(zd_access_vm(mm, a + ps, buf, 1, true) != 0, "%s: ... that page is read-only", an);
	ok(zd_access_vm(mm, a + 2 * ps, "x", 1, true) == 0, "%s: ... its neighbours writable", an);
	zd_vm_munmap(mm, a, hps);

	a = map(hps, true);
	pattern(mm, a, hps, 13);
	ok(zd_do_madvise(mm, a, ps, ZD_MADV_DONTNEED) == 0, "%s: DONTNEED of one page", an);
	ok(zd_access_vm(mm, a, buf, 4, false) == 0 && !buf[0] && !buf[3],
	   "%s: ... refaults as zeroes", an);
	zd_access_vm(mm, a + ps, buf, ps, false);
	ok(buf[0] == (char)(13 + ps * 7 + 1), "%s: ... the rest keeps its bytes", an);
	zd_vm_munmap(mm, a, hps);
}

static void cow(void)
{
	uint64_t a = map(hps, true);
	struct zd_mm *child;

	pattern(mm, a, hps, 21);
	child = zd_dup_mm(mm);
	is_int(level_of(child, a), ZD_PT_PMD, "%s: fork maps the THP in the child by a PMD", an);
	is_u64(pfn_of(child, a), pfn_of(mm, a), "%s: ... the same folio", an);
	is_u64(meminfo("AnonHugePages"), hps >> 10, "%s: one THP, mapped twice", an);
	pattern(child, a + 3 * ps, ps, 22);
	is_int(level_of(child, a), ZD_PT_PTE, "%s: the child's write splits its PMD", an);
	ok(pfn_of(child, a + 3 * ps) != pfn_of(mm, a + 3 * ps), "%s: ... and copies one page", an);
	is_u64(pfn_of(child, a + 4 * ps), pfn_of(mm, a + 4 * ps), "%s: ... only that one", an);
	ok(has_pattern(mm, a, hps, 21), "%s: the parent keeps its bytes", an);
	pattern(mm, a, hps, 23);
	ok(has_pattern(child, a + 3 * ps, ps, 22), "%s: the child keeps its write", an);
	zd_access_vm(child, a, buf, 1, false);
	ok(buf[0] == (char)21, "%s: the child keeps the bytes of fork time", an);
	zd_mmput(child);
	zd_vm_munmap(mm, a, hps);

	/* an exclusive THP written after the sharer went is reused in place */
	a = map(hps, true);
	pattern(mm, a, 1, 24);
	child = zd_dup_mm(mm);
	zd_mmput(child);
	uint64_t pfn = pfn_of(mm, a);
	pattern(mm, a, 1, 25);
	ok(level_of(mm, a) == ZD_PT_PMD && pfn_of(mm, a) == pfn,
	   "%s: a THP nobody shares any more is reused by the write", an);
	zd_vm_munmap(mm, a, hps);
}

static void pin_and_fork(void)
{
	uint64_t a = map(hps, true);
	struct zd_page *pages[4], *folio;
	struct zd_mm *child;
	long n;

	pattern(mm, a, hps, 31);
	folio = zd_pfn_to_page(m, pfn_of(mm, a));
	int ref0 = zd_page_ref_count(folio);
	n = zd_pin_user_pages_fast(mm, a + ps, 4, ZD_FOLL_WRITE, pages);
	is_int(n, 4, "%s: pin_user_pages_fast of a PMD-mapped THP", an);
	is_u64(*zd_folio_pincount(folio), 4, "%s: _pincount counts the pins", an);
	is_int(zd_page_ref_count(folio) - ref0, 4, "%s: ... one reference each", an);
	ok(n == 4 && pages[2] == folio + 3, "%s: ... the subpages", an);
	child = zd_dup_mm(mm);
	is_int(level_of(mm, a), ZD_PT_PTE, "%s: fork splits a pinned THP's PMD", an);
	ok(pfn_of(child, a + ps) != pfn_of(mm, a + ps), "%s: ... and copies for the child", an);
	is_u64(pfn_of(mm, a + ps), zd_page_to_pfn(m, folio + 1), "%s: the pin stays the parent's",
	       an);
	pattern(mm, a + ps, ps, 32);
	ok(((char *)zd_page_address(m, pages[0]))[0] == (char)(32), "%s: a parent write reaches "
	   "the pinned page", an);
	pattern(child, a + ps, ps, 33);
	ok(((char *)zd_page_address(m, pages[0]))[0] == (char)(32), "%s: a child write does not",
	   an);
	zd_unpin_user_pages(m, pages, 4);
	is_u64(*zd_folio_pincount(folio), 0, "%s: unpin drops _pincount", an);
	zd_mmput(child);
	zd_vm_munmap(mm, a, hps);

	/* a R/O pin of a shared THP unshares (the process gets its own page) */
	a = map(hps, true);
	pattern(mm, a, hps, 34);
	child = zd_dup_mm(mm);
	n = zd_pin_user_pages_unlocked(mm, a, 1, 0, pages);
	ok(n == 1 && zd_page_to_pfn(m, pages[0]) != pfn_of(child, a),
	   "%s: a R/O pin of a shared THP gets an unshared page", an);
	pattern(child, a, 1, 35);
	ok(n == 1 && ((char *)zd_page_address(m, pages[0]))[0] == (char)34,
	   "%s: ... the child's write does not reach it", an);
	if (n == 1)
		zd_unpin_user_page(m, pages[0]);
	zd_mmput(child);
	zd_vm_munmap(mm, a, hps);
}

static void move_and_free(void)
{
	uint64_t a = map(hps, true), b;

	pattern(mm, a, hps, 41);
	b = (uint64_t)zd_do_mremap(mm, a, hps, hps, ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED,
				   a + 4 * hps);
	is_u64(b, a + 4 * hps, "%s: mremap moves the THP", an);
	ok(has_pattern(mm, b, hps, 41), "%s: ... with its bytes", an);
	is_int(level_of(mm, b), ZD_PT_PMD, "%s: ... still a PMD (move_huge_pmd)", an);
	is_u64(meminfo("AnonHugePages"), hps >> 10, "%s: ... still AnonHugePages", an);
	b = (uint64_t)zd_do_mremap(mm, b, hps, hps, ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED,
				   b + 2 * hps + ps);
	ok(has_pattern(mm, b, hps, 41), "%s: a move to a misaligned place keeps the bytes", an);
	is_int(level_of(mm, b), ZD_PT_PTE, "%s: ... split into PTEs", an);
	zd_vm_munmap(mm, b, hps);

	a = map(hps, true);
	pattern(mm, a, hps, 42);
	ok(zd_do_madvise(mm, a, hps, ZD_MADV_FREE) == 0, "%s: MADV_FREE of a whole THP", an);
	is_int(level_of(mm, a), ZD_PT_PMD, "%s: ... keeps the PMD", an);
	is_u64(tap_smaps_rollup_kb(mm, "LazyFree:"), hps >> 10, "%s: smaps_rollup counts it LazyFree",
	       an);
	is_u64(tap_smaps_rollup_kb(mm, "AnonHugePages:"), hps >> 10, "%s: smaps_rollup's AnonHugePages",
	       an);
	zd_vm_munmap(mm, a, hps);
}

/* MADV_COLLAPSE: PTE-mapped pages become one THP, the rules and refusals. */
static void collapse(void)
{
	uint64_t a = map(hps, false), free0, pt0;
	unsigned long c0 = vmstat(&m->thp_collapse_alloc);
	struct zd_mm *child;
	struct zd_page *pin;

	pattern(mm, a, hps / 2, 61);   /* the upper half stays none */
	pattern(mm, a + hps - ps, ps, 62);
	is_int(level_of(mm, a), ZD_PT_PTE, "%s: base pages without advice", an);
	free0 = meminfo("MemFree");
	pt0 = meminfo("PageTables");
	is_int(zd_do_madvise(mm, a, hps, ZD_MADV_COLLAPSE), 0, "%s: MADV_COLLAPSE", an);
	is_int(level_of(mm, a), ZD_PT_PMD, "%s: ... maps a PMD", an);
	is_u64(vmstat(&m->thp_collapse_alloc) - c0, 1, "%s: thp_collapse_alloc", an);
	ok(has_pattern(mm, a, hps / 2, 61) && has_pattern(mm, a + hps - ps, ps, 62),
	   "%s: ... with every byte", an);
	zd_access_vm(mm, a + hps / 2, buf, 16, false);
	ok(!buf[0] && !buf[15], "%s: ... the pages that were none read zeroes", an);
	is_u64(meminfo("AnonHugePages"), hps >> 10, "%s: ... AnonHugePages", an);
	is_u64(free0 - meminfo("MemFree"), (hps - (hps / 2 + ps)) >> 10,
	       "%s: ... the old pages freed (MemFree less only by the none pages)", an);
	is_u64(meminfo("PageTables"), pt0, "%s: ... the PTE table became the deposit", an);
	is_int(zd_do_madvise(mm, a, hps, ZD_MADV_COLLAPSE), 0, "%s: a THP collapses to itself",
	       an);
	zd_vm_munmap(mm, a, hps);

	a = map(hps, false);
	pattern(mm, a, hps, 63);
	is_int(zd_do_madvise(mm, a, hps / 2, ZD_MADV_COLLAPSE), -EINVAL,
	       "%s: a range without a whole PMD block is EINVAL", an);
	zd_do_madvise(mm, a, hps, ZD_MADV_NOHUGEPAGE);
	is_int(zd_do_madvise(mm, a, hps, ZD_MADV_COLLAPSE), -EINVAL, "%s: NOHUGEPAGE is EINVAL",
	       an);
	zd_do_madvise(mm, a, hps, ZD_MADV_NORMAL);
	zd_do_madvise(mm, a, hps, ZD_MADV_HUGEPAGE);   /* clears NOHUGEPAGE */
	ok(zd_pin_user_pages_fast(mm, a + ps, 1, 0, &pin) == 1, "%s: a R/O pin", an);
	is_int(zd_do_madvise(mm, a, hps, ZD_MADV_COLLAPSE), -EAGAIN,
	       "%s: a pinned page makes it EAGAIN", an);
	is_int(level_of(mm, a), ZD_PT_PTE, "%s: ... nothing changed", an);
	zd_unpin_user_page(m, pin);
	zd_fault_inject_set(m, "alloc_thp", 1);
	is_int(zd_do_madvise(mm, a, hps, ZD_MADV_COLLAPSE), -ENOMEM, "%s: no THP to be had: ENOMEM",
	       an);
	ok(has_pattern(mm, a, hps, 63), "%s: ... the bytes stay", an);
	child = zd_dup_mm(mm);
	/* hpage_collapse_scan_pmd()'s SCAN_PAGE_RO: no writable PTE, no collapse */
	is_int(zd_do_madvise(mm, a, hps, ZD_MADV_COLLAPSE), -EINVAL,
	       "%s: a block fork left all read-only is EINVAL", an);
	pattern(mm, a + 7 * ps, ps, 63 + 7 * ps * 7 + 7);   /* same bytes, a writable copy */
	is_int(zd_do_madvise(mm, a, hps, ZD_MADV_COLLAPSE), 0,
	       "%s: with one writable page the shared ones collapse too", an);
	ok(has_pattern(mm, a, hps, 63) && level_of(mm, a) == ZD_PT_PMD,
	   "%s: ... into the parent's own THP", an);
	pattern(mm, a, ps, 64);
	ok(has_pattern(child, a, hps, 63) && level_of(child, a) == ZD_PT_PTE,
	   "%s: the child keeps the old pages and bytes", an);
	zd_mmput(child);
	zd_vm_munmap(mm, a, hps);

	int64_t sh = zd_vm_mmap(mm, 0, hps, ZD_PROT_READ | ZD_PROT_WRITE,
				ZD_MAP_SHARED | ZD_MAP_ANONYMOUS, NULL, 0);
	pattern(mm, (uint64_t)sh, ps, 65);
	is_int(zd_do_madvise(mm, (uint64_t)sh, hps, ZD_MADV_COLLAPSE), -EINVAL,
	       "%s: shmem collapse is EINVAL (not modelled)", an);
	zd_vm_munmap(mm, (uint64_t)sh, hps);
}

static bool in_range(struct zd_mm *p, uint64_t a, uint64_t lo, uint64_t hi)
{
	uint64_t pfn = pfn_of(p, a) << m->arch.page_shift;

	return pfn >= lo && pfn < hi;
}

/* offline_pages() meets a THP in the block: split_folio, then its pages
 * migrate one by one, in both processes that map it, bytes intact. */
static void offline_splits(void)
{
	const uint64_t blk = 4 * G, bsz = 128 * M;
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1,
				     .auto_online_blocks = ZD_MMOP_ONLINE_MOVABLE };
	struct zd_mm *child;
	struct zd_page *pin;
	uint64_t a;

	an = "x86_64 offline";
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "%s: machine", an))
		return;
	ps = m->arch.page_size;
	hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	ok(zd_add_memory(m, 0, blk, bsz, 0) == 0, "%s: a movable block hot-added", an);
	mm = zd_mm_alloc(m);

	/* a FOLL_LONGTERM pin of a THP in ZONE_MOVABLE moves it first, whole */
	uint64_t l = map(hps, true);
	struct zd_page *lt[4];
	pattern(mm, l, hps, 50);
	ok(in_range(mm, l, blk, blk + bsz), "%s: a THP in the movable block", an);
	unsigned long tml = vmstat(&m->thp_migration_success);
	is_int(zd_pin_user_pages_fast(mm, l + ps, 4, ZD_FOLL_WRITE | ZD_FOLL_LONGTERM, lt), 4,
	       "%s: a FOLL_LONGTERM pin of it", an);
	ok(zd_page_zonenum(lt[0]) != ZD_ZONE_MOVABLE && !in_range(mm, l, blk, blk + bsz),
	   "%s: ... pins pages outside ZONE_MOVABLE", an);
	is_u64(vmstat(&m->thp_migration_success) - tml, 1, "%s: ... the THP moved whole", an);
	ok(level_of(mm, l) == ZD_PT_PMD && has_pattern(mm, l, hps, 50),
	   "%s: ... PMD-mapped again, with its bytes", an);
	zd_unpin_user_pages(m, lt, 4);
	zd_vm_munmap(mm, l, hps);

	a = map(2 * hps, true);
	pattern(mm, a, 2 * hps, 51);
	ok(level_of(mm, a) == ZD_PT_PMD && in_range(mm, a, blk, blk + bsz) &&
	   in_range(mm, a + hps, blk, blk + bsz), "%s: two THPs in the movable block", an);
	child = zd_dup_mm(mm);
	pattern(child, a + hps + 9 * ps, ps, 52);   /* the child's PMD splits, one page its own */
	/* a pin keeps the block online (the R/O pin of a shared THP page
	 * unshares it: the pinned page is the parent's own copy, in the block) */
	ok(zd_pin_user_pages_fast(mm, a + 3 * ps, 1, 0, &pin) == 1, "%s: a R/O pin", an);
	/* no THP outside for the first THP met: it is split; the other moves whole */
	zd_fault_inject_set(m, "alloc_thp", 1);
	unsigned long tm0 = vmstat(&m->thp_migration_success), sp0 = vmstat(&m->thp_split_pmd);
	is_int(zd_offline_memory_range(m, blk, bsz), -EBUSY, "%s: offline with a pinned page is EBUSY",
	       an);
	ok(has_pattern(mm, a, 2 * hps, 51), "%s: ... the bytes stay", an);
	zd_unpin_user_page(m, pin);
	is_int(zd_offline_memory_range(m, blk, bsz), 0, "%s: after the unpin offline succeeds",
	       an);
	is_u64(vmstat(&m->thp_migration_success) - tm0, 1, "%s: one THP moved whole", an);
	ok(vmstat(&m->thp_split_pmd) > sp0, "%s: ... the other was split", an);
	ok(has_pattern(mm, a, 2 * hps, 51), "%s: the parent's bytes intact", an);
	ok(has_pattern(child, a, hps + 9 * ps, 51) && has_pattern(child, a + hps + 9 * ps, ps, 52) &&
	   /* the stream from a + hps + 10 pages on: its seed shifted by that offset */
	   has_pattern(child, a + hps + 10 * ps, hps - 10 * ps,
		       (unsigned)(51 + (hps + 10 * ps) * 7 + ((hps + 10 * ps) >> 12))),
	   "%s: the child's bytes intact", an);
	bool outside = true;
	for (uint64_t off = 0; off < 2 * hps; off += ps)
		outside = outside && !in_range(mm, a + off, blk, blk + bsz) &&
			  !in_range(child, a + off, blk, blk + bsz);
	ok(outside, "%s: no page left in the block", an);
	is_u64(pfn_of(child, a + 5 * ps), pfn_of(mm, a + 5 * ps), "%s: shared pages stay shared",
	       an);
	/* the whole move maps its PMD again where one mapped it: THP 1 in the
	 * child (the parent's was split by the unshare), THP 2 in the parent */
	is_int((level_of(child, a) == ZD_PT_PMD) + (level_of(mm, a + hps) == ZD_PT_PMD), 1,
	       "%s: the moved THP is PMD-mapped again, the split one is not", an);
	is_u64(meminfo("AnonHugePages"), hps >> 10, "%s: one THP left", an);
	zd_mmput(child);
	zd_mmput(mm);
	is_u64(m->nr_anon_mapped, 0, "%s: nothing mapped at exit", an);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", an);
	zd_machine_destroy(m);
}

/* move_pages(2) of an address in a THP moves the whole THP to the node,
 * PMD-mapped again; a THP a fork child shares needs MOVE_ALL. */
static void move_pages_thp(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G, .node = 0 },
				      { .start = 1 * G, .size = 1 * G, .node = 1 } };
	struct zd_machine_desc d = { .arch = "x86_64", .nr_nodes = 2, .ram = ram, .nr_ram = 2 };
	int node = 1, status = 99;
	struct zd_mm *child;
	uint64_t a, at;

	an = "x86_64 move_pages";
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "%s: a two-node machine", an))
		return;
	ps = m->arch.page_size;
	hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	mm = zd_mm_alloc(m);
	a = map(hps, true);
	pattern(mm, a, hps, 71);
	at = a + 5 * ps;
	ok(level_of(mm, a) == ZD_PT_PMD && !zd_page_to_nid(zd_pfn_to_page(m, pfn_of(mm, a))),
	   "%s: a THP on node 0", an);
	child = zd_dup_mm(mm);
	is_int(zd_move_pages(mm, 1, &at, &node, &status, ZD_MPOL_MF_MOVE), 0, "%s: move_pages", an);
	is_int(status, -EACCES, "%s: a THP the child shares is EACCES without MOVE_ALL", an);
	zd_mmput(child);
	unsigned long tm0 = vmstat(&m->thp_migration_success);
	is_int(zd_move_pages(mm, 1, &at, &node, &status, ZD_MPOL_MF_MOVE), 0,
	       "%s: move_pages once it is the parent's alone", an);
	is_int(status, 1, "%s: ... status node 1", an);
	is_u64(vmstat(&m->thp_migration_success) - tm0, 1, "%s: ... the THP moved whole", an);
	ok(level_of(mm, a) == ZD_PT_PMD && zd_page_to_nid(zd_pfn_to_page(m, pfn_of(mm, a))) == 1 &&
	   zd_page_to_nid(zd_pfn_to_page(m, pfn_of(mm, a + hps - ps))) == 1,
	   "%s: ... PMD-mapped on node 1, every page of it", an);
	ok(has_pattern(mm, a, hps, 71), "%s: ... with its bytes", an);
	is_u64(meminfo("AnonHugePages"), hps >> 10, "%s: ... still AnonHugePages", an);

	/* a THP that PTEs map moves whole but stays PTE-mapped: only a PMD
	 * that was there is restored (remove_migration_pmd) */
	zd_do_mprotect(mm, a + ps, ps, ZD_PROT_READ);
	zd_do_mprotect(mm, a + ps, ps, ZD_PROT_READ | ZD_PROT_WRITE);
	node = 0;
	ok(level_of(mm, a) == ZD_PT_PTE &&
	   zd_move_pages(mm, 1, &at, &node, &status, ZD_MPOL_MF_MOVE) == 0 && status == 0,
	   "%s: a PTE-mapped THP moves back to node 0", an);
	is_int(level_of(mm, a), ZD_PT_PTE, "%s: ... still PTE-mapped", an);
	ok(has_pattern(mm, a, hps, 71), "%s: ... with its bytes", an);

	/* split_folio refuses a pinned folio before it changes anything */
	uint64_t b = map(hps, true);
	struct zd_page *pin, *folio;
	pattern(mm, b, 1, 72);
	ok(zd_pin_user_pages_fast(mm, b, 1, 0, &pin) == 1, "%s: a R/O pin of an exclusive THP", an);
	folio = zd_page_folio(m, pin);
	zd_get_page(m, folio);
	zd_lock_page(folio);
	is_int(zd_split_folio(m, folio), -EAGAIN, "%s: split_folio of a pinned THP: EAGAIN", an);
	zd_unlock_page(folio);
	zd_put_page(m, folio);
	is_int(level_of(mm, b), ZD_PT_PMD, "%s: ... its PMD intact", an);
	zd_unpin_user_page(m, pin);
	zd_mmput(mm);
	is_u64(m->nr_anon_thps, 0, "%s: no THP left at exit", an);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", an);
	zd_machine_destroy(m);
}

static void one_arch(const char *arch)
{
	uint64_t free0;

	an = arch;
	m = tap_machine(arch, 0, 0, 1 * G, NULL, 0);
	if (!m)
		return;
	ps = m->arch.page_size;
	hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	/* the huge zero folio stays once made: make it before the baseline */
	mm = zd_mm_alloc(m);
	zd_access_vm(mm, map(hps, true), buf, 1, false);
	zd_mmput(mm);
	free0 = meminfo("MemFree");
	mm = zd_mm_alloc(m);
	policy();
	write_fault();
	zero_folio();
	partial();
	cow();
	pin_and_fork();
	move_and_free();
	collapse();
	zd_mmput(mm);
	is_u64(meminfo("MemFree"), free0, "%s: every page and table back at exit", arch);
	is_u64(m->nr_anon_thps, 0, "%s: no THP left", arch);
	is_u64(m->nr_anon_mapped, 0, "%s: nothing mapped", arch);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", arch);
	zd_machine_destroy(m);
}

int main(void)
{
	buf = malloc(4 * M);
	one_arch("x86_64");
	one_arch("arm64-4k");
	offline_splits();
	move_pages_thp();
	free(buf);
	return done_testing();
}
