/*
 * Invariant 8 (type/parameter validation) and the conflict checks of
 * invariant 7 for memremap_pages().
 *
 * Asserts:
 *  - the full matrix type {0, PRIVATE, COHERENT, FS_DAX, GENERIC, P2PDMA, 9}
 *    x ops {NULL, no migrate_to_ram, no folio_free, full} x owner {NULL, set}
 *    x nr_range {0, 1, 2} x altmap {off, on (memfd backing)} gives exactly the
 *    result of the table below (written from spec core.md §4.4/§4.5: PRIVATE
 *    needs migrate_to_ram, folio_free and owner, in that order; COHERENT
 *    needs folio_free and owner; FS_DAX/GENERIC/P2PDMA need nothing;
 *    nr_range 0 is "nr_range must be specified"; zonedev refuses invalid
 *    types (the kernel only warns) with "Invalid pgmap type"; an altmap with
 *    a second range is "altmap not supported for multiple ranges"), each
 *    rejection logging its reason;
 *  - vmemmap_shift 19 (> MAX_FOLIO_ORDER 18) is -EINVAL;
 *  - after every rejection nothing changed: the section words and sub-section
 *    maps over the test area, the /proc/iomem text, the mapped memmap bytes,
 *    nr_range, and get_dev_pagemap() on every range endpoint is NULL;
 *  - every success is found by pfn while mapped and unmapped cleanly: state
 *    back to the snapshot, altmap.alloc 0, no WARN during map + unmap;
 *  - -ENXIO for ranges overlapping System RAM (inside and straddling), with a
 *    log line naming the RAM resource and its range;
 *  - -ENOMEM for a range whose first or last pfn belongs to another pgmap,
 *    which stays intact;
 *  - PRIVATE memremap_pages() on a machine with the dpa design is -EINVAL.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)

/* The area every pgmap of this test lives in, and its two ranges. */
#define AREA_LO (16 * G - 256 * M)
#define AREA_HI (17 * G)
#define R0_START (16 * G)
#define R0_SIZE (128 * M)
#define R1_START (16 * G + 256 * M)
#define R1_SIZE (128 * M)
#define NSEC ((AREA_HI - AREA_LO) / (128 * M))

static struct zd_machine *m;
static int memfd;

static void my_free(struct zd_page *folio) { (void)folio; }
static int my_migrate(struct zd_vm_fault *vmf) { (void)vmf; return 0; }

enum { OPS_NULL, OPS_NO_MIGRATE, OPS_NO_FREE, OPS_FULL, NR_OPS };
static const struct zd_dev_pagemap_ops ops_no_migrate = { .folio_free = my_free };
static const struct zd_dev_pagemap_ops ops_no_free = { .migrate_to_ram = my_migrate };
static const struct zd_dev_pagemap_ops ops_full = { .folio_free = my_free,
						    .migrate_to_ram = my_migrate };
static const struct zd_dev_pagemap_ops *const ops_of[NR_OPS] = {
	NULL, &ops_no_migrate, &ops_no_free, &ops_full,
};
static const char *const ops_name[NR_OPS] = { "ops NULL", "no migrate_to_ram", "no folio_free",
					      "full ops" };

/*
 * Expected result with nr_range 1 and no altmap, per type. Cell index is
 * ops * 2 + (owner set). '0' success; otherwise -EINVAL with the reason:
 * 'M' Missing migrate_to_ram method, 'F' Missing folio_free method,
 * 'O' Missing owner, 'T' Invalid pgmap type; 'P' PRIVATE with an altmap.
 */
static const struct {
	int type;
	const char cells[9];
} table[] = {
	/*                               NULL     no-mig   no-free  full
	 *                              -o  +o   -o  +o   -o  +o   -o  +o */
	{ 0,                           "TTTTTTTT" },
	{ ZD_MEMORY_DEVICE_PRIVATE,    "MMMMFFO0" },
	{ ZD_MEMORY_DEVICE_COHERENT,   "FFO0FFO0" },
	{ ZD_MEMORY_DEVICE_FS_DAX,     "00000000" },
	{ ZD_MEMORY_DEVICE_GENERIC,    "00000000" },
	{ ZD_MEMORY_DEVICE_PCI_P2PDMA, "00000000" },
	{ 9,                           "TTTTTTTT" },
};

static const char *reason_text(char c)
{
	switch (c) {
	case 'M': return "Missing migrate_to_ram method";
	case 'F': return "Missing folio_free method";
	case 'O': return "Missing owner";
	case 'T': return "Invalid pgmap type";
	case 'N': return "nr_range must be specified";
	case 'A': return "altmap not supported for multiple ranges";
	case 'P': return "device-private memory cannot hold its own memmap";
	case 'S': return "requested folio size unsupported";
	}
	return NULL;
}

/* ---- state snapshots ---- */

struct snap {
	char *iomem;
	unsigned long words[NSEC];
	unsigned long submap[NSEC][ZD_SUBSECTION_MAP_LONGS];
	bool usage[NSEC];
	long mapped;
	uint64_t max_pfn;
};

static void take(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->iomem = tap_iomem_text(m);
	for (uint64_t i = 0; i < NSEC; i++) {
		struct zd_mem_section *ms = zd_pfn_to_section(m, PFN(AREA_LO) + i * 32768);
		s->words[i] = zd_section_word(ms);
		if (ms && ms->usage) {
			s->usage[i] = true;
			memcpy(s->submap[i], ms->usage->subsection_map, sizeof(s->submap[i]));
		}
	}
	s->mapped = __atomic_load_n(&m->vmemmap_mapped_bytes, __ATOMIC_RELAXED);
	s->max_pfn = zd_max_pfn(m);
}

static void drop(struct snap *s)
{
	free(s->iomem);
	s->iomem = NULL;
}

/* Why two snapshots differ, or NULL. */
static const char *diff(const struct snap *a, const struct snap *b)
{
	if (strcmp(a->iomem, b->iomem))
		return "iomem text";
	if (memcmp(a->words, b->words, sizeof(a->words)))
		return "section words";
	if (memcmp(a->usage, b->usage, sizeof(a->usage)) ||
	    memcmp(a->submap, b->submap, sizeof(a->submap)))
		return "sub-section maps";
	if (a->mapped != b->mapped)
		return "mapped memmap bytes";
	if (a->max_pfn != b->max_pfn)
		return "max_pfn";
	return NULL;
}

/* get_dev_pagemap() on both endpoints of both ranges: how many hits. */
static int lookups(void)
{
	static const uint64_t pfns[] = {
		PFN(R0_START), PFN(R0_START + R0_SIZE) - 1, PFN(R1_START), PFN(R1_START + R1_SIZE) - 1,
	};
	int hits = 0;

	for (size_t i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++) {
		struct zd_dev_pagemap *p = zd_get_dev_pagemap(m, pfns[i]);
		if (p) {
			hits++;
			zd_put_dev_pagemap(p);
		}
	}
	return hits;
}

static void setup(struct zd_dev_pagemap *pg, int type, int ops, bool owner, int nr_range,
		  bool altmap)
{
	zd_dev_pagemap_init(pg);
	pg->type = (enum zd_memory_type)type;
	pg->ops = ops_of[ops];
	pg->owner = owner ? (void *)pg : NULL;
	pg->nr_range = nr_range;
	pg->ranges[0].start = R0_START;
	pg->ranges[0].end = R0_START + R0_SIZE - 1;
	pg->ranges[1].start = R1_START;
	pg->ranges[1].end = R1_START + R1_SIZE - 1;
	pg->backing_fd = memfd;
	if (altmap) {
		pg->flags |= ZD_PGMAP_ALTMAP_VALID;
		pg->altmap.base_pfn = PFN(R0_START);
		pg->altmap.reserve = 2;
		pg->altmap.free = 2048;
	}
}

static int failures_reported;

/* One combination: map, compare with the expectation, unmap, check state. */
static void run_one(int type, int ops, bool owner, int nr_range, bool altmap, char expect)
{
	struct zd_dev_pagemap pg;
	struct snap before, after;
	unsigned long seq = zd_log_seq(m), warns = zd_warn_count(m);
	char what[160];
	bool good = true;
	void *ret;

	snprintf(what, sizeof(what), "type %d, %s, owner %s, nr_range %d, altmap %s", type,
		 ops_name[ops], owner ? "set" : "NULL", nr_range, altmap ? "on" : "off");
	setup(&pg, type, ops, owner, nr_range, altmap);
	take(&before);
	ret = zd_memremap_pages(m, &pg, 0);
	if (expect != '0') {
		const char *d;
		good &= ok(ZD_IS_ERR(ret) && ZD_PTR_ERR(ret) == -EINVAL, "%s: -EINVAL (got %ld)", what,
			   ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L);
		if (!ZD_IS_ERR(ret)) {
			zd_memunmap_pages(&pg);
			drop(&before);
			return;
		}
		take(&after);
		d = diff(&before, &after);
		good &= ok(!d, "%s: rejection changes nothing%s%s", what, d ? ": " : "", d ? d : "");
		good &= is_int(pg.nr_range, nr_range, "%s: nr_range kept", what);
		good &= is_int(lookups(), 0, "%s: no pgmap found on the ranges", what);
		good &= ok(tap_log_since(m, seq, reason_text(expect)), "%s: log says \"%s\"", what,
			   reason_text(expect));
		drop(&after);
	} else {
		const char *d;
		good &= ok(!ZD_IS_ERR(ret), "%s: maps (got %ld)", what,
			   ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L);
		if (ZD_IS_ERR(ret)) {
			drop(&before);
			return;
		}
		good &= ok(ret != NULL && (type != ZD_MEMORY_DEVICE_PRIVATE ||
					   tap_addr_inaccessible(ret)),
			   "%s: %s", what, type == ZD_MEMORY_DEVICE_PRIVATE ?
			   "an address like __va(start), inaccessible" : "a CPU address");
		good &= is_int(lookups(), nr_range * 2, "%s: found by pfn on every endpoint", what);
		take(&after);
		good &= ok(diff(&before, &after) != NULL, "%s: the snapshot sees the mapping", what);
		drop(&after);
		zd_memunmap_pages(&pg);
		take(&after);
		d = diff(&before, &after);
		good &= ok(!d, "%s: unmap restores everything%s%s", what, d ? ": " : "", d ? d : "");
		good &= is_int(lookups(), 0, "%s: lookups fail after unmap", what);
		good &= is_u64(pg.altmap.alloc, 0, "%s: altmap.alloc back to 0", what);
		good &= is_int(zd_warn_count(m) - warns, 0, "%s: no WARN on map + unmap", what);
		drop(&after);
	}
	drop(&before);
	if (!good && failures_reported++ < 20) {
		diag("log of the failing combination:");
		struct zd_log_line lines[64];
		size_t n = zd_log_read(m, seq, lines, 64);
		for (size_t i = 0; i < n; i++)
			diag("  %s", lines[i].text);
	}
}

static void matrix(void)
{
	int combos = 0, successes = 0;

	for (size_t t = 0; t < sizeof(table) / sizeof(table[0]); t++)
		for (int ops = 0; ops < NR_OPS; ops++)
			for (int owner = 0; owner < 2; owner++)
				for (int nr = 0; nr <= 2; nr++)
					for (int alt = 0; alt < 2; alt++) {
						char c = table[t].cells[ops * 2 + owner];
						if (nr == 0)
							c = 'N';
						/* zonedev's own rule, checked with the
						 * type's: private memory cannot hold the
						 * memmap (the kernel would leak it). */
						else if (c == '0' && alt &&
							 table[t].type == ZD_MEMORY_DEVICE_PRIVATE)
							c = 'P';
						else if (c == '0' && nr == 2 && alt)
							c = 'A';
						run_one(table[t].type, ops, owner, nr, alt, c);
						combos++;
						successes += c == '0';
					}
	is_int(combos, 7 * 4 * 2 * 3 * 2, "the whole matrix ran");
	diag("%d combinations, %d expected to map", combos, successes);
}

static void folio_order_limit(void)
{
	struct zd_dev_pagemap pg;
	struct snap before, after;
	unsigned long seq = zd_log_seq(m);
	void *ret;
	const char *d;

	setup(&pg, ZD_MEMORY_DEVICE_GENERIC, OPS_NULL, false, 1, false);
	pg.vmemmap_shift = 19;
	take(&before);
	ret = zd_memremap_pages(m, &pg, 0);
	ok(ZD_IS_ERR(ret) && ZD_PTR_ERR(ret) == -EINVAL, "vmemmap_shift 19 is -EINVAL");
	ok(tap_log_since(m, seq, reason_text('S')), "log: requested folio size unsupported");
	take(&after);
	d = diff(&before, &after);
	ok(!d, "vmemmap_shift 19: nothing changed%s%s", d ? ": " : "", d ? d : "");
	is_int(lookups(), 0, "vmemmap_shift 19: no pgmap found");
	drop(&before);
	drop(&after);
}

/* A range over System RAM: -ENXIO naming the RAM resource. */
static void ram_overlap(phys_addr_t start, phys_addr_t size, const char *kind, const char *what,
			phys_addr_t ram_end)
{
	struct zd_dev_pagemap pg;
	struct snap before, after;
	unsigned long seq = zd_log_seq(m);
	const char *d;
	void *ret;

	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	pg.range.start = start;
	pg.range.end = start + size - 1;
	pg.nr_range = 1;
	take(&before);
	ret = zd_memremap_pages(m, &pg, 0);
	ok(ZD_IS_ERR(ret) && ZD_PTR_ERR(ret) == -ENXIO, "%s range over System RAM: -ENXIO (got %ld)",
	   kind, ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L);
	if (!ZD_IS_ERR(ret))
		zd_memunmap_pages(&pg);
	char buf[96];
	snprintf(buf, sizeof(buf), "-%#llx] \"System RAM\"", (unsigned long long)ram_end);
	ok(tap_log_since(m, seq, buf), "%s: log names the RAM resource (...%s)", kind, buf);
	snprintf(buf, sizeof(buf), "attempted on %s region", what);
	ok(tap_log_since(m, seq, buf), "%s: log says \"%s\"", kind, buf);
	take(&after);
	d = diff(&before, &after);
	ok(!d, "%s RAM overlap: nothing changed%s%s", kind, d ? ": " : "", d ? d : "");
	ok(!zd_get_dev_pagemap(m, PFN(start)), "%s RAM overlap: no pgmap at its start", kind);
	drop(&before);
	drop(&after);
}

/* A range whose first or last pfn belongs to a live pgmap: -ENOMEM. */
static void pgmap_conflicts(void)
{
	struct zd_dev_pagemap a, b;
	struct snap before, after;
	const char *d;
	void *ret;
	static const struct {
		phys_addr_t start, size;
		const char *what;
		bool endpoint;
	} cases[] = {
		{ R0_START + 64 * M, 128 * M, "first pfn inside the other pgmap", true },
		{ R0_START - 64 * M, 128 * M, "last pfn inside the other pgmap", true },
		{ R0_START, R0_SIZE, "the very same range", true },
		{ R0_START + 2 * M, 2 * M, "a sub-range in the middle", true },
		{ R0_START - 128 * M, 512 * M, "a range swallowing the other pgmap", false },
	};

	zd_dev_pagemap_init(&a);
	a.type = ZD_MEMORY_DEVICE_FS_DAX;
	a.range.start = R0_START;
	a.range.end = R0_START + R0_SIZE - 1;
	a.nr_range = 1;
	a.backing_fd = memfd;
	ret = zd_memremap_pages(m, &a, 0);
	if (!ok(!ZD_IS_ERR(ret), "pgmap A maps at 16 GiB"))
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long seq = zd_log_seq(m);

		zd_dev_pagemap_init(&b);
		b.type = ZD_MEMORY_DEVICE_GENERIC;
		b.range.start = cases[i].start;
		b.range.end = cases[i].start + cases[i].size - 1;
		b.nr_range = 1;
		take(&before);
		ret = zd_memremap_pages(m, &b, 0);
		if (cases[i].endpoint) {
			ok(ZD_IS_ERR(ret) && ZD_PTR_ERR(ret) == -ENOMEM, "%s: -ENOMEM (got %ld)",
			   cases[i].what, ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L);
			ok(tap_log_since(m, seq, "Conflicting mapping in same section"),
			   "%s: log says Conflicting mapping in same section", cases[i].what);
		} else {
			/* Endpoints are free; the kernel would overwrite the xarray.
			 * Whatever the errno, it must not succeed. */
			ok(ZD_IS_ERR(ret), "%s: refused (got %ld)", cases[i].what,
			   ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L);
		}
		if (!ZD_IS_ERR(ret))
			zd_memunmap_pages(&b);
		take(&after);
		d = diff(&before, &after);
		ok(!d, "%s: nothing changed%s%s", cases[i].what, d ? ": " : "", d ? d : "");
		struct zd_dev_pagemap *got = zd_get_dev_pagemap(m, PFN(R0_START) + 1);
		ok(got == &a, "%s: pgmap A still found", cases[i].what);
		zd_put_dev_pagemap(got);
		got = zd_get_dev_pagemap(m, PFN(R0_START + R0_SIZE) - 1);
		ok(got == &a, "%s: pgmap A still owns its last pfn", cases[i].what);
		zd_put_dev_pagemap(got);
		is_u64(zd_percpu_ref_read(&a.ref), 1 + PFN(R0_SIZE), "%s: A's refs untouched",
		       cases[i].what);
		drop(&before);
		drop(&after);
	}
	zd_memunmap_pages(&a);
	ok(!zd_get_dev_pagemap(m, PFN(R0_START)), "pgmap A gone after unmap");
}

static void dpa_private(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .device_private = ZD_DEVICE_PRIVATE_DPA };
	struct zd_machine *dm = zd_machine_create(&d);
	struct zd_dev_pagemap pg;
	void *ret;

	if (!ok(!ZD_IS_ERR(dm), "dpa machine boots"))
		return;
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_PRIVATE;
	pg.range.start = R0_START;
	pg.range.end = R0_START + R0_SIZE - 1;
	pg.nr_range = 1;
	pg.ops = &ops_full;
	pg.owner = &pg;
	ret = zd_memremap_pages(dm, &pg, 0);
	ok(ZD_IS_ERR(ret) && ZD_PTR_ERR(ret) == -EINVAL,
	   "PRIVATE memremap_pages on a dpa machine: -EINVAL (got %ld)",
	   ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L);
	if (!ZD_IS_ERR(ret))
		zd_memunmap_pages(&pg);
	ok(!zd_pfn_valid(dm, PFN(R0_START)), "dpa: no struct page appeared at the range");
	ok(!zd_get_dev_pagemap(dm, PFN(R0_START)), "dpa: no pgmap at the range");
	is_int(pg.nr_range, 1, "dpa: nr_range kept");
	/* The same pgmap is fine for a GENERIC type on that machine. */
	pg.type = ZD_MEMORY_DEVICE_GENERIC;
	ret = zd_memremap_pages(dm, &pg, 0);
	ok(!ZD_IS_ERR(ret), "dpa machine still maps GENERIC through memremap_pages");
	if (!ZD_IS_ERR(ret))
		zd_memunmap_pages(&pg);
	zd_machine_destroy(dm);
}

int main(void)
{
	/* RAM [0, 2G) and [2.5G, 3G) around a Reserved [2G, 2.25G), then a hole. */
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G },
				      { .start = 2 * G + 512 * M, .size = 512 * M } };
	struct zd_mem_range res[] = { { .start = 2 * G, .size = 256 * M, .name = "Reserved" } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 2,
				     .reserved = res, .nr_reserved = 1 };

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "machine boots")) {
		diag("%s", zd_machine_create_error());
		return done_testing();
	}
	memfd = memfd_create("pgmap-validate", MFD_CLOEXEC);
	if (!ok(memfd >= 0 && !ftruncate(memfd, (off_t)(R0_SIZE + R1_SIZE)), "memfd backing"))
		return done_testing();

	matrix();
	folio_order_limit();
	/* region_intersects(): RAM only, RAM + an unclaimed hole (holes are
	 * not "other": still INTERSECTS), RAM + a Reserved range (MIXED). */
	ram_overlap(1 * G, 128 * M, "inside RAM", "ram", 2 * G - 1);
	ram_overlap(3 * G - 128 * M, 256 * M, "RAM + hole", "ram", 3 * G - 1);
	ram_overlap(2 * G - 128 * M, 256 * M, "RAM + Reserved", "mixed", 2 * G - 1);
	pgmap_conflicts();
	dpa_private();

	zd_machine_destroy(m);
	close(memfd);
	return done_testing();
}
