/*
 * The machines `bench migrate` and `bench hmm_range_fault` run on: one per
 * device-private design (pfn, dpa), each with two dmirror GPUs (gpu0, the
 * device under test, and gpu1, "another owner") and one process, booted
 * side by side so both designs are measured in the same run and a result
 * of one can be set next to the other's. The anonymous buffers the benches
 * move are written through the CPU model first, so every page is present
 * (a THP buffer PMD-mapped where the library gives one) before timing.
 */
#ifndef ZONEDEV_BENCH_DMIRROR_H
#define ZONEDEV_BENCH_DMIRROR_H

#include <stdbool.h>
#include <stdint.h>

struct bench;
struct zd_machine;
struct zd_mm;
struct zd_dmirror_device;

enum { BENCH_PFN, BENCH_DPA, BENCH_NR_DESIGNS };
extern const char *const bench_design_names[BENCH_NR_DESIGNS];

struct bench_gpu {
	struct zd_machine *m;
	struct zd_mm *mm;
	struct zd_dmirror_device *gpu[2];   /* [0] under test, [1] another owner */
};

/* --design LIST: a bit per design ("pfn,dpa"); 0 and EXIT_USAGE in *rc on
 * an unknown name. */
uint32_t bench_parse_designs(const struct bench *b, const char *list, int *rc);

/* Host bytes a machine for buffers of up to max bytes touches: the RAM
 * and VRAM pages the buffer occupies, and the memmap. */
uint64_t bench_gpu_host_bytes(uint64_t max);
/* Boot design's machine with RAM and VRAM for a buffer of max bytes (THP
 * policy "always", as the kernel's THP selftests want), both GPUs and a
 * process: 0, or bench_fail's exit status. */
int bench_gpu_create(struct bench *bn, struct bench_gpu *g, int design, uint64_t max);
void bench_gpu_destroy(struct bench_gpu *g);

/* One round trip of a len-byte 4K buffer to gpu0 and back, untimed: the
 * device registers the chunks it needs and the host faults in the VRAM
 * and RAM pages behind them, so no timed move pays either. 0 or -errno. */
int bench_gpu_prewarm(struct bench_gpu *g, uint64_t len);
/* An anonymous read-write buffer of len bytes, PMD aligned, advised
 * MADV_HUGEPAGE (thp) or MADV_NOHUGEPAGE, and written whole through the
 * CPU model with pattern seed: its address, or -errno. */
int64_t bench_gpu_buffer(struct bench_gpu *g, uint64_t len, bool thp, unsigned seed);
/* Does the buffer still hold pattern seed? 0, 1 (it does not), or the
 * read's -errno. */
int bench_gpu_check(struct bench_gpu *g, uint64_t addr, uint64_t len, unsigned seed);
/* PMD leaves mapping [addr, addr + len): how many of the range's PMDs are
 * one huge page now. */
uint64_t bench_gpu_pmd_leaves(struct bench_gpu *g, uint64_t addr, uint64_t len);
/* The machine's PMD size. */
uint64_t bench_gpu_pmd_size(const struct bench_gpu *g);

#endif
