/*
 * Reverse-mapping state of anonymous memory (mm/rmap.c): the anon_vma a
 * VMA's anonymous pages point at through folio->mapping (with the low
 * PAGE_MAPPING_ANON bit), the page's mapcount and PageAnonExclusive.
 * Invariants: a VMA holds one reference on its anon_vma, a child anon_vma
 * one on its parent, so the root of a fork tree lives while anything
 * below it does; _mapcount + 1 is the number of PTEs mapping a page;
 * NR_ANON_MAPPED counts pages with at least one; PageAnonExclusive is set
 * only while one process may write the page without copying it (a fork
 * clears it, a pinned exclusive page is copied at fork instead).
 * rmap_walk visits, in every process of the machine, the VMAs whose anon_vma
 * has the page's root (the fork tree) or whose file is the page's mapping,
 * at the address the page's index gives; try_to_migrate_one turns what it
 * finds into migration entries.
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>
#include "base/rcu.h"

#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <stdlib.h>

#include <zonedev/pgalloc.h>
#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/migrate.h>
#include <zonedev/swapops.h>
#include "base/align.h"

struct zd_anon_vma {
	struct zd_machine *m;         /* whose RCU delays the free */
	struct zd_anon_vma *root;     /* the first process's, for the whole fork tree */
	struct zd_anon_vma *parent;   /* one reference, NULL for a root */
	long refcount;                /* atomic: VMAs, children, migrations */
};

static struct zd_anon_vma *anon_vma_alloc(struct zd_machine *m, struct zd_anon_vma *parent)
{
	struct zd_anon_vma *av = calloc(1, sizeof(*av));

	if (!av)
		return NULL;
	av->m = m;
	av->refcount = 1;
	av->parent = parent;
	av->root = parent ? parent->root : av;
	if (parent)
		zd_get_anon_vma(parent);
	return av;
}

void zd_get_anon_vma(struct zd_anon_vma *av)
{
	__atomic_add_fetch(&av->refcount, 1, __ATOMIC_RELAXED);
}

/* The last reference frees after a grace period (SLAB_TYPESAFE_BY_RCU's
 * guarantee): a walker that read a page's mapping inside an RCU read
 * section may still try to take a reference. */
void zd_put_anon_vma(struct zd_anon_vma *av)
{
	while (av && !__atomic_sub_fetch(&av->refcount, 1, __ATOMIC_ACQ_REL)) {
		struct zd_anon_vma *parent = av->parent;

		zd_synchronize_rcu(&av->m->rcu);
		free(av);
		av = parent;
	}
}

bool zd_anon_vma_tryget(struct zd_anon_vma *av)
{
	long ref = __atomic_load_n(&av->refcount, __ATOMIC_RELAXED);

	do {
		if (ref <= 0)
			return false;
	} while (!__atomic_compare_exchange_n(&av->refcount, &ref, ref + 1, false, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

struct zd_anon_vma *zd_anon_vma_root(const struct zd_anon_vma *av)
{
	return av ? av->root : NULL;
}

/* anon_vma_prepare(): first anonymous page of vma. The mm's PGD lock is
 * its page_table_lock, which serialises two threads faulting at once. */
int zd_anon_vma_prepare(struct zd_vm_area_struct *vma)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_anon_vma *av;

	if (__atomic_load_n(&vma->anon_vma, __ATOMIC_ACQUIRE))
		return 0;
	av = anon_vma_alloc(mm->m, NULL);
	if (!av)
		return -ENOMEM;
	zd_pt_lock(mm->pgd);
	if (!vma->anon_vma) {
		__atomic_store_n(&vma->anon_vma, av, __ATOMIC_RELEASE);
		av = NULL;
	}
	zd_pt_unlock(mm->pgd);
	zd_put_anon_vma(av);
	return 0;
}

int zd_anon_vma_fork(struct zd_vm_area_struct *vma, const struct zd_vm_area_struct *pvma)
{
	struct zd_anon_vma *old = vma->anon_vma;

	vma->anon_vma = NULL;
	if (pvma->anon_vma) {
		vma->anon_vma = anon_vma_alloc(vma->vm_mm->m, pvma->anon_vma);
		if (!vma->anon_vma) {
			vma->anon_vma = old;
			return -ENOMEM;
		}
	}
	zd_put_anon_vma(old);
	return 0;
}

uint64_t zd_linear_page_index(const struct zd_vm_area_struct *vma, uint64_t addr)
{
	return ((addr - vma->vm_start) >> vma->vm_mm->m->arch.page_shift) + vma->vm_pgoff;
}

void zd_folio_add_new_anon_rmap(struct zd_page *folio, struct zd_vm_area_struct *vma,
				uint64_t addr)
{
	__atomic_store_n(&folio->mapping, (void *)((uintptr_t)vma->anon_vma | ZD_PAGE_MAPPING_ANON),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&folio->index, zd_linear_page_index(vma, addr), __ATOMIC_RELAXED);
	__zd_set_page_flag(folio, ZD_PG_swapbacked);
	__zd_set_page_flag(folio, ZD_PG_anon_exclusive);
	__atomic_store_n(&folio->_mapcount, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&vma->vm_mm->m->nr_anon_mapped, 1, __ATOMIC_RELAXED);
}

/* A large anonymous folio (THP): its mapcounts live in its second page. */
static bool large_anon(struct zd_page *folio)
{
	return zd_test_page_flag(folio, ZD_PG_head) && zd_folio_test_anon(folio);
}

int zd_folio_try_dup_anon_rmap_pte(struct zd_page *page)
{
	struct zd_page *folio = zd_compound_head(page);

	if (zd_test_page_flag(page, ZD_PG_anon_exclusive)) {
		/* a pinned exclusive page must stay the parent's alone */
		if (zd_folio_maybe_dma_pinned(folio))
			return -EBUSY;
		zd_clear_page_flag(page, ZD_PG_anon_exclusive);
	}
	__atomic_add_fetch(&page->_mapcount, 1, __ATOMIC_RELAXED);
	if (large_anon(folio))
		__atomic_add_fetch(&folio[1]._large_mapcount, 1, __ATOMIC_RELAXED);
	return 0;
}

/* A page of a large folio stops counting as mapped (NR_ANON_MAPPED) only
 * when neither a PTE nor a PMD maps it any more. */
void zd_folio_remove_rmap_pte(struct zd_machine *m, struct zd_page *page)
{
	struct zd_page *folio = zd_compound_head(page);
	bool large = large_anon(folio);

	if (large)
		__atomic_sub_fetch(&folio[1]._large_mapcount, 1, __ATOMIC_RELAXED);
	if (__atomic_sub_fetch(&page->_mapcount, 1, __ATOMIC_ACQ_REL) >= 0)
		return;
	if (!zd_folio_test_anon(folio))   /* a file page, or a DAX leaf's whole folio */
		__atomic_sub_fetch(&m->nr_file_mapped,
				   page == folio ? 1L << zd_folio_order(m, folio) : 1, __ATOMIC_RELAXED);
	else if (!large || !zd_folio_entire_mapcount(folio))
		__atomic_sub_fetch(&m->nr_anon_mapped, 1, __ATOMIC_RELAXED);
}

void zd_folio_add_new_anon_rmap_pmd(struct zd_page *folio, struct zd_vm_area_struct *vma,
				    uint64_t haddr)
{
	struct zd_machine *m = vma->vm_mm->m;
	long nr = 1L << zd_folio_order(m, folio);

	__atomic_store_n(&folio->mapping, (void *)((uintptr_t)vma->anon_vma | ZD_PAGE_MAPPING_ANON),
			 __ATOMIC_RELAXED);
	folio->index = zd_linear_page_index(vma, haddr);
	__zd_set_page_flag(folio, ZD_PG_swapbacked);
	/* a PMD mapping keeps PageAnonExclusive on the head page only */
	__zd_set_page_flag(folio, ZD_PG_anon_exclusive);
	__atomic_store_n(&folio[1]._large_mapcount, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&folio[1]._entire_mapcount, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&m->nr_anon_mapped, nr, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->nr_anon_thps, nr, __ATOMIC_RELAXED);
}

int zd_folio_try_dup_anon_rmap_pmd(struct zd_page *folio)
{
	if (zd_test_page_flag(folio, ZD_PG_anon_exclusive)) {
		if (zd_folio_maybe_dma_pinned(folio))
			return -EBUSY;
		zd_clear_page_flag(folio, ZD_PG_anon_exclusive);
	}
	__atomic_add_fetch(&folio[1]._entire_mapcount, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&folio[1]._large_mapcount, 1, __ATOMIC_RELAXED);
	return 0;
}

void zd_folio_remove_rmap_pmd(struct zd_machine *m, struct zd_page *folio)
{
	long nr = 1L << zd_folio_order(m, folio), unmapped = 0;

	__atomic_sub_fetch(&folio[1]._large_mapcount, 1, __ATOMIC_RELAXED);
	if (__atomic_sub_fetch(&folio[1]._entire_mapcount, 1, __ATOMIC_ACQ_REL) >= 0)
		return;
	for (long i = 0; i < nr; i++)
		unmapped += zd_page_mapcount(folio + i) == 0;
	__atomic_sub_fetch(&m->nr_anon_mapped, unmapped, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&m->nr_anon_thps, nr, __ATOMIC_RELAXED);
}

void zd_folio_add_file_rmap(struct zd_machine *m, struct zd_page *folio)
{
	if (!__atomic_add_fetch(&folio->_mapcount, 1, __ATOMIC_ACQ_REL))
		__atomic_add_fetch(&m->nr_file_mapped, 1L << zd_folio_order(m, folio),
				   __ATOMIC_RELAXED);
}

void zd_folio_add_anon_rmap_pte(struct zd_machine *m, struct zd_page *page, bool exclusive)
{
	struct zd_page *folio = zd_compound_head(page);
	bool large = large_anon(folio);

	if (large)
		__atomic_add_fetch(&folio[1]._large_mapcount, 1, __ATOMIC_RELAXED);
	if (!__atomic_add_fetch(&page->_mapcount, 1, __ATOMIC_ACQ_REL) &&
	    (!large || !zd_folio_entire_mapcount(folio)))
		__atomic_add_fetch(&m->nr_anon_mapped, 1, __ATOMIC_RELAXED);
	if (exclusive)
		zd_set_page_flag(page, ZD_PG_anon_exclusive);
}

/*
 * make_device_exclusive(): the page at addr (anonymous, faulted in writable
 * by GUP, a PMD THP split into PTEs by FOLL_SPLIT_PMD) gets a
 * device-exclusive entry instead of its PTE, so any CPU access faults and
 * takes exclusivity back (remove_device_exclusive_entry). The entry keeps
 * the page's mapping (mapcount, rss and the mapping's reference stay).
 * MMU_NOTIFY_EXCLUSIVE with the caller's owner brackets the change (the
 * caller's notifier must let its own event pass, or it would drop what it
 * is about to map). Returns the page locked and referenced for the
 * caller (*foliop: its folio, which holds the lock and the reference; the
 * caller unlocks and puts that), or an ERR_PTR: -EBUSY for a page that is not anonymous, a tail
 * of a large folio under the v6.12 rule, or one that changed between GUP
 * and the lock; GUP's errno otherwise. Caller holds mmap_lock for reading.
 */
struct zd_page *zd_make_device_exclusive(struct zd_mm *mm, uint64_t addr, void *owner,
					 struct zd_page **foliop)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_mmu_notifier_range r;
	struct zd_page *page, *folio, *ptl;
	const char *why = NULL;
	uint64_t *pte;
	long n;
	zd_pte_t e;

	addr &= ~(m->arch.page_size - 1);
	n = zd_get_user_pages(mm, addr, 1, ZD_FOLL_WRITE | ZD_FOLL_SPLIT_PMD, &page);
	if (n != 1)
		return ZD_ERR_PTR(n < 0 ? (int)n : -EFAULT);
	folio = zd_compound_head(page);
	if (!zd_folio_test_anon(folio) || zd_is_zone_device_page(page))
		why = "not anonymous";
	else if (m->device_exclusive_era == ZD_EXCLUSIVE_ERA_V6_12 && folio != page)
		why = "a tail page of a large folio (the v6.12 rule)";
	if (why) {
		zd_pr_info(m, "make_device_exclusive: pid %d 0x%llx: %s: -EBUSY", mm->pid, ULL(addr),
			   why);
		zd_put_page(m, page);
		return ZD_ERR_PTR(-EBUSY);
	}
	zd_lock_page(folio);
	zd_mmu_notifier_range_init_owner(&r, ZD_MMU_NOTIFY_EXCLUSIVE, 0, mm, addr,
					 addr + m->arch.page_size, owner);
	zd_mmu_notifier_invalidate_range_start(&r);
	pte = zd_pte_offset_map_lock(mm, addr, &ptl);
	e = pte ? o->ptep_get(pte) : (zd_pte_t){ 0 };
	if (!pte || !o->pte_present(&m->arch, e) || zd_vm_normal_page(mm, e) != page ||
	    !(zd_pte_prot(mm, e) & ZD_PTE_WRITE)) {
		if (pte)
			zd_pt_unlock(ptl);
		zd_mmu_notifier_invalidate_range_end(&r);
		zd_pr_info(m, "make_device_exclusive: pid %d 0x%llx: the PTE changed: -EBUSY",
			   mm->pid, ULL(addr));
		zd_unlock_page(folio);
		zd_put_page(m, page);
		return ZD_ERR_PTR(-EBUSY);
	}
	e = o->ptep_get_and_clear(pte);
	if (zd_pte_prot(mm, e) & ZD_PTE_DIRTY)
		zd_set_page_flag(folio, ZD_PG_dirty);
	o->set_pte(pte, o->swp_entry_to_pte(&m->arch, zd_swp_type_of(m, ZD_SOFTLEAF_DEVICE_EXCLUSIVE),
					    zd_page_to_pfn(m, page)));
	zd_pt_unlock(ptl);
	/* the TLB flush: no CPU still writes through the old PTE */
	zd_synchronize_rcu(&m->rcu);
	zd_mmu_notifier_invalidate_range_end(&r);
	*foliop = folio;
	return page;
}

/* ---------- the rmap walk and try_to_migrate (moved from migrate.c) ---------- */

/* Does e map page the way what asks? A present PTE names a page by pfn; a
 * device-private page (which is never present) is named by its
 * device-private entries instead; migration entries are decoded. */
static bool walk_match(struct zd_machine *m, zd_pte_t e, struct zd_page *page, uint64_t pfn,
		       enum zd_walk_what what)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	enum zd_softleaf_type k;
	struct zd_page *p;

	if (o->pte_none(&m->arch, e))
		return false;
	if (o->pte_present(&m->arch, e))
		return what == ZD_WALK_PRESENT && pfn != ZD_BAD_PFN &&
		       o->leaf_pfn(&m->arch, ZD_PT_PTE, e) == pfn;
	k = zd_softleaf_from_pte(m, e, &p);
	if (p != page)
		return false;
	/* PRESENT: the device-private entries of a page stand for its mapping */
	return what == ZD_WALK_MIGRATION ? zd_softleaf_is_migration(k) :
	       zd_softleaf_is_device_private(k) || k == ZD_SOFTLEAF_DEVICE_EXCLUSIVE;
}

/* A PMD leaf mapping the folio: a THP's by pfn, a device THP's
 * device-private entry by the page it names. */
static bool pmd_maps(struct zd_mm *mm, zd_pte_t e, struct zd_page *folio, uint64_t pfn)
{
	const struct zd_arch *a = &mm->m->arch;
	struct zd_page *dev;

	if (zd_pmd_is_thp(mm, e, ZD_PT_PMD))
		return a->pgtable->leaf_pfn(a, ZD_PT_PMD, e) == pfn;
	return zd_pmd_is_device_private(mm, e, ZD_PT_PMD, &dev, NULL) && dev == folio;
}

/* rmap_walk_anon()/rmap_walk_file(): fn on each entry that maps page,
 * whose index in its anon_vma's space (av) or in its file (mapping, with
 * av NULL) is index (present or device-private, a migration entry naming
 * it, the THP PMD whose folio starts there, or a PTE table of a whole PMD
 * block), its table locked. A file's VMAs are those whose file's inode
 * (private_data) is the mapping: the kernel's i_mmap tree, found here by
 * visiting every process, each under its mmap_lock (the kernel needs
 * none: its VMAs stay on the anon_vma/i_mmap trees until unlinked), taken
 * by trylock and the walk repeated while one was busy. */
/* The entries of pages [page, page + nr) at [index, index + nr) in vma,
 * each PTE table locked once. */
static int walk_ptes(struct zd_vm_area_struct *vma, struct zd_page *page, uint64_t pfn,
		     uint64_t index, uint64_t nr, enum zd_walk_what what, zd_rmap_fn fn, void *arg)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	uint64_t shift = m->arch.page_shift, span = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	uint64_t j = index < vma->vm_pgoff ? vma->vm_pgoff - index : 0;
	int rc = 0;

	while (j < nr && !rc) {
		uint64_t addr = vma->vm_start + ((index + j - vma->vm_pgoff) << shift);
		uint64_t in_table = (span - (addr & (span - 1))) >> shift;
		struct zd_page *ptl;
		uint64_t *pte;

		if (addr >= vma->vm_end)
			break;
		if (!(pte = zd_pte_offset_map_lock(mm, addr, &ptl))) {
			j += in_table;
			continue;
		}
		for (uint64_t k = 0; k < in_table && j < nr && addr < vma->vm_end && !rc;
		     k++, j++, addr += 1ULL << shift)
			if (walk_match(m, o->ptep_get(&pte[k]), page + j,
				       pfn == ZD_BAD_PFN ? pfn : pfn + j, what))
				rc = fn(vma, addr, &pte[k], arg);
		zd_pt_unlock(ptl);
	}
	return rc;
}

int zd_rmap_walk(struct zd_machine *m, struct zd_page *page, uint64_t index,
		 struct zd_anon_vma *av, const void *mapping, enum zd_walk_what what, zd_rmap_fn fn,
		 void *arg)
{
	return zd_rmap_walk_nr(m, page, index, 1, av, mapping, what, fn, arg);
}

int zd_rmap_walk_nr(struct zd_machine *m, struct zd_page *page, uint64_t index, uint64_t nr,
		    struct zd_anon_vma *av, const void *mapping, enum zd_walk_what what,
		    zd_rmap_fn fn, void *arg)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_anon_vma *root = av ? zd_anon_vma_root(av) : NULL;
	/* a dpa device-private page has no pfn: only its entries name it */
	uint64_t pfn = zd_page_in_vmemmap(m, page) ? zd_page_to_pfn(m, page) : ZD_BAD_PFN;
	int rc = 0;
	bool busy;

again:
	busy = false;
	pthread_mutex_lock(&m->mm_list_lock);
	for (struct zd_mm *mm = m->mm_list; mm && !rc; mm = mm->next) {
		/* never wait for an mmap_lock under the list lock: its holder
		 * (a fork, a fault's migrate_to_ram) may want the list next */
		/* this thread's own lock, for writing or reading */
		bool mine = zd_mmap_write_locked(mm) || zd_mmap_read_held(mm);

		if (!mine && !zd_mmap_read_trylock(mm)) {
			busy = true;
			continue;
		}
		for (size_t i = 0; i < mm->map_count && !rc; i++) {
			struct zd_vm_area_struct *vma = mm->vmas[i];
			struct zd_page *ptl;
			uint64_t addr, *pte;
			zd_pte_t e;

			/* a fault may be setting it (anon_vma_prepare) */
			struct zd_anon_vma *vav = __atomic_load_n(&vma->anon_vma, __ATOMIC_ACQUIRE);

			if (root ? !vav || zd_anon_vma_root(vav) != root :
			    !vma->vm_file || vma->vm_file->private_data != mapping)
				continue;
			if (index + nr <= vma->vm_pgoff ||
			    index >= vma->vm_pgoff + ((vma->vm_end - vma->vm_start) >> m->arch.page_shift))
				continue;
			if (what != ZD_WALK_THP_PMD && what != ZD_WALK_PTE_TABLE) {
				rc = walk_ptes(vma, page, pfn, index, nr, what, fn, arg);
				continue;
			}
			if (index < vma->vm_pgoff)
				continue;
			addr = vma->vm_start + ((index - vma->vm_pgoff) << m->arch.page_shift);
			{
				uint64_t span = 1ULL << m->arch.pt[ZD_PT_PMD].shift;

				/* PTE_TABLE: a whole PMD block of the VMA that
				 * PTEs map (a THP split for its migration) */
				if (what == ZD_WALK_PTE_TABLE && ((addr & (span - 1)) || addr + span > vma->vm_end))
					continue;
				if (!(pte = zd_huge_slot_lookup(mm, addr, ZD_PT_PMD, &ptl)))
					continue;
				zd_pt_lock(ptl);
				e = o->ptep_get(pte);
				if (what == ZD_WALK_PTE_TABLE ? o->is_table(&m->arch, e) :
				    pmd_maps(mm, e, page, pfn))
					rc = fn(vma, addr, pte, arg);
				zd_pt_unlock(ptl);
			}
		}
		if (!mine)
			zd_mmap_read_unlock(mm);
	}
	pthread_mutex_unlock(&m->mm_list_lock);
	/* a process skipped: walk again (fn is idempotent: an entry it
	 * changed no longer matches) */
	if (busy && !rc) {
		sched_yield();
		goto again;
	}
	return rc;
}

/* try_to_migrate_one(): a present PTE or a device-private entry of the
 * page becomes a migration entry of the same writability. */
static int unmap_one(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pte, void *arg)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *page = arg, *folio = zd_compound_head(page), *p;
	zd_pte_t e = o->ptep_get(pte);
	bool excl = zd_test_page_flag(page, ZD_PG_anon_exclusive), write;
	unsigned prot = 0;

	struct zd_mmu_notifier_range r;

	if (o->pte_present(&m->arch, e)) {
		prot = zd_pte_prot(mm, e);
		write = prot & ZD_PTE_WRITE;
	} else {
		enum zd_softleaf_type k = zd_softleaf_from_pte(m, e, &p);

		if (p != page || (!zd_softleaf_is_device_private(k) &&
				  k != ZD_SOFTLEAF_DEVICE_EXCLUSIVE))
			return 0;
		/* a device-exclusive entry stands for a writable PTE */
		write = k != ZD_SOFTLEAF_DEVICE_PRIVATE_READ;
	}
	/* folio_try_share_anon_rmap_pte(): a pinned exclusive page stays */
	if (excl && zd_folio_maybe_dma_pinned(folio))
		return -EBUSY;
	/* try_to_migrate_one(): MMU_NOTIFY_CLEAR over the page (under its
	 * PTE lock here; the kernel starts it before taking the lock) */
	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, mm, addr, addr + m->arch.page_size);
	o->set_pte(pte, zd_make_migration_entry(m, page, write, excl));
	if (prot & ZD_PTE_DIRTY)
		zd_set_page_flag(folio, ZD_PG_dirty);
	zd_clear_page_flag(page, ZD_PG_anon_exclusive);
	zd_folio_remove_rmap_pte(m, page);
	zd_put_page(m, page);
	zd_mmu_notifier_invalidate_range_end(&r);
	return 0;
}

/* folio_get_anon_vma(): a reference on the page's anon_vma while it is
 * mapped, so a munmap meanwhile cannot free what the walks use. */
static int folio_mapcount(struct zd_machine *m, struct zd_page *folio)
{
	return zd_folio_order(m, folio) ? zd_folio_large_mapcount(folio) : zd_page_mapcount(folio);
}

struct zd_anon_vma *zd_folio_get_anon_vma(struct zd_machine *m, struct zd_page *folio)
{
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	uintptr_t mapping = (uintptr_t)__atomic_load_n(&folio->mapping, __ATOMIC_ACQUIRE);
	struct zd_anon_vma *av = (void *)(mapping & ~ZD_PAGE_MAPPING_ANON);

	if (!(mapping & ZD_PAGE_MAPPING_ANON) || !av || folio_mapcount(m, folio) <= 0 ||
	    !zd_anon_vma_tryget(av))
		av = NULL;
	else if (folio_mapcount(m, folio) <= 0) {
		zd_rcu_read_unlock(&m->rcu, idx);
		zd_put_anon_vma(av);
		return NULL;
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	return av;
}

int zd_try_to_migrate(struct zd_machine *m, struct zd_page *page, uint64_t index,
		      struct zd_anon_vma *av)
{
	return zd_rmap_walk(m, page, index, av, NULL, ZD_WALK_PRESENT, unmap_one, page);
}

int zd_try_to_migrate_file(struct zd_machine *m, struct zd_page *page, const void *mapping)
{
	return zd_rmap_walk(m, page, page->index, NULL, mapping, ZD_WALK_PRESENT, unmap_one, page);
}

static int split_pmd_one(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pmd, void *arg)
{
	struct zd_mmu_notifier_range r;   /* split_huge_pmd_address(): CLEAR */

	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, vma->vm_mm, addr,
			    addr + (1ULL << vma->vm_mm->m->arch.pt[ZD_PT_PMD].shift));
	zd_split_huge_pmd_locked(vma->vm_mm, pmd);
	zd_mmu_notifier_invalidate_range_end(&r);
	return 0;
}

void zd_split_huge_pmds(struct zd_machine *m, struct zd_page *folio, struct zd_anon_vma *av)
{
	zd_rmap_walk(m, folio, folio->index, av, NULL, ZD_WALK_THP_PMD, split_pmd_one, NULL);
}
