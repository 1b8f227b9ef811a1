/*
 * The fsdax claim (drivers/nvdimm/pmem.c with pfn_devs.c): device pfnN.0,
 * bound to nd_pmem, maps the namespace as MEMORY_DEVICE_FS_DAX with the
 * memmap in RAM or on the media. Its memory_failure handler records the
 * poisoned range as bad blocks and, with no filesystem holding the dax
 * device, defers to the generic handler (-EOPNOTSUPP), as the kernel does.
 */
#include <zonedev/err.h>
#include <stdio.h>
#include "drivers/nvdimm/nd.h"

#define ULL(x) ((unsigned long long)(x))

static int pmem_pagemap_memory_failure(struct zd_dev_pagemap *pgmap, unsigned long pfn,
				       unsigned long nr_pages, int mf_flags)
{
	struct zd_machine *m = pgmap->machine;

	(void)mf_flags;
	zd_pr_err(m, "pmem: memory failure at pfn %#llx (+%lu): %llu bad sectors recorded; no "
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

static const struct zd_device_driver nd_pmem_driver = {
	.name = "nd_pmem",
	.probe = nd_pmem_probe,
};

static void forget_claim(void *data)
{
	((struct zd_nd_region *)data)->claim = NULL;
}

/* A claim device (pfnN.0 / daxN.0) bound to drv; the region remembers it
 * until the device goes, whoever removes it (destroy, or machine teardown). */
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
	rc = zd_devm_add_action(dev, forget_claim, r);
	if (!rc)
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
