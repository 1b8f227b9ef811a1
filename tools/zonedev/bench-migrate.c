/*
 * `zonedev bench migrate`: hmm-tests' benchmark_thp_migration on the
 * model. For each size and for a THP buffer (MADV_HUGEPAGE, THP policy
 * "always") and a 4K one (MADV_NOHUGEPAGE), a PMD-aligned anonymous buffer
 * is written whole through the CPU model, moved to gpu0 and back once (the
 * warm-up, timed apart as "first"), then --repeat timed round trips of
 * zd_dmirror_migrate_to_dev + zd_dmirror_migrate_to_sys follow; the mean
 * is reported, as the selftest's. Both device-private designs run side by
 * side, interleaved per buffer. The limit, measured in the same run, is a
 * host memcpy of the same bytes between two resident buffers: a move
 * copies every byte once, so it cannot be faster.
 * What a THP row measures is counted, not assumed: the buffer's PMD
 * leaves before the warm-up, at the start of the timed rounds and while on
 * the device. Without device THP (MIGRATE_PFN_COMPOUND) the first move
 * splits the THP and every later one moves 4K pages; the counts say so,
 * and change by themselves when the library moves compound folios.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "bench-dmirror.h"
#include "cli.h"

#define MIB (1ULL << 20)
#define MAX_SIZES 16
#define MAX_SIZE (1ULL << 30)
#define DEFAULT_SIZES "512K,1M,2M,4M,8M,16M,256M"

enum { KIND_THP, KIND_4K, NR_KINDS };
static const char *const kind_names[NR_KINDS] = { "thp", "4k" };

struct args {
	uint64_t sizes[MAX_SIZES];
	int nr_sizes, repeat;
	uint32_t kinds, designs;
};

struct dir_time { double first, mean, best; };   /* ns */

struct result {
	struct dir_time to_dev, to_sys;
	uint64_t pmd_written, pmd_timed, pmd_on_device;
};

struct size_result {
	double memcpy_mean, memcpy_best;   /* ns */
	struct result r[NR_KINDS][BENCH_NR_DESIGNS];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench migrate [--sizes LIST] [--repeat N] [--kind LIST]\n"
		"                             [--design LIST] [--no-memory-guard] [--quiet] [--json]\n"
		"\n"
		"hmm-tests' benchmark_thp_migration on the model: per size, a THP buffer\n"
		"(MADV_HUGEPAGE) and a 4K one (MADV_NOHUGEPAGE) are written, moved to a\n"
		"dmirror GPU and back once (warm-up), then N timed round trips of\n"
		"migrate-to-device and migrate-to-system follow (the mean is reported), under\n"
		"both device-private designs side by side. Each direction is in GB/s and as a\n"
		"ratio to a host memcpy of the same bytes in the same run (the limit); THP\n"
		"against 4K and dpa against pfn as ratios. The buffer's PMD leaves are\n"
		"counted before, during and on the device, so a THP row says what it moved.\n"
		"\n"
		"options:\n"
		"  --sizes LIST       buffer sizes, comma separated, each a multiple of 4K and\n"
		"                     at most 1G (also --size; default " DEFAULT_SIZES ",\n"
		"                     the selftest's PMD/4 to 128 x PMD)\n"
		"  --repeat N         timed round trips after the warm-up (also --repeats;\n"
		"                     1-1000000, default 5)\n"
		"  --kind LIST        thp, 4k or both (default thp,4k)\n"
		"  --design LIST      device-private designs: pfn, dpa or both (default pfn,dpa)\n"
		"  --no-memory-guard  run even when the bench needs more host memory than is\n"
		"                     available (default: refuse, saying how much)\n"
		"  -q, --quiet        no progress line\n"
		"  -j, --json         one JSON document on stdout (also when the run fails)\n"
		"  -h, --help         show this help\n"
		"\n"
		"exit status: 0 ok, 1 the benchmark failed, 2 usage error\n");
}

static int parse_sizes(struct bench *b, struct args *a, const char *list)
{
	const char *p = list;
	char one[32];

	a->nr_sizes = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		uint64_t v;

		if (a->nr_sizes == MAX_SIZES)
			return bench_bad(b, "--sizes", list, "more than %d sizes", MAX_SIZES);
		if (!len || len >= sizeof(one))
			return bench_bad(b, "--sizes", list, "an empty or overlong size");
		memcpy(one, p, len);
		one[len] = 0;
		if (bench_opt_size(b, "--sizes", one, &v))
			return EXIT_USAGE;
		if (v & 4095)
			return bench_bad(b, "--sizes", one, "not a multiple of 4K");
		if (v > MAX_SIZE)
			return bench_bad(b, "--sizes", one, "more than 1G");
		a->sizes[a->nr_sizes++] = v;
		p += len + (p[len] == ',');
	}
	if (!a->nr_sizes)
		return bench_bad(b, "--sizes", list, "names no size");
	return 0;
}

static int parse_kinds(struct bench *b, struct args *a, const char *list)
{
	const char *p = list;

	a->kinds = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		int i;

		for (i = 0; i < NR_KINDS; i++)
			if (strlen(kind_names[i]) == len && !strncmp(p, kind_names[i], len))
				break;
		if (i == NR_KINDS)
			return bench_bad(b, "--kind", list, "'%.*s' is not one of thp, 4k",
					 (int)len, p);
		a->kinds |= 1u << i;
		p += len + (p[len] == ',');
	}
	if (!a->kinds)
		return bench_bad(b, "--kind", list, "names no kind (thp, 4k or both)");
	return 0;
}

/* 0 to run, -1 after --help, or EXIT_USAGE. */
static int parse_args(struct bench *b, struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' }, { "size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' }, { "repeats", required_argument, NULL, 'r' },
		{ "kind", required_argument, NULL, 'k' }, { "design", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' }, { "no-memory-guard", no_argument, NULL, 'g' },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	int c, rc;

	if (parse_sizes(b, a, DEFAULT_SIZES))
		return EXIT_USAGE;
	optind = 1;
	while ((c = bench_getopt(b, argc, argv, opts)) != -1) {
		switch (c) {
		case 's':
			if (parse_sizes(b, a, optarg))
				return EXIT_USAGE;
			break;
		case 'k':
			if (parse_kinds(b, a, optarg))
				return EXIT_USAGE;
			break;
		case 'D':
			a->designs = bench_parse_designs(b, optarg, &rc);
			if (rc)
				return rc;
			break;
		case 'h': usage(stdout); return -1;
		default:
			if (bench_common_opt(b, c, optarg, &a->repeat, NULL))
				return EXIT_USAGE;
		}
	}
	return bench_no_operands(b, argc, argv);
}

/* memcpy of n bytes between two resident host buffers: a warm-up, then
 * repeat timed copies. -ENOMEM if the buffers cannot be had. */
static int memcpy_baseline(uint64_t n, int repeat, double *mean, double *best)
{
	char *src = malloc(n), *dst = malloc(n);
	double sum = 0;

	if (!src || !dst) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	/* never zero: an all-zero line is stored faster than any other here */
	memset(src, 0x5a, n);
	memset(dst, 0xa5, n);
	*best = 0;
	for (int i = 0; i <= repeat; i++) {
		double t = bench_now_ns();

		memcpy(dst, src, n);
		t = bench_now_ns() - t;
		src[i % n] ^= dst[(i * 4096) % n];   /* keep the copy from being elided */
		if (!i)
			continue;
		sum += t;
		if (!*best || t < *best)
			*best = t;
	}
	*mean = sum / repeat;
	free(src);
	free(dst);
	return 0;
}

static void account(struct dir_time *d, double t, int i, int repeat)
{
	d->mean += t / repeat;
	if (!i || t < d->best)
		d->best = t;
}

/* One direction; the call's -errno, or 0. */
static int move(struct bench *b, struct bench_gpu *g, int design, bool to_dev, uint64_t addr,
		uint64_t len, double *ns)
{
	uint64_t npages = len >> g->m->arch.page_shift, cpages = 0;
	struct zd_dmirror_stats st;
	double t = bench_now_ns();
	int rc = (to_dev ? zd_dmirror_migrate_to_dev : zd_dmirror_migrate_to_sys)(
		g->gpu[0], g->mm, addr, npages, &cpages);

	*ns = bench_now_ns() - t;
	b->m = g->m;
	if (rc)
		return bench_fail(b, "%s: %s of %llu pages failed with %s", bench_design_names[design],
				  to_dev ? "migrate_to_dev" : "migrate_to_sys", ULL(npages),
				  zd_errno_name(rc));
	/* what is still on the device after the move back: nothing */
	zd_dmirror_get_stats(g->gpu[0], &st);
	if (!to_dev && st.calloc != st.cfree)
		return bench_fail(b, "%s: migrate_to_sys left %llu device pages in use",
				  bench_design_names[design], ULL(st.calloc - st.cfree));
	return 0;
}

static int run_one(struct bench *b, struct bench_gpu *g, int design, int kind, uint64_t len,
		   int repeat, unsigned seed, struct result *r)
{
	bool thp = kind == KIND_THP;
	int64_t a = bench_gpu_buffer(g, len, thp, seed);
	double t;
	int rc;

	memset(r, 0, sizeof(*r));
	b->m = g->m;
	if (a < 0)
		return bench_fail(b, "%s: writing a %llu-byte %s buffer failed with %s",
				  bench_design_names[design], ULL(len), kind_names[kind],
				  zd_errno_name((int)a));
	r->pmd_written = bench_gpu_pmd_leaves(g, (uint64_t)a, len);
	rc = move(b, g, design, true, (uint64_t)a, len, &r->to_dev.first) ?:
	     move(b, g, design, false, (uint64_t)a, len, &r->to_sys.first);
	if (rc)
		goto out;
	r->pmd_timed = bench_gpu_pmd_leaves(g, (uint64_t)a, len);
	for (int i = 0; i < repeat; i++) {
		progress_label("bench migrate: %s %s %llu KiB %d/%d", bench_design_names[design],
			       kind_names[kind], ULL(len >> 10), i + 1, repeat);
		if ((rc = move(b, g, design, true, (uint64_t)a, len, &t)))
			goto out;
		account(&r->to_dev, t, i, repeat);
		if (i == repeat - 1)
			r->pmd_on_device = bench_gpu_pmd_leaves(g, (uint64_t)a, len);
		if ((rc = move(b, g, design, false, (uint64_t)a, len, &t)))
			goto out;
		account(&r->to_sys, t, i, repeat);
	}
	rc = bench_gpu_check(g, (uint64_t)a, len, seed);
	if (rc)
		rc = bench_fail(b, "%s: the %s buffer of %llu bytes %s after %d round trips",
				bench_design_names[design], kind_names[kind], ULL(len),
				rc > 0 ? "does not hold its bytes" : "cannot be read back",
				repeat + 1);
out:
	zd_vm_munmap(g->mm, (uint64_t)a, len);
	return rc;
}

static void size_name(uint64_t len, uint64_t pmd, char *buf, size_t n)
{
	char s[32];

	fmt_size_human(len, s, sizeof(s));
	if (len % pmd == 0)
		snprintf(buf, n, "%s (%llu x PMD)", s, ULL(len / pmd));
	else if (pmd % len == 0)
		snprintf(buf, n, "%s (PMD/%llu)", s, ULL(pmd / len));
	else
		snprintf(buf, n, "%s", s);
}

static void migrate_report_text(const struct args *a, uint64_t len, uint64_t pmd,
			const struct size_result *s)
{
	char name[64];

	size_name(len, pmd, name, sizeof(name));
	progress_clear();
	printf("%s: memcpy %.3f ms, %.2f GB/s\n", name, s->memcpy_mean / 1e6,
	       (double)len / s->memcpy_mean);
	printf("  %-4s %-4s %10s %7s %8s %10s %7s %8s %12s %16s\n", "kind", "dsgn", "to-dev ms",
	       "GB/s", "x memcpy", "to-sys ms", "GB/s", "x memcpy", "first dev/sys",
	       "PMDs wr/tm/dev");
	for (int k = 0; k < NR_KINDS; k++)
		for (int d = 0; d < BENCH_NR_DESIGNS; d++) {
			const struct result *r = &s->r[k][d];

			if (!(a->kinds & (1u << k)) || !(a->designs & (1u << d)))
				continue;
			printf("  %-4s %-4s %10.3f %7.2f %7.2fx %10.3f %7.2f %7.2fx %6.2f/%-5.2f "
			       "%5llu/%llu/%llu of %llu\n", kind_names[k], bench_design_names[d],
			       r->to_dev.mean / 1e6, (double)len / r->to_dev.mean,
			       r->to_dev.mean / s->memcpy_mean, r->to_sys.mean / 1e6,
			       (double)len / r->to_sys.mean, r->to_sys.mean / s->memcpy_mean,
			       r->to_dev.first / 1e6, r->to_sys.first / 1e6, ULL(r->pmd_written),
			       ULL(r->pmd_timed), ULL(r->pmd_on_device), ULL(len / pmd));
		}
	if (a->kinds == (1u << NR_KINDS) - 1)
		for (int d = 0; d < BENCH_NR_DESIGNS; d++) {
			const struct result *t = &s->r[KIND_THP][d], *f = &s->r[KIND_4K][d];

			if (a->designs & (1u << d))
				printf("  %s: THP/4K throughput: to-dev %.2fx, to-sys %.2fx; first "
				       "to-dev %.2fx\n", bench_design_names[d],
				       f->to_dev.mean / t->to_dev.mean, f->to_sys.mean / t->to_sys.mean,
				       f->to_dev.first / t->to_dev.first);
		}
	if (a->designs == (1u << BENCH_NR_DESIGNS) - 1)
		for (int k = 0; k < NR_KINDS; k++) {
			const struct result *p = &s->r[k][BENCH_PFN], *q = &s->r[k][BENCH_DPA];

			if (a->kinds & (1u << k))
				printf("  %s: dpa/pfn time: to-dev %.2fx, to-sys %.2fx\n", kind_names[k],
				       q->to_dev.mean / p->to_dev.mean, q->to_sys.mean / p->to_sys.mean);
		}
	fflush(stdout);
}

static void json_dir(struct jw *w, const char *key, const struct dir_time *t, uint64_t len,
		     double memcpy_ns)
{
	jw_key(w, key);
	jw_obj_begin(w);
	jw_kdouble(w, "mean_ms", t->mean / 1e6);
	jw_kdouble(w, "best_ms", t->best / 1e6);
	jw_kdouble(w, "gb_per_s", (double)len / t->mean);
	jw_kdouble(w, "ratio_to_memcpy", t->mean / memcpy_ns);
	jw_kdouble(w, "first_ms", t->first / 1e6);
	jw_obj_end(w);
}

static void migrate_report_json(const struct bench *b, const struct args *a, uint64_t pmd,
			const struct size_result *res)
{
	struct jw w;

	bench_json_begin(&w, b);
	jw_ku64(&w, "repeat", (uint64_t)a->repeat);
	jw_ku64(&w, "pmd_size", pmd);
	jw_kstr(&w, "timing", "mean of the timed round trips after one warm-up (first_ms: the "
		"warm-up, from the freshly written buffer)");
	jw_kstr(&w, "baseline", "host memcpy of the same bytes between two resident buffers");
	jw_key(&w, "sizes");
	jw_arr_begin(&w);
	for (int i = 0; i < a->nr_sizes; i++) {
		const struct size_result *s = &res[i];
		uint64_t len = a->sizes[i];

		jw_obj_begin(&w);
		jw_ku64(&w, "size", len);
		jw_ku64(&w, "pages", len >> 12);
		jw_kdouble(&w, "memcpy_ms", s->memcpy_mean / 1e6);
		jw_kdouble(&w, "memcpy_gb_per_s", (double)len / s->memcpy_mean);
		jw_key(&w, "rows");
		jw_arr_begin(&w);
		for (int k = 0; k < NR_KINDS; k++)
			for (int d = 0; d < BENCH_NR_DESIGNS; d++) {
				const struct result *r = &s->r[k][d];

				if (!(a->kinds & (1u << k)) || !(a->designs & (1u << d)))
					continue;
				jw_obj_begin(&w);
				jw_kstr(&w, "kind", kind_names[k]);
				jw_kstr(&w, "design", bench_design_names[d]);
				json_dir(&w, "to_device", &r->to_dev, len, s->memcpy_mean);
				json_dir(&w, "to_system", &r->to_sys, len, s->memcpy_mean);
				jw_ku64(&w, "pmds", len / pmd);
				jw_ku64(&w, "pmd_leaves_written", r->pmd_written);
				jw_ku64(&w, "pmd_leaves_timed", r->pmd_timed);
				jw_ku64(&w, "pmd_entries_on_device", r->pmd_on_device);
				if (k == KIND_THP && (a->kinds & (1u << KIND_4K))) {
					const struct result *f = &s->r[KIND_4K][d];

					jw_kdouble(&w, "thp_over_4k_to_device",
						   f->to_dev.mean / r->to_dev.mean);
					jw_kdouble(&w, "thp_over_4k_to_system",
						   f->to_sys.mean / r->to_sys.mean);
				}
				if (d == BENCH_DPA && (a->designs & (1u << BENCH_PFN))) {
					const struct result *p = &s->r[k][BENCH_PFN];

					jw_kdouble(&w, "dpa_over_pfn_time_to_device",
						   r->to_dev.mean / p->to_dev.mean);
					jw_kdouble(&w, "dpa_over_pfn_time_to_system",
						   r->to_sys.mean / p->to_sys.mean);
				}
				jw_obj_end(&w);
			}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	bench_json_end(&w);
}

int bench_migrate(int argc, char **argv)
{
	struct bench b = { .name = "migrate" };
	struct args a = { .repeat = 5, .kinds = (1u << NR_KINDS) - 1,
			  .designs = (1u << BENCH_NR_DESIGNS) - 1 };
	struct bench_gpu g[BENCH_NR_DESIGNS] = { 0 };
	struct size_result *res = NULL;
	uint64_t max = 0, pmd = 2 * MIB;
	char what[64], s1[32];
	int rc = parse_args(&b, &a, argc, argv), ndesigns = 0;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	for (int i = 0; i < a.nr_sizes; i++)
		max = a.sizes[i] > max ? a.sizes[i] : max;
	for (int d = 0; d < BENCH_NR_DESIGNS; d++)
		ndesigns += !!(a.designs & (1u << d));
	snprintf(what, sizeof(what), "moving buffers of up to %s",
		 fmt_size_human(max, s1, sizeof(s1)));
	if (bench_guard(&b, ndesigns * bench_gpu_host_bytes(max) + 2 * max, what,
			"smaller --sizes or one --design"))
		return EXIT_FAIL;
	res = calloc((size_t)a.nr_sizes, sizeof(*res));
	if (!res)
		return bench_fail(&b, "cannot allocate the results");
	progress_init(b.quiet);
	for (int d = 0; d < BENCH_NR_DESIGNS; d++) {
		if (!(a.designs & (1u << d)))
			continue;
		progress_label("bench migrate: boot (%s)", bench_design_names[d]);
		if ((rc = bench_gpu_create(&b, &g[d], d, max)))
			goto out;
		progress_label("bench migrate: prewarm (%s)", bench_design_names[d]);
		rc = bench_gpu_prewarm(&g[d], max);
		if (rc) {
			rc = bench_fail(&b, "%s: the untimed round trip of %llu bytes failed with %s",
					bench_design_names[d], ULL(max), zd_errno_name(rc));
			goto out;
		}
		pmd = bench_gpu_pmd_size(&g[d]);
	}
	if (!b.json)
		printf("bench migrate: warm-up round trip, then the mean of %d timed; GB/s = "
		       "1e9 bytes/s; x memcpy = time over a host memcpy of the same bytes; "
		       "PMDs: PMD leaves when written / at the timed rounds / on the device\n",
		       a.repeat);
	for (int i = 0; i < a.nr_sizes; i++) {
		struct size_result *s = &res[i];

		progress_label("bench migrate: memcpy baseline, %llu KiB", ULL(a.sizes[i] >> 10));
		if (memcpy_baseline(a.sizes[i], a.repeat, &s->memcpy_mean, &s->memcpy_best)) {
			rc = bench_fail(&b, "cannot allocate the memcpy baseline's buffers");
			goto out;
		}
		for (int k = 0; k < NR_KINDS; k++)
			for (int d = 0; d < BENCH_NR_DESIGNS; d++) {
				if (!(a.kinds & (1u << k)) || !(a.designs & (1u << d)))
					continue;
				rc = run_one(&b, &g[d], d, k, a.sizes[i], a.repeat,
					     (unsigned)(i * 4 + k * 2 + d + 1), &s->r[k][d]);
				if (rc)
					goto out;
			}
		if (!b.json)
			migrate_report_text(&a, a.sizes[i], pmd, s);
	}
	progress_clear();
	if (b.json)
		migrate_report_json(&b, &a, pmd, res);
	rc = EXIT_OK;
out:
	progress_clear();
	for (int d = 0; d < BENCH_NR_DESIGNS; d++)
		bench_gpu_destroy(&g[d]);
	free(res);
	return rc;
}
