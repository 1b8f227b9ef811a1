/*
 * `zonedev ndctl`: ndctl 76 on a persistent machine (pmachine.c): the
 * entry point, the help, `list` and the namespace and region objects, with
 * ndctl's field names, order and nesting (ndctl/json.c, ndctl/list.c):
 * namespaces alone print as an array (a single one alone under -u),
 * regions carry their namespaces, and two kinds at once go into one
 * object. The namespace commands are ndctl-namespace.c.
 * The machine is modelled as ndctl sees the recorded one (QEMU's NVDIMM
 * without a label area, an ACPI NFIT bus): regionN with one label-less
 * namespace namespaceN.0 each, raw until configured (no ND_REGION_PAGEMAP
 * as e820 regions have), no labels; its DIMMs are not modelled.
 * Invariants: list changes nothing (and saves nothing); a namespace that
 * disable-namespace (or destroy) took down shows as ndctl shows it then:
 * raw, the region's size, "state":"disabled", listed only with -i.
 */
#include "pmachine.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

const char ndctl_help[] =
	"usage: zonedev ndctl [--machine FILE] [--state FILE] [--reboot] [--dmesg]\n"
	"                     COMMAND [options]\n"
	"\n"
	"ndctl on a persistent machine. Each invocation boots the machine file\n"
	"(a YAML file with a 'machine:' section, as in scenarios; 'steps:' are not\n"
	"run), replays what the running kernel would still hold from the state\n"
	"file, runs one ndctl command with ndctl 76's options, prints ndctl's JSON\n"
	"and messages, saves the state and exits. The region files keep the info\n"
	"blocks and data; the state file keeps what only a reboot drops (disabled\n"
	"namespaces, system-ram dax devices, memory block states): --reboot drops\n"
	"it. So a script written for ndctl runs unchanged with ndctl=\"zonedev\n"
	"ndctl --machine M.yaml\". Regions are label-less: regionN holds one\n"
	"namespace, namespaceN.0, always the whole region. Commands:\n"
	"  list [-N] [-R] [-D] [-X] [-i] [-u] [-v] [-c] [-M] [-b BUS] [-r REGION]\n"
	"       [-n NAMESPACE] [-m MODE] [-t TYPE] [-d DIMM]\n"
	"  create-namespace -e NAMESPACE [-f] [-m MODE] [-M MAP] [-a ALIGN] [-s SIZE]\n"
	"                   [-r REGION] [-t pmem] [-u UUID] [-n NAME]\n"
	"  destroy-namespace NAMESPACE|all [-f] [-r REGION]\n"
	"  disable-namespace NAMESPACE|all [-r REGION]\n"
	"  enable-namespace NAMESPACE|all [-r REGION]\n"
	"create-namespace prints sizes in ndctl's human form on a terminal and as\n"
	"numbers otherwise, as ndctl does; without -e it fails as ndctl does on\n"
	"label-less regions.\n"
	"\n"
	"options:\n"
	PM_HELP_OPTIONS
	"  -N, --namespaces  list: include namespaces (the default)\n"
	"  -R, --regions     list: include regions (their namespaces inside them)\n"
	"  -D, --dimms       list: include DIMMs (label-less regions have none)\n"
	"  -d, --dimm DIMM   list: only what DIMM maps (nothing here)\n"
	"  -X, --device-dax  list: devdax namespaces with their daxregion and devices\n"
	"  -i, --idle        list: include disabled namespaces\n"
	"  -c, --configured  list: include disabled namespaces that have a size (all\n"
	"                    of them here)\n"
	"  -M, --media-errors\n"
	"                    list: include media errors (there are none)\n"
	"  -v, --verbose     list: namespaces with their daxregion, numa_node and\n"
	"                    target_node (-vv, which adds buses and DIMMs, is not\n"
	"                    modelled)\n"
	"  -b, --bus BUS     only bus BUS (ndbus0, 0, its provider ACPI.NFIT, or all)\n"
	"  -t, --type TYPE   list: only regions of TYPE (pmem; blk matches none)\n"
	"  -u, --human       list: sizes as \"7.87 GiB (8.45 GB)\"; a single object is\n"
	"                    printed alone, not in an array\n"
	"  -r, --region R    only region R (N, regionN or all)\n"
	"  -n, --namespace NS\n"
	"                    list: only namespace NS (namespaceN.0, N.0 or all)\n"
	"  -m, --mode MODE   fsdax, devdax or raw (list: filter; create: the mode)\n"
	"  -e, --reconfig NS create-namespace: reconfigure namespace NS\n"
	"  -f, --force       reconfigure or destroy an active namespace; skip the\n"
	"                    16 MiB alignment check\n"
	"  -M, --map MAP     create-namespace: the memmap in 'mem' or on the 'dev'\n"
	"  -a, --align A     create-namespace: 4K, 2M or (devdax, x86_64) 1G\n"
	"  -s, --size SIZE   create-namespace: must be the region's size here\n"
	"  -t, --type TYPE   create-namespace: pmem (blk regions do not exist here)\n"
	"  -u, --uuid UUID   create-namespace: checked, then unused (label-less)\n"
	"  -n, --name NAME   create-namespace: unused (label-less namespaces have none)\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 129 usage error (as ndctl), 1 the machine or its state\n"
	"             could not be loaded or saved; otherwise ndctl's: the errno's\n"
	"             low byte (234 EINVAL, 240 EBUSY, 250 ENXIO, 237 ENODEV)\n";

struct lopts {
	bool namespaces, regions, dimms, dax, idle, configured, human;
	int verbose;
	const char *region, *ns, *mode, *dimm, *bus, *type;
};

/* ndctl's view: a namespace disable-namespace took down lost its claim. */
static int listed_mode(const struct zd_nd_namespace_info *in)
{
	return in->user_disabled ? ZD_NS_MODE_RAW : (int)in->mode;
}

/* ndctl's UTIL_JSON_VERBOSE fields: a pmem region's memory would join its
 * own node. */
static void node_json(struct nj *o, const struct pmachine *pm, int idx)
{
	nj_kint(o, "numa_node", pm->s.pmem[idx].node);
	nj_kint(o, "target_node", pm->s.pmem[idx].node);
}

struct nj *nd_namespace_json(struct pmachine *pm, int idx, bool human, bool dax, bool verbose)
{
	struct zd_nd_region *r = pm_region(pm, idx);
	struct zd_nd_namespace_info in;
	struct nj *o = nj_obj(), *dr;
	int mode;

	zd_nd_namespace_get(r, &in);
	mode = listed_mode(&in);
	nj_kstr(o, "dev", in.dev);
	nj_kstr(o, "mode", zd_nd_ns_mode_name((enum zd_nd_ns_mode)mode));
	if (mode != ZD_NS_MODE_RAW)
		nj_kstr(o, "map", in.map == ZD_ND_MAP_MEM ? "mem" : "dev");
	nj_ksize(o, "size", mode == ZD_NS_MODE_RAW ? pm->s.pmem[idx].size : in.size, human);
	if (mode != ZD_NS_MODE_RAW)
		nj_kstr(o, "uuid", in.uuid);
	if (mode == ZD_NS_MODE_DEVDAX && dax && (dr = dax_region_json(pm, r, false, true, human)))
		nj_add(o, "daxregion", dr);
	else if (mode == ZD_NS_MODE_DEVDAX && in.enabled)
		nj_kstr(o, "chardev", in.chardev);
	if (mode != ZD_NS_MODE_DEVDAX)
		nj_kint(o, "sector_size", 512);
	if (mode != ZD_NS_MODE_RAW)
		nj_ku64(o, "align", in.align);
	if (in.enabled && mode != ZD_NS_MODE_DEVDAX)
		nj_kstr(o, "blockdev", in.blockdev);
	if (!in.enabled)
		nj_kstr(o, "state", "disabled");
	if (verbose)
		node_json(o, pm, idx);
	return o;
}

/* region_to_json(): a label-less region has nothing to allocate from. */
static struct nj *region_json(struct pmachine *pm, int idx, bool human, bool verbose)
{
	struct nj *o = nj_obj();

	nj_kstr(o, "dev", zd_nd_region_name(pm_region(pm, idx)));
	nj_ksize(o, "size", pm->s.pmem[idx].size, human);
	nj_ksize(o, "align", zd_nd_region_align(pm_region(pm, idx)), human);
	nj_ksize(o, "available_size", 0, human);
	nj_ksize(o, "max_available_extent", 0, human);
	nj_kstr(o, "type", "pmem");
	if (verbose)
		node_json(o, pm, idx);
	nj_kstr(o, "persistence_domain", "unknown");
	return o;
}

/* Whether one space-separated word of an ndctl filter names the object. */
typedef bool (*nd_word_match)(int id, const char *word);

static bool any_word(int id, const char *ident, nd_word_match match)
{
	char buf[256], *save = NULL;

	if (!ident)
		return true;
	snprintf(buf, sizeof(buf), "%s", ident);
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (!strcmp(t, "all") || match(id, t))
			return true;
	return false;
}

/* A word that is a whole number (strtoul, any base), as the region and bus
 * filters take ids. */
static bool whole_number(const char *t, unsigned long *n)
{
	char *end;

	*n = strtoul(t, &end, 0);
	return end != t && !*end;
}

/* util_region_filter(): its id or its exact name. */
static bool region_word(int id, const char *t)
{
	char name[32];
	unsigned long n;

	snprintf(name, sizeof(name), "region%d", id);
	return whole_number(t, &n) ? n == (unsigned long)id : !strcmp(t, name);
}

bool nd_region_match(int id, const char *ident)
{
	return any_word(id, ident, region_word);
}

/* util_namespace_filter(): the exact name, or "R.N" as its sscanf reads it. */
static bool ns_word(int id, const char *t)
{
	char name[32];
	long a, b;

	snprintf(name, sizeof(name), "namespace%d.0", id);
	return !strcmp(t, name) || (sscanf(t, "%ld.%ld", &a, &b) == 2 && a == id && b == 0);
}

static bool ns_match(int id, const char *ident)
{
	return any_word(id, ident, ns_word);
}

/* util_bus_filter(): one bus, id 0, ndbus0, provider ACPI.NFIT. */
static bool bus_word(int id, const char *t)
{
	unsigned long n;

	return whole_number(t, &n) ? n == (unsigned long)id :
	       !strcmp(t, "ndbus0") || !strcmp(t, "ACPI.NFIT");
}

static int cmd_list(struct pmachine *pm, struct lopts *o)
{
	struct nj *regions = NULL, *namespaces = NULL;

	if (!o->namespaces && !o->regions && !o->dimms) {
		o->regions = !!o->region;
		o->dimms = !!o->dimm;
		if (o->dax && !o->mode)
			o->mode = "devdax";
	}
	/* cmd_list()'s -v level 1 (2 and up are refused at parse time) */
	if (o->verbose)
		o->namespaces = o->dax = true;
	if (!o->namespaces && !o->regions && !o->dimms)
		o->namespaces = true;
	for (int i = 0; i < pm_nr_regions(pm); i++) {
		struct zd_nd_namespace_info in;
		struct nj *region = NULL;

		/* A DIMM filter matches nothing: these regions have none. */
		if (!nd_region_match(i, o->region) || !ns_match(i, o->ns) || o->dimm ||
		    !any_word(0, o->bus, bus_word) || (o->type && strcmp(o->type, "pmem")))
			continue;
		if (o->regions) {
			region = region_json(pm, i, o->human, o->verbose);
			if (!regions)
				regions = nj_arr();
			nj_add(regions, NULL, region);
			namespaces = NULL;   /* each region holds its own */
		}
		zd_nd_namespace_get(pm_region(pm, i), &in);
		/* filter_namespace(): a disabled one with -i, or -c (every
		 * label-less namespace has its region's size); a sector filter
		 * is valid and matches nothing, there is no BTT here */
		if (!o->namespaces || (!in.enabled && !o->idle && !o->configured) ||
		    (o->mode && nd_mode_from_name(o->mode) != listed_mode(&in)))
			continue;
		if (!namespaces) {
			namespaces = nj_arr();
			if (region)
				nj_add(region, "namespaces", namespaces);
		}
		nj_add(namespaces, NULL, nd_namespace_json(pm, i, o->human, o->dax, o->verbose));
	}
	/* list_display(): namespaces hang off the regions when both are on */
	if (regions && namespaces) {
		struct nj *platform = nj_obj();

		nj_add(platform, "regions", regions);
		nj_print(stdout, platform);
	} else if (regions) {
		nj_display_array(stdout, regions, o->human);
	} else if (namespaces) {
		nj_display_array(stdout, namespaces, o->human);
	}
	return 0;
}

static int parse_list(int argc, char **argv, struct lopts *o)
{
	static const struct option opts[] = {
		{ "namespaces", no_argument, NULL, 'N' }, { "regions", no_argument, NULL, 'R' },
		{ "dimms", no_argument, NULL, 'D' }, { "device-dax", no_argument, NULL, 'X' },
		{ "idle", no_argument, NULL, 'i' }, { "human", no_argument, NULL, 'u' },
		{ "region", required_argument, NULL, 'r' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' }, { "dimm", required_argument, NULL, 'd' },
		{ "bus", required_argument, NULL, 'b' }, { "type", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' }, { "configured", no_argument, NULL, 'c' },
		{ "media-errors", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	while ((c = next_opt("ndctl list", argc, argv, ":NRDXiur:n:m:d:b:t:vcMh", opts)) != -1) {
		switch (c) {
		case 'N': o->namespaces = true; break;
		case 'R': o->regions = true; break;
		case 'D': o->dimms = true; break;
		case 'X': o->dax = true; break;
		case 'i': o->idle = true; break;
		case 'u': o->human = true; break;
		case 'r': o->region = optarg; break;
		case 'n': o->ns = optarg; break;
		case 'd': o->dimm = optarg; break;
		case 'b': o->bus = optarg; break;
		case 't': o->type = optarg; break;
		case 'v': o->verbose++; break;
		case 'c': o->configured = true; break;
		case 'M': break;             /* no badblocks */
		case 'm':
			if (nd_mode_from_name(optarg) == -1)
				return usage_error("ndctl list", "invalid mode '%s' (fsdax, devdax, raw "
						   "or sector)", optarg);
			o->mode = optarg;
			break;
		case 'h': fputs(ndctl_help, stdout); return -1;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("ndctl list", "unknown parameter \"%s\"", argv[optind]);
	if (o->verbose > 1)
		return usage_error("ndctl list", "-vv and -vvv list buses and DIMMs, which "
				   "zonedev does not model (the NFIT's DIMMs are not modelled)");
	/* cmd_list(): a filter alone lists its kind; a bus filter, buses */
	if (o->bus && !o->namespaces && !o->regions && !o->dimms && !o->dax && !o->verbose)
		return usage_error("ndctl list", "-b alone lists buses, which zonedev does not "
				   "model: add -N or -R");
	return 0;
}

static int ndctl_main(int argc, char **argv)
{
	static const struct option opts[] = {
		PM_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const subs[] = { "list", "create-namespace", "destroy-namespace",
					    "disable-namespace", "enable-namespace", NULL };
	struct pm_opts po = { 0 };
	struct nd_nsopts no = { 0 };
	struct lopts lo = { 0 };
	struct pmachine pm;
	const char *sub;
	int c, rc, i;

	while ((c = next_opt("ndctl", argc, argv, "+:h", opts)) != -1) {
		if (c == 'h') {
			fputs(ndctl_help, stdout);
			return EXIT_OK;
		}
		if (!pm_opt(c, optarg, &po))
			return EXIT_USAGE;
	}
	if (optind >= argc) {
		if (!po.reboot)
			return usage_error("ndctl", "missing command (list, create-namespace, "
					   "destroy-namespace, disable-namespace, enable-namespace)");
		rc = pm_paths(&pm, "ndctl", &po);
		return rc ? rc : pm_reboot(&pm);
	}
	sub = argv[optind];
	for (i = 0; subs[i] && strcmp(subs[i], sub); i++)
		;
	if (!subs[i])
		return usage_error("ndctl", "'%s' is not an ndctl command zonedev models (list, "
				   "create-namespace, destroy-namespace, disable-namespace, "
				   "enable-namespace)", sub);
	rc = i == 0 ? parse_list(argc - optind, argv + optind, &lo) :
		      nd_ns_parse(sub, argc - optind, argv + optind, &no);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	po.saves = i != 0;
	rc = pm_open(&pm, "ndctl", &po);
	if (!rc)
		rc = pm_status(i == 0 ? cmd_list(&pm, &lo) : nd_ns_run(&pm, &no));
	fflush(stdout);
	return pm_close(&pm, rc);
}

/* A usage error exits as ndctl's does: 129 (usage_with_options). */
int cmd_ndctl(int argc, char **argv)
{
	int rc = ndctl_main(argc, argv);

	return rc == EXIT_USAGE ? ND_EXIT_USAGE : rc;
}
