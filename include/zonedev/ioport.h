/*
 * The physical address space as the kernel's resource tree (kernel/resource.c,
 * include/linux/ioport.h): nested named ranges with flags and a descriptor.
 * Invariants: end is inclusive; siblings are sorted by start and never
 * overlap; a child lies inside its parent; every function takes the machine's
 * resource lock itself (readers shared, writers exclusive).
 */
#ifndef ZONEDEV_IOPORT_H
#define ZONEDEV_IOPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <zonedev/arch.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;

struct zd_resource {
	phys_addr_t start, end;
	const char *name;
	unsigned long flags, desc;
	struct zd_resource *parent, *sibling, *child;
	char *name_buf;   /* owned copy of name when the tree allocated it */
	bool tree_owned;  /* allocated by the tree: freed on release */
};

#define ZD_IORESOURCE_IO         0x00000100UL
#define ZD_IORESOURCE_MEM        0x00000200UL
#define ZD_IORESOURCE_TYPE_BITS  0x00001f00UL
#define ZD_IORESOURCE_MUXED      0x00400000UL
#define ZD_IORESOURCE_SYSRAM     0x01000000UL
#define ZD_IORESOURCE_EXT_TYPE_BITS 0x01000000UL
#define ZD_IORESOURCE_SYSRAM_DRIVER_MANAGED 0x02000000UL
#define ZD_IORESOURCE_SYSRAM_MERGEABLE      0x04000000UL
#define ZD_IORESOURCE_EXCLUSIVE  0x08000000UL
#define ZD_IORESOURCE_DISABLED   0x10000000UL
#define ZD_IORESOURCE_UNSET      0x20000000UL
#define ZD_IORESOURCE_AUTO       0x40000000UL
#define ZD_IORESOURCE_BUSY       0x80000000UL
#define ZD_IORESOURCE_SYSTEM_RAM (ZD_IORESOURCE_MEM | ZD_IORESOURCE_SYSRAM)

enum {
	ZD_IORES_DESC_NONE = 0,
	ZD_IORES_DESC_CRASH_KERNEL = 1,
	ZD_IORES_DESC_ACPI_TABLES = 2,
	ZD_IORES_DESC_ACPI_NV_STORAGE = 3,
	ZD_IORES_DESC_PERSISTENT_MEMORY = 4,
	ZD_IORES_DESC_PERSISTENT_MEMORY_LEGACY = 5,
	ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY = 6,
	ZD_IORES_DESC_RESERVED = 7,
	ZD_IORES_DESC_SOFT_RESERVED = 8,
	ZD_IORES_DESC_CXL = 9,
};

enum { ZD_REGION_INTERSECTS, ZD_REGION_DISJOINT, ZD_REGION_MIXED };

/* r carries all of flags and (unless desc is NONE) the descriptor desc. */
static inline bool zd_resource_type_match(const struct zd_resource *r, unsigned long flags,
					  unsigned long desc)
{
	return (r->flags & flags) == flags && (desc == ZD_IORES_DESC_NONE || desc == r->desc);
}

static inline phys_addr_t zd_resource_size(const struct zd_resource *r)
{
	return r->end - r->start + 1;
}

/* Insert res directly under root; returns NULL or the conflicting resource. */
struct zd_resource *zd_request_resource_conflict(struct zd_machine *m, struct zd_resource *root,
						 struct zd_resource *res);
int zd_request_resource(struct zd_machine *m, struct zd_resource *root, struct zd_resource *res);
/* Insert res into the tree, nesting it under the deepest resource that
 * contains it and adopting existing resources it fully contains; -EBUSY if it
 * would straddle one. Firmware ranges go in this way. */
int zd_insert_resource(struct zd_machine *m, struct zd_resource *parent, struct zd_resource *res);
/* Unlink old (and its subtree); -EINVAL if it is not in the tree. */
int zd_release_resource(struct zd_machine *m, struct zd_resource *old);

/* Busy region requests: descend through non-busy conflicts; NULL on failure
 * with a log line naming the conflicting resource. */
struct zd_resource *__zd_request_region(struct zd_machine *m, struct zd_resource *parent,
					phys_addr_t start, phys_addr_t n, const char *name,
					unsigned long flags);
/* 0, or -EINVAL (logged "Trying to free nonexistent resource") without an exact busy match. */
int __zd_release_region(struct zd_machine *m, struct zd_resource *parent, phys_addr_t start,
			phys_addr_t n);
struct zd_resource *zd_request_mem_region(struct zd_machine *m, phys_addr_t start,
					  phys_addr_t n, const char *name);
int zd_release_mem_region(struct zd_machine *m, phys_addr_t start, phys_addr_t n);

/* Memory hot-remove: release the busy memory resources over [start, +size),
 * trimming or splitting a resource that extends beyond it; the bytes
 * released (size when the range was all claimed). */
phys_addr_t zd_release_mem_region_adjustable(struct zd_machine *m, phys_addr_t start,
					     phys_addr_t size);

/* REGION_INTERSECTS / REGION_DISJOINT / REGION_MIXED, as the kernel answers. */
int zd_region_intersects(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			 unsigned long flags, unsigned long desc);

/* Top-down search for a free, section-aligned range under the arch limit,
 * requested busy with IORES_DESC_DEVICE_PRIVATE_MEMORY; ERR_PTR(-ERANGE)
 * when nothing fits. base NULL means the whole iomem root. */
struct zd_resource *zd_request_free_mem_region(struct zd_machine *m, struct zd_resource *base,
					       phys_addr_t size, const char *name);
/* Bottom-up, inserted as a non-busy child of base (the CXL flavour). */
struct zd_resource *zd_alloc_free_mem_region(struct zd_machine *m, struct zd_resource *base,
					     phys_addr_t size, phys_addr_t align, const char *name);

/* Calls func for each System RAM range (clipped) inside [start_pfn, +nr);
 * stops at the first non-zero return and returns it; -EINVAL if none. */
int zd_walk_system_ram_range(struct zd_machine *m, uint64_t start_pfn, uint64_t nr_pages,
			     void *arg, int (*func)(uint64_t pfn, uint64_t nr, void *arg));
/* Calls fn for every resource, at any depth, that overlaps [start, end], in
 * pre-order (parents first), with the resource lock held for reading: fn
 * must not call back into the tree. Stops at the first non-zero return. */
int zd_walk_iomem_res(struct zd_machine *m, phys_addr_t start, phys_addr_t end, void *arg,
		      int (*fn)(const struct zd_resource *res, void *arg));
/* 1 if pfn lies in a System RAM resource. */
int zd_page_is_ram(struct zd_machine *m, uint64_t pfn);
/* Highest address a device-private range may use: DIRECT_MAP_PHYSMEM_END. */
phys_addr_t zd_direct_map_physmem_end(const struct zd_machine *m);

/* /proc/iomem format (root view: real addresses). */
void zd_iomem_dump(struct zd_machine *m, FILE *f);
/* JSON array of {start,end,name,flags,desc,children:[...]}; start, end and
 * flags are "0x..." strings. */
void zd_iomem_dump_json(struct zd_machine *m, FILE *f);

/* A parsed /proc/iomem line. */
struct zd_iomem_entry {
	phys_addr_t start, end;
	unsigned depth;
	char name[96];
};
/* Parse /proc/iomem text; 0 or -EINVAL with "line N: why" in err. Lines
 * whose addresses are all zero (unprivileged view) give -EPERM; a line over
 * 1023 bytes -EINVAL and a text over 16 MiB -EFBIG (no listing is that
 * long); a failed read its errno (-EISDIR for a directory). */
int zd_iomem_parse(FILE *f, struct zd_iomem_entry **out, size_t *n, char *err, size_t errlen);

/*
 * A tree-owned node (tree_owned set, name copied) for [start, start+size-1],
 * not yet linked; NULL on a bad range or no memory. Once a request or insert
 * links it, the tree frees it when it leaves; zd_resource_free() drops one
 * that never went in (it ignores linked and caller-owned nodes).
 */
struct zd_resource *zd_resource_alloc(const char *name, phys_addr_t start, phys_addr_t size,
				      unsigned long flags, unsigned long desc);
void zd_resource_free(struct zd_resource *r);

/* internal to the machine layer */
/* Machine teardown: free every tree-owned node and unlink the caller-owned
 * ones, leaving the root childless. */
void zd_resource_free_tree(struct zd_machine *m);

#ifdef __cplusplus
}
#endif

#endif
