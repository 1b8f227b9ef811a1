/*
 * `zonedev lsmem` and `zonedev chmem`: util-linux 2.38's lsmem and chmem
 * over the memory blocks of a persistent machine (pmachine.c), so that
 * what chmem or daxctl onlined or offlined is still so in the next
 * command. lsmem prints libsmartcols' table (column widths from the
 * header and the data, SIZE's width hint of 5, right-aligned columns but
 * RANGE), its raw, key="value" and JSON forms and the summary; blocks merge
 * into ranges unless a shown (or --split) column differs. chmem onlines or
 * offlines by size (lowest blocks first online, highest first offline), by
 * address range or by block range, into the zone lsmem's valid_zones
 * allow (Movable when it may).
 * The machine models Linux 6.1: every block's removable attribute is 1,
 * blocks have a node, and valid_zones exists when memory0 does.
 * Invariants: lsmem changes nothing; chmem saves the blocks' states before
 * it exits, whatever it managed; exit status as chmem's (0 all, 1 none,
 * 64 some of the memory changed).
 */
#include "pmachine.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHMEM_EXIT_SOMEOK 64

static const char lsmem_help[] =
	"usage: zonedev lsmem [--machine FILE] [--state FILE] [--reboot] [--dmesg]\n"
	"                     [-a] [-b] [-J|-P|-r] [-n] [-o LIST] [--output-all]\n"
	"                     [-S LIST] [--summary[=WHEN]]\n"
	"\n"
	"util-linux's lsmem on a persistent machine (see zonedev ndctl --help): the\n"
	"ranges of memory blocks with their state, in the same table, raw,\n"
	"key=\"value\" and JSON formats, and the summary. Columns: RANGE, SIZE,\n"
	"STATE, REMOVABLE, BLOCK, NODE, ZONES (default RANGE,SIZE,STATE,REMOVABLE,\n"
	"BLOCK).\n"
	"\n"
	"options:\n"
	PM_HELP_OPTIONS
	"  -a, --all         list each memory block, do not merge ranges\n"
	"  -b, --bytes       print SIZE in bytes\n"
	"  -J, --json        JSON output (\"memory\": an array of ranges)\n"
	"  -P, --pairs       key=\"value\" output\n"
	"  -r, --raw         raw output\n"
	"  -n, --noheadings  no header line\n"
	"  -o, --output LIST the columns, comma-separated ('+LIST' adds to the default)\n"
	"  --output-all      every column\n"
	"  -S, --split LIST  merge only blocks that agree on these columns (or none)\n"
	"  --summary[=WHEN]  the summary: never, always or only (alone: only)\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 1 the machine or its state could not be loaded, or a\n"
	"             usage error (as lsmem's)\n";

static const char chmem_help[] =
	"usage: zonedev chmem [--machine FILE] [--state FILE] [--reboot] [--dmesg]\n"
	"                     -e|-d [-b] [-z ZONE] [-v] SIZE|RANGE|BLOCKRANGE\n"
	"\n"
	"util-linux's chmem on a persistent machine (see zonedev ndctl --help): set\n"
	"SIZE bytes (a number is MiB; K, M, G, ... suffixes; block-size multiple),\n"
	"an address RANGE (0xSTART-0xEND) or with -b a block number or range (N or\n"
	"N-M) online or offline. The states last until a reboot (--reboot).\n"
	"\n"
	"options:\n"
	PM_HELP_OPTIONS
	"  -e, --enable      online the memory\n"
	"  -d, --disable     offline the memory\n"
	"  -b, --blocks      the argument counts memory blocks (also --block)\n"
	"  -z, --zone ZONE   only blocks that may go to ZONE (DMA, DMA32, Normal,\n"
	"                    Highmem, Movable, Device), online into it\n"
	"  -v, --verbose     say what happened to each block\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 1 nothing changed, a usage error (as chmem's) or the\n"
	"             machine could not be loaded, 64 only some of the memory changed\n";

/* ---------- reading the blocks ---------- */

enum { COL_RANGE, COL_SIZE, COL_STATE, COL_REMOVABLE, COL_BLOCK, COL_NODE, COL_ZONES, NCOLS };

static const char *const col_names[NCOLS] = { "RANGE", "SIZE", "STATE", "REMOVABLE", "BLOCK",
					      "NODE", "ZONES" };

struct range {
	uint64_t index, count;
	enum zd_mem_state state;
	int node;
	char zones[64];            /* lsmem's "Normal/Movable" */
};

struct lsmem {
	struct pmachine *pm;
	struct range *r;
	size_t n, cap;
	uint64_t block, online, offline;
	bool all, bytes, noheadings, have_zones;
	bool split[NCOLS];
	int cols[2 * NCOLS];
	size_t ncols;
	enum { FMT_TABLE, FMT_RAW, FMT_PAIRS, FMT_JSON } fmt;
	bool want_table, want_summary;
};

/* valid_zones with lsmem's names, '/'-joined ("none" is "None"). */
static void zones_text(struct zd_machine *m, uint64_t id, char *buf, size_t len)
{
	char raw[64], *save = NULL;
	size_t used = 0;

	buf[0] = '\0';
	if (zd_memory_block_valid_zones(m, id, raw, sizeof(raw)))
		return;
	for (char *t = strtok_r(raw, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		used = list_add(buf, len, used, "/", !strcasecmp(t, "none") ? "None" : t);
}

static bool mergeable(const struct lsmem *l, const struct range *cur, const struct range *b)
{
	if (l->all || cur->index + cur->count != b->index)
		return false;
	if (l->split[COL_STATE] && cur->state != b->state)
		return false;
	if (l->split[COL_NODE] && cur->node != b->node)
		return false;
	return !(l->split[COL_ZONES] && l->have_zones && strcmp(cur->zones, b->zones));
}

static int add_block(const struct zd_memory_block *mb, void *arg)
{
	struct lsmem *l = arg;
	struct range b = { .index = mb->id, .count = 1, .state = mb->state, .node = mb->nid };

	if (l->have_zones)
		zones_text(l->pm->m, mb->id, b.zones, sizeof(b.zones));
	if (mb->state == ZD_MEM_ONLINE)
		l->online += l->block;
	else
		l->offline += l->block;
	if (l->n && mergeable(l, &l->r[l->n - 1], &b)) {
		l->r[l->n - 1].count++;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct range *r = realloc(l->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		l->r = r;
		l->cap = cap;
	}
	l->r[l->n++] = b;
	return 0;
}

/* util-linux's size_to_human_string(SIZE_SUFFIX_1LETTER): "2G", "2.6G",
 * "128M", "0B" — one decimal, rounded, a trailing zero dropped. */
static void human(uint64_t bytes, char *buf, size_t len)
{
	static const char letters[] = "BKMGTPE";
	int exp = 0;
	uint64_t dec, frac = 0;

	while (exp < 60 && bytes >= 1ULL << (exp + 10))
		exp += 10;
	dec = exp ? bytes >> exp : bytes;
	if (exp) {
		frac = bytes & ((1ULL << exp) - 1);
		frac = frac >= UINT64_MAX / 1000 ? (frac / 1024) * 1000 / (1ULL << (exp - 10))
						   : frac * 1000 / (1ULL << exp);
		frac = (frac + 50) / 100 * 10;
		if (frac == 100) {
			dec++;
			frac = 0;
		}
	}
	if (frac)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%c", dec, frac / 10, letters[exp / 10]);
	else
		snprintf(buf, len, "%" PRIu64 "%c", dec, letters[exp / 10]);
}

/* One cell's text ("" for an empty cell). */
static void cell(const struct lsmem *l, const struct range *b, int col, char *buf, size_t len)
{
	uint64_t start = b->index * l->block, size = b->count * l->block;

	buf[0] = '\0';
	switch (col) {
	case COL_RANGE:
		snprintf(buf, len, "0x%016" PRIx64 "-0x%016" PRIx64, start, start + size - 1);
		break;
	case COL_SIZE:
		if (l->bytes)
			snprintf(buf, len, "%" PRIu64, size);
		else
			human(size, buf, len);
		break;
	case COL_STATE:
		snprintf(buf, len, "%s", b->state == ZD_MEM_ONLINE ? "online" :
			 b->state == ZD_MEM_OFFLINE ? "offline" : "on->off");
		break;
	case COL_REMOVABLE:
		if (b->state == ZD_MEM_ONLINE)
			snprintf(buf, len, "yes");
		break;
	case COL_BLOCK:
		if (b->count == 1)
			snprintf(buf, len, "%" PRIu64, b->index);
		else
			snprintf(buf, len, "%" PRIu64 "-%" PRIu64, b->index, b->index + b->count - 1);
		break;
	case COL_NODE: snprintf(buf, len, "%d", b->node); break;
	case COL_ZONES: snprintf(buf, len, "%s", b->zones); break;
	}
}

/* ---------- printing ---------- */

static void print_quoted(const char *s, bool json)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf(json ? "\\u%04x" : "\\x%02x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct lsmem *l)
{
	char buf[96], key[16];

	printf("{\n   \"memory\": [\n");
	for (size_t i = 0; i < l->n; i++) {
		printf("%s{\n", i ? "," : "      ");
		for (size_t c = 0; c < l->ncols; c++) {
			int col = l->cols[c];

			cell(l, &l->r[i], col, buf, sizeof(buf));
			for (size_t k = 0; k <= strlen(col_names[col]); k++)
				key[k] = (char)tolower((unsigned char)col_names[col][k]);
			printf("%s         \"%s\": ", c ? ",\n" : "", key);
			if (col == COL_REMOVABLE)
				fputs(buf[0] && buf[0] != '0' && buf[0] != 'n' ? "true" : "false", stdout);
			else if (!buf[0])
				fputs("null", stdout);
			else if (col == COL_NODE || (col == COL_SIZE && l->bytes))
				fputs(buf, stdout);
			else
				print_quoted(buf, true);
		}
		printf("\n      }");
	}
	printf("%s   ]\n}\n", l->n ? "\n" : "");
}

static void print_table(const struct lsmem *l)
{
	size_t width[2 * NCOLS];
	char buf[96];

	for (size_t c = 0; c < l->ncols; c++) {
		size_t min = strlen(col_names[l->cols[c]]), w = 0;

		for (size_t i = 0; i < l->n; i++) {
			cell(l, &l->r[i], l->cols[c], buf, sizeof(buf));
			w = strlen(buf) > w ? strlen(buf) : w;
		}
		/* libsmartcols: at least the header; SIZE's hint of 5 when
		 * the data already reaches the header's width */
		if (w < min)
			w = min;
		else if (l->cols[c] == COL_SIZE && w < 5 && min < 5)
			w = 5;
		width[c] = w;
	}
	for (size_t i = l->noheadings || l->fmt == FMT_PAIRS ? 1 : 0; i <= l->n; i++) {
		for (size_t c = 0; c < l->ncols; c++) {
			const char *s = buf;
			bool last = c + 1 == l->ncols;

			if (i == 0)
				s = col_names[l->cols[c]];
			else
				cell(l, &l->r[i - 1], l->cols[c], buf, sizeof(buf));
			if (l->fmt == FMT_RAW) {
				for (; *s; s++)
					isblank((unsigned char)*s) ? printf("\\x%02x", *s) : putchar(*s);
			} else if (l->fmt == FMT_PAIRS) {
				printf("%s=", col_names[l->cols[c]]);
				print_quoted(s, false);
			} else if (l->cols[c] == COL_RANGE) {
				printf("%-*s", last ? 0 : (int)width[c], s);
			} else {
				printf("%*s", (int)width[c], s);
			}
			if (!last)
				putchar(' ');
		}
		putchar('\n');
	}
}

static void print_summary(const struct lsmem *l)
{
	static const char *const labels[] = { "Memory block size:", "Total online memory:",
					      "Total offline memory:" };
	uint64_t v[] = { l->block, l->online, l->offline };
	char buf[32];

	for (int i = 0; i < 3; i++) {
		if (l->bytes) {
			printf("%-23s %15" PRIu64 "\n", labels[i], v[i]);
		} else {
			human(v[i], buf, sizeof(buf));
			printf("%-23s %5s\n", labels[i], buf);
		}
	}
}

/* "RANGE,SIZE" into ids; a '+' first appends to what is there. */
static int parse_columns(const char *list, int *ids, size_t *n, size_t max)
{
	char buf[256], *save = NULL;

	if (*list == '+')
		list++;
	else
		*n = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int id = -1;

		for (int c = 0; c < NCOLS; c++)
			if (!strcasecmp(t, col_names[c]))
				id = c;
		if (id < 0)
			return usage_error("lsmem", "unknown column: %s", t);
		if (*n >= max)
			return usage_error("lsmem", "too many columns specified, the limit is %zu "
					   "columns", max - 1);
		ids[(*n)++] = id;
	}
	return 0;
}

static int lsmem_main(int argc, char **argv)
{
	enum { OPT_OUTPUT_ALL = 1000, OPT_SUMMARY };
	static const struct option opts[] = {
		PM_LONGOPTS,
		{ "all", no_argument, NULL, 'a' }, { "bytes", no_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'J' }, { "pairs", no_argument, NULL, 'P' },
		{ "raw", no_argument, NULL, 'r' }, { "noheadings", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "output-all", no_argument, NULL, OPT_OUTPUT_ALL },
		{ "split", required_argument, NULL, 'S' },
		{ "summary", optional_argument, NULL, OPT_SUMMARY },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct lsmem l = { .want_table = true, .want_summary = true };
	const char *outarg = NULL, *splitarg = NULL;
	struct pm_opts po = { 0 };
	struct pmachine pm;
	int c, rc, fmts = 0;

	while ((c = next_opt("lsmem", argc, argv, ":abJPrno:S:h", opts)) != -1) {
		if (pm_opt(c, optarg, &po))
			continue;
		switch (c) {
		case 'a': l.all = true; break;
		case 'b': l.bytes = true; break;
		case 'J': l.fmt = FMT_JSON; l.want_summary = false; fmts++; break;
		case 'P': l.fmt = FMT_PAIRS; l.want_summary = false; fmts++; break;
		case 'r': l.fmt = FMT_RAW; l.want_summary = false; fmts++; break;
		case 'n': l.noheadings = true; break;
		case 'o': outarg = optarg; break;
		case OPT_OUTPUT_ALL:
			for (l.ncols = 0; l.ncols < NCOLS; l.ncols++)
				l.cols[l.ncols] = (int)l.ncols;
			break;
		case 'S': splitarg = optarg; break;
		case OPT_SUMMARY:
			if (!optarg || !strcmp(optarg, "only"))
				l.want_table = false;
			else if (!strcmp(optarg, "never"))
				l.want_summary = false;
			else if (!strcmp(optarg, "always"))
				l.want_summary = true;
			else
				return usage_error("lsmem", "unsupported --summary argument '%s' "
						   "(never, always or only)", optarg);
			break;
		case 'h': fputs(lsmem_help, stdout); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("lsmem", "bad usage: unexpected argument '%s'", argv[optind]);
	if (fmts > 1)
		return usage_error("lsmem", "--json, --pairs and --raw exclude each other");
	if (splitarg && l.all)
		return usage_error("lsmem", "--split and --all exclude each other");
	if (!l.want_table && !l.want_summary)
		return usage_error("lsmem", "options --{raw,json,pairs} and --summary=only are "
				   "mutually exclusive");
	if (!l.ncols)
		for (l.ncols = 0; l.ncols < 5; l.ncols++)
			l.cols[l.ncols] = (int)l.ncols;
	if (outarg && (rc = parse_columns(outarg, l.cols, &l.ncols, 2 * NCOLS)))
		return rc;
	if (splitarg && strcasecmp(splitarg, "none")) {
		int split[2 * NCOLS];
		size_t ns = 0;

		if ((rc = parse_columns(splitarg, split, &ns, 2 * NCOLS)))
			return rc;
		for (size_t i = 0; i < ns; i++)
			l.split[split[i]] = true;
	} else if (!splitarg) {
		for (size_t i = 0; i < l.ncols; i++)
			l.split[l.cols[i]] = true;
	}
	rc = pm_open(&pm, "lsmem", &po);
	if (!rc) {
		struct zd_memory_block mb;

		l.pm = &pm;
		l.block = zd_memory_block_size_bytes(pm.m);
		l.have_zones = !zd_memory_block_get(pm.m, 0, &mb);
		if (zd_for_each_memory_block(pm.m, &l, add_block)) {
			fputs("zonedev lsmem: out of memory\n", stderr);
			rc = EXIT_FAIL;
		} else if (!l.n) {
			fputs("zonedev lsmem: this machine has no memory blocks\n", stderr);
			rc = EXIT_FAIL;
		}
	}
	if (!rc && l.want_table) {
		if (l.fmt == FMT_JSON)
			print_json(&l);
		else
			print_table(&l);
		if (l.want_summary)
			putchar('\n');
	}
	if (!rc && l.want_summary)
		print_summary(&l);
	fflush(stdout);
	free(l.r);
	return pm_close(&pm, rc);
}

/* ---------- chmem ---------- */

struct chmem {
	struct pmachine *pm;
	uint64_t block, start, end, size;   /* blocks */
	bool by_size, verbose;
	int zone;                  /* -1: none asked */
};

static const char *const chmem_zones[] = { "DMA", "DMA32", "Normal", "Highmem", "Movable",
					   "Device" };

/* strtosize(): a number, a K/M/G/T/P/E suffix (KiB binary, KB decimal);
 * a bare number is MiB (chmem's rule). */
static bool parse_chmem_size(const char *s, uint64_t *out)
{
	static const char sfx[] = "KMGTPE";
	uint64_t v, mul = 1, base = 1024;
	const char *p;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return false;
	if (!*end) {
		mul = 1ULL << 20;
	} else if ((p = strchr(sfx, toupper((unsigned char)*end))) && *end) {
		if (!strcmp(end + 1, "B"))
			base = 1000;
		else if (end[1] && strcasecmp(end + 1, "iB"))
			return false;
		for (long i = 0; i <= p - sfx; i++)
			mul *= base;
	} else {
		return false;
	}
	if (v > UINT64_MAX / mul)
		return false;
	*out = v * mul;
	return true;
}

static void block_name(const struct chmem *c, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "Memory Block %" PRIu64 " (0x%016" PRIx64 "-0x%016" PRIx64 ")", id,
		 id * c->block, (id + 1) * c->block - 1);
}

/* One block: 0 changed, 1 skipped (already so, or the zone does not
 * fit), -errno. */
static int chmem_one(struct chmem *c, uint64_t id, bool enable, bool by_range)
{
	const char *want = !enable ? "offline" : c->zone < 0 ? "online" :
			   c->zone == 4 ? "online_movable" : "online_kernel";
	struct zd_memory_block mb;
	char zones[64], name[96];
	int rc;

	block_name(c, id, name, sizeof(name));
	if (zd_memory_block_get(c->pm->m, id, &mb))
		return 1;
	if ((mb.state == ZD_MEM_ONLINE) == enable) {
		if (by_range && c->verbose)
			printf("%s already %s\n", name, enable ? "enabled" : "disabled");
		return 2;
	}
	if (!zd_memory_block_valid_zones(c->pm->m, id, zones, sizeof(zones))) {
		if (c->zone >= 0) {
			const char *zn = chmem_zones[c->zone];

			if (enable ? !strcasestr(zones, zn) : strncasecmp(zones, zn, strlen(zn))) {
				if (by_range)
					fprintf(stderr, "zonedev chmem: %s %s failed: Zone mismatch\n",
						name, enable ? "enable" : "disable");
				return 1;
			}
		} else if (enable) {
			want = strcasestr(zones, "Movable") ? "online_movable" : "online";
		}
	}
	rc = zd_memory_block_store_state(c->pm->m, id, want);
	if (rc && by_range)
		fprintf(stderr, "zonedev chmem: %s %s failed: %s\n", name,
			enable ? "enable" : "disable", strerror(-rc));
	else if (rc && c->verbose)
		printf("%s %s failed\n", name, enable ? "enable" : "disable");
	else if (!rc && c->verbose)
		printf("%s %s\n", name, enable ? "enabled" : "disabled");
	return rc;
}

struct ids {
	uint64_t *v;
	size_t n, cap;
};

static int collect_id(const struct zd_memory_block *mb, void *arg)
{
	struct ids *x = arg;

	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		uint64_t *v = realloc(x->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = mb->id;
	return 0;
}

/* chmem_size() / chmem_range(): 0 all done, -1 nothing, 1 some. */
static int chmem_run(struct chmem *c, bool enable)
{
	struct ids x = { 0 };
	uint64_t todo = c->by_size ? c->size : c->end - c->start + 1, want = todo;
	char a[32];

	if (zd_for_each_memory_block(c->pm->m, &x, collect_id)) {
		free(x.v);
		fputs("zonedev chmem: out of memory\n", stderr);
		return -1;
	}
	for (size_t k = 0; k < x.n && todo; k++) {
		uint64_t id = x.v[enable || !c->by_size ? k : x.n - 1 - k];
		int rc;

		if (!c->by_size && (id < c->start || id > c->end))
			continue;
		rc = chmem_one(c, id, enable, !c->by_size);
		if (rc == 0 || (rc == 2 && !c->by_size))
			todo--;
	}
	free(x.v);
	if (c->by_size && todo) {
		human((want - todo) * c->block, a, sizeof(a));
		fprintf(stderr, "zonedev chmem: Could only %s %s of memory\n",
			enable ? "enable" : "disable", a);
	}
	return !todo ? 0 : todo == want ? -1 : 1;
}

/* parse_parameter(): SIZE, 0xSTART-0xEND, or with -b N / N-M. */
static int chmem_param(struct chmem *c, const char *arg, bool blocks)
{
	char buf[128], *dash, sz[32];
	uint64_t s, e;

	snprintf(buf, sizeof(buf), "%s", arg);
	dash = strchr(buf, '-');
	if (dash && strchr(dash + 1, '-'))
		return usage_error("chmem", "Invalid parameter: %s", arg);
	human(c->block, sz, sizeof(sz));
	if (dash)
		*dash++ = '\0';
	if (blocks) {
		const char *why;

		if (parse_uint(buf, &s, &why) || (dash && parse_uint(dash, &e, &why)))
			return usage_error("chmem", "Failed to parse block number: %s", arg);
		c->start = s;
		c->end = dash ? e : s;
	} else if (!dash) {
		if (!parse_chmem_size(buf, &s))
			return usage_error("chmem", "Failed to parse size: %s", arg);
		if (s % c->block)
			return usage_error("chmem", "Size must be aligned to memory block size (%s)", sz);
		c->by_size = true;
		c->size = s / c->block;
	} else {
		char *end1, *end2;

		if (strncmp(buf, "0x", 2) || strncmp(dash, "0x", 2))
			return usage_error("chmem", "Invalid %s address format: %s",
					   strncmp(buf, "0x", 2) ? "start" : "end",
					   strncmp(buf, "0x", 2) ? buf : dash);
		s = strtoull(buf, &end1, 16);
		e = strtoull(dash, &end2, 16);
		if (*end1 || *end2)
			return usage_error("chmem", "Failed to parse address: %s", arg);
		if (s % c->block || (e + 1) % c->block)
			return usage_error("chmem", "Start address and (end address + 1) must be "
					   "aligned to memory block size (%s)", sz);
		c->start = s / c->block;
		c->end = e / c->block;
	}
	if (!c->by_size && c->start > c->end)
		return usage_error("chmem", "Invalid range: %s", arg);
	return 0;
}

static int chmem_main(int argc, char **argv)
{
	static const struct option opts[] = {
		PM_LONGOPTS,
		{ "enable", no_argument, NULL, 'e' }, { "disable", no_argument, NULL, 'd' },
		{ "blocks", no_argument, NULL, 'b' }, { "block", no_argument, NULL, 'b' },
		{ "zone", required_argument, NULL, 'z' }, { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct chmem c = { .zone = -1 };
	struct pm_opts po = { 0 };
	struct pmachine pm;
	const char *zone = NULL;
	bool blocks = false;
	int op = -1, ch, rc;

	while ((ch = next_opt("chmem", argc, argv, ":edbz:vh", opts)) != -1) {
		if (pm_opt(ch, optarg, &po))
			continue;
		switch (ch) {
		case 'e':
		case 'd':
			if (op >= 0 && op != (ch == 'e'))
				return usage_error("chmem", "--enable and --disable exclude each other");
			op = ch == 'e';
			break;
		case 'b': blocks = true; break;
		case 'z': zone = optarg; break;
		case 'v': c.verbose = true; break;
		case 'h': fputs(chmem_help, stdout); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (op < 0 || optind + 1 != argc)
		return usage_error("chmem", "bad usage: give -e or -d and one SIZE, RANGE or "
				   "BLOCKRANGE");
	for (int z = 0; zone && z < 6; z++)
		if (!strcasecmp(zone, chmem_zones[z]))
			c.zone = z;
	if (zone && c.zone < 0)
		return usage_error("chmem", "unknown memory zone: %s", zone);
	po.saves = true;
	rc = pm_open(&pm, "chmem", &po);
	if (!rc) {
		struct zd_memory_block mb;

		c.pm = &pm;
		c.block = zd_memory_block_size_bytes(pm.m);
		rc = chmem_param(&c, argv[optind], blocks);
		if (!rc && zone && zd_memory_block_get(pm.m, 0, &mb)) {
			fputs("zonedev chmem: zone ignored, no valid_zones sysfs attribute present\n",
			      stderr);
			c.zone = -1;
		}
		if (!rc) {
			rc = chmem_run(&c, op == 1);
			rc = pm_save(&pm) ? EXIT_FAIL : rc == 0 ? EXIT_OK : rc < 0 ? EXIT_FAIL :
			     CHMEM_EXIT_SOMEOK;
		}
	}
	fflush(stdout);
	return pm_close(&pm, rc);
}

/* A usage error exits as util-linux's does: 1 (errtryhelp). */
int cmd_lsmem(int argc, char **argv)
{
	int rc = lsmem_main(argc, argv);

	return rc == EXIT_USAGE ? EXIT_FAIL : rc;
}

/* A usage error exits as util-linux's does: 1 (errtryhelp). */
int cmd_chmem(int argc, char **argv)
{
	int rc = chmem_main(argc, argv);

	return rc == EXIT_USAGE ? EXIT_FAIL : rc;
}
