/*
 * The steps of a scenario: the table of step names with the keys each one
 * takes, the shape of one 'steps:' item (a mapping with one key, the step
 * name; a bare name for a step without arguments; a scalar for report and
 * note), expect_error / expect_warn, and the arguments of the RAM steps
 * (hotplug, iomem requests, the page allocator). Expect forms are parsed in
 * scenario-expect.c, ZONE_DEVICE steps in scenario-devsteps.c.
 * Invariants: a step name is in step_defs[] and its mapping holds only the
 * keys listed there; expect_error and expect_warn are taken only by steps
 * that may fail; expect_warn is -1 when not stated.
 */
#include "scenario-internal.h"

#include <string.h>

const char *const report_names[RP_NR] = {
	[RP_IOMEM] = "iomem", [RP_MEMINFO] = "meminfo", [RP_ZONEINFO] = "zoneinfo",
	[RP_MEMORY_BLOCKS] = "memory_blocks", [RP_SECTIONS] = "sections",
	[RP_DMESG] = "dmesg", [RP_VMEMMAP] = "vmemmap", [RP_NAMESPACES] = "namespaces",
	[RP_DEVICES] = "devices", [RP_BUDDYINFO] = "buddyinfo",
};

/* ---------- the step table ---------- */

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
	"pfn_valid", "section", "memory_block", "id", "meminfo", "since", "max_pfn", "handle",
	"is", "state", "zone", "min", "max",
	"namespace", "mode", "map", "size", "data_at", "data", "refused", "gpu", "chunks",
	"calloc", "cfree", "gpu_page", "page_is_ram", "valid_phys_addr_range", "zone_device",
	"pgmap", "type", "cpu_addressable", "dax", "online_memblocks", "total_memblocks",
	"movable", "zoneinfo", "node", "start_pfn", "spanned", "present", "managed", "iomem", NULL,
};
static const char *const k_create_ns[] = {
	"region", "namespace", "mode", "map", "align", "uuid", "force", "expect_error", "expect_warn",
	NULL,
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
static const char *const k_as_only[] = { "as", NULL };
static const char *const k_reconfigure[] = {
	"device", "mode", "online", "movable", "force", "expect_error", "expect_warn", NULL,
};

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
	{ "meminfo_snapshot", ST_MEMINFO_SNAPSHOT, true, k_as_only, false },
	{ "create_namespace", ST_CREATE_NAMESPACE, true, k_create_ns, true },
	{ "destroy_namespace", ST_DESTROY_NAMESPACE, true, k_ns_target, true },
	{ "rebind_namespace", ST_REBIND_NAMESPACE, true, k_ns_target, true },
	{ "list_namespaces", ST_LIST_NAMESPACES, true, k_none, false },
	{ "write_namespace", ST_WRITE_NAMESPACE, true, k_write_ns, true },
	{ "corrupt_infoblock", ST_CORRUPT_INFOBLOCK, true, k_corrupt, true },
	{ "reconfigure_device", ST_RECONFIGURE_DEVICE, true, k_reconfigure, true },
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

/* ---------- arguments ---------- */

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

int parse_node_arg(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx,
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
	{ "dma32", ZD___GFP_DMA32 }, { "dma", ZD___GFP_DMA },
};

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
		return define_handle(s, st, a, "as", H_REGION, ctx, NULL) < 0 ? -1 : 0;
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
					    "(kernel, movable, dma32 or dma)", text);
			st->gfp = gfp_names[i].gfp;
		}
		add_arg(st, "gfp", ARG_STR, 0, text);
		return define_handle(s, st, a, "as", H_PAGES, ctx, NULL) < 0 ? -1 : 0;
	case ST_FREE_PAGES:
		return use_handle(s, st, a, "handle", H_PAGES, "alloc_pages", ctx, &st->handle);
	case ST_MEMINFO_SNAPSHOT:
		return define_handle(s, st, a, "as", H_MEMINFO, ctx, "name the snapshot that "
				     "'expect: {meminfo: FIELD, since: NAME}' compares with") < 0 ? -1 : 0;
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

/* ---------- one item of steps: ---------- */

int parse_step(struct scenario *s, yaml_node_t *item, struct step *st)
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
