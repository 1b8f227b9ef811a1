/*
 * ptdump of a process's page tables (mm/ptdump.c with the arch formats):
 * two written pages, a hole, a zero-page read:
 *  - x86_64: the "---[ User Space ]---" header; one 8K run
 *    "USR RW ... NX pte" for the two pages (printk_prot's 30-column
 *    fields), a 4K hole, a 4K "USR ro" run for the zero page; holes at
 *    every level (pgd, pud, pmd); the runs tile [0, 0x0000800000000000)
 *    with no gap (each starts where the last ended);
 *  - arm64-4k: the level first ("PTE"), the pte_bits fields after it
 *    ("USR RW NX SHD AF NG ... UXN MEM/NORMAL"), nothing after an empty
 *    run's level; the runs end at 1 << 48;
 *  - ppc64 (64K radix): book3s64's line shape: the end inclusive, the run's
 *    first physical address, the size, then flag_array's words (two
 *    spaces each, clear words where a flag has one), no level name, and no
 *    line for an empty run; the two 64K pages one 128K run, the zero page
 *    "special".
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)

static char *dump(const char *arch, int *rc)
{
	struct zd_machine *m = tap_machine(arch, 0, 0, 1 * G, NULL, 0);
	char *t = NULL, x = 1;
	size_t len = 0;
	FILE *f;

	if (!m)
		return NULL;
	struct zd_mm *mm = zd_mm_alloc(m);
	uint64_t ps = m->arch.page_size;
	uint64_t a = (uint64_t)zd_vm_mmap(mm, 0, 16 * ps, ZD_PROT_READ | ZD_PROT_WRITE,
					  ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	zd_access_vm(mm, a, &x, 1, true);
	zd_access_vm(mm, a + ps, &x, 1, true);
	zd_access_vm(mm, a + 3 * ps, &x, 1, false);
	f = open_memstream(&t, &len);
	*rc = zd_ptdump_show(mm, f);
	fclose(f);
	zd_mmput(mm);
	zd_machine_destroy(m);
	return t;
}

/* Every line's range starts where the previous one ended; the last end. */
static bool tiles(const char *t, unsigned long long *last)
{
	unsigned long long s, e, prev = 0;

	for (const char *l = t; *l; l = strchr(l, '\n') + 1) {
		if (sscanf(l, "0x%llx-0x%llx", &s, &e) == 2) {
			if (s != prev)
				return false;
			prev = e;
		}
		if (!strchr(l, '\n'))
			break;
	}
	*last = prev;
	return true;
}

int main(void)
{
	unsigned long long end = 0;
	int rc;
	char *t = dump("x86_64", &rc);

	if (ok(t && rc == 0, "x86_64: ptdump")) {
		ok(!strncmp(t, "---[ User Space ]---\n", 21), "x86_64: the User Space header");
		ok(strstr(t, "           8K USR RW                     NX pte\n") != NULL,
		   "x86_64: the two written pages are one 8K run");
		ok(strstr(t, "           4K USR ro                     NX pte\n") != NULL,
		   "x86_64: the zero page is a read-only run");
		ok(strstr(t, "           4K                               pte\n") != NULL,
		   "x86_64: the hole between them prints 30 spaces");
		ok(strstr(t, " pgd\n") && strstr(t, " pud\n") && strstr(t, " pmd\n"),
		   "x86_64: holes at the upper levels");
		ok(tiles(t, &end) && end == 0x800000000000ULL,
		   "x86_64: the runs tile the user half (end 0x%llx)", end);
	}
	free(t);
	t = dump("arm64-4k", &rc);
	if (ok(t && rc == 0, "arm64-4k: ptdump")) {
		ok(strstr(t, "8K PTE   USR RW NX SHD AF NG         UXN    MEM/NORMAL\n") != NULL,
		   "arm64-4k: level first, then the pte_bits fields");
		ok(strstr(t, "4K PTE   USR ro NX SHD AF NG         UXN    MEM/NORMAL\n") != NULL,
		   "arm64-4k: the zero page read-only");
		ok(strstr(t, "4K PTE\n") != NULL, "arm64-4k: an empty run has no fields");
		ok(tiles(t, &end) && end == 1ULL << 48, "arm64-4k: the runs end at 1 << 48");
	}
	free(t);
	t = dump("ppc64", &rc);
	if (ok(t && rc == 0, "ppc64: ptdump")) {
		unsigned long long s0, e0, pa;
		char size[16];

		ok(sscanf(strchr(t, '\n') + 1, "0x%llx-0x%llx  0x%llx %15s", &s0, &e0, &pa, size) == 4 &&
		   e0 - s0 + 1 == 128 * 1024 && pa && !(pa & 0xffff) && !strcmp(size, "128K"),
		   "ppc64: start-end (inclusive), the first pa, 128K for the two pages");
		ok(strstr(t, "128K   user  r  w       pte  valid  present        dirty  accessed"
			  "                          \n") != NULL,
		   "ppc64: flag_array's words for a written page");
		ok(strstr(t, "64K   user  r          pte  valid  present               accessed"
			  "                            special\n") != NULL,
		   "ppc64: the zero page read-only and special");
		int lines = 0;
		for (const char *l = t; (l = strchr(l, '\n')); l++)
			lines++;
		is_int(lines, 3, "ppc64: the header and two lines: empty runs print nothing");
	}
	free(t);
	return done_testing();
}
