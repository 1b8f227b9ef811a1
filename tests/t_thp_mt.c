/*
 * THP splits against other threads (ThreadSanitizer). Part one: a thread
 * stores and loads a counter in one page of a PMD-mapped THP through the
 * CPU model while the main thread splits the PMD (mprotect of another
 * page) and zaps a third page: the split takes the PMD's final dirty and
 * accessed bits atomically and maps the same pages, so no store is lost
 * and no load sees another page. Part two: pin_user_pages_fast of a THP
 * range against a thread that maps, populates, splits and unmaps it: the
 * lockless walk meets leaves, split tables and holes and either pins or
 * falls back. Part three: offline_pages of a movable block holding the
 * THP while the storer runs: split_folio turns its PTEs into migration
 * entries, splits and migrates it; the storer's faults wait and no store
 * is lost. Asserts: no lost store, every pin released, some pins taken,
 * every page and table back at exit (MemFree), no WARN.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <pthread.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define NPIN 16

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t base, ps, hps;
static int stop;
static long lost, stores, pinned;

static int64_t map_thp(void)
{
	int64_t a = zd_vm_mmap(mm, base, hps, ZD_PROT_READ | ZD_PROT_WRITE,
			       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS | ZD_MAP_FIXED, NULL, 0);

	if (a == (int64_t)base) {
		zd_do_madvise(mm, base, hps, ZD_MADV_HUGEPAGE);
		zd_do_madvise(mm, base, hps, ZD_MADV_POPULATE_WRITE);
	}
	return a;
}

static void *storer(void *arg)
{
	uint64_t at = base + 5 * ps + 8;

	for (uint64_t v = 1; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); v++) {
		uint64_t got = 0;

		zd_access_vm(mm, at, &v, sizeof(v), true);
		zd_access_vm(mm, at, &got, sizeof(got), false);
		if (got != v)
			__atomic_add_fetch(&lost, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&stores, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void split_vs_access(unsigned rounds)
{
	unsigned split = 0;

	for (unsigned r = 0; r < rounds; r++) {
		pthread_t t;
		long before;

		if (map_thp() != (int64_t)base)
			break;
		__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
		before = __atomic_load_n(&stores, __ATOMIC_RELAXED);
		pthread_create(&t, NULL, storer, NULL);
		while (__atomic_load_n(&stores, __ATOMIC_RELAXED) < before + 20)
			tap_sleep_ms(0);
		unsigned long s0 = m->thp_split_pmd;
		zd_do_mprotect(mm, base + 200 * ps, ps, ZD_PROT_READ);
		split += m->thp_split_pmd != s0;
		zd_do_madvise(mm, base + 300 * ps, ps, ZD_MADV_DONTNEED);
		before = __atomic_load_n(&stores, __ATOMIC_RELAXED);
		while (__atomic_load_n(&stores, __ATOMIC_RELAXED) < before + 20)
			tap_sleep_ms(0);
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		tap_join_or_bail(t, 30, "storer");
		zd_vm_munmap(mm, base, hps);
	}
	is_int(split, rounds, "every round split a PMD under a running storer");
	is_int(lost, 0, "no store lost or misplaced across the splits");
}

static void *pinner(void *arg)
{
	struct zd_page *pages[NPIN];

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		long n = zd_pin_user_pages_fast(mm, base + 64 * ps, NPIN, ZD_FOLL_WRITE, pages);

		if (n > 0) {
			__atomic_add_fetch(&pinned, n, __ATOMIC_RELAXED);
			zd_unpin_user_pages(m, pages, (unsigned long)n);
		}
	}
	return NULL;
}

static void gup_fast_vs_split(unsigned rounds)
{
	pthread_t t;
	double t0 = tap_now();

	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	pthread_create(&t, NULL, pinner, NULL);
	for (unsigned r = 0; r < rounds || (!__atomic_load_n(&pinned, __ATOMIC_RELAXED) &&
					    tap_now() - t0 < 20); r++) {
		if (map_thp() != (int64_t)base)
			break;
		if (r & 1)
			zd_do_mprotect(mm, base + 70 * ps, ps, ZD_PROT_READ);   /* split */
		zd_vm_munmap(mm, base + (r & 2 ? 66 : 500) * ps, ps);       /* split, hole */
		zd_vm_munmap(mm, base, hps);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(t, 30, "pinner");
	ok(pinned > 0, "pin_user_pages_fast pinned THP pages between the changes (%ld)", pinned);
	is_u64(m->nr_foll_pin_acquired, m->nr_foll_pin_released, "every pin released");
}

static void offline_vs_access(void)
{
	const uint64_t blk = 4 * G, bsz = 128 * 1024 * 1024ULL;
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .auto_online_blocks = ZD_MMOP_ONLINE_MOVABLE };
	pthread_t t;
	long before;
	int rc;

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "offline: machine") ||
	    !ok(zd_add_memory(m, 0, blk, bsz, 0) == 0, "offline: a movable block"))
		return;
	mm = zd_mm_alloc(m);
	lost = stores = 0;
	if (map_thp() == (int64_t)base) {
		uint64_t pme = 0, pfn;

		zd_pagemap_read(mm, (base / ps) * 8, &pme, 8);
		pfn = pme & ((1ULL << 55) - 1);
		ok(m->nr_anon_thps && pfn << 12 >= blk && pfn << 12 < blk + bsz,
		   "offline: the THP is in the movable block");
		__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
		pthread_create(&t, NULL, storer, NULL);
		while (__atomic_load_n(&stores, __ATOMIC_RELAXED) < 20)
			tap_sleep_ms(0);
		rc = zd_offline_memory_range(m, blk, bsz);
		before = __atomic_load_n(&stores, __ATOMIC_RELAXED);
		while (__atomic_load_n(&stores, __ATOMIC_RELAXED) < before + 20)
			tap_sleep_ms(0);
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		tap_join_or_bail(t, 30, "storer");
		is_int(rc, 0, "offline split and migrated the THP under a running storer");
		is_int(lost, 0, "offline: no store lost");
		zd_pagemap_read(mm, (base / ps) * 8, &pme, 8);
		pfn = pme & ((1ULL << 55) - 1);
		ok(pfn << 12 < blk || pfn << 12 >= blk + bsz, "offline: its pages moved out");
	}
	zd_mmput(mm);
	is_u64(m->nr_anon_mapped, 0, "offline: nothing mapped at exit");
	is_u64(zd_warn_count(m), 0, "offline: no WARN");
	zd_machine_destroy(m);
}

int main(void)
{
	uint64_t free0, free1;

	m = tap_machine("x86_64", 40, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	ps = m->arch.page_size;
	hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	zd_meminfo_field(m, "MemFree", &free0);
	mm = zd_mm_alloc(m);
	base = (uint64_t)zd_vm_mmap(mm, 0, hps, ZD_PROT_READ, ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS,
				    NULL, 0);
	zd_vm_munmap(mm, base, hps);
	split_vs_access(40);
	gup_fast_vs_split(200);
	zd_mmput(mm);
	zd_meminfo_field(m, "MemFree", &free1);
	is_u64(free1, free0, "every page and table back at exit");
	if (!is_u64(zd_warn_count(m), 0, "no WARN")) { static struct zd_log_line l[ZD_LOG_RING]; size_t n = zd_log_read(m, 0, l, ZD_LOG_RING); for (size_t i = 0; i < n; i++) diag("%s", l[i].text); }
	zd_machine_destroy(m);
	offline_vs_access();
	return done_testing();
}
