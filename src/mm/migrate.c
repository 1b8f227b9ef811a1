/*
 * Migration of anonymous, shmem and THP folios (mm/migrate.c; the rmap
 * walk and try_to_migrate live in rmap.c, remove_migration_ptes here):
 * every PTE that maps the page
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
 * unlocked only after no entry names it. A shmem page's cache slot swaps
 * under its cache lock; a THP moves whole when a THP can be had, split
 * otherwise, and regains a PMD only where it had one.
 * move_pages(2) (zd_move_pages) isolates a run of a process's pages bound
 * for one node and migrates them there; a run that leaves pages behind
 * reports their number and writes none of its statuses, as the kernel.
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>
#include "base/rcu.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/fault-inject.h>
#include <zonedev/gfp.h>
#include <zonedev/memremap.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>

/* remove_migration_pte(): the entry (of kind k) becomes a PTE of dst, or
 * the device-private entry of a device-private page, as writable as it
 * was. */
static void remap_entry(struct zd_vm_area_struct *vma, uint64_t *pte, struct zd_page *dst,
			enum zd_softleaf_type k)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	bool write = zd_softleaf_is_migration_write(k);
	unsigned prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG;

	if (write)
		prot |= ZD_PTE_WRITE | ZD_PTE_DIRTY;
	else if (zd_test_page_flag(dst, ZD_PG_dirty))
		prot |= ZD_PTE_DIRTY;
	zd_get_page(m, dst);
	if (!zd_folio_test_anon(dst))
		zd_folio_add_file_rmap(m, dst);   /* shmem */
	else
		zd_folio_add_anon_rmap_pte(m, dst, !zd_softleaf_is_migration_read(k));
	if (zd_is_zone_device_page(dst) && zd_is_device_private_page(m, dst))
		o->set_pte(pte, zd_make_device_private_entry(m, dst, write));
	else
		o->set_pte(pte, o->mk_leaf(&m->arch, ZD_PT_PTE, zd_page_to_pfn(m, dst), prot));
}

/* remove_migration_ptes() of nr pages: an entry naming old + j maps dst + j. */
struct remap_nr { struct zd_page *old, *dst; };

static int remap_nr_one(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pte, void *arg)
{
	struct zd_machine *m = vma->vm_mm->m;
	struct remap_nr *r = arg;
	struct zd_page *old;
	enum zd_softleaf_type k = zd_softleaf_from_pte(m, m->arch.pgtable->ptep_get(pte), &old);

	remap_entry(vma, pte, r->dst + (old - r->old), k);
	return 0;
}

void zd_remove_migration_ptes_nr(struct zd_machine *m, struct zd_page *old, uint64_t index,
				 uint64_t nr, struct zd_anon_vma *av, struct zd_page *dst)
{
	struct remap_nr r = { old, dst };

	zd_rmap_walk_nr(m, old, index, nr, av, NULL, ZD_WALK_MIGRATION, remap_nr_one, &r);
}

void zd_remove_migration_ptes(struct zd_machine *m, struct zd_page *old, uint64_t index,
			      struct zd_anon_vma *av, struct zd_page *dst)
{
	zd_remove_migration_ptes_nr(m, old, index, 1, av, dst);
}

/* A shmem (page cache, swap-backed) page: the file-backed kind that moves. */
static bool is_shmem(struct zd_page *page)
{
	return !zd_folio_test_anon(page) && zd_test_page_flag(page, ZD_PG_swapbacked) &&
	       __atomic_load_n(&page->mapping, __ATOMIC_ACQUIRE);
}

/* migrate_folio() of a shmem page (filemap's __folio_migrate_mapping):
 * its PTEs in every process that maps the file become migration entries,
 * the bytes move, the page cache slot takes dst in the same locked step
 * that checks nothing else holds the page, and the entries map dst. */
static int migrate_shmem_folio(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst)
{
	void *mapping = zd_shmem_mapping_get(m, folio);
	uint64_t index = folio->index;
	int rc;

	if (!mapping)
		return -EAGAIN;   /* the file is going */
	rc = zd_try_to_migrate_file(m, folio, mapping);
	zd_synchronize_rcu(&m->rcu);
	if (!rc) {
		memcpy(zd_page_address(m, dst), zd_page_address(m, folio), m->arch.page_size);
		/* the cache's reference and the caller's: nothing else */
		rc = zd_page_mapcount(folio) ? -EAGAIN :
		     zd_shmem_replace_folio(mapping, folio, dst, 2);
	}
	zd_rmap_walk(m, folio, index, NULL, mapping, ZD_WALK_MIGRATION, remap_nr_one,
		     &(struct remap_nr){ folio, rc ? folio : dst });
	zd_shmem_mapping_put(mapping);
	return rc;
}

/* The PMDs a THP had before its migration split them: only those map it
 * by a PMD again (remove_migration_pmd restores PMD migration entries,
 * PTE entries stay PTEs). Matched by (mm, address) in a later walk over
 * the live processes. */
struct pmd_blocks {
	struct zd_page *folio;
	size_t n, max;
	struct { const struct zd_mm *mm; uint64_t addr; } *at;
	bool oom;
};

static int record_and_split_pmd(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pmd,
				void *arg)
{
	struct pmd_blocks *b = arg;

	if (b->n == b->max) {
		size_t max = b->max ? 2 * b->max : 8;
		void *at = realloc(b->at, max * sizeof(*b->at));

		if (!at) {
			b->oom = true;   /* still split: it just stays PTE-mapped */
		} else {
			b->at = at;
			b->max = max;
		}
	}
	if (b->n < b->max) {
		b->at[b->n].mm = vma->vm_mm;
		b->at[b->n++].addr = addr;
	}
	zd_split_huge_pmd_locked(vma->vm_mm, pmd);
	return 0;
}

static int remap_pmd_one(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pmd, void *arg)
{
	struct pmd_blocks *b = arg;

	for (size_t i = 0; i < b->n; i++)
		if (b->at[i].mm == vma->vm_mm && b->at[i].addr == addr) {
			zd_remap_thp_pmd_locked(vma->vm_mm, pmd, b->folio);
			break;
		}
	return 0;
}

/* A THP moves whole to dst, a THP of the same order: its PMDs are split,
 * every page's PTEs become migration entries naming that page, the folio
 * must then be held by the caller alone, the bytes move, the entries map
 * dst's pages, and each PMD block that PTEs map in order becomes a PMD of
 * dst again (what remove_migration_pmd gives the kernel, whose migration
 * entries are PMDs themselves). On a refusal the same steps restore the
 * old folio. */
static int migrate_thp(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst)
{
	uint64_t nr = 1ULL << zd_folio_order(m, folio), index = folio->index, i, n;
	struct pmd_blocks blocks = { 0 };
	struct zd_anon_vma *av;
	struct zd_page *target;
	int rc = 0;

	if (!zd_folio_test_anon(folio) || zd_folio_order(m, dst) != zd_folio_order(m, folio))
		return -EINVAL;
	/* can_split_folio()'s test before anything changes: the mappings'
	 * references and the caller's, no pin */
	if (zd_page_ref_count(folio) != zd_folio_large_mapcount(folio) + 1)
		return -EAGAIN;
	if (!(av = zd_folio_get_anon_vma(m, folio)))
		return -EAGAIN;
	zd_rmap_walk(m, folio, index, av, NULL, ZD_WALK_THP_PMD, record_and_split_pmd, &blocks);
	for (i = 0; i < nr && !rc; i++)
		rc = zd_try_to_migrate(m, folio + i, index + i, av);
	n = rc ? i - 1 : nr;   /* the refusing page was not unmapped */
	zd_synchronize_rcu(&m->rcu);
	if (!rc && (zd_page_ref_count(folio) != 1 || zd_folio_large_mapcount(folio)))
		rc = -EAGAIN;
	target = rc ? folio : dst;
	if (!rc) {
		for (i = 0; i < nr; i++)
			memcpy(zd_page_address(m, dst + i), zd_page_address(m, folio + i),
			       m->arch.page_size);
		__atomic_store_n(&dst->mapping, folio->mapping, __ATOMIC_RELAXED);
		dst->index = index;
		zd_set_page_flag(dst, ZD_PG_swapbacked);
		if (zd_test_page_flag(folio, ZD_PG_dirty))
			zd_set_page_flag(dst, ZD_PG_dirty);
	}
	zd_remove_migration_ptes_nr(m, folio, index, n, av, target);
	blocks.folio = target;
	zd_rmap_walk(m, target, index, av, NULL, ZD_WALK_PTE_TABLE, remap_pmd_one, &blocks);
	free(blocks.at);
	zd_put_anon_vma(av);
	return rc;
}

int zd_migrate_folio(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst)
{
	struct zd_anon_vma *av;
	uint64_t index;
	int rc;

	if (zd_folio_order(m, folio))
		return migrate_thp(m, folio, dst);
	if (is_shmem(folio))
		return migrate_shmem_folio(m, folio, dst);
	if (!zd_folio_test_anon(folio))
		return -EINVAL;   /* no other file pages migrate */
	av = zd_folio_get_anon_vma(m, folio);
	if (!av)
		return -EAGAIN;   /* unmapped meanwhile */
	/* a fault may be mapping the page anew meanwhile (the rmap walk
	 * finds no PTE for a stale index, and the check below refuses) */
	index = __atomic_load_n(&folio->index, __ATOMIC_RELAXED);
	rc = zd_try_to_migrate(m, folio, index, av);
	/* try_to_migrate_one()'s TLB flush: a store that read an entry before
	 * it changed ends inside its RCU read section, so after a grace
	 * period no CPU writes the old page and its bytes are final */
	zd_synchronize_rcu(&m->rcu);
	if (!rc && (zd_page_ref_count(folio) != 1 || zd_page_mapcount(folio)))
		rc = -EAGAIN;     /* referenced: migrate_folio_move() would fail */
	if (rc) {
		zd_remove_migration_ptes(m, folio, index, av, folio);
		zd_put_anon_vma(av);
		return rc;
	}
	/* by kaddr: a device-coherent source has no linear-map address */
	memcpy(zd_pfn_kaddr(m, zd_page_to_pfn(m, dst)), zd_pfn_kaddr(m, zd_page_to_pfn(m, folio)),
	       m->arch.page_size);
	__atomic_store_n(&dst->mapping, folio->mapping, __ATOMIC_RELAXED);
	dst->index = index;
	zd_set_page_flag(dst, ZD_PG_swapbacked);
	if (zd_test_page_flag(folio, ZD_PG_dirty))
		zd_set_page_flag(dst, ZD_PG_dirty);
	zd_remove_migration_ptes(m, folio, index, av, dst);
	zd_put_anon_vma(av);
	return 0;
}

/* migration_entry_wait(): a fault on a migration entry waits for the
 * migration to end (the page unlocked) and is then retried. */
void zd_migration_entry_wait(struct zd_machine *m, struct zd_page *page)
{
	/* the folio's lock: a THP being split is locked at its head, and
	 * each page it becomes is locked before it stops being a tail */
	while (zd_test_page_flag(zd_compound_head(page), ZD_PG_locked) ||
	       zd_test_page_flag(page, ZD_PG_locked))
		sched_yield();
}


/* A free page outside [lo, hi), which the kernel's isolated pageblocks
 * guarantee: pages inside are held until one is found and then go back
 * (they are free pages of the range being emptied). A movable page may
 * live in any zone, so after a few hits the lower zones are asked. */
static struct zd_page *alloc_outside(struct zd_machine *m, uint64_t lo, uint64_t hi,
				     unsigned order)
{
	struct zd_page *held[16], *page = NULL;
	int n = 0;

	if (order && zd_should_fail(m, "alloc_thp"))
		return NULL;   /* the fault point of a machine with no THP to give */
	while (n < 16) {
		page = zd_alloc_pages(m, (n < 8 ? ZD_GFP_HIGHUSER_MOVABLE : ZD_GFP_KERNEL) |
				      ZD___GFP_NOWARN, order);
		if (!page)
			break;
		uint64_t pfn = zd_page_to_pfn(m, page);
		if (pfn < lo || pfn >= hi)
			break;
		held[n++] = page;
		page = NULL;
	}
	while (n)
		zd___free_pages(m, held[--n], order);
	return page;
}

/* What follows an isolation (migrate_pages_batch for one page): page,
 * locked and with the caller's reference, moves to dst (NULL: none could
 * be had, -ENOMEM), retried while something still references it
 * (-EAGAIN) up to tries times; page unlocked and both references
 * dropped whatever the outcome, the old page freed on success; vmstat
 * pgmigrate_success/fail. */
static int migrate_and_release(struct zd_machine *m, struct zd_page *page, struct zd_page *dst,
			       int tries)
{
	long nr = 1L << zd_folio_order(m, page);
	int rc = -ENOMEM;

	while (dst && tries-- > 0 && (rc = zd_migrate_folio(m, page, dst)) == -EAGAIN)
		sched_yield();
	if (nr > 1)
		__atomic_add_fetch(rc ? &m->thp_migration_fail : &m->thp_migration_success, 1,
				   __ATOMIC_RELAXED);
	zd_unlock_page(page);
	if (dst)
		zd_put_page(m, dst);
	if (!rc)
		__atomic_store_n(&page->mapping, NULL, __ATOMIC_RELAXED);   /* nobody's now */
	zd_put_page(m, page);
	/* PGMIGRATE_* count base pages */
	__atomic_add_fetch(rc ? &m->pgmigrate_fail : &m->pgmigrate_success, (unsigned long)nr,
			   __ATOMIC_RELAXED);
	return rc;
}

long zd_migrate_range(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	long moved = 0;

	for (uint64_t p = pfn; p < pfn + nr; p++) {
		struct zd_page *page = zd_pfn_to_page(m, p);
		int rc;

		if (zd_page_is_buddy(page)) {
			/* buddy_order_unsafe(): read without the zone lock, so
			 * it may be stale; only a plausible order skips ahead */
			unsigned long order = __atomic_load_n(&page->private, __ATOMIC_RELAXED);

			if (order <= m->arch.max_page_order)
				p += (1ULL << order) - 1;
			continue;
		}
		/* a tail is met only when the range starts inside a THP,
		 * whose head lies outside it */
		if (zd_page_is_tail(page))
			continue;
		if ((!zd_folio_test_anon(page) && !is_shmem(page)) || !zd_folio_try_get(page))
			continue;
		if ((!zd_folio_test_anon(page) && !is_shmem(page)) || !zd_trylock_page(page)) {
			zd_put_page(m, page);
			continue;
		}
		/* a THP moves whole when a THP outside the range can be had,
		 * else it is split and its pages move one by one, as
		 * migrate_pages() splits when the target cannot take it */
		if (zd_test_page_flag(page, ZD_PG_head) && zd_page_folio(m, page) == page) {
			unsigned order = zd_folio_order(m, page);
			struct zd_page *thp = zd_folio_test_anon(page) ?
					      alloc_outside(m, pfn, pfn + nr, order) : NULL;

			if (thp) {
				rc = migrate_and_release(m, page, thp, 1);
				moved += !rc;
				p += (1ULL << order) - 1;
				continue;
			}
			if (zd_split_folio(m, page)) {
				zd_unlock_page(page);
				zd_put_page(m, page);
				__atomic_add_fetch(&m->pgmigrate_fail, 1, __ATOMIC_RELAXED);
				continue;
			}
		}
		if (zd_page_mapcount(page) <= 0 && !is_shmem(page)) {
			zd_unlock_page(page);
			zd_put_page(m, page);
			continue;
		}
		rc = migrate_and_release(m, page, alloc_outside(m, pfn, pfn + nr, 0), 1);
		if (rc == -ENOMEM)
			return moved ? moved : rc;
		moved += !rc;
	}
	return moved;
}

/* ---------- move_pages(2) ---------- */

/* NR_MAX_MIGRATE_PAGES_RETRY: a referenced page is tried this often. */
#define MIGRATE_RETRY 10

/* vma_migratable(): DAX maps the device itself, IO and PFNMAP no pages. */
static bool vma_migratable(const struct zd_vm_area_struct *vma)
{
	if (vma->vm_flags & (ZD_VM_IO | ZD_VM_PFNMAP))
		return false;
	return !(vma->vm_file && (vma->vm_file->i_flags & ZD_S_DAX));
}

/* node_state(node, N_MEMORY): the node exists and has memory online. */
static bool node_has_memory(struct zd_machine *m, int node)
{
	if (node < 0 || node >= m->nr_nodes || !m->node_data[node])
		return false;
	for (int z = 0; z < ZD_MAX_NR_ZONES; z++)
		if (__atomic_load_n(&m->node_data[node]->node_zones[z].managed_pages,
				    __ATOMIC_RELAXED))
			return true;
	return false;
}

/* folio_walk_start(FW_ZEROPAGE) under mmap_lock: the present leaf
 * mapping addr, its pfn (the subpage's) and level; false when nothing
 * present is there. */
static bool walk_present(struct zd_mm *mm, uint64_t addr, uint64_t *pfn, enum zd_pt_level *level)
{
	const struct zd_arch *a = &mm->m->arch;
	struct zd_page *page;
	zd_pte_t e = zd_follow_pte(mm, addr, level, &page);

	if (a->pgtable->pte_none(a, e) || !a->pgtable->pte_present(a, e))
		return false;
	*pfn = a->pgtable->leaf_pfn(a, *level, e) +
	       ((addr & ((1ULL << a->pt[*level].shift) - 1)) >> a->page_shift);
	return true;
}

/* folio_likely_mapped_shared() (v6.12): a small folio mapped more than
 * once; a large one mapped more than once with a PMD mapping or its first
 * page mapped twice (the guess the kernel makes from the first page). */
static bool likely_mapped_shared(struct zd_machine *m, struct zd_page *folio)
{
	if (!zd_folio_order(m, folio))
		return zd_page_mapcount(folio) > 1;
	if (zd_folio_large_mapcount(folio) <= 1)
		return false;
	return zd_folio_entire_mapcount(folio) || zd_page_mapcount(folio) > 1;
}

/* __add_folio_for_migration(): 1 with the folio isolated in *out (a
 * reference and its lock, so nothing else migrates it meanwhile: a second
 * address in a THP already isolated is -EBUSY, its isolation failing as
 * the kernel's folio_isolate_lru does), 0 when it is on node already, or
 * the page's status errno. */
static int add_folio(struct zd_mm *mm, uint64_t addr, int node, bool migrate_all,
		     struct zd_page **out)
{
	struct zd_machine *m = mm->m;
	enum zd_pt_level level;
	struct zd_page *page;
	uint64_t pfn;

	if (!walk_present(mm, addr, &pfn, &level))
		return -ENOENT;
	if (pfn == m->zero_pfn)
		return -EFAULT;
	page = zd_pfn_to_page(m, pfn);
	if (zd_is_zone_device_page(page))
		return -ENOENT;
	if (zd_page_to_nid(page) == node)
		return 0;
	page = zd_page_folio(m, page);   /* a THP moves whole */
	if (likely_mapped_shared(m, page) && !migrate_all)
		return -EACCES;
	if ((zd_folio_order(m, page) && !zd_folio_test_anon(page)) ||
	    (!zd_folio_test_anon(page) && !is_shmem(page))) {
		zd_pr_info(m, "move_pages: pfn 0x%llx at 0x%llx is a %s page, which does not "
			    "migrate in this model yet", (unsigned long long)pfn,
			    (unsigned long long)addr, zd_folio_test_anon(page) ? "large" : "file");
		return -EBUSY;
	}
	/* folio_isolate_lru(): under the PTE lock of the walk's mmap_lock the
	 * page is mapped, so it has a reference to add to */
	zd_get_page(m, page);
	if (!zd_trylock_page(page)) {
		zd_put_page(m, page);
		return -EBUSY;
	}
	*out = page;
	return 1;
}

/* add_folio_for_migration(). */
static int add_folio_for_migration(struct zd_mm *mm, uint64_t addr, int node, bool migrate_all,
				   struct zd_page **out)
{
	struct zd_vm_area_struct *vma;
	int err = -EFAULT;

	zd_mmap_read_lock(mm);
	vma = zd_vma_lookup(mm, addr);
	if (vma && vma_migratable(vma))
		err = add_folio(mm, addr, node, migrate_all, out);
	zd_mmap_read_unlock(mm);
	return err;
}

static struct zd_page *alloc_on(struct zd_machine *m, int node, unsigned order)
{
	return zd_alloc_pages_node(m, node, ZD_GFP_HIGHUSER_MOVABLE | ZD___GFP_THISNODE |
				   ZD___GFP_NOWARN, order);
}

/* migrate_pages()' retry of a THP the node has no THP for: split, then
 * each page moves on its own (those nobody maps any more are gone). The
 * number that did not move; head is isolated and released here. */
static long move_split(struct zd_machine *m, struct zd_page *head, int node)
{
	unsigned long nr = 1UL << zd_folio_order(m, head);
	long failed = 0;

	if (zd_split_folio(m, head)) {
		zd_unlock_page(head);
		zd_put_page(m, head);
		return (long)nr;
	}
	for (unsigned long i = 1; i < nr; i++) {
		struct zd_page *page = head + i, *dst;

		if (!zd_folio_try_get(page))
			continue;
		if (!zd_trylock_page(page)) {
			zd_put_page(m, page);   /* someone else migrates it */
			failed++;
			continue;
		}
		if (!(dst = alloc_on(m, node, 0))) {
			zd_unlock_page(page);
			zd_put_page(m, page);
			failed++;
			continue;
		}
		failed += migrate_and_release(m, page, dst, MIGRATE_RETRY) != 0;
	}
	return failed + (migrate_and_release(m, head, alloc_on(m, node, 0), MIGRATE_RETRY) != 0);
}

/* do_move_pages_to_node() of the n isolated pages: 0, the number that
 * did not move, or -ENOMEM when the node ran out (the rest put back). */
static long move_to_node(struct zd_machine *m, struct zd_page **q, unsigned long n, int node)
{
	long failed = 0;
	int err = 0;

	for (unsigned long i = 0; i < n; i++) {
		struct zd_page *dst = NULL;
		unsigned order = zd_folio_order(m, q[i]);

		if (!err) {
			dst = alloc_on(m, node, order);
			if (!dst && order) {
				failed += move_split(m, q[i], node);
				continue;
			}
			if (!dst) {
				zd_pr_warn(m, "move_pages: no free page on node %d", node);
				err = -ENOMEM;
			}
		}
		if (err) {
			zd_unlock_page(q[i]);   /* putback_movable_pages() */
			zd_put_page(m, q[i]);
			continue;
		}
		failed += migrate_and_release(m, q[i], dst, MIGRATE_RETRY) != 0;
	}
	return err ? err : failed;
}

struct move_batch {
	struct zd_page **q;        /* the isolated pages of the run */
	unsigned long nq;
	int *status;
	unsigned long nr_pages;
};

/* move_pages_and_store_status(): the run [start, i) to node; its status
 * is node when all moved, else the count of pages not migrated from the
 * run on (the pages after i included). */
static long flush_run(struct zd_machine *m, struct move_batch *b, int node, unsigned long start,
		      unsigned long i)
{
	long rc;

	if (!b->nq)
		return 0;
	rc = move_to_node(m, b->q, b->nq, node);
	b->nq = 0;
	if (rc)
		return rc > 0 ? rc + (long)(b->nr_pages - i) : rc;
	for (unsigned long j = start; j < i; j++)
		b->status[j] = node;
	return 0;
}

/* do_pages_stat_array(). */
static void pages_stat(struct zd_mm *mm, unsigned long nr_pages, const uint64_t *pages,
		       int *status)
{
	zd_mmap_read_lock(mm);
	for (unsigned long i = 0; i < nr_pages; i++) {
		enum zd_pt_level level;
		uint64_t pfn;
		struct zd_page *page;

		if (!zd_vma_lookup(mm, pages[i])) {
			status[i] = -EFAULT;
			continue;
		}
		if (!walk_present(mm, pages[i], &pfn, &level)) {
			status[i] = -ENOENT;
			continue;
		}
		page = pfn == mm->m->zero_pfn ? NULL : zd_pfn_to_page(mm->m, pfn);
		status[i] = !page ? -EFAULT : zd_is_zone_device_page(page) ? -ENOENT :
			    zd_page_to_nid(page);
	}
	zd_mmap_read_unlock(mm);
}

long zd_move_pages(struct zd_mm *mm, unsigned long nr_pages, const uint64_t *pages,
		   const int *nodes, int *status, int flags)
{
	struct zd_machine *m = mm->m;
	struct move_batch b = { NULL, 0, status, nr_pages };
	unsigned long i, start = 0;
	int current = -1;          /* NUMA_NO_NODE: no run yet */
	long err = 0, err1;

	if (flags & ~(ZD_MPOL_MF_MOVE | ZD_MPOL_MF_MOVE_ALL)) {
		zd_pr_info(m, "move_pages: flags 0x%x: only MPOL_MF_MOVE and MPOL_MF_MOVE_ALL",
			    (unsigned)flags);
		return -EINVAL;
	}
	if (!nodes) {
		pages_stat(mm, nr_pages, pages, status);
		return 0;
	}
	b.q = calloc(nr_pages ? nr_pages : 1, sizeof(*b.q));
	if (!b.q)
		return -ENOMEM;
	for (i = 0; i < nr_pages; i++) {
		int node = nodes[i];

		if (!node_has_memory(m, node)) {
			zd_pr_info(m, "move_pages: page %lu: node %d %s", i, node,
				    node < 0 || node >= m->nr_nodes ? "does not exist" :
				    "has no memory");
			err = -ENODEV;
			goto out_flush;
		}
		if (current < 0) {
			current = node;
			start = i;
		} else if (node != current) {
			err = flush_run(m, &b, current, start, i);
			if (err)
				goto out;
			start = i;
			current = node;
		}
		/* a page that cannot be found or isolated is only its status */
		err = add_folio_for_migration(mm, pages[i], current,
					      flags & ZD_MPOL_MF_MOVE_ALL, &b.q[b.nq]);
		if (err > 0) {
			b.nq++;
			continue;
		}
		status[i] = err ? (int)err : current;
		err = flush_run(m, &b, current, start, i);
		if (err) {
			if (err > 0)
				err--;     /* page i has its status */
			goto out;
		}
		current = -1;
	}
out_flush:
	err1 = flush_run(m, &b, current, start, i);
	if (err >= 0)
		err = err1;
out:
	free(b.q);
	return err;
}
