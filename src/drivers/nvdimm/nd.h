/*
 * Shared between the nvdimm and dax drivers (drivers/nvdimm/nd.h): the
 * region object and the hooks the claim drivers (pmem for fsdax, device-dax
 * for devdax) provide.
 */
#ifndef ZD_DRIVERS_NVDIMM_ND_H
#define ZD_DRIVERS_NVDIMM_ND_H

#include <zonedev/device.h>
#include <zonedev/machine.h>
#include <zonedev/memremap.h>
#include <zonedev/nvdimm.h>

struct zd_nd_region {
	struct zd_machine *m;
	int id;
	phys_addr_t start;
	uint64_t size;
	int fd;
	bool read_only;
	bool created, up;              /* the file is ours; the region came up */
	int node;
	uint64_t align;                /* region align attribute (default_align()) */
	char path[4096];           /* PATH_MAX: region files live anywhere */
	char *virt;                    /* the whole region, MAP_SHARED */
	struct zd_resource *res;       /* "Persistent Memory" */
	struct zd_device *dev;         /* regionN */
	/* namespaceN.0 */
	enum zd_nd_ns_mode mode;
	struct zd_nd_pfn_info info;    /* valid for fsdax/devdax */
	struct zd_nd_pfn_layout layout;
	struct zd_device *claim;       /* pfnN.0 or daxN.0 while enabled */
	bool user_disabled;            /* ndctl disable-namespace: stays down until enabled */
	bool dax_dead;                 /* atomic: daxN.0 is going (kill_dax), faults fail */
	struct zdfs_sb *daxfs;         /* atomic: the mounted DAX file system (fs/zdfs.c) */
	/* namespaceN.0 in iomem while the namespace is enabled: the whole
	 * namespace (raw, fsdax) or its metadata only (devdax, whose data
	 * daxN.0 claims). */
	phys_addr_t ns_res_start;
	uint64_t ns_res_size;
	struct zd_dev_pagemap pgmap;
	char refused[200];
	/* dax kmem (drivers/dax/kmem.c) while daxN.0 is bound to kmem: the
	 * block-aligned range hot-added as "System RAM (kmem)" under a
	 * "daxN.0" resource; stuck: its removal failed, it stays until reboot. */
	struct zd_resource *kmem_res;
	phys_addr_t kmem_start;
	uint64_t kmem_size;
	bool kmem_stuck;
};

/* The drivers a dax device can bind (dax/device.c, dax/kmem.c). */
extern const struct zd_device_driver zd_device_dax_driver;
extern const struct zd_device_driver zd_dax_kmem_driver;

/* namespace_devs.c */
int zd_nd_namespace_probe(struct zd_nd_region *r);
void zd_nd_namespace_disable(struct zd_nd_region *r);
/* pmem.c: claim an fsdax namespace (pfnN.0, FS_DAX pages). */
int zd_nd_pmem_enable(struct zd_nd_region *r);
/* dax/device.c: claim a devdax namespace (daxN.0, GENERIC compound pages). */
int zd_dev_dax_enable(struct zd_nd_region *r);
/* pmem.c: register the claim device (pfnN.0, daxN.0) and bind drv to it. */
int zd_nd_claim(struct zd_nd_region *r, const char *prefix, const struct zd_device_driver *drv);
/* A busy region under the region's "Persistent Memory", released when dev
 * unbinds (devm_request_mem_region()); 0 or -EBUSY. */
int zd_nd_devm_request_region(struct zd_device *dev, struct zd_nd_region *r, phys_addr_t start,
			      uint64_t size, const char *name);
/* Both: fill the pgmap from the validated block (range, altmap, backing). */
void zd_nd_setup_pgmap(struct zd_nd_region *r, enum zd_memory_type type);

#endif
