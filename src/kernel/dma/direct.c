/*
 * kernel/dma/direct.c for PCI devices with no IOMMU, plus the device's DMA
 * engine that uses what any mapping gives. dma_direct_map_sg()'s P2PDMA
 * branch: pci_p2pdma_state() per P2PDMA segment decides between the bus
 * address (peer traffic that never leaves the switch), the physical
 * address (through the host bridge) and refusal (-EREMOTEIO for the whole
 * list). The engine resolves addresses as the fabric would: a bus address
 * by the providers' BARs, any other through the device's IOMMU when it has
 * one (an unmapped or wrong-way IOVA is a fault) and then as a physical
 * address by RAM or a BAR's CPU range, and moves real bytes, so a
 * peer-to-peer copy is checked byte for byte.
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
#include "drivers/iommu/iommu.h"
#include "kernel/dma/direct.h"

static struct zd_machine *pci_machine(struct zd_pci_dev *dev)
{
	return dev->bus->host->m;
}

static bool dev_has_iommu(const struct zd_pci_dev *dev)
{
	return dev->bus->host->iommu;
}

static int dma_direct_map_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents)
{
	struct zd_pci_p2pdma_map_state p2p = { 0 };

	for (int i = 0; i < nents; i++) {
		uint64_t phys;
		int rc = zd_dma_sg_prep(dev, &p2p, sg, i, &phys);

		if (rc < 0)
			return rc;
		if (rc)                 /* phys_to_dma(): the identity here */
			sg[i].dma_address = phys;
	}
	return nents;
}

/* dma_map_sg_attrs(): the checks every path shares, then dma-direct or,
 * below an IOMMU, dma-iommu. */
int zd_dma_map_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		  enum zd_dma_data_direction dir)
{
	struct zd_machine *m = pci_machine(dev);
	int rc;

	if (nents <= 0) {
		zd_pr_err(m, "pci %s: dma_map_sg with %d segments: -EINVAL", dev->name, nents);
		return -EINVAL;
	}
	for (int i = 0; i < nents; i++)
		if (!sg[i].page) {
			zd_pr_err(m, "pci %s: dma_map_sg: segment %d has no page: -EINVAL", dev->name, i);
			return -EINVAL;
		}
	rc = dev_has_iommu(dev) ? zd_iommu_dma_map_sg(dev, sg, nents, dir)
				: dma_direct_map_sg(dev, sg, nents);
	if (rc < 0)   /* nothing stays mapped, nothing looks mapped */
		for (int i = 0; i < nents; i++)
			sg[i].dma_address = sg[i].dma_length = sg[i].dma_flags = 0;
	return rc;
}

void zd_dma_unmap_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
		     enum zd_dma_data_direction dir)
{
	(void)dir;
	if (dev_has_iommu(dev))
		zd_iommu_dma_unmap_sg(dev, sg, nents);
	for (int i = 0; i < nents; i++) {
		sg[i].dma_address = 0;
		sg[i].dma_length = 0;
		sg[i].dma_flags = 0;
	}
}

/* What answers dev's transaction at a DMA address: host bytes, or NULL
 * (after an IOMMU fault's message, or none: the caller says it). */
static char *resolve(struct zd_pci_dev *dev, const struct zd_scatterlist *sg, size_t off,
		     size_t len, bool write, bool *faulted)
{
	struct zd_machine *m = pci_machine(dev);
	uint64_t addr = sg->dma_address + off, pfn;
	struct zd_dev_pagemap *pgmap;
	char *p = NULL;

	if (sg->dma_flags & ZD_SG_DMA_BUS_ADDRESS)
		return zd_pci_p2pdma_bus_to_virt(m, addr, len);
	if (dev_has_iommu(dev) && !zd_iommu_translate(dev, addr, write, &addr)) {
		*faulted = true;
		return NULL;
	}
	/* a CPU physical address: p2pmem in a BAR (while its provider lives,
	 * even as it is being released), other device memory, or RAM; len
	 * stays inside this page (the caller goes page by page) */
	p = zd_pci_p2pdma_phys_to_virt(m, addr, len);
	if (p)
		return p;
	pfn = addr >> m->arch.page_shift;
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

/* One side of a transfer: a mapped segment the device addresses, or
 * (sg NULL) memory inside the device, such as an NVMe drive's media. */
struct end {
	const struct zd_scatterlist *sg;
	size_t off;
	char *buf;
};

/* Bytes left in this page of the side, and where they are (NULL after
 * a fault's or a no-answer's message). */
static char *end_at(struct zd_pci_dev *dev, struct end *e, size_t *n, bool write)
{
	struct zd_machine *m = pci_machine(dev);
	uint64_t ps = m->arch.page_size, addr;
	bool faulted = false;
	char *p;

	if (!e->sg)
		return e->buf + e->off;
	addr = e->sg->dma_address + e->off;
	if (*n > ps - (addr & (ps - 1)))
		*n = ps - (addr & (ps - 1));
	p = resolve(dev, e->sg, e->off, *n, write, &faulted);
	if (!p && !faulted)
		zd_pr_err(m, "pci %s: DMA %s 0x%llx: no one answers: -EFAULT", dev->name,
			  write ? "to" : "from", (unsigned long long)addr);
	return p;
}

/* page by page: physical pages of a segment need not be contiguous in
 * host memory (RAM sections), a BAR's are */
static int engine_move(struct zd_pci_dev *dev, struct end d, struct end s, size_t len)
{
	struct zd_machine *m = pci_machine(dev);

	if ((d.sg && d.off + len > d.sg->dma_length) || (s.sg && s.off + len > s.sg->dma_length)) {
		zd_pr_err(m, "pci %s: DMA of %zu bytes past a mapped segment: -EINVAL", dev->name, len);
		return -EINVAL;
	}
	while (len) {
		size_t n = len;
		char *dp = end_at(dev, &d, &n, true), *sp = dp ? end_at(dev, &s, &n, false) : NULL;

		if (!dp || !sp)
			return -EFAULT;
		memmove(dp, sp, n);
		d.off += n;
		s.off += n;
		len -= n;
	}
	return 0;
}

int zd_dma_engine_copy(struct zd_pci_dev *dev, const struct zd_scatterlist *dst, size_t off_dst,
		       const struct zd_scatterlist *src, size_t off_src, size_t len)
{
	return engine_move(dev, (struct end){ dst, off_dst, NULL }, (struct end){ src, off_src, NULL },
			   len);
}

int zd_dma_engine_xfer(struct zd_pci_dev *dev, const struct zd_scatterlist *sg, size_t off,
		       void *buf, size_t len, bool to_memory)
{
	struct end a = { sg, off, NULL }, b = { NULL, 0, buf };

	return to_memory ? engine_move(dev, a, b, len) : engine_move(dev, b, a, len);
}
