/*
 * Shared anonymous memory (mm/shmem.c, shmem_zero_setup): MAP_SHARED |
 * MAP_ANONYMOUS is a shmem file of its own, "/dev/zero (deleted)" on
 * 00:01, whose pages live in the file's page cache; tmpfs files
 * (shmem_file_setup: what O_TMPFILE in a tmpfs /tmp gives) are the same
 * object with a size, read and written through zd_shmem_file_rw. A fault finds the
 * page at its offset or adds a zeroed one; every process that maps the
 * file (fork shares it, mremap keeps it) maps the same pages.
 * Invariants: the cache holds one reference on each of its pages and each
 * mapping one more; a page's mapping is its file's inode and its index
 * its offset; meminfo Shmem counts the cached pages; the cache goes, page
 * by page, when the last reference to the file goes (no VMA maps it then).
 * The inode itself is referenced by its file and by migrations, which take
 * their reference from a page's mapping inside an RCU read section, so it
 * is freed a grace period after the last goes; migration swaps a page in
 * the cache only under the cache lock and only if the page is still there
 * with no references but the cache's and the migration's.
 */
#include "internal.h"
#include "base/rcu.h"
#include "base/xarray.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/err.h>
#include <zonedev/log.h>

#include <zonedev/gfp.h>
#include <zonedev/memremap.h>

struct shmem_inode {
	struct zd_machine *m;
	pthread_mutex_t lock;          /* the cache */
	struct zd_xarray cache;        /* pgoff -> page */
	long refcount;                 /* atomic: the file, migrations */
	bool is_file;                  /* a tmpfs file (else MAP_SHARED|MAP_ANONYMOUS's) */
	uint64_t i_size;               /* atomic; a file's size in bytes */
};

void *zd_shmem_mapping_get(struct zd_machine *m, struct zd_page *page)
{
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	struct shmem_inode *si = __atomic_load_n(&page->mapping, __ATOMIC_ACQUIRE);
	long ref = si ? __atomic_load_n(&si->refcount, __ATOMIC_RELAXED) : 0;

	do {
		if (ref <= 0) {
			si = NULL;
			break;
		}
	} while (!__atomic_compare_exchange_n(&si->refcount, &ref, ref + 1, false,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	zd_rcu_read_unlock(&m->rcu, idx);
	return si;
}

void zd_shmem_mapping_put(void *mapping)
{
	struct shmem_inode *si = mapping;

	if (__atomic_sub_fetch(&si->refcount, 1, __ATOMIC_ACQ_REL))
		return;
	zd_synchronize_rcu(&si->m->rcu);
	zd_xa_destroy(&si->cache);
	pthread_mutex_destroy(&si->lock);
	free(si);
}

/* shmem_get_folio(): the page at index, a zeroed one added if the cache
 * has none; one reference for the caller. NULL: no memory. */
static struct zd_page *shmem_get_page(struct shmem_inode *si, uint64_t index)
{
	struct zd_machine *m = si->m;
	struct zd_page *page;

	pthread_mutex_lock(&si->lock);
	page = zd_xa_load(&si->cache, index);
	if (!page) {
		page = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE | ZD___GFP_ZERO | ZD___GFP_NOWARN, 0);
		if (!page || zd_xa_store(&si->cache, index, page)) {
			pthread_mutex_unlock(&si->lock);
			if (page)
				zd_put_page(m, page);
			return NULL;
		}
		__atomic_store_n(&page->mapping, (void *)si, __ATOMIC_RELAXED);
		page->index = index;
		zd_set_page_flag(page, ZD_PG_swapbacked);
		zd_set_page_flag(page, ZD_PG_uptodate);
		__atomic_add_fetch(&m->nr_shmem, 1, __ATOMIC_RELAXED);
	}
	zd_get_page(m, page);
	pthread_mutex_unlock(&si->lock);
	return page;
}

static unsigned shmem_fault(struct zd_vm_fault *vmf)
{
	struct shmem_inode *si = vmf->vma->vm_file->private_data;
	uint64_t size = __atomic_load_n(&si->i_size, __ATOMIC_RELAXED);

	/* a file's mapping past its end is SIGBUS (the anonymous one has none) */
	if (si->is_file && vmf->pgoff >= (size + si->m->arch.page_size - 1) >> si->m->arch.page_shift)
		return ZD_VM_FAULT_SIGBUS;
	vmf->page = shmem_get_page(si, vmf->pgoff);
	return vmf->page ? 0 : ZD_VM_FAULT_OOM;
}

int zd_shmem_replace_folio(void *mapping, struct zd_page *old, struct zd_page *new, int refs)
{
	struct shmem_inode *si = mapping;
	int rc = 0;

	pthread_mutex_lock(&si->lock);
	/* folio_ref_freeze()'s test, under the lock a fault looks up with:
	 * a fault that took the page is seen, one after this finds new */
	if (zd_page_ref_count(old) != refs || zd_xa_load(&si->cache, old->index) != old) {
		rc = -EAGAIN;
		goto out;
	}
	__atomic_store_n(&new->mapping, (void *)si, __ATOMIC_RELAXED);
	new->index = old->index;
	zd_set_page_flag(new, ZD_PG_swapbacked);
	zd_set_page_flag(new, ZD_PG_uptodate);
	if (zd_test_page_flag(old, ZD_PG_dirty))
		zd_set_page_flag(new, ZD_PG_dirty);
	zd_get_page(si->m, new);   /* the cache's reference */
	zd_xa_store(&si->cache, old->index, new);   /* the slot exists: no allocation */
	__atomic_store_n(&old->mapping, NULL, __ATOMIC_RELAXED);
	zd_put_page(si->m, old);   /* the cache's; the caller's keeps it */
out:
	pthread_mutex_unlock(&si->lock);
	return rc;
}

static const struct zd_vm_operations_struct shmem_anon_vm_ops = {
	.fault = shmem_fault,
};

static void shmem_release(struct zd_file *file)
{
	struct shmem_inode *si = file->private_data;
	struct zd_page *page;
	uint64_t index = 0;

	/* under the cache lock: a migration may swap a page in meanwhile */
	pthread_mutex_lock(&si->lock);
	while ((page = zd_xa_find(&si->cache, &index, UINT64_MAX))) {
		zd_xa_erase(&si->cache, index);
		__atomic_store_n(&page->mapping, NULL, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&si->m->nr_shmem, 1, __ATOMIC_RELAXED);
		zd_put_page(si->m, page);
	}
	pthread_mutex_unlock(&si->lock);
	zd_shmem_mapping_put(si);
	free(file);
}

static const struct zd_file_operations shmem_zero_fops = {
	.release = shmem_release,
};

static struct shmem_inode *inode_new(struct zd_machine *m)
{
	struct shmem_inode *si = calloc(1, sizeof(*si));

	if (!si)
		return NULL;
	si->m = m;
	si->refcount = 1;
	pthread_mutex_init(&si->lock, NULL);
	zd_xa_init(&si->cache, 64 - m->arch.page_shift);
	return si;
}

/* A shmem file of its own inode: one reference, read-write. */
static struct zd_file *file_new(struct zd_machine *m, const struct zd_file_operations *fops,
				const char *path, unsigned minor)
{
	struct zd_file *file = calloc(1, sizeof(*file));
	struct shmem_inode *si = inode_new(m);

	if (!file || !si) {
		free(file);
		if (si)
			zd_shmem_mapping_put(si);
		return NULL;
	}
	file->f_op = fops;
	file->f_mode = ZD_FMODE_READ | ZD_FMODE_WRITE;
	file->path = path;
	file->dev_minor = minor;
	/* per machine, so a run's maps do not depend on other machines */
	file->ino = __atomic_add_fetch(&m->last_shmem_ino, 1, __ATOMIC_RELAXED);
	file->f_count = 1;
	file->private_data = si;
	return file;
}

int zd_shmem_zero_setup(struct zd_vm_area_struct *vma)
{
	struct zd_file *file = file_new(vma->vm_mm->m, &shmem_zero_fops, "/dev/zero (deleted)", 1);

	if (!file)
		return -ENOMEM;
	vma->vm_file = file;
	vma->vm_ops = &shmem_anon_vm_ops;
	return 0;
}

/* ---------- tmpfs files (shmem_file_setup, O_TMPFILE in a tmpfs) ---------- */

static int shmem_mmap(struct zd_file *file, struct zd_vm_area_struct *vma)
{
	vma->vm_ops = &shmem_anon_vm_ops;
	return 0;
}

static const struct zd_file_operations shmem_file_fops = {
	.mmap = shmem_mmap,
	.release = shmem_release,
};

struct zd_file *zd_shmem_file_setup(struct zd_machine *m, const char *name, uint64_t size)
{
	struct zd_file *file = file_new(m, &shmem_file_fops, name ? name : "/tmp/#tmpfile (deleted)",
					2);
	struct shmem_inode *si;

	if (!file) {
		zd_pr_err(m, "shmem: no memory for the file %s", name ? name : "?");
		return ZD_ERR_PTR(-ENOMEM);
	}
	si = file->private_data;
	si->is_file = true;
	si->i_size = size;
	file->i_mode = ZD_S_IFREG;
	return file;
}

long zd_shmem_file_rw(struct zd_file *file, uint64_t pos, void *buf, size_t len, bool write)
{
	struct shmem_inode *si = file->private_data;
	struct zd_machine *m = si->m;
	uint64_t ps = m->arch.page_size, size = __atomic_load_n(&si->i_size, __ATOMIC_RELAXED);
	size_t done = 0;

	if (file->f_op != &shmem_file_fops || pos + len < pos) {
		zd_pr_err(m, "shmem: %s at %llu (+%zu): not a tmpfs file or past 2^64", file->path,
			  (unsigned long long)pos, len);
		return -EINVAL;
	}
	if (!write)
		len = pos >= size ? 0 : len > size - pos ? size - pos : len;
	while (done < len) {
		uint64_t off = (pos + done) & (ps - 1);
		size_t n = ps - off < len - done ? ps - off : len - done;
		struct zd_page *page = shmem_get_page(si, (pos + done) >> m->arch.page_shift);
		char *kaddr;

		if (!page)
			return done ? (long)done : -ENOMEM;
		kaddr = (char *)zd_page_address(m, page) + off;
		if (write) {
			memcpy(kaddr, (char *)buf + done, n);
			zd_set_page_flag(page, ZD_PG_dirty);
		} else {
			memcpy((char *)buf + done, kaddr, n);
		}
		zd_put_page(m, page);
		done += n;
	}
	if (write && pos + done > size)
		__atomic_store_n(&si->i_size, pos + done, __ATOMIC_RELAXED);
	return (long)done;
}
