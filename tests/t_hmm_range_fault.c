/*
 * hmm_range_fault() (mm/hmm.c): the HMM pfn word per entry kind (none,
 * zero page, read-only, writable, THP with its order), the request rules
 * (default_flags, pfn_flags_mask per entry, snapshot without faults),
 * faulting what a request needs, -EBUSY after a change the notifier saw,
 * the errors (-EFAULT, -EPERM, -EINVAL, ERROR entries) and the sticky
 * bits; device-private entries (installed by hand) per owner under both
 * designs.
 */
#include <zonedev/zonedev.h>
#include <zonedev/hmm.h>
#include <zonedev/swapops.h>
#include <zonedev/test_hmm.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t ps, hps;
static struct zd_mmu_interval_notifier mn;
static uint64_t pfns[1024];

static bool inv(struct zd_mmu_interval_notifier *sub, const struct zd_mmu_notifier_range *r,
		unsigned long cur_seq)
{
	zd_mmu_interval_set_seq(sub, cur_seq);
	return true;
}
static const struct zd_mmu_interval_notifier_ops ops = { .invalidate = inv };

static int busy;   /* -EBUSY rounds the last rf() needed */

/* The driver's loop: read_begin, mmap read lock, fault, again on -EBUSY
 * (a fault that COWs invalidates the range it is filling). */
static int rf(uint64_t a, uint64_t n, uint64_t def, uint64_t mask)
{
	struct zd_hmm_range r = {
		.notifier = &mn, .start = a, .end = a + n * ps, .hmm_pfns = pfns,
		.default_flags = def, .pfn_flags_mask = mask,
	};
	int rc;

	busy = 0;
	do {
		r.notifier_seq = zd_mmu_interval_read_begin(&mn);
		zd_mmap_read_lock(mm);
		rc = zd_hmm_range_fault(&r);
		zd_mmap_read_unlock(mm);
	} while (rc == -EBUSY && ++busy < 100);
	return rc;
}

static uint64_t map(uint64_t len, unsigned long prot)
{
	return (uint64_t)zd_vm_mmap(mm, 0, len, prot, ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
}
static void access1(uint64_t a, bool write)
{
	char c = 1;

	zd_access_vm(mm, a, &c, 1, write);
}
#define V ZD_HMM_PFN_VALID
#define W ZD_HMM_PFN_WRITE

static void kinds(void)
{
	uint64_t a = map(4 * ps, ZD_PROT_READ | ZD_PROT_WRITE), h, b;

	access1(a + ps, false);      /* zero page */
	access1(a + 2 * ps, true);   /* writable anon */
	memset(pfns, 0, sizeof(pfns));
	is_int(rf(a, 4, 0, 0), 0, "snapshot of none/zero/anon/none");
	is_u64(pfns[0], 0, "none: 0");
	is_u64(pfns[1], V | m->zero_pfn, "zero page: VALID, read-only, the zero pfn");
	is_u64(pfns[2], V | W | tap_pfn_at(mm, a + 2 * ps), "writable: VALID|WRITE|pfn");
	is_int(zd_hmm_pfn_to_map_order(pfns[2]), 0, "order 0 for a PTE");
	ok(zd_hmm_pfn_to_page(m, pfns[2]) == zd_pfn_to_page(m, tap_pfn_at(mm, a + 2 * ps)),
	   "hmm_pfn_to_page");
	zd_do_mprotect(mm, a + 2 * ps, ps, ZD_PROT_READ);
	is_int(rf(a + 2 * ps, 1, 0, 0), 0, "read-only page");
	is_u64(pfns[0], V | tap_pfn_at(mm, a + 2 * ps), "read-only: VALID without WRITE");
	is_int(rf(a + 2 * ps, 1, ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE, 0), -EPERM,
	       "REQ_WRITE on a read-only VMA: EPERM");
	zd_vm_munmap(mm, a, 4 * ps);

	/* THP: every page of the PMD carries order 9 */
	m->thp_enabled = ZD_THP_MADVISE;
	b = map(2 * hps, ZD_PROT_READ | ZD_PROT_WRITE);
	h = (b + hps - 1) & ~(hps - 1);
	zd_do_madvise(mm, h, hps, ZD_MADV_HUGEPAGE);
	access1(h, true);
	is_int(rf(h, hps / ps, 0, 0), 0, "snapshot of a THP");
	{
		bool all = true;
		uint64_t p0 = zd_hmm_pfn_to_pfn(pfns[0]);

		for (uint64_t i = 0; i < hps / ps; i++)
			all &= (pfns[i] & (V | W)) == (V | W) && zd_hmm_pfn_to_pfn(pfns[i]) == p0 + i &&
			       zd_hmm_pfn_to_map_order(pfns[i]) == 9;
		ok(all, "THP: VALID|WRITE, consecutive pfns, order 9 in each of 512 entries");
		is_u64(p0, tap_pfn_at(mm, h), "... from the folio's head pfn");

		/* the leaf fills a range that starts inside it and stops at its end */
		for (unsigned i = 0; i < 64; i++)
			pfns[i] = 0xabcdULL << 40;
		is_int(rf(h + 100 * ps, 50, 0, 0), 0, "a range inside the THP");
		ok(zd_hmm_pfn_to_pfn(pfns[0]) == p0 + 100 && zd_hmm_pfn_to_pfn(pfns[49]) == p0 + 149 &&
		   pfns[50] == 0xabcdULL << 40, "... entries 100-149 of the leaf, nothing past the range");

		/* a read-only leaf (fork's COW) meets a read request; the first
		 * page asking to write stops the fill and is faulted (COW) */
		struct zd_mm *child = zd_dup_mm(mm);

		for (unsigned i = 0; i < 8; i++)
			pfns[i] = i == 5 ? ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE : 0;
		is_int(rf(h, 8, 0, ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE), 0,
		       "a write request at page 5 of a COW-shared THP");
		all = true;
		for (unsigned i = 0; i < 8; i++)
			all &= (pfns[i] & V) && zd_hmm_pfn_to_pfn(pfns[i]) == tap_pfn_at(mm, h + i * ps);
		ok(all && (pfns[5] & W) && zd_hmm_pfn_to_pfn(pfns[5]) != p0 + 5,
		   "... page 5 writable, a copy; every entry what the page tables map now");
		zd_mmput(child);
	}
	zd_vm_munmap(mm, b, 2 * hps);
}

static void requests(void)
{
	uint64_t a = map(8 * ps, ZD_PROT_READ | ZD_PROT_WRITE);
	unsigned long flt;

	/* per-entry requests through the mask: only page 1 is faulted */
	memset(pfns, 0, sizeof(pfns));
	pfns[1] = ZD_HMM_PFN_REQ_FAULT;
	pfns[3] = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE;
	is_int(rf(a, 4, 0, ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE), 0, "requests in the mask");
	is_u64(pfns[0], 0, "unrequested none stays 0");
	is_u64(pfns[1], V | m->zero_pfn, "a read request of none: the zero page");
	is_u64(pfns[3], V | W | tap_pfn_at(mm, a + 3 * ps), "a write request: a writable page");
	is_u64(tap_pfn_at(mm, a), ZD_BAD_PFN, "page 0 was not faulted");
	/* the mask 0 ignores the entries; default_flags decide */
	pfns[0] = ZD_HMM_PFN_REQ_FAULT;
	is_int(rf(a, 1, 0, 0), 0, "mask 0: the entry's request is ignored");
	is_u64(pfns[0], 0, "... not faulted");
	flt = mm->min_flt;
	is_int(rf(a, 8, ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE, 0), 0, "default REQ_WRITE");
	{
		bool all = true;

		for (int i = 0; i < 8; i++)
			all &= (pfns[i] & (V | W)) == (V | W) &&
			       zd_hmm_pfn_to_pfn(pfns[i]) == tap_pfn_at(mm, a + i * ps) &&
			       zd_hmm_pfn_to_pfn(pfns[i]) != m->zero_pfn;
		ok(all, "every page writable, none the zero page");
	}
	is_int(mm->min_flt - flt, 7, "faults: 6 none + the zero page's COW (page 3 was writable)");
	is_int(busy, 1, "the zero page's COW invalidated the range once: one EBUSY round");
	/* sticky in/out bits survive */
	pfns[0] = ZD_HMM_PFN_DMA_MAPPED;
	is_int(rf(a, 1, 0, 0), 0, "DMA_MAPPED in");
	ok((pfns[0] & ZD_HMM_PFN_DMA_MAPPED) && (pfns[0] & V), "... kept with the output");
	zd_vm_munmap(mm, a, 8 * ps);
}

static void busy_and_errors(void)
{
	uint64_t a = map(4 * ps, ZD_PROT_READ | ZD_PROT_WRITE), n, pn;
	struct zd_hmm_range r = { .notifier = &mn, .start = a, .end = a + 4 * ps, .hmm_pfns = pfns };
	struct zd_vm_area_struct *vma;
	unsigned long seq0 = zd_log_seq(m);

	access1(a, true);
	r.notifier_seq = zd_mmu_interval_read_begin(&mn);
	zd_do_madvise(mm, a, ps, ZD_MADV_DONTNEED);   /* the notifier sees it */
	zd_mmap_read_lock(mm);
	is_int(zd_hmm_range_fault(&r), -EBUSY, "a change after read_begin: EBUSY");
	zd_mmap_read_unlock(mm);
	r.start = a + 1;
	zd_mmap_read_lock(mm);
	is_int(zd_hmm_range_fault(&r), -EINVAL, "unaligned start: EINVAL");
	zd_mmap_read_unlock(mm);
	ok(tap_log_since(m, seq0, "unaligned"), "... logged");

	/* a hole between VMAs */
	memset(pfns, 0, sizeof(pfns));
	n = map(3 * ps, ZD_PROT_READ | ZD_PROT_WRITE);
	zd_vm_munmap(mm, n + ps, ps);
	is_int(rf(n, 3, 0, 0), 0, "snapshot over a hole");
	is_u64(pfns[1], ZD_HMM_PFN_ERROR, "the hole: ERROR");
	is_int(rf(n, 3, ZD_HMM_PFN_REQ_FAULT, 0), -EFAULT, "fault over a hole: EFAULT");
	is_u64(pfns[0], V | m->zero_pfn, "... the entry before it holds its output");
	zd_vm_munmap(mm, n, 3 * ps);

	/* PROT_NONE and VM_IO */
	pn = map(ps, ZD_PROT_NONE);
	is_int(rf(pn, 1, 0, 0), 0, "snapshot of PROT_NONE");
	is_u64(pfns[0], ZD_HMM_PFN_ERROR, "PROT_NONE: ERROR");
	is_int(rf(pn, 1, ZD_HMM_PFN_REQ_FAULT, 0), -EFAULT, "fault of PROT_NONE: EFAULT");
	zd_mmap_write_lock(mm);
	vma = zd_vma_lookup(mm, a);
	vma->vm_flags |= ZD_VM_IO;
	zd_mmap_write_unlock(mm);
	is_int(rf(a, 2, 0, 0), 0, "snapshot of VM_IO");
	ok(pfns[0] == ZD_HMM_PFN_ERROR && pfns[1] == ZD_HMM_PFN_ERROR, "VM_IO: ERROR for the span");
	is_int(rf(a, 1, ZD_HMM_PFN_REQ_FAULT, 0), -EFAULT, "fault of VM_IO: EFAULT");
	zd_mmap_write_lock(mm);
	vma->vm_flags &= ~ZD_VM_IO;
	zd_mmap_write_unlock(mm);
	zd_vm_munmap(mm, pn, ps);
	zd_vm_munmap(mm, a, 4 * ps);
}

/*
 * Device-private entries, installed by hand as migrate_vma would (its own
 * code came with migrate_device.c): the owner's page is reported with its pfn
 * (pfn design) or offset and DEVICE_PRIVATE (dpa), WRITE per the entry
 * type, and never faulted even for REQ_WRITE on a read entry; another
 * owner sees 0 (its fault-back: t_hmm_tests' double_map).
 */
static void device_private(enum zd_device_private_design design)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc md = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				      .device_private = design };
	struct zd_machine *save_m = m;
	struct zd_mm *save_mm = mm;
	struct zd_dmirror_desc g0 = { .name = "gpu0", .vram_size = ZD_DEVMEM_CHUNK_SIZE };
	struct zd_dmirror_desc g1 = { .name = "gpu1", .vram_size = ZD_DEVMEM_CHUNK_SIZE };
	struct zd_mmu_interval_notifier save_mn = mn;
	const char *dn = design == ZD_DEVICE_PRIVATE_DPA ? "dpa" : "pfn";
	struct zd_dmirror_device *d0, *d1;
	struct zd_page *dpage, *ptl;
	uint64_t a, off, *pte, want;
	struct zd_hmm_range r;

	m = zd_machine_create(&md);
	if (ZD_IS_ERR(m)) {
		fail("%s: boot: %s", dn, zd_machine_create_error());
		m = save_m;
		return;
	}
	mm = zd_mm_alloc(m);
	memset(&mn, 0, sizeof(mn));
	zd_mmu_interval_notifier_insert(&mn, mm, 0, 1ULL << 47, &ops);
	d0 = zd_dmirror_create(m, &g0);
	d1 = zd_dmirror_create(m, &g1);
	dpage = zd_dmirror_alloc_page(d0, 0);
	ok(dpage != NULL, "%s: a device page of gpu0", dn);
	off = design == ZD_DEVICE_PRIVATE_DPA ? zd_device_private_page_to_offset(dpage) :
						zd_page_to_pfn(m, dpage);
	a = map(ps, ZD_PROT_READ | ZD_PROT_WRITE);
	pte = zd_pte_alloc_map_lock(mm, a, &ptl);
	m->arch.pgtable->set_pte(pte, zd_make_device_private_entry(m, dpage, false));
	zd_pt_unlock(ptl);
	want = off | V | (design == ZD_DEVICE_PRIVATE_DPA ? ZD_HMM_PFN_DEVICE_PRIVATE : 0);
	r = (struct zd_hmm_range){ .notifier = &mn, .start = a, .end = a + ps, .hmm_pfns = pfns,
				   .dev_private_owner = d0,
				   .default_flags = ZD_HMM_PFN_REQ_FAULT | ZD_HMM_PFN_REQ_WRITE };
	r.notifier_seq = zd_mmu_interval_read_begin(&mn);
	zd_mmap_read_lock(mm);
	is_int(zd_hmm_range_fault(&r), 0, "%s: owner's read entry with REQ_WRITE: 0", dn);
	zd_mmap_read_unlock(mm);
	is_u64(pfns[0], want, "%s: VALID, no WRITE, never faulted; the %s and its flag", dn,
	       design == ZD_DEVICE_PRIVATE_DPA ? "offset" : "pfn");
	ok(zd_hmm_pfn_to_page(m, pfns[0]) == dpage, "%s: hmm_pfn_to_page finds the device page", dn);
	pte = zd_pte_offset_map_lock(mm, a, &ptl);
	m->arch.pgtable->set_pte(pte, zd_make_device_private_entry(m, dpage, true));
	zd_pt_unlock(ptl);
	r.default_flags = 0;
	r.notifier_seq = zd_mmu_interval_read_begin(&mn);
	zd_mmap_read_lock(mm);
	zd_hmm_range_fault(&r);
	is_u64(pfns[0], want | W, "%s: a write entry: VALID|WRITE", dn);
	r.dev_private_owner = d1;
	zd_hmm_range_fault(&r);
	is_u64(pfns[0], 0, "%s: another owner's snapshot: 0", dn);
	r.dev_private_owner = NULL;
	zd_hmm_range_fault(&r);
	is_u64(pfns[0], 0, "%s: no owner: 0", dn);
	zd_mmap_read_unlock(mm);
	/* REQ_FAULT by another owner faults it back through migrate_to_ram:
	 * with a real migration in t_hmm_tests (double_map); this hand-made
	 * entry has no anonymous mapping for the driver to migrate. */
	pte = zd_pte_offset_map_lock(mm, a, &ptl);
	m->arch.pgtable->set_pte(pte, (zd_pte_t){ 0 });
	zd_pt_unlock(ptl);
	zd_put_page(m, dpage);
	zd_mmu_interval_notifier_remove(&mn);
	zd_mmput(mm);
	zd_dmirror_destroy(d1);
	zd_dmirror_destroy(d0);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", dn);
	zd_machine_destroy(m);
	m = save_m;
	mm = save_mm;
	mn = save_mn;
}

int main(void)
{
	m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	ps = m->arch.page_size;
	hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	mm = zd_mm_alloc(m);
	is_int(zd_mmu_interval_notifier_insert(&mn, mm, 0, 1ULL << 47, &ops), 0, "notifier");
	kinds();
	requests();
	busy_and_errors();
	device_private(ZD_DEVICE_PRIVATE_PFN);
	device_private(ZD_DEVICE_PRIVATE_DPA);
	zd_mmu_interval_notifier_remove(&mn);
	zd_mmput(mm);
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
