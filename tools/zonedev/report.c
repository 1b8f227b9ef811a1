/*
 * Reports: the views a kernel developer already reads (/proc/iomem,
 * /proc/meminfo, /proc/zoneinfo, /sys/devices/system/memory, dmesg) plus the
 * sparse-section table and the vmemmap's real cost. Text reports are the
 * library's own formatters; JSON reports are built here from the public
 * structures (or, for iomem, the library's JSON dump) so they nest inside the
 * CLI's single output document.
 * Invariants: reports only read the machine (no state changes, no
 * allocation from the simulated allocator); no host addresses are printed,
 * so two runs print the same report.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zonedev/test_hmm.h>

const struct section_flag_name section_flag_names[] = {
	{ "present", ZD_SECTION_MARKED_PRESENT },
	{ "has_mem_map", ZD_SECTION_HAS_MEM_MAP },
	{ "online", ZD_SECTION_IS_ONLINE },
	{ "early", ZD_SECTION_IS_EARLY },
	{ "zone_device", ZD_SECTION_TAINT_ZONE_DEVICE },
	{ NULL, 0 },
};

const char *fmt_section_flags(unsigned long word, char *buf, size_t len)
{
	size_t off = 0;

	off += (size_t)snprintf(buf + off, len - off, "[");
	for (int i = 0; section_flag_names[i].name && off < len; i++) {
		if (!(word & section_flag_names[i].bit))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off > 1 ? "," : "",
					section_flag_names[i].name);
	}
	if (off < len)
		snprintf(buf + off, len - off, "]");
	return buf;
}

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
};

/* ---------- vmemmap ---------- */

/*
 * Resident vmemmap split by what backs it: anonymous memory (the memmap in
 * RAM) or a device's file (a vmem_altmap: map=dev struct pages live in the
 * pmem region file). The host's /proc/self/maps says which mapping of the
 * vmemmap window is which; mincore() counts the resident pages of each.
 * false when the split cannot be measured.
 */
static bool vmemmap_resident_split(struct zd_machine *m, uint64_t *ram, uint64_t *dev)
{
	uintptr_t wlo = (uintptr_t)m->vmemmap_window, whi = wlo + m->vmemmap_window_size;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), cap = 0;
	unsigned char *vec = NULL;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	*ram = *dev = 0;
	if (!f || !wlo)
		return f ? (fclose(f), false) : false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, inode;
		char perms[8];
		uintptr_t s, e;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &lo, &hi, perms, &inode) != 4)
			continue;
		s = lo > wlo ? lo : wlo;
		e = hi < whi ? hi : whi;
		if (s >= e || perms[0] != 'r')
			continue;
		/* mincore per 64 MiB so the vector stays small */
		for (uintptr_t p = s; p < e; p += 64ul << 20) {
			size_t len = e - p < (64ul << 20) ? e - p : 64ul << 20;
			size_t n = (len + ps - 1) / ps;

			if (n > cap) {
				unsigned char *nv = realloc(vec, n);

				if (!nv)
					break;
				vec = nv;
				cap = n;
			}
			if (mincore((void *)p, len, vec))
				continue;
			for (size_t k = 0; k < n; k++)
				if (vec[k] & 1)
					*(inode ? dev : ram) += ps;
		}
	}
	fclose(f);
	free(vec);
	return true;
}

static void vmemmap_text(struct zd_machine *m, FILE *f)
{
	long mapped = __atomic_load_n(&m->vmemmap_mapped_bytes, __ATOMIC_RELAXED);
	uint64_t resident = zd_vmemmap_resident_bytes(m), ram, dev;
	uint64_t pages = mapped > 0 ? (uint64_t)mapped / ZD_STRUCT_PAGE_SIZE : 0;
	char a[32], b[32], c[32];

	fprintf(f, "vmemmap mapped:   %ld bytes (%s): struct pages for %" PRIu64 " pfns (%s)\n",
		mapped, fmt_size_human(mapped > 0 ? (uint64_t)mapped : 0, a, sizeof(a)), pages,
		fmt_size_human(pages * m->arch.page_size, b, sizeof(b)));
	fprintf(f, "vmemmap resident: %" PRIu64 " bytes (%s)\n", resident,
		fmt_size_human(resident, c, sizeof(c)));
	if (vmemmap_resident_split(m, &ram, &dev)) {
		fprintf(f, "  in RAM:         %" PRIu64 " bytes (%s)\n", ram,
			fmt_size_human(ram, a, sizeof(a)));
		fprintf(f, "  on the device:  %" PRIu64 " bytes (%s): map=dev struct pages in "
			"pmem region files\n", dev, fmt_size_human(dev, b, sizeof(b)));
	}
}

static void vmemmap_json(struct zd_machine *m, struct jw *w)
{
	long mapped = __atomic_load_n(&m->vmemmap_mapped_bytes, __ATOMIC_RELAXED);
	uint64_t ram, dev;

	jw_obj_begin(w);
	jw_ki64(w, "mapped_bytes", mapped);
	jw_ku64(w, "resident_bytes", zd_vmemmap_resident_bytes(m));
	if (vmemmap_resident_split(m, &ram, &dev)) {
		jw_ku64(w, "resident_ram_bytes", ram);
		jw_ku64(w, "resident_device_bytes", dev);
	}
	jw_ku64(w, "struct_page_size", ZD_STRUCT_PAGE_SIZE);
	jw_khex(w, "coverage_start_pfn", m->vmemmap_start_pfn);
	jw_khex(w, "coverage_end_pfn", m->vmemmap_end_pfn);
	jw_obj_end(w);
}

/* ---------- namespaces ---------- */

static void namespaces_text(struct zd_machine *m, FILE *f)
{
	if (!pmem_region(m, 0)) {
		fprintf(f, "(no pmem regions)\n");
		return;
	}
	zd_nd_list_namespaces(m, f);
}

static void namespaces_json(struct zd_machine *m, struct jw *w)
{
	struct zd_nd_region *rg;

	jw_arr_begin(w);
	for (int i = 0; (rg = pmem_region(m, i)); i++)
		namespace_json(w, rg);
	jw_arr_end(w);
}

/* ---------- devices ---------- */

struct dev_row {
	char name[64];
	char driver[64];
	int node;
};

/* Registered devices, oldest first (the machine's list is newest first). */
static struct dev_row *collect_devices(struct zd_machine *m, size_t *nr)
{
	struct dev_row *rows = NULL;
	size_t n = 0;

	pthread_mutex_lock(&m->device_lock);
	for (struct zd_device *d = m->devices; d; d = d->next)
		n++;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (rows) {
		size_t i = n;

		for (struct zd_device *d = m->devices; d && i; d = d->next) {
			i--;
			snprintf(rows[i].name, sizeof(rows[i].name), "%s", d->name);
			snprintf(rows[i].driver, sizeof(rows[i].driver), "%s",
				 d->driver ? d->driver->name : "");
			rows[i].node = d->numa_node;
		}
	}
	pthread_mutex_unlock(&m->device_lock);
	*nr = rows ? n : 0;
	return rows;
}

static void devices_text(struct zd_machine *m, FILE *f)
{
	size_t n;
	struct dev_row *rows = collect_devices(m, &n);

	if (!n)
		fprintf(f, "(no devices)\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%-16s driver=%-14s node=%d\n", rows[i].name,
			rows[i].driver[0] ? rows[i].driver : "-", rows[i].node);
	free(rows);
}

static void devices_json(struct zd_machine *m, struct jw *w)
{
	size_t n;
	struct dev_row *rows = collect_devices(m, &n);

	jw_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(w);
		jw_kstr(w, "name", rows[i].name);
		if (rows[i].driver[0])
			jw_kstr(w, "driver", rows[i].driver);
		else
			jw_key(w, "driver"), jw_null(w);
		jw_ki64(w, "node", rows[i].node);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	free(rows);
}

/* ---------- gpu_memory: each dmirror GPU's VRAM, chunk by chunk ---------- */

static void gpu_memory(struct zd_machine *m, FILE *f, struct jw *w)
{
	size_t n, gpus = 0;
	struct dev_row *rows = collect_devices(m, &n);

	if (w)
		jw_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		struct zd_dmirror_device *mdev = strcmp(rows[i].driver, "hmm_dmirror") ? NULL :
						 zd_dmirror_find(m, rows[i].name);
		struct zd_dmirror_chunk_usage u;
		struct zd_dmirror_stats st;

		if (!mdev)
			continue;
		gpus++;
		zd_dmirror_get_stats(mdev, &st);
		if (f)
			fprintf(f, "%s: %" PRIu64 " chunks, %" PRIu64 " MiB registered, %" PRIu64
				" pages in use\n", rows[i].name, st.chunks, st.registered_bytes >> 20,
				st.calloc - st.cfree);
		if (w) {
			jw_obj_begin(w);
			jw_kstr(w, "name", rows[i].name);
			jw_ku64(w, "registered_bytes", st.registered_bytes);
			jw_ku64(w, "pages_in_use", st.calloc - st.cfree);
			jw_key(w, "chunks");
			jw_arr_begin(w);
		}
		for (unsigned c = 0; !zd_dmirror_chunk_usage(mdev, c, &u); c++) {
			uint64_t used = u.pages - u.free_pages - u.free_run_pages;

			if (f)
				fprintf(f, "  chunk %u: %s 0x%" PRIx64 "-0x%" PRIx64 ": %" PRIu64
					" pages, %" PRIu64 " in use, %" PRIu64 " free, %" PRIu64
					" free in %" PRIu64 " PMD-sized runs\n", c,
					u.offsets ? "offsets" : "pfns", u.first, u.first + u.pages - 1,
					u.pages, used, u.free_pages, u.free_run_pages,
					u.free_run_pages >> (m->arch.pt[ZD_PT_PMD].shift -
							     m->arch.page_shift));
			if (w) {
				jw_obj_begin(w);
				jw_ku64(w, u.offsets ? "first_offset" : "first_pfn", u.first);
				jw_ku64(w, "pages", u.pages);
				jw_ku64(w, "in_use", used);
				jw_ku64(w, "free", u.free_pages);
				jw_ku64(w, "free_in_pmd_runs", u.free_run_pages);
				jw_obj_end(w);
			}
		}
		if (w) {
			jw_arr_end(w);
			jw_obj_end(w);
		}
	}
	if (w)
		jw_arr_end(w);
	if (f && !gpus)
		fprintf(f, "(no GPUs)\n");
	free(rows);
}

/* mirrors: each GPU's open mirrors and their tables (zd_dmirror_show) */
static void mirrors_text(struct zd_machine *m, FILE *f)
{
	size_t n, gpus = 0;
	struct dev_row *rows = collect_devices(m, &n);

	for (size_t i = 0; i < n; i++) {
		struct zd_dmirror_device *mdev = strcmp(rows[i].driver, "hmm_dmirror") ? NULL :
						 zd_dmirror_find(m, rows[i].name);

		if (mdev) {
			zd_dmirror_show(mdev, f);
			gpus++;
		}
	}
	if (!gpus)
		fprintf(f, "(no GPUs)\n");
	free(rows);
}

static void gpu_memory_text(struct zd_machine *m, FILE *f)
{
	gpu_memory(m, f, NULL);
}

static void gpu_memory_json(struct zd_machine *m, struct jw *w)
{
	gpu_memory(m, NULL, w);
}

/* ---------- meminfo ---------- */

/* One "Name:   123 kB" line per key of the object being written; the
 * colon is optional. */
static void meminfo_fields(struct zd_machine *m, void (*show)(struct zd_machine *, FILE *),
			   struct jw *w)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	show(m, f);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t klen = strcspn(line, ": \t");
		char *val = line + klen, *end;
		unsigned long long v;

		if (!klen || !*val)
			continue;
		*val++ = '\0';
		val += strspn(val, ": \t");
		v = strtoull(val, &end, 10);
		while (*end == ' ')
			end++;
		if (end != val && (!*end || !strcmp(end, "kB")))
			jw_ku64(w, line, v);
		else
			jw_kstr(w, line, val);
	}
	free(buf);
}

/* The kernel's fields, then zonedev's own under "zonedev". */
static void meminfo_json(struct zd_machine *m, struct jw *w)
{
	jw_obj_begin(w);
	meminfo_fields(m, zd_meminfo_show, w);
	jw_key(w, "zonedev");
	jw_obj_begin(w);
	meminfo_fields(m, zd_meminfo_zonedev_show, w);
	jw_obj_end(w);
	jw_obj_end(w);
}

static void meminfo_text(struct zd_machine *m, FILE *f)
{
	zd_meminfo_show(m, f);
	fputs("\n# zonedev's own figures (not in the kernel's /proc/meminfo):\n", f);
	zd_meminfo_zonedev_show(m, f);
}

/* ---------- buddyinfo ---------- */

static void buddyinfo_json(struct zd_machine *m, struct jw *w)
{
	jw_arr_begin(w);
	for (int n = 0; n < m->nr_nodes && n < ZD_MAX_NUMNODES; n++) {
		struct zd_pglist_data *pg = m->node_data[n];

		for (int z = 0; pg && z < ZD_MAX_NR_ZONES; z++) {
			struct zd_zone *zone = &pg->node_zones[z];

			if (!zone->present_pages)
				continue;
			jw_obj_begin(w);
			jw_ki64(w, "node", n);
			jw_kstr(w, "zone", zone->name ? zone->name : zd_zone_names[z]);
			jw_key(w, "nr_free");
			jw_arr_begin(w);
			for (unsigned o = 0; o <= m->arch.max_page_order && o <= ZD_MAX_ORDER_LIMIT; o++)
				jw_u64(w, zone->free_area[o].nr_free);
			jw_arr_end(w);
			jw_obj_end(w);
		}
	}
	jw_arr_end(w);
}

/* ---------- zoneinfo ---------- */

static void zoneinfo_json(struct zd_machine *m, struct jw *w)
{
	jw_arr_begin(w);
	for (int n = 0; n < m->nr_nodes && n < ZD_MAX_NUMNODES; n++) {
		struct zd_pglist_data *pg = m->node_data[n];

		if (!pg)
			continue;
		jw_obj_begin(w);
		jw_ki64(w, "node", n);
		jw_kbool(w, "online", pg->online);
		jw_khex(w, "start_pfn", pg->node_start_pfn);
		jw_ku64(w, "spanned", pg->node_spanned_pages);
		jw_ku64(w, "present", pg->node_present_pages);
		jw_key(w, "zones");
		jw_arr_begin(w);
		for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
			struct zd_zone *zone = &pg->node_zones[z];

			jw_obj_begin(w);
			jw_kstr(w, "zone", zone->name ? zone->name : zd_zone_names[z]);
			jw_khex(w, "start_pfn", zone->zone_start_pfn);
			jw_ku64(w, "spanned", zone->spanned_pages);
			jw_ku64(w, "present", zone->present_pages);
			jw_ki64(w, "managed", __atomic_load_n(&zone->managed_pages, __ATOMIC_RELAXED));
			jw_ki64(w, "free", __atomic_load_n(&zone->nr_free_pages, __ATOMIC_RELAXED));
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* ---------- memory blocks ---------- */

struct blocks {
	struct zd_memory_block *v;
	size_t n, cap;
};

static int collect_block(const struct zd_memory_block *mb, void *arg)
{
	struct blocks *b = arg;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct zd_memory_block *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *mb;
	return 0;
}

static void memory_blocks_json(struct zd_machine *m, struct jw *w)
{
	struct blocks b = { 0 };

	/* Copy first: valid_zones may take locks the iteration holds. */
	zd_for_each_memory_block(m, &b, collect_block);
	jw_obj_begin(w);
	jw_ku64(w, "block_size_bytes", zd_memory_block_size_bytes(m));
	jw_key(w, "blocks");
	jw_arr_begin(w);
	for (size_t i = 0; i < b.n; i++) {
		char zones[128] = "";
		char name[32];

		snprintf(name, sizeof(name), "memory%" PRIu64, b.v[i].id);
		jw_obj_begin(w);
		jw_kstr(w, "name", name);
		jw_ku64(w, "id", b.v[i].id);
		jw_khex(w, "start", (uint64_t)b.v[i].id * zd_memory_block_size_bytes(m));
		jw_ku64(w, "phys_index", b.v[i].start_section_nr);
		jw_kstr(w, "state", zd_mem_state_name(b.v[i].state));
		jw_ki64(w, "node", b.v[i].nid);
		if (b.v[i].state == ZD_MEM_ONLINE && (unsigned)b.v[i].zone < ZD_MAX_NR_ZONES)
			jw_kstr(w, "zone", zd_zone_names[b.v[i].zone]);
		if (!zd_memory_block_valid_zones(m, b.v[i].id, zones, sizeof(zones)))
			jw_kstr(w, "valid_zones", zones);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
	free(b.v);
}

/* ---------- sections ---------- */

static void sections_json(struct zd_machine *m, struct jw *w)
{
	const struct zd_arch *a = &m->arch;
	uint64_t last = m->highest_present_section_nr;

	jw_obj_begin(w);
	jw_ku64(w, "section_size_bytes", 1ULL << a->section_size_bits);
	jw_ku64(w, "subsections_per_section", a->subsections_per_section);
	jw_key(w, "sections");
	jw_arr_begin(w);
	for (uint64_t nr = 0; nr <= last && nr < a->nr_mem_sections;) {
		struct zd_mem_section *ms = zd_nr_to_section(m, nr);
		unsigned long word;
		unsigned populated = 0;
		uint64_t start;

		if (!ms) {
			/* No root page: skip the whole root. */
			nr = (nr / a->sections_per_root + 1) * a->sections_per_root;
			continue;
		}
		word = zd_section_word(ms);
		if (!(word & ZD_SECTION_MARKED_PRESENT)) {
			nr++;
			continue;
		}
		start = zd_pfn_phys(a, zd_section_nr_to_pfn(a, nr));
		jw_obj_begin(w);
		jw_ku64(w, "nr", nr);
		jw_khex(w, "start", start);
		jw_khex(w, "end", start + (1ULL << a->section_size_bits) - 1);
		jw_key(w, "flags");
		jw_arr_begin(w);
		for (int i = 0; section_flag_names[i].name; i++)
			if (word & section_flag_names[i].bit)
				jw_str(w, section_flag_names[i].name);
		jw_arr_end(w);
		if (ms->usage)
			for (unsigned i = 0; i < a->subsections_per_section; i++)
				if (ms->usage->subsection_map[i / (8 * sizeof(long))] &
				    (1UL << (i % (8 * sizeof(long)))))
					populated++;
		jw_ku64(w, "subsections_populated", populated);
		jw_obj_end(w);
		nr++;
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

/* ---------- dmesg ---------- */

static void dmesg_json(struct zd_machine *m, struct jw *w)
{
	struct zd_log_line *lines = calloc(ZD_LOG_RING, sizeof(*lines));
	size_t n = lines ? zd_log_read(m, 0, lines, ZD_LOG_RING) : 0;

	/* Like the text report: what the console shows (debug lines carry
	 * timings and appear only when --log-level/--dyndbg ask for them). */
	jw_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		if (!zd_log_visible(m, &lines[i]))
			continue;
		jw_obj_begin(w);
		jw_ku64(w, "seq", lines[i].seq);
		jw_kstr(w, "level", (unsigned)lines[i].level < 8 ? level_names[lines[i].level] : "?");
		jw_kstr(w, "text", lines[i].text);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	free(lines);
}

/* ---------- library JSON dumps (iomem, ndctl namespaces) ---------- */

void report_dump_json(struct zd_machine *m, void (*dump)(struct zd_machine *, FILE *),
		      const char *if_empty, struct jw *w)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		jw_null(w);
		return;
	}
	dump(m, f);
	fclose(f);
	jw_raw(w, buf ? buf : if_empty);
	free(buf);
}

static void iomem_json(struct zd_machine *m, struct jw *w)
{
	report_dump_json(m, zd_iomem_dump_json, "null", w);
}

/* Reports whose JSON is their text, line by line, in a "text" array. */
static void text_lines_json(struct zd_machine *m, struct jw *w,
			    void (*text)(struct zd_machine *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	jw_obj_begin(w);
	jw_key(w, "text");
	jw_arr_begin(w);
	if (f) {
		text(m, f);
		fclose(f);
		for (char *l = buf, *nl; l && *l; l = nl + 1) {
			nl = strchr(l, '\n');
			if (!nl)
				nl = l + strlen(l) - 1;
			else
				*nl = 0;
			jw_str(w, l);
		}
	}
	jw_arr_end(w);
	jw_obj_end(w);
	free(buf);
}

static void smaps_rollup_json(struct zd_machine *m, struct jw *w)
{
	text_lines_json(m, w, smaps_rollup_text);
}

static void page_tables_json(struct zd_machine *m, struct jw *w)
{
	text_lines_json(m, w, page_tables_text);
}

static void vmstat_json(struct zd_machine *m, struct jw *w)
{
	text_lines_json(m, w, zd_vmstat_show);
}

static void pci_json(struct zd_machine *m, struct jw *w)
{
	text_lines_json(m, w, zd_pci_dump_tree);
}

static void mirrors_json(struct zd_machine *m, struct jw *w)
{
	text_lines_json(m, w, mirrors_text);
}

static void pci_devices_json(struct zd_machine *m, struct jw *w)
{
	text_lines_json(m, w, zd_pci_sysfs_show);
}

static void p2pdma_json(struct zd_machine *m, struct jw *w)
{
	text_lines_json(m, w, zd_pci_p2pdma_show);
}

/* Each report as text (mostly the library's own formatter) and as JSON. */
static const struct {
	void (*text)(struct zd_machine *m, FILE *f);
	void (*json)(struct zd_machine *m, struct jw *w);
} reports[RP_NR] = {
	[RP_IOMEM] = { zd_iomem_dump, iomem_json },
	[RP_MEMINFO] = { meminfo_text, meminfo_json },
	[RP_ZONEINFO] = { zd_zoneinfo_show, zoneinfo_json },
	[RP_MEMORY_BLOCKS] = { zd_memory_blocks_show, memory_blocks_json },
	[RP_SECTIONS] = { zd_sections_show, sections_json },
	[RP_DMESG] = { zd_log_dump_console, dmesg_json },
	[RP_VMEMMAP] = { vmemmap_text, vmemmap_json },
	[RP_NAMESPACES] = { namespaces_text, namespaces_json },
	[RP_DEVICES] = { devices_text, devices_json },
	[RP_BUDDYINFO] = { zd_buddyinfo_show, buddyinfo_json },
	[RP_MAPS] = { maps_text, maps_json },
	[RP_SMAPS_ROLLUP] = { smaps_rollup_text, smaps_rollup_json },
	[RP_PAGE_TABLES] = { page_tables_text, page_tables_json },
	[RP_VMSTAT] = { zd_vmstat_show, vmstat_json },
	[RP_PCI] = { zd_pci_dump_tree, pci_json },
	[RP_PCI_DEVICES] = { zd_pci_sysfs_show, pci_devices_json },
	[RP_P2PDMA] = { zd_pci_p2pdma_show, p2pdma_json },
	[RP_GPU_MEMORY] = { gpu_memory_text, gpu_memory_json },
	[RP_MIRRORS] = { mirrors_text, mirrors_json },
};

void report_text(struct zd_machine *m, enum report_kind k, FILE *f)
{
	reports[k].text(m, f);
	fflush(f);
}

void report_json(struct zd_machine *m, enum report_kind k, struct jw *w)
{
	reports[k].json(m, w);
}
