/*
 * dev_pagemap lifetime: invariants 9 (all-or-nothing setup), 10 (per-type
 * page refcounts) and 11 (pgmap reference accounting), with threads.
 *
 * Asserts:
 *  - inv 9: a 3-range GENERIC pgmap (a full section, a partial section, a
 *    range across a section boundary) is mapped once cleanly to learn how
 *    often each fault-injection point is passed; then each point fails on
 *    each of its passes in turn, and every time the setup fails, the armed
 *    point really fired, no unexpected WARN was raised, and the section words
 *    + sub-section maps, the /proc/iomem text, the ZONE_DEVICE zone and node
 *    spans, the pgmap_array lookups on every range and the mapped memmap
 *    bytes are identical to before, and nr_range is restored to 3; a final
 *    clean map + unmap still works;
 *  - inv 10, per type: initial refcount on every page (0 PRIVATE, COHERENT,
 *    FS_DAX, P2PDMA; 1 GENERIC), then taking a page (zone_device_page_init
 *    for PRIVATE/COHERENT, a plain reference for the others), get/put back
 *    to zero: folio_free calls (PRIVATE, COHERENT, P2PDMA only), final
 *    refcount (GENERIC back to 1), mapping cleared except FS_DAX/GENERIC,
 *    anon-exclusive bits cleared, FS_DAX wakeups counted, pgmap refs given
 *    back by PRIVATE/COHERENT and untouched by P2PDMA; an order-9 PRIVATE
 *    folio takes and returns 512 refs and frees once through a tail;
 *  - inv 11: live refs = 1 + sum pfn_len (types other than PRIVATE/COHERENT,
 *    one per folio, altmap part of range 0 excluded) + allocations
 *    (1 << order) + get_dev_pagemap holders;
 *  - inv 11 blocking: with one lookup reference and one allocated page held,
 *    memunmap_pages on a thread is still blocked after 200 ms, lookups
 *    return NULL once it started, the log says it is waiting (at once, then each second),
 *    and releasing both lets it finish with the sections gone;
 *  - a reader thread hammering get_dev_pagemap/put while the main thread
 *    maps and unmaps the same pgmap N times: every hit is that pgmap, all
 *    cycles succeed, and afterwards the refcount is exactly the formula.
 * Small 40-bit x86_64 machine so the vmemmap window fits under TSan.
 */
#include <zonedev/zonedev.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)
#define SECTION_PAGES 32768ULL

static struct zd_machine *m;

/* ---- counting callbacks ---- */

static unsigned long nr_freed;
static struct zd_page *last_freed;
static void count_free(struct zd_page *folio)
{
	__atomic_store_n(&last_freed, folio, __ATOMIC_RELAXED);
	__atomic_add_fetch(&nr_freed, 1, __ATOMIC_RELAXED);
}
static int no_migrate(struct zd_vm_fault *vmf) { (void)vmf; return 0; }
static const struct zd_dev_pagemap_ops counting_ops = { .folio_free = count_free,
							.migrate_to_ram = no_migrate };
static unsigned long freed(void) { return __atomic_load_n(&nr_freed, __ATOMIC_RELAXED); }

/* ------------------------------------------------------------------ inv 9 */

#define A_LO (8 * G)
#define A_HI (9 * G + 128 * M)
#define A_NSEC ((A_HI - A_LO) / (128 * M))

static const struct zd_range three[3] = {
	{ 8 * G, 8 * G + 128 * M - 1 },                         /* one full section */
	{ 8 * G + 320 * M, 8 * G + 352 * M - 1 },               /* part of a section */
	{ 9 * G - 64 * M, 9 * G + 64 * M - 1 },                 /* across a boundary */
};

static void setup_three(struct zd_dev_pagemap *pg, unsigned long shift)
{
	zd_dev_pagemap_init(pg);
	pg->type = ZD_MEMORY_DEVICE_GENERIC;
	pg->nr_range = 3;
	memcpy(pg->ranges, three, sizeof(three));
	pg->vmemmap_shift = shift;
}

struct snap {
	char *iomem;
	unsigned long words[A_NSEC];
	unsigned long submap[A_NSEC][ZD_SUBSECTION_MAP_LONGS];
	bool usage[A_NSEC];
	uint64_t zone_start, zone_span, node_start, node_span;
	int lookups;
	long mapped;
};

static int count_lookups(const struct zd_range *r, int n)
{
	int hits = 0;

	for (int i = 0; i < n; i++) {
		uint64_t first = PFN(r[i].start), last = PFN(r[i].end);
		uint64_t probe[3] = { first, first + (last - first) / 2, last };
		for (int k = 0; k < 3; k++) {
			struct zd_dev_pagemap *p = zd_get_dev_pagemap(m, probe[k]);
			if (p) {
				hits++;
				zd_put_dev_pagemap(p);
			}
		}
	}
	return hits;
}

static void take(struct snap *s)
{
	struct zd_pglist_data *pgdat = m->node_data[0];
	struct zd_zone *z = &pgdat->node_zones[ZD_ZONE_DEVICE];
	size_t len = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = open_memstream(&s->iomem, &len);
	zd_iomem_dump(m, f);
	fclose(f);
	for (uint64_t i = 0; i < A_NSEC; i++) {
		struct zd_mem_section *ms = zd_pfn_to_section(m, PFN(A_LO) + i * SECTION_PAGES);
		s->words[i] = zd_section_word(ms);
		if (ms && ms->usage) {
			s->usage[i] = true;
			memcpy(s->submap[i], ms->usage->subsection_map, sizeof(s->submap[i]));
		}
	}
	zd_get_online_mems(m);
	s->zone_start = z->zone_start_pfn;
	s->zone_span = z->spanned_pages;
	s->node_start = pgdat->node_start_pfn;
	s->node_span = pgdat->node_spanned_pages;
	zd_put_online_mems(m);
	s->lookups = count_lookups(three, 3);
	s->mapped = __atomic_load_n(&m->vmemmap_mapped_bytes, __ATOMIC_RELAXED);
}

static const char *diff(const struct snap *a, const struct snap *b)
{
	if (strcmp(a->iomem, b->iomem))
		return "iomem";
	if (memcmp(a->words, b->words, sizeof(a->words)))
		return "section words";
	if (memcmp(a->usage, b->usage, sizeof(a->usage)) || memcmp(a->submap, b->submap, sizeof(a->submap)))
		return "sub-section maps";
	if (a->zone_start != b->zone_start || a->zone_span != b->zone_span)
		return "ZONE_DEVICE span";
	if (a->node_start != b->node_start || a->node_span != b->node_span)
		return "node span";
	if (a->lookups != b->lookups)
		return "pgmap_array lookups";
	if (a->mapped != b->mapped)
		return "mapped memmap bytes";
	return NULL;
}

static void drop(struct snap *s)
{
	free(s->iomem);
}

static const char *const points[] = {
	"memremap:validate", "pagemap_range:xa_store", "pagemap_range:track",
	"pagemap_range:range_allowed", "pagemap_range:add", "sparse_add_section",
	"pagemap_range:backing",
};
#define NR_POINTS (sizeof(points) / sizeof(points[0]))

static void all_or_nothing(void)
{
	struct zd_dev_pagemap pg;
	unsigned long hits[NR_POINTS];
	struct snap clean, before, after;
	void *ret;

	/* The clean run: learn the passes; it also grows the ZONE_DEVICE span
	 * (which never shrinks), so failures later must leave it alone. */
	take(&clean);
	ok(clean.lookups == 0 && !clean.words[0], "test area starts empty");
	zd_fault_inject_clear(m);
	setup_three(&pg, 0);
	ret = zd_memremap_pages(m, &pg, 0);
	if (!ok(!ZD_IS_ERR(ret), "clean 3-range GENERIC map")) {
		drop(&clean);
		return;
	}
	for (size_t i = 0; i < NR_POINTS; i++) {
		hits[i] = zd_fault_inject_hits(m, points[i]);
		diag("clean run passes %s %lu time(s)", points[i], hits[i]);
	}
	is_u64(hits[0], 1, "validate is passed once");
	for (size_t i = 1; i < NR_POINTS; i++)
		if (strcmp(points[i], "sparse_add_section"))
			is_u64(hits[i], 3, "%s is passed once per range", points[i]);
	take(&after);
	is_int(after.lookups, 9, "clean map: every range found by pfn");
	ok(after.words[0] & ZD_SECTION_HAS_MEM_MAP, "clean map: section 0 has a memmap");
	drop(&after);
	zd_memunmap_pages(&pg);
	take(&after);
	ok(memcmp(clean.words, after.words, sizeof(clean.words)) == 0 && after.lookups == 0,
	   "clean unmap: sections and lookups back to empty");
	ok(after.zone_span >= PFN(three[2].end + 1) - PFN(three[0].start),
	   "clean map grew the ZONE_DEVICE span over the three ranges (and unmap kept it)");
	drop(&after);
	drop(&clean);

	for (size_t i = 0; i < NR_POINTS; i++) {
		if (!ok(hits[i] > 0, "fault point %s is passed by memremap_pages", points[i]))
			continue;
		for (unsigned long n = 1; n <= hits[i]; n++) {
			unsigned long seq = zd_log_seq(m), warns = zd_warn_count(m);
			char fired[96];
			const char *d;

			setup_three(&pg, 0);
			take(&before);
			zd_fault_inject_set(m, points[i], n);
			ret = zd_memremap_pages(m, &pg, 0);
			zd_fault_inject_clear(m);
			ok(ZD_IS_ERR(ret), "%s pass %lu: setup fails (%ld)", points[i], n,
			   ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L);
			if (!ZD_IS_ERR(ret)) {
				zd_memunmap_pages(&pg);
				drop(&before);
				continue;
			}
			snprintf(fired, sizeof(fired), "forcing a failure at %s", points[i]);
			ok(tap_log_since(m, seq, fired), "%s pass %lu: the armed point fired", points[i], n);
			take(&after);
			d = diff(&before, &after);
			ok(!d, "%s pass %lu: everything as before%s%s", points[i], n, d ? ": " : "",
			   d ? d : "");
			is_int(pg.nr_range, 3, "%s pass %lu: nr_range restored", points[i], n);
			is_int(zd_warn_count(m) - warns, !strcmp(points[i], "memremap:validate"),
			       "%s pass %lu: no unexpected WARN", points[i], n);
			drop(&before);
			drop(&after);
		}
	}
	setup_three(&pg, 0);
	ret = zd_memremap_pages(m, &pg, 0);
	ok(!ZD_IS_ERR(ret), "after all injected failures the pgmap still maps");
	if (!ZD_IS_ERR(ret)) {
		is_int(count_lookups(three, 3), 9, "and is found on every range");
		zd_memunmap_pages(&pg);
	}
	is_int(count_lookups(three, 3), 0, "and unmaps");
}

/* ----------------------------------------------------------------- inv 10 */

#define T_START (12 * G)
#define T_SIZE (4 * M)

static void *map_type(struct zd_dev_pagemap *pg, int type, phys_addr_t start, uint64_t size)
{
	zd_dev_pagemap_init(pg);
	pg->type = (enum zd_memory_type)type;
	pg->range.start = start;
	pg->range.end = start + size - 1;
	pg->nr_range = 1;
	pg->ops = &counting_ops;
	pg->owner = pg;
	return zd_memremap_pages(m, pg, 0);
}

static void refcounts_per_type(void)
{
	static const struct {
		int type;
		int initial;        /* idle refcount */
		bool alloc_init;    /* taken with zone_device_page_init */
		bool frees;         /* folio_free at 0 */
		bool clears_mapping;
		int final;          /* refcount after the last put */
		int ref_after_take; /* pgmap refs added by taking the page */
	} t[] = {
		{ ZD_MEMORY_DEVICE_PRIVATE, 0, true, true, true, 0, 1 },
		{ ZD_MEMORY_DEVICE_COHERENT, 0, true, true, true, 0, 1 },
		{ ZD_MEMORY_DEVICE_FS_DAX, 0, false, false, false, 0, 0 },
		{ ZD_MEMORY_DEVICE_GENERIC, 1, false, false, false, 1, 0 },
		{ ZD_MEMORY_DEVICE_PCI_P2PDMA, 0, false, true, true, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *name = zd_memory_type_name(t[i].type);
		struct zd_dev_pagemap pg;
		void *ret = map_type(&pg, t[i].type, T_START, T_SIZE);
		uint64_t pfn0 = PFN(T_START), npages = PFN(T_SIZE);
		unsigned long f0 = freed();
		int bad = 0;

		if (!ok(!ZD_IS_ERR(ret), "%s: maps", name))
			continue;
		for (uint64_t p = 0; p < npages; p++)
			bad += zd_page_ref_count(zd_pfn_to_page(m, pfn0 + p)) != t[i].initial;
		is_int(bad, 0, "%s: every page idles at refcount %d", name, t[i].initial);

		struct zd_page *page = zd_pfn_to_page(m, pfn0 + 5);
		uint64_t ref0 = zd_percpu_ref_read(&pg.ref);
		if (t[i].alloc_init) {
			zd_zone_device_page_init(page, &pg, 0);
			ok(zd_test_page_flag(page, ZD_PG_locked), "%s: zone_device_page_init locks", name);
		} else if (t[i].initial == 0) {
			zd_get_page(m, page);     /* the fs/p2pdma user takes it */
		}
		is_int(zd_page_ref_count(page), 1, "%s: taken page at refcount 1", name);
		is_u64(zd_percpu_ref_read(&pg.ref), ref0 + (uint64_t)t[i].ref_after_take,
		       "%s: taking the page adds %d pgmap ref(s)", name, t[i].ref_after_take);
		/* An anonymous mapping with the exclusive bit, as after a fault. */
		page->mapping = (void *)0x10001UL;
		__zd_set_page_flag(page, ZD_PG_anon_exclusive);
		zd_get_page(m, page);
		is_int(zd_page_ref_count(page), 2, "%s: get -> 2", name);
		zd_put_page(m, page);
		is_int(zd_page_ref_count(page), 1, "%s: put -> 1", name);
		is_u64(freed() - f0, 0, "%s: nothing freed at 1", name);
		uint64_t wake0 = __atomic_load_n(&pg.fsdax_wakeups, __ATOMIC_RELAXED);
		zd_put_page(m, page);
		is_u64(freed() - f0, t[i].frees ? 1 : 0, "%s: folio_free called %d time(s) at 0", name,
		       t[i].frees ? 1 : 0);
		if (t[i].frees)
			ok(__atomic_load_n(&last_freed, __ATOMIC_RELAXED) == page,
			   "%s: folio_free got the folio", name);
		is_int(zd_page_ref_count(page), t[i].final, "%s: final refcount %d", name, t[i].final);
		ok(t[i].clears_mapping ? page->mapping == NULL : page->mapping == (void *)0x10001UL,
		   "%s: mapping %s", name, t[i].clears_mapping ? "cleared" : "kept");
		ok(!zd_test_page_flag(page, ZD_PG_anon_exclusive), "%s: anon-exclusive cleared", name);
		is_u64(__atomic_load_n(&pg.fsdax_wakeups, __ATOMIC_RELAXED) - wake0,
		       t[i].type == ZD_MEMORY_DEVICE_FS_DAX, "%s: fsdax wakeups %d", name,
		       t[i].type == ZD_MEMORY_DEVICE_FS_DAX);
		is_u64(zd_percpu_ref_read(&pg.ref), ref0, "%s: pgmap refs back to %llu", name,
		       (unsigned long long)ref0);
		page->mapping = NULL;

		if (t[i].type == ZD_MEMORY_DEVICE_PRIVATE) {
			/* An order-9 folio: 512 refs, one free through a tail. */
			struct zd_page *head = zd_pfn_to_page(m, pfn0 + 512);
			zd_zone_device_page_init(head, &pg, 9);
			is_u64(zd_percpu_ref_read(&pg.ref), ref0 + 512, "private order 9: +512 pgmap refs");
			is_int(zd_folio_order(m, head), 9, "private order 9: folio order");
			ok(zd_page_folio(m, head + 300) == head, "private order 9: tail -> head");
			is_int(zd_page_ref_count(head), 1, "private order 9: head refcount 1");
			f0 = freed();
			zd_put_page(m, head + 300);
			is_u64(freed() - f0, 1, "private order 9: freed once");
			ok(__atomic_load_n(&last_freed, __ATOMIC_RELAXED) == head,
			   "private order 9: folio_free got the head");
			is_u64(zd_percpu_ref_read(&pg.ref), ref0, "private order 9: refs returned");
		}
		zd_memunmap_pages(&pg);
		ok(!zd_pfn_valid(m, pfn0), "%s: unmapped", name);
	}
}

/* ----------------------------------------------------------------- inv 11 */

static void ref_formula(void)
{
	struct zd_dev_pagemap pg;
	uint64_t pages[3], sum = 0;
	void *ret;
	int memfd;

	for (int i = 0; i < 3; i++) {
		pages[i] = PFN(three[i].end + 1) - PFN(three[i].start);
		sum += pages[i];
	}
	/* GENERIC, base pages: one ref per page. */
	setup_three(&pg, 0);
	ret = zd_memremap_pages(m, &pg, 0);
	if (ok(!ZD_IS_ERR(ret), "GENERIC shift 0 maps")) {
		is_u64(zd_percpu_ref_read(&pg.ref), 1 + sum, "GENERIC shift 0: 1 + %llu pages",
		       (unsigned long long)sum);
		struct zd_dev_pagemap *a = zd_get_dev_pagemap(m, PFN(three[1].start));
		struct zd_dev_pagemap *b = zd_get_dev_pagemap(m, PFN(three[2].end));
		ok(a == &pg && b == &pg, "two lookups find it");
		is_u64(zd_percpu_ref_read(&pg.ref), 3 + sum, "GENERIC: + 2 lookup holders");
		zd_put_dev_pagemap(a);
		zd_put_dev_pagemap(b);
		is_u64(zd_percpu_ref_read(&pg.ref), 1 + sum, "GENERIC: holders gone");
		zd_memunmap_pages(&pg);
	}
	/* GENERIC, 2 MiB folios: one ref per folio. */
	setup_three(&pg, 9);
	ret = zd_memremap_pages(m, &pg, 0);
	if (ok(!ZD_IS_ERR(ret), "GENERIC shift 9 maps")) {
		is_u64(zd_percpu_ref_read(&pg.ref), 1 + sum / 512, "GENERIC shift 9: 1 + %llu folios",
		       (unsigned long long)(sum / 512));
		zd_memunmap_pages(&pg);
	}
	/* FS_DAX with an altmap: range 0 counts from base + reserve + free. */
	memfd = memfd_create("lifetime", MFD_CLOEXEC);
	if (ok(memfd >= 0 && !ftruncate(memfd, (off_t)(256 * M)), "memfd")) {
		zd_dev_pagemap_init(&pg);
		pg.type = ZD_MEMORY_DEVICE_FS_DAX;
		pg.range.start = three[0].start;
		pg.range.end = three[0].end;
		pg.nr_range = 1;
		pg.backing_fd = memfd;
		pg.flags = ZD_PGMAP_ALTMAP_VALID;
		pg.altmap.base_pfn = PFN(three[0].start);
		pg.altmap.reserve = 2;
		pg.altmap.free = 1022;
		ret = zd_memremap_pages(m, &pg, 0);
		if (ok(!ZD_IS_ERR(ret), "FS_DAX with altmap maps")) {
			is_u64(zd_percpu_ref_read(&pg.ref), 1 + pages[0] - 1024,
			       "FS_DAX altmap: 1 + pages - (reserve + free)");
			zd_memunmap_pages(&pg);
		}
		close(memfd);
	}
	/* PRIVATE: no bulk refs; allocations and lookups only. */
	ret = map_type(&pg, ZD_MEMORY_DEVICE_PRIVATE, T_START, T_SIZE);
	if (ok(!ZD_IS_ERR(ret), "PRIVATE maps")) {
		uint64_t pfn0 = PFN(T_START);
		is_u64(zd_percpu_ref_read(&pg.ref), 1, "PRIVATE: base ref only");
		for (int i = 0; i < 3; i++)
			zd_zone_device_page_init(zd_pfn_to_page(m, pfn0 + (uint64_t)i), &pg, 0);
		zd_zone_device_page_init(zd_pfn_to_page(m, pfn0 + 8), &pg, 2);
		struct zd_dev_pagemap *a = zd_get_dev_pagemap(m, pfn0 + 100);
		is_u64(zd_percpu_ref_read(&pg.ref), 1 + 3 + 4 + 1,
		       "PRIVATE: 1 + 3 pages + an order-2 folio + 1 lookup");
		zd_put_dev_pagemap(a);
		for (int i = 0; i < 3; i++)
			zd_put_page(m, zd_pfn_to_page(m, pfn0 + (uint64_t)i));
		zd_put_page(m, zd_pfn_to_page(m, pfn0 + 9));
		is_u64(zd_percpu_ref_read(&pg.ref), 1, "PRIVATE: back to the base ref");
		zd_memunmap_pages(&pg);
	}
}

struct unmap_job {
	struct zd_dev_pagemap *pg;
	int done;
};

static void *unmap_thread(void *arg)
{
	struct unmap_job *j = arg;

	zd_memunmap_pages(j->pg);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void blocked_unmap(void)
{
	struct zd_dev_pagemap pg;
	struct unmap_job job = { .pg = &pg };
	pthread_t tid;
	void *ret = map_type(&pg, ZD_MEMORY_DEVICE_PRIVATE, T_START, T_SIZE);
	uint64_t pfn0 = PFN(T_START);
	unsigned long seq;

	if (!ok(!ZD_IS_ERR(ret), "blocking test: PRIVATE maps"))
		return;
	struct zd_page *page = zd_pfn_to_page(m, pfn0 + 17);
	zd_zone_device_page_init(page, &pg, 0);
	struct zd_dev_pagemap *held = zd_get_dev_pagemap(m, pfn0 + 1);
	ok(held == &pg, "lookup reference held");
	is_u64(zd_percpu_ref_read(&pg.ref), 3, "base + page + lookup");
	seq = zd_log_seq(m);
	if (!ok(!pthread_create(&tid, NULL, unmap_thread, &job), "memunmap_pages thread starts")) {
		zd_put_page(m, page);
		zd_put_dev_pagemap(held);
		zd_memunmap_pages(&pg);
		return;
	}
	/* State, not time: the unmap has killed the ref and gone round its wait. */
	ok(tap_wait_for_log(m, seq, "waiting", 60), "the log says memunmap_pages is waiting");
	ok(!__atomic_load_n(&job.done, __ATOMIC_ACQUIRE), "memunmap_pages blocked by the references");
	ok(zd_percpu_ref_is_dying(&pg.ref), "the ref is killed");
	struct zd_dev_pagemap *late = zd_get_dev_pagemap(m, pfn0 + 2);
	ok(late == NULL, "get_dev_pagemap returns NULL once unmap started");
	zd_put_dev_pagemap(late);
	ok(zd_pfn_valid(m, pfn0), "sections still there while blocked");
	zd_put_page(m, page);
	/* The page's reference is back; the lookup's still pins it, so the
	 * next round of the wait still finds one reference. */
	seq = zd_log_seq(m);
	ok(tap_wait_for_log(m, seq, "still has 1 references", 60), "the wait now reports 1 reference");
	ok(!__atomic_load_n(&job.done, __ATOMIC_ACQUIRE), "still blocked with the lookup ref held");
	zd_put_dev_pagemap(held);
	tap_join_or_bail(tid, 10, "unmap");
	ok(__atomic_load_n(&job.done, __ATOMIC_ACQUIRE), "memunmap_pages finished after the releases");
	ok(!zd_pfn_valid(m, pfn0) && !zd_pfn_valid(m, PFN(T_START + T_SIZE) - 1),
	   "the device pfns are gone");
	is_u64(zd_section_word(zd_pfn_to_section(m, pfn0)), 0, "the section word is zero");
	ok(!zd_get_dev_pagemap(m, pfn0), "no pgmap at the range");
}

/* --------------------------------------------------------- reader hammer */

static const struct zd_range small3[3] = {
	{ 10 * G, 10 * G + 2 * M - 1 },
	{ 10 * G + 4 * M, 10 * G + 6 * M - 1 },
	{ 10 * G + 126 * M, 10 * G + 130 * M - 1 },
};

struct reader {
	struct zd_dev_pagemap *expect;
	int stop;
	unsigned long hits, misses, wrong, wrong_type;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	uint64_t pfns[6];

	for (int i = 0; i < 3; i++) {
		pfns[2 * i] = PFN(small3[i].start);
		pfns[2 * i + 1] = PFN(small3[i].end);
	}
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < 6; i++) {
			struct zd_dev_pagemap *p = zd_get_dev_pagemap(m, pfns[i]);
			if (!p) {
				r->misses++;
				continue;
			}
			r->hits++;
			if (p != r->expect)
				r->wrong++;
			else if (p->type != ZD_MEMORY_DEVICE_GENERIC)
				r->wrong_type++;
			zd_put_dev_pagemap(p);
		}
	}
	return NULL;
}

static void hammer(void)
{
	struct zd_dev_pagemap pg;
	struct reader rd = { .expect = &pg };
	unsigned cycles = TAP_SLOW ? 150 : 300, good = 0;
	uint64_t sum = 0;
	pthread_t tid;
	double t0 = tap_now();

	for (int i = 0; i < 3; i++)
		sum += PFN(small3[i].end + 1) - PFN(small3[i].start);
	if (!ok(!pthread_create(&tid, NULL, reader_thread, &rd), "reader thread starts"))
		return;
	for (unsigned c = 0; c < cycles && tap_now() - t0 < (TAP_SLOW ? 8.0 : 4.0); c++) {
		zd_dev_pagemap_init(&pg);
		pg.type = ZD_MEMORY_DEVICE_GENERIC;
		pg.nr_range = 3;
		memcpy(pg.ranges, small3, sizeof(small3));
		void *ret = zd_memremap_pages(m, &pg, 0);
		if (ZD_IS_ERR(ret)) {
			diag("cycle %u: map failed %ld", c, ZD_PTR_ERR(ret));
			break;
		}
		/* Let the reader see it mapped now and then. */
		if (c % 8 == 0)
			tap_sleep_ms(1);
		zd_memunmap_pages(&pg);
		good++;
	}
	__atomic_store_n(&rd.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tid, NULL);
	diag("%u map/unmap cycles; reader: %lu hits, %lu misses", good, rd.hits, rd.misses);
	ok(good >= 10, "every map/unmap cycle succeeded (%u)", good);
	is_u64(rd.wrong, 0, "the reader only ever found this pgmap");
	is_u64(rd.wrong_type, 0, "and saw it fully set up");
	is_int(count_lookups(small3, 3), 0, "after the last unmap nothing is found");
	ok(!zd_pfn_valid(m, PFN(small3[0].start)), "and the pfns are gone");
	/* No reference leaked into a fresh mapping of the same pgmap. */
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	pg.nr_range = 3;
	memcpy(pg.ranges, small3, sizeof(small3));
	if (ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "maps once more")) {
		is_u64(zd_percpu_ref_read(&pg.ref), 1 + sum, "refs exactly 1 + pages");
		zd_memunmap_pages(&pg);
	}
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1 };
	double t0 = tap_now();

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "machine boots")) {
		diag("%s", zd_machine_create_error());
		return done_testing();
	}
	all_or_nothing();
	refcounts_per_type();
	ref_formula();
	blocked_unmap();
	hammer();
	is_u64(zd_warn_count(m), 1 * 1, "only the injected validate failure WARNed");
	diag("took %.1f s", tap_now() - t0);
	zd_machine_destroy(m);
	return done_testing();
}
