/*
 * Address spaces and mmap (mm/mmap.c, kernel/fork.c's dup_mmap, exit's
 * exit_mmap): creating and ending a process's mm, fork's copy of its VMAs,
 * mmap_lock, the top-down search for free address space, mmap and munmap
 * with the kernel's argument checks and errnos, and the file references
 * VMAs hold.
 * Invariants: the layout is deterministic (no ASLR): user space ends at
 * the arch's TASK_SIZE, the top-down area starts 128 MiB (the kernel's
 * minimum stack gap) below the default map window; an mm is on the
 * machine's list from alloc to mmput; every path that fails leaves the
 * VMAs as they were, except munmap, which like the kernel's may leave a
 * VMA split at the range's start when its end could not be split.
 */
#include "internal.h"
#include <zonedev/mmu_notifier.h>
#include "base/rcu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/err.h>
#include <zonedev/log.h>

#include "../base/lockdep.h"
#include "base/rwlock.h"

#define MIN_GAP (128ULL << 20)   /* mmap_base's gap below the stack (mm/util.c) */

/* ---------- files ---------- */

struct zd_file *zd_get_file(struct zd_file *file)
{
	__atomic_add_fetch(&file->f_count, 1, __ATOMIC_RELAXED);
	return file;
}

void zd_fput(struct zd_file *file)
{
	if (__atomic_sub_fetch(&file->f_count, 1, __ATOMIC_ACQ_REL))
		return;
	if (file->f_op && file->f_op->release)
		file->f_op->release(file);
}

/* ---------- mmap_lock ---------- */

/* The mms this thread holds for reading (a short stack: nesting across
 * mms is rare and shallow). An rmap walk must not take the read lock of
 * an mm its own thread holds: with a writer waiting, an rwsem refuses a
 * second read lock (as the kernel's does), and the walk would wait for
 * its own caller. */
#define MMAP_READ_HELD 8
static __thread struct zd_mm *read_held[MMAP_READ_HELD];
static __thread unsigned nr_read_held;

static void note_read(struct zd_mm *mm)
{
	if (nr_read_held < MMAP_READ_HELD)
		read_held[nr_read_held] = mm;
	nr_read_held++;
}

void zd_mmap_read_lock(struct zd_mm *mm)
{
	pthread_rwlock_rdlock(ZD_RWLOCK(&mm->mmap_lock));
	note_read(mm);
}

bool zd_mmap_read_trylock(struct zd_mm *mm)
{
	if (pthread_rwlock_tryrdlock(ZD_RWLOCK(&mm->mmap_lock)))
		return false;
	note_read(mm);
	return true;
}

bool zd_mmap_read_held(const struct zd_mm *mm)
{
	for (unsigned i = 0; i < nr_read_held && i < MMAP_READ_HELD; i++)
		if (read_held[i] == mm)
			return true;
	return false;
}

void zd_mmap_read_unlock(struct zd_mm *mm)
{
	/* out of order is allowed: the entry goes wherever it is */
	for (unsigned i = nr_read_held < MMAP_READ_HELD ? nr_read_held : MMAP_READ_HELD; i-- > 0; )
		if (read_held[i] == mm) {
			for (unsigned j = i + 1; j < nr_read_held && j < MMAP_READ_HELD; j++)
				read_held[j - 1] = read_held[j];
			break;
		}
	if (nr_read_held)
		nr_read_held--;
	pthread_rwlock_unlock(ZD_RWLOCK(&mm->mmap_lock));
}

void zd_mmap_write_lock(struct zd_mm *mm)
{
	pthread_rwlock_wrlock(ZD_RWLOCK(&mm->mmap_lock));
	zd_lock_set_owner(&mm->mmap_lock_writer);
}

void zd_mmap_write_unlock(struct zd_mm *mm)
{
	zd_lock_clear_owner(&mm->mmap_lock_writer);
	pthread_rwlock_unlock(ZD_RWLOCK(&mm->mmap_lock));
}

bool zd_mmap_write_locked(struct zd_mm *mm)
{
	return __atomic_load_n(&mm->mmap_lock_writer, __ATOMIC_RELAXED) == zd_lock_self();
}

/* ---------- processes ---------- */

/* TASK_SIZE and the default mmap window (pgtable.md §1): x86_64 47 bits
 * (la57 maps above only on request), arm64 va_bits with a 48-bit default
 * window, ppc64 radix 4 PiB with a 128 TiB window. */
static void mm_layout(struct zd_mm *mm)
{
	const struct zd_arch *a = &mm->m->arch;
	uint64_t window;

	switch (a->family) {
	case ZD_ARCH_X86:
		mm->task_size = (1ULL << a->va_bits) - a->page_size;
		window = (1ULL << 47) - a->page_size;
		break;
	case ZD_ARCH_ARM64:
		mm->task_size = 1ULL << a->va_bits;
		window = 1ULL << (a->va_bits < 48 ? a->va_bits : 48);
		break;
	default:
		mm->task_size = 1ULL << 52;
		window = 1ULL << 47;
		break;
	}
	mm->mmap_base = (window - MIN_GAP) & ~(a->page_size - 1);
}

struct zd_mm *zd_mm_alloc(struct zd_machine *m)
{
	struct zd_mm *mm = calloc(1, sizeof(*mm));

	if (!mm)
		return ZD_ERR_PTR(-ENOMEM);
	mm->m = m;
	mm_layout(mm);
	if (zd_pgd_alloc(mm)) {
		free(mm);
		return ZD_ERR_PTR(-ENOMEM);
	}
	{
		/* an rwsem: a waiting writer holds off new readers, so a stream
		 * of faults cannot starve mmap/munmap (glibc's default prefers
		 * readers and would) */
		pthread_rwlockattr_t attr;

		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(ZD_RWLOCK(&mm->mmap_lock), &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	mm->max_map_count = ZD_DEFAULT_MAX_MAP_COUNT;
	pthread_mutex_lock(&m->mm_list_lock);
	mm->pid = ++m->last_pid;
	mm->next = m->mm_list;
	m->mm_list = mm;
	pthread_mutex_unlock(&m->mm_list_lock);
	return mm;
}

struct zd_mm *zd_find_mm(struct zd_machine *m, int pid)
{
	struct zd_mm *mm;

	pthread_mutex_lock(&m->mm_list_lock);
	for (mm = m->mm_list; mm && mm->pid != pid; mm = mm->next)
		;
	pthread_mutex_unlock(&m->mm_list_lock);
	return mm;
}

void zd_mmput(struct zd_mm *mm)
{
	struct zd_machine *m = mm->m;
	struct zd_mmu_notifier_range r;
	struct zd_mm **pp;

	/* exit_mmap(): mirrors hear the release first; every VMA goes, its
	 * owner told through close */
	zd_mmu_notifier_release(mm);
	zd_mmap_write_lock(mm);
	/* unmap_vmas(0, ULONG_MAX): MMU_NOTIFY_UNMAP */
	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_UNMAP, mm, 0, UINT64_MAX);
	while (mm->map_count) {
		struct zd_vm_area_struct *vma = mm->vmas[mm->map_count - 1];

		zd_unmap_page_range(vma, vma->vm_start, vma->vm_end);
		zd_vma_detach(mm, vma);
		zd_remove_vma(vma);
	}
	zd_mmu_notifier_invalidate_range_end(&r);
	zd_pgd_free(mm);
	zd_mmap_write_unlock(mm);
	pthread_mutex_lock(&m->mm_list_lock);
	for (pp = &m->mm_list; *pp && *pp != mm; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = mm->next;
	pthread_mutex_unlock(&m->mm_list_lock);
	zd_mmu_notifier_subscriptions_destroy(mm);
	pthread_rwlock_destroy(ZD_RWLOCK(&mm->mmap_lock));
	free(mm->vmas);
	free(mm);
}

struct zd_mm *zd_dup_mm(struct zd_mm *old)
{
	struct zd_mm *mm = zd_mm_alloc(old->m);
	int err = 0;

	if (ZD_IS_ERR(mm))
		return mm;
	/* dup_mmap() write-locks the parent (its entries become COW) and the
	 * child, whom an rmap walk can already find on the machine's list */
	zd_mmap_write_lock(old);
	zd_mmap_write_lock(mm);
	mm->task_size = old->task_size;
	mm->mmap_base = old->mmap_base;
	mm->def_flags = old->def_flags;
	mm->max_map_count = old->max_map_count;
	for (size_t i = 0; i < old->map_count && !err; i++) {
		struct zd_vm_area_struct *o = old->vmas[i];
		struct zd_vm_area_struct *vma;

		if (o->vm_flags & ZD_VM_DONTCOPY)
			continue;
		vma = zd_vm_area_dup(o);
		if (!vma || zd_vma_link(mm, vma)) {
			if (vma)
				zd_vm_area_free(vma);
			err = -ENOMEM;
			break;
		}
		vma->vm_mm = mm;
		mm->total_vm += zd_vma_pages(vma);
		if (vma->vm_ops && vma->vm_ops->open)
			vma->vm_ops->open(vma);
		if (vma->vm_flags & ZD_VM_WIPEONFORK)
			err = zd_anon_vma_fork(vma, &(struct zd_vm_area_struct){ 0 });
		else
			err = zd_anon_vma_fork(vma, o);
		if (!err)
			err = zd_copy_page_range(vma, o);
	}
	/* flush_tlb_mm(): stores that read a parent entry before it became
	 * read-only have landed before either process goes on */
	zd_synchronize_rcu(&old->m->rcu);
	zd_mmap_write_unlock(mm);
	zd_mmap_write_unlock(old);
	if (err) {
		zd_mmput(mm);
		return ZD_ERR_PTR(err);
	}
	return mm;
}

/* ---------- free address space ---------- */

/* The lowest address mmap may use (vm.mmap_min_addr as Debian sets it). */
static uint64_t mmap_min_addr(const struct zd_mm *mm)
{
	return mm->m->arch.family == ZD_ARCH_ARM64 ? 32768 : 65536;
}

static bool range_free(struct zd_mm *mm, uint64_t addr, uint64_t len)
{
	struct zd_vm_area_struct *vma = zd_find_vma(mm, addr);

	return !vma || vma->vm_start >= addr + len;
}

/* vm_unmapped_area() top-down: the highest gap of len bytes below high
 * whose start is a multiple of align (a power of two). */
static int64_t unmapped_area_topdown(struct zd_mm *mm, uint64_t len, uint64_t low,
				     uint64_t high, uint64_t align)
{
	size_t i = zd_vma_index(mm, high);

	for (;;) {
		uint64_t gap_end = i < mm->map_count && mm->vmas[i]->vm_start < high ?
				   mm->vmas[i]->vm_start : high;
		uint64_t gap_start = i ? mm->vmas[i - 1]->vm_end : low;
		uint64_t addr;

		if (gap_start < low)
			gap_start = low;
		if (gap_end >= len && gap_end - len >= gap_start) {
			addr = (gap_end - len) & ~(align - 1);
			if (addr >= gap_start)
				return (int64_t)addr;
		}
		if (!i)
			return -ENOMEM;
		high = mm->vmas[--i]->vm_start;
	}
}

int64_t zd_get_unmapped_area(struct zd_mm *mm, struct zd_file *file, uint64_t addr,
			     uint64_t len, uint64_t pgoff, unsigned long flags)
{
	const struct zd_arch *a = &mm->m->arch;
	uint64_t pmd = 1ULL << a->pmd_shift, align = a->page_size;

	if (len > mm->task_size)
		return -ENOMEM;
	if (flags & ZD_MAP_FIXED)
		return addr > mm->task_size - len ? -ENOMEM : (int64_t)addr;
	if (file && file->f_op && file->f_op->get_unmapped_area)
		return file->f_op->get_unmapped_area(file, addr, len, pgoff, flags);
	/* A hint is taken when the range is free. */
	if (addr) {
		addr = (addr + a->page_size - 1) & ~(a->page_size - 1);
		if (addr >= mmap_min_addr(mm) && addr <= mm->task_size - len &&
		    range_free(mm, addr, len))
			return (int64_t)addr;
	}
	/* Anonymous mappings that are whole PMDs start on a PMD boundary so
	 * THP can map them (__get_unmapped_area, v6.10+). */
	if (!file && !(len & (pmd - 1)))
		align = pmd;
	/* the object's own alignment (dax_get_unmapped_area) */
	if (file && file->map_align > align)
		align = file->map_align;
	return unmapped_area_topdown(mm, len, mmap_min_addr(mm), mm->mmap_base, align);
}

/* ---------- mmap ---------- */

uint64_t zd_calc_vm_prot_bits(unsigned long prot)
{
	return (prot & ZD_PROT_READ ? ZD_VM_READ : 0) | (prot & ZD_PROT_WRITE ? ZD_VM_WRITE : 0) |
	       (prot & ZD_PROT_EXEC ? ZD_VM_EXEC : 0);
}

#define MAP_KNOWN (ZD_MAP_TYPE | ZD_MAP_FIXED | ZD_MAP_ANONYMOUS | ZD_MAP_NORESERVE | \
		   ZD_MAP_POPULATE | ZD_MAP_FIXED_NOREPLACE)

static int64_t do_mmap(struct zd_mm *mm, uint64_t addr, uint64_t len, unsigned long prot,
		       unsigned long flags, struct zd_file *file, uint64_t pgoff)
{
	struct zd_machine *m = mm->m;
	const uint64_t psize = m->arch.page_size;
	struct zd_vm_area_struct *vma;
	unsigned long type = flags & ZD_MAP_TYPE;
	uint64_t vm_flags, pages;
	int64_t at;
	int err;

	if (!len)
		return -EINVAL;
	len = (len + psize - 1) & ~(psize - 1);
	if (!len)
		return -ENOMEM;   /* the length wrapped when rounded up */
	pages = len >> m->arch.page_shift;
	if (pgoff + pages < pgoff)
		return -EOVERFLOW;
	if (type != ZD_MAP_SHARED && type != ZD_MAP_PRIVATE && type != ZD_MAP_SHARED_VALIDATE)
		return -EINVAL;
	/* MAP_SHARED ignores what it does not know (MAP_SYNC included), so
	 * old binaries keep working; MAP_SHARED_VALIDATE refuses anything
	 * beyond the legacy flags and what the file supports. */
	if (type == ZD_MAP_SHARED)
		flags &= MAP_KNOWN;
	if (type == ZD_MAP_SHARED_VALIDATE &&
	    (flags & ~(MAP_KNOWN | (file && file->f_op ? file->f_op->mmap_supported_flags : 0))))
		return -EOPNOTSUPP;
	if (!file && !(flags & ZD_MAP_ANONYMOUS))
		return -EBADF;
	if (flags & ZD_MAP_FIXED_NOREPLACE)
		flags |= ZD_MAP_FIXED;
	if ((flags & ZD_MAP_FIXED) && (addr & (psize - 1)))
		return -EINVAL;
	if ((flags & ZD_MAP_FIXED) && addr < mmap_min_addr(mm))
		return -EPERM;    /* security_mmap_addr() */
	if (mm->map_count > mm->max_map_count)
		return -ENOMEM;

	vm_flags = zd_calc_vm_prot_bits(prot) | mm->def_flags | ZD_VM_MAYREAD | ZD_VM_MAYWRITE |
		   ZD_VM_MAYEXEC;
	if (type != ZD_MAP_PRIVATE)
		vm_flags |= ZD_VM_SHARED | ZD_VM_MAYSHARE;
	if (flags & ZD_MAP_SYNC)
		vm_flags |= ZD_VM_SYNC;   /* calc_vm_flag_bits(); ->mmap decides if it can */
	if (file) {
		if (!(file->f_mode & ZD_FMODE_READ))
			return -EACCES;
		if (type != ZD_MAP_PRIVATE && !(file->f_mode & ZD_FMODE_WRITE)) {
			/* a read-only file shares only read-only mappings */
			if (prot & ZD_PROT_WRITE)
				return -EACCES;
			vm_flags &= ~(ZD_VM_MAYWRITE | ZD_VM_SHARED);
		}
		if (!file->f_op || !file->f_op->mmap)
			return -ENODEV;
	}
	if (flags & ZD_MAP_NORESERVE)
		vm_flags |= ZD_VM_NORESERVE;

	at = zd_get_unmapped_area(mm, file, addr, len, pgoff, flags);
	if (at < 0)
		return at;
	if (at & (psize - 1))
		return -EINVAL;   /* a file's get_unmapped_area gave a bad answer */
	addr = (uint64_t)at;
	if (!range_free(mm, addr, len)) {
		if (flags & ZD_MAP_FIXED_NOREPLACE)
			return -EEXIST;
		err = zd_do_munmap(mm, addr, addr + len);
		if (err)
			return err;
	}
	if (!file && type == ZD_MAP_PRIVATE)
		pgoff = addr >> m->arch.page_shift;

	vma = calloc(1, sizeof(*vma));
	if (!vma)
		return -ENOMEM;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_flags = vm_flags;
	vma->vm_pgoff = pgoff;
	vma->vm_mm = mm;
	if (file) {
		vma->vm_file = zd_get_file(file);
		err = file->f_op->mmap(file, vma);
	} else if (type != ZD_MAP_PRIVATE) {
		err = zd_shmem_zero_setup(vma);
	} else {
		err = 0;
	}
	if (!err && (vma->vm_start != addr || vma->vm_end != addr + len))
		err = -EINVAL;   /* ->mmap may not move the VMA */
	if (!err)
		err = zd_vma_link(mm, vma);
	if (err) {
		/* unmap_region(): what ->mmap inserted before it failed */
		if (file)
			zd_zap_page_range(vma, addr, addr + len);
		zd_vm_area_free(vma);
		return err;
	}
	mm->total_vm += pages;
	zd_vma_merge_neighbours(mm, vma);
	return (int64_t)addr;
}

int64_t zd_vm_mmap(struct zd_mm *mm, uint64_t addr, uint64_t len, unsigned long prot,
		   unsigned long flags, struct zd_file *file, uint64_t off)
{
	int64_t ret;

	if (off & (mm->m->arch.page_size - 1))
		return -EINVAL;
	zd_mmap_write_lock(mm);
	ret = do_mmap(mm, addr, len, prot, flags, file, off >> mm->m->arch.page_shift);
	zd_mmap_write_unlock(mm);
	return ret;
}

/* ---------- munmap ---------- */

/* free_pgtables() after an unmap: the tables of [start, end) that map
 * nothing the neighbouring VMAs still cover. */
static void unmap_free_pgtables(struct zd_mm *mm, uint64_t start, uint64_t end)
{
	struct zd_vm_area_struct *next = zd_find_vma(mm, end), *prev = NULL;

	for (size_t i = 0; i < mm->map_count && mm->vmas[i]->vm_end <= start; i++)
		prev = mm->vmas[i];
	zd_free_pgtables(mm, start, end, prev ? prev->vm_end : 0, next ? next->vm_start : 0);
}

int zd_do_munmap(struct zd_mm *mm, uint64_t start, uint64_t end)
{
	struct zd_mmu_notifier_range r;
	int err;

	zd_lockdep_assert_held(mm->m, mm->mmap_lock_writer, "mmap_lock (write)");
	if (start >= end)
		return 0;
	err = zd_vma_isolate_range(mm, start, end, true);
	if (err)
		return err;
	/* vms_clear_ptes(): MMU_NOTIFY_UNMAP over the whole span */
	zd_mmu_notify_start(&r, ZD_MMU_NOTIFY_UNMAP, mm, start, end);
	for (;;) {
		struct zd_vm_area_struct *vma = zd_find_vma(mm, start);

		if (!vma || vma->vm_start >= end)
			break;
		zd_unmap_page_range(vma, vma->vm_start, vma->vm_end);
		zd_vma_detach(mm, vma);
		zd_remove_vma(vma);
	}
	zd_mmu_notifier_invalidate_range_end(&r);
	unmap_free_pgtables(mm, start, end);
	return 0;
}

int zd_vm_munmap(struct zd_mm *mm, uint64_t start, uint64_t len)
{
	const uint64_t psize = mm->m->arch.page_size;
	int err;

	if ((start & (psize - 1)) || start > mm->task_size || len > mm->task_size - start)
		return -EINVAL;
	len = (len + psize - 1) & ~(psize - 1);
	if (!len)
		return -EINVAL;
	zd_mmap_write_lock(mm);
	err = zd_do_munmap(mm, start, start + len);
	zd_mmap_write_unlock(mm);
	return err;
}

void zd_unmap_file_mappings(struct zd_machine *m, const struct zd_file_operations *f_op,
			    const void *private_data)
{
	pthread_mutex_lock(&m->mm_list_lock);
	for (struct zd_mm *mm = m->mm_list; mm; mm = mm->next) {
		zd_mmap_write_lock(mm);
		for (size_t i = 0; i < mm->map_count; i++) {
			struct zd_vm_area_struct *vma = mm->vmas[i];

			if (vma->vm_file && vma->vm_file->f_op == f_op &&
			    vma->vm_file->private_data == private_data)
				zd_zap_page_range(vma, vma->vm_start, vma->vm_end);
		}
		zd_mmap_write_unlock(mm);
	}
	pthread_mutex_unlock(&m->mm_list_lock);
}
