/*
 * The mappings `bench gup` and `bench fault` run over, as one table of
 * kinds: anonymous 4 KiB pages, THP (anonymous PMD folios), device-dax
 * with 2 MiB and 1 GiB folios. A kind that the library cannot give here
 * says why and its rows are skipped, never measured as something else.
 * The machine is the benches' own: boot RAM for the anonymous kinds and
 * one pmem region per devdax alignment, each on a sparse region file in
 * the run's directory, removed at exit and on the signals cleanup.c
 * handles.
 */
#ifndef ZONEDEV_BENCH_MAPPING_H
#define ZONEDEV_BENCH_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench;
struct zd_machine;
struct zd_mm;
struct zd_file;

/* The kinds backed by a pmem region: two device-dax instances and a file
 * on an fsdax namespace's DAX file system. */
enum { BENCH_DAX_2M, BENCH_DAX_1G, BENCH_FSDAX, BENCH_NR_DAX };

struct bench_mm {
	struct zd_machine *m;
	struct zd_mm *mm;
	struct zd_file *dax[BENCH_NR_DAX];
	char path[BENCH_NR_DAX][4096];
};

struct bench_kind {
	const char *name;          /* "anon-4k", "thp", "devdax-2m", "devdax-1g", "fsdax" */
	const char *what;          /* one line for the report */
	uint64_t leaf;             /* bytes one fault maps (one folio's mapping) */
	/* 0 when the kind runs on this machine, else -errno with why in note. */
	int (*probe)(struct bench_mm *b, char *note, size_t n);
	/* Map len bytes (a multiple of leaf, leaf aligned): the address, or -errno. */
	int64_t (*map)(struct bench_mm *b, uint64_t len);
};

/* The --help lines of the options the mapping benches share, after their
 * own; %s takes bench_kind_names(). */
#define BENCH_MAPPING_OPTIONS_HELP \
	"  --repeat N         runs of each, the best is reported (also --repeats;\n" \
	"                     1-1000000, default 3)\n" \
	"  --kind LIST        kinds to run, comma separated (default all): %s\n" \
	"  --dir DIR          directory of the devdax and fsdax region files\n" \
	"                     (default /dev/shm)\n" \
	"  --no-memory-guard  run even when the bench needs more host memory than is\n" \
	"                     available (default: refuse, saying how much)\n" \
	"  -q, --quiet        no progress line\n" \
	"  -j, --json         one JSON document on stdout (also when the run fails)\n" \
	"  -h, --help         show this help\n" \
	"\n" \
	"exit status: 0 ok, 1 the benchmark failed, 2 usage error\n"

/* The kinds, in report order. */
extern const struct bench_kind bench_kinds[];
extern const size_t bench_nr_kinds;

/* A comma-separated --kind list as a bit per bench_kinds[] entry; 0 and a
 * usage error (EXIT_USAGE in *rc) on an unknown name. */
uint32_t bench_parse_kinds(const struct bench *b, const char *list, int *rc);
/* --size whole 2M and at most 1T, --dir a directory: 0, or EXIT_USAGE. */
int bench_mapping_args(const struct bench *b, uint64_t size, const char *size_arg,
		       const char *dir);
/* The names, comma separated, for help texts. */
const char *bench_kind_names(void);

/* The mapping a kind's row uses for --size size: size rounded up to its leaf. */
static inline uint64_t bench_kind_len(const struct bench_kind *k, uint64_t size)
{
	return (size + k->leaf - 1) / k->leaf * k->leaf;
}

/* Host memory a run over kinds needs besides its own arrays: the anonymous
 * pages and the machine's memmap. */
uint64_t bench_mm_host_bytes(uint64_t size, uint32_t kinds);
/* Boot the bench machine for size bytes per mapping under dir (its region
 * files registered for cleanup) and make one process: 0, or bench_fail's
 * exit status. */
int bench_mm_create(struct bench *bn, struct bench_mm *b, uint64_t size, uint32_t kinds,
		    const char *dir);
void bench_mm_destroy(struct bench_mm *b);
/* Write one byte every step bytes of [addr, addr + len) through the CPU
 * model (zd_access_vm): 0 or its -errno. */
int bench_mm_touch(struct bench_mm *b, uint64_t addr, uint64_t len, uint64_t step);

#endif
