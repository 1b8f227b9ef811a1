/*
 * The types of the machine's small sleepable RCU and of its RCU-published
 * range tables, which struct zd_machine embeds (src/base/rcu.h and
 * src/base/rangemap.h hold the operations). Readers count in the current
 * phase; a grace period waits for the old phase's readers twice.
 */
#ifndef ZONEDEV_RCU_H
#define ZONEDEV_RCU_H

#include <pthread.h>

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

#endif
