/*
 * struct scatterlist (include/linux/scatterlist.h), as much of it as the
 * model's DMA users need: a page, an offset and a length per segment, and
 * the DMA address and length a mapping fills in. Arrays are plain C
 * arrays of nents entries (no chaining).
 */
#ifndef ZONEDEV_SCATTERLIST_H
#define ZONEDEV_SCATTERLIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_page;

struct zd_scatterlist {
	struct zd_page *page;
	unsigned offset, length;
	uint64_t dma_address;   /* set by a DMA mapping */
	unsigned dma_length;
	unsigned dma_flags;      /* ZD_SG_DMA_* (dma-mapping.h) */
};

#ifdef __cplusplus
}
#endif

#endif
