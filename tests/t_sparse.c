/*
 * The sparse memory model at sub-section granularity (src/mm/sparse.c,
 * sparse-vmemmap.c, the __add_pages/__remove_pages half of memory_hotplug.c),
 * on an x86_64 machine with boot RAM [0, 2 GiB) and hot-adds at 64 GiB+.
 *
 * Asserts (spec/core.md §8 invariants 1, 2, 3, 5 and §2.3/§3.5/§3.6):
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
 * Why: these are the rules that make pfn_valid()/pfn_to_page() trustworthy
 * for ZONE_DEVICE's 2 MiB granularity; a slip corrupts or leaks memmap.
 * A memmap carved from the device (vmem_altmap) and memmaps that share a
 * host page (64 KiB pages) are in t_altmap.c.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
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
			struct tap_sect_snap before, after;
			unsigned long warns = zd_warn_count(m);
			int rc;

			tap_sect_snap_take(m, &before, nr0, 3);
			rc = tap_add_pages(m, PFN(start), PFN(size), NULL);
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
				tap_remove_pages(m, s, e - s, NULL);
				tap_sect_snap_take(m, &after, nr0, 3);
				ok(tap_sect_snap_same(&before, &after), "  add+remove restores every section");
			} else {
				tap_sect_snap_take(m, &after, nr0, 3);
				ok(tap_sect_snap_same(&before, &after), "  the rejection changed nothing");
			}
			/* The kernel WARNs on a misaligned span (a caller bug). */
			is_u64(zd_warn_count(m), warns + !aligned, aligned ? "  no WARN fired" :
			       "  exactly one WARN (Misaligned __add_pages)");
			tap_sect_snap_free(&before);
			tap_sect_snap_free(&after);
		}
	}

	/* A misaligned __remove_pages WARNs and changes nothing. */
	{
		struct tap_sect_snap before, after;
		unsigned long warns;

		is_int(tap_add_pages(m, PFN(base), SUB_PAGES, NULL), 0,
		       "add one sub-section for the remove checks");
		tap_sect_snap_take(m, &before, nr0, 1);
		warns = zd_warn_count(m);
		tap_remove_pages(m, PFN(base) + 1, SUB_PAGES - 1, NULL);
		is_u64(zd_warn_count(m), warns + 1, "misaligned __remove_pages WARNs once");
		tap_sect_snap_take(m, &after, nr0, 1);
		ok(tap_sect_snap_same(&before, &after), "misaligned __remove_pages changed nothing");
		tap_sect_snap_free(&after);
		warns = zd_warn_count(m);
		tap_remove_pages(m, PFN(base), 0, NULL);
		is_u64(zd_warn_count(m), warns + 1, "empty __remove_pages WARNs once");
		tap_sect_snap_take(m, &after, nr0, 1);
		ok(tap_sect_snap_same(&before, &after), "empty __remove_pages changed nothing");
		tap_sect_snap_free(&after);
		tap_sect_snap_free(&before);
		tap_remove_pages(m, PFN(base), SUB_PAGES, NULL);
		is_u64(tap_section_word(m, nr0), 0, "section word 0 after the sub-section left");
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
			struct tap_sect_snap before, after;

			tap_sect_snap_take(m, &before, nr0, 3);
			is_int(zd_add_memory(m, 0, t[i].start, t[i].size, 0), t[i].want,
			       "add_memory %s -> %s", t[i].what, zd_errno_name(t[i].want));
			tap_sect_snap_take(m, &after, nr0, 3);
			ok(tap_sect_snap_same(&before, &after), "  no state change (sections, iomem, blocks)");
			tap_sect_snap_free(&before);
			tap_sect_snap_free(&after);
		}
		is_int(zd_add_memory(m, 0, 64 * G, 128 * M, 0), 0, "an aligned add_memory works");
		is_int(zd_remove_memory(m, 64 * G, 128 * M), 0, "and is removed");
		is_u64(tap_section_word(m, nr0), 0, "section word 0 again");
	}
}

/* ------------------------------------------------------------------ Inv 2 */

static void inv2_exclusive(struct zd_machine *m)
{
	const uint64_t S = PFN(65 * G), nr = S / SECT_PAGES;
	const uint64_t two = PFN(2 * M);
	unsigned long word, warns;

	diag("Inv 2: sub-section map exclusivity in section %llu", (unsigned long long)nr);
	is_u64(tap_section_word(m, nr), 0, "section starts empty");
	is_int(tap_add_pages(m, S + two, 2 * two, NULL), 0, "add [S+2M, S+6M)");
	is_u64(map_of(m, nr), 0x6, "bitmap is sub-sections 1 and 2");
	word = tap_section_word(m, nr);
	ok((word & ZD_SECTION_MARKED_PRESENT) && (word & ZD_SECTION_HAS_MEM_MAP),
	   "section present with a memmap");
	ok(!(word & (ZD_SECTION_IS_ONLINE | ZD_SECTION_IS_EARLY)), "hot-added: not online, not early");

	is_int(tap_add_pages(m, S + 2 * two, 2 * two, NULL), -EEXIST,
	       "add [S+4M, S+8M) overlapping -> -EEXIST");
	is_u64(map_of(m, nr), 0x6, "bitmap unchanged");
	is_u64(tap_section_word(m, nr), word, "section word unchanged");
	ok(!zd_pfn_valid(m, S + 3 * two), "S+6M still not valid");

	is_int(tap_add_pages(m, S + two, two, NULL), -EEXIST, "re-adding [S+2M, S+4M) -> -EEXIST");
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
		is_u64(tap_section_word(m, nr), word, "section word unchanged");
	}

	warns = zd_warn_count(m);
	tap_remove_pages(m, S, two, NULL);
	is_u64(zd_warn_count(m), warns + 1, "remove [S, S+2M) (never added) WARNs exactly once");
	ok(zd_log_contains(m, "section already deactivated"), "the WARN says already deactivated");
	is_u64(map_of(m, nr), 0x6, "bitmap unchanged");
	is_u64(tap_section_word(m, nr), word, "section word unchanged");

	warns = zd_warn_count(m);
	tap_remove_pages(m, S + two, 3 * two, NULL);
	is_u64(zd_warn_count(m), warns + 1, "remove [S+2M, S+8M) (half added) WARNs once");
	is_u64(map_of(m, nr), 0x6, "a partly-populated removal clears nothing");

	warns = zd_warn_count(m);
	tap_remove_pages(m, S + two, 2 * two, NULL);
	is_u64(zd_warn_count(m), warns, "remove [S+2M, S+6M) does not WARN");
	ok(!has_usage(m, nr), "bitmap empty: the usage is gone");
	is_u64(tap_section_word(m, nr), 0, "section word is 0");
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
	is_int(tap_add_pages(m, S + mid * SUB_PAGES, SUB_PAGES, NULL), 0,
	       "hot-add 2 MiB in the middle of S");
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
	tap_remove_pages(m, S + mid * SUB_PAGES, SUB_PAGES, NULL);
	ok(!zd_pfn_valid(m, S + mid * SUB_PAGES), "removed: invalid again");
	is_u64(tap_section_word(m, nr), 0, "section word 0");

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
		unsigned long w = tap_section_word(m, nr);
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
		if (tap_add_pages(m, pfn[i], nrp[i], NULL) != 0) {
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
		unsigned long w = tap_section_word(m, secs[i]);
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
		tap_remove_pages(m, pfn[i], nrp[i], NULL);
		left += tap_section_word(m, secs[i]) != 0 || has_usage(m, secs[i]);
	}
	is_int(left, 0, "after removal every random section word is 0 and usage gone");
}

/* ----------------------------------------------------------- corner cases */

static void corners(struct zd_machine *m)
{
	const uint64_t S = PFN(80 * G), nr = S / SECT_PAGES;

	diag("corner cases at section %llu", (unsigned long long)nr);
	/* First and last sub-section of a section. */
	is_int(tap_add_pages(m, S, SUB_PAGES, NULL), 0, "add the first sub-section");
	is_int(tap_add_pages(m, S + 63 * SUB_PAGES, SUB_PAGES, NULL), 0, "add the last sub-section");
	is_u64(map_of(m, nr), (1UL << 63) | 1UL, "bitmap has bits 0 and 63");
	ok(zd_pfn_valid(m, S) && zd_pfn_valid(m, S + SUB_PAGES - 1), "first sub-section valid");
	ok(zd_pfn_valid(m, S + 63 * SUB_PAGES) && zd_pfn_valid(m, S + SECT_PAGES - 1),
	   "last sub-section valid");
	ok(!zd_pfn_valid(m, S + SUB_PAGES) && !zd_pfn_valid(m, S + 63 * SUB_PAGES - 1),
	   "the sub-sections next to them are not");
	tap_remove_pages(m, S + 63 * SUB_PAGES, SUB_PAGES, NULL);
	is_u64(map_of(m, nr), 1UL, "last removed, first stays");
	tap_remove_pages(m, S, SUB_PAGES, NULL);
	is_u64(tap_section_word(m, nr), 0, "both removed: word 0");

	/* A span crossing two sections: [S+126M, S+130M). */
	{
		uint64_t p = S + PFN(126 * M);
		long mapped = m->vmemmap_mapped_bytes;

		is_int(tap_add_pages(m, p, PFN(4 * M), NULL), 0, "add [S+126M, S+130M) across two sections");
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
		tap_remove_pages(m, p, PFN(4 * M), NULL);
		ok(tap_section_word(m, nr) == 0 && tap_section_word(m, nr + 1) == 0, "removed: both words 0");
		is_u64(m->vmemmap_mapped_bytes, mapped, "memmap unmapped again");
	}

	/* Partial removal keeping the section. */
	{
		long mapped = m->vmemmap_mapped_bytes;
		unsigned bad = 0;
		unsigned long w;

		is_int(tap_add_pages(m, S, SECT_PAGES, NULL), 0, "add a full section");
		is_u64(map_of(m, nr), ~0UL, "all 64 sub-sections populated");
		is_u64(m->vmemmap_mapped_bytes - mapped, 2 * M, "a section maps 2 MiB of memmap");
		for (unsigned i = 0; i < 64; i++)
			zd_pfn_to_page(m, S + i * SUB_PAGES + 7)->memcg_data = 0x1000 + i;
		tap_remove_pages(m, S + 32 * SUB_PAGES, SUB_PAGES, NULL);
		w = tap_section_word(m, nr);
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
		tap_remove_pages(m, S, 32 * SUB_PAGES, NULL);
		tap_remove_pages(m, S + 33 * SUB_PAGES, 31 * SUB_PAGES, NULL);
		is_u64(tap_section_word(m, nr), 0, "removing the rest zeroes the word");
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
	if (!is_int(tap_add_pages(m, base, nr, NULL), 0, "__add_pages 8 GiB at 256 GiB"))
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
	tap_remove_pages(m, base, nr, NULL);
	rss2 = tap_rss_bytes();
	res2 = zd_vmemmap_resident_bytes(m);
	diag("after removal rss %llu MiB, resident memmap %llu MiB",
	     (unsigned long long)(rss2 >> 20), (unsigned long long)(res2 >> 20));
	ok(rss1 >= rss2 + (rss1 - rss0) * 9 / 10, "RSS fell back by at least 0.9 x the rise");
	is_u64(m->vmemmap_mapped_bytes, mapped0, "vmemmap_mapped_bytes back to its old value");
	ok(res2 <= res0, "resident memmap back to its old value");
	ok(!zd_pfn_valid(m, base) && tap_section_word(m, base / SECT_PAGES) == 0, "sections gone");
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
	is_u64(zd_warn_count(m), warns, "no WARN outside the deliberate ones");
	zd_machine_destroy(m);
	return done_testing();
}
