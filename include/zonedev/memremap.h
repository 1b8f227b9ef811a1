/*
 * ZONE_DEVICE (include/linux/memremap.h, mm/memremap.c): device memory gets
 * struct pages without ever becoming System RAM. A dev_pagemap describes one
 * device's ranges, its type, optional vmem_altmap and callbacks;
 * memremap_pages() hot-plugs the ranges into the sparse model and ZONE_DEVICE,
 * memunmap_pages() removes them once every reference is gone.
 * Invariants: device pages are never online, never in the buddy allocator,
 * never in a memory block and never raise max_pfn; a pgmap is found by pfn
 * only while its reference is live; memunmap_pages() returns only after the
 * reference has drained and everything memremap_pages() did is undone.
 */
#ifndef ZONEDEV_MEMREMAP_H
#define ZONEDEV_MEMREMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <zonedev/completion.h>
#include <zonedev/memory_hotplug.h>
#include <zonedev/mm_types.h>
#include <zonedev/percpu-refcount.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;
struct zd_device;
struct zd_vm_fault;

enum zd_memory_type {
	/* 0 is reserved and catches an uninitialised type */
	ZD_MEMORY_DEVICE_PRIVATE = 1,
	ZD_MEMORY_DEVICE_COHERENT,
	ZD_MEMORY_DEVICE_FS_DAX,
	ZD_MEMORY_DEVICE_GENERIC,
	ZD_MEMORY_DEVICE_PCI_P2PDMA,
};

struct zd_range {
	uint64_t start, end;   /* physical addresses (dpa: offsets), end inclusive */
};
static inline uint64_t zd_range_len(const struct zd_range *r) { return r->end - r->start + 1; }

struct zd_dev_pagemap;

struct zd_dev_pagemap_ops {
	/* A folio's refcount reached 0 (PRIVATE, COHERENT, P2PDMA). */
	void (*folio_free)(struct zd_page *folio);
	/* CPU fault on a device-private entry: migrate back (PRIVATE only),
	 * vmf->page locked by the core. VM_FAULT_* bits (vm_fault_t); a
	 * negative errno counts as VM_FAULT_SIGBUS. */
	int (*migrate_to_ram)(struct zd_vm_fault *vmf);
	/* Optional: -EOPNOTSUPP (or absent) selects the generic handler. */
	int (*memory_failure)(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			      unsigned long nr_pages, int mf_flags);
	/* PRIVATE only, optional. */
	void (*folio_split)(struct zd_page *head, struct zd_page *tail);
};

#define ZD_PGMAP_ALTMAP_VALID (1u << 0)
#define ZD_PGMAP_MAX_RANGES 16
#define ZD_MAX_FOLIO_ORDER 18   /* PUD order on x86_64: 1 GiB folios */

struct zd_dev_pagemap {
	struct zd_vmem_altmap altmap;
	struct zd_percpu_ref ref;
	struct zd_completion done;
	enum zd_memory_type type;
	unsigned flags;
	unsigned long vmemmap_shift;
	const struct zd_dev_pagemap_ops *ops;
	void *owner;
	int nr_range;
	union {
		struct zd_range range;
		struct zd_range ranges[ZD_PGMAP_MAX_RANGES];
	};

	/* Host backing of the device memory contents (CPU-addressable types,
	 * and the device's own copy engine for PRIVATE): fd and offset of
	 * range 0's first byte; ranges follow back to back. -1: no backing. */
	int backing_fd;
	uint64_t backing_offset;
	bool backing_read_only;     /* the contents may only be read (ro pmem) */

	/* dpa design (memremap_device_private_pagemap): pages live in their
	 * own array, not in the vmemmap; nr_pages is the caller's input. */
	uint64_t nr_pages;
	struct zd_page *pages;

	/* Set by zonedev. */
	struct zd_machine *machine;
	int nid;                               /* node whose ZONE_DEVICE holds the pages */
	bool vmemmap_dedup;                    /* only compound_nr_pages per folio written */
	int ready;                             /* atomic: set up (release) until teardown starts */
	void *host_addr[ZD_PGMAP_MAX_RANGES];  /* mapped backing per range */
	uint64_t fsdax_wakeups;                /* wake_up_var() calls (atomic) */
	uint64_t memmap_init_ns;               /* time memmap_init_zone_device took */
	pthread_mutex_t wait_lock;             /* fsdax idle-page waiters */
	pthread_cond_t wait_cond;
};

static inline struct zd_vmem_altmap *zd_pgmap_altmap(struct zd_dev_pagemap *pgmap)
{
	return pgmap && (pgmap->flags & ZD_PGMAP_ALTMAP_VALID) ? &pgmap->altmap : NULL;
}
static inline unsigned long zd_pgmap_vmemmap_nr(const struct zd_dev_pagemap *pgmap)
{
	return 1UL << pgmap->vmemmap_shift;
}

/* Prepare a caller-owned pgmap: zeroes it and sets backing_fd = -1. */
void zd_dev_pagemap_init(struct zd_dev_pagemap *pgmap);

/*
 * memremap_pages(): returns the host address of range 0 (its contents; for
 * device-private memory, like the kernel's __va(start), an address nothing
 * maps: touching it faults), ERR_PTR on failure — with everything undone
 * and nr_range restored. Never NULL.
 * Fault-injection points, in order: "memremap:validate", "pagemap_range:xa_store",
 * "pagemap_range:track", "pagemap_range:range_allowed", "pagemap_range:add",
 * "sparse_add_section" (per section), "pagemap_range:backing".
 */
void *zd_memremap_pages(struct zd_machine *m, struct zd_dev_pagemap *pgmap, int nid);
void zd_memunmap_pages(struct zd_dev_pagemap *pgmap);
void *zd_devm_memremap_pages(struct zd_device *dev, struct zd_dev_pagemap *pgmap);
void zd_devm_memunmap_pages(struct zd_device *dev, struct zd_dev_pagemap *pgmap);

/* The 2026 device-private address space (dpa design): pgmap->nr_pages in;
 * out: pgmap->range in bytes of that space, and the return value, the first
 * page offset (bytes >> PAGE_SHIFT), or a negative errno. Offsets, like pfns,
 * count pages. */
long long zd_memremap_device_private_pagemap(struct zd_machine *m, struct zd_dev_pagemap *pgmap,
					     int nid);
void zd_memunmap_device_private_pagemap(struct zd_dev_pagemap *pgmap);
int zd_devm_memremap_device_private_pagemap(struct zd_device *dev, struct zd_dev_pagemap *pgmap);
uint64_t zd_device_private_page_to_offset(const struct zd_page *page);
struct zd_page *zd_device_private_offset_to_page(struct zd_machine *m, uint64_t offset);

/* Lookup: a reference the caller must put, or NULL (no pgmap, or dying). */
struct zd_dev_pagemap *zd_get_dev_pagemap(struct zd_machine *m, unsigned long pfn);
static inline void zd_put_dev_pagemap(struct zd_dev_pagemap *pgmap)
{
	if (pgmap)
		zd_percpu_ref_put(&pgmap->ref);
}
bool zd_pgmap_pfn_valid(struct zd_dev_pagemap *pgmap, unsigned long pfn);
/* Every live pgmap once, for a picture of the machine: those with pfns in
 * pfn order, then the dpa design's device-private ones (pages != NULL) in
 * offset order; a pgmap still being set up, or whose teardown has begun,
 * is left out. fn runs outside the lookup's RCU section while the walk
 * holds a reference on every pgmap it gathered (each dropped after its
 * own fn call), so fn may sleep but must not unmap any pgmap, and an
 * unmap on another thread waits until the walk is past that pgmap.
 * Stops at fn's first non-zero return and returns it; -ENOMEM if the
 * list could not be gathered. */
int zd_for_each_dev_pagemap(struct zd_machine *m, void *arg,
			    int (*fn)(struct zd_dev_pagemap *pgmap, void *arg));
/* The pgmap of a ZONE_DEVICE page (via its folio head). */
struct zd_dev_pagemap *zd_page_pgmap(struct zd_machine *m, struct zd_page *page);

/* The folio head of page: compound heads, tails linked to their head, and the
 * never-written tails of a deduplicated compound memmap (derived from the
 * section's compound order). */
struct zd_page *zd_page_folio(struct zd_machine *m, struct zd_page *page);
unsigned zd_folio_order(struct zd_machine *m, struct zd_page *folio);

static inline bool zd_is_zone_device_page(const struct zd_page *page)
{
	return zd_page_zonenum(page) == ZD_ZONE_DEVICE;
}
bool zd_is_device_private_page(struct zd_machine *m, struct zd_page *page);
bool zd_is_device_coherent_page(struct zd_machine *m, struct zd_page *page);
bool zd_is_fsdax_page(struct zd_machine *m, struct zd_page *page);
bool zd_is_pci_p2pdma_page(struct zd_machine *m, struct zd_page *page);
bool zd_is_device_generic_page(struct zd_machine *m, struct zd_page *page);

/* zone_device_page_init(): a driver hands out a free device page (order
 * 2^order pages): refcount 1, locked, one pgmap reference per page. */
void zd_zone_device_page_init(struct zd_page *page, struct zd_dev_pagemap *pgmap, unsigned order);
/* Page references. For ZONE_DEVICE folios reaching 0 the type's free path
 * runs (free_zone_device_folio); for RAM the buddy takes the page back. */
void zd_get_page(struct zd_machine *m, struct zd_page *page);
void zd_put_page(struct zd_machine *m, struct zd_page *page);

/* Contents of a CPU-addressable device page (NULL for PRIVATE). */
void *zd_device_page_address(struct zd_machine *m, struct zd_page *page);

/* memory_failure() for a device pfn: marks the page poisoned and calls the
 * pgmap's memory_failure callback (or the generic handler). */
int zd_memory_failure(struct zd_machine *m, unsigned long pfn, int flags);

/* /dev/mem-style checks: device memory is never RAM. */
bool zd_valid_phys_addr_range(struct zd_machine *m, phys_addr_t addr, size_t size);

const char *zd_memory_type_name(enum zd_memory_type type);

#ifdef __cplusplus
}
#endif

#endif
