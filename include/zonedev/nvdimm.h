/*
 * Persistent memory (drivers/nvdimm, drivers/dax): a pmem region is a
 * physical range backed by a real file that keeps data and metadata across
 * runs. Regions are label-less, so each carries one namespace covering the
 * whole region (namespaceN.0), in mode raw, fsdax (claimed by pfnN.0, pages
 * MEMORY_DEVICE_FS_DAX) or devdax (daxN.0, pages MEMORY_DEVICE_GENERIC,
 * compound by align), with the memmap in RAM (map=mem) or on the device
 * (map=dev, struct pages inside the file).
 * Invariants: the mode of a namespace is what its info block says; a block
 * that fails validation is refused with the rule that failed and nothing in
 * the region is written; the data area is only written by its user.
 */
#ifndef ZONEDEV_NVDIMM_H
#define ZONEDEV_NVDIMM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zonedev/arch.h>
#include <zonedev/nd_pfn.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;
struct zd_nd_region;

struct zd_nd_region_desc {
	phys_addr_t start;
	uint64_t size;        /* start and size: multiples of PAGE_SIZE */
	const char *path;     /* backing file; created (sparse) if missing */
	int node;
	bool read_only;
	uint64_t align;       /* the region's align attribute; 0: default_align() (16 MiB) */
};

enum zd_nd_ns_mode { ZD_NS_MODE_RAW, ZD_NS_MODE_FSDAX, ZD_NS_MODE_DEVDAX };

struct zd_nd_namespace_opts {
	enum zd_nd_ns_mode mode;
	enum zd_nd_pfn_mode map;     /* ZD_ND_MAP_DEV (default) or ZD_ND_MAP_MEM */
	uint64_t align;              /* 0: 2 MiB */
	const uint8_t *uuid;         /* NULL: derived from the region (deterministic) */
	bool force;                  /* ndctl -f: reconfigure an active namespace, skip the 16M check */
};

struct zd_nd_namespace_info {
	char dev[32];                /* "namespace0.0" */
	enum zd_nd_ns_mode mode;
	enum zd_nd_pfn_mode map;
	uint64_t size;               /* usable bytes */
	uint64_t align;
	char uuid[ZD_UUID_STR_LEN];  /* pfn/dax uuid, "" for raw */
	char blockdev[16];           /* "pmem0" for raw and fsdax */
	char chardev[16];            /* "dax0.0" for devdax */
	bool enabled;
	bool user_disabled;          /* by zd_nd_disable_namespace(), not by a failed claim */
	char refused[200];           /* why an info block on the media was refused */
	phys_addr_t data_start;      /* physical address of the first data byte */
};

/* Boot: open/create the file, insert "Persistent Memory", probe the
 * namespace from its info block. ERR_PTR on error. */
struct zd_nd_region *zd_nd_region_create(struct zd_machine *m, const struct zd_nd_region_desc *d);
struct zd_nd_region *zd_nd_region_find(struct zd_machine *m, const char *name);

/* ndctl create-namespace on the region's namespace (label-less: the whole
 * region). Checked before anything is written, as ndctl checks them:
 * -EINVAL when the size is not a multiple of the region's align ("align
 * setting is ... misaligned") or of the requested align ("did you intend
 * --size=..."), or (without force) the start is not 16 MiB aligned;
 * -EBUSY if the namespace is active and force is not set (with force it is
 * reconfigured: disabled and rewritten); the sizing/validation errno
 * otherwise, with the media as it was. */
int zd_nd_create_namespace(struct zd_nd_region *r, const struct zd_nd_namespace_opts *o);
/* Back to raw: disable (waits for page references), erase the info block. */
int zd_nd_destroy_namespace(struct zd_nd_region *r);
/* Unbind and bind the claim again from the media (ndctl disable/enable). */
int zd_nd_rebind_namespace(struct zd_nd_region *r);
/* ndctl disable-namespace: the claim goes (waiting for page references)
 * and the namespace stays disabled, its media untouched, until
 * zd_nd_enable_namespace() probes it again (or create/destroy rewrites
 * it); -EBUSY while its dax device is system-ram with memory online, as
 * ndctl refuses. enable on an enabled namespace is a no-op. */
int zd_nd_disable_namespace(struct zd_nd_region *r);
int zd_nd_enable_namespace(struct zd_nd_region *r);
int zd_nd_namespace_get(struct zd_nd_region *r, struct zd_nd_namespace_info *info);
/* The data area as the CPU sees it (raw: whole region; fsdax/devdax: after
 * dataoff); NULL with size 0 while the namespace is disabled. */
void *zd_nd_namespace_data(struct zd_nd_region *r, uint64_t *size);
/* A store of len bytes at off of the data area, as through /dev/pmemN:
 * -ENXIO while the namespace is disabled (a valid info block whose claim
 * failed), -EROFS on a read-only region, -EINVAL beyond the data area, -ENOSPC (or
 * -EDQUOT) when the region file's filesystem cannot hold them, with nothing
 * written and a message naming the file. */
int zd_nd_namespace_write(struct zd_nd_region *r, uint64_t off, const void *buf, size_t len);
/* ndctl list -N shaped JSON array of every namespace of m. */
void zd_nd_list_namespaces_json(struct zd_machine *m, FILE *f);
void zd_nd_list_namespaces(struct zd_machine *m, FILE *f);
const char *zd_nd_ns_mode_name(enum zd_nd_ns_mode mode);
/* The pgmap of an enabled fsdax/devdax namespace (tests), else NULL. */
struct zd_dev_pagemap *zd_nd_namespace_pgmap(struct zd_nd_region *r);
/* open("/dev/daxN.0"): a file processes mmap (MAP_SHARED, aligned to the
 * device); ERR_PTR(-ENODEV) unless the namespace is devdax and bound to
 * device_dax. zd_fput() drops it (each mapping holds its own reference). */
struct zd_file;
struct zd_file *zd_dev_dax_open(struct zd_nd_region *r);
const char *zd_nd_region_name(const struct zd_nd_region *r);
/* The region's align attribute (default_align() unless the desc set one). */
uint64_t zd_nd_region_align(const struct zd_nd_region *r);

/* ---- device-dax modes (daxctl reconfigure-device) ---- */

enum zd_dax_mode { ZD_DAX_MODE_DEVDAX, ZD_DAX_MODE_SYSTEM_RAM };

struct zd_dax_reconfigure_opts {
	enum zd_dax_mode mode;
	bool no_online;              /* system-ram: leave the blocks offline */
	bool no_movable;             /* system-ram: online them with "online", not movable */
	bool force;                  /* go on despite auto_online_blocks; offline for devdax */
};

/* daxctl's daxN.0 view (daxctl list). */
struct zd_dax_info {
	char chardev[16];
	enum zd_dax_mode mode;
	uint64_t size, align;
	int target_node;
	unsigned online_memblocks, total_memblocks;
	bool movable;                /* every block online in ZONE_MOVABLE */
	phys_addr_t kmem_start;      /* system-ram: the hot-added range */
	uint64_t kmem_size;
	bool stuck;                  /* removal failed: System RAM until reboot */
};

/*
 * system-ram: unbind device_dax (waiting for its page references), bind
 * dax kmem (the data range, rounded in to memory blocks, becomes "System
 * RAM (kmem)"), then online the blocks like daxctl. devdax: offline the
 * blocks (only with force if any is online), remove the memory, bind
 * device_dax again (a fresh memremap, memmap initialised anew).
 * -ENODEV without a devdax namespace; -EBUSY as daxctl refuses (the
 * auto-online policy, online blocks without force, a block that will not
 * go offline); the driver's errno otherwise, with the old mode back.
 */
int zd_dax_reconfigure_device(struct zd_nd_region *r, const struct zd_dax_reconfigure_opts *o);
/* daxctl online-memory / offline-memory on a system-ram device: every
 * block of its range that is not yet in the wanted state (online:
 * online_movable unless !movable); -ENXIO in devdax mode; online returns
 * -EBUSY when a block ends up outside ZONE_MOVABLE though movable was
 * asked for, offline the errno of the first block that will not go. */
int zd_dax_online_memory(struct zd_nd_region *r, bool movable);
int zd_dax_offline_memory(struct zd_nd_region *r);
int zd_dax_info_get(struct zd_nd_region *r, struct zd_dax_info *out);

#ifdef __cplusplus
}
#endif

#endif
