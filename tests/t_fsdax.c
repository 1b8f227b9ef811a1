/*
 * DAX files on an fsdax namespace (fs/zdfs.c, fs/dax.c):
 *  - no file system before mkfs (ENODEV), and every bad input's errno;
 *  - a 4 MiB file gets PMD-aligned extents and a write through a shared
 *    mapping maps one PMD leaf of the namespace's own fsdax pages (the
 *    page tables, pagemap's pfn, smaps_rollup's Rss, rss as file pages,
 *    the folio made order 9 with mapping/index set, refcount 1 and
 *    mapcount 1 on the head); a 16 KiB file and a misaligned mapping fall
 *    back to PTEs, and a PTE entry keeps another process's PMD fault on
 *    PTEs too (grab_mapping_entry);
 *  - bytes written through zd_access_vm are in the region file, and
 *    survive machine teardown and a reboot on the same file;
 *  - SIGBUS beyond EOF; FOLL_LONGTERM -EOPNOTSUPP; pins counted
 *    (refcount + 1024 on a 4K folio, _pincount on the PMD folio);
 *  - MAP_PRIVATE: reads map the pmem, a write copies into an anonymous
 *    page and the file keeps its bytes; MAP_SYNC only with
 *    MAP_SHARED_VALIDATE on a DAX file;
 *  - truncate and punch-hole unmap what they free; unlink of an open file
 *    leaves an orphan; rebinding the namespace unmaps every mapping and
 *    later faults are SIGBUS;
 *  - a kill -9 at any byte of a metadata write leaves the old file system
 *    or the new one.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PS 4096ULL
#define RW (ZD_PROT_READ | ZD_PROT_WRITE)

static char path[96];

static struct zd_machine *boot(bool fresh)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_nd_region_desc pm = { .start = 8 * G, .size = 256 * M, .path = path };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_FSDAX, .map = ZD_ND_MAP_MEM };
	struct zd_machine *m;

	if (fresh)
		unlink(path);
	m = zd_machine_create(&d);
	if (ZD_IS_ERR(m))
		return NULL;
	if (fresh && zd_nd_create_namespace(zd_nd_region_find(m, "region0"), &o)) {
		zd_machine_destroy(m);
		return NULL;
	}
	return m;
}

static uint64_t pfn_at(struct zd_mm *mm, uint64_t addr)
{
	uint64_t e = 0;

	zd_pagemap_read(mm, addr / PS * 8, &e, 8);
	return e >> 63 ? e & ((1ULL << 55) - 1) : ZD_BAD_PFN;
}

/* The level of the leaf mapping addr, -1 for none. */
static int level_at(struct zd_mm *mm, uint64_t addr)
{
	enum zd_pt_level l = ZD_PT_PTE;
	struct zd_page *page;
	zd_pte_t e = zd_follow_pte(mm, addr, &l, &page);

	return e.val ? (int)l : -1;
}

static void bad_inputs(struct zd_machine *m, struct zd_nd_region *r)
{
	struct zd_daxfs_stat st;
	char longname[64];
	unsigned long seq = zd_log_seq(m);

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	is_int(zd_daxfs_create(r, "", PS), -EINVAL, "create '': EINVAL");
	is_int(zd_daxfs_create(r, "a/b", PS), -EINVAL, "create 'a/b': EINVAL");
	is_int(zd_daxfs_create(r, NULL, PS), -EINVAL, "create NULL: EINVAL");
	is_int(zd_daxfs_create(r, longname, PS), -ENAMETOOLONG, "a 63-byte name: ENAMETOOLONG");
	is_int(zd_daxfs_create(r, "big", PS), -EEXIST, "create of an existing name: EEXIST");
	is_int(zd_daxfs_create(r, "huge", 300 * M), -EFBIG, "more than the data area: EFBIG");
	is_int(zd_daxfs_create(r, "nospace", 250 * M), -ENOSPC, "more than is free: ENOSPC");
	is_int(zd_daxfs_stat(r, "nospace", &st), -ENOENT, "a failed create leaves nothing");
	is_int(zd_daxfs_stat(r, "nope", &st), -ENOENT, "stat of a missing name: ENOENT");
	is_int(zd_daxfs_truncate(r, "nope", 0), -ENOENT, "truncate of a missing name: ENOENT");
	is_int(zd_daxfs_truncate(r, "big", 300 * M), -EFBIG, "truncate past the data area: EFBIG");
	is_int(zd_daxfs_unlink(r, "nope"), -ENOENT, "unlink of a missing name: ENOENT");
	is_int(zd_daxfs_punch_hole(r, "big", 0, 0), -EINVAL, "punch of length 0: EINVAL");
	is_int(zd_daxfs_punch_hole(r, "big", 8, UINT64_MAX), -EFBIG, "a punch that wraps: EFBIG");
	struct zd_file *f = zd_daxfs_open(r, "nope", ZD_FMODE_READ);
	is_int(ZD_IS_ERR(f) ? ZD_PTR_ERR(f) : 0, -ENOENT, "open of a missing name: ENOENT");
	f = zd_daxfs_open(r, "big", 0);
	is_int(ZD_IS_ERR(f) ? ZD_PTR_ERR(f) : 0, -EINVAL, "open with no mode: EINVAL");
	ok(tap_log_since(m, seq, "is not a file name") && tap_log_since(m, seq, "exists") &&
	   tap_log_since(m, seq, "no free blocks") && tap_log_since(m, seq, "no file 'nope'"),
	   "each refusal is logged with its reason");
}

static void pmd_and_pte(struct zd_machine *m, struct zd_nd_region *r)
{
	struct zd_daxfs_stat st;
	struct zd_mm *mm = zd_mm_alloc(m), *mm2 = zd_mm_alloc(m);
	struct zd_file *big = zd_daxfs_open(r, "big", ZD_FMODE_READ | ZD_FMODE_WRITE);
	struct zd_file *small = zd_daxfs_open(r, "small", ZD_FMODE_READ | ZD_FMODE_WRITE);
	struct zd_page *head, *pinned[2];
	int64_t a, s, b;
	uint64_t size;
	char *data;

	if (!ok(!ZD_IS_ERR(big) && !ZD_IS_ERR(small), "both files open"))
		return;
	zd_daxfs_stat(r, "big", &st);
	ok(st.size == 4 * M && st.blocks == 1024 && st.nr_extents == 1 &&
	   !(st.extents[0].phys & (2 * M - 1)), "a 4M file: one extent at a 2M-aligned address");
	a = zd_vm_mmap(mm, 0, 4 * M, RW, ZD_MAP_SHARED, big, 0);
	ok(a > 0 && !(a & (2 * M - 1)), "the mapping starts on a PMD (thp_get_unmapped_area)");
	is_int(zd_access_vm(mm, (uint64_t)a + PS + 16, "pmd bytes", 10, true), 0,
	       "a store through the shared mapping");
	is_int(level_at(mm, (uint64_t)a), ZD_PT_PMD, "mapped by a PMD leaf");
	is_u64(pfn_at(mm, (uint64_t)a + PS), (st.extents[0].phys >> 12) + 1,
	       "pagemap: the extent's pfn + 1");
	head = zd_pfn_to_page(m, st.extents[0].phys >> 12);
	ok(zd_is_fsdax_page(m, head) && zd_folio_order(m, head) == 9 &&
	   zd_page_folio(m, head + 7) == head, "an fsdax folio of order 9 (dax_folio_init)");
	ok(head->mapping != NULL && head->index == 0, "folio->mapping and ->index set");
	is_int(zd_page_ref_count(head), 1, "refcount 1: the mapping's (idle is 0)");
	is_int(zd_page_mapcount(head), 1, "mapcount 1");
	is_int(mm->rss_stat[ZD_MM_FILEPAGES], 512, "rss: 512 file pages");
	is_u64(tap_smaps_rollup_kb(mm, "Rss:"), 2048, "smaps_rollup Rss 2048 kB");
	data = zd_nd_namespace_data(r, &size);
	struct zd_nd_namespace_info in;
	zd_nd_namespace_get(r, &in);
	ok(!memcmp(data + st.extents[0].phys - in.data_start + PS + 16, "pmd bytes", 10),
	   "the bytes are in the namespace (the region file)");

	/* pins */
	is_int(zd_pin_user_pages_unlocked(mm, (uint64_t)a, 1, ZD_FOLL_WRITE | ZD_FOLL_LONGTERM,
					  pinned), -EOPNOTSUPP, "FOLL_LONGTERM on fsdax: EOPNOTSUPP");
	is_int(zd_pin_user_pages_unlocked(mm, (uint64_t)a + 3 * PS, 1, ZD_FOLL_WRITE, pinned), 1,
	       "a plain pin");
	ok(pinned[0] == head + 3 && zd_page_ref_count(head) == 2 &&
	   *zd_folio_pincount(head) == 1 && zd_folio_maybe_dma_pinned(head),
	   "the PMD folio: one reference and _pincount 1");
	zd_unpin_user_page(m, pinned[0]);
	ok(zd_page_ref_count(head) == 1 && *zd_folio_pincount(head) == 0, "unpinned");

	/* a small file: PTEs */
	s = zd_vm_mmap(mm, 0, 64 * PS, RW, ZD_MAP_SHARED, small, 0);
	is_int(zd_access_vm(mm, (uint64_t)s, "small", 6, true), 0, "a store into the 16K file");
	is_int(level_at(mm, (uint64_t)s), ZD_PT_PTE, "a file below a PMD: PTE (fallback)");
	zd_daxfs_stat(r, "small", &st);
	struct zd_page *sp = zd_pfn_to_page(m, st.extents[0].phys >> 12);
	ok(zd_folio_order(m, sp) == 0 && zd_page_ref_count(sp) == 1, "an order-0 fsdax page");
	is_int(zd_pin_user_pages_unlocked(mm, (uint64_t)s, 1, 0, pinned), 1, "pin the 4K page");
	is_int(zd_page_ref_count(sp), 1 + ZD_GUP_PIN_COUNTING_BIAS, "refcount + 1024");
	zd_unpin_user_page(m, pinned[0]);
	unsigned long seq = zd_log_seq(m);
	is_int(zd_access_vm(mm, (uint64_t)s + 4 * PS, "x", 1, false), -EIO,
	       "a load beyond EOF: SIGBUS (EIO)");
	ok(tap_log_since(m, seq, "SIGBUS"), "logged as SIGBUS");

	/* misaligned: another process maps chunk 1 of big at an address of
	 * another colour; then the aligned process's fault there stays PTE */
	b = zd_vm_mmap(mm2, 64 * M + PS, 2 * M, RW, ZD_MAP_SHARED | ZD_MAP_FIXED, big, 2 * M);
	is_int(b, (int64_t)(64 * M + PS), "a MAP_FIXED mapping one page off a PMD");
	is_int(zd_access_vm(mm2, (uint64_t)b, "c1", 3, true), 0, "a store there");
	is_int(level_at(mm2, (uint64_t)b), ZD_PT_PTE, "colour mismatch: PTE (fallback)");
	char c1[4] = { 0 };
	ok(!zd_access_vm(mm, (uint64_t)a + 2 * M, c1, 3, false) && !strcmp(c1, "c1"),
	   "the aligned process loads chunk 1's bytes");
	is_int(level_at(mm, (uint64_t)a + 2 * M), ZD_PT_PTE,
	       "a PTE entry in the range keeps it on PTEs too");

	/* MAP_PRIVATE: read the pmem, write a copy */
	int64_t p = zd_vm_mmap(mm2, 0, 2 * M, RW, ZD_MAP_PRIVATE, big, 0);
	char buf[16] = { 0 };
	ok(!zd_access_vm(mm2, (uint64_t)p + PS + 16, buf, 10, false) && !strcmp(buf, "pmd bytes"),
	   "a private mapping reads the file");
	is_int(level_at(mm2, (uint64_t)p), ZD_PT_PMD, "through a read-only PMD leaf");
	is_int(zd_access_vm(mm2, (uint64_t)p + PS + 16, "cow", 4, true), 0, "a private store");
	ok(pfn_at(mm2, (uint64_t)p + PS) != pfn_at(mm, (uint64_t)a + PS) &&
	   level_at(mm2, (uint64_t)p + PS) == ZD_PT_PTE, "copied into a PTE-mapped page");
	ok(!zd_access_vm(mm, (uint64_t)a + PS + 16, buf, 10, false) && !strcmp(buf, "pmd bytes"),
	   "the file keeps its bytes");
	is_int(mm2->rss_stat[ZD_MM_ANONPAGES], 1, "one anonymous page");

	/* MAP_SYNC */
	is_int(zd_vm_mmap(mm2, 0, 2 * M, RW, ZD_MAP_SHARED_VALIDATE | ZD_MAP_SYNC, big, 0) > 0, 1,
	       "MAP_SHARED_VALIDATE|MAP_SYNC of a DAX file");
	is_int(zd_vm_mmap(mm2, 0, 2 * M, RW, ZD_MAP_SHARED_VALIDATE | ZD_MAP_SYNC |
			  ZD_MAP_ANONYMOUS, NULL, 0), -EOPNOTSUPP,
	       "MAP_SHARED_VALIDATE|MAP_SYNC of anonymous memory: EOPNOTSUPP");
	is_int(zd_vm_mmap(mm2, 0, 2 * M, RW, ZD_MAP_SHARED_VALIDATE | 0x40000000, big, 0),
	       -EOPNOTSUPP, "an unknown flag with MAP_SHARED_VALIDATE: EOPNOTSUPP");
	ok(zd_vm_mmap(mm2, 0, 2 * M, RW, ZD_MAP_SHARED | ZD_MAP_SYNC | ZD_MAP_ANONYMOUS, NULL, 0) >
	   0, "MAP_SHARED ignores MAP_SYNC");

	/* truncate while mapped */
	seq = zd_log_seq(m);
	is_int(zd_daxfs_truncate(r, "big", 2 * M + 100), 0, "truncate 4M -> 2M+100");
	is_int(level_at(mm, (uint64_t)a + 2 * M + PS), -1, "the truncated page left the page tables");
	is_int(level_at(mm2, (uint64_t)b + PS), -1, "in the other process too");
	is_int(level_at(mm, (uint64_t)a + 2 * M), ZD_PT_PTE, "the new last page stays");
	is_int(level_at(mm, (uint64_t)a), ZD_PT_PMD, "the first PMD stays mapped");
	is_int(zd_access_vm(mm, (uint64_t)a + 2 * M + PS, "x", 1, true), -EIO,
	       "a store past the new EOF page: SIGBUS");
	ok(!zd_access_vm(mm, (uint64_t)a + 2 * M + 100, buf, 4, false) && !memcmp(buf, "\0\0\0", 4),
	   "the new last page past EOF reads zeros");
	zd_daxfs_stat(r, "big", &st);
	is_u64(st.blocks, 513, "513 pages left");

	/* punch */
	is_int(zd_daxfs_punch_hole(r, "small", PS, PS), 0, "punch the second page of small");
	zd_daxfs_stat(r, "small", &st);
	ok(st.blocks == 3 && st.nr_extents == 2, "two extents around a hole");
	ok(zd_daxfs_pread(r, "small", buf, 6, 0) == 6 && !strcmp(buf, "small"), "page 0 kept");
	is_int(zd_access_vm(mm, (uint64_t)s + PS, buf, 4, false), 0, "a load in the hole");
	zd_daxfs_stat(r, "small", &st);
	ok(st.blocks == 4 && !memcmp(buf, "\0\0\0", 4), "allocated a zeroed page");

	zd_mmput(mm2);
	zd_mmput(mm);
	zd_fput(big);
	zd_fput(small);
	ok(zd_page_ref_count(head) == 0, "all unmapped: the folio is idle at refcount 0");
}

static void unbind_unmaps(struct zd_machine *m, struct zd_nd_region *r)
{
	struct zd_mm *mm = zd_mm_alloc(m);
	struct zd_file *f = zd_daxfs_open(r, "big", ZD_FMODE_READ | ZD_FMODE_WRITE);
	int64_t a = zd_vm_mmap(mm, 0, 2 * M, RW, ZD_MAP_SHARED, f, 0);
	char buf[16] = { 0 };

	zd_fput(f);
	is_int(zd_access_vm(mm, (uint64_t)a, "rebind", 7, true), 0, "a mapped file");
	is_int(zd_nd_rebind_namespace(r), 0, "rebind the namespace");
	is_int(level_at(mm, (uint64_t)a), -1, "unbind unmapped it");
	is_int(zd_access_vm(mm, (uint64_t)a, buf, 4, false), -EIO, "the old file is gone: SIGBUS");
	ok(zd_daxfs_pread(r, "big", buf, 7, 0) == 7 && !strcmp(buf, "rebind"),
	   "the new binding mounts the file system with the bytes");
	zd_mmput(mm);

	/* unlink of an open file: an orphan until its last close */
	mm = zd_mm_alloc(m);
	f = zd_daxfs_open(r, "big", ZD_FMODE_READ | ZD_FMODE_WRITE);
	a = zd_vm_mmap(mm, 0, 2 * M, RW, ZD_MAP_SHARED, f, 0);
	zd_fput(f);
	struct zd_daxfs_stat st;
	is_int(zd_daxfs_unlink(r, "big"), 0, "unlink of a mapped file");
	is_int(zd_daxfs_stat(r, "big", &st), -ENOENT, "the name is gone");
	ok(!zd_access_vm(mm, (uint64_t)a, buf, 7, false) && !strcmp(buf, "rebind"),
	   "the mapping still reads the orphan");
	is_int(zd_daxfs_create(r, "big", 4 * M), 0, "the name can be used again");
	zd_mmput(mm);
	is_int(zd_daxfs_create(r, "again", 100 * M), 0, "the orphan's blocks are free again");
}

/* A child dies at a byte of the create's metadata write; the next boot
 * finds the old file system or the new one. */
static void crash(void)
{
	const uint64_t prefixes[] = { 0, 1, 511, 4096, 20000, 33279, 33280 };
	int old = 0, neu = 0;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		struct zd_machine *m = boot(false);
		struct zd_daxfs_stat st;
		pid_t pid;
		int status, rc;

		if (!m)
			break;
		zd_machine_destroy(m);
		fflush(stdout);
		pid = fork();
		if (!pid) {
			m = boot(false);
			if (!m)
				_exit(2);
			zd_crash_inject_set(1, prefixes[i]);
			zd_daxfs_create(zd_nd_region_find(m, "region0"), "crash", 4 * M);
			_exit(3);
		}
		waitpid(pid, &status, 0);
		if (!ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			"prefix %llu: killed at the metadata write", (unsigned long long)prefixes[i]))
			continue;
		m = boot(false);
		rc = zd_daxfs_stat(zd_nd_region_find(m, "region0"), "crash", &st);
		ok(rc == -ENOENT || (!rc && st.size == 4 * M && st.blocks == 1024),
		   "prefix %llu: %s", (unsigned long long)prefixes[i], rc ? "old state" : "new state");
		ok(!zd_daxfs_stat(zd_nd_region_find(m, "region0"), "small", &st),
		   "prefix %llu: the other files are there", (unsigned long long)prefixes[i]);
		old += rc == -ENOENT;
		neu += !rc;
		if (!rc)
			zd_daxfs_unlink(zd_nd_region_find(m, "region0"), "crash");
		zd_machine_destroy(m);
	}
	/* a prefix past the last byte that differs from what the slot held is
	 * the whole new copy: old until then, new after */
	ok(old >= 3 && neu >= 1, "short prefixes leave the old state, long ones the new (%d old, "
	   "%d new)", old, neu);
}

int main(void)
{
	char dir[] = "/tmp/zonedev-fsdax-XXXXXX";
	struct zd_machine *m;
	struct zd_nd_region *r;
	char buf[16] = { 0 };

	if (!ok(mkdtemp(dir) != NULL, "a temporary directory"))
		return done_testing();
	snprintf(path, sizeof(path), "%s/region0.pmem", dir);
	m = boot(true);
	if (!ok(m != NULL, "a machine with an fsdax namespace"))
		return done_testing();
	r = zd_nd_region_find(m, "region0");
	unsigned long seq = zd_log_seq(m);
	is_int(zd_daxfs_create(r, "big", 4 * M), -ENODEV, "before mkfs: ENODEV");
	ok(tap_log_since(m, seq, "run mkfs"), "logged: no file system");
	is_int(zd_daxfs_mkfs(r), 0, "mkfs");
	is_int(zd_daxfs_create(r, "big", 4 * M), 0, "create a 4M file");
	is_int(zd_daxfs_create(r, "small", 16 * 1024), 0, "create a 16K file");
	bad_inputs(m, r);
	pmd_and_pte(m, r);
	is_int(zd_daxfs_pwrite(r, "small", "persist", 8, 100), 8, "pwrite into small");
	zd_machine_destroy(m);

	m = boot(false);
	if (ok(m != NULL, "reboot on the same region file")) {
		r = zd_nd_region_find(m, "region0");
		ok(zd_daxfs_pread(r, "small", buf, 8, 100) == 8 && !strcmp(buf, "persist"),
		   "pwrite's bytes survived");
		ok(zd_daxfs_pread(r, "small", buf, 6, 0) == 6 && !strcmp(buf, "small"),
		   "the bytes stored through the mapping survived");
		ok(zd_daxfs_pread(r, "big", buf, 10, PS + 16) == 10 && !strcmp(buf, "pmd bytes"),
		   "and those of the PMD mapping");
		unbind_unmaps(m, r);
		zd_machine_destroy(m);
	}
	m = boot(false);
	if (m) {
		struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_DEVDAX, .map = ZD_ND_MAP_MEM,
						  .force = true };
		r = zd_nd_region_find(m, "region0");
		is_int(zd_nd_create_namespace(r, &o), 0, "reconfigure to devdax");
		is_int(zd_daxfs_create(r, "x", PS), -ENODEV, "no file system on devdax: ENODEV");
		o.mode = ZD_NS_MODE_FSDAX;
		is_int(zd_nd_create_namespace(r, &o), 0, "fsdax again");
		is_int(zd_daxfs_mkfs(r), 0, "mkfs");
		is_int(zd_daxfs_create(r, "small", 16 * 1024), 0, "a file for the crash cases");
		zd_machine_destroy(m);
		crash();
	}
	unlink(path);
	rmdir(dir);
	return done_testing();
}
