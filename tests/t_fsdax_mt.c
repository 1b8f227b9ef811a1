/*
 * Layout breaks of DAX files against pins held on other threads
 * (ThreadSanitizer): a truncate of a mapped file unmaps the range at once
 * and then waits while a page of it is pinned, logging that it waits; it
 * completes only after unpin_user_page(). The same for an unbind of the
 * namespace (the file system shuts down, pins are waited for). A reader
 * thread loads through the mapping all the while (each load succeeds or
 * is SIGBUS past the new EOF, never anything else). Asserts: the waiter
 * is still waiting once it has logged (by state, not by time), it
 * finishes after the unpin with the blocks freed, and no WARN fires.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PS 4096ULL

static struct zd_machine *m;
static struct zd_nd_region *r;
static struct zd_mm *mm;
static uint64_t base;
static int finished, stop, truncate_rc = 1, rebind_rc = 1;
static long loads, bad_loads;

static void *truncater(void *arg)
{
	(void)arg;
	__atomic_store_n(&truncate_rc, zd_daxfs_truncate(r, "f", 2 * M), __ATOMIC_RELEASE);
	__atomic_store_n(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *rebinder(void *arg)
{
	(void)arg;
	__atomic_store_n(&rebind_rc, zd_nd_rebind_namespace(r), __ATOMIC_RELEASE);
	__atomic_store_n(&finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *reader(void *arg)
{
	char buf[8];

	(void)arg;
	for (uint64_t i = 0; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); i++) {
		int rc = zd_access_vm(mm, base + (i % 1024) * PS, buf, sizeof(buf), false);

		__atomic_add_fetch(&loads, 1, __ATOMIC_RELAXED);
		if (rc && rc != -EIO)
			__atomic_add_fetch(&bad_loads, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static bool still_waiting(void)
{
	return !__atomic_load_n(&finished, __ATOMIC_ACQUIRE);
}

int main(void)
{
	char dir[] = "/tmp/zonedev-fsdax-mt-XXXXXX", path[96];
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G } };
	struct zd_nd_region_desc pm = { .start = 8 * G, .size = 64 * M, .path = path };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				     .pmem = &pm, .nr_pmem = 1 };
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_FSDAX, .map = ZD_ND_MAP_MEM };
	struct zd_daxfs_stat st;
	struct zd_page *pin;
	struct zd_file *f;
	pthread_t t, rd;
	unsigned long seq;

	if (!ok(mkdtemp(dir) != NULL, "a temporary directory"))
		return done_testing();
	snprintf(path, sizeof(path), "%s/region0.pmem", dir);
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "a 40-bit machine with a pmem region"))
		return done_testing();
	r = zd_nd_region_find(m, "region0");
	ok(!zd_nd_create_namespace(r, &o) && !zd_daxfs_mkfs(r) && !zd_daxfs_create(r, "f", 4 * M),
	   "fsdax, mkfs, a 4M file");
	mm = zd_mm_alloc(m);
	f = zd_daxfs_open(r, "f", ZD_FMODE_READ | ZD_FMODE_WRITE);
	base = (uint64_t)zd_vm_mmap(mm, 0, 4 * M, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, f, 0);
	zd_fput(f);
	is_int(zd_access_vm(mm, base + 2 * M + PS, "pinned", 7, true), 0, "a store into the 2nd PMD");
	is_int(zd_pin_user_pages_unlocked(mm, base + 2 * M + PS, 1, ZD_FOLL_WRITE, &pin), 1,
	       "a pin of it (a driver's DMA)");
	pthread_create(&rd, NULL, reader, NULL);

	/* truncate waits for the pin */
	seq = zd_log_seq(m);
	pthread_create(&t, NULL, truncater, NULL);
	ok(tap_wait_for_log(m, seq, "truncate of ino", 30), "truncate logs that it waits");
	ok(still_waiting(), "and is still waiting while the pin is held");
	{
		enum zd_pt_level l;
		struct zd_page *pg;

		zd_mmap_read_lock(mm);
		ok(!zd_follow_pte(mm, base + 2 * M + PS, &l, &pg).val,
		   "the range is already unmapped");
		zd_mmap_read_unlock(mm);
	}
	zd_unpin_user_page(m, pin);
	tap_join_or_bail(t, 30, "truncate after unpin");
	is_int(__atomic_load_n(&truncate_rc, __ATOMIC_ACQUIRE), 0, "truncate completed after unpin");
	ok(!zd_daxfs_stat(r, "f", &st) && st.blocks == 512 && st.size == 2 * M,
	   "its blocks are freed");

	/* unbind waits for a pin too */
	is_int(zd_pin_user_pages_unlocked(mm, base + 3 * PS, 1, 0, &pin), 1, "a pin in the 1st PMD");
	__atomic_store_n(&finished, 0, __ATOMIC_RELEASE);
	seq = zd_log_seq(m);
	pthread_create(&t, NULL, rebinder, NULL);
	ok(tap_wait_for_log(m, seq, "unbind of ino", 30), "unbind logs that it waits");
	ok(still_waiting(), "and is still waiting while the pin is held");
	zd_unpin_user_page(m, pin);
	tap_join_or_bail(t, 30, "rebind after unpin");
	is_int(__atomic_load_n(&rebind_rc, __ATOMIC_ACQUIRE), 0, "rebind completed after unpin");
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	tap_join_or_bail(rd, 30, "reader");
	ok(__atomic_load_n(&loads, __ATOMIC_RELAXED) > 0 && !bad_loads,
	   "the reader's loads were served or SIGBUS, nothing else (%ld loads)", loads);
	zd_mmput(mm);
	ok(!zd_daxfs_stat(r, "f", &st) && st.size == 2 * M, "the file system after the rebind");
	is_int((long long)__atomic_load_n(&m->warn_count, __ATOMIC_RELAXED), 0, "no WARN");
	zd_machine_destroy(m);
	unlink(path);
	rmdir(dir);
	return done_testing();
}
