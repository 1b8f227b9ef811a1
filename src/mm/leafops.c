/*
 * The encodings of non-present entries and migrate pfns in both
 * device-private designs (include/zonedev/swapops.h, the kernel's
 * leafops.h and migrate.h helpers): device-private, migration and
 * device-exclusive entries, their decoding to a page, and the
 * MIGRATE_PFN_* words that name a page by pfn or, under dpa, by its
 * device-private offset.
 * Invariants: a device-private page is named by an offset only through an
 * entry or word whose type says so (a device-private swap type,
 * MIGRATE_PFN_DEVICE_PRIVATE); nothing here turns such an offset into a
 * pfn (softleaf_pfn WARNs).
 */
#include "internal.h"

#include <zonedev/log.h>
#include <zonedev/memremap.h>
#include <zonedev/migrate.h>
#include <zonedev/swapops.h>

/* ---------- entries (swapops.h) ---------- */

static bool dpa_page(struct zd_machine *m, struct zd_page *page)
{
	return m->device_private == ZD_DEVICE_PRIVATE_DPA && !zd_page_in_vmemmap(m, page);
}

uint64_t zd_device_private_entry_offset(struct zd_machine *m, struct zd_page *page)
{
	return dpa_page(m, page) ? zd_device_private_page_to_offset(page) : zd_page_to_pfn(m, page);
}

struct zd_page *zd_softleaf_to_page(struct zd_machine *m, enum zd_softleaf_type k,
				    uint64_t offset)
{
	if (k == ZD_SOFTLEAF_SWAP || k == ZD_SOFTLEAF_MARKER)
		return NULL;
	if (zd_softleaf_has_dpa_offset(m, k))
		return zd_device_private_offset_to_page(m, offset);
	if (offset < m->vmemmap_start_pfn || offset >= m->vmemmap_end_pfn)
		return NULL;
	return zd_pfn_to_page(m, offset);
}

uint64_t zd_softleaf_pfn(struct zd_machine *m, enum zd_softleaf_type k, uint64_t offset)
{
	if (ZD_WARN(m, zd_softleaf_has_dpa_offset(m, k),
		    "softleaf_to_pfn: offset 0x%llx of a device-private entry is no pfn",
		    (unsigned long long)offset))
		return ZD_BAD_PFN;
	return offset;
}

zd_pte_t zd_make_device_private_entry(struct zd_machine *m, struct zd_page *page, bool write)
{
	return m->arch.pgtable->swp_entry_to_pte(&m->arch, zd_swp_type_of(m,
			write ? ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE : ZD_SOFTLEAF_DEVICE_PRIVATE_READ),
			zd_device_private_entry_offset(m, page));
}

zd_pte_t zd_make_migration_entry(struct zd_machine *m, struct zd_page *page, bool write,
				 bool exclusive)
{
	enum zd_softleaf_type k = write ? ZD_SOFTLEAF_MIGRATION_WRITE :
				  exclusive ? ZD_SOFTLEAF_MIGRATION_READ_EXCLUSIVE :
				  ZD_SOFTLEAF_MIGRATION_READ;

	if (dpa_page(m, page))   /* a normal migration entry would need a pfn */
		k += ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ - ZD_SOFTLEAF_MIGRATION_READ;
	return m->arch.pgtable->swp_entry_to_pte(&m->arch, zd_swp_type_of(m, k),
						 zd_device_private_entry_offset(m, page));
}

enum zd_softleaf_type zd_softleaf_from_pte(struct zd_machine *m, zd_pte_t pte,
					   struct zd_page **page)
{
	const struct zd_pgtable_ops *o = m->arch.pgtable;
	enum zd_softleaf_type k = zd_softleaf_type(m, o->swp_type(&m->arch, pte));

	*page = zd_softleaf_to_page(m, k, o->swp_offset(&m->arch, pte));
	return k;
}

/* ---------- mpfns ---------- */

unsigned long zd_migrate_pfn_from_page(struct zd_machine *m, struct zd_page *page)
{
	if (dpa_page(m, page))
		return (unsigned long)zd_device_private_page_to_offset(page) << ZD_MIGRATE_PFN_SHIFT |
		       ZD_MIGRATE_PFN_DEVICE_PRIVATE | ZD_MIGRATE_PFN_VALID;
	return (unsigned long)zd_page_to_pfn(m, page) << ZD_MIGRATE_PFN_SHIFT | ZD_MIGRATE_PFN_VALID;
}

struct zd_page *zd_migrate_pfn_to_page(struct zd_machine *m, unsigned long mpfn)
{
	uint64_t v = mpfn >> ZD_MIGRATE_PFN_SHIFT;

	if (!(mpfn & ZD_MIGRATE_PFN_VALID))
		return NULL;
	if (mpfn & ZD_MIGRATE_PFN_DEVICE_PRIVATE)
		return zd_device_private_offset_to_page(m, v);
	if (v < m->vmemmap_start_pfn || v >= m->vmemmap_end_pfn)
		return NULL;
	return zd_pfn_to_page(m, v);
}
