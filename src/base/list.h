/*
 * Intrusive doubly linked lists (the kernel's list_head), used by the buddy
 * free lists inside struct zd_page. An empty list points at itself.
 */
#ifndef ZD_BASE_LIST_H
#define ZD_BASE_LIST_H

#include <stddef.h>
#include <zonedev/mm_types.h>

#define zd_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void zd_list_init(struct zd_list_head *h) { h->next = h->prev = h; }
static inline int zd_list_empty(const struct zd_list_head *h) { return h->next == h; }
static inline void zd_list_add(struct zd_list_head *n, struct zd_list_head *h)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}
static inline void zd_list_del(struct zd_list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = NULL;
}

#endif
