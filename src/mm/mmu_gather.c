/*
 * mmu_gather (mm/mmu_gather.c), the part that frees page tables: tables a
 * zap or an unmap unhooked are collected and freed together after one
 * grace period of the machine's RCU (MMU_GATHER_RCU_TABLE_FREE), because
 * GUP-fast walks the tables with no lock but zd_rcu_read_lock and may be
 * reading a table whose entry was just cleared. Since v6.14 the kernel
 * runs the table's destructor there too, after the grace period, so
 * PageTables counts a table until it is really free; this follows it.
 * Pages a zap unmapped wait for the same grace period before their
 * mapping's reference goes (tlb_remove_page after the TLB flush): the CPU
 * model reads entries and bytes inside an RCU read section.
 * Invariants: a gathered table is unreachable from its mm's tables; the
 * mm's VmPTE drops when the table is gathered, the machine's PageTables
 * when it is freed; no table is freed before zd_tlb_finish_mmu()'s grace
 * period has ended.
 */
#include "internal.h"
#include "base/rcu.h"

#include <stdlib.h>

#include <zonedev/memremap.h>
#include <zonedev/pgalloc.h>

void zd_tlb_gather_mmu(struct zd_mmu_gather *tlb, struct zd_mm *mm)
{
	tlb->mm = mm;
	tlb->tables = NULL;
	tlb->nr_tables = 0;
	tlb->pages = NULL;
	tlb->nr_pages = tlb->max_pages = 0;
}

void zd_tlb_remove_page(struct zd_mmu_gather *tlb, struct zd_page *page)
{
	if (tlb->nr_pages == tlb->max_pages) {
		size_t max = tlb->max_pages ? 2 * tlb->max_pages : 64;
		struct zd_page **p = realloc(tlb->pages, max * sizeof(*p));

		if (!p) {
			/* no room to batch: flush what is gathered, then this one */
			zd_tlb_finish_mmu(tlb);
			zd_synchronize_rcu(&tlb->mm->m->rcu);
			zd_put_page(tlb->mm->m, page);
			return;
		}
		tlb->pages = p;
		tlb->max_pages = max;
	}
	tlb->pages[tlb->nr_pages++] = page;
}

void zd_tlb_remove_table(struct zd_mmu_gather *tlb, struct zd_page *pt)
{
	struct zd_mm *mm = tlb->mm;

	__atomic_sub_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
	/* lru.next is compound_head's word, which pfn scanners read */
	__atomic_store_n(&pt->lru.next, (struct zd_list_head *)tlb->tables, __ATOMIC_RELAXED);
	tlb->tables = pt;
	tlb->nr_tables++;
}

void zd_tlb_finish_mmu(struct zd_mmu_gather *tlb)
{
	struct zd_machine *m = tlb->mm->m;
	struct zd_page *pt = tlb->tables;

	if (!pt && !tlb->nr_pages) {
		free(tlb->pages);
		tlb->pages = NULL;
		tlb->max_pages = 0;
		return;
	}
	zd_synchronize_rcu(&m->rcu);
	for (size_t i = 0; i < tlb->nr_pages; i++)
		zd_put_page(m, tlb->pages[i]);
	free(tlb->pages);
	tlb->pages = NULL;
	tlb->nr_pages = tlb->max_pages = 0;
	while (pt) {
		struct zd_page *next = (struct zd_page *)pt->lru.next;

		__atomic_store_n(&pt->lru.next, NULL, __ATOMIC_RELAXED);
		pt->lru.prev = NULL;
		zd_pagetable_dtor_free(m, pt);
		pt = next;
	}
	tlb->tables = NULL;
	tlb->nr_tables = 0;
}
