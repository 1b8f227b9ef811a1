/*
 * Page tables and faults (mm/memory.c): the walks that install tables
 * (__pud_alloc/__pmd_alloc/__pte_alloc, pte_offset_map_lock,
 * free_pgtables), handle_mm_fault's PTE paths (do_anonymous_page with the
 * zero page, do_wp_page/wp_page_copy with PageAnonExclusive's reuse rule,
 * do_fault through vm_ops->fault, do_swap_page for migration entries),
 * the zap of a range, and fork's copy_page_range.
 * Invariants: a table is installed under its parent table's split lock
 * and only into an empty slot (a racing installer's table is freed
 * unseen); a table is unhooked only under mmap_lock for writing, when no
 * VMA covers any address it maps, and freed through an mmu_gather; an mm
 * has its PGD from zd_mm_alloc() to zd_mmput(), counted in PageTables as
 * since v6.14, not in VmPTE; every mapped page holds one reference and one
 * mapcount per entry, dropped only after the gather's grace period; an
 * entry changes only under its table's lock, except the MMU's
 * accessed/dirty cmpxchg (fault.c).
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>
#include "base/rcu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/gfp.h>
#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>
#include <zonedev/swapops.h>

/* Walk to the PTE table of addr; alloc: install what is missing. */
/* The table holding addr's entry at level stop (PTE: the PTE table). */
static struct zd_page *walk_to(struct zd_mm *mm, uint64_t addr, bool alloc, int stop)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *table = mm->pgd;

	for (int l = ZD_PT_PGD; l < stop; l = zd_pt_next_level(&m->arch, l)) {
		uint64_t *p = zd_pt_slot(m, table, l, addr);
		zd_pte_t e = o->ptep_get(p);

		if (o->pte_none(&m->arch, e)) {
			struct zd_page *fresh;

			if (!alloc || !(fresh = zd_pagetable_alloc(mm)))
				return NULL;
			zd_pt_lock(table);
			e = o->ptep_get(p);
			if (o->pte_none(&m->arch, e)) {
				e = o->mk_table(&m->arch, (enum zd_pt_level)l, zd_page_to_pfn(m, fresh)
						<< m->arch.page_shift);
				o->set_pte(p, e);
				fresh = NULL;
			}
			zd_pt_unlock(table);
			if (fresh)
				zd_pagetable_free(mm, fresh);   /* another thread won */
		}
		if (!o->is_table(&m->arch, e))
			return NULL;   /* a huge leaf: no PTE table below it */
		table = zd_pt_table_page(m, e);
	}
	return table;
}

static struct zd_page *walk(struct zd_mm *mm, uint64_t addr, bool alloc)
{
	return walk_to(mm, addr, alloc, ZD_PT_PTE);
}

static uint64_t *huge_slot(struct zd_mm *mm, uint64_t addr, enum zd_pt_level level,
			   struct zd_page **ptl, bool alloc)
{
	struct zd_page *table = walk_to(mm, addr, alloc, level);

	if (!table)
		return NULL;
	*ptl = table;
	return zd_pt_slot(mm->m, table, level, addr);
}

uint64_t *zd_huge_slot_alloc(struct zd_mm *mm, uint64_t addr, enum zd_pt_level level,
			     struct zd_page **ptl)
{
	return huge_slot(mm, addr, level, ptl, true);
}

uint64_t *zd_huge_slot_lookup(struct zd_mm *mm, uint64_t addr, enum zd_pt_level level,
			      struct zd_page **ptl)
{
	return huge_slot(mm, addr, level, ptl, false);
}

static uint64_t *map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl, bool alloc)
{
	struct zd_page *pte_table = walk(mm, addr, alloc);

	if (!pte_table)
		return NULL;
	zd_pt_lock(pte_table);
	*ptl = pte_table;
	return zd_pt_slot(mm->m, pte_table, ZD_PT_PTE, addr);
}

uint64_t *zd_pte_offset_map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl)
{
	return map_lock(mm, addr, ptl, false);
}

uint64_t *zd_pte_alloc_map_lock(struct zd_mm *mm, uint64_t addr, struct zd_page **ptl)
{
	return map_lock(mm, addr, ptl, true);
}

int zd_pgd_alloc(struct zd_mm *mm)
{
	mm->pgd = zd_pagetable_alloc(mm);
	if (!mm->pgd)
		return -ENOMEM;
	/* the PGD is in PageTables but not in VmPTE (mm_pgtables_bytes) */
	__atomic_sub_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
	return 0;
}

static bool table_empty(struct zd_machine *m, struct zd_page *table)
{
	const uint64_t *e = zd_pagetable_address(m, table);

	for (uint64_t i = 0; i < m->arch.page_size / sizeof(*e); i++)
		if (__atomic_load_n(&e[i], __ATOMIC_RELAXED))
			return false;
	return true;
}

/* The tables below table (at level) for [addr, end) whose whole span lies
 * in [floor, ceiling - 1] and that hold nothing any more go to tlb. */
static void free_level(struct zd_mmu_gather *tlb, struct zd_page *table, int level, uint64_t addr,
		       uint64_t end, uint64_t floor, uint64_t ceiling)
{
	struct zd_machine *m = tlb->mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	const struct zd_pt_geom *g = &m->arch.pt[level];
	uint64_t span = 1ULL << g->shift;

	for (uint64_t a = addr & ~(span - 1); a < end && a >= (addr & ~(span - 1)); a += span) {
		uint64_t *p = zd_pt_slot(m, table, level, a);
		zd_pte_t e = o->ptep_get(p);
		struct zd_page *child;

		if (!o->is_table(&m->arch, e))
			continue;
		child = zd_pt_table_page(m, e);
		if (zd_pt_next_level(&m->arch, level) < ZD_PT_PTE)
			free_level(tlb, child, zd_pt_next_level(&m->arch, level), a > addr ? a : addr,
				   end < a + span ? end : a + span, floor, ceiling);
		if (a < floor || a + span - 1 > ceiling - 1 || !table_empty(m, child))
			continue;
		o->ptep_get_and_clear(p);
		zd_tlb_remove_table(tlb, child);
	}
}

void zd_free_pgtables(struct zd_mm *mm, uint64_t start, uint64_t end, uint64_t floor,
		      uint64_t ceiling)
{
	struct zd_mmu_gather tlb;

	zd_tlb_gather_mmu(&tlb, mm);
	free_level(&tlb, mm->pgd, ZD_PT_PGD, start, end, floor, ceiling);
	zd_tlb_finish_mmu(&tlb);
}

void zd_pgd_free(struct zd_mm *mm)
{
	struct zd_mmu_gather tlb;

	zd_free_pgtables(mm, 0, mm->task_size, 0, 0);
	/* Only empty tables are freed; one left means an entry was never zapped. */
	ZD_WARN(mm->m, !table_empty(mm->m, mm->pgd), "pgd of pid %d still points at tables at exit",
		mm->pid);
	ZD_WARN(mm->m, mm->pmd_huge_pte, "pid %d exits with deposited THP tables", mm->pid);
	zd_tlb_gather_mmu(&tlb, mm);
	__atomic_add_fetch(&mm->pgtables_bytes, (long)mm->m->arch.page_size, __ATOMIC_RELAXED);
	zd_tlb_remove_table(&tlb, mm->pgd);
	zd_tlb_finish_mmu(&tlb);
	mm->pgd = NULL;
}

/* ---------- entries ---------- */

/* vm_get_page_prot(): a private mapping's entries never carry write
 * (its first write copies, do_wp_page); x86 adds read to write-only. */
unsigned zd_vma_pte_prot(uint64_t vm_flags)
{
	unsigned p = ZD_PTE_USER;

	if (vm_flags & ZD_VM_READ)
		p |= ZD_PTE_READ;
	if (vm_flags & ZD_VM_EXEC)
		p |= ZD_PTE_EXEC;
	if ((vm_flags & (ZD_VM_WRITE | ZD_VM_SHARED)) == (ZD_VM_WRITE | ZD_VM_SHARED))
		p |= ZD_PTE_WRITE;
	return p;
}

static const struct zd_pgtable_ops *pt_ops(const struct zd_mm *mm)
{
	return mm->m->arch.pgtable;
}

static zd_pte_t mk_pte(struct zd_mm *mm, uint64_t pfn, unsigned prot)
{
	return pt_ops(mm)->mk_leaf(&mm->m->arch, ZD_PT_PTE, pfn, prot);
}

unsigned zd_pte_prot(struct zd_mm *mm, zd_pte_t e)
{
	return pt_ops(mm)->leaf_prot(&mm->m->arch, e);
}

static uint64_t pte_pfn(struct zd_mm *mm, zd_pte_t e)
{
	return pt_ops(mm)->leaf_pfn(&mm->m->arch, ZD_PT_PTE, e);
}

zd_pte_t zd_pte_reprot(struct zd_mm *mm, zd_pte_t e, unsigned prot)
{
	return mk_pte(mm, pte_pfn(mm, e), prot);
}

struct zd_page *zd_vm_normal_page(struct zd_mm *mm, zd_pte_t pte)
{
	uint64_t pfn;

	if (zd_pte_prot(mm, pte) & ZD_PTE_SPECIAL)
		return NULL;
	pfn = pte_pfn(mm, pte);
	if (pfn == mm->m->zero_pfn)
		return NULL;
	return zd_pfn_to_page(mm->m, pfn);
}

void zd_add_mm_counter(struct zd_mm *mm, int member, long value)
{
	__atomic_add_fetch(&mm->rss_stat[member], value, __ATOMIC_RELAXED);
}

int zd_mm_counter(struct zd_page *page)
{
	if (zd_folio_test_anon(page))
		return ZD_MM_ANONPAGES;
	return zd_test_page_flag(page, ZD_PG_swapbacked) ? ZD_MM_SHMEMPAGES : ZD_MM_FILEPAGES;
}

void *zd_pfn_kaddr(struct zd_machine *m, uint64_t pfn)
{
	struct zd_page *page = zd_pfn_to_page(m, pfn);

	if (zd_is_zone_device_page(page))
		return zd_device_page_address(m, page);
	return zd_pfn_address(m, pfn);
}

static bool pte_same(zd_pte_t a, zd_pte_t b)
{
	return a.val == b.val;
}

static void fault_lock(struct zd_vm_fault *vmf)
{
	zd_pt_lock(vmf->ptl);
}

static void fault_unlock(struct zd_vm_fault *vmf)
{
	zd_pt_unlock(vmf->ptl);
}

/* ---------- faults ---------- */

static bool vma_is_anonymous(const struct zd_vm_area_struct *vma)
{
	return !vma->vm_ops && !vma->vm_file;
}

static struct zd_page *alloc_user_page(struct zd_machine *m, bool zero)
{
	return zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE | ZD___GFP_NOWARN |
			      (zero ? ZD___GFP_ZERO : 0), 0);
}

/* A new anonymous page for a writable private entry (maybe_mkwrite); an
 * unshare (a read-only pin's private copy) maps it read-only and clean. */
static zd_pte_t anon_entry(struct zd_vm_fault *vmf, struct zd_page *page)
{
	const struct zd_vm_area_struct *vma = vmf->vma;
	unsigned prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG;

	if (!(vmf->flags & ZD_FAULT_FLAG_UNSHARE))
		prot |= ZD_PTE_DIRTY | (vma->vm_flags & ZD_VM_WRITE ? ZD_PTE_WRITE : 0);
	return mk_pte(vma->vm_mm, zd_page_to_pfn(vma->vm_mm->m, page), prot);
}

/* do_anonymous_page(): a read maps the shared zero page read-only and
 * special; a write gets a zeroed page of its own, exclusively mapped. */
static unsigned do_anonymous_page(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_pgtable_ops *o = pt_ops(mm);
	struct zd_page *page;
	zd_pte_t entry;

	if (!(vmf->flags & ZD_FAULT_FLAG_WRITE)) {
		entry = mk_pte(mm, mm->m->zero_pfn, (zd_vma_pte_prot(vma->vm_flags) & ~ZD_PTE_WRITE) |
			       ZD_PTE_SPECIAL);
		fault_lock(vmf);
		if (o->pte_none(&mm->m->arch, o->ptep_get(vmf->pte)))
			o->set_pte(vmf->pte, entry);
		fault_unlock(vmf);
		return 0;
	}
	if (zd_anon_vma_prepare(vma))
		return ZD_VM_FAULT_OOM;
	page = alloc_user_page(mm->m, true);
	if (!page)
		return ZD_VM_FAULT_OOM;
	entry = anon_entry(vmf, page);
	fault_lock(vmf);
	if (!o->pte_none(&mm->m->arch, o->ptep_get(vmf->pte))) {
		fault_unlock(vmf);   /* another thread's fault won */
		zd_put_page(mm->m, page);
		return 0;
	}
	zd_folio_add_new_anon_rmap(page, vma, vmf->address);
	zd_add_mm_counter(mm, ZD_MM_ANONPAGES, 1);
	o->set_pte(vmf->pte, entry);
	fault_unlock(vmf);
	return 0;
}

/* wp_page_copy(): the faulting process gets its own copy of old (NULL:
 * the zero page), which it maps writable; a mapped old loses the mapping
 * (do_cow_fault's old is the file's page, not mapped here). One reference
 * on old is the caller's and goes here. */
static unsigned wp_page_copy(struct zd_vm_fault *vmf, struct zd_page *old, bool mapped)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = pt_ops(mm);
	struct zd_page *page = NULL;
	struct zd_mmu_notifier_range r;
	unsigned ret = 0;
	/* the kernel's do_cow_fault (old, not mapped) fires none */
	bool notify = mapped || !old;

	if (notify)   /* wp_page_copy(): MMU_NOTIFY_CLEAR over the page */
		zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, mm, vmf->address,
				    vmf->address + m->arch.page_size);
	if (zd_anon_vma_prepare(vma) || !(page = alloc_user_page(m, !old))) {
		ret = ZD_VM_FAULT_OOM;
		goto out;
	}
	if (old)
		memcpy(zd_pfn_address(m, zd_page_to_pfn(m, page)),
		       zd_pfn_kaddr(m, zd_page_to_pfn(m, old)), m->arch.page_size);
	fault_lock(vmf);
	if (!pte_same(o->ptep_get(vmf->pte), vmf->orig_pte)) {
		fault_unlock(vmf);   /* changed meanwhile: the retry will see it */
		zd_put_page(m, page);
		goto out;
	}
	if (old && mapped) {
		zd_add_mm_counter(mm, zd_mm_counter(old), -1);
		zd_folio_remove_rmap_pte(m, old);
	}
	zd_add_mm_counter(mm, ZD_MM_ANONPAGES, 1);
	zd_folio_add_new_anon_rmap(page, vma, vmf->address);
	o->set_pte(vmf->pte, anon_entry(vmf, page));
	fault_unlock(vmf);
	if (old && mapped) {
		/* the entry's reference, after the TLB flush (a grace period):
		 * another CPU may still be reading through the old entry */
		struct zd_mmu_gather tlb;

		zd_tlb_gather_mmu(&tlb, mm);
		zd_tlb_remove_page(&tlb, old);
		zd_tlb_finish_mmu(&tlb);
	}
out:
	if (notify)
		zd_mmu_notifier_invalidate_range_end(&r);
	if (old)
		zd_put_page(m, old);   /* ours */
	return ret;
}

/* do_wp_page(), entered with the PTE locked: a write to a present entry
 * without write permission. An exclusive anonymous page, or one nobody
 * else holds (wp_can_reuse_anon_folio: one reference, one mapping), is
 * reused in place; a shared page of a shared mapping becomes writable;
 * anything else is copied. */
static unsigned do_wp_page(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	struct zd_page *page = zd_vm_normal_page(mm, vmf->orig_pte);
	bool unshare = vmf->flags & ZD_FAULT_FLAG_UNSHARE;
	unsigned prot = zd_pte_prot(mm, vmf->orig_pte) | ZD_PTE_DIRTY | ZD_PTE_YOUNG;

	if (vma->vm_flags & ZD_VM_WRITE)
		prot |= ZD_PTE_WRITE;   /* maybe_mkwrite(): a FOLL_FORCE write stays read-only */
	if (unshare && (!page || !zd_folio_test_anon(page))) {
		fault_unlock(vmf);   /* only anonymous pages are ever unshared */
		return 0;
	}
	if (page && zd_folio_test_anon(page)) {
		if (!zd_test_page_flag(page, ZD_PG_anon_exclusive) &&
		    zd_page_ref_count(zd_compound_head(page)) == 1 && zd_page_mapcount(page) == 1)
			zd_set_page_flag(page, ZD_PG_anon_exclusive);
		if (zd_test_page_flag(page, ZD_PG_anon_exclusive)) {
			if (!unshare)
				pt_ops(mm)->set_pte(vmf->pte, zd_pte_reprot(mm, vmf->orig_pte, prot));
			fault_unlock(vmf);
			return 0;
		}
	} else if (page && (vma->vm_flags & ZD_VM_SHARED)) {
		pt_ops(mm)->set_pte(vmf->pte, zd_pte_reprot(mm, vmf->orig_pte, prot));
		fault_unlock(vmf);
		return 0;
	}
	if (page)
		zd_get_page(mm->m, page);
	fault_unlock(vmf);
	return wp_page_copy(vmf, page, page != NULL);
}

/* do_fault(): the VMA's object supplies the page (->fault); a private
 * write copies it (do_cow_fault), anything else maps it. */
static unsigned do_fault(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_pgtable_ops *o = pt_ops(mm);
	bool write = vmf->flags & ZD_FAULT_FLAG_WRITE;
	unsigned ret, prot;

	if (!vma->vm_ops || !vma->vm_ops->fault) {
		zd_pr_err(mm->m, "pid %d: fault at 0x%llx: the mapping has no pages (SIGBUS)",
			  mm->pid, (unsigned long long)vmf->real_address);
		return ZD_VM_FAULT_SIGBUS;
	}
	vmf->page = NULL;
	ret = vma->vm_ops->fault(vmf);
	if ((ret & (ZD_VM_FAULT_ERROR | ZD_VM_FAULT_NOPAGE | ZD_VM_FAULT_RETRY)) || !vmf->page)
		return ret;
	if (write && !(vma->vm_flags & ZD_VM_SHARED)) {
		/* do_cow_fault(): copy as from a present read-only entry */
		vmf->orig_pte = o->ptep_get(vmf->pte);
		if (!o->pte_none(&mm->m->arch, vmf->orig_pte)) {
			zd_put_page(mm->m, vmf->page);
			return 0;
		}
		return wp_page_copy(vmf, vmf->page, false) | ret;
	}
	prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG;
	if (write)
		prot |= ZD_PTE_DIRTY;
	fault_lock(vmf);
	if (!o->pte_none(&mm->m->arch, o->ptep_get(vmf->pte))) {
		fault_unlock(vmf);
		zd_put_page(mm->m, vmf->page);
		return ret;
	}
	zd_folio_add_file_rmap(mm->m, vmf->page);
	zd_add_mm_counter(mm, zd_mm_counter(vmf->page), 1);
	o->set_pte(vmf->pte, mk_pte(mm, zd_page_to_pfn(mm->m, vmf->page), prot));
	fault_unlock(vmf);
	return ret;
}

/* do_swap_page(): there is no swap device; a migration entry waits for
 * its migration and retries, a device-private entry asks its driver, a
 * hwpoison entry is SIGBUS (HWPOISON), and anything else is a bad entry
 * (print_bad_pte). */
static unsigned do_swap_page(struct zd_vm_fault *vmf)
{
	struct zd_mm *mm = vmf->vma->vm_mm;
	const struct zd_arch *a = &mm->m->arch;
	struct zd_page *page;
	enum zd_softleaf_type k = zd_softleaf_from_pte(mm->m, vmf->orig_pte, &page);

	if (zd_softleaf_is_migration(k) && page) {
		zd_entry_wait_on_locked(vmf, page);
		return 0;
	}
	if (zd_softleaf_is_device_private(k) && page)
		return zd_do_device_private_fault(vmf, page);
	if (k == ZD_SOFTLEAF_DEVICE_EXCLUSIVE && page)
		return zd_remove_device_exclusive_entry(vmf, page);
	if (k == ZD_SOFTLEAF_HWPOISON)
		return ZD_VM_FAULT_HWPOISON;
	ZD_WARN(mm->m, true, "pid %d: bad entry type %u offset 0x%llx at 0x%llx", mm->pid,
		pt_ops(mm)->swp_type(a, vmf->orig_pte),
		(unsigned long long)pt_ops(mm)->swp_offset(a, vmf->orig_pte),
		(unsigned long long)vmf->address);
	return ZD_VM_FAULT_SIGBUS;
}

static unsigned handle_pte_fault(struct zd_vm_fault *vmf)
{
	struct zd_mm *mm = vmf->vma->vm_mm;
	const struct zd_pgtable_ops *o = pt_ops(mm);
	bool write = vmf->flags & ZD_FAULT_FLAG_WRITE;
	unsigned prot;

	vmf->pte = zd_pte_alloc_map_lock(mm, vmf->address, &vmf->ptl);
	if (!vmf->pte)
		return ZD_VM_FAULT_OOM;
	vmf->orig_pte = o->ptep_get(vmf->pte);
	if (o->pte_none(&mm->m->arch, vmf->orig_pte)) {
		fault_unlock(vmf);
		return vma_is_anonymous(vmf->vma) ? do_anonymous_page(vmf) : do_fault(vmf);
	}
	if (!o->pte_present(&mm->m->arch, vmf->orig_pte)) {
		fault_unlock(vmf);
		return do_swap_page(vmf);
	}
	prot = zd_pte_prot(mm, vmf->orig_pte);
	if ((write || (vmf->flags & ZD_FAULT_FLAG_UNSHARE)) && !(prot & ZD_PTE_WRITE))
		return do_wp_page(vmf);
	/* present and allowed: a spurious fault; what the MMU would set */
	prot |= ZD_PTE_YOUNG | (write ? ZD_PTE_DIRTY : 0);
	if (prot != zd_pte_prot(mm, vmf->orig_pte))
		o->set_pte(vmf->pte, zd_pte_reprot(mm, vmf->orig_pte, prot));
	fault_unlock(vmf);
	return 0;
}

unsigned zd_handle_mm_fault(struct zd_vm_area_struct *vma, uint64_t address, unsigned flags)
{
	struct zd_mm *mm = vma->vm_mm;
	uint64_t page = address & ~(mm->m->arch.page_size - 1);
	struct zd_vm_fault vmf = {
		.vma = vma, .real_address = address, .address = page, .flags = flags,
		.pgoff = zd_linear_page_index(vma, page),
	};
	unsigned ret;

	__atomic_add_fetch(&mm->m->pgfault, 1, __ATOMIC_RELAXED);
	ret = zd_huge_fault(&vmf);
	if (ret & ZD_VM_FAULT_FALLBACK)
		ret = handle_pte_fault(&vmf);
	/* mm_account_fault(): only faults that completed count */
	if (!(ret & (ZD_VM_FAULT_ERROR | ZD_VM_FAULT_RETRY)))
		__atomic_add_fetch(ret & ZD_VM_FAULT_MAJOR ? &mm->maj_flt : &mm->min_flt, 1,
				   __ATOMIC_RELAXED);
	return ret;
}

/* ---------- zap, fork, mprotect, mremap ---------- */

static int zap_one(struct zd_mm *mm, uint64_t *pte, uint64_t addr, void *arg)
{
	struct zd_mmu_gather *tlb = arg;
	const struct zd_pgtable_ops *o = pt_ops(mm);
	zd_pte_t e = o->ptep_get_and_clear(pte);
	struct zd_page *page;

	if (!o->pte_present(&mm->m->arch, e)) {
		/* zap_nonpresent_ptes(): a migration entry counts as its page,
		 * whose reference the migration holds; a device-private entry
		 * is a mapping with a reference, and the last put hands the
		 * page back to its driver (folio_free) */
		enum zd_softleaf_type k = zd_softleaf_from_pte(mm->m, e, &page);

		if (zd_softleaf_is_migration(k) && page)
			zd_add_mm_counter(mm, zd_mm_counter(page), -1);
		if ((zd_softleaf_is_device_private(k) || k == ZD_SOFTLEAF_DEVICE_EXCLUSIVE) && page) {
			zd_add_mm_counter(mm, zd_mm_counter(page), -1);
			zd_folio_remove_rmap_pte(mm->m, page);
			zd_put_page(mm->m, page);
		}
		return 0;
	}
	page = zd_vm_normal_page(mm, e);
	if (!page)
		return 0;
	zd_add_mm_counter(mm, zd_mm_counter(page), -1);
	zd_folio_remove_rmap_pte(mm->m, page);
	zd_tlb_remove_page(tlb, page);
	return 0;
}

static int no_pte(struct zd_mm *mm, uint64_t *pte, uint64_t addr, void *arg)
{
	return 0;
}

/* mremap's drop of DAX leaves; a THP is split by the move's walk instead. */
static int zap_dax_leaf(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level, uint64_t addr,
			void *arg)
{
	if (zd_pmd_is_splittable(mm, mm->m->arch.pgtable->ptep_get(slot), level))
		return 0;
	return zd_zap_leaf(mm, slot, level, addr, arg);
}

static void zap_walk(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end, zd_pte_fn fn,
		     zd_leaf_fn leaf_fn)
{
	struct zd_mmu_gather tlb;

	zd_tlb_gather_mmu(&tlb, vma->vm_mm);
	zd_walk_range(vma->vm_mm, start, end, fn, leaf_fn, &tlb);
	zd_tlb_finish_mmu(&tlb);
}

/* zap_page_range_single(): MMU_NOTIFY_CLEAR over the range. */
void zd_zap_page_range(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end)
{
	struct zd_mmu_notifier_range r;

	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, vma->vm_mm, start, end);
	zap_walk(vma, start, end, zap_one, zd_zap_leaf);
	zd_mmu_notifier_invalidate_range_end(&r);
}

/* unmap_vmas()' zap: the caller brackets the whole span with UNMAP. */
void zd_unmap_page_range(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end)
{
	zap_walk(vma, start, end, zap_one, zd_zap_leaf);
}

void zd_zap_huge_leaves(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end)
{
	zap_walk(vma, start, end, no_pte, zap_dax_leaf);
}

struct copy_arg {
	struct zd_vm_area_struct *dst, *src;
	int err;
};

/* copy_nonpresent_pte() for migration and device-private entries: in a
 * COW mapping a write (or exclusive) migration entry becomes a plain read
 * entry in both, and a writable device-private entry a readable one (the
 * page is shared now: a write must fault it back and copy). */
static int copy_nonpresent(struct copy_arg *c, struct zd_mm *src_mm, uint64_t *src_pte,
			   uint64_t addr, zd_pte_t e, bool cow)
{
	struct zd_machine *m = src_mm->m;
	const struct zd_pgtable_ops *o = pt_ops(src_mm);
	struct zd_page *ptl, *page;
	enum zd_softleaf_type k = zd_softleaf_from_pte(m, e, &page);
	uint64_t *dst_pte;

	if (k == ZD_SOFTLEAF_DEVICE_EXCLUSIVE && page) {
		/* try_restore_exclusive_pte(): copied as the present PTE again */
		if (!zd_trylock_page(zd_compound_head(page))) {
			c->err = -EBUSY;
			return 1;
		}
		zd_restore_exclusive_pte(c->src, page, src_pte);
		zd_unlock_page(zd_compound_head(page));
		return 2;
	}
	if (!page || (!zd_softleaf_is_migration(k) && !zd_softleaf_is_device_private(k)))
		return 0;
	if (zd_softleaf_is_migration(k) && cow && !zd_softleaf_is_migration_read(k)) {
		e = zd_make_migration_entry(m, page, false, false);
		o->set_pte(src_pte, e);
	}
	if (zd_softleaf_is_device_private(k)) {
		if (cow && k == ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE) {
			e = zd_make_device_private_entry(m, page, false);
			o->set_pte(src_pte, e);
		}
		zd_get_page(m, page);
		/* cannot fail: device-private pages are never pinned */
		zd_folio_try_dup_anon_rmap_pte(page);
	}
	dst_pte = zd_pte_alloc_map_lock(c->dst->vm_mm, addr, &ptl);
	if (!dst_pte) {
		if (zd_softleaf_is_device_private(k)) {
			zd_folio_remove_rmap_pte(m, page);
			zd_put_page(m, page);
		}
		c->err = -ENOMEM;
		return 1;
	}
	zd_add_mm_counter(c->dst->vm_mm, zd_mm_counter(page), 1);
	o->set_pte(dst_pte, e);
	zd_pt_unlock(ptl);
	return 0;
}

/* copy_present_pte(): the child maps what the parent maps. A private
 * writable mapping's pages become COW in both; a pinned exclusive page
 * is copied for the child right away, so the pin stays the parent's
 * (page_needs_cow_for_dma). */
static int copy_one(struct zd_mm *src_mm, uint64_t *src_pte, uint64_t addr, void *arg)
{
	struct copy_arg *c = arg;
	struct zd_mm *dst_mm = c->dst->vm_mm;
	struct zd_machine *m = src_mm->m;
	const struct zd_pgtable_ops *o = pt_ops(src_mm);
	zd_pte_t e = o->ptep_get(src_pte);
	bool cow = (c->src->vm_flags & (ZD_VM_SHARED | ZD_VM_MAYWRITE)) == ZD_VM_MAYWRITE;
	struct zd_page *page, *ptl, *copy = NULL;
	uint64_t *dst_pte;
	unsigned prot;

	if (!o->pte_present(&m->arch, e)) {
		int rc = copy_nonpresent(c, src_mm, src_pte, addr, e, cow);

		if (rc != 2)
			return rc;
		e = o->ptep_get(src_pte);   /* a restored device-exclusive entry */
	}
	page = zd_vm_normal_page(src_mm, e);
	prot = zd_pte_prot(src_mm, e);
	if (page && zd_folio_test_anon(page) && zd_folio_try_dup_anon_rmap_pte(page)) {
		if (zd_anon_vma_prepare(c->dst) || !(copy = alloc_user_page(m, false))) {
			c->err = -ENOMEM;
			return 1;
		}
		memcpy(zd_pfn_address(m, zd_page_to_pfn(m, copy)),
		       zd_pfn_kaddr(m, zd_page_to_pfn(m, page)), m->arch.page_size);
	} else if (page) {
		if (!zd_folio_test_anon(page))
			__atomic_add_fetch(&page->_mapcount, 1, __ATOMIC_RELAXED);
		zd_get_page(m, page);
		if (cow && (prot & ZD_PTE_WRITE)) {
			/* ptep_set_wrprotect() in the parent too, keeping what the
			 * MMU set meanwhile */
			e = zd_leaf_modify_prot(src_mm, src_pte, ZD_PT_PTE, ~ZD_PTE_WRITE, 0);
			prot = zd_pte_prot(src_mm, e) & ~ZD_PTE_WRITE;
		}
	}
	dst_pte = zd_pte_alloc_map_lock(dst_mm, addr, &ptl);
	if (!dst_pte) {
		if (copy)
			zd_put_page(m, copy);
		else if (page) {
			zd_folio_remove_rmap_pte(m, page);
			zd_put_page(m, page);
		}
		c->err = -ENOMEM;
		return 1;
	}
	if (copy) {
		zd_folio_add_new_anon_rmap(copy, c->dst, addr);
		zd_add_mm_counter(dst_mm, ZD_MM_ANONPAGES, 1);
		o->set_pte(dst_pte, mk_pte(dst_mm, zd_page_to_pfn(m, copy), prot | ZD_PTE_DIRTY));
	} else {
		if (page)
			zd_add_mm_counter(dst_mm, zd_mm_counter(page), 1);
		o->set_pte(dst_pte, zd_pte_reprot(src_mm, e, prot));
	}
	zd_pt_unlock(ptl);
	return 0;
}

static int copy_leaf(struct zd_mm *src_mm, uint64_t *slot, enum zd_pt_level level, uint64_t addr,
		     void *arg)
{
	struct copy_arg *c = arg;
	int rc = zd_copy_huge_pmd(c->dst, c->src, slot, addr);

	if (rc < 0) {
		c->err = rc;
		return 1;
	}
	return rc;
}

int zd_copy_page_range(struct zd_vm_area_struct *dst, struct zd_vm_area_struct *src)
{
	struct copy_arg c = { .dst = dst, .src = src };
	struct zd_mmu_notifier_range r;
	bool cow = (src->vm_flags & (ZD_VM_SHARED | ZD_VM_MAYWRITE)) == ZD_VM_MAYWRITE;

	/* vma_needs_copy(): only memory that cannot be faulted in again */
	if (!src->anon_vma || (dst->vm_flags & ZD_VM_WIPEONFORK))
		return 0;
	if (cow)   /* the parent's entries are write-protected */
		zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_PROTECTION_PAGE, src->vm_mm, src->vm_start,
				    src->vm_end);
	zd_walk_range(src->vm_mm, src->vm_start, src->vm_end, copy_one, copy_leaf, &c);
	if (cow)
		zd_mmu_notifier_invalidate_range_end(&r);
	return c.err;
}
