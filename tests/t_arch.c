/*
 * Architecture profiles (src/arch/arch.c) against the kernel's own numbers.
 *
 * Asserts, for every profile zd_arch_names() lists:
 *  - the derived sparse constants (PAGE_SHIFT, SECTION_SIZE_BITS,
 *    PAGES_PER_SECTION, PAGES_PER_SUBSECTION, SUBSECTIONS_PER_SECTION,
 *    NR_MEM_SECTIONS, MAX_PHYSMEM_BITS), the PMD/PUD shifts, the default
 *    memory block size and the vmemmap coverage rule equal an explicit table
 *    copied from spec/core.md §1.2 and the arch headers. The table holds
 *    literal numbers on purpose: recomputing them with the library's formulas
 *    would only test the formulas against themselves;
 *  - the build-time checks the kernel makes hold (SUBSECTION_SHIFT <= section
 *    bits, MAX_PAGE_ORDER + PAGE_SHIFT <= section bits);
 *  - the vmemmap window a booted machine reserves follows the coverage rule
 *    (x86/ppc: the whole physical space; arm64: the linear map from memstart),
 *    and arm64 refuses a hot-add below memstart (no struct pages there);
 *  - zd_arch_validate() rejects phys_bits above MAX_PHYSMEM_BITS, and so does
 *    machine creation;
 *  - lowering phys_bits to 43 on x86_64 derives 2^16 sections;
 *  - an unknown architecture name gives ERR_PTR(-EINVAL) and
 *    zd_machine_create_error() names it.
 * Why: every other number in zonedev (section words, sub-section bitmaps,
 * vmemmap sizes, hotplug alignment) is derived from these; a wrong profile
 * silently shifts all of them.
 */
#include <zonedev/zonedev.h>
#include <string.h>
#include "tap.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)
#define T (1ULL << 40)

struct expect {
	const char *name;
	unsigned page_shift;
	unsigned section_bits;
	uint64_t pages_per_section;
	uint64_t pages_per_subsection;
	unsigned subsections_per_section;
	unsigned max_physmem_bits;
	uint64_t nr_mem_sections;
	unsigned pmd_shift, pud_shift;
	uint64_t block_size;           /* default memory block size */
	enum zd_vmemmap_coverage coverage;
	uint64_t vmemmap_pfns;         /* pfns the window covers with RAM at 0 */
};

/*
 * spec/core.md §1.2 (arch/x86/include/asm/sparsemem.h,
 * arch/arm64/include/asm/sparsemem.h, arch/powerpc/include/asm/sparsemem.h),
 * PMD/PUD sizes from the page-table geometry of each page size, block sizes
 * from memory_block_size_bytes() (x86 below 64 GiB of boot memory: 128 MiB;
 * arm64: one section; pseries: the 256 MiB LMB).
 * vmemmap_pfns: x86/ppc cover 2^MAX_PHYSMEM_BITS bytes; arm64 covers the
 * 2^47-byte linear map (48-bit VA) starting at memstart.
 */
static const struct expect table[] = {
	{ "x86_64",      12, 27, 32768, 512, 64,  46, 524288ULL,    21, 30, 128 * M,
	  ZD_VMEMMAP_COVERS_PHYS, 1ULL << 34 },
	{ "x86_64-la57", 12, 27, 32768, 512, 64,  52, 33554432ULL,  21, 30, 128 * M,
	  ZD_VMEMMAP_COVERS_PHYS, 1ULL << 40 },
	{ "arm64-4k",    12, 27, 32768, 512, 64,  48, 2097152ULL,   21, 30, 128 * M,
	  ZD_VMEMMAP_COVERS_LINEAR_MAP, 1ULL << 35 },
	{ "arm64-16k",   14, 27, 8192,  128, 64,  48, 2097152ULL,   25, 36, 128 * M,
	  ZD_VMEMMAP_COVERS_LINEAR_MAP, 1ULL << 33 },
	{ "arm64-64k",   16, 29, 8192,  32,  256, 48, 524288ULL,    29, 42, 512 * M,
	  ZD_VMEMMAP_COVERS_LINEAR_MAP, 1ULL << 31 },
	{ "ppc64",       16, 24, 256,   32,  8,   51, 134217728ULL, 21, 30, 256 * M,
	  ZD_VMEMMAP_COVERS_PHYS, 1ULL << 35 },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static const struct expect *lookup(const char *name)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

static void check_profile(const struct expect *e)
{
	const struct zd_arch *a = zd_arch_find(e->name);
	const char *why = "x";

	if (!ok(a != NULL, "%s: zd_arch_find finds the profile", e->name))
		return;
	is_int(a->page_shift, e->page_shift, "%s: PAGE_SHIFT", e->name);
	is_u64(a->page_size, 1ULL << e->page_shift, "%s: PAGE_SIZE", e->name);
	is_int(a->section_size_bits, e->section_bits, "%s: SECTION_SIZE_BITS", e->name);
	is_int(a->pfn_section_shift, e->section_bits - e->page_shift, "%s: PFN_SECTION_SHIFT",
	       e->name);
	is_u64(a->pages_per_section, e->pages_per_section, "%s: PAGES_PER_SECTION", e->name);
	is_u64(a->pages_per_subsection, e->pages_per_subsection, "%s: PAGES_PER_SUBSECTION",
	       e->name);
	is_int(a->subsections_per_section, e->subsections_per_section,
	       "%s: SUBSECTIONS_PER_SECTION", e->name);
	is_int(a->max_physmem_bits, e->max_physmem_bits, "%s: MAX_PHYSMEM_BITS", e->name);
	is_int(a->phys_bits, e->max_physmem_bits, "%s: default phys_bits is the maximum", e->name);
	is_u64(a->nr_mem_sections, e->nr_mem_sections, "%s: NR_MEM_SECTIONS", e->name);
	is_int(a->pmd_shift, e->pmd_shift, "%s: PMD_SHIFT", e->name);
	is_int(a->pud_shift, e->pud_shift, "%s: PUD_SHIFT", e->name);
	is_u64(a->min_memory_block_size, e->block_size, "%s: default memory block size", e->name);
	is_int(a->coverage, e->coverage, "%s: vmemmap coverage rule", e->name);
	/* Kernel build checks (include/linux/mmzone.h). */
	ok(ZD_SUBSECTION_SHIFT <= a->section_size_bits, "%s: SUBSECTION_SHIFT <= SECTION_SIZE_BITS",
	   e->name);
	ok(a->max_page_order + a->page_shift <= a->section_size_bits,
	   "%s: MAX_PAGE_ORDER + PAGE_SHIFT <= SECTION_SIZE_BITS (%u + %u)", e->name,
	   a->max_page_order, a->page_shift);
	/* A sub-section's memmap is PAGES_PER_SUBSECTION * 64 bytes: 32 KiB
	 * with 4 KiB pages, 2 KiB with 64 KiB pages (shares a host page). */
	is_u64(a->pages_per_subsection * ZD_STRUCT_PAGE_SIZE, e->pages_per_subsection * 64,
	       "%s: sub-section memmap bytes", e->name);
	is_int(zd_arch_validate(a, &why), 0, "%s: the profile validates", e->name);
	ok(why == NULL, "%s: validate leaves no reason on success", e->name);

	/* phys_bits above the arch maximum is impossible. */
	struct zd_arch copy = *a;
	copy.phys_bits = e->max_physmem_bits + 1;
	zd_arch_derive(&copy);
	why = NULL;
	is_int(zd_arch_validate(&copy, &why), -EINVAL, "%s: phys_bits %u > max rejected", e->name,
	       copy.phys_bits);
	ok(why && strstr(why, "phys_bits"), "%s: the reason names phys_bits (%s)", e->name,
	   why ? why : "(null)");
	copy.phys_bits = e->max_physmem_bits;
	zd_arch_derive(&copy);
	is_int(zd_arch_validate(&copy, NULL), 0, "%s: phys_bits == max accepted", e->name);
}

/* Boot a small machine of the profile and check its vmemmap coverage. */
static void check_machine(const struct expect *e)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G, .node = 0 } };
	struct zd_machine_desc d = { .arch = e->name, .ram = ram, .nr_ram = 1 };
	struct zd_machine *m = zd_machine_create(&d);

	if (!ok(!ZD_IS_ERR_OR_NULL(m), "%s: a 1 GiB machine boots (%s)", e->name,
		zd_machine_create_error()))
		return;
	is_u64(m->arch.nr_mem_sections, e->nr_mem_sections, "%s: machine NR_MEM_SECTIONS", e->name);
	is_u64(m->vmemmap_start_pfn, 0, "%s: vmemmap coverage starts at pfn 0", e->name);
	is_u64(m->vmemmap_end_pfn - m->vmemmap_start_pfn, e->vmemmap_pfns,
	       "%s: vmemmap coverage in pfns", e->name);
	ok(m->vmemmap_window_size >= e->vmemmap_pfns * 64,
	   "%s: the window holds 64 bytes per covered pfn", e->name);
	is_u64(zd_memory_block_size_bytes(m), e->block_size, "%s: machine block size", e->name);
	is_u64(zd_warn_count(m), 0, "%s: booting fires no warning", e->name);
	zd_machine_destroy(m);
}

int main(void)
{
	const char *const *names = zd_arch_names();
	size_t n = 0;

	/* Every listed profile has an expected row and vice versa. */
	for (; names[n]; n++)
		ok(lookup(names[n]) != NULL, "profile %s has an expected row", names[n]);
	is_int(n, NTABLE, "zd_arch_names() lists %zu profiles", NTABLE);
	for (size_t i = 0; i < NTABLE; i++) {
		bool listed = false;
		for (size_t j = 0; j < n; j++)
			listed |= !strcmp(names[j], table[i].name);
		ok(listed, "expected profile %s is listed", table[i].name);
	}
	for (size_t i = 0; i < n; i++) {
		const struct expect *e = lookup(names[i]);
		if (e) {
			check_profile(e);
			check_machine(e);
		}
	}

	/* x86_64 with phys_bits lowered to 43: 2^(43-27) sections. */
	{
		struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G, .node = 0 } };
		struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 43, .ram = ram,
					     .nr_ram = 1 };
		struct zd_machine *m = zd_machine_create(&d);

		if (ok(!ZD_IS_ERR_OR_NULL(m), "x86_64 with phys_bits 43 boots")) {
			is_int(m->arch.phys_bits, 43, "machine phys_bits is 43");
			is_int(m->arch.max_physmem_bits, 46, "the arch maximum stays 46");
			is_u64(m->arch.nr_mem_sections, 65536, "43-bit x86_64: 2^16 sections");
			is_u64(m->vmemmap_end_pfn - m->vmemmap_start_pfn, 1ULL << 31,
			       "43-bit x86_64: vmemmap covers 2^31 pfns");
			ok(zd_nr_to_section(m, 65536) == NULL, "section 65536 is out of range");
			ok(!zd_pfn_valid(m, 65536ULL << 15), "pfn of section 2^16 is invalid");
			is_u64(zd_warn_count(m), 0, "no warning");
			zd_machine_destroy(m);
		}
		/* The profile itself is untouched by the machine's copy. */
		is_int(zd_arch_find("x86_64")->phys_bits, 46, "the x86_64 profile keeps 46 bits");
		is_u64(zd_arch_find("x86_64")->nr_mem_sections, 524288,
		       "the x86_64 profile keeps 2^19 sections");
	}

	/* phys_bits above the maximum: machine creation refuses. */
	{
		struct zd_mem_range ram[] = { { .start = 0, .size = 1 * G, .node = 0 } };
		struct zd_machine_desc d = { .arch = "x86_64", .phys_bits = 47, .ram = ram,
					     .nr_ram = 1 };
		struct zd_machine *m = zd_machine_create(&d);

		is_int(ZD_IS_ERR(m) ? ZD_PTR_ERR(m) : 0, -EINVAL, "x86_64 with 47 bits: -EINVAL");
		ok(strstr(zd_machine_create_error(), "phys_bits") != NULL,
		   "the create error explains phys_bits (%s)", zd_machine_create_error());
		if (!ZD_IS_ERR_OR_NULL(m))
			zd_machine_destroy(m);
	}

	/* arm64: the vmemmap starts at memstart; nothing below it can be added. */
	{
		struct zd_mem_range ram[] = { { .start = 2 * G, .size = 1 * G, .node = 0 } };
		struct zd_machine_desc d = { .arch = "arm64-4k", .ram = ram, .nr_ram = 1 };
		struct zd_machine *m = zd_machine_create(&d);

		if (ok(!ZD_IS_ERR_OR_NULL(m), "arm64-4k with RAM at 2 GiB boots")) {
			is_u64(m->vmemmap_start_pfn, 2 * G / 4096,
			       "arm64: vmemmap coverage starts at memstart");
			is_u64(m->vmemmap_end_pfn, 2 * G / 4096 + (128 * T) / 4096,
			       "arm64: coverage is the 128 TiB linear map");
			is_int(zd_add_memory(m, 0, 1 * G, 128 * M, 0), -E2BIG,
			       "arm64: hot-add below memstart is outside the pluggable range");
			is_int(zd_add_memory(m, 0, 4 * G, 128 * M, 0), 0,
			       "arm64: hot-add above memstart works");
			ok(zd_pfn_valid(m, 4 * G / 4096), "the added pfn is valid");
			is_int(zd_remove_memory(m, 4 * G, 128 * M), 0, "and is removed");
			is_u64(zd_warn_count(m), 0, "no warning");
			zd_machine_destroy(m);
		}
	}

	/* Unknown architecture. */
	{
		struct zd_machine_desc d = { .arch = "sparc64" };
		struct zd_machine *m = zd_machine_create(&d);

		ok(ZD_IS_ERR(m), "unknown arch: zd_machine_create returns an ERR_PTR");
		is_int(ZD_IS_ERR(m) ? ZD_PTR_ERR(m) : 0, -EINVAL, "unknown arch: -EINVAL");
		ok(strstr(zd_machine_create_error(), "sparc64") != NULL,
		   "the create error names the arch (%s)", zd_machine_create_error());
		ok(zd_arch_find("sparc64") == NULL, "zd_arch_find(sparc64) is NULL");
		if (!ZD_IS_ERR_OR_NULL(m))
			zd_machine_destroy(m);
	}
	return done_testing();
}
