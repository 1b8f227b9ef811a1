/*
 * The buddy allocator (mm/page_alloc.c) per zone, and the meminfo/zoneinfo
 * reports. Free blocks are linked through page->lru on free_area[order],
 * marked PGTY_buddy with their order in page->private (head page only).
 * Invariants: all free-list changes and nr_free happen under zone->lock;
 * a buddy block never crosses a section (max order fits in a section), so
 * merging never reads a struct page outside the freed block's section;
 * allocated pages leave with refcount 1, freed pages arrive with 0.
 */
#include <zonedev/err.h>
#include <zonedev/gfp.h>
#include <zonedev/machine.h>
#include <string.h>
#include "base/list.h"
#include "base/lockdep.h"
#include "mm/internal.h"

/* The order is read without the zone lock by scanners (buddy_order_unsafe). */
static inline void set_buddy(struct zd_page *p, unsigned order)
{
	__atomic_store_n(&p->private, order, __ATOMIC_RELAXED);
	__atomic_store_n(&p->page_type, ZD_PGTY_buddy << 24, __ATOMIC_RELAXED);
}

static inline void clear_buddy(struct zd_page *p)
{
	__atomic_store_n(&p->private, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->page_type, ZD_PAGE_TYPE_NONE, __ATOMIC_RELAXED);
}

static void zone_lock(struct zd_zone *z)
{
	pthread_mutex_lock(&z->lock);
	zd_lock_set_owner(&z->lock_owner);
}

static void zone_unlock(struct zd_zone *z)
{
	zd_lock_clear_owner(&z->lock_owner);
	pthread_mutex_unlock(&z->lock);
}

static void add_to_free_list(struct zd_zone *z, struct zd_page *p, unsigned order)
{
	set_buddy(p, order);
	zd_list_add(&p->lru, &z->free_area[order].free_list);
	z->free_area[order].nr_free++;
	__atomic_add_fetch(&z->nr_free_pages, 1L << order, __ATOMIC_RELAXED);
}

static void del_from_free_list(struct zd_zone *z, struct zd_page *p, unsigned order)
{
	zd_list_del(&p->lru);
	clear_buddy(p);
	z->free_area[order].nr_free--;
	__atomic_sub_fetch(&z->nr_free_pages, 1L << order, __ATOMIC_RELAXED);
}

/* __free_one_page(): merge upwards while the buddy is free at the same order. */
static void free_one_page(struct zd_machine *m, struct zd_zone *z, uint64_t pfn, unsigned order)
{
	unsigned max = m->arch.max_page_order;

	zd_lockdep_assert_held(m, z->lock_owner, "zone->lock");
	while (order < max) {
		uint64_t buddy_pfn = pfn ^ (1ULL << order);
		struct zd_page *buddy = zd_pfn_to_page(m, buddy_pfn);

		if (!zd_pfn_valid(m, buddy_pfn) || !zd_page_is_buddy(buddy) ||
		    buddy->private != order || zd_page_zone(m, buddy) != z)
			break;
		del_from_free_list(z, buddy, order);
		pfn &= buddy_pfn;
		order++;
	}
	add_to_free_list(z, zd_pfn_to_page(m, pfn), order);
}

static struct zd_page *rmqueue(struct zd_machine *m, struct zd_zone *z, unsigned order)
{
	struct zd_page *page = NULL;

	zone_lock(z);
	for (unsigned o = order; o <= m->arch.max_page_order && !page; o++) {
		struct zd_free_area *area = &z->free_area[o];

		/* a free block in an isolated pageblock (a range going offline)
		 * is the kernel's MIGRATE_ISOLATE free list: never handed out;
		 * looked at only while the zone has one (nr_isolate_pageblock) */
		bool isolated = __atomic_load_n(&z->nr_isolate_pageblock, __ATOMIC_RELAXED);

		for (struct zd_list_head *n = area->free_list.next; n != &area->free_list;
		     n = n->next) {
			struct zd_page *p = zd_container_of(n, struct zd_page, lru);

			if (!isolated || zd_get_pageblock_migratetype(m, zd_page_to_pfn(m, p)) !=
			    ZD_MIGRATE_ISOLATE) {
				page = p;
				break;
			}
		}
		if (!page)
			continue;
		del_from_free_list(z, page, o);
		/* expand(): hand the upper halves back. */
		while (o > order) {
			o--;
			add_to_free_list(z, page + (1ULL << o), o);
		}
		break;
	}
	zone_unlock(z);
	return page;
}

void zd_isolate_pageblocks(struct zd_machine *m, uint64_t pfn, uint64_t nr, bool isolate)
{
	const uint64_t pb = 1ULL << m->arch.pageblock_order;
	struct zd_zone *z = zd_page_zone(m, zd_pfn_to_page(m, pfn));

	for (uint64_t p = pfn; p < pfn + nr; p += pb)
		zd_set_pageblock_migratetype(m, p, isolate ? ZD_MIGRATE_ISOLATE : ZD_MIGRATE_MOVABLE);
	if (isolate)
		__atomic_add_fetch(&z->nr_isolate_pageblock, (long)(nr / pb), __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&z->nr_isolate_pageblock, (long)(nr / pb), __ATOMIC_RELAXED);
}

static void prep_new_page(struct zd_machine *m, struct zd_page *page, unsigned order, zd_gfp_t gfp)
{
	zd_set_page_count(page, 1);
	__atomic_store_n(&page->_mapcount, -1, __ATOMIC_RELAXED);
	if (order) {
		__zd_set_page_flag(page, ZD_PG_head);
		zd_set_folio_order(page, order);
		for (uint64_t i = 1; i < (1ULL << order); i++)
			__atomic_store_n(&page[i].compound_head, (unsigned long)page + 1,
					 __ATOMIC_RELAXED);
		/* prep_compound_head(): no mappings, no pins (the buddy may
		 * have left an order in the words these share) */
		__atomic_store_n(&page[1]._large_mapcount, -1, __ATOMIC_RELAXED);
		__atomic_store_n(&page[1]._entire_mapcount, -1, __ATOMIC_RELAXED);
		__atomic_store_n(zd_folio_pincount(page), 0, __ATOMIC_RELAXED);
	}
	if (gfp & ZD___GFP_ZERO) {
		void *addr = zd_page_address(m, page);
		if (addr)
			memset(addr, 0, (size_t)(m->arch.page_size << order));
	}
}

/* Zonelists: the highest allowed zone first, falling back towards DMA. */
static const enum zd_zone_type fallback_normal[] = { ZD_ZONE_NORMAL, ZD_ZONE_DMA32, ZD_ZONE_DMA };
static const enum zd_zone_type fallback_movable[] = { ZD_ZONE_MOVABLE, ZD_ZONE_NORMAL,
						      ZD_ZONE_DMA32, ZD_ZONE_DMA };
static const enum zd_zone_type fallback_dma32[] = { ZD_ZONE_DMA32, ZD_ZONE_DMA };
static const enum zd_zone_type fallback_dma[] = { ZD_ZONE_DMA };

struct zd_page *zd_alloc_pages_node(struct zd_machine *m, int nid, zd_gfp_t gfp, unsigned order)
{
	const enum zd_zone_type *zl = fallback_normal;
	size_t nz = 3;

	if (order > m->arch.max_page_order) {
		zd_pr_warn(m, "page allocation failure: order:%u exceeds MAX_PAGE_ORDER %u", order,
			   m->arch.max_page_order);
		return NULL;
	}
	if (gfp & ZD___GFP_DMA) {
		zl = fallback_dma;
		nz = 1;
	} else if (gfp & ZD___GFP_DMA32) {
		zl = fallback_dma32;
		nz = 2;
	} else if (gfp & ZD___GFP_MOVABLE) {
		zl = fallback_movable;
		nz = 4;
	}
	if (ZD_WARN(m, nid < 0 || nid >= m->nr_nodes, "alloc_pages_node: node %d does not exist "
		    "(machine has %d)", nid, m->nr_nodes))
		return NULL;
	for (int n = 0; n < (gfp & ZD___GFP_THISNODE ? 1 : m->nr_nodes); n++) {
		struct zd_pglist_data *pgdat = m->node_data[(nid + n) % m->nr_nodes];
		for (size_t i = 0; i < nz; i++) {
			struct zd_zone *z = &pgdat->node_zones[zl[i]];
			struct zd_page *page;
			if (!__atomic_load_n(&z->managed_pages, __ATOMIC_RELAXED))
				continue;
			page = rmqueue(m, z, order);
			if (page) {
				__atomic_add_fetch(&z->alloc_success, 1, __ATOMIC_RELAXED);
				prep_new_page(m, page, order, gfp);
				return page;
			}
			__atomic_add_fetch(&z->alloc_fail, 1, __ATOMIC_RELAXED);
		}
	}
	if (!(gfp & ZD___GFP_NOWARN))
		zd_pr_warn(m, "page allocation failure: order:%u, gfp 0x%x: no free block in any zone",
			   order, gfp);
	return NULL;
}

struct zd_page *zd_alloc_pages(struct zd_machine *m, zd_gfp_t gfp, unsigned order)
{
	return zd_alloc_pages_node(m, 0, gfp, order);
}

void zd___free_pages(struct zd_machine *m, struct zd_page *page, unsigned order)
{
	struct zd_zone *z = zd_page_zone(m, page);

	int ref;

	/* put_page_testzero()'s check: a free page (a buddy head, or a page
	 * merged into one, both at refcount 0) cannot be freed again. */
	if (ZD_WARN(m, zd_page_is_buddy(page) || zd_page_ref_count(page) <= 0,
		    "double free of pfn 0x%llx (refcount %d)",
		    (unsigned long long)zd_page_to_pfn(m, page), zd_page_ref_count(page)))
		return;
	ref = __atomic_sub_fetch(&page->_refcount, 1, __ATOMIC_ACQ_REL);
	if (ref != 0)
		return;
	/* free_pages_prepare(): an anonymous page's rmap state goes with it */
	ZD_WARN(m, zd_page_mapcount(page) > 0, "freeing pfn 0x%llx still mapped %d times",
		(unsigned long long)zd_page_to_pfn(m, page), zd_page_mapcount(page));
	if ((uintptr_t)page->mapping & ZD_PAGE_MAPPING_ANON)
		__atomic_store_n(&page->mapping, NULL, __ATOMIC_RELAXED);
	/* PAGE_FLAGS_CHECK_AT_PREP: every page of the block, the tails of a
	 * split THP carry PageAnonExclusive of their own */
	for (uint64_t i = 0; i < (1ULL << order); i++)
		__atomic_and_fetch(&page[i].flags, ~(1UL << ZD_PG_anon_exclusive |
				   1UL << ZD_PG_swapbacked | 1UL << ZD_PG_dirty |
				   1UL << ZD_PG_referenced | 1UL << ZD_PG_uptodate), __ATOMIC_RELAXED);
	if (order) {
		__zd_clear_page_flag(page, ZD_PG_head);
		zd_set_folio_order(page, 0);
		__atomic_store_n(&page[1]._large_mapcount, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&page[1]._entire_mapcount, 0, __ATOMIC_RELAXED);
		for (uint64_t i = 1; i < (1ULL << order); i++)
			__atomic_store_n(&page[i].compound_head, 0, __ATOMIC_RELAXED);
	}
	zone_lock(z);
	free_one_page(m, z, zd_page_to_pfn(m, page), order);
	zone_unlock(z);
	__atomic_add_fetch(&z->frees, 1, __ATOMIC_RELAXED);
}

/*
 * online_pages_range(): the range goes to the buddy in the largest aligned
 * blocks that fit (order = min(MAX_PAGE_ORDER, lowest set bit of pfn)).
 */
void zd_generic_online_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	struct zd_zone *z = zd_page_zone(m, zd_pfn_to_page(m, pfn));
	uint64_t end = pfn + nr;

	zone_lock(z);
	while (pfn < end) {
		unsigned order = m->arch.max_page_order;
		while (order && ((pfn & ((1ULL << order) - 1)) || pfn + (1ULL << order) > end))
			order--;
		for (uint64_t i = 0; i < (1ULL << order); i++) {
			struct zd_page *p = zd_pfn_to_page(m, pfn + i);
			p->page_type = ZD_PAGE_TYPE_NONE;
			__zd_clear_page_flag(p, ZD_PG_reserved);
			zd_set_page_count(p, 0);
		}
		free_one_page(m, z, pfn, order);
		pfn += 1ULL << order;
	}
	zone_unlock(z);
	__atomic_add_fetch(&z->managed_pages, (long)nr, __ATOMIC_RELAXED);
}

void zd_free_reserved_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	zd_generic_online_pages(m, pfn, nr);
}

/*
 * Offlining needs every page free: check the whole range under the zone
 * lock first, and only then take the blocks off the free lists, so a busy
 * range leaves the allocator exactly as it was.
 */
int zd_isolate_free_range(struct zd_machine *m, uint64_t pfn, uint64_t nr, bool quiet)
{
	struct zd_zone *z = zd_page_zone(m, zd_pfn_to_page(m, pfn));
	uint64_t end = pfn + nr, p;
	int rc = 0;

	zone_lock(z);
	for (p = pfn; p < end; ) {
		struct zd_page *page = zd_pfn_to_page(m, p);
		if (!zd_page_is_buddy(page) || p + (1ULL << page->private) > end) {
			rc = -EBUSY;
			break;
		}
		p += 1ULL << page->private;
	}
	if (!rc) {
		for (p = pfn; p < end; ) {
			struct zd_page *page = zd_pfn_to_page(m, p);
			unsigned order = (unsigned)page->private;
			del_from_free_list(z, page, order);
			for (uint64_t i = 0; i < (1ULL << order); i++)
				zd_pfn_to_page(m, p + i)->page_type = ZD_PGTY_offline << 24;
			p += 1ULL << order;
		}
	}
	zone_unlock(z);
	if (!rc)
		__atomic_sub_fetch(&z->managed_pages, (long)nr, __ATOMIC_RELAXED);
	else if (!quiet)
		zd_pr_warn(m, "offline: pfn 0x%llx in 0x%llx-0x%llx is in use (refcount %d)",
			   (unsigned long long)p, (unsigned long long)pfn,
			   (unsigned long long)(end - 1), zd_page_ref_count(zd_pfn_to_page(m, p)));
	return rc;
}

/* Sum of one per-zone counter over every zone of every node. */
static unsigned long sum_zones(struct zd_machine *m, size_t counter_offset)
{
	unsigned long sum = 0;

	for (int n = 0; n < m->nr_nodes; n++)
		for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
			long *c = (long *)((char *)&m->node_data[n]->node_zones[z] + counter_offset);
			sum += (unsigned long)__atomic_load_n(c, __ATOMIC_RELAXED);
		}
	return sum;
}

unsigned long zd_global_free_pages(struct zd_machine *m)
{
	return sum_zones(m, offsetof(struct zd_zone, nr_free_pages));
}

unsigned long zd_totalram_pages(struct zd_machine *m)
{
	return sum_zones(m, offsetof(struct zd_zone, managed_pages));
}
