/*
 * drivers/nvme/host/pci.c in miniature: an NVMe drive on a PCI function
 * with one namespace whose media is host memory (sparse, so a large
 * drive costs what is written), an optional controller memory buffer
 * that nvme_map_cmb() turns into published p2pmem, and the O_DIRECT path
 * of a block device whose queue supports P2PDMA: the user buffer is
 * pinned with FOLL_PCI_P2PDMA (iov_iter_extract_pages with
 * ITER_ALLOW_P2PDMA), mapped for the drive with dma_map_sg, and the
 * drive's DMA engine moves the bytes between media and the mapped
 * segments. A buffer in a peer's CMB under the same switch is written by
 * bus address and never touches host RAM.
 * Invariants: a failed I/O changes no media byte it did not transfer and
 * leaves no pin and no mapping; ctrl lives until the device's remove().
 */
#include <zonedev/nvme.h>
#include <zonedev/dma-mapping.h>
#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <zonedev/mm.h>
#include <zonedev/pci.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "drivers/pci/pci.h"

#define NVME_MAX_PAGES 256          /* one request's pages: 1 MiB of 4K pages */

struct zd_nvme_ctrl {
	struct zd_pci_dev *pdev;
	int instance;
	char disk[16];
	uint64_t capacity;
	unsigned lba_shift;
	char *media;
	struct zd_nvme_stats st;    /* atomics */
};

static void nvme_remove(struct zd_pci_dev *pdev);

static const struct zd_pci_driver nvme_driver = { .name = "nvme", .remove = nvme_remove };

static struct zd_machine *ctrl_machine(const struct zd_nvme_ctrl *c)
{
	return c->pdev->bus->host->m;
}

struct zd_nvme_ctrl *zd_nvme_probe(struct zd_pci_dev *pdev, const struct zd_nvme_desc *d)
{
	struct zd_machine *m = pdev->bus->host->m;
	unsigned shift = d->lba_shift ? d->lba_shift : 9;
	int bir = d->cmb_bar;
	uint64_t bar = bir >= 0 && bir < ZD_PCI_STD_NUM_BARS ? zd_pci_resource_len(pdev, bir) : 0;
	struct zd_nvme_ctrl *c;
	int rc;

	if (pdev->driver) {
		zd_pr_err(m, "nvme: %s is bound to %s already: -EBUSY", pdev->name, pdev->driver->name);
		return ZD_ERR_PTR(-EBUSY);
	}
	if ((shift != 9 && shift != 12) || !d->capacity || d->capacity & ((1ULL << shift) - 1) ||
	    d->capacity > (1ULL << 44)) {
		zd_pr_err(m, "nvme: %s: a namespace of %llu bytes with %u-byte LBAs: -EINVAL "
			  "(a non-zero LBA multiple up to 16 TiB; LBAs of 512 or 4096 bytes)",
			  pdev->name, (unsigned long long)d->capacity, 1u << shift);
		return ZD_ERR_PTR(-EINVAL);
	}
	if (d->cmb_size && (bir < 0 || bir > 4 || (bir & 1) || !bar ||
			    (bir ? d->cmb_size > bar : d->cmb_size >= bar))) {
		zd_pr_err(m, "nvme: %s: a %llu-byte CMB does not fit BAR %d (%llu bytes%s): -EINVAL",
			  pdev->name, (unsigned long long)d->cmb_size, bir, (unsigned long long)bar,
			  bir ? "" : ", the registers at its start");
		return ZD_ERR_PTR(-EINVAL);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return ZD_ERR_PTR(-ENOMEM);
	c->media = mmap(NULL, d->capacity, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->media == MAP_FAILED) {
		free(c);
		zd_pr_err(m, "nvme: %s: no host address space for a %llu-byte namespace: -ENOMEM",
			  pdev->name, (unsigned long long)d->capacity);
		return ZD_ERR_PTR(-ENOMEM);
	}
	c->pdev = pdev;
	c->capacity = d->capacity;
	c->lba_shift = shift;
	c->instance = __atomic_fetch_add(&m->pci->nvme_instances, 1, __ATOMIC_RELAXED);
	snprintf(c->disk, sizeof(c->disk), "nvme%dn1", c->instance);
	zd_pr_info(m, "nvme nvme%d: pci function %s", c->instance, pdev->name);
	if (d->cmb_size) {
		/* nvme_map_cmb(): the CMB's BAR range becomes p2pmem; WDS and
		 * RDS both set, so it is published for others to find */
		rc = zd_pci_p2pdma_add_resource(pdev, bir, d->cmb_size, bir ? 0 : bar - d->cmb_size);
		if (rc) {
			zd_pr_warn(m, "nvme nvme%d: failed to register the CMB", c->instance);
			munmap(c->media, c->capacity);
			free(c);
			return ZD_ERR_PTR(rc);
		}
		zd_pci_p2pmem_publish(pdev, true);
	}
	pdev->driver_data = c;
	pdev->driver = &nvme_driver;
	zd_pr_info(m, "%s: %llu %u-byte logical blocks", c->disk,
		   (unsigned long long)(c->capacity >> shift), 1u << shift);
	return c;
}

static void nvme_remove(struct zd_pci_dev *pdev)
{
	struct zd_nvme_ctrl *c = pdev->driver_data;

	zd_pci_p2pdma_release(pdev);
	munmap(c->media, c->capacity);
	free(c);
	pdev->driver = NULL;
	pdev->driver_data = NULL;
}

struct zd_nvme_ctrl *zd_nvme_ctrl_of(struct zd_pci_dev *pdev)
{
	return pdev->driver == &nvme_driver ? pdev->driver_data : NULL;
}

const char *zd_nvme_disk_name(const struct zd_nvme_ctrl *c) { return c->disk; }
uint64_t zd_nvme_capacity(const struct zd_nvme_ctrl *c) { return c->capacity; }
unsigned zd_nvme_lba_size(const struct zd_nvme_ctrl *c) { return 1u << c->lba_shift; }

void zd_nvme_get_stats(const struct zd_nvme_ctrl *c, struct zd_nvme_stats *st)
{
	st->reads = __atomic_load_n(&c->st.reads, __ATOMIC_RELAXED);
	st->writes = __atomic_load_n(&c->st.writes, __ATOMIC_RELAXED);
	st->bytes_read = __atomic_load_n(&c->st.bytes_read, __ATOMIC_RELAXED);
	st->bytes_written = __atomic_load_n(&c->st.bytes_written, __ATOMIC_RELAXED);
	st->segments = __atomic_load_n(&c->st.segments, __ATOMIC_RELAXED);
	st->bus_segments = __atomic_load_n(&c->st.bus_segments, __ATOMIC_RELAXED);
}

/* One request: at most NVME_MAX_PAGES pages from addr (page aligned
 * pieces of the user buffer), len bytes at media offset pos. */
static int nvme_request(struct zd_nvme_ctrl *c, struct zd_mm *mm, uint64_t addr, size_t len,
			uint64_t pos, bool write)
{
	struct zd_machine *m = ctrl_machine(c);
	uint64_t ps = m->arch.page_size, first = addr & ~(ps - 1);
	unsigned long nr = (unsigned long)((addr + len - first + ps - 1) / ps);
	struct zd_page *pages[NVME_MAX_PAGES];
	struct zd_scatterlist sg[NVME_MAX_PAGES];
	enum zd_dma_data_direction dir = write ? ZD_DMA_TO_DEVICE : ZD_DMA_FROM_DEVICE;
	size_t done = 0;
	long got;
	int rc = 0;

	/* a read stores into the buffer: FOLL_WRITE */
	got = zd_pin_user_pages_unlocked(mm, first, nr, (write ? 0 : ZD_FOLL_WRITE) |
					 ZD_FOLL_PCI_P2PDMA, pages);
	if (got < 0)
		return (int)got;
	if ((unsigned long)got < nr) {
		zd_unpin_user_pages(m, pages, (unsigned long)got);
		return -EFAULT;
	}
	for (unsigned long i = 0; i < nr; i++) {
		uint64_t off = i ? 0 : addr - first, n = ps - off;

		if (n > len - done)
			n = len - done;
		sg[i] = (struct zd_scatterlist){ .page = pages[i], .offset = (unsigned)off,
						 .length = (unsigned)n };
		done += n;
	}
	rc = zd_dma_map_sg(c->pdev, sg, (int)nr, dir);
	if (rc < 0) {
		zd_pr_err(m, "%s: %s of %zu bytes at %llu: the buffer cannot be mapped for DMA: %s",
			  c->disk, write ? "write" : "read", len, (unsigned long long)pos,
			  rc == -EREMOTEIO ? "-EREMOTEIO (peer memory out of reach)" : "-ENOMEM");
		zd_unpin_user_pages(m, pages, nr);
		return rc;
	}
	rc = 0;
	done = 0;
	for (unsigned long i = 0; i < nr && !rc; i++) {
		rc = zd_dma_engine_xfer(c->pdev, &sg[i], 0, c->media + pos + done, sg[i].length, !write);
		done += sg[i].length;
		__atomic_add_fetch(&c->st.bus_segments, !!(sg[i].dma_flags & ZD_SG_DMA_BUS_ADDRESS),
				   __ATOMIC_RELAXED);
	}
	__atomic_add_fetch(&c->st.segments, nr, __ATOMIC_RELAXED);
	zd_dma_unmap_sg(c->pdev, sg, (int)nr, dir);
	if (write)
		zd_unpin_user_pages(m, pages, nr);
	else
		zd_unpin_user_pages_dirty_lock(m, pages, nr, true);
	return rc;
}

ssize_t zd_nvme_direct_rw(struct zd_nvme_ctrl *c, struct zd_mm *mm, uint64_t addr, size_t len,
			  uint64_t pos, bool write)
{
	struct zd_machine *m = ctrl_machine(c);
	uint64_t lba = (1ULL << c->lba_shift) - 1, ps = m->arch.page_size,
		 chunk = NVME_MAX_PAGES * ps;
	size_t done = 0;

	if ((addr | len | pos) & lba) {
		zd_pr_err(m, "%s: O_DIRECT %s of %zu bytes at %llu from 0x%llx: not aligned to the "
			  "%llu-byte logical block: -EINVAL", c->disk, write ? "write" : "read", len,
			  (unsigned long long)pos, (unsigned long long)addr, (unsigned long long)lba + 1);
		return -EINVAL;
	}
	if (pos >= c->capacity) {
		if (write)
			zd_pr_err(m, "%s: write at %llu, the end is %llu: -ENOSPC", c->disk,
				  (unsigned long long)pos, (unsigned long long)c->capacity);
		return write ? -ENOSPC : 0;
	}
	if (len > c->capacity - pos)
		len = (size_t)(c->capacity - pos);
	/* a request ends on a page boundary of the buffer, so every request
	 * but the last covers whole pinned pages */
	while (done < len) {
		uint64_t a = addr + done, n = chunk - (a & (ps - 1));
		int rc;

		if (n > len - done)
			n = len - done;
		rc = nvme_request(c, mm, a, (size_t)n, pos + done, write);
		if (rc)
			return done ? (ssize_t)done : rc;
		done += n;
	}
	__atomic_add_fetch(write ? &c->st.writes : &c->st.reads, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(write ? &c->st.bytes_written : &c->st.bytes_read, done, __ATOMIC_RELAXED);
	return (ssize_t)done;
}
