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
#include "base/ntstore.h"
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
 * Memmap initialisation (memmap_init_range for RAM, memmap_init_zone_device
 * for device memory). Every page of a range starts from one template, so
 * initialising is a 64-byte streamed copy per page with only the
 * pfn-dependent words patched: a RAM page's self-pointing lru, a tail's
 * compound_head, the folio order in page[1]. The stores are non-temporal
 * (never read for ownership) and each worker fences before it finishes, so
 * nothing reads a page before its stores are visible. With a deduplicated
 * memmap only the first compound_nr_pages struct pages of a folio are
 * written, the rest stay untouched (zero page, no memory).
 * Pageblock bits are set from the pfn, so no struct page is read back
 * before the fence and every one of them can be streamed (the kernel's
 * series keeps pageblock-aligned pages on normal stores because its
 * pageblock update reads the page).
 * m->memmap_init_per_page selects the per-page path the template replaces
 * (__init_single_page and friends on every page, the kernel's order), which
 * the tests compare byte for byte and the bench measures against.
 */
#include <pthread.h>
#include <time.h>
#include "base/align.h"

struct init_job {
	struct zd_machine *m;
	struct zd_page *first;       /* struct page of folio 0 */
	uint64_t first_pfn;          /* ZD_BAD_PFN for pages outside the vmemmap */
	uint64_t nr;                 /* pages */
	uint64_t folio_nr;           /* pages per folio (1 for RAM) */
	uint64_t written;            /* struct pages written per folio */
	unsigned order;
	int migratetype;             /* of every pageblock starting at a written page */
	bool self_lru;               /* RAM: each page's lru is an empty list */
	const char *what;            /* the progress report's name */
	struct zd_page tmpl;
	struct zd_stream_tmpl head_t, tail1_t, tail_t;   /* made by run_init() */
	uint64_t from, to;           /* folio index range of this worker */
	bool report;                 /* this worker reports progress (for all) */
};

static void set_pageblocks(const struct init_job *j, uint64_t pfn, uint64_t n)
{
	uint64_t pb = 1ULL << j->m->arch.pageblock_order;

	if (j->first_pfn == ZD_BAD_PFN)
		return;
	for (uint64_t p = ZD_ALIGN(pfn, pb); p < pfn + n; p += pb)
		zd_set_pageblock_migratetype(j->m, p, j->migratetype);
}

/* Stream one folio's struct pages: the head, page[1] with the order, tails. */
static void stream_folio(const struct init_job *j, struct zd_page *head, uint64_t n)
{
	uint64_t self = (uint64_t)(uintptr_t)&head->lru, link = (uint64_t)(uintptr_t)head + 1;

	if (j->folio_nr == 1) {
		zd_stream_page_patch(head, &j->head_t, j->self_lru, self, j->self_lru, self);
		return;
	}
	zd_stream_page(head, &j->head_t);
	if (n > 1)
		zd_stream_page_patch(head + 1, &j->tail1_t, true, link, false, 0);
	for (uint64_t i = 2; i < n; i++)
		zd_stream_page_patch(head + i, &j->tail_t, true, link, false, 0);
}

/* The three templates a folio is written from (head, page[1], tails). */
static void make_templates(struct init_job *j)
{
	struct zd_page t = j->tmpl;

	if (j->folio_nr > 1)
		__zd_set_page_flag(&t, ZD_PG_head);
	zd_stream_tmpl_init(&j->head_t, &t);
	t = j->tmpl;
	t._refcount = 0;
	zd_stream_tmpl_init(&j->tail_t, &t);
	/* prep_compound_head(): the folio order lives in page 1. */
	t.flags = (t.flags & ~0xffUL) | j->order;
	zd_stream_tmpl_init(&j->tail1_t, &t);
}

static void *init_worker(void *arg)
{
	struct init_job *j = arg;

	for (uint64_t f = j->from; f < j->to; f++) {
		/* Workers share the folios evenly: the first one's share done
		 * is the whole job's. */
		if (j->report && !((f - j->from) * j->folio_nr & (ZD_PROGRESS_PAGES - 1)))
			zd_progress(j->m, j->what, (f - j->from) * j->folio_nr,
				    (j->to - j->from) * j->folio_nr);
		uint64_t left = j->nr - f * j->folio_nr;
		uint64_t n = j->written < left ? j->written : left;

		stream_folio(j, j->first + f * j->folio_nr, n);
		/* Like __init_zone_device_page(): only pages initialised here
		 * mark their pageblock; a deduplicated folio's tails do not. */
		if (j->first_pfn != ZD_BAD_PFN)
			set_pageblocks(j, j->first_pfn + f * j->folio_nr, n);
	}
	zd_stream_fence();
	return NULL;
}

/* __init_single_page() plus what each path adds, one page at a time. */
static void init_one_page(const struct init_job *j, struct zd_page *page)
{
	zd___init_single_page(page, zd_page_zonenum(&j->tmpl), zd_page_to_nid(&j->tmpl));
	page->flags = j->tmpl.flags;
	page->page_type = j->tmpl.page_type;
	if (!j->self_lru) {
		/* __init_zone_device_page() */
		page->pgmap = j->tmpl.pgmap;
		page->zone_device_data = NULL;
		zd_set_page_count(page, j->tmpl._refcount);
	}
}

/* The per-page path: every page on its own, compound links afterwards. */
static void init_per_page(const struct init_job *j)
{
	for (uint64_t h = 0; h < j->nr; h += j->folio_nr) {
		struct zd_page *head = j->first + h;
		uint64_t n = j->written < j->nr - h ? j->written : j->nr - h;

		init_one_page(j, head);
		set_pageblocks(j, j->first_pfn + h, 1);
		if (j->folio_nr == 1)
			continue;
		/* memmap_init_compound() */
		__zd_set_page_flag(head, ZD_PG_head);
		for (uint64_t i = 1; i < n; i++) {
			init_one_page(j, head + i);
			if (j->first_pfn != ZD_BAD_PFN)
				set_pageblocks(j, j->first_pfn + h + i, 1);
			head[i].compound_head = (unsigned long)head + 1;
			zd_set_page_count(head + i, 0);
			if (i == 1)
				zd_set_folio_order(head, j->order);
		}
	}
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

	if (job->m->memmap_init_per_page) {
		init_per_page(job);
		nthreads = 0;
	}
	make_templates(job);
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
	if (nthreads)
		init_worker(&jobs[0]);
	for (int t = 1; t < nthreads; t++)
		if (started & (1 << t))
			pthread_join(tid[t], NULL);
	if (folios)
		zd_progress(job->m, job->what, job->nr, job->nr);
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

	if (zone == ZD_ZONE_DEVICE) {
		if (!altmap)
			return;
		if (start_pfn == altmap->base_pfn)
			start_pfn += altmap->reserve;
		end = altmap->base_pfn + zd_vmem_altmap_offset(altmap);
	}
	if (end <= start_pfn)
		return;
	struct init_job job = {
		.m = m, .first = zd_pfn_to_page(m, start_pfn), .first_pfn = start_pfn,
		.nr = end - start_pfn, .folio_nr = 1, .written = 1, .migratetype = migratetype,
		.self_lru = true, .what = "memmap_init_range",
	};
	zd___init_single_page(&job.tmpl, zone, nid);
	if (hotplug && zone != ZD_ZONE_DEVICE)
		job.tmpl.page_type = ZD_PGTY_offline << 24;
	else
		__zd_set_page_flag(&job.tmpl, ZD_PG_reserved);
	run_init(&job);
}

static int initial_refcount(const struct zd_dev_pagemap *pgmap)
{
	/* v6.15+: idle device pages sit at 0, except device-dax (GENERIC). */
	return pgmap->type == ZD_MEMORY_DEVICE_GENERIC ? 1 : 0;
}

static void device_job(struct init_job *j, struct zd_machine *m, int nid,
		       struct zd_dev_pagemap *pgmap)
{
	j->m = m;
	j->folio_nr = zd_pgmap_vmemmap_nr(pgmap);
	j->order = (unsigned)pgmap->vmemmap_shift;
	j->migratetype = ZD_MIGRATE_MOVABLE;
	j->what = "memmap_init_zone_device";
	zd___init_single_page(&j->tmpl, ZD_ZONE_DEVICE, nid);
	__zd_set_page_flag(&j->tmpl, ZD_PG_reserved);
	j->tmpl.pgmap = pgmap;
	j->tmpl.zone_device_data = NULL;
	j->tmpl._refcount = initial_refcount(pgmap);
}

void zd_init_zone_device_pages(struct zd_machine *m, struct zd_page *first, uint64_t nr, int nid,
			       struct zd_dev_pagemap *pgmap, uint64_t written_per_folio)
{
	struct init_job job = {
		.first = first, .first_pfn = ZD_BAD_PFN, .nr = nr, .written = written_per_folio,
	};

	device_job(&job, m, nid, pgmap);
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
		.first = zd_pfn_to_page(m, start_pfn), .first_pfn = start_pfn, .nr = nr_pages,
		.written = zd_compound_nr_pages(m, altmap, pgmap),
	};
	device_job(&job, m, zone->zone_pgdat->node_id, pgmap);
	run_init(&job);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pgmap->memmap_init_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
					    (t1.tv_nsec - t0.tv_nsec));
	zd_pr_debug(m, "memmap_init_zone_device initialised %llu pages in %llums",
		    (unsigned long long)nr_pages,
		    (unsigned long long)((t1.tv_sec - t0.tv_sec) * 1000 +
					 (t1.tv_nsec - t0.tv_nsec) / 1000000));
}
