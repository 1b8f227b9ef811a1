/*
 * The kernel's tools/testing/selftests/mm/hmm-tests.c on the model (spec
 * hmm.md §5): each TEST_F as a function with the kernel test's buffer
 * sizes, ioctls (dmirror calls), counters and expected bytes, run for the
 * hmm/hmm2 fixtures' two variants (device-private: gpu0/gpu1 with distinct
 * owners; device-coherent: two coherent devices) under both device-private
 * designs and under THP never/madvise/always, plus the exclusive tests
 * under the v6.12 make_device_exclusive rule, where the kernel's verdict
 * with THP always is a failure (EXCLUSIVE -EBUSY) and is asserted as such.
 * A summary line per fixture, design and THP mode gives pass/fail/skip.
 * The THP tests (8, 30-37) are t_hmm_tests_thp.c, the model's extra
 * tests in the same harness t_hmm_tests_model.c; the harness is
 * hmm_selftest.h.
 * Tests the model cannot run are skipped with the kernel harness's reason;
 * the O_TMPFILE files of the file tests are tmpfs files (shmem).
 */
#include "hmm_selftest.h"

/* ---------- the tests ---------- */

static void anon_read(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	int val = -1;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 2 * PS, 0);
	zd_do_mprotect(F->mm, b->ptr, size, ZD_PROT_READ);
	zd_access_vm(F->mm, b->ptr + PS, &val, sizeof(val), false);   /* the zero page */
	EQ(val, 0, "anon_read: the zero page reads 0");
	EQ(CMD(F->fd0, read, b, npages), 0, "anon_read: READ");
	EQ(b->cpages, npages, "anon_read: cpages");
	EQ(b->faults, 1, "anon_read: faults");
	ok(zeros(b->mirror, 0, 2 * PS) && ints(b->mirror, 2 * PS, size, 0),
	   "%s: anon_read: the mirror holds 0, 0, then i", F->tag);
	buf_free(b);
}

static void anon_read_prot(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		b->mirror[i] = -(int)i;
	zd_do_mprotect(F->mm, b->ptr, size, ZD_PROT_NONE);
	EQ(CMD(F->fd0, read, b, npages), -EFAULT, "anon_read_prot: READ of PROT_NONE");
	zd_do_mprotect(F->mm, b->ptr, size, ZD_PROT_READ);
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 0), "%s: anon_read_prot: memory intact", F->tag);
	ok(ints(b->mirror, 0, size, 0) == false && b->mirror[1] == -1,
	   "%s: anon_read_prot: mirror untouched", F->tag);
	buf_free(b);
}

static void anon_write(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		b->mirror[i] = (int)i;
	EQ(CMD(F->fd0, write, b, npages), 0, "anon_write: WRITE");
	EQ(b->cpages, npages, "anon_write: cpages");
	EQ(b->faults, 1, "anon_write: faults");
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 0), "%s: anon_write: the CPU sees the device's data", F->tag);
	buf_free(b);
}

static void anon_write_prot(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ, ZD_MAP_PRIVATE);
	EQ(CMD(F->fd0, read, b, 1), 0, "anon_write_prot: READ of one page");
	EQ(b->cpages, 1, "anon_write_prot: cpages");
	EQ(b->faults, 1, "anon_write_prot: faults");
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		b->mirror[i] = (int)i;
	EQ(CMD(F->fd0, write, b, npages), -EPERM, "anon_write_prot: WRITE to PROT_READ");
	cpu_read(F->mm, b, 0, size);
	ok(zeros(b->local, 0, size), "%s: anon_write_prot: memory still 0", F->tag);
	zd_do_mprotect(F->mm, b->ptr, size, ZD_PROT_READ | ZD_PROT_WRITE);
	EQ(CMD(F->fd0, write, b, npages), 0, "anon_write_prot: WRITE after mprotect(RW)");
	EQ(b->cpages, npages, "anon_write_prot: cpages");
	EQ(b->faults, 1, "anon_write_prot: faults");
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 0), "%s: anon_write_prot: the zero page was replaced", F->tag);
	buf_free(b);
}

/* anon_write_child: migrate x THP; the child's own mirror writes. */
static void anon_write_child(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;

	for (int migrate = 0; migrate < 2; migrate++)
		for (int use_thp = 0; use_thp < 2; use_thp++) {
			struct buffer *b = buf_new(size);
			struct zd_dmirror *child_fd;
			struct zd_mm *child;
			char tag[48];
			int ret;

			snprintf(tag, sizeof(tag), "migrate=%d thp=%d", migrate, use_thp);
			b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
			zd_do_madvise(F->mm, b->ptr, size,
				      use_thp ? ZD_MADV_HUGEPAGE : ZD_MADV_NOHUGEPAGE);
			for (uint64_t i = 0; i < size / sizeof(int); i++)
				b->mirror[i] = -(int)i;
			cpu_fill(F->mm, b, 0, 0);
			if (migrate) {
				ret = migrate_dev(F->fd0, b, npages);
				ok(!ret && b->cpages == npages, "%s: anon_write_child %s: migrate",
				   F->tag, tag);
			}
			child = zd_dup_mm(F->mm);
			/* the parent's data is unchanged by the child */
			memset(b->local, 0, size);
			cpu_read(child, b, 0, size);
			ok(ints(b->local, 0, size, 0), "%s: anon_write_child %s: the child sees "
			   "the parent's data", F->tag, tag);
			child_fd = zd_dmirror_open(F->dev[0], child);
			for (uint64_t i = 0; i < size / sizeof(int); i++)
				b->mirror[i] = -(int)i;
			ret = run_cmd(child_fd, zd_dmirror_write, b, npages);
			ok(!ret && b->cpages == npages && b->faults == 1,
			   "%s: anon_write_child %s: the child's WRITE (%d, cpages %llu, faults "
			   "%llu)", F->tag, tag, ret, (unsigned long long)b->cpages,
			   (unsigned long long)b->faults);
			memset(b->local, 0, size);
			cpu_read(child, b, 0, size);
			ok(ints(b->local, 0, size / 2, 0) == false && b->local[1] == -1,
			   "%s: anon_write_child %s: the child sees its own data", F->tag, tag);
			memset(b->local, 0, size);
			cpu_read(F->mm, b, 0, size);
			ok(ints(b->local, 0, size, 0), "%s: anon_write_child %s: the parent's data "
			   "unchanged (COW)", F->tag, tag);
			zd_dmirror_release(child_fd);
			zd_mmput(child);
			buf_free(b);
		}
}

static void anon_write_child_shared(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	struct zd_dmirror *child_fd;
	struct zd_mm *child;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED);
	cpu_fill(F->mm, b, 0, 0);
	child = zd_dup_mm(F->mm);
	child_fd = zd_dmirror_open(F->dev[0], child);
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		b->mirror[i] = -(int)i;
	EQ(run_cmd(child_fd, zd_dmirror_write, b, npages), 0, "anon_write_child_shared: WRITE");
	EQ(b->cpages, npages, "anon_write_child_shared: cpages");
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size);
	ok(b->local[1] == -1 && b->local[npages] == -(int)npages,
	   "%s: anon_write_child_shared: the parent sees the child's data", F->tag);
	zd_dmirror_release(child_fd);
	zd_mmput(child);
	buf_free(b);
}

/* hmm_create_file(): O_TMPFILE in /tmp, a tmpfs here. */
static struct zd_file *tmpfile_of(uint64_t size)
{
	struct zd_file *f = zd_shmem_file_setup(F->m, NULL, size);

	return ZD_IS_ERR(f) ? NULL : f;
}

static void file_read(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	struct zd_file *file = tmpfile_of(size);

	for (uint64_t i = 0; i < size / sizeof(int); i++)
		b->local[i] = (int)i;
	EQ(zd_shmem_file_rw(file, 0, b->local, size, true), size, "file_read: pwrite");
	b->ptr = (uint64_t)zd_vm_mmap(F->mm, 0, size, ZD_PROT_READ, ZD_MAP_SHARED, file, 0);
	zd_fput(file);
	EQ(CMD(F->fd0, read, b, npages), 0, "file_read: READ");
	EQ(b->cpages, npages, "file_read: cpages");
	EQ(b->faults, 1, "file_read: faults");
	ok(ints(b->mirror, 0, size, 0), "%s: file_read: the mirror holds the file", F->tag);
	buf_free(b);
}

static void file_write(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	struct zd_file *file = tmpfile_of(size);

	b->ptr = (uint64_t)zd_vm_mmap(F->mm, 0, size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED,
				      file, 0);
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		b->mirror[i] = (int)i;
	EQ(CMD(F->fd0, write, b, npages), 0, "file_write: WRITE");
	EQ(b->cpages, npages, "file_write: cpages");
	EQ(b->faults, 1, "file_write: faults");
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 0), "%s: file_write: the mapping shows the data", F->tag);
	memset(b->local, 0, size);
	EQ(zd_shmem_file_rw(file, 0, b->local, size, false), size, "file_write: pread");
	ok(ints(b->local, 0, size, 0), "%s: file_write: pread reads the data", F->tag);
	zd_fput(file);
	buf_free(b);
}

static void migrate_file_private(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	struct zd_file *file = tmpfile_of(size);

	b->ptr = (uint64_t)zd_vm_mmap(F->mm, 0, size, ZD_PROT_READ | ZD_PROT_WRITE,
				      ZD_MAP_PRIVATE, file, 0);
	zd_fput(file);
	cpu_fill(F->mm, b, 0, 0);   /* every page a private (anonymous) copy */
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_file_private: migrate the COW pages");
	EQ(b->cpages, npages, "migrate_file_private: cpages");
	ok(ints(b->mirror, 0, size, 0), "%s: migrate_file_private: mirror", F->tag);
	buf_free(b);
}

static void migrate(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate: MIGRATE_TO_DEV");
	EQ(b->cpages, npages, "migrate: cpages");
	ok(ints(b->mirror, 0, size, 0), "%s: migrate: the mirror holds the data", F->tag);
	buf_free(b);
}

static void migrate_fault(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_fault: MIGRATE_TO_DEV");
	EQ(b->cpages, npages, "migrate_fault: cpages");
	ok(ints(b->mirror, 0, size, 0), "%s: migrate_fault: mirror", F->tag);
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size / 2);
	ok(ints(b->local, 0, size / 2, 0), "%s: migrate_fault: the CPU reads the first half back",
	   F->tag);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_fault: migrate again (system + device)");
	EQ(b->cpages, npages, "migrate_fault: cpages");
	ok(ints(b->mirror, 0, size, 0), "%s: migrate_fault: mirror", F->tag);
	buf_free(b);
}

static void migrate_release(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	struct zd_dmirror_stats st;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	EQ(migrate_dev(F->fd0, b, npages), 0, "migrate_release: MIGRATE_TO_DEV");
	EQ(b->cpages, npages, "migrate_release: cpages");
	ok(zd_dmirror_remove_chunks(F->dev[0]) >= (long)npages, "%s: migrate_release: RELEASE",
	   F->tag);
	zd_dmirror_get_stats(F->dev[0], &st);
	ok(st.chunks == 0 && st.calloc == st.cfree,
	   "%s: migrate_release: every chunk gone, every page back", F->tag);
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size / 2);
	ok(ints(b->local, 0, size / 2, 0), "%s: migrate_release: the CPU reads the first half",
	   F->tag);
	buf_free(b);
}

static void migrate_shared(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED);
	EQ(migrate_dev(F->fd0, b, npages), -ENOENT, "migrate_shared: shmem pages do not move");
	buf_free(b);
}

static void migrate_mixed(void)
{
	uint64_t size = 6 * PS;
	struct buffer *b = buf_new(size), p;
	int *ptr;

	b->ptr = map_anon(size, ZD_PROT_NONE, ZD_MAP_PRIVATE);
	EQ(migrate_dev(F->fd1, b, 6), -EINVAL, "migrate_mixed: PROT_NONE: -EINVAL");
	zd_vm_munmap(F->mm, b->ptr + PS, PS);
	EQ(migrate_dev(F->fd1, b, 3), -EINVAL, "migrate_mixed: a hole: -EINVAL");
	zd_do_mprotect(F->mm, b->ptr + 2 * PS, PS, ZD_PROT_READ);   /* page 2: zero page */
	zd_access_vm(F->mm, b->ptr + 2 * PS, b->local, sizeof(int), false);
	zd_do_mprotect(F->mm, b->ptr + 3 * PS, 3 * PS, ZD_PROT_READ | ZD_PROT_WRITE);
	ptr = b->local;
	for (unsigned i = 0; i < PS / sizeof(int); i++)
		ptr[i] = (int)i;
	zd_access_vm(F->mm, b->ptr + 3 * PS, ptr, PS, true);
	zd_do_mprotect(F->mm, b->ptr + 3 * PS, PS, ZD_PROT_READ);
	zd_do_mprotect(F->mm, b->ptr + 4 * PS, 2 * PS, ZD_PROT_READ | ZD_PROT_WRITE);
	zd_access_vm(F->mm, b->ptr + 4 * PS, ptr, PS, true);
	zd_access_vm(F->mm, b->ptr + 5 * PS, ptr, PS, true);
	p = (struct buffer){ .ptr = b->ptr + 2 * PS, .size = 4 * PS, .mirror = b->mirror,
			     .local = b->local };
	EQ(migrate_dev(F->fd1, &p, 4), 0, "migrate_mixed: pages 2-5 to device 1");
	EQ(p.cpages, 4, "migrate_mixed: cpages");
	p = (struct buffer){ .ptr = b->ptr + 5 * PS, .size = PS, .mirror = b->mirror,
			     .local = b->local };
	EQ(migrate_dev(F->fd0, &p, 1), -ENOENT,
	   "migrate_mixed: page 5 to device 0 (another owner's page)");
	zd_vm_munmap(F->mm, b->ptr, PS);
	zd_vm_munmap(F->mm, b->ptr + 2 * PS, 4 * PS);
	b->ptr = 0;
	buf_free(b);
}

static void migrate_multiple(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;

	for (int c = 0; c < NTIMES; c++) {
		struct buffer *b = buf_new(size);
		bool good;

		b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
		cpu_fill(F->mm, b, 0, 0);
		good = !migrate_dev(F->fd0, b, npages) && b->cpages == npages &&
		       ints(b->mirror, 0, size, 0);
		if (F->coherent)
			good = good && !migrate_sys(F->fd0, b, npages) && b->cpages == npages;
		memset(b->local, 0, size);
		cpu_read(F->mm, b, 0, size);
		good = good && ints(b->local, 0, size, 0);
		if (!ok(good, "%s: migrate_multiple: round %d", F->tag, c)) {
			buf_free(b);
			break;
		}
		buf_free(b);
	}
}

static void anon_read_multiple(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	bool good = true;

	for (int c = 0; c < NTIMES && good; c++) {
		struct buffer *b = buf_new(size);

		b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
		cpu_fill(F->mm, b, 0, c);
		good = !CMD(F->fd0, read, b, npages) && b->cpages == npages && b->faults == 1 &&
		       ints(b->mirror, 0, size, c);
		buf_free(b);
	}
	ok(good, "%s: anon_read_multiple: %d rounds of READ", F->tag, NTIMES);
}

/* anon_teardown: a thread unmaps the second half while READ runs. */
struct teardown { struct zd_mm *mm; uint64_t a, len; unsigned delay_us; };
static void *unmap_thread(void *p)
{
	struct teardown *t = p;

	for (volatile unsigned i = 0; i < t->delay_us * 50; i++)
		;
	zd_vm_munmap(t->mm, t->a, t->len);
	return NULL;
}
static void anon_teardown(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	unsigned seed = 1;
	bool good = true;

	for (int c = 0; c < NTIMES && good; c++) {
		struct buffer *b = buf_new(size);
		struct teardown t;
		pthread_t tid;
		int ret;

		b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
		cpu_fill(F->mm, b, 0, c);
		t = (struct teardown){ F->mm, b->ptr + size / 2, size / 2, rand_r(&seed) % 32 };
		pthread_create(&tid, NULL, unmap_thread, &t);
		ret = CMD(F->fd0, read, b, npages);
		tap_join_or_bail(tid, 30, "anon_teardown's unmap");
		if (!ret)
			good = b->cpages == npages && ints(b->mirror, 0, size, c);
		zd_vm_munmap(F->mm, b->ptr, size / 2);
		b->ptr = 0;
		buf_free(b);
	}
	ok(good, "%s: anon_teardown: a READ that succeeds read the right data", F->tag);
}

static void snapshot(void)
{
	uint64_t size = 7 * PS;
	struct buffer *b = buf_new(size), p;
	unsigned char *m8 = (unsigned char *)b->mirror;
	int v = 0;

	b->ptr = map_anon(size, ZD_PROT_NONE, ZD_MAP_PRIVATE);
	zd_vm_munmap(F->mm, b->ptr + PS, PS);
	zd_do_mprotect(F->mm, b->ptr + 2 * PS, PS, ZD_PROT_READ);
	zd_access_vm(F->mm, b->ptr + 2 * PS, &v, sizeof(v), false);   /* zero page */
	zd_do_mprotect(F->mm, b->ptr + 3 * PS, PS, ZD_PROT_READ | ZD_PROT_WRITE);
	zd_access_vm(F->mm, b->ptr + 3 * PS, &v, sizeof(v), true);
	zd_do_mprotect(F->mm, b->ptr + 3 * PS, PS, ZD_PROT_READ);
	zd_do_mprotect(F->mm, b->ptr + 4 * PS, 3 * PS, ZD_PROT_READ | ZD_PROT_WRITE);
	zd_access_vm(F->mm, b->ptr + 4 * PS, &v, sizeof(v), true);
	zd_access_vm(F->mm, b->ptr + 5 * PS, &v, sizeof(v), true);
	zd_access_vm(F->mm, b->ptr + 6 * PS, &v, sizeof(v), true);
	p = (struct buffer){ .ptr = b->ptr + 5 * PS, .size = PS, .mirror = b->mirror,
			     .local = b->local };
	EQ(migrate_dev(F->fd0, &p, 1), 0, "snapshot: page 5 to device 0");
	p.ptr = b->ptr + 6 * PS;
	EQ(migrate_dev(F->fd1, &p, 1), 0, "snapshot: page 6 to device 1");
	memset(m8, 0xaa, 7);
	EQ(CMD(F->fd0, snapshot, b, 7), 0, "snapshot: SNAPSHOT");
	EQ(b->cpages, 7, "snapshot: cpages");
	EQ(m8[0], ZD_HMM_DMIRROR_PROT_ERROR, "snapshot: [0] PROT_NONE: ERROR");
	EQ(m8[1], ZD_HMM_DMIRROR_PROT_ERROR, "snapshot: [1] unmapped: ERROR");
	EQ(m8[2], ZD_HMM_DMIRROR_PROT_ZERO | ZD_HMM_DMIRROR_PROT_READ, "snapshot: [2] ZERO|READ");
	EQ(m8[3], ZD_HMM_DMIRROR_PROT_READ, "snapshot: [3] READ");
	EQ(m8[4], ZD_HMM_DMIRROR_PROT_WRITE, "snapshot: [4] WRITE");
	if (F->coherent) {
		EQ(m8[5], ZD_HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL | ZD_HMM_DMIRROR_PROT_WRITE,
		   "snapshot: [5] DEV_COHERENT_LOCAL|WRITE");
		EQ(m8[6], ZD_HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE | ZD_HMM_DMIRROR_PROT_WRITE,
		   "snapshot: [6] DEV_COHERENT_REMOTE|WRITE");
	} else {
		EQ(m8[5], ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | ZD_HMM_DMIRROR_PROT_WRITE,
		   "snapshot: [5] DEV_PRIVATE_LOCAL|WRITE");
		EQ(m8[6], ZD_HMM_DMIRROR_PROT_NONE, "snapshot: [6] another owner's page: NONE");
	}
	zd_vm_munmap(F->mm, b->ptr, PS);
	zd_vm_munmap(F->mm, b->ptr + 2 * PS, 5 * PS);
	b->ptr = 0;
	buf_free(b);
}

static void double_map(void)
{
	uint64_t size = 6 * PS, npages = 6;
	struct buffer *b = buf_new(size);

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	zd_do_mprotect(F->mm, b->ptr, size, ZD_PROT_READ);
	EQ(CMD(F->fd0, read, b, npages), 0, "double_map: device 0 READ");
	EQ(b->faults, 1, "double_map: faults");
	ok(ints(b->mirror, 0, size, 0), "%s: double_map: device 0's data", F->tag);
	memset(b->mirror, 0, size);
	EQ(CMD(F->fd1, read, b, npages), 0, "double_map: device 1 READ");
	EQ(b->faults, 1, "double_map: faults");
	ok(ints(b->mirror, 0, size, 0), "%s: double_map: device 1's data", F->tag);
	EQ(migrate_dev(F->fd1, b, npages), 0, "double_map: migrate to device 1");
	EQ(b->cpages, npages, "double_map: cpages");
	memset(b->mirror, 0, size);
	EQ(CMD(F->fd0, read, b, npages), 0, "double_map: device 0 READ after the migration");
	EQ(b->faults, 1, "double_map: one fault round (device-private pages come back)");
	ok(ints(b->mirror, 0, size, 0), "%s: double_map: device 0 reads the data", F->tag);
	/* invariant 1: the other owner's private pages came back to system
	 * memory (coherent ones are read where they are) */
	EQ(CMD(F->fd0, snapshot, b, npages), 0, "double_map: SNAPSHOT by device 0");
	{
		unsigned char *m8 = (unsigned char *)b->mirror;
		uint8_t want = F->coherent ? ZD_HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE |
					     ZD_HMM_DMIRROR_PROT_READ : ZD_HMM_DMIRROR_PROT_READ;
		bool all = true;

		for (unsigned i = 0; i < npages; i++)
			all = all && m8[i] == want;
		ok(all, "%s: double_map: every page %s (0x%x)", F->tag,
		   F->coherent ? "still device 1's" : "a system page again", m8[0]);
	}
	buf_free(b);
}

/* mixedmap: the dmirror file itself mapped (vm_insert_page, VM_MIXEDMAP),
 * one private page: the device sees it readable. */
static void mixedmap(void)
{
	uint64_t npages = 1, size = npages * PS;
	struct buffer *b = buf_new(size);
	struct zd_file *file = zd_dmirror_file_open(F->dev[0]);
	unsigned char *m8 = (unsigned char *)b->mirror;

	if (!ok(!ZD_IS_ERR(file), "%s: mixedmap: the device file", F->tag)) {
		buf_free(b);
		return;
	}
	b->ptr = (uint64_t)zd_vm_mmap(F->mm, 0, size, ZD_PROT_READ | ZD_PROT_WRITE,
				      ZD_MAP_PRIVATE, file, 0);
	zd_fput(file);
	EQ(CMD(F->fd0, snapshot, b, npages), 0, "mixedmap: SNAPSHOT");
	EQ(b->cpages, npages, "mixedmap: cpages");
	EQ(m8[0], ZD_HMM_DMIRROR_PROT_READ, "mixedmap: the page is READ");
	buf_free(b);
}

/* The kernel's verdict for the exclusive tests: EXCLUSIVE fails with -EBUSY
 * under the v6.12 rule when the buffer holds THP tails (THP always). */
static bool exclusive_busy(void)
{
	return F->era == ZD_EXCLUSIVE_ERA_V6_12 && F->thp == ZD_THP_ALWAYS;
}

static void exclusive(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	int ret;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	zd_mmu_notifier_register(&rec, F->mm);
	exclusive_events = 0;
	ret = CMD(F->fd0, exclusive, b, npages);
	if (exclusive_busy()) {
		zd_mmu_notifier_unregister(&rec, F->mm);
		EQ(ret, -EBUSY, "exclusive: EXCLUSIVE on THP tails (v6.12: the kernel's FAIL)");
		buf_free(b);
		return;
	}
	EQ(ret, 0, "exclusive: EXCLUSIVE");
	EQ(b->cpages, npages, "exclusive: cpages");
	ok(ints(b->mirror, 0, size, 0), "%s: exclusive: mirror", F->tag);
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size);
	for (uint64_t i = 0; i < size / sizeof(int); i++)
		b->local[i]++;
	zd_access_vm(F->mm, b->ptr, b->local, size, true);
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 1), "%s: exclusive: the CPU's increments", F->tag);
	EQ(CMD(F->fd0, check_exclusive, b, npages), 0, "exclusive: CHECK_EXCLUSIVE after the CPU");
	zd_mmu_notifier_unregister(&rec, F->mm);
	EQ(exclusive_events, 2 * npages, "exclusive: MMU_NOTIFY_EXCLUSIVE per page at creation "
	   "and at the CPU's revocation");
	buf_free(b);
}

static void exclusive_mprotect(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	int ret;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	ret = CMD(F->fd0, exclusive, b, npages);
	if (exclusive_busy()) {
		EQ(ret, -EBUSY, "exclusive_mprotect: EXCLUSIVE (v6.12 + THP: the kernel's FAIL)");
		buf_free(b);
		return;
	}
	EQ(ret, 0, "exclusive_mprotect: EXCLUSIVE");
	ok(ints(b->mirror, 0, size, 0), "%s: exclusive_mprotect: mirror", F->tag);
	zd_do_mprotect(F->mm, b->ptr, size, ZD_PROT_READ);
	EQ(CMD(F->fd0, write, b, npages), -EPERM, "exclusive_mprotect: WRITE after mprotect(RO)");
	buf_free(b);
}

static void exclusive_cow(void)
{
	uint64_t size = HMM_BUFFER_SIZE, npages = size / PS;
	struct buffer *b = buf_new(size);
	struct zd_mm *child;
	int ret;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	ret = CMD(F->fd0, exclusive, b, npages);
	if (exclusive_busy()) {
		EQ(ret, -EBUSY, "exclusive_cow: EXCLUSIVE (v6.12 + THP: the kernel's FAIL)");
		buf_free(b);
		return;
	}
	EQ(ret, 0, "exclusive_cow: EXCLUSIVE");
	child = zd_dup_mm(F->mm);
	for (int who = 0; who < 2; who++) {
		struct zd_mm *mm = who ? child : F->mm;

		memset(b->local, 0, size);
		cpu_read(mm, b, 0, size);
		for (uint64_t i = 0; i < size / sizeof(int); i++)
			b->local[i] += 1 + who;
		zd_access_vm(mm, b->ptr, b->local, size, true);
	}
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 1), "%s: exclusive_cow: the parent's copy", F->tag);
	memset(b->local, 0, size);
	cpu_read(child, b, 0, size);
	ok(ints(b->local, 0, size, 2), "%s: exclusive_cow: the child's copy", F->tag);
	zd_mmput(child);
	buf_free(b);
}

/* hmm_gup_test: the gup_test ioctls as the GUP calls they make. */
static void hmm_gup_test(void)
{
	uint64_t size = 4 * PS, npages = 4;
	struct buffer *b = buf_new(size);
	struct zd_page *pg[4] = { 0 };
	unsigned char *m8 = (unsigned char *)b->mirror;
	long r0, r1, r2, r3;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	EQ(migrate_dev(F->fd0, b, npages), 0, "hmm_gup_test: migrate");
	zd_mmap_read_lock(F->mm);
	r0 = zd_get_user_pages(F->mm, b->ptr, 1, ZD_FOLL_WRITE, &pg[0]);
	zd_mmap_read_unlock(F->mm);
	r1 = zd_get_user_pages_fast(F->mm, b->ptr + PS, 1, ZD_FOLL_WRITE, &pg[1]);
	r2 = zd_pin_user_pages_fast(F->mm, b->ptr + 2 * PS, 1, ZD_FOLL_WRITE | ZD_FOLL_LONGTERM,
				    &pg[2]);
	r3 = zd_pin_user_pages_unlocked(F->mm, b->ptr + 3 * PS, 1,
					ZD_FOLL_WRITE | ZD_FOLL_LONGTERM, &pg[3]);
	ok(r0 == 1 && r1 == 1 && r2 == 1 && r3 == 1, "%s: hmm_gup_test: GUP_BASIC, GUP_FAST, "
	   "PIN_FAST+LONGTERM, PIN_LONGTERM (%ld %ld %ld %ld)", F->tag, r0, r1, r2, r3);
	EQ(CMD(F->fd0, snapshot, b, npages), 0, "hmm_gup_test: SNAPSHOT");
	if (F->coherent) {
		ok(m8[0] == (ZD_HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL | ZD_HMM_DMIRROR_PROT_WRITE) &&
		   m8[1] == m8[0], "%s: hmm_gup_test: GUP left coherent pages on the device",
		   F->tag);
	} else {
		ok(m8[0] == ZD_HMM_DMIRROR_PROT_WRITE && m8[1] == ZD_HMM_DMIRROR_PROT_WRITE,
		   "%s: hmm_gup_test: GUP faulted private pages back", F->tag);
	}
	ok(m8[2] == ZD_HMM_DMIRROR_PROT_WRITE && m8[3] == ZD_HMM_DMIRROR_PROT_WRITE,
	   "%s: hmm_gup_test: LONGTERM pins migrated to system memory", F->tag);
	for (int i = 0; i < 2; i++)
		if (r0 == 1 && pg[i])
			zd_put_page(F->m, pg[i]);
	for (int i = 2; i < 4; i++)
		if (pg[i])
			zd_unpin_user_page(F->m, pg[i]);
	memset(b->local, 0, size);
	cpu_read(F->mm, b, 0, size);
	ok(ints(b->local, 0, size, 0), "%s: hmm_gup_test: data intact", F->tag);
	buf_free(b);
}

static void hmm_cow_in_device(void)
{
	uint64_t size = 4 * PS, npages = 4;
	struct buffer *b = buf_new(size);
	unsigned char *m8 = (unsigned char *)b->mirror;
	struct zd_mm *child;
	bool all = true;

	b->ptr = map_anon(size, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_PRIVATE);
	cpu_fill(F->mm, b, 0, 0);
	EQ(migrate_dev(F->fd0, b, npages), 0, "hmm_cow_in_device: migrate");
	child = zd_dup_mm(F->mm);
	cpu_fill(F->mm, b, 0, 7);
	zd_mmput(child);
	EQ(CMD(F->fd0, snapshot, b, npages), 0, "hmm_cow_in_device: SNAPSHOT");
	for (unsigned i = 0; i < npages; i++)
		all = all && m8[i] == ZD_HMM_DMIRROR_PROT_WRITE;
	ok(all, "%s: hmm_cow_in_device: every page a writable system page", F->tag);
	buf_free(b);
}

static const struct test tests[] = {
	{ "open_close", NULL, NULL },
	{ "anon_read", anon_read, NULL },
	{ "anon_read_prot", anon_read_prot, NULL },
	{ "anon_write", anon_write, NULL },
	{ "anon_write_prot", anon_write_prot, NULL },
	{ "anon_write_child", anon_write_child, NULL },
	{ "anon_write_child_shared", anon_write_child_shared, NULL },
	{ "anon_write_hugetlbfs", NULL, "no hugetlbfs in the model (the kernel's harness skips "
	  "when no huge page is free)" },
	{ "file_read", file_read, NULL },
	{ "file_write", file_write, NULL },
	{ "migrate", migrate, NULL },
	{ "migrate_file_private", migrate_file_private, NULL },
	{ "migrate_fault", migrate_fault, NULL },
	{ "migrate_release", migrate_release, NULL },
	{ "migrate_shared", migrate_shared, NULL },
	{ "migrate_mixed", migrate_mixed, NULL },
	{ "migrate_multiple", migrate_multiple, NULL },
	{ "anon_read_multiple", anon_read_multiple, NULL },
	{ "anon_teardown", anon_teardown, NULL },
	{ "mixedmap", mixedmap, NULL },
	{ "snapshot", snapshot, NULL },
	{ "compound", NULL, "no hugetlbfs in the model (the kernel's harness skips when no huge "
	  "page is free)" },
	{ "double_map", double_map, NULL },
	{ "exclusive", exclusive, NULL },
	{ "exclusive_mprotect", exclusive_mprotect, NULL },
	{ "exclusive_cow", exclusive_cow, NULL },
	{ "hmm_gup_test", hmm_gup_test, NULL },
	{ "hmm_cow_in_device", hmm_cow_in_device, NULL },
	{ "benchmark_thp_migration", NULL, "a benchmark: `zonedev bench migrate`" },
};

int main(void)
{
	return hmm_selftest_main(tests, sizeof(tests) / sizeof(tests[0]), true);
}
