/*
 * The buddy allocator (src/mm/page_alloc.c) on an x86_64 machine with boot
 * RAM in DMA32 ([0, 512 MiB)) and in Normal ([4 GiB, 4.5 GiB)).
 *
 * Asserts:
 *  - every order 0..MAX_PAGE_ORDER can be allocated, the pfn is aligned to
 *    the order, the head has refcount 1, PG_head and the order, tails point
 *    at the head; free counts drop by exactly 2^order;
 *  - freeing merges back: after freeing everything (also after a seeded
 *    random mix, freed in random order) free_area[] per zone and the free
 *    page counts are identical to the state right after boot, and the free
 *    lists are well formed (every entry a buddy of that order, aligned,
 *    list length == nr_free, sum == nr_free_pages);
 *  - live allocations never overlap;
 *  - exhaustion returns NULL and logs "page allocation failure"; an order
 *    above MAX_PAGE_ORDER is NULL too;
 *  - __GFP_DMA32 allocations lie below 4 GiB, exhausting DMA32 leaves Normal
 *    untouched and GFP_KERNEL still succeeds from Normal;
 *  - __GFP_ZERO zeroes contents that were dirty before;
 *  - page contents are real memory: two pages keep different patterns, and
 *    the pages of a compound block are contiguous in page_address;
 *  - a double free fires exactly one WARN and leaves the free lists intact
 *    (both when the page is still a free block head and when it was merged).
 * Why: the buddy allocator is what onlined memory is for; offlining and the
 * concurrency tests rely on its counts being exact.
 */
#include <zonedev/zonedev.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)

static struct zd_machine *m;
static unsigned max_order;

struct fsnap {
	long nr_free[ZD_MAX_NR_ZONES];
	unsigned long fa[ZD_MAX_NR_ZONES][ZD_MAX_ORDER_LIMIT + 1];
};

static struct zd_zone *zone(enum zd_zone_type z)
{
	return &m->node_data[0]->node_zones[z];
}

static void fsnap_take(struct fsnap *s)
{
	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		s->nr_free[z] = zone(z)->nr_free_pages;
		for (int o = 0; o <= ZD_MAX_ORDER_LIMIT; o++)
			s->fa[z][o] = zone(z)->free_area[o].nr_free;
	}
}

static bool fsnap_same(const struct fsnap *a, const struct fsnap *b)
{
	bool same = true;

	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		if (a->nr_free[z] != b->nr_free[z]) {
			diag("zone %s nr_free_pages %ld -> %ld", zd_zone_names[z], a->nr_free[z],
			     b->nr_free[z]);
			same = false;
		}
		for (int o = 0; o <= ZD_MAX_ORDER_LIMIT; o++)
			if (a->fa[z][o] != b->fa[z][o]) {
				diag("zone %s free_area[%d] %lu -> %lu", zd_zone_names[z], o,
				     a->fa[z][o], b->fa[z][o]);
				same = false;
			}
	}
	return same;
}

/* Walk every free list: true if all entries are sane and counts agree. */
static bool free_lists_ok(void)
{
	bool good = true;

	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		struct zd_zone *zn = zone(z);
		long pages = 0;
		for (unsigned o = 0; o <= max_order; o++) {
			struct zd_list_head *head = &zn->free_area[o].free_list, *e;
			unsigned long n = 0;
			for (e = head->next; e != head && n <= zn->free_area[o].nr_free + 1; e = e->next) {
				struct zd_page *p = (struct zd_page *)((char *)e - offsetof(struct zd_page, lru));
				uint64_t pfn = zd_page_to_pfn(m, p);
				if (!zd_page_is_buddy(p) || p->private != o || (pfn & ((1ULL << o) - 1)) ||
				    zd_page_zone(m, p) != zn) {
					diag("zone %s order %u: bad entry pfn %#llx (buddy %d private %lu)",
					     zd_zone_names[z], o, (unsigned long long)pfn,
					     zd_page_is_buddy(p), p->private);
					good = false;
				}
				n++;
			}
			if (n != zn->free_area[o].nr_free) {
				diag("zone %s order %u: list length %lu, nr_free %lu", zd_zone_names[z], o,
				     n, zn->free_area[o].nr_free);
				good = false;
			}
			pages += (long)n << o;
		}
		if (pages != zn->nr_free_pages) {
			diag("zone %s: %ld pages on lists, nr_free_pages %ld", zd_zone_names[z], pages,
			     zn->nr_free_pages);
			good = false;
		}
	}
	return good;
}

static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

struct held {
	struct zd_page *p;
	unsigned order;
};

static void every_order(const struct fsnap *boot)
{
	struct held h[ZD_MAX_ORDER_LIMIT + 1];
	unsigned bad_align = 0, bad_meta = 0, bad_count = 0;

	for (unsigned o = 0; o <= max_order; o++) {
		unsigned long before = zd_global_free_pages(m);
		struct zd_page *p = zd_alloc_pages(m, ZD_GFP_KERNEL, o);

		h[o].p = p;
		h[o].order = o;
		if (!ok(p != NULL, "alloc order %u", o))
			continue;
		uint64_t pfn = zd_page_to_pfn(m, p);
		if (pfn & ((1ULL << o) - 1))
			bad_align++;
		if (zd_global_free_pages(m) != before - (1UL << o))
			bad_count++;
		if (zd_page_ref_count(p) != 1 || zd_page_is_buddy(p) ||
		    (o && (!zd_test_page_flag(p, ZD_PG_head) || (p[1].flags & 0xff) != o)))
			bad_meta++;
		for (uint64_t i = 1; i < (1ULL << o); i++)
			if (zd_compound_head(p + i) != p)
				bad_meta++;
	}
	is_int(bad_align, 0, "every order's pfn is aligned to 2^order");
	is_int(bad_count, 0, "free pages drop by exactly 2^order per allocation");
	is_int(bad_meta, 0, "refcount 1, head flag and order set, tails point at the head");
	for (unsigned o = 0; o <= max_order; o++)
		if (h[o].p)
			zd___free_pages(m, h[o].p, o);
	struct fsnap now;
	fsnap_take(&now);
	ok(fsnap_same(boot, &now), "after freeing all orders free_area equals the boot state");
	ok(free_lists_ok(), "free lists well formed");
	ok(zd_alloc_pages(m, ZD_GFP_KERNEL, max_order + 1) == NULL, "order MAX_PAGE_ORDER+1 -> NULL");
	ok(zd_log_contains(m, "exceeds MAX_PAGE_ORDER"), "and it is logged");
}

static void random_mix(const struct fsnap *boot)
{
	enum { N = 4000 };
	struct held *h = calloc(N, sizeof(*h));
	uint64_t top = PFN(4 * G + 512 * M);
	unsigned char *used = calloc(top, 1);
	unsigned overlap = 0, misalign = 0, got = 0;

	for (int i = 0; i < N; i++) {
		unsigned o = (unsigned)(rnd() % (max_order > 6 ? 7 : max_order + 1));
		struct zd_page *p = zd_alloc_pages(m, (rnd() & 1) ? ZD_GFP_KERNEL : ZD___GFP_DMA32, o);
		if (!p)
			continue;
		uint64_t pfn = zd_page_to_pfn(m, p);
		h[got].p = p;
		h[got++].order = o;
		misalign += (pfn & ((1ULL << o) - 1)) != 0;
		for (uint64_t k = 0; k < (1ULL << o) && pfn + k < top; k++)
			overlap += used[pfn + k]++ != 0;
	}
	is_int(got, N, "all %d random allocations (orders 0..6) succeed", N);
	is_int(misalign, 0, "random allocations aligned");
	is_int(overlap, 0, "no two live allocations share a page");
	/* Fisher-Yates, then free in that order. */
	for (unsigned i = got; i > 1; i--) {
		unsigned j = (unsigned)(rnd() % i);
		struct held t = h[i - 1];
		h[i - 1] = h[j];
		h[j] = t;
	}
	for (unsigned i = 0; i < got; i++)
		zd___free_pages(m, h[i].p, h[i].order);
	struct fsnap now;
	fsnap_take(&now);
	ok(fsnap_same(boot, &now), "freed in random order: free_area merges back to the boot state");
	ok(free_lists_ok(), "free lists well formed");
	free(used);
	free(h);
}

static void exhaustion(const struct fsnap *boot)
{
	unsigned long total = zd_global_free_pages(m), n = 0, cap = total + 16;
	struct held *h = calloc(cap, sizeof(*h));
	unsigned long pages = 0;

	for (unsigned o = max_order + 1; o-- > 0;) {
		struct zd_page *p;
		while (n < cap && (p = zd_alloc_pages(m, ZD_GFP_KERNEL, o))) {
			h[n].p = p;
			h[n++].order = o;
			pages += 1UL << o;
		}
	}
	is_u64(pages, total, "everything could be allocated (%lu pages)", total);
	is_u64(zd_global_free_pages(m), 0, "no free page left");
	unsigned long seq = zd_log_seq(m);
	ok(zd_alloc_pages(m, ZD_GFP_KERNEL, 0) == NULL, "one more order-0 allocation -> NULL");
	ok(zd_log_seq(m) > seq && zd_log_contains(m, "page allocation failure"),
	   "the failure is logged");
	for (unsigned long i = 0; i < n; i++)
		zd___free_pages(m, h[i].p, h[i].order);
	struct fsnap now;
	fsnap_take(&now);
	ok(fsnap_same(boot, &now), "after freeing everything free_area equals the boot state");
	free(h);
}

static void dma32(const struct fsnap *boot)
{
	uint64_t limit = PFN(4 * G);
	long normal_free = zone(ZD_ZONE_NORMAL)->nr_free_pages;
	unsigned long n = 0, cap = PFN(512 * M) + 16, above = 0;
	struct held *h = calloc(cap, sizeof(*h));
	struct zd_page *p;

	/* Boot reservations sit in DMA32 (the image at 16 MiB, the memmap and
	 * hash tables at the top of the lower range) and in DMA (the first
	 * MiB); the rest is managed. */
	is_u64(zone(ZD_ZONE_DMA)->present_pages + zone(ZD_ZONE_DMA32)->present_pages, PFN(512 * M),
	       "DMA and DMA32 hold the 512 MiB below 4 GiB");
	is_u64(zone(ZD_ZONE_NORMAL)->present_pages, PFN(512 * M), "Normal holds the 512 MiB above");
	for (unsigned o = max_order + 1; o-- > 0;) {
		while (n < cap && (p = zd_alloc_pages(m, ZD___GFP_DMA32, o))) {
			h[n].p = p;
			h[n++].order = o;
			above += zd_page_to_pfn(m, p) + (1ULL << o) > limit;
		}
	}
	is_int(above, 0, "every __GFP_DMA32 block lies below 4 GiB");
	is_u64(zone(ZD_ZONE_DMA32)->nr_free_pages, 0, "DMA32 exhausted");
	is_u64(zone(ZD_ZONE_NORMAL)->nr_free_pages, normal_free, "Normal untouched by DMA32 requests");
	ok(zd_alloc_pages(m, ZD___GFP_DMA32, 0) == NULL, "DMA32 request fails once DMA32 is empty");
	p = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
	ok(p && zd_page_to_pfn(m, p) >= limit, "GFP_KERNEL still succeeds, from Normal");
	if (p)
		zd___free_pages(m, p, 0);
	for (unsigned long i = 0; i < n; i++)
		zd___free_pages(m, h[i].p, h[i].order);
	struct fsnap now;
	fsnap_take(&now);
	ok(fsnap_same(boot, &now), "DMA32 blocks merge back");
	free(h);
}

static void contents(void)
{
	enum { N = 64 };
	struct zd_page *pg[N];
	uint64_t dirty[N];
	unsigned reused = 0, nonzero = 0;

	/* Dirty N pages, free them, then ask for N zeroed pages. */
	for (int i = 0; i < N; i++) {
		pg[i] = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
		if (!pg[i])
			return (void)ok(0, "allocation for the zero test");
		dirty[i] = zd_page_to_pfn(m, pg[i]);
		memset(zd_page_address(m, pg[i]), 0xab, 4096);
	}
	for (int i = N; i-- > 0;)
		zd___free_pages(m, pg[i], 0);
	for (int i = 0; i < N; i++) {
		pg[i] = zd_alloc_pages(m, ZD_GFP_KERNEL | ZD___GFP_ZERO, 0);
		const unsigned char *c = zd_page_address(m, pg[i]);
		for (int k = 0; k < 4096; k++)
			nonzero += c[k] != 0;
		for (int j = 0; j < N; j++)
			reused += zd_page_to_pfn(m, pg[i]) == dirty[j];
	}
	ok(reused > 0, "__GFP_ZERO got back %u of the dirtied pages", reused);
	is_int(nonzero, 0, "__GFP_ZERO pages read as zero");
	for (int i = 0; i < N; i++)
		zd___free_pages(m, pg[i], 0);

	/* Real memory: two pages hold different patterns. */
	struct zd_page *a = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
	struct zd_page *b = zd_alloc_pages(m, ZD___GFP_DMA32, 0);
	if (!ok(a && b && a != b, "two pages"))
		return;
	unsigned char *pa = zd_page_address(m, a), *pb = zd_page_address(m, b);
	ok(pa && pb && pa != pb, "distinct page_address");
	memset(pa, 0x11, 4096);
	memset(pb, 0x22, 4096);
	unsigned wrong = 0;
	for (int k = 0; k < 4096; k++)
		wrong += (pa[k] != 0x11) + (pb[k] != 0x22);
	is_int(wrong, 0, "each page reads back its own pattern");
	ok(memcmp(pa, pb, 4096) != 0, "the two pages differ");
	zd___free_pages(m, a, 0);
	zd___free_pages(m, b, 0);

	/* A compound block's pages are contiguous memory. */
	struct zd_page *c = zd_alloc_pages(m, ZD_GFP_KERNEL, 3);
	if (ok(c != NULL, "order-3 block")) {
		char *base = zd_page_address(m, c);
		unsigned contig = 0;
		for (int i = 0; i < 8; i++) {
			contig += (char *)zd_page_address(m, c + i) == base + i * 4096;
			memset(base + i * 4096, 0x40 + i, 4096);
		}
		is_int(contig, 8, "page_address(head + i) == page_address(head) + i * 4 KiB");
		ok(((unsigned char *)zd_page_address(m, c + 5))[100] == 0x45,
		   "writing through the head's address reaches the 6th page");
		zd___free_pages(m, c, 3);
	}
}

/* Two order-0 pages that are each other's buddy; the pages taken on the
 * way (odd pieces boot reservations left first in line) go to spare. */
static bool buddy_pair(struct zd_page **p, struct zd_page **q, struct zd_page **spare, int *ns)
{
	struct zd_page *prev = NULL, *cur;

	while (*ns < 63 && (cur = zd_alloc_pages(m, ZD_GFP_KERNEL, 0))) {
		if (prev && zd_page_to_pfn(m, cur) == (zd_page_to_pfn(m, prev) ^ 1)) {
			*p = prev;
			*q = cur;
			return true;
		}
		if (prev)
			spare[(*ns)++] = prev;
		prev = cur;
	}
	if (prev)
		spare[(*ns)++] = prev;
	return false;
}

static void double_free(const struct fsnap *boot)
{
	struct fsnap s1, s2;
	unsigned long w;

	/* (a) the page stays a free block head: its buddy is held. Boot
	 * reservations leave odd order-0 pieces first in line; take pages
	 * until two buddies come out in a row. */
	struct zd_page *p = NULL, *q2 = NULL, *spare[64];
	int ns = 0;
	if (!ok(buddy_pair(&p, &q2, spare, &ns), "allocate a page and its buddy"))
		return;
	zd___free_pages(m, p, 0);
	ok(zd_page_is_buddy(p), "the freed page is a free block head (buddy held)");
	fsnap_take(&s1);
	w = zd_warn_count(m);
	zd___free_pages(m, p, 0);
	is_u64(zd_warn_count(m), w + 1, "double free of a free head WARNs once");
	fsnap_take(&s2);
	ok(fsnap_same(&s1, &s2), "and changes no free count");
	ok(free_lists_ok(), "free lists intact");
	zd___free_pages(m, q2, 0);

	/* (b) the freed page merged into a larger block headed elsewhere. */
	struct zd_page *a = NULL, *b = NULL;
	if (!ok(buddy_pair(&a, &b, spare, &ns), "two more pages, buddies"))
		return;
	struct zd_page *odd = (zd_page_to_pfn(m, a) & 1) ? a : b;
	zd___free_pages(m, a, 0);
	zd___free_pages(m, b, 0);
	while (ns)
		zd___free_pages(m, spare[--ns], 0);
	fsnap_take(&s1);
	ok(fsnap_same(boot, &s1), "both freed: back to the boot state (merged)");
	ok(!zd_page_is_buddy(odd), "the odd page is inside a merged block, not a head");
	w = zd_warn_count(m);
	zd___free_pages(m, odd, 0);
	is_u64(zd_warn_count(m), w + 1, "double free of a merged page WARNs once");
	fsnap_take(&s2);
	ok(fsnap_same(&s1, &s2), "and changes no free count");
	ok(free_lists_ok(), "free lists intact");
	/* The allocator still hands out that page correctly afterwards. */
	struct zd_page *r = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
	struct zd_page *r2 = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
	ok(r && r2 && zd_page_ref_count(r) == 1 && zd_page_ref_count(r2) == 1,
	   "later allocations get refcount 1");
	if (r)
		zd___free_pages(m, r, 0);
	if (r2)
		zd___free_pages(m, r2, 0);
	fsnap_take(&s2);
	ok(fsnap_same(boot, &s2), "free_area back to the boot state");
}

/* A free block in an isolated pageblock (MIGRATE_ISOLATE, a range going
 * offline) is never handed out; once movable again it is. */
static void isolated_blocks(void)
{
	uint64_t lo = PFN(4 * G), hi = lo + PFN(512 * M);
	struct zd_page *got[64];
	bool inside = false;

	zd_isolate_pageblocks(m, lo, hi - lo, true);
	for (int i = 0; i < 64; i++) {
		got[i] = zd_alloc_pages(m, ZD_GFP_KERNEL, (unsigned)(i % 4));
		inside |= got[i] && zd_page_to_pfn(m, got[i]) >= lo && zd_page_to_pfn(m, got[i]) < hi;
	}
	ok(!inside, "no allocation comes from isolated pageblocks (Normal is all isolated)");
	for (int i = 0; i < 64; i++)
		if (got[i])
			zd___free_pages(m, got[i], (unsigned)(i % 4));
	zd_isolate_pageblocks(m, lo, hi - lo, false);
	struct zd_page *n = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
	ok(n && zd_page_to_pfn(m, n) >= lo && zd_page_to_pfn(m, n) < hi,
	   "un-isolated, Normal serves a kernel allocation again");
	if (n)
		zd___free_pages(m, n, 0);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 512 * M, .node = 0 },
				      { .start = 4 * G, .size = 512 * M, .node = 0 } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 2 };
	struct fsnap boot;
	unsigned long warns;

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR_OR_NULL(m), "machine with 512 MiB DMA32 + 512 MiB Normal boots (%s)",
		zd_machine_create_error()))
		return done_testing();
	max_order = m->arch.max_page_order;
	is_int(max_order, 10, "x86_64 MAX_PAGE_ORDER 10");
	fsnap_take(&boot);
	struct zd_boot_memory bm;
	zd_boot_memory(m, &bm);
	is_u64(zd_global_free_pages(m), PFN(1 * G) - bm.reserved_pages,
	       "1 GiB less the boot reservations free after boot");
	/* memblock allocates top-down: the memmap and the hash tables sit at
	 * the top of Normal, swiotlb at the top of DMA32, the image at 16 MiB. */
	is_u64(zone(ZD_ZONE_NORMAL)->managed_pages,
	       PFN(512 * M) - bm.memmap_pages - bm.hash_pages,
	       "Normal manages 512 MiB less the boot memmap and hash tables");
	is_u64(zone(ZD_ZONE_DMA)->managed_pages, PFN(16 * M) - bm.low_pages,
	       "DMA manages 16 MiB less the first MiB");
	ok(bm.swiotlb_pages == PFN(64 * M) && bm.kernel_pages > 0, "64 MiB swiotlb, a kernel image");
	ok(free_lists_ok(), "boot free lists well formed");
	warns = zd_warn_count(m);

	every_order(&boot);
	random_mix(&boot);
	exhaustion(&boot);
	dma32(&boot);
	contents();
	isolated_blocks();
	{
		struct fsnap now;
		fsnap_take(&now);
		ok(fsnap_same(&boot, &now), "back to the boot state before the double-free checks");
	}
	is_u64(zd_warn_count(m), warns, "no WARN before the double frees");
	double_free(&boot);
	is_u64(zd_global_free_pages(m), zd_totalram_pages(m), "free pages == managed pages at the end");
	zd_machine_destroy(m);
	return done_testing();
}
