/*
 * Interfaces of the persistent-machine commands (zonedev ndctl, daxctl,
 * lsmem, chmem): a machine file booted for one command with what the
 * running kernel would still hold replayed from its state file
 * (pmachine.c), the json-c shaped output ndctl and daxctl print
 * (ndjson.c), and the device objects both tools show (daxctl.c).
 * Invariants: a command boots, acts, saves the state (before it prints,
 * so an output failure loses nothing) and tears the machine down; the
 * region files hold what persists across reboots, the state file only
 * what a reboot would drop.
 */
#ifndef ZONEDEV_PMACHINE_H
#define ZONEDEV_PMACHINE_H

#include "cli.h"

/* ---- pmachine.c ---- */

struct pm_opts {
	const char *machine;       /* --machine, else $ZD_MACHINE */
	const char *state;         /* --state, else MACHINE.state */
	bool reboot;               /* drop the state first */
	bool dmesg;                /* echo the kernel log to stderr */
	bool saves;                /* the command may change the state: its
				    * file must be writable before it acts */
};

/* The options every persistent-machine command takes (getopt codes). */
enum { PM_OPT_MACHINE = 3000, PM_OPT_STATE, PM_OPT_REBOOT, PM_OPT_DMESG };
#define PM_LONGOPTS \
	{ "machine", required_argument, NULL, PM_OPT_MACHINE }, \
	{ "state", required_argument, NULL, PM_OPT_STATE }, \
	{ "reboot", no_argument, NULL, PM_OPT_REBOOT }, \
	{ "dmesg", no_argument, NULL, PM_OPT_DMESG }
/* The same options in a --help text. */
#define PM_HELP_OPTIONS \
	"  --machine FILE    the machine file: a YAML file with a 'machine:' section\n" \
	"                    (default $ZD_MACHINE)\n" \
	"  --state FILE      where what the running kernel holds is kept between\n" \
	"                    invocations (default: the machine file's path + .state)\n" \
	"  --reboot          drop that state first, as a reboot would; with no\n" \
	"                    command, only drop it\n" \
	"  --dmesg           echo the kernel log to stderr as it is logged\n"

/* c was one of PM_OPT_*: record it; false otherwise. */
bool pm_opt(int c, const char *arg, struct pm_opts *o);

struct pm_block;
struct pmachine {
	const char *cmd;           /* "ndctl": messages say "zonedev ndctl: ..." */
	struct scenario s;
	bool loaded;
	struct zd_machine *m;
	char machine_path[4096];
	char state_path[4096];
	uint64_t fingerprint;      /* of the machine file's text */
	int lock_fd;
	struct pm_block *boot;     /* memory blocks as booted, before the replay */
	size_t nr_boot;
	char tmp_path[4200];       /* the next state file, made before acting */
	int tmp_fd;
	const char *ro_fallback;   /* a region file booted read-only as we may
				    * not write it: the state is not saved */
};

/* The machine and state paths only (for --reboot alone): EXIT_OK, or
 * EXIT_USAGE after the message. */
int pm_paths(struct pmachine *pm, const char *cmd, const struct pm_opts *o);
/* Drop the state file (a reboot), under the machine file's lock as every
 * command takes it: EXIT_OK or EXIT_FAIL. */
int pm_reboot(struct pmachine *pm);
/* Lock the machine file, boot it and replay the state: EXIT_OK, or the
 * exit code after the message (pm_close() in every case). */
int pm_open(struct pmachine *pm, const char *cmd, const struct pm_opts *o);
/* Write what the running kernel now holds (or remove the file when
 * nothing): 0, or -1 after the message. */
int pm_save(struct pmachine *pm);
/* Tear the machine down; rc, or EXIT_FAIL for an rc of 0 when an
 * invariant check fired (said on stderr). */
int pm_close(struct pmachine *pm, int rc);
int pm_nr_regions(const struct pmachine *pm);
struct zd_nd_region *pm_region(struct pmachine *pm, int idx);
/* When the library refused dev with rc for a reason ndctl shows only as an
 * errno: "zonedev CMD: dev: ERRNO: <the last kernel log line at warning or
 * worse since seq>" on stderr (nothing if it logged none). */
void pm_library_why(struct pmachine *pm, unsigned long seq, const char *dev, int rc);
/* ndctl's and daxctl's exit status for a command's result: a -errno's
 * low byte (main returns it), else the value itself. */
int pm_status(int rc);
/* What ndctl and daxctl exit with on a usage error (parse-options). */
#define ND_EXIT_USAGE 129

/* ---- ndjson.c: json-c PRETTY output ---- */

struct nj;
struct nj *nj_obj(void);
struct nj *nj_arr(void);
struct nj *nj_str(const char *s);
struct nj *nj_u64(uint64_t v);
struct nj *nj_int(int64_t v);
struct nj *nj_bool(bool v);
/* A size: a number, or under human ndctl's "7.87 GiB (8.45 GB)" string. */
struct nj *nj_size(uint64_t v, bool human);
/* Append child (key: its member name in an object, NULL in an array). */
void nj_add(struct nj *parent, const char *key, struct nj *child);
void nj_kstr(struct nj *o, const char *key, const char *s);
void nj_ku64(struct nj *o, const char *key, uint64_t v);
void nj_kint(struct nj *o, const char *key, int64_t v);
void nj_kbool(struct nj *o, const char *key, bool v);
void nj_ksize(struct nj *o, const char *key, uint64_t v, bool human);
size_t nj_len(const struct nj *n);
struct nj *nj_first(const struct nj *n);
void nj_free(struct nj *n);
/* Print n and a newline, then free it. */
void nj_print(FILE *f, struct nj *n);
/* util_display_json_array(): under human a single member alone. Frees. */
void nj_display_array(FILE *f, struct nj *arr, bool human);
/* ndctl's human size text ("8.00 GiB (8.59 GB)", or the plain number). */
void nj_human_size(uint64_t b, char *buf, size_t len);

/* ---- daxctl.c: the dax objects ndctl shows too ---- */

/* daxctl's device object of region r's daxN.0, NULL without one. */
struct nj *dax_dev_json(struct pmachine *pm, struct zd_nd_region *r, bool human);
/* The dax region object (with_path: daxctl list -R's "path"). */
struct nj *dax_region_json(struct pmachine *pm, struct zd_nd_region *r, bool with_path,
			   bool devices, bool human);

/* ---- ndctl.c, ndctl-namespace.c ---- */

/* ndctl's namespace object of region idx's namespace (dax: devdax with a
 * daxregion, as -X and create-namespace show it; else chardev). */
struct nj *nd_namespace_json(struct pmachine *pm, int idx, bool human, bool dax, bool verbose);
/* util_region_filter(): region id matches ident (N, regionN, all; a
 * space-separated list of them), or ident is NULL. */
bool nd_region_match(int id, const char *ident);

/* The options of create-, destroy-, disable- and enable-namespace. */
struct nd_nsopts {
	const char *sub;           /* "create-namespace", ... */
	const char *namespace;     /* the argument (create: -e) */
	const char *region, *type, *size, *mode, *map, *align, *uuid, *name;
	bool force;
	bool do_scan;              /* create with no option at all: pmem, then blk */
};
/* Parse sub's options (argv[0] is sub): 0, -1 after --help, EXIT_USAGE. */
int nd_ns_parse(const char *sub, int argc, char **argv, struct nd_nsopts *o);
int nd_mode_from_name(const char *s);
/* Run it: ndctl's result (0 or -errno), its messages on stderr. */
int nd_ns_run(struct pmachine *pm, const struct nd_nsopts *o);
/* The help text of zonedev ndctl (ndctl.c). */
extern const char ndctl_help[];

/* ---- the commands ---- */

int cmd_ndctl(int argc, char **argv);
int cmd_daxctl(int argc, char **argv);
int cmd_lsmem(int argc, char **argv);
int cmd_chmem(int argc, char **argv);

#endif
