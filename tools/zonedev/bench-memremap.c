/*
 * `zonedev bench memremap`: a pmem namespace of SIZE on a region backed by
 * a sparse file, the first bind timed cold (memmap populated and
 * initialised) and rebinds warm, against a same-run memset of the struct
 * page bytes. The region file is the run's own: it is removed at exit and
 * on SIGINT/SIGTERM/SIGHUP/SIGPIPE (cleanup.c). Values are checked as
 * ndctl would before anything is created: SIZE a multiple of the region's
 * 16 MiB align and of --align, inside the physical address space.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bench.h"
#include "cli.h"

#define GIB (1ULL << 30)
/* The region sits 1 GiB aligned above 4 GiB of RAM so 1G folios align. */
#define REGION_START (64 * GIB)
#define REGION_ALIGN (16ULL << 20)  /* nd_region's default align */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench memremap [--type fsdax|devdax] [--map dev|mem]\n"
		"                              [--align 4K|2M|1G] [--size SIZE] [--repeat N]\n"
		"                              [--dir DIR] [--no-memory-guard] [--quiet] [--json]\n"
		"\n"
		"Create a pmem namespace of SIZE on a region backed by a sparse file in DIR,\n"
		"then time the first bind (memmap populated and initialised, cold) and\n"
		"rebinds (warm), against a memset and non-temporal stores of the same number\n"
		"of struct page bytes and against the per-page memmap init the template\n"
		"replaced, all measured in the same run. The file is removed at the end and\n"
		"on SIGINT, SIGTERM, SIGHUP and SIGPIPE.\n"
		"\n"
		"options:\n"
		"  --type fsdax|devdax  namespace mode (default fsdax)\n"
		"  --map dev|mem        struct pages on the device (in the region file) or in\n"
		"                       RAM (default dev)\n"
		"  --align 4K|2M|1G     namespace alignment; devdax folios are this size\n"
		"                       (default 2M)\n"
		"  --size SIZE          region size, a multiple of 16M and of --align\n"
		"                       (K/M/G/T suffixes; default 100G)\n"
		"  --repeat N           rebinds, the best is reported (1-1000000, default 3)\n"
		"  --dir DIR            directory of the region file (default /dev/shm)\n"
		"  --no-memory-guard    run even when the memmap needs more host memory than\n"
		"                       is available (default: refuse, saying how much)\n"
		"  -q, --quiet          no progress line (it shows only on a terminal, after\n"
		"                       a second)\n"
		"  --json               one JSON document on stdout (also when the run fails)\n"
		"  -h, --help           show this help\n"
		"\n"
		"exit status: 0 ok, 1 the benchmark failed, 2 usage error\n");
}

struct args {
	struct zd_nd_namespace_opts o;
	uint64_t size, align;
	const char *size_arg, *dir;
	int repeat;
};

/* 0 to run, -1 after --help, or EXIT_USAGE after a usage error. */
static int parse_args(struct bench *b, struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' }, { "map", required_argument, NULL, 'm' },
		{ "align", required_argument, NULL, 'a' }, { "size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' }, { "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' }, { "no-memory-guard", no_argument, NULL, 'g' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct stat st;
	char s1[32];
	int c;

	optind = 1;
	while ((c = bench_getopt(b, argc, argv, opts)) != -1) {
		switch (c) {
		case 't':
			if (!strcmp(optarg, "fsdax"))
				a->o.mode = ZD_NS_MODE_FSDAX;
			else if (!strcmp(optarg, "devdax"))
				a->o.mode = ZD_NS_MODE_DEVDAX;
			else
				return bench_bad(b, "--type", optarg, "must be fsdax or devdax");
			break;
		case 'm':
			if (!strcmp(optarg, "dev"))
				a->o.map = ZD_ND_MAP_DEV;
			else if (!strcmp(optarg, "mem"))
				a->o.map = ZD_ND_MAP_MEM;
			else
				return bench_bad(b, "--map", optarg, "must be dev or mem");
			break;
		case 'a':
			if (!strcmp(optarg, "4K"))
				a->align = 4096;
			else if (!strcmp(optarg, "2M"))
				a->align = 2ULL << 20;
			else if (!strcmp(optarg, "1G"))
				a->align = GIB;
			else
				return bench_bad(b, "--align", optarg, "must be 4K, 2M or 1G");
			break;
		case 's':
			if (bench_opt_size(b, "--size", optarg, &a->size))
				return EXIT_USAGE;
			a->size_arg = optarg;
			break;
		case 'h': usage(stdout); return -1;
		default:
			if (bench_common_opt(b, c, optarg, &a->repeat, &a->dir))
				return EXIT_USAGE;
		}
	}
	if (bench_no_operands(b, argc, argv))
		return EXIT_USAGE;
	uint64_t unit = a->align > REGION_ALIGN ? a->align : REGION_ALIGN;
	if (a->size % unit)
		return bench_bad(b, "--size", a->size_arg, "not a multiple of %s (the region's 16M "
				 "align and --align)", fmt_size(unit, s1, sizeof(s1)));
	if (a->size > (1ULL << 46) - REGION_START)
		return bench_bad(b, "--size", a->size_arg, "the region (at 64 GiB) does not fit "
				 "x86_64's 46-bit physical address space");
	if (stat(a->dir, &st) || !S_ISDIR(st.st_mode))
		return bench_bad(b, "--dir", a->dir, "not a directory");
	return 0;
}

static void report(const struct bench *b, const struct args *a, struct zd_nd_region *r,
		   const double ns[5], const struct memset_base *base, uint64_t resident,
		   uint64_t rss_used)
{
	uint64_t pages = a->size >> 12, bytes = pages * sizeof(struct zd_page);
	struct zd_dev_pagemap *pg = zd_nd_namespace_pgmap(r);
	uint64_t dev_pages = pages - zd_vmem_altmap_offset(zd_pgmap_altmap(pg));
	const char *type = a->o.mode == ZD_NS_MODE_FSDAX ? "fsdax" : "devdax";
	const char *map = a->o.map == ZD_ND_MAP_DEV ? "dev" : "mem";
	/* map=mem: unbind frees the memmap (vmemmap_free) and the rebind
	 * populates it again, so its memory is fresh: a cold comparison. */
	bool warm = a->o.map == ZD_ND_MAP_DEV;

	if (b->json) {
		struct jw w;

		bench_json_begin(&w, b);
		jw_kstr(&w, "type", type);
		jw_kstr(&w, "map", map);
		jw_ku64(&w, "align", a->align);
		jw_ku64(&w, "size", a->size);
		jw_ku64(&w, "pages", pages);
		jw_ku64(&w, "device_pages", dev_pages);
		bench_json_phase(&w, "first_bind", ns[0], pages, bytes, base, false);
		bench_json_phase(&w, "first_bind_init", ns[1], pages, bytes, base, false);
		jw_kstr(&w, "rebind_baseline", warm ? "warm" : "cold");
		bench_json_phase(&w, "rebind", ns[2], pages, bytes, base, warm);
		bench_json_phase(&w, "rebind_init", ns[3], pages, bytes, base, warm);
		bench_json_phase(&w, "rebind_init_per_page", ns[4], pages, bytes, base, warm);
		bench_json_phase(&w, "memset_cold", base->cold_ns, pages, bytes, base, false);
		bench_json_phase(&w, "ntstore_cold", base->nt_cold_ns, pages, bytes, base, false);
		bench_json_phase(&w, "memset_warm", base->warm_ns, pages, bytes, base, true);
		bench_json_phase(&w, "ntstore_warm", base->nt_warm_ns, pages, bytes, base, true);
		jw_ku64(&w, "baseline_sample_bytes", base->sample_bytes);
		jw_ku64(&w, "memmap_resident_bytes", resident);
		jw_ku64(&w, "rss_growth_bytes", rss_used);
		jw_ku64(&w, "peak_rss_bytes", bench_peak_rss());
		jw_obj_end(&w);
		jw_finish(&w);
		return;
	}
	if (warm)
		printf("rebind (warm: the memmap stays in the region file, best of %d):\n", a->repeat);
	else
		printf("rebind (cold: unbind freed the memmap, bind populates it again; best of %d):\n",
		       a->repeat);
	bench_line("unbind + bind", ns[2], pages, bytes, base, warm);
	bench_line("memmap init", ns[3], pages, bytes, base, warm);
	bench_line("init per page (old)", ns[4], pages, bytes, base, warm);
	bench_line("memset (baseline)", warm ? base->warm_ns : base->cold_ns, pages, bytes, base, warm);
	bench_line("non-temporal stores", warm ? base->nt_warm_ns : base->nt_cold_ns, pages, bytes,
		   base, warm);
	bench_baseline_note(base, bytes);
	printf("memmap host memory: %llu KiB resident (mincore over the vmemmap; %s), "
	       "process RSS grew %llu KiB\n", ULL(resident >> 10),
	       a->o.map == ZD_ND_MAP_DEV ? "map=dev: pages of the region file" : "RAM",
	       ULL(rss_used >> 10));
	if (ns[4] > 0)
		printf("template init is %.2fx the per-page init it replaced (same run)\n",
		       ns[3] / ns[4]);
}

int bench_memremap(int argc, char **argv)
{
	struct bench b = { .name = "memremap" };
	struct args a = { .o = { .mode = ZD_NS_MODE_FSDAX, .map = ZD_ND_MAP_DEV },
			  .size = 100 * GIB, .align = 2ULL << 20, .size_arg = "100G",
			  .dir = "/dev/shm", .repeat = 3 };
	int rc = parse_args(&b, &a, argc, argv);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	a.o.align = a.align;
	uint64_t pages = a.size >> 12, bytes = pages * sizeof(struct zd_page);
	char what[96], s1[32];

	/* The baseline is unmapped before the bind, whose memmap the
	 * library's own guard checks (with its dedup and altmap rules). */
	snprintf(what, sizeof(what), "the memset baseline of a %s namespace's struct pages",
		 fmt_size_human(a.size, s1, sizeof(s1)));
	if (bench_guard(&b, bench_baseline_bytes(bytes), what, "a smaller --size"))
		return EXIT_FAIL;

	char path[4096];
	snprintf(path, sizeof(path), "%s/zonedev-bench-%d.pmem", a.dir, (int)getpid());
	unlink(path);
	cleanup_register_file(path);
	struct zd_mem_range ram[] = { { .start = 0, .size = 4 * GIB } };
	struct zd_nd_region_desc pm[] = { { .start = REGION_START, .size = a.size, .path = path } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = pm,
				     .nr_pmem = 1, .host_memory_unguarded = b.no_guard,
				     .progress = progress_update };

	progress_init(b.quiet);
	progress_label("bench memremap: boot");
	struct zd_machine *m = zd_machine_create(&d);
	if (ZD_IS_ERR(m)) {
		unlink(path);
		return bench_fail(&b, "%s", zd_machine_create_error());
	}
	b.m = m;
	struct zd_nd_region *r = zd_nd_region_find(m, "region0");
	uint64_t base_res = zd_vmemmap_resident_bytes(m), rss0 = bench_host_rss();
	struct memset_base base;
	double t, ns[5] = { 0 };

	if (!b.json)
		printf("bench memremap: %s map=%s align=%lluK, %llu GiB namespace, %llu pages, "
		       "%llu MiB of struct page\n", a.o.mode == ZD_NS_MODE_FSDAX ? "fsdax" : "devdax",
		       a.o.map == ZD_ND_MAP_DEV ? "dev" : "mem", ULL(a.align >> 10),
		       ULL(a.size >> 30), ULL(pages), ULL(bytes >> 20));
	progress_label("bench memremap: memset baseline");
	if (bench_memset((size_t)bytes, a.repeat, &base)) {
		rc = bench_fail(&b, "cannot map %llu bytes for the memset baseline", ULL(bytes));
		goto out;
	}
	progress_label("bench memremap: first bind");
	t = bench_now_ns();
	rc = zd_nd_create_namespace(r, &a.o);
	ns[0] = bench_now_ns() - t;
	if (rc) {
		rc = bench_fail(&b, "create_namespace failed with %s", zd_errno_name(rc));
		goto out;
	}
	ns[1] = (double)zd_nd_namespace_pgmap(r)->memmap_init_ns;
	if (!b.json) {
		progress_clear();
		printf("first bind (cold):\n");
		bench_line("create + bind", ns[0], pages, bytes, &base, false);
		bench_line("memmap init", ns[1], pages, bytes, &base, false);
		bench_line("memset (baseline)", base.cold_ns, pages, bytes, &base, false);
		bench_line("non-temporal stores", base.nt_cold_ns, pages, bytes, &base, false);
		bench_baseline_note(&base, bytes);
	}
	uint64_t resident = zd_vmemmap_resident_bytes(m) - base_res;
	uint64_t rss_used = bench_host_rss() - rss0;
	/* Rebind: the claim goes and comes back, the info block stays. */
	for (int i = 0; i < a.repeat; i++) {
		progress_label("bench memremap: rebind %d/%d", i + 1, a.repeat);
		t = bench_now_ns();
		rc = zd_nd_rebind_namespace(r);
		t = bench_now_ns() - t;
		if (rc) {
			rc = bench_fail(&b, "rebind %d failed with %s", i + 1, zd_errno_name(rc));
			goto out;
		}
		if (!ns[2] || t < ns[2]) {
			ns[2] = t;
			ns[3] = (double)zd_nd_namespace_pgmap(r)->memmap_init_ns;
		}
	}
	/* The same rebinds through the per-page init the template replaced:
	 * the previous version, measured in this run. */
	m->memmap_init_per_page = true;
	for (int i = 0; i < a.repeat; i++) {
		progress_label("bench memremap: per-page rebind %d/%d", i + 1, a.repeat);
		rc = zd_nd_rebind_namespace(r);
		if (rc) {
			rc = bench_fail(&b, "per-page rebind %d failed with %s", i + 1,
					zd_errno_name(rc));
			goto out;
		}
		t = (double)zd_nd_namespace_pgmap(r)->memmap_init_ns;
		if (!ns[4] || t < ns[4])
			ns[4] = t;
	}
	m->memmap_init_per_page = false;
	progress_clear();
	report(&b, &a, r, ns, &base, resident, rss_used);
	rc = EXIT_OK;
out:
	zd_machine_destroy(m);
	unlink(path);
	return rc;
}
