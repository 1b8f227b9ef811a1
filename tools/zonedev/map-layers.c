/*
 * zonedev map's layers of the physical address space that every machine
 * has: the iomem tree (one lane per depth), present sections (runs of
 * alike sections merged) and their populated sub-sections, memory blocks
 * (runs of alike blocks merged) and each node's zones.
 * Invariants: read-only; the walks copy under the library's locks and
 * format afterwards (valid_zones takes locks the block walk holds).
 */
#include "map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------- iomem ---------- */

int map_copy_res(const struct zd_resource *res, void *arg)
{
	struct map_ctx *c = arg;
	struct map_res *v = map_grow(c, c->res, &c->cap_res, c->nr_res, sizeof(*v)), *rc;

	if (!v)
		return -ENOMEM;
	c->res = v;
	rc = memset(&v[c->nr_res++], 0, sizeof(*rc));
	rc->s = res->start;
	rc->e = res->end;
	rc->flags = res->flags;
	rc->desc = res->desc;
	snprintf(rc->name, sizeof(rc->name), "%s", res->name ? res->name : "(null)");
	for (const struct zd_resource *p = res->parent; p && p != &c->m->iomem_resource;
	     p = p->parent) {
		if (!rc->depth)
			snprintf(rc->parent, sizeof(rc->parent), "%s", p->name ? p->name : "(null)");
		rc->depth++;
	}
	return 0;
}

static const char *res_class(const struct map_res *r)
{
	/* the kernel image's resources carry System RAM's flags too */
	if (!strncmp(r->name, "Kernel ", 7) || !strcmp(r->name, "Crash kernel"))
		return "kernel";
	if (r->flags & ZD_IORESOURCE_SYSRAM)
		return r->flags & ZD_IORESOURCE_SYSRAM_DRIVER_MANAGED ? "ram-kmem" : "ram";
	if (!strncmp(r->name, "namespace", 9) || !strncmp(r->name, "dax", 3) ||
	    !strncmp(r->name, "pfn", 3) || !strncmp(r->name, "btt", 3))
		return "pmem-ns";
	switch (r->desc) {
	case ZD_IORES_DESC_PERSISTENT_MEMORY:
	case ZD_IORES_DESC_PERSISTENT_MEMORY_LEGACY: return "pmem";
	case ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY: return "devpriv";
	case ZD_IORES_DESC_SOFT_RESERVED: return "softres";
	case ZD_IORES_DESC_CXL: return "cxl";
	default: break;
	}
	if (!strncmp(r->name, "PCI", 3) || (strlen(r->name) > 4 && r->name[4] == ':'))
		return "pci";
	return "firmware";
}

static const char *const desc_names[] = {
	"NONE", "CRASH_KERNEL", "ACPI_TABLES", "ACPI_NV_STORAGE", "PERSISTENT_MEMORY",
	"PERSISTENT_MEMORY_LEGACY", "DEVICE_PRIVATE_MEMORY", "RESERVED", "SOFT_RESERVED", "CXL",
};

void map_iomem_layer(struct map_ctx *c, struct map_layer *l)
{
	static const struct { unsigned long bit; const char *name; } flag_names[] = {
		{ ZD_IORESOURCE_MEM, "MEM" }, { ZD_IORESOURCE_IO, "IO" },
		{ ZD_IORESOURCE_SYSRAM, "SYSRAM" },
		{ ZD_IORESOURCE_SYSRAM_DRIVER_MANAGED, "SYSRAM_DRIVER_MANAGED" },
		{ ZD_IORESOURCE_SYSRAM_MERGEABLE, "SYSRAM_MERGEABLE" },
		{ ZD_IORESOURCE_EXCLUSIVE, "EXCLUSIVE" }, { ZD_IORESOURCE_DISABLED, "DISABLED" },
		{ ZD_IORESOURCE_BUSY, "BUSY" },
	};

	for (size_t i = 0; i < c->nr_res; i++) {
		const struct map_res *r = &c->res[i];
		struct map_item *it = map_add_item(c, l, map_lane(l, "level %d", r->depth), r->s, r->e,
					   res_class(r), "%s", r->name);
		char fl[160] = "";
		size_t used = 0;

		for (size_t f = 0; f < sizeof(flag_names) / sizeof(flag_names[0]); f++)
			if (r->flags & flag_names[f].bit)
				used = list_add(fl, sizeof(fl), used, " ", flag_names[f].name);
		map_tip(it, "%s", r->name);
		map_tip_range(c, it, r->s, r->e);
		map_tip(it, "flags 0x%08lx (%s), desc IORES_DESC_%s", r->flags, fl[0] ? fl : "none",
		    r->desc < sizeof(desc_names) / sizeof(desc_names[0]) ? desc_names[r->desc] : "?");
		if (r->depth)
			map_tip(it, "inside %s (depth %d of /proc/iomem)", r->parent, r->depth);
	}
	if (!l->nr_lanes)
		map_lane(l, "level 0");
}

/* ---------- sections and sub-sections ---------- */

static const char *section_class(unsigned long flags)
{
	if (flags & ZD_SECTION_TAINT_ZONE_DEVICE)
		return "sec-device";
	if (flags & ZD_SECTION_IS_EARLY)
		return "sec-early";
	if (flags & ZD_SECTION_IS_ONLINE)
		return "sec-online";
	if (flags & ZD_SECTION_HAS_MEM_MAP)
		return "sec-offline";
	return "sec-present";
}

struct sec_run {
	uint64_t first, last;
	unsigned long flags;
	unsigned populated;        /* of the first section (runs merge full ones only) */
	unsigned long map[ZD_SUBSECTION_MAP_LONGS];
};

static void flush_section_run(struct map_ctx *c, struct map_layer *l, const struct sec_run *sr)
{
	const struct zd_arch *a = c->a;
	uint64_t s = zd_pfn_phys(a, zd_section_nr_to_pfn(a, sr->first));
	uint64_t e = zd_pfn_phys(a, zd_section_nr_to_pfn(a, sr->last + 1)) - 1;
	struct map_item *it;
	char fl[128], sz[32], bits[200] = "";
	size_t used = 0;

	if (sr->first == sr->last)
		it = map_add_item(c, l, 0, s, e, section_class(sr->flags), "section %" PRIu64, sr->first);
	else
		it = map_add_item(c, l, 0, s, e, section_class(sr->flags), "sections %" PRIu64 "-%" PRIu64,
			      sr->first, sr->last);
	map_tip(it, "%s: %" PRIu64 " of %s", it ? it->name : "", sr->last - sr->first + 1,
	    fmt_size_human(1ULL << a->section_size_bits, sz, sizeof(sz)));
	map_tip_range(c, it, s, e);
	map_tip(it, "section_mem_map flags %s", fmt_section_flags(sr->flags, fl, sizeof(fl)));
	if (sr->populated == a->subsections_per_section) {
		map_tip(it, "sub-sections: all %u populated", a->subsections_per_section);
		return;
	}
	for (unsigned i = 0; i < a->subsections_per_section; i++) {
		unsigned j = i;
		char one[24];

		if (!(sr->map[i / (8 * sizeof(long))] & (1UL << (i % (8 * sizeof(long))))))
			continue;
		while (j + 1 < a->subsections_per_section &&
		       (sr->map[(j + 1) / (8 * sizeof(long))] & (1UL << ((j + 1) % (8 * sizeof(long))))))
			j++;
		snprintf(one, sizeof(one), i == j ? "%u" : "%u-%u", i, j);
		used = list_add(bits, sizeof(bits), used, ", ", one);
		i = j;
	}
	map_tip(it, "sub-sections: %u of %u populated (%s)", sr->populated, a->subsections_per_section,
	    bits[0] ? bits : "none");
}

static void add_sub(struct map_ctx *c, uint64_t s, uint64_t e)
{
	struct map_span *v;

	if (c->nr_subs && c->subs[c->nr_subs - 1].e + 1 == s) {
		c->subs[c->nr_subs - 1].e = e;
		return;
	}
	v = map_grow(c, c->subs, &c->cap_subs, c->nr_subs, sizeof(*v));
	if (!v)
		return;
	c->subs = v;
	c->subs[c->nr_subs++] = (struct map_span){ s, e };
}

void map_sections_layer(struct map_ctx *c, struct map_layer *l)
{
	const struct zd_arch *a = c->a;
	uint64_t last = c->m->highest_present_section_nr;
	uint64_t subsize = a->pages_per_subsection << a->page_shift;
	unsigned long mask = (1UL << ZD_SECTION_MAP_LAST_BIT) - 1;
	struct sec_run run;
	bool open = false;
	char sz[32];

	map_lane(l, "sections");
	map_lane(l, "sub-sections");
	for (uint64_t nr = 0; nr <= last && nr < a->nr_mem_sections;) {
		struct zd_mem_section *ms = zd_nr_to_section(c->m, nr);
		unsigned long word = zd_section_word(ms), map[ZD_SUBSECTION_MAP_LONGS] = { 0 };
		unsigned populated = 0;
		uint64_t base;

		if (!ms) {
			nr = (nr / a->sections_per_root + 1) * a->sections_per_root;
			continue;
		}
		if (!(word & ZD_SECTION_MARKED_PRESENT)) {
			nr++;
			continue;
		}
		base = zd_pfn_phys(a, zd_section_nr_to_pfn(a, nr));
		for (unsigned i = 0; ms->usage && i < a->subsections_per_section; i++)
			if (ms->usage->subsection_map[i / (8 * sizeof(long))] &
			    (1UL << (i % (8 * sizeof(long))))) {
				map[i / (8 * sizeof(long))] |= 1UL << (i % (8 * sizeof(long)));
				populated++;
				add_sub(c, base + i * subsize, base + (i + 1) * subsize - 1);
			}
		word &= mask;
		if (open && nr == run.last + 1 && word == run.flags &&
		    populated == a->subsections_per_section &&
		    run.populated == a->subsections_per_section) {
			run.last = nr++;
			continue;
		}
		if (open)
			flush_section_run(c, l, &run);
		run = (struct sec_run){ nr, nr, word, populated, { 0 } };
		memcpy(run.map, map, sizeof(map));
		open = true;
		nr++;
	}
	if (open)
		flush_section_run(c, l, &run);
	for (size_t i = 0; i < c->nr_subs; i++) {
		const struct map_span *sp = &c->subs[i];
		uint64_t n = (sp->e - sp->s + 1) / subsize;
		struct map_item *it = map_add_item(c, l, 1, sp->s, sp->e, "subsec", "%" PRIu64 " x %s", n,
					   fmt_size(subsize, sz, sizeof(sz)));

		map_tip(it, "populated sub-sections: %" PRIu64 " of %s (SUBSECTION_SIZE)", n,
		    fmt_size_human(subsize, sz, sizeof(sz)));
		map_tip_range(c, it, sp->s, sp->e);
		map_tip(it, "pfn_valid() is true here: each has its struct pages");
	}
}

/* ---------- memory blocks ---------- */

struct blk {
	struct zd_memory_block b;
	char zones[96];
};

struct blk_list {
	struct map_ctx *c;
	struct blk *v;
	size_t n, cap;
};

static int copy_block(const struct zd_memory_block *mb, void *arg)
{
	struct blk_list *bl = arg;
	struct blk *v = map_grow(bl->c, bl->v, &bl->cap, bl->n, sizeof(*v));

	if (!v)
		return -ENOMEM;
	bl->v = v;
	v[bl->n].b = *mb;
	v[bl->n++].zones[0] = '\0';
	return 0;
}

static const char *block_class(const struct zd_memory_block *b)
{
	static const char *const online[ZD_MAX_NR_ZONES] = {
		"blk-online-dma", "blk-online-dma32", "blk-online-normal", "blk-online-movable",
		"blk-online-mixed",
	};

	if (b->state == ZD_MEM_OFFLINE)
		return "blk-offline";
	if (b->state == ZD_MEM_GOING_OFFLINE)
		return "blk-going-offline";
	return (unsigned)b->zone < ZD_MAX_NR_ZONES - 1 ? online[b->zone] : "blk-online-mixed";
}

static bool same_blocks(const struct blk *x, const struct blk *y)
{
	return y->b.id == x->b.id + 1 && x->b.state == y->b.state && x->b.nid == y->b.nid &&
	       (x->b.state != ZD_MEM_ONLINE || x->b.zone == y->b.zone) &&
	       !strcmp(x->zones, y->zones);
}

void map_blocks_layer(struct map_ctx *c, struct map_layer *l)
{
	struct blk_list bl = { .c = c };
	uint64_t bs = zd_memory_block_size_bytes(c->m);
	char sz[32];

	map_lane(l, "memoryN");
	/* Copy first: valid_zones takes locks the iteration holds. */
	zd_for_each_memory_block(c->m, &bl, copy_block);
	for (size_t i = 0; i < bl.n; i++)
		zd_memory_block_valid_zones(c->m, bl.v[i].b.id, bl.v[i].zones, sizeof(bl.v[i].zones));
	for (size_t i = 0, j; i < bl.n; i = j + 1) {
		const struct zd_memory_block *b = &bl.v[i].b;
		struct map_item *it;

		for (j = i; j + 1 < bl.n && same_blocks(&bl.v[j], &bl.v[j + 1]);)
			j++;
		if (i == j)
			it = map_add_item(c, l, 0, b->id * bs, b->id * bs + bs - 1, block_class(b),
				      "memory%" PRIu64, b->id);
		else
			it = map_add_item(c, l, 0, b->id * bs, bl.v[j].b.id * bs + bs - 1, block_class(b),
				      "memory%" PRIu64 "-%" PRIu64, b->id, bl.v[j].b.id);
		map_tip(it, "/sys/devices/system/memory/%s: %zu block%s of %s", it ? it->name : "",
		    j - i + 1, i == j ? "" : "s", fmt_size_human(bs, sz, sizeof(sz)));
		map_tip_range(c, it, b->id * bs, bl.v[j].b.id * bs + bs - 1);
		map_tip(it, "state %s%s%s, node %d", zd_mem_state_name(b->state),
		    b->state == ZD_MEM_ONLINE ? ", zone " : "",
		    b->state != ZD_MEM_ONLINE ? "" :
		    (unsigned)b->zone < ZD_MAX_NR_ZONES - 1 ? zd_zone_names[b->zone] : "(several)",
		    b->nid);
		map_tip(it, "phys_index 0x%08" PRIx64 ", valid_zones %s", b->start_section_nr,
		    bl.v[i].zones[0] ? bl.v[i].zones : "?");
	}
	free(bl.v);
}

/* ---------- zones ---------- */

void map_zones_layer(struct map_ctx *c, struct map_layer *l)
{
	static const char *const cls[ZD_MAX_NR_ZONES] = {
		"zone-dma", "zone-dma32", "zone-normal", "zone-movable", "zone-device",
	};
	const struct zd_arch *a = c->a;
	char h[3][32];

	for (int n = 0; n < c->m->nr_nodes && n < ZD_MAX_NUMNODES; n++) {
		struct zd_pglist_data *pg = c->m->node_data[n];

		for (int z = 0; pg && z < ZD_MAX_NR_ZONES; z++) {
			const struct zd_zone *zone = &pg->node_zones[z];
			const char *name = zone->name ? zone->name : zd_zone_names[z];
			uint64_t s = zd_pfn_phys(a, zone->zone_start_pfn);
			struct map_item *it;

			if (!zone->spanned_pages)
				continue;
			it = map_add_item(c, l, map_lane(l, "node %d %s", n, name), s,
				      zd_pfn_phys(a, zd_zone_end_pfn(zone)) - 1, cls[z], "%s", name);
			map_tip(it, "node %d, zone %s", n, name);
			map_tip_range(c, it, s, zd_pfn_phys(a, zd_zone_end_pfn(zone)) - 1);
			map_tip(it, "start_pfn 0x%" PRIx64 ", spanned %" PRIu64 " (%s), present %" PRIu64
			    " (%s)", zone->zone_start_pfn, zone->spanned_pages,
			    fmt_size_human(zone->spanned_pages * a->page_size, h[0], sizeof(h[0])),
			    zone->present_pages,
			    fmt_size_human(zone->present_pages * a->page_size, h[1], sizeof(h[1])));
			map_tip(it, "managed %ld, free %ld pages (%s free)",
			    __atomic_load_n(&zone->managed_pages, __ATOMIC_RELAXED),
			    __atomic_load_n(&zone->nr_free_pages, __ATOMIC_RELAXED),
			    fmt_size_human((uint64_t)__atomic_load_n(&zone->nr_free_pages,
								       __ATOMIC_RELAXED) * a->page_size,
					   h[2], sizeof(h[2])));
		}
	}
	if (!l->nr_lanes)
		map_lane(l, "none");
}

