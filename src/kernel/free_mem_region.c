/*
 * Finding free physical address space (kernel/resource.c's
 * CONFIG_GET_FREE_REGION half): request_free_mem_region() searches top-down
 * below DIRECT_MAP_PHYSMEM_END and claims a busy region for device-private
 * memory; alloc_free_mem_region() searches bottom-up and inserts a non-busy
 * child (CXL). Invariant: the search and the claim happen under one write
 * hold of the resource lock, so two callers never get the same range.
 */
#include <zonedev/err.h>
#include <zonedev/ioport.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include "base/align.h"
#include "kernel/internal.h"

phys_addr_t zd_direct_map_physmem_end(const struct zd_machine *m)
{
	phys_addr_t top = (1ULL << m->arch.phys_bits) - 1;
	phys_addr_t memstart, end;

	if (m->arch.coverage != ZD_VMEMMAP_COVERS_LINEAR_MAP)
		return top;
	/* arm64: only the linear map starting at the first RAM has a memmap. */
	memstart = zd_pfn_phys(&m->arch, m->memstart_pfn);
	end = memstart + m->arch.linear_map_size - 1;
	if (end < memstart || end > top)
		end = top;
	return end;
}


/*
 * Find room for size bytes (already a multiple of align) below base: only
 * candidates on align boundaries that overlap no child of base qualify
 * (get_free_mem_region's REGION_DISJOINT test with flags 0). Descending
 * starts under min(base->end, limit) and keeps going while the candidate is
 * above align and not below base->start; ascending starts at
 * ALIGN(max(base->start, align)) and needs the whole candidate under the
 * limit. Instead of stepping one alignment unit at a time through an
 * occupied stretch, jump straight past the child in the way: the first
 * aligned candidate that clears it is the one stepping would reach.
 * Returns true with *out set, or false.
 */
static bool find_free(const struct zd_resource *base, phys_addr_t limit, phys_addr_t size,
		      phys_addr_t align, bool descending, phys_addr_t *out, unsigned *probes)
{
	struct zd_resource *c;
	phys_addr_t addr;

	if (descending) {
		if (size - 1 > limit)
			return false;
		addr = ZD_ALIGN_DOWN(limit - (size - 1), align);
		while (addr > align && addr >= base->start) {
			++*probes;
			c = zd_res_first_overlap(base, addr, addr + size - 1);
			if (!c) {
				*out = addr;
				return true;
			}
			if (c->start < size)
				return false;
			addr = ZD_ALIGN_DOWN(c->start - size, align);
		}
		return false;
	}

	addr = base->start > align ? base->start : align;
	if (addr + (align - 1) < addr)
		return false;
	addr = ZD_ALIGN_DOWN(addr + (align - 1), align);
	while (addr <= limit && size - 1 <= limit - addr) {
		++*probes;
		c = zd_res_first_overlap(base, addr, addr + size - 1);
		if (!c) {
			*out = addr;
			return true;
		}
		if (c->end + align < c->end + 1 || c->end + 1 == 0)
			return false;   /* the next boundary would wrap */
		addr = ZD_ALIGN_DOWN(c->end + align, align);
	}
	return false;
}

static struct zd_resource *get_free_mem_region(struct zd_machine *m, struct zd_resource *base,
					       phys_addr_t size, phys_addr_t align,
					       const char *name, unsigned long desc,
					       bool descending_request, const char *who)
{
	char a[RANGE_STR];
	struct zd_resource *res;
	phys_addr_t limit, addr = 0;    /* set when found; -Os cannot tell */
	phys_addr_t asked = size;
	unsigned probes = 0;
	bool found;

	base = root_or(m, base);
	if (size == 0 || align == 0 || (align & (align - 1))) {
		zd_pr_warn(m, "%s: invalid size 0x%llx or alignment 0x%llx", who,
			   (unsigned long long)size, (unsigned long long)align);
		return ZD_ERR_PTR(-EINVAL);
	}
	size = ZD_ALIGN_DOWN(size + (align - 1), align);
	if (size < asked) {
		zd_pr_warn(m, "%s: no free range of 0x%llx: size overflows when aligned to 0x%llx",
			   who, (unsigned long long)asked, (unsigned long long)align);
		return ZD_ERR_PTR(-ERANGE);
	}
	res = zd_res_new(name);
	if (!res) {
		zd_pr_err(m, "%s: out of memory", who);
		return ZD_ERR_PTR(-ENOMEM);
	}

	res_wrlock(m);
	limit = zd_direct_map_physmem_end(m);
	if (base->end < limit)
		limit = base->end;
	found = find_free(base, limit, size, align, descending_request, &addr, &probes);
	/* The search cost, in candidates looked at (tests bound it). */
	zd_pr_debug(m, "%s: %u candidate(s) probed", who, probes);
	if (found && descending_request) {
		/* Claimed from the top of iomem, like the kernel does. */
		if (zd_res_request_region_locked(m, &m->iomem_resource, res, addr, size, 0, false))
			found = false;
		else
			res->desc = desc;
	} else if (found) {
		res->start = addr;
		res->end = addr + size - 1;
		res->flags = ZD_IORESOURCE_MEM;
		res->desc = desc;
		/* Nothing overlaps, so this lands as a leaf directly under base. */
		if (zd_res_insert_locked(m, base, res))
			found = false;
	}
	if (!found) {
		if (descending_request)
			zd_pr_warn(m, "%s: no free range of 0x%llx below 0x%llx", who,
				   (unsigned long long)size, (unsigned long long)limit);
		else
			zd_pr_warn(m, "%s: no free range of 0x%llx in %s up to 0x%llx", who,
				   (unsigned long long)size, zd_res_fmt(a, sizeof(a), base),
				   (unsigned long long)limit);
	}
	res_unlock(m);
	if (!found) {
		zd_res_free(res);
		return ZD_ERR_PTR(-ERANGE);
	}
	return res;
}

struct zd_resource *zd_request_free_mem_region(struct zd_machine *m, struct zd_resource *base,
					       phys_addr_t size, const char *name)
{
	return get_free_mem_region(m, base, size, 1ULL << m->arch.section_size_bits, name,
				   ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY, true,
				   "request_free_mem_region");
}

struct zd_resource *zd_alloc_free_mem_region(struct zd_machine *m, struct zd_resource *base,
					     phys_addr_t size, phys_addr_t align, const char *name)
{
	return get_free_mem_region(m, base, size, align, name, ZD_IORES_DESC_NONE, false,
				   "alloc_free_mem_region");
}

