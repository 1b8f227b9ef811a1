/*
 * zonedev map's data: the machine as layers over one address axis — the
 * iomem tree by depth, sections and sub-sections, memory blocks, zones per
 * node, pgmaps by type and where each memmap lives — and, on a dpa
 * machine, the device-private address space as a second panel. Every item
 * carries the kernel's names and numbers as tooltip lines; map.js draws.
 * This file holds the item helpers and writes the document; the layers
 * are map-layers.c and map-devmem.c.
 * Invariants: read-only on the machine (the library's walks take its
 * locks; everything is copied before it is formatted); runs of sections
 * and of memory blocks that look alike are merged, so a PiB of address
 * space stays a small document.
 */
#include "map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---------- building items ---------- */

void *map_grow(struct map_ctx *c, void *v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? 2 * *cap : 32;
	nv = realloc(v, ncap * size);
	if (!nv) {
		c->oom = true;
		return NULL;
	}
	*cap = ncap;
	return nv;
}

struct map_layer *map_add_layer(struct map_panel *p, const char *id, const char *title)
{
	struct map_layer *l = &p->layers[p->nr_layers++];

	l->id = id;
	l->title = title;
	return l;
}

/* The lane called name, added after the others when new. */
int map_lane(struct map_layer *l, const char *fmt, ...)
{
	char name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	for (int i = 0; i < l->nr_lanes; i++)
		if (!strcmp(l->lanes[i], name))
			return i;
	if (l->nr_lanes == MAP_MAX_LANES)
		return MAP_MAX_LANES - 1;
	snprintf(l->lanes[l->nr_lanes], sizeof(l->lanes[0]), "%s", name);
	return l->nr_lanes++;
}

struct map_item *map_add_item(struct map_ctx *c, struct map_layer *l, int ln, uint64_t s,
			      uint64_t e, const char *cls, const char *fmt, ...)
{
	struct map_item *v = map_grow(c, l->v, &l->cap, l->n, sizeof(*v)), *it;
	va_list ap;

	if (!v)
		return NULL;
	l->v = v;
	it = memset(&v[l->n++], 0, sizeof(*it));
	it->s = s;
	it->e = e;
	it->lane = ln;
	it->cls = cls;
	va_start(ap, fmt);
	vsnprintf(it->name, sizeof(it->name), fmt, ap);
	va_end(ap);
	return it;
}

/* One more tooltip line (dropped once the tip is full). */
void map_tip(struct map_item *it, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!it || it->tlen + 2 >= sizeof(it->tip))
		return;
	if (it->tlen)
		it->tip[it->tlen++] = '\n';
	va_start(ap, fmt);
	n = vsnprintf(it->tip + it->tlen, sizeof(it->tip) - it->tlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		it->tlen += (size_t)n < sizeof(it->tip) - it->tlen ? (size_t)n
								   : sizeof(it->tip) - it->tlen - 1;
}

/* The physical range as the kernel prints it, its size, pfns and sections. */
void map_tip_range(struct map_ctx *c, struct map_item *it, uint64_t s, uint64_t e)
{
	const struct zd_arch *a = c->a;
	uint64_t ps = zd_phys_pfn(a, s), pe = zd_phys_pfn(a, e);
	uint64_t ss = zd_pfn_section_nr(a, ps), se = zd_pfn_section_nr(a, pe);
	char h[32];

	map_tip(it, "[mem 0x%08" PRIx64 "-0x%08" PRIx64 "], %s", s, e,
	    fmt_size_human(e - s + 1, h, sizeof(h)));
	map_tip(it, "pfns 0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " pages)", ps, pe, pe - ps + 1);
	if (ss == se)
		map_tip(it, "section %" PRIu64, ss);
	else
		map_tip(it, "sections %" PRIu64 "-%" PRIu64, ss, se);
}

/* ---------- the document ---------- */

static void json_panel(struct jw *w, const struct map_panel *p)
{
	jw_obj_begin(w);
	jw_kstr(w, "id", p->id);
	jw_kstr(w, "title", p->title);
	jw_ku64(w, "end", p->end);
	jw_key(w, "layers");
	jw_arr_begin(w);
	for (int i = 0; i < p->nr_layers; i++) {
		const struct map_layer *l = &p->layers[i];

		jw_obj_begin(w);
		jw_kstr(w, "id", l->id);
		jw_kstr(w, "title", l->title);
		jw_key(w, "lanes");
		jw_arr_begin(w);
		for (int k = 0; k < l->nr_lanes; k++)
			jw_str(w, l->lanes[k]);
		jw_arr_end(w);
		jw_key(w, "items");
		jw_arr_begin(w);
		for (size_t k = 0; k < l->n; k++) {
			const struct map_item *it = &l->v[k];

			jw_obj_begin(w);
			jw_ku64(w, "l", (uint64_t)it->lane);
			jw_ku64(w, "s", it->s);
			jw_ku64(w, "e", it->e);
			jw_kstr(w, "name", it->name);
			jw_kstr(w, "cls", it->cls);
			jw_key(w, "tip");
			jw_arr_begin(w);
			for (const char *t = it->tip; *t;) {
				size_t n = strcspn(t, "\n");

				jw_strn(w, t, n);
				t += n + (t[n] == '\n');
			}
			jw_arr_end(w);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void json_machine(struct map_ctx *c, struct jw *w, size_t steps_run)
{
	const struct scenario *s = c->r->s;
	struct zd_machine *m = c->m;
	char h[32];

	jw_kstr(w, "zonedev", ZONEDEV_VERSION);
	jw_kstr(w, "scenario", s->file);
	jw_kstr(w, "result", "ok");
	if (s->description)
		jw_kstr(w, "description", s->description);
	jw_key(w, "at");
	jw_obj_begin(w);
	jw_ku64(w, "steps", steps_run);
	jw_ku64(w, "of", s->nr_steps);
	if (steps_run) {
		jw_ku64(w, "line", (uint64_t)s->steps[steps_run - 1].line);
		jw_kstr(w, "step", s->steps[steps_run - 1].name);
	}
	jw_obj_end(w);
	jw_key(w, "machine");
	jw_obj_begin(w);
	jw_kstr(w, "arch", m->arch.name);
	jw_ku64(w, "phys_bits", m->arch.phys_bits);
	jw_ku64(w, "page_size", m->arch.page_size);
	jw_ku64(w, "section_size", 1ULL << m->arch.section_size_bits);
	jw_ku64(w, "subsection_size", m->arch.pages_per_subsection << m->arch.page_shift);
	jw_ku64(w, "memory_block_size", zd_memory_block_size_bytes(m));
	jw_ki64(w, "nodes", m->nr_nodes);
	jw_khex(w, "max_pfn", zd_max_pfn(m));
	jw_kstr(w, "totalram", fmt_size_human((uint64_t)zd_totalram_pages(m) * m->arch.page_size,
					      h, sizeof(h)));
	jw_kstr(w, "device_private", m->device_private == ZD_DEVICE_PRIVATE_DPA ? "dpa" : "pfn");
	jw_ku64(w, "pgmaps", c->nr_pg);
	jw_obj_end(w);
}

int map_data_json(struct run *r, size_t steps_run, struct jw *w)
{
	struct map_ctx *c = calloc(1, sizeof(*c));
	struct map_layer *pgl, *pgd = NULL, *mml, *mmd = NULL;
	bool dpa;
	int rc = 0;

	if (!c)
		return -ENOMEM;
	c->r = r;
	c->m = r->m;
	c->a = &r->m->arch;
	dpa = c->m->device_private == ZD_DEVICE_PRIVATE_DPA;
	c->pfn = (struct map_panel){ .id = "pfn", .title = "physical address space (pfn view)",
				 .end = 1ULL << c->a->phys_bits };
	if (zd_walk_iomem_res(c->m, 0, ~(phys_addr_t)0, c, map_copy_res) ||
	    zd_for_each_dev_pagemap(c->m, c, map_copy_pgmap))
		c->oom = true;
	map_iomem_layer(c, map_add_layer(&c->pfn, "iomem", "iomem resources"));
	map_sections_layer(c, map_add_layer(&c->pfn, "sections", "sparse sections"));
	map_blocks_layer(c, map_add_layer(&c->pfn, "blocks", "memory blocks"));
	map_zones_layer(c, map_add_layer(&c->pfn, "zones", "zones"));
	pgl = map_add_layer(&c->pfn, "pgmaps", "pgmaps (ZONE_DEVICE)");
	mml = map_add_layer(&c->pfn, "memmap", "where the memmap lives");
	map_lane(mml, "struct pages");
	if (dpa) {
		unsigned bits = c->a->pgtable->swp_offset_bits + c->a->page_shift;

		/* the space the library allocates offsets from (device_private.c) */
		c->dpa = (struct map_panel){ .id = "dpa", .title = "device-private address space "
					 "(dpa view)",
					 .end = 1ULL << (bits < c->a->max_physmem_bits ? bits :
							 c->a->max_physmem_bits) };
		pgd = map_add_layer(&c->dpa, "pgmaps", "pgmaps (device-private, dpa)");
		mmd = map_add_layer(&c->dpa, "memmap", "where the memmap lives");
		map_lane(mmd, "struct pages");
	}
	map_pgmap_items(c, pgl, pgd);
	map_ram_memmap(c, mml);
	map_device_memmap(c, mml, mmd);
	if (c->oom) {
		rc = -ENOMEM;
		goto out;
	}
	jw_obj_begin(w);
	json_machine(c, w, steps_run);
	jw_key(w, "panels");
	jw_arr_begin(w);
	json_panel(w, &c->pfn);
	if (dpa)
		json_panel(w, &c->dpa);
	jw_arr_end(w);
	jw_obj_end(w);
	jw_finish(w);
out:
	for (int i = 0; i < c->pfn.nr_layers; i++)
		free(c->pfn.layers[i].v);
	for (int i = 0; i < c->dpa.nr_layers; i++)
		free(c->dpa.layers[i].v);
	free(c->res);
	free(c->pg);
	free(c->subs);
	free(c);
	return rc;
}

