/*
 * The interval notifier's sequence protocol under concurrency: read_begin
 * blocks while an overlapping invalidation is in its callback and returns
 * once it ends; remove during one waits for its end; and a mirror filled through hmm_range_fault with the
 * driver's read_retry check under its lock, racing a thread that zaps and
 * refaults the range, never keeps an entry the CPU tables no longer have.
 * Clean under ThreadSanitizer.
 */
#include <zonedev/zonedev.h>
#include <zonedev/hmm.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define NP 16

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t ps, base;

/* ---- a blocking callback ---- */
static struct zd_mmu_interval_notifier bn;
static int in_cb, release_cb, begun;

static bool block_inv(struct zd_mmu_interval_notifier *sub, const struct zd_mmu_notifier_range *r,
		      unsigned long cur_seq)
{
	zd_mmu_interval_set_seq(sub, cur_seq);
	__atomic_store_n(&in_cb, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&release_cb, __ATOMIC_ACQUIRE))
		tap_sleep_ms(1);
	return true;
}
static const struct zd_mmu_interval_notifier_ops block_ops = { .invalidate = block_inv };

static void *zapper(void *arg)
{
	zd_do_madvise(mm, base, ps, ZD_MADV_DONTNEED);
	return NULL;
}
static void *reader(void *arg)
{
	unsigned long *seq = arg;

	*seq = zd_mmu_interval_read_begin(&bn);
	__atomic_store_n(&begun, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void read_begin_blocks(void)
{
	pthread_t z, r;
	unsigned long seq = 0;

	zd_mmu_interval_notifier_insert(&bn, mm, base, NP * ps, &block_ops);
	pthread_create(&z, NULL, zapper, NULL);
	while (!__atomic_load_n(&in_cb, __ATOMIC_ACQUIRE))
		tap_sleep_ms(1);
	pthread_create(&r, NULL, reader, &seq);
	tap_sleep_ms(TAP_SLOW ? 200 : 50);
	ok(!__atomic_load_n(&begun, __ATOMIC_ACQUIRE),
	   "read_begin blocks while an overlapping invalidation runs");
	__atomic_store_n(&release_cb, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(z, 30, "zapper");
	tap_join_or_bail(r, 30, "reader");
	ok(begun, "... and returns when it ends");
	ok(!zd_mmu_interval_read_retry(&bn, seq), "its seq is stable afterwards");
	zd_mmu_interval_notifier_remove(&bn);
}

/* remove during an invalidation waits for its end */
static struct zd_mmu_interval_notifier plain;
static int plain_calls, removed;

static bool plain_inv(struct zd_mmu_interval_notifier *sub, const struct zd_mmu_notifier_range *r,
		      unsigned long cur_seq)
{
	zd_mmu_interval_set_seq(sub, cur_seq);
	__atomic_add_fetch(&plain_calls, 1, __ATOMIC_RELAXED);
	return true;
}
static const struct zd_mmu_interval_notifier_ops plain_ops = { .invalidate = plain_inv };

static void *remover(void *arg)
{
	zd_mmu_interval_notifier_remove(&plain);
	__atomic_store_n(&removed, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void remove_waits(void)
{
	pthread_t z, r;

	__atomic_store_n(&in_cb, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&release_cb, 0, __ATOMIC_RELEASE);
	zd_mmu_interval_notifier_insert(&bn, mm, base, NP * ps, &block_ops);
	zd_mmu_interval_notifier_insert(&plain, mm, base, NP * ps, &plain_ops);
	pthread_create(&z, NULL, zapper, NULL);
	while (!__atomic_load_n(&in_cb, __ATOMIC_ACQUIRE))
		tap_sleep_ms(1);
	pthread_create(&r, NULL, remover, NULL);
	tap_sleep_ms(TAP_SLOW ? 200 : 50);
	ok(!__atomic_load_n(&removed, __ATOMIC_ACQUIRE),
	   "remove waits while an invalidation is running");
	__atomic_store_n(&release_cb, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(z, 30, "zapper");
	tap_join_or_bail(r, 30, "remover");
	ok(removed, "... and returns after it");
	__atomic_store_n(&plain_calls, 0, __ATOMIC_RELAXED);
	zd_do_madvise(mm, base, ps, ZD_MADV_DONTNEED);
	is_int(__atomic_load_n(&plain_calls, __ATOMIC_RELAXED), 0,
	       "the removed interval is called no more");
	zd_mmu_interval_notifier_remove(&bn);
}

/* ---- a mirror kept by the protocol ---- */
static struct zd_mmu_interval_notifier mn;
static pthread_mutex_t dlock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mirror[NP];   /* dlock */
static int stop;
static long installs, retries;   /* fill's; installs read atomically */

static bool mirror_inv(struct zd_mmu_interval_notifier *sub, const struct zd_mmu_notifier_range *r,
		       unsigned long cur_seq)
{
	pthread_mutex_lock(&dlock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	for (int i = 0; i < NP; i++) {
		uint64_t a = base + i * ps;

		if (a >= r->start && a < r->end)
			mirror[i] = 0;
	}
	pthread_mutex_unlock(&dlock);
	return true;
}
static const struct zd_mmu_interval_notifier_ops mirror_ops = { .invalidate = mirror_inv };

static void *churn(void *arg)
{
	unsigned seed = 1;
	char c = 3;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int i = (int)(rand_r(&seed) % NP);

		if (!(rand_r(&seed) % 4))
			zd_do_madvise(mm, base + i * ps, ps, ZD_MADV_DONTNEED);
		else
			zd_access_vm(mm, base + i * ps, &c, 1, true);
	}
	return NULL;
}

static void *fill(void *arg)
{
	uint64_t pfns[NP];
	struct zd_hmm_range r = { .notifier = &mn, .start = base, .end = base + NP * ps,
				  .hmm_pfns = pfns, .default_flags = ZD_HMM_PFN_REQ_FAULT };

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int rc;

		r.notifier_seq = zd_mmu_interval_read_begin(&mn);
		zd_mmap_read_lock(mm);
		rc = zd_hmm_range_fault(&r);
		zd_mmap_read_unlock(mm);
		if (rc == -EBUSY) {
			retries++;
			continue;
		}
		if (rc)
			break;
		pthread_mutex_lock(&dlock);
		if (zd_mmu_interval_read_retry(&mn, r.notifier_seq)) {
			retries++;
		} else {
			for (int i = 0; i < NP; i++)
				mirror[i] = zd_hmm_pfn_to_pfn(pfns[i]);
			__atomic_add_fetch(&installs, 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&dlock);
	}
	return NULL;
}

static void mirror_race(void)
{
	pthread_t c, f;
	int stale = 0, present = 0;

	zd_mmu_interval_notifier_insert(&mn, mm, base, NP * ps, &mirror_ops);
	pthread_create(&c, NULL, churn, NULL);
	pthread_create(&f, NULL, fill, NULL);
	tap_sleep_ms(TAP_SLOW ? 1500 : 500);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(c, 60, "churn");
	tap_join_or_bail(f, 60, "fill");
	ok(installs > 0, "the mirror was filled (%ld installs, %ld retries)", installs, retries);
	pthread_mutex_lock(&dlock);
	for (int i = 0; i < NP; i++) {
		uint64_t cpu = tap_pfn_at(mm, base + i * ps);

		if (!mirror[i])
			continue;
		present++;
		if (cpu == ZD_BAD_PFN ? mirror[i] != m->zero_pfn : mirror[i] != cpu)
			stale++;
	}
	pthread_mutex_unlock(&dlock);
	is_int(stale, 0, "no mirror entry outlives its CPU mapping (%d present)", present);
	/* one more round alone: all present, then one page zapped */
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	installs = 0;
	pthread_create(&f, NULL, fill, NULL);
	while (!__atomic_load_n(&installs, __ATOMIC_ACQUIRE))
		tap_sleep_ms(1);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(f, 60, "fill");
	zd_do_madvise(mm, base + 3 * ps, ps, ZD_MADV_DONTNEED);
	pthread_mutex_lock(&dlock);
	stale = present = 0;
	for (int i = 0; i < NP; i++) {
		present += mirror[i] != 0;
		stale += mirror[i] && mirror[i] != tap_pfn_at(mm, base + i * ps);
	}
	pthread_mutex_unlock(&dlock);
	is_int(present, NP - 1, "a quiet fill mirrors every page; the zap cleared one");
	is_int(stale, 0, "... and every entry is the CPU's page");
	zd_mmu_interval_notifier_remove(&mn);
}

int main(void)
{
	m = tap_machine("x86_64", 40, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	ps = m->arch.page_size;
	mm = zd_mm_alloc(m);
	base = (uint64_t)zd_vm_mmap(mm, 0, NP * ps, ZD_PROT_READ | ZD_PROT_WRITE,
				    ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	read_begin_blocks();
	remove_waits();
	mirror_race();
	zd_mmput(mm);
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
