/*
 * `zonedev bench p2pdma`: the two costs a P2PDMA user pays. find_many:
 * pci_p2pmem_find_many() for a pair of clients over a topology of N
 * endpoint functions (host bridges of two root ports, each with a 32-port
 * switch of 4-function endpoints) with P published providers spread over
 * it, cold (every provider's map type to each client computed and cached)
 * and warm (answered from the caches), 16 pairs of clients never asked
 * about before the cold calls; the baseline, same run, is the bare
 * path walk those computations start with: for each provider and client,
 * the upstream chains climbed to their first common bridge. DMA mapping:
 * dma_map_sg + dma_unmap_sg of an S-segment list, segments per second, for
 * RAM through dma-direct, RAM through an IOMMU (IOVA ranges) and a peer's
 * p2pmem under the same switch (BUS_ADDR); the baseline is computing each
 * segment's physical address, the least any mapping does per segment.
 * Best of --repeat everywhere.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/dma-mapping.h>
#include <zonedev/gfp.h>
#include <zonedev/pgalloc.h>
#include <zonedev/pci.h>
#include "bench.h"
#include "cli.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define FNS 4                      /* functions per endpoint device */
#define PER_HOST (2 * 32 * FNS)    /* functions per host bridge */
#define PAIRS 16                   /* client pairs find_many is asked about */
#define MAPS 200                   /* map + unmap cycles per timed run */

struct args {
	uint64_t endpoints, providers, segments;
	const char *providers_arg;
	int repeat;
};

struct topo {
	struct zd_pci_dev **fn;        /* every endpoint function, in build order */
	size_t n;
	struct zd_pci_dev *iommu_client;
};

enum { MAP_DIRECT, MAP_IOMMU, MAP_P2P, NR_MAPS };
static const char *const map_names[NR_MAPS] = { "ram-direct", "ram-iommu", "p2p-bus-addr" };

struct result {
	double cold_ns, warm_ns, walk_ns;     /* per find_many call, per walk of its pairs */
	double map_ns[NR_MAPS], base_ns;      /* per map + unmap of the list, per address pass */
	unsigned found;                        /* calls that found a provider */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zonedev bench p2pdma [--endpoints N] [--providers P] [--segments S]\n"
		"                            [--repeat N] [--quiet] [--json]\n"
		"\n"
		"pci_p2pmem_find_many() for pairs of clients over a topology of N endpoint\n"
		"functions with P published providers, cold (map types computed) and warm\n"
		"(cached), in microseconds and as a ratio to the bare upstream-path walk of\n"
		"the same provider and client pairs; and dma_map_sg + dma_unmap_sg of an\n"
		"S-segment list in segments per second for RAM (dma-direct), RAM behind an\n"
		"IOMMU and a peer's p2pmem under the same switch, as a ratio to computing\n"
		"each segment's physical address. All measured in the same run.\n"
		"\n"
		"options:\n"
		"  --endpoints N      endpoint functions, 32-4096 (default 1024)\n"
		"  --providers P      of them publishing a 2 MiB p2pmem BAR, 1-N (default 64)\n"
		"  --segments S       segments per mapped list, 1-1024 (default 256)\n"
		"  --repeat N         runs, the best is reported (also --repeats; default 5)\n"
		"  -q, --quiet        no progress line\n"
		"  -j, --json         one JSON document on stdout (also when the run fails)\n"
		"  -h, --help         show this help\n"
		"\n"
		"exit status: 0 ok, 1 the benchmark failed, 2 usage error\n");
}

static int count_opt(const struct bench *b, const char *opt, const char *val, uint64_t lo,
		     uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || end == val || *end || val[0] == '-')
		return bench_bad(b, opt, val, "not a number");
	if (v < lo || v > hi)
		return bench_bad(b, opt, val, "not in %llu-%llu", ULL(lo), ULL(hi));
	*out = v;
	return 0;
}

static int parse_args(struct bench *b, struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoints", required_argument, NULL, 'e' },
		{ "providers", required_argument, NULL, 'p' },
		{ "segments", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' }, { "repeats", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	int c;

	optind = 1;
	while ((c = bench_getopt(b, argc, argv, opts)) != -1) {
		switch (c) {
		case 'e':
			if (count_opt(b, "--endpoints", optarg, 2 * PAIRS, 4096, &a->endpoints))
				return EXIT_USAGE;
			break;
		case 'p':
			if (count_opt(b, "--providers", optarg, 1, 4096, &a->providers))
				return EXIT_USAGE;
			a->providers_arg = optarg;
			break;
		case 's':
			if (count_opt(b, "--segments", optarg, 1, 1024, &a->segments))
				return EXIT_USAGE;
			break;
		case 'h': usage(stdout); return -1;
		default:
			if (bench_common_opt(b, c, optarg, &a->repeat, NULL))
				return EXIT_USAGE;
		}
	}
	if (a->providers > a->endpoints)
		return bench_bad(b, "--providers", a->providers_arg, "more providers (%llu) than endpoints (%llu)",
				 ULL(a->providers), ULL(a->endpoints));
	return bench_no_operands(b, argc, argv);
}

/* Host bridges of PER_HOST functions each (whitelisted Intel), then one
 * more with an IOMMU for the IOVA client. */
static int build(struct bench *b, struct zd_machine *m, const struct args *a, struct topo *t)
{
	struct zd_pci_endpoint_desc ep = { .vendor = 0x144d, .device = 0xa808, .nr_functions = FNS,
					   .bar_size = { 2 * MIB } };
	size_t hosts = (size_t)((a->endpoints + PER_HOST - 1) / PER_HOST);

	t->fn = calloc(hosts * PER_HOST, sizeof(*t->fn));
	if (!t->fn)
		return bench_fail(b, "out of memory for %zu functions", hosts * PER_HOST);
	for (size_t h = 0; h <= hosts; h++) {
		struct zd_pci_host_bridge_desc hd = {
			.domain = -1, .mem_start = 64 * GIB + h * GIB, .mem_size = GIB,
			.vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020, .iommu = h == hosts,
		};
		struct zd_pci_host_bridge *hb = zd_pci_host_bridge_add(m, &hd);

		if (ZD_IS_ERR(hb))
			return bench_fail(b, "host bridge %zu: %s", h, zd_errno_name((int)ZD_PTR_ERR(hb)));
		if (h == hosts) {
			t->iommu_client = zd_pci_endpoint_add(zd_pci_root_port_add(hb, 0x8086, 0x2030),
							      &ep);
			break;
		}
		for (int rp = 0; rp < 2; rp++) {
			struct zd_pci_dev *down[32];

			zd_pci_switch_add(zd_pci_root_port_add(hb, 0x8086, (uint16_t)(0x2030 + rp)),
					  0x10b5, 0x8747, 32, down);
			for (int d = 0; d < 32 && t->n < a->endpoints; d++) {
				struct zd_pci_dev *f0 = zd_pci_endpoint_add(down[d], &ep);

				if (ZD_IS_ERR_OR_NULL(f0))
					return bench_fail(b, "endpoint %zu could not be added", t->n);
				for (unsigned f = 0; f < FNS && t->n < a->endpoints; f++)
					t->fn[t->n++] = zd_pci_get_slot(m, hb->domain, f0->bus->number,
									f0->devfn + f);
			}
		}
	}
	for (uint64_t i = 0; i < a->providers; i++) {
		struct zd_pci_dev *p = t->fn[i * t->n / a->providers];
		int rc = zd_pci_p2pdma_add_resource(p, 0, 0, 0);

		if (rc)
			return bench_fail(b, "provider %s: add_resource: %s", p->name, zd_errno_name(rc));
		zd_pci_p2pmem_publish(p, true);
	}
	return 0;
}

/* The baseline: each provider's and each client's upstream chain climbed
 * to their first common bridge, as calc_map_type_and_dist begins. */
static unsigned walk(struct zd_pci_dev **prov, size_t np, struct zd_pci_dev **cl, size_t nc)
{
	unsigned hops = 0;

	for (size_t i = 0; i < np; i++)
		for (size_t k = 0; k < nc; k++)
			for (struct zd_pci_dev *a = prov[i]; a; a = zd_pci_upstream_bridge(a)) {
				struct zd_pci_dev *c = cl[k];

				while (c && c != a)
					c = zd_pci_upstream_bridge(c), hops++;
				if (c)
					break;
			}
	return hops;
}

/* PAIRS pairs of distinct clients (7919 is a prime above any N, so the
 * indices do not repeat), spread over the topology: a few under one
 * switch, most not. */
static void pair(const struct topo *t, unsigned k, struct zd_pci_dev **cl)
{
	cl[0] = t->fn[(2 * k * 7919u) % t->n];
	cl[1] = t->fn[((2 * k + 1) * 7919u) % t->n];
}

/* Cold: the first call for each pair, which computes and caches every
 * provider's map type to both clients (the mean: each is a first call);
 * warm: the same calls again, best of --repeat, as the walk is. */
static void bench_find(const struct args *a, const struct topo *t, struct zd_pci_dev **prov,
		       struct result *res)
{
	struct zd_machine *m = t->fn[0]->bus->host->m;
	volatile unsigned sink = 0;
	struct zd_pci_dev *cl[2];
	double t0;

	t0 = bench_now_ns();
	for (unsigned k = 0; k < PAIRS; k++) {
		pair(t, k, cl);
		res->found += zd_pci_p2pmem_find_many(m, cl, 2) != NULL;
	}
	res->cold_ns = (bench_now_ns() - t0) / PAIRS;
	for (int r = 0; r < a->repeat; r++) {
		double w, k0;

		t0 = bench_now_ns();
		for (unsigned k = 0; k < PAIRS; k++) {
			pair(t, k, cl);
			zd_pci_p2pmem_find_many(m, cl, 2);
		}
		w = (bench_now_ns() - t0) / PAIRS;
		t0 = bench_now_ns();
		for (unsigned k = 0; k < PAIRS; k++) {
			pair(t, k, cl);
			sink += walk(prov, (size_t)a->providers, cl, 2);
		}
		k0 = (bench_now_ns() - t0) / PAIRS;
		if (!r || w < res->warm_ns)
			res->warm_ns = w;
		if (!r || k0 < res->walk_ns)
			res->walk_ns = k0;
	}
	(void)sink;
}

static int bench_maps(struct bench *b, struct zd_machine *m, const struct args *a,
		      const struct topo *t, struct result *res)
{
	size_t n = (size_t)a->segments;
	struct zd_scatterlist *sg = calloc(n, sizeof(*sg));
	struct zd_page **pages = calloc(n, sizeof(*pages)), **peer = calloc(n, sizeof(*peer));
	/* the first provider and a function under its switch: BUS_ADDR */
	struct zd_pci_dev *prov = t->fn[0], *client = t->fn[FNS];
	char *p2p = zd_pci_alloc_p2pmem(prov, n * m->arch.page_size);
	int rc = 0;

	if (!sg || !pages || !peer || !p2p) {
		rc = bench_fail(b, "no room for %zu segments%s", n, p2p ? "" : " of p2pmem");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!(pages[i] = zd_alloc_pages(m, ZD_GFP_KERNEL, 0))) {
			rc = bench_fail(b, "out of RAM pages");
			goto out;
		}
	for (size_t i = 0; i < n; i++)
		peer[i] = zd_pci_p2pmem_virt_to_page(prov, p2p + i * m->arch.page_size);
	for (int k = 0; k < NR_MAPS; k++) {
		struct zd_pci_dev *dev = k == MAP_IOMMU ? t->iommu_client : client;

		progress_label("bench p2pdma: dma_map_sg %s", map_names[k]);
		for (int r = 0; r < a->repeat; r++) {
			double t0 = bench_now_ns();

			for (int i = 0; i < MAPS && !rc; i++) {
				for (size_t s = 0; s < n; s++)
					sg[s] = (struct zd_scatterlist){
						.page = k == MAP_P2P ? peer[s] : pages[s],
						.length = (unsigned)m->arch.page_size };
				if (zd_dma_map_sg(dev, sg, (int)n, ZD_DMA_TO_DEVICE) != (int)n)
					rc = bench_fail(b, "dma_map_sg %s failed", map_names[k]);
				else
					zd_dma_unmap_sg(dev, sg, (int)n, ZD_DMA_TO_DEVICE);
			}
			t0 = (bench_now_ns() - t0) / MAPS;
			if (!r || t0 < res->map_ns[k])
				res->map_ns[k] = t0;
		}
	}
	for (int r = 0; r < a->repeat; r++) {
		double t0 = bench_now_ns();

		for (int i = 0; i < MAPS; i++)
			for (size_t s = 0; s < n; s++) {
				sg[s] = (struct zd_scatterlist){ .page = pages[s],
								 .length = (unsigned)m->arch.page_size };
				sg[s].dma_address = zd_page_to_pfn(m, sg[s].page) << m->arch.page_shift;
				__asm__ volatile("" : : "r"(&sg[s]) : "memory");
			}
		t0 = (bench_now_ns() - t0) / MAPS;
		if (!r || t0 < res->base_ns)
			res->base_ns = t0;
	}
out:
	for (size_t i = 0; pages && i < n && pages[i]; i++)
		zd___free_pages(m, pages[i], 0);
	if (p2p)
		zd_pci_free_p2pmem(prov, p2p, n * m->arch.page_size);
	free(pages);
	free(peer);
	free(sg);
	return rc;
}

static void report(const struct bench *b, const struct args *a, const struct result *r)
{
	double segs = (double)a->segments;

	progress_clear();
	if (b->json) {
		struct jw w;

		bench_json_begin(&w, b);
		jw_ku64(&w, "endpoints", a->endpoints);
		jw_ku64(&w, "providers", a->providers);
		jw_ku64(&w, "segments", a->segments);
		jw_ku64(&w, "repeat", (uint64_t)a->repeat);
		jw_key(&w, "find_many");
		jw_obj_begin(&w);
		jw_kdouble(&w, "cold_us", r->cold_ns / 1e3);
		jw_kdouble(&w, "warm_us", r->warm_ns / 1e3);
		jw_kdouble(&w, "walk_us", r->walk_ns / 1e3);
		jw_kdouble(&w, "cold_ratio_to_walk", r->cold_ns / r->walk_ns);
		jw_kdouble(&w, "warm_ratio_to_walk", r->warm_ns / r->walk_ns);
		jw_ku64(&w, "found", r->found);
		jw_obj_end(&w);
		jw_key(&w, "dma_map");
		jw_obj_begin(&w);
		jw_kdouble(&w, "baseline_segments_per_s", segs / r->base_ns * 1e9);
		for (int k = 0; k < NR_MAPS; k++) {
			jw_key(&w, map_names[k]);
			jw_obj_begin(&w);
			jw_kdouble(&w, "segments_per_s", segs / r->map_ns[k] * 1e9);
			jw_kdouble(&w, "ratio_to_baseline", r->map_ns[k] / r->base_ns);
			jw_obj_end(&w);
		}
		jw_obj_end(&w);
		bench_json_end(&w);
		return;
	}
	printf("bench p2pdma: %llu endpoint functions, %llu providers, best of %d\n",
	       ULL(a->endpoints), ULL(a->providers), a->repeat);
	printf("  find_many (2 clients)   cold %9.2f us %7.2fx walk   warm %9.2f us %7.2fx walk"
	       "   (walk %.2f us; %u of %d found a provider)\n", r->cold_ns / 1e3,
	       r->cold_ns / r->walk_ns, r->warm_ns / 1e3, r->warm_ns / r->walk_ns,
	       r->walk_ns / 1e3, r->found, PAIRS);
	printf("  dma_map_sg + unmap of %llu segments; baseline (physical addresses) %.1f M "
	       "segments/s\n", ULL(a->segments), segs / r->base_ns * 1e3);
	for (int k = 0; k < NR_MAPS; k++)
		printf("    %-14s %8.2f M segments/s %7.2fx baseline\n", map_names[k],
		       segs / r->map_ns[k] * 1e3, r->map_ns[k] / r->base_ns);
	fflush(stdout);
}

int bench_p2pdma(int argc, char **argv)
{
	struct bench b = { .name = "p2pdma" };
	struct args a = { .endpoints = 1024, .providers = 64, .segments = 256, .repeat = 5 };
	struct zd_mem_range ram[] = { { .start = 0, .size = GIB } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 46, .ram = ram, .nr_ram = 1 };
	struct result res = { 0 };
	struct topo t = { 0 };
	struct zd_pci_dev **prov;
	int rc = parse_args(&b, &a, argc, argv);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	/* struct pages of the providers' BARs and the machine's own RAM memmap */
	if (bench_guard(&b, a.providers * (2 * MIB / 4096) * 64 + 64 * MIB, "the P2PDMA topology",
			"fewer --providers"))
		return EXIT_FAIL;
	progress_init(b.quiet);
	progress_label("bench p2pdma: boot and topology");
	b.m = zd_machine_create(&d);
	if (ZD_IS_ERR_OR_NULL(b.m)) {
		b.m = NULL;
		return bench_fail(&b, "the machine could not boot: %s", zd_machine_create_error());
	}
	rc = build(&b, b.m, &a, &t);
	prov = calloc((size_t)a.providers, sizeof(*prov));
	if (!rc && !prov)
		rc = bench_fail(&b, "out of memory");
	if (!rc) {
		for (uint64_t i = 0; i < a.providers; i++)
			prov[i] = t.fn[i * t.n / a.providers];
		progress_label("bench p2pdma: find_many");
		bench_find(&a, &t, prov, &res);
		rc = bench_maps(&b, b.m, &a, &t, &res);
	}
	if (!rc)
		report(&b, &a, &res);
	free(prov);
	free(t.fn);
	zd_machine_destroy(b.m);
	return rc ? rc : EXIT_OK;
}
