/*
 * DAX mappings of zdfs files (fs/dax.c, with the file_operations an
 * ext4/xfs DAX file has): no page cache; a fault maps the namespace's own
 * MEMORY_DEVICE_FS_DAX page (dax_iomap_pte_fault) or, where the VMA, the
 * file offset and the extent all allow it, a PMD leaf of the 2 MiB folio
 * the pages become for it (dax_iomap_pmd_fault; FALLBACK to PTEs
 * otherwise). The mapping's i_pages of DAX entries is an array of
 * DAX_ENT_* per file page. Layout changes (truncate, punch-hole, unlink,
 * unbind) go through zd_dax_break_layout(): unmap the range from every
 * process, wait while a page is still referenced (a GUP pin), then drop
 * the entries (dax_break_layout(), dax_delete_mapping_range()).
 * Refcounts as since v6.15: an idle fsdax folio has refcount 0; each
 * mapping entry holds one reference and one mapcount; the DAX entry
 * itself holds none but sets folio->mapping and ->index
 * (dax_associate_entry), and a PMD entry makes the pages one compound
 * folio (dax_folio_init) that dax_folio_put() splits again.
 * Invariants: a page is mapped only under its inode's entry_lock and
 * outside a range a layout breaker has marked, so the breaker's unmap
 * sees every mapping it must remove; an entry is dropped only when its folio's
 * refcount is 0; a dead file system (unbound) maps nothing.
 */
#include "fs/internal.h"
#include "drivers/nvdimm/nd.h"
#include "mm/internal.h"
#include "base/lockdep.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/pgalloc.h>

static const struct zd_file_operations zdfs_dax_fops;

void zdfs_invalidate_lock(struct zdfs_inode *ip)
{
	pthread_rwlock_wrlock(&ip->invalidate_lock);
	zd_lock_set_owner(&ip->invalidate_writer);
}

void zdfs_invalidate_unlock(struct zdfs_inode *ip)
{
	zd_lock_clear_owner(&ip->invalidate_writer);
	pthread_rwlock_unlock(&ip->invalidate_lock);
}

static bool sb_dead(const struct zdfs_sb *sb)
{
	return __atomic_load_n(&sb->dead, __ATOMIC_ACQUIRE);
}

/* ---------- entries ---------- */

int zd_dax_resize_entries(struct zdfs_inode *ip, uint64_t pages)
{
	uint8_t *e;

	/* calloc'ed: a large file's table stays zero pages until faulted */
	e = calloc(pages ? pages : 1, 1);
	if (!e)
		return -ENOMEM;
	pthread_mutex_lock(&ip->entry_lock);
	if (ip->entries)
		memcpy(e, ip->entries, ip->nr_entries < pages ? ip->nr_entries : pages);
	free(ip->entries);
	ip->entries = e;
	ip->nr_entries = pages;
	pthread_mutex_unlock(&ip->entry_lock);
	return 0;
}

void zd_dax_free_entries(struct zdfs_inode *ip)
{
	free(ip->entries);
	ip->entries = NULL;
	ip->nr_entries = 0;
}

static struct zd_page *blk_page(struct zdfs_sb *sb, uint64_t blk)
{
	return zd_pfn_to_page(sb->m, sb->base_pfn + blk);
}

/* dax_folio_init(): the pages of a PMD entry become one folio. */
static void dax_folio_init(struct zd_machine *m, struct zd_page *head, unsigned order)
{
	uint64_t nr = 1ULL << order;

	for (uint64_t i = 0; i < nr; i++)
		ZD_WARN(m, zd_page_ref_count(head + i), "dax_folio_init: page %llu of the folio "
			"has refcount %d", (unsigned long long)i, zd_page_ref_count(head + i));
	zd_set_page_flag(head, ZD_PG_head);
	zd_set_folio_order(head, order);
	__atomic_store_n(zd_folio_pincount(head), 0, __ATOMIC_RELAXED);
	for (uint64_t i = 1; i < nr; i++)
		__atomic_store_n(&head[i].compound_head, (unsigned long)head + 1, __ATOMIC_RELEASE);
}

/* dax_folio_put() of an entry going: mapping cleared; a PMD folio goes
 * back to order-0 pages, each with its pgmap again (the tails' first word
 * held compound_head). */
static void dax_folio_put(struct zd_machine *m, struct zd_page *folio, unsigned order)
{
	struct zd_dev_pagemap *pgmap = folio->pgmap;
	uint64_t nr = 1ULL << order;

	__atomic_store_n(&folio->mapping, NULL, __ATOMIC_RELAXED);
	if (!order)
		return;
	ZD_WARN(m, zd_page_ref_count(folio), "dax_folio_put: a folio with refcount %d splits",
		zd_page_ref_count(folio));
	zd_set_folio_order(folio, 0);
	__atomic_store_n(zd_folio_pincount(folio), 0, __ATOMIC_RELAXED);
	zd_clear_page_flag(folio, ZD_PG_head);
	for (uint64_t i = 1; i < nr; i++) {
		__atomic_store_n(&folio[i].compound_head, 0, __ATOMIC_RELEASE);
		folio[i].pgmap = pgmap;
		folio[i].mapping = NULL;
	}
}

/* ---------- faults ---------- */

static unsigned fault_prot(const struct zd_vm_fault *vmf)
{
	return zd_vma_pte_prot(vmf->vma->vm_flags) | ZD_PTE_YOUNG |
	       (vmf->flags & ZD_FAULT_FLAG_WRITE ? ZD_PTE_DIRTY : 0);
}

/* The file's size in pages and the data page of pgoff (UINT64_MAX in a
 * hole), with the run of the extent from there, as sb->lock has them. */
static uint64_t lookup_blk(struct zdfs_inode *ip, uint64_t pgoff, uint64_t *max, uint64_t *run)
{
	uint64_t blk;

	pthread_mutex_lock(&ip->sb->lock);
	*max = zdfs_size_pages(ip);
	blk = zdfs_bmap(ip, pgoff, run);
	pthread_mutex_unlock(&ip->sb->lock);
	return blk;
}

/* A fault's start: entry_lock taken, and no breaker at work on
 * [pg, pg + nr) any more; false (SIGBUS) once the file system is dead. */
static bool fault_begin(struct zdfs_inode *ip, uint64_t pg, uint64_t nr, const char *func)
{
	pthread_mutex_lock(&ip->entry_lock);
	while (pg < ip->brk_end && pg + nr > ip->brk_start)
		pthread_cond_wait(&ip->layout_cond, &ip->entry_lock);
	if (!sb_dead(ip->sb))
		return true;
	zd_pr_err(ip->sb->m, "zdfs %s: %s: ino %llu: the file system is shut down (its "
		  "namespace went)", ip->sb->dev, func, (unsigned long long)ip->d.ino);
	return false;
}

/*
 * dax_iomap_pte_fault(): beyond EOF is SIGBUS; a hole gets a zeroed page
 * (ext4 would map the zero page for a read); a private write gets the
 * page to copy (vmf->page: do_cow_fault copies it into an anonymous
 * page); anything else maps the page here, as vmf_insert_page_mkwrite()
 * does, before a breaker can see the range.
 */
static unsigned dax_pte_fault(struct zd_vm_fault *vmf)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zdfs_inode *ip = vma->vm_file->private_data;
	struct zdfs_sb *sb = ip->sb;
	const struct zd_pgtable_ops *o = sb->m->arch.pgtable;
	unsigned ret = ZD_VM_FAULT_NOPAGE;
	struct zd_page *page;
	uint64_t blk, max, run;

	if (!fault_begin(ip, vmf->pgoff, 1, "dax_iomap_pte_fault")) {
		ret = ZD_VM_FAULT_SIGBUS;
		goto out;
	}
	blk = lookup_blk(ip, vmf->pgoff, &max, &run);
	if (vmf->pgoff >= max || vmf->pgoff >= ip->nr_entries) {
		ret = ZD_VM_FAULT_SIGBUS;
		goto out;
	}
	if (blk == UINT64_MAX) {
		if (zdfs_alloc_hole_page(ip, vmf->pgoff)) {
			ret = ZD_VM_FAULT_SIGBUS;   /* ENOSPC: dax_fault_return() */
			goto out;
		}
		blk = lookup_blk(ip, vmf->pgoff, &max, &run);
	}
	page = blk_page(sb, blk);
	if ((vmf->flags & ZD_FAULT_FLAG_WRITE) && !(vma->vm_flags & ZD_VM_SHARED)) {
		zd_get_page(sb->m, page);
		vmf->page = page;
		ret = 0;
		goto out;
	}
	if (ip->entries[vmf->pgoff] == DAX_ENT_NONE) {
		/* dax_associate_entry(): a PMD entry's subpage keeps its folio's */
		__atomic_store_n(&page->mapping, (void *)ip, __ATOMIC_RELAXED);
		page->index = vmf->pgoff;
		ip->entries[vmf->pgoff] = DAX_ENT_PTE;
	}
	zd_pt_lock(vmf->ptl);
	if (o->pte_none(&sb->m->arch, o->ptep_get(vmf->pte))) {
		zd_get_page(sb->m, page);
		__atomic_add_fetch(&page->_mapcount, 1, __ATOMIC_RELAXED);
		zd_add_mm_counter(vma->vm_mm, ZD_MM_FILEPAGES, 1);
		o->set_pte(vmf->pte, o->mk_leaf(&sb->m->arch, ZD_PT_PTE, sb->base_pfn + blk,
						fault_prot(vmf)));
	}
	zd_pt_unlock(vmf->ptl);
out:
	pthread_mutex_unlock(&ip->entry_lock);
	return ret;
}

/*
 * dax_iomap_pmd_fault(): a PMD leaf only when the PMD lies inside the VMA
 * and inside the file, the address and the file offset have the same
 * colour (offset within a PMD), the fault is not a private write (COW is
 * done on PTEs), no PTE entry of the file is in the range, and one extent
 * backs the whole PMD from a PMD-aligned pfn; otherwise FALLBACK. A PMD
 * that starts at or beyond EOF is SIGBUS. No PUD leaves (CONFIG_FS_DAX_PMD
 * only).
 */
static unsigned dax_pmd_fault(struct zd_vm_fault *vmf, unsigned order)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zdfs_inode *ip = vma->vm_file->private_data;
	struct zdfs_sb *sb = ip->sb;
	const struct zd_arch *a = &sb->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t nr = 1ULL << order, size = a->page_size << order;
	uint64_t haddr = vmf->address & ~(size - 1), pgoff, max, blk, run = 0;
	unsigned ret = ZD_VM_FAULT_FALLBACK;
	struct zd_page *folio;

	if (a->page_shift + order != a->pmd_shift || haddr < vma->vm_start ||
	    haddr + size > vma->vm_end)
		return ZD_VM_FAULT_FALLBACK;
	pgoff = zd_linear_page_index(vma, haddr);
	if (!fault_begin(ip, pgoff, nr, "dax_iomap_pmd_fault")) {
		ret = ZD_VM_FAULT_SIGBUS;
		goto out;
	}
	blk = lookup_blk(ip, pgoff, &max, &run);
	if (pgoff >= max) {
		ret = ZD_VM_FAULT_SIGBUS;
		goto out;
	}
	if ((vmf->pgoff & (nr - 1)) != ((vmf->address >> a->page_shift) & (nr - 1)) ||
	    ((vmf->flags & ZD_FAULT_FLAG_WRITE) && !(vma->vm_flags & ZD_VM_SHARED)) ||
	    (pgoff | (nr - 1)) >= max || pgoff + nr > ip->nr_entries)
		goto out;
	if (blk == UINT64_MAX || run < nr || (sb->base_pfn + blk) & (nr - 1))
		goto out;   /* a hole, or an extent that cannot map a PMD */
	for (uint64_t i = 0; i < nr; i++)
		if (ip->entries[pgoff + i] == DAX_ENT_PTE)
			goto out;   /* grab_mapping_entry(): PTE entries are favoured */
	folio = blk_page(sb, blk);
	if (ip->entries[pgoff] == DAX_ENT_NONE) {
		dax_folio_init(sb->m, folio, order);
		__atomic_store_n(&folio->mapping, (void *)ip, __ATOMIC_RELAXED);
		folio->index = pgoff;
		memset(ip->entries + pgoff, DAX_ENT_PMD, nr);
	}
	zd_pt_lock(vmf->ptl);
	if (o->pte_none(a, o->ptep_get(vmf->pte))) {
		zd_get_page(sb->m, folio);
		__atomic_add_fetch(&folio->_mapcount, 1, __ATOMIC_RELAXED);
		zd_add_mm_counter(vma->vm_mm, ZD_MM_FILEPAGES, (long)nr);
		o->set_pte(vmf->pte, o->mk_leaf(a, ZD_PT_PMD, sb->base_pfn + blk, fault_prot(vmf)));
	}
	zd_pt_unlock(vmf->ptl);
	ret = ZD_VM_FAULT_NOPAGE;
out:
	pthread_mutex_unlock(&ip->entry_lock);
	return ret;
}

static const struct zd_vm_operations_struct dax_vm_ops = {
	.fault = dax_pte_fault,
	.huge_fault = dax_pmd_fault,
};

/* ext4_file_mmap()/xfs_file_mmap() of a DAX file: MAP_SYNC is fine
 * (daxdev_mapping_supported: pmem is synchronous), VM_HUGEPAGE set. */
static int dax_file_mmap(struct zd_file *file, struct zd_vm_area_struct *vma)
{
	struct zdfs_inode *ip = file->private_data;

	if (sb_dead(ip->sb)) {
		zd_pr_err(ip->sb->m, "zdfs %s: mmap of ino %llu: the file system is shut down",
			  ip->sb->dev, (unsigned long long)ip->d.ino);
		return -EIO;
	}
	vma->vm_ops = &dax_vm_ops;
	vma->vm_flags |= ZD_VM_HUGEPAGE;
	return 0;
}

static void dax_file_release(struct zd_file *file)
{
	struct zdfs_inode *ip = file->private_data;
	struct zdfs_sb *sb = ip->sb;

	zdfs_inode_release(ip);
	free(file);
	zdfs_sb_put(sb);
}

static const struct zd_file_operations zdfs_dax_fops = {
	.mmap = dax_file_mmap,
	.release = dax_file_release,
	.mmap_supported_flags = ZD_MAP_SYNC,
};

struct zd_file *zd_dax_file_alloc(struct zdfs_inode *ip, unsigned fmode)
{
	struct zdfs_sb *sb = ip->sb;
	struct zd_file *file = calloc(1, sizeof(*file) + 96);

	if (!file)
		return NULL;
	snprintf((char *)(file + 1), 96, "/mnt/%s/%s", sb->dev, ip->d.name);
	file->path = (const char *)(file + 1);
	file->f_op = &zdfs_dax_fops;
	file->f_mode = fmode;
	file->dev_major = 259;     /* blkext: pmem's partitions */
	file->dev_minor = (unsigned)sb->r->id;
	file->ino = ip->d.ino;
	/* thp_get_unmapped_area(): room for PMD leaves */
	file->map_align = 1ULL << sb->m->arch.pmd_shift;
	file->i_mode = ZD_S_IFREG;
	file->i_flags = ZD_S_DAX;
	file->private_data = ip;
	file->f_count = 1;
	__atomic_add_fetch(&sb->refcount, 1, __ATOMIC_RELAXED);
	return file;
}

/* ---------- breaking layouts ---------- */

/* unmap_mapping_pages(): file pages [start, end) leave every process. */
static void unmap_mapping_pages(struct zdfs_inode *ip, uint64_t start, uint64_t end)
{
	struct zd_machine *m = ip->sb->m;
	unsigned shift = m->arch.page_shift;

	pthread_mutex_lock(&m->mm_list_lock);
	for (struct zd_mm *mm = m->mm_list; mm; mm = mm->next) {
		zd_mmap_read_lock(mm);
		for (size_t i = 0; i < mm->map_count; i++) {
			struct zd_vm_area_struct *vma = mm->vmas[i];
			uint64_t first = vma->vm_pgoff, last = first + zd_vma_pages(vma);
			uint64_t s = start > first ? start : first, e = end < last ? end : last;

			if (!vma->vm_file || vma->vm_file->f_op != &zdfs_dax_fops ||
			    vma->vm_file->private_data != ip || s >= e)
				continue;
			zd_zap_page_range(vma, vma->vm_start + ((s - first) << shift),
					  vma->vm_start + ((e - first) << shift));
		}
		zd_mmap_read_unlock(mm);
	}
	pthread_mutex_unlock(&m->mm_list_lock);
}

/* dax_busy_page(): the first folio of the range with an entry that is
 * still referenced once nothing maps it (a pin, a GET reference). */
static struct zd_page *busy_page(struct zdfs_inode *ip, uint64_t start, uint64_t end)
{
	struct zd_page *busy = NULL;

	pthread_mutex_lock(&ip->entry_lock);
	pthread_mutex_lock(&ip->sb->lock);
	for (uint64_t pg = start; pg < end && pg < ip->nr_entries && !busy; pg++) {
		uint64_t blk;
		struct zd_page *folio;

		if (ip->entries[pg] == DAX_ENT_NONE)
			continue;
		blk = zdfs_bmap(ip, pg, NULL);
		if (blk == UINT64_MAX)
			continue;
		folio = zd_page_folio(ip->sb->m, blk_page(ip->sb, blk));
		if (zd_page_ref_count(folio))
			busy = folio;
	}
	pthread_mutex_unlock(&ip->sb->lock);
	pthread_mutex_unlock(&ip->entry_lock);
	return busy;
}

/* wait_page_idle(): sleep until the folio's refcount is 0 (the fsdax
 * free path wakes the pgmap's waiters). The kernel sleeps silently; a
 * line here says who waits for what, and again each second. */
static void wait_page_idle(struct zdfs_inode *ip, struct zd_page *folio, const char *why)
{
	struct zd_machine *m = ip->sb->m;
	struct zd_dev_pagemap *pgmap = zd_page_pgmap(m, folio);
	unsigned waited = 0;

	zd_pr_info(m, "zdfs %s: %s of ino %llu waits for pfn 0x%llx to be unpinned (refcount "
		   "%d, %s)", ip->sb->dev, why, (unsigned long long)ip->d.ino,
		   (unsigned long long)zd_page_to_pfn(m, folio), zd_page_ref_count(folio),
		   zd_folio_maybe_dma_pinned(folio) ? "pinned" : "referenced");
	pthread_mutex_lock(&pgmap->wait_lock);
	while (zd_page_ref_count(folio)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (pthread_cond_timedwait(&pgmap->wait_cond, &pgmap->wait_lock, &ts) &&
		    zd_page_ref_count(folio))
			zd_pr_info(m, "zdfs %s: %s of ino %llu still waits for pfn 0x%llx (%u s)",
				   ip->sb->dev, why, (unsigned long long)ip->d.ino,
				   (unsigned long long)zd_page_to_pfn(m, folio), ++waited);
	}
	pthread_mutex_unlock(&pgmap->wait_lock);
}

/* dax_delete_mapping_range(): the entries of [start, end) go (a PMD
 * entry whole), each folio with refcount 0. */
static void delete_mapping_range(struct zdfs_inode *ip, uint64_t start, uint64_t end)
{
	struct zdfs_sb *sb = ip->sb;
	uint64_t nr = sb->pmd_pages;

	pthread_mutex_lock(&ip->entry_lock);
	pthread_mutex_lock(&sb->lock);
	for (uint64_t pg = start; pg < end && pg < ip->nr_entries; pg++) {
		uint8_t kind = ip->entries[pg];
		uint64_t blk = kind ? zdfs_bmap(ip, pg, NULL) : UINT64_MAX;

		if (kind == DAX_ENT_NONE)
			continue;
		if (kind == DAX_ENT_PMD) {
			if (blk != UINT64_MAX)
				dax_folio_put(sb->m, blk_page(sb, blk), sb->m->arch.pmd_shift -
					      sb->m->arch.page_shift);
			memset(ip->entries + pg, DAX_ENT_NONE, nr);
			pg += nr - 1;
			continue;
		}
		if (blk != UINT64_MAX)
			dax_folio_put(sb->m, blk_page(sb, blk), 0);
		ip->entries[pg] = DAX_ENT_NONE;
	}
	pthread_mutex_unlock(&sb->lock);
	pthread_mutex_unlock(&ip->entry_lock);
}

static void break_layout(struct zdfs_inode *ip, uint64_t start, uint64_t end, const char *why,
			 bool unmap)
{
	uint64_t nr = ip->sb->pmd_pages;

	zd_lockdep_assert_held(ip->sb->m, ip->invalidate_writer, "invalidate_lock (write)");
	/* a PMD entry goes whole: its folio is one page for the refcount */
	pthread_mutex_lock(&ip->entry_lock);
	if (start < ip->nr_entries && ip->entries[start] == DAX_ENT_PMD)
		start &= ~(nr - 1);
	if (end < ip->nr_entries && end & (nr - 1) && ip->entries[end] == DAX_ENT_PMD)
		end = (end | (nr - 1)) + 1;
	ip->brk_start = start;   /* from here faults in the range wait */
	ip->brk_end = end;
	pthread_mutex_unlock(&ip->entry_lock);
	for (;;) {
		struct zd_page *busy;

		if (unmap)
			unmap_mapping_pages(ip, start, end);
		busy = busy_page(ip, start, end);
		if (!busy)
			break;
		wait_page_idle(ip, busy, why);
	}
	delete_mapping_range(ip, start, end);
}

void zd_dax_break_layout_end(struct zdfs_inode *ip)
{
	pthread_mutex_lock(&ip->entry_lock);
	ip->brk_start = ip->brk_end = 0;
	pthread_cond_broadcast(&ip->layout_cond);
	pthread_mutex_unlock(&ip->entry_lock);
}

void zd_dax_break_layout(struct zdfs_inode *ip, uint64_t start, uint64_t end, const char *why)
{
	break_layout(ip, start, end, why, true);
}

/* dax_break_layout_final(): an inode no file has open any more is mapped
 * by no VMA (each holds its file), but pins outlive their mappings. No
 * unmap: the caller may be a munmap holding its mmap_lock for writing. */
void zd_dax_break_layout_final(struct zdfs_inode *ip)
{
	break_layout(ip, 0, ip->nr_entries, "release", false);
}

/* kill_dax() with MF_MEM_PRE_REMOVE, then the unmount's
 * dax_break_layout_final(): the file system is shut down, every mapping
 * of its files goes, pins are waited for, the entries dropped. Open
 * files stay (their faults are SIGBUS) until their last close. */
void zd_daxfs_kill(struct zd_nd_region *r)
{
	struct zdfs_sb *sb = __atomic_exchange_n(&r->daxfs, NULL, __ATOMIC_ACQ_REL);

	if (!sb)
		return;
	__atomic_store_n(&sb->dead, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < ZD_DAXFS_MAX_FILES; i++) {
		struct zdfs_inode *ip = &sb->inodes[i];

		zdfs_invalidate_lock(ip);
		if (ip->entries) {
			zd_dax_break_layout(ip, 0, ip->nr_entries, "unbind");
			zd_dax_break_layout_end(ip);   /* faults now find it dead */
		}
		zdfs_invalidate_unlock(ip);
	}
	zd_pr_info(sb->m, "zdfs %s: unmounted (its namespace is going)", sb->dev);
	zdfs_sb_put(sb);
}
