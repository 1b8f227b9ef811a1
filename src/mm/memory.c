/*
 * Page-table walks (mm/memory.c's __pud_alloc/__pmd_alloc/__pte_alloc,
 * pte_offset_map_lock and free_pgtables): the levels of the machine's
 * arch profile, folded ones skipped, each table a page of pgalloc.h whose
 * entries the profile's ops encode. Faults will fill the PTE slots these
 * walks return.
 * Invariants: a table is installed under its parent table's split lock
 * and only into an empty slot (a racing installer's table is freed
 * unseen); a table is unhooked only under mmap_lock for writing, when no
 * VMA covers any address it maps, and freed through an mmu_gather; an mm
 * has its PGD from zd_mm_alloc() to zd_mmput(), counted in PageTables as
 * since v6.14 (page tables accounted at every level), not in VmPTE.
 */
#include "internal.h"

#include <errno.h>

#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>

/* The table an entry points at. */
static struct zd_page *table_page(struct zd_machine *m, zd_pte_t e)
{
	return zd_pfn_to_page(m, m->arch.pgtable->table_phys(&m->arch, e) >> m->arch.page_shift);
}

static uint64_t *slot(struct zd_machine *m, struct zd_page *table, int level, uint64_t addr)
{
	const struct zd_pt_geom *g = &m->arch.pt[level];

	return (uint64_t *)zd_pagetable_address(m, table) + ((addr >> g->shift) & (g->ptrs - 1));
}

/* The next level below level that has tables of its own. */
static int next_level(const struct zd_arch *a, int level)
{
	do
		level++;
	while (level < ZD_PT_PTE && a->pt[level].folded);
	return level;
}

/* Walk to the PTE table of addr; alloc: install what is missing. */
static struct zd_page *walk(struct zd_mm *mm, uint64_t addr, bool alloc)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *table = mm->pgd;

	for (int l = ZD_PT_PGD; l < ZD_PT_PTE; l = next_level(&m->arch, l)) {
		uint64_t *p = slot(m, table, l, addr);
		zd_pte_t e = o->ptep_get(p);

		if (o->pte_none(&m->arch, e)) {
			struct zd_page *fresh;

			if (!alloc || !(fresh = zd_pagetable_alloc(mm)))
				return NULL;
			zd_pt_lock(table);
			e = o->ptep_get(p);
			if (o->pte_none(&m->arch, e)) {
				e = o->mk_table(&m->arch, (enum zd_pt_level)l, zd_page_to_pfn(m, fresh)
						<< m->arch.page_shift);
				o->set_pte(p, e);
				fresh = NULL;
			}
			zd_pt_unlock(table);
			if (fresh)
				zd_pagetable_free(mm, fresh);   /* another thread won */
		}
		if (!o->is_table(&m->arch, e))
			return NULL;   /* a huge leaf: no PTE table below it */
		table = table_page(m, e);
	}
	return table;
}

static uint64_t *map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl, bool alloc)
{
	struct zd_page *pte_table = walk(mm, addr, alloc);

	if (!pte_table)
		return NULL;
	zd_pt_lock(pte_table);
	*ptl = pte_table;
	return slot(mm->m, pte_table, ZD_PT_PTE, addr);
}

uint64_t *zd_pte_offset_map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl)
{
	return map_lock(mm, addr, ptl, false);
}

uint64_t *zd_pte_alloc_map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl)
{
	return map_lock(mm, addr, ptl, true);
}

int zd_pgd_alloc(struct zd_mm *mm)
{
	mm->pgd = zd_pagetable_alloc(mm);
	if (!mm->pgd)
		return -ENOMEM;
	/* the PGD is in PageTables but not in VmPTE (mm_pgtables_bytes) */
	__atomic_sub_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
	return 0;
}

static bool table_empty(struct zd_machine *m, struct zd_page *table)
{
	const uint64_t *e = zd_pagetable_address(m, table);

	for (uint64_t i = 0; i < m->arch.page_size / sizeof(*e); i++)
		if (__atomic_load_n(&e[i], __ATOMIC_RELAXED))
			return false;
	return true;
}

/* The tables below table (at level) for [addr, end) whose whole span lies
 * in [floor, ceiling - 1] and that hold nothing any more go to tlb. */
static void free_level(struct zd_mmu_gather *tlb, struct zd_page *table, int level, uint64_t addr,
		       uint64_t end, uint64_t floor, uint64_t ceiling)
{
	struct zd_machine *m = tlb->mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	const struct zd_pt_geom *g = &m->arch.pt[level];
	uint64_t span = 1ULL << g->shift;

	for (uint64_t a = addr & ~(span - 1); a < end && a >= (addr & ~(span - 1)); a += span) {
		uint64_t *p = slot(m, table, level, a);
		zd_pte_t e = o->ptep_get(p);
		struct zd_page *child;

		if (!o->is_table(&m->arch, e))
			continue;
		child = table_page(m, e);
		if (next_level(&m->arch, level) < ZD_PT_PTE)
			free_level(tlb, child, next_level(&m->arch, level), a > addr ? a : addr,
				   end < a + span ? end : a + span, floor, ceiling);
		if (a < floor || a + span - 1 > ceiling - 1 || !table_empty(m, child))
			continue;
		o->ptep_get_and_clear(p);
		zd_tlb_remove_table(tlb, child);
	}
}

void zd_free_pgtables(struct zd_mm *mm, uint64_t start, uint64_t end, uint64_t floor,
		      uint64_t ceiling)
{
	struct zd_mmu_gather tlb;

	zd_tlb_gather_mmu(&tlb, mm);
	free_level(&tlb, mm->pgd, ZD_PT_PGD, start, end, floor, ceiling);
	zd_tlb_finish_mmu(&tlb);
}

void zd_pgd_free(struct zd_mm *mm)
{
	struct zd_mmu_gather tlb;

	zd_free_pgtables(mm, 0, mm->task_size, 0, 0);
	/* Only empty tables are freed; one left means an entry was never zapped. */
	ZD_WARN(mm->m, !table_empty(mm->m, mm->pgd), "pgd of pid %d still points at tables at exit",
		mm->pid);
	zd_tlb_gather_mmu(&tlb, mm);
	__atomic_add_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
	zd_tlb_remove_table(&tlb, mm->pgd);
	zd_tlb_finish_mmu(&tlb);
	mm->pgd = NULL;
}
