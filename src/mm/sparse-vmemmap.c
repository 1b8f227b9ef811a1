/*
 * The virtual memmap (mm/sparse-vmemmap.c), mapped by the host MMU: one
 * PROT_NONE window per machine, sized by the arch's coverage rule, into
 * which populate maps real memory (anonymous, or the device's own backing
 * file for a vmem_altmap) with MAP_FIXED, and depopulate puts PROT_NONE back
 * so the memory returns to the host.
 * Invariants: vmemmap + pfn is pfn's struct page for every covered pfn;
 * populated ranges are host-page granular and a host page shared by two
 * sub-sections (64K-page arches) is mapped once and unmapped only when no
 * populated sub-section uses it; neighbouring populates use identical flags
 * (and file offsets equal to window offsets for altmaps) so the host merges
 * them and the mapping count grows with ranges, not pages.
 */
#include <zonedev/err.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include "mm/internal.h"

#define HOST_HUGE (2UL << 20)

static size_t host_page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

int zd_vmemmap_init(struct zd_machine *m)
{
	const struct zd_arch *a = &m->arch;
	uint64_t phys_pfns = 1ULL << (a->phys_bits - a->page_shift);
	uint64_t start = 0, end = phys_pfns;
	size_t size;
	void *w;

	if (a->coverage == ZD_VMEMMAP_COVERS_LINEAR_MAP) {
		start = m->memstart_pfn;
		end = start + (a->linear_map_size >> a->page_shift);
		if (end > phys_pfns)
			end = phys_pfns;
	}
	size = (size_t)(end - start) * sizeof(struct zd_page);
	size = (size + HOST_HUGE - 1) & ~(HOST_HUGE - 1);
	/* Over-reserve by one huge page so the window can start 2 MiB aligned
	 * and populated memmap can use transparent huge pages. */
	w = mmap(NULL, size + HOST_HUGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w == MAP_FAILED) {
		zd_pr_err(m, "vmemmap: cannot reserve a %llu MiB window for %s/%u-bit",
			  (unsigned long long)(size >> 20), a->name, a->phys_bits);
		return -ENOMEM;
	}
	uintptr_t aligned = ((uintptr_t)w + HOST_HUGE - 1) & ~(HOST_HUGE - 1);
	if (aligned > (uintptr_t)w)
		munmap(w, aligned - (uintptr_t)w);
	if ((uintptr_t)w + HOST_HUGE > aligned)
		munmap((void *)(aligned + size), (uintptr_t)w + HOST_HUGE - aligned);
	m->vmemmap_window = (void *)aligned;
	m->vmemmap_window_size = size;
	m->vmemmap_start_pfn = start;
	m->vmemmap_end_pfn = end;
	/* Integer arithmetic: the biased base may lie below the window. */
	m->vmemmap = (struct zd_page *)(aligned - (uintptr_t)start * sizeof(struct zd_page));
	return 0;
}

void zd_vmemmap_fini(struct zd_machine *m)
{
	if (m->vmemmap_window)
		munmap(m->vmemmap_window, m->vmemmap_window_size);
	m->vmemmap_window = NULL;
}

bool zd_vmemmap_covers(const struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	return pfn >= m->vmemmap_start_pfn && nr <= m->vmemmap_end_pfn - m->vmemmap_start_pfn &&
	       pfn - m->vmemmap_start_pfn <= m->vmemmap_end_pfn - m->vmemmap_start_pfn - nr;
}

/* The pfn range whose struct pages share the host page at addr. */
static void host_page_pfns(const struct zd_machine *m, uintptr_t addr, uint64_t *first,
			   uint64_t *last)
{
	uintptr_t base = (uintptr_t)m->vmemmap;
	uintptr_t pg = addr & ~(host_page_size() - 1);

	*first = (pg - base) / sizeof(struct zd_page);
	*last = (pg + host_page_size() - base) / sizeof(struct zd_page) - 1;
}

/* Is the host page at addr used by a populated sub-section outside [pfn, pfn+nr)? */
static bool host_page_shared(struct zd_machine *m, uintptr_t addr, uint64_t pfn, uint64_t nr)
{
	uint64_t first, last, step = m->arch.pages_per_subsection;

	host_page_pfns(m, addr, &first, &last);
	for (uint64_t p = first & ~(step - 1); p <= last; p += step) {
		if (p + step > pfn && p < pfn + nr)
			continue;
		if (p >= m->vmemmap_start_pfn && p < m->vmemmap_end_pfn && zd_subsection_populated(m, p))
			return true;
	}
	return false;
}

/*
 * The host-page range [*lo, *hi) to (un)map for [pfn, pfn+nr): rounded out
 * to host pages, minus boundary pages another populated range already owns.
 */
static void host_span(struct zd_machine *m, uint64_t pfn, uint64_t nr, uintptr_t *lo,
		      uintptr_t *hi)
{
	size_t ps = host_page_size();
	uintptr_t start = (uintptr_t)zd_pfn_to_page(m, pfn);
	uintptr_t end = (uintptr_t)zd_pfn_to_page(m, pfn + nr);

	*lo = start & ~(ps - 1);
	*hi = (end + ps - 1) & ~(ps - 1);
	if (*lo != start && host_page_shared(m, *lo, pfn, nr))
		*lo += ps;
	if (*hi != end && *hi > *lo && host_page_shared(m, *hi - ps, pfn, nr))
		*hi -= ps;
}

/*
 * Memmap from RAM. Every plain populate carries the same THP advice so
 * neighbours merge. A deduplicated compound memmap must not get huge pages:
 * writing its head's memmap page would fault in 2 MiB, while its aliased
 * tails are meant to stay untouched (read as the zero page, no RSS).
 */
static int map_anon(struct zd_machine *m, uintptr_t lo, uintptr_t hi, bool dedup)
{
	void *p = mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);

	(void)m;
	if (p == MAP_FAILED)
		return -ENOMEM;
	madvise(p, hi - lo, dedup ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
	return 0;
}

bool zd_vmemmap_can_optimize(const struct zd_machine *m, const struct zd_vmem_altmap *altmap,
			     const struct zd_dev_pagemap *pgmap)
{
	uint64_t nr_vmemmap_pages;

	if (!pgmap || altmap || !m->arch.optimize_dax_vmemmap)
		return false;
	nr_vmemmap_pages = (zd_pgmap_vmemmap_nr(pgmap) * sizeof(struct zd_page)) >> m->arch.page_shift;
	return nr_vmemmap_pages > 2;  /* VMEMMAP_RESERVE_NR */
}

uint64_t zd_compound_nr_pages(const struct zd_machine *m, const struct zd_vmem_altmap *altmap,
			      const struct zd_dev_pagemap *pgmap)
{
	if (!zd_vmemmap_can_optimize(m, altmap, pgmap))
		return zd_pgmap_vmemmap_nr(pgmap);
	return 2 * (m->arch.page_size / sizeof(struct zd_page));
}

static void unmap_to_reserved(uintptr_t lo, uintptr_t hi)
{
	mmap((void *)lo, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
	     -1, 0);
}

uint64_t zd_altmap_alloc_pfns(struct zd_machine *m, struct zd_vmem_altmap *altmap, uint64_t nr_pfns)
{
	uint64_t pfn = altmap->base_pfn + altmap->reserve + altmap->alloc + altmap->align;
	/* Natural alignment: the largest power of two dividing nr_pfns. */
	uint64_t align = nr_pfns & -nr_pfns;
	uint64_t gap = (align - (pfn & (align - 1))) & (align - 1);

	if (nr_pfns + gap > altmap->free - (altmap->alloc + altmap->align)) {
		zd_pr_debug(m, "altmap: no room for %llu pfns (alloc %llu align %llu free %llu)",
			    (unsigned long long)nr_pfns, (unsigned long long)altmap->alloc,
			    (unsigned long long)altmap->align, (unsigned long long)altmap->free);
		return UINT64_MAX;
	}
	altmap->alloc += nr_pfns;
	altmap->align += gap;
	zd_pr_debug(m, "altmap: pfn %#llx alloc %llu align %llu nr %llu",
		    (unsigned long long)(pfn + gap), (unsigned long long)altmap->alloc,
		    (unsigned long long)altmap->align, (unsigned long long)nr_pfns);
	return pfn + gap;
}

void zd_vmem_altmap_free(struct zd_vmem_altmap *altmap, uint64_t nr_pfns)
{
	altmap->alloc -= nr_pfns;
}

/*
 * The arch's vmemmap_populate() with an altmap, for [pfn, pfn + nr): the
 * block size carved from it, or 0 when the arch takes the memmap from RAM.
 *  - x86: a sub-section range is populated with base pages from RAM (the
 *    altmap is dropped); section-sized ranges use PMD blocks.
 *  - arm64: 4K pages use base pages for sub-section ranges and PMD blocks
 *    otherwise, both from the altmap; 16K/64K always base pages.
 *  - powerpc radix: base pages from the altmap (a 16 MiB section's memmap
 *    is 16 KiB, far below a PMD; the PMD-block and RAM-fallback corners of
 *    radix__vmemmap_populate() are not modelled).
 */
static uint64_t altmap_block(const struct zd_arch *a, uint64_t nr)
{
	bool subsection = nr < a->pages_per_section;

	switch (a->family) {
	case ZD_ARCH_X86:
		return subsection ? 0 : 1ULL << a->pmd_shift;
	case ZD_ARCH_ARM64:
		return a->page_size == 4096 && !subsection ? 1ULL << a->pmd_shift : a->page_size;
	case ZD_ARCH_PPC64:
		return a->page_size;
	}
	return 0;
}

/*
 * Memmap from the device's own backing: blocks (altmap_block()) carved from
 * the altmap and mapped from its file. No fallback to RAM: exhaustion is
 * -ENOMEM, as in the kernel.
 */
static int populate_altmap(struct zd_machine *m, uintptr_t lo, uintptr_t hi,
			   struct zd_vmem_altmap *altmap, uint64_t block)
{
	const struct zd_arch *a = &m->arch;
	uintptr_t done = lo;

	while (done < hi) {
		uint64_t len = hi - done < block ? hi - done : block;
		uint64_t npfns = (len + a->page_size - 1) >> a->page_shift;
		uint64_t pfn = zd_altmap_alloc_pfns(m, altmap, npfns);
		void *p;

		if (pfn == UINT64_MAX)
			goto fail;
		/* Populated up front: every struct page of an altmap memmap is
		 * written by init, and the kernel's memmap is there before init. */
		p = mmap((void *)done, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
			 altmap->backing_fd,
			 (off_t)(altmap->backing_offset + ((pfn - altmap->base_pfn) << a->page_shift)));
		if (p == MAP_FAILED) {
			zd_vmem_altmap_free(altmap, npfns);
			goto fail;
		}
		done += len;
	}
	return 0;
fail:
	if (done > lo)
		unmap_to_reserved(lo, done);
	/* What was carved stays charged until depopulate; give it back now. */
	for (uintptr_t p = lo; p < done; p += block) {
		uint64_t len = done - p < block ? done - p : block;
		zd_vmem_altmap_free(altmap, (len + a->page_size - 1) >> a->page_shift);
	}
	return -ENOMEM;
}

/* __populate_section_memmap(): the arch rule (altmap_block()) decides the
 * altmap's use. */
struct zd_page *zd___populate_section_memmap(struct zd_machine *m, uint64_t pfn, uint64_t nr,
					     int nid, struct zd_vmem_altmap *altmap,
					     struct zd_dev_pagemap *pgmap)
{
	const struct zd_arch *a = &m->arch;
	uintptr_t lo, hi;
	uint64_t block = altmap ? altmap_block(a, nr) : 0;
	bool dedup;
	int rc;

	(void)nid;
	if (ZD_WARN(m, (pfn | nr) & (a->pages_per_subsection - 1),
		    "populate of unaligned range pfn %#llx + %llu", (unsigned long long)pfn,
		    (unsigned long long)nr))
		return NULL;
	if (!zd_vmemmap_covers(m, pfn, nr)) {
		zd_pr_err(m, "vmemmap: pfn %#llx-%#llx lies outside the vmemmap coverage %#llx-%#llx",
			  (unsigned long long)pfn, (unsigned long long)(pfn + nr - 1),
			  (unsigned long long)m->vmemmap_start_pfn,
			  (unsigned long long)(m->vmemmap_end_pfn - 1));
		return NULL;
	}
	dedup = zd_vmemmap_can_optimize(m, altmap, pgmap);
	if (!block)
		altmap = NULL;
	host_span(m, pfn, nr, &lo, &hi);
	if (lo >= hi)
		return zd_pfn_to_page(m, pfn);
	rc = altmap ? populate_altmap(m, lo, hi, altmap, block) : map_anon(m, lo, hi, dedup);
	if (rc) {
		zd_pr_warn(m, "vmemmap alloc failure: pfn %#llx + %llu%s", (unsigned long long)pfn,
			   (unsigned long long)nr, altmap ? " (altmap exhausted)" : "");
		return NULL;
	}
	__atomic_add_fetch(&m->vmemmap_mapped_bytes, (long)(hi - lo), __ATOMIC_RELAXED);
	return zd_pfn_to_page(m, pfn);
}

void zd_depopulate_section_memmap(struct zd_machine *m, uint64_t pfn, uint64_t nr,
				  struct zd_vmem_altmap *altmap)
{
	const struct zd_arch *a = &m->arch;
	uintptr_t lo, hi;

	if (altmap && !altmap_block(a, nr))
		altmap = NULL;
	host_span(m, pfn, nr, &lo, &hi);
	if (lo >= hi)
		return;
	unmap_to_reserved(lo, hi);
	__atomic_sub_fetch(&m->vmemmap_mapped_bytes, (long)(hi - lo), __ATOMIC_RELAXED);
	if (altmap)
		zd_vmem_altmap_free(altmap, (hi - lo + a->page_size - 1) >> a->page_shift);
}

/* Resident bytes of the populated memmap, section by section (mincore). */
uint64_t zd_vmemmap_resident_bytes(struct zd_machine *m)
{
	const struct zd_arch *a = &m->arch;
	size_t ps = host_page_size();
	size_t sect_bytes = a->pages_per_section * sizeof(struct zd_page);
	size_t vec_len = (sect_bytes + ps - 1) / ps;
	unsigned char *vec = malloc(vec_len);
	uint64_t resident = 0;

	if (!vec)
		return 0;
	zd_get_online_mems(m);
	for (uint64_t r = 0; r < a->nr_section_roots; r++) {
		if (!m->mem_section[r])
			continue;
		for (unsigned i = 0; i < a->sections_per_root; i++) {
			uint64_t nr = r * a->sections_per_root + i;
			uint64_t spfn = zd_section_nr_to_pfn(a, nr);
			uintptr_t s, e;

			if (!zd_valid_section(&m->mem_section[r][i]))
				continue;
			s = (uintptr_t)zd_pfn_to_page(m, spfn) & ~(ps - 1);
			e = (uintptr_t)zd_pfn_to_page(m, spfn + a->pages_per_section);
			e = (e + ps - 1) & ~(ps - 1);
			/* mincore fails with ENOMEM on unmapped holes: walk by
			 * sub-section so holes are skipped. */
			size_t sub = a->pages_per_subsection * sizeof(struct zd_page);
			if (sub < ps)
				sub = ps;
			for (uintptr_t p = s; p < e; p += sub) {
				size_t len = e - p < sub ? e - p : sub;
				if (mincore((void *)p, len, vec))
					continue;
				for (size_t k = 0; k < (len + ps - 1) / ps; k++)
					resident += (vec[k] & 1) ? ps : 0;
			}
		}
	}
	zd_put_online_mems(m);
	free(vec);
	return resident;
}
