/*
 * Internal to drivers/pci: the machine's PCI state. Settings are plain
 * words read atomically; the lock (the kernel's pci_bus_sem) orders bus
 * list changes against walks of them.
 */
#ifndef ZD_DRIVERS_PCI_H
#define ZD_DRIVERS_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <zonedev/machine.h>
#include <zonedev/pci.h>

struct zd_pci {
	pthread_rwlock_t lock;            /* host list and every bus's device list */
	struct zd_pci_host_bridge *hosts; /* in the order added */
	int era;                          /* enum zd_p2pdma_era */
	unsigned cpu_vendor, cpu_family;  /* what cpu_supports_p2pdma() reads */
	int whitelist_off;
	int p2pdma_off;                   /* CONFIG_PCI_P2PDMA=n: the stubs answer */
	uint64_t rand_state;              /* find_many's ties: seeded, deterministic */
	int nvme_instances;               /* drivers/nvme's ida: never reused here */
};

/* The machine's PCI state, created on first use; NULL without memory. */
struct zd_pci *zd_pci_state(struct zd_machine *m);

static inline struct zd_machine *zd_pci_dev_machine(const struct zd_pci_dev *d)
{
	return d->bus->host->m;
}

/* !IS_ENABLED(CONFIG_PCI_P2PDMA): include/linux/pci-p2pdma.h's stubs. */
static inline bool zd_pci_p2pdma_off(struct zd_machine *m)
{
	struct zd_pci *p = m->pci;

	return p && __atomic_load_n(&p->p2pdma_off, __ATOMIC_RELAXED);
}

/* p2pdma.c: the computation itself (no cache). */
enum zd_pci_p2pdma_map_type zd_pci_calc_map_type_and_dist(struct zd_pci_dev *provider,
							   struct zd_pci_dev *client, int *dist,
							   bool verbose);

/* p2pdma_provider.c: pci_alloc_p2pmem() with the reason of a failure:
 * -ENOMEM (the pool has no such run), -ENODEV (the pgmap is dying). */
int zd_pci_p2pmem_alloc_live(struct zd_pci_dev *pdev, size_t size, void **kaddr);

/* p2pdma_mmap.c: every user mapping of the provider's allocate file
 * zapped (release, before the pgmaps go). */
void zd_pci_p2pmem_zap_mappings(struct zd_pci_dev *pdev);

#endif
