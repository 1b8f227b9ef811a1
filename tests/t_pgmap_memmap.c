/*
 * The memmap of device memory: invariants 12 (altmap accounting),
 * 13 (memmap_init_zone_device content), 14 (vmemmap deduplication),
 * 15 (global side effects) and 6 (ZONE_DEVICE is never online).
 *
 * Asserts:
 *  - inv 12: a 1 GiB FS_DAX pgmap at a section-aligned address, memmap on a
 *    memfd backing through an altmap with reserve 2: the eight 2 MiB memmap
 *    blocks land naturally aligned at base + 512 * (k + 1) (debug log),
 *    alloc 4096 and align 510 afterwards; the first initialised device pfn
 *    is base + reserve + free; pgmap_pfn_valid is false on the reserve and
 *    altmap pfns and true from there; the altmap pfns are initialised
 *    (zone Device, PG_reserved, refcount 1, self-linked lru) and the reserve
 *    pfns are not (still the CONFIG_DEBUG_VM poison); the memmap really is in
 *    the memfd. free = 4096 (the brief's number) cannot hold eight naturally
 *    aligned blocks after a reserve of 2 (it needs 4096 + 510 = 4606, which
 *    is what nd_pfn computes for 1 GiB: dataoff 18 MiB): shrinking free from
 *    4609 one by one, the first failure is at 4605, with -ENOMEM, nothing
 *    changed and alloc 0; 4096 fails the same way; after unmap alloc is 0;
 *  - inv 13: for every type with vmemmap_shift 0, 9 and 18, two ranges, each
 *    struct page compared field by field with a golden model (flags word =
 *    zone Device + nid + PG_reserved [+ PG_head on heads] [+ order in the low
 *    byte of page[1]], pgmap on heads, compound_head on tails, word 1
 *    (zone_device_data) NULL, mapping/index/private/memcg 0, _mapcount -1,
 *    refcount per type on heads and 0 on tails), never-written dedup tails
 *    all zero and still resolving to their head, MOVABLE pageblocks at every
 *    pageblock start, and exactly one "memmap_init_zone_device initialised N
 *    pages" debug line per range with N its device pages; GENERIC with an
 *    altmap writes every struct page of its folios;
 *  - inv 14: 2 MiB folios keep 2 resident host pages of 8, 1 GiB folios 2 of
 *    4096 (mincore over one folio's memmap); zd_vmemmap_resident_bytes grows
 *    by 2 pages per folio; with an altmap all 8 of 8 are there; reads through
 *    never-written tails give the right head and ZONE_DEVICE; a 64 GiB
 *    devdax-1G map costs under 2 MiB of RSS;
 *  - inv 15: PRIVATE at the top of the physical space and GENERIC in the
 *    middle leave max_pfn, max_low_pfn, every zone's present/managed pages,
 *    node present pages and totalram alone; the ZONE_DEVICE span (and the
 *    node span) grows to cover them and does not shrink on unmap; PRIVATE
 *    has no CPU address; hot-adding RAM above moves max_pfn;
 *  - inv 6: boot RAM [S, S+64M) and device [S+64M, S+128M) in one section:
 *    pfn_to_online_page NULL on the device half and the RAM page on the RAM
 *    half, the taint bit on that section only, a device-only section present
 *    with a memmap but not online and without a memory block, the number of
 *    memory blocks unchanged, page_is_ram and valid_phys_addr_range false for
 *    device pfns below max_pfn and true for the RAM half.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)
#define SECTION_PAGES 32768ULL

static struct zd_machine *m;

static void my_free(struct zd_page *folio) { (void)folio; }
static int my_migrate(struct zd_vm_fault *vmf) { (void)vmf; return 0; }
static const struct zd_dev_pagemap_ops ops = { .folio_free = my_free, .migrate_to_ram = my_migrate };

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != v)
			return false;
	return true;
}

/* Resident host pages of [addr, addr + len) by mincore. */
static long resident_pages(const void *addr, size_t len)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), n = (len + ps - 1) / ps;
	unsigned char *vec = malloc(n);
	long r = 0;

	if (!vec || mincore((void *)((uintptr_t)addr & ~(ps - 1)), len, vec)) {
		free(vec);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

static unsigned long expected_links(int zone, int nid)
{
	struct zd_page p;
	memset(&p, 0, sizeof(p));
	zd_set_page_links(&p, zone, nid);
	return p.flags;
}

/* ------------------------------------------------------------------ inv 12 */

#define AM_BASE (32 * G)
#define AM_SIZE (1 * G)

static struct zd_dev_pagemap am_pg;

static void *map_altmap(int fd, uint64_t free_pfns)
{
	zd_dev_pagemap_init(&am_pg);
	am_pg.type = ZD_MEMORY_DEVICE_FS_DAX;
	am_pg.range.start = AM_BASE;
	am_pg.range.end = AM_BASE + AM_SIZE - 1;
	am_pg.nr_range = 1;
	am_pg.backing_fd = fd;
	am_pg.flags = ZD_PGMAP_ALTMAP_VALID;
	am_pg.altmap.base_pfn = PFN(AM_BASE);
	am_pg.altmap.reserve = 2;
	am_pg.altmap.free = free_pfns;
	return zd_memremap_pages(m, &am_pg, 0);
}

struct area_snap {
	unsigned long words[9];
	long mapped;
	int lookups;
};

static void area_take(struct area_snap *s)
{
	for (int i = 0; i < 9; i++)
		s->words[i] = zd_section_word(zd_pfn_to_section(m, PFN(AM_BASE) + (uint64_t)i * SECTION_PAGES));
	s->mapped = __atomic_load_n(&m->vmemmap_mapped_bytes, __ATOMIC_RELAXED);
	s->lookups = 0;
	for (uint64_t p = PFN(AM_BASE); p < PFN(AM_BASE + AM_SIZE); p += SECTION_PAGES / 2) {
		struct zd_dev_pagemap *g = zd_get_dev_pagemap(m, p);
		s->lookups += g != NULL;
		zd_put_dev_pagemap(g);
	}
}

static bool area_same(const struct area_snap *a, const struct area_snap *b)
{
	if (memcmp(a->words, b->words, sizeof(a->words)))
		diag("  section words differ");
	if (a->mapped != b->mapped)
		diag("  mapped memmap bytes %ld -> %ld", a->mapped, b->mapped);
	if (a->lookups != b->lookups)
		diag("  lookups %d -> %d", a->lookups, b->lookups);
	return !memcmp(a, b, sizeof(*a));
}

static void altmap_accounting(void)
{
	const uint64_t base = PFN(AM_BASE), reserve = 2, need = 4096 + 510;
	int fd = memfd_create("altmap", MFD_CLOEXEC);
	unsigned long seq;
	void *ret;

	if (!ok(fd >= 0 && !ftruncate(fd, (off_t)AM_SIZE), "1 GiB memfd backing"))
		return;
	seq = zd_log_seq(m);
	ret = map_altmap(fd, need);
	if (!ok(!ZD_IS_ERR(ret), "1 GiB FS_DAX with altmap reserve 2, free %llu maps",
		(unsigned long long)need)) {
		close(fd);
		return;
	}
	is_u64(am_pg.altmap.alloc, 4096, "altmap alloc: 8 blocks of 512 pfns");
	is_u64(am_pg.altmap.align, 510, "altmap align: 510 pfns to reach the first 2 MiB boundary");
	for (uint64_t k = 0; k < 8; k++) {
		char needle[96];
		snprintf(needle, sizeof(needle), "altmap: pfn %#llx alloc %llu align 510 nr 512",
			 (unsigned long long)(base + 512 * (k + 1)), (unsigned long long)(512 * (k + 1)));
		ok(tap_log_since(m, seq, needle), "memmap block %llu carved at base + %llu",
		   (unsigned long long)k, (unsigned long long)(512 * (k + 1)));
	}
	uint64_t first = base + reserve + need;
	ok(tap_log_since(m, seq, "memmap_init_zone_device initialised 257536 pages"),
	   "memmap_init_zone_device initialised 262144 - 4608 pages");
	ok(!zd_pgmap_pfn_valid(&am_pg, base), "pgmap_pfn_valid false on a reserve pfn");
	ok(!zd_pgmap_pfn_valid(&am_pg, first - 1), "pgmap_pfn_valid false on the last altmap pfn");
	ok(zd_pgmap_pfn_valid(&am_pg, first), "pgmap_pfn_valid true at base + reserve + free");
	ok(zd_pgmap_pfn_valid(&am_pg, PFN(AM_BASE + AM_SIZE) - 1), "pgmap_pfn_valid true at the end");
	ok(!zd_pgmap_pfn_valid(&am_pg, PFN(AM_BASE + AM_SIZE)), "pgmap_pfn_valid false past the end");

	struct zd_page *fp = zd_pfn_to_page(m, first);
	ok(zd_page_zonenum(fp) == ZD_ZONE_DEVICE && fp->pgmap == &am_pg &&
	   zd_test_page_flag(fp, ZD_PG_reserved) && zd_page_ref_count(fp) == 0,
	   "first initialised device page at base + reserve + free");
	/* altmap pfns: __init_single_page + PG_reserved; reserve pfns: never. */
	int bad_alt = 0, bad_res = 0;
	for (uint64_t p = base + reserve; p < first; p++) {
		struct zd_page *pg = zd_pfn_to_page(m, p);
		bad_alt += pg->flags != (expected_links(ZD_ZONE_DEVICE, 0) | 1UL << ZD_PG_reserved) ||
			   zd_page_ref_count(pg) != 1 || pg->_mapcount != -1 ||
			   pg->lru.next != &pg->lru || pg->lru.prev != &pg->lru || pg->mapping ||
			   pg->index || pg->private || pg->memcg_data;
	}
	is_int(bad_alt, 0, "all %llu altmap pfns initialised (Device, PG_reserved, ref 1, lru)",
	       (unsigned long long)need);
	for (uint64_t p = base; p < base + reserve; p++)
		bad_res += !all_bytes(zd_pfn_to_page(m, p), sizeof(struct zd_page), 0xff);
	is_int(bad_res, 0, "the 2 reserve pfns are not initialised (still poisoned)");
	/* The struct pages live in the memfd at the altmap pfn's offset. */
	struct zd_page from_file;
	/* Section 0's memmap is block 0 at base + 512: the struct page of pfn
	 * base + i is at byte (512 << 12) + i * 64 of the file. */
	ssize_t rd = pread(fd, &from_file, sizeof(from_file),
			   (off_t)((512ULL << 12) + (first - base) * sizeof(struct zd_page)));
	ok(rd == (ssize_t)sizeof(from_file) && !memcmp(&from_file, fp, sizeof(from_file)),
	   "the first device struct page is in the memfd at the altmap offset");
	zd_memunmap_pages(&am_pg);
	is_u64(am_pg.altmap.alloc, 0, "after unmap altmap.alloc == 0");
	ok(!zd_pfn_valid(m, base), "after unmap the range is gone");

	/* Shrink free until the setup fails. */
	struct area_snap before, after;
	uint64_t fails_at = 0;
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	area_take(&before);
	for (uint64_t f = need + 3; f >= 4096; f--) {
		unsigned long s2 = zd_log_seq(m);
		ret = map_altmap(fd, f);
		if (!ZD_IS_ERR(ret)) {
			zd_memunmap_pages(&am_pg);
			continue;
		}
		fails_at = f;
		is_int(ZD_PTR_ERR(ret), -ENOMEM, "free %llu: -ENOMEM", (unsigned long long)f);
		ok(tap_log_since(m, s2, "altmap exhausted"), "free %llu: the log says the altmap is exhausted",
		   (unsigned long long)f);
		is_u64(am_pg.altmap.alloc, 0, "free %llu: nothing stays charged", (unsigned long long)f);
		area_take(&after);
		ok(area_same(&before, &after), "free %llu: nothing changed",
		   (unsigned long long)f);
		break;
	}
	is_u64(fails_at, need - 1, "the first free that fails is 4605 (8 blocks + 510 alignment)");
	ret = map_altmap(fd, 4096);
	ok(ZD_IS_ERR(ret) && ZD_PTR_ERR(ret) == -ENOMEM,
	   "free 4096 with reserve 2 fails too (-ENOMEM): alignment eats 510 pfns");
	if (!ZD_IS_ERR(ret))
		zd_memunmap_pages(&am_pg);
	area_take(&after);
	ok(area_same(&before, &after), "free 4096: nothing changed");
	close(fd);
}

/* ------------------------------------------------------------------ inv 13 */

struct golden_stats {
	uint64_t checked, bad, zero_tails, first_bad_pfn;
	const char *first_bad_what;
};

static void note_bad(struct golden_stats *st, uint64_t pfn, const char *what)
{
	if (!st->bad++) {
		st->first_bad_pfn = pfn;
		st->first_bad_what = what;
	}
}

/* Compare the struct pages of [first, end) with what memmap_init_zone_device must write. */
static void golden_walk(struct zd_dev_pagemap *pg, uint64_t first, uint64_t end, int refcount,
			uint64_t written, struct golden_stats *st)
{
	uint64_t nr = 1ULL << pg->vmemmap_shift;
	unsigned long links = expected_links(ZD_ZONE_DEVICE, 0);

	for (uint64_t pfn = first; pfn < end; pfn++) {
		struct zd_page *p = zd_pfn_to_page(m, pfn);
		uint64_t head_pfn = pfn & ~(nr - 1), idx = pfn - head_pfn;
		struct zd_page *head = zd_pfn_to_page(m, head_pfn);
		unsigned long want = links | 1UL << ZD_PG_reserved;

		st->checked++;
		if (idx >= written) {
			/* never written: reads as zero, still resolves */
			st->zero_tails++;
			if (!all_bytes(p, sizeof(*p), 0))
				note_bad(st, pfn, "dedup tail not all zero");
			else if (zd_page_folio(m, p) != head)
				note_bad(st, pfn, "dedup tail does not resolve to its head");
			else if (!zd_is_zone_device_page(p))
				note_bad(st, pfn, "dedup tail not ZONE_DEVICE");
			continue;
		}
		if (nr > 1 && idx == 0)
			want |= 1UL << ZD_PG_head;
		if (nr > 1 && idx == 1)
			want |= pg->vmemmap_shift;
		if (p->flags != want)
			note_bad(st, pfn, "flags word");
		else if (idx == 0 && p->pgmap != pg)
			note_bad(st, pfn, "pgmap on the head");
		else if (idx > 0 && p->compound_head != (unsigned long)head + 1)
			note_bad(st, pfn, "tail not linked to its head");
		else if (p->zone_device_data)
			note_bad(st, pfn, "zone_device_data");
		else if (p->mapping || p->index || p->private || p->memcg_data)
			note_bad(st, pfn, "mapping/index/private/memcg");
		else if (p->_mapcount != -1)
			note_bad(st, pfn, "_mapcount");
		else if (zd_page_ref_count(p) != (idx == 0 ? refcount : 0))
			note_bad(st, pfn, "refcount");
		else if (zd_page_folio(m, p) != head)
			note_bad(st, pfn, "page_folio");
		else if (zd_page_to_nid(p) != 0)
			note_bad(st, pfn, "nid");
	}
}

static int count_init_lines(unsigned long seq, uint64_t *ns, int max)
{
	static struct zd_log_line lines[ZD_LOG_RING];
	size_t n = zd_log_read(m, seq, lines, ZD_LOG_RING);
	int c = 0;

	for (size_t i = 0; i < n; i++) {
		const char *s = strstr(lines[i].text, "memmap_init_zone_device initialised ");
		if (!s)
			continue;
		if (c < max)
			ns[c] = strtoull(s + strlen("memmap_init_zone_device initialised "), NULL, 10);
		c++;
	}
	return c;
}

static void memmap_content(void)
{
	static const int types[] = { ZD_MEMORY_DEVICE_PRIVATE, ZD_MEMORY_DEVICE_COHERENT,
				     ZD_MEMORY_DEVICE_FS_DAX, ZD_MEMORY_DEVICE_GENERIC,
				     ZD_MEMORY_DEVICE_PCI_P2PDMA };
	static const unsigned long shifts[] = { 0, 9, 18 };

	for (size_t s = 0; s < 3; s++) {
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			unsigned long shift = shifts[s];
			const char *tn = zd_memory_type_name(types[t]);
			struct zd_dev_pagemap pg;
			struct golden_stats st = { 0 };
			unsigned long seq;
			uint64_t ns[4] = { 0 };
			/* two ranges, folio aligned; the second crosses sections */
			phys_addr_t r0 = 64 * G, r1 = shift == 18 ? 66 * G : 65 * G + 64 * M;
			uint64_t len0 = shift == 18 ? 1 * G : 256 * M, len1 = shift == 18 ? 1 * G : 192 * M;

			zd_dev_pagemap_init(&pg);
			pg.type = (enum zd_memory_type)types[t];
			pg.ops = &ops;
			pg.owner = &pg;
			pg.vmemmap_shift = shift;
			pg.nr_range = 2;
			pg.ranges[0] = (struct zd_range){ r0, r0 + len0 - 1 };
			pg.ranges[1] = (struct zd_range){ r1, r1 + len1 - 1 };
			seq = zd_log_seq(m);
			void *ret = zd_memremap_pages(m, &pg, 0);
			if (!ok(!ZD_IS_ERR(ret), "%s shift %lu: maps (%ld)", tn, shift,
				ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L))
				continue;
			uint64_t written = shift >= 8 ? 128 : 1ULL << shift;
			int refcount = types[t] == ZD_MEMORY_DEVICE_GENERIC ? 1 : 0;
			golden_walk(&pg, PFN(r0), PFN(r0 + len0), refcount, written, &st);
			golden_walk(&pg, PFN(r1), PFN(r1 + len1), refcount, written, &st);
			ok(st.bad == 0, "%s shift %lu: %llu struct pages match the golden model%s%s",
			   tn, shift, (unsigned long long)st.checked, st.bad ? " - first bad: " : "",
			   st.bad ? st.first_bad_what : "");
			if (st.bad)
				diag("  %llu bad, first at pfn %#llx", (unsigned long long)st.bad,
				     (unsigned long long)st.first_bad_pfn);
			if (shift >= 8)
				ok(st.zero_tails > 0, "%s shift %lu: dedup tails were never written", tn,
				   shift);
			/* __init_zone_device_page() marks the pageblock of each page
			 * it initialises: every pageblock without dedup, only the
			 * one holding a folio's written struct pages with it. */
			int bad_mt = 0, unset_mt = 0;
			uint64_t folio = 1ULL << shift;
			for (int r = 0; r < 2; r++)
				for (uint64_t p = PFN(pg.ranges[r].start); p <= PFN(pg.ranges[r].end); p += 512) {
					bool inited = (p & (folio - 1)) < written;
					int mt = zd_get_pageblock_migratetype(m, p);
					bad_mt += inited && mt != ZD_MIGRATE_MOVABLE;
					unset_mt += !inited && mt == ZD_MIGRATE_MOVABLE;
				}
			is_int(bad_mt, 0, "%s shift %lu: MOVABLE at every initialised pageblock start",
			       tn, shift);
			is_int(unset_mt, 0, "%s shift %lu: dedup tails' pageblocks left alone", tn, shift);
			int lines = count_init_lines(seq, ns, 4);
			is_int(lines, 2, "%s shift %lu: one memmap_init_zone_device line per range", tn,
			       shift);
			ok(ns[0] == PFN(len0) && ns[1] == PFN(len1),
			   "%s shift %lu: N = device pages per range (%llu, %llu)", tn, shift,
			   (unsigned long long)ns[0], (unsigned long long)ns[1]);
			zd_memunmap_pages(&pg);
		}
	}

	/* With an altmap there is no dedup: every struct page of a folio is written. */
	int fd = memfd_create("inv13", MFD_CLOEXEC);
	struct zd_dev_pagemap pg;
	struct golden_stats st = { 0 };
	if (!ok(fd >= 0 && !ftruncate(fd, (off_t)(256 * M)), "memfd for the altmap case"))
		return;
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	pg.vmemmap_shift = 9;
	pg.nr_range = 1;
	pg.range = (struct zd_range){ 64 * G, 64 * G + 256 * M - 1 };
	pg.backing_fd = fd;
	pg.flags = ZD_PGMAP_ALTMAP_VALID;
	pg.altmap.base_pfn = PFN(64 * G);
	pg.altmap.reserve = 0;
	pg.altmap.free = 1024;   /* 2 sections of memmap, 2 MiB aligned: first device pfn 1024 */
	unsigned long seq = zd_log_seq(m);
	void *ret = zd_memremap_pages(m, &pg, 0);
	if (ok(!ZD_IS_ERR(ret), "GENERIC shift 9 with altmap maps")) {
		golden_walk(&pg, PFN(64 * G) + 1024, PFN(64 * G + 256 * M), 1, 512, &st);
		ok(st.bad == 0 && st.zero_tails == 0,
		   "GENERIC shift 9 + altmap: all 512 struct pages of every folio written%s%s",
		   st.bad ? " - first bad: " : "", st.bad ? st.first_bad_what : "");
		uint64_t ns[2] = { 0 };
		ok(count_init_lines(seq, ns, 2) == 1 && ns[0] == PFN(256 * M) - 1024,
		   "GENERIC + altmap: N excludes the altmap pfns (%llu)", (unsigned long long)ns[0]);
		/* inv 14, no sharing with an altmap: all 8 memmap pages of a folio. */
		struct zd_page *h = zd_pfn_to_page(m, PFN(64 * G) + 1024 + 512 * 3);
		is_int(resident_pages(h, 512 * sizeof(struct zd_page)), 8,
		       "altmap memmap: 8 of 8 host pages per 2 MiB folio (no sharing)");
		zd_memunmap_pages(&pg);
	}
	close(fd);
}

/* ------------------------------------------------------------------ inv 14 */

static void dedup(void)
{
	struct zd_dev_pagemap pg;
	uint64_t res0;
	void *ret;

	/* 2 MiB folios */
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	pg.vmemmap_shift = 9;
	pg.nr_range = 1;
	pg.range = (struct zd_range){ 96 * G, 96 * G + 256 * M - 1 };
	res0 = zd_vmemmap_resident_bytes(m);
	ret = zd_memremap_pages(m, &pg, 0);
	if (ok(!ZD_IS_ERR(ret), "devdax 2M: maps")) {
		uint64_t folios = PFN(256 * M) / 512;
		uint64_t head_pfn = PFN(96 * G) + 512 * 37;
		struct zd_page *h = zd_pfn_to_page(m, head_pfn);
		is_int(resident_pages(h, 512 * sizeof(struct zd_page)), 2,
		       "2 MiB folio: 2 resident host pages of its 8 memmap pages");
		long all = resident_pages(zd_pfn_to_page(m, PFN(96 * G)), folios * 512 * sizeof(struct zd_page));
		is_int(all, (long)(2 * folios), "all %llu folios: 2 pages each", (unsigned long long)folios);
		is_u64(zd_vmemmap_resident_bytes(m) - res0, 2 * folios * 4096,
		       "zd_vmemmap_resident_bytes grows by 2 pages per folio");
		/* reads through never-written tails */
		struct zd_page *tail = h + 400;
		ok(all_bytes(tail, sizeof(*tail), 0), "tail 400 was never written (reads zero)");
		ok(zd_page_folio(m, tail) == h, "tail 400 resolves to its head");
		ok(zd_is_zone_device_page(tail) && zd_is_device_generic_page(m, tail),
		   "tail 400 is a ZONE_DEVICE generic page");
		ok(zd_page_folio(m, h + 100) == h, "written tail 100 resolves to its head");
		zd_memunmap_pages(&pg);
	}

	/* 1 GiB folios: 64 GiB devdax, RSS and resident memmap */
	const uint64_t size = 64 * G, start = 128 * G, folios = 64;
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	pg.vmemmap_shift = 18;
	pg.nr_range = 1;
	pg.range = (struct zd_range){ start, start + size - 1 };
	uint64_t rss0 = tap_rss_bytes();
	res0 = zd_vmemmap_resident_bytes(m);
	ret = zd_memremap_pages(m, &pg, 0);
	if (ok(!ZD_IS_ERR(ret), "devdax 1G: 64 GiB maps")) {
		uint64_t rss1 = tap_rss_bytes();
		struct zd_page *h = zd_pfn_to_page(m, PFN(start) + 262144ULL * 5);
		diag("64 GiB devdax-1G: RSS +%lld KiB, resident memmap +%llu KiB",
		     (long long)(rss1 - rss0) >> 10,
		     (unsigned long long)(zd_vmemmap_resident_bytes(m) - res0) >> 10);
		ok(rss1 - rss0 < 2 * M, "RSS of the 64 GiB devdax-1G map is below 2 MiB (%lld KiB)",
		   (long long)(rss1 - rss0) >> 10);
		is_int(resident_pages(h, 262144 * sizeof(struct zd_page)), 2,
		       "1 GiB folio: 2 resident host pages of its 4096 memmap pages");
		is_u64(zd_vmemmap_resident_bytes(m) - res0, folios * 2 * 4096,
		       "zd_vmemmap_resident_bytes grows by 2 pages per 1 GiB folio");
		int bad = 0;
		static const uint64_t offs[] = { 128, 4096, 32768, 100000, 200000, 262143 };
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			struct zd_page *t = h + offs[i];
			bad += zd_page_folio(m, t) != h || !zd_is_zone_device_page(t) ||
			       zd_page_pgmap(m, t) != &pg;
		}
		is_int(bad, 0, "reads through never-written tails (also in later sections) find the head");
		is_int(zd_folio_order(m, h), 18, "order 18 recorded in page[1]");
		zd_memunmap_pages(&pg);
	}
}

/* ------------------------------------------------------------------ inv 15 */

struct counts {
	uint64_t max_pfn, max_low_pfn, totalram, node_present;
	uint64_t present[ZD_MAX_NR_ZONES];
	long managed[ZD_MAX_NR_ZONES];
};

static void counts_take(struct zd_machine *mm, struct counts *c)
{
	struct zd_pglist_data *pgdat = mm->node_data[0];

	memset(c, 0, sizeof(*c));
	c->max_pfn = zd_max_pfn(mm);
	c->max_low_pfn = __atomic_load_n(&mm->max_low_pfn, __ATOMIC_RELAXED);
	c->totalram = zd_totalram_pages(mm);
	c->node_present = pgdat->node_present_pages;
	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		c->present[z] = pgdat->node_zones[z].present_pages;
		c->managed[z] = __atomic_load_n(&pgdat->node_zones[z].managed_pages, __ATOMIC_RELAXED);
	}
}

static void global_effects(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1 };
	struct zd_machine *mm = zd_machine_create(&d);
	struct zd_dev_pagemap priv, gen;
	struct counts c0, c1;
	struct zd_zone *dz;
	struct zd_pglist_data *pgdat;

	if (!ok(!ZD_IS_ERR(mm), "inv 15 machine boots"))
		return;
	pgdat = mm->node_data[0];
	dz = &pgdat->node_zones[ZD_ZONE_DEVICE];
	counts_take(mm, &c0);
	ok(zd_zone_is_empty(dz), "ZONE_DEVICE starts empty");

	struct zd_resource *r = zd_request_free_mem_region(mm, NULL, 256 * M, "gpu");
	if (!ok(!ZD_IS_ERR(r), "a free region for PRIVATE"))
		goto out;
	const phys_addr_t top_start = r->start, top_end = r->end;
	is_u64(top_end, (1ULL << 40) - 1, "PRIVATE region at the top of the physical space");
	zd_dev_pagemap_init(&priv);
	priv.type = ZD_MEMORY_DEVICE_PRIVATE;
	priv.range = (struct zd_range){ r->start, r->end };
	priv.nr_range = 1;
	priv.ops = &ops;
	priv.owner = &priv;
	void *ret = zd_memremap_pages(mm, &priv, 0);
	ok(!ZD_IS_ERR(ret) && ret && tap_addr_inaccessible(ret),
	   "PRIVATE maps; the address it returns is not accessible");
	if (ZD_IS_ERR(ret))
		goto out;
	ok(zd_device_page_address(mm, zd_pfn_to_page(mm, PFN(r->start))) == NULL,
	   "PRIVATE page has no contents address (no linear map)");
	counts_take(mm, &c1);
	ok(!memcmp(&c0, &c1, sizeof(c0)), "PRIVATE at the top: max_pfn, present, managed, totalram unchanged");
	is_u64(dz->zone_start_pfn, PFN(r->start), "ZONE_DEVICE starts at the PRIVATE range");
	is_u64(zd_zone_end_pfn(dz), PFN(r->end + 1), "ZONE_DEVICE ends at the top");
	ok(pgdat->node_start_pfn + pgdat->node_spanned_pages == PFN(r->end + 1),
	   "the node span grew to the top");

	zd_dev_pagemap_init(&gen);
	gen.type = ZD_MEMORY_DEVICE_GENERIC;
	gen.range = (struct zd_range){ 32 * G, 33 * G - 1 };
	gen.nr_range = 1;
	ret = zd_memremap_pages(mm, &gen, 0);
	if (ok(!ZD_IS_ERR(ret), "GENERIC in the middle maps")) {
		counts_take(mm, &c1);
		ok(!memcmp(&c0, &c1, sizeof(c0)), "GENERIC in the middle: counts unchanged");
		is_u64(dz->zone_start_pfn, PFN(32 * G), "ZONE_DEVICE span grew down to 32 GiB");
		is_u64(zd_zone_end_pfn(dz), PFN(r->end + 1), "and still ends at the top");
		ok(zd_valid_phys_addr_range(mm, 32 * G, 4096) == false,
		   "GENERIC pages are not valid /dev/mem RAM");
		zd_memunmap_pages(&gen);
	}
	zd_memunmap_pages(&priv);
	zd_release_mem_region(mm, top_start, top_end - top_start + 1);
	counts_take(mm, &c1);
	ok(!memcmp(&c0, &c1, sizeof(c0)), "after both unmaps: counts unchanged");
	is_u64(dz->zone_start_pfn, PFN(32 * G), "ZONE_DEVICE span start kept after unmap");
	is_u64(zd_zone_end_pfn(dz), PFN(top_end + 1), "ZONE_DEVICE span end kept after unmap");

	/* System RAM above moves max_pfn. */
	int rc = zd_add_memory(mm, 0, 8 * G, 128 * M, 0);
	is_int(rc, 0, "hot-add 128 MiB of RAM at 8 GiB");
	is_u64(zd_max_pfn(mm), PFN(8 * G + 128 * M), "max_pfn moved to the end of the new RAM");
	is_u64(__atomic_load_n(&mm->max_low_pfn, __ATOMIC_RELAXED), PFN(8 * G + 128 * M),
	       "max_low_pfn too");
	is_u64(zd_zone_end_pfn(dz), PFN(top_end + 1), "ZONE_DEVICE span untouched by RAM hot-add");
	is_u64(zd_warn_count(mm), 0, "inv 15 machine: no WARN");
out:
	zd_machine_destroy(mm);
}

/* ------------------------------------------------------------------- inv 6 */

static int count_block(const struct zd_memory_block *mb, void *arg)
{
	(void)mb;
	(*(int *)arg)++;
	return 0;
}

static void never_online(void)
{
	const phys_addr_t S = 1 * G;
	struct zd_mem_range ram[] = { { .start = 0, .size = S + 64 * M },
				      { .start = 2 * G, .size = 1 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 2 };
	struct zd_machine *mm = zd_machine_create(&d);
	struct zd_dev_pagemap half, whole;
	int blocks0 = 0, blocks1 = 0;
	struct zd_memory_block mb;

	if (!ok(!ZD_IS_ERR(mm), "inv 6 machine boots"))
		return;
	zd_for_each_memory_block(mm, &blocks0, count_block);
	uint64_t ram_pfn = PFN(S + 32 * M), dev_pfn = PFN(S + 96 * M), dev2_pfn = PFN(S + 160 * M);
	ok(zd_pfn_to_online_page(mm, ram_pfn) == zd_pfn_to_page(mm, ram_pfn), "boot RAM half is online");

	zd_dev_pagemap_init(&half);
	half.type = ZD_MEMORY_DEVICE_GENERIC;
	half.range = (struct zd_range){ S + 64 * M, S + 128 * M - 1 };
	half.nr_range = 1;
	void *ret = zd_memremap_pages(mm, &half, 0);
	if (!ok(!ZD_IS_ERR(ret), "device half [S+64M, S+128M) maps"))
		goto out;
	zd_dev_pagemap_init(&whole);
	whole.type = ZD_MEMORY_DEVICE_GENERIC;
	whole.range = (struct zd_range){ S + 128 * M, S + 256 * M - 1 };
	whole.nr_range = 1;
	ret = zd_memremap_pages(mm, &whole, 0);
	ok(!ZD_IS_ERR(ret), "device-only section [S+128M, S+256M) maps");

	ok(zd_pfn_valid(mm, dev_pfn), "device pfn has a struct page");
	ok(zd_pfn_to_online_page(mm, dev_pfn) == NULL, "pfn_to_online_page NULL on the device half");
	ok(zd_pfn_to_online_page(mm, PFN(S + 64 * M)) == NULL, "... also on its first pfn");
	ok(zd_pfn_to_online_page(mm, ram_pfn) == zd_pfn_to_page(mm, ram_pfn),
	   "pfn_to_online_page gives the page on the RAM half");
	ok(zd_pfn_to_online_page(mm, PFN(S + 64 * M) - 1) != NULL, "... up to its last pfn");
	ok(zd_pfn_to_online_page(mm, dev2_pfn) == NULL, "pfn_to_online_page NULL on the device-only section");
	unsigned long w = zd_section_word(zd_pfn_to_section(mm, PFN(S)));
	ok(w & ZD_SECTION_TAINT_ZONE_DEVICE, "the shared section is tainted");
	ok(w & ZD_SECTION_IS_ONLINE, "the shared section is online (its RAM)");
	unsigned long w2 = zd_section_word(zd_pfn_to_section(mm, dev2_pfn));
	ok((w2 & (ZD_SECTION_MARKED_PRESENT | ZD_SECTION_HAS_MEM_MAP)) ==
	   (ZD_SECTION_MARKED_PRESENT | ZD_SECTION_HAS_MEM_MAP),
	   "device-only section: present with a memmap");
	ok(!(w2 & (ZD_SECTION_IS_ONLINE | ZD_SECTION_TAINT_ZONE_DEVICE | ZD_SECTION_IS_EARLY)),
	   "device-only section: not online, not tainted, not early");
	zd_for_each_memory_block(mm, &blocks1, count_block);
	is_int(blocks1, blocks0, "no memory block was created for device memory");
	is_int(zd_memory_block_get(mm, zd_phys_to_block_id(mm, S + 128 * M), &mb), -ENODEV,
	       "no memoryN for the device-only section");
	ok(zd_memory_block_get(mm, zd_phys_to_block_id(mm, S), &mb) == 0 && mb.state == ZD_MEM_ONLINE,
	   "the shared section's block is the RAM's, online");
	ok(zd_page_is_ram(mm, ram_pfn) == 1, "page_is_ram on the RAM half");
	ok(zd_page_is_ram(mm, dev_pfn) == 0, "page_is_ram false on the device half");
	ok(zd_max_pfn(mm) == PFN(3 * G) && dev_pfn < zd_max_pfn(mm), "device pfns lie below max_pfn");
	ok(zd_valid_phys_addr_range(mm, S + 32 * M, 4096), "valid_phys_addr_range true for RAM");
	ok(!zd_valid_phys_addr_range(mm, S + 96 * M, 4096), "valid_phys_addr_range false for device");
	ok(!zd_valid_phys_addr_range(mm, S + 60 * M, 8 * M), "... and for a range straddling both");
	if (!ZD_IS_ERR(ret))
		zd_memunmap_pages(&whole);
	zd_memunmap_pages(&half);
	ok(zd_pfn_to_online_page(mm, dev_pfn) == NULL, "after unmap the device half is still not online");
	ok(zd_pfn_to_online_page(mm, ram_pfn) != NULL, "and the RAM half still is");
	is_u64(zd_warn_count(mm), 0, "inv 6 machine: no WARN");
out:
	zd_machine_destroy(mm);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .debug_vm = true };

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "machine boots")) {
		diag("%s", zd_machine_create_error());
		return done_testing();
	}
	altmap_accounting();
	memmap_content();
	dedup();
	is_u64(zd_warn_count(m), 0, "main machine: no WARN");
	zd_machine_destroy(m);
	global_effects();
	never_online();
	return done_testing();
}
