/*
 * Regression tests for defects a code review found in the hotplug, memory
 * block and pmem paths. Each case is the smallest sequence that showed the
 * bug, and each assertion failed before its fix:
 *  - a failed range offline re-onlined an earlier block into Normal instead
 *    of the DMA32 zone it came from;
 *  - a zone span shrink probed one pfn per section, so a section starting
 *    with a hole looked empty and DMA32 lost its span with pages present;
 *  - hot-added RAM nested under a non-busy window (Soft Reserved) could not
 *    be removed, nor was its resource released;
 *  - a failed add_memory left the node marked online;
 *  - a failed namespace create left its new info block on the media, so the
 *    next boot came up claimed;
 *  - memory_failure on an altmap pfn (the memmap's own storage) poisoned an
 *    uninitialised struct page instead of refusing like the kernel (-ENXIO);
 *  - an imported entry with the same range as the top-level System RAM it
 *    was nested under adopted that RAM instead (tests/fuzz/fuzz_iomem), so
 *    the dump was upside down and did not boot again.
 */
#include <zonedev/zonedev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)

static void rollback_keeps_zone(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_page *keep = NULL, *got[256];
	struct zd_memory_block mb;
	int n = 0;

	/* Pin one 4 MiB block in memory2, hand everything else back. (memory0
	 * holds ZONE_DMA and the kernel image; the boot memmap and hash
	 * tables sit at the top of RAM.) */
	for (struct zd_page *p; n < 256 && (p = zd_alloc_pages(m, ZD___GFP_DMA32, 10)); ) {
		uint64_t pfn = zd_page_to_pfn(m, p);
		if (!keep && pfn >= (256 * M >> 12) && pfn < (384 * M >> 12))
			keep = p;
		else
			got[n++] = p;
	}
	for (int i = 0; i < n; i++)
		zd___free_pages(m, got[i], 10);
	ok(keep != NULL, "a page is pinned in memory2");
	is_int(zd_offline_memory_range(m, 128 * M, 256 * M), -EBUSY, "offlining memory1-2 fails");
	is_int(zd_memory_block_get(m, 1, &mb), 0, "memory1 exists");
	ok(mb.state == ZD_MEM_ONLINE && mb.zone == ZD_ZONE_DMA32,
	   "memory1 is back online in DMA32 (zone %d)", mb.zone);
	is_int(zd_page_zonenum(zd_pfn_to_page(m, 128 * M >> 12)), ZD_ZONE_DMA32,
	       "its pages are DMA32 pages");
	is_u64(m->node_data[0]->node_zones[ZD_ZONE_NORMAL].spanned_pages, 0, "Normal spans nothing");
	zd___free_pages(m, keep, 10);
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
}

static void shrink_probes_subsections(void)
{
	/* DMA32 starts at memory1 (nothing below 128 MiB, so no ZONE_DMA);
	 * memory2 starts with a hole. The kernel image goes high. */
	struct zd_mem_range ram[] = { { .start = 128 * M, .size = 128 * M },
				      { .start = 320 * M, .size = 64 * M },
				      { .start = 1 * G, .size = 1 * G } };
	struct zd_mem_range img[] = { { .start = 1 * G + 16 * M, .size = 16 * M, .name = "Kernel code" } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 3, .reserved = img,
				     .nr_reserved = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_zone *z = &m->node_data[0]->node_zones[ZD_ZONE_DMA32];
	uint64_t present = z->present_pages;

	is_int(zd_offline_memory_range(m, 128 * M, 128 * M), 0, "offline memory1");
	is_u64(z->zone_start_pfn, 320 * M >> 12, "DMA32 now starts at the RAM after the hole");
	is_u64(z->spanned_pages, (2 * G - 320 * M) >> 12, "...and spans to the end of RAM");
	is_u64(z->present_pages, present - (128 * M >> 12), "present pages agree");
	zd_machine_destroy(m);
}

static void nested_ram_removable(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_mem_range rsv[] = { { .start = 4 * G, .size = 4 * G, .name = "Soft Reserved" } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .reserved = rsv,
				     .nr_reserved = 1 };
	struct zd_machine *m = zd_machine_create(&d);

	is_int(zd_add_memory(m, 0, 4 * G, 128 * M, 0), 0, "add RAM inside Soft Reserved");
	is_int(zd_region_intersects(m, 4 * G, 128 * M, ZD_IORESOURCE_SYSTEM_RAM, 0),
	       ZD_REGION_INTERSECTS, "it is System RAM");
	is_int(zd_remove_memory(m, 4 * G, 128 * M), 0, "and can be removed again");
	is_int(zd_region_intersects(m, 4 * G, 128 * M, ZD_IORESOURCE_SYSTEM_RAM, 0),
	       ZD_REGION_DISJOINT, "its resource was released");
	char *io = tap_iomem_text(m);
	ok(strstr(io, "Soft Reserved") && !strstr(io, "100000000-107ffffff : System RAM"),
	   "the window stays, the RAM is gone");
	free(io);
	zd_machine_destroy(m);
}

static void failed_add_keeps_node_offline(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .nr_nodes = 2 };
	struct zd_machine *m = zd_machine_create(&d);
	static struct zd_dev_pagemap pg;

	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 4 * G, 128 * M, 0);
	ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "device memory at 4G (no iomem resource)");
	ok(!m->node_data[1]->online, "node 1 has no memory and is offline");
	is_int(zd_add_memory(m, 1, 4 * G, 128 * M, 0), -EEXIST, "RAM over it on node 1 fails");
	ok(!m->node_data[1]->online, "node 1 is still offline");
	zd_memunmap_pages(&pg);
	zd_machine_destroy(m);
}

static void failed_create_leaves_media(void)
{
	char dir[] = "/tmp/zd-regr-XXXXXX", path[64];
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_nd_region_desc pm = { .start = 4 * G, .size = 256 * M, .path = path };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_FSDAX };
	struct zd_nd_namespace_info in;
	struct zd_machine *m;

	if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
		return;
	snprintf(path, sizeof(path), "%s/pmem.img", dir);
	m = zd_machine_create(&d);
	zd_fault_inject_set(m, "pagemap_range:add", 1);
	is_int(zd_nd_create_namespace(zd_nd_region_find(m, "region0"), &o), -ENOMEM,
	       "create fails when the hot-add fails");
	zd_nd_namespace_get(zd_nd_region_find(m, "region0"), &in);
	is_int(in.mode, ZD_NS_MODE_RAW, "the namespace is raw");
	zd_machine_destroy(m);
	m = zd_machine_create(&d);
	zd_nd_namespace_get(zd_nd_region_find(m, "region0"), &in);
	is_int(in.mode, ZD_NS_MODE_RAW, "and still raw on the next boot: no block was left behind");
	zd_machine_destroy(m);
	unlink(path);
	rmdir(dir);
}

static void memory_failure_on_metadata(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	static struct zd_dev_pagemap pg;
	int fd = memfd_create("altmap", 0);
	uint64_t base = 4 * G >> 12;

	ok(fd >= 0 && ftruncate(fd, 128 * M) == 0, "a backing for the altmap");
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 4 * G, 128 * M, 0);
	tap_pgmap_altmap(&pg, fd, 2, 1024);
	ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "GENERIC pgmap with an altmap");
	is_int(zd_memory_failure(m, base + 5, 0), -ENXIO, "memory_failure in the altmap: -ENXIO");
	ok(!zd_test_page_flag(zd_pfn_to_page(m, base + 5), ZD_PG_hwpoison), "...nothing poisoned");
	is_int(zd_memory_failure(m, base + 2 + 1024, 0), 0, "the first device page can fail");
	zd_memunmap_pages(&pg);
	close(fd);
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
}

/* Boot from iomem text through a memfd; the machine (or an error pointer). */
static struct zd_machine *boot_iomem(const char *text)
{
	int fd = memfd_create("iomem", MFD_CLOEXEC);
	char path[64];
	struct zd_machine_desc d = { .arch = "x86_64", .iomem_path = path };
	struct zd_machine *m;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
		"the iomem text in a memfd"))
		return NULL;
	m = zd_machine_create(&d);
	close(fd);
	return m;
}

static void import_identical_child_of_ram(void)
{
	static const char text[] = "00001000-0009ffff : System RAM\n"
				   "00100000-0fffffff : System RAM\n"
				   "  00100000-0fffffff : Crash kernel\n";
	struct zd_machine *m = boot_iomem(text);
	char *io, *again;

	ok(!ZD_IS_ERR_OR_NULL(m), "boots from RAM with an identical child");
	if (ZD_IS_ERR_OR_NULL(m))
		return;
	io = tap_iomem_text(m);
	ok(strstr(io, "00100000-0fffffff : System RAM\n  00100000-0fffffff : Crash kernel\n") != NULL,
	   "the child stays under the RAM");
	zd_machine_destroy(m);
	m = boot_iomem(io);
	ok(!ZD_IS_ERR_OR_NULL(m), "its dump boots again");
	if (!ZD_IS_ERR_OR_NULL(m)) {
		again = tap_iomem_text(m);
		ok(!strcmp(again, io), "and dumps the same text");
		free(again);
		zd_machine_destroy(m);
	}
	free(io);
}

int main(void)
{
	rollback_keeps_zone();
	shrink_probes_subsections();
	nested_ram_removable();
	failed_add_keeps_node_offline();
	failed_create_leaves_media();
	memory_failure_on_metadata();
	import_identical_child_of_ram();
	return done_testing();
}
