/*
 * MMU notifiers (include/linux/mmu_notifier.h): how a device that mirrors a
 * process's page tables hears that CPU mappings change. Two kinds, as the
 * kernel has them: classic subscriptions (release, invalidate_range_start/
 * end for every change of the mm) and interval notifiers, which cover one
 * VA range and carry the sequence count a mirror uses to know whether what
 * it read from the page tables is still true.
 * Invariants (the kernel's, mm/mmu_notifier.c): the mm's invalidate_seq is
 * even when idle and odd while an invalidation that overlaps an interval
 * runs; it advances to even when the last such invalidation ends, and only
 * then are inserts/removes made during it applied. An interval's seq is the
 * odd value of the last invalidation that hit it; read_begin never returns
 * an odd seq that is still in progress; remove returns only once no
 * invalidation is calling the interval.
 */
#ifndef ZONEDEV_MMU_NOTIFIER_H
#define ZONEDEV_MMU_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_mm;
struct zd_vm_area_struct;

/* enum mmu_notifier_event: the kernel's set and order. */
enum zd_mmu_notifier_event {
	ZD_MMU_NOTIFY_UNMAP = 0,       /* munmap, exit, mremap's old range */
	ZD_MMU_NOTIFY_CLEAR,           /* entries cleared: zap, COW, migration, THP split */
	ZD_MMU_NOTIFY_PROTECTION_VMA,  /* mprotect */
	ZD_MMU_NOTIFY_PROTECTION_PAGE, /* one page's protection: fork's write-protect */
	ZD_MMU_NOTIFY_SOFT_DIRTY,
	ZD_MMU_NOTIFY_RELEASE,         /* the mm goes: [0, ULONG_MAX) */
	ZD_MMU_NOTIFY_MIGRATE,         /* migrate_vma; owner = pgmap_owner */
	ZD_MMU_NOTIFY_EXCLUSIVE,       /* device-exclusive conversion / revocation */
	ZD_MMU_NOTIFY_NR_EVENTS
};
const char *zd_mmu_notifier_event_name(enum zd_mmu_notifier_event e);

#define ZD_MMU_NOTIFIER_RANGE_BLOCKABLE (1u << 0)

struct zd_mmu_notifier_range {
	struct zd_mm *mm;
	uint64_t start, end;           /* [start, end) */
	unsigned flags;                /* ZD_MMU_NOTIFIER_RANGE_BLOCKABLE */
	enum zd_mmu_notifier_event event;
	void *owner;                   /* MIGRATE/EXCLUSIVE: who causes it */
};

/* mmu_notifier_range_init(_owner); flags are usually 0: _start makes the
 * range blockable, _start_nonblock (the OOM reaper's) makes it not. */
void zd_mmu_notifier_range_init(struct zd_mmu_notifier_range *r, enum zd_mmu_notifier_event event,
				unsigned flags, struct zd_mm *mm, uint64_t start, uint64_t end);
void zd_mmu_notifier_range_init_owner(struct zd_mmu_notifier_range *r,
				      enum zd_mmu_notifier_event event, unsigned flags,
				      struct zd_mm *mm, uint64_t start, uint64_t end, void *owner);
static inline bool zd_mmu_notifier_range_blockable(const struct zd_mmu_notifier_range *r)
{
	return r->flags & ZD_MMU_NOTIFIER_RANGE_BLOCKABLE;
}

/* Core mm's bracket: init then start (blockable), one line at each site. */
int zd_mmu_notifier_invalidate_range_start(struct zd_mmu_notifier_range *r);
static inline void zd_mmu_notify_start(struct zd_mmu_notifier_range *r,
				       enum zd_mmu_notifier_event event, struct zd_mm *mm,
				       uint64_t start, uint64_t end)
{
	zd_mmu_notifier_range_init(r, event, 0, mm, start, end);
	zd_mmu_notifier_invalidate_range_start(r);
}

/*
 * invalidate_range_start/end around every change of the range's entries.
 * Blockable ranges always return 0; a non-blockable one returns -EAGAIN
 * when a subscriber would have to sleep (its callback said so), and then
 * the end has already been run for the subscribers that were called.
 */
int zd_mmu_notifier_invalidate_range_start(struct zd_mmu_notifier_range *r);
int zd_mmu_notifier_invalidate_range_start_nonblock(struct zd_mmu_notifier_range *r);
void zd_mmu_notifier_invalidate_range_end(struct zd_mmu_notifier_range *r);
/* exit_mmap()'s first step: every subscriber's ->release, every interval
 * invalidated with RELEASE over the whole space. */
void zd_mmu_notifier_release(struct zd_mm *mm);
/* The mm is freed: the subscriptions go; intervals still inserted are
 * logged and orphaned (their remove becomes a no-op). */
void zd_mmu_notifier_subscriptions_destroy(struct zd_mm *mm);

/* ---- classic subscriptions (struct mmu_notifier) ---- */
struct zd_mmu_notifier;
struct zd_mmu_notifier_ops {
	void (*release)(struct zd_mmu_notifier *sub, struct zd_mm *mm);
	/* 0, or -EAGAIN only when the range is not blockable */
	int (*invalidate_range_start)(struct zd_mmu_notifier *sub,
				      const struct zd_mmu_notifier_range *r);
	void (*invalidate_range_end)(struct zd_mmu_notifier *sub,
				     const struct zd_mmu_notifier_range *r);
};
struct zd_mmu_notifier {
	const struct zd_mmu_notifier_ops *ops;
	struct zd_mm *mm;
	struct zd_mmu_notifier *next;  /* the mm's list (its lock) */
	bool registered;
};
/* 0, -EINVAL (no ops, already registered), -ENOMEM. */
int zd_mmu_notifier_register(struct zd_mmu_notifier *sub, struct zd_mm *mm);
/* Calls ->release if the mm has not released it yet; no callback of sub
 * runs after it returns. */
void zd_mmu_notifier_unregister(struct zd_mmu_notifier *sub, struct zd_mm *mm);

/* ---- interval notifiers (struct mmu_interval_notifier) ---- */
struct zd_mmu_interval_notifier;
struct zd_mmu_interval_notifier_ops {
	/* Under the driver's lock: mmu_interval_set_seq(sub, cur_seq), then
	 * drop the device's mappings of the range. May return false only for
	 * a non-blockable range, when it would have to sleep. */
	bool (*invalidate)(struct zd_mmu_interval_notifier *sub,
			   const struct zd_mmu_notifier_range *r, unsigned long cur_seq);
};
struct zd_mmu_interval_notifier {
	uint64_t start, last;          /* [start, last], inclusive */
	const struct zd_mmu_interval_notifier_ops *ops;
	struct zd_mm *mm;
	unsigned long invalidate_seq;  /* atomic */
	struct zd_mmu_interval_notifier *next, *deferred_next;
	int state;                     /* the subscriptions' lock */
};
/* 0, -EINVAL (no ops, length 0 or wrapping, already inserted), -ENOMEM.
 * _locked: the caller holds mmap_lock (the model needs no lock for it). */
int zd_mmu_interval_notifier_insert(struct zd_mmu_interval_notifier *sub, struct zd_mm *mm,
				    uint64_t start, uint64_t length,
				    const struct zd_mmu_interval_notifier_ops *ops);
int zd_mmu_interval_notifier_insert_locked(struct zd_mmu_interval_notifier *sub,
					   struct zd_mm *mm, uint64_t start, uint64_t length,
					   const struct zd_mmu_interval_notifier_ops *ops);
/* Waits for an invalidation calling sub to end; sleeps. */
void zd_mmu_interval_notifier_remove(struct zd_mmu_interval_notifier *sub);
/* The seq to compare later; sleeps while an overlapping invalidation runs. */
unsigned long zd_mmu_interval_read_begin(struct zd_mmu_interval_notifier *sub);
/* Authoritative under the lock the invalidate callback takes. */
static inline bool zd_mmu_interval_read_retry(struct zd_mmu_interval_notifier *sub,
					      unsigned long seq)
{
	return __atomic_load_n(&sub->invalidate_seq, __ATOMIC_ACQUIRE) != seq;
}
/* The lockless hint (hmm_range_fault's early -EBUSY). */
static inline bool zd_mmu_interval_check_retry(struct zd_mmu_interval_notifier *sub,
					       unsigned long seq)
{
	return __atomic_load_n(&sub->invalidate_seq, __ATOMIC_RELAXED) != seq;
}
static inline void zd_mmu_interval_set_seq(struct zd_mmu_interval_notifier *sub,
					   unsigned long cur_seq)
{
	__atomic_store_n(&sub->invalidate_seq, cur_seq, __ATOMIC_RELEASE);
}

#ifdef __cplusplus
}
#endif

#endif
