/*
 * `zonedev infoblock FILE`: decode and validate the pfn/dax info block
 * found in real media (a QEMU NVDIMM backing file, a namespace image, a raw
 * namespace's block device, or a bare 4096-byte block): every field of
 * struct nd_pfn_sb, the sizing it implies, and each nd_pfn_validate() rule
 * in the kernel's order with pass/fail/skipped and the kernel's errno.
 * The rules come from zd_nd_pfn_check_rules(), the same code the probe path
 * uses, so this command and a namespace probe cannot disagree.
 *
 * Invariants:
 *  - FILE is opened O_RDONLY and only pread; nothing is ever written;
 *  - a rule that needs namespace context nobody gave (and the file cannot
 *    tell) is reported skipped, naming the option that supplies it, never
 *    passed; only the namespace size is derived, from a file that is big
 *    enough to be a namespace;
 *  - exit 0 = no rule fails, 1 = a rule fails or FILE cannot be read,
 *    2 = usage; --json prints exactly one document in every case.
 * Rendering (text and JSON) is in infoblock-show.c.
 */
#include "infoblock.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char infoblock_help[] =
	"usage: zonedev infoblock FILE [--offset N] [--namespace-start ADDR]\n"
	"                          [--namespace-size SIZE] [--parent-uuid UUID]\n"
	"                          [--claim fsdax|devdax] [--uuid UUID [--align A]\n"
	"                          [--map dev|mem]] [--arch A] [--page-size N]\n"
	"                          [--struct-page-size N] [--compat-align N] [--json]\n"
	"\n"
	"Decode and validate the pfn/dax info block (struct nd_pfn_sb) in FILE: a\n"
	"QEMU NVDIMM backing file, a namespace image, a raw namespace's block device\n"
	"or a bare 4096-byte block. Prints every field as the kernel names it, the\n"
	"sizing the block implies (where the data starts, the memmap it needs, the\n"
	"namespace size it assumes) and each rule of the kernel's nd_pfn_validate()\n"
	"in order: pass, FAIL with the errno the kernel returns, or skipped when it\n"
	"needs namespace context the file does not hold (the line names the option\n"
	"that gives it). FILE is opened read-only and never written.\n"
	"\n"
	"The block is read at namespace offset 4096 (SZ_4K), where the kernel puts\n"
	"it, unless FILE is exactly 4096 bytes (a bare block, read at 0); the offset\n"
	"read is said on stderr. When FILE holds at least 16 MiB from the namespace\n"
	"start (offset - 4096), that much is taken as the namespace size; when it\n"
	"holds all the block describes, a rule that fails only under that guess\n"
	"(QEMU keeps a label area at the end of the file) is reported as skipped,\n"
	"naming --namespace-size.\n"
	"\n"
	"options:\n"
	"  --offset N        byte offset of the block in FILE (default: 0 for a\n"
	"                    4096-byte FILE, else 4096)\n"
	"  --namespace-start ADDR\n"
	"                    the namespace's physical start, res.start (rules 15-17)\n"
	"  --namespace-size SIZE\n"
	"                    the namespace's size (rules 13, 14, 17, 18; default:\n"
	"                    from FILE's size, see above)\n"
	"  --parent-uuid UUID\n"
	"                    the namespace's uuid (rule 5)\n"
	"  --claim C         probe as fsdax (pfn, NVDIMM_PFN_INFO) or devdax (dax,\n"
	"                    NVDIMM_DAX_INFO); default: the claim the signature names\n"
	"  --uuid UUID       probe as a bound instance with this uuid (rule 12's\n"
	"                    second probe); default: a first probe, which adopts\n"
	"  --align A         the bound instance's align (default: the block's)\n"
	"  --map M           the bound instance's map, dev or mem (default: the block's)\n"
	"  --arch A          the kernel reading it: its PAGE_SIZE and the dax fault\n"
	"                    sizes (PAGE_SIZE, PMD, PUD with PUD THP; rules 9, 11,\n"
	"                    15); default x86_64. Profiles: x86_64, x86_64-la57,\n"
	"                    arm64-4k, arm64-16k, arm64-64k, ppc64\n"
	"  --page-size N     PAGE_SIZE alone: picks the first profile with it (4K\n"
	"                    x86_64, 16K arm64-16k, 64K arm64-64k)\n"
	"  --struct-page-size N\n"
	"                    sizeof(struct page) of that kernel (default 64; rule 10)\n"
	"  --compat-align N  memremap_compat_align() of that kernel (default 2M;\n"
	"                    rules 16, 17)\n"
	"  --json            one JSON document on stdout instead of text\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 the block is valid (no rule fails), 1 a rule fails or FILE\n"
	"             cannot be read, 2 usage error\n";

enum {
	OPT_JSON = 1000, OPT_OFFSET, OPT_START, OPT_SIZE, OPT_PARENT, OPT_CLAIM, OPT_UUID,
	OPT_ALIGN, OPT_MAP, OPT_PAGE_SIZE, OPT_STRUCT_PAGE, OPT_COMPAT, OPT_ARCH,
};

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* A size option's value, or a usage error naming what it wants. */
static int opt_size(const char *opt, const char *wants, uint64_t *out)
{
	const char *why;

	if (parse_size(optarg, out, &why))
		return usage_error("infoblock", "%s wants %s, not '%s' (it %s)", opt, wants, optarg,
				   why);
	return 0;
}

static int opt_uuid(const char *opt, uint8_t out[16])
{
	if (zd_nd_uuid_parse(optarg, out))
		return usage_error("infoblock", "%s wants a uuid like "
				   "ec094fe8-1049-456b-884d-fe695d359ed0, not '%s'", opt, optarg);
	return 0;
}

/* One option into o; 0, -1 after --help, or EXIT_USAGE. */
static int take_opt(int c, struct ib_opts *o)
{
	switch (c) {
	case OPT_JSON: o->json = true; return 0;
	case OPT_OFFSET:
		o->have_offset = true;
		if (opt_size("--offset", "a byte offset", &o->offset))
			return EXIT_USAGE;
		if (o->offset > UINT64_MAX - ZD_ND_INFOBLOCK_SIZE || o->offset > (uint64_t)INT64_MAX)
			return usage_error("infoblock", "--offset %s leaves no room for a block", optarg);
		return 0;
	case OPT_START:
		o->have_start = true;
		return opt_size("--namespace-start", "a physical address", &o->start) ? EXIT_USAGE : 0;
	case OPT_SIZE:
		o->have_size = true;
		if (opt_size("--namespace-size", "a size", &o->size))
			return EXIT_USAGE;
		if (!o->size)
			return usage_error("infoblock", "--namespace-size 0: a namespace has bytes");
		return 0;
	case OPT_PARENT:
		o->have_parent = true;
		return opt_uuid("--parent-uuid", o->parent) ? EXIT_USAGE : 0;
	case OPT_CLAIM:
		o->have_claim = true;
		if (!strcmp(optarg, "fsdax") || !strcmp(optarg, "pfn"))
			o->claim = ZD_ND_FSDAX;
		else if (!strcmp(optarg, "devdax") || !strcmp(optarg, "dax"))
			o->claim = ZD_ND_DEVDAX;
		else
			return usage_error("infoblock", "--claim wants fsdax (pfn) or devdax (dax), "
					   "not '%s'", optarg);
		return 0;
	case OPT_UUID:
		o->have_uuid = true;
		return opt_uuid("--uuid", o->uuid) ? EXIT_USAGE : 0;
	case OPT_ALIGN:
		o->have_align = true;
		if (opt_size("--align", "a power-of-two size", &o->align))
			return EXIT_USAGE;
		if (!pow2(o->align))
			return usage_error("infoblock", "--align wants a power of two, not '%s'", optarg);
		return 0;
	case OPT_MAP:
		o->have_map = true;
		if (!strcmp(optarg, "dev") || !strcmp(optarg, "pmem"))
			o->map = ZD_ND_MAP_DEV;
		else if (!strcmp(optarg, "mem") || !strcmp(optarg, "ram"))
			o->map = ZD_ND_MAP_MEM;
		else
			return usage_error("infoblock", "--map wants dev or mem, not '%s'", optarg);
		return 0;
	case OPT_PAGE_SIZE:
		if (opt_size("--page-size", "a page size", &o->page_size))
			return EXIT_USAGE;
		if (!pow2(o->page_size) || o->page_size < 4096 || o->page_size > 65536)
			return usage_error("infoblock", "--page-size wants a power of two from 4K "
					   "to 64K, not '%s'", optarg);
		o->have_page_size = true;
		return 0;
	case OPT_ARCH:
		if (!zd_arch_find(optarg))
			return usage_error("infoblock", "--arch: no profile '%s' (x86_64, "
					   "x86_64-la57, arm64-4k, arm64-16k, arm64-64k, ppc64)",
					   optarg);
		o->arch = optarg;
		o->have_arch = true;
		return 0;
	case OPT_STRUCT_PAGE:
		if (opt_size("--struct-page-size", "a size in bytes", &o->struct_page_size))
			return EXIT_USAGE;
		if (!o->struct_page_size || o->struct_page_size > 65535)
			return usage_error("infoblock", "--struct-page-size wants 1 to 65535 bytes "
					   "(page_struct_size is 16 bits), not '%s'", optarg);
		return 0;
	case OPT_COMPAT:
		if (opt_size("--compat-align", "a power-of-two size", &o->compat_align))
			return EXIT_USAGE;
		if (!pow2(o->compat_align) || o->compat_align < 4096)
			return usage_error("infoblock", "--compat-align wants a power of two of at "
					   "least 4K, not '%s'", optarg);
		return 0;
	case 'h':
		fputs(infoblock_help, stdout);
		return -1;
	default:
		return EXIT_USAGE;
	}
}

static void arch_of(const char *name, struct zd_arch *a)
{
	*a = *zd_arch_find(name);
	zd_arch_derive(a);
}

/* The reading kernel: --arch, else the first profile with --page-size's
 * PAGE_SIZE, else x86_64. Rule 11's fault sizes are that arch's
 * (nd_pfn_supported_alignments(): PAGE_SIZE, HPAGE_PMD_SIZE, and
 * HPAGE_PUD_SIZE where PUD THP exists), as the probe path takes them. */
static int choose_arch(struct ib_opts *o)
{
	const char *const *n = zd_arch_names();
	struct zd_arch a;

	if (!o->have_arch && o->have_page_size) {
		for (o->arch = NULL; *n && !o->arch; n++) {
			arch_of(*n, &a);
			if (a.page_size == o->page_size)
				o->arch = *n;
		}
		if (!o->arch)
			return usage_error("infoblock", "--page-size 0x%llx: no arch profile has it "
					   "(4K, 16K or 64K)", (unsigned long long)o->page_size);
	}
	if (!o->arch)
		o->arch = "x86_64";
	arch_of(o->arch, &a);
	if (o->have_arch && o->have_page_size && a.page_size != o->page_size)
		return usage_error("infoblock", "--page-size 0x%llx is not %s's PAGE_SIZE (0x%llx)",
				   (unsigned long long)o->page_size, o->arch,
				   (unsigned long long)a.page_size);
	o->page_size = a.page_size;
	o->dax_aligns[0] = a.page_size;
	o->dax_aligns[1] = 1ULL << a.pmd_shift;
	o->dax_aligns[2] = a.thp_pud ? 1ULL << a.pud_shift : 0;
	return 0;
}

static int parse_args(int argc, char **argv, struct ib_opts *o)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "namespace-start", required_argument, NULL, OPT_START },
		{ "namespace-size", required_argument, NULL, OPT_SIZE },
		{ "parent-uuid", required_argument, NULL, OPT_PARENT },
		{ "claim", required_argument, NULL, OPT_CLAIM },
		{ "uuid", required_argument, NULL, OPT_UUID },
		{ "align", required_argument, NULL, OPT_ALIGN },
		{ "map", required_argument, NULL, OPT_MAP },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "page-size", required_argument, NULL, OPT_PAGE_SIZE },
		{ "struct-page-size", required_argument, NULL, OPT_STRUCT_PAGE },
		{ "compat-align", required_argument, NULL, OPT_COMPAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((c = next_opt("infoblock", argc, argv, ":h", opts)) != -1)
		if ((rc = take_opt(c, o)))
			return rc;
	if (optind >= argc)
		return usage_error("infoblock", "missing FILE (a namespace image, a block device "
				   "or a 4096-byte block)");
	if (optind + 1 < argc)
		return usage_error("infoblock", "unexpected argument '%s' (one FILE per run)",
				   argv[optind + 1]);
	o->file = argv[optind];
	if ((o->have_align || o->have_map) && !o->have_uuid)
		return usage_error("infoblock", "--align and --map describe a bound instance: "
				   "give its --uuid too");
	if (o->have_start && o->have_size && o->size - 1 > UINT64_MAX - o->start)
		return usage_error("infoblock", "--namespace-start + --namespace-size passes 2^64");
	return choose_arch(o);
}

/* What FILE is and how big (st_size says 0 for a block device). */
static int probe_file(struct ib_state *s, int fd, char *why, size_t len)
{
	struct stat st;
	off_t end;

	if (fstat(fd, &st)) {
		int err = errno;

		snprintf(why, len, "cannot stat it: %s", strerror(err));
		return -err;
	}
	if (S_ISDIR(st.st_mode)) {
		s->file_type = "directory";
		snprintf(why, len, "is a directory, not a namespace image or a block");
		return -EISDIR;
	}
	s->file_type = S_ISREG(st.st_mode) ? "regular file" : S_ISBLK(st.st_mode) ? "block device" :
		       S_ISCHR(st.st_mode) ? "character device" : "special file";
	if (S_ISREG(st.st_mode)) {
		s->file_size = (uint64_t)st.st_size;
		s->file_size_known = true;
	} else if (S_ISBLK(st.st_mode) && (end = lseek(fd, 0, SEEK_END)) >= 0) {
		s->file_size = (uint64_t)end;
		s->file_size_known = true;
	}
	return 0;
}

/* Where the block is: --offset, a bare block at 0, else SZ_4K. */
static void choose_offset(struct ib_state *s, const struct ib_opts *o)
{
	if (o->have_offset) {
		s->offset = o->offset;
		snprintf(s->offset_source, sizeof(s->offset_source), "--offset");
	} else if (s->file_size_known && s->file_size == ZD_ND_INFOBLOCK_SIZE) {
		s->offset = 0;
		snprintf(s->offset_source, sizeof(s->offset_source),
			 "the file is exactly one 4096-byte block");
	} else {
		s->offset = ZD_ND_INFOBLOCK_OFFSET;
		snprintf(s->offset_source, sizeof(s->offset_source),
			 "namespace offset 4096 (SZ_4K), where the kernel writes it");
	}
}

/* The namespace size: --namespace-size, or what FILE holds from the
 * namespace start when that is big enough to be one. */
static void choose_size(struct ib_state *s, const struct ib_opts *o)
{
	uint64_t ns_off, held;

	if (o->have_size) {
		s->ns_size = o->size;
		s->ns_size_known = true;
		snprintf(s->size_source, sizeof(s->size_source), "--namespace-size");
		return;
	}
	if (!s->file_size_known) {
		snprintf(s->size_source, sizeof(s->size_source),
			 "unknown: the %s has no size; give --namespace-size", s->file_type);
		return;
	}
	if (s->offset < ZD_ND_INFOBLOCK_OFFSET) {
		snprintf(s->size_source, sizeof(s->size_source),
			 "unknown: a block at offset 0x%llx is not in a namespace image; give "
			 "--namespace-size", (unsigned long long)s->offset);
		return;
	}
	ns_off = s->offset - ZD_ND_INFOBLOCK_OFFSET;
	held = s->file_size - ns_off;
	if (held < ZD_ND_MIN_NAMESPACE_SIZE) {
		snprintf(s->size_source, sizeof(s->size_source),
			 "unknown: the file holds 0x%llx bytes from the namespace start, less "
			 "than the 16 MiB a claimed namespace has (a dump?); give --namespace-size",
			 (unsigned long long)held);
		return;
	}
	s->ns_size = held;
	s->ns_size_known = true;
	s->ns_size_guessed = true;
	snprintf(s->size_source, sizeof(s->size_source),
		 "the file's bytes from offset 0x%llx (the namespace start) to its end",
		 (unsigned long long)ns_off);
}

/* Read the block; an I/O error or a short file is rule 2's -ENXIO. */
static int read_block(struct ib_state *s, char *why, size_t len)
{
	size_t got = 0;
	int rc;

	if (s->file_size_known && (s->file_size < ZD_ND_INFOBLOCK_SIZE ||
				   s->offset > s->file_size - ZD_ND_INFOBLOCK_SIZE)) {
		snprintf(why, len, "short file: the 4096-byte block at offset 0x%llx needs 0x%llx "
			 "bytes, the %s has 0x%llx%s", (unsigned long long)s->offset,
			 (unsigned long long)(s->offset + ZD_ND_INFOBLOCK_SIZE), s->file_type,
			 (unsigned long long)s->file_size,
			 s->file_size < ZD_ND_INFOBLOCK_SIZE ? " (not even one block)" :
			 s->offset ? " (for a block at the start of the file give --offset 0)" : "");
		return -ENXIO;
	}
	rc = zd_nd_pfn_read_sb_at(s->fd, s->offset, &s->sb, &got, why, len);
	s->got = got;
	return rc;
}

/* The validation context the options (and FILE) give; its knows mask. */
static unsigned build_ctx(const struct ib_state *s, const struct ib_opts *o,
			  struct zd_nd_pfn_validate_ctx *c)
{
	unsigned knows = 0;
	struct zd_nd_pfn_info raw;

	memset(c, 0, sizeof(*c));
	c->page_size = o->page_size;
	memcpy(c->dax_aligns, o->dax_aligns, sizeof(c->dax_aligns));
	c->struct_page_size = o->struct_page_size;
	c->compat_align = o->compat_align;
	if (o->have_claim) {
		c->kind = o->claim;
		knows |= ZD_ND_KNOWS_KIND;
	}
	if (o->have_parent) {
		memcpy(c->parent_uuid, o->parent, 16);
		knows |= ZD_ND_KNOWS_PARENT;
	}
	if (o->have_start) {
		c->start = o->start;
		knows |= ZD_ND_KNOWS_START;
	}
	if (s->ns_size_known) {
		c->size = s->ns_size;
		knows |= ZD_ND_KNOWS_SIZE;
	}
	if (o->have_uuid) {
		/* A bound instance: what it was not told it takes from the
		 * block, as the first probe would have set it. */
		zd_nd_pfn_decode(&s->sb, o->page_size, &raw);
		c->adopted = true;
		memcpy(c->adopted_uuid, o->uuid, 16);
		c->adopted_align = o->have_align ? o->align : raw.align;
		c->adopted_mode = o->have_map ? o->map : raw.mode;
	}
	return knows;
}

/* The rules ZD_ND_KNOWS_SIZE feeds (nd_pfn.h). */
static bool size_rule(int rule)
{
	return rule == 13 || rule == 14 || rule == 17 || rule == 18;
}

/* The size came from FILE's size, which may hold more than the namespace
 * (QEMU's label area sits after it): when the file holds all the block
 * describes, a size rule that fails under that guess is no verdict. It
 * becomes skipped, and the kernel's first failure is looked for again
 * among the rest. A file shorter than what the block describes keeps its
 * failures: the data cannot all be in it. */
static void unguess(struct ib_state *s)
{
	struct zd_nd_pfn_check *c = &s->chk;
	const struct zd_nd_pfn_info *in = &c->info;
	char d[sizeof(c->rules[0].detail)];
	uint64_t data = in->npfns * in->page_size, want = (uint64_t)in->start_pad + in->dataoff;

	if (in->npfns > UINT64_MAX / (in->page_size ? in->page_size : 1) || data > UINT64_MAX - want ||
	    want + data > UINT64_MAX - in->end_trunc || want + data + in->end_trunc > s->ns_size)
		return;

	c->first_fail = 0;
	c->err = 0;
	for (int i = 0; i < ZD_ND_NR_RULES; i++) {
		struct zd_nd_pfn_rule *r = &c->rules[i];

		if (r->result == ZD_ND_RULE_FAIL && size_rule(r->rule)) {
			snprintf(d, sizeof(d), "fails if the namespace is the file's 0x%llx bytes "
				 "(%s)", (unsigned long long)s->ns_size, r->detail);
			snprintf(r->detail, sizeof(r->detail), "%s", d);
			r->result = ZD_ND_RULE_SKIPPED;
			r->needs = ZD_ND_KNOWS_SIZE;
			r->err = 0;
		}
		if (r->result == ZD_ND_RULE_FAIL && !c->first_fail) {
			c->first_fail = r->rule;
			c->err = r->err;
		}
	}
}

int cmd_infoblock(int argc, char **argv)
{
	struct ib_opts o = { .page_size = 4096 };   /* until choose_arch() */
	struct ib_state s = { .fd = -1 };
	struct zd_nd_pfn_validate_ctx ctx;
	char why[320];
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	s.file_type = "file";
	s.fd = open(o.file, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (s.fd < 0) {
		rc = -errno;
		snprintf(why, sizeof(why), "cannot open it read-only: %s", strerror(-rc));
		return ib_show_error(&s, &o, rc, why);
	}
	rc = probe_file(&s, s.fd, why, sizeof(why));
	if (!rc) {
		choose_offset(&s, &o);
		if (!o.json)
			fprintf(stderr, "zonedev infoblock: %s: reading the block at offset 0x%llx (%s)\n",
				o.file, (unsigned long long)s.offset, s.offset_source);
		rc = read_block(&s, why, sizeof(why));
	}
	if (rc) {
		rc = ib_show_error(&s, &o, rc, why);
		close(s.fd);
		return rc;
	}
	close(s.fd);
	choose_size(&s, &o);
	zd_nd_pfn_check_rules(&s.sb, &ctx, build_ctx(&s, &o, &ctx), &s.chk);
	snprintf(s.chk.rules[0].detail, sizeof(s.chk.rules[0].detail),
		 "whether the region is pmem is not in a file (FILE is read as a pmem namespace)");
	snprintf(s.chk.rules[1].detail, sizeof(s.chk.rules[1].detail),
		 "4096 bytes at file offset 0x%llx", (unsigned long long)s.offset);
	if (s.ns_size_guessed)
		unguess(&s);
	s.ctx = &ctx;
	ib_show(&s, &o);
	return s.chk.first_fail ? EXIT_FAIL : EXIT_OK;
}
