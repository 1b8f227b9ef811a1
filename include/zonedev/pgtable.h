/*
 * Page-table entries and geometry, per architecture profile: the formats
 * the kernel's arch/<arch>/include/asm/pgtable*.h define, bit for bit, so a
 * table the model builds holds exactly the words the profile's kernel would
 * write, and the largest pfn or swap offset an entry holds is the real one.
 *
 * Invariants:
 *  - zd_pte_t.val is the kernel's pte_val(): the entry as a number, the
 *    arch's masks apply to it. How it sits in memory is the ops' business:
 *    x86_64 and arm64 (little-endian kernels) store it little-endian; ppc64
 *    Book3S stores every level big-endian whatever the kernel's endianness
 *    (pte_raw() is __be64). Table memory is only touched through the ops'
 *    ptep_get/set_pte/ptep_get_and_clear/ptep_cmpxchg, never as a plain
 *    uint64_t, so a ppc64 table's bytes are the hardware's.
 *  - One entry type serves every level (the kernel's pte_t/pmd_t/pud_t/
 *    p4d_t/pgd_t are the same 64-bit word on all three arches); functions
 *    that differ per level take an enum zd_pt_level.
 *  - Prot bits are given in the neutral ZD_PTE_* form and mapped to the
 *    arch's bits by the ops the way the kernel's protection_map and
 *    pte_mk*() helpers map them; what an arch cannot express (x86 has no
 *    execute-only or write-only page) comes back as the kernel would have
 *    made it, not as asked.
 *  - A pfn or swap offset wider than the field is cut to the field (the
 *    kernel masks with PTE_PFN_MASK / PHYS_TO_PTE_ADDR_MASK / PTE_RPN_MASK),
 *    never spilled into flag bits; so max_pfn + 1 does not round-trip.
 *
 * The geometry (levels, shifts, entries per table) lives in struct zd_arch
 * (arch.h), filled from the ops' geometry() by zd_arch_derive().
 */
#ifndef ZONEDEV_PGTABLE_H
#define ZONEDEV_PGTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_arch;

/* pte_t / pmd_t / pud_t / p4d_t / pgd_t: pte_val(), CPU order. */
typedef struct { uint64_t val; } zd_pte_t;

/* Levels in walk order, numbered as the generic ptdump numbers them. */
enum zd_pt_level {
	ZD_PT_PGD,
	ZD_PT_P4D,
	ZD_PT_PUD,
	ZD_PT_PMD,
	ZD_PT_PTE,
	ZD_PT_NR_LEVELS,
};

/* One level of the tree (PGDIR_SHIFT/PTRS_PER_PGD, ..., PAGE_SHIFT/PTRS_PER_PTE). */
struct zd_pt_geom {
	unsigned shift;        /* *_SHIFT: log2 of what one entry maps */
	unsigned index_bits;   /* *_INDEX_SIZE: log2 of PTRS_PER_*; 0 when folded */
	uint64_t ptrs;         /* PTRS_PER_* (1 when folded) */
	uint64_t table_size;   /* bytes of one table (0 when folded: no table of its
				* own); below PAGE_SIZE for ppc64's PTE fragments and
				* small arm64 PGDs */
	bool folded;           /* asm-generic/pgtable-nop4d.h, -nopud.h, -nopmd.h */
	bool leaf;             /* an entry here may map memory: PTE always; PMD/PUD
				* where the arch has huge leaves (x86 PSE, arm64
				* blocks, ppc64 radix _PAGE_PTE) */
};

/* Neutral protection: what pfn_pte() is given as pgprot_t and what
 * pte_read/write/exec/user/young/dirty/special() report. */
enum {
	ZD_PTE_READ    = 1u << 0,
	ZD_PTE_WRITE   = 1u << 1,
	ZD_PTE_EXEC    = 1u << 2,
	ZD_PTE_USER    = 1u << 3,  /* EL0 / user mode may access (x86 _PAGE_USER,
				    * arm64 user mappings, ppc64 !_PAGE_PRIVILEGED) */
	ZD_PTE_YOUNG   = 1u << 4,  /* accessed */
	ZD_PTE_DIRTY   = 1u << 5,
	ZD_PTE_SPECIAL = 1u << 6,  /* pte_special(): no struct page refcounting */
};
#define ZD_PTE_RWX (ZD_PTE_READ | ZD_PTE_WRITE | ZD_PTE_EXEC)

struct zd_pgtable_ops {
	const char *name;
	bool big_endian;       /* entries are stored big-endian (ppc64 Book3S) */

	/* Fills a->pgtable_levels, a->pgtable_va_bits and a->pt[] from the
	 * profile's page_shift and va_bits (CONFIG_PGTABLE_LEVELS). */
	void (*geometry)(struct zd_arch *a);

	/* READ_ONCE / WRITE_ONCE / xchg / cmpxchg of one slot of table memory,
	 * in the arch's byte order. Stores release and loads acquire, so a
	 * lockless walker that sees an entry sees the table it points to. */
	zd_pte_t (*ptep_get)(const uint64_t *ptep);
	void (*set_pte)(uint64_t *ptep, zd_pte_t pte);
	zd_pte_t (*ptep_get_and_clear)(uint64_t *ptep);
	/* true and stores new if *ptep was *old; else false with *old updated. */
	bool (*ptep_cmpxchg)(uint64_t *ptep, zd_pte_t *old, zd_pte_t new_pte);

	/* pfn_pte(pfn, prot) at ZD_PT_PTE; pmd_mkhuge(pfn_pmd()) at ZD_PT_PMD,
	 * pud_mkhuge(pfn_pud()) at ZD_PT_PUD. prot is ZD_PTE_*; no R/W/X gives
	 * the arch's PAGE_NONE (present to the kernel, pte_protnone()). */
	zd_pte_t (*mk_leaf)(const struct zd_arch *a, enum zd_pt_level level, uint64_t pfn,
			    unsigned prot);
	/* pte_read|write|exec|user|young|dirty|special() of a present leaf, as
	 * ZD_PTE_* bits. */
	unsigned (*leaf_prot)(const struct zd_arch *a, zd_pte_t pte);
	/* pte_pfn / pmd_pfn / pud_pfn of a present leaf. */
	uint64_t (*leaf_pfn)(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t pte);
	/* The largest pfn a PTE-level leaf holds (the width of its pfn field). */
	uint64_t (*max_pfn)(const struct zd_arch *a);

	bool (*pte_none)(const struct zd_arch *a, zd_pte_t pte);
	bool (*pte_present)(const struct zd_arch *a, zd_pte_t pte);
	bool (*pmd_present)(const struct zd_arch *a, zd_pte_t pmd);
	bool (*pte_protnone)(const struct zd_arch *a, zd_pte_t pte);
	zd_pte_t (*pmd_mkhuge)(const struct zd_arch *a, zd_pte_t pmd);
	zd_pte_t (*pud_mkhuge)(const struct zd_arch *a, zd_pte_t pud);
	bool (*pmd_leaf)(const struct zd_arch *a, zd_pte_t pmd);
	bool (*pud_leaf)(const struct zd_arch *a, zd_pte_t pud);

	/* Table pointers: the entry at level (PGD..PMD) that points at the
	 * next level's table at physical address phys (pmd_populate,
	 * pud_populate, p4d/pgd_populate for a user mm), its table's address
	 * (pmd_page_vaddr's __pa) and whether an entry is one (pmd_table /
	 * present and not a leaf). */
	zd_pte_t (*mk_table)(const struct zd_arch *a, enum zd_pt_level level, uint64_t phys);
	uint64_t (*table_phys)(const struct zd_arch *a, zd_pte_t e);
	bool (*is_table)(const struct zd_arch *a, zd_pte_t e);

	/* Non-present entries: __swp_entry_to_pte(__swp_entry(type, offset)),
	 * __swp_type(), __swp_offset() (type and offset cut to their fields),
	 * and is_swap_pte() = !pte_none && !pte_present. */
	zd_pte_t (*swp_entry_to_pte)(const struct zd_arch *a, unsigned type, uint64_t offset);
	unsigned (*swp_type)(const struct zd_arch *a, zd_pte_t pte);
	uint64_t (*swp_offset)(const struct zd_arch *a, zd_pte_t pte);
	bool (*is_swap_pte)(const struct zd_arch *a, zd_pte_t pte);
	unsigned swp_type_bits;    /* 5 everywhere: MAX_SWAPFILES_SHIFT fits */
	unsigned swp_offset_bits;  /* the offset field: largest offset 2^bits - 1 */
	/* Flag bits a swap pte carries beside the entry (pte_swp_mkexclusive,
	 * pte_swp_mksoft_dirty, pte_swp_mkuffd_wp); 0 where the arch has none. */
	uint64_t swp_exclusive, swp_soft_dirty, swp_uffd_wp;

	/* ptdump (arch/<arch>/mm/ptdump.c): the level names the dump prints,
	 * whether the name leads the flags (arm64) or ends the line (x86);
	 * an entry's flags as a run compares them (the entry without its
	 * address bits) and as fields; NULL where the arch has no format. */
	const char *ptdump_level[ZD_PT_NR_LEVELS];
	bool ptdump_level_first;
	uint64_t (*ptdump_prot)(const struct zd_arch *a, enum zd_pt_level level, zd_pte_t e);
	void (*ptdump_flags)(enum zd_pt_level level, uint64_t prot, char *buf, size_t len);
	/* An arch whose lines differ in shape (ppc64: inclusive end, the
	 * run's first physical address, no level name, empty runs unprinted)
	 * prints the whole line itself; pa is the run's first leaf's. */
	void (*ptdump_line)(FILE *f, enum zd_pt_level level, uint64_t start, uint64_t end,
			    uint64_t pa, uint64_t prot);
};

/* One table per format; the x86 table serves 4- and 5-level paging (va_bits
 * picks), the arm64 table every granule (page_shift picks). */
extern const struct zd_pgtable_ops zd_pgtable_ops_x86_64;
extern const struct zd_pgtable_ops zd_pgtable_ops_arm64;
extern const struct zd_pgtable_ops zd_pgtable_ops_ppc64_radix;

#ifdef __cplusplus
}
#endif

#endif
