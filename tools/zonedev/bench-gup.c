/*
 * `zonedev bench gup`: the kernel's gup_test (mm/gup_test.c driven by
 * tools/testing/selftests/mm/gup_test.c) over the bench mapping kinds.
 * Each kind's range is mapped and written once per leaf (pre-faulted, as
 * the selftest's buffer is), then for GET, PIN and PIN+FOLL_LONGTERM, in the
 * fast (lockless walk first) and slow (mmap_lock held around the batches,
 * as gup_test takes it) forms, SIZE is taken in calls of --batch pages
 * (nr_pages_per_call) into one array, and every page is given back
 * afterwards: put_page for GET, unpin_user_pages for PIN. The two are
 * timed apart, gup_test's get_delta_usec and put_delta_usec; the best of
 * --repeat runs is reported. The baseline, measured in the same run, is
 * one atomic add per page over an array of that many struct-page-sized
 * counters: the cost floor of taking one reference per page.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "bench-mapping.h"
#include "cli.h"

#define MIB (1ULL << 20)

enum { CMD_GET, CMD_PIN, CMD_PIN_LONGTERM, NR_CMDS };

static const struct {
	const char *name;
	const char *fast, *slow;   /* the library calls, for the report */
} cmds[NR_CMDS] = {
	{ "get", "get_user_pages_fast", "get_user_pages" },
	{ "pin", "pin_user_pages_fast", "pin_user_pages" },
	{ "pin-longterm", "pin_user_pages_fast(FOLL_LONGTERM)", "pin_user_pages(FOLL_LONGTERM)" },
};

/* The kernel's published figures (docs/performance.md cites them). */
static const struct {
	const char *kind, *cmd;
	bool fast;
	double ns;
	const char *what;
} kernel_refs[] = {
	{ "devdax-2m", "pin", true, 1.48, "pin_user_pages_fast, devdax 2M compound folios, "
	  "16 GiB, -n 512 (Joao Martins, compound devmap GUP series, 2021)" },
	{ "thp", "pin-longterm", false, 2.89, "PIN_LONGTERM on THP, 512 MiB, -n 1024 "
	  "(Peter Xu, \"mm/gup: Accelerate thp gup even for pages != NULL\", 2023)" },
	{ "anon-4k", "pin-longterm", false, 62, "PIN_LONGTERM on 4K pages, 8 GiB, -n 512 "
	  "(\"gup: optimize longterm pin_user_pages() for large folio\", v6.15 base)" },
};

struct row {
	double get_ns, put_ns;     /* best of the repeats, whole range */
	int refused;               /* the kernel's refusal (FOLL_LONGTERM on fsdax: -EOPNOTSUPP) */
};

struct kind_result {
	bool run;                  /* asked for */
	int err;                   /* the kind cannot run here: why in note */
	char note[200];
	uint64_t len, pages;
	uint64_t fast_walk_pages;  /* what get_user_pages_fast_only took */
	double base_ns;            /* the atomic baseline over pages */
	struct row rows[NR_CMDS][2];   /* [cmd][fast] */
};

struct args {
	uint64_t size;
	unsigned long batch;
	int repeat;
	uint32_t kinds;
	const char *dir;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench gup [--size SIZE] [--batch N] [--repeat N] [--kind LIST]\n"
		"                         [--dir DIR] [--no-memory-guard] [--quiet] [--json]\n"
		"\n"
		"The kernel's gup_test on the model: map SIZE of each kind and write it once,\n"
		"then take every page with get_user_pages / pin_user_pages / pin_user_pages\n"
		"with FOLL_LONGTERM (all FOLL_WRITE), fast and slow forms, in calls of N pages,\n"
		"and give them back (put_page / unpin_user_pages), the two timed apart.\n"
		"Each result is in ns per 4K page and as a ratio to one atomic add per page\n"
		"over as many struct-page-sized counters, measured in the same run; the\n"
		"kernel's published figures are printed for reference.\n"
		"\n"
		"options:\n"
		"  --size SIZE        bytes per kind, a multiple of 2M; a kind with larger\n"
		"                     folios maps SIZE rounded up to its folio (devdax-1g:\n"
		"                     1G) (K/M/G suffixes; default 1G)\n"
		"  --batch N          pages per call, gup_test's nr_pages_per_call\n"
		"                     (1-1048576, default 512)\n"
		BENCH_MAPPING_OPTIONS_HELP, bench_kind_names());
}

/* 0 to run, -1 after --help, or EXIT_USAGE. */
static int parse_args(struct bench *b, struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' }, { "batch", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' }, { "repeats", required_argument, NULL, 'r' },
		{ "kind", required_argument, NULL, 'k' }, { "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' }, { "no-memory-guard", no_argument, NULL, 'g' },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *size_arg = "1G", *why = NULL;
	uint64_t v;
	int c, rc;

	optind = 1;
	while ((c = bench_getopt(b, argc, argv, opts)) != -1) {
		switch (c) {
		case 's':
			if (bench_opt_size(b, "--size", optarg, &a->size))
				return EXIT_USAGE;
			size_arg = optarg;
			break;
		case 'n':
			if (parse_uint(optarg, &v, &why))
				return bench_bad(b, "--batch", optarg, "%s", why);
			if (v < 1 || v > (1u << 20))
				return bench_bad(b, "--batch", optarg, "must be 1 to 1048576");
			a->batch = (unsigned long)v;
			break;
		case 'k':
			a->kinds = bench_parse_kinds(b, optarg, &rc);
			if (rc)
				return rc;
			break;
		case 'h': usage(stdout); return -1;
		default:
			if (bench_common_opt(b, c, optarg, &a->repeat, &a->dir))
				return EXIT_USAGE;
		}
	}
	return bench_no_operands(b, argc, argv) ?: bench_mapping_args(b, a->size, size_arg, a->dir);
}

/* One atomic add per page on struct-page-sized counters: what taking a
 * reference on each page costs at the least, here. */
static double atomic_baseline(uint64_t pages, int repeat)
{
	struct counter { long ref; char pad[56]; } *c = calloc(pages, sizeof(*c));
	double best = 0;

	if (!c)
		return -1;
	for (int r = 0; r < repeat + 1; r++) {
		double t = bench_now_ns();

		for (uint64_t i = 0; i < pages; i++)
			__atomic_add_fetch(&c[i].ref, 1, __ATOMIC_RELAXED);
		t = bench_now_ns() - t;
		/* the first run faults the array in */
		if (r && (!best || t < best))
			best = t;
	}
	free(c);
	return best;
}

static long gup_call(struct zd_mm *mm, int cmd, bool fast, uint64_t start, unsigned long n,
		     struct zd_page **pages)
{
	unsigned flags = ZD_FOLL_WRITE | (cmd == CMD_PIN_LONGTERM ? ZD_FOLL_LONGTERM : 0);

	if (cmd == CMD_GET)
		return fast ? zd_get_user_pages_fast(mm, start, n, flags, pages)
			    : zd_get_user_pages(mm, start, n, flags, pages);
	return fast ? zd_pin_user_pages_fast(mm, start, n, flags, pages)
		    : zd_pin_user_pages(mm, start, n, flags, pages);
}

static void put_back(struct zd_machine *m, int cmd, struct zd_page **pages, uint64_t n)
{
	if (cmd == CMD_GET)
		for (uint64_t i = 0; i < n; i++)
			zd_put_page(m, pages[i]);
	else
		zd_unpin_user_pages(m, pages, n);
}

/* __gup_test_ioctl(): the batches into one array, then the put; 0 or the
 * failing call's -errno (what it took is given back first). */
static int gup_run(struct bench_mm *bm, int cmd, bool fast, uint64_t addr, uint64_t npages,
		   unsigned long batch, struct zd_page **pages, struct row *best)
{
	uint64_t done = 0;
	long got = 0;
	double t0, t1, t2;

	t0 = bench_now_ns();
	if (!fast)
		zd_mmap_read_lock(bm->mm);
	while (done < npages) {
		unsigned long n = npages - done < batch ? (unsigned long)(npages - done) : batch;

		got = gup_call(bm->mm, cmd, fast, addr + done * 4096, n, pages + done);
		if (got <= 0)
			break;
		done += (uint64_t)got;
	}
	if (!fast)
		zd_mmap_read_unlock(bm->mm);
	t1 = bench_now_ns();
	put_back(bm->m, cmd, pages, done);
	t2 = bench_now_ns();
	if (done < npages)
		return got < 0 ? (int)got : -EFAULT;
	if (!best->get_ns || t1 - t0 < best->get_ns)
		best->get_ns = t1 - t0;
	if (!best->put_ns || t2 - t1 < best->put_ns)
		best->put_ns = t2 - t1;
	return 0;
}

/* One kind: map, pre-fault, the fast walk's reach, the six rows, unmap. */
static int run_kind(struct bench *b, struct bench_mm *bm, const struct args *a,
		    const struct bench_kind *k, struct kind_result *res, struct zd_page **pages)
{
	int64_t addr;
	int rc;

	res->err = k->probe(bm, res->note, sizeof(res->note));
	if (res->err)
		return 0;
	res->len = bench_kind_len(k, a->size);
	res->pages = res->len >> 12;
	progress_label("bench gup: %s: map and pre-fault", k->name);
	addr = k->map(bm, res->len);
	if (addr < 0)
		return bench_fail(b, "%s: mmap of %llu bytes failed with %s", k->name,
				  ULL(res->len), zd_errno_name((int)addr));
	/* one write per leaf maps it: a byte per 4K page of devdax would make
	 * the host allocate the whole region file */
	rc = bench_mm_touch(bm, (uint64_t)addr, res->len, k->leaf);
	if (rc) {
		zd_vm_munmap(bm->mm, (uint64_t)addr, res->len);
		return bench_fail(b, "%s: pre-faulting failed with %s", k->name, zd_errno_name(rc));
	}
	/* How far the lockless walk gets on its own: the fast rows are a
	 * fast-path figure only if it takes everything. */
	long fo = zd_get_user_pages_fast_only(bm->mm, (uint64_t)addr, res->pages, ZD_FOLL_WRITE,
					      pages);
	res->fast_walk_pages = fo > 0 ? (uint64_t)fo : 0;
	put_back(bm->m, CMD_GET, pages, res->fast_walk_pages);
	progress_label("bench gup: %s: baseline", k->name);
	res->base_ns = atomic_baseline(res->pages, a->repeat);
	if (res->base_ns < 0) {
		zd_vm_munmap(bm->mm, (uint64_t)addr, res->len);
		return bench_fail(b, "cannot allocate the baseline's %llu counters", ULL(res->pages));
	}
	for (int c = 0; c < NR_CMDS; c++)
		for (int fast = 1; fast >= 0; fast--)
			for (int r = 0; r < a->repeat; r++) {
				progress_label("bench gup: %s %s %s %d/%d", k->name, cmds[c].name,
					       fast ? "fast" : "slow", r + 1, a->repeat);
				rc = gup_run(bm, c, fast, (uint64_t)addr, res->pages, a->batch,
					     pages, &res->rows[c][fast]);
				if (rc == -EOPNOTSUPP && c == CMD_PIN_LONGTERM) {
					res->rows[c][fast].refused = rc;   /* vma_is_fsdax() */
					break;
				}
				if (rc) {
					zd_vm_munmap(bm->mm, (uint64_t)addr, res->len);
					return bench_fail(b, "%s: %s failed with %s", k->name,
							  fast ? cmds[c].fast : cmds[c].slow,
							  zd_errno_name(rc));
				}
			}
	zd_vm_munmap(bm->mm, (uint64_t)addr, res->len);
	return 0;
}

static const struct kind_result *find_result(const struct kind_result *res, const char *kind)
{
	for (size_t i = 0; i < bench_nr_kinds; i++)
		if (!strcmp(bench_kinds[i].name, kind))
			return res[i].run && !res[i].err ? &res[i] : NULL;
	return NULL;
}

static int cmd_index(const char *name)
{
	for (int c = 0; c < NR_CMDS; c++)
		if (!strcmp(cmds[c].name, name))
			return c;
	return 0;
}

static void gup_report_json(const struct bench *b, const struct args *a,
			const struct kind_result *res)
{
	struct jw w;

	bench_json_begin(&w, b);
	jw_ku64(&w, "size", a->size);
	jw_ku64(&w, "batch", a->batch);
	jw_ku64(&w, "repeat", (uint64_t)a->repeat);
	jw_kstr(&w, "gup_flags", "FOLL_WRITE");
	jw_kstr(&w, "put", "timed apart from the get, after all batches (gup_test's put_delta_usec)");
	jw_kstr(&w, "baseline", "one atomic add per page over as many 64-byte counters");
	jw_key(&w, "kinds");
	jw_arr_begin(&w);
	for (size_t i = 0; i < bench_nr_kinds; i++) {
		const struct kind_result *r = &res[i];

		if (!r->run)
			continue;
		jw_obj_begin(&w);
		jw_kstr(&w, "kind", bench_kinds[i].name);
		jw_kbool(&w, "available", !r->err);
		if (r->err) {
			jw_kstr(&w, "note", r->note);
			jw_obj_end(&w);
			continue;
		}
		jw_ku64(&w, "size", r->len);
		jw_ku64(&w, "pages", r->pages);
		jw_ku64(&w, "fast_walk_pages", r->fast_walk_pages);
		jw_kdouble(&w, "baseline_ns_per_page", r->base_ns / (double)r->pages);
		jw_key(&w, "rows");
		jw_arr_begin(&w);
		for (int c = 0; c < NR_CMDS; c++)
			for (int fast = 1; fast >= 0; fast--) {
				const struct row *row = &r->rows[c][fast];

				jw_obj_begin(&w);
				jw_kstr(&w, "command", cmds[c].name);
				jw_kstr(&w, "form", fast ? "fast" : "slow");
				jw_kstr(&w, "call", fast ? cmds[c].fast : cmds[c].slow);
				if (row->refused) {
					jw_kstr(&w, "refused", zd_errno_name(row->refused));
					jw_obj_end(&w);
					continue;
				}
				jw_kdouble(&w, "get_ms", row->get_ns / 1e6);
				jw_kdouble(&w, "get_ns_per_page", row->get_ns / (double)r->pages);
				jw_kdouble(&w, "get_ratio_to_baseline", row->get_ns / r->base_ns);
				jw_kdouble(&w, "put_ms", row->put_ns / 1e6);
				jw_kdouble(&w, "put_ns_per_page", row->put_ns / (double)r->pages);
				jw_kdouble(&w, "put_ratio_to_baseline", row->put_ns / r->base_ns);
				jw_obj_end(&w);
			}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "kernel_reference");
	jw_arr_begin(&w);
	for (size_t i = 0; i < sizeof(kernel_refs) / sizeof(kernel_refs[0]); i++) {
		const struct kind_result *r = find_result(res, kernel_refs[i].kind);

		jw_obj_begin(&w);
		jw_kstr(&w, "kind", kernel_refs[i].kind);
		jw_kstr(&w, "command", kernel_refs[i].cmd);
		jw_kstr(&w, "form", kernel_refs[i].fast ? "fast" : "slow");
		jw_kdouble(&w, "kernel_ns_per_page", kernel_refs[i].ns);
		jw_kstr(&w, "source", kernel_refs[i].what);
		jw_key(&w, "zonedev_ns_per_page");
		if (r)
			jw_double(&w, r->rows[cmd_index(kernel_refs[i].cmd)][kernel_refs[i].fast].get_ns /
				      (double)r->pages);
		else
			jw_null(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	bench_json_end(&w);
}

static void gup_report_kind(const struct bench_kind *k, const struct kind_result *r)
{
	char s1[32];

	progress_clear();
	if (r->err) {
		printf("%s: skipped: %s\n", k->name, r->note);
		fflush(stdout);
		return;
	}
	printf("%s: %s, %s, %llu pages; baseline %.2f ns/page\n", k->name, k->what,
	       fmt_size_human(r->len, s1, sizeof(s1)), ULL(r->pages), r->base_ns / (double)r->pages);
	if (r->fast_walk_pages < r->pages)
		printf("  note: the lockless walk took %llu of %llu pages, the fast rows include "
		       "the slow path for the rest\n", ULL(r->fast_walk_pages), ULL(r->pages));
	printf("  %-13s %-5s %12s %8s %12s %8s\n", "command", "form", "get ns/page", "x base",
	       "put ns/page", "x base");
	for (int c = 0; c < NR_CMDS; c++)
		for (int fast = 1; fast >= 0; fast--) {
			const struct row *row = &r->rows[c][fast];

			if (row->refused) {
				printf("  %-13s %-5s refused with %s, as the kernel refuses it\n",
				       cmds[c].name, fast ? "fast" : "slow", zd_errno_name(row->refused));
				continue;
			}
			printf("  %-13s %-5s %12.2f %7.2fx %12.2f %7.2fx\n", cmds[c].name,
			       fast ? "fast" : "slow", row->get_ns / (double)r->pages,
			       row->get_ns / r->base_ns, row->put_ns / (double)r->pages,
			       row->put_ns / r->base_ns);
		}
	fflush(stdout);
}

static void gup_report_kernel(const struct kind_result *res)
{
	printf("kernel's published figures (gup_test get times, per 4K page):\n");
	for (size_t i = 0; i < sizeof(kernel_refs) / sizeof(kernel_refs[0]); i++) {
		const struct kind_result *r = find_result(res, kernel_refs[i].kind);

		printf("  %-9s %-12s %-4s %6.2f ns/page: %s\n", kernel_refs[i].kind,
		       kernel_refs[i].cmd, kernel_refs[i].fast ? "fast" : "slow", kernel_refs[i].ns,
		       kernel_refs[i].what);
		if (r) {
			double ns = r->rows[cmd_index(kernel_refs[i].cmd)][kernel_refs[i].fast].get_ns /
				    (double)r->pages;
			printf("  %33s %6.2f ns/page here, %.2fx the kernel's\n", "zonedev:", ns,
			       ns / kernel_refs[i].ns);
		} else {
			printf("  %33s not measured in this run\n", "zonedev:");
		}
	}
}

int bench_gup(int argc, char **argv)
{
	struct bench b = { .name = "gup" };
	struct args a = { .size = 1ULL << 30, .batch = 512, .repeat = 3,
			  .kinds = (1u << bench_nr_kinds) - 1, .dir = "/dev/shm" };
	struct kind_result res[8] = { 0 };
	struct bench_mm bm;
	uint64_t maxpages;
	char what[96], s1[32];
	int rc = parse_args(&b, &a, argc, argv);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	maxpages = 0;
	for (size_t i = 0; i < bench_nr_kinds; i++)
		if (a.kinds & (1u << i)) {
			uint64_t p = bench_kind_len(&bench_kinds[i], a.size) >> 12;

			maxpages = p > maxpages ? p : maxpages;
		}
	/* the pages array and the baseline's counters, and the mappings */
	snprintf(what, sizeof(what), "GUP over %s per kind",
		 fmt_size_human(a.size, s1, sizeof(s1)));
	if (bench_guard(&b, maxpages * (8 + 64) + bench_mm_host_bytes(a.size, a.kinds), what,
			"a smaller --size"))
		return EXIT_FAIL;
	struct zd_page **pages = calloc(maxpages, sizeof(*pages));
	if (!pages)
		return bench_fail(&b, "cannot allocate a %llu-page array", ULL(maxpages));
	progress_init(b.quiet);
	progress_label("bench gup: boot");
	rc = bench_mm_create(&b, &bm, a.size, a.kinds, a.dir);
	if (rc)
		goto out;
	if (!b.json)
		printf("bench gup: --size %s --batch %lu, FOLL_WRITE, best of %d; get and put "
		       "timed apart (put: put_page / unpin_user_pages after all batches, as "
		       "gup_test); ratios to one atomic add per page\n",
		       fmt_size_human(a.size, s1, sizeof(s1)), a.batch, a.repeat);
	for (size_t i = 0; i < bench_nr_kinds; i++) {
		if (!(a.kinds & (1u << i)))
			continue;
		res[i].run = true;
		rc = run_kind(&b, &bm, &a, &bench_kinds[i], &res[i], pages);
		if (rc)
			goto out;
		if (!b.json)
			gup_report_kind(&bench_kinds[i], &res[i]);
	}
	progress_clear();
	if (b.json)
		gup_report_json(&b, &a, res);
	else
		gup_report_kernel(res);
	rc = EXIT_OK;
out:
	progress_clear();
	bench_mm_destroy(&bm);
	free(pages);
	return rc;
}
