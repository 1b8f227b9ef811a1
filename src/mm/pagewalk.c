/*
 * Walks of a process's page tables (mm/pagewalk.c): the level arithmetic
 * every walker shares, a lockless lookup of the entry that maps one
 * address (what the MMU and GUP-fast read), and a walk over a range that
 * visits each used PTE slot with its table locked, skipping whole empty
 * subtrees (a terabyte VMA with three pages costs three visits).
 * Invariants: entries are read with the arch ops' acquire loads, so a
 * walker that sees a table pointer sees the zeroed or filled table; the
 * range walk holds one PTE table's split lock at a time and its callback
 * must not take it again; the caller holds mmap_lock, so no table of the
 * range is freed under the walk.
 */
#include "internal.h"
#include "base/rcu.h"

#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>

struct zd_page *zd_pt_table_page(struct zd_machine *m, zd_pte_t e)
{
	return zd_pfn_to_page(m, m->arch.pgtable->table_phys(&m->arch, e) >> m->arch.page_shift);
}

uint64_t *zd_pt_slot(struct zd_machine *m, struct zd_page *table, int level, uint64_t addr)
{
	const struct zd_pt_geom *g = &m->arch.pt[level];

	return (uint64_t *)zd_pagetable_address(m, table) + ((addr >> g->shift) & (g->ptrs - 1));
}

int zd_pt_next_level(const struct zd_arch *a, int level)
{
	do
		level++;
	while (level < ZD_PT_PTE && a->pt[level].folded);
	return level;
}

uint64_t *zd_lookup_slot(struct zd_mm *mm, uint64_t addr, enum zd_pt_level *level)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	struct zd_page *table = mm->pgd;
	int l = ZD_PT_PGD;

	for (;;) {
		uint64_t *p = zd_pt_slot(m, table, l, addr);
		zd_pte_t e;

		if (l == ZD_PT_PTE) {
			*level = ZD_PT_PTE;
			return p;
		}
		e = o->ptep_get(p);
		if (!o->is_table(&m->arch, e)) {
			/* none, or a huge leaf at this level */
			*level = (enum zd_pt_level)l;
			return o->pte_none(&m->arch, e) ? NULL : p;
		}
		table = zd_pt_table_page(m, e);
		l = zd_pt_next_level(&m->arch, l);
	}
}

static int walk_level(struct zd_mm *mm, struct zd_page *table, int level, uint64_t addr,
		      uint64_t end, zd_pte_fn fn, zd_leaf_fn leaf_fn, void *arg)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	uint64_t span = 1ULL << m->arch.pt[level].shift;
	int rc = 0;

	if (level == ZD_PT_PTE) {
		zd_pt_lock(table);
		for (; addr < end && !rc; addr += span) {
			uint64_t *p = zd_pt_slot(m, table, level, addr);

			if (!o->pte_none(&m->arch, o->ptep_get(p)))
				rc = fn(mm, p, addr, arg);
		}
		zd_pt_unlock(table);
		return rc;
	}
	while (addr < end && !rc) {
		uint64_t next = (addr & ~(span - 1)) + span;
		zd_pte_t e = o->ptep_get(zd_pt_slot(m, table, level, addr));

		if (next > end || next < addr)
			next = end;
		if (o->is_table(&m->arch, e)) {
			rc = walk_level(mm, zd_pt_table_page(m, e), zd_pt_next_level(&m->arch, level),
					addr, next, fn, leaf_fn, arg);
		} else if (!o->pte_none(&m->arch, e)) {
			uint64_t *slot = zd_pt_slot(m, table, level, addr), base = addr & ~(span - 1);
			bool partial = addr != base || next != base + span;

			zd_pt_lock(table);
			e = o->ptep_get(slot);
			/* a THP the range takes in part (or a walk that only
			 * knows PTEs) is split first, as zap_pmd_range,
			 * change_pmd_range and move_page_tables do; then the
			 * new table is walked */
			if (o->is_table(&m->arch, e) || ((partial || !leaf_fn) &&
			    zd_pmd_is_splittable(mm, e, (enum zd_pt_level)level) &&
			    zd_split_huge_pmd_locked(mm, slot))) {
				zd_pt_unlock(table);
				continue;
			}
			if (o->pte_none(&m->arch, e) ||
			    ZD_WARN(m, !leaf_fn, "walk: a huge leaf at level %d of 0x%llx (not walked)",
				    level, (unsigned long long)addr)) {
				zd_pt_unlock(table);
				goto skip;
			}
			rc = leaf_fn(mm, slot, (enum zd_pt_level)level, base, arg);
			zd_pt_unlock(table);
			if (rc == ZD_WALK_AGAIN) {
				rc = 0;
				continue;   /* the callback split it: walk its PTEs */
			}
		}
skip:
		addr = next;
	}
	return rc;
}

int zd_walk_range(struct zd_mm *mm, uint64_t start, uint64_t end, zd_pte_fn fn,
		  zd_leaf_fn leaf_fn, void *arg)
{
	if (start >= end)
		return 0;
	return walk_level(mm, mm->pgd, ZD_PT_PGD, start, end, fn, leaf_fn, arg);
}

int zd_walk_pte_range(struct zd_mm *mm, uint64_t start, uint64_t end, zd_pte_fn fn, void *arg)
{
	return zd_walk_range(mm, start, end, fn, NULL, arg);
}

/* follow_pte(): the entry at addr and, for a present PTE, its page. */
zd_pte_t zd_follow_pte(struct zd_mm *mm, uint64_t addr, enum zd_pt_level *level,
		       struct zd_page **page)
{
	const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
	uint64_t *slot;
	zd_pte_t e = { 0 };

	unsigned idx;

	*page = NULL;
	idx = zd_rcu_read_lock(&mm->m->rcu);
	/* a huge leaf split meanwhile is a table now: walk again */
	do {
		slot = zd_lookup_slot(mm, addr, level);
		if (slot)
			e = o->ptep_get(slot);
	} while (slot && *level != ZD_PT_PTE && o->is_table(&mm->m->arch, e));
	if (slot && *level == ZD_PT_PTE && o->pte_present(&mm->m->arch, e))
		*page = zd_vm_normal_page(mm, e);
	zd_rcu_read_unlock(&mm->m->rcu, idx);
	return e;
}
