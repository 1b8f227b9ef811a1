/*
 * System RAM hotplug through memory blocks (src/mm/memory_hotplug.c,
 * src/drivers/base/memory.c): add_memory, block states, online/offline,
 * remove, on an x86_64 machine with 4 GiB of boot RAM (128 MiB blocks).
 *
 * Asserts:
 *  - hot-added blocks appear offline with the right node/phys_index and
 *    valid_zones ("Normal Movable", "Movable Normal" once Movable spans the
 *    block, the zone name while online); unknown blocks are -ENODEV;
 *  - the state file accepts only the four kernel strings (-EINVAL otherwise,
 *    nothing changes) and refuses a transition to the current state (-EINVAL);
 *  - offlining a block that holds an allocated page is -EBUSY and leaves
 *    zone present/managed/spans, node spans/present, section ONLINE bits,
 *    block states and zone free counts exactly as they were — also when a
 *    multi-block range fails on its second block after the first succeeded;
 *  - removing online memory is -EBUSY;
 *  - add creates a busy System RAM resource (region_intersects INTERSECTS,
 *    a second request fails) and remove releases it (DISJOINT, requestable);
 *  - invariant 15's RAM half: hot-add raises max_pfn (never lowered by
 *    remove), zone and node spans grow on online and shrink on offline (both
 *    ends, Normal and Movable), present pages follow online/offline;
 *    pfn_to_online_page is NULL while offline and the page while online;
 *  - on a 2-node machine an add on node 1 lands in node 1's zones only;
 *    a node that does not exist is -EINVAL;
 *  - ranges outside the physical address space are -E2BIG, and a 43-bit
 *    machine rejects an add at 8 TiB but accepts one just below.
 * Why: these are the externally visible rules of memory hotplug; each one a
 * driver or admin tool depends on.
 */
#include <zonedev/zonedev.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define T (1ULL << 40)
#define PFN(x) ((uint64_t)(x) >> 12)
#define BLK (128 * M)
#define H (8 * G)                 /* hot-add base: blocks 64..71 */
#define BID(addr) ((uint64_t)(addr) / BLK)

static struct zd_machine *boot(const char *arch, unsigned phys_bits, int nr_nodes,
			       const struct zd_mem_range *ram, size_t nr_ram)
{
	struct zd_machine_desc d = { .arch = arch, .phys_bits = phys_bits, .nr_nodes = nr_nodes,
				     .ram = ram, .nr_ram = nr_ram };
	struct zd_machine *m = zd_machine_create(&d);

	if (!ok(!ZD_IS_ERR_OR_NULL(m), "%s/%u-bit machine with %d node(s) boots (%s)", arch,
		phys_bits ? phys_bits : 0, nr_nodes ? nr_nodes : 1, zd_machine_create_error()))
		return NULL;
	return m;
}

static int block_state(struct zd_machine *m, uint64_t id)
{
	struct zd_memory_block mb;

	return zd_memory_block_get(m, id, &mb) ? -1 : (int)mb.state;
}

static int block_zone(struct zd_machine *m, uint64_t id)
{
	struct zd_memory_block mb;

	return zd_memory_block_get(m, id, &mb) ? -1 : (int)mb.zone;
}

static const char *zones_of(struct zd_machine *m, uint64_t id)
{
	static char buf[64];

	if (zd_memory_block_valid_zones(m, id, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "(none)");
	return buf;
}

static struct zd_zone *zone(struct zd_machine *m, int nid, enum zd_zone_type z)
{
	return &m->node_data[nid]->node_zones[z];
}

/* Everything an offline attempt may touch, for node 0 and blocks 64..71. */
struct hsnap {
	struct {
		uint64_t start, spanned, present;
		long managed, nr_free;
		unsigned long fa[ZD_MAX_ORDER_LIMIT + 1];
	} z[ZD_MAX_NR_ZONES];
	uint64_t node_start, node_spanned, node_present;
	unsigned long word[8];
	int state[8], bzone[8];
	char *iomem;
};

static void hsnap_take(struct zd_machine *m, struct hsnap *s)
{
	struct zd_pglist_data *pg = m->node_data[0];

	memset(s, 0, sizeof(*s));
	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		struct zd_zone *zn = &pg->node_zones[z];
		s->z[z].start = zn->zone_start_pfn;
		s->z[z].spanned = zn->spanned_pages;
		s->z[z].present = zn->present_pages;
		s->z[z].managed = zn->managed_pages;
		s->z[z].nr_free = zn->nr_free_pages;
		for (int o = 0; o <= ZD_MAX_ORDER_LIMIT; o++)
			s->z[z].fa[o] = zn->free_area[o].nr_free;
	}
	s->node_start = pg->node_start_pfn;
	s->node_spanned = pg->node_spanned_pages;
	s->node_present = pg->node_present_pages;
	for (int i = 0; i < 8; i++) {
		s->word[i] = zd_section_word(zd_nr_to_section(m, BID(H) + i));
		s->state[i] = block_state(m, BID(H) + i);
		s->bzone[i] = s->state[i] == ZD_MEM_ONLINE ? block_zone(m, BID(H) + i) : -1;
	}
	s->iomem = tap_iomem_text(m);
}

static bool hsnap_same(const struct hsnap *a, const struct hsnap *b)
{
	bool same = true;

	for (int z = 0; z < ZD_MAX_NR_ZONES; z++) {
		if (memcmp(&a->z[z], &b->z[z], sizeof(a->z[z]))) {
			diag("zone %s: start %llu->%llu spanned %llu->%llu present %llu->%llu "
			     "managed %ld->%ld free %ld->%ld", zd_zone_names[z],
			     (unsigned long long)a->z[z].start, (unsigned long long)b->z[z].start,
			     (unsigned long long)a->z[z].spanned, (unsigned long long)b->z[z].spanned,
			     (unsigned long long)a->z[z].present, (unsigned long long)b->z[z].present,
			     a->z[z].managed, b->z[z].managed, a->z[z].nr_free, b->z[z].nr_free);
			same = false;
		}
	}
	if (a->node_start != b->node_start || a->node_spanned != b->node_spanned ||
	    a->node_present != b->node_present) {
		diag("node 0 changed");
		same = false;
	}
	for (int i = 0; i < 8; i++) {
		if (a->word[i] != b->word[i] || a->state[i] != b->state[i] ||
		    a->bzone[i] != b->bzone[i]) {
			diag("block %d: word %#lx->%#lx state %d->%d zone %d->%d", 64 + i, a->word[i],
			     b->word[i], a->state[i], b->state[i], a->bzone[i], b->bzone[i]);
			same = false;
		}
	}
	if (strcmp(a->iomem, b->iomem)) {
		diag("iomem changed");
		same = false;
	}
	return same;
}

static void check_span(struct zd_machine *m, enum zd_zone_type z, uint64_t start_addr,
		       uint64_t end_addr, const char *what)
{
	struct zd_zone *zn = zone(m, 0, z);

	if (start_addr == end_addr) {
		is_u64(zn->spanned_pages, 0, "%s: %s zone is empty", what, zd_zone_names[z]);
		return;
	}
	ok(zn->zone_start_pfn == PFN(start_addr) && zn->spanned_pages == PFN(end_addr - start_addr),
	   "%s: %s spans [%#llx, %#llx) (got start %#llx, %llu pages)", what, zd_zone_names[z],
	   (unsigned long long)start_addr, (unsigned long long)end_addr,
	   (unsigned long long)(zn->zone_start_pfn << 12), (unsigned long long)zn->spanned_pages);
}

static void check_node(struct zd_machine *m, int nid, uint64_t end_addr, uint64_t present_bytes,
		       const char *what)
{
	struct zd_pglist_data *pg = m->node_data[nid];

	ok(pg->node_start_pfn + pg->node_spanned_pages == PFN(end_addr),
	   "%s: node %d spans up to %#llx (got %#llx)", what, nid, (unsigned long long)end_addr,
	   (unsigned long long)((pg->node_start_pfn + pg->node_spanned_pages) << 12));
	is_u64(pg->node_present_pages, PFN(present_bytes), "%s: node %d present pages", what, nid);
}

static int state_store(struct zd_machine *m, uint64_t addr, const char *s)
{
	return zd_memory_block_store_state(m, BID(addr), s);
}

static void main_machine(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 4 * G, .node = 0 } };
	struct zd_machine *m = boot("x86_64", 0, 1, ram, 1);
	struct hsnap before, after;
	struct zd_memory_block mb;
	unsigned long warns;

	if (!m)
		return;
	is_u64(zd_memory_block_size_bytes(m), BLK, "block size 128 MiB");
	is_int(block_state(m, 0), ZD_MEM_ONLINE, "boot block memory0 online");
	is_int(block_state(m, 31), ZD_MEM_ONLINE, "boot block memory31 online");
	/* memory0 holds ZONE_DMA (below 16 MiB) and the start of DMA32. */
	ok(!strcmp(zones_of(m, 0), "none"), "memory0 spans DMA and DMA32: valid_zones none (%s)",
	   zones_of(m, 0));
	ok(!strcmp(zones_of(m, 1), "DMA32"), "memory1 valid_zones DMA32 (%s)", zones_of(m, 1));
	is_int(zd_memory_block_store_state(m, 0, "offline"), -EINVAL,
	       "a block without a zone cannot be offlined: -EINVAL");
	is_int(zd_memory_block_get(m, BID(H), &mb), -ENODEV, "no memory64 before the add");
	is_int(zd_memory_block_valid_zones(m, BID(H), (char[8]){0}, 8), -ENODEV,
	       "valid_zones of a missing block -ENODEV");
	is_int(zd_region_intersects(m, H, 1 * G, ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE),
	       ZD_REGION_DISJOINT, "no System RAM at 8 GiB before the add");
	is_u64(zd_max_pfn(m), PFN(4 * G), "max_pfn = 4 GiB");
	warns = zd_warn_count(m);

	/* ---- add */
	is_int(zd_add_memory(m, 0, H, 1 * G, 0), 0, "add_memory [8G, 9G)");
	is_u64(zd_max_pfn(m), PFN(9 * G), "RAM hot-add raises max_pfn to 9 GiB");
	is_int(zd_region_intersects(m, H, 1 * G, ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE),
	       ZD_REGION_INTERSECTS, "System RAM resource covers [8G, 9G)");
	{
		struct zd_resource *r = zd_request_mem_region(m, H + 64 * M, 4096, "probe");
		ok(r == NULL, "the System RAM resource is busy: a region request inside it fails");
		if (r)
			zd_release_mem_region(m, H + 64 * M, 4096);
	}
	is_int(zd_add_memory(m, 0, H, BLK, 0), -EEXIST, "adding the first block again -> -EEXIST");
	{
		unsigned bad = 0;
		for (uint64_t id = BID(H); id < BID(H + 1 * G); id++) {
			if (zd_memory_block_get(m, id, &mb) || mb.state != ZD_MEM_OFFLINE ||
			    mb.nid != 0 || mb.start_section_nr != id)
				bad++;
		}
		is_int(bad, 0, "memory64..71 exist, offline, node 0, phys_index = section");
	}
	is_int(zd_memory_block_get(m, BID(H + 1 * G), &mb), -ENODEV, "no memory72");
	ok(!strcmp(zones_of(m, BID(H)), "Normal Movable"), "offline memory64 valid_zones \"Normal Movable\" (%s)",
	   zones_of(m, BID(H)));
	ok(zd_pfn_valid(m, PFN(H)), "hot-added pfn valid");
	ok(zd_pfn_to_online_page(m, PFN(H)) == NULL, "offline pfn has no online page");
	{
		unsigned long w = zd_section_word(zd_nr_to_section(m, BID(H)));
		ok((w & ZD_SECTION_MARKED_PRESENT) && (w & ZD_SECTION_HAS_MEM_MAP) &&
		   !(w & ZD_SECTION_IS_ONLINE), "hot-added section present, has memmap, not online");
	}

	/* ---- bad state strings */
	{
		static const char *const bad[] = { "", "onlin", "Online", "online ", "online_movable2",
						   "up", "offline_kernel" };
		hsnap_take(m, &before);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			is_int(state_store(m, H, bad[i]), -EINVAL, "state \"%s\" -> -EINVAL", bad[i]);
		hsnap_take(m, &after);
		ok(hsnap_same(&before, &after), "bad state strings changed nothing");
		free(after.iomem);
		is_int(state_store(m, H, "offline"), -EINVAL, "offline an offline block -> -EINVAL");
		is_int(zd_memory_block_store_state(m, BID(H + 1 * G), "online"), -ENODEV,
		       "online a missing block -> -ENODEV");
		hsnap_take(m, &after);
		ok(hsnap_same(&before, &after), "still nothing changed");
		free(after.iomem);
		free(before.iomem);
	}

	/* ---- online: 64 movable, 65 kernel, 67 movable */
	uint64_t boot_present = m->node_data[0]->node_present_pages;
	struct zd_boot_memory boot_mem;
	zd_boot_memory(m, &boot_mem);
	is_int(state_store(m, H, "online_movable"), 0, "memory64 online_movable");
	is_int(block_state(m, BID(H)), ZD_MEM_ONLINE, "memory64 online");
	ok(!strcmp(zones_of(m, BID(H)), "Movable"), "online memory64 valid_zones \"Movable\" (%s)",
	   zones_of(m, BID(H)));
	is_int(state_store(m, H, "online"), -EINVAL, "online twice -> -EINVAL");
	is_int(state_store(m, H, "online_kernel"), -EINVAL, "online_kernel of an online block -> -EINVAL");
	is_int(block_zone(m, BID(H)), ZD_ZONE_MOVABLE, "still in Movable");
	check_span(m, ZD_ZONE_MOVABLE, H, H + BLK, "after online 64");
	is_u64(zone(m, 0, ZD_ZONE_MOVABLE)->present_pages, PFN(BLK), "Movable present = one block");
	is_u64(zone(m, 0, ZD_ZONE_MOVABLE)->managed_pages, PFN(BLK), "Movable managed = one block");
	check_node(m, 0, H + BLK, 4 * G + BLK, "after online 64");
	ok(zd_online_section(zd_nr_to_section(m, BID(H))), "section 64 ONLINE bit set");
	ok(zd_pfn_to_online_page(m, PFN(H)) == zd_pfn_to_page(m, PFN(H)),
	   "online pfn: pfn_to_online_page == pfn_to_page");
	ok(zd_pfn_to_online_page(m, PFN(H + BLK) - 1) != NULL, "last pfn of memory64 online");
	ok(zd_pfn_to_online_page(m, PFN(H + BLK)) == NULL, "first pfn of memory65 (offline) not");

	ok(!strcmp(zones_of(m, BID(H + BLK)), "Normal Movable"), "memory65 valid_zones \"Normal Movable\" (%s)",
	   zones_of(m, BID(H + BLK)));
	is_int(state_store(m, H + BLK, "online_kernel"), 0, "memory65 online_kernel");
	is_int(block_zone(m, BID(H + BLK)), ZD_ZONE_NORMAL, "memory65 in Normal");
	check_span(m, ZD_ZONE_NORMAL, H + BLK, H + 2 * BLK, "after online 65");
	check_node(m, 0, H + 2 * BLK, 4 * G + 2 * BLK, "after online 65");
	is_int(state_store(m, H + 3 * BLK, "online_movable"), 0, "memory67 online_movable");
	check_span(m, ZD_ZONE_MOVABLE, H, H + 4 * BLK, "after online 67");
	is_u64(zone(m, 0, ZD_ZONE_MOVABLE)->present_pages, PFN(2 * BLK), "Movable present = two blocks");
	ok(!strcmp(zones_of(m, BID(H + 2 * BLK)), "Movable Normal"),
	   "memory66 inside the Movable span defaults to Movable (%s)", zones_of(m, BID(H + 2 * BLK)));
	check_node(m, 0, H + 4 * BLK, 4 * G + 3 * BLK, "after online 67");

	/* ---- offline with a page in use */
	struct zd_page *pm = zd_alloc_pages(m, ZD_GFP_HIGHUSER_MOVABLE, 0);
	struct zd_page *pk = zd_alloc_pages(m, ZD_GFP_KERNEL, 0);
	if (ok(pm && pk, "allocate one movable and one kernel page")) {
		uint64_t bm = BID(zd_page_to_pfn(m, pm) << 12), bk = BID(zd_page_to_pfn(m, pk) << 12);
		ok(bm == BID(H) || bm == BID(H + 3 * BLK), "movable page in memory64 or 67 (%llu)",
		   (unsigned long long)bm);
		is_u64(bk, BID(H + BLK), "kernel page in memory65 (Normal)");

		hsnap_take(m, &before);
		is_int(zd_memory_block_store_state(m, bm, "offline"), -EBUSY,
		       "offline the block holding the movable page -> -EBUSY");
		hsnap_take(m, &after);
		ok(hsnap_same(&before, &after), "-EBUSY offline changed nothing (zones, node, sections, blocks, free lists)");
		free(after.iomem);
		is_int(block_state(m, bm), ZD_MEM_ONLINE, "block state restored to online");
		ok(zd_online_section(zd_nr_to_section(m, bm)), "section still ONLINE");

		/* Range [64, 65]: 64 (free, if the movable page is in 67) goes
		 * offline, 65 fails; the range must leave both as they were. */
		if (bm != BID(H)) {
			is_int(zd_offline_memory_range(m, H, 2 * BLK), -EBUSY,
			       "offline range memory64..65 fails on 65 -> -EBUSY");
			hsnap_take(m, &after);
			ok(hsnap_same(&before, &after),
			   "the failed range put memory64 back exactly as it was (zone, spans, counts)");
			free(after.iomem);
		} else {
			skip("movable page landed in memory64: range rollback case not reachable");
		}
		is_int(zd_remove_memory(m, H, 1 * G), -EBUSY, "remove of online memory -> -EBUSY");
		hsnap_take(m, &after);
		is_int(zd_region_intersects(m, H, 1 * G, ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE),
		       ZD_REGION_INTERSECTS, "System RAM still there after the refused remove");
		free(after.iomem);
		free(before.iomem);
		zd___free_pages(m, pm, 0);
		zd___free_pages(m, pk, 0);
	}

	/* Bring the blocks to a known layout: 64 movable, 65 Normal, 67 movable. */
	if (block_state(m, BID(H)) != ZD_MEM_ONLINE || block_zone(m, BID(H)) != ZD_ZONE_MOVABLE) {
		diag("re-establishing memory64 in Movable after the failed rollback");
		if (block_state(m, BID(H)) == ZD_MEM_ONLINE)
			state_store(m, H, "offline");
		state_store(m, H, "online_movable");
	}

	/* ---- offline: spans shrink at both ends */
	is_int(state_store(m, H + 3 * BLK, "offline"), 0, "offline memory67 (Movable high end)");
	check_span(m, ZD_ZONE_MOVABLE, H, H + BLK, "after offline 67");
	ok(!zd_online_section(zd_nr_to_section(m, BID(H + 3 * BLK))), "section 67 ONLINE bit cleared");
	ok(zd_pfn_to_online_page(m, PFN(H + 3 * BLK)) == NULL, "memory67 pfn no longer online");
	check_node(m, 0, H + 2 * BLK, 4 * G + 2 * BLK, "after offline 67");
	is_int(state_store(m, H + BLK, "offline"), 0, "offline memory65 (Normal)");
	check_span(m, ZD_ZONE_NORMAL, 0, 0, "after offline 65");
	check_node(m, 0, H + BLK, 4 * G + BLK, "after offline 65");
	is_int(state_store(m, H + 2 * BLK, "online_movable"), 0, "online memory66 movable");
	check_span(m, ZD_ZONE_MOVABLE, H, H + 3 * BLK, "64 and 66 movable");
	is_int(state_store(m, H, "offline"), 0, "offline memory64 (Movable low end)");
	check_span(m, ZD_ZONE_MOVABLE, H + 2 * BLK, H + 3 * BLK, "after offline 64");
	check_node(m, 0, H + 3 * BLK, 4 * G + BLK, "after offline 64");
	is_int(state_store(m, H + 2 * BLK, "offline"), 0, "offline memory66");
	check_span(m, ZD_ZONE_MOVABLE, 0, 0, "all offline");
	check_node(m, 0, 4 * G, 4 * G, "all offline");
	is_u64(m->node_data[0]->node_present_pages, boot_present, "node present pages back to boot");
	is_u64(zd_totalram_pages(m), PFN(4 * G) - boot_mem.reserved_pages, "managed back to boot RAM");
	is_u64(zd_global_free_pages(m), PFN(4 * G) - boot_mem.reserved_pages - 8 * 512,
	       "all boot RAM free but the offline range's memmap (8 x 2 MiB)");

	/* ---- remove */
	is_int(zd_remove_memory(m, H + 4096, BLK), -EINVAL, "misaligned remove -> -EINVAL");
	is_int(zd_remove_memory(m, 20 * G, BLK), -EINVAL, "remove of a range never added -> -EINVAL");
	is_int(zd_remove_memory(m, H, 1 * G), 0, "remove [8G, 9G)");
	is_int(zd_memory_block_get(m, BID(H), &mb), -ENODEV, "memory64 gone");
	is_int(zd_memory_block_get(m, BID(H) + 7, &mb), -ENODEV, "memory71 gone");
	is_int(zd_region_intersects(m, H, 1 * G, ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE),
	       ZD_REGION_DISJOINT, "System RAM resource released");
	{
		struct zd_resource *r = zd_request_mem_region(m, H + 64 * M, 4096, "probe");
		ok(r != NULL, "the range can be requested again");
		if (r)
			zd_release_mem_region(m, H + 64 * M, 4096);
	}
	ok(!zd_pfn_valid(m, PFN(H)) && zd_section_word(zd_nr_to_section(m, BID(H))) == 0,
	   "sections gone");
	is_u64(zd_max_pfn(m), PFN(9 * G), "max_pfn is never lowered by remove");
	is_u64(zd_global_free_pages(m), PFN(4 * G) - boot_mem.reserved_pages,
	       "remove gives the memmap's RAM back");

	/* ---- outside the physical address space */
	{
		char *io0 = tap_iomem_text(m), *io1;
		is_int(zd_add_memory(m, 0, 1ULL << 46, BLK, 0), -E2BIG, "add at 2^46 -> -E2BIG");
		is_int(zd_add_memory(m, 0, (1ULL << 46) - BLK, 2 * BLK, 0), -E2BIG,
		       "add straddling the top of the 46-bit space -> -E2BIG");
		io1 = tap_iomem_text(m);
		ok(!strcmp(io0, io1), "rejected adds left iomem alone");
		free(io1);
		free(io0);
		is_int(zd_add_memory(m, 0, (1ULL << 46) - BLK, BLK, 0), 0, "the topmost block can be added");
		is_u64(zd_max_pfn(m), PFN(1ULL << 46), "max_pfn at the top of the space");
		is_int(zd_remove_memory(m, (1ULL << 46) - BLK, BLK), 0, "and removed");
	}
	is_u64(zd_warn_count(m), warns, "no WARN fired");
	zd_machine_destroy(m);
}

static void two_nodes(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G, .node = 0 },
				      { .start = 2 * G, .size = 2 * G, .node = 1 } };
	struct zd_machine *m = boot("x86_64", 0, 2, ram, 2);
	const uint64_t A = 16 * G;
	struct zd_memory_block mb;
	unsigned long warns;

	if (!m)
		return;
	struct zd_pglist_data *n0 = m->node_data[0], *n1 = m->node_data[1];
	uint64_t n0_start = n0->node_start_pfn, n0_span = n0->node_spanned_pages;
	uint64_t n0_present = n0->node_present_pages, n1_present = n1->node_present_pages;

	warns = zd_warn_count(m);
	is_int(zd_add_memory(m, 2, A, BLK, 0), -EINVAL, "add on node 2 of a 2-node machine -> -EINVAL");
	is_u64(zd_warn_count(m), warns + 1, "the impossible node WARNs (node_possible)");
	is_int(zd_memory_block_get(m, BID(A), &mb), -ENODEV, "and created no block");

	is_int(zd_add_memory(m, 1, A, 2 * BLK, 0), 0, "add [16G, 16G+256M) on node 1");
	ok(zd_memory_block_get(m, BID(A), &mb) == 0 && mb.nid == 1, "memory128 belongs to node 1");
	is_int(zd_memory_block_store_state(m, BID(A), "online_movable"), 0, "online it movable");
	is_int(zd_memory_block_store_state(m, BID(A) + 1, "online_kernel"), 0, "online the next kernel");
	is_u64(zone(m, 1, ZD_ZONE_MOVABLE)->present_pages, PFN(BLK), "node 1 Movable present grew");
	is_u64(zone(m, 1, ZD_ZONE_NORMAL)->present_pages, PFN(BLK), "node 1 Normal present grew");
	is_u64(zone(m, 0, ZD_ZONE_MOVABLE)->present_pages, 0, "node 0 Movable untouched");
	is_u64(zone(m, 0, ZD_ZONE_NORMAL)->present_pages, 0, "node 0 Normal untouched");
	ok(n0->node_start_pfn == n0_start && n0->node_spanned_pages == n0_span &&
	   n0->node_present_pages == n0_present, "node 0 span and present unchanged");
	is_u64(n1->node_present_pages, n1_present + PFN(2 * BLK), "node 1 present grew by 256 MiB");
	is_u64(n1->node_start_pfn + n1->node_spanned_pages, PFN(A + 2 * BLK), "node 1 span reaches 16G+256M");
	{
		struct zd_page *p = zd_pfn_to_online_page(m, PFN(A));
		ok(p && zd_page_to_nid(p) == 1 && zd_page_zonenum(p) == ZD_ZONE_MOVABLE,
		   "struct page of the added range: node 1, Movable");
		struct zd_page *a = zd_alloc_pages_node(m, 1, ZD_GFP_HIGHUSER_MOVABLE, 0);
		ok(a && zd_page_to_nid(a) == 1 && zd_page_zonenum(a) == ZD_ZONE_MOVABLE &&
		   zd_page_to_pfn(m, a) >= PFN(A) && zd_page_to_pfn(m, a) < PFN(A + BLK),
		   "movable allocation on node 1 comes from the added block");
		if (a)
			zd___free_pages(m, a, 0);
	}
	is_int(zd_offline_memory_range(m, A, 2 * BLK), 0, "offline both");
	is_u64(n1->node_present_pages, n1_present, "node 1 present back");
	is_u64(n1->node_start_pfn + n1->node_spanned_pages, PFN(4 * G), "node 1 span back to 4 GiB");
	is_int(zd_remove_memory(m, A, 2 * BLK), 0, "remove");
	is_u64(zd_warn_count(m), warns + 1, "no other WARN");
	zd_machine_destroy(m);
}

static void small_phys(void)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G, .node = 0 } };
	struct zd_machine *m = boot("x86_64", 43, 1, ram, 1);

	if (!m)
		return;
	is_int(zd_add_memory(m, 0, 8 * T, BLK, 0), -E2BIG, "43-bit: add at 8 TiB -> -E2BIG");
	is_int(zd_add_memory(m, 0, 8 * T - BLK, 2 * BLK, 0), -E2BIG, "43-bit: add across 8 TiB -> -E2BIG");
	ok(zd_log_contains(m, "exceeds maximum addressable range"), "the refusal is logged");
	is_int(zd_add_memory(m, 0, 8 * T - BLK, BLK, 0), 0, "43-bit: the last block below 8 TiB works");
	is_u64(zd_max_pfn(m), PFN(8 * T), "max_pfn = 8 TiB");
	is_int(zd_memory_block_store_state(m, BID(8 * T - BLK), "online"), 0, "online it");
	ok(zd_pfn_to_online_page(m, PFN(8 * T) - 1) != NULL, "the last pfn of the space is online");
	is_int(zd_memory_block_store_state(m, BID(8 * T - BLK), "offline"), 0, "offline it");
	is_int(zd_remove_memory(m, 8 * T - BLK, BLK), 0, "remove it");
	is_u64(zd_warn_count(m), 0, "no WARN");
	zd_machine_destroy(m);
}

int main(void)
{
	main_machine();
	two_nodes();
	small_phys();
	return done_testing();
}
