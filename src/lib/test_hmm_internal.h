/*
 * What the dmirror's three files share (src/lib/test_hmm*.c): the device
 * (test_hmm.c: chunks, the free list, the copy engine), its migrations
 * (test_hmm_migrate.c) and its mirrors of processes (test_hmm_mirror.c).
 * Lock order: mirrors_lock, then a mirror's mutex; devmem_lock, then lock.
 * A mirror is on its device's list from open to release, so the fault
 * handler and migrate-to-system can drop the entries of pages leaving
 * the device (the device's own MMU_NOTIFY_MIGRATE does not reach them).
 */
#ifndef ZONEDEV_LIB_TEST_HMM_INTERNAL_H
#define ZONEDEV_LIB_TEST_HMM_INTERNAL_H

#include <pthread.h>
#include <zonedev/machine.h>
#include <zonedev/memremap.h>
#include <zonedev/mmu_notifier.h>
#include <zonedev/test_hmm.h>
#include "base/xarray.h"

struct dmirror_chunk {
	struct zd_dev_pagemap pagemap;
	struct zd_resource *res;       /* pfn design only */
	struct zd_dmirror_device *mdev;
	uint64_t vram_offset;
};

struct zd_dmirror_device {
	struct zd_device *dev;
	struct zd_machine *m;
	enum zd_memory_type type;
	uint64_t vram_size;
	phys_addr_t coherent_start;
	int vram_fd;
	char *vram;                    /* the copy engine's view of VRAM */
	pthread_mutex_t devmem_lock;   /* chunk allocation, outer */
	pthread_mutex_t lock;          /* chunks, free list, counters */
	struct dmirror_chunk **chunks;
	unsigned nr_chunks, max_chunks;
	struct zd_page *free_pages;    /* linked through zone_device_data */
	struct zd_page *free_folios;   /* PMD-sized runs, by their first page */
	uint64_t calloc, cfree;
	uint64_t flags;                /* HMM_DMIRROR_FLAGS (atomic) */
	uint64_t migrate_to_ram, migrate_to_ram_failed;   /* atomic */
	pthread_mutex_t mirrors_lock;
	struct zd_dmirror *mirrors;     /* open mirrors (mirrors_lock) */
	struct dmirror_engine *engine;  /* the copy engine's thread (test_hmm_engine.c) */
};

/* The copy engine: queue a copy to or from VRAM (src NULL: zeroes) and get
 * its fence; wait for a fence (and every copy queued before it). */
int dmirror_engine_start(struct zd_dmirror_device *mdev);
void dmirror_engine_stop(struct zd_dmirror_device *mdev);
uint64_t dmirror_engine_queue(struct zd_dmirror_device *mdev, void *dst, const void *src,
			      size_t len);
void dmirror_engine_wait(struct zd_dmirror_device *mdev, uint64_t fence);
/* A copy between a device page (to the end of its folio) and system
 * memory, queued on the engine: 0 and *fence, or -EINVAL (not this
 * device's page, too long). sys NULL with to_dev: zeroes. */
int dmirror_copy_async(struct zd_dmirror_device *mdev, struct zd_page *dpage, void *sys,
		       size_t len, bool to_dev, uint64_t *fence);

static inline struct dmirror_chunk *dmirror_pgmap_chunk(struct zd_dev_pagemap *pgmap)
{
	return (struct dmirror_chunk *)((char *)pgmap - offsetof(struct dmirror_chunk, pagemap));
}

/* Index of a page inside its chunk: by pfn, or by array slot under dpa. */

/* Device page table tags (lib/test_hmm.c's DPT_XA_TAG_*): none = read. */
#define DPT_XA_TAG_ATOMIC 1UL
#define DPT_XA_TAG_WRITE  3UL
#define DPT_XA_TAG_MASK   3UL

struct zd_dmirror {
	struct zd_dmirror_device *mdevice;
	struct zd_machine *m;
	struct zd_mm *mm;
	struct zd_mmu_interval_notifier notifier;
	pthread_mutex_t mutex;
	struct zd_xarray pt;                  /* mutex */
	uint64_t faults, reads, writes;       /* mutex */
	struct zd_dmirror *next;              /* mdevice->mirrors (mirrors_lock) */
};

bool dmirror_take_flag(struct zd_dmirror_device *mdev, uint64_t flag);
int dmirror_devmem_fault(struct zd_vm_fault *vmf);
/* Every mirror of mm on this device drops [addr, addr + n pages). */
void dmirror_forget(struct zd_dmirror_device *mdev, struct zd_mm *mm, uint64_t addr, uint64_t n);
/* The migrations behind both the device-level calls (d NULL) and the
 * mirror's ioctls (d: the pages that reached the device are mapped in
 * its table, as dmirror_migrate_finalize_and_map does). */
int dmirror_migrate_range(struct zd_dmirror_device *mdev, struct zd_dmirror *d, struct zd_mm *mm,
			  uint64_t addr, uint64_t npages, uint64_t *cpages, bool to_dev);

#endif
