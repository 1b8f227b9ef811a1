/*
 * madvise(2) (mm/madvise.c), the advice that is a VMA property: the
 * access pattern (NORMAL, RANDOM, SEQUENTIAL), THP (HUGEPAGE,
 * NOHUGEPAGE), fork (DONTFORK, DOFORK, WIPEONFORK, KEEPONFORK) and core
 * dumps (DONTDUMP, DODUMP). Advice that acts on pages (DONTNEED, FREE,
 * COLLAPSE, POPULATE_*, ...) needs faulted pages and comes with faults
 * (issue 8 item 3); until then it is -EOPNOTSUPP with a log line saying so, and
 * an advice number the kernel does not know is -EINVAL.
 * Invariants: the kernel's checks come first (alignment -EINVAL, a hole in
 * the range -ENOMEM after the VMAs around it changed); VMAs split at the
 * range's ends and merge again when alike; VM_IO/VM_PFNMAP mappings refuse
 * DOFORK as the kernel's do.
 */
#include "internal.h"

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

int zd_do_madvise(struct zd_mm *mm, uint64_t start, uint64_t len, int behavior)
{
	const uint64_t psize = mm->m->arch.page_size;
	uint64_t set, clear, end, at;
	int err = 0, hole = 0;

	if (!advice_flags(behavior, &set, &clear)) {
		/* the kernel's other advice (uapi mman-common.h) */
		static const int page_advice[] = { 3, 4, 8, 9, 12, 13, 20, 21, 22, 23, 24, 25,
						   100, 101, 102, 103 };

		for (size_t i = 0; i < sizeof(page_advice) / sizeof(page_advice[0]); i++) {
			if (page_advice[i] != behavior)
				continue;
			zd_pr_warn(mm->m, "madvise: advice %d acts on pages, which needs page "
				   "faults (not modelled yet)", behavior);
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
