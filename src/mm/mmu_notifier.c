/*
 * MMU notifiers (mm/mmu_notifier.c): the per-mm subscriptions, made on the
 * first register or insert, hold the classic subscribers (an rwlock: the
 * invalidations read, register/unregister write) and the interval
 * notifiers with the sequence count of include/zonedev/mmu_notifier.h.
 * Invariants: the interval list changes only under the lock and only while
 * no invalidation that overlaps an interval runs (seq even); while one
 * runs, inserts and removes wait on the deferred list until the last
 * invalidation ends, so walkers read the list without the lock. Every
 * range start is paired with one end (active_invalidate_ranges).
 */
#include <zonedev/machine.h>
#include <zonedev/mm.h>
#include <zonedev/mmu_notifier.h>
#include <errno.h>
#include <stdlib.h>

enum { IV_NONE, IV_INSERTED, IV_DEFERRED_INSERT, IV_DEFERRED_REMOVE, IV_ORPHANED };

struct zd_mmu_notifier_subscriptions {
	pthread_mutex_t lock;
	pthread_cond_t wq;
	unsigned long invalidate_seq;            /* atomic reads; writes under lock */
	unsigned long active_invalidate_ranges;  /* lock */
	struct zd_mmu_interval_notifier *itree;  /* lock; stable while seq is odd */
	struct zd_mmu_interval_notifier *deferred;
	pthread_rwlock_t list_lock;
	struct zd_mmu_notifier *list;
};

static const char *const event_names[ZD_MMU_NOTIFY_NR_EVENTS] = {
	"UNMAP", "CLEAR", "PROTECTION_VMA", "PROTECTION_PAGE", "SOFT_DIRTY", "RELEASE",
	"MIGRATE", "EXCLUSIVE",
};

const char *zd_mmu_notifier_event_name(enum zd_mmu_notifier_event e)
{
	return (unsigned)e < ZD_MMU_NOTIFY_NR_EVENTS ? event_names[e] : "?";
}

/* The mm's subscriptions; made on first use when alloc (lock-free publish). */
static struct zd_mmu_notifier_subscriptions *subs_of(struct zd_mm *mm, bool alloc)
{
	struct zd_mmu_notifier_subscriptions *s, *exp = NULL;

	s = __atomic_load_n(&mm->notifier_subscriptions, __ATOMIC_ACQUIRE);
	if (s || !alloc)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wq, NULL);
	pthread_rwlock_init(&s->list_lock, NULL);
	s->invalidate_seq = 2;   /* even: idle */
	if (!__atomic_compare_exchange_n(&mm->notifier_subscriptions, &exp, s, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		pthread_rwlock_destroy(&s->list_lock);
		pthread_cond_destroy(&s->wq);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return exp;
	}
	return s;
}

void zd_mmu_notifier_range_init_owner(struct zd_mmu_notifier_range *r,
				      enum zd_mmu_notifier_event event, unsigned flags,
				      struct zd_mm *mm, uint64_t start, uint64_t end, void *owner)
{
	*r = (struct zd_mmu_notifier_range){ .mm = mm, .start = start, .end = end,
					     .flags = flags, .event = event, .owner = owner };
}

void zd_mmu_notifier_range_init(struct zd_mmu_notifier_range *r, enum zd_mmu_notifier_event event,
				unsigned flags, struct zd_mm *mm, uint64_t start, uint64_t end)
{
	zd_mmu_notifier_range_init_owner(r, event, flags, mm, start, end, NULL);
}

static bool overlaps(const struct zd_mmu_interval_notifier *sub,
		     const struct zd_mmu_notifier_range *r)
{
	return sub->start < r->end && sub->last >= r->start;
}

static struct zd_mmu_interval_notifier *next_overlap(struct zd_mmu_interval_notifier *sub,
						     const struct zd_mmu_notifier_range *r)
{
	while (sub && !overlaps(sub, r))
		sub = sub->next;
	return sub;
}

static void unlink_interval(struct zd_mmu_notifier_subscriptions *s,
			    struct zd_mmu_interval_notifier *sub)
{
	struct zd_mmu_interval_notifier **pp;

	for (pp = &s->itree; *pp && *pp != sub; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = sub->next;
	sub->next = NULL;
}

/* mn_itree_inv_start_range(): count the range; if it hits an interval the
 * seq goes odd and the first hit is returned with it. */
static struct zd_mmu_interval_notifier *inv_start_range(struct zd_mmu_notifier_subscriptions *s,
							 const struct zd_mmu_notifier_range *r,
							 unsigned long *seq)
{
	struct zd_mmu_interval_notifier *first;

	pthread_mutex_lock(&s->lock);
	s->active_invalidate_ranges++;
	first = next_overlap(s->itree, r);
	if (first) {
		__atomic_store_n(&s->invalidate_seq, s->invalidate_seq | 1, __ATOMIC_RELEASE);
		*seq = s->invalidate_seq;
	}
	pthread_mutex_unlock(&s->lock);
	return first;
}

/* mn_itree_inv_end(): the last range out makes seq even, applies what was
 * deferred and wakes read_begin and remove. */
static void inv_end(struct zd_mmu_notifier_subscriptions *s)
{
	struct zd_mmu_interval_notifier *sub, *n;

	pthread_mutex_lock(&s->lock);
	if (--s->active_invalidate_ranges || !(s->invalidate_seq & 1)) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	__atomic_store_n(&s->invalidate_seq, s->invalidate_seq + 1, __ATOMIC_RELEASE);
	for (sub = s->deferred; sub; sub = n) {
		n = sub->deferred_next;
		sub->deferred_next = NULL;
		if (sub->state == IV_DEFERRED_INSERT) {
			sub->next = s->itree;
			s->itree = sub;
			sub->state = IV_INSERTED;
		} else {
			unlink_interval(s, sub);
			sub->state = IV_NONE;
		}
	}
	s->deferred = NULL;
	pthread_cond_broadcast(&s->wq);
	pthread_mutex_unlock(&s->lock);
}

static int itree_invalidate(struct zd_mmu_notifier_subscriptions *s,
			    const struct zd_mmu_notifier_range *r)
{
	unsigned long seq = 0;
	struct zd_mmu_interval_notifier *sub;

	for (sub = inv_start_range(s, r, &seq); sub; sub = next_overlap(sub->next, r)) {
		if (sub->ops->invalidate(sub, r, seq))
			continue;
		if (ZD_WARN(r->mm->m, zd_mmu_notifier_range_blockable(r),
			    "interval [0x%llx, 0x%llx]: invalidate failed on a blockable range",
			    (unsigned long long)sub->start, (unsigned long long)sub->last))
			continue;
		inv_end(s);
		return -EAGAIN;
	}
	return 0;
}

/* The classic subscribers' starts; on a refusal the ones already started
 * get their end, as mn_hlist_invalidate_range_start does. */
static int hlist_start(struct zd_mmu_notifier_subscriptions *s,
		       const struct zd_mmu_notifier_range *r)
{
	struct zd_mmu_notifier *sub, *failed = NULL;
	int ret = 0;

	pthread_rwlock_rdlock(&s->list_lock);
	for (sub = s->list; sub; sub = sub->next) {
		int rc = sub->ops->invalidate_range_start ? sub->ops->invalidate_range_start(sub, r) : 0;

		if (!rc)
			continue;
		ZD_WARN(r->mm->m, zd_mmu_notifier_range_blockable(r) || rc != -EAGAIN,
			"notifier start returned %d (%s)", rc,
			zd_mmu_notifier_range_blockable(r) ? "blockable" : "non-blockable");
		ret = rc;
		failed = sub;
		break;
	}
	for (sub = s->list; failed && sub != failed; sub = sub->next)
		if (sub->ops->invalidate_range_end)
			sub->ops->invalidate_range_end(sub, r);
	pthread_rwlock_unlock(&s->list_lock);
	return ret;
}

static int range_start(struct zd_mmu_notifier_range *r)
{
	struct zd_mmu_notifier_subscriptions *s = subs_of(r->mm, false);
	int ret;

	if (!s)
		return 0;
	ret = itree_invalidate(s, r);
	if (ret)
		return ret;
	ret = hlist_start(s, r);
	if (ret)
		inv_end(s);
	return ret;
}

int zd_mmu_notifier_invalidate_range_start(struct zd_mmu_notifier_range *r)
{
	r->flags |= ZD_MMU_NOTIFIER_RANGE_BLOCKABLE;
	return range_start(r);
}

int zd_mmu_notifier_invalidate_range_start_nonblock(struct zd_mmu_notifier_range *r)
{
	r->flags &= ~ZD_MMU_NOTIFIER_RANGE_BLOCKABLE;
	return range_start(r);
}

void zd_mmu_notifier_invalidate_range_end(struct zd_mmu_notifier_range *r)
{
	struct zd_mmu_notifier_subscriptions *s = subs_of(r->mm, false);
	struct zd_mmu_notifier *sub;

	if (!s)
		return;
	inv_end(s);
	pthread_rwlock_rdlock(&s->list_lock);
	for (sub = s->list; sub; sub = sub->next)
		if (sub->ops->invalidate_range_end)
			sub->ops->invalidate_range_end(sub, r);
	pthread_rwlock_unlock(&s->list_lock);
}

void zd_mmu_notifier_release(struct zd_mm *mm)
{
	struct zd_mmu_notifier_subscriptions *s = subs_of(mm, false);
	struct zd_mmu_notifier_range r;
	struct zd_mmu_notifier *sub, *n;

	if (!s)
		return;
	/* mn_itree_release(): every interval hears the whole space go */
	zd_mmu_notifier_range_init(&r, ZD_MMU_NOTIFY_RELEASE, ZD_MMU_NOTIFIER_RANGE_BLOCKABLE, mm,
				   0, UINT64_MAX);
	itree_invalidate(s, &r);
	inv_end(s);
	/* the write lock keeps unregister from racing a release callback */
	pthread_rwlock_wrlock(&s->list_lock);
	for (sub = s->list; sub; sub = n) {
		n = sub->next;
		if (sub->ops->release)
			sub->ops->release(sub, mm);
		sub->registered = false;
		sub->next = NULL;
	}
	s->list = NULL;
	pthread_rwlock_unlock(&s->list_lock);
}

void zd_mmu_notifier_subscriptions_destroy(struct zd_mm *mm)
{
	struct zd_mmu_notifier_subscriptions *s = subs_of(mm, false);
	struct zd_mmu_interval_notifier *sub;

	if (!s)
		return;
	for (sub = s->itree; sub; sub = sub->next) {
		zd_pr_warn(mm->m, "pid %d: interval [0x%llx, 0x%llx] still inserted at exit; orphaned",
			   mm->pid, (unsigned long long)sub->start, (unsigned long long)sub->last);
		sub->state = IV_ORPHANED;
		sub->mm = NULL;
	}
	pthread_rwlock_destroy(&s->list_lock);
	pthread_cond_destroy(&s->wq);
	pthread_mutex_destroy(&s->lock);
	free(s);
	mm->notifier_subscriptions = NULL;
}

int zd_mmu_notifier_register(struct zd_mmu_notifier *sub, struct zd_mm *mm)
{
	struct zd_mmu_notifier_subscriptions *s;

	if (!sub->ops || sub->registered) {
		zd_pr_err(mm->m, "pid %d: mmu_notifier_register: %s", mm->pid,
			  !sub->ops ? "no ops" : "already registered");
		return -EINVAL;
	}
	s = subs_of(mm, true);
	if (!s) {
		zd_pr_err(mm->m, "pid %d: mmu_notifier_register: no memory for subscriptions",
			  mm->pid);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&s->list_lock);
	sub->mm = mm;
	sub->next = s->list;
	s->list = sub;
	sub->registered = true;
	pthread_rwlock_unlock(&s->list_lock);
	return 0;
}

void zd_mmu_notifier_unregister(struct zd_mmu_notifier *sub, struct zd_mm *mm)
{
	struct zd_mmu_notifier_subscriptions *s = subs_of(mm, false);
	struct zd_mmu_notifier **pp;

	if (!s)
		return;
	pthread_rwlock_wrlock(&s->list_lock);
	if (sub->registered) {
		if (sub->ops->release)
			sub->ops->release(sub, mm);
		for (pp = &s->list; *pp && *pp != sub; pp = &(*pp)->next)
			;
		if (*pp)
			*pp = sub->next;
		sub->registered = false;
		sub->next = NULL;
	}
	pthread_rwlock_unlock(&s->list_lock);
}

int zd_mmu_interval_notifier_insert_locked(struct zd_mmu_interval_notifier *sub,
					   struct zd_mm *mm, uint64_t start, uint64_t length,
					   const struct zd_mmu_interval_notifier_ops *ops)
{
	struct zd_mmu_notifier_subscriptions *s;
	const char *why = NULL;

	if (!ops || !ops->invalidate)
		why = "no invalidate op";
	else if (!length || start + length - 1 < start)
		why = "empty or wrapping range";
	else if (sub->state == IV_INSERTED || sub->state == IV_DEFERRED_INSERT)
		why = "already inserted";
	if (why) {
		zd_pr_err(mm->m, "pid %d: mmu_interval_notifier_insert [0x%llx, +0x%llx): %s",
			  mm->pid, (unsigned long long)start, (unsigned long long)length, why);
		return -EINVAL;
	}
	s = subs_of(mm, true);
	if (!s) {
		zd_pr_err(mm->m, "pid %d: mmu_interval_notifier_insert: no memory", mm->pid);
		return -ENOMEM;
	}
	sub->mm = mm;
	sub->ops = ops;
	sub->start = start;
	sub->last = start + length - 1;
	sub->next = sub->deferred_next = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->active_invalidate_ranges) {
		/* during an invalidation: seq odd, so read_begin waits for its end */
		if (s->invalidate_seq & 1) {
			sub->deferred_next = s->deferred;
			s->deferred = sub;
			sub->state = IV_DEFERRED_INSERT;
		} else {
			__atomic_store_n(&s->invalidate_seq, s->invalidate_seq | 1,
					 __ATOMIC_RELEASE);
			sub->next = s->itree;
			s->itree = sub;
			sub->state = IV_INSERTED;
		}
		__atomic_store_n(&sub->invalidate_seq, s->invalidate_seq, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&sub->invalidate_seq, s->invalidate_seq - 1, __ATOMIC_RELAXED);
		sub->next = s->itree;
		s->itree = sub;
		sub->state = IV_INSERTED;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int zd_mmu_interval_notifier_insert(struct zd_mmu_interval_notifier *sub, struct zd_mm *mm,
				    uint64_t start, uint64_t length,
				    const struct zd_mmu_interval_notifier_ops *ops)
{
	return zd_mmu_interval_notifier_insert_locked(sub, mm, start, length, ops);
}

void zd_mmu_interval_notifier_remove(struct zd_mmu_interval_notifier *sub)
{
	struct zd_mm *mm = sub->mm;
	struct zd_mmu_notifier_subscriptions *s;
	unsigned long seq = 0;

	/* mm is NULL once orphaned by the mm's end (or never inserted) */
	if (!mm || !(s = subs_of(mm, false)))
		return;
	pthread_mutex_lock(&s->lock);
	if (sub->state == IV_NONE || sub->state == IV_ORPHANED) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (s->invalidate_seq & 1) {
		seq = s->invalidate_seq;
		if (sub->state == IV_DEFERRED_INSERT) {
			struct zd_mmu_interval_notifier **pp;

			for (pp = &s->deferred; *pp && *pp != sub; pp = &(*pp)->deferred_next)
				;
			if (*pp)
				*pp = sub->deferred_next;
			sub->state = IV_NONE;
		} else if (sub->state == IV_INSERTED) {
			sub->deferred_next = s->deferred;
			s->deferred = sub;
			sub->state = IV_DEFERRED_REMOVE;
		}
	} else {
		unlink_interval(s, sub);
		sub->state = IV_NONE;
	}
	/* wait_event(): no invalidation may still be calling sub */
	while (seq && s->invalidate_seq == seq)
		pthread_cond_wait(&s->wq, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

unsigned long zd_mmu_interval_read_begin(struct zd_mmu_interval_notifier *sub)
{
	struct zd_mmu_notifier_subscriptions *s = subs_of(sub->mm, false);
	unsigned long seq;

	pthread_mutex_lock(&s->lock);
	seq = __atomic_load_n(&sub->invalidate_seq, __ATOMIC_ACQUIRE);
	/* the interval's seq equals the mm's odd seq: it is being invalidated */
	while (seq == s->invalidate_seq && (seq & 1))
		pthread_cond_wait(&s->wq, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return seq;
}
