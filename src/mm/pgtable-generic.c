/*
 * Page-table pages and their locks (the kernel's pagetable_alloc(),
 * pagetable_pte_ctor()/dtor() and the split PTE/PMD locks of ptdesc).
 * A table is an order-0 GFP_KERNEL page of the machine, zeroed, typed
 * PGTY_table, with its mm in the index word and its lock in the private
 * word, as ptdesc overlays them on struct page.
 * Invariants: the machine's nr_pagetable and the mm's pgtables_bytes move
 * together with every constructor and destructor; a table is freed with
 * its lock released and its page type cleared, so the buddy gets back an
 * ordinary page.
 */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <zonedev/gfp.h>
#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>

static void pagetable_ctor(struct zd_mm *mm, struct zd_page *pt)
{
	__atomic_store_n(&pt->page_type, ZD_PGTY_table << 24, __ATOMIC_RELAXED);
	pt->index = (unsigned long)mm;
	/* the deposit link (huge_memory.c); pfn scanners read the word */
	__atomic_store_n(&pt->mapping, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&pt->private, 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&mm->m->nr_pagetable, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
}

/* The destructor and the free; the mm may be gone already (a gather that
 * outlives exit), so only the machine is touched here. */
void zd_pagetable_dtor_free(struct zd_machine *m, struct zd_page *pt)
{
	__atomic_store_n(&pt->page_type, ZD_PAGE_TYPE_NONE, __ATOMIC_RELAXED);
	pt->index = 0;
	__atomic_store_n(&pt->private, 0, __ATOMIC_RELAXED);   /* scanners read it (buddy order) */
	__atomic_sub_fetch(&m->nr_pagetable, 1, __ATOMIC_RELAXED);
	zd___free_pages(m, pt, 0);
}

struct zd_page *zd_pagetable_alloc(struct zd_mm *mm)
{
	struct zd_page *pt = zd_alloc_pages(mm->m, ZD_GFP_KERNEL | ZD___GFP_ZERO, 0);

	if (pt)
		pagetable_ctor(mm, pt);
	return pt;
}

void zd_pagetable_free(struct zd_mm *mm, struct zd_page *pt)
{
	__atomic_sub_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
	zd_pagetable_dtor_free(mm->m, pt);
}

void *zd_pagetable_address(struct zd_machine *m, const struct zd_page *pt)
{
	return zd_page_address(m, pt);
}

struct zd_mm *zd_pagetable_mm(const struct zd_page *pt)
{
	return (struct zd_mm *)pt->index;
}

/* The lock word holds its owner (a thread id, never 0), so that
 * zd_pt_lock_held() can assert who holds it, as lockdep would. */
static unsigned long self_id(void)
{
	return (unsigned long)pthread_self() | 1;
}

void zd_pt_lock(struct zd_page *pt)
{
	unsigned long want = 0, me = self_id();

	while (!__atomic_compare_exchange_n(&pt->private, &want, me, false, __ATOMIC_ACQUIRE,
					    __ATOMIC_RELAXED)) {
		want = 0;
		sched_yield();
	}
}

void zd_pt_unlock(struct zd_page *pt)
{
	__atomic_store_n(&pt->private, 0, __ATOMIC_RELEASE);
}

bool zd_pt_lock_held(const struct zd_page *pt)
{
	return __atomic_load_n(&pt->private, __ATOMIC_RELAXED) == self_id();
}

/* ptep_modify_prot / pmdp_set_wrprotect: a present leaf at slot (its table
 * locked) takes (rights & keep) | set in one compare-and-exchange loop, so
 * the accessed and dirty bits the MMU sets without the lock meanwhile are
 * kept (a read-then-set would drop them). The entry as it was. */
zd_pte_t zd_leaf_modify_prot(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level,
			     unsigned keep, unsigned set)
{
	const struct zd_arch *a = &mm->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	zd_pte_t e = o->ptep_get(slot);

	for (;;) {
		zd_pte_t n = o->mk_leaf(a, level, o->leaf_pfn(a, level, e),
					(o->leaf_prot(a, e) & keep) | set);

		if (n.val == e.val || o->ptep_cmpxchg(slot, &e, n))
			return e;
	}
}
