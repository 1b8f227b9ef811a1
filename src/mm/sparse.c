/*
 * The sparse memory model (mm/sparse.c): on-demand section roots
 * (SPARSEMEM_EXTREME), section words, usage with the sub-section bitmap,
 * section activation and deactivation at 2 MiB granularity, pfn_valid().
 * Invariants: section words and usage pointers change only under the hotplug
 * write lock; readers use acquire loads inside the machine's RCU; on the last
 * sub-section's removal HAS_MEM_MAP is cleared before the usage pointer is
 * unpublished, and the usage is freed only after a grace period; boot usage
 * is never freed.
 */
#include <zonedev/err.h>
#include <zonedev/fault-inject.h>
#include <zonedev/memory_hotplug.h>
#include <stdlib.h>
#include <string.h>
#include "base/lockdep.h"
#include "base/rcu.h"
#include "mm/internal.h"

#define BITS_PER_LONG 64

static uint64_t pageblocks_per_section(const struct zd_arch *a)
{
	return a->pages_per_section >> a->pageblock_order;
}

int zd_sparse_init(struct zd_machine *m)
{
	const struct zd_arch *a = &m->arch;
	uint64_t pb_bits = pageblocks_per_section(a) * ZD_NR_PAGEBLOCK_BITS;

	m->usage_size = sizeof(struct zd_mem_section_usage) +
			(pb_bits + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(long);
	m->mem_section = calloc(a->nr_section_roots, sizeof(*m->mem_section));
	if (!m->mem_section)
		return -ENOMEM;
	zd_rcu_init(&m->rcu);
	return 0;
}

void zd_sparse_fini(struct zd_machine *m)
{
	const struct zd_arch *a = &m->arch;

	if (!m->mem_section)
		return;
	for (uint64_t r = 0; r < a->nr_section_roots; r++) {
		struct zd_mem_section *root = m->mem_section[r];
		if (!root)
			continue;
		for (unsigned i = 0; i < a->sections_per_root; i++)
			free(root[i].usage);
		free(root);
	}
	free(m->mem_section);
	m->mem_section = NULL;
	zd_rcu_destroy(&m->rcu);
}

struct zd_mem_section *zd_nr_to_section(struct zd_machine *m, uint64_t nr)
{
	const struct zd_arch *a = &m->arch;
	uint64_t root = nr / a->sections_per_root;
	struct zd_mem_section *r;

	if (nr >= a->nr_mem_sections)
		return NULL;
	r = __atomic_load_n(&m->mem_section[root], __ATOMIC_ACQUIRE);
	return r ? &r[nr % a->sections_per_root] : NULL;
}

struct zd_mem_section *zd_pfn_to_section(struct zd_machine *m, uint64_t pfn)
{
	return zd_nr_to_section(m, zd_pfn_section_nr(&m->arch, pfn));
}

/* sparse_index_init(): 0 if the root page exists or was made, -ENOMEM. */
static int sparse_index_init(struct zd_machine *m, uint64_t nr)
{
	const struct zd_arch *a = &m->arch;
	uint64_t root = nr / a->sections_per_root;
	struct zd_mem_section *r;

	if (m->mem_section[root])
		return 0;
	r = calloc(a->sections_per_root, sizeof(*r));
	if (!r)
		return -ENOMEM;
	__atomic_store_n(&m->mem_section[root], r, __ATOMIC_RELEASE);
	return 0;
}

bool zd_pfn_section_valid(struct zd_mem_section *ms, const struct zd_arch *a, uint64_t pfn)
{
	struct zd_mem_section_usage *u = __atomic_load_n(&ms->usage, __ATOMIC_ACQUIRE);
	unsigned idx = zd_subsection_map_index(a, pfn);

	return u && (__atomic_load_n(&u->subsection_map[idx / BITS_PER_LONG], __ATOMIC_RELAXED) >>
		     (idx % BITS_PER_LONG)) & 1;
}

bool zd_pfn_valid(struct zd_machine *m, uint64_t pfn)
{
	const struct zd_arch *a = &m->arch;
	struct zd_mem_section *ms;
	unsigned idx;
	bool ret;

	/* pfns whose physical address does not fit 64 bits are never valid */
	if (zd_phys_pfn(a, zd_pfn_phys(a, pfn)) != pfn)
		return false;
	if (zd_pfn_section_nr(a, pfn) >= a->nr_mem_sections)
		return false;
	idx = zd_rcu_read_lock(&m->rcu);
	ms = zd_pfn_to_section(m, pfn);
	if (!zd_valid_section(ms))
		ret = false;
	else
		ret = zd_early_section(ms) || zd_pfn_section_valid(ms, a, pfn);
	zd_rcu_read_unlock(&m->rcu, idx);
	return ret;
}

bool zd_pfn_in_present_section(struct zd_machine *m, uint64_t pfn)
{
	if (zd_pfn_section_nr(&m->arch, pfn) >= m->arch.nr_mem_sections)
		return false;
	return zd_present_section(zd_pfn_to_section(m, pfn));
}

bool zd_subsection_populated(struct zd_machine *m, uint64_t pfn)
{
	struct zd_mem_section *ms = zd_pfn_to_section(m, pfn);

	if (!ms || !zd_present_section(ms))
		return false;
	return zd_early_section(ms) || zd_pfn_section_valid(ms, &m->arch, pfn);
}

/* Bitmask of the sub-sections [pfn, pfn+nr) touches inside one section. */
static void subsection_mask(const struct zd_arch *a, uint64_t pfn, uint64_t nr,
			    unsigned long mask[ZD_SUBSECTION_MAP_LONGS])
{
	memset(mask, 0, sizeof(unsigned long) * ZD_SUBSECTION_MAP_LONGS);
	if (!nr)
		return;
	unsigned first = zd_subsection_map_index(a, pfn);
	unsigned last = zd_subsection_map_index(a, pfn + nr - 1);
	for (unsigned i = first; i <= last; i++)
		mask[i / BITS_PER_LONG] |= 1UL << (i % BITS_PER_LONG);
}

static bool mask_empty(const unsigned long *mask)
{
	for (int i = 0; i < ZD_SUBSECTION_MAP_LONGS; i++)
		if (mask[i])
			return false;
	return true;
}

static struct zd_mem_section_usage *usage_alloc(struct zd_machine *m)
{
	return calloc(1, m->usage_size);
}

/* Pointer stored in the section word: biased so that decoded + pfn works. */
static unsigned long sparse_encode_mem_map(struct zd_machine *m, struct zd_page *mem_map,
					   uint64_t section_nr)
{
	uintptr_t coded = (uintptr_t)mem_map -
			  (uintptr_t)zd_section_nr_to_pfn(&m->arch, section_nr) * sizeof(struct zd_page);

	ZD_WARN(m, coded & ~ZD_SECTION_MAP_MASK, "memmap pointer 0x%lx sets section flag bits",
		(unsigned long)coded);
	return coded;
}

static void sparse_init_one_section(struct zd_machine *m, struct zd_mem_section *ms,
				    uint64_t nr, struct zd_page *mem_map, unsigned long flags)
{
	unsigned long word = __atomic_load_n(&ms->section_mem_map, __ATOMIC_RELAXED);

	word &= ~ZD_SECTION_MAP_MASK;
	word |= sparse_encode_mem_map(m, mem_map, nr) | ZD_SECTION_HAS_MEM_MAP | flags;
	__atomic_store_n(&ms->section_mem_map, word, __ATOMIC_RELEASE);
}

static void section_mark_present(struct zd_machine *m, struct zd_mem_section *ms, uint64_t nr,
				 int nid)
{
	unsigned long word = __atomic_load_n(&ms->section_mem_map, __ATOMIC_RELAXED);

	if (nr > m->highest_present_section_nr)
		m->highest_present_section_nr = nr;
	/* Before a memmap exists the word carries the node (sparse_encode_early_nid). */
	if (!(word & ZD_SECTION_HAS_MEM_MAP))
		word = ((unsigned long)nid << ZD_SECTION_NID_SHIFT) | (word & ~ZD_SECTION_MAP_MASK);
	__atomic_store_n(&ms->section_mem_map, word | ZD_SECTION_MARKED_PRESENT, __ATOMIC_RELEASE);
}

/* fill_subsection_map(): -EINVAL on an empty mask, -EEXIST on overlap. */
static int fill_subsection_map(struct zd_machine *m, struct zd_mem_section *ms, uint64_t pfn,
			       uint64_t nr)
{
	unsigned long mask[ZD_SUBSECTION_MAP_LONGS];
	unsigned long *map = ms->usage->subsection_map;

	subsection_mask(&m->arch, pfn, nr, mask);
	if (mask_empty(mask)) {
		zd_pr_warn(m, "sparse: empty sub-section mask for pfn 0x%llx + %llu",
			   (unsigned long long)pfn, (unsigned long long)nr);
		return -EINVAL;
	}
	for (int i = 0; i < ZD_SUBSECTION_MAP_LONGS; i++) {
		if (map[i] & mask[i]) {
			zd_pr_warn(m, "sparse: sub-section of pfn 0x%llx + %llu already populated",
				   (unsigned long long)pfn, (unsigned long long)nr);
			return -EEXIST;
		}
	}
	for (int i = 0; i < ZD_SUBSECTION_MAP_LONGS; i++)
		__atomic_or_fetch(&map[i], mask[i], __ATOMIC_RELEASE);
	return 0;
}

/* clear_subsection_map(): refuses (warns) unless every requested bit is set. */
static int clear_subsection_map(struct zd_machine *m, struct zd_mem_section *ms, uint64_t pfn,
				uint64_t nr)
{
	unsigned long mask[ZD_SUBSECTION_MAP_LONGS];
	struct zd_mem_section_usage *u = ms->usage;

	subsection_mask(&m->arch, pfn, nr, mask);
	for (int i = 0; u && i < ZD_SUBSECTION_MAP_LONGS; i++)
		if ((u->subsection_map[i] & mask[i]) != mask[i])
			u = NULL;
	if (ZD_WARN(m, !u || mask_empty(mask), "section already deactivated (0x%llx + %llu)",
		    (unsigned long long)pfn, (unsigned long long)nr))
		return -EINVAL;
	for (int i = 0; i < ZD_SUBSECTION_MAP_LONGS; i++)
		__atomic_and_fetch(&u->subsection_map[i], ~mask[i], __ATOMIC_RELEASE);
	return 0;
}

static bool section_usage_empty(const struct zd_mem_section_usage *u)
{
	return mask_empty(u->subsection_map);
}

/*
 * section_deactivate(): the order matters for readers that race with us —
 * valid_section() must fail before the usage disappears, and the usage is
 * freed only once no reader can still hold it.
 */
static void section_deactivate(struct zd_machine *m, uint64_t pfn, uint64_t nr,
			       struct zd_vmem_altmap *altmap, bool populated)
{
	struct zd_mem_section *ms = zd_pfn_to_section(m, pfn);
	bool empty;

	if (clear_subsection_map(m, ms, pfn, nr))
		return;
	empty = section_usage_empty(ms->usage);
	if (empty) {
		struct zd_mem_section_usage *u = ms->usage;

		__atomic_and_fetch(&ms->section_mem_map, ~ZD_SECTION_HAS_MEM_MAP, __ATOMIC_RELEASE);
		if (!u->boot) {
			__atomic_store_n(&ms->usage, NULL, __ATOMIC_RELEASE);
			zd_synchronize_rcu(&m->rcu);
			free(u);
		}
	}
	/* A populate that failed has already given back what it mapped. */
	if (populated && !zd_early_section(ms))
		zd_depopulate_section_memmap(m, pfn, nr, altmap);
	else if (populated && empty)
		zd_depopulate_section_memmap(m, zd_section_nr_to_pfn(&m->arch,
					     zd_pfn_section_nr(&m->arch, pfn)),
					     m->arch.pages_per_section, NULL);
	if (empty)
		__atomic_store_n(&ms->section_mem_map, 0, __ATOMIC_RELEASE);
}

/* section_activate(): usage, sub-section bits, then the memmap. */
static struct zd_page *section_activate(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr,
					struct zd_vmem_altmap *altmap, struct zd_dev_pagemap *pgmap)
{
	struct zd_mem_section *ms = zd_pfn_to_section(m, pfn);
	struct zd_mem_section_usage *fresh = NULL;
	struct zd_page *memmap;
	int rc;

	if (!ms->usage) {
		fresh = usage_alloc(m);
		if (!fresh)
			return ZD_ERR_PTR(-ENOMEM);
		__atomic_store_n(&ms->usage, fresh, __ATOMIC_RELEASE);
	}
	rc = fill_subsection_map(m, ms, pfn, nr);
	if (rc) {
		if (fresh) {
			__atomic_store_n(&ms->usage, NULL, __ATOMIC_RELEASE);
			zd_synchronize_rcu(&m->rcu);
			free(fresh);
		}
		return ZD_ERR_PTR(rc);
	}
	/* A partial add into a boot section reuses the boot memmap. */
	if (nr < m->arch.pages_per_section && zd_early_section(ms))
		return zd_pfn_to_page(m, pfn);
	memmap = zd___populate_section_memmap(m, pfn, nr, nid, altmap, pgmap);
	if (ZD_IS_ERR(memmap))
		section_deactivate(m, pfn, nr, altmap, false);
	return memmap;
}

int zd_sparse_add_section(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr,
			  struct zd_vmem_altmap *altmap, struct zd_dev_pagemap *pgmap)
{
	uint64_t section_nr = zd_pfn_section_nr(&m->arch, pfn);
	struct zd_mem_section *ms;
	struct zd_page *memmap;
	int rc;

	zd_lockdep_assert_held(m, m->mem_hotplug_writer, "mem_hotplug_lock");
	/* Fault point "sparse_add_section": one pass per section chunk, so a
	 * multi-section add can be made to fail part way through. */
	if (zd_should_fail(m, "sparse_add_section"))
		return -ENOMEM;
	rc = sparse_index_init(m, section_nr);
	if (rc)
		return rc;
	memmap = section_activate(m, nid, pfn, nr, altmap, pgmap);
	if (ZD_IS_ERR(memmap))
		return (int)ZD_PTR_ERR(memmap);
	ms = zd_nr_to_section(m, section_nr);
	/* CONFIG_DEBUG_VM: fresh struct pages hold a poison pattern until
	 * initialised (page_init_poison); never over a deduplicated memmap,
	 * whose tails must stay unwritten. */
	if (m->debug_vm && !zd_vmemmap_can_optimize(m, altmap, pgmap))
		memset(memmap, 0xff, nr * sizeof(struct zd_page));
	section_mark_present(m, ms, section_nr, nid);
	/* The word always encodes the section's first struct page. */
	sparse_init_one_section(m, ms, section_nr,
				zd_pfn_to_page(m, zd_section_nr_to_pfn(&m->arch, section_nr)), 0);
	return 0;
}

void zd_sparse_remove_section(struct zd_machine *m, uint64_t pfn, uint64_t nr,
			      struct zd_vmem_altmap *altmap)
{
	struct zd_mem_section *ms = zd_pfn_to_section(m, pfn);

	zd_lockdep_assert_held(m, m->mem_hotplug_writer, "mem_hotplug_lock");
	if (ZD_WARN(m, !zd_valid_section(ms), "remove of invalid section at pfn 0x%llx",
		    (unsigned long long)pfn))
		return;
	section_deactivate(m, pfn, nr, altmap, true);
}

/*
 * Boot memory: every section the range touches becomes present, early and
 * online with a memmap for the whole section, and the boot usage array
 * records which sub-sections hold memory (subsection_map_init).
 */
int zd_sparse_init_boot_range(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr)
{
	const struct zd_arch *a = &m->arch;
	uint64_t end = pfn + nr;

	for (uint64_t p = pfn; p < end; ) {
		uint64_t snr = zd_pfn_section_nr(a, p);
		uint64_t spfn = zd_section_nr_to_pfn(a, snr);
		uint64_t chunk = (spfn + a->pages_per_section < end ? spfn + a->pages_per_section : end) - p;
		struct zd_mem_section *ms;
		unsigned long mask[ZD_SUBSECTION_MAP_LONGS];
		int rc = sparse_index_init(m, snr);

		if (rc)
			return rc;
		if (!(snr % ZD_PROGRESS_SECTIONS))
			zd_progress(m, "sparse_init", p - pfn, nr);
		ms = zd_nr_to_section(m, snr);
		if (!ms->usage) {
			struct zd_page *memmap;

			/* Flagged boot: hot-remove keeps it for a later re-add,
			 * like the kernel's memblock-allocated usage array. */
			ms->usage = usage_alloc(m);
			if (!ms->usage)
				return -ENOMEM;
			ms->usage->boot = true;
			memmap = zd___populate_section_memmap(m, spfn, a->pages_per_section, nid,
							      NULL, NULL);
			if (ZD_IS_ERR(memmap))
				return (int)ZD_PTR_ERR(memmap);
			section_mark_present(m, ms, snr, nid);
			sparse_init_one_section(m, ms, snr, memmap,
						ZD_SECTION_IS_EARLY | ZD_SECTION_IS_ONLINE);
		}
		subsection_mask(a, p, chunk, mask);
		for (int i = 0; i < ZD_SUBSECTION_MAP_LONGS; i++)
			ms->usage->subsection_map[i] |= mask[i];
		p += chunk;
	}
	return 0;
}

static void set_online_bit(struct zd_machine *m, uint64_t pfn, uint64_t end_pfn, bool online)
{
	const struct zd_arch *a = &m->arch;

	for (uint64_t p = pfn; p < end_pfn; p += a->pages_per_section) {
		struct zd_mem_section *ms = zd_pfn_to_section(m, p);
		if (ZD_WARN(m, !zd_valid_section(ms), "%s of absent section %llu",
			    online ? "online" : "offline",
			    (unsigned long long)zd_pfn_section_nr(a, p)))
			continue;
		if (online)
			__atomic_or_fetch(&ms->section_mem_map, ZD_SECTION_IS_ONLINE, __ATOMIC_RELEASE);
		else
			__atomic_and_fetch(&ms->section_mem_map, ~ZD_SECTION_IS_ONLINE,
					   __ATOMIC_RELEASE);
	}
}

void zd_online_mem_sections(struct zd_machine *m, uint64_t pfn, uint64_t end_pfn)
{
	set_online_bit(m, pfn, end_pfn, true);
}

void zd_offline_mem_sections(struct zd_machine *m, uint64_t pfn, uint64_t end_pfn)
{
	set_online_bit(m, pfn, end_pfn, false);
}

void zd_section_taint_zone_device(struct zd_machine *m, uint64_t pfn)
{
	struct zd_mem_section *ms = zd_pfn_to_section(m, pfn);

	if (ms)
		__atomic_or_fetch(&ms->section_mem_map, ZD_SECTION_TAINT_ZONE_DEVICE,
				  __ATOMIC_RELEASE);
}
