/*
 * The anonymous base-page cases of the kernel's COW selftest
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
 * Run for x86_64 and arm64-64k (a 64 KiB base page).
 */
#include <zonedev/zonedev.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)

static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t ps;
static const char *an;

static uint64_t fresh(void)
{
	int64_t a = zd_vm_mmap(mm, 0, ps, ZD_PROT_READ | ZD_PROT_WRITE,
			       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	static char zeros[1];

	zd_access_vm(mm, (uint64_t)a, zeros, 1, true);   /* populate, contents 0 */
	return (uint64_t)a;
}

static void fill(struct zd_mm *p, uint64_t a, char c)
{
	static char buf[65536];

	memset(buf, c, ps);
	zd_access_vm(p, a, buf, ps, true);
}

static bool all(const char *b, char c)
{
	for (uint64_t i = 0; i < ps; i++)
		if (b[i] != c)
			return false;
	return true;
}

static bool reads_all(struct zd_mm *p, uint64_t a, char c)
{
	static char buf[65536];

	return zd_access_vm(p, a, buf, ps, false) == 0 && all(buf, c);
}

static char *pinned(struct zd_page *page)
{
	return zd_page_address(m, page);
}

static void mprotect_dance(uint64_t a)
{
	zd_do_mprotect(mm, a, ps, ZD_PROT_READ);
	zd_do_mprotect(mm, a, ps, ZD_PROT_READ | ZD_PROT_WRITE);
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
	zd_vm_munmap(mm, a, ps);
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
	zd_vm_munmap(child, a, ps);
	if (mprot)
		mprotect_dance(a);
	fill(mm, a, (char)0xff);
	ok(got && all(pinned(page), 0), "%s: vmsplice() + unmap in child%s", an,
	   mprot ? " with mprotect() optimization" : "");
	if (got)
		zd_unpin_user_page(m, page);
	zd_mmput(child);
	zd_vm_munmap(mm, a, ps);
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
	zd_vm_munmap(mm, a, ps);
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
	zd_vm_munmap(mm, a, ps);
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
	zd_do_mprotect(mm, a, ps, ZD_PROT_READ);
	bool got = ro_pin(mm, a, &page, fast) == 1;
	zd_do_mprotect(mm, a, ps, ZD_PROT_READ | ZD_PROT_WRITE);
	fill(mm, a, (char)0xff);
	ok(got && all(pinned(page), (char)0xff) && (!child || reads_all(child, a, 0)),
	   "%s: R/O GUP%s pin on R/O-mapped %s page", an, fast ? "-fast" : "", names[c]);
	if (got)
		zd_unpin_user_page(m, page);
	if (child)
		zd_mmput(child);
	zd_vm_munmap(mm, a, ps);
}

static void one_arch(const char *arch)
{
	uint64_t free0, free1;

	an = arch;
	m = tap_machine(arch, 0, 0, 1 * G, NULL, 0);
	if (!m)
		return;
	ps = m->arch.page_size;
	zd_meminfo_field(m, "MemFree", &free0);
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
	zd_mmput(mm);
	zd_meminfo_field(m, "MemFree", &free1);
	is_u64(free1, free0, "%s: every page back", arch);
	is_u64(m->nr_foll_pin_acquired, m->nr_foll_pin_released, "%s: every pin released", arch);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", arch);
	zd_machine_destroy(m);
}

int main(void)
{
	one_arch("x86_64");
	one_arch("arm64-64k");
	return done_testing();
}
