/*
 * dmirror's mirror of a process (lib/test_hmm.c's struct dmirror, the
 * device page table half, kept apart from the device-memory half in
 * test_hmm.c): the xarray of mirrored pages, the interval notifier that
 * empties it, dmirror_range_fault's retry protocol and the READ, WRITE and
 * SNAPSHOT ioctls (spec hmm.md §3.6, §4.2–4.5).
 * Invariants: an entry is stored only under the mutex after read_retry
 * said the hmm_range_fault result is still current; the invalidate
 * callback clears entries under the same mutex after set_seq (trylock for
 * non-blockable ranges); no page reference is held by the table, the
 * notifier is what keeps it true; entries carry the WRITE tag only when
 * the CPU entry was writable.
 */
#include <zonedev/device.h>
#include <zonedev/err.h>
#include <zonedev/fault-inject.h>
#include <zonedev/gfp.h>
#include <zonedev/hmm.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <zonedev/migrate.h>
#include <zonedev/mm.h>
#include <zonedev/pgalloc.h>
#include <zonedev/swapops.h>
#include <zonedev/test_hmm.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "test_hmm_internal.h"

#define DMIRROR_BATCH 32   /* pfns per hmm_range (mm tree) */

/* Entries [idx, last] out of the table, under the mutex. */
static void erase_locked(struct zd_dmirror *d, uint64_t idx, uint64_t last)
{
	for (; zd_xa_find(&d->pt, &idx, last); idx++) {
		zd_xa_erase(&d->pt, idx);
		if (idx == last)
			break;
	}
}

static bool dmirror_interval_invalidate(struct zd_mmu_interval_notifier *mni,
					const struct zd_mmu_notifier_range *range,
					unsigned long cur_seq)
{
	struct zd_dmirror *d = (struct zd_dmirror *)((char *)mni -
						     offsetof(struct zd_dmirror, notifier));
	uint64_t shift = d->m->arch.page_shift;

	/* our own migration: the pages it moves are ours to keep mapped */
	if (range->event == ZD_MMU_NOTIFY_MIGRATE && range->owner == d->mdevice)
		return true;
	if (zd_mmu_notifier_range_blockable(range))
		pthread_mutex_lock(&d->mutex);
	else if (pthread_mutex_trylock(&d->mutex))
		return false;
	zd_mmu_interval_set_seq(mni, cur_seq);
	/* dmirror_do_update(): end >> PAGE_SHIFT is included, as the kernel's */
	erase_locked(d, range->start >> shift, range->end >> shift);
	pthread_mutex_unlock(&d->mutex);
	return true;
}

void dmirror_forget(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr, uint64_t n)
{
	uint64_t shift = zd_dmirror_to_device(mdev)->machine->arch.page_shift;

	pthread_mutex_lock(&mdev->mirrors_lock);
	for (struct zd_dmirror *d = mdev->mirrors; d; d = d->next) {
		if (d->mm != mm)
			continue;
		pthread_mutex_lock(&d->mutex);
		erase_locked(d, addr >> shift, (addr >> shift) + n - 1);
		pthread_mutex_unlock(&d->mutex);
	}
	pthread_mutex_unlock(&mdev->mirrors_lock);
}

static const struct zd_mmu_interval_notifier_ops dmirror_mni_ops = {
	.invalidate = dmirror_interval_invalidate,
};

/* dmirror_fops_mmap(): the device's mmap hands out zeroed kernel pages;
 * the PTEs hold the only references once the VMA is set up. */
static int dmirror_fops_mmap(struct zd_file *file, struct zd_vm_area_struct *vma)
{
	struct zd_dmirror_device *mdev = file->private_data;
	struct zd_machine *m = zd_dmirror_to_device(mdev)->machine;

	for (uint64_t addr = vma->vm_start; addr < vma->vm_end; addr += m->arch.page_size) {
		/* fault point dmirror_mmap:alloc: no page for this address */
		struct zd_page *page = zd_should_fail(m, "dmirror_mmap:alloc") ? NULL :
			zd_alloc_pages(m, ZD_GFP_KERNEL | ZD___GFP_ZERO, 0);
		int rc;

		if (!page)
			return -ENOMEM;
		rc = zd_vm_insert_page(vma, addr, page);
		zd_put_page(m, page);
		if (rc)
			return rc;
	}
	return 0;
}

static void dmirror_fops_release(struct zd_file *file)
{
	free(file);
}

static const struct zd_file_operations dmirror_fops = {
	.mmap = dmirror_fops_mmap,
	.release = dmirror_fops_release,
};

struct zd_file *zd_dmirror_file_open(struct zd_dmirror_device *mdev)
{
	struct zd_device *dev = zd_dmirror_to_device(mdev);
	struct zd_file *file = calloc(1, sizeof(*file) + 80);

	if (!file)
		return ZD_ERR_PTR(-ENOMEM);
	snprintf((char *)(file + 1), 80, "/dev/%s", zd_dev_name(dev));
	file->path = (const char *)(file + 1);
	file->f_op = &dmirror_fops;
	file->f_mode = ZD_FMODE_READ | ZD_FMODE_WRITE;
	file->dev_major = 511;   /* the test module's dynamic char major */
	file->ino = 2000;
	file->i_mode = ZD_S_IFCHR;
	file->private_data = mdev;
	file->f_count = 1;
	return file;
}

struct zd_dmirror *zd_dmirror_open(struct zd_dmirror_device *mdev, struct zd_mm *mm)
{
	struct zd_machine *m = zd_dmirror_to_device(mdev)->machine;
	struct zd_dmirror *d = calloc(1, sizeof(*d));
	int rc;

	if (!d) {
		zd_pr_err(m, "dmirror: no memory for a mirror of pid %d", mm->pid);
		return ZD_ERR_PTR(-ENOMEM);
	}
	d->mdevice = mdev;
	d->m = m;
	d->mm = mm;
	pthread_mutex_init(&d->mutex, NULL);
	zd_xa_init(&d->pt, 64 - m->arch.page_shift);
	/* the whole address space: [0, ULONG_MAX & PAGE_MASK) */
	rc = zd_mmu_interval_notifier_insert(&d->notifier, mm, 0,
					     ~0ULL & ~(m->arch.page_size - 1), &dmirror_mni_ops);
	if (rc) {
		zd_xa_destroy(&d->pt);
		pthread_mutex_destroy(&d->mutex);
		free(d);
		return ZD_ERR_PTR(rc);
	}
	pthread_mutex_lock(&mdev->mirrors_lock);
	d->next = mdev->mirrors;
	mdev->mirrors = d;
	pthread_mutex_unlock(&mdev->mirrors_lock);
	return d;
}

void zd_dmirror_release(struct zd_dmirror *d)
{
	struct zd_dmirror **pp;

	pthread_mutex_lock(&d->mdevice->mirrors_lock);
	for (pp = &d->mdevice->mirrors; *pp && *pp != d; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = d->next;
	pthread_mutex_unlock(&d->mdevice->mirrors_lock);
	zd_mmu_interval_notifier_remove(&d->notifier);
	zd_xa_destroy(&d->pt);
	pthread_mutex_destroy(&d->mutex);
	free(d);
}

void zd_dmirror_mirror_stats(struct zd_dmirror *d, struct zd_dmirror_mirror_stats *st)
{
	pthread_mutex_lock(&d->mutex);
	*st = (struct zd_dmirror_mirror_stats){ d->faults, d->reads, d->writes, d->pt.count };
	pthread_mutex_unlock(&d->mutex);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* dmirror_do_fault(), under the mutex: the range's pages into the table. */
static int dmirror_do_fault(struct zd_dmirror *d, struct zd_hmm_range *range)
{
	uint64_t shift = d->m->arch.page_shift;

	for (uint64_t a = range->start; a < range->end; a += 1ULL << shift) {
		uint64_t hp = range->hmm_pfns[(a - range->start) >> shift];
		struct zd_page *page;
		uintptr_t entry;

		/* hmm_range_fault with REQ_FAULT only returns valid entries */
		if (!(hp & ZD_HMM_PFN_VALID))
			return -EFAULT;
		/* an own device-private page is stored as itself: its bytes
		 * are the device's, reached through the copy engine */
		page = zd_hmm_pfn_to_page(d->m, hp);
		if (ZD_WARN(d->m, !page, "dmirror: no page for hmm pfn 0x%llx",
			    (unsigned long long)hp))
			return -EFAULT;
		entry = (uintptr_t)page;
		if (hp & ZD_HMM_PFN_WRITE)
			entry |= DPT_XA_TAG_WRITE;
		else if (ZD_WARN(d->m, range->default_flags & ZD_HMM_PFN_REQ_WRITE,
				 "dmirror: a write fault returned a read-only entry"))
			return -EFAULT;
		if (zd_xa_store(&d->pt, a >> shift, (void *)entry))
			return -ENOMEM;
	}
	return 0;
}

/*
 * dmirror_range_fault(): hmm_range_fault until a result survives
 * read_retry under the mutex (then kept there), for at most
 * HMM_RANGE_DEFAULT_TIMEOUT; fill runs with the mutex held, or snapshot
 * only when fill is NULL (the caller then holds the mutex on 0).
 */
static int range_fault_locked(struct zd_dmirror *d, struct zd_hmm_range *range)
{
	double deadline = now_ms() + ZD_HMM_RANGE_DEFAULT_TIMEOUT;
	int ret;

	for (;;) {
		if (now_ms() > deadline) {
			zd_pr_err(d->m, "dmirror: [0x%llx, 0x%llx) kept changing for %d ms",
				  (unsigned long long)range->start, (unsigned long long)range->end,
				  ZD_HMM_RANGE_DEFAULT_TIMEOUT);
			return -EBUSY;
		}
		range->notifier_seq = zd_mmu_interval_read_begin(range->notifier);
		zd_mmap_read_lock(d->mm);
		ret = zd_hmm_range_fault(range);
		zd_mmap_read_unlock(d->mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		pthread_mutex_lock(&d->mutex);
		if (!zd_mmu_interval_read_retry(range->notifier, range->notifier_seq))
			return 0;   /* mutex held */
		pthread_mutex_unlock(&d->mutex);
	}
}

static int dmirror_fault(struct zd_dmirror *d, uint64_t start, uint64_t end, bool write)
{
	uint64_t pfns[DMIRROR_BATCH], ps = d->m->arch.page_size;
	struct zd_hmm_range range = {
		.notifier = &d->notifier, .hmm_pfns = pfns, .pfn_flags_mask = 0,
		.default_flags = ZD_HMM_PFN_REQ_FAULT | (write ? ZD_HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = d->mdevice,
	};

	for (uint64_t a = start; a < end; a = range.end) {
		int ret;

		range.start = a;
		range.end = end - a > DMIRROR_BATCH * ps ? a + DMIRROR_BATCH * ps : end;
		ret = range_fault_locked(d, &range);
		if (ret)
			return ret;
		ret = dmirror_do_fault(d, &range);
		pthread_mutex_unlock(&d->mutex);
		if (ret)
			return ret;
	}
	return 0;
}

/* dmirror_fops_unlocked_ioctl()'s checks of every command. */
static int check_cmd(struct zd_dmirror *d, const char *what, const struct zd_hmm_dmirror_cmd *c)
{
	uint64_t shift = d->m->arch.page_shift;
	const char *why = NULL;

	if (c->addr & (d->m->arch.page_size - 1))
		why = "addr is not page aligned";
	else if (!c->npages || c->npages > (~0ULL >> shift) ||
		 c->addr >= c->addr + (c->npages << shift))
		why = "npages is 0 or the range wraps";
	else if (!c->ptr)
		why = "no buffer";   /* copy_from_user/copy_to_user would fault */
	if (why) {
		zd_pr_err(d->m, "dmirror %s at 0x%llx (%llu pages): %s", what,
			  (unsigned long long)c->addr, (unsigned long long)c->npages, why);
		return c->ptr ? -EINVAL : -EFAULT;
	}
	return 0;
}

/* dmirror_do_read()/dmirror_do_write() under the mutex: from *cpages on,
 * until a page the table lacks (-ENOENT) or, writing, lacks WRITE for. */
static int do_copy(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *c, bool write)
{
	uint64_t ps = d->m->arch.page_size, shift = d->m->arch.page_shift;
	char *buf = (char *)(uintptr_t)c->ptr;

	for (; c->cpages < c->npages; c->cpages++) {
		uint64_t a = c->addr + (c->cpages << shift);
		uintptr_t entry = (uintptr_t)zd_xa_load(&d->pt, a >> shift);
		struct zd_page *page = (struct zd_page *)(entry & ~DPT_XA_TAG_MASK);
		char *ubuf = buf + (c->cpages << shift);

		if (!page || (write && (entry & DPT_XA_TAG_MASK) != DPT_XA_TAG_WRITE))
			return -ENOENT;
		if (zd_is_zone_device_page(page) && zd_page_pgmap(d->m, page)->owner == d->mdevice) {
			/* the device's own memory: its engine's view */
			if (write)
				zd_dmirror_copy_to_device(d->mdevice, page, ubuf, ps);
			else
				zd_dmirror_copy_from_device(d->mdevice, page, ubuf, ps);
		} else {
			/* system memory, or another device's coherent memory */
			char *kaddr = zd_is_zone_device_page(page) ?
				      zd_device_page_address(d->m, page) : zd_page_address(d->m, page);

			if (write)
				memcpy(kaddr, ubuf, ps);
			else
				memcpy(ubuf, kaddr, ps);
		}
		if (write)
			d->writes++;
		else
			d->reads++;
	}
	return 0;
}

static int read_write(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd, bool write)
{
	struct zd_hmm_dmirror_cmd c = *cmd;
	uint64_t shift = d->m->arch.page_shift;
	int ret = check_cmd(d, write ? "WRITE" : "READ", &c);

	if (ret)
		return ret;
	c.cpages = c.faults = 0;
	for (;;) {
		pthread_mutex_lock(&d->mutex);
		ret = do_copy(d, &c, write);
		pthread_mutex_unlock(&d->mutex);
		if (ret != -ENOENT)
			break;
		ret = dmirror_fault(d, c.addr + (c.cpages << shift), c.addr + (c.npages << shift),
				    write);
		if (ret)
			break;
		c.faults++;
		pthread_mutex_lock(&d->mutex);
		d->faults++;
		pthread_mutex_unlock(&d->mutex);
	}
	if (!ret)
		*cmd = c;
	return ret;
}

int zd_dmirror_read(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd)
{
	return read_write(d, cmd, false);
}

int zd_dmirror_write(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd)
{
	return read_write(d, cmd, true);
}

/* dmirror_mkentry(). */
static uint8_t mkentry(struct zd_dmirror *d, uint64_t hp)
{
	const struct zd_arch *a = &d->m->arch;
	struct zd_page *page;
	unsigned order;
	uint8_t v;

	if (hp & ZD_HMM_PFN_ERROR)
		return ZD_HMM_DMIRROR_PROT_ERROR;
	if (!(hp & ZD_HMM_PFN_VALID))
		return ZD_HMM_DMIRROR_PROT_NONE;
	page = zd_hmm_pfn_to_page(d->m, hp);
	if (page && zd_is_device_private_page(d->m, page))
		v = zd_page_pgmap(d->m, page)->owner == d->mdevice ? ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
						       ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else if (page && zd_is_zone_device_page(page) && page->pgmap &&
		 page->pgmap->type == ZD_MEMORY_DEVICE_COHERENT)
		v = page->pgmap->owner == d->mdevice ? ZD_HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
						       ZD_HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
	else if (zd_hmm_pfn_to_pfn(hp) == d->m->zero_pfn)
		v = ZD_HMM_DMIRROR_PROT_ZERO;
	else
		v = ZD_HMM_DMIRROR_PROT_NONE;
	v |= hp & ZD_HMM_PFN_WRITE ? ZD_HMM_DMIRROR_PROT_WRITE : ZD_HMM_DMIRROR_PROT_READ;
	order = zd_hmm_pfn_to_map_order(hp);
	if (order + a->page_shift == a->pt[ZD_PT_PMD].shift)
		v |= ZD_HMM_DMIRROR_PROT_PMD;
	else if (order && order + a->page_shift == a->pt[ZD_PT_PUD].shift)
		v |= ZD_HMM_DMIRROR_PROT_PUD;
	return v;
}

/* The snapshot's own notifier only moves the seq (under the mutex). */
struct snapshot_notifier {
	struct zd_mmu_interval_notifier mni;   /* first: the callback casts back */
	struct zd_dmirror *d;
};

static bool snapshot_invalidate(struct zd_mmu_interval_notifier *mni,
				const struct zd_mmu_notifier_range *range, unsigned long cur_seq)
{
	struct zd_dmirror *d = ((struct snapshot_notifier *)mni)->d;

	if (zd_mmu_notifier_range_blockable(range))
		pthread_mutex_lock(&d->mutex);
	else if (pthread_mutex_trylock(&d->mutex))
		return false;
	zd_mmu_interval_set_seq(mni, cur_seq);
	pthread_mutex_unlock(&d->mutex);
	return true;
}
static const struct zd_mmu_interval_notifier_ops snapshot_ops = {
	.invalidate = snapshot_invalidate,
};

int zd_dmirror_snapshot(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd)
{
	struct zd_hmm_dmirror_cmd c = *cmd;
	uint64_t pfns[DMIRROR_BATCH], ps = d->m->arch.page_size, end;
	struct snapshot_notifier sn = { .d = d };
	uint8_t *out = (uint8_t *)(uintptr_t)c.ptr;
	int ret = check_cmd(d, "SNAPSHOT", &c);

	if (ret)
		return ret;
	c.cpages = c.faults = 0;
	end = c.addr + c.npages * ps;
	for (uint64_t a = c.addr; a < end; ) {
		struct zd_hmm_range range = {
			.notifier = &sn.mni, .start = a, .hmm_pfns = pfns,
			.end = end - a > DMIRROR_BATCH * ps ? a + DMIRROR_BATCH * ps : end,
			.default_flags = 0, .pfn_flags_mask = 0, .dev_private_owner = d->mdevice,
		};

		ret = zd_mmu_interval_notifier_insert(&sn.mni, d->mm, range.start,
						      range.end - range.start, &snapshot_ops);
		if (ret)
			return ret;
		ret = range_fault_locked(d, &range);
		if (!ret) {
			for (uint64_t p = range.start; p < range.end; p += ps)
				out[c.cpages++] = mkentry(d, pfns[(p - range.start) / ps]);
			pthread_mutex_unlock(&d->mutex);
		}
		zd_mmu_interval_notifier_remove(&sn.mni);
		if (ret)
			return ret;
		a = range.end;
	}
	*cmd = c;
	return 0;
}

/* The migrate ioctls: the pages that reached the device are in the table
 * (TO_DEV), then the whole range is read back from it, -ENOENT at the
 * first page that is not (shared memory, another device's page). */
int zd_dmirror_ioctl_migrate_to_dev(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd)
{
	struct zd_hmm_dmirror_cmd c = *cmd;
	uint64_t moved;
	int ret = check_cmd(d, "MIGRATE_TO_DEV", &c);

	if (ret)
		return ret;
	c.cpages = c.faults = 0;
	ret = dmirror_migrate_range(d->mdevice, d, d->mm, c.addr, c.npages, &moved, true);
	if (ret)
		return ret;
	pthread_mutex_lock(&d->mutex);
	ret = do_copy(d, &c, false);
	pthread_mutex_unlock(&d->mutex);
	if (ret)
		zd_pr_info(d->m, "dmirror MIGRATE_TO_DEV: 0x%llx is not on the device: -ENOENT",
			   (unsigned long long)(c.addr + (c.cpages << d->m->arch.page_shift)));
	else
		*cmd = c;
	return ret;
}

int zd_dmirror_ioctl_migrate_to_sys(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd)
{
	struct zd_hmm_dmirror_cmd c = *cmd;
	int ret = check_cmd(d, "MIGRATE_TO_SYS", &c);

	if (ret)
		return ret;
	c.cpages = c.faults = 0;
	ret = dmirror_migrate_range(d->mdevice, d, d->mm, c.addr, c.npages, &c.cpages, false);
	if (!ret)
		*cmd = c;
	return ret;
}

/* dmirror_exclusive(): each page made device-exclusive and mapped ATOMIC,
 * then the range read back. The exclusive conversion is announced with
 * no owner, as test_hmm passes NULL: our own notifier drops the old
 * entry, and the ATOMIC one is stored after. */
int zd_dmirror_exclusive(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd)
{
	struct zd_hmm_dmirror_cmd c = *cmd;
	uint64_t ps = d->m->arch.page_size, end;
	int ret = check_cmd(d, "EXCLUSIVE", &c);

	if (ret)
		return ret;
	c.cpages = c.faults = 0;
	end = c.addr + c.npages * ps;
	zd_mmap_read_lock(d->mm);
	for (uint64_t a = c.addr; a < end; a += ps) {
		struct zd_page *folio, *page = zd_make_device_exclusive(d->mm, a, NULL, &folio);

		if (ZD_IS_ERR(page)) {
			ret = (int)ZD_PTR_ERR(page);
			break;
		}
		pthread_mutex_lock(&d->mutex);
		if (zd_xa_store(&d->pt, a >> d->m->arch.page_shift,
				(void *)((uintptr_t)page | DPT_XA_TAG_ATOMIC)))
			ret = -ENOMEM;
		pthread_mutex_unlock(&d->mutex);
		zd_unlock_page(folio);
		zd_put_page(d->m, folio);
		if (ret)
			break;
	}
	zd_mmap_read_unlock(d->mm);
	if (ret)
		return ret;
	pthread_mutex_lock(&d->mutex);
	ret = do_copy(d, &c, false);
	pthread_mutex_unlock(&d->mutex);
	if (!ret)
		*cmd = c;
	return ret;
}

/* dmirror_check_atomic(): -EPERM while any page of the range is still
 * mapped ATOMIC (a CPU access revokes it through the notifier). */
int zd_dmirror_check_exclusive(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd)
{
	uint64_t shift = d->m->arch.page_shift, idx, last;
	int ret = check_cmd(d, "CHECK_EXCLUSIVE", cmd);

	if (ret)
		return ret;
	idx = cmd->addr >> shift;
	last = idx + cmd->npages - 1;
	pthread_mutex_lock(&d->mutex);
	for (; zd_xa_find(&d->pt, &idx, last); idx++) {
		if (((uintptr_t)zd_xa_load(&d->pt, idx) & DPT_XA_TAG_MASK) == DPT_XA_TAG_ATOMIC) {
			ret = -EPERM;
			break;
		}
		if (idx == last)
			break;
	}
	pthread_mutex_unlock(&d->mutex);
	return ret;
}
