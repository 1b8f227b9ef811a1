/*
 * Batched vmemmap host mappings: __add_pages/__remove_pages change the host
 * mapping of a whole range once instead of once per section. The batch must
 * do exactly what the per-section calls did, which the cases below would
 * catch if it did not:
 *  - an early (boot) section keeps its boot memmap: adding and removing a
 *    sub-section of it, or a range from it into the next section, leaves
 *    the boot pages' struct pages readable and unchanged;
 *  - an 8-section add maps a memmap that can be written throughout; its
 *    removal gives back every mapped and resident byte (mincore over the
 *    span reads zero);
 *  - an add that fails at its 5th section (fault injection) leaves nothing
 *    mapped, resident or valid, and the same range adds cleanly afterwards;
 *  - ranges next to each other share no host page wrongly: removing one
 *    leaves its neighbour's memmap intact.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PFN(x) ((uint64_t)(x) >> 12)

static struct zd_machine *m;
static struct zd_mhp_params params = { .pgprot = 1 };

static int add(uint64_t start, uint64_t size)
{
	int rc;

	zd_mem_hotplug_begin(m);
	rc = zd___add_pages(m, 0, PFN(start), PFN(size), &params);
	zd_mem_hotplug_done(m);
	return rc;
}

static void del(uint64_t start, uint64_t size)
{
	zd_mem_hotplug_begin(m);
	zd___remove_pages(m, PFN(start), PFN(size), NULL);
	zd_mem_hotplug_done(m);
}

static long resident(uint64_t start, uint64_t size)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)zd_pfn_to_page(m, PFN(start)) & ~(ps - 1);
	size_t len = PFN(size) * sizeof(struct zd_page), n = len / ps;
	unsigned char *vec = malloc(n);
	long r = 0;

	if (!vec || mincore((void *)lo, len, vec)) {
		free(vec);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

static void early_section(void)
{
	/* boot RAM ends at 192 MiB: section 1 [128M, 256M) is early and half used */
	uint64_t boot_pfn = PFN(150 * M), hole_pfn = PFN(193 * M);
	struct zd_page before = *zd_pfn_to_page(m, boot_pfn);
	struct zd_page hole;

	/* past boot RAM but in its early section: the boot memmap covers it;
	 * a mark in it shows whether the add or removal replaced that memory */
	ok(zd_pfn_valid(m, hole_pfn), "early: a pfn past boot RAM in its section is valid");
	zd_pfn_to_page(m, hole_pfn)->memcg_data = 0x5a5a;
	hole = *zd_pfn_to_page(m, hole_pfn);

	is_int(add(192 * M, 2 * M), 0, "early: a sub-section of an early section adds");
	is_int(memcmp(&before, zd_pfn_to_page(m, boot_pfn), sizeof(before)), 0,
	       "early: the boot page's struct page is unchanged by the add");
	is_int(memcmp(&hole, zd_pfn_to_page(m, hole_pfn), sizeof(hole)), 0,
	       "early: the added sub-section keeps its boot struct pages");
	del(192 * M, 2 * M);
	is_int(memcmp(&before, zd_pfn_to_page(m, boot_pfn), sizeof(before)), 0,
	       "early: and by the removal");
	is_int(memcmp(&hole, zd_pfn_to_page(m, hole_pfn), sizeof(hole)), 0,
	       "early: the removed sub-section's boot memmap is still mapped and unchanged");
	is_int(add(192 * M, 192 * M), 0, "early: a range from the early section into the next adds");
	zd_pfn_to_page(m, PFN(300 * M))->flags = 0x5a;
	is_int(memcmp(&before, zd_pfn_to_page(m, boot_pfn), sizeof(before)), 0,
	       "early: boot struct page unchanged by the two-section add");
	del(192 * M, 192 * M);
	ok(!zd_pfn_valid(m, PFN(300 * M)), "early: the next section is gone");
	is_int(memcmp(&before, zd_pfn_to_page(m, boot_pfn), sizeof(before)), 0,
	       "early: boot struct page unchanged by the two-section removal");
	is_u64(zd_page_ref_count(zd_pfn_to_page(m, boot_pfn)), zd_page_ref_count(&before),
	       "early: and still readable through pfn_to_page");
}

static void eight_sections(void)
{
	long mapped0 = m->vmemmap_mapped_bytes;
	uint64_t res0 = zd_vmemmap_resident_bytes(m);

	if (!is_int(add(4 * G, 1 * G), 0, "8 sections: add"))
		return;
	is_u64((uint64_t)(m->vmemmap_mapped_bytes - mapped0), PFN(G) * sizeof(struct zd_page),
	       "8 sections: 16 MiB of memmap mapped");
	for (uint64_t p = PFN(4 * G); p < PFN(5 * G); p++)
		zd_pfn_to_page(m, p)->private = p;
	uint64_t bad = 0;
	for (uint64_t p = PFN(4 * G); p < PFN(5 * G); p++)
		bad += zd_pfn_to_page(m, p)->private != p;
	is_u64(bad, 0, "8 sections: every struct page written and read back");
	is_int((int)resident(4 * G, 1 * G), (int)(PFN(G) * sizeof(struct zd_page) / 4096),
	       "8 sections: the whole memmap is resident");
	del(4 * G, 1 * G);
	is_u64((uint64_t)m->vmemmap_mapped_bytes, (uint64_t)mapped0, "8 sections: mapped bytes back");
	is_u64(zd_vmemmap_resident_bytes(m), res0, "8 sections: resident bytes back");
	is_int((int)resident(4 * G, 1 * G), 0, "8 sections: mincore over the span reads zero");
}

static void failed_add(void)
{
	long mapped0 = m->vmemmap_mapped_bytes;
	uint64_t res0 = zd_vmemmap_resident_bytes(m);
	int valid = 0;

	zd_fault_inject_set(m, "sparse_add_section", 5);
	is_int(add(8 * G, 1 * G), -ENOMEM, "failed add: the 5th section fails with -ENOMEM");
	zd_fault_inject_clear(m);
	is_u64((uint64_t)m->vmemmap_mapped_bytes, (uint64_t)mapped0, "failed add: nothing mapped");
	is_u64(zd_vmemmap_resident_bytes(m), res0, "failed add: nothing resident");
	is_int((int)resident(8 * G, 1 * G), 0, "failed add: mincore over the span reads zero");
	for (uint64_t p = PFN(8 * G); p < PFN(9 * G); p += 512)
		valid += zd_pfn_valid(m, p);
	is_int(valid, 0, "failed add: no sub-section valid");
	if (is_int(add(8 * G, 1 * G), 0, "failed add: the range adds cleanly afterwards")) {
		zd_pfn_to_page(m, PFN(9 * G) - 1)->private = 7;
		is_u64(zd_pfn_to_page(m, PFN(9 * G) - 1)->private, 7, "failed add: memmap usable");
		del(8 * G, 1 * G);
	}
}

static void neighbours(void)
{
	/* two ranges in one section: their memmaps meet inside a host page
	 * only if a sub-section's memmap is not a whole number of host pages */
	if (!is_int(add(12 * G, 2 * M), 0, "neighbours: first sub-section") ||
	    !is_int(add(12 * G + 2 * M, 254 * M), 0, "neighbours: the rest, across a section"))
		return;
	for (uint64_t p = PFN(12 * G); p < PFN(12 * G + 2 * M); p++)
		zd_pfn_to_page(m, p)->private = p;
	del(12 * G + 2 * M, 254 * M);
	uint64_t bad = 0;
	for (uint64_t p = PFN(12 * G); p < PFN(12 * G + 2 * M); p++)
		bad += zd_pfn_to_page(m, p)->private != p;
	is_u64(bad, 0, "neighbours: removing one range leaves the other's memmap intact");
	del(12 * G, 2 * M);
	is_int((int)resident(12 * G, 256 * M), 0, "neighbours: both gone, nothing resident");
}

int main(void)
{
	m = tap_machine("x86_64", 40, 0, 192 * M, NULL, 0);
	if (!m)
		return done_testing();
	early_section();
	eight_sections();
	failed_add();
	neighbours();
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
