/*
 * Page-table pages (include/linux/mm.h's pagetable_alloc()/ptdesc,
 * asm-generic/pgalloc.h, mm/mmu_gather.c): every table of a process's
 * page tables is an order-0 page of the machine's RAM from the buddy
 * allocator, so MemFree falls by what the tables cost and meminfo's
 * PageTables counts them. The struct page of a table is its ptdesc: the
 * split page-table lock lives in its private word, the owning mm in its
 * index word, and page_type says PGTY_table.
 * Invariants: a table is zeroed when handed out; PageTables (the machine's
 * NR_PAGETABLE) counts every table from its constructor to its free; a
 * table once reachable by a walker is freed only through an mmu_gather,
 * after a grace period of the machine's RCU, so a lockless walker
 * (GUP-fast, under zd_rcu_read_lock) never reads a freed table.
 */
#ifndef ZONEDEV_PGALLOC_H
#define ZONEDEV_PGALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <zonedev/mm_types.h>
#include <zonedev/pgtable.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;
struct zd_mm;

#define ZD_PGTY_table 0xf2u    /* page_type of a page-table page (PGTY_table) */

static inline bool zd_page_is_table(const struct zd_page *p)
{
	return (__atomic_load_n(&p->page_type, __ATOMIC_RELAXED) >> 24) == ZD_PGTY_table;
}

/* A zeroed table for mm (pte_alloc_one, pmd_alloc_one, ...: the level does
 * not change the cost), counted in PageTables and in mm's VmPTE; NULL when
 * the machine has no free page. */
struct zd_page *zd_pagetable_alloc(struct zd_mm *mm);
/* Free a table no walker can have seen (one that lost the race to be
 * installed): at once, uncounted. Everything else goes through an mmu_gather. */
void zd_pagetable_free(struct zd_mm *mm, struct zd_page *pt);
/* The table's entries: host memory behind the page. */
void *zd_pagetable_address(struct zd_machine *m, const struct zd_page *pt);
/* The mm a table belongs to (ptdesc's pt_mm). */
struct zd_mm *zd_pagetable_mm(const struct zd_page *pt);

/* The split page-table lock of one table (pte_lockptr / pmd_lockptr). */
void zd_pt_lock(struct zd_page *pt);
void zd_pt_unlock(struct zd_page *pt);
bool zd_pt_lock_held(const struct zd_page *pt);

/* Walkers (mm/memory.c). The PTE slot mapping addr in mm, its table's page
 * in *ptl, locked; NULL (and nothing locked) when a level has no table or
 * is a huge leaf.
 * mmap_lock held (read or write). */
uint64_t *zd_pte_offset_map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl);
/* The slot of addr's entry at the PUD or PMD level, its table's page in
 * *ptl (not locked); NULL when a table on the way is missing or a larger
 * leaf maps addr. A driver reads a PMD leaf (a device THP) through it. */
uint64_t *zd_huge_slot_lookup(struct zd_mm *mm, uint64_t addr, enum zd_pt_level level,
			      struct zd_page **ptl);
/* The same, allocating the missing tables on the way (__pud_alloc,
 * __pmd_alloc, __pte_alloc, each installed under its parent's lock); NULL
 * when the machine has no page for one, or when a huge leaf maps addr (no
 * PTE table below it). */
uint64_t *zd_pte_alloc_map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl);

/* mmu_gather: the tables a zap or unmap unhooked, freed together after one
 * grace period (tlb_remove_table with MMU_GATHER_RCU_TABLE_FREE). */
struct zd_mmu_gather {
	struct zd_mm *mm;
	struct zd_page *tables;    /* unhooked tables, chained through lru.next */
	size_t nr_tables;
	struct zd_page **pages;    /* unmapped pages, one reference each */
	size_t nr_pages, max_pages;
};
void zd_tlb_gather_mmu(struct zd_mmu_gather *tlb, struct zd_mm *mm);
/* pt is no longer reachable from mm's tables (the caller cleared the entry
 * that pointed at it); a walker that read the entry before may still be
 * reading pt. */
void zd_tlb_remove_table(struct zd_mmu_gather *tlb, struct zd_page *pt);
/* A page whose entry the caller cleared: its mapping's reference is
 * dropped after the grace period, so a CPU that read the entry before it
 * was cleared (the model's TLB) never touches a freed page. */
void zd_tlb_remove_page(struct zd_mmu_gather *tlb, struct zd_page *page);
/* Waits for a grace period, then frees every gathered table and page. */
void zd_tlb_finish_mmu(struct zd_mmu_gather *tlb);

#ifdef __cplusplus
}
#endif

#endif
