/*
 * The machine's physical address space as a resource tree, modelled on the
 * kernel's kernel/resource.c (spec/core.md §5).
 *
 * Shape: every node has a parent, an ordered singly linked list of children
 * and a next sibling; siblings are sorted by start address and never overlap,
 * and a child always lies inside its parent. The root is the machine's
 * embedded iomem_resource and is never freed here.
 *
 * Locking: each exported function takes m->resource_lock itself, shared for
 * lookups and dumps, exclusive for changes. The static helpers below run with
 * the lock already held, which is how one exported operation builds on another
 * without taking the lock twice. The log ring lock is a leaf lock, so logging
 * while holding the resource lock is fine. Callbacks of
 * zd_walk_system_ram_range() run with the lock dropped, like the kernel's
 * walkers, so they may call back into this file.
 *
 * Ownership: nodes the tree allocates (region requests, free-region searches,
 * zd_resource_alloc()) carry tree_owned and a private copy of their name; they
 * are freed when they leave the tree. Nodes supplied by a caller are only
 * unlinked (their link fields cleared) and stay the caller's memory.
 *
 * Every failing path leaves the tree exactly as it found it and logs one line.
 * The read-only views built on zd_walk_iomem_res() — System RAM walks,
 * /proc/iomem text, JSON and the import parser — live in iomem.c; the
 * free-space search in free_mem_region.c (both through kernel/internal.h).
 */
#include <zonedev/err.h>
#include <zonedev/ioport.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/internal.h"

/* ------------------------------------------------------------- formatting */

/*
 * A range the way the kernel's %pR shows it: a type tag, then zero padded
 * "0x" numbers (at least 8 digits for memory, 4 for I/O ports), a single
 * number when the range is one unit long.
 */
static const char *fmt_range(char *buf, size_t len, unsigned long flags, phys_addr_t start,
			     phys_addr_t end)
{
	unsigned long type = flags & ZD_IORESOURCE_TYPE_BITS;
	const char *tag = "??? ";
	int digits = 8, k;

	if (type == ZD_IORESOURCE_MEM) {
		tag = "mem ";
	} else if (type == ZD_IORESOURCE_IO) {
		tag = "io  ";
		digits = 4;
	}
	if (start == end)
		k = snprintf(buf, len, "[%s0x%0*llx", tag, digits, (unsigned long long)start);
	else
		k = snprintf(buf, len, "[%s0x%0*llx-0x%0*llx", tag, digits,
			     (unsigned long long)start, digits, (unsigned long long)end);
	if (k < 0 || (size_t)k >= len)
		return buf;
	if (type != ZD_IORESOURCE_MEM && type != ZD_IORESOURCE_IO)
		snprintf(buf + k, len - (size_t)k, " flags 0x%lx]", flags);
	else
		snprintf(buf + k, len - (size_t)k, "%s]",
			 flags & ZD_IORESOURCE_DISABLED ? " disabled" : "");
	return buf;
}

const char *zd_res_fmt(char *buf, size_t len, const struct zd_resource *r)
{
	return fmt_range(buf, len, r->flags, r->start, r->end);
}

const char *zd_res_name(const struct zd_resource *r)
{
	return r->name ? r->name : "<BAD>";
}

/* ------------------------------------------------------------- allocation */

struct zd_resource *zd_res_new(const char *name)
{
	struct zd_resource *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (name) {
		r->name_buf = strdup(name);
		if (!r->name_buf) {
			free(r);
			return NULL;
		}
	}
	r->name = r->name_buf;
	r->tree_owned = true;
	return r;
}

void zd_res_free(struct zd_resource *r)
{
	free(r->name_buf);
	free(r);
}

/*
 * Take a node that has just left the tree: clear its links and free it if the
 * tree owns it. The node's children must already have been dealt with.
 */
void zd_res_drop(struct zd_resource *r)
{
	if (r->tree_owned) {
		zd_res_free(r);
		return;
	}
	r->parent = r->sibling = r->child = NULL;
}

/* Drop r and everything below it; r is already unlinked from its parent. */
void zd_res_drop_subtree(struct zd_resource *r)
{
	struct zd_resource *c = r->child, *next;

	while (c) {
		next = c->sibling;
		zd_res_drop_subtree(c);
		c = next;
	}
	r->child = NULL;
	zd_res_drop(r);
}

/* ------------------------------------------------------------ tree basics */

/* Pre-order successor of p that stays inside top's subtree (top excluded). */
struct zd_resource *zd_res_next_in_subtree(struct zd_resource *p, const struct zd_resource *top)
{
	if (p->child)
		return p->child;
	while (!p->sibling) {
		p = p->parent;
		if (!p || p == top)
			return NULL;
	}
	return p->sibling;
}

bool zd_res_ranges_overlap(phys_addr_t s1, phys_addr_t e1, phys_addr_t s2, phys_addr_t e2)
{
	return s1 <= e2 && e1 >= s2;
}

/* Lowest child of parent overlapping [start, end], or NULL. */
struct zd_resource *zd_res_first_overlap(const struct zd_resource *parent, phys_addr_t start,
					 phys_addr_t end)
{
	struct zd_resource *c;

	for (c = parent->child; c; c = c->sibling) {
		if (c->start > end)
			return NULL;
		if (c->end >= start)
			return c;
	}
	return NULL;
}

/*
 * Link new as a direct child of root without nesting. Returns NULL when it
 * went in, root itself when new is inverted or does not fit inside root, or
 * the first child that overlaps new.
 */
struct zd_resource *zd_res_link_child(struct zd_resource *root, struct zd_resource *new)
{
	struct zd_resource **pp, *c;

	if (new->end < new->start || new->start < root->start || new->end > root->end)
		return root;
	for (pp = &root->child; (c = *pp); pp = &c->sibling) {
		if (c->start > new->end)
			break;
		if (c->end >= new->start)
			return c;
	}
	new->sibling = *pp;
	new->parent = root;
	*pp = new;
	return NULL;
}

/* Remove old from its parent's child list; its own children stay on it. */
static int unlink_node(struct zd_resource *old)
{
	struct zd_resource **pp;

	if (!old->parent)
		return -EINVAL;
	for (pp = &old->parent->child; *pp; pp = &(*pp)->sibling) {
		if (*pp == old) {
			*pp = old->sibling;
			old->sibling = NULL;
			old->parent = NULL;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Insert new below parent, descending into whichever existing node fully
 * contains it, and making new the parent of the existing nodes it fully
 * contains. Returns NULL on success, parent when new does not fit inside the
 * starting parent, new itself if it is already linked, or the node new would
 * straddle. Nothing changes unless NULL is returned.
 */
struct zd_resource *zd_res_insert_locked(struct zd_machine *m, struct zd_resource *parent,
					 struct zd_resource *new)
{
	struct zd_resource *first, *last, *p;

	for (;; parent = first) {
		first = zd_res_link_child(parent, new);
		if (!first || first == parent)
			return first;
		if (ZD_WARN(m, first == new, "resource %s \"%s\" inserted twice",
			    zd_res_fmt((char[RANGE_STR]){0}, RANGE_STR, new), zd_res_name(new)))
			return first;
		/* Stop descending once first no longer encloses new (or equals it). */
		if (first->start > new->start || first->end < new->end)
			break;
		if (first->start == new->start && first->end == new->end)
			break;
	}

	/* first..last: the run of parent's children that overlap new. */
	for (last = first;; last = last->sibling) {
		if (last->start < new->start || last->end > new->end)
			return last;
		if (!last->sibling || last->sibling->start > new->end)
			break;
	}

	new->parent = parent;
	new->sibling = last->sibling;
	new->child = first;
	last->sibling = NULL;
	for (p = first; p; p = p->sibling)
		p->parent = new;
	if (parent->child == first) {
		parent->child = new;
	} else {
		for (p = parent->child; p->sibling != first; p = p->sibling)
			;
		p->sibling = new;
	}
	return NULL;
}

/*
 * Claim [start, start+n-1] busy, starting at parent and moving down into any
 * non-busy node that is in the way. res is filled in and linked on success.
 * On failure -EBUSY, one log line unless quiet, and res is not linked.
 */
int zd_res_request_region_locked(struct zd_machine *m, struct zd_resource *parent,
				 struct zd_resource *res, phys_addr_t start, phys_addr_t n,
				 unsigned long flags, bool quiet)
{
	char a[RANGE_STR], b[RANGE_STR];
	struct zd_resource *conflict;

	res->start = start;
	res->end = start + n - 1;
	for (;;) {
		res->flags = (parent->flags & (ZD_IORESOURCE_TYPE_BITS | ZD_IORESOURCE_EXT_TYPE_BITS)) |
			     ZD_IORESOURCE_BUSY | flags;
		res->desc = parent->desc;
		conflict = zd_res_link_child(parent, res);
		if (!conflict)
			return 0;
		if (conflict != parent && !(conflict->flags & ZD_IORESOURCE_BUSY)) {
			parent = conflict;
			continue;
		}
		/*
		 * A busy holder: give up. (The kernel waits for IORESOURCE_MUXED
		 * holders to let go; nothing here could release one meanwhile,
		 * so a muxed conflict is reported as busy too.)
		 */
		if (quiet)
			return -EBUSY;
		if (conflict == parent)
			zd_pr_warn(m, "resource: request %s \"%s\" does not fit inside %s \"%s\"",
				   zd_res_fmt(a, sizeof(a), res), zd_res_name(res),
				   zd_res_fmt(b, sizeof(b), parent), zd_res_name(parent));
		else if (conflict->desc == ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY)
			zd_pr_warn(m, "Unaddressable device %s %s conflicts with %s",
				   zd_res_name(conflict), zd_res_fmt(a, sizeof(a), conflict),
				   zd_res_fmt(b, sizeof(b), res));
		else
			zd_pr_warn(m, "resource: request %s \"%s\" conflicts with %s \"%s\"",
				   zd_res_fmt(a, sizeof(a), res), zd_res_name(res),
				   zd_res_fmt(b, sizeof(b), conflict), zd_res_name(conflict));
		return -EBUSY;
	}
}

/*
 * The three-way answer of region_intersects() for [start, end] against the
 * children of parent. A child that matches counts as "type"; one that does
 * not counts as "other" unless matching descendants cover all of its part of
 * the range. Addresses nobody claims count as neither.
 */
static int region_intersects_locked(const struct zd_resource *parent, phys_addr_t start,
				    phys_addr_t end, unsigned long flags, unsigned long desc)
{
	int type = 0, other = 0;
	struct zd_resource *p, *dp;

	for (p = parent->child; p && p->start <= end; p = p->sibling) {
		phys_addr_t lo, hi;
		bool covered = false;

		if (p->end < start)
			continue;
		if (zd_resource_type_match(p, flags, desc)) {
			type++;
			continue;
		}
		/* The overlap [lo, hi]; lo advances past matching descendants. */
		lo = p->start > start ? p->start : start;
		hi = p->end < end ? p->end : end;
		for (dp = p->child; dp; dp = zd_res_next_in_subtree(dp, p)) {
			/* Tested against the whole request, as the kernel does. */
			if (!zd_res_ranges_overlap(dp->start, dp->end, start, end))
				continue;
			if (!zd_resource_type_match(dp, flags, desc))
				continue;
			type++;
			if (dp->start > lo)
				break;          /* a gap before this one stays uncovered */
			if (dp->end >= hi) {
				covered = true;
				break;
			}
			/* Never backwards: a matching resource nested inside one
			 * already counted ends before lo. */
			if (dp->end + 1 > lo)
				lo = dp->end + 1;
		}
		if (!covered)
			other++;
	}
	if (type == 0)
		return ZD_REGION_DISJOINT;
	if (other == 0)
		return ZD_REGION_INTERSECTS;
	return ZD_REGION_MIXED;
}

/* n bytes from start: false when n is 0 or the last byte would wrap. */
static bool range_ok(phys_addr_t start, phys_addr_t n)
{
	return n != 0 && start + (n - 1) >= start;
}

/* ----------------------------------------------------- tree-owned helpers */

struct zd_resource *zd_resource_alloc(const char *name, phys_addr_t start, phys_addr_t size,
				      unsigned long flags, unsigned long desc)
{
	struct zd_resource *r;

	if (!range_ok(start, size))
		return NULL;
	r = zd_res_new(name);
	if (!r)
		return NULL;
	r->start = start;
	r->end = start + size - 1;
	r->flags = flags;
	r->desc = desc;
	return r;
}

void zd_resource_free(struct zd_resource *r)
{
	if (!r || !r->tree_owned || r->parent)
		return;
	zd_res_drop_subtree(r);
}

/* ---------------------------------------------------- requests and inserts */

struct zd_resource *zd_request_resource_conflict(struct zd_machine *m, struct zd_resource *root,
						 struct zd_resource *new)
{
	char a[RANGE_STR], b[RANGE_STR];
	struct zd_resource *conflict;

	root = root_or(m, root);
	res_wrlock(m);
	if (ZD_WARN(m, new->parent != NULL, "resource %s \"%s\" is already in a tree",
		    zd_res_fmt(a, sizeof(a), new), zd_res_name(new)))
		conflict = new;
	else
		conflict = zd_res_link_child(root, new);
	if (conflict && conflict != new)
		zd_pr_warn(m, "resource: cannot claim %s \"%s\": %s %s \"%s\"",
			   zd_res_fmt(a, sizeof(a), new), zd_res_name(new),
			   conflict == root ? "outside" : "conflicts with",
			   zd_res_fmt(b, sizeof(b), conflict), zd_res_name(conflict));
	res_unlock(m);
	return conflict;
}

int zd_request_resource(struct zd_machine *m, struct zd_resource *root, struct zd_resource *new)
{
	return zd_request_resource_conflict(m, root, new) ? -EBUSY : 0;
}

int zd_insert_resource(struct zd_machine *m, struct zd_resource *parent, struct zd_resource *new)
{
	char a[RANGE_STR], b[RANGE_STR];
	struct zd_resource *conflict;
	int ret = 0;

	parent = root_or(m, parent);
	res_wrlock(m);
	if (ZD_WARN(m, new->parent != NULL || new->child != NULL,
		    "resource %s \"%s\" is already linked", zd_res_fmt(a, sizeof(a), new),
		    zd_res_name(new))) {
		ret = -EINVAL;
		goto out;
	}
	conflict = zd_res_insert_locked(m, parent, new);
	if (conflict) {
		ret = -EBUSY;
		if (conflict != new)
			zd_pr_warn(m, "resource: cannot insert %s \"%s\": %s %s \"%s\"",
				   zd_res_fmt(a, sizeof(a), new), zd_res_name(new),
				   conflict == parent ? "outside" : "straddles",
				   zd_res_fmt(b, sizeof(b), conflict), zd_res_name(conflict));
	}
out:
	res_unlock(m);
	return ret;
}

int zd_release_resource(struct zd_machine *m, struct zd_resource *old)
{
	char a[RANGE_STR];
	int ret;

	res_wrlock(m);
	ret = old == &m->iomem_resource ? -EINVAL : unlink_node(old);
	if (ret)
		zd_pr_warn(m, "resource: cannot release %s \"%s\": not in the tree",
			   zd_res_fmt(a, sizeof(a), old), zd_res_name(old));
	else
		zd_res_drop_subtree(old);
	res_unlock(m);
	return ret;
}

struct zd_resource *__zd_request_region(struct zd_machine *m, struct zd_resource *parent,
					phys_addr_t start, phys_addr_t n, const char *name,
					unsigned long flags)
{
	struct zd_resource *res;

	parent = root_or(m, parent);
	if (!range_ok(start, n)) {
		zd_pr_warn(m, "resource: request of 0x%llx bytes at 0x%llx \"%s\": %s",
			   (unsigned long long)n, (unsigned long long)start,
			   name ? name : "<BAD>",
			   n ? "range wraps past the end of the address space" : "empty range");
		return NULL;
	}
	res = zd_res_new(name);
	if (!res) {
		zd_pr_err(m, "resource: out of memory requesting \"%s\"", name ? name : "<BAD>");
		return NULL;
	}
	res_wrlock(m);
	if (zd_res_request_region_locked(m, parent, res, start, n, flags, false)) {
		res_unlock(m);
		zd_res_free(res);
		return NULL;
	}
	res_unlock(m);
	return res;
}

int __zd_release_region(struct zd_machine *m, struct zd_resource *parent, phys_addr_t start,
			phys_addr_t n)
{
	char a[RANGE_STR], b[RANGE_STR];
	phys_addr_t end = start + n - 1;
	struct zd_resource **pp, *r;

	parent = root_or(m, parent);
	res_wrlock(m);
	if (!range_ok(start, n))
		goto missing;
	pp = &parent->child;
	while ((r = *pp)) {
		if (r->start > end)
			break;
		if (r->start <= start && r->end >= end) {
			if (!(r->flags & ZD_IORESOURCE_BUSY)) {
				pp = &r->child;
				continue;
			}
			if (r->start != start || r->end != end)
				break;
			if (r->child) {
				/* The kernel would drop the children with it. */
				zd_pr_warn(m, "resource: not releasing %s \"%s\": it still holds %s \"%s\"",
					   zd_res_fmt(a, sizeof(a), r), zd_res_name(r),
					   zd_res_fmt(b, sizeof(b), r->child), zd_res_name(r->child));
				res_unlock(m);
				return -EBUSY;
			}
			*pp = r->sibling;
			r->sibling = NULL;
			r->parent = NULL;
			zd_res_drop(r);
			res_unlock(m);
			return 0;
		}
		pp = &r->sibling;
	}
missing:
	zd_pr_warn(m, "Trying to free nonexistent resource <0x%016llx-0x%016llx>",
		   (unsigned long long)start, (unsigned long long)end);
	res_unlock(m);
	return -EINVAL;
}

struct zd_resource *zd_request_mem_region(struct zd_machine *m, phys_addr_t start,
					  phys_addr_t n, const char *name)
{
	return __zd_request_region(m, &m->iomem_resource, start, n, name, 0);
}

int zd_release_mem_region(struct zd_machine *m, phys_addr_t start, phys_addr_t n)
{
	return __zd_release_region(m, &m->iomem_resource, start, n);
}

/*
 * release_mem_region_adjustable(): hot-remove gives back [start, end] of
 * busy memory, trimming, splitting or dropping each busy resource it
 * overlaps (searched through non-busy windows at any depth). The kernel
 * handles one resource containing the range; a range over several
 * adjacent ones (added by separate add_memory() calls) is released piece
 * by piece. Children that lay in the released part go with it, as the
 * kernel frees them together; returns how many bytes were released.
 */
static phys_addr_t release_adjustable_locked(struct zd_machine *m, struct zd_resource *parent,
					     phys_addr_t start, phys_addr_t end)
{
	struct zd_resource **pp = &parent->child, *r;
	phys_addr_t done = 0;

	while ((r = *pp) && r->start <= end) {
		if (r->end < start || !(r->flags & ZD_IORESOURCE_MEM)) {
			pp = &r->sibling;
			continue;
		}
		if (!(r->flags & ZD_IORESOURCE_BUSY)) {
			done += release_adjustable_locked(m, r, start, end);
			pp = &r->sibling;
			continue;
		}
		phys_addr_t lo = r->start > start ? r->start : start;
		phys_addr_t hi = r->end < end ? r->end : end;
		struct zd_resource **cp = &r->child, *c, *tail = NULL;

		done += hi - lo + 1;
		if (lo == r->start && hi == r->end) {
			*pp = r->sibling;
			r->sibling = NULL;
			r->parent = NULL;
			zd_res_drop_subtree(r);
			continue;
		}
		if (lo > r->start && hi < r->end) {
			/* Split: the part above the hole becomes a sibling. */
			tail = zd_res_new(r->name);
			if (ZD_WARN(m, !tail, "release_mem_region_adjustable: cannot split %s", r->name))
				return done;
			tail->start = hi + 1;
			tail->end = r->end;
			tail->flags = r->flags;
			tail->desc = r->desc;
			tail->parent = parent;
			tail->sibling = r->sibling;
			r->sibling = tail;
		}
		/* Children inside the released part go; those above a split move. */
		while ((c = *cp)) {
			if (c->end >= lo && c->start <= hi) {
				*cp = c->sibling;
				c->sibling = NULL;
				c->parent = NULL;
				zd_res_drop_subtree(c);
			} else if (tail && c->start > hi) {
				*cp = NULL;
				tail->child = c;
				for (; c; c = c->sibling)
					c->parent = tail;
			} else {
				cp = &c->sibling;
			}
		}
		if (lo == r->start)
			r->start = hi + 1;
		else
			r->end = lo - 1;
		pp = tail ? &tail->sibling : &r->sibling;
	}
	return done;
}

phys_addr_t zd_release_mem_region_adjustable(struct zd_machine *m, phys_addr_t start,
					     phys_addr_t size)
{
	phys_addr_t done;

	if (!range_ok(start, size))
		return 0;
	res_wrlock(m);
	done = release_adjustable_locked(m, &m->iomem_resource, start, start + size - 1);
	res_unlock(m);
	return done;
}

int zd_region_intersects(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
			 unsigned long flags, unsigned long desc)
{
	phys_addr_t end;
	int ret;

	/* No bytes intersect nothing; a range running off the top is clipped. */
	if (size == 0)
		return ZD_REGION_DISJOINT;
	end = start + (size - 1) < start ? ~(phys_addr_t)0 : start + (size - 1);
	res_rdlock(m);
	ret = region_intersects_locked(&m->iomem_resource, start, end, flags, desc);
	res_unlock(m);
	return ret;
}

/* ------------------------------------------------------------------ walks */

int zd_walk_iomem_res(struct zd_machine *m, phys_addr_t start, phys_addr_t end, void *arg,
		      int (*fn)(const struct zd_resource *res, void *arg))
{
	struct zd_resource *root = &m->iomem_resource, *p;
	int ret = 0;

	res_rdlock(m);
	for (p = root->child; p && !ret; p = zd_res_next_in_subtree(p, root)) {
		if (p->start > end)
			break;
		if (p->end >= start)
			ret = fn(p, arg);
	}
	res_unlock(m);
	return ret;
}


/* ------------------------------------------------------------- machine end */

void zd_resource_free_tree(struct zd_machine *m)
{
	struct zd_resource *root = &m->iomem_resource, *c, *next;

	res_wrlock(m);
	for (c = root->child; c; c = next) {
		next = c->sibling;
		c->parent = NULL;
		c->sibling = NULL;
		zd_res_drop_subtree(c);
	}
	root->child = NULL;
	res_unlock(m);
}
