/*
 * p2pmem in user space (drivers/pci/p2pdma.c's p2pmem_alloc_mmap, spec
 * devices.md 1.8): the provider's p2pmem/allocate sysfs file, whose every
 * mmap is a fresh allocation of exactly the VMA's length, its pages put in
 * one by one with vm_insert_page, so GUP finds struct pages (and its
 * FOLL_PCI_P2PDMA gate applies). Release zaps every such mapping before
 * the pgmaps go (removing the attribute: unmap_mapping_range).
 * Invariants: an inserted page holds one page reference (its PTE's) and
 * one pgmap reference, both given back by the last put (folio_free
 * returns the page to the pool); a failed insert frees the rest of the
 * allocation and its reference, so unbind never waits for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/mm.h>
#include "drivers/pci/pci.h"
#include "mm/internal.h"

static int p2pmem_alloc_mmap(struct zd_file *file, struct zd_vm_area_struct *vma);

static void p2pmem_release(struct zd_file *file)
{
	free(file);
}

static const struct zd_file_operations p2pmem_alloc_fops = {
	.mmap = p2pmem_alloc_mmap,
	.release = p2pmem_release,
};

static int p2pmem_alloc_mmap(struct zd_file *file, struct zd_vm_area_struct *vma)
{
	struct zd_pci_dev *pdev = file->private_data;
	struct zd_machine *m = zd_pci_dev_machine(pdev);
	uint64_t ps = m->arch.page_size, len = vma->vm_end - vma->vm_start;
	struct zd_dev_pagemap *pgmap;
	char *kaddr;
	int rc;

	if (!(vma->vm_flags & ZD_VM_MAYSHARE)) {
		zd_pr_info(m, "pci %s: p2pmem: %s: attempted private mapping", pdev->name,
			   file->path);
		return -EINVAL;
	}
	if (vma->vm_pgoff) {
		zd_pr_info(m, "pci %s: p2pmem: %s: mapping at offset 0x%llx (only 0)", pdev->name,
			   file->path, (unsigned long long)(vma->vm_pgoff * ps));
		return -EINVAL;
	}
	if (zd_pci_p2pmem_attr(pdev, "size", (char[32]){ 0 }, 32) < 0)
		return -ENODEV;   /* no p2pdma state (released, or never set up) */
	/* one allocation of the VMA's length, holding a pgmap reference (a
	 * dying pgmap gives none: -ENODEV, as the kernel's tryget fails) */
	rc = zd_pci_p2pmem_alloc_live(pdev, len, (void **)&kaddr);
	if (rc) {
		zd_pr_info(m, "pci %s: p2pmem: %s for %s: %s", pdev->name,
			   rc == -ENODEV ? "the provider is going away" : "no room in the pool",
			   file->path, rc == -ENODEV ? "-ENODEV" : "-ENOMEM");
		return rc;
	}
	pgmap = zd_page_pgmap(m, zd_pci_p2pmem_virt_to_page(pdev, kaddr));
	for (uint64_t off = 0; off < len; off += ps) {
		struct zd_page *page = zd_pci_p2pmem_virt_to_page(pdev, kaddr + off);

		/* an idle P2P page sits at refcount 0: one for the insertion */
		ZD_WARN(m, zd_page_ref_count(page), "p2pmem_alloc_mmap: pfn 0x%llx has refcount %d",
			(unsigned long long)zd_page_to_pfn(m, page), zd_page_ref_count(page));
		zd_set_page_count(page, 1);
		rc = zd_vm_insert_page(vma, vma->vm_start + off, page);
		if (rc) {
			/* the rest of the allocation and its reference go back
			 * (the inserted pages go with the failed mmap's zap) */
			zd_set_page_count(page, 0);
			zd_pci_free_p2pmem(pdev, kaddr + off, len - off);
			return rc;
		}
		zd_percpu_ref_get(&pgmap->ref);   /* the page's own, put by folio_free */
		zd_put_page(m, page);             /* the PTE holds it now */
	}
	zd_percpu_ref_put(&pgmap->ref);          /* the allocation's */
	return 0;
}

struct zd_file *zd_pci_p2pmem_allocate_open(struct zd_pci_dev *pdev)
{
	struct zd_file *file;

	if (zd_pci_p2pmem_attr(pdev, "size", (char[32]){ 0 }, 32) < 0)
		return ZD_ERR_PTR(-ENOENT);   /* no p2pmem/ group */
	file = calloc(1, sizeof(*file) + 96);
	if (!file)
		return ZD_ERR_PTR(-ENOMEM);
	snprintf((char *)(file + 1), 96, "/sys/bus/pci/devices/%s/p2pmem/allocate", pdev->name);
	file->path = (const char *)(file + 1);
	file->f_op = &p2pmem_alloc_fops;
	file->f_mode = ZD_FMODE_READ | ZD_FMODE_WRITE;
	file->ino = 3000;
	file->i_mode = ZD_S_IFREG;
	file->private_data = pdev;
	file->f_count = 1;
	return file;
}

void zd_pci_p2pmem_zap_mappings(struct zd_pci_dev *pdev)
{
	zd_unmap_file_mappings(zd_pci_dev_machine(pdev), &p2pmem_alloc_fops, pdev);
}
