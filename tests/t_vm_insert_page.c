/*
 * vm_insert_page() and a driver's mmap (the dmirror file, hmm-tests'
 * mixedmap): the VMA becomes VM_MIXEDMAP, the PTE maps the driver's page
 * read-only in a private mapping and holds a reference, rss counts it as
 * a file page; -EBUSY on an occupied slot, -EINVAL for an anonymous page,
 * -EFAULT outside the VMA; migrate_vma refuses the VMA; a CPU write
 * copies (the driver's page stays as it was); a driver mmap failing half
 * way leaves nothing mapped; munmap frees the pages.
 */
#include "tap.h"
#include "helpers.h"

#include <errno.h>
#include <string.h>
#include <zonedev/fault-inject.h>
#include <zonedev/gfp.h>
#include <zonedev/migrate.h>
#include <zonedev/test_hmm.h>

#define G (1ULL << 30)

int main(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = G } };
	struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	struct zd_dmirror_desc gd = { .name = "gpu0", .vram_size = 256ULL << 20 };
	struct zd_dmirror_device *g;
	struct zd_vm_area_struct *vma;
	struct zd_file *file;
	struct zd_page *page, *anon, *after;
	enum zd_pt_level level;
	unsigned long src[2] = { 0 }, dst[2] = { 0 };
	struct zd_migrate_vma args = { .src = src, .dst = dst,
				       .flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	struct zd_mm *mm;
	unsigned long free0;
	uint64_t a, b, ps;
	char buf[16] = { 0 };
	zd_pte_t e;

	if (!ok(!ZD_IS_ERR(m), "boots"))
		return done_testing();
	ps = m->arch.page_size;
	g = zd_dmirror_create(m, &gd);
	free0 = zd_global_free_pages(m);
	mm = zd_mm_alloc(m);
	file = zd_dmirror_file_open(g);
	ok(!ZD_IS_ERR(g) && !ZD_IS_ERR(mm) && !ZD_IS_ERR(file), "a device, a process, its file");
	a = (uint64_t)zd_vm_mmap(mm, 0, 2 * ps, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE, file, 0);
	ok((int64_t)a > 0, "mmap of the device file");
	vma = zd_vma_lookup(mm, a);
	ok(vma && (vma->vm_flags & ZD_VM_MIXEDMAP), "the VMA is VM_MIXEDMAP");
	e = zd_follow_pte(mm, a, &level, &page);
	ok(m->arch.pgtable->pte_present(&m->arch, e) && page, "a present PTE mapping a page");
	ok(!(m->arch.pgtable->leaf_prot(&m->arch, e) & ZD_PTE_WRITE),
	   "... read-only (a private mapping's page protection)");
	ok(page && !zd_folio_test_anon(page) && zd_page_ref_count(page) == 1 &&
	   zd_page_mapcount(page) == 1, "... not anonymous, one reference and one mapping: the PTE's");
	is_int(mm->rss_stat[ZD_MM_FILEPAGES], 2, "rss: two file pages");

	/* the driver's own errors */
	zd_mmap_write_lock(mm);
	is_int(zd_vm_insert_page(vma, a, page), -EBUSY, "an occupied slot: -EBUSY");
	is_int(zd_vm_insert_page(vma, a + 2 * ps, page), -EFAULT, "outside the VMA: -EFAULT");
	zd_mmap_write_unlock(mm);
	b = (uint64_t)zd_vm_mmap(mm, 0, ps, ZD_PROT_READ | ZD_PROT_WRITE,
				 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	zd_access_vm(mm, b, "x", 1, true);
	zd_follow_pte(mm, b, &level, &anon);
	zd_mmap_write_lock(mm);
	is_int(zd_vm_insert_page(vma, a + ps, anon), -EINVAL, "an anonymous page: -EINVAL");
	zd_mmap_write_unlock(mm);

	/* migrate_vma refuses a VM_MIXEDMAP VMA */
	zd_mmap_read_lock(mm);
	args.vma = vma;
	args.start = a;
	args.end = a + ps;
	is_int(zd_migrate_vma_setup(m, &args), -EINVAL, "migrate_vma_setup: VM_MIXEDMAP: -EINVAL");
	zd_mmap_read_unlock(mm);

	/* a CPU write copies: the process gets its own page */
	is_int(zd_access_vm(mm, a, "hello", 5, true), 0, "a CPU write");
	zd_follow_pte(mm, a, &level, &after);
	ok(after && after != page && zd_folio_test_anon(after), "... maps an anonymous copy");
	zd_access_vm(mm, a, buf, 5, false);
	ok(!memcmp(buf, "hello", 5), "... which holds the bytes");
	is_int(mm->rss_stat[ZD_MM_FILEPAGES], 1, "rss: one file page left");

	/* a driver's mmap that fails half way: what it inserted goes */
	zd_fault_inject_set(m, "dmirror_mmap:alloc", 3);
	is_int(zd_vm_mmap(mm, 0, 4 * ps, ZD_PROT_READ, ZD_MAP_PRIVATE, file, 0), -ENOMEM,
	       "an mmap whose third page cannot be had: -ENOMEM");
	is_int(mm->rss_stat[ZD_MM_FILEPAGES], 1, "... its two inserted pages unmapped again");
	is_int(zd_vm_munmap(mm, a, 2 * ps), 0, "munmap");
	is_int(zd_vm_munmap(mm, b, ps), 0, "munmap of the anonymous page");
	is_int(mm->rss_stat[ZD_MM_FILEPAGES] + mm->rss_stat[ZD_MM_ANONPAGES], 0, "rss is 0");
	zd_fput(file);
	zd_mmput(mm);
	is_int(zd_global_free_pages(m), free0, "every page back in the allocator");
	is_int(zd_warn_count(m), 0, "no WARN");
	zd_dmirror_destroy(g);
	zd_machine_destroy(m);
	return done_testing();
}
