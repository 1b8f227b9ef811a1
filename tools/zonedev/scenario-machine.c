/*
 * The scenario's 'machine:' section, as schema tables (schema.h): the
 * mapping's keys into struct scenario, and each list (ram, reserved, pmem,
 * gpus) as one table per entry into the library's descriptor. The engine
 * parses and types every value; the checks here are what a type cannot
 * say (a known arch, bits the profile can hold, a range that stays below
 * 2^64, a gpu that is either private or coherent).
 * Invariants: fields parse in table order, so nodes comes before every
 * list (FT_NODE checks against it) and arch before what depends on it;
 * file paths (pmem files, iomem) are resolved against the scenario's
 * directory, pmem files after ${VAR} expansion; the strings and arrays the
 * scenario owns are freed by scenario_free().
 */
#include "schema.h"
#include "scenario-internal.h"

#include <stdlib.h>
#include <string.h>

#define M(member) AT_OF(struct scenario, member)
#define MF(k, t, m, ...) F_OF(struct scenario, k, t, m, __VA_ARGS__)
#define E(n, v) { (n), (v), NULL }

/* ---------- checks shared by the lists ---------- */

/* A size field that follows its start field in the table: the range's last
 * byte must not pass 2^64 (it would print an end below the start). */
static int check_end(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v,
		     const char *ctx)
{
	uint64_t start = *(uint64_t *)((char *)obj + f[-1].off);
	uint64_t size = *(uint64_t *)((char *)obj + f->off);

	if (!size || size - 1 <= UINT64_MAX - start)
		return 0;
	return yerr(YF, v, "%s: %s 0x%llx + %s 0x%llx ends beyond the 64-bit address space",
		    ctx, f[-1].key, (unsigned long long)start, f->key, (unsigned long long)size);
}

char *resolve_path(struct scenario *s, const char *path)
{
	size_t len = strlen(s->dir) + strlen(path) + 2;
	char *out = malloc(len);

	if (out)
		snprintf(out, len, path[0] == '/' ? "%s%s" : "%s/%s", path[0] == '/' ? "" : s->dir,
			 path);
	return out;
}

/* ---------- ram, reserved: [{start, size, node, name}] ---------- */

#define RF(k, t, m, ...) F_OF(struct zd_mem_range, k, t, m, __VA_ARGS__)
static const struct field range_fields[] = {
	RF("start", FT_SIZE, start, .flags = FL_REQ, .type_doc = "address"),
	RF("size", FT_SIZE, size, .flags = FL_REQ, .check = check_end),
	RF("node", FT_NODE, node),
	RF("name", FT_STR, name),
	{ 0 },
};

/* ---------- pmem: [{start, size, file, node, read_only, align}] ---------- */

/* Page granular like firmware's ranges; the arch's page size (if above 4K)
 * and the namespace rules are the library's. */
static int check_pmem_start(struct scenario *s, void *obj, const struct field *f,
			    yaml_node_t *v, const char *ctx)
{
	if (((struct zd_nd_region_desc *)obj)->start & 4095)
		return yerr(YF, v, "a pmem region starts on a page (4 KiB) boundary");
	return 0;
}

static int check_pmem_size(struct scenario *s, void *obj, const struct field *f,
			   yaml_node_t *v, const char *ctx)
{
	uint64_t size = ((struct zd_nd_region_desc *)obj)->size;

	if (!size || size & 4095)
		return yerr(YF, v, "a pmem region's size is a non-zero multiple of 4 KiB");
	return check_end(s, obj, f, v, ctx);
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
			ytext_pos(YF, start, i, line, col);
			return;
		}
	}
}

/* file: ${VAR}s expanded, then resolved; the text as written is kept for
 * the echo. */
static int parse_pmem_file(struct scenario *s, void *obj, const struct field *f,
			   yaml_node_t *v)
{
	struct zd_nd_region_desc *d = obj;
	const char *file = yscalar(YF, v, "'file'");
	char *expanded, why[200];
	size_t bad;

	if (!file)
		return -1;
	if (expand_env(file, &expanded, &bad, why, sizeof(why))) {
		int line, col;

		scalar_pos(s, v, bad, &line, &col);
		return yerr_at(YF, line, col, "machine.pmem file '%s': %s", file, why);
	}
	d->path = resolve_path(s, expanded);
	free(expanded);
	if (!d->path)
		return yerr(YF, v, "out of memory");
	s->pmem_files[d - s->pmem] = file;
	return 0;
}

#define PF(k, t, m, ...) F_OF(struct zd_nd_region_desc, k, t, m, __VA_ARGS__)
static const struct field pmem_fields[] = {
	PF("start", FT_SIZE, start, .flags = FL_REQ, .check = check_pmem_start,
	   .type_doc = "address"),
	PF("size", FT_SIZE, size, .flags = FL_REQ, .check = check_pmem_size),
	{ .key = "file", .type = FT_CUSTOM, .flags = FL_REQ, .parse = parse_pmem_file,
	  .type_doc = "path (${VAR}s expanded)" },
	PF("node", FT_NODE, node),
	PF("read_only", FT_BOOL, read_only),
	PF("align", FT_SIZE, align),
	{ 0 },
};

/* ---------- gpus: [{name, vram, node}] or [{name, coherent_start, coherent_size, node}] ---- */

static int check_gpu_name(struct scenario *s, void *obj, const struct field *f,
			  yaml_node_t *v, const char *ctx)
{
	const char *name = ((struct zd_dmirror_desc *)obj)->name;

	if (!is_identifier(name) || strlen(name) >= 64)
		return yerr(YF, v, "gpu name '%s' must start with a letter, hold only letters, "
			    "digits, '_' and '-', and be shorter than 64", name);
	for (size_t i = 0; i < s->nr_gpus; i++)
		if (!strcmp(s->gpus[i].name, name))
			return yerr(YF, v, "a gpu named '%s' is already listed", name);
	return 0;
}

#define GF(k, t, m, ...) F_OF(struct zd_dmirror_desc, k, t, m, __VA_ARGS__)
static const struct field gpu_fields[] = {
	GF("name", FT_STR, name, .flags = FL_REQ, .check = check_gpu_name),
	GF("vram", FT_SIZE, vram_size),
	GF("node", FT_NODE, node),
	GF("coherent_start", FT_SIZE, coherent_start, .type_doc = "address"),
	GF("coherent_size", FT_SIZE, coherent_size, .check = check_end),
	{ 0 },
};

/* vram makes a device-private GPU, coherent_start/_size a coherent one. */
static int finish_gpu(struct scenario *s, void *obj, yaml_node_t *e, const char *ctx)
{
	struct zd_dmirror_desc *d = obj;
	yaml_node_t *vram = ymap_get(YF, e, "vram");
	yaml_node_t *cs = ymap_get(YF, e, "coherent_start");
	yaml_node_t *cz = ymap_get(YF, e, "coherent_size");

	if ((cs || cz) && vram)
		return yerr(YF, vram, "gpu '%s': 'vram' is device-private memory, "
			    "'coherent_start'/'coherent_size' a coherent device: not both", d->name);
	if (cs || cz) {
		if (!cs || !cz)
			return yerr(YF, e, "%s: missing key '%s'", ctx,
				    cs ? "coherent_size" : "coherent_start");
		if ((d->coherent_start | d->coherent_size) & (ZD_SUBSECTION_SIZE - 1) ||
		    !d->coherent_size)
			return yerr(YF, cz, "gpu '%s': a coherent range is a non-zero multiple of "
				    "2 MiB at a 2 MiB boundary", d->name);
		return 0;
	}
	if (!vram)
		return yerr(YF, e, "%s: missing key 'vram'", ctx);
	if (!d->vram_size || d->vram_size % ZD_DEVMEM_CHUNK_SIZE)
		return yerr(YF, vram, "gpu '%s': vram is a non-zero multiple of the 256 MiB chunk "
			    "the driver registers at a time", d->name);
	return 0;
}

/* ---------- the lists ---------- */

const struct machine_list machine_lists[] = {
	{ "ram", range_fields, ZD_DESC_RAM, "{start, size}", "{start, size, node, name}",
	  sizeof(struct zd_mem_range), M(ram), M(nr_ram), NULL },
	{ "reserved", range_fields, ZD_DESC_RESERVED, "{start, size}", "{start, size, node, name}",
	  sizeof(struct zd_mem_range), M(reserved), M(nr_reserved), NULL },
	{ "pmem", pmem_fields, ZD_DESC_PMEM, "{start, size, file}",
	  "{start, size, file, node, read_only}", sizeof(struct zd_nd_region_desc), M(pmem),
	  M(nr_pmem), NULL },
	{ "gpus", gpu_fields, ZD_DESC_GPU, "{name, vram}", "{name, vram, node} or {name, "
	  "coherent_start, coherent_size, node}", sizeof(struct zd_dmirror_desc), M(gpus),
	  M(nr_gpus), finish_gpu },
	{ 0 },
};

/* machine.KEY: a list of mappings, each parsed by the list's table into a
 * zeroed array of as many elements as it has entries (at least one). */
static int parse_list(struct scenario *s, yaml_node_t *list, const struct machine_list *l)
{
	size_t n, *nr = (size_t *)((char *)s + l->nr_off);
	char *array, ctx[64];

	if (list->type != YAML_SEQUENCE_NODE)
		return yerr(YF, list, "machine.%s must be a list of %s mappings, not %s", l->key,
			    l->shape, ykind(list));
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	array = calloc(n ? n : 1, l->elem_size);
	*(void **)((char *)s + l->array_off) = array;
	s->entry_pos[l->list] = calloc(n ? n : 1, sizeof(*s->entry_pos[l->list]));
	s->nr_entry_pos[l->list] = n;
	if (l->list == ZD_DESC_PMEM)
		s->pmem_files = calloc(n ? n : 1, sizeof(*s->pmem_files));
	if (!array || !s->entry_pos[l->list] || (l->list == ZD_DESC_PMEM && !s->pmem_files))
		return yerr(YF, list, "out of memory");
	snprintf(ctx, sizeof(ctx), "machine.%s entry", l->key);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *e = ynode(YF, list->data.sequence.items.start[i]);
		void *elem = array + i * l->elem_size;

		if (e->type != YAML_MAPPING_NODE)
			return yerr(YF, e, "each machine.%s entry is a mapping %s, not %s", l->key,
				    l->entry_shape, ykind(e));
		s->entry_pos[l->list][i].line = yline(e);
		s->entry_pos[l->list][i].col = ycol(e);
		if (schema_parse(s, elem, NULL, l->fields, e, ctx) ||
		    (l->finish && l->finish(s, elem, e, ctx)))
			return -1;
		(*nr)++;
	}
	return 0;
}

#define LIST_FN(name, i) \
	static int name(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v) \
	{ return parse_list(s, v, &machine_lists[i]); }
LIST_FN(parse_ram, 0)
LIST_FN(parse_reserved, 1)
LIST_FN(parse_pmem, 2)
LIST_FN(parse_gpus, 3)

/* ---------- the machine mapping ---------- */

static int check_arch(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v,
		      const char *ctx)
{
	if (!zd_arch_find(s->arch))
		return yerr(YF, v, "unknown arch '%s' (known: %s)", s->arch, fmt_arch_names());
	return 0;
}

static int check_phys_bits(struct scenario *s, void *obj, const struct field *f,
			   yaml_node_t *v, const char *ctx)
{
	const struct zd_arch *a = zd_arch_find(s->arch);

	if (s->phys_bits && (s->phys_bits <= a->section_size_bits ||
			     s->phys_bits > a->max_physmem_bits))
		return yerr(YF, v, "phys_bits %llu is outside what %s can hold (%u to %u)",
			    (unsigned long long)s->phys_bits, a->name, a->section_size_bits + 1,
			    a->max_physmem_bits);
	return 0;
}

static int check_nodes(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v,
		       const char *ctx)
{
	return s->nodes ? 0 : yerr(YF, v, "a machine has at least 1 node");
}

static int check_va_bits(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v,
			 const char *ctx)
{
	if (zd_arch_find(s->arch)->coverage != ZD_VMEMMAP_COVERS_LINEAR_MAP)
		return yerr(YF, v, "va_bits sizes the arm64 linear map; arch %s has no va_bits "
			    "(use an arm64 profile or drop it)", s->arch);
	if (s->va_bits < 36 || s->va_bits > 52)
		return yerr(YF, v, "va_bits %llu is outside 36 to 52",
			    (unsigned long long)s->va_bits);
	return 0;
}

/* swiotlb: off, auto, or a size */
static int parse_swiotlb(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v)
{
	const char *text = yscalar(YF, v, "'swiotlb'"), *why;

	if (!text)
		return -1;
	if (!strcmp(text, "off"))
		s->swiotlb_off = true;
	else if (strcmp(text, "auto") && parse_size(text, &s->swiotlb_size, &why))
		return yerr(YF, v, "bad size '%s' for 'swiotlb': %s", text, why);
	return 0;
}

/* iomem: a /proc/iomem file that is the whole boot layout */
static int parse_iomem(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v)
{
	s->iomem_given = yscalar(YF, v, "'iomem'");
	if (!s->iomem_given)
		return -1;
	s->iomem_line = yline(v);
	s->iomem_col = ycol(v);
	s->iomem_path = resolve_path(s, s->iomem_given);
	return s->iomem_path ? 0 : yerr(YF, v, "out of memory");
}

static const struct enum_def online_policies = {
	"auto_online_blocks policy", (const struct enum_name[]){
		E("offline", ZD_MMOP_OFFLINE), E("online", ZD_MMOP_ONLINE),
		E("online_kernel", ZD_MMOP_ONLINE_KERNEL), E("online_movable", ZD_MMOP_ONLINE_MOVABLE),
		E(NULL, 0),
	}, false, "offline, online, online_kernel or online_movable",
};

static const struct enum_def dp_designs = {
	"device_private design", (const struct enum_name[]){
		E("pfn", ZD_DEVICE_PRIVATE_PFN), E("dpa", ZD_DEVICE_PRIVATE_DPA), E(NULL, 0),
	}, false, "pfn: pages in the physical address space and the vmemmap; dpa: their own "
	"address space",
};

static const struct enum_def thp_policies = {
	"transparent_hugepage policy", (const struct enum_name[]){
		E("always", ZD_THP_ALWAYS), E("madvise", ZD_THP_MADVISE), E("never", ZD_THP_NEVER),
		E(NULL, 0),
	}, false, "always, madvise (only MADV_HUGEPAGE ranges) or never",
};

static const struct enum_def p2pdma_eras = {
	"p2pdma_era", (const struct enum_name[]){
		E("v6.x", ZD_P2PDMA_ERA_V6X), E("new", ZD_P2PDMA_ERA_NEW), E(NULL, 0),
	}, false, "v6.x (any of ACS RR/CR/EC on the path redirects) or new (the per-port "
	"decision with the egress vector)",
};

static const struct enum_def exclusive_eras = {
	"device_exclusive_era", (const struct enum_name[]){
		E("v6.15", ZD_EXCLUSIVE_ERA_V6_15), E("v6.12", ZD_EXCLUSIVE_ERA_V6_12), E(NULL, 0),
	}, false, "v6.15 (any page of a PTE-mapped THP can be made exclusive) or v6.12 (only "
	"its head: the tails are -EBUSY)",
};

static const struct enum_def cpu_vendors = {
	"cpu_vendor", (const struct enum_name[]){
		E("unknown", 0), E("intel", ZD_PCI_VENDOR_ID_INTEL), E("amd", ZD_PCI_VENDOR_ID_AMD),
		E(NULL, 0),
	}, false, "unknown, intel or amd (cpu_supports_p2pdma: amd with cpu_family >= 0x17 on "
	"x86)",
};

const struct field machine_fields[] = {
	MF("arch", FT_STR, arch, .dflt = "x86_64", .check = check_arch,
	   .type_doc = "arch profile name"),
	MF("phys_bits", FT_UINT, phys_bits, .max = 64, .check = check_phys_bits),
	MF("memory_block_size", FT_SIZE, block_size),
	MF("nodes", FT_UINT, nodes, .max = ZD_MAX_NUMNODES, .dflt = "1", .check = check_nodes),
	MF("debug_vm", FT_BOOL, debug_vm),
	MF("host_memory_guard", FT_BOOL, host_memory_guard, .dflt = "true"),
	MF("auto_online_blocks", FT_ENUM, auto_online, .enums = &online_policies),
	MF("crashkernel", FT_SIZE, crashkernel),
	{ .key = "swiotlb", .type = FT_CUSTOM, .parse = parse_swiotlb,
	  .type_doc = "off, auto or a size" },
	MF("device_private", FT_ENUM, device_private, .dflt = "pfn", .enums = &dp_designs),
	MF("transparent_hugepage", FT_ENUM, thp, .dflt = "madvise", .enums = &thp_policies),
	MF("device_exclusive_era", FT_ENUM, exclusive_era, .dflt = "v6.15",
	   .enums = &exclusive_eras),
	MF("va_bits", FT_UINT, va_bits, .max = 64, .check = check_va_bits),
	{ .key = "pmem", .type = FT_CUSTOM, .parse = parse_pmem, .type_doc = "list of regions" },
	{ .key = "gpus", .type = FT_CUSTOM, .parse = parse_gpus, .type_doc = "list of gpus" },
	MF("p2pdma_era", FT_ENUM, p2pdma_era, .dflt = "v6.x", .enums = &p2pdma_eras),
	MF("config_pci_p2pdma", FT_BOOL, config_pci_p2pdma, .dflt = "true"),
	MF("cpu_vendor", FT_ENUM, cpu_vendor, .dflt = "unknown", .enums = &cpu_vendors),
	MF("cpu_family", FT_UINT, cpu_family, .max = 0xff),
	{ .key = "pci", .type = FT_CUSTOM, .parse = parse_pci,
	  .type_doc = "list of host bridges (root ports, switches, endpoints)" },
	{ .key = "iomem", .type = FT_CUSTOM, .parse = parse_iomem,
	  .type_doc = "path of a /proc/iomem copy" },
	{ .key = "ram", .type = FT_CUSTOM, .parse = parse_ram, .type_doc = "list of ranges" },
	{ .key = "reserved", .type = FT_CUSTOM, .parse = parse_reserved,
	  .type_doc = "list of ranges" },
	{ 0 },
};

int parse_machine(struct scenario *s, yaml_node_t *m)
{
	yaml_node_t *v = ymap_get(YF, m, "iomem");

	s->machine_line = yline(m);
	if (m->type != YAML_MAPPING_NODE)
		return yerr(YF, m, "'machine' must be a mapping (arch, phys_bits, ram, ...), "
			    "not %s", ykind(m));
	if (schema_parse(s, s, NULL, machine_fields, m, "machine"))
		return -1;
	if (v && (ymap_get(YF, m, "ram") || ymap_get(YF, m, "reserved")))
		return yerr(YF, v, "machine: 'iomem' imports the whole layout; drop 'ram' and "
			    "'reserved' or drop 'iomem'");
	s->default_layout = !v && !s->ram && !s->reserved;
	return 0;
}
