/*
 * Machine boot and teardown: from a description (or an imported
 * /proc/iomem) to a running machine with its address space, sparse model,
 * vmemmap window, nodes, zones, boot RAM in the buddy and memory blocks.
 * Teardown runs the same steps in reverse and leaves nothing mapped or
 * allocated. Invariant: a failed create has undone every step it made.
 */
#include <zonedev/err.h>
#include <zonedev/gfp.h>
#include <zonedev/machine.h>
#include <zonedev/mm.h>
#include <zonedev/memory.h>
#include <zonedev/nvdimm.h>
#include <zonedev/pci.h>
#include <zonedev/test_hmm.h>
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/device.h>
#include "base/rangemap.h"
#include "mm/internal.h"
#include "base/align.h"
#include "base/rwlock.h"


static __thread char create_error[1024];
static __thread struct zd_desc_blame create_blame;

const char *zd_version(void)
{
	return ZONEDEV_VERSION;
}

const char *zd_machine_create_error(void)
{
	return create_error;
}

struct zd_desc_blame zd_machine_create_blame(void)
{
	return create_blame;
}

static void blame(const struct zd_machine_desc *desc, enum zd_desc_list list, size_t i)
{
	/* imported ranges are not entries of the description: the file is */
	if (desc->iomem_path && (list == ZD_DESC_RAM || list == ZD_DESC_RESERVED))
		list = ZD_DESC_IOMEM;
	create_blame = (struct zd_desc_blame){ list, i };
}

static struct zd_machine *fail(struct zd_machine *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct zd_machine *fail(struct zd_machine *m, int err, const char *fmt, ...)
{
	char msg[sizeof(create_error)];
	va_list ap;

	/* fmt's arguments may point into create_error itself. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(create_error, msg, sizeof(msg));
	if (m) {
		zd_pr_err(m, "machine: %s", create_error);
		zd_machine_destroy(m);
	}
	return ZD_ERR_PTR(err);
}

/* memory_block_size_bytes(): x86's rule from the boot memory end, else the arch minimum. */
static uint64_t arch_block_size(const struct zd_arch *a, uint64_t boot_end)
{
	uint64_t bz = a->min_memory_block_size;

	if (!a->x86_block_size_rule || boot_end < SZ_64G)
		return bz;
	/* A simulated machine counts as a guest: largest power of two up to
	 * 2 GiB that divides the end of boot memory. */
	for (uint64_t b = SZ_2G; b >= bz; b >>= 1)
		if (!(boot_end & (b - 1)))
			return b;
	return bz;
}

static unsigned long desc_for_name(const char *name)
{
	static const struct { const char *name; unsigned long desc; } map[] = {
		{ "Reserved", ZD_IORES_DESC_RESERVED },
		{ "Soft Reserved", ZD_IORES_DESC_SOFT_RESERVED },
		{ "Persistent Memory", ZD_IORES_DESC_PERSISTENT_MEMORY },
		{ "Persistent Memory (legacy)", ZD_IORES_DESC_PERSISTENT_MEMORY_LEGACY },
		{ "ACPI Tables", ZD_IORES_DESC_ACPI_TABLES },
		{ "ACPI Non-volatile Storage", ZD_IORES_DESC_ACPI_NV_STORAGE },
		{ "CXL Window", ZD_IORES_DESC_CXL },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strncmp(name, map[i].name, strlen(map[i].name)))
			return map[i].desc;
	return ZD_IORES_DESC_NONE;
}

/* The newest log line: the place that refused says why there. */
static const char *last_log_line(struct zd_machine *m)
{
	static __thread struct zd_log_line l;

	if (zd_log_read(m, zd_log_seq(m) ? zd_log_seq(m) - 1 : 0, &l, 1) != 1)
		return "";
	return l.text;
}

/*
 * An imported entry with exactly the range of a top-level System RAM was
 * nested under it in the file (siblings cannot overlap): inserting it at the
 * root would make it adopt the RAM, as insert_resource() does with an
 * identical range, and turn the nesting upside down. Boot is single-threaded:
 * the tree is read without its lock.
 */
static struct zd_resource *identical_boot_ram(struct zd_machine *m, const struct zd_mem_range *r)
{
	for (struct zd_resource *p = m->iomem_resource.child; p; p = p->sibling)
		if (p->start == r->start && p->end == r->start + r->size - 1 &&
		    (p->flags & ZD_IORESOURCE_SYSRAM))
			return p;
	return &m->iomem_resource;
}

static int insert_firmware_range(struct zd_machine *m, const struct zd_mem_range *r, bool import)
{
	const char *name = r->name ? r->name : "Reserved";
	struct zd_resource *res = zd_resource_alloc(name, r->start, r->size, ZD_IORESOURCE_MEM,
						    desc_for_name(name));
	int rc;

	if (!res)
		return -ENOMEM;
	rc = zd_insert_resource(m, import ? identical_boot_ram(m, r) : &m->iomem_resource, res);
	if (rc)
		zd_resource_free(res);
	return rc;
}

static void init_node(struct zd_machine *m, struct zd_pglist_data *pgdat, int nid)
{
	pgdat->node_id = nid;
	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		struct zd_zone *zone = &pgdat->node_zones[z];
		zone->zone_pgdat = pgdat;
		zone->idx = (enum zd_zone_type)z;
		zone->name = zd_zone_names[z];
		pthread_mutex_init(&zone->lock, NULL);
		zd_zone_init_free_lists(zone);
	}
	(void)m;
}

/* Boot RAM [pfn, pfn+nr) of one zone: memmap, span, presence. The buddy
 * gets the pages later, from memblock_free_all(). */
static void boot_zone_range(struct zd_machine *m, int nid, enum zd_zone_type zt, uint64_t pfn,
			    uint64_t nr)
{
	struct zd_pglist_data *pgdat = m->node_data[nid];
	struct zd_zone *zone = &pgdat->node_zones[zt];

	if (!nr)
		return;
	if (zd_zone_is_empty(zone))
		zd_init_currently_empty_zone(zone, pfn, nr);
	zd_resize_range(&zone->zone_start_pfn, &zone->spanned_pages, pfn, nr);
	zd_resize_range(&pgdat->node_start_pfn, &pgdat->node_spanned_pages, pfn, nr);
	zone->present_pages += nr;
	pgdat->node_present_pages += nr;
	zd_memmap_init_range(m, nr, nid, (int)zt, pfn, NULL, ZD_MIGRATE_MOVABLE, false);
}

static void boot_pfns(const struct zd_arch *a, const struct zd_mem_range *r, uint64_t *pfn,
		      uint64_t *end)
{
	*pfn = (r->start + a->page_size - 1) >> a->page_shift;
	*end = (r->start + r->size) >> a->page_shift;
}

/* e820 and memblock_add(): the range is System RAM and boot memory. */
static int boot_ram_add(struct zd_machine *m, const struct zd_mem_range *r)
{
	uint64_t pfn, end;

	boot_pfns(&m->arch, r, &pfn, &end);
	if (!__zd_request_region(m, &m->iomem_resource, r->start, r->size, "System RAM",
				 ZD_IORESOURCE_SYSRAM))
		return -EEXIST;
	if (end <= pfn)
		return 0;
	if (!zd_vmemmap_covers(m, pfn, end - pfn))
		return -ERANGE;
	m->node_data[r->node]->online = true;
	return zd_memblock_add(m, pfn, end - pfn, r->node);
}

/* sparse_init() and free_area_init() for one range: memmap (from
 * memblock), contents, zones (DMA, DMA32, Normal) and presence. */
static void boot_pages(const struct zd_arch *a, const struct zd_mem_range *r, uint64_t *sum)
{
	uint64_t pfn, end;

	boot_pfns(a, r, &pfn, &end);
	if (end > pfn)
		*sum += end - pfn;
}

/* Pages of the sections a RAM range touches (its boot memmap). */
static uint64_t boot_section_pages(const struct zd_arch *a, const struct zd_mem_range *r)
{
	uint64_t pfn, end;

	boot_pfns(a, r, &pfn, &end);
	if (end <= pfn)
		return 0;
	pfn &= ~(a->pages_per_section - 1);
	end = ZD_ALIGN(end, a->pages_per_section);
	return end - pfn;
}

static int boot_ram_range(struct zd_machine *m, const struct zd_mem_range *r)
{
	const struct zd_arch *a = &m->arch;
	uint64_t pfn, end, limits[2] = { a->dma_limit >> a->page_shift,
					 a->dma32_limit >> a->page_shift };
	static const enum zd_zone_type below[2] = { ZD_ZONE_DMA, ZD_ZONE_DMA32 };
	int rc;

	boot_pfns(a, r, &pfn, &end);
	if (end <= pfn)
		return 0;
	rc = zd_sparse_init_boot_range(m, r->node, pfn, end - pfn);
	if (!rc)
		rc = zd_physmem_map_ram(m, pfn, end - pfn);
	if (rc)
		return rc;
	for (int z = 0; z < 2; z++) {
		if (pfn < limits[z]) {
			uint64_t e = end < limits[z] ? end : limits[z];
			boot_zone_range(m, r->node, below[z], pfn, e - pfn);
			pfn = e;
		}
	}
	boot_zone_range(m, r->node, ZD_ZONE_NORMAL, pfn, end - pfn);
	if (end > m->max_pfn)
		m->max_pfn = m->max_low_pfn = end;
	return 0;
}

/* memory_dev_init(): a block for every present boot section, online. */
static int boot_memory_blocks(struct zd_machine *m)
{
	const struct zd_arch *a = &m->arch;
	uint64_t spb = m->memory_block_size >> a->section_size_bits;

	for (uint64_t nr = 0; nr <= m->highest_present_section_nr; nr++) {
		struct zd_mem_section *ms = zd_nr_to_section(m, nr);
		struct zd_memory_block mb;
		int rc;

		if (!zd_present_section(ms) || !zd_memory_block_get(m, nr / spb, &mb))
			continue;
		/* early_node_zone_for_memory_block(): the block's zone, or none
		 * when its RAM lies in two zones (memory0 on x86: DMA and DMA32). */
		uint64_t bpfn = zd_section_nr_to_pfn(a, (nr / spb) * spb);
		uint64_t bend = bpfn + (m->memory_block_size >> a->page_shift);
		struct zd_page *first = NULL;
		enum zd_zone_type zone = ZD_ZONE_NORMAL;
		for (uint64_t p = bpfn; p < bend; p += 1ULL << a->pageblock_order) {
			struct zd_page *pg;
			if (!zd_pfn_valid(m, p) || !zd_page_is_ram(m, p))
				continue;
			pg = zd_pfn_to_page(m, p);
			if (!first) {
				first = pg;
				zone = (enum zd_zone_type)zd_page_zonenum(pg);
			} else if (zd_page_zonenum(pg) != (int)zone) {
				zone = ZD_MEMBLOCK_ZONE_NONE;
			}
		}
		rc = zd_create_memory_block_devices(m, (nr / spb) * m->memory_block_size,
						    m->memory_block_size,
						    first ? zd_page_to_nid(first) : 0, ZD_MEM_ONLINE,
						    zone);
		if (rc)
			return rc;
	}
	return 0;
}

static int import_iomem(struct zd_machine *m, const char *path, struct zd_mem_range **ram,
			size_t *nr_ram, struct zd_mem_range **other, size_t *nr_other,
			char ***names)
{
	struct zd_iomem_entry *e = NULL;
	size_t n = 0, nn = 0;
	char err[160];
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		snprintf(create_error, sizeof(create_error), "cannot open %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	rc = zd_iomem_parse(f, &e, &n, err, sizeof(err));
	fclose(f);
	if (rc) {
		snprintf(create_error, sizeof(create_error), "%s: %s", path, err);
		return rc;
	}
	*ram = calloc(n + 1, sizeof(**ram));
	*other = calloc(n + 1, sizeof(**other));
	*names = calloc(n + 1, sizeof(char *));
	if (!*ram || !*other || !*names) {
		free(e);
		return -ENOMEM;
	}
	/* Top-level System RAM is boot RAM; every other entry, nested ones too,
	 * goes in as a firmware range. */
	for (size_t i = 0; i < n; i++) {
		struct zd_mem_range r = { .start = e[i].start, .size = e[i].end - e[i].start + 1 };
		if (!e[i].depth && !strcmp(e[i].name, "System RAM")) {
			(*ram)[(*nr_ram)++] = r;
		} else {
			(*names)[nn] = strdup(e[i].name);
			r.name = (*names)[nn++];
			(*other)[(*nr_other)++] = r;
		}
	}
	free(e);
	return 0;
}

static int check_ranges(struct zd_machine *m, const struct zd_machine_desc *desc,
			const struct zd_mem_range *r, size_t n, const char *what)
{
	phys_addr_t limit = 1ULL << m->arch.phys_bits;
	enum zd_desc_list list = !strcmp(what, "ram") ? ZD_DESC_RAM : ZD_DESC_RESERVED;

	for (size_t i = 0; i < n; i++) {
		if (!r[i].size || r[i].start >= limit || r[i].size > limit - r[i].start ||
		    r[i].node < 0 || r[i].node >= m->nr_nodes)
			blame(desc, list, i);
		if (!r[i].size || r[i].start >= limit || r[i].size > limit - r[i].start) {
			snprintf(create_error, sizeof(create_error),
				 "%s range %zu [0x%llx + 0x%llx] is empty or beyond the %u-bit "
				 "physical address space", what, i, ULL(r[i].start), ULL(r[i].size),
				 m->arch.phys_bits);
			return -EINVAL;
		}
		if (r[i].node < 0 || r[i].node >= m->nr_nodes) {
			snprintf(create_error, sizeof(create_error),
				 "%s range %zu names node %d but the machine has %d", what, i,
				 r[i].node, m->nr_nodes);
			return -EINVAL;
		}
	}
	return 0;
}

struct zd_machine *zd_machine_create(const struct zd_machine_desc *desc)
{
	const struct zd_arch *prof = zd_arch_find(desc->arch ? desc->arch : "x86_64");
	struct zd_mem_range *imp_ram = NULL, *imp_other = NULL;
	size_t nr_imp_ram = 0, nr_imp_other = 0;
	char **imp_names = NULL;
	const struct zd_mem_range *ram = desc->ram, *other = desc->reserved;
	size_t nr_ram = desc->nr_ram, nr_other = desc->nr_reserved;
	struct zd_machine *m;
	const char *why;
	uint64_t boot_end = 0, present = 0;
	int rc;

	create_error[0] = '\0';
	create_blame = (struct zd_desc_blame){ ZD_DESC_NONE, 0 };
	if (!prof)
		return fail(NULL, -EINVAL, "unknown architecture \"%s\"", desc->arch);
	m = calloc(1, sizeof(*m));
	if (!m)
		return fail(NULL, -ENOMEM, "out of memory");
	m->arch = *prof;
	if (desc->phys_bits)
		m->arch.phys_bits = desc->phys_bits;
	if (desc->va_bits)
		m->arch.va_bits = desc->va_bits;
	zd_arch_derive(&m->arch);
	m->nr_nodes = desc->nr_nodes > 0 ? desc->nr_nodes : 1;
	pthread_mutex_init(&m->log_lock, NULL);
	pthread_rwlock_init(ZD_RWLOCK(&m->resource_lock), NULL);
	/* The kernel's mem_hotplug_lock (a percpu rwsem) makes new readers wait
	 * once a writer waits, so get_online_mems() users cannot starve
	 * hot-add; glibc's default rwlock prefers readers. */
	pthread_rwlockattr_t rwa;
	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(ZD_RWLOCK(&m->mem_hotplug_lock), &rwa);
	pthread_rwlockattr_destroy(&rwa);
	pthread_mutex_init(&m->device_hotplug_lock, NULL);
	pthread_mutex_init(&m->backing_lock, NULL);
	pthread_mutex_init(&m->device_lock, NULL);
	pthread_mutex_init(&m->mm_list_lock, NULL);
	pthread_mutex_init(&m->fault.lock, NULL);
	zd_rangemap_init(&m->pgmap_array, &m->rcu);
	zd_rangemap_init(&m->device_private_space, &m->rcu);
	m->device_private = desc->device_private;
	m->auto_online_blocks = desc->auto_online_blocks;
	m->debug_vm = desc->debug_vm;
	m->host_memory_unguarded = desc->host_memory_unguarded;
	m->thp_enabled = desc->transparent_hugepage;
	m->device_exclusive_era = desc->device_exclusive_era;
	m->progress = desc->progress;
	m->progress_arg = desc->progress_arg;
	m->log_ring = calloc(ZD_LOG_RING, sizeof(*m->log_ring));
	if (!m->log_ring) {
		free(m);
		return fail(NULL, -ENOMEM, "out of memory");
	}
	m->log_echo = desc->log_echo;
	m->log_filter.console_level = desc->console_loglevel > 0 &&
				      desc->console_loglevel <= ZD_LOG_DEBUG + 1 ?
				      (enum zd_loglevel)(desc->console_loglevel - 1) : ZD_LOG_INFO;
	if (desc->dyndbg && zd_log_dyndbg(m, desc->dyndbg))
		return fail(m, -EINVAL, "%s", last_log_line(m));
	m->iomem_resource.name = "PCI mem";
	m->iomem_resource.flags = ZD_IORESOURCE_MEM;
	if (zd_arch_validate(&m->arch, &why))
		return fail(m, -EINVAL, "%s: %s (phys_bits %u, max %u)", m->arch.name, why,
			    m->arch.phys_bits, m->arch.max_physmem_bits);
	m->iomem_resource.end = (1ULL << m->arch.phys_bits) - 1;
	if (desc->va_bits && (m->arch.coverage != ZD_VMEMMAP_COVERS_LINEAR_MAP ||
			      desc->va_bits < 36 || desc->va_bits > 52))
		return fail(m, -EINVAL, "va_bits %u: only arm64 profiles take va_bits, 36 to 52",
			    desc->va_bits);
	if (m->nr_nodes > ZD_MAX_NUMNODES)
		return fail(m, -EINVAL, "%d nodes exceed the maximum of %d", m->nr_nodes,
			    ZD_MAX_NUMNODES);
	if (desc->iomem_path) {
		rc = import_iomem(m, desc->iomem_path, &imp_ram, &nr_imp_ram, &imp_other,
				  &nr_imp_other, &imp_names);
		if (rc) {
			blame(desc, ZD_DESC_IOMEM, 0);
			goto out_import;
		}
		ram = imp_ram;
		nr_ram = nr_imp_ram;
		other = imp_other;
		nr_other = nr_imp_other;
	}
	rc = check_ranges(m, desc, ram, nr_ram, "ram");
	if (!rc)
		rc = check_ranges(m, desc, other, nr_other, "reserved");
	if (rc)
		goto out_import;

	m->memstart_pfn = UINT64_MAX;
	for (size_t i = 0; i < nr_ram; i++) {
		uint64_t p = ram[i].start >> m->arch.page_shift;
		if (p < m->memstart_pfn)
			m->memstart_pfn = p;
		if (ram[i].start + ram[i].size > boot_end)
			boot_end = ram[i].start + ram[i].size;
	}
	/* arm64 rounds memstart down; a section boundary keeps the model simple. */
	m->memstart_pfn = m->memstart_pfn == UINT64_MAX ? 0 :
			  m->memstart_pfn & ~(m->arch.pages_per_section - 1);
	m->memory_block_size = desc->memory_block_size ? desc->memory_block_size :
			       arch_block_size(&m->arch, boot_end);
	if (m->memory_block_size & (m->memory_block_size - 1) ||
	    m->memory_block_size < (1ULL << m->arch.section_size_bits)) {
		snprintf(create_error, sizeof(create_error),
			 "memory_block_size 0x%llx must be a power of two and at least one section (0x%llx)",
			 ULL(m->memory_block_size), ULL(1ULL << m->arch.section_size_bits));
		rc = -EINVAL;
		goto out_import;
	}

	for (int n = 0; n < m->nr_nodes; n++) {
		m->node_data[n] = calloc(1, sizeof(struct zd_pglist_data));
		if (!m->node_data[n]) {
			rc = -ENOMEM;
			goto out_import;
		}
		init_node(m, m->node_data[n], n);
	}
	rc = zd_sparse_init(m);
	if (!rc)
		rc = zd_vmemmap_init(m);
	if (!rc)
		rc = zd_memory_dev_init(m);
	if (rc) {
		snprintf(create_error, sizeof(create_error),
			 "cannot set up the sparse model and vmemmap window for %u-bit %s",
			 m->arch.phys_bits, m->arch.name);
		goto out_import;
	}
	rc = zd_memblock_init(m);
	for (size_t i = 0; i < nr_ram && !rc; i++) {
		rc = boot_ram_add(m, &ram[i]);
		if (rc)
			blame(desc, ZD_DESC_RAM, i);
		if (rc)
			snprintf(create_error, sizeof(create_error),
				 "boot RAM [0x%llx-0x%llx]: %s", ULL(ram[i].start),
				 ULL(ram[i].start + ram[i].size - 1),
				 rc == -EEXIST ? "overlaps another RAM range" :
				 rc == -ERANGE ? "outside the vmemmap coverage" : "cannot be set up");
	}
	for (size_t k = 0; k < nr_other && !rc; k++) {
		/* An import goes in reverse file order: insert_resource() lets a
		 * new range adopt the ones it contains (an identical one too), so
		 * children first keeps the host's nesting exactly. */
		size_t i = desc->iomem_path ? nr_other - 1 - k : k;
		rc = insert_firmware_range(m, &other[i], desc->iomem_path != NULL);
		if (rc && desc->iomem_path) {
			/* A real /proc/iomem can nest in ways insert_resource refuses
			 * (identical ranges); keep booting without that entry. */
			zd_pr_warn(m, "iomem import: skipped \"%s\" [mem 0x%llx-0x%llx]: %s",
				   other[i].name, ULL(other[i].start),
				   ULL(other[i].start + other[i].size - 1), zd_errno_name(rc));
			rc = 0;
		} else if (rc) {
			blame(desc, ZD_DESC_RESERVED, i);
			snprintf(create_error, sizeof(create_error),
				 "reserved range \"%s\" [0x%llx-0x%llx] overlaps another range",
				 other[i].name ? other[i].name : "Reserved", ULL(other[i].start),
				 ULL(other[i].start + other[i].size - 1));
		}
	}
	/* setup_arch(): reservations, then sparse_init() and the zones, then
	 * mm_core_init()'s late tables and memblock_free_all(). */
	if (!rc && (rc = zd_setup_arch_reserve(m, desc, ram, nr_ram)))
		snprintf(create_error, sizeof(create_error), "boot reservations: %s",
			 last_log_line(m));
	if (!rc) {
		uint64_t pages = 0, bytes = 0;
		char what[64], sz[32];

		/* Boot memmap covers whole sections of every RAM range. */
		for (size_t i = 0; i < nr_ram; i++) {
			pages += boot_section_pages(&m->arch, &ram[i]);
			bytes += ram[i].size;
		}
		snprintf(what, sizeof(what), "booting %s of RAM",
			 zd_host_fmt_size(sz, sizeof(sz), bytes));
		rc = zd_host_mem_guard(m, zd_vmemmap_host_bytes(m, pages, NULL, NULL), what,
				       "a machine with less RAM");
		if (rc)
			snprintf(create_error, sizeof(create_error), "%s", last_log_line(m));
	}
	for (size_t i = 0; i < nr_ram && !rc; i++) {
		rc = boot_ram_range(m, &ram[i]);
		if (rc)
			snprintf(create_error, sizeof(create_error),
				 "boot RAM [0x%llx-0x%llx]: no memory for its memmap", ULL(ram[i].start),
				 ULL(ram[i].start + ram[i].size - 1));
		boot_pages(&m->arch, &ram[i], &present);
	}
	if (!rc) {
		phys_addr_t top = 0;
		for (size_t i = 0; i < nr_ram; i++)
			if (ram[i].start + ram[i].size > top)
				top = ram[i].start + ram[i].size;
		for (size_t i = 0; i < desc->nr_pmem; i++)
			if (desc->pmem[i].start + desc->pmem[i].size > top)
				top = desc->pmem[i].start + desc->pmem[i].size;
		rc = zd_setup_late_reserve(m, desc, present, top);
		if (rc)
			snprintf(create_error, sizeof(create_error), "boot reservations: %s",
				 last_log_line(m));
	}
	if (!rc) {
		zd_memblock_free_all(m);
		zd_mem_init_print_info(m, present);
	}
	if (!rc)
		rc = boot_memory_blocks(m);
	for (size_t i = 0; i < desc->nr_pmem && !rc; i++) {
		struct zd_nd_region *r = zd_nd_region_create(m, &desc->pmem[i]);
		if (ZD_IS_ERR(r)) {
			rc = (int)ZD_PTR_ERR(r);
			blame(desc, ZD_DESC_PMEM, i);
			snprintf(create_error, sizeof(create_error), "pmem region %zu (%s): %s: %s", i,
				 desc->pmem[i].path ? desc->pmem[i].path : "no file", zd_errno_name(rc),
				 last_log_line(m));
		}
	}
	for (size_t i = 0; i < desc->nr_gpus && !rc; i++) {
		struct zd_dmirror_device *g = zd_dmirror_create(m, &desc->gpus[i]);
		if (ZD_IS_ERR(g)) {
			rc = (int)ZD_PTR_ERR(g);
			blame(desc, ZD_DESC_GPU, i);
			snprintf(create_error, sizeof(create_error), "device %s: %s: %s",
				 desc->gpus[i].name ? desc->gpus[i].name : "(unnamed)", zd_errno_name(rc),
				 last_log_line(m));
		}
	}
out_import:
	if (imp_names)
		for (size_t i = 0; imp_names[i]; i++)
			free(imp_names[i]);
	free(imp_names);
	free(imp_ram);
	free(imp_other);
	if (rc)
		return fail(m, rc, "%s", create_error[0] ? create_error : zd_errno_name(rc));
	zd_pr_info(m, "machine: %s, %u-bit physical, %llu MiB boot RAM on %d node(s), "
		   "memory block %llu MiB", m->arch.name, m->arch.phys_bits,
		   ULL(zd_totalram_pages(m) << m->arch.page_shift >> 20), m->nr_nodes,
		   ULL(m->memory_block_size >> 20));
	m->booted = true;
	return m;
}

void zd_machine_destroy(struct zd_machine *m)
{
	if (ZD_IS_ERR_OR_NULL(m))
		return;
	/* Processes first: their mappings hold files and device memory. */
	while (m->mm_list)
		zd_mmput(m->mm_list);
	if (m->huge_zero_folio)
		zd_put_page(m, m->huge_zero_folio);
	/* Drivers next: unbinding unmaps their device memory. */
	while (m->devices)
		zd_device_unregister(m->devices);
	zd_pci_fini(m);
	zd_rangemap_destroy(&m->device_private_space);
	zd_rangemap_destroy(&m->pgmap_array);
	zd_memory_dev_fini(m);
	zd_memblock_fini(m);
	zd_physmem_fini(m);
	zd_vmemmap_fini(m);
	zd_sparse_fini(m);
	zd_resource_free_tree(m);
	for (int n = 0; n < m->nr_nodes; n++) {
		if (!m->node_data[n])
			continue;
		for (int z = 0; z < ZD_MAX_NR_ZONES; z++)
			pthread_mutex_destroy(&m->node_data[n]->node_zones[z].lock);
		free(m->node_data[n]);
	}
	pthread_mutex_destroy(&m->backing_lock);
	pthread_mutex_destroy(&m->device_lock);
	pthread_mutex_destroy(&m->mm_list_lock);
	pthread_mutex_destroy(&m->fault.lock);
	pthread_mutex_destroy(&m->device_hotplug_lock);
	pthread_rwlock_destroy(ZD_RWLOCK(&m->mem_hotplug_lock));
	pthread_rwlock_destroy(ZD_RWLOCK(&m->resource_lock));
	pthread_mutex_destroy(&m->log_lock);
	free(m->log_ring);
	free(m);
}
