/*
 * zonedev map's ZONE_DEVICE layers: every live pgmap by type (with its
 * owner: a GPU chunk, a memremap step's handle or the iomem resource it
 * sits in) and where each memmap lives — the vmemmap in RAM, deduplicated
 * compound tails, an altmap in the device's own memory, or under the dpa
 * design a page array of its own in the device-private panel.
 * Invariants: pgmaps are copied during zd_for_each_dev_pagemap() and never
 * touched after it (their address is only compared with the GPUs' and
 * handles' pgmaps).
 */
#include "map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/test_hmm.h>

/* ---------- pgmaps ---------- */

int map_copy_pgmap(struct zd_dev_pagemap *pgmap, void *arg)
{
	struct map_ctx *c = arg;
	struct map_pgmap *v = map_grow(c, c->pg, &c->cap_pg, c->nr_pg, sizeof(*v)), *p;

	if (!v)
		return -ENOMEM;
	c->pg = v;
	p = memset(&v[c->nr_pg++], 0, sizeof(*p));
	p->id = pgmap;
	p->type = pgmap->type;
	p->nr_range = pgmap->nr_range < ZD_PGMAP_MAX_RANGES ? pgmap->nr_range : ZD_PGMAP_MAX_RANGES;
	memcpy(p->ranges, pgmap->ranges, sizeof(p->ranges));
	p->has_altmap = zd_pgmap_altmap(pgmap) != NULL;
	p->alt = pgmap->altmap;
	p->shift = pgmap->vmemmap_shift;
	p->dedup = pgmap->vmemmap_dedup;
	p->dpa = pgmap->pages != NULL;
	p->nid = pgmap->nid;
	p->nr_pages = pgmap->nr_pages;
	return 0;
}

/* Who the pgmap belongs to: a GPU's chunk, a memremap step's handle, or
 * the deepest iomem resource holding its first range. */
static void pgmap_owner(struct map_ctx *c, struct map_pgmap *p)
{
	const struct scenario *s = c->r->s;
	uint64_t best = 0;
	int depth = -1;

	for (size_t g = 0; g < s->nr_gpus; g++) {
		struct zd_dmirror_device *mdev = zd_dmirror_find(c->m, s->gpus[g].name);
		struct zd_dev_pagemap *pg;

		for (unsigned i = 0; mdev && (pg = zd_dmirror_chunk_pgmap(mdev, i)); i++)
			if (pg == p->id) {
				snprintf(p->owner, sizeof(p->owner), "%s chunk %u", s->gpus[g].name, i);
				return;
			}
	}
	for (int h = 0; h < s->nr_handles; h++)
		if (s->handles[h].kind == H_PGMAP && c->r->h[h].live && c->r->h[h].pgmap == p->id) {
			snprintf(p->owner, sizeof(p->owner), "memremap as %s", s->handles[h].name);
			return;
		}
	/* the deepest resource over the range, the one overlapping it most
	 * among those as deep (devdax: dax0.0, not the info block's
	 * namespace0.0) */
	for (size_t i = 0; i < c->nr_res && !p->dpa; i++) {
		const struct map_res *rs = &c->res[i];
		uint64_t lo = rs->s > p->ranges[0].start ? rs->s : p->ranges[0].start;
		uint64_t hi = rs->e < p->ranges[0].end ? rs->e : p->ranges[0].end;

		if (lo > hi || rs->depth < depth || (rs->depth == depth && hi - lo <= best))
			continue;
		depth = rs->depth;
		best = hi - lo;
		snprintf(p->owner, sizeof(p->owner), "%s", rs->name);
	}
	if (!p->owner[0])
		snprintf(p->owner, sizeof(p->owner), "%s", zd_memory_type_name(p->type));
}

static const char *const type_kernel_names[] = {
	"?", "MEMORY_DEVICE_PRIVATE", "MEMORY_DEVICE_COHERENT", "MEMORY_DEVICE_FS_DAX",
	"MEMORY_DEVICE_GENERIC", "MEMORY_DEVICE_PCI_P2PDMA",
};

static const char *type_name(enum zd_memory_type t)
{
	return (unsigned)t < sizeof(type_kernel_names) / sizeof(type_kernel_names[0]) ?
	       type_kernel_names[t] : "?";
}

static const char *pgmap_class(enum zd_memory_type t)
{
	static const char *const cls[] = {
		"pg-unknown", "pg-private", "pg-coherent", "pg-fsdax", "pg-generic", "pg-p2pdma",
	};

	return (unsigned)t < sizeof(cls) / sizeof(cls[0]) ? cls[t] : "pg-unknown";
}

/* Where this pgmap's struct pages are, in one line. */
static void tip_memmap(struct map_ctx *c, struct map_item *it, const struct map_pgmap *p)
{
	char h[32];

	if (p->dpa)
		map_tip(it, "memmap: its own array of %" PRIu64 " struct pages (%s of host RAM), not "
		    "in the vmemmap", p->nr_pages,
		    fmt_size_human(p->nr_pages * ZD_STRUCT_PAGE_SIZE, h, sizeof(h)));
	else if (p->has_altmap)
		map_tip(it, "memmap: in the altmap, on the device itself (the pmem file): %" PRIu64
		    " of %" PRIu64 " pages used", p->alt.alloc, p->alt.free);
	else if (p->dedup)
		map_tip(it, "memmap: in RAM, deduplicated: %" PRIu64 " struct pages written per "
		    "%lu-page folio, the tails' vmemmap pages shared",
		    2 * c->a->page_size / ZD_STRUCT_PAGE_SIZE, 1UL << p->shift);
	else
		map_tip(it, "memmap: in RAM (the vmemmap)");
}

void map_pgmap_items(struct map_ctx *c, struct map_layer *lp, struct map_layer *ld)
{
	const struct zd_arch *a = c->a;
	char h[32];

	for (size_t i = 0; i < c->nr_pg; i++) {
		struct map_pgmap *p = &c->pg[i];
		struct map_layer *l = p->dpa ? ld : lp;

		pgmap_owner(c, p);
		for (int r = 0; l && r < p->nr_range; r++) {
			const struct zd_range *rg = &p->ranges[r];
			struct map_item *it = map_add_item(c, l, map_lane(l, "%s", type_name(p->type)), rg->start,
						   rg->end, pgmap_class(p->type), p->nr_range > 1 ?
						   "%s range %d" : "%s", p->owner, r);

			map_tip(it, "%s pgmap: %s%s", type_name(p->type), p->owner,
			    p->dpa ? " (dpa design)" : "");
			if (p->nr_range > 1)
				map_tip(it, "range %d of %d", r, p->nr_range);
			if (p->dpa) {
				map_tip(it, "offsets 0x%" PRIx64 "-0x%" PRIx64 " of the device-private "
				    "space, %s", rg->start >> a->page_shift, rg->end >> a->page_shift,
				    fmt_size_human(zd_range_len(rg), h, sizeof(h)));
				map_tip(it, "no pfns, no iomem resource, no sections: page_to_pfn() "
				    "would WARN");
			} else {
				map_tip_range(c, it, rg->start, rg->end);
			}
			map_tip(it, "node %d, ZONE_DEVICE", p->nid);
			if (p->shift)
				map_tip(it, "vmemmap_shift %lu: %s folios", p->shift,
				    fmt_size_human(a->page_size << p->shift, h, sizeof(h)));
			if (p->has_altmap && !r)
				map_tip(it, "altmap: base_pfn 0x%" PRIx64 ", reserve %" PRIu64 ", free %"
				    PRIu64 ", alloc %" PRIu64 ", align %" PRIu64, p->alt.base_pfn,
				    p->alt.reserve, p->alt.free, p->alt.alloc, p->alt.align);
			tip_memmap(c, it, p);
		}
	}
	if (!lp->nr_lanes)
		map_lane(lp, ld && ld->n ? "none here (dpa view below)" : "none");
	if (ld && !ld->nr_lanes)
		map_lane(ld, "none");
}

/* ---------- where the memmap lives ---------- */

/* A stretch of the memmap layer; returns it for more lines. The struct
 * pages line says what the stretch's own struct pages cost. */
static struct map_item *memmap_piece(struct map_ctx *c, struct map_layer *l, uint64_t s,
				     uint64_t e, const char *cls, const char *name, const char *what)
{
	char h[32];
	uint64_t pages = (e - s + 1) >> c->a->page_shift;
	struct map_item *it = map_add_item(c, l, 0, s, e, cls, "%s", name);

	map_tip(it, "%s", what);
	map_tip_range(c, it, s, e);
	map_tip(it, "the struct pages of these %" PRIu64 " pages: %s (%d bytes each)", pages,
		fmt_size_human(pages * ZD_STRUCT_PAGE_SIZE, h, sizeof(h)), ZD_STRUCT_PAGE_SIZE);
	return it;
}

static int span_cmp(const void *x, const void *y)
{
	const struct map_span *a = x, *b = y;

	return a->s < b->s ? -1 : a->s > b->s;
}

/* RAM's memmap: the populated sub-sections less every pfn pgmap's ranges
 * (those are drawn by device_memmap). */
void map_ram_memmap(struct map_ctx *c, struct map_layer *l)
{
	struct map_span *dev = NULL;
	size_t nd = 0, cap = 0;

	for (size_t k = 0; k < c->nr_pg; k++)
		for (int r = 0; !c->pg[k].dpa && r < c->pg[k].nr_range; r++) {
			struct map_span *v = map_grow(c, dev, &cap, nd, sizeof(*v));

			if (!v)
				goto out;
			dev = v;
			dev[nd++] = (struct map_span){ c->pg[k].ranges[r].start, c->pg[k].ranges[r].end };
		}
	if (nd)
		qsort(dev, nd, sizeof(*dev), span_cmp);
	for (size_t i = 0; i < c->nr_subs; i++) {
		uint64_t cur = c->subs[i].s, e = c->subs[i].e;

		for (size_t k = 0; k < nd && cur <= e; k++) {
			if (dev[k].e < cur || dev[k].s > e)
				continue;
			if (dev[k].s > cur)
				memmap_piece(c, l, cur, dev[k].s - 1, "mm-ram", "vmemmap (RAM)",
					     "struct pages in the vmemmap, backed by RAM frames");
			cur = dev[k].e + 1;
		}
		if (cur <= e)
			memmap_piece(c, l, cur, e, "mm-ram", "vmemmap (RAM)",
				     "struct pages in the vmemmap, backed by RAM frames");
	}
out:
	free(dev);
}

/* The part of [lo, hi) inside [s, e], if any, as a memmap piece. */
static struct map_item *clipped_piece(struct map_ctx *c, struct map_layer *l, uint64_t lo,
				      uint64_t hi, uint64_t s, uint64_t e, const char *cls,
				      const char *name, const char *what)
{
	if (lo < s)
		lo = s;
	if (hi > e + 1)
		hi = e + 1;
	return lo < hi ? memmap_piece(c, l, lo, hi - 1, cls, name, what) : NULL;
}

void map_device_memmap(struct map_ctx *c, struct map_layer *lp, struct map_layer *ld)
{
	const struct zd_arch *a = c->a;

	struct map_item *store;
	char h[32];

	for (size_t k = 0; k < c->nr_pg; k++) {
		const struct map_pgmap *p = &c->pg[k];

		for (int r = 0; r < p->nr_range; r++) {
			const struct zd_range *rg = &p->ranges[r];
			uint64_t s = rg->start, e = rg->end;

			if (p->dpa) {
				struct map_item *it = ld ? map_add_item(c, ld, 0, s, e, "mm-array",
								"own array") : NULL;

				map_tip(it, "struct pages of %s", p->owner);
				tip_memmap(c, it, p);
				continue;
			}
			if (p->has_altmap && !r) {
				/* pages [base, +reserve) the info block, [+reserve,
				 * +free) the struct pages, the rest device pages */
				uint64_t base = zd_pfn_phys(a, p->alt.base_pfn);
				uint64_t res_end = base + (p->alt.reserve << a->page_shift);
				uint64_t alt_end = res_end + (p->alt.free << a->page_shift);

				clipped_piece(c, lp, s, base, s, e, "mm-ram", "vmemmap (RAM)",
					      "before the altmap's base_pfn: struct pages in RAM");
				clipped_piece(c, lp, base, res_end, s, e, "mm-reserve", "reserve",
					      "altmap reserve: the info block ahead of the struct "
					      "pages");
				store = clipped_piece(c, lp, res_end, alt_end, s, e,
						      "mm-altmap-store", "altmap: struct pages",
						      "altmap: the range's struct pages, stored in "
						      "the device's own memory (the pmem file)");
				map_tip(store, "altmap alloc %" PRIu64 " of free %" PRIu64 " pages "
					"(%s) hold the struct pages of the whole range",
					p->alt.alloc, p->alt.free,
					fmt_size_human(p->alt.alloc << a->page_shift, h, sizeof(h)));
				clipped_piece(c, lp, alt_end, e + 1, s, e, "mm-altmap",
					      "memmap in the altmap", "device pages whose struct "
					      "pages are in the altmap at the start of the range");
				continue;
			}
			memmap_piece(c, lp, s, e, p->dedup ? "mm-dedup" : "mm-ram",
				     p->dedup ? "vmemmap (RAM), deduplicated" : "vmemmap (RAM)",
				     p->dedup ? "struct pages in RAM, compound tails deduplicated" :
						"struct pages in the vmemmap, backed by RAM frames");
		}
	}
}

