/*
 * The fsdax claim (drivers/nvdimm/pmem.c with pfn_devs.c): device pfnN.0,
 * bound to nd_pmem, maps the namespace as MEMORY_DEVICE_FS_DAX with the
 * memmap in RAM or on the media. Its memory_failure handler records the
 * poisoned range as bad blocks and, with no filesystem holding the dax
 * device, defers to the generic handler (-EOPNOTSUPP), as the kernel does.
 */
#include <zonedev/err.h>
#include <stdio.h>
#include <stdlib.h>
#include "drivers/nvdimm/nd.h"
#include "fs/internal.h"
#include "base/align.h"


static int pmem_pagemap_memory_failure(struct zd_dev_pagemap *pgmap, unsigned long pfn,
				       unsigned long nr_pages, int mf_flags)
{
	struct zd_machine *m = pgmap->machine;

	(void)mf_flags;
	zd_pr_err(m, "pmem: memory failure at pfn 0x%llx (+%lu): %llu bad sectors recorded; no "
		  "filesystem holds the dax device", ULL(pfn), nr_pages,
		  ULL(nr_pages << m->arch.page_shift >> 9));
	return -EOPNOTSUPP;
}

static const struct zd_dev_pagemap_ops fsdax_pagemap_ops = {
	.memory_failure = pmem_pagemap_memory_failure,
};

static int nd_pmem_probe(struct zd_device *dev)
{
	struct zd_nd_region *r = dev->platform_data;
	void *addr;

	zd_nd_setup_pgmap(r, ZD_MEMORY_DEVICE_FS_DAX);
	r->pgmap.ops = &fsdax_pagemap_ops;
	addr = zd_devm_memremap_pages(dev, &r->pgmap);
	if (ZD_IS_ERR(addr))
		return (int)ZD_PTR_ERR(addr);
	zd_pr_info(dev->machine, "pmem%d: fsdax %llu MiB, memmap %s", r->id,
		   ULL(r->layout.data_size >> 20), r->layout.has_altmap ? "on the device" : "in RAM");
	return 0;
}

/* The DAX file system on the namespace shuts down and lets go of every
 * mapping (and waits for pins) before devres unmaps the pgmap. */
static void nd_pmem_remove(struct zd_device *dev)
{
	zd_daxfs_kill(dev->platform_data);
}

static const struct zd_device_driver nd_pmem_driver = {
	.name = "nd_pmem",
	.probe = nd_pmem_probe,
	.remove = nd_pmem_remove,
};

struct nd_region_claim {
	struct zd_nd_region *r;
	phys_addr_t start;
	uint64_t size;
};

static void release_region_claim(void *data)
{
	struct nd_region_claim *c = data;

	__zd_release_region(c->r->m, c->r->res, c->start, c->size);
	free(c);
}

int zd_nd_devm_request_region(struct zd_device *dev, struct zd_nd_region *r, phys_addr_t start,
			      uint64_t size, const char *name)
{
	struct nd_region_claim *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (!__zd_request_region(r->m, r->res, start, size, name, 0)) {
		free(c);
		return -EBUSY;
	}
	*c = (struct nd_region_claim){ r, start, size };
	return zd_devm_add_action_or_reset(dev, release_region_claim, c);
}

static void forget_claim(struct zd_device *dev)
{
	((struct zd_nd_region *)dev->platform_data)->claim = NULL;
}

/* A claim device (pfnN.0 / daxN.0) bound to drv; the region remembers it
 * until the device goes, whoever removes it (destroy, or machine teardown),
 * and across a change of driver (dax kmem). */
int zd_nd_claim(struct zd_nd_region *r, const char *prefix, const struct zd_device_driver *drv)
{
	char name[32];
	struct zd_device *dev;
	int rc;

	snprintf(name, sizeof(name), "%s%d.0", prefix, r->id);
	dev = zd_device_register(r->m, name, r->node);
	if (ZD_IS_ERR(dev))
		return (int)ZD_PTR_ERR(dev);
	dev->platform_data = r;
	dev->release = forget_claim;
	rc = zd_device_bind(dev, drv);
	if (rc) {
		zd_device_unregister(dev);
		return rc;
	}
	r->claim = dev;
	return 0;
}

int zd_nd_pmem_enable(struct zd_nd_region *r)
{
	return zd_nd_claim(r, "pfn", &nd_pmem_driver);
}
