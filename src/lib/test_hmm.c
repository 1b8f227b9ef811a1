/*
 * The dmirror-style GPU test device (see include/zonedev/test_hmm.h).
 * VRAM contents live in a memfd sized to the VRAM; chunk i owns bytes
 * [i * CHUNK, (i+1) * CHUNK), and only the copy engine (test_hmm_engine.c)
 * touches them. Free device pages sit on a list threaded through their
 * zone_device_data word, free PMD-sized runs (device THPs) on another.
 * Two locks, as lib/test_hmm.c has:
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
#include "test_hmm_internal.h"
#include <zonedev/gfp.h>
#include <zonedev/migrate.h>
#include <zonedev/mm.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>


static int dmirror_allocate_chunk(struct zd_dmirror_device *mdev, bool large);

static uint64_t pmd_pages(const struct zd_dmirror_device *mdev)
{
	return 1ULL << (mdev->m->arch.pt[ZD_PT_PMD].shift - mdev->m->arch.page_shift);
}

static uint64_t chunk_page_index(struct zd_machine *m, struct dmirror_chunk *c,
				 struct zd_page *page)
{
	if (c->pagemap.pages)
		return (uint64_t)(page - c->pagemap.pages);
	return zd_page_to_pfn(m, page) - zd_phys_pfn(&m->arch, c->pagemap.range.start);
}

static void dmirror_devmem_free(struct zd_page *folio)
{
	struct dmirror_chunk *c = dmirror_pgmap_chunk(folio->pgmap);
	struct zd_dmirror_device *mdev = c->mdev;
	unsigned order = zd_folio_order(mdev->m, folio);

	pthread_mutex_lock(&mdev->lock);
	/* A page goes back on the free list, a device THP on the folio list
	 * as one run (zone_device_page_init makes it compound again). */
	for (uint64_t i = (1ULL << order); i-- > 0; ) {
		struct zd_page *p = folio + i;
		/* pgmap shares its word with compound_head, which a fault
		 * waiting on this page's lock may be reading */
		__atomic_store_n(&p->pgmap, folio->pgmap, __ATOMIC_RELAXED);
		__atomic_and_fetch(&p->flags, ~((1UL << ZD_PG_head) | (1UL << ZD_PG_locked) | 0xffUL),
				   __ATOMIC_RELAXED);
		p->zone_device_data = order ? NULL : mdev->free_pages;
		if (!order)
			mdev->free_pages = p;
	}
	if (order) {
		folio->zone_device_data = mdev->free_folios;
		mdev->free_folios = folio;
	}
	mdev->cfree += 1ULL << order;
	pthread_mutex_unlock(&mdev->lock);
}

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
	return dmirror_allocate_chunk(mdev, false);
}

/* dmirror_allocate_chunk(): a chunk's pages go on the free list, or, for
 * a large request, in PMD-sized runs on the folio list. */
static int dmirror_allocate_chunk(struct zd_dmirror_device *mdev, bool large)
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
		/* Every page (or run) of the new chunk goes on its list, lowest first. */
		uint64_t n = chunk_size >> mdev->m->arch.page_shift, step = large ? pmd_pages(mdev) : 1;
		for (uint64_t k = n / step; k-- > 0; ) {
			uint64_t i = k * step;
			struct zd_page *p = c->pagemap.pages ? c->pagemap.pages + i :
				zd_pfn_to_page(mdev->m, zd_phys_pfn(&mdev->m->arch,
								    c->pagemap.range.start) + i);
			struct zd_page **list = large ? &mdev->free_folios : &mdev->free_pages;

			p->zone_device_data = *list;
			*list = p;
		}
	}
	pthread_mutex_unlock(&mdev->lock);
	pthread_mutex_unlock(&mdev->devmem_lock);
	return rc;
}

/* All VRAM registered and no free page: a free run becomes free pages
 * (the kernel's dmirror registers more chunks instead; this VRAM has a
 * size). False if there is none. */
static bool break_free_folio(struct zd_dmirror_device *mdev)
{
	struct zd_page *run;

	pthread_mutex_lock(&mdev->lock);
	run = mdev->free_folios;
	if (run) {
		mdev->free_folios = run->zone_device_data;
		for (uint64_t i = pmd_pages(mdev); i-- > 0; ) {
			run[i].zone_device_data = mdev->free_pages;
			mdev->free_pages = run + i;
		}
	}
	pthread_mutex_unlock(&mdev->lock);
	return run != NULL;
}

struct zd_page *zd_dmirror_alloc_page(struct zd_dmirror_device *mdev, unsigned order)
{
	struct zd_machine *m = mdev->m;
	bool large = order != 0;
	struct zd_page *page;

	if (order && (order + m->arch.page_shift != m->arch.pt[ZD_PT_PMD].shift ||
		      mdev->type != ZD_MEMORY_DEVICE_PRIVATE)) {
		zd_pr_err(m, "%s: a device folio is order 0 or, on a private device, "
			  "the PMD order %u (asked for %u)", zd_dev_name(mdev->dev),
			  m->arch.pt[ZD_PT_PMD].shift - m->arch.page_shift, order);
		return NULL;
	}
	for (;;) {
		struct zd_page **list = large ? &mdev->free_folios : &mdev->free_pages;

		pthread_mutex_lock(&mdev->lock);
		page = *list;
		if (page) {
			*list = page->zone_device_data;
			page->zone_device_data = NULL;
			mdev->calloc += 1ULL << order;
		}
		pthread_mutex_unlock(&mdev->lock);
		if (page)
			break;
		if (dmirror_allocate_chunk(mdev, large) && (large || !break_free_folio(mdev)))
			return NULL;
	}
	zd_zone_device_page_init(page, page->pgmap, order);
	return page;
}

static char *page_vram(struct zd_dmirror_device *mdev, struct zd_page *dpage)
{
	struct zd_machine *m = mdev->m;
	struct zd_dev_pagemap *pgmap = zd_compound_head(dpage)->pgmap;
	struct dmirror_chunk *c;

	if (!zd_is_zone_device_page(dpage) || !pgmap || pgmap->owner != mdev)
		return NULL;
	c = dmirror_pgmap_chunk(pgmap);
	return mdev->vram + c->vram_offset + (chunk_page_index(m, c, dpage) << m->arch.page_shift);
}

/* The bytes from dpage to the end of its folio: one copy may span them
 * (a device THP's VRAM is one run of its chunk). */
static size_t folio_rest(struct zd_dmirror_device *mdev, struct zd_page *dpage)
{
	struct zd_page *head = zd_compound_head(dpage);
	uint64_t nr = 1ULL << zd_folio_order(mdev->m, head);

	return (size_t)(nr - (uint64_t)(dpage - head)) << mdev->m->arch.page_shift;
}

int dmirror_copy_async(struct zd_dmirror_device *mdev, struct zd_page *dpage, void *sys,
		       size_t len, bool to_dev, uint64_t *fence)
{
	char *vram = page_vram(mdev, dpage);

	if (!vram || len > folio_rest(mdev, dpage))
		return -EINVAL;
	*fence = to_dev ? dmirror_engine_queue(mdev, vram, sys, len) :
			  dmirror_engine_queue(mdev, sys, vram, len);
	return 0;
}

int zd_dmirror_copy_to_device(struct zd_dmirror_device *mdev, struct zd_page *dpage,
			      const void *src, size_t len)
{
	uint64_t fence;
	int rc = dmirror_copy_async(mdev, dpage, (void *)src, len, true, &fence);

	if (!rc)
		dmirror_engine_wait(mdev, fence);
	return rc;
}

int zd_dmirror_copy_from_device(struct zd_dmirror_device *mdev, struct zd_page *dpage, void *dst,
				size_t len)
{
	uint64_t fence;
	int rc = dmirror_copy_async(mdev, dpage, dst, len, false, &fence);

	if (rc)
		return rc;
	dmirror_engine_wait(mdev, fence);
	return 0;
}

static void dmirror_free(void *data)
{
	struct zd_dmirror_device *mdev = data;

	dmirror_engine_stop(mdev);
	if (mdev->vram)
		munmap(mdev->vram, mdev->vram_size);
	if (mdev->vram_fd >= 0)
		close(mdev->vram_fd);
	pthread_mutex_destroy(&mdev->lock);
	pthread_mutex_destroy(&mdev->devmem_lock);
	pthread_mutex_destroy(&mdev->mirrors_lock);
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
	pthread_mutex_init(&mdev->mirrors_lock, NULL);
	mdev->vram_fd = memfd_create(d->name ? d->name : "vram", MFD_CLOEXEC);
	rc = !mdev->chunks || mdev->vram_fd < 0 || ftruncate(mdev->vram_fd, (off_t)size) ? -ENOMEM : 0;
	if (!rc) {
		mdev->vram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mdev->vram_fd, 0);
		if (mdev->vram == MAP_FAILED) {
			mdev->vram = NULL;
			rc = -ENOMEM;
		}
	}
	if (!rc)
		rc = dmirror_engine_start(mdev);
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

int zd_dmirror_chunk_usage(struct zd_dmirror_device *mdev, unsigned i,
			   struct zd_dmirror_chunk_usage *u)
{
	struct zd_machine *m = mdev->m;
	struct dmirror_chunk *c;

	memset(u, 0, sizeof(*u));
	pthread_mutex_lock(&mdev->lock);
	if (i >= mdev->nr_chunks || !(c = mdev->chunks[i])) {
		pthread_mutex_unlock(&mdev->lock);
		return -ENOENT;
	}
	u->offsets = c->pagemap.pages != NULL;
	u->first = u->offsets ? c->pagemap.range.start >> m->arch.page_shift :
		   zd_phys_pfn(&m->arch, c->pagemap.range.start);
	u->pages = (mdev->type == ZD_MEMORY_DEVICE_COHERENT ? mdev->vram_size :
		    ZD_DEVMEM_CHUNK_SIZE) >> m->arch.page_shift;
	/* a free page's pgmap word names its chunk again */
	for (struct zd_page *p = mdev->free_pages; p; p = p->zone_device_data)
		u->free_pages += p->pgmap == &c->pagemap;
	for (struct zd_page *p = mdev->free_folios; p; p = p->zone_device_data)
		u->free_run_pages += p->pgmap == &c->pagemap ? pmd_pages(mdev) : 0;
	pthread_mutex_unlock(&mdev->lock);
	return 0;
}

/* dmirror_device_remove_chunks() (HMM_DMIRROR_RELEASE): every page in use
 * evicted, then every chunk unregistered; the next allocation maps a
 * fresh one. -EBUSY (chunks kept) if a page could not be evicted. */
long zd_dmirror_remove_chunks(struct zd_dmirror_device *mdev)
{
	long evicted = zd_dmirror_evict(mdev);
	struct dmirror_chunk *gone[mdev->max_chunks];
	unsigned n;

	if (evicted < 0)
		return evicted;
	pthread_mutex_lock(&mdev->devmem_lock);
	pthread_mutex_lock(&mdev->lock);
	if (mdev->calloc != mdev->cfree) {
		pthread_mutex_unlock(&mdev->lock);
		pthread_mutex_unlock(&mdev->devmem_lock);
		zd_pr_err(mdev->m, "%s: release: %llu device pages are still in use: -EBUSY",
			  zd_dev_name(mdev->dev), ULL(mdev->calloc - mdev->cfree));
		return -EBUSY;
	}
	n = mdev->nr_chunks;
	memcpy(gone, mdev->chunks, n * sizeof(*gone));
	memset(mdev->chunks, 0, n * sizeof(*gone));
	mdev->nr_chunks = 0;
	mdev->free_pages = NULL;
	mdev->free_folios = NULL;
	pthread_mutex_unlock(&mdev->lock);
	while (n--)
		zd_devm_release_action(mdev->dev, chunk_release, gone[n]);
	pthread_mutex_unlock(&mdev->devmem_lock);
	return evicted;
}
