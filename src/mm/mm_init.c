/*
 * Memmap and zone initialisation (mm/mm_init.c): struct pages of RAM are set
 * up when their range joins a zone (boot or online), pageblock migratetypes
 * live in the section usage, empty zones get their free lists on first use.
 * Invariants: an initialised page is zero but for zone/node links, refcount
 * 1 and mapcount -1; the caller holds the hotplug write lock.
 */
#include <string.h>
#include <unistd.h>
#include "base/list.h"
#include "mm/internal.h"

const char *const zd_zone_names[ZD_MAX_NR_ZONES] = { "DMA", "DMA32", "Normal", "Movable",
						       "Device" };

void zd___init_single_page(struct zd_page *page, int zone, int nid)
{
	memset(page, 0, sizeof(*page));
	zd_set_page_links(page, zone, nid);
	page->_refcount = 1;
	page->_mapcount = -1;
	zd_list_init(&page->lru);
}

static unsigned long *pageblock_word(struct zd_machine *m, uint64_t pfn, unsigned *shift)
{
	struct zd_mem_section *ms = zd_pfn_to_section(m, pfn);
	const struct zd_arch *a = &m->arch;
	uint64_t idx;

	if (!ms || !ms->usage)
		return NULL;
	idx = ((pfn & (a->pages_per_section - 1)) >> a->pageblock_order) * ZD_NR_PAGEBLOCK_BITS;
	*shift = (unsigned)(idx % 64);
	return &ms->usage->pageblock_flags[idx / 64];
}

void zd_set_pageblock_migratetype(struct zd_machine *m, uint64_t pfn, int migratetype)
{
	unsigned shift;
	unsigned long *w = pageblock_word(m, pfn, &shift);

	if (!w)
		return;
	unsigned long old = __atomic_load_n(w, __ATOMIC_RELAXED), val;
	do {
		val = (old & ~(0xfUL << shift)) | ((unsigned long)migratetype << shift);
	} while (!__atomic_compare_exchange_n(w, &old, val, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
}

int zd_get_pageblock_migratetype(struct zd_machine *m, uint64_t pfn)
{
	unsigned shift;
	unsigned long *w = pageblock_word(m, pfn, &shift);

	return w ? (int)((__atomic_load_n(w, __ATOMIC_RELAXED) >> shift) & 0xf) : -1;
}

/*
 * memmap_init_range(): RAM pages get initialised and, for hotplug, marked
 * offline until the buddy takes them. ZONE_DEVICE pages are initialised by
 * their pgmap; here only altmap-backed memmap pages would be.
 */
void zd_memmap_init_range(struct zd_machine *m, uint64_t nr, int nid, int zone, uint64_t start_pfn,
			  struct zd_vmem_altmap *altmap, int migratetype, bool hotplug)
{
	uint64_t end = start_pfn + nr;
	uint64_t pb = 1ULL << m->arch.pageblock_order;

	if (zone == ZD_ZONE_DEVICE) {
		if (!altmap)
			return;
		if (start_pfn == altmap->base_pfn)
			start_pfn += altmap->reserve;
		end = altmap->base_pfn + zd_vmem_altmap_offset(altmap);
	}
	/* Every page is the same but for its self-pointing lru: build one
	 * template and copy it, rather than zero-and-set each page. */
	struct zd_page t;

	zd___init_single_page(&t, zone, nid);
	if (hotplug && zone != ZD_ZONE_DEVICE)
		t.page_type = ZD_PGTY_offline << 24;
	else
		__zd_set_page_flag(&t, ZD_PG_reserved);
	for (uint64_t pfn = start_pfn; pfn < end; pfn++) {
		struct zd_page *page = zd_pfn_to_page(m, pfn);

		*page = t;
		zd_list_init(&page->lru);
		if (!(pfn & (pb - 1))) {
			zd_set_pageblock_migratetype(m, pfn, migratetype);
			if (!((pfn - start_pfn) & (ZD_PROGRESS_PAGES - 1)))
				zd_progress(m, "memmap_init_range", pfn - start_pfn, end - start_pfn);
		}
	}
	if (end > start_pfn)
		zd_progress(m, "memmap_init_range", end - start_pfn, end - start_pfn);
}

void zd_zone_init_free_lists(struct zd_zone *zone)
{
	for (int o = 0; o <= ZD_MAX_ORDER_LIMIT; o++) {
		zd_list_init(&zone->free_area[o].free_list);
		zone->free_area[o].nr_free = 0;
	}
}

void zd_init_currently_empty_zone(struct zd_zone *zone, uint64_t start_pfn, uint64_t size)
{
	struct zd_pglist_data *pgdat = zone->zone_pgdat;

	if ((int)zone->idx + 1 > pgdat->nr_zones)
		pgdat->nr_zones = (int)zone->idx + 1;
	zone->zone_start_pfn = start_pfn;
	zone->spanned_pages = size;
	zone->initialized = true;
}

/*
 * ZONE_DEVICE memmap (memmap_init_zone_device and helpers). Every device
 * page starts from one template — zone, node, PG_reserved, pgmap, the
 * type's initial refcount — so initialising is a 64-byte copy per page; a
 * compound folio then links its tails to the head. With a deduplicated
 * memmap only the first compound_nr_pages struct pages of a folio are
 * written, the rest stay untouched (zero page, no memory).
 */
#include <pthread.h>
#include <time.h>
#include "base/align.h"

static int initial_refcount(const struct zd_dev_pagemap *pgmap)
{
	/* v6.15+: idle device pages sit at 0, except device-dax (GENERIC). */
	return pgmap->type == ZD_MEMORY_DEVICE_GENERIC ? 1 : 0;
}

static void device_page_template(struct zd_page *t, int nid, struct zd_dev_pagemap *pgmap)
{
	zd___init_single_page(t, ZD_ZONE_DEVICE, nid);
	__zd_set_page_flag(t, ZD_PG_reserved);
	t->pgmap = pgmap;
	t->zone_device_data = NULL;
	t->_refcount = initial_refcount(pgmap);
}

struct init_job {
	struct zd_machine *m;
	struct zd_page *first;       /* struct page of folio 0 */
	uint64_t first_pfn;          /* ZD_BAD_PFN for pages outside the vmemmap */
	uint64_t nr;                 /* pages */
	uint64_t folio_nr;           /* pages per folio */
	uint64_t written;            /* struct pages written per folio */
	unsigned order;
	struct zd_page tmpl;
	uint64_t from, to;           /* folio index range of this worker */
	bool report;                 /* this worker reports progress (for all) */
};

static void *init_worker(void *arg)
{
	struct init_job *j = arg;
	uint64_t pb = 1ULL << j->m->arch.pageblock_order;
	struct zd_page tail = j->tmpl;

	tail._refcount = 0;
	for (uint64_t f = j->from; f < j->to; f++) {
		struct zd_page *head = j->first + f * j->folio_nr;

		/* Workers share the folios evenly: the first one's share done
		 * is the whole job's. */
		if (j->report && !((f - j->from) * j->folio_nr & (ZD_PROGRESS_PAGES - 1)))
			zd_progress(j->m, "memmap_init_zone_device", (f - j->from) * j->folio_nr,
				    (j->to - j->from) * j->folio_nr);
		uint64_t n = j->written < j->nr - f * j->folio_nr ? j->written : j->nr - f * j->folio_nr;

		*head = j->tmpl;
		if (j->folio_nr > 1) {
			__zd_set_page_flag(head, ZD_PG_head);
			tail.compound_head = (unsigned long)head + 1;
			for (uint64_t i = 1; i < n; i++)
				head[i] = tail;
			/* prep_compound_head(): the folio order lives in page 1. */
			zd_set_folio_order(head, j->order);
		}
		/* Like __init_zone_device_page(): the pages initialised here mark
		 * their pageblock movable; a deduplicated folio's untouched tails
		 * do not. */
		if (j->first_pfn != ZD_BAD_PFN) {
			uint64_t pfn = j->first_pfn + f * j->folio_nr;
			for (uint64_t p = ZD_ALIGN(pfn, pb); p < pfn + n; p += pb)
				zd_set_pageblock_migratetype(j->m, p, ZD_MIGRATE_MOVABLE);
		}
	}
	return NULL;
}

/* Split the folios between the host's CPUs when there is enough work. */
static void run_init(struct init_job *job)
{
	uint64_t folios = (job->nr + job->folio_nr - 1) / job->folio_nr;
	uint64_t work = folios * (job->written < job->folio_nr ? job->written : job->folio_nr);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nthreads = work >= (1ULL << 20) && ncpu > 1 ? (ncpu > 8 ? 8 : (int)ncpu) : 1;
	struct init_job jobs[8];
	pthread_t tid[8];
	int started = 0;

	for (int t = 0; t < nthreads; t++) {
		jobs[t] = *job;
		jobs[t].from = folios * (uint64_t)t / (uint64_t)nthreads;
		jobs[t].to = folios * (uint64_t)(t + 1) / (uint64_t)nthreads;
		jobs[t].report = t == 0;
	}
	for (int t = 1; t < nthreads; t++)
		if (!pthread_create(&tid[t], NULL, init_worker, &jobs[t]))
			started |= 1 << t;
		else
			init_worker(&jobs[t]);
	init_worker(&jobs[0]);
	for (int t = 1; t < nthreads; t++)
		if (started & (1 << t))
			pthread_join(tid[t], NULL);
	if (folios)
		zd_progress(job->m, "memmap_init_zone_device", job->nr, job->nr);
}

void zd_init_zone_device_pages(struct zd_machine *m, struct zd_page *first, uint64_t nr, int nid,
			       struct zd_dev_pagemap *pgmap, uint64_t written_per_folio)
{
	struct init_job job = {
		.m = m, .first = first, .first_pfn = ZD_BAD_PFN, .nr = nr,
		.folio_nr = zd_pgmap_vmemmap_nr(pgmap), .written = written_per_folio,
		.order = (unsigned)pgmap->vmemmap_shift,
	};

	device_page_template(&job.tmpl, nid, pgmap);
	run_init(&job);
}

void zd_memmap_init_zone_device(struct zd_machine *m, struct zd_zone *zone, uint64_t start_pfn,
				uint64_t nr_pages, struct zd_dev_pagemap *pgmap)
{
	struct zd_vmem_altmap *altmap = zd_pgmap_altmap(pgmap);
	uint64_t end_pfn = start_pfn + nr_pages;
	struct timespec t0, t1;

	if (ZD_WARN(m, !pgmap || zone->idx != ZD_ZONE_DEVICE, "memmap_init_zone_device: %s",
		    !pgmap ? "no pgmap" : "zone is not ZONE_DEVICE"))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (altmap) {
		start_pfn = altmap->base_pfn + zd_vmem_altmap_offset(altmap);
		nr_pages = end_pfn - start_pfn;
	}
	struct init_job job = {
		.m = m, .first = zd_pfn_to_page(m, start_pfn), .first_pfn = start_pfn,
		.nr = nr_pages, .folio_nr = zd_pgmap_vmemmap_nr(pgmap),
		.written = zd_compound_nr_pages(m, altmap, pgmap),
		.order = (unsigned)pgmap->vmemmap_shift,
	};
	device_page_template(&job.tmpl, zone->zone_pgdat->node_id, pgmap);
	run_init(&job);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pgmap->memmap_init_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
					    (t1.tv_nsec - t0.tv_nsec));
	zd_pr_debug(m, "memmap_init_zone_device initialised %llu pages in %llums",
		    (unsigned long long)nr_pages,
		    (unsigned long long)((t1.tv_sec - t0.tv_sec) * 1000 +
					 (t1.tv_nsec - t0.tv_nsec) / 1000000));
}
