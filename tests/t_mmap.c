/*
 * Address spaces and their VMAs (mm/mmap.c, vma.c, mprotect.c, mremap.c,
 * madvise.c, fs/proc/task_mmu.c) against the kernel's rules.
 *
 * Asserts:
 *  - TASK_SIZE and the top-down mmap area per arch (x86_64 0x7ffffffff000,
 *    la57 2^56-4K, arm64 2^va_bits, ppc64 2^52) with the window 128 MiB
 *    below the default map window; mappings come top-down, adjacent
 *    anonymous ones merge, a whole-PMD anonymous length is PMD aligned;
 *  - mmap's refusals in order: len 0 / no MAP_TYPE / misaligned FIXED
 *    EINVAL, FIXED below mmap_min_addr EPERM, a wrapping length ENOMEM,
 *    pgoff overflow EOVERFLOW, no file without MAP_ANONYMOUS EBADF,
 *    FIXED_NOREPLACE over a mapping EEXIST, a file without ->mmap ENODEV,
 *    shared writable on a read-only file EACCES;
 *  - MAP_FIXED over the middle of a mapping splits it; munmap splits and
 *    removes, munmap of nothing is 0, misaligned or empty is EINVAL;
 *  - mprotect splits and merges back, EACCES beyond VM_MAY*, ENOMEM on a
 *    hole with the VMAs before it changed, EINVAL on unknown bits;
 *  - mremap: shrink, grow in place, ENOMEM without MAYMOVE, a move (offset
 *    kept, old range gone), FIXED, DONTUNMAP, EFAULT past the VMA, the flag
 *    checks, old_len 0 on private EINVAL and on shared a second mapping;
 *  - max_map_count refuses a split with ENOMEM and leaves the VMAs intact;
 *  - an owner's may_split refusal (devdax-like) leaves munmap, mprotect and
 *    mremap without any change; open/close/release run as often as copies
 *    are made and dropped;
 *  - /proc/PID/maps lines byte for byte, shared anonymous memory named
 *    "/dev/zero (deleted)" on 00:01;
 *  - fork copies all but MADV_DONTFORK VMAs; madvise flag advice splits
 *    and merges, page advice is EOPNOTSUPP, unknown advice EINVAL;
 *  - machine teardown ends processes still alive.
 * Why: everything processes do later (faults, GUP, migration, HMM) finds
 * its VMA through these; a wrong split or merge corrupts all of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zonedev/zonedev.h>
#include "helpers.h"
#include "tap.h"

#define K (1ULL << 10)
#define M (1ULL << 20)
#define G (1ULL << 30)

#define RW (ZD_PROT_READ | ZD_PROT_WRITE)
#define ANON (ZD_MAP_PRIVATE | ZD_MAP_ANONYMOUS)

static int64_t map(struct zd_mm *mm, uint64_t addr, uint64_t len, unsigned long prot,
		   unsigned long flags)
{
	return zd_vm_mmap(mm, addr, len, prot, flags, NULL, 0);
}

static char *maps_text(struct zd_mm *mm)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	zd_show_maps(mm, f);
	fclose(f);
	return buf;
}

/* "start-end perms" of VMA i, for compact assertions. */
static void vma_is(struct zd_mm *mm, size_t i, uint64_t start, uint64_t end, uint64_t flags,
		   const char *what)
{
	if (i >= mm->map_count) {
		fail("%s: no VMA %zu (map_count %zu)", what, i, mm->map_count);
		return;
	}
	ok(mm->vmas[i]->vm_start == start && mm->vmas[i]->vm_end == end &&
	   (mm->vmas[i]->vm_flags & 0xff) == flags,
	   "%s: VMA %zu [%#llx-%#llx) flags %#llx (got [%#llx-%#llx) %#llx)", what, i,
	   (unsigned long long)start, (unsigned long long)end, (unsigned long long)flags,
	   (unsigned long long)mm->vmas[i]->vm_start, (unsigned long long)mm->vmas[i]->vm_end,
	   (unsigned long long)(mm->vmas[i]->vm_flags & 0xff));
}

#define MAYRWX (ZD_VM_MAYREAD | ZD_VM_MAYWRITE | ZD_VM_MAYEXEC)

/* ---------- layout ---------- */

static void test_layout(void)
{
	static const struct { const char *arch; unsigned va; uint64_t task, window; } t[] = {
		{ "x86_64", 0, 0x7ffffffff000ULL, 0x7ffffffff000ULL },
		{ "x86_64-la57", 0, (1ULL << 56) - 4096, 0x7ffffffff000ULL },
		{ "arm64-4k", 39, 1ULL << 39, 1ULL << 39 },
		{ "arm64-64k", 52, 1ULL << 52, 1ULL << 48 },
		{ "ppc64", 0, 1ULL << 52, 1ULL << 47 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct zd_machine_desc d = { .arch = t[i].arch, .va_bits = t[i].va };
		struct zd_mem_range ram = { .start = 0, .size = 1 * G };
		struct zd_machine *m;
		struct zd_mm *mm;
		uint64_t page;

		d.ram = &ram;
		d.nr_ram = 1;
		m = zd_machine_create(&d);
		if (!ok(!ZD_IS_ERR(m), "%s machine boots", t[i].arch))
			continue;
		page = m->arch.page_size;
		mm = zd_mm_alloc(m);
		is_u64(mm->task_size, t[i].task, "%s: TASK_SIZE", t[i].arch);
		is_u64(mm->mmap_base, (t[i].window - 128 * M) & ~(page - 1),
		       "%s: mmap_base 128 MiB below the map window", t[i].arch);
		is_int(mm->pid, 1, "%s: the first process is pid 1", t[i].arch);
		is_int(map(mm, 0, page, RW, ANON), (long long)(mm->mmap_base - page),
		       "%s: the first mapping ends at mmap_base", t[i].arch);
		{
			int64_t sh = map(mm, 0, page, RW, ZD_MAP_SHARED | ZD_MAP_ANONYMOUS);
			struct zd_vm_area_struct *v = sh > 0 ? zd_vma_lookup(mm, (uint64_t)sh) : NULL;

			/* numbered per machine: each run's maps are its own */
			ok(v && v->vm_file && v->vm_file->ino == 1,
			   "%s: the machine's first shared anonymous mapping is inode 1", t[i].arch);
		}
		zd_machine_destroy(m);  /* ends the process too (ASan: no leak) */
	}
}

/* ---------- mmap ---------- */

static void test_mmap(struct zd_machine *m)
{
	struct zd_mm *mm = zd_mm_alloc(m);
	uint64_t base = mm->mmap_base;
	int64_t a, b, c;

	a = map(mm, 0, 16 * K, RW, ANON);
	is_int(a, (long long)(base - 16 * K), "mmap: top-down from mmap_base");
	b = map(mm, 0, 8 * K, RW, ANON);
	is_int(b, a - 8 * K, "mmap: the next one right below");
	is_u64(mm->map_count, 1, "mmap: adjacent anonymous mappings merge into one VMA");
	is_u64(mm->total_vm, 6, "mmap: total_vm counts 6 pages");
	c = map(mm, 0, 4 * K, ZD_PROT_READ, ANON);
	is_u64(mm->map_count, 2, "mmap: a different protection does not merge");
	c = map(mm, 0, 4 * M, RW, ANON);
	ok(c > 0 && !(c & (2 * M - 1)), "mmap: 4 MiB anonymous is 2 MiB aligned (%#llx)",
	   (unsigned long long)c);
	c = map(mm, 0, 4 * M + 4 * K, RW, ANON);
	ok(c > 0, "mmap: a length that is not whole PMDs maps");
	/* a hint that is free is taken */
	is_int(map(mm, 0x10000000, 8 * K, RW, ANON), 0x10000000, "mmap: a free hint is taken");
	ok(map(mm, 0x10000000, 8 * K, RW, ANON) != 0x10000000, "mmap: a used hint is not");
	c = map(mm, 0x1000, 4 * K, RW, ANON);
	ok(c >= 0x10000, "mmap: a hint below mmap_min_addr is ignored (%#llx)",
	   (unsigned long long)c);

	is_int(map(mm, 0, 0, RW, ANON), -EINVAL, "mmap: len 0 is EINVAL");
	is_int(map(mm, 0, 4 * K, RW, ZD_MAP_ANONYMOUS), -EINVAL, "mmap: no MAP_TYPE is EINVAL");
	is_int(map(mm, 0x10000100, 4 * K, RW, ANON | ZD_MAP_FIXED), -EINVAL,
	       "mmap: a misaligned MAP_FIXED is EINVAL");
	is_int(map(mm, 0x1000, 4 * K, RW, ANON | ZD_MAP_FIXED), -EPERM,
	       "mmap: MAP_FIXED below mmap_min_addr is EPERM");
	is_int(map(mm, 0, ~0ULL - 100, RW, ANON), -ENOMEM, "mmap: a wrapping length is ENOMEM");
	is_int(map(mm, 0, 1ULL << 50, RW, ANON), -ENOMEM, "mmap: more than user space is ENOMEM");
	is_int(zd_vm_mmap(mm, 0, 4 * K, RW, ZD_MAP_PRIVATE, NULL, 0), -EBADF,
	       "mmap: no file and no MAP_ANONYMOUS is EBADF");
	is_int(zd_vm_mmap(mm, 0, 4 * K, RW, ANON, NULL, 100), -EINVAL,
	       "mmap: an offset that is not page aligned is EINVAL");
	is_int(map(mm, 0x10000000, 4 * K, RW, ANON | ZD_MAP_FIXED_NOREPLACE), -EEXIST,
	       "mmap: MAP_FIXED_NOREPLACE over a mapping is EEXIST");
	is_int(map(mm, 0x10000000 + 8 * K, 4 * K, RW, ANON | ZD_MAP_FIXED_NOREPLACE),
	       0x10000000 + 8 * K, "mmap: MAP_FIXED_NOREPLACE into free space maps");
	zd_mmput(mm);
}

/* ---------- fixed, munmap ---------- */

static void test_fixed_munmap(struct zd_machine *m)
{
	struct zd_mm *mm = zd_mm_alloc(m);
	const uint64_t A = 0x20000000;
	uint64_t flags_rw = ZD_VM_READ | ZD_VM_WRITE | MAYRWX;

	is_int(map(mm, A, 64 * K, RW, ANON | ZD_MAP_FIXED), A, "fixed: 64K at A");
	is_int(map(mm, A + 16 * K, 8 * K, ZD_PROT_READ, ANON | ZD_MAP_FIXED), A + 16 * K,
	       "fixed: a read-only 8K over its middle");
	is_u64(mm->map_count, 3, "fixed: the mapping is split in three");
	vma_is(mm, 0, A, A + 16 * K, flags_rw, "fixed");
	vma_is(mm, 1, A + 16 * K, A + 24 * K, ZD_VM_READ | MAYRWX, "fixed");
	vma_is(mm, 2, A + 24 * K, A + 64 * K, flags_rw, "fixed");
	is_u64(mm->vmas[2]->vm_pgoff, (A + 24 * K) >> 12, "fixed: the tail keeps its offset");
	is_u64(mm->total_vm, 16, "fixed: total_vm still 16 pages");

	is_int(zd_vm_munmap(mm, A + 100, 4 * K), -EINVAL, "munmap: misaligned start is EINVAL");
	is_int(zd_vm_munmap(mm, A, 0), -EINVAL, "munmap: len 0 is EINVAL");
	is_int(zd_vm_munmap(mm, 0x30000000, 4 * K), 0, "munmap: nothing there is 0");
	is_int(zd_vm_munmap(mm, A + 32 * K, 8 * K), 0, "munmap: 8K out of the tail");
	is_u64(mm->map_count, 4, "munmap: the tail split in two");
	vma_is(mm, 2, A + 24 * K, A + 32 * K, flags_rw, "munmap");
	vma_is(mm, 3, A + 40 * K, A + 64 * K, flags_rw, "munmap");
	is_int(zd_vm_munmap(mm, A + 8 * K, 48 * K), 0, "munmap: across three VMAs");
	is_u64(mm->map_count, 2, "munmap: two pieces left");
	vma_is(mm, 0, A, A + 8 * K, flags_rw, "munmap");
	vma_is(mm, 1, A + 56 * K, A + 64 * K, flags_rw, "munmap");
	is_u64(mm->total_vm, 4, "munmap: total_vm 4 pages");
	ok(zd_vma_lookup(mm, A + 8 * K) == NULL && zd_find_vma(mm, A + 8 * K) == mm->vmas[1],
	   "munmap: lookup finds nothing in the hole, find_vma the next VMA");
	zd_mmput(mm);
}

/* ---------- mprotect ---------- */

static void test_mprotect(struct zd_machine *m)
{
	struct zd_mm *mm = zd_mm_alloc(m);
	const uint64_t A = 0x20000000;
	uint64_t flags_rw = ZD_VM_READ | ZD_VM_WRITE | MAYRWX;

	map(mm, A, 12 * K, RW, ANON | ZD_MAP_FIXED);
	is_int(zd_do_mprotect(mm, A + 4 * K, 4 * K, ZD_PROT_READ), 0, "mprotect: the middle page");
	is_u64(mm->map_count, 3, "mprotect: split in three");
	vma_is(mm, 1, A + 4 * K, A + 8 * K, ZD_VM_READ | MAYRWX, "mprotect");
	is_int(zd_do_mprotect(mm, A + 4 * K, 4 * K, RW), 0, "mprotect: back to rw");
	is_u64(mm->map_count, 1, "mprotect: merged back into one VMA");
	vma_is(mm, 0, A, A + 12 * K, flags_rw, "mprotect");
	is_int(zd_do_mprotect(mm, A + 1, 4 * K, RW), -EINVAL, "mprotect: misaligned is EINVAL");
	is_int(zd_do_mprotect(mm, A, 0, ZD_PROT_READ), 0, "mprotect: len 0 is 0");
	is_int(zd_do_mprotect(mm, A, 4 * K, 0x40), -EINVAL, "mprotect: an unknown bit is EINVAL");
	is_int(zd_do_mprotect(mm, A, 4 * K, ZD_PROT_READ | ZD_PROT_GROWSDOWN), -EINVAL,
	       "mprotect: PROT_GROWSDOWN on a VMA that does not grow is EINVAL");
	/* a hole after the mapping: the part before it changes, then ENOMEM */
	is_int(zd_do_mprotect(mm, A + 8 * K, 8 * K, ZD_PROT_READ), -ENOMEM,
	       "mprotect: a range running into a hole is ENOMEM");
	vma_is(mm, 1, A + 8 * K, A + 12 * K, ZD_VM_READ | MAYRWX,
	       "mprotect (the VMA before the hole changed, as in the kernel)");
	is_int(zd_do_mprotect(mm, A - 8 * K, 8 * K, ZD_PROT_READ), -ENOMEM,
	       "mprotect: a range starting in a hole is ENOMEM");
	/* a VMA without VM_MAYWRITE refuses PROT_WRITE */
	mm->vmas[0]->vm_flags &= ~ZD_VM_MAYWRITE;
	is_int(zd_do_mprotect(mm, A, 4 * K, RW), -EACCES, "mprotect: beyond VM_MAY* is EACCES");
	zd_mmput(mm);
}

/* ---------- mremap ---------- */

static void test_mremap(struct zd_machine *m)
{
	struct zd_mm *mm = zd_mm_alloc(m);
	const uint64_t A = 0x20000000, B = 0x30000000;
	int64_t r;

	map(mm, A, 16 * K, RW, ANON | ZD_MAP_FIXED);
	is_int(zd_do_mremap(mm, A, 16 * K, 8 * K, 0, 0), A, "mremap: shrink in place");
	vma_is(mm, 0, A, A + 8 * K, ZD_VM_READ | ZD_VM_WRITE | MAYRWX, "mremap shrink");
	is_int(zd_do_mremap(mm, A, 8 * K, 32 * K, 0, 0), A, "mremap: grow in place");
	is_u64(mm->vmas[0]->vm_end, A + 32 * K, "mremap: the VMA grew");
	is_u64(mm->total_vm, 8, "mremap: total_vm follows");
	map(mm, A + 40 * K, 4 * K, ZD_PROT_READ, ANON | ZD_MAP_FIXED);
	is_int(zd_do_mremap(mm, A, 32 * K, 64 * K, 0, 0), -ENOMEM,
	       "mremap: no room to grow and no MAYMOVE is ENOMEM");
	r = zd_do_mremap(mm, A, 32 * K, 64 * K, ZD_MREMAP_MAYMOVE, 0);
	ok(r > 0 && (uint64_t)r != A, "mremap: MAYMOVE moves it (to %#llx)", (unsigned long long)r);
	ok(!zd_vma_lookup(mm, A), "mremap: the old range is gone");
	if (r > 0) {
		struct zd_vm_area_struct *v = zd_vma_lookup(mm, (uint64_t)r);

		ok(v && v->vm_end == (uint64_t)r + 64 * K && v->vm_pgoff == A >> 12,
		   "mremap: the moved VMA keeps its offset (anon pgoff of the old address)");
	}
	is_int(zd_do_mremap(mm, (uint64_t)r, 64 * K, 64 * K,
			    ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED, (uint64_t)r + 32 * K), -EINVAL,
	       "mremap: FIXED onto an overlapping range is EINVAL");
	is_int(zd_do_mremap(mm, (uint64_t)r, 64 * K, 64 * K,
			    ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED, B), B, "mremap: FIXED to B");
	is_int(zd_do_mremap(mm, B, 64 * K, 64 * K, ZD_MREMAP_FIXED, B + M), -EINVAL,
	       "mremap: FIXED without MAYMOVE is EINVAL");
	is_int(zd_do_mremap(mm, B, 64 * K, 64 * K, 8, 0), -EINVAL,
	       "mremap: an unknown flag is EINVAL");
	is_int(zd_do_mremap(mm, B, 64 * K, 32 * K, ZD_MREMAP_MAYMOVE | ZD_MREMAP_DONTUNMAP, 0),
	       -EINVAL, "mremap: DONTUNMAP with a new length is EINVAL");
	is_int(zd_do_mremap(mm, B + 1, 4 * K, 4 * K, 0, 0), -EINVAL,
	       "mremap: a misaligned address is EINVAL");
	is_int(zd_do_mremap(mm, B, 4 * K, 0, 0, 0), -EINVAL, "mremap: new_len 0 is EINVAL");
	is_int(zd_do_mremap(mm, B + 64 * K, 4 * K, 8 * K, ZD_MREMAP_MAYMOVE, 0), -EFAULT,
	       "mremap: nothing mapped is EFAULT");
	is_int(zd_do_mremap(mm, B + 32 * K, 64 * K, 128 * K, ZD_MREMAP_MAYMOVE, 0), -EFAULT,
	       "mremap: an old range past its VMA is EFAULT");
	is_int(zd_do_mremap(mm, B, 0, 8 * K, ZD_MREMAP_MAYMOVE, 0), -EINVAL,
	       "mremap: old_len 0 of a private mapping is EINVAL");
	r = zd_do_mremap(mm, B, 16 * K, 16 * K, ZD_MREMAP_MAYMOVE | ZD_MREMAP_DONTUNMAP, 0);
	ok(r > 0 && zd_vma_lookup(mm, B) && zd_vma_lookup(mm, (uint64_t)r),
	   "mremap: DONTUNMAP keeps the old range mapped and maps the new one");

	/* shared anonymous memory: old_len 0 maps the same object again */
	r = map(mm, 0, 8 * K, RW, ZD_MAP_SHARED | ZD_MAP_ANONYMOUS);
	if (ok(r > 0, "mremap: a shared anonymous mapping")) {
		int64_t dup = zd_do_mremap(mm, (uint64_t)r, 0, 8 * K, ZD_MREMAP_MAYMOVE, 0);
		struct zd_vm_area_struct *o = zd_vma_lookup(mm, (uint64_t)r);
		struct zd_vm_area_struct *n = dup > 0 ? zd_vma_lookup(mm, (uint64_t)dup) : NULL;

		ok(o && n && o != n && o->vm_file == n->vm_file && o->vm_file->f_count == 2,
		   "mremap: old_len 0 of shared memory maps its file a second time");
	}
	zd_mmput(mm);
}

/* ---------- an owner with rules: devdax-like ---------- */

static int opens, closes, releases;

static void t_open(struct zd_vm_area_struct *vma) { (void)vma; opens++; }
static void t_close(struct zd_vm_area_struct *vma) { (void)vma; closes++; }

static int t_may_split(struct zd_vm_area_struct *vma, uint64_t addr)
{
	(void)vma;
	return addr & (2 * M - 1) ? -EINVAL : 0;
}

static const char *t_name(struct zd_vm_area_struct *vma)
{
	(void)vma;
	return "[t-owner]";
}

static const struct zd_vm_operations_struct t_vm_ops = {
	.open = t_open, .close = t_close, .may_split = t_may_split, .name = t_name,
};

static int t_mmap(struct zd_file *file, struct zd_vm_area_struct *vma)
{
	(void)file;
	vma->vm_ops = &t_vm_ops;
	vma->vm_flags |= ZD_VM_HUGEPAGE;
	return 0;
}

static void t_release(struct zd_file *file)
{
	(void)file;
	releases++;
}

static int64_t t_get_area(struct zd_file *file, uint64_t addr, uint64_t len, uint64_t pgoff,
			  unsigned long flags)
{
	(void)file; (void)addr; (void)pgoff; (void)flags; (void)len;
	return 0x40000000;   /* 2M aligned, a fixed answer the test can check */
}

static void test_owner(struct zd_machine *m)
{
	static const struct zd_file_operations fops = {
		.mmap = t_mmap, .release = t_release, .get_unmapped_area = t_get_area,
	};
	static const struct zd_file_operations no_mmap = { .release = t_release };
	struct zd_file f = { .f_op = &fops, .f_mode = ZD_FMODE_READ | ZD_FMODE_WRITE,
			     .path = "/dev/dax0.0", .dev_major = 0xfc, .dev_minor = 0,
			     .ino = 4242, .f_count = 1 };
	struct zd_file ro = f, bare = f;
	struct zd_mm *mm = zd_mm_alloc(m), *child;
	int64_t a;

	ro.f_mode = ZD_FMODE_READ;
	bare.f_op = &no_mmap;
	is_int(zd_vm_mmap(mm, 0, 4 * M, RW, ZD_MAP_SHARED, &ro, 0), -EACCES,
	       "owner: shared writable on a read-only file is EACCES");
	is_int(zd_vm_mmap(mm, 0, 4 * M, RW, ZD_MAP_SHARED, &bare, 0), -ENODEV,
	       "owner: a file without ->mmap is ENODEV");
	a = zd_vm_mmap(mm, 0, 4 * M, RW, ZD_MAP_SHARED, &f, 2 * M);
	is_int(a, 0x40000000, "owner: the file's get_unmapped_area places it");
	is_int(f.f_count, 2, "owner: the VMA holds a file reference");
	ok(mm->map_count == 1 && mm->vmas[0]->vm_ops == &t_vm_ops &&
	   (mm->vmas[0]->vm_flags & (ZD_VM_SHARED | ZD_VM_MAYSHARE | ZD_VM_HUGEPAGE)) ==
	   (ZD_VM_SHARED | ZD_VM_MAYSHARE | ZD_VM_HUGEPAGE), "owner: ->mmap set vm_ops and flags");

	is_int(zd_vm_munmap(mm, a + 4 * K, 4 * K), -EINVAL,
	       "owner: munmap at an address may_split refuses is EINVAL");
	is_int(zd_do_mprotect(mm, a, 4 * K, ZD_PROT_READ), -EINVAL,
	       "owner: mprotect of a part it refuses to split is EINVAL");
	is_int(zd_do_mremap(mm, a + 4 * K, 4 * K, 4 * K, ZD_MREMAP_MAYMOVE | ZD_MREMAP_FIXED,
			    0x50000000), -EINVAL, "owner: mremap of such a part is EINVAL");
	ok(mm->map_count == 1 && mm->vmas[0]->vm_start == (uint64_t)a &&
	   mm->vmas[0]->vm_end == (uint64_t)a + 4 * M && f.f_count == 2 && !opens,
	   "owner: after the refusals the VMA is untouched");
	is_int(zd_vm_munmap(mm, a + 2 * M, 2 * M), 0, "owner: munmap at a 2M boundary");
	ok(opens == 1 && closes == 1 && f.f_count == 2,
	   "owner: the split opened a copy, the unmap closed it (opens %d closes %d count %ld)",
	   opens, closes, f.f_count);
	is_u64(mm->vmas[0]->vm_pgoff, 2 * M >> 12, "owner: the file offset stays 2M");

	/* maps: named by the file, padded to column 73 */
	{
		char *t = maps_text(mm);
		/* a 43-character header, spaces to 72, one more, the name */
		const char *want = "40000000-40200000 rw-s 00200000 fc:00 4242 "
				   "                              /dev/dax0.0\n";

		ok(t && !strcmp(t, want), "maps: the file's line byte for byte");
		if (t && strcmp(t, want))
			diag("got: %s", t);
		is_int(t ? (long long)(strstr(t, "/dev") - t) : 0, 73, "maps: the name at column 73");
		free(t);
	}
	child = zd_dup_mm(mm);
	ok(!ZD_IS_ERR(child) && child->map_count == 1 && f.f_count == 3 && opens == 2 &&
	   child->pid == mm->pid + 1, "fork: the child got a copy (opened, one more file ref)");
	zd_mmput(child);
	zd_mmput(mm);
	ok(closes == 3 && f.f_count == 1 && !releases,
	   "exit: every copy closed, the opener's reference is left");
	zd_fput(&f);
	is_int(releases, 1, "the last fput releases the file");
}

/* ---------- maps, fork, madvise ---------- */

static void test_maps_fork_madvise(struct zd_machine *m)
{
	struct zd_mm *mm = zd_mm_alloc(m), *child;
	const uint64_t A = 0x20000000;
	char *t;

	map(mm, A, 8 * K, ZD_PROT_READ | ZD_PROT_EXEC, ANON | ZD_MAP_FIXED);
	map(mm, A + 16 * K, 4 * K, RW, ZD_MAP_SHARED | ZD_MAP_ANONYMOUS | ZD_MAP_FIXED);
	t = maps_text(mm);
	ok(t && !strncmp(t, "20000000-20002000 r-xp 00000000 00:00 0 \n"
			    "20004000-20005000 rw-s 00000000 00:01 ", 79) &&
	   strstr(t, "/dev/zero (deleted)\n"),
	   "maps: private anon unnamed with the trailing space, shared anon is /dev/zero (deleted)");
	free(t);

	is_int(zd_do_madvise(mm, A, 4 * K, ZD_MADV_DONTFORK), 0, "madvise: DONTFORK the first page");
	ok(mm->map_count == 3 && (mm->vmas[0]->vm_flags & ZD_VM_DONTCOPY) &&
	   !(mm->vmas[1]->vm_flags & ZD_VM_DONTCOPY), "madvise: split, only the first page flagged");
	child = zd_dup_mm(mm);
	ok(!ZD_IS_ERR(child) && child->map_count == 2 && child->vmas[0]->vm_start == A + 4 * K,
	   "fork: the DONTFORK VMA is not copied");
	if (!ZD_IS_ERR(child))
		zd_mmput(child);
	is_int(zd_do_madvise(mm, A, 4 * K, ZD_MADV_DOFORK), 0, "madvise: DOFORK");
	is_u64(mm->map_count, 2, "madvise: the VMAs merge again");
	is_int(zd_do_madvise(mm, A, 24 * K, ZD_MADV_HUGEPAGE), -ENOMEM,
	       "madvise: a range with a hole is ENOMEM");
	ok((mm->vmas[0]->vm_flags & ZD_VM_HUGEPAGE) && (mm->vmas[1]->vm_flags & ZD_VM_HUGEPAGE),
	   "madvise: the VMAs around the hole still got the advice");
	is_int(zd_do_madvise(mm, A, 4 * K, ZD_MADV_WIPEONFORK), 0, "madvise: WIPEONFORK on anon");
	is_int(zd_do_madvise(mm, A + 16 * K, 4 * K, ZD_MADV_WIPEONFORK), -EINVAL,
	       "madvise: WIPEONFORK on shared memory is EINVAL");
	is_int(zd_do_madvise(mm, A, 4 * K, ZD_MADV_DONTNEED), 0,
	       "madvise: DONTNEED of untouched memory");
	is_int(zd_do_madvise(mm, A, 4 * K, 21), -EOPNOTSUPP,
	       "madvise: advice that is not modelled (PAGEOUT, 21) is EOPNOTSUPP");
	is_int(zd_do_madvise(mm, A, 4 * K, ZD_MADV_COLLAPSE), -EINVAL,
	       "madvise: COLLAPSE of less than a PMD block is EINVAL");
	is_int(zd_do_madvise(mm, A, 4 * K, 999), -EINVAL, "madvise: unknown advice is EINVAL");
	is_int(zd_do_madvise(mm, A + 1, 4 * K, ZD_MADV_HUGEPAGE), -EINVAL,
	       "madvise: a misaligned start is EINVAL");
	/* left alive: machine teardown ends it */
}

/* ---------- max_map_count ---------- */

static void test_map_count(struct zd_machine *m)
{
	struct zd_mm *mm = zd_mm_alloc(m);
	const uint64_t A = 0x20000000;

	map(mm, A, 16 * K, RW, ANON | ZD_MAP_FIXED);
	map(mm, A + 32 * K, 16 * K, ZD_PROT_READ, ANON | ZD_MAP_FIXED);
	mm->max_map_count = 3;
	is_int(zd_do_mprotect(mm, A + 4 * K, 4 * K, ZD_PROT_READ), -ENOMEM,
	       "max_map_count: a split beyond the limit is ENOMEM");
	ok(mm->map_count == 2 && mm->vmas[0]->vm_end == A + 16 * K &&
	   (mm->vmas[0]->vm_flags & ZD_VM_WRITE), "max_map_count: the VMAs are as before");
	/* munmap checks once before cutting (it removes the middle), as the kernel */
	is_int(zd_vm_munmap(mm, A + 4 * K, 4 * K), 0,
	       "max_map_count: munmap of a middle part ending at the limit is allowed");
	is_u64(mm->map_count, 3, "max_map_count: three VMAs, the limit");
	is_int(zd_vm_munmap(mm, A + 36 * K, 4 * K), -ENOMEM,
	       "max_map_count: munmap of a middle part beyond the limit is ENOMEM");
	is_u64(mm->map_count, 3, "max_map_count: nothing changed");
	is_int(zd_vm_munmap(mm, A + 12 * K, 4 * K), 0,
	       "max_map_count: munmap of an end needs no slot");
	/* a move keeps room for its unmap to cut a VMA in three (move_vma) */
	mm->max_map_count = mm->map_count + 3;
	is_int(zd_do_mremap(mm, A + 32 * K, 4 * K, 8 * K, ZD_MREMAP_MAYMOVE, 0), -ENOMEM,
	       "max_map_count: a move with fewer than 3 spare slots is ENOMEM");
	mm->max_map_count = mm->map_count + 4;
	ok(zd_do_mremap(mm, A + 32 * K, 4 * K, 8 * K, ZD_MREMAP_MAYMOVE, 0) > 0,
	   "max_map_count: with 3 spare slots it moves");
	zd_mmput(mm);
}

int main(void)
{
	struct zd_machine *m;

	test_layout();
	m = tap_machine("x86_64", 0, 0, 1 * G, NULL, 0);
	if (m) {
		test_mmap(m);
		test_fixed_munmap(m);
		test_mprotect(m);
		test_mremap(m);
		test_owner(m);
		test_maps_fork_madvise(m);
		test_map_count(m);
		ok(m->mm_list != NULL, "a process is still alive before teardown");
		zd_machine_destroy(m);
	}
	return done_testing();
}
