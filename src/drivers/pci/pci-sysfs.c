/*
 * The /sys/bus/pci/devices/BDF/ attributes that matter for P2PDMA, as
 * `grep .` over a function's vendor, device, resource, driver and p2pmem
 * files would print them, for every endpoint function: the IDs, the
 * resource file's lines for the six standard BARs (start, end and flags as
 * the kernel's resource_show() writes them), the bound driver (the driver
 * link's name) and the p2pmem group when the function has one.
 * Read-only; takes the topology's lock for reading.
 */
#include <stdio.h>
#include <string.h>
#include <zonedev/pci.h>
#include "drivers/pci/pci.h"

/* IORESOURCE_MEM | _PREFETCH | _MEM_64 | _SIZEALIGN and the BAR's own
 * low bits (64-bit, prefetchable): what a 64-bit prefetchable BAR shows. */
#define BAR64_PREF_FLAGS 0x14220cULL

static void show_dev(FILE *f, struct zd_pci_dev *d)
{
	static const char *const attrs[] = { "size", "available", "published" };
	char dir[64], v[32];

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", d->name);
	fprintf(f, "%s/vendor:0x%04x\n%s/device:0x%04x\n", dir, d->vendor, dir, d->device);
	for (int i = 0; i < ZD_PCI_STD_NUM_BARS; i++) {
		const struct zd_resource *r = d->resource[i];

		fprintf(f, "%s/resource:0x%016llx 0x%016llx 0x%016llx\n", dir,
			(unsigned long long)(r ? r->start : 0), (unsigned long long)(r ? r->end : 0),
			r ? BAR64_PREF_FLAGS : 0ULL);
	}
	if (d->driver)
		fprintf(f, "%s/driver:%s\n", dir, d->driver->name);
	for (int i = 0; i < 3; i++)
		if (zd_pci_p2pmem_attr(d, attrs[i], v, sizeof(v)) >= 0) {
			v[strcspn(v, "\n")] = '\0';
			fprintf(f, "%s/p2pmem/%s:%s\n", dir, attrs[i], v);
		}
}

static void show_bus(FILE *f, struct zd_pci_bus *bus)
{
	for (struct zd_pci_dev *d = bus->devices; d; d = d->bus_next)
		if (d->subordinate)
			show_bus(f, d->subordinate);
		else if (d->pcie_type == ZD_PCI_EXP_TYPE_ENDPOINT)
			show_dev(f, d);
}

void zd_pci_sysfs_show(struct zd_machine *m, FILE *f)
{
	struct zd_pci *p = __atomic_load_n(&m->pci, __ATOMIC_ACQUIRE);

	if (!p)
		return;
	pthread_rwlock_rdlock(&p->lock);
	for (struct zd_pci_host_bridge *hb = p->hosts; hb; hb = hb->next)
		show_bus(f, hb->bus);
	pthread_rwlock_unlock(&p->lock);
}
