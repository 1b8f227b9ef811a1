/*
 * Acceptance at scale: an x86_64-la57 machine (52-bit physical space, a
 * 64 TiB vmemmap window) hot-adds 1 TiB of System RAM, onlines two 128 MiB
 * blocks, allocates and writes a page there, then offlines, removes and
 * destroys everything.
 *
 * Asserts:
 *  - the memmap of 1 TiB (16 GiB) comes out of the machine's RAM, as in the
 *    kernel: with 4 GiB of boot RAM the add fails with -ENOMEM and leaves
 *    nothing behind; with 20 GiB it succeeds and MemFree falls by exactly
 *    16 GiB plus the 16 PMD tables that map it, and comes back on remove;
 *  - a probe add of 8 GiB first shows that hot-add itself does not touch
 *    the memmap (resident memmap grows by < 1/2 of what was mapped); if it
 *    did, that is a failure (the 1 TiB step would make 16 GiB resident);
 *  - the 1 TiB add maps 16 GiB of vmemmap (vmemmap_mapped_bytes) yet the
 *    memmap really resident (zd_vmemmap_resident_bytes, mincore) stays far
 *    below it (< 64 MiB over boot), but covers at least the two onlined
 *    blocks' memmap (2 x 2 MiB); process RSS grows by far less than 16 GiB;
 *  - 8192 memory blocks exist, the allocated page lies in the onlined range
 *    and its contents are real memory;
 *  - after offline + remove the mapped vmemmap returns to the boot figure,
 *    and after destroy the process RSS is back close to where it started.
 * Why: zonedev promises that memmap cost is real and proportional to what
 * is used (design.md §3); a model that touched every struct page on add
 * could not simulate a TiB machine.
 */
#include <zonedev/zonedev.h>
#include <string.h>
#include <time.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define T (1ULL << 40)
#define PFN(x) ((uint64_t)(x) >> 12)
#define MB(x) ((unsigned long long)((x) >> 20))

static int count_block(const struct zd_memory_block *mb, void *arg)
{
	(void)mb;
	(*(uint64_t *)arg)++;
	return 0;
}

/* 4 GiB of RAM cannot hold the 16 GiB memmap of 1 TiB: -ENOMEM, undone. */
static void too_small(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 4 * G, .node = 0 } };
	struct zd_machine_desc d = { .arch = "x86_64-la57", .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_memory_block mb;
	unsigned long free0;

	if (!ok(!ZD_IS_ERR_OR_NULL(m), "x86_64-la57 machine with 4 GiB boots"))
		return;
	free0 = zd_global_free_pages(m);
	is_int(zd_add_memory(m, 0, 1 * T, 1 * T, 0), -ENOMEM,
	       "add_memory 1 TiB on 4 GiB: -ENOMEM (its memmap does not fit in RAM)");
	ok(zd_log_contains(m, "vmemmap alloc failure"), "the kernel's vmemmap alloc failure is logged");
	is_u64(zd_global_free_pages(m), free0, "every page taken for the memmap is given back");
	ok(zd_memory_block_get(m, zd_phys_to_block_id(m, 1 * T), &mb) == -ENODEV &&
	   zd_region_intersects(m, 1 * T, 1 * T, ZD_IORESOURCE_SYSTEM_RAM, 0) == ZD_REGION_DISJOINT &&
	   !zd_pfn_valid(m, PFN(1 * T)), "no block, no resource, no section left");
	zd_machine_destroy(m);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 20 * G, .node = 0 } };
	struct zd_machine_desc d = { .arch = "x86_64-la57", .ram = ram, .nr_ram = 1 };
	const uint64_t start = 1 * T, size = 1 * T, blk = 128 * M;
	uint64_t rss_start, rss_boot, rss_added, res_boot, res_added, managed_boot, free_boot;
	long mapped_boot;
	double t0 = tap_now(), t;
	bool go = true;
	struct zd_machine *m;

	too_small();
	rss_start = tap_rss_bytes();
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR_OR_NULL(m), "x86_64-la57 machine with 20 GiB boots (%s)",
		zd_machine_create_error()))
		return done_testing();
	managed_boot = zd_totalram_pages(m);
	free_boot = zd_global_free_pages(m);
	is_int(m->arch.phys_bits, 52, "52-bit physical space");
	is_u64(zd_memory_block_size_bytes(m), blk, "128 MiB blocks");
	rss_boot = tap_rss_bytes();
	res_boot = zd_vmemmap_resident_bytes(m);
	mapped_boot = m->vmemmap_mapped_bytes;
	diag("boot: rss %llu MiB, vmemmap mapped %llu MiB, resident %llu MiB", MB(rss_boot),
	     MB((uint64_t)mapped_boot), MB(res_boot));

	/* Probe: does hot-add touch the memmap? (8 GiB: 128 MiB of memmap) */
	{
		uint64_t r0 = zd_vmemmap_resident_bytes(m);
		long mp0 = m->vmemmap_mapped_bytes;
		if (is_int(zd_add_memory(m, 0, 512 * G, 8 * G, 0), 0, "probe: add 8 GiB at 512 GiB")) {
			uint64_t r1 = zd_vmemmap_resident_bytes(m);
			long mp1 = m->vmemmap_mapped_bytes;
			diag("probe: mapped +%llu MiB, resident +%llu MiB", MB((uint64_t)(mp1 - mp0)),
			     MB(r1 - r0));
			is_u64(mp1 - mp0, 128 * M, "probe: 128 MiB of memmap mapped");
			go = ok(r1 - r0 < 64 * M,
				"probe: hot-add leaves the new memmap untouched (resident +%llu MiB)",
				MB(r1 - r0));
			is_int(zd_remove_memory(m, 512 * G, 8 * G), 0, "probe: remove");
		} else {
			go = false;
		}
	}
	if (!go) {
		fail("the 1 TiB hot-add is not run: it would make its 16 GiB memmap resident");
		zd_machine_destroy(m);
		return done_testing();
	}

	t = tap_now();
	if (!is_int(zd_add_memory(m, 0, start, size, 0), 0, "add_memory 1 TiB at 1 TiB")) {
		zd_machine_destroy(m);
		return done_testing();
	}
	diag("add took %.2f s", tap_now() - t);
	is_u64(zd_max_pfn(m), PFN(start + size), "max_pfn = 2 TiB");
	{
		uint64_t n = 0;
		zd_for_each_memory_block(m, &n, count_block);
		is_u64(n, 160 + 8192, "8192 new memory blocks (+ 160 boot)");
	}
	is_u64(m->vmemmap_mapped_bytes - mapped_boot, 16 * G, "16 GiB of vmemmap mapped for 1 TiB");
	/* 8192 sections, a 2 MiB block each; the vmemmap of [1T, 2T) spans
	 * window offsets [16G, 32G): 16 new PMD tables. */
	is_u64(free_boot - zd_global_free_pages(m), PFN(16 * G) + 16,
	       "MemFree falls by the 16 GiB memmap and its 16 PMD tables");
	ok(zd_pfn_valid(m, PFN(start)) && zd_pfn_valid(m, PFN(start + size) - 1), "first and last pfn valid");

	is_int(zd_memory_block_store_state(m, zd_phys_to_block_id(m, start), "online_movable"), 0,
	       "online the first block");
	is_int(zd_memory_block_store_state(m, zd_phys_to_block_id(m, start + blk), "online_movable"), 0,
	       "online the second block");
	is_u64(zd_totalram_pages(m), managed_boot + PFN(2 * blk), "managed = boot + two blocks");
	struct zd_page *p = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE, 0);
	uint64_t pfn = p ? zd_page_to_pfn(m, p) : 0;
	ok(p && pfn >= PFN(start) && pfn < PFN(start + 2 * blk), "a movable page comes from the onlined blocks");
	if (p) {
		char *c = zd_page_address(m, p);
		ok(c != NULL, "it has contents");
		if (c) {
			memset(c, 0x77, 4096);
			ok(c[0] == 0x77 && c[4095] == 0x77, "writable real memory");
		}
	}

	rss_added = tap_rss_bytes();
	res_added = zd_vmemmap_resident_bytes(m);
	diag("after add+online: vmemmap_mapped_bytes %llu MiB, zd_vmemmap_resident_bytes %llu MiB, "
	     "rss %llu MiB", MB((uint64_t)m->vmemmap_mapped_bytes), MB(res_added), MB(rss_added));
	ok(res_added < res_boot + 64 * M,
	   "resident memmap far below the 16 GiB a touched memmap needs (+%llu MiB < 64 MiB)",
	   MB(res_added - res_boot));
	ok(res_added >= res_boot + 2 * 2 * M,
	   "but at least the two onlined blocks' memmap (2 x 2 MiB) is resident");
	ok(rss_added < rss_boot + 1 * G, "process RSS grew by %llu MiB (< 1 GiB)", MB(rss_added - rss_boot));

	if (p)
		zd___free_pages(m, p, 0);
	is_int(zd_offline_memory_range(m, start, 2 * blk), 0, "offline both blocks");
	t = tap_now();
	is_int(zd_remove_memory(m, start, size), 0, "remove the 1 TiB");
	diag("remove took %.2f s", tap_now() - t);
	is_u64(m->vmemmap_mapped_bytes, mapped_boot, "vmemmap mapped back to the boot figure");
	ok(zd_vmemmap_resident_bytes(m) <= res_boot, "resident memmap back to the boot figure");
	ok(!zd_pfn_valid(m, PFN(start)), "removed");
	is_u64(zd_totalram_pages(m), managed_boot, "managed back to boot RAM");
	is_u64(zd_global_free_pages(m), free_boot, "and the memmap's RAM is free again");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	uint64_t rss_end = tap_rss_bytes();
	diag("rss start %llu MiB, end %llu MiB; total %.1f s", MB(rss_start), MB(rss_end), tap_now() - t0);
	ok(rss_end < rss_start + 32 * M, "after destroy RSS is back close to the start (+%lld MiB)",
	   (long long)((int64_t)(rss_end - rss_start) >> 20));
	return done_testing();
}
