/*
 * Shared test helpers (see helpers.h).
 */
#include "helpers.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- clocks, threads */

double tap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tap_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

void tap_join_or_bail(pthread_t tid, int secs, const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	if (pthread_timedjoin_np(tid, NULL, &ts)) {
		ok(0, "%s: thread did not finish within %d s", what, secs);
		fflush(stdout);
		exit(done_testing() | 1);
	}
}

/* ---------------------------------------------------------------- machines, text */

struct zd_machine *tap_machine(const char *arch, unsigned phys_bits, phys_addr_t ram_start,
			       phys_addr_t ram_size, const struct zd_mem_range *rsv,
			       size_t nr_rsv)
{
	struct zd_mem_range ram[] = { { .start = ram_start, .size = ram_size, .node = 0 } };
	struct zd_machine_desc d = {
		.arch = arch, .phys_bits = phys_bits, .ram = ram, .nr_ram = 1,
		.reserved = rsv, .nr_reserved = nr_rsv,
	};
	struct zd_machine *m = zd_machine_create(&d);

	if (!ok(!ZD_IS_ERR_OR_NULL(m), "create a %s machine", arch)) {
		diag("zd_machine_create(%s) failed: %s", arch, zd_machine_create_error());
		return NULL;
	}
	return m;
}

uint64_t tap_smaps_rollup_kb(struct zd_mm *mm, const char *field)
{
	char *text = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	uint64_t kb = UINT64_MAX;

	zd_show_smaps_rollup(mm, f);
	fclose(f);
	p = strstr(text, field);
	if (p)
		kb = strtoull(p + strlen(field), NULL, 10);
	free(text);
	return kb;
}

uint64_t tap_pfn_at(struct zd_mm *mm, uint64_t addr)
{
	const struct zd_arch *a = &mm->m->arch;
	enum zd_pt_level level;
	struct zd_page *page;
	zd_pte_t e = zd_follow_pte(mm, addr, &level, &page);

	if (!a->pgtable->pte_present(a, e))
		return ZD_BAD_PFN;
	return a->pgtable->leaf_pfn(a, ZD_PT_PTE, e);
}

bool tap_log_since(struct zd_machine *m, unsigned long seq, const char *needle)
{
	static struct zd_log_line lines[ZD_LOG_RING];
	size_t n = zd_log_read(m, seq, lines, ZD_LOG_RING);

	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i].text, needle))
			return true;
	return false;
}

char *tap_dump_text(struct zd_machine *m, void (*dump)(struct zd_machine *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	dump(m, f);
	fclose(f);
	return buf;
}

char *tap_iomem_text(struct zd_machine *m)
{
	return tap_dump_text(m, zd_iomem_dump);
}

/* ---------------------------------------------------------------- sparse sections */

int tap_add_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr, struct zd_vmem_altmap *altmap)
{
	struct zd_mhp_params p = { .pgprot = 1, .altmap = altmap };
	int rc;

	zd_mem_hotplug_begin(m);
	rc = zd___add_pages(m, 0, pfn, nr, &p);
	zd_mem_hotplug_done(m);
	return rc;
}

void tap_remove_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr,
		      struct zd_vmem_altmap *altmap)
{
	zd_mem_hotplug_begin(m);
	zd___remove_pages(m, pfn, nr, altmap);
	zd_mem_hotplug_done(m);
}

unsigned long tap_section_word(struct zd_machine *m, uint64_t nr)
{
	return zd_section_word(zd_nr_to_section(m, nr));
}

static int count_block(const struct zd_memory_block *mb, void *arg)
{
	(void)mb;
	(*(uint64_t *)arg)++;
	return 0;
}

void tap_sect_snap_take(struct zd_machine *m, struct tap_sect_snap *s, uint64_t first, unsigned n)
{
	memset(s, 0, sizeof(*s));
	s->first = first;
	s->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct zd_mem_section *ms = zd_nr_to_section(m, first + i);
		s->word[i] = zd_section_word(ms);
		s->usage[i] = ms && ms->usage;
		if (s->usage[i])
			memcpy(s->map[i], ms->usage->subsection_map, sizeof(s->map[i]));
	}
	s->iomem = tap_iomem_text(m);
	s->mapped = m->vmemmap_mapped_bytes;
	zd_for_each_memory_block(m, &s->blocks, count_block);
}

bool tap_sect_snap_same(const struct tap_sect_snap *a, const struct tap_sect_snap *b)
{
	bool same = true;

	for (unsigned i = 0; i < a->n; i++) {
		if (a->word[i] != b->word[i] || a->usage[i] != b->usage[i] ||
		    memcmp(a->map[i], b->map[i], sizeof(a->map[i]))) {
			diag("section %llu: word %#lx -> %#lx, usage %d -> %d, map %#lx -> %#lx",
			     (unsigned long long)(a->first + i), a->word[i], b->word[i], a->usage[i],
			     b->usage[i], a->map[i][0], b->map[i][0]);
			same = false;
		}
	}
	if (strcmp(a->iomem, b->iomem)) {
		diag("iomem changed:\n%s---\n%s", a->iomem, b->iomem);
		same = false;
	}
	if (a->mapped != b->mapped) {
		diag("vmemmap_mapped_bytes %ld -> %ld", a->mapped, b->mapped);
		same = false;
	}
	if (a->blocks != b->blocks) {
		diag("memory blocks %llu -> %llu", (unsigned long long)a->blocks,
		     (unsigned long long)b->blocks);
		same = false;
	}
	return same;
}

void tap_sect_snap_free(struct tap_sect_snap *s)
{
	free(s->iomem);
}

/* ---------------------------------------------------------------- info blocks */

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

void tap_must_uuid(const char *s, uint8_t out[16])
{
	if (zd_nd_uuid_parse(s, out)) {
		fprintf(stderr, "bad uuid literal %s\n", s);
		exit(2);
	}
}

const struct tap_golden tap_goldens[] = {
	{ "fsdax-dev.infoblock.bin", ZD_ND_FSDAX, ZD_ND_MAP_DEV, 2 * M,
	  "ec094fe8-1049-456b-884d-fe695d359ed0", "66f03805-c073-4165-9b0b-1d8c7b0a0307",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "fsdax-dev-4K.infoblock.bin", ZD_ND_FSDAX, ZD_ND_MAP_DEV, 4 * K,
	  "80b3ff16-bd92-4d76-8a3e-ba1b8998b78c", "96e54486-254b-4769-af1b-78937d4bdfd3",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "fsdax-mem.infoblock.bin", ZD_ND_FSDAX, ZD_ND_MAP_MEM, 2 * M,
	  "2c62f7b8-ee69-4039-8248-d193260f6e53", "8a850927-8feb-49d3-9a20-e4d9e1bf01dc",
	  2 * M, (8 * G - 2 * M) / 4096 },
	{ "devdax-2M.infoblock.bin", ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 2 * M,
	  "118cf8cd-1fc8-46a0-8b4e-cd803f9af1b2", "317c1a79-c380-41d1-8690-2a96acf6a4e2",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "devdax-4K.infoblock.bin", ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 4 * K,
	  "b72e8011-4d66-4aa3-b72c-fe9c3c7d4f44", "083ae87e-7c02-4f9f-b050-b264c7230628",
	  130 * M, (8 * G - 130 * M) / 4096 },
	{ "devdax-1G.infoblock.bin", ZD_ND_DEVDAX, ZD_ND_MAP_DEV, 1 * G,
	  "cf9b2e22-17b1-4091-a89d-69677d77dda9", "d244977c-b168-423a-9452-ee9f40a10be0",
	  1 * G, 7 * G / 4096 },
};
const size_t tap_nr_goldens = sizeof(tap_goldens) / sizeof(tap_goldens[0]);

void tap_golden_ctx(const struct tap_golden *g, struct zd_nd_pfn_validate_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = g->kind;
	tap_must_uuid(g->parent_uuid, c->parent_uuid);
	c->start = TAP_ND_REGION_BASE;
	c->size = TAP_ND_REGION_SIZE;
}

static bool dir_has_blocks(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, tap_goldens[0].file);
	return access(path, R_OK) == 0;
}

bool tap_wait_for_log(struct zd_machine *m, unsigned long seq, const char *needle, int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		if (tap_log_since(m, seq, needle))
			return true;
		tap_sleep_ms(10);
	}
	return false;
}

bool tap_addr_inaccessible(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, a = (unsigned long)addr;
	char perms[8], line[512];
	bool none = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
			none = !strncmp(perms, "---", 3);
			break;
		}
	fclose(f);
	return none;
}

const char *tap_golden_dir(void)
{
	static char dir[2048];
	const char *src = getenv("ZD_SRCDIR");

	/* The blocks ship in the repository: a missing one is a failure. */
	snprintf(dir, sizeof(dir), "%s/tests/data/kernel-infoblocks", src && *src ? src : ".");
	return dir_has_blocks(dir) ? dir : NULL;
}

bool tap_load_block(const char *dir, const char *file, struct zd_nd_pfn_sb *sb)
{
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	if (!f)
		return false;
	n = fread(sb, 1, sizeof(*sb), f);
	fclose(f);
	return n == sizeof(*sb);
}

void tap_nd_table_params(struct zd_nd_pfn_params *p, enum zd_nd_pfn_kind kind,
			 enum zd_nd_pfn_mode map, uint64_t align)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->map = map;
	p->align = align;
	p->start = 0x240000000ULL;
	p->size = 16 * G;
	tap_must_uuid("11111111-2222-3333-4444-555555555555", p->uuid);
	tap_must_uuid("66666666-7777-8888-9999-aaaaaaaaaaaa", p->parent_uuid);
}

void tap_pgmap_setup(struct zd_dev_pagemap *pg, enum zd_memory_type type, uint64_t start,
		     uint64_t size, unsigned shift)
{
	zd_dev_pagemap_init(pg);
	pg->type = type;
	pg->range.start = start;
	pg->range.end = start + size - 1;
	pg->nr_range = 1;
	pg->vmemmap_shift = shift;
}

void tap_pgmap_altmap(struct zd_dev_pagemap *pg, int fd, uint64_t reserve, uint64_t free)
{
	pg->backing_fd = fd;
	pg->flags |= ZD_PGMAP_ALTMAP_VALID;
	pg->altmap.base_pfn = pg->range.start >> 12;
	pg->altmap.reserve = reserve;
	pg->altmap.free = free;
}

struct zd_pci_dev *tap_pci_ep(struct zd_pci_dev *port, uint64_t bar0, uint64_t bar2)
{
	struct zd_pci_endpoint_desc d = { .vendor = 0x144d, .device = 0xa808, .nr_functions = 1,
					  .bar_size = { bar0, 0, bar2 } };

	return zd_pci_endpoint_add(port, &d);
}
