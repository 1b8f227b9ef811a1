/*
 * Non-present page-table entries (include/linux/swap.h, swapops.h,
 * leafops.h): the type numbers carved off the top of the 5-bit swap type,
 * the entry kinds (softleaf types) they stand for, and the page lock the
 * migration entries wait on. The arch ops of pgtable.h encode an entry;
 * these say what it means.
 * The numbering depends on the machine's device-private design. pfn (v6.15
 * set, SWP_DEVICE_NUM 3): MAX_SWAPFILES 24, HWPOISON 24, MIGRATION 25-27,
 * DEVICE_WRITE/READ/EXCLUSIVE 28-30, PTE_MARKER 31. dpa (the 2026 series,
 * SWP_DEVICE_NUM 6): the device group grows by the three migration types of
 * device-private pages, MAX_SWAPFILES shrinks to 21, and everything below
 * the marker moves down by three: HWPOISON 21, MIGRATION 22-24, DEVICE
 * 25-27, MIGRATION_DEVICE_READ/READ_EXCLUSIVE/WRITE 28-30, PTE_MARKER 31.
 * Invariants: migration, device-exclusive and hwpoison entries hold a pfn;
 * a device-private entry (and under dpa a device-private page's migration
 * entry) holds what the design gives the page: its pfn, or its offset in
 * the device-private space, which no code may use as a pfn
 * (zd_softleaf_pfn() WARNs); a page is locked by one owner at a time
 * (PG_locked, acquire on lock, release on unlock).
 */
#ifndef ZONEDEV_SWAPOPS_H
#define ZONEDEV_SWAPOPS_H

#include <sched.h>
#include <stdbool.h>
#include <zonedev/machine.h>
#include <zonedev/mm_types.h>
#include <zonedev/pgtable.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZD_MAX_SWAPFILES_SHIFT 5
#define ZD_SWP_MIGRATION_NUM 3
#define ZD_SWP_HWPOISON_NUM 1
#define ZD_SWP_PTE_MARKER_NUM 1

/* enum softleaf_type: what an entry is, whatever its number. */
enum zd_softleaf_type {
	ZD_SOFTLEAF_SWAP,
	ZD_SOFTLEAF_HWPOISON,
	ZD_SOFTLEAF_MIGRATION_READ,
	ZD_SOFTLEAF_MIGRATION_READ_EXCLUSIVE,
	ZD_SOFTLEAF_MIGRATION_WRITE,
	ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE,
	ZD_SOFTLEAF_DEVICE_PRIVATE_READ,
	ZD_SOFTLEAF_DEVICE_EXCLUSIVE,
	ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ,            /* dpa only */
	ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ_EXCLUSIVE,  /* dpa only */
	ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_WRITE,           /* dpa only */
	ZD_SOFTLEAF_MARKER,
};

static inline unsigned zd_swp_device_num(const struct zd_machine *m)
{
	return m->device_private == ZD_DEVICE_PRIVATE_DPA ? 6 : 3;
}
static inline unsigned zd_max_swapfiles(const struct zd_machine *m)
{
	return (1u << ZD_MAX_SWAPFILES_SHIFT) - zd_swp_device_num(m) - ZD_SWP_MIGRATION_NUM -
	       ZD_SWP_HWPOISON_NUM - ZD_SWP_PTE_MARKER_NUM;
}

/* The type number of kind k on m (0 for SWAP: the first swap file). */
static inline unsigned zd_swp_type_of(const struct zd_machine *m, enum zd_softleaf_type k)
{
	unsigned max = zd_max_swapfiles(m);

	switch (k) {
	case ZD_SOFTLEAF_SWAP: return 0;
	case ZD_SOFTLEAF_MARKER: return (1u << ZD_MAX_SWAPFILES_SHIFT) - 1;
	default: return max + (unsigned)k - ZD_SOFTLEAF_HWPOISON;
	}
}

/* softleaf_type(): the kind of type number type on m. */
static inline enum zd_softleaf_type zd_softleaf_type(const struct zd_machine *m, unsigned type)
{
	unsigned max = zd_max_swapfiles(m);

	if (type < max)
		return ZD_SOFTLEAF_SWAP;
	if (type >= (1u << ZD_MAX_SWAPFILES_SHIFT) - 1)
		return ZD_SOFTLEAF_MARKER;
	return (enum zd_softleaf_type)(ZD_SOFTLEAF_HWPOISON + type - max);
}

static inline bool zd_softleaf_is_migration(enum zd_softleaf_type k)
{
	return (k >= ZD_SOFTLEAF_MIGRATION_READ && k <= ZD_SOFTLEAF_MIGRATION_WRITE) ||
	       (k >= ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ &&
		k <= ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_WRITE);
}
static inline bool zd_softleaf_is_migration_write(enum zd_softleaf_type k)
{
	return k == ZD_SOFTLEAF_MIGRATION_WRITE || k == ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_WRITE;
}
static inline bool zd_softleaf_is_migration_read(enum zd_softleaf_type k)
{
	return k == ZD_SOFTLEAF_MIGRATION_READ || k == ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ;
}
static inline bool zd_softleaf_is_device_private(enum zd_softleaf_type k)
{
	return k == ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE || k == ZD_SOFTLEAF_DEVICE_PRIVATE_READ;
}
/* Does the offset of an entry of kind k hold a device-private offset (dpa)
 * rather than a pfn? Under pfn it never does. */
static inline bool zd_softleaf_has_dpa_offset(const struct zd_machine *m, enum zd_softleaf_type k)
{
	return m->device_private == ZD_DEVICE_PRIVATE_DPA &&
	       (zd_softleaf_is_device_private(k) ||
		(k >= ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ &&
		 k <= ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_WRITE));
}
static inline bool zd_is_migration_type(const struct zd_machine *m, unsigned type)
{
	return zd_softleaf_is_migration(zd_softleaf_type(m, type));
}

/* The entry kinds' constructors and decoders (src/mm/migrate_device.c). */
/* The value a device-private page's entries carry: pfn or dpa offset. */
uint64_t zd_device_private_entry_offset(struct zd_machine *m, struct zd_page *page);
/* softleaf_to_page(): the page an entry of kind k with this offset names,
 * NULL for swap and markers (and an offset no page has). */
struct zd_page *zd_softleaf_to_page(struct zd_machine *m, enum zd_softleaf_type k,
				    uint64_t offset);
/* softleaf_to_pfn(): the pfn of a pfn-holding entry; a dpa offset is no
 * pfn: WARN and ZD_BAD_PFN. */
uint64_t zd_softleaf_pfn(struct zd_machine *m, enum zd_softleaf_type k, uint64_t offset);
/* make_{readable,writable}_device_private_entry(page). */
zd_pte_t zd_make_device_private_entry(struct zd_machine *m, struct zd_page *page, bool write);
/* make_{readable,readable_exclusive,writable}_migration_entry of page:
 * under dpa a device-private page gets the MIGRATION_DEVICE_* types. */
zd_pte_t zd_make_migration_entry(struct zd_machine *m, struct zd_page *page, bool write,
				 bool exclusive);
/* The kind and page of a non-present pte (kind SWAP/MARKER: page NULL). */
enum zd_softleaf_type zd_softleaf_from_pte(struct zd_machine *m, zd_pte_t pte,
					   struct zd_page **page);

/* trylock_page() / lock_page() / unlock_page(). */
static inline bool zd_trylock_page(struct zd_page *page)
{
	return !(__atomic_fetch_or(&page->flags, 1UL << ZD_PG_locked, __ATOMIC_ACQUIRE) &
		 (1UL << ZD_PG_locked));
}
static inline void zd_lock_page(struct zd_page *page)
{
	while (!zd_trylock_page(page))
		sched_yield();
}
static inline void zd_unlock_page(struct zd_page *page)
{
	__atomic_and_fetch(&page->flags, ~(1UL << ZD_PG_locked), __ATOMIC_RELEASE);
}

#ifdef __cplusplus
}
#endif

#endif
