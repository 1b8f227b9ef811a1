/*
 * P2PDMA providers (src/drivers/pci/p2pdma.c, spec devices.md 1.2-1.7) and
 * the gen_pool under them (src/lib/genalloc.c):
 *  - add_resource's checks in the kernel's order (-EINVAL: a missing BAR,
 *    offset or size past it), size 0 meaning the rest of the BAR, one
 *    MEMORY_DEVICE_PCI_P2PDMA pgmap per call with struct pages for the
 *    range, a pool chunk whose address is the bus address (a host bridge
 *    with a CPU-to-bus offset shows the difference);
 *  - alloc/free: bytes are real memory (written, read back), one pgmap
 *    reference per allocation, virt_to_bus/virt_to_page, size and
 *    available of the p2pmem group, NULL once the pool is full; alloc_sgl
 *    and free_sgl;
 *  - publish and find_many: only published providers, the closest one
 *    (distance 4 under one switch beats one across root ports), ties
 *    broken by the seeded random choice (both chosen over many calls);
 *  - the map-type cache: filled by computations, never invalidated;
 *  - release: unpublished and gone (attributes -ENOENT, alloc NULL) after
 *    the last allocation is freed;
 *  - CONFIG_PCI_P2PDMA off: the stubs' answers.
 */
#include <zonedev/zonedev.h>
#include <zonedev/genalloc.h>
#include <zonedev/scatterlist.h>
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)
#define WIN0 (64 * G)
#define OFF0 (16 * G)

static struct zd_pci_dev *ep(struct zd_pci_dev *port)
{
	return tap_pci_ep(port, 16 * M, 4 * M);
}

static void genalloc(void)
{
	struct zd_gen_pool *p = zd_gen_pool_create(12, 0);
	void *owner = NULL;
	uintptr_t a, b;

	is_int(zd_gen_pool_add_owner(p, 0x100000, 0x900000, 8 * 4096, 0, &owner), 0, "pool: a chunk");
	is_int(zd_gen_pool_add_owner(p, 0x200000, 0, 100, 0, NULL), -EINVAL,
	       "pool: a chunk not a multiple of the unit");
	a = zd_gen_pool_alloc_owner(p, 4096 * 3, &owner);
	b = zd_gen_pool_alloc_owner(p, 1, NULL);
	ok(a == 0x100000 && b == 0x103000 && owner == &owner, "pool: first fit, owner returned");
	is_u64(zd_gen_pool_virt_to_phys(p, b + 5), 0x903005, "pool: virt_to_phys");
	is_u64(zd_gen_pool_avail(p), 4 * 4096, "pool: avail");
	is_u64(zd_gen_pool_alloc_owner(p, 5 * 4096, NULL), 0, "pool: no room for 5 units");
	zd_gen_pool_free_owner(p, a, 4096 * 3, &owner);
	is_u64(zd_gen_pool_alloc_owner(p, 3 * 4096, NULL), 0x100000, "pool: a freed run is reused");
	is_u64(zd_gen_pool_destroy(p), 4 * 4096, "pool: destroy reports what is still out");
}

/* More providers than any fixed array: the closest is the last one found. */
static void many_providers(void)
{
	struct zd_pci_host_bridge_desc h = { .domain = 0, .mem_start = 64 * G, .mem_size = 4 * G,
					     .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020 };
	struct zd_machine *mm = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	struct zd_pci_endpoint_desc two = { .vendor = 0x144d, .device = 0xa808, .nr_functions = 2,
					    .bar_size = { 2 << 20 } };
	struct zd_pci_dev *down[32], *down2[2], *client, *near;
	struct zd_pci_host_bridge *hb;
	int added = 0;

	if (!mm)
		return;
	hb = zd_pci_host_bridge_add(mm, &h);
	zd_pci_switch_add(zd_pci_root_port_add(hb, 0x8086, 0x2030), 0x10b5, 0x8747, 32, down);
	for (int i = 0; i < 32; i++) {
		struct zd_pci_dev *f0 = zd_pci_endpoint_add(down[i], &two);

		for (unsigned f = 0; f < 2; f++) {
			struct zd_pci_dev *fn = zd_pci_get_slot(mm, 0, f0->bus->number, f);

			added += !zd_pci_p2pdma_add_resource(fn, 0, 0, 0);
			zd_pci_p2pmem_publish(fn, true);
		}
	}
	zd_pci_switch_add(zd_pci_root_port_add(hb, 0x8086, 0x2031), 0x10b5, 0x8747, 2, down2);
	client = tap_pci_ep(down2[0], 2 << 20, 0);
	near = tap_pci_ep(down2[1], 2 << 20, 0);
	added += !zd_pci_p2pdma_add_resource(near, 0, 0, 0);
	zd_pci_p2pmem_publish(near, true);
	is_int(added, 65, "65 published providers");
	ok(zd_pci_p2pmem_find_many(mm, &client, 1) == near,
	   "find_many finds the 65th, the only one under the client's switch");
	zd_machine_destroy(mm);
}

int main(void)
{
	struct zd_pci_host_bridge_desc h0 = { .domain = 0, .mem_start = WIN0, .mem_size = 4 * G,
					      .mem_offset = OFF0,
					      .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020 };
	struct zd_pci_dev *dsp[2], *A, *B, *C, *rp1, *rp2, *clients[1];
	struct zd_machine *m;
	struct zd_pci_host_bridge *hb;
	char buf[64];
	int seen_a = 0, seen_b = 0;
	void *x, *y;

	genalloc();
	m = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	hb = zd_pci_host_bridge_add(m, &h0);
	rp1 = zd_pci_root_port_add(hb, 0x8086, 0x2030);
	zd_pci_switch_add(rp1, 0x10b5, 0x8747, 2, dsp);
	A = ep(dsp[0]);
	B = ep(dsp[1]);
	rp2 = zd_pci_root_port_add(hb, 0x8086, 0x2031);
	C = ep(rp2);
	if (!ok(!ZD_IS_ERR(A) && !ZD_IS_ERR(B) && !ZD_IS_ERR(C), "topology"))
		return done_testing();

	/* add_resource's checks */
	is_int(zd_pci_p2pdma_add_resource(A, 1, 0, 0), -EINVAL, "BAR 1 (upper half of a 64-bit BAR)");
	is_int(zd_pci_p2pdma_add_resource(A, 0, 0, 16 * M), -EINVAL, "offset at the BAR's end");
	is_int(zd_pci_p2pdma_add_resource(A, 0, 8 * M, 12 * M), -EINVAL, "size past the BAR");
	is_int(zd_pci_p2pmem_attr(A, "size", buf, sizeof(buf)), -ENOENT, "no p2pmem group yet");
	is_int(zd_pci_p2pdma_add_resource(A, 0, 0, 8 * M), 0, "size 0: the rest of BAR 0");
	is_int(zd_pci_p2pdma_add_resource(A, 2, 0, 0), 0, "a second call: BAR 2 whole");
	zd_pci_p2pmem_attr(A, "size", buf, sizeof(buf));
	is_int(atoll(buf), 12 * M, "p2pmem/size: both chunks (8 + 4 MiB)");
	zd_pci_p2pmem_attr(A, "published", buf, sizeof(buf));
	ok(!strcmp(buf, "0\n"), "p2pmem/published: 0");
	is_int(zd_pci_p2pmem_attr(A, "allocate", buf, sizeof(buf)), -EINVAL,
	       "allocate is not a text attribute here");

	/* allocations: real bytes, bus addresses, pgmap references */
	x = zd_pci_alloc_p2pmem(A, 64 * 1024);
	y = zd_pci_alloc_p2pmem(A, 4096);
	if (!ok(x && y, "two allocations"))
		return done_testing();
	memset(x, 0x5a, 64 * 1024);
	ok(((unsigned char *)x)[65535] == 0x5a, "the BAR's bytes are memory");
	{
		struct zd_page *pg = zd_pci_p2pmem_virt_to_page(A, x);
		uint64_t bus = zd_pci_p2pmem_virt_to_bus(A, x);
		uint64_t phys = pg ? zd_page_to_pfn(m, pg) << m->arch.page_shift : 0;

		ok(pg && zd_is_pci_p2pdma_page(m, pg), "virt_to_page: a P2PDMA page");
		is_u64(phys - bus, OFF0, "virt_to_bus: the CPU address minus the bridge's offset");
		ok(phys >= zd_pci_resource_start(A, 0) + 8 * M ||
		   phys >= zd_pci_resource_start(A, 2), "... inside a registered range");
		ok(pg && zd_percpu_ref_read(&pg->pgmap->ref) >= 2,
		   "each allocation holds a pgmap reference");
	}
	zd_pci_p2pmem_attr(A, "available", buf, sizeof(buf));
	is_int(atoll(buf), 12 * M - 68 * 1024, "p2pmem/available");
	is_u64(zd_pci_p2pmem_virt_to_bus(A, NULL), 0, "virt_to_bus(NULL): 0");
	ok(zd_pci_alloc_p2pmem(A, 13 * M) == NULL, "more than the pool: NULL");
	{
		struct zd_scatterlist *sg;
		unsigned nents = 0;
		char b2[32];

		sg = zd_pci_p2pmem_alloc_sgl(A, &nents, 8192);
		ok(sg && nents == 1 && sg->length == 8192 && sg->offset == 0 &&
		   zd_is_pci_p2pdma_page(m, sg->page), "alloc_sgl: one P2PDMA segment");
		zd_pci_p2pmem_attr(A, "available", b2, sizeof(b2));
		is_int(atoll(b2), 12 * M - 76 * 1024, "... taken from the pool");
		zd_pci_p2pmem_free_sgl(A, sg);
		zd_pci_p2pmem_attr(A, "available", b2, sizeof(b2));
		is_int(atoll(b2), 12 * M - 68 * 1024, "free_sgl gives it back");
		ok(zd_pci_p2pmem_alloc_sgl(A, &nents, 13 * M) == NULL, "alloc_sgl past the pool: NULL");
	}
	ok(zd_pci_alloc_p2pmem(B, 4096) == NULL, "a device without p2pmem: NULL");

	/* publish and find */
	is_int(zd_pci_p2pdma_add_resource(B, 0, 0, 0), 0, "B provides");
	is_int(zd_pci_p2pdma_add_resource(C, 0, 0, 0), 0, "C provides");
	clients[0] = A;
	ok(zd_pci_p2pmem_find_many(m, clients, 1) == NULL, "nothing published: none found");
	zd_pci_p2pmem_publish(C, true);
	ok(zd_pci_p2pmem_find_many(m, clients, 1) == C, "only C published: C");
	zd_pci_p2pmem_publish(B, true);
	ok(zd_pci_p2pmem_find_many(m, clients, 1) == B, "B under the same switch is closer");
	zd_pci_p2pmem_publish(A, true);
	/* ties: from C (no longer published), A and B are equally far */
	zd_pci_p2pmem_publish(C, false);
	for (int i = 0; i < 64; i++) {
		struct zd_pci_dev *p = zd_pci_p2pmem_find_many(m, (struct zd_pci_dev *[]){ C }, 1);

		seen_a += p == A;
		seen_b += p == B;
	}
	ok(seen_a && seen_b && seen_a + seen_b == 64,
	   "equally close providers are both chosen (%d A, %d B)", seen_a, seen_b);
	seen_a = seen_b = 0;
	for (int i = 0; i < 4000; i++) {
		struct zd_pci_dev *p = zd_pci_p2pmem_find_many(m, (struct zd_pci_dev *[]){ C }, 1);

		seen_a += p == A;
		seen_b += p == B;
	}
	/* 2000 each expected; 4000 fair draws stray by ~32 (one sigma) */
	ok(seen_a + seen_b == 4000 && seen_a > 1850 && seen_b > 1850,
	   "... uniformly: %d A, %d B of 4000 seeded draws", seen_a, seen_b);

	/* the map-type cache: filled by a computation, kept across an ACS
	 * change (the kernel never invalidates it); a fresh provider sees it */
	is_int(zd_pci_p2pdma_map_type(B, A), ZD_PCI_P2PDMA_MAP_BUS_ADDR, "map type B->A: BUS_ADDR");
	is_int(zd_pci_set_acs(dsp[0], ZD_PCI_ACS_RR | ZD_PCI_ACS_CR, ZD_PCI_ACS_RR, 0), 0,
	       "ACS redirect on A's switch port");
	is_int(zd_pci_p2pdma_map_type(B, A), ZD_PCI_P2PDMA_MAP_BUS_ADDR,
	       "... B's cached answer stays BUS_ADDR");
	is_int(zd_pci_p2pdma_map_type(C, A), ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	       "... C's first question computes (through the host bridge)");
	{
		int dist;

		is_int(zd_pci_p2pdma_map_type_dist(B, A, &dist, false),
		       ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "... a new computation sees the redirect");
		is_int(zd_pci_p2pdma_map_type(B, A), ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
		       "... and refills B's cache");
	}
	zd_pci_set_acs(dsp[0], ZD_PCI_ACS_RR | ZD_PCI_ACS_CR, 0, 0);
	ok(zd_pci_p2pdma_map_type(rp1, A) == ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED,
	   "a device without p2pmem: NOT_SUPPORTED");

	/* release waits for the allocations; afterwards nothing is left */
	zd_pci_free_p2pmem(A, x, 64 * 1024);
	zd_pci_free_p2pmem(A, y, 4096);
	zd_pci_p2pmem_attr(A, "available", buf, sizeof(buf));
	is_int(atoll(buf), 12 * M, "every byte back");
	zd_pci_p2pdma_release(A);
	ok(!zd_pci_has_p2pmem(A) && zd_pci_alloc_p2pmem(A, 4096) == NULL &&
	   zd_pci_p2pmem_attr(A, "size", buf, sizeof(buf)) == -ENOENT, "released: gone");
	/* CONFIG_PCI_P2PDMA=n: the stubs */
	zd_pci_set_config_p2pdma(m, false);
	is_int(zd_pci_p2pdma_add_resource(A, 0, 0, 0), -EOPNOTSUPP, "config off: add_resource");
	is_int(zd_pci_p2pdma_distance(B, C, false), -1, "config off: distance -1");
	ok(zd_pci_p2pmem_find_many(m, (struct zd_pci_dev *[]){ C }, 1) == NULL,
	   "config off: find_many NULL");
	zd_pci_set_config_p2pdma(m, true);
	ok(zd_pci_p2pdma_distance(B, C, false) > 0, "config on again: a distance");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	many_providers();
	return done_testing();
}
