/*
 * The template memmap init (streamed copies of one struct page per range)
 * against the per-page path it replaced (__init_single_page and friends on
 * every page, in the kernel's order): both must leave byte-identical
 * memmaps and pageblock bits. Whole memmaps are compared, not fields, so a
 * word the template forgets, or a dedup tail it writes, shows up.
 *
 * Method: map the range with the per-page path (the reference, on fresh
 * memory, which CONFIG_DEBUG_VM poisons), snapshot it, poison every struct
 * page an init writes with 0xA5 and every pageblock's migratetype with
 * UNMOVABLE, re-run the init with the template, snapshot; poison again,
 * re-run per page, snapshot; then unmap and map again with the template on
 * fresh memory. All must be equal, the poison must be gone from every
 * written page, and pages no init writes (dedup tails, the altmap reserve)
 * must hold exactly what the reference left there.
 *
 * Asserts, for every pgmap type x vmemmap_shift {0, 9, 18} (no altmap),
 * FS_DAX and GENERIC x {0, 9, 18} with an altmap (memmap in a memfd),
 * a 5 GiB FS_DAX range (large enough that the init is split over CPUs),
 * device-private pages outside the vmemmap (dpa) at orders 0 and 9, and
 * hot-added RAM (memmap_init_range with hotplug true and false, one range
 * large enough to be split): template == per-page == first map, byte for
 * byte, every written byte rewritten, no unwritten byte touched.
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
#define POISON 0xA5

static struct zd_machine *m;

/* One range's memmap: where it is, which pages an init writes. */
struct span {
	struct zd_page *first;
	uint64_t pfn, nr;            /* pfn ZD_BAD_PFN: outside the vmemmap */
	uint64_t folio_nr, written;  /* struct pages written per folio */
	uint64_t skip;               /* leading pages no init writes (altmap reserve) */
};

struct snap {
	unsigned char *bytes;
	int *mt;                     /* migratetype of each pageblock start */
	uint64_t nr_pb;
};

static bool is_written(const struct span *s, uint64_t i)
{
	return i >= s->skip && ((i - s->skip) % s->folio_nr) < s->written;
}

static uint64_t pb_pages(void)
{
	return 1ULL << m->arch.pageblock_order;
}

static void take(const struct span *s, struct snap *sn)
{
	sn->bytes = malloc(s->nr * sizeof(struct zd_page));
	memcpy(sn->bytes, s->first, s->nr * sizeof(struct zd_page));
	sn->nr_pb = s->pfn == ZD_BAD_PFN ? 0 : (s->nr + pb_pages() - 1) / pb_pages();
	sn->mt = calloc(sn->nr_pb + 1, sizeof(int));
	for (uint64_t b = 0; b < sn->nr_pb; b++)
		sn->mt[b] = zd_get_pageblock_migratetype(m, s->pfn + b * pb_pages());
}

static void drop(struct snap *sn)
{
	free(sn->bytes);
	free(sn->mt);
}

static void poison(const struct span *s)
{
	for (uint64_t i = 0; i < s->nr; i++)
		if (is_written(s, i))
			memset(s->first + i, POISON, sizeof(struct zd_page));
	if (s->pfn != ZD_BAD_PFN)
		for (uint64_t p = s->pfn + s->skip; p < s->pfn + s->nr; p += pb_pages())
			zd_set_pageblock_migratetype(m, p & ~(pb_pages() - 1), ZD_MIGRATE_UNMOVABLE);
}

/* First differing struct page of two snapshots, or UINT64_MAX. */
static uint64_t first_diff(const struct span *s, const struct snap *a, const struct snap *b)
{
	for (uint64_t i = 0; i < s->nr; i++)
		if (memcmp(a->bytes + i * sizeof(struct zd_page), b->bytes + i * sizeof(struct zd_page),
			   sizeof(struct zd_page)))
			return i;
	for (uint64_t k = 0; k < a->nr_pb; k++)
		if (a->mt[k] != b->mt[k])
			return k * pb_pages();
	return UINT64_MAX;
}

/* Written pages must hold no poison word; unwritten ones must match before. */
static uint64_t poison_left(const struct span *s, const struct snap *before, const struct snap *after)
{
	static const unsigned char pw[8] = { POISON, POISON, POISON, POISON,
					     POISON, POISON, POISON, POISON };
	uint64_t bad = 0;

	for (uint64_t i = 0; i < s->nr; i++) {
		const unsigned char *p = after->bytes + i * sizeof(struct zd_page);
		if (!is_written(s, i)) {
			bad += !!memcmp(p, before->bytes + i * sizeof(struct zd_page),
					sizeof(struct zd_page));
			continue;
		}
		for (size_t w = 0; w < sizeof(struct zd_page); w += 8)
			bad += !memcmp(p + w, pw, 8);
	}
	return bad;
}

typedef void (*reinit_fn)(const struct span *s, void *arg);

/*
 * The caller initialised the span per page on fresh memory (the reference);
 * re-run the template and the per-page path over poison and compare all
 * three. Returns the reference snapshot (the caller drops it).
 */
static struct snap compare_paths(const char *name, const struct span *s, reinit_fn reinit, void *arg)
{
	struct snap first, slow, fast;
	uint64_t d;

	take(s, &first);
	poison(s);
	reinit(s, arg);
	take(s, &fast);
	poison(s);
	m->memmap_init_per_page = true;
	reinit(s, arg);
	m->memmap_init_per_page = false;
	take(s, &slow);

	d = first_diff(s, &slow, &fast);
	ok(d == UINT64_MAX, "%s: template == per-page over %llu struct pages", name,
	   (unsigned long long)s->nr);
	if (d != UINT64_MAX)
		diag("  first difference at page %llu", (unsigned long long)d);
	d = first_diff(s, &first, &fast);
	ok(d == UINT64_MAX, "%s: template over poison == per-page on fresh memory", name);
	if (d != UINT64_MAX)
		diag("  first difference at page %llu", (unsigned long long)d);
	is_u64(poison_left(s, &first, &slow), 0, "%s: per-page wrote every written word, no other",
	       name);
	is_u64(poison_left(s, &first, &fast), 0, "%s: template wrote every written word, no other",
	       name);
	drop(&slow);
	drop(&fast);
	return first;
}

/* A second first-time init, with the template, on fresh memory. */
static void compare_fresh(const char *name, const struct span *s, const struct snap *ref)
{
	struct snap fresh;
	uint64_t d;

	take(s, &fresh);
	d = first_diff(s, ref, &fresh);
	ok(d == UINT64_MAX, "%s: template on fresh memory == per-page on fresh memory", name);
	if (d != UINT64_MAX)
		diag("  first difference at page %llu", (unsigned long long)d);
	drop(&fresh);
}

/* ------------------------------------------------------------ ZONE_DEVICE */

static void my_free(struct zd_page *folio) { (void)folio; }
static int my_migrate(struct zd_vm_fault *vmf) { (void)vmf; return 0; }
static const struct zd_dev_pagemap_ops ops = { .folio_free = my_free, .migrate_to_ram = my_migrate };

/* What memremap_pages() does for one range after the sections are added. */
static void reinit_device(const struct span *s, void *arg)
{
	struct zd_dev_pagemap *pg = arg;
	struct zd_zone *zone = &m->node_data[0]->node_zones[ZD_ZONE_DEVICE];

	zd_memmap_init_range(m, s->nr, 0, ZD_ZONE_DEVICE, s->pfn, zd_pgmap_altmap(pg),
			     ZD_MIGRATE_MOVABLE, true);
	zd_memmap_init_zone_device(m, zone, s->pfn, s->nr, pg);
}

static void device_case(int type, unsigned long shift, bool altmap, phys_addr_t base,
			uint64_t size)
{
	char name[96];
	struct zd_dev_pagemap pg;
	int fd = -1;

	snprintf(name, sizeof(name), "%s shift %lu%s%s", zd_memory_type_name(type), shift,
		 altmap ? " altmap" : "", size > 4 * G ? " (split over CPUs)" : "");
	zd_dev_pagemap_init(&pg);
	pg.type = (enum zd_memory_type)type;
	pg.ops = &ops;
	pg.owner = &pg;
	pg.vmemmap_shift = shift;
	pg.nr_range = 1;
	pg.range = (struct zd_range){ base, base + size - 1 };
	if (altmap) {
		/* memmap after a reserve of 2, in naturally aligned 2 MiB
		 * blocks; the device pages start folio aligned after it */
		uint64_t memmap = PFN(size) * sizeof(struct zd_page) >> 12;
		uint64_t align = shift > 9 ? 1ULL << shift : 512;
		uint64_t off = (2 + memmap + 512 + align - 1) / align * align;

		fd = memfd_create("memmap-init", MFD_CLOEXEC);
		if (!ok(fd >= 0 && !ftruncate(fd, (off_t)size), "%s: memfd", name))
			return;
		pg.backing_fd = fd;
		pg.flags = ZD_PGMAP_ALTMAP_VALID;
		pg.altmap.base_pfn = PFN(base);
		pg.altmap.reserve = 2;
		pg.altmap.free = off - 2;
	}
	struct snap ref = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		/* pass 0 maps with the per-page path, pass 1 with the template */
		m->memmap_init_per_page = pass == 0;
		void *ret = zd_memremap_pages(m, &pg, 0);
		m->memmap_init_per_page = false;
		if (!ok(!ZD_IS_ERR(ret), "%s: maps (%ld)", name, ZD_IS_ERR(ret) ? ZD_PTR_ERR(ret) : 0L))
			break;
		struct zd_vmem_altmap *am = zd_pgmap_altmap(&pg);
		struct span s = {
			.first = zd_pfn_to_page(m, PFN(base)), .pfn = PFN(base), .nr = PFN(size),
			.folio_nr = 1ULL << shift, .written = zd_compound_nr_pages(m, am, &pg),
			.skip = am ? am->reserve : 0,
		};
		if (am) {
			/* no dedup with an altmap; the device pages start folio aligned */
			ok((zd_vmem_altmap_offset(am) & (s.folio_nr - 1)) == 0,
			   "%s: device pages start folio aligned", name);
			s.written = s.folio_nr;
		}
		if (pass == 0)
			ref = compare_paths(name, &s, reinit_device, &pg);
		else
			compare_fresh(name, &s, &ref);
		zd_memunmap_pages(&pg);
	}
	drop(&ref);
	if (fd >= 0)
		close(fd);
}

static void device_memmaps(void)
{
	static const int types[] = { ZD_MEMORY_DEVICE_PRIVATE, ZD_MEMORY_DEVICE_COHERENT,
				     ZD_MEMORY_DEVICE_FS_DAX, ZD_MEMORY_DEVICE_GENERIC,
				     ZD_MEMORY_DEVICE_PCI_P2PDMA };
	static const unsigned long shifts[] = { 0, 9, 18 };

	for (size_t s = 0; s < 3; s++) {
		uint64_t size = shifts[s] == 18 ? 2 * G : 256 * M;
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			device_case(types[t], shifts[s], false, 64 * G, size);
		device_case(ZD_MEMORY_DEVICE_FS_DAX, shifts[s], true, 64 * G, size);
		device_case(ZD_MEMORY_DEVICE_GENERIC, shifts[s], true, 64 * G, size);
	}
	device_case(ZD_MEMORY_DEVICE_FS_DAX, 0, false, 64 * G, 5 * G);
}

/* Device-private pages in their own address space: a plain array. */
static void reinit_dpa(const struct span *s, void *arg)
{
	zd_init_zone_device_pages(m, s->first, s->nr, 0, arg, s->folio_nr);
}

static void dpa_pages(unsigned long shift, uint64_t nr)
{
	char name[64];
	struct zd_dev_pagemap pg;
	struct span s = { .pfn = ZD_BAD_PFN, .nr = nr, .folio_nr = 1ULL << shift,
			  .written = 1ULL << shift };

	snprintf(name, sizeof(name), "dpa order %lu, %llu pages", shift, (unsigned long long)nr);
	zd_dev_pagemap_init(&pg);
	pg.type = ZD_MEMORY_DEVICE_PRIVATE;
	pg.ops = &ops;
	pg.vmemmap_shift = shift;
	s.first = calloc(nr, sizeof(struct zd_page));
	if (!ok(s.first != NULL, "%s: array", name))
		return;
	m->memmap_init_per_page = true;
	zd_init_zone_device_pages(m, s.first, nr, 0, &pg, s.folio_nr);
	m->memmap_init_per_page = false;
	struct snap ref = compare_paths(name, &s, reinit_dpa, &pg);
	memset(s.first, 0, nr * sizeof(struct zd_page));
	zd_init_zone_device_pages(m, s.first, nr, 0, &pg, s.folio_nr);
	compare_fresh(name, &s, &ref);
	drop(&ref);
	free(s.first);
}

/* -------------------------------------------------------------------- RAM */

struct ram_arg {
	int zone;
	bool hotplug;
};

static void reinit_ram(const struct span *s, void *arg)
{
	struct ram_arg *a = arg;

	zd_memmap_init_range(m, s->nr, 0, a->zone, s->pfn, NULL, ZD_MIGRATE_MOVABLE, a->hotplug);
}

/* An offline hot-added block: its memmap exists and nothing else uses it. */
static void ram_case(phys_addr_t start, uint64_t size, bool hotplug)
{
	char name[64];
	struct ram_arg a = { .zone = ZD_ZONE_MOVABLE, .hotplug = hotplug };
	struct span s = { .pfn = PFN(start), .nr = PFN(size), .folio_nr = 1, .written = 1 };

	snprintf(name, sizeof(name), "RAM %llu MiB hotplug %s", (unsigned long long)(size >> 20),
		 hotplug ? "true" : "false");
	if (!ok(zd_add_memory(m, 0, start, size, 0) == 0, "%s: hot-added offline", name))
		return;
	s.first = zd_pfn_to_page(m, s.pfn);
	m->memmap_init_per_page = true;
	reinit_ram(&s, &a);
	m->memmap_init_per_page = false;
	struct snap ref = compare_paths(name, &s, reinit_ram, &a);
	drop(&ref);
	/* leave it as an offline block expects before it goes */
	zd_memmap_init_range(m, s.nr, 0, ZD_ZONE_MOVABLE, s.pfn, NULL, ZD_MIGRATE_MOVABLE, true);
	is_int(zd_remove_memory(m, start, size), 0, "%s: removed", name);
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .debug_vm = true, .auto_online_blocks = ZD_MMOP_OFFLINE };

	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "machine boots")) {
		diag("%s", zd_machine_create_error());
		return done_testing();
	}
	device_memmaps();
	dpa_pages(0, 4096);
	dpa_pages(9, (1ULL << 20) + 512);
	ram_case(8 * G, 256 * M, true);
	ram_case(8 * G, 256 * M, false);
	ram_case(16 * G, 5 * G, true);
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
