/*
 * get_user_pages and pin_user_pages (mm/gup.c): the pages behind a range of
 * a process, faulted in as the access would fault them, each handed to the
 * caller with a reference (FOLL_GET) or a pin (FOLL_PIN: GUP_PIN_COUNTING_BIAS
 * on a small folio, so folio_maybe_dma_pinned() sees it). The slow path runs
 * under mmap_lock, follows each entry under its PTE lock and faults where
 * the entry does not allow the access; GUP-fast walks without locks inside
 * an RCU read section (the kernel's IRQs-off walk: tables are freed after a
 * grace period), takes a reference only on a page whose refcount is not
 * zero, re-reads the entry and backs out if it changed, and leaves anything
 * unusual (non-present, special, the zero page) to the slow path; a huge
 * (DAX) leaf gives its subpages, one folio reference each.
 * Invariants: a pin on an anonymous page is taken only when the page is
 * exclusive (a read-only pin of a shared page unshares it first, so a later
 * COW cannot split the pin from the process); FOLL_LONGTERM never pins a
 * page it could not keep (ZONE_MOVABLE, device-coherent, fsdax): such an
 * anonymous page is migrated to a kernel zone and pinned there; every
 * reference and pin taken is returned on each error path; the argument and
 * VMA refusals are the kernel's, in its order.
 */
#include "internal.h"
#include "base/rcu.h"

#include <errno.h>

#include <zonedev/log.h>
#include <zonedev/mmu_notifier.h>
#include <zonedev/memremap.h>
#include <zonedev/pci.h>
#include <zonedev/pgalloc.h>
#include <zonedev/gfp.h>
#include <zonedev/pgtable.h>
#include <zonedev/swapops.h>

#define INTERNAL_GUP_FLAGS (ZD_FOLL_TOUCH | ZD_FOLL_TRIED | ZD_FOLL_REMOTE | ZD_FOLL_PIN | \
			    ZD_FOLL_FAST_ONLY | ZD_FOLL_UNLOCKABLE | ZD_FOLL_MADV_POPULATE)

/* is_valid_gup_args(): the kernel WARNs once on each of these. */
static bool valid_args(struct zd_machine *m, struct zd_page **pages, int *locked,
		       unsigned *gup_flags, unsigned to_set)
{
	unsigned f = *gup_flags;

	if (ZD_WARN(m, f & INTERNAL_GUP_FLAGS, "gup: internal flags 0x%x passed in",
		    f & INTERNAL_GUP_FLAGS))
		return false;
	f |= to_set;
	if (locked) {
		if (ZD_WARN(m, *locked != 1, "gup: *locked is %d, not 1", *locked))
			return false;
		f |= ZD_FOLL_UNLOCKABLE;
	}
	if (ZD_WARN(m, (f & (ZD_FOLL_PIN | ZD_FOLL_GET)) == (ZD_FOLL_PIN | ZD_FOLL_GET),
		    "gup: FOLL_GET and FOLL_PIN together") ||
	    ZD_WARN(m, !(f & ZD_FOLL_PIN) && (f & ZD_FOLL_LONGTERM),
		    "gup: FOLL_LONGTERM without FOLL_PIN") ||
	    ZD_WARN(m, (f & (ZD_FOLL_GET | ZD_FOLL_PIN)) && !pages, "gup: no pages array") ||
	    /* the pgmap must stay unpluggable, until the newest era decided
	     * that unbind waiting for a long-term pin is acceptable */
	    ZD_WARN(m, (f & ZD_FOLL_LONGTERM) && (f & ZD_FOLL_PCI_P2PDMA) &&
			       zd_pci_p2pdma_era(m) == ZD_P2PDMA_ERA_V6X,
		    "gup: FOLL_LONGTERM with FOLL_PCI_P2PDMA"))
		return false;
	*gup_flags = f;
	return true;
}

static bool is_cow_mapping(uint64_t vm_flags)
{
	return (vm_flags & (ZD_VM_SHARED | ZD_VM_MAYWRITE)) == ZD_VM_MAYWRITE;
}

/* vma_is_fsdax(): a DAX inode that is not a character device (device-dax
 * is S_IFCHR): a file system owns the blocks and may move them, so a
 * long-term pin would pin a file's layout. */
static bool vma_is_fsdax(const struct zd_vm_area_struct *vma)
{
	const struct zd_file *file = vma->vm_file;

	return file && (file->i_flags & ZD_S_DAX) && file->i_mode != ZD_S_IFCHR;
}

static int check_vma_flags(const struct zd_vm_area_struct *vma, unsigned flags)
{
	uint64_t vf = vma->vm_flags;

	if (vf & (ZD_VM_IO | ZD_VM_PFNMAP))
		return -EFAULT;
	if ((flags & ZD_FOLL_ANON) && vma->vm_ops)
		return -EFAULT;
	if ((flags & ZD_FOLL_LONGTERM) && vma_is_fsdax(vma)) {
		zd_pr_info(vma->vm_mm->m, "gup: pid %d: FOLL_LONGTERM of %s at 0x%llx: fsdax pages "
			   "cannot be pinned long-term (the file system may move them)",
			   vma->vm_mm->pid, vma->vm_file->path, (unsigned long long)vma->vm_start);
		return -EOPNOTSUPP;
	}
	if (flags & ZD_FOLL_WRITE) {
		if (!(vf & ZD_VM_WRITE) && (!(flags & ZD_FOLL_FORCE) || !is_cow_mapping(vf)))
			return -EFAULT;
	} else if (!(vf & ZD_VM_READ)) {
		if (!(flags & ZD_FOLL_FORCE) || !(vf & ZD_VM_MAYREAD))
			return -EFAULT;
	}
	return 0;
}

/* gup_must_unshare(): a pin of an anonymous page that is not exclusive
 * would be lost at the next COW, so the page is made the process's own. */
static bool must_unshare(unsigned flags, struct zd_page *page)
{
	return !(flags & ZD_FOLL_WRITE) && (flags & ZD_FOLL_PIN) && page &&
	       zd_folio_test_anon(page) && !zd_test_page_flag(page, ZD_PG_anon_exclusive);
}

/* A PMD-mapped THP keeps PageAnonExclusive on its head page, which is the
 * page the rules above look at (follow_huge_pmd checks pmd_page()). */
static struct zd_page *excl_page(struct zd_machine *m, struct zd_page *page,
				 enum zd_pt_level level)
{
	return level == ZD_PT_PTE ? page : zd_page_folio(m, page);
}

/* can_follow_write_pte(): besides a writable entry, FOLL_FORCE may write
 * the private copy a forced write fault made (exclusive and dirty). */
static bool can_follow_write(struct zd_mm *mm, zd_pte_t e, struct zd_page *page,
			     const struct zd_vm_area_struct *vma, unsigned flags)
{
	if (zd_pte_prot(mm, e) & ZD_PTE_WRITE)
		return true;
	if (!(flags & ZD_FOLL_FORCE) || !is_cow_mapping(vma->vm_flags) ||
	    (vma->vm_flags & ZD_VM_WRITE) || !page || !zd_folio_test_anon(page) ||
	    !zd_test_page_flag(page, ZD_PG_anon_exclusive))
		return false;
	return zd_pte_prot(mm, e) & ZD_PTE_DIRTY;
}

static bool is_zero_page(struct zd_machine *m, struct zd_page *page)
{
	return zd_page_to_pfn(m, page) == m->zero_pfn;
}

/* folio_is_longterm_pinnable(). */
static bool longterm_pinnable(struct zd_machine *m, struct zd_page *page)
{
	if (zd_is_device_coherent_page(m, page) || zd_is_fsdax_page(m, page))
		return false;
	return zd_page_zonenum(page) != ZD_ZONE_MOVABLE || is_zero_page(m, page);
}

/* try_grab_folio(): refs GET references or pins on page's folio (refs
 * subpages of one leaf are taken at once, as the kernel takes a huge
 * leaf's); the zero page is not counted for a pin. */
static int grab_refs(struct zd_machine *m, struct zd_page *page, unsigned long refs,
		     unsigned flags)
{
	struct zd_page *folio;

	if (zd_is_pci_p2pdma_page(m, page) && !(flags & ZD_FOLL_PCI_P2PDMA))
		return -EREMOTEIO;
	folio = zd_page_folio(m, page);
	if (flags & ZD_FOLL_GET) {
		if (refs > 1)
			__atomic_add_fetch(&folio->_refcount, (int)refs - 1, __ATOMIC_RELAXED);
		zd_get_page(m, page);
	} else if (flags & ZD_FOLL_PIN) {
		if (is_zero_page(m, page))
			return 0;
		if (zd_folio_order(m, folio)) {
			/* folio_has_pincount(): one reference and one pin each */
			__atomic_add_fetch(&folio->_refcount, (int)refs, __ATOMIC_RELAXED);
			__atomic_add_fetch(zd_folio_pincount(folio), refs, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&folio->_refcount, (int)refs * ZD_GUP_PIN_COUNTING_BIAS,
					   __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&m->nr_foll_pin_acquired, refs, __ATOMIC_RELAXED);
	}
	return 0;
}

static int grab(struct zd_machine *m, struct zd_page *page, unsigned flags)
{
	return grab_refs(m, page, 1, flags);
}

/* gup_put_folio(): refs of what grab_refs() took on folio. */
static void put_folio_refs(struct zd_machine *m, struct zd_page *folio, unsigned long refs,
			   unsigned flags)
{
	int drop = (int)refs;

	if (flags & ZD_FOLL_PIN) {
		if (is_zero_page(m, folio))
			return;
		__atomic_add_fetch(&m->nr_foll_pin_released, refs, __ATOMIC_RELAXED);
		if (zd_folio_order(m, folio))
			__atomic_sub_fetch(zd_folio_pincount(folio), refs, __ATOMIC_RELEASE);
		else
			drop = (int)refs * ZD_GUP_PIN_COUNTING_BIAS;
	}
	/* all but the last reference, then a put that may free */
	if (drop > 1)
		__atomic_sub_fetch(&folio->_refcount, drop - 1, __ATOMIC_RELEASE);
	zd_put_page(m, folio);
}

static void put_grab(struct zd_machine *m, struct zd_page *page, unsigned flags)
{
	put_folio_refs(m, zd_page_folio(m, page), 1, flags);
}

enum follow { FOLLOWED, NEED_FAULT, NEED_UNSHARE, SPLIT };

/* follow_huge_pud()/follow_huge_pmd(): the subpage of a present DAX leaf
 * and the rest of the leaf after it, up to nr pages (*nr: how many, the
 * kernel's page_mask), taken under its table's lock; anything else faults. */
static enum follow follow_huge(struct zd_vm_area_struct *vma, uint64_t addr, unsigned flags,
			       struct zd_page **out, unsigned long *nr, int *err)
{
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_arch *a = &mm->m->arch;
	static const enum zd_pt_level levels[] = { ZD_PT_PUD, ZD_PT_PMD };

	for (size_t i = 0; i < 2; i++) {
		enum zd_pt_level l = levels[i];
		struct zd_page *ptl;
		uint64_t *slot;
		zd_pte_t e;

		if (a->pt[l].folded || !a->pt[l].leaf ||
		    !(slot = zd_huge_slot_lookup(mm, addr, l, &ptl)))
			continue;
		zd_pt_lock(ptl);
		e = a->pgtable->ptep_get(slot);
		if (a->pgtable->pte_none(a, e) || a->pgtable->is_table(a, e) ||
		    !a->pgtable->pte_present(a, e)) {
			zd_pt_unlock(ptl);
			continue;
		}
		uint64_t span = 1ULL << a->pt[l].shift;
		uint64_t pfn = a->pgtable->leaf_pfn(a, l, e);
		struct zd_page *head = zd_pfn_to_page(mm->m, pfn);

		/* FOLL_SPLIT_PMD: an anonymous THP or the huge zero folio
		 * becomes a PTE table (the folio stays whole); other leaves
		 * (DAX) are followed as they are */
		if ((flags & ZD_FOLL_SPLIT_PMD) && l == ZD_PT_PMD &&
		    (zd_pmd_is_thp(mm, e, l) || zd_is_huge_zero_pfn(mm->m, pfn))) {
			struct zd_mmu_notifier_range r;
			uint64_t haddr = addr & ~(span - 1);

			zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_CLEAR, mm, haddr, haddr + span);
			zd_split_huge_pmd_locked(mm, slot);
			zd_mmu_notifier_invalidate_range_end(&r);
			zd_pt_unlock(ptl);
			return SPLIT;
		}

		if ((flags & ZD_FOLL_WRITE) && !can_follow_write(mm, e, head, vma, flags)) {
			zd_pt_unlock(ptl);
			return NEED_FAULT;
		}
		if (!(a->pgtable->leaf_prot(a, e) & ZD_PTE_WRITE) && must_unshare(flags, head)) {
			zd_pt_unlock(ptl);
			return NEED_UNSHARE;
		}
		unsigned long left = (unsigned long)((span - (addr & (span - 1))) >> a->page_shift);

		*out = head + ((addr & (span - 1)) >> a->page_shift);
		if (left < *nr)
			*nr = left;
		*err = grab_refs(mm->m, *out, *nr, flags);
		zd_pt_unlock(ptl);
		return FOLLOWED;
	}
	return NEED_FAULT;
}

/* follow_page_pte(): the page at addr with what flags asks taken, or the
 * fault that would make it so; at a huge leaf up to *nr pages of it at
 * once (*nr says how many), else one. */
static enum follow follow_page(struct zd_vm_area_struct *vma, uint64_t addr, unsigned flags,
			       struct zd_page **out, unsigned long *nr, int *err)
{
	struct zd_mm *mm = vma->vm_mm;
	const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
	struct zd_page *ptl, *page;
	uint64_t *pte = zd_pte_offset_map_lock(mm, addr, &ptl);
	enum follow r = FOLLOWED;
	zd_pte_t e;

	*err = 0;
	if (!pte) {
		r = follow_huge(vma, addr, flags, out, nr, err);
		return r == SPLIT ? follow_page(vma, addr, flags & ~ZD_FOLL_SPLIT_PMD, out, nr, err) : r;
	}
	*nr = 1;
	e = o->ptep_get(pte);
	/* gup_can_follow_protnone(): PROT_NONE entries are followed (FOLL_FORCE
	 * got here) unless the caller honours NUMA hinting faults */
	if (!o->pte_present(&mm->m->arch, e) ||
	    (o->pte_protnone(&mm->m->arch, e) && (flags & ZD_FOLL_HONOR_NUMA_FAULT))) {
		r = NEED_FAULT;
		goto out;
	}
	page = zd_vm_normal_page(mm, e);
	if ((flags & ZD_FOLL_WRITE) && !can_follow_write(mm, e, page, vma, flags)) {
		r = NEED_FAULT;
		goto out;
	}
	/* follow_page's zero page: no normal page, but GUP hands it out */
	if (!page && o->leaf_pfn(&mm->m->arch, ZD_PT_PTE, e) == mm->m->zero_pfn)
		page = zd_pfn_to_page(mm->m, mm->m->zero_pfn);
	if (!page) {
		*err = -EFAULT;   /* a special entry with no page behind it */
		goto out;
	}
	if (must_unshare(flags, page)) {
		r = NEED_UNSHARE;
		goto out;
	}
	*err = grab(mm->m, page, flags);
	/* set_page_dirty(): the folio's flag (a tail's flags word of a
	 * large folio holds other state) */
	if (!*err && (flags & ZD_FOLL_TOUCH) && (flags & ZD_FOLL_WRITE))
		zd_set_page_flag(zd_compound_head(page), ZD_PG_dirty);
	*out = page;
out:
	zd_pt_unlock(ptl);
	return r;
}

/* faultin_page() and vm_fault_to_errno(). */
static int faultin(struct zd_vm_area_struct *vma, uint64_t addr, unsigned flags, bool unshare)
{
	unsigned ff = 0, ret;

	if (flags & ZD_FOLL_NOFAULT)
		return -EFAULT;
	if (flags & ZD_FOLL_WRITE)
		ff |= ZD_FAULT_FLAG_WRITE;
	if (flags & ZD_FOLL_REMOTE)
		ff |= ZD_FAULT_FLAG_REMOTE;
	if (unshare)
		ff |= ZD_FAULT_FLAG_UNSHARE;
	ret = zd_handle_mm_fault(vma, addr, ff);
	if (ret & ZD_VM_FAULT_OOM)
		return -ENOMEM;
	if (ret & ZD_VM_FAULT_HWPOISON)
		return flags & ZD_FOLL_HWPOISON ? -EHWPOISON : -EFAULT;
	if (ret & (ZD_VM_FAULT_SIGBUS | ZD_VM_FAULT_SIGSEGV))
		return -EFAULT;
	return 0;
}

/* __get_user_pages(): mmap_lock held. */
static long get_pages_locked(struct zd_mm *mm, uint64_t start, unsigned long nr, unsigned flags,
			     struct zd_page **pages)
{
	const uint64_t ps = mm->m->arch.page_size;
	struct zd_vm_area_struct *vma = NULL;
	long done = 0;
	int err = 0;

	start &= ~(ps - 1);
	while (nr) {
		struct zd_page *page = NULL;
		unsigned long got = nr;
		enum follow r;
		int tries = 0;

		if (!vma || start >= vma->vm_end) {
			vma = zd_vma_lookup(mm, start);
			if (!vma) {
				err = -EFAULT;
				break;
			}
			err = check_vma_flags(vma, flags);
			if (err)
				break;
		}
		while ((r = follow_page(vma, start, flags, &page, &got, &err)) != FOLLOWED && !err) {
			if (++tries > ZD_FAULT_RETRY_LIMIT) {
				ZD_WARN(mm->m, true, "gup: pid %d 0x%llx: faults resolved nothing",
					mm->pid, (unsigned long long)start);
				err = -EFAULT;
				break;
			}
			err = faultin(vma, start, flags, r == NEED_UNSHARE);
			if (err)
				break;   /* the next follow_page would reset err */
			got = nr;
		}
		if (err)
			break;
		/* a huge leaf's subpages are consecutive struct pages */
		for (unsigned long i = 0; pages && i < got; i++)
			pages[done + i] = page + i;
		done += (long)got;
		nr -= got;
		start += got * ps;
	}
	return done ? done : err;
}

/* gup_folio_next(): how many of pages[i..] are of pages[i]'s folio, so a
 * leaf's pins go back with one update of its counts. */
static unsigned long same_folio(struct zd_machine *m, struct zd_page **pages, unsigned long n,
				struct zd_page **folio)
{
	unsigned long nr = 1, size;

	*folio = zd_page_folio(m, pages[0]);
	/* a folio's struct pages are consecutive (the vmemmap is indexed by
	 * pfn), so its range says which pages are its own without a
	 * page_folio() each */
	size = 1UL << zd_folio_order(m, *folio);
	while (nr < n && pages[nr] >= *folio && pages[nr] < *folio + size)
		nr++;
	return nr;
}

/* migrate_longterm_unpinnable_folios(): the pins go, each anonymous folio
 * that could not stay pinned moves, once and whole, to a folio of its order
 * in a kernel zone (a THP with no THP to go to is split, and its pages move
 * in the next round); the caller pins again. -EBUSY for a folio that cannot
 * move (not anonymous, or referenced elsewhere). */
static int migrate_unpinnable(struct zd_machine *m, struct zd_page **pages, long n, unsigned flags)
{
	int rc = 0;

	for (long i = 0, nr; i < n; i += nr) {
		struct zd_page *folio, *dst = NULL;
		unsigned order;

		nr = (long)same_folio(m, pages + i, (unsigned long)(n - i), &folio);
		if (longterm_pinnable(m, pages[i]) || rc) {
			put_folio_refs(m, folio, (unsigned long)nr, flags);
			continue;
		}
		zd_get_page(m, folio);
		put_folio_refs(m, folio, (unsigned long)nr, flags);
		order = zd_folio_order(m, folio);
		if (zd_folio_test_anon(folio))
			dst = zd_alloc_pages(m, ZD_GFP_KERNEL | ZD___GFP_NOWARN, order);
		if (!zd_folio_test_anon(folio)) {
			rc = -EBUSY;
		} else if (!zd_trylock_page(folio)) {
			rc = -EAGAIN;
		} else if (!dst) {
			/* no THP in a kernel zone: split, the pages move next round */
			rc = order && !zd_split_folio(m, folio) ? -EAGAIN : -EBUSY;
			zd_unlock_page(folio);
		} else {
			rc = zd_migrate_folio(m, folio, dst);
			__atomic_add_fetch(rc ? &m->pgmigrate_fail : &m->pgmigrate_success,
					   1UL << order, __ATOMIC_RELAXED);
			if (order)
				__atomic_add_fetch(rc ? &m->thp_migration_fail :
						   &m->thp_migration_success, 1, __ATOMIC_RELAXED);
			zd_unlock_page(folio);
			if (!rc)
				__atomic_store_n(&folio->mapping, NULL, __ATOMIC_RELAXED);
		}
		if (dst)
			zd_put_page(m, dst);
		zd_put_page(m, folio);
	}
	return rc;
}

/* __gup_longterm_locked(): a long-term pin only holds pages that can stay
 * where they are; others (ZONE_MOVABLE) are migrated first and the pin is
 * taken again, as check_and_migrate_movable_folios() does. */
static long gup_longterm(struct zd_mm *mm, uint64_t start, unsigned long nr, unsigned flags,
			 struct zd_page **pages)
{
	for (int round = 0;; round++) {
		long n = get_pages_locked(mm, start, nr, flags, pages);
		struct zd_page *folio;
		long bad = 0;
		int rc;

		if (n <= 0 || !(flags & ZD_FOLL_LONGTERM))
			return n;
		/* once per folio, as collect_longterm_unpinnable_folios() */
		for (long i = 0; i < n; i += (long)same_folio(mm->m, pages + i, (unsigned long)(n - i),
							      &folio))
			bad += !longterm_pinnable(mm->m, pages[i]);
		if (!bad)
			return n;
		rc = migrate_unpinnable(mm->m, pages, n, flags);
		if (rc == -EBUSY || round == 3) {
			zd_pr_warn(mm->m, "gup: FOLL_LONGTERM: %ld folio(s) of pid %d at 0x%llx cannot "
				   "stay pinned and did not migrate", bad, mm->pid,
				   (unsigned long long)start);
			return -ENOMEM;
		}
	}
}

static long gup_remote(struct zd_mm *mm, uint64_t start, unsigned long nr, unsigned flags,
		       struct zd_page **pages, int *locked, unsigned to_set)
{
	if (!valid_args(mm->m, pages, locked, &flags, to_set))
		return -EINVAL;
	return gup_longterm(mm, start, nr, flags, pages);
}

long zd_get_user_pages_remote(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			      unsigned gup_flags, struct zd_page **pages, int *locked)
{
	return gup_remote(mm, start, nr_pages, gup_flags, pages, locked,
			  ZD_FOLL_GET | ZD_FOLL_TOUCH | ZD_FOLL_REMOTE);
}

long zd_pin_user_pages_remote(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			      unsigned gup_flags, struct zd_page **pages, int *locked)
{
	return gup_remote(mm, start, nr_pages, gup_flags, pages, locked,
			  ZD_FOLL_PIN | ZD_FOLL_TOUCH | ZD_FOLL_REMOTE);
}

long zd_get_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned gup_flags, struct zd_page **pages)
{
	return gup_remote(mm, start, nr_pages, gup_flags, pages, NULL, ZD_FOLL_GET | ZD_FOLL_TOUCH);
}

long zd_pin_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned gup_flags, struct zd_page **pages)
{
	return gup_remote(mm, start, nr_pages, gup_flags, pages, NULL, ZD_FOLL_PIN);
}

long zd_get_user_pages_unlocked(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
				unsigned gup_flags, struct zd_page **pages)
{
	long n;

	zd_mmap_read_lock(mm);
	n = gup_remote(mm, start, nr_pages, gup_flags, pages, NULL, ZD_FOLL_GET | ZD_FOLL_TOUCH);
	zd_mmap_read_unlock(mm);
	return n;
}

long zd_pin_user_pages_unlocked(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
				unsigned gup_flags, struct zd_page **pages)
{
	long n;

	zd_mmap_read_lock(mm);
	n = gup_remote(mm, start, nr_pages, gup_flags, pages, NULL, ZD_FOLL_PIN);
	zd_mmap_read_unlock(mm);
	return n;
}

/* gup_fast_pte_range() and gup_fast_pmd_leaf()/_pud_leaf(): as far as the
 * entries allow without a lock; a huge leaf gives all its subpages up to
 * nr with one reference or pin count of that many on its folio, as the
 * kernel's record_subpages() and try_grab_folio_fast(refs) do. */
static unsigned long gup_fast(struct zd_mm *mm, uint64_t start, unsigned long nr,
			      unsigned flags, struct zd_page **pages)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	unsigned long done = 0;
	unsigned idx = zd_rcu_read_lock(&m->rcu);

	while (done < nr) {
		enum zd_pt_level level;
		uint64_t *slot = zd_lookup_slot(mm, start, &level);
		struct zd_page *page, *folio;
		unsigned long refs = 1;
		zd_pte_t e;
		unsigned prot;
		int ref;

		if (!slot)
			break;
		e = o->ptep_get(slot);
		/* a huge leaf that became a table (split) since the walk: the
		 * slow path takes it from here */
		if (!o->pte_present(&m->arch, e) || o->pte_protnone(&m->arch, e) ||
		    (level != ZD_PT_PTE && o->is_table(&m->arch, e)))
			break;
		prot = o->leaf_prot(&m->arch, e);
		if (!(prot & ZD_PTE_USER) || (prot & ZD_PTE_SPECIAL) ||
		    ((flags & ZD_FOLL_WRITE) && !(prot & ZD_PTE_WRITE)))
			break;
		uint64_t span = 1ULL << m->arch.pt[level].shift;
		page = zd_pfn_to_page(m, o->leaf_pfn(&m->arch, level, e) +
				      ((start & (span - 1)) >> m->arch.page_shift));
		if (level != ZD_PT_PTE) {
			refs = (unsigned long)((span - (start & (span - 1))) >> m->arch.page_shift);
			if (refs > nr - done)
				refs = nr - done;
		}
		if (zd_is_pci_p2pdma_page(m, page) && !(flags & ZD_FOLL_PCI_P2PDMA))
			break;
		/* try_grab_folio_fast(): never resurrect a page being freed */
		folio = zd_page_folio(m, page);
		ref = __atomic_load_n(&folio->_refcount, __ATOMIC_RELAXED);
		do {
			if (ref <= 0)
				break;
		} while (!__atomic_compare_exchange_n(&folio->_refcount, &ref, ref + (int)refs, false,
						      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
		if (ref <= 0)
			break;
		if (o->ptep_get(slot).val != e.val ||
		    ((flags & ZD_FOLL_LONGTERM) && !longterm_pinnable(m, page)) ||
		    (!(prot & ZD_PTE_WRITE) && must_unshare(flags, excl_page(m, page, level)))) {
			put_folio_refs(m, folio, refs, flags & ~ZD_FOLL_PIN);
			break;
		}
		if (flags & ZD_FOLL_PIN) {
			if (zd_folio_order(m, folio))
				__atomic_add_fetch(zd_folio_pincount(folio), refs, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&folio->_refcount,
						   (int)refs * (ZD_GUP_PIN_COUNTING_BIAS - 1),
						   __ATOMIC_RELAXED);
			__atomic_add_fetch(&m->nr_foll_pin_acquired, refs, __ATOMIC_RELAXED);
		}
		for (unsigned long i = 0; i < refs; i++)
			pages[done + i] = page + i;
		done += refs;
		start += refs * m->arch.page_size;
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	return done;
}

/* gup_fast_fallback(). */
static long gup_fast_fallback(struct zd_mm *mm, uint64_t start, unsigned long nr,
			      unsigned flags, struct zd_page **pages)
{
	const uint64_t ps = mm->m->arch.page_size;
	unsigned long fast;
	long rest;

	if (ZD_WARN(mm->m, flags & ~(ZD_FOLL_WRITE | ZD_FOLL_LONGTERM | ZD_FOLL_FORCE | ZD_FOLL_PIN |
				      ZD_FOLL_GET | ZD_FOLL_FAST_ONLY | ZD_FOLL_NOFAULT |
				      ZD_FOLL_PCI_P2PDMA | ZD_FOLL_HONOR_NUMA_FAULT),
		    "gup_fast: flags 0x%x not allowed", flags))
		return -EINVAL;
	if (!nr)
		return 0;
	if (nr > (mm->task_size >> mm->m->arch.page_shift) ||
	    (start & ~(ps - 1)) + nr * ps > mm->task_size)
		return -EFAULT;
	start &= ~(ps - 1);
	fast = gup_fast(mm, start, nr, flags, pages);
	if (fast == nr || (flags & ZD_FOLL_FAST_ONLY))
		return (long)fast;
	zd_mmap_read_lock(mm);
	rest = gup_longterm(mm, start + fast * ps, nr - fast, flags | ZD_FOLL_TOUCH, pages + fast);
	zd_mmap_read_unlock(mm);
	if (rest < 0)
		return fast ? (long)fast : rest;
	return (long)fast + rest;
}

static long gup_fast_args(struct zd_mm *mm, uint64_t start, unsigned long nr, unsigned flags,
			  struct zd_page **pages, unsigned to_set)
{
	if (!valid_args(mm->m, pages, NULL, &flags, to_set))
		return -EINVAL;
	return gup_fast_fallback(mm, start, nr, flags, pages);
}

long zd_get_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned gup_flags, struct zd_page **pages)
{
	return gup_fast_args(mm, start, nr_pages, gup_flags, pages, ZD_FOLL_GET);
}

long zd_get_user_pages_fast_only(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
				 unsigned gup_flags, struct zd_page **pages)
{
	return gup_fast_args(mm, start, nr_pages, gup_flags, pages,
			     ZD_FOLL_GET | ZD_FOLL_FAST_ONLY);
}

long zd_pin_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned gup_flags, struct zd_page **pages)
{
	return gup_fast_args(mm, start, nr_pages, gup_flags, pages, ZD_FOLL_PIN);
}

void zd_unpin_user_page(struct zd_machine *m, struct zd_page *page)
{
	put_grab(m, page, ZD_FOLL_PIN);
}

void zd_unpin_user_pages(struct zd_machine *m, struct zd_page **pages, unsigned long npages)
{
	zd_unpin_user_pages_dirty_lock(m, pages, npages, false);
}

void zd_unpin_user_pages_dirty_lock(struct zd_machine *m, struct zd_page **pages,
				    unsigned long npages, bool make_dirty)
{
	for (unsigned long i = 0, nr; i < npages; i += nr) {
		struct zd_page *folio;

		nr = same_folio(m, pages + i, npages - i, &folio);
		if (make_dirty && !is_zero_page(m, folio))
			zd_set_page_flag(folio, ZD_PG_dirty);
		put_folio_refs(m, folio, nr, ZD_FOLL_PIN);
	}
}
