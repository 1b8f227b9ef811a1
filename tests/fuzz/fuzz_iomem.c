/*
 * libFuzzer target: the /proc/iomem importer. The text goes through
 * zd_iomem_parse() (src/kernel/iomem.c) and, when it parses and describes
 * little enough RAM to boot quickly, through zd_machine_create() with
 * iomem_path, the way `zonedev iomem --import` and a scenario's
 * `iomem:` key use it.
 * Invariants checked for every input:
 *  - the parser never crashes or leaks; it returns 0 or a negative errno;
 *    a refusal leaves *out NULL, *n 0 and says why in err;
 *  - on success every entry has start <= end, a NUL-terminated name, a depth
 *    of at most 32 that grows by at most one level per line, and lies inside
 *    its parent (the nesting a /proc/iomem listing encodes);
 *  - a boot either fails with a reason (zd_machine_create_error) or gives a
 *    machine whose /proc/iomem dump parses again, and booting that dump
 *    reproduces it byte for byte (the import is a fixed point: this is
 *    what "byte-identical /proc/iomem import" promises);
 *  - zd_machine_destroy() frees everything (the fuzzer's leak check).
 * Booting costs host time and memory proportional to RAM (about 25 ms per
 * GiB, several times that under ASan), so only inputs with at most
 * FUZZ_IOMEM_MAX_RAM of top-level System RAM boot, and under libFuzzer only
 * one input in FUZZ_IOMEM_BOOT_EVERY (chosen by a hash of its bytes, so a
 * reproducer boots again): otherwise boots would hold the run to a few
 * hundred inputs a second. The replay in `make check` boots every input.
 */
#include "fuzz.h"

#include <zonedev/err.h>
#include <zonedev/ioport.h>
#include <zonedev/machine.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef FUZZ_IOMEM_MAX_RAM
#define FUZZ_IOMEM_MAX_RAM (1ULL << 30)
#endif
#ifndef FUZZ_IOMEM_BOOT_EVERY
#define FUZZ_IOMEM_BOOT_EVERY 1
#endif
#define MAX_DEPTH 32            /* IOMEM_PARSE_MAX_DEPTH in iomem.c */

static FILE *open_text(const uint8_t *data, size_t size, void **copy)
{
	/* fmemopen wants a writable buffer and refuses size 0 on old glibc. */
	*copy = malloc(size ? size : 1);
	if (!*copy)
		return NULL;
	if (!size)
		return fopen("/dev/null", "r");
	memcpy(*copy, data, size);
	return fmemopen(*copy, size, "r");
}

static int parse(const uint8_t *data, size_t size, struct zd_iomem_entry **e, size_t *n,
		 char *err, size_t errlen)
{
	void *copy;
	FILE *f = open_text(data, size, &copy);
	int rc;

	FUZZ_CHECK(f != NULL, "cannot open the input as a stream: %s", strerror(errno));
	rc = zd_iomem_parse(f, e, n, err, errlen);
	fclose(f);
	free(copy);
	return rc;
}

static void check_entries(const struct zd_iomem_entry *e, size_t n)
{
	/* parent[d]: index of the latest entry at depth d. */
	size_t parent[MAX_DEPTH + 1];

	for (size_t i = 0; i < n; i++) {
		unsigned d = e[i].depth;

		FUZZ_CHECK(e[i].start <= e[i].end, "entry %zu: start %#llx > end %#llx", i,
			   (unsigned long long)e[i].start, (unsigned long long)e[i].end);
		FUZZ_CHECK(memchr(e[i].name, '\0', sizeof(e[i].name)) != NULL,
			   "entry %zu: name not terminated", i);
		FUZZ_CHECK(d <= MAX_DEPTH, "entry %zu: depth %u", i, d);
		FUZZ_CHECK(d == 0 || (i > 0 && d <= e[i - 1].depth + 1),
			   "entry %zu: depth %u after depth %u", i, d, i ? e[i - 1].depth : 0);
		if (d > 0) {
			const struct zd_iomem_entry *p = &e[parent[d - 1]];

			FUZZ_CHECK(p->start <= e[i].start && e[i].end <= p->end,
				   "entry %zu [%#llx-%#llx] outside its parent [%#llx-%#llx]", i,
				   (unsigned long long)e[i].start, (unsigned long long)e[i].end,
				   (unsigned long long)p->start, (unsigned long long)p->end);
		}
		parent[d] = i;
	}
}

/* FNV-1a: which inputs boot under libFuzzer, the same on every run. */
static bool chosen_to_boot(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h % FUZZ_IOMEM_BOOT_EVERY == 0;
}

/* Top-level System RAM in bytes (saturating), what a boot would allocate for. */
static uint64_t system_ram(const struct zd_iomem_entry *e, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t sz;

		if (e[i].depth || strcmp(e[i].name, "System RAM"))
			continue;
		sz = e[i].end - e[i].start;
		if (sz == UINT64_MAX || total + sz + 1 < total)
			return UINT64_MAX;
		total += sz + 1;
	}
	return total;
}

static int memfd = -1;
static char memfd_path[64];

/* Boot from text; NULL (with no machine left) if the boot refused it. */
static struct zd_machine *boot(const void *text, size_t len)
{
	struct zd_machine_desc d = { .arch = "x86_64", .iomem_path = memfd_path };
	struct zd_machine *m;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-iomem", MFD_CLOEXEC);
		FUZZ_CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
		snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	}
	FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate: %s", strerror(errno));
	FUZZ_CHECK(len == 0 || pwrite(memfd, text, len, 0) == (ssize_t)len, "pwrite: %s",
		   strerror(errno));
	m = zd_machine_create(&d);
	if (ZD_IS_ERR_OR_NULL(m)) {
		const char *why = zd_machine_create_error();

		FUZZ_CHECK(m != NULL, "zd_machine_create returned NULL");
		FUZZ_CHECK(ZD_PTR_ERR(m) < 0 && ZD_PTR_ERR(m) >= -4095, "bad error pointer");
		FUZZ_CHECK(why && why[0], "boot failed (%ld) without a reason", ZD_PTR_ERR(m));
		return NULL;
	}
	return m;
}

/* The machine's /proc/iomem text (malloc'd), and its JSON form as a smoke test. */
static char *dump(struct zd_machine *m, size_t *len)
{
	char *buf = NULL, *json = NULL;
	size_t jlen = 0;
	FILE *f = open_memstream(&buf, len);

	FUZZ_CHECK(f != NULL, "open_memstream");
	zd_iomem_dump(m, f);
	FUZZ_CHECK(fclose(f) == 0, "dump stream");
	f = open_memstream(&json, &jlen);
	FUZZ_CHECK(f != NULL, "open_memstream");
	zd_iomem_dump_json(m, f);
	FUZZ_CHECK(fclose(f) == 0, "json stream");
	FUZZ_CHECK(jlen >= 3 && json[0] == '[' && json[jlen - 2] == ']', "JSON dump: %.80s", json);
	free(json);
	return buf;
}

static void boot_and_compare(const uint8_t *data, size_t size)
{
	struct zd_iomem_entry *e = NULL;
	struct zd_machine *m;
	size_t len1, len2, n;
	char *text1, *text2, err[256];
	int rc;

	m = boot(data, size);
	if (!m)
		return;
	text1 = dump(m, &len1);
	zd_machine_destroy(m);

	/* The dump is a /proc/iomem: it parses, and imports to itself. */
	rc = parse((const uint8_t *)text1, len1, &e, &n, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || (rc == -EPERM && len1 == 0),
		   "the dump of a booted machine does not parse (%d): %s\n--- dump:\n%s", rc, err,
		   text1);
	free(e);
	m = boot(text1, len1);
	FUZZ_CHECK(m != NULL, "the dump of a booted machine does not boot: %s\n--- dump:\n%s",
		   zd_machine_create_error(), text1);
	text2 = dump(m, &len2);
	zd_machine_destroy(m);
	FUZZ_CHECK(len1 == len2 && memcmp(text1, text2, len1) == 0,
		   "import is not a fixed point\n--- first dump:\n%s--- its import:\n%s", text1,
		   text2);
	free(text1);
	free(text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zd_iomem_entry *e = (struct zd_iomem_entry *)1;
	size_t n = 12345;
	char err[160];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = parse(data, size, &e, &n, err, sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -EPERM || rc == -EIO || rc == -ENOMEM,
			   "unexpected error %d (%s)", rc, err);
		FUZZ_CHECK(e == NULL && n == 0, "refusal left entries (%p, %zu)", (void *)e, n);
		FUZZ_CHECK(err[0] != '\0', "refusal %d without a reason", rc);
		return 0;
	}
	FUZZ_CHECK(err[0] == '\0', "success with an error text: %s", err);
	FUZZ_CHECK((n == 0) == (e == NULL), "n %zu but entries %p", n, (void *)e);
	check_entries(e, n);
	if (n && system_ram(e, n) <= FUZZ_IOMEM_MAX_RAM && chosen_to_boot(data, size)) {
		free(e);
		boot_and_compare(data, size);
		return 0;
	}
	free(e);
	return 0;
}
