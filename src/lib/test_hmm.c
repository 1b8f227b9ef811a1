/*
 * The dmirror-style GPU test device (see include/zonedev/test_hmm.h).
 * VRAM contents live in a memfd sized to the VRAM; chunk i owns bytes
 * [i * CHUNK, (i+1) * CHUNK). Free device pages sit on a list threaded
 * through their zone_device_data word. Two locks, as lib/test_hmm.c has:
 * devmem_lock (outer) serialises chunk allocation from choosing the chunk's
 * VRAM slot to publishing it, so racing adds can never alias VRAM; lock
 * (inner) protects the chunk array, the free list and the counters and is
 * what folio_free takes, so it is never held across memremap.
 */
#include <zonedev/device.h>
#include <zonedev/err.h>
#include <zonedev/machine.h>
#include <zonedev/test_hmm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "base/align.h"
#include <zonedev/gfp.h>
#include <zonedev/migrate.h>
#include <zonedev/mm.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>


struct dmirror_chunk {
	struct zd_dev_pagemap pagemap;
	struct zd_resource *res;       /* pfn design only */
	struct zd_dmirror_device *mdev;
	uint64_t vram_offset;
};

struct zd_dmirror_device {
	struct zd_device *dev;
	struct zd_machine *m;
	enum zd_memory_type type;
	uint64_t vram_size;
	phys_addr_t coherent_start;
	int vram_fd;
	char *vram;                    /* the copy engine's view of VRAM */
	pthread_mutex_t devmem_lock;   /* chunk allocation, outer */
	pthread_mutex_t lock;          /* chunks, free list, counters */
	struct dmirror_chunk **chunks;
	unsigned nr_chunks, max_chunks;
	struct zd_page *free_pages;    /* linked through zone_device_data */
	uint64_t calloc, cfree;
	uint64_t flags;                /* HMM_DMIRROR_FLAGS (atomic) */
	uint64_t migrate_to_ram, migrate_to_ram_failed;   /* atomic */
};

static struct dmirror_chunk *pgmap_chunk(struct zd_dev_pagemap *pgmap)
{
	return (struct dmirror_chunk *)((char *)pgmap - offsetof(struct dmirror_chunk, pagemap));
}

/* Index of a page inside its chunk: by pfn, or by array slot under dpa. */
static uint64_t chunk_page_index(struct zd_machine *m, struct dmirror_chunk *c,
				 struct zd_page *page)
{
	if (c->pagemap.pages)
		return (uint64_t)(page - c->pagemap.pages);
	return zd_page_to_pfn(m, page) - zd_phys_pfn(&m->arch, c->pagemap.range.start);
}

static void dmirror_devmem_free(struct zd_page *folio)
{
	struct dmirror_chunk *c = pgmap_chunk(folio->pgmap);
	struct zd_dmirror_device *mdev = c->mdev;
	unsigned order = zd_folio_order(mdev->m, folio);

	pthread_mutex_lock(&mdev->lock);
	/* Back on the free list page by page; a folio is split up again. */
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		struct zd_page *p = folio + i;
		/* pgmap shares its word with compound_head, which a fault
		 * waiting on this page's lock may be reading */
		__atomic_store_n(&p->pgmap, folio->pgmap, __ATOMIC_RELAXED);
		__atomic_and_fetch(&p->flags, ~((1UL << ZD_PG_head) | (1UL << ZD_PG_locked) | 0xffUL),
				   __ATOMIC_RELAXED);
		p->zone_device_data = mdev->free_pages;
		mdev->free_pages = p;
	}
	mdev->cfree += 1ULL << order;
	pthread_mutex_unlock(&mdev->lock);
}

static int dmirror_devmem_fault(struct zd_vm_fault *vmf);

static const struct zd_dev_pagemap_ops dmirror_devmem_ops = {
	.folio_free = dmirror_devmem_free,
	.migrate_to_ram = dmirror_devmem_fault,
};

static void chunk_release(void *data)
{
	struct dmirror_chunk *c = data;
	struct zd_machine *m = c->mdev->m;

	if (c->pagemap.pages) {
		zd_memunmap_device_private_pagemap(&c->pagemap);
	} else {
		zd_memunmap_pages(&c->pagemap);
		if (c->res)
			zd_release_mem_region(m, c->res->start, zd_resource_size(c->res));
	}
	free(c);
}

static int map_chunk(struct zd_dmirror_device *mdev, struct dmirror_chunk *c)
{
	struct zd_machine *m = mdev->m;
	struct zd_dev_pagemap *pg = &c->pagemap;
	void *ret;

	zd_dev_pagemap_init(pg);
	pg->type = mdev->type;
	pg->ops = &dmirror_devmem_ops;
	pg->owner = mdev;
	pg->backing_fd = mdev->vram_fd;
	pg->backing_offset = c->vram_offset;
	if (mdev->type == ZD_MEMORY_DEVICE_COHERENT) {
		pg->range.start = mdev->coherent_start;
		pg->range.end = mdev->coherent_start + mdev->vram_size - 1;
		pg->nr_range = 1;
		ret = zd_memremap_pages(m, pg, zd_dev_to_node(mdev->dev));
		return ZD_IS_ERR(ret) ? (int)ZD_PTR_ERR(ret) : 0;
	}
	if (m->device_private == ZD_DEVICE_PRIVATE_DPA) {
		pg->nr_pages = ZD_DEVMEM_CHUNK_SIZE >> m->arch.page_shift;
		long long off = zd_memremap_device_private_pagemap(m, pg, zd_dev_to_node(mdev->dev));
		return off < 0 ? (int)off : 0;
	}
	c->res = zd_request_free_mem_region(m, NULL, ZD_DEVMEM_CHUNK_SIZE, zd_dev_name(mdev->dev));
	if (ZD_IS_ERR(c->res)) {
		int rc = (int)ZD_PTR_ERR(c->res);
		c->res = NULL;
		zd_pr_err(m, "%s: cannot find physical address space for a %llu MiB device-private "
			  "chunk (%s)", zd_dev_name(mdev->dev), ULL(ZD_DEVMEM_CHUNK_SIZE >> 20),
			  zd_errno_name(rc));
		return rc;
	}
	pg->range.start = c->res->start;
	pg->range.end = c->res->end;
	pg->nr_range = 1;
	ret = zd_memremap_pages(m, pg, zd_dev_to_node(mdev->dev));
	if (ZD_IS_ERR(ret)) {
		zd_release_mem_region(m, c->res->start, zd_resource_size(c->res));
		c->res = NULL;
		return (int)ZD_PTR_ERR(ret);
	}
	return 0;
}

int zd_dmirror_add_chunk(struct zd_dmirror_device *mdev)
{
	uint64_t chunk_size = mdev->type == ZD_MEMORY_DEVICE_COHERENT ? mdev->vram_size
								    : ZD_DEVMEM_CHUNK_SIZE;
	struct dmirror_chunk *c;
	unsigned idx;
	int rc;

	pthread_mutex_lock(&mdev->devmem_lock);
	pthread_mutex_lock(&mdev->lock);
	idx = mdev->nr_chunks;
	pthread_mutex_unlock(&mdev->lock);
	if ((uint64_t)idx * chunk_size >= mdev->vram_size) {
		pthread_mutex_unlock(&mdev->devmem_lock);
		zd_pr_err(mdev->m, "%s: all %llu MiB of device memory are registered",
			  zd_dev_name(mdev->dev), ULL(mdev->vram_size >> 20));
		return -ENOSPC;
	}

	c = calloc(1, sizeof(*c));
	rc = c ? 0 : -ENOMEM;
	if (c) {
		c->mdev = mdev;
		c->vram_offset = (uint64_t)idx * chunk_size;
		rc = map_chunk(mdev, c);
	}
	if (!rc)
		rc = zd_devm_add_action_or_reset(mdev->dev, chunk_release, c);
	else
		free(c);
	pthread_mutex_lock(&mdev->lock);
	if (!rc) {
		mdev->chunks[idx] = c;
		mdev->nr_chunks = idx + 1;
		/* Every page of the new chunk goes on the free list, lowest first. */
		uint64_t n = chunk_size >> mdev->m->arch.page_shift;
		for (uint64_t i = n; i-- > 0; ) {
			struct zd_page *p = c->pagemap.pages ? c->pagemap.pages + i :
				zd_pfn_to_page(mdev->m, zd_phys_pfn(&mdev->m->arch,
								    c->pagemap.range.start) + i);
			p->zone_device_data = mdev->free_pages;
			mdev->free_pages = p;
		}
	}
	pthread_mutex_unlock(&mdev->lock);
	pthread_mutex_unlock(&mdev->devmem_lock);
	return rc;
}

struct zd_page *zd_dmirror_alloc_page(struct zd_dmirror_device *mdev, unsigned order)
{
	struct zd_page *page;

	if (order) {
		zd_pr_err(mdev->m, "%s: large device folios are not supported yet",
			  zd_dev_name(mdev->dev));
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&mdev->lock);
		page = mdev->free_pages;
		if (page) {
			mdev->free_pages = page->zone_device_data;
			page->zone_device_data = NULL;
			mdev->calloc++;
		}
		pthread_mutex_unlock(&mdev->lock);
		if (page)
			break;
		if (zd_dmirror_add_chunk(mdev))
			return NULL;
	}
	zd_zone_device_page_init(page, zd_compound_head(page)->pgmap, 0);
	return page;
}

static char *page_vram(struct zd_dmirror_device *mdev, struct zd_page *dpage)
{
	struct zd_machine *m = mdev->m;
	struct zd_dev_pagemap *pgmap = zd_compound_head(dpage)->pgmap;
	struct dmirror_chunk *c;

	if (!zd_is_zone_device_page(dpage) || !pgmap || pgmap->owner != mdev)
		return NULL;
	c = pgmap_chunk(pgmap);
	return mdev->vram + c->vram_offset + (chunk_page_index(m, c, dpage) << m->arch.page_shift);
}

int zd_dmirror_copy_to_device(struct zd_dmirror_device *mdev, struct zd_page *dpage,
			      const void *src, size_t len)
{
	char *dst = page_vram(mdev, dpage);

	if (!dst || len > mdev->m->arch.page_size)
		return -EINVAL;
	memcpy(dst, src, len);
	return 0;
}

int zd_dmirror_copy_from_device(struct zd_dmirror_device *mdev, struct zd_page *dpage, void *dst,
				size_t len)
{
	char *src = page_vram(mdev, dpage);

	if (!src || len > mdev->m->arch.page_size)
		return -EINVAL;
	memcpy(dst, src, len);
	return 0;
}

static void dmirror_free(void *data)
{
	struct zd_dmirror_device *mdev = data;

	if (mdev->vram)
		munmap(mdev->vram, mdev->vram_size);
	if (mdev->vram_fd >= 0)
		close(mdev->vram_fd);
	pthread_mutex_destroy(&mdev->lock);
	pthread_mutex_destroy(&mdev->devmem_lock);
	free(mdev->chunks);
	free(mdev);
}

/* The device's state lives as long as its binding: the first devres entry,
 * so it is released after every chunk (newest first). */
static int dmirror_probe(struct zd_device *dev)
{
	struct zd_dmirror_device *mdev = dev->platform_data;

	dev->driver_data = mdev;
	zd_pr_info(dev->machine, "%s: dmirror %s device with %llu MiB of memory", dev->name,
		   zd_memory_type_name(mdev->type), ULL(mdev->vram_size >> 20));
	return zd_devm_add_action(dev, dmirror_free, mdev);
}

static const struct zd_device_driver dmirror_driver = {
	.name = "hmm_dmirror",
	.probe = dmirror_probe,
};

struct zd_dmirror_device *zd_dmirror_create(struct zd_machine *m, const struct zd_dmirror_desc *d)
{
	struct zd_dmirror_device *mdev;
	struct zd_device *dev = NULL;
	bool coherent = d->coherent_size != 0;
	uint64_t size = coherent ? d->coherent_size : d->vram_size;
	int rc;

	if (!size || (!coherent && size % ZD_DEVMEM_CHUNK_SIZE) ||
	    (coherent && (d->coherent_start | size) & (ZD_SUBSECTION_SIZE - 1))) {
		zd_pr_err(m, "dmirror %s: memory size 0x%llx must be a non-zero multiple of %s",
			  d->name, ULL(size), coherent ? "2 MiB at a 2 MiB aligned start"
						      : "the 256 MiB chunk");
		return ZD_ERR_PTR(-EINVAL);
	}
	mdev = calloc(1, sizeof(*mdev));
	if (!mdev)
		return ZD_ERR_PTR(-ENOMEM);
	mdev->m = m;
	mdev->type = coherent ? ZD_MEMORY_DEVICE_COHERENT : ZD_MEMORY_DEVICE_PRIVATE;
	mdev->vram_size = size;
	mdev->coherent_start = d->coherent_start;
	mdev->max_chunks = coherent ? 1 : (unsigned)(size / ZD_DEVMEM_CHUNK_SIZE);
	mdev->chunks = calloc(mdev->max_chunks, sizeof(*mdev->chunks));
	pthread_mutex_init(&mdev->lock, NULL);
	pthread_mutex_init(&mdev->devmem_lock, NULL);
	mdev->vram_fd = memfd_create(d->name ? d->name : "vram", MFD_CLOEXEC);
	rc = !mdev->chunks || mdev->vram_fd < 0 || ftruncate(mdev->vram_fd, (off_t)size) ? -ENOMEM : 0;
	if (!rc) {
		mdev->vram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mdev->vram_fd, 0);
		if (mdev->vram == MAP_FAILED) {
			mdev->vram = NULL;
			rc = -ENOMEM;
		}
	}
	if (!rc) {
		dev = zd_device_register(m, d->name, d->node);
		rc = ZD_IS_ERR(dev) ? (int)ZD_PTR_ERR(dev) : 0;
	}
	if (rc) {
		dmirror_free(mdev);
		return ZD_ERR_PTR(rc);
	}
	mdev->dev = dev;
	dev->platform_data = mdev;
	rc = zd_device_bind(dev, &dmirror_driver);
	if (rc) {
		/* probe failed before taking ownership of mdev */
		zd_device_unregister(dev);
		dmirror_free(mdev);
		return ZD_ERR_PTR(rc);
	}
	return mdev;
}

void zd_dmirror_destroy(struct zd_dmirror_device *mdev)
{
	if (!ZD_IS_ERR_OR_NULL(mdev))
		zd_device_unregister(mdev->dev);   /* chunks, then the device state */
}

void zd_dmirror_get_stats(struct zd_dmirror_device *mdev, struct zd_dmirror_stats *st)
{
	pthread_mutex_lock(&mdev->lock);
	st->chunks = mdev->nr_chunks;
	st->calloc = mdev->calloc;
	st->cfree = mdev->cfree;
	st->migrate_to_ram = __atomic_load_n(&mdev->migrate_to_ram, __ATOMIC_RELAXED);
	st->migrate_to_ram_failed = __atomic_load_n(&mdev->migrate_to_ram_failed, __ATOMIC_RELAXED);
	st->registered_bytes = mdev->type == ZD_MEMORY_DEVICE_COHERENT ?
			       (mdev->nr_chunks ? mdev->vram_size : 0) :
			       mdev->nr_chunks * ZD_DEVMEM_CHUNK_SIZE;
	pthread_mutex_unlock(&mdev->lock);
}

struct zd_device *zd_dmirror_to_device(struct zd_dmirror_device *mdev)
{
	return mdev->dev;
}

struct zd_dmirror_device *zd_dmirror_find(struct zd_machine *m, const char *name)
{
	struct zd_device *dev = zd_device_find(m, name);

	return dev && dev->driver == &dmirror_driver ? dev->driver_data : NULL;
}

struct zd_dev_pagemap *zd_dmirror_chunk_pgmap(struct zd_dmirror_device *mdev, unsigned i)
{
	struct zd_dev_pagemap *pg = NULL;

	pthread_mutex_lock(&mdev->lock);
	if (i < mdev->nr_chunks && mdev->chunks[i])
		pg = &mdev->chunks[i]->pagemap;
	pthread_mutex_unlock(&mdev->lock);
	return pg;
}

/* ---------- migration (HMM_DMIRROR_MIGRATE_TO_DEV / _TO_SYS) ---------- */

#define MIGRATE_STEP 64   /* pages per migrate_vma call */

void zd_dmirror_set_flags(struct zd_dmirror_device *mdev, uint64_t flags)
{
	__atomic_store_n(&mdev->flags, flags, __ATOMIC_RELAXED);
}

/* One-shot flag: true (and cleared) if it was set. */
static bool take_flag(struct zd_dmirror_device *mdev, uint64_t flag)
{
	return __atomic_fetch_and(&mdev->flags, ~flag, __ATOMIC_RELAXED) & flag;
}

static struct zd_page *alloc_sys_page(struct zd_dmirror_device *mdev)
{
	struct zd_page *page;

	if (take_flag(mdev, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC))
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
		dpage = take_flag(mdev, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC) ? NULL :
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
					   unsigned long *dst, unsigned long npages)
{
	struct zd_machine *m = mdev->m;
	unsigned long got = 0;

	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *spage = zd_migrate_pfn_to_page(m, src[i]), *dpage;

		dst[i] = 0;
		if (!spage || !(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
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
static int dmirror_devmem_fault(struct zd_vm_fault *vmf)
{
	struct zd_page *page = vmf->page;
	struct dmirror_chunk *c = pgmap_chunk(zd_compound_head(page)->pgmap);
	struct zd_dmirror_device *mdev = c->mdev;
	struct zd_machine *m = mdev->m;
	unsigned long src = 0, dst = 0;
	struct zd_migrate_vma args = {
		.vma = vmf->vma, .start = vmf->address, .end = vmf->address + m->arch.page_size,
		.src = &src, .dst = &dst, .pgmap_owner = mdev,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE, .fault_page = page,
	};

	__atomic_add_fetch(&mdev->migrate_to_ram, 1, __ATOMIC_RELAXED);
	if (take_flag(mdev, ZD_DMIRROR_FLAG_FAIL_FAULT) || zd_migrate_vma_setup(m, &args)) {
		__atomic_add_fetch(&mdev->migrate_to_ram_failed, 1, __ATOMIC_RELAXED);
		zd_pr_err(m, "%s: migrate_to_ram at 0x%llx failed: SIGBUS", zd_dev_name(mdev->dev),
			  (unsigned long long)vmf->address);
		return ZD_VM_FAULT_SIGBUS;
	}
	if (args.cpages && !alloc_and_copy_to_sys(mdev, args.src, args.dst, args.npages)) {
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

static int migrate_range(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr,
			 uint64_t npages, uint64_t *cpages, bool to_dev)
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
		else if (args.cpages && !alloc_and_copy_to_sys(mdev, src, dst, args.npages)) {
			zd_migrate_vma_finalize(m, &args);
			zd_pr_err(m, "%s: migrate to system: no system page: -ENOMEM",
				  zd_dev_name(mdev->dev));
			rc = -ENOMEM;
			break;
		}
		zd_migrate_vma_pages(m, &args);
		for (unsigned long i = 0; !to_dev && i < args.npages; i++)
			if ((src[i] & (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_MIGRATE)) ==
			    (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_MIGRATE))
				moved++;
		zd_migrate_vma_finalize(m, &args);
	}
	if (!rc && to_dev) {
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
	return migrate_range(mdev, mm, addr, npages, cpages, true);
}

int zd_dmirror_migrate_to_sys(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr,
			      uint64_t npages, uint64_t *cpages)
{
	return migrate_range(mdev, mm, addr, npages, cpages, false);
}

/* dmirror_device_evict_chunk() for every chunk: each page in use comes
 * back to system memory wherever (and in however many processes) it is
 * mapped; the chunks stay registered. Returns the pages evicted. */
long zd_dmirror_evict(struct zd_dmirror_device *mdev)
{
	struct zd_machine *m = mdev->m;
	uint64_t n = ZD_DEVMEM_CHUNK_SIZE >> m->arch.page_shift;
	unsigned long *src, *dst;
	long evicted = 0;

	if (mdev->type != ZD_MEMORY_DEVICE_PRIVATE)
		return -EINVAL;
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
		zd_migrate_device_range(m, src, pg->range.start >> m->arch.page_shift, n);
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
