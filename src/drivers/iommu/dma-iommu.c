/*
 * drivers/iommu/dma-iommu.c for PCI devices below a host bridge with an
 * IOMMU: a scatterlist is mapped into one IOVA range, each segment
 * starting on a fresh IOVA page at its own offset within the page (as
 * iommu_dma_map_sg lays them out), except P2PDMA segments with a
 * BUS_ADDR map type, which keep their bus address and the bus-address
 * mark (the switch routes them; the IOMMU never sees them). A
 * THRU_HOST_BRIDGE segment is translated like RAM to the BAR's CPU
 * address. IOVAs come from the 32-bit space first, then up to the
 * IOMMU's 48 bits, lowest free range first (the kernel's rbtree
 * allocator searches top-down below the limit: either way an IOVA is
 * not the CPU address). The mapping direction is the permission the
 * device gets (TO_DEVICE read, FROM_DEVICE write), so the engine's
 * access through a wrong-way or unmapped IOVA is an IOMMU fault.
 * Invariants: ranges never overlap and never include IOVA 0; a failed
 * map allocates nothing; lookups and changes serialise on the domain's
 * rwlock.
 */
#include "drivers/iommu/iommu.h"
#include "kernel/dma/direct.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <zonedev/memremap.h>
#include <zonedev/pci.h>

#define IOMMU_READ  1
#define IOMMU_WRITE 2
#define IOVA_32BIT_END (1ULL << 32)
#define IOVA_END       (1ULL << 48)

struct iova_seg {
	uint64_t iova, phys, span;       /* page-aligned IOVA and phys, bytes */
};

struct iova_range {
	uint64_t first, last;
	int prot;
	unsigned nseg;
	struct iova_seg seg[];
};

struct zd_iommu_domain {
	pthread_rwlock_t lock;
	size_t n, cap;
	struct iova_range **r;           /* sorted by first */
};

static struct zd_machine *dev_machine(struct zd_pci_dev *dev)
{
	return dev->bus->host->m;
}

static struct zd_iommu_domain *domain_get(struct zd_pci_dev *dev)
{
	struct zd_iommu_domain *d = __atomic_load_n(&dev->iommu_domain, __ATOMIC_ACQUIRE), *none = NULL;

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	pthread_rwlock_init(&d->lock, NULL);
	if (__atomic_compare_exchange_n(&dev->iommu_domain, &none, d, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return d;
	pthread_rwlock_destroy(&d->lock);
	free(d);
	return none;
}

void zd_iommu_domain_free(struct zd_pci_dev *dev)
{
	struct zd_iommu_domain *d = dev->iommu_domain;

	if (!d)
		return;
	if (d->n)
		zd_pr_warn(dev_machine(dev), "iommu: %s: %zu IOVA range(s) still mapped at removal",
			   dev->name, d->n);
	for (size_t i = 0; i < d->n; i++)
		free(d->r[i]);
	free(d->r);
	pthread_rwlock_destroy(&d->lock);
	free(d);
	dev->iommu_domain = NULL;
}

/* Index of the first range ending at or after iova. */
static size_t range_index(const struct zd_iommu_domain *d, uint64_t iova)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->r[mid]->last < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The lowest free [first, first + size) inside [lo, hi); caller holds the
 * write lock. */
static bool find_gap(const struct zd_iommu_domain *d, uint64_t size, uint64_t lo, uint64_t hi,
		     uint64_t *first)
{
	uint64_t at = lo;

	for (size_t i = range_index(d, lo); i <= d->n; i++) {
		uint64_t end = i < d->n && d->r[i]->first < hi ? d->r[i]->first : hi;

		if (end > at && end - at >= size) {
			*first = at;
			return true;
		}
		if (i == d->n || d->r[i]->first >= hi)
			return false;
		at = d->r[i]->last + 1;
	}
	return false;
}

static int insert_range(struct zd_iommu_domain *d, struct iova_range *r)
{
	size_t i;

	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;
		struct iova_range **nr = realloc(d->r, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		d->r = nr;
		d->cap = cap;
	}
	i = range_index(d, r->first);
	memmove(&d->r[i + 1], &d->r[i], (d->n - i) * sizeof(*d->r));
	d->r[i] = r;
	d->n++;
	return 0;
}

static int dir_prot(enum zd_dma_data_direction dir)
{
	return dir == ZD_DMA_TO_DEVICE ? IOMMU_READ :
	       dir == ZD_DMA_FROM_DEVICE ? IOMMU_WRITE : IOMMU_READ | IOMMU_WRITE;
}

int zd_iommu_dma_map_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents,
			enum zd_dma_data_direction dir)
{
	struct zd_machine *m = dev_machine(dev);
	struct zd_iommu_domain *d = domain_get(dev);
	struct zd_pci_p2pdma_map_state p2p = { 0 };
	uint64_t ps = m->arch.page_size, total = 0, base, at;
	struct iova_range *r;
	unsigned nseg = 0;

	if (!d)
		return -ENOMEM;
	r = calloc(1, sizeof(*r) + (size_t)nents * sizeof(r->seg[0]));
	if (!r)
		return -ENOMEM;
	for (int i = 0; i < nents; i++) {
		uint64_t phys;
		int rc = zd_dma_sg_prep(dev, &p2p, sg, i, &phys);

		if (rc < 0) {
			free(r);
			return rc;
		}
		if (!rc)                /* a bus address: no IOVA */
			continue;
		r->seg[nseg].phys = phys & ~(ps - 1);
		r->seg[nseg].span = ((phys & (ps - 1)) + sg[i].length + ps - 1) & ~(ps - 1);
		/* the IOVA is known once the range is: keep the in-page offset */
		sg[i].dma_address = phys & (ps - 1);
		total += r->seg[nseg++].span;
	}
	if (!nseg) {
		free(r);
		return nents;
	}
	pthread_rwlock_wrlock(&d->lock);
	if (!find_gap(d, total, ps, IOVA_32BIT_END, &base) &&
	    !find_gap(d, total, IOVA_32BIT_END, IOVA_END, &base)) {
		pthread_rwlock_unlock(&d->lock);
		zd_pr_err(m, "iommu: %s: no IOVA space for %llu bytes: -ENOMEM", dev->name,
			  (unsigned long long)total);
		free(r);
		return -ENOMEM;
	}
	r->first = base;
	r->last = base + total - 1;
	r->prot = dir_prot(dir);
	r->nseg = nseg;
	if (insert_range(d, r)) {
		pthread_rwlock_unlock(&d->lock);
		free(r);
		return -ENOMEM;
	}
	pthread_rwlock_unlock(&d->lock);
	at = base;
	for (int i = 0, k = 0; i < nents; i++) {
		if (sg[i].dma_flags & ZD_SG_DMA_BUS_ADDRESS)
			continue;
		r->seg[k].iova = at;
		sg[i].dma_address += at;
		at += r->seg[k++].span;
	}
	return nents;
}

void zd_iommu_dma_unmap_sg(struct zd_pci_dev *dev, struct zd_scatterlist *sg, int nents)
{
	struct zd_iommu_domain *d = __atomic_load_n(&dev->iommu_domain, __ATOMIC_ACQUIRE);
	uint64_t ps = dev_machine(dev)->arch.page_size, start;
	int i = 0;

	/* the range starts at the first translated segment's IOVA page */
	while (i < nents && (sg[i].dma_flags & ZD_SG_DMA_BUS_ADDRESS))
		i++;
	if (!d || i == nents || !sg[i].dma_length)
		return;
	start = sg[i].dma_address & ~(ps - 1);
	pthread_rwlock_wrlock(&d->lock);
	i = (int)range_index(d, start);
	if ((size_t)i < d->n && d->r[i]->first == start) {
		free(d->r[i]);
		memmove(&d->r[i], &d->r[i + 1], (d->n - (size_t)i - 1) * sizeof(*d->r));
		d->n--;
	} else {
		zd_pr_warn(dev_machine(dev), "iommu: %s: unmap of IOVA 0x%llx that is not mapped",
			   dev->name, (unsigned long long)start);
	}
	pthread_rwlock_unlock(&d->lock);
}

bool zd_iommu_translate(struct zd_pci_dev *dev, uint64_t iova, bool write, uint64_t *phys)
{
	struct zd_iommu_domain *d = __atomic_load_n(&dev->iommu_domain, __ATOMIC_ACQUIRE);
	const char *why = "no translation";
	bool ok = false;

	if (d) {
		size_t i;

		pthread_rwlock_rdlock(&d->lock);
		i = range_index(d, iova);
		if (i < d->n && d->r[i]->first <= iova) {
			const struct iova_range *r = d->r[i];

			bool allowed = r->prot & (write ? IOMMU_WRITE : IOMMU_READ);

			if (!allowed)
				why = write ? "the mapping is read-only for the device"
					    : "the mapping is write-only for the device";
			/* the segments tile the range, so one of them holds iova */
			for (unsigned k = 0; allowed && k < r->nseg; k++)
				if (iova >= r->seg[k].iova && iova - r->seg[k].iova < r->seg[k].span) {
					*phys = r->seg[k].phys + (iova - r->seg[k].iova);
					ok = true;
					break;
				}
		}
		pthread_rwlock_unlock(&d->lock);
	}
	if (!ok)
		zd_pr_err(dev_machine(dev), "iommu: %s: DMA %s fault at IOVA 0x%llx: %s", dev->name,
			  write ? "write" : "read", (unsigned long long)iova, why);
	return ok;
}
