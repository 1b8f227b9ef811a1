/*
 * zd_for_each_dev_pagemap() against memremap_pages()/memunmap_pages() on
 * other threads (run under ThreadSanitizer by `make check SANITIZE=thread`):
 * two walkers read every pgmap they are handed (its ranges, type, memmap
 * placement, one page's zone) while the main thread maps and unmaps two
 * pgmaps over and over. A walker must only ever see a pgmap whose setup is
 * complete: one range, the range it was asked for, its pages ZONE_DEVICE.
 * Before pgmaps carried a ready mark, a walker met pgmaps whose ranges were
 * still being added (nr_range counting up from 0) and TSan saw the race.
 * (A 40-bit machine, so TSan's shadow leaves room for the vmemmap.)
 */
#include <zonedev/zonedev.h>
#include <pthread.h>
#include <stdlib.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)
#define WALKERS 2
#define CYCLES 300

static struct zd_machine *m;
static int stop, bad, seen;

static int look(struct zd_dev_pagemap *pg, void *arg)
{
	uint64_t pfn = pg->range.start >> 12;

	(void)arg;
	if (pg->nr_range != 1 || pg->type != ZD_MEMORY_DEVICE_GENERIC ||
	    zd_range_len(&pg->range) != 64 * M || !pg->host_addr[0] ||
	    !zd_is_zone_device_page(zd_pfn_to_page(m, pfn)) ||
	    zd_page_pgmap(m, zd_pfn_to_page(m, pfn)) != pg)
		__atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&seen, 1, __ATOMIC_RELAXED);
	return 0;
}

static void *walker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		if (zd_for_each_dev_pagemap(m, NULL, look))
			__atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	static struct zd_dev_pagemap pg[2];
	pthread_t t[WALKERS];
	int map_failures = 0;

	m = tap_machine("x86_64", 40, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	for (int i = 0; i < WALKERS; i++)
		pthread_create(&t[i], NULL, walker, NULL);
	for (int c = 0; c < CYCLES; c++)
		for (int i = 0; i < 2; i++) {
			zd_dev_pagemap_init(&pg[i]);
			pg[i].type = ZD_MEMORY_DEVICE_GENERIC;
			pg[i].range.start = 64 * G + (uint64_t)i * G;
			pg[i].range.end = pg[i].range.start + 64 * M - 1;
			pg[i].nr_range = 1;
			if (ZD_IS_ERR(zd_memremap_pages(m, &pg[i], 0)))
				map_failures++;
			else if (c & 1)
				zd_memunmap_pages(&pg[i]);
			if (!(c & 1) && i == 1) {
				zd_memunmap_pages(&pg[0]);
				zd_memunmap_pages(&pg[1]);
			}
		}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < WALKERS; i++)
		tap_join_or_bail(t[i], 60, "walker");
	is_int(map_failures, 0, "%d memremap/memunmap cycles of two pgmaps", CYCLES);
	ok(seen > 0, "the walkers saw pgmaps (%d)", seen);
	is_int(bad, 0, "every pgmap a walker saw was completely set up");
	is_int(zd_for_each_dev_pagemap(m, NULL, look), 0, "a walk after the last unmap");
	is_int(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
