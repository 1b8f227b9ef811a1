/*
 * Faults and the CPU model from several threads (threads are CPUs of one
 * process), also under ThreadSanitizer:
 *  - two writers fault in and write their own bytes of the same 64 pages
 *    at once (racing first-touch faults on every page, then COW-free
 *    rewrites): every byte read back is the last its writer stored, and
 *    each page was allocated once (AnonPages 64);
 *  - a thread maps, writes and unmaps a second range over and over while
 *    another reads and writes it: each access either completes or gets
 *    SIGSEGV (-EFAULT), nothing crashes, and the pages of each round are
 *    freed after the grace period the readers hold off;
 *  - at the end, exit gives back every page and table (MemFree) and no
 *    WARN fired.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define PAGES 64

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t shared_base, churn_base;
static int stop_churn;
static long churn_ok, churn_segv, churn_other, touches;

struct writer {
	int id;
	unsigned rounds;
	long bad;
};

static void *writer(void *arg)
{
	struct writer *w = arg;
	const uint64_t ps = m->arch.page_size;

	for (unsigned r = 0; r < w->rounds; r++)
		for (uint64_t p = 0; p < PAGES; p++) {
			uint64_t addr = shared_base + p * ps + (uint64_t)w->id * 64;
			unsigned char v = (unsigned char)(r * 31 + p + (unsigned)w->id), got = 0;

			if (zd_access_vm(mm, addr, &v, 1, true) ||
			    zd_access_vm(mm, addr, &got, 1, false) || got != v)
				w->bad++;
		}
	return NULL;
}

static void *churner(void *arg)
{
	const uint64_t ps = m->arch.page_size;
	unsigned rounds = *(unsigned *)arg;

	double t0 = tap_now();

	/* the rounds, and on until the toucher has run (bounded by time) */
	for (unsigned r = 0; r < rounds || (__atomic_load_n(&touches, __ATOMIC_RELAXED) < 2000 &&
					    tap_now() - t0 < 20); r++) {
		int64_t a = zd_vm_mmap(mm, churn_base, 8 * ps, ZD_PROT_READ | ZD_PROT_WRITE,
				       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS | ZD_MAP_FIXED, NULL, 0);
		if (a != (int64_t)churn_base)
			break;
		zd_do_madvise(mm, churn_base, 8 * ps, ZD_MADV_POPULATE_WRITE);
		zd_vm_munmap(mm, churn_base, 8 * ps);
	}
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *toucher(void *arg)
{
	const uint64_t ps = m->arch.page_size;
	unsigned k = 0;

	while (!__atomic_load_n(&stop_churn, __ATOMIC_ACQUIRE)) {
		char c = (char)k;
		int rc = zd_access_vm(mm, churn_base + (k % 8) * ps + 8, &c, 1, k & 1);

		k++;
		__atomic_add_fetch(&touches, 1, __ATOMIC_RELAXED);
		if (!rc)
			churn_ok++;
		else if (rc == -EFAULT)
			churn_segv++;
		else
			churn_other++;
	}
	return NULL;
}

int main(void)
{
	unsigned rounds = TAP_SLOW ? 20 : 200, churn_rounds = TAP_SLOW ? 100 : 1000;
	struct writer w[2] = { { .id = 0, .rounds = rounds }, { .id = 1, .rounds = rounds } };
	pthread_t tw[2], tc, tt;
	uint64_t free0;

	m = tap_machine("x86_64", 40, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	zd_meminfo_field(m, "MemFree", &free0);
	mm = zd_mm_alloc(m);
	if (!ok(!ZD_IS_ERR(mm), "a process"))
		return done_testing();
	shared_base = (uint64_t)zd_vm_mmap(mm, 0, PAGES * m->arch.page_size,
					   ZD_PROT_READ | ZD_PROT_WRITE,
					   ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	churn_base = shared_base - (64ULL << 20);
	for (int i = 0; i < 2; i++)
		pthread_create(&tw[i], NULL, writer, &w[i]);
	for (int i = 0; i < 2; i++)
		tap_join_or_bail(tw[i], 120, "writer");
	is_int((int)(w[0].bad + w[1].bad), 0, "two writers: every byte read back is theirs");
	is_int((int)m->nr_anon_mapped, PAGES, "racing first touches allocated each page once");

	pthread_create(&tc, NULL, churner, &churn_rounds);
	pthread_create(&tt, NULL, toucher, NULL);
	tap_join_or_bail(tc, 120, "churner");
	tap_join_or_bail(tt, 120, "toucher");
	ok(churn_ok + churn_segv > 0, "map/unmap churn: %ld accesses completed, %ld SIGSEGV",
	   churn_ok, churn_segv);
	is_int((int)churn_other, 0, "no access failed any other way");

	zd_mmput(mm);
	uint64_t free1;
	zd_meminfo_field(m, "MemFree", &free1);
	is_u64(free1, free0, "exit gave back every page and table");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
