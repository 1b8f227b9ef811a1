/*
 * ZONE_DEVICE core (mm/memremap.c): memremap_pages()/memunmap_pages(),
 * the pfn -> pgmap lookup, per-type page lifetime and the 2026
 * device-private address space (memremap_device_private_pagemap()).
 * Invariants: setup is all or nothing — a failing range undoes the ranges
 * before it and nr_range is restored; the pgmap_array entry is published
 * before pages exist and erased (with a grace period) only after they are
 * gone; refcounts follow v6.15+ (idle device pages at 0, GENERIC at 1).
 */
#include <zonedev/device.h>
#include <zonedev/err.h>
#include <zonedev/fault-inject.h>
#include <zonedev/gfp.h>
#include <zonedev/memremap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "base/list.h"
#include "base/rangemap.h"
#include "mm/internal.h"
#include "base/align.h"


static const char *const type_names[] = {
	"invalid", "private", "coherent", "fsdax", "generic", "p2pdma",
};

const char *zd_memory_type_name(enum zd_memory_type type)
{
	return (unsigned)type < sizeof(type_names) / sizeof(type_names[0]) ? type_names[type]
									  : "invalid";
}

void zd_dev_pagemap_init(struct zd_dev_pagemap *pgmap)
{
	memset(pgmap, 0, sizeof(*pgmap));
	pgmap->backing_fd = -1;
	pgmap->altmap.backing_fd = -1;
}

uint64_t zd_page_to_pfn_misuse(const struct zd_machine *m, const struct zd_page *p)
{
	ZD_WARN((struct zd_machine *)m, true,
		"page_to_pfn() on struct page %p outside the vmemmap: a device-private page "
		"of the dpa design has an offset, not a pfn", (const void *)p);
	return ZD_BAD_PFN;
}

static uint64_t pfn_first(struct zd_dev_pagemap *pgmap, int range_id)
{
	const struct zd_arch *a = &pgmap->machine->arch;
	uint64_t pfn = zd_phys_pfn(a, pgmap->ranges[range_id].start);

	return range_id == 0 ? pfn + zd_vmem_altmap_offset(zd_pgmap_altmap(pgmap)) : pfn;
}

static uint64_t pfn_end(struct zd_dev_pagemap *pgmap, int range_id)
{
	const struct zd_range *r = &pgmap->ranges[range_id];

	return zd_phys_pfn(&pgmap->machine->arch, r->start + zd_range_len(r));
}

static uint64_t pfn_len(struct zd_dev_pagemap *pgmap, int range_id)
{
	return (pfn_end(pgmap, range_id) - pfn_first(pgmap, range_id)) >> pgmap->vmemmap_shift;
}

static bool holds_bulk_refs(const struct zd_dev_pagemap *pgmap)
{
	return pgmap->type != ZD_MEMORY_DEVICE_PRIVATE && pgmap->type != ZD_MEMORY_DEVICE_COHERENT;
}

bool zd_pgmap_pfn_valid(struct zd_dev_pagemap *pgmap, unsigned long pfn)
{
	for (int i = 0; i < pgmap->nr_range; i++)
		if (pfn >= zd_phys_pfn(&pgmap->machine->arch, pgmap->ranges[i].start) &&
		    pfn < pfn_end(pgmap, i))
			return pfn >= pfn_first(pgmap, i);
	return false;
}

struct zd_dev_pagemap *zd_get_dev_pagemap(struct zd_machine *m, unsigned long pfn)
{
	struct zd_dev_pagemap *pgmap;
	unsigned idx = zd_rcu_read_lock(&m->rcu);

	pgmap = zd_rangemap_lookup(&m->pgmap_array, pfn);
	if (pgmap && !zd_percpu_ref_tryget_live(&pgmap->ref))
		pgmap = NULL;
	zd_rcu_read_unlock(&m->rcu, idx);
	return pgmap;
}

struct pgmap_list {
	struct zd_dev_pagemap **v;
	size_t n, cap;
};

/* One rangemap entry: its pgmap, once (a pgmap has an entry per range),
 * if its reference is still live. Runs inside the RCU read section. */
static int gather_pgmap(uint64_t first, uint64_t last, void *ptr, void *arg)
{
	struct pgmap_list *l = arg;
	struct zd_dev_pagemap *pgmap = ptr;

	(void)first;
	(void)last;
	/* ready first: before it, nothing else of the pgmap may be read */
	if (!pgmap || !__atomic_load_n(&pgmap->ready, __ATOMIC_ACQUIRE))
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == pgmap)
			return 0;
	if (!zd_percpu_ref_tryget_live(&pgmap->ref))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct zd_dev_pagemap **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			zd_put_dev_pagemap(pgmap);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = pgmap;
	return 0;
}

int zd_for_each_dev_pagemap(struct zd_machine *m, void *arg,
			    int (*fn)(struct zd_dev_pagemap *pgmap, void *arg))
{
	struct pgmap_list l = { 0 };
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	int rc = zd_rangemap_for_each(&m->pgmap_array, &l, gather_pgmap);

	if (!rc)
		rc = zd_rangemap_for_each(&m->device_private_space, &l, gather_pgmap);
	zd_rcu_read_unlock(&m->rcu, idx);
	for (size_t i = 0; i < l.n; i++) {
		if (!rc)
			rc = fn(l.v[i], arg);
		zd_put_dev_pagemap(l.v[i]);
	}
	free(l.v);
	return rc;
}

static void dev_pagemap_percpu_release(struct zd_percpu_ref *ref)
{
	struct zd_dev_pagemap *pgmap = zd_container_of(ref, struct zd_dev_pagemap, ref);

	zd_complete(&pgmap->done);
}

/* What a device-private pgmap lacks (both designs require the same), or NULL. */
const char *zd_pgmap_private_problem(const struct zd_dev_pagemap *pgmap)
{
	const struct zd_dev_pagemap_ops *ops = pgmap->ops;

	if (!ops || !ops->migrate_to_ram)
		return "Missing migrate_to_ram method";
	if (!ops->folio_free)
		return "Missing folio_free method";
	if (!pgmap->owner)
		return "Missing owner";
	return NULL;
}

/* The checks memremap_pages() makes before touching anything. */
static int pgmap_validate(struct zd_machine *m, struct zd_dev_pagemap *pgmap)
{
	const struct zd_dev_pagemap_ops *ops = pgmap->ops;
	const char *why = NULL;

	if (pgmap->nr_range <= 0)
		why = "nr_range must be specified";
	else if (pgmap->nr_range > ZD_PGMAP_MAX_RANGES)
		why = "too many ranges";
	else if (pgmap->vmemmap_shift > ZD_MAX_FOLIO_ORDER)
		why = "requested folio size unsupported";
	else switch (pgmap->type) {
	case ZD_MEMORY_DEVICE_PRIVATE:
		if (m->device_private == ZD_DEVICE_PRIVATE_DPA)
			why = "device-private memory has no physical range under the dpa design: "
			      "use memremap_device_private_pagemap()";
		else
			why = zd_pgmap_private_problem(pgmap);
		/* The CPU cannot reach private memory, so its memmap cannot live
		 * there; the kernel would add with the altmap and remove without. */
		if (!why && pgmap->flags & ZD_PGMAP_ALTMAP_VALID)
			why = "device-private memory cannot hold its own memmap (altmap)";
		break;
	case ZD_MEMORY_DEVICE_COHERENT:
		/* The kernel dereferences ops without a check; refuse instead. */
		if (!ops || !ops->folio_free)
			why = "Missing folio_free method";
		else if (!pgmap->owner)
			why = "Missing owner";
		break;
	case ZD_MEMORY_DEVICE_FS_DAX:
	case ZD_MEMORY_DEVICE_GENERIC:
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		break;
	default:
		/* The kernel only warns and carries on with an unusable pgmap;
		 * zonedev refuses it. */
		why = "Invalid pgmap type";
		break;
	}
	if (!why && zd_should_fail(m, "memremap:validate"))
		why = "injected failure";
	if (why) {
		ZD_WARN(m, true, "memremap_pages: %s (type %d %s)", why, pgmap->type,
			zd_memory_type_name(pgmap->type));
		return -EINVAL;
	}
	return 0;
}

struct ram_hit {
	char name[64];
	phys_addr_t start, end;
};

static int first_ram_cb(const struct zd_resource *r, void *arg)
{
	struct ram_hit *h = arg;

	if (!zd_resource_type_match(r, ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE))
		return 0;
	/* Copied under the resource lock: the resource may go once it drops. */
	snprintf(h->name, sizeof(h->name), "%s", r->name ? r->name : "<BAD>");
	h->start = r->start;
	h->end = r->end;
	return 1;
}

/* Name the System RAM resource (at any depth) a device range collides with. */
static void log_ram_conflict(struct zd_machine *m, phys_addr_t start, phys_addr_t end, int what)
{
	struct ram_hit h = { .name = "System RAM" };

	zd_walk_iomem_res(m, start, end, &h, first_ram_cb);
	ZD_WARN(m, true, "memremap attempted on %s region 0x%llx-0x%llx: overlaps [mem 0x%llx-0x%llx] \"%s\"",
		what == ZD_REGION_INTERSECTS ? "ram" : "mixed", ULL(start), ULL(end), ULL(h.start),
		ULL(h.end), h.name);
}

static void unmap_backing(struct zd_dev_pagemap *pgmap, int range_id)
{
	if (pgmap->host_addr[range_id]) {
		munmap(pgmap->host_addr[range_id], zd_range_len(&pgmap->ranges[range_id]));
		pgmap->host_addr[range_id] = NULL;
	}
}

/* CPU-addressable contents: the driver's backing file, else fresh memory;
 * for device-private memory an inaccessible placeholder. */
static int map_backing(struct zd_machine *m, struct zd_dev_pagemap *pgmap, int range_id)
{
	uint64_t off = pgmap->backing_offset;
	void *p;

	for (int i = 0; i < range_id; i++)
		off += zd_range_len(&pgmap->ranges[i]);
	if (zd_should_fail(m, "pagemap_range:backing"))
		return -ENOMEM;
	if (pgmap->type == ZD_MEMORY_DEVICE_PRIVATE)
		/* The kernel returns __va(start) for private memory: an address
		 * in the linear map that nothing maps. A reserved, inaccessible
		 * range stands for it (a CPU access faults), costing no memory. */
		p = mmap(NULL, zd_range_len(&pgmap->ranges[range_id]), PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	else if (pgmap->backing_fd >= 0)
		p = mmap(NULL, zd_range_len(&pgmap->ranges[range_id]),
			 PROT_READ | (pgmap->backing_read_only ? 0 : PROT_WRITE), MAP_SHARED,
			 pgmap->backing_fd, (off_t)off);
	else
		p = mmap(NULL, zd_range_len(&pgmap->ranges[range_id]), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		zd_pr_err(m, "memremap: cannot map the contents of 0x%llx-0x%llx",
			  ULL(pgmap->ranges[range_id].start), ULL(pgmap->ranges[range_id].end));
		return -ENOMEM;
	}
	pgmap->host_addr[range_id] = p;
	return 0;
}

static struct zd_zone *device_zone(struct zd_machine *m, int nid)
{
	return &m->node_data[nid]->node_zones[ZD_ZONE_DEVICE];
}

/* pagemap_range(): one range, steps in the kernel's order, each undone on failure. */
static int pagemap_range(struct zd_machine *m, struct zd_dev_pagemap *pgmap,
			 struct zd_mhp_params *params, int range_id, int nid)
{
	const struct zd_arch *a = &m->arch;
	const struct zd_range *range = &pgmap->ranges[range_id];
	bool is_private = pgmap->type == ZD_MEMORY_DEVICE_PRIVATE;
	uint64_t pfn = zd_phys_pfn(a, range->start), nr = zd_phys_pfn(a, zd_range_len(range));
	struct zd_dev_pagemap *conflict;
	int rc, is_ram;

	if (ZD_WARN(m, range_id > 0 && params->altmap, "altmap not supported for multiple ranges"))
		return -EINVAL;
	if (range->end < range->start || (range->start | (range->end + 1)) & (a->page_size - 1)) {
		zd_pr_err(m, "memremap: range 0x%llx-0x%llx is empty or not page aligned",
			  ULL(range->start), ULL(range->end));
		return -EINVAL;
	}
	if (pgmap->vmemmap_shift) {
		uint64_t folio = 1ULL << pgmap->vmemmap_shift;
		uint64_t first = pfn_first(pgmap, range_id), end = pfn + nr;
		if ((first | end) & (folio - 1)) {
			zd_pr_err(m, "memremap: %s range 0x%llx-0x%llx is not aligned to its %llu KiB folios",
				  zd_memory_type_name(pgmap->type), ULL(range->start), ULL(range->end),
				  ULL(folio << a->page_shift >> 10));
			return -EINVAL;
		}
	}
	conflict = zd_get_dev_pagemap(m, pfn);
	if (!conflict)
		conflict = zd_get_dev_pagemap(m, zd_phys_pfn(a, range->end));
	if (conflict) {
		ZD_WARN(m, true, "Conflicting mapping in same section: 0x%llx-0x%llx is %s memory of "
			"another pgmap", ULL(range->start), ULL(range->end),
			zd_memory_type_name(conflict->type));
		zd_put_dev_pagemap(conflict);
		return -ENOMEM;
	}
	is_ram = zd_region_intersects(m, range->start, zd_range_len(range),
				      ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE);
	if (is_ram != ZD_REGION_DISJOINT) {
		log_ram_conflict(m, range->start, range->end, is_ram);
		return -ENXIO;
	}
	if (zd_should_fail(m, "pagemap_range:xa_store"))
		return -ENOMEM;
	rc = zd_rangemap_store(&m->pgmap_array, pfn, pfn + nr - 1, pgmap);
	if (rc) {
		zd_pr_err(m, "memremap: pfn range 0x%llx-0x%llx already has a pgmap",
			  ULL(pfn), ULL(pfn + nr - 1));
		return rc == -EEXIST ? -ENOMEM : rc;
	}
	nid = pgmap->nid;
	/* PAT memtype tracking is x86 cache-attribute bookkeeping zonedev does
	 * not model; its failure point is kept so unwinding is exercised. */
	rc = zd_should_fail(m, "pagemap_range:track") ? -EINVAL : 0;
	if (rc)
		goto err_xa;
	if (zd_should_fail(m, "pagemap_range:range_allowed") ||
	    !zd_mhp_range_allowed(m, range->start, zd_range_len(range), !is_private)) {
		rc = -EINVAL;
		goto err_xa;
	}
	rc = map_backing(m, pgmap, range_id);
	if (rc)
		goto err_xa;
	zd_mem_hotplug_begin(m);
	if (zd_should_fail(m, "pagemap_range:add"))
		rc = -ENOMEM;
	else if (is_private)
		rc = zd_add_pages(m, nid, pfn, nr, params);
	else
		rc = zd_arch_add_memory(m, nid, range->start, zd_range_len(range), params);
	if (!rc)
		zd_move_pfn_range_to_zone(m, device_zone(m, nid), pfn, nr, params->altmap,
					  ZD_MIGRATE_MOVABLE);
	zd_mem_hotplug_done(m);
	if (rc)
		goto err_backing;
	/* Outside the hotplug lock, like the kernel: this is the long part. */
	zd_memmap_init_zone_device(m, device_zone(m, nid), pfn, nr, pgmap);
	if (holds_bulk_refs(pgmap))
		zd_percpu_ref_get_many(&pgmap->ref, pfn_len(pgmap, range_id));
	return 0;

err_backing:
	unmap_backing(pgmap, range_id);
err_xa:
	zd_rangemap_erase(&m->pgmap_array, pfn);
	return rc;
}

static void pageunmap_range(struct zd_dev_pagemap *pgmap, int range_id)
{
	struct zd_machine *m = pgmap->machine;
	const struct zd_arch *a = &m->arch;
	const struct zd_range *range = &pgmap->ranges[range_id];
	uint64_t pfn = zd_phys_pfn(a, range->start), nr = zd_phys_pfn(a, zd_range_len(range));
	/* By node, not through the first device page: an altmap may take the
	 * whole range, leaving no device page to look at. */
	struct zd_zone *zone = device_zone(m, pgmap->nid);

	/* CONFIG_DEBUG_VM: poison the memmap before it goes, unless it is
	 * deduplicated and its tails must stay unwritten. */
	if (m->debug_vm && !pgmap->vmemmap_dedup)
		memset(zd_pfn_to_page(m, pfn_first(pgmap, range_id)), 0xff,
		       (pfn_end(pgmap, range_id) - pfn_first(pgmap, range_id)) *
		       sizeof(struct zd_page));
	zd_mem_hotplug_begin(m);
	zd_remove_pfn_range_from_zone(m, zone, pfn, nr);
	if (pgmap->type == ZD_MEMORY_DEVICE_PRIVATE)
		zd___remove_pages(m, pfn, nr, NULL);
	else
		zd_arch_remove_memory(m, range->start, zd_range_len(range), zd_pgmap_altmap(pgmap));
	zd_mem_hotplug_done(m);
	unmap_backing(pgmap, range_id);
	zd_rangemap_erase(&m->pgmap_array, pfn);
}

void zd_pgmap_lifetime_init(struct zd_dev_pagemap *pgmap)
{
	zd_init_completion(&pgmap->done);
	pthread_mutex_init(&pgmap->wait_lock, NULL);
	pthread_cond_init(&pgmap->wait_cond, NULL);
	zd_percpu_ref_init(&pgmap->ref, dev_pagemap_percpu_release, pgmap->machine);
}

void zd_pgmap_lifetime_fini(struct zd_dev_pagemap *pgmap)
{
	zd_percpu_ref_exit(&pgmap->ref);
	pthread_cond_destroy(&pgmap->wait_cond);
	pthread_mutex_destroy(&pgmap->wait_lock);
	zd_destroy_completion(&pgmap->done);
}

/* Kill the reference and wait, saying so, until every page and lookup reference is gone. */
void zd_pgmap_kill_and_wait(struct zd_dev_pagemap *pgmap)
{
	struct zd_machine *m = pgmap->machine;
	unsigned waited = 0;

	__atomic_store_n(&pgmap->ready, 0, __ATOMIC_RELAXED);
	zd_percpu_ref_kill(&pgmap->ref);
	if (holds_bulk_refs(pgmap))
		for (int i = 0; i < pgmap->nr_range; i++)
			zd_percpu_ref_put_many(&pgmap->ref, pfn_len(pgmap, i));
	/* said at once, then every second: whoever holds a page (a pin, an
	 * allocation) sees the teardown is waiting for it */
	while (!zd_wait_for_completion_timeout(&pgmap->done, waited ? 1000 : 0)) {
		zd_pr_info(m, "%s: %s pgmap 0x%llx-0x%llx still has %llu references, "
			   "waiting (%us)", pgmap->pages ? "memunmap_device_private_pagemap" :
			   "memunmap_pages", zd_memory_type_name(pgmap->type), ULL(pgmap->range.start),
			   ULL(pgmap->ranges[pgmap->nr_range - 1].end),
			   ULL(zd_percpu_ref_read(&pgmap->ref)), waited);
		waited++;
	}
}

void zd_memunmap_pages(struct zd_dev_pagemap *pgmap)
{
	struct zd_machine *m = pgmap->machine;

	zd_pgmap_kill_and_wait(pgmap);
	for (int i = 0; i < pgmap->nr_range; i++)
		pageunmap_range(pgmap, i);
	zd_pgmap_lifetime_fini(pgmap);
	ZD_WARN(m, pgmap->altmap.alloc != 0, "failed to free all reserved pages (%llu left)",
		ULL(pgmap->altmap.alloc));
}

void *zd_memremap_pages(struct zd_machine *m, struct zd_dev_pagemap *pgmap, int nid)
{
	struct zd_mhp_params params = { .altmap = zd_pgmap_altmap(pgmap), .pgmap = pgmap, .pgprot = 1 };
	const int nr_range = pgmap->nr_range;
	int rc = 0;

	pgmap->machine = m;
	rc = pgmap_validate(m, pgmap);
	if (rc)
		return ZD_ERR_PTR(rc);
	if (pgmap->altmap.backing_fd < 0 && params.altmap && pgmap->backing_fd >= 0) {
		/* The memmap of a device range lives in that range's backing. */
		pgmap->altmap.backing_fd = pgmap->backing_fd;
		pgmap->altmap.backing_offset = pgmap->backing_offset -
			zd_pfn_phys(&m->arch, zd_phys_pfn(&m->arch, pgmap->range.start) -
						  pgmap->altmap.base_pfn);
	}
	if (params.altmap && params.altmap->backing_fd < 0) {
		ZD_WARN(m, true, "memremap_pages: altmap without a backing to carve the memmap from");
		return ZD_ERR_PTR(-EINVAL);
	}
	pgmap->nid = nid < 0 || nid >= m->nr_nodes ? 0 : nid;
	pgmap->vmemmap_dedup = zd_vmemmap_can_optimize(m, params.altmap, pgmap);
	zd_pgmap_lifetime_init(pgmap);
	pgmap->nr_range = 0;
	for (int i = 0; i < nr_range; i++) {
		rc = pagemap_range(m, pgmap, &params, i, nid);
		if (rc)
			break;
		pgmap->nr_range++;
	}
	if (rc) {
		zd_memunmap_pages(pgmap);
		pgmap->nr_range = nr_range;
		return ZD_ERR_PTR(rc);
	}
	zd_pr_info(m, "memremap: %s pgmap 0x%llx-0x%llx (%d range%s) on node %d%s", 
		   zd_memory_type_name(pgmap->type), ULL(pgmap->range.start),
		   ULL(pgmap->ranges[nr_range - 1].end), nr_range, nr_range > 1 ? "s" : "",
		   nid < 0 ? 0 : nid, params.altmap ? ", memmap on the device" : "");
	__atomic_store_n(&pgmap->ready, 1, __ATOMIC_RELEASE);
	return pgmap->host_addr[0];
}

static void devm_memremap_pages_release(void *data)
{
	zd_memunmap_pages(data);
}

void *zd_devm_memremap_pages(struct zd_device *dev, struct zd_dev_pagemap *pgmap)
{
	void *ret = zd_memremap_pages(dev->machine, pgmap, zd_dev_to_node(dev));
	int rc;

	if (ZD_IS_ERR(ret))
		return ret;
	rc = zd_devm_add_action_or_reset(dev, devm_memremap_pages_release, pgmap);
	return rc ? ZD_ERR_PTR(rc) : ret;
}

void zd_devm_memunmap_pages(struct zd_device *dev, struct zd_dev_pagemap *pgmap)
{
	zd_devm_release_action(dev, devm_memremap_pages_release, pgmap);
}

/* ---- pages of a pgmap ---- */

struct zd_page *zd_page_folio(struct zd_machine *m, struct zd_page *page)
{
	unsigned long h = __atomic_load_n(&page->compound_head, __ATOMIC_ACQUIRE);
	struct zd_page *head = page;
	struct zd_dev_pagemap *pgmap;
	uint64_t pfn;
	unsigned idx;

	if (h & 1)
		return (struct zd_page *)(h - 1);
	/* Only vmemmap pages can be deduplicated (dpa pages live in an array). */
	if (!zd_is_zone_device_page(page) || !zd_page_in_vmemmap(m, page))
		return page;
	/* A deduplicated compound memmap has only its first compound_nr_pages
	 * struct pages per folio written; the rest are found by position. */
	pfn = zd_page_to_pfn(m, page);
	idx = zd_rcu_read_lock(&m->rcu);
	pgmap = zd_rangemap_lookup(&m->pgmap_array, pfn);
	if (pgmap && pgmap->vmemmap_dedup) {
		uint64_t mask = (1ULL << pgmap->vmemmap_shift) - 1;
		if ((pfn & mask) >= zd_compound_nr_pages(m, NULL, pgmap))
			head = zd_pfn_to_page(m, pfn & ~mask);
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	return head;
}

unsigned zd_folio_order(struct zd_machine *m, struct zd_page *folio)
{
	(void)m;
	if (!zd_test_page_flag(folio, ZD_PG_head))
		return 0;
	return (unsigned)(__atomic_load_n(&folio[1].flags, __ATOMIC_RELAXED) & 0xff);
}

struct zd_dev_pagemap *zd_page_pgmap(struct zd_machine *m, struct zd_page *page)
{
	struct zd_page *head = zd_page_folio(m, page);

	return zd_is_zone_device_page(head) ? head->pgmap : NULL;
}

static bool page_has_type(struct zd_machine *m, struct zd_page *page, enum zd_memory_type t)
{
	struct zd_dev_pagemap *pgmap = zd_page_pgmap(m, page);

	return pgmap && pgmap->type == t;
}

bool zd_is_device_private_page(struct zd_machine *m, struct zd_page *page)
{
	return page_has_type(m, page, ZD_MEMORY_DEVICE_PRIVATE);
}
bool zd_is_device_coherent_page(struct zd_machine *m, struct zd_page *page)
{
	return page_has_type(m, page, ZD_MEMORY_DEVICE_COHERENT);
}
bool zd_is_fsdax_page(struct zd_machine *m, struct zd_page *page)
{
	return page_has_type(m, page, ZD_MEMORY_DEVICE_FS_DAX);
}
bool zd_is_pci_p2pdma_page(struct zd_machine *m, struct zd_page *page)
{
	return page_has_type(m, page, ZD_MEMORY_DEVICE_PCI_P2PDMA);
}
bool zd_is_device_generic_page(struct zd_machine *m, struct zd_page *page)
{
	return page_has_type(m, page, ZD_MEMORY_DEVICE_GENERIC);
}

void *zd_device_page_address(struct zd_machine *m, struct zd_page *page)
{
	struct zd_dev_pagemap *pgmap = zd_page_pgmap(m, page);
	uint64_t pfn;

	if (!pgmap || pgmap->type == ZD_MEMORY_DEVICE_PRIVATE)
		return NULL;
	pfn = zd_page_to_pfn(m, page);
	for (int i = 0; i < pgmap->nr_range; i++) {
		uint64_t first = zd_phys_pfn(&m->arch, pgmap->ranges[i].start);
		if (pfn >= first && pfn < pfn_end(pgmap, i) && pgmap->host_addr[i])
			return (char *)pgmap->host_addr[i] + ((pfn - first) << m->arch.page_shift);
	}
	return NULL;
}

/*
 * zone_device_page_init(): a driver hands out a free device folio. The
 * pgmap reference it takes (one per page) is what keeps memunmap_pages()
 * waiting while the page is in use.
 */
void zd_zone_device_page_init(struct zd_page *page, struct zd_dev_pagemap *pgmap, unsigned order)
{
	struct zd_machine *m = pgmap->machine;
	uint64_t nr = 1ULL << order;

	if (ZD_WARN(m, order > ZD_MAX_FOLIO_ORDER, "zone_device_page_init: order %u too large",
		    order))
		return;
	for (uint64_t i = 0; i < nr; i++) {
		struct zd_page *p = page + i;
		/* Wipe what an earlier, larger folio left behind. */
		__atomic_and_fetch(&p->flags, ~((1UL << ZD_PG_head) | 0xffUL), __ATOMIC_RELAXED);
		/* atomic: a fault may still be waiting on the freed page's lock
		 * (migration_entry_wait holds no reference) and reads this word */
		__atomic_store_n(&p->mapping, NULL, __ATOMIC_RELAXED);
		__atomic_store_n(&p->pgmap, pgmap, __ATOMIC_RELAXED);
		ZD_WARN(m, zd_page_ref_count(p) != 0, "zone_device_page_init: refcount %d",
			zd_page_ref_count(p));
		ZD_WARN(m, !zd_is_zone_device_page(p), "zone_device_page_init: not a device page");
	}
	/* Like the kernel, a failed tryget is a caller bug that WARNs but does
	 * not stop the page being handed out. */
	ZD_WARN(m, !zd_percpu_ref_tryget_many(&pgmap->ref, nr),
		"zone_device_page_init after memunmap_pages started");
	zd_set_page_count(page, 1);
	__atomic_or_fetch(&page->flags, 1UL << ZD_PG_locked, __ATOMIC_ACQUIRE);
	if (order) {
		__zd_set_page_flag(page, ZD_PG_head);
		for (uint64_t i = 1; i < nr; i++)
			__atomic_store_n(&page[i].compound_head, (unsigned long)page + 1,
					 __ATOMIC_RELEASE);
		zd_set_folio_order(page, order);
		/* prep_compound_head(): an anonymous device THP counts its
		 * mappings in the second page as a system one does */
		__atomic_store_n(&page[1]._large_mapcount, -1, __ATOMIC_RELAXED);
		__atomic_store_n(&page[1]._entire_mapcount, -1, __ATOMIC_RELAXED);
		__atomic_store_n(zd_folio_pincount(page), 0, __ATOMIC_RELAXED);
	}
}

/* free_zone_device_folio(): the type decides what an idle device folio means. */
static void free_zone_device_folio(struct zd_machine *m, struct zd_page *folio)
{
	struct zd_dev_pagemap *pgmap = folio->pgmap;
	uint64_t nr = 1ULL << zd_folio_order(m, folio);

	if (ZD_WARN(m, !pgmap, "free_zone_device_folio: no pgmap"))
		return;
	if ((uintptr_t)folio->mapping & 1)     /* anon: exclusive bits go */
		for (uint64_t i = 0; i < nr; i++)
			__zd_clear_page_flag(folio + i, ZD_PG_anon_exclusive);
	if (pgmap->type != ZD_MEMORY_DEVICE_FS_DAX && pgmap->type != ZD_MEMORY_DEVICE_GENERIC)
		folio->mapping = NULL;
	switch (pgmap->type) {
	case ZD_MEMORY_DEVICE_PRIVATE:
	case ZD_MEMORY_DEVICE_COHERENT:
		if (ZD_WARN(m, !pgmap->ops || !pgmap->ops->folio_free, "device folio without folio_free"))
			break;
		pgmap->ops->folio_free(folio);
		zd_percpu_ref_put_many(&pgmap->ref, nr);
		break;
	case ZD_MEMORY_DEVICE_GENERIC:
		/* device-dax pages idle at 1 */
		zd_set_page_count(folio, 1);
		break;
	case ZD_MEMORY_DEVICE_FS_DAX:
		/* wake_up_var(): truncate may be waiting for this page to idle */
		pthread_mutex_lock(&pgmap->wait_lock);
		__atomic_add_fetch(&pgmap->fsdax_wakeups, 1, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&pgmap->wait_cond);
		pthread_mutex_unlock(&pgmap->wait_lock);
		break;
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		if (!ZD_WARN(m, !pgmap->ops || !pgmap->ops->folio_free, "p2pdma folio without folio_free"))
			pgmap->ops->folio_free(folio);
		break;
	}
}

void zd_get_page(struct zd_machine *m, struct zd_page *page)
{
	struct zd_page *folio = zd_page_folio(m, page);

	__atomic_add_fetch(&folio->_refcount, 1, __ATOMIC_RELAXED);
}

void zd_put_page(struct zd_machine *m, struct zd_page *page)
{
	struct zd_page *folio = zd_page_folio(m, page);

	if (!zd_is_zone_device_page(folio)) {
		zd___free_pages(m, folio, zd_folio_order(m, folio));
		return;
	}
	int v = __atomic_sub_fetch(&folio->_refcount, 1, __ATOMIC_ACQ_REL);
	if (ZD_WARN(m, v < 0, "put_page on a device page with refcount 0"))
		__atomic_store_n(&folio->_refcount, 0, __ATOMIC_RELAXED);
	else if (v == 0)
		free_zone_device_folio(m, folio);
}
