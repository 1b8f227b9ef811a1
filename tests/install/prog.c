/*
 * A program written against the installed headers only (tests/install.sh
 * builds it through pkg-config as C11 and, renamed, as C++11): boot a
 * machine, memremap a pgmap, check its pages are ZONE_DEVICE, tear down.
 * Prints what it found so the script can compare; exits non-zero on any
 * mismatch.
 */
#include <zonedev/zonedev.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	struct zd_mem_range ram[1];
	struct zd_machine_desc d;
	struct zd_dev_pagemap pg;
	struct zd_machine *m;
	uint64_t pfn;
	void *addr;
	int bad = 0;

	memset(ram, 0, sizeof(ram));
	memset(&d, 0, sizeof(d));
	ram[0].start = 0;
	ram[0].size = 1ULL << 30;
	d.arch = "x86_64";
	d.ram = ram;
	d.nr_ram = 1;
	m = zd_machine_create(&d);
	if (ZD_IS_ERR_OR_NULL(m)) {
		fprintf(stderr, "zd_machine_create: %s\n", zd_machine_create_error());
		return 1;
	}
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	pg.range.start = 64ULL << 30;
	pg.range.end = pg.range.start + (128ULL << 20) - 1;
	pg.nr_range = 1;
	addr = zd_memremap_pages(m, &pg, 0);
	if (ZD_IS_ERR(addr)) {
		fprintf(stderr, "memremap_pages: %ld\n", ZD_PTR_ERR(addr));
		return 1;
	}
	pfn = pg.range.start >> 12;
	if (!zd_is_zone_device_page(zd_pfn_to_page(m, pfn)) ||
	    zd_page_pgmap(m, zd_pfn_to_page(m, pfn)) != &pg)
		bad = 1;
	printf("version %s\n", zd_version());
	printf("zone_device %d\n", !bad);
	zd_memunmap_pages(&pg);
	zd_machine_destroy(m);
	return bad;
}
