/*
 * The device-private address space of the 2026 series ("Remove device
 * private pages from physical address space"): device-private pages get an
 * offset in their own space instead of a pfn, their struct pages live in a
 * per-pgmap array instead of the vmemmap, and they take no iomem resource.
 * Invariants: offsets are allocated below 2^MAX_PHYSMEM_BITS bytes and never
 * overlap; offset -> page is a lookup plus an index; page -> offset is the
 * page's index in its pgmap's array plus the range start.
 */
#include <zonedev/device.h>
#include <zonedev/err.h>
#include <zonedev/memremap.h>
#include <sys/mman.h>
#include "base/list.h"
#include "base/rangemap.h"
#include "mm/internal.h"
#include "base/align.h"


/* What makes pgmap unfit for the device-private address space, or NULL. */
static const char *dpa_pgmap_problem(const struct zd_machine *m, const struct zd_dev_pagemap *pgmap)
{
	const struct zd_arch *a = &m->arch;

	if (m->device_private != ZD_DEVICE_PRIVATE_DPA)
		return "the machine uses the pfn design (device_private: pfn)";
	if (pgmap->type != ZD_MEMORY_DEVICE_PRIVATE)
		return "only MEMORY_DEVICE_PRIVATE has a device-private address space";
	if (zd_pgmap_private_problem(pgmap))
		return zd_pgmap_private_problem(pgmap);
	if (!pgmap->nr_pages || pgmap->nr_pages > (1ULL << (a->max_physmem_bits - a->page_shift)))
		return "nr_pages must be between 1 and the size of the address space";
	if (pgmap->vmemmap_shift > ZD_MAX_FOLIO_ORDER ||
	    pgmap->nr_pages & ((1ULL << pgmap->vmemmap_shift) - 1))
		return "nr_pages is not a multiple of the folio size";
	return NULL;
}

long long zd_memremap_device_private_pagemap(struct zd_machine *m, struct zd_dev_pagemap *pgmap,
					     int nid)
{
	const struct zd_arch *a = &m->arch;
	uint64_t bytes, first;
	unsigned space_bits;
	const char *why = NULL;
	size_t memmap;
	int rc;

	pgmap->machine = m;
	why = dpa_pgmap_problem(m, pgmap);
	if (why) {
		ZD_WARN(m, true, "memremap_device_private_pagemap: %s", why);
		return -EINVAL;
	}
	if (nid < 0 || nid >= m->nr_nodes)
		nid = 0;
	memmap = (size_t)(pgmap->nr_pages * sizeof(struct zd_page));
	pgmap->pages = mmap(NULL, memmap, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pgmap->pages == MAP_FAILED) {
		pgmap->pages = NULL;
		zd_pr_err(m, "device_private: cannot allocate %llu struct pages", ULL(pgmap->nr_pages));
		return -ENOMEM;
	}
	bytes = pgmap->nr_pages << a->page_shift;
	/* the space ends at 1 << MAX_PHYSMEM_BITS (the kernel's tree), and
	 * no offset may outgrow the swap entry's offset field (the arches'
	 * fields are wider today; docs/processes.md has the table) */
	space_bits = a->pgtable->swp_offset_bits + a->page_shift;
	if (space_bits > a->max_physmem_bits)
		space_bits = a->max_physmem_bits;
	rc = zd_rangemap_alloc(&m->device_private_space, bytes, a->page_size, 0,
			       (1ULL << space_bits) - 1, pgmap, &first);
	if (rc) {
		munmap(pgmap->pages, memmap);
		pgmap->pages = NULL;
		zd_pr_err(m, "device_private: no room for %llu MiB in the device-private address space",
			  ULL(bytes >> 20));
		return -ENOMEM;
	}
	pgmap->range.start = first;
	pgmap->range.end = first + bytes - 1;
	pgmap->nr_range = 1;
	pgmap->nid = nid;
	zd_pgmap_lifetime_init(pgmap);
	zd_init_zone_device_pages(m, pgmap->pages, pgmap->nr_pages, nid, pgmap,
				  zd_pgmap_vmemmap_nr(pgmap));
	zd_pr_info(m, "device_private: %llu MiB at offset 0x%llx of the device-private space "
		   "(no pfns, no vmemmap, no iomem)", ULL(bytes >> 20), ULL(first >> a->page_shift));
	__atomic_store_n(&pgmap->ready, 1, __ATOMIC_RELEASE);
	return (long long)(first >> a->page_shift);
}

void zd_memunmap_device_private_pagemap(struct zd_dev_pagemap *pgmap)
{
	struct zd_machine *m = pgmap->machine;

	zd_pgmap_kill_and_wait(pgmap);
	zd_rangemap_erase(&m->device_private_space, pgmap->range.start);
	munmap(pgmap->pages, (size_t)(pgmap->nr_pages * sizeof(struct zd_page)));
	pgmap->pages = NULL;
	zd_pgmap_lifetime_fini(pgmap);
}

static void devm_release(void *data)
{
	zd_memunmap_device_private_pagemap(data);
}

int zd_devm_memremap_device_private_pagemap(struct zd_device *dev, struct zd_dev_pagemap *pgmap)
{
	long long rc = zd_memremap_device_private_pagemap(dev->machine, pgmap, zd_dev_to_node(dev));

	if (rc < 0)
		return (int)rc;
	return zd_devm_add_action_or_reset(dev, devm_release, pgmap);
}

uint64_t zd_device_private_page_to_offset(const struct zd_page *page)
{
	const struct zd_dev_pagemap *pgmap = zd_compound_head((struct zd_page *)page)->pgmap;
	unsigned shift = pgmap->machine->arch.page_shift;

	return (pgmap->range.start >> shift) + (uint64_t)(page - pgmap->pages);
}

struct zd_page *zd_device_private_offset_to_page(struct zd_machine *m, uint64_t offset)
{
	unsigned shift = m->arch.page_shift;
	struct zd_dev_pagemap *pgmap;
	struct zd_page *page = NULL;
	unsigned idx;

	if (offset >> (64 - shift))
		return NULL;
	idx = zd_rcu_read_lock(&m->rcu);
	pgmap = zd_rangemap_lookup(&m->device_private_space, offset << shift);
	if (pgmap)
		page = pgmap->pages + (offset - (pgmap->range.start >> shift));
	zd_rcu_read_unlock(&m->rcu, idx);
	return page;
}
