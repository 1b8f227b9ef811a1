/*
 * The /proc/iomem text of the resource tree (src/kernel/iomem.c): the dump
 * format (zero-padded addresses, two spaces per level capped at five levels,
 * <BAD> for a missing name, no line for the root), the JSON form, what the
 * parser accepts and each refusal with its line number, the round trip of
 * our own dump, and the host's /proc/iomem when it is readable.
 * Why: the dump is the /proc/iomem users and the scenarios read side by
 * side with a real kernel's, and the parser is how a real machine's map is
 * imported; a format that drifts from the kernel's silently breaks both.
 * The tree operations themselves (src/kernel/resource.c) are in
 * t_resource.c.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define SZ_1M   (1ULL << 20)
#define SZ_1G   (1ULL << 30)
#define SZ_4G   (4ULL << 30)

/* ------------------------------------------------------------------ dumps */

static void test_dump_format(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource lvl[7], noname = {
		.name = NULL, .start = 0x10000000000ULL, .end = 0x10000000fffULL,
		.flags = ZD_IORESOURCE_MEM,
	};
	char *d, *j;

	if (!m)
		return;
	for (int i = 0; i < 7; i++) {
		lvl[i] = (struct zd_resource){
			.name = "lvl", .start = 100 * SZ_1G + (phys_addr_t)i * SZ_1M,
			.end = 101 * SZ_1G - 1 - (phys_addr_t)i * SZ_1M, .flags = ZD_IORESOURCE_MEM,
		};
		zd_insert_resource(m, NULL, &lvl[i]);
	}
	ok(lvl[6].parent == &lvl[5], "7-deep chain");
	zd_insert_resource(m, NULL, &noname);
	d = tap_iomem_text(m);
	ok(strncmp(d, "00000000-ffffffff : System RAM\n", 31) == 0,
	   "first line: 8-digit zero-padded, no indent");
	ok(strstr(d, "\n1900000000-193fffffff : lvl\n"
		     "  1900100000-193fefffff : lvl\n"
		     "    1900200000-193fdfffff : lvl\n"
		     "      1900300000-193fcfffff : lvl\n"
		     "        1900400000-193fbfffff : lvl\n"
		     "          1900500000-193fafffff : lvl\n"
		     "          1900600000-193f9fffff : lvl\n") != NULL,
	   "2 spaces per level, capped at 5 levels");
	ok(strstr(d, "\n10000000000-10000000fff : <BAD>\n") != NULL, "NULL name prints <BAD>");
	ok(strstr(d, "PCI mem") == NULL, "the root is not printed");

	j = tap_dump_text(m, zd_iomem_dump_json);
	ok(j[0] == '[' && strstr(j, "{\"start\":\"0x0\",\"end\":\"0xffffffff\",\"name\":\"System RAM\","
				    "\"flags\":\"0x81000200\",\"desc\":0,\"children\":[{\"start\":\"0x1000000\",") != NULL,
	   "JSON has the RAM object, the kernel image (at 16 MiB) its first child");
	ok(strstr(j, "\"name\":null") != NULL, "JSON null name");
	{
		char want[80];

		snprintf(want, sizeof(want), "\"children\":[{\"start\":\"0x%llx\",",
			 (unsigned long long)lvl[1].start);
		ok(strstr(j, want) != NULL, "JSON nests children");
	}
	free(j);
	free(d);
	zd_release_resource(m, &lvl[0]);
	zd_release_resource(m, &noname);
	zd_machine_destroy(m);
}

/* ----------------------------------------------------------------- parser */

static int parse_str(const char *text, struct zd_iomem_entry **e, size_t *n, char *err,
		     size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret = zd_iomem_parse(f, e, n, err, errlen);

	fclose(f);
	return ret;
}

static void test_parse(void)
{
	static const char sample[] =
		"00000000-00000fff : Reserved\n"
		"00001000-0009ffff : System RAM\n"
		"000a0000-000fffff : PCI Bus 0000:00\n"
		"  000a0000-000bffff : Video RAM area\n"
		"00100000-bfffffff : System RAM\n"
		"  01000000-01ffffff : Kernel code\n"
		"100000000-43fffffff : System RAM\n"
		"  3ffc00000000-3fffffffffff : bad child\n";
	struct zd_iomem_entry *e = NULL;
	size_t n = 0;
	char err[160];
	int ret;

	/* The last line is not inside its parent: drop it for the good case. */
	{
		char good[sizeof(sample)];
		size_t len = strlen(sample) - strlen("  3ffc00000000-3fffffffffff : bad child\n");

		memcpy(good, sample, len);
		good[len] = '\0';
		ret = parse_str(good, &e, &n, err, sizeof(err));
		is_int(ret, 0, "sample parses");
		is_int(n, 7, "seven entries");
		if (ret == 0 && n == 7) {
			is_u64(e[1].start, 0x1000, "start");
			is_u64(e[1].end, 0x9ffff, "end");
			ok(strcmp(e[2].name, "PCI Bus 0000:00") == 0, "name with spaces and colons");
			is_int(e[3].depth, 1, "indented entry is depth 1");
			is_int(e[4].depth, 0, "back to depth 0");
			is_u64(e[6].start, 0x100000000ULL, "9-digit address");
		}
		free(e);
	}

	ret = parse_str(sample, &e, &n, err, sizeof(err));
	is_int(ret, -EINVAL, "child outside its parent: -EINVAL");
	ok(strncmp(err, "line 8: ", 8) == 0 && strstr(err, "not inside its parent on line 7"),
	   "error names the lines (%s)", err);
	ok(e == NULL && n == 0, "nothing returned on error");

	static const struct { const char *text, *prefix, *what; } bad[] = {
		{ "00000000-00000fff : A\nzzzz-1 : B\n", "line 2: ", "not hex" },
		{ "00000000-00000fff : A\n00001000 : B\n", "line 2: ", "missing dash" },
		{ "00000000-00000fff A\n", "line 1: ", "missing colon" },
		{ "00000000-00000fff : A\n   00000000-000000ff : B\n", "line 2: ", "odd indent" },
		{ "00000000-00000fff : A\n    00000000-000000ff : B\n", "line 2: ", "depth jump" },
		{ "\n00002000-00001fff : A\n", "line 2: ", "start above end" },
		{ "00002000-00002fff : A\n00001000-00001fff : B\n", "line 2: ", "out of order" },
		{ "00000000-11112222333344445 : A\n", "line 1: ", "more than 64 bits" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ret = parse_str(bad[i].text, &e, &n, err, sizeof(err));
		ok(ret == -EINVAL && strncmp(err, bad[i].prefix, strlen(bad[i].prefix)) == 0,
		   "%s: -EINVAL, %s(%s)", bad[i].what, bad[i].prefix, err);
	}

	ret = parse_str("00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n"
			"  00000000-00000000 : Kernel code\n", &e, &n, err, sizeof(err));
	is_int(ret, -EPERM, "all-zero addresses: -EPERM");
	ok(strstr(err, "CAP_SYS_ADMIN") && strstr(err, "root"), "message says why (%s)", err);

	ret = parse_str("", &e, &n, err, sizeof(err));
	ok(ret == 0 && n == 0, "empty input: no entries");

	/* Found by tests/fuzz/fuzz_iomem: a NUL after a CR left the CR in the
	 * name, which the dump printed and the next import stripped. */
	{
		static const char nul[] = "00100000-0fffffff : S\r\0junk\r\n";
		FILE *f = fmemopen((void *)nul, sizeof(nul) - 1, "r");

		ret = zd_iomem_parse(f, &e, &n, err, sizeof(err));
		fclose(f);
		ok(ret == 0 && n == 1 && !strcmp(e[0].name, "S"),
		   "a NUL ends the line: name \"S\", no CR (%d, %s)", ret, n ? e[0].name : "-");
		free(e);
	}
}

/* Our own dump parses back to the tree. */
static void test_parse_roundtrip(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, SZ_4G, NULL, 0);
	struct zd_resource win = {
		.name = "PCI Bus 0000:00", .start = 16 * SZ_1G, .end = 17 * SZ_1G - 1,
		.flags = ZD_IORESOURCE_MEM,
	};
	struct zd_iomem_entry *e = NULL;
	struct zd_resource *bar;
	size_t n = 0;
	char err[160], *d;

	if (!m)
		return;
	zd_insert_resource(m, NULL, &win);
	bar = zd_request_mem_region(m, 16 * SZ_1G, SZ_1M, "0000:00:02.0");
	d = tap_iomem_text(m);
	is_int(parse_str(d, &e, &n, err, sizeof(err)), 0, "dump parses");
	if (n >= 2) {
		ok(e[n - 2].start == win.start && e[n - 2].end == win.end && e[n - 2].depth == 0 &&
		   strcmp(e[n - 2].name, "PCI Bus 0000:00") == 0, "window entry");
		ok(bar && e[n - 1].start == bar->start && e[n - 1].depth == 1, "BAR entry at depth 1");
	}
	free(e);
	free(d);
	zd_release_resource(m, &win);
	zd_machine_destroy(m);
}

static void test_parse_proc_iomem(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	struct zd_iomem_entry *e = NULL;
	size_t n = 0;
	char err[200];
	int ret;

	if (!f) {
		skip("/proc/iomem is not readable");
		return;
	}
	ret = zd_iomem_parse(f, &e, &n, err, sizeof(err));
	fclose(f);
	if (ret == -EPERM) {
		skip("/proc/iomem addresses are hidden (not root)");
		return;
	}
	is_int(ret, 0, "host /proc/iomem parses (%s)", ret ? err : "ok");
	ok(n > 0, "with %zu entries", n);
	free(e);
}

int main(void)
{
	test_dump_format();
	test_parse();
	test_parse_roundtrip();
	test_parse_proc_iomem();
	return done_testing();
}
