/*
 * Memory blocks (drivers/base/memory.c): the sysfs-visible units of System
 * RAM hotplug, /sys/devices/system/memory/memoryN. Only System RAM has them;
 * ZONE_DEVICE ranges never do.
 * Invariants: a block covers memory_block_size bytes aligned to it; state
 * moves only offline <-> online (going-offline while an offline runs) and is
 * restored when a transition fails.
 */
#ifndef ZONEDEV_MEMORY_H
#define ZONEDEV_MEMORY_H

#include <stdint.h>
#include <stdio.h>
#include <zonedev/memory_hotplug.h>

#ifdef __cplusplus
extern "C" {
#endif

enum zd_mem_state { ZD_MEM_ONLINE, ZD_MEM_GOING_OFFLINE, ZD_MEM_OFFLINE };

/* The zone of a boot block whose pages lie in two zones (the kernel's NULL
 * mem->zone): valid_zones "none", never offlined. */
#define ZD_MEMBLOCK_ZONE_NONE ((enum zd_zone_type)ZD_MAX_NR_ZONES)

struct zd_memory_block {
	uint64_t id;                 /* N of memoryN */
	uint64_t start_section_nr;   /* phys_index */
	enum zd_mem_state state;
	int nid;
	enum zd_zone_type zone;      /* zone while online; ZD_MEMBLOCK_ZONE_NONE: several */
};

uint64_t zd_memory_block_size_bytes(const struct zd_machine *m);
uint64_t zd_phys_to_block_id(const struct zd_machine *m, phys_addr_t addr);
/* A copy of block id's state; -ENODEV if there is no such block. */
int zd_memory_block_get(struct zd_machine *m, uint64_t id, struct zd_memory_block *out);
/* Writes to state: "online", "online_kernel", "online_movable", "offline".
 * -EINVAL on an unknown string or a block already in that state. */
int zd_memory_block_store_state(struct zd_machine *m, uint64_t id, const char *state);
/* Online [start, start+size) block by block into the zone the type selects. */
int zd_online_memory_range(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			   enum zd_online_type type);
int zd_offline_memory_range(struct zd_machine *m, phys_addr_t start, phys_addr_t size);
/* Iterate blocks in id order; return non-zero from fn to stop. */
int zd_for_each_memory_block(struct zd_machine *m, void *arg,
			     int (*fn)(const struct zd_memory_block *mb, void *arg));
/* "DMA32 Normal Movable"-style valid_zones text for block id. */
int zd_memory_block_valid_zones(struct zd_machine *m, uint64_t id, char *buf, size_t len);
const char *zd_mem_state_name(enum zd_mem_state s);
/* ls-style listing: memoryN state phys_index valid_zones node. */
void zd_memory_blocks_show(struct zd_machine *m, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
