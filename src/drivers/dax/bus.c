/*
 * The dax bus (drivers/dax/bus.c): which driver a daxN.0 device is bound
 * to, and daxctl reconfigure-device's sequence on top of it — devdax
 * (device_dax, a character device over ZONE_DEVICE pages) or system-ram
 * (kmem, the range hot-added as RAM). The daxctl side follows ndctl 76:
 * it refuses (-EBUSY) to ask for movable or unonlined memory when the
 * kernel's auto_online_blocks policy would online the blocks first, onlines
 * the blocks itself (online_movable unless told otherwise), and going back
 * to devdax offlines them only when forced.
 * Invariant: a failed reconfigure leaves the device bound to a driver (the
 * one it had if the new one could not bind) and the namespace as it was.
 */
#include <zonedev/err.h>
#include <zonedev/memory.h>
#include <string.h>
#include "drivers/nvdimm/nd.h"
#include "base/align.h"


struct blocks {
	unsigned total, online, movable;
};

static int count_block(const struct zd_memory_block *mb, void *arg)
{
	void **a = arg;
	struct zd_nd_region *r = a[0];
	struct blocks *b = a[1];
	phys_addr_t start = mb->id * zd_memory_block_size_bytes(r->m);

	if (start < r->kmem_start || start >= r->kmem_start + r->kmem_size)
		return 0;
	b->total++;
	if (mb->state == ZD_MEM_ONLINE) {
		b->online++;
		b->movable += mb->zone == ZD_ZONE_MOVABLE;
	}
	return 0;
}

static void kmem_blocks(struct zd_nd_region *r, struct blocks *b)
{
	void *arg[2] = { r, b };

	*b = (struct blocks){ 0 };
	if (r->kmem_res)
		zd_for_each_memory_block(r->m, arg, count_block);
}

static bool is_kmem(const struct zd_nd_region *r)
{
	return r->claim && r->claim->driver == &zd_dax_kmem_driver;
}

int zd_dax_info_get(struct zd_nd_region *r, struct zd_dax_info *out)
{
	struct blocks b;

	memset(out, 0, sizeof(*out));
	if (r->mode != ZD_NS_MODE_DEVDAX || !r->claim)
		return -ENODEV;
	snprintf(out->chardev, sizeof(out->chardev), "%.15s", r->claim->name);
	out->mode = is_kmem(r) ? ZD_DAX_MODE_SYSTEM_RAM : ZD_DAX_MODE_DEVDAX;
	out->size = r->layout.data_size;
	out->align = r->info.align;
	out->target_node = r->node;
	kmem_blocks(r, &b);
	out->total_memblocks = b.total;
	out->online_memblocks = b.online;
	out->movable = b.total && b.movable == b.total;
	out->kmem_start = r->kmem_start;
	out->kmem_size = r->kmem_res ? r->kmem_size : 0;
	out->stuck = r->kmem_stuck;
	return 0;
}

/* Swap the driver of daxN.0; if the new one will not bind, the old one
 * comes back (its probe redoes the memremap and claims). */
static int rebind(struct zd_nd_region *r, const struct zd_device_driver *to)
{
	const struct zd_device_driver *from = r->claim->driver;
	int rc;

	zd_device_release_driver(r->claim);
	rc = zd_device_bind(r->claim, to);
	if (rc && from && zd_device_bind(r->claim, from))
		zd_pr_err(r->m, "%s: could not rebind %s either", r->claim->name, from->name);
	return rc;
}

/* daxctl online-memory: the offline blocks of the range, movable unless
 * no_movable; -EBUSY when a block the policy onlined is not where asked. */
static int online_memory(struct zd_nd_region *r, bool movable)
{
	uint64_t block = zd_memory_block_size_bytes(r->m);
	unsigned already = 0, fresh = 0;
	struct blocks b;
	int rc = 0;

	for (phys_addr_t a = r->kmem_start; a < r->kmem_start + r->kmem_size && !rc; a += block) {
		struct zd_memory_block mb;
		uint64_t id = zd_phys_to_block_id(r->m, a);

		if (zd_memory_block_get(r->m, id, &mb))
			continue;
		if (mb.state == ZD_MEM_ONLINE) {
			already++;
			continue;
		}
		rc = zd_memory_block_store_state(r->m, id, movable ? "online_movable" : "online");
		fresh += !rc;
	}
	zd_pr_info(r->m, "%s: %u new memory block%s onlined%s", r->claim->name, fresh,
		   fresh == 1 ? "" : "s", already ? ", others were already online" : "");
	kmem_blocks(r, &b);
	if (!rc && movable && b.movable != b.total) {
		zd_pr_warn(r->m, "%s: WARNING: detected a race while onlining memory: some memory "
			   "is not in ZONE_MOVABLE", r->claim->name);
		rc = -EBUSY;
	}
	return rc;
}

static int to_system_ram(struct zd_nd_region *r, const struct zd_dax_reconfigure_opts *o)
{
	struct zd_machine *m = r->m;
	int rc;

	if (is_kmem(r)) {
		zd_pr_info(m, "%s: already in system-ram mode", r->claim->name);
		return 0;
	}
	/* daxctl cannot keep the blocks offline or movable if the kernel
	 * onlines them on its own. */
	if ((o->no_online || !o->no_movable) && !o->force && m->auto_online_blocks != ZD_MMOP_OFFLINE) {
		zd_pr_err(m, "%s: error: kernel policy will auto-online memory, aborting",
			  r->claim->name);
		return -EBUSY;
	}
	rc = rebind(r, &zd_dax_kmem_driver);
	if (rc)
		return rc;
	return o->no_online ? 0 : online_memory(r, !o->no_movable);
}

/* daxctl offline-memory: the online blocks of the range, in order; the
 * first that will not go stops it (the others stay as they are). */
static int offline_memory(struct zd_nd_region *r)
{
	uint64_t block = zd_memory_block_size_bytes(r->m);

	for (phys_addr_t a = r->kmem_start; a < r->kmem_start + r->kmem_size; a += block) {
		struct zd_memory_block mb;
		uint64_t id = zd_phys_to_block_id(r->m, a);
		int rc;

		if (zd_memory_block_get(r->m, id, &mb) || mb.state != ZD_MEM_ONLINE)
			continue;
		rc = zd_memory_block_store_state(r->m, id, "offline");
		if (rc) {
			zd_pr_err(r->m, "%s: memory%llu cannot go offline (%s); still system-ram",
				  r->claim->name, ULL(id), zd_errno_name(rc));
			return rc;
		}
	}
	return 0;
}

static int to_devdax(struct zd_nd_region *r, const struct zd_dax_reconfigure_opts *o)
{
	struct blocks b;
	int rc;

	if (!is_kmem(r)) {
		zd_pr_info(r->m, "%s: already in devdax mode", r->claim->name);
		return 0;
	}
	kmem_blocks(r, &b);
	if (b.online && !o->force) {
		zd_pr_err(r->m, "%s: %u memory block%s online: offline them, or use --force",
			  r->claim->name, b.online, b.online == 1 ? " is" : "s are");
		return -EBUSY;
	}
	rc = offline_memory(r);
	return rc ? rc : rebind(r, &zd_device_dax_driver);
}

int zd_dax_reconfigure_device(struct zd_nd_region *r, const struct zd_dax_reconfigure_opts *o)
{
	if (r->mode != ZD_NS_MODE_DEVDAX || !r->claim) {
		zd_pr_err(r->m, "region%d: no dax device (namespace%d.0 is %s)", r->id, r->id,
			  zd_nd_ns_mode_name(r->mode));
		return -ENODEV;
	}
	if (r->kmem_stuck) {
		zd_pr_err(r->m, "%s: its memory could not be removed; it stays until reboot",
			  r->claim->name);
		return -EBUSY;
	}
	return o->mode == ZD_DAX_MODE_SYSTEM_RAM ? to_system_ram(r, o) : to_devdax(r, o);
}

/* The memory operations need the range kmem hot-added. */
static int kmem_only(struct zd_nd_region *r)
{
	if (r->mode != ZD_NS_MODE_DEVDAX || !r->claim) {
		zd_pr_err(r->m, "region%d: no dax device (namespace%d.0 is %s)", r->id, r->id,
			  zd_nd_ns_mode_name(r->mode));
		return -ENODEV;
	}
	if (!is_kmem(r) || !r->kmem_res) {
		zd_pr_err(r->m, "%s: memory operations are not applicable in devdax mode",
			  r->claim->name);
		return -ENXIO;
	}
	return 0;
}

int zd_dax_online_memory(struct zd_nd_region *r, bool movable)
{
	int rc = kmem_only(r);

	return rc ? rc : online_memory(r, movable);
}

int zd_dax_offline_memory(struct zd_nd_region *r)
{
	int rc = kmem_only(r);

	return rc ? rc : offline_memory(r);
}
