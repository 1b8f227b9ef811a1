/*
 * Non-present page-table entries (include/linux/swap.h, swapops.h): the
 * type numbers carved off the top of the 5-bit swap type (v6.15+, with
 * DEVICE_PRIVATE, MIGRATION and MEMORY_FAILURE: SWP_DEVICE_NUM 3), and
 * the page lock the migration entries wait on. The arch ops of pgtable.h
 * encode an entry; these say what it means.
 * Invariants: migration, device and hwpoison entries hold a pfn in their
 * offset; a page is locked by one owner at a time (PG_locked, acquire on
 * lock, release on unlock).
 */
#ifndef ZONEDEV_SWAPOPS_H
#define ZONEDEV_SWAPOPS_H

#include <sched.h>
#include <stdbool.h>
#include <zonedev/mm_types.h>

#define ZD_MAX_SWAPFILES_SHIFT 5
#define ZD_MAX_SWAPFILES 24                      /* 32 - 3 - 3 - 1 - 1 */
#define ZD_SWP_HWPOISON 24
#define ZD_SWP_MIGRATION_READ 25
#define ZD_SWP_MIGRATION_READ_EXCLUSIVE 26
#define ZD_SWP_MIGRATION_WRITE 27
#define ZD_SWP_DEVICE_WRITE 28
#define ZD_SWP_DEVICE_READ 29
#define ZD_SWP_DEVICE_EXCLUSIVE 30
#define ZD_SWP_PTE_MARKER 31

static inline bool zd_is_migration_type(unsigned type)
{
	return type >= ZD_SWP_MIGRATION_READ && type <= ZD_SWP_MIGRATION_WRITE;
}

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

#endif
