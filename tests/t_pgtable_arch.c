/*
 * Page-table entry formats and geometry (src/arch/pgtable-*.c) against the
 * kernel's headers (spec/pgtable.md §1-3).
 *
 * Asserts, for every profile zd_arch_names() lists:
 *  - geometry: levels, per-level shift, PTRS_PER_*, table bytes, folded and
 *    leaf-capable levels equal a literal table; the levels translate
 *    exactly va_bits (x86: va_bits + 1, the PGD's kernel half);
 *    PMD_SHIFT/PUD_SHIFT agree; arm64 re-derives its level count when
 *    va_bits changes (4K/39 = 3, 4K/52 = 5, 16K/36 = 2 with PUD_SHIFT ==
 *    PMD_SHIFT, 16K/47 = 3, 64K/42 = 2, 64K/52 = 3);
 *  - prot bits: every combination of write/exec/user/young/dirty/special
 *    on a readable leaf round-trips at every leaf-capable level, each bit
 *    changes the entry, PROT_NONE is present and pte_protnone(), and what
 *    an arch cannot express comes back as the kernel makes it (x86 has no
 *    execute-only page; write implies read everywhere);
 *  - the pfn field: max_pfn is the literal field width, each pfn bit
 *    round-trips exactly when it is inside it, max_pfn round-trips and
 *    max_pfn + 1 does not and does not touch the flags (also PROT_NONE,
 *    whose pfn x86 stores inverted); huge leaves keep aligned pfns, and
 *    x86/arm64 pmd_pfn round an unaligned one down;
 *  - swap entries: every type and the largest offset round-trip, the
 *    largest + 1 and type 32 do not, each offset bit exactly inside the
 *    field; a swap pte is never present (at PTE or PMD level) and never
 *    none, except arm64's all-zero (type 0, offset 0) which is pte_none
 *    (the kernel never uses offset 0: the swap header); the swp flag bits
 *    are the kernel's and leave type and offset alone; x86 offsets are
 *    inverted, so an entry for offset < 2^37 has physical bits 46..51 set
 *    (L1TF: it never names real memory);
 *  - table pointers (the *_populate entries) round-trip their table's
 *    address, are tables and not leaves, with literal pointers from the
 *    headers (x86 _PAGE_TABLE, arm64 TYPE_TABLE|TABLE_PXN, ppc64 PRESENT|NLS);
 *  - literal entries worked out by hand from the headers (x86 pfn 0x1234
 *    RW user young dirty = 0x1234067 | NX, arm64 PAGE_SHARED dirtied,
 *    ppc64 PAGE_SHARED dirtied, swap entries, PMD/PUD leaves, PROT_NONE),
 *    so a wrong bit position fails;
 *  - memory: set_pte stores little-endian on x86/arm64 and big-endian on
 *    ppc64 (checked byte by byte), ptep_get reads it back, get_and_clear
 *    leaves 0, cmpxchg fails and reports the current value on a mismatch.
 * Why: the largest pfn or swap offset an entry holds, and the bits a
 * fault or GUP walk tests, are only the kernel's if every position is.
 */
#include <zonedev/zonedev.h>
#include <string.h>
#include "tap.h"

#define BIT(n) (1ULL << (n))

struct geom_expect {
	const char *name;
	unsigned va_bits;            /* 0: the profile's */
	unsigned levels;
	unsigned pgtable_va_bits;
	unsigned shift[ZD_PT_NR_LEVELS];
	unsigned bits[ZD_PT_NR_LEVELS];
	uint64_t table[ZD_PT_NR_LEVELS];
	bool pud_leaf;
	uint64_t max_pfn;
	unsigned swp_offset_bits;
};

/* spec/pgtable.md §1 (and RADIX_*_INDEX_SIZE, ARM64_HW_PGTABLE_LEVELS). */
static const struct geom_expect geoms[] = {
	{ "x86_64", 0, 4, 48, { 39, 39, 30, 21, 12 }, { 9, 0, 9, 9, 9 },
	  { 4096, 0, 4096, 4096, 4096 }, true, BIT(40) - 1, 50 },
	{ "x86_64-la57", 0, 5, 57, { 48, 39, 30, 21, 12 }, { 9, 9, 9, 9, 9 },
	  { 4096, 4096, 4096, 4096, 4096 }, true, BIT(40) - 1, 50 },
	{ "arm64-4k", 0, 4, 48, { 39, 39, 30, 21, 12 }, { 9, 0, 9, 9, 9 },
	  { 4096, 0, 4096, 4096, 4096 }, true, BIT(38) - 1, 50 },
	{ "arm64-16k", 0, 4, 48, { 47, 47, 36, 25, 14 }, { 1, 0, 11, 11, 11 },
	  { 16, 0, 16384, 16384, 16384 }, false, BIT(36) - 1, 50 },
	{ "arm64-64k", 0, 3, 48, { 42, 42, 42, 29, 16 }, { 6, 0, 0, 13, 13 },
	  { 512, 0, 0, 65536, 65536 }, false, BIT(36) - 1, 50 },
	{ "ppc64", 0, 4, 52, { 39, 39, 30, 21, 16 }, { 13, 0, 9, 9, 5 },
	  { 65536, 0, 4096, 4096, 256 }, true, BIT(37) - 1, 37 },
	/* arm64 va_bits variants (config PGTABLE_LEVELS defaults) */
	{ "arm64-4k", 39, 3, 39, { 30, 30, 30, 21, 12 }, { 9, 0, 0, 9, 9 },
	  { 4096, 0, 0, 4096, 4096 }, true, BIT(38) - 1, 50 },
	{ "arm64-4k", 52, 5, 52, { 48, 39, 30, 21, 12 }, { 4, 9, 9, 9, 9 },
	  { 128, 4096, 4096, 4096, 4096 }, true, BIT(38) - 1, 50 },
	{ "arm64-16k", 36, 2, 36, { 25, 25, 25, 25, 14 }, { 11, 0, 0, 0, 11 },
	  { 16384, 0, 0, 0, 16384 }, false, BIT(36) - 1, 50 },
	{ "arm64-16k", 47, 3, 47, { 36, 36, 36, 25, 14 }, { 11, 0, 0, 11, 11 },
	  { 16384, 0, 0, 16384, 16384 }, false, BIT(36) - 1, 50 },
	{ "arm64-64k", 42, 2, 42, { 29, 29, 29, 29, 16 }, { 13, 0, 0, 0, 13 },
	  { 65536, 0, 0, 0, 65536 }, false, BIT(36) - 1, 50 },
	{ "arm64-64k", 52, 3, 52, { 42, 42, 42, 29, 16 }, { 10, 0, 0, 13, 13 },
	  { 8192, 0, 0, 65536, 65536 }, false, BIT(36) - 1, 50 },
};
#define NGEOMS (sizeof(geoms) / sizeof(geoms[0]))

static const char *const lvl_name[ZD_PT_NR_LEVELS] = { "pgd", "p4d", "pud", "pmd", "pte" };

static struct zd_arch profile(const char *name, unsigned va_bits)
{
	struct zd_arch a = *zd_arch_find(name);

	if (va_bits) {
		a.va_bits = va_bits;
		zd_arch_derive(&a);
	}
	return a;
}

static bool is_x86(const struct zd_arch *a) { return a->family == ZD_ARCH_X86; }
static bool is_arm64(const struct zd_arch *a) { return a->family == ZD_ARCH_ARM64; }
static bool is_ppc64(const struct zd_arch *a) { return a->family == ZD_ARCH_PPC64; }

/* ---------- geometry ---------- */

static void check_geometry(const struct geom_expect *e)
{
	struct zd_arch a = profile(e->name, e->va_bits);
	char tag[48];
	unsigned covered = a.page_shift;

	snprintf(tag, sizeof(tag), "%s va%u", e->name, a.va_bits);
	is_int(a.pgtable_levels, e->levels, "%s: CONFIG_PGTABLE_LEVELS", tag);
	for (int l = 0; l < ZD_PT_NR_LEVELS; l++) {
		is_int(a.pt[l].shift, e->shift[l], "%s: %s shift", tag, lvl_name[l]);
		is_int(a.pt[l].index_bits, e->bits[l], "%s: %s index bits", tag, lvl_name[l]);
		is_u64(a.pt[l].ptrs, 1ULL << e->bits[l], "%s: PTRS_PER_%s", tag, lvl_name[l]);
		is_u64(a.pt[l].table_size, e->table[l], "%s: %s table bytes", tag, lvl_name[l]);
		ok(a.pt[l].folded == (l != ZD_PT_PGD && e->bits[l] == 0), "%s: %s folded: %d", tag,
		   lvl_name[l], a.pt[l].folded);
		covered += a.pt[l].index_bits;
	}
	/* a folded level maps what the level above it maps */
	for (int l = ZD_PT_P4D; l < ZD_PT_NR_LEVELS; l++)
		if (a.pt[l].folded)
			is_int(a.pt[l].shift, a.pt[l - 1].shift, "%s: folded %s shift is the %s's",
			       tag, lvl_name[l], lvl_name[l - 1]);
	ok(a.pt[ZD_PT_PTE].leaf && a.pt[ZD_PT_PMD].leaf && !a.pt[ZD_PT_P4D].leaf &&
	   !a.pt[ZD_PT_PGD].leaf, "%s: leaves at PTE and PMD, never at P4D/PGD", tag);
	ok(a.pt[ZD_PT_PUD].leaf == e->pud_leaf, "%s: PUD leaves: %d", tag, e->pud_leaf);
	is_int(a.pgtable_va_bits, e->pgtable_va_bits, "%s: the tree translates %u bits", tag,
	       e->pgtable_va_bits);
	is_int(covered, a.pgtable_va_bits, "%s: PAGE_SHIFT + index bits = translated bits", tag);
	is_int(a.pgtable_va_bits, a.va_bits + (is_x86(&a) ? 1 : 0),
	       "%s: the levels cover exactly va_bits%s", tag, is_x86(&a) ? " (+ kernel half)" : "");
	is_int(a.pmd_shift, e->shift[ZD_PT_PMD], "%s: PMD_SHIFT", tag);
	is_int(a.pud_shift, e->shift[ZD_PT_PUD], "%s: PUD_SHIFT", tag);
	is_int(zd_arch_validate(&a, NULL), 0, "%s: validates", tag);
	is_u64(a.pgtable->max_pfn(&a), e->max_pfn, "%s: max_pfn", tag);
	is_int(a.pgtable->swp_type_bits, 5, "%s: 5 swap type bits", tag);
	is_int(a.pgtable->swp_offset_bits, e->swp_offset_bits, "%s: swap offset bits", tag);
}

static void check_validate_mismatch(void)
{
	struct zd_arch a = profile("x86_64", 0);
	const char *why = NULL;

	a.pud_shift = 31;
	is_int(zd_arch_validate(&a, &why), -EINVAL, "validate refuses a PUD_SHIFT off the geometry");
	ok(why && strstr(why, "PUD_SHIFT"), "the reason names it (%s)", why ? why : "(null)");
	a = profile("x86_64", 0);
	a.pgtable = NULL;
	is_int(zd_arch_validate(&a, NULL), -EINVAL, "validate refuses a profile without a format");
}

/* ---------- prot bits ---------- */

static const unsigned flag_bits[] = { ZD_PTE_WRITE, ZD_PTE_EXEC, ZD_PTE_USER, ZD_PTE_YOUNG,
				      ZD_PTE_DIRTY, ZD_PTE_SPECIAL };
static const char *const flag_names[] = { "write", "exec", "user", "young", "dirty", "special" };
#define NFLAGS (sizeof(flag_bits) / sizeof(flag_bits[0]))

static void check_prot(const struct zd_arch *a, enum zd_pt_level lvl)
{
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t pfn = lvl == ZD_PT_PTE ? 0x1234 : 3ULL << (a->pt[lvl].shift - a->page_shift);
	const unsigned base = ZD_PTE_READ | ZD_PTE_USER | ZD_PTE_YOUNG;
	unsigned bad = ~0u, got = 0;
	zd_pte_t e;

	for (unsigned m = 0; m < 1u << NFLAGS; m++) {
		unsigned prot = ZD_PTE_READ;

		for (unsigned i = 0; i < NFLAGS; i++)
			if (m & (1u << i))
				prot |= flag_bits[i];
		e = o->mk_leaf(a, lvl, pfn, prot);
		if (o->leaf_prot(a, e) != prot || o->leaf_pfn(a, lvl, e) != pfn ||
		    !o->pte_present(a, e) || !o->pmd_present(a, e) || o->pte_none(a, e) ||
		    o->pte_protnone(a, e) || o->is_swap_pte(a, e)) {
			bad = prot;
			got = o->leaf_prot(a, e);
			break;
		}
	}
	ok(bad == ~0u, "%s %s: all 64 readable prot combinations round-trip (first bad 0x%x -> 0x%x)",
	   a->name, lvl_name[lvl], bad, got);
	for (unsigned i = 0; i < NFLAGS; i++) {
		zd_pte_t on = o->mk_leaf(a, lvl, pfn, base | flag_bits[i]);
		zd_pte_t off = o->mk_leaf(a, lvl, pfn, base & ~flag_bits[i]);

		ok((o->leaf_prot(a, on) & flag_bits[i]) && !(o->leaf_prot(a, off) & flag_bits[i]) &&
		   on.val != off.val, "%s %s: %s set and clear (0x%016llx / 0x%016llx)", a->name,
		   lvl_name[lvl], flag_names[i], (unsigned long long)on.val,
		   (unsigned long long)off.val);
	}
	/* PROT_NONE: present to the kernel, no access. */
	e = o->mk_leaf(a, lvl, pfn, ZD_PTE_USER | ZD_PTE_YOUNG);
	ok(o->pte_present(a, e) && o->pmd_present(a, e) && o->pte_protnone(a, e) &&
	   !o->pte_none(a, e) && !o->is_swap_pte(a, e) && !(o->leaf_prot(a, e) & ZD_PTE_RWX) &&
	   (o->leaf_prot(a, e) & ZD_PTE_YOUNG) && o->leaf_pfn(a, lvl, e) == pfn,
	   "%s %s: PROT_NONE is present, protnone, without R/W/X, pfn kept (0x%016llx)",
	   a->name, lvl_name[lvl], (unsigned long long)e.val);
	/* write-only becomes read-write everywhere */
	e = o->mk_leaf(a, lvl, pfn, ZD_PTE_WRITE | ZD_PTE_USER);
	is_int(o->leaf_prot(a, e) & ZD_PTE_RWX, ZD_PTE_READ | ZD_PTE_WRITE,
	       "%s %s: write-only comes back readable", a->name, lvl_name[lvl]);
	/* execute-only: arm64 (PAGE_EXECONLY) and ppc64 radix have it, x86 not */
	e = o->mk_leaf(a, lvl, pfn, ZD_PTE_EXEC | ZD_PTE_USER);
	is_int(o->leaf_prot(a, e) & (ZD_PTE_RWX | ZD_PTE_USER),
	       (is_x86(a) ? ZD_PTE_READ : 0) | ZD_PTE_EXEC | ZD_PTE_USER,
	       "%s %s: execute-only %s", a->name, lvl_name[lvl],
	       is_x86(a) ? "comes back readable" : "stays execute-only");
	ok(!o->pte_protnone(a, e), "%s %s: execute-only is not protnone", a->name, lvl_name[lvl]);
}

/* ---------- pfn field ---------- */

static void check_pfn(const struct zd_arch *a)
{
	const struct zd_pgtable_ops *o = a->pgtable;
	const unsigned prot = ZD_PTE_READ | ZD_PTE_WRITE | ZD_PTE_USER | ZD_PTE_YOUNG;
	uint64_t max = o->max_pfn(a), huge_pfn;
	int bad_bit = -1;
	zd_pte_t e;

	for (int b = 0; b < 64; b++) {
		e = o->mk_leaf(a, ZD_PT_PTE, 1ULL << b, prot);
		if ((o->leaf_pfn(a, ZD_PT_PTE, e) == 1ULL << b) != ((1ULL << b) <= max) ||
		    o->leaf_prot(a, e) != prot) {
			bad_bit = b;
			break;
		}
	}
	ok(bad_bit < 0, "%s: pfn bit b round-trips exactly when 2^b <= max_pfn, flags untouched "
	   "(first bad bit %d)", a->name, bad_bit);
	e = o->mk_leaf(a, ZD_PT_PTE, max, prot);
	is_u64(o->leaf_pfn(a, ZD_PT_PTE, e), max, "%s: max_pfn 0x%llx round-trips", a->name,
	       (unsigned long long)max);
	e = o->mk_leaf(a, ZD_PT_PTE, max + 1, prot);
	ok(o->leaf_pfn(a, ZD_PT_PTE, e) != max + 1, "%s: max_pfn + 1 does not round-trip", a->name);
	is_int(o->leaf_prot(a, e), prot, "%s: max_pfn + 1 leaves the flags alone", a->name);
	ok(o->pte_present(a, e), "%s: ... and the entry present", a->name);
	/* PROT_NONE (x86 stores the pfn inverted) */
	e = o->mk_leaf(a, ZD_PT_PTE, max, ZD_PTE_USER);
	is_u64(o->leaf_pfn(a, ZD_PT_PTE, e), max, "%s: PROT_NONE max_pfn round-trips", a->name);
	e = o->mk_leaf(a, ZD_PT_PTE, 0, ZD_PTE_USER);
	is_u64(o->leaf_pfn(a, ZD_PT_PTE, e), 0, "%s: PROT_NONE pfn 0 round-trips", a->name);
	e = o->mk_leaf(a, ZD_PT_PTE, max + 1, ZD_PTE_USER);
	ok(o->leaf_pfn(a, ZD_PT_PTE, e) != max + 1 && o->pte_protnone(a, e),
	   "%s: PROT_NONE max_pfn + 1 does not round-trip and stays protnone", a->name);

	/* huge leaves: the largest aligned pfn */
	for (int l = ZD_PT_PUD; l <= ZD_PT_PMD; l++) {
		uint64_t align = 1ULL << (a->pt[l].shift - a->page_shift);

		if (!a->pt[l].leaf)
			continue;
		huge_pfn = max & ~(align - 1);
		e = o->mk_leaf(a, l, huge_pfn, prot);
		is_u64(o->leaf_pfn(a, l, e), huge_pfn, "%s %s: the largest aligned pfn round-trips",
		       a->name, lvl_name[l]);
		ok(l == ZD_PT_PMD ? o->pmd_leaf(a, e) : o->pud_leaf(a, e), "%s %s: %s_leaf", a->name,
		   lvl_name[l], lvl_name[l]);
		e = o->mk_leaf(a, l, align + 1, prot);
		is_u64(o->leaf_pfn(a, l, e), is_ppc64(a) ? align + 1 : align,
		       "%s %s: an unaligned pfn %s", a->name, lvl_name[l],
		       is_ppc64(a) ? "is kept (pmd_pfn = pte_pfn)" : "rounds down to the block");
	}
}

/* ---------- swap entries ---------- */

static void check_swap(const struct zd_arch *a)
{
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t max_off = (1ULL << o->swp_offset_bits) - 1;
	unsigned ntypes = 1u << o->swp_type_bits;
	unsigned bad_type = ~0u;
	int bad_bit = -1;
	zd_pte_t e;

	for (unsigned t = 0; t < ntypes && bad_type == ~0u; t++) {
		const uint64_t offs[] = { 1, 0x1234, max_off };

		for (unsigned i = 0; i < 3; i++) {
			e = o->swp_entry_to_pte(a, t, offs[i]);
			/* x86 inverts the offset: type 0 with every offset bit
			 * set is the all-zero entry (checked below) */
			if (is_x86(a) && t == 0 && offs[i] == max_off)
				continue;
			if (o->swp_type(a, e) != t || o->swp_offset(a, e) != offs[i] ||
			    !o->is_swap_pte(a, e) || o->pte_present(a, e) || o->pmd_present(a, e) ||
			    o->pte_none(a, e) || o->pmd_leaf(a, e) != is_ppc64(a)) {
				bad_type = t;
				break;
			}
		}
	}
	/* ppc64 swap entries carry _PAGE_PTE, which pmd_leaf() reads; the
	 * kernel asks pmd_present() first. */
	ok(bad_type == ~0u, "%s: every type with offsets 1, 0x1234, max round-trips; never "
	   "present or none (first bad type %d)", a->name, (int)bad_type);
	e = o->swp_entry_to_pte(a, 3, max_off + 1);
	ok(o->swp_offset(a, e) != max_off + 1, "%s: offset 2^%u does not round-trip", a->name,
	   o->swp_offset_bits);
	is_int(o->swp_type(a, e), 3, "%s: ... and leaves the type alone", a->name);
	e = o->swp_entry_to_pte(a, ntypes, 5);
	ok(o->swp_type(a, e) != ntypes, "%s: type %u does not round-trip", a->name, ntypes);
	is_u64(o->swp_offset(a, e), 5, "%s: ... and leaves the offset alone", a->name);
	for (int b = 0; b < 64; b++) {
		e = o->swp_entry_to_pte(a, 1, 1ULL << b);
		if ((o->swp_offset(a, e) == 1ULL << b) != (b < (int)o->swp_offset_bits) ||
		    o->swp_type(a, e) != 1 || o->pte_present(a, e)) {
			bad_bit = b;
			break;
		}
	}
	ok(bad_bit < 0, "%s: offset bit b round-trips exactly when b < %u (first bad %d)", a->name,
	   o->swp_offset_bits, bad_bit);

	e = o->swp_entry_to_pte(a, 0, 0);
	if (is_arm64(a))
		ok(o->pte_none(a, e) && e.val == 0,
		   "arm64: swap type 0 offset 0 is the all-zero pte_none (offset 0 is never used)");
	else
		ok(o->is_swap_pte(a, e) && !o->pte_none(a, e) && !o->pte_present(a, e),
		   "%s: swap type 0 offset 0 is a swap pte", a->name);

	if (is_x86(a)) {
		/* generic_max_swapfile_size() is 2^50 pages here, so the kernel
		 * could in principle hand out this slot of swap type 0. */
		e = o->swp_entry_to_pte(a, 0, max_off);
		ok(e.val == 0 && o->pte_none(a, e),
		   "%s: swap type 0 offset 2^50-1 inverts to the all-zero pte_none", a->name);
		e = o->swp_entry_to_pte(a, 1, max_off);
		ok(o->swp_offset(a, e) == max_off && o->is_swap_pte(a, e),
		   "%s: type 1 keeps the largest offset a swap pte", a->name);
	}

	/* flag bits */
	{
		const uint64_t flags[] = { o->swp_exclusive, o->swp_soft_dirty, o->swp_uffd_wp };
		const char *names[] = { "exclusive", "soft-dirty", "uffd-wp" };
		uint64_t want[3];

		if (is_x86(a)) {
			want[0] = BIT(3), want[1] = BIT(1), want[2] = BIT(2);
		} else if (is_arm64(a)) {
			want[0] = BIT(2), want[1] = 0, want[2] = BIT(3);
		} else {
			want[0] = 0x20, want[1] = 0x200, want[2] = 0;
		}
		for (int i = 0; i < 3; i++) {
			is_u64(flags[i], want[i], "%s: swp %s bit", a->name, names[i]);
			if (!flags[i])
				continue;
			e = o->swp_entry_to_pte(a, 7, 0x1234);
			ok(!(e.val & flags[i]), "%s: swp %s bit is outside the entry", a->name, names[i]);
			e.val |= flags[i];
			ok(o->swp_type(a, e) == 7 && o->swp_offset(a, e) == 0x1234 &&
			   o->is_swap_pte(a, e), "%s: swp %s leaves type, offset and swap-ness", a->name,
			   names[i]);
		}
	}

	if (is_x86(a)) {
		const uint64_t offs[] = { 0, 1, 0x1234, BIT(30), BIT(37) - 1 };
		const uint64_t high = 0x000fc00000000000ULL;   /* physical bits 46..51 */
		bool all = true;

		for (unsigned i = 0; i < 5; i++) {
			e = o->swp_entry_to_pte(a, 0, offs[i]);
			all &= (e.val & high) == high && !o->pte_present(a, e);
		}
		ok(all, "%s: swap entries for offsets < 2^37 have physical bits 46..51 set (L1TF)",
		   a->name);
		e = o->swp_entry_to_pte(a, 0, 0);
		is_u64(e.val & 0x000ffffffffff000ULL, 0x000ffffffffff000ULL,
		       "%s: offset 0 has every pfn bit set (inverted)", a->name);
	}
}

/* ---------- literal encodings ---------- */

struct literal {
	const char *arch;
	const char *what;
	enum zd_pt_level lvl;
	uint64_t pfn;
	unsigned prot;
	uint64_t val;
};

#define RWUYD (ZD_PTE_READ | ZD_PTE_WRITE | ZD_PTE_USER | ZD_PTE_YOUNG | ZD_PTE_DIRTY)

/* Each value assembled by hand from the kernel's bit definitions. */
static const struct literal literals[] = {
	/* _PAGE_PRESENT|RW|USER|ACCESSED|DIRTY = 0x67, NX bit 63 */
	{ "x86_64", "pfn 0x1234 RW user young dirty exec", ZD_PT_PTE, 0x1234, RWUYD | ZD_PTE_EXEC,
	  0x0000000001234067ULL },
	{ "x86_64", "pfn 0x1234 RW user young dirty NX", ZD_PT_PTE, 0x1234, RWUYD,
	  0x8000000001234067ULL },
	{ "x86_64", "kernel RW young dirty NX", ZD_PT_PTE, 0x1234,
	  ZD_PTE_READ | ZD_PTE_WRITE | ZD_PTE_YOUNG | ZD_PTE_DIRTY, 0x8000000001234063ULL },
	{ "x86_64", "read-only user young special NX (SOFTW1 bit 9)", ZD_PT_PTE, 0x1234,
	  ZD_PTE_READ | ZD_PTE_USER | ZD_PTE_YOUNG | ZD_PTE_SPECIAL, 0x8000000001234225ULL },
	{ "x86_64", "PMD leaf 2M RW user young dirty NX (PSE)", ZD_PT_PMD, 0x200, RWUYD,
	  0x80000000002000e7ULL },
	{ "x86_64", "PUD leaf 1G RW user young dirty exec (PSE)", ZD_PT_PUD, 0x40000,
	  RWUYD | ZD_PTE_EXEC, 0x00000000400000e7ULL },
	/* PAGE_NONE = PROTNONE|ACCESSED, pfn inverted under PTE_PFN_MASK */
	{ "x86_64", "PROT_NONE young pfn 0x1234 (inverted)", ZD_PT_PTE, 0x1234,
	  ZD_PTE_USER | ZD_PTE_YOUNG, 0x000ffffffedcb120ULL },
	{ "x86_64-la57", "pfn 0x1234 RW user young dirty NX", ZD_PT_PTE, 0x1234, RWUYD,
	  0x8000000001234067ULL },
	/* PAGE_SHARED = TYPE_PAGE|AF|SHARED|USER|RDONLY|NG|PXN|UXN|WRITE(DBM);
	 * pte_mkdirty: +PTE_DIRTY(55), -RDONLY */
	{ "arm64-4k", "PAGE_SHARED dirtied, pfn 0x1234", ZD_PT_PTE, 0x1234, RWUYD,
	  0x00e8000001234f43ULL },
	/* PAGE_READONLY_EXEC = TYPE_PAGE|AF|SHARED|USER|RDONLY|NG|PXN */
	{ "arm64-4k", "PAGE_READONLY_EXEC young", ZD_PT_PTE, 0x1234,
	  ZD_PTE_READ | ZD_PTE_EXEC | ZD_PTE_USER | ZD_PTE_YOUNG, 0x0020000001234fc3ULL },
	/* PAGE_NONE = (_PAGE_DEFAULT & ~VALID)|PRESENT_INVALID(NG)|RDONLY|PXN|UXN */
	{ "arm64-4k", "PAGE_NONE young", ZD_PT_PTE, 0x1234, ZD_PTE_USER | ZD_PTE_YOUNG,
	  0x0060000001234f82ULL },
	/* PAGE_KERNEL = TYPE_PAGE|AF|SHARED|PXN|UXN|WRITE, hardware-dirty */
	{ "arm64-4k", "PAGE_KERNEL after pte_mkdirty", ZD_PT_PTE, 0x1234,
	  ZD_PTE_READ | ZD_PTE_WRITE | ZD_PTE_YOUNG | ZD_PTE_DIRTY, 0x00e8000001234703ULL },
	{ "arm64-4k", "PAGE_READONLY young special (bit 56)", ZD_PT_PTE, 0x1234,
	  ZD_PTE_READ | ZD_PTE_USER | ZD_PTE_YOUNG | ZD_PTE_SPECIAL, 0x0160000001234fc3ULL },
	{ "arm64-4k", "PMD block 2M PAGE_SHARED dirtied (bits[1:0] = 01)", ZD_PT_PMD, 0x200, RWUYD,
	  0x00e8000000200f41ULL },
	{ "arm64-16k", "PAGE_SHARED dirtied, pfn 0x1234", ZD_PT_PTE, 0x1234, RWUYD,
	  0x00e80000048d0f43ULL },
	/* 64K: PA[51:48] also in bits 15:12 (and PA[49:48] in 49:48) */
	{ "arm64-64k", "PAGE_SHARED dirtied, pfn 2^32 + 1 (PA bit 48)", ZD_PT_PTE,
	  (1ULL << 32) + 1, RWUYD, 0x00e9000000011f43ULL },
	{ "arm64-64k", "PAGE_SHARED dirtied, pfn 2^35 (PA bit 51)", ZD_PT_PTE, 1ULL << 35, RWUYD,
	  0x00e8000000008f43ULL },
	/* PAGE_SHARED = PRESENT|ACCESSED|RW, pfn_pte adds _PAGE_PTE, mkdirty C */
	{ "ppc64", "PAGE_SHARED dirtied, pfn 0x1234", ZD_PT_PTE, 0x1234, RWUYD,
	  0xc000000012340186ULL },
	{ "ppc64", "PAGE_KERNEL (PRIVILEGED|RW|DIRTY)", ZD_PT_PTE, 0x1234,
	  ZD_PTE_READ | ZD_PTE_WRITE | ZD_PTE_YOUNG | ZD_PTE_DIRTY, 0xc00000001234018eULL },
	{ "ppc64", "PAGE_EXECONLY_X young", ZD_PT_PTE, 0x1234, ZD_PTE_EXEC | ZD_PTE_USER | ZD_PTE_YOUNG,
	  0xc000000012340101ULL },
	{ "ppc64", "PAGE_READONLY young special (_RPAGE_SW2)", ZD_PT_PTE, 0x1234,
	  ZD_PTE_READ | ZD_PTE_USER | ZD_PTE_YOUNG | ZD_PTE_SPECIAL, 0xc000000012340504ULL },
	{ "ppc64", "PAGE_NONE young", ZD_PT_PTE, 0x1234, ZD_PTE_USER | ZD_PTE_YOUNG,
	  0xc000000012340100ULL },
	{ "ppc64", "PMD leaf 2M PAGE_SHARED dirtied", ZD_PT_PMD, 0x20, RWUYD, 0xc000000000200186ULL },
};

struct swp_literal {
	const char *arch;
	unsigned type;
	uint64_t offset;
	uint64_t val;
};

static const struct swp_literal swp_literals[] = {
	{ "x86_64", 0, 0, 0x07fffffffffffe00ULL },
	{ "x86_64", 1, 0x1234, 0x0fffffffffdb9600ULL },
	{ "x86_64", 31, 0, 0xfffffffffffffe00ULL },
	{ "x86_64-la57", 1, 0x1234, 0x0fffffffffdb9600ULL },
	{ "arm64-4k", 1, 0x1234, 0x0000000001234040ULL },
	{ "arm64-4k", 31, 0, 0x00000000000007c0ULL },
	{ "arm64-64k", 1, 1ULL << 49, 0x2000000000000040ULL },
	{ "ppc64", 1, 0x1234, 0x4000000012340001ULL },
	{ "ppc64", 31, (1ULL << 37) - 1, 0x401fffffffff001fULL },
};

static void check_literals(void)
{
	for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
		const struct literal *l = &literals[i];
		const struct zd_arch *a = zd_arch_find(l->arch);
		zd_pte_t e = a->pgtable->mk_leaf(a, l->lvl, l->pfn, l->prot);

		is_u64(e.val, l->val, "%s: %s = 0x%016llx", l->arch, l->what,
		       (unsigned long long)l->val);
	}
	for (size_t i = 0; i < sizeof(swp_literals) / sizeof(swp_literals[0]); i++) {
		const struct swp_literal *l = &swp_literals[i];
		const struct zd_arch *a = zd_arch_find(l->arch);
		zd_pte_t e = a->pgtable->swp_entry_to_pte(a, l->type, l->offset);

		is_u64(e.val, l->val, "%s: swap type %u offset 0x%llx = 0x%016llx", l->arch, l->type,
		       (unsigned long long)l->offset, (unsigned long long)l->val);
	}
}

/* ---------- huge leaves, pud_leaf rules ---------- */

static void check_huge(const struct zd_arch *a)
{
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t pmd_pfn = 1ULL << (a->pt[ZD_PT_PMD].shift - a->page_shift);
	zd_pte_t pte = o->mk_leaf(a, ZD_PT_PTE, pmd_pfn, RWUYD);
	zd_pte_t pmd = o->mk_leaf(a, ZD_PT_PMD, pmd_pfn, RWUYD);
	zd_pte_t none = { 0 };

	is_u64(o->pmd_mkhuge(a, pte).val, pmd.val, "%s: pmd_mkhuge(pfn_pmd) is the PMD leaf",
	       a->name);
	ok(o->pmd_leaf(a, pmd) && !o->pmd_leaf(a, none), "%s: pmd_leaf", a->name);
	ok(!o->pte_present(a, none) && o->pte_none(a, none) && !o->is_swap_pte(a, none),
	   "%s: the zero entry is none, not present, not swap", a->name);
	if (!is_ppc64(a))
		ok(!o->pmd_leaf(a, pte), "%s: a PTE-level leaf is no PMD leaf", a->name);
	{
		/* a PUD-shaped block, whatever the arch allows */
		uint64_t pud_pfn = 1ULL << (a->pt[ZD_PT_PUD].shift - a->page_shift);
		zd_pte_t pud = o->pud_mkhuge(a, o->mk_leaf(a, ZD_PT_PTE, pud_pfn, RWUYD));

		/* arm64's pud_table() is constant true with 64K pages or under
		 * 3 levels, and pud_leaf() false with a folded PMD; 16K 4-level
		 * reads the type bits although the kernel never makes such a
		 * block (pud_sect_supported() is 4K only). */
		bool want = is_arm64(a) ? a->page_shift != 16 && a->pgtable_levels >= 3 :
					  a->pt[ZD_PT_PUD].leaf;

		ok(o->pud_leaf(a, pud) == want, "%s: pud_leaf of a block is %d", a->name, want);
	}
	/* x86 pmd_present holds on PSE alone (a PMD being split) */
	if (is_x86(a)) {
		zd_pte_t split = { pmd.val & ~BIT(0) };

		ok(o->pmd_present(a, split) && !o->pte_present(a, split),
		   "x86: a PMD with PSE but not PRESENT is pmd_present (split), not pte_present");
	}
}

/* ---------- memory ---------- */

static void check_memory(const struct zd_arch *a)
{
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t slot[2] = { 0, 0 };
	zd_pte_t e = { 0x0123456789abcdefULL }, got, old;
	unsigned char bytes[8];
	bool order_ok = true;

	o->set_pte(&slot[0], e);
	memcpy(bytes, &slot[0], 8);
	for (int i = 0; i < 8; i++) {
		unsigned shift = o->big_endian ? 8 * (7 - i) : 8 * i;
		order_ok &= bytes[i] == (unsigned char)(e.val >> shift);
	}
	ok(order_ok, "%s: set_pte stores %s-endian (first byte 0x%02x)", a->name,
	   o->big_endian ? "big" : "little", bytes[0]);
	is_int(o->big_endian, is_ppc64(a), "%s: big-endian tables only on ppc64", a->name);
	is_u64(slot[1], 0, "%s: set_pte writes one slot", a->name);
	is_u64(o->ptep_get(&slot[0]).val, e.val, "%s: ptep_get reads it back", a->name);
	if (is_ppc64(a)) {
		zd_pte_t leaf = o->mk_leaf(a, ZD_PT_PTE, 0x1234, RWUYD);

		o->set_pte(&slot[0], leaf);
		memcpy(bytes, &slot[0], 8);
		ok(bytes[0] == 0xc0 && bytes[4] == 0x12 && bytes[5] == 0x34 && bytes[7] == 0x86,
		   "ppc64: a stored leaf starts with PRESENT|PTE (0xc0) in byte 0");
		o->set_pte(&slot[0], e);
	}
	old.val = e.val + 1;
	ok(!o->ptep_cmpxchg(&slot[0], &old, (zd_pte_t){ 7 }) && old.val == e.val &&
	   o->ptep_get(&slot[0]).val == e.val,
	   "%s: ptep_cmpxchg on a stale value fails and reports the current one", a->name);
	ok(o->ptep_cmpxchg(&slot[0], &old, (zd_pte_t){ 7 }) && o->ptep_get(&slot[0]).val == 7,
	   "%s: ptep_cmpxchg on the current value stores", a->name);
	got = o->ptep_get_and_clear(&slot[0]);
	ok(got.val == 7 && slot[0] == 0, "%s: ptep_get_and_clear returns the entry, leaves 0",
	   a->name);
}

/* ---------- table pointers ---------- */

/* Every level that has a table below it: the pointer round-trips its
 * address up to the largest physical address, is a table and never a
 * leaf; a leaf is never a table; and literal pointers from the headers. */
static void check_tables(const struct zd_arch *a)
{
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t top = (1ULL << a->max_physmem_bits) - a->page_size;
	bool round = true, kind = true;

	for (int l = ZD_PT_PGD; l < ZD_PT_PTE; l++) {
		if (a->pt[l].folded)
			continue;
		const uint64_t addrs[] = { a->page_size, 0x1234ULL << a->page_shift, top };

		for (size_t i = 0; i < 3; i++) {
			zd_pte_t e = o->mk_table(a, (enum zd_pt_level)l, addrs[i]);

			round &= o->table_phys(a, e) == addrs[i];
			kind &= o->is_table(a, e) && o->pmd_present(a, e) && !o->pmd_leaf(a, e) &&
				!o->pte_none(a, e);
		}
		if (a->pt[l].leaf)
			kind &= !o->is_table(a, o->mk_leaf(a, (enum zd_pt_level)l,
							 1ULL << (a->pt[l].shift - a->page_shift),
							 ZD_PTE_READ | ZD_PTE_USER));
	}
	ok(round, "%s: a table pointer holds its table's address up to the top of physical "
	   "memory", a->name);
	ok(kind, "%s: a table pointer is present, a table, not a leaf; a huge leaf is not a table",
	   a->name);
	if (is_ppc64(a)) {
		/* 256-byte PTE fragments: a PMD may point into the middle of a page */
		zd_pte_t e = o->mk_table(a, ZD_PT_PMD, 0x1234500);

		ok(o->table_phys(a, e) == 0x1234500, "ppc64: a PMD points at a 256-byte PTE fragment");
	}
}

static const struct {
	const char *arch;
	enum zd_pt_level level;
	uint64_t phys, want;
} table_literals[] = {
	/* _PAGE_TABLE = PRESENT|RW|USER|ACCESSED|DIRTY */
	{ "x86_64", ZD_PT_PMD, 0x1234000, 0x0000000001234067ULL },
	{ "x86_64-la57", ZD_PT_PGD, 0x1234000, 0x0000000001234067ULL },
	/* PMD_TYPE_TABLE | PMD_TABLE_PXN (bit 59) */
	{ "arm64-4k", ZD_PT_PMD, 0x1234000, 0x0800000001234003ULL },
	/* 64K: PA[51:48] also in bits 12..15 (PTE_ADDR_HIGH), PTE_ADDR_LOW
	 * keeps bits 48..49 as __phys_to_pte_val() does */
	{ "arm64-64k", ZD_PT_PMD, 0x000f000012340000ULL, 0x080300001234f003ULL },
	/* RADIX_PMD_VAL_BITS = PRESENT | RADIX_PTE_INDEX_SIZE (5) */
	{ "ppc64", ZD_PT_PMD, 0x1234500, 0x8000000001234505ULL },
	/* RADIX_PUD_VAL_BITS = PRESENT | RADIX_PMD_INDEX_SIZE (9) */
	{ "ppc64", ZD_PT_PUD, 0x1230000, 0x8000000001230009ULL },
	/* RADIX_PGD_VAL_BITS = PRESENT | RADIX_PUD_INDEX_SIZE (9): P4D folded */
	{ "ppc64", ZD_PT_PGD, 0x1230000, 0x8000000001230009ULL },
};

static void check_table_literals(void)
{
	for (size_t i = 0; i < sizeof(table_literals) / sizeof(table_literals[0]); i++) {
		struct zd_arch a = profile(table_literals[i].arch, 0);
		zd_pte_t e = a.pgtable->mk_table(&a, table_literals[i].level, table_literals[i].phys);

		if (!ok(e.val == table_literals[i].want, "%s: %s table pointer to 0x%llx = 0x%016llx",
			a.name, lvl_name[table_literals[i].level],
			(unsigned long long)table_literals[i].phys,
			(unsigned long long)table_literals[i].want))
			diag("got 0x%016llx", (unsigned long long)e.val);
	}
}

int main(void)
{
	const char *const *names = zd_arch_names();
	size_t n = 0;

	for (; names[n]; n++) {
		bool row = false;
		for (size_t i = 0; i < NGEOMS; i++)
			row |= !strcmp(geoms[i].name, names[n]) && !geoms[i].va_bits;
		ok(row, "profile %s has a geometry row", names[n]);
	}
	for (size_t i = 0; i < NGEOMS; i++)
		check_geometry(&geoms[i]);
	check_validate_mismatch();
	for (size_t i = 0; i < n; i++) {
		struct zd_arch a = profile(names[i], 0);

		for (int l = ZD_PT_PUD; l < ZD_PT_NR_LEVELS; l++)
			if (a.pt[l].leaf)
				check_prot(&a, l);
		check_pfn(&a);
		check_swap(&a);
		check_huge(&a);
		check_memory(&a);
		check_tables(&a);
	}
	{
		/* 2-level arm64: the PMD is folded, pud_leaf() is false */
		struct zd_arch a = profile("arm64-16k", 36);

		check_prot(&a, ZD_PT_PMD);
		check_huge(&a);
	}
	check_literals();
	check_table_literals();
	return done_testing();
}
