/*
 * Crash consistency of region files (issue 7 item 6): a child runs a
 * sequence of namespace operations on one region file and is killed with
 * SIGKILL at a chosen region-file write, that write torn at a seeded
 * prefix (crash-inject.h); the parent boots the file again and requires
 * what the kernel would find on the next boot: the namespace before the
 * operation or after it, or (for a torn info block) a raw namespace with
 * the block refused, never a namespace accepted from a torn block, the
 * data exactly old or a torn prefix of the new bytes, and no WARN.
 *
 * Asserts:
 *  - with the hook off every step completes (the failing reconfigure fails
 *    as its fault injection says and restores the old block), each reboot
 *    finds the step's state, and dax kmem reconfigure writes nothing;
 *  - every kill point (>= 200, seed printed, ZD_SEED overrides) dies of
 *    SIGKILL and reboots to an acceptable state as above; a torn block on
 *    the file is exactly the new block's prefix over the old block;
 *  - every prefix and every cache-line mix of each old/new block pair is
 *    either byte-identical to one of them or refused by validation;
 *  - a memmap (map=dev) left scribbled by a kill during its init is
 *    re-initialised at the next bind: it is not persistent metadata.
 */
#include <zonedev/zonedev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define RSTART (4 * G)
#define RSIZE (384 * M)
#define BLK 4096
#define PREFIXES 20          /* kill points per write: 0, all, 18 seeded */
#define ULL(x) ((unsigned long long)(x))

enum op { OP_SIZE, OP_CREATE, OP_WRITE, OP_DESTROY, OP_KMEM, OP_CREATE_FAIL };

static const struct step {
	enum op op;
	enum zd_nd_ns_mode mode;
	enum zd_nd_pfn_mode map;
	uint64_t align;
	int uuid;                /* 1..: fixed uuids */
	uint64_t file_off;       /* OP_WRITE: where the bytes land in the file */
	uint32_t len;
	uint8_t seed;
	int like;                /* OP_CREATE_FAIL: the step whose block it writes */
	const char *name;
} steps[] = {
	{ OP_SIZE, .name = "a fresh region file is sized" },
	{ OP_CREATE, ZD_NS_MODE_FSDAX, ZD_ND_MAP_DEV, 2 * M, 1, .name = "create fsdax map=dev" },
	{ OP_WRITE, .file_off = 24 * M, .len = 20000, .seed = 1, .name = "write 20000 bytes" },
	{ OP_CREATE, ZD_NS_MODE_DEVDAX, ZD_ND_MAP_MEM, 2 * M, 2, .name = "reconfigure to devdax map=mem" },
	{ OP_WRITE, .file_off = 40 * M + 512, .len = 9000, .seed = 2, .name = "write 9000 bytes" },
	{ OP_KMEM, .name = "dax kmem system-ram and back" },
	{ OP_DESTROY, .name = "destroy" },
	{ OP_CREATE, ZD_NS_MODE_DEVDAX, ZD_ND_MAP_MEM, 2 * M, 3, .name = "create devdax map=mem" },
	{ OP_WRITE, .file_off = 24 * M + 4096, .len = 12000, .seed = 3, .name = "overwrite 12000 bytes" },
	{ OP_CREATE_FAIL, ZD_NS_MODE_FSDAX, ZD_ND_MAP_DEV, 2 * M, 1, .like = 1,
	  .name = "reconfigure to fsdax, enable fails, old block restored" },
	{ OP_CREATE, ZD_NS_MODE_FSDAX, ZD_ND_MAP_MEM, 4096, 4, .name = "reconfigure to fsdax map=mem 4K" },
	{ OP_DESTROY, .name = "destroy again" },
};
#define NR_STEPS (int)(sizeof(steps) / sizeof(steps[0]))

/* What a boot finds: the namespace and the info block bytes on the file. */
struct meta {
	enum zd_nd_ns_mode mode;
	enum zd_nd_pfn_mode map;
	uint64_t align, size;
	char uuid[ZD_UUID_STR_LEN];
	uint8_t block[BLK];
};

static struct meta state[NR_STEPS];   /* after step k, from the reference run */
static unsigned long step_writes[NR_STEPS];
static char dir[] = "/tmp/zd-crash-XXXXXX";
static char file[64];

static uint8_t pattern(uint8_t seed, uint64_t i)
{
	uint32_t h = (uint32_t)i * 2654435761u;

	/* never 0 and, for two seeds, different at every byte */
	return (uint8_t)(1 + ((h >> 13) + seed) % 255);
}

/* The data bytes at file offset x after steps 1..k (0: never written). */
static uint8_t want_byte(int k, uint64_t x)
{
	uint8_t b = 0;

	for (int s = 1; s <= k; s++)
		if (steps[s].op == OP_WRITE && x >= steps[s].file_off &&
		    x < steps[s].file_off + steps[s].len)
			b = pattern(steps[s].seed, x - steps[s].file_off);
	return b;
}

static struct zd_machine *boot(void)
{
	static struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_nd_region_desc pm = { .start = RSTART, .size = RSIZE, .path = file };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .pmem = &pm, .nr_pmem = 1 };
	struct zd_machine *m = zd_machine_create(&d);

	return ZD_IS_ERR(m) ? NULL : m;
}

static void uuid_of(int n, uint8_t u[16])
{
	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(n * 17 + i);
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
}

/* Step k on a booted machine: 0 or what the step expects, else -1. */
static int run_step(struct zd_machine *m, int k)
{
	const struct step *s = &steps[k];
	struct zd_nd_region *r = zd_nd_region_find(m, "region0");
	uint8_t u[16];
	struct zd_nd_namespace_opts o = { .mode = s->mode, .map = s->map, .align = s->align,
					  .uuid = u, .force = true };
	struct zd_dax_reconfigure_opts ram = { .mode = ZD_DAX_MODE_SYSTEM_RAM, .no_online = true };
	struct zd_dax_reconfigure_opts dax = { .mode = ZD_DAX_MODE_DEVDAX };
	uint8_t *buf;
	int rc;

	uuid_of(s->uuid, u);
	switch (s->op) {
	case OP_SIZE:
		return 0;
	case OP_CREATE:
		return zd_nd_create_namespace(r, &o);
	case OP_CREATE_FAIL:
		zd_fault_inject_set(m, "pagemap_range:add", 1);
		rc = zd_nd_create_namespace(r, &o);
		zd_fault_inject_clear(m);
		return rc < 0 ? 0 : -1;
	case OP_DESTROY:
		return zd_nd_destroy_namespace(r);
	case OP_KMEM:
		rc = zd_dax_reconfigure_device(r, &ram);
		return rc ? rc : zd_dax_reconfigure_device(r, &dax);
	case OP_WRITE: {
		struct zd_nd_namespace_info in;

		zd_nd_namespace_get(r, &in);
		buf = malloc(s->len);
		for (uint32_t i = 0; i < s->len; i++)
			buf[i] = pattern(s->seed, i);
		rc = zd_nd_namespace_write(r, s->file_off - (in.data_start - RSTART), buf, s->len);
		free(buf);
		return rc;
	}
	}
	return -1;
}

/* Boot the file and read what the kernel would see; NULL machine: failed. */
static struct zd_machine *observe(struct meta *got, unsigned long *warns, char *refused)
{
	struct zd_machine *m = boot();
	struct zd_nd_namespace_info in;
	int fd;

	memset(got, 0, sizeof(*got));
	if (!m)
		return NULL;
	zd_nd_namespace_get(zd_nd_region_find(m, "region0"), &in);
	got->mode = in.mode;
	if (in.mode != ZD_NS_MODE_RAW) {
		got->map = in.map;
		got->align = in.align;
		got->size = in.size;
		memcpy(got->uuid, in.uuid, sizeof(got->uuid));
	}
	fd = open(file, O_RDONLY);
	if (fd < 0 || pread(fd, got->block, BLK, BLK) != BLK)
		memset(got->block, 0xee, BLK);
	if (fd >= 0)
		close(fd);
	*warns = zd_warn_count(m);
	if (refused)
		snprintf(refused, 200, "%s", in.refused);
	return m;
}

/* Same namespace as the kernel reports it; raw namespaces differ only in
 * block bytes nobody accepted. */
static bool same_meta(const struct meta *a, const struct meta *b)
{
	if (a->mode != b->mode)
		return false;
	if (a->mode == ZD_NS_MODE_RAW)
		return true;
	return a->map == b->map && a->align == b->align && a->size == b->size &&
	       !strcmp(a->uuid, b->uuid) && !memcmp(a->block, b->block, BLK);
}

/* Data pieces through the booted namespace's mapping: as after step k,
 * except the piece of step torn_step whose first torn bytes are new. */
static bool data_ok(struct zd_machine *m, int k, int torn_step, uint64_t torn)
{
	struct zd_nd_region *r = zd_nd_region_find(m, "region0");
	struct zd_nd_namespace_info in;
	const uint8_t *data = zd_nd_namespace_data(r, NULL);

	zd_nd_namespace_get(r, &in);
	for (int s = 1; s < NR_STEPS; s++) {
		if (steps[s].op != OP_WRITE)
			continue;
		for (uint64_t i = 0; i < steps[s].len; i++) {
			uint64_t x = steps[s].file_off + i;
			uint8_t want = want_byte(k, x);

			if (torn_step > 0 && x >= steps[torn_step].file_off &&
			    x < steps[torn_step].file_off + torn)
				want = pattern(steps[torn_step].seed, x - steps[torn_step].file_off);
			if (data[x - (in.data_start - RSTART)] != want) {
				diag("data at file offset %#llx: %#x, want %#x", ULL(x),
				     data[x - (in.data_start - RSTART)], want);
				return false;
			}
		}
	}
	return true;
}

static const char *mode_str(const struct meta *s)
{
	static char b[4][96];
	static int i;

	i = (i + 1) % 4;
	snprintf(b[i], sizeof(b[i]), "%s%s%s %s", zd_nd_ns_mode_name(s->mode),
		 s->mode == ZD_NS_MODE_RAW ? "" : " map=",
		 s->mode == ZD_NS_MODE_RAW ? "" : s->map == ZD_ND_MAP_DEV ? "dev" : "mem", s->uuid);
	return b[i];
}

/* ---- the reference run: hook off, a reboot after every step ---- */

static bool reference(void)
{
	bool good = true;

	unlink(file);
	for (int k = 0; k < NR_STEPS; k++) {
		unsigned long w0 = zd_crash_inject_writes(), warns;
		struct zd_machine *m = boot();
		int rc;

		if (!m)
			return ok(false, "step %d: boot: %s", k, zd_machine_create_error());
		rc = run_step(m, k);
		zd_machine_destroy(m);
		step_writes[k] = zd_crash_inject_writes() - w0;
		good &= ok(!rc, "hook off: %s completes (%d)", steps[k].name, rc);
		m = observe(&state[k], &warns, NULL);
		if (!m)
			return ok(false, "step %d: reboot: %s", k, zd_machine_create_error());
		if (steps[k].op == OP_CREATE)
			good &= ok(state[k].mode == steps[k].mode && state[k].map == steps[k].map &&
				   state[k].align == steps[k].align,
				   "reboot after %s: %s", steps[k].name, mode_str(&state[k]));
		else if (k)
			good &= ok(steps[k].op == OP_DESTROY ? state[k].mode == ZD_NS_MODE_RAW
				   : same_meta(&state[k], &state[k - 1]),
				   "reboot after %s: %s", steps[k].name, mode_str(&state[k]));
		good &= ok(data_ok(m, k, 0, 0) && !warns, "reboot after %s: data and no WARN",
			   steps[k].name);
		zd_machine_destroy(m);
	}
	is_int(step_writes[0], 1, "a fresh region file: one write (its size)");
	is_int(step_writes[5], 0, "dax kmem reconfigure writes nothing to the media");
	is_int(step_writes[9], 2, "a failed reconfigure: the new block, then the old one back");
	return good;
}

/* ---- the campaign ---- */

static uint64_t rng;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Kill point: the nth write overall (1-based), torn after prefix bytes. */
static bool kill_point(unsigned long nth, int k, unsigned j, uint64_t len, uint64_t prefix)
{
	const struct step *s = &steps[k];
	struct meta got, before, after;
	unsigned long warns;
	char refused[200];
	struct zd_machine *m;
	int st = 0;
	pid_t pid;
	bool good;

	unlink(file);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDERR_FILENO);
		zd_crash_inject_set(nth, prefix);
		m = boot();
		for (int i = 0; m && i < NR_STEPS; i++)
			if (run_step(m, i))
				_exit(3);
		_exit(m ? 0 : 4);
	}
	waitpid(pid, &st, 0);
	if (!ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		"write %lu (%s, write %u of the step) torn at %llu of %llu: killed (status %#x)",
		nth, s->name, j, ULL(prefix), ULL(len), st))
		return false;

	/* The states on either side of this write, as the kernel sees them. */
	before = state[k - 1 < 0 ? 0 : k - 1];
	after = state[k];
	if (s->op == OP_CREATE_FAIL) {
		if (j == 1)
			after = state[s->like];
		else
			before = state[s->like];
	}
	m = observe(&got, &warns, refused);
	if (!m)
		return ok(false, "  reboot: %s", zd_machine_create_error());
	if (s->op == OP_SIZE) {
		good = got.mode == ZD_NS_MODE_RAW;
	} else if (s->op == OP_WRITE) {
		good = same_meta(&got, &before) && data_ok(m, k - 1, k, prefix < len ? prefix : len);
	} else {
		uint8_t torn[BLK];

		memcpy(torn, after.block, prefix < BLK ? prefix : BLK);
		memcpy(torn + (prefix < BLK ? prefix : BLK), before.block + (prefix < BLK ? prefix : BLK),
		       BLK - (prefix < BLK ? prefix : BLK));
		/* intact old or new: that namespace; anything else is torn and
		 * must not be accepted (raw, refused or with no claim at all) */
		if (!memcmp(torn, after.block, BLK))
			good = same_meta(&got, &after);
		else if (!memcmp(torn, before.block, BLK))
			good = same_meta(&got, &before);
		else
			good = got.mode == ZD_NS_MODE_RAW;
		if (memcmp(got.block, torn, BLK)) {
			diag("  the block on the file is not the torn mix at %llu", ULL(prefix));
			good = false;
		}
		good = good && data_ok(m, k - 1, 0, 0);
	}
	good = ok(good && !warns, "  reboot: %s%s%s (before %s, after %s), %lu WARN", mode_str(&got),
		  refused[0] ? ", refused: " : "", refused, mode_str(&before), mode_str(&after), warns);
	zd_machine_destroy(m);
	return good;
}

static unsigned campaign(uint64_t seed)
{
	unsigned long nth = 0;
	unsigned points = 0;

	rng = seed ? seed : 1;
	for (int k = 0; k < NR_STEPS; k++) {
		for (unsigned j = 1; j <= step_writes[k]; j++) {
			uint64_t len = steps[k].op == OP_SIZE ? 1 : steps[k].op == OP_WRITE ? steps[k].len : BLK;
			unsigned n = steps[k].op == OP_SIZE ? 2 : PREFIXES;

			nth++;
			for (unsigned i = 0; i < n; i++) {
				uint64_t p = i == 0 ? 0 : i == 1 ? len : next_rand() % (len + 1);

				/* a block is most interesting at its signature and checksum */
				if (len == BLK && i >= 2 && i % 3 == 0)
					p = next_rand() % 24;
				else if (len == BLK && i >= 2 && i % 3 == 1)
					p = BLK - 16 + next_rand() % 16;
				kill_point(nth, k, j, len, p);
				points++;
			}
		}
	}
	return points;
}

/* ---- torn blocks, exhaustively, against validation alone ---- */

static bool accepted(const uint8_t *blk)
{
	struct zd_nd_pfn_validate_ctx c = { .start = RSTART, .size = RSIZE, .page_size = 4096,
					    .struct_page_size = sizeof(struct zd_page) };

	for (int kind = ZD_ND_FSDAX; kind <= ZD_ND_DEVDAX; kind++) {
		c.kind = (enum zd_nd_pfn_kind)kind;
		if (!zd_nd_pfn_validate((const struct zd_nd_pfn_sb *)blk, &c, NULL, NULL, 0))
			return true;
	}
	return false;
}

static void torn_blocks(void)
{
	unsigned pairs = 0, bad = 0, mixes = 0;

	for (int k = 1; k < NR_STEPS; k++) {
		const uint8_t *a = state[k - 1].block, *b = state[steps[k].op == OP_CREATE_FAIL ?
							       steps[k].like : k].block;
		uint8_t mix[BLK];
		int lines[64], nl = 0;

		if (!memcmp(a, b, BLK))
			continue;
		pairs++;
		for (uint64_t p = 0; p <= BLK; p++, mixes++) {
			memcpy(mix, b, p);
			memcpy(mix + p, a + p, BLK - p);
			if (accepted(mix) && memcmp(mix, a, BLK) && memcmp(mix, b, BLK))
				bad++;
		}
		for (int l = 0; l < 64; l++)
			if (memcmp(a + 64 * l, b + 64 * l, 64))
				lines[nl++] = l;
		for (unsigned sub = 0; nl <= 12 && sub < 1u << nl; sub++, mixes++) {
			memcpy(mix, a, BLK);
			for (int i = 0; i < nl; i++)
				if (sub & 1u << i)
					memcpy(mix + 64 * lines[i], b + 64 * lines[i], 64);
			if (accepted(mix) && memcmp(mix, a, BLK) && memcmp(mix, b, BLK))
				bad++;
		}
	}
	ok(pairs >= 6 && !bad, "%u torn mixes (every prefix, every cache-line subset) of %u block "
	   "pairs: %u accepted by validation", mixes, pairs, bad);
}

/* ---- the memmap is not persistent ---- */

static void memmap_scribbled(void)
{
	struct zd_nd_region *r;
	struct zd_machine *m;
	struct zd_nd_namespace_info in;
	uint8_t *junk = malloc(8 * M);
	unsigned long warns;
	struct meta got;
	int fd;

	unlink(file);
	m = boot();
	if (!m || !junk)
		goto out;
	run_step(m, 1);                       /* fsdax map=dev */
	zd_machine_destroy(m);
	for (uint64_t i = 0; i < 8 * M; i++)
		junk[i] = (uint8_t)(next_rand() | 1);
	fd = open(file, O_RDWR);
	/* what a kill in the middle of memmap init can leave: any bytes */
	ok(fd >= 0 && pwrite(fd, junk, 8 * M - 8192, 8192) == (ssize_t)(8 * M - 8192),
	   "scribble over [8K, 8M) of an fsdax map=dev namespace's memmap");
	if (fd >= 0)
		close(fd);
	m = observe(&got, &warns, NULL);
	if (!ok(m && same_meta(&got, &state[1]) && !warns,
		"next boot: the namespace as created, no WARN (%s)", mode_str(&got)))
		goto out;
	r = zd_nd_region_find(m, "region0");
	zd_nd_namespace_get(r, &in);
	struct zd_page *pg = zd_pfn_to_page(m, in.data_start >> 12);
	ok(zd_is_zone_device_page(pg) && zd_page_pgmap(m, pg) == zd_nd_namespace_pgmap(r),
	   "the first data page's struct page, read from the file, is initialised anew");
out:
	if (m)
		zd_machine_destroy(m);
	free(junk);
}

int main(void)
{
	const char *env = getenv("ZD_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x7a64637261736821ULL;
	double t0 = tap_now();
	unsigned points;

	if (!mkdtemp(dir)) {
		fail("mkdtemp");
		return done_testing();
	}
	snprintf(file, sizeof(file), "%s/region0.img", dir);
	diag("seed %#llx (ZD_SEED overrides)", ULL(seed));
	if (reference()) {
		torn_blocks();
		points = campaign(seed);
		ok(points >= 200, "%u kill points", points);
		memmap_scribbled();
	}
	unlink(file);
	rmdir(dir);
	diag("%.1f s", tap_now() - t0);
	return done_testing();
}
