/*
 * hmm_range_fault() (include/linux/hmm.h): a device driver's snapshot of a
 * range of a process's page tables, one 64-bit word per page, optionally
 * faulting what the device needs first. The word layout is the 2026
 * series' (J. Niethe, "Remove device private pages from physical address
 * space"): VALID 63, WRITE 62, ERROR 61, DMA_MAPPED 60, P2PDMA 59,
 * P2PDMA_BUS 58, DEVICE_PRIVATE 57 and a 5-bit map order at 52..56, the
 * pfn below. DEVICE_PRIVATE is set only under the dpa design, where the
 * pfn field of a device-private page holds its device-private offset.
 * Invariants: entries before the address a call stopped at hold outputs,
 * those after it still hold inputs; the sticky in/out bits are kept; an
 * output is trustworthy only if mmu_interval_read_retry() of the range's
 * seq is false under the driver's lock.
 */
#ifndef ZONEDEV_HMM_H
#define ZONEDEV_HMM_H

#include <stdint.h>
#include <zonedev/mmu_notifier.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;
struct zd_page;

#define ZD_HMM_PFN_VALID          (1ULL << 63)
#define ZD_HMM_PFN_WRITE          (1ULL << 62)
#define ZD_HMM_PFN_ERROR          (1ULL << 61)
#define ZD_HMM_PFN_DMA_MAPPED     (1ULL << 60)
#define ZD_HMM_PFN_P2PDMA         (1ULL << 59)
#define ZD_HMM_PFN_P2PDMA_BUS     (1ULL << 58)
#define ZD_HMM_PFN_DEVICE_PRIVATE (1ULL << 57)
#define ZD_HMM_PFN_ORDER_SHIFT    52
#define ZD_HMM_PFN_INOUT_FLAGS (ZD_HMM_PFN_DMA_MAPPED | ZD_HMM_PFN_P2PDMA | ZD_HMM_PFN_P2PDMA_BUS)
#define ZD_HMM_PFN_FLAGS (~((1ULL << ZD_HMM_PFN_ORDER_SHIFT) - 1))
/* Input: the output must end VALID (and WRITE) or the call fails. */
#define ZD_HMM_PFN_REQ_FAULT ZD_HMM_PFN_VALID
#define ZD_HMM_PFN_REQ_WRITE ZD_HMM_PFN_WRITE

#define ZD_HMM_RANGE_DEFAULT_TIMEOUT 1000   /* ms */

struct zd_hmm_range {
	struct zd_mmu_interval_notifier *notifier;
	unsigned long notifier_seq;   /* from mmu_interval_read_begin() */
	uint64_t start, end;          /* [start, end), page aligned */
	uint64_t *hmm_pfns;           /* one per page: request in, result out */
	uint64_t default_flags;       /* request = (hmm_pfns[i] & pfn_flags_mask) | default_flags */
	uint64_t pfn_flags_mask;
	void *dev_private_owner;      /* device-private pages of this owner are reported */
};

/*
 * The caller holds the notifier's mm's mmap_lock for reading. 0; -EINVAL
 * (unaligned or empty range, no notifier); -EBUSY (the notifier's seq
 * changed: read_begin again and retry); -EPERM (write wanted on a VMA
 * without VM_WRITE); -EFAULT (a page required that cannot be had: no VMA,
 * VM_IO/PFNMAP or unreadable VMA, special page, fault error); -ENOMEM.
 */
int zd_hmm_range_fault(struct zd_hmm_range *range);

static inline unsigned zd_hmm_pfn_to_map_order(uint64_t hmm_pfn)
{
	return (unsigned)((hmm_pfn >> ZD_HMM_PFN_ORDER_SHIFT) & 0x1F);
}
static inline uint64_t zd_hmm_pfn_to_pfn(uint64_t hmm_pfn)
{
	return hmm_pfn & ~ZD_HMM_PFN_FLAGS;
}
/* hmm_pfn_to_page(): the page of a VALID entry (a device-private one
 * through its offset under dpa). */
struct zd_page *zd_hmm_pfn_to_page(struct zd_machine *m, uint64_t hmm_pfn);

#ifdef __cplusplus
}
#endif

#endif
