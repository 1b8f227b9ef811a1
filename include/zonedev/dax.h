/*
 * DAX files: a small file system (zdfs, src/fs/zdfs.c) on the data area of
 * a bound fsdax namespace, and the DAX mappings of its files (src/fs/dax.c):
 * no page cache, a fault maps the namespace's own MEMORY_DEVICE_FS_DAX
 * pages, PMD leaves where the VMA, the file offset and the extent allow.
 * Invariants: the file system lives on the media (two checksummed copies
 * of its metadata with a generation; the newer valid one is the state),
 * so it survives a reboot on the same region file and a kill -9 leaves
 * the old or the new state; a truncate, punch-hole, unlink or unbind
 * unmaps the range from every process and waits while a page of it is
 * pinned before its blocks are freed.
 */
#ifndef ZONEDEV_DAX_H
#define ZONEDEV_DAX_H

#include <stddef.h>
#include <stdint.h>
#include <zonedev/arch.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_nd_region;
struct zd_file;

#define ZD_DAXFS_NAME_MAX    47   /* bytes of a file name */
#define ZD_DAXFS_MAX_FILES   64   /* inodes, orphans (unlinked, still open) included */
#define ZD_DAXFS_MAX_EXTENTS 16   /* per file */

struct zd_daxfs_extent {
	uint64_t pgoff;       /* first file page */
	uint64_t nr_pages;
	phys_addr_t phys;     /* its first byte in the namespace */
};

struct zd_daxfs_stat {
	uint64_t ino;
	uint64_t size;        /* bytes (i_size) */
	uint64_t blocks;      /* pages allocated */
	unsigned nr_extents;
	struct zd_daxfs_extent extents[ZD_DAXFS_MAX_EXTENTS];
};

/*
 * mkfs: an empty file system over the namespace's data area (both
 * metadata copies written). -ENODEV unless the namespace is fsdax and
 * bound to nd_pmem, -EBUSY while a file of the old one is open, -EROFS on
 * a read-only region, -ENOSPC when the data area cannot hold the metadata
 * and one PMD of data.
 */
int zd_daxfs_mkfs(struct zd_nd_region *r);

/*
 * Files by name. create allocates size bytes (fallocate: PMD-aligned
 * extents for the whole PMDs of a file of at least one PMD, pages for the
 * rest); -EEXIST, -ENAMETOOLONG, -EINVAL (an empty name or one with '/'),
 * -ENOSPC (no blocks, no free inode, more than ZD_DAXFS_MAX_EXTENTS
 * extents), -ENODEV without a file system (run mkfs). The others are
 * -ENOENT for a missing name.
 */
int zd_daxfs_create(struct zd_nd_region *r, const char *name, uint64_t size);
/* An unlinked file that is still open or mapped lives on as an orphan
 * until its last reference goes (a reboot frees orphans). */
int zd_daxfs_unlink(struct zd_nd_region *r, const char *name);
int zd_daxfs_stat(struct zd_nd_region *r, const char *name, struct zd_daxfs_stat *st);
/*
 * truncate(2): a smaller size unmaps the pages past it from every process,
 * waits (logging) while one of them is pinned, zeroes the tail of the last
 * page and frees the blocks; a larger one allocates as create does.
 * punch_hole (fallocate PUNCH_HOLE|KEEP_SIZE): the same for [off, off+len)
 * inside the file; whole pages are freed, partial ones zeroed; a later
 * fault in the hole allocates a zeroed page. -EINVAL for a range outside
 * the file or a size above the data area.
 */
int zd_daxfs_truncate(struct zd_nd_region *r, const char *name, uint64_t size);
int zd_daxfs_punch_hole(struct zd_nd_region *r, const char *name, uint64_t off, uint64_t len);
/* read(2)/write(2) of the file's bytes (the namespace's real bytes): the
 * bytes moved, short at EOF (a write never extends the file), or -errno. */
long zd_daxfs_pread(struct zd_nd_region *r, const char *name, void *buf, size_t len,
		    uint64_t off);
long zd_daxfs_pwrite(struct zd_nd_region *r, const char *name, const void *buf, size_t len,
		     uint64_t off);
/*
 * open(2): a file processes mmap (MAP_SHARED, MAP_SHARED_VALIDATE with
 * MAP_SYNC, or MAP_PRIVATE, whose writes copy into anonymous pages);
 * fmode is ZD_FMODE_READ and/or ZD_FMODE_WRITE. ERR_PTR(-ENOENT, -ENODEV).
 * zd_fput() drops it (each mapping holds its own reference).
 */
struct zd_file *zd_daxfs_open(struct zd_nd_region *r, const char *name, unsigned fmode);

#ifdef __cplusplus
}
#endif

#endif
