/*
 * The sparse memory model and zones (include/linux/mmzone.h): mem_section
 * words with flag bits and a biased memmap pointer, per-section usage with
 * the 2 MiB sub-section bitmap, nodes and their zones.
 * Invariants: flags sit below ZD_SECTION_MAP_LAST_BIT and the biased memmap
 * pointer never sets one; decode(section_mem_map) + pfn == vmemmap + pfn for
 * every valid pfn; readers load section words and usage pointers with
 * acquire semantics inside zd_rcu_read_lock().
 */
#ifndef ZONEDEV_MMZONE_H
#define ZONEDEV_MMZONE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zonedev/arch.h>
#include <zonedev/mm_types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;

enum {
	ZD_SECTION_MARKED_PRESENT_BIT,
	ZD_SECTION_HAS_MEM_MAP_BIT,
	ZD_SECTION_IS_ONLINE_BIT,
	ZD_SECTION_IS_EARLY_BIT,
	ZD_SECTION_TAINT_ZONE_DEVICE_BIT,
	ZD_SECTION_MAP_LAST_BIT,
};
#define ZD_SECTION_MARKED_PRESENT   (1UL << ZD_SECTION_MARKED_PRESENT_BIT)
#define ZD_SECTION_HAS_MEM_MAP      (1UL << ZD_SECTION_HAS_MEM_MAP_BIT)
#define ZD_SECTION_IS_ONLINE        (1UL << ZD_SECTION_IS_ONLINE_BIT)
#define ZD_SECTION_IS_EARLY         (1UL << ZD_SECTION_IS_EARLY_BIT)
#define ZD_SECTION_TAINT_ZONE_DEVICE (1UL << ZD_SECTION_TAINT_ZONE_DEVICE_BIT)
#define ZD_SECTION_MAP_MASK         (~((1UL << ZD_SECTION_MAP_LAST_BIT) - 1))
#define ZD_SECTION_NID_SHIFT        ZD_SECTION_MAP_LAST_BIT

/* Enough longs for the largest SUBSECTIONS_PER_SECTION (512 MiB / 2 MiB). */
#define ZD_SUBSECTION_MAP_LONGS 4
#define ZD_NR_PAGEBLOCK_BITS 4

struct zd_mem_section_usage {
	bool boot;   /* from the boot array: never freed, reused on re-add */
	unsigned long subsection_map[ZD_SUBSECTION_MAP_LONGS];
	unsigned long pageblock_flags[];
};

struct zd_mem_section {
	unsigned long section_mem_map;
	struct zd_mem_section_usage *usage;
	/* Host address that stands for physical address 0 of this section's
	 * RAM contents (biased like the memmap pointer); NULL when the section
	 * has no RAM backing. Kept beside the word so page_address() is O(1). */
	char *phys_base;
	unsigned long pad;
};
static_assert(sizeof(struct zd_mem_section) == 32, "mem_section must stay a power of two");

enum zd_zone_type {
	ZD_ZONE_DMA,
	ZD_ZONE_DMA32,
	ZD_ZONE_NORMAL,
	ZD_ZONE_MOVABLE,
	ZD_ZONE_DEVICE,
	ZD_MAX_NR_ZONES,
};

static_assert(ZD_MAX_NR_ZONES == ZD_PAGE_NR_ZONES, "zone field encoding covers every zone");

#define ZD_MAX_ORDER_LIMIT 13  /* the largest max_page_order of any profile */

enum zd_migratetype { ZD_MIGRATE_UNMOVABLE, ZD_MIGRATE_MOVABLE, ZD_MIGRATE_RECLAIMABLE,
		      ZD_MIGRATE_ISOLATE = 4 };

struct zd_free_area {
	struct zd_list_head free_list;
	unsigned long nr_free;
};

struct zd_pglist_data;

struct zd_zone {
	struct zd_pglist_data *zone_pgdat;
	enum zd_zone_type idx;
	const char *name;
	pthread_mutex_t lock;           /* free lists, nr_free */
	unsigned long lock_owner;       /* its holder, for the lock assertions */
	/* Span and presence change only under the hotplug lock (writer). */
	uint64_t zone_start_pfn;
	uint64_t spanned_pages;
	uint64_t present_pages;
	long managed_pages;             /* atomic */
	long nr_free_pages;             /* atomic, mirrors the free lists */
	long nr_isolate_pageblock;      /* atomic: MIGRATE_ISOLATE pageblocks (offline) */
	unsigned long alloc_success, alloc_fail, frees; /* atomic stats */
	bool initialized;
	struct zd_free_area free_area[ZD_MAX_ORDER_LIMIT + 1];
};

struct zd_pglist_data {
	int node_id;
	bool online;
	uint64_t node_start_pfn;
	uint64_t node_spanned_pages;
	uint64_t node_present_pages;
	int nr_zones;
	struct zd_zone node_zones[ZD_MAX_NR_ZONES];
};

extern const char *const zd_zone_names[ZD_MAX_NR_ZONES];

static inline uint64_t zd_zone_end_pfn(const struct zd_zone *z)
{
	return z->zone_start_pfn + z->spanned_pages;
}
static inline bool zd_zone_is_empty(const struct zd_zone *z)
{
	return z->spanned_pages == 0;
}

/* Section lookup (NULL when the root page is absent or nr is out of range). */
struct zd_mem_section *zd_nr_to_section(struct zd_machine *m, uint64_t nr);
struct zd_mem_section *zd_pfn_to_section(struct zd_machine *m, uint64_t pfn);

static inline unsigned long zd_section_word(const struct zd_mem_section *ms)
{
	return ms ? __atomic_load_n(&ms->section_mem_map, __ATOMIC_ACQUIRE) : 0;
}
static inline bool zd_present_section(const struct zd_mem_section *ms)
{
	return zd_section_word(ms) & ZD_SECTION_MARKED_PRESENT;
}
static inline bool zd_valid_section(const struct zd_mem_section *ms)
{
	return zd_section_word(ms) & ZD_SECTION_HAS_MEM_MAP;
}
static inline bool zd_early_section(const struct zd_mem_section *ms)
{
	return zd_section_word(ms) & ZD_SECTION_IS_EARLY;
}
static inline bool zd_online_section(const struct zd_mem_section *ms)
{
	return zd_section_word(ms) & ZD_SECTION_IS_ONLINE;
}
static inline bool zd_online_device_section(const struct zd_mem_section *ms)
{
	unsigned long f = ZD_SECTION_IS_ONLINE | ZD_SECTION_TAINT_ZONE_DEVICE;
	return (zd_section_word(ms) & f) == f;
}
/* The biased memmap pointer: decoded + pfn is the pfn's struct page. */
static inline struct zd_page *zd_section_mem_map_addr(const struct zd_mem_section *ms)
{
	return (struct zd_page *)(zd_section_word(ms) & ZD_SECTION_MAP_MASK);
}

/* pfn_valid(): a struct page exists (early sections whole, hot-added ones
 * per populated sub-section). Safe against concurrent hot-remove. */
bool zd_pfn_valid(struct zd_machine *m, uint64_t pfn);
bool zd_pfn_in_present_section(struct zd_machine *m, uint64_t pfn);
/* The subsection bit of pfn in its section (0 if the section has no usage). */
bool zd_pfn_section_valid(struct zd_mem_section *ms, const struct zd_arch *a, uint64_t pfn);
/* One line per present section: nr, phys range, flags, populated subsections. */
void zd_sections_show(struct zd_machine *m, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
