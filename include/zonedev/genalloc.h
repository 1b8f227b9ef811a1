/*
 * A special-purpose memory allocator (lib/genalloc.c, gen_pool): chunks of
 * address space, each with the address its users see (virt), another
 * address for the same bytes (phys; for P2PDMA the PCI bus address) and
 * an owner pointer handed back with every allocation, carved in units of
 * 2^min_alloc_order bytes (first fit). Thread safe.
 */
#ifndef ZONEDEV_GENALLOC_H
#define ZONEDEV_GENALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_gen_pool;

/* gen_pool_create(): NULL without memory. */
struct zd_gen_pool *zd_gen_pool_create(int min_alloc_order, int nid);
/* gen_pool_destroy(): every chunk goes; what is still allocated is a bug
 * the caller is told about (the count of bytes still out). */
size_t zd_gen_pool_destroy(struct zd_gen_pool *pool);
/* gen_pool_add_owner(): a chunk [virt, virt + size) whose bytes are at
 * phys too; 0 or -ENOMEM (-EINVAL for a size not a multiple of the unit). */
int zd_gen_pool_add_owner(struct zd_gen_pool *pool, uintptr_t virt, uint64_t phys, size_t size,
			  int nid, void *owner);
/* gen_pool_alloc_owner(): the virt of size bytes (rounded up to the unit),
 * 0 if no chunk has room; *owner: the chunk's owner. */
uintptr_t zd_gen_pool_alloc_owner(struct zd_gen_pool *pool, size_t size, void **owner);
/* gen_pool_free_owner(): size must be what was allocated; *owner set. */
void zd_gen_pool_free_owner(struct zd_gen_pool *pool, uintptr_t addr, size_t size, void **owner);
/* gen_pool_virt_to_phys(): the other address, (uint64_t)-1 if none. */
uint64_t zd_gen_pool_virt_to_phys(struct zd_gen_pool *pool, uintptr_t addr);
/* gen_pool_size() / gen_pool_avail(): bytes in all chunks / free. */
size_t zd_gen_pool_size(struct zd_gen_pool *pool);
size_t zd_gen_pool_avail(struct zd_gen_pool *pool);

#ifdef __cplusplus
}
#endif

#endif
