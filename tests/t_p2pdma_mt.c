/*
 * P2PDMA under threads (run under ThreadSanitizer by `make check
 * SANITIZE=thread`): four threads each find the closest provider for
 * their client, allocate p2pmem from it, map it and a RAM page for their
 * client (one client through dma-direct, one below an IOMMU), copy a
 * pattern RAM -> p2pmem with the client's engine and back, check it, and
 * free, while the map-type caches fill and the seeded tie draw runs
 * concurrently. Then, with allocations still coming, one provider is
 * released: allocations from it start failing cleanly, the release waits
 * for the ones outstanding, and the other provider keeps serving.
 * Checked: every copy's bytes, the pools back to full, no WARN.
 * (A 40-bit machine: the PCI windows fit, and TSan's shadow leaves room
 * for its vmemmap.)
 */
#include <zonedev/zonedev.h>
#include <zonedev/dma-mapping.h>
#include <zonedev/gfp.h>
#include <zonedev/pgalloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)
#define THREADS 4
#define ROUNDS 300

static struct zd_machine *m;
static struct zd_pci_dev *prov[2], *client[2];
static int stop, bad_bytes, failures, done_rounds;

struct worker {
	int id;
	pthread_t t;
};

static int one_round(int id, unsigned round, struct zd_page *rp)
{
	struct zd_pci_dev *cl = client[id & 1];
	struct zd_pci_dev *p = zd_pci_p2pmem_find_many(m, &cl, 1);
	size_t len = 4096u << (round % 3);
	struct zd_scatterlist ram = { .page = rp, .length = (unsigned)len }, peer = { 0 };
	unsigned char *rb = zd_page_address(m, rp), *kaddr;
	int rc = 0;

	if (!p)
		return 0;   /* every provider released: nothing to do */
	kaddr = zd_pci_alloc_p2pmem(p, len);
	if (!kaddr)
		return 0;   /* a dying provider, or its pool full */
	peer = (struct zd_scatterlist){ .page = zd_pci_p2pmem_virt_to_page(p, kaddr),
					.length = (unsigned)len };
	for (size_t i = 0; i < len; i++)
		rb[i] = (unsigned char)(i * 31 + round + (unsigned)id);
	if (zd_dma_map_sg(cl, &ram, 1, ZD_DMA_BIDIRECTIONAL) != 1 ||
	    zd_dma_map_sg(cl, &peer, 1, ZD_DMA_BIDIRECTIONAL) != 1) {
		rc = -1;
	} else {
		rc = zd_dma_engine_copy(cl, &peer, 0, &ram, 0, len);
		memset(rb, 0, len);
		if (!rc)
			rc = zd_dma_engine_copy(cl, &ram, 0, &peer, 0, len);
		for (size_t i = 0; !rc && i < len; i++)
			if (rb[i] != (unsigned char)(i * 31 + round + (unsigned)id)) {
				__atomic_add_fetch(&bad_bytes, 1, __ATOMIC_RELAXED);
				break;
			}
	}
	zd_dma_unmap_sg(cl, &peer, 1, ZD_DMA_BIDIRECTIONAL);
	zd_dma_unmap_sg(cl, &ram, 1, ZD_DMA_BIDIRECTIONAL);
	zd_pci_free_p2pmem(p, kaddr, len);
	return rc;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct zd_page *rp = zd_alloc_pages(m, ZD_GFP_KERNEL, 2);

	for (unsigned r = 0; rp && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); r++) {
		if (one_round(w->id, r, rp))
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&done_rounds, 1, __ATOMIC_RELAXED);
	}
	if (rp)
		zd___free_pages(m, rp, 2);
	return NULL;
}

static uint64_t available(struct zd_pci_dev *d)
{
	char b[32];

	return zd_pci_p2pmem_attr(d, "available", b, sizeof(b)) < 0 ? 0 : strtoull(b, NULL, 10);
}

#define RELEASE_CYCLES 6

int main(void)
{
	int fail_cycles = 0;
	struct zd_pci_host_bridge_desc h0 = { .domain = 0, .mem_start = 64 * G, .mem_size = 4 * G,
					      .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020 },
				       h1 = { .domain = 1, .mem_start = 128 * G, .mem_size = G,
					      .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020,
					      .iommu = true };
	struct zd_pci_dev *dsp[3];
	struct worker w[THREADS];

	m = tap_machine("x86_64", 40, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	{
		struct zd_pci_host_bridge *hb = zd_pci_host_bridge_add(m, &h0), *hb1;

		zd_pci_switch_add(zd_pci_root_port_add(hb, 0x8086, 0x2030), 0x10b5, 0x8747, 3, dsp);
		prov[0] = tap_pci_ep(dsp[0], 4 * M, 0);
		prov[1] = tap_pci_ep(dsp[1], 4 * M, 0);
		client[0] = tap_pci_ep(dsp[2], 4 * M, 0);
		hb1 = zd_pci_host_bridge_add(m, &h1);
		client[1] = tap_pci_ep(zd_pci_root_port_add(hb1, 0x8086, 0x2031), 4 * M, 0);
	}
	for (int i = 0; i < 2; i++) {
		zd_pci_p2pdma_add_resource(prov[i], 0, 0, 0);
		zd_pci_p2pmem_publish(prov[i], true);
	}
	/* client 1 is across host bridges: not whitelisted as a pair, so it
	 * gets no provider from find_many; let the whitelist-free CPU rule
	 * allow it (AMD Zen) so both clients run */
	zd_pci_set_cpu(m, 0x1022, 0x19);
	for (int i = 0; i < THREADS; i++) {
		w[i].id = i;
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	while (__atomic_load_n(&done_rounds, __ATOMIC_RELAXED) < THREADS * ROUNDS)
		usleep(1000);
	/* a provider goes while allocations keep coming, and comes back while
	 * lookups walk its state; several times, because the window where a
	 * reader still holds a dead pgmap (freed before the grace period, once)
	 * is narrow */
	for (int cycle = 0; cycle < RELEASE_CYCLES; cycle++) {
		int before = __atomic_load_n(&done_rounds, __ATOMIC_RELAXED), bad = 0;

		zd_pci_p2pdma_release(prov[0]);
		bad |= zd_pci_has_p2pmem(prov[0]);
		while (__atomic_load_n(&done_rounds, __ATOMIC_RELAXED) < before + THREADS * 50)
			usleep(1000);
		if (cycle + 1 < RELEASE_CYCLES) {
			bad |= zd_pci_p2pdma_add_resource(prov[0], 0, 0, 0) != 0;
			zd_pci_p2pmem_publish(prov[0], true);
			before = __atomic_load_n(&done_rounds, __ATOMIC_RELAXED);
			while (__atomic_load_n(&done_rounds, __ATOMIC_RELAXED) < before + THREADS * 20)
				usleep(1000);
		}
		if (bad)
			fail_cycles++;
	}
	is_int(fail_cycles, 0, "provider 0 released under load and re-added, %d times",
	       RELEASE_CYCLES);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		tap_join_or_bail(w[i].t, 60, "worker");
	diag("%d rounds", done_rounds);
	if (!is_int(failures, 0, "no map or copy failed"))
		zd_log_dump_console(m, stderr);
	is_int(bad_bytes, 0, "every round's bytes came back through the peer's BAR");
	is_u64(available(prov[1]), 4 * M, "provider 1's pool is full again");
	is_int(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
