/*
 * The PCI topology (src/drivers/pci/probe.c) and P2PDMA distance and map
 * types (src/drivers/pci/p2pdma.c), against every row of devices.md §1.4's
 * topology table:
 *  - topology: BARs inside the host window, naturally aligned, bus address
 *    = CPU address - window offset; bad BARs, a full window, a busy link,
 *    a bridge below an endpoint, a duplicate domain, a window over RAM fail
 *    and change neither the tree nor iomem;
 *  - distance: same function 0, sibling functions 2, one switch 4,
 *    cascaded switches more, all BUS_ADDR; no common ancestor: both chains'
 *    lengths, THRU_HOST_BRIDGE or NOT_SUPPORTED by whitelist (same-host
 *    entries, cross-host entries, unknown IDs, whitelist off) and by
 *    cpu_supports_p2pdma (AMD family >= 0x17 on x86 only);
 *  - the lspci -tv tree of that topology, whole;
 *  - ACS redirect (v6.x), on every row: on the client side or the provider
 *    side up to and including the common device (a function's own ACS
 *    too) forces the host route, with the hint naming each port; above the
 *    common device it does not matter, nor the client side when there is
 *    no common device; the whitelist warning appears only on an ACS detour;
 *  - the new era's per-port decision: every branch, and where it differs
 *    from v6.x on one topology;
 *  - distance_many: sums, -1 on any NOT_SUPPORTED, a non-PCI or no client;
 *  - the distance report: one row per ordered pair, agreeing with the calls;
 *  - zd_pci_port_add (what an lspci import builds with): chosen slots and
 *    bus numbers kept, gaps allowed, a number going back, a taken slot, a
 *    port in the wrong place refused with nothing added.
 */
#include <zonedev/zonedev.h>
#include <string.h>
#include <stdlib.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)
#define WIN0 (64 * G)
#define WIN1 (128 * G)
#define OFF1 (96 * G)

static struct zd_machine *m;
/* 00:01.0 root port > switch 01 > 02:00.0 A (two functions), 02:01.0 B,
 * 02:02.0 > switch 05 > 06:00.0 C, 06:01.0 D; 00:02.0 root port > E;
 * domain 1: root port > F. */
static struct zd_pci_dev *rp1, *rp2, *usp1, *dsp[3], *usp2, *dsp2[2];
static struct zd_pci_dev *A0, *A1, *B, *C, *D, *E, *F;
static struct zd_pci_host_bridge *hb0, *hb1;

static struct zd_pci_dev *ep(struct zd_pci_dev *port, unsigned nfn)
{
	struct zd_pci_endpoint_desc d = { .vendor = 0x144d, .device = 0xa808, .nr_functions = nfn,
					  .bar_size = { 16 * M } };

	return zd_pci_endpoint_add(port, &d);
}

static void build(uint16_t hb0_dev, uint16_t hb1_dev)
{
	struct zd_pci_host_bridge_desc h0 = { .domain = 0, .mem_start = WIN0, .mem_size = 4 * G,
					      .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = hb0_dev };
	struct zd_pci_host_bridge_desc h1 = { .domain = 1, .mem_start = WIN1, .mem_size = 4 * G,
					      .mem_offset = OFF1,
					      .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = hb1_dev };

	zd_machine_destroy(m);
	m = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	hb0 = zd_pci_host_bridge_add(m, &h0);
	hb1 = zd_pci_host_bridge_add(m, &h1);
	/* Built depth first, so bus numbers come out as enumeration gives them. */
	rp1 = zd_pci_root_port_add(hb0, 0x8086, 0x2030);
	usp1 = zd_pci_switch_add(rp1, 0x10b5, 0x8747, 3, dsp);
	A0 = ep(dsp[0], 2);
	A1 = zd_pci_get_slot(m, 0, A0->bus->number, ZD_PCI_DEVFN(0, 1));
	B = ep(dsp[1], 1);
	usp2 = zd_pci_switch_add(dsp[2], 0x10b5, 0x8725, 2, dsp2);
	C = ep(dsp2[0], 1);
	D = ep(dsp2[1], 1);
	rp2 = zd_pci_root_port_add(hb0, 0x8086, 0x2031);
	E = ep(rp2, 1);
	F = ep(zd_pci_root_port_add(hb1, 0x8086, 0x2032), 1);
}

static enum zd_pci_p2pdma_map_type mt(struct zd_pci_dev *p, struct zd_pci_dev *c, int *dist)
{
	return zd_pci_p2pdma_map_type_dist(p, c, dist, true);
}

static void check(struct zd_pci_dev *p, struct zd_pci_dev *c, int want_dist,
		  enum zd_pci_p2pdma_map_type want, const char *what)
{
	int dist = -99;
	enum zd_pci_p2pdma_map_type got = mt(p, c, &dist);

	ok(got == want && dist == want_dist, "%s: %s -> %s: %s distance %d (want %s %d)", what,
	   p->name, c->name, zd_pci_p2pdma_map_type_name(got), dist,
	   zd_pci_p2pdma_map_type_name(want), want_dist);
}

static void test_topology(void)
{
	char *before;
	struct zd_pci_endpoint_desc bad = { .vendor = 1, .device = 2, .bar_size = { 12 * M } };
	struct zd_pci_endpoint_desc huge = { .vendor = 1, .device = 2, .bar_size = { 4 * G } };
	struct zd_pci_host_bridge_desc dup = { .domain = 1, .mem_start = 200 * G, .mem_size = G };
	struct zd_pci_host_bridge_desc ram = { .domain = 2, .mem_start = 512 * M, .mem_size = G };
	struct zd_pci_dev *sp;

	build(0x2030, 0x2030);
	ok(!ZD_IS_ERR_OR_NULL(A0) && !ZD_IS_ERR_OR_NULL(A1) && !ZD_IS_ERR_OR_NULL(F) &&
	   !ZD_IS_ERR_OR_NULL(D), "the topology builds");
	if (ZD_IS_ERR_OR_NULL(A0) || ZD_IS_ERR_OR_NULL(F) || !A1)
		return;
	ok(!strcmp(A0->name, "0000:03:00.0") && !strcmp(A1->name, "0000:03:00.1") &&
	   !strcmp(C->name, "0000:07:00.0") && !strcmp(E->name, "0000:09:00.0") &&
	   !strcmp(F->name, "0001:01:00.0"), "bus numbers depth first: %s %s %s %s %s", A0->name,
	   A1->name, C->name, E->name, F->name);
	ok(zd_pci_upstream_bridge(A0) == dsp[0] && zd_pci_upstream_bridge(dsp[0]) == usp1 &&
	   zd_pci_upstream_bridge(usp1) == rp1 && !zd_pci_upstream_bridge(rp1),
	   "upstream bridges lead to the root port, which has none");
	struct zd_pci_dev *all[] = { A0, A1, B, C, D, E, F };
	bool inside = true, aligned = true, flags = true;

	for (size_t i = 0; i < 7; i++) {
		struct zd_resource *r = all[i]->resource[0];
		struct zd_pci_host_bridge *hb = zd_pci_find_host_bridge(all[i]->bus);

		inside &= r && r->parent == hb->window && r->start >= hb->window->start &&
			  r->end <= hb->window->end && zd_pci_resource_len(all[i], 0) == 16 * M;
		aligned &= r && !(r->start & (16 * M - 1));
		flags &= r && (r->flags & (ZD_IORESOURCE_MEM | ZD_IORESOURCE_PREFETCH |
					   ZD_IORESOURCE_MEM_64)) ==
			 (ZD_IORESOURCE_MEM | ZD_IORESOURCE_PREFETCH | ZD_IORESOURCE_MEM_64);
	}
	ok(inside && aligned && flags,
	   "every BAR is 16 MiB, 64-bit prefetchable, aligned, inside its host window");
	ok(zd_pci_resource_start(A0, 0) != zd_pci_resource_start(A1, 0),
	   "two functions get two BARs");
	is_u64(zd_pci_bus_address(A0, 0), zd_pci_resource_start(A0, 0),
	       "domain 0: bus address = CPU address");
	is_u64(zd_pci_bus_address(F, 0), zd_pci_resource_start(F, 0) - OFF1,
	       "domain 1: bus address = CPU address - offset");
	is_u64(zd_pci_bus_address(F, 2), 0, "an unused BAR has no bus address");
	before = tap_iomem_text(m);
	ok(strstr(before, "PCI Bus 0000:00") && strstr(before, "0000:03:00.1") &&
	   strstr(before, "PCI Bus 0001:00"), "iomem shows the windows and the BARs");

	sp = zd_pci_root_port_add(hb0, 1, 2);
	is_int(ZD_PTR_ERR(zd_pci_endpoint_add(sp, &bad)), -EINVAL, "a 12 MiB BAR: -EINVAL");
	ok(tap_log_since(m, 0, "a 64-bit BAR takes an even BAR"), "... logged why");
	is_int(ZD_PTR_ERR(zd_pci_endpoint_add(sp, &huge)), -ENOSPC,
	       "a BAR as large as the (partly used) window: -ENOSPC");
	ok(tap_log_since(m, 0, "can't assign; no space"), "... logged why");
	is_int(ZD_PTR_ERR(zd_pci_endpoint_add(dsp[0], &bad)), -EINVAL,
	       "checks come before the busy link (BAR first)");
	huge.bar_size[0] = 16 * M;
	is_int(ZD_PTR_ERR(zd_pci_endpoint_add(dsp[0], &huge)), -EBUSY,
	       "a second device on a port's link: -EBUSY");
	is_int(ZD_PTR_ERR(zd_pci_switch_add(A0, 1, 2, 2, NULL)), -EINVAL,
	       "a switch below an endpoint: -EINVAL");
	is_int(ZD_PTR_ERR(zd_pci_switch_add(sp, 1, 2, 0, NULL)), -EINVAL,
	       "a switch without downstream ports: -EINVAL");
	is_int(ZD_PTR_ERR(zd_pci_host_bridge_add(m, &dup)), -EINVAL, "a used domain: -EINVAL");
	is_int(ZD_PTR_ERR(zd_pci_host_bridge_add(m, &ram)), -EBUSY, "a window over RAM: -EBUSY");
	ok(!sp->subordinate->devices, "the failed adds left the port's link empty");
	char *after = tap_iomem_text(m);

	ok(!strcmp(before, after), "... and iomem as it was");
	free(after);
	free(before);
	is_int(zd_pci_set_acs(B, ZD_PCI_ACS_RR, ZD_PCI_ACS_RR | ZD_PCI_ACS_CR, 0), -EINVAL,
	       "ACS control bits outside the capability: -EINVAL");
	is_int(B->acs_cap, 0, "... and the device still has no ACS");
}

static void test_table(void)
{
	int d1, d2;

	build(0x2030, 0x2030);
	check(A0, A0, 0, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "same function");
	check(A0, A1, 2, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "two functions of one device");
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "one switch, two downstream ports");
	check(B, A0, 4, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "... the other way");
	check(C, D, 4, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "the inner switch");
	check(A0, C, 6, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "cascaded switches");
	mt(A0, B, &d1);
	mt(A0, C, &d2);
	ok(d2 > d1, "a second switch on the path adds distance (%d > %d)", d2, d1);
	/* no common ancestor: both walks run to their root ports */
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "two root ports, Skylake-E host");
	check(A0, F, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "two Skylake-E host bridges");

	build(0x3c00, 0x3c00);
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "0x3c00 (same host only): one host");
	check(A0, F, 6, ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED, "0x3c00: across hosts");
	ok(tap_log_since(m, 0, "do not share an upstream bridge or whitelisted host bridge"),
	   "... verbose says why");
	ok(!tap_log_since(m, 0, "not in P2PDMA whitelist"),
	   "... but names no host bridge without an ACS detour");
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "a switch path ignores the host bridge");

	build(0x2030, 0x1234);
	check(A0, F, 6, ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED, "one host bridge not whitelisted");
	check(F, F, 0, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "... same function still fine");

	build(0x1234, 0x1234);
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED, "unknown host bridge");
	zd_pci_set_cpu(m, ZD_PCI_VENDOR_ID_AMD, 0x16);
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED, "AMD family 0x16: no");
	zd_pci_set_cpu(m, ZD_PCI_VENDOR_ID_AMD, 0x17);
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "AMD Zen: the CPU allows it");
	check(A0, F, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "AMD Zen: across hosts too");
	zd_pci_set_cpu(m, ZD_PCI_VENDOR_ID_INTEL, 0x19);
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED, "Intel family 0x19: the CPU does not");

	build(0x2030, 0x2030);
	zd_pci_p2pdma_set_whitelist(m, false);
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED, "whitelist off");
	zd_pci_p2pdma_set_whitelist(m, true);
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "whitelist on again");
}

static void test_acs_v6x(void)
{
	unsigned long seq;

	build(0x2030, 0x2030);
	zd_pci_set_acs(dsp[1], 0x7f, ZD_PCI_ACS_RR, 0);
	seq = zd_log_seq(m);
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "RR on the client's port");
	ok(tap_log_since(m, seq, "ACS redirect is set between the client and provider (0000:03:00.0)"),
	   "... warned");
	ok(tap_log_since(m, seq, "pci=disable_acs_redir=0000:02:01.0") &&
	   !tap_log_since(m, seq, "0000:02:01.0;"), "... the hint names the port, no trailing ';'");
	check(A0, A1, 2, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "a path not through that port");
	zd_pci_set_acs(dsp[0], 0x7f, ZD_PCI_ACS_EC, 0);
	check(A0, A1, 2, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	      "EC on the common port itself (the provider side includes it)");
	seq = zd_log_seq(m);
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "both ports redirect");
	ok(tap_log_since(m, seq, "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"),
	   "... the hint lists provider side first, then client side");
	zd_pci_set_acs(dsp[0], 0x7f, ZD_PCI_ACS_SV | ZD_PCI_ACS_TB | ZD_PCI_ACS_UF, 0);
	zd_pci_set_acs(dsp[1], 0x7f, 0, 0);
	zd_pci_set_acs(rp1, 0x7f, ZD_PCI_ACS_RR | ZD_PCI_ACS_CR, 0);
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_BUS_ADDR,
	      "SV/TB/UF do not redirect; RR above the common device does not matter");
	check(A0, E, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	      "without a common device the route is the host's anyway");

	/* every row of the table with ACS on the path */
	build(0x2030, 0x2030);
	zd_pci_set_acs(A0, ZD_PCI_ACS_RR, ZD_PCI_ACS_RR, 0);
	check(A0, A0, 0, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	      "a function with ACS RR to itself (the walk starts at the provider)");
	check(A1, A0, 2, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "... and from its sibling");
	check(B, D, 6, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "a path without it");
	zd_pci_set_acs(dsp2[1], 0x7f, ZD_PCI_ACS_CR, 0);
	check(B, D, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "cascaded: CR on the inner switch's port");
	check(C, D, 4, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "... and within the inner switch");
	zd_pci_set_acs(usp2, 0x7f, ZD_PCI_ACS_RR, 0);
	check(C, D, 4, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	      "RR on the common upstream port itself counts (provider side includes it)");
	zd_pci_set_acs(dsp2[1], 0x7f, 0, 0);
	zd_pci_set_acs(rp2, 0x7f, ZD_PCI_ACS_RR, 0);
	seq = zd_log_seq(m);
	check(B, E, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	      "no common device: ACS on the client side is not read");
	ok(!tap_log_since(m, seq, "ACS redirect is set"), "... and not reported");

	build(0x1234, 0x1234);
	zd_pci_set_acs(dsp[1], 0x7f, ZD_PCI_ACS_CR, 0);
	seq = zd_log_seq(m);
	ok(zd_pci_p2pdma_map_type_dist(A0, B, &(int){0}, false) == ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED,
	   "CR with an unknown host bridge: NOT_SUPPORTED");
	ok(tap_log_since(m, seq, "Host bridge not in P2PDMA whitelist: 8086:1234") &&
	   !tap_log_since(m, seq, "ACS redirect is set"),
	   "... the whitelist warning comes even without verbose, the ACS one does not");
}

static void test_acs_new(void)
{
	/* ctrl, has_target, egress bit -> decision */
	is_int(zd_pci_acs_p2pdma_decision(0, false, -1), 0, "nothing set: direct");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_RR, false, -1), 1, "no target, RR: redirect");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_EC, false, -1), 0, "no target, EC only: direct");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_CR, true, 1), 1, "target, no EC, CR: redirect");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_EC | ZD_PCI_ACS_RR, true, 1), 1,
	       "EC, egress bit set, RR: redirect");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_EC | ZD_PCI_ACS_CR, true, 1), -1,
	       "EC, egress bit set, no RR: not supported");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_EC | ZD_PCI_ACS_RR, true, 0), 0,
	       "EC, egress bit clear, no CR: direct");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_EC | ZD_PCI_ACS_CR, true, 0), 1,
	       "EC, egress bit clear, CR: redirect");
	is_int(zd_pci_acs_p2pdma_decision(ZD_PCI_ACS_EC, true, -1), -1,
	       "EC, egress vector unreadable: not supported");

	build(0x2030, 0x2030);
	/* A's port blocks egress to port 2 (the inner switch), not to B's port 1. */
	zd_pci_set_acs(dsp[0], 0x7f, ZD_PCI_ACS_EC | ZD_PCI_ACS_RR, 1u << 2);
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "v6.x: EC anywhere redirects");
	zd_pci_p2pdma_set_era(m, ZD_P2PDMA_ERA_NEW);
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_BUS_ADDR, "new: egress to B's port is open");
	check(A0, C, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "new: egress to port 2 redirects");
	zd_pci_set_acs(dsp[0], 0x7f, ZD_PCI_ACS_EC | ZD_PCI_ACS_CR, 1u << 2);
	check(A0, C, 6, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	      "new: blocked without RR is unsupported, which also takes the host route");
	zd_pci_set_acs(dsp[0], 0x7f, ZD_PCI_ACS_EC, 0);
	dsp[0]->acs_egress_unreadable = true;
	check(A0, B, 4, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "new: unreadable egress vector");
	check(A0, A1, 2, ZD_PCI_P2PDMA_MAP_BUS_ADDR,
	      "new: the common port has no target between its own functions");
	dsp[0]->acs_egress_unreadable = false;
	zd_pci_set_acs(dsp[0], 0x7f, ZD_PCI_ACS_RR, 0);
	check(A0, A1, 2, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "new: RR without a target redirects");
	zd_pci_set_acs(hb0->bus->devices, 0x7f, 0, 0);   /* harmless: the host device */
	zd_machine_destroy(m);
	/* new era whitelists Google host bridges */
	{
		struct zd_pci_host_bridge_desc g = { .domain = 0, .mem_start = WIN0, .mem_size = G,
						     .vendor = ZD_PCI_VENDOR_ID_GOOGLE, .device = 0x77 };
		struct zd_pci_dev *x, *y;

		m = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
		hb0 = zd_pci_host_bridge_add(m, &g);
		x = ep(zd_pci_root_port_add(hb0, 1, 1), 1);
		y = ep(zd_pci_root_port_add(hb0, 1, 1), 1);
		check(x, y, 4, ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED, "v6.x: a Google host bridge is not listed");
		zd_pci_p2pdma_set_era(m, ZD_P2PDMA_ERA_NEW);
		check(x, y, 4, ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, "new: any Google device is");
	}
}

static void test_distance_many(void)
{
	build(0x3c00, 0x3c00);
	struct zd_pci_dev *two[] = { B, C }, *bad[] = { F, B }, *nonpci[] = { B, NULL };
	unsigned long seq;

	is_int(zd_pci_p2pdma_distance_many(A0, two, 2, false), 4 + 6, "two clients: the sum");
	is_int(zd_pci_p2pdma_distance(A0, E, false), 6, "one client through the host bridge");
	seq = zd_log_seq(m);
	is_int(zd_pci_p2pdma_distance_many(A0, bad, 2, true), -1, "one unsupported client: -1");
	ok(tap_log_since(m, seq, "pci 0001:01:00.0: cannot be used for peer-to-peer DMA"),
	   "... verbose names it");
	is_int(zd_pci_p2pdma_distance_many(A0, nonpci, 2, true), -1, "a non-PCI client: -1");
	ok(tap_log_since(m, seq, "client 1: cannot be used for peer-to-peer DMA as it is not a PCI device"),
	   "... logged");
	is_int(zd_pci_p2pdma_distance_many(A0, two, 0, false), -1, "no clients: -1");
}

/* The lspci -tv view: one line per function, bridges with their bus ranges. */
static void test_tree(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	build(0x2030, 0x2030);
	f = open_memstream(&buf, &len);
	zd_pci_dump_tree(m, f);
	fclose(f);
	/* Highest domain first, as lspci sorts; the ASCII art is lspci's. */
	static const char want[] =
		"-+-[0001:00]-+-00.0  Device [8086:2030]\n"
		" |           \\-01.0-[01]----00.0  Device [144d:a808]\n"
		" \\-[0000:00]-+-00.0  Device [8086:2030]\n"
		"             +-01.0-[01-08]----00.0-[02-08]--+-00.0-[03]--+-00.0  Device [144d:a808]\n"
		"             |                               |            \\-00.1  Device [144d:a808]\n"
		"             |                               +-01.0-[04]----00.0  Device [144d:a808]\n"
		"             |                               \\-02.0-[05-08]----00.0-[06-08]--+-00.0-[07]----00.0  Device [144d:a808]\n"
		"             |                                                               \\-01.0-[08]----00.0  Device [144d:a808]\n"
		"             \\-02.0-[09]----00.0  Device [144d:a808]\n";
	if (!ok(!strcmp(buf, want), "the tree: functions, bridges with [secondary-subordinate], branches"))
		diag("got:\n%s", buf);
	free(buf);
}

/* The distance matrix report: every ordered pair, rows as computed. */
static void test_show(void)
{
	char *buf = NULL, line[128];
	size_t len = 0, rows = 0;
	FILE *f;
	int d;
	bool agree = true;

	build(0x3c00, 0x3c00);
	f = open_memstream(&buf, &len);
	zd_pci_p2pdma_show(m, f);
	fclose(f);
	for (char *l = buf; (l = strchr(l, '\n')); l++)
		rows++;
	is_int(rows, 1 + 7 * 6, "a header and one row per ordered pair of the 7 functions");
	struct zd_pci_dev *pairs[][2] = { { A0, A1 }, { A0, B }, { C, A0 }, { A0, E }, { A0, F } };

	for (size_t i = 0; i < 5; i++) {
		enum zd_pci_p2pdma_map_type t = zd_pci_p2pdma_map_type_dist(pairs[i][0], pairs[i][1],
									     &d, false);

		snprintf(line, sizeof(line), "%-14s %-14s %8d  %s\n", pairs[i][0]->name,
			 pairs[i][1]->name, d, zd_pci_p2pdma_map_type_name(t));
		agree &= strstr(buf, line) != NULL;
	}
	ok(agree, "rows agree with map_type_dist");
	ok(strstr(buf, "0000:03:00.0   0001:01:00.0          6  NOT_SUPPORTED\n") &&
	   strstr(buf, "0000:03:00.0   0000:03:00.1          2  BUS_ADDR\n"),
	   "across 0x3c00 host bridges NOT_SUPPORTED, sibling functions BUS_ADDR");
	free(buf);
}

static void test_port_add(void)
{
	struct zd_pci_host_bridge_desc h = { .domain = 5, .mem_start = 256 * G, .mem_size = G };
	struct zd_pci_host_bridge_desc h6 = { .domain = 6, .mem_start = 258 * G, .mem_size = G };
	struct zd_machine *pm = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	struct zd_pci_host_bridge *hb, *hb6;
	struct zd_pci_dev *rp, *up, *dp, *e;

	if (!pm)
		return;
	hb = zd_pci_host_bridge_add(pm, &h);
	hb6 = zd_pci_host_bridge_add(pm, &h6);
	rp = zd_pci_port_add(hb->bus, ZD_PCI_EXP_TYPE_ROOT_PORT,
			     &(struct zd_pci_port_desc){ 0x8086, 0x1901, 0x1c, 0x08, 0 });
	ok(!ZD_IS_ERR(rp) && !strcmp(rp->name, "0005:00:1c.0") && rp->subordinate->number == 8,
	   "a root port at slot 1c with secondary bus 08 (a gap after 00)");
	up = zd_pci_port_add(rp->subordinate, ZD_PCI_EXP_TYPE_UPSTREAM,
			     &(struct zd_pci_port_desc){ 0x12d8, 0x2404, -1, -1, 0 });
	dp = ZD_IS_ERR(up) ? up : zd_pci_port_add(up->subordinate, ZD_PCI_EXP_TYPE_DOWNSTREAM,
						  &(struct zd_pci_port_desc){ 0x12d8, 0x2404, 3, 0x0c, 0 });
	ok(!ZD_IS_ERR(dp) && !strcmp(up->name, "0005:08:00.0") && !strcmp(dp->name, "0005:09:03.0") &&
	   dp->subordinate->number == 0x0c, "a switch: upstream 08:00.0, downstream 09:03.0 -> bus 0c");
	ok(ZD_PTR_ERR(zd_pci_port_add(up->subordinate, ZD_PCI_EXP_TYPE_DOWNSTREAM,
				      &(struct zd_pci_port_desc){ 0x12d8, 0x2404, 2, 0x0b, 0 })) == -EINVAL,
	   "a bus number below the next free one: -EINVAL");
	ok(ZD_PTR_ERR(zd_pci_port_add(up->subordinate, ZD_PCI_EXP_TYPE_DOWNSTREAM,
				      &(struct zd_pci_port_desc){ 0x12d8, 0x2404, 3, -1, 0 })) == -EBUSY,
	   "a taken slot: -EBUSY");
	ok(ZD_PTR_ERR(zd_pci_port_add(hb->bus, ZD_PCI_EXP_TYPE_DOWNSTREAM,
				      &(struct zd_pci_port_desc){ 0x12d8, 0x2404, -1, -1, 0 })) == -EINVAL &&
	   ZD_PTR_ERR(zd_pci_port_add(rp->subordinate, ZD_PCI_EXP_TYPE_UPSTREAM,
				      &(struct zd_pci_port_desc){ 0x12d8, 0x2404, -1, -1, 0 })) == -EBUSY,
	   "a downstream port on a root bus, a second device on a link: refused");
	{
		/* Intel chipsets put root ports at 00:1c.0 and 00:1c.4 */
		struct zd_pci_dev *rp4 = zd_pci_port_add(hb->bus, ZD_PCI_EXP_TYPE_ROOT_PORT,
			&(struct zd_pci_port_desc){ 0x8086, 0x1905, 0x1c, 0x10, 4 });

		ok(!ZD_IS_ERR(rp4) && !strcmp(rp4->name, "0005:00:1c.4") &&
		   rp4->subordinate->number == 0x10 && zd_pci_get_slot(pm, 5, 0, ZD_PCI_DEVFN(0x1c, 4)) == rp4,
		   "a second root port in slot 1c as function 4 (its own bus 10)");
	}
	ok(ZD_PTR_ERR(zd_pci_port_add(hb->bus, ZD_PCI_EXP_TYPE_ROOT_PORT,
				      &(struct zd_pci_port_desc){ 0x8086, 0x1905, 0x1c, -1, 4 })) == -EBUSY,
	   "the same slot and function again: -EBUSY");
	ok(ZD_PTR_ERR(zd_pci_port_add(hb->bus, ZD_PCI_EXP_TYPE_ROOT_PORT,
				      &(struct zd_pci_port_desc){ 0x8086, 0x1905, 0x1c, -1, 8 })) == -EINVAL &&
	   ZD_PTR_ERR(zd_pci_port_add(hb->bus, ZD_PCI_EXP_TYPE_ROOT_PORT,
				      &(struct zd_pci_port_desc){ 0x8086, 0x1905, -1, -1, 1 })) == -EINVAL &&
	   ZD_PTR_ERR(zd_pci_port_add(hb6->bus, ZD_PCI_EXP_TYPE_ROOT_PORT,
				      &(struct zd_pci_port_desc){ 0x8086, 0x1905, 32, -1, 0 })) == -EINVAL &&
	   !hb6->bus->devices,
	   "function 8, a function without a slot, slot 32 on an empty root bus (once accepted): "
	   "-EINVAL");
	e = tap_pci_ep(dp, 16 << 20, 0);
	ok(!ZD_IS_ERR(e) && !strcmp(e->name, "0005:0c:00.0"), "an endpoint below it: 0c:00.0");
	ok(zd_pci_get_slot(pm, 5, 0x0d, 0) == NULL && zd_pci_get_slot(pm, 5, 9, ZD_PCI_DEVFN(2, 0)) == NULL,
	   "... and nothing the refusals tried exists");
	zd_machine_destroy(pm);
}

int main(void)
{
	test_port_add();
	test_show();
	test_tree();
	test_topology();
	test_table();
	test_acs_v6x();
	test_acs_new();
	test_distance_many();
	zd_machine_destroy(m);
	return done_testing();
}
