/*
 * Device THP (issue 9; spec hmm.md §2.5-2.9, invariant 15) under both
 * device-private designs on x86_64 and arm64-4k:
 *  - collect with SELECT_COMPOUND: a PMD-mapped THP is one
 *    MIGRATE|COMPOUND|WRITE head entry, its 511 tail slots 0, cpages 1;
 *    finalize without a destination gives the PMD back (same folio);
 *  - a THP goes to a private device as one 2 MiB device folio under one
 *    device-private PMD (type and offset per design), pagemap PM_SWAP
 *    with consecutive offsets, AnonHugePages and rss unchanged;
 *  - a CPU read faults the whole device THP back through the PMD (one
 *    migrate_to_ram) as a THP again;
 *  - FAIL_ALLOC: 512 order-0 device pages (the source split), and back
 *    512 order-0 system pages;
 *  - a PTE-mapped device THP (half unmapped): a CPU read splits it and
 *    brings one page;
 *  - fork shares it read-only; mprotect downgrades the PMD; mremap moves
 *    it whole when aligned; eviction brings 512 pages back without a VA;
 *    munmap gives every device page back (calloc == cfree).
 */
#include "tap.h"
#include "helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/migrate.h>
#include <zonedev/swapops.h>
#include <zonedev/test_hmm.h>

#define G (1ULL << 30)

static uint64_t PS, PMD, NR;

/* The leaf at addr: its level, kind (present -1, none -2) and page. */
static int leaf_at(struct zd_machine *m, struct zd_mm *mm, uint64_t addr, enum zd_pt_level *level,
		   struct zd_page **page)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	zd_pte_t e = zd_follow_pte(mm, addr, level, page);

	if (o->pte_none(&m->arch, e))
		return -2;
	if (o->pte_present(&m->arch, e)) {
		if (*level != ZD_PT_PTE)
			*page = zd_pfn_to_page(m, o->leaf_pfn(&m->arch, *level, e));
		return -1;
	}
	return (int)zd_softleaf_from_pte(m, e, page);
}

/* A PMD-aligned block at the start of a fresh 2-block mapping, filled
 * with a pattern of seed (a THP: MADV_HUGEPAGE). */
static uint64_t thp_block(struct zd_mm *mm, unsigned seed)
{
	uint64_t a = (uint64_t)zd_vm_mmap(mm, 0, 2 * PMD, ZD_PROT_READ | ZD_PROT_WRITE,
					  ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	unsigned *buf = malloc(PMD);

	a = (a + PMD - 1) & ~(PMD - 1);
	zd_do_madvise(mm, a, PMD, ZD_MADV_HUGEPAGE);
	for (uint64_t i = 0; i < PMD / sizeof(*buf); i++)
		buf[i] = (unsigned)i * 2654435761u + seed;
	zd_access_vm(mm, a, buf, PMD, true);
	free(buf);
	return a;
}

/* Does [a + off, a + off + len) hold thp_block's pattern of seed? */
static bool holds(struct zd_mm *mm, uint64_t a, uint64_t off, uint64_t len, unsigned seed)
{
	unsigned *buf = malloc(len);
	bool good = !zd_access_vm(mm, a + off, buf, len, false);

	for (uint64_t i = 0; good && i < len / sizeof(*buf); i++)
		good = buf[i] == (unsigned)(i + off / sizeof(*buf)) * 2654435761u + seed;
	free(buf);
	return good;
}

static uint64_t in_use(struct zd_dmirror_device *g)
{
	struct zd_dmirror_stats st;

	zd_dmirror_get_stats(g, &st);
	return st.calloc - st.cfree;
}

static uint64_t migrate_to_ram_calls(struct zd_dmirror_device *g)
{
	struct zd_dmirror_stats st;

	zd_dmirror_get_stats(g, &st);
	return st.migrate_to_ram;
}

/* The compound array convention, through the library calls. */
static void collect_cases(struct zd_machine *m, struct zd_mm *mm, const char *tag)
{
	uint64_t a = thp_block(mm, 1);
	unsigned long *src = calloc(NR, sizeof(*src)), *dst = calloc(NR, sizeof(*dst));
	struct zd_migrate_vma args = { .start = a, .end = a + PMD, .src = src, .dst = dst,
				       .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM |
						ZD_MIGRATE_VMA_SELECT_COMPOUND };
	enum zd_pt_level level;
	struct zd_page *thp, *page;
	bool tails = true;

	is_int(leaf_at(m, mm, a, &level, &thp), -1, "%s: a present leaf", tag);
	is_int(level, ZD_PT_PMD, "%s: ... a PMD (a THP)", tag);
	zd_mmap_read_lock(mm);
	args.vma = zd_vma_lookup(mm, a);
	is_int(zd_migrate_vma_setup(m, &args), 0, "%s: setup with SELECT_COMPOUND", tag);
	is_int(args.cpages, 1, "%s: cpages counts the compound entry once", tag);
	is_int(args.npages, NR, "%s: npages is the block's pages", tag);
	is_int(src[0] & (ZD_MIGRATE_PFN_MIGRATE | ZD_MIGRATE_PFN_COMPOUND | ZD_MIGRATE_PFN_WRITE),
	       ZD_MIGRATE_PFN_MIGRATE | ZD_MIGRATE_PFN_COMPOUND | ZD_MIGRATE_PFN_WRITE,
	       "%s: head entry MIGRATE|COMPOUND|WRITE", tag);
	ok(zd_migrate_pfn_to_page(m, src[0]) == thp, "%s: ... naming the THP", tag);
	for (uint64_t i = 1; i < NR; i++)
		tails = tails && !src[i];
	ok(tails, "%s: the 511 tail slots are 0", tag);
	ok(zd_test_page_flag(thp, ZD_PG_locked), "%s: the folio is locked", tag);
	is_int(leaf_at(m, mm, a + 5 * PS, &level, &page), ZD_SOFTLEAF_MIGRATION_WRITE,
	       "%s: its pages are behind migration entries", tag);
	/* no destination: everything goes back */
	zd_migrate_vma_pages(m, &args);
	zd_migrate_vma_finalize(m, &args);
	zd_mmap_read_unlock(mm);
	is_int(leaf_at(m, mm, a, &level, &page), -1, "%s: after finalize, present", tag);
	ok(level == ZD_PT_PMD && page == thp, "%s: ... the same THP under one PMD again", tag);
	ok(!zd_test_page_flag(thp, ZD_PG_locked), "%s: ... unlocked", tag);
	ok(holds(mm, a, 0, PMD, 1), "%s: ... its bytes", tag);

	/* a range that does not cover the block: the THP is split */
	memset(src, 0, NR * sizeof(*src));
	args = (struct zd_migrate_vma){ .start = a, .end = a + PMD / 2, .src = src, .dst = dst,
					.flags = ZD_MIGRATE_VMA_SELECT_SYSTEM |
						 ZD_MIGRATE_VMA_SELECT_COMPOUND };
	zd_mmap_read_lock(mm);
	args.vma = zd_vma_lookup(mm, a);
	is_int(zd_migrate_vma_setup(m, &args), 0, "%s: setup of half the block", tag);
	ok(args.cpages == NR / 2 && !(src[0] & ZD_MIGRATE_PFN_COMPOUND),
	   "%s: ... 256 order-0 entries (the THP split)", tag);
	zd_migrate_vma_pages(m, &args);
	zd_migrate_vma_finalize(m, &args);
	zd_mmap_read_unlock(mm);
	ok(holds(mm, a, 0, PMD, 1), "%s: ... bytes intact", tag);
	zd_vm_munmap(mm, a, PMD);
	free(src);
	free(dst);
}

static void run(const char *arch, enum zd_device_private_design design)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = arch, .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .device_private = design };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_dmirror_desc gd = { .name = "gpu0", .vram_size = 256ULL << 20 };
	struct zd_dmirror_device *g;
	struct zd_mm *mm, *child;
	struct zd_page *page, *page2;
	enum zd_pt_level level;
	uint64_t a, b, cp = 0, *pme, calls, anon;
	char tag[64];
	bool good;

	snprintf(tag, sizeof(tag), "%s %s", arch, design == ZD_DEVICE_PRIVATE_DPA ? "dpa" : "pfn");
	if (!ok(!ZD_IS_ERR(m), "%s: boots", tag))
		return;
	PS = m->arch.page_size;
	PMD = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	NR = PMD / PS;
	g = zd_dmirror_create(m, &gd);
	mm = zd_mm_alloc(m);
	if (!ok(!ZD_IS_ERR(g) && !ZD_IS_ERR(mm), "%s: a device and a process", tag))
		return;
	collect_cases(m, mm, tag);

	/* a THP to the device, as one device THP */
	a = thp_block(mm, 2);
	anon = (uint64_t)mm->rss_stat[ZD_MM_ANONPAGES];
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NR, &cp), 0, "%s: MIGRATE_TO_DEV", tag);
	is_int(in_use(g), NR, "%s: %llu device pages in use", tag, (unsigned long long)NR);
	is_int(leaf_at(m, mm, a + 7 * PS, &level, &page), ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE,
	       "%s: a writable device-private entry", tag);
	is_int(level, ZD_PT_PMD, "%s: ... at the PMD level", tag);
	ok(page && zd_folio_order(m, zd_compound_head(page)) + m->arch.page_shift ==
	   m->arch.pt[ZD_PT_PMD].shift && zd_is_device_private_page(m, page),
	   "%s: ... of a PMD-order device folio", tag);
	is_int((uint64_t)mm->rss_stat[ZD_MM_ANONPAGES], anon, "%s: rss unchanged", tag);
	{
		struct zd_dmirror_chunk_usage u;

		is_int(zd_dmirror_chunk_usage(g, 0, &u), 0, "%s: chunk 0's usage", tag);
		ok(u.free_pages == 0 && u.free_run_pages == u.pages - NR,
		   "%s: ... the rest of the chunk free in PMD-sized runs", tag);
		ok(u.offsets == (design == ZD_DEVICE_PRIVATE_DPA), "%s: ... by %s", tag,
		   design == ZD_DEVICE_PRIVATE_DPA ? "offset" : "pfn");
		is_int(zd_dmirror_chunk_usage(g, 1, &u), -ENOENT, "%s: no chunk 1", tag);
	}
	pme = calloc(NR, sizeof(*pme));
	zd_pagemap_read(mm, a / PS * 8, pme, NR * 8);
	good = true;
	for (uint64_t i = 0; i < NR; i++)
		good = good && (pme[i] >> 62 & 3) == 1 &&
		       ((pme[i] & ((1ULL << 55) - 1)) >> 5) == ((pme[0] & ((1ULL << 55) - 1)) >> 5) + i;
	ok(good, "%s: pagemap: 512 PM_SWAP entries with consecutive offsets", tag);
	free(pme);

	/* a CPU read brings the whole device THP back */
	calls = migrate_to_ram_calls(g);
	ok(holds(mm, a, 3 * PS, PS, 2), "%s: a CPU read sees the bytes", tag);
	is_int(migrate_to_ram_calls(g) - calls, 1, "%s: ... through one migrate_to_ram", tag);
	is_int(leaf_at(m, mm, a + 100 * PS, &level, &page), -1, "%s: ... present again", tag);
	ok(level == ZD_PT_PMD && !zd_is_zone_device_page(page), "%s: ... a THP under a PMD", tag);
	is_int(in_use(g), 0, "%s: ... the device folio freed", tag);
	ok(holds(mm, a, 0, PMD, 2), "%s: ... every byte", tag);

	/* FAIL_ALLOC: order-0 pages both ways */
	zd_dmirror_set_flags(g, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NR, &cp), 0, "%s: FAIL_ALLOC to the device", tag);
	is_int(leaf_at(m, mm, a + 9 * PS, &level, &page), ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE,
	       "%s: ... device-private", tag);
	ok(level == ZD_PT_PTE && !zd_folio_order(m, zd_compound_head(page)),
	   "%s: ... order-0 pages under PTEs", tag);
	is_int(in_use(g), NR, "%s: ... 512 of them", tag);
	is_int(zd_dmirror_migrate_to_sys(g, mm, a, NR, &cp), 0, "%s: back", tag);
	is_int(cp, NR, "%s: ... 512 entries moved", tag);
	zd_do_madvise(mm, a, PMD, ZD_MADV_COLLAPSE);
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NR, &cp), 0, "%s: collapsed, to the device", tag);
	is_int(leaf_at(m, mm, a, &level, &page), ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE,
	       "%s: ... a device THP again", tag);
	is_int(level, ZD_PT_PMD, "%s: ... under a PMD", tag);
	zd_dmirror_set_flags(g, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	is_int(zd_dmirror_migrate_to_sys(g, mm, a, NR, &cp), 0, "%s: FAIL_ALLOC back", tag);
	is_int(cp, NR, "%s: ... 512 order-0 entries moved", tag);
	is_int(leaf_at(m, mm, a + 9 * PS, &level, &page), -1, "%s: ... present", tag);
	ok(level == ZD_PT_PTE && !zd_folio_order(m, zd_compound_head(page)) &&
	   !zd_is_zone_device_page(page), "%s: ... order-0 system pages under PTEs", tag);
	is_int(in_use(g), 0, "%s: ... none left on the device", tag);
	ok(holds(mm, a, 0, PMD, 2), "%s: ... every byte", tag);
	zd_vm_munmap(mm, a, PMD);

	/* a PTE-mapped device THP: half unmapped, a CPU read splits it */
	a = thp_block(mm, 3);
	zd_dmirror_migrate_to_dev(g, mm, a, NR, &cp);
	zd_vm_munmap(mm, a + PMD / 2, PMD / 2);
	is_int(leaf_at(m, mm, a, &level, &page), ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE,
	       "%s: half unmapped: device-private", tag);
	ok(level == ZD_PT_PTE && zd_folio_order(m, zd_compound_head(page)),
	   "%s: ... PTEs of the large device folio", tag);
	calls = migrate_to_ram_calls(g);
	ok(holds(mm, a, 10 * PS, PS, 3), "%s: a CPU read through a PTE", tag);
	is_int(migrate_to_ram_calls(g) - calls, 1, "%s: ... one migrate_to_ram", tag);
	is_int(leaf_at(m, mm, a + 10 * PS, &level, &page), -1, "%s: ... that page present", tag);
	is_int(leaf_at(m, mm, a + 11 * PS, &level, &page2), ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE,
	       "%s: ... its neighbour still on the device", tag);
	ok(!zd_folio_order(m, zd_compound_head(page2)), "%s: ... the device folio split", tag);
	ok(holds(mm, a, 0, PMD / 2, 3), "%s: ... the mapped half reads back", tag);
	zd_vm_munmap(mm, a, PMD / 2);
	is_int(in_use(g), 0, "%s: munmap gave every device page back", tag);

	/* fork: both read-only, both read their bytes */
	a = thp_block(mm, 4);
	zd_dmirror_migrate_to_dev(g, mm, a, NR, &cp);
	child = zd_dup_mm(mm);
	ok(!ZD_IS_ERR(child), "%s: fork", tag);
	is_int(leaf_at(m, mm, a, &level, &page), ZD_SOFTLEAF_DEVICE_PRIVATE_READ,
	       "%s: ... the parent's PMD is read-only", tag);
	is_int(leaf_at(m, child, a, &level, &page2), ZD_SOFTLEAF_DEVICE_PRIVATE_READ,
	       "%s: ... the child's too", tag);
	ok(level == ZD_PT_PMD && page == page2, "%s: ... one device folio under two PMDs", tag);
	ok(holds(child, a, 0, PMD, 4), "%s: the child reads its bytes", tag);
	ok(holds(mm, a, 0, PMD, 4), "%s: the parent reads its bytes", tag);
	zd_mmput(child);
	is_int(in_use(g), 0, "%s: no device page left", tag);
	zd_vm_munmap(mm, a, PMD);

	/* mprotect, mremap, eviction */
	a = thp_block(mm, 5);
	zd_dmirror_migrate_to_dev(g, mm, a, NR, &cp);
	zd_do_mprotect(mm, a, PMD, ZD_PROT_READ);
	is_int(leaf_at(m, mm, a, &level, &page), ZD_SOFTLEAF_DEVICE_PRIVATE_READ,
	       "%s: mprotect: the PMD is read-only", tag);
	is_int(level, ZD_PT_PMD, "%s: ... still one PMD", tag);
	zd_do_mprotect(mm, a, PMD, ZD_PROT_READ | ZD_PROT_WRITE);
	b = (uint64_t)zd_vm_mmap(mm, 0, 3 * PMD, ZD_PROT_NONE, ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS,
				 NULL, 0);
	b = (b + PMD - 1) & ~(PMD - 1);
	is_int(zd_do_mremap(mm, a, PMD, PMD, ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED, b), (int64_t)b,
	       "%s: mremap to an aligned address", tag);
	is_int(leaf_at(m, mm, b, &level, &page2), ZD_SOFTLEAF_DEVICE_PRIVATE_READ,
	       "%s: ... the entry moved", tag);
	ok(level == ZD_PT_PMD && page2 == page, "%s: ... whole, as one PMD", tag);
	is_int(zd_dmirror_evict(g), (int64_t)NR, "%s: eviction brings 512 pages back", tag);
	is_int(leaf_at(m, mm, b + 3 * PS, &level, &page), -1, "%s: ... present", tag);
	ok(!zd_is_zone_device_page(page), "%s: ... in system memory", tag);
	ok(holds(mm, b, 0, PMD, 5), "%s: ... every byte", tag);
	is_int(in_use(g), 0, "%s: ... nothing on the device", tag);
	zd_vm_munmap(mm, b, PMD);

	/* a mirror's table follows a device-level migration to the device */
	{
		struct zd_dmirror *dm = zd_dmirror_open(g, mm);
		unsigned *bounce = calloc(1, PMD);
		struct zd_hmm_dmirror_cmd c;
		char *text = NULL;
		size_t len = 0;
		FILE *f;

		a = thp_block(mm, 6);
		c = (struct zd_hmm_dmirror_cmd){ .addr = a, .ptr = (uintptr_t)bounce, .npages = NR };
		is_int(zd_dmirror_read(dm, &c), 0, "%s: a mirror reads the block", tag);
		zd_dmirror_migrate_to_dev(g, mm, a, NR, &cp);
		f = open_memstream(&text, &len);
		zd_dmirror_show(g, f);
		fclose(f);
		ok(text && strstr(text, "512 pages device-private local") && !strstr(text, "system"),
		   "%s: ... and then maps the device THP's pages, none of the old ones", tag);
		free(text);
		zd_dmirror_release(dm);
		free(bounce);
		zd_vm_munmap(mm, a, PMD);
	}
	/* eviction of many small pages: more copies queued on the engine at
	 * once than its first ring holds (1024) */
	{
		uint64_t len = 8ULL << 20, n = len / PS;

		b = (uint64_t)zd_vm_mmap(mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE,
					 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
		zd_do_madvise(mm, b, len, ZD_MADV_NOHUGEPAGE);
		for (uint64_t off = 0; off < len; off += PMD) {
			unsigned *buf = malloc(PMD);

			for (uint64_t i = 0; i < PMD / sizeof(*buf); i++)
				buf[i] = (unsigned)(i + off / sizeof(*buf)) * 2654435761u + 7;
			zd_access_vm(mm, b + off, buf, PMD, true);
			free(buf);
		}
		is_int(zd_dmirror_migrate_to_dev(g, mm, b, n, &cp), 0, "%s: %llu 4K pages to the device",
		       tag, (unsigned long long)n);
		is_int(zd_dmirror_evict(g), (int64_t)n, "%s: ... all evicted in one batch", tag);
		ok(holds(mm, b, 0, len, 7), "%s: ... every byte back", tag);
		zd_vm_munmap(mm, b, len);
	}
	is_int(mm->rss_stat[ZD_MM_ANONPAGES], 0, "%s: rss is 0", tag);
	is_int(zd_warn_count(m), 0, "%s: no WARN", tag);
	if (getenv("ZD_DEBUG"))
		zd_log_dump(m, stderr, ZD_LOG_DEBUG);
	zd_mmput(mm);
	zd_dmirror_destroy(g);
	zd_machine_destroy(m);
}

int main(void)
{
	run("x86_64", ZD_DEVICE_PRIVATE_PFN);
	run("x86_64", ZD_DEVICE_PRIVATE_DPA);
	run("arm64-4k", ZD_DEVICE_PRIVATE_PFN);
	run("arm64-4k", ZD_DEVICE_PRIVATE_DPA);
	return done_testing();
}
