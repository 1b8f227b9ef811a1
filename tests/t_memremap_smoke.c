/*
 * First end-to-end pass over memremap_pages(): one pgmap per type maps,
 * its pages are ZONE_DEVICE with the type's refcount, it is found by pfn,
 * never online, max_pfn untouched, and unmap puts everything back.
 */
#include <zonedev/zonedev.h>
#include <sys/mman.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)

static int freed;
static void my_free(struct zd_page *folio) { (void)folio; freed++; }
static int my_migrate(struct zd_vm_fault *vmf) { (void)vmf; return 0; }
static const struct zd_dev_pagemap_ops ops = { .folio_free = my_free, .migrate_to_ram = my_migrate };

static void *map(struct zd_machine *m, struct zd_dev_pagemap *pg, enum zd_memory_type t,
		 uint64_t start, uint64_t size, unsigned shift)
{
	tap_pgmap_setup(pg, t, start, size, shift);
	return zd_memremap_pages(m, pg, 0);
}

/* Bugs a review found; each check failed before its fix. */
static void regressions(struct zd_machine *m)
{
	static struct zd_dev_pagemap a, b, c, e;
	uint64_t base = 2048 * G / 4096;          /* pfn of 2 TiB, far from the rest */
	uint64_t pfn = base + 300;                /* a never-written tail (>= 128) */
	struct zd_page *head = zd_pfn_to_page(m, base), *tail = zd_pfn_to_page(m, pfn);
	unsigned long w0 = zd_warn_count(m);

	/* memory_failure on a deduplicated tail used to make the tail its own
	 * folio (its flags stopped being zero) and lose the pgmap. */
	ok(!ZD_IS_ERR(map(m, &a, ZD_MEMORY_DEVICE_GENERIC, 2048 * G, 128 * M, 9)), "dedup 2M pgmap");
	is_int(zd_memory_failure(m, pfn, 0), 0, "memory_failure on a dedup tail");
	ok(zd_page_folio(m, tail) == head && zd_page_pgmap(m, tail) == &a,
	   "the poisoned tail still resolves to its head and pgmap");
	ok(zd_test_page_flag(head, ZD_PG_hwpoison), "the folio head carries the poison");
	int ref = zd_page_ref_count(head);
	zd_get_page(m, tail);
	is_int(zd_page_ref_count(head), ref + 1, "get_page on the tail counts on the head");
	zd_put_page(m, tail);

	/* Two pgmaps in one section with different folio orders used to share
	 * one per-section order: the second map broke the first's tails. */
	ok(!ZD_IS_ERR(map(m, &b, ZD_MEMORY_DEVICE_GENERIC, 2056 * G, 64 * M, 9)), "dedup pgmap B");
	ok(!ZD_IS_ERR(map(m, &c, ZD_MEMORY_DEVICE_FS_DAX, 2056 * G + 64 * M, 64 * M, 0)),
	   "order-0 pgmap C in B's section");
	uint64_t bt = 2056 * G / 4096 + 1000;
	ok(zd_page_folio(m, zd_pfn_to_page(m, bt)) == zd_pfn_to_page(m, 2056 * G / 4096 + 512) &&
	   zd_page_pgmap(m, zd_pfn_to_page(m, bt)) == &b, "B's tails still find B's heads");

	/* An altmap that takes the whole range leaves no device page; unmap
	 * used to look the zone up through one and fault. */
	int fd = memfd_create("altmap", 0);
	ok(fd >= 0 && ftruncate(fd, 2 * M) == 0, "backing for the altmap");
	tap_pgmap_setup(&e, ZD_MEMORY_DEVICE_GENERIC, 2064 * G, 2 * M, 0);
	tap_pgmap_altmap(&e, fd, 0, 512);
	ok(!ZD_IS_ERR(zd_memremap_pages(m, &e, 0)), "altmap covering the whole range maps");
	zd_memunmap_pages(&e);
	ok(!zd_pfn_valid(m, 2064 * G / 4096), "...and unmaps");
	close(fd);
	zd_memunmap_pages(&c);
	zd_memunmap_pages(&b);
	zd_memunmap_pages(&a);
	is_u64(zd_warn_count(m), w0, "regressions: no invariant check fired");
}

/* devm_memremap_device_private_pagemap(): the dpa mapping lives as long as
 * the device's binding (devres), and goes with it. */
static void devm_dpa(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1,
				     .device_private = ZD_DEVICE_PRIVATE_DPA };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_device *dev = zd_device_register(m, "gpu9", 0);
	static struct zd_dev_pagemap pg;

	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_PRIVATE;
	pg.ops = &ops;
	pg.owner = &pg;
	pg.nr_pages = 65536;
	is_int(zd_devm_memremap_device_private_pagemap(dev, &pg), 0, "devm dpa pagemap on gpu9");
	ok(zd_device_private_offset_to_page(m, 100) == pg.pages + 100, "its offsets resolve");
	is_u64(zd_devres_count(dev), 1, "held as one devres entry");
	/* devm memory goes with the device too, newest first. */
	int *mem = zd_devm_kzalloc(dev, 64);
	ok(mem && mem[0] == 0 && zd_devres_count(dev) == 2, "devm_kzalloc: zeroed, one more devres entry");

	/* devm_memunmap_pages() undoes one devm_memremap_pages() now. */
	static struct zd_dev_pagemap p2p;
	zd_dev_pagemap_init(&p2p);
	p2p.type = ZD_MEMORY_DEVICE_PCI_P2PDMA;
	p2p.range.start = 8 * G;
	p2p.range.end = 8 * G + 128 * M - 1;
	p2p.nr_range = 1;
	p2p.ops = &ops;
	ok(!ZD_IS_ERR(zd_devm_memremap_pages(dev, &p2p)), "devm_memremap_pages of a P2PDMA BAR");
	ok(zd_is_pci_p2pdma_page(m, zd_pfn_to_page(m, 8 * G / 4096)) &&
	   !zd_is_fsdax_page(m, zd_pfn_to_page(m, 8 * G / 4096)), "its pages are P2PDMA pages");
	zd_devm_memunmap_pages(dev, &p2p);
	ok(!zd_pfn_valid(m, 8 * G / 4096) && zd_devres_count(dev) == 2,
	   "devm_memunmap_pages: unmapped now, its devres entry gone");
	zd_device_unregister(dev);
	ok(zd_device_private_offset_to_page(m, 100) == NULL, "gone with the device");
	is_u64(zd_warn_count(m), 0, "devm dpa: no invariant check fired");
	zd_machine_destroy(m);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 4 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_dev_pagemap pg;
	uint64_t max_pfn = zd_max_pfn(m);
	int fd = memfd_create("pmem", 0);

	ftruncate(fd, 2 * G);
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_FS_DAX;
	pg.range.start = 8 * G;
	pg.range.end = 9 * G - 1;
	pg.nr_range = 1;
	pg.backing_fd = fd;
	void *addr = zd_memremap_pages(m, &pg, 0);
	ok(!ZD_IS_ERR(addr) && addr, "fsdax pgmap maps");
	uint64_t pfn = 8 * G / 4096;
	struct zd_page *p = zd_pfn_to_page(m, pfn);
	ok(zd_is_zone_device_page(p) && zd_is_fsdax_page(m, p), "fsdax page is ZONE_DEVICE");
	is_int(zd_page_ref_count(p), 0, "fsdax page idles at 0");
	ok(zd_pfn_valid(m, pfn) && !zd_pfn_to_online_page(m, pfn), "valid, not online");
	is_u64(zd_max_pfn(m), max_pfn, "max_pfn untouched");
	struct zd_dev_pagemap *got = zd_get_dev_pagemap(m, pfn + 5);
	ok(got == &pg, "get_dev_pagemap finds it");
	zd_put_dev_pagemap(got);
	is_u64(zd_percpu_ref_read(&pg.ref), 1 + 262144, "base + one per page");
	ok(zd_device_page_address(m, p) == addr, "contents at the backing");
	zd_memunmap_pages(&pg);
	ok(!zd_pfn_valid(m, pfn), "gone after unmap");
	ok(!zd_get_dev_pagemap(m, pfn), "lookup fails after unmap");

	/* devdax 1G compound, dedup: a 1 TiB range whose memmap would be 16 GiB
	 * costs two memmap pages per 1 GiB folio, 8 MiB, measured. */
	uint64_t rss0 = tap_rss_bytes(), res0 = zd_vmemmap_resident_bytes(m);
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	pg.range.start = 64 * G;
	pg.range.end = 64 * G + 1024 * G - 1;
	pg.nr_range = 1;
	pg.vmemmap_shift = 18;
	addr = zd_memremap_pages(m, &pg, 0);
	ok(!ZD_IS_ERR(addr), "1 TiB devdax 1G maps");
	uint64_t res = zd_vmemmap_resident_bytes(m) - res0;
	int64_t rss = (int64_t)(tap_rss_bytes() - rss0);
	diag("resident memmap +%llu KiB, rss +%lld KiB for 1 TiB", (unsigned long long)res >> 10,
	     (long long)rss >> 10);
	is_u64(res, 1024 * 2 * 4096, "exactly two resident memmap pages per 1 GiB folio");
	ok(rss < 32 * (int64_t)M, "process RSS grew by megabytes, not the 16 GiB of a full memmap");
	struct zd_page *head = zd_pfn_to_page(m, 64 * G / 4096 + 262144);
	struct zd_page *tail = head + 200000;
	ok(zd_page_folio(m, tail) == head, "dedup tail finds its head");
	ok(zd_page_folio(m, head + 5) == head, "written tail finds its head");
	is_int(zd_folio_order(m, head), 18, "order 18");
	ok(zd_is_zone_device_page(tail), "dedup tail is ZONE_DEVICE");
	zd_memunmap_pages(&pg);

	/* private */
	zd_dev_pagemap_init(&pg);
	struct zd_resource *r = zd_request_free_mem_region(m, NULL, 256 * M, "gpu");
	ok(!ZD_IS_ERR(r), "free region");
	pg.type = ZD_MEMORY_DEVICE_PRIVATE;
	pg.range.start = r->start;
	pg.range.end = r->end;
	pg.nr_range = 1;
	pg.ops = &ops;
	pg.owner = &pg;
	addr = zd_memremap_pages(m, &pg, 0);
	ok(!ZD_IS_ERR(addr) && addr && tap_addr_inaccessible(addr),
	   "private maps; its address (the kernel's __va) is inaccessible");
	p = zd_pfn_to_page(m, zd_phys_pfn(&m->arch, r->start));
	zd_zone_device_page_init(p, &pg, 0);
	is_int(zd_page_ref_count(p), 1, "allocated");
	zd_put_page(m, p);
	is_int(freed, 1, "folio_free called");
	zd_memunmap_pages(&pg);
	zd_release_mem_region(m, r->start, zd_resource_size(r));
	is_u64(zd_max_pfn(m), max_pfn, "max_pfn untouched");
	is_u64(zd_warn_count(m), 0, "no warnings");
	regressions(m);
	zd_machine_destroy(m);
	devm_dpa();
	close(fd);
	return done_testing();
}
