/*
 * MMU notifiers (mm/mmu_notifier.c): every event the core fires, with its
 * range, where the kernel fires it (munmap, exit, MADV_DONTNEED/FREE, COW,
 * fork, mprotect, mremap, THP split and collapse, migration, release), and
 * the interval notifiers' sequence protocol: read_begin/read_retry,
 * set_seq, non-overlapping changes leaving the seq alone, non-blockable
 * ranges refused with -EAGAIN, inserts made during an invalidation
 * deferred to its end, and the bad arguments.
 */
#include <zonedev/zonedev.h>
#include <zonedev/mmu_notifier.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)

struct rec { enum zd_mmu_notifier_event ev; uint64_t s, e; bool blockable; };
static struct rec recs[4096];
static int nrec, nrelease;
static struct zd_machine *m;
static struct zd_mm *mm;
static uint64_t ps, hps;

static int rec_start(struct zd_mmu_notifier *sub, const struct zd_mmu_notifier_range *r)
{
	if (nrec < (int)(sizeof(recs) / sizeof(recs[0])))
		recs[nrec++] = (struct rec){ r->event, r->start, r->end,
					     zd_mmu_notifier_range_blockable(r) };
	return 0;
}
static void rec_release(struct zd_mmu_notifier *sub, struct zd_mm *p)
{
	nrelease++;
}
static const struct zd_mmu_notifier_ops rec_ops = {
	.release = rec_release, .invalidate_range_start = rec_start,
};

/* The recorded event that is ev and covers [s, e), or -1. */
static int find(enum zd_mmu_notifier_event ev, uint64_t s, uint64_t e)
{
	for (int i = 0; i < nrec; i++)
		if (recs[i].ev == ev && recs[i].s <= s && recs[i].e >= e)
			return i;
	return -1;
}
static bool exact(enum zd_mmu_notifier_event ev, uint64_t s, uint64_t e)
{
	for (int i = 0; i < nrec; i++)
		if (recs[i].ev == ev && recs[i].s == s && recs[i].e == e)
			return true;
	return false;
}
static int count(enum zd_mmu_notifier_event ev)
{
	int n = 0;

	for (int i = 0; i < nrec; i++)
		n += recs[i].ev == ev;
	return n;
}

static uint64_t map(uint64_t len)
{
	return (uint64_t)zd_vm_mmap(mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE,
				    ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
}
static void touch(struct zd_mm *p, uint64_t a, uint64_t len)
{
	char c = 7;

	for (uint64_t o = 0; o < len; o += ps)
		zd_access_vm(p, a + o, &c, 1, true);
}

/* ---- interval notifier with a driver lock ---- */
struct mirror {
	struct zd_mmu_interval_notifier sub;
	pthread_mutex_t lock;
	int calls;
	bool refuse_nonblock;
	enum zd_mmu_notifier_event last;
	struct mirror *insert_during;   /* inserted from the callback */
};

static bool mirror_invalidate(struct zd_mmu_interval_notifier *sub,
			      const struct zd_mmu_notifier_range *r, unsigned long cur_seq);
static const struct zd_mmu_interval_notifier_ops mirror_ops = { .invalidate = mirror_invalidate };

static bool mirror_invalidate(struct zd_mmu_interval_notifier *sub,
			      const struct zd_mmu_notifier_range *r, unsigned long cur_seq)
{
	struct mirror *mi = (struct mirror *)sub;

	if (mi->refuse_nonblock && !zd_mmu_notifier_range_blockable(r))
		return false;
	pthread_mutex_lock(&mi->lock);
	zd_mmu_interval_set_seq(sub, cur_seq);
	mi->calls++;
	mi->last = r->event;
	pthread_mutex_unlock(&mi->lock);
	if (mi->insert_during) {
		struct mirror *n = mi->insert_during;

		mi->insert_during = NULL;
		zd_mmu_interval_notifier_insert(&n->sub, r->mm, 0, 1ULL << 47, &mirror_ops);
		/* inserted during an invalidation: seq is the odd one in progress */
		ok(n->sub.invalidate_seq == cur_seq, "insert during an invalidation takes its odd seq");
	}
	return true;
}

static void events(void)
{
	struct zd_mmu_notifier sub = { .ops = &rec_ops };
	uint64_t a, b, h;
	struct zd_mm *child;

	is_int(zd_mmu_notifier_register(&sub, mm), 0, "register");
	is_int(zd_mmu_notifier_register(&sub, mm), -EINVAL, "register twice: EINVAL");

	a = map(8 * ps);
	touch(mm, a, 8 * ps);
	nrec = 0;
	zd_do_madvise(mm, a, 2 * ps, ZD_MADV_DONTNEED);
	ok(exact(ZD_MMU_NOTIFY_CLEAR, a, a + 2 * ps), "MADV_DONTNEED: CLEAR over its range");
	ok(recs[0].blockable, "... blockable");
	nrec = 0;
	zd_do_madvise(mm, a + 2 * ps, 2 * ps, ZD_MADV_FREE);
	ok(exact(ZD_MMU_NOTIFY_CLEAR, a + 2 * ps, a + 4 * ps), "MADV_FREE: CLEAR over its range");
	nrec = 0;
	zd_do_mprotect(mm, a, 8 * ps, ZD_PROT_READ);
	ok(exact(ZD_MMU_NOTIFY_PROTECTION_VMA, a, a + 8 * ps), "mprotect: PROTECTION_VMA");
	zd_do_mprotect(mm, a, 8 * ps, ZD_PROT_READ | ZD_PROT_WRITE);

	/* fork write-protects the parent's private pages; a write copies */
	touch(mm, a, 8 * ps);
	nrec = 0;
	child = zd_dup_mm(mm);
	ok(find(ZD_MMU_NOTIFY_PROTECTION_PAGE, a, a + 8 * ps) >= 0,
	   "fork: PROTECTION_PAGE over the parent's copied VMA");
	nrec = 0;
	touch(mm, a + 3 * ps, ps);
	ok(exact(ZD_MMU_NOTIFY_CLEAR, a + 3 * ps, a + 4 * ps), "COW (wp_page_copy): CLEAR of the page");
	nrec = 0;
	touch(child, a + 5 * ps, ps);
	is_int(nrec, 0, "the child's COW does not notify the parent's subscriber");
	zd_mmput(child);

	/* mremap: UNMAP of the old range */
	nrec = 0;
	b = (uint64_t)zd_do_mremap(mm, a, 8 * ps, 16 * ps, ZD_MREMAP_MAYMOVE, 0);
	if (b != a) {
		ok(find(ZD_MMU_NOTIFY_UNMAP, a, a + 8 * ps) >= 0, "mremap move: UNMAP of the old range");
	} else {
		skip("mremap grew in place: no move");
	}
	nrec = 0;
	zd_vm_munmap(mm, b, 16 * ps);
	ok(exact(ZD_MMU_NOTIFY_UNMAP, b, b + 16 * ps), "munmap: UNMAP over the whole span");
	is_int(count(ZD_MMU_NOTIFY_CLEAR), 0, "... and no CLEAR");

	/* THP: the COW split of a PMD, then a collapse */
	m->thp_enabled = ZD_THP_MADVISE;
	a = map(2 * hps);
	h = (a + hps - 1) & ~(hps - 1);
	zd_do_madvise(mm, h, hps, ZD_MADV_HUGEPAGE);
	touch(mm, h, ps);
	child = zd_dup_mm(mm);
	nrec = 0;
	touch(mm, h + ps, ps);
	ok(exact(ZD_MMU_NOTIFY_CLEAR, h, h + hps), "THP COW split: CLEAR over the PMD");
	ok(exact(ZD_MMU_NOTIFY_CLEAR, h + ps, h + 2 * ps), "... then the page's COW CLEAR");
	zd_mmput(child);
	zd_vm_munmap(mm, a, 2 * hps);
	a = map(2 * hps);   /* no advice: base pages, which MADV_COLLAPSE may still collapse */
	h = (a + hps - 1) & ~(hps - 1);
	touch(mm, h, 4 * ps);
	nrec = 0;
	is_int(zd_do_madvise(mm, h, hps, ZD_MADV_COLLAPSE), 0, "MADV_COLLAPSE");
	ok(exact(ZD_MMU_NOTIFY_CLEAR, h, h + hps), "collapse: CLEAR over the PMD");
	zd_vm_munmap(mm, a, 2 * hps);

	/* migration: try_to_migrate's CLEAR of the page */
	a = map(ps);
	touch(mm, a, ps);
	{
		uint64_t pfn = tap_pfn_at(mm, a);

		nrec = 0;
		ok(zd_migrate_range(m, pfn, 1) >= 0, "migrate the page");
		ok(exact(ZD_MMU_NOTIFY_CLEAR, a, a + ps), "try_to_migrate: CLEAR of the page");
		ok(tap_pfn_at(mm, a) != pfn, "... which moved");
	}
	zd_vm_munmap(mm, a, ps);

	zd_mmu_notifier_unregister(&sub, mm);
	is_int(nrelease, 1, "unregister calls release");
	nrec = 0;
	a = map(ps);
	zd_vm_munmap(mm, a, ps);
	is_int(nrec, 0, "no callback after unregister");
}

static void exit_release(void)
{
	struct zd_mm *p = zd_mm_alloc(m);
	struct zd_mmu_notifier sub = { .ops = &rec_ops };
	struct mirror mi = { .lock = PTHREAD_MUTEX_INITIALIZER };
	uint64_t a;

	zd_mmu_notifier_register(&sub, p);
	zd_mmu_interval_notifier_insert(&mi.sub, p, 0, 1ULL << 47, &mirror_ops);
	a = (uint64_t)zd_vm_mmap(p, 0, ps, ZD_PROT_READ | ZD_PROT_WRITE,
				 ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	touch(p, a, ps);
	nrec = nrelease = 0;
	mi.calls = 0;
	zd_mmu_interval_notifier_remove(&mi.sub);
	zd_mmu_interval_notifier_insert(&mi.sub, p, 0, 1ULL << 47, &mirror_ops);
	{
		/* exit: release first, the intervals see RELEASE over everything */
		unsigned long s0 = zd_mmu_interval_read_begin(&mi.sub);

		zd_mmu_notifier_release(p);
		is_int(nrelease, 1, "exit: ->release");
		is_int(mi.last, ZD_MMU_NOTIFY_RELEASE, "exit: the interval hears RELEASE");
		ok(zd_mmu_interval_read_retry(&mi.sub, s0), "... and its seq moved");
	}
	nrec = 0;
	zd_mmu_interval_notifier_remove(&mi.sub);
	zd_mmput(p);
	is_int(nrec, 0, "the released subscriber hears nothing of the unmap");
}

static void protocol(void)
{
	struct mirror mi = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mirror late = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct zd_mmu_notifier_range r;
	uint64_t a = map(16 * ps);
	unsigned long s;

	is_int(zd_mmu_interval_notifier_insert(&mi.sub, mm, a, 0, &mirror_ops), -EINVAL,
	       "insert of length 0: EINVAL");
	is_int(zd_mmu_interval_notifier_insert(&mi.sub, mm, ~0ULL - ps, 2 * ps, &mirror_ops),
	       -EINVAL, "insert wrapping: EINVAL");
	is_int(zd_mmu_interval_notifier_insert(&mi.sub, mm, a, 4 * ps, NULL), -EINVAL,
	       "insert without ops: EINVAL");
	is_int(zd_mmu_interval_notifier_insert(&mi.sub, mm, a + 4 * ps, 4 * ps, &mirror_ops), 0,
	       "insert [a+4p, a+8p)");
	s = zd_mmu_interval_read_begin(&mi.sub);
	ok(!zd_mmu_interval_read_retry(&mi.sub, s), "read_retry false with no change");
	touch(mm, a, 16 * ps);
	zd_do_madvise(mm, a, 4 * ps, ZD_MADV_DONTNEED);
	zd_do_madvise(mm, a + 8 * ps, 8 * ps, ZD_MADV_DONTNEED);
	ok(!zd_mmu_interval_read_retry(&mi.sub, s), "changes outside the interval leave its seq");
	is_int(mi.calls, 0, "... and do not call it");
	zd_do_madvise(mm, a + 7 * ps, 2 * ps, ZD_MADV_DONTNEED);
	ok(zd_mmu_interval_read_retry(&mi.sub, s), "an overlapping change: read_retry true");
	ok(mi.sub.invalidate_seq & 1, "the interval's seq is the odd seq of that invalidation");
	s = zd_mmu_interval_read_begin(&mi.sub);
	ok(!zd_mmu_interval_read_retry(&mi.sub, s), "read_begin again: a stable seq");

	/* a non-blockable range the callback cannot serve */
	mi.refuse_nonblock = true;
	zd_mmu_notifier_range_init(&r, ZD_MMU_NOTIFY_CLEAR, 0, mm, a, a + 16 * ps);
	is_int(zd_mmu_notifier_invalidate_range_start_nonblock(&r), -EAGAIN,
	       "non-blockable range refused: EAGAIN");
	s = zd_mmu_interval_read_begin(&mi.sub);   /* would hang if the seq stayed odd */
	ok(true, "after the refusal read_begin does not block");
	zd_mmu_notifier_range_init(&r, ZD_MMU_NOTIFY_CLEAR, 0, mm, a, a + 16 * ps);
	is_int(zd_mmu_notifier_invalidate_range_start(&r), 0, "the same range blockable: 0");
	ok(zd_mmu_notifier_range_blockable(&r), "... marked blockable");
	zd_mmu_notifier_invalidate_range_end(&r);
	mi.refuse_nonblock = false;

	/* an insert during an invalidation joins the tree at its end */
	mi.insert_during = &late;
	zd_do_madvise(mm, a + 4 * ps, ps, ZD_MADV_DONTNEED);
	late.calls = 0;
	zd_do_madvise(mm, a + 12 * ps, ps, ZD_MADV_DONTNEED);
	is_int(late.calls, 1, "the deferred insert is in the tree after the invalidation");
	zd_mmu_interval_notifier_remove(&late.sub);
	late.calls = 0;
	zd_do_madvise(mm, a + 12 * ps, ps, ZD_MADV_DONTNEED);
	is_int(late.calls, 0, "removed: no more calls");
	zd_mmu_interval_notifier_remove(&mi.sub);
	zd_vm_munmap(mm, a, 16 * ps);
	for (int e = 0; e < ZD_MMU_NOTIFY_NR_EVENTS; e++)
		ok(strcmp(zd_mmu_notifier_event_name(e), "?"), "event %d named %s", e,
		   zd_mmu_notifier_event_name(e));
	is_int(ZD_MMU_NOTIFY_EXCLUSIVE, 7, "EXCLUSIVE is the kernel's 7");
}

int main(void)
{
	m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	ps = m->arch.page_size;
	hps = 1ULL << m->arch.pt[ZD_PT_PMD].shift;
	mm = zd_mm_alloc(m);
	events();
	protocol();
	exit_release();
	zd_mmput(mm);
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
