/*
 * A GPU-like test device in the manner of lib/test_hmm.c ("dmirror"): VRAM
 * that the CPU cannot address, registered as MEMORY_DEVICE_PRIVATE in
 * 256 MiB chunks on demand — through request_free_mem_region() and the
 * vmemmap under the pfn design, through the device-private address space
 * under dpa — or, for a coherent device, a CPU-addressable physical range
 * registered as MEMORY_DEVICE_COHERENT. The driver-facing calls are the
 * same under both designs.
 * Invariants: a device page is handed out with zone_device_page_init() and
 * comes back through folio_free; calloc - cfree = pages in use; only the
 * device's copy routine (its "DMA engine") touches private VRAM contents.
 */
#ifndef ZONEDEV_TEST_HMM_H
#define ZONEDEV_TEST_HMM_H

#include <stdint.h>
#include <stdio.h>
#include <zonedev/memremap.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZD_DEVMEM_CHUNK_SIZE (256ULL << 20)

struct zd_dmirror_device;

struct zd_dmirror_desc {
	const char *name;            /* device name, e.g. "gpu0" */
	int node;
	uint64_t vram_size;          /* PRIVATE: bytes of VRAM (multiple of the chunk size) */
	phys_addr_t coherent_start;  /* COHERENT: the device's physical range ... */
	uint64_t coherent_size;      /* ... (0 for a private device) */
};

/* Registers and binds the device; no chunk is mapped yet. ERR_PTR on error. */
struct zd_dmirror_device *zd_dmirror_create(struct zd_machine *m, const struct zd_dmirror_desc *d);
/* Unbinds (evicting nothing: callers free their pages first, else it waits). */
void zd_dmirror_destroy(struct zd_dmirror_device *mdev);

/* Map the next chunk (PRIVATE) or the whole range (COHERENT); -ENOSPC when the
 * VRAM is all registered, otherwise the registration's errno. */
int zd_dmirror_add_chunk(struct zd_dmirror_device *mdev);
/* A free device page of 2^order pages (adds a chunk when none is free). */
struct zd_page *zd_dmirror_alloc_page(struct zd_dmirror_device *mdev, unsigned order);
/* The device's copy engine: contents of a device page (up to the end of
 * its folio). */
int zd_dmirror_copy_to_device(struct zd_dmirror_device *mdev, struct zd_page *dpage,
			      const void *src, size_t len);
int zd_dmirror_copy_from_device(struct zd_dmirror_device *mdev, struct zd_page *dpage, void *dst,
				size_t len);

struct zd_dmirror_stats {
	uint64_t chunks, calloc, cfree;
	uint64_t registered_bytes;
	/* model counters: migrate_to_ram calls, and those that failed */
	uint64_t migrate_to_ram, migrate_to_ram_failed;
};
void zd_dmirror_get_stats(struct zd_dmirror_device *mdev, struct zd_dmirror_stats *st);
struct zd_device *zd_dmirror_to_device(struct zd_dmirror_device *mdev);
struct zd_dmirror_device *zd_dmirror_find(struct zd_machine *m, const char *name);
/* pgmap of chunk i (tests). */
struct zd_dev_pagemap *zd_dmirror_chunk_pgmap(struct zd_dmirror_device *mdev, unsigned i);
/* What chunk i holds: its first page (a pfn, or a device-private offset
 * under dpa), its pages, and of them those free one by one and those free
 * in PMD-sized runs (device THPs to be). -ENOENT past the last chunk. */
struct zd_dmirror_chunk_usage {
	uint64_t first, pages, free_pages, free_run_pages;
	bool offsets;              /* first is a device-private offset */
};
int zd_dmirror_chunk_usage(struct zd_dmirror_device *mdev, unsigned i,
			   struct zd_dmirror_chunk_usage *u);

/*
 * The device's mirror of one process (struct dmirror: one open of
 * /dev/hmm_dmirrorN by that process; src/lib/test_hmm_mirror.c): a device
 * page table, an xarray by VA >> PAGE_SHIFT of page pointers tagged
 * WRITE, filled through hmm_range_fault() and emptied by an interval
 * notifier over the whole address space, and the READ, WRITE and SNAPSHOT
 * ioctls as calls (lib/test_hmm_uapi.h's struct and byte encoding).
 */
struct zd_dmirror;
struct zd_mm;

struct zd_hmm_dmirror_cmd {
	uint64_t addr;     /* in: target VA, page aligned */
	uint64_t ptr;      /* in: the caller's bounce buffer (a host pointer) */
	uint64_t npages;   /* in */
	uint64_t cpages;   /* out: pages copied / encoded */
	uint64_t faults;   /* out: hmm fault rounds needed */
};

/* SNAPSHOT's byte per page (HMM_DMIRROR_PROT_*). */
#define ZD_HMM_DMIRROR_PROT_ERROR               0xFF
#define ZD_HMM_DMIRROR_PROT_NONE                0x00
#define ZD_HMM_DMIRROR_PROT_READ                0x01
#define ZD_HMM_DMIRROR_PROT_WRITE               0x02
#define ZD_HMM_DMIRROR_PROT_PMD                 0x04
#define ZD_HMM_DMIRROR_PROT_PUD                 0x08
#define ZD_HMM_DMIRROR_PROT_ZERO                0x10
#define ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL   0x20
#define ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE  0x30
#define ZD_HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL  0x40
#define ZD_HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE 0x50

/* open(): a mirror of mm (the notifier inserted); ERR_PTR. */
struct zd_dmirror *zd_dmirror_open(struct zd_dmirror_device *mdev, struct zd_mm *mm);
/* release(): the notifier removed, the table emptied, d freed. */
void zd_dmirror_release(struct zd_dmirror *d);
/* The device file itself (/dev/hmm_dmirrorN), for mmap: dmirror_fops_mmap
 * gives every page of the VMA a zeroed kernel page by vm_insert_page (a
 * VM_MIXEDMAP mapping, hmm-tests' mixedmap). One reference (zd_fput). */
struct zd_file *zd_dmirror_file_open(struct zd_dmirror_device *mdev);
/*
 * The ioctls (dmirror_fops_unlocked_ioctl + handler). 0, or -EINVAL
 * (addr unaligned, npages 0 or wrapping, no buffer), -ENOENT, -EFAULT,
 * -EPERM, -EBUSY (the range kept changing for HMM_RANGE_DEFAULT_TIMEOUT),
 * -ENOMEM; on an error *cmd is left as it was, as the kernel does not copy
 * it back. READ copies mirrored pages to ptr (faulting what is missing),
 * WRITE copies ptr into them (faulting for write), SNAPSHOT writes one
 * HMM_DMIRROR_PROT_* byte per page without faulting.
 */
int zd_dmirror_read(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd);
int zd_dmirror_write(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd);
int zd_dmirror_snapshot(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd);
/*
 * The mirror's other ioctls. MIGRATE_TO_DEV/_TO_SYS: as the device-level
 * calls below, and TO_DEV maps what moved into this mirror's table and
 * reads the range back from it into ptr (cpages = pages read; -ENOENT at
 * the first page not on the device). EXCLUSIVE: every page made
 * device-exclusive (make_device_exclusive's -EBUSY and GUP's errors) and
 * mapped atomic, then read back into ptr. CHECK_EXCLUSIVE: -EPERM while a
 * page of the range is still mapped atomic.
 */
int zd_dmirror_ioctl_migrate_to_dev(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd);
int zd_dmirror_ioctl_migrate_to_sys(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd);
int zd_dmirror_exclusive(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd);
int zd_dmirror_check_exclusive(struct zd_dmirror *d, struct zd_hmm_dmirror_cmd *cmd);

/* Totals over this mirror's calls: fault rounds, pages read and written;
 * entries its table holds now. */
struct zd_dmirror_mirror_stats { uint64_t faults, reads, writes, entries; };
void zd_dmirror_mirror_stats(struct zd_dmirror *d, struct zd_dmirror_mirror_stats *st);
/* Each open mirror of the device: its process, counters and table in runs
 * ("0x40000000-0x40200000 512 pages system pfn 0x3ec00 write"). */
void zd_dmirror_show(struct zd_dmirror_device *mdev, FILE *f);

/*
 * HMM_DMIRROR_MIGRATE_TO_DEV / _TO_SYS over [addr, addr + npages pages) of
 * mm, as lib/test_hmm.c's ioctls (spec hmm.md 4.4): VMA by VMA with
 * migrate_vma, copies by the device's engine. TO_DEV selects system pages
 * and then checks that every page of the range is this device's
 * (-ENOENT if one is not: shared memory, another device's page); *cpages
 * = npages on success. TO_SYS selects this device's pages; *cpages = the
 * pages that moved; -ENOMEM if none could get a system page. -EINVAL for
 * an unaligned addr, npages 0 or wrapping, a hole or an unreadable VMA.
 * Takes mm's mmap_lock for reading.
 */
struct zd_mm;
int zd_dmirror_migrate_to_dev(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr,
			      uint64_t npages, uint64_t *cpages);
int zd_dmirror_migrate_to_sys(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr,
			      uint64_t npages, uint64_t *cpages);

/* dmirror_device_evict_chunk() for every chunk (the eviction part of
 * HMM_DMIRROR_RELEASE): every device page in use goes back to system
 * memory through migrate_device_range(), wherever it is mapped. The pages
 * evicted, -EINVAL for a coherent device, -ENOMEM. */
long zd_dmirror_evict(struct zd_dmirror_device *mdev);
/* HMM_DMIRROR_RELEASE: evict, then unregister every chunk (later
 * migrations map fresh ones). The pages evicted; -EBUSY if some page
 * stayed in use (the chunks are kept), the eviction's errno. */
long zd_dmirror_remove_chunks(struct zd_dmirror_device *mdev);

/* HMM_DMIRROR_FLAGS: FAIL_ALLOC makes the next device or system page
 * allocation of a migration fail (one shot). FAIL_FAULT (model only)
 * makes the next migrate_to_ram fail as a driver error (VM_FAULT_SIGBUS). */
#define ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC (1ULL << 0)
#define ZD_DMIRROR_FLAG_FAIL_FAULT     (1ULL << 63)
void zd_dmirror_set_flags(struct zd_dmirror_device *mdev, uint64_t flags);

#ifdef __cplusplus
}
#endif

#endif
