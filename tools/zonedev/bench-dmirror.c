/*
 * The dmirror machines of the HMM benches (bench-dmirror.h). Only the
 * library's public calls are used, so the benches measure whatever the
 * library's migration and hmm_range_fault do (per page today, compound
 * folios once they exist) without change here. The buffer pattern is a
 * 64-bit word per 8 bytes derived from the offset and a seed: a page moved
 * to the wrong place or not copied shows as a mismatch.
 */
#include <errno.h>
#include <string.h>
#include "bench.h"
#include "bench-dmirror.h"
#include "cli.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define CHUNK (64 * 1024)   /* bytes per zd_access_vm call */

const char *const bench_design_names[BENCH_NR_DESIGNS] = { "pfn", "dpa" };

uint32_t bench_parse_designs(const struct bench *b, const char *list, int *rc)
{
	uint32_t mask = 0;
	const char *p = list;

	*rc = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		int i;

		for (i = 0; i < BENCH_NR_DESIGNS; i++)
			if (strlen(bench_design_names[i]) == len &&
			    !strncmp(p, bench_design_names[i], len))
				break;
		if (i == BENCH_NR_DESIGNS) {
			*rc = bench_bad(b, "--design", list, "'%.*s' is not one of pfn, dpa",
					(int)len, p);
			return 0;
		}
		mask |= 1u << i;
		p += len + (p[len] == ',');
	}
	if (!mask)
		*rc = bench_bad(b, "--design", list, "names no design (pfn, dpa or both)");
	return mask;
}

static uint64_t ram_bytes(uint64_t max)
{
	/* the buffer, the pages a move back allocates while the old ones are
	 * still on the free lists, page tables and the kernel's own */
	return bench_align(2 * max, GIB) + GIB;
}

static uint64_t vram_bytes(uint64_t max)
{
	/* a chunk to spare: chunks are registered only when used */
	return bench_align(max, ZD_DEVMEM_CHUNK_SIZE) + ZD_DEVMEM_CHUNK_SIZE;
}

uint64_t bench_gpu_host_bytes(uint64_t max)
{
	/* RAM pages of the buffer and of its moves back, VRAM pages (a
	 * memfd, touched as copied to), memmap at 64 bytes per 4 KiB page */
	return 3 * bench_align(max, 2 * MIB) + (ram_bytes(max) + vram_bytes(max)) / 64;
}

int bench_gpu_create(struct bench *bn, struct bench_gpu *g, int design, uint64_t max)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = ram_bytes(max) } };
	struct zd_dmirror_desc gd[2] = {
		{ .name = "gpu0", .vram_size = vram_bytes(max) },
		{ .name = "gpu1", .vram_size = ZD_DEVMEM_CHUNK_SIZE },
	};
	struct zd_machine_desc d = {
		.arch = "x86_64", .ram = ram, .nr_ram = 1, .host_memory_unguarded = bn->no_guard,
		.device_private = design == BENCH_DPA ? ZD_DEVICE_PRIVATE_DPA :
			ZD_DEVICE_PRIVATE_PFN,
		.transparent_hugepage = ZD_THP_ALWAYS, .progress = progress_update,
	};

	memset(g, 0, sizeof(*g));
	g->m = zd_machine_create(&d);
	if (ZD_IS_ERR(g->m)) {
		g->m = NULL;
		return bench_fail(bn, "%s: %s", bench_design_names[design],
				  zd_machine_create_error());
	}
	bn->m = g->m;
	for (int i = 0; i < 2; i++) {
		g->gpu[i] = zd_dmirror_create(g->m, &gd[i]);
		if (ZD_IS_ERR(g->gpu[i])) {
			int rc = (int)ZD_PTR_ERR(g->gpu[i]);

			g->gpu[i] = NULL;
			return bench_fail(bn, "%s: creating %s failed with %s",
					  bench_design_names[design], gd[i].name, zd_errno_name(rc));
		}
	}
	g->mm = zd_mm_alloc(g->m);
	if (ZD_IS_ERR(g->mm)) {
		g->mm = NULL;
		return bench_fail(bn, "%s: cannot make a process", bench_design_names[design]);
	}
	return 0;
}

void bench_gpu_destroy(struct bench_gpu *g)
{
	/* the process first: its exit gives the device pages back, which
	 * the devices' unbind would otherwise wait for */
	if (g->mm)
		zd_mmput(g->mm);
	for (int i = 0; i < 2; i++)
		if (g->gpu[i])
			zd_dmirror_destroy(g->gpu[i]);
	if (g->m)
		zd_machine_destroy(g->m);
	memset(g, 0, sizeof(*g));
}

uint64_t bench_gpu_pmd_size(const struct bench_gpu *g)
{
	return 1ULL << g->m->arch.pmd_shift;
}

static void pattern(uint64_t *w, uint64_t off, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n / 8; i++)
		w[i] = ((off + i * 8) >> 3) * 0x9e3779b97f4a7c15ULL + seed;
}

int64_t bench_gpu_buffer(struct bench_gpu *g, uint64_t len, bool thp, unsigned seed)
{
	uint64_t pmd = bench_gpu_pmd_size(g), start, w[CHUNK / 8];
	int64_t a = zd_vm_mmap(g->mm, 0, len + pmd, ZD_PROT_READ | ZD_PROT_WRITE,
			       ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS, NULL, 0);
	int rc;

	if (a < 0)
		return a;
	/* whole aligned PMDs, so a huge page fault can map them */
	start = bench_align((uint64_t)a, pmd);
	if (start > (uint64_t)a)
		zd_vm_munmap(g->mm, (uint64_t)a, start - (uint64_t)a);
	if ((uint64_t)a + pmd > start)
		zd_vm_munmap(g->mm, start + len, (uint64_t)a + pmd - start);
	rc = zd_do_madvise(g->mm, start, len, thp ? ZD_MADV_HUGEPAGE : ZD_MADV_NOHUGEPAGE);
	for (uint64_t off = 0; !rc && off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;

		pattern(w, off, n, seed);
		rc = zd_access_vm(g->mm, start + off, w, n, true);
	}
	if (rc) {
		zd_vm_munmap(g->mm, start, len);
		return rc;
	}
	return (int64_t)start;
}

int bench_gpu_prewarm(struct bench_gpu *g, uint64_t len)
{
	uint64_t npages = len >> g->m->arch.page_shift, cp;
	int64_t a = bench_gpu_buffer(g, len, false, 0);
	int rc;

	if (a < 0)
		return (int)a;
	rc = zd_dmirror_migrate_to_dev(g->gpu[0], g->mm, (uint64_t)a, npages, &cp) ?:
	     zd_dmirror_migrate_to_sys(g->gpu[0], g->mm, (uint64_t)a, npages, &cp);
	zd_vm_munmap(g->mm, (uint64_t)a, len);
	return rc;
}

int bench_gpu_check(struct bench_gpu *g, uint64_t addr, uint64_t len, unsigned seed)
{
	uint64_t w[CHUNK / 8], want[CHUNK / 8];

	for (uint64_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
		int rc = zd_access_vm(g->mm, addr + off, w, n, false);

		if (rc)
			return rc;
		pattern(want, off, n, seed);
		if (memcmp(w, want, n))
			return 1;
	}
	return 0;
}

uint64_t bench_gpu_pmd_leaves(struct bench_gpu *g, uint64_t addr, uint64_t len)
{
	const struct zd_pgtable_ops *o = g->m->arch.pgtable;
	uint64_t pmd = bench_gpu_pmd_size(g), n = 0;

	/* present or not: a device-private PMD entry counts as much as a THP */
	for (uint64_t a = bench_align(addr, pmd); a + pmd <= addr + len; a += pmd) {
		enum zd_pt_level level = ZD_PT_PTE;
		struct zd_page *page;
		zd_pte_t e = zd_follow_pte(g->mm, a, &level, &page);

		n += level == ZD_PT_PMD && !o->pte_none(&g->m->arch, e);
	}
	return n;
}
