/*
 * mprotect(2) (mm/mprotect.c): new access rights for every VMA in a range,
 * splitting VMAs at the range's ends and merging what becomes alike.
 * Invariants: a VMA never gets a right its VM_MAY* bits deny (-EACCES); a
 * hole in the range is -ENOMEM, found before or while walking, and as in
 * the kernel the VMAs before the hole keep their new rights; the present
 * entries of a changed range follow its new flags (change_protection).
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>
#include "base/rcu.h"

#include <errno.h>

#include <zonedev/pgtable.h>
#include <zonedev/swapops.h>

/* change_pte_range(): entries follow the VMA's new rights. Write comes
 * back only where a write fault would grant it without copying: an
 * exclusive anonymous page (can_change_pte_writable), a dirty shared one. */
static int change_one(struct zd_mm *mm, uint64_t *pte, uint64_t addr, void *arg)
{
	const struct zd_vm_area_struct *vma = arg;
	const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
	zd_pte_t e = o->ptep_get(pte);
	struct zd_page *page;
	unsigned old, prot;

	if (!o->pte_present(&mm->m->arch, e)) {
		/* change_softleaf_pte(), on any pass: a write migration entry
		 * becomes read-exclusive (anon) or read, a writable
		 * device-private entry readable; nothing is upgraded, a later
		 * write faults */
		enum zd_softleaf_type k = zd_softleaf_from_pte(mm->m, e, &page);

		if (page && zd_softleaf_is_migration_write(k))
			o->set_pte(pte, zd_make_migration_entry(mm->m, page, false,
								zd_folio_test_anon(page)));
		else if (page && k == ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE)
			o->set_pte(pte, zd_make_device_private_entry(mm->m, page, false));
		return 0;
	}
	old = zd_pte_prot(mm, e);
	prot = zd_vma_pte_prot(vma->vm_flags) & ~ZD_PTE_WRITE;
	page = zd_vm_normal_page(mm, e);
	if ((vma->vm_flags & ZD_VM_WRITE) && page &&
	    (vma->vm_flags & ZD_VM_SHARED ? (old & ZD_PTE_DIRTY) != 0 :
	     zd_folio_test_anon(page) && zd_test_page_flag(page, ZD_PG_anon_exclusive)))
		prot |= ZD_PTE_WRITE;
	/* modify_prot_start/commit: accessed and dirty as they are at the change */
	zd_leaf_modify_prot(mm, pte, ZD_PT_PTE, ZD_PTE_YOUNG | ZD_PTE_DIRTY | ZD_PTE_SPECIAL, prot);
	return 0;
}

/* change_huge_pmd(): a DAX leaf takes the new rights; write only where a
 * shared leaf is already dirty. */
static int change_leaf(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level, uint64_t addr,
		       void *arg)
{
	const struct zd_vm_area_struct *vma = arg;
	const struct zd_arch *a = &mm->m->arch;
	zd_pte_t e = a->pgtable->ptep_get(slot);
	unsigned old, prot;

	if (!a->pgtable->pte_present(a, e)) {
		zd_change_device_private_pmd((struct zd_vm_area_struct *)vma, slot);
		return 0;
	}
	if (zd_pmd_is_thp(mm, e, level)) {
		zd_change_huge_pmd((struct zd_vm_area_struct *)vma, slot);
		return 0;
	}
	old = a->pgtable->leaf_prot(a, e);
	prot = (zd_vma_pte_prot(vma->vm_flags) & ~ZD_PTE_WRITE) |
	       (old & (ZD_PTE_YOUNG | ZD_PTE_DIRTY | ZD_PTE_SPECIAL));
	if ((vma->vm_flags & ZD_VM_WRITE) && (vma->vm_flags & ZD_VM_SHARED) && (old & ZD_PTE_DIRTY))
		prot |= ZD_PTE_WRITE;
	if (prot != old)
		a->pgtable->set_pte(slot, a->pgtable->mk_leaf(a, level, a->pgtable->leaf_pfn(a, level, e),
							      prot));
	return 0;
}

void zd_change_protection(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end)
{
	struct zd_mmu_notifier_range r;

	/* change_pud_range(): MMU_NOTIFY_PROTECTION_VMA */
	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_PROTECTION_VMA, vma->vm_mm, start, end);
	zd_walk_range(vma->vm_mm, start, end, change_one, change_leaf, vma);
	zd_mmu_notifier_invalidate_range_end(&r);
}


static int mprotect_fixup(struct zd_mm *mm, struct zd_vm_area_struct *vma, uint64_t start,
			  uint64_t end, uint64_t newflags)
{
	int err;

	if (newflags == vma->vm_flags)
		return 0;
	err = zd_vma_isolate_range(mm, start, end, false);
	if (err)
		return err;
	vma = zd_vma_lookup(mm, start);
	vma->vm_flags = newflags;
	zd_change_protection(vma, start, end);
	zd_synchronize_rcu(&mm->m->rcu);   /* flush_tlb_range(): old rights are gone */
	zd_vma_merge_neighbours(mm, vma);
	return 0;
}

int zd_do_mprotect(struct zd_mm *mm, uint64_t start, uint64_t len, unsigned long prot)
{
	const uint64_t psize = mm->m->arch.page_size;
	const unsigned long grows = prot & (ZD_PROT_GROWSDOWN | ZD_PROT_GROWSUP);
	uint64_t end, at, want;
	int err = 0;

	if (start & (psize - 1))
		return -EINVAL;
	if (!len)
		return 0;
	len = (len + psize - 1) & ~(psize - 1);
	end = start + len;
	if (!len || end <= start)
		return -ENOMEM;
	prot &= ~(unsigned long)(ZD_PROT_GROWSDOWN | ZD_PROT_GROWSUP);
	if (grows == (ZD_PROT_GROWSDOWN | ZD_PROT_GROWSUP) ||
	    (prot & ~(unsigned long)(ZD_PROT_READ | ZD_PROT_WRITE | ZD_PROT_EXEC | ZD_PROT_SEM)))
		return -EINVAL;
	want = zd_calc_vm_prot_bits(prot);

	zd_mmap_write_lock(mm);
	for (at = start; at < end && !err;) {
		struct zd_vm_area_struct *vma = zd_find_vma(mm, at);
		uint64_t newflags, stop;

		if (!vma || vma->vm_start > at) {
			err = -ENOMEM;
			break;
		}
		if (grows && !(vma->vm_flags & ZD_VM_GROWSDOWN)) {
			err = -EINVAL;   /* PROT_GROWSDOWN on a VMA that does not grow */
			break;
		}
		newflags = want | (vma->vm_flags & ~(ZD_VM_READ | ZD_VM_WRITE | ZD_VM_EXEC));
		/* VM_MAYx is VM_x << 4: a right asked for without its MAY bit */
		if ((newflags & ~(newflags >> 4)) & (ZD_VM_READ | ZD_VM_WRITE | ZD_VM_EXEC)) {
			err = -EACCES;
			break;
		}
		stop = vma->vm_end < end ? vma->vm_end : end;
		err = mprotect_fixup(mm, vma, at, stop, newflags);
		at = stop;
	}
	zd_mmap_write_unlock(mm);
	return err;
}
