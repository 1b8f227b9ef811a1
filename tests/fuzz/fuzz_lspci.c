/*
 * libFuzzer target: the lspci importer (tools/zonedev/lspci.c), fed
 * arbitrary bytes as the `lspci -nn -vvv` text a scenario's machine.pci
 * entry names, and the PCI topology it declares built on a small machine
 * (scenario_pci_build, drivers/pci/probe.c), as `zonedev run` does.
 * Invariants checked for every input:
 *  - the import never crashes, leaks or hangs; it accepts, or refuses with
 *    "fuzz.yaml:LINE:COL: message" pointing at the lspci key, and a message
 *    naming a listing line names one inside the input;
 *  - an accepted listing declares a tree: the host first, then depth first,
 *    each declaration after its parent and of a kind that fits below it
 *    (root ports below the host, switches below ports, downstream ports
 *    below switches, endpoints below ports), ports with a slot 0..31 (or
 *    -1, the next free one) and a function 0..7, endpoints with 1..8
 *    functions;
 *  - building it either succeeds or fails with a negative errno and a
 *    message that names the listing's line; the machine is destroyed whole
 *    either way (the fuzzer's leak check).
 * The listing goes through a memfd named by its /proc/self/fd path, so the
 * target touches no file. Under libFuzzer one accepted input in
 * FUZZ_LSPCI_BUILD_EVERY (by a hash of its bytes) boots, as boots dominate
 * the run; the replay in `make check` builds every one.
 */
#include "fuzz.h"
#include "cli.h"

#include <zonedev/err.h>
#include <zonedev/machine.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef FUZZ_LSPCI_BUILD_EVERY
#define FUZZ_LSPCI_BUILD_EVERY 1
#endif
#define DISP "fuzz.yaml"
/* the line and column of the lspci value in the text below */
#define AT DISP ":5:14: "

static int memfd = -1;
static char yaml[512];

static void setup(void)
{
	memfd = memfd_create("fuzz-lspci", MFD_CLOEXEC);
	FUZZ_CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
	snprintf(yaml, sizeof(yaml),
		 "machine:\n"
		 "  arch: x86_64\n"
		 "  ram: [{start: 1M, size: 63M}]\n"
		 "  pci:\n"
		 "    - lspci: /proc/self/fd/%d\n"
		 "      window: 64G\n"
		 "      size: 4G\n", memfd);
}

static unsigned long count_lines(const uint8_t *data, size_t size)
{
	unsigned long n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

/* " line N:" in msg: N, else 0. */
static unsigned long listing_line(const char *msg)
{
	const char *p = strstr(msg, " line ");

	return p ? strtoul(p + 6, NULL, 10) : 0;
}

static bool fits_below(const struct scenario *s, const struct pci_decl *d)
{
	enum pci_decl_kind up = s->pci[d->parent].kind;
	bool port = up == PCI_DECL_ROOT_PORT || up == PCI_DECL_DOWN_PORT;

	switch (d->kind) {
	case PCI_DECL_ROOT_PORT: return up == PCI_DECL_HOST;
	case PCI_DECL_SWITCH: return port;
	case PCI_DECL_DOWN_PORT: return up == PCI_DECL_SWITCH;
	case PCI_DECL_ENDPOINT: return port;
	case PCI_DECL_HOST: return false;
	}
	return false;
}

static void check_tree(const struct scenario *s)
{
	FUZZ_CHECK(s->nr_pci >= 2 && s->pci[0].kind == PCI_DECL_HOST,
		   "accepted without a host and a root port (%zu declarations)", s->nr_pci);
	for (size_t i = 1; i < s->nr_pci; i++) {
		const struct pci_decl *d = &s->pci[i];

		FUZZ_CHECK(d->parent >= 0 && (size_t)d->parent < i, "declaration %zu: parent %d", i,
			   d->parent);
		FUZZ_CHECK(fits_below(s, d), "declaration %zu: kind %d below kind %d", i, d->kind,
			   s->pci[d->parent].kind);
		if (d->kind == PCI_DECL_ENDPOINT)
			FUZZ_CHECK(d->nr >= 1 && d->nr <= 8, "endpoint %zu: %llu functions", i,
				   (unsigned long long)d->nr);
		else
			FUZZ_CHECK(d->slot >= -1 && d->slot <= 31 && d->fn >= 0 && d->fn <= 7,
				   "port %zu: slot %d function %d", i, d->slot, d->fn);
		FUZZ_CHECK(d->file && d->line >= 1, "declaration %zu has no listing line", i);
	}
}

static bool chosen_to_build(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h % FUZZ_LSPCI_BUILD_EVERY == 0;
}

static void build(struct scenario *s, unsigned long lines)
{
	struct run_opts o = { .quiet = true };
	struct zd_machine *m = scenario_boot(s, &o, NULL);
	char fail[512] = "";
	int rc;

	FUZZ_CHECK(!ZD_IS_ERR_OR_NULL(m), "the fixed machine did not boot: %s",
		   zd_machine_create_error());
	rc = scenario_pci_build(s, m, fail, sizeof(fail));
	FUZZ_CHECK(rc <= 0 && rc >= -4095, "scenario_pci_build returned %d", rc);
	if (rc && fail[0]) {
		/* "/proc/self/fd/N:LINE:1: machine.pci: cannot add it: ..." */
		const char *p = strchr(fail, ':');
		unsigned long line = p ? strtoul(p + 1, NULL, 10) : 0;

		FUZZ_CHECK(line >= 1 && line <= lines, "build failure names line %lu of %lu: %s",
			   line, lines, fail);
	}
	zd_machine_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct scenario zero;
	unsigned long lines = count_lines(data, size);
	struct scenario s;
	int rc;

	if (memfd < 0)
		setup();
	FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate: %s", strerror(errno));
	FUZZ_CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size, "pwrite: %s",
		   strerror(errno));
	rc = scenario_load_text(&s, yaml, DISP);
	FUZZ_CHECK(rc == 0 || rc == -1, "scenario_load_text returned %d", rc);
	if (rc) {
		unsigned long line = listing_line(s.yf.err + strlen(AT));

		FUZZ_CHECK(strncmp(s.yf.err, AT, strlen(AT)) == 0 && s.yf.err[strlen(AT)],
			   "refusal not at the lspci key: \"%s\"", s.yf.err);
		FUZZ_CHECK(line <= lines, "refusal names line %lu of %lu: \"%s\"", line, lines,
			   s.yf.err);
	} else {
		FUZZ_CHECK(s.yf.err[0] == '\0', "accepted with an error: \"%s\"", s.yf.err);
		check_tree(&s);
		if (chosen_to_build(data, size))
			build(&s, lines);
	}
	scenario_free(&s);
	FUZZ_CHECK(memcmp(&s, &zero, sizeof(s)) == 0, "scenario_free left state behind");
	return 0;
}
