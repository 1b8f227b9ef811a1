/*
 * Memmap and zone initialisation (mm/mm_init.c): struct pages of RAM are set
 * up when their range joins a zone (boot or online), pageblock migratetypes
 * live in the section usage, empty zones get their free lists on first use.
 * Invariants: an initialised page is zero but for zone/node links, refcount
 * 1 and mapcount -1; the caller holds the hotplug write lock.
 */
#include <string.h>
#include "base/list.h"
#include "mm/internal.h"

const char *const zd_zone_names[ZD_MAX_NR_ZONES] = { "DMA32", "Normal", "Movable", "Device" };

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
	for (uint64_t pfn = start_pfn; pfn < end; pfn++) {
		struct zd_page *page = zd_pfn_to_page(m, pfn);

		zd___init_single_page(page, zone, nid);
		if (hotplug && zone != ZD_ZONE_DEVICE)
			page->page_type = ZD_PGTY_offline << 24;
		else
			__zd_set_page_flag(page, ZD_PG_reserved);
		if (!(pfn & (pb - 1)))
			zd_set_pageblock_migratetype(m, pfn, migratetype);
	}
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
