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
 *    "memory outside kernel control", -ENXIO, nothing written);
 *  - zone_device_page_init() after the pgmap's reference died returned
 *    early; the kernel WARNs and still hands the page out (refcount 1,
 *    locked); a percpu_ref put below zero aborted the process instead of
 *    WARNing;
 *  - __add_pages() checked alignment before the altmap, and a misaligned
 *    span was not a WARN.
 *  - ndctl-level refusals: a size not a multiple of the requested align,
 *    a region misaligned to its 16 MiB align setting (it boots raw; only
 *    the conversion is refused), both before anything is written; fsdax
 *    at 1 GiB alignment is accepted like the kernel's supported set.
 *  - per-arch hotplug rules: arm64 takes a sub-section's memmap from the
 *    altmap (only x86 drops it), and arm64's arch_add_memory() raises
 *    max_pfn for every caller while its add_pages() (device-private) does
 *    not; powerpc's add_pages() raises it for everyone.
 *  - lock rules are executable: a caller that does not hold
 *    mem_hotplug_lock (or device_hotplug_lock) where it must WARNs.
 * And the tests that hand-made mutations survived: the ZONE_DEVICE taint
 * of the section holding a device range's end, and offline of a block
 * with a memory hole (-EINVAL).
 */
#include <zonedev/zonedev.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

static int frees;
static void count_free(struct zd_page *folio) { (void)folio; frees++; }
static int no_fault(struct zd_vm_fault *vmf) { (void)vmf; return -EFAULT; }
static const struct zd_dev_pagemap_ops private_ops = { .folio_free = count_free,
							.migrate_to_ram = no_fault };

static void page_init_after_kill(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	struct zd_dev_pagemap pg;
	struct zd_page *p;
	void *addr;
	unsigned long warns;

	if (!m)
		return;
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_PRIVATE, 16 * G, 256 * M, 0);
	pg.ops = &private_ops;
	pg.owner = &pg;
	addr = zd_memremap_pages(m, &pg, 0);
	if (!ok(!ZD_IS_ERR(addr), "PRIVATE pgmap maps"))
		return;
	/* The driver bug: the reference is dead and drained, then a page is
	 * still handed out. */
	zd_percpu_ref_kill(&pg.ref);
	warns = zd_warn_count(m);
	p = zd_pfn_to_page(m, (16 * G) >> 12);
	zd_zone_device_page_init(p, &pg, 0);
	is_u64(zd_warn_count(m), warns + 1, "zone_device_page_init on a dead pgmap WARNs once");
	is_int(zd_page_ref_count(p), 1, "... and still sets the refcount to 1");
	ok(zd_test_page_flag(p, ZD_PG_locked), "... and locks the page");
	/* Freeing it drops a pgmap reference nobody holds: WARN, no abort. */
	zd_put_page(m, p);
	is_int(frees, 1, "folio_free ran");
	is_u64(zd_warn_count(m), warns + 2, "the put below zero WARNs instead of aborting");
	is_u64(zd_percpu_ref_read(&pg.ref), 0, "the count stays at zero");
	zd_memunmap_pages(&pg);
	zd_machine_destroy(m);
}

static void add_pages_check_order(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	struct zd_vmem_altmap alt = { .base_pfn = 12345, .free = 16 };
	unsigned long warns;

	if (!m)
		return;
	warns = zd_warn_count(m);
	/* Misaligned and with a bad altmap: the altmap is refused first,
	 * quietly, as the kernel checks it before the span. */
	is_int(tap_add_pages(m, (16 * G + 4096) >> 12, 512, &alt), -EINVAL, "bad altmap: -EINVAL");
	ok(zd_log_contains(m, "memory add fail, invalid altmap"), "the altmap message, not alignment");
	is_u64(zd_warn_count(m), warns, "no WARN for the altmap refusal");
	is_int(tap_add_pages(m, (16 * G + 4096) >> 12, 512, NULL), -EINVAL, "misaligned: -EINVAL");
	is_u64(zd_warn_count(m), warns + 1, "a misaligned span WARNs (Misaligned __add_pages)");
	zd_machine_destroy(m);
}

static void taint_both_ends(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	struct zd_dev_pagemap pg;
	uint64_t s0 = (16 * G) >> 27;   /* section numbers (128 MiB) */

	if (!m)
		return;
	/* [16G + 64M, 16G + 192M): starts and ends inside a section. */
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 16 * G + 64 * M, 128 * M, 0);
	if (!ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "GENERIC range across two sections"))
		return;
	ok(tap_section_word(m, s0) & ZD_SECTION_TAINT_ZONE_DEVICE, "the start section is tainted");
	ok(tap_section_word(m, s0 + 1) & ZD_SECTION_TAINT_ZONE_DEVICE,
	   "the section holding the end is tainted too");
	zd_memunmap_pages(&pg);
	/* Section aligned at the start, ragged at the end. */
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 32 * G, 64 * M, 0);
	if (!ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "GENERIC range ending mid-section"))
		return;
	ok(tap_section_word(m, (32 * G) >> 27) & ZD_SECTION_TAINT_ZONE_DEVICE,
	   "its only section is tainted through the end");
	zd_memunmap_pages(&pg);
	/* Whole sections: no taint. */
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 48 * G, 256 * M, 0);
	if (!ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "GENERIC range of whole sections"))
		return;
	ok(!(tap_section_word(m, (48 * G) >> 27) & ZD_SECTION_TAINT_ZONE_DEVICE) &&
	   !(tap_section_word(m, ((48 * G) >> 27) + 1) & ZD_SECTION_TAINT_ZONE_DEVICE),
	   "section-aligned ranges taint nothing");
	zd_memunmap_pages(&pg);
	zd_machine_destroy(m);
}

static void offline_with_hole(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 228 * M }, { .start = 240 * M, .size = 784 * M } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 2 };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_memory_block mb;

	if (!ok(!ZD_IS_ERR(m), "machine with a hole at [228M, 240M) boots"))
		return;
	is_int(zd_offline_memory_range(m, 128 * M, 128 * M), -EINVAL,
	       "offlining memory1 (with the hole): -EINVAL");
	ok(zd_log_contains(m, "failed due to memory holes"), "the kernel's reason is logged");
	ok(!zd_memory_block_get(m, 1, &mb) && mb.state == ZD_MEM_ONLINE, "memory1 stays online");
	is_int(zd_offline_memory_range(m, 256 * M, 128 * M), 0, "memory2 (no hole) offlines");
	zd_machine_destroy(m);
}

static void pr_debug_one(struct zd_machine *m, const char *text)
{
	zd_pr_debug(m, "%s", text);
}

static bool last_visible(struct zd_machine *m)
{
	struct zd_log_line l;

	return zd_log_read(m, zd_log_seq(m) - 1, &l, 1) == 1 && zd_log_visible(m, &l);
}

static void console_filter(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);

	if (!m)
		return;
	zd_pr_info(m, "an info line");
	ok(last_visible(m), "info lines are on the console by default");
	pr_debug_one(m, "a debug line");
	ok(!last_visible(m), "pr_debug is off by default");
	is_int(zd_log_dyndbg(m, "func pr_debug_one +p"), 0, "enable one function");
	pr_debug_one(m, "a debug line");
	ok(last_visible(m), "its pr_debug lines now show");
	zd_pr_debug(m, "from console_filter itself");
	ok(!last_visible(m), "other functions' do not");
	is_int(zd_log_dyndbg(m, "format itself +p; func pr_debug_one -p"), 0, "two clauses");
	zd_pr_debug(m, "from console_filter itself");
	ok(last_visible(m), "a format clause matches the text");
	pr_debug_one(m, "a debug line");
	ok(!last_visible(m), "the newest clause wins (-p)");
	is_int(zd_log_dyndbg(m, "func x"), -EINVAL, "a clause without flags: -EINVAL");
	is_int(zd_log_dyndbg(m, "+x"), -EINVAL, "unknown flags: -EINVAL");
	is_int(zd_log_set_console_level(m, ZD_LOG_ERR), 0, "console level err");
	zd_pr_info(m, "an info line");
	ok(!last_visible(m), "info lines are hidden at err");
	zd_pr_err(m, "an error");
	ok(last_visible(m), "errors still show");
	zd_machine_destroy(m);
}

/* True if the first 16 KiB of path (label area and info block) are zero. */
static bool head_zero(const char *path)
{
	static char buf[16384], zero[16384];
	int fd = open(path, O_RDONLY);
	bool z = fd >= 0 && pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) &&
		 !memcmp(buf, zero, sizeof(buf));

	if (fd >= 0)
		close(fd);
	return z;
}

static void ndctl_refusals(void)
{
	char dir[] = "/tmp/zd-repairs-XXXXXX", p0[64], p1[64];
	struct zd_mem_range ram[] = { { .start = 1 * M, .size = 2047 * M } };
	struct zd_nd_region_desc pm[2] = {
		{ .start = 4 * G, .size = 5136 * M, .path = p0 },
		{ .start = 16 * G, .size = 0x1fffe0000ULL, .path = p1 },
	};
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = pm,
				     .nr_pmem = 2 };
	struct zd_nd_namespace_opts dax1g = { .mode = ZD_NS_MODE_DEVDAX, .align = 1 * G };
	struct zd_nd_namespace_opts fsdax = { .mode = ZD_NS_MODE_FSDAX };
	struct zd_nd_namespace_opts fs1g = { .mode = ZD_NS_MODE_FSDAX, .align = 1 * G };
	struct zd_nd_namespace_info in;
	struct zd_machine *m;
	struct zd_nd_region *r0, *r1;

	if (!ok(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	snprintf(p0, sizeof(p0), "%s/r0.img", dir);
	snprintf(p1, sizeof(p1), "%s/r1.img", dir);
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "a 0x1fffe0000-byte region boots (%s)", zd_machine_create_error()))
		goto out;
	r0 = zd_nd_region_find(m, "region0");
	r1 = zd_nd_region_find(m, "region1");
	is_int(zd_nd_create_namespace(r0, &dax1g), -EINVAL, "devdax align=1G on 5136 MiB: -EINVAL");
	ok(zd_log_contains(m, "did you intend --size=6G?"), "ndctl's hint: the next size up, 6G");
	zd_nd_namespace_get(r0, &in);
	ok(in.mode == ZD_NS_MODE_RAW && head_zero(p0), "namespace0.0 raw, nothing written");
	zd_nd_namespace_get(r1, &in);
	ok(in.mode == ZD_NS_MODE_RAW && in.size == 0x1fffe0000ULL, "namespace1.0 is raw, whole region");
	is_int(zd_nd_create_namespace(r1, &fsdax), -EINVAL, "fsdax on it: -EINVAL");
	ok(zd_log_contains(m, "align setting is 0x1000000 size 0x1fffe0000 is misaligned"),
	   "ndctl's region align message");
	ok(head_zero(p1), "nothing written to region1");
	is_int(zd_nd_create_namespace(r0, &fs1g), -EINVAL, "fsdax align=1G on 5136 MiB: size check too");
	is_int(zd_nd_create_namespace(r0, &fsdax), 0, "fsdax align=2M on 5136 MiB works");
	is_int(zd_nd_create_namespace(r0, &fsdax), -EBUSY, "again, without force: -EBUSY");
	fsdax.force = true;
	fsdax.map = ZD_ND_MAP_MEM;
	is_int(zd_nd_create_namespace(r0, &fsdax), 0, "with force (ndctl -f): reconfigured");
	zd_nd_namespace_get(r0, &in);
	ok(in.mode == ZD_NS_MODE_FSDAX && in.map == ZD_ND_MAP_MEM, "now fsdax map=mem");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
out:
	unlink(p0);
	unlink(p1);
	rmdir(dir);
}

static void fsdax_1g(void)
{
	char dir[] = "/tmp/zd-repairs-XXXXXX", p0[64];
	struct zd_mem_range ram[] = { { .start = 1 * M, .size = 2047 * M } };
	struct zd_nd_region_desc pm = { .start = 4 * G, .size = 4 * G, .path = p0 };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_nd_namespace_opts fs1g = { .mode = ZD_NS_MODE_FSDAX, .align = 1 * G };
	struct zd_nd_namespace_info in;
	struct zd_machine *m;

	if (!ok(mkdtemp(dir) != NULL, "mkdtemp"))
		return;
	snprintf(p0, sizeof(p0), "%s/r0.img", dir);
	m = zd_machine_create(&d);
	if (ok(!ZD_IS_ERR(m), "4 GiB pmem machine boots")) {
		is_int(zd_nd_create_namespace(zd_nd_region_find(m, "region0"), &fs1g), 0,
		       "fsdax align=1G is accepted (nd_pfn_supported_alignments)");
		zd_nd_namespace_get(zd_nd_region_find(m, "region0"), &in);
		is_u64(in.align, 1 * G, "the namespace reports align 1G");
		zd_machine_destroy(m);
	}
	unlink(p0);
	rmdir(dir);
}

/* A GENERIC pgmap of one 2 MiB sub-section at start whose memmap (8 pfns)
 * may come from an altmap on a memfd; the altmap's alloc after mapping. */
static uint64_t subsection_altmap_alloc(const char *arch, uint64_t start)
{
	struct zd_machine *m = tap_machine(arch, 0, 0, 1 * G, NULL, 0);
	struct zd_dev_pagemap pg;
	uint64_t alloc = ~0ULL;
	int fd = memfd_create("altmap", 0);

	if (!m || fd < 0 || ftruncate(fd, 2 * M))
		goto out;
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, start, 2 * M, 0);
	tap_pgmap_altmap(&pg, fd, 0, 8);
	if (ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "%s: 2 MiB GENERIC pgmap with an altmap", arch)) {
		alloc = pg.altmap.alloc;
		zd_memunmap_pages(&pg);
		is_u64(pg.altmap.alloc, 0, "%s: the altmap is given back on unmap", arch);
	}
out:
	if (fd >= 0)
		close(fd);
	zd_machine_destroy(m);
	return alloc;
}

static void arch_hotplug_rules(void)
{
	struct zd_dev_pagemap pg;
	struct zd_machine *m;
	uint64_t before;

	is_u64(subsection_altmap_alloc("x86_64", 16 * G), 0,
	       "x86_64: a sub-section memmap comes from RAM, the altmap is not used");
	is_u64(subsection_altmap_alloc("arm64-4k", 16 * G), 8,
	       "arm64-4k: a sub-section memmap takes 8 base pages from the altmap");

	m = tap_machine("arm64-4k", 0, 0, 1 * G, NULL, 0);
	if (m) {
		before = zd_max_pfn(m);
		tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 16 * G, 256 * M, 0);
		if (ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "arm64: GENERIC pgmap at 16G")) {
			is_u64(zd_max_pfn(m), (16 * G + 256 * M) >> 12,
			       "arm64: arch_add_memory raises max_pfn for a pgmap too (was %#llx)",
			       (unsigned long long)before);
			zd_memunmap_pages(&pg);
		}
		before = zd_max_pfn(m);
		tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_PRIVATE, 32 * G, 256 * M, 0);
		pg.ops = &private_ops;
		pg.owner = &pg;
		if (ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "arm64: PRIVATE pgmap at 32G")) {
			is_u64(zd_max_pfn(m), before, "arm64: add_pages (generic) leaves max_pfn alone");
			zd_memunmap_pages(&pg);
		}
		zd_machine_destroy(m);
	}
	m = tap_machine("ppc64", 0, 0, 1 * G, NULL, 0);
	if (m) {
		tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_PRIVATE, 32 * G, 256 * M, 0);
		pg.ops = &private_ops;
		pg.owner = &pg;
		if (ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "ppc64: PRIVATE pgmap at 32G")) {
			is_u64(zd_max_pfn(m), (32 * G + 256 * M) >> 16,
			       "ppc64: its add_pages override raises max_pfn for every caller");
			zd_memunmap_pages(&pg);
		}
		zd_machine_destroy(m);
	}
	m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	if (m) {
		before = zd_max_pfn(m);
		tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 16 * G, 256 * M, 0);
		if (ok(!ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "x86: GENERIC pgmap at 16G")) {
			is_u64(zd_max_pfn(m), before, "x86: add_pages skips max_pfn for a pgmap");
			zd_memunmap_pages(&pg);
		}
		zd_machine_destroy(m);
	}
}

static void lock_assertions(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	struct zd_mhp_params p = { .pgprot = 1 };
	unsigned long warns;

	if (!m)
		return;
	warns = zd_warn_count(m);
	is_int(zd___add_pages(m, 0, (16 * G) >> 12, 512, &p), 0, "__add_pages without the lock still works");
	is_u64(zd_warn_count(m), warns + 2,
	       "... but WARNs in __add_pages and sparse_add_section: mem_hotplug_lock must be held");
	ok(zd_log_contains(m, "mem_hotplug_lock must be held here"), "the WARN names the lock");
	zd_mem_hotplug_begin(m);
	zd___remove_pages(m, (16 * G) >> 12, 512, NULL);
	zd_mem_hotplug_done(m);
	is_u64(zd_warn_count(m), warns + 2, "with the lock held: no further WARN");
	zd_machine_destroy(m);
}

int main(void)
{
	region_intersects_nested();
	remove_memory_releases_ram();
	memory_failure_outside_control();
	page_init_after_kill();
	add_pages_check_order();
	taint_both_ends();
	offline_with_hole();
	console_filter();
	ndctl_refusals();
	fsdax_1g();
	arch_hotplug_rules();
	lock_assertions();
	return done_testing();
}
