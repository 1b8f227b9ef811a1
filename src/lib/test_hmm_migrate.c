/*
 * dmirror's migrations (lib/test_hmm.c's MIGRATE_TO_DEV/_TO_SYS, its
 * migrate_to_ram handler and chunk eviction; spec hmm.md §4.4, §4.7): the
 * device-level calls of include/zonedev/test_hmm.h and the mirror's
 * ioctls share dmirror_migrate_range.
 * Invariants: every collected entry gets a locked destination or 0 before
 * migrate_vma_pages (nothing stale reaches finalize); a page leaving the
 * device leaves every mirror's table first; FAIL_ALLOC fails exactly one
 * allocation.
 */
#include <zonedev/device.h>
#include <zonedev/err.h>
#include <zonedev/gfp.h>
#include <zonedev/machine.h>
#include <zonedev/migrate.h>
#include <zonedev/mm.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>
#include <zonedev/test_hmm.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "base/align.h"
#include "test_hmm_internal.h"

/* ---------- migration (HMM_DMIRROR_MIGRATE_TO_DEV / _TO_SYS) ---------- */

#define MIGRATE_STEP 512   /* pages per migrate_vma call: PTRS_PER_PTE at 4K */

void zd_dmirror_set_flags(struct zd_dmirror_device *mdev, uint64_t flags)
{
	__atomic_store_n(&mdev->flags, flags, __ATOMIC_RELAXED);
}

/* One-shot flag: true (and cleared) if it was set. */
bool dmirror_take_flag(struct zd_dmirror_device *mdev, uint64_t flag)
{
	return __atomic_fetch_and(&mdev->flags, ~flag, __ATOMIC_RELAXED) & flag;
}

static struct zd_page *alloc_sys_page(struct zd_dmirror_device *mdev)
{
	struct zd_page *page;

	if (dmirror_take_flag(mdev, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC))
		return NULL;
	page = zd_alloc_pages(mdev->m, ZD_GFP_HIGHUSER_MOVABLE | ZD___GFP_NOWARN, 0);
	if (page)
		zd_lock_page(page);
	return page;
}

/* dmirror_migrate_alloc_and_copy(): a device page for each collected
 * entry, filled by the copy engine (zeroes for a hole or the zero page). */
static void alloc_and_copy_to_dev(struct zd_dmirror_device *mdev, struct zd_migrate_vma *args)
{
	struct zd_machine *m = mdev->m;

	for (unsigned long i = 0; i < args->npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(m, args->src[i]), *dpage;
		int rc;

		args->dst[i] = 0;
		if (!(args->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		if (spage && zd_is_zone_device_page(spage)) {
			ZD_WARN(m, true, "%s: source page is already device memory",
				zd_dev_name(mdev->dev));
			continue;
		}
		dpage = dmirror_take_flag(mdev, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC) ? NULL :
			zd_dmirror_alloc_page(mdev, 0);
		if (!dpage)
			continue;
		if (spage) {
			rc = zd_dmirror_copy_to_device(mdev, dpage, zd_page_address(m, spage),
						       m->arch.page_size);
		} else {
			static const char zero[1 << 16];
			rc = zd_dmirror_copy_to_device(mdev, dpage, zero, m->arch.page_size);
		}
		if (rc) {
			zd_unlock_page(dpage);
			zd_put_page(m, dpage);
			continue;
		}
		args->dst[i] = zd_migrate_pfn_from_page(m, dpage) |
			       (args->src[i] & ZD_MIGRATE_PFN_WRITE);
	}
}

/* The copy back: a system page for each collected device page. */
static unsigned long alloc_and_copy_to_sys(struct zd_dmirror_device *mdev, unsigned long *src,
					   unsigned long *dst, unsigned long npages, struct zd_mm *mm,
					   uint64_t start)
{
	struct zd_machine *m = mdev->m;
	unsigned long got = 0;

	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(m, src[i]), *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		/* the page leaves the device: no mirror may read it there now
		 * (the device's own MMU_NOTIFY_MIGRATE passed them by) */
		if (mm)
			dmirror_forget(mdev, mm, start + (i << m->arch.page_shift), 1);
		dpage = alloc_sys_page(mdev);
		if (!dpage)
			continue;
		if (zd_dmirror_copy_from_device(mdev, spage, zd_page_address(m, dpage),
						m->arch.page_size)) {
			zd_unlock_page(dpage);
			zd_put_page(m, dpage);
			continue;
		}
		dst[i] = zd_migrate_pfn_from_page(m, dpage) | (src[i] & ZD_MIGRATE_PFN_WRITE);
		got++;
	}
	return got;
}

/* migrate_to_ram: the faulting page (locked by the core) comes back. */
int dmirror_devmem_fault(struct zd_vm_fault *vmf)
{
	struct zd_page *page = vmf->page;
	struct dmirror_chunk *c = dmirror_pgmap_chunk(zd_compound_head(page)->pgmap);
	struct zd_dmirror_device *mdev = c->mdev;
	struct zd_machine *m = mdev->m;
	unsigned long src = 0, dst = 0;
	struct zd_migrate_vma args = {
		.vma = vmf->vma, .start = vmf->address, .end = vmf->address + m->arch.page_size,
		.src = &src, .dst = &dst, .pgmap_owner = mdev,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, .fault_page = page,
	};

	__atomic_add_fetch(&mdev->migrate_to_ram, 1, __ATOMIC_RELAXED);
	if (dmirror_take_flag(mdev, ZD_DMIRROR_FLAG_FAIL_FAULT) || zd_migrate_vma_setup(m, &args)) {
		__atomic_add_fetch(&mdev->migrate_to_ram_failed, 1, __ATOMIC_RELAXED);
		zd_pr_err(m, "%s: migrate_to_ram at 0x%llx failed: SIGBUS", zd_dev_name(mdev->dev),
			  (unsigned long long)vmf->address);
		return ZD_VM_FAULT_SIGBUS;
	}
	if (args.cpages && !alloc_and_copy_to_sys(mdev, args.src, args.dst, args.npages,
						 vmf->vma->vm_mm, args.start)) {
		zd_migrate_vma_finalize(m, &args);
		return ZD_VM_FAULT_OOM;
	}
	zd_migrate_vma_pages(m, &args);
	zd_migrate_vma_finalize(m, &args);
	return 0;
}

static int check_range(struct zd_dmirror_device *mdev, uint64_t addr, uint64_t npages)
{
	struct zd_machine *m = mdev->m;

	if ((addr & (m->arch.page_size - 1)) || !npages ||
	    npages > (UINT64_MAX - addr) >> m->arch.page_shift) {
		zd_pr_err(m, "%s: migrate: bad range 0x%llx + %llu pages", zd_dev_name(mdev->dev),
			  ULL(addr), ULL(npages));
		return -EINVAL;
	}
	return 0;
}

/* dmirror_migrate_finalize_and_map(): what reached the device goes into
 * the mirror's table, writable as dst says. */
static void map_into_mirror(struct zd_dmirror *d, const struct zd_migrate_vma *args)
{
	uint64_t shift = d->m->arch.page_shift;

	pthread_mutex_lock(&d->mutex);
	for (unsigned long i = 0; i < args->npages; i++) {
		struct zd_page *dpage = zd_migrate_pfn_to_page(d->m, args->dst[i]);
		uintptr_t entry = (uintptr_t)dpage;

		if (!(args->src[i] & ZD_MIGRATE_PFN_MIGRATE) || !dpage)
			continue;
		if (args->dst[i] & ZD_MIGRATE_PFN_WRITE)
			entry |= DPT_XA_TAG_WRITE;
		zd_xa_store(&d->pt, (args->start >> shift) + i, (void *)entry);
	}
	pthread_mutex_unlock(&d->mutex);
}

/* Is the page at addr this device's now (the read-back of the device
 * table in lib/test_hmm.c)? */
static bool page_is_ours(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr)
{
	struct zd_machine *m = mdev->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *ptl, *page = NULL;
	bool ours = false;
	/* under the PTL: the entry's page cannot be unmapped and freed */
	uint64_t *pte = zd_pte_offset_map_lock(mm, addr, &ptl);
	zd_pte_t e;

	if (!pte)
		return false;
	e = o->ptep_get(pte);
	if (o->pte_present(&m->arch, e)) {
		uint64_t pfn = o->leaf_pfn(&m->arch, ZD_PT_PTE, e);

		page = pfn != m->zero_pfn ? zd_pfn_to_page(m, pfn) : NULL;
		ours = page && zd_is_zone_device_page(page) && zd_is_device_coherent_page(m, page) &&
		       zd_page_pgmap(m, page)->owner == mdev;
	} else if (!o->pte_none(&m->arch, e)) {
		ours = zd_softleaf_is_device_private(zd_softleaf_from_pte(m, e, &page)) && page &&
		       zd_page_pgmap(m, page)->owner == mdev;
	}
	zd_pt_unlock(ptl);
	return ours;
}

int dmirror_migrate_range(struct zd_dmirror_device *mdev, struct zd_dmirror *d, struct zd_mm *mm,
			  uint64_t addr, uint64_t npages, uint64_t *cpages, bool to_dev)
{
	struct zd_machine *m = mdev->m;
	uint64_t end = addr + (npages << m->arch.page_shift), next, moved = 0;
	unsigned long src[MIGRATE_STEP], dst[MIGRATE_STEP];
	int rc = check_range(mdev, addr, npages);

	if (rc)
		return rc;
	zd_mmap_read_lock(mm);
	for (uint64_t a = addr; a < end; a = next) {
		struct zd_vm_area_struct *vma = zd_vma_lookup(mm, a);
		struct zd_migrate_vma args = { .src = src, .dst = dst, .pgmap_owner = mdev };

		if (!vma || !(vma->vm_flags & ZD_VM_READ)) {
			zd_pr_err(m, "%s: migrate: 0x%llx is %s: -EINVAL", zd_dev_name(mdev->dev),
				  ULL(a), vma ? "not readable" : "not mapped");
			rc = -EINVAL;
			break;
		}
		next = a + ((uint64_t)MIGRATE_STEP << m->arch.page_shift);
		if (next > vma->vm_end)
			next = vma->vm_end;
		if (next > end)
			next = end;
		args.vma = vma;
		args.start = a;
		args.end = next;
		args.flags = to_dev ? ZD_MIGRATE_VMA_SELECT_SYSTEM :
			     mdev->type == ZD_MEMORY_DEVICE_COHERENT ?
			     ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT : ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
		rc = zd_migrate_vma_setup(m, &args);
		if (rc)
			break;
		/* dst is the driver's to fill: nothing stale may reach finalize */
		memset(dst, 0, sizeof(dst));
		if (to_dev)
			alloc_and_copy_to_dev(mdev, &args);
		else if (args.cpages && !alloc_and_copy_to_sys(mdev, src, dst, args.npages, mm, a)) {
			zd_migrate_vma_finalize(m, &args);
			zd_pr_err(m, "%s: migrate to system: no system page: -ENOMEM",
				  zd_dev_name(mdev->dev));
			rc = -ENOMEM;
			break;
		}
		zd_migrate_vma_pages(m, &args);
		if (to_dev && d)
			map_into_mirror(d, &args);
		for (unsigned long i = 0; !to_dev && i < args.npages; i++)
			if ((src[i] & (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_MIGRATE)) ==
			    (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_MIGRATE))
				moved++;
		zd_migrate_vma_finalize(m, &args);
	}
	if (!rc && to_dev && !d) {
		for (uint64_t a = addr; a < end; a += m->arch.page_size)
			if (!page_is_ours(mdev, mm, a)) {
				zd_pr_info(m, "%s: migrate to device: 0x%llx is not on the device: "
					   "-ENOENT", zd_dev_name(mdev->dev), ULL(a));
				rc = -ENOENT;
				break;
			}
		moved = npages;
	}
	zd_mmap_read_unlock(mm);
	if (!rc)
		*cpages = moved;
	return rc;
}

int zd_dmirror_migrate_to_dev(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr,
			      uint64_t npages, uint64_t *cpages)
{
	return dmirror_migrate_range(mdev, NULL, mm, addr, npages, cpages, true);
}

int zd_dmirror_migrate_to_sys(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr,
			      uint64_t npages, uint64_t *cpages)
{
	return dmirror_migrate_range(mdev, NULL, mm, addr, npages, cpages, false);
}

/* dmirror_device_evict_chunk() for every chunk: each page in use comes
 * back to system memory wherever (and in however many processes) it is
 * mapped; the chunks stay registered. Returns the pages evicted. */
long zd_dmirror_evict(struct zd_dmirror_device *mdev)
{
	struct zd_machine *m = mdev->m;
	uint64_t n = (mdev->type == ZD_MEMORY_DEVICE_COHERENT ? mdev->vram_size :
		      ZD_DEVMEM_CHUNK_SIZE) >> m->arch.page_shift;
	unsigned long *src, *dst;
	long evicted = 0;

	src = calloc(n, sizeof(*src));
	dst = calloc(n, sizeof(*dst));
	if (!src || !dst) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	for (unsigned ci = 0;; ci++) {
		struct zd_dev_pagemap *pg = zd_dmirror_chunk_pgmap(mdev, ci);

		if (!pg)
			break;
		if (mdev->type == ZD_MEMORY_DEVICE_COHERENT) {
			/* by mpfn: under dpa, _range's numbers are device-private
			 * offsets, and coherent memory has pfns */
			uint64_t pfn = pg->range.start >> m->arch.page_shift;

			for (uint64_t i = 0; i < n; i++)
				src[i] = zd_migrate_pfn_from_page(m, zd_pfn_to_page(m, pfn + i));
			zd_migrate_device_pfns(m, src, n);
		} else {
			zd_migrate_device_range(m, src, pg->range.start >> m->arch.page_shift, n);
		}
		for (uint64_t i = 0; i < n; i++) {
			struct zd_page *spage = zd_migrate_pfn_to_page(m, src[i]), *dpage;

			dst[i] = 0;
			if (!spage || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
				continue;
			/* __GFP_NOFAIL in the kernel: eviction cannot give up */
			while (!(dpage = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE, 0)))
				sched_yield();
			zd_lock_page(dpage);
			zd_dmirror_copy_from_device(mdev, spage, zd_page_address(m, dpage),
						    m->arch.page_size);
			dst[i] = zd_migrate_pfn_from_page(m, dpage);
			evicted++;
		}
		zd_migrate_device_pages(m, src, dst, n);
		zd_migrate_device_finalize(m, src, dst, n);
	}
	free(src);
	free(dst);
	return evicted;
}
