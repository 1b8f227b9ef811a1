/*
 * Intrusive doubly linked lists (the kernel's list_head), used by the buddy
 * free lists inside struct zd_page. An empty list points at itself.
 * Links are stored with relaxed atomics: lru.next shares its word with
 * compound_head, which pfn scanners (offline's migration, PageAnon on any
 * page) read without the zone lock, as the kernel's racy page-flag reads
 * do; the list itself is only walked under its lock.
 */
#ifndef ZD_BASE_LIST_H
#define ZD_BASE_LIST_H

#include <stddef.h>
#include <zonedev/mm_types.h>

#define zd_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void zd_list_init(struct zd_list_head *h) { h->next = h->prev = h; }
static inline int zd_list_empty(const struct zd_list_head *h) { return h->next == h; }
#define ZD_LIST_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
static inline void zd_list_add(struct zd_list_head *n, struct zd_list_head *h)
{
	ZD_LIST_SET(n->next, h->next);
	ZD_LIST_SET(n->prev, h);
	ZD_LIST_SET(h->next->prev, n);
	ZD_LIST_SET(h->next, n);
}
static inline void zd_list_del(struct zd_list_head *e)
{
	ZD_LIST_SET(e->prev->next, e->next);
	ZD_LIST_SET(e->next->prev, e->prev);
	ZD_LIST_SET(e->next, NULL);
	ZD_LIST_SET(e->prev, NULL);
}

#endif
