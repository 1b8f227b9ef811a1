/*
 * Device-private migration under concurrency (issue 9): CPU threads read
 * random pages of a range (faulting device-private pages back through
 * migrate_to_ram) while a driver thread keeps migrating the range to the
 * device and back, and another thread mprotects and forks the first range
 * (the child reads a page and exits) and maps, fills, and munmaps a second
 * range the driver also migrates. At the end every byte of the first
 * range is what was written, the second range's reads never saw foreign
 * bytes, and every device page went back to the device (calloc == cfree).
 * A third round makes the readers' range one THP (transparent_hugepage:
 * always, PMD-aligned), so it moves as a device THP, comes back whole
 * through its PMD, and is split when the driver moves half of it back.
 * phys_bits 40; clean under ThreadSanitizer.
 */
#include "tap.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <zonedev/test_hmm.h>

#define G (1ULL << 30)
static unsigned NA;   /* pages of the readers' range */
#define NB 16

static struct zd_machine *m;
static struct zd_mm *mm;
static struct zd_dmirror_device *g;
static uint64_t PS, A, B;
static int stop, bad_a, bad_b, faults_seen;

static bool page_is(uint64_t addr, unsigned char v, bool *ok_read)
{
	unsigned char buf[4096];
	int rc = zd_access_vm(mm, addr, buf, PS, false);

	*ok_read = !rc;
	if (rc)
		return false;
	for (uint64_t i = 0; i < PS; i++)
		if (buf[i] != v)
			return false;
	return true;
}

static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned i = (unsigned)rand_r(&seed) % NA;
		bool r;

		if (!page_is(A + i * PS, (unsigned char)(0x10 + i), &r))
			__atomic_add_fetch(&bad_a, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&faults_seen, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *driver(void *arg)
{
	uint64_t cp;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		/* -ENOENT: a reader faulted a page back meanwhile; -EINVAL: B
		 * is unmapped right now */
		zd_dmirror_migrate_to_dev(g, mm, A, NA, &cp);
		zd_dmirror_migrate_to_dev(g, mm, B, NB, &cp);
		zd_dmirror_migrate_to_sys(g, mm, A, NA / 2, &cp);
	}
	return NULL;
}

/* migrate_to_ram calls so far: the readers' faults on device pages */
static uint64_t device_faults(void)
{
	struct zd_dmirror_stats st;

	zd_dmirror_get_stats(g, &st);
	return st.migrate_to_ram;
}

static void *unmapper(void *arg)
{
	unsigned char buf[4096];
	/* a THP range costs 16 times the pages per move */
	int rounds = NA > 32 ? (TAP_SLOW ? 4 : 25) : TAP_SLOW ? 20 : 200;

	(void)arg;
	/* the rounds, and on until the readers have faulted a while (a fair
	 * mmap_lock lets this thread through quickly) */
	for (int r = 0; r < rounds || (device_faults() < (TAP_SLOW ? 500 : 5000) &&
				       r < 50 * rounds); r++) {
		int64_t b = zd_vm_mmap(mm, B, NB * PS, ZD_PROT_READ | ZD_PROT_WRITE,
				       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS | ZD_MAP_FIXED, NULL, 0);
		bool rd;

		if (b != (int64_t)B) {
			__atomic_add_fetch(&bad_b, 1, __ATOMIC_RELAXED);
			break;
		}
		for (unsigned i = 0; i < NB; i++) {
			memset(buf, (unsigned char)(r + i), PS);
			zd_access_vm(mm, B + i * PS, buf, PS, true);
		}
		for (unsigned i = 0; i < NB; i++)
			if (!page_is(B + i * PS, (unsigned char)(r + i), &rd))
				__atomic_add_fetch(&bad_b, 1, __ATOMIC_RELAXED);
		zd_vm_munmap(mm, B, NB * PS);
		/* mprotect of the readers' range: device entries downgrade */
		if (zd_do_mprotect(mm, A, NA * PS, ZD_PROT_READ) ||
		    zd_do_mprotect(mm, A, NA * PS, ZD_PROT_READ | ZD_PROT_WRITE))
			__atomic_add_fetch(&bad_b, 1, __ATOMIC_RELAXED);
		/* fork: device entries become read-only in parent and child;
		 * the child reads one page back and exits */
		if (r % 4 == 0) {
			struct zd_mm *child = zd_dup_mm(mm);

			if (ZD_IS_ERR(child)) {
				__atomic_add_fetch(&bad_b, 1, __ATOMIC_RELAXED);
			} else {
				zd_access_vm(child, A + (r % NA) * PS, buf, PS, false);
				zd_mmput(child);
			}
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_dmirror_desc gd = { .name = "gpu0", .vram_size = 256ULL << 20 };
	struct zd_dmirror_stats st;
	unsigned char buf[4096];
	pthread_t th[4];
	bool rd, all = true;

	for (int round = 0; round < 3; round++) {
		int design = round == 1;
		bool thp = round == 2;
		struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram,
					     .nr_ram = 1,
					     .device_private = design ? ZD_DEVICE_PRIVATE_DPA
								      : ZD_DEVICE_PRIVATE_PFN,
					     .transparent_hugepage = thp ? ZD_THP_ALWAYS
									 : ZD_THP_MADVISE };
		const char *tag = thp ? "pfn thp" : design ? "dpa" : "pfn";
		uint64_t pmd;

		m = zd_machine_create(&d);
		if (!ok(!ZD_IS_ERR(m), "%s: boots", tag))
			return done_testing();
		PS = m->arch.page_size;
		pmd = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
		NA = thp ? (unsigned)(pmd / PS) : 32;
		g = zd_dmirror_create(m, &gd);
		mm = zd_mm_alloc(m);
		A = (uint64_t)zd_vm_mmap(mm, 0, 2 * pmd, ZD_PROT_READ | ZD_PROT_WRITE,
					 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
		if (thp) {   /* the readers' range one PMD block, the rest unmapped */
			uint64_t start = A;

			A = (A + pmd - 1) & ~(pmd - 1);
			if (A > start)
				zd_vm_munmap(mm, start, A - start);
			zd_vm_munmap(mm, A + pmd, start + 2 * pmd - (A + pmd));
		} else {
			zd_vm_munmap(mm, A + NA * PS, 2 * pmd - NA * PS);
		}
		B = A - 64 * PS;
		for (unsigned i = 0; i < NA; i++) {
			memset(buf, 0x10 + i, PS);
			zd_access_vm(mm, A + i * PS, buf, PS, true);
		}
		stop = bad_a = bad_b = faults_seen = 0;
		pthread_create(&th[0], NULL, reader, (void *)1);
		pthread_create(&th[1], NULL, reader, (void *)2);
		pthread_create(&th[2], NULL, driver, NULL);
		pthread_create(&th[3], NULL, unmapper, NULL);
		for (int i = 0; i < 4; i++)
			tap_join_or_bail(th[i], 120, "migrate_vma_mt thread");
		is_int(bad_a, 0, "%s: readers always saw the right bytes", tag);
		is_int(bad_b, 0, "%s: the mapped-and-unmapped range never showed foreign bytes", tag);
		zd_dmirror_get_stats(g, &st);
		diag("%s: %llu migrate_to_ram calls during the run", tag,
		     (unsigned long long)st.migrate_to_ram);
		/* and one for sure: the range on the device, one page read */
		uint64_t cp, before = st.migrate_to_ram;
		zd_dmirror_migrate_to_dev(g, mm, A, NA, &cp);
		ok(page_is(A, 0x10, &rd), "%s: a read after the run faults page 0 back", tag);
		zd_dmirror_get_stats(g, &st);
		is_int(st.migrate_to_ram, before + 1, "%s: ... through migrate_to_ram", tag);
		all = true;
		for (unsigned i = 0; i < NA; i++)
			all &= page_is(A + i * PS, (unsigned char)(0x10 + i), &rd);
		ok(all, "%s: every byte of the range is intact at the end", tag);
		if (thp) {
			enum zd_pt_level level;
			struct zd_page *p;

			/* the run left it split and read-only (fork): written, it
			 * collapses into one THP again, then one device THP */
			for (unsigned i = 0; i < NA; i++) {
				memset(buf, 0x10 + i, PS);
				zd_access_vm(mm, A + i * PS, buf, PS, true);
			}
			is_int(zd_do_madvise(mm, A, NA * PS, ZD_MADV_COLLAPSE), 0,
			       "%s: MADV_COLLAPSE", tag);
			zd_dmirror_migrate_to_dev(g, mm, A, NA, &cp);
			zd_follow_pte(mm, A, &level, &p);
			is_int(level, ZD_PT_PMD, "%s: the range moves as one device THP", tag);
			ok(page_is(A + 7 * PS, 0x17, &rd), "%s: ... and reads back", tag);
		}
		is_int(zd_vm_munmap(mm, A, NA * PS), 0, "%s: munmap", tag);
		zd_dmirror_get_stats(g, &st);
		is_int(st.calloc - st.cfree, 0, "%s: every device page went back", tag);
		if (!is_int(zd_warn_count(m), 0, "%s: no WARN", tag))
			zd_log_dump(m, stderr, ZD_LOG_WARNING);
		zd_mmput(mm);
		zd_dmirror_destroy(g);
		zd_machine_destroy(m);
	}
	return done_testing();
}
