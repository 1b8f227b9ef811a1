/*
 * Internal interfaces of the zonedev CLI (tools/zonedev/). The CLI is a thin
 * client of libzonedev's public headers: it turns a YAML scenario into a
 * machine description plus a list of steps, runs the steps against one
 * machine and prints what happened as text or as one JSON document.
 * Invariants: nothing here reaches into src/; every string a parsed scenario
 * points at lives in the scenario's YAML document, which outlives the
 * machine; output depends only on the scenario (no clocks, no host
 * addresses), so a scenario run twice prints the same thing.
 */
#ifndef ZONEDEV_CLI_H
#define ZONEDEV_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>
#include <zonedev/zonedev.h>

/* Exit codes. */
#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

/* ---- main.c: option plumbing the subcommands share ---- */

struct option;
/* "zonedev CMD: <message>" and the --help hint on stderr; EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* getopt_long that reports unknown options and missing values itself (-2). */
int next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
	     const struct option *longopts);

/* ---- iomem.c: zonedev iomem ---- */

int cmd_iomem(int argc, char **argv);

/* ---- infoblock.c: zonedev infoblock ---- */

int cmd_infoblock(int argc, char **argv);

/* ---- map.c: zonedev map (map.h has the rest) ---- */

int cmd_map(int argc, char **argv);

/* ---- progress.c: a progress line on a terminal's stderr ---- */

/* Enabled when stderr is a terminal and not quiet; shows after a second. */
void progress_init(bool quiet);
/* What the CLI is doing (a step, a bench phase); shown before the bar. */
void progress_label(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* How far what got (also the machine's progress callback; arg unused). */
void progress_update(void *arg, const char *what, uint64_t done, uint64_t total);
/* Erase the line, if drawn, before other output. */
void progress_clear(void);
/* The same from a signal handler (write(2) only). */
void progress_erase_async(void);
/* f, or a stream over it that erases the line before each write (for the
 * library's log echo). */
FILE *progress_wrap(FILE *f);

/* ---- cleanup.c: temporary files removed on exit and on signals ---- */

/* Handlers for SIGINT, SIGTERM, SIGHUP, SIGPIPE (clean up, then die of the
 * signal) and SIGBUS (the running step fails with EIO, then clean up);
 * SIGXFSZ ignored. Call once, first thing. */
void cleanup_install(void);
/* Files and directories this process made; a directory is emptied first. */
int cleanup_register_file(const char *path);
int cleanup_register_dir(const char *path);
/* What a SIGBUS message names as failing ("FILE:LINE: step 'x'"). */
void cleanup_set_context(const char *what);
/* Remove everything registered now (also run at exit). */
void cleanup_run(void);

/* ---- json.c: a small streaming JSON writer (pretty, 2-space indent) ---- */

/* Every jw_ call with w NULL writes nothing: a caller that shows text
 * passes NULL instead of testing for JSON around each call. */
#define JW_MAX_DEPTH 32

struct jw {
	FILE *f;
	int depth;
	unsigned count[JW_MAX_DEPTH];
	bool after_key;
};

void jw_init(struct jw *w, FILE *f);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_u64(struct jw *w, uint64_t v);
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* "0x..." string: addresses and pfns can exceed what a double holds. */
void jw_hex(struct jw *w, uint64_t v);
/* An already-serialised JSON value (trailing whitespace dropped). */
void jw_raw(struct jw *w, const char *json);
/* Close the document with a newline. */
void jw_finish(struct jw *w);

/* Key + value shorthands. */
void jw_kstr(struct jw *w, const char *key, const char *s);
void jw_ku64(struct jw *w, const char *key, uint64_t v);
void jw_ki64(struct jw *w, const char *key, int64_t v);
void jw_kbool(struct jw *w, const char *key, bool v);
void jw_khex(struct jw *w, const char *key, uint64_t v);
void jw_kdouble(struct jw *w, const char *key, double v);

/* ---- parse.c: scalar parsers and formatters ---- */

/* Decimal or 0x hex with an optional binary suffix K/M/G/T/P (or KiB..PiB).
 * 0, or -1 with a reason in *why (garbage, overflow). */
int parse_size(const char *s, uint64_t *out, const char **why);
/* A plain integer (decimal or hex, no suffix). */
int parse_uint(const char *s, uint64_t *out, const char **why);
/* A meminfo quantity: plain number = kB, "N kB" = kB, a suffixed size = bytes
 * converted to kB (must be a multiple of 1 KiB). */
int parse_kb(const char *s, uint64_t *out_kb, const char **why);
/* true/false (any case); -1 otherwise. */
int parse_bool(const char *s, bool *out);
/* "1G", "128M", "4K" or plain bytes: the largest unit that divides exactly. */
const char *fmt_size(uint64_t v, char *buf, size_t len);
/* "1.5 GiB" style approximate size for reports. */
const char *fmt_size_human(uint64_t v, char *buf, size_t len);
/* "EBUSY" or "errno 123" for -123 / 123. */
const char *fmt_errno(int err, char *buf, size_t len);
/* Expand ${NAME} from the environment (a '$' not followed by '{' is kept).
 * 0 with a malloc'd *out; -1 with the byte offset of the offending '$' in
 * *bad_off and a reason in why (unset or empty variable, bad name,
 * unterminated '${'). */
int expand_env(const char *s, char **out, size_t *bad_off, char *why, size_t whylen);
/* Text for an echo line or a message: printable ASCII as is, quotes,
 * backslashes and control bytes as C escapes. */
const char *fmt_escaped(const char *s, size_t n, char *buf, size_t len);
/* item appended to the list in buf (sep before it unless first); the new
 * length (at least len once full). */
size_t list_add(char *buf, size_t len, size_t used, const char *sep, const char *item);
/* The arch profiles' names, "x86_64, arm64-4k, ..." (a static buffer). */
const char *fmt_arch_names(void);

/* ---- yamlfile.c: libyaml documents with positions ---- */

struct yfile {
	const char *name;          /* as shown in messages */
	char *text;                /* the whole input, owned */
	size_t len;
	yaml_document_t doc;
	bool have_doc;
	char err[1024];            /* first error, "NAME:LINE:COL: ..." */
};

/* Read path (display name disp) or take a copy of text; then parse it.
 * 0, or -1 with yf->err set. yfile_free() in both cases. */
int yfile_load_path(struct yfile *yf, const char *path, const char *disp);
int yfile_load_text(struct yfile *yf, const char *text, size_t len, const char *disp);
void yfile_free(struct yfile *yf);

yaml_node_t *ynode(struct yfile *yf, int index);
yaml_node_t *yroot(struct yfile *yf);
int yline(const yaml_node_t *n);
int ycol(const yaml_node_t *n);
/* Record "NAME:LINE:COL: msg" at node n (first error wins); returns -1. */
int yerr(struct yfile *yf, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same at an explicit 1-based line and column. */
int yerr_at(struct yfile *yf, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *ykind(const yaml_node_t *n);
/* The scalar text, or NULL (and an error naming what) if n is not a scalar
 * or is an empty/null scalar. */
const char *yscalar(struct yfile *yf, yaml_node_t *n, const char *what);
/* A key's text, or NULL if k is not a scalar. */
const char *ykey(const yaml_node_t *k);
/* Every key of map is a scalar, unique, and in allowed (NULL-terminated);
 * otherwise "unknown key 'x' in <context>" at the key, followed by
 * " (it takes: TAKES)" unless takes is NULL. */
int ymap_check(struct yfile *yf, yaml_node_t *map, const char *const *allowed,
	       const char *context, const char *takes);
/* The value node for key, or NULL. */
yaml_node_t *ymap_get(struct yfile *yf, yaml_node_t *map, const char *key);
/* Advance line and col over the bytes [from, to) of the text. */
void ytext_pos(const struct yfile *yf, size_t from, size_t to, int *line, int *col);

/* ---- scenario*.c, schema*.c: the scenario and its steps ---- */

struct step_def;           /* schema.h */
struct expect_def;

enum report_kind {
	RP_IOMEM, RP_MEMINFO, RP_ZONEINFO, RP_MEMORY_BLOCKS, RP_SECTIONS, RP_DMESG,
	RP_VMEMMAP, RP_NAMESPACES, RP_DEVICES, RP_BUDDYINFO, RP_MAPS, RP_SMAPS_ROLLUP,
	RP_PAGE_TABLES, RP_VMSTAT, RP_PAGEMAP, RP_PCI, RP_PCI_DEVICES, RP_P2PDMA, RP_GPU_MEMORY, RP_MIRRORS, RP_NR,
};

#define PGMAP_NONE 0               /* expect pgmap: no pgmap at the address */

/* An address operand: a literal, or the address a handle recorded. */
struct addr_arg {
	uint64_t value;
	int handle;                /* index into scenario.handles, -1 literal */
};

/* Bytes a step writes or compares (NUL bytes are refused when parsing). */
struct bytes_arg {
	const char *p;
	size_t len;
};

/* One argument as echoed ("start=0x100000000") and put in JSON. */
enum arg_type {
	ARG_AUTO,                  /* schema.h: the field type's own form */
	ARG_ADDR, ARG_SIZE, ARG_UINT, ARG_HEX, ARG_STR, ARG_BOOL, ARG_KB, ARG_FLAGS,
};
struct step_arg {
	const char *key;
	enum arg_type type;
	uint64_t u;
	const char *s;             /* ARG_STR, or a handle name for ARG_ADDR */
};
#define STEP_MAX_ARGS 10

/* Block state a scenario may expect; BLOCK_ABSENT = no such block. */
#define BLOCK_ABSENT (-1)

/* A parsed step. The operands are named after what they are; the step's
 * table entry (schema-steps.c) says which of them it fills. */
struct step {
	const struct step_def *def;
	const struct expect_def *form;   /* expect: which form */
	const char *name;
	int line, col;
	int expect_error;          /* positive errno; 0: the step must succeed */
	const char *expect_error_name;
	bool has_expect_warn;
	uint64_t expect_warn;      /* invariant checks the step must fire */
	struct step_arg args[STEP_MAX_ARGS];
	int nargs;

	struct addr_arg start;     /* start, or memory_failure's addr */
	uint64_t size;
	uint64_t node;
	bool has_node;
	int online;                /* online_memory: enum zd_online_type */
	const char *res_name;
	int handle;                /* as: / handle:, -1 none */
	uint64_t order;
	int gfp;                   /* zd_gfp_t */
	int report;                /* enum report_kind */
	const char *text;

	/* ZONE_DEVICE steps */
	int region;                /* pmem region index (region:/namespace:/device:), -1 none */
	const char *dev_name;      /* the region, namespace or gpu as written */
	int gpu;                   /* index into scenario.gpus, -1 none */
	int ns_mode;               /* enum zd_nd_ns_mode */
	int ns_map;                /* enum zd_nd_pfn_mode, 0: default (dev) */
	bool has_map;
	int dax_mode;              /* reconfigure_device: enum zd_dax_mode */
	bool dax_online, dax_movable;
	uint64_t align;            /* create_namespace, memremap (0: default) */
	bool has_uuid;
	bool force;                /* create_namespace: ndctl -f; reconfigure_device: -f */
	uint8_t uuid[16];
	uint64_t offset;           /* write_namespace, corrupt_infoblock */
	struct bytes_arg data;     /* write_namespace, gpu_write; what expect compares */
	uint64_t byte;             /* corrupt_infoblock */
	uint64_t count;            /* gpu_add_chunk */
	int mtype;                 /* enum zd_memory_type; expect pgmap: or PGMAP_NONE */
	unsigned long vmemmap_shift;
	bool dpa;                  /* memremap private on a dpa machine: no start */

	/* processes (mmsteps.c): start/size are the range */
	int process;               /* an H_MM handle, -1 none */
	uint64_t prot, mflags;     /* PROT_*; MAP_*, MREMAP_* or HMM_STEP_* */
	const char *file_name;     /* mmap, dax_file, truncate: a file on an fsdax namespace */
	uint64_t new_size;
	struct addr_arg new_addr;
	int advice;                /* MADV_* */
	bool has_pattern, has_seed;
	uint64_t pattern, seed;    /* fill, check: one byte repeated, or a stream's seed */

	/* expect (schema-expect.c says which form uses which): start is the
	 * address, region, gpu, handle, process, size, data, mtype, ns_mode,
	 * ns_map and dax_mode what the step members above are */
	uint64_t id;
	bool want_bool;
	bool not_present;
	unsigned long section_flags;
	int block_state;           /* enum zd_mem_state or BLOCK_ABSENT */
	int block_zone;            /* enum zd_zone_type, -1: not checked */
	const char *field;         /* meminfo field, iomem line */
	bool has_is, has_min, has_max;
	uint64_t is, min, max;     /* kB for meminfo */
	int since;                 /* meminfo: a meminfo_snapshot handle (the fall since it), -1 */
	bool has_mode, has_size, has_data, has_refused, refused;
	uint64_t data_at;          /* namespace: where data is expected */
	bool has_chunks, has_calloc, has_cfree;
	uint64_t available;        /* expect p2pmem */
	bool has_available, has_published;
	uint64_t chunks, calloc, cfree;
	bool has_online_blocks, has_total_blocks, has_movable, movable;
	uint64_t online_blocks, total_blocks;
	int zone_idx;              /* zoneinfo: the zone and its node */
	uint64_t zone_node;
	bool has_zone_count[4];    /* start_pfn, spanned, present, managed */
	uint64_t zone_count[4];
	/* vma: the VMA holding start in a process */
	bool has_vma_start, has_vma_end, has_perms, has_mapped, mapped;
	uint64_t vma_start, vma_end;
	const char *perms;         /* as maps shows them, "rw-p" */
	const char *bytes;         /* snapshot: the bytes it must see, "22 22 01" */
	const char *p2pmem;        /* mmap: a provider's p2pmem/allocate, by pci_name() */
	uint64_t bar;              /* p2pdma_add_resource */
	uint64_t cmb, lba;         /* nvme_probe: CMB bytes, LBA size */
	bool has_bus;
	uint64_t bus_segments;     /* nvme_read/write: the segments that must go by bus address */
	bool fail_alloc;           /* migrate_to_*: HMM_DMIRROR_FLAG_FAIL_ALLOC for the call */
	bool publish;
};

/* A pin step's flag for pin_user_pages_fast (no FOLL_* bit is this). */
#define PIN_FAST (1u << 30)

enum handle_kind { H_REGION, H_PAGES, H_GPU_PAGE, H_PGMAP, H_MEMINFO, H_MM, H_PIN, H_GUP, H_TASK };
struct handle_def {
	const char *name;
	enum handle_kind kind;
};
#define MAX_HANDLES 256

/* One machine.pci declaration (devsteps-pci.c), in depth-first order. */
enum pci_decl_kind { PCI_DECL_HOST, PCI_DECL_ROOT_PORT, PCI_DECL_SWITCH, PCI_DECL_DOWN_PORT,
		     PCI_DECL_ENDPOINT };
struct pci_decl {
	enum pci_decl_kind kind;
	int parent;                /* index of the declaration above, -1 for a host */
	uint16_t vendor, device;
	uint64_t start, size, offset;   /* host: window */
	uint64_t bars[6];          /* endpoint: 64-bit BAR sizes by index */
	uint64_t nr;               /* endpoint: functions */
	int domain;                /* host: -1 the next free one */
	int slot, secondary;       /* ports: -1 the next free slot / bus number */
	int fn;                    /* ports: the function (an lspci listing's) */
	uint16_t acs, acs_cap;     /* ACS control word; the capability (0: every bit) */
	bool has_acs;
	bool iommu;                /* host: DMA below goes through an IOMMU */
	const char *file;          /* where it was declared: NULL the scenario, else an lspci listing */
	int line, col;
};

struct scenario {
	struct yfile yf;
	const char *file;          /* display name */
	char *dir;                 /* directory relative paths resolve against */
	const char *description;
	int machine_line;

	const char *arch;
	uint64_t phys_bits;        /* 0: the profile's */
	uint64_t block_size;
	uint64_t nodes;
	bool debug_vm;             /* CONFIG_DEBUG_VM: poison new memmap */
	bool host_memory_guard;    /* false: populate memmap beyond the host's memory */
	enum zd_online_type auto_online;   /* auto_online_blocks */
	uint64_t crashkernel, swiotlb_size;
	bool swiotlb_off;
	enum zd_device_private_design device_private;
	enum zd_thp_policy thp;
	int exclusive_era;         /* enum zd_exclusive_era */
	uint64_t va_bits;          /* arm64 only; 0: the profile's */
	struct zd_nd_region_desc *pmem;   /* paths expanded and resolved (owned) */
	const char **pmem_files;   /* the 'file' values as written */
	size_t nr_pmem;
	struct zd_dmirror_desc *gpus;
	size_t nr_gpus;
	struct zd_mem_range *ram, *reserved;
	size_t nr_ram, nr_reserved;
	struct pci_decl *pci;      /* machine.pci, built after boot */
	size_t nr_pci;
	int p2pdma_era;            /* enum zd_p2pdma_era */
	bool config_pci_p2pdma;    /* CONFIG_PCI_P2PDMA */
	int cpu_vendor;            /* PCI vendor ID of the CPU's maker, 0: unknown */
	uint64_t cpu_family;
	bool default_layout;       /* neither ram/reserved nor iomem given */
	char *iomem_path;          /* resolved */
	char **kept;               /* strings the declarations point at (lspci paths) */
	size_t nr_kept;
	const char *iomem_given;
	int iomem_line, iomem_col; /* where iomem: names it, for boot errors */
	/* Where each machine.ram/reserved/pmem/gpus entry is, by its index in
	 * the machine description (zd_machine_create_blame() names one). */
	struct { int line, col; } *entry_pos[ZD_DESC_GPU + 1];
	size_t nr_entry_pos[ZD_DESC_GPU + 1];

	struct step *steps;
	size_t nr_steps;
	struct handle_def handles[MAX_HANDLES];
	int nr_handles;
};

/* Parse a scenario from a file (dir = its directory) or from text (dir =
 * "."). 0, or -1 with the message in s->yf.err. scenario_free() always. */
int scenario_load_path(struct scenario *s, const char *path);
int scenario_load_text(struct scenario *s, const char *text, const char *disp);
void scenario_free(struct scenario *s);
/* Build machine.pci on a booted machine; 0, or a negative errno with the
 * failing entry and why in fail. */
int scenario_pci_build(struct scenario *s, struct zd_machine *m, char *fail, size_t len);

/* ---- layout.c: built-in machine layouts ---- */

/* The default boot layout for an arch profile (RAM and firmware ranges). */
void default_layout(const char *arch, const struct zd_mem_range **ram, size_t *nr_ram,
		    const struct zd_mem_range **reserved, size_t *nr_reserved);

/* ---- runner.c / steps.c / report.c ---- */

struct run;

struct run_opts {
	bool json;
	bool quiet;
	bool dmesg;                /* echo kernel log lines as they happen */
	int log_level;             /* console loglevel + 1; 0: the default (info) */
	const char *dyndbg;        /* dynamic-debug query, or NULL */
	bool no_memory_guard;      /* lift the host memory guard */
	/* zonedev map: run only the first limit steps (with has_limit),
	 * send step output to out (NULL: stdout), and once every step run met
	 * its expectation and no check fired, call at_end with the machine
	 * still up; what it returns is the exit code. A failed run's messages
	 * (one a line) also go to errors when it is set. */
	bool has_limit;
	size_t limit;
	FILE *out;
	int (*at_end)(struct run *r, size_t steps_run, void *arg);
	void *at_end_arg;
	char *errors;
	size_t errors_len;
};

struct handle_state {
	bool live;
	bool ever;                 /* was ever set (its address stays usable) */
	bool not_phys;             /* addr is a device-private offset (dpa), not physical */
	uint64_t addr;
	struct zd_page *page;
	unsigned order;
	struct zd_dmirror_device *mdev;    /* H_GPU_PAGE */
	struct zd_dev_pagemap *pgmap;      /* H_PGMAP (owned while live) */
	char *meminfo;                     /* H_MEMINFO: the /proc/meminfo text then (owned) */
	struct zd_mm *mm;                  /* H_MM: the process (the machine ends it) */
	struct zd_dmirror **mirrors;       /* H_MM: each GPU's mirror of it, by gpu_fill/gpu_check (owned) */
	struct zd_page **pins;             /* H_PIN, H_GUP: the pinned or referenced pages (owned while live) */
	long nr_pins;
	struct bg_task *task;              /* H_TASK: a step running on its own thread (owned while live) */
};

struct run {
	struct scenario *s;
	const struct run_opts *o;
	struct zd_machine *m;
	FILE *out;                 /* text output (stdout) */
	struct jw jw;              /* JSON output (json mode) */
	struct jw *json;           /* &jw in JSON mode, else NULL */
	struct handle_state h[MAX_HANDLES];
	unsigned long expected_warns;   /* fired by steps that stated expect_warn */
	unsigned step_delay_us;         /* ZD_STEP_DELAY_MS, a test hook */
};

struct step_result {
	int err;                   /* 0 or -errno from the library */
	bool check_failed;         /* expect: the condition did not hold */
	char info[512];            /* text-mode detail line, may be empty */
	char failure[512];         /* what did not hold */
	char why[256];             /* an error the CLI itself found (shown instead of dmesg) */
	/* wait: the joined task's lines since it settled belong to this step */
	int log_caller;
	unsigned long log_since;
};

/* Run a parsed scenario; returns the exit code. */
int run_scenario(struct scenario *s, const struct run_opts *o);
/* Boot a machine from the scenario's machine section (the kernel log
 * echoed to log_echo unless NULL). ERR_PTR on failure. */
struct zd_machine *scenario_boot(struct scenario *s, const struct run_opts *o, FILE *log_echo);

/* Execute one step (JSON extras go into the open step object). */
void step_exec(struct run *r, const struct step *st, struct step_result *res);

/* The function that runs each step and evaluates each expect form (the
 * tables in schema-steps.c and schema-expect.c name them): steps.c the RAM
 * steps and forms, devsteps-pmem.c namespaces, devsteps-gpu.c GPUs,
 * devsteps.c direct pgmaps and the address forms. */
#define STEP_FN(name) void name(struct run *r, const struct step *st, struct step_result *res)
STEP_FN(exec_add_memory); STEP_FN(exec_remove_memory); STEP_FN(exec_online_memory);
STEP_FN(exec_offline_memory); STEP_FN(exec_request_mem_region);
STEP_FN(exec_release_mem_region); STEP_FN(exec_request_free_mem_region);
STEP_FN(exec_alloc_pages); STEP_FN(exec_free_pages); STEP_FN(exec_expect);
STEP_FN(exec_report); STEP_FN(exec_note); STEP_FN(exec_meminfo_snapshot);
STEP_FN(exec_create_namespace); STEP_FN(exec_destroy_namespace);
STEP_FN(exec_rebind_namespace); STEP_FN(exec_list_namespaces);
STEP_FN(exec_write_namespace); STEP_FN(exec_corrupt_infoblock);
STEP_FN(exec_mkfs); STEP_FN(exec_dax_file); STEP_FN(exec_truncate); STEP_FN(exec_wait);
STEP_FN(exec_reconfigure_device);
STEP_FN(exec_gpu_add_chunk); STEP_FN(exec_gpu_alloc); STEP_FN(exec_gpu_write);
STEP_FN(exec_gpu_free);
STEP_FN(exec_memremap); STEP_FN(exec_memunmap); STEP_FN(exec_memory_failure);
STEP_FN(exec_process); STEP_FN(exec_fork); STEP_FN(exec_exit); STEP_FN(exec_mmap);
STEP_FN(exec_munmap); STEP_FN(exec_mprotect); STEP_FN(exec_mremap); STEP_FN(exec_madvise);
STEP_FN(exec_migrate_to_device); STEP_FN(exec_migrate_to_system);
STEP_FN(exec_snapshot); STEP_FN(exec_evict); STEP_FN(exec_hmm_range_fault);
STEP_FN(exec_make_exclusive); STEP_FN(exec_p2pdma_add_resource); STEP_FN(exec_p2pdma_release);
STEP_FN(exec_nvme_probe); STEP_FN(exec_nvme_read); STEP_FN(exec_nvme_write);
/* p2pdmasteps.c: the PCI function named "0000:01:00.0" (NULL with res
 * set), and its p2pmem/allocate file for mmap's p2pmem: */
struct zd_pci_dev *step_pci_dev(struct run *r, const char *name, struct step_result *res);
struct zd_file *step_p2pmem_open(struct run *r, const struct step *st, struct step_result *res); STEP_FN(exec_gpu_fill); STEP_FN(exec_gpu_check);
/* The GPU st->gpu's mirror of process st->process (opened on first use,
 * as the process would open the device file), NULL with res set; the
 * mirrors of one process (process < 0: all) released (hmmsteps.c). */
struct zd_dmirror *process_mirror(struct run *r, const struct step *st, struct step_result *res);
void release_mirrors(struct run *r, int process);
/* hmm_range_fault's flags: the request for every page */
#define HMM_STEP_FAULT 1
#define HMM_STEP_WRITE 2
STEP_FN(exec_write_mem); STEP_FN(exec_read_mem); STEP_FN(exec_pin); STEP_FN(exec_unpin);
STEP_FN(exec_fill); STEP_FN(exec_check); STEP_FN(exec_gup); STEP_FN(exec_put); STEP_FN(exec_migrate);
STEP_FN(ex_pfn_valid); STEP_FN(ex_section); STEP_FN(ex_memory_block);
STEP_FN(ex_memory_block_id); STEP_FN(ex_meminfo); STEP_FN(ex_max_pfn); STEP_FN(ex_handle);
STEP_FN(ex_zoneinfo); STEP_FN(ex_iomem);
STEP_FN(ex_namespace); STEP_FN(ex_dax); STEP_FN(ex_gpu); STEP_FN(ex_gpu_page);
STEP_FN(ex_p2pmem);
STEP_FN(ex_page_is_ram); STEP_FN(ex_valid_phys_addr_range); STEP_FN(ex_zone_device);
STEP_FN(ex_pgmap); STEP_FN(ex_cpu_addressable); STEP_FN(ex_vma);
/* zonedev run --list-steps: every step and expect form with its keys. */
void list_steps(FILE *f, bool json, char **names, int n);
bool step_name_known(const char *name);
/* A check did not hold: res->check_failed and the reason, unless an
 * earlier failure of the step already explains it. */
void step_fail(struct step_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* What happened, res->info: the text-mode detail line. */
void step_info(struct step_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The handle, unless < 0 (then NULL), is live and holds addr: a physical
 * address, or with not_phys a device-private (dpa) offset. */
struct handle_state *handle_set(struct run *r, int handle, uint64_t addr, bool not_phys);
/* A step that fills the handle finds it empty: true, or false with the
 * failure "handle 'X' still holds WHAT; RELEASE it first". */
bool handle_idle(struct run *r, int handle, const char *what, const char *release,
		 struct step_result *res);
/* A step that uses what the handle holds finds it live: true, or false with
 * "handle 'X' holds no WHAT (already GONE, or its DEFINER failed)". */
bool handle_held(struct run *r, int handle, const char *what, const char *gone,
		 const char *definer, struct step_result *res);
/* A step run in the background (task.c): call on its own thread; blocked
 * is the text of the log line that says it waits, waits what the step then
 * says; done shows the result once wait has joined a call that succeeded. */
struct task_ops {
	int (*call)(struct run *r, const struct step *st);
	void (*done)(struct run *r, const struct step *st, struct step_result *res);
	const char *blocked, *waits;
};
/* Starts st on its thread into st's handle; returns once the call has
 * returned or logged `blocked` (at most 10 s). */
void task_start(struct run *r, const struct step *st, struct step_result *res,
		const struct task_ops *ops);
/* Join the background steps still running. */
void run_join_tasks(struct run *r);
/* A line a live background step logged after its own step ended: the
 * step that waits for it shows it, not whichever step ran meanwhile. */
bool run_task_line(const struct run *r, const struct zd_log_line *l);
/* Give back what live handles hold (GPU pages, direct pgmaps) before the
 * machine goes: a held device page would make teardown wait forever. */
void run_release_handles(struct run *r);
/* The address an addr_arg stands for at this point of the run, or false
 * with res->check_failed and the reason set (its handle never set, or
 * holding a dpa offset, not a physical address). */
bool resolve_or_fail(struct run *r, const struct addr_arg *a, struct step_result *res,
		     uint64_t *out);
/* The address an expect form names (st->start) and its pfn, or false
 * with the failure set as resolve_or_fail() does. */
bool expect_addr(struct run *r, const struct step *st, struct step_result *res,
		 uint64_t *addr, uint64_t *pfn);

/* mmsteps.c: every live process's /proc/PID/maps. */
void maps_text(struct zd_machine *m, FILE *f);
void smaps_rollup_text(struct zd_machine *m, FILE *f);
void page_tables_text(struct zd_machine *m, FILE *f);
/* mmsteps.c: report pagemap of a step's process and range, text or JSON. */
void pagemap_report(struct run *r, const struct step *st, struct step_result *res);
void maps_json(struct zd_machine *m, struct jw *w);
/* A report as text on f, or as the value of the current JSON key. */
void report_text(struct zd_machine *m, enum report_kind k, FILE *f);
void report_json(struct zd_machine *m, enum report_kind k, struct jw *w);
/* A library JSON dump (dump(m, f): iomem, ndctl namespaces) as the value
 * of the current JSON key (if_empty should the stream return no buffer). */
void report_dump_json(struct zd_machine *m, void (*dump)(struct zd_machine *, FILE *),
		      const char *if_empty, struct jw *w);
/* devsteps-pmem.c: regionN of the machine, or NULL; one namespace as the
 * namespaces report and the namespace steps show it. */
struct zd_nd_region *pmem_region(struct zd_machine *m, int idx);
void namespace_json(struct jw *w, struct zd_nd_region *rg);
/* Section flag names, for expect and the sections report. */
extern const struct section_flag_name {
	const char *name;
	unsigned long bit;
} section_flag_names[];
/* "[present, has_mem_map]" for a section word. */
const char *fmt_section_flags(unsigned long word, char *buf, size_t len);

/* ---- demo_scenario.c ---- */
extern const char demo_scenario_yaml[];

#endif
