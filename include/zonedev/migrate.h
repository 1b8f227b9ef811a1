/*
 * The migrate_vma API of include/linux/migrate.h (mm/migrate_device.c):
 * a driver moves the pages of one VMA range between system RAM and its
 * device memory in five steps — setup (collect and unmap), allocate and
 * copy (the driver), migrate_vma_pages, migrate_vma_finalize — or evicts
 * device pages without a VA (migrate_device_range/pfns, _pages, _finalize).
 * Invariants: src/dst hold one mpfn per page; an mpfn's value field is a
 * pfn, or under the dpa design a device-private offset flagged
 * MIGRATE_PFN_DEVICE_PRIVATE; after finalize every collected page is
 * mapped again (by dst if it migrated, else by itself), no migration entry
 * survives, and unmigrated dst pages are freed.
 */
#ifndef ZONEDEV_MIGRATE_H
#define ZONEDEV_MIGRATE_H

#include <stdint.h>
#include <zonedev/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZD_MIGRATE_PFN_VALID          (1UL << 0)
#define ZD_MIGRATE_PFN_MIGRATE        (1UL << 1)
#define ZD_MIGRATE_PFN_WRITE          (1UL << 3)
#define ZD_MIGRATE_PFN_COMPOUND       (1UL << 4)
#define ZD_MIGRATE_PFN_DEVICE_PRIVATE (1UL << 5)   /* dpa: the value is an offset */
#define ZD_MIGRATE_PFN_SHIFT          6

enum zd_migrate_vma_direction {
	ZD_MIGRATE_VMA_SELECT_SYSTEM = 1 << 0,
	ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1,
	ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT = 1 << 2,
	ZD_MIGRATE_VMA_SELECT_COMPOUND = 1 << 3,
};

struct zd_migrate_vma {
	struct zd_vm_area_struct *vma;
	unsigned long *dst;          /* filled by the driver between setup and pages */
	unsigned long *src;          /* filled by setup; not the caller's to change */
	unsigned long cpages;        /* out: entries collected / still migrating */
	unsigned long npages;        /* out: entries walked */
	uint64_t start, end;         /* page aligned, inside vma */
	void *pgmap_owner;           /* device pages of this owner are selected */
	unsigned long flags;         /* ZD_MIGRATE_VMA_SELECT_* */
	struct zd_page *fault_page;  /* migrate_to_ram's locked page, or NULL */
};

/* migrate_pfn() / migrate_pfn_from_page(): the mpfn naming page (VALID). */
unsigned long zd_migrate_pfn_from_page(struct zd_machine *m, struct zd_page *page);
/* migrate_pfn_to_page(): NULL without VALID. */
struct zd_page *zd_migrate_pfn_to_page(struct zd_machine *m, unsigned long mpfn);

/* Caller holds vma's mmap_lock for reading from setup to finalize.
 * -EINVAL (logged) for a bad argument: no vma, a hugetlb, VM_IO/PFNMAP/
 * MIXEDMAP or DAX vma, an empty or out-of-vma range, no src/dst, a
 * fault_page that is not device-private or not locked; else 0, even when
 * nothing could be collected (cpages 0). */
int zd_migrate_vma_setup(struct zd_machine *m, struct zd_migrate_vma *args);
void zd_migrate_vma_pages(struct zd_machine *m, struct zd_migrate_vma *args);
void zd_migrate_vma_finalize(struct zd_machine *m, struct zd_migrate_vma *args);

/* Eviction without VAs: start is a pfn (pfn design) or a device-private
 * offset (dpa; a coherent device's pages are then named by mpfn through
 * migrate_device_pfns, as numbers alone cannot tell them apart). Pages in use are locked, unmapped from
 * every process and marked MIGRATE; free ones give 0. Always 0. */
int zd_migrate_device_range(struct zd_machine *m, unsigned long *src_pfns, uint64_t start,
			    unsigned long npages);
/* The same for a caller-filled array of mpfns (VALID set), overwritten. */
int zd_migrate_device_pfns(struct zd_machine *m, unsigned long *src_pfns, unsigned long npages);
void zd_migrate_device_pages(struct zd_machine *m, unsigned long *src_pfns,
			     unsigned long *dst_pfns, unsigned long npages);
void zd_migrate_device_finalize(struct zd_machine *m, unsigned long *src_pfns,
				unsigned long *dst_pfns, unsigned long npages);

/* make_device_exclusive() (include/linux/rmap.h, mm/rmap.c): the page at
 * addr now mapped by a device-exclusive entry, its folio (*foliop) locked
 * and referenced for the caller, who unlocks and puts it once its atomic
 * mapping is in place; ERR_PTR(-EBUSY) for a non-anonymous page or (under
 * device_exclusive_era v6.12) a tail page of a large folio, GUP's errno.
 * MMU_NOTIFY_EXCLUSIVE with owner brackets it; any CPU access restores
 * the PTE (MMU_NOTIFY_EXCLUSIVE with no owner). */
struct zd_page *zd_make_device_exclusive(struct zd_mm *mm, uint64_t addr, void *owner,
					 struct zd_page **foliop);

#ifdef __cplusplus
}
#endif

#endif
