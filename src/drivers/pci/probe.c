/*
 * The PCI topology (drivers/pci/probe.c, setup-bus.c in miniature): host
 * bridges with root buses and iomem windows, bridges with secondary buses,
 * endpoint functions with 64-bit prefetchable BARs. There is no config-space
 * enumeration: the machine (a test, the machine file) declares what exists,
 * and each add function does what enumeration plus resource assignment
 * would have left behind. Bridge windows are not modelled: BARs go straight
 * under the host bridge window, naturally aligned, lowest free address
 * first, which is where a bottom-up assignment puts them.
 * Invariants: see include/zonedev/pci.h. Every add validates everything
 * before it changes anything, and undoes its iomem claims on a late error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include "base/align.h"
#include "drivers/pci/pci.h"
#include "drivers/iommu/iommu.h"

struct zd_pci *zd_pci_state(struct zd_machine *m)
{
	struct zd_pci *p = __atomic_load_n(&m->pci, __ATOMIC_ACQUIRE);

	if (p)
		return p;
	pthread_mutex_lock(&m->device_lock);
	p = m->pci;
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (p) {
			pthread_rwlock_init(&p->lock, NULL);
			__atomic_store_n(&m->pci, p, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&m->device_lock);
	return p;
}

static void pci_set_name(struct zd_pci_dev *d)
{
	snprintf(d->name, sizeof(d->name), "%04x:%02x:%02x.%u", d->bus->host->domain & 0xffff,
		 d->bus->number & 0xff, ZD_PCI_SLOT(d->devfn), ZD_PCI_FUNC(d->devfn));
}

static struct zd_pci_bus *pci_bus_new(struct zd_pci_host_bridge *hb, struct zd_pci_bus *parent,
				      struct zd_pci_dev *self, unsigned nr)
{
	struct zd_pci_bus *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->host = hb;
	b->parent = parent;
	b->self = self;
	b->number = nr;
	return b;
}

/* Link d into its bus, keeping devfn order (pci_bus_add_device). */
static void pci_bus_link(struct zd_pci_bus *bus, struct zd_pci_dev *d)
{
	struct zd_pci_dev **pp = &bus->devices;

	while (*pp && (*pp)->devfn < d->devfn)
		pp = &(*pp)->bus_next;
	d->bus_next = *pp;
	*pp = d;
}

/* The first slot of bus with no device, or -1 when all 32 are taken. */
static int pci_free_slot(const struct zd_pci_bus *bus)
{
	unsigned used = 0;

	for (const struct zd_pci_dev *d = bus->devices; d; d = d->bus_next)
		used |= 1u << ZD_PCI_SLOT(d->devfn);
	for (int s = 0; s < 32; s++)
		if (!(used & (1u << s)))
			return s;
	return -1;
}

static struct zd_pci_host_bridge *hb_by_domain(struct zd_pci *p, int domain)
{
	for (struct zd_pci_host_bridge *h = p->hosts; h; h = h->next)
		if (h->domain == domain)
			return h;
	return NULL;
}

struct zd_pci_host_bridge *zd_pci_host_bridge_add(struct zd_machine *m,
						  const struct zd_pci_host_bridge_desc *d)
{
	struct zd_pci *p = zd_pci_state(m);
	struct zd_pci_host_bridge *hb = NULL;
	struct zd_pci_dev *hbdev = NULL;
	char name[32];
	int domain, rc;

	if (!p) {
		zd_pr_err(m, "pci: out of memory for the PCI state");
		return ZD_ERR_PTR(-ENOMEM);
	}
	if (!d->mem_size || d->mem_start + d->mem_size - 1 < d->mem_start ||
	    d->mem_offset > d->mem_start) {
		zd_pr_err(m, "pci: host bridge window [mem 0x%llx+0x%llx] offset 0x%llx: %s",
			  ULL(d->mem_start), ULL(d->mem_size), ULL(d->mem_offset),
			  d->mem_size ? "wraps or gives negative bus addresses" : "empty");
		return ZD_ERR_PTR(-EINVAL);
	}
	/* A window is MMIO: insert_resource would happily adopt RAM below it. */
	if (zd_region_intersects(m, d->mem_start, d->mem_size, ZD_IORESOURCE_SYSTEM_RAM,
				 ZD_IORES_DESC_NONE) != ZD_REGION_DISJOINT) {
		zd_pr_err(m, "pci: host bridge window [mem 0x%llx-0x%llx] overlaps System RAM",
			  ULL(d->mem_start), ULL(d->mem_start + d->mem_size - 1));
		return ZD_ERR_PTR(-EBUSY);
	}
	pthread_rwlock_wrlock(&p->lock);
	domain = d->domain;
	if (domain < 0)
		for (domain = 0; hb_by_domain(p, domain); domain++)
			;
	if (domain > 0xffff || hb_by_domain(p, domain)) {
		zd_pr_err(m, "pci: domain %d %s", domain, domain > 0xffff ? "out of range" : "already has a host bridge");
		rc = -EINVAL;
		goto fail;
	}
	rc = -ENOMEM;
	hb = calloc(1, sizeof(*hb));
	if (!hb)
		goto fail;
	hb->m = m;
	hb->domain = domain;
	hb->mem_offset = d->mem_offset;
	hb->iommu = d->iommu;
	hb->next_busnr = 1;
	hb->bus = pci_bus_new(hb, NULL, NULL, 0);
	if (!hb->bus)
		goto fail;
	snprintf(name, sizeof(name), "PCI Bus %04x:00", domain);
	hb->window = zd_resource_alloc(name, d->mem_start, d->mem_size, ZD_IORESOURCE_MEM,
				       ZD_IORES_DESC_NONE);
	if (!hb->window)
		goto fail;
	if (d->vendor) {
		hbdev = calloc(1, sizeof(*hbdev));
		if (!hbdev)
			goto fail;
		hbdev->bus = hb->bus;
		hbdev->devfn = ZD_PCI_DEVFN(0, 0);
		hbdev->vendor = d->vendor;
		hbdev->device = d->device;
		hbdev->pcie_type = ZD_PCI_EXP_TYPE_RC_END;
		pci_set_name(hbdev);
	}
	/* Windows nest under whatever firmware range already holds them. */
	rc = zd_insert_resource(m, NULL, hb->window);
	if (rc) {
		zd_pr_err(m, "pci_bus %04x:00: root bus resource [mem 0x%llx-0x%llx] cannot be claimed (%s)",
			  domain, ULL(d->mem_start), ULL(d->mem_start + d->mem_size - 1),
			  zd_errno_name(rc));
		goto fail;
	}
	if (hbdev)
		pci_bus_link(hb->bus, hbdev);
	{
		struct zd_pci_host_bridge **pp = &p->hosts;

		while (*pp)
			pp = &(*pp)->next;
		*pp = hb;
	}
	pthread_rwlock_unlock(&p->lock);
	zd_pr_info(m, "PCI host bridge to bus %04x:00", domain);
	if (d->mem_offset)
		zd_pr_info(m, "pci_bus %04x:00: root bus resource [mem 0x%llx-0x%llx window] (bus address [0x%llx-0x%llx])",
			   domain, ULL(d->mem_start), ULL(d->mem_start + d->mem_size - 1),
			   ULL(d->mem_start - d->mem_offset),
			   ULL(d->mem_start + d->mem_size - 1 - d->mem_offset));
	else
		zd_pr_info(m, "pci_bus %04x:00: root bus resource [mem 0x%llx-0x%llx window]",
			   domain, ULL(d->mem_start), ULL(d->mem_start + d->mem_size - 1));
	if (hbdev)
		zd_pr_info(m, "pci %s: [%04x:%04x] type 00 class 0x060000 PCIe Root Complex Integrated Endpoint",
			   hbdev->name, hbdev->vendor, hbdev->device);
	return hb;
fail:
	pthread_rwlock_unlock(&p->lock);
	free(hbdev);
	if (hb) {
		zd_resource_free(hb->window);
		free(hb->bus);
		free(hb);
	}
	return ZD_ERR_PTR(rc);
}

/*
 * A bridge of type on bus at devfn with a fresh secondary bus; p->lock held
 * for writing. The caller has checked devfn.
 */
static struct zd_pci_dev *pci_bridge_new(struct zd_machine *m, struct zd_pci_bus *bus,
					 unsigned devfn, uint16_t vendor, uint16_t device,
					 enum zd_pcie_type type, int secondary)
{
	struct zd_pci_host_bridge *hb = bus->host;
	struct zd_pci_dev *d;

	if (hb->next_busnr > 0xff) {
		zd_pr_err(m, "pci_bus %04x:%02x: no bus number left for a bridge (domain has 256)",
			  hb->domain, bus->number);
		return ZD_ERR_PTR(-ENOSPC);
	}
	/* numbers grow depth first as enumeration hands them out; firmware
	 * may leave gaps, never go back */
	if (secondary >= 0 && ((unsigned)secondary < hb->next_busnr || secondary > 0xff)) {
		zd_pr_err(m, "pci_bus %04x:%02x: secondary bus %02x for a bridge: the next free "
			  "number is %02x (numbers grow depth first, up to ff)", hb->domain,
			  bus->number, (unsigned)secondary, hb->next_busnr);
		return ZD_ERR_PTR(-EINVAL);
	}
	if (secondary >= 0)
		hb->next_busnr = (unsigned)secondary;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ZD_ERR_PTR(-ENOMEM);
	d->bus = bus;
	d->devfn = devfn;
	d->vendor = vendor;
	d->device = device;
	d->pcie_type = type;
	d->subordinate = pci_bus_new(hb, bus, d, hb->next_busnr);
	if (!d->subordinate) {
		free(d);
		return ZD_ERR_PTR(-ENOMEM);
	}
	hb->next_busnr++;
	pci_set_name(d);
	pci_bus_link(bus, d);
	zd_pr_info(m, "pci %s: [%04x:%04x] type 01 class 0x060400 PCIe %s", d->name, vendor, device,
		   type == ZD_PCI_EXP_TYPE_ROOT_PORT ? "Root Port" :
		   type == ZD_PCI_EXP_TYPE_UPSTREAM ? "Switch Upstream Port" :
						      "Switch Downstream Port");
	return d;
}

/* Where a new device goes below port: its secondary bus, which must have a
 * free slot and (for a PCIe link) be empty when the port is not a root bus. */
static struct zd_pci_bus *pci_below(struct zd_machine *m, struct zd_pci_dev *port, int *slot)
{
	if (!port->subordinate) {
		zd_pr_err(m, "pci %s: not a bridge: nothing can sit below it", port->name);
		return ZD_ERR_PTR(-EINVAL);
	}
	/* A root or downstream port has one link: one device (device 0) below. */
	if (port->subordinate->devices) {
		zd_pr_err(m, "pci %s: its link already has device %s", port->name,
			  port->subordinate->devices->name);
		return ZD_ERR_PTR(-EBUSY);
	}
	*slot = 0;
	return port->subordinate;
}

/* Where a port of type may go on bus, and at which slot: 0, or -errno
 * after saying why. p->lock held. */
static int port_slot(struct zd_machine *m, struct zd_pci_bus *bus, enum zd_pcie_type type,
		     int want, int fn, unsigned *devfn)
{
	const struct zd_pci_dev *self = bus->self;
	bool fits = type == ZD_PCI_EXP_TYPE_ROOT_PORT ? !bus->parent :
		    type == ZD_PCI_EXP_TYPE_UPSTREAM ?
			self && self->pcie_type != ZD_PCI_EXP_TYPE_UPSTREAM :
		    type == ZD_PCI_EXP_TYPE_DOWNSTREAM ?
			self && self->pcie_type == ZD_PCI_EXP_TYPE_UPSTREAM : false;

	if (!fits) {
		zd_pr_err(m, "pci_bus %04x:%02x: no place for a %s", bus->host->domain, bus->number,
			  type == ZD_PCI_EXP_TYPE_ROOT_PORT ? "root port (only on a root bus)" :
			  type == ZD_PCI_EXP_TYPE_UPSTREAM ? "switch upstream port (only below a root "
							     "or downstream port)" :
			  type == ZD_PCI_EXP_TYPE_DOWNSTREAM ? "switch downstream port (only on a "
							       "switch's internal bus)" :
			  "bridge of that type");
		return -EINVAL;
	}
	if (want > 31) {
		zd_pr_err(m, "pci_bus %04x:%02x: no slot %d (slots are 0 to 1f)",
			  bus->host->domain, bus->number, want);
		return -EINVAL;
	}
	if (fn < 0 || fn > 7 || (fn && want < 0)) {
		zd_pr_err(m, "pci_bus %04x:%02x: no function %d%s", bus->host->domain,
			  bus->number, fn, want < 0 ? " without a slot" : " (functions are 0 to 7)");
		return -EINVAL;
	}
	if (type == ZD_PCI_EXP_TYPE_UPSTREAM) {
		/* a link: device 0, alone */
		if (bus->devices || want > 0 || fn) {
			zd_pr_err(m, "pci_bus %04x:%02x: a link holds one device, at slot 0",
				  bus->host->domain, bus->number);
			return -EBUSY;
		}
		*devfn = ZD_PCI_DEVFN(0, 0);
		return 0;
	}
	if (want < 0) {
		int slot = pci_free_slot(bus);

		if (slot < 0) {
			zd_pr_err(m, "pci_bus %04x:%02x: all 32 slots are taken", bus->host->domain,
				  bus->number);
			return -ENOSPC;
		}
		*devfn = ZD_PCI_DEVFN((unsigned)slot, 0u);
		return 0;
	}
	/* Functions of one slot are separate ports (Intel's 00:1c.0 and
	 * 00:1c.4 root ports); each devfn holds one. */
	for (const struct zd_pci_dev *d = bus->devices; d; d = d->bus_next)
		if (d->devfn == ZD_PCI_DEVFN((unsigned)want, (unsigned)fn)) {
			zd_pr_err(m, "pci_bus %04x:%02x: %02x.%d is taken", bus->host->domain,
				  bus->number, (unsigned)want, fn);
			return -EBUSY;
		}
	*devfn = ZD_PCI_DEVFN((unsigned)want, (unsigned)fn);
	return 0;
}

struct zd_pci_dev *zd_pci_port_add(struct zd_pci_bus *bus, enum zd_pcie_type type,
				   const struct zd_pci_port_desc *d)
{
	struct zd_machine *m = bus->host->m;
	struct zd_pci *p = m->pci;
	struct zd_pci_dev *dev;
	unsigned devfn;
	int rc;

	pthread_rwlock_wrlock(&p->lock);
	rc = port_slot(m, bus, type, d->slot, d->fn, &devfn);
	dev = rc ? ZD_ERR_PTR(rc) : pci_bridge_new(m, bus, devfn, d->vendor, d->device, type,
						      d->secondary);
	pthread_rwlock_unlock(&p->lock);
	return dev;
}

struct zd_pci_dev *zd_pci_root_port_add(struct zd_pci_host_bridge *hb, uint16_t vendor,
					uint16_t device)
{
	struct zd_pci_port_desc d = { .vendor = vendor, .device = device, .slot = -1,
				      .secondary = -1 };

	return zd_pci_port_add(hb->bus, ZD_PCI_EXP_TYPE_ROOT_PORT, &d);
}

static void pci_dev_unlink_free(struct zd_pci_dev *d);

struct zd_pci_dev *zd_pci_switch_add(struct zd_pci_dev *port, uint16_t vendor, uint16_t device,
				     unsigned nr_down, struct zd_pci_dev **down)
{
	struct zd_machine *m = port->bus->host->m;
	struct zd_pci *p = m->pci;
	struct zd_pci_host_bridge *hb = port->bus->host;
	struct zd_pci_dev *up = NULL, *dsp;
	struct zd_pci_bus *bus;
	int slot;

	if (nr_down < 1 || nr_down > 32) {
		zd_pr_err(m, "pci %s: a switch needs 1..32 downstream ports, not %u", port->name,
			  nr_down);
		return ZD_ERR_PTR(-EINVAL);
	}
	pthread_rwlock_wrlock(&p->lock);
	bus = pci_below(m, port, &slot);
	if (ZD_IS_ERR(bus)) {
		up = (void *)bus;
		goto out;
	}
	if (hb->next_busnr + 1 + nr_down > 0x100) {
		zd_pr_err(m, "pci_bus %04x:%02x: a switch of %u ports needs %u bus numbers, %u left",
			  hb->domain, bus->number, nr_down, nr_down + 1, 0x100 - hb->next_busnr);
		up = ZD_ERR_PTR(-ENOSPC);
		goto out;
	}
	up = pci_bridge_new(m, bus, ZD_PCI_DEVFN(slot, 0), vendor, device, ZD_PCI_EXP_TYPE_UPSTREAM,
			    -1);
	if (ZD_IS_ERR(up))
		goto out;
	for (unsigned i = 0; i < nr_down; i++) {
		dsp = pci_bridge_new(m, up->subordinate, ZD_PCI_DEVFN(i, 0), vendor, device,
				     ZD_PCI_EXP_TYPE_DOWNSTREAM, -1);
		if (ZD_IS_ERR(dsp)) {
			/* Only memory can fail here: the bus numbers were checked. */
			pci_dev_unlink_free(up);
			up = dsp;
			goto out;
		}
		if (down)
			down[i] = dsp;
	}
out:
	pthread_rwlock_unlock(&p->lock);
	return up;
}

/* Place one 64-bit prefetchable BAR of d in the host window. */
static int pci_assign_bar(struct zd_machine *m, struct zd_pci_dev *d, int bar, uint64_t size)
{
	struct zd_pci_host_bridge *hb = d->bus->host;
	struct zd_resource *r = zd_alloc_free_mem_region(m, hb->window, size, size, d->name);

	if (ZD_IS_ERR(r)) {
		zd_pr_err(m, "pci %s: BAR %d [mem size 0x%llx 64bit pref]: can't assign; no space",
			  d->name, bar, ULL(size));
		return -ENOSPC;
	}
	r->flags = ZD_IORESOURCE_MEM | ZD_IORESOURCE_PREFETCH | ZD_IORESOURCE_MEM_64;
	d->resource[bar] = r;
	zd_pr_info(m, "pci %s: BAR %d [mem 0x%llx-0x%llx 64bit pref]: assigned", d->name, bar,
		   ULL(r->start), ULL(r->end));
	return 0;
}

struct zd_pci_dev *zd_pci_endpoint_add(struct zd_pci_dev *port,
				       const struct zd_pci_endpoint_desc *desc)
{
	struct zd_machine *m = port->bus->host->m;
	struct zd_pci *p = m->pci;
	unsigned nfn = desc->nr_functions ? desc->nr_functions : 1;
	struct zd_pci_dev *fn[8] = { 0 }, *ret;
	struct zd_pci_bus *bus;
	int slot, rc = 0;

	if (nfn > 8) {
		zd_pr_err(m, "pci %s: a device has at most 8 functions, not %u", port->name, nfn);
		return ZD_ERR_PTR(-EINVAL);
	}
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++) {
		uint64_t s = desc->bar_size[i];

		if (!s)
			continue;
		if ((i & 1) || i + 1 >= ZD_PCI_STD_NUM_BARS || desc->bar_size[i + 1] ||
		    s < 4096 || (s & (s - 1))) {
			zd_pr_err(m, "pci %s: BAR %d of 0x%llx: a 64-bit BAR takes an even BAR and the next one, and is a power of two of at least 4 KiB",
				  port->name, i, ULL(s));
			return ZD_ERR_PTR(-EINVAL);
		}
	}
	pthread_rwlock_wrlock(&p->lock);
	bus = pci_below(m, port, &slot);
	if (ZD_IS_ERR(bus)) {
		ret = (void *)bus;
		goto out;
	}
	for (unsigned f = 0; f < nfn && !rc; f++) {
		fn[f] = calloc(1, sizeof(*fn[f]));
		if (!fn[f]) {
			rc = -ENOMEM;
			break;
		}
		fn[f]->bus = bus;
		fn[f]->devfn = ZD_PCI_DEVFN(slot, f);
		fn[f]->vendor = desc->vendor;
		fn[f]->device = desc->device;
		fn[f]->pcie_type = ZD_PCI_EXP_TYPE_ENDPOINT;
		pci_set_name(fn[f]);
		zd_pr_info(m, "pci %s: [%04x:%04x] type 00 class 0x010802 PCIe Endpoint", fn[f]->name,
			   desc->vendor, desc->device);
		for (int i = 0; i < ZD_PCI_STD_NUM_BARS && !rc; i++)
			if (desc->bar_size[i])
				rc = pci_assign_bar(m, fn[f], i, desc->bar_size[i]);
	}
	if (rc) {
		for (unsigned f = 0; f < nfn && fn[f]; f++) {
			for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++)
				if (fn[f]->resource[i])
					zd_release_resource(m, fn[f]->resource[i]);
			free(fn[f]);
		}
		ret = ZD_ERR_PTR(rc);
		goto out;
	}
	for (unsigned f = 0; f < nfn; f++)
		pci_bus_link(bus, fn[f]);
	ret = fn[0];
out:
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

int zd_pci_set_acs(struct zd_pci_dev *dev, uint16_t cap, uint16_t ctrl, uint32_t egress)
{
	struct zd_machine *m = dev->bus->host->m;

	if (ctrl & ~cap) {
		zd_pr_err(m, "pci %s: ACS control 0x%04x sets bits the capability 0x%04x lacks",
			  dev->name, ctrl, cap);
		return -EINVAL;
	}
	if (egress && !(cap & ZD_PCI_ACS_EC)) {
		zd_pr_err(m, "pci %s: an egress vector needs the EC capability", dev->name);
		return -EINVAL;
	}
	__atomic_store_n(&dev->acs_egress, egress, __ATOMIC_RELAXED);
	__atomic_store_n(&dev->acs_cap, cap, __ATOMIC_RELAXED);
	__atomic_store_n(&dev->acs_ctrl, ctrl, __ATOMIC_RELAXED);
	return 0;
}

struct zd_pci_dev *zd_pci_upstream_bridge(const struct zd_pci_dev *dev)
{
	return dev->bus->parent ? dev->bus->self : NULL;
}

struct zd_pci_host_bridge *zd_pci_find_host_bridge(const struct zd_pci_bus *bus)
{
	return bus->host;
}

uint64_t zd_pci_bus_address(const struct zd_pci_dev *d, int bar)
{
	if (bar < 0 || bar >= ZD_PCI_STD_NUM_BARS || !d->resource[bar])
		return 0;
	return d->resource[bar]->start - d->bus->host->mem_offset;
}

static struct zd_pci_dev *bus_find(struct zd_pci_bus *b, unsigned nr, unsigned devfn)
{
	for (struct zd_pci_dev *d = b->devices; d; d = d->bus_next) {
		if (b->number == nr && d->devfn == devfn)
			return d;
		if (d->subordinate) {
			struct zd_pci_dev *r = bus_find(d->subordinate, nr, devfn);

			if (r)
				return r;
		}
	}
	return NULL;
}

struct zd_pci_dev *zd_pci_get_slot(struct zd_machine *m, int domain, unsigned bus,
				   unsigned devfn)
{
	struct zd_pci *p = __atomic_load_n(&m->pci, __ATOMIC_ACQUIRE);
	struct zd_pci_host_bridge *hb;
	struct zd_pci_dev *d = NULL;

	if (!p)
		return NULL;
	pthread_rwlock_rdlock(&p->lock);
	hb = hb_by_domain(p, domain);
	if (hb)
		d = bus_find(hb->bus, bus, devfn);
	pthread_rwlock_unlock(&p->lock);
	return d;
}

/* Free d and everything below it; its BARs leave iomem. */
static void pci_dev_free(struct zd_machine *m, struct zd_pci_dev *d)
{
	if (d->driver && d->driver->remove)
		d->driver->remove(d);
	zd_pci_p2pdma_release(d);
	zd_iommu_domain_free(d);
	if (d->subordinate) {
		while (d->subordinate->devices) {
			struct zd_pci_dev *c = d->subordinate->devices;

			d->subordinate->devices = c->bus_next;
			pci_dev_free(m, c);
		}
		free(d->subordinate);
	}
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++)
		if (d->resource[i])
			zd_release_resource(m, d->resource[i]);
	free(d);
}

static void pci_dev_unlink_free(struct zd_pci_dev *d)
{
	struct zd_pci_dev **pp = &d->bus->devices;

	while (*pp != d)
		pp = &(*pp)->bus_next;
	*pp = d->bus_next;
	d->bus->host->next_busnr = d->subordinate ? d->subordinate->number : d->bus->host->next_busnr;
	pci_dev_free(d->bus->host->m, d);
}

void zd_pci_fini(struct zd_machine *m)
{
	struct zd_pci *p = m->pci;

	if (!p)
		return;
	while (p->hosts) {
		struct zd_pci_host_bridge *hb = p->hosts;

		p->hosts = hb->next;
		while (hb->bus->devices) {
			struct zd_pci_dev *d = hb->bus->devices;

			hb->bus->devices = d->bus_next;
			pci_dev_free(m, d);
		}
		zd_release_resource(m, hb->window);
		free(hb->bus);
		free(hb);
	}
	pthread_rwlock_destroy(&p->lock);
	free(p);
	m->pci = NULL;
}

/* ---- the lspci -tv view ---- */

/* The highest bus number at or below bus (the bridge's subordinate). */
static unsigned bus_max(const struct zd_pci_bus *bus)
{
	unsigned max = bus->number;

	for (const struct zd_pci_dev *d = bus->devices; d; d = d->bus_next)
		if (d->subordinate) {
			unsigned s = bus_max(d->subordinate);

			max = s > max ? s : max;
		}
	return max;
}

/*
 * lspci builds each line in one buffer: the prefix drawn so far, then the
 * device. After a line is printed, every character of it but the vertical
 * connectors becomes a space, so the next line starts indented under its
 * parent with the open branches still drawn.
 */
#define TREE_LINE 512

static void tree_emit(FILE *f, char *line, char *p)
{
	*p = '\0';
	fprintf(f, "%s\n", line);
	for (char *q = line; q < p; q++)
		*q = (*q == '+' || *q == '|') ? '|' : ' ';
}

static void tree_bus(FILE *f, const struct zd_pci_bus *bus, char *line, char *p);

static void tree_dev(FILE *f, const struct zd_pci_dev *d, char *line, char *p)
{
	char *end = line + TREE_LINE - 48;

	if (p >= end) {
		tree_emit(f, line, p);
		return;
	}
	p += sprintf(p, "%02x.%u", ZD_PCI_SLOT(d->devfn), ZD_PCI_FUNC(d->devfn));
	if (d->subordinate) {
		unsigned sec = d->subordinate->number, sub = bus_max(d->subordinate);

		if (sec == sub)
			p += sprintf(p, "-[%02x]--", sec);
		else
			p += sprintf(p, "-[%02x-%02x]--", sec, sub);
		tree_bus(f, d->subordinate, line, p);
		return;
	}
	p += sprintf(p, "  Device [%04x:%04x]", d->vendor, d->device);
	tree_emit(f, line, p);
}

static void tree_bus(FILE *f, const struct zd_pci_bus *bus, char *line, char *p)
{
	const struct zd_pci_dev *d = bus->devices;

	if (!d) {
		tree_emit(f, line, p);
		return;
	}
	if (!d->bus_next) {
		*p++ = '-';
		*p++ = '-';
		tree_dev(f, d, line, p);
		return;
	}
	for (; d->bus_next; d = d->bus_next) {
		p[0] = '+';
		p[1] = '-';
		tree_dev(f, d, line, p + 2);
	}
	p[0] = '\\';
	p[1] = '-';
	tree_dev(f, d, line, p + 2);
}

void zd_pci_dump_tree(struct zd_machine *m, FILE *f)
{
	struct zd_pci *p = __atomic_load_n(&m->pci, __ATOMIC_ACQUIRE);
	struct zd_pci_host_bridge *hb;
	char line[TREE_LINE], *q;
	int n = 0;

	if (!p)
		return;
	pthread_rwlock_rdlock(&p->lock);
	for (hb = p->hosts; hb; hb = hb->next)
		n++;
	/* lspci lists the highest domain first; ours are in the order added,
	 * so walk them backwards by index. */
	for (int i = n - 1; i >= 0; i--) {
		hb = p->hosts;
		for (int k = 0; k < i; k++)
			hb = hb->next;
		q = line;
		if (n > 1) {
			*q++ = i == n - 1 ? '-' : ' ';
			*q++ = i ? '+' : '\\';
		}
		q += sprintf(q, "-[%04x:%02x]-", hb->domain, hb->bus->number);
		tree_bus(f, hb->bus, line, q);
	}
	pthread_rwlock_unlock(&p->lock);
}
