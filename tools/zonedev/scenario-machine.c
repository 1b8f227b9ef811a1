/*
 * The scenario's 'machine:' section: arch and its address bits, memory
 * block size, nodes, CONFIG_DEBUG_VM, the boot layout (RAM and firmware
 * ranges, or a /proc/iomem file to import, or the arch's default), the
 * device-private design, arm64's va_bits, pmem regions and GPUs.
 * Invariants: every value is checked against the arch profile before a
 * machine exists; a node index is below machine.nodes; file paths (pmem
 * files, iomem) are resolved against the scenario's directory, pmem files
 * after ${VAR} expansion, and the strings the scenario owns are freed by
 * scenario_free().
 */
#include "scenario-internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------- shared by the machine's lists ---------- */

/* Which of the scenario's entry-position arrays a list's entries go in. */
static enum zd_desc_list list_of(const char *what)
{
	return !strcmp(what, "ram") ? ZD_DESC_RAM : !strcmp(what, "reserved") ? ZD_DESC_RESERVED :
	       !strcmp(what, "pmem") ? ZD_DESC_PMEM : ZD_DESC_GPU;
}

/* machine.WHAT is a list (of shape mappings): a zeroed array of as many
 * elements of elem_size as it has entries (at least one), or NULL (an error).
 * Also the array that keeps each entry's position, for boot errors. */
static void *list_alloc(struct scenario *s, yaml_node_t *list, const char *what,
			const char *shape, size_t elem_size)
{
	enum zd_desc_list l = list_of(what);
	size_t n;
	void *array;

	if (list->type != YAML_SEQUENCE_NODE) {
		yerr(YF, list, "machine.%s must be a list of %s mappings, not %s", what, shape,
		     ykind(list));
		return NULL;
	}
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	array = calloc(n ? n : 1, elem_size);
	if (!s->entry_pos[l]) {
		s->entry_pos[l] = calloc(n ? n : 1, sizeof(*s->entry_pos[l]));
		s->nr_entry_pos[l] = n;
	}
	if (!array || !s->entry_pos[l]) {
		free(array);
		yerr(YF, list, "out of memory");
		return NULL;
	}
	return array;
}

/* An entry of machine.WHAT (item it of list), or NULL (an error) if it is
 * not a mapping; its position is kept for boot errors. */
static yaml_node_t *list_entry(struct scenario *s, yaml_node_t *list, yaml_node_item_t *it,
			       const char *what, const char *shape)
{
	yaml_node_t *e = ynode(YF, *it);
	enum zd_desc_list l = list_of(what);
	size_t i = (size_t)(it - list->data.sequence.items.start);

	if (e->type == YAML_MAPPING_NODE) {
		s->entry_pos[l][i].line = yline(e);
		s->entry_pos[l][i].col = ycol(e);
		return e;
	}
	yerr(YF, e, "each machine.%s entry is a mapping %s, not %s", what, shape, ykind(e));
	return NULL;
}

/* The entry's node (already parsed into node) exists on the machine. */
static int check_node(struct scenario *s, yaml_node_t *e, uint64_t node)
{
	if (node < (uint64_t)s->nodes)
		return 0;
	return yerr(YF, ymap_get(YF, e, "node", NULL), "node %llu, but the machine has %d "
		    "node(s) (set machine.nodes)", (unsigned long long)node, s->nodes);
}

/* A range's last byte, start + size - 1, is an address: the end must not
 * pass 2^64 (it would wrap and print an end below the start). */
static int check_end(struct scenario *s, yaml_node_t *e, const char *ctx, const char *skey,
		     uint64_t start, const char *zkey, uint64_t size)
{
	if (!size || size - 1 <= UINT64_MAX - start)
		return 0;
	return yerr(YF, ymap_get(YF, e, zkey, NULL), "%s: %s 0x%llx + %s 0x%llx ends beyond the "
		    "64-bit address space", ctx, skey, (unsigned long long)start, zkey,
		    (unsigned long long)size);
}

/* The entry's keys are all allowed; then its start, size and node (left
 * as is when absent). */
static int entry_range(struct scenario *s, yaml_node_t *e, const char *const *keys,
		       const char *ctx, uint64_t *start, uint64_t *size, uint64_t *node)
{
	if (ymap_check(YF, e, keys, ctx) ||
	    get_size(s, e, "start", true, ctx, start) < 0 ||
	    get_size(s, e, "size", true, ctx, size) < 0 ||
	    check_end(s, e, ctx, "start", *start, "size", *size) ||
	    get_uint(s, e, "node", false, ctx, ZD_MAX_NUMNODES - 1, node) < 0)
		return -1;
	return 0;
}

/* path as is when absolute, else relative to the scenario's directory;
 * malloc'd, NULL when out of memory. */
static char *resolve_path(struct scenario *s, const char *path)
{
	size_t len = strlen(s->dir) + strlen(path) + 2;
	char *out = malloc(len);

	if (!out)
		return NULL;
	if (path[0] == '/')
		snprintf(out, len, "%s", path);
	else
		snprintf(out, len, "%s/%s", s->dir, path);
	return out;
}

/* ---------- ram, reserved ---------- */

static int parse_ranges(struct scenario *s, yaml_node_t *list, const char *what,
			struct zd_mem_range **out, size_t *nr)
{
	static const char *const keys[] = { "start", "size", "node", "name", NULL };
	yaml_node_item_t *it;
	char ctx[64];

	snprintf(ctx, sizeof(ctx), "machine.%s entry", what);
	*out = list_alloc(s, list, what, "{start, size}", sizeof(**out));
	if (!*out)
		return -1;
	*nr = 0;
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = list_entry(s, list, it, what, "{start, size, node, name}");
		struct zd_mem_range *r = &(*out)[*nr];
		uint64_t node = 0;

		if (!e || entry_range(s, e, keys, ctx, &r->start, &r->size, &node) ||
		    get_str(s, e, "name", false, ctx, &r->name) < 0 ||
		    check_node(s, e, node))
			return -1;
		r->node = (int)node;
		(*nr)++;
	}
	return 0;
}

/* ---------- pmem ---------- */

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

/* machine.pmem: [{start, size, file, node, read_only, align}] */
static int parse_pmem(struct scenario *s, yaml_node_t *list)
{
	static const char *const keys[] = { "start", "size", "file", "node", "read_only", "align",
					    NULL };
	const char *ctx = "machine.pmem entry";
	yaml_node_item_t *it;

	s->pmem = list_alloc(s, list, "pmem", "{start, size, file}", sizeof(*s->pmem));
	if (!s->pmem)
		return -1;
	s->pmem_files = list_alloc(s, list, "pmem", "{start, size, file}",
				   sizeof(*s->pmem_files));
	if (!s->pmem_files)
		return -1;
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = list_entry(s, list, it, "pmem", "{start, size, file, node, read_only}");
		struct zd_nd_region_desc *d = &s->pmem[s->nr_pmem];
		yaml_node_t *fv;
		const char *file;
		char *expanded, *path, why[200];
		size_t bad;
		uint64_t node = 0;

		if (!e || entry_range(s, e, keys, ctx, &d->start, &d->size, &node) ||
		    get_bool(s, e, "read_only", false, ctx, &d->read_only) < 0 ||
		    get_size(s, e, "align", false, ctx, &d->align) < 0 ||
		    get_str(s, e, "file", true, ctx, &file) < 0)
			return -1;
		/* Page granular like firmware's ranges; the arch's page size
		 * (if above 4K) and the namespace rules are the library's. */
		if (d->start & 4095)
			return yerr(YF, ymap_get(YF, e, "start", NULL), "a pmem region starts on a "
				    "page (4 KiB) boundary");
		if (!d->size || d->size & 4095)
			return yerr(YF, ymap_get(YF, e, "size", NULL), "a pmem region's size is a "
				    "non-zero multiple of 4 KiB");
		if (d->start + d->size < d->start)
			return yerr(YF, ymap_get(YF, e, "size", NULL), "the region wraps around the "
				    "64-bit address space");
		if (check_node(s, e, node))
			return -1;
		d->node = (int)node;
		fv = ymap_get(YF, e, "file", NULL);
		if (expand_env(file, &expanded, &bad, why, sizeof(why))) {
			int line, col;

			scalar_pos(s, fv, bad, &line, &col);
			return yerr_at(YF, line, col, "machine.pmem file '%s': %s", file, why);
		}
		path = resolve_path(s, expanded);
		free(expanded);
		if (!path)
			return yerr(YF, fv, "out of memory");
		d->path = path;
		s->pmem_files[s->nr_pmem++] = file;
	}
	return 0;
}

/* ---------- gpus ---------- */

/* machine.gpus: [{name, vram, node}] or [{name, coherent_start, coherent_size, node}] */
static int parse_gpus(struct scenario *s, yaml_node_t *list)
{
	static const char *const keys[] = {
		"name", "vram", "node", "coherent_start", "coherent_size", NULL,
	};
	const char *ctx = "machine.gpus entry";
	yaml_node_item_t *it;

	s->gpus = list_alloc(s, list, "gpus", "{name, vram}", sizeof(*s->gpus));
	if (!s->gpus)
		return -1;
	for (it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = list_entry(s, list, it, "gpus", "{name, vram, node} or {name, "
					    "coherent_start, coherent_size, node}"), *v;
		struct zd_dmirror_desc *d = &s->gpus[s->nr_gpus];
		uint64_t node = 0;
		bool coherent;

		if (!e || ymap_check(YF, e, keys, ctx) ||
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
		if (check_node(s, e, node))
			return -1;
		d->node = (int)node;
		coherent = ymap_get(YF, e, "coherent_start", NULL) ||
			   ymap_get(YF, e, "coherent_size", NULL);
		if (coherent && (v = ymap_get(YF, e, "vram", NULL)))
			return yerr(YF, v, "gpu '%s': 'vram' is device-private memory, "
				    "'coherent_start'/'coherent_size' a coherent device: not both",
				    d->name);
		if (coherent) {
			if (get_size(s, e, "coherent_start", true, ctx, &d->coherent_start) < 0 ||
			    get_size(s, e, "coherent_size", true, ctx, &d->coherent_size) < 0 ||
			    check_end(s, e, ctx, "coherent_start", d->coherent_start,
				      "coherent_size", d->coherent_size))
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

/* auto_online_blocks, crashkernel, swiotlb: what the kernel boots with */
static int parse_boot_options(struct scenario *s, yaml_node_t *m)
{
	static const char *const policies[] = { "offline", "online", "online_kernel",
						"online_movable" };
	const char *ctx = "machine", *text;
	int rc = get_str(s, m, "auto_online_blocks", false, ctx, &text);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		size_t i;

		for (i = 0; i < 4 && strcmp(text, policies[i]); i++)
			;
		if (i == 4)
			return yerr(YF, ymap_get(YF, m, "auto_online_blocks", NULL), "unknown "
				    "auto_online_blocks policy '%s' (offline, online, online_kernel "
				    "or online_movable)", text);
		s->auto_online = (enum zd_online_type)i;
	}
	if (get_size(s, m, "crashkernel", false, ctx, &s->crashkernel) < 0)
		return -1;
	rc = get_str(s, m, "swiotlb", false, ctx, &text);
	if (rc < 0)
		return -1;
	if (rc > 0 && !strcmp(text, "off"))
		s->swiotlb_off = true;
	else if (rc > 0 && strcmp(text, "auto") &&
		 get_size(s, m, "swiotlb", false, ctx, &s->swiotlb_size) < 0)
		return -1;
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

/* ---------- the section ---------- */

int parse_machine(struct scenario *s, yaml_node_t *m)
{
	static const char *const keys[] = {
		"arch", "phys_bits", "memory_block_size", "nodes", "debug_vm", "ram", "reserved",
		"iomem", "device_private", "va_bits", "pmem", "gpus", "auto_online_blocks",
		"crashkernel", "swiotlb", "host_memory_guard", NULL,
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
	if (!zd_arch_find(s->arch))
		return yerr(YF, ymap_get(YF, m, "arch", NULL), "unknown arch '%s' (known: %s)",
			    s->arch, fmt_arch_names());
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
	s->host_memory_guard = true;
	if (get_bool(s, m, "host_memory_guard", false, ctx, &s->host_memory_guard) < 0)
		return -1;
	if (parse_boot_options(s, m))
		return -1;
	if (parse_machine_devices(s, m))
		return -1;

	if ((v = ymap_get(YF, m, "iomem", NULL))) {
		const char *path = yscalar(YF, v, "'iomem'");

		if (!path)
			return -1;
		if (ymap_get(YF, m, "ram", NULL) || ymap_get(YF, m, "reserved", NULL))
			return yerr(YF, v, "machine: 'iomem' imports the whole layout; drop 'ram' "
				    "and 'reserved' or drop 'iomem'");
		s->iomem_given = path;
		s->iomem_path = resolve_path(s, path);
		if (!s->iomem_path)
			return yerr(YF, v, "out of memory");
		return 0;
	}
	if ((v = ymap_get(YF, m, "ram", NULL)) &&
	    parse_ranges(s, v, "ram", &s->ram, &s->nr_ram))
		return -1;
	if ((v = ymap_get(YF, m, "reserved", NULL)) &&
	    parse_ranges(s, v, "reserved", &s->reserved, &s->nr_reserved))
		return -1;
	if (!ymap_get(YF, m, "ram", NULL) && !ymap_get(YF, m, "reserved", NULL))
		s->default_layout = true;
	return 0;
}
