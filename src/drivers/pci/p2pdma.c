/*
 * P2PDMA distance and map types (drivers/pci/p2pdma.c): how far a provider's
 * memory is from a client in PCI hops and whether peer traffic may go
 * straight through the switches (BUS_ADDR), must be routed through the host
 * bridge (THRU_HOST_BRIDGE), or is impossible (NOT_SUPPORTED).
 * The functions are pure over the topology and the machine's settings:
 * they only read config-space words (ACS control, egress vector) and log.
 * Providers: pci_p2pdma_add_resource() in the kernel's step order, one
 * pgmap and one gen_pool chunk per call (the chunk's phys is the bus
 * address), allocations that each hold a pgmap reference, publish and
 * find_many, the p2pmem sysfs words, release under RCU.
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

/* !IS_ENABLED(CONFIG_PCI_P2PDMA): include/linux/pci-p2pdma.h's stubs. */
static bool p2pdma_off(struct zd_machine *m)
{
	struct zd_pci *p = m->pci;

	return p && __atomic_load_n(&p->p2pdma_off, __ATOMIC_RELAXED);
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

static struct zd_machine *dev_machine(const struct zd_pci_dev *d)
{
	return d->bus->host->m;
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

static enum zd_pci_p2pdma_map_type calc_map_type_and_dist(struct zd_pci_dev *provider,
							  struct zd_pci_dev *client, int *dist,
							  bool verbose)
{
	struct zd_machine *m = dev_machine(client);
	int era = __atomic_load_n(&m->pci->era, __ATOMIC_RELAXED);
	struct zd_pci_dev *a, *bb, *common = NULL, *pside = NULL, *cside = NULL;
	int dist_a = 0, dist_b = 0;
	struct acs_list acs = { .len = 0 };
	bool acs_redirects = false;

	if (p2pdma_off(m)) {
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
	struct zd_machine *m = dev_machine(provider);
	bool not_supported = false;
	int total = 0, distance;

	if (num_clients <= 0 || p2pdma_off(m))
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

/* ---------- providers ---------- */

#define P2P_MAX_PGMAPS 8

/* struct pci_p2pdma_pagemap: the pgmap, its provider and the CPU-to-bus
 * delta of its BAR. */
struct p2p_pagemap {
	struct zd_dev_pagemap pgmap;
	struct zd_pci_dev *provider;
	uint64_t bus_offset;
};

/* struct pci_p2pdma: the pool and whether it is published; the pgmaps are
 * the devm actions of the kernel's add_resource, kept here since PCI
 * devices carry no devres list in the model. */
struct zd_pci_p2pdma {
	struct zd_gen_pool *pool;
	int published;                   /* atomic */
	pthread_mutex_t lock;            /* pgmaps */
	struct p2p_pagemap *pgmaps[P2P_MAX_PGMAPS];
	int nr_pgmaps;
	struct zd_xarray map_types;      /* lock; map_types_idx(client) -> type + 1 */
};

static struct zd_pci_p2pdma *p2pdma_get(struct zd_pci_dev *pdev)
{
	return __atomic_load_n(&pdev->p2pdma, __ATOMIC_ACQUIRE);
}

/* map_types_idx(): domain, bus and devfn of the client. */
static uint64_t map_types_idx(struct zd_pci_dev *client)
{
	return (uint64_t)zd_pci_find_host_bridge(client->bus)->domain << 16 |
	       client->bus->number << 8 | client->devfn;
}

/* The kernel caches every computed map type in the provider's state and
 * never drops it: a later ACS change is not seen until the provider goes. */
enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type_dist(struct zd_pci_dev *provider,
							struct zd_pci_dev *client, int *dist,
							bool verbose)
{
	enum zd_pci_p2pdma_map_type t = calc_map_type_and_dist(provider, client, dist, verbose);
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(provider);

	if (p2pdma && !p2pdma_off(dev_machine(provider))) {
		pthread_mutex_lock(&p2pdma->lock);
		zd_xa_store(&p2pdma->map_types, map_types_idx(client), (void *)(uintptr_t)(t + 1));
		pthread_mutex_unlock(&p2pdma->lock);
	}
	return t;
}

enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type(struct zd_pci_dev *provider,
						   struct zd_pci_dev *client)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(provider);
	enum zd_pci_p2pdma_map_type t = ZD_PCI_P2PDMA_MAP_UNKNOWN;
	int dist;

	if (!p2pdma || !client)
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
	pthread_mutex_lock(&p2pdma->lock);
	uintptr_t v = (uintptr_t)zd_xa_load(&p2pdma->map_types, map_types_idx(client));
	pthread_mutex_unlock(&p2pdma->lock);
	if (v)
		t = (enum zd_pci_p2pdma_map_type)(v - 1);
	if (t == ZD_PCI_P2PDMA_MAP_UNKNOWN)
		return zd_pci_p2pdma_map_type_dist(provider, client, &dist, true);
	return t;
}

/* p2pdma_folio_free(): a page a user mapping held goes back to the pool. */
static void p2pdma_folio_free(struct zd_page *folio)
{
	struct p2p_pagemap *p2p = (struct p2p_pagemap *)folio->pgmap;
	struct zd_machine *m = p2p->pgmap.machine;
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(p2p->provider);
	uint64_t idx = zd_page_to_pfn(m, folio) - zd_phys_pfn(&m->arch, p2p->pgmap.range.start);
	void *ref;

	if (!p2pdma)
		return;
	zd_gen_pool_free_owner(p2pdma->pool, (uintptr_t)p2p->pgmap.host_addr[0] +
			       (idx << m->arch.page_shift), m->arch.page_size, &ref);
	if (ref)
		zd_percpu_ref_put(ref);
}

static const struct zd_dev_pagemap_ops p2pdma_pgmap_ops = {
	.folio_free = p2pdma_folio_free,
};

/* pci_p2pdma_setup(): the state and its pool (sysfs group with it). */
static struct zd_pci_p2pdma *p2pdma_setup(struct zd_pci_dev *pdev)
{
	struct zd_machine *m = dev_machine(pdev);
	struct zd_pci_p2pdma *p2p = p2pdma_get(pdev);

	if (p2p)
		return p2p;
	p2p = calloc(1, sizeof(*p2p));
	if (!p2p || !(p2p->pool = zd_gen_pool_create((int)m->arch.page_shift, 0))) {
		free(p2p);
		return NULL;
	}
	pthread_mutex_init(&p2p->lock, NULL);
	zd_xa_init(&p2p->map_types, 32);
	__atomic_store_n(&pdev->p2pdma, p2p, __ATOMIC_RELEASE);
	return p2p;
}

int zd_pci_p2pdma_add_resource(struct zd_pci_dev *pdev, int bar, size_t size, uint64_t offset)
{
	struct zd_machine *m = dev_machine(pdev);
	struct zd_resource *res = bar >= 0 && bar < ZD_PCI_STD_NUM_BARS ? pdev->resource[bar] : NULL;
	uint64_t len = zd_pci_resource_len(pdev, bar < 0 || bar >= ZD_PCI_STD_NUM_BARS ? 0 : bar);
	struct zd_pci_p2pdma *p2pdma;
	struct p2p_pagemap *p2p;
	const char *why = NULL;
	void *addr;
	int rc;

	if (p2pdma_off(m)) {
		zd_pr_err(m, "pci %s: p2pdma add_resource: CONFIG_PCI_P2PDMA is not set: -EOPNOTSUPP",
			  pdev->name);
		return -EOPNOTSUPP;
	}
	if (!res || !(res->flags & ZD_IORESOURCE_MEM))
		why = "not a memory BAR";
	else if (offset >= len)
		why = "offset past the BAR";
	else if (!size)
		size = len - offset;
	if (!why && (size > len || offset > len - size))
		why = "size past the BAR";
	if (!why && ((offset | size) & (m->arch.page_size - 1)))
		why = "offset and size must be page multiples";   /* memremap's sections */
	if (why) {
		zd_pr_err(m, "pci %s: p2pdma add_resource BAR %d size 0x%zx offset 0x%llx: %s",
			  pdev->name, bar, size, (unsigned long long)offset, why);
		return -EINVAL;
	}
	p2pdma = p2pdma_setup(pdev);
	p2p = calloc(1, sizeof(*p2p));
	if (!p2pdma || !p2p) {
		free(p2p);
		return -ENOMEM;
	}
	zd_dev_pagemap_init(&p2p->pgmap);
	p2p->pgmap.range.start = res->start + offset;
	p2p->pgmap.range.end = res->start + offset + size - 1;
	p2p->pgmap.nr_range = 1;
	p2p->pgmap.type = ZD_MEMORY_DEVICE_PCI_P2PDMA;
	p2p->pgmap.ops = &p2pdma_pgmap_ops;
	p2p->provider = pdev;
	p2p->bus_offset = zd_pci_bus_address(pdev, bar) - zd_pci_resource_start(pdev, bar);
	addr = zd_memremap_pages(m, &p2p->pgmap, 0);
	if (ZD_IS_ERR(addr)) {
		rc = (int)ZD_PTR_ERR(addr);
		free(p2p);
		return rc;
	}
	pthread_mutex_lock(&p2pdma->lock);
	rc = p2pdma->nr_pgmaps < P2P_MAX_PGMAPS ? 0 : -ENOMEM;
	if (!rc)
		rc = zd_gen_pool_add_owner(p2pdma->pool, (uintptr_t)addr,
					   zd_pci_bus_address(pdev, bar) + offset, size, 0,
					   &p2p->pgmap.ref);
	if (!rc)
		p2pdma->pgmaps[p2pdma->nr_pgmaps++] = p2p;
	pthread_mutex_unlock(&p2pdma->lock);
	if (rc) {
		zd_memunmap_pages(&p2p->pgmap);
		free(p2p);
		return rc;
	}
	zd_pr_info(m, "pci %s: added peer-to-peer DMA memory %#llx-%#llx", pdev->name,
		   (unsigned long long)p2p->pgmap.range.start,
		   (unsigned long long)p2p->pgmap.range.end);
	return 0;
}

void *zd_pci_alloc_p2pmem(struct zd_pci_dev *pdev, size_t size)
{
	struct zd_machine *m = dev_machine(pdev);
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	uintptr_t ret = 0;
	void *ref;

	if (p2pdma) {
		ret = zd_gen_pool_alloc_owner(p2pdma->pool, size, &ref);
		/* a dying pgmap gives no new allocation */
		if (ret && !zd_percpu_ref_tryget_live(ref)) {
			zd_gen_pool_free_owner(p2pdma->pool, ret, size, NULL);
			ret = 0;
		}
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	return (void *)ret;
}

void zd_pci_free_p2pmem(struct zd_pci_dev *pdev, void *addr, size_t size)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	void *ref;

	if (!p2pdma || !addr)
		return;
	zd_gen_pool_free_owner(p2pdma->pool, (uintptr_t)addr, size, &ref);
	if (ref)
		zd_percpu_ref_put(ref);
}

uint64_t zd_pci_p2pmem_virt_to_bus(struct zd_pci_dev *pdev, void *addr)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	uint64_t bus;

	if (!addr || !p2pdma)
		return 0;
	bus = zd_gen_pool_virt_to_phys(p2pdma->pool, (uintptr_t)addr);
	return bus == (uint64_t)-1 ? 0 : bus;
}

struct zd_page *zd_pci_p2pmem_virt_to_page(struct zd_pci_dev *pdev, void *addr)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	struct zd_page *page = NULL;

	if (!p2pdma)
		return NULL;
	pthread_mutex_lock(&p2pdma->lock);
	for (int i = 0; i < p2pdma->nr_pgmaps && !page; i++) {
		struct zd_dev_pagemap *pg = &p2pdma->pgmaps[i]->pgmap;
		uintptr_t base = (uintptr_t)pg->host_addr[0], a = (uintptr_t)addr;
		struct zd_machine *m = pg->machine;

		if (a >= base && a - base < zd_range_len(&pg->range))
			page = zd_pfn_to_page(m, zd_phys_pfn(&m->arch, pg->range.start) +
					      ((a - base) >> m->arch.page_shift));
	}
	pthread_mutex_unlock(&p2pdma->lock);
	return page;
}

struct zd_scatterlist *zd_pci_p2pmem_alloc_sgl(struct zd_pci_dev *pdev, unsigned *nents,
					       uint32_t length)
{
	struct zd_machine *m = dev_machine(pdev);
	struct zd_scatterlist *sg = calloc(1, sizeof(*sg));
	void *addr;

	if (!sg)
		return NULL;
	addr = zd_pci_alloc_p2pmem(pdev, length);
	if (!addr) {
		free(sg);
		return NULL;
	}
	/* sg_set_buf(): the page and offset of the first byte */
	sg->page = zd_pci_p2pmem_virt_to_page(pdev, addr);
	sg->offset = (unsigned)((uintptr_t)addr & (m->arch.page_size - 1));
	sg->length = length;
	*nents = 1;
	return sg;
}

void zd_pci_p2pmem_free_sgl(struct zd_pci_dev *pdev, struct zd_scatterlist *sgl)
{
	struct zd_machine *m = dev_machine(pdev);

	if (!sgl)
		return;
	/* sg_virt(): back to the allocation's address */
	zd_pci_free_p2pmem(pdev, (char *)zd_device_page_address(m, sgl->page) + sgl->offset,
			   sgl->length);
	free(sgl);
}

void zd_pci_p2pmem_publish(struct zd_pci_dev *pdev, bool publish)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);

	if (p2pdma)
		__atomic_store_n(&p2pdma->published, publish, __ATOMIC_RELAXED);
}

bool zd_pci_has_p2pmem(struct zd_pci_dev *pdev)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);

	return p2pdma && __atomic_load_n(&p2pdma->published, __ATOMIC_RELAXED);
}

static void collect_providers(struct zd_pci_bus *bus, struct zd_pci_dev **out, int *n, int max)
{
	for (struct zd_pci_dev *d = bus->devices; d; d = d->bus_next) {
		if (d->subordinate)
			collect_providers(d->subordinate, out, n, max);
		else if (*n < max && zd_pci_has_p2pmem(d))
			out[(*n)++] = d;
	}
}

struct zd_pci_dev *zd_pci_p2pmem_find_many(struct zd_machine *m, struct zd_pci_dev **clients,
					   int num_clients)
{
	struct zd_pci *p = zd_pci_state(m);
	struct zd_pci_dev *found[64], *closest[64];
	int n = 0, nclose = 0, best = -1;

	if (!p || p2pdma_off(m))
		return NULL;
	pthread_rwlock_rdlock(&p->lock);
	for (struct zd_pci_host_bridge *hb = p->hosts; hb; hb = hb->next)
		collect_providers(hb->bus, found, &n, 64);
	pthread_rwlock_unlock(&p->lock);
	for (int i = 0; i < n; i++) {
		int dist = zd_pci_p2pdma_distance_many(found[i], clients, num_clients, false);

		if (dist < 0 || (best >= 0 && dist > best))
			continue;
		if (dist < best || best < 0)
			nclose = 0;
		best = dist;
		closest[nclose++] = found[i];
	}
	if (!nclose)
		return NULL;
	/* prandom_u32_max(): a seeded splitmix64 keeps runs reproducible */
	uint64_t z = (p->rand_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return closest[z % (uint64_t)nclose];
}

int zd_pci_p2pmem_attr(struct zd_pci_dev *pdev, const char *name, char *buf, size_t len)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);

	if (!p2pdma)
		return -ENOENT;
	if (!strcmp(name, "size"))
		return snprintf(buf, len, "%zu\n", zd_gen_pool_size(p2pdma->pool));
	if (!strcmp(name, "available"))
		return snprintf(buf, len, "%zu\n", zd_gen_pool_avail(p2pdma->pool));
	if (!strcmp(name, "published"))
		return snprintf(buf, len, "%d\n", zd_pci_has_p2pmem(pdev));
	return -EINVAL;
}

void zd_pci_p2pdma_release(struct zd_pci_dev *pdev)
{
	struct zd_machine *m = dev_machine(pdev);
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	size_t out;

	if (!p2pdma)
		return;
	zd_xa_destroy(&p2pdma->map_types);
	/* the devm actions run first in the kernel: each pgmap dies and
	 * waits for its references (every allocation freed) */
	for (int i = p2pdma->nr_pgmaps; i-- > 0; ) {
		zd_memunmap_pages(&p2pdma->pgmaps[i]->pgmap);
		free(p2pdma->pgmaps[i]);
	}
	__atomic_store_n(&p2pdma->published, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&pdev->p2pdma, NULL, __ATOMIC_RELEASE);
	zd_synchronize_rcu(&m->rcu);
	out = zd_gen_pool_destroy(p2pdma->pool);
	ZD_WARN(m, out, "pci %s: p2pmem pool destroyed with %zu bytes allocated", pdev->name, out);
	pthread_mutex_destroy(&p2pdma->lock);
	free(p2pdma);
}
