/*
 * A process's page tables as the arch's ptdump prints them
 * (mm/ptdump.c's walk, arch/x86/mm/dump_pagetables.c and
 * arch/arm64/mm/ptdump.c's lines): the user half of the address space,
 * one line per run of entries at one level with equal flags, holes
 * included, the size divided by 1024 while exact (units B K M G T P E).
 * x86 ends a line with its level (pgd p4d pud pmd pte) after printk_prot's
 * fixed-width fields; arm64 puts the level (PGD P4D PUD PMD PTE) first and
 * the fields after it, and none for an empty run.
 * Invariants: read under mmap_read_lock, one snapshot; the flags compared
 * are the whole entry but its address bits (accessed and dirty split runs
 * even where they are not printed, as in the kernel).
 */
#include "internal.h"

#include <errno.h>

#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>

struct pg_state {
	FILE *f;
	const struct zd_arch *a;
	uint64_t start, prot, start_pa;
	int level;                 /* -1 before the first entry */
};

static void print_run(struct pg_state *st, uint64_t end)
{
	static const char units[] = "BKMGTPE";
	const struct zd_pgtable_ops *o = st->a->pgtable;
	uint64_t size = end - st->start;
	const char *unit = units;
	char flags[128];

	if (o->ptdump_line) {
		o->ptdump_line(st->f, (enum zd_pt_level)st->level, st->start, end, st->start_pa,
			       st->prot);
		return;
	}
	while (!(size & 1023) && unit[1]) {
		size >>= 10;
		unit++;
	}
	o->ptdump_flags((enum zd_pt_level)st->level, st->prot, flags, sizeof(flags));
	fprintf(st->f, "0x%016llx-0x%016llx   %9llu%c ", (unsigned long long)st->start,
		(unsigned long long)end, (unsigned long long)size, *unit);
	if (o->ptdump_level_first)
		fprintf(st->f, "%s%s\n", o->ptdump_level[st->level], flags);
	else
		fprintf(st->f, "%s%s\n", flags, o->ptdump_level[st->level]);
}

/* note_page(): a new run when the level or the flags change. */
static void note(struct pg_state *st, uint64_t addr, int level, uint64_t prot, uint64_t pa)
{
	if (st->level >= 0 && level == st->level && prot == st->prot)
		return;
	if (st->level >= 0)
		print_run(st, addr);
	st->start = addr;
	st->start_pa = pa;
	st->level = level;
	st->prot = prot;
}

static void walk(struct pg_state *st, struct zd_mm *mm, struct zd_page *table, int level,
		 uint64_t base, uint64_t end)
{
	const struct zd_arch *a = st->a;
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t span = 1ULL << a->pt[level].shift;

	for (uint64_t i = 0; i < a->pt[level].ptrs; i++) {
		uint64_t addr = base + i * span;
		zd_pte_t e;

		if (addr >= end)
			break;
		e = o->ptep_get(zd_pt_slot(mm->m, table, level, addr));
		if (level != ZD_PT_PTE && o->is_table(a, e))
			walk(st, mm, zd_pt_table_page(mm->m, e), zd_pt_next_level(a, level), addr,
			     end);
		else
			note(st, addr, level, o->pte_none(a, e) ? 0 : o->ptdump_prot(a, level, e),
			     o->pte_present(a, e) ? o->leaf_pfn(a, (enum zd_pt_level)level, e) <<
			     a->page_shift : 0);
	}
}

int zd_ptdump_show(struct zd_mm *mm, FILE *f)
{
	const struct zd_arch *a = &mm->m->arch;
	struct pg_state st = { .f = f, .a = a, .level = -1 };
	/* the user half: what the top level's lower entries cover */
	uint64_t end = 1ULL << (a->pt[ZD_PT_PGD].shift + a->pt[ZD_PT_PGD].index_bits -
				(a->family == ZD_ARCH_X86 ? 1 : 0));

	if (!a->pgtable->ptdump_flags && !a->pgtable->ptdump_line)
		return -EOPNOTSUPP;
	/* x86's current_user header; ppc64 opens with its first marker's */
	if (a->family == ZD_ARCH_X86 || a->pgtable->ptdump_line)
		fprintf(f, "---[ User Space ]---\n");
	zd_mmap_read_lock(mm);
	walk(&st, mm, mm->pgd, ZD_PT_PGD, 0, end);
	zd_mmap_read_unlock(mm);
	if (st.level >= 0)
		print_run(&st, end);
	return 0;
}
