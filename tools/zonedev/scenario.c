/*
 * The scenario schema: turns a loaded YAML document into a machine section
 * (arch, RAM, firmware ranges or an iomem file to import) and a list of
 * typed steps. Everything a run needs is checked here, before any machine
 * exists: unknown keys, bad sizes, unknown errno names, handles used before
 * a step defines them. Each error names FILE:LINE:COL of the offending node.
 * Invariants: a parsed step is fully typed (the runner never looks at YAML);
 * step args[] list the operands in a fixed order, which is what the echo
 * line and the JSON "args" show; handle indexes are stable for the run.
 */
#include "cli.h"

#include <ctype.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const report_names[RP_NR] = {
	[RP_IOMEM] = "iomem", [RP_MEMINFO] = "meminfo", [RP_ZONEINFO] = "zoneinfo",
	[RP_MEMORY_BLOCKS] = "memory_blocks", [RP_SECTIONS] = "sections",
	[RP_DMESG] = "dmesg", [RP_VMEMMAP] = "vmemmap", [RP_NAMESPACES] = "namespaces",
	[RP_DEVICES] = "devices",
};

#define YF (&s->yf)

/* ---------- small value getters: 1 present, 0 absent, -1 error ---------- */

static int get_node(struct scenario *s, yaml_node_t *map, const char *key, bool required,
		    const char *ctx, yaml_node_t **out)
{
	yaml_node_t *v = ymap_get(YF, map, key, NULL);

	if (!v) {
		if (required)
			return yerr(YF, map, "%s: missing key '%s'", ctx, key);
		return 0;
	}
	*out = v;
	return 1;
}

static int get_str(struct scenario *s, yaml_node_t *map, const char *key, bool required,
		   const char *ctx, const char **out)
{
	yaml_node_t *v = NULL;
	int rc = get_node(s, map, key, required, ctx, &v);
	char what[96];

	if (rc <= 0)
		return rc;
	snprintf(what, sizeof(what), "'%s'", key);
	*out = yscalar(YF, v, what);
	return *out ? 1 : -1;
}

static int get_size(struct scenario *s, yaml_node_t *map, const char *key, bool required,
		    const char *ctx, uint64_t *out)
{
	yaml_node_t *v = NULL;
	const char *text, *why;
	int rc = get_node(s, map, key, required, ctx, &v);
	char what[96];

	if (rc <= 0)
		return rc;
	snprintf(what, sizeof(what), "'%s'", key);
	text = yscalar(YF, v, what);
	if (!text)
		return -1;
	if (parse_size(text, out, &why))
		return yerr(YF, v, "bad size '%s' for '%s': %s", text, key, why);
	return 1;
}

static int get_uint(struct scenario *s, yaml_node_t *map, const char *key, bool required,
		    const char *ctx, uint64_t max, uint64_t *out)
{
	yaml_node_t *v = NULL;
	const char *text, *why;
	int rc = get_node(s, map, key, required, ctx, &v);
	char what[96];

	if (rc <= 0)
		return rc;
	snprintf(what, sizeof(what), "'%s'", key);
	text = yscalar(YF, v, what);
	if (!text)
		return -1;
	if (parse_uint(text, out, &why))
		return yerr(YF, v, "bad number '%s' for '%s': %s", text, key, why);
	if (*out > max)
		return yerr(YF, v, "'%s' is %s, the largest allowed is %llu", key, text,
			    (unsigned long long)max);
	return 1;
}

static int get_bool(struct scenario *s, yaml_node_t *map, const char *key, bool required,
		    const char *ctx, bool *out)
{
	yaml_node_t *v = NULL;
	const char *text;
	int rc = get_node(s, map, key, required, ctx, &v);
	char what[96];

	if (rc <= 0)
		return rc;
	snprintf(what, sizeof(what), "'%s'", key);
	text = yscalar(YF, v, what);
	if (!text)
		return -1;
	if (parse_bool(text, out))
		return yerr(YF, v, "'%s' must be true or false, not '%s'", key, text);
	return 1;
}

/* ---------- handles ---------- */

static bool is_identifier(const char *t)
{
	if (!isalpha((unsigned char)*t) && *t != '_')
		return false;
	for (t++; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '_' && *t != '-')
			return false;
	return true;
}

static const char *handle_kind_name(enum handle_kind k)
{
	switch (k) {
	case H_PAGES: return "allocated pages";
	case H_GPU_PAGE: return "a GPU page";
	case H_PGMAP: return "a memremap pgmap";
	case H_REGION: break;
	}
	return "a memory region";
}

static int find_handle(struct scenario *s, const char *name)
{
	for (int i = 0; i < s->nr_handles; i++)
		if (!strcmp(s->handles[i].name, name))
			return i;
	return -1;
}

/* Define (or re-use) a handle named by key's value; its index in *out. */
static int define_handle(struct scenario *s, yaml_node_t *map, const char *key,
			 enum handle_kind kind, const char *ctx, int *out)
{
	const char *name;
	int rc = get_str(s, map, key, false, ctx, &name), i;
	yaml_node_t *v = ymap_get(YF, map, key, NULL);

	*out = -1;
	if (rc <= 0)
		return rc;
	if (!is_identifier(name))
		return yerr(YF, v, "handle name '%s' must start with a letter and hold only "
			    "letters, digits, '_' and '-'", name);
	i = find_handle(s, name);
	if (i >= 0) {
		if (s->handles[i].kind != kind)
			return yerr(YF, v, "handle '%s' already names %s", name,
				    handle_kind_name(s->handles[i].kind));
		*out = i;
		return 1;
	}
	if (s->nr_handles >= MAX_HANDLES)
		return yerr(YF, v, "too many handles (at most %d)", MAX_HANDLES);
	s->handles[s->nr_handles].name = name;
	s->handles[s->nr_handles].kind = kind;
	*out = s->nr_handles++;
	return 1;
}

/* An address: a number, or the name of a handle an earlier step defined. */
static int get_addr(struct scenario *s, yaml_node_t *map, const char *key, bool required,
		    const char *ctx, struct addr_arg *out)
{
	yaml_node_t *v = NULL;
	const char *text, *why;
	int rc = get_node(s, map, key, required, ctx, &v);
	char what[96];

	if (rc <= 0)
		return rc;
	snprintf(what, sizeof(what), "'%s'", key);
	text = yscalar(YF, v, what);
	if (!text)
		return -1;
	out->handle = -1;
	out->value = 0;
	if (!parse_size(text, &out->value, &why))
		return 1;
	if (is_identifier(text)) {
		out->handle = find_handle(s, text);
		if (out->handle >= 0)
			return 1;
		return yerr(YF, v, "bad address '%s' for '%s': not a number, and no earlier "
			    "step defined a handle of that name (as: %s)", text, key, text);
	}
	return yerr(YF, v, "bad address '%s' for '%s': %s", text, key, why);
}

/* ---------- step args (what the echo line shows) ---------- */

static void add_arg(struct step *st, const char *key, enum arg_type type, uint64_t u,
		    const char *str)
{
	if (st->nargs >= STEP_MAX_ARGS)
		return;
	st->args[st->nargs++] = (struct step_arg){ .key = key, .type = type, .u = u, .s = str };
}

static void add_addr_arg(struct scenario *s, struct step *st, const char *key,
			 const struct addr_arg *a)
{
	if (a->handle >= 0)
		add_arg(st, key, ARG_ADDR, 0, s->handles[a->handle].name);
	else
		add_arg(st, key, ARG_ADDR, a->value, NULL);
}

/* ---------- steps ---------- */

struct step_def {
	const char *name;
	enum step_kind kind;
	bool takes_map;
	const char *const *keys;   /* allowed keys (maps) */
	bool may_fail;             /* expect_error allowed */
};

static const char *const k_add[] = { "start", "size", "node", "expect_error", "expect_warn", NULL };
static const char *const k_range[] = { "start", "size", "expect_error", "expect_warn", NULL };
static const char *const k_online[] = { "start", "size", "zone", "expect_error", "expect_warn", NULL };
static const char *const k_request[] = { "start", "size", "name", "expect_error", "expect_warn", NULL };
static const char *const k_free_region[] = { "size", "name", "as", "expect_error", "expect_warn", NULL };
static const char *const k_alloc[] = { "order", "node", "gfp", "as", "expect_error", "expect_warn", NULL };
static const char *const k_free_pages[] = { "handle", NULL };
static const char *const k_expect[] = {
	"pfn_valid", "section", "memory_block", "id", "meminfo", "max_pfn", "handle",
	"is", "state", "zone", "min", "max",
	"namespace", "mode", "map", "size", "data_at", "data", "refused", "gpu", "chunks",
	"calloc", "cfree", "gpu_page", "page_is_ram", "valid_phys_addr_range", "zone_device",
	"pgmap", "type", "cpu_addressable", NULL,
};
static const char *const k_create_ns[] = {
	"region", "namespace", "mode", "map", "align", "uuid", "expect_error", "expect_warn", NULL,
};
static const char *const k_ns_target[] = { "region", "namespace", "expect_error", "expect_warn", NULL };
static const char *const k_none[] = { NULL };
static const char *const k_write_ns[] = {
	"namespace", "region", "offset", "data", "expect_error", "expect_warn", NULL,
};
static const char *const k_corrupt[] = {
	"region", "namespace", "offset", "byte", "expect_error", "expect_warn", NULL,
};
static const char *const k_gpu_add[] = { "gpu", "count", "expect_error", "expect_warn", NULL };
static const char *const k_gpu_alloc[] = { "gpu", "as", "expect_error", "expect_warn", NULL };
static const char *const k_gpu_write[] = { "handle", "data", "expect_error", "expect_warn", NULL };
static const char *const k_handle_only[] = { "handle", NULL };
static const char *const k_memremap[] = {
	"type", "start", "size", "align", "node", "as", "expect_error", "expect_warn", NULL,
};
static const char *const k_memory_failure[] = { "addr", "expect_error", "expect_warn", NULL };

static const struct step_def step_defs[] = {
	{ "add_memory", ST_ADD_MEMORY, true, k_add, true },
	{ "remove_memory", ST_REMOVE_MEMORY, true, k_range, true },
	{ "online_memory", ST_ONLINE_MEMORY, true, k_online, true },
	{ "offline_memory", ST_OFFLINE_MEMORY, true, k_range, true },
	{ "request_mem_region", ST_REQUEST_MEM_REGION, true, k_request, true },
	{ "release_mem_region", ST_RELEASE_MEM_REGION, true, k_range, true },
	{ "request_free_mem_region", ST_REQUEST_FREE_MEM_REGION, true, k_free_region, true },
	{ "alloc_pages", ST_ALLOC_PAGES, true, k_alloc, true },
	{ "free_pages", ST_FREE_PAGES, true, k_free_pages, false },
	{ "expect", ST_EXPECT, true, k_expect, false },
	{ "report", ST_REPORT, false, NULL, false },
	{ "note", ST_NOTE, false, NULL, false },
	{ "create_namespace", ST_CREATE_NAMESPACE, true, k_create_ns, true },
	{ "destroy_namespace", ST_DESTROY_NAMESPACE, true, k_ns_target, true },
	{ "rebind_namespace", ST_REBIND_NAMESPACE, true, k_ns_target, true },
	{ "list_namespaces", ST_LIST_NAMESPACES, true, k_none, false },
	{ "write_namespace", ST_WRITE_NAMESPACE, true, k_write_ns, true },
	{ "corrupt_infoblock", ST_CORRUPT_INFOBLOCK, true, k_corrupt, true },
	{ "gpu_add_chunk", ST_GPU_ADD_CHUNK, true, k_gpu_add, true },
	{ "gpu_alloc", ST_GPU_ALLOC, true, k_gpu_alloc, true },
	{ "gpu_write", ST_GPU_WRITE, true, k_gpu_write, true },
	{ "gpu_free", ST_GPU_FREE, true, k_handle_only, false },
	{ "memremap", ST_MEMREMAP, true, k_memremap, true },
	{ "memunmap", ST_MEMUNMAP, true, k_handle_only, false },
	{ "memory_failure", ST_MEMORY_FAILURE, true, k_memory_failure, true },
};
#define NR_STEP_DEFS (sizeof(step_defs) / sizeof(step_defs[0]))

static const char *step_names_list(void)
{
	static char buf[1024];

	if (!buf[0]) {
		for (size_t i = 0; i < NR_STEP_DEFS; i++) {
			if (i)
				strcat(buf, ", ");
			strcat(buf, step_defs[i].name);
		}
	}
	return buf;
}

static int parse_expect_error(struct scenario *s, struct step *st, yaml_node_t *map,
			      const char *ctx)
{
	const char *name;
	int rc = get_str(s, map, "expect_error", false, ctx, &name), e;

	if (rc <= 0)
		return rc;
	e = zd_errno_from_name(name[0] == '-' ? name + 1 : name);
	if (!e)
		return yerr(YF, ymap_get(YF, map, "expect_error", NULL),
			    "unknown errno name '%s' for 'expect_error' (e.g. EBUSY, EINVAL, "
			    "EEXIST, ENOMEM, E2BIG, ERANGE)", name);
	st->expect_error = e;
	st->expect_error_name = zd_errno_name(e);
	return 1;
}

/* expect_warn: N — the step is expected to fire exactly N invariant checks
 * (the kernel WARNs on some caller errors, e.g. an invalid pgmap). */
static int parse_expect_warn(struct scenario *s, struct step *st, yaml_node_t *map,
			     const char *ctx)
{
	uint64_t n;
	int rc = get_uint(s, map, "expect_warn", false, ctx, 1000, &n);

	st->expect_warn = rc > 0 ? (int)n : -1;
	return rc;
}

static int parse_range(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx)
{
	if (get_addr(s, a, "start", true, ctx, &st->start) < 0)
		return -1;
	add_addr_arg(s, st, "start", &st->start);
	if (get_size(s, a, "size", true, ctx, &st->size) < 0)
		return -1;
	add_arg(st, "size", ARG_SIZE, st->size, NULL);
	return 0;
}

static int parse_node_arg(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx,
			  bool dflt)
{
	uint64_t v = 0;
	int rc = get_uint(s, a, "node", false, ctx, ZD_MAX_NUMNODES - 1, &v);

	if (rc < 0)
		return -1;
	st->has_node = rc > 0;
	st->node = (int)v;
	if (st->has_node || dflt)
		add_arg(st, "node", ARG_UINT, v, NULL);
	return 0;
}

static const struct {
	const char *name;
	enum zd_online_type type;
} zone_names[] = {
	{ "auto", ZD_MMOP_ONLINE }, { "online", ZD_MMOP_ONLINE },
	{ "normal", ZD_MMOP_ONLINE_KERNEL }, { "kernel", ZD_MMOP_ONLINE_KERNEL },
	{ "movable", ZD_MMOP_ONLINE_MOVABLE },
};

static const struct {
	const char *name;
	zd_gfp_t gfp;
} gfp_names[] = {
	{ "kernel", ZD_GFP_KERNEL }, { "movable", ZD_GFP_HIGHUSER_MOVABLE },
	{ "dma32", ZD___GFP_DMA32 },
};

static int parse_section_state(struct scenario *s, struct step *st, yaml_node_t *v)
{
	struct expect *ex = &st->ex;
	yaml_node_item_t *it;

	if (v->type == YAML_SCALAR_NODE) {
		const char *t = yscalar(YF, v, "'state'");

		if (!t)
			return -1;
		if (!strcmp(t, "not_present")) {
			ex->not_present = true;
			add_arg(st, "state", ARG_STR, 0, "not_present");
			return 0;
		}
	} else if (v->type != YAML_SEQUENCE_NODE) {
		return yerr(YF, v, "'state' must be a list of section flags or not_present");
	}
	ex->section_flags = 0;
	for (int i = 0;; i++) {
		yaml_node_t *item;
		const char *t;
		bool found = false;

		if (v->type == YAML_SCALAR_NODE) {
			if (i)
				break;
			item = v;
		} else {
			it = v->data.sequence.items.start + i;
			if (it >= v->data.sequence.items.top)
				break;
			item = ynode(YF, *it);
		}
		t = yscalar(YF, item, "a section flag");
		if (!t)
			return -1;
		for (int f = 0; section_flag_names[f].name; f++) {
			if (!strcmp(section_flag_names[f].name, t)) {
				ex->section_flags |= section_flag_names[f].bit;
				found = true;
			}
		}
		if (!found)
			return yerr(YF, item, "unknown section flag '%s' (known: present, "
				    "has_mem_map, online, early, zone_device; or not_present)", t);
	}
	add_arg(st, "state", ARG_FLAGS, ex->section_flags, NULL);
	return 0;
}

/* ---------- ZONE_DEVICE steps ---------- */

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

/* handle: NAME of the given kind, defined by an earlier step. */
static int use_handle(struct scenario *s, struct step *st, yaml_node_t *a, const char *key,
		      enum handle_kind kind, const char *definer, const char *ctx, int *out)
{
	const char *text;

	if (get_str(s, a, key, true, ctx, &text) < 0)
		return -1;
	*out = find_handle(s, text);
	if (*out < 0 || s->handles[*out].kind != kind)
		return yerr(YF, ymap_get(YF, a, key, NULL), "no earlier %s step defined a "
			    "handle named '%s'", definer, text);
	add_arg(st, key, ARG_STR, 0, text);
	return 0;
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

static int parse_dev_step(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx)
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
		return 0;
	case ST_DESTROY_NAMESPACE:
	case ST_REBIND_NAMESPACE:
		return parse_region_ref(s, st, a, ctx, true, true, &st->region);
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
		if (!ymap_get(YF, a, "as", NULL))
			return yerr(YF, a, "%s: missing key 'as' (the page must be freed with "
				    "gpu_free)", ctx);
		if (define_handle(s, a, "as", H_GPU_PAGE, ctx, &st->handle) < 0)
			return -1;
		add_arg(st, "as", ARG_STR, 0, s->handles[st->handle].name);
		return 0;
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
		if (!ymap_get(YF, a, "as", NULL))
			return yerr(YF, a, "%s: missing key 'as' (memunmap takes the handle)", ctx);
		if (define_handle(s, a, "as", H_PGMAP, ctx, &st->handle) < 0)
			return -1;
		add_arg(st, "as", ARG_STR, 0, s->handles[st->handle].name);
		return 0;
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

static int parse_dev_expect(struct scenario *s, struct step *st, yaml_node_t *a,
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

#define EXPECT_FORMS "pfn_valid, section, memory_block (or id), meminfo, max_pfn, handle, " \
	"namespace, gpu, gpu_page, page_is_ram, valid_phys_addr_range, zone_device, pgmap, " \
	"cpu_addressable"

static int parse_expect(struct scenario *s, struct step *st, yaml_node_t *a)
{
	static const char *const sel[] = {
		"pfn_valid", "section", "memory_block", "id", "meminfo", "max_pfn", "handle",
		"namespace", "gpu", "gpu_page", "page_is_ram", "valid_phys_addr_range",
		"zone_device", "pgmap", "cpu_addressable",
	};
	static const char *const k_pfn_valid[] = { "pfn_valid", "is", NULL };
	static const char *const k_section[] = { "section", "state", NULL };
	static const char *const k_block_addr[] = { "memory_block", "state", "zone", NULL };
	static const char *const k_block_id[] = { "id", "state", "zone", NULL };
	static const char *const k_meminfo[] = { "meminfo", "is", "min", "max", NULL };
	static const char *const k_max_pfn[] = { "max_pfn", NULL };
	static const char *const k_handle[] = { "handle", "is", NULL };
	static const char *const k_namespace[] = {
		"namespace", "mode", "map", "size", "data_at", "data", "refused", NULL,
	};
	static const char *const k_gpu[] = { "gpu", "chunks", "calloc", "cfree", NULL };
	static const char *const k_gpu_page[] = { "gpu_page", "data", NULL };
	static const char *const k_page_is_ram[] = { "page_is_ram", "is", NULL };
	static const char *const k_valid_phys[] = { "valid_phys_addr_range", "size", "is", NULL };
	static const char *const k_zone_device[] = { "zone_device", "is", NULL };
	static const char *const k_pgmap[] = { "pgmap", "type", NULL };
	static const char *const k_cpu[] = { "cpu_addressable", "is", "data", NULL };
	static const char *const *const sel_keys[] = {
		k_pfn_valid, k_section, k_block_addr, k_block_id, k_meminfo, k_max_pfn, k_handle,
		k_namespace, k_gpu, k_gpu_page, k_page_is_ram, k_valid_phys, k_zone_device,
		k_pgmap, k_cpu,
	};
	struct expect *ex = &st->ex;
	int which = -1;
	char ctx[64];
	yaml_node_t *v = NULL;
	const char *text, *why;

	for (int i = 0; i < (int)(sizeof(sel) / sizeof(sel[0])); i++) {
		if (!ymap_get(YF, a, sel[i], NULL))
			continue;
		if (which >= 0)
			return yerr(YF, a, "expect: give one of %s; not both '%s' and '%s'",
				    EXPECT_FORMS, sel[which], sel[i]);
		which = i;
	}
	if (which < 0)
		return yerr(YF, a, "expect: say what to check: one of %s", EXPECT_FORMS);
	snprintf(ctx, sizeof(ctx), "expect %s", sel[which]);
	if (ymap_check(YF, a, sel_keys[which], ctx))
		return -1;

	switch (which) {
	case 0: /* pfn_valid: ADDR, is: bool */
		ex->kind = EX_PFN_VALID;
		if (get_addr(s, a, "pfn_valid", true, ctx, &ex->addr) < 0 ||
		    get_bool(s, a, "is", true, ctx, &ex->want_bool) < 0)
			return -1;
		add_addr_arg(s, st, "pfn_valid", &ex->addr);
		add_arg(st, "is", ARG_BOOL, ex->want_bool, NULL);
		return 0;
	case 1: /* section: ADDR, state: [...] | not_present */
		ex->kind = EX_SECTION;
		if (get_addr(s, a, "section", true, ctx, &ex->addr) < 0 ||
		    get_node(s, a, "state", true, ctx, &v) < 0)
			return -1;
		add_addr_arg(s, st, "section", &ex->addr);
		return parse_section_state(s, st, v);
	case 2: /* memory_block: ADDR, state */
	case 3: /* id: N, state */
		ex->kind = EX_MEMORY_BLOCK;
		if (which == 2) {
			if (get_addr(s, a, "memory_block", true, ctx, &ex->addr) < 0)
				return -1;
			add_addr_arg(s, st, "memory_block", &ex->addr);
		} else {
			if (get_uint(s, a, "id", true, ctx, UINT64_MAX, &ex->id) < 0)
				return -1;
			ex->by_id = true;
			add_arg(st, "id", ARG_UINT, ex->id, NULL);
		}
		if (get_str(s, a, "state", true, ctx, &text) < 0)
			return -1;
		if (!strcmp(text, "online"))
			ex->block_state = ZD_MEM_ONLINE;
		else if (!strcmp(text, "offline"))
			ex->block_state = ZD_MEM_OFFLINE;
		else if (!strcmp(text, "going-offline"))
			ex->block_state = ZD_MEM_GOING_OFFLINE;
		else if (!strcmp(text, "absent"))
			ex->block_state = BLOCK_ABSENT;
		else
			return yerr(YF, ymap_get(YF, a, "state", NULL), "unknown memory block "
				    "state '%s' (online, offline, going-offline, absent)", text);
		add_arg(st, "state", ARG_STR, 0, text);
		ex->block_zone = -1;
		if (get_str(s, a, "zone", false, ctx, &text) > 0) {
			for (int z = 0; z < ZD_MAX_NR_ZONES; z++)
				if (!strcasecmp(zd_zone_names[z], text))
					ex->block_zone = z;
			if (ex->block_zone < 0)
				return yerr(YF, ymap_get(YF, a, "zone", NULL), "unknown zone '%s' "
					    "(DMA32, Normal, Movable, Device)", text);
			if (ex->block_state != ZD_MEM_ONLINE)
				return yerr(YF, ymap_get(YF, a, "zone", NULL), "only an online block "
					    "has a zone (state: online)");
			add_arg(st, "zone", ARG_STR, 0, zd_zone_names[ex->block_zone]);
		}
		return 0;
	case 4: /* meminfo: FIELD, is/min/max */
		ex->kind = EX_MEMINFO;
		if (get_str(s, a, "meminfo", true, ctx, &ex->field) < 0)
			return -1;
		add_arg(st, "meminfo", ARG_STR, 0, ex->field);
		for (int i = 0; i < 3; i++) {
			static const char *const k[] = { "is", "min", "max" };
			uint64_t *dst = i == 0 ? &ex->is : i == 1 ? &ex->min : &ex->max;
			bool *has = i == 0 ? &ex->has_is : i == 1 ? &ex->has_min : &ex->has_max;

			v = ymap_get(YF, a, k[i], NULL);
			if (!v)
				continue;
			text = yscalar(YF, v, k[i]);
			if (!text)
				return -1;
			if (parse_kb(text, dst, &why))
				return yerr(YF, v, "bad meminfo value '%s' for '%s': %s", text,
					    k[i], why);
			*has = true;
			add_arg(st, k[i], ARG_KB, *dst, NULL);
		}
		if (!ex->has_is && !ex->has_min && !ex->has_max)
			return yerr(YF, a, "expect meminfo: give 'is', 'min' or 'max'");
		if (ex->has_is && (ex->has_min || ex->has_max))
			return yerr(YF, a, "expect meminfo: 'is' excludes 'min' and 'max'");
		return 0;
	case 5: /* max_pfn: N */
		ex->kind = EX_MAX_PFN;
		if (get_size(s, a, "max_pfn", true, ctx, &ex->is) < 0)
			return -1;
		add_arg(st, "max_pfn", ARG_HEX, ex->is, NULL);
		return 0;
	case 6: /* handle: NAME, is: ADDR */
		ex->kind = EX_HANDLE;
		if (get_str(s, a, "handle", true, ctx, &text) < 0)
			return -1;
		ex->addr.handle = find_handle(s, text);
		if (ex->addr.handle < 0)
			return yerr(YF, ymap_get(YF, a, "handle", NULL), "no earlier step defined "
				    "a handle named '%s'", text);
		add_arg(st, "handle", ARG_STR, 0, text);
		if (get_size(s, a, "is", true, ctx, &ex->is) < 0)
			return -1;
		add_arg(st, "is", ARG_ADDR, ex->is, NULL);
		return 0;
	default:
		return parse_dev_expect(s, st, a, sel[which], ctx);
	}
}

static int parse_step_args(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx)
{
	const char *text;
	uint64_t v;
	int rc;

	switch (st->kind) {
	case ST_ADD_MEMORY:
		if (parse_range(s, st, a, ctx) || parse_node_arg(s, st, a, ctx, true))
			return -1;
		return 0;
	case ST_REMOVE_MEMORY:
	case ST_OFFLINE_MEMORY:
	case ST_RELEASE_MEM_REGION:
		return parse_range(s, st, a, ctx);
	case ST_ONLINE_MEMORY:
		if (parse_range(s, st, a, ctx))
			return -1;
		st->online = ZD_MMOP_ONLINE;
		text = "auto";
		rc = get_str(s, a, "zone", false, ctx, &text);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			size_t i;

			for (i = 0; i < sizeof(zone_names) / sizeof(zone_names[0]); i++)
				if (!strcmp(zone_names[i].name, text))
					break;
			if (i == sizeof(zone_names) / sizeof(zone_names[0]))
				return yerr(YF, ymap_get(YF, a, "zone", NULL), "unknown zone '%s' "
					    "(normal, kernel, movable or auto)", text);
			st->online = zone_names[i].type;
		}
		add_arg(st, "zone", ARG_STR, 0, text);
		return 0;
	case ST_REQUEST_MEM_REGION:
		if (parse_range(s, st, a, ctx))
			return -1;
		st->res_name = "zonedev";
		if (get_str(s, a, "name", false, ctx, &st->res_name) < 0)
			return -1;
		add_arg(st, "name", ARG_STR, 0, st->res_name);
		return 0;
	case ST_REQUEST_FREE_MEM_REGION:
		if (get_size(s, a, "size", true, ctx, &st->size) < 0)
			return -1;
		add_arg(st, "size", ARG_SIZE, st->size, NULL);
		st->res_name = "zonedev";
		if (get_str(s, a, "name", false, ctx, &st->res_name) < 0)
			return -1;
		add_arg(st, "name", ARG_STR, 0, st->res_name);
		if (define_handle(s, a, "as", H_REGION, ctx, &st->handle) < 0)
			return -1;
		if (st->handle >= 0)
			add_arg(st, "as", ARG_STR, 0, s->handles[st->handle].name);
		return 0;
	case ST_ALLOC_PAGES:
		v = 0;
		if (get_uint(s, a, "order", false, ctx, ZD_MAX_ORDER_LIMIT, &v) < 0)
			return -1;
		st->order = (unsigned)v;
		add_arg(st, "order", ARG_UINT, v, NULL);
		if (parse_node_arg(s, st, a, ctx, false))
			return -1;
		st->gfp = ZD_GFP_KERNEL;
		text = "kernel";
		rc = get_str(s, a, "gfp", false, ctx, &text);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			size_t i;

			for (i = 0; i < sizeof(gfp_names) / sizeof(gfp_names[0]); i++)
				if (!strcmp(gfp_names[i].name, text))
					break;
			if (i == sizeof(gfp_names) / sizeof(gfp_names[0]))
				return yerr(YF, ymap_get(YF, a, "gfp", NULL), "unknown gfp '%s' "
					    "(kernel, movable or dma32)", text);
			st->gfp = gfp_names[i].gfp;
		}
		add_arg(st, "gfp", ARG_STR, 0, text);
		if (define_handle(s, a, "as", H_PAGES, ctx, &st->handle) < 0)
			return -1;
		if (st->handle >= 0)
			add_arg(st, "as", ARG_STR, 0, s->handles[st->handle].name);
		return 0;
	case ST_FREE_PAGES:
		if (get_str(s, a, "handle", true, ctx, &text) < 0)
			return -1;
		st->handle = find_handle(s, text);
		if (st->handle < 0 || s->handles[st->handle].kind != H_PAGES)
			return yerr(YF, ymap_get(YF, a, "handle", NULL), "no earlier alloc_pages "
				    "step defined a handle named '%s'", text);
		add_arg(st, "handle", ARG_STR, 0, text);
		return 0;
	case ST_EXPECT:
		return parse_expect(s, st, a);
	case ST_REPORT:
	case ST_NOTE:
		break;
	default:
		return parse_dev_step(s, st, a, ctx);
	}
	return 0;
}

static int parse_step(struct scenario *s, yaml_node_t *item, struct step *st)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k, *a;
	const struct step_def *def = NULL;
	const char *name;
	char ctx[96];

	memset(st, 0, sizeof(*st));
	st->handle = -1;
	st->start.handle = -1;
	st->ex.addr.handle = -1;
	st->region = -1;
	st->gpu = -1;
	st->ex.region = -1;
	st->ex.gpu = -1;
	if (item->type == YAML_SCALAR_NODE) {
		/* "- list_namespaces": a step without arguments may be just its name. */
		for (size_t i = 0; i < NR_STEP_DEFS; i++) {
			if (step_defs[i].keys != k_none ||
			    strcmp(step_defs[i].name, (const char *)item->data.scalar.value))
				continue;
			st->kind = step_defs[i].kind;
			st->name = step_defs[i].name;
			st->line = yline(item);
			st->col = ycol(item);
			return 0;
		}
	}
	if (item->type != YAML_MAPPING_NODE)
		return yerr(YF, item, "a step is a mapping with one key, the step name (e.g. "
			    "'- add_memory: {start: 4G, size: 1G}'), not %s", ykind(item));
	pair = item->data.mapping.pairs.start;
	if (pair == item->data.mapping.pairs.top)
		return yerr(YF, item, "empty step");
	k = ynode(YF, pair->key);
	if (k->type != YAML_SCALAR_NODE)
		return yerr(YF, k, "a step name must be a plain name, not %s", ykind(k));
	name = (const char *)k->data.scalar.value;
	for (size_t i = 0; i < NR_STEP_DEFS; i++)
		if (!strcmp(step_defs[i].name, name))
			def = &step_defs[i];
	if (!def)
		return yerr(YF, k, "unknown key '%s' in steps (expected a step name: %s)", name,
			    step_names_list());
	if (pair + 1 < item->data.mapping.pairs.top) {
		yaml_node_t *k2 = ynode(YF, pair[1].key);

		return yerr(YF, k2, "unknown key '%s' in step '%s': a step has exactly one key; "
			    "its arguments (and expect_error) go in the step's own mapping",
			    k2->type == YAML_SCALAR_NODE ? (const char *)k2->data.scalar.value :
			    "?", name);
	}
	st->kind = def->kind;
	st->name = def->name;
	st->line = yline(k);
	st->col = ycol(k);
	a = ynode(YF, pair->value);
	snprintf(ctx, sizeof(ctx), "step '%s'", def->name);

	if (!def->takes_map) {
		const char *text = yscalar(YF, a, ctx);

		if (!text)
			return -1;
		if (st->kind == ST_NOTE) {
			st->text = text;
			return 0;
		}
		for (int r = 0; r < RP_NR; r++) {
			if (!strcmp(report_names[r], text)) {
				st->report = (enum report_kind)r;
				add_arg(st, "what", ARG_STR, 0, report_names[r]);
				return 0;
			}
		}
		return yerr(YF, a, "unknown report '%s' (iomem, meminfo, zoneinfo, "
			    "memory_blocks, sections, dmesg, vmemmap, namespaces, devices)", text);
	}
	if (def->keys == k_none && a->type == YAML_SCALAR_NODE && !a->data.scalar.length &&
	    a->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		return 0;   /* "- list_namespaces:" */
	if (a->type != YAML_MAPPING_NODE)
		return yerr(YF, a, "step '%s' takes a mapping of arguments, not %s", def->name,
			    ykind(a));
	if (st->kind != ST_EXPECT && ymap_check(YF, a, def->keys, ctx))
		return -1;
	if (st->kind == ST_EXPECT && ymap_check(YF, a, def->keys, "expect"))
		return -1;
	if (def->may_fail && parse_expect_error(s, st, a, ctx) < 0)
		return -1;
	st->expect_warn = -1;
	if (def->may_fail && parse_expect_warn(s, st, a, ctx) < 0)
		return -1;
	return parse_step_args(s, st, a, ctx);
}

/* ---------- machine ---------- */

static int parse_ranges(struct scenario *s, yaml_node_t *list, const char *what,
			struct zd_mem_range **out, size_t *nr, uint64_t nodes)
{
	static const char *const keys[] = { "start", "size", "node", "name", NULL };
	yaml_node_item_t *it;
	size_t n = 0;
	char ctx[64];

	snprintf(ctx, sizeof(ctx), "machine.%s entry", what);
	if (list->type != YAML_SEQUENCE_NODE)
		return yerr(YF, list, "machine.%s must be a list of {start, size} mappings, "
			    "not %s", what, ykind(list));
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return yerr(YF, list, "out of memory");
	*nr = 0;
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = ynode(YF, *it);
		struct zd_mem_range *r = &(*out)[*nr];
		uint64_t node = 0;

		if (e->type != YAML_MAPPING_NODE)
			return yerr(YF, e, "each machine.%s entry is a mapping {start, size, node, "
				    "name}, not %s", what, ykind(e));
		if (ymap_check(YF, e, keys, ctx) ||
		    get_size(s, e, "start", true, ctx, &r->start) < 0 ||
		    get_size(s, e, "size", true, ctx, &r->size) < 0 ||
		    get_uint(s, e, "node", false, ctx, ZD_MAX_NUMNODES - 1, &node) < 0 ||
		    get_str(s, e, "name", false, ctx, &r->name) < 0)
			return -1;
		if (node >= nodes)
			return yerr(YF, ymap_get(YF, e, "node", NULL), "node %llu, but the machine "
				    "has %llu node(s) (set machine.nodes)",
				    (unsigned long long)node, (unsigned long long)nodes);
		r->node = (int)node;
		(*nr)++;
	}
	return 0;
}

/* Line and column of byte off of a scalar's value, found in the source: the
 * n-th "${" of the value is the n-th "${" of the node's source text (good
 * for plain and quoted scalars; escapes that spell "${" are not followed). */
static void scalar_pos(struct scenario *s, const yaml_node_t *v, size_t off, int *line, int *col)
{
	const char *val = (const char *)v->data.scalar.value;
	size_t want = 0, start = v->start_mark.index, end = v->end_mark.index;
	const char *src = s->yf.text;

	*line = yline(v);
	*col = ycol(v);
	for (size_t i = 0; i + 1 < off + 2 && val[i]; i++)
		if (val[i] == '$' && val[i + 1] == '{' && i < off)
			want++;
	for (size_t i = start; i + 1 < end && i + 1 < s->yf.len; i++) {
		if (src[i] == '$' && src[i + 1] == '{' && !want--) {
			for (size_t k = start; k < i; k++) {
				if (src[k] == '\n') {
					(*line)++;
					*col = 1;
				} else {
					(*col)++;
				}
			}
			return;
		}
	}
}

/* machine.pmem: [{start, size, file, node, read_only}] */
static int parse_pmem(struct scenario *s, yaml_node_t *list)
{
	static const char *const keys[] = { "start", "size", "file", "node", "read_only", NULL };
	const char *ctx = "machine.pmem entry";
	yaml_node_item_t *it;
	size_t n;

	if (list->type != YAML_SEQUENCE_NODE)
		return yerr(YF, list, "machine.pmem must be a list of {start, size, file} mappings, "
			    "not %s", ykind(list));
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	s->pmem = calloc(n ? n : 1, sizeof(*s->pmem));
	s->pmem_files = calloc(n ? n : 1, sizeof(*s->pmem_files));
	if (!s->pmem || !s->pmem_files)
		return yerr(YF, list, "out of memory");
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = ynode(YF, *it), *fv;
		struct zd_nd_region_desc *d = &s->pmem[s->nr_pmem];
		const char *file;
		char *expanded, *path, why[200];
		size_t bad, len;
		uint64_t node = 0;

		if (e->type != YAML_MAPPING_NODE)
			return yerr(YF, e, "each machine.pmem entry is a mapping {start, size, file, "
				    "node, read_only}, not %s", ykind(e));
		if (ymap_check(YF, e, keys, ctx) ||
		    get_size(s, e, "start", true, ctx, &d->start) < 0 ||
		    get_size(s, e, "size", true, ctx, &d->size) < 0 ||
		    get_uint(s, e, "node", false, ctx, ZD_MAX_NUMNODES - 1, &node) < 0 ||
		    get_bool(s, e, "read_only", false, ctx, &d->read_only) < 0 ||
		    get_str(s, e, "file", true, ctx, &file) < 0)
			return -1;
		if (d->start & (ZD_ND_DEFAULT_COMPAT_ALIGN - 1))
			return yerr(YF, ymap_get(YF, e, "start", NULL), "a pmem region starts on a "
				    "2 MiB boundary (memremap_compat_align)");
		if (!d->size || d->size & (ZD_ND_DEFAULT_COMPAT_ALIGN - 1))
			return yerr(YF, ymap_get(YF, e, "size", NULL), "a pmem region's size is a "
				    "non-zero multiple of 2 MiB");
		if (d->start + d->size < d->start)
			return yerr(YF, ymap_get(YF, e, "size", NULL), "the region wraps around the "
				    "64-bit address space");
		if (node >= (uint64_t)s->nodes)
			return yerr(YF, ymap_get(YF, e, "node", NULL), "node %llu, but the machine "
				    "has %d node(s) (set machine.nodes)", (unsigned long long)node,
				    s->nodes);
		d->node = (int)node;
		fv = ymap_get(YF, e, "file", NULL);
		if (expand_env(file, &expanded, &bad, why, sizeof(why))) {
			int line, col;

			scalar_pos(s, fv, bad, &line, &col);
			return yerr_at(YF, line, col, "machine.pmem file '%s': %s", file, why);
		}
		len = strlen(s->dir) + strlen(expanded) + 2;
		path = malloc(len);
		if (!path) {
			free(expanded);
			return yerr(YF, fv, "out of memory");
		}
		if (expanded[0] == '/')
			snprintf(path, len, "%s", expanded);
		else
			snprintf(path, len, "%s/%s", s->dir, expanded);
		free(expanded);
		d->path = path;
		s->pmem_files[s->nr_pmem++] = file;
	}
	return 0;
}

/* machine.gpus: [{name, vram, node}] or [{name, coherent_start, coherent_size, node}] */
static int parse_gpus(struct scenario *s, yaml_node_t *list)
{
	static const char *const keys[] = {
		"name", "vram", "node", "coherent_start", "coherent_size", NULL,
	};
	const char *ctx = "machine.gpus entry";
	yaml_node_item_t *it;
	size_t n;

	if (list->type != YAML_SEQUENCE_NODE)
		return yerr(YF, list, "machine.gpus must be a list of {name, vram} mappings, not %s",
			    ykind(list));
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	s->gpus = calloc(n ? n : 1, sizeof(*s->gpus));
	if (!s->gpus)
		return yerr(YF, list, "out of memory");
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = ynode(YF, *it), *v;
		struct zd_dmirror_desc *d = &s->gpus[s->nr_gpus];
		uint64_t node = 0;
		bool coherent;

		if (e->type != YAML_MAPPING_NODE)
			return yerr(YF, e, "each machine.gpus entry is a mapping {name, vram, node} "
				    "or {name, coherent_start, coherent_size, node}, not %s", ykind(e));
		if (ymap_check(YF, e, keys, ctx) ||
		    get_str(s, e, "name", true, ctx, &d->name) < 0 ||
		    get_uint(s, e, "node", false, ctx, ZD_MAX_NUMNODES - 1, &node) < 0)
			return -1;
		v = ymap_get(YF, e, "name", NULL);
		if (!is_identifier(d->name) || strlen(d->name) >= 64)
			return yerr(YF, v, "gpu name '%s' must start with a letter, hold only letters, "
				    "digits, '_' and '-', and be shorter than 64", d->name);
		for (size_t i = 0; i < s->nr_gpus; i++)
			if (!strcmp(s->gpus[i].name, d->name))
				return yerr(YF, v, "a gpu named '%s' is already listed", d->name);
		if (node >= (uint64_t)s->nodes)
			return yerr(YF, ymap_get(YF, e, "node", NULL), "node %llu, but the machine "
				    "has %d node(s) (set machine.nodes)", (unsigned long long)node,
				    s->nodes);
		d->node = (int)node;
		coherent = ymap_get(YF, e, "coherent_start", NULL) ||
			   ymap_get(YF, e, "coherent_size", NULL);
		if (coherent && (v = ymap_get(YF, e, "vram", NULL)))
			return yerr(YF, v, "gpu '%s': 'vram' is device-private memory, "
				    "'coherent_start'/'coherent_size' a coherent device: not both",
				    d->name);
		if (coherent) {
			if (get_size(s, e, "coherent_start", true, ctx, &d->coherent_start) < 0 ||
			    get_size(s, e, "coherent_size", true, ctx, &d->coherent_size) < 0)
				return -1;
			if ((d->coherent_start | d->coherent_size) & (ZD_SUBSECTION_SIZE - 1) ||
			    !d->coherent_size)
				return yerr(YF, ymap_get(YF, e, "coherent_size", NULL), "gpu '%s': a "
					    "coherent range is a non-zero multiple of 2 MiB at a 2 MiB "
					    "boundary", d->name);
		} else {
			if (get_size(s, e, "vram", true, ctx, &d->vram_size) < 0)
				return -1;
			if (!d->vram_size || d->vram_size % ZD_DEVMEM_CHUNK_SIZE)
				return yerr(YF, ymap_get(YF, e, "vram", NULL), "gpu '%s': vram is a "
					    "non-zero multiple of the 256 MiB chunk the driver registers "
					    "at a time", d->name);
		}
		s->nr_gpus++;
	}
	return 0;
}

/* device_private, va_bits, pmem, gpus */
static int parse_machine_devices(struct scenario *s, yaml_node_t *m)
{
	const char *ctx = "machine", *text;
	const struct zd_arch *a = zd_arch_find(s->arch);
	yaml_node_t *v;
	uint64_t u;
	int rc;

	s->device_private = ZD_DEVICE_PRIVATE_PFN;
	rc = get_str(s, m, "device_private", false, ctx, &text);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		if (!strcmp(text, "pfn"))
			s->device_private = ZD_DEVICE_PRIVATE_PFN;
		else if (!strcmp(text, "dpa"))
			s->device_private = ZD_DEVICE_PRIVATE_DPA;
		else
			return yerr(YF, ymap_get(YF, m, "device_private", NULL), "unknown "
				    "device_private design '%s' (pfn: pages in the physical address "
				    "space and the vmemmap; dpa: their own address space)", text);
	}
	if ((v = ymap_get(YF, m, "va_bits", NULL))) {
		if (get_uint(s, m, "va_bits", false, ctx, 64, &u) < 0)
			return -1;
		if (a->coverage != ZD_VMEMMAP_COVERS_LINEAR_MAP)
			return yerr(YF, v, "va_bits sizes the arm64 linear map; arch %s has no "
				    "va_bits (use an arm64 profile or drop it)", s->arch);
		if (u < 36 || u > 52)
			return yerr(YF, v, "va_bits %llu is outside 36 to 52",
				    (unsigned long long)u);
		s->va_bits = (unsigned)u;
	}
	if ((v = ymap_get(YF, m, "pmem", NULL)) && parse_pmem(s, v))
		return -1;
	if ((v = ymap_get(YF, m, "gpus", NULL)) && parse_gpus(s, v))
		return -1;
	return 0;
}

static int parse_machine(struct scenario *s, yaml_node_t *m)
{
	static const char *const keys[] = {
		"arch", "phys_bits", "memory_block_size", "nodes", "debug_vm", "ram", "reserved",
		"iomem", "device_private", "va_bits", "pmem", "gpus", NULL,
	};
	const char *ctx = "machine";
	yaml_node_t *v = NULL;
	uint64_t u;
	int rc;

	s->machine_line = yline(m);
	if (m->type != YAML_MAPPING_NODE)
		return yerr(YF, m, "'machine' must be a mapping (arch, phys_bits, ram, ...), "
			    "not %s", ykind(m));
	if (ymap_check(YF, m, keys, ctx))
		return -1;
	s->arch = "x86_64";
	rc = get_str(s, m, "arch", false, ctx, &s->arch);
	if (rc < 0)
		return -1;
	if (!zd_arch_find(s->arch)) {
		char names[256] = "";

		for (const char *const *n = zd_arch_names(); *n; n++) {
			if (names[0])
				strcat(names, ", ");
			strncat(names, *n, sizeof(names) - strlen(names) - 1);
		}
		return yerr(YF, ymap_get(YF, m, "arch", NULL), "unknown arch '%s' (known: %s)",
			    s->arch, names);
	}
	if (get_uint(s, m, "phys_bits", false, ctx, 64, &u) < 0)
		return -1;
	s->phys_bits = ymap_get(YF, m, "phys_bits", NULL) ? (unsigned)u : 0;
	if (s->phys_bits) {
		const struct zd_arch *a = zd_arch_find(s->arch);

		if (s->phys_bits <= a->section_size_bits || s->phys_bits > a->max_physmem_bits)
			return yerr(YF, ymap_get(YF, m, "phys_bits", NULL), "phys_bits %u is outside "
				    "what %s can hold (%u to %u)", s->phys_bits, a->name,
				    a->section_size_bits + 1, a->max_physmem_bits);
	}
	if (get_size(s, m, "memory_block_size", false, ctx, &s->block_size) < 0)
		return -1;
	u = 1;
	if (get_uint(s, m, "nodes", false, ctx, ZD_MAX_NUMNODES, &u) < 0)
		return -1;
	if (!u)
		return yerr(YF, ymap_get(YF, m, "nodes", NULL), "a machine has at least 1 node");
	s->nodes = (int)u;
	if (get_bool(s, m, "debug_vm", false, ctx, &s->debug_vm) < 0)
		return -1;
	if (parse_machine_devices(s, m))
		return -1;

	if ((v = ymap_get(YF, m, "iomem", NULL))) {
		const char *path = yscalar(YF, v, "'iomem'");
		size_t n;

		if (!path)
			return -1;
		if (ymap_get(YF, m, "ram", NULL) || ymap_get(YF, m, "reserved", NULL))
			return yerr(YF, v, "machine: 'iomem' imports the whole layout; drop 'ram' "
				    "and 'reserved' or drop 'iomem'");
		s->iomem_given = path;
		n = strlen(s->dir) + strlen(path) + 2;
		s->iomem_path = malloc(n);
		if (!s->iomem_path)
			return yerr(YF, v, "out of memory");
		if (path[0] == '/')
			snprintf(s->iomem_path, n, "%s", path);
		else
			snprintf(s->iomem_path, n, "%s/%s", s->dir, path);
		return 0;
	}
	if ((v = ymap_get(YF, m, "ram", NULL)) &&
	    parse_ranges(s, v, "ram", &s->ram, &s->nr_ram, (uint64_t)s->nodes))
		return -1;
	if ((v = ymap_get(YF, m, "reserved", NULL)) &&
	    parse_ranges(s, v, "reserved", &s->reserved, &s->nr_reserved, (uint64_t)s->nodes))
		return -1;
	if (!ymap_get(YF, m, "ram", NULL) && !ymap_get(YF, m, "reserved", NULL))
		s->default_layout = true;
	return 0;
}

/* ---------- the document ---------- */

static int parse_document(struct scenario *s)
{
	static const char *const keys[] = { "description", "machine", "steps", NULL };
	yaml_node_t *root = yroot(YF), *v;
	yaml_node_item_t *it;

	if (root->type != YAML_MAPPING_NODE)
		return yerr(YF, root, "a scenario is a mapping with 'machine:' and 'steps:', not "
			    "%s", ykind(root));
	if (ymap_check(YF, root, keys, "scenario"))
		return -1;
	if (get_str(s, root, "description", false, "scenario", &s->description) < 0)
		return -1;
	v = ymap_get(YF, root, "machine", NULL);
	if (!v)
		return yerr(YF, root, "scenario: missing key 'machine' (use 'machine: {}' for "
			    "the default x86_64 machine)");
	if (parse_machine(s, v))
		return -1;
	v = ymap_get(YF, root, "steps", NULL);
	if (!v)
		return 0;
	if (v->type == YAML_SCALAR_NODE && !v->data.scalar.length)
		return 0;   /* "steps:" with nothing after it */
	if (v->type != YAML_SEQUENCE_NODE)
		return yerr(YF, v, "'steps' must be a list of steps, not %s", ykind(v));
	s->nr_steps = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	s->steps = calloc(s->nr_steps ? s->nr_steps : 1, sizeof(*s->steps));
	if (!s->steps)
		return yerr(YF, v, "out of memory");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
		if (parse_step(s, ynode(YF, *it), &s->steps[it - v->data.sequence.items.start]))
			return -1;
	return 0;
}

int scenario_load_path(struct scenario *s, const char *path)
{
	char *copy;

	memset(s, 0, sizeof(*s));
	s->file = path;
	copy = strdup(path);
	s->dir = copy ? strdup(dirname(copy)) : NULL;
	free(copy);
	if (!s->dir) {
		s->yf.name = path;
		snprintf(s->yf.err, sizeof(s->yf.err), "%s: out of memory", path);
		return -1;
	}
	if (yfile_load_path(&s->yf, path, path))
		return -1;
	return parse_document(s);
}

int scenario_load_text(struct scenario *s, const char *text, const char *disp)
{
	memset(s, 0, sizeof(*s));
	s->file = disp;
	s->dir = strdup(".");
	if (!s->dir) {
		s->yf.name = disp;
		snprintf(s->yf.err, sizeof(s->yf.err), "%s: out of memory", disp);
		return -1;
	}
	if (yfile_load_text(&s->yf, text, strlen(text), disp))
		return -1;
	return parse_document(s);
}

void scenario_free(struct scenario *s)
{
	for (size_t i = 0; i < s->nr_pmem; i++)
		free((char *)s->pmem[i].path);
	free(s->pmem);
	free(s->pmem_files);
	free(s->gpus);
	free(s->steps);
	free(s->ram);
	free(s->reserved);
	free(s->iomem_path);
	free(s->dir);
	yfile_free(&s->yf);
	memset(s, 0, sizeof(*s));
}
