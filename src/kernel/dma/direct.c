/*
 * kernel/dma/direct.c for PCI devices with no IOMMU, plus the device's DMA
 * engine that uses what it maps. dma_direct_map_sg()'s P2PDMA branch:
 * pci_p2pdma_state() per P2PDMA segment decides between the bus address
 * (peer traffic that never leaves the switch), the physical address
 * (through the host bridge) and refusal (-EREMOTEIO for the whole list).
 * The engine resolves addresses as the fabric would: a bus address by
 * the providers' BARs, a physical one by RAM or a BAR's CPU range, and
 * moves real bytes, so a peer-to-peer copy is checked byte for byte.
 * Invariants: a failed mapping leaves no segment mapped; the engine never
 * touches bytes outside the addressed segment.
 */
#include <zonedev/dma-mapping.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <zonedev/memremap.h>
#include <zonedev/pci.h>
#include <errno.h>
#include <string.h>

static struct zd_machine *pci_machine(struct zd_pci_dev *dev)
{
	return dev->bus->host->m;
}

int zd_dma_map_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		  enum zd_dma_data_direction dir)
{
	struct zd_machine *m = pci_machine(dev);

	(void)dir;
	if (nents <= 0) {
		zd_pr_err(m, "pci %s: dma_map_sg with %d segments: -EINVAL", dev->name, nents);
		return -EINVAL;
	}
	for (int i = 0; i < nents; i++) {
		uint64_t phys;
		int64_t bus_off = 0;

		if (!sg[i].page) {
			zd_pr_err(m, "pci %s: dma_map_sg: segment %d has no page: -EINVAL", dev->name, i);
			zd_dma_unmap_sg(dev, sg, i, dir);
			return -EINVAL;
		}
		phys = (zd_page_to_pfn(m, sg[i].page) << m->arch.page_shift) + sg[i].offset;
		sg[i].dma_flags = 0;
		sg[i].dma_length = sg[i].length;
		switch (zd_pci_p2pdma_state(m, sg[i].page, dev, &bus_off)) {
		case ZD_PCI_P2PDMA_MAP_NONE:              /* not P2PDMA memory */
		case ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:  /* phys_to_dma(): identity */
			sg[i].dma_address = phys;
			break;
		case ZD_PCI_P2PDMA_MAP_BUS_ADDR:
			sg[i].dma_address = phys + (uint64_t)bus_off;
			sg[i].dma_flags = ZD_SG_DMA_BUS_ADDRESS;
			break;
		default:
			zd_pr_err(m, "pci %s: dma_map_sg: segment %d's peer memory cannot be reached: "
				  "-EREMOTEIO", dev->name, i);
			zd_dma_unmap_sg(dev, sg, i, dir);
			return -EREMOTEIO;
		}
	}
	return nents;
}

void zd_dma_unmap_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		     enum zd_dma_data_direction dir)
{
	(void)dev;
	(void)dir;
	for (int i = 0; i < nents; i++) {
		sg[i].dma_address = 0;
		sg[i].dma_length = 0;
		sg[i].dma_flags = 0;
	}
}

/* What answers a transaction at a DMA address: host bytes, or NULL. */
static char *resolve(struct zd_machine *m, const struct zd_scatterlist *sg, size_t off, size_t len)
{
	uint64_t addr = sg->dma_address + off, pfn = addr >> m->arch.page_shift;
	struct zd_dev_pagemap *pgmap;
	char *p = NULL;

	if (sg->dma_flags & ZD_SG_DMA_BUS_ADDRESS)
		return zd_pci_p2pdma_bus_to_virt(m, addr, len);
	/* a CPU physical address: RAM, or device memory (a BAR); len stays
	 * inside this page (the caller goes page by page) */
	(void)len;
	pgmap = zd_get_dev_pagemap(m, pfn);
	if (pgmap) {
		p = (char *)zd_device_page_address(m, zd_pfn_to_page(m, pfn)) +
		    (addr & (m->arch.page_size - 1));
		zd_put_dev_pagemap(pgmap);
		return p;
	}
	p = zd_pfn_address(m, pfn);
	return p ? p + (addr & (m->arch.page_size - 1)) : NULL;
}

int zd_dma_engine_copy(struct zd_pci_dev *dev, const struct zd_scatterlist *dst, size_t off_dst,
		       const struct zd_scatterlist *src, size_t off_src, size_t len)
{
	struct zd_machine *m = pci_machine(dev);
	uint64_t ps = m->arch.page_size;

	if (off_dst + len > dst->dma_length || off_src + len > src->dma_length) {
		zd_pr_err(m, "pci %s: DMA of %zu bytes past a mapped segment: -EINVAL", dev->name, len);
		return -EINVAL;
	}
	/* page by page: physical pages of a segment need not be contiguous
	 * in host memory (RAM sections), a BAR's are */
	while (len) {
		size_t n = len, sd = ps - ((dst->dma_address + off_dst) & (ps - 1)),
		       ss = ps - ((src->dma_address + off_src) & (ps - 1));
		char *d, *s;

		if (n > sd)
			n = sd;
		if (n > ss)
			n = ss;
		d = resolve(m, dst, off_dst, n);
		s = resolve(m, src, off_src, n);
		if (!d || !s) {
			zd_pr_err(m, "pci %s: DMA to 0x%llx from 0x%llx: no one answers: -EFAULT",
				  dev->name, (unsigned long long)(dst->dma_address + off_dst),
				  (unsigned long long)(src->dma_address + off_src));
			return -EFAULT;
		}
		memmove(d, s, n);
		off_dst += n;
		off_src += n;
		len -= n;
	}
	return 0;
}
