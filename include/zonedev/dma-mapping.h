/*
 * DMA mapping for PCI devices without an IOMMU (kernel/dma/direct.c) and
 * a device's DMA engine, enough for peer-to-peer transfers: a mapped
 * segment's DMA address is what the device puts on the bus.
 */
#ifndef ZONEDEV_DMA_MAPPING_H
#define ZONEDEV_DMA_MAPPING_H

#include <stddef.h>
#include <zonedev/scatterlist.h>

struct zd_pci_dev;

enum zd_dma_data_direction { ZD_DMA_BIDIRECTIONAL, ZD_DMA_TO_DEVICE, ZD_DMA_FROM_DEVICE };

/* sg_dma_mark_bus_address(): the segment's DMA address is a PCI bus
 * address (a peer's BAR reached through the switches), in dma_flags. */
#define ZD_SG_DMA_BUS_ADDRESS 0x1u

/*
 * dma_map_sgtable() through dma_direct_map_sg(): each segment's DMA
 * address and length. A P2PDMA page goes by its provider's map type to
 * dev: BUS_ADDR gives the bus address (and the mark), THRU_HOST_BRIDGE
 * the CPU physical address, anything else fails the whole mapping with
 * -EREMOTEIO (nothing stays mapped); other pages map to their physical
 * address. nents, or -EINVAL (no segments, a segment with no page).
 */
int zd_dma_map_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		  enum zd_dma_data_direction dir);
void zd_dma_unmap_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		     enum zd_dma_data_direction dir);

/*
 * dev's DMA engine copies len bytes from the mapped segment src to dst
 * (their DMA addresses plus off_src/off_dst) as dev issues the
 * transactions: a bus address reaches the peer's BAR it names, any other
 * is a CPU physical address (RAM, or a BAR through the host bridge).
 * 0, -EINVAL (past a segment), -EFAULT (an address nothing answers).
 */
int zd_dma_engine_copy(struct zd_pci_dev *dev, const struct zd_scatterlist *dst, size_t off_dst,
		       const struct zd_scatterlist *src, size_t off_src, size_t len);

#endif
