/*
 * Internal to the DMA layer: a PCI device's IOMMU domain (its default
 * DMA domain, one per function here; the kernel shares one per IOMMU
 * group) and the dma-iommu mapping path. kernel/dma/mapping.c sends a
 * device below a host bridge with an IOMMU here; the DMA engine asks
 * zd_iommu_translate() for every transaction that is not a P2P bus
 * address.
 */
#ifndef ZD_DRIVERS_IOMMU_H
#define ZD_DRIVERS_IOMMU_H

#include <stdbool.h>
#include <stdint.h>
#include <zonedev/dma-mapping.h>

struct zd_pci_dev;

int zd_iommu_dma_map_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
			enum zd_dma_data_direction dir);
void zd_iommu_dma_unmap_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents);
/* The CPU physical address behind IOVA iova for an access of len bytes
 * (within one page) that writes memory if write; false is an IOMMU
 * fault (logged: no translation, or the mapping's direction forbids it). */
bool zd_iommu_translate(struct zd_pci_dev *dev, uint64_t iova, bool write, uint64_t *phys);
void zd_iommu_domain_free(struct zd_pci_dev *dev);

#endif
