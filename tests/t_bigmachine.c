/*
 * Acceptance at scale: an x86_64-la57 machine (52-bit physical space, a
 * 64 TiB vmemmap window) with 4 GiB of boot RAM hot-adds 1 TiB of System
 * RAM, onlines two 128 MiB blocks, allocates and writes a page there, then
 * offlines, removes and destroys everything.
 *
 * Asserts:
 *  - a probe add of 8 GiB first shows that hot-add itself does not touch
 *    the memmap (resident memmap grows by < 1/2 of what was mapped); if it
 *    did, the 1 TiB step is skipped rather than make 16 GiB resident;
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

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 4 * G, .node = 0 } };
	struct zd_machine_desc d = { .arch = "x86_64-la57", .ram = ram, .nr_ram = 1 };
	const uint64_t start = 1 * T, size = 1 * T, blk = 128 * M;
	uint64_t rss_start = tap_rss_bytes(), rss_boot, rss_added, res_boot, res_added;
	long mapped_boot;
	double t0 = tap_now(), t;
	bool go = true;
	struct zd_machine *m = zd_machine_create(&d);

	if (!ok(!ZD_IS_ERR_OR_NULL(m), "x86_64-la57 machine with 4 GiB boots (%s)",
		zd_machine_create_error()))
		return done_testing();
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
		skip("1 TiB hot-add skipped: it would make its 16 GiB memmap resident");
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
		is_u64(n, 32 + 8192, "8192 new memory blocks (+ 32 boot)");
	}
	is_u64(m->vmemmap_mapped_bytes - mapped_boot, 16 * G, "16 GiB of vmemmap mapped for 1 TiB");
	ok(zd_pfn_valid(m, PFN(start)) && zd_pfn_valid(m, PFN(start + size) - 1), "first and last pfn valid");

	is_int(zd_memory_block_store_state(m, zd_phys_to_block_id(m, start), "online_movable"), 0,
	       "online the first block");
	is_int(zd_memory_block_store_state(m, zd_phys_to_block_id(m, start + blk), "online_movable"), 0,
	       "online the second block");
	is_u64(zd_totalram_pages(m), PFN(4 * G + 2 * blk), "managed = boot + two blocks");
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
	is_u64(zd_totalram_pages(m), PFN(4 * G), "managed back to boot RAM");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	uint64_t rss_end = tap_rss_bytes();
	diag("rss start %llu MiB, end %llu MiB; total %.1f s", MB(rss_start), MB(rss_end), tap_now() - t0);
	ok(rss_end < rss_start + 32 * M, "after destroy RSS is back close to the start (+%lld MiB)",
	   (long long)((int64_t)(rss_end - rss_start) >> 20));
	return done_testing();
}
