/*
 * memory_failure() for the pfns zonedev can describe (mm/memory-failure.c):
 * a poisoned device page is marked and its pgmap's handler runs; without one
 * (or when it declines with -EOPNOTSUPP) the generic handler would kill the
 * processes mapping the page — there are no processes yet, so it reports.
 * Online RAM pages are marked poisoned. Invariants: the page is marked
 * before any handler runs; a pfn that is neither online RAM nor covered by
 * a live pgmap (no struct page, offline memory, a pgmap being torn down)
 * is -ENXIO and nothing is written.
 */
#include <zonedev/err.h>
#include <zonedev/memremap.h>
#include "mm/internal.h"
#include "base/align.h"


int zd_memory_failure(struct zd_machine *m, unsigned long pfn, int flags)
{
	struct zd_dev_pagemap *pgmap = NULL;
	struct zd_page *page;
	int rc = -EOPNOTSUPP;

	/* Only online RAM is the generic path's; anything else is device
	 * memory with a live pgmap, or outside kernel control (offline or
	 * never-initialised memmap, a dying pgmap): nothing is written. */
	page = zd_pfn_to_online_page(m, pfn);
	if (page) {
		__atomic_or_fetch(&page->flags, 1UL << ZD_PG_hwpoison, __ATOMIC_RELAXED);
		zd_pr_err(m, "Memory failure: 0x%llx: RAM page marked poisoned", ULL(pfn));
		return 0;
	}
	if (zd_pfn_valid(m, pfn))
		pgmap = zd_get_dev_pagemap(m, pfn);
	if (!pgmap) {
		zd_pr_err(m, "Memory failure: 0x%llx: memory outside kernel control", ULL(pfn));
		return -ENXIO;
	}
	page = zd_pfn_to_page(m, pfn);
	/* The altmap's pfns hold the memmap itself: not recoverable, and their
	 * struct pages were never initialised (memory_failure_dev_pagemap). */
	if (!zd_pgmap_pfn_valid(pgmap, pfn)) {
		zd_pr_err(m, "Memory failure: 0x%llx: device metadata space is not recoverable",
			  ULL(pfn));
		zd_put_dev_pagemap(pgmap);
		return -ENXIO;
	}
	/* Device memory is poisoned on its folio (mf_generic_kill_procs): a
	 * tail of a deduplicated compound memmap has no struct page of its own
	 * to mark — its memmap is shared or never written. */
	page = zd_page_folio(m, page);
	__atomic_or_fetch(&page->flags, 1UL << ZD_PG_hwpoison, __ATOMIC_RELAXED);
	if (pgmap->ops && pgmap->ops->memory_failure)
		rc = pgmap->ops->memory_failure(pgmap, pfn, 1, flags);
	if (rc == -EOPNOTSUPP) {
		zd_pr_err(m, "Memory failure: 0x%llx: recovery action for %s page: generic handler, "
			  "no mapping to unmap", ULL(pfn), zd_memory_type_name(pgmap->type));
		rc = 0;
	} else {
		zd_pr_err(m, "Memory failure: 0x%llx: %s pgmap handler returned %d", ULL(pfn),
			  zd_memory_type_name(pgmap->type), rc);
	}
	zd_put_dev_pagemap(pgmap);
	return rc;
}
