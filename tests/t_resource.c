/*
 * The iomem resource tree (src/kernel/resource.c): region requests and
 * releases, nesting under non-busy windows, conflicts that change nothing,
 * region_intersects' three answers, the top-down free-region search and its
 * per-arch limit, the bottom-up allocation inside a window, insert_resource
 * nesting, walk_system_ram_range and page_is_ram, and concurrent use of the
 * lock.
 * Why: every hotplug and ZONE_DEVICE path claims its physical range here
 * first; a request that half-succeeds, a conflict that changes the tree or a
 * release that drops the wrong node leaves a range claimed twice or lost.
 * The /proc/iomem text, JSON and parser (src/kernel/iomem.c) are in
 * t_iomem.c.
 */
#include <zonedev/zonedev.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define SZ_4K   0x1000ULL
#define SZ_1M   (1ULL << 20)
#define SZ_128M (128ULL << 20)
#define SZ_256M (256ULL << 20)
#define SZ_512M (512ULL << 20)
#define SZ_1G   (1ULL << 30)
#define SZ_4G   (4ULL << 30)

static bool same_dump(struct zd_machine *m, const char *before)
{
	char *now = tap_iomem_text(m);
	bool same = strcmp(now, before) == 0;

	if (!same)
		diag("before:\n%s\nafter:\n%s", before, now);
	free(now);
	return same;
}

static bool dump_has(struct zd_machine *m, const char *line)
{
	char *d = tap_iomem_text(m);
	bool found = strstr(d, line) != NULL;

	if (!found)
		diag("no \"%s\" in:\n%s", line, d);
	free(d);
	return found;
}

/* ---------------------------------------------------------------- requests */

static void test_request_release(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource *r, *r2;
	char *before;

	if (!m)
		return;
	before = tap_iomem_text(m);
	ok(strstr(before, "00000000-ffffffff : System RAM\n") != NULL, "boot RAM is in the dump");

	r = zd_request_mem_region(m, 8 * SZ_1G, SZ_1M, "dev0");
	ok(r != NULL, "request_mem_region in a hole succeeds");
	if (r) {
		is_u64(r->start, 8 * SZ_1G, "start");
		is_u64(r->end, 8 * SZ_1G + SZ_1M - 1, "end is inclusive");
		is_u64(r->flags, ZD_IORESOURCE_MEM | ZD_IORESOURCE_BUSY, "flags: parent type + BUSY");
		is_int(r->desc, ZD_IORES_DESC_NONE, "desc inherited from the root");
		ok(r->parent == &m->iomem_resource, "top-level child of iomem");
		ok(r->tree_owned && r->name && strcmp(r->name, "dev0") == 0 && r->name == r->name_buf,
		   "tree-owned with a copied name");
	}
	ok(dump_has(m, "200000000-2000fffff : dev0\n"), "region shows in the dump");

	/* A second, identical request conflicts with the busy first one. */
	{
		char *mid = tap_iomem_text(m);

		r2 = zd_request_mem_region(m, 8 * SZ_1G + SZ_4K, SZ_4K, "dev1");
		ok(r2 == NULL, "request overlapping a busy region fails");
		ok(zd_log_contains(m, "resource: request [mem 0x200001000-0x200001fff] \"dev1\" "
				      "conflicts with [mem 0x200000000-0x2000fffff] \"dev0\""),
		   "conflict is logged naming the holder");
		ok(same_dump(m, mid), "failed request changes nothing");
		free(mid);
	}

	is_int(zd_release_mem_region(m, 8 * SZ_1G, SZ_1M), 0, "release_mem_region");
	ok(same_dump(m, before), "tree is back to boot state");

	/* Conflict with RAM. */
	r = zd_request_mem_region(m, SZ_1G, SZ_4K, "into-ram");
	ok(r == NULL, "request inside System RAM fails");
	ok(zd_log_contains(m, "resource: request [mem 0x40000000-0x40000fff] \"into-ram\" "
			      "conflicts with [mem 0x00000000-0xffffffff] \"System RAM\""),
	   "conflict with System RAM is logged");
	ok(same_dump(m, before), "no state change after the RAM conflict");

	/* Bad sizes. */
	ok(zd_request_mem_region(m, 8 * SZ_1G, 0, "empty") == NULL, "n == 0 is refused");
	ok(zd_log_contains(m, "\"empty\": empty range"), "n == 0 is logged");
	ok(zd_request_mem_region(m, ~0ULL - SZ_4K, 2 * SZ_4K, "wrap") == NULL,
	   "start + n overflow is refused");
	ok(zd_log_contains(m, "\"wrap\": range wraps"), "overflow is logged");
	ok(zd_request_mem_region(m, 1ULL << 46, SZ_4K, "above") == NULL,
	   "request above the root's end fails");
	ok(zd_log_contains(m, "does not fit inside [mem 0x00000000-0x3fffffffffff] \"PCI mem\""),
	   "out-of-root request is logged");

	/* Releases that do not match. */
	is_int(zd_release_mem_region(m, 12 * SZ_1G, SZ_4K), -EINVAL, "release of nothing: -EINVAL");
	ok(zd_log_contains(m, "Trying to free nonexistent resource "
			      "<0x0000000300000000-0x0000000300000fff>"),
	   "nonexistent release is logged with both ends");
	r = zd_request_mem_region(m, 8 * SZ_1G, SZ_1M, "dev0");
	ok(r != NULL, "request again");
	is_int(zd_release_mem_region(m, 8 * SZ_1G, SZ_4K), -EINVAL,
	       "release of part of a busy region: -EINVAL");
	is_int(zd_release_mem_region(m, 0, 2 * SZ_4G), -EINVAL,
	       "release of a range bigger than boot RAM: -EINVAL");
	ok(dump_has(m, "00000000-ffffffff : System RAM\n"), "boot RAM untouched");
	ok(dump_has(m, "200000000-2000fffff : dev0\n"), "partial release left the region");
	is_int(zd_release_mem_region(m, 8 * SZ_1G, SZ_1M), 0, "exact release works");
	ok(same_dump(m, before), "clean again");

	free(before);
	zd_machine_destroy(m);
}

static void test_nested_request(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource win = {
		.name = "PCI Bus 0000:00", .start = 16 * SZ_1G, .end = 17 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_MEM,
	};
	struct zd_resource *bar, *r;
	char *before, *mid;

	if (!m)
		return;
	before = tap_iomem_text(m);
	is_int(zd_insert_resource(m, NULL, &win), 0, "insert a PCI window");
	bar = zd_request_mem_region(m, 16 * SZ_1G + SZ_256M, SZ_1M, "0000:00:02.0");
	ok(bar != NULL, "busy request inside a non-busy window succeeds");
	if (bar) {
		ok(bar->parent == &win, "it nests under the window");
		is_u64(bar->flags, ZD_IORESOURCE_MEM | ZD_IORESOURCE_BUSY, "busy MEM");
	}
	ok(dump_has(m, "400000000-43fffffff : PCI Bus 0000:00\n"
		       "  410000000-4100fffff : 0000:00:02.0\n"),
	   "dump shows the nesting");

	mid = tap_iomem_text(m);
	r = zd_request_mem_region(m, 16 * SZ_1G - SZ_1M, 2 * SZ_1M, "straddler");
	ok(r == NULL, "request straddling the window's start fails");
	ok(zd_log_contains(m, "\"straddler\" does not fit inside [mem 0x400000000-0x43fffffff] "
			      "\"PCI Bus 0000:00\""),
	   "logged as not fitting inside the window");
	r = zd_request_mem_region(m, 16 * SZ_1G + SZ_256M + SZ_4K, SZ_4K, "inner");
	ok(r == NULL, "request on the busy BAR fails");
	ok(same_dump(m, mid), "failed nested requests change nothing");
	free(mid);

	is_int(zd_release_mem_region(m, 16 * SZ_1G, SZ_1G), -EINVAL,
	       "release_region does not free a non-busy window");
	is_int(zd_release_mem_region(m, 16 * SZ_1G + SZ_256M, SZ_1M), 0,
	       "release_region descends through the window");
	ok(win.child == NULL, "window is empty again");

	/* release_resource of a window drops its tree-owned subtree. */
	bar = zd_request_mem_region(m, 16 * SZ_1G + SZ_512M, SZ_1M, "0000:00:03.0");
	ok(bar && bar->parent == &win, "another BAR under the window");
	is_int(zd_release_resource(m, &win), 0, "release_resource of the window");
	ok(win.parent == NULL && win.child == NULL && win.sibling == NULL,
	   "caller-owned window is unlinked, links cleared");
	ok(same_dump(m, before), "window and its BAR are gone (ASan checks the BAR was freed)");
	is_int(zd_release_resource(m, &win), -EINVAL, "releasing it again: -EINVAL");
	ok(zd_log_contains(m, "cannot release [mem 0x400000000-0x43fffffff] \"PCI Bus 0000:00\": "
			      "not in the tree"),
	   "double release is logged");

	free(before);
	zd_machine_destroy(m);
}

static void test_release_with_children(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource child = {
		.name = "child", .start = 20 * SZ_1G + SZ_1M, .end = 20 * SZ_1G + 2 * SZ_1M - 1,
		.flags = ZD_IORESOURCE_MEM,
	};
	struct zd_resource *r;
	char *mid;

	if (!m)
		return;
	r = zd_request_mem_region(m, 20 * SZ_1G, SZ_1G, "busy-parent");
	ok(r != NULL, "busy region");
	is_int(zd_insert_resource(m, NULL, &child), 0, "insert a child into it");
	ok(child.parent == r, "child nests under the busy region");
	mid = tap_iomem_text(m);
	is_int(zd_release_mem_region(m, 20 * SZ_1G, SZ_1G), -EBUSY,
	       "release of a region that has children: -EBUSY");
	ok(zd_log_contains(m, "not releasing [mem 0x500000000-0x53fffffff] \"busy-parent\": "
			      "it still holds [mem 0x500100000-0x5001fffff] \"child\""),
	   "refusal is logged");
	ok(same_dump(m, mid), "children are not lost");
	free(mid);
	is_int(zd_release_resource(m, &child), 0, "release the child");
	is_int(zd_release_mem_region(m, 20 * SZ_1G, SZ_1G), 0, "now the release works");
	zd_machine_destroy(m);
}

static void test_device_private_conflict(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource *dp, *r;

	if (!m)
		return;
	dp = zd_request_free_mem_region(m, NULL, SZ_1G, "dmirror");
	ok(!ZD_IS_ERR_OR_NULL(dp), "device-private range");
	r = zd_request_mem_region(m, (1ULL << 46) - SZ_1G, SZ_4K, "late");
	ok(r == NULL, "request over device-private memory fails");
	ok(zd_log_contains(m, "Unaddressable device dmirror [mem 0x3fffc0000000-0x3fffffffffff] "
			      "conflicts with [mem 0x3fffc0000000-0x3fffc0000fff]"),
	   "logged with the kernel's Unaddressable wording");
	zd_machine_destroy(m);
}

/* ------------------------------------------------------- region_intersects */

static void test_region_intersects(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	const unsigned long ram = ZD_IORESOURCE_SYSTEM_RAM;
	struct zd_resource rsv = {
		.name = "Reserved", .start = SZ_4G, .end = SZ_4G + SZ_256M - 1,
		.flags = ZD_IORESOURCE_MEM | ZD_IORESOURCE_BUSY, .desc = ZD_IORES_DESC_RESERVED,
	};
	struct zd_resource cxl = {
		.name = "CXL Window 0", .start = 32 * SZ_1G, .end = 36 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_MEM,
	};
	struct zd_resource cxl_ram = {
		.name = "System RAM", .start = 32 * SZ_1G, .end = 34 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_SYSTEM_RAM | ZD_IORESOURCE_BUSY,
	};

	if (!m)
		return;
	is_int(zd_region_intersects(m, SZ_1G, SZ_1G, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_INTERSECTS, "inside RAM: INTERSECTS");
	is_int(zd_region_intersects(m, 3 * SZ_1G, 2 * SZ_1G, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_INTERSECTS, "RAM + hole: INTERSECTS (holes are not other)");
	is_int(zd_region_intersects(m, 5 * SZ_1G, SZ_1G, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_DISJOINT, "hole only: DISJOINT");
	is_int(zd_region_intersects(m, 0, 0, ram, ZD_IORES_DESC_NONE), ZD_REGION_DISJOINT,
	       "empty range: DISJOINT");

	is_int(zd_insert_resource(m, NULL, &rsv), 0, "reserved range after RAM");
	is_int(zd_region_intersects(m, 3 * SZ_1G, SZ_1G + SZ_128M, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_MIXED, "RAM + reserved: MIXED");
	is_int(zd_region_intersects(m, SZ_4G, SZ_128M, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_DISJOINT, "reserved only, asking for RAM: DISJOINT");
	is_int(zd_region_intersects(m, SZ_4G, SZ_128M, ZD_IORESOURCE_MEM, ZD_IORES_DESC_RESERVED),
	       ZD_REGION_INTERSECTS, "reserved, asking by desc: INTERSECTS");
	is_int(zd_region_intersects(m, 3 * SZ_1G, SZ_1G + SZ_128M, ZD_IORESOURCE_MEM,
				    ZD_IORES_DESC_RESERVED),
	       ZD_REGION_MIXED, "desc filter makes RAM the other: MIXED");

	/* Busy System RAM nested under a non-busy window (the CXL case). */
	is_int(zd_insert_resource(m, NULL, &cxl), 0, "CXL window");
	is_int(zd_insert_resource(m, NULL, &cxl_ram), 0, "System RAM inside it");
	ok(cxl_ram.parent == &cxl, "nested");
	is_int(zd_region_intersects(m, 32 * SZ_1G, SZ_1G, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_INTERSECTS, "covered by a matching descendant: INTERSECTS");
	is_int(zd_region_intersects(m, 32 * SZ_1G, 2 * SZ_1G, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_INTERSECTS, "exactly the nested RAM: INTERSECTS");
	is_int(zd_region_intersects(m, 33 * SZ_1G, 2 * SZ_1G, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_MIXED, "nested RAM + rest of the window: MIXED");
	is_int(zd_region_intersects(m, 34 * SZ_1G, SZ_1G, ram, ZD_IORES_DESC_NONE),
	       ZD_REGION_DISJOINT, "window part without RAM: DISJOINT");
	is_int(zd_region_intersects(m, 0, 40 * SZ_1G, ram, ZD_IORES_DESC_NONE), ZD_REGION_MIXED,
	       "everything: MIXED");

	is_int(zd_release_resource(m, &cxl), 0, "release window with its RAM");
	ok(cxl_ram.parent == NULL, "nested caller-owned RAM unlinked too");
	is_int(zd_release_resource(m, &rsv), 0, "release reserved");
	zd_machine_destroy(m);
}

/* ------------------------------------------------------ free-region search */

static void test_request_free_mem_region(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource *a, *b, *c;
	char *before;

	if (!m)
		return;
	before = tap_iomem_text(m);
	is_u64(zd_direct_map_physmem_end(m), (1ULL << 46) - 1, "x86_64 limit: 2^46 - 1");
	a = zd_request_free_mem_region(m, NULL, SZ_1G, "hmm_dmirror");
	b = zd_request_free_mem_region(m, NULL, SZ_1G, "hmm_dmirror");
	ok(!ZD_IS_ERR_OR_NULL(a) && !ZD_IS_ERR_OR_NULL(b), "two free regions");
	if (ZD_IS_ERR_OR_NULL(a) || ZD_IS_ERR_OR_NULL(b)) {
		zd_machine_destroy(m);
		free(before);
		return;
	}
	is_u64(a->start, (1ULL << 46) - SZ_1G, "first at 2^46 - size");
	is_u64(zd_resource_size(a), SZ_1G, "first is size bytes");
	is_u64(b->end + 1, a->start, "second is adjacent below the first");
	ok(b->start < a->start, "descending");
	ok(a->start % SZ_128M == 0 && b->start % SZ_128M == 0, "section aligned");
	is_int(a->desc, ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY, "desc 6 (DEVICE_PRIVATE_MEMORY)");
	is_int(b->desc, 6, "second has desc 6 too");
	is_u64(a->flags, ZD_IORESOURCE_MEM | ZD_IORESOURCE_BUSY, "busy MEM");
	ok(a->parent == &m->iomem_resource, "top-level");

	c = zd_request_free_mem_region(m, NULL, 100 * SZ_1M, "small");
	ok(!ZD_IS_ERR_OR_NULL(c), "unaligned size");
	if (!ZD_IS_ERR_OR_NULL(c)) {
		is_u64(zd_resource_size(c), SZ_128M, "size rounded up to a section");
		is_u64(c->end + 1, b->start, "and placed right below");
		is_int(zd_release_mem_region(m, c->start, SZ_128M), 0, "release it");
	}
	is_int(zd_region_intersects(m, b->start, 2 * SZ_1G, ZD_IORESOURCE_MEM,
				    ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY),
	       ZD_REGION_INTERSECTS, "region_intersects finds them by desc");

	/* A hole below the first candidate is found by skipping over a. */
	is_int(zd_release_mem_region(m, b->start, SZ_1G), 0, "release the second");
	b = zd_request_free_mem_region(m, NULL, 2 * SZ_1G, "big");
	ok(!ZD_IS_ERR_OR_NULL(b) && b->end + 1 == a->start, "a 2G range goes right below");
	if (!ZD_IS_ERR_OR_NULL(b))
		is_int(zd_release_mem_region(m, b->start, 2 * SZ_1G), 0, "release it");
	is_int(zd_release_mem_region(m, a->start, SZ_1G), 0, "release the first");
	ok(same_dump(m, before), "all gone");

	ok(ZD_PTR_ERR(zd_request_free_mem_region(m, NULL, 0, "zero")) == -EINVAL,
	   "size 0: -EINVAL");
	free(before);
	zd_machine_destroy(m);
}

static void test_free_region_full(void)
{
	/* 43-bit x86 with everything above RAM reserved. */
	struct zd_mem_range rsv[] = {
		{ .start = SZ_4G, .size = (1ULL << 43) - SZ_4G, .name = "Reserved" },
	};
	struct zd_machine *m = tap_machine("x86_64", 43, 0, SZ_4G, rsv, 1);
	struct zd_resource *r;
	char *before;

	if (!m)
		return;
	before = tap_iomem_text(m);
	r = zd_request_free_mem_region(m, NULL, SZ_1G, "nope");
	is_int(ZD_IS_ERR(r) ? ZD_PTR_ERR(r) : 0, -ERANGE, "full space: -ERANGE");
	ok(zd_log_contains(m, "request_free_mem_region: no free range of 0x40000000 below "
			      "0x7ffffffffff"),
	   "logged with size and limit");
	ok(same_dump(m, before), "no state change");
	free(before);
	zd_machine_destroy(m);
}

static void test_free_region_fast(void)
{
	/* 52-bit la57 space with one free gigabyte deep down: must not step
	 * through 2^25 sections one at a time. */
	struct zd_mem_range rsv[] = {
		{ .start = 8 * SZ_1G, .size = (1ULL << 52) - 8 * SZ_1G, .name = "Reserved" },
		{ .start = SZ_4G, .size = 3 * SZ_1G, .name = "Reserved" },
	};
	struct zd_machine *m = tap_machine("x86_64-la57", 0, 0, SZ_4G, rsv, 2);
	struct zd_resource *r;
	struct zd_log_line l[8];
	unsigned long seq;
	unsigned probes = ~0u;
	size_t n;

	if (!m)
		return;
	is_u64(zd_direct_map_physmem_end(m), (1ULL << 52) - 1, "la57 limit: 2^52 - 1");
	seq = zd_log_seq(m);
	r = zd_request_free_mem_region(m, NULL, SZ_1G, "deep");
	ok(!ZD_IS_ERR_OR_NULL(r), "found the only hole");
	if (!ZD_IS_ERR_OR_NULL(r))
		is_u64(r->start, 7 * SZ_1G, "at 7G");
	n = zd_log_read(m, seq, l, 8);
	for (size_t i = 0; i < n; i++)
		sscanf(l[i].text, "request_free_mem_region: %u candidate(s) probed", &probes);
	/* One probe per occupied range in the way, not one per section. */
	ok(probes <= 4, "search jumps over occupied ranges (%u candidates probed)", probes);
	r = zd_request_free_mem_region(m, NULL, SZ_1G, "none-left");
	is_int(ZD_IS_ERR(r) ? ZD_PTR_ERR(r) : 0, -ERANGE, "no second hole: -ERANGE");
	zd_machine_destroy(m);
}

static void test_free_region_arm64(void)
{
	struct zd_machine *m = tap_machine("arm64-4k", 0, 2 * SZ_1G, SZ_4G, NULL, 0);
	phys_addr_t limit = 2 * SZ_1G + (1ULL << 47) - 1;
	struct zd_resource *r;

	if (!m)
		return;
	is_u64(zd_direct_map_physmem_end(m), limit, "arm64-4k limit: memstart + 2^47 - 1");
	r = zd_request_free_mem_region(m, NULL, SZ_1G, "amdgpu");
	ok(!ZD_IS_ERR_OR_NULL(r), "free region on arm64");
	if (!ZD_IS_ERR_OR_NULL(r)) {
		is_u64(r->end, limit, "ends at the end of the linear map, not at 2^48");
		is_u64(r->start, limit + 1 - SZ_1G, "starts size below it");
	}
	zd_machine_destroy(m);

	/* RAM high enough that the linear map would pass 2^48: clipped. */
	m = tap_machine("arm64-4k", 0, 1ULL << 47, SZ_4G, NULL, 0);
	if (!m)
		return;
	is_u64(zd_direct_map_physmem_end(m), (1ULL << 48) - 1, "clipped to 2^48 - 1");
	zd_machine_destroy(m);
}

static void test_alloc_free_mem_region(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource win = {
		.name = "CXL Window 0", .start = 128 * SZ_1G, .end = 129 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_MEM, .desc = ZD_IORES_DESC_CXL,
	};
	struct zd_resource *a, *b, *c;
	char *mid;

	if (!m)
		return;
	is_int(zd_insert_resource(m, NULL, &win), 0, "CXL window");
	a = zd_alloc_free_mem_region(m, &win, SZ_256M, SZ_256M, "region0");
	b = zd_alloc_free_mem_region(m, &win, SZ_128M, SZ_256M, "region1");
	ok(!ZD_IS_ERR_OR_NULL(a) && !ZD_IS_ERR_OR_NULL(b), "two allocations");
	if (ZD_IS_ERR_OR_NULL(a) || ZD_IS_ERR_OR_NULL(b)) {
		zd_machine_destroy(m);
		return;
	}
	is_u64(a->start, 128 * SZ_1G, "bottom-up: first at the window start");
	is_u64(b->start, 128 * SZ_1G + SZ_256M, "second above it");
	is_u64(zd_resource_size(b), SZ_256M, "size aligned up");
	ok(a->parent == &win && b->parent == &win, "children of the window");
	is_u64(a->flags, ZD_IORESOURCE_MEM, "not busy");
	is_int(a->desc, ZD_IORES_DESC_NONE, "desc NONE");
	c = zd_alloc_free_mem_region(m, &win, SZ_512M, SZ_256M, "region2");
	ok(!ZD_IS_ERR_OR_NULL(c) && c->start == 128 * SZ_1G + SZ_512M, "fills the rest");
	mid = tap_iomem_text(m);
	ok(ZD_PTR_ERR(zd_alloc_free_mem_region(m, &win, SZ_256M, SZ_256M, "x")) == -ERANGE,
	   "full window: -ERANGE");
	ok(same_dump(m, mid), "no state change");
	free(mid);
	ok(ZD_PTR_ERR(zd_alloc_free_mem_region(m, &win, SZ_256M, 3, "x")) == -EINVAL,
	   "non power-of-two alignment: -EINVAL");
	is_int(zd_release_resource(m, b), 0, "release the middle one");
	b = zd_alloc_free_mem_region(m, &win, SZ_128M, SZ_128M, "region1b");
	ok(!ZD_IS_ERR_OR_NULL(b) && b->start == 128 * SZ_1G + SZ_256M, "reuses the hole");
	is_int(zd_release_resource(m, &win), 0, "release window with tree-owned children");
	zd_machine_destroy(m);
}

/* ---------------------------------------------------------- insert_resource */

static void test_insert_resource(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource *outer, *inner, *middle, *same, *bad;
	char *mid;

	if (!m)
		return;
	outer = zd_resource_alloc("outer", 64 * SZ_1G, 4 * SZ_1G, ZD_IORESOURCE_MEM, 0);
	inner = zd_resource_alloc("inner", 65 * SZ_1G, SZ_1G, ZD_IORESOURCE_MEM, 0);
	middle = zd_resource_alloc("middle", 64 * SZ_1G + SZ_512M, 3 * SZ_1G - SZ_512M,
				   ZD_IORESOURCE_MEM, 0);
	same = zd_resource_alloc("same", 64 * SZ_1G + SZ_512M, 3 * SZ_1G - SZ_512M,
				 ZD_IORESOURCE_MEM, 0);
	ok(outer && inner && middle && same && outer->tree_owned, "zd_resource_alloc");
	ok(zd_resource_alloc("bad", 0, 0, 0, 0) == NULL, "zd_resource_alloc refuses size 0");

	is_int(zd_insert_resource(m, NULL, outer), 0, "outer");
	is_int(zd_insert_resource(m, NULL, inner), 0, "inner");
	ok(inner->parent == outer, "inner nests under outer");
	is_int(zd_insert_resource(m, NULL, middle), 0, "middle");
	ok(middle->parent == outer && inner->parent == middle && outer->child == middle,
	   "middle goes between and adopts inner");

	mid = tap_iomem_text(m);
	bad = zd_resource_alloc("straddle", 66 * SZ_1G, SZ_1G + SZ_512M, ZD_IORESOURCE_MEM, 0);
	is_int(zd_insert_resource(m, NULL, bad), -EBUSY, "straddling middle's end: -EBUSY");
	ok(zd_log_contains(m, "cannot insert [mem 0x1080000000-0x10dfffffff] \"straddle\": "
			      "straddles [mem 0x1020000000-0x10bfffffff] \"middle\""),
	   "straddle is logged");
	ok(bad->parent == NULL, "not linked");
	zd_resource_free(bad);
	bad = zd_resource_alloc("past-outer", 67 * SZ_1G, 2 * SZ_1G, ZD_IORESOURCE_MEM, 0);
	is_int(zd_insert_resource(m, NULL, bad), -EBUSY, "straddling outer: -EBUSY");
	zd_resource_free(bad);
	bad = zd_resource_alloc("too-high", 1ULL << 46, SZ_1G, ZD_IORESOURCE_MEM, 0);
	is_int(zd_insert_resource(m, NULL, bad), -EBUSY, "outside the root: -EBUSY");
	zd_resource_free(bad);
	is_int(zd_insert_resource(m, NULL, inner), -EINVAL, "inserting a linked node: -EINVAL");
	ok(same_dump(m, mid), "failed inserts change nothing");
	free(mid);

	is_int(zd_insert_resource(m, NULL, same), 0, "equal range to middle");
	ok(same->parent == outer && middle->parent == same, "equal range adopts middle");
	ok(dump_has(m, "1000000000-10ffffffff : outer\n"
		       "  1020000000-10bfffffff : same\n"
		       "    1020000000-10bfffffff : middle\n"
		       "      1040000000-107fffffff : inner\n"),
	   "dump shows four levels");
	/* Everything stays in the tree: machine teardown frees it (ASan). */
	zd_machine_destroy(m);
}

/* ------------------------------------------------------------- System RAM */

struct walk_rec {
	uint64_t pfn[8], nr[8];
	int n, stop_after;
};

static int walk_cb(uint64_t pfn, uint64_t nr, void *arg)
{
	struct walk_rec *w = arg;

	if (w->n < 8) {
		w->pfn[w->n] = pfn;
		w->nr[w->n] = nr;
	}
	w->n++;
	return w->stop_after && w->n >= w->stop_after ? 7 : 0;
}

static void test_walk_system_ram(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource win = {
		.name = "CXL Window 0", .start = 32 * SZ_1G, .end = 36 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_MEM,
	};
	struct zd_resource cram = {
		.name = "System RAM (kmem)", .start = 32 * SZ_1G, .end = 34 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_SYSTEM_RAM | ZD_IORESOURCE_BUSY,
	};
	struct zd_resource notbusy = {
		.name = "System RAM?", .start = 40 * SZ_1G, .end = 41 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_SYSTEM_RAM,
	};
	struct walk_rec w = { 0 };

	if (!m)
		return;
	zd_insert_resource(m, NULL, &win);
	zd_insert_resource(m, NULL, &cram);
	zd_insert_resource(m, NULL, &notbusy);
	is_int(zd_walk_system_ram_range(m, 0, (48 * SZ_1G) >> 12, &w, walk_cb), 0, "walk returns 0");
	is_int(w.n, 2, "two RAM ranges (non-busy one skipped)");
	is_u64(w.pfn[0], 0, "boot RAM pfn");
	is_u64(w.nr[0], SZ_4G >> 12, "boot RAM pages");
	is_u64(w.pfn[1], (32 * SZ_1G) >> 12, "nested RAM under the window found");
	is_u64(w.nr[1], (2 * SZ_1G) >> 12, "its pages");

	memset(&w, 0, sizeof(w));
	zd_walk_system_ram_range(m, 0x100, 0x10, &w, walk_cb);
	ok(w.n == 1 && w.pfn[0] == 0x100 && w.nr[0] == 0x10, "clipped to the asked range");
	memset(&w, 0, sizeof(w));
	w.stop_after = 1;
	is_int(zd_walk_system_ram_range(m, 0, (48 * SZ_1G) >> 12, &w, walk_cb), 7,
	       "non-zero callback result stops the walk and is returned");
	is_int(w.n, 1, "stopped after the first");
	memset(&w, 0, sizeof(w));
	is_int(zd_walk_system_ram_range(m, (5 * SZ_1G) >> 12, 16, &w, walk_cb), -EINVAL,
	       "no RAM: -EINVAL");

	is_int(zd_page_is_ram(m, 100), 1, "pfn 100 is RAM");
	is_int(zd_page_is_ram(m, (SZ_4G >> 12) - 1), 1, "last boot pfn is RAM");
	is_int(zd_page_is_ram(m, SZ_4G >> 12), 0, "first pfn after is not");
	is_int(zd_page_is_ram(m, (33 * SZ_1G) >> 12), 1, "nested RAM is RAM");
	is_int(zd_page_is_ram(m, (35 * SZ_1G) >> 12), 0, "rest of the window is not");
	is_int(zd_page_is_ram(m, (40 * SZ_1G) >> 12), 0, "non-busy SYSRAM is not");
	zd_release_resource(m, &win);
	zd_release_resource(m, &notbusy);
	zd_machine_destroy(m);
}

/* ------------------------------------------------------------ concurrency */

struct thr {
	struct zd_machine *m;
	int idx, failures;
};

static void *thr_fn(void *arg)
{
	struct thr *t = arg;
	phys_addr_t base = (200 + (phys_addr_t)t->idx) * SZ_1G;

	for (int i = 0; i < 500; i++) {
		struct zd_resource *r = zd_request_mem_region(t->m, base + (phys_addr_t)(i % 16) * SZ_1M,
							      SZ_1M, "thr");
		if (!r) {
			t->failures++;
			continue;
		}
		if (zd_region_intersects(t->m, base, SZ_1G, ZD_IORESOURCE_MEM, 0) !=
		    ZD_REGION_INTERSECTS)
			t->failures++;
		if (zd_release_mem_region(t->m, r->start, SZ_1M))
			t->failures++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	pthread_t th[4];
	struct thr t[4];
	char *before;
	int fails = 0;

	if (!m)
		return;
	before = tap_iomem_text(m);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ .m = m, .idx = i };
		pthread_create(&th[i], NULL, thr_fn, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		fails += t[i].failures;
	}
	is_int(fails, 0, "4 threads request/intersect/release without failures");
	ok(same_dump(m, before), "tree is back to boot state");
	free(before);
	zd_machine_destroy(m);
}

int main(void)
{
	test_request_release();
	test_nested_request();
	test_release_with_children();
	test_device_private_conflict();
	test_region_intersects();
	test_request_free_mem_region();
	test_free_region_full();
	test_free_region_fast();
	test_free_region_arm64();
	test_alloc_free_mem_region();
	test_insert_resource();
	test_walk_system_ram();
	test_threads();
	return done_testing();
}
