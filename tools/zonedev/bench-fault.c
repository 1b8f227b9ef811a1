/*
 * `zonedev bench fault`: page faults per second on the model against the
 * host's own, for the same fault sizes, in the same run. Each model row
 * maps SIZE of a kind (bench-mapping.h), writes one byte per leaf (4K
 * page, 2M PMD, 1G PUD) through the CPU model, which faults each in
 * (zd_access_vm: MMU walk, handle_mm_fault, walk again, store), and
 * unmaps it; the faults are the mm's min_flt + maj_flt counted across the
 * writes, so a leaf that fell back to smaller entries shows as more faults
 * than leaves. The host rows do the same with mmap(2) on the host: 4K
 * pages, and 2M with MADV_HUGEPAGE, whose smaps AnonHugePages says whether
 * the host gave huge pages, over at most HOST_SAMPLE bytes. Best of
 * --repeat runs; ratios are model time per fault over host time per fault.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "bench.h"
#include "bench-mapping.h"
#include "cli.h"

#define MIB (1ULL << 20)
/* The host rows fault at most this much: a fault's cost does not depend on
 * the mapping's size, and a 16G devdax row must not need 16G of host RAM. */
#define HOST_SAMPLE (256 * MIB)

struct args {
	uint64_t size;
	int repeat;
	uint32_t kinds;
	const char *dir;
};

struct result {
	bool run;
	int err;
	char note[200];
	uint64_t len, leaves, faults;   /* faults of the best run */
	double map_ns, touch_ns, unmap_ns;   /* best of the repeats */
	double first_touch_ns;          /* the first run: fresh host memory under the model's RAM */
	const char *host;               /* the host row of the same fault size, or NULL */
};

struct host_result {
	const char *name;
	uint64_t leaf, len;
	double touch_ns, unmap_ns;
	uint64_t thp_bytes;             /* AnonHugePages of the mapping, before munmap */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench fault [--size SIZE] [--repeat N] [--kind LIST] [--dir DIR]\n"
		"                           [--no-memory-guard] [--quiet] [--json]\n"
		"\n"
		"Faults per second: map SIZE of each kind, write one byte per 4K page, 2M PMD\n"
		"or 1G PUD leaf through the CPU model (each write faults), unmap; and the\n"
		"host's own anonymous faults for 4K pages and for 2M with MADV_HUGEPAGE (over\n"
		"SIZE, at most 256M), in the same run. Ratios are the model's time per fault\n"
		"over the host's.\n"
		"\n"
		"options:\n"
		"  --size SIZE        bytes per kind, a multiple of 2M; devdax-1g maps SIZE\n"
		"                     rounded up to 1G (K/M/G suffixes; default 1G)\n"
		BENCH_MAPPING_OPTIONS_HELP, bench_kind_names());
}

static int parse_args(struct bench *b, struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' }, { "repeat", required_argument, NULL, 'r' },
		{ "repeats", required_argument, NULL, 'r' }, { "kind", required_argument, NULL, 'k' },
		{ "dir", required_argument, NULL, 'd' }, { "json", no_argument, NULL, 'j' },
		{ "no-memory-guard", no_argument, NULL, 'g' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *size_arg = "1G";
	int c, rc;

	optind = 1;
	while ((c = bench_getopt(b, argc, argv, opts)) != -1) {
		switch (c) {
		case 's':
			if (bench_opt_size(b, "--size", optarg, &a->size))
				return EXIT_USAGE;
			size_arg = optarg;
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

/* AnonHugePages of the host mapping starting at addr, in bytes. */
static uint64_t host_thp_bytes(const void *addr)
{
	char line[512], want[32];
	unsigned long kb;
	bool in = false;
	uint64_t bytes = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)addr);
	while (fgets(line, sizeof(line), f)) {
		size_t hex = strspn(line, "0123456789abcdef");

		/* a mapping's first line starts "start-end "; field lines "Name:" */
		if (hex && line[hex] == '-')
			in = !strncmp(line, want, strlen(want));
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			bytes = (uint64_t)kb << 10;
	}
	fclose(f);
	return bytes;
}

/* The host's transparent_hugepage/enabled, its [selected] word. */
static void host_thp_setting(char *buf, size_t n)
{
	char line[128] = "", *l, *r;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	snprintf(buf, n, "unknown");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && (l = strchr(line, '[')) && (r = strchr(l, ']'))) {
		*r = 0;
		snprintf(buf, n, "%s", l + 1);
	}
	fclose(f);
}

static int host_run(struct host_result *h, int repeat)
{
	for (int r = 0; r < repeat; r++) {
		uint64_t map_len = h->len + h->leaf;
		char *p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0), *a;
		double t, u;

		if (p == MAP_FAILED)
			return -errno;
		a = (char *)bench_align((uint64_t)(uintptr_t)p, h->leaf);
		if (h->leaf > 4096)
			madvise(a, h->len, MADV_HUGEPAGE);
		t = bench_now_ns();
		for (uint64_t off = 0; off < h->len; off += h->leaf)
			((volatile char *)a)[off] = (char)(off / h->leaf) | 1;
		t = bench_now_ns() - t;
		uint64_t thp = h->leaf > 4096 ? host_thp_bytes(p) : 0;
		u = bench_now_ns();
		munmap(p, map_len);
		u = bench_now_ns() - u;
		if (!h->touch_ns || t < h->touch_ns) {
			h->touch_ns = t;
			h->unmap_ns = u;
			h->thp_bytes = thp;
		}
	}
	return 0;
}

static unsigned long mm_faults(const struct zd_mm *mm)
{
	return __atomic_load_n(&mm->min_flt, __ATOMIC_RELAXED) +
	       __atomic_load_n(&mm->maj_flt, __ATOMIC_RELAXED);
}

static int model_run(struct bench *b, struct bench_mm *bm, const struct bench_kind *k,
		     const struct args *a, struct result *res)
{
	res->err = k->probe(bm, res->note, sizeof(res->note));
	if (res->err)
		return 0;
	res->len = bench_kind_len(k, a->size);
	res->leaves = res->len / k->leaf;
	for (int r = 0; r < a->repeat; r++) {
		double t0, t1, t2, t3;
		unsigned long f0, f1;
		int64_t addr;
		int rc;

		progress_label("bench fault: %s %d/%d", k->name, r + 1, a->repeat);
		t0 = bench_now_ns();
		addr = k->map(bm, res->len);
		t1 = bench_now_ns();
		if (addr < 0)
			return bench_fail(b, "%s: mmap of %llu bytes failed with %s", k->name,
					  ULL(res->len), zd_errno_name((int)addr));
		f0 = mm_faults(bm->mm);
		rc = bench_mm_touch(bm, (uint64_t)addr, res->len, k->leaf);
		t2 = bench_now_ns();
		f1 = mm_faults(bm->mm);
		zd_vm_munmap(bm->mm, (uint64_t)addr, res->len);
		t3 = bench_now_ns();
		if (rc)
			return bench_fail(b, "%s: a write through the mapping failed with %s", k->name,
					  zd_errno_name(rc));
		if (!r)
			res->first_touch_ns = t2 - t1;
		if (!res->touch_ns || t2 - t1 < res->touch_ns) {
			res->map_ns = t1 - t0;
			res->touch_ns = t2 - t1;
			res->unmap_ns = t3 - t2;
			res->faults = f1 - f0;
		}
	}
	return 0;
}

static const struct host_result *host_of(const struct host_result *h, const char *name)
{
	for (int i = 0; i < 2; i++)
		if (name && !strcmp(h[i].name, name))
			return &h[i];
	return NULL;
}

static void fault_report_text(const struct args *a, const struct result *res,
			const struct host_result *h, const char *thp)
{
	char s1[32];

	progress_clear();
	printf("bench fault: --size %s, one byte written per leaf, best of %d; host THP "
	       "setting [%s]\n", fmt_size_human(a->size, s1, sizeof(s1)), a->repeat, thp);
	for (int i = 0; i < 2; i++) {
		uint64_t n = h[i].len / h[i].leaf;

		printf("  host-%-10s %8llu faults %10.0f faults/s %9.2f us/fault", h[i].name,
		       ULL(n), n / (h[i].touch_ns / 1e9), h[i].touch_ns / 1e3 / (double)n);
		if (h[i].leaf > 4096)
			printf("  (AnonHugePages %llu MiB of %llu: %s)", ULL(h[i].thp_bytes >> 20),
			       ULL(h[i].len >> 20), h[i].thp_bytes ? "THP given" :
			       "no THP, 4K faults");
		printf("\n");
	}
	for (size_t i = 0; i < bench_nr_kinds; i++) {
		const struct result *r = &res[i];
		const struct host_result *hr = host_of(h, r->host);

		if (!r->run)
			continue;
		if (r->err) {
			printf("  %-15s skipped: %s\n", bench_kinds[i].name, r->note);
			continue;
		}
		double per = r->touch_ns / (double)r->leaves;
		printf("  %-15s %8llu faults %10.0f faults/s %9.2f us/fault", bench_kinds[i].name,
		       ULL(r->faults), r->leaves / (r->touch_ns / 1e9), per / 1e3);
		if (hr)
			printf("  %7.3fx host-%s", per / (hr->touch_ns / (double)(hr->len / hr->leaf)),
			       hr->name);
		else
			printf("  (the host has no anonymous PUD faults)");
		printf("\n");
		if (r->faults != r->leaves)
			printf("  %-15s note: %llu faults for %llu leaves\n", "", ULL(r->faults),
			       ULL(r->leaves));
		printf("  %-15s first run %.2f us/fault; mmap %.1f us, munmap %.1f us\n", "",
		       r->first_touch_ns / 1e3 / (double)r->leaves, r->map_ns / 1e3, r->unmap_ns / 1e3);
	}
}

static void fault_report_json(const struct bench *b, const struct args *a, const struct result *res,
			const struct host_result *h, const char *thp)
{
	struct jw w;

	bench_json_begin(&w, b);
	jw_ku64(&w, "size", a->size);
	jw_ku64(&w, "repeat", (uint64_t)a->repeat);
	jw_kstr(&w, "host_thp_setting", thp);
	jw_key(&w, "host");
	jw_arr_begin(&w);
	for (int i = 0; i < 2; i++) {
		uint64_t n = h[i].len / h[i].leaf;

		jw_obj_begin(&w);
		jw_kstr(&w, "name", h[i].name);
		jw_ku64(&w, "leaf", h[i].leaf);
		jw_ku64(&w, "size", h[i].len);
		jw_ku64(&w, "faults", n);
		jw_kdouble(&w, "faults_per_s", n / (h[i].touch_ns / 1e9));
		jw_kdouble(&w, "ns_per_fault", h[i].touch_ns / (double)n);
		jw_kdouble(&w, "munmap_ms", h[i].unmap_ns / 1e6);
		if (h[i].leaf > 4096) {
			jw_ku64(&w, "anon_huge_pages_bytes", h[i].thp_bytes);
			jw_kbool(&w, "thp", h[i].thp_bytes > 0);
		}
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "kinds");
	jw_arr_begin(&w);
	for (size_t i = 0; i < bench_nr_kinds; i++) {
		const struct result *r = &res[i];
		const struct host_result *hr = host_of(h, r->host);

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
		double per = r->touch_ns / (double)r->leaves;
		jw_ku64(&w, "leaf", bench_kinds[i].leaf);
		jw_ku64(&w, "size", r->len);
		jw_ku64(&w, "leaves", r->leaves);
		jw_ku64(&w, "faults", r->faults);
		jw_kdouble(&w, "faults_per_s", r->leaves / (r->touch_ns / 1e9));
		jw_kdouble(&w, "ns_per_fault", per);
		jw_kdouble(&w, "first_run_ns_per_fault", r->first_touch_ns / (double)r->leaves);
		jw_kdouble(&w, "mmap_ms", r->map_ns / 1e6);
		jw_kdouble(&w, "munmap_ms", r->unmap_ns / 1e6);
		jw_key(&w, "host");
		if (hr)
			jw_str(&w, hr->name);
		else
			jw_null(&w);
		jw_key(&w, "ratio_to_host");
		if (hr)
			jw_double(&w, per / (hr->touch_ns / (double)(hr->len / hr->leaf)));
		else
			jw_null(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	bench_json_end(&w);
}

int bench_fault(int argc, char **argv)
{
	struct bench b = { .name = "fault" };
	struct args a = { .size = 1ULL << 30, .repeat = 3, .kinds = (1u << bench_nr_kinds) - 1,
			  .dir = "/dev/shm" };
	struct result res[8] = { 0 };
	struct host_result host[2] = { { .name = "4k", .leaf = 4096 },
				       { .name = "2m-thp", .leaf = 2 * MIB } };
	struct bench_mm bm;
	char what[96], s1[32], thp[32];
	int rc = parse_args(&b, &a, argc, argv);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	/* the host rows' memory is gone before the model's is touched */
	snprintf(what, sizeof(what), "faulting in %s per kind",
		 fmt_size_human(a.size, s1, sizeof(s1)));
	if (bench_guard(&b, bench_mm_host_bytes(a.size, a.kinds) + HOST_SAMPLE, what,
			"a smaller --size"))
		return EXIT_FAIL;
	host_thp_setting(thp, sizeof(thp));
	progress_init(b.quiet);
	for (int i = 0; i < 2; i++) {
		host[i].len = a.size < HOST_SAMPLE ? a.size : HOST_SAMPLE;
		progress_label("bench fault: host %s", host[i].name);
		rc = host_run(&host[i], a.repeat);
		if (rc)
			return bench_fail(&b, "host mmap of %llu bytes failed with %s", ULL(a.size),
					  zd_errno_name(rc));
	}
	progress_label("bench fault: boot");
	rc = bench_mm_create(&b, &bm, a.size, a.kinds, a.dir);
	if (rc)
		goto out;
	for (size_t i = 0; i < bench_nr_kinds; i++) {
		const struct bench_kind *k = &bench_kinds[i];

		if (!(a.kinds & (1u << i)))
			continue;
		res[i].run = true;
		res[i].host = k->leaf == 4096 ? "4k" : k->leaf == 2 * MIB ? "2m-thp" : NULL;
		rc = model_run(&b, &bm, k, &a, &res[i]);
		if (rc)
			goto out;
	}
	if (b.json)
		fault_report_json(&b, &a, res, host, thp);
	else
		fault_report_text(&a, res, host, thp);
	rc = EXIT_OK;
out:
	progress_clear();
	bench_mm_destroy(&bm);
	return rc;
}
