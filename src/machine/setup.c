/*
 * The boot reservations an arch's setup makes around sparse_init()
 * (arch/x86/kernel/setup.c, mm/mm_init.c, kernel/dma/swiotlb.c): what
 * stays memblock-reserved after boot and so never becomes managed —
 * x86's first megabyte, the kernel image, a crash kernel, the dentry and
 * inode hash tables and swiotlb's bounce buffer — and the boot line
 * that sums them up ("Memory: ...K/...K available ...").
 * Invariants: every reservation lies in boot RAM (memblock clips the rest);
 * the kernel image and crash kernel appear in iomem under System RAM as
 * busy System RAM children, as the kernel inserts them; a failed
 * reservation fails the boot with the reason in the log.
 */
#include <zonedev/err.h>
#include <zonedev/gfp.h>
#include <string.h>
#include "mm/internal.h"
#include "base/align.h"


/* Debian 6.1's x86_64 image, as /proc/iomem shows it (the example file in
 * scenarios/data): section sizes, and the gaps the kernel frees after boot
 * (init memory between data and bss, the padding before data). */
static const struct {
	const char *name;
	uint64_t size, gap_before;
} default_image[] = {
	{ "Kernel code", 0xe01000, 0 },
	{ "Kernel rodata", 0x68c000, 0 },
	{ "Kernel data", 0x350000, 0x173000 },
	{ "Kernel bss", 0x2c6000, 0x3ea000 },
};

static const char *const image_names[] = { "Kernel code", "Kernel rodata", "Kernel data",
					   "Kernel bss", NULL };

struct image_scan {
	uint64_t bytes[4];
	struct { phys_addr_t start, end; } r[8];
	int n;
	phys_addr_t bss;           /* start of Kernel bss (0: none) */
};

static int find_image(const struct zd_resource *r, void *arg)
{
	struct image_scan *s = arg;

	for (int i = 0; image_names[i]; i++)
		if (r->name && !strcmp(r->name, image_names[i]) && s->n < 8) {
			s->bytes[i] += zd_resource_size(r);
			if (i == 3 && !s->bss)
				s->bss = r->start;
			s->r[s->n].start = r->start;
			s->r[s->n++].end = r->end;
		}
	return 0;
}

/* Where a default image goes: x86 loads it at 16 MiB (CONFIG_PHYSICAL_START),
 * others at the start of RAM; the first boot range that holds it. */
static phys_addr_t image_base(struct zd_machine *m, const struct zd_mem_range *ram, size_t nr,
			      uint64_t size)
{
	phys_addr_t want = m->arch.family == ZD_ARCH_X86 ? 16 * SZ_1M : 0;

	for (size_t i = 0; i < nr; i++) {
		phys_addr_t s = ram[i].start > want ? ram[i].start : want;

		s = ZD_ALIGN(s, SZ_2M);
		if (s + size <= ram[i].start + ram[i].size)
			return s;
	}
	return ~0ULL;
}

static int insert_image_resource(struct zd_machine *m, const char *name, phys_addr_t start,
				 uint64_t size)
{
	unsigned long desc = strcmp(name, "Crash kernel") ? ZD_IORES_DESC_NONE :
			     ZD_IORES_DESC_CRASH_KERNEL;
	struct zd_resource *r = zd_resource_alloc(name, start, size, ZD_IORESOURCE_SYSTEM_RAM |
						  ZD_IORESOURCE_BUSY, desc);
	int rc = r ? zd_insert_resource(m, NULL, r) : -ENOMEM;

	if (rc)
		zd_resource_free(r);
	return rc;
}

static int reserve_bytes(struct zd_machine *m, phys_addr_t start, phys_addr_t end,
			 const char *why)
{
	const struct zd_arch *a = &m->arch;
	uint64_t pfn = start >> a->page_shift, last = (end + a->page_size - 1) >> a->page_shift;

	return zd_memblock_reserve(m, pfn, last - pfn, why);
}

/* The kernel image: the imported iomem's, or a default one inserted there. */
static int reserve_kernel_image(struct zd_machine *m, const struct zd_mem_range *ram, size_t nr)
{
	struct image_scan s;
	uint64_t total = 0;
	phys_addr_t at;
	int rc;

	memset(&s, 0, sizeof(s));
	zd_walk_iomem_res(m, 0, ~0ULL, &s, find_image);
	if (!s.n) {
		for (size_t i = 0; i < 4; i++)
			total += default_image[i].gap_before + default_image[i].size;
		at = image_base(m, ram, nr, total);
		if (at == ~0ULL) {
			zd_pr_err(m, "setup: no boot RAM range holds the %llu KiB kernel image",
				  ULL(total >> 10));
			return -ENOMEM;
		}
		for (size_t i = 0; i < 4; i++) {
			at += default_image[i].gap_before;
			rc = insert_image_resource(m, default_image[i].name, at, default_image[i].size);
			if (rc)
				return rc;
			s.bytes[i] = default_image[i].size;
			if (i == 3)
				s.bss = at;
			s.r[s.n].start = at;
			s.r[s.n++].end = at + default_image[i].size - 1;
			at += default_image[i].size;
		}
	}
	/* _text.._end is reserved at first; init memory and the gaps between
	 * the sections are freed once boot is over, which leaves the sections. */
	for (int i = 0; i < s.n; i++)
		if ((rc = reserve_bytes(m, s.r[i].start, s.r[i].end + 1, "kernel")))
			return rc;
	memcpy(m->boot.image_bytes, s.bytes, sizeof(s.bytes));
	/* empty_zero_page sits page aligned in .bss (x86 .bss..page_aligned,
	 * arm64 and ppc64 likewise); an imported image without a bss keeps
	 * it at the image's first page. Reserved, never written: it reads 0. */
	phys_addr_t zp = s.bss ? s.bss : s.r[0].start;
	m->zero_pfn = ZD_ALIGN(zp, m->arch.page_size) >> m->arch.page_shift;
	return 0;
}

/* Before the memmap: firmware's low memory, the image, a crash kernel. */
int zd_setup_arch_reserve(struct zd_machine *m, const struct zd_machine_desc *d,
			  const struct zd_mem_range *ram, size_t nr)
{
	const struct zd_arch *a = &m->arch;
	int rc;

	/* x86 keeps the first 1 MiB from the buddy (BIOS, trampoline, the
	 * 2021 low-memory corruption fixes). */
	if (a->family == ZD_ARCH_X86 && (rc = reserve_bytes(m, 0, SZ_1M, "low")))
		return rc;
	if ((rc = reserve_kernel_image(m, ram, nr)))
		return rc;
	if (d->crashkernel) {
		uint64_t pages = (d->crashkernel + a->page_size - 1) >> a->page_shift;
		uint64_t align = 16 * SZ_1M >> a->page_shift;
		uint64_t pfn = zd_memblock_alloc(m, 0, pages, align, SZ_4G >> a->page_shift,
						 "crashkernel");

		if (pfn == UINT64_MAX)
			pfn = zd_memblock_alloc(m, 0, pages, align, 0, "crashkernel");
		if (pfn == UINT64_MAX) {
			zd_pr_err(m, "crashkernel: cannot reserve %llu MiB", ULL(d->crashkernel >> 20));
			return -ENOMEM;
		}
		rc = insert_image_resource(m, "Crash kernel", pfn << a->page_shift,
					   pages << a->page_shift);
		if (rc)
			return rc;
		zd_pr_info(m, "crashkernel reserved: 0x%016llx - 0x%016llx (%llu MB)",
			   ULL(pfn << a->page_shift), ULL((pfn + pages) << a->page_shift),
			   ULL(d->crashkernel >> 20));
	}
	return 0;
}

/* alloc_large_system_hash() for an early (memblock) table of 8-byte
 * buckets, one per 2^scale bytes of kernel memory, a power of two. */
static uint64_t hash_bytes(const struct zd_arch *a, uint64_t kernel_pages, unsigned scale)
{
	uint64_t n = kernel_pages, max, pow = 1;

	if (a->page_size < SZ_1M)
		n = (n + (SZ_1M >> a->page_shift) - 1) & ~((SZ_1M >> a->page_shift) - 1);
	n = scale > a->page_shift ? n >> (scale - a->page_shift) : n << (a->page_shift - scale);
	if (n * 8 < a->page_size)
		n = a->page_size / 8;
	while (pow < n)
		pow <<= 1;
	max = (kernel_pages << a->page_shift >> 4) / 8;
	while (pow > max && pow > 1)
		pow >>= 1;
	return pow * 8;
}

/* A memblock allocation of bytes below limit (0: anywhere); its pfn. */
static uint64_t reserve_alloc(struct zd_machine *m, uint64_t bytes, uint64_t limit, const char *why)
{
	const struct zd_arch *a = &m->arch;
	uint64_t pages = (bytes + a->page_size - 1) >> a->page_shift;

	return zd_memblock_alloc(m, 0, pages, 1, limit >> a->page_shift, why);
}

/* After the memmap: hash tables and swiotlb, as mm_core_init() runs them. */
int zd_setup_late_reserve(struct zd_machine *m, const struct zd_machine_desc *d,
			  uint64_t present_pages, phys_addr_t max_possible)
{
	const struct zd_arch *a = &m->arch;
	uint64_t kernel_pages = present_pages - zd_memblock_reserved_pages(m, NULL);
	uint64_t swiotlb = d->swiotlb_size ? d->swiotlb_size : 64 * SZ_1M;
	bool want = d->swiotlb_size ||
		    (!d->swiotlb_off && a->family != ZD_ARCH_PPC64 && a->dma32_limit &&
		     max_possible > a->dma32_limit);
	uint64_t pfn;

	m->boot.hash_bytes = hash_bytes(a, kernel_pages, 13) + hash_bytes(a, kernel_pages, 14);
	if (reserve_alloc(m, hash_bytes(a, kernel_pages, 13), 0, "dentry hash") == UINT64_MAX ||
	    reserve_alloc(m, hash_bytes(a, kernel_pages, 14), 0, "inode hash") == UINT64_MAX)
		return -ENOMEM;
	/* x86's pci_swiotlb_detect(): bounce buffers when memory can reach
	 * above 4 GiB; memblock_alloc_low() puts them below it. */
	if (want) {
		/* No low memory for it is not fatal: swiotlb stays off. */
		pfn = reserve_alloc(m, swiotlb, a->dma32_limit, "swiotlb");
		if (pfn == UINT64_MAX) {
			zd_pr_warn(m, "swiotlb_init: no memory below 0x%llx for the %llu MiB bounce "
				   "buffer; software IO TLB disabled", ULL(a->dma32_limit),
				   ULL(swiotlb >> 20));
		} else {
			m->boot.swiotlb_bytes = swiotlb;
			zd_pr_info(m, "software IO TLB: mapped [mem 0x%016llx-0x%016llx] (%lluMB)",
				   ULL(pfn << a->page_shift), ULL((pfn << a->page_shift) + swiotlb - 1),
				   ULL(swiotlb >> 20));
		}
	}
	return 0;
}

void zd_boot_memory(const struct zd_machine *m, struct zd_boot_memory *out)
{
	*out = m->boot.mem;
}

/* mem_init_print_info(), and the record zd_boot_memory() returns. */
void zd_mem_init_print_info(struct zd_machine *m, uint64_t present_pages)
{
	struct zd_boot_memory *bm = &m->boot.mem;

	bm->present_pages = present_pages;
	bm->reserved_pages = zd_memblock_reserved_pages(m, NULL);
	bm->low_pages = zd_memblock_reserved_pages(m, "low");
	bm->kernel_pages = zd_memblock_reserved_pages(m, "kernel");
	bm->crashkernel_pages = zd_memblock_reserved_pages(m, "crashkernel");
	bm->memmap_pages = zd_memblock_reserved_pages(m, "memmap");
	bm->hash_pages = zd_memblock_reserved_pages(m, "dentry hash") +
			 zd_memblock_reserved_pages(m, "inode hash");
	bm->swiotlb_pages = zd_memblock_reserved_pages(m, "swiotlb");

	uint64_t kb = m->arch.page_size >> 10;
	uint64_t total = zd_totalram_pages(m);
	const uint64_t *b = m->boot.image_bytes;

	zd_pr_info(m, "Memory: %lluK/%lluK available (%lluK kernel code, %lluK rwdata, %lluK rodata, "
		   "0K init, %lluK bss, %lluK reserved, 0K cma-reserved)", ULL(total * kb),
		   ULL(present_pages * kb), ULL(b[0] >> 10), ULL(b[2] >> 10), ULL(b[1] >> 10),
		   ULL(b[3] >> 10), ULL((present_pages - total) * kb));
}
