/*
 * Where the memmap of hot-added memory lives when it is not plain host RAM
 * (src/mm/sparse-vmemmap.c, the altmap side of __add_pages/__remove_pages;
 * spec/core.md §2.3/§2.4):
 *  - vmem_altmap: the memmap of a 1 GiB add is carved from the device range
 *    with natural alignment (exact alloc/align), really lives in the device
 *    file (pwrite/pread), exhaustion is -ENOMEM with no state change, and
 *    teardown returns alloc to 0; a sub-section add on x86 takes nothing from
 *    the altmap; invalid altmaps are -EINVAL; none of it WARNs.
 *  - 64 KiB pages: two sub-sections whose memmaps share one host page are
 *    populated and depopulated independently without losing each other's
 *    struct pages.
 * Why: pmem with map=dev keeps its struct pages on the device; a carve-out
 * that is misaligned, leaks on failure or is not given back corrupts user
 * data or strands device capacity, and a shared host page unmapped too
 * early loses a neighbour's struct pages.
 * The sparse invariants themselves are in t_sparse.c.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PG 4096ULL
#define PFN(x) ((uint64_t)(x) / PG)
#define SECT_PAGES 32768ULL   /* x86_64 PAGES_PER_SECTION */

/* ------------------------------------------------------------- vmem_altmap */

static void altmap_init(struct zd_vmem_altmap *a, uint64_t base, uint64_t nr, uint64_t reserve,
			uint64_t free_pfns, int fd)
{
	memset(a, 0, sizeof(*a));
	a->base_pfn = base;
	a->end_pfn = base + nr - 1;
	a->reserve = reserve;
	a->free = free_pfns;
	a->backing_fd = fd;
}

static void altmap_tests(struct zd_machine *m)
{
	const uint64_t B = PFN(512 * G), nr = PFN(1 * G);   /* 262144 pfns, 8 sections */
	const uint64_t nsec = B / SECT_PAGES;
	struct zd_vmem_altmap a;
	struct tap_sect_snap before, after;
	int fd = memfd_create("zd-altmap", MFD_CLOEXEC);

	diag("vmem_altmap: 1 GiB device at 512 GiB backed by a memfd");
	if (!ok(fd >= 0, "memfd_create") || !ok(ftruncate(fd, (off_t)(1 * G)) == 0, "ftruncate 1 GiB")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/*
	 * 1 GiB = 262144 pages x 64 B = 16 MiB of memmap = 4096 pfns, populated
	 * per section as one 2 MiB PMD block of 512 pfns with natural (512-pfn)
	 * alignment. With reserve = 2 the first block starts at base + 512: 510
	 * pfns of alignment gap. 8 blocks then need 4096 + 510 = 4606 free pfns,
	 * so free = 4096 runs out on the 8th section (altmap_alloc_block_buf
	 * returns NULL and, with an altmap, there is no fallback).
	 */
	altmap_init(&a, B, nr, 2, 4096, fd);
	tap_sect_snap_take(m, &before, nsec, 8);
	is_int(tap_add_pages(m, B, nr, &a), -ENOMEM, "free = 4096 (< 4096 + 510 align) -> -ENOMEM");
	tap_sect_snap_take(m, &after, nsec, 8);
	ok(tap_sect_snap_same(&before, &after), "the failed add left no section, memmap or bitmap behind");
	is_u64(a.alloc, 0, "the partial carve-out was given back (alloc 0)");
	tap_sect_snap_free(&after);

	altmap_init(&a, B, nr, 2, 4605, fd);
	is_int(tap_add_pages(m, B, nr, &a), -ENOMEM, "free = 4605 (one short) -> -ENOMEM");
	tap_sect_snap_take(m, &after, nsec, 8);
	ok(tap_sect_snap_same(&before, &after), "no state change");
	tap_sect_snap_free(&after);

	/* Later checks compare against their own baseline so that one
	 * accounting slip above is reported once, not at every step. */
	tap_sect_snap_free(&before);
	tap_sect_snap_take(m, &before, nsec, 8);
	altmap_init(&a, B, nr, 2, 4606, fd);
	long mapped = m->vmemmap_mapped_bytes;
	if (is_int(tap_add_pages(m, B, nr, &a), 0, "free = 4606 -> the 1 GiB add succeeds")) {
		is_u64(a.alloc, 8 * 512, "alloc == 8 x 512 pfns (16 MiB memmap)");
		is_u64(a.align, 510, "align == 510 (first block moved to the 512-pfn boundary)");
		is_u64(m->vmemmap_mapped_bytes - mapped, 16 * M, "16 MiB of memmap mapped");
		ok(zd_pfn_valid(m, B) && zd_pfn_valid(m, B + nr - 1), "device pfns valid");

		/* Section k's memmap is the block at pfn B + 512 (k + 1), i.e.
		 * file offset 2 MiB (k + 1); pfn B + k*32768 + j at + j*64. */
		unsigned char pat[64], got[64];
		for (int i = 0; i < 64; i++)
			pat[i] = (unsigned char)(0x30 + i);
		uint64_t p = B + 3 * SECT_PAGES + 100;
		off_t off = (off_t)(2 * M * 4 + 100 * 64);
		memcpy(zd_pfn_to_page(m, p), pat, 64);
		ok(pread(fd, got, 64, off) == 64 && !memcmp(got, pat, 64),
		   "a struct page written through pfn_to_page is in the device file at 8 MiB + 6400");
		for (int i = 0; i < 64; i++)
			pat[i] = (unsigned char)(0xc0 ^ i);
		p = B + 7 * SECT_PAGES + SECT_PAGES - 1;
		off = (off_t)(2 * M * 8 + (SECT_PAGES - 1) * 64);
		ok(pwrite(fd, pat, 64, off) == 64 && !memcmp(zd_pfn_to_page(m, p), pat, 64),
		   "bytes written to the file appear in the last section's last struct page");
		/* Reserve and alignment gap (pfns B .. B+511) hold no memmap. */
		unsigned char *buf = malloc(2 * M);
		bool zero = buf && pread(fd, buf, 2 * M, 0) == (ssize_t)(2 * M);
		for (size_t i = 0; zero && i < 2 * M; i++)
			zero = buf[i] == 0;
		free(buf);
		ok(zero, "reserve and alignment gap ([0, 2 MiB) of the file) are untouched");

		tap_remove_pages(m, B, nr, &a);
		is_u64(a.alloc, 0, "after __remove_pages alloc == 0");
		is_u64(m->vmemmap_mapped_bytes, mapped, "memmap unmapped");
		tap_sect_snap_take(m, &after, nsec, 8);
		ok(tap_sect_snap_same(&before, &after), "all 8 sections gone");
		tap_sect_snap_free(&after);
	}

	/* x86: a sub-section add never takes its memmap from the altmap. */
	altmap_init(&a, B, PFN(2 * M), 0, 8, fd);
	is_int(tap_add_pages(m, B, PFN(2 * M), &a), 0, "a 2 MiB add with an altmap succeeds");
	is_u64(a.alloc, 0, "x86 sub-section memmap comes from RAM, not the altmap");
	tap_remove_pages(m, B, PFN(2 * M), &a);
	is_u64(a.alloc, 0, "alloc still 0 after removal");

	/* Invalid altmaps. */
	tap_sect_snap_free(&before);
	tap_sect_snap_take(m, &before, nsec, 8);
	altmap_init(&a, B + 512, nr, 2, 4606, fd);
	is_int(tap_add_pages(m, B, nr, &a), -EINVAL, "base_pfn != first pfn -> -EINVAL");
	ok(zd_log_contains(m, "invalid altmap"), "logged \"invalid altmap\"");
	altmap_init(&a, B, PFN(2 * M), 2, 511, fd);
	is_int(tap_add_pages(m, B, PFN(2 * M), &a), -EINVAL, "reserve + free > nr_pages -> -EINVAL");
	tap_sect_snap_take(m, &after, nsec, 8);
	ok(tap_sect_snap_same(&before, &after), "invalid altmaps changed nothing");
	tap_sect_snap_free(&after);
	tap_sect_snap_free(&before);
	close(fd);
}

/* ------------------------------------------------------- 64 KiB page arch */

static void shared_host_page(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G, .node = 0 } };
	struct zd_machine_desc d = { .arch = "arm64-64k", .ram = ram, .nr_ram = 1 };
	struct zd_machine *m;
	const uint64_t sub = 32;                 /* 2 MiB of 64 KiB pages */
	const uint64_t S = (64 * G) >> 16;       /* section 128 */
	const uint64_t nr = S / 8192;
	unsigned bad;
	long mapped;

	diag("arm64-64k: two sub-sections whose 2 KiB memmaps share a 4 KiB host page");
	if (sysconf(_SC_PAGESIZE) != 4096) {
		skip("host page size is not 4 KiB");
		return;
	}
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR_OR_NULL(m), "arm64-64k machine boots (%s)", zd_machine_create_error()))
		return;
	is_u64(m->arch.pages_per_subsection, sub, "32 pages per sub-section");
	ok(((uintptr_t)zd_pfn_to_page(m, S) & 4095) == 0, "sub-section A's memmap starts a host page");
	mapped = m->vmemmap_mapped_bytes;

#define FILL(pfn, v) do { for (uint64_t _i = 0; _i < sub; _i++) \
	memset(zd_pfn_to_page(m, (pfn) + _i), (v), 64); } while (0)
#define CHECK(pfn, v) ({ unsigned _b = 0; for (uint64_t _i = 0; _i < sub; _i++) { \
	const unsigned char *_c = (const unsigned char *)zd_pfn_to_page(m, (pfn) + _i); \
	for (int _k = 0; _k < 64; _k++) _b += _c[_k] != (v); } _b; })

	is_int(tap_add_pages(m, S, sub, NULL), 0, "add sub-section A [S, S+2M)");
	is_u64(m->vmemmap_mapped_bytes - mapped, 4096, "A maps one host page");
	is_int(tap_add_pages(m, S + sub, sub, NULL), 0, "add sub-section B [S+2M, S+4M) separately");
	is_u64(m->vmemmap_mapped_bytes - mapped, 4096, "B shares A's host page: nothing new mapped");
	FILL(S, 0xa1);
	FILL(S + sub, 0xb2);
	bad = CHECK(S, 0xa1) + CHECK(S + sub, 0xb2);
	is_int(bad, 0, "both struct page ranges hold their own bytes");

	tap_remove_pages(m, S, sub, NULL);
	ok(!zd_pfn_valid(m, S) && zd_pfn_valid(m, S + sub), "A removed: A invalid, B valid");
	is_int(CHECK(S + sub, 0xb2), 0, "B's struct pages survive A's removal");
	is_u64(m->vmemmap_mapped_bytes - mapped, 4096, "the shared host page stays mapped");

	is_int(tap_add_pages(m, S, sub, NULL), 0, "re-add A");
	is_int(CHECK(S + sub, 0xb2), 0, "re-adding A does not touch B's struct pages");
	FILL(S, 0xa3);
	tap_remove_pages(m, S + sub, sub, NULL);
	ok(zd_pfn_valid(m, S) && !zd_pfn_valid(m, S + sub), "B removed: A valid, B invalid");
	is_int(CHECK(S, 0xa3), 0, "A's struct pages survive B's removal");

	tap_remove_pages(m, S, sub, NULL);
	ok(!zd_pfn_valid(m, S) && !zd_pfn_valid(m, S + sub), "both removed: neither valid");
	is_u64(tap_section_word(m, nr), 0, "section word 0");
	is_u64(m->vmemmap_mapped_bytes, mapped, "the host page is unmapped");
	is_u64(zd_warn_count(m), 0, "no WARN");
#undef FILL
#undef CHECK
	zd_machine_destroy(m);
}

int main(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 0, 2 * G, NULL, 0);
	unsigned long warns;

	if (!m)
		return done_testing();
	warns = zd_warn_count(m);
	altmap_tests(m);
	is_u64(zd_warn_count(m), warns, "no WARN from the vmem_altmap tests");
	zd_machine_destroy(m);

	shared_host_page();
	return done_testing();
}
