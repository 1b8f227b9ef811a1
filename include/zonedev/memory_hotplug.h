/*
 * Memory hotplug (mm/memory_hotplug.c, mm/sparse.c): adding and removing
 * physical ranges to the sparse model, onlining into zones and offlining.
 * Invariants: every function takes the hotplug lock itself; a rejected call
 * changes nothing and logs one line saying why; device ranges (later,
 * memremap) never reach the memory-block or online paths.
 */
#ifndef ZONEDEV_MEMORY_HOTPLUG_H
#define ZONEDEV_MEMORY_HOTPLUG_H

#include <stdbool.h>
#include <stdint.h>
#include <zonedev/arch.h>
#include <zonedev/mmzone.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;
struct zd_dev_pagemap;

/* vmem_altmap: memmap pages taken from a device's own backing. */
struct zd_vmem_altmap {
	uint64_t base_pfn;
	uint64_t end_pfn;
	uint64_t reserve;
	uint64_t free;
	uint64_t align;
	uint64_t alloc;
	/* Host backing of the device range: the struct pages live in this file
	 * (fd) at file offset (pfn - base_pfn) * PAGE_SIZE + backing_offset. */
	int backing_fd;
	uint64_t backing_offset;
};

static inline uint64_t zd_vmem_altmap_offset(const struct zd_vmem_altmap *a)
{
	return a ? a->reserve + a->free : 0;
}

struct zd_mhp_params {
	struct zd_vmem_altmap *altmap;
	unsigned long pgprot;               /* non-zero; the value is informational */
	struct zd_dev_pagemap *pgmap;
};

#define ZD_MHP_NONE 0u
#define ZD_MHP_MERGE_RESOURCE (1u << 0)

enum zd_online_type { ZD_MMOP_OFFLINE, ZD_MMOP_ONLINE, ZD_MMOP_ONLINE_KERNEL,
		      ZD_MMOP_ONLINE_MOVABLE };

/* Hotplug lock (percpu rwsem in the kernel). */
void zd_mem_hotplug_begin(struct zd_machine *m);
void zd_mem_hotplug_done(struct zd_machine *m);
void zd_get_online_mems(struct zd_machine *m);
void zd_put_online_mems(struct zd_machine *m);

/* System RAM hot-add/remove through memory blocks. add: -E2BIG for an empty
 * range or one outside the pluggable range (checked first, as the kernel
 * does), -EEXIST when the range conflicts in iomem, -EINVAL on block
 * misalignment. remove: -EBUSY if any block is online. */
int zd_add_memory(struct zd_machine *m, int nid, phys_addr_t start, phys_addr_t size,
		  unsigned flags);
int zd_remove_memory(struct zd_machine *m, phys_addr_t start, phys_addr_t size);
/* add_memory_driver_managed(): the same with a "System RAM ($DRIVER)"
 * resource marked driver-managed (-EINVAL for another name). Both online
 * the new blocks per the machine's auto_online_blocks policy. */
int zd_add_memory_driver_managed(struct zd_machine *m, int nid, phys_addr_t start,
				 phys_addr_t size, const char *name);

/* Direct sub-section adds (ZONE_DEVICE's path and the tests'). */
int zd___add_pages(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr_pages,
		   struct zd_mhp_params *params);
void zd___remove_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr_pages,
		       struct zd_vmem_altmap *altmap);
/* add_pages() / arch_add_memory() with the arch's max_pfn rule (x86: not
 * for pgmaps; arm64: arch_add_memory only, every caller; powerpc: always). */
int zd_add_pages(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr_pages,
		 struct zd_mhp_params *params);
int zd_arch_add_memory(struct zd_machine *m, int nid, phys_addr_t start, phys_addr_t size,
		       struct zd_mhp_params *params);
void zd_arch_remove_memory(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			   struct zd_vmem_altmap *altmap);

/* sparse_add_section()/sparse_remove_section(), one section at a time. */
int zd_sparse_add_section(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr_pages,
			  struct zd_vmem_altmap *altmap, struct zd_dev_pagemap *pgmap);
void zd_sparse_remove_section(struct zd_machine *m, uint64_t pfn, uint64_t nr_pages,
			      struct zd_vmem_altmap *altmap);

/* online/offline of pfn ranges (memory blocks call these). */
int zd_online_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr_pages, struct zd_zone *zone);
int zd_offline_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr_pages);

/* Zone span/init when a range joins a zone (ZONE_DEVICE too). */
void zd_move_pfn_range_to_zone(struct zd_machine *m, struct zd_zone *zone, uint64_t pfn,
			       uint64_t nr_pages, struct zd_vmem_altmap *altmap, int migratetype);
void zd_remove_pfn_range_from_zone(struct zd_machine *m, struct zd_zone *zone, uint64_t pfn,
				   uint64_t nr_pages);

/* mhp_range_allowed(): false (and a log line) outside the pluggable range. */
bool zd_mhp_range_allowed(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			  bool need_mapping);

/* pfn_to_online_page(): NULL unless the pfn is online System RAM. */
struct zd_page *zd_pfn_to_online_page(struct zd_machine *m, uint64_t pfn);

#ifdef __cplusplus
}
#endif

#endif
