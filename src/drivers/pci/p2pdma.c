/*
 * P2PDMA distance and map types (drivers/pci/p2pdma.c): how far a provider's
 * memory is from a client in PCI hops and whether peer traffic may go
 * straight through the switches (BUS_ADDR), must be routed through the host
 * bridge (THRU_HOST_BRIDGE), or is impossible (NOT_SUPPORTED).
 * The functions are pure over the topology and the machine's settings:
 * they only read config-space words (ACS control, egress vector) and log.
 * The providers (the other half of the kernel's file) are in
 * p2pdma_provider.c.
 * Not modelled yet: the per-provider map-type cache, the old era's -2/0x1000
 * distances, ACPI HMAT ranking and the newest whitelist IDs beyond Google.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/err.h>
#include <zonedev/genalloc.h>
#include "base/rcu.h"
#include "base/xarray.h"
#include <zonedev/memremap.h>
#include <zonedev/scatterlist.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include "drivers/pci/pci.h"

void zd_pci_p2pdma_set_era(struct zd_machine *m, enum zd_p2pdma_era era)
{
	struct zd_pci *p = zd_pci_state(m);

	if (p)
		__atomic_store_n(&p->era, (int)era, __ATOMIC_RELAXED);
}

enum zd_p2pdma_era zd_pci_p2pdma_era(struct zd_machine *m)
{
	struct zd_pci *p = m->pci;

	return p ? (enum zd_p2pdma_era)__atomic_load_n(&p->era, __ATOMIC_RELAXED)
		 : ZD_P2PDMA_ERA_V6X;
}

void zd_pci_set_cpu(struct zd_machine *m, uint16_t vendor, unsigned family)
{
	struct zd_pci *p = zd_pci_state(m);

	if (!p)
		return;
	__atomic_store_n(&p->cpu_vendor, vendor, __ATOMIC_RELAXED);
	__atomic_store_n(&p->cpu_family, family, __ATOMIC_RELAXED);
}

void zd_pci_set_config_p2pdma(struct zd_machine *m, bool on)
{
	struct zd_pci *p = zd_pci_state(m);

	if (p)
		__atomic_store_n(&p->p2pdma_off, !on, __ATOMIC_RELAXED);
}


void zd_pci_p2pdma_set_whitelist(struct zd_machine *m, bool on)
{
	struct zd_pci *p = zd_pci_state(m);

	if (p)
		__atomic_store_n(&p->whitelist_off, !on, __ATOMIC_RELAXED);
}

const char *zd_pci_p2pdma_map_type_name(enum zd_pci_p2pdma_map_type t)
{
	switch (t) {
	case ZD_PCI_P2PDMA_MAP_UNKNOWN: return "UNKNOWN";
	case ZD_PCI_P2PDMA_MAP_NONE: return "NONE";
	case ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED: return "NOT_SUPPORTED";
	case ZD_PCI_P2PDMA_MAP_BUS_ADDR: return "BUS_ADDR";
	case ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE: return "THRU_HOST_BRIDGE";
	}
	return "?";
}


/* x86 only: AMD Zen (family 0x17) and later route P2P through the root
 * complex well, whatever the host bridge IDs say. */
static bool cpu_supports_p2pdma(struct zd_machine *m)
{
	struct zd_pci *p = m->pci;

	if (strncmp(m->arch.name, "x86", 3))
		return false;
	return __atomic_load_n(&p->cpu_vendor, __ATOMIC_RELAXED) == ZD_PCI_VENDOR_ID_AMD &&
	       __atomic_load_n(&p->cpu_family, __ATOMIC_RELAXED) >= 0x17;
}

#define REQ_SAME_HOST_BRIDGE 1u
#define ANY_DEVICE 0xffffu
static const struct {
	uint16_t vendor, device;
	unsigned flags;
	int era;   /* the first era listing it */
} p2pdma_whitelist[] = {
	/* Xeon E5 / Core i7 and Xeon E7 v3 / E5 v3: only within one host bridge */
	{ ZD_PCI_VENDOR_ID_INTEL, 0x3c00, REQ_SAME_HOST_BRIDGE, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x3c01, REQ_SAME_HOST_BRIDGE, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2f00, REQ_SAME_HOST_BRIDGE, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2f01, REQ_SAME_HOST_BRIDGE, ZD_P2PDMA_ERA_V6X },
	/* Skylake-E and later: also between host bridges */
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2030, 0, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2031, 0, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2032, 0, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2033, 0, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x2020, 0, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_INTEL, 0x09a2, 0, ZD_P2PDMA_ERA_V6X },
	{ ZD_PCI_VENDOR_ID_GOOGLE, ANY_DEVICE, 0, ZD_P2PDMA_ERA_NEW },
};

/* pci_host_bridge_dev(): the first device on the root bus, if it is 00.0
 * or a root port; NULL otherwise. */
static struct zd_pci_dev *pci_host_bridge_dev(struct zd_pci_host_bridge *host)
{
	struct zd_pci_dev *root = host->bus->devices;

	if (!root)
		return NULL;
	if (root->devfn == ZD_PCI_DEVFN(0, 0) || root->pcie_type == ZD_PCI_EXP_TYPE_ROOT_PORT)
		return root;
	return NULL;
}

static bool __host_bridge_whitelist(struct zd_pci_host_bridge *host, bool same_host_bridge,
				    bool warn)
{
	struct zd_machine *m = host->m;
	struct zd_pci_dev *root = pci_host_bridge_dev(host);
	int era = __atomic_load_n(&m->pci->era, __ATOMIC_RELAXED);

	if (!root || __atomic_load_n(&m->pci->whitelist_off, __ATOMIC_RELAXED))
		return false;
	for (size_t i = 0; i < sizeof(p2pdma_whitelist) / sizeof(p2pdma_whitelist[0]); i++) {
		if (p2pdma_whitelist[i].era > era || root->vendor != p2pdma_whitelist[i].vendor ||
		    (p2pdma_whitelist[i].device != ANY_DEVICE &&
		     root->device != p2pdma_whitelist[i].device))
			continue;
		/* The first match decides, as in the kernel's table walk. */
		return !(p2pdma_whitelist[i].flags & REQ_SAME_HOST_BRIDGE) || same_host_bridge;
	}
	if (warn)
		zd_pr_warn(m, "pci %s: Host bridge not in P2PDMA whitelist: %04x:%04x", root->name,
			   root->vendor, root->device);
	return false;
}

static bool host_bridge_whitelist(struct zd_pci_dev *a, struct zd_pci_dev *b, bool warn)
{
	struct zd_pci_host_bridge *host_a = zd_pci_find_host_bridge(a->bus);
	struct zd_pci_host_bridge *host_b = zd_pci_find_host_bridge(b->bus);

	if (host_a == host_b)
		return __host_bridge_whitelist(host_a, true, warn);
	return __host_bridge_whitelist(host_a, false, warn) &&
	       __host_bridge_whitelist(host_b, false, warn);
}

int zd_pci_acs_p2pdma_decision(uint16_t ctrl, bool has_target, int egress_bit)
{
	if (!has_target || !(ctrl & ZD_PCI_ACS_EC))
		return (ctrl & (ZD_PCI_ACS_RR | ZD_PCI_ACS_CR)) ? 1 : 0;
	if (egress_bit < 0)
		return -1;
	if (egress_bit)
		return (ctrl & ZD_PCI_ACS_RR) ? 1 : -1;
	return (ctrl & ZD_PCI_ACS_CR) ? 1 : 0;
}

/*
 * Does port d keep peer traffic from going straight across? v6.x: any of
 * RR, CR, EC in its ACS control word. New era: the per-port decision, with
 * a target only for the port where the traffic enters the common switch
 * (target_port: the device number of the peer-side port under the common
 * upstream device, -1 if none); a redirect and an unsupported port both
 * force the host-bridge route.
 */
static bool pci_bridge_has_acs_redir(struct zd_pci_dev *d, int era, int target_port)
{
	uint16_t cap = __atomic_load_n(&d->acs_cap, __ATOMIC_RELAXED);
	uint16_t ctrl = __atomic_load_n(&d->acs_ctrl, __ATOMIC_RELAXED);
	int bit = -1;

	if (!cap)
		return false;
	if (era == ZD_P2PDMA_ERA_V6X)
		return ctrl & (ZD_PCI_ACS_RR | ZD_PCI_ACS_CR | ZD_PCI_ACS_EC);
	if (target_port >= 0 && !__atomic_load_n(&d->acs_egress_unreadable, __ATOMIC_RELAXED))
		bit = (__atomic_load_n(&d->acs_egress, __ATOMIC_RELAXED) >> target_port) & 1;
	return zd_pci_acs_p2pdma_decision(ctrl, target_port >= 0, bit) != 0;
}

/* pci=disable_acs_redir= takes a ';'-separated list; the kernel builds it
 * in a 128-byte seq_buf, so long paths are cut short the same way. */
struct acs_list {
	char buf[128];
	size_t len;
	int cnt;
};

static void acs_list_add(struct acs_list *l, struct zd_pci_dev *d)
{
	int n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s;", d->name);

	l->cnt++;
	if (n > 0 && l->len + (size_t)n < sizeof(l->buf))
		l->len += (size_t)n;
	else
		l->len = sizeof(l->buf) - 1;
}

/* The child of common on x's path (x's ancestor right below it), or NULL. */
static struct zd_pci_dev *child_below(struct zd_pci_dev *x, struct zd_pci_dev *common)
{
	for (struct zd_pci_dev *c = x; c; c = zd_pci_upstream_bridge(c))
		if (zd_pci_upstream_bridge(c) == common)
			return c;
	return NULL;
}

enum zd_pci_p2pdma_map_type zd_pci_calc_map_type_and_dist(struct zd_pci_dev *provider,
							   struct zd_pci_dev *client, int *dist,
							   bool verbose)
{
	struct zd_machine *m = zd_pci_dev_machine(client);
	int era = __atomic_load_n(&m->pci->era, __ATOMIC_RELAXED);
	struct zd_pci_dev *a, *bb, *common = NULL, *pside = NULL, *cside = NULL;
	int dist_a = 0, dist_b = 0;
	struct acs_list acs = { .len = 0 };
	bool acs_redirects = false;

	if (zd_pci_p2pdma_off(m)) {
		*dist = -1;
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
	}

	/* The common upstream device: the first provider ancestor that is
	 * also a client ancestor, counting hops on both sides. */
	for (a = provider; a; a = zd_pci_upstream_bridge(a), dist_a++) {
		dist_b = 0;
		for (bb = client; bb; bb = zd_pci_upstream_bridge(bb), dist_b++)
			if (bb == a)
				break;
		if (bb) {
			common = a;
			break;
		}
	}
	*dist = dist_a + dist_b;
	if (common) {
		pside = child_below(provider, common);
		cside = child_below(client, common);
	}
	/* ACS on the provider side up to and including the common device
	 * (all of it when there is none), then the client side below it. */
	for (a = provider; a; a = zd_pci_upstream_bridge(a)) {
		int tgt = a == pside && cside ? (int)ZD_PCI_SLOT(cside->devfn) : -1;

		if (pci_bridge_has_acs_redir(a, era, tgt))
			acs_list_add(&acs, a);
		if (a == common)
			break;
	}
	if (!common)
		goto map_through_host_bridge;
	for (bb = client; bb != common; bb = zd_pci_upstream_bridge(bb)) {
		int tgt = bb == cside && pside ? (int)ZD_PCI_SLOT(pside->devfn) : -1;

		if (pci_bridge_has_acs_redir(bb, era, tgt))
			acs_list_add(&acs, bb);
	}
	if (!acs.cnt)
		return ZD_PCI_P2PDMA_MAP_BUS_ADDR;
	if (verbose) {
		if (acs.len)
			acs.buf[acs.len - 1] = '\0';   /* the last ';' */
		zd_pr_warn(m, "pci %s: ACS redirect is set between the client and provider (%s)",
			   client->name, provider->name);
		zd_pr_warn(m, "pci %s: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=%s",
			   client->name, acs.buf);
	}
	acs_redirects = true;

map_through_host_bridge:
	/* The kernel warns about the whitelist only on an ACS detour. */
	if (!cpu_supports_p2pdma(m) && !host_bridge_whitelist(provider, client, acs_redirects)) {
		if (verbose)
			zd_pr_warn(m, "pci %s: cannot be used for peer-to-peer DMA as the client and provider (%s) do not share an upstream bridge or whitelisted host bridge",
				   client->name, provider->name);
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
	}
	return ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;
}

int zd_pci_p2pdma_distance_many(struct zd_pci_dev *provider, struct zd_pci_dev **clients,
				int num_clients, bool verbose)
{
	struct zd_machine *m = zd_pci_dev_machine(provider);
	bool not_supported = false;
	int total = 0, distance;

	if (num_clients <= 0 || zd_pci_p2pdma_off(m))
		return -1;
	for (int i = 0; i < num_clients; i++) {
		if (!clients[i]) {
			if (verbose)
				zd_pr_warn(m, "client %d: cannot be used for peer-to-peer DMA as it is not a PCI device",
					   i);
			return -1;
		}
		if (zd_pci_p2pdma_map_type_dist(provider, clients[i], &distance, verbose) ==
		    ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED)
			not_supported = true;
		/* Verbose callers hear about every client before the answer. */
		if (not_supported && !verbose)
			break;
		total += distance;
	}
	return not_supported ? -1 : total;
}

static size_t collect_endpoints(struct zd_pci_bus *bus, struct zd_pci_dev **out, size_t n,
				size_t max)
{
	for (struct zd_pci_dev *d = bus->devices; d; d = d->bus_next) {
		if (d->subordinate)
			n = collect_endpoints(d->subordinate, out, n, max);
		else if (d->pcie_type == ZD_PCI_EXP_TYPE_ENDPOINT && n < max)
			out[n++] = d;
	}
	return n;
}

#define SHOW_MAX 256

void zd_pci_p2pdma_show(struct zd_machine *m, FILE *f)
{
	struct zd_pci *p = __atomic_load_n(&m->pci, __ATOMIC_ACQUIRE);
	struct zd_pci_dev *ep[SHOW_MAX];
	size_t n = 0;

	if (!p)
		return;
	pthread_rwlock_rdlock(&p->lock);
	for (struct zd_pci_host_bridge *hb = p->hosts; hb; hb = hb->next)
		n = collect_endpoints(hb->bus, ep, n, SHOW_MAX);
	pthread_rwlock_unlock(&p->lock);
	/* the providers' p2pmem/ groups first, as sysfs shows them */
	size_t shown = 0;

	for (size_t i = 0; i < n; i++) {
		char a[3][32];

		if (zd_pci_p2pmem_attr(ep[i], "size", a[0], sizeof(a[0])) < 0)
			continue;
		zd_pci_p2pmem_attr(ep[i], "available", a[1], sizeof(a[1]));
		zd_pci_p2pmem_attr(ep[i], "published", a[2], sizeof(a[2]));
		for (int k = 0; k < 3; k++)
			a[k][strcspn(a[k], "\n")] = '\0';
		if (!shown++)
			fprintf(f, "%-14s %12s %12s %9s\n", "p2pmem", "size", "available", "published");
		fprintf(f, "%-14s %12s %12s %9s\n", ep[i]->name, a[0], a[1], a[2]);
	}
	if (shown)
		fputc('\n', f);
	fprintf(f, "%-14s %-14s %8s  %s\n", "provider", "client", "distance", "map type");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int dist;
			enum zd_pci_p2pdma_map_type t;

			if (i == j)
				continue;
			t = zd_pci_p2pdma_map_type_dist(ep[i], ep[j], &dist, false);
			fprintf(f, "%-14s %-14s %8d  %s\n", ep[i]->name, ep[j]->name, dist,
				zd_pci_p2pdma_map_type_name(t));
		}
	if (n == SHOW_MAX)
		fprintf(f, "(only the first %d endpoint functions)\n", SHOW_MAX);
}

