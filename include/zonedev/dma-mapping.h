/*
 * DMA mapping for PCI devices (kernel/dma/direct.c, or drivers/iommu/
 * dma-iommu.c below a host bridge with an IOMMU) and a device's DMA
 * engine, enough for peer-to-peer transfers: a mapped segment's DMA
 * address is what the device puts on the bus.
 */
#ifndef ZONEDEV_DMA_MAPPING_H
#define ZONEDEV_DMA_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <zonedev/scatterlist.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_pci_dev;

enum zd_dma_data_direction { ZD_DMA_BIDIRECTIONAL, ZD_DMA_TO_DEVICE, ZD_DMA_FROM_DEVICE };

/* sg_dma_mark_bus_address(): the segment's DMA address is a PCI bus
 * address (a peer's BAR reached through the switches), in dma_flags. */
#define ZD_SG_DMA_BUS_ADDRESS 0x1u

/*
 * dma_map_sgtable(): each segment's DMA address and length. A P2PDMA page
 * goes by its provider's map type to dev: BUS_ADDR gives the bus address
 * (and the mark), THRU_HOST_BRIDGE is mapped like RAM, anything else
 * fails the whole mapping with -EREMOTEIO (nothing stays mapped). RAM
 * maps to its physical address (dma-direct) or, below an IOMMU, into one
 * fresh IOVA range with each segment on its own IOVA page, its in-page
 * offset kept; the direction is the device's permission there. nents, or
 * -EINVAL (no segments, a segment with no page), -ENOMEM (no IOVA space).
 */
int zd_dma_map_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		  enum zd_dma_data_direction dir);
void zd_dma_unmap_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		     enum zd_dma_data_direction dir);

/*
 * dev's DMA engine copies len bytes from the mapped segment src to dst
 * (their DMA addresses plus off_src/off_dst) as dev issues the
 * transactions: a bus address reaches the peer's BAR it names, any other
 * is a CPU physical address (RAM, or a BAR through the host bridge),
 * reached through dev's IOMMU when it has one. 0, -EINVAL (past a
 * segment), -EFAULT (an address nothing answers, an IOMMU fault: an
 * unmapped IOVA, or a write where the mapping was TO_DEVICE, a read where
 * it was FROM_DEVICE).
 */
int zd_dma_engine_copy(struct zd_pci_dev *dev, const struct zd_scatterlist *dst, size_t off_dst,
		       const struct zd_scatterlist *src, size_t off_src, size_t len);
/* The same engine between a mapped segment (from off) and the device's
 * own memory at buf: to_memory, the device writes the segment (a read
 * I/O); else it reads it. Same errors. */
int zd_dma_engine_xfer(struct zd_pci_dev *dev, const struct zd_scatterlist *sg, size_t off,
		       void *buf, size_t len, bool to_memory);

#ifdef __cplusplus
}
#endif

#endif
