/*
 * /dev/mem's view of physical memory (drivers/char/mem.c): only addresses
 * below the end of RAM are valid, and device memory is never RAM. Device
 * ranges above max_pfn stay out of reach because memremap never raises it.
 */
#include <zonedev/memremap.h>
#include <zonedev/machine.h>

bool zd_valid_phys_addr_range(struct zd_machine *m, phys_addr_t addr, size_t size)
{
	phys_addr_t high = zd_pfn_phys(&m->arch, __atomic_load_n(&m->max_low_pfn, __ATOMIC_RELAXED));

	if (addr + size < addr || addr + size > high)
		return false;
	for (phys_addr_t a = addr & ~(m->arch.page_size - 1); a < addr + size; a += m->arch.page_size)
		if (!zd_page_is_ram(m, zd_phys_pfn(&m->arch, a)))
			return false;
	return true;
}
