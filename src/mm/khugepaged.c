/*
 * MADV_COLLAPSE (mm/khugepaged.c: madvise_collapse, hpage_collapse_scan_pmd,
 * collapse_huge_page): the caller's own synchronous collapse of each
 * PMD-aligned block of an anonymous VMA that PTEs map into one THP. There
 * is no khugepaged thread; its max_ptes_* limits do not apply to
 * MADV_COLLAPSE in the kernel either (none, zero and shared pages are
 * taken; shared ones stay with the other processes, which keep the old
 * pages).
 * Invariants: mmap_lock is held for writing, so no fault or slow GUP runs
 * meanwhile; the block's PTE table is unhooked and a grace period passes
 * before the bytes are copied (pmdp_collapse_flush: no lockless walker
 * writes an old page after the copy); a page referenced beyond its
 * mappings (a pin, a GUP reference) fails the block with nothing changed;
 * the emptied PTE table becomes the new PMD's deposit.
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>
#include "base/rcu.h"

#include <errno.h>
#include <string.h>

#include <zonedev/log.h>
#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>

/* SCAN_* results that madvise_collapse turns into errnos. */
enum scan { SCAN_SUCCEED, SCAN_PMD_MAPPED, SCAN_FAIL, SCAN_PAGE_COUNT, SCAN_ALLOC_FAIL };

/* A page is collapsible when nothing but its mappings holds it: every
 * mapping of an anonymous page holds one reference (of the folio for a
 * THP's pages). */
static bool only_mapped(struct zd_page *page)
{
	struct zd_page *folio = zd_compound_head(page);

	if (folio != page || zd_test_page_flag(folio, ZD_PG_head))
		return zd_page_ref_count(folio) == zd_folio_large_mapcount(folio);
	return zd_page_ref_count(page) == zd_page_mapcount(page);
}

/* hpage_collapse_scan_pmd() over the table's entries (its lock held). */
static enum scan scan_ptes(struct zd_mm *mm, uint64_t *ptes, uint64_t nr)
{
	const struct zd_arch *a = &mm->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	bool writable = false;

	for (uint64_t i = 0; i < nr; i++) {
		zd_pte_t e = o->ptep_get(&ptes[i]);
		struct zd_page *page;

		if (o->pte_none(a, e))
			continue;
		if (!o->pte_present(a, e))
			return SCAN_PAGE_COUNT;   /* a migration entry: try again */
		if (o->leaf_pfn(a, ZD_PT_PTE, e) == mm->m->zero_pfn)
			continue;
		page = zd_vm_normal_page(mm, e);
		if (!page || !zd_folio_test_anon(page))
			return SCAN_FAIL;
		if (!only_mapped(page))
			return SCAN_PAGE_COUNT;
		writable |= (zd_pte_prot(mm, e) & ZD_PTE_WRITE) != 0;
	}
	return writable ? SCAN_SUCCEED : SCAN_FAIL;   /* SCAN_PAGE_RO */
}

/* collapse_huge_page() of the block at haddr. */
static enum scan collapse_one(struct zd_vm_area_struct *vma, uint64_t haddr)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_arch *a = &m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t nr = 1ULL << (a->pt[ZD_PT_PMD].shift - a->page_shift), *slot, *ptes;
	struct zd_page *ptl, *table, *folio;
	struct zd_mmu_gather tlb;
	struct zd_mmu_notifier_range r;
	enum scan rc;
	zd_pte_t e;

	if (!(slot = zd_huge_slot_lookup(mm, haddr, ZD_PT_PMD, &ptl)))
		return SCAN_FAIL;   /* SCAN_PMD_NULL: nothing mapped */
	e = o->ptep_get(slot);
	if (zd_pmd_is_thp(mm, e, ZD_PT_PMD))
		return SCAN_PMD_MAPPED;
	if (!o->is_table(a, e))
		return SCAN_FAIL;
	table = zd_pt_table_page(m, e);
	ptes = zd_pagetable_address(m, table);
	zd_pt_lock(table);
	rc = scan_ptes(mm, ptes, nr);
	zd_pt_unlock(table);
	if (rc != SCAN_SUCCEED)
		return rc;
	if (zd_anon_vma_prepare(vma) || !(folio = zd_alloc_thp(m))) {
		__atomic_add_fetch(&m->thp_collapse_alloc_failed, 1, __ATOMIC_RELAXED);
		return SCAN_ALLOC_FAIL;
	}
	/* collapse_huge_page(): MMU_NOTIFY_CLEAR over the PMD around the unhook */
	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, mm, haddr, haddr + (nr << a->page_shift));
	/* pmdp_collapse_flush(): unhook the table, then wait out the lockless
	 * walkers (the CPU, GUP-fast) that may still use its entries */
	zd_pt_lock(ptl);
	o->ptep_get_and_clear(slot);
	zd_pt_unlock(ptl);
	zd_synchronize_rcu(&m->rcu);
	/* __collapse_huge_page_isolate(): GUP-fast may have taken a
	 * reference before the unhook */
	if (scan_ptes(mm, ptes, nr) != SCAN_SUCCEED) {
		zd_pt_lock(ptl);
		o->set_pte(slot, e);
		zd_pt_unlock(ptl);
		zd_put_page(m, folio);
		zd_mmu_notifier_invalidate_range_end(&r);
		return SCAN_PAGE_COUNT;
	}
	zd_tlb_gather_mmu(&tlb, mm);
	for (uint64_t i = 0; i < nr; i++) {
		zd_pte_t pte = o->ptep_get_and_clear(&ptes[i]);
		struct zd_page *page;

		if (!o->pte_present(a, pte) || !(page = zd_vm_normal_page(mm, pte)))
			continue;   /* none or the zero page: the THP is zeroed */
		memcpy((char *)zd_page_address(m, folio) + (i << a->page_shift),
		       zd_pfn_kaddr(m, zd_page_to_pfn(m, page)), a->page_size);
		zd_add_mm_counter(mm, ZD_MM_ANONPAGES, -1);
		zd_folio_remove_rmap_pte(m, page);
		zd_tlb_remove_page(&tlb, page);
	}
	zd_pgtable_trans_huge_deposit(mm, table);   /* the empty table serves the PMD */
	zd_pt_lock(ptl);
	zd_thp_map_pmd(vma, slot, folio, haddr);
	zd_pt_unlock(ptl);
	zd_tlb_finish_mmu(&tlb);
	zd_mmu_notifier_invalidate_range_end(&r);
	__atomic_add_fetch(&m->thp_collapse_alloc, 1, __ATOMIC_RELAXED);
	return SCAN_SUCCEED;
}

int zd_madvise_collapse(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end)
{
	struct zd_machine *m = vma->vm_mm->m;
	const struct zd_pt_geom *g = &m->arch.pt[ZD_PT_PMD];
	uint64_t hps = 1ULL << g->shift, hstart = (start + hps - 1) & ~(hps - 1);
	uint64_t hend = end & ~(hps - 1);
	int err = 0;

	if (vma->vm_ops || vma->vm_file) {
		zd_pr_info(m, "madvise: MADV_COLLAPSE of a file or shmem mapping is not modelled "
			   "(only anonymous THP is)");
		return -EINVAL;
	}
	if ((vma->vm_flags & ZD_VM_NOHUGEPAGE) || g->folded || !g->leaf ||
	    g->shift - m->arch.page_shift > m->arch.max_page_order) {
		zd_pr_info(m, "madvise: MADV_COLLAPSE at 0x%llx: %s", (unsigned long long)start,
			   vma->vm_flags & ZD_VM_NOHUGEPAGE ? "the VMA is MADV_NOHUGEPAGE" :
			   "the arch has no PMD-sized THP");
		return -EINVAL;
	}
	if (hstart >= hend) {
		zd_pr_info(m, "madvise: MADV_COLLAPSE of [0x%llx-0x%llx) holds no whole %llu KiB "
			   "block", (unsigned long long)start, (unsigned long long)end,
			   (unsigned long long)(hps >> 10));
		return -EINVAL;
	}
	for (uint64_t h = hstart; h < hend; h += hps) {
		switch (collapse_one(vma, h)) {
		case SCAN_SUCCEED:
		case SCAN_PMD_MAPPED:
			break;
		case SCAN_ALLOC_FAIL:
			err = -ENOMEM;
			break;
		case SCAN_PAGE_COUNT:
			err = -EAGAIN;
			break;
		default:
			zd_pr_info(m, "madvise: MADV_COLLAPSE of the block at 0x%llx: nothing mapped, "
				   "no writable entry, or a page that is not anonymous",
				   (unsigned long long)h);
			err = -EINVAL;
		}
	}
	return err;
}
