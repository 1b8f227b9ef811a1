/*
 * Faults and the CPU model on private anonymous memory (mm/memory.c), per
 * arch profile (x86_64, arm64 4K and 64K, ppc64 radix):
 *  - a read maps the zero page (special, read-only, pfn = the machine's
 *    zero_pfn in the kernel's bss, no page allocated, reads zero);
 *  - a write maps a zeroed page of its own: exclusive, mapcount 1,
 *    refcount 1, entry writable, dirty and young; MemFree falls by one page
 *    besides the tables, AnonPages and the mm's anon rss by one, pgfault
 *    and min_flt count; a write after a read replaces the zero page;
 *  - bytes written are the bytes read back, across page boundaries;
 *  - fork makes pages COW: both processes read the parent's bytes from one
 *    page (mapcount 2, not exclusive, both entries read-only); the child's
 *    write copies, the parent keeps its page, and the parent's next write
 *    reuses it in place (one mapping, one reference: no copy, no page);
 *    after the child exits, the same reuse; WIPEONFORK children read zero;
 *  - a pinned exclusive page (refcount + GUP_PIN_COUNTING_BIAS) is copied
 *    at fork: the child has its own page with the same bytes, the parent's
 *    stays exclusive and writable;
 *  - SIGSEGV (-EFAULT, "segfault at" logged) for no mapping, a write to a
 *    read-only mapping, a read of PROT_NONE;
 *  - mprotect: read-only entries refuse writes, back to read-write the
 *    exclusive page is writable again at once (no fault, same page);
 *  - mremap moves the entries (same pages at the new address, the old
 *    address faults);
 *  - DONTNEED frees the page (zeroes afterwards), FREE keeps the bytes,
 *    POPULATE_WRITE maps every page, POPULATE_READ maps zero pages,
 *    POPULATE_WRITE on a read-only mapping is EINVAL;
 *  - shared anonymous memory: one shmem page per offset (Shmem counts it),
 *    seen by parent and child through fork, kept while any maps it, gone
 *    with the last unmap;
 *  - munmap and exit give back every page and table: MemFree, PageTables
 *    and AnonPages return to their values before.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

static struct zd_machine *m;
static const char *an;   /* arch name, for messages */

static uint64_t free_kb(void)
{
	uint64_t kb = 0;

	zd_meminfo_field(m, "MemFree", &kb);
	return kb;
}

static uint64_t tables_kb(void)
{
	uint64_t kb = 0;

	zd_meminfo_field(m, "PageTables", &kb);
	return kb;
}

static uint64_t map_anon(struct zd_mm *mm, uint64_t len, unsigned long prot)
{
	int64_t a = zd_vm_mmap(mm, 0, len, prot, ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);

	return a < 0 ? 0 : (uint64_t)a;
}

static zd_pte_t entry(struct zd_mm *mm, uint64_t addr, struct zd_page **page)
{
	enum zd_pt_level level;

	return zd_follow_pte(mm, addr, &level, page);
}

static unsigned prot_of(struct zd_mm *mm, uint64_t addr)
{
	struct zd_page *page;
	zd_pte_t e = entry(mm, addr, &page);

	return m->arch.pgtable->pte_present(&m->arch, e) ? zd_pte_prot(mm, e) : 0;
}

static uint64_t pfn_of(struct zd_mm *mm, uint64_t addr)
{
	struct zd_page *page;
	zd_pte_t e = entry(mm, addr, &page);

	if (!m->arch.pgtable->pte_present(&m->arch, e))
		return ZD_BAD_PFN;
	return m->arch.pgtable->leaf_pfn(&m->arch, ZD_PT_PTE, e);
}

static struct zd_page *page_of(struct zd_mm *mm, uint64_t addr)
{
	struct zd_page *page;

	entry(mm, addr, &page);
	return page;
}

static int put(struct zd_mm *mm, uint64_t addr, const char *s)
{
	return zd_access_vm(mm, addr, (void *)s, strlen(s) + 1, true);
}

static bool reads(struct zd_mm *mm, uint64_t addr, const char *s)
{
	char buf[64] = { 0 };

	return zd_access_vm(mm, addr, buf, strlen(s) + 1, false) == 0 && !strcmp(buf, s);
}

static void read_and_write(struct zd_mm *mm, uint64_t a)
{
	const uint64_t ps = m->arch.page_size;
	uint64_t free0 = free_kb(), tables0 = tables_kb(), anon0 = (uint64_t)m->nr_anon_mapped;
	unsigned long pgfault0 = m->pgfault, minflt0 = mm->min_flt;
	char buf[16];

	memset(buf, 0x5a, sizeof(buf));
	is_int(zd_access_vm(mm, a, buf, sizeof(buf), false), 0, "%s: read of fresh memory", an);
	ok(!memcmp(buf, (char[16]){ 0 }, 16), "%s: reads zeroes", an);
	is_u64(pfn_of(mm, a), m->zero_pfn, "%s: the zero page is mapped", an);
	ok(page_of(mm, a) == NULL, "%s: which vm_normal_page() does not return", an);
	unsigned p = prot_of(mm, a);
	ok((p & ZD_PTE_SPECIAL) && !(p & ZD_PTE_WRITE) && (p & ZD_PTE_USER),
	   "%s: special, read-only, user (prot 0x%x)", an, p);
	is_u64(free0 - free_kb(), tables_kb() - tables0,
	       "%s: only page tables were allocated for it", an);
	is_u64((uint64_t)m->nr_anon_mapped, anon0, "%s: AnonPages unchanged by a read", an);

	uint64_t free1 = free_kb();
	is_int(put(mm, a, "hello"), 0, "%s: write after the read", an);
	ok(reads(mm, a, "hello"), "%s: reads back", an);
	struct zd_page *pg = page_of(mm, a);
	if (ok(pg != NULL, "%s: a page of its own replaced the zero page", an)) {
		ok(zd_folio_test_anon(pg) && zd_test_page_flag(pg, ZD_PG_anon_exclusive),
		   "%s: anonymous and exclusive", an);
		is_int(zd_page_mapcount(pg), 1, "%s: mapcount 1", an);
		is_int(zd_page_ref_count(pg), 1, "%s: refcount 1", an);
	}
	p = prot_of(mm, a);
	ok((p & (ZD_PTE_WRITE | ZD_PTE_DIRTY | ZD_PTE_YOUNG)) ==
	   (ZD_PTE_WRITE | ZD_PTE_DIRTY | ZD_PTE_YOUNG) && !(p & ZD_PTE_SPECIAL),
	   "%s: writable, dirty, young (prot 0x%x)", an, p);
	is_u64(free1 - free_kb(), ps >> 10, "%s: MemFree fell by one page", an);
	is_u64((uint64_t)m->nr_anon_mapped, anon0 + 1, "%s: AnonPages + 1", an);
	is_int((int)mm->rss_stat[ZD_MM_ANONPAGES], 1, "%s: anon rss 1", an);
	ok(m->pgfault >= pgfault0 + 2 && mm->min_flt >= minflt0 + 2,
	   "%s: pgfault and min_flt counted", an);

	/* a straight write, across pages */
	static char big[3 * 65536 + 100];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 1);
	size_t len = (size_t)(2 * ps + 100);
	is_int(zd_access_vm(mm, a + ps - 50, big, len, true), 0,
	       "%s: a write across three pages", an);
	static char back[sizeof(big)];
	memset(back, 0, sizeof(back));
	is_int(zd_access_vm(mm, a + ps - 50, back, len, false), 0, "%s: read across them", an);
	ok(!memcmp(big, back, len), "%s: the same bytes", an);
}

static void cow(struct zd_mm *mm, uint64_t a)
{
	struct zd_mm *child;
	uint64_t pfn0, free0;
	struct zd_page *pg;

	put(mm, a, "P0");
	pfn0 = pfn_of(mm, a);
	child = zd_dup_mm(mm);
	if (!ok(!ZD_IS_ERR(child), "%s: fork", an))
		return;
	ok(reads(child, a, "P0") && reads(mm, a, "P0"), "%s: both read the parent's bytes", an);
	is_u64(pfn_of(child, a), pfn0, "%s: from one page", an);
	pg = page_of(mm, a);
	ok(pg && zd_page_mapcount(pg) == 2 && zd_page_ref_count(pg) == 2 &&
	   !zd_test_page_flag(pg, ZD_PG_anon_exclusive),
	   "%s: mapcount 2, refcount 2, not exclusive", an);
	ok(!(prot_of(mm, a) & ZD_PTE_WRITE) && !(prot_of(child, a) & ZD_PTE_WRITE),
	   "%s: both entries read-only", an);
	is_int(put(child, a, "C1"), 0, "%s: the child writes", an);
	ok(pfn_of(child, a) != pfn0, "%s: and gets a copy", an);
	ok(reads(child, a, "C1") && reads(mm, a, "P0"), "%s: each sees its own bytes", an);
	ok(zd_page_mapcount(pg) == 1 && zd_page_ref_count(pg) == 1,
	   "%s: the parent's page: one mapping, one reference", an);
	free0 = free_kb();
	is_int(put(mm, a, "P2"), 0, "%s: the parent writes", an);
	is_u64(pfn_of(mm, a), pfn0, "%s: reusing its page in place", an);
	is_u64(free_kb(), free0, "%s: without allocating", an);
	ok(zd_test_page_flag(pg, ZD_PG_anon_exclusive), "%s: exclusive again", an);
	ok(reads(child, a, "C1"), "%s: the child still has its bytes", an);
	zd_mmput(child);

	/* fork, the child exits untouched: the parent's write reuses too */
	child = zd_dup_mm(mm);
	if (ok(!ZD_IS_ERR(child), "%s: fork again", an)) {
		zd_mmput(child);
		free0 = free_kb();
		is_int(put(mm, a, "P3"), 0, "%s: write after the child exited", an);
		ok(pfn_of(mm, a) == pfn0 && free_kb() == free0, "%s: reused, no copy", an);
	}

	/* a pinned exclusive page stays the parent's: the child gets a copy */
	zd_set_page_count(pg, zd_page_ref_count(pg) + ZD_GUP_PIN_COUNTING_BIAS);
	child = zd_dup_mm(mm);
	if (ok(!ZD_IS_ERR(child), "%s: fork with a pinned page", an)) {
		ok(pfn_of(child, a) != pfn0 && reads(child, a, "P3"),
		   "%s: the child has a copy with the same bytes", an);
		ok(zd_test_page_flag(pg, ZD_PG_anon_exclusive) && zd_page_mapcount(pg) == 1 &&
		   (prot_of(mm, a) & ZD_PTE_WRITE), "%s: the parent's stays exclusive, writable", an);
		put(child, a, "C4");
		ok(reads(mm, a, "P3"), "%s: the child's write does not reach the pin", an);
		zd_mmput(child);
	}
	zd_set_page_count(pg, zd_page_ref_count(pg) - ZD_GUP_PIN_COUNTING_BIAS);
}

static void wipeonfork(struct zd_mm *mm, uint64_t a)
{
	struct zd_mm *child;

	put(mm, a, "W");
	is_int(zd_do_madvise(mm, a, m->arch.page_size, ZD_MADV_WIPEONFORK), 0,
	       "%s: WIPEONFORK", an);
	child = zd_dup_mm(mm);
	if (ok(!ZD_IS_ERR(child), "%s: fork", an)) {
		ok(reads(child, a, "") && pfn_of(child, a) == m->zero_pfn,
		   "%s: the child reads zeroes", an);
		zd_mmput(child);
	}
	ok(reads(mm, a, "W"), "%s: the parent keeps its bytes", an);
}

static void segv(struct zd_mm *mm)
{
	const uint64_t ps = m->arch.page_size;
	uint64_t ro = map_anon(mm, ps, ZD_PROT_READ), none = map_anon(mm, ps, ZD_PROT_NONE);
	unsigned long seq = zd_log_seq(m);
	char c = 1;

	is_int(zd_access_vm(mm, 0x1000, &c, 1, false), -EFAULT, "%s: no mapping: SIGSEGV", an);
	ok(tap_log_since(m, seq, "segfault at"), "%s: logged as a segfault", an);
	is_int(zd_access_vm(mm, ro, &c, 1, true), -EFAULT, "%s: write to read-only: SIGSEGV", an);
	is_int(zd_access_vm(mm, ro, &c, 1, false), 0, "%s: its read works", an);
	is_int(zd_access_vm(mm, none, &c, 1, false), -EFAULT, "%s: PROT_NONE read: SIGSEGV", an);
}

static void protect_move(struct zd_mm *mm)
{
	const uint64_t ps = m->arch.page_size;
	uint64_t a = map_anon(mm, 4 * ps, ZD_PROT_READ | ZD_PROT_WRITE), pfn, free0;

	put(mm, a, "keep");
	pfn = pfn_of(mm, a);
	is_int(zd_do_mprotect(mm, a, 4 * ps, ZD_PROT_READ), 0, "%s: mprotect read-only", an);
	ok(!(prot_of(mm, a) & ZD_PTE_WRITE), "%s: the entry lost write", an);
	is_int(put(mm, a, "x"), -EFAULT, "%s: a write is SIGSEGV", an);
	ok(reads(mm, a, "keep"), "%s: the bytes are there", an);
	is_int(zd_do_mprotect(mm, a, 4 * ps, ZD_PROT_READ | ZD_PROT_WRITE), 0,
	       "%s: read-write again", an);
	ok(prot_of(mm, a) & ZD_PTE_WRITE, "%s: the exclusive page is writable at once", an);
	is_int(put(mm, a, "again"), 0, "%s: and takes a write", an);
	is_u64(pfn_of(mm, a), pfn, "%s: in the same page", an);

	/* a blocker after it forces a move */
	int64_t blk = zd_vm_mmap(mm, a + 4 * ps, ps, ZD_PROT_READ,
				 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS | ZD_MAP_FIXED, NULL, 0);
	ok(blk == (int64_t)(a + 4 * ps), "%s: a blocker after the mapping", an);
	free0 = free_kb();
	int64_t to = zd_do_mremap(mm, a, 4 * ps, 8 * ps, ZD_MREMAP_MAYMOVE, 0);
	if (ok(to > 0 && (uint64_t)to != a, "%s: mremap moves it", an)) {
		ok(reads(mm, (uint64_t)to, "again"), "%s: the bytes moved", an);
		is_u64(pfn_of(mm, (uint64_t)to), pfn, "%s: the same page, not a copy", an);
		is_int(zd_access_vm(mm, a, &(char){ 0 }, 1, false), -EFAULT,
		       "%s: the old address faults", an);
		ok(free_kb() + 2 * (ps >> 10) >= free0, "%s: no page allocated by the move", an);
		zd_vm_munmap(mm, (uint64_t)to, 8 * ps);
	}
	zd_vm_munmap(mm, a + 4 * ps, ps);
}

static void advice(struct zd_mm *mm)
{
	const uint64_t ps = m->arch.page_size;
	uint64_t a = map_anon(mm, 16 * ps, ZD_PROT_READ | ZD_PROT_WRITE), free0;
	long anon0 = m->nr_anon_mapped;

	put(mm, a, "gone");
	free0 = free_kb();
	is_int(zd_do_madvise(mm, a, ps, ZD_MADV_DONTNEED), 0, "%s: DONTNEED", an);
	ok(reads(mm, a, ""), "%s: reads zeroes afterwards", an);
	is_u64(free_kb() - free0, ps >> 10, "%s: the page went back", an);
	put(mm, a, "lazy");
	is_int(zd_do_madvise(mm, a, ps, ZD_MADV_FREE), 0, "%s: FREE", an);
	ok(reads(mm, a, "lazy"), "%s: the bytes stay while nothing reclaims", an);
	ok(!(prot_of(mm, a) & ZD_PTE_DIRTY), "%s: the entry is clean", an);
	zd_do_madvise(mm, a, 16 * ps, ZD_MADV_DONTNEED);
	is_int(zd_do_madvise(mm, a, 16 * ps, ZD_MADV_POPULATE_READ), 0, "%s: POPULATE_READ", an);
	ok(pfn_of(mm, a + 15 * ps) == m->zero_pfn && m->nr_anon_mapped == anon0,
	   "%s: maps zero pages", an);
	is_int(zd_do_madvise(mm, a, 16 * ps, ZD_MADV_POPULATE_WRITE), 0, "%s: POPULATE_WRITE", an);
	is_int((int)(m->nr_anon_mapped - anon0), 16, "%s: 16 pages of its own", an);
	is_int(zd_do_mprotect(mm, a, 16 * ps, ZD_PROT_READ), 0, "%s: read-only", an);
	is_int(zd_do_madvise(mm, a, 16 * ps, ZD_MADV_POPULATE_WRITE), -EINVAL,
	       "%s: POPULATE_WRITE on it is EINVAL", an);
	free0 = free_kb();
	zd_vm_munmap(mm, a, 16 * ps);
	ok(free_kb() >= free0 + 16 * (ps >> 10), "%s: munmap gave the 16 pages back", an);
	is_int((int)(m->nr_anon_mapped - anon0), 0, "%s: AnonPages back", an);
}

static void shared_anon(struct zd_mm *mm)
{
	const uint64_t ps = m->arch.page_size;
	uint64_t free0 = free_kb(), shmem0 = 0, kb = 0;
	int64_t a = zd_vm_mmap(mm, 0, 4 * ps, ZD_PROT_READ | ZD_PROT_WRITE,
			       ZD_MAP_SHARED | ZD_MAP_ANONYMOUS, NULL, 0);
	struct zd_mm *child;

	zd_meminfo_field(m, "Shmem", &shmem0);
	if (!ok(a > 0, "%s: shared anonymous mmap", an))
		return;
	is_int(put(mm, (uint64_t)a, "S"), 0, "%s: write to shared memory", an);
	zd_meminfo_field(m, "Shmem", &kb);
	is_u64(kb - shmem0, ps >> 10, "%s: one page in the shmem cache (Shmem)", an);
	is_int((int)mm->rss_stat[ZD_MM_SHMEMPAGES], 1, "%s: shmem rss 1", an);
	zd_meminfo_field(m, "Mapped", &kb);
	is_u64(kb, ps >> 10, "%s: meminfo Mapped counts the mapped shmem page", an);
	child = zd_dup_mm(mm);
	if (!ok(!ZD_IS_ERR(child), "%s: fork", an))
		return;
	ok(reads(child, (uint64_t)a, "S"), "%s: the child reads it", an);
	is_u64(pfn_of(child, (uint64_t)a), pfn_of(mm, (uint64_t)a), "%s: from the same page", an);
	is_int(put(child, (uint64_t)a + 2, "T"), 0, "%s: the child writes", an);
	ok(reads(mm, (uint64_t)a + 2, "T"), "%s: the parent sees it", an);
	is_int(put(mm, (uint64_t)a + ps, "U"), 0, "%s: the parent writes a second page", an);
	ok(reads(child, (uint64_t)a + ps, "U"), "%s: the child sees that one too", an);
	zd_meminfo_field(m, "Mapped", &kb);
	is_u64(kb, 2 * ps >> 10, "%s: Mapped: two pages, each counted once for both processes", an);
	zd_vm_munmap(mm, (uint64_t)a, 4 * ps);
	ok(reads(child, (uint64_t)a, "S"), "%s: the pages outlive the parent's unmap", an);
	zd_meminfo_field(m, "Mapped", &kb);
	is_u64(kb, 2 * ps >> 10, "%s: still mapped in the child", an);
	zd_mmput(child);
	zd_meminfo_field(m, "Mapped", &kb);
	is_u64(kb, 0, "%s: Mapped 0 after the last unmap", an);
	zd_meminfo_field(m, "Shmem", &kb);
	is_u64(kb, shmem0, "%s: the last unmap empties the cache", an);
	is_u64(free_kb(), free0, "%s: MemFree back", an);
}

static void one_arch(const char *arch)
{
	struct zd_mm *mm;
	uint64_t free0, tables0, a;

	an = arch;
	m = tap_machine(arch, 0, 0, 1 * G, NULL, 0);
	if (!m)
		return;
	free0 = free_kb();
	tables0 = tables_kb();
	mm = zd_mm_alloc(m);
	if (!ok(!ZD_IS_ERR(mm), "%s: a process", arch))
		goto out;
	a = map_anon(mm, 64 * m->arch.page_size, ZD_PROT_READ | ZD_PROT_WRITE);
	if (ok(a != 0, "%s: mmap", arch)) {
		read_and_write(mm, a);
		cow(mm, a + 8 * m->arch.page_size);
		wipeonfork(mm, a + 16 * m->arch.page_size);
	}
	segv(mm);
	protect_move(mm);
	advice(mm);
	shared_anon(mm);
	zd_mmput(mm);
	is_u64(free_kb(), free0, "%s: exit gave back every page and table (MemFree)", arch);
	is_u64(tables_kb(), tables0, "%s: PageTables back", arch);
	is_int((int)m->nr_anon_mapped, 0, "%s: AnonPages 0", arch);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", arch);
out:
	zd_machine_destroy(m);
}

int main(void)
{
	static const char *const arches[] = { "x86_64", "arm64-4k", "arm64-64k", "ppc64" };

	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
		one_arch(arches[i]);
	return done_testing();
}
