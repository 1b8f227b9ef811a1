/*
 * The architecture profiles and their derived constants. Values follow the
 * kernel's arch headers (asm/sparsemem.h, asm/pgtable*.h, Kconfig defaults
 * for ARCH_FORCE_MAX_ORDER); see spec/core.md §1.2. Profiles are immutable;
 * machines copy one and may lower phys_bits (or set arm64's va_bits), then
 * re-derive. PMD_SHIFT and PUD_SHIFT are not listed: they come out of the
 * page-table geometry (spec/pgtable.md §1), so a 2-level arm64 (16K with
 * va_bits 36) gets the folded PUD_SHIFT == PMD_SHIFT the kernel has.
 */
#include <zonedev/arch.h>
#include <zonedev/err.h>
#include <pthread.h>
#include <string.h>
#include "base/align.h"
#include "arch/pgtable-internal.h"


/* sizeof(struct zd_mem_section): section word, usage, host base, pad. */
#define MEM_SECTION_SIZE 32

static struct zd_arch profiles[] = {
	{ .name = "x86_64", .family = ZD_ARCH_X86, .pgtable = &zd_pgtable_ops_x86_64,
	  .page_shift = 12, .section_size_bits = 27, .max_physmem_bits = 46, .phys_bits = 46,
	  .max_page_order = 10, .pageblock_order = 9, .min_memory_block_size = SZ_128M,
	  .x86_block_size_rule = true, .dma_limit = SZ_16M, .dma32_limit = SZ_4G,
	  .coverage = ZD_VMEMMAP_COVERS_PHYS, .va_bits = 47, .optimize_dax_vmemmap = true,
	  .thp_pud = true },
	{ .name = "x86_64-la57", .family = ZD_ARCH_X86, .pgtable = &zd_pgtable_ops_x86_64,
	  .page_shift = 12, .section_size_bits = 27, .max_physmem_bits = 52, .phys_bits = 52,
	  .max_page_order = 10, .pageblock_order = 9, .min_memory_block_size = SZ_128M,
	  .x86_block_size_rule = true, .dma_limit = SZ_16M, .dma32_limit = SZ_4G,
	  .coverage = ZD_VMEMMAP_COVERS_PHYS, .va_bits = 56, .optimize_dax_vmemmap = true,
	  .thp_pud = true },
	/* arm64: pageblock_order follows the PMD-sized huge page where it is
	 * not larger than the max order; 64K pages use 512 MiB sections so that
	 * MAX_PAGE_ORDER (13) fits. */
	{ .name = "arm64-4k", .family = ZD_ARCH_ARM64, .pgtable = &zd_pgtable_ops_arm64,
	  .page_shift = 12, .section_size_bits = 27, .max_physmem_bits = 48, .phys_bits = 48,
	  .max_page_order = 10, .pageblock_order = 9, .min_memory_block_size = SZ_128M,
	  .dma32_limit = SZ_4G, .coverage = ZD_VMEMMAP_COVERS_LINEAR_MAP, .va_bits = 48 },
	{ .name = "arm64-16k", .family = ZD_ARCH_ARM64, .pgtable = &zd_pgtable_ops_arm64,
	  .page_shift = 14, .section_size_bits = 27, .max_physmem_bits = 48, .phys_bits = 48,
	  .max_page_order = 11, .pageblock_order = 11, .min_memory_block_size = SZ_128M,
	  .dma32_limit = SZ_4G, .coverage = ZD_VMEMMAP_COVERS_LINEAR_MAP, .va_bits = 48 },
	{ .name = "arm64-64k", .family = ZD_ARCH_ARM64, .pgtable = &zd_pgtable_ops_arm64,
	  .page_shift = 16, .section_size_bits = 29, .max_physmem_bits = 48, .phys_bits = 48,
	  .max_page_order = 13, .pageblock_order = 13, .min_memory_block_size = SZ_512M,
	  .dma32_limit = SZ_4G, .coverage = ZD_VMEMMAP_COVERS_LINEAR_MAP, .va_bits = 48 },
	/* ppc64 book3s radix, 64K pages: 16 MiB sections force MAX_PAGE_ORDER 8;
	 * pseries firmware usually reports 256 MiB LMBs as the block size. */
	{ .name = "ppc64", .family = ZD_ARCH_PPC64, .pgtable = &zd_pgtable_ops_ppc64_radix,
	  .page_shift = 16, .section_size_bits = 24, .max_physmem_bits = 51, .phys_bits = 51,
	  .max_page_order = 8, .pageblock_order = 8, .min_memory_block_size = SZ_256M,
	  .dma32_limit = 0, .coverage = ZD_VMEMMAP_COVERS_PHYS, .va_bits = 52,
	  .optimize_dax_vmemmap = true, .thp_pud = true },
};

static const char *const names[] = {
	"x86_64", "x86_64-la57", "arm64-4k", "arm64-16k", "arm64-64k", "ppc64", NULL,
};

void zd_arch_derive(struct zd_arch *a)
{
	a->page_size = 1ULL << a->page_shift;
	a->pfn_section_shift = a->section_size_bits - a->page_shift;
	a->pages_per_section = 1ULL << a->pfn_section_shift;
	a->pages_per_subsection = 1ULL << (ZD_SUBSECTION_SHIFT - a->page_shift);
	a->subsections_per_section = 1U << (a->section_size_bits - ZD_SUBSECTION_SHIFT);
	/* Out-of-range phys_bits are refused by zd_arch_validate(); derive
	 * must still not shift by a negative or too-large amount first. */
	a->nr_mem_sections = a->phys_bits > a->section_size_bits && a->phys_bits < 64 ?
			     1ULL << (a->phys_bits - a->section_size_bits) : 0;
	a->sections_per_root = (unsigned)(a->page_size / MEM_SECTION_SIZE);
	a->nr_section_roots = (a->nr_mem_sections + a->sections_per_root - 1) /
			      a->sections_per_root;
	a->linear_map_size = a->coverage == ZD_VMEMMAP_COVERS_LINEAR_MAP ?
			     1ULL << (a->va_bits - 1) : 0;
	if (a->pgtable) {
		a->pgtable->geometry(a);
		a->pmd_shift = a->pt[ZD_PT_PMD].shift;
		a->pud_shift = a->pt[ZD_PT_PUD].shift;
	}
}

void zd_pt_geometry_set(struct zd_arch *a, const unsigned index_bits[ZD_PT_NR_LEVELS])
{
	unsigned shift = a->page_shift, levels = 0;

	for (int l = ZD_PT_PTE; l >= ZD_PT_PGD; l--) {
		struct zd_pt_geom *g = &a->pt[l];
		/* the top level always exists, even with no index bits */
		bool folded = !index_bits[l] && l != ZD_PT_PGD;

		g->shift = shift;
		g->index_bits = index_bits[l];
		g->ptrs = 1ULL << index_bits[l];
		g->folded = folded;
		g->table_size = folded ? 0 : g->ptrs * sizeof(uint64_t);
		g->leaf = false;
		shift += index_bits[l];
		levels += !folded;
	}
	a->pgtable_levels = levels;
	a->pgtable_va_bits = shift;
	a->pt[ZD_PT_PTE].leaf = true;
}

int zd_arch_validate(const struct zd_arch *a, const char **why)
{
	const char *w = NULL;

	if (ZD_SUBSECTION_SHIFT > a->section_size_bits)
		w = "SUBSECTION_SHIFT exceeds SECTION_SIZE_BITS";
	else if (a->max_page_order + a->page_shift > a->section_size_bits)
		w = "MAX_PAGE_ORDER + PAGE_SHIFT exceeds SECTION_SIZE_BITS";
	else if (a->phys_bits > a->max_physmem_bits)
		w = "phys_bits exceeds the architecture's MAX_PHYSMEM_BITS";
	else if (a->phys_bits < a->section_size_bits + 1)
		w = "phys_bits leaves room for less than two sections";
	else if (a->pageblock_order > a->max_page_order)
		w = "pageblock_order exceeds MAX_PAGE_ORDER";
	else if (a->min_memory_block_size % (1ULL << a->section_size_bits))
		w = "memory block size is not a multiple of the section size";
	else if (!a->pgtable)
		w = "the profile has no page-table format";
	else if (a->pgtable_levels < 2 || a->pgtable_levels > 5 || a->pgtable_va_bits > 64 ||
		 a->pgtable_va_bits < a->va_bits)
		w = "the page-table levels do not cover va_bits";
	else if (a->pmd_shift != a->pt[ZD_PT_PMD].shift || a->pud_shift != a->pt[ZD_PT_PUD].shift)
		w = "PMD_SHIFT/PUD_SHIFT disagree with the page-table geometry";
	if (why)
		*why = w;
	return w ? -EINVAL : 0;
}

static pthread_once_t derive_once = PTHREAD_ONCE_INIT;

static void derive_all(void)
{
	for (unsigned i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		zd_arch_derive(&profiles[i]);
}

const struct zd_arch *zd_arch_find(const char *name)
{
	pthread_once(&derive_once, derive_all);
	for (unsigned i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (!strcmp(profiles[i].name, name))
			return &profiles[i];
	return NULL;
}

const char *const *zd_arch_names(void)
{
	return names;
}
