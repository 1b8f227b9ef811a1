/*
 * Device-private PMD entries (the kernel's huge_memory.c parts of the
 * 6.19 device-private THP series): a PMD slot holding the device-private
 * entry of a 2 MiB device folio, in the PTE entry's format (each arch's
 * PMD-level swap entry is its PTE one), with the CPU side's life of such a
 * leaf: the fault that hands it to its driver (do_huge_pmd_device_private),
 * migrate_vma's insertion of a device folio into a hole, fork's copy,
 * mprotect's downgrade and the zap (migrate_device_thp.c re-forms the PMD
 * after a migration). split_huge_pmd (huge_memory.c) knows
 * it too and gives 512 device-private PTEs.
 * Invariants: as for a THP PMD, the entry holds one reference and one
 * entire mapcount on its folio, PageAnonExclusive on the head, all its
 * pages in MM_ANONPAGES and a deposited PTE table; the entry names the
 * folio's head by pfn (pfn design) or device-private offset (dpa); only
 * anonymous VMAs hold one.
 */
#include "internal.h"

#include <errno.h>

#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>

static unsigned pmd_order(const struct zd_machine *m)
{
	return m->arch.pt[ZD_PT_PMD].shift - m->arch.page_shift;
}

bool zd_pmd_is_device_private(struct zd_mm *mm, zd_pte_t e, enum zd_pt_level level,
			      struct zd_page **folio, bool *write)
{
	const struct zd_arch *a = &mm->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	struct zd_page *page;
	enum zd_softleaf_type k;

	if (level != ZD_PT_PMD || o->pte_none(a, e) || o->pte_present(a, e) || o->is_table(a, e))
		return false;
	k = zd_softleaf_from_pte(mm->m, e, &page);
	if (!zd_softleaf_is_device_private(k) || !page)
		return false;
	if (folio)
		*folio = zd_compound_head(page);
	if (write)
		*write = k == ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE;
	return true;
}

bool zd_pmd_is_splittable(struct zd_mm *mm, zd_pte_t e, enum zd_pt_level level)
{
	return zd_pmd_is_thp(mm, e, level) || zd_pmd_is_device_private(mm, e, level, NULL, NULL);
}

zd_pte_t zd_make_device_private_pmd(struct zd_machine *m, struct zd_page *folio, bool write)
{
	return zd_make_device_private_entry(m, folio, write);
}

/* do_huge_pmd_device_private(), the PMD's table locked (unlocked on
 * return): the folio's driver brings all of it back. vmf->pte is NULL for
 * the driver, which is how it knows the fault came through a PMD and may
 * migrate the whole folio; vmf->page is the faulting page in it. */
unsigned zd_do_huge_pmd_device_private(struct zd_vm_fault *vmf, struct zd_page *folio)
{
	uint64_t span = 1ULL << vmf->vma->vm_mm->m->arch.pt[ZD_PT_PMD].shift;

	return zd_device_private_migrate_to_ram(vmf, folio + ((vmf->address & (span - 1)) >>
							     vmf->vma->vm_mm->m->arch.page_shift),
						NULL);
}

/* migrate_vma_insert_huge_pmd_page(): a hole or the huge zero folio at
 * the PMD block haddr gets the device folio (or a THP for a coherent or
 * system destination), with a deposited table. */
bool zd_migrate_vma_insert_huge_pmd_page(struct zd_vm_area_struct *vma, uint64_t haddr,
					 struct zd_page *folio)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	bool write = vma->vm_flags & ZD_VM_WRITE, zero;
	struct zd_page *ptl, *table;
	uint64_t *slot;
	zd_pte_t e;

	if (!zd_is_device_private_page(m, folio) || zd_anon_vma_prepare(vma))
		return false;
	if (!(table = zd_pagetable_alloc(mm)))
		return false;
	if (!(slot = zd_huge_slot_alloc(mm, haddr, ZD_PT_PMD, &ptl))) {
		zd_pagetable_free(mm, table);
		return false;
	}
	zd_pt_lock(ptl);
	e = o->ptep_get(slot);
	zero = o->pte_present(&m->arch, e) && !o->is_table(&m->arch, e) &&
	       zd_is_huge_zero_pfn(m, o->leaf_pfn(&m->arch, ZD_PT_PMD, e));
	if (!o->pte_none(&m->arch, e) && !zero) {
		zd_pt_unlock(ptl);
		zd_pagetable_free(mm, table);
		return false;
	}
	if (zero) {
		/* the huge zero PMD's deposit serves the new leaf */
		o->ptep_get_and_clear(slot);
		zd_pagetable_free(mm, table);
	} else {
		zd_pgtable_trans_huge_deposit(mm, table);
	}
	zd_folio_add_new_anon_rmap_pmd(folio, vma, haddr);
	zd_add_mm_counter(mm, ZD_MM_ANONPAGES, 1L << pmd_order(m));
	zd_get_page(m, folio);
	o->set_pte(slot, zd_make_device_private_pmd(m, folio, write));
	zd_pt_unlock(ptl);
	return true;
}

/* copy_huge_non_present_pmd() for a device-private PMD: the child maps
 * the same device folio; a writable entry becomes readable in both (the
 * COW rule of copy_nonpresent_pte). Device memory is never pinned, so the
 * dup of an exclusive folio cannot fail. */
int zd_copy_device_private_pmd(struct zd_vm_area_struct *dst, struct zd_vm_area_struct *src,
			       uint64_t *src_slot, uint64_t addr)
{
	struct zd_mm *src_mm = src->vm_mm, *dst_mm = dst->vm_mm;
	struct zd_machine *m = src_mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *table, *dst_ptl, *folio;
	uint64_t *dst_slot;
	bool write;

	if (!zd_pmd_is_device_private(src_mm, o->ptep_get(src_slot), ZD_PT_PMD, &folio, &write))
		return 0;
	if (!(table = zd_pagetable_alloc(dst_mm)))
		return -ENOMEM;
	if (!(dst_slot = zd_huge_slot_alloc(dst_mm, addr, ZD_PT_PMD, &dst_ptl))) {
		zd_pagetable_free(dst_mm, table);
		return -ENOMEM;
	}
	if (zd_folio_try_dup_anon_rmap_pmd(folio)) {
		zd_pagetable_free(dst_mm, table);
		return zd_split_huge_pmd_locked(src_mm, src_slot) ? ZD_WALK_AGAIN : -ENOMEM;
	}
	zd_get_page(m, folio);
	zd_add_mm_counter(dst_mm, ZD_MM_ANONPAGES, 1L << pmd_order(m));
	if (write)
		o->set_pte(src_slot, zd_make_device_private_pmd(m, folio, false));
	zd_pt_lock(dst_ptl);
	zd_pgtable_trans_huge_deposit(dst_mm, table);
	o->set_pte(dst_slot, zd_make_device_private_pmd(m, folio, false));
	zd_pt_unlock(dst_ptl);
	return 0;
}

/* change_non_present_huge_pmd(): a writable entry in a VMA that loses
 * write becomes readable; nothing is ever made writable (a write faults
 * the folio back). */
void zd_change_device_private_pmd(struct zd_vm_area_struct *vma, uint64_t *slot)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_page *folio;
	bool write;

	if (zd_pmd_is_device_private(mm, mm->m->arch.pgtable->ptep_get(slot), ZD_PT_PMD, &folio,
				     &write) && write && !(vma->vm_flags & ZD_VM_WRITE))
		mm->m->arch.pgtable->set_pte(slot, zd_make_device_private_pmd(mm->m, folio, false));
}

/* zap_huge_pmd() of a device-private PMD, its entry already cleared:
 * the deposit goes with it, and the last reference hands the folio back
 * to its driver (no TLB entry ever held it: no gather needed). */
void zd_zap_device_private_pmd(struct zd_mm *mm, struct zd_page *folio, void *tlb)
{
	struct zd_page *table = zd_pgtable_trans_huge_withdraw(mm);

	if (table)
		zd_tlb_remove_table(tlb, table);
	zd_add_mm_counter(mm, ZD_MM_ANONPAGES, -(1L << pmd_order(mm->m)));
	zd_folio_remove_rmap_pmd(mm->m, folio);
	zd_put_page(mm->m, folio);
}
