/*
 * Scenario steps of P2PDMA providers (issue 10): a PCI function's BAR
 * becomes p2pmem (pci_p2pdma_add_resource), is published, and is released
 * (unbind); a process maps it through p2pmem/allocate (mmap's p2pmem:).
 * Each step prints the provider's p2pmem/ words (size, available,
 * published) as sysfs shows them.
 * Invariants: a device is named by its pci_name() ("0000:01:00.0"); the
 * steps change nothing when they fail.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void exec_p2pdma_release(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_pci_dev *d = step_pci_dev(r, st->file_name, res);

	if (!d)
		return;
	if (zd_pci_p2pmem_attr(d, "size", (char[32]){ 0 }, 32) < 0) {
		res->err = -ENOENT;
		snprintf(res->why, sizeof(res->why), "%s has no p2pmem to release", d->name);
		return;
	}
	/* waits for every allocation and pin: the scenario frees them first */
	zd_pci_p2pdma_release(d);
	p2pmem_words(r, d, res, "released");
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
