/*
 * Memory hotplug (mm/memory_hotplug.c): System RAM add/remove through
 * memory blocks, the direct __add_pages path ZONE_DEVICE uses, online and
 * offline of pfn ranges, zone spans, and pfn_to_online_page().
 * Invariants: every entry point checks its arguments before changing
 * anything and undoes its own partial work on failure, so a rejected call
 * leaves sections, zones, blocks and the resource tree as they were; the
 * hotplug lock is a rwlock taken for writing by every change.
 */
#include <zonedev/err.h>
#include <zonedev/gfp.h>
#include <zonedev/memory.h>
#include <zonedev/memory_hotplug.h>
#include <string.h>
#include "base/lockdep.h"
#include "base/rcu.h"
#include "mm/internal.h"
#include "base/align.h"
#include "base/rwlock.h"

void zd_mem_hotplug_begin(struct zd_machine *m)
{
	pthread_rwlock_wrlock(ZD_RWLOCK(&m->mem_hotplug_lock));
	zd_lock_set_owner(&m->mem_hotplug_writer);
}

void zd_mem_hotplug_done(struct zd_machine *m)
{
	zd_lock_clear_owner(&m->mem_hotplug_writer);
	pthread_rwlock_unlock(ZD_RWLOCK(&m->mem_hotplug_lock));
}

void zd_lock_device_hotplug(struct zd_machine *m)
{
	pthread_mutex_lock(&m->device_hotplug_lock);
	zd_lock_set_owner(&m->device_hotplug_owner);
}

void zd_unlock_device_hotplug(struct zd_machine *m)
{
	zd_lock_clear_owner(&m->device_hotplug_owner);
	pthread_mutex_unlock(&m->device_hotplug_lock);
}
void zd_get_online_mems(struct zd_machine *m) { pthread_rwlock_rdlock(ZD_RWLOCK(&m->mem_hotplug_lock)); }
void zd_put_online_mems(struct zd_machine *m) { pthread_rwlock_unlock(ZD_RWLOCK(&m->mem_hotplug_lock)); }


static uint64_t section_align_up(const struct zd_arch *a, uint64_t pfn)
{
	return (pfn + a->pages_per_section) & ~(a->pages_per_section - 1);
}

/* check_pfn_span(): sub-section granularity with the vmemmap. */
static int check_pfn_span(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	uint64_t min_align = m->arch.pages_per_subsection;

	return !nr || (pfn | nr) & (min_align - 1) ? -EINVAL : 0;
}

bool zd_mhp_range_allowed(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			  bool need_mapping)
{
	phys_addr_t lo = 0, hi = zd_direct_map_physmem_end(m);

	/* arm64's linear map (and so its vmemmap) starts at memstart. */
	if (need_mapping && m->arch.coverage == ZD_VMEMMAP_COVERS_LINEAR_MAP)
		lo = zd_pfn_phys(&m->arch, m->vmemmap_start_pfn);
	if (start < start + size && start >= lo && start + size - 1 <= hi)
		return true;
	zd_pr_warn(m, "Hotplug memory [0x%llx-0x%llx] exceeds maximum addressable range [0x%llx-0x%llx]",
		   ULL(start), ULL(start + size), ULL(lo), ULL(hi));
	return false;
}

int zd___add_pages(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr,
		   struct zd_mhp_params *params)
{
	const struct zd_arch *a = &m->arch;
	struct zd_vmem_altmap *altmap = params->altmap;
	uint64_t end = pfn + nr;
	int rc = 0;

	zd_lockdep_assert_held(m, m->mem_hotplug_writer, "mem_hotplug_lock");
	if (ZD_WARN(m, !params->pgprot, "__add_pages with an empty pgprot"))
		return -EINVAL;
	/* The kernel BUGs on a range outside the pluggable one (VM_BUG_ON);
	 * zonedev refuses with -E2BIG. Then the kernel's order: the altmap,
	 * then the span, whose misalignment is a caller bug (WARN). */
	if (nr && !zd_mhp_range_allowed(m, zd_pfn_phys(a, pfn), zd_pfn_phys(a, nr), false))
		return -E2BIG;
	if (altmap) {
		if (altmap->base_pfn != pfn || zd_vmem_altmap_offset(altmap) > nr) {
			zd_pr_warn(m, "memory add fail, invalid altmap");
			return -EINVAL;
		}
		altmap->alloc = 0;
	}
	if (ZD_WARN(m, check_pfn_span(m, pfn, nr), "Misaligned __add_pages start: 0x%llx end: 0x%llx "
		    "(need %llu-page alignment)", ULL(pfn), ULL(pfn + nr - 1),
		    ULL(a->pages_per_subsection)))
		return -EINVAL;
	if (!zd_vmemmap_covers(m, pfn, nr)) {
		zd_pr_err(m, "memory add fail: pfn 0x%llx-0x%llx has no vmemmap on %s (covers 0x%llx-0x%llx)",
			  ULL(pfn), ULL(end - 1), a->name, ULL(m->vmemmap_start_pfn),
			  ULL(m->vmemmap_end_pfn - 1));
		return -ERANGE;
	}
	/* Device memmap is initialised as soon as it is added; RAM's only
	 * when its blocks are onlined, which checks for itself, unless
	 * CONFIG_DEBUG_VM poisons every new struct page right here. */
	if (nr && (params->pgmap || m->debug_vm)) {
		char what[96];

		snprintf(what, sizeof(what), "adding [mem 0x%llx-0x%llx]", ULL(zd_pfn_phys(a, pfn)),
			 ULL(zd_pfn_phys(a, end) - 1));
		rc = zd_host_mem_guard(m, zd_vmemmap_host_bytes(m, nr, altmap, params->pgmap), what,
				       params->pgmap ? "the memmap on the device (map=dev), a "
				       "compound devdax alignment (deduplicated memmap) or a smaller "
				       "range" : "a smaller range, or debug_vm off (its poison "
				       "writes every struct page at add)");
		if (rc)
			return rc;
	}
	zd_vmemmap_batch_begin(m, pfn, nr, altmap, params->pgmap, false);
	for (uint64_t p = pfn; p < end; ) {
		uint64_t cur = section_align_up(a, p) - p;
		if (cur > end - p)
			cur = end - p;
		if (!(zd_pfn_section_nr(a, p) % ZD_PROGRESS_SECTIONS))
			zd_progress(m, "__add_pages", p - pfn, nr);
		rc = zd_sparse_add_section(m, nid, p, cur, altmap, params->pgmap);
		if (rc) {
			/* Undo the sections already added so a failure changes nothing
			 * (the kernel leaves that to its callers). */
			if (p > pfn)
				zd___remove_pages(m, pfn, p - pfn, altmap);
			break;
		}
		p += cur;
	}
	zd_vmemmap_batch_end(m, !rc);
	return rc;
}

void zd___remove_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr,
		       struct zd_vmem_altmap *altmap)
{
	const struct zd_arch *a = &m->arch;
	uint64_t end = pfn + nr;

	zd_lockdep_assert_held(m, m->mem_hotplug_writer, "mem_hotplug_lock");
	if (ZD_WARN(m, check_pfn_span(m, pfn, nr), "Misaligned __remove_pages start: 0x%llx end: 0x%llx",
		    ULL(pfn), ULL(pfn + nr - 1)))
		return;
	/* the rollback of a failed add stays inside the add's batch */
	bool batch = m->vmemmap_batch.lo == m->vmemmap_batch.hi;

	if (batch)
		zd_vmemmap_batch_begin(m, pfn, nr, altmap, NULL, true);
	for (uint64_t p = pfn; p < end; ) {
		uint64_t cur = section_align_up(a, p) - p;
		if (cur > end - p)
			cur = end - p;
		zd_sparse_remove_section(m, p, cur, altmap);
		p += cur;
	}
	if (batch)
		zd_vmemmap_batch_end(m, true);
}

/* update_end_of_memory_vars(): max_pfn only grows. */
static void update_end_of_memory_vars(struct zd_machine *m, uint64_t end_pfn)
{
	if (end_pfn > m->max_pfn) {
		__atomic_store_n(&m->max_pfn, end_pfn, __ATOMIC_RELAXED);
		__atomic_store_n(&m->max_low_pfn, end_pfn, __ATOMIC_RELAXED);
	}
}

/*
 * add_pages(), the per-arch hook (ARCH_HAS_ADD_PAGES): x86 raises max_pfn
 * unless the pages belong to a pgmap (device memory, 2025); powerpc raises
 * it for every caller; arm64 has no override, so the generic add_pages()
 * is __add_pages() alone. memremap_pages() adds device-private memory
 * through this, everything else through arch_add_memory().
 */
int zd_add_pages(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr,
		 struct zd_mhp_params *params)
{
	int rc = zd___add_pages(m, nid, pfn, nr, params);

	if (rc)
		return rc;
	if ((m->arch.family == ZD_ARCH_X86 && !params->pgmap) || m->arch.family == ZD_ARCH_PPC64)
		update_end_of_memory_vars(m, pfn + nr);
	return 0;
}

/* arch_add_memory(): x86 and powerpc go through add_pages(); arm64 adds
 * the pages and raises max_pfn for every caller, pgmaps included. */
int zd_arch_add_memory(struct zd_machine *m, int nid, phys_addr_t start, phys_addr_t size,
		       struct zd_mhp_params *params)
{
	const struct zd_arch *a = &m->arch;
	uint64_t pfn = zd_phys_pfn(a, start), nr = zd_phys_pfn(a, size);
	int rc;

	if (a->family != ZD_ARCH_ARM64)
		return zd_add_pages(m, nid, pfn, nr, params);
	rc = zd___add_pages(m, nid, pfn, nr, params);
	if (!rc)
		update_end_of_memory_vars(m, pfn + nr);
	return rc;
}

void zd_arch_remove_memory(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			   struct zd_vmem_altmap *altmap)
{
	zd___remove_pages(m, zd_phys_pfn(&m->arch, start), zd_phys_pfn(&m->arch, size), altmap);
}

int zd_check_hotplug_memory_range(struct zd_machine *m, phys_addr_t start, phys_addr_t size)
{
	uint64_t block = m->memory_block_size;

	if (!size || start % block || size % block) {
		zd_pr_err(m, "Block size [0x%llx] unaligned hotplug range: start 0x%llx, size 0x%llx",
			  ULL(block), ULL(start), ULL(size));
		return -EINVAL;
	}
	return 0;
}

void zd_resize_range(uint64_t *start, uint64_t *spanned, uint64_t pfn, uint64_t nr)
{
	uint64_t old_end = *start + *spanned;

	if (!*spanned || pfn < *start)
		*start = pfn;
	if (!*spanned || pfn + nr > old_end)
		old_end = pfn + nr;
	*spanned = old_end - *start;
}

void zd_move_pfn_range_to_zone(struct zd_machine *m, struct zd_zone *zone, uint64_t pfn,
			       uint64_t nr, struct zd_vmem_altmap *altmap, int migratetype)
{
	struct zd_pglist_data *pgdat = zone->zone_pgdat;
	const struct zd_arch *a = &m->arch;

	zd_lockdep_assert_held(m, m->mem_hotplug_writer, "mem_hotplug_lock");
	if (zd_zone_is_empty(zone))
		zd_init_currently_empty_zone(zone, pfn, nr);
	zd_resize_range(&zone->zone_start_pfn, &zone->spanned_pages, pfn, nr);
	zd_resize_range(&pgdat->node_start_pfn, &pgdat->node_spanned_pages, pfn, nr);
	if (zone->idx == ZD_ZONE_DEVICE) {
		if (pfn & (a->pages_per_section - 1))
			zd_section_taint_zone_device(m, pfn);
		if ((pfn + nr) & (a->pages_per_section - 1))
			zd_section_taint_zone_device(m, pfn + nr);
	}
	zd_memmap_init_range(m, nr, pgdat->node_id, (int)zone->idx, pfn, altmap, migratetype, true);
}

/* Is p (a sub-section start) an online pfn of zone? */
static bool zone_pfn(struct zd_machine *m, struct zd_zone *zone, uint64_t p)
{
	struct zd_page *page = zd_pfn_to_online_page(m, p);

	return page && zd_page_zone(m, page) == zone;
}

/*
 * shrink_zone_span(): only a range removed at an edge of the zone moves that
 * edge, to the first sub-section still in the zone (validity is uniform
 * inside a sub-section, as find_smallest/biggest_section_pfn use); a range
 * from the middle leaves the span alone.
 */
static void shrink_zone_span(struct zd_machine *m, struct zd_zone *zone, uint64_t pfn, uint64_t nr)
{
	uint64_t step = m->arch.pages_per_subsection;
	uint64_t zs = zone->zone_start_pfn, ze = zd_zone_end_pfn(zone), p;

	if (pfn == zs) {
		for (p = pfn + nr; p < ze && !zone_pfn(m, zone, p); p += step)
			;
		zs = p < ze ? p : ze;
	} else if (pfn + nr == ze) {
		for (p = pfn; p > zs && !zone_pfn(m, zone, p - step); p -= step)
			;
		ze = p;
	}
	if (zs >= ze) {
		zone->zone_start_pfn = 0;
		zone->spanned_pages = 0;
	} else {
		zone->zone_start_pfn = zs;
		zone->spanned_pages = ze - zs;
	}
}

static void update_pgdat_span(struct zd_pglist_data *pgdat)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		struct zd_zone *zone = &pgdat->node_zones[z];
		if (zd_zone_is_empty(zone))
			continue;
		if (zone->zone_start_pfn < lo)
			lo = zone->zone_start_pfn;
		if (zd_zone_end_pfn(zone) > hi)
			hi = zd_zone_end_pfn(zone);
	}
	pgdat->node_start_pfn = lo == UINT64_MAX ? 0 : lo;
	pgdat->node_spanned_pages = lo == UINT64_MAX ? 0 : hi - lo;
}

void zd_remove_pfn_range_from_zone(struct zd_machine *m, struct zd_zone *zone, uint64_t pfn,
				   uint64_t nr)
{
	zd_lockdep_assert_held(m, m->mem_hotplug_writer, "mem_hotplug_lock");
	/* ZONE_DEVICE spans never shrink; its memmap is poisoned by
	 * memunmap_pages(), which knows whether it is deduplicated. */
	if (zone->idx == ZD_ZONE_DEVICE)
		return;
	/* CONFIG_DEBUG_VM: the struct pages stay mapped until remove; poison
	 * them now. */
	if (m->debug_vm)
		memset(zd_pfn_to_page(m, pfn), 0xff, nr * sizeof(struct zd_page));
	shrink_zone_span(m, zone, pfn, nr);
	update_pgdat_span(zone->zone_pgdat);
}

int zd_online_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr, struct zd_zone *zone)
{
	const struct zd_arch *a = &m->arch;
	struct zd_pglist_data *pgdat = zone->zone_pgdat;
	char what[96];
	int rc;

	if (ZD_WARN(m, !nr || pfn & ((1ULL << a->pageblock_order) - 1) ||
			       (pfn + nr) & (a->pages_per_section - 1),
		    "online_pages of misaligned range 0x%llx + %llu", ULL(pfn), ULL(nr)))
		return -EINVAL;
	/* The first touch of this memmap: hot-add only mapped it. */
	snprintf(what, sizeof(what), "onlining [mem 0x%llx-0x%llx]", ULL(zd_pfn_phys(a, pfn)),
		 ULL(zd_pfn_phys(a, pfn + nr) - 1));
	rc = zd_host_mem_guard(m, zd_vmemmap_host_bytes(m, nr, NULL, NULL), what,
			       "fewer online memory blocks");
	if (rc)
		return rc;
	zd_move_pfn_range_to_zone(m, zone, pfn, nr, NULL, ZD_MIGRATE_MOVABLE);
	zd_online_mem_sections(m, pfn, pfn + nr);
	zone->present_pages += nr;
	pgdat->node_present_pages += nr;
	zd_generic_online_pages(m, pfn, nr);
	return 0;
}

static int count_ram(uint64_t pfn, uint64_t nr, void *arg)
{
	(void)pfn;
	*(uint64_t *)arg += nr;
	return 0;
}

int zd_offline_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	const struct zd_arch *a = &m->arch;
	uint64_t ram = 0;
	struct zd_zone *zone;
	int rc;

	if (ZD_WARN(m, !nr || pfn & ((1ULL << a->pageblock_order) - 1) ||
			       (pfn + nr) & (a->pages_per_section - 1),
		    "offline_pages of misaligned range 0x%llx + %llu", ULL(pfn), ULL(nr)))
		return -EINVAL;
	zd_walk_system_ram_range(m, pfn, nr, &ram, count_ram);
	if (ram != nr) {
		zd_pr_warn(m, "memory offlining [mem 0x%llx-0x%llx] failed due to memory holes",
			   ULL(zd_pfn_phys(a, pfn)), ULL(zd_pfn_phys(a, pfn + nr) - 1));
		return -EINVAL;
	}
	zone = zd_page_zone(m, zd_pfn_to_page(m, pfn));
	/* Zones meet on pageblock boundaries (ZONE_DMA ends at 16 MiB). */
	for (uint64_t p = pfn; p < pfn + nr; p += 1ULL << a->pageblock_order) {
		if (zd_page_zone(m, zd_pfn_to_page(m, p)) != zone) {
			zd_pr_warn(m, "memory offlining [mem 0x%llx-0x%llx] failed: range spans zones",
				   ULL(zd_pfn_phys(a, pfn)), ULL(zd_pfn_phys(a, pfn + nr) - 1));
			return -EINVAL;
		}
	}
	/* start_isolate_page_range(): no allocation takes a page of the range
	 * while it empties (a fault racing the migrations would) */
	zd_isolate_pageblocks(m, pfn, nr, true);
	/* do_migrate_range(): in-use anonymous pages move away and the range
	 * is tried again; a few rounds, where the kernel retries until a
	 * signal, then what is left (kernel pages, tables, pins) is EBUSY */
	for (int round = 0;; round++) {
		bool last = round == 4;

		rc = zd_isolate_free_range(m, pfn, nr, !last);
		if (rc != -EBUSY || last)
			break;
		if (zd_migrate_range(m, pfn, nr) <= 0) {
			rc = zd_isolate_free_range(m, pfn, nr, false);   /* says what is left */
			break;
		}
	}
	/* isolated blocks are off the free lists once offline; after a
	 * failure they are movable again */
	zd_isolate_pageblocks(m, pfn, nr, false);
	if (rc) {
		zd_pr_warn(m, "memory offlining [mem 0x%llx-0x%llx] failed due to failure to isolate range",
			   ULL(zd_pfn_phys(a, pfn)), ULL(zd_pfn_phys(a, pfn + nr) - 1));
		return rc;
	}
	zd_offline_mem_sections(m, pfn, pfn + nr);
	zone->present_pages -= nr;
	zone->zone_pgdat->node_present_pages -= nr;
	zd_remove_pfn_range_from_zone(m, zone, pfn, nr);
	return 0;
}

struct zd_page *zd_pfn_to_online_page(struct zd_machine *m, uint64_t pfn)
{
	const struct zd_arch *a = &m->arch;
	struct zd_mem_section *ms;
	bool online;
	unsigned idx;

	if (zd_pfn_section_nr(a, pfn) >= a->nr_mem_sections)
		return NULL;
	/* The usage (sub-section map) may be freed by a concurrent hot-remove
	 * once the section is unpublished; read it inside the grace period. */
	idx = zd_rcu_read_lock(&m->rcu);
	ms = zd_pfn_to_section(m, pfn);
	online = zd_online_section(ms) && zd_pfn_section_valid(ms, a, pfn);
	/* A tainted section mixes RAM with device memory: device pfns are
	 * never online. */
	if (online && zd_online_device_section(ms))
		online = zd_page_is_ram(m, pfn);
	zd_rcu_read_unlock(&m->rcu, idx);
	return online ? zd_pfn_to_page(m, pfn) : NULL;
}

/* "System RAM", or a driver's "System RAM (name)", which the kernel marks
 * driver-managed (kexec will not treat it as boot RAM). */
static struct zd_resource *register_memory_resource(struct zd_machine *m, phys_addr_t start,
						    phys_addr_t size, const char *name)
{
	unsigned long flags = ZD_IORESOURCE_SYSRAM;
	struct zd_resource *res;

	if (strcmp(name, "System RAM"))
		flags |= ZD_IORESOURCE_SYSRAM_DRIVER_MANAGED;
	if (!zd_mhp_range_allowed(m, start, size, true))
		return ZD_ERR_PTR(-E2BIG);
	res = __zd_request_region(m, &m->iomem_resource, start, size, name, flags);
	if (!res) {
		zd_pr_warn(m, "Unable to reserve System RAM region: %016llx->%016llx", ULL(start),
			   ULL(start + size - 1));
		return ZD_ERR_PTR(-EEXIST);
	}
	return res;
}

static int add_memory_resource(struct zd_machine *m, int nid, phys_addr_t start, phys_addr_t size,
			       const char *name)
{
	const struct zd_arch *a = &m->arch;
	struct zd_mhp_params params = { .pgprot = 1 };
	struct zd_resource *res;
	bool was_online;
	int rc;

	zd_lock_device_hotplug(m);
	if (nid < 0 || nid >= m->nr_nodes) {
		ZD_WARN(m, true, "add_memory: node %d is not possible (machine has %d)", nid,
			m->nr_nodes);
		rc = -EINVAL;
		goto out;
	}
	res = register_memory_resource(m, start, size, name);
	if (ZD_IS_ERR(res)) {
		rc = (int)ZD_PTR_ERR(res);
		goto out;
	}
	rc = zd_check_hotplug_memory_range(m, start, size);
	if (rc)
		goto release;
	zd_mem_hotplug_begin(m);
	was_online = m->node_data[nid]->online;
	m->node_data[nid]->online = true;
	rc = zd_arch_add_memory(m, nid, start, size, &params);
	if (!rc) {
		rc = zd_create_memory_block_devices(m, start, size, nid, ZD_MEM_OFFLINE,
						    ZD_ZONE_NORMAL);
		if (rc)
			zd_arch_remove_memory(m, start, size, NULL);
	}
	if (!rc) {
		rc = zd_physmem_map_ram(m, zd_phys_pfn(a, start), zd_phys_pfn(a, size));
		if (rc) {
			zd_remove_memory_block_devices(m, start, size);
			zd_arch_remove_memory(m, start, size, NULL);
		}
	}
	if (rc)
		m->node_data[nid]->online = was_online;   /* try_offline_node() on error */
	zd_mem_hotplug_done(m);
	if (!rc) {
		zd_pr_info(m, "hotplug: added [mem 0x%016llx-0x%016llx] to node %d (%llu blocks)",
			   ULL(start), ULL(start + size - 1), nid, ULL(size / m->memory_block_size));
		/* auto_online_blocks: the policy onlines each new block at once
		 * (a block that fails stays offline, as device_online() leaves it). */
		if (m->auto_online_blocks != ZD_MMOP_OFFLINE)
			for (uint64_t id = zd_phys_to_block_id(m, start);
			     id < zd_phys_to_block_id(m, start + size); id++)
				zd_memory_block_online_locked(m, id, m->auto_online_blocks);
		goto out;
	}
release:
	zd_release_mem_region(m, start, size);
out:
	zd_unlock_device_hotplug(m);
	return rc;
}

int zd_add_memory(struct zd_machine *m, int nid, phys_addr_t start, phys_addr_t size,
		  unsigned flags)
{
	(void)flags;
	return add_memory_resource(m, nid, start, size, "System RAM");
}

int zd_add_memory_driver_managed(struct zd_machine *m, int nid, phys_addr_t start,
				 phys_addr_t size, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	/* The kernel insists on "System RAM ($DRIVER)". */
	if (n < 14 || strncmp(name, "System RAM (", 12) || name[n - 1] != ')') {
		zd_pr_err(m, "add_memory_driver_managed: resource name \"%s\" is not \"System RAM "
			  "($DRIVER)\"", name ? name : "");
		return -EINVAL;
	}
	return add_memory_resource(m, nid, start, size, name);
}

struct ram_cover {
	struct zd_machine *m;
	phys_addr_t start, end, covered;
	int rc;
};

/* The outermost busy resources over the range must be System RAM (at any
 * depth, e.g. under a Soft Reserved window or a kmem dax region); they may
 * extend beyond it — release trims them, as the kernel does. */
static int cover_cb(const struct zd_resource *r, void *arg)
{
	struct ram_cover *c = arg;
	phys_addr_t lo, hi;

	if (!(r->flags & ZD_IORESOURCE_BUSY) || (r->parent && r->parent->flags & ZD_IORESOURCE_BUSY))
		return 0;
	if (!zd_resource_type_match(r, ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE)) {
		zd_pr_err(c->m, "remove_memory: [mem 0x%llx-0x%llx] overlaps [mem 0x%llx-0x%llx] \"%s\", "
			  "which is not System RAM", ULL(c->start), ULL(c->end), ULL(r->start),
			  ULL(r->end), r->name);
		c->rc = -EINVAL;
		return 1;
	}
	lo = r->start > c->start ? r->start : c->start;
	hi = r->end < c->end ? r->end : c->end;
	c->covered += hi - lo + 1;
	return 0;
}

/* The kernel BUGs or WARNs when asked to remove what is not RAM; zonedev
 * refuses such a range up front instead. */
static int check_ram_resources(struct zd_machine *m, phys_addr_t start, phys_addr_t size)
{
	struct ram_cover c = { .m = m, .start = start, .end = start + size - 1 };

	zd_walk_iomem_res(m, c.start, c.end, &c, cover_cb);
	if (!c.rc && c.covered != size) {
		zd_pr_err(m, "remove_memory: [mem 0x%llx-0x%llx] is not all System RAM", ULL(start),
			  ULL(start + size - 1));
		c.rc = -EINVAL;
	}
	return c.rc;
}

int zd_remove_memory(struct zd_machine *m, phys_addr_t start, phys_addr_t size)
{
	const struct zd_arch *a = &m->arch;
	int rc;

	zd_lock_device_hotplug(m);
	rc = zd_check_hotplug_memory_range(m, start, size);
	if (!rc)
		rc = check_ram_resources(m, start, size);
	if (!rc)
		rc = zd_memory_blocks_all_offline(m, start, size);
	if (rc)
		goto out;
	zd_mem_hotplug_begin(m);
	zd_remove_memory_block_devices(m, start, size);
	zd_physmem_unmap_ram(m, zd_phys_pfn(a, start), zd_phys_pfn(a, size));
	zd_arch_remove_memory(m, start, size, NULL);
	zd_mem_hotplug_done(m);
	/* Checked above to be all busy System RAM, so all of it goes. */
	ZD_WARN(m, zd_release_mem_region_adjustable(m, start, size) != size,
		"remove_memory: System RAM over [mem 0x%llx-0x%llx] not fully released",
		ULL(start), ULL(start + size - 1));
	zd_pr_info(m, "hotplug: removed [mem 0x%016llx-0x%016llx]", ULL(start),
		   ULL(start + size - 1));
out:
	zd_unlock_device_hotplug(m);
	return rc;
}
