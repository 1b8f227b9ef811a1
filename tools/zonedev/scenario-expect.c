/*
 * The expect step: which of its forms a mapping is (exactly one selector
 * key: pfn_valid, section, memory_block or id, meminfo, max_pfn, handle, or
 * a ZONE_DEVICE form from scenario-devsteps.c), the keys that form takes,
 * and the operands of the RAM forms.
 * Invariants: a form's keys are checked before its values, so an unknown
 * key is reported as such; a memory block's zone is only expected of an
 * online block; a meminfo expectation is 'is' or a 'min'/'max' bound.
 */
#include "scenario-internal.h"

#include <string.h>
#include <strings.h>

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

#define EXPECT_FORMS "pfn_valid, section, memory_block (or id), meminfo, max_pfn, handle, " \
	"namespace, gpu, gpu_page, page_is_ram, valid_phys_addr_range, zone_device, pgmap, " \
	"cpu_addressable, dax, zoneinfo, iomem"

int parse_expect(struct scenario *s, struct step *st, yaml_node_t *a)
{
	static const char *const sel[] = {
		"pfn_valid", "section", "memory_block", "id", "meminfo", "max_pfn", "handle",
		"namespace", "gpu", "gpu_page", "page_is_ram", "valid_phys_addr_range",
		"zone_device", "pgmap", "cpu_addressable", "dax", "zoneinfo", "iomem",
	};
	static const char *const k_pfn_valid[] = { "pfn_valid", "is", NULL };
	static const char *const k_section[] = { "section", "state", NULL };
	static const char *const k_block_addr[] = { "memory_block", "state", "zone", NULL };
	static const char *const k_block_id[] = { "id", "state", "zone", NULL };
	static const char *const k_meminfo[] = { "meminfo", "since", "is", "min", "max", NULL };
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
	static const char *const k_dax[] = { "dax", "mode", "online_memblocks", "total_memblocks",
					     "movable", NULL };
	static const char *const k_zoneinfo[] = { "zoneinfo", "node", "start_pfn", "spanned",
						  "present", "managed", NULL };
	static const char *const k_iomem[] = { "iomem", "is", NULL };
	static const char *const *const sel_keys[] = {
		k_pfn_valid, k_section, k_block_addr, k_block_id, k_meminfo, k_max_pfn, k_handle,
		k_namespace, k_gpu, k_gpu_page, k_page_is_ram, k_valid_phys, k_zone_device,
		k_pgmap, k_cpu, k_dax, k_zoneinfo, k_iomem,
	};
	struct expect *ex = &st->ex;
	int which = -1, rc;
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
		rc = get_str(s, a, "zone", false, ctx, &text);
		if (rc < 0)
			return -1;      /* "zone: ~" is an error, not an absent zone */
		if (rc > 0) {
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
		ex->since = -1;
		if (ymap_get(YF, a, "since", NULL) &&
		    use_handle(s, st, a, "since", H_MEMINFO, "meminfo_snapshot", ctx, &ex->since))
			return -1;
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
	case 16: /* zoneinfo: ZONE, node: N, start_pfn/spanned/present/managed */
		ex->kind = EX_ZONEINFO;
		if (get_str(s, a, "zoneinfo", true, ctx, &text) < 0)
			return -1;
		for (ex->zone_idx = 0; ex->zone_idx < ZD_MAX_NR_ZONES &&
		     strcasecmp(zd_zone_names[ex->zone_idx], text); ex->zone_idx++)
			;
		if (ex->zone_idx == ZD_MAX_NR_ZONES)
			return yerr(YF, ymap_get(YF, a, "zoneinfo", NULL), "unknown zone '%s' (DMA, "
				    "DMA32, Normal, Movable or Device)", text);
		add_arg(st, "zoneinfo", ARG_STR, 0, zd_zone_names[ex->zone_idx]);
		{
			uint64_t node = 0;
			if (get_uint(s, a, "node", false, ctx, ZD_MAX_NUMNODES - 1, &node) < 0)
				return -1;
			ex->zone_node = (int)node;
		}
		for (int i = 0; i < 4; i++) {
			static const char *const k[] = { "start_pfn", "spanned", "present", "managed" };
			rc = get_uint(s, a, k[i], false, ctx, UINT64_MAX, &ex->zone_count[i]);
			if (rc < 0)
				return -1;
			if ((ex->has_zone_count[i] = rc > 0))
				add_arg(st, k[i], i ? ARG_UINT : ARG_HEX, ex->zone_count[i], NULL);
		}
		if (!ex->has_zone_count[0] && !ex->has_zone_count[1] && !ex->has_zone_count[2] &&
		    !ex->has_zone_count[3])
			return yerr(YF, a, "%s: say what to check: start_pfn, spanned, present or "
				    "managed", ctx);
		return 0;
	case 17: /* iomem: "LINE", is: bool (default true) */
		ex->kind = EX_IOMEM;
		if (get_str(s, a, "iomem", true, ctx, &ex->field) < 0)
			return -1;
		add_arg(st, "iomem", ARG_STR, 0, ex->field);
		ex->want_bool = true;
		if (get_bool(s, a, "is", false, ctx, &ex->want_bool) < 0)
			return -1;
		if (!ex->want_bool)
			add_arg(st, "is", ARG_BOOL, 0, NULL);
		return 0;
	default:
		return parse_dev_expect(s, st, a, sel[which], ctx);
	}
}
