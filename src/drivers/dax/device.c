/*
 * device-dax (drivers/dax/device.c, dax/pmem.c): daxN.0 maps a devdax
 * namespace as MEMORY_DEVICE_GENERIC, assembled into compound pages of the
 * device alignment (vmemmap_shift = log2(align / PAGE_SIZE)); without an
 * altmap (map=mem) the compound memmap is deduplicated.
 */
#include <zonedev/err.h>
#include "drivers/nvdimm/nd.h"

#define ULL(x) ((unsigned long long)(x))

static int dev_dax_probe(struct zd_device *dev)
{
	struct zd_nd_region *r = dev->platform_data;
	const struct zd_arch *a = &r->m->arch;
	void *addr;

	zd_nd_setup_pgmap(r, ZD_MEMORY_DEVICE_GENERIC);
	if (r->info.align > a->page_size)
		r->pgmap.vmemmap_shift = (unsigned long)__builtin_ctzll(r->info.align >> a->page_shift);
	addr = zd_devm_memremap_pages(dev, &r->pgmap);
	if (ZD_IS_ERR(addr))
		return (int)ZD_PTR_ERR(addr);
	zd_pr_info(dev->machine, "%s: devdax %llu MiB, align %llu KiB, memmap %s", dev->name,
		   ULL(r->layout.data_size >> 20), ULL(r->info.align >> 10),
		   r->layout.has_altmap ? "on the device" : "in RAM");
	return 0;
}

static const struct zd_device_driver device_dax_driver = {
	.name = "device_dax",
	.probe = dev_dax_probe,
};

int zd_dev_dax_enable(struct zd_nd_region *r)
{
	return zd_nd_claim(r, "dax", &device_dax_driver);
}
