/*
 * A sparse index from unsigned long keys to pointers (a radix tree with 64-way
 * nodes, fixed height from the key width), standing in for the kernel's
 * xarray where an index is sparse over a huge key space (memory blocks of a
 * 52-bit machine). Not internally locked: callers hold the owner's lock.
 * Invariant: memory used grows with the number of stored entries, not with
 * the key space; empty interior nodes are freed on erase.
 */
#ifndef ZD_BASE_XARRAY_H
#define ZD_BASE_XARRAY_H

#include <stdbool.h>
#include <stdint.h>

struct zd_xa_node;
struct zd_xarray {
	unsigned height;
	unsigned long count;
	struct zd_xa_node *root;
};

void zd_xa_init(struct zd_xarray *xa, unsigned key_bits);
void *zd_xa_load(const struct zd_xarray *xa, uint64_t index);
/* 0 or -ENOMEM; storing NULL erases. */
int zd_xa_store(struct zd_xarray *xa, uint64_t index, void *entry);
void *zd_xa_erase(struct zd_xarray *xa, uint64_t index);
/* First entry with key in [*index, max]; updates *index; NULL if none. */
void *zd_xa_find(const struct zd_xarray *xa, uint64_t *index, uint64_t max);
/* Frees the nodes (not the entries). */
void zd_xa_destroy(struct zd_xarray *xa);

#endif
