/*
 * mmu_gather (mm/mmu_gather.c), the part that frees page tables: tables a
 * zap or an unmap unhooked are collected and freed together after one
 * grace period of the machine's RCU (MMU_GATHER_RCU_TABLE_FREE), because
 * GUP-fast walks the tables with no lock but zd_rcu_read_lock and may be
 * reading a table whose entry was just cleared. Since v6.14 the kernel
 * runs the table's destructor there too, after the grace period, so
 * PageTables counts a table until it is really free; this follows it.
 * Invariants: a gathered table is unreachable from its mm's tables; the
 * mm's VmPTE drops when the table is gathered, the machine's PageTables
 * when it is freed; no table is freed before zd_tlb_finish_mmu()'s grace
 * period has ended.
 */
#include "internal.h"
#include "base/rcu.h"

#include <zonedev/pgalloc.h>

void zd_tlb_gather_mmu(struct zd_mmu_gather *tlb, struct zd_mm *mm)
{
	tlb->mm = mm;
	tlb->tables = NULL;
	tlb->nr_tables = 0;
}

void zd_tlb_remove_table(struct zd_mmu_gather *tlb, struct zd_page *pt)
{
	struct zd_mm *mm = tlb->mm;

	__atomic_sub_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
	pt->lru.next = (struct zd_list_head *)tlb->tables;
	tlb->tables = pt;
	tlb->nr_tables++;
}

void zd_tlb_finish_mmu(struct zd_mmu_gather *tlb)
{
	struct zd_machine *m = tlb->mm->m;
	struct zd_page *pt = tlb->tables;

	if (!pt)
		return;
	zd_synchronize_rcu(&m->rcu);
	while (pt) {
		struct zd_page *next = (struct zd_page *)pt->lru.next;

		pt->lru.next = pt->lru.prev = NULL;
		zd_pagetable_dtor_free(m, pt);
		pt = next;
	}
	tlb->tables = NULL;
	tlb->nr_tables = 0;
}
