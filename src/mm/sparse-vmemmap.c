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
#include <zonedev/gfp.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include "base/align.h"
#include "base/backing.h"
#include "base/xarray.h"
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
	size = ZD_ALIGN(size, HOST_HUGE);
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
	m->vmemmap_frames = calloc(1, sizeof(*m->vmemmap_frames));
	m->vmemmap_tables = calloc(1, sizeof(*m->vmemmap_tables));
	if (!m->vmemmap_frames || !m->vmemmap_tables) {
		munmap((void *)aligned, size);
		return -ENOMEM;
	}
	zd_xa_init(m->vmemmap_frames, 64 - a->page_shift);
	zd_xa_init(m->vmemmap_tables, 64 - a->pmd_shift + 1);
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
	/* The frames are the machine's RAM, which goes with it. */
	for (struct zd_xarray **xa = &m->vmemmap_frames; xa <= &m->vmemmap_tables; xa++) {
		if (*xa)
			zd_xa_destroy(*xa);
		free(*xa);
		*xa = NULL;
	}
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
	*hi = ZD_ALIGN(end, ps);
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

uint64_t zd_vmemmap_host_bytes(const struct zd_machine *m, uint64_t nr,
			       const struct zd_vmem_altmap *altmap,
			       const struct zd_dev_pagemap *pgmap)
{
	uint64_t folio;

	if (altmap)
		return 0;
	if (!zd_vmemmap_can_optimize(m, altmap, pgmap))
		return nr * sizeof(struct zd_page);
	folio = zd_pgmap_vmemmap_nr(pgmap);
	return (nr + folio - 1) / folio * 2 * m->arch.page_size;
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
	zd_pr_debug(m, "altmap: pfn 0x%llx alloc %llu align %llu nr %llu",
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
 * -ENOMEM, as in the kernel. Each block's file space is reserved before it
 * is mapped: a full filesystem is -ENOSPC here, not a SIGBUS at init.
 */
static int populate_altmap(struct zd_machine *m, uintptr_t lo, uintptr_t hi,
			   struct zd_vmem_altmap *altmap, uint64_t block)
{
	const struct zd_arch *a = &m->arch;
	uintptr_t done = lo;
	char why[400];
	int rc = -ENOMEM;

	while (done < hi) {
		uint64_t len = hi - done < block ? hi - done : block;
		uint64_t npfns = (len + a->page_size - 1) >> a->page_shift;
		uint64_t pfn = zd_altmap_alloc_pfns(m, altmap, npfns), off;
		void *p;

		if (pfn == UINT64_MAX)
			goto fail;
		off = altmap->backing_offset + ((pfn - altmap->base_pfn) << a->page_shift);
		rc = zd_backing_reserve(altmap->backing_fd, off, len, "the memmap (altmap)", why,
					sizeof(why));
		if (rc) {
			zd_pr_err(m, "vmemmap: %s", why);
			zd_vmem_altmap_free(altmap, npfns);
			goto fail;
		}
		/* Populated up front: every struct page of an altmap memmap is
		 * written by init, and the kernel's memmap is there before init. */
		p = mmap((void *)done, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
			 altmap->backing_fd, (off_t)off);
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
	return rc;
}

/* ---- the RAM behind the vmemmap (docs/architecture.md) ----
 *
 * Ledger entries, one uint64_t per frame or page-table page (xarray values
 * are never NULL): the frame's pfn above bit 24, its origin (memblock or
 * the buddy) and PMD-block flags, and a count in the low 22 bits. Frames
 * are keyed by vmemmap page index (offset in the window >> PAGE_SHIFT; a PMD
 * block at its first page); page tables by level: PTE tables at 2 * (offset
 * >> PMD_SHIFT), PMD tables at 2 * (offset >> PUD_SHIFT) + 1. A base page's
 * count is the populates that use it (a 64K page serves 32 sub-sections), a
 * PMD block's the vmemmap pages of it still in use, a table's its entries.
 */
#define L_COUNT_MASK ((1ULL << 22) - 1)
#define L_BOOT (1ULL << 22)
#define L_PMD (1ULL << 23)
#define L_PFN_SHIFT 24

static uint64_t lval(const void *e) { return (uint64_t)(uintptr_t)e; }
static void *lent(uint64_t pfn, uint64_t flags, uint64_t count)
{
	return (void *)(uintptr_t)(pfn << L_PFN_SHIFT | flags | count);
}

/* One entry's count goes up by n; or down by n, true when that was all of
 * it and the entry is gone (the caller frees what it stood for). */
static void lcount_get(struct zd_xarray *xa, uint64_t key, uint64_t e, uint64_t n)
{
	zd_xa_store(xa, key, (void *)(uintptr_t)(e + n));
}

static bool lcount_put(struct zd_xarray *xa, uint64_t key, uint64_t e, uint64_t n)
{
	if ((e & L_COUNT_MASK) > n) {
		zd_xa_store(xa, key, (void *)(uintptr_t)(e - n));
		return false;
	}
	zd_xa_erase(xa, key);
	return true;
}

static uint64_t vmemmap_index(const struct zd_machine *m, uintptr_t addr, unsigned shift)
{
	return (addr - (uintptr_t)m->vmemmap_window) >> shift;
}

/* The start of the PMD's worth of vmemmap holding addr: the window stands
 * for the kernel's PMD-aligned VMEMMAP_START, the host mapping is only
 * 2 MiB aligned, so chunks are counted from the window. */
static uintptr_t pmd_chunk(const struct zd_machine *m, uintptr_t addr)
{
	uintptr_t base = (uintptr_t)m->vmemmap_window;

	return base + ((addr - base) & ~((1ULL << m->arch.pmd_shift) - 1));
}

/* vmemmap_alloc_block(): memblock before the buddy exists, the buddy after
 * (no warning: the caller reports and may fall back). */
static uint64_t frame_alloc(struct zd_machine *m, int nid, unsigned order, uint64_t *flags)
{
	struct zd_page *page;

	if (zd_memblock_active(m)) {
		*flags = L_BOOT;
		return zd_memblock_alloc(m, nid, 1ULL << order, 1ULL << order, 0, "memmap");
	}
	*flags = 0;
	page = zd_alloc_pages_node(m, nid, ZD_GFP_KERNEL | ZD___GFP_NOWARN, order);
	return page ? zd_page_to_pfn(m, page) : UINT64_MAX;
}

static void frame_free(struct zd_machine *m, uint64_t e, unsigned order)
{
	uint64_t pfn = e >> L_PFN_SHIFT;

	if (!(e & L_BOOT))
		zd___free_pages(m, zd_pfn_to_page(m, pfn), order);
	else if (!zd_memblock_active(m))
		zd_free_reserved_pages(m, pfn, 1ULL << order);   /* free_reserved_page() */
}

/* A table covering span bytes of vmemmap gets one more (or fewer) entries;
 * created (from RAM) on its first, freed with its last. Tables smaller than
 * a page (ppc64 radix fragments) are not charged. */
static int table_get(struct zd_machine *m, int nid, uint64_t key, unsigned entries_shift,
		     uint64_t n);
static void table_put(struct zd_machine *m, uint64_t key, unsigned entries_shift, uint64_t n);

static uint64_t pmd_key(const struct zd_machine *m, uintptr_t addr)
{
	return 2 * vmemmap_index(m, addr, m->arch.pud_shift) + 1;
}

static int table_get(struct zd_machine *m, int nid, uint64_t key, unsigned entries_shift,
		     uint64_t n)
{
	const struct zd_arch *a = &m->arch;
	uint64_t e, flags, pfn;

	if ((8ULL << entries_shift) < a->page_size)
		return 0;
	e = lval(zd_xa_load(m->vmemmap_tables, key));
	if (e) {
		lcount_get(m->vmemmap_tables, key, e, n);
		return 0;
	}
	pfn = frame_alloc(m, nid, 0, &flags);
	if (pfn == UINT64_MAX)
		return -ENOMEM;
	if (zd_xa_store(m->vmemmap_tables, key, lent(pfn, flags, n))) {
		frame_free(m, pfn << L_PFN_SHIFT | flags, 0);
		return -ENOMEM;
	}
	return 0;
}

static void table_put(struct zd_machine *m, uint64_t key, unsigned entries_shift, uint64_t n)
{
	uint64_t e = lval(zd_xa_load(m->vmemmap_tables, key));

	if (e && (8ULL << entries_shift) >= m->arch.page_size &&
	    lcount_put(m->vmemmap_tables, key, e, n))
		frame_free(m, e, 0);
}

/* One more PMD entry: a PMD-mapped block, or a new PTE table. */
static int pmd_entry_get(struct zd_machine *m, int nid, uintptr_t addr)
{
	return table_get(m, nid, pmd_key(m, addr), m->arch.pud_shift - m->arch.pmd_shift, 1);
}

static void pmd_entry_put(struct zd_machine *m, uintptr_t addr)
{
	table_put(m, pmd_key(m, addr), m->arch.pud_shift - m->arch.pmd_shift, 1);
}

/* n PTEs in the PTE table of the PMD chunk at addr (and the table's PMD
 * entry when the table is new). */
static int pte_entries_get(struct zd_machine *m, int nid, uintptr_t addr, uint64_t n)
{
	const struct zd_arch *a = &m->arch;
	uint64_t key = 2 * vmemmap_index(m, addr, a->pmd_shift);
	bool fresh = !zd_xa_load(m->vmemmap_tables, key);
	int rc = table_get(m, nid, key, a->pmd_shift - a->page_shift, n);

	if (!rc && fresh && zd_xa_load(m->vmemmap_tables, key) &&
	    (rc = pmd_entry_get(m, nid, addr)))
		table_put(m, key, a->pmd_shift - a->page_shift, n);
	return rc;
}

static void pte_entries_put(struct zd_machine *m, uintptr_t addr, uint64_t n)
{
	const struct zd_arch *a = &m->arch;
	uint64_t key = 2 * vmemmap_index(m, addr, a->pmd_shift);

	if (!zd_xa_load(m->vmemmap_tables, key))
		return;
	table_put(m, key, a->pmd_shift - a->page_shift, n);
	if (!zd_xa_load(m->vmemmap_tables, key))
		pmd_entry_put(m, addr);
}

/* One base page of vmemmap at addr: a new frame, or one more user. */
static int base_page_get(struct zd_machine *m, int nid, uintptr_t addr)
{
	uint64_t idx = vmemmap_index(m, addr, m->arch.page_shift);
	uint64_t e = lval(zd_xa_load(m->vmemmap_frames, idx)), flags, pfn;

	if (e) {
		lcount_get(m->vmemmap_frames, idx, e, 1);
		return 0;
	}
	pfn = frame_alloc(m, nid, 0, &flags);
	if (pfn == UINT64_MAX) {
		zd_pr_warn(m, "vmemmap alloc failure: order:0");
		return -ENOMEM;
	}
	if (zd_xa_store(m->vmemmap_frames, idx, lent(pfn, flags, 1))) {
		frame_free(m, pfn << L_PFN_SHIFT | flags, 0);
		return -ENOMEM;
	}
	return 0;
}

/* A PMD block for the chunk at addr; false (nothing charged) if RAM has no
 * free block of that order. */
static bool pmd_block_get(struct zd_machine *m, int nid, uintptr_t addr)
{
	const struct zd_arch *a = &m->arch;
	unsigned order = a->pmd_shift - a->page_shift;
	uint64_t flags, pfn = frame_alloc(m, nid, order, &flags);

	if (pfn == UINT64_MAX) {
		zd_pr_warn(m, "vmemmap alloc failure: order:%u, falling back to base pages", order);
		return false;
	}
	if (!zd_xa_store(m->vmemmap_frames, vmemmap_index(m, addr, a->page_shift),
			 lent(pfn, flags | L_PMD, 1ULL << order)) && !pmd_entry_get(m, nid, addr))
		return true;
	zd_xa_erase(m->vmemmap_frames, vmemmap_index(m, addr, a->page_shift));
	frame_free(m, pfn << L_PFN_SHIFT | flags, order);
	return false;
}

enum charge_mode { CHARGE_RAM, CHARGE_RAM_BASE, CHARGE_DEDUP, CHARGE_ALTMAP_PMD,
		   CHARGE_ALTMAP_BASE };

static void uncharge(struct zd_machine *m, uintptr_t start, uintptr_t end, bool altmap_pmd);

/*
 * Charge the RAM the kernel spends on the memmap of [start, end) (struct
 * page addresses): frames unless the altmap holds them, and page tables.
 * On failure everything this call charged is given back.
 */
static int charge(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr, enum charge_mode mode,
		  const struct zd_dev_pagemap *pgmap)
{
	uintptr_t start = (uintptr_t)zd_pfn_to_page(m, pfn), end = (uintptr_t)zd_pfn_to_page(m, pfn + nr);
	const struct zd_arch *a = &m->arch;
	uintptr_t ps = a->page_size, pmd = 1ULL << a->pmd_shift;
	uintptr_t lo = ZD_ALIGN_DOWN(start, ps), hi = ZD_ALIGN(end, ps), c, done = lo;
	int rc = 0;

	for (c = pmd_chunk(m, lo); c < hi && !rc; c += pmd) {
		uintptr_t s = c > lo ? c : lo, e = c + pmd < hi ? c + pmd : hi;

		if (mode == CHARGE_ALTMAP_PMD) {
			rc = pmd_entry_get(m, nid, c);
		} else if (!(mode == CHARGE_RAM && s == c && e == c + pmd && pmd_block_get(m, nid, c))) {
			rc = pte_entries_get(m, nid, c, (e - s) / ps);
			for (uintptr_t p = s; !rc && p < e; p += ps) {
				if (mode != CHARGE_RAM && mode != CHARGE_RAM_BASE)
					break;
				rc = base_page_get(m, nid, p);
				if (rc) {
					/* The chunk's PTEs were counted whole: give back the
					 * part this call did not reach, then undo up to p. */
					pte_entries_put(m, c, (e - p) / ps);
					done = p;
				}
			}
		}
		if (!rc)
			done = e;
	}
	if (!rc && mode == CHARGE_DEDUP) {
		/* Two frames per folio, at its head; every other PTE aliases (the
		 * sections of a folio larger than a section alias its head's). */
		uint64_t fnr = zd_pgmap_vmemmap_nr(pgmap);
		for (uint64_t h = ZD_ALIGN(pfn, fnr); !rc && h < pfn + nr; h += fnr) {
			uintptr_t p = (uintptr_t)zd_pfn_to_page(m, h) & ~(ps - 1);
			rc = base_page_get(m, nid, p);
			if (!rc)
				rc = base_page_get(m, nid, p + ps);
		}
		if (rc)
			done = hi;   /* frames partly charged: give back all of this call */
	}
	if (rc)
		uncharge(m, lo, done, mode == CHARGE_ALTMAP_PMD);
	return rc;
}

/* Give back what charge() took for [start, end); altmap_pmd: the chunks
 * were PMD blocks of an altmap (only their PMD entries to drop). */
static void uncharge(struct zd_machine *m, uintptr_t start, uintptr_t end, bool altmap_pmd)
{
	const struct zd_arch *a = &m->arch;
	uintptr_t ps = a->page_size, pmd = 1ULL << a->pmd_shift;
	uintptr_t lo = ZD_ALIGN_DOWN(start, ps), hi = ZD_ALIGN(end, ps);
	uint64_t idx, last, first, e;

	if (hi <= lo)
		return;
	idx = vmemmap_index(m, lo, a->page_shift);
	last = vmemmap_index(m, hi, a->page_shift) - 1;
	/* A PMD block starting below lo may still cover it. */
	first = vmemmap_index(m, pmd_chunk(m, lo), a->page_shift);
	while ((e = lval(zd_xa_find(m->vmemmap_frames, &first, last)))) {
		uint64_t key = first++;
		uintptr_t addr = (uintptr_t)m->vmemmap_window + (key << a->page_shift);
		uint64_t n = 1;

		if (e & L_PMD) {
			uintptr_t s = addr > lo ? addr : lo, t = addr + pmd < hi ? addr + pmd : hi;
			n = (t - s) / ps;
		} else if (key < idx) {
			continue;
		}
		if (!lcount_put(m->vmemmap_frames, key, e, n))
			continue;
		frame_free(m, e, e & L_PMD ? a->pmd_shift - a->page_shift : 0);
		if (e & L_PMD)
			pmd_entry_put(m, addr);
	}
	for (uintptr_t c = pmd_chunk(m, lo); c < hi; c += pmd) {
		uintptr_t s = c > lo ? c : lo, t = c + pmd < hi ? c + pmd : hi;
		if (altmap_pmd) {
			if (s == c && t == c + pmd)
				pmd_entry_put(m, c);
		} else {
			pte_entries_put(m, c, (t - s) / ps);
		}
	}
}

uint64_t zd_vmemmap_charged_pages(struct zd_machine *m)
{
	uint64_t n = 0, key = 0, e;

	for (struct zd_xarray *xa = m->vmemmap_frames; xa;
	     xa = xa == m->vmemmap_frames ? m->vmemmap_tables : NULL)
		for (key = 0; (e = lval(zd_xa_find(xa, &key, UINT64_MAX))); key++)
			n += e & L_PMD ? 1ULL << (m->arch.pmd_shift - m->arch.page_shift) : 1;
	return n;
}

/*
 * Batches: the host's mmap costs microseconds per call, the kernel's
 * vmemmap_populate() a few page-table writes, so one call per section
 * made a 1024-section devdax rebind ten times the kernel's time. Within a
 * batch the range's host span is mapped once at the start (add) or reset
 * once at the end (remove); sections inside it skip their own call. An
 * add maps the not-yet-added sections' memmap early, which nothing reads:
 * their pfns are not valid until each section is added. Ranges touching
 * an early (boot) section are not batched.
 */
static bool in_batch(const struct zd_machine *m, uintptr_t lo, uintptr_t hi)
{
	return lo >= m->vmemmap_batch.lo && hi <= m->vmemmap_batch.hi;
}

void zd_vmemmap_batch_begin(struct zd_machine *m, uint64_t pfn, uint64_t nr,
			    struct zd_vmem_altmap *altmap, struct zd_dev_pagemap *pgmap, bool remove)
{
	uintptr_t lo, hi;

	m->vmemmap_batch.lo = m->vmemmap_batch.hi = 0;
	if (altmap || !nr || !zd_vmemmap_covers(m, pfn, nr))
		return;
	/* An early section keeps its boot memmap whatever its sub-sections
	 * do: a batch over it would map over it (add) or unmap it (remove). */
	for (uint64_t p = pfn; p < pfn + nr; p += m->arch.pages_per_section) {
		struct zd_mem_section *ms = zd_pfn_to_section(m, p);
		if (ms && zd_early_section(ms))
			return;
	}
	if (zd_pfn_section_nr(&m->arch, pfn) != zd_pfn_section_nr(&m->arch, pfn + nr - 1)) {
		struct zd_mem_section *ms = zd_pfn_to_section(m, pfn + nr - 1);
		if (ms && zd_early_section(ms))
			return;
	}
	host_span(m, pfn, nr, &lo, &hi);
	if (lo >= hi)
		return;
	if (!remove && map_anon(m, lo, hi, zd_vmemmap_can_optimize(m, NULL, pgmap)))
		return;   /* no batch: each section maps (and fails) on its own */
	m->vmemmap_batch.lo = lo;
	m->vmemmap_batch.hi = hi;
	m->vmemmap_batch.remove = remove;
}

void zd_vmemmap_batch_end(struct zd_machine *m, bool ok)
{
	uintptr_t lo = m->vmemmap_batch.lo, hi = m->vmemmap_batch.hi;

	m->vmemmap_batch.lo = m->vmemmap_batch.hi = 0;
	/* a remove, or an add rolled back: no section of the span is left */
	if (lo < hi && (m->vmemmap_batch.remove || !ok))
		unmap_to_reserved(lo, hi);
}

/* __populate_section_memmap(): the arch rule (altmap_block()) decides the
 * altmap's use. An error pointer on failure: -ENOMEM (RAM or altmap),
 * -ENOSPC when the altmap's file cannot get its blocks. */
struct zd_page *zd___populate_section_memmap(struct zd_machine *m, uint64_t pfn, uint64_t nr,
					     int nid, struct zd_vmem_altmap *altmap,
					     struct zd_dev_pagemap *pgmap)
{
	const struct zd_arch *a = &m->arch;
	uintptr_t lo, hi;
	uint64_t block = altmap ? altmap_block(a, nr) : 0;
	enum charge_mode mode;
	bool dedup;
	int rc;

	if (ZD_WARN(m, (pfn | nr) & (a->pages_per_subsection - 1),
		    "populate of unaligned range pfn 0x%llx + %llu", (unsigned long long)pfn,
		    (unsigned long long)nr))
		return ZD_ERR_PTR(-EINVAL);
	if (!zd_vmemmap_covers(m, pfn, nr)) {
		zd_pr_err(m, "vmemmap: pfn 0x%llx-0x%llx lies outside the vmemmap coverage 0x%llx-0x%llx",
			  (unsigned long long)pfn, (unsigned long long)(pfn + nr - 1),
			  (unsigned long long)m->vmemmap_start_pfn,
			  (unsigned long long)(m->vmemmap_end_pfn - 1));
		return ZD_ERR_PTR(-ERANGE);
	}
	dedup = zd_vmemmap_can_optimize(m, altmap, pgmap);
	if (!block)
		altmap = NULL;
	/* What the kernel's vmemmap_populate() would take from RAM: the arch
	 * maps whole sections with PMDs (x86, arm64-4k, ppc64), the rest with
	 * base pages; a deduplicated compound memmap keeps two per folio. */
	if (altmap)
		mode = block == 1ULL << a->pmd_shift ? CHARGE_ALTMAP_PMD : CHARGE_ALTMAP_BASE;
	else if (dedup)
		mode = CHARGE_DEDUP;
	else if (nr >= a->pages_per_section && (a->family != ZD_ARCH_ARM64 || a->page_size == 4096))
		mode = CHARGE_RAM;
	else
		mode = CHARGE_RAM_BASE;
	if (charge(m, nid, pfn, nr, mode, pgmap)) {
		zd_pr_warn(m, "vmemmap alloc failure: no RAM for the memmap of pfn 0x%llx + %llu",
			   (unsigned long long)pfn, (unsigned long long)nr);
		return ZD_ERR_PTR(-ENOMEM);
	}
	host_span(m, pfn, nr, &lo, &hi);
	if (lo >= hi)
		return zd_pfn_to_page(m, pfn);
	if (altmap)
		rc = populate_altmap(m, lo, hi, altmap, block);
	else
		rc = in_batch(m, lo, hi) ? 0 : map_anon(m, lo, hi, dedup);
	if (rc) {
		uncharge(m, (uintptr_t)zd_pfn_to_page(m, pfn), (uintptr_t)zd_pfn_to_page(m, pfn + nr),
			 mode == CHARGE_ALTMAP_PMD);
		zd_pr_warn(m, "vmemmap alloc failure: pfn 0x%llx + %llu%s", (unsigned long long)pfn,
			   (unsigned long long)nr,
			   rc == -ENOMEM && altmap ? " (altmap exhausted)" : "");
		return ZD_ERR_PTR(rc);
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
	uncharge(m, (uintptr_t)zd_pfn_to_page(m, pfn), (uintptr_t)zd_pfn_to_page(m, pfn + nr),
		 altmap && altmap_block(a, nr) == 1ULL << a->pmd_shift);
	host_span(m, pfn, nr, &lo, &hi);
	if (lo >= hi)
		return;
	if (!altmap && in_batch(m, lo, hi))
		;   /* zd_vmemmap_batch_end() unmaps the whole range */
	else
		unmap_to_reserved(lo, hi);
	__atomic_sub_fetch(&m->vmemmap_mapped_bytes, (long)(hi - lo), __ATOMIC_RELAXED);
	if (altmap)
		zd_vmem_altmap_free(altmap, (hi - lo + a->page_size - 1) >> a->page_shift);
}
