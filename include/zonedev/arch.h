/*
 * Architecture profiles: the numbers the kernel fixes per architecture at
 * build or boot time (page size, section size, physical address bits, PMD and
 * PUD sizes, default memory-block size, buddy orders, vmemmap coverage).
 * A machine copies its profile and may lower phys_bits; everything else in
 * zonedev derives its constants from the copy, never from the host.
 * Invariant (checked by zd_arch_validate): SUBSECTION_SHIFT <= section bits,
 * max_order + page_shift <= section bits, phys_bits <= max_physmem_bits,
 * pmd_shift and pud_shift are the page-table geometry's PMD and PUD shifts.
 */
#ifndef ZONEDEV_ARCH_H
#define ZONEDEV_ARCH_H

#include <stdbool.h>
#include <stdint.h>
#include <zonedev/pgtable.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t phys_addr_t;

#define ZD_SUBSECTION_SHIFT 21 /* 2 MiB on every architecture */
#define ZD_SUBSECTION_SIZE  (1ULL << ZD_SUBSECTION_SHIFT)
#define ZD_STRUCT_PAGE_SIZE 64

enum zd_vmemmap_coverage {
	/* x86: the vmemmap window spans the whole physical address space. */
	ZD_VMEMMAP_COVERS_PHYS,
	/* arm64: only the linear-map span starting at memstart (start of RAM). */
	ZD_VMEMMAP_COVERS_LINEAR_MAP,
};

/* Which arch's hotplug code runs (arch/<family>/mm): the rules that differ
 * are the vmemmap_populate() use of an altmap and who raises max_pfn. */
enum zd_arch_family { ZD_ARCH_X86, ZD_ARCH_ARM64, ZD_ARCH_PPC64 };

struct zd_arch {
	const char *name;
	enum zd_arch_family family;
	unsigned page_shift;
	unsigned section_size_bits;
	unsigned max_physmem_bits;   /* the arch maximum */
	unsigned phys_bits;          /* this machine's (<= max_physmem_bits) */
	unsigned pmd_shift, pud_shift; /* PMD_SHIFT, PUD_SHIFT: derived from the geometry */
	unsigned max_page_order;     /* MAX_PAGE_ORDER of the buddy allocator */
	unsigned pageblock_order;
	uint64_t min_memory_block_size;
	bool x86_block_size_rule;    /* memory_block_size_bytes() follows x86's rule */
	uint64_t dma_limit;          /* end of ZONE_DMA (x86: 16 MiB), 0 if the arch has none */
	uint64_t dma32_limit;        /* end of ZONE_DMA32, 0 if the arch has none */
	enum zd_vmemmap_coverage coverage;
	unsigned va_bits;            /* arm64: linear map = 2^(va_bits-1) bytes */
	bool optimize_dax_vmemmap;   /* ARCH_WANT_OPTIMIZE_DAX_VMEMMAP */
	bool thp_pud;                /* HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD: 1G dax align */
	const struct zd_pgtable_ops *pgtable; /* entry formats (pgtable.h) */

	/* Derived by zd_arch_derive(). */
	uint64_t page_size;
	unsigned pfn_section_shift;
	uint64_t pages_per_section;
	uint64_t pages_per_subsection;
	unsigned subsections_per_section;
	uint64_t nr_mem_sections;
	unsigned sections_per_root;  /* PAGE_SIZE / sizeof(struct zd_mem_section) */
	uint64_t nr_section_roots;
	uint64_t linear_map_size;    /* arm64 coverage span in bytes */
	/* Page-table geometry, from pgtable->geometry(): x86 4 or 5 levels
	 * (va_bits 47 or 56), arm64 ARM64_HW_PGTABLE_LEVELS(va_bits) for the
	 * granule, ppc64 radix 4. pgtable_va_bits is what the tree translates:
	 * va_bits on arm64 and ppc64, va_bits + 1 on x86 (one PGD spans the
	 * user half and the kernel half). */
	unsigned pgtable_levels;     /* CONFIG_PGTABLE_LEVELS */
	unsigned pgtable_va_bits;
	struct zd_pt_geom pt[ZD_PT_NR_LEVELS];
};

/* Profile by name ("x86_64", "x86_64-la57", "arm64-4k", "arm64-16k",
 * "arm64-64k", "ppc64"); NULL if unknown. The result is derived already. */
const struct zd_arch *zd_arch_find(const char *name);
/* NULL-terminated list of every profile name, for help texts. */
const char *const *zd_arch_names(void);
/* Recompute derived fields after changing phys_bits. */
void zd_arch_derive(struct zd_arch *a);
/* 0, or -EINVAL with a reason in *why when a combination is impossible. */
int zd_arch_validate(const struct zd_arch *a, const char **why);

static inline uint64_t zd_pfn_section_nr(const struct zd_arch *a, uint64_t pfn)
{
	return pfn >> a->pfn_section_shift;
}
static inline uint64_t zd_section_nr_to_pfn(const struct zd_arch *a, uint64_t nr)
{
	return nr << a->pfn_section_shift;
}
static inline unsigned zd_subsection_map_index(const struct zd_arch *a, uint64_t pfn)
{
	return (unsigned)((pfn & (a->pages_per_section - 1)) / a->pages_per_subsection);
}
static inline uint64_t zd_phys_pfn(const struct zd_arch *a, phys_addr_t addr)
{
	return addr >> a->page_shift;
}
static inline phys_addr_t zd_pfn_phys(const struct zd_arch *a, uint64_t pfn)
{
	return (phys_addr_t)pfn << a->page_shift;
}

#ifdef __cplusplus
}
#endif

#endif
