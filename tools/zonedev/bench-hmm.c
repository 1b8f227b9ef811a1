/*
 * `zonedev bench hmm_range_fault`: ns per page of zd_hmm_range_fault()
 * over one range of SIZE, for what a device driver finds there: present
 * 4K pages, THPs (PMD leaves), pages on the device of the range's owner
 * (gpu0, reported, never faulted) and pages of another owner's device
 * (gpu1 asks about gpu0's pages with default_flags 0: not faulted, since a
 * fault would migrate each back to RAM). Each row is taken as a snapshot
 * (default_flags 0) and, where a fault request moves nothing, with
 * HMM_PFN_REQ_FAULT. Only the call is timed, under the mmap_lock taken as
 * the driver takes it; best of --repeat. The baseline, same run and same
 * range, is a read of /proc/PID/pagemap (zd_pagemap_read): the model's
 * other page-table walk that writes one 64-bit word per page. The outputs
 * are counted (valid, writable, order > 0, DEVICE_PRIVATE) and the faults
 * during the timed calls too, so a row says what it walked.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/hmm.h>
#include "bench.h"
#include "bench-dmirror.h"
#include "cli.h"

#define MIB (1ULL << 20)

enum { ROW_ANON, ROW_THP, ROW_DEV_OWN, ROW_DEV_OTHER, NR_ROWS };
static const char *const row_names[NR_ROWS] = { "anon-4k", "thp", "device-own",
						"device-other" };

struct args {
	uint64_t size;
	int repeat;
	uint32_t designs;
};

struct req {
	bool run;
	double ns;                 /* best call */
	uint64_t valid, write, huge, devpriv;   /* output entries */
	uint64_t busy, faults;     /* -EBUSY retries, mm faults, over all calls */
};

struct row {
	double pagemap_ns;         /* best read of the same range */
	uint64_t pmd_leaves;
	struct req snap, fault;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench hmm_range_fault [--size SIZE] [--repeat N] [--design LIST]\n"
		"                                     [--no-memory-guard] [--quiet] [--json]\n"
		"\n"
		"ns per page of hmm_range_fault over SIZE of: present 4K pages, THPs, pages on\n"
		"the device of the range's owner (gpu0: reported, not faulted) and pages on\n"
		"that device seen by another owner (gpu1, default_flags 0: not faulted),\n"
		"under both device-private designs side by side. Each row as a snapshot\n"
		"(default_flags 0) and, where nothing would move, with HMM_PFN_REQ_FAULT.\n"
		"Ratios are to a read of /proc/PID/pagemap over the same range in the same\n"
		"run: a page-table walk writing one 64-bit word per page.\n"
		"\n"
		"options:\n"
		"  --size SIZE        bytes per row, a multiple of 2M, at most 1G (K/M/G\n"
		"                     suffixes; default 64M)\n"
		"  --repeat N         calls per row, the best is reported (also --repeats;\n"
		"                     1-1000000, default 5)\n"
		"  --design LIST      device-private designs: pfn, dpa or both (default pfn,dpa)\n"
		"  --no-memory-guard  run even when the bench needs more host memory than is\n"
		"                     available (default: refuse, saying how much)\n"
		"  -q, --quiet        no progress line\n"
		"  -j, --json         one JSON document on stdout (also when the run fails)\n"
		"  -h, --help         show this help\n"
		"\n"
		"exit status: 0 ok, 1 the benchmark failed, 2 usage error\n");
}

static int parse_args(struct bench *b, struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' }, { "repeat", required_argument, NULL, 'r' },
		{ "repeats", required_argument, NULL, 'r' }, { "design", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' }, { "no-memory-guard", no_argument, NULL, 'g' },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, 'h' }, { 0 },
	};
	int c, rc;

	optind = 1;
	while ((c = bench_getopt(b, argc, argv, opts)) != -1) {
		switch (c) {
		case 's':
			if (bench_opt_size(b, "--size", optarg, &a->size))
				return EXIT_USAGE;
			if (a->size % (2 * MIB))
				return bench_bad(b, "--size", optarg, "not a multiple of 2M");
			if (a->size > (1ULL << 30))
				return bench_bad(b, "--size", optarg, "more than 1G");
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

/* The driver's side of the notifier: take note of the new seq. */
static bool invalidate(struct zd_mmu_interval_notifier *sub, const struct zd_mmu_notifier_range *r,
		       unsigned long cur_seq)
{
	(void)r;
	zd_mmu_interval_set_seq(sub, cur_seq);
	return true;
}
static const struct zd_mmu_interval_notifier_ops notifier_ops = { .invalidate = invalidate };

static uint64_t mm_faults(const struct zd_mm *mm)
{
	return __atomic_load_n(&mm->min_flt, __ATOMIC_RELAXED) +
	       __atomic_load_n(&mm->maj_flt, __ATOMIC_RELAXED);
}

/* repeat calls over [addr, addr + len) as dmirror_range_fault makes them;
 * the best call's time and its outputs counted. 0 or the call's -errno. */
static int range_fault(struct bench_gpu *g, struct zd_mmu_interval_notifier *mn, uint64_t addr,
		       uint64_t len, void *owner, uint64_t flags, int repeat, uint64_t *pfns,
		       struct req *q)
{
	uint64_t npages = len >> g->m->arch.page_shift, f0 = mm_faults(g->mm);
	struct zd_hmm_range range = {
		.notifier = mn, .start = addr, .end = addr + len, .hmm_pfns = pfns,
		.default_flags = flags, .pfn_flags_mask = 0, .dev_private_owner = owner,
	};
	int rc;

	q->run = true;
	for (int i = 0; i < repeat; i++) {
		double t;

		for (;;) {
			memset(pfns, 0, npages * sizeof(*pfns));
			range.notifier_seq = zd_mmu_interval_read_begin(mn);
			zd_mmap_read_lock(g->mm);
			t = bench_now_ns();
			rc = zd_hmm_range_fault(&range);
			t = bench_now_ns() - t;
			zd_mmap_read_unlock(g->mm);
			if (rc != -EBUSY || ++q->busy > 100)
				break;
		}
		if (rc)
			return rc;
		if (!q->ns || t < q->ns)
			q->ns = t;
	}
	q->faults = mm_faults(g->mm) - f0;
	q->valid = q->write = q->huge = q->devpriv = 0;
	for (uint64_t i = 0; i < npages; i++) {
		q->valid += !!(pfns[i] & ZD_HMM_PFN_VALID);
		q->write += !!(pfns[i] & ZD_HMM_PFN_WRITE);
		q->huge += zd_hmm_pfn_to_map_order(pfns[i]) > 0;
		q->devpriv += !!(pfns[i] & ZD_HMM_PFN_DEVICE_PRIVATE);
	}
	return 0;
}

static double pagemap_walk(struct bench_gpu *g, uint64_t addr, uint64_t len, int repeat,
			   uint64_t *buf)
{
	uint64_t npages = len >> g->m->arch.page_shift;
	double best = 0;

	for (int i = 0; i < repeat; i++) {
		double t = bench_now_ns();
		long n = zd_pagemap_read(g->mm, (addr >> g->m->arch.page_shift) * 8, buf,
					 npages * 8);

		t = bench_now_ns() - t;
		if (n != (long)(npages * 8))
			return -1;
		if (!best || t < best)
			best = t;
	}
	return best;
}

/* One buffer's rows: map and write it (and move it to gpu0 for the
 * device rows), a notifier over it, the baseline, the requests. */
static int run_rows(struct bench *b, struct bench_gpu *g, int design, const struct args *a,
		    bool thp, bool device, uint64_t *pfns, struct row *rows)
{
	struct zd_mmu_interval_notifier mn = { 0 };   /* insert refuses one that looks inserted */
	const char *dn = bench_design_names[design];
	int64_t addr = bench_gpu_buffer(g, a->size, thp, 7);
	uint64_t npages = a->size >> g->m->arch.page_shift, cp;
	int rc = 0;

	b->m = g->m;
	if (addr < 0)
		return bench_fail(b, "%s: writing a %llu-byte buffer failed with %s", dn,
				  ULL(a->size), zd_errno_name((int)addr));
	if (device) {
		rc = zd_dmirror_migrate_to_dev(g->gpu[0], g->mm, (uint64_t)addr, npages, &cp);
		if (rc) {
			zd_vm_munmap(g->mm, (uint64_t)addr, a->size);
			return bench_fail(b, "%s: migrate_to_dev of %llu pages failed with %s", dn,
					  ULL(npages), zd_errno_name(rc));
		}
	}
	rc = zd_mmu_interval_notifier_insert(&mn, g->mm, (uint64_t)addr, a->size, &notifier_ops);
	if (rc) {
		zd_vm_munmap(g->mm, (uint64_t)addr, a->size);
		return bench_fail(b, "%s: mmu_interval_notifier_insert failed with %s", dn,
				  zd_errno_name(rc));
	}
	for (int k = 0; k < NR_ROWS; k++) {
		struct row *r = &rows[k];
		void *owner = k == ROW_DEV_OTHER ? (void *)g->gpu[1] : (void *)g->gpu[0];

		if ((k == ROW_THP) != thp || (k >= ROW_DEV_OWN) != device)
			continue;
		progress_label("bench hmm_range_fault: %s %s", dn, row_names[k]);
		r->pmd_leaves = bench_gpu_pmd_leaves(g, (uint64_t)addr, a->size);
		r->pagemap_ns = pagemap_walk(g, (uint64_t)addr, a->size, a->repeat, pfns);
		if (r->pagemap_ns < 0) {
			rc = bench_fail(b, "%s: the pagemap read of %llu pages fell short", dn,
					ULL(npages));
			break;
		}
		rc = range_fault(g, &mn, (uint64_t)addr, a->size, owner, 0, a->repeat, pfns,
				 &r->snap);
		/* another owner's pages would each migrate back to RAM */
		if (!rc && k != ROW_DEV_OTHER)
			rc = range_fault(g, &mn, (uint64_t)addr, a->size, owner,
					 ZD_HMM_PFN_REQ_FAULT, a->repeat, pfns, &r->fault);
		if (rc) {
			rc = bench_fail(b, "%s %s: hmm_range_fault failed with %s", dn, row_names[k],
					zd_errno_name(rc));
			break;
		}
	}
	zd_mmu_interval_notifier_remove(&mn);
	zd_vm_munmap(g->mm, (uint64_t)addr, a->size);
	return rc;
}

static void req_text(const char *what, const struct req *q, const struct row *r, uint64_t n)
{
	if (!q->run) {
		printf("    %-10s not run: a fault would migrate every page back to RAM\n", what);
		return;
	}
	printf("    %-10s %8.2f ns/page %6.2fx pagemap   entries: %llu valid, %llu write, "
	       "%llu order>0, %llu DEVICE_PRIVATE; faults %llu, -EBUSY %llu\n", what,
	       q->ns / (double)n, q->ns / r->pagemap_ns, ULL(q->valid), ULL(q->write),
	       ULL(q->huge), ULL(q->devpriv), ULL(q->faults), ULL(q->busy));
}

static void hmm_report_text(const struct args *a, int design, const struct row *rows)
{
	uint64_t n = a->size >> 12;

	progress_clear();
	printf("%s:\n", bench_design_names[design]);
	for (int k = 0; k < NR_ROWS; k++) {
		const struct row *r = &rows[k];

		printf("  %-12s pagemap %.2f ns/page; %llu PMD leaves of %llu\n", row_names[k],
		       r->pagemap_ns / (double)n, ULL(r->pmd_leaves), ULL(a->size / (2 * MIB)));
		req_text("snapshot", &r->snap, r, n);
		req_text("REQ_FAULT", &r->fault, r, n);
	}
	fflush(stdout);
}

static void req_json(struct jw *w, const char *key, const struct req *q, const struct row *r,
		     uint64_t n)
{
	jw_key(w, key);
	if (!q->run) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	jw_kdouble(w, "ns_per_page", q->ns / (double)n);
	jw_kdouble(w, "ratio_to_pagemap", q->ns / r->pagemap_ns);
	jw_ku64(w, "valid", q->valid);
	jw_ku64(w, "write", q->write);
	jw_ku64(w, "order_gt_0", q->huge);
	jw_ku64(w, "device_private", q->devpriv);
	jw_ku64(w, "faults", q->faults);
	jw_ku64(w, "ebusy_retries", q->busy);
	jw_obj_end(w);
}

static void hmm_report_json(const struct bench *b, const struct args *a,
			    struct row rows[][NR_ROWS])
{
	uint64_t n = a->size >> 12;
	struct jw w;

	bench_json_begin(&w, b);
	jw_ku64(&w, "size", a->size);
	jw_ku64(&w, "pages", n);
	jw_ku64(&w, "repeat", (uint64_t)a->repeat);
	jw_kstr(&w, "baseline", "zd_pagemap_read of the same range: one 64-bit word per page");
	jw_key(&w, "designs");
	jw_arr_begin(&w);
	for (int d = 0; d < BENCH_NR_DESIGNS; d++) {
		if (!(a->designs & (1u << d)))
			continue;
		jw_obj_begin(&w);
		jw_kstr(&w, "design", bench_design_names[d]);
		jw_key(&w, "rows");
		jw_arr_begin(&w);
		for (int k = 0; k < NR_ROWS; k++) {
			const struct row *r = &rows[d][k];

			jw_obj_begin(&w);
			jw_kstr(&w, "range", row_names[k]);
			jw_kdouble(&w, "pagemap_ns_per_page", r->pagemap_ns / (double)n);
			jw_ku64(&w, "pmd_leaves", r->pmd_leaves);
			req_json(&w, "snapshot", &r->snap, r, n);
			req_json(&w, "req_fault", &r->fault, r, n);
			if (d == BENCH_DPA && (a->designs & (1u << BENCH_PFN)))
				jw_kdouble(&w, "dpa_over_pfn_snapshot",
					   r->snap.ns / rows[BENCH_PFN][k].snap.ns);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	bench_json_end(&w);
}

int bench_hmm_range_fault(int argc, char **argv)
{
	struct bench b = { .name = "hmm_range_fault" };
	struct args a = { .size = 64 * MIB, .repeat = 5, .designs = (1u << BENCH_NR_DESIGNS) - 1 };
	struct row rows[BENCH_NR_DESIGNS][NR_ROWS];
	struct bench_gpu g = { 0 };
	uint64_t *pfns = NULL;
	char s1[32];
	int rc = parse_args(&b, &a, argc, argv), ndesigns = 0;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	memset(rows, 0, sizeof(rows));
	for (int d = 0; d < BENCH_NR_DESIGNS; d++)
		ndesigns += !!(a.designs & (1u << d));
	if (bench_guard(&b, bench_gpu_host_bytes(a.size) + a.size / 512, "hmm_range_fault",
			"a smaller --size"))
		return EXIT_FAIL;
	pfns = calloc(a.size >> 12, sizeof(*pfns));
	if (!pfns)
		return bench_fail(&b, "cannot allocate %llu hmm_pfns", ULL(a.size >> 12));
	progress_init(b.quiet);
	if (!b.json)
		printf("bench hmm_range_fault: %s (%llu pages) per row, best of %d calls; ratios "
		       "to a pagemap read of the same range\n", fmt_size_human(a.size, s1, sizeof(s1)),
		       ULL(a.size >> 12), a.repeat);
	/* one machine at a time: the rows of both are kept for the report */
	for (int d = 0; d < BENCH_NR_DESIGNS; d++) {
		if (!(a.designs & (1u << d)))
			continue;
		progress_label("bench hmm_range_fault: boot (%s)", bench_design_names[d]);
		rc = bench_gpu_create(&b, &g, d, a.size) ?:
		     run_rows(&b, &g, d, &a, false, false, pfns, rows[d]) ?:
		     run_rows(&b, &g, d, &a, true, false, pfns, rows[d]) ?:
		     run_rows(&b, &g, d, &a, false, true, pfns, rows[d]);
		bench_gpu_destroy(&g);
		b.m = NULL;
		if (rc)
			goto out;
		if (!b.json)
			hmm_report_text(&a, d, rows[d]);
	}
	if (b.json) {
		hmm_report_json(&b, &a, rows);
	} else if (ndesigns == BENCH_NR_DESIGNS) {
		printf("dpa/pfn (snapshot time):");
		for (int k = 0; k < NR_ROWS; k++)
			printf(" %s %.2fx%s", row_names[k],
			       rows[BENCH_DPA][k].snap.ns / rows[BENCH_PFN][k].snap.ns,
			       k + 1 < NR_ROWS ? "," : "\n");
	}
	rc = EXIT_OK;
out:
	progress_clear();
	free(pfns);
	return rc;
}
