/*
 * migrate_vma and CPU faults on device-private entries (issue 9, first
 * half), under both device-private designs on x86_64 and arm64-4k:
 *  - migrate_vma_setup's -EINVAL cases;
 *  - collect: holes and the zero page only in anonymous VMAs; another
 *    owner's device pages are not selected;
 *  - a process's bytes go to a dmirror device and every entry is a
 *    writable device-private entry whose type number and offset are the
 *    design's (pfn: 28 and the pfn; dpa: 25 and the device-private offset),
 *    shown as PM_SWAP by pagemap; a dpa offset used as a pfn WARNs;
 *  - a CPU read faults one page back (migrate_to_ram called once, PTE
 *    present again); GUP faults a page back and never returns a device
 *    page; a driver failure is SIGBUS (-EIO) for the CPU, -EFAULT for GUP;
 *  - a pinned page does not move (-ENOENT) until unpinned;
 *  - fork makes writable device entries readable in both; a write in the
 *    parent faults back and copies, the child keeps its bytes;
 *  - mprotect downgrades writable device entries; MADV_FREE leaves them,
 *    mremap moves them; eviction (migrate_device_range, _pfns) brings
 *    pages back without a VA; munmap gives every device page back
 *    (calloc == cfree);
 *  - make_device_exclusive: the entry (type per design, a pfn in both),
 *    fork restoring and copying it, a CPU write or read (after mprotect,
 *    which leaves it) restoring it, GUP restoring it, munmap dropping it,
 *    -EBUSY for shared memory.
 */
#include "tap.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <zonedev/migrate.h>
#include <zonedev/swapops.h>
#include <zonedev/test_hmm.h>

#define G (1ULL << 30)
#define NP 16

static uint64_t PS;

static void fill(struct zd_mm *mm, uint64_t a, unsigned pg, unsigned char v)
{
	unsigned char buf[1 << 16];

	memset(buf, v, PS);
	zd_access_vm(mm, a + pg * PS, buf, PS, true);
}

/* Does page pg read back as all v? */
static bool holds(struct zd_mm *mm, uint64_t a, unsigned pg, unsigned char v)
{
	unsigned char buf[1 << 16];

	if (zd_access_vm(mm, a + pg * PS, buf, PS, false))
		return false;
	for (uint64_t i = 0; i < PS; i++)
		if (buf[i] != v)
			return false;
	return true;
}

/* The softleaf kind at addr (present: -1, none: -2), its page. */
static int kind_at(struct zd_machine *m, struct zd_mm *mm, uint64_t addr, struct zd_page **page,
		   zd_pte_t *out)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	enum zd_pt_level level;
	zd_pte_t e = zd_follow_pte(mm, addr, &level, page);

	if (out)
		*out = e;
	if (o->pte_none(&m->arch, e))
		return -2;
	if (o->pte_present(&m->arch, e))
		return -1;
	return (int)zd_softleaf_from_pte(m, e, page);
}

static unsigned count_kind(struct zd_machine *m, struct zd_mm *mm, uint64_t a, int k)
{
	struct zd_page *p;
	unsigned n = 0;

	for (unsigned i = 0; i < NP; i++)
		n += kind_at(m, mm, a + i * PS, &p, NULL) == k;
	return n;
}

static void setup_errors(struct zd_machine *m, struct zd_mm *mm, uint64_t a,
			 struct zd_dmirror_device *g, const char *tag)
{
	unsigned long src[NP], dst[NP];
	struct zd_vm_area_struct *vma;
	struct zd_migrate_vma args;
	struct zd_page *sys;

	zd_mmap_read_lock(mm);
	vma = zd_vma_lookup(mm, a);
#define TRY(field_setup, what) do { \
		memset(&args, 0, sizeof(args)); \
		args.vma = vma; args.start = a; args.end = a + NP * PS; args.src = src; \
		args.dst = dst; args.flags = ZD_MIGRATE_VMA_SELECT_SYSTEM; args.pgmap_owner = g; \
		field_setup; \
		is_int(zd_migrate_vma_setup(m, &args), -EINVAL, "%s: setup: %s", tag, what); \
	} while (0)
	TRY(args.vma = NULL, "no vma");
	TRY(args.end = a, "empty range");
	TRY(args.start = a - PS, "start outside the vma");
	TRY(args.end = a + (NP + 1) * PS, "end outside the vma");
	TRY(args.src = NULL, "no src");
	TRY(args.dst = NULL, "no dst");
	sys = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
	zd_lock_page(sys);
	TRY(args.fault_page = sys, "fault_page not device-private");
	zd_unlock_page(sys);
	zd___free_pages(m, sys, 0);
	struct zd_page *dp = zd_dmirror_alloc_page(g, 0);
	zd_unlock_page(dp);
	TRY(args.fault_page = dp, "fault_page not locked");
	zd_put_page(m, dp);
#undef TRY
	zd_mmap_read_unlock(mm);
}

/* make_device_exclusive() and its entries (spec hmm.md 1.2, 1.3, 1.4, 1.7). */
static void exclusive_cases(struct zd_machine *m, struct zd_dmirror_device *g, const char *tag)
{
	struct zd_mm *mm = zd_mm_alloc(m), *child;
	struct zd_page *page, *p, *pages[1], *folio;
	uint64_t a, sh;
	zd_pte_t e;

	a = (uint64_t)zd_vm_mmap(mm, 0, 4 * PS, ZD_PROT_READ | ZD_PROT_WRITE,
				 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	for (unsigned i = 0; i < 4; i++)
		fill(mm, a, i, (unsigned char)(0x70 + i));
	zd_mmap_read_lock(mm);
	page = zd_make_device_exclusive(mm, a, g, &folio);
	zd_mmap_read_unlock(mm);
	if (!ok(!ZD_IS_ERR(page), "%s: make_device_exclusive", tag))
		return;
	ok(folio == page && zd_test_page_flag(folio, ZD_PG_locked),
	   "%s: ... returns the page's folio locked", tag);
	zd_unlock_page(folio);
	zd_put_page(m, folio);
	is_int(kind_at(m, mm, a, &p, &e), ZD_SOFTLEAF_DEVICE_EXCLUSIVE,
	       "%s: the PTE is a device-exclusive entry", tag);
	is_int(m->arch.pgtable->swp_type(&m->arch, e), m->device_private == ZD_DEVICE_PRIVATE_DPA ?
	       27 : 30, "%s: SWP_DEVICE_EXCLUSIVE's number", tag);
	ok(p == page && m->arch.pgtable->swp_offset(&m->arch, e) == zd_page_to_pfn(m, page),
	   "%s: ... holding the pfn (in both designs)", tag);
	is_int(zd_page_mapcount(page), 1, "%s: ... and the page stays mapped", tag);
	is_int(mm->rss_stat[ZD_MM_ANONPAGES], 4, "%s: ... and counted", tag);

	/* fork restores the PTE and copies it */
	child = zd_dup_mm(mm);
	is_int(kind_at(m, mm, a, &p, NULL), -1, "%s: fork restored the parent's PTE", tag);
	fill(mm, a, 0, 0xee);
	ok(holds(mm, a, 0, 0xee) && holds(child, a, 0, 0x70),
	   "%s: ... a COW copy: the child keeps its bytes", tag);
	zd_mmput(child);

	/* a CPU write takes exclusivity back */
	zd_mmap_read_lock(mm);
	page = zd_make_device_exclusive(mm, a + PS, g, &folio);
	zd_mmap_read_unlock(mm);
	if (!ZD_IS_ERR(page)) {
		zd_unlock_page(folio);
		zd_put_page(m, folio);
	}
	fill(mm, a, 1, 0x55);
	ok(kind_at(m, mm, a + PS, &p, &e) == -1 && p == page &&
	   (m->arch.pgtable->leaf_prot(&m->arch, e) & ZD_PTE_WRITE) && holds(mm, a, 1, 0x55),
	   "%s: a CPU write restores the same page writable", tag);

	/* mprotect leaves it; a read then restores it read-only */
	zd_mmap_read_lock(mm);
	page = zd_make_device_exclusive(mm, a + 2 * PS, g, &folio);
	zd_mmap_read_unlock(mm);
	if (!ZD_IS_ERR(page)) {
		zd_unlock_page(folio);
		zd_put_page(m, folio);
	}
	is_int(zd_do_mprotect(mm, a, 4 * PS, ZD_PROT_READ), 0, "%s: mprotect(READ)", tag);
	is_int(kind_at(m, mm, a + 2 * PS, &p, NULL), ZD_SOFTLEAF_DEVICE_EXCLUSIVE,
	       "%s: ... leaves the device-exclusive entry", tag);
	ok(holds(mm, a, 2, 0x72) && kind_at(m, mm, a + 2 * PS, &p, &e) == -1 &&
	   !(m->arch.pgtable->leaf_prot(&m->arch, e) & ZD_PTE_WRITE),
	   "%s: a read restores it read-only", tag);
	zd_do_mprotect(mm, a, 4 * PS, ZD_PROT_READ | ZD_PROT_WRITE);

	/* GUP faults it back; munmap drops it */
	zd_mmap_read_lock(mm);
	page = zd_make_device_exclusive(mm, a + 3 * PS, g, &folio);
	zd_mmap_read_unlock(mm);
	if (!ZD_IS_ERR(page)) {
		zd_unlock_page(folio);
		zd_put_page(m, folio);
	}
	is_int(zd_get_user_pages_unlocked(mm, a + 3 * PS, 1, 0, pages), 1, "%s: GUP", tag);
	ok(pages[0] == page && kind_at(m, mm, a + 3 * PS, &p, NULL) == -1,
	   "%s: ... restored the PTE and returned the page", tag);
	zd_put_page(m, pages[0]);
	zd_mmap_read_lock(mm);
	page = zd_make_device_exclusive(mm, a + 3 * PS, g, &folio);
	zd_mmap_read_unlock(mm);
	if (!ZD_IS_ERR(page)) {
		zd_unlock_page(folio);
		zd_put_page(m, folio);
	}
	is_int(zd_vm_munmap(mm, a, 4 * PS), 0, "%s: munmap", tag);
	is_int(mm->rss_stat[ZD_MM_ANONPAGES], 0, "%s: ... rss 0 (the exclusive entry too)", tag);

	/* not anonymous: -EBUSY */
	sh = (uint64_t)zd_vm_mmap(mm, 0, PS, ZD_PROT_READ | ZD_PROT_WRITE,
				  ZD_MAP_SHARED | ZD_MAP_ANONYMOUS, NULL, 0);
	zd_mmap_read_lock(mm);
	page = zd_make_device_exclusive(mm, sh, g, &folio);
	zd_mmap_read_unlock(mm);
	is_int(ZD_IS_ERR(page) ? ZD_PTR_ERR(page) : 0, -EBUSY,
	       "%s: shared memory cannot be made exclusive", tag);
	zd_mmput(mm);
}

static void run(const char *arch, enum zd_device_private_design design)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = arch, .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .device_private = design };
	struct zd_machine *m = zd_machine_create(&d);
	const char *tag = design == ZD_DEVICE_PRIVATE_DPA ? "dpa" : "pfn";
	char t[64];
	struct zd_dmirror_desc gd = { .name = "gpu0", .vram_size = 256ULL << 20 };
	struct zd_dmirror_desc gd1 = { .name = "gpu1", .vram_size = 256ULL << 20 };
	struct zd_dmirror_device *g, *g1;
	struct zd_dmirror_stats st;
	struct zd_mm *mm, *child;
	struct zd_page *page, *pages[1];
	uint64_t a, sh, cp = 0, pme[NP];
	zd_pte_t e;
	int k;

	snprintf(t, sizeof(t), "%s %s", arch, design == ZD_DEVICE_PRIVATE_DPA ? "dpa" : "pfn");
	tag = t;
	if (!ok(!ZD_IS_ERR(m), "%s: boots", tag))
		return;
	PS = m->arch.page_size;
	g = zd_dmirror_create(m, &gd);
	g1 = zd_dmirror_create(m, &gd1);
	mm = zd_mm_alloc(m);
	if (!ok(!ZD_IS_ERR(g) && !ZD_IS_ERR(g1) && !ZD_IS_ERR(mm), "%s: devices and a process",
		tag))
		return;
	a = (uint64_t)zd_vm_mmap(mm, 0, NP * PS, ZD_PROT_READ | ZD_PROT_WRITE,
				 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	for (unsigned i = 0; i < NP - 2; i++)
		fill(mm, a, i, (unsigned char)(0x40 + i));
	holds(mm, a, NP - 1, 0);   /* the zero page; page NP-2 stays a hole */
	setup_errors(m, mm, a, g, tag);

	/* collect: a shared anonymous VMA's holes are not migratable */
	sh = (uint64_t)zd_vm_mmap(mm, 0, 4 * PS, ZD_PROT_READ | ZD_PROT_WRITE,
				  ZD_MAP_SHARED | ZD_MAP_ANONYMOUS, NULL, 0);
	is_int(zd_dmirror_migrate_to_dev(g, mm, sh, 4, &cp), -ENOENT,
	       "%s: a shared anonymous range cannot go to the device", tag);
	is_int(count_kind(m, mm, sh, ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE), 0,
	       "%s: ... and nothing of it is on the device", tag);

	/* to the device */
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NP, &cp), 0, "%s: MIGRATE_TO_DEV", tag);
	is_int(cp, NP, "%s: cpages = npages (holes and the zero page included)", tag);
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE), NP,
	       "%s: every entry is a writable device-private entry", tag);
	k = kind_at(m, mm, a + 3 * PS, &page, &e);
	is_int(m->arch.pgtable->swp_type(&m->arch, e),
	       design == ZD_DEVICE_PRIVATE_DPA ? 25 : 28, "%s: SWP_DEVICE_WRITE's number", tag);
	is_int(zd_max_swapfiles(m), design == ZD_DEVICE_PRIVATE_DPA ? 21 : 24,
	       "%s: MAX_SWAPFILES", tag);
	if (design == ZD_DEVICE_PRIVATE_DPA) {
		is_int(m->arch.pgtable->swp_offset(&m->arch, e), zd_device_private_page_to_offset(page),
		       "%s: the offset field holds the device-private offset", tag);
		unsigned long w = zd_warn_count(m);
		is_u64(zd_softleaf_pfn(m, k, m->arch.pgtable->swp_offset(&m->arch, e)), ZD_BAD_PFN,
		       "%s: the offset is no pfn", tag);
		is_int(zd_warn_count(m), w + 1, "%s: ... and using it as one WARNs", tag);
		is_int(zd_migrate_pfn_from_page(m, page) & ZD_MIGRATE_PFN_DEVICE_PRIVATE,
		       ZD_MIGRATE_PFN_DEVICE_PRIVATE, "%s: its mpfn says DEVICE_PRIVATE", tag);
	} else {
		is_int(m->arch.pgtable->swp_offset(&m->arch, e), zd_page_to_pfn(m, page),
		       "%s: the offset field holds the pfn", tag);
	}
	is_int(zd_pagemap_read(mm, (a / PS) * 8, pme, sizeof(pme)), (long)sizeof(pme),
	       "%s: pagemap reads", tag);
	ok((pme[3] >> 62 & 3) == 1 && (pme[3] & 31) == m->arch.pgtable->swp_type(&m->arch, e) &&
	   ((pme[3] & ((1ULL << 55) - 1)) >> 5) == m->arch.pgtable->swp_offset(&m->arch, e),
	   "%s: pagemap shows PM_SWAP with the entry's type and offset", tag);
	zd_dmirror_get_stats(g, &st);
	is_int(st.calloc - st.cfree, NP, "%s: %d device pages in use", tag, NP);
	is_int(mm->rss_stat[ZD_MM_ANONPAGES], NP, "%s: rss counts the device pages", tag);

	/* another owner selects nothing */
	is_int(zd_dmirror_migrate_to_sys(g1, mm, a, NP, &cp), 0, "%s: gpu1's MIGRATE_TO_SYS", tag);
	is_int(cp, 0, "%s: ... moves none of gpu0's pages", tag);

	/* CPU fault */
	ok(holds(mm, a, 3, 0x43), "%s: a CPU read of a device page sees its bytes", tag);
	zd_dmirror_get_stats(g, &st);
	is_int(st.migrate_to_ram, 1, "%s: through one migrate_to_ram", tag);
	is_int(kind_at(m, mm, a + 3 * PS, &page, NULL), -1, "%s: the PTE is present again", tag);
	ok(page && !zd_is_zone_device_page(page), "%s: ... mapping a system page", tag);

	/* GUP */
	is_int(zd_get_user_pages_unlocked(mm, a + 4 * PS, 1, 0, pages), 1, "%s: GUP", tag);
	ok(!zd_is_zone_device_page(pages[0]), "%s: GUP returns a system page, not the device's",
	   tag);
	zd_dmirror_get_stats(g, &st);
	is_int(st.migrate_to_ram, 2, "%s: GUP faulted it back", tag);
	zd_put_page(m, pages[0]);

	/* driver failure */
	zd_dmirror_set_flags(g, ZD_DMIRROR_FLAG_FAIL_FAULT);
	unsigned char c;
	is_int(zd_access_vm(mm, a + 5 * PS, &c, 1, false), -EIO,
	       "%s: migrate_to_ram failure: SIGBUS for the CPU", tag);
	zd_dmirror_set_flags(g, ZD_DMIRROR_FLAG_FAIL_FAULT);
	is_int(zd_get_user_pages_unlocked(mm, a + 5 * PS, 1, 0, pages), -EFAULT,
	       "%s: ... -EFAULT for GUP", tag);
	is_int(kind_at(m, mm, a + 5 * PS, &page, NULL), ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE,
	       "%s: ... the page stays on the device", tag);

	/* back to the system */
	is_int(zd_dmirror_migrate_to_sys(g, mm, a, NP, &cp), 0, "%s: MIGRATE_TO_SYS", tag);
	is_int(cp, NP - 2, "%s: cpages = the pages still on the device", tag);
	bool all = true;
	for (unsigned i = 0; i < NP - 2; i++)
		all &= holds(mm, a, i, (unsigned char)(0x40 + i));
	ok(all && holds(mm, a, NP - 2, 0) && holds(mm, a, NP - 1, 0),
	   "%s: every byte survived the round trip", tag);
	zd_dmirror_get_stats(g, &st);
	is_int(st.calloc - st.cfree, 0, "%s: all device pages came back to the device", tag);

	/* pins */
	is_int(zd_pin_user_pages_unlocked(mm, a, 1, ZD_FOLL_WRITE, pages), 1, "%s: pin page 0",
	       tag);
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NP, &cp), -ENOENT,
	       "%s: a pinned page does not move", tag);
	is_int(kind_at(m, mm, a, &page, NULL), -1, "%s: ... it is still mapped", tag);
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE), NP - 1,
	       "%s: ... the others moved", tag);
	zd_unpin_user_page(m, pages[0]);
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NP, &cp), 0, "%s: unpinned, it moves", tag);

	/* fork */
	child = zd_dup_mm(mm);
	if (ok(!ZD_IS_ERR(child), "%s: fork", tag)) {
		is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_READ), NP,
		       "%s: the parent's device entries are read-only now", tag);
		is_int(count_kind(m, child, a, ZD_SOFTLEAF_DEVICE_PRIVATE_READ), NP,
		       "%s: ... and the child's", tag);
		kind_at(m, mm, a + PS, &page, NULL);
		is_int(zd_page_mapcount(page), 2, "%s: a device page is mapped twice", tag);
		fill(mm, a, 1, 0x99);
		ok(holds(mm, a, 1, 0x99) && holds(child, a, 1, 0x41),
		   "%s: a parent write faults back and copies; the child keeps its bytes", tag);
		ok(holds(child, a, 2, 0x42), "%s: the child faults its own read back", tag);
		zd_mmput(child);
	}

	/* mprotect downgrades */
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NP, &cp), 0, "%s: to the device again", tag);
	/* pages fork left read-only on the device stay so (SELECT_SYSTEM only);
	 * page 1, the parent's private copy, went as writable */
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE), 1,
	       "%s: one writable device entry (the parent's copy)", tag);
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_READ), NP - 1,
	       "%s: the rest readable, as fork left them", tag);
	is_int(zd_do_mprotect(mm, a, NP * PS, ZD_PROT_READ), 0, "%s: mprotect(READ)", tag);
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_READ), NP,
	       "%s: mprotect made the writable one readable", tag);
	is_int(zd_do_mprotect(mm, a, NP * PS, ZD_PROT_READ | ZD_PROT_WRITE), 0,
	       "%s: mprotect(READ|WRITE)", tag);
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_READ), NP,
	       "%s: ... which upgrades no device entry", tag);
	fill(mm, a, 6, 0x66);
	ok(holds(mm, a, 6, 0x66), "%s: a write faults the page back and writes", tag);

	/* MADV_FREE leaves device entries alone; mremap moves them */
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NP, &cp), 0, "%s: all on the device", tag);
	is_int(zd_do_madvise(mm, a, NP * PS, ZD_MADV_FREE), 0, "%s: MADV_FREE", tag);
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_READ) +
	       count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE), NP,
	       "%s: ... left every device entry", tag);
	uint64_t na = a - 64 * PS;
	is_int(zd_do_mremap(mm, a, NP * PS, NP * PS, ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED, na),
	       (int64_t)na, "%s: mremap to a new address", tag);
	a = na;
	is_int(count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_READ) +
	       count_kind(m, mm, a, ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE), NP,
	       "%s: the device entries moved with it", tag);
	ok(holds(mm, a, 7, 0x47), "%s: a fault at the new address brings page 7 back", tag);

	/* eviction without a VA (migrate_device_range) */
	is_int(zd_dmirror_evict(g), NP - 1, "%s: evict: every device page in use", tag);
	is_int(count_kind(m, mm, a, -1), NP, "%s: ... is a present system page again", tag);
	all = true;
	for (unsigned i = 0; i < NP; i++)
		all &= holds(mm, a, i, i == 1 ? 0x99 : i == 6 ? 0x66 : i >= NP - 2 ? 0 :
			     (unsigned char)(0x40 + i));
	ok(all, "%s: ... with every byte", tag);
	zd_dmirror_get_stats(g, &st);
	is_int(st.calloc - st.cfree, 0, "%s: ... and the device has all its pages back", tag);
	is_int(zd_dmirror_migrate_to_dev(g, mm, a, NP, &cp), 0, "%s: and takes them again", tag);

	/* migrate_device_pfns(): one page named by its mpfn, no VA */
	{
		unsigned long src[1], dst[1];
		struct zd_page *sp;

		kind_at(m, mm, a + 6 * PS, &page, NULL);
		src[0] = zd_migrate_pfn_from_page(m, page);
		is_int(zd_migrate_device_pfns(m, src, 1), 0, "%s: migrate_device_pfns", tag);
		ok(zd_migrate_pfn_to_page(m, src[0]) == page && (src[0] & ZD_MIGRATE_PFN_MIGRATE),
		   "%s: ... collects the page", tag);
		is_int(kind_at(m, mm, a + 6 * PS, &sp, NULL),
		       ZD_SOFTLEAF_MIGRATION_WRITE + (design == ZD_DEVICE_PRIVATE_DPA ?
			ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ - ZD_SOFTLEAF_MIGRATION_READ : 0),
		       "%s: ... its PTE is the design's writable migration entry", tag);
		sp = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE, 0);
		zd_lock_page(sp);
		zd_dmirror_copy_from_device(g, page, zd_page_address(m, sp), PS);
		dst[0] = zd_migrate_pfn_from_page(m, sp);
		zd_migrate_device_pages(m, src, dst, 1);
		zd_migrate_device_finalize(m, src, dst, 1);
		ok(kind_at(m, mm, a + 6 * PS, &page, NULL) == -1 && page == sp &&
		   holds(mm, a, 6, 0x66), "%s: ... and finalize maps the system copy", tag);
	}

	/* munmap gives device pages back */
	is_int(zd_vm_munmap(mm, a, NP * PS), 0, "%s: munmap", tag);
	zd_dmirror_get_stats(g, &st);
	is_int(st.calloc - st.cfree, 0, "%s: munmap freed every device page", tag);
	is_int(mm->rss_stat[ZD_MM_ANONPAGES], 0, "%s: rss is 0", tag);
	is_int(zd_warn_count(m), design == ZD_DEVICE_PRIVATE_DPA ? 1 : 0,
	       "%s: no other WARN", tag);
	exclusive_cases(m, g, tag);
	if (getenv("ZD_DEBUG"))
		zd_log_dump(m, stderr, ZD_LOG_DEBUG);
	zd_mmput(mm);
	zd_dmirror_destroy(g);
	zd_dmirror_destroy(g1);
	zd_machine_destroy(m);
}

int main(void)
{
	run("x86_64", ZD_DEVICE_PRIVATE_PFN);
	run("x86_64", ZD_DEVICE_PRIVATE_DPA);
	run("arm64-4k", ZD_DEVICE_PRIVATE_PFN);
	run("arm64-4k", ZD_DEVICE_PRIVATE_DPA);
	return done_testing();
}
