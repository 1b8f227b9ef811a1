/*
 * vm_insert_page() (the driver-facing insertion half of mm/memory.c): a
 * driver's mmap puts pages it owns into a VMA, which becomes VM_MIXEDMAP
 * (a mapping of pages that are not anonymous and not the page cache's).
 * Such a PTE is a normal page mapping: it holds a reference and a file
 * mapcount, counts in MM_FILEPAGES, and the zap gives both back; its
 * rights are the VMA's page protection (a private mapping's first write
 * copies).
 * Invariants: only pages with a reference and no anonymous mapping go in;
 * a slot that is not empty is never overwritten (-EBUSY).
 */
#include "internal.h"

#include <errno.h>

#include <zonedev/log.h>
#include <zonedev/pgalloc.h>

int zd_vm_insert_page(struct zd_vm_area_struct *vma, uint64_t addr, struct zd_page *page)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *ptl;
	uint64_t *pte;
	int rc = 0;

	if (addr < vma->vm_start || addr >= vma->vm_end || (addr & (m->arch.page_size - 1)))
		return -EFAULT;
	/* validate_page_before_insert(): a page someone owns, not anon */
	if (!zd_page_ref_count(page) || zd_folio_test_anon(zd_compound_head(page))) {
		zd_pr_err(m, "vm_insert_page at 0x%llx: pfn 0x%llx is %s: -EINVAL",
			  (unsigned long long)addr, (unsigned long long)zd_page_to_pfn(m, page),
			  zd_page_ref_count(page) ? "anonymous memory" : "a free page");
		return -EINVAL;
	}
	if (!(vma->vm_flags & ZD_VM_MIXEDMAP)) {
		if (vma->vm_flags & ZD_VM_PFNMAP)
			return -EINVAL;   /* the kernel's BUG_ON: one kind of special VMA */
		vma->vm_flags |= ZD_VM_MIXEDMAP;
	}
	if (!(pte = zd_pte_alloc_map_lock(mm, addr, &ptl)))
		return -ENOMEM;
	if (!o->pte_none(&m->arch, o->ptep_get(pte))) {
		rc = -EBUSY;
	} else {
		zd_get_page(m, page);
		zd_add_mm_counter(mm, zd_mm_counter(page), 1);
		zd_folio_add_file_rmap(m, page);
		o->set_pte(pte, o->mk_leaf(&m->arch, ZD_PT_PTE, zd_page_to_pfn(m, page),
					   zd_vma_pte_prot(vma->vm_flags)));
	}
	zd_pt_unlock(ptl);
	return rc;
}
