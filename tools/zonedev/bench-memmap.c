/*
 * `zonedev bench memmap`: the cost of populating the vmemmap for a
 * hot-added range and initialising its struct pages, cold (first touch of
 * fresh host memory) and warm (re-initialising resident memmap), against a
 * memset of the same number of bytes into fresh and into resident memory,
 * all measured in this run. The range must be whole sections (RAM is
 * hot-added per section) inside the arch's physical address space; nothing
 * is rounded for the user.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench memmap [--size SIZE] [--arch ARCH] [--repeat N]\n"
		"                            [--no-memory-guard] [--quiet] [--json]\n"
		"\n"
		"Populate the vmemmap for a hot-added range of SIZE and initialise its\n"
		"struct pages: cold (fresh host memory) and warm (again, resident). Compares\n"
		"with memset and non-temporal stores of the same bytes and with the per-page\n"
		"init the template replaced, all in the same run.\n"
		"\n"
		"options:\n"
		"  --size SIZE        range to hot-add, whole memory sections of ARCH\n"
		"                     (K/M/G/T/P suffixes; default 64G)\n"
		"  --arch ARCH        architecture profile (default x86_64): %s\n"
		"  --repeat N         warm repetitions, the best is reported (1-1000000,\n"
		"                     default 3)\n"
		"  --no-memory-guard  run even when the memmap needs more host memory than\n"
		"                     is available (default: refuse, saying how much)\n"
		"  -q, --quiet        no progress line (it shows only on a terminal, after a\n"
		"                     second)\n"
		"  --json             one JSON document on stdout (also when the run fails)\n"
		"  -h, --help         show this help\n"
		"\n"
		"exit status: 0 ok, 1 the benchmark failed, 2 usage error\n", fmt_arch_names());
}

int bench_memmap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' }, { "arch", required_argument, NULL, 'a' },
		{ "repeat", required_argument, NULL, 'r' }, { "json", no_argument, NULL, 'j' },
		{ "no-memory-guard", no_argument, NULL, 'g' }, { "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	struct bench b = { .name = "memmap" };
	uint64_t size = 64ULL << 30;
	const char *arch_name = "x86_64", *size_arg = "64G";
	int repeat = 3, c;

	optind = 1;
	while ((c = bench_getopt(&b, argc, argv, opts)) != -1) {
		switch (c) {
		case 's':
			if (bench_opt_size(&b, "--size", optarg, &size))
				return EXIT_USAGE;
			size_arg = optarg;
			break;
		case 'a': arch_name = optarg; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			if (bench_common_opt(&b, c, optarg, &repeat, NULL))
				return EXIT_USAGE;
		}
	}
	if (bench_no_operands(&b, argc, argv))
		return EXIT_USAGE;
	const struct zd_arch *a = zd_arch_find(arch_name);
	char s1[32];

	if (!a)
		return bench_bad(&b, "--arch", arch_name, "unknown architecture (one of %s)",
				 fmt_arch_names());
	uint64_t section = 1ULL << a->section_size_bits;
	if (size & (section - 1))
		return bench_bad(&b, "--size", size_arg, "not a whole number of %s memory sections "
				 "(%s each)", a->name, fmt_size(section, s1, sizeof(s1)));
	/* The memmap of the hot-added range comes out of boot RAM (1/64 of
	 * the range with 4 KiB pages): boot enough for it, and 1 GiB more,
	 * and put the range on a section boundary above boot RAM. */
	uint64_t gib = 1ULL << 30, limit = 1ULL << a->max_physmem_bits;
	uint64_t boot = size / 32 > limit ? limit : bench_align(gib + size / 32, gib);
	uint64_t start = bench_align(boot > 4 * gib ? boot : 4 * gib, section);
	if (size > limit || start > limit - size)
		return bench_bad(&b, "--size", size_arg, "with the boot RAM that holds its memmap, "
				 "the range does not fit %s's %u-bit physical address space", a->name,
				 a->max_physmem_bits);
	uint64_t pages = size >> a->page_shift, bytes = pages * sizeof(struct zd_page);
	uint64_t boot_bytes = (boot >> a->page_shift) * sizeof(struct zd_page);
	char what[96];

	/* Boot's memmap stays; the memset baseline is gone again before the
	 * range's memmap is populated, so one of the two at a time. The
	 * library does not check this memmap: the bench initialises it
	 * itself instead of onlining blocks. */
	snprintf(what, sizeof(what), "the memmap of %s (and its memset baseline before it)",
		 fmt_size_human(size, s1, sizeof(s1)));
	if (bench_guard(&b, bytes + boot_bytes, what, "a smaller --size"))
		return EXIT_FAIL;

	struct zd_mem_range ram[] = { { .start = 0, .size = boot } };
	struct zd_machine_desc d = { .arch = a->name, .ram = ram, .nr_ram = 1,
				     .host_memory_unguarded = b.no_guard,
				     .progress = progress_update };

	progress_init(b.quiet);
	progress_label("bench memmap: boot");
	struct zd_machine *m = zd_machine_create(&d);
	if (ZD_IS_ERR(m))
		return bench_fail(&b, "%s", zd_machine_create_error());
	b.m = m;
	uint64_t pfn = zd_phys_pfn(&m->arch, start);
	struct zd_mhp_params params = { .pgprot = 1 };
	struct zd_zone *zone = &m->node_data[0]->node_zones[ZD_ZONE_NORMAL];
	struct memset_base base;
	double t, populate_ns, cold_ns = 0, warm_ns = 0, per_page_ns = 0;
	int rc;

	if (bench_memset((size_t)bytes, repeat, &base)) {
		rc = bench_fail(&b, "cannot map %llu bytes for the memset baseline", ULL(bytes));
		zd_machine_destroy(m);
		return rc;
	}
	zd_mem_hotplug_begin(m);
	progress_label("bench memmap: populate");
	t = bench_now_ns();
	rc = zd___add_pages(m, 0, pfn, pages, &params);
	populate_ns = bench_now_ns() - t;
	if (!rc) {
		progress_label("bench memmap: cold init");
		t = bench_now_ns();
		zd_move_pfn_range_to_zone(m, zone, pfn, pages, NULL, ZD_MIGRATE_MOVABLE);
		cold_ns = bench_now_ns() - t;
		/* warm, then through the per-page init the template replaced,
		 * in the same run */
		for (int per_page = 0; per_page < 2; per_page++) {
			double *best = per_page ? &per_page_ns : &warm_ns;

			m->memmap_init_per_page = per_page;
			for (int i = 0; i < repeat; i++) {
				progress_label("bench memmap: %s init %d/%d", per_page ? "per-page" : "warm",
					       i + 1, repeat);
				t = bench_now_ns();
				zd_move_pfn_range_to_zone(m, zone, pfn, pages, NULL, ZD_MIGRATE_MOVABLE);
				t = bench_now_ns() - t;
				if (!*best || t < *best)
					*best = t;
			}
		}
		m->memmap_init_per_page = false;
	}
	zd_mem_hotplug_done(m);
	progress_clear();
	if (rc) {
		rc = bench_fail(&b, "adding %llu bytes failed with %s", ULL(size), zd_errno_name(rc));
		zd_machine_destroy(m);
		return rc;
	}
	uint64_t resident = zd_vmemmap_resident_bytes(m);
	uint64_t mapped = (uint64_t)m->vmemmap_mapped_bytes;

	if (b.json) {
		struct jw w;

		bench_json_begin(&w, &b);
		jw_kstr(&w, "arch", m->arch.name);
		jw_ku64(&w, "size", size);
		jw_ku64(&w, "pages", pages);
		jw_ku64(&w, "memmap_bytes", bytes);
		bench_json_phase(&w, "populate", populate_ns, pages, bytes, &base, false);
		bench_json_phase(&w, "cold_init", cold_ns, pages, bytes, &base, false);
		bench_json_phase(&w, "cold_total", populate_ns + cold_ns, pages, bytes, &base, false);
		bench_json_phase(&w, "warm_init", warm_ns, pages, bytes, &base, true);
		bench_json_phase(&w, "warm_init_per_page", per_page_ns, pages, bytes, &base, true);
		bench_json_phase(&w, "memset_cold", base.cold_ns, pages, bytes, &base, false);
		bench_json_phase(&w, "ntstore_cold", base.nt_cold_ns, pages, bytes, &base, false);
		bench_json_phase(&w, "memset_warm", base.warm_ns, pages, bytes, &base, true);
		bench_json_phase(&w, "ntstore_warm", base.nt_warm_ns, pages, bytes, &base, true);
		jw_ku64(&w, "baseline_sample_bytes", base.sample_bytes);
		jw_ku64(&w, "peak_rss_bytes", bench_peak_rss());
		jw_ku64(&w, "vmemmap_mapped_bytes", mapped);
		jw_ku64(&w, "vmemmap_resident_bytes", resident);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		printf("bench memmap: %s, %llu MiB range, %llu pages, %llu MiB of struct page\n",
		       m->arch.name, ULL(size >> 20), ULL(pages), ULL(bytes >> 20));
		printf("cold (fresh host memory):\n");
		bench_line("populate (mmap)", populate_ns, pages, bytes, &base, false);
		bench_line("init (first touch)", cold_ns, pages, bytes, &base, false);
		bench_line("populate + init", populate_ns + cold_ns, pages, bytes, &base, false);
		bench_line("memset (baseline)", base.cold_ns, pages, bytes, &base, false);
		bench_line("non-temporal stores", base.nt_cold_ns, pages, bytes, &base, false);
		printf("warm (memmap resident, best of %d):\n", repeat);
		bench_line("init", warm_ns, pages, bytes, &base, true);
		bench_line("init per page (old)", per_page_ns, pages, bytes, &base, true);
		bench_line("memset (baseline)", base.warm_ns, pages, bytes, &base, true);
		bench_line("non-temporal stores", base.nt_warm_ns, pages, bytes, &base, true);
		bench_baseline_note(&base, bytes);
		printf("memmap host memory: %llu MiB mapped, %llu MiB resident (measured with mincore)\n",
		       ULL(mapped >> 20), ULL(resident >> 20));
	}
	zd_machine_destroy(m);
	return EXIT_OK;
}
