/*
 * The NVMe-like drive (src/drivers/nvme/pci.c) and O_DIRECT into p2pmem:
 *  - probe: the CMB at the end of BAR 0 becomes published p2pmem; a second
 *    probe is -EBUSY, a bad namespace or CMB -EINVAL;
 *  - a write from RAM to drive B, then a read from B into a buffer mapped
 *    from A's CMB (p2pmem/allocate): the bytes land in A's BAR, every
 *    segment by bus address (A and B share a switch);
 *  - from C on another root port of a whitelisted host bridge: the same
 *    bytes through the host bridge (no bus-address segment);
 *  - from D after the whitelist goes: -EREMOTEIO, nothing left pinned;
 *  - O_DIRECT's rules: LBA alignment (-EINVAL), reads short at the end and
 *    0 past it, writes past it -ENOSPC, an unmapped buffer -EFAULT.
 */
#include <zonedev/zonedev.h>
#include <zonedev/nvme.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define M (1ULL << 20)
#define K (1ULL << 10)

static struct zd_nvme_ctrl *probe(struct zd_pci_dev *pdev, uint64_t cmb)
{
	struct zd_nvme_desc d = { .capacity = 64 * M, .cmb_size = cmb };
	struct zd_nvme_ctrl *c = zd_nvme_probe(pdev, &d);

	return ZD_IS_ERR(c) ? NULL : c;
}

int main(void)
{
	struct zd_pci_host_bridge_desc h = { .domain = 0, .mem_start = 64 * G, .mem_size = 4 * G,
					     .vendor = ZD_PCI_VENDOR_ID_INTEL, .device = 0x2020 };
	struct zd_pci_dev *dsp[2], *A, *B, *C, *D;
	struct zd_nvme_ctrl *a, *b, *c, *d;
	struct zd_pci_host_bridge *hb;
	struct zd_nvme_stats st;
	struct zd_machine *m;
	struct zd_file *file;
	struct zd_mm *mm;
	struct zd_page *page;
	enum zd_pt_level level;
	uint64_t ram, buf;
	char *pat, *got, size[32];

	m = tap_machine("x86_64", 46, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	hb = zd_pci_host_bridge_add(m, &h);
	zd_pci_switch_add(zd_pci_root_port_add(hb, 0x8086, 0x2030), 0x10b5, 0x8747, 2, dsp);
	A = tap_pci_ep(dsp[0], 16 * M, 0);
	B = tap_pci_ep(dsp[1], 16 * M, 0);
	C = tap_pci_ep(zd_pci_root_port_add(hb, 0x8086, 0x2031), 16 * M, 0);
	D = tap_pci_ep(zd_pci_root_port_add(hb, 0x8086, 0x2032), 16 * M, 0);

	/* probe */
	{
		struct zd_nvme_desc odd = { .capacity = 1000 }, big = { .capacity = M, .cmb_size = 16 * M };

		ok(ZD_PTR_ERR(zd_nvme_probe(A, &odd)) == -EINVAL, "a namespace of 1000 bytes: -EINVAL");
		ok(ZD_PTR_ERR(zd_nvme_probe(A, &big)) == -EINVAL, "a CMB as large as BAR 0: -EINVAL");
	}
	{
		struct zd_pci_dev *E = tap_pci_ep(zd_pci_root_port_add(hb, 0x8086, 0x2033), 16 * K, 4 * M);
		struct zd_nvme_desc odd_bar = { .capacity = M, .cmb_size = 4 * M, .cmb_bar = 1 },
				    bar2 = { .capacity = M, .cmb_size = 4 * M, .cmb_bar = 2 };
		char v[32];

		ok(ZD_PTR_ERR(zd_nvme_probe(E, &odd_bar)) == -EINVAL, "a CMB in BAR 1 (the upper "
		   "half of a 64-bit BAR): -EINVAL");
		ok(!ZD_IS_ERR(zd_nvme_probe(E, &bar2)) && zd_pci_p2pmem_attr(E, "size", v, sizeof(v)) > 0 &&
		   strtoull(v, NULL, 10) == 4 * M, "a CMB filling BAR 2 (CMBLOC.BIR 2): 4 MiB of p2pmem");
	}
	a = probe(A, 4 * M);
	b = probe(B, 0);
	c = probe(C, 0);
	d = probe(D, 0);
	if (!ok(a && b && c && d, "four drives probe, A with a 4 MiB CMB"))
		return done_testing();
	ok(zd_nvme_ctrl_of(A) == a && !strcmp(zd_nvme_disk_name(b), "nvme2n1") &&
	   zd_nvme_lba_size(b) == 512, "bound to their functions: B (the third probed) is nvme2n1, 512-byte LBAs");
	ok(ZD_PTR_ERR(zd_nvme_probe(A, &(struct zd_nvme_desc){ .capacity = M })) == -EBUSY,
	   "a second probe of A: -EBUSY");
	zd_pci_p2pmem_attr(A, "size", size, sizeof(size));
	ok(strtoull(size, NULL, 10) == 4 * M && zd_pci_p2pmem_attr(A, "published", size, sizeof(size)) > 0 &&
	   atoi(size) == 1, "A's CMB is 4 MiB of published p2pmem");

	/* RAM -> B, then B -> A's CMB */
	mm = zd_mm_alloc(m);
	pat = malloc(64 * K);
	got = malloc(64 * K);
	for (unsigned i = 0; i < 64 * K; i++)
		pat[i] = (char)(i * 31 + 7);
	ram = (uint64_t)zd_vm_mmap(mm, 0, 64 * K, ZD_PROT_READ | ZD_PROT_WRITE,
				   ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	zd_access_vm(mm, ram, pat, 64 * K, true);
	is_int((int)zd_nvme_direct_rw(b, mm, ram, 64 * K, 4096, true), (int)(64 * K),
	       "O_DIRECT write of 64 KiB from RAM to nvme1n1 at 4096");
	file = zd_pci_p2pmem_allocate_open(A);
	buf = (uint64_t)zd_vm_mmap(mm, 0, 64 * K, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, file, 0);
	ok((int64_t)buf > 0, "a 64 KiB buffer mapped from A's CMB");
	zd_nvme_get_stats(b, &st);
	is_int((int)zd_nvme_direct_rw(b, mm, buf, 64 * K, 4096, false), (int)(64 * K),
	       "O_DIRECT read of 64 KiB from nvme1n1 into it");
	{
		struct zd_nvme_stats now;

		zd_nvme_get_stats(b, &now);
		is_u64(now.bus_segments - st.bus_segments, 16,
		       "... all 16 segments by bus address (A and B share a switch)");
	}
	zd_access_vm(mm, buf, got, 64 * K, false);
	ok(!memcmp(got, pat, 64 * K), "... and the buffer holds what was written");
	zd_follow_pte(mm, buf + 8 * K, &level, &page);
	ok(zd_is_pci_p2pdma_page(m, page) &&
	   !memcmp(zd_device_page_address(m, page), pat + 8 * K, 4096), "... in A's BAR");
	is_int(zd_page_ref_count(page), 1, "... no pin left behind");

	/* through the host bridge */
	memset(got, 0, 64 * K);
	zd_access_vm(mm, buf, got, 64 * K, true);
	is_int((int)zd_nvme_direct_rw(c, mm, ram, 64 * K, 0, true), (int)(64 * K), "RAM -> nvme2n1");
	is_int((int)zd_nvme_direct_rw(c, mm, buf, 64 * K, 0, false), (int)(64 * K),
	       "nvme2n1 (another root port) -> A's CMB");
	zd_nvme_get_stats(c, &st);
	zd_access_vm(mm, buf, got, 64 * K, false);
	ok(!memcmp(got, pat, 64 * K) && st.bus_segments == 0 && st.segments == 32,
	   "... the bytes arrive through the host bridge, no segment by bus address");

	/* refusal */
	zd_pci_p2pdma_set_whitelist(m, false);
	is_int((int)zd_nvme_direct_rw(d, mm, buf, 64 * K, 0, false), -EREMOTEIO,
	       "nvme3n1 into A's CMB without a whitelisted bridge: -EREMOTEIO");
	is_int(zd_page_ref_count(page), 1, "... nothing left pinned");
	zd_nvme_get_stats(d, &st);
	is_u64(st.reads, 0, "... and no read counted");

	/* O_DIRECT's rules */
	is_int((int)zd_nvme_direct_rw(b, mm, ram, 4096, 100, false), -EINVAL, "pos 100: -EINVAL");
	is_int((int)zd_nvme_direct_rw(b, mm, ram + 8, 4096, 0, false), -EINVAL,
	       "a buffer off the LBA size: -EINVAL");
	is_int((int)zd_nvme_direct_rw(b, mm, ram, 1000, 0, false), -EINVAL, "1000 bytes: -EINVAL");
	is_int((int)zd_nvme_direct_rw(b, mm, ram, 8192, 64 * M - 4096, false), 4096,
	       "a read across the end is short");
	is_int((int)zd_nvme_direct_rw(b, mm, ram, 4096, 64 * M, false), 0, "a read at the end: 0");
	is_int((int)zd_nvme_direct_rw(b, mm, ram, 4096, 64 * M, true), -ENOSPC,
	       "a write at the end: -ENOSPC");
	is_int((int)zd_nvme_direct_rw(b, mm, 1ULL << 40, 4096, 0, false), -EFAULT,
	       "an unmapped buffer: -EFAULT");

	{
		char *text = NULL, want[160];
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		zd_pci_p2pdma_show(m, f);
		fclose(f);
		snprintf(want, sizeof(want), "%-14s %12s %12s %9s\n", A->name, "4194304", "4128768", "1");
		ok(text && strstr(text, want) &&
		   strstr(text, want) < strstr(text, "provider "),
		   "the p2pdma report lists A's p2pmem/ group (64K in use) before the pairs");
		free(text);
		text = NULL;
		f = open_memstream(&text, &len);
		zd_pci_sysfs_show(m, f);
		fclose(f);
		snprintf(want, sizeof(want), "/sys/bus/pci/devices/%s/driver:nvme\n", A->name);
		ok(text && strstr(text, want), "pci_devices: A's driver is nvme");
		snprintf(want, sizeof(want), "/sys/bus/pci/devices/%s/p2pmem/available:4128768\n",
			 A->name);
		ok(text && strstr(text, want), "... its p2pmem/available as sysfs says it");
		snprintf(want, sizeof(want), "/sys/bus/pci/devices/%s/resource:0x%016llx 0x%016llx "
			 "0x000000000014220c\n", B->name,
			 (unsigned long long)zd_pci_resource_start(B, 0),
			 (unsigned long long)(zd_pci_resource_start(B, 0) + 16 * M - 1));
		ok(text && strstr(text, want), "... B's BAR 0 as a resource line");
		free(text);
	}

	zd_vm_munmap(mm, buf, 64 * K);
	zd_vm_munmap(mm, ram, 64 * K);
	zd_fput(file);
	zd_mmput(mm);
	free(pat);
	free(got);
	is_int(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
	return done_testing();
}
