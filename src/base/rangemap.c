/*
 * Copy-on-write range table behind zd_rangemap (see rangemap.h).
 */
#include "base/rangemap.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "base/align.h"

void zd_rangemap_init(struct zd_rangemap *rm, struct zd_rcu *rcu)
{
	rm->table = NULL;
	rm->rcu = rcu;
	pthread_mutex_init(&rm->lock, NULL);
}

void zd_rangemap_destroy(struct zd_rangemap *rm)
{
	free(rm->table);
	rm->table = NULL;
	pthread_mutex_destroy(&rm->lock);
}

void *zd_rangemap_lookup(struct zd_rangemap *rm, uint64_t index)
{
	struct zd_rangemap_table *t = __atomic_load_n(&rm->table, __ATOMIC_ACQUIRE);
	size_t lo = 0, hi;

	if (!t)
		return NULL;
	hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->e[mid].last < index)
			lo = mid + 1;
		else if (t->e[mid].first > index)
			hi = mid;
		else
			return t->e[mid].ptr;
	}
	return NULL;
}

int zd_rangemap_for_each(struct zd_rangemap *rm, void *arg,
			 int (*fn)(uint64_t first, uint64_t last, void *ptr, void *arg))
{
	struct zd_rangemap_table *t = __atomic_load_n(&rm->table, __ATOMIC_ACQUIRE);
	int rc = 0;

	for (size_t i = 0; t && i < t->n && !rc; i++)
		rc = fn(t->e[i].first, t->e[i].last,
			__atomic_load_n(&t->e[i].ptr, __ATOMIC_ACQUIRE), arg);
	return rc;
}

/* Publish a new table and retire the old one after a grace period. */
static void publish(struct zd_rangemap *rm, struct zd_rangemap_table *nt)
{
	struct zd_rangemap_table *old = rm->table;

	__atomic_store_n(&rm->table, nt, __ATOMIC_RELEASE);
	zd_synchronize_rcu(rm->rcu);
	free(old);
}

static int insert_locked(struct zd_rangemap *rm, uint64_t first, uint64_t last, void *ptr)
{
	struct zd_rangemap_table *t = rm->table, *nt;
	size_t n = t ? t->n : 0, pos = 0;

	while (pos < n && t->e[pos].last < first)
		pos++;
	if (pos < n && t->e[pos].first <= last)
		return -EEXIST;
	nt = malloc(sizeof(*nt) + (n + 1) * sizeof(nt->e[0]));
	if (!nt)
		return -ENOMEM;
	nt->n = n + 1;
	if (pos)
		memcpy(nt->e, t->e, pos * sizeof(nt->e[0]));
	nt->e[pos] = (struct zd_rangemap_entry){ first, last, ptr };
	if (n > pos)
		memcpy(&nt->e[pos + 1], &t->e[pos], (n - pos) * sizeof(nt->e[0]));
	publish(rm, nt);
	return 0;
}

int zd_rangemap_store(struct zd_rangemap *rm, uint64_t first, uint64_t last, void *ptr)
{
	int rc;

	if (last < first)
		return -EINVAL;
	pthread_mutex_lock(&rm->lock);
	rc = insert_locked(rm, first, last, ptr);
	pthread_mutex_unlock(&rm->lock);
	return rc;
}

void *zd_rangemap_erase(struct zd_rangemap *rm, uint64_t first)
{
	struct zd_rangemap_table *t, *nt = NULL;
	void *ptr = NULL;
	size_t pos;

	pthread_mutex_lock(&rm->lock);
	t = rm->table;
	for (pos = 0; t && pos < t->n && t->e[pos].first != first; pos++)
		;
	if (t && pos < t->n) {
		ptr = t->e[pos].ptr;
		if (t->n > 1) {
			nt = malloc(sizeof(*nt) + (t->n - 1) * sizeof(nt->e[0]));
			if (!nt) {
				/* Cannot shrink: mark the slot empty in place instead. */
				__atomic_store_n(&t->e[pos].ptr, NULL, __ATOMIC_RELEASE);
				zd_synchronize_rcu(rm->rcu);
				pthread_mutex_unlock(&rm->lock);
				return ptr;
			}
			nt->n = t->n - 1;
			memcpy(nt->e, t->e, pos * sizeof(nt->e[0]));
			memcpy(&nt->e[pos], &t->e[pos + 1], (t->n - pos - 1) * sizeof(nt->e[0]));
		}
		publish(rm, nt);
	}
	pthread_mutex_unlock(&rm->lock);
	return ptr;
}

int zd_rangemap_alloc(struct zd_rangemap *rm, uint64_t size, uint64_t align, uint64_t min,
		      uint64_t max, void *ptr, uint64_t *first)
{
	struct zd_rangemap_table *t;
	uint64_t cand;
	int rc = -EBUSY;

	if (!size || !align || (align & (align - 1)))
		return -EINVAL;
	pthread_mutex_lock(&rm->lock);
	t = rm->table;
	cand = ZD_ALIGN(min, align);
	for (size_t i = 0; ; i++) {
		uint64_t gap_end = (t && i < t->n) ? t->e[i].first : max + 1;
		if (cand >= min && cand + size - 1 >= cand && cand + size - 1 < gap_end &&
		    cand + size - 1 <= max) {
			rc = insert_locked(rm, cand, cand + size - 1, ptr);
			if (!rc)
				*first = cand;
			break;
		}
		if (!t || i >= t->n)
			break;
		if (t->e[i].last + 1 > cand)
			cand = ZD_ALIGN(t->e[i].last + 1, align);
	}
	pthread_mutex_unlock(&rm->lock);
	return rc;
}
