/*
 * /proc/meminfo (fs/proc/meminfo.c) for a machine: the kernel's fields this
 * model can back with real counters, in kB as the kernel prints them, and
 * apart from them the figures only zonedev has (so nothing in the first
 * block is a name the kernel does not print).
 */
#include <zonedev/err.h>
#include <zonedev/gfp.h>
#include <zonedev/machine.h>
#include <string.h>

struct field {
	const char *name;
	uint64_t kb;
	bool zonedev;              /* not a /proc/meminfo field */
};

static size_t collect(struct zd_machine *m, struct field *out)
{
	uint64_t kb_per_page = m->arch.page_size >> 10;
	uint64_t total = zd_totalram_pages(m), free_pages = zd_global_free_pages(m);
	size_t n = 0;

	out[n++] = (struct field){ "MemTotal", total * kb_per_page, false };
	out[n++] = (struct field){ "MemFree", free_pages * kb_per_page, false };
	out[n++] = (struct field){ "MemAvailable", free_pages * kb_per_page, false };
	out[n++] = (struct field){ "AnonPages", (uint64_t)__atomic_load_n(&m->nr_anon_mapped,
				   __ATOMIC_RELAXED) * kb_per_page, false };
	out[n++] = (struct field){ "Mapped", (uint64_t)__atomic_load_n(&m->nr_file_mapped,
				   __ATOMIC_RELAXED) * kb_per_page, false };
	out[n++] = (struct field){ "Shmem", (uint64_t)__atomic_load_n(&m->nr_shmem,
				   __ATOMIC_RELAXED) * kb_per_page, false };
	out[n++] = (struct field){ "AnonHugePages", (uint64_t)__atomic_load_n(&m->nr_anon_thps,
				   __ATOMIC_RELAXED) * kb_per_page, false };
	out[n++] = (struct field){ "PageTables", (uint64_t)__atomic_load_n(&m->nr_pagetable,
				   __ATOMIC_RELAXED) * kb_per_page, false };
	out[n++] = (struct field){ "MemUsed", (total - free_pages) * kb_per_page, true };
	out[n++] = (struct field){ "VmemmapMapped",
				   (uint64_t)__atomic_load_n(&m->vmemmap_mapped_bytes,
							     __ATOMIC_RELAXED) >> 10, true };
	return n;
}

int zd_meminfo_field(struct zd_machine *m, const char *name, uint64_t *kb)
{
	struct field f[16];
	size_t n = collect(m, f);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(f[i].name, name)) {
			*kb = f[i].kb;
			return 0;
		}
	return -ENOENT;
}

static void show(struct zd_machine *m, FILE *out, bool zonedev)
{
	struct field f[16];
	size_t n = collect(m, f);

	for (size_t i = 0; i < n; i++)
		if (f[i].zonedev == zonedev)
			fprintf(out, "%s:%*llu kB\n", f[i].name, (int)(23 - strlen(f[i].name)),
				(unsigned long long)f[i].kb);
}

void zd_meminfo_show(struct zd_machine *m, FILE *out)
{
	show(m, out, false);
}

void zd_meminfo_zonedev_show(struct zd_machine *m, FILE *out)
{
	show(m, out, true);
}
