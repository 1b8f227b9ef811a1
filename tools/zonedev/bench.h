/*
 * `zonedev bench NAME`: benchmarks that report ratios against baselines
 * measured in the same run (memset bandwidth), never bare times alone.
 * bench.c holds what both share: option values checked the way docs/cli.md
 * promises (a bad one names the option and the reason, exit 2, nothing
 * rounded or clamped), the host memory check, the baseline, the report
 * lines and the one JSON document a run prints, failed or not.
 */
#ifndef ZONEDEV_BENCH_H
#define ZONEDEV_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct zd_machine;
struct jw;

int cmd_bench(int argc, char **argv);

#define ULL(x) ((unsigned long long)(x))
static inline uint64_t bench_align(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

struct bench {
	const char *name;          /* "memmap", "memremap" */
	bool json;
	bool no_guard;             /* --no-memory-guard */
	bool quiet;                /* --quiet: no progress line */
	struct zd_machine *m;      /* its kernel log goes with a failure */
};

/* The memset baseline runs on at most this many bytes and its times are
 * scaled to the whole count: bandwidth past the caches does not depend on
 * the size, and a 1 TiB dedup bench must not need the undeduplicated bytes. */
#define BENCH_BASELINE_SAMPLE (128ULL << 20)

struct memset_base {
	double cold_ns, warm_ns;   /* memset, for the whole byte count */
	double nt_cold_ns, nt_warm_ns;   /* non-temporal stores, the same bytes */
	uint64_t sample_bytes;     /* what was really written (<= the count) */
};

struct option;
/* getopt_long with the CLI's messages: -2 after reporting an unknown
 * option or a missing value. */
int bench_getopt(const struct bench *b, int argc, char **argv, const struct option *opts);
/* "zonedev bench NAME: OPT VAL: why" and the --help hint; EXIT_USAGE. */
int bench_bad(const struct bench *b, const char *opt, const char *val, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Option values: 0, or EXIT_USAGE after a usage error. */
int bench_opt_size(const struct bench *b, const char *opt, const char *val, uint64_t *out);
int bench_opt_repeat(const struct bench *b, const char *val, int *out);
/* The options the benches share: -r/--repeat, -j/--json, -g (the host
 * guard off), -q, and -d/--dir where the bench has one (dir NULL: it has
 * not). 0: c was one of them and is set; 1: c is none of them;
 * EXIT_USAGE: a bad value. */
int bench_common_opt(struct bench *b, int c, const char *val, int *repeat, const char **dir);
/* Operands after the options are an error (EXIT_USAGE); else 0. */
int bench_no_operands(const struct bench *b, int argc, char **argv);
/* A failure: the message on stderr, with the machine's warnings and
 * errors; with --json the failure document on stdout. Returns exit 1. */
int bench_fail(const struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Refuse (bench_fail) when need bytes of host memory are not available,
 * unless --no-memory-guard; what says what needs them, avoid how not to. */
int bench_guard(const struct bench *b, uint64_t need, const char *what, const char *avoid);

double bench_now_ns(void);
uint64_t bench_host_rss(void);
int bench_memset(size_t bytes, int repeat, struct memset_base *base);
/* The process's peak resident set (getrusage's ru_maxrss), in bytes. */
uint64_t bench_peak_rss(void);
/* The host memory the baseline of bytes needs. */
uint64_t bench_baseline_bytes(uint64_t bytes);
/* Text benches: the line that says the baseline was a sample (none if not). */
void bench_baseline_note(const struct memset_base *base, uint64_t bytes);
/* One result line with its ratios to the cold or warm memset and
 * non-temporal baselines. */
void bench_line(const char *what, double ns, uint64_t pages, uint64_t bytes,
		const struct memset_base *base, bool warm);
/* The JSON document's opening ("zonedev", "bench", "result": "ok") and one phase. */
void bench_json_begin(struct jw *w, const struct bench *b);
/* The end of a bench's JSON: its peak RSS, the object closed, flushed. */
void bench_json_end(struct jw *w);
void bench_json_phase(struct jw *w, const char *key, double ns, uint64_t pages, uint64_t bytes,
		      const struct memset_base *base, bool warm);

int bench_fault(int argc, char **argv);
int bench_gup(int argc, char **argv);
int bench_hmm_range_fault(int argc, char **argv);
int bench_memmap(int argc, char **argv);
int bench_memremap(int argc, char **argv);
int bench_migrate(int argc, char **argv);
int bench_p2pdma(int argc, char **argv);

#endif
