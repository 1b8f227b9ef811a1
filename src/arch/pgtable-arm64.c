/*
 * arm64 page-table entries for the 4K, 16K and 64K granules, stage 1, a
 * little-endian kernel without FEAT_LPA2 (PTE_SHARED in bits 8-9). Bits
 * from arch/arm64/include/asm/pgtable-hwdef.h, pgtable-prot.h and
 * pgtable.h as of v6.10+ (PTE_PRESENT_INVALID, the v6.10 swap layout);
 * spec/pgtable.md §2b, §3b.
 *
 * Invariants:
 *  - Levels follow ARM64_HW_PGTABLE_LEVELS(va_bits) for the granule, so a
 *    machine's va_bits (36..52) changes the tree; a folded PUD/PMD takes
 *    the PGD's shift.
 *  - PTE_WRITE is PTE_DBM: a writable clean leaf is PTE_RDONLY|PTE_WRITE
 *    and hardware (or the fault path) clears PTE_RDONLY to dirty it; dirty
 *    is PTE_DIRTY || (PTE_WRITE && !PTE_RDONLY).
 *  - A leaf at PMD/PUD has bits[1:0] = 01 (block); one at PTE level 11.
 *  - PAGE_NONE is "present invalid": PTE_VALID clear, PTE_NG (which is
 *    PTE_PRESENT_INVALID while !VALID) set, user access and execute off.
 */
#include <zonedev/arch.h>
#include <stdio.h>
#include "arch/pgtable-internal.h"

#define PTE_VALID           ZD_BIT(0)
#define PTE_TABLE_BIT       ZD_BIT(1)
#define PTE_TYPE_MASK       (PTE_VALID | PTE_TABLE_BIT)
#define PTE_TYPE_PAGE       PTE_TYPE_MASK   /* also PMD_TYPE_TABLE */
#define PMD_TYPE_SECT       PTE_VALID       /* block */
#define PTE_USER            ZD_BIT(6)       /* AP[1] */
#define PTE_RDONLY          ZD_BIT(7)       /* AP[2] */
#define PTE_SHARED          (3ULL << 8)     /* SH[1:0]: inner shareable */
#define PTE_AF              ZD_BIT(10)
#define PTE_NG              ZD_BIT(11)
#define PTE_PRESENT_INVALID PTE_NG          /* only while !PTE_VALID */
#define PTE_DBM             ZD_BIT(51)
#define PTE_WRITE           PTE_DBM
#define PTE_PXN             ZD_BIT(53)
#define PTE_UXN             ZD_BIT(54)
#define PTE_DIRTY           ZD_BIT(55)      /* software */
#define PTE_SPECIAL         ZD_BIT(56)      /* software */

/* Output address. PTE_ADDR_LOW runs from PAGE_SHIFT to bit 49 since the
 * LPA2 work (v6.9); without FEAT_LPA2 the CPU treats bits 48-49 of a 4K or
 * 16K descriptor as RES0, but the kernel's pfn_pte()/pte_pfn() round-trip
 * them, and that is what is modelled. With 64K pages PA[51:48] also go in
 * bits 15:12 (PTE_ADDR_HIGH, shift 36): the FEAT_LPA format, which the
 * kernel uses for 64K unconditionally since the 48-bit PA option went
 * (A. Biesheuvel, "Drop configurable 48-bit physical address space limit",
 * v6.14). */
#define PTE_ADDR_TOP        49
#define PTE_ADDR_HIGH       (0xfULL << 12)
#define PTE_ADDR_HIGH_SHIFT 36

/* Swap entries (pgtable.h, v6.10+): type 6..10, offset 12..61; bits 0-1
 * and 11 stay clear so the entry is neither valid nor present-invalid. */
#define __SWP_TYPE_SHIFT    6
#define __SWP_TYPE_BITS     5
#define __SWP_OFFSET_SHIFT  12
#define __SWP_OFFSET_BITS   50
#define PTE_SWP_EXCLUSIVE   ZD_BIT(2)
#define PTE_SWP_UFFD_WP     ZD_BIT(3)

ZD_PTEP_ACCESSORS(arm64, htole64, le64toh)

static void arm64_geometry(struct zd_arch *a)
{
	unsigned bits_per_level = a->page_shift - 3;
	unsigned bits[ZD_PT_NR_LEVELS] = { 0 };
	/* ARM64_HW_PGTABLE_LEVELS(va_bits) = (va_bits - 4) / (PAGE_SHIFT - 3),
	 * which is the Kconfig default of PGTABLE_LEVELS for each VA size. */
	unsigned levels = a->va_bits > 4 ? (a->va_bits - 4) / bits_per_level : 0;
	unsigned below_pgd;

	if (levels < 2)
		levels = 2;
	if (levels > 5)
		levels = 5;
	bits[ZD_PT_PTE] = bits_per_level;
	if (levels >= 3)
		bits[ZD_PT_PMD] = bits_per_level;
	if (levels >= 4)
		bits[ZD_PT_PUD] = bits_per_level;
	if (levels >= 5)
		bits[ZD_PT_P4D] = bits_per_level;
	/* PTRS_PER_PGD = 1 << (VA_BITS - PGDIR_SHIFT) */
	below_pgd = a->page_shift + (levels - 1) * bits_per_level;
	bits[ZD_PT_PGD] = a->va_bits > below_pgd ? a->va_bits - below_pgd : 0;
	zd_pt_geometry_set(a, bits);
	a->pt[ZD_PT_PMD].leaf = true;
	/* pud_sect_supported(): level-1 blocks only with 4K pages. */
	a->pt[ZD_PT_PUD].leaf = a->page_shift == 12 && levels >= 3;
}

static uint64_t addr_low(const struct zd_arch *a)
{
	return ZD_GENMASK(PTE_ADDR_TOP, a->page_shift);
}

/* __phys_to_pte_val() */
static uint64_t phys_to_pte_val(const struct zd_arch *a, uint64_t phys)
{
	if (a->page_shift == 16)
		return (phys | phys >> PTE_ADDR_HIGH_SHIFT) & (addr_low(a) | PTE_ADDR_HIGH);
	return phys & addr_low(a);
}

/* __pte_to_phys() */
static uint64_t pte_to_phys(const struct zd_arch *a, uint64_t val)
{
	uint64_t phys = val & addr_low(a);

	if (a->page_shift == 16)
		phys |= (val & PTE_ADDR_HIGH) << PTE_ADDR_HIGH_SHIFT;
	return phys;
}

static zd_pte_t arm64_pmd_mkhuge(const struct zd_arch *a, zd_pte_t pmd)
{
	return (zd_pte_t){ pmd.val & ~PTE_TABLE_BIT };
}

static zd_pte_t arm64_mk_leaf(const struct zd_arch *a, enum zd_pt_level level, uint64_t pfn,
			      unsigned prot)
{
	/* _PROT_DEFAULT (PTE_TYPE_PAGE | PTE_AF | PTE_SHARED) with MT_NORMAL
	 * (AttrIndx 0); PTE_AF follows ZD_PTE_YOUNG. */
	uint64_t v = PTE_TYPE_PAGE | PTE_SHARED;
	bool user = prot & ZD_PTE_USER;

	if (prot & ZD_PTE_YOUNG)
		v |= PTE_AF;
	if (!(prot & ZD_PTE_RWX)) {
		/* PAGE_NONE (v6.10+) */
		v &= ~PTE_VALID;
		v |= PTE_PRESENT_INVALID | PTE_RDONLY | PTE_PXN | PTE_UXN;
	} else if (user) {
		/* The user protection_map entries: non-global, never
		 * privileged-executable; PTE_USER gives EL0 read, so an
		 * execute-only leaf (PAGE_EXECONLY) goes without it. */
		v |= PTE_NG | PTE_PXN;
		if (prot & (ZD_PTE_READ | ZD_PTE_WRITE))
			v |= PTE_USER;
		if (!(prot & ZD_PTE_EXEC))
			v |= PTE_UXN;
	} else {
		/* PAGE_KERNEL*: never user-executable. */
		v |= PTE_UXN;
		if (!(prot & ZD_PTE_EXEC))
			v |= PTE_PXN;
	}
	/* The DBM table: RDONLY stays set unless writable and dirty. */
	if ((prot & ZD_PTE_RWX) && (prot & ZD_PTE_WRITE))
		v |= PTE_WRITE;
	if (prot & ZD_PTE_DIRTY)
		v |= PTE_DIRTY;
	if (!((v & PTE_WRITE) && (prot & ZD_PTE_DIRTY)))
		v |= PTE_RDONLY;
	if (prot & ZD_PTE_SPECIAL)
		v |= PTE_SPECIAL;
	/* pfn_pmd() does not align the pfn; pmd_pfn() does (below). */
	v |= phys_to_pte_val(a, pfn << a->page_shift);
	if (level != ZD_PT_PTE)
		v = arm64_pmd_mkhuge(a, (zd_pte_t){ v }).val;
	return (zd_pte_t){ v };
}

static bool present_invalid(uint64_t v)
{
	return (v & (PTE_VALID | PTE_PRESENT_INVALID)) == PTE_PRESENT_INVALID;
}

static bool arm64_pte_present(const struct zd_arch *a, zd_pte_t pte)
{
	return (pte.val & PTE_VALID) || present_invalid(pte.val);
}

static bool arm64_pte_protnone(const struct zd_arch *a, zd_pte_t pte)
{
	/* !pte_user() && !pte_user_exec(): pmd_mkinvalid() during a THP split
	 * is present-invalid too, but keeps its permissions. */
	return present_invalid(pte.val) && !(pte.val & PTE_USER) && (pte.val & PTE_UXN);
}

static unsigned arm64_leaf_prot(const struct zd_arch *a, zd_pte_t pte)
{
	uint64_t v = pte.val;
	unsigned prot = 0;

	if (!arm64_pte_protnone(a, pte)) {
		/* Kernel leaves always have UXN (pte_valid_not_user()), so a
		 * clear UXN marks a user execute-only leaf. */
		bool user = (v & PTE_USER) || !(v & PTE_UXN);

		if (user) {
			prot |= ZD_PTE_USER;
			if (v & PTE_USER)
				prot |= ZD_PTE_READ;
			if (!(v & PTE_UXN))
				prot |= ZD_PTE_EXEC;
		} else {
			prot |= ZD_PTE_READ;
			if (!(v & PTE_PXN))
				prot |= ZD_PTE_EXEC;
		}
	}
	if (v & PTE_WRITE)
		prot |= ZD_PTE_WRITE;
	if ((v & PTE_DIRTY) || ((v & PTE_WRITE) && !(v & PTE_RDONLY)))
		prot |= ZD_PTE_DIRTY;
	if (v & PTE_AF)
		prot |= ZD_PTE_YOUNG;
	if (v & PTE_SPECIAL)
		prot |= ZD_PTE_SPECIAL;
	return prot;
}

/* pte_pfn(); pmd_pfn() and pud_pfn() round down to the block. */
static uint64_t arm64_leaf_pfn(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t pte)
{
	uint64_t phys = pte_to_phys(a, pte.val);

	return (phys & ~((1ULL << a->pt[level].shift) - 1)) >> a->page_shift;
}

static uint64_t arm64_max_pfn(const struct zd_arch *a)
{
	unsigned pa_bits = a->page_shift == 16 ? 52 : PTE_ADDR_TOP + 1;

	return (1ULL << (pa_bits - a->page_shift)) - 1;
}

static bool arm64_pte_none(const struct zd_arch *a, zd_pte_t pte)
{
	return !pte.val;
}

static bool arm64_pmd_leaf(const struct zd_arch *a, zd_pte_t pmd)
{
	return arm64_pte_present(a, pmd) && (pmd.val & PTE_TYPE_MASK) != PTE_TYPE_PAGE;
}

/* pud_table() is constant true with 64K pages or under 3 levels, and
 * pud_leaf() false when the PMD is folded. */
static bool arm64_pud_leaf(const struct zd_arch *a, zd_pte_t pud)
{
	if (a->page_shift == 16 || a->pgtable_levels < 3)
		return false;
	return arm64_pte_present(a, pud) && (pud.val & PTE_TYPE_MASK) != PTE_TYPE_PAGE;
}

static zd_pte_t arm64_swp_entry_to_pte(const struct zd_arch *a, unsigned type, uint64_t offset)
{
	uint64_t t = type & ((1u << __SWP_TYPE_BITS) - 1);
	uint64_t o = offset & ((1ULL << __SWP_OFFSET_BITS) - 1);

	return (zd_pte_t){ t << __SWP_TYPE_SHIFT | o << __SWP_OFFSET_SHIFT };
}

static unsigned arm64_swp_type(const struct zd_arch *a, zd_pte_t pte)
{
	return (unsigned)(pte.val >> __SWP_TYPE_SHIFT) & ((1u << __SWP_TYPE_BITS) - 1);
}

static uint64_t arm64_swp_offset(const struct zd_arch *a, zd_pte_t pte)
{
	return (pte.val >> __SWP_OFFSET_SHIFT) & ((1ULL << __SWP_OFFSET_BITS) - 1);
}

static bool arm64_is_swap_pte(const struct zd_arch *a, zd_pte_t pte)
{
	return !arm64_pte_none(a, pte) && !arm64_pte_present(a, pte);
}

/* *_TYPE_TABLE | *_TABLE_PXN (pgalloc.h's __pmd_populate and friends for a
 * user mm): no kernel execution below a user table. Newer kernels may set
 * the table AF bit for FEAT_HAFT CPUs; the model's CPU has none. */
#define TABLE_PXN ZD_BIT(59)

static zd_pte_t arm64_mk_table(const struct zd_arch *a, enum zd_pt_level level, uint64_t phys)
{
	return (zd_pte_t){ phys_to_pte_val(a, phys) | PTE_TYPE_PAGE | TABLE_PXN };
}

static uint64_t arm64_table_phys(const struct zd_arch *a, zd_pte_t e)
{
	return pte_to_phys(a, e.val);
}

static bool arm64_is_table(const struct zd_arch *a, zd_pte_t e)
{
	return (e.val & PTE_TYPE_MASK) == PTE_TYPE_PAGE;
}

/* ptdump: the descriptor without its output address; the fields of
 * dump_prot()'s pte_bits table (each printed after a space), then the
 * memory type of AttrIndx (MT_NORMAL 0, _TAGGED 1, _NC 2, DEVICE_nGnRnE 3,
 * DEVICE_nGnRE 4). */
static uint64_t arm64_ptdump_prot(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t e)
{
	uint64_t out = a->pt[level].shift > a->page_shift ?
		       ZD_GENMASK(PTE_ADDR_TOP, a->pt[level].shift) : addr_low(a);

	return e.val & ~(out | (a->page_shift == 16 ? PTE_ADDR_HIGH : 0));
}

static void arm64_ptdump_flags(enum zd_pt_level level, uint64_t pr, char *buf, size_t len)
{
	static const char *const mt[] = { "MEM/NORMAL", "MEM/NORMAL-TAGGED", "MEM/NORMAL-NC",
					  "DEVICE/nGnRnE", "DEVICE/nGnRE" };
	unsigned attr = (unsigned)((pr >> 2) & 7);

	if (!pr) {
		buf[0] = 0;
		return;
	}
	snprintf(buf, len, " %s %s %s %s %s %s %s %s %s %s %s%s%s", pr & PTE_VALID ? " " : "F",
		 pr & PTE_USER ? "USR" : "   ", pr & PTE_RDONLY ? "ro" : "RW",
		 pr & PTE_PXN ? "NX" : "x ", (pr & PTE_SHARED) == PTE_SHARED ? "SHD" : "   ",
		 pr & PTE_AF ? "AF" : "  ", pr & PTE_NG ? "NG" : "  ",
		 pr & ZD_BIT(52) ? "CON" : "   ", pr & PTE_TABLE_BIT ? "   " : "BLK",
		 pr & PTE_UXN ? "UXN" : "   ", pr & ZD_BIT(50) ? "GP" : "  ",
		 attr < 5 ? " " : "", attr < 5 ? mt[attr] : "");
}

const struct zd_pgtable_ops zd_pgtable_ops_arm64 = {
	.name = "arm64",
	.big_endian = false,
	.geometry = arm64_geometry,
	.ptep_get = arm64_ptep_get,
	.set_pte = arm64_set_pte,
	.ptep_get_and_clear = arm64_ptep_get_and_clear,
	.ptep_cmpxchg = arm64_ptep_cmpxchg,
	.mk_leaf = arm64_mk_leaf,
	.leaf_prot = arm64_leaf_prot,
	.leaf_pfn = arm64_leaf_pfn,
	.max_pfn = arm64_max_pfn,
	.pte_none = arm64_pte_none,
	.pte_present = arm64_pte_present,
	.pmd_present = arm64_pte_present,   /* pmd_present(pmd) = pte_present(pmd_pte(pmd)) */
	.pte_protnone = arm64_pte_protnone,
	.pmd_mkhuge = arm64_pmd_mkhuge,
	.pud_mkhuge = arm64_pmd_mkhuge,     /* both clear the table bit */
	.pmd_leaf = arm64_pmd_leaf,
	.pud_leaf = arm64_pud_leaf,
	.mk_table = arm64_mk_table,
	.table_phys = arm64_table_phys,
	.is_table = arm64_is_table,
	.swp_entry_to_pte = arm64_swp_entry_to_pte,
	.swp_type = arm64_swp_type,
	.swp_offset = arm64_swp_offset,
	.is_swap_pte = arm64_is_swap_pte,
	.swp_type_bits = __SWP_TYPE_BITS,
	.swp_offset_bits = __SWP_OFFSET_BITS,
	.swp_exclusive = PTE_SWP_EXCLUSIVE,
	.ptdump_level = { "PGD", "P4D", "PUD", "PMD", "PTE" },
	.ptdump_level_first = true,
	.ptdump_prot = arm64_ptdump_prot,
	.ptdump_flags = arm64_ptdump_flags,
	.swp_soft_dirty = 0,                /* no HAVE_ARCH_SOFT_DIRTY */
	.swp_uffd_wp = PTE_SWP_UFFD_WP,
};
