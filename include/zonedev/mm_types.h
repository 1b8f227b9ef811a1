/*
 * struct zd_page: the 64-byte struct page, laid out like the kernel's
 * (include/linux/mm_types.h): flags word with zone and node in its top bits,
 * a five-word union, mapcount/page_type, refcount, memcg word.
 * Invariants: sizeof == 64 (static_assert); a tail page's first union word
 * has bit 0 set and points at its head; refcount and mapcount are only
 * touched with atomics.
 */
#ifndef ZONEDEV_MM_TYPES_H
#define ZONEDEV_MM_TYPES_H

#include <assert.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_list_head {
	struct zd_list_head *next, *prev;
};

struct zd_dev_pagemap;

/* page->private keeps the kernel's name in C; C++ (where it is a keyword)
 * sees the same word as private_. */
#ifdef __cplusplus
#define ZD_PAGE_PRIVATE private_
#else
#define ZD_PAGE_PRIVATE private
#endif

struct zd_page {
	unsigned long flags;
	union {
		struct {                         /* page cache, anon, buddy */
			struct zd_list_head lru;
			void *mapping;
			unsigned long index;
			unsigned long ZD_PAGE_PRIVATE;   /* page->private; buddy: order */
		};
		struct {                         /* tail pages of a compound page */
			unsigned long compound_head;
		};
		struct {                         /* a large folio's second page */
			unsigned long _head_1;
			int _large_mapcount;     /* -1 based: its PMD and PTE mappings */
			int _entire_mapcount;    /* -1 based: its PMD mappings */
		};
		struct {                         /* ZONE_DEVICE (folio head word) */
			struct zd_dev_pagemap *pgmap;
			void *zone_device_data;
		};
	};
	union {
		int _mapcount;                   /* -1 when unmapped */
		unsigned int page_type;          /* top byte: PGTY_* when typed */
	};
	int _refcount;
	unsigned long memcg_data;
};
static_assert(sizeof(struct zd_page) == 64, "struct zd_page must be 64 bytes");

/* Page flag bits (low part of flags), kernel names and order. */
enum zd_pageflags {
	ZD_PG_locked, ZD_PG_writeback, ZD_PG_referenced, ZD_PG_uptodate, ZD_PG_dirty,
	ZD_PG_lru, ZD_PG_head, ZD_PG_waiters, ZD_PG_active, ZD_PG_workingset,
	ZD_PG_owner_priv_1, ZD_PG_owner_2, ZD_PG_arch_1, ZD_PG_reserved, ZD_PG_private,
	ZD_PG_private_2, ZD_PG_reclaim, ZD_PG_swapbacked, ZD_PG_unevictable,
	ZD_PG_dropbehind, ZD_PG_mlocked, ZD_PG_hwpoison,
	ZD_NR_PAGEFLAGS,
	ZD_PG_anon_exclusive = ZD_PG_owner_2,   /* the kernel's alias */
};

/* Zone and node live in the top bits of flags (page-flags-layout.h). */
#define ZD_ZONES_WIDTH  3
#define ZD_NODES_WIDTH  10
#define ZD_ZONES_PGSHIFT (64 - ZD_ZONES_WIDTH)
#define ZD_NODES_PGSHIFT (ZD_ZONES_PGSHIFT - ZD_NODES_WIDTH)
#define ZD_MAX_NUMNODES (1 << ZD_NODES_WIDTH)

/* page_type values (top byte) when _mapcount is repurposed. */
#define ZD_PGTY_buddy   0xf0u
#define ZD_PGTY_offline 0xf1u
#define ZD_PAGE_TYPE_NONE 0xffffffffu    /* == _mapcount -1 */

/*
 * The zone field stores (zone + 1) mod ZD_PAGE_NR_ZONES, so that a field of
 * 0 means ZONE_DEVICE: a struct page that was never written (the aliased
 * tails of a deduplicated compound memmap read as the host zero page) still
 * decodes as a device page. Every other zone has a non-zero field, so an
 * initialised RAM page never has an all-zero flags word.
 */
#define ZD_PAGE_NR_ZONES 5   /* == ZD_MAX_NR_ZONES, checked in mmzone.h */
static inline int zd_page_zonenum(const struct zd_page *p)
{
	int field = (int)((__atomic_load_n(&p->flags, __ATOMIC_RELAXED) >> ZD_ZONES_PGSHIFT) &
			  ((1UL << ZD_ZONES_WIDTH) - 1));
	return (field + ZD_PAGE_NR_ZONES - 1) % ZD_PAGE_NR_ZONES;
}
static inline int zd_page_to_nid(const struct zd_page *p)
{
	return (int)((__atomic_load_n(&p->flags, __ATOMIC_RELAXED) >> ZD_NODES_PGSHIFT) &
		     ((1UL << ZD_NODES_WIDTH) - 1));
}
static inline void zd_set_page_links(struct zd_page *p, int zone, int nid)
{
	unsigned long f = __atomic_load_n(&p->flags, __ATOMIC_RELAXED);

	f &= ~(((1UL << ZD_ZONES_WIDTH) - 1) << ZD_ZONES_PGSHIFT);
	f &= ~(((1UL << ZD_NODES_WIDTH) - 1) << ZD_NODES_PGSHIFT);
	f |= ((unsigned long)((zone + 1) % ZD_PAGE_NR_ZONES) << ZD_ZONES_PGSHIFT) |
	     ((unsigned long)nid << ZD_NODES_PGSHIFT);
	__atomic_store_n(&p->flags, f, __ATOMIC_RELAXED);
}
static inline int zd_test_page_flag(const struct zd_page *p, enum zd_pageflags f)
{
	return (int)((__atomic_load_n(&p->flags, __ATOMIC_RELAXED) >> f) & 1);
}
/*
 * The kernel's non-atomic __SetPageX(): the caller owns the page, so no
 * read-modify-write lock is needed, but the word is read and written with
 * relaxed atomics because other CPUs may read its zone/node bits meanwhile
 * (e.g. a zone-span scan), which plain C accesses would make a data race.
 */
static inline void __zd_set_page_flag(struct zd_page *p, enum zd_pageflags f)
{
	__atomic_store_n(&p->flags, __atomic_load_n(&p->flags, __ATOMIC_RELAXED) | (1UL << f),
			 __ATOMIC_RELAXED);
}
static inline void __zd_clear_page_flag(struct zd_page *p, enum zd_pageflags f)
{
	__atomic_store_n(&p->flags, __atomic_load_n(&p->flags, __ATOMIC_RELAXED) & ~(1UL << f),
			 __ATOMIC_RELAXED);
}
/* SetPageX()/ClearPageX(): atomic, for pages others may change at once. */
static inline void zd_set_page_flag(struct zd_page *p, enum zd_pageflags f)
{
	__atomic_or_fetch(&p->flags, 1UL << f, __ATOMIC_RELAXED);
}
static inline void zd_clear_page_flag(struct zd_page *p, enum zd_pageflags f)
{
	__atomic_and_fetch(&p->flags, ~(1UL << f), __ATOMIC_RELAXED);
}
/* An anonymous page's mapping is its anon_vma with this bit set. */
#define ZD_PAGE_MAPPING_ANON 0x1UL
/* PageAnon(): a page of a large folio is anonymous when its folio is. */
static inline int zd_folio_test_anon(const struct zd_page *page)
{
	unsigned long h = __atomic_load_n(&page->compound_head, __ATOMIC_RELAXED);
	const struct zd_page *folio = (h & 1) ? (const struct zd_page *)(h - 1) : page;

	return (int)((uintptr_t)__atomic_load_n(&folio->mapping, __ATOMIC_RELAXED) &
		     ZD_PAGE_MAPPING_ANON);
}
/* A pin (FOLL_PIN) adds this to a small folio's refcount. */
#define ZD_GUP_PIN_COUNTING_BIAS 1024
/* A large folio counts its pins in its first tail page (_pincount). */
static inline unsigned long *zd_folio_pincount(struct zd_page *folio)
{
	return &folio[1].ZD_PAGE_PRIVATE;
}
/* folio_maybe_dma_pinned(): a large folio's pincount; a small one's
 * refcount, which may be false-positive with over a thousand plain
 * references, never false-negative. */
static inline int zd_folio_maybe_dma_pinned(const struct zd_page *folio)
{
	if (__atomic_load_n(&folio->flags, __ATOMIC_RELAXED) & (1UL << ZD_PG_head))
		return __atomic_load_n(&folio[1].ZD_PAGE_PRIVATE, __ATOMIC_RELAXED) > 0;
	return __atomic_load_n(&folio->_refcount, __ATOMIC_RELAXED) >= ZD_GUP_PIN_COUNTING_BIAS;
}
/* A folio's order lives in the low byte of its second page's flags. */
static inline void zd_set_folio_order(struct zd_page *head, unsigned order)
{
	__atomic_store_n(&head[1].flags,
			 (__atomic_load_n(&head[1].flags, __ATOMIC_RELAXED) & ~0xffUL) | order,
			 __ATOMIC_RELAXED);
}
/* A large anonymous folio's mapcounts (prep_compound_head starts them at
 * -1, like _mapcount); a PMD mapping counts in both, a PTE mapping in the
 * subpage's _mapcount and the large one. */
static inline int zd_folio_entire_mapcount(const struct zd_page *folio)
{
	return __atomic_load_n(&folio[1]._entire_mapcount, __ATOMIC_RELAXED) + 1;
}
static inline int zd_folio_large_mapcount(const struct zd_page *folio)
{
	return __atomic_load_n(&folio[1]._large_mapcount, __ATOMIC_RELAXED) + 1;
}
static inline int zd_page_ref_count(const struct zd_page *p)
{
	return __atomic_load_n(&p->_refcount, __ATOMIC_RELAXED);
}
static inline void zd_set_page_count(struct zd_page *p, int v)
{
	__atomic_store_n(&p->_refcount, v, __ATOMIC_RELAXED);
}
static inline int zd_page_mapcount(const struct zd_page *p)
{
	return __atomic_load_n(&p->_mapcount, __ATOMIC_RELAXED) + 1;
}
static inline int zd_page_is_buddy(const struct zd_page *p)
{
	return (__atomic_load_n(&p->page_type, __ATOMIC_RELAXED) >> 24) == ZD_PGTY_buddy;
}
static inline int zd_page_is_tail(const struct zd_page *p)
{
	return (int)(__atomic_load_n(&p->compound_head, __ATOMIC_RELAXED) & 1);
}
static inline struct zd_page *zd_compound_head(struct zd_page *p)
{
	unsigned long h = __atomic_load_n(&p->compound_head, __ATOMIC_RELAXED);
	return (h & 1) ? (struct zd_page *)(h - 1) : p;
}
/* folio_precise_page_mapcount(): the page's PTE mappings plus, in an
 * anonymous THP, the PMD mappings of its whole folio. */
static inline int zd_folio_precise_page_mapcount(struct zd_page *page)
{
	struct zd_page *folio = zd_compound_head(page);
	int n = zd_page_mapcount(page);

	if ((folio != page || (__atomic_load_n(&folio->flags, __ATOMIC_RELAXED) &
			       (1UL << ZD_PG_head))) && zd_folio_test_anon(folio))
		n += zd_folio_entire_mapcount(folio);
	return n;
}

#ifdef __cplusplus
}
#endif

#endif
