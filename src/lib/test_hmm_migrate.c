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

static unsigned pmd_order(const struct zd_machine *m)
{
	return m->arch.pt[ZD_PT_PMD].shift - m->arch.page_shift;
}

/* The source bytes of n pages from spage (a THP's are one run), or
 * zeroes for a hole or the zero page, into the device pages from dpage:
 * queued on the copy engine, *fence its fence. */
static int copy_to_dev(struct zd_dmirror_device *mdev, struct zd_page *dpage,
		       struct zd_page *spage, uint64_t n, uint64_t *fence)
{
	struct zd_machine *m = mdev->m;

	return dmirror_copy_async(mdev, dpage, spage ? zd_page_address(m, spage) : NULL,
				  (size_t)n << m->arch.page_shift, true, fence);
}

/* dmirror_migrate_alloc_and_copy(): a device page for each collected
 * entry, filled by the copy engine (zeroes for a hole or the zero page);
 * a compound entry gets a device THP, or, if none can be had, a page for
 * each of its slots (migrate_vma_pages then splits the source). dst comes
 * zeroed: an entry left 0 is not migrated. */
static void alloc_and_copy_to_dev(struct zd_dmirror_device *mdev, struct zd_migrate_vma *args)
{
	struct zd_machine *m = mdev->m;
	uint64_t nr = 1ULL << pmd_order(m), fence = 0;

	for (unsigned long i = 0; i < args->npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(m, args->src[i]), *dpage;
		unsigned long write = args->src[i] & ZD_MIGRATE_PFN_WRITE;
		bool large = args->src[i] & ZD_MIGRATE_PFN_COMPOUND;

		if (!(args->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		if (spage && zd_is_zone_device_page(spage)) {
			ZD_WARN(m, true, "%s: source page is already device memory",
				zd_dev_name(mdev->dev));
			continue;
		}
		dpage = dmirror_take_flag(mdev, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC) ? NULL :
			zd_dmirror_alloc_page(mdev, large && mdev->type == ZD_MEMORY_DEVICE_PRIVATE ?
						    pmd_order(m) : 0);
		if (dpage && zd_folio_order(m, dpage)) {
			if (copy_to_dev(mdev, dpage, spage, nr, &fence)) {
				zd_unlock_page(dpage);
				zd_put_page(m, dpage);
				continue;
			}
			args->dst[i] = zd_migrate_pfn_from_page(m, dpage) | write |
				       ZD_MIGRATE_PFN_COMPOUND;
			i += nr - 1;
			continue;
		}
		/* order-0 pages: one entry, or every slot of a compound one */
		for (uint64_t j = 0; j < (large ? nr : 1); j++) {
			if (j || (large && !dpage))
				dpage = zd_dmirror_alloc_page(mdev, 0);
			if (!dpage)
				break;
			if (copy_to_dev(mdev, dpage, spage ? spage + j : NULL, 1, &fence)) {
				zd_unlock_page(dpage);
				zd_put_page(m, dpage);
				break;
			}
			args->dst[i + j] = zd_migrate_pfn_from_page(m, dpage) | write;
		}
		if (large)
			i += nr - 1;
	}
	/* the DMA fence: every copy done before migrate_vma_pages */
	if (fence)
		dmirror_engine_wait(mdev, fence);
}

/* A locked system page, or THP for a compound entry (none: NULL). */
static struct zd_page *alloc_sys_folio(struct zd_dmirror_device *mdev, bool large)
{
	struct zd_page *page;

	if (!large)
		return alloc_sys_page(mdev);
	if (dmirror_take_flag(mdev, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC))
		return NULL;
	page = zd_alloc_pages(mdev->m, ZD_GFP_HIGHUSER_MOVABLE | ZD___GFP_NOWARN,
			      pmd_order(mdev->m));
	if (page)
		zd_lock_page(page);
	return page;
}

/* The copy back: a system page for each collected device page, a THP
 * for a device THP (or, if none can be had, a page for each of its
 * slots); dst comes zeroed. */
static unsigned long alloc_and_copy_to_sys(struct zd_dmirror_device *mdev, unsigned long *src,
					   unsigned long *dst, unsigned long npages, struct zd_mm *mm,
					   uint64_t start)
{
	struct zd_machine *m = mdev->m;
	unsigned long got = 0;
	uint64_t fence = 0;

	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(m, src[i]), *dpage;
		unsigned long write = src[i] & ZD_MIGRATE_PFN_WRITE;
		bool large = src[i] & ZD_MIGRATE_PFN_COMPOUND;
		uint64_t n = large ? 1ULL << zd_folio_order(m, spage) : 1;

		if (!spage || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		/* the pages leave the device: no mirror may read them there now
		 * (the device's own MMU_NOTIFY_MIGRATE passed them by) */
		if (mm)
			dmirror_forget(mdev, mm, start + (i << m->arch.page_shift), n);
		dpage = alloc_sys_folio(mdev, large);
		if (dpage && large) {
			if (dmirror_copy_async(mdev, spage, zd_page_address(m, dpage),
					       (size_t)n << m->arch.page_shift, false, &fence)) {
				zd_unlock_page(dpage);
				zd_put_page(m, dpage);
			} else {
				dst[i] = zd_migrate_pfn_from_page(m, dpage) | write |
					 ZD_MIGRATE_PFN_COMPOUND;
				got += n;
			}
			i += n - 1;
			continue;
		}
		for (uint64_t j = 0; j < n; j++) {
			if (j || (large && !dpage))
				dpage = alloc_sys_page(mdev);
			if (!dpage)
				break;
			if (dmirror_copy_async(mdev, spage + j, zd_page_address(m, dpage),
					       m->arch.page_size, false, &fence)) {
				zd_unlock_page(dpage);
				zd_put_page(m, dpage);
				break;
			}
			dst[i + j] = zd_migrate_pfn_from_page(m, dpage) | write;
			got++;
		}
		i += n - 1;
	}
	if (fence)
		dmirror_engine_wait(mdev, fence);
	return got;
}

/* migrate_to_ram: the faulting page (its folio locked by the core) comes
 * back; a fault through a PMD (vmf->pte NULL) brings its whole device
 * THP, one through a PTE only its page. */
int dmirror_devmem_fault(struct zd_vm_fault *vmf)
{
	struct zd_page *page = vmf->page, *folio = zd_compound_head(page);
	struct dmirror_chunk *c = dmirror_pgmap_chunk(folio->pgmap);
	struct zd_dmirror_device *mdev = c->mdev;
	struct zd_machine *m = mdev->m;
	unsigned order = vmf->pte ? 0 : zd_folio_order(m, folio);
	uint64_t size = m->arch.page_size << order, start = vmf->address & ~(size - 1);
	unsigned long src[MIGRATE_STEP], dst[MIGRATE_STEP];
	struct zd_migrate_vma args = {
		.vma = vmf->vma, .start = start, .end = start + size,
		.src = src, .dst = dst, .pgmap_owner = mdev, .fault_page = page,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE |
			 (order ? ZD_MIGRATE_VMA_SELECT_COMPOUND : 0),
	};

	memset(dst, 0, sizeof(dst));
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
		uint64_t n = args->dst[i] & ZD_MIGRATE_PFN_COMPOUND ?
			     1ULL << zd_folio_order(d->m, dpage) : 1;

		if (!(args->src[i] & ZD_MIGRATE_PFN_MIGRATE) || !dpage)
			continue;
		/* a device THP: an entry per page, as the device maps 4K */
		for (uint64_t j = 0; j < n; j++) {
			uintptr_t entry = (uintptr_t)(dpage + j);

			if (args->dst[i] & ZD_MIGRATE_PFN_WRITE)
				entry |= DPT_XA_TAG_WRITE;
			zd_xa_store(&d->pt, (args->start >> shift) + i + j, (void *)entry);
		}
	}
	pthread_mutex_unlock(&d->mutex);
}

/* Is the page at addr this device's now (the read-back of the device
 * table in lib/test_hmm.c)? *span: the bytes from addr the answer holds
 * for (the rest of a device THP's block, or a page). */
static bool page_is_ours(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr,
			 uint64_t *span)
{
	struct zd_machine *m = mdev->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *ptl, *page = NULL;
	bool ours = false;
	/* under the PTL: the entry's page cannot be unmapped and freed */
	uint64_t *pte = zd_pte_offset_map_lock(mm, addr, &ptl);
	zd_pte_t e;

	*span = m->arch.page_size;
	if (!pte) {   /* a device THP's PMD? */
		uint64_t pmd = 1ULL << m->arch.pt[ZD_PT_PMD].shift;

		*span = pmd - (addr & (pmd - 1));
		pte = zd_huge_slot_lookup(mm, addr, ZD_PT_PMD, &ptl);
		if (!pte)
			return false;
		zd_pt_lock(ptl);
		e = o->ptep_get(pte);
		ours = !o->pte_none(&m->arch, e) && !o->pte_present(&m->arch, e) &&
		       zd_softleaf_is_device_private(zd_softleaf_from_pte(m, e, &page)) && page &&
		       zd_page_pgmap(m, page)->owner == mdev;
		zd_pt_unlock(ptl);
		return ours;
	}
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
		args.flags = ZD_MIGRATE_VMA_SELECT_COMPOUND |
			     (to_dev ? ZD_MIGRATE_VMA_SELECT_SYSTEM :
			      mdev->type == ZD_MEMORY_DEVICE_COHERENT ?
			      ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT : ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE);
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
		if (to_dev && d) {
			map_into_mirror(d, &args);
		} else if (to_dev) {
			/* the device-level call: every mirror of mm on the device
			 * maps the new device pages (its own MMU_NOTIFY_MIGRATE
			 * left their entries, which name the old pages) */
			pthread_mutex_lock(&mdev->mirrors_lock);
			for (struct zd_dmirror *o = mdev->mirrors; o; o = o->next)
				if (o->mm == mm)
					map_into_mirror(o, &args);
			pthread_mutex_unlock(&mdev->mirrors_lock);
		}
		for (unsigned long i = 0; !to_dev && i < args.npages; i++)
			if ((src[i] & (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_MIGRATE)) ==
			    (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_MIGRATE))
				moved++;
		zd_migrate_vma_finalize(m, &args);
	}
	if (!rc && to_dev && !d) {
		for (uint64_t a = addr, span; a < end; a += span)
			if (!page_is_ours(mdev, mm, a, &span)) {
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
	uint64_t fence = 0;
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

			unsigned order = src[i] & ZD_MIGRATE_PFN_COMPOUND ? pmd_order(m) : 0;

			dst[i] = 0;
			if (!spage || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
				continue;
			/* __GFP_NOFAIL in the kernel: eviction cannot give up; a
			 * device THP comes back as a THP */
			while (!(dpage = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE, order)))
				sched_yield();
			zd_lock_page(dpage);
			dmirror_copy_async(mdev, spage, zd_page_address(m, dpage),
					   m->arch.page_size << order, false, &fence);
			dst[i] = zd_migrate_pfn_from_page(m, dpage) |
				 (order ? ZD_MIGRATE_PFN_COMPOUND : 0);
			evicted += 1L << order;
		}
		if (fence)
			dmirror_engine_wait(mdev, fence);   /* the copies, before the switch */
		zd_migrate_device_pages(m, src, dst, n);
		zd_migrate_device_finalize(m, src, dst, n);
	}
	free(src);
	free(dst);
	return evicted;
}
