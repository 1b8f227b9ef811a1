/*
 * What the benchmarks share (bench.h): checked option values, the host
 * memory check, the memset and non-temporal-store baselines, report lines
 * and the JSON document.
 * A run prints exactly one document with --json, "result": "ok" or
 * "failed" with its errors, so a script never has to parse stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include "bench.h"
#include "cli.h"

int bench_bad(const struct bench *b, const char *opt, const char *val, const char *fmt, ...)
{
	char cmd[32], why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "bench %s", b->name);
	return usage_error(cmd, "%s %s: %s", opt, val, why);
}

int bench_getopt(const struct bench *b, int argc, char **argv, const struct option *opts)
{
	char cmd[32];
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, "hqj", opts, NULL);
	if (c != '?' && c != ':')
		return c;
	snprintf(cmd, sizeof(cmd), "bench %s", b->name);
	usage_error(cmd, "%s '%s'", c == ':' ? "missing value for option" : "unknown option",
		    argv[optind - 1]);
	return -2;
}

int bench_opt_size(const struct bench *b, const char *opt, const char *val, uint64_t *out)
{
	const char *why = NULL;

	if (parse_size(val, out, &why))
		return bench_bad(b, opt, val, "%s", why);
	if (!*out)
		return bench_bad(b, opt, val, "must be more than 0");
	return 0;
}

int bench_opt_repeat(const struct bench *b, const char *val, int *out)
{
	const char *why = NULL;
	uint64_t v;

	if (parse_uint(val, &v, &why))
		return bench_bad(b, "--repeat", val, "%s", why);
	if (v < 1 || v > 1000000)
		return bench_bad(b, "--repeat", val, "must be 1 to 1000000");
	*out = (int)v;
	return 0;
}

int bench_common_opt(struct bench *b, int c, const char *val, int *repeat, const char **dir)
{
	switch (c) {
	case 'r': return bench_opt_repeat(b, val, repeat) ? EXIT_USAGE : 0;
	case 'j': b->json = true; return 0;
	case 'g': b->no_guard = true; return 0;
	case 'q': b->quiet = true; return 0;
	case 'd':
		if (!dir)
			return 1;
		*dir = val;
		return 0;
	default: return 1;
	}
}

int bench_no_operands(const struct bench *b, int argc, char **argv)
{
	if (optind < argc)
		return bench_bad(b, "argument", argv[optind], "unexpected (all settings are options)");
	return 0;
}

int bench_fail(const struct bench *b, const char *fmt, ...)
{
	struct zd_log_line lines[16];
	size_t n = 0;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	progress_clear();
	fprintf(stderr, "zonedev bench %s: %s\n", b->name, msg);
	if (b->m) {
		unsigned long seq = zd_log_seq(b->m);

		/* The last lines' warnings and errors say why; the rest is
		 * noise here. */
		n = zd_log_read(b->m, seq > 16 ? seq - 16 : 0, lines, 16);
		for (size_t i = 0; i < n; i++)
			if (lines[i].level <= ZD_LOG_WARNING)
				fprintf(stderr, "  dmesg: %s\n", lines[i].text);
	}
	if (b->json) {
		struct jw w;

		jw_init(&w, stdout);
		jw_obj_begin(&w);
		jw_kstr(&w, "zonedev", ZONEDEV_VERSION);
		jw_kstr(&w, "bench", b->name);
		jw_kstr(&w, "result", "failed");
		jw_key(&w, "errors");
		jw_arr_begin(&w);
		jw_str(&w, msg);
		for (size_t i = 0; i < n; i++)
			if (lines[i].level <= ZD_LOG_WARNING)
				jw_str(&w, lines[i].text);
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	return EXIT_FAIL;
}

int bench_guard(const struct bench *b, uint64_t need, const char *what, const char *avoid)
{
	char n[32], h[32];

	if (b->no_guard || zd_host_mem_fits(need))
		return 0;
	return bench_fail(b, "host memory guard: %s needs %s of host memory, the host has %s "
			  "available; avoid it with %s, or lift the guard with --no-memory-guard",
			  what, fmt_size_human(need, n, sizeof(n)),
			  fmt_size_human(zd_host_mem_available(), h, sizeof(h)), avoid);
}

double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

uint64_t bench_host_rss(void)
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

/* memset into fresh anonymous memory (THP advised, as the vmemmap is) and
 * again into the same, now resident, memory. */
uint64_t bench_peak_rss(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? 0 : (uint64_t)ru.ru_maxrss << 10;
}

void bench_json_end(struct jw *w)
{
	jw_ku64(w, "peak_rss_bytes", bench_peak_rss());
	jw_obj_end(w);
	jw_finish(w);
}

uint64_t bench_baseline_bytes(uint64_t bytes)
{
	return bytes < BENCH_BASELINE_SAMPLE ? bytes : BENCH_BASELINE_SAMPLE;
}

/* Fill with streaming stores (movntdq), fenced, as the kernel's fastest
 * memmap init writes struct pages: the line is not read first, so the
 * store bandwidth is not halved by read-for-ownership. memset elsewhere. */
static void nt_fill(void *p, size_t n, int v)
{
#if defined(__x86_64__)
	__m128i x = _mm_set1_epi8((char)v);
	char *c = p;

	for (size_t i = 0; i + 64 <= n; i += 64) {
		_mm_stream_si128((__m128i *)(c + i), x);
		_mm_stream_si128((__m128i *)(c + i + 16), x);
		_mm_stream_si128((__m128i *)(c + i + 32), x);
		_mm_stream_si128((__m128i *)(c + i + 48), x);
	}
	_mm_sfence();
#else
	memset(p, v, n);
#endif
}

/* fill over n fresh bytes (cold: the host faults them in), the better of
 * two runs, into *cold_ns; then repeat runs over the resident bytes, the
 * best into *warm_ns. */
static int measure(void (*fill)(void *, size_t, int), size_t n, int repeat, double *cold_ns,
		   double *warm_ns)
{
	char *p = NULL;
	double t;

	/* twice: the very first huge-page faults of a process can pay
	 * one-off host costs */
	*cold_ns = 0;
	for (int i = 0; i < 2; i++) {
		if (p)
			munmap(p, n);
		p = mmap(NULL, n, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		madvise(p, n, MADV_HUGEPAGE);
		t = bench_now_ns();
		fill(p, n, 0x5a);
		t = bench_now_ns() - t;
		if (!*cold_ns || t < *cold_ns)
			*cold_ns = t;
	}
	/* Never a zero byte: this project's VM (AMD EPYC) stores all-zero
	 * lines 2.2x faster than any other (non-temporal: 97 against 44
	 * GB/s), and no struct page line is all zero, so a zero fill would
	 * be a baseline the work cannot meet. */
	*warm_ns = 0;
	for (int i = 0; i < repeat; i++) {
		t = bench_now_ns();
		fill(p, n, 0x11 * (i % 15 + 1));
		t = bench_now_ns() - t;
		if (!*warm_ns || t < *warm_ns)
			*warm_ns = t;
	}
	munmap(p, n);
	return 0;
}

static void memset_fill(void *p, size_t n, int v)
{
	memset(p, v, n);
}

int bench_memset(size_t bytes, int repeat, struct memset_base *b)
{
	size_t n = (size_t)bench_baseline_bytes(bytes);
	double scale = n ? (double)bytes / (double)n : 1;

	b->sample_bytes = n;
	if (measure(memset_fill, n, repeat, &b->cold_ns, &b->warm_ns) ||
	    measure(nt_fill, n, repeat, &b->nt_cold_ns, &b->nt_warm_ns))
		return -ENOMEM;
	b->cold_ns *= scale;
	b->warm_ns *= scale;
	b->nt_cold_ns *= scale;
	b->nt_warm_ns *= scale;
	return 0;
}

void bench_baseline_note(const struct memset_base *base, uint64_t bytes)
{
	char s1[32], s2[32];

	if (base->sample_bytes < bytes)
		printf("  (baselines measured on %s of the %s and scaled)\n",
		       fmt_size_human(base->sample_bytes, s1, sizeof(s1)),
		       fmt_size_human(bytes, s2, sizeof(s2)));
}

void bench_line(const char *what, double ns, uint64_t pages, uint64_t bytes,
		const struct memset_base *base, bool warm)
{
	const char *kind = warm ? "warm" : "cold";

	progress_clear();
	printf("  %-22s %9.1f ms  %7.2f ns/page  %6.2f GB/s  %5.2fx memset %s  %5.2fx nt %s\n",
	       what, ns / 1e6, ns / (double)pages, (double)bytes / ns,
	       ns / (warm ? base->warm_ns : base->cold_ns), kind,
	       ns / (warm ? base->nt_warm_ns : base->nt_cold_ns), kind);
	/* A result is shown as soon as it is known, also through a pipe. */
	fflush(stdout);
}

void bench_json_begin(struct jw *w, const struct bench *b)
{
	jw_init(w, stdout);
	jw_obj_begin(w);
	jw_kstr(w, "zonedev", ZONEDEV_VERSION);
	jw_kstr(w, "bench", b->name);
	jw_kstr(w, "result", "ok");
}

void bench_json_phase(struct jw *w, const char *key, double ns, uint64_t pages, uint64_t bytes,
		      const struct memset_base *base, bool warm)
{
	jw_key(w, key);
	jw_obj_begin(w);
	jw_kdouble(w, "ms", ns / 1e6);
	jw_kdouble(w, "ns_per_page", ns / (double)pages);
	jw_kdouble(w, "gb_per_s", (double)bytes / ns);
	jw_kdouble(w, "ratio_to_memset", ns / (warm ? base->warm_ns : base->cold_ns));
	jw_kdouble(w, "ratio_to_ntstore", ns / (warm ? base->nt_warm_ns : base->nt_cold_ns));
	jw_obj_end(w);
}

int cmd_bench(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: zonedev bench NAME [options]\n\nbenchmarks:\n"
			   "  fault     page faults per second: anonymous, THP, devdax PMD/PUD\n"
			   "  gup       get/pin_user_pages (gup_test) on anonymous and devdax memory\n"
			   "  hmm_range_fault\n"
			   "            ns per page of hmm_range_fault: present, THP, device-private\n"
			   "  memmap    populate and initialise the memmap of a hot-added range\n"
			   "  memremap  first bind and rebind of a pmem namespace (fsdax/devdax)\n"
			   "  migrate   migrate_vma to a dmirror GPU and back (THP and 4K), GB/s\n"
			   "  p2pdma    pci_p2pmem_find_many over 1024 endpoints; dma_map_sg segments/s\n"
			   "\n'zonedev bench NAME --help' lists a benchmark's options.\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "fault"))
		return bench_fault(argc - 1, argv + 1);
	if (!strcmp(argv[1], "gup"))
		return bench_gup(argc - 1, argv + 1);
	if (!strcmp(argv[1], "hmm_range_fault"))
		return bench_hmm_range_fault(argc - 1, argv + 1);
	if (!strcmp(argv[1], "memmap"))
		return bench_memmap(argc - 1, argv + 1);
	if (!strcmp(argv[1], "memremap"))
		return bench_memremap(argc - 1, argv + 1);
	if (!strcmp(argv[1], "migrate"))
		return bench_migrate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "p2pdma"))
		return bench_p2pdma(argc - 1, argv + 1);
	fprintf(stderr, "zonedev bench: unknown benchmark '%s' (try: fault, gup, hmm_range_fault, "
		"memmap, memremap, migrate, p2pdma)\n", argv[1]);
	return EXIT_USAGE;
}
