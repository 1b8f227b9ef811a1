/*
 * device-dax (drivers/dax/device.c, dax/pmem.c): daxN.0 maps a devdax
 * namespace as MEMORY_DEVICE_GENERIC, assembled into compound pages of the
 * device alignment (vmemmap_shift = log2(align / PAGE_SIZE)); without an
 * altmap (map=mem) the compound memmap is deduplicated.
 */
#include <zonedev/err.h>
#include "drivers/nvdimm/nd.h"
#include "base/align.h"


static int dev_dax_probe(struct zd_device *dev)
{
	struct zd_nd_region *r = dev->platform_data;
	const struct zd_arch *a = &r->m->arch;
	void *addr;

	int rc;

	/* dev_dax_probe() claims the data range (the metadata before it
	 * stays the namespace's). */
	rc = zd_nd_devm_request_region(dev, r, r->layout.data_start, r->layout.range_end + 1 -
				       r->layout.data_start, dev->name);
	if (rc) {
		zd_pr_warn(dev->machine, "%s: mapping0: 0x%llx-0x%llx could not reserve range",
			   dev->name, ULL(r->layout.data_start), ULL(r->layout.range_end));
		return rc;
	}
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

const struct zd_device_driver zd_device_dax_driver = {
	.name = "device_dax",
	.probe = dev_dax_probe,
};

int zd_dev_dax_enable(struct zd_nd_region *r)
{
	return zd_nd_claim(r, "dax", &zd_device_dax_driver);
}
