/*
 * DMA below a host bridge with an IOMMU (src/drivers/iommu/dma-iommu.c):
 *  - RAM segments get IOVAs, not CPU addresses: one range in the 32-bit
 *    space, each segment on its own IOVA page with its in-page offset;
 *  - a peer's BAR under the same switch keeps its bus address (BUS_ADDR,
 *    the IOMMU never sees it); through the host bridge it gets an IOVA
 *    that translates to the BAR's CPU address;
 *  - the engine moves real bytes through the translation; it faults on a
 *    write where the mapping was TO_DEVICE and on an IOVA after unmap
 *    (dma-direct could not tell either);
 *  - unmap frees the range (the next map reuses it); a failed map leaves
 *    nothing in the domain.
 */
#include <zonedev/zonedev.h>
#include <zonedev/dma-mapping.h>
#include <zonedev/gfp.h>
#include <zonedev/pgalloc.h>
#include <errno.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)

int main(void)
{
	struct zd_pci_host_bridge_desc h = { .domain = 0, .mem_start = 64 * G, .mem_size = 4 * G,
					     .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020,
					     .iommu = true };
	struct zd_pci_dev *dsp[2], *A, *B, *C;
	struct zd_scatterlist *peer, ram[2], again, bad[2];
	struct zd_machine *m;
	struct zd_page *rp;
	uint64_t ps, rphys, pphys;
	unsigned nents;
	char *bar, *rbuf;

	m = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	ps = m->arch.page_size;
	{
		struct zd_pci_host_bridge *hb = zd_pci_host_bridge_add(m, &h);

		zd_pci_switch_add(zd_pci_root_port_add(hb, 0x8086, 0x2030), 0x10b5, 0x8747, 2, dsp);
		A = tap_pci_ep(dsp[0], 16 * M, 0);
		B = tap_pci_ep(dsp[1], 16 * M, 0);
		C = tap_pci_ep(zd_pci_root_port_add(hb, 0x8086, 0x2031), 16 * M, 0);
	}
	if (!ok(!zd_pci_p2pdma_add_resource(B, 0, 0, 0), "B provides its BAR"))
		return done_testing();
	peer = zd_pci_p2pmem_alloc_sgl(B, &nents, 8192);
	rp = zd_alloc_pages(m, ZD_GFP_KERNEL, 2);
	if (!ok(peer && rp, "a p2pmem buffer on B and four RAM pages"))
		return done_testing();
	bar = zd_device_page_address(m, peer->page);
	rbuf = zd_page_address(m, rp);
	rphys = zd_page_to_pfn(m, rp) << m->arch.page_shift;
	pphys = zd_page_to_pfn(m, peer->page) << m->arch.page_shift;

	/* RAM through the IOMMU */
	ram[0] = (struct zd_scatterlist){ .page = rp, .offset = 0, .length = 8192 };
	ram[1] = (struct zd_scatterlist){ .page = rp + 3, .offset = 100, .length = 300 };
	is_int(zd_dma_map_sg(A, ram, 2, ZD_DMA_TO_DEVICE), 2, "A maps two RAM segments");
	ok(ram[0].dma_address != rphys && ram[0].dma_address >= ps &&
	   ram[1].dma_address < (1ULL << 32), "... at IOVAs in the 32-bit space, not at RAM's address");
	ok(!(ram[0].dma_address & (ps - 1)) &&
	   ram[1].dma_address == ram[0].dma_address + 8192 + 100,
	   "... one range: each segment on its own IOVA page, its offset kept");

	/* the switch path: a bus address, untranslated */
	is_int(zd_dma_map_sg(A, peer, 1, ZD_DMA_FROM_DEVICE), 1, "A maps B's memory");
	ok(peer->dma_address == pphys && (peer->dma_flags & ZD_SG_DMA_BUS_ADDRESS),
	   "... by its bus address, marked (BUS_ADDR bypasses the IOMMU)");
	for (int i = 0; i < 8192; i++)
		rbuf[i] = (char)(i * 13);
	memset(bar, 0, 8192);
	is_int(zd_dma_engine_copy(A, peer, 0, &ram[0], 0, 8192), 0, "A's engine: RAM -> B's BAR");
	ok(!memcmp(bar, rbuf, 8192), "... the bytes went through the translation into B's BAR");
	is_int(zd_dma_engine_copy(A, &ram[0], 0, peer, 0, 4096), -EFAULT,
	       "a device write into its TO_DEVICE mapping: an IOMMU fault");
	ok(zd_log_contains(m, "read-only for the device"), "... and the log says why");
	zd_dma_unmap_sg(A, peer, 1, ZD_DMA_FROM_DEVICE);

	/* through the host bridge: an IOVA for the BAR */
	is_int(zd_dma_map_sg(C, peer, 1, ZD_DMA_TO_DEVICE), 1, "C maps B's memory");
	ok(!(peer->dma_flags & ZD_SG_DMA_BUS_ADDRESS) && peer->dma_address != pphys &&
	   peer->dma_address < (1ULL << 32), "... at an IOVA (THRU_HOST_BRIDGE)");
	again = (struct zd_scatterlist){ .page = rp + 2, .offset = 0, .length = 4096 };
	is_int(zd_dma_map_sg(C, &again, 1, ZD_DMA_FROM_DEVICE), 1, "C maps a RAM page to write");
	memset(bar, 0x5a, 4096);
	is_int(zd_dma_engine_copy(C, &again, 0, peer, 0, 4096), 0, "C's engine: B's BAR -> RAM");
	ok(rbuf[2 * 4096] == 0x5a && rbuf[3 * 4096 - 1] == 0x5a, "... the bytes are in RAM");
	{
		struct zd_scatterlist stale = again;

		zd_dma_unmap_sg(C, &again, 1, ZD_DMA_FROM_DEVICE);
			is_int(zd_dma_engine_copy(C, &stale, 0, peer, 0, 4096), -EFAULT,
		       "DMA through an unmapped IOVA: an IOMMU fault");
		ok(zd_log_contains(m, "no translation"), "... no translation");
		is_int(zd_dma_map_sg(C, &again, 1, ZD_DMA_FROM_DEVICE), 1, "map again");
		is_u64(again.dma_address, stale.dma_address, "... the freed IOVA range is reused");
		zd_dma_unmap_sg(C, &again, 1, ZD_DMA_FROM_DEVICE);
	}
	zd_dma_unmap_sg(C, peer, 1, ZD_DMA_TO_DEVICE);

	/* refusal leaves nothing allocated */
	zd_pci_p2pdma_set_whitelist(m, false);
	is_int(zd_pci_p2pdma_add_resource(C, 0, 0, 0), 0, "C provides too");
	{
		struct zd_scatterlist *cm = zd_pci_p2pmem_alloc_sgl(C, &nents, 4096);
		struct zd_scatterlist probe = { .page = rp, .offset = 0, .length = 4096 };
		uint64_t first;

		bad[0] = ram[0];
		bad[1] = *cm;
		is_int(zd_dma_map_sg(A, bad, 2, ZD_DMA_TO_DEVICE), -EREMOTEIO,
		       "A maps RAM and C's memory without a whitelisted bridge: -EREMOTEIO");
		ok(!bad[0].dma_address && !bad[0].dma_length, "... nothing looks mapped");
		zd_dma_unmap_sg(A, ram, 2, ZD_DMA_TO_DEVICE);
		zd_dma_map_sg(A, &probe, 1, ZD_DMA_TO_DEVICE);
		first = probe.dma_address;
		is_u64(first, ps, "... and nothing was allocated: the lowest IOVA page is free");
		zd_dma_unmap_sg(A, &probe, 1, ZD_DMA_TO_DEVICE);
		zd_pci_p2pmem_free_sgl(C, cm);
	}

	zd_pci_p2pmem_free_sgl(B, peer);
	zd___free_pages(m, rp, 2);
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
