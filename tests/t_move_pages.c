/*
 * move_pages(2) (zd_move_pages, mm/migrate.c) on a machine of two nodes:
 *  - the call's errors: flags other than MOVE/MOVE_ALL (STRICT too) are
 *    -EINVAL, a node outside the machine -ENODEV, and neither moves a page
 *    nor writes a status;
 *  - anonymous pages move to node 1 with their bytes, the process maps
 *    the new page (writable, exclusive, no new fault), the old one is
 *    freed, pgmigrate_success counts them; a page on its node already is
 *    only its status;
 *  - the per-page statuses: nothing present -ENOENT, the zero page and an
 *    address outside any VMA -EFAULT, both with and without nodes;
 *  - a pinned page does not move: the call returns the number of pages
 *    not migrated and leaves the run's statuses as they were (the pages
 *    of the run that could move did), and moves once unpinned;
 *  - a page shared with a fork child is -EACCES under MPOL_MF_MOVE and
 *    moves for both processes under MPOL_MF_MOVE_ALL;
 *  - runs to different nodes each get their own node as status.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <string.h>
#include "base/rcu.h"
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PS 4096ULL
#define UNTOUCHED 12345            /* a status the call must leave alone */

static struct zd_machine *m;
static struct zd_mm *mm;

static int nid_at(struct zd_mm *p, uint64_t addr)
{
	uint64_t pfn = tap_pfn_at(p, addr);

	return pfn == ZD_BAD_PFN ? -1 : zd_page_to_nid(zd_pfn_to_page(m, pfn));
}

static bool holds(struct zd_mm *p, uint64_t addr, char c)
{
	char buf[PS];

	if (zd_access_vm(p, addr, buf, PS, false))
		return false;
	for (size_t i = 0; i < PS; i++)
		if (buf[i] != (char)(c + (i % 7)))
			return false;
	return true;
}

static void fill(struct zd_mm *p, uint64_t addr, char c)
{
	char buf[PS];

	for (size_t i = 0; i < PS; i++)
		buf[i] = (char)(c + (i % 7));
	zd_access_vm(p, addr, buf, PS, true);
}

static uint64_t map(uint64_t len)
{
	int64_t a = zd_vm_mmap(mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE,
			       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);

	return a < 0 ? 0 : (uint64_t)a;
}

static void call_errors(uint64_t base)
{
	uint64_t pages[1] = { base };
	int nodes[1] = { 1 }, status[1] = { UNTOUCHED };
	uint64_t pfn = tap_pfn_at(mm, base);

	is_int(zd_move_pages(mm, 1, pages, nodes, status, ZD_MPOL_MF_STRICT), -EINVAL,
	       "MPOL_MF_STRICT is not a move_pages flag: -EINVAL");
	is_int(zd_move_pages(mm, 1, pages, nodes, status, 1 << 5), -EINVAL,
	       "an unknown flag: -EINVAL");
	nodes[0] = 2;
	is_int(zd_move_pages(mm, 1, pages, nodes, status, ZD_MPOL_MF_MOVE), -ENODEV,
	       "node 2 of a two-node machine: -ENODEV");
	nodes[0] = -1;
	is_int(zd_move_pages(mm, 1, pages, nodes, status, ZD_MPOL_MF_MOVE), -ENODEV,
	       "node -1: -ENODEV");
	ok(status[0] == UNTOUCHED && tap_pfn_at(mm, base) == pfn,
	   "the refused calls wrote no status and moved nothing");
}

static void moves(uint64_t base)
{
	uint64_t pages[4], old[4];
	int nodes[4] = { 1, 1, 1, 1 }, status[4], stat[4];
	unsigned long succ = m->pgmigrate_success, flt;
	bool bytes = true, moved = true;
	char c = 'x';

	for (int i = 0; i < 4; i++) {
		pages[i] = base + (uint64_t)i * PS + 100;   /* any address in the page */
		fill(mm, base + (uint64_t)i * PS, (char)('a' + i));
		old[i] = tap_pfn_at(mm, base + (uint64_t)i * PS);
	}
	ok(nid_at(mm, base) == 0, "the process's pages come from node 0");
	is_int(zd_move_pages(mm, 4, pages, nodes, status, ZD_MPOL_MF_MOVE), 0,
	       "four private pages to node 1: 0");
	for (int i = 0; i < 4; i++) {
		uint64_t a = base + (uint64_t)i * PS;

		bytes = bytes && holds(mm, a, (char)('a' + i));
		moved = moved && status[i] == 1 && nid_at(mm, a) == 1 && tap_pfn_at(mm, a) != old[i];
	}
	ok(moved, "each status is 1 and each page is a new one on node 1");
	ok(bytes, "the bytes moved with them");
	is_int(m->pgmigrate_success - succ, 4, "pgmigrate_success counts four");
	ok(zd_page_ref_count(zd_pfn_to_page(m, old[0])) == 0 &&
	   zd_page_is_buddy(zd_pfn_to_page(m, old[0])), "the old page is free again");
	flt = mm->min_flt;
	zd_access_vm(mm, base, &c, 1, true);
	is_int(mm->min_flt - flt, 0, "a store to a moved page faults nothing (writable)");
	ok(zd_test_page_flag(zd_pfn_to_page(m, tap_pfn_at(mm, base)), ZD_PG_anon_exclusive),
	   "and it is still exclusive");
	is_int(zd_move_pages(mm, 4, pages, NULL, stat, 0), 0, "without nodes: only the status");
	ok(stat[0] == 1 && stat[3] == 1, "which says node 1");
	succ = m->pgmigrate_success;
	is_int(zd_move_pages(mm, 1, pages, nodes, status, ZD_MPOL_MF_MOVE), 0,
	       "a page on node 1 already to node 1: 0");
	ok(status[0] == 1 && m->pgmigrate_success == succ, "its status is 1, nothing migrated");
}

static void statuses(uint64_t base)
{
	char c;
	uint64_t pages[3] = { base, base + PS, 0x1000 };
	int nodes[3] = { 1, 1, 1 }, status[3], stat[3];

	zd_access_vm(mm, base + PS, &c, 1, false);   /* maps the zero page */
	is_int(zd_move_pages(mm, 3, pages, nodes, status, ZD_MPOL_MF_MOVE), 0,
	       "untouched, zero-page and unmapped addresses: 0");
	is_int(status[0], -ENOENT, "nothing present: -ENOENT");
	is_int(status[1], -EFAULT, "the zero page: -EFAULT");
	is_int(status[2], -EFAULT, "no VMA: -EFAULT");
	zd_move_pages(mm, 3, pages, NULL, stat, 0);
	ok(stat[0] == -ENOENT && stat[1] == -EFAULT && stat[2] == -EFAULT,
	   "the status-only call says the same");
}

static void pinned(uint64_t base)
{
	uint64_t pages[3] = { base, base + PS, base + 2 * PS }, pfn;
	int nodes[3] = { 1, 1, 1 }, status[3] = { UNTOUCHED, UNTOUCHED, UNTOUCHED };
	struct zd_page *pin;

	for (int i = 0; i < 3; i++)
		fill(mm, base + (uint64_t)i * PS, (char)('p' + i));
	pfn = tap_pfn_at(mm, base);
	if (!ok(zd_pin_user_pages_unlocked(mm, base, 1, ZD_FOLL_WRITE, &pin) == 1,
		"pin the first of three pages"))
		return;
	is_int(zd_move_pages(mm, 3, pages, nodes, status, ZD_MPOL_MF_MOVE), 1,
	       "moving the run returns 1: one page not migrated");
	ok(status[0] == UNTOUCHED && status[1] == UNTOUCHED && status[2] == UNTOUCHED,
	   "the failed run's statuses are left as they were");
	ok(tap_pfn_at(mm, base) == pfn && nid_at(mm, base) == 0 && holds(mm, base, 'p'),
	   "the pinned page stays where it is, bytes and all");
	ok(nid_at(mm, base + PS) == 1 && nid_at(mm, base + 2 * PS) == 1 &&
	   holds(mm, base + 2 * PS, 'r'), "the run's other pages moved");
	zd_unpin_user_page(m, pin);
	is_int(zd_move_pages(mm, 1, pages, nodes, status, ZD_MPOL_MF_MOVE), 0,
	       "unpinned, it moves");
	ok(status[0] == 1 && nid_at(mm, base) == 1 && holds(mm, base, 'p'), "to node 1, bytes intact");
}

static void shared(uint64_t base)
{
	uint64_t pages[1] = { base };
	int nodes[1] = { 1 }, status[1];
	struct zd_mm *child;

	fill(mm, base, 's');
	child = zd_dup_mm(mm);
	if (!ok(!ZD_IS_ERR(child), "fork"))
		return;
	ok(tap_pfn_at(child, base) == tap_pfn_at(mm, base), "parent and child share the page (COW)");
	is_int(zd_move_pages(mm, 1, pages, nodes, status, ZD_MPOL_MF_MOVE), 0, "MPOL_MF_MOVE: 0");
	is_int(status[0], -EACCES, "a page two processes map: -EACCES without MOVE_ALL");
	is_int(nid_at(mm, base), 0, "it stayed on node 0");
	is_int(zd_move_pages(mm, 1, pages, nodes, status, ZD_MPOL_MF_MOVE_ALL), 0,
	       "MPOL_MF_MOVE_ALL: 0");
	ok(status[0] == 1 && nid_at(mm, base) == 1 && nid_at(child, base) == 1 &&
	   tap_pfn_at(child, base) == tap_pfn_at(mm, base), "both processes now map one page on node 1");
	ok(holds(mm, base, 's') && holds(child, base, 's'), "both read the bytes");
	fill(child, base, 'c');
	ok(holds(mm, base, 's') && holds(child, base, 'c'), "and COW still separates them");
	zd_mmput(child);
}

static void runs(uint64_t base)
{
	uint64_t pages[3] = { base, base + PS, base + 2 * PS };
	int nodes[3] = { 1, 0, 1 }, status[3];

	for (int i = 0; i < 3; i++)
		fill(mm, base + (uint64_t)i * PS, (char)('u' + i));
	is_int(zd_move_pages(mm, 3, pages, nodes, status, ZD_MPOL_MF_MOVE), 0,
	       "three pages to nodes 1, 0, 1: 0");
	ok(status[0] == 1 && status[1] == 0 && status[2] == 1, "statuses 1, 0, 1");
	ok(nid_at(mm, base) == 1 && nid_at(mm, base + PS) == 0 && nid_at(mm, base + 2 * PS) == 1 &&
	   holds(mm, base + PS, 'v'), "each page is on its node with its bytes");
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G, .node = 0 },
				      { .start = 1 * G, .size = 1 * G, .node = 1 } };
	struct zd_machine_desc d = { .arch = "x86_64", .nr_nodes = 2, .ram = ram, .nr_ram = 2 };
	uint64_t free0, base;

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR_OR_NULL(m), "a two-node machine boots (%s)", zd_machine_create_error()))
		return done_testing();
	free0 = zd_global_free_pages(m);
	mm = zd_mm_alloc(m);
	base = map(64 * PS);
	if (ok(!ZD_IS_ERR(mm) && base, "a process with 64 pages of private memory")) {
		fill(mm, base, 'e');
		call_errors(base);
		moves(base + 8 * PS);
		statuses(base + 16 * PS);
		pinned(base + 24 * PS);
		shared(base + 32 * PS);
		runs(base + 40 * PS);
		zd_mmput(mm);
		zd_synchronize_rcu(&m->rcu);
	}
	is_u64(zd_global_free_pages(m), free0, "every page is free again after exit");
	is_int(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
