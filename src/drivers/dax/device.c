/*
 * device-dax (drivers/dax/device.c, dax/pmem.c): daxN.0 maps a devdax
 * namespace as MEMORY_DEVICE_GENERIC, assembled into compound pages of the
 * device alignment (vmemmap_shift = log2(align / PAGE_SIZE)); without an
 * altmap (map=mem) the compound memmap is deduplicated. /dev/daxN.0 is a
 * file processes map (MAP_SHARED only, both ends aligned to the device
 * alignment, which get_unmapped_area honours); a fault maps the device's
 * own page at the offset (no page cache), as a normal refcounted page.
 * Invariants: a mapping lives no longer than the binding: remove zaps
 * every VMA of the device before its pgmap goes, and a fault on a device
 * that is gone is SIGBUS (check_vma). A device aligned to a PMD or PUD
 * maps whole folios as leaves at that level (x86_64 has PUD leaves; the
 * arch's pt[] says), never PTEs.
 */
#include <stdlib.h>
#include <string.h>

#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/mm.h>
#include <zonedev/pgalloc.h>
#include <zonedev/pgtable.h>
#include "drivers/nvdimm/nd.h"
#include "base/align.h"
#include "mm/internal.h"


static int dev_dax_probe(struct zd_device *dev)
{
	struct zd_nd_region *r = dev->platform_data;
	const struct zd_arch *a = &r->m->arch;
	void *addr;

	int rc;

	/* dev_dax_probe() claims the data range (the metadata before it
	 * stays the namespace's). */
	rc = zd_nd_devm_request_region(dev, r, r->layout.data_start, r->layout.range_end + 1 -
				       r->layout.data_start, dev->name);
	if (rc) {
		zd_pr_warn(dev->machine, "%s: mapping0: 0x%llx-0x%llx could not reserve range",
			   dev->name, ULL(r->layout.data_start), ULL(r->layout.range_end));
		return rc;
	}
	__atomic_store_n(&r->dax_dead, false, __ATOMIC_RELEASE);
	zd_nd_setup_pgmap(r, ZD_MEMORY_DEVICE_GENERIC);
	if (r->info.align > a->page_size)
		r->pgmap.vmemmap_shift = (unsigned long)__builtin_ctzll(r->info.align >> a->page_shift);
	addr = zd_devm_memremap_pages(dev, &r->pgmap);
	if (ZD_IS_ERR(addr))
		return (int)ZD_PTR_ERR(addr);
	zd_pr_info(dev->machine, "%s: devdax %llu MiB, align %llu KiB, memmap %s", dev->name,
		   ULL(r->layout.data_size >> 20), ULL(r->info.align >> 10),
		   r->layout.has_altmap ? "on the device" : "in RAM");
	return 0;
}

static const struct zd_file_operations dax_fops;

static bool dax_alive(const struct zd_nd_region *r)
{
	struct zd_device *claim = __atomic_load_n(&r->claim, __ATOMIC_ACQUIRE);

	return r->mode == ZD_NS_MODE_DEVDAX && claim && claim->driver == &zd_device_dax_driver &&
	       !__atomic_load_n(&r->dax_dead, __ATOMIC_ACQUIRE);
}

/* check_vma(): the device must be alive, the mapping shared and aligned. */
static int check_vma(struct zd_nd_region *r, const struct zd_vm_area_struct *vma, const char *func)
{
	const char *name = r->claim ? r->claim->name : "dax";

	if (!dax_alive(r))
		return -ENXIO;
	if (!(vma->vm_flags & ZD_VM_MAYSHARE)) {
		zd_pr_info(r->m, "%s: %s: fail, attempted private mapping", name, func);
		return -EINVAL;
	}
	if ((vma->vm_start | vma->vm_end) & (r->info.align - 1)) {
		zd_pr_info(r->m, "%s: %s: fail, unaligned vma (0x%llx - 0x%llx, 0x%llx)", name, func,
			   ULL(vma->vm_start), ULL(vma->vm_end), ULL(r->info.align));
		return -EINVAL;
	}
	return 0;
}

/* __dev_dax_pmd_fault() / __dev_dax_pud_fault(): a leaf of the device's
 * folio when the alignment is exactly that size; FALLBACK when smaller;
 * SIGBUS when larger or when the aligned block leaves the VMA or the
 * device. The leaf is a normal refcounted folio mapping (v6.15+). */
static unsigned dev_dax_huge_fault(struct zd_vm_fault *vmf, unsigned order)
{
	struct zd_vm_area_struct *vma = vmf->vma;
	struct zd_nd_region *r = vma->vm_file->private_data;
	const struct zd_arch *a = &r->m->arch;
	const struct zd_pgtable_ops *o = a->pgtable;
	uint64_t size = a->page_size << order, haddr = vmf->address & ~(size - 1), pgoff, phys;
	enum zd_pt_level level = order == a->pt[ZD_PT_PUD].shift - a->page_shift ? ZD_PT_PUD
										     : ZD_PT_PMD;
	struct zd_page *folio;
	unsigned prot;

	if (check_vma(r, vma, "dev_dax_huge_fault"))
		return ZD_VM_FAULT_SIGBUS;
	if (r->info.align > size)
		return ZD_VM_FAULT_SIGBUS;
	if (r->info.align < size)
		return ZD_VM_FAULT_FALLBACK;
	if (haddr < vma->vm_start || haddr + size > vma->vm_end)
		return ZD_VM_FAULT_SIGBUS;
	pgoff = zd_linear_page_index(vma, haddr);
	if (pgoff + (1ULL << order) > r->layout.data_size >> a->page_shift)
		return ZD_VM_FAULT_SIGBUS;
	phys = r->layout.data_start + (pgoff << a->page_shift);
	folio = zd_pfn_to_page(r->m, phys >> a->page_shift);
	prot = zd_vma_pte_prot(vma->vm_flags) | ZD_PTE_YOUNG |
	       (vmf->flags & ZD_FAULT_FLAG_WRITE ? ZD_PTE_DIRTY : 0);
	zd_pt_lock(vmf->ptl);
	if (o->pte_none(a, o->ptep_get(vmf->pte))) {
		__atomic_store_n(&folio->mapping, (void *)r, __ATOMIC_RELAXED);
		folio->index = pgoff;
		zd_get_page(r->m, folio);
		zd_folio_add_file_rmap(r->m, folio);
		__atomic_add_fetch(&vma->vm_mm->rss_stat[ZD_MM_FILEPAGES], (long)(1ULL << order),
				   __ATOMIC_RELAXED);
		o->set_pte(vmf->pte, o->mk_leaf(a, level, phys >> a->page_shift, prot));
	}
	zd_pt_unlock(vmf->ptl);
	return ZD_VM_FAULT_NOPAGE;
}

static unsigned dev_dax_fault(struct zd_vm_fault *vmf)
{
	struct zd_nd_region *r = vmf->vma->vm_file->private_data;
	const struct zd_arch *a = &r->m->arch;
	uint64_t phys;
	struct zd_page *page;

	if (check_vma(r, vmf->vma, "dev_dax_huge_fault"))
		return ZD_VM_FAULT_SIGBUS;
	/* __dev_dax_pte_fault(): only a page-aligned device maps PTEs */
	if (r->info.align != a->page_size) {
		zd_pr_info(r->m, "%s: dev_dax_huge_fault: fail, %llu KiB alignment cannot map a "
			   "page", r->claim->name, ULL(r->info.align >> 10));
		return ZD_VM_FAULT_SIGBUS;
	}
	/* dax_pgoff_to_phys() */
	if (vmf->pgoff >= r->layout.data_size >> a->page_shift)
		return ZD_VM_FAULT_SIGBUS;
	phys = r->layout.data_start + (vmf->pgoff << a->page_shift);
	page = zd_pfn_to_page(r->m, phys >> a->page_shift);
	/* dax_set_mapping(): the page belongs to this device's file now */
	__atomic_store_n(&page->mapping, (void *)r, __ATOMIC_RELAXED);
	page->index = vmf->pgoff;
	zd_get_page(r->m, page);
	vmf->page = page;
	return 0;
}

/* A split inside the device alignment is refused (dev_dax_may_split). */
static int dev_dax_may_split(struct zd_vm_area_struct *vma, uint64_t addr)
{
	struct zd_nd_region *r = vma->vm_file->private_data;

	return addr & (r->info.align - 1) ? -EINVAL : 0;
}

static const struct zd_vm_operations_struct dax_vm_ops = {
	.fault = dev_dax_fault,
	.huge_fault = dev_dax_huge_fault,
	.may_split = dev_dax_may_split,
};

static int dax_mmap(struct zd_file *file, struct zd_vm_area_struct *vma)
{
	int rc = check_vma(file->private_data, vma, "dax_mmap");

	if (rc)
		return rc;
	vma->vm_ops = &dax_vm_ops;
	vma->vm_flags |= ZD_VM_HUGEPAGE;
	return 0;
}

static void dax_release(struct zd_file *file)
{
	free(file);
}

static const struct zd_file_operations dax_fops = {
	.mmap = dax_mmap,
	.release = dax_release,
	.mmap_supported_flags = ZD_MAP_SYNC,   /* FOP_MMAP_SYNC: stores reach the media */
};

struct zd_file *zd_dev_dax_open(struct zd_nd_region *r)
{
	struct zd_file *file;

	if (!dax_alive(r))
		return ZD_ERR_PTR(-ENODEV);
	file = calloc(1, sizeof(*file) + 80);
	if (!file)
		return ZD_ERR_PTR(-ENOMEM);
	snprintf((char *)(file + 1), 80, "/dev/%s", r->claim->name);
	file->path = (const char *)(file + 1);
	file->f_op = &dax_fops;
	file->f_mode = ZD_FMODE_READ | ZD_FMODE_WRITE;
	file->dev_major = 252;     /* dax's dynamic char major on a typical system */
	file->dev_minor = (unsigned)r->id;
	file->ino = 1000 + (uint64_t)r->id;
	file->map_align = r->info.align;
	file->i_mode = ZD_S_IFCHR;
	file->i_flags = ZD_S_DAX;  /* the device inode is S_DAX (dax_mmap: vma_is_dax) */
	file->private_data = r;
	file->f_count = 1;
	return file;
}

/* kill_dev_dax() / unmap_mapping_range(): every mapping of the device goes
 * before its pages do. */
static void dev_dax_remove(struct zd_device *dev)
{
	struct zd_nd_region *r = dev->platform_data;
	struct zd_machine *m = r->m;

	/* kill_dax(): no new fault maps the device from here on; the write
	 * lock waits for faults already past check_vma */
	__atomic_store_n(&r->dax_dead, true, __ATOMIC_RELEASE);
	zd_unmap_file_mappings(m, &dax_fops, r);
}

const struct zd_device_driver zd_device_dax_driver = {
	.name = "device_dax",
	.probe = dev_dax_probe,
	.remove = dev_dax_remove,
};

int zd_dev_dax_enable(struct zd_nd_region *r)
{
	return zd_nd_claim(r, "dax", &zd_device_dax_driver);
}
