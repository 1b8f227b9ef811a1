/*
 * ppc64 Book3S radix page-table entries with 64K pages. Bits from
 * arch/powerpc/include/asm/book3s/64/pgtable.h, radix.h, radix-64k.h and
 * asm/pgtable-masks.h (spec/pgtable.md §1, §2c, §3b).
 *
 * Invariants:
 *  - Every level is stored big-endian (pte_raw() is __be64) whatever the
 *    kernel's endianness; pte_val() is the byte-swapped value the masks
 *    below apply to.
 *  - Every leaf, at any level, has _PAGE_PTE (bit 62); a table pointer
 *    has _PAGE_PRESENT without it. Swap entries have _PAGE_PTE too
 *    (__swp_entry_to_pte sets it) and neither _PAGE_PRESENT nor
 *    _PAGE_INVALID.
 *  - 4 levels: PGD 13 index bits (64 KiB), PUD 9 and PMD 9 (4 KiB tables),
 *    PTE 5 (256-byte fragments, RADIX_PTE_FRAG_NR = 256 per 64K page); P4D
 *    folded (pgtable-nop4d.h).
 */
#include <zonedev/arch.h>
#include "arch/pgtable-internal.h"

#define _PAGE_EXEC           0x00001ULL
#define _PAGE_WRITE          0x00002ULL
#define _PAGE_READ           0x00004ULL
#define _PAGE_RWX            (_PAGE_READ | _PAGE_WRITE | _PAGE_EXEC)
#define _PAGE_PRIVILEGED     0x00008ULL
#define _PAGE_NON_IDEMPOTENT 0x00020ULL
#define _PAGE_DIRTY          0x00080ULL   /* C */
#define _PAGE_ACCESSED       0x00100ULL   /* R */
#define _PAGE_SOFT_DIRTY     0x00200ULL   /* _RPAGE_SW3 */
#define _PAGE_SPECIAL        0x00400ULL   /* _RPAGE_SW2 */
#define _PAGE_INVALID        ZD_BIT(61)   /* _RPAGE_SW0, only while !PRESENT */
#define _PAGE_PTE            ZD_BIT(62)
#define _PAGE_PRESENT        ZD_BIT(63)

/* PTE_RPN_MASK: the real page number up to _PAGE_PA_MAX (53) above
 * PAGE_SHIFT, bits 16..52 with 64K pages: 37 bits of pfn. */
#define _PAGE_PA_MAX         53

/* radix__pte_none() ignores R and C (RADIX_PTE_NONE_MASK). */
#define RADIX_PTE_NONE_MASK  (_PAGE_DIRTY | _PAGE_ACCESSED)

#define SWP_TYPE_BITS        5
#define _PAGE_SWP_EXCLUSIVE  _PAGE_NON_IDEMPOTENT
#define _PAGE_SWP_SOFT_DIRTY _PAGE_SOFT_DIRTY  /* bit 5 until the 2022 change */

ZD_PTEP_ACCESSORS(ppc64, htobe64, be64toh)

static void ppc64_geometry(struct zd_arch *a)
{
	/* RADIX_{PGD,PUD,PMD,PTE}_INDEX_SIZE for 64K pages */
	static const unsigned bits[ZD_PT_NR_LEVELS] = {
		[ZD_PT_PGD] = 13, [ZD_PT_P4D] = 0, [ZD_PT_PUD] = 9, [ZD_PT_PMD] = 9,
		[ZD_PT_PTE] = 5,
	};

	zd_pt_geometry_set(a, bits);
	a->pt[ZD_PT_PMD].leaf = true;   /* 2 MiB */
	a->pt[ZD_PT_PUD].leaf = true;   /* 1 GiB */
}

static uint64_t rpn_mask(const struct zd_arch *a)
{
	return ZD_GENMASK(_PAGE_PA_MAX - 1, a->page_shift);
}

static zd_pte_t ppc64_pmd_mkhuge(const struct zd_arch *a, zd_pte_t pmd)
{
	return (zd_pte_t){ pmd.val | _PAGE_PTE };
}

static zd_pte_t ppc64_mk_leaf(const struct zd_arch *a, enum zd_pt_level level, uint64_t pfn,
			      unsigned prot)
{
	/* _PAGE_BASE is PRESENT|ACCESSED; ACCESSED follows ZD_PTE_YOUNG.
	 * pfn_pte() adds _PAGE_PTE at every level (VM_BUG_ON for a pfn past
	 * PTE_RPN_MASK; masked here). */
	uint64_t v = _PAGE_PRESENT | _PAGE_PTE | ((pfn << a->page_shift) & rpn_mask(a));

	/* Write implies read (_PAGE_RW); execute-only exists on radix
	 * (PAGE_EXECONLY_X). PAGE_NONE has no R/W/X and, since _PAGE_NA went
	 * from book3s64 (A. Kumar K.V., "Drop _PAGE_PRIVILEGED from
	 * PAGE_NONE", v6.8), no _PAGE_PRIVILEGED for a user leaf either. */
	if (prot & (ZD_PTE_READ | ZD_PTE_WRITE))
		v |= _PAGE_READ;
	if (prot & ZD_PTE_WRITE)
		v |= _PAGE_WRITE;
	if (prot & ZD_PTE_EXEC)
		v |= _PAGE_EXEC;
	if (!(prot & ZD_PTE_USER))
		v |= _PAGE_PRIVILEGED;
	if (prot & ZD_PTE_YOUNG)
		v |= _PAGE_ACCESSED;
	if (prot & ZD_PTE_DIRTY)
		v |= _PAGE_DIRTY;
	if (prot & ZD_PTE_SPECIAL)
		v |= _PAGE_SPECIAL;
	if (level != ZD_PT_PTE)
		v = ppc64_pmd_mkhuge(a, (zd_pte_t){ v }).val;
	return (zd_pte_t){ v };
}

static unsigned ppc64_leaf_prot(const struct zd_arch *a, zd_pte_t pte)
{
	uint64_t v = pte.val;
	unsigned prot = 0;

	if (v & _PAGE_READ)
		prot |= ZD_PTE_READ;
	if (v & _PAGE_WRITE)
		prot |= ZD_PTE_WRITE;
	if (v & _PAGE_EXEC)
		prot |= ZD_PTE_EXEC;
	if (!(v & _PAGE_PRIVILEGED))
		prot |= ZD_PTE_USER;
	if (v & _PAGE_ACCESSED)
		prot |= ZD_PTE_YOUNG;
	if (v & _PAGE_DIRTY)
		prot |= ZD_PTE_DIRTY;
	if (v & _PAGE_SPECIAL)
		prot |= ZD_PTE_SPECIAL;
	return prot;
}

/* pmd_pfn() and pud_pfn() are pte_pfn() of the same word: no rounding. */
static uint64_t ppc64_leaf_pfn(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t pte)
{
	return (pte.val & rpn_mask(a)) >> a->page_shift;
}

static uint64_t ppc64_max_pfn(const struct zd_arch *a)
{
	return rpn_mask(a) >> a->page_shift;
}

static bool ppc64_pte_none(const struct zd_arch *a, zd_pte_t pte)
{
	return !(pte.val & ~RADIX_PTE_NONE_MASK);
}

/* pte_hw_valid(), or present but invalidated during ptep_set_access_flags
 * or a THP split (_PAGE_INVALID). */
static bool ppc64_pte_present(const struct zd_arch *a, zd_pte_t pte)
{
	return (pte.val & (_PAGE_PRESENT | _PAGE_PTE)) == (_PAGE_PRESENT | _PAGE_PTE) ||
	       (pte.val & (_PAGE_INVALID | _PAGE_PTE)) == (_PAGE_INVALID | _PAGE_PTE);
}

/* A PMD may point to a table (no _PAGE_PTE), so only PRESENT|INVALID. */
static bool ppc64_pmd_present(const struct zd_arch *a, zd_pte_t pmd)
{
	return pmd.val & (_PAGE_PRESENT | _PAGE_INVALID);
}

static bool ppc64_pte_protnone(const struct zd_arch *a, zd_pte_t pte)
{
	return (pte.val & (_PAGE_PRESENT | _PAGE_PTE | _PAGE_RWX)) == (_PAGE_PRESENT | _PAGE_PTE);
}

static bool ppc64_pmd_leaf(const struct zd_arch *a, zd_pte_t pmd)
{
	return pmd.val & _PAGE_PTE;
}

static zd_pte_t ppc64_swp_entry_to_pte(const struct zd_arch *a, unsigned type, uint64_t offset)
{
	uint64_t t = type & ((1u << SWP_TYPE_BITS) - 1);

	return (zd_pte_t){ t | ((offset << a->page_shift) & rpn_mask(a)) | _PAGE_PTE };
}

static unsigned ppc64_swp_type(const struct zd_arch *a, zd_pte_t pte)
{
	return (unsigned)(pte.val & ((1u << SWP_TYPE_BITS) - 1));
}

static uint64_t ppc64_swp_offset(const struct zd_arch *a, zd_pte_t pte)
{
	return (pte.val & rpn_mask(a)) >> a->page_shift;
}

static bool ppc64_is_swap_pte(const struct zd_arch *a, zd_pte_t pte)
{
	return !ppc64_pte_none(a, pte) && !ppc64_pte_present(a, pte);
}

/* RADIX_{PMD,PUD,PGD}_VAL_BITS: a table pointer is _PAGE_PRESENT plus the
 * next level's index size (NLS) in the low bits; the address is what
 * *_MASKED_BITS leave. */
#define TABLE_MASKED_BITS 0xc0000000000000ffULL

static zd_pte_t ppc64_mk_table(const struct zd_arch *a, enum zd_pt_level level, uint64_t phys)
{
	int next = (int)level + 1;

	while (next < ZD_PT_PTE && a->pt[next].folded)
		next++;
	return (zd_pte_t){ _PAGE_PRESENT | (phys & ~TABLE_MASKED_BITS) | a->pt[next].index_bits };
}

static uint64_t ppc64_table_phys(const struct zd_arch *a, zd_pte_t e)
{
	return e.val & ~TABLE_MASKED_BITS;
}

static bool ppc64_is_table(const struct zd_arch *a, zd_pte_t e)
{
	return (e.val & (_PAGE_PRESENT | _PAGE_PTE)) == _PAGE_PRESENT;
}

/* ptdump (arch/powerpc/mm/ptdump/ptdump.c and book3s64.c's flag_array,
 * 64K pages): a run compares only the bits the flags test (their masks'
 * union); each flag prints its set or clear word after two spaces, and a
 * flag with no clear word prints nothing when clear. The hash-MMU flags
 * are tested on radix too, as the kernel's table does. */
#define H_PAGE_HASHPTE  ZD_BIT(55)   /* _RPAGE_RPN43 */
#define H_PAGE_BUSY     0x00040ULL   /* _RPAGE_RSV1 */
#define H_PAGE_COMBO    0x01000ULL   /* _RPAGE_RPN0 */
#define H_PAGE_4K_PFN   0x02000ULL   /* _RPAGE_RPN1 */
#define _PAGE_TOLERANT  0x00030ULL

static const struct { uint64_t mask, val; const char *set, *clear; } ppc64_flags[] = {
	{ _PAGE_PRIVILEGED, 0, "user", "    " },
	{ _PAGE_READ, _PAGE_READ, "r", " " },
	{ _PAGE_WRITE, _PAGE_WRITE, "w", " " },
	{ _PAGE_EXEC, _PAGE_EXEC, " X ", "   " },
	{ _PAGE_PTE, _PAGE_PTE, "pte", "   " },
	{ _PAGE_PRESENT, _PAGE_PRESENT, "valid", "     " },
	{ _PAGE_PRESENT | _PAGE_INVALID, 0, "       ", "present" },
	{ H_PAGE_HASHPTE, H_PAGE_HASHPTE, "hpte", "    " },
	{ _PAGE_DIRTY, _PAGE_DIRTY, "dirty", "     " },
	{ _PAGE_ACCESSED, _PAGE_ACCESSED, "accessed", "        " },
	{ _PAGE_NON_IDEMPOTENT, _PAGE_NON_IDEMPOTENT, "non-idempotent", "              " },
	{ _PAGE_TOLERANT, _PAGE_TOLERANT, "tolerant", "        " },
	{ H_PAGE_BUSY, H_PAGE_BUSY, "busy", NULL },
	{ H_PAGE_COMBO, H_PAGE_COMBO, "combo", NULL },
	{ H_PAGE_4K_PFN, H_PAGE_4K_PFN, "4K_pfn", NULL },
	{ _PAGE_SPECIAL, _PAGE_SPECIAL, "special", NULL },
};

static uint64_t ppc64_ptdump_prot(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t e)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < sizeof(ppc64_flags) / sizeof(ppc64_flags[0]); i++)
		mask |= ppc64_flags[i].mask;
	return e.val & mask;
}

static void ppc64_ptdump_line(FILE *f, enum zd_pt_level level, uint64_t start, uint64_t end,
			      uint64_t pa, uint64_t prot)
{
	static const char units[] = "KMGTPE";
	const char *unit = units;
	uint64_t size = (end - start) >> 10;

	if (!prot)
		return;   /* note_page prints only runs with flags */
	while (!(size & 1023) && unit[1]) {
		size >>= 10;
		unit++;
	}
	fprintf(f, "0x%016llx-0x%016llx  0x%016llx %9llu%c ", (unsigned long long)start,
		(unsigned long long)(end - 1), (unsigned long long)pa, (unsigned long long)size,
		*unit);
	for (size_t i = 0; i < sizeof(ppc64_flags) / sizeof(ppc64_flags[0]); i++) {
		const char *s = (prot & ppc64_flags[i].mask) == ppc64_flags[i].val ?
				ppc64_flags[i].set : ppc64_flags[i].clear;

		if (s)
			fprintf(f, "  %s", s);
	}
	fputc('\n', f);
}

const struct zd_pgtable_ops zd_pgtable_ops_ppc64_radix = {
	.name = "ppc64-radix",
	.big_endian = true,
	.geometry = ppc64_geometry,
	.ptep_get = ppc64_ptep_get,
	.set_pte = ppc64_set_pte,
	.ptep_get_and_clear = ppc64_ptep_get_and_clear,
	.ptep_cmpxchg = ppc64_ptep_cmpxchg,
	.mk_leaf = ppc64_mk_leaf,
	.leaf_prot = ppc64_leaf_prot,
	.leaf_pfn = ppc64_leaf_pfn,
	.max_pfn = ppc64_max_pfn,
	.pte_none = ppc64_pte_none,
	.pte_present = ppc64_pte_present,
	.pmd_present = ppc64_pmd_present,
	.pte_protnone = ppc64_pte_protnone,
	.pmd_mkhuge = ppc64_pmd_mkhuge,
	.pud_mkhuge = ppc64_pmd_mkhuge,   /* radix__pud_mkhuge sets _PAGE_PTE too */
	.pmd_leaf = ppc64_pmd_leaf,
	.pud_leaf = ppc64_pmd_leaf,       /* pud_leaf(): _PAGE_PTE as well */
	.mk_table = ppc64_mk_table,
	.table_phys = ppc64_table_phys,
	.is_table = ppc64_is_table,
	.swp_entry_to_pte = ppc64_swp_entry_to_pte,
	.swp_type = ppc64_swp_type,
	.swp_offset = ppc64_swp_offset,
	.is_swap_pte = ppc64_is_swap_pte,
	.swp_type_bits = SWP_TYPE_BITS,
	.swp_offset_bits = _PAGE_PA_MAX - 16,   /* PTE_RPN_MASK >> PAGE_SHIFT: 37 */
	.swp_exclusive = _PAGE_SWP_EXCLUSIVE,
	.swp_soft_dirty = _PAGE_SWP_SOFT_DIRTY,
	.swp_uffd_wp = 0,                       /* no uffd-wp on ppc64 */
	.ptdump_prot = ppc64_ptdump_prot,
	.ptdump_line = ppc64_ptdump_line,
};
