/*
 * GUP-fast against munmap and faults on other threads (ThreadSanitizer):
 * one thread maps a range, populates it and unmaps it over and over; one
 * pins the range with pin_user_pages_fast (falling back to the slow path
 * where the walk cannot finish) and unpins what it got; one reads through
 * the CPU model. Asserts: nothing crashes or reads a freed table or page
 * (TSan/ASan), every pin taken is released (the vmstat pin counters
 * agree), some pins happened while the range was mapped, and at exit
 * every page and table is back (MemFree) with no WARN.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <pthread.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define NPAGES 8

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t base;
static int done;
static long pinned, failed_other, loops;

static void *mapper(void *arg)
{
	const uint64_t ps = m->arch.page_size;
	unsigned rounds = *(unsigned *)arg;
	double t0 = tap_now();

	/* the rounds, and on until the pinner has run and pinned (bounded) */
	for (unsigned r = 0; r < rounds || ((__atomic_load_n(&loops, __ATOMIC_RELAXED) < 1000 ||
					     !__atomic_load_n(&pinned, __ATOMIC_RELAXED)) &&
					    tap_now() - t0 < 20); r++) {
		if (zd_vm_mmap(mm, base, NPAGES * ps, ZD_PROT_READ | ZD_PROT_WRITE,
			       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS | ZD_MAP_FIXED, NULL, 0) !=
		    (int64_t)base)
			break;
		if (r & 1)
			zd_do_madvise(mm, base, NPAGES * ps, ZD_MADV_POPULATE_WRITE);
		zd_vm_munmap(mm, base, NPAGES * ps);
	}
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *pinner(void *arg)
{
	struct zd_page *pages[NPAGES];

	(void)arg;
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		long n = zd_pin_user_pages_fast(mm, base, NPAGES, ZD_FOLL_WRITE, pages);

		if (n > 0) {
			__atomic_add_fetch(&pinned, n, __ATOMIC_RELAXED);
			zd_unpin_user_pages(m, pages, (unsigned long)n);
		} else if (n != -EFAULT) {
			failed_other++;
		}
		__atomic_add_fetch(&loops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *reader(void *arg)
{
	const uint64_t ps = m->arch.page_size;
	unsigned k = 0;

	(void)arg;
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		char c;

		zd_access_vm(mm, base + (k++ % NPAGES) * ps, &c, 1, false);
	}
	return NULL;
}

int main(void)
{
	unsigned rounds = TAP_SLOW ? 100 : 1000;
	uint64_t free0, free1;
	pthread_t t[3];

	m = tap_machine("x86_64", 40, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	zd_meminfo_field(m, "MemFree", &free0);
	mm = zd_mm_alloc(m);
	base = (uint64_t)zd_vm_mmap(mm, 0, NPAGES * m->arch.page_size, ZD_PROT_READ,
				    ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	zd_vm_munmap(mm, base, NPAGES * m->arch.page_size);
	pthread_create(&t[0], NULL, mapper, &rounds);
	pthread_create(&t[1], NULL, pinner, NULL);
	pthread_create(&t[2], NULL, reader, NULL);
	for (int i = 0; i < 3; i++)
		tap_join_or_bail(t[i], 120, "gup thread");
	ok(pinned > 0, "pins taken while the range came and went (%ld pages)", pinned);
	is_int((int)failed_other, 0, "every failure was EFAULT (no mapping)");
	is_u64(m->nr_foll_pin_acquired, m->nr_foll_pin_released, "every pin released");
	zd_mmput(mm);
	zd_meminfo_field(m, "MemFree", &free1);
	is_u64(free1, free0, "every page and table back at exit");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
