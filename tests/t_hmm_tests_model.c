/*
 * Tests in the hmm-tests harness (hmm_selftest.h) that the kernel's file
 * does not have: invariants of spec hmm.md §10 that need a driver's view
 * of migrate_vma, run for both fixtures, both designs and every THP mode
 * like the kernel's tests (t_hmm_tests.c).
 */
#include "hmm_selftest.h"

/* Model extra, spec hmm.md §10 invariant 12: migrate_vma's
 * MMU_NOTIFY_MIGRATE carries the owner, so the migrating device keeps its
 * table and every other mirror of the range loses its entries. */
static void migrate_notifier_owner(void)
{
	uint64_t size = 8 * PS, npages = 8;
	struct buffer *b = buf_new(size);
	struct zd_dmirror_mirror_stats s0, s1;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	CMD(F->fd0, read, b, npages);
	CMD(F->fd1, read, b, npages);
	zd_dmirror_mirror_stats(F->fd1, &s1);
	EQ(s1.entries, npages, "migrate_notifier_owner: device 1 mirrors the range");
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_notifier_owner: migrate to device 0");
	zd_dmirror_mirror_stats(F->fd0, &s0);
	zd_dmirror_mirror_stats(F->fd1, &s1);
	EQ(s0.entries, npages, "migrate_notifier_owner: device 0 keeps (and remaps) its entries");
	EQ(s1.entries, 0, "migrate_notifier_owner: device 1's entries were invalidated");
	EQ(migrate_sys(F->fd0, b, npages), 0, "migrate_notifier_owner: back to system memory");
	zd_mmu_notifier_register(&rec, F->mm);
	migrate_events = migrate_events_owned = exclusive_events = 0;
	event_owner = F->dev[1];
	EQ(migrate_dev(F->fd1, b, npages), 0, "migrate_notifier_owner: migrate to device 1");
	ok(migrate_events >= 2 && migrate_events_owned == migrate_events,
	   "%s: migrate_notifier_owner: collect and insertion: MMU_NOTIFY_MIGRATE with the "
	   "owner (%d of %d)", F->tag, migrate_events_owned, migrate_events);
	zd_mmu_notifier_unregister(&rec, F->mm);
	buf_free(b);
}

/* Model extra, invariant 3: per-page all-or-nothing. One device page
 * cannot be had (FAIL_ALLOC): that page stays where it was, the others
 * move, no migration entry survives, every byte is intact. */
static void migrate_partial_failure(void)
{
	uint64_t size = 64 * PS, npages = 64;
	struct buffer *b = buf_new(size);
	const struct zd_pgtable_ops *o = F->m->arch.pgtable;
	unsigned on_dev = 0, stale = 0;
	struct zd_dmirror_stats s0, s1;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 5);
	zd_dmirror_get_stats(F->dev[0], &s0);
	zd_dmirror_set_flags(F->dev[0], ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	EQ(migrate_dev(F->fd0, b, npages), -ENOENT,
	   "migrate_partial_failure: one page is not on the device");
	zd_dmirror_get_stats(F->dev[0], &s1);
	for (uint64_t i = 0; i < npages; i++) {
		enum zd_pt_level l = ZD_PT_PTE;
		struct zd_page *p;
		zd_pte_t e = zd_follow_pte(F->mm, b->ptr + i * PS, &l, &p);
		enum zd_softleaf_type k;

		if (o->pte_present(&F->m->arch, e)) {
			on_dev += p && zd_is_zone_device_page(p);
			continue;
		}
		k = zd_softleaf_from_pte(F->m, e, &p);
		stale += zd_softleaf_is_migration(k);
		on_dev += zd_softleaf_is_device_private(k);
	}
	EQ(stale, 0, "migrate_partial_failure: no migration entry survives");
	EQ(on_dev, npages - 1, "migrate_partial_failure: every other page moved");
	EQ((s1.calloc - s1.cfree) - (s0.calloc - s0.cfree), npages - 1,
	   "migrate_partial_failure: device pages in use");
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 5), "%s: migrate_partial_failure: every byte intact", F->tag);
	zd_dmirror_set_flags(F->dev[0], 0);
	buf_free(b);
}

static const struct test tests[] = {
	{ "migrate_notifier_owner", migrate_notifier_owner, NULL },
	{ "migrate_partial_failure", migrate_partial_failure, NULL },
};

int main(void)
{
	return hmm_selftest_main(tests, sizeof(tests) / sizeof(tests[0]), false);
}
