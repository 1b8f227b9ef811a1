/*
 * p2pmem in user space (spec devices.md 1.8, 1.9; §5 checks 5 and 6):
 * the provider's p2pmem/allocate file mmapped by a process:
 *  - MAP_PRIVATE and a non-zero offset are -EINVAL, a length the pool
 *    cannot give -ENOMEM (nothing mapped, nothing taken);
 *  - a MAP_SHARED mapping is a fresh allocation of its length: available
 *    drops by exactly that, every page is a present PTE of a P2PDMA page
 *    (refcount 1: the PTE's), the CPU's stores land in the BAR's memory;
 *  - GUP of those pages: -EREMOTEIO without FOLL_PCI_P2PDMA, pinned with
 *    it; munmap gives every page back to the pool (available recovers);
 *  - unbind (release) zaps the mapping, then waits while a page is pinned
 *    and completes on unpin; the file's next mmap is -ENODEV.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)

static struct zd_pci_dev *A;
static int released;

static uint64_t available(void)
{
	char buf[64];

	return zd_pci_p2pmem_attr(A, "available", buf, sizeof(buf)) < 0 ? 0 : strtoull(buf, NULL, 10);
}

static void *release_thread(void *arg)
{
	(void)arg;
	zd_pci_p2pdma_release(A);
	__atomic_store_n(&released, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	struct zd_pci_host_bridge_desc h0 = { .domain = 0, .mem_start = 64 * G, .mem_size = 4 * G,
					      .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020 };
	struct zd_pci_host_bridge *hb;
	struct zd_pci_dev *rp;
	struct zd_machine *m;
	struct zd_file *file;
	struct zd_page *pages[3], *page;
	enum zd_pt_level level;
	struct zd_mm *mm;
	uint64_t ps, a, avail0;
	pthread_t t;
	bool all = true;

	m = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	ps = m->arch.page_size;
	hb = zd_pci_host_bridge_add(m, &h0);
	rp = zd_pci_root_port_add(hb, 0x8086, 0x2030);
	A = tap_pci_ep(rp, 16 * M, 4 * M);
	ok(!ZD_IS_ERR(A), "an endpoint");
	ok(ZD_IS_ERR(zd_pci_p2pmem_allocate_open(A)) &&
	   ZD_PTR_ERR(zd_pci_p2pmem_allocate_open(A)) == -ENOENT, "no allocate file before p2pmem");
	is_int(zd_pci_p2pdma_add_resource(A, 2, 0, 0), 0, "BAR 2 (4 MiB) is p2pmem");
	file = zd_pci_p2pmem_allocate_open(A);
	ok(!ZD_IS_ERR(file), "p2pmem/allocate opens");
	mm = zd_mm_alloc(m);
	avail0 = available();
	is_u64(avail0, 4 * M, "available: 4 MiB");

	/* p2pmem_alloc_mmap's refusals */
	is_int(zd_vm_mmap(mm, 0, 3 * ps, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE, file, 0),
	       -EINVAL, "MAP_PRIVATE: -EINVAL");
	is_int(zd_vm_mmap(mm, 0, 3 * ps, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, file, ps),
	       -EINVAL, "a non-zero offset: -EINVAL");
	is_int(zd_vm_mmap(mm, 0, 8 * M, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, file, 0),
	       -ENOMEM, "more than the pool: -ENOMEM");
	is_u64(available(), avail0, "... nothing taken");
	is_int(mm->map_count, 0, "... nothing mapped");

	/* a fresh allocation of the VMA's length, page by page */
	a = (uint64_t)zd_vm_mmap(mm, 0, 3 * ps, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, file, 0);
	ok((int64_t)a > 0, "MAP_SHARED, offset 0: mapped");
	is_u64(avail0 - available(), 3 * ps, "available dropped by exactly the VMA's length");
	for (unsigned i = 0; i < 3; i++) {
		zd_pte_t e = zd_follow_pte(mm, a + i * ps, &level, &page);

		all = all && m->arch.pgtable->pte_present(&m->arch, e) && page &&
		      zd_is_pci_p2pdma_page(m, page) && zd_page_ref_count(page) == 1;
	}
	ok(all, "every page a present PTE of a P2PDMA page, refcount 1 (the PTE's)");
	is_int(zd_access_vm(mm, a + ps, "peer", 4, true), 0, "a CPU store into the mapping");
	zd_follow_pte(mm, a + ps, &level, &page);
	{
		char buf[8] = { 0 };

		memcpy(buf, zd_device_page_address(m, page), 4);
		ok(!strcmp(buf, "peer"), "... lands in the BAR's memory");
	}

	/* the GUP gate */
	is_int(zd_pin_user_pages_unlocked(mm, a, 3, ZD_FOLL_WRITE, pages), -EREMOTEIO,
	       "pin without FOLL_PCI_P2PDMA: -EREMOTEIO");
	is_int(zd_pin_user_pages_unlocked(mm, a, 3, ZD_FOLL_WRITE | ZD_FOLL_PCI_P2PDMA, pages), 3,
	       "pin with FOLL_PCI_P2PDMA: 3 pages");
	zd_unpin_user_pages(m, pages, 3);
	/* the LONGTERM rule by era: v6.x refuses it with a WARN */
	is_int(zd_pin_user_pages_unlocked(mm, a, 3, ZD_FOLL_WRITE | ZD_FOLL_PCI_P2PDMA |
					  ZD_FOLL_LONGTERM, pages), -EINVAL,
	       "v6.x: FOLL_LONGTERM with FOLL_PCI_P2PDMA: -EINVAL");
	is_int(zd_warn_count(m), 1, "... and a WARN");
	zd_pci_p2pdma_set_era(m, ZD_P2PDMA_ERA_NEW);
	is_int(zd_pin_user_pages_unlocked(mm, a, 3, ZD_FOLL_WRITE | ZD_FOLL_PCI_P2PDMA |
					  ZD_FOLL_LONGTERM, pages), 3,
	       "new era: a long-term pin of P2PDMA pages is allowed");
	zd_follow_pte(mm, a, &level, &page);
	ok(pages[0] == page && zd_is_pci_p2pdma_page(m, pages[0]),
	   "... and pins the BAR's own page (nothing migrates)");
	zd_unpin_user_pages(m, pages, 3);
	is_int(zd_vm_munmap(mm, a, 3 * ps), 0, "munmap");
	is_u64(available(), avail0, "available recovers: every page back in the pool");

	/* unbind: the mapping is zapped, and a pin holds the release */
	a = (uint64_t)zd_vm_mmap(mm, 0, 2 * ps, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, file, 0);
	is_int(zd_pin_user_pages_unlocked(mm, a, 1, ZD_FOLL_WRITE | ZD_FOLL_PCI_P2PDMA |
					  ZD_FOLL_LONGTERM, pages), 1,
	       "a page pinned long-term");
	pthread_create(&t, NULL, release_thread, NULL);
	/* the release zaps first, then waits for the pin */
	for (int i = 0; i < 10000 &&
	     !m->arch.pgtable->pte_none(&m->arch, zd_follow_pte(mm, a, &level, &page)); i++)
		usleep(1000);
	ok(m->arch.pgtable->pte_none(&m->arch, zd_follow_pte(mm, a, &level, &page)),
	   "unbind zaps the user mapping");
	usleep(20000);
	ok(!__atomic_load_n(&released, __ATOMIC_ACQUIRE), "... and waits while the page is pinned");
	is_int(zd_vm_mmap(mm, 0, ps, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, file, 0), -ENODEV,
	       "a dying provider's mmap: -ENODEV");
	ok(zd_log_contains(m, "the provider is going away"), "... its pgmap gives no reference");
	zd_unpin_user_pages(m, pages, 1);
	tap_join_or_bail(t, 30, "release");
	ok(__atomic_load_n(&released, __ATOMIC_ACQUIRE), "unbind completes on unpin");
	is_int(zd_vm_mmap(mm, 0, ps, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, file, 0), -ENODEV,
	       "the file's next mmap: -ENODEV");
	zd_vm_munmap(mm, a, 2 * ps);
	zd_fput(file);
	zd_mmput(mm);
	is_int(zd_warn_count(m), 1, "no WARN but the v6.x refusal");
	zd_machine_destroy(m);
	return done_testing();
}
