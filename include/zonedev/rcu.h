/*
 * The types of the machine's small sleepable RCU, of its RCU-published
 * range tables and of its read-write locks, which struct zd_machine embeds (src/base/rcu.h and
 * src/base/rangemap.h hold the operations). Readers count in the current
 * phase; a grace period waits for the old phase's readers twice.
 */
#ifndef ZONEDEV_RCU_H
#define ZONEDEV_RCU_H

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A pthread_rwlock_t by size alone: strict C11 without _POSIX_C_SOURCE has
 * no pthread_rwlock_t, and the public headers compile there. The library
 * reaches the lock through ZD_RWLOCK() (src/base/rwlock.h, which checks
 * that it fits). */
typedef union {
	unsigned char opaque[64];
	long long align;
} zd_rwlock_t;

struct zd_rcu {
	unsigned long gp;               /* grace-period phase: readers count in cnt[gp & 1] */
	long cnt[2];
	pthread_mutex_t sync_lock;      /* one synchronize at a time */
};

/* An RCU-published range table (src/base/rangemap.c). */
struct zd_rangemap_table;
struct zd_rangemap {
	struct zd_rangemap_table *table;  /* published with release stores */
	pthread_mutex_t lock;             /* writers */
	struct zd_rcu *rcu;               /* whose grace periods free old tables */
};

#ifdef __cplusplus
}
#endif

#endif
