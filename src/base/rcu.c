/*
 * synchronize for the phase-counter RCU in rcu.h. Writers serialise on
 * sync_lock; each flip waits until the retired phase's count drains.
 */
#include "base/rcu.h"
#include <sched.h>

void zd_rcu_init(struct zd_rcu *r)
{
	r->gp = 0;
	r->cnt[0] = r->cnt[1] = 0;
	pthread_mutex_init(&r->sync_lock, NULL);
}

void zd_rcu_destroy(struct zd_rcu *r)
{
	pthread_mutex_destroy(&r->sync_lock);
}

static void flip_and_wait(struct zd_rcu *r)
{
	unsigned long old = __atomic_fetch_add(&r->gp, 1, __ATOMIC_SEQ_CST);
	unsigned idx = (unsigned)(old & 1);

	while (__atomic_load_n(&r->cnt[idx], __ATOMIC_ACQUIRE))
		sched_yield();
}

void zd_synchronize_rcu(struct zd_rcu *r)
{
	pthread_mutex_lock(&r->sync_lock);
	flip_and_wait(r);
	flip_and_wait(r);
	pthread_mutex_unlock(&r->sync_lock);
}
