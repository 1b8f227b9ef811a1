/*
 * The THP tests of the kernel's hmm-tests (spec hmm.md §5: anon_write_huge
 * and 30-37) on the model, with the harness of hmm_selftest.h: PMD-sized
 * buffers with MADV_HUGEPAGE (the huge zero page, a collapsed THP, an
 * empty range), partial munmap and mremap of migrated THPs, and the
 * FAIL_ALLOC fallbacks, for both fixtures' variants, both designs and
 * THP never/madvise/always. A PMD-mapped THP (and a PMD-sized hole)
 * moves to a private device as one device THP (SELECT_COMPOUND).
 */
#include "hmm_selftest.h"

static void anon_write_huge(void)
{
	uint64_t size = 2 * F->pmd, npages, a;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	a = (b->ptr + F->pmd - 1) & ~(F->pmd - 1);
	size = F->pmd;
	zd_do_madvise(F->mm, a, size, ZD_MADV_HUGEPAGE);
	npages = size / PS;
	{
		struct buffer h = { .ptr = a, .size = size, .mirror = b->mirror, .local = b->local };

		for (uint64_t i = 0; i < size / sizeof(int); i++)
			h.mirror[i] = (int)i;
		EQ(run_cmd(F->fd0, zd_dmirror_write, &h, npages), 0, "anon_write_huge: WRITE");
		EQ(h.cpages, npages, "anon_write_huge: cpages");
		EQ(h.faults, 1, "anon_write_huge: faults");
		memset(h.local, 0, size);
		cpu_read(F->mm, &h, 0, size);
		ok(ints(h.local, 0, size, 0), "%s: anon_write_huge: data", F->tag);
	}
	buf_free(b);
}

/* A PMD-aligned PMD-sized region of a 2 x PMD mapping, MADV_HUGEPAGE. */
static struct buffer *huge_buffer(struct buffer **outer, unsigned long prot)
{
	struct buffer *o = buf_new(2 * F->pmd), *b = calloc(1, sizeof(*b));

	o->ptr = map_anon(2 * F->pmd, prot, ZD_MAP_PRIVATE);
	*b = (struct buffer){ .ptr = (o->ptr + F->pmd - 1) & ~(F->pmd - 1), .size = F->pmd,
			      .mirror = o->mirror, .local = o->local };
	zd_do_madvise(F->mm, b->ptr, F->pmd, ZD_MADV_HUGEPAGE);
	*outer = o;
	return b;
}

static void migrate_anon_huge_empty(void)
{
	struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ);
	uint64_t npages = b->size / PS;

	memset(b->mirror, 0xff, b->size);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_empty: migrate");
	EQ(b->cpages, npages, "migrate_anon_huge_empty: cpages");
	ok(zeros(b->mirror, 0, b->size), "%s: migrate_anon_huge_empty: mirror all zero", F->tag);
	free(b);
	buf_free(o);
}

static void migrate_anon_huge_zero(void)
{
	struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ | ZD_PROT_WRITE);
	uint64_t npages = b->size / PS;
	int v = -1;

	zd_access_vm(F->mm, b->ptr, &v, sizeof(v), false);
	EQ(v, 0, "migrate_anon_huge_zero: reads 0 (the huge zero page)");
	memset(b->mirror, 0xff, b->size);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_zero: migrate");
	EQ(b->cpages, npages, "migrate_anon_huge_zero: cpages");
	ok(zeros(b->mirror, 0, b->size), "%s: migrate_anon_huge_zero: mirror zero", F->tag);
	memset(b->local, 0xff, b->size);
	cpu_read(F->mm, b, 0, b->size);
	ok(zeros(b->local, 0, b->size), "%s: migrate_anon_huge_zero: the CPU reads zeros", F->tag);
	free(b);
	buf_free(o);
}

static void migrate_anon_huge_free(void)
{
	struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ | ZD_PROT_WRITE);
	uint64_t npages = b->size / PS;

	cpu_fill(F->mm, b, 0, 0);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_free: migrate");
	ok(ints(b->mirror, 0, b->size, 0), "%s: migrate_anon_huge_free: mirror", F->tag);
	EQ(zd_do_madvise(F->mm, b->ptr, b->size, ZD_MADV_FREE), 0,
	   "migrate_anon_huge_free: MADV_FREE");
	free(b);
	buf_free(o);
}

static void migrate_anon_huge_fault(void)
{
	struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ | ZD_PROT_WRITE);
	uint64_t npages = b->size / PS, *pm = calloc(npages, sizeof(*pm));
	unsigned char *m8 = (unsigned char *)b->mirror;
	bool all = true, swp = true;

	cpu_fill(F->mm, b, 0, 0);
	zd_do_madvise(F->mm, b->ptr, b->size, ZD_MADV_COLLAPSE);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_fault: migrate");
	ok(ints(b->mirror, 0, b->size, 0), "%s: migrate_anon_huge_fault: mirror", F->tag);
	if (!F->coherent) {
		EQ(CMD(F->fd0, snapshot, b, npages), 0, "migrate_anon_huge_fault: SNAPSHOT");
		/* the collapsed THP went as one device THP: its PMD says so */
		for (uint64_t i = 0; i < npages; i++)
			all = all && m8[i] == (ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
					       ZD_HMM_DMIRROR_PROT_WRITE | ZD_HMM_DMIRROR_PROT_PMD);
		ok(all, "%s: migrate_anon_huge_fault: every byte DEV_PRIVATE_LOCAL|WRITE (0x%x)",
		   F->tag, m8[0]);
		zd_pagemap_read(F->mm, b->ptr / PS * 8, pm, npages * 8);
		for (uint64_t i = 0; i < npages; i++)
			swp = swp && (pm[i] & PM_SWAP) && !(pm[i] & PM_PRESENT);
		ok(swp, "%s: migrate_anon_huge_fault: pagemap PM_SWAP, not present", F->tag);
	}
	memset(b->local, 0, b->size);
	cpu_read(F->mm, b, 0, b->size);
	ok(ints(b->local, 0, b->size, 0), "%s: migrate_anon_huge_fault: the CPU reads it back",
	   F->tag);
	free(pm);
	free(b);
	buf_free(o);
}

static void migrate_partial_unmap_fault(void)
{
	uint64_t offsets[] = { 0, F->pmd / 4, F->pmd / 2 };

	for (int use_thp = 0; use_thp < 2; use_thp++)
		for (unsigned k = 0; k < 3; k++) {
			struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ | ZD_PROT_WRITE);
			uint64_t npages = b->size / PS, off = offsets[k];
			bool good;

			if (!use_thp)
				zd_do_madvise(F->mm, b->ptr, b->size, ZD_MADV_NOHUGEPAGE);
			cpu_fill(F->mm, b, 0, 0);
			good = !migrate_dev(F->fd0, b, npages) && ints(b->mirror, 0, b->size, 0);
			zd_vm_munmap(F->mm, b->ptr + off, b->size / 2);
			memset(b->local, 0, b->size);
			if (off)
				good = good && !cpu_read(F->mm, b, 0, off) &&
				       ints(b->local, 0, off, 0);
			if (off + b->size / 2 < b->size)
				good = good && !cpu_read(F->mm, b, off + b->size / 2,
							 b->size / 2 - off) &&
				       ints(b->local, off + b->size / 2, b->size, 0);
			ok(good, "%s: migrate_partial_unmap_fault thp=%d offset=%llu: the rest reads "
			   "back", F->tag, use_thp, (unsigned long long)off);
			free(b);
			buf_free(o);
		}
}

static void migrate_remap_fault(void)
{
	uint64_t offsets[] = { 0, F->pmd / 4, F->pmd / 2 };

	for (int before = 0; before < 2; before++)
		for (int dontunmap = 0; dontunmap < 2; dontunmap++)
			for (int use_thp = 0; use_thp < 2; use_thp++)
				for (unsigned k = 0; k < 3; k++) {
		struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ | ZD_PROT_WRITE);
		uint64_t npages = b->size / PS, target, tgt_area;
		struct buffer nb;
		int64_t r;
		bool good = true;

		if (!use_thp)
			zd_do_madvise(F->mm, b->ptr, b->size, ZD_MADV_NOHUGEPAGE);
		cpu_fill(F->mm, b, 0, 0);
		tgt_area = map_anon(3 * F->pmd, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
		target = ((tgt_area + F->pmd - 1) & ~(F->pmd - 1)) + offsets[k];
		if (!before)
			good = !migrate_dev(F->fd0, b, npages);
		r = zd_do_mremap(F->mm, b->ptr, b->size, b->size,
				 ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED |
				 (dontunmap ? ZD_MREMAP_DONTUNMAP : 0), target);
		good = good && r == (int64_t)target;
		nb = (struct buffer){ .ptr = target, .size = b->size, .mirror = b->mirror,
				      .local = b->local };
		if (before)
			good = good && !migrate_dev(F->fd0, &nb, npages);
		memset(nb.local, 0, nb.size);
		good = good && !cpu_read(F->mm, &nb, 0, nb.size) && ints(nb.local, 0, nb.size, 0);
		ok(good, "%s: migrate_remap_fault before=%d dontunmap=%d thp=%d offset=%llu", F->tag,
		   before, dontunmap, use_thp, (unsigned long long)offsets[k]);
		zd_vm_munmap(F->mm, tgt_area, 3 * F->pmd);
		if (dontunmap)
			zd_vm_munmap(F->mm, b->ptr, b->size);
		free(b);
		buf_free(o);
	}
}

static void migrate_anon_huge_err(void)
{
	struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ | ZD_PROT_WRITE);
	uint64_t npages = b->size / PS;
	int v = -1;

	cpu_fill(F->mm, b, 0, 0);
	zd_dmirror_set_flags(F->dev[0], ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	if (F->thp == ZD_THP_NEVER) {
		/* no THP to fall back from: FAIL_ALLOC costs one 4K page, which
		 * stays behind, and the kernel's test fails the same way */
		EQ(migrate_dev(F->fd0, b, npages), -ENOENT, "migrate_anon_huge_err: thp=never: "
		   "one page stays in system memory");
		zd_dmirror_set_flags(F->dev[0], 0);
		free(b);
		buf_free(o);
		return;
	}
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_err: migrate with FAIL_ALLOC");
	EQ(b->cpages, npages, "migrate_anon_huge_err: cpages");
	zd_access_vm(F->mm, b->ptr + 2048 * sizeof(int), &v, sizeof(v), false);
	EQ(v, 2048, "migrate_anon_huge_err: ptr[2048]");
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_err: migrate again");
	zd_dmirror_set_flags(F->dev[0], ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	EQ(migrate_sys(F->fd0, b, npages), 0, "migrate_anon_huge_err: MIGRATE_TO_SYS with "
	   "FAIL_ALLOC");
	v = -1;
	zd_access_vm(F->mm, b->ptr + 2048 * sizeof(int), &v, sizeof(v), false);
	EQ(v, 2048, "migrate_anon_huge_err: ptr[2048] after the trip back");
	memset(b->local, 0, b->size);
	cpu_read(F->mm, b, 0, b->size);
	ok(ints(b->local, 0, b->size, 0), "%s: migrate_anon_huge_err: all data", F->tag);
	zd_dmirror_set_flags(F->dev[0], 0);
	free(b);
	buf_free(o);
}

static void migrate_anon_huge_zero_err(void)
{
	struct buffer *o, *b = huge_buffer(&o, ZD_PROT_READ | ZD_PROT_WRITE);
	uint64_t npages = b->size / PS;
	int v = -1;

	zd_access_vm(F->mm, b->ptr, &v, sizeof(v), false);
	zd_dmirror_set_flags(F->dev[0], ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	if (F->thp == ZD_THP_NEVER) {
		/* the 4K zero page, not the huge one: one page stays behind */
		EQ(migrate_dev(F->fd0, b, npages), -ENOENT, "migrate_anon_huge_zero_err: "
		   "thp=never: one page stays in system memory");
		zd_dmirror_set_flags(F->dev[0], 0);
		free(b);
		buf_free(o);
		return;
	}
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_zero_err: migrate, FAIL_ALLOC");
	ok(zeros(b->mirror, 0, b->size), "%s: migrate_anon_huge_zero_err: mirror zero", F->tag);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_anon_huge_zero_err: migrate again");
	zd_dmirror_set_flags(F->dev[0], ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	EQ(migrate_sys(F->fd0, b, npages), 0, "migrate_anon_huge_zero_err: back, FAIL_ALLOC");
	memset(b->local, 0xff, b->size);
	cpu_read(F->mm, b, 0, b->size);
	ok(zeros(b->local, 0, b->size), "%s: migrate_anon_huge_zero_err: all reads 0", F->tag);
	zd_dmirror_set_flags(F->dev[0], 0);
	free(b);
	buf_free(o);
}

static const struct test tests[] = {
	{ "anon_write_huge", anon_write_huge, NULL },
	{ "migrate_anon_huge_empty", migrate_anon_huge_empty, NULL },
	{ "migrate_anon_huge_zero", migrate_anon_huge_zero, NULL },
	{ "migrate_anon_huge_free", migrate_anon_huge_free, NULL },
	{ "migrate_anon_huge_fault", migrate_anon_huge_fault, NULL },
	{ "migrate_partial_unmap_fault", migrate_partial_unmap_fault, NULL },
	{ "migrate_remap_fault", migrate_remap_fault, NULL },
	/* FAIL_ALLOC fails the 2 MiB allocation: 4K pages instead */
	{ "migrate_anon_huge_err", migrate_anon_huge_err, NULL },
	{ "migrate_anon_huge_zero_err", migrate_anon_huge_zero_err, NULL },
};

int main(void)
{
	return hmm_selftest_main(tests, sizeof(tests) / sizeof(tests[0]), false);
}
