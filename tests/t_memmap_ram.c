/*
 * The memmap costs RAM, and boot keeps what the kernel keeps (issue 6,
 * items 2 and 3). Every figure is worked out by hand from the kernel's
 * rules (docs/architecture.md, "The memmap costs RAM"):
 *  - a section-sized memmap in RAM: one 2 MiB block (512 pages); a
 *    sub-section: 8 base pages and a PTE table; a deduplicated devdax
 *    memmap: 2 pages per folio plus a PTE table per 2 MiB of vmemmap; an
 *    altmap memmap: no frames, only the page tables; a PMD table per GiB of
 *    vmemmap when the first entry lands in it;
 *  - on 64K pages one vmemmap page serves 32 sub-sections and is charged
 *    once;
 *  - a machine without the RAM for a memmap fails with -ENOMEM and gets
 *    every page back;
 *  - boot: ZONE_DMA below 16 MiB, the boot memmap memblock-reserved and
 *    given back when its section is removed, the kernel image from an
 *    imported iomem, crashkernel=, swiotlb on and off.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)

/* Free pages a GENERIC pgmap over [start, start+size) with folio order
 * shift costs while mapped (and that unmapping gives them all back). */
static long pgmap_cost(struct zd_machine *m, uint64_t start, uint64_t size, unsigned shift,
		       int altmap_fd, const char *what)
{
	unsigned long free0 = zd_global_free_pages(m), during;
	struct zd_dev_pagemap pg;

	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, start, size, shift);
	if (altmap_fd >= 0)
		tap_pgmap_altmap(&pg, altmap_fd, 0, PFN(size) / 64);
	if (!ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "%s maps", what))
		return -1;
	during = zd_global_free_pages(m);
	zd_memunmap_pages(&pg);
	is_u64(zd_global_free_pages(m), free0, "%s: unmap gives every page back", what);
	return (long)(free0 - during);
}

static void device_memmap(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 2 * G, NULL, 0);
	int fd = memfd_create("altmap", 0);

	if (!m || fd < 0 || ftruncate(fd, 1 * G))
		return;
	is_int(pgmap_cost(m, 16 * G, 128 * M, 0, -1, "a 128 MiB section"), 512,
	       "a section's memmap in RAM: one 2 MiB block");
	is_int(pgmap_cost(m, 16 * G + 2 * M, 2 * M, 0, -1, "a 2 MiB sub-section"), 9,
	       "a sub-section's memmap: 8 base pages and a PTE table");
	is_int(pgmap_cost(m, 32 * G, 1 * G, 9, -1, "1 GiB of 2 MiB folios"), 1024 + 8,
	       "deduplicated 2M folios: 2 pages each, 8 PTE tables for 16 MiB of vmemmap");
	is_int(pgmap_cost(m, 48 * G, 1 * G, 18, -1, "one 1 GiB folio"), 2 + 8,
	       "a deduplicated 1G folio: 2 pages and 8 PTE tables");
	is_int(pgmap_cost(m, 16 * G, 128 * M, 0, fd, "a section with an altmap"), 0,
	       "an altmap memmap costs no RAM (its PMD goes in an existing table)");
	is_int(pgmap_cost(m, 64 * G, 128 * M, 0, fd, "a section with an altmap at 64 GiB"), 1,
	       "... but a new PMD table comes from RAM");
	is_int(pgmap_cost(m, 64 * G, 128 * M, 0, -1, "a section in RAM at 64 GiB"), 512 + 1,
	       "a section in a fresh GiB of vmemmap: its block and a PMD table");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	close(fd);
	zd_machine_destroy(m);
}

static void out_of_memory(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 512 * M, NULL, 0);
	unsigned long free0;
	struct zd_dev_pagemap pg;

	if (!m)
		return;
	free0 = zd_global_free_pages(m);
	/* 64 GiB of device memory needs 1 GiB of memmap. */
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 16 * G, 64 * G, 0);
	is_int(ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)) ? ZD_PTR_ERR(zd_memremap_pages(m, &pg, 0)) : 0,
	       -ENOMEM, "64 GiB of device memory on a 512 MiB machine: -ENOMEM");
	is_u64(zd_global_free_pages(m), free0, "every page taken for the memmap is back");
	ok(!zd_pfn_valid(m, PFN(16 * G)) && !zd_get_dev_pagemap(m, PFN(16 * G)), "nothing mapped");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
}

static void shared_64k(void)
{
	struct zd_machine *m = tap_machine("arm64-64k", 0, 1 * G, 4 * G, NULL, 0);
	unsigned long free0, f1, f2;
	uint64_t sub = 16 * G >> 16;   /* pfns: 64 KiB pages */

	if (!m)
		return;
	free0 = zd_global_free_pages(m);
	if (!is_int(tap_add_pages(m, sub, 32, NULL), 0, "arm64-64k: add a 2 MiB sub-section"))
		return;
	f1 = zd_global_free_pages(m);
	/* The PTE table (512 MiB of vmemmap) is the boot memmap's. */
	is_u64(free0 - f1, 1, "its 2 KiB of memmap takes a whole 64K page");
	is_int(tap_add_pages(m, sub + 32, 32, NULL), 0, "add the next sub-section");
	f2 = zd_global_free_pages(m);
	is_u64(f1 - f2, 0, "it shares that vmemmap page: nothing more is charged");
	tap_remove_pages(m, sub, 32, NULL);
	is_u64(zd_global_free_pages(m), f2, "removing one keeps the shared page");
	tap_remove_pages(m, sub + 32, 32, NULL);
	is_u64(zd_global_free_pages(m), free0, "removing both gives page and table back");
	zd_machine_destroy(m);
}

static void boot_memory(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 2 * G, NULL, 0);
	struct zd_boot_memory bm;
	struct zd_page *p;
	unsigned long managed;
	char *io;

	if (!m)
		return;
	zd_boot_memory(m, &bm);
	is_u64(bm.memmap_pages, 16 * 512 + 1, "2 GiB: 16 boot sections' memmap and a PMD table");
	is_u64(bm.low_pages, 256, "the first MiB");
	is_u64(bm.swiotlb_pages, 0, "no swiotlb below 4 GiB");
	is_u64(bm.kernel_pages, PFN(0xe01000 + 0x68c000 + 0x350000 + 0x2c6000),
	       "the default kernel image (Debian 6.1 sizes), page rounded");
	is_u64(bm.reserved_pages, bm.low_pages + bm.kernel_pages + bm.memmap_pages + bm.hash_pages,
	       "reserved is the sum of its parts");
	is_u64(zd_totalram_pages(m), PFN(2 * G) - bm.reserved_pages, "MemTotal = present - reserved");
	io = tap_iomem_text(m);
	ok(strstr(io, "  01000000-01e00fff : Kernel code\n") && strstr(io, "Kernel bss"),
	   "the image shows in iomem under System RAM");
	free(io);
	p = zd_alloc_pages(m, ZD___GFP_DMA, 0);
	ok(p && zd_page_zonenum(p) == ZD_ZONE_DMA && zd_page_to_pfn(m, p) < PFN(16 * M),
	   "GFP_DMA comes from ZONE_DMA, below 16 MiB");
	if (p)
		zd___free_pages(m, p, 0);
	/* A boot section's memmap was memblock-reserved: removing the
	 * section gives it to the buddy (free_reserved_page). */
	is_int(zd_offline_memory_range(m, 1 * G, 128 * M), 0, "offline memory8 (boot RAM)");
	managed = zd_totalram_pages(m);
	is_int(zd_remove_memory(m, 1 * G, 128 * M), 0, "remove it");
	is_u64(zd_totalram_pages(m), managed + 512, "its boot memmap (2 MiB) becomes managed");
	zd_machine_destroy(m);
}

static void boot_options(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G }, { .start = 4 * G, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 2,
				     .crashkernel = 128 * M };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_boot_memory bm;
	char *io;

	if (!ok(!ZD_IS_ERR(m), "4 GiB machine with crashkernel=128M boots"))
		return;
	zd_boot_memory(m, &bm);
	is_u64(bm.crashkernel_pages, PFN(128 * M), "crashkernel: 128 MiB reserved");
	is_u64(bm.swiotlb_pages, PFN(64 * M), "RAM above 4 GiB: 64 MiB of swiotlb");
	io = tap_iomem_text(m);
	ok(strstr(io, " : Crash kernel\n") != NULL, "iomem shows the crash kernel");
	free(io);
	zd_machine_destroy(m);
	d.crashkernel = 0;
	d.swiotlb_off = true;
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "the same without swiotlb boots"))
		return;
	zd_boot_memory(m, &bm);
	is_u64(bm.swiotlb_pages + bm.crashkernel_pages, 0, "no swiotlb, no crash kernel");
	zd_machine_destroy(m);
}

static void imported_image(void)
{
	char path[] = "/tmp/zd-iomem-XXXXXX";
	int fd = mkstemp(path);
	static const char text[] =
		"00001000-0009fbff : System RAM\n"
		"00100000-7ffdffff : System RAM\n"
		"  37000000-37e00fff : Kernel code\n"
		"  37e01000-3848cfff : Kernel rodata\n"
		"  38600000-3894ffff : Kernel data\n"
		"  38d3a000-38ffffff : Kernel bss\n";
	struct zd_machine_desc d = { .arch = "x86_64", .iomem_path = path };
	struct zd_machine *m;
	struct zd_boot_memory bm;

	if (!ok(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1,
		"iomem file written"))
		return;
	close(fd);
	m = zd_machine_create(&d);
	unlink(path);
	if (!ok(!ZD_IS_ERR(m), "imported 2 GiB guest boots (%s)", zd_machine_create_error()))
		return;
	zd_boot_memory(m, &bm);
	is_u64(bm.kernel_pages, PFN(0xe01000 + 0x68c000 + 0x350000 + 0x2c6000),
	       "the imported image's four sections are reserved (not the freed gaps)");
	ok(zd_log_contains(m, "Memory: ") && zd_log_contains(m, "K kernel code"),
	   "the boot line sums it up");
	zd_machine_destroy(m);
}

int main(void)
{
	device_memmap();
	out_of_memory();
	shared_64k();
	boot_memory();
	boot_options();
	imported_image();
	return done_testing();
}
