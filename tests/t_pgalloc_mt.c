/*
 * Page-table pages (mm/pgtable-generic.c, mm/mmu_gather.c).
 *
 * Asserts:
 *  - a table is a zeroed order-0 page of the machine's RAM, typed
 *    PGTY_table, owned by its mm: MemFree falls and meminfo's PageTables
 *    rises by one page per table, the mm's VmPTE (pgtables_bytes) too;
 *  - a table freed directly, and tables freed through an mmu_gather, give
 *    every page back: MemFree, PageTables and VmPTE return to where they
 *    were, the page type is cleared (the buddy has an ordinary page);
 *  - VmPTE drops when a table is gathered, PageTables only when it is freed
 *    after the grace period (the v6.14+ order);
 *  - a lockless reader inside zd_rcu_read_lock still sees a gathered table
 *    intact (typed, its entries as written) until it leaves: the gather's
 *    free waits for it;
 *  - the split lock excludes: two threads adding to a table's entry under
 *    its lock lose no update, and the lock says who holds it;
 *  - a machine with no free page makes the allocation fail (NULL) without
 *    counting anything.
 * Why: page tables cost the machine's RAM like the kernel's, and GUP-fast
 * depends on tables outliving any walker that could have seen them.
 */
#include <pthread.h>
#include <string.h>

#include <zonedev/zonedev.h>
#include "base/rcu.h"
#include "helpers.h"
#include "tap.h"

#define MiB (1ULL << 20)

static uint64_t field(struct zd_machine *m, const char *name)
{
	uint64_t kb = ~0ULL;

	zd_meminfo_field(m, name, &kb);
	return kb;
}

struct reader {
	struct zd_machine *m;
	struct zd_page *pt;
	uint64_t *entries;
	int state;                 /* 1: inside the read section; 2: told to leave */
	bool intact;
};

/* Holds the read section until the main thread has started the gather's
 * finish and waited a while, then checks the table is still a table. */
static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	unsigned idx = zd_rcu_read_lock(&r->m->rcu);

	__atomic_store_n(&r->state, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != 2)
		tap_sleep_ms(1);
	tap_sleep_ms(50);
	r->intact = zd_page_is_table(r->pt) && r->entries[7] == 0x1234;
	zd_rcu_read_unlock(&r->m->rcu, idx);
	return NULL;
}

struct finisher {
	struct zd_mmu_gather *tlb;
	int done;
};

static void *finish_fn(void *arg)
{
	struct finisher *f = arg;

	zd_tlb_finish_mmu(f->tlb);
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct locker {
	struct zd_page *pt;
	uint64_t *entry;
	int loops;
};

static void *locker_fn(void *arg)
{
	struct locker *l = arg;

	for (int i = 0; i < l->loops; i++) {
		zd_pt_lock(l->pt);
		/* a plain read-modify-write: only the lock makes it safe */
		uint64_t v = __atomic_load_n(l->entry, __ATOMIC_RELAXED);
		__atomic_store_n(l->entry, v + 1, __ATOMIC_RELAXED);
		zd_pt_unlock(l->pt);
	}
	return NULL;
}

int main(void)
{
	struct zd_machine *m = tap_machine("x86_64", 40, 0, 256 * MiB, NULL, 0);
	struct zd_mm *mm;
	struct zd_page *pt[8];
	struct zd_mmu_gather tlb;
	uint64_t free0, pt0, kb = 4;
	bool zero = true;

	if (!m)
		return done_testing();
	mm = zd_mm_alloc(m);
	free0 = field(m, "MemFree");
	pt0 = field(m, "PageTables");
	is_u64(pt0, kb, "a new mm's PGD is one page of PageTables (counted at every level, v6.14+)");
	is_int(mm->pgtables_bytes, 0, "but not in its VmPTE");

	for (int i = 0; i < 8; i++) {
		uint64_t *e;

		pt[i] = zd_pagetable_alloc(mm);
		if (!pt[i])
			break;
		e = zd_pagetable_address(m, pt[i]);
		for (int k = 0; k < 512; k++)
			zero &= e[k] == 0;
		memset(e, 0xa5, 4096);     /* dirty it: a reused page must come back zeroed */
	}
	ok(pt[7] != NULL, "eight tables allocate");
	ok(zero, "every table is handed out zeroed");
	ok(zd_page_is_table(pt[0]) && zd_pagetable_mm(pt[0]) == mm,
	   "a table's page is typed PGTY_table and names its mm");
	is_u64(field(m, "PageTables") - pt0, 8 * kb, "PageTables counts the eight tables");
	is_u64(free0 - field(m, "MemFree"), 8 * kb, "MemFree falls by the eight tables");
	is_int(mm->pgtables_bytes, 8 * 4096, "the mm's VmPTE is eight pages");

	zd_pagetable_free(mm, pt[0]);
	ok(!zd_page_is_table(pt[0]), "a freed table's page type is cleared");
	is_u64(field(m, "PageTables") - pt0, 7 * kb, "a direct free uncounts the table at once");

	zd_tlb_gather_mmu(&tlb, mm);
	for (int i = 1; i < 7; i++)
		zd_tlb_remove_table(&tlb, pt[i]);
	is_int(mm->pgtables_bytes, 1 * 4096, "VmPTE drops as tables are gathered");
	is_u64(field(m, "PageTables") - pt0, 7 * kb, "PageTables keeps gathered tables until they are freed");
	zd_tlb_finish_mmu(&tlb);
	is_u64(field(m, "PageTables") - pt0, 1 * kb, "the gather's finish frees its six tables");
	is_int((long)tlb.nr_tables, 0, "the gather is empty after its finish");

	{
		struct zd_page *again = zd_pagetable_alloc(mm);
		uint64_t *e = again ? zd_pagetable_address(m, again) : NULL;
		bool z = e != NULL;

		for (int k = 0; e && k < 512; k++)
			z &= e[k] == 0;
		ok(z, "a table on a page a freed table had is zeroed again");
		if (again)
			zd_pagetable_free(mm, again);
	}

	/* The grace period: a reader that may have read the entry pointing
	 * at pt[7] keeps it alive until it leaves. */
	{
		struct reader r = { .m = m, .pt = pt[7], .entries = zd_pagetable_address(m, pt[7]) };
		struct finisher f;
		pthread_t rt, ft;

		r.entries[7] = 0x1234;
		zd_tlb_gather_mmu(&tlb, mm);
		zd_tlb_remove_table(&tlb, pt[7]);
		f.tlb = &tlb;
		f.done = 0;
		pthread_create(&rt, NULL, reader_fn, &r);
		while (!__atomic_load_n(&r.state, __ATOMIC_ACQUIRE))
			tap_sleep_ms(1);
		pthread_create(&ft, NULL, finish_fn, &f);
		tap_sleep_ms(20);
		ok(!__atomic_load_n(&f.done, __ATOMIC_ACQUIRE),
		   "the gather's finish waits while a reader is inside its read section");
		__atomic_store_n(&r.state, 2, __ATOMIC_RELEASE);
		tap_join_or_bail(rt, 10, "reader");
		tap_join_or_bail(ft, 10, "finisher");
		ok(r.intact, "the reader saw the gathered table intact until it left");
		ok(f.done, "the finish returned once the reader left");
	}
	is_u64(field(m, "PageTables"), pt0, "every table is free again");
	is_u64(field(m, "MemFree"), free0, "MemFree is back where it was");
	is_int(mm->pgtables_bytes, 0, "VmPTE is back to 0");

	/* The split lock. */
	{
		struct zd_page *t = zd_pagetable_alloc(mm);
		uint64_t *e = zd_pagetable_address(m, t);
		int loops = TAP_SLOW ? 2000 : 20000;
		struct locker l = { t, &e[3], loops };
		pthread_t a, b;

		zd_pt_lock(t);
		ok(zd_pt_lock_held(t), "the lock says this thread holds it");
		zd_pt_unlock(t);
		ok(!zd_pt_lock_held(t), "and not after it is released");
		pthread_create(&a, NULL, locker_fn, &l);
		pthread_create(&b, NULL, locker_fn, &l);
		tap_join_or_bail(a, 60, "locker a");
		tap_join_or_bail(b, 60, "locker b");
		is_u64(e[3], 2ULL * (uint64_t)loops, "the split lock loses no update between two threads");
		zd_pagetable_free(mm, t);
	}

	/* Out of memory: nothing counted. */
	{
		struct zd_page *p;
		size_t n = 0;
		struct zd_page *hold = NULL;

		while ((p = zd_alloc_pages(m, ZD_GFP_KERNEL | ZD___GFP_NOWARN, 0))) {
			p->lru.next = (struct zd_list_head *)hold;
			hold = p;
			n++;
		}
		ok(n > 0 && zd_pagetable_alloc(mm) == NULL,
		   "with no free page the table allocation fails");
		is_u64(field(m, "PageTables"), pt0, "and nothing is counted");
		while (hold) {
			p = (struct zd_page *)hold->lru.next;
			zd___free_pages(m, hold, 0);
			hold = p;
		}
	}
	zd_mmput(mm);
	is_u64(field(m, "PageTables"), 0, "the PGD goes with the mm");
	zd_machine_destroy(m);
	return done_testing();
}
