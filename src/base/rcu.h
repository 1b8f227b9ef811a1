/*
 * A small sleepable-RCU for the reader paths that must survive concurrent
 * hot-remove (pfn_valid() reading a section's usage). Readers bump the
 * counter of the current phase; synchronize flips the phase and waits for the
 * old phase's readers twice, so any reader that could have seen an
 * unpublished pointer has left before it is freed.
 */
#ifndef ZD_BASE_RCU_H
#define ZD_BASE_RCU_H

#include <zonedev/rcu.h>

static inline unsigned zd_rcu_read_lock(struct zd_rcu *r)
{
	for (;;) {
		unsigned idx = (unsigned)(__atomic_load_n(&r->gp, __ATOMIC_ACQUIRE) & 1);
		__atomic_add_fetch(&r->cnt[idx], 1, __ATOMIC_SEQ_CST);
		/* Re-check: if the phase flipped meanwhile, the writer may already
		 * be waiting on the other counter; retry on the new one. */
		if ((__atomic_load_n(&r->gp, __ATOMIC_SEQ_CST) & 1) == idx)
			return idx;
		__atomic_sub_fetch(&r->cnt[idx], 1, __ATOMIC_RELEASE);
	}
}
static inline void zd_rcu_read_unlock(struct zd_rcu *r, unsigned idx)
{
	__atomic_sub_fetch(&r->cnt[idx], 1, __ATOMIC_RELEASE);
}
void zd_rcu_init(struct zd_rcu *r);
void zd_rcu_destroy(struct zd_rcu *r);
void zd_synchronize_rcu(struct zd_rcu *r);

#endif
