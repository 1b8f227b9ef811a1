/*
 * The anonymous cases of the kernel's COW selftest
 * (tools/testing/selftests/mm/cow.c, anon_test_cases), ported to the
 * model: a "process" is a zd_mm, fork is zd_dup_mm, vmsplice's R/O GUP is
 * a read-only pin, an io_uring fixed buffer is a R/W FOLL_LONGTERM pin, and
 * "the child sees" is a read through the child's page tables. Each case
 * asserts the kernel's expected result (all pass on a current kernel):
 *  - Basic COW after fork() [with mprotect() optimization]: the parent's
 *    later write does not reach the child;
 *  - vmsplice() + unmap in child [with mprotect() optimization]: the
 *    child's pin keeps the bytes from before the parent's write;
 *  - vmsplice() before fork(), unmap in parent after fork(): the parent's
 *    pin does not see the child's write;
 *  - vmsplice() + unmap in parent after fork(): likewise, pinned after fork;
 *  - R/O-mapping a page registered as iouring fixed buffer: after
 *    mprotect(R/O) and back, a write lands in the pinned page;
 *  - fork() with an iouring fixed buffer: the parent's writes after fork
 *    land in the pinned page, the child's do not;
 *  - R/O GUP(-fast) pin on R/O-mapped shared / previously-shared /
 *    exclusive page: a write through the page table afterwards is seen
 *    through the pin.
 * Each runs on the memory kinds cow.c runs it on: a base page, a THP
 * (PMD-mapped), a PTE-mapped THP (split by an mprotect of one page and
 * back), a single PTE-mapped THP (all but its first page zapped), a
 * partially mremap()'ed THP (its second half moved away; the case uses the
 * first) and a partially shared THP (only its first page ever shared with
 * a child, which quit); the
 * THP kinds on x86_64 and arm64-4k, whose PMD is 2 MiB. Base pages also on
 * arm64-64k (a 64 KiB base page).
 */
#include <zonedev/zonedev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t ps, size, mapped;   /* base page, the bytes a case uses, the mapping */
static uint64_t moved;              /* the partially mremap()'ed THP's other half */
static const char *an;
static char *buf;

enum kind { BASE, THP, PTE_MAPPED_THP, SINGLE_PTE_THP, PARTIAL_MREMAP_THP, PARTIAL_SHARED_THP };
static enum kind kind;
static const char *const kind_names[] = { "base page", "THP", "PTE-mapped THP",
					  "single PTE-mapped THP", "partially mremap()'ed THP",
					  "partially shared THP" };

/* cow.c's run_with_*(): memory of the kind, populated with zeroes. A THP
 * is a PMD-aligned PMD of an MADV_HUGEPAGE mapping; size is what the
 * case then works on (one page for the single PTE-mapped THP). */
static uint64_t fresh(void)
{
	uint64_t hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	int64_t a;

	mapped = kind == BASE ? ps : hps;
	size = kind == BASE || kind == SINGLE_PTE_THP ? ps : kind == PARTIAL_MREMAP_THP ? hps / 2 : hps;
	a = zd_vm_mmap(mm, 0, mapped, ZD_PROT_READ | ZD_PROT_WRITE,
		       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	if (kind != BASE)
		zd_do_madvise(mm, (uint64_t)a, mapped, ZD_MADV_HUGEPAGE);
	memset(buf, 0, mapped);
	zd_access_vm(mm, (uint64_t)a, buf, mapped, true);   /* populate, contents 0 */
	if (kind == PTE_MAPPED_THP) {
		zd_do_mprotect(mm, (uint64_t)a + ps, ps, ZD_PROT_READ);
		zd_do_mprotect(mm, (uint64_t)a + ps, ps, ZD_PROT_READ | ZD_PROT_WRITE);
	} else if (kind == SINGLE_PTE_THP) {
		zd_do_madvise(mm, (uint64_t)a + ps, hps - ps, ZD_MADV_DONTNEED);
	} else if (kind == PARTIAL_MREMAP_THP) {
		/* the second half moves to a PROT_NONE placeholder; the case works
		 * on the first half, which stays in place (its munmap takes it) */
		int64_t to = zd_vm_mmap(mm, 0, hps / 2, ZD_PROT_NONE,
					ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
		zd_do_mremap(mm, (uint64_t)a + hps / 2, hps / 2, hps / 2,
			     ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED, (uint64_t)to);
		moved = (uint64_t)to;
	} else if (kind == PARTIAL_SHARED_THP) {
		/* only the first page was ever shared, with a child that quit */
		struct zd_mm *child;

		zd_do_madvise(mm, (uint64_t)a + ps, hps - ps, ZD_MADV_DONTFORK);
		child = zd_dup_mm(mm);
		zd_mmput(child);
		zd_do_madvise(mm, (uint64_t)a + ps, hps - ps, ZD_MADV_DOFORK);
	}
	return (uint64_t)a;
}

/* The case's memory goes, the moved half of a partial mremap too. */
static void release(uint64_t a)
{
	zd_vm_munmap(mm, a, mapped);
	if (moved)
		zd_vm_munmap(mm, moved, mapped / 2);
	moved = 0;
}

static void fill(struct zd_mm *p, uint64_t a, char c)
{
	memset(buf, c, size);
	zd_access_vm(p, a, buf, size, true);
}

static bool all_n(const char *b, char c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (b[i] != c)
			return false;
	return true;
}

static bool all(const char *b, char c)
{
	return all_n(b, c, ps);   /* a pinned page */
}

static bool reads_all(struct zd_mm *p, uint64_t a, char c)
{
	return zd_access_vm(p, a, buf, size, false) == 0 && all_n(buf, c, size);
}

static char *pinned(struct zd_page *page)
{
	return zd_page_address(m, page);
}

static void mprotect_dance(uint64_t a)
{
	zd_do_mprotect(mm, a, size, ZD_PROT_READ);
	zd_do_mprotect(mm, a, size, ZD_PROT_READ | ZD_PROT_WRITE);
}

static void cow_in_parent(bool mprot)
{
	uint64_t a = fresh();
	struct zd_mm *child = zd_dup_mm(mm);

	if (mprot)
		mprotect_dance(a);
	fill(mm, a, (char)0xff);
	ok(reads_all(child, a, 0), "%s: Basic COW after fork()%s", an,
	   mprot ? " with mprotect() optimization" : "");
	zd_mmput(child);
	release(a);
}

static long ro_pin(struct zd_mm *p, uint64_t a, struct zd_page **page, bool fast)
{
	if (fast)
		return zd_pin_user_pages_fast(p, a, 1, ZD_FOLL_LONGTERM, page);
	return zd_pin_user_pages_unlocked(p, a, 1, ZD_FOLL_LONGTERM, page);
}

static void vmsplice_in_child(bool mprot)
{
	uint64_t a = fresh();
	struct zd_mm *child = zd_dup_mm(mm);
	struct zd_page *page = NULL;

	bool got = ro_pin(child, a, &page, false) == 1;
	zd_vm_munmap(child, a, mapped);
	if (mprot)
		mprotect_dance(a);
	fill(mm, a, (char)0xff);
	ok(got && all(pinned(page), 0), "%s: vmsplice() + unmap in child%s", an,
	   mprot ? " with mprotect() optimization" : "");
	if (got)
		zd_unpin_user_page(m, page);
	zd_mmput(child);
	release(a);
}

static void vmsplice_around_fork(bool before)
{
	uint64_t a = fresh();
	struct zd_page *page = NULL;
	struct zd_mm *child;
	bool got = false;

	if (before)
		got = ro_pin(mm, a, &page, false) == 1;
	child = zd_dup_mm(mm);
	if (!before)
		got = ro_pin(mm, a, &page, false) == 1;
	release(a);
	fill(child, a, (char)0xff);
	ok(got && all(pinned(page), 0), "%s: vmsplice() %s", an,
	   before ? "before fork(), unmap in parent after fork()"
		  : "+ unmap in parent after fork()");
	if (got)
		zd_unpin_user_page(m, page);
	zd_mmput(child);
}

static void iouring(bool do_fork)
{
	uint64_t a = fresh();
	struct zd_page *page = NULL;
	struct zd_mm *child = NULL;
	bool got = zd_pin_user_pages_unlocked(mm, a, 1, ZD_FOLL_WRITE | ZD_FOLL_LONGTERM, &page) == 1;

	if (do_fork)
		child = zd_dup_mm(mm);
	else
		mprotect_dance(a);
	fill(mm, a, (char)0xff);
	bool seen = got && all(pinned(page), (char)0xff);
	if (child) {
		fill(child, a, 0x11);
		seen = seen && all(pinned(page), (char)0xff);
		zd_mmput(child);
	}
	ok(seen, "%s: %s", an, do_fork ? "fork() with an iouring fixed buffer"
				    : "R/O-mapping a page registered as iouring fixed buffer");
	if (got)
		zd_unpin_user_page(m, page);
	release(a);
}

enum ro_case { RO_SHARED, RO_PREVIOUSLY_SHARED, RO_EXCLUSIVE };

static void ro_pin_case(enum ro_case c, bool fast)
{
	static const char *const names[] = { "shared", "previously-shared", "exclusive" };
	uint64_t a = fresh();
	struct zd_mm *child = NULL;
	struct zd_page *page = NULL;

	if (c != RO_EXCLUSIVE)
		child = zd_dup_mm(mm);
	if (c == RO_PREVIOUSLY_SHARED) {
		zd_mmput(child);
		child = NULL;
	}
	zd_do_mprotect(mm, a, size, ZD_PROT_READ);
	bool got = ro_pin(mm, a, &page, fast) == 1;
	zd_do_mprotect(mm, a, size, ZD_PROT_READ | ZD_PROT_WRITE);
	fill(mm, a, (char)0xff);
	ok(got && all(pinned(page), (char)0xff) && (!child || reads_all(child, a, 0)),
	   "%s: R/O GUP%s pin on R/O-mapped %s page", an, fast ? "-fast" : "", names[c]);
	if (got)
		zd_unpin_user_page(m, page);
	if (child)
		zd_mmput(child);
	release(a);
}

static void one_arch(const char *arch, enum kind last)
{
	static char label[96];
	uint64_t free0, free1;

	m = tap_machine(arch, 0, 0, 1 * G, NULL, 0);
	if (!m)
		return;
	ps = m->arch.page_size;
	zd_meminfo_field(m, "MemFree", &free0);
	for (kind = BASE; kind <= last; kind++) {
		snprintf(label, sizeof(label), "%s with %s", arch, kind_names[kind]);
		an = label;
		mm = zd_mm_alloc(m);
		cow_in_parent(false);
		cow_in_parent(true);
		vmsplice_in_child(false);
		vmsplice_in_child(true);
		vmsplice_around_fork(true);
		vmsplice_around_fork(false);
		iouring(false);
		iouring(true);
		for (int c = RO_SHARED; c <= RO_EXCLUSIVE; c++) {
			ro_pin_case((enum ro_case)c, false);
			ro_pin_case((enum ro_case)c, true);
		}
		if (kind == THP)
			ok(m->thp_fault_alloc > 0, "%s: the cases ran on THPs", an);
		zd_mmput(mm);
	}
	/* the huge zero folio is never made here: every case writes first */
	zd_meminfo_field(m, "MemFree", &free1);
	is_u64(free1, free0, "%s: every page back", arch);
	is_u64(m->nr_foll_pin_acquired, m->nr_foll_pin_released, "%s: every pin released", arch);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", arch);
	zd_machine_destroy(m);
}

int main(void)
{
	buf = malloc(2 << 20);
	one_arch("x86_64", PARTIAL_SHARED_THP);
	one_arch("arm64-4k", PARTIAL_SHARED_THP);
	one_arch("arm64-64k", BASE);
	free(buf);
	return done_testing();
}
