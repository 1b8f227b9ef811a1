/*
 * The sparse memory model at sub-section granularity (src/mm/sparse.c,
 * sparse-vmemmap.c, the __add_pages/__remove_pages half of memory_hotplug.c),
 * on an x86_64 machine with boot RAM [0, 2 GiB) and hot-adds at 64 GiB+.
 *
 * Asserts (spec/core.md §8 invariants 1, 2, 3, 5 and §2.3/§2.4/§3.5/§3.6):
 *  - Inv 1: __add_pages accepts exactly the sub-section aligned, non-empty
 *    spans of a table of offsets x sizes and returns -EINVAL for the rest;
 *    every rejection leaves section words, sub-section bitmaps, iomem and the
 *    populated vmemmap byte count as they were; add_memory() insists on
 *    memory-block alignment and a non-empty range.
 *  - Inv 2: a populated sub-section cannot be added twice (-EEXIST), removing
 *    an unpopulated one WARNs exactly once and changes nothing, an empty mask
 *    is -EINVAL, and removing the last sub-section zeroes the section word.
 *  - Inv 3: pfn_valid() of a hot-added section follows its sub-section
 *    bitmap exactly, pfns with high bits and sections >= NR_MEM_SECTIONS are
 *    invalid, and an early (boot) section is valid over its whole span even
 *    where boot RAM does not reach.
 *  - Inv 5: decode(section word) + pfn == pfn_to_page(pfn) == vmemmap + pfn
 *    for sampled valid pfns of random full and partial adds, and the encoded
 *    pointer never sets a flag bit.
 *  - Corner cases: first/last sub-section, a span crossing two sections,
 *    partial removal keeping the section and its other memmap, and full
 *    removal returning the memmap memory to the host (measured RSS).
 *  - vmem_altmap: the memmap of a 1 GiB add is carved from the device range
 *    with natural alignment (exact alloc/align), really lives in the device
 *    file (pwrite/pread), exhaustion is -ENOMEM with no state change, and
 *    teardown returns alloc to 0; invalid altmaps are -EINVAL.
 *  - 64 KiB pages: two sub-sections whose memmaps share one host page are
 *    populated and depopulated independently without losing each other's
 *    struct pages.
 * Why: these are the rules that make pfn_valid()/pfn_to_page() trustworthy
 * for ZONE_DEVICE's 2 MiB granularity; a slip corrupts or leaks memmap.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)
#define PG 4096ULL
#define PFN(x) ((uint64_t)(x) / PG)
#define SECT_PAGES 32768ULL   /* x86_64 PAGES_PER_SECTION */
#define SUB_PAGES 512ULL      /* x86_64 PAGES_PER_SUBSECTION */

static struct zd_mhp_params params = { .pgprot = 1 };

static int add(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	int rc;

	zd_mem_hotplug_begin(m);
	rc = zd___add_pages(m, 0, pfn, nr, &params);
	zd_mem_hotplug_done(m);
	return rc;
}

static int add_altmap(struct zd_machine *m, uint64_t pfn, uint64_t nr, struct zd_vmem_altmap *a)
{
	struct zd_mhp_params p = { .pgprot = 1, .altmap = a };
	int rc;

	zd_mem_hotplug_begin(m);
	rc = zd___add_pages(m, 0, pfn, nr, &p);
	zd_mem_hotplug_done(m);
	return rc;
}

static void rem(struct zd_machine *m, uint64_t pfn, uint64_t nr, struct zd_vmem_altmap *a)
{
	zd_mem_hotplug_begin(m);
	zd___remove_pages(m, pfn, nr, a);
	zd_mem_hotplug_done(m);
}

static unsigned long word_of(struct zd_machine *m, uint64_t nr)
{
	return zd_section_word(zd_nr_to_section(m, nr));
}

/* Sub-section bitmap word 0 (x86: 64 sub-sections fit one long); ~0 marks "no usage". */
static unsigned long map_of(struct zd_machine *m, uint64_t nr)
{
	struct zd_mem_section *ms = zd_nr_to_section(m, nr);

	if (!ms || !ms->usage)
		return 0;
	return ms->usage->subsection_map[0];
}

static bool has_usage(struct zd_machine *m, uint64_t nr)
{
	struct zd_mem_section *ms = zd_nr_to_section(m, nr);

	return ms && ms->usage;
}

/* ---------------------------------------------------------------- snapshots */

#define SNAP_MAX 8
struct snap {
	uint64_t first;
	unsigned n;
	unsigned long word[SNAP_MAX];
	bool usage[SNAP_MAX];
	unsigned long map[SNAP_MAX][ZD_SUBSECTION_MAP_LONGS];
	char *iomem;
	long mapped;
	uint64_t blocks;
};

static int count_block(const struct zd_memory_block *mb, void *arg)
{
	(void)mb;
	(*(uint64_t *)arg)++;
	return 0;
}

static void snap_take(struct zd_machine *m, struct snap *s, uint64_t first, unsigned n)
{
	memset(s, 0, sizeof(*s));
	s->first = first;
	s->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct zd_mem_section *ms = zd_nr_to_section(m, first + i);
		s->word[i] = zd_section_word(ms);
		s->usage[i] = ms && ms->usage;
		if (s->usage[i])
			memcpy(s->map[i], ms->usage->subsection_map, sizeof(s->map[i]));
	}
	s->iomem = tap_iomem_text(m);
	s->mapped = m->vmemmap_mapped_bytes;
	zd_for_each_memory_block(m, &s->blocks, count_block);
}

/* True if nothing differs; diag()s the first difference. */
static bool snap_same(const struct snap *a, const struct snap *b)
{
	bool same = true;

	for (unsigned i = 0; i < a->n; i++) {
		if (a->word[i] != b->word[i] || a->usage[i] != b->usage[i] ||
		    memcmp(a->map[i], b->map[i], sizeof(a->map[i]))) {
			diag("section %llu: word %#lx -> %#lx, usage %d -> %d, map %#lx -> %#lx",
			     (unsigned long long)(a->first + i), a->word[i], b->word[i], a->usage[i],
			     b->usage[i], a->map[i][0], b->map[i][0]);
			same = false;
		}
	}
	if (strcmp(a->iomem, b->iomem)) {
		diag("iomem changed:\n%s---\n%s", a->iomem, b->iomem);
		same = false;
	}
	if (a->mapped != b->mapped) {
		diag("vmemmap_mapped_bytes %ld -> %ld", a->mapped, b->mapped);
		same = false;
	}
	if (a->blocks != b->blocks) {
		diag("memory blocks %llu -> %llu", (unsigned long long)a->blocks,
		     (unsigned long long)b->blocks);
		same = false;
	}
	return same;
}

static void snap_free(struct snap *s)
{
	free(s->iomem);
}

/* -------------------------------------------------------------------- PRNG */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

/* ------------------------------------------------------------------ Inv 1 */

static void inv1_alignment(struct zd_machine *m)
{
	static const uint64_t offs[] = { 0, 4 * K, 1 * M, 2 * M, 128 * M };
	static const uint64_t sizes[] = { 0, 4 * K, 2 * M, 128 * M };
	const uint64_t base = 64 * G;
	const uint64_t nr0 = PFN(base) / SECT_PAGES;

	diag("Inv 1: __add_pages alignment table at 64 GiB");
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			uint64_t start = base + offs[i], size = sizes[j];
			bool aligned = !(start % (2 * M)) && !(size % (2 * M)) && size;
			struct snap before, after;
			unsigned long warns = zd_warn_count(m);
			int rc;

			snap_take(m, &before, nr0, 3);
			rc = add(m, PFN(start), PFN(size));
			if (!is_int(rc, aligned ? 0 : -EINVAL,
				    "__add_pages(64G + %#llx, %#llx) -> %s", (unsigned long long)offs[i],
				    (unsigned long long)size, aligned ? "0" : "-EINVAL"))
				diag("got %s", zd_errno_name(rc) ? zd_errno_name(rc) : "?");
			if (rc == 0) {
				uint64_t s = PFN(start), e = PFN(start + size);
				ok(zd_pfn_valid(m, s) && zd_pfn_valid(m, e - 1),
				   "  first and last added pfn valid");
				ok(!zd_pfn_valid(m, e) && !zd_pfn_valid(m, s - 1),
				   "  pfns just outside the span are not valid");
				rem(m, s, e - s, NULL);
				snap_take(m, &after, nr0, 3);
				ok(snap_same(&before, &after), "  add+remove restores every section");
			} else {
				snap_take(m, &after, nr0, 3);
				ok(snap_same(&before, &after), "  the rejection changed nothing");
			}
			is_u64(zd_warn_count(m), warns, "  no WARN fired");
			snap_free(&before);
			snap_free(&after);
		}
	}

	/* A misaligned __remove_pages WARNs and changes nothing. */
	{
		struct snap before, after;
		unsigned long warns;

		is_int(add(m, PFN(base), SUB_PAGES), 0, "add one sub-section for the remove checks");
		snap_take(m, &before, nr0, 1);
		warns = zd_warn_count(m);
		rem(m, PFN(base) + 1, SUB_PAGES - 1, NULL);
		is_u64(zd_warn_count(m), warns + 1, "misaligned __remove_pages WARNs once");
		snap_take(m, &after, nr0, 1);
		ok(snap_same(&before, &after), "misaligned __remove_pages changed nothing");
		snap_free(&after);
		warns = zd_warn_count(m);
		rem(m, PFN(base), 0, NULL);
		is_u64(zd_warn_count(m), warns + 1, "empty __remove_pages WARNs once");
		snap_take(m, &after, nr0, 1);
		ok(snap_same(&before, &after), "empty __remove_pages changed nothing");
		snap_free(&after);
		snap_free(&before);
		rem(m, PFN(base), SUB_PAGES, NULL);
		is_u64(word_of(m, nr0), 0, "section word 0 after the sub-section left");
	}

	/* add_memory(): memory-block (128 MiB) alignment and a non-empty range. */
	{
		static const struct { uint64_t start, size; int want; const char *what; } t[] = {
			{ 64 * G + 64 * M, 128 * M, -EINVAL, "start not block aligned" },
			{ 64 * G, 64 * M, -EINVAL, "size not a block multiple" },
			{ 64 * G + 2 * M, 128 * M, -EINVAL, "sub-section but not block aligned" },
			{ 64 * G, 128 * M + 2 * M, -EINVAL, "size one sub-section over a block" },
			/* The kernel's register_memory_resource() runs
			 * mhp_range_allowed() first, which is false for an
			 * empty range (start < start + size fails): -E2BIG. */
			{ 64 * G, 0, -E2BIG, "empty range" },
		};
		is_u64(zd_memory_block_size_bytes(m), 128 * M, "block size is 128 MiB");
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct snap before, after;

			snap_take(m, &before, nr0, 3);
			is_int(zd_add_memory(m, 0, t[i].start, t[i].size, 0), t[i].want,
			       "add_memory %s -> %s", t[i].what, zd_errno_name(t[i].want));
			snap_take(m, &after, nr0, 3);
			ok(snap_same(&before, &after), "  no state change (sections, iomem, blocks)");
			snap_free(&before);
			snap_free(&after);
		}
		is_int(zd_add_memory(m, 0, 64 * G, 128 * M, 0), 0, "an aligned add_memory works");
		is_int(zd_remove_memory(m, 64 * G, 128 * M), 0, "and is removed");
		is_u64(word_of(m, nr0), 0, "section word 0 again");
	}
}

/* ------------------------------------------------------------------ Inv 2 */

static void inv2_exclusive(struct zd_machine *m)
{
	const uint64_t S = PFN(65 * G), nr = S / SECT_PAGES;
	const uint64_t two = PFN(2 * M);
	unsigned long word, warns;

	diag("Inv 2: sub-section map exclusivity in section %llu", (unsigned long long)nr);
	is_u64(word_of(m, nr), 0, "section starts empty");
	is_int(add(m, S + two, 2 * two), 0, "add [S+2M, S+6M)");
	is_u64(map_of(m, nr), 0x6, "bitmap is sub-sections 1 and 2");
	word = word_of(m, nr);
	ok((word & ZD_SECTION_MARKED_PRESENT) && (word & ZD_SECTION_HAS_MEM_MAP),
	   "section present with a memmap");
	ok(!(word & (ZD_SECTION_IS_ONLINE | ZD_SECTION_IS_EARLY)), "hot-added: not online, not early");

	is_int(add(m, S + 2 * two, 2 * two), -EEXIST, "add [S+4M, S+8M) overlapping -> -EEXIST");
	is_u64(map_of(m, nr), 0x6, "bitmap unchanged");
	is_u64(word_of(m, nr), word, "section word unchanged");
	ok(!zd_pfn_valid(m, S + 3 * two), "S+6M still not valid");

	is_int(add(m, S + two, two), -EEXIST, "re-adding [S+2M, S+4M) -> -EEXIST");
	is_u64(map_of(m, nr), 0x6, "bitmap unchanged");

	/* An empty mask reaches fill_subsection_map() only through
	 * sparse_add_section() itself. */
	{
		int rc;
		zd_mem_hotplug_begin(m);
		rc = zd_sparse_add_section(m, 0, S + 8 * two, 0, NULL, NULL);
		zd_mem_hotplug_done(m);
		is_int(rc, -EINVAL, "sparse_add_section with an empty mask -> -EINVAL");
		is_u64(map_of(m, nr), 0x6, "bitmap unchanged");
		is_u64(word_of(m, nr), word, "section word unchanged");
	}

	warns = zd_warn_count(m);
	rem(m, S, two, NULL);
	is_u64(zd_warn_count(m), warns + 1, "remove [S, S+2M) (never added) WARNs exactly once");
	ok(zd_log_contains(m, "section already deactivated"), "the WARN says already deactivated");
	is_u64(map_of(m, nr), 0x6, "bitmap unchanged");
	is_u64(word_of(m, nr), word, "section word unchanged");

	warns = zd_warn_count(m);
	rem(m, S + two, 3 * two, NULL);
	is_u64(zd_warn_count(m), warns + 1, "remove [S+2M, S+8M) (half added) WARNs once");
	is_u64(map_of(m, nr), 0x6, "a partly-populated removal clears nothing");

	warns = zd_warn_count(m);
	rem(m, S + two, 2 * two, NULL);
	is_u64(zd_warn_count(m), warns, "remove [S+2M, S+6M) does not WARN");
	ok(!has_usage(m, nr), "bitmap empty: the usage is gone");
	is_u64(word_of(m, nr), 0, "section word is 0");
	ok(!zd_pfn_valid(m, S + two), "S+2M no longer valid");
	ok(!zd_pfn_in_present_section(m, S + two), "section no longer present");
}

/* ------------------------------------------------------------------ Inv 3 */

static void inv3_pfn_valid(struct zd_machine *m)
{
	const uint64_t S = PFN(66 * G), nr = S / SECT_PAGES;
	const unsigned mid = 32;
	unsigned long ref = 1UL << mid;   /* the reference bitmap */
	unsigned bad = 0;

	diag("Inv 3: pfn_valid granularity in section %llu", (unsigned long long)nr);
	is_int(add(m, S + mid * SUB_PAGES, SUB_PAGES), 0, "hot-add 2 MiB in the middle of S");
	is_u64(map_of(m, nr), ref, "bitmap holds exactly the middle sub-section");
	for (unsigned i = 0; i < 64; i++) {
		uint64_t first = S + i * SUB_PAGES, last = first + SUB_PAGES - 1;
		bool want = (ref >> i) & 1;
		if (zd_pfn_valid(m, first) != want || zd_pfn_valid(m, last) != want) {
			diag("sub-section %u: valid(first)=%d valid(last)=%d want %d", i,
			     zd_pfn_valid(m, first), zd_pfn_valid(m, last), want);
			bad++;
		}
	}
	is_int(bad, 0, "first/last pfn of all 64 sub-sections match the reference bitmap");
	ok(!zd_pfn_valid(m, S - 1) && !zd_pfn_valid(m, S + SECT_PAGES),
	   "neighbouring sections are not valid");
	ok(zd_pfn_in_present_section(m, S), "the section is present");
	ok(zd_pfn_to_online_page(m, S + mid * SUB_PAGES) == NULL,
	   "hot-added (never onlined) pfn has no online page");

	{
		uint64_t p = S + mid * SUB_PAGES;
		ok(!zd_pfn_valid(m, (1ULL << 63) | p), "pfn with bit 63 set is invalid");
		ok(!zd_pfn_valid(m, (1ULL << 52) | p), "pfn whose physical address overflows 64 bits is invalid");
		ok(!zd_pfn_valid(m, (1ULL << 34) | p), "pfn of a section >= NR_MEM_SECTIONS is invalid");
		ok(zd_pfn_to_online_page(m, (1ULL << 63) | p) == NULL,
		   "pfn_to_online_page of a high-bit pfn is NULL");
	}
	{
		uint64_t nsec = m->arch.nr_mem_sections;
		is_u64(nsec, 1ULL << 19, "NR_MEM_SECTIONS is 2^19");
		ok(zd_nr_to_section(m, nsec) == NULL, "section NR_MEM_SECTIONS does not exist");
		ok(!zd_pfn_valid(m, nsec * SECT_PAGES), "first pfn beyond the last section invalid");
		ok(!zd_pfn_valid(m, nsec * SECT_PAGES - 1), "last pfn of the (empty) last section invalid");
		ok(!zd_pfn_in_present_section(m, nsec * SECT_PAGES), "not present either");
	}
	rem(m, S + mid * SUB_PAGES, SUB_PAGES, NULL);
	ok(!zd_pfn_valid(m, S + mid * SUB_PAGES), "removed: invalid again");
	is_u64(word_of(m, nr), 0, "section word 0");

	/* Early section: boot RAM [0, 2G - 64M) ends in the middle of section 15. */
	{
		struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G - 64 * M, .node = 0 } };
		struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1 };
		struct zd_machine *e = zd_machine_create(&d);
		const uint64_t es = 15 * SECT_PAGES;
		unsigned missing = 0, bitmap_set = 0;

		if (!ok(!ZD_IS_ERR_OR_NULL(e), "machine with boot RAM [0, 2G-64M) boots"))
			return;
		ok(zd_early_section(zd_nr_to_section(e, 15)), "section 15 is early");
		for (unsigned i = 0; i < 64; i++) {
			uint64_t first = es + i * SUB_PAGES, last = first + SUB_PAGES - 1;
			if (!zd_pfn_valid(e, first) || !zd_pfn_valid(e, last))
				missing++;
			bitmap_set += zd_pfn_section_valid(zd_nr_to_section(e, 15), &e->arch, first);
		}
		is_int(missing, 0, "every sub-section of the early section is valid");
		is_int(bitmap_set, 32, "yet only the 32 sub-sections holding boot RAM are in its bitmap");
		ok(!zd_pfn_valid(e, 16 * SECT_PAGES), "the pfn at 2 GiB (section 16) is invalid");
		ok(zd_pfn_to_online_page(e, PFN(2 * G - 64 * M)) == NULL,
		   "the pfn past boot RAM has no online page (sub-section not populated)");
		ok(zd_pfn_to_online_page(e, PFN(2 * G - 64 * M) - 1) != NULL,
		   "the last boot RAM pfn is online");
		is_u64(zd_warn_count(e), 0, "no WARN");
		zd_machine_destroy(e);
	}
}

/* ------------------------------------------------------------------ Inv 5 */

static void inv5_encoding(struct zd_machine *m)
{
	enum { NSEC = 24, SAMPLES = 48 };
	uint64_t secs[NSEC], pfn[NSEC], nrp[NSEC];
	bool tainted[NSEC];
	unsigned bad_identity = 0, bad_flags = 0, bad_valid = 0, bad_invalid = 0;
	const unsigned long base_flags = ZD_SECTION_MARKED_PRESENT | ZD_SECTION_HAS_MEM_MAP;
	const unsigned long warns0 = zd_warn_count(m);

	diag("Inv 5: section word encoding over %d random sections", NSEC);
	ok(((uintptr_t)m->vmemmap & ~ZD_SECTION_MAP_MASK) == 0,
	   "vmemmap base has no bit below SECTION_MAP_LAST_BIT");
	/* Boot sections encode the same base with PRESENT|MEM_MAP|ONLINE|EARLY. */
	for (uint64_t nr = 0; nr < 16; nr++) {
		unsigned long w = word_of(m, nr);
		if ((struct zd_page *)(w & ZD_SECTION_MAP_MASK) != m->vmemmap ||
		    (w & ~ZD_SECTION_MAP_MASK) != (base_flags | ZD_SECTION_IS_ONLINE | ZD_SECTION_IS_EARLY))
			bad_flags++;
	}
	is_int(bad_flags, 0, "boot sections 0..15: decode == vmemmap, flags present|memmap|online|early");
	bad_flags = 0;

	for (int i = 0; i < NSEC; i++) {
		bool dup;
		do {   /* distinct sections between 128 GiB and the top */
			secs[i] = 1024 + rnd_below((1ULL << 19) - 1024);
			dup = false;
			for (int j = 0; j < i; j++)
				dup |= secs[j] == secs[i];
		} while (dup);
		uint64_t spfn = secs[i] * SECT_PAGES;
		if (rnd() & 1) {
			pfn[i] = spfn;
			nrp[i] = SECT_PAGES;
		} else {
			uint64_t a = rnd_below(64), c = 1 + rnd_below(64 - a);
			pfn[i] = spfn + a * SUB_PAGES;
			nrp[i] = c * SUB_PAGES;
		}
		if (add(m, pfn[i], nrp[i]) != 0) {
			ok(0, "add section %llu pfn %#llx + %llu", (unsigned long long)secs[i],
			   (unsigned long long)pfn[i], (unsigned long long)nrp[i]);
			nrp[i] = 0;
			continue;
		}
		tainted[i] = rnd() & 1;
		if (tainted[i]) {
			zd_mem_hotplug_begin(m);
			zd_section_taint_zone_device(m, pfn[i]);
			zd_mem_hotplug_done(m);
		}
	}
	for (int i = 0; i < NSEC; i++) {
		if (!nrp[i])
			continue;
		unsigned long w = word_of(m, secs[i]);
		unsigned long want = base_flags | (tainted[i] ? ZD_SECTION_TAINT_ZONE_DEVICE : 0);
		struct zd_page *decoded = (struct zd_page *)(w & ZD_SECTION_MAP_MASK);

		if ((w & ~ZD_SECTION_MAP_MASK) != want) {
			diag("section %llu flags %#lx want %#lx", (unsigned long long)secs[i],
			     w & ~ZD_SECTION_MAP_MASK, want);
			bad_flags++;
		}
		for (int k = 0; k < SAMPLES + 2; k++) {
			uint64_t p = k == 0 ? pfn[i] : k == 1 ? pfn[i] + nrp[i] - 1 :
				     pfn[i] + rnd_below(nrp[i]);
			struct zd_page *pg = zd_pfn_to_page(m, p);
			if (!zd_pfn_valid(m, p))
				bad_valid++;
			if (decoded + p != pg || pg != m->vmemmap + p ||
			    (uintptr_t)pg != (uintptr_t)m->vmemmap + p * 64)
				bad_identity++;
			/* The struct page is real memory: write and read it. */
			pg->memcg_data = p ^ 0xa5a5a5a5UL;
			if (pg->memcg_data != (p ^ 0xa5a5a5a5UL))
				bad_identity++;
		}
		/* Outside a partial add the sub-sections stay invalid. */
		uint64_t spfn = secs[i] * SECT_PAGES;
		if (pfn[i] > spfn && zd_pfn_valid(m, pfn[i] - 1))
			bad_invalid++;
		if (pfn[i] + nrp[i] < spfn + SECT_PAGES && zd_pfn_valid(m, pfn[i] + nrp[i]))
			bad_invalid++;
	}
	is_int(bad_flags, 0, "hot-added words carry exactly present|memmap(|taint), never online/early");
	is_int(bad_identity, 0, "decode(word) + pfn == pfn_to_page == vmemmap + pfn, memory r/w");
	is_int(bad_valid, 0, "every sampled pfn of an added span is valid");
	is_int(bad_invalid, 0, "pfns just outside partial adds are invalid");
	is_u64(zd_warn_count(m), warns0, "encoding never tripped the flag-bit check");

	unsigned left = 0;
	for (int i = 0; i < NSEC; i++) {
		if (!nrp[i])
			continue;
		rem(m, pfn[i], nrp[i], NULL);
		left += word_of(m, secs[i]) != 0 || has_usage(m, secs[i]);
	}
	is_int(left, 0, "after removal every random section word is 0 and usage gone");
}

/* ----------------------------------------------------------- corner cases */

static void corners(struct zd_machine *m)
{
	const uint64_t S = PFN(80 * G), nr = S / SECT_PAGES;

	diag("corner cases at section %llu", (unsigned long long)nr);
	/* First and last sub-section of a section. */
	is_int(add(m, S, SUB_PAGES), 0, "add the first sub-section");
	is_int(add(m, S + 63 * SUB_PAGES, SUB_PAGES), 0, "add the last sub-section");
	is_u64(map_of(m, nr), (1UL << 63) | 1UL, "bitmap has bits 0 and 63");
	ok(zd_pfn_valid(m, S) && zd_pfn_valid(m, S + SUB_PAGES - 1), "first sub-section valid");
	ok(zd_pfn_valid(m, S + 63 * SUB_PAGES) && zd_pfn_valid(m, S + SECT_PAGES - 1),
	   "last sub-section valid");
	ok(!zd_pfn_valid(m, S + SUB_PAGES) && !zd_pfn_valid(m, S + 63 * SUB_PAGES - 1),
	   "the sub-sections next to them are not");
	rem(m, S + 63 * SUB_PAGES, SUB_PAGES, NULL);
	is_u64(map_of(m, nr), 1UL, "last removed, first stays");
	rem(m, S, SUB_PAGES, NULL);
	is_u64(word_of(m, nr), 0, "both removed: word 0");

	/* A span crossing two sections: [S+126M, S+130M). */
	{
		uint64_t p = S + PFN(126 * M);
		long mapped = m->vmemmap_mapped_bytes;

		is_int(add(m, p, PFN(4 * M)), 0, "add [S+126M, S+130M) across two sections");
		is_u64(map_of(m, nr), 1UL << 63, "section S has its last sub-section");
		is_u64(map_of(m, nr + 1), 1UL, "section S+1 has its first sub-section");
		ok(zd_valid_section(zd_nr_to_section(m, nr)) && zd_valid_section(zd_nr_to_section(m, nr + 1)),
		   "both sections valid");
		ok(zd_pfn_valid(m, S + SECT_PAGES - 1) && zd_pfn_valid(m, S + SECT_PAGES),
		   "pfns on both sides of the boundary valid");
		is_u64(m->vmemmap_mapped_bytes - mapped, 2 * 32 * K,
		       "two sub-sections map 2 x 32 KiB of memmap");
		zd_pfn_to_page(m, S + SECT_PAGES - 1)->memcg_data = 1;
		zd_pfn_to_page(m, S + SECT_PAGES)->memcg_data = 2;
		ok(zd_pfn_to_page(m, S + SECT_PAGES - 1)->memcg_data == 1 &&
		   zd_pfn_to_page(m, S + SECT_PAGES)->memcg_data == 2,
		   "struct pages on both sides are distinct real memory");
		rem(m, p, PFN(4 * M), NULL);
		ok(word_of(m, nr) == 0 && word_of(m, nr + 1) == 0, "removed: both words 0");
		is_u64(m->vmemmap_mapped_bytes, mapped, "memmap unmapped again");
	}

	/* Partial removal keeping the section. */
	{
		long mapped = m->vmemmap_mapped_bytes;
		unsigned bad = 0;
		unsigned long w;

		is_int(add(m, S, SECT_PAGES), 0, "add a full section");
		is_u64(map_of(m, nr), ~0UL, "all 64 sub-sections populated");
		is_u64(m->vmemmap_mapped_bytes - mapped, 2 * M, "a section maps 2 MiB of memmap");
		for (unsigned i = 0; i < 64; i++)
			zd_pfn_to_page(m, S + i * SUB_PAGES + 7)->memcg_data = 0x1000 + i;
		rem(m, S + 32 * SUB_PAGES, SUB_PAGES, NULL);
		w = word_of(m, nr);
		ok((w & ZD_SECTION_MARKED_PRESENT) && (w & ZD_SECTION_HAS_MEM_MAP),
		   "after removing sub-section 32 the section stays present with a memmap");
		ok((struct zd_page *)(w & ZD_SECTION_MAP_MASK) == m->vmemmap, "its encoding is unchanged");
		is_u64(map_of(m, nr), ~(1UL << 32), "bitmap lost exactly bit 32");
		is_u64(mapped + 2 * M - m->vmemmap_mapped_bytes, 32 * K,
		       "exactly that sub-section's 32 KiB of memmap was unmapped");
		for (unsigned i = 0; i < 64; i++) {
			uint64_t p = S + i * SUB_PAGES;
			bool want = i != 32;
			if (zd_pfn_valid(m, p) != want || zd_pfn_valid(m, p + SUB_PAGES - 1) != want)
				bad++;
			if (want && zd_pfn_to_page(m, p + 7)->memcg_data != 0x1000 + i)
				bad++;
		}
		is_int(bad, 0, "remaining sub-sections valid with their struct pages intact");
		rem(m, S, 32 * SUB_PAGES, NULL);
		rem(m, S + 33 * SUB_PAGES, 31 * SUB_PAGES, NULL);
		is_u64(word_of(m, nr), 0, "removing the rest zeroes the word");
		ok(!has_usage(m, nr), "and frees the usage");
		is_u64(m->vmemmap_mapped_bytes, mapped, "all memmap unmapped");
	}
}

/* Full removal gives the memmap back to the host: measured. */
static void measured_removal(struct zd_machine *m)
{
	const uint64_t base = PFN(256 * G), nr = PFN(8 * G);
	const uint64_t memmap = nr * 64;   /* 128 MiB */
	uint64_t rss0, rss1, rss2, res0, res1, res2;
	long mapped0;

	diag("measured: 8 GiB hot-add (64 sections, 128 MiB memmap)");
	rss0 = tap_rss_bytes();
	res0 = zd_vmemmap_resident_bytes(m);
	mapped0 = m->vmemmap_mapped_bytes;
	if (!is_int(add(m, base, nr), 0, "__add_pages 8 GiB at 256 GiB"))
		return;
	is_u64(m->vmemmap_mapped_bytes - mapped0, memmap, "128 MiB of memmap mapped");
	memset(zd_pfn_to_page(m, base), 0x5a, memmap);
	ok(zd_pfn_to_page(m, base + nr - 1)->flags == 0x5a5a5a5a5a5a5a5aUL,
	   "every struct page written through pfn_to_page");
	rss1 = tap_rss_bytes();
	res1 = zd_vmemmap_resident_bytes(m);
	diag("rss %llu -> %llu MiB, resident memmap %llu -> %llu MiB",
	     (unsigned long long)(rss0 >> 20), (unsigned long long)(rss1 >> 20),
	     (unsigned long long)(res0 >> 20), (unsigned long long)(res1 >> 20));
	ok(rss1 >= rss0 + memmap * 9 / 10, "RSS rose by at least 0.9 x 128 MiB");
	ok(res1 >= res0 + memmap * 9 / 10, "zd_vmemmap_resident_bytes rose by at least 0.9 x 128 MiB");
	ok(res1 <= res0 + memmap, "and by no more than the memmap");
	rem(m, base, nr, NULL);
	rss2 = tap_rss_bytes();
	res2 = zd_vmemmap_resident_bytes(m);
	diag("after removal rss %llu MiB, resident memmap %llu MiB",
	     (unsigned long long)(rss2 >> 20), (unsigned long long)(res2 >> 20));
	ok(rss1 >= rss2 + (rss1 - rss0) * 9 / 10, "RSS fell back by at least 0.9 x the rise");
	is_u64(m->vmemmap_mapped_bytes, mapped0, "vmemmap_mapped_bytes back to its old value");
	ok(res2 <= res0, "resident memmap back to its old value");
	ok(!zd_pfn_valid(m, base) && word_of(m, base / SECT_PAGES) == 0, "sections gone");
}

/* ------------------------------------------------------------- vmem_altmap */

static void altmap_init(struct zd_vmem_altmap *a, uint64_t base, uint64_t nr, uint64_t reserve,
			uint64_t free_pfns, int fd)
{
	memset(a, 0, sizeof(*a));
	a->base_pfn = base;
	a->end_pfn = base + nr - 1;
	a->reserve = reserve;
	a->free = free_pfns;
	a->backing_fd = fd;
}

static void altmap_tests(struct zd_machine *m)
{
	const uint64_t B = PFN(512 * G), nr = PFN(1 * G);   /* 262144 pfns, 8 sections */
	const uint64_t nsec = B / SECT_PAGES;
	struct zd_vmem_altmap a;
	struct snap before, after;
	int fd = memfd_create("zd-altmap", MFD_CLOEXEC);

	diag("vmem_altmap: 1 GiB device at 512 GiB backed by a memfd");
	if (!ok(fd >= 0, "memfd_create") || !ok(ftruncate(fd, (off_t)(1 * G)) == 0, "ftruncate 1 GiB")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/*
	 * 1 GiB = 262144 pages x 64 B = 16 MiB of memmap = 4096 pfns, populated
	 * per section as one 2 MiB PMD block of 512 pfns with natural (512-pfn)
	 * alignment. With reserve = 2 the first block starts at base + 512: 510
	 * pfns of alignment gap. 8 blocks then need 4096 + 510 = 4606 free pfns,
	 * so free = 4096 runs out on the 8th section (altmap_alloc_block_buf
	 * returns NULL and, with an altmap, there is no fallback).
	 */
	altmap_init(&a, B, nr, 2, 4096, fd);
	snap_take(m, &before, nsec, 8);
	is_int(add_altmap(m, B, nr, &a), -ENOMEM, "free = 4096 (< 4096 + 510 align) -> -ENOMEM");
	snap_take(m, &after, nsec, 8);
	ok(snap_same(&before, &after), "the failed add left no section, memmap or bitmap behind");
	is_u64(a.alloc, 0, "the partial carve-out was given back (alloc 0)");
	snap_free(&after);

	altmap_init(&a, B, nr, 2, 4605, fd);
	is_int(add_altmap(m, B, nr, &a), -ENOMEM, "free = 4605 (one short) -> -ENOMEM");
	snap_take(m, &after, nsec, 8);
	ok(snap_same(&before, &after), "no state change");
	snap_free(&after);

	/* Later checks compare against their own baseline so that one
	 * accounting slip above is reported once, not at every step. */
	snap_free(&before);
	snap_take(m, &before, nsec, 8);
	altmap_init(&a, B, nr, 2, 4606, fd);
	long mapped = m->vmemmap_mapped_bytes;
	if (is_int(add_altmap(m, B, nr, &a), 0, "free = 4606 -> the 1 GiB add succeeds")) {
		is_u64(a.alloc, 8 * 512, "alloc == 8 x 512 pfns (16 MiB memmap)");
		is_u64(a.align, 510, "align == 510 (first block moved to the 512-pfn boundary)");
		is_u64(m->vmemmap_mapped_bytes - mapped, 16 * M, "16 MiB of memmap mapped");
		ok(zd_pfn_valid(m, B) && zd_pfn_valid(m, B + nr - 1), "device pfns valid");

		/* Section k's memmap is the block at pfn B + 512 (k + 1), i.e.
		 * file offset 2 MiB (k + 1); pfn B + k*32768 + j at + j*64. */
		unsigned char pat[64], got[64];
		for (int i = 0; i < 64; i++)
			pat[i] = (unsigned char)(0x30 + i);
		uint64_t p = B + 3 * SECT_PAGES + 100;
		off_t off = (off_t)(2 * M * 4 + 100 * 64);
		memcpy(zd_pfn_to_page(m, p), pat, 64);
		ok(pread(fd, got, 64, off) == 64 && !memcmp(got, pat, 64),
		   "a struct page written through pfn_to_page is in the device file at 8 MiB + 6400");
		for (int i = 0; i < 64; i++)
			pat[i] = (unsigned char)(0xc0 ^ i);
		p = B + 7 * SECT_PAGES + SECT_PAGES - 1;
		off = (off_t)(2 * M * 8 + (SECT_PAGES - 1) * 64);
		ok(pwrite(fd, pat, 64, off) == 64 && !memcmp(zd_pfn_to_page(m, p), pat, 64),
		   "bytes written to the file appear in the last section's last struct page");
		/* Reserve and alignment gap (pfns B .. B+511) hold no memmap. */
		unsigned char *buf = malloc(2 * M);
		bool zero = buf && pread(fd, buf, 2 * M, 0) == (ssize_t)(2 * M);
		for (size_t i = 0; zero && i < 2 * M; i++)
			zero = buf[i] == 0;
		free(buf);
		ok(zero, "reserve and alignment gap ([0, 2 MiB) of the file) are untouched");

		rem(m, B, nr, &a);
		is_u64(a.alloc, 0, "after __remove_pages alloc == 0");
		is_u64(m->vmemmap_mapped_bytes, mapped, "memmap unmapped");
		snap_take(m, &after, nsec, 8);
		ok(snap_same(&before, &after), "all 8 sections gone");
		snap_free(&after);
	}

	/* x86: a sub-section add never takes its memmap from the altmap. */
	altmap_init(&a, B, PFN(2 * M), 0, 8, fd);
	is_int(add_altmap(m, B, PFN(2 * M), &a), 0, "a 2 MiB add with an altmap succeeds");
	is_u64(a.alloc, 0, "x86 sub-section memmap comes from RAM, not the altmap");
	rem(m, B, PFN(2 * M), &a);
	is_u64(a.alloc, 0, "alloc still 0 after removal");

	/* Invalid altmaps. */
	snap_free(&before);
	snap_take(m, &before, nsec, 8);
	altmap_init(&a, B + 512, nr, 2, 4606, fd);
	is_int(add_altmap(m, B, nr, &a), -EINVAL, "base_pfn != first pfn -> -EINVAL");
	ok(zd_log_contains(m, "invalid altmap"), "logged \"invalid altmap\"");
	altmap_init(&a, B, PFN(2 * M), 2, 511, fd);
	is_int(add_altmap(m, B, PFN(2 * M), &a), -EINVAL, "reserve + free > nr_pages -> -EINVAL");
	snap_take(m, &after, nsec, 8);
	ok(snap_same(&before, &after), "invalid altmaps changed nothing");
	snap_free(&after);
	snap_free(&before);
	close(fd);
}

/* ------------------------------------------------------- 64 KiB page arch */

static void shared_host_page(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G, .node = 0 } };
	struct zd_machine_desc d = { .arch = "arm64-64k", .ram = ram, .nr_ram = 1 };
	struct zd_machine *m;
	const uint64_t sub = 32;                 /* 2 MiB of 64 KiB pages */
	const uint64_t S = (64 * G) >> 16;       /* section 128 */
	const uint64_t nr = S / 8192;
	struct zd_mhp_params p = { .pgprot = 1 };
	unsigned bad;
	long mapped;
	int rc;

	diag("arm64-64k: two sub-sections whose 2 KiB memmaps share a 4 KiB host page");
	if (sysconf(_SC_PAGESIZE) != 4096) {
		skip("host page size is not 4 KiB");
		return;
	}
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR_OR_NULL(m), "arm64-64k machine boots (%s)", zd_machine_create_error()))
		return;
	is_u64(m->arch.pages_per_subsection, sub, "32 pages per sub-section");
	ok(((uintptr_t)zd_pfn_to_page(m, S) & 4095) == 0, "sub-section A's memmap starts a host page");
	mapped = m->vmemmap_mapped_bytes;

#define ADD64(pfn) (zd_mem_hotplug_begin(m), rc = zd___add_pages(m, 0, (pfn), sub, &p), \
		    zd_mem_hotplug_done(m), rc)
#define REM64(pfn) (zd_mem_hotplug_begin(m), zd___remove_pages(m, (pfn), sub, NULL), \
		    zd_mem_hotplug_done(m))
#define FILL(pfn, v) do { for (uint64_t _i = 0; _i < sub; _i++) \
	memset(zd_pfn_to_page(m, (pfn) + _i), (v), 64); } while (0)
#define CHECK(pfn, v) ({ unsigned _b = 0; for (uint64_t _i = 0; _i < sub; _i++) { \
	const unsigned char *_c = (const unsigned char *)zd_pfn_to_page(m, (pfn) + _i); \
	for (int _k = 0; _k < 64; _k++) _b += _c[_k] != (v); } _b; })

	is_int(ADD64(S), 0, "add sub-section A [S, S+2M)");
	is_u64(m->vmemmap_mapped_bytes - mapped, 4096, "A maps one host page");
	is_int(ADD64(S + sub), 0, "add sub-section B [S+2M, S+4M) separately");
	is_u64(m->vmemmap_mapped_bytes - mapped, 4096, "B shares A's host page: nothing new mapped");
	FILL(S, 0xa1);
	FILL(S + sub, 0xb2);
	bad = CHECK(S, 0xa1) + CHECK(S + sub, 0xb2);
	is_int(bad, 0, "both struct page ranges hold their own bytes");

	REM64(S);
	ok(!zd_pfn_valid(m, S) && zd_pfn_valid(m, S + sub), "A removed: A invalid, B valid");
	is_int(CHECK(S + sub, 0xb2), 0, "B's struct pages survive A's removal");
	is_u64(m->vmemmap_mapped_bytes - mapped, 4096, "the shared host page stays mapped");

	is_int(ADD64(S), 0, "re-add A");
	is_int(CHECK(S + sub, 0xb2), 0, "re-adding A does not touch B's struct pages");
	FILL(S, 0xa3);
	REM64(S + sub);
	ok(zd_pfn_valid(m, S) && !zd_pfn_valid(m, S + sub), "B removed: A valid, B invalid");
	is_int(CHECK(S, 0xa3), 0, "A's struct pages survive B's removal");

	REM64(S);
	ok(!zd_pfn_valid(m, S) && !zd_pfn_valid(m, S + sub), "both removed: neither valid");
	is_u64(word_of(m, nr), 0, "section word 0");
	is_u64(m->vmemmap_mapped_bytes, mapped, "the host page is unmapped");
	is_u64(zd_warn_count(m), 0, "no WARN");
#undef ADD64
#undef REM64
#undef FILL
#undef CHECK
	zd_machine_destroy(m);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G, .node = 0 } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	unsigned long warns;

	if (!ok(!ZD_IS_ERR_OR_NULL(m), "x86_64 machine with 2 GiB boots (%s)",
		zd_machine_create_error()))
		return done_testing();
	if (sysconf(_SC_PAGESIZE) != 4096)
		diag("host page size %ld: byte counts below assume 4 KiB", sysconf(_SC_PAGESIZE));

	inv1_alignment(m);
	inv2_exclusive(m);
	inv3_pfn_valid(m);
	warns = zd_warn_count(m);
	inv5_encoding(m);
	corners(m);
	measured_removal(m);
	altmap_tests(m);
	is_u64(zd_warn_count(m), warns, "no WARN outside the deliberate ones");
	zd_machine_destroy(m);

	shared_host_page();
	return done_testing();
}
