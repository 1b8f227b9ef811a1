/*
 * Migration of shmem pages (MAP_SHARED|MAP_ANONYMOUS, mm/shmem.c): the
 * file rmap walk finds every process that maps the file, the page cache
 * slot takes the new page, and every mapping follows it.
 *  - move_pages(MOVE_ALL) of a page a fork child shares: both processes
 *    map the new page on node 1, bytes intact, Shmem and Mapped unchanged,
 *    the old page freed; without MOVE_ALL it is EACCES;
 *  - a write after the move reaches the other process (still shared);
 *  - offline_pages of a movable block holding shmem pages, one of them
 *    cached but mapped by nobody: all move, the block goes offline;
 *  - a pinned shmem page keeps its block online (EBUSY), and after unpin
 *    offline succeeds;
 *  - at exit every page is back (MemFree), nothing mapped, no WARN.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)

static struct zd_machine *m;

static uint64_t kb(const char *f)
{
	uint64_t v = 0;

	zd_meminfo_field(m, f, &v);
	return v;
}

static int64_t map_shared(struct zd_mm *mm, uint64_t len)
{
	return zd_vm_mmap(mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE,
			  ZD_MAP_SHARED | ZD_MAP_ANONYMOUS, NULL, 0);
}

static void move_pages_case(void)
{
	struct zd_mm *p = zd_mm_alloc(m), *c;
	uint64_t a = (uint64_t)map_shared(p, 2 * 4096), old;
	int node = 1, status = 99;
	char buf[8];

	zd_access_vm(p, a, "shmem!", 7, true);
	zd_access_vm(p, a + 4096, "second", 7, true);
	c = zd_dup_mm(p);
	zd_access_vm(c, a, buf, 7, false);   /* the child maps it too */
	old = tap_pfn_at(p, a);
	uint64_t shmem0 = kb("Shmem"), mapped0 = kb("Mapped");
	is_int(zd_move_pages(p, 1, &a, &node, &status, ZD_MPOL_MF_MOVE), 0,
	       "move_pages of a shared shmem page without MOVE_ALL");
	is_int(status, -EACCES, "... is EACCES");
	is_int(zd_move_pages(p, 1, &a, &node, &status, ZD_MPOL_MF_MOVE_ALL), 0,
	       "move_pages with MOVE_ALL");
	is_int(status, 1, "... the page is on node 1");
	ok(tap_pfn_at(p, a) != old && tap_pfn_at(p, a) == tap_pfn_at(c, a),
	   "both processes map the new page");
	is_int(zd_page_to_nid(zd_pfn_to_page(m, tap_pfn_at(c, a))), 1, "... on node 1");
	ok(!zd_access_vm(c, a, buf, 7, false) && !strcmp(buf, "shmem!"), "the bytes moved");
	is_u64(kb("Shmem"), shmem0, "Shmem unchanged");
	is_u64(kb("Mapped"), mapped0, "Mapped unchanged");
	is_int(zd_page_ref_count(zd_pfn_to_page(m, old)), 0, "the old page was freed");
	zd_access_vm(c, a, "child", 6, true);
	ok(!zd_access_vm(p, a, buf, 6, false) && !strcmp(buf, "child"),
	   "a write after the move reaches the other process");
	zd_mmput(c);
	zd_mmput(p);
}

static void offline_case(void)
{
	const uint64_t blk = 4 * G, bsz = 128 * M;
	struct zd_mm *p = zd_mm_alloc(m);
	uint64_t a = (uint64_t)map_shared(p, 4 * 4096);
	struct zd_page *pin;
	bool inside = true;
	char buf[8];

	for (int i = 0; i < 4; i++) {
		char s[8] = "page0";

		s[4] = (char)('0' + i);
		zd_access_vm(p, a + (uint64_t)i * 4096, s, 6, true);
		uint64_t pa = tap_pfn_at(p, a + (uint64_t)i * 4096) << 12;
		inside = inside && pa >= blk && pa < blk + bsz;
	}
	ok(inside, "the shmem pages are in the movable block");
	/* the last page stays cached with no mapping: the VMA keeps the file */
	zd_vm_munmap(p, a + 3 * 4096, 4096);
	ok(zd_pin_user_pages_fast(p, a, 1, 0, &pin) == 1, "a pin on a shmem page");
	is_int(zd_offline_memory_range(m, blk, bsz), -EBUSY, "offline with it pinned is EBUSY");
	zd_unpin_user_page(m, pin);
	is_int(zd_offline_memory_range(m, blk, bsz), 0, "after unpin offline migrates them");
	bool moved = true, bytes = true;
	for (int i = 0; i < 3; i++) {
		uint64_t pa = tap_pfn_at(p, a + (uint64_t)i * 4096) << 12;

		moved = moved && (pa < blk || pa >= blk + bsz);
		bytes = bytes && !zd_access_vm(p, a + (uint64_t)i * 4096, buf, 6, false) &&
			buf[4] == (char)('0' + i) && !strncmp(buf, "page", 4);
	}
	ok(moved, "the mapped pages left the block");
	ok(bytes, "their bytes are intact");
	is_u64(kb("Shmem"), 16, "the unmapped cached page is still in the cache (Shmem 16 kB)");
	zd_mmput(p);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G, .node = 0 },
				      { .start = 1 * G, .size = 1 * G, .node = 1 } };
	struct zd_machine_desc d = { .arch = "x86_64", .nr_nodes = 2, .ram = ram, .nr_ram = 2,
				     .auto_online_blocks = ZD_MMOP_ONLINE_MOVABLE };
	uint64_t free0;

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "a two-node machine"))
		return done_testing();
	free0 = kb("MemFree");
	move_pages_case();
	is_u64(kb("MemFree"), free0, "every page back after the move_pages case");
	ok(zd_add_memory(m, 0, 4 * G, 128 * M, 0) == 0, "a movable block hot-added");
	offline_case();
	is_u64(m->nr_file_mapped, 0, "nothing mapped at exit");
	is_u64(kb("Shmem"), 0, "the cache is gone");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
