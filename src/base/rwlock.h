/*
 * The pthread_rwlock_t inside a zd_rwlock_t (include/zonedev/rcu.h): the
 * public headers carry the lock by size so they compile as strict C11;
 * here it is the real lock again, and the build checks it fits.
 */
#ifndef ZD_BASE_RWLOCK_H
#define ZD_BASE_RWLOCK_H

#include <assert.h>
#include <pthread.h>
#include <zonedev/rcu.h>

static_assert(sizeof(pthread_rwlock_t) <= sizeof(zd_rwlock_t) &&
	      _Alignof(pthread_rwlock_t) <= _Alignof(zd_rwlock_t),
	      "zd_rwlock_t must hold a pthread_rwlock_t");

#define ZD_RWLOCK(l) ((pthread_rwlock_t *)(void *)(l))

#endif
