/*
 * x86_64 page-table entries, 4-level and LA57 5-level (the same entry
 * format; va_bits 56 selects five levels, as pgtable_l5_enabled() does at
 * boot). Bits from arch/x86/include/asm/pgtable_types.h, pgtable_64.h,
 * pgtable.h and pgtable-invert.h (spec/pgtable.md §2a, §3b).
 *
 * Invariants:
 *  - Every entry that is non-zero and not _PAGE_PRESENT carries its pfn
 *    (PROT_NONE leaves) or swap offset inverted, so its physical-address
 *    bits point above any real memory (the L1TF mitigation); pte_pfn() and
 *    __swp_offset() undo the inversion.
 *  - Swap entries keep bit 7 (PSE) and bit 8 (PROTNONE) clear, so neither
 *    pte_present() nor pmd_present() takes one for a mapping.
 *  - The CPU modelled has no user shadow stack: a dirty read-only leaf uses
 *    _PAGE_DIRTY, not _PAGE_SAVED_DIRTY (both are read as dirty).
 */
#include <zonedev/arch.h>
#include <stdio.h>
#include "arch/pgtable-internal.h"

#define _PAGE_PRESENT     ZD_BIT(0)
#define _PAGE_RW          ZD_BIT(1)
#define _PAGE_USER        ZD_BIT(2)
#define _PAGE_PWT         ZD_BIT(3)
#define _PAGE_ACCESSED    ZD_BIT(5)
#define _PAGE_DIRTY       ZD_BIT(6)
#define _PAGE_PSE         ZD_BIT(7)   /* PMD/PUD: leaf; PTE: PAT */
#define _PAGE_GLOBAL      ZD_BIT(8)
#define _PAGE_PROTNONE    _PAGE_GLOBAL /* meaning only while !_PAGE_PRESENT */
#define _PAGE_SPECIAL     ZD_BIT(9)   /* _PAGE_SOFTW1 */
#define _PAGE_SAVED_DIRTY ZD_BIT(58)  /* _PAGE_SOFTW5, v6.6+ */
#define _PAGE_NX          ZD_BIT(63)

/* Kept out of pte_none(): some CPUs set A/D in a not-present entry
 * (_PAGE_KNL_ERRATUM_MASK). */
#define KNL_ERRATUM_MASK  (_PAGE_DIRTY | _PAGE_ACCESSED)

/* __PHYSICAL_MASK_SHIFT 52 on x86_64 (both paging modes): the pfn field is
 * bits 12..51 of a PTE (PTE_PFN_MASK); a PMD or PUD leaf's starts at its
 * own shift (PHYSICAL_PMD_PAGE_MASK, PHYSICAL_PUD_PAGE_MASK). SME/TDX
 * would remove bits at run time; the model has neither. */
#define PHYSICAL_MASK_SHIFT 52

/* Swap entries (pgtable_64.h): type in the top 5 bits, the offset inverted
 * in bits 9..58 ("shift up, then down"), flag bits 1..3 outside both. */
#define SWP_TYPE_BITS        5
#define SWP_OFFSET_FIRST_BIT 9        /* _PAGE_BIT_PROTNONE + 1 */
#define SWP_OFFSET_SHIFT     (SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS)
#define SWP_OFFSET_BITS      (64 - SWP_OFFSET_SHIFT)
#define _PAGE_SWP_SOFT_DIRTY _PAGE_RW
#define _PAGE_SWP_UFFD_WP    _PAGE_USER
#define _PAGE_SWP_EXCLUSIVE  _PAGE_PWT

ZD_PTEP_ACCESSORS(x86, htole64, le64toh)

static void x86_geometry(struct zd_arch *a)
{
	bool la57 = a->va_bits > 47;
	const unsigned bits[ZD_PT_NR_LEVELS] = {
		[ZD_PT_PGD] = 9, [ZD_PT_P4D] = la57 ? 9 : 0,
		[ZD_PT_PUD] = 9, [ZD_PT_PMD] = 9, [ZD_PT_PTE] = 9,
	};

	zd_pt_geometry_set(a, bits);
	a->pt[ZD_PT_PMD].leaf = true;   /* 2 MiB PSE */
	a->pt[ZD_PT_PUD].leaf = true;   /* 1 GiB PSE (X86_FEATURE_GBPAGES) */
}

static uint64_t pfn_mask(const struct zd_arch *a, enum zd_pt_level level)
{
	return ZD_GENMASK(PHYSICAL_MASK_SHIFT - 1, a->pt[level].shift);
}

/* protnone_mask(): a non-zero entry without _PAGE_PRESENT stores its pfn
 * bits inverted. */
static uint64_t invert_mask(uint64_t val)
{
	return val && !(val & _PAGE_PRESENT) ? ~0ULL : 0;
}

static zd_pte_t x86_pmd_mkhuge(const struct zd_arch *a, zd_pte_t pmd)
{
	return (zd_pte_t){ pmd.val | _PAGE_PSE };
}

static zd_pte_t x86_mk_leaf(const struct zd_arch *a, enum zd_pt_level level, uint64_t pfn,
			    unsigned prot)
{
	uint64_t flags = 0, phys;

	if (prot & ZD_PTE_RWX) {
		/* Present means readable: a write-only or execute-only request
		 * becomes readable, as protection_map[] makes it. */
		flags |= _PAGE_PRESENT;
		if (prot & ZD_PTE_WRITE)
			flags |= _PAGE_RW;
		if (prot & ZD_PTE_USER)
			flags |= _PAGE_USER;
		if (!(prot & ZD_PTE_EXEC))
			flags |= _PAGE_NX;
	} else {
		/* PAGE_NONE: _PAGE_PROTNONE without USER, RW or NX. */
		flags |= _PAGE_PROTNONE;
	}
	if (prot & ZD_PTE_YOUNG)
		flags |= _PAGE_ACCESSED;
	if (prot & ZD_PTE_DIRTY)
		flags |= _PAGE_DIRTY;
	if (prot & ZD_PTE_SPECIAL)
		flags |= _PAGE_SPECIAL;
	phys = (pfn << a->page_shift) ^ invert_mask(flags);
	phys &= pfn_mask(a, level);
	if (level != ZD_PT_PTE)
		flags |= _PAGE_PSE;
	return (zd_pte_t){ phys | flags };
}

static bool x86_pte_protnone(const struct zd_arch *a, zd_pte_t pte)
{
	return (pte.val & (_PAGE_PROTNONE | _PAGE_PRESENT)) == _PAGE_PROTNONE;
}

static unsigned x86_leaf_prot(const struct zd_arch *a, zd_pte_t pte)
{
	uint64_t v = pte.val;
	unsigned prot = 0;

	if (v & _PAGE_PRESENT) {
		prot |= ZD_PTE_READ;
		if (v & _PAGE_RW)
			prot |= ZD_PTE_WRITE;
		if (!(v & _PAGE_NX))
			prot |= ZD_PTE_EXEC;
		if (v & _PAGE_USER)
			prot |= ZD_PTE_USER;
	}
	if (v & _PAGE_ACCESSED)
		prot |= ZD_PTE_YOUNG;
	if (v & (_PAGE_DIRTY | _PAGE_SAVED_DIRTY))   /* _PAGE_DIRTY_BITS */
		prot |= ZD_PTE_DIRTY;
	if (v & _PAGE_SPECIAL)
		prot |= ZD_PTE_SPECIAL;
	return prot;
}

static uint64_t x86_leaf_pfn(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t pte)
{
	uint64_t v = pte.val ^ invert_mask(pte.val);

	return (v & pfn_mask(a, level)) >> a->page_shift;
}

static uint64_t x86_max_pfn(const struct zd_arch *a)
{
	return (1ULL << (PHYSICAL_MASK_SHIFT - a->page_shift)) - 1;
}

static bool x86_pte_none(const struct zd_arch *a, zd_pte_t pte)
{
	return !(pte.val & ~KNL_ERRATUM_MASK);
}

static bool x86_pte_present(const struct zd_arch *a, zd_pte_t pte)
{
	return pte.val & (_PAGE_PRESENT | _PAGE_PROTNONE);
}

/* PSE counts too: split_huge_pmd clears _PAGE_PRESENT but keeps PSE while
 * the PMD is being replaced (pmd_present() in asm/pgtable.h). */
static bool x86_pmd_present(const struct zd_arch *a, zd_pte_t pmd)
{
	return pmd.val & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE);
}

static bool x86_pmd_leaf(const struct zd_arch *a, zd_pte_t pmd)
{
	return pmd.val & _PAGE_PSE;
}

/* Since the 2024 pud_leaf() change (P. Xu) x86 tests PSE alone, like
 * pmd_leaf(); before it, PRESENT as well. */
static bool x86_pud_leaf(const struct zd_arch *a, zd_pte_t pud)
{
	return pud.val & _PAGE_PSE;
}

static zd_pte_t x86_swp_entry_to_pte(const struct zd_arch *a, unsigned type, uint64_t offset)
{
	uint64_t t = (uint64_t)(type & ((1u << SWP_TYPE_BITS) - 1));

	return (zd_pte_t){ (~offset << SWP_OFFSET_SHIFT >> SWP_TYPE_BITS) |
			   t << (64 - SWP_TYPE_BITS) };
}

static unsigned x86_swp_type(const struct zd_arch *a, zd_pte_t pte)
{
	return (unsigned)(pte.val >> (64 - SWP_TYPE_BITS));
}

static uint64_t x86_swp_offset(const struct zd_arch *a, zd_pte_t pte)
{
	return ~pte.val << SWP_TYPE_BITS >> SWP_OFFSET_SHIFT;
}

static bool x86_is_swap_pte(const struct zd_arch *a, zd_pte_t pte)
{
	return !x86_pte_none(a, pte) && !x86_pte_present(a, pte);
}

/* _PAGE_TABLE (pgtable_types.h): user tables are present, writable, user
 * and pre-set accessed/dirty, so a leaf's own bits decide the access. */
#define _PAGE_TABLE (_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY)

static zd_pte_t x86_mk_table(const struct zd_arch *a, enum zd_pt_level level, uint64_t phys)
{
	return (zd_pte_t){ (phys & ZD_GENMASK(PHYSICAL_MASK_SHIFT - 1, 12)) | _PAGE_TABLE };
}

static uint64_t x86_table_phys(const struct zd_arch *a, zd_pte_t e)
{
	return e.val & ZD_GENMASK(PHYSICAL_MASK_SHIFT - 1, 12);
}

static bool x86_is_table(const struct zd_arch *a, zd_pte_t e)
{
	return (e.val & (_PAGE_PRESENT | _PAGE_PSE)) == _PAGE_PRESENT;
}

/* ptdump: pte_flags() of the entry, and printk_prot()'s fixed-width fields
 * (30 spaces for a non-present entry). */
static uint64_t x86_ptdump_prot(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t e)
{
	return e.val & ~pfn_mask(a, level);
}

static void x86_ptdump_flags(enum zd_pt_level level, uint64_t pr, char *buf, size_t len)
{
	if (!(pr & _PAGE_PRESENT)) {
		snprintf(buf, len, "%30s", "");
		return;
	}
	snprintf(buf, len, "%s%s%s%s%s%s%s%s", pr & _PAGE_USER ? "USR " : "    ",
		 pr & _PAGE_RW ? "RW " : "ro ", pr & _PAGE_PWT ? "PWT " : "    ",
		 pr & ZD_BIT(4) ? "PCD " : "    ",
		 level != ZD_PT_PTE && (pr & _PAGE_PSE) ? "PSE " : "    ",
		 (level == ZD_PT_PTE && (pr & _PAGE_PSE)) ||
		 (level != ZD_PT_PTE && (pr & ZD_BIT(12))) ? "PAT " : "    ",
		 pr & _PAGE_GLOBAL ? "GLB " : "    ", pr & _PAGE_NX ? "NX " : "x  ");
}

const struct zd_pgtable_ops zd_pgtable_ops_x86_64 = {
	.name = "x86_64",
	.big_endian = false,
	.geometry = x86_geometry,
	.ptep_get = x86_ptep_get,
	.set_pte = x86_set_pte,
	.ptep_get_and_clear = x86_ptep_get_and_clear,
	.ptep_cmpxchg = x86_ptep_cmpxchg,
	.mk_leaf = x86_mk_leaf,
	.leaf_prot = x86_leaf_prot,
	.leaf_pfn = x86_leaf_pfn,
	.max_pfn = x86_max_pfn,
	.pte_none = x86_pte_none,
	.pte_present = x86_pte_present,
	.pmd_present = x86_pmd_present,
	.pte_protnone = x86_pte_protnone,
	.pmd_mkhuge = x86_pmd_mkhuge,
	.pud_mkhuge = x86_pmd_mkhuge,   /* pud_mkhuge sets the same PSE bit */
	.pmd_leaf = x86_pmd_leaf,
	.pud_leaf = x86_pud_leaf,
	.mk_table = x86_mk_table,
	.table_phys = x86_table_phys,
	.is_table = x86_is_table,
	.swp_entry_to_pte = x86_swp_entry_to_pte,
	.swp_type = x86_swp_type,
	.swp_offset = x86_swp_offset,
	.is_swap_pte = x86_is_swap_pte,
	.swp_type_bits = SWP_TYPE_BITS,
	.swp_offset_bits = SWP_OFFSET_BITS,
	.swp_exclusive = _PAGE_SWP_EXCLUSIVE,
	.ptdump_level = { "pgd", "p4d", "pud", "pmd", "pte" },
	.ptdump_prot = x86_ptdump_prot,
	.ptdump_flags = x86_ptdump_flags,
	.swp_soft_dirty = _PAGE_SWP_SOFT_DIRTY,
	.swp_uffd_wp = _PAGE_SWP_UFFD_WP,
};
