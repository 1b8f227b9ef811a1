/*
 * madvise(2) (mm/madvise.c). Advice that is a VMA property: the access
 * pattern (NORMAL, RANDOM, SEQUENTIAL), THP (HUGEPAGE, NOHUGEPAGE), fork
 * (DONTFORK, DOFORK, WIPEONFORK, KEEPONFORK) and core dumps (DONTDUMP,
 * DODUMP). Advice on pages: WILLNEED (nothing to read ahead: no swap),
 * DONTNEED and DONTNEED_LOCKED (zap: the next touch faults in zeroes or
 * the file's page), FREE (lazy free: the pages are marked clean and old,
 * kept until reclaim, which the model does not run, so they stay),
 * POPULATE_READ and POPULATE_WRITE (fault every page in now), COLLAPSE
 * (khugepaged.c: anonymous THP now). The rest (PAGEOUT, COLD, KSM,
 * hwpoison, guards) is -EOPNOTSUPP with a log line; an advice number the
 * kernel does not know is -EINVAL.
 * Invariants: the kernel's checks come first (alignment -EINVAL, a hole in
 * the range -ENOMEM after the VMAs around it changed); VMAs split at the
 * range's ends and merge again when alike; VM_IO/VM_PFNMAP mappings refuse
 * DOFORK as the kernel's do; POPULATE's errors are madvise(2)'s: -EINVAL
 * for a mapping or right it cannot use, -EFAULT where the access would get
 * SIGBUS, -ENOMEM for no memory, -EHWPOISON for a poisoned page.
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>

#include <errno.h>

#include <zonedev/log.h>

/* The flags the advice sets and clears; false if it is not flag advice. */
static bool advice_flags(int behavior, uint64_t *set, uint64_t *clear)
{
	*set = *clear = 0;
	switch (behavior) {
	case ZD_MADV_NORMAL: *clear = ZD_VM_SEQ_READ | ZD_VM_RAND_READ; return true;
	case ZD_MADV_RANDOM: *set = ZD_VM_RAND_READ; *clear = ZD_VM_SEQ_READ; return true;
	case ZD_MADV_SEQUENTIAL: *set = ZD_VM_SEQ_READ; *clear = ZD_VM_RAND_READ; return true;
	case ZD_MADV_HUGEPAGE: *set = ZD_VM_HUGEPAGE; *clear = ZD_VM_NOHUGEPAGE; return true;
	case ZD_MADV_NOHUGEPAGE: *set = ZD_VM_NOHUGEPAGE; *clear = ZD_VM_HUGEPAGE; return true;
	case ZD_MADV_DONTFORK: *set = ZD_VM_DONTCOPY; return true;
	case ZD_MADV_DOFORK: *clear = ZD_VM_DONTCOPY; return true;
	case ZD_MADV_WIPEONFORK: *set = ZD_VM_WIPEONFORK; return true;
	case ZD_MADV_KEEPONFORK: *clear = ZD_VM_WIPEONFORK; return true;
	case ZD_MADV_DONTDUMP: *set = ZD_VM_DONTDUMP; return true;
	case ZD_MADV_DODUMP: *clear = ZD_VM_DONTDUMP; return true;
	default: return false;
	}
}

/* The advice's own refusals for one VMA (madvise_behavior_valid and the
 * per-advice checks of madvise_vma_behavior). */
static int advice_allowed(const struct zd_vm_area_struct *vma, int behavior)
{
	switch (behavior) {
	case ZD_MADV_DOFORK:
		return vma->vm_flags & ZD_VM_IO ? -EINVAL : 0;
	case ZD_MADV_WIPEONFORK:
		/* only private anonymous memory can be wiped in the child */
		return vma->vm_file || (vma->vm_flags & ZD_VM_SHARED) ? -EINVAL : 0;
	default:
		return 0;
	}
}

static bool is_page_advice(int behavior)
{
	switch (behavior) {
	case ZD_MADV_WILLNEED: case ZD_MADV_DONTNEED: case ZD_MADV_DONTNEED_LOCKED:
	case ZD_MADV_FREE: case ZD_MADV_POPULATE_READ: case ZD_MADV_POPULATE_WRITE:
	case ZD_MADV_COLLAPSE:
		return true;
	default:
		return false;
	}
}

/* MADV_FREE's marking: an exclusive page becomes clean and old, so reclaim
 * could drop it instead of swapping it out (madvise_free_pte_range). */
static int lazyfree_one(struct zd_mm *mm, uint64_t *pte, uint64_t addr, void *arg)
{
	const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
	zd_pte_t e = o->ptep_get(pte);
	struct zd_page *page;

	if (!o->pte_present(&mm->m->arch, e) || !(page = zd_vm_normal_page(mm, e)) ||
	    zd_page_mapcount(page) != 1)
		return 0;
	zd_leaf_modify_prot(mm, pte, ZD_PT_PTE, ~(ZD_PTE_DIRTY | ZD_PTE_YOUNG), 0);
	if (zd_page_is_tail(page) || zd_test_page_flag(page, ZD_PG_head))
		return 0;   /* a PTE-mapped THP stays as it is (no split_folio here) */
	/* folio_mark_lazyfree(): clean and no longer swap-backed */
	zd_clear_page_flag(page, ZD_PG_dirty);
	zd_clear_page_flag(page, ZD_PG_swapbacked);
	return 0;
}

/* faultin_page_range(): every page of [start, end) faulted as an access would. */
static int populate(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end, bool write)
{
	struct zd_mm *mm = vma->vm_mm;

	if (vma->vm_flags & (ZD_VM_IO | ZD_VM_PFNMAP))
		return -EINVAL;
	if (!(vma->vm_flags & (write ? ZD_VM_WRITE : ZD_VM_READ)))
		return -EINVAL;
	for (uint64_t a = start; a < end; a += mm->m->arch.page_size) {
		enum zd_pt_level level;
		struct zd_page *page;
		zd_pte_t e = zd_follow_pte(mm, a, &level, &page);
		const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
		unsigned ret;

		if (o->pte_present(&mm->m->arch, e) &&
		    (!write || (zd_pte_prot(mm, e) & ZD_PTE_WRITE)))
			continue;
		ret = zd_handle_mm_fault(vma, a, write ? ZD_FAULT_FLAG_WRITE : 0);
		if (ret & ZD_VM_FAULT_OOM)
			return -ENOMEM;
		if (ret & ZD_VM_FAULT_HWPOISON)
			return -EHWPOISON;
		if (ret & (ZD_VM_FAULT_SIGBUS | ZD_VM_FAULT_SIGSEGV))
			return -EFAULT;
	}
	return 0;
}

static int page_advice(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end, int behavior)
{
	switch (behavior) {
	case ZD_MADV_DONTNEED:
	case ZD_MADV_DONTNEED_LOCKED:
		/* madvise_dontneed_free_valid_vma() */
		if ((vma->vm_flags & ZD_VM_PFNMAP) ||
		    (behavior == ZD_MADV_DONTNEED && (vma->vm_flags & ZD_VM_LOCKED)))
			return -EINVAL;
		zd_zap_page_range(vma, start, end);
		return 0;
	case ZD_MADV_FREE:
		if (vma->vm_file || (vma->vm_flags & (ZD_VM_SHARED | ZD_VM_LOCKED | ZD_VM_PFNMAP)))
			return -EINVAL;
		{
			struct zd_mmu_notifier_range r;   /* madvise_free_single_vma() */

			zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, vma->vm_mm, start, end);
			zd_walk_range(vma->vm_mm, start, end, lazyfree_one,
				      zd_madvise_free_huge_pmd, NULL);
			zd_mmu_notifier_invalidate_range_end(&r);
		}
		return 0;
	case ZD_MADV_POPULATE_READ:
	case ZD_MADV_POPULATE_WRITE:
		return populate(vma, start, end, behavior == ZD_MADV_POPULATE_WRITE);
	case ZD_MADV_COLLAPSE:
		return zd_madvise_collapse(vma, start, end);
	default:   /* WILLNEED: no swap to read ahead from */
		return 0;
	}
}

int zd_do_madvise(struct zd_mm *mm, uint64_t start, uint64_t len, int behavior)
{
	const uint64_t psize = mm->m->arch.page_size;
	uint64_t set = 0, clear = 0, end, at;
	bool pages = is_page_advice(behavior);
	int err = 0, hole = 0;

	if (!pages && !advice_flags(behavior, &set, &clear)) {
		/* the kernel's other advice (uapi mman-common.h) */
		static const int page_advice[] = { 9, 12, 13, 20, 21, 100, 101, 102, 103 };

		for (size_t i = 0; i < sizeof(page_advice) / sizeof(page_advice[0]); i++) {
			if (page_advice[i] != behavior)
				continue;
			zd_pr_warn(mm->m, "madvise: advice %d is not modelled (reclaim, KSM, "
				   "poison and guards are not)", behavior);
			return -EOPNOTSUPP;
		}
		return -EINVAL;
	}
	if (start & (psize - 1))
		return -EINVAL;
	len = (len + psize - 1) & ~(psize - 1);
	end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	zd_mmap_write_lock(mm);
	for (at = start; at < end && !err;) {
		struct zd_vm_area_struct *vma = zd_find_vma(mm, at);
		uint64_t stop, newflags;

		if (!vma || vma->vm_start >= end) {
			hole = -ENOMEM;
			break;
		}
		if (vma->vm_start > at) {
			hole = -ENOMEM;   /* noted; the VMAs after the hole still change */
			at = vma->vm_start;
		}
		stop = vma->vm_end < end ? vma->vm_end : end;
		if (pages) {
			err = page_advice(vma, at, stop, behavior);
			at = stop;
			continue;
		}
		err = advice_allowed(vma, behavior);
		newflags = (vma->vm_flags & ~clear) | set;
		if (!err && newflags != vma->vm_flags) {
			err = zd_vma_isolate_range(mm, at, stop, false);
			if (!err) {
				vma = zd_vma_lookup(mm, at);
				vma->vm_flags = newflags;
				zd_vma_merge_neighbours(mm, vma);
			}
		}
		at = stop;
	}
	zd_mmap_write_unlock(mm);
	return err ? err : hole;
}
