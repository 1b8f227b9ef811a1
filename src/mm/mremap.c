/*
 * mremap(2) (mm/mremap.c): shrink a mapping in place, grow it in place
 * when the space after it is free, or move it (MREMAP_MAYMOVE) to a new
 * or given (MREMAP_FIXED) address, optionally keeping the old range
 * mapped (MREMAP_DONTUNMAP). A shared mapping's old_len 0 maps the same
 * object again.
 * Invariants: the argument checks are the kernel's and come in its order;
 * the old range lies in one VMA (-EFAULT otherwise); a move copies the VMA
 * (offset kept, so a moved anonymous VMA does not merge with one mapped
 * later) before it unmaps the old range, and every refusal is found before
 * the first change; the old range's entries move with it, unchanged
 * (move_page_tables), before the old range is unmapped.
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>

#include <errno.h>
#include <stdlib.h>

#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>

/* The space after vma up to end is free and inside user space. */
static bool vma_expandable(struct zd_mm *mm, struct zd_vm_area_struct *vma, uint64_t end)
{
	size_t i = zd_vma_index(mm, vma->vm_start);

	if (end > mm->task_size)
		return false;
	return i + 1 >= mm->map_count || mm->vmas[i + 1]->vm_start >= end;
}

struct move_arg {
	uint64_t old_addr, new_addr;
	zd_pte_t *entries;
	uint64_t *addrs;
	size_t nr, max;
};

static int take_one(struct zd_mm *mm, uint64_t *pte, uint64_t addr, void *arg)
{
	struct move_arg *mv = arg;

	if (mv->nr == mv->max) {
		size_t max = mv->max ? 2 * mv->max : 512;
		zd_pte_t *e = realloc(mv->entries, max * sizeof(*e));
		uint64_t *a = e ? realloc(mv->addrs, max * sizeof(*a)) : NULL;

		if (e)
			mv->entries = e;
		if (!a)
			return 1;   /* what is taken so far still moves */
		mv->addrs = a;
		mv->max = max;
	}
	mv->entries[mv->nr] = mm->m->arch.pgtable->ptep_get_and_clear(pte);
	mv->addrs[mv->nr++] = addr;
	return 0;
}

/* move_ptes(): the entries of [old_addr, +len) go, unchanged, to the same
 * offsets from new_addr (the pages keep their index: the moved VMA keeps
 * its pgoff). mmap_lock is held for writing, so nothing faults between
 * the take and the put. */
int zd_move_page_tables(struct zd_vm_area_struct *vma, uint64_t old_addr,
			struct zd_vm_area_struct *new_vma, uint64_t new_addr, uint64_t len)
{
	struct zd_mm *mm = vma->vm_mm;
	struct move_arg mv = { .old_addr = old_addr, .new_addr = new_addr };
	struct zd_mmu_notifier_range r;
	int err = 0;

	/* move_page_tables(): MMU_NOTIFY_UNMAP of the old range */
	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_UNMAP, mm, old_addr, old_addr + len);
	/* huge (DAX) leaves are not moved but dropped: the file maps them
	 * again at the new place on the next fault (split_huge_pmd of DAX) */
	zd_zap_huge_leaves(vma, old_addr, old_addr + len);
	/* a THP moves whole where both places are PMD-aligned alike */
	uint64_t pmd = 1ULL << mm->m->arch.pt[ZD_PT_PMD].shift;
	if (!((new_addr - old_addr) & (pmd - 1)))
		for (uint64_t h = (old_addr + pmd - 1) & ~(pmd - 1); h + pmd <= old_addr + len &&
		     h >= old_addr; h += pmd)
			zd_move_huge_pmd(mm, h, h - old_addr + new_addr);
	for (uint64_t done = 0; done < len && !err; ) {
		mv.nr = 0;
		/* a table at a time is enough to keep memory bounded */
		uint64_t step = 1ULL << mm->m->arch.pt[ZD_PT_PMD].shift, end = old_addr + len;
		uint64_t at = old_addr + done, stop = (at & ~(step - 1)) + step;

		if (stop > end)
			stop = end;
		if (zd_walk_pte_range(mm, at, stop, take_one, &mv))
			err = -ENOMEM;
		for (size_t i = 0; i < mv.nr; i++) {
			struct zd_page *ptl;
			uint64_t *p = zd_pte_alloc_map_lock(mm, mv.addrs[i] - old_addr + new_addr, &ptl);

			if (!p) {
				/* no table for the new place: put it back */
				p = zd_pte_offset_map_lock(mm, mv.addrs[i], &ptl);
				err = -ENOMEM;
			}
			mm->m->arch.pgtable->set_pte(p, mv.entries[i]);
			zd_pt_unlock(ptl);
		}
		done = stop - old_addr;
	}
	zd_mmu_notifier_invalidate_range_end(&r);
	free(mv.entries);
	free(mv.addrs);
	return err;
}

/* A copy of [addr, addr+old_len) of vma at new_addr, new_len long. */
static int64_t move_vma(struct zd_mm *mm, struct zd_vm_area_struct *vma, uint64_t addr,
			uint64_t old_len, uint64_t new_addr, uint64_t new_len, unsigned long flags)
{
	const unsigned shift = mm->m->arch.page_shift;
	struct zd_vm_area_struct *copy;
	int err;

	/* refusals of the cuts the unmap will make, before anything changes */
	if (!(flags & ZD_MREMAP_DONTUNMAP) && vma->vm_ops && vma->vm_ops->may_split) {
		if (addr > vma->vm_start && (err = vma->vm_ops->may_split(vma, addr)))
			return err;
		if (addr + old_len < vma->vm_end &&
		    (err = vma->vm_ops->may_split(vma, addr + old_len)))
			return err;
	}
	/* move_vma(): room for the unmap to cut one VMA into three */
	if (mm->map_count + 3 >= mm->max_map_count)
		return -ENOMEM;
	copy = zd_vm_area_dup(vma);
	if (!copy)
		return -ENOMEM;
	copy->vm_pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> shift);
	copy->vm_start = new_addr;
	copy->vm_end = new_addr + new_len;
	if (zd_vma_link(mm, copy)) {
		zd_vm_area_free(copy);
		return -ENOMEM;
	}
	mm->total_vm += new_len >> shift;
	if (copy->vm_ops && copy->vm_ops->open)
		copy->vm_ops->open(copy);
	err = zd_move_page_tables(vma, addr, copy, new_addr, old_len);
	if (err) {
		/* move_vma(): what moved goes back, the copy goes */
		zd_move_page_tables(copy, new_addr, vma, addr, old_len);
		zd_vma_detach(mm, copy);
		zd_remove_vma(copy);
		return err;
	}
	zd_vma_merge_neighbours(mm, copy);
	if (flags & ZD_MREMAP_DONTUNMAP) {
		/* the old range stays mapped, emptied; it no longer counts as committed */
		vma->vm_flags &= ~ZD_VM_ACCOUNT;
		return (int64_t)new_addr;
	}
	err = zd_do_munmap(mm, addr, addr + old_len);
	return err ? err : (int64_t)new_addr;
}

/* vma_to_resize(): the refusals that depend on the VMA of the old range. */
static int vma_to_resize(struct zd_mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len,
			 unsigned long flags, struct zd_vm_area_struct **out)
{
	struct zd_vm_area_struct *vma = zd_vma_lookup(mm, addr);

	if (!vma)
		return -EFAULT;
	if (!old_len && !(vma->vm_flags & (ZD_VM_SHARED | ZD_VM_MAYSHARE)))
		return -EINVAL;   /* old_len 0 duplicates a shared object; private has none */
	if (old_len > vma->vm_end - addr)
		return -EFAULT;   /* the old range runs past its VMA */
	if ((flags & ZD_MREMAP_DONTUNMAP) && (vma->vm_flags & (ZD_VM_DONTEXPAND | ZD_VM_MIXEDMAP)))
		return -EINVAL;
	if (new_len > old_len && (vma->vm_flags & (ZD_VM_DONTEXPAND | ZD_VM_PFNMAP)))
		return -EFAULT;
	*out = vma;
	return 0;
}

static uint64_t old_pgoff(struct zd_mm *mm, struct zd_vm_area_struct *vma, uint64_t addr)
{
	return vma->vm_pgoff + ((addr - vma->vm_start) >> mm->m->arch.page_shift);
}

static unsigned long map_type(const struct zd_vm_area_struct *vma)
{
	return vma->vm_flags & ZD_VM_MAYSHARE ? ZD_MAP_SHARED : ZD_MAP_PRIVATE;
}

/* mremap_to(): MREMAP_FIXED or MREMAP_DONTUNMAP, always a move. */
static int64_t mremap_to(struct zd_mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len,
			 unsigned long flags, uint64_t new_addr)
{
	struct zd_vm_area_struct *vma;
	int64_t at;
	int err;

	if (flags & ZD_MREMAP_FIXED) {
		if (new_addr & (mm->m->arch.page_size - 1))
			return -EINVAL;
		if (new_len > mm->task_size || new_addr > mm->task_size - new_len)
			return -EINVAL;
		if (new_addr < addr + old_len && addr < new_addr + new_len)
			return -EINVAL;   /* the ranges overlap */
	}
	/* every refusal before the first unmap */
	err = vma_to_resize(mm, addr, old_len < new_len ? old_len : new_len, new_len, flags, &vma);
	if (err)
		return err;
	if (flags & ZD_MREMAP_FIXED) {
		err = zd_do_munmap(mm, new_addr, new_addr + new_len);
		if (err)
			return err;
	}
	if (old_len > new_len) {
		err = zd_do_munmap(mm, addr + new_len, addr + old_len);
		if (err)
			return err;
		old_len = new_len;
	}
	vma = zd_vma_lookup(mm, addr);
	if (!vma)
		return -EFAULT;
	if (flags & ZD_MREMAP_FIXED) {
		at = (int64_t)new_addr;
	} else {
		at = zd_get_unmapped_area(mm, vma->vm_file, 0, new_len, old_pgoff(mm, vma, addr),
					  map_type(vma));
		if (at < 0)
			return at;
	}
	return move_vma(mm, vma, addr, old_len, (uint64_t)at, new_len, flags);
}

static int64_t mremap_locked(struct zd_mm *mm, uint64_t addr, uint64_t old_len,
			     uint64_t new_len, unsigned long flags, uint64_t new_addr)
{
	struct zd_vm_area_struct *vma = zd_vma_lookup(mm, addr);
	int64_t at;
	int err;

	if (!vma)
		return -EFAULT;
	if (flags & (ZD_MREMAP_FIXED | ZD_MREMAP_DONTUNMAP))
		return mremap_to(mm, addr, old_len, new_len, flags, new_addr);
	if (old_len && old_len >= new_len) {
		/* shrinking: the tail goes (whatever VMAs it spans), the mapping stays */
		if (old_len > new_len) {
			err = zd_do_munmap(mm, addr + new_len, addr + old_len);
			if (err)
				return err;
		}
		return (int64_t)addr;
	}
	err = vma_to_resize(mm, addr, old_len, new_len, flags, &vma);
	if (err)
		return err;
	if (old_len && vma->vm_end == addr + old_len && vma_expandable(mm, vma, addr + new_len)) {
		mm->total_vm += (new_len - old_len) >> mm->m->arch.page_shift;
		vma->vm_end = addr + new_len;
		zd_vma_merge_neighbours(mm, vma);
		return (int64_t)addr;
	}
	if (!(flags & ZD_MREMAP_MAYMOVE))
		return -ENOMEM;
	at = zd_get_unmapped_area(mm, vma->vm_file, 0, new_len, old_pgoff(mm, vma, addr),
				  map_type(vma));
	if (at < 0)
		return at;
	return move_vma(mm, vma, addr, old_len, (uint64_t)at, new_len, flags);
}

int64_t zd_do_mremap(struct zd_mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len,
		     unsigned long flags, uint64_t new_addr)
{
	const uint64_t psize = mm->m->arch.page_size;
	int64_t ret;

	if (flags & ~(unsigned long)(ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED | ZD_MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((flags & ZD_MREMAP_FIXED) && !(flags & ZD_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((flags & ZD_MREMAP_DONTUNMAP) &&
	    (!(flags & ZD_MREMAP_MAYMOVE) || old_len != new_len))
		return -EINVAL;
	if (addr & (psize - 1))
		return -EINVAL;
	old_len = (old_len + psize - 1) & ~(psize - 1);
	new_len = (new_len + psize - 1) & ~(psize - 1);
	if (!new_len)
		return -EINVAL;
	zd_mmap_write_lock(mm);
	ret = mremap_locked(mm, addr, old_len, new_len, flags, new_addr);
	zd_mmap_write_unlock(mm);
	return ret;
}
