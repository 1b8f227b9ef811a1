/*
 * The page allocator (mm/page_alloc.c): a buddy allocator per zone over the
 * machine's online RAM, and the /proc/meminfo and /proc/zoneinfo reports.
 * Invariants: a free block of order k is 2^k aligned, lies in one zone and
 * carries PGTY_buddy with its order in private; nr_free_pages equals the
 * pages on the free lists; allocated pages have refcount 1.
 */
#ifndef ZONEDEV_GFP_H
#define ZONEDEV_GFP_H

#include <stdint.h>
#include <stdio.h>
#include <zonedev/mmzone.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;

typedef unsigned zd_gfp_t;
#define ZD___GFP_MOVABLE 0x1u   /* may come from ZONE_MOVABLE */
#define ZD___GFP_DMA32   0x2u   /* only from ZONE_DMA32 */
#define ZD___GFP_ZERO    0x4u   /* zero the contents */
#define ZD___GFP_DMA     0x8u   /* only from ZONE_DMA */
#define ZD___GFP_NOWARN  0x10u  /* a failure is the caller's to report */
#define ZD___GFP_THISNODE 0x20u /* only from the node asked for, no fallback */
#define ZD_GFP_KERNEL    0u
#define ZD_GFP_HIGHUSER_MOVABLE ZD___GFP_MOVABLE

/* NULL when no zone can satisfy the order (logged once per call). */
struct zd_page *zd_alloc_pages_node(struct zd_machine *m, int nid, zd_gfp_t gfp, unsigned order);
struct zd_page *zd_alloc_pages(struct zd_machine *m, zd_gfp_t gfp, unsigned order);
void zd___free_pages(struct zd_machine *m, struct zd_page *page, unsigned order);

/* Hand an onlined range to the buddy (online_pages_range). */
void zd_generic_online_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr_pages);
/* Take every page of [pfn, pfn+nr) off the free lists; -EBUSY (and nothing
 * changes) if any page is not free. */
int zd_isolate_free_range(struct zd_machine *m, uint64_t pfn, uint64_t nr_pages, bool quiet);

unsigned long zd_global_free_pages(struct zd_machine *m);
unsigned long zd_totalram_pages(struct zd_machine *m);
/* A /proc/meminfo field in kB ("MemTotal", "MemFree", ...); -ENOENT if unknown. */
int zd_meminfo_field(struct zd_machine *m, const char *field, uint64_t *kb);
/* /proc/meminfo: only fields the kernel prints. */
void zd_meminfo_show(struct zd_machine *m, FILE *f);
/* The same format for figures only zonedev has (MemUsed, VmemmapMapped). */
void zd_meminfo_zonedev_show(struct zd_machine *m, FILE *f);
void zd_zoneinfo_show(struct zd_machine *m, FILE *f);
/* /proc/buddyinfo: free blocks per order of every populated zone. */
void zd_buddyinfo_show(struct zd_machine *m, FILE *f);
/* /proc/vmstat: the counters the model keeps, in the kernel's names and
 * order (nr_* gauges first, then events). */
void zd_vmstat_show(struct zd_machine *m, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
