/*
 * Radix tree behind zd_xarray. Height is fixed at init so a lookup is
 * height pointer hops; a key wider than the tree is simply absent.
 */
#include "base/xarray.h"
#include <errno.h>
#include <stdlib.h>

#define XA_SHIFT 6
#define XA_SLOTS (1u << XA_SHIFT)

struct zd_xa_node {
	unsigned count;
	void *slots[XA_SLOTS];
};

void zd_xa_init(struct zd_xarray *xa, unsigned key_bits)
{
	xa->height = (key_bits + XA_SHIFT - 1) / XA_SHIFT;
	if (!xa->height)
		xa->height = 1;
	xa->count = 0;
	xa->root = NULL;
}

static unsigned slot_of(uint64_t index, unsigned level)
{
	return (unsigned)(index >> (level * XA_SHIFT)) & (XA_SLOTS - 1);
}

static bool fits(const struct zd_xarray *xa, uint64_t index)
{
	return xa->height * XA_SHIFT >= 64 || index >> (xa->height * XA_SHIFT) == 0;
}

void *zd_xa_load(const struct zd_xarray *xa, uint64_t index)
{
	const struct zd_xa_node *n = xa->root;

	if (!fits(xa, index))
		return NULL;
	for (unsigned level = xa->height; n && level > 1; level--)
		n = n->slots[slot_of(index, level - 1)];
	return n ? n->slots[slot_of(index, 0)] : NULL;
}

static void *erase_rec(struct zd_xa_node **np, uint64_t index, unsigned level)
{
	struct zd_xa_node *n = *np;
	unsigned s = slot_of(index, level - 1);
	void *old;

	if (!n)
		return NULL;
	if (level == 1) {
		old = n->slots[s];
		if (old) {
			n->slots[s] = NULL;
			n->count--;
		}
	} else {
		struct zd_xa_node *child = n->slots[s];
		old = erase_rec((struct zd_xa_node **)&n->slots[s], index, level - 1);
		if (child && !n->slots[s])
			n->count--;
	}
	if (!n->count) {
		free(n);
		*np = NULL;
	}
	return old;
}

void *zd_xa_erase(struct zd_xarray *xa, uint64_t index)
{
	void *old;

	if (!fits(xa, index))
		return NULL;
	old = erase_rec(&xa->root, index, xa->height);
	if (old)
		xa->count--;
	return old;
}

int zd_xa_store(struct zd_xarray *xa, uint64_t index, void *entry)
{
	struct zd_xa_node *n;

	if (!entry) {
		zd_xa_erase(xa, index);
		return 0;
	}
	if (!fits(xa, index))
		return -EINVAL;
	if (!xa->root && !(xa->root = calloc(1, sizeof(*xa->root))))
		return -ENOMEM;
	n = xa->root;
	for (unsigned level = xa->height; level > 1; level--) {
		unsigned s = slot_of(index, level - 1);
		struct zd_xa_node *child = n->slots[s];
		if (!child) {
			child = calloc(1, sizeof(*child));
			if (!child)
				return -ENOMEM;
			n->slots[s] = child;
			n->count++;
		}
		n = child;
	}
	if (!n->slots[slot_of(index, 0)]) {
		n->count++;
		xa->count++;
	}
	n->slots[slot_of(index, 0)] = entry;
	return 0;
}

static void *find_rec(const struct zd_xa_node *n, uint64_t *index, uint64_t max, unsigned level,
		      uint64_t prefix)
{
	unsigned shift = (level - 1) * XA_SHIFT;
	unsigned first = (prefix == (*index >> (shift + XA_SHIFT))) ? slot_of(*index, level - 1) : 0;

	for (unsigned s = first; s < XA_SLOTS; s++) {
		uint64_t base = (prefix << (shift + XA_SHIFT)) | ((uint64_t)s << shift);
		if (base > max)
			return NULL;
		if (!n->slots[s])
			continue;
		if (level == 1) {
			*index = base;
			return n->slots[s];
		}
		uint64_t sub = (prefix << XA_SHIFT) | s;
		void *e = find_rec(n->slots[s], index, max, level - 1, sub);
		if (e)
			return e;
	}
	return NULL;
}

void *zd_xa_find(const struct zd_xarray *xa, uint64_t *index, uint64_t max)
{
	if (!xa->root || !fits(xa, *index))
		return NULL;
	return find_rec(xa->root, index, max, xa->height, 0);
}

static void destroy_rec(struct zd_xa_node *n, unsigned level)
{
	if (!n)
		return;
	if (level > 1)
		for (unsigned s = 0; s < XA_SLOTS; s++)
			destroy_rec(n->slots[s], level - 1);
	free(n);
}

void zd_xa_destroy(struct zd_xarray *xa)
{
	destroy_rec(xa->root, xa->height);
	xa->root = NULL;
	xa->count = 0;
}
