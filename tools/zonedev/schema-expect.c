/*
 * The expect forms: which one a mapping is (exactly one selector key, the
 * form's name and first field), the fields each form takes, the checks
 * that span fields, and the function that evaluates it (steps.c for the
 * RAM forms, devsteps*.c for device memory). A new form is an entry here
 * and an eval function.
 * Invariants: a form's keys are checked before its values; a form with
 * need_one must be given at least one of its optional checks; a memory
 * block's zone is only expected of an online block.
 */
#include "schema.h"
#include "scenario-internal.h"

#include <string.h>

/* ---------- names ---------- */

#define E(n, v) { (n), (v), NULL }
#define EA(n, v, show) { (n), (v), (show) }

static const struct enum_def zones = {
	"zone", (const struct enum_name[]){
		E("DMA", ZD_ZONE_DMA), E("DMA32", ZD_ZONE_DMA32), E("Normal", ZD_ZONE_NORMAL),
		E("Movable", ZD_ZONE_MOVABLE), E("Device", ZD_ZONE_DEVICE), E(NULL, 0),
	}, true, NULL,
};

static const struct enum_def block_states = {
	"memory block state", (const struct enum_name[]){
		E("online", ZD_MEM_ONLINE), E("offline", ZD_MEM_OFFLINE),
		E("going-offline", ZD_MEM_GOING_OFFLINE), E("absent", BLOCK_ABSENT),
		E(NULL, 0),
	}, false, NULL,
};

static const struct handle_spec use_snapshot = { H_MEMINFO, "meminfo_snapshot", NULL };

/* state: [flags] | not_present */
static int parse_section_state(struct scenario *s, void *obj, const struct field *f,
			       yaml_node_t *v)
{
	struct step *st = obj;
	yaml_node_t *item = v;
	size_t n = 1;

	if (v->type == YAML_SCALAR_NODE && !strcmp((const char *)v->data.scalar.value,
						   "not_present")) {
		st->not_present = true;
		add_arg(st, "state", ARG_STR, 0, "not_present");
		return 0;
	}
	if (v->type == YAML_SEQUENCE_NODE)
		n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	else if (v->type != YAML_SCALAR_NODE)
		return yerr(YF, v, "'state' must be a list of section flags or not_present");
	st->section_flags = 0;
	for (size_t i = 0; i < n; i++) {
		const char *t;
		bool found = false;

		if (v->type == YAML_SEQUENCE_NODE)
			item = ynode(YF, v->data.sequence.items.start[i]);
		t = yscalar(YF, item, "a section flag");
		if (!t)
			return -1;
		for (int b = 0; section_flag_names[b].name; b++) {
			if (!strcmp(section_flag_names[b].name, t)) {
				st->section_flags |= section_flag_names[b].bit;
				found = true;
			}
		}
		if (!found)
			return yerr(YF, item, "unknown section flag '%s' (known: present, "
				    "has_mem_map, online, early, zone_device; or not_present)", t);
	}
	add_arg(st, "state", ARG_FLAGS, st->section_flags, NULL);
	return 0;
}

/* ---------- checks across fields ---------- */

static int finish_memory_block(struct scenario *s, struct step *st, yaml_node_t *map)
{
	if (st->block_zone >= 0 && st->block_state != ZD_MEM_ONLINE)
		return yerr(YF, field_node(s, map, "zone"), "only an online block has a zone "
			    "(state: online)");
	return 0;
}

static int finish_meminfo(struct scenario *s, struct step *st, yaml_node_t *map)
{
	if (st->has_is && (st->has_min || st->has_max))
		return yerr(YF, map, "expect meminfo: 'is' excludes 'min' and 'max'");
	return 0;
}

static int finish_namespace(struct scenario *s, struct step *st, yaml_node_t *map)
{
	if (!!ymap_get(YF, map, "data_at") != !!ymap_get(YF, map, "data"))
		return yerr(YF, map, "expect namespace: 'data_at' and 'data' go together (the "
			    "bytes expected at that offset of the namespace's data area)");
	return 0;
}

static int finish_cpu_addressable(struct scenario *s, struct step *st, yaml_node_t *map)
{
	if (st->has_data && !st->want_bool)
		return yerr(YF, field_node(s, map, "data"), "memory the CPU cannot address has no "
			    "data to compare: drop 'data' or say 'is: true'");
	return 0;
}

static int finish_vma(struct scenario *s, struct step *st, yaml_node_t *map)
{
	const char *p = st->perms;

	if (st->has_mapped && !st->mapped &&
	    (st->has_vma_start || st->has_vma_end || st->has_perms))
		return yerr(YF, map, "expect vma: 'mapped: false' has no start, end or perms");
	if (p && (strlen(p) != 4 || !strchr("r-", p[0]) || !strchr("w-", p[1]) ||
		  !strchr("x-", p[2]) || !strchr("sp", p[3])))
		return yerr(YF, field_node(s, map, "perms"), "perms '%s' is not as maps shows "
			    "them (4 characters: r or -, w or -, x or -, s or p; e.g. rw-p)", p);
	return 0;
}

/* ---------- fields ---------- */

#define ADDR(k) F(k, FT_ADDR, start, .flags = FL_REQ)
#define IS F("is", FT_BOOL, want_bool, .flags = FL_REQ)
#define OPT(k, t, m) F(k, t, m, .has = HAS(has_##m))
#define COUNT(k, i, sh) F(k, FT_UINT, zone_count[i], .has = HAS(has_zone_count[i]), .show = (sh))
#define BLOCK_STATE F("state", FT_ENUM, block_state, .enums = &block_states, .flags = FL_REQ)
#define BLOCK_ZONE F("zone", FT_ENUM, block_zone, .enums = &zones)
#define END { 0 }

const struct expect_def expect_defs[] = {
	{ "pfn_valid", (const struct field[]){ ADDR("pfn_valid"), IS, END }, false, NULL,
	  ex_pfn_valid },
	{ "section", (const struct field[]){
		ADDR("section"),
		{ .key = "state", .type = FT_CUSTOM, .flags = FL_REQ, .parse = parse_section_state,
		  .type_doc = "list of present, has_mem_map, online, early, zone_device; or "
			      "not_present" }, END }, false, NULL, ex_section },
	{ "memory_block", (const struct field[]){
		ADDR("memory_block"), BLOCK_STATE, BLOCK_ZONE, END }, false, finish_memory_block,
	  ex_memory_block },
	{ "id", (const struct field[]){
		F("id", FT_UINT, id, .flags = FL_REQ),
		BLOCK_STATE, BLOCK_ZONE, END }, false, finish_memory_block, ex_memory_block_id },
	{ "meminfo", (const struct field[]){
		F("meminfo", FT_STR, field, .flags = FL_REQ),
		OPT("is", FT_KB, is), OPT("min", FT_KB, min), OPT("max", FT_KB, max),
		F("since", FT_HANDLE_USE, since, .flags = FL_AUX, .handle = &use_snapshot), END },
	  true, finish_meminfo, ex_meminfo },
	{ "max_pfn", (const struct field[]){
		F("max_pfn", FT_SIZE, is, .flags = FL_REQ, .show = ARG_HEX), END },
	  false, NULL, ex_max_pfn },
	{ "handle", (const struct field[]){
		F("handle", FT_HANDLE_ANY, start.handle, .flags = FL_REQ),
		F("is", FT_SIZE, is, .flags = FL_REQ, .show = ARG_ADDR), END },
	  false, NULL, ex_handle },
	{ "namespace", (const struct field[]){
		F("namespace", FT_REGION, region, .flags = FL_REQ),
		F("mode", FT_ENUM, ns_mode, .has = HAS(has_mode), .enums = &ns_modes),
		F("map", FT_ENUM, ns_map, .has = HAS(has_map), .enums = &ns_maps),
		OPT("size", FT_SIZE, size),
		F("data_at", FT_SIZE, data_at, .has = HAS(has_data), .show = ARG_HEX),
		F("data", FT_DATA, data),
		OPT("refused", FT_BOOL, refused), END }, true, finish_namespace, ex_namespace },
	{ "gpu", (const struct field[]){
		F("gpu", FT_GPU, gpu, .flags = FL_REQ),
		OPT("chunks", FT_UINT, chunks), OPT("calloc", FT_UINT, calloc),
		OPT("cfree", FT_UINT, cfree), END }, true, NULL, ex_gpu },
	{ "gpu_page", (const struct field[]){
		F("gpu_page", FT_HANDLE_USE, handle, .flags = FL_REQ, .handle = &use_gpu_page),
		F("data", FT_DATA, data, .flags = FL_REQ), END },
	  false, NULL, ex_gpu_page },
	{ "p2pmem", (const struct field[]){
		F("p2pmem", FT_STR, p2pmem, .flags = FL_REQ),
		OPT("size", FT_SIZE, size), OPT("available", FT_SIZE, available),
		F("published", FT_BOOL, publish, .has = HAS(has_published)), END },
	  true, NULL, ex_p2pmem },
	{ "page_is_ram", (const struct field[]){ ADDR("page_is_ram"), IS, END }, false, NULL,
	  ex_page_is_ram },
	{ "valid_phys_addr_range", (const struct field[]){
		ADDR("valid_phys_addr_range"),
		F("size", FT_SIZE, size, .flags = FL_REQ),
		IS, END }, false, NULL, ex_valid_phys_addr_range },
	{ "zone_device", (const struct field[]){ ADDR("zone_device"), IS, END }, false, NULL,
	  ex_zone_device },
	{ "pgmap", (const struct field[]){
		ADDR("pgmap"),
		F("type", FT_ENUM, mtype, .enums = &memory_types, .flags = FL_REQ), END },
	  false, NULL, ex_pgmap },
	{ "cpu_addressable", (const struct field[]){
		ADDR("cpu_addressable"), IS,
		F("data", FT_DATA, data, .has = HAS(has_data)),
		END }, false, finish_cpu_addressable, ex_cpu_addressable },
	{ "dax", (const struct field[]){
		F("dax", FT_DAX, region, .flags = FL_REQ),
		F("mode", FT_ENUM, dax_mode, .has = HAS(has_mode), .enums = &dax_modes),
		OPT("online_memblocks", FT_UINT, online_blocks),
		OPT("total_memblocks", FT_UINT, total_blocks),
		OPT("movable", FT_BOOL, movable), END }, true, NULL, ex_dax },
	{ "zoneinfo", (const struct field[]){
		F("zoneinfo", FT_ENUM, zone_idx, .enums = &zones, .flags = FL_REQ),
		F("node", FT_UINT, zone_node, .dflt = "0", .max = ZD_MAX_NUMNODES - 1,
		  .flags = FL_NO_ECHO | FL_AUX),
		COUNT("start_pfn", 0, ARG_HEX), COUNT("spanned", 1, ARG_AUTO),
		COUNT("present", 2, ARG_AUTO), COUNT("managed", 3, ARG_AUTO), END },
	  true, NULL, ex_zoneinfo },
	{ "iomem", (const struct field[]){
		F("iomem", FT_STR, field, .flags = FL_REQ),
		F("is", FT_BOOL, want_bool, .dflt = "true", .flags = FL_ECHO_CHANGED), END },
	  false, NULL, ex_iomem },
	{ "vma", (const struct field[]){
		ADDR("vma"),
		F("process", FT_HANDLE_USE, process, .flags = FL_REQ, .handle = &use_mm),
		OPT("mapped", FT_BOOL, mapped),
		F("start", FT_SIZE, vma_start, .has = HAS(has_vma_start), .show = ARG_ADDR),
		F("end", FT_SIZE, vma_end, .has = HAS(has_vma_end), .show = ARG_ADDR),
		F("perms", FT_STR, perms, .has = HAS(has_perms)),
		END }, true, finish_vma, ex_vma },
	{ 0 },
};

/* ---------- which form ---------- */

/* Whether any of the form's optional checks is given; buf lists them,
 * "a, b or c". */
static bool some_check_given(struct scenario *s, const struct expect_def *e, yaml_node_t *map,
			     char *buf, size_t len)
{
	const struct field *f, *last = NULL;
	size_t used = 0;
	bool given = false;

	for (f = e->fields + 1; f->key; f++)
		if (!(f->flags & (FL_REQ | FL_AUX)))
			last = f;
	buf[0] = '\0';
	for (f = e->fields + 1; f->key; f++) {
		if (f->flags & (FL_REQ | FL_AUX))
			continue;
		used = list_add(buf, len, used, f == last ? " or " : ", ", f->key);
		given |= ymap_get(YF, map, f->key) != NULL;
	}
	return given;
}

int parse_expect(struct scenario *s, struct step *st, yaml_node_t *map)
{
	const struct expect_def *form = NULL;
	char ctx[64], list[512];
	const char *forms = names_list(expect_defs, sizeof(*expect_defs), ", ", list, sizeof(list));

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = ynode(YF, p->key);
		const char *name = ykey(k);
		bool known = false;

		if (!name)
			return yerr(YF, k, "keys in expect must be plain names, not %s", ykind(k));
		for (const struct expect_def *e = expect_defs; e->name && !known; e++)
			known = fields_have_key(e->fields, name);
		if (!known)
			return yerr(YF, k, "unknown key '%s' in expect", name);
	}
	for (const struct expect_def *e = expect_defs; e->name; e++) {
		if (!ymap_get(YF, map, e->name))
			continue;
		if (form)
			return yerr(YF, map, "expect: give one of %s; not both '%s' and '%s'",
				    forms, form->name, e->name);
		form = e;
	}
	if (!form)
		return yerr(YF, map, "expect: say what to check: one of %s", forms);
	st->form = form;
	snprintf(ctx, sizeof(ctx), "expect %s", form->name);
	if (schema_parse(s, st, st, form->fields, map, ctx))
		return -1;
	if (form->need_one && !some_check_given(s, form, map, list, sizeof(list)))
		return yerr(YF, map, "%s: say what to check: %s", ctx, list);
	return form->finish ? form->finish(s, st, map) : 0;
}
