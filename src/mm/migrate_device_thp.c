/*
 * Device THP in migrate_vma (the 6.19 series' parts of mm/migrate_device.c,
 * kept apart from the order-0 paths of migrate_device.c): a PMD block
 * fully inside the range, with MIGRATE_VMA_SELECT_COMPOUND, is collected
 * as one MIGRATE_PFN_COMPOUND head entry followed by HPAGE_PMD_NR - 1 zero
 * slots (spec hmm.md §2, invariant 15); a destination that is not large
 * splits the unmapped source folio so its pages move one by one; a large
 * one gets the block back as one PMD.
 * The kernel installs a PMD migration entry; this model splits the PMD in
 * place and installs HPAGE_PMD_NR PTE migration entries (migrate.c's THP
 * migration does the same), and finalize turns the migrating VMA's block
 * of them into one PMD (remove_migration_pmd). Other processes' mappings
 * of the folio (fork) come back PTE-mapped.
 * Invariants: between collect and finalize no table maps a collected
 * folio (all its mappings are migration entries naming its pages); the
 * folio is locked (head) and holds collect's one reference, and the fault
 * path's if it is the fault folio.
 */
#include "internal.h"

#include <errno.h>

#include <zonedev/memremap.h>
#include <zonedev/migrate.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>

static uint64_t pmd_nr(const struct zd_machine *m)
{
	return 1ULL << (m->arch.pt[ZD_PT_PMD].shift - m->arch.page_shift);
}

/* The fault path's folio (its head is locked by the fault and it holds a
 * reference of its own), or NULL. */
struct zd_page *zd_migrate_fault_folio(const struct zd_migrate_vma *args)
{
	return args->fault_page ? zd_compound_head(args->fault_page) : NULL;
}

static bool anon_vma_of(const struct zd_vm_area_struct *vma)
{
	return !vma->vm_ops && !vma->vm_file;
}

/* The PTE table the split left at slot (its PMD lock held): every entry
 * becomes the migration entry of its page, as collect does for one PTE. */
static void ptes_to_migration_entries(struct zd_mm *mm, uint64_t *slot, struct zd_page *folio,
				      bool write)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *table = zd_pt_table_page(m, o->ptep_get(slot));
	uint64_t *ptes = zd_pagetable_address(m, table);

	zd_pt_lock(table);
	for (uint64_t j = 0; j < pmd_nr(m); j++) {
		struct zd_page *page = folio + j;
		bool excl = zd_test_page_flag(page, ZD_PG_anon_exclusive);

		o->set_pte(&ptes[j], zd_make_migration_entry(m, page, write, excl));
		zd_clear_page_flag(page, ZD_PG_anon_exclusive);
		zd_folio_remove_rmap_pte(m, page);
		zd_put_page(m, folio);   /* the mapping's; collect's keeps it */
	}
	zd_pt_unlock(table);
}

unsigned long zd_migrate_vma_collect_huge_pmd(struct zd_machine *m, struct zd_migrate_vma *args,
					      uint64_t addr, bool *unmapped)
{
	struct zd_vm_area_struct *vma = args->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	uint64_t nr = pmd_nr(m), span = nr << m->arch.page_shift;
	unsigned long i = (addr - args->start) >> m->arch.page_shift, head = 0;
	struct zd_page *ptl, *folio = NULL, *fault = zd_migrate_fault_folio(args);
	uint64_t *slot;
	bool write = false, dirty = false, selected;
	zd_pte_t e;

	if (!(args->flags & ZD_MIGRATE_VMA_SELECT_COMPOUND) || (addr & (span - 1)) ||
	    addr + span > args->end)
		return 0;
	slot = zd_huge_slot_lookup(mm, addr, ZD_PT_PMD, &ptl);
	if (slot)
		zd_pt_lock(ptl);
	e = slot ? o->ptep_get(slot) : (zd_pte_t){ 0 };
	if (slot && o->is_table(&m->arch, e)) {
		zd_pt_unlock(ptl);
		return 0;   /* PTE-mapped: collected page by page */
	}
	if (!slot || o->pte_none(&m->arch, e) ||
	    (o->pte_present(&m->arch, e) &&
	     zd_is_huge_zero_pfn(m, o->leaf_pfn(&m->arch, ZD_PT_PMD, e)))) {
		/* migrate_vma_collect_hole(): the huge zero folio counts as one */
		if (anon_vma_of(vma) && (args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM))
			head = ZD_MIGRATE_PFN_MIGRATE | ZD_MIGRATE_PFN_COMPOUND;
		goto out;
	}
	if (zd_pmd_is_thp(mm, e, ZD_PT_PMD)) {
		unsigned prot = o->leaf_prot(&m->arch, e);

		folio = zd_pfn_to_page(m, o->leaf_pfn(&m->arch, ZD_PT_PMD, e));
		selected = (args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM) && zd_folio_test_anon(folio);
		write = prot & ZD_PTE_WRITE;
		dirty = prot & ZD_PTE_DIRTY;
	} else if (zd_pmd_is_device_private(mm, e, ZD_PT_PMD, &folio, &write)) {
		selected = (args->flags & ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE) &&
			   zd_page_pgmap(m, folio)->owner == args->pgmap_owner;
	} else {
		zd_pt_unlock(ptl);
		return 0;
	}
	if (!selected || zd_folio_order(m, folio) + m->arch.page_shift != m->arch.pt[ZD_PT_PMD].shift ||
	    !zd_folio_try_get(folio))
		goto out;
	/* trylock: two migrations locking in opposite orders must not deadlock */
	if (folio != fault && !zd_trylock_page(folio)) {
		zd_put_page(m, folio);
		goto out;
	}
	/* folio_try_share_anon_rmap_pmd(): a possibly pinned exclusive folio stays */
	if ((zd_test_page_flag(folio, ZD_PG_anon_exclusive) && zd_folio_maybe_dma_pinned(folio)) ||
	    !zd_split_huge_pmd_locked(mm, slot)) {
		if (folio != fault)
			zd_unlock_page(folio);
		zd_put_page(m, folio);
		goto out;
	}
	/* the kernel installs a PMD migration entry here: no split it counts */
	__atomic_sub_fetch(&m->thp_split_pmd, 1, __ATOMIC_RELAXED);
	ptes_to_migration_entries(mm, slot, folio, write);
	if (dirty)
		zd_set_page_flag(folio, ZD_PG_dirty);
	*unmapped = true;
	head = zd_migrate_pfn_from_page(m, folio) | ZD_MIGRATE_PFN_MIGRATE |
	       ZD_MIGRATE_PFN_COMPOUND | (write ? ZD_MIGRATE_PFN_WRITE : 0);
out:
	if (slot)
		zd_pt_unlock(ptl);
	args->src[i] = head;
	for (uint64_t j = 1; j < nr; j++)
		args->src[i + j] = 0;
	return nr;
}

/* try_to_migrate() for a large folio still mapped elsewhere (a fork's
 * child): its PMDs are split, then every page's PTEs become migration
 * entries. */
void zd_migrate_unmap_folio(struct zd_machine *m, struct zd_page *folio,
			    struct zd_anon_vma *av)
{
	uint64_t nr = 1ULL << zd_folio_order(m, folio);

	zd_split_huge_pmds(m, folio, av);
	for (uint64_t j = 0; j < nr; j++)
		zd_try_to_migrate(m, folio + j, folio->index + j, av);
}

/* remove_migration_pmd(): the migrating VMA's block at addr, a PTE table
 * of folio's migration entries in order (one writability, one
 * exclusivity), becomes dst's PMD directly (dst == folio: restore), the
 * emptied table its deposit; anything else is left as it is (and stays
 * PTE-mapped through the page-by-page path). */
static void remap_block_pmd(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst,
			    struct zd_vm_area_struct *vma, uint64_t addr)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_mm *mm = vma->vm_mm;
	uint64_t nr = pmd_nr(m), *slot, *ptes;
	struct zd_page *ptl, *table, *page;
	enum zd_softleaf_type k0 = ZD_SOFTLEAF_SWAP;
	bool ok = true, write, excl;
	zd_pte_t e;

	if (!(slot = zd_huge_slot_lookup(mm, addr, ZD_PT_PMD, &ptl)))
		return;
	zd_pt_lock(ptl);
	e = o->ptep_get(slot);
	if (!o->is_table(&m->arch, e)) {
		zd_pt_unlock(ptl);
		return;
	}
	table = zd_pt_table_page(m, e);
	ptes = zd_pagetable_address(m, table);
	zd_pt_lock(table);
	for (uint64_t j = 0; j < nr && ok; j++) {
		zd_pte_t p = o->ptep_get(&ptes[j]);
		enum zd_softleaf_type k;

		ok = !o->pte_none(&m->arch, p) && !o->pte_present(&m->arch, p);
		if (!ok)
			break;
		k = zd_softleaf_from_pte(m, p, &page);
		if (!j)
			k0 = k;
		ok = zd_softleaf_is_migration(k) && k == k0 && page == folio + j;
	}
	if (ok) {
		write = zd_softleaf_is_migration_write(k0);
		excl = !zd_softleaf_is_migration_read(k0);
		for (uint64_t j = 0; j < nr; j++)
			o->ptep_get_and_clear(&ptes[j]);
		/* folio_add_anon_rmap_pmd(): one reference, one entire and
		 * one large mapping; the first PMD counts the THP and the
		 * pages no PTE maps elsewhere (a fork's may) */
		zd_get_page(m, dst);
		__atomic_add_fetch(&dst[1]._large_mapcount, 1, __ATOMIC_RELAXED);
		if (!__atomic_add_fetch(&dst[1]._entire_mapcount, 1, __ATOMIC_ACQ_REL)) {
			long unmapped = 0;

			for (uint64_t j = 0; j < nr; j++)
				unmapped += !zd_page_mapcount(dst + j);
			__atomic_add_fetch(&m->nr_anon_thps, (long)nr, __ATOMIC_RELAXED);
			__atomic_add_fetch(&m->nr_anon_mapped, unmapped, __ATOMIC_RELAXED);
		}
		if (excl)
			zd_set_page_flag(dst, ZD_PG_anon_exclusive);
	}
	zd_pt_unlock(table);
	if (ok) {
		unsigned prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG |
				(write || zd_test_page_flag(dst, ZD_PG_dirty) ? ZD_PTE_DIRTY : 0) |
				(write ? ZD_PTE_WRITE : 0);

		zd_pgtable_trans_huge_deposit(mm, table);
		o->set_pte(slot, zd_is_device_private_page(m, dst) ?
			   zd_make_device_private_pmd(m, dst, write) :
			   o->mk_leaf(&m->arch, ZD_PT_PMD, zd_page_to_pfn(m, dst), prot));
	}
	zd_pt_unlock(ptl);
}

/* remove_migration_ptes() of every page of folio onto dst's page of the
 * same index (dst == folio: restore); with a vma, the block at addr
 * becomes one PMD of dst first (a coherent device's folio has none). */
void zd_migrate_remap_folio(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst,
			    struct zd_anon_vma *av, struct zd_vm_area_struct *vma, uint64_t addr)
{
	if (vma && (zd_is_device_private_page(m, dst) || !zd_is_zone_device_page(dst)))
		remap_block_pmd(m, folio, dst, vma, addr);
	/* the rest: other processes' entries (a fork's), or a block that was
	 * not one PMD's worth of uniform entries */
	zd_remove_migration_ptes_nr(m, folio, folio->index, 1ULL << zd_folio_order(m, folio), av,
				    dst);
}

/* src[i] is a compound entry but the driver gave order-0 destinations.
 * A hole becomes HPAGE_PMD_NR holes (the huge zero folio's PMD, if that
 * was the hole, gives zero-page PTEs the inserts replace). A folio
 * (migrate_vma_split_unmapped_folio: unmapped, locked, holding collect's
 * reference and maybe the fault's) becomes order-0 pages, each locked
 * with a reference and an entry of its own; the fault's reference moves
 * to the fault page. */
void zd_migrate_split_compound(struct zd_machine *m, struct zd_migrate_vma *args, unsigned long i)
{
	struct zd_page *folio = zd_migrate_pfn_to_page(m, args->src[i]);
	struct zd_page *fault = zd_migrate_fault_folio(args);
	unsigned long keep = args->src[i] & ZD_MIGRATE_PFN_WRITE;
	uint64_t nr = pmd_nr(m);

	if (!folio) {
		struct zd_page *ptl;
		uint64_t *slot = zd_huge_slot_lookup(args->vma->vm_mm,
						     args->start + (i << m->arch.page_shift),
						     ZD_PT_PMD, &ptl);

		if (slot) {
			const struct zd_pgtable_ops *o = m->arch.pgtable;
			zd_pte_t e;

			zd_pt_lock(ptl);
			e = o->ptep_get(slot);
			if (o->pte_present(&m->arch, e) && !o->is_table(&m->arch, e) &&
			    zd_is_huge_zero_pfn(m, o->leaf_pfn(&m->arch, ZD_PT_PMD, e)))
				zd_split_huge_pmd_locked(args->vma->vm_mm, slot);
			zd_pt_unlock(ptl);
		}
		for (uint64_t j = 0; j < nr; j++)
			args->src[i + j] = ZD_MIGRATE_PFN_MIGRATE;
		return;
	}
	zd_split_unmapped_folio(m, folio, false);
	/* Every page is locked now: the fault page's lock is the fault's, the
	 * head's collect's. Only the fault's reference has to move. */
	if (folio == fault && args->fault_page != folio) {
		zd_get_page(m, args->fault_page);
		zd_put_page(m, folio);
	}
	for (uint64_t j = 0; j < nr; j++)
		args->src[i + j] = zd_migrate_pfn_from_page(m, folio + j) | ZD_MIGRATE_PFN_MIGRATE |
				   keep;
}
