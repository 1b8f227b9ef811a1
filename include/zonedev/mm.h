/*
 * Process address spaces (the kernel's mm_struct and vm_area_struct):
 * a zd_mm is one simulated process's user address space on a machine, its
 * VMAs sorted and non-overlapping, guarded by mmap_lock (an rwsem). The
 * calls take the kernel's arguments and return its errnos: mmap, munmap,
 * mprotect, mremap, fork's copy of the VMAs and exit.
 * Invariants: every VMA is [vm_start, vm_end) with both ends page aligned
 * and vm_start < vm_end <= task_size; neighbours that could merge (same
 * flags, same file at contiguous offsets, no close hook) are merged;
 * map_count never exceeds max_map_count. The VMA list is read under
 * mmap_read_lock and changed under mmap_write_lock.
 */
#ifndef ZONEDEV_MM_H
#define ZONEDEV_MM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zonedev/rcu.h>
#include <zonedev/pgtable.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;
struct zd_page;

/* vm_flags (include/linux/mm.h). VM_MAY* is VM_* << 4, which mprotect relies on. */
#define ZD_VM_NONE         0x00000000ULL
#define ZD_VM_READ         0x00000001ULL
#define ZD_VM_WRITE        0x00000002ULL
#define ZD_VM_EXEC         0x00000004ULL
#define ZD_VM_SHARED       0x00000008ULL
#define ZD_VM_MAYREAD      0x00000010ULL
#define ZD_VM_MAYWRITE     0x00000020ULL
#define ZD_VM_MAYEXEC      0x00000040ULL
#define ZD_VM_MAYSHARE     0x00000080ULL
#define ZD_VM_GROWSDOWN    0x00000100ULL
#define ZD_VM_PFNMAP       0x00000400ULL
#define ZD_VM_LOCKED       0x00002000ULL
#define ZD_VM_IO           0x00004000ULL
#define ZD_VM_SEQ_READ     0x00008000ULL
#define ZD_VM_RAND_READ    0x00010000ULL
#define ZD_VM_DONTCOPY     0x00020000ULL
#define ZD_VM_DONTEXPAND   0x00040000ULL
#define ZD_VM_ACCOUNT      0x00100000ULL
#define ZD_VM_NORESERVE    0x00200000ULL
#define ZD_VM_SYNC         0x00800000ULL
#define ZD_VM_WIPEONFORK   0x02000000ULL
#define ZD_VM_DONTDUMP     0x04000000ULL
#define ZD_VM_SOFTDIRTY    0x08000000ULL
#define ZD_VM_MIXEDMAP     0x10000000ULL
#define ZD_VM_HUGEPAGE     0x20000000ULL
#define ZD_VM_NOHUGEPAGE   0x40000000ULL

/* mmap/mprotect/mremap arguments (uapi asm-generic/mman-common.h, linux/mman.h). */
#define ZD_PROT_NONE       0x0
#define ZD_PROT_READ       0x1
#define ZD_PROT_WRITE      0x2
#define ZD_PROT_EXEC       0x4
#define ZD_PROT_SEM        0x8
#define ZD_PROT_GROWSDOWN  0x01000000
#define ZD_PROT_GROWSUP    0x02000000
#define ZD_MAP_SHARED      0x01
#define ZD_MAP_PRIVATE     0x02
#define ZD_MAP_SHARED_VALIDATE 0x03
#define ZD_MAP_TYPE        0x0f
#define ZD_MAP_FIXED       0x10
#define ZD_MAP_ANONYMOUS   0x20
#define ZD_MAP_NORESERVE   0x4000
#define ZD_MAP_POPULATE    0x8000
#define ZD_MAP_SYNC        0x080000
#define ZD_MAP_FIXED_NOREPLACE 0x100000
#define ZD_MREMAP_MAYMOVE   1
#define ZD_MREMAP_FIXED     2
#define ZD_MREMAP_DONTUNMAP 4
#define ZD_MADV_NORMAL      0
#define ZD_MADV_RANDOM      1
#define ZD_MADV_SEQUENTIAL  2
#define ZD_MADV_WILLNEED    3
#define ZD_MADV_DONTNEED    4
#define ZD_MADV_FREE        8
#define ZD_MADV_DOFORK      11
#define ZD_MADV_DONTFORK    10
#define ZD_MADV_HUGEPAGE    14
#define ZD_MADV_NOHUGEPAGE  15
#define ZD_MADV_DONTDUMP    16
#define ZD_MADV_DODUMP      17
#define ZD_MADV_WIPEONFORK  18
#define ZD_MADV_KEEPONFORK  19
#define ZD_MADV_POPULATE_READ  22
#define ZD_MADV_POPULATE_WRITE 23
#define ZD_MADV_DONTNEED_LOCKED 24
#define ZD_MADV_COLLAPSE    25

/* sysctl vm.max_map_count's default (DEFAULT_MAX_MAP_COUNT). */
#define ZD_DEFAULT_MAX_MAP_COUNT 65530

/* enum fault_flag (include/linux/mm_types.h). */
#define ZD_FAULT_FLAG_WRITE         (1u << 0)
#define ZD_FAULT_FLAG_MKWRITE       (1u << 1)
#define ZD_FAULT_FLAG_ALLOW_RETRY   (1u << 2)
#define ZD_FAULT_FLAG_RETRY_NOWAIT  (1u << 3)
#define ZD_FAULT_FLAG_KILLABLE      (1u << 4)
#define ZD_FAULT_FLAG_TRIED         (1u << 5)
#define ZD_FAULT_FLAG_USER          (1u << 6)
#define ZD_FAULT_FLAG_REMOTE        (1u << 7)
#define ZD_FAULT_FLAG_INSTRUCTION   (1u << 8)
#define ZD_FAULT_FLAG_INTERRUPTIBLE (1u << 9)
#define ZD_FAULT_FLAG_UNSHARE       (1u << 10)

/* vm_fault_t bits (enum vm_fault_reason). */
#define ZD_VM_FAULT_OOM       0x000001u
#define ZD_VM_FAULT_SIGBUS    0x000002u
#define ZD_VM_FAULT_MAJOR     0x000004u
#define ZD_VM_FAULT_HWPOISON  0x000010u
#define ZD_VM_FAULT_SIGSEGV   0x000040u
#define ZD_VM_FAULT_NOPAGE    0x000100u
#define ZD_VM_FAULT_LOCKED    0x000200u
#define ZD_VM_FAULT_RETRY     0x000400u
#define ZD_VM_FAULT_FALLBACK  0x000800u
#define ZD_VM_FAULT_ERROR (ZD_VM_FAULT_OOM | ZD_VM_FAULT_SIGBUS | ZD_VM_FAULT_SIGSEGV | \
			   ZD_VM_FAULT_HWPOISON)

/* mm_struct's rss_stat counters (enum NR_MM_COUNTERS order). */
enum { ZD_MM_FILEPAGES, ZD_MM_ANONPAGES, ZD_MM_SWAPENTS, ZD_MM_SHMEMPAGES, ZD_NR_MM_COUNTERS };

struct zd_mm;
struct zd_file;
struct zd_vm_area_struct;
struct zd_anon_vma;
struct zd_mmu_notifier_subscriptions;

/* A fault being handled (struct vm_fault): the handler's view. */
struct zd_vm_fault {
	struct zd_vm_area_struct *vma;
	uint64_t address;             /* the faulting page's address */
	uint64_t real_address;        /* the faulting byte */
	unsigned flags;               /* ZD_FAULT_FLAG_* */
	uint64_t pgoff;               /* the page's offset in the VMA's object, in pages */
	uint64_t *pte;                /* its PTE slot (locked through ptl while handled) */
	struct zd_page *ptl;
	zd_pte_t orig_pte;            /* the entry the fault saw */
	struct zd_page *page;         /* ->fault's page, one reference held */
};

/* What a mapping's owner does at its VMA's life events (vm_operations_struct). */
struct zd_vm_operations_struct {
	void (*open)(struct zd_vm_area_struct *vma);      /* a copy was made (split, fork) */
	void (*close)(struct zd_vm_area_struct *vma);     /* the VMA goes */
	int (*may_split)(struct zd_vm_area_struct *vma, uint64_t addr);  /* 0 or -errno */
	const char *(*name)(struct zd_vm_area_struct *vma);  /* for maps, or NULL */
	/* A missing page of the object: vmf->page set (one reference), or a
	 * VM_FAULT_* error. NULL: a fault there is SIGBUS. */
	unsigned (*fault)(struct zd_vm_fault *vmf);
	/* A fault at a PMD or PUD (order: its pages' log2) with vmf->pte the
	 * empty slot at that level and vmf->ptl its table: map a leaf there,
	 * or VM_FAULT_FALLBACK for the next smaller size (DAX). */
	unsigned (*huge_fault)(struct zd_vm_fault *vmf, unsigned order);
};

/* A mappable object: what mmap's fd stands for (struct file). */
struct zd_file_operations {
	/* Set vma->vm_ops and friends, or refuse with -errno. */
	int (*mmap)(struct zd_file *file, struct zd_vm_area_struct *vma);
	/* An address for len bytes (an alignment the object needs), or -errno;
	 * NULL: the generic top-down search. */
	int64_t (*get_unmapped_area)(struct zd_file *file, uint64_t addr, uint64_t len,
				     uint64_t pgoff, unsigned long flags);
	/* The last reference went (zd_fput()). */
	void (*release)(struct zd_file *file);
	/* MAP_* bits beyond the legacy ones MAP_SHARED_VALIDATE accepts for
	 * this object (FOP_MMAP_SYNC: ZD_MAP_SYNC for DAX). */
	unsigned long mmap_supported_flags;
};

/* The inode's mode and flags as vma_is_dax()/vma_is_fsdax() test them. */
#define ZD_S_IFCHR 0020000
#define ZD_S_IFREG 0100000
#define ZD_S_DAX   0x2000      /* IS_DAX(): no page cache, the media's own pages */

#define ZD_FMODE_READ  0x1
#define ZD_FMODE_WRITE 0x2

struct zd_file {
	const struct zd_file_operations *f_op;
	unsigned f_mode;              /* ZD_FMODE_*: what the opener may do */
	const char *path;             /* as /proc/PID/maps shows it */
	unsigned dev_major, dev_minor;
	uint64_t ino;
	uint64_t map_align;           /* mappings start aligned to this (0: a page) */
	unsigned i_mode, i_flags;     /* the inode's ZD_S_IF* type and ZD_S_DAX */
	void *private_data;
	long f_count;                 /* atomic: one per VMA, one per opener */
};

/* shmem_file_setup(): a tmpfs file of size bytes (an O_TMPFILE in a
 * tmpfs /tmp), one reference for the caller; ERR_PTR(-ENOMEM). Mapped
 * shared or private by zd_vm_mmap; a fault past its end is SIGBUS. */
struct zd_file *zd_shmem_file_setup(struct zd_machine *m, const char *name, uint64_t size);
/* pread/pwrite on it: the bytes done (a read stops at the end, a write
 * grows the file), -EINVAL (not a tmpfs file, a range past 2^64), -ENOMEM. */
long zd_shmem_file_rw(struct zd_file *file, uint64_t pos, void *buf, size_t len, bool write);

/* A reference to file / drop one (the last runs f_op->release). */
struct zd_file *zd_get_file(struct zd_file *file);
void zd_fput(struct zd_file *file);

struct zd_vm_area_struct {
	uint64_t vm_start, vm_end;    /* [vm_start, vm_end), page aligned */
	uint64_t vm_flags;
	uint64_t vm_pgoff;            /* in pages: the file offset, or vm_start >> PAGE_SHIFT (anon) */
	struct zd_mm *vm_mm;
	struct zd_file *vm_file;      /* one reference; NULL for private anonymous memory */
	const struct zd_vm_operations_struct *vm_ops;
	void *vm_private_data;
	struct zd_anon_vma *anon_vma; /* one reference; set at the first anonymous fault */
};

struct zd_mm {
	struct zd_machine *m;
	int pid;                      /* as /proc/PID names it: 1, 2, ... per machine */
	zd_rwlock_t mmap_lock;
	unsigned long mmap_lock_writer;   /* lockdep owner of the write side */
	struct zd_vm_area_struct **vmas;  /* sorted by vm_start */
	size_t map_count, vmas_cap;
	uint64_t task_size;           /* first address past user space */
	uint64_t mmap_base;           /* top of the top-down mmap area */
	uint64_t total_vm;            /* pages mapped */
	long pgtables_bytes;          /* atomic: this mm's tables (VmPTE) */
	struct zd_page *pgd;          /* the top table (pgd_alloc) */
	struct zd_page *pmd_huge_pte; /* PTE tables deposited with THP PMDs (pgd's lock) */
	uint64_t def_flags;           /* added to every new VMA's flags */
	size_t max_map_count;
	long rss_stat[ZD_NR_MM_COUNTERS];  /* atomic: pages mapped (VmRSS parts) */
	unsigned long min_flt, maj_flt;    /* atomic: faults handled */
	struct zd_mm *next;           /* the machine's list of processes */
	struct zd_mmu_notifier_subscriptions *notifier_subscriptions;  /* mmu_notifier.c */
};

/* A new empty address space on m (the exec of a process); ERR_PTR. */
struct zd_mm *zd_mm_alloc(struct zd_machine *m);
/* The process exits: every VMA is unmapped (close hooks run), then it goes. */
void zd_mmput(struct zd_mm *mm);
/* fork(): a new process with a copy of mm's VMAs (but VM_DONTCOPY ones); ERR_PTR. */
struct zd_mm *zd_dup_mm(struct zd_mm *mm);

void zd_mmap_read_lock(struct zd_mm *mm);
bool zd_mmap_read_trylock(struct zd_mm *mm);
void zd_mmap_read_unlock(struct zd_mm *mm);
void zd_mmap_write_lock(struct zd_mm *mm);
void zd_mmap_write_unlock(struct zd_mm *mm);

/* Under mmap_lock: the first VMA ending above addr / the VMA holding addr. */
struct zd_vm_area_struct *zd_find_vma(struct zd_mm *mm, uint64_t addr);
struct zd_vm_area_struct *zd_vma_lookup(struct zd_mm *mm, uint64_t addr);

/* mmap(2): the mapping's address, or -errno. file NULL with MAP_ANONYMOUS;
 * off is in bytes. Takes mmap_lock. */
int64_t zd_vm_mmap(struct zd_mm *mm, uint64_t addr, uint64_t len, unsigned long prot,
		   unsigned long flags, struct zd_file *file, uint64_t off);
/* munmap(2), mprotect(2), mremap(2), madvise(2); 0 / the new address, or
 * -errno. Take mmap_lock. madvise's advice is listed in mm/madvise.c. */
int zd_vm_munmap(struct zd_mm *mm, uint64_t start, uint64_t len);
int zd_do_mprotect(struct zd_mm *mm, uint64_t start, uint64_t len, unsigned long prot);
int64_t zd_do_mremap(struct zd_mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len,
		     unsigned long flags, uint64_t new_addr);
int zd_do_madvise(struct zd_mm *mm, uint64_t start, uint64_t len, int behavior);

/* vm_insert_page(): a driver's mmap maps page (referenced, not anonymous)
 * at addr of vma, which becomes VM_MIXEDMAP; the PTE takes a reference.
 * 0, -EFAULT (addr outside vma), -EINVAL (anon or free page, VM_PFNMAP),
 * -EBUSY (something is mapped there), -ENOMEM. */
int zd_vm_insert_page(struct zd_vm_area_struct *vma, uint64_t addr, struct zd_page *page);

/*
 * handle_mm_fault(): resolve a fault at address in vma (mmap_lock held for
 * reading): tables allocated, a page found or made and mapped. Returns 0 or
 * ZD_VM_FAULT_* bits; counts pgfault and the mm's min_flt/maj_flt.
 */
unsigned zd_handle_mm_fault(struct zd_vm_area_struct *vma, uint64_t address, unsigned flags);

/*
 * The CPU: load (write false) or store len bytes at addr of mm, as user
 * code on one of the machine's CPUs would. The MMU's walk of the tables
 * first (present, user, write; accessed and dirty set as the hardware
 * sets them), a fault on a miss, then real bytes to or from the page's
 * memory. Thread safe; takes mmap_lock for reading around faults. 0, or
 * the signal the access would get, logged like the kernel's report:
 * -EFAULT SIGSEGV (no VMA, no right), -EIO SIGBUS, -EHWPOISON SIGBUS on a
 * poisoned page, -ENOMEM the OOM killer's case.
 */
int zd_access_vm(struct zd_mm *mm, uint64_t addr, void *buf, size_t len, bool write);

/* The page and entry mapping addr (follow_pte's view, for tests and
 * reports): the leaf entry and its level in *level, or pte_none. The
 * page is NULL for none, non-present and special entries (the zero page). */
zd_pte_t zd_follow_pte(struct zd_mm *mm, uint64_t addr, enum zd_pt_level *level,
		       struct zd_page **page);

/* GUP's flags (include/linux/mm_types.h; the internal ones of
 * mm/internal.h, which callers may not pass, from bit 16). */
#define ZD_FOLL_WRITE         (1u << 0)
#define ZD_FOLL_GET           (1u << 1)
#define ZD_FOLL_DUMP          (1u << 2)
#define ZD_FOLL_FORCE         (1u << 3)
#define ZD_FOLL_NOWAIT        (1u << 4)
#define ZD_FOLL_NOFAULT       (1u << 5)
#define ZD_FOLL_HWPOISON      (1u << 6)
#define ZD_FOLL_ANON          (1u << 7)
#define ZD_FOLL_LONGTERM      (1u << 8)
#define ZD_FOLL_SPLIT_PMD     (1u << 9)
#define ZD_FOLL_PCI_P2PDMA    (1u << 10)
#define ZD_FOLL_INTERRUPTIBLE (1u << 11)
#define ZD_FOLL_HONOR_NUMA_FAULT (1u << 12)
#define ZD_FOLL_TOUCH         (1u << 16)
#define ZD_FOLL_TRIED         (1u << 17)
#define ZD_FOLL_REMOTE        (1u << 18)
#define ZD_FOLL_PIN           (1u << 19)
#define ZD_FOLL_FAST_ONLY     (1u << 20)
#define ZD_FOLL_UNLOCKABLE    (1u << 21)
#define ZD_FOLL_MADV_POPULATE (1u << 22)

/*
 * GUP (mm/gup.c): the pages backing [start, start + nr_pages pages) of mm,
 * faulted in as an access would, each with a reference (get) or a pin
 * (pin: FOLL_PIN's GUP_PIN_COUNTING_BIAS on a small folio) for the caller.
 * The number of pages taken, which can be short of nr_pages when a later
 * page fails, or -errno when the first does: -EINVAL for flags the kernel
 * refuses (internal flags, GET with PIN, LONGTERM without PIN, no pages
 * array, LONGTERM with PCI_P2PDMA, *locked not 1), -EFAULT for a VMA or
 * right GUP cannot use or a fault that would be SIGBUS/SIGSEGV, -ENOMEM,
 * -EHWPOISON (FOLL_HWPOISON), -EOPNOTSUPP (LONGTERM on fsdax).
 * get_user_pages, pin_user_pages and the _remote forms are called with
 * mmap_lock held for reading (*locked stays 1: the model never drops it);
 * _unlocked take it themselves; _fast walks locklessly first and takes it
 * for the slow path of the rest (_fast_only does not fall back). A FOLL_
 * LONGTERM pin of an anonymous page in ZONE_MOVABLE migrates it to a
 * kernel zone first; one that cannot move is -ENOMEM.
 */
long zd_get_user_pages_remote(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			      unsigned gup_flags, struct zd_page **pages, int *locked);
long zd_pin_user_pages_remote(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			      unsigned gup_flags, struct zd_page **pages, int *locked);
long zd_get_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned gup_flags, struct zd_page **pages);
long zd_pin_user_pages(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
		       unsigned gup_flags, struct zd_page **pages);
long zd_get_user_pages_unlocked(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
				unsigned gup_flags, struct zd_page **pages);
long zd_pin_user_pages_unlocked(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
				unsigned gup_flags, struct zd_page **pages);
long zd_get_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned gup_flags, struct zd_page **pages);
long zd_get_user_pages_fast_only(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
				 unsigned gup_flags, struct zd_page **pages);
long zd_pin_user_pages_fast(struct zd_mm *mm, uint64_t start, unsigned long nr_pages,
			    unsigned gup_flags, struct zd_page **pages);
/* Drop pins (unpin_user_page[s]); _dirty_lock marks the pages dirty first
 * when make_dirty (a device wrote them). GET references go with put_page. */
void zd_unpin_user_page(struct zd_machine *m, struct zd_page *page);
void zd_unpin_user_pages(struct zd_machine *m, struct zd_page **pages, unsigned long npages);
void zd_unpin_user_pages_dirty_lock(struct zd_machine *m, struct zd_page **pages,
				    unsigned long npages, bool make_dirty);

/* mbind(2)/move_pages(2) flags (include/uapi/linux/mempolicy.h). */
#define ZD_MPOL_MF_STRICT   (1 << 0)
#define ZD_MPOL_MF_MOVE     (1 << 1)
#define ZD_MPOL_MF_MOVE_ALL (1 << 2)

/*
 * move_pages(2) of mm (mm/migrate.c): page i (the page holding pages[i])
 * to node nodes[i], status[i] its outcome; nodes NULL only asks where the
 * pages are. flags: MPOL_MF_MOVE (pages only this process maps) or
 * MPOL_MF_MOVE_ALL (also pages others map; the caller is taken to have
 * CAP_SYS_NICE). 0 when every page was handled, the number of pages not
 * migrated (a run that failed to move and the pages after it, whose
 * status is left as it was), or -errno for the whole call: -EINVAL other
 * flags, -ENODEV a node that does not exist or has no memory, -ENOMEM no
 * page on a target node. A status is the node the page is on, or
 * -EFAULT (no VMA, a VMA that cannot migrate: DAX, VM_IO, VM_PFNMAP; the
 * zero page), -ENOENT (nothing present there; a ZONE_DEVICE page),
 * -EACCES (mapped by more than one process without MOVE_ALL), -EBUSY
 * (being migrated already; a non-shmem file page, which does not migrate
 * yet). An address in a THP moves the whole THP.
 * Takes mmap_lock for reading per page, as the kernel does.
 */
long zd_move_pages(struct zd_mm *mm, unsigned long nr_pages, const uint64_t *pages,
		   const int *nodes, int *status, int flags);

/* /proc/PID/maps of mm on f. */
void zd_show_maps(struct zd_mm *mm, FILE *f);
/* read() of /proc/PID/pagemap at file offset pos (8 bytes per virtual
 * page): count bytes of entries into buf; -EINVAL unless pos and count are
 * 8-byte aligned; fewer bytes at the end of the address space. */
long zd_pagemap_read(struct zd_mm *mm, uint64_t pos, uint64_t *buf, size_t count);
/* /proc/PID/smaps_rollup of mm on f. */
void zd_show_smaps_rollup(struct zd_mm *mm, FILE *f);
/* The user page tables of mm in the arch's ptdump format (x86
 * current_user, arm64's kernel_page_tables lines); -EOPNOTSUPP for an arch
 * without one here (ppc64). */
int zd_ptdump_show(struct zd_mm *mm, FILE *f);
/* The machine's process with this pid, or NULL. */
struct zd_mm *zd_find_mm(struct zd_machine *m, int pid);

#ifdef __cplusplus
}
#endif

#endif
