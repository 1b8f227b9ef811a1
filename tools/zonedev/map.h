/*
 * zonedev map's internal interface. map.c is the command (options, running
 * the scenario up to the chosen step through the runner's at_end hook,
 * writing the page); map-data.c builds the page's data (items, tooltips,
 * the JSON document) from map-layers.c (iomem, sections, memory blocks,
 * zones) and map-devmem.c (pgmaps and where each memmap lives); map-page.c
 * holds the page's stylesheet and script, generated from map.css and
 * map.js by gen-map-page.sh (tests/map.sh checks that it is current).
 * Invariants: an item is an inclusive byte range [s, e] of its panel's
 * space [0, end); the data is the only part that differs between pages.
 */
#ifndef ZONEDEV_MAP_H
#define ZONEDEV_MAP_H

#include "cli.h"

#define MAP_MAX_LANES 24
#define MAP_MAX_LAYERS 6
#define MAP_TIP_LEN 1200

/* One drawn thing: a resource, a run of sections or blocks, a zone, a
 * pgmap range, a stretch of memmap. */
struct map_item {
	uint64_t s, e;
	int lane;
	const char *cls;
	char name[96];
	char tip[MAP_TIP_LEN];         /* lines, '\n' between them */
	size_t tlen;
};

/* Rows of items that belong together (iomem: one lane per depth). */
struct map_layer {
	const char *id, *title;
	char lanes[MAP_MAX_LANES][64];
	int nr_lanes;
	struct map_item *v;
	size_t n, cap;
};

/* One address space: physical, or the dpa design's device-private one. */
struct map_panel {
	const char *id, *title;
	uint64_t end;              /* the space is [0, end) */
	struct map_layer layers[MAP_MAX_LAYERS];
	int nr_layers;
};

/* Copies made during the library's walks, formatted after them. */
struct map_res {
	uint64_t s, e;
	unsigned long flags, desc;
	int depth;
	char name[96], parent[96];
};

struct map_pgmap {
	const void *id;            /* identity only: never dereferenced after the walk */
	enum zd_memory_type type;
	int nr_range;
	struct zd_range ranges[ZD_PGMAP_MAX_RANGES];
	bool has_altmap, dedup, dpa;
	struct zd_vmem_altmap alt;
	unsigned long shift;
	int nid;
	uint64_t nr_pages;
	char owner[96];
};

struct map_span {
	uint64_t s, e;
};

/* One picture in the making. */
struct map_ctx {
	struct run *r;
	struct zd_machine *m;
	const struct zd_arch *a;
	struct map_res *res;
	size_t nr_res, cap_res;
	struct map_pgmap *pg;
	size_t nr_pg, cap_pg;
	struct map_span *subs;     /* populated sub-section runs */
	size_t nr_subs, cap_subs;
	struct map_panel pfn, dpa;
	bool oom;
};


/* ---- map-data.c: building items ---- */

/* v with room for one more than n elements of size (NULL and c->oom set
 * when out of memory; v stays valid then). */
void *map_grow(struct map_ctx *c, void *v, size_t *cap, size_t n, size_t size);
struct map_layer *map_add_layer(struct map_panel *p, const char *id, const char *title);
/* The lane called FMT, added after the others when new. */
int map_lane(struct map_layer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new item of l named FMT (NULL when out of memory). */
struct map_item *map_add_item(struct map_ctx *c, struct map_layer *l, int ln, uint64_t s,
			      uint64_t e, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* One more tooltip line (it may be NULL; dropped once the tip is full). */
void map_tip(struct map_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The lines every physical range gets: [mem ...] and size, pfns, sections. */
void map_tip_range(struct map_ctx *c, struct map_item *it, uint64_t s, uint64_t e);

/* ---- map-layers.c ---- */

/* zd_walk_iomem_res() callback: a copy of res into c->res. */
int map_copy_res(const struct zd_resource *res, void *arg);
void map_iomem_layer(struct map_ctx *c, struct map_layer *l);
/* Also fills c->subs, the populated sub-section runs. */
void map_sections_layer(struct map_ctx *c, struct map_layer *l);
void map_blocks_layer(struct map_ctx *c, struct map_layer *l);
void map_zones_layer(struct map_ctx *c, struct map_layer *l);

/* ---- map-devmem.c ---- */

/* zd_for_each_dev_pagemap() callback: a copy of pgmap into c->pg. */
int map_copy_pgmap(struct zd_dev_pagemap *pgmap, void *arg);
/* Each pgmap range in lp (pfn) or ld (dpa, NULL on a pfn machine). */
void map_pgmap_items(struct map_ctx *c, struct map_layer *lp, struct map_layer *ld);
/* RAM's memmap: the populated sub-sections less the pgmaps' ranges. */
void map_ram_memmap(struct map_ctx *c, struct map_layer *l);
/* Each pgmap's memmap: RAM, deduplicated, the altmap, a dpa array. */
void map_device_memmap(struct map_ctx *c, struct map_layer *lp, struct map_layer *ld);

/* ---- map-data.c, map-page.c ---- */

/* The machine of r after steps_run of its steps, as one JSON document on
 * w: 0, or -ENOMEM (nothing usable was written then). Read-only. */
int map_data_json(struct run *r, size_t steps_run, struct jw *w);

extern const char map_page_css[];
extern const char map_page_js[];

#endif
