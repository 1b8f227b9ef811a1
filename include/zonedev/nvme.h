/*
 * An NVMe-like PCI drive (drivers/nvme/host/pci.c, enough of it for
 * P2PDMA): one namespace of real bytes, a controller memory buffer that
 * becomes published p2pmem, and O_DIRECT reads and writes that pin the
 * user buffer with FOLL_PCI_P2PDMA (the queue supports P2PDMA, so the
 * block layer asks for it), map it for the drive and let the drive's
 * DMA engine move the bytes: into a peer's CMB by bus address, straight
 * through the switch.
 */
#ifndef ZONEDEV_NVME_H
#define ZONEDEV_NVME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_pci_dev;
struct zd_mm;
struct zd_nvme_ctrl;

struct zd_nvme_desc {
	uint64_t capacity;        /* namespace bytes, a multiple of the LBA size */
	unsigned lba_shift;       /* 9 (512-byte LBAs, 0 means this) or 12 */
	/* CMB bytes, a page multiple; 0: no CMB. In BAR cmb_bar (CMBLOC.BIR):
	 * at the end of BAR 0, whose start holds the registers, or from the
	 * start of BAR 2 or 4. With a CMB the drive reports WDS and RDS, so
	 * nvme_map_cmb() publishes it. */
	uint64_t cmb_size;
	int cmb_bar;
};

struct zd_nvme_stats {
	uint64_t reads, writes, bytes_read, bytes_written;
	uint64_t segments, bus_segments;  /* DMA segments, those by bus address (P2P) */
};

/* nvme_probe(): binds the driver to pdev, "nvmeN" in probe order; a CMB
 * goes through pci_p2pdma_add_resource() and is published. ERR_PTR:
 * -EBUSY (a driver is bound), -EINVAL (capacity, LBA size or CMB), -ENOMEM,
 * or add_resource's error. Unbound by machine teardown. */
struct zd_nvme_ctrl *zd_nvme_probe(struct zd_pci_dev *pdev, const struct zd_nvme_desc *d);
/* The controller bound to pdev, or NULL. */
struct zd_nvme_ctrl *zd_nvme_ctrl_of(struct zd_pci_dev *pdev);
const char *zd_nvme_disk_name(const struct zd_nvme_ctrl *ctrl);   /* "nvme0n1" */
uint64_t zd_nvme_capacity(const struct zd_nvme_ctrl *ctrl);
unsigned zd_nvme_lba_size(const struct zd_nvme_ctrl *ctrl);
void zd_nvme_get_stats(const struct zd_nvme_ctrl *ctrl, struct zd_nvme_stats *st);

/* pread/pwrite with O_DIRECT on the namespace's block device, by mm at
 * addr: bytes moved (short at the end of the namespace, 0 reading at or
 * past it), -EINVAL (addr, len or pos not LBA-aligned), -ENOSPC (a write
 * at or past the end), GUP's errors (-EFAULT), -EREMOTEIO (the buffer is
 * peer memory the drive cannot reach). */
ssize_t zd_nvme_direct_rw(struct zd_nvme_ctrl *ctrl, struct zd_mm *mm, uint64_t addr, size_t len,
			  uint64_t pos, bool write);

#ifdef __cplusplus
}
#endif

#endif
