/*
 * The host memory guard (machine/hostmem.c): memmap in RAM is host memory,
 * so boot, hot-add and memremap_pages refuse with -ENOMEM and a message
 * (what, need, have, how to avoid it) when it would not fit, and lifting
 * the guard lets the same call through. The host's figure is faked with
 * ZD_HOST_MEM_AVAILABLE so the test runs in megabytes; what is checked is
 * the estimate each path charges: 64 bytes per page in RAM, two memmap
 * pages per folio when a devdax memmap is deduplicated, none on an altmap.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)

static struct zd_machine *boot_vm(uint64_t ram, bool unguarded, bool debug_vm)
{
	struct zd_mem_range r[] = { { .start = 1 * M, .size = ram - 1 * M } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = r, .nr_ram = 1,
				     .host_memory_unguarded = unguarded, .debug_vm = debug_vm };

	return zd_machine_create(&d);
}

static struct zd_machine *boot(uint64_t ram, bool unguarded)
{
	return boot_vm(ram, unguarded, false);
}

static void set_avail(uint64_t bytes)
{
	char v[32];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)bytes);
	setenv("ZD_HOST_MEM_AVAILABLE", v, 1);
}

/* A 1 GiB machine (16 MiB of memmap) on a host with 80 MiB available. */
static struct zd_machine *small_machine(void)
{
	struct zd_machine *m;

	set_avail(80 * M);
	m = boot(1 * G, false);
	return ok(!ZD_IS_ERR(m), "a 1 GiB machine") ? m : NULL;
}

static void boot_guard(void)
{
	struct zd_machine *m;

	/* 4 GiB of RAM: 64 MiB of struct pages; 64 MiB "available" keeps a
	 * sixteenth back, so it does not fit. */
	set_avail(64 * M);
	ok(zd_host_mem_available() == 64 * M, "the test hook sets the host's figure");
	m = boot(4 * G, false);
	ok(ZD_IS_ERR(m) && ZD_PTR_ERR(m) == -ENOMEM, "boot beyond the host: ENOMEM");
	ok(strstr(zd_machine_create_error(), "host memory guard: booting 4095 MiB of RAM needs "
		  "64 MiB of host memory") && strstr(zd_machine_create_error(), "64 MiB available") &&
	   strstr(zd_machine_create_error(), "--no-memory-guard"),
	   "the message says what, how much, what the host has, how to lift it (%s)",
	   zd_machine_create_error());
	m = boot(4 * G, true);
	ok(!ZD_IS_ERR(m), "the same machine boots with the guard lifted");
	if (!ZD_IS_ERR(m))
		zd_machine_destroy(m);
	set_avail(80 * M);
	m = boot(4 * G, false);
	ok(!ZD_IS_ERR(m), "and with enough host memory it boots guarded");
	if (!ZD_IS_ERR(m))
		zd_machine_destroy(m);
}

/* Hot-added RAM's memmap is only mapped at add (a 1 TiB add on a laptop is
 * the point); it is touched when a block goes online, so that is checked. */
static void hotplug_guard(void)
{
	struct zd_machine *m = small_machine();
	unsigned long seq;

	if (!m)
		return;
	/* 8 GiB more is 128 MiB of memmap, mapped but not touched. */
	ok(zd_add_memory(m, 0, 4 * G, 8 * G, 0) == 0, "a hot-add beyond the host is only mapped");
	set_avail(1 * M);
	seq = zd_log_seq(m);
	ok(zd_online_memory_range(m, 4 * G, 128 * M, ZD_MMOP_ONLINE_MOVABLE) == -ENOMEM,
	   "onlining a block with no host memory left: ENOMEM");
	ok(tap_log_since(m, seq, "host memory guard: onlining [mem 0x100000000-0x107ffffff] "
			 "needs 2048 KiB"), "dmesg names the block's range and its memmap");
	set_avail(80 * M);
	ok(zd_online_memory_range(m, 4 * G, 128 * M, ZD_MMOP_ONLINE_MOVABLE) == 0,
	   "with host memory it goes online");
	zd_machine_destroy(m);
	/* CONFIG_DEBUG_VM poisons every new struct page at add: that add
	 * touches its memmap and is checked there. */
	m = boot_vm(1 * G, false, true);
	if (!ok(!ZD_IS_ERR(m), "a 1 GiB debug_vm machine"))
		return;
	ok(zd_add_memory(m, 0, 4 * G, 8 * G, 0) == -ENOMEM,
	   "with debug_vm the same hot-add is refused at add");
	zd_machine_destroy(m);
}

static void pgmap_guard(void)
{
	struct zd_machine *m = small_machine();
	struct zd_dev_pagemap pg;
	unsigned long seq;

	if (!m)
		return;
	/* 16 GiB of device memory, memmap in RAM: 256 MiB of struct pages. */
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 16 * G, 16 * G, 0);
	seq = zd_log_seq(m);
	ok(ZD_IS_ERR(zd_memremap_pages(m, &pg, 0)), "memremap_pages of 16 GiB, order 0: refused");
	ok(tap_log_since(m, seq, "map=dev"), "the message offers the memmap on the device");
	/* The same range as 2 MiB folios: two 4 KiB memmap pages per folio,
	 * 64 MiB in all, which fits. */
	tap_pgmap_setup(&pg, ZD_MEMORY_DEVICE_GENERIC, 16 * G, 16 * G, 9);
	void *va = zd_memremap_pages(m, &pg, 0);
	ok(!ZD_IS_ERR(va), "with a deduplicated memmap it fits");
	if (!ZD_IS_ERR(va))
		zd_memunmap_pages(&pg);
	zd_machine_destroy(m);
}

/* A valid info block whose claim cannot be enabled (here: no host memory
 * for a map=mem memmap) leaves the namespace disabled, never raw: a raw
 * write would overwrite the block. The next boot with memory finds it all. */
static void disabled_not_raw(void)
{
	char dir[] = "/tmp/zd-guard-XXXXXX", path[64];
	struct zd_mem_range ram[] = { { .start = 1 * M, .size = 1023 * M } };
	struct zd_nd_region_desc pm = { .start = 16 * G, .size = 16 * G, .path = path };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_FSDAX, .map = ZD_ND_MAP_MEM };
	struct zd_nd_namespace_info in;
	struct zd_nd_region *r;
	struct zd_machine *m;
	uint64_t size;
	char *data;

	if (!ok(mkdtemp(dir) != NULL, "a directory for the region"))
		return;
	snprintf(path, sizeof(path), "%s/r.img", dir);
	unsetenv("ZD_HOST_MEM_AVAILABLE");
	m = zd_machine_create(&d);
	r = ZD_IS_ERR(m) ? NULL : zd_nd_region_find(m, "region0");
	ok(r && zd_nd_create_namespace(r, &o) == 0 &&
	   zd_nd_namespace_write(r, 0, "precious", 8) == 0, "fsdax map=mem, 16 GiB, written");
	if (!ZD_IS_ERR(m))
		zd_machine_destroy(m);
	/* Its memmap is 256 MiB: with 64 MiB available the claim cannot come up. */
	set_avail(64 * M);
	m = zd_machine_create(&d);
	r = ZD_IS_ERR(m) ? NULL : zd_nd_region_find(m, "region0");
	if (ok(r != NULL, "the machine boots")) {
		zd_nd_namespace_get(r, &in);
		ok(in.mode == ZD_NS_MODE_FSDAX && !in.enabled && strstr(in.refused, "ENOMEM"),
		   "the namespace stays fsdax, disabled (%s)", in.refused);
		ok(zd_nd_namespace_write(r, 0, "oops", 4) == -ENXIO,
		   "a write to the disabled namespace: ENXIO");
		ok(zd_nd_namespace_data(r, &size) == NULL && size == 0, "it has no data area");
		zd_machine_destroy(m);
	}
	unsetenv("ZD_HOST_MEM_AVAILABLE");
	m = zd_machine_create(&d);
	r = ZD_IS_ERR(m) ? NULL : zd_nd_region_find(m, "region0");
	data = r ? zd_nd_namespace_data(r, &size) : NULL;
	ok(data && !memcmp(data, "precious", 8), "with memory again: the namespace and its data");
	if (!ZD_IS_ERR(m))
		zd_machine_destroy(m);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	boot_guard();
	hotplug_guard();
	pgmap_guard();
	disabled_not_raw();
	unsetenv("ZD_HOST_MEM_AVAILABLE");
	{
		unsigned long long kb = 0;
		char line[128];
		FILE *f = fopen("/proc/meminfo", "r");
		uint64_t got = zd_host_mem_available(), want;

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
				break;
		if (f)
			fclose(f);
		want = (uint64_t)kb << 10;
		/* The host moves between the two reads: a tenth either way. */
		ok(kb && got != UINT64_MAX && got > want - want / 10 && got < want + want / 10,
		   "without the hook the figure is the host's MemAvailable (%llu vs %llu kB)",
		   (unsigned long long)(got >> 10), kb);
	}
	return done_testing();
}
