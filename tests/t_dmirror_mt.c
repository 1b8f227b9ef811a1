/*
 * Concurrent chunk allocation of the dmirror GPU (lib/test_hmm.c): two
 * threads add device-private chunks at once while the first registration
 * fails (fault injection). The kernel's dmirror holds its devmem lock
 * across the whole allocation, so however the two race, a device with N
 * chunks of VRAM registers exactly N chunks, each at its own VRAM offset.
 * Before that rule, a failure after a racing add had taken the next slot
 * handed that slot out twice: two chunks aliased the same VRAM.
 */
#include <zonedev/zonedev.h>
#include <pthread.h>
#include <stdio.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define NR_CHUNKS 4

static pthread_barrier_t start;
static struct zd_dmirror_device *gpu;

static void *adder(void *arg)
{
	pthread_barrier_wait(&start);
	*(int *)arg = zd_dmirror_add_chunk(gpu);
	return NULL;
}

int main(void)
{
	/* 40 physical bits leave 1 TiB for the chunks and need a 16 GiB vmemmap
	 * window; the default 46 bits reserve 1 TiB of host address space,
	 * which ThreadSanitizer's layout sometimes cannot give. */
	struct zd_machine *m = tap_machine("x86_64", 40, 0, 2 * G, NULL, 0);
	unsigned iters = TAP_SLOW ? 10 : 40, bad_count = 0, bad_offsets = 0;

	if (!m)
		return done_testing();
	for (unsigned it = 0; it < iters; it++) {
		char name[16];
		struct zd_dmirror_desc gd = { .name = name, .vram_size = NR_CHUNKS * ZD_DEVMEM_CHUNK_SIZE };
		struct zd_dmirror_device *g;
		pthread_t t[2];
		unsigned added = 0;
		int rc[2];

		snprintf(name, sizeof(name), "gpu%u", it);
		g = zd_dmirror_create(m, &gd);
		if (!ok(!ZD_IS_ERR(g), "iteration %u: GPU created", it))
			break;
		pthread_barrier_init(&start, NULL, 2);
		zd_fault_inject_set(m, "pagemap_range:add", 1);
		gpu = g;
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, adder, &rc[i]);
		for (int i = 0; i < 2; i++) {
			tap_join_or_bail(t[i], 60, "chunk adder");
			added += rc[i] == 0;
		}
		zd_fault_inject_clear(m);
		pthread_barrier_destroy(&start);
		while (zd_dmirror_add_chunk(g) == 0)
			added++;
		bad_count += added != NR_CHUNKS;
		for (unsigned i = 0; i < NR_CHUNKS; i++) {
			struct zd_dev_pagemap *pg = zd_dmirror_chunk_pgmap(g, i);
			bad_offsets += !pg || pg->backing_offset != i * ZD_DEVMEM_CHUNK_SIZE;
		}
		zd_dmirror_destroy(g);
	}
	is_int(bad_count, 0, "every race registered exactly %d chunks (one failure, one success, "
	       "then the rest)", NR_CHUNKS);
	is_int(bad_offsets, 0, "chunk i always sits at VRAM offset i * 256 MiB (no aliasing)");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
	return done_testing();
}
