/*
 * /proc/PID/pagemap and smaps_rollup (fs/proc/task_mmu.c):
 *  - pagemap reads must be 8-byte aligned in offset and length (-EINVAL);
 *    unmapped and untouched pages read 0; the zero page is present with
 *    its pfn but neither exclusive nor a file page; a written anonymous
 *    page is present, exclusive, with its pfn; after fork it is no longer
 *    exclusive in either process; a shared anonymous page is PM_FILE; a
 *    read past the address space comes back short;
 *  - smaps_rollup: the [rollup] header spans the VMAs; two written private
 *    pages are Rss 8 kB, Private_Dirty 8 kB, Anonymous 8 kB; the zero page
 *    is not counted; a shmem page is Pss_Shmem; after fork the shared
 *    pages count half in Pss and move to Shared_Dirty.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define PS 4096ULL
#define PRESENT (1ULL << 63)
#define FILEPG  (1ULL << 61)
#define EXCL    (1ULL << 56)
#define PFN(e)  ((e) & ((1ULL << 55) - 1))

static struct zd_machine *m;

static uint64_t pme(struct zd_mm *mm, uint64_t addr)
{
	uint64_t e = 0xdead;

	zd_pagemap_read(mm, addr / PS * 8, &e, 8);
	return e;
}

int main(void)
{
	struct zd_mm *mm, *child;
	uint64_t a, sh, e, buf[4];
	char c = 1;

	m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	mm = zd_mm_alloc(m);
	a = (uint64_t)zd_vm_mmap(mm, 0, 8 * PS, ZD_PROT_READ | ZD_PROT_WRITE,
				 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	sh = (uint64_t)zd_vm_mmap(mm, 0, PS, ZD_PROT_READ | ZD_PROT_WRITE,
				  ZD_MAP_SHARED | ZD_MAP_ANONYMOUS, NULL, 0);
	is_int(zd_pagemap_read(mm, a / PS * 8 + 4, buf, 8), -EINVAL, "pagemap: an unaligned offset");
	is_int(zd_pagemap_read(mm, a / PS * 8, buf, 12), -EINVAL, "pagemap: an unaligned length");
	is_u64(pme(mm, 0x10000), 0, "pagemap: unmapped reads 0");
	is_u64(pme(mm, a), 0, "pagemap: untouched reads 0");
	zd_access_vm(mm, a, &c, 1, false);
	e = pme(mm, a);
	ok((e & PRESENT) && PFN(e) == m->zero_pfn && !(e & (EXCL | FILEPG)),
	   "pagemap: the zero page: present, its pfn, not exclusive, not a file page (0x%llx)",
	   (unsigned long long)e);
	zd_access_vm(mm, a + PS, &c, 1, true);
	zd_access_vm(mm, a + 2 * PS, &c, 1, true);
	e = pme(mm, a + PS);
	ok((e & PRESENT) && (e & EXCL) && !(e & FILEPG) && PFN(e) && PFN(e) != m->zero_pfn,
	   "pagemap: a written page: present, exclusive, its pfn");
	zd_access_vm(mm, sh, &c, 1, true);
	ok((pme(mm, sh) & (PRESENT | FILEPG)) == (PRESENT | FILEPG), "pagemap: shmem is PM_FILE");
	is_int(zd_pagemap_read(mm, (mm->task_size / PS - 2) * 8, buf, 32), 16,
	       "pagemap: a read past the address space is short");

	ok(tap_smaps_rollup_kb(mm, "[rollup]\n") != ~0ULL, "rollup: the [rollup] header");
	is_u64(tap_smaps_rollup_kb(mm, "Rss:"), 12, "rollup: Rss 12 kB (two private, one shmem; the zero page not)");
	is_u64(tap_smaps_rollup_kb(mm, "Private_Dirty:"), 12, "rollup: Private_Dirty 12 kB");
	is_u64(tap_smaps_rollup_kb(mm, "Anonymous:"), 8, "rollup: Anonymous 8 kB");
	is_u64(tap_smaps_rollup_kb(mm, "Pss_Shmem:"), 4, "rollup: Pss_Shmem 4 kB");
	is_u64(tap_smaps_rollup_kb(mm, "Pss:"), 12, "rollup: Pss 12 kB");

	child = zd_dup_mm(mm);
	if (ok(!ZD_IS_ERR(child), "fork")) {
		ok(!(pme(mm, a + PS) & EXCL) && !(pme(child, a + PS) & EXCL) &&
		   PFN(pme(child, a + PS)) == PFN(e), "pagemap: after fork the page is shared by both");
		zd_access_vm(child, sh, &c, 1, false);
		is_u64(tap_smaps_rollup_kb(mm, "Pss:"), 6, "rollup: Pss halves for the three shared pages");
		is_u64(tap_smaps_rollup_kb(mm, "Shared_Dirty:"), 12, "rollup: they are Shared_Dirty now");
		is_u64(tap_smaps_rollup_kb(mm, "Private_Dirty:"), 0, "rollup: nothing private left");
		zd_mmput(child);
	}
	zd_mmput(mm);
	zd_machine_destroy(m);
	return done_testing();
}
