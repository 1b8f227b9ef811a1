/*
 * dmirror's READ, WRITE and SNAPSHOT (lib/test_hmm.c) against what the
 * kernel's hmm-tests expect of them (anon_read, anon_read_prot,
 * anon_write, anon_write_prot, anon_write_huge, the snapshot encodings of
 * hmm2's snapshot test for system pages, compound): buffer sizes of a PMD,
 * cpages and faults, the bytes, and that the mirror loses what the CPU
 * unmaps. Device-private cases come with migrate_vma.
 */
#include <zonedev/zonedev.h>
#include <zonedev/hmm.h>
#include <zonedev/test_hmm.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)

static struct zd_machine *m;
static struct zd_mm *mm;
static struct zd_dmirror *dm;
static uint64_t ps, hps, npages, size;
static int *mirror_buf, *cpu_buf;
static uint64_t expected_warns;

static uint64_t map(uint64_t len, unsigned long prot)
{
	return (uint64_t)zd_vm_mmap(mm, 0, len, prot, ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
}
static int cmd(int (*fn)(struct zd_dmirror *, struct zd_hmm_dmirror_cmd *), uint64_t addr,
	       void *ptr, uint64_t n, struct zd_hmm_dmirror_cmd *c)
{
	*c = (struct zd_hmm_dmirror_cmd){ .addr = addr, .ptr = (uintptr_t)ptr, .npages = n };
	return fn(dm, c);
}
static void cpu_fill(uint64_t a, int base)
{
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		cpu_buf[i] = (int)i + base;
	zd_access_vm(mm, a, cpu_buf, size, true);
}
static bool ints_are(const int *p, int base)
{
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		if (p[i] != (int)i + base)
			return false;
	return true;
}

static void anon_read(void)
{
	struct zd_hmm_dmirror_cmd c;
	struct zd_dmirror_mirror_stats st;
	uint64_t a = map(size, ZD_PROT_READ | ZD_PROT_WRITE);

	cpu_fill(a, 0);
	zd_do_madvise(mm, a, size, ZD_MADV_DONTNEED);   /* hmm-tests maps fresh: none */
	cpu_fill(a, 0);
	is_int(cmd(zd_dmirror_read, a, mirror_buf, npages, &c), 0, "anon_read: READ");
	is_u64(c.cpages, npages, "anon_read: cpages == npages");
	is_u64(c.faults, 1, "anon_read: faults == 1");
	ok(ints_are(mirror_buf, 0), "anon_read: the device read the CPU's data");
	is_int(cmd(zd_dmirror_read, a, mirror_buf, npages, &c), 0, "READ again");
	is_u64(c.faults, 0, "... from the mirror, no fault");
	zd_dmirror_mirror_stats(dm, &st);
	is_u64(st.entries, npages, "the mirror holds every page");
	zd_vm_munmap(mm, a, size);
	zd_dmirror_mirror_stats(dm, &st);
	is_u64(st.entries, 0, "munmap: the invalidation emptied the mirror");
}

static void anon_read_prot(void)
{
	struct zd_hmm_dmirror_cmd c = { 0 };
	uint64_t a = map(size, ZD_PROT_READ | ZD_PROT_WRITE);

	cpu_fill(a, 0);
	zd_do_mprotect(mm, a, size, ZD_PROT_NONE);
	memset(mirror_buf, 0xa5, size);
	c.cpages = 77;
	is_int(cmd(zd_dmirror_read, a, mirror_buf, npages, &c), -EFAULT,
	       "anon_read_prot: READ of PROT_NONE: EFAULT");
	is_u64(c.cpages, 0, "... cmd not copied back");
	is_int(mirror_buf[0], (int)0xa5a5a5a5, "... nothing copied");
	zd_do_mprotect(mm, a, size, ZD_PROT_READ);
	is_int(cmd(zd_dmirror_read, a, mirror_buf, npages, &c), 0, "PROT_READ: READ works");
	ok(ints_are(mirror_buf, 0), "... the data");
	zd_vm_munmap(mm, a, size);
}

static void anon_write(void)
{
	struct zd_hmm_dmirror_cmd c;
	uint64_t a = map(size, ZD_PROT_READ | ZD_PROT_WRITE);

	for (uint64_t i = 0; i < size / sizeof(int); i++)
		mirror_buf[i] = (int)i;
	is_int(cmd(zd_dmirror_write, a, mirror_buf, npages, &c), 0, "anon_write: WRITE");
	is_u64(c.cpages, npages, "anon_write: cpages == npages");
	is_u64(c.faults, 1, "anon_write: faults == 1");
	zd_access_vm(mm, a, cpu_buf, size, false);
	ok(ints_are(cpu_buf, 0), "anon_write: the CPU reads what the device wrote");
	zd_vm_munmap(mm, a, size);
}

static void anon_write_prot(void)
{
	struct zd_hmm_dmirror_cmd c;
	uint64_t a = map(size, ZD_PROT_READ);

	is_int(cmd(zd_dmirror_read, a, mirror_buf, 1, &c), 0, "anon_write_prot: READ one page");
	is_u64(c.cpages, 1, "... cpages 1");
	is_u64(c.faults, 1, "... faults 1");
	ok(!mirror_buf[0], "... zeroes (the zero page)");
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		mirror_buf[i] = (int)i;
	is_int(cmd(zd_dmirror_write, a, mirror_buf, npages, &c), -EPERM,
	       "anon_write_prot: WRITE to PROT_READ: EPERM");
	zd_access_vm(mm, a, cpu_buf, ps, false);
	ok(!cpu_buf[0] && !cpu_buf[1], "... the CPU still reads zeroes");
	zd_do_mprotect(mm, a, size, ZD_PROT_READ | ZD_PROT_WRITE);
	is_int(cmd(zd_dmirror_write, a, mirror_buf, npages, &c), 0, "after mprotect RW: WRITE");
	is_u64(c.cpages, npages, "... cpages");
	is_u64(c.faults, 1, "... faults 1");
	zd_access_vm(mm, a, cpu_buf, size, false);
	ok(ints_are(cpu_buf, 0), "... the CPU reads the device's data");
	zd_vm_munmap(mm, a, size);
}

static void anon_write_huge(void)
{
	struct zd_hmm_dmirror_cmd c;
	uint64_t b = map(2 * size, ZD_PROT_READ | ZD_PROT_WRITE), a = (b + hps - 1) & ~(hps - 1);
	uint8_t snap[1024];

	zd_do_madvise(mm, a, size, ZD_MADV_HUGEPAGE);
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		mirror_buf[i] = (int)i + 5;
	is_int(cmd(zd_dmirror_write, a, mirror_buf, npages, &c), 0, "anon_write_huge: WRITE");
	is_u64(c.cpages, npages, "... cpages");
	is_u64(c.faults, 1, "... faults 1");
	zd_access_vm(mm, a, cpu_buf, size, false);
	ok(ints_are(cpu_buf, 5), "... the CPU reads it");
	is_int(cmd(zd_dmirror_snapshot, a, snap, npages, &c), 0, "compound: SNAPSHOT of the THP");
	{
		bool all = true;

		for (uint64_t i = 0; i < npages; i++)
			all &= snap[i] == (ZD_HMM_DMIRROR_PROT_WRITE | ZD_HMM_DMIRROR_PROT_PMD);
		ok(all, "compound: every page WRITE|PMD (0x06)");
	}
	zd_vm_munmap(mm, b, 2 * size);
}

static void snapshot(void)
{
	struct zd_hmm_dmirror_cmd c;
	uint64_t a = map(5 * ps, ZD_PROT_READ | ZD_PROT_WRITE);
	uint8_t snap[8];
	char x = 1;
	unsigned long flt = mm->min_flt;

	zd_access_vm(mm, a + ps, &x, 1, false);
	zd_access_vm(mm, a + 2 * ps, &x, 1, true);
	zd_do_mprotect(mm, a + 2 * ps, ps, ZD_PROT_READ);
	zd_access_vm(mm, a + 3 * ps, &x, 1, true);
	zd_do_mprotect(mm, a + 4 * ps, ps, ZD_PROT_NONE);
	flt = mm->min_flt;
	memset(snap, 0xee, sizeof(snap));
	is_int(cmd(zd_dmirror_snapshot, a, snap, 5, &c), 0, "SNAPSHOT");
	is_u64(c.cpages, 5, "... cpages 5");
	is_int(snap[0], ZD_HMM_DMIRROR_PROT_NONE, "none: 0x00");
	is_int(snap[1], ZD_HMM_DMIRROR_PROT_ZERO | ZD_HMM_DMIRROR_PROT_READ, "zero page: 0x11");
	is_int(snap[2], ZD_HMM_DMIRROR_PROT_READ, "read-only: 0x01");
	is_int(snap[3], ZD_HMM_DMIRROR_PROT_WRITE, "writable: 0x02");
	is_int(snap[4], ZD_HMM_DMIRROR_PROT_ERROR, "PROT_NONE: 0xFF");
	is_int(snap[5], 0xee, "nothing past npages");
	is_u64(mm->min_flt, flt, "SNAPSHOT faults nothing");
	zd_vm_munmap(mm, a, 5 * ps);
}

static void bad_cmds(void)
{
	struct zd_hmm_dmirror_cmd c;
	uint64_t a = map(ps, ZD_PROT_READ | ZD_PROT_WRITE);

	is_int(cmd(zd_dmirror_read, a + 1, mirror_buf, 1, &c), -EINVAL, "unaligned addr: EINVAL");
	is_int(cmd(zd_dmirror_write, a, mirror_buf, 0, &c), -EINVAL, "npages 0: EINVAL");
	is_int(cmd(zd_dmirror_snapshot, ~0ULL & ~(ps - 1), mirror_buf, 2, &c), -EINVAL,
	       "wrapping range: EINVAL");
	is_int(cmd(zd_dmirror_read, a, NULL, 1, &c), -EFAULT, "no buffer: EFAULT");
	zd_vm_munmap(mm, a, ps);
}

/* Invariant 6 (spec hmm.md §10): a read-only page migrated to the device
 * stays read-only there: SNAPSHOT 0x21, the table entry is readable
 * without a fault, and a device WRITE is -EPERM (the VMA is read-only). */
static void migrated_readonly(void)
{
	struct zd_hmm_dmirror_cmd c;
	uint64_t a = map(size, ZD_PROT_READ | ZD_PROT_WRITE);
	unsigned char *bytes = (unsigned char *)mirror_buf;
	bool all = true;
	uint64_t warns;

	cpu_fill(a, 3);
	zd_do_mprotect(mm, a, size, ZD_PROT_READ);
	is_int(cmd(zd_dmirror_ioctl_migrate_to_dev, a, mirror_buf, npages, &c), 0,
	       "read-only: MIGRATE_TO_DEV");
	ok(c.cpages == npages && ints_are(mirror_buf, 3), "read-only: read back from the table");
	is_int(cmd(zd_dmirror_snapshot, a, mirror_buf, npages, &c), 0, "read-only: SNAPSHOT");
	for (uint64_t i = 0; i < npages; i++)
		all = all && bytes[i] == (ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
					  ZD_HMM_DMIRROR_PROT_READ);
	ok(all, "read-only: every byte DEV_PRIVATE_LOCAL|READ (0x%x)", bytes[0]);
	memset(mirror_buf, 0, size);
	is_int(cmd(zd_dmirror_read, a, mirror_buf, npages, &c), 0, "read-only: READ");
	ok(c.faults == 0 && ints_are(mirror_buf, 3), "read-only: ... from the table, no fault");
	/* hmm_range_fault reports an own read-only entry without faulting
	 * even for REQ_WRITE (hmm_vma_handle_pte), so test_hmm's
	 * dmirror_do_fault WARNs and fails: spec hmm.md §9 point 1, by the
	 * kernel's source */
	warns = zd_warn_count(m);
	is_int(cmd(zd_dmirror_write, a, mirror_buf, npages, &c), -EFAULT,
	       "read-only: a device WRITE is -EFAULT");
	is_u64(zd_warn_count(m) - warns, 1, "read-only: ... with the driver's WARN");
	expected_warns++;
	zd_vm_munmap(mm, a, size);
}

int main(void)
{
	struct zd_dmirror_desc gd = { .name = "gpu0", .vram_size = ZD_DEVMEM_CHUNK_SIZE };
	struct zd_dmirror_device *mdev;

	m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	ps = m->arch.page_size;
	hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	npages = hps / ps;   /* hmm-tests: ALIGN(HPAGE_SIZE, page_size) >> page_shift */
	size = npages * ps;
	m->thp_enabled = ZD_THP_MADVISE;
	mirror_buf = malloc(size);
	cpu_buf = malloc(size);
	mdev = zd_dmirror_create(m, &gd);
	ok(!ZD_IS_ERR(mdev), "dmirror device");
	mm = zd_mm_alloc(m);
	dm = zd_dmirror_open(mdev, mm);
	ok(!ZD_IS_ERR(dm), "open: a mirror of the process");
	anon_read();
	anon_read_prot();
	anon_write();
	anon_write_prot();
	anon_write_huge();
	snapshot();
	bad_cmds();
	{
		struct zd_dmirror_mirror_stats st;

		zd_dmirror_mirror_stats(dm, &st);
		ok(st.faults >= 6 && st.reads >= 3 * npages && st.writes >= 3 * npages,
		   "mirror totals: %llu faults, %llu reads, %llu writes",
		   (unsigned long long)st.faults, (unsigned long long)st.reads,
		   (unsigned long long)st.writes);
	}
	migrated_readonly();
	zd_dmirror_release(dm);
	zd_mmput(mm);
	zd_dmirror_destroy(mdev);
	is_u64(zd_warn_count(m), expected_warns, "no other WARN");
	zd_machine_destroy(m);
	free(mirror_buf);
	free(cpu_buf);
	return done_testing();
}
