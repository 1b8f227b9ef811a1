/*
 * The host memory guard. zonedev's memmap is real host memory: a struct
 * page of a simulated machine is 64 bytes the host backs once memmap init
 * touches it. A machine much larger than the host (ram: 32T, a 1 PiB
 * hot-add) would otherwise grow until the host swaps or its OOM killer
 * picks a victim. So before an operation populates memmap in RAM, the
 * host bytes it will make resident are compared with what the host has
 * available, and the operation is refused with -ENOMEM and a message when
 * they do not fit. Memmap on the device (an altmap: map=dev) lives in the
 * region file and costs no host RAM here; a filesystem that cannot hold it
 * answers with ENOSPC (base/backing.c).
 * The figure is MemAvailable from /proc/meminfo, read at each check (the
 * host changes under us); ZD_HOST_MEM_AVAILABLE=BYTES replaces it (a test
 * hook, so the guard can be tested without a large host).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"

uint64_t zd_host_mem_available(void)
{
	const char *fake = getenv("ZD_HOST_MEM_AVAILABLE");
	unsigned long long kb = 0;
	char line[128];
	FILE *f;

	if (fake && *fake)
		return strtoull(fake, NULL, 0);
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb ? (uint64_t)kb << 10 : UINT64_MAX;
}

const char *zd_host_fmt_size(char *buf, size_t len, uint64_t bytes)
{
	static const char unit[] = "KMGTPE";
	int u = 0;

	/* Whole units from 10 of them on, so figures stay readable and exact
	 * enough to compare. */
	while (u < 5 && bytes >= 10ULL << (10 * (u + 2)))
		u++;
	snprintf(buf, len, "%llu %ciB", (unsigned long long)((bytes + (1ULL << (10 * (u + 1))) - 1) >> (10 * (u + 1))),
		 unit[u]);
	return buf;
}

bool zd_host_mem_fits(uint64_t need)
{
	uint64_t avail = zd_host_mem_available();

	/* Leave the host a sixteenth of what it has, for itself and for
	 * everything else this run allocates. */
	return need <= avail - avail / 16;
}

int zd_host_mem_guard(struct zd_machine *m, uint64_t need, const char *what, const char *avoid)
{
	char n[32], h[32];

	if (m->host_memory_unguarded || zd_host_mem_fits(need))
		return 0;
	zd_pr_err(m, "host memory guard: %s needs %s of host memory for its struct pages, the "
		  "host has %s available; avoid it with %s, or lift the guard (machine key "
		  "host_memory_guard: false, zonedev --no-memory-guard)", what,
		  zd_host_fmt_size(n, sizeof(n), need), zd_host_fmt_size(h, sizeof(h), zd_host_mem_available()), avoid);
	return -ENOMEM;
}
