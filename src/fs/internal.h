/*
 * Shared between the DAX file system (zdfs.c: media, names, extents) and
 * its DAX mappings (dax.c: mmap, faults, the mapping entries, layout
 * breaking); the pmem driver calls zd_daxfs_kill() on unbind.
 * Lock order: inode's invalidate_lock (layout changers exclusive, read
 * and write shared; never taken by a fault) -> mm's mmap_lock (read) ->
 * inode's entry_lock (faults, the entries) -> sb->lock (metadata) ->
 * page-table locks. A fault holds mmap_lock when it comes and maps under
 * entry_lock; a layout breaker marks its range under entry_lock, then
 * unmaps holding no inode lock but invalidate_lock, and faults in a marked
 * range wait on layout_cond until the breaker is done (the part of the
 * kernel's invalidate_lock a fault takes, without a lock held across the
 * breaker's mmap_lock).
 */
#ifndef ZD_FS_INTERNAL_H
#define ZD_FS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <zonedev/dax.h>
#include <zonedev/mm.h>

struct zd_machine;
struct zd_nd_region;
struct zd_page;
struct zdfs_sb;

struct zdfs_extent {
	uint64_t pgoff, nr, blk;     /* file pages [pgoff, pgoff + nr) at data page blk */
};

/* What the mapping's i_pages holds at a file page (a DAX entry). */
enum { DAX_ENT_NONE, DAX_ENT_PTE, DAX_ENT_PMD };

/* What the media keeps of an inode (one slot of the inode table). */
struct zdfs_meta {
	bool used, orphan;
	char name[ZD_DAXFS_NAME_MAX + 1];
	uint64_t ino, size;          /* size changes under invalidate_lock (write) and sb->lock */
	unsigned nr_ext;
	struct zdfs_extent ext[ZD_DAXFS_MAX_EXTENTS];   /* in file order */
};

struct zdfs_inode {
	struct zdfs_sb *sb;
	struct zdfs_meta d;          /* sb->lock */
	long opens;                  /* open files and calls under way (sb->lock) */
	pthread_rwlock_t invalidate_lock;
	unsigned long invalidate_writer;
	pthread_mutex_t entry_lock;
	pthread_cond_t layout_cond;  /* with entry_lock: a breaker finished */
	uint64_t brk_start, brk_end; /* file pages a breaker works on (entry_lock) */
	uint8_t *entries;            /* DAX_ENT_* per file page, nr_entries of them */
	uint64_t nr_entries;
};

struct zdfs_sb {
	struct zd_machine *m;
	struct zd_nd_region *r;
	long refcount;               /* atomic: the mount, each open file */
	bool dead;                   /* atomic: the namespace went (kill_dax) */
	pthread_mutex_t lock;
	uint64_t gen;                /* of the metadata copy that is current */
	int live_slot;               /* 0 or 1: where that copy is */
	uint64_t data_pages;         /* pages of the namespace's data area */
	uint64_t first_blk;          /* the first data page after the metadata */
	uint64_t pmd_pages;
	uint64_t base_pfn;           /* pfn of data page 0 */
	uint64_t next_ino;
	char dev[16];                /* "pmem0" */
	struct zdfs_inode inodes[ZD_DAXFS_MAX_FILES];
};

/* zdfs.c */
void zdfs_sb_put(struct zdfs_sb *sb);
/* The data page backing file page pgoff (sb->lock held), or UINT64_MAX
 * in a hole; *run: pages of the extent from there on. */
uint64_t zdfs_bmap(struct zdfs_inode *ip, uint64_t pgoff, uint64_t *run);
/* A fault in a hole: a zeroed page allocated for pgoff (committed). */
int zdfs_alloc_hole_page(struct zdfs_inode *ip, uint64_t pgoff);
/* Drop an open reference: the last one of an orphan frees it. */
void zdfs_inode_release(struct zdfs_inode *ip);
/* zdfs.c for zdfs_inode.c: the mounted file system with sb->lock held
 * (mounting it at the first use), the named inode with an open
 * reference, block allocation and freeing, zeroing and the commit. */
struct zdfs_sb *zdfs_sb_get(struct zd_nd_region *r, int *err, const char *op);
struct zdfs_inode *zdfs_lookup(struct zdfs_sb *sb, const char *name);
struct zdfs_inode *zdfs_inode_get(struct zd_nd_region *r, const char *name, int *err,
				  const char *op);
int zdfs_alloc_range(struct zdfs_inode *ip, uint64_t from, uint64_t to);
int zdfs_free_range(struct zdfs_inode *ip, uint64_t from, uint64_t to);
int zdfs_zero_bytes(struct zdfs_inode *ip, uint64_t from, uint64_t to);
int zdfs_commit(struct zdfs_sb *sb);
uint64_t zdfs_size_pages(const struct zdfs_inode *ip);

/* dax.c */
/* The file object of an inode (f_op, S_DAX, the inode in private_data). */
struct zd_file *zd_dax_file_alloc(struct zdfs_inode *ip, unsigned fmode);
/* dax_break_layout(): fault-proof file pages [start, end), unmap them
 * from every process, wait (logging) while one is busy (pinned), then drop
 * their entries; faults there wait until zd_dax_break_layout_end(), after
 * the caller changed the layout. invalidate_lock held for writing. */
void zd_dax_break_layout(struct zdfs_inode *ip, uint64_t start, uint64_t end, const char *why);
void zd_dax_break_layout_end(struct zdfs_inode *ip);
/* The same for the whole file of an inode nothing has open, without the
 * unmap (no VMA can map it); ended by zd_dax_break_layout_end(). */
void zd_dax_break_layout_final(struct zdfs_inode *ip);
/* The entry table follows a new size (invalidate_lock for writing). */
int zd_dax_resize_entries(struct zdfs_inode *ip, uint64_t pages);
void zd_dax_free_entries(struct zdfs_inode *ip);
void zdfs_invalidate_lock(struct zdfs_inode *ip);
void zdfs_invalidate_unlock(struct zdfs_inode *ip);

/* Called by the pmem driver before its pgmap goes (drivers/nvdimm/pmem.c):
 * the file system shuts down (later faults are SIGBUS), every mapping of
 * its files is unmapped, pins are waited for. */
void zd_daxfs_kill(struct zd_nd_region *r);

#endif
