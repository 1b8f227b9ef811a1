/*
 * A map from disjoint [first, last] ranges to pointers with lock-free
 * lookups: the sorted table is copied on every change and published with
 * a release store; the old table is freed after an RCU grace period. It
 * stands in for the kernel's pgmap xarray (multi-index entries) and the
 * 2026 device-private maple tree, including the free-range allocation the
 * latter does (MT_FLAGS_ALLOC_RANGE).
 * Invariants: entries never overlap; lookups run inside zd_rcu_read_lock();
 * writers serialise on the map's mutex.
 */
#ifndef ZD_BASE_RANGEMAP_H
#define ZD_BASE_RANGEMAP_H

#include <pthread.h>
#include <stdint.h>
#include "base/rcu.h"

struct zd_rangemap_entry {
	uint64_t first, last;
	void *ptr;
};

struct zd_rangemap_table {
	size_t n;
	struct zd_rangemap_entry e[];
};

/* struct zd_rangemap itself is declared in <zonedev/rcu.h>. */

void zd_rangemap_init(struct zd_rangemap *rm, struct zd_rcu *rcu);
void zd_rangemap_destroy(struct zd_rangemap *rm);
/* Caller holds zd_rcu_read_lock(rm->rcu). */
void *zd_rangemap_lookup(struct zd_rangemap *rm, uint64_t index);
/* -EEXIST if [first, last] overlaps an entry, -ENOMEM. */
int zd_rangemap_store(struct zd_rangemap *rm, uint64_t first, uint64_t last, void *ptr);
/* Removes the entry starting at first; waits a grace period before returning. */
void *zd_rangemap_erase(struct zd_rangemap *rm, uint64_t first);
/* Calls fn for every entry in order of first, stopping at the first
 * non-zero return (returned). Caller holds zd_rcu_read_lock(rm->rcu); an
 * entry's ptr may be NULL (erased in place when memory was short). */
int zd_rangemap_for_each(struct zd_rangemap *rm, void *arg,
			 int (*fn)(uint64_t first, uint64_t last, void *ptr, void *arg));
/* Lowest free range of size in [min, max], aligned; stores ptr there.
 * -EBUSY when nothing fits. */
int zd_rangemap_alloc(struct zd_rangemap *rm, uint64_t size, uint64_t align, uint64_t min,
		      uint64_t max, void *ptr, uint64_t *first);

#endif
