/*
 * Boot-time memory (mm/memblock.c): the boot RAM ranges and the
 * reservations made before the buddy allocator exists — the kernel image,
 * firmware's low memory, the boot memmap and its page tables, hash tables,
 * swiotlb, a crash kernel. memblock_alloc() places them top-down, like the
 * kernel's default; memblock_free_all() then gives every present page that
 * no reservation covers to the buddy. Reserved pages stay PG_reserved,
 * present and unmanaged, which is why MemTotal is below the present RAM.
 * Invariants: regions are page ranges, sorted by start; reservations never
 * overlap; nothing here runs after memblock_free_all() except the
 * accounting the boot report reads (zd_memblock_fini() frees it all).
 */
#include <zonedev/err.h>
#include <zonedev/gfp.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"
#include "base/align.h"


struct zd_memblock_region {
	uint64_t pfn, end;           /* [pfn, end) */
	int nid;
	const char *why;             /* reservations: what they are for (static text) */
};

struct zd_memblock_type {
	struct zd_memblock_region *r;
	size_t nr, cap;
};

struct zd_memblock {
	struct zd_memblock_type memory, reserved;
	bool done;                   /* memblock_free_all() ran: the buddy allocates now */
};

static int insert_region(struct zd_memblock_type *t, uint64_t pfn, uint64_t end, int nid,
			 const char *why)
{
	size_t i;

	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct zd_memblock_region *r = realloc(t->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		t->r = r;
		t->cap = cap;
	}
	for (i = t->nr; i > 0 && t->r[i - 1].pfn > pfn; i--)
		t->r[i] = t->r[i - 1];
	t->r[i] = (struct zd_memblock_region){ pfn, end, nid, why };
	t->nr++;
	return 0;
}

int zd_memblock_init(struct zd_machine *m)
{
	m->memblock = calloc(1, sizeof(*m->memblock));
	return m->memblock ? 0 : -ENOMEM;
}

void zd_memblock_fini(struct zd_machine *m)
{
	if (!m->memblock)
		return;
	free(m->memblock->memory.r);
	free(m->memblock->reserved.r);
	free(m->memblock);
	m->memblock = NULL;
}

bool zd_memblock_active(const struct zd_machine *m)
{
	return m->memblock && !m->memblock->done;
}

int zd_memblock_add(struct zd_machine *m, uint64_t pfn, uint64_t nr, int nid)
{
	return insert_region(&m->memblock->memory, pfn, pfn + nr, nid, NULL);
}

/* The first reservation overlapping [pfn, end), or NULL. */
static const struct zd_memblock_region *reserved_overlap(const struct zd_memblock *mb,
							  uint64_t pfn, uint64_t end)
{
	for (size_t i = 0; i < mb->reserved.nr; i++) {
		const struct zd_memblock_region *r = &mb->reserved.r[i];
		if (r->pfn < end && r->end > pfn)
			return r;
	}
	return NULL;
}

/* The highest reservation overlapping [pfn, end), or NULL. */
static const struct zd_memblock_region *reserved_overlap_top(const struct zd_memblock *mb,
							      uint64_t pfn, uint64_t end)
{
	for (size_t i = mb->reserved.nr; i-- > 0; ) {
		const struct zd_memblock_region *r = &mb->reserved.r[i];
		if (r->pfn < end && r->end > pfn)
			return r;
	}
	return NULL;
}

static int reserve_one(struct zd_memblock *mb, uint64_t pfn, uint64_t end, const char *why);

/* memblock_reserve(): only the part that is memory matters to the buddy
 * (holes are not counted), and an overlap with an earlier reservation
 * keeps the earlier one. */
int zd_memblock_reserve(struct zd_machine *m, uint64_t pfn, uint64_t nr, const char *why)
{
	struct zd_memblock *mb = m->memblock;
	int rc = 0;

	for (size_t i = 0; i < mb->memory.nr && !rc; i++) {
		uint64_t s = mb->memory.r[i].pfn > pfn ? mb->memory.r[i].pfn : pfn;
		uint64_t e = mb->memory.r[i].end < pfn + nr ? mb->memory.r[i].end : pfn + nr;
		if (s < e)
			rc = reserve_one(mb, s, e, why);
	}
	return rc;
}

static int reserve_one(struct zd_memblock *mb, uint64_t pfn, uint64_t end, const char *why)
{
	while (pfn < end) {
		const struct zd_memblock_region *r = reserved_overlap(mb, pfn, end);
		uint64_t stop = r ? (r->pfn > pfn ? r->pfn : pfn) : end;
		int rc;

		if (stop > pfn && (rc = insert_region(&mb->reserved, pfn, stop, -1, why)))
			return rc;
		pfn = r ? (r->end > stop ? r->end : stop) : end;
	}
	return 0;
}

/*
 * memblock_alloc_try_nid(): top-down, the highest nr pages aligned to
 * align pages below limit (0: no limit) in nid's memory that no reservation
 * covers; another node's when nid has none. UINT64_MAX when nothing fits.
 */
uint64_t zd_memblock_alloc(struct zd_machine *m, int nid, uint64_t nr, uint64_t align,
			   uint64_t limit, const char *why)
{
	struct zd_memblock *mb = m->memblock;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = mb->memory.nr; i-- > 0; ) {
			const struct zd_memblock_region *mem = &mb->memory.r[i];
			uint64_t top = limit && mem->end > limit ? limit : mem->end;

			if (pass == 0 && mem->nid != nid)
				continue;
			while (top >= mem->pfn + nr) {
				uint64_t pfn = (top - nr) & ~(align - 1);
				const struct zd_memblock_region *r;

				if (pfn < mem->pfn)
					break;
				r = reserved_overlap_top(mb, pfn, pfn + nr);
				if (!r) {
					if (insert_region(&mb->reserved, pfn, pfn + nr, nid, why))
						return UINT64_MAX;
					return pfn;
				}
				top = r->pfn;
			}
		}
	}
	zd_pr_err(m, "memblock: cannot allocate %llu pages (%s) on node %d", ULL(nr), why, nid);
	return UINT64_MAX;
}

uint64_t zd_memblock_reserved_pages(const struct zd_machine *m, const char *why)
{
	uint64_t n = 0;

	for (size_t i = 0; m->memblock && i < m->memblock->reserved.nr; i++) {
		const struct zd_memblock_region *r = &m->memblock->reserved.r[i];
		if (!why || !strcmp(r->why, why))
			n += r->end - r->pfn;
	}
	return n;
}

/* The zone limits of boot memory: DMA, DMA32, then Normal. */
static uint64_t next_zone_limit(const struct zd_machine *m, uint64_t pfn)
{
	const struct zd_arch *a = &m->arch;
	uint64_t dma = a->dma_limit >> a->page_shift, dma32 = a->dma32_limit >> a->page_shift;

	if (pfn < dma)
		return dma;
	if (pfn < dma32)
		return dma32;
	return UINT64_MAX;
}

/* memblock_free_all(): every free stretch of boot memory to the buddy, one
 * zone at a time; reserved pages keep PG_reserved from their memmap init. */
void zd_memblock_free_all(struct zd_machine *m)
{
	struct zd_memblock *mb = m->memblock;

	for (size_t i = 0; i < mb->memory.nr; i++) {
		uint64_t pfn = mb->memory.r[i].pfn, end = mb->memory.r[i].end;

		while (pfn < end) {
			const struct zd_memblock_region *r = reserved_overlap(mb, pfn, end);
			uint64_t stop = r && r->pfn > pfn ? r->pfn : r ? pfn : end;
			uint64_t lim = next_zone_limit(m, pfn);

			if (stop > lim)
				stop = lim;
			if (stop > pfn) {
				zd_generic_online_pages(m, pfn, stop - pfn);
				pfn = stop;
			} else {
				pfn = r->end;
			}
		}
	}
	mb->done = true;
}
