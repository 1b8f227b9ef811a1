/*
 * The repairs of issue 6: each case is a place where zonedev deviated from
 * the kernel, asserting the kernel's behaviour, and each failed on the code
 * before its fix:
 *  - region_intersects() moved its cover cursor backwards over a matching
 *    resource nested in one already counted (the kernel's max());
 *  - remove_memory() returned 0 but left the System RAM resource behind
 *    when it had a child, so a re-add failed with -EEXIST; and it refused
 *    to remove part of a resource, which the kernel trims;
 *  - memory_failure() poisoned struct pages of offline memory (the kernel:
 *    "memory outside kernel control", -ENXIO, nothing written).
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)

static void region_intersects_nested(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	struct zd_resource *win, *ram, *inner, *ram2;

	if (!m)
		return;
	/* A non-busy window whose first half is RAM holding a nested RAM
	 * child, and whose second half is RAM too: all of it is covered. */
	win = zd_resource_alloc("CXL Window 0", 4 * G, 1 * G, ZD_IORESOURCE_MEM, ZD_IORES_DESC_CXL);
	ram = zd_resource_alloc("System RAM", 4 * G, 512 * M, ZD_IORESOURCE_SYSTEM_RAM, 0);
	inner = zd_resource_alloc("System RAM", 4 * G + 64 * M, 64 * M, ZD_IORESOURCE_SYSTEM_RAM, 0);
	ram2 = zd_resource_alloc("System RAM", 4 * G + 512 * M, 512 * M, ZD_IORESOURCE_SYSTEM_RAM, 0);
	is_int(zd_insert_resource(m, NULL, win), 0, "window inserted");
	is_int(zd_insert_resource(m, NULL, ram), 0, "RAM inserted under it");
	is_int(zd_insert_resource(m, NULL, inner), 0, "nested RAM inserted under that");
	is_int(zd_insert_resource(m, NULL, ram2), 0, "second RAM inserted");
	is_int(zd_region_intersects(m, 4 * G, 1 * G, ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE),
	       ZD_REGION_INTERSECTS, "window fully covered by RAM, nested child included: INTERSECTS");
	is_int(zd_region_intersects(m, 4 * G, 1 * G + 4096, ZD_IORESOURCE_SYSTEM_RAM,
				    ZD_IORES_DESC_NONE),
	       ZD_REGION_INTERSECTS, "a hole after the window does not count as other");
	zd_machine_destroy(m);
}

static void remove_memory_releases_ram(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	struct zd_resource *child;
	char *iomem;

	if (!m)
		return;
	is_int(zd_add_memory(m, 0, 4 * G, 256 * M, 0), 0, "hot-add 256 MiB");
	/* A firmware-style child inside the hot-added RAM (the kind an iomem
	 * import puts under boot RAM). */
	child = zd_resource_alloc("Reserved", 4 * G + 4 * M, 4096, ZD_IORESOURCE_MEM,
				  ZD_IORES_DESC_RESERVED);
	is_int(zd_insert_resource(m, NULL, child), 0, "a child nested inside the RAM resource");
	is_int(zd_remove_memory(m, 4 * G, 256 * M), 0, "remove_memory succeeds");
	iomem = tap_iomem_text(m);
	ok(!strstr(iomem, "100000000-10fffffff"), "the System RAM resource is gone");
	ok(!strstr(iomem, "Reserved"), "and its child with it, as the kernel frees them together");
	free(iomem);
	is_int(zd_add_memory(m, 0, 4 * G, 256 * M, 0), 0, "re-adding the range works (no EEXIST)");

	/* Part of a resource: the kernel trims it (release_mem_region_adjustable). */
	is_int(zd_remove_memory(m, 4 * G + 128 * M, 128 * M), 0, "remove the upper block only");
	iomem = tap_iomem_text(m);
	ok(strstr(iomem, "100000000-107ffffff : System RAM") != NULL, "the resource is trimmed to %s",
	   "100000000-107ffffff");
	free(iomem);
	is_int(zd_remove_memory(m, 4 * G, 128 * M), 0, "remove the lower block");
	/* And splitting: boot RAM offlined in the middle. */
	is_int(zd_offline_memory_range(m, 512 * M, 128 * M), 0, "offline memory4 of boot RAM");
	is_int(zd_remove_memory(m, 512 * M, 128 * M), 0, "remove it");
	iomem = tap_iomem_text(m);
	ok(strstr(iomem, "00000000-1fffffff : System RAM") &&
	   strstr(iomem, "28000000-3fffffff : System RAM"), "boot RAM split around the hole");
	free(iomem);
	is_int(zd_remove_memory(m, 8 * G, 128 * M), -EINVAL, "removing what is not RAM: -EINVAL");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
}

static void memory_failure_outside_control(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	uint64_t pfn = (4 * G + 8 * M) >> 12;
	struct zd_page before;

	if (!m)
		return;
	is_int(zd_add_memory(m, 0, 4 * G, 128 * M, 0), 0, "hot-add a block, left offline");
	memcpy(&before, zd_pfn_to_page(m, pfn), sizeof(before));
	is_int(zd_memory_failure(m, pfn, 0), -ENXIO, "memory_failure on offline memory: -ENXIO");
	ok(!memcmp(&before, zd_pfn_to_page(m, pfn), sizeof(before)), "its struct page is untouched");
	ok(zd_log_contains(m, "memory outside kernel control"), "the kernel's message is logged");
	is_int(zd_memory_failure(m, (2 * G) >> 12, 0), -ENXIO, "a pfn without a struct page: -ENXIO");
	is_int(zd_memory_failure(m, (64 * M) >> 12, 0), 0, "online RAM is poisoned");
	ok(zd_test_page_flag(zd_pfn_to_page(m, (64 * M) >> 12), ZD_PG_hwpoison), "PG_hwpoison set");
	zd_machine_destroy(m);
}

int main(void)
{
	region_intersects_nested();
	remove_memory_releases_ram();
	memory_failure_outside_control();
	return done_testing();
}
