/*
 * /proc/PID/maps, pagemap and smaps_rollup (fs/proc/task_mmu.c). maps:
 * one line per VMA as show_map_vma() prints it: start-end, rwx and s/p,
 * the file offset, dev major:minor, inode, then (padded to column 73) the
 * name: the file's path, else the owner's vm_ops->name. pagemap: one
 * 64-bit entry per virtual page (PM_* bits, real pfns as for a reader with
 * CAP_SYS_ADMIN). smaps_rollup: smaps_account()'s sums over every VMA,
 * PSS in PSS_SHIFT fixed point.
 * Invariants: read under mmap_read_lock, so each report is one snapshot;
 * the formats are the kernel's byte for byte (lower-case hex, at least 8
 * digits, the space after the inode even when no name follows).
 */
#include <errno.h>
#include <string.h>

#include <zonedev/machine.h>
#include <zonedev/mm.h>
#include "mm/internal.h"

/* seq_setwidth(m, 25 + sizeof(void *) * 6 - 1) on a 64-bit kernel. */
#define MAPS_NAME_COLUMN 72

void zd_show_maps(struct zd_mm *mm, FILE *f)
{
	zd_mmap_read_lock(mm);
	for (size_t i = 0; i < mm->map_count; i++) {
		struct zd_vm_area_struct *vma = mm->vmas[i];
		const struct zd_file *file = vma->vm_file;
		const char *name = file ? file->path : NULL;
		uint64_t flags = vma->vm_flags;
		char line[160];
		int n;

		if (!name && vma->vm_ops && vma->vm_ops->name)
			name = vma->vm_ops->name(vma);
		n = snprintf(line, sizeof(line), "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ",
			     (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end,
			     flags & ZD_VM_READ ? 'r' : '-', flags & ZD_VM_WRITE ? 'w' : '-',
			     flags & ZD_VM_EXEC ? 'x' : '-', flags & ZD_VM_MAYSHARE ? 's' : 'p',
			     file ? (unsigned long long)vma->vm_pgoff << mm->m->arch.page_shift : 0ULL,
			     file ? file->dev_major : 0, file ? file->dev_minor : 0,
			     file ? (unsigned long long)file->ino : 0ULL);
		fputs(line, f);
		if (name) {
			/* seq_pad(): spaces up to the column, then one more */
			fprintf(f, "%*s %s", n < MAPS_NAME_COLUMN ? MAPS_NAME_COLUMN - n : 0, "",
				name);
		}
		fputc('\n', f);
	}
	zd_mmap_read_unlock(mm);
}

/* ---------- pagemap ---------- */

#define PM_PFRAME_MASK     ((1ULL << 55) - 1)
#define PM_SOFT_DIRTY      (1ULL << 55)
#define PM_MMAP_EXCLUSIVE  (1ULL << 56)
#define PM_FILE            (1ULL << 61)
#define PM_SWAP            (1ULL << 62)
#define PM_PRESENT         (1ULL << 63)
#define MAX_SWAPFILES_SHIFT 5

/* pte_to_pagemap_entry(), for a reader with CAP_SYS_ADMIN (real pfns). */
static uint64_t pagemap_entry(struct zd_mm *mm, const struct zd_vm_area_struct *vma,
			      uint64_t addr)
{
	const struct zd_arch *a = &mm->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	enum zd_pt_level level;
	struct zd_page *page;
	zd_pte_t e = zd_follow_pte(mm, addr, &level, &page);
	uint64_t pme = vma->vm_flags & ZD_VM_SOFTDIRTY ? PM_SOFT_DIRTY : 0;

	if (o->pte_none(a, e))
		return pme;
	if (!o->pte_present(a, e)) {
		/* a PMD entry (a device THP's): the offset of addr's page in it */
		uint64_t span = 1ULL << a->pt[level].shift;
		uint64_t off = o->swp_offset(a, e) +
			       (level == ZD_PT_PTE ? 0 : (addr & (span - 1)) >> a->page_shift);
		uint64_t frame = o->swp_type(a, e) | off << MAX_SWAPFILES_SHIFT;

		return pme | PM_SWAP | (frame & PM_PFRAME_MASK);
	}
	pme |= PM_PRESENT;
	if (level == ZD_PT_PTE) {
		pme |= o->leaf_pfn(a, ZD_PT_PTE, e) & PM_PFRAME_MASK;
	} else {
		uint64_t span = 1ULL << a->pt[level].shift;
		pme |= (o->leaf_pfn(a, level, e) + ((addr & (span - 1)) >> a->page_shift)) &
		       PM_PFRAME_MASK;
	}
	if (level != ZD_PT_PTE && !zd_is_huge_zero_pfn(mm->m, o->leaf_pfn(a, level, e)))
		page = zd_pfn_to_page(mm->m, o->leaf_pfn(a, level, e));   /* the folio */
	if (page && !zd_folio_test_anon(page))
		pme |= PM_FILE;
	/* a PMD: mapped by one entry (folio_maybe_mapped_shared()'s test) */
	if (page && (level == ZD_PT_PTE ? zd_folio_precise_page_mapcount(page) :
		     zd_folio_test_anon(page) ? zd_folio_large_mapcount(page) :
		     zd_page_mapcount(page)) == 1)
		pme |= PM_MMAP_EXCLUSIVE;
	return pme;
}

long zd_pagemap_read(struct zd_mm *mm, uint64_t pos, uint64_t *buf, size_t count)
{
	const unsigned shift = mm->m->arch.page_shift;
	size_t n = count / 8;

	if ((pos | count) & 7)
		return -EINVAL;
	zd_mmap_read_lock(mm);
	for (size_t i = 0; i < n; i++) {
		uint64_t addr = (pos / 8 + i) << shift;
		struct zd_vm_area_struct *vma;

		if (addr >= mm->task_size) {
			n = i;
			break;
		}
		vma = zd_vma_lookup(mm, addr);
		buf[i] = vma ? pagemap_entry(mm, vma, addr) : 0;
	}
	zd_mmap_read_unlock(mm);
	return (long)(n * 8);
}

/* ---------- smaps_rollup ---------- */

#define PSS_SHIFT 12

struct mem_size_stats {
	uint64_t resident, shared_clean, shared_dirty, private_clean, private_dirty;
	uint64_t referenced, anonymous, anon_thp, lazyfree, swap;
	uint64_t pss, pss_dirty, pss_anon, pss_file, pss_shmem;
};

static void accumulate(struct mem_size_stats *s, struct zd_page *page, uint64_t size,
		       uint64_t pss, bool dirty, bool private)
{
	s->pss += pss;
	if (zd_folio_test_anon(page))
		s->pss_anon += pss;
	else if (zd_test_page_flag(page, ZD_PG_swapbacked))
		s->pss_shmem += pss;
	else
		s->pss_file += pss;
	if (dirty || zd_test_page_flag(page, ZD_PG_dirty)) {
		s->pss_dirty += pss;
		*(private ? &s->private_dirty : &s->shared_dirty) += size;
	} else {
		*(private ? &s->private_clean : &s->shared_clean) += size;
	}
}

/* smaps_pte_entry() + smaps_account() for one present base page. */
static int smaps_one(struct zd_mm *mm, uint64_t *pte, uint64_t addr, void *arg)
{
	struct mem_size_stats *s = arg;
	const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
	zd_pte_t e = o->ptep_get(pte);
	uint64_t size = mm->m->arch.page_size;
	struct zd_page *page, *folio;
	unsigned prot;
	int mapcount;

	if (!o->pte_present(&mm->m->arch, e))
		return 0;
	page = zd_vm_normal_page(mm, e);
	if (!page)
		return 0;   /* the zero page and special entries are not counted */
	folio = zd_compound_head(page);
	prot = zd_pte_prot(mm, e);
	s->resident += size;
	if (zd_folio_test_anon(folio)) {
		s->anonymous += size;
		if (!zd_test_page_flag(folio, ZD_PG_swapbacked) && !(prot & ZD_PTE_DIRTY) &&
		    !zd_test_page_flag(folio, ZD_PG_dirty))
			s->lazyfree += size;
	}
	if ((prot & ZD_PTE_YOUNG) || zd_test_page_flag(folio, ZD_PG_referenced))
		s->referenced += size;
	mapcount = zd_folio_precise_page_mapcount(page);
	if (zd_page_ref_count(folio) == 1) {
		accumulate(s, folio, size, size << PSS_SHIFT, prot & ZD_PTE_DIRTY, true);
		return 0;
	}
	accumulate(s, folio, size, (size << PSS_SHIFT) / (mapcount >= 2 ? (uint64_t)mapcount : 1),
		   prot & ZD_PTE_DIRTY, mapcount < 2);
	return 0;
}

/* smaps_pmd_entry() for a DAX leaf: its size at once, shared or private
 * by the folio's mapcount. */
static int smaps_leaf(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level, uint64_t addr,
		      void *arg)
{
	struct mem_size_stats *s = arg;
	const struct zd_arch *a = &mm->m->arch;
	zd_pte_t e = a->pgtable->ptep_get(slot);
	uint64_t size = 1ULL << a->pt[level].shift;
	struct zd_page *folio;
	int mapcount;

	if (!a->pgtable->pte_present(a, e))
		return 0;
	if (zd_is_huge_zero_pfn(mm->m, a->pgtable->leaf_pfn(a, level, e)))
		return 0;   /* vm_normal_page_pmd(): no page behind it */
	folio = zd_pfn_to_page(mm->m, a->pgtable->leaf_pfn(a, level, e));
	s->resident += size;
	if (a->pgtable->leaf_prot(a, e) & ZD_PTE_YOUNG)
		s->referenced += size;
	mapcount = zd_page_mapcount(folio);
	if (zd_pmd_is_thp(mm, e, level)) {
		s->anonymous += size;
		s->anon_thp += size;
		if (!zd_test_page_flag(folio, ZD_PG_swapbacked) &&
		    !(a->pgtable->leaf_prot(a, e) & ZD_PTE_DIRTY) &&
		    !zd_test_page_flag(folio, ZD_PG_dirty))
			s->lazyfree += size;
		mapcount = zd_folio_entire_mapcount(folio);
		if (zd_page_ref_count(folio) == 1) {
			accumulate(s, folio, size, size << PSS_SHIFT,
				   a->pgtable->leaf_prot(a, e) & ZD_PTE_DIRTY, true);
			return 0;
		}
	}
	accumulate(s, folio, size, (size << PSS_SHIFT) / (mapcount >= 2 ? (uint64_t)mapcount : 1),
		   a->pgtable->leaf_prot(a, e) & ZD_PTE_DIRTY, mapcount < 2);
	return 0;
}

void zd_show_smaps_rollup(struct zd_mm *mm, FILE *f)
{
	struct mem_size_stats s = { 0 };
	uint64_t start = 0, end = 0;
	char line[160];
	int n;

	zd_mmap_read_lock(mm);
	for (size_t i = 0; i < mm->map_count; i++)
		zd_walk_range(mm, mm->vmas[i]->vm_start, mm->vmas[i]->vm_end, smaps_one, smaps_leaf,
			      &s);
	if (mm->map_count) {
		start = mm->vmas[0]->vm_start;
		end = mm->vmas[mm->map_count - 1]->vm_end;
	}
	zd_mmap_read_unlock(mm);
	n = snprintf(line, sizeof(line), "%08llx-%08llx ---p 00000000 00:00 0 ",
		     (unsigned long long)start, (unsigned long long)end);
	fprintf(f, "%s%*s [rollup]\n", line, n < MAPS_NAME_COLUMN ? MAPS_NAME_COLUMN - n : 0, "");
	const struct { const char *name; uint64_t bytes; } rows[] = {
		{ "Rss:", s.resident }, { "Pss:", s.pss >> PSS_SHIFT },
		{ "Pss_Dirty:", s.pss_dirty >> PSS_SHIFT }, { "Pss_Anon:", s.pss_anon >> PSS_SHIFT },
		{ "Pss_File:", s.pss_file >> PSS_SHIFT }, { "Pss_Shmem:", s.pss_shmem >> PSS_SHIFT },
		{ "Shared_Clean:", s.shared_clean }, { "Shared_Dirty:", s.shared_dirty },
		{ "Private_Clean:", s.private_clean }, { "Private_Dirty:", s.private_dirty },
		{ "Referenced:", s.referenced }, { "Anonymous:", s.anonymous }, { "KSM:", 0 },
		{ "LazyFree:", s.lazyfree }, { "AnonHugePages:", s.anon_thp }, { "ShmemPmdMapped:", 0 },
		{ "FilePmdMapped:", 0 }, { "Shared_Hugetlb:", 0 }, { "Private_Hugetlb:", 0 },
		{ "Swap:", s.swap }, { "SwapPss:", 0 }, { "Locked:", 0 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "%-16s%8llu kB\n", rows[i].name, (unsigned long long)(rows[i].bytes >> 10));
}
