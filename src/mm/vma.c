/*
 * The VMAs of an address space (mm/vma.c): a sorted array of
 * non-overlapping VMAs standing in for the kernel's maple tree, lookups by
 * binary search, and the two operations every VMA change is made of:
 * split one VMA at an address (__split_vma) and merge a VMA with
 * compatible neighbours (the vma_merge family).
 * Invariants: callers hold mmap_lock for writing to change the array, for
 * reading to look at it; vmas[0..map_count) are sorted by vm_start and
 * disjoint; a split gives the new VMA its own file reference and runs
 * vm_ops->open on it; a merge never joins VMAs whose owner has a close
 * hook (it could not tell which part went), nor files at offsets that do
 * not follow on.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/err.h>
#include <zonedev/log.h>

uint64_t zd_vma_pages(const struct zd_vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> vma->vm_mm->m->arch.page_shift;
}

/* ---------- lookups ---------- */

size_t zd_vma_index(struct zd_mm *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->map_count;

	/* the first VMA whose end is above addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mm->vmas[mid]->vm_end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct zd_vm_area_struct *zd_find_vma(struct zd_mm *mm, uint64_t addr)
{
	size_t i = zd_vma_index(mm, addr);

	return i < mm->map_count ? mm->vmas[i] : NULL;
}

struct zd_vm_area_struct *zd_vma_lookup(struct zd_mm *mm, uint64_t addr)
{
	struct zd_vm_area_struct *vma = zd_find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

/* ---------- the array ---------- */

static int vmas_reserve(struct zd_mm *mm, size_t more)
{
	struct zd_vm_area_struct **v;
	size_t cap;

	if (mm->map_count + more <= mm->vmas_cap)
		return 0;
	cap = mm->vmas_cap ? mm->vmas_cap * 2 : 16;
	while (cap < mm->map_count + more)
		cap *= 2;
	v = realloc(mm->vmas, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	mm->vmas = v;
	mm->vmas_cap = cap;
	return 0;
}

int zd_vma_link(struct zd_mm *mm, struct zd_vm_area_struct *vma)
{
	size_t i;

	if (vmas_reserve(mm, 1))
		return -ENOMEM;
	i = zd_vma_index(mm, vma->vm_start);
	memmove(&mm->vmas[i + 1], &mm->vmas[i], (mm->map_count - i) * sizeof(mm->vmas[0]));
	mm->vmas[i] = vma;
	mm->map_count++;
	return 0;
}

static void vma_unlink_at(struct zd_mm *mm, size_t i)
{
	memmove(&mm->vmas[i], &mm->vmas[i + 1], (mm->map_count - i - 1) * sizeof(mm->vmas[0]));
	mm->map_count--;
}

/* ---------- VMA objects ---------- */

struct zd_vm_area_struct *zd_vm_area_dup(const struct zd_vm_area_struct *orig)
{
	struct zd_vm_area_struct *vma = malloc(sizeof(*vma));

	if (!vma)
		return NULL;
	*vma = *orig;
	if (vma->vm_file)
		zd_get_file(vma->vm_file);
	if (vma->anon_vma)
		zd_get_anon_vma(vma->anon_vma);
	return vma;
}

void zd_vm_area_free(struct zd_vm_area_struct *vma)
{
	if (vma->vm_file)
		zd_fput(vma->vm_file);
	zd_put_anon_vma(vma->anon_vma);
	free(vma);
}

void zd_remove_vma(struct zd_vm_area_struct *vma)
{
	if (vma->vm_ops && vma->vm_ops->close)
		vma->vm_ops->close(vma);
	zd_vm_area_free(vma);
}

int zd_vma_detach(struct zd_mm *mm, struct zd_vm_area_struct *vma)
{
	size_t i = zd_vma_index(mm, vma->vm_start);

	if (ZD_WARN_ON(mm->m, i >= mm->map_count || mm->vmas[i] != vma))
		return -EINVAL;
	vma_unlink_at(mm, i);
	mm->total_vm -= zd_vma_pages(vma);
	return 0;
}

/* ---------- split ---------- */

int zd_split_vma(struct zd_mm *mm, struct zd_vm_area_struct *vma, uint64_t addr,
		 bool count_checked)
{
	struct zd_vm_area_struct *tail;
	int err;

	if (ZD_WARN_ON(mm->m, addr <= vma->vm_start || addr >= vma->vm_end ||
		       (addr & (mm->m->arch.page_size - 1))))
		return -EINVAL;
	if (vma->vm_ops && vma->vm_ops->may_split) {
		err = vma->vm_ops->may_split(vma, addr);
		if (err)
			return err;
	}
	if (!count_checked && mm->map_count >= mm->max_map_count)
		return -ENOMEM;
	if (vmas_reserve(mm, 1))
		return -ENOMEM;
	tail = zd_vm_area_dup(vma);
	if (!tail)
		return -ENOMEM;
	tail->vm_start = addr;
	tail->vm_pgoff += (addr - vma->vm_start) >> mm->m->arch.page_shift;
	vma->vm_end = addr;
	zd_vma_link(mm, tail);   /* cannot fail: reserved */
	if (tail->vm_ops && tail->vm_ops->open)
		tail->vm_ops->open(tail);
	return 0;
}

/* ---------- merge ---------- */

/* Would a VMA like a, followed at a's end by one like b, be one VMA? */
bool zd_vma_can_merge(const struct zd_vm_area_struct *a, const struct zd_vm_area_struct *b)
{
	/* soft-dirty is tracking state, not a property of the mapping */
	if ((a->vm_flags ^ b->vm_flags) & ~ZD_VM_SOFTDIRTY)
		return false;
	if (a->vm_end != b->vm_start || a->vm_file != b->vm_file || a->vm_ops != b->vm_ops ||
	    a->vm_private_data != b->vm_private_data)
		return false;
	if (a->vm_ops && a->vm_ops->close)
		return false;
	/* is_mergeable_anon_vma(): pages of two anon_vmas cannot share one */
	if (a->anon_vma && b->anon_vma && a->anon_vma != b->anon_vma)
		return false;
	return a->vm_pgoff + zd_vma_pages(a) == b->vm_pgoff;
}

/* The survivor of a merge keeps whichever anon_vma the pair had. */
static void merge_anon_vma(struct zd_vm_area_struct *keep, struct zd_vm_area_struct *gone)
{
	if (!keep->anon_vma && gone->anon_vma) {
		keep->anon_vma = gone->anon_vma;
		gone->anon_vma = NULL;
	}
}

struct zd_vm_area_struct *zd_vma_merge_neighbours(struct zd_mm *mm,
						  struct zd_vm_area_struct *vma)
{
	size_t i = zd_vma_index(mm, vma->vm_start);

	if (i + 1 < mm->map_count && zd_vma_can_merge(vma, mm->vmas[i + 1])) {
		struct zd_vm_area_struct *next = mm->vmas[i + 1];

		vma->vm_end = next->vm_end;
		vma->vm_flags |= next->vm_flags & ZD_VM_SOFTDIRTY;
		merge_anon_vma(vma, next);
		vma_unlink_at(mm, i + 1);
		zd_vm_area_free(next);
	}
	if (i > 0 && zd_vma_can_merge(mm->vmas[i - 1], vma)) {
		struct zd_vm_area_struct *prev = mm->vmas[i - 1];

		prev->vm_end = vma->vm_end;
		prev->vm_flags |= vma->vm_flags & ZD_VM_SOFTDIRTY;
		merge_anon_vma(prev, vma);
		vma_unlink_at(mm, i);
		zd_vm_area_free(vma);
		vma = prev;
	}
	return vma;
}

/* ---------- a range of VMAs ---------- */

int zd_vma_isolate_range(struct zd_mm *mm, uint64_t start, uint64_t end, bool unmapping)
{
	struct zd_vm_area_struct *first = zd_find_vma(mm, start), *last;
	bool both;
	int err;

	if (!first || first->vm_start >= end)
		return 0;
	last = zd_find_vma(mm, end - 1);
	both = first == last && first->vm_start < start && first->vm_end > end;
	/* munmap checks the limit once, before cutting a VMA at both ends (it
	 * then removes the middle); the other callers check each cut
	 * (split_vma()), and here before the first, so that a refusal changes
	 * nothing. */
	if (both && mm->map_count + (unmapping ? 0 : 1) >= mm->max_map_count)
		return -ENOMEM;
	if (first->vm_start < start) {
		err = zd_split_vma(mm, first, start, unmapping);
		if (err)
			return err;
	}
	last = zd_find_vma(mm, end - 1);
	if (last && last->vm_start < end && last->vm_end > end) {
		err = zd_split_vma(mm, last, end, unmapping);
		if (err) {
			/* undo the first cut where the owner allows it */
			zd_vma_merge_neighbours(mm, zd_find_vma(mm, start));
			return err;
		}
	}
	return 0;
}
