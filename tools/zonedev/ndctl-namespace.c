/*
 * `zonedev ndctl create-namespace | destroy-namespace | disable-namespace |
 * enable-namespace` (ndctl/namespace.c of ndctl 76) on label-less regions:
 * ndctl's checks in ndctl's order with its messages ("  Error: ..."), its
 * summary lines ("destroyed 1 namespace") and its -errno results, around
 * the library's namespace operations (zd_nd_create_namespace and friends),
 * which write the media.
 * ndctl reconfigures by tearing down first; here every refusal ndctl can
 * make is checked before anything is touched, and the library's create
 * keeps the old info block until the new one is claimed, so a refused or
 * failed create leaves the region file as it was.
 * Invariants: the state is saved before anything is printed; like ndctl,
 * destroy and reconfigure wipe the first 8 KiB of a namespace that ends
 * raw, and destroy leaves the namespace disabled.
 */
#include "pmachine.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define SZ_16M (16ULL << 20)
#define INFO_SIZE 8192          /* what ndctl's zero_info_block() clears */

static int err_count;           /* ndctl's: err() was used, no generic line */

/* ndctl's error(): "  Error: " and the message, which ends in its own
 * newline, then report()'s. */
static void nd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void nd_error(const char *fmt, ...)
{
	va_list ap;

	fputs("  Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* __parse_size64(): a number (any base) and one optional binary suffix. */
static bool parse_size64(const char *s, uint64_t *out, uint64_t *units)
{
	char *end;
	uint64_t v;

	*units = 1;
	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': *units = 1ULL << 10; end++; break;
	case 'm': case 'M': *units = 1ULL << 20; end++; break;
	case 'g': case 'G': *units = 1ULL << 30; end++; break;
	case 't': case 'T': *units = 1ULL << 40; end++; break;
	}
	if (*end || (*units > 1 && v > UINT64_MAX / *units))
		return false;
	*out = v * *units;
	return true;
}

/* util_nsmode(): ndctl's mode names and their legacy spellings; -2 for
 * the modes ndctl knows and the model does not (sector/BTT). */
int nd_mode_from_name(const char *s)
{
	if (!strcmp(s, "fsdax") || !strcmp(s, "memory"))
		return ZD_NS_MODE_FSDAX;
	if (!strcmp(s, "devdax") || !strcmp(s, "dax"))
		return ZD_NS_MODE_DEVDAX;
	if (!strcmp(s, "raw"))
		return ZD_NS_MODE_RAW;
	return !strcmp(s, "sector") || !strcmp(s, "safe") ? -2 : -1;
}

int nd_ns_parse(const char *sub, int argc, char **argv, struct nd_nsopts *o)
{
	static const struct option opts[] = {
		{ "region", required_argument, NULL, 'r' }, { "reconfig", required_argument, NULL, 'e' },
		{ "force", no_argument, NULL, 'f' }, { "mode", required_argument, NULL, 'm' },
		{ "map", required_argument, NULL, 'M' }, { "align", required_argument, NULL, 'a' },
		{ "size", required_argument, NULL, 's' }, { "type", required_argument, NULL, 't' },
		{ "uuid", required_argument, NULL, 'u' }, { "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	bool create = !strcmp(sub, "create-namespace");
	uint64_t v, units;
	char cmd[64];
	int c;

	snprintf(cmd, sizeof(cmd), "ndctl %s", sub);
	memset(o, 0, sizeof(*o));
	o->sub = sub;
	o->do_scan = argc == 1;
	optind = 0;
	while ((c = next_opt(cmd, argc, argv, ":r:e:fm:M:a:s:t:u:n:h", opts)) != -1) {
		if (c == 'h') {
			fputs(ndctl_help, stdout);
			return -1;
		}
		if (c == -2 || c == '?' || c == ':')
			return EXIT_USAGE;
		if (!create && c != 'r' && !(c == 'f' && !strcmp(sub, "destroy-namespace")))
			return usage_error(cmd, "option '%s' does not apply to %s", argv[optind - 1],
					   sub);
		switch (c) {
		case 'r': o->region = optarg; break;
		case 'e': o->namespace = optarg; break;
		case 'f': o->force = true; break;
		case 'm': o->mode = optarg; break;
		case 'M': o->map = optarg; break;
		case 'a': o->align = optarg; break;
		case 's': o->size = optarg; break;
		case 't': o->type = optarg; break;
		case 'u': o->uuid = optarg; break;
		case 'n': o->name = optarg; break;
		}
	}
	if (!create) {
		if (optind >= argc)
			return usage_error(cmd, "specify a namespace to %.*s, or \"all\"",
					   (int)strcspn(sub, "-"), sub);
		o->namespace = argv[optind++];
	}
	if (optind < argc)
		return usage_error(cmd, "unknown extra parameter \"%s\"", argv[optind]);
	/* set_defaults(): what ndctl rejects before looking at any device */
	if (o->type && strcmp(o->type, "pmem") && strcmp(o->type, "blk"))
		return usage_error(cmd, "invalid type '%s', must be either 'pmem' or 'blk'", o->type);
	if (o->mode && nd_mode_from_name(o->mode) == -1)
		return usage_error(cmd, "invalid mode '%s'", o->mode);
	if (o->mode && nd_mode_from_name(o->mode) == -2)
		return usage_error(cmd, "sector mode (BTT) is not modelled by zonedev");
	if (o->map && strcmp(o->map, "mem") && strcmp(o->map, "dev"))
		return usage_error(cmd, "invalid map location '%s'", o->map);
	if (o->map && !o->namespace && o->mode && nd_mode_from_name(o->mode) == ZD_NS_MODE_RAW)
		return usage_error(cmd, "--map only valid for an devdax mode pmem namespace");
	if (o->size && !parse_size64(o->size, &v, &units))
		return usage_error(cmd, "failed to parse namespace size '%s'", o->size);
	if (o->align && !parse_size64(o->align, &v, &units))
		return usage_error(cmd, "failed to parse namespace alignment '%s'", o->align);
	if (o->align && (v & (v - 1) || v < (uint64_t)sysconf(_SC_PAGE_SIZE)))
		return usage_error(cmd, "align must be a power-of-2 greater than %ld",
				   sysconf(_SC_PAGE_SIZE));
	if (o->uuid && zd_nd_uuid_parse(o->uuid, (uint8_t[16]){ 0 }))
		return usage_error(cmd, "failed to parse uuid: '%s'", o->uuid);
	return 0;
}

/* ---------- the checks of validate_namespace_options() ---------- */

struct plan {
	int region;
	enum zd_nd_ns_mode mode;
	enum zd_nd_pfn_mode map;
	uint64_t size, align;
};

static int validate(struct pmachine *pm, int idx, const struct nd_nsopts *o, struct plan *p)
{
	const struct zd_nd_region_desc *d = &pm->s.pmem[idx];
	const struct zd_arch *a = &pm->m->arch;
	struct zd_nd_region *r = pm_region(pm, idx);
	uint64_t units = 1, region_align = zd_nd_region_align(r);
	struct zd_nd_namespace_info in;
	int cur;

	zd_nd_namespace_get(r, &in);
	cur = in.user_disabled ? ZD_NS_MODE_RAW : (int)in.mode;
	p->region = idx;
	p->size = d->size;
	if (o->size)
		parse_size64(o->size, &p->size, &units);
	/* validate_available_capacity(): a label-less region offers its size */
	if (!o->namespace && p->size > d->size)
		return -EAGAIN;
	if (p->size != d->size) {
		nd_error("Legacy / label-less namespaces do not support sub-dividing a region\n");
		nd_error("Retry without -s/--size=\n");
		return -EINVAL;
	}
	p->mode = o->mode ? (enum zd_nd_ns_mode)nd_mode_from_name(o->mode) :
		  o->namespace ? (enum zd_nd_ns_mode)cur : ZD_NS_MODE_FSDAX;
	if (o->align) {
		uint64_t units2, want = 0;
		bool ok;

		if (p->mode == ZD_NS_MODE_RAW) {
			nd_error("%s mode does not support setting an alignment\n",
				 zd_nd_ns_mode_name(p->mode));
			return -ENXIO;
		}
		parse_size64(o->align, &want, &units2);
		/* nd_pfn_supported_alignments(): PAGE_SIZE, PMD, PUD with PUD THP */
		ok = want == a->page_size || want == 1ULL << a->pmd_shift ||
		     (a->thp_pud && want == 1ULL << a->pud_shift);
		if (!ok) {
			nd_error("unsupported align: %s\n", o->align);
			return -ENXIO;
		}
		p->align = want;
	} else if (o->namespace && (int)p->mode == cur) {
		p->align = cur == ZD_NS_MODE_RAW ? a->page_size : in.align;
	} else {
		p->align = p->mode == ZD_NS_MODE_RAW ? a->page_size : 1ULL << a->pmd_shift;
		if (d->start & (p->align - 1))
			p->align = a->page_size;   /* "falling back to a page alignment" */
	}
	if (p->size % region_align) {
		err_count++;
		nd_error("create namespace: %s: align setting is %#llx size %#llx is misaligned\n",
			 zd_nd_region_name(r), (unsigned long long)region_align,
			 (unsigned long long)p->size);
		return -EINVAL;
	}
	if (p->size % p->align) {
		uint64_t step = units > p->align ? units : p->align;
		const char *suffix = units == 1ULL << 10 ? "K" : units == 1ULL << 20 ? "M" :
				     units == 1ULL << 30 ? "G" : units == 1ULL << 40 ? "T" : "";

		err_count++;
		nd_error("create namespace: '--size=' must align to interleave-width: 1 and "
			 "alignment: %llu\ndid you intend --size=%llu%s?\n",
			 (unsigned long long)p->align,
			 (unsigned long long)((p->size / step + 1) * step / units), suffix);
		return -EINVAL;
	}
	if (p->size < SZ_16M && p->mode != ZD_NS_MODE_RAW) {
		if (!o->size && !o->namespace)
			return -EAGAIN;
		nd_error("'--size=' must be >= 16MiB for '%s' mode\n", zd_nd_ns_mode_name(p->mode));
		return -EINVAL;
	}
	if (o->map && o->namespace && p->mode == ZD_NS_MODE_RAW) {
		err_count++;
		nd_error("create namespace: %s: --map= only valid for fsdax mode namespace\n", in.dev);
		return -EINVAL;
	}
	p->map = o->map && !strcmp(o->map, "mem") ? ZD_ND_MAP_MEM : ZD_ND_MAP_DEV;
	return 0;
}

/* namespace_prep_reconfig()'s refusals, before it tears anything down. */
static int prep_checks(struct pmachine *pm, int idx, bool force)
{
	struct zd_nd_region *r = pm_region(pm, idx);
	struct zd_nd_namespace_info in;
	struct zd_dax_info di;

	zd_nd_namespace_get(r, &in);
	if (pm->s.pmem[idx].read_only) {
		nd_error("%s: read-only, re-configuration disabled\n", in.dev);
		return -ENXIO;
	}
	if (in.enabled && !force) {
		nd_error("%s is active, specify --force for re-configuration\n", in.dev);
		return -EBUSY;
	}
	/* ndctl_namespace_disable_safe(): "active as system-ram" */
	if (!zd_dax_info_get(r, &di) && di.online_memblocks)
		return -EBUSY;
	return 0;
}

/* zero_info_block() on a namespace that is raw and enabled now: 0 if
 * its first 8 KiB had to be cleared, 1 if they were zero already. */
static int zero_info_block(struct zd_nd_region *r)
{
	static const char zero[INFO_SIZE];
	uint64_t size;
	const char *data = zd_nd_namespace_data(r, &size);

	if (!data || size < INFO_SIZE || !memcmp(data, zero, INFO_SIZE))
		return 1;
	return zd_nd_namespace_write(r, 0, zero, INFO_SIZE) ? -ENXIO : 0;
}

/* The library's reason for a failure ndctl would only see as an errno. */
static int reconfigure(struct pmachine *pm, const struct nd_nsopts *o, const struct plan *p)
{
	struct zd_nd_region *r = pm_region(pm, p->region);
	unsigned long seq = zd_log_seq(pm->m);
	struct zd_nd_namespace_info in;
	uint8_t uuid[16];
	bool was_disabled;
	int rc;

	zd_nd_namespace_get(r, &in);
	was_disabled = !in.enabled;
	rc = prep_checks(pm, p->region, o->force);
	if (rc)
		return rc;
	if (p->mode != ZD_NS_MODE_RAW && !o->force && pm->s.pmem[p->region].start % SZ_16M) {
		nd_error("%s misaligned to 16M, adjust region alignment and retry\n", in.dev);
		return -EINVAL;
	}
	if (p->mode == ZD_NS_MODE_RAW) {
		rc = zd_nd_destroy_namespace(r);
		if (!rc && zero_info_block(r) < 0)
			rc = -ENXIO;
	} else {
		/* setup_namespace(): every pfn/dax instance gets a fresh uuid */
		struct zd_nd_namespace_opts no = {
			.mode = p->mode, .map = p->map, .align = p->align, .uuid = uuid, .force = true,
		};

		if (getrandom(uuid, sizeof(uuid), 0) != sizeof(uuid))
			for (size_t i = 0; i < sizeof(uuid); i++)
				uuid[i] = (uint8_t)(rand() >> 7);
		uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
		uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
		rc = zd_nd_create_namespace(r, &no);
	}
	if (rc) {
		nd_error("%s: failed to enable\n", in.dev);
		pm_library_why(pm, seq, in.dev, rc);
		/* ndctl had torn it down already: it stays down */
		zd_nd_namespace_get(r, &in);
		if (was_disabled && in.enabled)
			zd_nd_disable_namespace(r);
	}
	return rc;
}

static int cmd_create(struct pmachine *pm, const struct nd_nsopts *o)
{
	struct plan p;
	int rc = -ENXIO;

	for (int i = 0; i < pm_nr_regions(pm); i++) {
		char name[32];

		snprintf(name, sizeof(name), "namespace%d.0", i);
		if (!nd_region_match(i, o->region) || (o->type && strcmp(o->type, "pmem")))
			continue;
		if (o->namespace && strcmp(o->namespace, name) && strcmp(o->namespace, "all"))
			continue;
		rc = validate(pm, i, o, &p);
		if (!o->namespace) {
			/* namespace_create(): a label-less namespace is never
			 * idle, so no region has room for another */
			if (rc == -EAGAIN || !rc) {
				rc = -EAGAIN;
				continue;
			}
			break;
		}
		if (!rc)
			rc = reconfigure(pm, o, &p);
		if (pm_save(pm) && !rc)
			rc = EXIT_FAIL;
		/* ndctl's setup_namespace(): human sizes only on a terminal */
		if (!rc)
			nj_print(stdout, nd_namespace_json(pm, i, isatty(STDOUT_FILENO), true, false));
		break;
	}
	if (rc == -EAGAIN)
		rc = -ENOSPC;
	/* cmd_create_namespace(): a bare create retries with type blk, and
	 * do_xaction_namespace() finds no blk region: -ENXIO */
	if (rc < 0 && !o->namespace && o->do_scan)
		rc = -ENXIO;
	if (rc < 0 && !err_count) {
		fflush(stdout);
		fprintf(stderr, "failed to %s namespace: %s\n", o->namespace ? "reconfigure" : "create",
			strerror(-rc));
		if (!o->namespace)
			rc = -ENODEV;
	}
	return rc;
}

/* namespace_destroy() of a label-less namespace: it ends raw, its first
 * 8 KiB cleared, and disabled; 1 when there was nothing to clear. */
static int destroy_one(struct pmachine *pm, int idx, bool force)
{
	struct zd_nd_region *r = pm_region(pm, idx);
	unsigned long seq = zd_log_seq(pm->m);
	struct zd_nd_namespace_info in;
	bool had_block;
	int rc = prep_checks(pm, idx, force);

	if (rc)
		return rc;
	zd_nd_namespace_get(r, &in);
	had_block = in.mode != ZD_NS_MODE_RAW || in.refused[0];
	rc = zd_nd_destroy_namespace(r);
	if (rc) {
		pm_library_why(pm, seq, in.dev, rc);
		return rc;
	}
	rc = zero_info_block(r);
	if (rc > 0 && had_block)
		rc = 0;
	zd_nd_disable_namespace(r);
	return rc;
}

/* do_xaction_namespace() for destroy, disable and enable. */
static int cmd_xaction(struct pmachine *pm, const struct nd_nsopts *o)
{
	static const char *const names[][3] = {
		{ "destroy-namespace", "destroying", "destroyed" },
		{ "disable-namespace", "disabling", "disabled" },
		{ "enable-namespace", "enabling", "enabled" },
	};
	int k = !strcmp(o->sub, names[1][0]) ? 1 : !strcmp(o->sub, names[2][0]) ? 2 : 0;
	int rc = strcmp(o->namespace, "all") ? -ENXIO : 0, processed = 0;

	for (int i = 0; i < pm_nr_regions(pm); i++) {
		struct zd_nd_region *r = pm_region(pm, i);
		struct zd_nd_namespace_info in;
		char name[32];

		snprintf(name, sizeof(name), "namespace%d.0", i);
		if (!nd_region_match(i, o->region) ||
		    (strcmp(o->namespace, "all") && strcmp(o->namespace, name)))
			continue;
		if (k == 0) {
			rc = destroy_one(pm, i, o->force);
			processed += rc == 0;
			rc = rc > 0 ? 0 : rc;
		} else if (k == 1) {
			struct zd_dax_info di;

			/* ndctl_namespace_disable_safe(): only memory online as
			 * system-ram holds it (silently: a dbg() there) */
			rc = !zd_dax_info_get(r, &di) && di.online_memblocks ? -EBUSY :
			     zd_nd_disable_namespace(r);
			processed += rc == 0;
		} else {
			zd_nd_enable_namespace(r);
			zd_nd_namespace_get(r, &in);
			rc = in.enabled ? 0 : -ENXIO;
			if (rc)
				fprintf(stderr, "libndctl: ndctl_namespace_enable: %s: failed to enable\n",
					name);
			processed += rc == 0;
		}
	}
	/* the state could not be kept: exit 1, as documented */
	if (pm_save(pm) && !rc)
		rc = EXIT_FAIL;
	if (rc < 0 && !err_count)
		fprintf(stderr, "error %s namespaces: %s\n", names[k][1], strerror(-rc));
	fprintf(stderr, "%s %d namespace%s\n", names[k][2], processed, processed == 1 ? "" : "s");
	return rc;
}

int nd_ns_run(struct pmachine *pm, const struct nd_nsopts *o)
{
	err_count = 0;
	return !strcmp(o->sub, "create-namespace") ? cmd_create(pm, o) : cmd_xaction(pm, o);
}
