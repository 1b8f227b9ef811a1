/*
 * zdfs's calls on files (the namei/inode/file parts of a file system):
 * create, unlink (an open or mapped file becomes an orphan that its last
 * close frees), stat, truncate and punch-hole (through the layout break
 * of fs/dax.c), read, write and open.
 * Invariants: each call holds an open reference on its inode while it
 * works, so an unlink meanwhile only orphans it; size and extents change
 * only under the inode's invalidate_lock (write) and sb->lock; a call that
 * fails leaves the inode as the media has it.
 */
#include "fs/internal.h"
#include "drivers/nvdimm/nd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/err.h>
#include <zonedev/log.h>

static uint64_t pages_of(const struct zdfs_sb *sb, uint64_t bytes)
{
	return (bytes + sb->m->arch.page_size - 1) >> sb->m->arch.page_shift;
}

static uint64_t max_bytes(const struct zdfs_sb *sb)
{
	return (sb->data_pages - sb->first_blk) << sb->m->arch.page_shift;
}

static int check_name(struct zd_nd_region *r, const char *name)
{
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		zd_pr_err(r->m, "zdfs pmem%d: '%s' is not a file name", r->id, name ? name : "(null)");
		return -EINVAL;
	}
	if (strlen(name) > ZD_DAXFS_NAME_MAX) {
		zd_pr_err(r->m, "zdfs pmem%d: a name has at most %d bytes: '%.60s...'", r->id,
			  ZD_DAXFS_NAME_MAX, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int check_size(struct zdfs_sb *sb, const char *name, uint64_t size)
{
	if (size <= max_bytes(sb))
		return 0;
	zd_pr_err(sb->m, "zdfs %s: '%s': %llu bytes exceed the file system's %llu", sb->dev,
		  name, (unsigned long long)size, (unsigned long long)max_bytes(sb));
	return -EFBIG;
}

int zd_daxfs_create(struct zd_nd_region *r, const char *name, uint64_t size)
{
	struct zdfs_sb *sb;
	struct zdfs_inode *ip = NULL;
	unsigned pmd_ext = 0;
	int rc = check_name(r, name);

	if (rc || !(sb = zdfs_sb_get(r, &rc, "create")))
		return rc;
	if (zdfs_lookup(sb, name)) {
		zd_pr_err(r->m, "zdfs %s: create: '%s' exists", sb->dev, name);
		rc = -EEXIST;
		goto out;
	}
	if ((rc = check_size(sb, name, size)))
		goto out;
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES && !ip; i++)
		if (!sb->inodes[i].d.used && !sb->inodes[i].opens && !sb->inodes[i].entries)
			ip = &sb->inodes[i];
	if (!ip) {
		zd_pr_err(r->m, "zdfs %s: create: all %d inodes are in use", sb->dev,
			  ZD_DAXFS_MAX_FILES);
		rc = -ENOSPC;
		goto out;
	}
	memset(&ip->d, 0, sizeof(ip->d));
	ip->d.used = true;
	ip->d.ino = sb->next_ino++;
	ip->d.size = size;
	snprintf(ip->d.name, sizeof(ip->d.name), "%s", name);
	rc = zdfs_alloc_range(ip, 0, pages_of(sb, size));
	if (!rc)
		rc = zdfs_commit(sb);
	if (rc) {
		memset(&ip->d, 0, sizeof(ip->d));
		sb->next_ino--;
		goto out;
	}
	for (unsigned e = 0; e < ip->d.nr_ext; e++)
		pmd_ext += ip->d.ext[e].nr >= sb->pmd_pages &&
			   !((sb->base_pfn + ip->d.ext[e].blk) & (sb->pmd_pages - 1));
	zd_pr_info(r->m, "zdfs %s: created '%s' (ino %llu, %llu bytes, %u extents, %u of them "
		   "PMD-aligned)", sb->dev, name, (unsigned long long)ip->d.ino,
		   (unsigned long long)size, ip->d.nr_ext, pmd_ext);
out:
	pthread_mutex_unlock(&sb->lock);
	return rc;
}

/* The blocks of an inode nobody has open go: dax_break_layout_final()
 * (pins outlive their mappings and the last close), then the media. */
static void free_inode(struct zdfs_inode *ip)
{
	struct zdfs_sb *sb = ip->sb;
	struct zdfs_meta saved;

	zdfs_invalidate_lock(ip);
	if (ip->entries) {
		zd_dax_break_layout_final(ip);
		zd_dax_break_layout_end(ip);
	}
	pthread_mutex_lock(&sb->lock);
	saved = ip->d;
	memset(&ip->d, 0, sizeof(ip->d));
	if (!__atomic_load_n(&sb->dead, __ATOMIC_ACQUIRE) && zdfs_commit(sb)) {
		ip->d = saved;   /* an orphan until the next mount frees it */
		zd_pr_err(sb->m, "zdfs %s: orphan ino %llu stays until the next mount", sb->dev,
			  (unsigned long long)saved.ino);
	}
	zd_dax_free_entries(ip);
	pthread_mutex_unlock(&sb->lock);
	zdfs_invalidate_unlock(ip);
}

void zdfs_inode_release(struct zdfs_inode *ip)
{
	struct zdfs_sb *sb = ip->sb;
	bool last;

	pthread_mutex_lock(&sb->lock);
	last = !--ip->opens && ip->d.used && ip->d.orphan;
	pthread_mutex_unlock(&sb->lock);
	if (last)
		free_inode(ip);
}

int zd_daxfs_unlink(struct zd_nd_region *r, const char *name)
{
	struct zdfs_inode *ip;
	struct zdfs_sb *sb;
	int rc = check_name(r, name);

	if (rc || !(ip = zdfs_inode_get(r, name, &rc, "unlink")))
		return rc;
	sb = ip->sb;
	/* the name goes first (an orphan on the media), the blocks when the
	 * last reference does: a kill between leaves an orphan to free */
	pthread_mutex_lock(&sb->lock);
	ip->d.orphan = true;
	rc = zdfs_commit(sb);
	if (rc)
		ip->d.orphan = false;
	else
		zd_pr_info(r->m, "zdfs %s: unlinked '%s' (ino %llu%s)", sb->dev, name,
			   (unsigned long long)ip->d.ino, ip->opens > 1 ? ", still open: orphan" : "");
	pthread_mutex_unlock(&sb->lock);
	zdfs_inode_release(ip);
	return rc;
}

int zd_daxfs_stat(struct zd_nd_region *r, const char *name, struct zd_daxfs_stat *st)
{
	struct zdfs_inode *ip;
	struct zdfs_sb *sb;
	int rc = check_name(r, name);

	if (rc || !(ip = zdfs_inode_get(r, name, &rc, "stat")))
		return rc;
	sb = ip->sb;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&sb->lock);
	st->ino = ip->d.ino;
	st->size = ip->d.size;
	st->nr_extents = ip->d.nr_ext;
	for (unsigned e = 0; e < ip->d.nr_ext; e++) {
		st->blocks += ip->d.ext[e].nr;
		st->extents[e] = (struct zd_daxfs_extent){
			ip->d.ext[e].pgoff, ip->d.ext[e].nr,
			(sb->base_pfn + ip->d.ext[e].blk) << sb->m->arch.page_shift,
		};
	}
	pthread_mutex_unlock(&sb->lock);
	zdfs_inode_release(ip);
	return 0;
}

/* Under invalidate_lock (write): the file is size bytes. */
static int set_size(struct zdfs_inode *ip, uint64_t size)
{
	struct zdfs_sb *sb = ip->sb;
	uint64_t old = ip->d.size, np = pages_of(sb, size), op = pages_of(sb, old);
	struct zdfs_meta saved;
	int rc = 0;

	/* the entry table covers the new pages before a fault can see them */
	if (np > op && ip->entries && (rc = zd_dax_resize_entries(ip, np)))
		return rc;
	if (np < op)
		zd_dax_break_layout(ip, np, op, "truncate");
	pthread_mutex_lock(&sb->lock);
	saved = ip->d;
	if (np < op)
		rc = zdfs_free_range(ip, np, op);
	else if (np > op)
		rc = zdfs_alloc_range(ip, op, np);
	/* growing: what lay past the old EOF in its last page reads zeros */
	if (!rc && size > old)
		rc = zdfs_zero_bytes(ip, old, op << sb->m->arch.page_shift);
	if (!rc) {
		ip->d.size = size;
		rc = zdfs_commit(sb);
	}
	if (rc)
		ip->d = saved;
	/* shrinking: the rest of the new last page, once the size is durable */
	if (!rc && size < old)
		zdfs_zero_bytes(ip, size, np << sb->m->arch.page_shift);
	pthread_mutex_unlock(&sb->lock);
	if (np < op)
		zd_dax_break_layout_end(ip);
	if (!rc && np < op && ip->entries)
		zd_dax_resize_entries(ip, np);   /* a smaller table: a failure keeps the old */
	return rc;
}

int zd_daxfs_truncate(struct zd_nd_region *r, const char *name, uint64_t size)
{
	struct zdfs_inode *ip;
	int rc = check_name(r, name);

	if (rc || !(ip = zdfs_inode_get(r, name, &rc, "truncate")))
		return rc;
	rc = check_size(ip->sb, name, size);
	if (!rc) {
		uint64_t old = ip->d.size;

		zdfs_invalidate_lock(ip);
		rc = set_size(ip, size);
		zdfs_invalidate_unlock(ip);
		if (!rc)
			zd_pr_info(r->m, "zdfs %s: truncate '%s' %llu -> %llu bytes", ip->sb->dev, name,
				   (unsigned long long)old, (unsigned long long)size);
	}
	zdfs_inode_release(ip);
	return rc;
}

int zd_daxfs_punch_hole(struct zd_nd_region *r, const char *name, uint64_t off, uint64_t len)
{
	struct zdfs_inode *ip;
	struct zdfs_sb *sb;
	uint64_t end, first, last, ps;
	struct zdfs_meta saved;
	int rc = check_name(r, name);

	if (rc || !(ip = zdfs_inode_get(r, name, &rc, "punch_hole")))
		return rc;
	sb = ip->sb;
	ps = sb->m->arch.page_size;
	if (!len || off + len < off) {
		zd_pr_err(sb->m, "zdfs %s: punch_hole '%s': %s", sb->dev, name,
			  !len ? "length 0" : "offset + length overflows");
		zdfs_inode_release(ip);
		return !len ? -EINVAL : -EFBIG;
	}
	zdfs_invalidate_lock(ip);
	/* the file's size is kept (FALLOC_FL_KEEP_SIZE): past EOF is nothing */
	end = off + len < ip->d.size ? off + len : ip->d.size;
	first = (off + ps - 1) / ps;
	last = end / ps;
	if (off < end && first < last)
		zd_dax_break_layout(ip, first, last, "punch_hole");
	pthread_mutex_lock(&sb->lock);
	if (off < end && first < last) {
		saved = ip->d;
		rc = zdfs_free_range(ip, first, last);
		if (!rc)
			rc = zdfs_commit(sb);
		if (rc)
			ip->d = saved;
	}
	if (!rc && off < end) {
		/* the partial pages at either end are zeroed in place */
		uint64_t a = first * ps < end ? first * ps : end, b = last * ps > off ? last * ps : off;

		if (first >= last)
			rc = zdfs_zero_bytes(ip, off, end);
		else if (!(rc = zdfs_zero_bytes(ip, off, a)))
			rc = zdfs_zero_bytes(ip, b, end);
	}
	pthread_mutex_unlock(&sb->lock);
	if (off < end && first < last)
		zd_dax_break_layout_end(ip);
	zdfs_invalidate_unlock(ip);
	if (!rc)
		zd_pr_info(r->m, "zdfs %s: punch_hole '%s' [0x%llx, 0x%llx)", sb->dev, name,
			   (unsigned long long)off, (unsigned long long)end);
	zdfs_inode_release(ip);
	return rc;
}

/* read/write: page by page through the namespace's bytes; invalidate_lock
 * (shared) keeps the extents as they are meanwhile. */
static long file_rw(struct zd_nd_region *r, const char *name, void *buf, size_t len,
		    uint64_t off, bool write)
{
	struct zdfs_inode *ip;
	struct zdfs_sb *sb;
	uint64_t size, ps, done = 0;
	char *data;
	int rc = check_name(r, name);

	if (rc || !(ip = zdfs_inode_get(r, name, &rc, write ? "write" : "read")))
		return rc;
	sb = ip->sb;
	ps = sb->m->arch.page_size;
	data = zd_nd_namespace_data(r, NULL);
	pthread_rwlock_rdlock(&ip->invalidate_lock);
	size = ip->d.size;
	if (off < size && len > size - off)
		len = (size_t)(size - off);
	while (off < size && done < len && !rc) {
		uint64_t pos = off + done, in = pos % ps, n = ps - in, blk;

		if (n > len - done)
			n = len - done;
		pthread_mutex_lock(&sb->lock);
		blk = zdfs_bmap(ip, pos / ps, NULL);
		pthread_mutex_unlock(&sb->lock);
		if (blk == UINT64_MAX && write) {
			rc = zdfs_alloc_hole_page(ip, pos / ps);
			continue;
		}
		if (write)
			rc = zd_nd_namespace_write(r, blk * ps + in, (char *)buf + done, n);
		else if (blk == UINT64_MAX)
			memset((char *)buf + done, 0, n);
		else
			memcpy((char *)buf + done, data + blk * ps + in, n);
		if (!rc)
			done += n;
	}
	pthread_rwlock_unlock(&ip->invalidate_lock);
	zdfs_inode_release(ip);
	return rc && !done ? rc : (long)done;
}

long zd_daxfs_pread(struct zd_nd_region *r, const char *name, void *buf, size_t len,
		    uint64_t off)
{
	return file_rw(r, name, buf, len, off, false);
}

long zd_daxfs_pwrite(struct zd_nd_region *r, const char *name, const void *buf, size_t len,
		     uint64_t off)
{
	return file_rw(r, name, (void *)buf, len, off, true);
}

struct zd_file *zd_daxfs_open(struct zd_nd_region *r, const char *name, unsigned fmode)
{
	struct zdfs_inode *ip;
	struct zd_file *file;
	int rc = check_name(r, name);

	if (!rc && (!fmode || fmode & ~(unsigned)(ZD_FMODE_READ | ZD_FMODE_WRITE))) {
		zd_pr_err(r->m, "zdfs pmem%d: open '%s': mode 0x%x is not read and/or write",
			  r->id, name, fmode);
		rc = -EINVAL;
	}
	if (rc || !(ip = zdfs_inode_get(r, name, &rc, "open")))
		return ZD_ERR_PTR(rc);
	zdfs_invalidate_lock(ip);
	if (!ip->entries)
		rc = zd_dax_resize_entries(ip, pages_of(ip->sb, ip->d.size));
	zdfs_invalidate_unlock(ip);
	file = rc ? NULL : zd_dax_file_alloc(ip, fmode);
	if (!file) {
		zdfs_inode_release(ip);
		return ZD_ERR_PTR(-ENOMEM);
	}
	return file;   /* its open reference is the one inode_get took */
}
