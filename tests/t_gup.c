/*
 * GUP (mm/gup.c) on private and shared anonymous memory:
 *  - argument rules: internal flags, GET with PIN, LONGTERM without PIN,
 *    no pages array, LONGTERM with PCI_P2PDMA, *locked not 1 are -EINVAL
 *    with one WARN each; 0 pages is 0;
 *  - VMA rules: no VMA -EFAULT, a range running into a hole is short,
 *    a write to a read-only VMA -EFAULT, FOLL_ANON on shared memory
 *    -EFAULT, FOLL_NOFAULT on an untouched page -EFAULT;
 *  - FOLL_FORCE writes a read-only private mapping through a private copy
 *    the process then reads, while its own writes still get SIGSEGV; a
 *    forced read of PROT_NONE memory returns its page;
 *  - GET: a read of untouched memory returns the zero page, a write
 *    faults in a page (refcount 2, mapcount 1), put_page returns it;
 *  - PIN: refcount + 1024, folio_maybe_dma_pinned, the vmstat pin
 *    counters, unpin restores; a pin of the zero page counts nothing;
 *    unpin_user_pages_dirty_lock marks the page dirty;
 *  - a read-only pin of a page shared with a fork child unshares it: the
 *    parent gets its own exclusive copy (still read-only), the child keeps
 *    the old page, the bytes are the same;
 *  - PIN then fork (cow.c): the child gets a copy, the pinned page stays
 *    the parent's and sees its later writes, the child's writes do not
 *    reach it; DONTNEED after a pin keeps the pinned page alive with its
 *    bytes until unpin, and the next touch maps a fresh page;
 *  - the fast forms: pin_user_pages_fast on mapped pages and on
 *    untouched ones (fallback), get_user_pages_fast_only on untouched
 *    memory returns 0 (no fallback), the zero page (special) through the
 *    fallback;
 *  - FOLL_LONGTERM: a pin of a ZONE_NORMAL page holds; a short-term pin of
 *    a ZONE_MOVABLE page stays on it, a long-term one migrates it to a
 *    kernel zone first (bytes kept, the process maps the pinned page).
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PS 4096ULL

static struct zd_machine *m;
static struct zd_mm *mm;

static uint64_t map(uint64_t len, unsigned long prot, unsigned long flags)
{
	int64_t a = zd_vm_mmap(mm, 0, len, prot, flags | ZD_MAP_ANONYMOUS, NULL, 0);

	return a < 0 ? 0 : (uint64_t)a;
}

static long gup(uint64_t addr, unsigned long n, unsigned flags, struct zd_page **pages, bool pin)
{
	return pin ? zd_pin_user_pages_unlocked(mm, addr, n, flags, pages)
		   : zd_get_user_pages_unlocked(mm, addr, n, flags, pages);
}

static bool reads(struct zd_mm *p, uint64_t addr, const char *s)
{
	char buf[32] = { 0 };

	return zd_access_vm(p, addr, buf, strlen(s) + 1, false) == 0 && !strcmp(buf, s);
}

static void put(struct zd_mm *p, uint64_t addr, const char *s)
{
	zd_access_vm(p, addr, (void *)s, strlen(s) + 1, true);
}

static char *bytes(struct zd_page *page)
{
	return zd_page_address(m, page);
}

static void arguments(void)
{
	uint64_t a = map(4 * PS, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	struct zd_page *pages[4];
	uint64_t w0 = zd_warn_count(m);
	int locked = 0;

	is_int(zd_pin_user_pages_fast(mm, a, 1, ZD_FOLL_PIN, pages), -EINVAL,
		"args: an internal flag (FOLL_PIN) is EINVAL");
	is_int(gup(a, 1, ZD_FOLL_LONGTERM, pages, false), -EINVAL,
		"args: FOLL_LONGTERM without PIN is EINVAL");
	is_int(gup(a, 1, 0, NULL, true), -EINVAL, "args: no pages array is EINVAL");
	is_int(gup(a, 1, ZD_FOLL_LONGTERM | ZD_FOLL_PCI_P2PDMA, pages, true), -EINVAL,
		"args: LONGTERM with PCI_P2PDMA is EINVAL");
	zd_mmap_read_lock(mm);
	is_int(zd_get_user_pages_remote(mm, a, 1, 0, pages, &locked), -EINVAL,
		"args: *locked 0 is EINVAL");
	locked = 1;
	is_int(zd_get_user_pages_remote(mm, a, 0, 0, pages, &locked), 0, "args: 0 pages is 0");
	zd_mmap_read_unlock(mm);
	is_u64(zd_warn_count(m) - w0, 5, "args: each refusal WARNed");
	is_int(gup(0x10000, 1, 0, pages, false), -EFAULT, "vma: no VMA is EFAULT");
	is_int(gup(a + 2 * PS, 4, ZD_FOLL_WRITE, pages, false), 2,
		"vma: a range running into a hole is short (2 of 4)");
	zd_put_page(m, pages[0]);
	zd_put_page(m, pages[1]);
	is_int(gup(a + PS, 1, ZD_FOLL_NOFAULT, pages, false), -EFAULT,
		"vma: FOLL_NOFAULT on an untouched page is EFAULT");
	zd_vm_munmap(mm, a, 4 * PS);
}

static void force(void)
{
	uint64_t ro = map(PS, ZD_PROT_READ, ZD_MAP_PRIVATE);
	uint64_t none = map(PS, ZD_PROT_NONE, ZD_MAP_PRIVATE);
	uint64_t sh = map(PS, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED);
	struct zd_page *page;

	is_int(gup(ro, 1, ZD_FOLL_WRITE, &page, false), -EFAULT,
		"force: a write to a read-only VMA is EFAULT");
	if (is_int(gup(ro, 1, ZD_FOLL_WRITE | ZD_FOLL_FORCE, &page, false), 1,
		    "force: FOLL_FORCE writes it")) {
		strcpy(bytes(page), "forced");
		ok(reads(mm, ro, "forced"), "force: the process reads what was written");
		ok(tap_pfn_at(mm, ro) == zd_page_to_pfn(m, page) && tap_pfn_at(mm, ro) != m->zero_pfn,
		   "force: through a private copy of its own");
		is_int(zd_access_vm(mm, ro, "x", 1, true), -EFAULT,
		       "force: its own writes still get SIGSEGV");
		zd_put_page(m, page);
	}
	is_int(gup(none, 1, ZD_FOLL_FORCE, &page, false), 1,
		"force: a forced read of PROT_NONE memory returns its page");
	if (page)
		zd_put_page(m, page);
	is_int(gup(sh, 1, ZD_FOLL_ANON, &page, false), -EFAULT,
		"anon: FOLL_ANON on shared memory is EFAULT");
	is_int(gup(sh, 1, ZD_FOLL_WRITE, &page, false), 1, "anon: without it GUP works there");
	zd_put_page(m, page);
	zd_vm_munmap(mm, ro, PS);
	zd_vm_munmap(mm, none, PS);
	zd_vm_munmap(mm, sh, PS);
}

static void get_and_pin(void)
{
	uint64_t a = map(4 * PS, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	struct zd_page *page, *zero = zd_pfn_to_page(m, m->zero_pfn), *pages[2];
	int zref = zd_page_ref_count(zero);
	unsigned long acq = m->nr_foll_pin_acquired, rel = m->nr_foll_pin_released;

	is_int(gup(a, 1, 0, &page, false), 1, "get: a read of untouched memory");
	ok(page == zero && zd_page_ref_count(zero) == zref + 1, "get: is the zero page, referenced");
	zd_put_page(m, page);
	is_int(gup(a, 1, ZD_FOLL_WRITE, &page, false), 1, "get: a write");
	ok(page != zero && zd_page_ref_count(page) == 2 && zd_page_mapcount(page) == 1,
	   "get: faulted in a page: refcount 2, mapcount 1");
	zd_put_page(m, page);
	is_int(zd_page_ref_count(page), 1, "get: put_page returns the reference");

	is_int(gup(a, 1, ZD_FOLL_WRITE, &page, true), 1, "pin: a write pin");
	is_int(zd_page_ref_count(page), 1 + ZD_GUP_PIN_COUNTING_BIAS, "pin: refcount + 1024");
	ok(zd_folio_maybe_dma_pinned(page), "pin: folio_maybe_dma_pinned");
	is_u64(m->nr_foll_pin_acquired - acq, 1, "pin: nr_foll_pin_acquired");
	zd_unpin_user_page(m, page);
	ok(zd_page_ref_count(page) == 1 && !zd_folio_maybe_dma_pinned(page), "pin: unpin restores");
	is_u64(m->nr_foll_pin_released - rel, 1, "pin: nr_foll_pin_released");

	is_int(gup(a + PS, 1, 0, &page, true), 1, "pin: a read pin of untouched memory");
	ok(page == zero && zd_page_ref_count(zero) == zref, "pin: the zero page, not counted");
	zd_unpin_user_page(m, page);
	is_int(zd_page_ref_count(zero), zref, "pin: nor uncounted");

	is_int(zd_pin_user_pages_fast(mm, a, 1, ZD_FOLL_WRITE, pages), 1,
		"fast: pin_user_pages_fast of a mapped page");
	ok(pages[0] != zero && zd_page_ref_count(pages[0]) == 1 + ZD_GUP_PIN_COUNTING_BIAS,
	   "fast: pinned");
	zd_unpin_user_pages_dirty_lock(m, pages, 1, true);
	ok(zd_test_page_flag(pages[0], ZD_PG_dirty) && zd_page_ref_count(pages[0]) == 1,
	   "fast: unpin_user_pages_dirty_lock marked it dirty");
	is_int(zd_get_user_pages_fast_only(mm, a + 2 * PS, 1, ZD_FOLL_WRITE, pages), 0,
		"fast: _fast_only on untouched memory takes nothing");
	is_int(zd_pin_user_pages_fast(mm, a + 2 * PS, 2, ZD_FOLL_WRITE, pages), 2,
		"fast: pin_user_pages_fast falls back and faults them in");
	zd_unpin_user_pages(m, pages, 2);
	is_int(zd_get_user_pages_fast(mm, a + PS, 1, 0, pages), 1,
		"fast: the zero page (special) through the fallback");
	ok(pages[0] == zero, "fast: is the zero page");
	zd_put_page(m, pages[0]);
	zd_vm_munmap(mm, a, 4 * PS);
}

static void pins_and_fork(void)
{
	uint64_t a = map(2 * PS, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE), old, free0, kb;
	struct zd_page *page;
	struct zd_mm *child;

	put(mm, a, "shared");
	old = tap_pfn_at(mm, a);
	child = zd_dup_mm(mm);
	if (!ok(!ZD_IS_ERR(child), "unshare: fork"))
		return;
	is_int(gup(a, 1, 0, &page, true), 1, "unshare: a read-only pin of the COW page");
	ok(zd_page_to_pfn(m, page) != old && tap_pfn_at(mm, a) == zd_page_to_pfn(m, page),
	   "unshare: the parent maps its own copy");
	ok(zd_test_page_flag(page, ZD_PG_anon_exclusive), "unshare: exclusive");
	ok(!(zd_pte_prot(mm, zd_follow_pte(mm, a, &(enum zd_pt_level){ 0 },
					   &(struct zd_page *){ NULL })) & ZD_PTE_WRITE),
	   "unshare: still read-only");
	ok(tap_pfn_at(child, a) == old && reads(child, a, "shared") && !strcmp(bytes(page), "shared"),
	   "unshare: the child keeps the old page, the bytes are the same");
	zd_unpin_user_page(m, page);
	zd_mmput(child);

	/* PIN then fork: the pin stays with the parent */
	is_int(gup(a + PS, 1, ZD_FOLL_WRITE, &page, true), 1, "pin+fork: write pin");
	strcpy(bytes(page), "dma");
	child = zd_dup_mm(mm);
	if (ok(!ZD_IS_ERR(child), "pin+fork: fork")) {
		ok(tap_pfn_at(child, a + PS) != zd_page_to_pfn(m, page) && reads(child, a + PS, "dma"),
		   "pin+fork: the child has a copy");
		put(mm, a + PS, "parent");
		ok(!strcmp(bytes(page), "parent"), "pin+fork: the pinned page sees the parent's write");
		put(child, a + PS, "child");
		ok(!strcmp(bytes(page), "parent"), "pin+fork: and not the child's");
		zd_mmput(child);
	}
	/* DONTNEED after the pin */
	zd_meminfo_field(m, "MemFree", &free0);
	is_int(zd_do_madvise(mm, a + PS, PS, ZD_MADV_DONTNEED), 0, "dontneed: after the pin");
	ok(!strcmp(bytes(page), "parent") && zd_page_ref_count(page) == ZD_GUP_PIN_COUNTING_BIAS,
	   "dontneed: the pinned page lives on, bytes intact, only the pin holds it");
	ok(reads(mm, a + PS, "") && tap_pfn_at(mm, a + PS) == m->zero_pfn,
	   "dontneed: the process reads zeroes");
	zd_unpin_user_page(m, page);
	zd_meminfo_field(m, "MemFree", &kb);
	is_u64(kb - free0, PS >> 10, "dontneed: unpin freed the page");
	zd_vm_munmap(mm, a, 2 * PS);
}

static void longterm(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1,
				     .auto_online_blocks = ZD_MMOP_ONLINE_MOVABLE };
	struct zd_machine *mm_m = zd_machine_create(&d), *saved = m;
	struct zd_page *page;

	if (!ok(!ZD_IS_ERR(mm_m), "longterm: a machine"))
		return;
	struct zd_mm *p = zd_mm_alloc(mm_m), *saved_mm = mm;
	uint64_t a = (uint64_t)zd_vm_mmap(p, 0, PS, ZD_PROT_READ | ZD_PROT_WRITE,
					  ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	m = mm_m;
	mm = p;
	is_int(gup(a, 1, ZD_FOLL_WRITE | ZD_FOLL_LONGTERM, &page, true), 1,
		"longterm: a pin of a ZONE_NORMAL page holds");
	ok(zd_page_zonenum(page) != ZD_ZONE_MOVABLE, "longterm: (the page is not movable)");
	zd_unpin_user_page(m, page);
	zd_vm_munmap(mm, a, PS);
	is_int(zd_add_memory(m, 0, 4 * G, 128 * M, 0), 0, "longterm: movable memory hot-added");
	a = (uint64_t)zd_vm_mmap(p, 0, PS, ZD_PROT_READ | ZD_PROT_WRITE,
				 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	put(mm, a, "movable");
	zd_mmap_read_lock(mm);
	page = zd_vm_normal_page(mm, zd_follow_pte(mm, a, &(enum zd_pt_level){ 0 },
						   &(struct zd_page *){ NULL }));
	zd_mmap_read_unlock(mm);
	if (ok(page && zd_page_zonenum(page) == ZD_ZONE_MOVABLE, "longterm: a ZONE_MOVABLE page")) {
		struct zd_page *got = NULL;

		is_int(gup(a, 1, ZD_FOLL_WRITE, &got, true), 1, "longterm: a short-term pin stays");
		ok(got == page, "longterm: on the movable page itself");
		zd_unpin_user_page(m, got);
		is_int(gup(a, 1, ZD_FOLL_WRITE | ZD_FOLL_LONGTERM, &got, true), 1,
			"longterm: a long-term pin succeeds");
		ok(got != page && zd_page_zonenum(got) != ZD_ZONE_MOVABLE,
		   "longterm: after migrating the page out of ZONE_MOVABLE");
		ok(reads(mm, a, "movable") && !strcmp(bytes(got), "movable"),
		   "longterm: with its bytes, and the process maps the pinned page");
		zd_unpin_user_page(m, got);
	}
	zd_mmput(p);
	zd_machine_destroy(mm_m);
	m = saved;
	mm = saved_mm;
}

int main(void)
{
	uint64_t free0, free1;

	m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	zd_meminfo_field(m, "MemFree", &free0);
	mm = zd_mm_alloc(m);
	arguments();
	force();
	get_and_pin();
	pins_and_fork();
	longterm();
	zd_mmput(mm);
	zd_meminfo_field(m, "MemFree", &free1);
	is_u64(free1, free0, "every page and table back at exit");
	zd_machine_destroy(m);
	return done_testing();
}
