/*
 * mm/migrate_device.c: migrate_vma (a driver moves a VMA range between
 * system RAM and device memory) and eviction of device pages without a VA,
 * plus do_swap_page()'s device-private branch and entry waits (memory.c
 * calls them; they live here to keep memory.c's core paths apart; the
 * entry encodings are leafops.c's).
 * Collect installs the migration entry of each selected page right away
 * (the kernel's migrate_vma_collect_pmd); unmap reaches the page's other
 * mappings through migrate.c's rmap walk (zd_try_to_migrate) and rejects a
 * page referenced beyond its collect reference (and the fault page's);
 * finalize rewrites every migration entry through zd_remove_migration_ptes.
 * Invariants: a selected page is locked (trylock, or the caller's fault
 * page) and referenced from collect to finalize; its bytes are final once
 * collect's grace period has passed (no CPU writes a page its entries no
 * longer name); a large folio moves whole only as a compound entry of a
 * whole PMD block with SELECT_COMPOUND (migrate_device_thp.c), otherwise
 * it is split first; file and shmem pages are not collected (the kernel
 * collects them and then refuses every device destination for them).
 */
#include "internal.h"
#include "base/rcu.h"

#include <errno.h>

#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/migrate.h>
#include <zonedev/mmu_notifier.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>

/* ---------- CPU faults on device-private and migration entries ---------- */

/* migration_entry_wait() / softleaf_entry_wait_on_locked(): wait for the
 * page an entry names to be unlocked, then retry the fault. No reference
 * is held while waiting (the kernel's waitqueue needs none, and one would
 * make the migration's reference check fail): the page may be freed and
 * reused meanwhile, which only ends the wait. */
void zd_entry_wait_on_locked(struct zd_vm_fault *vmf, struct zd_page *page)
{
	zd_migration_entry_wait(vmf->vma->vm_mm->m, page);
}

/* The table holding page's entry locked: the page's driver brings it back
 * (migrate_to_ram) with the page's folio locked by the core and a
 * reference held, the page passed on as migrate_vma.fault_page; vmf->pte
 * as the driver sees it (NULL: the fault came through a PMD, the whole
 * folio may go). A folio someone else has locked (a migration in
 * progress) is waited for and the fault retried. The table is unlocked
 * on return; a split during the call moves the lock and the reference to
 * the page's own folio, where they are given back. */
unsigned zd_device_private_migrate_to_ram(struct zd_vm_fault *vmf, struct zd_page *page,
					  uint64_t *driver_pte)
{
	struct zd_machine *m = vmf->vma->vm_mm->m;
	struct zd_page *folio = zd_compound_head(page);
	uint64_t *pte = vmf->pte;
	int ret;

	if (!zd_trylock_page(folio)) {
		zd_pt_unlock(vmf->ptl);
		zd_entry_wait_on_locked(vmf, folio);
		return 0;
	}
	zd_get_page(m, page);
	zd_pt_unlock(vmf->ptl);
	vmf->page = page;
	vmf->pte = driver_pte;
	ret = zd_page_pgmap(m, page)->ops->migrate_to_ram(vmf);
	vmf->pte = pte;
	vmf->page = NULL;
	zd_unlock_page(zd_compound_head(page));
	zd_put_page(m, page);
	/* vm_fault_t; a driver that answers with an errno failed */
	return ret < 0 ? ZD_VM_FAULT_SIGBUS : (unsigned)ret;
}

/* The device-private branch of do_swap_page(), for a PTE. */
unsigned zd_do_device_private_fault(struct zd_vm_fault *vmf, struct zd_page *page)
{
	zd_pt_lock(vmf->ptl);
	if (vmf->vma->vm_mm->m->arch.pgtable->ptep_get(vmf->pte).val != vmf->orig_pte.val) {
		zd_pt_unlock(vmf->ptl);
		return 0;
	}
	return zd_device_private_migrate_to_ram(vmf, page, vmf->pte);
}

void zd_restore_exclusive_pte(struct zd_vm_area_struct *vma, struct zd_page *page, uint64_t *pte)
{
	struct zd_machine *m = vma->vm_mm->m;
	unsigned prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG;

	if (zd_test_page_flag(zd_compound_head(page), ZD_PG_dirty))
		prot |= ZD_PTE_DIRTY;
	if (vma->vm_flags & ZD_VM_WRITE)   /* maybe_mkwrite(pte_mkdirty()) */
		prot |= ZD_PTE_WRITE | ZD_PTE_DIRTY;
	m->arch.pgtable->set_pte(pte, m->arch.pgtable->mk_leaf(&m->arch, ZD_PT_PTE,
							       zd_page_to_pfn(m, page), prot));
}

/* remove_device_exclusive_entry(): a CPU access takes exclusivity back;
 * MMU_NOTIFY_EXCLUSIVE with no owner tells every mirror (the device loses
 * its atomic access). A freed page means the entry is gone already: retry. */
unsigned zd_remove_device_exclusive_entry(struct zd_vm_fault *vmf, struct zd_page *page)
{
	struct zd_machine *m = vmf->vma->vm_mm->m;

	uint64_t addr = vmf->address & ~(m->arch.page_size - 1);
	struct zd_mmu_notifier_range r;

	struct zd_page *folio = zd_compound_head(page);

	if (!zd_folio_try_get(folio))   /* the folio's count: page may be a tail */
		return 0;
	zd_lock_page(folio);
	zd_mmu_notifier_range_init_owner(&r, ZD_MMU_NOTIFY_EXCLUSIVE, 0, vmf->vma->vm_mm, addr,
					 addr + m->arch.page_size, NULL);
	zd_mmu_notifier_invalidate_range_start(&r);
	zd_pt_lock(vmf->ptl);
	if (m->arch.pgtable->ptep_get(vmf->pte).val == vmf->orig_pte.val)
		zd_restore_exclusive_pte(vmf->vma, page, vmf->pte);
	zd_pt_unlock(vmf->ptl);
	zd_mmu_notifier_invalidate_range_end(&r);
	zd_unlock_page(folio);
	zd_put_page(m, folio);
	return 0;
}

/* ---------- helpers ---------- */


/* The anon_vma of a locked page whose mappings may all be migration
 * entries now (folio_get_anon_vma wants it mapped): page->mapping stays
 * while the page is locked, and a dead anon_vma has no VMAs to walk. */
static struct zd_anon_vma *locked_page_anon_vma(struct zd_machine *m, struct zd_page *page)
{
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	uintptr_t mapping = (uintptr_t)__atomic_load_n(&page->mapping, __ATOMIC_ACQUIRE);
	struct zd_anon_vma *av = (void *)(mapping & ~ZD_PAGE_MAPPING_ANON);

	if (!(mapping & ZD_PAGE_MAPPING_ANON) || !av || !zd_anon_vma_tryget(av))
		av = NULL;
	zd_rcu_read_unlock(&m->rcu, idx);
	return av;
}

/* The fault page's folio is locked by the fault path, not by us (a
 * split in between makes it the fault page alone). */
static void release_page(struct zd_machine *m, struct zd_page *page, struct zd_page *fault_page)
{
	if (!fault_page || page != zd_compound_head(fault_page))
		zd_unlock_page(page);
	zd_put_page(m, page);
}

/* Every migration entry of page maps dst again (dst == page: restore);
 * a large folio's, with args, as its VMA's PMD at addr once more. */
static void remap_page(struct zd_machine *m, struct zd_page *page, struct zd_page *dst,
		       const struct zd_migrate_vma *args, uint64_t addr)
{
	struct zd_anon_vma *av = locked_page_anon_vma(m, page);

	if (!av)
		return;
	if (zd_folio_order(m, page))
		zd_migrate_remap_folio(m, page, dst, av, args ? args->vma : NULL, addr);
	else
		zd_remove_migration_ptes(m, page, page->index, av, dst);
	zd_put_anon_vma(av);
}

static bool vma_is_anonymous(const struct zd_vm_area_struct *vma)
{
	return !vma->vm_ops && !vma->vm_file;
}

/* ---------- setup: collect ---------- */

/* migrate_vma_collect_pmd() for one PTE, its table locked: the mpfn of
 * the selected entry (its migration entry installed), or 0. */
static unsigned long collect_one(struct zd_machine *m, struct zd_migrate_vma *args,
				 uint64_t *pte, bool *unmapped, struct zd_page **split)
{
	struct zd_vm_area_struct *vma = args->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	zd_pte_t e = o->ptep_get(pte);
	struct zd_page *page;
	bool write, excl;
	unsigned prot = 0;

	if (o->pte_none(&m->arch, e))
		return vma_is_anonymous(vma) && (args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM) ?
		       ZD_MIGRATE_PFN_MIGRATE : 0;
	if (!o->pte_present(&m->arch, e)) {
		enum zd_softleaf_type k = zd_softleaf_from_pte(m, e, &page);

		if (!zd_softleaf_is_device_private(k) || !page ||
		    !(args->flags & ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE) ||
		    zd_page_pgmap(m, page)->owner != args->pgmap_owner)
			return 0;
		if (zd_compound_head(page) != page || zd_test_page_flag(page, ZD_PG_head)) {
			/* a PTE-mapped device THP: split, then walk again */
			*split = zd_compound_head(page);
			return 0;
		}
		write = k == ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE;
	} else {
		uint64_t pfn = o->leaf_pfn(&m->arch, ZD_PT_PTE, e);

		if (pfn == m->zero_pfn)
			return vma_is_anonymous(vma) && (args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM) ?
			       ZD_MIGRATE_PFN_MIGRATE : 0;
		page = zd_vm_normal_page(mm, e);
		if (!page || !zd_folio_test_anon(page))
			return 0;
		if (zd_compound_head(page) != page || zd_test_page_flag(page, ZD_PG_head)) {
			/* a PTE-mapped large folio: split, then walk again */
			*split = zd_compound_head(page);
			return 0;
		}
		if (zd_is_zone_device_page(page)) {
			if (!(args->flags & ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT) ||
			    !zd_is_device_coherent_page(m, page) ||
			    zd_page_pgmap(m, page)->owner != args->pgmap_owner)
				return 0;
		} else if (!(args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM)) {
			return 0;
		}
		prot = zd_pte_prot(mm, e);
		write = prot & ZD_PTE_WRITE;
	}
	if (!zd_folio_test_anon(page) || !zd_folio_try_get(page))
		return 0;
	/* trylock: two migrations locking in opposite orders must not deadlock */
	if (page != zd_migrate_fault_folio(args) && !zd_trylock_page(page)) {
		zd_put_page(m, page);
		return 0;
	}
	excl = zd_test_page_flag(page, ZD_PG_anon_exclusive);
	/* folio_try_share_anon_rmap_pte(): a possibly pinned exclusive page
	 * cannot be shared with a migration entry: it stays */
	if (excl && zd_folio_maybe_dma_pinned(page)) {
		release_page(m, page, args->fault_page);
		return 0;
	}
	o->set_pte(pte, zd_make_migration_entry(m, page, write, excl));
	if (prot & ZD_PTE_DIRTY)
		zd_set_page_flag(page, ZD_PG_dirty);
	zd_clear_page_flag(page, ZD_PG_anon_exclusive);
	zd_folio_remove_rmap_pte(m, page);
	zd_put_page(m, page);   /* the mapping's; collect's keeps it */
	*unmapped = true;
	return zd_migrate_pfn_from_page(m, page) | ZD_MIGRATE_PFN_MIGRATE |
	       (write ? ZD_MIGRATE_PFN_WRITE : 0);
}

/* Is addr a hole (no PMD, or an empty one), not a PMD leaf that could
 * not be split? */
static bool pmd_hole(struct zd_mm *mm, uint64_t addr)
{
	const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
	struct zd_page *ptl;
	uint64_t *pmd = zd_huge_slot_lookup(mm, addr, ZD_PT_PMD, &ptl);

	return !pmd || o->pte_none(&mm->m->arch, o->ptep_get(pmd));
}

/* migrate_vma_split_folio(): a large folio at the address is split so its
 * pages can move one by one; true if it was. The fault folio is the fault
 * path's, locked and referenced: its lock and reference move to the fault
 * page's own folio. */
static bool split_large(struct zd_machine *m, struct zd_page *folio, struct zd_page *fault_page)
{
	bool split;

	if (fault_page && folio == zd_compound_head(fault_page)) {
		if (zd_split_folio(m, folio))
			return false;
		if (fault_page != folio) {
			zd_get_page(m, fault_page);
			zd_lock_page(fault_page);
			zd_unlock_page(folio);
			zd_put_page(m, folio);
		}
		return true;
	}
	if (!zd_folio_try_get(folio))
		return false;
	if (!zd_trylock_page(folio)) {
		zd_put_page(m, folio);
		return false;
	}
	split = !zd_split_folio(m, folio);
	zd_unlock_page(folio);
	zd_put_page(m, folio);
	return split;
}

/* No PTE table at addr: a hole, or a PMD leaf (a THP to split, the huge
 * zero folio whose PMD is split into zero-page PTEs). true: walk again. */
static bool pmd_leaf_split(struct zd_machine *m, struct zd_mm *mm, uint64_t addr,
			   struct zd_page *fault_page)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *ptl, *folio = NULL;
	uint64_t *pmd = zd_huge_slot_lookup(mm, addr, ZD_PT_PMD, &ptl);
	bool again = false;
	zd_pte_t e;

	if (!pmd)
		return false;
	zd_pt_lock(ptl);
	e = o->ptep_get(pmd);
	if (o->pte_present(&m->arch, e) && !o->is_table(&m->arch, e)) {
		uint64_t pfn = o->leaf_pfn(&m->arch, ZD_PT_PMD, e);

		if (zd_is_huge_zero_pfn(m, pfn))
			again = zd_split_huge_pmd_locked(mm, pmd);
		else if (zd_pmd_is_thp(mm, e, ZD_PT_PMD))
			folio = zd_pfn_to_page(m, pfn);
	} else if (zd_pmd_is_device_private(mm, e, ZD_PT_PMD, NULL, NULL)) {
		/* a device THP not taken whole: its PTEs are walked */
		again = zd_split_huge_pmd_locked(mm, pmd);
	}
	zd_pt_unlock(ptl);
	return folio ? split_large(m, folio, fault_page) : again;
}

static void migrate_vma_collect(struct zd_machine *m, struct zd_migrate_vma *args)
{
	struct zd_mm *mm = args->vma->vm_mm;
	uint64_t psize = m->arch.page_size;
	bool unmapped = false;
	int splits = 0;
	struct zd_mmu_notifier_range r;

	/* the pgmap owner's own mirror may keep its entries (it is the one
	 * moving the pages); every other mirror of the range drops them */
	zd_mmu_notifier_range_init_owner(&r, ZD_MMU_NOTIFY_MIGRATE, 0, mm, args->start, args->end,
					 args->pgmap_owner);
	zd_mmu_notifier_invalidate_range_start(&r);
	for (uint64_t addr = args->start; addr < args->end; addr += psize) {
		unsigned long i = (addr - args->start) / psize, n;
		struct zd_page *ptl, *split = NULL;
		uint64_t *pte;

		/* a whole PMD block, as one compound entry */
		if ((n = zd_migrate_vma_collect_huge_pmd(m, args, addr, &unmapped))) {
			args->cpages += !!args->src[i];
			args->npages += n;
			addr += (n - 1) * psize;
			continue;
		}
		pte = zd_pte_offset_map_lock(mm, addr, &ptl);
		if (!pte) {   /* migrate_vma_collect_hole(), or a PMD leaf */
			if (splits < 4 && pmd_leaf_split(m, mm, addr, args->fault_page)) {
				splits++;
				addr -= psize;   /* walk this address again */
				continue;
			}
			args->src[i] = vma_is_anonymous(args->vma) &&
				       (args->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM) &&
				       pmd_hole(mm, addr) ? ZD_MIGRATE_PFN_MIGRATE : 0;
		} else {
			args->src[i] = collect_one(m, args, pte, &unmapped, &split);
			zd_pt_unlock(ptl);
			if (split && splits < 4 && split_large(m, split, args->fault_page)) {
				splits++;
				addr -= psize;
				continue;
			}
		}
		if (args->src[i])
			args->cpages++;
		args->npages++;
	}
	/* the TLB flush: CPUs that read an entry before it changed finish
	 * their access before anyone copies the page */
	if (unmapped)
		zd_synchronize_rcu(&m->rcu);
	zd_mmu_notifier_invalidate_range_end(&r);
	args->end = args->start + args->npages * psize;
}

/* ---------- unmap and the pin check ---------- */

/* migrate_vma_check_page(): references beyond collect's (and the fault
 * page's, which the fault path holds) and the mappings are pins or GUP
 * references: such a page must not move. */
static int mapped(struct zd_machine *m, struct zd_page *folio)
{
	return zd_folio_order(m, folio) ? zd_folio_large_mapcount(folio) : zd_page_mapcount(folio);
}

static bool check_page(struct zd_machine *m, struct zd_page *page, struct zd_page *fault_page)
{
	int extra = 1 + (fault_page && page == zd_compound_head(fault_page));

	return zd_page_ref_count(page) - extra <= mapped(m, page);
}

/* A collected entry goes back (args: its VMA's PMD re-formed). */
static void restore_entry(struct zd_machine *m, unsigned long *src, unsigned long i,
			  struct zd_page *fault_page, const struct zd_migrate_vma *args)
{
	struct zd_page *page = zd_migrate_pfn_to_page(m, src[i]);

	remap_page(m, page, page, args, args ? args->start + (i << m->arch.page_shift) : 0);
	src[i] = 0;
	release_page(m, page, fault_page);
}

static unsigned long migrate_device_unmap(struct zd_machine *m, unsigned long *src,
					  unsigned long npages, struct zd_page *fault_page,
					  const struct zd_migrate_vma *args)
{
	unsigned long left = 0;
	bool walked = false;

	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = zd_migrate_pfn_to_page(m, src[i]);
		struct zd_anon_vma *av;

		if (!page) {
			if (src[i] & ZD_MIGRATE_PFN_MIGRATE)
				left++;
			continue;
		}
		if (mapped(m, page) > 0) {   /* other processes (fork) */
			if ((av = locked_page_anon_vma(m, page))) {
				if (src[i] & ZD_MIGRATE_PFN_COMPOUND)
					zd_migrate_unmap_folio(m, page, av);
				else
					zd_try_to_migrate(m, page, page->index, av);
				zd_put_anon_vma(av);
			}
			walked = true;
		}
	}
	if (walked)
		zd_synchronize_rcu(&m->rcu);
	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = zd_migrate_pfn_to_page(m, src[i]);

		if (!page)
			continue;
		if (mapped(m, page) > 0 || !check_page(m, page, fault_page)) {
			restore_entry(m, src, i, fault_page, args);
			continue;
		}
		left++;
	}
	return left;
}

/* ---------- setup ---------- */

int zd_migrate_vma_setup(struct zd_machine *m, struct zd_migrate_vma *args)
{
	uint64_t mask = ~(m->arch.page_size - 1), nr;
	struct zd_vm_area_struct *vma = args->vma;
	const char *why = NULL;

	args->start &= mask;
	args->end &= mask;
	nr = args->end > args->start ? (args->end - args->start) >> m->arch.page_shift : 0;
	if (!vma)
		why = "no vma";
	else if (vma->vm_flags & (ZD_VM_IO | ZD_VM_PFNMAP | ZD_VM_MIXEDMAP))
		why = "VM_IO, VM_PFNMAP or VM_MIXEDMAP vma";
	else if (vma->vm_file && (vma->vm_file->i_flags & ZD_S_DAX))
		why = "DAX vma";
	else if (!nr)
		why = "empty range";
	else if (args->start < vma->vm_start || args->start >= vma->vm_end)
		why = "start outside the vma";
	else if (args->end <= vma->vm_start || args->end > vma->vm_end)
		why = "end outside the vma";
	else if (!args->src || !args->dst)
		why = "no src or dst array";
	else if (args->fault_page && !zd_is_device_private_page(m, args->fault_page))
		why = "fault_page is not device-private";
	else if (args->fault_page &&
		 !zd_test_page_flag(zd_compound_head(args->fault_page), ZD_PG_locked))
		why = "fault_page is not locked";
	if (why) {
		zd_pr_err(m, "migrate_vma_setup: %s [0x%llx, 0x%llx): -EINVAL", why,
			  (unsigned long long)args->start, (unsigned long long)args->end);
		return -EINVAL;
	}
	for (uint64_t i = 0; i < nr; i++)
		args->src[i] = 0;
	args->cpages = 0;
	args->npages = 0;
	migrate_vma_collect(m, args);
	if (args->cpages)
		args->cpages = migrate_device_unmap(m, args->src, args->npages, args->fault_page,
						    args);
	return 0;
}

/* ---------- pages ---------- */

/* migrate_vma_insert_page(): a hole or the zero page gets dst, if the
 * entry is still none or the zero page. */
static bool insert_page(struct zd_machine *m, struct zd_migrate_vma *args, uint64_t addr,
			struct zd_page *dst)
{
	struct zd_vm_area_struct *vma = args->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	bool write = vma->vm_flags & ZD_VM_WRITE, ok = false;
	struct zd_page *ptl;
	uint64_t *pte;
	zd_pte_t e, new;

	if (!vma_is_anonymous(vma) || zd_anon_vma_prepare(vma))
		return false;
	if (zd_is_device_private_page(m, dst))
		new = zd_make_device_private_entry(m, dst, write);
	else if (zd_is_device_coherent_page(m, dst) || !zd_is_zone_device_page(dst))
		new = o->mk_leaf(&m->arch, ZD_PT_PTE, zd_page_to_pfn(m, dst),
				 zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG |
				 (write ? ZD_PTE_WRITE | ZD_PTE_DIRTY : 0));
	else
		return false;
	pte = zd_pte_alloc_map_lock(mm, addr, &ptl);
	if (!pte)
		return false;
	e = o->ptep_get(pte);
	if (o->pte_none(&m->arch, e) ||
	    (o->pte_present(&m->arch, e) && o->leaf_pfn(&m->arch, ZD_PT_PTE, e) == m->zero_pfn)) {
		zd_folio_add_new_anon_rmap(dst, vma, addr);
		zd_add_mm_counter(mm, ZD_MM_ANONPAGES, 1);
		zd_get_page(m, dst);
		o->set_pte(pte, new);
		ok = true;
	}
	zd_pt_unlock(ptl);
	return ok;
}

static void migrate_pages_common(struct zd_machine *m, unsigned long *src, unsigned long *dst,
				 unsigned long npages, struct zd_migrate_vma *args)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = zd_migrate_pfn_to_page(m, src[i]);
		struct zd_page *newpage = zd_migrate_pfn_to_page(m, dst[i]);

		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		if (newpage && (src[i] & ZD_MIGRATE_PFN_COMPOUND) &&
		    !(dst[i] & ZD_MIGRATE_PFN_COMPOUND)) {
			/* order-0 destinations for a large source: the folio
			 * (or the hole) is taken page by page */
			if (!args) {
				src[i] &= ~(ZD_MIGRATE_PFN_MIGRATE | ZD_MIGRATE_PFN_COMPOUND);
				continue;
			}
			zd_migrate_split_compound(m, args, i);
			page = zd_migrate_pfn_to_page(m, src[i]);
		}
		if (!newpage || (!(src[i] & ZD_MIGRATE_PFN_COMPOUND) !=
				 !(dst[i] & ZD_MIGRATE_PFN_COMPOUND))) {
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (!page && (src[i] & ZD_MIGRATE_PFN_COMPOUND)) {
			if (!args || !zd_migrate_vma_insert_huge_pmd_page(args->vma, args->start + i *
								 m->arch.page_size, newpage))
				src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		if (!page) {
			if (!args || !insert_page(m, args, args->start + i * m->arch.page_size,
						  newpage))
				src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		/* a device destination takes anonymous pages only; other
		 * ZONE_DEVICE types take none */
		if (zd_is_zone_device_page(newpage) && (!zd_folio_test_anon(page) ||
		    (!zd_is_device_private_page(m, newpage) &&
		     !zd_is_device_coherent_page(m, newpage)))) {
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		/* folio_migrate_mapping() + folio_migrate_flags() */
		__atomic_store_n(&newpage->mapping, page->mapping, __ATOMIC_RELEASE);
		newpage->index = page->index;
		if (!zd_is_zone_device_page(newpage))
			zd_set_page_flag(newpage, ZD_PG_swapbacked);
		if (zd_test_page_flag(page, ZD_PG_dirty))
			zd_set_page_flag(newpage, ZD_PG_dirty);
	}
}

void zd_migrate_vma_pages(struct zd_machine *m, struct zd_migrate_vma *args)
{
	struct zd_mmu_notifier_range r;

	/* __migrate_device_pages(): filling holes changes entries too */
	zd_mmu_notifier_range_init_owner(&r, ZD_MMU_NOTIFY_MIGRATE, 0, args->vma->vm_mm,
					 args->start, args->end, args->pgmap_owner);
	zd_mmu_notifier_invalidate_range_start(&r);
	migrate_pages_common(m, args->src, args->dst, args->npages, args);
	zd_mmu_notifier_invalidate_range_end(&r);
}

void zd_migrate_device_pages(struct zd_machine *m, unsigned long *src_pfns,
			     unsigned long *dst_pfns, unsigned long npages)
{
	migrate_pages_common(m, src_pfns, dst_pfns, npages, NULL);
}

/* ---------- finalize ---------- */

/* A compound entry: its folio's entries map the large destination (or
 * the folio again) and, in the migrating VMA, a PMD does once more. */
static void finalize_folio(struct zd_machine *m, unsigned long src, unsigned long dst,
			   struct zd_page *fault_page, const struct zd_migrate_vma *args,
			   uint64_t addr)
{
	struct zd_page *folio = zd_migrate_pfn_to_page(m, src);
	struct zd_page *newfolio = zd_migrate_pfn_to_page(m, dst);
	bool moved = (src & ZD_MIGRATE_PFN_MIGRATE) && newfolio && (dst & ZD_MIGRATE_PFN_COMPOUND);

	if (newfolio && !moved) {
		zd_unlock_page(newfolio);
		zd_put_page(m, newfolio);
	}
	remap_page(m, folio, moved ? newfolio : folio, args, addr);
	if (moved)
		__atomic_store_n(&folio->mapping, NULL, __ATOMIC_RELEASE);
	release_page(m, folio, fault_page);
	if (moved) {
		zd_unlock_page(newfolio);
		zd_put_page(m, newfolio);
	}
}

static void finalize_common(struct zd_machine *m, unsigned long *src, unsigned long *dst,
			    unsigned long npages, struct zd_page *fault_page,
			    const struct zd_migrate_vma *args)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = zd_migrate_pfn_to_page(m, src[i]);
		struct zd_page *newpage = zd_migrate_pfn_to_page(m, dst[i]);

		if (page && (src[i] & ZD_MIGRATE_PFN_COMPOUND)) {
			finalize_folio(m, src[i], dst[i], fault_page, args,
				       args ? args->start + (i << m->arch.page_shift) : 0);
			continue;
		}
		if (!page) {
			if (newpage) {   /* inserted (its own reference) or unused */
				zd_unlock_page(newpage);
				zd_put_page(m, newpage);
			}
			continue;
		}
		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE) || !newpage) {
			if (newpage) {
				zd_unlock_page(newpage);
				zd_put_page(m, newpage);
			}
			newpage = page;
		}
		remap_page(m, page, newpage, NULL, 0);
		if (newpage != page)
			__atomic_store_n(&page->mapping, NULL, __ATOMIC_RELEASE);
		release_page(m, page, fault_page);
		if (newpage != page) {
			zd_unlock_page(newpage);
			zd_put_page(m, newpage);
		}
	}
}

void zd_migrate_vma_finalize(struct zd_machine *m, struct zd_migrate_vma *args)
{
	finalize_common(m, args->src, args->dst, args->npages, args->fault_page, args);
}

void zd_migrate_device_finalize(struct zd_machine *m, unsigned long *src_pfns,
				unsigned long *dst_pfns, unsigned long npages)
{
	finalize_common(m, src_pfns, dst_pfns, npages, NULL, NULL);
}

/* ---------- eviction ---------- */

/* A device folio in use, by its head (a tail's slot stays 0). */
static unsigned long collect_device_page(struct zd_machine *m, struct zd_page *page)
{
	if (!page || zd_page_is_tail(page) || !zd_folio_try_get(page))
		return 0;
	if (!zd_trylock_page(page)) {
		zd_put_page(m, page);
		return 0;
	}
	return zd_migrate_pfn_from_page(m, page) | ZD_MIGRATE_PFN_MIGRATE |
	       (zd_folio_order(m, page) ? ZD_MIGRATE_PFN_COMPOUND : 0);
}

int zd_migrate_device_range(struct zd_machine *m, unsigned long *src_pfns, uint64_t start,
			    unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = m->device_private == ZD_DEVICE_PRIVATE_DPA ?
			zd_device_private_offset_to_page(m, start + i) :
			(start + i < m->vmemmap_end_pfn ? zd_pfn_to_page(m, start + i) : NULL);

		src_pfns[i] = collect_device_page(m, page);
	}
	migrate_device_unmap(m, src_pfns, npages, NULL, NULL);
	return 0;
}

int zd_migrate_device_pfns(struct zd_machine *m, unsigned long *src_pfns, unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++)
		src_pfns[i] = collect_device_page(m, zd_migrate_pfn_to_page(m, src_pfns[i]));
	migrate_device_unmap(m, src_pfns, npages, NULL, NULL);
	return 0;
}
