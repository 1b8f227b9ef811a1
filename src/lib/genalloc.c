/*
 * gen_pool (lib/genalloc.c): chunks with a bitmap of allocation units each.
 * The kernel's allocator is lock-free on the bitmaps (cmpxchg per word);
 * one mutex per pool is enough here, since the pools are small and their
 * callers (P2PDMA allocations) are not hot paths of the model.
 * Invariants: a unit's bit is set exactly while it is allocated; avail is
 * size minus the set bits' bytes; chunks never overlap in virt.
 */
#include <zonedev/genalloc.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct gen_pool_chunk {
	struct gen_pool_chunk *next;
	uintptr_t start_addr;      /* virt */
	uint64_t phys_addr;
	size_t size;
	void *owner;
	unsigned long nbits;
	unsigned char *bits;       /* one byte per unit: simple and small enough */
};

struct zd_gen_pool {
	pthread_mutex_t lock;
	int min_alloc_order;
	struct gen_pool_chunk *chunks;
	size_t size, avail;
};

struct zd_gen_pool *zd_gen_pool_create(int min_alloc_order, int nid)
{
	struct zd_gen_pool *pool = calloc(1, sizeof(*pool));

	(void)nid;
	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->lock, NULL);
	pool->min_alloc_order = min_alloc_order;
	return pool;
}

size_t zd_gen_pool_destroy(struct zd_gen_pool *pool)
{
	size_t out;

	if (!pool)
		return 0;
	out = pool->size - pool->avail;
	while (pool->chunks) {
		struct gen_pool_chunk *c = pool->chunks;

		pool->chunks = c->next;
		free(c->bits);
		free(c);
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool);
	return out;
}

int zd_gen_pool_add_owner(struct zd_gen_pool *pool, uintptr_t virt, uint64_t phys, size_t size,
			  int nid, void *owner)
{
	size_t unit = (size_t)1 << pool->min_alloc_order;
	struct gen_pool_chunk *c;

	(void)nid;
	if (!size || size % unit)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->bits = calloc(size / unit, 1))) {
		free(c);
		return -ENOMEM;
	}
	c->start_addr = virt;
	c->phys_addr = phys;
	c->size = size;
	c->owner = owner;
	c->nbits = size / unit;
	pthread_mutex_lock(&pool->lock);
	c->next = pool->chunks;
	pool->chunks = c;
	pool->size += size;
	pool->avail += size;
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

uintptr_t zd_gen_pool_alloc_owner(struct zd_gen_pool *pool, size_t size, void **owner)
{
	size_t unit = (size_t)1 << pool->min_alloc_order;
	unsigned long n = (unsigned long)((size + unit - 1) / unit);
	uintptr_t addr = 0;

	if (owner)
		*owner = NULL;
	if (!size)
		return 0;
	pthread_mutex_lock(&pool->lock);
	for (struct gen_pool_chunk *c = pool->chunks; c && !addr; c = c->next) {
		unsigned long run = 0;

		for (unsigned long i = 0; i < c->nbits; i++) {
			run = c->bits[i] ? 0 : run + 1;
			if (run < n)
				continue;
			memset(c->bits + i + 1 - n, 1, n);
			addr = c->start_addr + (i + 1 - n) * unit;
			pool->avail -= n * unit;
			if (owner)
				*owner = c->owner;
			break;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return addr;
}

static struct gen_pool_chunk *chunk_of(struct zd_gen_pool *pool, uintptr_t addr)
{
	for (struct gen_pool_chunk *c = pool->chunks; c; c = c->next)
		if (addr >= c->start_addr && addr - c->start_addr < c->size)
			return c;
	return NULL;
}

void zd_gen_pool_free_owner(struct zd_gen_pool *pool, uintptr_t addr, size_t size, void **owner)
{
	size_t unit = (size_t)1 << pool->min_alloc_order;
	unsigned long n = (unsigned long)((size + unit - 1) / unit), first;
	struct gen_pool_chunk *c;

	if (owner)
		*owner = NULL;
	pthread_mutex_lock(&pool->lock);
	c = chunk_of(pool, addr);
	if (c) {
		first = (unsigned long)((addr - c->start_addr) / unit);
		/* the kernel BUG()s on a free past the chunk; clamp instead */
		if (first + n > c->nbits)
			n = c->nbits - first;
		for (unsigned long i = first; i < first + n; i++)
			if (c->bits[i]) {
				c->bits[i] = 0;
				pool->avail += unit;
			}
		if (owner)
			*owner = c->owner;
	}
	pthread_mutex_unlock(&pool->lock);
}

uint64_t zd_gen_pool_virt_to_phys(struct zd_gen_pool *pool, uintptr_t addr)
{
	struct gen_pool_chunk *c;
	uint64_t phys = (uint64_t)-1;

	pthread_mutex_lock(&pool->lock);
	c = chunk_of(pool, addr);
	if (c)
		phys = c->phys_addr + (addr - c->start_addr);
	pthread_mutex_unlock(&pool->lock);
	return phys;
}

size_t zd_gen_pool_size(struct zd_gen_pool *pool)
{
	size_t s;

	pthread_mutex_lock(&pool->lock);
	s = pool->size;
	pthread_mutex_unlock(&pool->lock);
	return s;
}

size_t zd_gen_pool_avail(struct zd_gen_pool *pool)
{
	size_t s;

	pthread_mutex_lock(&pool->lock);
	s = pool->avail;
	pthread_mutex_unlock(&pool->lock);
	return s;
}
