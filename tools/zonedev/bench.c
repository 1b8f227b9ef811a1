/*
 * Benchmarks. `bench memmap`: the cost of populating the vmemmap for a
 * hot-added range and initialising its struct pages, cold (first touch of
 * fresh host memory) and warm (re-initialising resident memmap), against a
 * memset of the same number of bytes into fresh and into resident memory,
 * all measured in this run. Wall-clock figures are reported with the ratio
 * that makes them comparable across machines.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"
#include "cli.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct memset_base {
	double cold_ns, warm_ns;
};

/* memset into fresh anonymous memory (THP advised, as the vmemmap is) and
 * again into the same, now resident, memory. */
/* Host RSS in bytes (/proc/self/statm). */
static uint64_t host_rss_bytes(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int measure_memset(size_t bytes, int repeat, struct memset_base *b)
{
	char *p = NULL;
	double t;

	/* Cold: fresh memory, twice, the better run kept — the very first
	 * huge-page faults of a process can pay one-off host costs. */
	b->cold_ns = 0;
	for (int i = 0; i < 2; i++) {
		if (p)
			munmap(p, bytes);
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		madvise(p, bytes, MADV_HUGEPAGE);
		t = now_ns();
		memset(p, 0x5a, bytes);
		t = now_ns() - t;
		if (!b->cold_ns || t < b->cold_ns)
			b->cold_ns = t;
	}
	b->warm_ns = 0;
	for (int i = 0; i < repeat; i++) {
		t = now_ns();
		memset(p, i, bytes);
		t = now_ns() - t;
		if (!b->warm_ns || t < b->warm_ns)
			b->warm_ns = t;
	}
	munmap(p, bytes);
	return 0;
}

static void usage_memmap(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench memmap [--size SIZE] [--arch ARCH] [--repeat N] [--json]\n"
		"\n"
		"Populate the vmemmap for a hot-added range of SIZE (default 64G) and\n"
		"initialise its struct pages: cold (fresh host memory) and warm (again,\n"
		"resident). Compares with memset of the same bytes in the same run.\n"
		"  --size SIZE   device range to describe (K/M/G/T suffixes)\n"
		"  --arch ARCH   architecture profile (default x86_64)\n"
		"  --repeat N    warm repetitions, best is reported (default 3)\n"
		"  --json        one JSON document on stdout\n");
}

static void report_line(const char *what, double ns, uint64_t pages, uint64_t bytes,
			double base_ns, const char *base_what)
{
	printf("  %-22s %9.1f ms  %7.2f ns/page  %6.2f GB/s  %5.2fx %s\n", what, ns / 1e6,
	       ns / (double)pages, (double)bytes / ns, ns / base_ns, base_what);
}

static void json_phase(struct jw *w, const char *key, double ns, uint64_t pages, uint64_t bytes,
		       double base_ns)
{
	jw_key(w, key);
	jw_obj_begin(w);
	jw_key(w, "ms");
	jw_double(w, ns / 1e6);
	jw_key(w, "ns_per_page");
	jw_double(w, ns / (double)pages);
	jw_key(w, "gb_per_s");
	jw_double(w, (double)bytes / ns);
	jw_key(w, "ratio_to_memset");
	jw_double(w, ns / base_ns);
	jw_obj_end(w);
}

static int bench_memmap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' }, { "arch", required_argument, NULL, 'a' },
		{ "repeat", required_argument, NULL, 'r' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	uint64_t size = 64ULL << 30;
	const char *arch = "x86_64";
	int repeat = 3, c;
	bool json = false;
	const char *why = NULL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &size, &why) || !size) {
				fprintf(stderr, "zonedev bench memmap: --size %s: %s\n", optarg,
					why ? why : "must be non-zero");
				return EXIT_USAGE;
			}
			break;
		case 'a': arch = optarg; break;
		case 'r': repeat = atoi(optarg); break;
		case 'j': json = true; break;
		case 'h': usage_memmap(stdout); return EXIT_OK;
		default: usage_memmap(stderr); return EXIT_USAGE;
		}
	}
	if (repeat < 1)
		repeat = 1;

	/* The memmap of the hot-added range comes out of boot RAM (1/64 of
	 * the range with 4 KiB pages): boot enough for it, and 1 GiB more. */
	uint64_t boot = ((1ULL << 30) + size / 32 + (1ULL << 30) - 1) & ~((1ULL << 30) - 1);
	struct zd_mem_range ram[] = { { .start = 0, .size = boot } };
	struct zd_machine_desc d = { .arch = arch, .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	if (ZD_IS_ERR(m)) {
		fprintf(stderr, "zonedev bench memmap: %s\n", zd_machine_create_error());
		return EXIT_FAIL;
	}
	const struct zd_arch *a = &m->arch;
	uint64_t section = 1ULL << a->section_size_bits;
	/* Place the range on a section boundary above boot RAM. */
	phys_addr_t start = boot > (4ULL << 30) ? boot : 4ULL << 30;
	start = (start + section - 1) & ~(section - 1);
	size = (size + section - 1) & ~(section - 1);
	uint64_t pfn = zd_phys_pfn(a, start), pages = zd_phys_pfn(a, size);
	uint64_t bytes = pages * sizeof(struct zd_page);
	struct zd_mhp_params params = { .pgprot = 1 };
	struct zd_zone *zone = &m->node_data[0]->node_zones[ZD_ZONE_NORMAL];
	struct memset_base base;
	double t, populate_ns, cold_ns, warm_ns = 0;
	int rc;

	if (measure_memset((size_t)bytes, repeat, &base)) {
		fprintf(stderr, "zonedev bench memmap: cannot map %llu bytes for the baseline\n",
			(unsigned long long)bytes);
		zd_machine_destroy(m);
		return EXIT_FAIL;
	}
	zd_mem_hotplug_begin(m);
	t = now_ns();
	rc = zd___add_pages(m, 0, pfn, pages, &params);
	populate_ns = now_ns() - t;
	if (!rc) {
		t = now_ns();
		zd_move_pfn_range_to_zone(m, zone, pfn, pages, NULL, ZD_MIGRATE_MOVABLE);
		cold_ns = now_ns() - t;
		for (int i = 0; i < repeat; i++) {
			t = now_ns();
			zd_move_pfn_range_to_zone(m, zone, pfn, pages, NULL, ZD_MIGRATE_MOVABLE);
			t = now_ns() - t;
			if (!warm_ns || t < warm_ns)
				warm_ns = t;
		}
	}
	zd_mem_hotplug_done(m);
	if (rc) {
		fprintf(stderr, "zonedev bench memmap: adding %llu bytes failed: %s\n",
			(unsigned long long)size, zd_errno_name(rc));
		zd_machine_destroy(m);
		return EXIT_FAIL;
	}
	uint64_t resident = zd_vmemmap_resident_bytes(m);
	uint64_t mapped = (uint64_t)m->vmemmap_mapped_bytes;

	if (json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w);
		jw_key(&w, "bench"); jw_str(&w, "memmap");
		jw_key(&w, "arch"); jw_str(&w, a->name);
		jw_key(&w, "size"); jw_u64(&w, size);
		jw_key(&w, "pages"); jw_u64(&w, pages);
		jw_key(&w, "memmap_bytes"); jw_u64(&w, bytes);
		json_phase(&w, "populate", populate_ns, pages, bytes, base.cold_ns);
		json_phase(&w, "cold_init", cold_ns, pages, bytes, base.cold_ns);
		json_phase(&w, "cold_total", populate_ns + cold_ns, pages, bytes, base.cold_ns);
		json_phase(&w, "warm_init", warm_ns, pages, bytes, base.warm_ns);
		json_phase(&w, "memset_cold", base.cold_ns, pages, bytes, base.cold_ns);
		json_phase(&w, "memset_warm", base.warm_ns, pages, bytes, base.warm_ns);
		jw_key(&w, "vmemmap_mapped_bytes"); jw_u64(&w, mapped);
		jw_key(&w, "vmemmap_resident_bytes"); jw_u64(&w, resident);
		jw_obj_end(&w);
		fputc('\n', stdout);
	} else {
		printf("bench memmap: %s, %llu MiB range, %llu pages, %llu MiB of struct page\n",
		       a->name, (unsigned long long)(size >> 20), (unsigned long long)pages,
		       (unsigned long long)(bytes >> 20));
		printf("cold (fresh host memory):\n");
		report_line("populate (mmap)", populate_ns, pages, bytes, base.cold_ns, "memset cold");
		report_line("init (first touch)", cold_ns, pages, bytes, base.cold_ns, "memset cold");
		report_line("populate + init", populate_ns + cold_ns, pages, bytes, base.cold_ns,
			    "memset cold");
		report_line("memset (baseline)", base.cold_ns, pages, bytes, base.cold_ns, "memset cold");
		printf("warm (memmap resident, best of %d):\n", repeat);
		report_line("init", warm_ns, pages, bytes, base.warm_ns, "memset warm");
		report_line("memset (baseline)", base.warm_ns, pages, bytes, base.warm_ns, "memset warm");
		printf("memmap host memory: %llu MiB mapped, %llu MiB resident (measured with mincore)\n",
		       (unsigned long long)(mapped >> 20), (unsigned long long)(resident >> 20));
	}
	zd_machine_destroy(m);
	return EXIT_OK;
}

static void usage_memremap(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench memremap [--type fsdax|devdax] [--map dev|mem] [--align 4K|2M|1G]\n"
		"                              [--size SIZE] [--repeat N] [--dir DIR] [--json]\n"
		"\n"
		"Create a pmem namespace of SIZE (default 100G) on a region backed by a sparse\n"
		"file in DIR (default /dev/shm), then time the first bind (memmap populated\n"
		"and initialised, cold) and rebinds (warm), against a memset of the same\n"
		"number of struct page bytes measured in the same run.\n");
}

static int bench_memremap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' }, { "map", required_argument, NULL, 'm' },
		{ "align", required_argument, NULL, 'a' }, { "size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' }, { "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_FSDAX, .map = ZD_ND_MAP_DEV };
	uint64_t size = 100ULL << 30, align = 2ULL << 20;
	const char *dir = "/dev/shm", *why = NULL;
	int repeat = 3, c;
	bool json = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!strcmp(optarg, "fsdax"))
				o.mode = ZD_NS_MODE_FSDAX;
			else if (!strcmp(optarg, "devdax"))
				o.mode = ZD_NS_MODE_DEVDAX;
			else
				goto usage;
			break;
		case 'm':
			if (!strcmp(optarg, "dev"))
				o.map = ZD_ND_MAP_DEV;
			else if (!strcmp(optarg, "mem"))
				o.map = ZD_ND_MAP_MEM;
			else
				goto usage;
			break;
		case 'a':
			if (parse_size(optarg, &align, &why) || !align)
				goto usage;
			break;
		case 's':
			if (parse_size(optarg, &size, &why) || !size)
				goto usage;
			break;
		case 'r': repeat = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		case 'h': usage_memremap(stdout); return EXIT_OK;
		default: goto usage;
		}
	}
	if (repeat < 1)
		repeat = 1;
	o.align = align;
	/* The region sits 1 GiB aligned above 4 GiB of RAM so 1G folios align. */
	size = (size + (1ULL << 30) - 1) & ~((1ULL << 30) - 1);
	char path[512];
	snprintf(path, sizeof(path), "%s/zonedev-bench-%d.pmem", dir, (int)getpid());
	unlink(path);
	cleanup_register_file(path);
	struct zd_mem_range ram[] = { { .start = 0, .size = 4ULL << 30 } };
	struct zd_nd_region_desc pm[] = { { .start = 64ULL << 30, .size = size, .path = path } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = pm,
				     .nr_pmem = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	if (ZD_IS_ERR(m)) {
		fprintf(stderr, "zonedev bench memremap: %s\n", zd_machine_create_error());
		unlink(path);
		return EXIT_FAIL;
	}
	struct zd_nd_region *r = zd_nd_region_find(m, "region0");
	uint64_t pages = size >> m->arch.page_shift, bytes = pages * sizeof(struct zd_page);
	uint64_t base_res = zd_vmemmap_resident_bytes(m), rss0 = host_rss_bytes();
	struct memset_base base;
	double t, cold_ns, cold_init_ns, warm_ns = 0, warm_init_ns = 0;
	int rc;

	if (measure_memset((size_t)bytes, repeat, &base))
		goto fail;
	t = now_ns();
	rc = zd_nd_create_namespace(r, &o);
	cold_ns = now_ns() - t;
	if (rc)
		goto fail;
	cold_init_ns = (double)zd_nd_namespace_pgmap(r)->memmap_init_ns;
	uint64_t resident = zd_vmemmap_resident_bytes(m) - base_res;
	uint64_t rss_used = host_rss_bytes() - rss0;
	/* Rebind: the claim goes and comes back, the info block stays. */
	for (int i = 0; i < repeat; i++) {
		struct zd_nd_namespace_info in;
		zd_nd_namespace_get(r, &in);
		t = now_ns();
		rc = zd_nd_rebind_namespace(r);
		t = now_ns() - t;
		if (rc)
			goto fail;
		if (!warm_ns || t < warm_ns) {
			warm_ns = t;
			warm_init_ns = (double)zd_nd_namespace_pgmap(r)->memmap_init_ns;
		}
	}
	struct zd_dev_pagemap *pg = zd_nd_namespace_pgmap(r);
	uint64_t dev_pages = pages - zd_vmem_altmap_offset(zd_pgmap_altmap(pg));
	const char *type = o.mode == ZD_NS_MODE_FSDAX ? "fsdax" : "devdax";
	const char *map = o.map == ZD_ND_MAP_DEV ? "dev" : "mem";

	if (json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w);
		jw_key(&w, "bench"); jw_str(&w, "memremap");
		jw_key(&w, "type"); jw_str(&w, type);
		jw_key(&w, "map"); jw_str(&w, map);
		jw_key(&w, "align"); jw_u64(&w, align);
		jw_key(&w, "size"); jw_u64(&w, size);
		jw_key(&w, "pages"); jw_u64(&w, pages);
		jw_key(&w, "device_pages"); jw_u64(&w, dev_pages);
		json_phase(&w, "first_bind", cold_ns, pages, bytes, base.cold_ns);
		json_phase(&w, "first_bind_init", cold_init_ns, pages, bytes, base.cold_ns);
		json_phase(&w, "rebind", warm_ns, pages, bytes, base.warm_ns);
		json_phase(&w, "rebind_init", warm_init_ns, pages, bytes, base.warm_ns);
		json_phase(&w, "memset_cold", base.cold_ns, pages, bytes, base.cold_ns);
		json_phase(&w, "memset_warm", base.warm_ns, pages, bytes, base.warm_ns);
		jw_key(&w, "memmap_resident_bytes"); jw_u64(&w, resident);
		jw_key(&w, "rss_growth_bytes"); jw_u64(&w, rss_used);
		jw_obj_end(&w);
		fputc('\n', stdout);
	} else {
		printf("bench memremap: %s map=%s align=%lluK, %llu GiB namespace, %llu pages "
		       "(%llu device pages), %llu MiB of struct page\n", type, map,
		       (unsigned long long)(align >> 10), (unsigned long long)(size >> 30),
		       (unsigned long long)pages, (unsigned long long)dev_pages,
		       (unsigned long long)(bytes >> 20));
		printf("first bind (cold):\n");
		report_line("create + bind", cold_ns, pages, bytes, base.cold_ns, "memset cold");
		report_line("memmap init", cold_init_ns, pages, bytes, base.cold_ns, "memset cold");
		report_line("memset (baseline)", base.cold_ns, pages, bytes, base.cold_ns, "memset cold");
		printf("rebind (warm, best of %d):\n", repeat);
		report_line("unbind + bind", warm_ns, pages, bytes, base.warm_ns, "memset warm");
		report_line("memmap init", warm_init_ns, pages, bytes, base.warm_ns, "memset warm");
		report_line("memset (baseline)", base.warm_ns, pages, bytes, base.warm_ns, "memset warm");
		printf("memmap host memory: %llu KiB resident (mincore over the vmemmap; %s), "
		       "process RSS grew %llu KiB\n", (unsigned long long)(resident >> 10),
		       o.map == ZD_ND_MAP_DEV ? "map=dev: pages of the region file" : "RAM",
		       (unsigned long long)(rss_used >> 10));
	}
	zd_machine_destroy(m);
	unlink(path);
	return EXIT_OK;
usage:
	usage_memremap(stderr);
	return EXIT_USAGE;
fail:
	fprintf(stderr, "zonedev bench memremap: failed; kernel log:\n");
	zd_log_dump(m, stderr, ZD_LOG_INFO);
	zd_machine_destroy(m);
	unlink(path);
	return EXIT_FAIL;
}

int cmd_bench(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: zonedev bench NAME [options]\n\nbenchmarks:\n"
			   "  memmap    populate and initialise the memmap of a hot-added range\n"
			   "  memremap  first bind and rebind of a pmem namespace (fsdax/devdax)\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "memmap"))
		return bench_memmap(argc - 1, argv + 1);
	if (!strcmp(argv[1], "memremap"))
		return bench_memremap(argc - 1, argv + 1);
	fprintf(stderr, "zonedev bench: unknown benchmark '%s' (try: memmap, memremap)\n", argv[1]);
	return EXIT_USAGE;
}
