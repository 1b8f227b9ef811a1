/*
 * The architecture profiles and their derived constants. Values follow the
 * kernel's arch headers (asm/sparsemem.h, asm/pgtable*.h, Kconfig defaults
 * for ARCH_FORCE_MAX_ORDER); see spec/core.md §1.2. Profiles are immutable;
 * machines copy one and may lower phys_bits, then re-derive.
 */
#include <zonedev/arch.h>
#include <zonedev/err.h>
#include <pthread.h>
#include <string.h>
#include "base/align.h"


/* sizeof(struct zd_mem_section): section word, usage, host base, pad. */
#define MEM_SECTION_SIZE 32

static struct zd_arch profiles[] = {
	{ .name = "x86_64", .family = ZD_ARCH_X86, .page_shift = 12, .section_size_bits = 27,
	  .max_physmem_bits = 46, .phys_bits = 46, .pmd_shift = 21, .pud_shift = 30,
	  .max_page_order = 10, .pageblock_order = 9, .min_memory_block_size = SZ_128M,
	  .x86_block_size_rule = true, .dma_limit = SZ_16M, .dma32_limit = SZ_4G,
	  .coverage = ZD_VMEMMAP_COVERS_PHYS, .va_bits = 47, .optimize_dax_vmemmap = true,
	  .thp_pud = true },
	{ .name = "x86_64-la57", .family = ZD_ARCH_X86, .page_shift = 12, .section_size_bits = 27,
	  .max_physmem_bits = 52, .phys_bits = 52, .pmd_shift = 21, .pud_shift = 30,
	  .max_page_order = 10, .pageblock_order = 9, .min_memory_block_size = SZ_128M,
	  .x86_block_size_rule = true, .dma_limit = SZ_16M, .dma32_limit = SZ_4G,
	  .coverage = ZD_VMEMMAP_COVERS_PHYS, .va_bits = 56, .optimize_dax_vmemmap = true,
	  .thp_pud = true },
	/* arm64: pageblock_order follows the PMD-sized huge page where it is
	 * not larger than the max order; 64K pages use 512 MiB sections so that
	 * MAX_PAGE_ORDER (13) fits. */
	{ .name = "arm64-4k", .family = ZD_ARCH_ARM64, .page_shift = 12, .section_size_bits = 27,
	  .max_physmem_bits = 48, .phys_bits = 48, .pmd_shift = 21, .pud_shift = 30,
	  .max_page_order = 10, .pageblock_order = 9, .min_memory_block_size = SZ_128M,
	  .dma32_limit = SZ_4G, .coverage = ZD_VMEMMAP_COVERS_LINEAR_MAP, .va_bits = 48 },
	{ .name = "arm64-16k", .family = ZD_ARCH_ARM64, .page_shift = 14, .section_size_bits = 27,
	  .max_physmem_bits = 48, .phys_bits = 48, .pmd_shift = 25, .pud_shift = 36,
	  .max_page_order = 11, .pageblock_order = 11, .min_memory_block_size = SZ_128M,
	  .dma32_limit = SZ_4G, .coverage = ZD_VMEMMAP_COVERS_LINEAR_MAP, .va_bits = 48 },
	{ .name = "arm64-64k", .family = ZD_ARCH_ARM64, .page_shift = 16, .section_size_bits = 29,
	  .max_physmem_bits = 48, .phys_bits = 48, .pmd_shift = 29, .pud_shift = 42,
	  .max_page_order = 13, .pageblock_order = 13, .min_memory_block_size = SZ_512M,
	  .dma32_limit = SZ_4G, .coverage = ZD_VMEMMAP_COVERS_LINEAR_MAP, .va_bits = 48 },
	/* ppc64 book3s radix, 64K pages: 16 MiB sections force MAX_PAGE_ORDER 8;
	 * pseries firmware usually reports 256 MiB LMBs as the block size. */
	{ .name = "ppc64", .family = ZD_ARCH_PPC64, .page_shift = 16, .section_size_bits = 24,
	  .max_physmem_bits = 51, .phys_bits = 51, .pmd_shift = 21, .pud_shift = 30,
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
