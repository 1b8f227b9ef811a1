/*
 * Concurrency (threads are CPUs): the buddy allocator, memory hotplug and
 * the sparse model's lock-free readers running at the same time, on a small
 * x86_64 machine (40-bit physical space, so the vmemmap window stays small
 * under ThreadSanitizer) with boot RAM [0, 960 MiB).
 *
 * Threads:
 *  - 3 allocators: seeded random orders, GFP_KERNEL or movable, each page
 *    tagged in its contents and the tag checked before it is freed;
 *  - 1 hotplug thread: add_memory 512 MiB at 4 GiB, online it movable, let
 *    the allocators use it, offline it (retrying -EBUSY after a short pause
 *    while the allocators give their movable pages back), remove it;
 *  - invariant 4: a writer doing __add_pages/__remove_pages of one 2 MiB
 *    sub-section of an otherwise empty section (the last removal frees the
 *    usage under RCU) while a reader calls pfn_valid()/pfn_to_online_page()
 *    on it in a loop without the hotplug lock, and a second reader takes
 *    get_online_mems() and dereferences the struct page whenever pfn_valid();
 *  - the same writer/reader pair on a sub-section of an early (boot) section
 *    past the end of boot RAM, where pfn_to_online_page() can succeed.
 * Asserts: no crash (and, under TSan/ASan, no report), no page handed out
 * twice (tags intact), every hotplug cycle completes, readers saw both
 * states and never an inconsistent one, free pages == managed pages ==
 * boot RAM at the end, and zero WARNs.
 */
#include <zonedev/zonedev.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)

#define HOT_START (4 * G)
#define HOT_SIZE (512 * M)
#define DEV_SUB PFN(16 * G)                   /* sub-section in an empty section */
#define EARLY_SUB PFN(960 * M)                /* first sub-section past boot RAM */

static struct zd_machine *m;
static int stop_alloc, draining, hotplug_done, polite;

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* ------------------------------------------------------------- allocators */

struct alloc_arg {
	int id;
	unsigned long allocs, frees, failures, bad_tag, bad_align, movable_allocs;
};

#define RING 24

static void free_held(struct alloc_arg *a, struct zd_page *p, unsigned order, uint64_t tag)
{
	uint64_t *c = zd_page_address(m, p);

	if (!c || *c != tag)
		a->bad_tag++;
	zd___free_pages(m, p, order);
	a->frees++;
}

static void *allocator(void *arg)
{
	struct alloc_arg *a = arg;
	struct { struct zd_page *p; unsigned order; uint64_t tag; } ring[RING];
	unsigned n = 0;
	uint64_t seed = 0x1234567ULL * (uint64_t)(a->id + 1), serial = 0;

	while (!__atomic_load_n(&stop_alloc, __ATOMIC_ACQUIRE)) {
		bool drain = __atomic_load_n(&draining, __ATOMIC_ACQUIRE);

		if (drain) {   /* give hot-added pages back so offline can proceed */
			for (unsigned i = 0; i < n;) {
				if (zd_page_to_pfn(m, ring[i].p) >= PFN(HOT_START)) {
					free_held(a, ring[i].p, ring[i].order, ring[i].tag);
					ring[i] = ring[--n];
				} else {
					i++;
				}
			}
		}
		if (n == RING || (n && (xs(&seed) & 1))) {
			unsigned i = (unsigned)(xs(&seed) % n);
			free_held(a, ring[i].p, ring[i].order, ring[i].tag);
			ring[i] = ring[--n];
			continue;
		}
		unsigned order = (unsigned)(xs(&seed) % 7);
		if ((xs(&seed) & 63) == 0)
			order = m->arch.max_page_order;
		/* While draining only DMA32 (all boot RAM, below the hot range). */
		zd_gfp_t gfp = drain ? ZD___GFP_DMA32 :
			       (xs(&seed) & 1) ? ZD_GFP_HIGHUSER_MOVABLE : ZD_GFP_KERNEL;
		struct zd_page *p = zd_alloc_pages(m, gfp, order);
		if (!p) {
			a->failures++;
			continue;
		}
		a->allocs++;
		if (zd_page_to_pfn(m, p) & ((1ULL << order) - 1))
			a->bad_align++;
		if (zd_page_zonenum(p) == ZD_ZONE_MOVABLE)
			a->movable_allocs++;
		uint64_t tag = ((uint64_t)a->id << 56) | ++serial;
		uint64_t *c = zd_page_address(m, p);
		if (c)
			*c = tag;
		ring[n].p = p;
		ring[n].order = order;
		ring[n++].tag = tag;
	}
	while (n) {
		n--;
		free_held(a, ring[n].p, ring[n].order, ring[n].tag);
	}
	return NULL;
}

/* ---------------------------------------------------------------- hotplug */

struct hotplug_arg {
	unsigned cycles, add_fail, online_fail, offline_fail, remove_fail;
	unsigned long busy_retries;
	int last_err;
	double t_add, t_online, t_offline, t_remove;
};

static void pause_a_little(void)
{
	for (int i = 0; i < 5; i++)
		sched_yield();
}

static void *hotplug(void *arg)
{
	struct hotplug_arg *h = arg;
	double t0 = tap_now(), budget = TAP_SLOW ? 8.0 : 4.0;
	unsigned max_cycles = TAP_SLOW ? 8 : 40;

	while (h->cycles < max_cycles && (h->cycles < 3 || tap_now() - t0 < budget)) {
		double ts = tap_now();
		int rc = zd_add_memory(m, 0, HOT_START, HOT_SIZE, 0);
		h->t_add += tap_now() - ts;
		ts = tap_now();
		if (rc) {
			h->add_fail++;
			h->last_err = rc;
			break;
		}
		rc = zd_online_memory_range(m, HOT_START, HOT_SIZE, ZD_MMOP_ONLINE_MOVABLE);
		if (rc) {
			h->online_fail++;
			h->last_err = rc;
			zd_remove_memory(m, HOT_START, HOT_SIZE);
			break;
		}
		h->t_online += tap_now() - ts;
		pause_a_little();   /* let the allocators take movable pages */
		ts = tap_now();
		/* First attempt while the allocators hold pages there: usually
		 * -EBUSY. Then ask them to give the range back and retry. */
		rc = zd_offline_memory_range(m, HOT_START, HOT_SIZE);
		if (rc == -EBUSY)
			h->busy_retries++;
		__atomic_store_n(&draining, 1, __ATOMIC_RELEASE);
		unsigned tries = 0;
		while (rc == -EBUSY &&
		       (rc = zd_offline_memory_range(m, HOT_START, HOT_SIZE)) == -EBUSY && ++tries < 5000) {
			h->busy_retries++;
			pause_a_little();
		}
		__atomic_store_n(&draining, 0, __ATOMIC_RELEASE);
		h->t_offline += tap_now() - ts;
		ts = tap_now();
		if (rc) {
			h->offline_fail++;
			h->last_err = rc;
			break;
		}
		rc = zd_remove_memory(m, HOT_START, HOT_SIZE);
		if (rc) {
			h->remove_fail++;
			h->last_err = rc;
			break;
		}
		h->t_remove += tap_now() - ts;
		h->cycles++;
	}
	__atomic_store_n(&hotplug_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ------------------------------------------------------ invariant 4 pairs */

struct pair {
	uint64_t pfn;
	bool early;                  /* sub-section of a boot section */
	unsigned limit;              /* iterations; 0: until hotplug_done */
	int running;                 /* writer still going */
	unsigned done, add_fail;
	/* lock-free reader */
	unsigned long seen_valid, seen_invalid, online_seen, online_null, online_bad;
	/* locked reader */
	unsigned long locked_valid, locked_bad;
};

static void pair_reset(struct pair *p, unsigned limit)
{
	uint64_t pfn = p->pfn;
	bool early = p->early;

	memset(p, 0, sizeof(*p));
	p->pfn = pfn;
	p->early = early;
	p->limit = limit;
	p->running = 1;
}

/* The reader's count of the state the writer just produced: populated is
 * "online" in an early section (always valid) and "valid" elsewhere. */
static unsigned long reader_saw(struct pair *p, bool populated)
{
	unsigned long *c = p->early ? (populated ? &p->online_seen : &p->online_null)
				    : (populated ? &p->seen_valid : &p->seen_invalid);
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Until the reader has seen the state once, give it the chance (bounded);
 * afterwards the race runs at full speed. */
static void wait_reader(struct pair *p, bool populated)
{
	for (int i = 0; i < 2000 && !reader_saw(p, populated); i++)
		sched_yield();
}

static void *pair_writer(void *arg)
{
	struct pair *p = arg;
	struct zd_mhp_params params = { .pgprot = 1 };

	for (unsigned i = 0; p->limit ? i < p->limit :
			     !__atomic_load_n(&hotplug_done, __ATOMIC_ACQUIRE); i++) {
		int rc;
		zd_mem_hotplug_begin(m);
		rc = zd___add_pages(m, 0, p->pfn, 512, &params);
		if (!rc) {
			/* initialise the struct pages like a device would */
			for (int k = 0; k < 512; k += 64)
				zd_pfn_to_page(m, p->pfn + k)->flags = 0x5a;
		}
		zd_mem_hotplug_done(m);
		if (rc) {
			p->add_fail++;
			break;
		}
		/* Stay populated until the lock-free reader has seen that state
		 * once (bounded), and removed likewise: otherwise on 2 busy cores
		 * the reader may never run inside one of the windows. */
		wait_reader(p, true);
		zd_mem_hotplug_begin(m);
		zd___remove_pages(m, p->pfn, 512, NULL);
		zd_mem_hotplug_done(m);
		wait_reader(p, false);
		__atomic_add_fetch(&p->done, 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&p->running, 0, __ATOMIC_RELEASE);
	return NULL;
}

static void *pair_reader(void *arg)
{
	struct pair *p = arg;
	uint64_t k = 0;

	while (__atomic_load_n(&p->running, __ATOMIC_ACQUIRE)) {
		uint64_t pfn = p->pfn + (k++ % 512);
		if (zd_pfn_valid(m, pfn))
			__atomic_add_fetch(&p->seen_valid, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&p->seen_invalid, 1, __ATOMIC_RELAXED);
		struct zd_page *pg = zd_pfn_to_online_page(m, pfn);
		if (pg) {
			__atomic_add_fetch(&p->online_seen, 1, __ATOMIC_RELAXED);
			if (!p->early || pg != zd_pfn_to_page(m, pfn))
				__atomic_add_fetch(&p->online_bad, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&p->online_null, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void *pair_locked_reader(void *arg)
{
	struct pair *p = arg;
	uint64_t k = 0;

	while (__atomic_load_n(&p->running, __ATOMIC_ACQUIRE)) {
		uint64_t pfn = p->pfn + (k++ % 8) * 64;
		zd_get_online_mems(m);
		if (zd_pfn_valid(m, pfn)) {
			/* the memmap must be mapped: this read would fault otherwise */
			unsigned long f = __atomic_load_n(&zd_pfn_to_page(m, pfn)->flags, __ATOMIC_RELAXED);
			p->locked_valid++;
			/* (an early section is valid whether populated or not) */
			if (!p->early && f != 0x5a)
				p->locked_bad++;
		}
		zd_put_online_mems(m);
		if (__atomic_load_n(&polite, __ATOMIC_RELAXED))
			sched_yield();
	}
	return NULL;
}

/* Start writer + lock-free reader (+ locked reader) for both pairs. */
static void run_pairs(struct pair *pairs, bool locked, pthread_t *pw, pthread_t *pr, pthread_t *pl)
{
	for (int i = 0; i < 2; i++) {
		pthread_create(&pr[i], NULL, pair_reader, &pairs[i]);
		if (locked)
			pthread_create(&pl[i], NULL, pair_locked_reader, &pairs[i]);
		pthread_create(&pw[i], NULL, pair_writer, &pairs[i]);
	}
}

static void join_pairs(bool locked, pthread_t *pw, pthread_t *pr, pthread_t *pl)
{
	for (int i = 0; i < 2; i++) {
		pthread_join(pw[i], NULL);
		pthread_join(pr[i], NULL);
		if (locked)
			pthread_join(pl[i], NULL);
	}
}

/* Assertions common to every pair run. */
static void check_pairs(struct pair *pairs, const char *phase, bool locked)
{
	for (int i = 0; i < 2; i++) {
		struct pair *p = &pairs[i];
		const char *w = p->early ? "early" : "device";
		diag("%s, %s pair: %u cycles, reader valid/invalid %lu/%lu, online/NULL %lu/%lu, "
		     "locked reads %lu", phase, w, p->done, p->seen_valid, p->seen_invalid,
		     p->online_seen, p->online_null, p->locked_valid);
		if (p->limit)
			is_int(p->done, p->limit, "%s, %s pair: all %u add/remove iterations done", phase,
			       w, p->limit);
		else
			ok(p->done > 0, "%s, %s pair: add/remove made progress", phase, w);
		is_int(p->add_fail, 0, "%s, %s pair: no add failed", phase, w);
		is_u64(p->online_bad, 0, "%s, %s pair: pfn_to_online_page never returned a wrong page",
		       phase, w);
		if (locked)
			is_u64(p->locked_bad, 0,
			       "%s, %s pair: pfn_valid under get_online_mems always had its struct page",
			       phase, w);
		ok(zd_pfn_to_online_page(m, p->pfn) == NULL, "%s, %s pair: no online page at the end",
		   phase, w);
	}
	if (pairs[0].done >= 100)
		ok(pairs[0].seen_valid && pairs[0].seen_invalid,
		   "%s, device pair: the lock-free reader saw the sub-section valid and invalid", phase);
	is_u64(pairs[0].online_seen, 0, "%s, device pair: never online", phase);
	ok(!zd_pfn_valid(m, DEV_SUB), "%s, device pair: sub-section invalid at the end", phase);
	is_u64(zd_section_word(zd_pfn_to_section(m, DEV_SUB)), 0, "%s, device pair: section word 0",
	       phase);
	is_u64(pairs[1].seen_invalid, 0, "%s, early pair: pfn_valid true throughout (early section)",
	       phase);
	if (pairs[1].done >= 100)
		ok(pairs[1].online_seen && pairs[1].online_null,
		   "%s, early pair: pfn_to_online_page saw both the page and NULL", phase);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 960 * M, .node = 0 } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1 };
	struct alloc_arg aa[3] = { { .id = 0 }, { .id = 1 }, { .id = 2 } };
	struct hotplug_arg ha = { 0 };
	struct pair pairs[2] = { { .pfn = DEV_SUB, .early = false }, { .pfn = EARLY_SUB, .early = true } };
	pthread_t at[3], ht, pw[2], pr[2], pl[2];
	const char *env = getenv("ZD_MT_ITERS");
	unsigned iters = env ? (unsigned)strtoul(env, NULL, 0) : (TAP_SLOW ? 8000 : 20000);
	unsigned locked_iters = iters / 4;
	double t0 = tap_now(), t;

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR_OR_NULL(m), "x86_64/40-bit machine with 960 MiB boots (%s)",
		zd_machine_create_error()))
		return done_testing();
	uint64_t boot_pages = zd_totalram_pages(m);
	struct zd_boot_memory bm;
	zd_boot_memory(m, &bm);
	is_u64(boot_pages, PFN(960 * M) - bm.reserved_pages, "960 MiB less the boot reservations managed");
	ok(zd_early_section(zd_pfn_to_section(m, EARLY_SUB)), "the early pair's section is a boot section");
	ok(zd_pfn_valid(m, EARLY_SUB), "its sub-section past boot RAM is valid (early section)");
	ok(zd_pfn_to_online_page(m, EARLY_SUB) == NULL, "but not populated: no online page");
	ok(!zd_pfn_in_present_section(m, DEV_SUB), "the device pair's section starts empty");

	/* Phase A: everything at once, for as long as the hotplug cycles take. */
	diag("phase A: 3 allocators, hotplug cycles, 2 add/remove pairs%s", TAP_SLOW ? " (TSan)" : "");
	fflush(stdout);
	pair_reset(&pairs[0], 0);
	pair_reset(&pairs[1], 0);
	for (int i = 0; i < 3; i++)
		pthread_create(&at[i], NULL, allocator, &aa[i]);
	pthread_create(&ht, NULL, hotplug, &ha);
	run_pairs(pairs, false, pw, pr, pl);
	pthread_join(ht, NULL);
	join_pairs(false, pw, pr, pl);
	__atomic_store_n(&stop_alloc, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(at[i], NULL);
	diag("phase A ran %.1f s", tap_now() - t0);

	unsigned long allocs = 0, frees = 0, movable = 0, bad_tag = 0, bad_align = 0;
	for (int i = 0; i < 3; i++) {
		allocs += aa[i].allocs;
		frees += aa[i].frees;
		movable += aa[i].movable_allocs;
		bad_tag += aa[i].bad_tag;
		bad_align += aa[i].bad_align;
	}
	diag("allocators: %lu allocations (%lu from Movable), %lu frees", allocs, movable, frees);
	ok(allocs > 1000, "allocators made progress (%lu allocations)", allocs);
	is_u64(frees, allocs, "every allocation was freed");
	is_u64(bad_tag, 0, "no page was handed out twice (contents tags intact)");
	is_u64(bad_align, 0, "every block aligned to its order");
	diag("hotplug: %u cycles, %lu -EBUSY retries, last error %d; seconds add %.2f online %.2f "
	     "offline %.2f remove %.2f", ha.cycles, ha.busy_retries, ha.last_err, ha.t_add,
	     ha.t_online, ha.t_offline, ha.t_remove);
	ok(ha.cycles >= 3, "at least 3 add/online/offline/remove cycles completed (%u)", ha.cycles);
	ok(!ha.add_fail && !ha.online_fail && !ha.offline_fail && !ha.remove_fail,
	   "no hotplug step failed for good");
	ok(movable > 0, "allocators used the hot-added Movable memory");
	check_pairs(pairs, "phase A", false);
	is_u64(zd_totalram_pages(m), boot_pages, "phase A: managed pages back to boot RAM");
	is_u64(zd_global_free_pages(m), zd_totalram_pages(m), "phase A: free pages == managed pages");
	ok(!zd_pfn_valid(m, PFN(HOT_START)), "phase A: hot-added range gone");
	fflush(stdout);

	/* Phase B: invariant 4 alone, a fixed number of iterations. */
	t = tap_now();
	pair_reset(&pairs[0], iters);
	pair_reset(&pairs[1], iters);
	run_pairs(pairs, false, pw, pr, pl);
	join_pairs(false, pw, pr, pl);
	diag("phase B: %u add/remove iterations per pair in %.1f s", iters, tap_now() - t);
	check_pairs(pairs, "phase B", false);
	fflush(stdout);

	/*
	 * Phase C: add readers that hold get_online_mems() and dereference the
	 * struct page whenever pfn_valid(). The kernel's mem_hotplug_lock (a
	 * percpu rwsem) blocks new readers once a writer waits, so readers can
	 * never starve hot-add/remove; a watchdog records a stall (no writer
	 * progress for 3 s, 8 s under TSan), makes the readers back off so the
	 * test ends, and the stall fails an assertion.
	 */
	t = tap_now();
	pair_reset(&pairs[0], locked_iters);
	pair_reset(&pairs[1], locked_iters);
	run_pairs(pairs, true, pw, pr, pl);
	unsigned last[2] = { 0, 0 }, stalled = 0, max_stall = TAP_SLOW ? 80 : 30;
	bool starved = false;
	while (__atomic_load_n(&pairs[0].running, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&pairs[1].running, __ATOMIC_ACQUIRE)) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		unsigned d0 = __atomic_load_n(&pairs[0].done, __ATOMIC_RELAXED);
		unsigned d1 = __atomic_load_n(&pairs[1].done, __ATOMIC_RELAXED);
		stalled = (d0 != last[0] || d1 != last[1]) ? 0 : stalled + 1;
		last[0] = d0;
		last[1] = d1;
		if (!starved && stalled >= max_stall) {
			starved = true;
			diag("watchdog: no add/remove progress for %.1f s (done %u/%u)", max_stall / 10.0,
			     d0, d1);
			__atomic_store_n(&polite, 1, __ATOMIC_RELAXED);
		}
	}
	join_pairs(true, pw, pr, pl);
	diag("phase C: %u iterations per pair with locked readers in %.1f s", locked_iters, tap_now() - t);
	ok(!starved, "hotplug writers are never starved by concurrent get_online_mems() readers");
	check_pairs(pairs, "phase C", true);
	ok(pairs[0].locked_valid > 0, "phase C, device pair: locked reader saw the sub-section valid");

	is_u64(zd_totalram_pages(m), boot_pages, "managed pages back to boot RAM");
	is_u64(zd_global_free_pages(m), zd_totalram_pages(m), "free pages == managed pages");
	is_u64(zd_warn_count(m), 0, "zero WARNs");
	if (zd_warn_count(m))
		zd_log_dump(m, stdout, ZD_LOG_WARNING);
	diag("total %.1f s", tap_now() - t0);
	zd_machine_destroy(m);
	return done_testing();
}
