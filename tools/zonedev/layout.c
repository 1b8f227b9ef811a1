/*
 * Built-in boot layouts: what `zonedev iomem` boots when there is no usable
 * /proc/iomem, and what a scenario gets when its machine section names no
 * RAM. Shaped like small virtual machines of each architecture family (a
 * QEMU q35 PC, an arm64 "virt" board, a pseries LPAR).
 * Invariants: ranges are sorted, disjoint and below 2^40, so they fit every
 * profile's phys_bits; RAM ends below 64 GiB, so x86's block-size rule picks
 * 128 MiB blocks.
 */
#include "cli.h"

#include <string.h>

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

/* A q35 PC with 4 GiB: 2 GiB below the PCI hole, 2 GiB above 4 GiB. */
static const struct zd_mem_range x86_ram[] = {
	{ .start = 0x1000, .size = 0x9fc00 - 0x1000 },
	{ .start = 0x100000, .size = 0x7ffe0000 - 0x100000 },
	{ .start = GiB(4), .size = GiB(2) },
};
static const struct zd_mem_range x86_reserved[] = {
	{ .start = 0x0, .size = 0x1000, .name = "Reserved" },
	{ .start = 0x9fc00, .size = 0x400, .name = "Reserved" },
	{ .start = 0xf0000, .size = KiB(64), .name = "Reserved" },
	{ .start = 0x7ffe0000, .size = KiB(128), .name = "Reserved" },
	{ .start = 0xb0000000, .size = MiB(256), .name = "PCI MMCONFIG 0000 [bus 00-ff]" },
	{ .start = 0xfec00000, .size = 0x400, .name = "IOAPIC 0" },
	{ .start = 0xfed00000, .size = 0x400, .name = "HPET 0" },
	{ .start = 0xfee00000, .size = KiB(4), .name = "Local APIC" },
	{ .start = 0xfffc0000, .size = KiB(256), .name = "Reserved" },
};

/* arm64 "virt": devices below 1 GiB, 4 GiB of RAM from 1 GiB. */
static const struct zd_mem_range arm_ram[] = {
	{ .start = GiB(1), .size = GiB(4) },
};
static const struct zd_mem_range arm_reserved[] = {
	{ .start = 0x09000000, .size = KiB(4), .name = "9000000.pl011 pl011@9000000" },
	{ .start = 0x09010000, .size = KiB(4), .name = "9010000.pl031 pl031@9010000" },
	{ .start = 0x10000000, .size = 0x2eff0000, .name = "pcie@10000000" },
};

/* pseries: RAM from 0, no firmware holes the OS sees. */
static const struct zd_mem_range ppc_ram[] = {
	{ .start = 0, .size = GiB(4) },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

void default_layout(const char *arch, const struct zd_mem_range **ram, size_t *nr_ram,
		    const struct zd_mem_range **reserved, size_t *nr_reserved)
{
	if (arch && !strncmp(arch, "arm64", 5)) {
		*ram = arm_ram;
		*nr_ram = N(arm_ram);
		*reserved = arm_reserved;
		*nr_reserved = N(arm_reserved);
	} else if (arch && !strncmp(arch, "ppc64", 5)) {
		*ram = ppc_ram;
		*nr_ram = N(ppc_ram);
		*reserved = NULL;
		*nr_reserved = 0;
	} else {
		*ram = x86_ram;
		*nr_ram = N(x86_ram);
		*reserved = x86_reserved;
		*nr_reserved = N(x86_reserved);
	}
}
