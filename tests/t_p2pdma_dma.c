/*
 * DMA mapping of P2PDMA memory (src/kernel/dma/direct.c) and the DMA
 * engine that uses it: the switch path, the host-bridge path and refusal.
 *  - two endpoints under one switch: the provider's segment maps to its
 *    bus address (CPU address minus the host bridge's offset), marked as
 *    one; a RAM segment to its physical address; the engine copies RAM ->
 *    peer BAR and the bytes are in the BAR;
 *  - an endpoint on another root port of a whitelisted host bridge: the
 *    physical address, unmarked; the engine copies BAR -> RAM through it;
 *  - the whitelist off: -EREMOTEIO and nothing left mapped; a segment
 *    without a page: -EINVAL; a copy past a segment: -EINVAL.
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
#define WIN0 (64 * G)
#define OFF0 (16 * G)

static struct zd_pci_dev *ep(struct zd_pci_dev *port)
{
	return tap_pci_ep(port, 16 * M, 0);
}

int main(void)
{
	struct zd_pci_host_bridge_desc h0 = { .domain = 0, .mem_start = WIN0, .mem_size = 4 * G,
					      .mem_offset = OFF0,
					      .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020 };
	struct zd_pci_dev *dsp[2], *A, *B, *C;
	struct zd_scatterlist *peer, ram = { 0 }, two[2];
	struct zd_machine *m;
	struct zd_pci_host_bridge *hb;
	struct zd_page *rp;
	unsigned nents;
	char *bar, *rbuf;
	uint64_t phys;

	m = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	hb = zd_pci_host_bridge_add(m, &h0);
	zd_pci_switch_add(zd_pci_root_port_add(hb, 0x8086, 0x2030), 0x10b5, 0x8747, 2, dsp);
	A = ep(dsp[0]);
	B = ep(dsp[1]);
	C = ep(zd_pci_root_port_add(hb, 0x8086, 0x2031));
	if (!ok(!zd_pci_p2pdma_add_resource(B, 0, 0, 0), "B provides its BAR"))
		return done_testing();
	peer = zd_pci_p2pmem_alloc_sgl(B, &nents, 8192);
	rp = zd_alloc_pages(m, ZD_GFP_KERNEL, 1);
	if (!ok(peer && rp, "a p2pmem buffer on B and two RAM pages"))
		return done_testing();
	bar = zd_device_page_address(m, peer->page);
	rbuf = zd_page_address(m, rp);
	phys = zd_page_to_pfn(m, peer->page) << m->arch.page_shift;
	ram = (struct zd_scatterlist){ .page = rp, .offset = 0, .length = 8192 };

	/* the switch path */
	is_int(zd_dma_map_sg(A, peer, 1, ZD_DMA_FROM_DEVICE), 1, "A maps B's memory");
	is_u64(peer->dma_address, phys - OFF0, "... to its bus address");
	ok(peer->dma_flags & ZD_SG_DMA_BUS_ADDRESS, "... marked as a bus address");
	is_int(zd_dma_map_sg(A, &ram, 1, ZD_DMA_TO_DEVICE), 1, "A maps RAM");
	is_u64(ram.dma_address, zd_page_to_pfn(m, rp) << m->arch.page_shift, "... physical");
	for (int i = 0; i < 8192; i++)
		rbuf[i] = (char)(i * 7);
	memset(bar, 0, 8192);
	is_int(zd_dma_engine_copy(A, peer, 0, &ram, 0, 8192), 0, "A's engine: RAM -> B's BAR");
	ok(!memcmp(bar, rbuf, 8192), "... the bytes are in B's BAR");
	is_int(zd_dma_engine_copy(A, peer, 4096, &ram, 0, 8192), -EINVAL, "a copy past a segment");
	zd_dma_unmap_sg(A, peer, 1, ZD_DMA_FROM_DEVICE);
	zd_dma_unmap_sg(A, &ram, 1, ZD_DMA_TO_DEVICE);

	/* through the host bridge */
	is_int(zd_dma_map_sg(C, peer, 1, ZD_DMA_TO_DEVICE), 1, "C maps B's memory");
	ok(peer->dma_address == phys && !(peer->dma_flags & ZD_SG_DMA_BUS_ADDRESS),
	   "... by its physical address (THRU_HOST_BRIDGE)");
	zd_dma_map_sg(C, &ram, 1, ZD_DMA_FROM_DEVICE);
	memset(rbuf, 0, 8192);
	memset(bar, 0x3c, 8192);
	is_int(zd_dma_engine_copy(C, &ram, 0, peer, 0, 8192), 0, "C's engine: B's BAR -> RAM");
	ok(rbuf[0] == 0x3c && rbuf[8191] == 0x3c, "... the bytes are in RAM");
	zd_dma_unmap_sg(C, peer, 1, ZD_DMA_TO_DEVICE);
	zd_dma_unmap_sg(C, &ram, 1, ZD_DMA_FROM_DEVICE);

	/* refusal: the map type is cached per client, so ask a fresh
	 * provider's memory after the whitelist goes */
	zd_pci_p2pdma_set_whitelist(m, false);
	is_int(zd_pci_p2pdma_add_resource(C, 0, 0, 0), 0, "C provides too");
	{
		struct zd_scatterlist *cm = zd_pci_p2pmem_alloc_sgl(C, &nents, 4096);

		two[0] = ram;
		two[1] = *cm;
		is_int(zd_dma_map_sg(A, two, 2, ZD_DMA_TO_DEVICE), -EREMOTEIO,
		       "A maps C's memory without a whitelisted bridge: -EREMOTEIO");
		ok(two[0].dma_address == 0 && two[0].dma_length == 0,
		   "... and the segment mapped before it is unmapped");
		zd_pci_p2pmem_free_sgl(C, cm);
	}
	two[1].page = NULL;
	is_int(zd_dma_map_sg(A, two, 2, ZD_DMA_TO_DEVICE), -EINVAL, "a segment without a page");
	is_int(zd_dma_map_sg(A, two, 0, ZD_DMA_TO_DEVICE), -EINVAL, "no segments");

	zd_pci_p2pmem_free_sgl(B, peer);
	zd___free_pages(m, rp, 1);
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
