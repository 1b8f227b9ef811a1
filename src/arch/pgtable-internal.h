/*
 * Shared by the three entry formats (pgtable-x86.c, -arm64.c, -ppc64.c):
 * the slot accessors for little- and big-endian tables and the geometry
 * filler. Private to src/arch.
 *
 * Invariant: a slot holds the entry in the arch's byte order; the host's
 * order never leaks into table memory (a ppc64 table read on an x86 host
 * still has its present bit in byte 0).
 */
#ifndef ZD_ARCH_PGTABLE_INTERNAL_H
#define ZD_ARCH_PGTABLE_INTERNAL_H

#include <zonedev/arch.h>
#include <endian.h>

#define ZD_BIT(n) (1ULL << (n))
/* Bits lo..hi inclusive (the kernel's GENMASK_ULL(hi, lo)). */
#define ZD_GENMASK(hi, lo) ((~0ULL >> (63 - (hi))) & ~((1ULL << (lo)) - 1))

/* Release on store and acquire on load: a walker that reads a table
 * pointer without the table lock (GUP-fast) then sees the zeroed table. */
#define ZD_PTEP_ACCESSORS(tag, to_mem, from_mem)                                   \
	static zd_pte_t tag##_ptep_get(const uint64_t *p)                          \
	{                                                                          \
		return (zd_pte_t){ from_mem(__atomic_load_n(p, __ATOMIC_ACQUIRE)) }; \
	}                                                                          \
	static void tag##_set_pte(uint64_t *p, zd_pte_t e)                         \
	{                                                                          \
		__atomic_store_n(p, to_mem(e.val), __ATOMIC_RELEASE);              \
	}                                                                          \
	static zd_pte_t tag##_ptep_get_and_clear(uint64_t *p)                      \
	{                                                                          \
		return (zd_pte_t){ from_mem(__atomic_exchange_n(p, 0, __ATOMIC_ACQ_REL)) }; \
	}                                                                          \
	static bool tag##_ptep_cmpxchg(uint64_t *p, zd_pte_t *old, zd_pte_t new_pte) \
	{                                                                          \
		uint64_t o = to_mem(old->val);                                     \
		bool done = __atomic_compare_exchange_n(p, &o, to_mem(new_pte.val), false, \
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE); \
		old->val = from_mem(o);                                            \
		return done;                                                       \
	}

/*
 * index_bits[level] is the arch's *_INDEX_SIZE, 0 for a folded level.
 * Shifts are built bottom-up from PAGE_SHIFT, so a folded level gets the
 * shift of the level above it, as asm-generic/pgtable-nop*.h define it.
 */
void zd_pt_geometry_set(struct zd_arch *a, const unsigned index_bits[ZD_PT_NR_LEVELS]);

#endif
