/*
 * The resource tree's private interface inside the kernel layer
 * (resource.c owns the tree; free_mem_region.c searches it). Functions named
 * *_locked, and the tree helpers, expect m->resource_lock held as the
 * comment on each says; nothing outside src/kernel/ includes this.
 */
#ifndef ZD_KERNEL_INTERNAL_H
#define ZD_KERNEL_INTERNAL_H

#include <zonedev/ioport.h>
#include <zonedev/machine.h>
#include "base/rwlock.h"

/* Room for one formatted range such as "[mem 0x...-0x... disabled]". */
#define RANGE_STR 80

static inline void res_rdlock(struct zd_machine *m) { pthread_rwlock_rdlock(ZD_RWLOCK(&m->resource_lock)); }
static inline void res_wrlock(struct zd_machine *m) { pthread_rwlock_wrlock(ZD_RWLOCK(&m->resource_lock)); }
static inline void res_unlock(struct zd_machine *m) { pthread_rwlock_unlock(ZD_RWLOCK(&m->resource_lock)); }
static inline struct zd_resource *root_or(struct zd_machine *m, struct zd_resource *r)
{
	return r ? r : &m->iomem_resource;
}

/* %pR-style text of r into buf; r's name or "<BAD>". */
const char *zd_res_fmt(char *buf, size_t len, const struct zd_resource *r);
const char *zd_res_name(const struct zd_resource *r);
/* A tree-owned node (name copied), not linked; NULL without memory. */
struct zd_resource *zd_res_new(const char *name);
void zd_res_free(struct zd_resource *r);
/* A node that left the tree: freed if tree-owned, else its links cleared. */
void zd_res_drop(struct zd_resource *r);
void zd_res_drop_subtree(struct zd_resource *r);
struct zd_resource *zd_res_next_in_subtree(struct zd_resource *p, const struct zd_resource *top);
bool zd_res_ranges_overlap(phys_addr_t s1, phys_addr_t e1, phys_addr_t s2, phys_addr_t e2);
/* Lock held: the lowest child of parent overlapping [start, end]. */
struct zd_resource *zd_res_first_overlap(const struct zd_resource *parent, phys_addr_t start,
					 phys_addr_t end);
/* Lock held (writer): link new as a direct child of root (NULL), or return
 * root (does not fit) or the first overlapping child. */
struct zd_resource *zd_res_link_child(struct zd_resource *root, struct zd_resource *new);
/* Lock held (writer): insert_resource() below parent; NULL on success. */
struct zd_resource *zd_res_insert_locked(struct zd_machine *m, struct zd_resource *parent,
					 struct zd_resource *new);
/* Lock held (writer): __request_region() into res; 0 or -EBUSY. */
int zd_res_request_region_locked(struct zd_machine *m, struct zd_resource *parent,
				 struct zd_resource *res, phys_addr_t start, phys_addr_t n,
				 unsigned long flags, bool quiet);

#endif
