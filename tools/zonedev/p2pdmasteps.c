/*
 * Scenario steps of P2PDMA providers (issue 10): a PCI function's BAR
 * becomes p2pmem (pci_p2pdma_add_resource), is published, and is released
 * (unbind); a process maps it through p2pmem/allocate (mmap's p2pmem:);
 * an NVMe-like drive's CMB is p2pmem and O_DIRECT I/O targets it.
 * Each step prints the provider's p2pmem/ words (size, available,
 * published) as sysfs shows them.
 * Invariants: a device is named by its pci_name() ("0000:01:00.0"); the
 * steps change nothing when they fail.
 */
#include "cli.h"
#include "devsteps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/nvme.h>
#include <zonedev/pci.h>

struct zd_pci_dev *step_pci_dev(struct run *r, const char *name, struct step_result *res)
{
	unsigned domain, bus, slot, fn;
	struct zd_pci_dev *d = NULL;
	char tail;

	if (name && sscanf(name, "%x:%x:%x.%x%c", &domain, &bus, &slot, &fn, &tail) == 4 &&
	    slot < 32 && fn < 8)
		d = zd_pci_get_slot(r->m, (int)domain, bus, slot << 3 | fn);
	if (!d)
		snprintf(res->why, sizeof(res->why), "no PCI function %s on the machine "
			 "(report: pci lists them)", name ? name : "(none)");
	if (!d)
		res->err = -ENODEV;
	return d;
}

/* "size 4194304, available 4182016, published 0" of the p2pmem/ group. */
static void p2pmem_words(struct run *r, struct zd_pci_dev *d, struct step_result *res,
			 const char *what)
{
	char size[32] = "", avail[32] = "", pub[32] = "";

	if (zd_pci_p2pmem_attr(d, "size", size, sizeof(size)) < 0) {
		step_info(res, "%s %s: no p2pmem", d->name, what);
		return;
	}
	zd_pci_p2pmem_attr(d, "available", avail, sizeof(avail));
	zd_pci_p2pmem_attr(d, "published", pub, sizeof(pub));
	step_info(res, "%s %s: p2pmem size %" PRIu64 ", available %" PRIu64 ", published %d",
		  d->name, what, (uint64_t)strtoull(size, NULL, 10), (uint64_t)strtoull(avail, NULL, 10),
		  atoi(pub));
	jw_ku64(r->json, "size", strtoull(size, NULL, 10));
	jw_ku64(r->json, "available", strtoull(avail, NULL, 10));
	jw_kbool(r->json, "published", atoi(pub));
}

void exec_p2pdma_add_resource(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_pci_dev *d = step_pci_dev(r, st->file_name, res);

	if (!d)
		return;
	res->err = zd_pci_p2pdma_add_resource(d, (int)st->bar, (size_t)st->size, st->offset);
	if (!res->err && st->publish)
		zd_pci_p2pmem_publish(d, true);
	if (!res->err)
		p2pmem_words(r, d, res, "BAR added");
}

static int release_call(struct run *r, const struct step *st)
{
	zd_pci_p2pdma_release(step_pci_dev(r, st->file_name, &(struct step_result){ 0 }));
	return 0;
}

static void release_done(struct run *r, const struct step *st, struct step_result *res)
{
	p2pmem_words(r, step_pci_dev(r, st->file_name, res), res, "released");
}

/* Waits for every allocation and pin: in the foreground the scenario frees
 * them first; with as: the unbind blocks on its thread (a dying provider:
 * its pool refuses allocations) until they go, and wait joins it. */
void exec_p2pdma_release(struct run *r, const struct step *st, struct step_result *res)
{
	static const struct task_ops ops = {
		.call = release_call, .done = release_done,
		.blocked = "still has", .waits = "it waits for its pages' references",
	};
	struct zd_pci_dev *d = step_pci_dev(r, st->file_name, res);

	if (!d)
		return;
	if (zd_pci_p2pmem_attr(d, "size", (char[32]){ 0 }, 32) < 0) {
		res->err = -ENOENT;
		snprintf(res->why, sizeof(res->why), "%s has no p2pmem to release", d->name);
		return;
	}
	if (st->handle >= 0) {
		task_start(r, st, res, &ops);
		return;
	}
	release_call(r, st);
	release_done(r, st, res);
}

struct zd_file *step_p2pmem_open(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_pci_dev *d = step_pci_dev(r, st->p2pmem, res);
	struct zd_file *file;

	if (!d)
		return NULL;
	file = zd_pci_p2pmem_allocate_open(d);
	if (ZD_IS_ERR(file)) {
		res->err = (int)ZD_PTR_ERR(file);
		snprintf(res->why, sizeof(res->why), "%s has no p2pmem/allocate (no p2pmem yet)",
			 d->name);
		return NULL;
	}
	return file;
}

/* expect p2pmem: the provider's p2pmem/ words as sysfs shows them. */
void ex_p2pmem(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_pci_dev *d = step_pci_dev(r, st->p2pmem, res);
	char size[32], avail[32], pub[32];
	uint64_t sz, av;

	if (!d)
		return;
	if (zd_pci_p2pmem_attr(d, "size", size, sizeof(size)) < 0) {
		step_fail(res, "%s has no p2pmem/ group", d->name);
		return;
	}
	zd_pci_p2pmem_attr(d, "available", avail, sizeof(avail));
	zd_pci_p2pmem_attr(d, "published", pub, sizeof(pub));
	sz = strtoull(size, NULL, 10);
	av = strtoull(avail, NULL, 10);
	step_info(res, "%s p2pmem: size %" PRIu64 ", available %" PRIu64 ", published %d",
		  d->name, sz, av, atoi(pub));
	if (st->has_size && sz != st->size)
		step_fail(res, "%s p2pmem/size %" PRIu64 ", expected %" PRIu64, d->name, sz,
			  st->size);
	if (st->has_available && av != st->available)
		step_fail(res, "%s p2pmem/available %" PRIu64 ", expected %" PRIu64, d->name, av,
			  st->available);
	if (st->has_published && atoi(pub) != st->publish)
		step_fail(res, "%s p2pmem/published %d, expected %d", d->name, atoi(pub),
			  st->publish);
}

void exec_nvme_probe(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_pci_dev *d = step_pci_dev(r, st->file_name, res);
	struct zd_nvme_desc desc = { .capacity = st->size, .cmb_size = st->cmb, .cmb_bar = (int)st->bar };
	struct zd_nvme_ctrl *c;

	if (!d)
		return;
	if (st->lba != 512 && st->lba != 4096) {
		res->err = -EINVAL;
		snprintf(res->why, sizeof(res->why), "an LBA is 512 or 4096 bytes, not %" PRIu64,
			 st->lba);
		return;
	}
	desc.lba_shift = st->lba == 512 ? 9 : 12;
	c = zd_nvme_probe(d, &desc);
	if (ZD_IS_ERR(c)) {
		res->err = (int)ZD_PTR_ERR(c);
		return;
	}
	jw_kstr(r->json, "disk", zd_nvme_disk_name(c));
	jw_kbool(r->json, "iommu", d->bus->host->iommu);
	if (st->cmb) {
		char what[64];

		snprintf(what, sizeof(what), "%s%s, CMB", zd_nvme_disk_name(c),
			 d->bus->host->iommu ? " (behind an IOMMU)" : "");
		p2pmem_words(r, d, res, what);
	} else {
		step_info(res, "%s on %s: %" PRIu64 " bytes%s", zd_nvme_disk_name(c), d->name,
			  st->size, d->bus->host->iommu ? ", DMA through an IOMMU" : "");
	}
}

static void nvme_rw(struct run *r, const struct step *st, struct step_result *res, bool write)
{
	struct zd_pci_dev *d = step_pci_dev(r, st->file_name, res);
	struct zd_nvme_stats a, b;
	struct zd_nvme_ctrl *c;
	struct zd_mm *mm;
	uint64_t addr;
	ssize_t n;

	if (!d)
		return;
	c = zd_nvme_ctrl_of(d);
	if (!c) {
		res->err = -ENODEV;
		snprintf(res->why, sizeof(res->why), "no NVMe drive on %s (nvme_probe makes one)",
			 d->name);
		return;
	}
	mm = step_mm_addr(r, st, res, &addr);
	if (!mm)
		return;
	zd_nvme_get_stats(c, &a);
	n = zd_nvme_direct_rw(c, mm, addr, (size_t)st->size, st->offset, write);
	if (n < 0) {
		res->err = (int)n;
		return;
	}
	zd_nvme_get_stats(c, &b);
	step_info(res, "%s: %s %zd bytes at %" PRIu64 " %s pid %d 0x%" PRIx64 ": %" PRIu64
		  " DMA segments, %" PRIu64 " by bus address", zd_nvme_disk_name(c),
		  write ? "wrote" : "read", n, st->offset, write ? "from" : "into", mm->pid, addr,
		  b.segments - a.segments, b.bus_segments - a.bus_segments);
	jw_ku64(r->json, "bytes", (uint64_t)n);
	jw_ku64(r->json, "segments", b.segments - a.segments);
	jw_ku64(r->json, "bus_segments", b.bus_segments - a.bus_segments);
	if (st->has_bus && b.bus_segments - a.bus_segments != st->bus_segments)
		step_fail(res, "%" PRIu64 " segments went by bus address, expected %" PRIu64,
			  b.bus_segments - a.bus_segments, st->bus_segments);
}

void exec_nvme_read(struct run *r, const struct step *st, struct step_result *res)
{
	nvme_rw(r, st, res, false);
}

void exec_nvme_write(struct run *r, const struct step *st, struct step_result *res)
{
	nvme_rw(r, st, res, true);
}
