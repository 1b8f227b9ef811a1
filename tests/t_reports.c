/*
 * The /proc reports carry the kernel's names and formats: meminfo prints
 * only fields /proc/meminfo has (zonedev's own figures come from a
 * separate call), zoneinfo has no free-area line (the kernel prints none),
 * and buddyinfo lists each populated zone's free blocks per order, which
 * must be exactly the buddy allocator's counts, before and after an
 * allocation splits a block.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)

/* Names fs/proc/meminfo.c prints (the subset any build has). */
static const char *const kernel_fields[] = {
	"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active",
	"Inactive", "Unevictable", "Mlocked", "SwapTotal", "SwapFree", "Dirty", "Writeback",
	"AnonPages", "Mapped", "Shmem", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim",
	"KernelStack", "PageTables", "CommitLimit", "Committed_AS", "VmallocTotal",
	"VmallocUsed", "Percpu", "HardwareCorrupted", "AnonHugePages", "DirectMap4k",
	"DirectMap2M", "DirectMap1G",
};

static bool kernel_field(const char *line)
{
	for (size_t i = 0; i < sizeof(kernel_fields) / sizeof(kernel_fields[0]); i++) {
		size_t n = strlen(kernel_fields[i]);

		if (!strncmp(line, kernel_fields[i], n) && line[n] == ':')
			return true;
	}
	return false;
}

static void meminfo(struct zd_machine *m)
{
	char *t = tap_dump_text(m, zd_meminfo_show), *z = tap_dump_text(m, zd_meminfo_zonedev_show);
	bool all_real = true;
	int lines = 0;

	if (!ok(t && z, "meminfo texts"))
		return;

	for (char *l = t; *l; l = strchr(l, '\n') + 1, lines++) {
		if (!kernel_field(l)) {
			all_real = false;
			diag("not a /proc/meminfo field: %.40s", l);
		}
	}
	ok(lines >= 3 && all_real, "meminfo prints only the kernel's fields (%d)", lines);
	ok(strstr(z, "MemUsed:") && strstr(z, "VmemmapMapped:") && !strstr(z, "MemTotal"),
	   "zonedev's own figures come separately");
	free(t);
	free(z);
}

/* The counts buddyinfo printed for zone name, parsed back. */
static int parse_buddy(const char *text, const char *name, unsigned long *out, int max)
{
	char key[40];
	const char *l;
	int n = 0;

	snprintf(key, sizeof(key), "zone %8s ", name);
	l = strstr(text, key);
	if (!l)
		return -1;
	l += strlen(key);
	while (n < max && *l && *l != '\n') {
		char *end;

		out[n] = strtoul(l, &end, 10);
		if (end == l)
			break;
		n++;
		l = end;
	}
	return n;
}

static bool buddy_matches(struct zd_machine *m, struct zd_zone *zone, const char *what)
{
	char *t = tap_dump_text(m, zd_buddyinfo_show);
	unsigned long got[ZD_MAX_ORDER_LIMIT + 1];
	int n = t ? parse_buddy(t, zone->name, got, ZD_MAX_ORDER_LIMIT + 1) : -1;
	bool same = n == (int)m->arch.max_page_order + 1;

	for (int o = 0; same && o < n; o++)
		same = got[o] == zone->free_area[o].nr_free;
	ok(same, "buddyinfo %s: %s, one count per order, as the allocator has them", zone->name,
	   what);
	free(t);
	return same;
}

static void buddyinfo(struct zd_machine *m)
{
	struct zd_zone *dma32 = &m->node_data[0]->node_zones[ZD_ZONE_DMA32];
	char *t = tap_dump_text(m, zd_buddyinfo_show);
	struct zd_page *p;

	if (!ok(t != NULL, "buddyinfo text"))
		return;
	ok(strncmp(t, "Node 0, zone      DMA ", 22) == 0, "the kernel's line head");
	ok(!strstr(t, "Movable") && !strstr(t, "Device"), "unpopulated zones are not listed");
	free(t);
	buddy_matches(m, dma32, "at boot");
	p = zd_alloc_pages(m, ZD_GFP_KERNEL, 3);
	ok(p != NULL, "an order-3 allocation");
	buddy_matches(m, dma32, "after the split");
	if (p)
		zd___free_pages(m, p, 3);
	buddy_matches(m, dma32, "after the free");
}

int main(void)
{
	struct zd_machine *m = tap_machine("x86_64", 0, 1 * M, 2047 * M, NULL, 0);
	char *z;

	if (!m)
		return done_testing();
	meminfo(m);
	z = tap_dump_text(m, zd_zoneinfo_show);
	ok(z && strstr(z, "Node 0, zone    DMA32\n  pages free") && !strstr(z, "free_area"),
	   "zoneinfo has the kernel's lines and no free_area line");
	free(z);
	buddyinfo(m);
	zd_machine_destroy(m);
	return done_testing();
}
