/*
 * Migration of anonymous pages (mm/migrate.c), as offline_pages uses it:
 * a movable block holding a process's pages, some shared with a fork
 * child (COW), goes offline, also while a thread keeps reading them:
 *  - offline succeeds; every byte reads back the same in both processes;
 *    no page of either process is in the block any more; shared pages
 *    are still one page for both (mapcount 2), exclusive ones exclusive
 *    (a write after the move copies nothing: MemFree unchanged);
 *    AnonPages and both processes' anon rss are unchanged;
 *  - the reader thread's accesses (faults on migration entries wait and
 *    retry) all return the right bytes (ThreadSanitizer: no race);
 *  - a pinned page keeps its block online: offline is -EBUSY, the page
 *    stays where it was with its bytes, and after unpin offline succeeds;
 *  - vmstat's pgmigrate_success counts the moved pages;
 *  - migrate_range racing mmap/write/munmap on two threads: nothing freed
 *    is used (the anon_vma is held, pages are taken only if alive), pages
 *    move, MemFree comes back;
 *  - back-to-back migrations of one page under a thread storing and
 *    loading a counter: every access completes and reads back its store;
 *  - the block then goes away (remove_memory) and every page is back at
 *    exit, with no WARN.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PS 4096ULL
#define NP 64
#define BLOCK (4 * G)

static struct zd_machine *m;
static struct zd_mm *parent, *child;
static uint64_t base;
static int stop;
static long bad_reads, reads_done;

static unsigned char byte_of(uint64_t i, int who)
{
	return (unsigned char)(i * 13 + 7 + (unsigned)who);
}

static uint64_t pfn_at(struct zd_mm *mm, uint64_t addr)
{
	enum zd_pt_level level;
	struct zd_page *page;
	zd_pte_t e = zd_follow_pte(mm, addr, &level, &page);

	return page ? zd_page_to_pfn(m, page) : (e.val ? ZD_BAD_PFN - 1 : ZD_BAD_PFN);
}

static int in_block(struct zd_mm *mm)
{
	int n = 0;

	for (uint64_t i = 0; i < NP; i++) {
		uint64_t pfn = pfn_at(mm, base + i * PS);
		n += pfn >= BLOCK / PS && pfn < (BLOCK + 128 * M) / PS;
	}
	return n;
}

static bool contents_ok(struct zd_mm *mm, int who_written_from)
{
	for (uint64_t i = 0; i < NP; i++) {
		unsigned char c = 0;
		int who = i >= (uint64_t)who_written_from ? 1 : 0;

		if (mm == parent)
			who = 0;
		if (zd_access_vm(mm, base + i * PS + 100, &c, 1, false) || c != byte_of(i, who))
			return false;
	}
	return true;
}

static void *reader(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (uint64_t i = 0; i < NP; i++) {
			unsigned char c = 0;
			if (zd_access_vm(parent, base + i * PS + 100, &c, 1, false) || c != byte_of(i, 0))
				__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&reads_done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* migrate_range against mmap/write/munmap churn on two threads: the
 * anon_vma a migration walks must outlive a munmap meanwhile (a
 * use-after-free under ASan before), no page is revived by a reference
 * taken after its last one went, and MemFree comes back. */
static volatile int churn_stop;

static void *churn(void *arg)
{
	struct zd_machine *cm = arg;
	struct zd_mm *mm = zd_mm_alloc(cm);

	while (!__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE)) {
		uint64_t b = (uint64_t)zd_vm_mmap(mm, 0, NP * PS, ZD_PROT_READ | ZD_PROT_WRITE,
						  ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
		for (uint64_t i = 0; i < NP; i++)
			zd_access_vm(mm, b + i * PS, "c", 1, true);
		zd_vm_munmap(mm, b, NP * PS);
	}
	zd_mmput(mm);
	return NULL;
}

static void migrate_vs_munmap(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 256 * M } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1 };
	struct zd_machine *cm = zd_machine_create(&d);
	uint64_t f0, f1;
	pthread_t t[2];
	long moved = 0;

	if (!ok(!ZD_IS_ERR(cm), "churn: a machine"))
		return;
	zd_meminfo_field(cm, "MemFree", &f0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn, cm);
	double t0 = tap_now();

	/* the rounds, and on until something moved (bounded by time) */
	for (int i = 0; i < (TAP_SLOW ? 60 : 600) || (!moved && tap_now() - t0 < 20); i++) {
		long n = zd_migrate_range(cm, (i & 1) ? 128 * M / PS : 0, 128 * M / PS);
		moved += n > 0 ? n : 0;
	}
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		tap_join_or_bail(t[i], 60, "churn");
	zd_meminfo_field(cm, "MemFree", &f1);
	ok(moved > 0, "churn: pages migrated while processes came and went (%ld)", moved);
	is_u64(f1, f0, "churn: MemFree back");
	is_u64(zd_warn_count(cm), 0, "churn: no WARN");
	zd_machine_destroy(cm);
}

/* Back-to-back migrations of one page under a thread that stores and
 * loads a counter: each access waits out however many migration entries
 * it meets (the review's lost writes were accesses giving up after three
 * faults), every store is read back, nothing WARNs. */
static volatile int counter_stop;
static long counter_bad, counter_done;

static void *counter(void *arg)
{
	struct zd_mm *mm = arg;

	for (uint64_t v = 1; !__atomic_load_n(&counter_stop, __ATOMIC_ACQUIRE); v++) {
		uint64_t r = 0;

		if (zd_access_vm(mm, base, &v, 8, true) || zd_access_vm(mm, base, &r, 8, false) ||
		    r != v)
			__atomic_add_fetch(&counter_bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&counter_done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void migrate_storm(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 256 * M } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1 };
	struct zd_machine *sm = zd_machine_create(&d);
	struct zd_mm *mm;
	pthread_t t;
	long moved = 0;

	if (!ok(!ZD_IS_ERR(sm), "storm: a machine"))
		return;
	mm = zd_mm_alloc(sm);
	base = (uint64_t)zd_vm_mmap(mm, 0, PS, ZD_PROT_READ | ZD_PROT_WRITE,
				    ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	zd_access_vm(mm, base, "x", 1, true);
	pthread_create(&t, NULL, counter, mm);
	/* at least N migrations, and on until the counter thread has run
	 * (a loaded host may not schedule it while the first N go by) */
	for (int i = 0, n = TAP_SLOW ? 300 : 3000;
	     i < n || (__atomic_load_n(&counter_done, __ATOMIC_RELAXED) < 100 && i < 100 * n);
	     i++) {
		enum zd_pt_level l;
		struct zd_page *p;

		zd_follow_pte(mm, base, &l, &p);
		if (p && zd_migrate_range(sm, zd_page_to_pfn(sm, p), 1) > 0)
			moved++;
		if (!(i & 63))
			sched_yield();
	}
	__atomic_store_n(&counter_stop, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(t, 60, "counter");
	ok(moved > 0 && counter_done > 0, "storm: %ld migrations, %ld store+load rounds", moved,
	   counter_done);
	is_int((int)counter_bad, 0, "storm: every store read back, no access failed");
	is_u64(zd_warn_count(sm), 0, "storm: no WARN");
	zd_mmput(mm);
	zd_machine_destroy(sm);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .auto_online_blocks = ZD_MMOP_ONLINE_MOVABLE };
	uint64_t free0, free1, shared_pfn_p, shared_pfn_c;
	struct zd_page *pinned;
	pthread_t t;

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "machine"))
		return done_testing();
	zd_meminfo_field(m, "MemFree", &free0);
	if (!is_int(zd_add_memory(m, 0, BLOCK, 128 * M, 0), 0, "a movable block hot-added"))
		return done_testing();
	parent = zd_mm_alloc(m);
	base = (uint64_t)zd_vm_mmap(parent, 0, NP * PS, ZD_PROT_READ | ZD_PROT_WRITE,
				    ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	for (uint64_t i = 0; i < NP; i++) {
		unsigned char c = byte_of(i, 0);
		zd_access_vm(parent, base + i * PS + 100, &c, 1, true);
	}
	is_int(in_block(parent), NP, "the process's pages are in the movable block");
	child = zd_dup_mm(parent);
	/* the child rewrites the upper half: those become its own copies */
	for (uint64_t i = NP / 2; i < NP; i++) {
		unsigned char c = byte_of(i, 1);
		zd_access_vm(child, base + i * PS + 100, &c, 1, true);
	}
	/* the parent's rewrite of its last page reuses it: exclusive again */
	unsigned char last = byte_of(NP - 1, 0);
	zd_access_vm(parent, base + (NP - 1) * PS + 100, &last, 1, true);
	long anon0 = m->nr_anon_mapped, rssp = parent->rss_stat[ZD_MM_ANONPAGES];
	long rssc = child->rss_stat[ZD_MM_ANONPAGES];

	pthread_create(&t, NULL, reader, NULL);
	while (__atomic_load_n(&reads_done, __ATOMIC_RELAXED) < 2)
		sched_yield();
	is_int(zd_offline_memory_range(m, BLOCK, 128 * M), 0, "offline migrates the pages away");
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(t, 60, "reader");
	is_int((int)bad_reads, 0, "the reader saw the right bytes throughout (%ld rounds)",
	       reads_done);
	is_int(in_block(parent) + in_block(child), 0, "no page of either process is in the block");
	ok(contents_ok(parent, NP / 2) && contents_ok(child, NP / 2), "every byte the same in both");
	shared_pfn_p = pfn_at(parent, base);
	shared_pfn_c = pfn_at(child, base);
	struct zd_page *sp = zd_pfn_to_page(m, shared_pfn_p);
	ok(shared_pfn_p == shared_pfn_c && zd_page_mapcount(sp) == 2,
	   "a shared page is still one page for both (mapcount 2)");
	struct zd_page *ep = zd_pfn_to_page(m, pfn_at(parent, base + (NP - 1) * PS));
	ok(zd_test_page_flag(ep, ZD_PG_anon_exclusive) && zd_page_mapcount(ep) == 1,
	   "an exclusive page is still exclusive");
	is_int((int)(m->nr_anon_mapped - anon0), 0, "AnonPages unchanged");
	char *vs = tap_dump_text(m, zd_vmstat_show), *hit = vs ? strstr(vs, "pgmigrate_success ") : NULL;
	ok(hit && strtoul(hit + strlen("pgmigrate_success "), NULL, 10) >= NP,
	   "vmstat pgmigrate_success counts the moved pages");
	free(vs);
	ok(parent->rss_stat[ZD_MM_ANONPAGES] == rssp && child->rss_stat[ZD_MM_ANONPAGES] == rssc,
	   "anon rss unchanged in both");
	uint64_t kb0, kb1;
	zd_meminfo_field(m, "MemFree", &kb0);
	unsigned char c = 0x42;
	zd_access_vm(parent, base + (NP - 1) * PS, &c, 1, true);
	zd_meminfo_field(m, "MemFree", &kb1);
	ok(kb0 == kb1 && pfn_at(parent, base + (NP - 1) * PS) == zd_page_to_pfn(m, ep),
	   "a write to the moved exclusive page copies nothing");

	/* a pin keeps the block online */
	is_int(zd_memory_block_store_state(m, BLOCK / (128 * M), "online_movable"), 0,
	       "the block online again");
	uint64_t a2 = (uint64_t)zd_vm_mmap(parent, 0, PS, ZD_PROT_READ | ZD_PROT_WRITE,
					   ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	c = 0x77;
	zd_access_vm(parent, a2, &c, 1, true);
	uint64_t pp = pfn_at(parent, a2);
	ok(pp >= BLOCK / PS && pp < (BLOCK + 128 * M) / PS, "a new page lands in the block");
	is_int(zd_pin_user_pages_unlocked(parent, a2, 1, ZD_FOLL_WRITE, &pinned), 1, "pin it");
	is_int(zd_offline_memory_range(m, BLOCK, 128 * M), -EBUSY, "offline with a pin is EBUSY");
	c = 0;
	ok(pfn_at(parent, a2) == pp && !zd_access_vm(parent, a2, &c, 1, false) && c == 0x77,
	   "the pinned page stayed, bytes intact");
	zd_unpin_user_page(m, pinned);
	is_int(zd_offline_memory_range(m, BLOCK, 128 * M), 0, "after unpin offline succeeds");
	ok(pfn_at(parent, a2) != pp && !zd_access_vm(parent, a2, &c, 1, false) && c == 0x77,
	   "and the page moved with its bytes");
	is_int(zd_remove_memory(m, BLOCK, 128 * M), 0, "the block goes away");
	zd_mmput(child);
	zd_mmput(parent);
	zd_meminfo_field(m, "MemFree", &free1);
	is_u64(free1, free0, "every page back at exit");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	migrate_vs_munmap();
	migrate_storm();
	return done_testing();
}
