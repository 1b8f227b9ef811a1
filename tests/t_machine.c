/*
 * Machine lifecycle: boot from a description, hot-add, online, allocate,
 * offline, remove and tear down, asserting the kernel-visible state at each
 * step (blocks, sections, zones, max_pfn, iomem) and that no invariant check
 * fired.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 4 * G, .node = 0 } };
	struct zd_mem_range rsv[] = { { .start = 0xfe000000ULL, .size = 16 * M, .name = "Reserved" } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1,
				     .reserved = NULL, .nr_reserved = 0 };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_memory_block mb;
	struct zd_boot_memory bm;
	uint64_t kb, boot_managed;

	(void)rsv;
	if (!ok(!ZD_IS_ERR(m), "x86_64 machine with 4 GiB boots: %s", zd_machine_create_error()))
		return done_testing();
	zd_boot_memory(m, &bm);
	boot_managed = 4 * G / 4096 - bm.reserved_pages;
	is_u64(bm.present_pages, 4 * G / 4096, "4 GiB present");
	is_u64(zd_totalram_pages(m), boot_managed, "boot RAM less the reservations is managed");
	is_u64(zd_global_free_pages(m), boot_managed, "and free");
	/* 32 sections' memmap in 2 MiB blocks plus the PMD table mapping them. */
	is_u64(bm.memmap_pages, 32 * 512 + 1, "the boot memmap: 32 PMD blocks and one PMD table");
	is_u64(zd_max_pfn(m), 4 * G / 4096, "max_pfn is the end of boot RAM");
	is_u64(zd_memory_block_size_bytes(m), 128 * M, "x86 block size below 64 GiB is 128 MiB");
	ok(zd_pfn_valid(m, 0) && zd_pfn_valid(m, 4 * G / 4096 - 1), "boot pfns are valid");
	ok(!zd_pfn_valid(m, 4 * G / 4096), "the pfn after boot RAM is not valid");
	ok(zd_memory_block_get(m, 0, &mb) == 0 && mb.state == ZD_MEM_ONLINE, "memory0 is online");
	ok(zd_memory_block_get(m, 32, &mb) == -ENODEV, "no memory32 before hot-add");

	is_int(zd_add_memory(m, 0, 4 * G, 1 * G, 0), 0, "add_memory 4G+1G");
	/* Its memmap comes out of RAM: 8 sections, one 2 MiB block each, in
	 * the PMD table the boot memmap already has. */
	is_u64(zd_global_free_pages(m), boot_managed - 8 * 512, "the hot-added memmap costs 16 MiB of RAM");
	is_u64(zd_totalram_pages(m), boot_managed, "allocated, not reserved: MemTotal unchanged");
	ok(zd_memory_block_get(m, 32, &mb) == 0 && mb.state == ZD_MEM_OFFLINE, "memory32 offline");
	is_u64(zd_max_pfn(m), 5 * G / 4096, "hot-added RAM raises max_pfn");
	ok(zd_pfn_valid(m, 4 * G / 4096), "hot-added pfns are valid");
	ok(!zd_pfn_to_online_page(m, 4 * G / 4096), "offline RAM has no online page");
	is_int(zd_add_memory(m, 0, 4 * G, 128 * M, 0), -EEXIST, "adding it again: -EEXIST");
	is_int(zd_add_memory(m, 0, 5 * G + 4096, 128 * M, 0), -EINVAL, "misaligned add: -EINVAL");
	is_int(zd_online_memory_range(m, 4 * G, 1 * G, ZD_MMOP_ONLINE_MOVABLE), 0, "online movable");
	ok(zd_pfn_to_online_page(m, 4 * G / 4096) != NULL, "online RAM has an online page");
	is_u64(zd_totalram_pages(m), boot_managed + 1 * G / 4096, "managed grows by the onlined range");
	ok(zd_meminfo_field(m, "MemTotal", &kb) == 0 && kb == (boot_managed + 1 * G / 4096) * 4,
	   "MemTotal grows by 1 GiB");

	struct zd_page *p = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE, 3);
	ok(p && zd_page_zonenum(p) == ZD_ZONE_MOVABLE, "movable allocation comes from Movable");
	char *addr = zd_page_address(m, p);
	ok(addr != NULL, "page_address of an allocated page");
	memset(addr, 0x5a, 8 * 4096);
	is_int(zd_offline_memory_range(m, 4 * G, 1 * G), -EBUSY, "offline with a page in use: -EBUSY");
	ok(zd_memory_block_get(m, 32, &mb) == 0 && mb.state == ZD_MEM_ONLINE, "state restored");
	zd___free_pages(m, p, 3);
	is_int(zd_remove_memory(m, 4 * G, 1 * G), -EBUSY, "remove of online memory: -EBUSY");
	is_int(zd_offline_memory_range(m, 4 * G, 1 * G), 0, "offline after free");
	is_u64(zd_totalram_pages(m), boot_managed, "managed back to boot RAM");
	is_int(zd_remove_memory(m, 4 * G, 1 * G), 0, "remove");
	is_u64(zd_global_free_pages(m), boot_managed, "removal gives the memmap's RAM back");
	ok(!zd_pfn_valid(m, 4 * G / 4096), "removed pfns are invalid");
	is_u64(zd_max_pfn(m), 5 * G / 4096, "max_pfn never shrinks");
	is_int(zd_region_intersects(m, 4 * G, 1 * G, ZD_IORESOURCE_SYSTEM_RAM, 0), ZD_REGION_DISJOINT,
	       "the System RAM resource is gone");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");

	/* Regressions: a node that does not exist is refused with a WARN, not
	 * silently served from node 0. */
	ok(zd_alloc_pages_node(m, 5, ZD_GFP_KERNEL, 0) == NULL, "alloc on a missing node fails");
	is_u64(zd_warn_count(m), 1, "...and fires one invariant check");

	/* request_resource(): a caller-owned resource goes directly under the
	 * root; a second one over it is refused with -EBUSY. */
	static struct zd_resource r1 = { .start = 0x200000000ULL, .end = 0x20fffffffULL,
					 .name = "window", .flags = ZD_IORESOURCE_MEM };
	static struct zd_resource r2 = { .start = 0x208000000ULL, .end = 0x217ffffffULL,
					 .name = "overlap", .flags = ZD_IORESOURCE_MEM };
	is_int(zd_request_resource(m, &m->iomem_resource, &r1), 0, "request_resource");
	is_int(zd_request_resource(m, &m->iomem_resource, &r2), -EBUSY, "overlapping one: -EBUSY");
	is_int(zd_release_resource(m, &r1), 0, "release_resource");

	/* The log echo shows info lines as they happen, never debug ones. */
	char *echo = NULL;
	size_t echo_len = 0;
	FILE *ef = open_memstream(&echo, &echo_len);
	zd_log_set_echo(m, ef);
	zd_pr_info(m, "echo-info-line");
	zd_pr_debug(m, "echo-debug-line");
	zd_log_set_echo(m, NULL);
	fclose(ef);
	ok(strstr(echo, "echo-info-line") && !strstr(echo, "echo-debug-line"),
	   "log echo: info shown, debug kept back");
	ok(zd_log_contains(m, "echo-debug-line"), "...but the ring keeps the debug line");
	free(echo);

	/* /proc/meminfo lines are "Name:   value kB". */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	zd_meminfo_show(m, f);
	fclose(f);
	ok(strncmp(buf, "MemTotal:", 9) == 0 && strstr(buf, " kB\n"), "meminfo format: %.30s", buf);
	free(buf);
	zd_machine_destroy(m);

	/* phys_bits out of range is refused before anything shifts by it. */
	unsigned bad_bits[] = { 12, 26, 64, 200 };
	for (unsigned i = 0; i < 4; i++) {
		struct zd_machine_desc b = { .arch = "x86_64", .phys_bits = bad_bits[i] };
		struct zd_machine *bad = zd_machine_create(&b);
		ok(ZD_IS_ERR(bad) && ZD_PTR_ERR(bad) == -EINVAL && strstr(zd_machine_create_error(), "phys_bits"),
		   "phys_bits %u refused: %s", bad_bits[i], zd_machine_create_error());
	}

	/* This host's own /proc/iomem, imported, prints back identically. */
	struct zd_machine_desc imp = { .arch = "x86_64", .iomem_path = "/proc/iomem" };
	struct zd_machine *im = zd_machine_create(&imp);
	if (ZD_IS_ERR(im)) {
		skip("/proc/iomem is not importable here (needs root for real addresses)");
	} else {
		char *orig = NULL, *ours = NULL, line[512];
		size_t olen = 0, ulen = 0;
		FILE *o = open_memstream(&orig, &olen), *in = fopen("/proc/iomem", "r");
		while (in && fgets(line, sizeof(line), in))
			fputs(line, o);
		if (in)
			fclose(in);
		fclose(o);
		FILE *u = open_memstream(&ours, &ulen);
		zd_iomem_dump(im, u);
		fclose(u);
		ok(olen > 0 && !strcmp(orig, ours), "imported /proc/iomem dumps back byte for byte");
		ok(zd_totalram_pages(im) > 0, "its System RAM became boot RAM (%lu pages)",
		   zd_totalram_pages(im));
		free(orig);
		free(ours);
		zd_machine_destroy(im);
	}
	return done_testing();
}
