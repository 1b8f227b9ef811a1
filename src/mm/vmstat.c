/*
 * Reports in the shapes kernel developers read: /proc/zoneinfo and
 * /proc/buddyinfo (mm/vmstat.c), a per-section listing of the sparse
 * model and the host memory the vmemmap really occupies (mincore). Readers take the hotplug
 * lock shared so spans and section words are stable while printed.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zonedev/gfp.h>
#include <zonedev/machine.h>
#include <zonedev/memory_hotplug.h>
#include "mm/internal.h"
#include "base/align.h"


void zd_zoneinfo_show(struct zd_machine *m, FILE *f)
{
	zd_get_online_mems(m);
	for (int n = 0; n < m->nr_nodes; n++) {
		struct zd_pglist_data *pgdat = m->node_data[n];
		for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
			struct zd_zone *zone = &pgdat->node_zones[z];
			fprintf(f, "Node %d, zone %8s\n", n, zone->name);
			fprintf(f, "  pages free     %ld\n",
				__atomic_load_n(&zone->nr_free_pages, __ATOMIC_RELAXED));
			fprintf(f, "        spanned  %llu\n", ULL(zone->spanned_pages));
			fprintf(f, "        present  %llu\n", ULL(zone->present_pages));
			fprintf(f, "        managed  %ld\n",
				__atomic_load_n(&zone->managed_pages, __ATOMIC_RELAXED));
			fprintf(f, "  start_pfn:           %llu\n", ULL(zone->zone_start_pfn));
		}
	}
	zd_put_online_mems(m);
}

void zd_buddyinfo_show(struct zd_machine *m, FILE *f)
{
	zd_get_online_mems(m);
	for (int n = 0; n < m->nr_nodes; n++) {
		struct zd_pglist_data *pgdat = m->node_data[n];

		/* The kernel lists populated zones only (present pages). */
		for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
			struct zd_zone *zone = &pgdat->node_zones[z];

			if (!zone->present_pages)
				continue;
			fprintf(f, "Node %d, zone %8s ", n, zone->name);
			pthread_mutex_lock(&zone->lock);
			for (unsigned o = 0; o <= m->arch.max_page_order; o++)
				fprintf(f, "%6lu ", zone->free_area[o].nr_free);
			pthread_mutex_unlock(&zone->lock);
			fputc('\n', f);
		}
	}
	zd_put_online_mems(m);
}

void zd_vmstat_show(struct zd_machine *m, FILE *f)
{
	const struct { const char *name; unsigned long v; } rows[] = {
		{ "nr_free_pages", zd_global_free_pages(m) },
		{ "nr_anon_pages", (unsigned long)__atomic_load_n(&m->nr_anon_mapped, __ATOMIC_RELAXED) },
		{ "nr_shmem", (unsigned long)__atomic_load_n(&m->nr_shmem, __ATOMIC_RELAXED) },
		/* in pages: the kernel has counted NR_ANON_THPS in pages since v5.13 */
		{ "nr_anon_transparent_hugepages",
		  (unsigned long)__atomic_load_n(&m->nr_anon_thps, __ATOMIC_RELAXED) >>
		  (m->arch.pt[ZD_PT_PMD].shift - m->arch.page_shift) },
		{ "nr_page_table_pages", (unsigned long)__atomic_load_n(&m->nr_pagetable, __ATOMIC_RELAXED) },
		{ "nr_foll_pin_acquired", __atomic_load_n(&m->nr_foll_pin_acquired, __ATOMIC_RELAXED) },
		{ "nr_foll_pin_released", __atomic_load_n(&m->nr_foll_pin_released, __ATOMIC_RELAXED) },
		{ "pgfault", __atomic_load_n(&m->pgfault, __ATOMIC_RELAXED) },
		{ "pgmigrate_success", __atomic_load_n(&m->pgmigrate_success, __ATOMIC_RELAXED) },
		{ "pgmigrate_fail", __atomic_load_n(&m->pgmigrate_fail, __ATOMIC_RELAXED) },
		{ "thp_migration_success",
		  __atomic_load_n(&m->thp_migration_success, __ATOMIC_RELAXED) },
		{ "thp_migration_fail", __atomic_load_n(&m->thp_migration_fail, __ATOMIC_RELAXED) },
		{ "thp_fault_alloc", __atomic_load_n(&m->thp_fault_alloc, __ATOMIC_RELAXED) },
		{ "thp_fault_fallback", __atomic_load_n(&m->thp_fault_fallback, __ATOMIC_RELAXED) },
		{ "thp_collapse_alloc", __atomic_load_n(&m->thp_collapse_alloc, __ATOMIC_RELAXED) },
		{ "thp_collapse_alloc_failed",
		  __atomic_load_n(&m->thp_collapse_alloc_failed, __ATOMIC_RELAXED) },
		{ "thp_split_pmd", __atomic_load_n(&m->thp_split_pmd, __ATOMIC_RELAXED) },
		{ "thp_zero_page_alloc", __atomic_load_n(&m->thp_zero_page_alloc, __ATOMIC_RELAXED) },
		{ "thp_zero_page_alloc_failed",
		  __atomic_load_n(&m->thp_zero_page_alloc_failed, __ATOMIC_RELAXED) },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "%s %lu\n", rows[i].name, rows[i].v);
}

void zd_sections_show(struct zd_machine *m, FILE *f)
{
	const struct zd_arch *a = &m->arch;

	zd_get_online_mems(m);
	fprintf(f, "%-10s %-37s %-32s %s\n", "section", "phys range", "flags", "subsections");
	for (uint64_t nr = 0; nr <= m->highest_present_section_nr; nr++) {
		struct zd_mem_section *ms = zd_nr_to_section(m, nr);
		unsigned long w = zd_section_word(ms);
		char flags[64], subs[300];
		unsigned set = 0;
		int len = 0;

		if (!(w & ZD_SECTION_MARKED_PRESENT))
			continue;
		snprintf(flags, sizeof(flags), "%s%s%s%s%s",
			 w & ZD_SECTION_MARKED_PRESENT ? "present " : "",
			 w & ZD_SECTION_HAS_MEM_MAP ? "has_mem_map " : "",
			 w & ZD_SECTION_IS_ONLINE ? "online " : "",
			 w & ZD_SECTION_IS_EARLY ? "early " : "",
			 w & ZD_SECTION_TAINT_ZONE_DEVICE ? "zone_device_taint" : "");
		for (unsigned i = 0; i < a->subsections_per_section; i++) {
			uint64_t pfn = zd_section_nr_to_pfn(a, nr) + i * a->pages_per_subsection;
			bool on = zd_pfn_section_valid(ms, a, pfn);
			set += on;
			if (len < (int)sizeof(subs) - 1)
				subs[len++] = on ? '#' : '.';
		}
		subs[len] = '\0';
		fprintf(f, "%-10llu 0x%016llx-0x%016llx %-32s %u/%u %s\n", ULL(nr),
			ULL(zd_pfn_phys(a, zd_section_nr_to_pfn(a, nr))),
			ULL(zd_pfn_phys(a, zd_section_nr_to_pfn(a, nr + 1)) - 1), flags, set,
			a->subsections_per_section, subs);
	}
	zd_put_online_mems(m);
}

/* Resident bytes of the populated memmap, section by section (mincore). */
uint64_t zd_vmemmap_resident_bytes(struct zd_machine *m)
{
	const struct zd_arch *a = &m->arch;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	size_t sect_bytes = a->pages_per_section * sizeof(struct zd_page);
	size_t vec_len = (sect_bytes + ps - 1) / ps + 2;   /* + the rounded-out ends */
	unsigned char *vec = malloc(vec_len);
	uint64_t resident = 0;

	if (!vec)
		return 0;
	zd_get_online_mems(m);
	for (uint64_t r = 0; r < a->nr_section_roots; r++) {
		if (!m->mem_section[r])
			continue;
		for (unsigned i = 0; i < a->sections_per_root; i++) {
			uint64_t nr = r * a->sections_per_root + i;
			uint64_t spfn = zd_section_nr_to_pfn(a, nr);
			uintptr_t s, e;

			if (!zd_valid_section(&m->mem_section[r][i]))
				continue;
			s = (uintptr_t)zd_pfn_to_page(m, spfn) & ~(ps - 1);
			e = (uintptr_t)zd_pfn_to_page(m, spfn + a->pages_per_section);
			e = ZD_ALIGN(e, ps);
			/* The window is mapped throughout (PROT_NONE where not
			 * populated), so one call per section normally does;
			 * should it fail, walk by sub-section to skip a hole. */
			size_t sub = a->pages_per_subsection * sizeof(struct zd_page);
			if (sub < ps)
				sub = ps;
			if (!mincore((void *)s, e - s, vec)) {
				for (size_t k = 0; k < (e - s) / ps; k++)
					resident += (vec[k] & 1) ? ps : 0;
				continue;
			}
			for (uintptr_t p = s; p < e; p += sub) {
				size_t len = e - p < sub ? e - p : sub;
				if (mincore((void *)p, len, vec))
					continue;
				for (size_t k = 0; k < (len + ps - 1) / ps; k++)
					resident += (vec[k] & 1) ? ps : 0;
			}
		}
	}
	zd_put_online_mems(m);
	free(vec);
	return resident;
}
