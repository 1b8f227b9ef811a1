/*
 * First end-to-end pass over memremap_pages(): one pgmap per type maps,
 * its pages are ZONE_DEVICE with the type's refcount, it is found by pfn,
 * never online, max_pfn untouched, and unmap puts everything back.
 */
#include <zonedev/zonedev.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)

static int freed;
static void my_free(struct zd_page *folio) { (void)folio; freed++; }
static int my_migrate(struct zd_vm_fault *vmf) { (void)vmf; return 0; }
static const struct zd_dev_pagemap_ops ops = { .folio_free = my_free, .migrate_to_ram = my_migrate };

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
	ok(!ZD_IS_ERR(addr) && !addr, "private maps, no CPU address");
	p = zd_pfn_to_page(m, zd_phys_pfn(&m->arch, r->start));
	zd_zone_device_page_init(p, &pg, 0);
	is_int(zd_page_ref_count(p), 1, "allocated");
	zd_put_page(m, p);
	is_int(freed, 1, "folio_free called");
	zd_memunmap_pages(&pg);
	zd_release_mem_region(m, r->start, zd_resource_size(r));
	is_u64(zd_max_pfn(m), max_pfn, "max_pfn untouched");
	is_u64(zd_warn_count(m), 0, "no warnings");
	zd_log_dump(m, stdout, ZD_LOG_INFO);
	zd_machine_destroy(m);
	close(fd);
	return done_testing();
}
