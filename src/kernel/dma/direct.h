/*
 * The per-segment step both DMA mapping paths take (the pci_p2pdma_state()
 * switch the kernel's dma_direct_map_sg and iommu_dma_map_sg each carry):
 * inline, because it is the whole per-segment cost of a direct map.
 * Peer memory the device reaches by bus address is mapped here (0: nothing
 * left to do); host memory and peer memory through the host bridge give 1
 * and the CPU physical address for the caller's path to map; an
 * unreachable peer fails the whole map (-EREMOTEIO, logged).
 */
#ifndef ZD_KERNEL_DMA_DIRECT_H
#define ZD_KERNEL_DMA_DIRECT_H

#include <errno.h>
#include <zonedev/dma-mapping.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <zonedev/pci.h>

static inline int zd_dma_sg_prep(struct zd_pci_dev *dev, struct zd_pci_p2pdma_map_state *p2p,
				 struct zd_scatterlist *sg, int i, uint64_t *phys)
{
	struct zd_machine *m = dev->bus->host->m;

	*phys = (zd_page_to_pfn(m, sg[i].page) << m->arch.page_shift) + sg[i].offset;
	sg[i].dma_flags = 0;
	sg[i].dma_length = sg[i].length;
	switch (zd_pci_p2pdma_state(p2p, m, sg[i].page, dev)) {
	case ZD_PCI_P2PDMA_MAP_NONE:              /* not P2PDMA memory */
	case ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
		return 1;
	case ZD_PCI_P2PDMA_MAP_BUS_ADDR:
		sg[i].dma_address = *phys + (uint64_t)p2p->bus_off;
		sg[i].dma_flags = ZD_SG_DMA_BUS_ADDRESS;
		return 0;
	default:
		zd_pr_err(m, "pci %s: dma_map_sg: segment %d's peer memory cannot be reached: "
			  "-EREMOTEIO", dev->name, i);
		return -EREMOTEIO;
	}
}

#endif
