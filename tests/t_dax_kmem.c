/*
 * dax kmem and daxctl reconfigure-device (drivers/dax/kmem.c, bus.c),
 * beyond what scenarios/pmem-recorded-6.1.yaml reproduces from a real
 * kernel: --no-online leaves the blocks offline (and going back needs no
 * force); a range too small for one memory block after rounding is refused
 * and device_dax comes back; a block that will not offline (a page in use)
 * keeps the device in system-ram mode; a machine torn down with the kmem
 * blocks online says they cannot be hot-removed, as the kernel does, and
 * leaks nothing; daxctl online-/offline-memory block by block, and ndctl
 * disable-namespace refusing while the memory is online, then keeping the
 * namespace down (no dax device) until it is enabled again.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)

static char dir[] = "/tmp/zd-kmem-XXXXXX";

static struct zd_machine *boot(const char *file, phys_addr_t start, uint64_t size)
{
	static char path[128];
	static struct zd_nd_region_desc pm;
	static struct zd_mem_range ram[] = { { .start = 1 * M, .size = 2047 * M } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_machine *m;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	pm = (struct zd_nd_region_desc){ .start = start, .size = size, .path = path };
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "machine with %s boots (%s)", file, zd_machine_create_error()))
		return NULL;
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_DEVDAX, .align = 2 * M };
	if (!is_int(zd_nd_create_namespace(zd_nd_region_find(m, "region0"), &o), 0,
		    "devdax namespace")) {
		zd_machine_destroy(m);
		return NULL;
	}
	return m;
}

static void no_online(void)
{
	struct zd_machine *m = boot("a.img", 4 * G, 8 * G);
	struct zd_dax_reconfigure_opts ram = { .mode = ZD_DAX_MODE_SYSTEM_RAM, .no_online = true };
	struct zd_dax_reconfigure_opts dax = { .mode = ZD_DAX_MODE_DEVDAX };
	struct zd_dax_info di;
	struct zd_nd_region *r;

	if (!m)
		return;
	r = zd_nd_region_find(m, "region0");
	is_int(zd_dax_reconfigure_device(r, &ram), 0, "system-ram, --no-online");
	zd_dax_info_get(r, &di);
	ok(di.mode == ZD_DAX_MODE_SYSTEM_RAM && di.total_memblocks == 62 && di.online_memblocks == 0,
	   "62 blocks, none online (%u/%u)", di.online_memblocks, di.total_memblocks);
	is_int(zd_dax_reconfigure_device(r, &ram), 0, "system-ram again: already in that mode");
	is_int(zd_dax_reconfigure_device(r, &dax), 0, "back to devdax without force");
	zd_dax_info_get(r, &di);
	struct zd_dev_pagemap *pg = zd_get_dev_pagemap(m, 0x108200);
	ok(di.mode == ZD_DAX_MODE_DEVDAX && pg != NULL, "devdax again, with a pgmap");
	zd_put_dev_pagemap(pg);
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
}

static void too_small(void)
{
	/* 192 MiB at 4G+16M: the data starts ~6 MiB in; rounded to 128 MiB
	 * blocks nothing is left. */
	struct zd_machine *m = boot("b.img", 4 * G + 16 * M, 192 * M);
	struct zd_dax_reconfigure_opts ram = { .mode = ZD_DAX_MODE_SYSTEM_RAM };
	struct zd_dax_info di;
	struct zd_nd_region *r;

	if (!m)
		return;
	r = zd_nd_region_find(m, "region0");
	is_int(zd_dax_reconfigure_device(r, &ram), -EINVAL, "nothing left after block rounding: -EINVAL");
	ok(zd_log_contains(m, "too small after alignment"), "kmem says why");
	zd_dax_info_get(r, &di);
	ok(di.mode == ZD_DAX_MODE_DEVDAX && di.chardev[0], "device_dax is bound again");
	zd_machine_destroy(m);
}

static void busy_block(void)
{
	struct zd_machine *m = boot("c.img", 4 * G, 8 * G);
	struct zd_dax_reconfigure_opts ram = { .mode = ZD_DAX_MODE_SYSTEM_RAM };
	struct zd_dax_reconfigure_opts dax = { .mode = ZD_DAX_MODE_DEVDAX, .force = true };
	struct zd_dax_info di;
	struct zd_nd_region *r;
	struct zd_page *p;

	if (!m)
		return;
	r = zd_nd_region_find(m, "region0");
	is_int(zd_dax_reconfigure_device(r, &ram), 0, "system-ram, online movable");
	p = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE, 0);
	ok(p && zd_page_to_pfn(m, p) >= 0x110000, "a movable page lands in the kmem memory");
	is_int(zd_dax_reconfigure_device(r, &dax), -EBUSY, "devdax --force with a page in use: -EBUSY");
	zd_dax_info_get(r, &di);
	ok(di.mode == ZD_DAX_MODE_SYSTEM_RAM && !di.stuck, "still system-ram, nothing stuck");
	zd___free_pages(m, p, 0);
	is_int(zd_dax_reconfigure_device(r, &dax), 0, "after the page is freed it goes back");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
}

static void teardown_online(void)
{
	struct zd_machine *m = boot("d.img", 4 * G, 8 * G);
	struct zd_dax_reconfigure_opts ram = { .mode = ZD_DAX_MODE_SYSTEM_RAM };
	uint64_t rss0;

	if (!m)
		return;
	is_int(zd_dax_reconfigure_device(zd_nd_region_find(m, "region0"), &ram), 0, "system-ram");
	zd_log_set_echo(m, NULL);
	rss0 = tap_rss_bytes();
	zd_machine_destroy(m);
	ok(tap_rss_bytes() <= rss0, "teardown with online kmem blocks frees the machine");
}

static void memory_ops_and_disable(void)
{
	struct zd_machine *m = boot("e.img", 4 * G, 8 * G);
	struct zd_dax_reconfigure_opts ram = { .mode = ZD_DAX_MODE_SYSTEM_RAM, .no_online = true };
	struct zd_nd_namespace_info in;
	struct zd_dax_info di;
	struct zd_nd_region *r;

	if (!m)
		return;
	r = zd_nd_region_find(m, "region0");
	is_int(zd_dax_online_memory(r, true), -ENXIO, "online-memory in devdax mode: -ENXIO");
	is_int(zd_dax_reconfigure_device(r, &ram), 0, "system-ram, --no-online");
	is_int(zd_dax_online_memory(r, true), 0, "online-memory (movable)");
	zd_dax_info_get(r, &di);
	ok(di.online_memblocks == 62 && di.movable, "62 blocks online movable (%u)", di.online_memblocks);
	is_int(zd_nd_disable_namespace(r), -EBUSY, "disable-namespace with memory online: -EBUSY");
	ok(zd_log_contains(m, "active as system-ram"), "and says why");
	is_int(zd_dax_offline_memory(r), 0, "offline-memory");
	zd_dax_info_get(r, &di);
	is_int((int)di.online_memblocks, 0, "no block online");
	is_int(zd_dax_online_memory(r, false), 0, "online-memory --no-movable");
	zd_dax_info_get(r, &di);
	ok(di.online_memblocks == 62 && !di.movable, "62 online, not movable");
	is_int(zd_dax_offline_memory(r), 0, "offline-memory again");
	is_int(zd_nd_disable_namespace(r), 0, "disable-namespace once the memory is offline");
	zd_nd_namespace_get(r, &in);
	ok(!in.enabled && in.user_disabled && in.mode == ZD_NS_MODE_DEVDAX,
	   "disabled on request, the info block still devdax");
	is_int(zd_dax_info_get(r, &di), -ENODEV, "no dax device while disabled");
	ok(zd_get_dev_pagemap(m, 0x108200) == NULL, "no pgmap while disabled");
	is_int(zd_nd_enable_namespace(r), 0, "enable-namespace");
	zd_nd_namespace_get(r, &in);
	ok(in.enabled && !in.user_disabled && !zd_dax_info_get(r, &di) &&
	   di.mode == ZD_DAX_MODE_DEVDAX, "devdax again, from the media");
	is_int(zd_nd_enable_namespace(r), 0, "enable on an enabled namespace: nothing to do");
	is_int(zd_nd_disable_namespace(r), 0, "disable");
	is_int(zd_nd_destroy_namespace(r), 0, "destroy a disabled namespace");
	zd_nd_namespace_get(r, &in);
	ok(in.enabled && in.mode == ZD_NS_MODE_RAW && !in.user_disabled, "raw and enabled");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
}

int main(void)
{
	if (!ok(mkdtemp(dir) != NULL, "mkdtemp"))
		return done_testing();
	no_online();
	too_small();
	busy_block();
	teardown_online();
	memory_ops_and_disable();
	for (const char *f = "abcde"; *f; f++) {
		char path[160];
		snprintf(path, sizeof(path), "%s/%c.img", dir, *f);
		unlink(path);
	}
	rmdir(dir);
	return done_testing();
}
