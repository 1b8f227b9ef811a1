/*
 * Memory block devices (drivers/base/memory.c): memoryN for each
 * memory_block_size piece of System RAM, their state machine and the zone
 * choice on online. Blocks live in a sparse index keyed by block id, so a
 * 52-bit machine pays only for blocks that exist.
 * Invariants: blocks change under the hotplug write lock (creation and
 * removal) or the device hotplug lock (state writes); state is restored
 * when a transition fails.
 */
#include <zonedev/err.h>
#include <zonedev/memory.h>
#include <stdlib.h>
#include <string.h>
#include "base/lockdep.h"
#include "base/xarray.h"
#include "mm/internal.h"
#include "base/align.h"


uint64_t zd_memory_block_size_bytes(const struct zd_machine *m)
{
	return m->memory_block_size;
}

uint64_t zd_phys_to_block_id(const struct zd_machine *m, phys_addr_t addr)
{
	return addr / m->memory_block_size;
}

int zd_memory_dev_init(struct zd_machine *m)
{
	m->memory_blocks = calloc(1, sizeof(*m->memory_blocks));
	if (!m->memory_blocks)
		return -ENOMEM;
	zd_xa_init(m->memory_blocks, m->arch.phys_bits);
	return 0;
}

static int for_each_block_locked(struct zd_machine *m, void *arg,
				 int (*fn)(const struct zd_memory_block *mb, void *arg));

static int free_block(const struct zd_memory_block *mb, void *arg)
{
	(void)arg;
	free((void *)mb);
	return 0;
}

void zd_memory_dev_fini(struct zd_machine *m)
{
	if (!m->memory_blocks)
		return;
	for_each_block_locked(m, NULL, free_block);
	zd_xa_destroy(m->memory_blocks);
	free(m->memory_blocks);
	m->memory_blocks = NULL;
}

const char *zd_mem_state_name(enum zd_mem_state s)
{
	switch (s) {
	case ZD_MEM_ONLINE: return "online";
	case ZD_MEM_GOING_OFFLINE: return "going-offline";
	case ZD_MEM_OFFLINE: return "offline";
	}
	return "unknown";
}

void zd_remove_memory_block_devices(struct zd_machine *m, phys_addr_t start, phys_addr_t size)
{
	for (uint64_t id = zd_phys_to_block_id(m, start);
	     id < zd_phys_to_block_id(m, start + size); id++)
		free(zd_xa_erase(m->memory_blocks, id));
}

int zd_create_memory_block_devices(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
				   int nid, enum zd_mem_state state, enum zd_zone_type zone)
{
	uint64_t first = zd_phys_to_block_id(m, start), last = zd_phys_to_block_id(m, start + size);
	uint64_t sections_per_block = m->memory_block_size >> m->arch.section_size_bits;

	for (uint64_t id = first; id < last; id++) {
		struct zd_memory_block *mb = calloc(1, sizeof(*mb));
		int rc = mb ? 0 : -ENOMEM;

		if (!rc && zd_xa_load(m->memory_blocks, id))
			rc = -EEXIST;
		if (!rc) {
			mb->id = id;
			mb->start_section_nr = id * sections_per_block;
			mb->state = state;
			mb->nid = nid;
			mb->zone = zone;
			rc = zd_xa_store(m->memory_blocks, id, mb);
		}
		if (rc) {
			free(mb);
			zd_remove_memory_block_devices(m, start, (id - first) * m->memory_block_size);
			zd_pr_err(m, "memory: cannot create memory%llu: %s", ULL(id),
				  zd_errno_name(rc));
			return rc;
		}
	}
	return 0;
}

int zd_memory_blocks_all_offline(struct zd_machine *m, phys_addr_t start, phys_addr_t size)
{
	int rc = 0;

	zd_get_online_mems(m);
	for (uint64_t id = zd_phys_to_block_id(m, start);
	     id < zd_phys_to_block_id(m, start + size); id++) {
		struct zd_memory_block *mb = zd_xa_load(m->memory_blocks, id);
		if (mb && mb->state != ZD_MEM_OFFLINE) {
			zd_pr_err(m, "memory: memory%llu is still %s; offline it before removal",
				  ULL(id), zd_mem_state_name(mb->state));
			rc = -EBUSY;
			break;
		}
	}
	zd_put_online_mems(m);
	return rc;
}

int zd_memory_block_get(struct zd_machine *m, uint64_t id, struct zd_memory_block *out)
{
	struct zd_memory_block *mb;
	int rc = -ENODEV;

	zd_get_online_mems(m);
	mb = zd_xa_load(m->memory_blocks, id);
	if (mb) {
		*out = *mb;
		rc = 0;
	}
	zd_put_online_mems(m);
	return rc;
}

static uint64_t block_pfn(const struct zd_machine *m, const struct zd_memory_block *mb)
{
	return zd_section_nr_to_pfn(&m->arch, mb->start_section_nr);
}

static bool zone_intersects(const struct zd_zone *z, uint64_t pfn, uint64_t nr)
{
	return !zd_zone_is_empty(z) && pfn < zd_zone_end_pfn(z) && pfn + nr > z->zone_start_pfn;
}

/* default_kernel_zone_for_pfn(): the first kernel zone below Normal that
 * spans the range, else Normal. */
static enum zd_zone_type default_kernel_zone(struct zd_machine *m, int nid, uint64_t pfn,
					     uint64_t nr)
{
	struct zd_pglist_data *pgdat = m->node_data[nid];

	for (int z = ZD_ZONE_DMA; z < ZD_ZONE_NORMAL; z++)
		if (zone_intersects(&pgdat->node_zones[z], pfn, nr))
			return (enum zd_zone_type)z;
	return ZD_ZONE_NORMAL;
}

/* zone_for_pfn_range(): online picks Movable only when the block already
 * sits inside Movable and not inside a kernel zone. */
static enum zd_zone_type zone_for_online(struct zd_machine *m, int nid, enum zd_online_type type,
					 uint64_t pfn, uint64_t nr)
{
	struct zd_pglist_data *pgdat = m->node_data[nid];
	enum zd_zone_type kz = default_kernel_zone(m, nid, pfn, nr);

	if (type == ZD_MMOP_ONLINE_KERNEL)
		return kz;
	if (type == ZD_MMOP_ONLINE_MOVABLE)
		return ZD_ZONE_MOVABLE;
	if (zone_intersects(&pgdat->node_zones[ZD_ZONE_MOVABLE], pfn, nr) &&
	    !zone_intersects(&pgdat->node_zones[kz], pfn, nr))
		return ZD_ZONE_MOVABLE;
	return kz;
}

static void valid_zones_locked(struct zd_machine *m, const struct zd_memory_block *mb, char *buf,
			       size_t len)
{
	uint64_t pfn = block_pfn(m, mb), nr = m->memory_block_size >> m->arch.page_shift;
	enum zd_zone_type def, kz;

	if (mb->state == ZD_MEM_ONLINE) {
		/* A boot block whose pages sit in two zones has none. */
		snprintf(buf, len, "%s", mb->zone == ZD_MEMBLOCK_ZONE_NONE ? "none" :
			 zd_zone_names[mb->zone]);
		return;
	}
	def = zone_for_online(m, mb->nid, ZD_MMOP_ONLINE, pfn, nr);
	kz = default_kernel_zone(m, mb->nid, pfn, nr);
	/* The default first, then the other choice, as sysfs prints them. */
	if (def == ZD_ZONE_MOVABLE)
		snprintf(buf, len, "%s %s", zd_zone_names[ZD_ZONE_MOVABLE], zd_zone_names[kz]);
	else
		snprintf(buf, len, "%s %s", zd_zone_names[kz], zd_zone_names[ZD_ZONE_MOVABLE]);
}

int zd_memory_block_valid_zones(struct zd_machine *m, uint64_t id, char *buf, size_t len)
{
	struct zd_memory_block *mb;
	int rc = -ENODEV;

	zd_get_online_mems(m);
	mb = zd_xa_load(m->memory_blocks, id);
	if (mb) {
		valid_zones_locked(m, mb, buf, len);
		rc = 0;
	}
	zd_put_online_mems(m);
	return rc;
}

/* The zone an online of the block lands in; a DMA zone must not grow above
 * its limit (a block re-onlined below it goes back, one above goes up). */
static enum zd_zone_type online_zone(struct zd_machine *m, const struct zd_memory_block *mb,
				     enum zd_online_type type)
{
	uint64_t pfn = block_pfn(m, mb), nr = m->memory_block_size >> m->arch.page_shift;
	phys_addr_t end = zd_pfn_phys(&m->arch, pfn + nr);
	enum zd_zone_type zt = zone_for_online(m, mb->nid, type, pfn, nr);

	if (zt == ZD_ZONE_DMA && end > m->arch.dma_limit)
		zt = ZD_ZONE_DMA32;
	if (zt == ZD_ZONE_DMA32 && end > m->arch.dma32_limit)
		zt = ZD_ZONE_NORMAL;
	return zt;
}

static int block_online(struct zd_machine *m, struct zd_memory_block *mb, enum zd_zone_type zt)
{
	uint64_t pfn = block_pfn(m, mb), nr = m->memory_block_size >> m->arch.page_shift;
	int rc = zd_online_pages(m, pfn, nr, &m->node_data[mb->nid]->node_zones[zt]);

	if (!rc) {
		mb->state = ZD_MEM_ONLINE;
		mb->zone = zt;
	}
	return rc;
}

static int block_offline(struct zd_machine *m, struct zd_memory_block *mb)
{
	int rc;

	/* memory_block_offline(): a block spanning zones has no zone and
	 * cannot go offline. */
	if (mb->zone == ZD_MEMBLOCK_ZONE_NONE) {
		zd_pr_err(m, "memory: memory%llu spans more than one zone; it cannot be offlined",
			  ULL(mb->id));
		return -EINVAL;
	}
	mb->state = ZD_MEM_GOING_OFFLINE;
	rc = zd_offline_pages(m, block_pfn(m, mb), m->memory_block_size >> m->arch.page_shift);
	mb->state = rc ? ZD_MEM_ONLINE : ZD_MEM_OFFLINE;
	return rc;
}

static int parse_online_type(const char *s, enum zd_online_type *t)
{
	static const char *const names[] = { "offline", "online", "online_kernel", "online_movable" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*t = (enum zd_online_type)i;
			return 0;
		}
	return -EINVAL;
}

/* memory_block_change_state() for one block; caller holds device_hotplug_lock.
 * zone >= 0 puts an onlined block back into that zone (rollback). */
static int block_change_state(struct zd_machine *m, uint64_t id, enum zd_online_type type, int zone)
{
	struct zd_memory_block *mb;
	int rc;

	zd_lockdep_assert_held(m, m->device_hotplug_owner, "device_hotplug_lock");
	zd_mem_hotplug_begin(m);
	mb = zd_xa_load(m->memory_blocks, id);
	if (!mb) {
		zd_pr_err(m, "memory: memory%llu does not exist", ULL(id));
		rc = -ENODEV;
	} else if ((type == ZD_MMOP_OFFLINE) == (mb->state == ZD_MEM_OFFLINE)) {
		zd_pr_err(m, "memory: memory%llu is already %s", ULL(id),
			  zd_mem_state_name(mb->state));
		rc = -EINVAL;
	} else {
		rc = type == ZD_MMOP_OFFLINE ? block_offline(m, mb) :
		     block_online(m, mb, zone >= 0 ? (enum zd_zone_type)zone : online_zone(m, mb, type));
	}
	zd_mem_hotplug_done(m);
	return rc;
}

int zd_memory_block_online_locked(struct zd_machine *m, uint64_t id, enum zd_online_type type)
{
	return block_change_state(m, id, type, -1);
}

int zd_memory_block_store_state(struct zd_machine *m, uint64_t id, const char *state)
{
	enum zd_online_type type;
	int rc = parse_online_type(state, &type);

	if (rc) {
		zd_pr_err(m, "memory: memory%llu: invalid state \"%s\"", ULL(id), state);
		return rc;
	}
	zd_lock_device_hotplug(m);
	rc = block_change_state(m, id, type, -1);
	zd_unlock_device_hotplug(m);
	return rc;
}

/*
 * Range transitions are all or nothing: a block that fails rolls back the
 * blocks this call already changed.
 */
static int change_range(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			enum zd_online_type type)
{
	uint64_t first = zd_phys_to_block_id(m, start), last = zd_phys_to_block_id(m, start + size);
	int rc = zd_check_hotplug_memory_range(m, start, size);
	uint64_t id;

	if (rc)
		return rc;
	zd_lock_device_hotplug(m);
	for (id = first; id < last && !rc; id++)
		rc = block_change_state(m, id, type, -1);
	if (rc)
		id--;   /* the failed block changed nothing */
	/* Roll back the blocks this call changed; an offlined block still
	 * records the zone it was online in, and goes back exactly there. */
	while (rc && id-- > first) {
		struct zd_memory_block mb;

		if (type != ZD_MMOP_OFFLINE)
			block_change_state(m, id, ZD_MMOP_OFFLINE, -1);
		else if (zd_memory_block_get(m, id, &mb) == 0)
			block_change_state(m, id, ZD_MMOP_ONLINE, (int)mb.zone);
	}
	zd_unlock_device_hotplug(m);
	return rc;
}

int zd_online_memory_range(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			   enum zd_online_type type)
{
	if (type == ZD_MMOP_OFFLINE)
		return zd_offline_memory_range(m, start, size);
	return change_range(m, start, size, type);
}

int zd_offline_memory_range(struct zd_machine *m, phys_addr_t start, phys_addr_t size)
{
	return change_range(m, start, size, ZD_MMOP_OFFLINE);
}

static int for_each_block_locked(struct zd_machine *m, void *arg,
				 int (*fn)(const struct zd_memory_block *mb, void *arg))
{
	uint64_t id = 0;
	struct zd_memory_block *mb;
	int rc = 0;

	while (!rc && (mb = zd_xa_find(m->memory_blocks, &id, UINT64_MAX))) {
		id++;
		rc = fn(mb, arg);
	}
	return rc;
}

int zd_for_each_memory_block(struct zd_machine *m, void *arg,
			     int (*fn)(const struct zd_memory_block *mb, void *arg))
{
	int rc;

	zd_get_online_mems(m);
	rc = for_each_block_locked(m, arg, fn);
	zd_put_online_mems(m);
	return rc;
}

static int show_block(const struct zd_memory_block *mb, void *arg)
{
	void **a = arg;
	struct zd_machine *m = a[0];
	FILE *f = a[1];
	char zones[64];

	valid_zones_locked(m, mb, zones, sizeof(zones));
	fprintf(f, "memory%-6llu %-13s phys_index=%08llx node=%d valid_zones=%s\n", ULL(mb->id),
		zd_mem_state_name(mb->state), ULL(mb->start_section_nr), mb->nid, zones);
	return 0;
}

void zd_memory_blocks_show(struct zd_machine *m, FILE *f)
{
	void *arg[2] = { m, f };

	fprintf(f, "block_size_bytes %llx\n", ULL(m->memory_block_size));
	zd_for_each_memory_block(m, arg, show_block);
}
