/*
 * zdfs: a minimal extent file system on the data area of an fsdax
 * namespace, the part of ext4/xfs that DAX needs: names, sizes, and
 * extents of the namespace's pages, allocated PMD-aligned (physically:
 * the pfn, and in the file) for the whole PMDs of a file of at least one
 * PMD, so DAX can map PMD leaves, and page by page otherwise.
 * Media: two metadata copies (slots at data offsets 0 and 64 KiB), each a
 * superblock (magic, generation, Fletcher-64 over the copy) and the whole
 * inode table. A change is written as a complete new copy into the slot
 * that is not current, with the next generation; mount takes the valid
 * copy with the higher generation, so a kill -9 (a torn copy fails its
 * checksum) leaves the old state or the new one (copy-then-flip). New
 * blocks are zeroed and reserved in the region file before the copy that
 * uses them is written.
 * Invariants: in memory the inodes equal the current copy after every
 * call (a failed commit restores the inode it changed); extents never
 * overlap each other or the metadata; blocks are freed only after
 * zd_dax_break_layout() has unmapped them and waited for their pins.
 */
#include "fs/internal.h"
#include "drivers/nvdimm/nd.h"
#include "base/align.h"
#include "base/backing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/nd_pfn.h>

#define ZDFS_MAGIC "ZDFS0001"
#define ZDFS_SLOT_BYTES (64u << 10)
#define ZDFS_USED   1u
#define ZDFS_ORPHAN 2u

struct zdfs_dinode {
	uint64_t ino, size;
	uint32_t flags, nr_ext;
	char name[ZD_DAXFS_NAME_MAX + 1];
	struct zdfs_extent ext[ZD_DAXFS_MAX_EXTENTS];
	uint8_t pad[56];
};

struct zdfs_dsuper {
	char magic[8];
	uint64_t gen, data_pages, next_ino;
	uint32_t nr_inodes, inode_size;
	uint64_t csum;
	uint8_t pad[464];
};

struct zdfs_image {
	struct zdfs_dsuper sb;
	struct zdfs_dinode inodes[ZD_DAXFS_MAX_FILES];
};

_Static_assert(sizeof(struct zdfs_dinode) == 512, "a 512-byte inode");
_Static_assert(sizeof(struct zdfs_image) <= ZDFS_SLOT_BYTES, "a copy fits its slot");

uint64_t zdfs_size_pages(const struct zdfs_inode *ip)
{
	uint64_t ps = ip->sb->m->arch.page_size;

	return (ip->d.size + ps - 1) / ps;
}

/* ---------- the media ---------- */

static uint64_t image_csum(struct zdfs_image *im)
{
	uint64_t saved = im->sb.csum, sum;

	im->sb.csum = 0;
	sum = zd_nd_fletcher64(im, sizeof(*im), true);
	im->sb.csum = saved;
	return sum;
}

static bool image_valid(struct zdfs_image *im, const struct zdfs_sb *sb)
{
	if (memcmp(im->sb.magic, ZDFS_MAGIC, 8) || im->sb.csum != image_csum(im) ||
	    im->sb.data_pages != sb->data_pages || im->sb.nr_inodes != ZD_DAXFS_MAX_FILES ||
	    im->sb.inode_size != sizeof(struct zdfs_dinode))
		return false;
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++) {
		const struct zdfs_dinode *d = &im->inodes[i];

		if (!(d->flags & ZDFS_USED))
			continue;
		if (d->nr_ext > ZD_DAXFS_MAX_EXTENTS || !memchr(d->name, 0, sizeof(d->name)))
			return false;
		for (unsigned e = 0; e < d->nr_ext; e++)
			if (d->ext[e].blk < sb->first_blk || d->ext[e].nr > sb->data_pages ||
			    d->ext[e].blk > sb->data_pages - d->ext[e].nr)
				return false;
	}
	return true;
}

static void image_build(struct zdfs_sb *sb, struct zdfs_image *im, uint64_t gen)
{
	memset(im, 0, sizeof(*im));
	memcpy(im->sb.magic, ZDFS_MAGIC, 8);
	im->sb.gen = gen;
	im->sb.data_pages = sb->data_pages;
	im->sb.next_ino = sb->next_ino;
	im->sb.nr_inodes = ZD_DAXFS_MAX_FILES;
	im->sb.inode_size = sizeof(struct zdfs_dinode);
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++) {
		const struct zdfs_meta *d = &sb->inodes[i].d;
		struct zdfs_dinode *o = &im->inodes[i];

		if (!d->used)
			continue;
		o->ino = d->ino;
		o->size = d->size;
		o->flags = ZDFS_USED | (d->orphan ? ZDFS_ORPHAN : 0);
		o->nr_ext = d->nr_ext;
		memcpy(o->name, d->name, sizeof(o->name));
		memcpy(o->ext, d->ext, sizeof(o->ext));
	}
	im->sb.csum = image_csum(im);
}

/* The next copy into the other slot; only then is it current. */
int zdfs_commit(struct zdfs_sb *sb)
{
	struct zdfs_image *im = malloc(sizeof(*im));
	int slot = !sb->live_slot, rc;

	if (!im)
		return -ENOMEM;
	image_build(sb, im, sb->gen + 1);
	rc = zd_nd_namespace_write(sb->r, (uint64_t)slot * ZDFS_SLOT_BYTES, im, sizeof(*im));
	free(im);
	if (rc) {
		zd_pr_err(sb->m, "zdfs %s: metadata generation %llu not written (%s): the file "
			  "system stays at %llu", sb->dev, ULL(sb->gen + 1), zd_errno_name(rc),
			  ULL(sb->gen));
		return rc;
	}
	sb->gen++;
	sb->live_slot = slot;
	return 0;
}

static struct zdfs_sb *sb_alloc(struct zd_nd_region *r)
{
	struct zd_nd_namespace_info in;
	const struct zd_arch *a = &r->m->arch;
	struct zdfs_sb *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	zd_nd_namespace_get(r, &in);
	sb->m = r->m;
	sb->r = r;
	sb->refcount = 1;
	pthread_mutex_init(&sb->lock, NULL);
	sb->data_pages = in.size >> a->page_shift;
	sb->first_blk = 2ULL * ZDFS_SLOT_BYTES / a->page_size;
	if (!sb->first_blk)
		sb->first_blk = 1;
	sb->pmd_pages = 1ULL << (a->pmd_shift - a->page_shift);
	sb->base_pfn = in.data_start >> a->page_shift;
	snprintf(sb->dev, sizeof(sb->dev), "pmem%d", r->id);
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++) {
		sb->inodes[i].sb = sb;
		pthread_rwlock_init(&sb->inodes[i].invalidate_lock, NULL);
		pthread_mutex_init(&sb->inodes[i].entry_lock, NULL);
		pthread_cond_init(&sb->inodes[i].layout_cond, NULL);
	}
	return sb;
}

void zdfs_sb_put(struct zdfs_sb *sb)
{
	if (__atomic_sub_fetch(&sb->refcount, 1, __ATOMIC_ACQ_REL))
		return;
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++) {
		zd_dax_free_entries(&sb->inodes[i]);
		pthread_rwlock_destroy(&sb->inodes[i].invalidate_lock);
		pthread_mutex_destroy(&sb->inodes[i].entry_lock);
		pthread_cond_destroy(&sb->inodes[i].layout_cond);
	}
	pthread_mutex_destroy(&sb->lock);
	free(sb);
}

static bool fsdax_bound(struct zd_nd_region *r)
{
	return r->mode == ZD_NS_MODE_FSDAX && zd_nd_namespace_pgmap(r) &&
	       !r->read_only;
}

/* Read the current copy into sb: 0, or -ENODEV when neither is valid. */
static int load(struct zdfs_sb *sb)
{
	uint64_t size;
	char *data = zd_nd_namespace_data(sb->r, &size);
	struct zdfs_image *im = malloc(sizeof(*im));
	int best = -1;
	uint64_t best_gen = 0;

	if (!im)
		return -ENOMEM;
	for (int slot = 0; slot < 2 && size >= 2ULL * ZDFS_SLOT_BYTES; slot++) {
		memcpy(im, data + (uint64_t)slot * ZDFS_SLOT_BYTES, sizeof(*im));
		if (image_valid(im, sb) && (best < 0 || im->sb.gen > best_gen)) {
			best = slot;
			best_gen = im->sb.gen;
		}
	}
	if (best < 0) {
		free(im);
		return -ENODEV;
	}
	memcpy(im, data + (uint64_t)best * ZDFS_SLOT_BYTES, sizeof(*im));
	sb->gen = best_gen;
	sb->live_slot = best;
	sb->next_ino = im->sb.next_ino;
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++) {
		const struct zdfs_dinode *o = &im->inodes[i];
		struct zdfs_meta *d = &sb->inodes[i].d;

		memset(d, 0, sizeof(*d));
		if (!(o->flags & ZDFS_USED))
			continue;
		d->used = true;
		d->orphan = o->flags & ZDFS_ORPHAN;
		d->ino = o->ino;
		d->size = o->size;
		d->nr_ext = o->nr_ext;
		memcpy(d->name, o->name, sizeof(d->name));
		memcpy(d->ext, o->ext, sizeof(d->ext));
	}
	free(im);
	return 0;
}

/* The mounted file system of r with its lock held, mounting it at the
 * first use; NULL with *err set. */
struct zdfs_sb *zdfs_sb_get(struct zd_nd_region *r, int *err, const char *op)
{
	struct zdfs_sb *sb = __atomic_load_n(&r->daxfs, __ATOMIC_ACQUIRE), *fresh;
	bool orphans = false, mounted = false;

	if (!fsdax_bound(r)) {
		zd_pr_err(r->m, "zdfs: %s: namespace%d.0 is not a bound, writable fsdax namespace",
			  op, r->id);
		*err = -ENODEV;
		return NULL;
	}
	if (!sb) {
		fresh = sb_alloc(r);
		if (!fresh) {
			*err = -ENOMEM;
			return NULL;
		}
		*err = load(fresh);
		if (*err) {
			if (*err == -ENODEV)
				zd_pr_err(r->m, "zdfs: %s: no file system on %s (run mkfs)", op,
					  fresh->dev);
			zdfs_sb_put(fresh);
			return NULL;
		}
		if (__atomic_compare_exchange_n(&r->daxfs, &sb, fresh, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			sb = fresh;
			mounted = true;
			zd_pr_info(r->m, "zdfs %s: mounted, generation %llu (slot %d), dax=always",
				   sb->dev, ULL(sb->gen), sb->live_slot);
		} else {
			zdfs_sb_put(fresh);   /* another thread mounted it first */
		}
	}
	pthread_mutex_lock(&sb->lock);
	/* orphans of an earlier run: nothing can have them open any more */
	for (unsigned i = 0; mounted && i < ZD_DAXFS_MAX_FILES; i++) {
		struct zdfs_inode *ip = &sb->inodes[i];

		if (ip->d.used && ip->d.orphan) {
			zd_pr_info(r->m, "zdfs %s: freeing orphan inode %llu", sb->dev,
				   ULL(ip->d.ino));
			memset(&ip->d, 0, sizeof(ip->d));
			orphans = true;
		}
	}
	if (orphans && zdfs_commit(sb))
		zd_pr_err(r->m, "zdfs %s: orphans stay until the next mount", sb->dev);
	return sb;
}

struct zdfs_inode *zdfs_lookup(struct zdfs_sb *sb, const char *name)
{
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++)
		if (sb->inodes[i].d.used && !sb->inodes[i].d.orphan &&
		    !strcmp(sb->inodes[i].d.name, name))
			return &sb->inodes[i];
	return NULL;
}

/* sb_get() and the named inode with an open reference for the call. */
struct zdfs_inode *zdfs_inode_get(struct zd_nd_region *r, const char *name, int *err,
				    const char *op)
{
	struct zdfs_sb *sb = zdfs_sb_get(r, err, op);
	struct zdfs_inode *ip;

	if (!sb)
		return NULL;
	ip = name ? zdfs_lookup(sb, name) : NULL;
	if (!ip) {
		zd_pr_err(r->m, "zdfs %s: %s: no file '%s'", sb->dev, op, name ? name : "(null)");
		*err = -ENOENT;
	} else {
		ip->opens++;
	}
	pthread_mutex_unlock(&sb->lock);
	return ip;
}

/* ---------- extents and blocks ---------- */

uint64_t zdfs_bmap(struct zdfs_inode *ip, uint64_t pgoff, uint64_t *run)
{
	for (unsigned i = 0; i < ip->d.nr_ext; i++) {
		const struct zdfs_extent *e = &ip->d.ext[i];

		if (pgoff >= e->pgoff && pgoff < e->pgoff + e->nr) {
			if (run)
				*run = e->pgoff + e->nr - pgoff;
			return e->blk + pgoff - e->pgoff;
		}
	}
	return UINT64_MAX;
}

static int cmp_blk(const void *a, const void *b)
{
	const struct zdfs_extent *x = a, *y = b;

	return x->blk < y->blk ? -1 : x->blk > y->blk;
}

/* A free run of data pages: PMD-aligned (pfn) and whole PMDs when pmd,
 * at least one page otherwise; up to want pages in *got. UINT64_MAX: none. */
static uint64_t find_free(struct zdfs_sb *sb, uint64_t want, bool pmd, uint64_t *got)
{
	struct zdfs_extent used[ZD_DAXFS_MAX_FILES * ZD_DAXFS_MAX_EXTENTS];
	size_t n = 0;
	uint64_t cur = sb->first_blk;

	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++)
		for (unsigned e = 0; sb->inodes[i].d.used && e < sb->inodes[i].d.nr_ext; e++)
			used[n++] = sb->inodes[i].d.ext[e];
	qsort(used, n, sizeof(used[0]), cmp_blk);
	for (size_t i = 0; i <= n; i++) {
		uint64_t end = i < n ? used[i].blk : sb->data_pages, start = cur, avail;

		if (pmd)
			start += (sb->pmd_pages - (sb->base_pfn + start) % sb->pmd_pages) %
				 sb->pmd_pages;
		if (start < end) {
			avail = end - start;
			if (pmd)
				avail -= avail % sb->pmd_pages;
			if (avail) {
				*got = avail < want ? avail : want;
				return start;
			}
		}
		if (i < n && used[i].blk + used[i].nr > cur)
			cur = used[i].blk + used[i].nr;
	}
	return UINT64_MAX;
}

/* Insert an extent in file order, merged with a neighbour it continues. */
static int add_extent(struct zdfs_inode *ip, uint64_t pgoff, uint64_t nr, uint64_t blk)
{
	struct zdfs_meta *d = &ip->d;
	unsigned i = 0;

	while (i < d->nr_ext && d->ext[i].pgoff < pgoff)
		i++;
	if (i && d->ext[i - 1].pgoff + d->ext[i - 1].nr == pgoff &&
	    d->ext[i - 1].blk + d->ext[i - 1].nr == blk) {
		d->ext[i - 1].nr += nr;
		return 0;
	}
	if (i < d->nr_ext && pgoff + nr == d->ext[i].pgoff && blk + nr == d->ext[i].blk) {
		d->ext[i].pgoff = pgoff;
		d->ext[i].blk = blk;
		d->ext[i].nr += nr;
		return 0;
	}
	if (d->nr_ext == ZD_DAXFS_MAX_EXTENTS)
		return -ENOSPC;
	memmove(&d->ext[i + 1], &d->ext[i], (d->nr_ext - i) * sizeof(d->ext[0]));
	d->ext[i] = (struct zdfs_extent){ pgoff, nr, blk };
	d->nr_ext++;
	return 0;
}

/* New blocks read as zeros and have their space in the region file. */
static int prepare_blocks(struct zdfs_sb *sb, uint64_t blk, uint64_t nr)
{
	struct zd_nd_namespace_info in;
	const struct zd_arch *a = &sb->m->arch;
	uint64_t off, len = nr << a->page_shift;
	char why[300];
	int rc;

	zd_nd_namespace_get(sb->r, &in);
	off = in.data_start - sb->r->start + (blk << a->page_shift);
	if (fallocate(sb->r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len)) {
		static const char zero[4096];

		for (uint64_t done = 0; done < len; done += sizeof(zero))
			if ((rc = zd_backing_write(sb->r->fd, zero, len - done < sizeof(zero) ?
						   len - done : sizeof(zero), off + done)))
				return rc;
	}
	rc = zd_backing_reserve(sb->r->fd, off, len, "the file's blocks", why, sizeof(why));
	if (rc)
		zd_pr_err(sb->m, "zdfs %s: %s", sb->dev, why);
	return rc;
}

/* Blocks for file pages [from, to): PMD-aligned extents for the whole
 * PMDs that start on a PMD file offset, pages for the rest. */
int zdfs_alloc_range(struct zdfs_inode *ip, uint64_t from, uint64_t to)
{
	struct zdfs_sb *sb = ip->sb;
	uint64_t pmd = sb->pmd_pages;

	while (from < to) {
		bool big = !(from % pmd) && to - from >= pmd;
		uint64_t want = big ? (to - from) / pmd * pmd : to - from, got, blk;
		int rc;

		if (!big && to - from > pmd - from % pmd && to / pmd * pmd > from)
			want = pmd - from % pmd;   /* up to the next PMD file offset */
		blk = find_free(sb, want, big, &got);
		if (blk == UINT64_MAX && big)
			blk = find_free(sb, want, false, &got);   /* no aligned room: pages */
		if (blk == UINT64_MAX) {
			zd_pr_err(sb->m, "zdfs %s: no free blocks for %llu more pages of '%s'",
				  sb->dev, ULL(to - from), ip->d.name);
			return -ENOSPC;
		}
		rc = prepare_blocks(sb, blk, got);
		if (!rc && (rc = add_extent(ip, from, got, blk)))
			zd_pr_err(sb->m, "zdfs %s: '%s' would need more than %d extents", sb->dev,
				  ip->d.name, ZD_DAXFS_MAX_EXTENTS);
		if (rc)
			return rc;
		from += got;
	}
	return 0;
}

/* Forget the blocks of file pages [from, to) (a hole or past EOF). */
int zdfs_free_range(struct zdfs_inode *ip, uint64_t from, uint64_t to)
{
	struct zdfs_meta *d = &ip->d;

	for (unsigned i = 0; i < d->nr_ext; i++) {
		struct zdfs_extent e = d->ext[i];
		uint64_t s = from > e.pgoff ? from : e.pgoff, t = to < e.pgoff + e.nr ? to :
								 e.pgoff + e.nr;

		if (s >= t)
			continue;
		if (s > e.pgoff && t < e.pgoff + e.nr) {   /* a hole in the middle: split */
			if (d->nr_ext == ZD_DAXFS_MAX_EXTENTS) {
				zd_pr_err(ip->sb->m, "zdfs %s: the hole would split '%s' beyond %d "
					  "extents", ip->sb->dev, d->name, ZD_DAXFS_MAX_EXTENTS);
				return -ENOSPC;
			}
			memmove(&d->ext[i + 2], &d->ext[i + 1], (d->nr_ext - i - 1) * sizeof(e));
			d->ext[i].nr = s - e.pgoff;
			d->ext[i + 1] = (struct zdfs_extent){ t, e.pgoff + e.nr - t,
							      e.blk + t - e.pgoff };
			d->nr_ext++;
			i++;
		} else if (s > e.pgoff) {
			d->ext[i].nr = s - e.pgoff;
		} else if (t < e.pgoff + e.nr) {
			d->ext[i] = (struct zdfs_extent){ t, e.pgoff + e.nr - t, e.blk + t - e.pgoff };
		} else {
			memmove(&d->ext[i], &d->ext[i + 1], (d->nr_ext - i - 1) * sizeof(e));
			d->nr_ext--;
			i--;
		}
	}
	return 0;
}

int zdfs_alloc_hole_page(struct zdfs_inode *ip, uint64_t pgoff)
{
	struct zdfs_sb *sb = ip->sb;
	struct zdfs_meta saved;
	int rc = 0;

	pthread_mutex_lock(&sb->lock);
	if (zdfs_bmap(ip, pgoff, NULL) == UINT64_MAX) {
		saved = ip->d;
		rc = zdfs_alloc_range(ip, pgoff, pgoff + 1);
		if (!rc)
			rc = zdfs_commit(sb);
		if (rc)
			ip->d = saved;
	}
	pthread_mutex_unlock(&sb->lock);
	return rc;
}

/* Zero bytes [from, to) of the file where blocks back them. */
int zdfs_zero_bytes(struct zdfs_inode *ip, uint64_t from, uint64_t to)
{
	static const char zero[4096];
	const struct zd_arch *a = &ip->sb->m->arch;

	while (from < to) {
		uint64_t pg = from >> a->page_shift, in = from & (a->page_size - 1);
		uint64_t n = a->page_size - in, blk = zdfs_bmap(ip, pg, NULL);
		int rc;

		if (n > to - from)
			n = to - from;
		if (n > sizeof(zero))
			n = sizeof(zero);
		if (blk != UINT64_MAX &&
		    (rc = zd_nd_namespace_write(ip->sb->r, (blk << a->page_shift) + in, zero, n)))
			return rc;
		from += n;
	}
	return 0;
}

/* ---------- the calls ---------- */

int zd_daxfs_mkfs(struct zd_nd_region *r)
{
	struct zdfs_sb *sb, *old;
	struct zdfs_image *im;
	uint64_t gen = 0;
	int rc = 0;

	if (!fsdax_bound(r)) {
		zd_pr_err(r->m, "zdfs: mkfs: namespace%d.0 is not a bound, writable fsdax namespace",
			  r->id);
		return -ENODEV;
	}
	old = __atomic_load_n(&r->daxfs, __ATOMIC_ACQUIRE);
	if (old) {
		pthread_mutex_lock(&old->lock);
		for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES && !rc; i++)
			if (old->inodes[i].opens)
				rc = -EBUSY;
		pthread_mutex_unlock(&old->lock);
		if (rc) {
			zd_pr_err(r->m, "zdfs %s: mkfs: files of the mounted file system are open",
				  old->dev);
			return rc;
		}
		zd_daxfs_kill(r);   /* unmounted: waits for pins of its pages */
	}
	sb = sb_alloc(r);
	im = malloc(sizeof(*im));
	if (!sb || !im) {
		free(im);
		if (sb)
			zdfs_sb_put(sb);
		return -ENOMEM;
	}
	if (sb->data_pages < sb->first_blk + sb->pmd_pages) {
		zd_pr_err(r->m, "zdfs %s: mkfs: a %llu-page data area cannot hold the metadata and "
			  "one PMD", sb->dev, ULL(sb->data_pages));
		rc = -ENOSPC;
	}
	/* generations start again at 1 and 2: a kill before the second copy
	 * leaves the old file system (its copy there is newer), after it
	 * the new one, and runs on the same media print the same */
	gen = 0;
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++)
		memset(&sb->inodes[i].d, 0, sizeof(sb->inodes[i].d));
	sb->next_ino = 2;
	/* both copies, newest last: a kill between them leaves the new one */
	for (int slot = 0; slot < 2 && !rc; slot++) {
		image_build(sb, im, gen + 1 + (uint64_t)slot);
		rc = zd_nd_namespace_write(r, (uint64_t)slot * ZDFS_SLOT_BYTES, im, sizeof(*im));
	}
	free(im);
	if (!rc)
		zd_pr_info(r->m, "zdfs %s: mkfs: %llu data pages, blocks from page %llu, "
			   "generation %llu", sb->dev, ULL(sb->data_pages), ULL(sb->first_blk),
			   ULL(gen + 2));
	zdfs_sb_put(sb);
	return rc;
}
