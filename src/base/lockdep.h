/*
 * Executable lock rules (the kernel's lockdep_assert_held()): a lock that
 * some functions require their caller to hold records its holder, and
 * those functions check it, firing a WARN (counted like any other) when
 * the caller does not hold it. Owners are recorded for exclusive holds
 * only (mutexes, the write side of rwlocks). Compiled out with NDEBUG.
 */
#ifndef ZD_BASE_LOCKDEP_H
#define ZD_BASE_LOCKDEP_H

#include <pthread.h>
#include <zonedev/log.h>

static inline unsigned long zd_lock_self(void)
{
	return (unsigned long)pthread_self();
}
static inline void zd_lock_set_owner(unsigned long *owner)
{
	__atomic_store_n(owner, zd_lock_self(), __ATOMIC_RELAXED);
}
static inline void zd_lock_clear_owner(unsigned long *owner)
{
	__atomic_store_n(owner, 0, __ATOMIC_RELAXED);
}

#ifdef NDEBUG
#define zd_lockdep_assert_held(m, owner, what) ((void)0)
#else
#define zd_lockdep_assert_held(m, owner, what)                                               \
	((void)ZD_WARN(m, __atomic_load_n(&(owner), __ATOMIC_RELAXED) != zd_lock_self(),       \
		       "%s: %s must be held here", __func__, what))
#endif

#endif
