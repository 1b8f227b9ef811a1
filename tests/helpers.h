/*
 * Helpers shared by the C tests: clocks, joins that cannot hang the
 * harness, machines that are asserted to boot, text views of machine state
 * (log, iomem, any dump) for before/after comparisons, snapshots of section
 * state for the sparse tests, and the pfn/dax info block fixtures (the
 * kernel-written golden blocks) of the info block tests. Built into every
 * test next to tap.c; only logic used by more than one test lives here.
 */
#ifndef ZD_TEST_HELPERS_H
#define ZD_TEST_HELPERS_H

#include <zonedev/zonedev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* TAP_SLOW is 1 under ThreadSanitizer: concurrent tests shrink their budgets. */
#if defined(__SANITIZE_THREAD__)
#define TAP_SLOW 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TAP_SLOW 1
#endif
#endif
#ifndef TAP_SLOW
#define TAP_SLOW 0
#endif

/* ---- clocks and threads ---- */

/* CLOCK_MONOTONIC in seconds. */
double tap_now(void);
void tap_sleep_ms(unsigned ms);
/* Join tid within secs, or fail the test and exit instead of hanging. */
void tap_join_or_bail(pthread_t tid, int secs, const char *what);

/* True if addr lies in a host mapping with no access at all (PROT_NONE):
 * what memremap_pages() returns for device-private memory. */
bool tap_addr_inaccessible(const void *addr);

/* ---- machines and their text ---- */

/* A machine of one RAM range on node 0 plus reserved ranges; asserts (one
 * ok) that it boots and returns NULL if it did not. */
struct zd_machine *tap_machine(const char *arch, unsigned phys_bits, phys_addr_t ram_start,
			       phys_addr_t ram_size, const struct zd_mem_range *rsv,
			       size_t nr_rsv);
/* A pgmap of type over [start, start+size) with folios of 2^shift pages. */
void tap_pgmap_setup(struct zd_dev_pagemap *pg, enum zd_memory_type type, uint64_t start,
		     uint64_t size, unsigned shift);
/* ... whose memmap comes from an altmap on backing fd (base = range start). */
void tap_pgmap_altmap(struct zd_dev_pagemap *pg, int fd, uint64_t reserve, uint64_t free);
/* A log line logged after seq contains needle. */
/* A smaps_rollup row's kB ("Rss:"), or UINT64_MAX when it has none. */
uint64_t tap_smaps_rollup_kb(struct zd_mm *mm, const char *field);
/* The pfn a present PTE at addr maps (follow_pte), or ZD_BAD_PFN. */
uint64_t tap_pfn_at(struct zd_mm *mm, uint64_t addr);
bool tap_log_since(struct zd_machine *m, unsigned long seq, const char *needle);
/* Poll (bounded by secs, a safety net rather than an assertion) until a
 * line logged after seq contains needle; true if it appeared. For waiting
 * on another thread's progress by state instead of by time. */
bool tap_wait_for_log(struct zd_machine *m, unsigned long seq, const char *needle, int secs);
/* What dump writes for m, as a string (malloc'ed; free it). */
char *tap_dump_text(struct zd_machine *m, void (*dump)(struct zd_machine *, FILE *));
/* The machine's /proc/iomem text (malloc'ed; free it). */
char *tap_iomem_text(struct zd_machine *m);

/* ---- PCI ---- */

/* A one-function NVMe-like endpoint (144d:a808) below port with 64-bit
 * BARs 0 and 2 of these sizes (0: unused). */
struct zd_pci_dev *tap_pci_ep(struct zd_pci_dev *port, uint64_t bar0, uint64_t bar2);

/* ---- sparse sections ---- */

/* __add_pages / __remove_pages under the hotplug lock (pgprot 1, node 0). */
int tap_add_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr, struct zd_vmem_altmap *altmap);
void tap_remove_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr,
		      struct zd_vmem_altmap *altmap);
/* The word of section nr (0 if it has none). */
unsigned long tap_section_word(struct zd_machine *m, uint64_t nr);

/* Sections [first, first + n): words, usage and sub-section maps, plus the
 * iomem text, the populated vmemmap bytes and the number of memory blocks. */
#define TAP_SNAP_MAX 8
struct tap_sect_snap {
	uint64_t first;
	unsigned n;
	unsigned long word[TAP_SNAP_MAX];
	bool usage[TAP_SNAP_MAX];
	unsigned long map[TAP_SNAP_MAX][ZD_SUBSECTION_MAP_LONGS];
	char *iomem;
	long mapped;
	uint64_t blocks;
};
void tap_sect_snap_take(struct zd_machine *m, struct tap_sect_snap *s, uint64_t first, unsigned n);
/* True if nothing differs; diag()s every difference. */
bool tap_sect_snap_same(const struct tap_sect_snap *a, const struct tap_sect_snap *b);
void tap_sect_snap_free(struct tap_sect_snap *s);

/* ---- pfn/dax info blocks ---- */

/* The region every golden block was written for: 8 GiB at 4 GiB. */
#define TAP_ND_REGION_BASE 0x100000000ULL
#define TAP_ND_REGION_SIZE (8ULL << 30)

/* Parse a uuid literal of the tests; exit(2) if it does not parse. */
void tap_must_uuid(const char *s, uint8_t out[16]);

/* One block a real Linux 6.1 kernel wrote, with its inputs and the decoded
 * values worked out by hand from devices.md §2.5. */
struct tap_golden {
	const char *file;
	enum zd_nd_pfn_kind kind;
	enum zd_nd_pfn_mode map;
	uint64_t align;
	const char *uuid, *parent_uuid;
	uint64_t dataoff, npfns;
};
extern const struct tap_golden tap_goldens[];
extern const size_t tap_nr_goldens;

/* The probe context under which g's block is valid. */
void tap_golden_ctx(const struct tap_golden *g, struct zd_nd_pfn_validate_ctx *c);
/* The golden blocks in the repository (ZD_SRCDIR/tests/data/kernel-infoblocks,
 * ZD_SRCDIR defaulting to the current directory); NULL if they are missing,
 * which callers report as a failure. */
const char *tap_golden_dir(void);
/* Read the 4096 bytes of dir/file into sb. */
bool tap_load_block(const char *dir, const char *file, struct zd_nd_pfn_sb *sb);
/* §2.5 sizing inputs: 16 GiB at 0x240000000 with fixed uuids. */
void tap_nd_table_params(struct zd_nd_pfn_params *p, enum zd_nd_pfn_kind kind,
			 enum zd_nd_pfn_mode map, uint64_t align);

#endif
