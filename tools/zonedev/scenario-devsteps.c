/*
 * The ZONE_DEVICE part of the scenario schema: pmem region and namespace
 * names (regionN, namespaceN.0), GPU names, namespace modes and memmap
 * placement, the arguments of the namespace, GPU, memremap and
 * memory_failure steps, and the expect forms that look at device memory
 * (namespace, gpu, gpu_page, pgmap, page_is_ram, valid_phys_addr_range,
 * zone_device, cpu_addressable).
 * Invariants: a region, namespace or GPU named here exists in the machine
 * section; a memremap's align gives a folio order the arch allows; under
 * device_private: dpa a private memremap names no physical start.
 */
#include "scenario-internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---------- names and modes ---------- */

/* "region3" / "namespace3.0": the number, or -1. */
static long name_index(const char *text, const char *prefix, const char *suffix)
{
	size_t pl = strlen(prefix);
	const char *p = text + pl;
	char *end;
	unsigned long v;

	if (strncmp(text, prefix, pl) || !isdigit((unsigned char)*p))
		return -1;
	v = strtoul(p, &end, 10);
	if (strcmp(end, suffix) || v > 1000000)
		return -1;
	return (long)v;
}

/* region: regionN or namespace: namespaceN.0 (one of the allowed keys). */
static int parse_region_ref(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx,
			    bool allow_region, bool allow_ns, int *out)
{
	yaml_node_t *vr = allow_region ? ymap_get(YF, a, "region", NULL) : NULL;
	yaml_node_t *vn = allow_ns ? ymap_get(YF, a, "namespace", NULL) : NULL;
	const char *key = vr ? "region" : "namespace", *text;
	yaml_node_t *v = vr ? vr : vn;
	long idx;

	if (vr && vn)
		return yerr(YF, vn, "%s: give 'region' or 'namespace', not both", ctx);
	if (!v)
		return yerr(YF, a, "%s: missing key '%s'", ctx,
			    allow_region && allow_ns ? "region' (or 'namespace" :
			    allow_region ? "region" : "namespace");
	text = yscalar(YF, v, vr ? "'region'" : "'namespace'");
	if (!text)
		return -1;
	idx = vr ? name_index(text, "region", "") : name_index(text, "namespace", ".0");
	if (idx < 0)
		return yerr(YF, v, "bad %s name '%s' (%s)", key, text,
			    vr ? "regionN, e.g. region0" : "namespaceN.0, e.g. namespace0.0");
	if (!s->nr_pmem)
		return yerr(YF, v, "no %s '%s': the machine has no pmem regions (machine.pmem)",
			    key, text);
	if ((size_t)idx >= s->nr_pmem && s->nr_pmem == 1)
		return yerr(YF, v, "no %s '%s': the machine has 1 pmem region (%s0%s)", key, text,
			    key, vr ? "" : ".0");
	if ((size_t)idx >= s->nr_pmem)
		return yerr(YF, v, "no %s '%s': the machine has %zu pmem regions (%s0%s to %s%zu%s)",
			    key, text, s->nr_pmem, key, vr ? "" : ".0", key, s->nr_pmem - 1,
			    vr ? "" : ".0");
	*out = (int)idx;
	st->dev_name = text;
	add_arg(st, key, ARG_STR, 0, text);
	return 0;
}

/* device: daxN.0, the dax device of region N's devdax namespace. */
static int parse_dax_ref(struct scenario *s, struct step *st, yaml_node_t *a, const char *key,
			 const char *ctx, int *out)
{
	const char *text;
	long idx;

	if (get_str(s, a, key, true, ctx, &text) < 0)
		return -1;
	idx = name_index(text, "dax", ".0");
	if (idx < 0)
		return yerr(YF, ymap_get(YF, a, key, NULL), "bad dax device name '%s' (daxN.0, "
			    "e.g. dax0.0)", text);
	if ((size_t)idx >= s->nr_pmem)
		return yerr(YF, ymap_get(YF, a, key, NULL), "no dax device '%s': the machine has "
			    "%zu pmem region(s)", text, s->nr_pmem);
	*out = (int)idx;
	st->dev_name = text;
	add_arg(st, key, ARG_STR, 0, text);
	return 0;
}

/* mode: system-ram | devdax */
static int parse_dax_mode(struct scenario *s, yaml_node_t *a, const char *ctx, bool required,
			  int *out)
{
	const char *text;
	int rc = get_str(s, a, "mode", required, ctx, &text);

	if (rc <= 0)
		return rc;
	if (!strcmp(text, "system-ram"))
		*out = ZD_DAX_MODE_SYSTEM_RAM;
	else if (!strcmp(text, "devdax"))
		*out = ZD_DAX_MODE_DEVDAX;
	else
		return yerr(YF, ymap_get(YF, a, "mode", NULL), "unknown dax mode '%s' (system-ram "
			    "or devdax)", text);
	return 1;
}

static int parse_gpu_ref(struct scenario *s, struct step *st, yaml_node_t *a, const char *key,
			 const char *ctx, int *out)
{
	const char *text;

	if (get_str(s, a, key, true, ctx, &text) < 0)
		return -1;
	for (size_t i = 0; i < s->nr_gpus; i++) {
		if (!strcmp(s->gpus[i].name, text)) {
			*out = (int)i;
			st->dev_name = text;
			add_arg(st, key, ARG_STR, 0, text);
			return 0;
		}
	}
	if (!s->nr_gpus)
		return yerr(YF, ymap_get(YF, a, key, NULL), "no gpu '%s': the machine has no "
			    "gpus (machine.gpus)", text);
	return yerr(YF, ymap_get(YF, a, key, NULL), "no gpu '%s' in machine.gpus", text);
}

/* data: "text" (not empty; NUL bytes are refused by yscalar). */
static int get_data(struct scenario *s, yaml_node_t *a, bool required, const char *ctx,
		    const char **out, size_t *len)
{
	int rc = get_str(s, a, "data", required, ctx, out);

	if (rc <= 0)
		return rc;
	*len = strlen(*out);
	return 1;
}

static int parse_ns_mode(struct scenario *s, yaml_node_t *a, const char *ctx, bool required,
			 int *out)
{
	const char *text;
	int rc = get_str(s, a, "mode", required, ctx, &text);

	if (rc <= 0)
		return rc;
	if (!strcmp(text, "raw"))
		*out = ZD_NS_MODE_RAW;
	else if (!strcmp(text, "fsdax"))
		*out = ZD_NS_MODE_FSDAX;
	else if (!strcmp(text, "devdax"))
		*out = ZD_NS_MODE_DEVDAX;
	else
		return yerr(YF, ymap_get(YF, a, "mode", NULL), "unknown namespace mode '%s' "
			    "(fsdax, devdax or raw)", text);
	return 1;
}

static int parse_ns_map(struct scenario *s, yaml_node_t *a, const char *ctx, int *out)
{
	const char *text;
	int rc = get_str(s, a, "map", false, ctx, &text);

	if (rc <= 0)
		return rc;
	if (!strcmp(text, "dev"))
		*out = ZD_ND_MAP_DEV;
	else if (!strcmp(text, "mem"))
		*out = ZD_ND_MAP_MEM;
	else
		return yerr(YF, ymap_get(YF, a, "map", NULL), "unknown map '%s' (dev: struct "
			    "pages on the device, mem: in RAM)", text);
	return 1;
}

/* ---------- steps ---------- */

int parse_dev_step(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx)
{
	const struct zd_arch *arch = zd_arch_find(s->arch);
	const char *text;
	yaml_node_t *v;
	uint64_t u;
	int rc;

	switch (st->kind) {
	case ST_CREATE_NAMESPACE:
		if (parse_region_ref(s, st, a, ctx, true, true, &st->region) ||
		    parse_ns_mode(s, a, ctx, true, &st->ns_mode) < 0)
			return -1;
		add_arg(st, "mode", ARG_STR, 0, zd_nd_ns_mode_name(st->ns_mode));
		rc = parse_ns_map(s, a, ctx, &st->ns_map);
		if (rc < 0)
			return -1;
		if (rc > 0 && st->ns_mode == ZD_NS_MODE_RAW)
			return yerr(YF, ymap_get(YF, a, "map", NULL), "a raw namespace has no "
				    "memmap to place: drop 'map'");
		if (rc > 0)
			add_arg(st, "map", ARG_STR, 0, st->ns_map == ZD_ND_MAP_DEV ? "dev" : "mem");
		if (get_size(s, a, "align", false, ctx, &st->align) < 0)
			return -1;
		if (st->align)
			add_arg(st, "align", ARG_SIZE, st->align, NULL);
		if (get_str(s, a, "uuid", false, ctx, &text) < 0)
			return -1;
		if (ymap_get(YF, a, "uuid", NULL)) {
			if (zd_nd_uuid_parse(text, st->uuid))
				return yerr(YF, ymap_get(YF, a, "uuid", NULL), "bad uuid '%s' (e.g. "
					    "ec094fe8-1049-456b-884d-fe695d359ed0)", text);
			st->has_uuid = true;
			add_arg(st, "uuid", ARG_STR, 0, text);
		}
		rc = get_bool(s, a, "force", false, ctx, &st->force);
		if (rc < 0)
			return -1;
		if (rc > 0)
			add_arg(st, "force", ARG_BOOL, st->force, NULL);
		return 0;
	case ST_DESTROY_NAMESPACE:
	case ST_REBIND_NAMESPACE:
		return parse_region_ref(s, st, a, ctx, true, true, &st->region);
	case ST_RECONFIGURE_DEVICE: {
		bool online = true, movable = true;

		if (parse_dax_ref(s, st, a, "device", ctx, &st->region) ||
		    parse_dax_mode(s, a, ctx, true, &st->ns_mode) < 0)
			return -1;
		add_arg(st, "mode", ARG_STR, 0, st->ns_mode == ZD_DAX_MODE_SYSTEM_RAM ? "system-ram" :
			"devdax");
		if (get_bool(s, a, "online", false, ctx, &online) < 0 ||
		    get_bool(s, a, "movable", false, ctx, &movable) < 0 ||
		    get_bool(s, a, "force", false, ctx, &st->force) < 0)
			return -1;
		st->no_online = !online;
		st->no_movable = !movable;
		if (st->ns_mode == ZD_DAX_MODE_SYSTEM_RAM) {
			add_arg(st, "online", ARG_BOOL, online, NULL);
			add_arg(st, "movable", ARG_BOOL, movable, NULL);
		}
		if (st->force)
			add_arg(st, "force", ARG_BOOL, 1, NULL);
		return 0;
	}
	case ST_LIST_NAMESPACES:
		return 0;
	case ST_WRITE_NAMESPACE:
		if (parse_region_ref(s, st, a, ctx, true, true, &st->region) ||
		    get_size(s, a, "offset", true, ctx, &st->offset) < 0)
			return -1;
		add_arg(st, "offset", ARG_HEX, st->offset, NULL);
		if (get_data(s, a, true, ctx, &st->data, &st->data_len) < 0)
			return -1;
		add_arg(st, "data", ARG_STR, 0, st->data);
		return 0;
	case ST_CORRUPT_INFOBLOCK:
		if (parse_region_ref(s, st, a, ctx, true, true, &st->region) ||
		    get_uint(s, a, "offset", true, ctx, ZD_ND_INFOBLOCK_SIZE - 1, &st->offset) < 0)
			return -1;
		add_arg(st, "offset", ARG_UINT, st->offset, NULL);
		if (get_uint(s, a, "byte", true, ctx, 255, &u) < 0)
			return -1;
		st->byte = (uint8_t)u;
		add_arg(st, "byte", ARG_HEX, u, NULL);
		return 0;
	case ST_GPU_ADD_CHUNK:
		if (parse_gpu_ref(s, st, a, "gpu", ctx, &st->gpu))
			return -1;
		st->count = 1;
		if (get_uint(s, a, "count", false, ctx, 1u << 20, &st->count) < 0)
			return -1;
		if (!st->count)
			return yerr(YF, ymap_get(YF, a, "count", NULL), "count must be at least 1");
		add_arg(st, "count", ARG_UINT, st->count, NULL);
		return 0;
	case ST_GPU_ALLOC:
		if (parse_gpu_ref(s, st, a, "gpu", ctx, &st->gpu))
			return -1;
		return define_handle(s, st, a, "as", H_GPU_PAGE, ctx, "the page must be freed "
				     "with gpu_free") < 0 ? -1 : 0;
	case ST_GPU_WRITE:
		if (use_handle(s, st, a, "handle", H_GPU_PAGE, "gpu_alloc", ctx, &st->handle) ||
		    get_data(s, a, true, ctx, &st->data, &st->data_len) < 0)
			return -1;
		add_arg(st, "data", ARG_STR, 0, st->data);
		return 0;
	case ST_GPU_FREE:
		return use_handle(s, st, a, "handle", H_GPU_PAGE, "gpu_alloc", ctx, &st->handle);
	case ST_MEMREMAP:
		if (get_str(s, a, "type", true, ctx, &text) < 0)
			return -1;
		st->mtype = cli_memory_type_from_name(text);
		if (st->mtype <= 0)
			return yerr(YF, ymap_get(YF, a, "type", NULL), "unknown memory type '%s' "
				    "(fsdax, devdax, p2pdma, coherent or private)", text);
		add_arg(st, "type", ARG_STR, 0, cli_memory_type_name(st->mtype));
		st->dpa = st->mtype == ZD_MEMORY_DEVICE_PRIVATE &&
			  s->device_private == ZD_DEVICE_PRIVATE_DPA;
		v = ymap_get(YF, a, "start", NULL);
		if (st->dpa && v)
			return yerr(YF, v, "under device_private: dpa, private memory has no physical "
				    "range: drop 'start' (memremap_device_private_pagemap() picks an "
				    "offset in the device-private address space)");
		if (!st->dpa) {
			if (get_addr(s, a, "start", true, ctx, &st->start) < 0)
				return -1;
			add_addr_arg(s, st, "start", &st->start);
		}
		if (get_size(s, a, "size", true, ctx, &st->size) < 0)
			return -1;
		if (!st->size)
			return yerr(YF, ymap_get(YF, a, "size", NULL), "size must not be 0");
		add_arg(st, "size", ARG_SIZE, st->size, NULL);
		if (get_size(s, a, "align", false, ctx, &st->align) < 0)
			return -1;
		if (st->align) {
			v = ymap_get(YF, a, "align", NULL);
			if (st->align & (st->align - 1) || st->align < arch->page_size)
				return yerr(YF, v, "align must be a power of two of at least the page "
					    "size (%llu)", (unsigned long long)arch->page_size);
			st->vmemmap_shift = (unsigned long)(__builtin_ctzll(st->align) -
							    arch->page_shift);
			if (st->vmemmap_shift > ZD_MAX_FOLIO_ORDER)
				return yerr(YF, v, "align %s gives folios of order %lu; the largest "
					    "is %u", yscalar(YF, v, "'align'"), st->vmemmap_shift,
					    ZD_MAX_FOLIO_ORDER);
			add_arg(st, "align", ARG_SIZE, st->align, NULL);
		}
		if (parse_node_arg(s, st, a, ctx, false))
			return -1;
		return define_handle(s, st, a, "as", H_PGMAP, ctx, "memunmap takes the "
				     "handle") < 0 ? -1 : 0;
	case ST_MEMUNMAP:
		return use_handle(s, st, a, "handle", H_PGMAP, "memremap", ctx, &st->handle);
	case ST_MEMORY_FAILURE:
		if (get_addr(s, a, "addr", true, ctx, &st->start) < 0)
			return -1;
		add_addr_arg(s, st, "addr", &st->start);
		return 0;
	default:
		return 0;
	}
}

/* ---------- expect forms ---------- */

int parse_dev_expect(struct scenario *s, struct step *st, yaml_node_t *a,
		     const char *which, const char *ctx)
{
	struct expect *ex = &st->ex;
	const char *text;
	int rc;

	if (!strcmp(which, "namespace")) {
		ex->kind = EX_NAMESPACE;
		if (parse_region_ref(s, st, a, ctx, false, true, &ex->region))
			return -1;
		rc = parse_ns_mode(s, a, ctx, false, &ex->mode);
		if (rc < 0)
			return -1;
		if ((ex->has_mode = rc > 0))
			add_arg(st, "mode", ARG_STR, 0, zd_nd_ns_mode_name(ex->mode));
		rc = parse_ns_map(s, a, ctx, &ex->map);
		if (rc < 0)
			return -1;
		if ((ex->has_map = rc > 0))
			add_arg(st, "map", ARG_STR, 0, ex->map == ZD_ND_MAP_DEV ? "dev" : "mem");
		rc = get_size(s, a, "size", false, ctx, &ex->size);
		if (rc < 0)
			return -1;
		if ((ex->has_size = rc > 0))
			add_arg(st, "size", ARG_SIZE, ex->size, NULL);
		if (!!ymap_get(YF, a, "data_at", NULL) != !!ymap_get(YF, a, "data", NULL))
			return yerr(YF, a, "%s: 'data_at' and 'data' go together (the bytes expected "
				    "at that offset of the namespace's data area)", ctx);
		rc = get_size(s, a, "data_at", false, ctx, &ex->data_at);
		if (rc < 0)
			return -1;
		if ((ex->has_data = rc > 0)) {
			add_arg(st, "data_at", ARG_HEX, ex->data_at, NULL);
			if (get_data(s, a, true, ctx, &ex->data, &ex->data_len) < 0)
				return -1;
			add_arg(st, "data", ARG_STR, 0, ex->data);
		}
		rc = get_bool(s, a, "refused", false, ctx, &ex->refused);
		if (rc < 0)
			return -1;
		if ((ex->has_refused = rc > 0))
			add_arg(st, "refused", ARG_BOOL, ex->refused, NULL);
		if (!ex->has_mode && !ex->has_map && !ex->has_size && !ex->has_data &&
		    !ex->has_refused)
			return yerr(YF, a, "%s: say what to check: mode, map, size, data_at + data "
				    "or refused", ctx);
		return 0;
	}
	if (!strcmp(which, "dax")) {
		ex->kind = EX_DAX;
		if (parse_dax_ref(s, st, a, "dax", ctx, &ex->region))
			return -1;
		rc = parse_dax_mode(s, a, ctx, false, &ex->mode);
		if (rc < 0)
			return -1;
		if ((ex->has_mode = rc > 0))
			add_arg(st, "mode", ARG_STR, 0, ex->mode == ZD_DAX_MODE_SYSTEM_RAM ?
				"system-ram" : "devdax");
		rc = get_uint(s, a, "online_memblocks", false, ctx, UINT64_MAX, &ex->online_blocks);
		if (rc < 0)
			return -1;
		if ((ex->has_online_blocks = rc > 0))
			add_arg(st, "online_memblocks", ARG_UINT, ex->online_blocks, NULL);
		rc = get_uint(s, a, "total_memblocks", false, ctx, UINT64_MAX, &ex->total_blocks);
		if (rc < 0)
			return -1;
		if ((ex->has_total_blocks = rc > 0))
			add_arg(st, "total_memblocks", ARG_UINT, ex->total_blocks, NULL);
		rc = get_bool(s, a, "movable", false, ctx, &ex->movable);
		if (rc < 0)
			return -1;
		if ((ex->has_movable = rc > 0))
			add_arg(st, "movable", ARG_BOOL, ex->movable, NULL);
		if (!ex->has_mode && !ex->has_online_blocks && !ex->has_total_blocks && !ex->has_movable)
			return yerr(YF, a, "%s: say what to check: mode, online_memblocks, "
				    "total_memblocks or movable", ctx);
		return 0;
	}
	if (!strcmp(which, "gpu")) {
		ex->kind = EX_GPU;
		if (parse_gpu_ref(s, st, a, "gpu", ctx, &ex->gpu))
			return -1;
		for (int i = 0; i < 3; i++) {
			static const char *const k[] = { "chunks", "calloc", "cfree" };
			uint64_t *dst = i == 0 ? &ex->chunks : i == 1 ? &ex->calloc : &ex->cfree;
			bool *has = i == 0 ? &ex->has_chunks : i == 1 ? &ex->has_calloc : &ex->has_cfree;

			rc = get_uint(s, a, k[i], false, ctx, UINT64_MAX, dst);
			if (rc < 0)
				return -1;
			if ((*has = rc > 0))
				add_arg(st, k[i], ARG_UINT, *dst, NULL);
		}
		if (!ex->has_chunks && !ex->has_calloc && !ex->has_cfree)
			return yerr(YF, a, "%s: say what to check: chunks, calloc or cfree", ctx);
		return 0;
	}
	if (!strcmp(which, "gpu_page")) {
		ex->kind = EX_GPU_PAGE;
		if (use_handle(s, st, a, "gpu_page", H_GPU_PAGE, "gpu_alloc", ctx, &st->handle) ||
		    get_data(s, a, true, ctx, &ex->data, &ex->data_len) < 0)
			return -1;
		add_arg(st, "data", ARG_STR, 0, ex->data);
		return 0;
	}
	if (!strcmp(which, "pgmap")) {
		ex->kind = EX_PGMAP;
		if (get_addr(s, a, "pgmap", true, ctx, &ex->addr) < 0 ||
		    get_str(s, a, "type", true, ctx, &text) < 0)
			return -1;
		add_addr_arg(s, st, "pgmap", &ex->addr);
		ex->mtype = cli_memory_type_from_name(text);
		if (ex->mtype < 0)
			return yerr(YF, ymap_get(YF, a, "type", NULL), "unknown memory type '%s' "
				    "(fsdax, devdax, p2pdma, coherent, private or none)", text);
		add_arg(st, "type", ARG_STR, 0, cli_memory_type_name(ex->mtype));
		return 0;
	}
	/* ADDR, is: bool (+ size for valid_phys_addr_range, + data for cpu_addressable) */
	ex->kind = !strcmp(which, "page_is_ram") ? EX_PAGE_IS_RAM :
		   !strcmp(which, "valid_phys_addr_range") ? EX_VALID_PHYS :
		   !strcmp(which, "zone_device") ? EX_ZONE_DEVICE : EX_CPU_ADDRESSABLE;
	if (get_addr(s, a, which, true, ctx, &ex->addr) < 0)
		return -1;
	add_addr_arg(s, st, which, &ex->addr);
	if (ex->kind == EX_VALID_PHYS) {
		if (get_size(s, a, "size", true, ctx, &ex->size) < 0)
			return -1;
		add_arg(st, "size", ARG_SIZE, ex->size, NULL);
	}
	if (get_bool(s, a, "is", true, ctx, &ex->want_bool) < 0)
		return -1;
	add_arg(st, "is", ARG_BOOL, ex->want_bool, NULL);
	if (ex->kind == EX_CPU_ADDRESSABLE) {
		rc = get_data(s, a, false, ctx, &ex->data, &ex->data_len);
		if (rc < 0)
			return -1;
		if ((ex->has_data = rc > 0)) {
			if (!ex->want_bool)
				return yerr(YF, ymap_get(YF, a, "data", NULL), "memory the CPU cannot "
					    "address has no data to compare: drop 'data' or say "
					    "'is: true'");
			add_arg(st, "data", ARG_STR, 0, ex->data);
		}
	}
	return 0;
}
