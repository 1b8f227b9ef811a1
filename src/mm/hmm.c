/*
 * hmm_range_fault() (mm/hmm.c): for each page of the range, what the CPU's
 * page tables say (include/zonedev/hmm.h's word), faulting with
 * handle_mm_fault() first where the request (default_flags, pfn_flags_mask)
 * needs a page or write access the tables do not give. Entries are read
 * locklessly as GUP-fast reads them (RCU keeps the tables); whatever
 * changes after the read is caught by the caller's notifier sequence.
 * Invariants: the walk only moves forward past a page once its output is
 * final (a fault re-reads the same page); the sticky bits survive; a
 * device-private entry is reported only to its owner and never faulted for
 * it; -EBUSY is returned whenever the notifier's seq has moved.
 */
#include "internal.h"
#include "base/rcu.h"
#include <zonedev/hmm.h>
#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/pgtable.h>
#include <zonedev/swapops.h>
#include <errno.h>

/* A fault that succeeds yet leaves the page unusable is retried this often. */
#define HMM_MAX_FAULTS_PER_PAGE 8

struct zd_page *zd_hmm_pfn_to_page(struct zd_machine *m, uint64_t hmm_pfn)
{
	uint64_t pfn = zd_hmm_pfn_to_pfn(hmm_pfn);

	if (!(hmm_pfn & ZD_HMM_PFN_VALID))
		return NULL;
	if (hmm_pfn & ZD_HMM_PFN_DEVICE_PRIVATE)
		return zd_device_private_offset_to_page(m, pfn);
	return zd_pfn_to_page(m, pfn);
}

enum verdict { V_DONE, V_FAULT, V_WAIT };

/*
 * hmm_vma_handle_pte/pmd(): *out for addr given the request req, or that
 * a fault (V_FAULT) or a wait for a migration (V_WAIT) is needed first;
 * a negative errno for a page that is required but cannot be had.
 */
static int handle_entry(struct zd_hmm_range *range, struct zd_vm_area_struct *vma, uint64_t addr,
			uint64_t req, uint64_t *out, struct zd_page **wait_page, uint64_t *nr)
{
	struct zd_mm *mm = vma->vm_mm;
	struct zd_machine *m = mm->m;
	const struct zd_arch *a = &m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	enum zd_pt_level level = ZD_PT_PTE;
	struct zd_page *page;
	zd_pte_t e = zd_follow_pte(mm, addr, &level, &page);
	bool want = req & ZD_HMM_PFN_REQ_FAULT, want_write = want && (req & ZD_HMM_PFN_REQ_WRITE);

	*out = 0;
	*nr = 1;
	if (o->pte_none(a, e))
		return want ? V_FAULT : V_DONE;
	if (!o->pte_present(a, e)) {
		struct zd_page *dp;
		enum zd_softleaf_type k = zd_softleaf_from_pte(m, e, &dp);

		if ((level == ZD_PT_PTE || level == ZD_PT_PMD) && zd_softleaf_is_device_private(k)) {
			if (dp && range->dev_private_owner &&
			    zd_page_pgmap(m, dp)->owner == range->dev_private_owner) {
				/* the owner's own page: reported (its pfn, or its
				 * device-private offset under dpa), never faulted;
				 * a device THP's PMD gives the rest of its block
				 * from one entry, with its order */
				unsigned shift = a->pt[level].shift;
				uint64_t base = addr & ~((1ULL << shift) - 1);
				uint64_t idx = (addr - base) >> a->page_shift;

				*out = (o->swp_offset(a, e) + idx) | ZD_HMM_PFN_VALID |
				       (k == ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE ? ZD_HMM_PFN_WRITE : 0) |
				       (m->device_private == ZD_DEVICE_PRIVATE_DPA ?
					ZD_HMM_PFN_DEVICE_PRIVATE : 0);
				if (level == ZD_PT_PMD) {
					*out |= (uint64_t)(shift - a->page_shift) << ZD_HMM_PFN_ORDER_SHIFT;
					*nr = (base + (1ULL << shift) - addr) >> a->page_shift;
				}
				return V_DONE;
			}
			return want ? V_FAULT : V_DONE;   /* migrate_to_ram */
		}
		if (!want)
			return V_DONE;
		if (k == ZD_SOFTLEAF_DEVICE_EXCLUSIVE)
			return V_FAULT;
		if (zd_softleaf_is_migration(k) && dp) {
			*wait_page = dp;
			return V_WAIT;
		}
		zd_pr_err(m, "pid %d: hmm_range_fault: entry type %u at 0x%llx cannot be faulted",
			  mm->pid, o->swp_type(a, e), (unsigned long long)addr);
		return -EFAULT;
	}
	if (level != ZD_PT_PTE) {
		/* a PMD/PUD leaf: the page's pfn in it and the leaf's order */
		unsigned shift = a->pt[level].shift;
		uint64_t base = addr & ~((1ULL << shift) - 1);
		uint64_t pfn = o->leaf_pfn(a, level, e) + ((addr - base) >> a->page_shift);
		bool w = o->leaf_prot(a, e) & ZD_PTE_WRITE;

		if (want_write && !w)
			return V_FAULT;
		*out = pfn | ZD_HMM_PFN_VALID | (w ? ZD_HMM_PFN_WRITE : 0) |
		       ((uint64_t)(shift - a->page_shift) << ZD_HMM_PFN_ORDER_SHIFT);
		*nr = (base + (1ULL << shift) - addr) >> a->page_shift;
		return V_DONE;
	}
	{
		uint64_t pfn = o->leaf_pfn(a, ZD_PT_PTE, e);
		bool w = zd_pte_prot(mm, e) & ZD_PTE_WRITE;

		if (!page && pfn != m->zero_pfn) {
			/* a special mapping (VM_PFNMAP-like insertions) */
			if (want) {
				zd_pr_err(m, "pid %d: hmm_range_fault: special pfn 0x%llx at 0x%llx",
					  mm->pid, (unsigned long long)pfn, (unsigned long long)addr);
				return -EFAULT;
			}
			*out = ZD_HMM_PFN_ERROR;
			return V_DONE;
		}
		if (want_write && !w)
			return V_FAULT;
		*out = pfn | ZD_HMM_PFN_VALID | (w ? ZD_HMM_PFN_WRITE : 0);
		return V_DONE;
	}
}

/* hmm_vma_walk_hole()/hmm_vma_walk_test(): no VMA, or one HMM cannot use:
 * ERROR for every page, -EFAULT if any of them was required. */
static int error_span(struct zd_hmm_range *range, uint64_t addr, uint64_t end, const char *why)
{
	uint64_t shift = range->notifier->mm->m->arch.page_shift;

	for (uint64_t a = addr; a < end; a += 1ULL << shift) {
		uint64_t *p = &range->hmm_pfns[(a - range->start) >> shift];

		if (((*p & range->pfn_flags_mask) | range->default_flags) & ZD_HMM_PFN_REQ_FAULT) {
			zd_pr_err(range->notifier->mm->m,
				  "pid %d: hmm_range_fault: 0x%llx required but %s",
				  range->notifier->mm->pid, (unsigned long long)a, why);
			return -EFAULT;
		}
	}
	for (uint64_t a = addr; a < end; a += 1ULL << shift) {
		uint64_t *p = &range->hmm_pfns[(a - range->start) >> shift];

		*p = (*p & ZD_HMM_PFN_INOUT_FLAGS) | ZD_HMM_PFN_ERROR;
	}
	return 0;
}

int zd_hmm_range_fault(struct zd_hmm_range *range)
{
	struct zd_mm *mm = range->notifier ? range->notifier->mm : NULL;
	struct zd_machine *m;
	uint64_t ps, addr;
	unsigned faults = 0;

	if (!mm) {
		/* no machine to log on: the notifier is missing or orphaned */
		return -EINVAL;
	}
	m = mm->m;
	ps = m->arch.page_size;
	if (!range->hmm_pfns || range->start >= range->end || (range->start | range->end) & (ps - 1)) {
		zd_pr_err(m, "pid %d: hmm_range_fault [0x%llx, 0x%llx): %s", mm->pid,
			  (unsigned long long)range->start, (unsigned long long)range->end,
			  !range->hmm_pfns ? "no pfn array" : "empty or unaligned range");
		return -EINVAL;
	}
	for (addr = range->start; addr < range->end; ) {
		struct zd_vm_area_struct *vma;
		uint64_t *p, req, out = 0, nr = 1;
		struct zd_page *wait_page = NULL;
		int rc;

		if (zd_mmu_interval_check_retry(range->notifier, range->notifier_seq))
			return -EBUSY;
		vma = zd_find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			uint64_t end = vma && vma->vm_start < range->end ? vma->vm_start : range->end;

			rc = error_span(range, addr, end, "no VMA maps it");
			if (rc)
				return rc;
			addr = end;
			continue;
		}
		if ((vma->vm_flags & (ZD_VM_IO | ZD_VM_PFNMAP)) || !(vma->vm_flags & ZD_VM_READ)) {
			uint64_t end = vma->vm_end < range->end ? vma->vm_end : range->end;

			rc = error_span(range, addr, end, (vma->vm_flags & ZD_VM_READ) ?
					"the VMA is VM_IO/VM_PFNMAP" : "the VMA is not readable");
			if (rc)
				return rc;
			addr = end;
			continue;
		}
		p = &range->hmm_pfns[(addr - range->start) / ps];
		req = ((*p & range->pfn_flags_mask) | range->default_flags) &
		      (ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE);
		rc = handle_entry(range, vma, addr, req, &out, &wait_page, &nr);
		if (rc < 0)
			return rc;
		if (rc == V_WAIT) {
			zd_migration_entry_wait(m, wait_page);   /* then read it again */
			continue;
		}
		if (rc == V_FAULT) {
			unsigned flags = ZD_FAULT_FLAG_REMOTE, ret;

			if (req & ZD_HMM_PFN_REQ_WRITE) {
				if (!(vma->vm_flags & ZD_VM_WRITE)) {
					zd_pr_err(m, "pid %d: hmm_range_fault: write wanted at 0x%llx "
						  "of a read-only VMA", mm->pid,
						  (unsigned long long)addr);
					return -EPERM;
				}
				flags |= ZD_FAULT_FLAG_WRITE;
			}
			if (++faults > HMM_MAX_FAULTS_PER_PAGE) {
				zd_pr_err(m, "pid %d: hmm_range_fault: 0x%llx still unusable after "
					  "%u faults", mm->pid, (unsigned long long)addr, faults - 1);
				return -EFAULT;
			}
			ret = zd_handle_mm_fault(vma, addr, flags);
			if (ret & ZD_VM_FAULT_ERROR) {
				zd_pr_err(m, "pid %d: hmm_range_fault: fault at 0x%llx failed (0x%x)",
					  mm->pid, (unsigned long long)addr, ret);
				return -EFAULT;   /* mainline: any VM_FAULT_ERROR */
			}
			continue;   /* the walk restarts at addr */
		}
		*p = (*p & ZD_HMM_PFN_INOUT_FLAGS) | out;
		faults = 0;
		addr += ps;
		/* hmm_vma_handle_pmd(): the rest of a huge leaf from the same
		 * entry, until a page whose request this leaf cannot meet (a
		 * write on a read-only leaf), which the walk faults for */
		for (uint64_t j = 1, lim = vma->vm_end < range->end ? vma->vm_end : range->end;
		     j < nr && addr < lim; j++, addr += ps) {
			uint64_t *pj = p + j, rq = ((*pj & range->pfn_flags_mask) |
						     range->default_flags) &
						    (ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE);

			if (rq == (ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE) &&
			    !(out & ZD_HMM_PFN_WRITE))
				break;
			*pj = (*pj & ZD_HMM_PFN_INOUT_FLAGS) | (out + j);
		}
	}
	return 0;
}
