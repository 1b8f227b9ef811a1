/*
 * Huge (PMD and PUD) leaves (mm/huge_memory.c): the upper-level fault
 * path that offers an empty slot to a VMA's huge_fault handler (DAX)
 * before the PTE path, and the zap of a leaf. THP (anonymous PMD folios)
 * comes here too.
 * Invariants: a leaf is installed only into an empty slot under its
 * table's lock; a leaf holds one reference and one mapcount on its folio
 * and counts all its pages in rss; a zap takes the whole leaf.
 */
#include "internal.h"

#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>

/* wp_huge_pmd() on a private file mapping (a MAP_PRIVATE DAX file): the
 * copy is made at the PTE level, so the read-only leaf goes (what
 * __split_huge_pmd() does to a file leaf: drop it, the PTE fault maps
 * again) and the fault falls back. */
static bool cow_huge_leaf(struct zd_vm_fault *vmf, enum zd_pt_level l, zd_pte_t e)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	const struct zd_arch *a = &vma->vm_mm->m->arch;
	uint64_t size = 1ULL << a->pt[l].shift, haddr = vmf->address & ~(size - 1);

	if (!(vmf->flags & ZD_FAULT_FLAG_WRITE) ||
	    (vma->vm_flags & ZD_VM_SHARED) || !a->pgtable->pte_present(a, e) ||
	    (a->pgtable->leaf_prot(a, e) & ZD_PTE_WRITE))
		return false;
	zd_zap_huge_leaves(vma, haddr, haddr + size);
	return true;
}

/*
 * __handle_mm_fault()'s upper levels for a VMA with a huge_fault handler
 * (DAX): an empty PUD, then PMD, slot is offered to the handler at that
 * order; a present leaf there resolves the fault (a write to a read-only
 * shared leaf makes it writable: wp_huge_pmd). FALLBACK: go on to PTEs.
 */
unsigned zd_huge_fault(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_arch *a = &mm->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	static const enum zd_pt_level levels[] = { ZD_PT_PUD, ZD_PT_PMD };

	if (!vma->vm_ops || !vma->vm_ops->huge_fault)
		return ZD_VM_FAULT_FALLBACK;
	for (size_t i = 0; i < 2; i++) {
		enum zd_pt_level l = levels[i];
		struct zd_page *ptl;
		uint64_t *slot;
		zd_pte_t e;
		unsigned ret, prot;

		if (a->pt[l].folded || !a->pt[l].leaf)
			continue;
		slot = zd_huge_slot_alloc(mm, vmf->address, l, &ptl);
		if (!slot)
			return ZD_VM_FAULT_OOM;
		e = o->ptep_get(slot);
		if (o->pte_none(a, e)) {
			vmf->pte = slot;
			vmf->ptl = ptl;
			ret = vma->vm_ops->huge_fault(vmf, a->pt[l].shift - a->page_shift);
			if (!(ret & ZD_VM_FAULT_FALLBACK))
				return ret;
			continue;
		}
		if (o->is_table(a, e))
			continue;
		/* a present leaf */
		if (cow_huge_leaf(vmf, l, e))
			return ZD_VM_FAULT_FALLBACK;
		zd_pt_lock(ptl);
		e = o->ptep_get(slot);
		prot = o->leaf_prot(a, e) | ZD_PTE_YOUNG;
		if ((vmf->flags & ZD_FAULT_FLAG_WRITE) && (vma->vm_flags & ZD_VM_SHARED))
			prot |= ZD_PTE_WRITE | ZD_PTE_DIRTY;
		if (!o->pte_none(a, e) && o->pte_present(a, e))
			o->set_pte(slot, o->mk_leaf(a, l, o->leaf_pfn(a, l, e), prot));
		zd_pt_unlock(ptl);
		return 0;
	}
	return ZD_VM_FAULT_FALLBACK;
}

/* zap_huge_pmd()/zap_huge_pud() of a DAX leaf: the whole leaf goes even
 * for part of its range (a file mapping faults it back), as splitting a
 * DAX PMD does. */
int zd_zap_leaf(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level, uint64_t addr,
		    void *arg)
{
	const struct zd_arch *a = &mm->m->arch;
	zd_pte_t e = a->pgtable->ptep_get_and_clear(slot);
	struct zd_page *folio;

	if (!a->pgtable->pte_present(a, e))
		return 0;
	folio = zd_pfn_to_page(mm->m, a->pgtable->leaf_pfn(a, level, e));
	zd_add_mm_counter(mm, zd_mm_counter(folio), -(long)(1ULL << (a->pt[level].shift - a->page_shift)));
	zd_folio_remove_rmap_pte(mm->m, folio);
	zd_tlb_remove_page(arg, folio);
	return 0;
}
