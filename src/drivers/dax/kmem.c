/*
 * dax kmem (drivers/dax/kmem.c): a device-dax range given to the page
 * allocator as driver-managed System RAM. Probe rounds the data range in
 * to memory blocks, reserves it as "daxN.0" (its flags made System RAM,
 * not busy, so the hot-add can nest under it) and hot-adds it as
 * "System RAM (kmem)" on the device's node; the machine's
 * auto_online_blocks policy decides whether the blocks come up online.
 * Remove takes the memory away again, or, when a block is still online,
 * leaves it (and its reservation) until reboot, as the kernel must.
 * Invariant: kmem_res is set exactly while the range is hot-added.
 */
#include <zonedev/err.h>
#include <zonedev/memory.h>
#include "drivers/nvdimm/nd.h"
#include "base/align.h"


static int dev_dax_kmem_probe(struct zd_device *dev)
{
	struct zd_nd_region *r = dev->platform_data;
	struct zd_machine *m = r->m;
	uint64_t block = zd_memory_block_size_bytes(m);
	/* dax_kmem_range(): start rounded up, end down, to memory blocks. */
	phys_addr_t start = ZD_ALIGN(r->layout.data_start, block);
	phys_addr_t end = ZD_ALIGN_DOWN(r->layout.range_end + 1, block);
	struct zd_resource *res;
	int rc;

	if (r->node < 0) {
		zd_pr_warn(m, "%s: rejecting DAX region with invalid node: %d", dev->name, r->node);
		return -EINVAL;
	}
	if (end <= start) {
		zd_pr_warn(m, "%s: mapping0: 0x%llx-0x%llx too small after alignment", dev->name,
			   ULL(r->layout.data_start), ULL(r->layout.range_end));
		return -EINVAL;
	}
	res = zd_request_mem_region(m, start, end - start, dev->name);
	if (!res) {
		zd_pr_warn(m, "%s: mapping0: 0x%llx-0x%llx could not reserve region", dev->name,
			   ULL(start), ULL(end - 1));
		return -EBUSY;
	}
	/* System RAM, not busy: add_memory() nests its resource inside. */
	res->flags = ZD_IORESOURCE_SYSTEM_RAM;
	rc = zd_add_memory_driver_managed(m, r->node, start, end - start, "System RAM (kmem)");
	if (rc) {
		zd_pr_err(m, "%s: mapping0: 0x%llx-0x%llx cannot be hotplugged (%s)", dev->name,
			  ULL(start), ULL(end - 1), zd_errno_name(rc));
		zd_release_resource(m, res);
		return rc;
	}
	r->kmem_res = res;
	r->kmem_start = start;
	r->kmem_size = end - start;
	r->kmem_stuck = false;
	zd_pr_info(m, "%s: kmem: %llu MiB of System RAM on node %d [mem 0x%llx-0x%llx]", dev->name,
		   ULL((end - start) >> 20), r->node, ULL(start), ULL(end - 1));
	return 0;
}

static void dev_dax_kmem_remove(struct zd_device *dev)
{
	struct zd_nd_region *r = dev->platform_data;

	if (!r->kmem_res)
		return;
	if (zd_remove_memory(r->m, r->kmem_start, r->kmem_size)) {
		/* The memory stays in use: so do its resources, until reboot. */
		zd_pr_warn(r->m, "%s: mapping0: 0x%llx-0x%llx cannot be hotremoved until the next reboot",
			   dev->name, ULL(r->kmem_start), ULL(r->kmem_start + r->kmem_size - 1));
		r->kmem_stuck = true;
		return;
	}
	zd_release_resource(r->m, r->kmem_res);
	r->kmem_res = NULL;
	r->kmem_size = 0;
}

const struct zd_device_driver zd_dax_kmem_driver = {
	.name = "kmem",
	.probe = dev_dax_kmem_probe,
	.remove = dev_dax_kmem_remove,
};
