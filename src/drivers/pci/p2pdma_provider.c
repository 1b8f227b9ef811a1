/*
 * P2PDMA providers, the other half of drivers/pci/p2pdma.c (the distance
 * half is p2pdma.c): pci_p2pdma_add_resource() in the kernel's step
 * order, one pgmap and one gen_pool chunk per call (the chunk's phys is
 * the PCI bus address), allocations that each hold a pgmap reference,
 * the map-type cache, publish and find_many, the p2pmem sysfs words,
 * p2pdma state for DMA mapping, release under RCU.
 * Invariants: pdev->p2pdma is published once complete and cleared before
 * the grace period that precedes the pool's destruction; a pgmap outlives
 * every allocation from its chunk (memunmap waits for their references).
 * The BAR's bytes belong to the device, not to the pgmap: a memfd that the
 * pgmap maps for the CPU and the device maps for its peers' DMA, so a
 * lookup under RCU (the DMA engine) meets only fields fixed at
 * add_resource and memory that stays mapped until after the release's
 * grace period, while memunmap_pages tears the pgmap's own view down.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/err.h>
#include <zonedev/genalloc.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <zonedev/memremap.h>
#include <zonedev/scatterlist.h>
#include "base/rcu.h"
#include "base/xarray.h"
#include "drivers/pci/pci.h"

/* ---------- providers ---------- */

#define P2P_MAX_PGMAPS 8

/* struct pci_p2pdma_pagemap: the pgmap, its provider and the CPU-to-bus
 * delta of its BAR; then the device's view of the BAR range (bar_fd,
 * bar_view, phys, len: written before the pgmap is published, never
 * after). */
struct p2p_pagemap {
	struct zd_dev_pagemap pgmap;
	struct zd_pci_dev *provider;
	uint64_t bus_offset;
	int bar_fd;
	char *bar_view;
	uint64_t phys, len;
};

static void p2p_pagemap_free(struct p2p_pagemap *p2p)
{
	if (p2p->bar_view)
		munmap(p2p->bar_view, p2p->len);
	if (p2p->bar_fd >= 0)
		close(p2p->bar_fd);
	free(p2p);
}

/* struct pci_p2pdma: the pool and whether it is published; the pgmaps are
 * the devm actions of the kernel's add_resource, kept here since PCI
 * devices carry no devres list in the model. */
struct zd_pci_p2pdma {
	struct zd_gen_pool *pool;
	int published;                   /* atomic */
	pthread_mutex_t lock;            /* pgmaps */
	struct p2p_pagemap *pgmaps[P2P_MAX_PGMAPS];
	int nr_pgmaps;                   /* atomic: release-stored after pgmaps[n] */
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
	enum zd_pci_p2pdma_map_type t = zd_pci_calc_map_type_and_dist(provider, client, dist, verbose);
	struct zd_machine *m = zd_pci_dev_machine(provider);
	unsigned idx = zd_rcu_read_lock(&m->rcu);   /* the state outlives the section */
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(provider);

	if (p2pdma && !zd_pci_p2pdma_off(m)) {
		pthread_mutex_lock(&p2pdma->lock);
		zd_xa_store(&p2pdma->map_types, map_types_idx(client), (void *)(uintptr_t)(t + 1));
		pthread_mutex_unlock(&p2pdma->lock);
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	return t;
}

enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type(struct zd_pci_dev *provider,
						   struct zd_pci_dev *client)
{
	enum zd_pci_p2pdma_map_type t = ZD_PCI_P2PDMA_MAP_UNKNOWN;
	struct zd_machine *m = zd_pci_dev_machine(provider);
	struct zd_pci_p2pdma *p2pdma;
	uintptr_t v = 0;
	unsigned idx;
	int dist;

	if (!client)
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
	idx = zd_rcu_read_lock(&m->rcu);
	p2pdma = p2pdma_get(provider);
	if (p2pdma) {
		pthread_mutex_lock(&p2pdma->lock);
		v = (uintptr_t)zd_xa_load(&p2pdma->map_types, map_types_idx(client));
		pthread_mutex_unlock(&p2pdma->lock);
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	if (!p2pdma)
		return ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED;
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
	struct zd_machine *m = zd_pci_dev_machine(pdev);
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
	struct zd_machine *m = zd_pci_dev_machine(pdev);
	struct zd_resource *res = bar >= 0 && bar < ZD_PCI_STD_NUM_BARS ? pdev->resource[bar] : NULL;
	uint64_t len = zd_pci_resource_len(pdev, bar < 0 || bar >= ZD_PCI_STD_NUM_BARS ? 0 : bar);
	struct zd_pci_p2pdma *p2pdma;
	struct p2p_pagemap *p2p;
	const char *why = NULL;
	void *addr;
	int rc;

	if (zd_pci_p2pdma_off(m)) {
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
	p2p->phys = p2p->pgmap.range.start;
	p2p->len = size;
	/* sparse: a BAR costs host memory only where it is written */
	p2p->bar_fd = memfd_create("zonedev-bar", MFD_CLOEXEC);
	if (p2p->bar_fd < 0 || ftruncate(p2p->bar_fd, (off_t)size) ||
	    (p2p->bar_view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
				  p2p->bar_fd, 0)) == MAP_FAILED) {
		zd_pr_err(m, "pci %s: p2pdma add_resource: no host memory for BAR %d's 0x%zx "
			  "bytes: -ENOMEM", pdev->name, bar, size);
		p2p->bar_view = NULL;
		p2p_pagemap_free(p2p);
		return -ENOMEM;
	}
	p2p->pgmap.backing_fd = p2p->bar_fd;
	addr = zd_memremap_pages(m, &p2p->pgmap, 0);
	if (ZD_IS_ERR(addr)) {
		rc = (int)ZD_PTR_ERR(addr);
		p2p_pagemap_free(p2p);
		return rc;
	}
	pthread_mutex_lock(&p2pdma->lock);
	rc = p2pdma->nr_pgmaps < P2P_MAX_PGMAPS ? 0 : -ENOMEM;
	if (!rc)
		rc = zd_gen_pool_add_owner(p2pdma->pool, (uintptr_t)addr,
					   zd_pci_bus_address(pdev, bar) + offset, size, 0,
					   &p2p->pgmap.ref);
	if (!rc) {
		p2pdma->pgmaps[p2pdma->nr_pgmaps] = p2p;
		__atomic_store_n(&p2pdma->nr_pgmaps, p2pdma->nr_pgmaps + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&p2pdma->lock);
	if (rc) {
		zd_memunmap_pages(&p2p->pgmap);
		p2p_pagemap_free(p2p);
		return rc;
	}
	zd_pr_info(m, "pci %s: added peer-to-peer DMA memory %#llx-%#llx", pdev->name,
		   (unsigned long long)p2p->pgmap.range.start,
		   (unsigned long long)p2p->pgmap.range.end);
	return 0;
}

int zd_pci_p2pmem_alloc_live(struct zd_pci_dev *pdev, size_t size, void **kaddr)
{
	struct zd_machine *m = zd_pci_dev_machine(pdev);
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	uintptr_t ret = 0;
	int rc = -ENOMEM;
	void *ref;

	if (p2pdma)
		ret = zd_gen_pool_alloc_owner(p2pdma->pool, size, &ref);
	/* a dying pgmap gives no new allocation */
	if (ret && !zd_percpu_ref_tryget_live(ref)) {
		zd_gen_pool_free_owner(p2pdma->pool, ret, size, NULL);
		ret = 0;
		rc = -ENODEV;
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	*kaddr = (void *)ret;
	return ret ? 0 : rc;
}

void *zd_pci_alloc_p2pmem(struct zd_pci_dev *pdev, size_t size)
{
	void *kaddr;

	return zd_pci_p2pmem_alloc_live(pdev, size, &kaddr) ? NULL : kaddr;
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
	struct zd_machine *m = zd_pci_dev_machine(pdev);
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
	struct zd_machine *m = zd_pci_dev_machine(pdev);

	if (!sgl)
		return;
	/* sg_virt(): back to the allocation's address */
	zd_pci_free_p2pmem(pdev, (char *)zd_device_page_address(m, sgl->page) + sgl->offset,
			   sgl->length);
	free(sgl);
}

enum zd_pci_p2pdma_map_type zd_pci_p2pdma_state(struct zd_pci_p2pdma_map_state *state,
						struct zd_machine *m, struct zd_page *page,
						struct zd_pci_dev *client)
{
	struct p2p_pagemap *p2p;

	if (!zd_is_pci_p2pdma_page(m, page))
		return ZD_PCI_P2PDMA_MAP_NONE;
	p2p = (struct p2p_pagemap *)page->pgmap;
	if (state->pgmap != p2p) {
		state->pgmap = p2p;
		state->map = zd_pci_p2pdma_map_type(p2p->provider, client);
		state->bus_off = (int64_t)p2p->bus_offset;
	}
	return state->map;
}

/* The p2pmem bytes behind [addr, addr + len) of some provider below bus:
 * addr a bus address (bus true) or a CPU physical one. Caller holds the
 * topology's lock and an RCU read section (the states stay). */
static void *addr_to_virt_bus(struct zd_pci_bus *bus, uint64_t addr, size_t len, bool by_bus)
{
	for (struct zd_pci_dev *d = bus->devices; d; d = d->bus_next) {
		struct zd_pci_p2pdma *p2pdma = d->subordinate ? NULL : p2pdma_get(d);
		void *v = d->subordinate ? addr_to_virt_bus(d->subordinate, addr, len, by_bus) : NULL;

		if (v)
			return v;
		int n = p2pdma ? __atomic_load_n(&p2pdma->nr_pgmaps, __ATOMIC_ACQUIRE) : 0;

		for (int i = 0; i < n; i++) {
			struct p2p_pagemap *p2p = p2pdma->pgmaps[i];
			uint64_t start = p2p->phys + (by_bus ? p2p->bus_offset : 0);

			if (addr >= start && len <= p2p->len && addr - start <= p2p->len - len)
				return p2p->bar_view + (addr - start);
		}
	}
	return NULL;
}

/* A BAR answers while its provider state lives, dying pgmap or not (the
 * device's view outlives the pgmap's until the release's grace period). */
static void *addr_to_virt(struct zd_machine *m, uint64_t addr, size_t len, bool by_bus)
{
	struct zd_pci *p = m->pci;
	void *v = NULL;
	unsigned idx;

	if (!p)
		return NULL;
	idx = zd_rcu_read_lock(&m->rcu);
	pthread_rwlock_rdlock(&p->lock);
	for (struct zd_pci_host_bridge *hb = p->hosts; hb && !v; hb = hb->next)
		v = addr_to_virt_bus(hb->bus, addr, len, by_bus);
	pthread_rwlock_unlock(&p->lock);
	zd_rcu_read_unlock(&m->rcu, idx);
	return v;
}

void *zd_pci_p2pdma_bus_to_virt(struct zd_machine *m, uint64_t bus, size_t len)
{
	return addr_to_virt(m, bus, len, true);
}

void *zd_pci_p2pdma_phys_to_virt(struct zd_machine *m, uint64_t phys, size_t len)
{
	return addr_to_virt(m, phys, len, false);
}

void zd_pci_p2pmem_publish(struct zd_pci_dev *pdev, bool publish)
{
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);

	if (p2pdma)
		__atomic_store_n(&p2pdma->published, publish, __ATOMIC_RELAXED);
}

bool zd_pci_has_p2pmem(struct zd_pci_dev *pdev)
{
	struct zd_machine *m = zd_pci_dev_machine(pdev);
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	bool ret = p2pdma && __atomic_load_n(&p2pdma->published, __ATOMIC_RELAXED);

	zd_rcu_read_unlock(&m->rcu, idx);
	return ret;
}

struct providers {
	struct zd_pci_dev **d;
	size_t n, cap;
	bool nomem;
};

static void collect_providers(struct zd_pci_bus *bus, struct providers *pv)
{
	for (struct zd_pci_dev *d = bus->devices; d; d = d->bus_next) {
		if (d->subordinate) {
			collect_providers(d->subordinate, pv);
			continue;
		}
		if (!zd_pci_has_p2pmem(d))
			continue;
		if (pv->n == pv->cap) {
			size_t cap = pv->cap ? 2 * pv->cap : 64;
			struct zd_pci_dev **nd = realloc(pv->d, cap * sizeof(*nd));

			if (!nd) {
				pv->nomem = true;
				return;
			}
			pv->d = nd;
			pv->cap = cap;
		}
		pv->d[pv->n++] = d;
	}
}

/* The kernel keeps the ties in one page of pointers. */
#define FIND_MANY_TIES 512

struct zd_pci_dev *zd_pci_p2pmem_find_many(struct zd_machine *m, struct zd_pci_dev **clients,
					   int num_clients)
{
	struct zd_pci *p = zd_pci_state(m);
	struct zd_pci_dev *closest[FIND_MANY_TIES];
	struct providers pv = { 0 };
	int nclose = 0, best = -1;
	uint64_t z;

	if (!p || zd_pci_p2pdma_off(m))
		return NULL;
	pthread_rwlock_rdlock(&p->lock);
	for (struct zd_pci_host_bridge *hb = p->hosts; hb; hb = hb->next)
		collect_providers(hb->bus, &pv);
	pthread_rwlock_unlock(&p->lock);
	if (pv.nomem)
		zd_pr_warn(m, "pci: p2pmem_find_many: out of memory: only %zu providers considered",
			   pv.n);
	for (size_t i = 0; i < pv.n; i++) {
		int dist = zd_pci_p2pdma_distance_many(pv.d[i], clients, num_clients, false);

		if (dist < 0 || (best >= 0 && dist > best))
			continue;
		if (dist == best && nclose >= FIND_MANY_TIES)
			continue;
		if (dist < best || best < 0)
			nclose = 0;
		best = dist;
		closest[nclose++] = pv.d[i];
	}
	free(pv.d);
	if (!nclose)
		return NULL;
	/* get_random_u32_below(): a seeded splitmix64 keeps runs reproducible;
	 * the step is atomic so concurrent callers each get their own draw */
	z = __atomic_add_fetch(&p->rand_state, 0x9e3779b97f4a7c15ULL, __ATOMIC_RELAXED);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return closest[z % (uint64_t)nclose];
}

/* A reader of the group holds the state as kernfs's active reference
 * would: the release's grace period waits for it. */
int zd_pci_p2pmem_attr(struct zd_pci_dev *pdev, const char *name, char *buf, size_t len)
{
	struct zd_machine *m = zd_pci_dev_machine(pdev);
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	int rc = -EINVAL;

	if (!p2pdma)
		rc = -ENOENT;
	else if (!strcmp(name, "size"))
		rc = snprintf(buf, len, "%zu\n", zd_gen_pool_size(p2pdma->pool));
	else if (!strcmp(name, "available"))
		rc = snprintf(buf, len, "%zu\n", zd_gen_pool_avail(p2pdma->pool));
	else if (!strcmp(name, "published"))
		rc = snprintf(buf, len, "%d\n", __atomic_load_n(&p2pdma->published, __ATOMIC_RELAXED));
	zd_rcu_read_unlock(&m->rcu, idx);
	return rc;
}

void zd_pci_p2pdma_release(struct zd_pci_dev *pdev)
{
	struct zd_machine *m = zd_pci_dev_machine(pdev);
	struct zd_pci_p2pdma *p2pdma = p2pdma_get(pdev);
	size_t out;

	if (!p2pdma)
		return;
	/* the allocate attribute goes first: its mappings with it */
	zd_pci_p2pmem_zap_mappings(pdev);
	/* the devm actions run first in the kernel: each pgmap dies and
	 * waits for its references (every allocation freed) */
	for (int i = p2pdma->nr_pgmaps; i-- > 0; )
		zd_memunmap_pages(&p2pdma->pgmaps[i]->pgmap);
	__atomic_store_n(&p2pdma->published, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&pdev->p2pdma, NULL, __ATOMIC_RELEASE);
	zd_synchronize_rcu(&m->rcu);
	/* readers under RCU (an allocation's tryget on a dead pgmap's ref, a
	 * DMA lookup) may have held a pgmap until now */
	for (int i = p2pdma->nr_pgmaps; i-- > 0; )
		p2p_pagemap_free(p2pdma->pgmaps[i]);
	/* no reader is left: the map types cached while the pgmaps drained
	 * (mappings of pages still allocated) go with the state */
	zd_xa_destroy(&p2pdma->map_types);
	out = zd_gen_pool_destroy(p2pdma->pool);
	ZD_WARN(m, out, "pci %s: p2pmem pool destroyed with %zu bytes allocated", pdev->name, out);
	pthread_mutex_destroy(&p2pdma->lock);
	free(p2pdma);
}
