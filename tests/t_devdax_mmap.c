/*
 * A process maps a device-dax instance (drivers/dax/device.c): the
 * namespace's own ZONE_DEVICE pages in its page tables.
 *  - open("/dev/dax0.0") needs a bound devdax namespace (ENODEV before);
 *  - MAP_PRIVATE is EINVAL (logged "attempted private mapping"); MAP_SHARED
 *    works and the maps line names /dev/dax0.0;
 *  - a write faults in the device page at the offset: pagemap's pfn is the
 *    namespace's data pfn plus the offset, the page is MEMORY_DEVICE_GENERIC
 *    with refcount 2 (idle 1 + the mapping) and mapcount 1, and the bytes
 *    are in the region file (the namespace's data) right away;
 *  - fork shares the page (the child reads the parent's bytes from the same
 *    pfn), GUP pins it (refcount + 1024), munmap and exit return it to its
 *    idle refcount 1 and mapcount 0;
 *  - devdax namespaces aligned to 2 MiB and 1 GiB (x86_64): mmap is
 *    aligned to the device, an unaligned MAP_FIXED mmap is EINVAL, a write
 *    maps one PMD / PUD leaf of the device's folio (ptdump shows it, the
 *    subpage's pfn in pagemap, rss counts the whole folio, refcount 2 and
 *    mapcount 1 on the head), a pin of a subpage takes one head reference
 *    and pincount 1, mprotect changes the leaf (a write is then SIGSEGV),
 *    a split inside the alignment is EINVAL, munmap returns the folio to
 *    idle;
 *  - rebinding the namespace while it is mapped zaps the mapping first; the
 *    next access faults on the new binding and reads the same bytes.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mm/internal.h"
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PS 4096ULL

static struct zd_machine *m;

static uint64_t pfn_at(struct zd_mm *mm, uint64_t addr)
{
	uint64_t e = 0;

	zd_pagemap_read(mm, addr / PS * 8, &e, 8);
	return e >> 63 ? e & ((1ULL << 55) - 1) : ZD_BAD_PFN;
}

static struct zd_machine *boot(const char *path, uint64_t align, uint64_t size)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_nd_region_desc pm = { .start = 8 * G, .size = size, .path = path };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_DEVDAX, .map = ZD_ND_MAP_MEM,
					  .align = align };
	struct zd_machine *mm_m;

	unlink(path);
	mm_m = zd_machine_create(&d);
	if (ZD_IS_ERR(mm_m))
		return NULL;
	if (zd_nd_create_namespace(zd_nd_region_find(mm_m, "region0"), &o)) {
		zd_machine_destroy(mm_m);
		return NULL;
	}
	return mm_m;
}

static void four_k(const char *path)
{
	struct zd_nd_region *r;
	struct zd_file *f;
	struct zd_mm *mm, *child;
	struct zd_page *page, *pinned;
	uint64_t size, a;
	char *data, buf[16] = { 0 };

	if (!ok((m = boot(path, PS, 256 * M)) != NULL, "4K: a devdax namespace"))
		return;
	r = zd_nd_region_find(m, "region0");
	mm = zd_mm_alloc(m);
	f = zd_dev_dax_open(r);
	if (!ok(!ZD_IS_ERR(f), "4K: /dev/dax0.0 opens"))
		goto out;
	unsigned long seq = zd_log_seq(m);
	is_int(zd_vm_mmap(mm, 0, 16 * PS, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE, f, 0),
	       -EINVAL, "4K: MAP_PRIVATE is EINVAL");
	ok(tap_log_since(m, seq, "attempted private mapping"), "4K: logged why");
	a = (uint64_t)zd_vm_mmap(mm, 0, 16 * PS, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, f,
				 4 * PS);
	char *maps = NULL;
	size_t ml = 0;
	FILE *mf = open_memstream(&maps, &ml);
	zd_show_maps(mm, mf);
	fclose(mf);
	ok(strstr(maps, "/dev/dax0.0") != NULL, "4K: maps names /dev/dax0.0");
	free(maps);
	is_int(zd_access_vm(mm, a + PS + 8, "devdax!", 8, true), 0, "4K: a write through the mapping");
	data = zd_nd_namespace_data(r, &size);
	ok(data && !memcmp(data + 5 * PS + 8, "devdax!", 8),
	   "4K: the bytes are in the namespace at offset 4 + 1 pages");
	struct zd_nd_namespace_info in;
	zd_nd_namespace_get(r, &in);
	uint64_t want = (in.data_start >> 12) + 5;
	is_u64(pfn_at(mm, a + PS), want, "4K: pagemap: the device pfn at that offset");
	page = zd_pfn_to_page(m, want);
	ok(zd_is_device_generic_page(m, page), "4K: a MEMORY_DEVICE_GENERIC page");
	ok(zd_page_ref_count(page) == 2 && zd_page_mapcount(page) == 1,
	   "4K: refcount 2 (idle + mapping), mapcount 1");
	child = zd_dup_mm(mm);
	if (ok(!ZD_IS_ERR(child), "4K: fork")) {
		ok(!zd_access_vm(child, a + PS + 8, buf, 8, false) && !strcmp(buf, "devdax!") &&
		   pfn_at(child, a + PS) == want, "4K: the child reads it from the same device page");
		zd_mmput(child);
	}
	is_int(zd_pin_user_pages_unlocked(mm, a + PS, 1, ZD_FOLL_WRITE | ZD_FOLL_LONGTERM, &pinned), 1,
	       "4K: a long-term pin");
	ok(pinned == page && zd_page_ref_count(page) == 2 + ZD_GUP_PIN_COUNTING_BIAS,
	   "4K: of the device page itself");
	zd_unpin_user_page(m, pinned);
	zd_vm_munmap(mm, a, 16 * PS);
	ok(zd_page_ref_count(page) == 1 && zd_page_mapcount(page) == 0,
	   "4K: munmap returns it to idle (refcount 1, mapcount 0)");

	/* rebind while mapped */
	a = (uint64_t)zd_vm_mmap(mm, 0, 4 * PS, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, f, 0);
	zd_access_vm(mm, a, "again", 6, true);
	page = zd_pfn_to_page(m, pfn_at(mm, a));
	is_int(zd_nd_rebind_namespace(r), 0, "4K: rebind while mapped");
	is_u64(pfn_at(mm, a), ZD_BAD_PFN, "4K: the mapping was zapped first");
	memset(buf, 0, sizeof(buf));
	ok(!zd_access_vm(mm, a, buf, 6, false) && !strcmp(buf, "again"),
	   "4K: the next access faults on the new binding, same bytes");
	zd_fput(f);
out:
	zd_mmput(mm);
	is_u64(zd_warn_count(m), 0, "4K: no WARN");
	zd_machine_destroy(m);
}

/* A devdax device aligned to a PMD (2M) or PUD (1G): leaves at that level. */
static void huge(const char *path, uint64_t align, const char *level_name)
{
	struct zd_nd_namespace_info in;
	struct zd_nd_region *r;
	struct zd_page *head, *pinned;
	struct zd_file *f;
	struct zd_mm *mm;
	char buf[16] = { 0 }, *pt = NULL;
	size_t ptl = 0;
	const char *nm = align == 2 * M ? "2M" : "1G";

	if (!ok((m = boot(path, align, align == 2 * M ? 256 * M : 4 * G)) != NULL,
		"%s: a devdax namespace", nm))
		return;
	r = zd_nd_region_find(m, "region0");
	zd_nd_namespace_get(r, &in);
	mm = zd_mm_alloc(m);
	f = zd_dev_dax_open(r);
	int64_t a = zd_vm_mmap(mm, 0, 2 * align, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, f, 0);
	ok(a > 0 && !(a & (align - 1)), "%s: mmap is aligned to the device", nm);
	is_int(zd_vm_mmap(mm, (uint64_t)a - 2 * align + PS, align, ZD_PROT_READ | ZD_PROT_WRITE,
			  ZD_MAP_SHARED | ZD_MAP_FIXED, f, 0), -EINVAL,
	       "%s: an unaligned MAP_FIXED mmap is EINVAL", nm);
	is_int(zd_access_vm(mm, (uint64_t)a + align + 5 * PS, "huge", 5, true), 0,
	       "%s: a write faults the second folio in", nm);
	uint64_t want = (in.data_start + align) / PS + 5;
	is_u64(pfn_at(mm, (uint64_t)a + align + 5 * PS), want, "%s: pagemap: its subpage's pfn", nm);
	FILE *pf = open_memstream(&pt, &ptl);
	zd_ptdump_show(mm, pf);
	fclose(pf);
	char needle[64];
	snprintf(needle, sizeof(needle), "%s USR RW         PSE         NX %s\n", nm, level_name);
	ok(strstr(pt, needle) != NULL, "%s: one %s leaf in the page tables (ptdump)", nm, level_name);
	free(pt);
	head = zd_pfn_to_page(m, (in.data_start + align) / PS);
	ok(zd_page_ref_count(head) == 2 && zd_page_mapcount(head) == 1,
	   "%s: the folio: refcount 2, mapcount 1", nm);
	is_int((int)mm->rss_stat[ZD_MM_FILEPAGES], (int)(align / PS), "%s: rss counts the whole folio", nm);
	uint64_t mapped_kb = 0;
	zd_meminfo_field(m, "Mapped", &mapped_kb);
	is_u64(mapped_kb, align >> 10, "%s: meminfo Mapped counts the folio's pages (NR_FILE_MAPPED)", nm);
	is_int(zd_pin_user_pages_unlocked(mm, (uint64_t)a + align + 7 * PS, 1,
					  ZD_FOLL_WRITE | ZD_FOLL_LONGTERM, &pinned), 1,
	       "%s: a long-term pin of a subpage", nm);
	ok(pinned == head + 7 && *zd_folio_pincount(head) == 1 && zd_page_ref_count(head) == 3 &&
	   zd_folio_maybe_dma_pinned(head), "%s: one head reference and pincount 1", nm);
	zd_unpin_user_page(m, pinned);
	ok(*zd_folio_pincount(head) == 0 && zd_page_ref_count(head) == 2, "%s: unpinned", nm);
	struct zd_page *fast[4];
	is_int(zd_pin_user_pages_fast(mm, (uint64_t)a + align + 8 * PS, 4, ZD_FOLL_WRITE, fast), 4,
	       "%s: pin_user_pages_fast of four subpages", nm);
	ok(fast[0] == head + 8 && fast[3] == head + 11 && *zd_folio_pincount(head) == 4 &&
	   zd_page_ref_count(head) == 6, "%s: the subpages, pincount 4 on the head", nm);
	zd_unpin_user_pages(m, fast, 4);
	ok(*zd_folio_pincount(head) == 0 && zd_page_ref_count(head) == 2, "%s: all unpinned", nm);
	ok(!zd_access_vm(mm, (uint64_t)a + align + 5 * PS, buf, 5, false) && !strcmp(buf, "huge"),
	   "%s: reads back", nm);
	is_int(zd_do_mprotect(mm, (uint64_t)a + PS, PS, ZD_PROT_READ), -EINVAL,
	       "%s: a split inside the alignment is EINVAL", nm);
	is_int(zd_do_mprotect(mm, (uint64_t)a, 2 * align, ZD_PROT_READ), 0, "%s: mprotect read-only", nm);
	is_int(zd_access_vm(mm, (uint64_t)a + align, "x", 1, true), -EFAULT,
	       "%s: then a write is SIGSEGV", nm);
	zd_vm_munmap(mm, (uint64_t)a, 2 * align);
	ok(zd_page_ref_count(head) == 1 && zd_page_mapcount(head) == 0,
	   "%s: munmap returns the folio to idle", nm);
	zd_meminfo_field(m, "Mapped", &mapped_kb);
	is_u64(mapped_kb, 0, "%s: and Mapped to 0", nm);
	zd_fput(f);
	zd_mmput(mm);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", nm);
	zd_machine_destroy(m);
}

int main(void)
{
	char dir[] = "/tmp/zonedev-devdax-XXXXXX", path[64];

	if (!ok(mkdtemp(dir) != NULL, "a temporary directory"))
		return done_testing();
	snprintf(path, sizeof(path), "%s/region0.pmem", dir);
	{
		struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
		struct zd_nd_region_desc pm = { .start = 8 * G, .size = 256 * M, .path = path };
		struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
					     .nr_pmem = 1 };
		unlink(path);
		m = zd_machine_create(&d);
		if (ok(!ZD_IS_ERR(m), "a machine with a raw region")) {
			struct zd_file *f = zd_dev_dax_open(zd_nd_region_find(m, "region0"));
			is_int(ZD_IS_ERR(f) ? ZD_PTR_ERR(f) : 0, -ENODEV,
			       "open of a raw namespace: ENODEV");
			zd_machine_destroy(m);
		}
	}
	four_k(path);
	huge(path, 2 * M, "pmd");
	huge(path, 1 * G, "pud");
	unlink(path);
	rmdir(dir);
	return done_testing();
}
