/*
 * `zonedev daxctl`: daxctl 76's list, reconfigure-device, online-memory
 * and offline-memory on a persistent machine (pmachine.c), with daxctl's
 * options, JSON (field names, order, nesting, the single-object rule
 * under -u) and messages, and its exit status (the errno's low byte, as
 * daxctl returns -errno from main). The mode changes themselves are the
 * library's (zd_dax_reconfigure_device, zd_dax_online_memory); what
 * daxctl decides in user space — refusing when the kernel would online
 * the memory itself, onlining block by block, offlining only with -f —
 * is decided here, in daxctl's order. The device and region objects are
 * also what ndctl nests under a devdax namespace.
 * Invariants: a refusal changes nothing; the state is saved before
 * anything is printed; usage errors exit 129, as daxctl's do.
 */
#include "pmachine.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char daxctl_help[] =
	"usage: zonedev daxctl [--machine FILE] [--state FILE] [--reboot] [--dmesg]\n"
	"                      COMMAND [options]\n"
	"\n"
	"daxctl on a persistent machine: the machine file is booted, its state\n"
	"replayed (see zonedev ndctl --help), one daxctl command runs with daxctl\n"
	"76's options and prints daxctl's JSON, and the state is saved. Commands:\n"
	"  list [-D] [-R] [-M] [-i] [-u] [-r REGION] [-d DEV]\n"
	"  reconfigure-device DEV|all -m devdax|system-ram [-N] [--no-movable] [-f]\n"
	"                     [-u] [-r REGION] [-v]\n"
	"  online-memory DEV|all [--no-movable] [-r REGION] [-v]\n"
	"  offline-memory DEV|all [-r REGION] [-v]\n"
	"Devices are daxN.0 (or N.0) of the devdax namespaces; their region is N.\n"
	"\n"
	"options:\n"
	PM_HELP_OPTIONS
	"  -D, --devices     list: include dax devices (the default)\n"
	"  -R, --regions     list: include dax regions (with their devices under -D)\n"
	"  -M, --mappings    list: include each device's physical mappings\n"
	"  -i, --idle        list: include idle (zero-sized) devices\n"
	"  -u, --human       sizes as \"7.87 GiB (8.45 GB)\" strings; a single object\n"
	"                    is printed alone, not in an array\n"
	"  -r, --region R    only region R (N or regionN)\n"
	"  -d, --dev DEV     list: only device DEV\n"
	"  -m, --mode MODE   reconfigure-device: devdax or system-ram\n"
	"  -N, --no-online   reconfigure-device: leave the new memory offline\n"
	"  --no-movable      online into ZONE_NORMAL rather than ZONE_MOVABLE\n"
	"  -f, --force       reconfigure-device: go on despite the auto-online policy;\n"
	"                    offline the memory before going back to devdax\n"
	"  -v, --verbose     say how many memory blocks changed\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 129 usage error (as daxctl), 1 the machine or its state\n"
	"             could not be loaded or saved (or daxctl's own 1: nothing\n"
	"             left to do); otherwise\n"
	"             daxctl's: the errno's low byte (240 EBUSY, 250 ENXIO)\n";

enum { OPT_NO_MOVABLE = 1000 };

struct dopts {
	bool devs, regions, mappings, idle, human, no_online, no_movable, force, verbose;
	const char *region, *dev, *mode;
};

/* The recorded machine's bus: QEMU's NVDIMM, an ACPI NFIT, whose
 * acpi_driver puts the bus under the ACPI device (6.1). */
static const char *region_path_fmt =
	"/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region%d/dax%d.0";

struct nj *dax_dev_json(struct pmachine *pm, struct zd_nd_region *r, bool human)
{
	struct zd_dax_info di;
	struct nj *o;

	(void)pm;
	if (zd_dax_info_get(r, &di))
		return NULL;
	o = nj_obj();
	nj_kstr(o, "chardev", di.chardev);
	nj_ksize(o, "size", di.size, human);
	if (di.target_node >= 0)
		nj_kint(o, "target_node", di.target_node);
	if (di.align)
		nj_ksize(o, "align", di.align, human);
	nj_kstr(o, "mode", di.mode == ZD_DAX_MODE_SYSTEM_RAM ? "system-ram" : "devdax");
	if (di.mode == ZD_DAX_MODE_SYSTEM_RAM && di.kmem_size) {
		nj_kint(o, "online_memblocks", di.online_memblocks);
		nj_kint(o, "total_memblocks", di.total_memblocks);
		/* daxctl_memory_is_movable() fails on an offline block (its
		 * zone is unknown), and util_daxctl_dev_to_json() then omits it */
		if (di.online_memblocks == di.total_memblocks)
			nj_kbool(o, "movable", di.movable);
	}
	return o;
}

/* daxctl list -M: a pmem dax device is one range, from the data start. */
static void add_mappings(struct nj *dev, struct zd_nd_region *r, bool human)
{
	struct zd_nd_namespace_info in;
	struct nj *arr = nj_arr(), *m = nj_obj();
	char hex[32];

	zd_nd_namespace_get(r, &in);
	if (human) {
		nj_kstr(m, "page_offset", "0");
		snprintf(hex, sizeof(hex), "%#llx", (unsigned long long)in.data_start);
		nj_kstr(m, "start", hex);
		snprintf(hex, sizeof(hex), "%#llx", (unsigned long long)(in.data_start + in.size - 1));
		nj_kstr(m, "end", hex);
	} else {
		nj_ku64(m, "page_offset", 0);
		nj_ku64(m, "start", in.data_start);
		nj_ku64(m, "end", in.data_start + in.size - 1);
	}
	nj_ksize(m, "size", in.size, human);
	nj_add(arr, NULL, m);
	nj_add(dev, "mappings", arr);
}

struct nj *dax_region_json(struct pmachine *pm, struct zd_nd_region *r, bool with_path,
			   bool devices, bool human)
{
	struct zd_nd_namespace_info in;
	struct zd_dax_info di;
	struct nj *o;
	int id = 0;
	char path[96];

	if (zd_dax_info_get(r, &di) || sscanf(zd_nd_region_name(r), "region%d", &id) != 1)
		return NULL;
	zd_nd_namespace_get(r, &in);
	o = nj_obj();
	if (with_path) {
		snprintf(path, sizeof(path), region_path_fmt, id, id);
		nj_kstr(o, "path", path);
	}
	nj_kint(o, "id", id);
	nj_ksize(o, "size", in.size, human);
	nj_ku64(o, "align", in.align);
	if (devices) {
		struct nj *arr = nj_arr();

		nj_add(arr, NULL, dax_dev_json(pm, r, human));
		nj_add(o, "devices", arr);
	}
	return o;
}

/* util_daxctl_region_filter() / util_daxctl_dev_filter(). */
static bool region_match(int id, const char *ident)
{
	int n;

	return !ident || !strcmp(ident, "all") ||
	       ((sscanf(ident, "%d", &n) == 1 || sscanf(ident, "region%d", &n) == 1) && n == id);
}

static bool dev_match(int id, const char *chardev, const char *ident)
{
	int a, b;

	return !ident || !strcmp(ident, "all") || !strcmp(ident, chardev) ||
	       (sscanf(ident, "%d.%d", &a, &b) == 2 && a == id && b == 0);
}

static int cmd_list(struct pmachine *pm, struct dopts *o)
{
	struct nj *regions = NULL, *devs = NULL;

	if (!o->regions && !o->devs) {
		o->regions = !!o->region;
		o->devs = !!o->dev;
	}
	if (!o->regions && !o->devs)
		o->devs = true;
	for (int i = 0; i < pm_nr_regions(pm); i++) {
		struct zd_nd_region *r = pm_region(pm, i);
		struct zd_dax_info di;
		struct nj *x;

		if (!r || zd_dax_info_get(r, &di) || !region_match(i, o->region))
			continue;
		if (o->regions) {
			x = dax_region_json(pm, r, true, false, o->human);
			if (o->devs && dev_match(i, di.chardev, o->dev)) {
				struct nj *arr = nj_arr(), *dev = dax_dev_json(pm, r, o->human);

				if (o->mappings)
					add_mappings(dev, r, o->human);
				nj_add(arr, NULL, dev);
				nj_add(x, "devices", arr);
			}
			if (!regions)
				regions = nj_arr();
			nj_add(regions, NULL, x);
		} else if (dev_match(i, di.chardev, o->dev) && (di.size || o->idle)) {
			x = dax_dev_json(pm, r, o->human);
			if (o->mappings)
				add_mappings(x, r, o->human);
			if (!devs)
				devs = nj_arr();
			nj_add(devs, NULL, x);
		}
	}
	if (regions)
		nj_display_array(stdout, regions, o->human);
	else if (devs)
		nj_display_array(stdout, devs, o->human);
	return 0;
}

/* dev_online_memory(): 0 done, 1 nothing to do, -errno. */
static int online_blocks(struct pmachine *pm, struct zd_nd_region *r, const struct dopts *o)
{
	struct zd_dax_info di;
	const char *name;
	unsigned before;
	int rc;

	zd_dax_info_get(r, &di);
	name = di.chardev;
	before = di.online_memblocks;
	if (before)
		fprintf(stderr, "%s:\n  WARNING: detected a race while onlining memory\n"
			"  Some memory may not be in the expected zone. It is\n"
			"  recommended to disable any other onlining mechanisms,\n"
			"  and retry. If onlining is to be left to other agents,\n"
			"  use the --no-online option to suppress this warning\n", name);
	if (before == di.total_memblocks) {
		fprintf(stderr, "%s: all memory sections (%u) already online\n", name, before);
		return 1;
	}
	if (before)
		fprintf(stderr, "%s: %u memory section%s already online\n", name, before,
			before == 1 ? "" : "s");
	rc = zd_dax_online_memory(r, !o->no_movable);
	zd_dax_info_get(r, &di);
	if (rc == -EBUSY)
		fprintf(stderr, "%s:\n  WARNING: detected a race while onlining memory\n"
			"  See 'man daxctl-reconfigure-device' for more details\n", name);
	if (rc) {
		fprintf(stderr, "%s: failed to online memory: %s\n", name, strerror(-rc));
		return rc;
	}
	if (o->verbose)
		fprintf(stderr, "%s: %u memory section%s onlined\n", name,
			di.online_memblocks - before, di.online_memblocks - before == 1 ? "" : "s");
	if (di.online_memblocks < di.total_memblocks) {
		fprintf(stderr, "%s: failed to online %u memory sections\n", name,
			di.total_memblocks - di.online_memblocks);
		return -ENXIO;
	}
	return 0;
}

/* dev_offline_memory(): 0 done, 1 nothing to do, -errno. */
static int offline_blocks(struct pmachine *pm, struct zd_nd_region *r, const struct dopts *o)
{
	struct zd_dax_info di;
	unsigned off;
	int rc;

	zd_dax_info_get(r, &di);
	off = di.total_memblocks - di.online_memblocks;
	if (off == di.total_memblocks) {
		fprintf(stderr, "%s: all memory sections (%u) already offline\n", di.chardev, off);
		return 1;
	}
	if (off)
		fprintf(stderr, "%s: %u memory section%s already offline\n", di.chardev, off,
			off == 1 ? "" : "s");
	rc = zd_dax_offline_memory(r);
	if (rc) {
		fprintf(stderr, "%s: failed to offline memory: %s\n", di.chardev, strerror(-rc));
		return rc;
	}
	if (o->verbose)
		fprintf(stderr, "%s: %u memory section%s offlined\n", di.chardev,
			di.online_memblocks, di.online_memblocks == 1 ? "" : "s");
	zd_dax_info_get(r, &di);
	if (di.online_memblocks) {
		fprintf(stderr, "%s: failed to offline %u memory sections\n", di.chardev,
			di.online_memblocks);
		return -ENXIO;
	}
	return 0;
}

/* The library's reason, when it refused for one of its own. */
static int reconfig_one(struct pmachine *pm, struct zd_nd_region *r, const struct dopts *o)
{
	struct zd_dax_reconfigure_opts ro = { .force = true, .no_online = true };
	unsigned long seq = zd_log_seq(pm->m);
	struct zd_dax_info di;
	int rc;

	zd_dax_info_get(r, &di);
	if (!strcmp(o->mode, "system-ram")) {
		if ((o->no_online || !o->no_movable) && !o->force &&
		    pm->m->auto_online_blocks != ZD_MMOP_OFFLINE) {
			fprintf(stderr, "%s: error: kernel policy will auto-online memory, aborting\n",
				di.chardev);
			return -EBUSY;
		}
		if (di.mode == ZD_DAX_MODE_SYSTEM_RAM) {
			fprintf(stderr, "%s was already in system-ram mode\n", di.chardev);
		} else {
			ro.mode = ZD_DAX_MODE_SYSTEM_RAM;
			rc = zd_dax_reconfigure_device(r, &ro);
			if (rc) {
				pm_library_why(pm, seq, di.chardev, rc);
				return rc;
			}
		}
		if (o->no_online)
			return 0;
		rc = online_blocks(pm, r, o);
		return rc < 0 ? rc : 0;
	}
	if (di.mode == ZD_DAX_MODE_DEVDAX) {
		fprintf(stderr, "%s was already in devdax mode\n", di.chardev);
		return 0;
	}
	if (o->force && (rc = offline_blocks(pm, r, o)) < 0)
		return rc;
	zd_dax_info_get(r, &di);
	if (di.online_memblocks) {
		if (o->verbose)
			fprintf(stderr, "%s: found %u memory sections online\n%s: refusing to "
				"change modes\n", di.chardev, di.online_memblocks, di.chardev);
		return -EBUSY;
	}
	ro.mode = ZD_DAX_MODE_DEVDAX;
	ro.force = false;
	rc = zd_dax_reconfigure_device(r, &ro);
	if (rc)
		pm_library_why(pm, seq, di.chardev, rc);
	return rc;
}

/* do_xaction_device(): every matching device; rc is the last one's. */
static int cmd_device(struct pmachine *pm, const char *sub, const char *ident,
		      const struct dopts *o)
{
	static const char *const done[] = { "reconfigured %d device%s\n",
					    "onlined memory for %d device%s\n",
					    "offlined memory for %d device%s\n" };
	static const char *const fail[] = { "error reconfiguring devices", "error onlining memory",
					    "error offlining memory" };
	int k = !strcmp(sub, "online-memory") ? 1 : !strcmp(sub, "offline-memory") ? 2 : 0;
	struct nj *devs = NULL;
	int rc = -ENXIO, processed = 0;

	for (int i = 0; i < pm_nr_regions(pm); i++) {
		struct zd_nd_region *r = pm_region(pm, i);
		struct zd_dax_info di;

		if (!r || zd_dax_info_get(r, &di) || !region_match(i, o->region) ||
		    !dev_match(i, di.chardev, ident))
			continue;
		if (k == 0) {
			rc = reconfig_one(pm, r, o);
			if (rc >= 0) {
				if (!devs)
					devs = nj_arr();
				nj_add(devs, NULL, dax_dev_json(pm, r, o->human));
				rc = 0;
			}
		} else if (di.mode != ZD_DAX_MODE_SYSTEM_RAM) {
			fprintf(stderr, "%s: memory operations are not applicable in devdax mode\n",
				di.chardev);
			rc = -ENXIO;
		} else {
			rc = k == 1 ? online_blocks(pm, r, o) : offline_blocks(pm, r, o);
		}
		processed += rc == 0;
	}
	/* the state could not be kept: exit 1, as documented */
	if (pm_save(pm))
		rc = rc ? rc : EXIT_FAIL;
	if (devs)
		nj_display_array(stdout, devs, o->human);
	fflush(stdout);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", fail[k], strerror(-rc));
	fprintf(stderr, done[k], processed, processed == 1 ? "" : "s");
	return rc;
}

static int parse_sub(const char *sub, int argc, char **argv, struct dopts *o, const char **dev)
{
	static const struct option opts[] = {
		{ "devices", no_argument, NULL, 'D' }, { "regions", no_argument, NULL, 'R' },
		{ "mappings", no_argument, NULL, 'M' }, { "idle", no_argument, NULL, 'i' },
		{ "human", no_argument, NULL, 'u' }, { "region", required_argument, NULL, 'r' },
		{ "dev", required_argument, NULL, 'd' }, { "mode", required_argument, NULL, 'm' },
		{ "no-online", no_argument, NULL, 'N' },
		{ "no-movable", no_argument, NULL, OPT_NO_MOVABLE },
		{ "force", no_argument, NULL, 'f' }, { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	bool list = !strcmp(sub, "list"), reconf = !strcmp(sub, "reconfigure-device");
	char cmd[64];
	int c;

	snprintf(cmd, sizeof(cmd), "daxctl %s", sub);
	optind = 0;
	while ((c = next_opt(cmd, argc, argv, ":DRMiur:d:m:Nfvh", opts)) != -1) {
		bool ok = true;

		switch (c) {
		case 'h': fputs(daxctl_help, stdout); return -1;
		case 'r': o->region = optarg; break;
		case 'u': o->human = true; break;
		case 'v': o->verbose = true; break;
		case 'D': ok = list; o->devs = true; break;
		case 'R': ok = list; o->regions = true; break;
		case 'M': ok = list; o->mappings = true; break;
		case 'i': ok = list; o->idle = true; break;
		case 'd': ok = list; o->dev = optarg; break;
		case 'm': ok = reconf; o->mode = optarg; break;
		case 'N': ok = reconf; o->no_online = true; break;
		case 'f': ok = reconf; o->force = true; break;
		case OPT_NO_MOVABLE: ok = reconf || !strcmp(sub, "online-memory");
			o->no_movable = true; break;
		default: return EXIT_USAGE;
		}
		if (!ok)
			return usage_error(cmd, "option '%s' does not apply to %s", argv[optind - 1],
					   sub);
	}
	if (list) {
		if (optind < argc)
			return usage_error(cmd, "unknown parameter \"%s\"", argv[optind]);
		return 0;
	}
	if (optind >= argc)
		return usage_error(cmd, "specify a device to %s, or \"all\"",
				   reconf ? "reconfigure" : !strcmp(sub, "online-memory") ?
				   "online memory for" : "offline memory for");
	if (optind + 1 < argc)
		return usage_error(cmd, "unknown extra parameter \"%s\"", argv[optind + 1]);
	/* parse_device_options(): /dev/dax0.0 names dax0.0 */
	*dev = strrchr(argv[optind], '/') ? strrchr(argv[optind], '/') + 1 : argv[optind];
	if (reconf && !o->mode)
		return usage_error(cmd, "a --mode is required (devdax or system-ram; --size and "
				   "--align are not modelled)");
	if (reconf && strcmp(o->mode, "devdax") && strcmp(o->mode, "system-ram"))
		return usage_error(cmd, "unknown mode '%s' (devdax or system-ram)", o->mode);
	if (reconf && o->no_online && !strcmp(o->mode, "devdax"))
		return usage_error(cmd, "--no-online is incompatible with --mode=devdax");
	return 0;
}

static int daxctl_main(int argc, char **argv)
{
	static const struct option opts[] = {
		PM_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const subs[] = { "list", "reconfigure-device", "online-memory",
					    "offline-memory", NULL };
	struct pm_opts po = { 0 };
	struct pmachine pm;
	struct dopts o = { 0 };
	const char *sub, *dev = NULL;
	int c, rc, i;

	while ((c = next_opt("daxctl", argc, argv, "+:h", opts)) != -1) {
		if (c == 'h') {
			fputs(daxctl_help, stdout);
			return EXIT_OK;
		}
		if (!pm_opt(c, optarg, &po))
			return EXIT_USAGE;
	}
	if (optind >= argc) {
		if (!po.reboot)
			return usage_error("daxctl", "missing command (list, reconfigure-device, "
					   "online-memory, offline-memory)");
		rc = pm_paths(&pm, "daxctl", &po);
		return rc ? rc : pm_reboot(&pm);
	}
	sub = argv[optind];
	for (i = 0; subs[i] && strcmp(subs[i], sub); i++)
		;
	if (!subs[i])
		return usage_error("daxctl", "'%s' is not a daxctl command zonedev models (list, "
				   "reconfigure-device, online-memory, offline-memory)", sub);
	rc = parse_sub(sub, argc - optind, argv + optind, &o, &dev);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	po.saves = i != 0;
	rc = pm_open(&pm, "daxctl", &po);
	if (!rc) {
		rc = pm_status(i == 0 ? cmd_list(&pm, &o) : cmd_device(&pm, sub, dev, &o));
	}
	fflush(stdout);
	return pm_close(&pm, rc);
}

/* A usage error exits as daxctl's does: 129 (usage_with_options). */
int cmd_daxctl(int argc, char **argv)
{
	int rc = daxctl_main(argc, argv);

	return rc == EXIT_USAGE ? ND_EXIT_USAGE : rc;
}
