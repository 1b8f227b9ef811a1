/*
 * Page-table walks over real tables (mm/memory.c): the levels of each arch
 * profile, tables from pgalloc.h, entries from the profile's ops.
 *
 * Asserts, for x86_64 (4 levels), la57 (5), arm64 4K/39 (3), 16K/48 (4),
 * 16K/36 (2), 64K/52 (3) and ppc64 radix (4):
 *  - a new mm has its PGD: PageTables is one page, VmPTE 0;
 *  - the first allocating walk installs one table per level below the PGD
 *    (PageTables and VmPTE grow by levels - 1 pages, MemFree falls), each
 *    parent slot a table pointer (not a leaf) to a PGTY_table page of this
 *    mm; the PTE slot returned is in the table the pointers reach, locked;
 *  - a second walk to the same or a neighbouring address installs nothing
 *    and returns the same slot; a non-allocating walk finds it, and finds
 *    nothing where no table exists (and locks nothing);
 *  - munmap of the mapping frees its tables when no neighbour shares them,
 *    keeps those a neighbouring VMA still spans, and exit frees every
 *    table and the PGD (PageTables 0, MemFree back).
 * Why: faults, GUP, migration and HMM all start from these walks; a table
 * installed twice, leaked or freed under a neighbour corrupts them all.
 */
#include <string.h>

#include <zonedev/zonedev.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define RW (ZD_PROT_READ | ZD_PROT_WRITE)
#define ANON (ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS)

static uint64_t pt_pages(struct zd_machine *m)
{
	uint64_t kb = 0;

	zd_meminfo_field(m, "PageTables", &kb);
	return kb / (m->arch.page_size >> 10);
}

static uint64_t free_kb(struct zd_machine *m)
{
	uint64_t kb = 0;

	zd_meminfo_field(m, "MemFree", &kb);
	return kb;
}

/* Follow the table pointers by hand to the PTE table of addr; NULL if a
 * level is not a table pointer to one of mm's tables. */
static struct zd_page *follow(struct zd_mm *mm, uint64_t addr)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *t = mm->pgd;

	for (int l = ZD_PT_PGD; l < ZD_PT_PTE; l++) {
		const struct zd_pt_geom *g = &m->arch.pt[l];
		uint64_t *e;
		zd_pte_t v;

		if (g->folded)
			continue;
		e = zd_pagetable_address(m, t);
		v = o->ptep_get(&e[(addr >> g->shift) & (g->ptrs - 1)]);
		if (!o->is_table(&m->arch, v) || o->pmd_leaf(&m->arch, v))
			return NULL;
		t = zd_pfn_to_page(m, o->table_phys(&m->arch, v) >> m->arch.page_shift);
		if (!zd_page_is_table(t) || zd_pagetable_mm(t) != mm)
			return NULL;
	}
	return t;
}

static void test_arch(const char *arch, unsigned va_bits)
{
	struct zd_machine_desc d = { .arch = arch, .va_bits = va_bits };
	struct zd_mem_range ram = { .start = 0, .size = 1 * G };
	struct zd_machine *m;
	struct zd_mm *mm;
	struct zd_page *ptl, *ptl2;
	uint64_t *pte, *pte2, free0, levels, page;
	int64_t a, b;
	char tag[48];

	d.ram = &ram;
	d.nr_ram = 1;
	m = zd_machine_create(&d);
	snprintf(tag, sizeof(tag), "%s va%u", arch, va_bits);
	if (!ok(!ZD_IS_ERR(m), "%s: machine boots", tag))
		return;
	page = m->arch.page_size;
	levels = m->arch.pgtable_levels;
	free0 = free_kb(m);
	mm = zd_mm_alloc(m);
	is_u64(pt_pages(m), 1, "%s: a new mm's PGD is one page of PageTables", tag);
	is_int(mm->pgtables_bytes, 0, "%s: and none of VmPTE", tag);

	/* Two mappings in neighbouring PGD slots: each needs its own chain. */
	a = zd_vm_mmap(mm, 0, 4 * page, RW, ANON, NULL, 0);
	{
		uint64_t span = 1ULL << m->arch.pt[ZD_PT_PGD].shift;
		uint64_t other = ((uint64_t)a / span) & 1 ? (uint64_t)a - span : (uint64_t)a + span;

		b = zd_vm_mmap(mm, other, page, RW, ANON | ZD_MAP_FIXED, NULL, 0);
	}
	ok(a > 0 && b > 0, "%s: two mappings", tag);
	zd_mmap_read_lock(mm);
	ok(!zd_pte_offset_map_lock(mm, (uint64_t)a, &ptl), "%s: no table yet, nothing found", tag);
	pte = zd_pte_alloc_map_lock(mm, (uint64_t)a, &ptl);
	ok(pte && zd_pt_lock_held(ptl), "%s: the allocating walk returns a locked PTE slot", tag);
	if (!pte) {
		zd_mmap_read_unlock(mm);
		zd_mmput(mm);
		zd_machine_destroy(m);
		return;
	}
	zd_pt_unlock(ptl);
	is_u64(pt_pages(m), levels, "%s: one table per level (%llu)", tag,
	       (unsigned long long)levels);
	is_int(mm->pgtables_bytes, (long long)((levels - 1) * page),
	       "%s: VmPTE counts the tables below the PGD", tag);
	is_u64(free0 - free_kb(m), levels * (page >> 10), "%s: MemFree falls by them", tag);
	ok(follow(mm, (uint64_t)a) == ptl, "%s: the table pointers lead to the returned table", tag);
	ok((char *)pte - (char *)zd_pagetable_address(m, ptl) ==
	   (long)(((uint64_t)a >> m->arch.page_shift) & (m->arch.pt[ZD_PT_PTE].ptrs - 1)) * 8,
	   "%s: the slot is addr's index in the PTE table", tag);

	pte2 = zd_pte_alloc_map_lock(mm, (uint64_t)a + page, &ptl2);
	ok(pte2 == pte + 1 && ptl2 == ptl, "%s: the next page's slot is the next slot", tag);
	zd_pt_unlock(ptl2);
	pte2 = zd_pte_offset_map_lock(mm, (uint64_t)a, &ptl2);
	ok(pte2 == pte && ptl2 == ptl, "%s: the plain walk finds the same slot", tag);
	zd_pt_unlock(ptl2);
	is_u64(pt_pages(m), levels, "%s: the second walks installed nothing", tag);

	pte2 = zd_pte_alloc_map_lock(mm, (uint64_t)b, &ptl2);
	ok(pte2 && ptl2 != ptl, "%s: a mapping in another PGD slot gets its own tables", tag);
	if (pte2)
		zd_pt_unlock(ptl2);
	is_u64(pt_pages(m), 1 + 2 * (levels - 1), "%s: a second chain below the PGD", tag);
	zd_mmap_read_unlock(mm);

	/* Unmap one page of a: the rest of a still spans the tables. */
	is_int(zd_vm_munmap(mm, (uint64_t)a, page), 0, "%s: munmap the first page", tag);
	is_u64(pt_pages(m), 1 + 2 * (levels - 1), "%s: tables a VMA still spans stay", tag);
	is_int(zd_vm_munmap(mm, (uint64_t)b, page), 0, "%s: munmap the far mapping", tag);
	is_u64(pt_pages(m), levels, "%s: its chain is freed", tag);
	zd_mmap_read_lock(mm);
	ok(!zd_pte_offset_map_lock(mm, (uint64_t)b, &ptl2), "%s: and no longer found", tag);
	zd_mmap_read_unlock(mm);
	zd_mmput(mm);
	is_u64(pt_pages(m), 0, "%s: exit frees every table and the PGD", tag);
	is_u64(free_kb(m), free0, "%s: MemFree is back", tag);
	zd_machine_destroy(m);
}

int main(void)
{
	test_arch("x86_64", 0);
	test_arch("x86_64-la57", 0);
	test_arch("arm64-4k", 39);
	test_arch("arm64-16k", 48);
	test_arch("arm64-16k", 36);
	test_arch("arm64-64k", 52);
	test_arch("ppc64", 0);
	return done_testing();
}
