/*
 * Migration of anonymous pages (mm/migrate.c, with rmap.c's rmap_walk,
 * try_to_migrate and remove_migration_ptes): every PTE that maps the page
 * becomes a migration entry (WRITE, READ_EXCLUSIVE or READ, holding the
 * pfn), the bytes and the page's state move to a new page, and the entries
 * become PTEs of the new page. A fault on a migration entry waits for the
 * page lock and retries (migration_entry_wait).
 * Invariants: the page is locked and the caller holds one reference from
 * start to end; a page with references beyond that one and its mappings
 * (a pin, a GUP reference) is put back untouched (-EAGAIN), an exclusive
 * pinned page refuses before any entry changes (-EBUSY); rss counters do
 * not change (a migration entry counts as its page); NR_ANON_MAPPED and
 * the mapcounts move to the new page entry by entry; the old page is
 * unlocked only after no entry names it. The rmap walk visits, in every
 * process of the machine, the VMAs whose anon_vma has the page's root
 * (the fork tree), at the address the page's index gives.
 */
#include "internal.h"
#include "base/rcu.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <zonedev/gfp.h>
#include <zonedev/memremap.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>

typedef int (*rmap_fn)(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pte, void *arg);

/* rmap_walk_anon(): fn on each entry that maps folio (present, or a
 * migration entry naming it when migration), its PTE table locked. */
static int rmap_walk_anon(struct zd_machine *m, struct zd_page *folio, struct zd_anon_vma *av,
			  bool migration, rmap_fn fn, void *arg)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_anon_vma *root = zd_anon_vma_root(av);
	uint64_t pfn = zd_page_to_pfn(m, folio), index = folio->index;
	int rc = 0;

	pthread_mutex_lock(&m->mm_list_lock);
	for (struct zd_mm *mm = m->mm_list; mm && !rc; mm = mm->next) {
		zd_mmap_read_lock(mm);
		for (size_t i = 0; i < mm->map_count && !rc; i++) {
			struct zd_vm_area_struct *vma = mm->vmas[i];
			struct zd_page *ptl;
			uint64_t addr, *pte;
			zd_pte_t e;
			bool match;

			/* a fault may be setting it (anon_vma_prepare) */
			struct zd_anon_vma *vav = __atomic_load_n(&vma->anon_vma, __ATOMIC_ACQUIRE);

			if (!vav || zd_anon_vma_root(vav) != root || index < vma->vm_pgoff)
				continue;
			addr = vma->vm_start + ((index - vma->vm_pgoff) << m->arch.page_shift);
			if (addr >= vma->vm_end || !(pte = zd_pte_offset_map_lock(mm, addr, &ptl)))
				continue;
			e = o->ptep_get(pte);
			if (migration)
				match = !o->pte_none(&m->arch, e) && !o->pte_present(&m->arch, e) &&
					zd_is_migration_type(o->swp_type(&m->arch, e)) &&
					o->swp_offset(&m->arch, e) == pfn;
			else
				match = o->pte_present(&m->arch, e) &&
					o->leaf_pfn(&m->arch, ZD_PT_PTE, e) == pfn;
			if (match)
				rc = fn(vma, addr, pte, arg);
			zd_pt_unlock(ptl);
		}
		zd_mmap_read_unlock(mm);
	}
	pthread_mutex_unlock(&m->mm_list_lock);
	return rc;
}

/* try_to_migrate_one(). */
static int unmap_one(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pte, void *arg)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *folio = arg;
	unsigned prot = zd_pte_prot(mm, o->ptep_get(pte)), type;
	bool excl = zd_test_page_flag(folio, ZD_PG_anon_exclusive);

	/* folio_try_share_anon_rmap_pte(): a pinned exclusive page stays */
	if (excl && zd_folio_maybe_dma_pinned(folio))
		return -EBUSY;
	type = prot & ZD_PTE_WRITE ? ZD_SWP_MIGRATION_WRITE :
	       excl ? ZD_SWP_MIGRATION_READ_EXCLUSIVE : ZD_SWP_MIGRATION_READ;
	o->set_pte(pte, o->swp_entry_to_pte(&m->arch, type, zd_page_to_pfn(m, folio)));
	if (prot & ZD_PTE_DIRTY)
		zd_set_page_flag(folio, ZD_PG_dirty);
	zd_clear_page_flag(folio, ZD_PG_anon_exclusive);
	zd_folio_remove_rmap_pte(m, folio);
	zd_put_page(m, folio);
	return 0;
}

/* remove_migration_pte(): the entry becomes a PTE of arg's page. */
static int remap_one(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pte, void *arg)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *dst = arg;
	unsigned type = o->swp_type(&m->arch, o->ptep_get(pte));
	unsigned prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG;

	if (type == ZD_SWP_MIGRATION_WRITE)
		prot |= ZD_PTE_WRITE | ZD_PTE_DIRTY;
	else if (zd_test_page_flag(dst, ZD_PG_dirty))
		prot |= ZD_PTE_DIRTY;
	zd_get_page(m, dst);
	zd_folio_add_anon_rmap_pte(m, dst, type != ZD_SWP_MIGRATION_READ);
	o->set_pte(pte, o->mk_leaf(&m->arch, ZD_PT_PTE, zd_page_to_pfn(m, dst), prot));
	return 0;
}

/* folio_get_anon_vma(): a reference on the page's anon_vma while it is
 * mapped, so a munmap meanwhile cannot free what the walks use. */
static struct zd_anon_vma *get_anon_vma(struct zd_machine *m, struct zd_page *folio)
{
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	uintptr_t mapping = (uintptr_t)__atomic_load_n(&folio->mapping, __ATOMIC_ACQUIRE);
	struct zd_anon_vma *av = (void *)(mapping & ~ZD_PAGE_MAPPING_ANON);

	if (!(mapping & ZD_PAGE_MAPPING_ANON) || !av || zd_page_mapcount(folio) <= 0 ||
	    !zd_anon_vma_tryget(av))
		av = NULL;
	else if (zd_page_mapcount(folio) <= 0) {
		zd_rcu_read_unlock(&m->rcu, idx);
		zd_put_anon_vma(av);
		return NULL;
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	return av;
}

int zd_migrate_folio(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst)
{
	struct zd_anon_vma *av;
	int rc;

	if (!zd_folio_test_anon(folio) || zd_folio_order(m, folio))
		return -EINVAL;   /* shmem, file and large folios move later */
	av = get_anon_vma(m, folio);
	if (!av)
		return -EAGAIN;   /* unmapped meanwhile */
	rc = rmap_walk_anon(m, folio, av, false, unmap_one, folio);
	/* try_to_migrate_one()'s TLB flush: a store that read an entry before
	 * it changed ends inside its RCU read section, so after a grace
	 * period no CPU writes the old page and its bytes are final */
	zd_synchronize_rcu(&m->rcu);
	if (!rc && (zd_page_ref_count(folio) != 1 || zd_page_mapcount(folio)))
		rc = -EAGAIN;     /* referenced: migrate_folio_move() would fail */
	if (rc) {
		rmap_walk_anon(m, folio, av, true, remap_one, folio);
		zd_put_anon_vma(av);
		return rc;
	}
	memcpy(zd_page_address(m, dst), zd_page_address(m, folio), m->arch.page_size);
	__atomic_store_n(&dst->mapping, folio->mapping, __ATOMIC_RELAXED);
	dst->index = folio->index;
	zd_set_page_flag(dst, ZD_PG_swapbacked);
	if (zd_test_page_flag(folio, ZD_PG_dirty))
		zd_set_page_flag(dst, ZD_PG_dirty);
	rmap_walk_anon(m, folio, av, true, remap_one, dst);
	zd_put_anon_vma(av);
	return 0;
}

/* migration_entry_wait(): a fault on a migration entry waits for the
 * migration to end (the page unlocked) and is then retried. */
void zd_migration_entry_wait(struct zd_machine *m, uint64_t pfn)
{
	struct zd_page *page = zd_pfn_to_page(m, pfn);

	while (zd_test_page_flag(page, ZD_PG_locked))
		sched_yield();
}

/* folio_try_get(): never revive a page whose last reference went. */
static bool try_get(struct zd_page *page)
{
	int ref = __atomic_load_n(&page->_refcount, __ATOMIC_RELAXED);

	do {
		if (ref <= 0)
			return false;
	} while (!__atomic_compare_exchange_n(&page->_refcount, &ref, ref + 1, false,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

/* A free page outside [lo, hi), which the kernel's isolated pageblocks
 * guarantee: pages inside are held until one is found and then go back
 * (they are free pages of the range being emptied). A movable page may
 * live in any zone, so after a few hits the lower zones are asked. */
static struct zd_page *alloc_outside(struct zd_machine *m, uint64_t lo, uint64_t hi)
{
	struct zd_page *held[16], *page = NULL;
	int n = 0;

	while (n < 16) {
		page = zd_alloc_pages(m, (n < 8 ? ZD_GFP_HIGHUSER_MOVABLE : ZD_GFP_KERNEL) |
				      ZD___GFP_NOWARN, 0);
		if (!page)
			break;
		uint64_t pfn = zd_page_to_pfn(m, page);
		if (pfn < lo || pfn >= hi)
			break;
		held[n++] = page;
		page = NULL;
	}
	while (n)
		zd___free_pages(m, held[--n], 0);
	return page;
}

long zd_migrate_range(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	long moved = 0;

	for (uint64_t p = pfn; p < pfn + nr; p++) {
		struct zd_page *page = zd_pfn_to_page(m, p), *dst;
		int rc;

		if (zd_page_is_buddy(page)) {
			/* buddy_order_unsafe(): read without the zone lock, so
			 * it may be stale; only a plausible order skips ahead */
			unsigned long order = __atomic_load_n(&page->private, __ATOMIC_RELAXED);

			if (order <= m->arch.max_page_order)
				p += (1ULL << order) - 1;
			continue;
		}
		/* large folios (THP) would need split_folio() first, which is
		 * not modelled: they stay, and keep the range busy */
		if (zd_test_page_flag(page, ZD_PG_head) || zd_page_is_tail(page))
			continue;
		if (!zd_folio_test_anon(page) || zd_page_mapcount(page) <= 0 || !try_get(page))
			continue;
		if (!zd_folio_test_anon(page) || !zd_trylock_page(page)) {
			zd_put_page(m, page);
			continue;
		}
		dst = alloc_outside(m, pfn, pfn + nr);
		rc = dst ? zd_migrate_folio(m, page, dst) : -ENOMEM;
		zd_unlock_page(page);
		if (dst)
			zd_put_page(m, dst);
		if (!rc)
			__atomic_store_n(&page->mapping, NULL, __ATOMIC_RELAXED);   /* nobody's now */
		zd_put_page(m, page);
		__atomic_add_fetch(rc ? &m->pgmigrate_fail : &m->pgmigrate_success, 1,
				   __ATOMIC_RELAXED);
		if (rc == -ENOMEM)
			return moved ? moved : rc;
		moved += !rc;
	}
	return moved;
}
