/*
 * The step table: every step a scenario may name, its fields (schema.h),
 * the checks that span fields, and the function that runs it. Adding a
 * step is an entry here and an exec function (steps.c, devsteps*.c).
 * Invariants: a field's member has the type its field type writes; the
 * fields are in the order the echo line shows them; a step that may fail
 * (SD_MAY_FAIL) is one whose library call returns an errno.
 */
#include "schema.h"
#include "scenario-internal.h"

#include <string.h>

/* ---------- names ---------- */

#define E(n, v) { (n), (v), NULL }
#define EA(n, v, show) { (n), (v), (show) }

static const struct enum_def online_zones = {
	"zone", (const struct enum_name[]){
		E("auto", ZD_MMOP_ONLINE), E("online", ZD_MMOP_ONLINE),
		E("normal", ZD_MMOP_ONLINE_KERNEL), E("kernel", ZD_MMOP_ONLINE_KERNEL),
		E("movable", ZD_MMOP_ONLINE_MOVABLE), E(NULL, 0),
	}, false, "normal, kernel, movable or auto",
};

static const struct enum_def gfp_names = {
	"gfp", (const struct enum_name[]){
		E("kernel", (int)ZD_GFP_KERNEL), E("movable", (int)ZD_GFP_HIGHUSER_MOVABLE),
		E("dma32", (int)ZD___GFP_DMA32), E("dma", (int)ZD___GFP_DMA), E(NULL, 0),
	}, false, NULL,
};

static const struct enum_def report_names = {
	"report", (const struct enum_name[]){
		E("iomem", RP_IOMEM), E("meminfo", RP_MEMINFO), E("zoneinfo", RP_ZONEINFO),
		E("buddyinfo", RP_BUDDYINFO), E("memory_blocks", RP_MEMORY_BLOCKS),
		E("sections", RP_SECTIONS), E("dmesg", RP_DMESG), E("vmemmap", RP_VMEMMAP),
		E("namespaces", RP_NAMESPACES), E("devices", RP_DEVICES), E("maps", RP_MAPS),
		E("smaps_rollup", RP_SMAPS_ROLLUP), E("page_tables", RP_PAGE_TABLES),
		E("vmstat", RP_VMSTAT), E("pagemap", RP_PAGEMAP), E("pci", RP_PCI),
		E("pci_devices", RP_PCI_DEVICES), E("p2pdma", RP_P2PDMA),
		E("gpu_memory", RP_GPU_MEMORY), E("mirrors", RP_MIRRORS), E(NULL, 0),
	}, false, NULL,
};

const struct enum_def ns_modes = {
	"namespace mode", (const struct enum_name[]){
		E("fsdax", ZD_NS_MODE_FSDAX), E("devdax", ZD_NS_MODE_DEVDAX),
		E("raw", ZD_NS_MODE_RAW), E(NULL, 0),
	}, false, NULL,
};

const struct enum_def ns_maps = {
	"map", (const struct enum_name[]){
		E("dev", ZD_ND_MAP_DEV), E("mem", ZD_ND_MAP_MEM), E(NULL, 0),
	}, false, "dev: struct pages on the device, mem: in RAM",
};

const struct enum_def dax_modes = {
	"dax mode", (const struct enum_name[]){
		E("system-ram", ZD_DAX_MODE_SYSTEM_RAM), E("devdax", ZD_DAX_MODE_DEVDAX),
		E(NULL, 0),
	}, false, NULL,
};

/* memremap takes any but none (finish_memremap), expect pgmap all. */
const struct enum_def memory_types = {
	"memory type", (const struct enum_name[]){
		E("fsdax", ZD_MEMORY_DEVICE_FS_DAX), E("devdax", ZD_MEMORY_DEVICE_GENERIC),
		EA("generic", ZD_MEMORY_DEVICE_GENERIC, "devdax"),
		E("p2pdma", ZD_MEMORY_DEVICE_PCI_P2PDMA), E("coherent", ZD_MEMORY_DEVICE_COHERENT),
		E("private", ZD_MEMORY_DEVICE_PRIVATE), E("none", PGMAP_NONE), E(NULL, 0),
	}, false, "fsdax, devdax, p2pdma, coherent, private; or none for expect pgmap",
};

static const struct enum_def prot_names = {
	"prot", (const struct enum_name[]){
		E("read", ZD_PROT_READ), E("write", ZD_PROT_WRITE), E("exec", ZD_PROT_EXEC),
		E("none", ZD_PROT_NONE), E(NULL, 0),
	}, false, NULL,
};

static const struct enum_def map_flags = {
	"mmap flag", (const struct enum_name[]){
		E("private", ZD_MAP_PRIVATE), E("shared", ZD_MAP_SHARED),
		E("shared_validate", ZD_MAP_SHARED_VALIDATE), E("anonymous", ZD_MAP_ANONYMOUS),
		E("fixed", ZD_MAP_FIXED), E("fixed_noreplace", ZD_MAP_FIXED_NOREPLACE),
		E("noreserve", ZD_MAP_NORESERVE), E("populate", ZD_MAP_POPULATE), E(NULL, 0),
	}, false, NULL,
};

/* hmm_range_fault's request for every page (default_flags). */
static const struct enum_def hmm_req_flags = {
	"hmm_range_fault request", (const struct enum_name[]){
		E("fault", HMM_STEP_FAULT), E("write", HMM_STEP_FAULT | HMM_STEP_WRITE),
		E(NULL, 0),
	}, false, NULL,
};

static const struct enum_def mremap_flags = {
	"mremap flag", (const struct enum_name[]){
		E("maymove", ZD_MREMAP_MAYMOVE), E("fixed", ZD_MREMAP_FIXED),
		E("dontunmap", ZD_MREMAP_DONTUNMAP), E(NULL, 0),
	}, false, NULL,
};

/* GUP's flags a pin step may ask for; fast picks pin_user_pages_fast. */
static const struct enum_def pin_flags = {
	"pin flag", (const struct enum_name[]){
		E("write", ZD_FOLL_WRITE), E("longterm", ZD_FOLL_LONGTERM),
		E("p2pdma", ZD_FOLL_PCI_P2PDMA), E("fast", PIN_FAST), E(NULL, 0),
	}, false, NULL,
};

/* get_user_pages' flags a gup step may ask for (LONGTERM without PIN is
 * the kernel's -EINVAL); fast picks get_user_pages_fast. */
static const struct enum_def gup_flags = {
	"gup flag", (const struct enum_name[]){
		E("write", ZD_FOLL_WRITE), E("force", ZD_FOLL_FORCE),
		E("longterm", ZD_FOLL_LONGTERM), E("fast", PIN_FAST), E(NULL, 0),
	}, false, NULL,
};

/* move_pages(2)'s flags. */
static const struct enum_def migrate_flags = {
	"migrate flag", (const struct enum_name[]){
		E("move", ZD_MPOL_MF_MOVE), E("move_all", ZD_MPOL_MF_MOVE_ALL), E(NULL, 0),
	}, false, "move: pages only this process maps; move_all: shared ones too",
};

static const struct enum_def advice_names = {
	"advice", (const struct enum_name[]){
		E("normal", ZD_MADV_NORMAL), E("random", ZD_MADV_RANDOM),
		E("sequential", ZD_MADV_SEQUENTIAL), E("willneed", ZD_MADV_WILLNEED),
		E("dontneed", ZD_MADV_DONTNEED), E("free", ZD_MADV_FREE),
		E("dontfork", ZD_MADV_DONTFORK), E("dofork", ZD_MADV_DOFORK),
		E("hugepage", ZD_MADV_HUGEPAGE), E("nohugepage", ZD_MADV_NOHUGEPAGE),
		E("dontdump", ZD_MADV_DONTDUMP), E("dodump", ZD_MADV_DODUMP),
		E("wipeonfork", ZD_MADV_WIPEONFORK), E("keeponfork", ZD_MADV_KEEPONFORK),
		E("populate_read", ZD_MADV_POPULATE_READ),
		E("populate_write", ZD_MADV_POPULATE_WRITE), E("collapse", ZD_MADV_COLLAPSE),
		E(NULL, 0),
	}, false, NULL,
};

/* ---------- handles ---------- */

static const struct handle_spec def_region = { H_REGION, NULL, NULL };
static const struct handle_spec def_pages = { H_PAGES, NULL, NULL };
static const struct handle_spec use_pages = { H_PAGES, "alloc_pages", NULL };
static const struct handle_spec def_snapshot = {
	H_MEMINFO, NULL, "name the snapshot that 'expect: {meminfo: FIELD, since: NAME}' "
	"compares with",
};
static const struct handle_spec def_gpu_page = {
	H_GPU_PAGE, NULL, "the page must be freed with gpu_free",
};
const struct handle_spec use_gpu_page = { H_GPU_PAGE, "gpu_alloc", NULL };
static const struct handle_spec def_pin = { H_PIN, NULL, "unpin takes the handle" };
static const struct handle_spec use_pin = { H_PIN, "pin", NULL };
static const struct handle_spec def_gup = { H_GUP, NULL, "put takes the handle" };
static const struct handle_spec use_gup = { H_GUP, "gup", NULL };
static const struct handle_spec def_task = { H_TASK, NULL, "wait takes the handle" };
static const struct handle_spec use_task = { H_TASK, "truncate or p2pdma_release", NULL };
static const struct handle_spec def_pgmap = { H_PGMAP, NULL, "memunmap takes the handle" };
static const struct handle_spec use_pgmap = { H_PGMAP, "memremap", NULL };
static const struct handle_spec def_mm = { H_MM, NULL, "later steps name the process by it" };
const struct handle_spec use_mm = { H_MM, "process (or fork)", NULL };

/* ---------- fields ---------- */

#define START F("start", FT_ADDR, start, .flags = FL_REQ)
#define SIZE F("size", FT_SIZE, size, .flags = FL_REQ)
#define NODE(fl) F("node", FT_UINT, node, .has = HAS(has_node), .max = ZD_MAX_NUMNODES - 1, \
		   .flags = (fl), .dflt = (fl) ? "0" : NULL)
#define NAME F("name", FT_STR, res_name, .dflt = "zonedev", .flags = FL_ECHO_ALWAYS)
#define TARGET F("region", FT_REGION, region, .alt = "namespace", .flags = FL_REQ)
#define DATA F("data", FT_DATA, data, .flags = FL_REQ)
#define HANDLE_USE(spec) F("handle", FT_HANDLE_USE, handle, .flags = FL_REQ, .handle = &(spec))
#define AS(spec, fl) F("as", FT_HANDLE_DEF, handle, .flags = (fl), .handle = &(spec))
#define PROCESS F("process", FT_HANDLE_USE, process, .flags = FL_REQ, .handle = &use_mm)
#define ADDR_REQ F("addr", FT_ADDR, start, .flags = FL_REQ)
#define NVME_BUS F("bus_segments", FT_UINT, bus_segments, .has = HAS(has_bus))
#define PROT(fl, d) F("prot", FT_FLAGS, prot, .enums = &prot_names, .flags = (fl), .dflt = (d))
#define PATTERN F("pattern", FT_UINT, pattern, .has = HAS(has_pattern), .max = 255, \
		     .show = ARG_HEX)
#define SEED F("seed", FT_UINT, seed, .has = HAS(has_seed))
#define END { 0 }

static const struct field f_range[] = { START, SIZE, END };

/* ---------- checks across fields ---------- */

static int finish_create_namespace(struct scenario *s, struct step *st, yaml_node_t *map)
{
	if (st->has_map && st->ns_mode == ZD_NS_MODE_RAW)
		return yerr(YF, field_node(s, map, "map"), "a raw namespace has no memmap to "
			    "place: drop 'map'");
	return 0;
}

static int finish_reconfigure(struct scenario *s, struct step *st, yaml_node_t *map)
{
	/* online and movable say how kmem's blocks come up: system-ram only */
	if (st->dax_mode != ZD_DAX_MODE_SYSTEM_RAM) {
		drop_arg(st, "online");
		drop_arg(st, "movable");
	}
	return 0;
}

static int finish_memremap(struct scenario *s, struct step *st, yaml_node_t *map)
{
	const struct zd_arch *arch = zd_arch_find(s->arch);
	yaml_node_t *v = ymap_get(YF, map, "start");

	if (st->mtype == PGMAP_NONE)
		return yerr(YF, field_node(s, map, "type"), "memremap needs a memory type (fsdax, "
			    "devdax, p2pdma, coherent or private); 'none' only says what expect "
			    "pgmap finds where there is no pgmap");
	st->dpa = st->mtype == ZD_MEMORY_DEVICE_PRIVATE &&
		  s->device_private == ZD_DEVICE_PRIVATE_DPA;
	if (st->dpa && v)
		return yerr(YF, v, "under device_private: dpa, private memory has no physical "
			    "range: drop 'start' (memremap_device_private_pagemap() picks an "
			    "offset in the device-private address space)");
	if (!st->dpa && !v)
		return yerr(YF, map, "step 'memremap': missing key 'start'");
	if (!st->align)
		return 0;
	v = field_node(s, map, "align");
	if (st->align & (st->align - 1) || st->align < arch->page_size)
		return yerr(YF, v, "align must be a power of two of at least the page size (%llu)",
			    (unsigned long long)arch->page_size);
	st->vmemmap_shift = (unsigned long)(__builtin_ctzll(st->align) - arch->page_shift);
	if (st->vmemmap_shift > ZD_MAX_FOLIO_ORDER)
		return yerr(YF, v, "align %s gives folios of order %lu; the largest is %u",
			    v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : "?",
			    st->vmemmap_shift, ZD_MAX_FOLIO_ORDER);
	return 0;
}

/* report: pagemap reads one process's range, the others the machine. */
static int finish_report(struct scenario *s, struct step *st, yaml_node_t *map)
{
	bool mapping = map->type == YAML_MAPPING_NODE;
	const char *given = !mapping ? NULL : ymap_get(YF, map, "process") ? "process" :
			    ymap_get(YF, map, "addr") ? "addr" : ymap_get(YF, map, "size") ? "size" :
			    NULL;

	if (st->report == RP_PAGEMAP && (!mapping || st->process < 0 ||
					 !ymap_get(YF, map, "addr") || !st->has_size))
		return yerr(YF, map, "report pagemap reads a range of one process: '- report: "
			    "{what: pagemap, process: P, addr: A, size: N}'");
	if (st->report != RP_PAGEMAP && given)
		return yerr(YF, field_node(s, map, given), "report %s takes no '%s' (only pagemap "
			    "reads one process's range)", (const char *)ymap_get(YF, map, "what")->
			    data.scalar.value, given);
	return 0;
}

/* fill: one source of bytes over size. */
static int finish_fill(struct scenario *s, struct step *st, yaml_node_t *map)
{
	if (st->has_pattern == st->has_seed)
		return yerr(YF, map, "step '%s' takes one of 'pattern' (a byte) and 'seed' (a "
			    "pseudo-random stream)%s", st->name, st->has_pattern ? ", not both" : "");
	return 0;
}

/* check: a pattern or seed over size, or the bytes of data. */
static int finish_check(struct scenario *s, struct step *st, yaml_node_t *map)
{
	int n = st->has_pattern + st->has_seed + st->has_data;

	if (n != 1)
		return yerr(YF, map, "step 'check' compares with one of 'pattern', 'seed' and "
			    "'data'%s", n ? ", not several" : "");
	if (st->has_data && st->has_size)
		return yerr(YF, field_node(s, map, "size"), "with 'data' the range is the data's "
			    "length: drop 'size'");
	if (!st->has_data && !st->has_size)
		return yerr(YF, map, "step 'check': 'pattern' and 'seed' need 'size'");
	return 0;
}

/* A DAX file is named by file: and namespace: together; dax: is the
 * device-dax character device instead. */
static int finish_mmap(struct scenario *s, struct step *st, yaml_node_t *map)
{
	yaml_node_t *dax = ymap_get(YF, map, "dax"), *ns = ymap_get(YF, map, "namespace");

	if (st->file_name && dax)
		return yerr(YF, dax, "mmap of a file on an fsdax namespace (file:) or of a "
			    "device-dax device (dax:), not both");
	if (st->file_name && !ns)
		return yerr(YF, field_node(s, map, "file"), "file: needs the fsdax namespace it is "
			    "on (namespace: namespaceN.0)");
	if (ns && !st->file_name)
		return yerr(YF, ns, "namespace: names where file: is; add the file's name");
	if (st->p2pmem && (st->file_name || dax))
		return yerr(YF, field_node(s, map, "p2pmem"), "mmap of one thing: p2pmem:, file: or "
			    "dax:");
	return 0;
}

/* ---------- the table ---------- */

#define MAY SD_MAY_FAIL

const struct step_def step_defs[] = {
	{ "add_memory", (const struct field[]){ START, SIZE, NODE(FL_ECHO_ALWAYS), END }, MAY,
	  NULL, exec_add_memory, "zd_add_memory(): hot-add System RAM as offline memory blocks" },
	{ "remove_memory", f_range, MAY, NULL, exec_remove_memory,
	  "zd_remove_memory(): remove hot-added memory (its blocks offline)" },
	{ "online_memory", (const struct field[]){
		START, SIZE,
		F("zone", FT_ENUM, online, .enums = &online_zones, .dflt = "auto",
		  .flags = FL_ECHO_ALWAYS), END }, MAY,
	  NULL, exec_online_memory, "zd_online_memory_range(): online the blocks of a range" },
	{ "offline_memory", f_range, MAY, NULL, exec_offline_memory,
	  "zd_offline_memory_range(): offline the blocks of a range" },
	{ "request_mem_region", (const struct field[]){ START, SIZE, NAME, END }, MAY,
	  NULL, exec_request_mem_region, "zd_request_mem_region(): claim a range of iomem" },
	{ "release_mem_region", f_range, MAY, NULL, exec_release_mem_region,
	  "zd_release_mem_region(): give a claimed range back" },
	{ "request_free_mem_region", (const struct field[]){
		SIZE, NAME, AS(def_region, 0), END }, MAY,
	  NULL, exec_request_free_mem_region,
	  "zd_request_free_mem_region(): find and claim free physical address space" },
	{ "alloc_pages", (const struct field[]){
		F("order", FT_UINT, order, .max = ZD_MAX_ORDER_LIMIT, .dflt = "0",
		  .flags = FL_ECHO_ALWAYS),
		NODE(0),
		F("gfp", FT_ENUM, gfp, .enums = &gfp_names, .dflt = "kernel",
		  .flags = FL_ECHO_ALWAYS),
		AS(def_pages, 0), END }, MAY,
	  NULL, exec_alloc_pages, "zd_alloc_pages(): pages from the buddy allocator" },
	{ "free_pages", (const struct field[]){ HANDLE_USE(use_pages), END }, 0,
	  NULL, exec_free_pages, "zd___free_pages(): give a handle's pages back" },
	{ "expect", NULL, SD_EXPECT, NULL, exec_expect, "check one observable" },
	{ "report", (const struct field[]){
		F("what", FT_ENUM, report, .enums = &report_names, .flags = FL_REQ),
		F("process", FT_HANDLE_USE, process, .handle = &use_mm),
		F("addr", FT_ADDR, start), F("size", FT_SIZE, size, .has = HAS(has_size)), END },
	  SD_SCALAR | SD_BARE,
	  finish_report, exec_report, "print a report (/proc files, sysfs, dmesg); pagemap "
	  "as a mapping {what, process, addr, size}" },
	{ "note", (const struct field[]){
		F("text", FT_STR, text, .flags = FL_REQ | FL_NO_ECHO),
		END }, SD_SCALAR | SD_COMMENT,
	  NULL, exec_note, "print the text as '# ...' lines" },
	{ "meminfo_snapshot", (const struct field[]){ AS(def_snapshot, FL_REQ), END }, 0,
	  NULL, exec_meminfo_snapshot, "remember /proc/meminfo now, for expect meminfo since" },

	/* ZONE_DEVICE: pmem namespaces (devsteps-pmem.c) */
	{ "create_namespace", (const struct field[]){
		TARGET,
		F("mode", FT_ENUM, ns_mode, .enums = &ns_modes, .flags = FL_REQ),
		F("map", FT_ENUM, ns_map, .has = HAS(has_map), .enums = &ns_maps),
		F("align", FT_SIZE, align, .flags = FL_ECHO_CHANGED),
		F("uuid", FT_UUID, uuid, .has = HAS(has_uuid)),
		F("force", FT_BOOL, force), END }, MAY,
	  finish_create_namespace, exec_create_namespace,
	  "zd_nd_create_namespace() (ndctl create-namespace)" },
	{ "destroy_namespace", (const struct field[]){ TARGET, END }, MAY,
	  NULL, exec_destroy_namespace, "zd_nd_destroy_namespace(): raw again" },
	{ "rebind_namespace", (const struct field[]){ TARGET, END }, MAY,
	  NULL, exec_rebind_namespace,
	  "zd_nd_rebind_namespace() (ndctl disable + enable): probe the media again" },
	{ "list_namespaces", NULL, 0, NULL, exec_list_namespaces, "ndctl list -N as JSON" },
	{ "write_namespace", (const struct field[]){
		TARGET,
		F("offset", FT_SIZE, offset, .flags = FL_REQ, .show = ARG_HEX),
		DATA, END }, MAY,
	  NULL, exec_write_namespace, "write bytes into a namespace's data area" },
	{ "corrupt_infoblock", (const struct field[]){
		TARGET,
		F("offset", FT_UINT, offset, .flags = FL_REQ, .max = ZD_ND_INFOBLOCK_SIZE - 1),
		F("byte", FT_UINT, byte, .flags = FL_REQ, .max = 255, .show = ARG_HEX), END }, MAY,
	  NULL, exec_corrupt_infoblock, "test hook: overwrite one byte of the info block" },
	{ "reconfigure_device", (const struct field[]){
		F("device", FT_DAX, region, .flags = FL_REQ),
		F("mode", FT_ENUM, dax_mode, .enums = &dax_modes, .flags = FL_REQ),
		F("online", FT_BOOL, dax_online, .dflt = "true", .flags = FL_ECHO_ALWAYS),
		F("movable", FT_BOOL, dax_movable, .dflt = "true", .flags = FL_ECHO_ALWAYS),
		F("force", FT_BOOL, force, .dflt = "false", .flags = FL_ECHO_CHANGED), END }, MAY,
	  finish_reconfigure, exec_reconfigure_device,
	  "zd_dax_reconfigure_device() (daxctl reconfigure-device)" },

	/* ZONE_DEVICE: dmirror GPUs (devsteps-gpu.c) */
	{ "gpu_add_chunk", (const struct field[]){
		F("gpu", FT_GPU, gpu, .flags = FL_REQ),
		F("count", FT_UINT, count, .max = 1u << 20, .dflt = "1",
		  .flags = FL_ECHO_ALWAYS | FL_NONZERO), END }, MAY,
	  NULL, exec_gpu_add_chunk, "zd_dmirror_add_chunk() count times" },
	{ "gpu_alloc", (const struct field[]){
		F("gpu", FT_GPU, gpu, .flags = FL_REQ),
		AS(def_gpu_page, FL_REQ), END }, MAY,
	  NULL, exec_gpu_alloc, "zd_dmirror_alloc_page(): one free device page" },
	{ "gpu_write", (const struct field[]){ HANDLE_USE(use_gpu_page), DATA, END }, MAY,
	  NULL, exec_gpu_write, "zd_dmirror_copy_to_device(): the copy engine writes a page" },
	{ "gpu_free", (const struct field[]){ HANDLE_USE(use_gpu_page), END }, 0,
	  NULL, exec_gpu_free, "zd_put_page(): the last reference to a GPU page" },

	/* ZONE_DEVICE: direct pgmaps (devsteps.c) */
	{ "memremap", (const struct field[]){
		F("type", FT_ENUM, mtype, .enums = &memory_types, .flags = FL_REQ),
		F("start", FT_ADDR, start),
		F("size", FT_SIZE, size, .flags = FL_REQ | FL_NONZERO),
		F("align", FT_SIZE, align, .flags = FL_ECHO_CHANGED),
		NODE(0), AS(def_pgmap, FL_REQ), END }, MAY,
	  finish_memremap, exec_memremap, "zd_memremap_pages() of a pgmap the CLI owns" },
	{ "memunmap", (const struct field[]){ HANDLE_USE(use_pgmap), END }, 0,
	  NULL, exec_memunmap, "zd_memunmap_pages() of a memremap handle" },
	{ "memory_failure", (const struct field[]){
		F("addr", FT_ADDR, start, .flags = FL_REQ), END }, MAY,
	  NULL, exec_memory_failure, "zd_memory_failure() of the page frame holding addr" },

	/* processes (mmsteps.c) */
	{ "process", (const struct field[]){ AS(def_mm, FL_REQ), END }, 0,
	  NULL, exec_process, "zd_mm_alloc(): a new process with an empty address space" },
	{ "fork", (const struct field[]){ PROCESS, AS(def_mm, FL_REQ), END }, MAY,
	  NULL, exec_fork, "zd_dup_mm(): a child with a copy of the VMAs" },
	{ "exit", (const struct field[]){ PROCESS, END }, 0,
	  NULL, exec_exit, "zd_mmput(): the process ends, its mappings go" },
	{ "mmap", (const struct field[]){
		PROCESS,
		F("addr", FT_ADDR, start),
		SIZE, PROT(FL_ECHO_ALWAYS, "read|write"),
		F("flags", FT_FLAGS, mflags, .enums = &map_flags, .dflt = "private|anonymous",
		  .flags = FL_ECHO_ALWAYS),
		F("dax", FT_DAX, region),
		F("offset", FT_SIZE, offset),
		AS(def_region, 0),
		F("file", FT_STR, file_name),
		F("namespace", FT_REGION, region),
		F("p2pmem", FT_STR, p2pmem), END }, MAY,
	  finish_mmap, exec_mmap,
	  "zd_vm_mmap(): mmap(2) of anonymous memory, of /dev/daxN.0 (dax:), of a DAX file "
	  "(file: on namespace:) or of a PCI function's p2pmem/allocate (p2pmem: \"0000:01:00.0\", "
	  "shared)" },
	{ "p2pdma_add_resource", (const struct field[]){
		F("device", FT_STR, file_name, .flags = FL_REQ),
		F("bar", FT_UINT, bar, .max = 5, .flags = FL_ECHO_ALWAYS),
		F("size", FT_SIZE, size),
		F("offset", FT_SIZE, offset),
		F("publish", FT_BOOL, publish), END }, MAY,
	  NULL, exec_p2pdma_add_resource,
	  "zd_pci_p2pdma_add_resource(): size bytes of the BAR from offset (size 0: the rest) "
	  "become p2pmem; publish: pci_p2pmem_publish() too" },
	{ "p2pdma_release", (const struct field[]){
		F("device", FT_STR, file_name, .flags = FL_REQ), AS(def_task, 0), END }, MAY,
	  NULL, exec_p2pdma_release,
	  "zd_pci_p2pdma_release(): unbind: user mappings of p2pmem/allocate zapped, the "
	  "pgmaps torn down once every allocation and pin is gone; with as: on a thread of "
	  "its own, joined by wait" },
	{ "nvme_probe", (const struct field[]){
		F("device", FT_STR, file_name, .flags = FL_REQ),
		F("size", FT_SIZE, size, .flags = FL_REQ | FL_NONZERO),
		F("lba", FT_SIZE, lba, .dflt = "512", .flags = FL_ECHO_CHANGED),
		F("cmb", FT_SIZE, cmb),
		F("bar", FT_UINT, bar, .max = 4, .flags = FL_ECHO_CHANGED), END }, MAY,
	  NULL, exec_nvme_probe,
	  "zd_nvme_probe(): an NVMe-like drive on the function, a namespace of size bytes; "
	  "cmb: a controller memory buffer (at the end of BAR 0, or at the start of bar: 2 or 4), "
	  "published p2pmem" },
	{ "nvme_read", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, F("device", FT_STR, file_name, .flags = FL_REQ),
		F("offset", FT_SIZE, offset), NVME_BUS, END }, MAY,
	  NULL, exec_nvme_read,
	  "zd_nvme_direct_rw(): an O_DIRECT pread of the drive's namespace into the process's "
	  "buffer (FOLL_PCI_P2PDMA: p2pmem buffers are DMA targets)" },
	{ "nvme_write", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, F("device", FT_STR, file_name, .flags = FL_REQ),
		F("offset", FT_SIZE, offset), NVME_BUS, END }, MAY,
	  NULL, exec_nvme_write, "zd_nvme_direct_rw(): an O_DIRECT pwrite from the buffer" },
	{ "munmap", (const struct field[]){ PROCESS, ADDR_REQ, SIZE, END }, MAY,
	  NULL, exec_munmap, "zd_vm_munmap(): munmap(2)" },
	{ "mprotect", (const struct field[]){ PROCESS, ADDR_REQ, SIZE, PROT(FL_REQ, NULL), END },
	  MAY, NULL, exec_mprotect, "zd_do_mprotect(): mprotect(2)" },
	{ "mremap", (const struct field[]){
		PROCESS, ADDR_REQ,
		F("old_size", FT_SIZE, size, .flags = FL_REQ),
		F("new_size", FT_SIZE, new_size, .flags = FL_REQ),
		F("flags", FT_FLAGS, mflags, .enums = &mremap_flags),
		F("new_addr", FT_ADDR, new_addr),
		AS(def_region, 0), END }, MAY,
	  NULL, exec_mremap, "zd_do_mremap(): mremap(2)" },
	{ "migrate_to_device", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, F("gpu", FT_GPU, gpu, .flags = FL_REQ),
		F("fail_alloc", FT_BOOL, fail_alloc), END }, MAY,
	  NULL, exec_migrate_to_device,
	  "zd_dmirror_migrate_to_dev(): HMM_DMIRROR_MIGRATE_TO_DEV of the range (migrate_vma)" },
	{ "migrate_to_system", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, F("gpu", FT_GPU, gpu, .flags = FL_REQ),
		F("fail_alloc", FT_BOOL, fail_alloc), END }, MAY,
	  NULL, exec_migrate_to_system,
	  "zd_dmirror_migrate_to_sys(): HMM_DMIRROR_MIGRATE_TO_SYS of the range (migrate_vma)" },
	{ "snapshot", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, F("gpu", FT_GPU, gpu, .flags = FL_REQ),
		F("bytes", FT_STR, bytes), END }, MAY,
	  NULL, exec_snapshot,
	  "zd_dmirror_snapshot(): HMM_DMIRROR_SNAPSHOT of the range by a mirror opened for it; "
	  "with bytes (\"22 22 01\"), the step fails unless the device sees exactly those" },
	{ "evict", (const struct field[]){ F("gpu", FT_GPU, gpu, .flags = FL_REQ), END }, MAY,
	  NULL, exec_evict,
	  "zd_dmirror_evict(): every device page in use back to RAM (migrate_device_range)" },
	{ "hmm_range_fault", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, F("gpu", FT_GPU, gpu),
		F("flags", FT_FLAGS, mflags, .enums = &hmm_req_flags), END }, MAY,
	  NULL, exec_hmm_range_fault,
	  "zd_hmm_range_fault(): the HMM_PFN_* entry of each page, as a driver of gpu (its "
	  "device-private owner) gets them; flags fault|write ask for a fault (default: a "
	  "snapshot, nothing faulted); the output groups pages into runs" },
	{ "make_exclusive", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, F("gpu", FT_GPU, gpu, .flags = FL_REQ), END }, MAY,
	  NULL, exec_make_exclusive,
	  "zd_dmirror_exclusive(): HMM_DMIRROR_EXCLUSIVE, make_device_exclusive() of each page "
	  "for the gpu (a CPU access takes it back)" },
	{ "madvise", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE,
		F("advice", FT_ENUM, advice, .enums = &advice_names, .flags = FL_REQ), END }, MAY,
	  NULL, exec_madvise, "zd_do_madvise(): madvise(2)" },
	{ "write", (const struct field[]){ PROCESS, ADDR_REQ, DATA, END }, MAY,
	  NULL, exec_write_mem, "zd_access_vm(): the process's CPU stores the bytes (faults as needed)" },
	{ "pin", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE,
		F("flags", FT_FLAGS, mflags, .enums = &pin_flags, .flags = FL_ECHO_ALWAYS),
		AS(def_pin, FL_REQ), END }, MAY,
	  NULL, exec_pin, "zd_pin_user_pages_unlocked() or _fast (fast): FOLL_PIN the range's pages" },
	{ "unpin", (const struct field[]){ HANDLE_USE(use_pin), END }, 0,
	  NULL, exec_unpin, "zd_unpin_user_pages() of a pin handle" },
	{ "read", (const struct field[]){ PROCESS, ADDR_REQ, DATA, END }, MAY,
	  NULL, exec_read_mem, "zd_access_vm(): the process's CPU loads the bytes, which must be data" },
	{ "fill", (const struct field[]){ PROCESS, ADDR_REQ, SIZE, PATTERN, SEED, END }, MAY,
	  finish_fill, exec_fill, "zd_access_vm(): the CPU stores a byte (pattern) or a seed's "
	  "pseudo-random stream over the range" },
	{ "check", (const struct field[]){
		PROCESS, ADDR_REQ, F("size", FT_SIZE, size, .has = HAS(has_size)), PATTERN, SEED,
		F("data", FT_DATA, data, .has = HAS(has_data)), END }, MAY,
	  finish_check, exec_check, "zd_access_vm(): the CPU loads the range, which must hold "
	  "the pattern, the seed's stream or the data; the first differing byte fails it" },
	{ "gpu_fill", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, PATTERN, SEED, F("gpu", FT_GPU, gpu, .flags = FL_REQ), END },
	  MAY, finish_fill, exec_gpu_fill,
	  "zd_dmirror_write(): HMM_DMIRROR_WRITE, the GPU stores a pattern or a seed's stream "
	  "over whole pages through its mirror of the process (hmm_range_fault, faulting for "
	  "write; the mirror stays open with the process)" },
	{ "gpu_check", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE, PATTERN, SEED, F("gpu", FT_GPU, gpu, .flags = FL_REQ), END },
	  MAY, finish_fill, exec_gpu_check,
	  "zd_dmirror_read(): HMM_DMIRROR_READ, the GPU loads whole pages through its mirror, "
	  "which must hold the pattern or the seed's stream" },
	{ "gup", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE,
		F("flags", FT_FLAGS, mflags, .enums = &gup_flags, .flags = FL_ECHO_ALWAYS),
		AS(def_gup, FL_REQ), END }, MAY,
	  NULL, exec_gup, "zd_get_user_pages_unlocked() or _fast (fast): FOLL_GET references "
	  "on the range's pages" },
	{ "put", (const struct field[]){ HANDLE_USE(use_gup), END }, 0,
	  NULL, exec_put, "zd_put_page() of each page of a gup handle" },
	{ "migrate", (const struct field[]){
		PROCESS, ADDR_REQ, SIZE,
		F("node", FT_UINT, node, .flags = FL_REQ | FL_ECHO_ALWAYS, .max = 1023),
		F("flags", FT_FLAGS, mflags, .enums = &migrate_flags, .dflt = "move",
		  .flags = FL_ECHO_ALWAYS), END }, MAY,
	  NULL, exec_migrate, "zd_move_pages(): move_pages(2) of the range's pages to a node" },

	/* DAX files on fsdax namespaces (devsteps-pmem.c) */
	{ "mkfs", (const struct field[]){ F("namespace", FT_REGION, region, .flags = FL_REQ), END },
	  MAY, NULL, exec_mkfs, "zd_daxfs_mkfs(): an empty DAX file system on an fsdax namespace" },
	{ "dax_file", (const struct field[]){
		F("namespace", FT_REGION, region, .flags = FL_REQ),
		F("name", FT_STR, file_name, .flags = FL_REQ), SIZE, END }, MAY,
	  NULL, exec_dax_file, "zd_daxfs_create(): a file of size bytes (PMD-aligned extents)" },
	{ "truncate", (const struct field[]){
		F("namespace", FT_REGION, region, .flags = FL_REQ),
		F("name", FT_STR, file_name, .flags = FL_REQ),
		F("size", FT_SIZE, size, .flags = FL_REQ), AS(def_task, 0), END }, MAY,
	  NULL, exec_truncate, "zd_daxfs_truncate(): truncate(2) of a DAX file (waits for pins); "
	  "with as: on a thread of its own, as another process would, joined by wait" },
	{ "wait", (const struct field[]){ HANDLE_USE(use_task), END }, MAY,
	  NULL, exec_wait, "the end of a background step (pthread_join); its errno is this step's" },
	{ 0 },
};
