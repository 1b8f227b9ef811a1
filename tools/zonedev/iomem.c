/*
 * `zonedev iomem`: boot a machine only to print its physical address map,
 * and say where the layout came from (stderr, and "source"/"source_detail"
 * in JSON). The host's /proc/iomem is imported only when it can describe
 * the requested machine: the same architecture family as the host, and
 * real addresses (an unprivileged reader sees every address as 0). Every
 * other case uses the profile's built-in layout and says why.
 * ZD_HOST_IOMEM names another file to treat as the host's (a test hook).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "cli.h"

enum { OPT_JSON = 1000, OPT_ARCH, OPT_PHYS_BITS, OPT_IMPORT, OPT_DEFAULT };

static const char iomem_help_fmt[] =
	"usage: zonedev iomem [--arch A] [--phys-bits N] [--import PATH | --default]\n"
	"                     [--json]\n"
	"\n"
	"Boot a machine and print its iomem resource tree in /proc/iomem format.\n"
	"By default the layout is imported from this host's /proc/iomem when the\n"
	"arch is the host's and the file shows real addresses (as root); otherwise\n"
	"the arch's built-in layout is used. Where the layout came from is said on\n"
	"stderr (and in JSON as source and source_detail).\n"
	"\n"
	"options:\n"
	"  --arch A          architecture profile (default x86_64): %s\n"
	"  --phys-bits N     physical address bits, above the section size and at most\n"
	"                    the profile's maximum (default: the maximum)\n"
	"  --import PATH     import the layout from a /proc/iomem-format file\n"
	"  --default         use the built-in layout, do not read /proc/iomem\n"
	"  --json            one JSON document on stdout instead of text\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 1 the machine could not boot or invariant checks fired,\n"
	"             2 usage error\n";

/* The arch family this host's /proc/iomem belongs to, from uname; -1 for
 * a host no profile models. */
static int host_family(char *machine, size_t len)
{
	struct utsname u;

	if (uname(&u))
		return -1;
	snprintf(machine, len, "%s", u.machine);
	if (!strcmp(u.machine, "x86_64"))
		return ZD_ARCH_X86;
	if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
		return ZD_ARCH_ARM64;
	if (!strncmp(u.machine, "ppc64", 5))
		return ZD_ARCH_PPC64;
	return -1;
}

/* Whether the host's listing can be imported for arch; why not in detail. */
static bool host_usable(const char *path, const char *arch, char *detail, size_t len)
{
	struct zd_iomem_entry *e = NULL;
	char machine[80] = "", err[160];
	int fam = host_family(machine, sizeof(machine));
	size_t n = 0;
	FILE *f;
	int rc;

	if (fam != (int)zd_arch_find(arch)->family) {
		snprintf(detail, len, "this host is %s, so its %s describes another architecture "
			 "than %s", machine[0] ? machine : "unknown", path, arch);
		return false;
	}
	f = fopen(path, "r");
	if (!f) {
		snprintf(detail, len, "cannot read %s: %s", path, strerror(errno));
		return false;
	}
	rc = zd_iomem_parse(f, &e, &n, err, sizeof(err));
	fclose(f);
	free(e);
	if (rc == -EPERM)
		snprintf(detail, len, "%s shows every address as 0 (it hides them from users "
			 "other than root); run as root to import it", path);
	else if (rc)
		snprintf(detail, len, "%s does not parse: %s", path, err);
	else if (!n)
		snprintf(detail, len, "%s lists nothing", path);
	return rc == 0 && n > 0;
}

static int parse_args(int argc, char **argv, struct zd_machine_desc *d, const char **import,
		      bool *force_default, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "phys-bits", required_argument, NULL, OPT_PHYS_BITS },
		{ "import", required_argument, NULL, OPT_IMPORT },
		{ "default", no_argument, NULL, OPT_DEFAULT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	uint64_t bits = 0;
	int c;

	while ((c = next_opt("iomem", argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case OPT_JSON: *json = true; break;
		case OPT_ARCH:
			if (!zd_arch_find(optarg))
				return usage_error("iomem", "unknown arch '%s' (known: %s)", optarg,
						   fmt_arch_names());
			d->arch = optarg;
			break;
		case OPT_PHYS_BITS:
			if (parse_uint(optarg, &bits, &why) || bits < 1 || bits > 64)
				return usage_error("iomem", "--phys-bits wants a number of bits "
						   "(1-64), not '%s'", optarg);
			d->phys_bits = (unsigned)bits;
			break;
		case OPT_IMPORT: *import = optarg; break;
		case OPT_DEFAULT: *force_default = true; break;
		case 'h': printf(iomem_help_fmt, fmt_arch_names()); return -1;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("iomem", "unexpected argument '%s'", argv[optind]);
	if (*import && *force_default)
		return usage_error("iomem", "--import and --default exclude each other");
	if (d->phys_bits) {
		const struct zd_arch *a = zd_arch_find(d->arch);

		if (d->phys_bits <= a->section_size_bits || d->phys_bits > a->max_physmem_bits)
			return usage_error("iomem", "--phys-bits %u is outside what %s can hold "
					   "(%u to %u)", d->phys_bits, a->name,
					   a->section_size_bits + 1, a->max_physmem_bits);
	}
	return 0;
}

int cmd_iomem(int argc, char **argv)
{
	const char *host = getenv("ZD_HOST_IOMEM");
	struct zd_machine_desc d = { .arch = "x86_64" };
	const char *import = NULL, *source = "default";
	bool json = false, force_default = false;
	char detail[768], why[512];
	struct zd_machine *m;
	int rc;

	if (!host || !*host)
		host = "/proc/iomem";
	rc = parse_args(argc, argv, &d, &import, &force_default, &json);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (import) {
		d.iomem_path = source = import;
		snprintf(detail, sizeof(detail), "imported from %s", import);
	} else if (force_default) {
		snprintf(detail, sizeof(detail), "the built-in %s layout (--default)", d.arch);
	} else if (host_usable(host, d.arch, why, sizeof(why))) {
		d.iomem_path = source = host;
		snprintf(detail, sizeof(detail), "imported from this host's %s", host);
	} else {
		snprintf(detail, sizeof(detail), "the built-in %s layout: %s", d.arch, why);
	}
	if (!d.iomem_path)
		default_layout(d.arch, &d.ram, &d.nr_ram, &d.reserved, &d.nr_reserved);
	m = zd_machine_create(&d);
	if (ZD_IS_ERR_OR_NULL(m) && d.iomem_path && !import) {
		/* The host's map did not fit this profile: fall back, say so. */
		snprintf(why, sizeof(why), "%s", zd_machine_create_error());
		snprintf(detail, sizeof(detail), "the built-in %s layout: %s did not boot as %s (%s)",
			 d.arch, host, d.arch, why);
		d.iomem_path = NULL;
		default_layout(d.arch, &d.ram, &d.nr_ram, &d.reserved, &d.nr_reserved);
		source = "default";
		m = zd_machine_create(&d);
	}
	if (ZD_IS_ERR_OR_NULL(m)) {
		fprintf(stderr, "zonedev iomem: cannot boot the machine from %s: %s\n",
			source, zd_machine_create_error());
		return EXIT_FAIL;
	}
	fprintf(stderr, "zonedev iomem: layout: %s\n", detail);
	if (json) {
		struct jw w;

		jw_init(&w, stdout);
		jw_obj_begin(&w);
		jw_kstr(&w, "zonedev", ZONEDEV_VERSION);
		jw_kstr(&w, "source", source);
		jw_kstr(&w, "source_detail", detail);
		jw_kstr(&w, "arch", m->arch.name);
		jw_ku64(&w, "phys_bits", m->arch.phys_bits);
		jw_key(&w, "iomem");
		report_json(m, RP_IOMEM, &w);
		jw_ku64(&w, "warnings", zd_warn_count(m));
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		report_text(m, RP_IOMEM, stdout);
	}
	fflush(stdout);
	rc = EXIT_OK;
	if (zd_warn_count(m)) {
		fprintf(stderr, "zonedev iomem: %lu invariant check(s) fired while booting\n",
			zd_warn_count(m));
		rc = EXIT_FAIL;
	}
	zd_machine_destroy(m);
	return rc;
}
