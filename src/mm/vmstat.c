/*
 * Reports in the shapes kernel developers read: /proc/zoneinfo and
 * /proc/buddyinfo (mm/vmstat.c) and a per-section listing of the sparse
 * model. Readers take the hotplug
 * lock shared so spans and section words are stable while printed.
 */
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
