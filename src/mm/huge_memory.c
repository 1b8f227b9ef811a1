/*
 * Huge (PMD and PUD) leaves (mm/huge_memory.c): the upper-level fault
 * path that offers an empty slot to a VMA's huge_fault handler (DAX)
 * before the PTE path, anonymous THP (PMD-sized folios on a fault, the
 * huge zero folio for reads, do_huge_pmd_wp_page, split_huge_pmd, fork's
 * copy_huge_pmd, change_huge_pmd, madvise_free_huge_pmd) and the zap of a
 * leaf.
 * Invariants: a leaf is installed only into an empty slot under its
 * table's lock; a leaf holds one reference on its folio and counts all its
 * pages in rss (a DAX leaf one _mapcount on the head, a THP one
 * _entire_mapcount, PageAnonExclusive on its head page); every THP PMD,
 * the huge zero folio's included, has a PTE table deposited with it
 * (mm->pmd_huge_pte), so a split never needs memory; a split keeps every
 * page's bytes, rights, dirty and accessed state and exclusivity, and
 * turns the PMD's reference into one per PTE. A zap takes a whole leaf
 * (walks split a THP a range covers in part before they get here).
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>
#include "base/rcu.h"

#include <errno.h>

#include <zonedev/fault-inject.h>
#include <zonedev/gfp.h>
#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>
#include <zonedev/swapops.h>

/* ---------- anonymous THP: policy, deposit, the huge zero folio ---------- */

static unsigned pmd_order(const struct zd_machine *m)
{
	return m->arch.pt[ZD_PT_PMD].shift - m->arch.page_shift;
}

static bool vma_is_anon(const struct zd_vm_area_struct *vma)
{
	return !vma->vm_ops && !vma->vm_file;
}

/* __thp_vma_allowable_orders() for the PMD order of an anonymous VMA, and
 * thp_vma_suitable_order(): the PMD-aligned block around addr lies in it. */
bool zd_thp_vma_allowable(const struct zd_vm_area_struct *vma, uint64_t addr)
{
	const struct zd_machine *m = vma->vm_mm->m;
	const struct zd_pt_geom *g = &m->arch.pt[ZD_PT_PMD];
	uint64_t size = 1ULL << g->shift, haddr = addr & ~(size - 1);

	if (!vma_is_anon(vma) || g->folded || !g->leaf || pmd_order(m) > m->arch.max_page_order ||
	    (vma->vm_flags & ZD_VM_NOHUGEPAGE))
		return false;
	if (m->thp_enabled == ZD_THP_NEVER ||
	    (m->thp_enabled == ZD_THP_MADVISE && !(vma->vm_flags & ZD_VM_HUGEPAGE)))
		return false;
	return haddr >= vma->vm_start && haddr + size <= vma->vm_end;
}

/* pgtable_trans_huge_deposit()/_withdraw(): the mm-wide list (the kernel's
 * layout without split PMD locks; any empty table serves any PMD). */
void zd_pgtable_trans_huge_deposit(struct zd_mm *mm, struct zd_page *table)
{
	zd_pt_lock(mm->pgd);
	__atomic_store_n(&table->mapping, (void *)mm->pmd_huge_pte, __ATOMIC_RELAXED);
	mm->pmd_huge_pte = table;
	zd_pt_unlock(mm->pgd);
}

struct zd_page *zd_pgtable_trans_huge_withdraw(struct zd_mm *mm)
{
	struct zd_page *table;

	zd_pt_lock(mm->pgd);
	table = mm->pmd_huge_pte;
	if (table) {
		mm->pmd_huge_pte = table->mapping;
		__atomic_store_n(&table->mapping, NULL, __ATOMIC_RELAXED);
	}
	zd_pt_unlock(mm->pgd);
	ZD_WARN(mm->m, !table, "pid %d: a THP PMD without a deposited table", mm->pid);
	return table;
}

bool zd_is_huge_zero_pfn(struct zd_machine *m, uint64_t pfn)
{
	struct zd_page *z = __atomic_load_n(&m->huge_zero_folio, __ATOMIC_ACQUIRE);
	uint64_t first;

	if (!z)
		return false;
	first = zd_page_to_pfn(m, z);
	return pfn >= first && pfn < first + (1ULL << pmd_order(m));
}

/* get_huge_zero_folio(): allocated on first use (thp_zero_page_alloc),
 * from a kernel zone, and kept until the machine goes. */
static struct zd_page *huge_zero_folio(struct zd_machine *m)
{
	struct zd_page *z = __atomic_load_n(&m->huge_zero_folio, __ATOMIC_ACQUIRE), *want = NULL;

	if (z)
		return z;
	z = zd_alloc_pages(m, ZD_GFP_KERNEL | ZD___GFP_ZERO | ZD___GFP_NOWARN, pmd_order(m));
	if (!z) {
		__atomic_add_fetch(&m->thp_zero_page_alloc_failed, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	if (!__atomic_compare_exchange_n(&m->huge_zero_folio, &want, z, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		zd_put_page(m, z);
		return want;
	}
	__atomic_add_fetch(&m->thp_zero_page_alloc, 1, __ATOMIC_RELAXED);
	return z;
}

/* A present PMD leaf that maps an anonymous THP or the huge zero folio
 * (what split_huge_pmd splits; DAX leaves are zapped instead). */
bool zd_pmd_is_thp(struct zd_mm *mm, zd_pte_t e, enum zd_pt_level level)
{
	const struct zd_arch *a = &mm->m->arch;
	uint64_t pfn;
	struct zd_page *folio;

	if (level != ZD_PT_PMD || !a->pgtable->pte_present(a, e) || a->pgtable->is_table(a, e))
		return false;
	pfn = a->pgtable->leaf_pfn(a, ZD_PT_PMD, e);
	if (zd_is_huge_zero_pfn(mm->m, pfn))
		return true;
	folio = zd_pfn_to_page(mm->m, pfn);
	return !zd_is_zone_device_page(folio) && zd_folio_test_anon(folio);
}

/* ---------- anonymous THP: fault ---------- */

static zd_pte_t mk_pmd(struct zd_mm *mm, uint64_t pfn, unsigned prot)
{
	return mm->m->arch.pgtable->mk_leaf(&mm->m->arch, ZD_PT_PMD, pfn, prot);
}

/* The leaf of a THP a write fault gets: writable where the VMA is, dirty. */
static zd_pte_t thp_entry(struct zd_vm_area_struct *vma, struct zd_page *folio)
{
	unsigned prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG | ZD_PTE_DIRTY;

	if (vma->vm_flags & ZD_VM_WRITE)
		prot |= ZD_PTE_WRITE;
	return mk_pmd(vma->vm_mm, zd_page_to_pfn(vma->vm_mm->m, folio), prot);
}

struct zd_page *zd_alloc_thp(struct zd_machine *m)
{
	/* GFP_TRANSHUGE: movable, compound, no warning when it fails; the
	 * fault point stands for a fragmented machine */
	return zd_should_fail(m, "alloc_thp") ? NULL :
		zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE | ZD___GFP_NOWARN | ZD___GFP_ZERO,
			       pmd_order(m));
}

static struct zd_page *alloc_thp(struct zd_machine *m)
{
	struct zd_page *folio = zd_alloc_thp(m);

	__atomic_add_fetch(folio ? &m->thp_fault_alloc : &m->thp_fault_fallback, 1,
			   __ATOMIC_RELAXED);
	return folio;
}

void zd_thp_map_pmd(struct zd_vm_area_struct *vma, uint64_t *slot, struct zd_page *folio,
		    uint64_t haddr)
{
	zd_folio_add_new_anon_rmap_pmd(folio, vma, haddr);
	zd_add_mm_counter(vma->vm_mm, ZD_MM_ANONPAGES, 1L << pmd_order(vma->vm_mm->m));
	vma->vm_mm->m->arch.pgtable->set_pte(slot, thp_entry(vma, folio));
}

static void map_new_thp(struct zd_vm_fault *vmf, struct zd_page *folio, uint64_t haddr)
{
	zd_thp_map_pmd(vmf->vma, vmf->pte, folio, haddr);
}

/* do_huge_pmd_anonymous_page(), vmf->pte the empty PMD slot: a read maps
 * the huge zero folio read-only (and special, as since v6.16), a write a
 * zeroed THP; no THP to be had falls back to PTEs (thp_fault_fallback). */
static unsigned do_huge_pmd_anonymous_page(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	uint64_t haddr = vmf->address & ~((1ULL << m->arch.pt[ZD_PT_PMD].shift) - 1);
	bool zero = !(vmf->flags & ZD_FAULT_FLAG_WRITE);
	struct zd_page *folio, *table;

	if (zd_anon_vma_prepare(vma))
		return ZD_VM_FAULT_OOM;
	folio = zero ? huge_zero_folio(m) : alloc_thp(m);
	if (!folio)
		return ZD_VM_FAULT_FALLBACK;
	table = zd_pagetable_alloc(mm);
	if (!table) {
		if (!zero)
			zd_put_page(m, folio);
		return ZD_VM_FAULT_OOM;
	}
	zd_pt_lock(vmf->ptl);
	if (!o->pte_none(&m->arch, o->ptep_get(vmf->pte))) {
		zd_pt_unlock(vmf->ptl);   /* another thread's fault won */
		zd_pagetable_free(mm, table);
		if (!zero)
			zd_put_page(m, folio);
		return 0;
	}
	zd_pgtable_trans_huge_deposit(mm, table);
	if (zero)
		o->set_pte(vmf->pte, mk_pmd(mm, zd_page_to_pfn(m, folio),
					    (zd_vma_pte_prot(vma->vm_flags) & ~ZD_PTE_WRITE) |
					    ZD_PTE_SPECIAL));
	else
		map_new_thp(vmf, folio, haddr);
	zd_pt_unlock(vmf->ptl);
	return 0;
}

/* __split_huge_pmd_locked() of a THP or huge zero PMD, its table locked:
 * the deposited table takes one PTE per page with the leaf's rights and
 * state (the zero folio's become the small zero page), each page its own
 * mapcount and the head's exclusivity, the folio one reference per PTE. */
bool zd_split_huge_pmd_locked(struct zd_mm *mm, uint64_t *slot)
{
	struct zd_machine *m = mm->m;
	const struct zd_arch *a = &m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t nr = 1ULL << pmd_order(m), pfn, *ptes;
	zd_pte_t e = o->ptep_get(slot);
	struct zd_page *folio = NULL, *table;
	unsigned prot = 0;
	bool zero = false, excl, dev, dwrite = false;

	dev = zd_pmd_is_device_private(mm, e, ZD_PT_PMD, &folio, &dwrite);
	if ((!dev && !zd_pmd_is_thp(mm, e, ZD_PT_PMD)) ||
	    !(table = zd_pgtable_trans_huge_withdraw(mm)))
		return false;
	/* pmdp_invalidate(): the final accessed/dirty bits, taken atomically */
	e = o->ptep_get_and_clear(slot);
	pfn = dev ? ZD_BAD_PFN : o->leaf_pfn(a, ZD_PT_PMD, e);
	if (!dev) {
		prot = o->leaf_prot(a, e);
		zero = zd_is_huge_zero_pfn(m, pfn);
		folio = zd_pfn_to_page(m, pfn);
	}
	excl = !zero && zd_test_page_flag(folio, ZD_PG_anon_exclusive);
	ptes = zd_pagetable_address(m, table);
	for (uint64_t i = 0; i < nr; i++) {
		if (zero) {
			o->set_pte(&ptes[i], o->mk_leaf(a, ZD_PT_PTE, m->zero_pfn, prot));
			continue;
		}
		__atomic_add_fetch(&folio[i]._mapcount, 1, __ATOMIC_RELAXED);
		if (excl)
			zd_set_page_flag(folio + i, ZD_PG_anon_exclusive);
		/* a device-private PMD gives the device-private PTEs of its pages */
		o->set_pte(&ptes[i], dev ? zd_make_device_private_entry(m, folio + i, dwrite) :
			   o->mk_leaf(a, ZD_PT_PTE, pfn + i, prot));
	}
	if (!zero) {
		__atomic_add_fetch(&folio[1]._large_mapcount, (int)nr - 1, __ATOMIC_RELAXED);
		if (__atomic_sub_fetch(&folio[1]._entire_mapcount, 1, __ATOMIC_ACQ_REL) < 0)
			__atomic_sub_fetch(&m->nr_anon_thps, (long)nr, __ATOMIC_RELAXED);
		__atomic_add_fetch(&folio->_refcount, (int)nr - 1, __ATOMIC_RELAXED);
	}
	o->set_pte(slot, o->mk_table(a, ZD_PT_PMD, zd_page_to_pfn(m, table) << a->page_shift));
	__atomic_add_fetch(&m->thp_split_pmd, 1, __ATOMIC_RELAXED);
	return true;
}

/* do_huge_pmd_wp_page() with the PMD locked: a write (or unshare) to a
 * read-only THP. An exclusive folio, or one with no reference but this
 * mapping's, is reused; a write to the huge zero folio gets a THP of its
 * own (do_huge_zero_wp_pmd, v6.13+); anything else splits the PMD and the
 * PTE path copies the one page (the kernel does not copy 2M on COW). */
static unsigned do_huge_pmd_wp_page(struct zd_vm_fault *vmf, zd_pte_t orig)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	uint64_t pfn = o->leaf_pfn(&m->arch, ZD_PT_PMD, orig);
	bool unshare = vmf->flags & ZD_FAULT_FLAG_UNSHARE;
	struct zd_page *folio = zd_pfn_to_page(m, pfn);

	if (zd_is_huge_zero_pfn(m, pfn)) {
		uint64_t haddr = vmf->address & ~((1ULL << m->arch.pt[ZD_PT_PMD].shift) - 1);

		zd_pt_unlock(vmf->ptl);
		if (unshare)
			return 0;   /* only anonymous folios are unshared */
		folio = alloc_thp(m);
		zd_pt_lock(vmf->ptl);
		if (o->ptep_get(vmf->pte).val != orig.val) {
			zd_pt_unlock(vmf->ptl);
			if (folio)
				zd_put_page(m, folio);
			return 0;
		}
		if (folio) {
			map_new_thp(vmf, folio, haddr);
			zd_pt_unlock(vmf->ptl);
			return 0;
		}
		zd_split_huge_pmd_locked(mm, vmf->pte);
		zd_pt_unlock(vmf->ptl);
		return ZD_VM_FAULT_FALLBACK;
	}
	if (!zd_test_page_flag(folio, ZD_PG_anon_exclusive) && zd_page_ref_count(folio) == 1)
		zd_set_page_flag(folio, ZD_PG_anon_exclusive);
	if (zd_test_page_flag(folio, ZD_PG_anon_exclusive)) {
		unsigned prot = o->leaf_prot(&m->arch, orig) | ZD_PTE_DIRTY | ZD_PTE_YOUNG;

		if (vma->vm_flags & ZD_VM_WRITE)
			prot |= ZD_PTE_WRITE;
		if (!unshare)
			o->set_pte(vmf->pte, mk_pmd(mm, pfn, prot));
		zd_pt_unlock(vmf->ptl);
		return 0;
	}
	{
		/* __split_huge_pmd(): MMU_NOTIFY_CLEAR over the PMD (here under
		 * the PMD's lock, which the kernel takes after the start) */
		uint64_t haddr = vmf->address & ~((1ULL << m->arch.pt[ZD_PT_PMD].shift) - 1);
		struct zd_mmu_notifier_range r;

		zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, mm, haddr,
				    haddr + (1ULL << m->arch.pt[ZD_PT_PMD].shift));
		zd_split_huge_pmd_locked(mm, vmf->pte);
		zd_mmu_notifier_invalidate_range_end(&r);
	}
	zd_pt_unlock(vmf->ptl);
	return ZD_VM_FAULT_FALLBACK;
}

/* A fault on a present THP PMD, its table locked: the write-protect path,
 * or what the MMU would set (a spurious fault). */
static unsigned huge_pmd_present(struct zd_vm_fault *vmf, zd_pte_t e)
{
	struct zd_mm *mm = vmf->vma->vm_mm;
	const struct zd_arch *a = &mm->m->arch;
	bool write = vmf->flags & ZD_FAULT_FLAG_WRITE;
	unsigned prot = a->pgtable->leaf_prot(a, e);

	if ((write || (vmf->flags & ZD_FAULT_FLAG_UNSHARE)) && !(prot & ZD_PTE_WRITE))
		return do_huge_pmd_wp_page(vmf, e);
	prot |= ZD_PTE_YOUNG | (write ? ZD_PTE_DIRTY : 0);
	a->pgtable->set_pte(vmf->pte, mk_pmd(mm, a->pgtable->leaf_pfn(a, ZD_PT_PMD, e), prot));
	zd_pt_unlock(vmf->ptl);
	return 0;
}

/* __handle_mm_fault()'s PMD step for an anonymous VMA. */
static unsigned anon_huge_fault(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_arch *a = &mm->m->arch;
	struct zd_page *ptl;
	uint64_t *slot = zd_huge_slot_lookup(mm, vmf->address, ZD_PT_PMD, &ptl);
	bool allowed = zd_thp_vma_allowable(vma, vmf->address);
	zd_pte_t e;

	if (!slot) {
		if (!allowed)
			return ZD_VM_FAULT_FALLBACK;
		if (!(slot = zd_huge_slot_alloc(mm, vmf->address, ZD_PT_PMD, &ptl)))
			return ZD_VM_FAULT_OOM;
	}
	vmf->pte = slot;
	vmf->ptl = ptl;
	e = a->pgtable->ptep_get(slot);
	if (a->pgtable->pte_none(a, e))
		return allowed ? do_huge_pmd_anonymous_page(vmf) : ZD_VM_FAULT_FALLBACK;
	zd_pt_lock(ptl);
	e = a->pgtable->ptep_get(slot);
	{
		struct zd_page *dfolio;

		if (zd_pmd_is_device_private(mm, e, ZD_PT_PMD, &dfolio, NULL))
			return zd_do_huge_pmd_device_private(vmf, dfolio);
	}
	if (!zd_pmd_is_thp(mm, e, ZD_PT_PMD)) {
		zd_pt_unlock(ptl);
		return ZD_VM_FAULT_FALLBACK;
	}
	return huge_pmd_present(vmf, e);
}

/* wp_huge_pmd() on a private file mapping (a MAP_PRIVATE DAX file): the
 * copy is made at the PTE level, so the read-only leaf goes (what
 * __split_huge_pmd() does to a file leaf: drop it, the PTE fault maps
 * again) and the fault falls back. */
static bool cow_huge_leaf(struct zd_vm_fault *vmf, enum zd_pt_level l, zd_pte_t e)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	const struct zd_arch *a = &vma->vm_mm->m->arch;
	uint64_t size = 1ULL << a->pt[l].shift, haddr = vmf->address & ~(size - 1);

	if (!(vmf->flags & ZD_FAULT_FLAG_WRITE) ||
	    (vma->vm_flags & ZD_VM_SHARED) || !a->pgtable->pte_present(a, e) ||
	    (a->pgtable->leaf_prot(a, e) & ZD_PTE_WRITE))
		return false;
	zd_zap_huge_leaves(vma, haddr, haddr + size);
	return true;
}

/*
 * __handle_mm_fault()'s upper levels for a VMA with a huge_fault handler
 * (DAX): an empty PUD, then PMD, slot is offered to the handler at that
 * order; a present leaf there resolves the fault (a write to a read-only
 * shared leaf makes it writable: wp_huge_pmd). FALLBACK: go on to PTEs.
 */
unsigned zd_huge_fault(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_arch *a = &mm->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	static const enum zd_pt_level levels[] = { ZD_PT_PUD, ZD_PT_PMD };

	if (vma_is_anon(vma))
		return anon_huge_fault(vmf);
	if (!vma->vm_ops || !vma->vm_ops->huge_fault)
		return ZD_VM_FAULT_FALLBACK;
	for (size_t i = 0; i < 2; i++) {
		enum zd_pt_level l = levels[i];
		struct zd_page *ptl;
		uint64_t *slot;
		zd_pte_t e;
		unsigned ret, prot;

		if (a->pt[l].folded || !a->pt[l].leaf)
			continue;
		slot = zd_huge_slot_alloc(mm, vmf->address, l, &ptl);
		if (!slot)
			return ZD_VM_FAULT_OOM;
		e = o->ptep_get(slot);
		if (o->pte_none(a, e)) {
			vmf->pte = slot;
			vmf->ptl = ptl;
			ret = vma->vm_ops->huge_fault(vmf, a->pt[l].shift - a->page_shift);
			if (!(ret & ZD_VM_FAULT_FALLBACK))
				return ret;
			continue;
		}
		if (o->is_table(a, e))
			continue;
		/* a present leaf */
		if (cow_huge_leaf(vmf, l, e))
			return ZD_VM_FAULT_FALLBACK;
		zd_pt_lock(ptl);
		e = o->ptep_get(slot);
		prot = o->leaf_prot(a, e) | ZD_PTE_YOUNG;
		if ((vmf->flags & ZD_FAULT_FLAG_WRITE) && (vma->vm_flags & ZD_VM_SHARED))
			prot |= ZD_PTE_WRITE | ZD_PTE_DIRTY;
		if (!o->pte_none(a, e) && o->pte_present(a, e))
			o->set_pte(slot, o->mk_leaf(a, l, o->leaf_pfn(a, l, e), prot));
		zd_pt_unlock(ptl);
		return 0;
	}
	return ZD_VM_FAULT_FALLBACK;
}

/* zap_huge_pmd()/zap_huge_pud() of a DAX leaf: the whole leaf goes even
 * for part of its range (a file mapping faults it back), as splitting a
 * DAX PMD does. */
int zd_zap_leaf(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level, uint64_t addr,
		    void *arg)
{
	const struct zd_arch *a = &mm->m->arch;
	zd_pte_t e = a->pgtable->ptep_get_and_clear(slot);
	struct zd_page *folio;

	if (!a->pgtable->pte_present(a, e)) {
		if (zd_pmd_is_device_private(mm, e, level, &folio, NULL))
			zd_zap_device_private_pmd(mm, folio, arg);
		return 0;
	}
	if (zd_pmd_is_thp(mm, e, level)) {
		/* zap_huge_pmd(): the deposited table goes with the PMD */
		uint64_t pfn = a->pgtable->leaf_pfn(a, level, e);

		struct zd_page *table = zd_pgtable_trans_huge_withdraw(mm);

		if (table)
			zd_tlb_remove_table(arg, table);
		if (zd_is_huge_zero_pfn(mm->m, pfn))
			return 0;
		folio = zd_pfn_to_page(mm->m, pfn);
		zd_add_mm_counter(mm, ZD_MM_ANONPAGES, -(1L << pmd_order(mm->m)));
		zd_folio_remove_rmap_pmd(mm->m, folio);
		zd_tlb_remove_page(arg, folio);
		return 0;
	}
	folio = zd_pfn_to_page(mm->m, a->pgtable->leaf_pfn(a, level, e));
	zd_add_mm_counter(mm, zd_mm_counter(folio), -(long)(1ULL << (a->pt[level].shift - a->page_shift)));
	zd_folio_remove_rmap_pte(mm->m, folio);
	zd_tlb_remove_page(arg, folio);
	return 0;
}

/* copy_huge_pmd(): the child maps the same THP (or the huge zero folio),
 * read-only in both and old in the child, with a table deposited of its
 * own. A pinned exclusive folio cannot be shared: its PMD is split so
 * that the PTE copy gives the child copies of the pinned pages. DAX
 * leaves are not copied: the child faults them in. */
int zd_copy_huge_pmd(struct zd_vm_area_struct *dst, struct zd_vm_area_struct *src,
		     uint64_t *src_slot, uint64_t addr)
{
	struct zd_mm *src_mm = src->vm_mm, *dst_mm = dst->vm_mm;
	struct zd_machine *m = src_mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	zd_pte_t e = o->ptep_get(src_slot);
	struct zd_page *table, *dst_ptl, *folio;
	uint64_t pfn, *dst_slot;
	unsigned prot;

	if (!zd_pmd_is_thp(src_mm, e, ZD_PT_PMD))
		return zd_copy_device_private_pmd(dst, src, src_slot, addr);
	pfn = o->leaf_pfn(&m->arch, ZD_PT_PMD, e);
	prot = o->leaf_prot(&m->arch, e);
	if (!(table = zd_pagetable_alloc(dst_mm)))
		return -ENOMEM;
	if (!(dst_slot = zd_huge_slot_alloc(dst_mm, addr, ZD_PT_PMD, &dst_ptl))) {
		zd_pagetable_free(dst_mm, table);
		return -ENOMEM;
	}
	if (!zd_is_huge_zero_pfn(m, pfn)) {
		folio = zd_pfn_to_page(m, pfn);
		if (zd_folio_try_dup_anon_rmap_pmd(folio)) {
			zd_pagetable_free(dst_mm, table);
			/* no deposit to split with (WARNed): fail the fork */
			return zd_split_huge_pmd_locked(src_mm, src_slot) ? ZD_WALK_AGAIN : -ENOMEM;
		}
		zd_get_page(m, folio);
		zd_add_mm_counter(dst_mm, ZD_MM_ANONPAGES, 1L << pmd_order(m));
		/* pmdp_set_wrprotect(); the child gets the bits as they are now */
		e = zd_leaf_modify_prot(src_mm, src_slot, ZD_PT_PMD, ~ZD_PTE_WRITE, 0);
		prot = o->leaf_prot(&m->arch, e) & ~ZD_PTE_WRITE;
	}
	zd_pt_lock(dst_ptl);
	zd_pgtable_trans_huge_deposit(dst_mm, table);
	o->set_pte(dst_slot, mk_pmd(dst_mm, pfn, prot & ~ZD_PTE_YOUNG));
	zd_pt_unlock(dst_ptl);
	return 0;
}

/* change_huge_pmd() for a THP, its table locked: the VMA's new rights;
 * write only for an exclusive folio (can_change_pmd_writable). */
void zd_change_huge_pmd(struct zd_vm_area_struct *vma, uint64_t *slot)
{
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_arch *a = &mm->m->arch;
	zd_pte_t e = a->pgtable->ptep_get(slot);
	uint64_t pfn = a->pgtable->leaf_pfn(a, ZD_PT_PMD, e);
	unsigned prot = zd_vma_pte_prot(vma->vm_flags) & ~ZD_PTE_WRITE;

	if ((vma->vm_flags & ZD_VM_WRITE) && !zd_is_huge_zero_pfn(mm->m, pfn) &&
	    zd_test_page_flag(zd_pfn_to_page(mm->m, pfn), ZD_PG_anon_exclusive))
		prot |= ZD_PTE_WRITE;
	zd_leaf_modify_prot(mm, slot, ZD_PT_PMD, ZD_PTE_YOUNG | ZD_PTE_DIRTY | ZD_PTE_SPECIAL, prot);
}

/* madvise_free_huge_pmd() for a whole THP: a folio only this PMD maps
 * becomes clean and old, so reclaim could drop it (lazyfree). */
int zd_madvise_free_huge_pmd(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level,
			     uint64_t addr, void *arg)
{
	const struct zd_arch *a = &mm->m->arch;
	zd_pte_t e = a->pgtable->ptep_get(slot);
	uint64_t pfn;
	struct zd_page *folio;

	if (!zd_pmd_is_thp(mm, e, level))
		return 0;
	pfn = a->pgtable->leaf_pfn(a, level, e);
	folio = zd_pfn_to_page(mm->m, pfn);
	if (zd_is_huge_zero_pfn(mm->m, pfn) || zd_folio_large_mapcount(folio) != 1)
		return 0;
	zd_leaf_modify_prot(mm, slot, ZD_PT_PMD, ~(ZD_PTE_DIRTY | ZD_PTE_YOUNG), 0);
	zd_clear_page_flag(folio, ZD_PG_dirty);
	zd_clear_page_flag(folio, ZD_PG_swapbacked);
	return 0;
}

/* move_huge_pmd(): mremap moves a THP whose whole PMD goes to a
 * PMD-aligned empty slot as it is (its deposited table is the mm's);
 * false leaves it to the PTE move, which splits it. mmap_lock is held
 * for writing. */
bool zd_move_huge_pmd(struct zd_mm *mm, uint64_t old_addr, uint64_t new_addr)
{
	const struct zd_arch *a = &mm->m->arch;
	struct zd_page *old_ptl, *new_ptl;
	uint64_t *old_slot = zd_huge_slot_lookup(mm, old_addr, ZD_PT_PMD, &old_ptl), *new_slot;
	bool moved = false;
	zd_pte_t e;

	if (!old_slot || !zd_pmd_is_splittable(mm, a->pgtable->ptep_get(old_slot), ZD_PT_PMD) ||
	    !(new_slot = zd_huge_slot_alloc(mm, new_addr, ZD_PT_PMD, &new_ptl)))
		return false;
	zd_pt_lock(old_ptl);
	if (new_ptl != old_ptl)
		zd_pt_lock(new_ptl);
	e = a->pgtable->ptep_get(old_slot);
	if (zd_pmd_is_splittable(mm, e, ZD_PT_PMD) &&
	    a->pgtable->pte_none(a, a->pgtable->ptep_get(new_slot))) {
		a->pgtable->ptep_get_and_clear(old_slot);
		a->pgtable->set_pte(new_slot, e);
		moved = true;
	}
	if (new_ptl != old_ptl)
		zd_pt_unlock(new_ptl);
	zd_pt_unlock(old_ptl);
	return moved;
}

/* Undo an unmap of pages [0, n) of folio: their migration entries map
 * them again (remove_migration_ptes onto themselves). */
static void remap_pages(struct zd_machine *m, struct zd_page *folio, uint64_t index, uint64_t n,
			struct zd_anon_vma *av)
{
	zd_remove_migration_ptes_nr(m, folio, index, n, av, folio);
}

/* __split_unmapped_folio() to order 0: a folio no table maps (all its
 * mappings are migration entries naming its pages) becomes order-0
 * pages keeping their bytes, exclusivity and index, each tail locked and
 * holding one reference before it stops being a tail (so a fault on its
 * migration entry waits); the head keeps its lock and count. A device
 * folio's pages get their pgmap word back instead of a cleared head. */
void zd_split_unmapped_folio(struct zd_machine *m, struct zd_page *folio, bool dirty)
{
	uint64_t nr = 1ULL << zd_folio_order(m, folio), index = folio->index;
	struct zd_dev_pagemap *pgmap = zd_is_zone_device_page(folio) ? folio->pgmap : NULL;
	void *mapping = folio->mapping;
	bool swapbacked = zd_test_page_flag(folio, ZD_PG_swapbacked);   /* lazyfree stays so */

	dirty |= zd_test_page_flag(folio, ZD_PG_dirty);
	/* the second page's folio words (the order shares its flag bits) are
	 * its own again before its flags are set */
	__atomic_store_n(&folio[1]._large_mapcount, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&folio[1]._entire_mapcount, 0, __ATOMIC_RELAXED);
	__atomic_store_n(zd_folio_pincount(folio), 0, __ATOMIC_RELAXED);
	zd_set_folio_order(folio, 0);
	for (uint64_t i = 1; i < nr; i++) {
		struct zd_page *p = folio + i;

		zd_set_page_flag(p, ZD_PG_locked);
		__atomic_store_n(&p->mapping, mapping, __ATOMIC_RELAXED);
		p->index = index + i;
		if (swapbacked)
			zd_set_page_flag(p, ZD_PG_swapbacked);
		if (dirty)
			zd_set_page_flag(p, ZD_PG_dirty);
		zd_set_page_count(p, 1);
		if (pgmap)
			p->zone_device_data = NULL;
		__atomic_store_n(&p->compound_head, (unsigned long)pgmap, __ATOMIC_RELEASE);
	}
	if (dirty)
		zd_set_page_flag(folio, ZD_PG_dirty);
	zd_clear_page_flag(folio, ZD_PG_head);
}

/*
 * split_folio() to order 0 (split_huge_page_to_list_to_order): every PMD
 * mapping is split, every page's PTEs become migration entries (so no
 * table names the folio and no walker can take a reference), the folio's
 * reference is frozen at the caller's one, the compound page becomes 512
 * pages that keep their bytes, exclusivity and index (each locked before
 * it stops being a tail, so a fault on its migration entry waits), and the
 * entries map them again. What no PTE maps any more (a deferred split's
 * leftovers) is freed with the tails' split references.
 */
int zd_split_folio(struct zd_machine *m, struct zd_page *folio)
{
	uint64_t nr = 1ULL << zd_folio_order(m, folio), index = folio->index, i;
	bool dirty = zd_test_page_flag(folio, ZD_PG_dirty);
	struct zd_anon_vma *av;
	int rc = 0, want = 1;

	if (nr == 1 || !zd_folio_test_anon(folio))
		return nr == 1 ? 0 : -EINVAL;
	/* can_split_folio() before anything changes: only the mappings'
	 * references and the caller's (a pin refuses with the PMDs intact) */
	if (zd_page_ref_count(folio) != zd_folio_large_mapcount(folio) + 1)
		return -EAGAIN;
	if (!(av = zd_folio_get_anon_vma(m, folio)))
		return -EAGAIN;
	zd_split_huge_pmds(m, folio, av);
	for (i = 0; i < nr && !rc; i++)
		rc = zd_try_to_migrate(m, folio + i, index + i, av);
	if (rc)
		i--;   /* the refusing page was not unmapped */
	zd_synchronize_rcu(&m->rcu);
	/* can_split_folio() and the freeze: only the caller's reference left */
	if (!rc && (zd_folio_large_mapcount(folio) ||
		    !__atomic_compare_exchange_n(&folio->_refcount, &want, 0, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
		rc = -EAGAIN;
	if (rc) {
		remap_pages(m, folio, index, i, av);
		zd_put_anon_vma(av);
		return rc;
	}
	zd_split_unmapped_folio(m, folio, dirty);   /* the tails' references go below */
	__atomic_store_n(&folio->_refcount, 1, __ATOMIC_RELEASE);
	remap_pages(m, folio, index, nr, av);
	for (i = 1; i < nr; i++) {
		zd_unlock_page(folio + i);
		zd_put_page(m, folio + i);
	}
	zd_put_anon_vma(av);
	return 0;
}

/* remove_migration_pmd()'s outcome for a THP whose PMD was split for its
 * migration (the caller knows a PMD was there): a PTE table at slot (its
 * PMD table locked) that maps the folio's pages in order with one set of
 * rights and one exclusivity becomes the PMD leaf again, the emptied table
 * its deposit; false leaves it PTE-mapped. */
bool zd_remap_thp_pmd_locked(struct zd_mm *mm, uint64_t *slot, struct zd_page *folio)
{
	struct zd_machine *m = mm->m;
	const struct zd_arch *a = &m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	const unsigned keep = ZD_PTE_RWX | ZD_PTE_USER | ZD_PTE_SPECIAL;
	uint64_t nr = 1ULL << pmd_order(m), pfn = zd_page_to_pfn(m, folio), *ptes;
	zd_pte_t e = o->ptep_get(slot);
	struct zd_page *table;
	unsigned prot0, extra = 0;
	bool excl = zd_test_page_flag(folio, ZD_PG_anon_exclusive), ok = true;

	if (!o->is_table(a, e))
		return false;
	table = zd_pt_table_page(m, e);
	ptes = zd_pagetable_address(m, table);
	zd_pt_lock(table);
	prot0 = o->leaf_prot(a, o->ptep_get(&ptes[0]));
	for (uint64_t i = 0; i < nr && ok; i++) {
		zd_pte_t p = o->ptep_get(&ptes[i]);
		unsigned prot = o->leaf_prot(a, p);

		ok = o->pte_present(a, p) && o->leaf_pfn(a, ZD_PT_PTE, p) == pfn + i &&
		     (prot & keep) == (prot0 & keep);
		extra |= prot & (ZD_PTE_DIRTY | ZD_PTE_YOUNG);
		/* a PMD keeps one exclusivity, on the head: all must agree */
		ok = ok && zd_test_page_flag(folio + i, ZD_PG_anon_exclusive) == excl;
	}
	if (ok) {
		for (uint64_t i = 0; i < nr; i++) {
			o->ptep_get_and_clear(&ptes[i]);
			__atomic_sub_fetch(&folio[i]._mapcount, 1, __ATOMIC_RELAXED);
			if (i)
				zd_clear_page_flag(folio + i, ZD_PG_anon_exclusive);
		}
		__atomic_sub_fetch(&folio[1]._large_mapcount, (int)nr - 1, __ATOMIC_RELAXED);
		if (!__atomic_add_fetch(&folio[1]._entire_mapcount, 1, __ATOMIC_ACQ_REL))
			__atomic_add_fetch(&m->nr_anon_thps, (long)nr, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&folio->_refcount, (int)nr - 1, __ATOMIC_RELAXED);
	}
	zd_pt_unlock(table);
	if (!ok)
		return false;
	zd_pgtable_trans_huge_deposit(mm, table);
	o->set_pte(slot, mk_pmd(mm, pfn, (prot0 & keep) | extra));
	return true;
}
