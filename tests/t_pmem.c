/*
 * Persistent memory through the machine description: pmem regions backed by
 * files in a mkdtemp directory, namespaces created in every mode, kept
 * across machines, refused when their info block is corrupt.
 *
 * Asserts:
 *  - five regions: fsdax map=dev (1 GiB), fsdax map=mem (512 MiB), devdax
 *    align 4K / 2M (map=dev, 256 MiB each), devdax align 1G (map=mem, 2 GiB);
 *    each create succeeds and the ndctl JSON (zd_nd_list_namespaces_json)
 *    has, per namespace, dev, mode, map, size = region - dataoff (dataoff
 *    computed here from the nd_pfn_init rules), uuid (the namespace_get one,
 *    canonical 36 characters), align, and blockdev pmemN for fsdax / chardev
 *    daxN.0 (and no blockdev) for devdax; the pgmap type and compound order
 *    follow the mode and align;
 *  - data written through zd_nd_namespace_data survives destroying the
 *    machine; a second machine from the same files finds every namespace in
 *    the same mode with the same JSON and the data intact;
 *  - corrupting the info block on disk (one byte of the checksum, a flags
 *    byte, a signature byte; and, with the checksum recomputed, mode,
 *    parent_uuid, align, page_size, dataoff) makes the next boot leave the
 *    namespace raw, zd_nd_namespace_get().refused naming the failing rule
 *    (an unknown signature is simply no claim: raw, nothing refused), and the
 *    whole file - data area and the corrupt block itself - byte-identical to
 *    before that boot (hash); restoring the block brings the devdax
 *    namespace and its data back;
 *  - memory failure on an fsdax pfn: the page gets PG_hwpoison and the pmem
 *    handler logs it;
 *  - fsdax map=dev: the struct page of the first data pfn, pread from the
 *    region file at its altmap offset, equals zd_pfn_to_page()'s contents.
 */
#include <zonedev/zonedev.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)
#define NR_REG 5

static char dir[64];
static char paths[NR_REG][128];

static const struct {
	phys_addr_t start;
	uint64_t size;
	enum zd_nd_ns_mode mode;
	enum zd_nd_pfn_mode map;
	uint64_t align;
	const char *name;
} reg[NR_REG] = {
	{ 16 * G, 1 * G, ZD_NS_MODE_FSDAX, ZD_ND_MAP_DEV, 2 * M, "fsdax map=dev" },
	{ 20 * G, 512 * M, ZD_NS_MODE_FSDAX, ZD_ND_MAP_MEM, 2 * M, "fsdax map=mem" },
	{ 24 * G, 256 * M, ZD_NS_MODE_DEVDAX, ZD_ND_MAP_DEV, 4096, "devdax align 4K" },
	{ 28 * G, 256 * M, ZD_NS_MODE_DEVDAX, ZD_ND_MAP_DEV, 2 * M, "devdax align 2M" },
	{ 32 * G, 2 * G, ZD_NS_MODE_DEVDAX, ZD_ND_MAP_MEM, 1 * G, "devdax align 1G" },
};

/* nd_pfn_init sizing (docs/pmem.md): where the data starts. */
static uint64_t expected_dataoff(int i)
{
	uint64_t a = reg[i].align > 2 * M ? reg[i].align : 2 * M;
	uint64_t npfns0 = (reg[i].size - 8192) / 4096;
	uint64_t end = reg[i].map == ZD_ND_MAP_DEV ? reg[i].start + 8192 + 64 * npfns0
						    : reg[i].start + 8192;
	return ((end + a - 1) & ~(a - 1)) - reg[i].start;
}

static struct zd_machine *boot(const int *which, int n)
{
	struct zd_nd_region_desc pm[NR_REG];
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .pmem = pm, .nr_pmem = (size_t)n };
	struct zd_machine *m;

	memset(pm, 0, sizeof(pm));
	for (int k = 0; k < n; k++) {
		pm[k].start = reg[which[k]].start;
		pm[k].size = reg[which[k]].size;
		pm[k].path = paths[which[k]];
	}
	m = zd_machine_create(&d);
	if (ZD_IS_ERR(m)) {
		diag("boot failed: %s", zd_machine_create_error());
		return NULL;
	}
	return m;
}

static struct zd_machine *boot_all(void)
{
	static const int all[NR_REG] = { 0, 1, 2, 3, 4 };
	return boot(all, NR_REG);
}

static struct zd_nd_region *region(struct zd_machine *m, int id)
{
	char name[16];
	snprintf(name, sizeof(name), "region%d", id);
	return zd_nd_region_find(m, name);
}

/* ---- the ndctl JSON, flat objects ---- */

static char *json_of(struct zd_machine *m)
{
	return tap_dump_text(m, zd_nd_list_namespaces_json);
}

/* The object whose "dev" is dev: [*start, *end) in json. */
static bool json_object(const char *json, const char *dev, const char **start, const char **end)
{
	char needle[64];
	const char *p;

	snprintf(needle, sizeof(needle), "\"dev\":\"%s\"", dev);
	p = strstr(json, needle);
	if (!p)
		return false;
	*start = p;
	while (*start > json && **start != '{')
		(*start)--;
	*end = strchr(p, '}');
	return *end != NULL;
}

/* Value of key inside [o, e): string contents or the raw number. */
static bool json_get(const char *o, const char *e, const char *key, char *out, size_t len)
{
	char needle[64];
	const char *p;
	size_t n = 0;

	snprintf(needle, sizeof(needle), "\"%s\":", key);
	p = strstr(o, needle);
	if (!p || p >= e)
		return false;
	p += strlen(needle);
	if (*p == '"') {
		p++;
		while (p < e && *p != '"' && n + 1 < len)
			out[n++] = *p++;
	} else {
		while (p < e && *p != ',' && *p != '\n' && *p != '}' && n + 1 < len)
			out[n++] = *p++;
	}
	out[n] = '\0';
	return true;
}

static void check_json(struct zd_machine *m, const char *when)
{
	char *json = json_of(m);

	for (int i = 0; i < NR_REG; i++) {
		char dev[32], v[64], want[64];
		const char *o = NULL, *e = NULL;
		struct zd_nd_namespace_info in;
		bool dax = reg[i].mode == ZD_NS_MODE_DEVDAX;

		snprintf(dev, sizeof(dev), "namespace%d.0", i);
		if (!ok(json_object(json, dev, &o, &e), "%s: %s listed", when, dev))
			continue;
		zd_nd_namespace_get(region(m, i), &in);
		ok(json_get(o, e, "mode", v, sizeof(v)) && !strcmp(v, dax ? "devdax" : "fsdax"),
		   "%s: %s mode %s", when, reg[i].name, v);
		ok(json_get(o, e, "map", v, sizeof(v)) &&
		   !strcmp(v, reg[i].map == ZD_ND_MAP_DEV ? "dev" : "mem"), "%s: %s map %s", when,
		   reg[i].name, v);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)(reg[i].size - expected_dataoff(i)));
		ok(json_get(o, e, "size", v, sizeof(v)) && !strcmp(v, want),
		   "%s: %s size %s = region - dataoff %#llx", when, reg[i].name, v,
		   (unsigned long long)expected_dataoff(i));
		snprintf(want, sizeof(want), "%llu", (unsigned long long)reg[i].align);
		ok(json_get(o, e, "align", v, sizeof(v)) && !strcmp(v, want), "%s: %s align %s", when,
		   reg[i].name, v);
		ok(json_get(o, e, "uuid", v, sizeof(v)) && strlen(v) == 36 && v[8] == '-' &&
		   v[13] == '-' && v[18] == '-' && v[23] == '-' && !strcmp(v, in.uuid),
		   "%s: %s uuid %s", when, reg[i].name, v);
		if (dax) {
			snprintf(want, sizeof(want), "dax%d.0", i);
			ok(json_get(o, e, "chardev", v, sizeof(v)) && !strcmp(v, want),
			   "%s: %s chardev %s", when, reg[i].name, v);
			ok(!json_get(o, e, "blockdev", v, sizeof(v)), "%s: %s has no blockdev", when,
			   reg[i].name);
		} else {
			snprintf(want, sizeof(want), "pmem%d", i);
			ok(json_get(o, e, "blockdev", v, sizeof(v)) && !strcmp(v, want),
			   "%s: %s blockdev %s", when, reg[i].name, v);
			ok(!json_get(o, e, "chardev", v, sizeof(v)), "%s: %s has no chardev", when,
			   reg[i].name);
		}
		is_u64(in.data_start, reg[i].start + expected_dataoff(i), "%s: %s data starts at dataoff",
		       when, reg[i].name);
	}
	free(json);
}

/* ---- data ---- */

static void pattern(int i, uint64_t off, char *buf, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1) + off;
	for (size_t k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[k] = (char)x;
	}
}

/* Pattern i at three places of region rid's data area. */
static int data_check_region(struct zd_machine *m, int rid, int i, bool write)
{
	uint64_t size = 0;
	char *d = zd_nd_namespace_data(region(m, rid), &size);
	uint64_t offs[3] = { 0, size / 2, size - 4096 };
	char buf[4096];
	int bad = 0;

	for (int k = 0; k < 3; k++) {
		pattern(i, offs[k], buf, sizeof(buf));
		if (write)
			memcpy(d + offs[k], buf, sizeof(buf));
		else
			bad += memcmp(d + offs[k], buf, sizeof(buf)) != 0;
	}
	return bad;
}

static int data_check(struct zd_machine *m, int i, bool write)
{
	return data_check_region(m, i, i, write);
}

/* FNV-1a over the whole file, 8 bytes at a time. */
static uint64_t file_hash(const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint64_t h = 1469598103934665603ULL;

	if (fd < 0 || fstat(fd, &st))
		return 0;
	const uint64_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 0;
	for (size_t k = 0; k < (size_t)st.st_size / 8; k++)
		h = (h ^ p[k]) * 1099511628211ULL;
	munmap((void *)p, (size_t)st.st_size);
	return h;
}

/* ---------------------------------------------------------------- tests */

static void create_all(struct zd_machine *m)
{
	for (int i = 0; i < NR_REG; i++) {
		struct zd_nd_region *r = region(m, i);
		struct zd_nd_namespace_opts o = { .mode = reg[i].mode, .map = reg[i].map,
						  .align = reg[i].align };
		struct zd_nd_namespace_info in;

		if (!ok(r != NULL, "region%d exists", i))
			continue;
		zd_nd_namespace_get(r, &in);
		ok(in.mode == ZD_NS_MODE_RAW && !in.refused[0], "%s: starts raw (fresh file)", reg[i].name);
		is_int(zd_nd_create_namespace(r, &o), 0, "%s: create-namespace", reg[i].name);
		struct zd_dev_pagemap *pg = zd_nd_namespace_pgmap(r);
		if (ok(pg != NULL, "%s: enabled with a pgmap", reg[i].name)) {
			ok(pg->type == (reg[i].mode == ZD_NS_MODE_FSDAX ? ZD_MEMORY_DEVICE_FS_DAX
									: ZD_MEMORY_DEVICE_GENERIC),
			   "%s: pgmap type %s", reg[i].name, zd_memory_type_name(pg->type));
			unsigned long shift = reg[i].mode == ZD_NS_MODE_DEVDAX && reg[i].align > 4096 ?
					      (unsigned long)__builtin_ctzll(reg[i].align >> 12) : 0;
			is_int(pg->vmemmap_shift, shift, "%s: vmemmap_shift %lu", reg[i].name, shift);
			ok(!!(pg->flags & ZD_PGMAP_ALTMAP_VALID) == (reg[i].map == ZD_ND_MAP_DEV),
			   "%s: altmap %s", reg[i].name, reg[i].map == ZD_ND_MAP_DEV ? "on" : "off");
		}
	}
}

static void memmap_in_file(struct zd_machine *m)
{
	struct zd_nd_region *r = region(m, 0);
	struct zd_dev_pagemap *pg = zd_nd_namespace_pgmap(r);
	const uint64_t base = PFN(reg[0].start), dataoff = expected_dataoff(0);
	struct zd_page from_file;
	int fd;

	if (!ok(pg && (pg->flags & ZD_PGMAP_ALTMAP_VALID), "fsdax map=dev has an altmap"))
		return;
	is_u64(pg->altmap.base_pfn, base, "altmap base is the region's first pfn");
	is_u64(pg->altmap.reserve, 2, "altmap reserve: the 8 KiB label + info block");
	is_u64(pg->altmap.free, (dataoff - 8192) / 4096, "altmap free: up to dataoff");
	uint64_t first = base + dataoff / 4096;
	struct zd_page *p = zd_pfn_to_page(m, first);
	ok(zd_is_fsdax_page(m, p) && p->flags != 0, "the first data pfn is an initialised fsdax page");
	/* Section s's memmap is the PMD block carved at base + 512 * (s + 1)
	 * (reserve 2, blocks naturally aligned to 512 pfns). */
	uint64_t s = (first - base) / 32768;
	off_t off = (off_t)(((512 * (s + 1)) << 12) + ((first - base) % 32768) * sizeof(struct zd_page));
	fd = open(paths[0], O_RDONLY);
	ok(fd >= 0 && pread(fd, &from_file, sizeof(from_file), off) == (ssize_t)sizeof(from_file),
	   "pread the struct page from the region file at %#llx", (unsigned long long)off);
	if (fd >= 0)
		close(fd);
	ok(!memcmp(&from_file, p, sizeof(from_file)),
	   "the file holds the struct page of the first data pfn byte for byte");
	/* And it is live: a change through the memmap reaches the file. */
	zd_get_page(m, p);
	fd = open(paths[0], O_RDONLY);
	ok(fd >= 0 && pread(fd, &from_file, sizeof(from_file), off) == (ssize_t)sizeof(from_file) &&
	   from_file._refcount == 1, "a refcount change shows in the file");
	if (fd >= 0)
		close(fd);
	zd_put_page(m, p);
}

static void memory_failure(struct zd_machine *m)
{
	const uint64_t pfn = PFN(reg[0].start + expected_dataoff(0)) + 77;
	struct zd_page *p = zd_pfn_to_page(m, pfn);
	unsigned long seq = zd_log_seq(m);
	struct zd_log_line lines[64];
	bool handler = false;

	ok(!zd_test_page_flag(p, ZD_PG_hwpoison), "fsdax page not poisoned yet");
	is_int(zd_memory_failure(m, pfn, 0), 0, "memory_failure on an fsdax pfn");
	ok(zd_test_page_flag(p, ZD_PG_hwpoison), "the page gets PG_hwpoison");
	size_t n = zd_log_read(m, seq, lines, 64);
	char needle[64];
	snprintf(needle, sizeof(needle), "pmem: memory failure at pfn %#llx", (unsigned long long)pfn);
	for (size_t i = 0; i < n; i++)
		handler |= strstr(lines[i].text, needle) != NULL;
	ok(handler, "the pmem handler logged it (%s)", needle);
	__zd_clear_page_flag(p, ZD_PG_hwpoison);
}

struct corruption {
	const char *what;
	size_t offset;            /* inside the block */
	int (*edit)(struct zd_nd_pfn_sb *sb);
	bool fix_checksum;
	const char *rule;         /* NULL: not a claim at all */
};

static int flip_byte(struct zd_nd_pfn_sb *sb, size_t off)
{
	((uint8_t *)sb)[off] ^= 0x01;
	return 0;
}
static int e_checksum(struct zd_nd_pfn_sb *sb) { return flip_byte(sb, 4088); }
static int e_flags(struct zd_nd_pfn_sb *sb) { return flip_byte(sb, 48); }
static int e_signature(struct zd_nd_pfn_sb *sb) { return flip_byte(sb, 3); }
static int e_mode(struct zd_nd_pfn_sb *sb) { zd_le32_put(&sb->mode, 3); return 0; }
static int e_parent(struct zd_nd_pfn_sb *sb) { return flip_byte(sb, 32 + 5); }
static int e_align(struct zd_nd_pfn_sb *sb) { zd_le32_put(&sb->align, 3 * 4096); return 0; }
static int e_page_size(struct zd_nd_pfn_sb *sb) { zd_le32_put(&sb->page_size, 65536); return 0; }
static int e_dataoff(struct zd_nd_pfn_sb *sb)
{
	zd_le64_put(&sb->dataoff, zd_le64_get(&sb->dataoff) + 4096);
	return 0;
}

static void corruptions(void)
{
	static const struct corruption cs[] = {
		{ "checksum byte", 0, e_checksum, false, "rule 4:" },
		{ "flags byte", 0, e_flags, false, "rule 4:" },
		{ "signature byte", 0, e_signature, false, NULL },
		{ "mode 3 (checksum fixed)", 0, e_mode, true, "rule 7:" },
		{ "parent_uuid byte (checksum fixed)", 0, e_parent, true, "rule 5:" },
		{ "align 12K (checksum fixed)", 0, e_align, true, "rule 11:" },
		{ "page_size 64K (checksum fixed)", 0, e_page_size, true, "rule 9:" },
		{ "dataoff + 4K (checksum fixed)", 0, e_dataoff, true, "rule 15:" },
	};
	const int target = 3;   /* devdax align 2M, map=dev */
	static const int only[1] = { target };
	struct zd_nd_pfn_sb orig, bad;
	int fd = open(paths[target], O_RDWR);

	if (!ok(fd >= 0 && pread(fd, &orig, sizeof(orig), 4096) == (ssize_t)sizeof(orig),
		"read the devdax info block from its file"))
		return;
	ok(!memcmp(orig.signature, ZD_DAX_SIG, 16), "it is a dax info block");
	for (size_t c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
		bad = orig;
		cs[c].edit(&bad);
		if (cs[c].fix_checksum)
			zd_nd_sb_set_checksum(&bad);
		if (pwrite(fd, &bad, sizeof(bad), 4096) != (ssize_t)sizeof(bad)) {
			ok(0, "%s: write the corrupt block", cs[c].what);
			continue;
		}
		uint64_t h0 = file_hash(paths[target]);
		struct zd_machine *m = boot(only, 1);
		if (!ok(m != NULL, "%s: the machine still boots", cs[c].what))
			continue;
		struct zd_nd_namespace_info in;
		zd_nd_namespace_get(region(m, 0), &in);
		is_int(in.mode, ZD_NS_MODE_RAW, "%s: the namespace comes up raw", cs[c].what);
		ok(zd_nd_namespace_pgmap(region(m, 0)) == NULL, "%s: nothing claims it", cs[c].what);
		if (cs[c].rule)
			ok(!strncmp(in.refused, cs[c].rule, strlen(cs[c].rule)),
			   "%s: refused names %s (\"%s\")", cs[c].what, cs[c].rule, in.refused);
		else
			ok(in.refused[0] == '\0', "%s: no claim, nothing refused (\"%s\")", cs[c].what,
			   in.refused);
		char *json = json_of(m);
		ok(strstr(json, "\"mode\":\"raw\"") != NULL, "%s: ndctl lists it raw", cs[c].what);
		free(json);
		zd_machine_destroy(m);
		is_u64(file_hash(paths[target]), h0, "%s: the file is byte-identical after the boot",
		       cs[c].what);
		struct zd_nd_pfn_sb now;
		ok(pread(fd, &now, sizeof(now), 4096) == (ssize_t)sizeof(now) &&
		   !memcmp(&now, &bad, sizeof(now)), "%s: the corrupt block was not rewritten", cs[c].what);
	}
	/* Put the good block back: the namespace and its data return. */
	ok(pwrite(fd, &orig, sizeof(orig), 4096) == (ssize_t)sizeof(orig), "restore the info block");
	close(fd);
	struct zd_machine *m = boot(only, 1);
	if (ok(m != NULL, "boot with the restored block")) {
		struct zd_nd_namespace_info in;
		zd_nd_namespace_get(region(m, 0), &in);
		is_int(in.mode, ZD_NS_MODE_DEVDAX, "restored: devdax again");
		ok(in.refused[0] == '\0', "restored: nothing refused");
		is_int(data_check_region(m, 0, target, false), 0, "restored: data intact");
		zd_machine_destroy(m);
	}
}

/*
 * Regressions: a read-only region still enables a map=mem namespace (its
 * contents mapped read-only) but refuses map=dev with EROFS, since the memmap
 * would be written into it; a region whose file has the wrong size fails the
 * boot with the region's own reason; default uuids do not depend on where
 * the file lives.
 */
static void read_only_and_errors(void)
{
	char path[96], path2[96];
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_nd_region_desc pm = { .start = 8 * G, .size = 256 * M, .path = path };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_nd_namespace_info in, in2;
	const enum zd_nd_pfn_mode maps[] = { ZD_ND_MAP_MEM, ZD_ND_MAP_DEV };

	snprintf(path, sizeof(path), "%s/ro.img", dir);
	snprintf(path2, sizeof(path2), "%s/elsewhere.img", dir);
	for (int i = 0; i < 2; i++) {
		struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_DEVDAX, .map = maps[i] };
		struct zd_machine *m;

		unlink(path);
		pm.read_only = false;
		m = zd_machine_create(&d);
		is_int(zd_nd_create_namespace(zd_nd_region_find(m, "region0"), &o), 0,
		       "rw region: devdax map=%s created", i ? "dev" : "mem");
		zd_nd_namespace_get(zd_nd_region_find(m, "region0"), &in);
		zd_machine_destroy(m);
		pm.read_only = true;
		m = zd_machine_create(&d);
		ok(!ZD_IS_ERR(m), "read-only region boots");
		zd_nd_namespace_get(zd_nd_region_find(m, "region0"), &in2);
		if (i == 0) {
			ok(in2.mode == ZD_NS_MODE_DEVDAX && in2.enabled && !in2.refused[0],
			   "read-only region: map=mem devdax is enabled");
		} else {
			ok(in2.mode == ZD_NS_MODE_DEVDAX && !in2.enabled && strstr(in2.refused, "EROFS"),
			   "read-only region: map=dev disabled with EROFS, not raw (%s)", in2.refused);
			ok(zd_log_contains(m, "read-only"), "...and the log says why");
		}
		zd_machine_destroy(m);
	}
	/* Same region geometry in another file: the same default uuid. */
	pm.read_only = false;
	pm.path = path2;
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_DEVDAX, .map = ZD_ND_MAP_DEV };
	zd_nd_create_namespace(zd_nd_region_find(m, "region0"), &o);
	zd_nd_namespace_get(zd_nd_region_find(m, "region0"), &in2);
	ok(!strcmp(in.uuid, in2.uuid) && in.uuid[0], "default uuid is independent of the file path");
	zd_machine_destroy(m);
	/* A file of another size: the boot error carries the region's reason. */
	pm.size = 512 * M;
	m = zd_machine_create(&d);
	ok(ZD_IS_ERR(m) && strstr(zd_machine_create_error(), "refusing to resize"),
	   "wrong-size file: %s", zd_machine_create_error());
	unlink(path);
	unlink(path2);
}

static void cleanup(void)
{
	for (int i = 0; i < NR_REG; i++)
		unlink(paths[i]);
	rmdir(dir);
}

int main(void)
{
	struct zd_machine *m;
	char *json1 = NULL;

	snprintf(dir, sizeof(dir), "/tmp/zd-pmem-XXXXXX");
	if (!ok(mkdtemp(dir) != NULL, "mkdtemp"))
		return done_testing();
	for (int i = 0; i < NR_REG; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/region%d.img", dir, i);

	m = boot_all();
	if (!ok(m != NULL, "machine 1 boots with five pmem regions"))
		goto out;
	create_all(m);
	check_json(m, "machine 1");
	json1 = json_of(m);
	for (int i = 0; i < NR_REG; i++)
		data_check(m, i, true);
	int bad = 0;
	for (int i = 0; i < NR_REG; i++)
		bad += data_check(m, i, false);
	is_int(bad, 0, "machine 1: data written through the namespaces reads back");
	memmap_in_file(m);
	memory_failure(m);
	is_u64(zd_warn_count(m), 0, "machine 1: no WARN");
	zd_machine_destroy(m);

	m = boot_all();
	if (!ok(m != NULL, "machine 2 boots from the same files"))
		goto out;
	for (int i = 0; i < NR_REG; i++) {
		struct zd_nd_namespace_info in;
		zd_nd_namespace_get(region(m, i), &in);
		is_int(in.mode, reg[i].mode, "machine 2: %s found in the same mode", reg[i].name);
		ok(in.refused[0] == '\0', "machine 2: %s not refused", reg[i].name);
		is_int(data_check(m, i, false), 0, "machine 2: %s data intact", reg[i].name);
	}
	check_json(m, "machine 2");
	char *json2 = json_of(m);
	ok(json1 && !strcmp(json1, json2), "machine 2: the ndctl JSON is identical");
	if (json1 && strcmp(json1, json2))
		diag("machine 1:\n%s\nmachine 2:\n%s", json1, json2);
	free(json2);
	is_u64(zd_warn_count(m), 0, "machine 2: no WARN");
	zd_machine_destroy(m);

	corruptions();
	read_only_and_errors();
out:
	free(json1);
	cleanup();
	return done_testing();
}
