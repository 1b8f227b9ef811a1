/*
 * pmem region files are persistent state the tool must guard (issue 7):
 * a file is locked while its region exists, so two regions of one machine,
 * two machines of one process or two processes never alias one file; a
 * region overlapping RAM or another region is refused; a path that is a
 * directory says EISDIR; a region that cannot come up removes the file it
 * created and leaves a file it found exactly as it was.
 */
#include <zonedev/zonedev.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)

static char dir[] = "/tmp/zd-regions-XXXXXX";

static struct zd_machine *boot(const struct zd_nd_region_desc *pm, size_t n)
{
	static struct zd_mem_range ram[] = { { .start = 1 * M, .size = 1023 * M } };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = pm,
				     .nr_pmem = n };

	return zd_machine_create(&d);
}

static char *path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void locks(void)
{
	const char *f = path("a.img");
	struct zd_nd_region_desc one = { .start = 4 * G, .size = 1 * G, .path = f };
	struct zd_nd_region_desc two[] = { one, { .start = 8 * G, .size = 1 * G, .path = f } };
	struct zd_machine *m, *m2;
	pid_t pid;
	int st = -1;

	m = boot(two, 2);
	ok(ZD_IS_ERR(m) && ZD_PTR_ERR(m) == -EBUSY &&
	   strstr(zd_machine_create_error(), "in use by another region or process"),
	   "two regions on one file: EBUSY (%s)", zd_machine_create_error());
	m = boot(&one, 1);
	if (!ok(!ZD_IS_ERR(m), "one region on the file boots"))
		return;
	m2 = boot(&one, 1);
	ok(ZD_IS_ERR(m2) && ZD_PTR_ERR(m2) == -EBUSY, "a second machine on the same file: EBUSY");
	pid = fork();
	if (pid == 0) {
		struct zd_machine *c = boot(&one, 1);
		_exit(ZD_IS_ERR(c) && ZD_PTR_ERR(c) == -EBUSY ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another process on the same file: EBUSY");
	zd_machine_destroy(m);
	m = boot(&one, 1);
	ok(!ZD_IS_ERR(m), "after the first machine is gone the file can be used again");
	zd_machine_destroy(m);
}

static void refusals(void)
{
	const char *f = path("b.img"), *d2 = path("a-directory-named-longer-than-the-forty-bytes-once-printed");
	struct zd_nd_region_desc in_ram = { .start = 512 * M, .size = 256 * M, .path = f };
	struct zd_nd_region_desc ok_region = { .start = 4 * G, .size = 1 * G, .path = f };
	struct zd_nd_region_desc overlap[] = { ok_region,
					       { .start = 4 * G + 512 * M, .size = 1 * G, .path = path("c.img") } };
	struct zd_nd_region_desc is_dir = { .start = 4 * G, .size = 1 * G, .path = d2 };
	struct zd_machine *m;
	struct stat sb;
	char buf[64], want[256];
	int fd;

	m = boot(&in_ram, 1);
	ok(ZD_IS_ERR(m) && ZD_PTR_ERR(m) == -EBUSY, "a region inside boot RAM is refused (EBUSY)");
	ok(stat(f, &sb) && errno == ENOENT, "the file it would have created is not left behind");
	m = boot(overlap, 2);
	ok(ZD_IS_ERR(m) && ZD_PTR_ERR(m) == -EBUSY, "overlapping regions are refused (EBUSY)");
	ok(stat(path("c.img"), &sb) && errno == ENOENT, "no empty file left for the second one");
	ok(stat(f, &sb) && errno == ENOENT,
	   "nor the first one's, created by the boot that failed");
	/* A file that existed is kept: an empty one is not sized, one of the
	 * right size keeps its bytes. */
	fd = open(f, O_RDWR | O_CREAT, 0644);
	close(fd);
	m = boot(&in_ram, 1);
	ok(ZD_IS_ERR(m) && ZD_PTR_ERR(m) == -EBUSY && !stat(f, &sb) && sb.st_size == 0,
	   "a refused region leaves an empty file it found empty");
	fd = open(f, O_RDWR);
	ok(fd >= 0 && ftruncate(fd, 256 * M) == 0 && pwrite(fd, "keep me", 7, 123) == 7,
	   "a file of the region's size with data");
	close(fd);
	m = boot(&in_ram, 1);
	ok(ZD_IS_ERR(m) && ZD_PTR_ERR(m) == -EBUSY, "the region inside RAM on it fails (EBUSY)");
	fd = open(f, O_RDONLY);
	ok(fd >= 0 && pread(fd, buf, 7, 123) == 7 && !memcmp(buf, "keep me", 7),
	   "and the file it found is untouched");
	close(fd);
	unlink(f);
	ok(mkdir(d2, 0755) == 0, "a directory");
	m = boot(&is_dir, 1);
	ok(ZD_IS_ERR(m) && ZD_PTR_ERR(m) == -EISDIR && strstr(zd_machine_create_error(), "directory"),
	   "a directory as region file: EISDIR (%s)", zd_machine_create_error());
	snprintf(want, sizeof(want), "pmem region 0 (%s): EISDIR", d2);
	ok(strstr(zd_machine_create_error(), want) != NULL, "the error names the whole path");
	rmdir(d2);
}

/* zd_nd_namespace_write: the bytes land at dataoff in the file, a write
 * beyond the data area (or wrapping 64 bits) and a read-only region are
 * refused with nothing written. */
static void namespace_write(void)
{
	const char *f = path("w.img");
	struct zd_nd_region_desc rw = { .start = 4 * G, .size = 256 * M, .path = f };
	struct zd_nd_region_desc ro = rw;
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_FSDAX, .map = ZD_ND_MAP_MEM };
	struct zd_nd_namespace_info in;
	struct zd_nd_region *r;
	struct zd_machine *m;
	char buf[16] = "";
	int fd;

	m = boot(&rw, 1);
	if (!ok(!ZD_IS_ERR(m), "a machine with one region"))
		return;
	r = zd_nd_region_find(m, "region0");
	ok(r && zd_nd_create_namespace(r, &o) == 0 && zd_nd_namespace_get(r, &in) == 0,
	   "an fsdax namespace");
	ok(zd_nd_namespace_write(r, 1 * M, "0123456789", 10) == 0, "a write inside the data area");
	ok(zd_nd_namespace_write(r, in.size - 4, "tail", 4) == 0, "a write ending at the last byte");
	ok(zd_nd_namespace_write(r, in.size - 3, "tail", 4) == -EINVAL, "one byte more: EINVAL");
	ok(zd_nd_namespace_write(r, UINT64_MAX - 1, "wrap", 4) == -EINVAL,
	   "an offset whose end wraps 64 bits: EINVAL");
	ok(zd_nd_namespace_write(r, in.size, "", 0) == 0, "an empty write at the end");
	fd = open(f, O_RDONLY);
	ok(fd >= 0 && pread(fd, buf, 10, (off_t)(in.data_start - rw.start + 1 * M)) == 10 &&
	   !memcmp(buf, "0123456789", 10), "the bytes are in the file at dataoff + offset");
	ok(pread(fd, buf, 3, (off_t)(in.data_start - rw.start + in.size - 3)) == 3 &&
	   !memcmp(buf, "ail", 3),
	   "the refused write changed nothing");
	close(fd);
	zd_machine_destroy(m);
	ro.read_only = true;
	m = boot(&ro, 1);
	if (ok(!ZD_IS_ERR(m), "the same file read-only")) {
		r = zd_nd_region_find(m, "region0");
		ok(zd_nd_namespace_write(r, 0, "x", 1) == -EROFS, "a write on it: EROFS");
		zd_machine_destroy(m);
	}
	unlink(f);
}

/* A region inside a Reserved range (firmware marking its NVDIMM) nests
 * under it, as insert_resource does for the NFIT driver. */
static void nested_in_reserved(void)
{
	static struct zd_mem_range ram[] = { { .start = 1 * M, .size = 1023 * M } };
	static struct zd_mem_range rsv[] = { { .start = 4 * G, .size = 2 * G, .name = "Reserved" } };
	struct zd_nd_region_desc pm = { .start = 4 * G, .size = 1 * G, .path = path("n.img") };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .reserved = rsv,
				     .nr_reserved = 1, .pmem = &pm, .nr_pmem = 1 };
	struct zd_machine *m = zd_machine_create(&d);
	char *io;

	if (!ok(!ZD_IS_ERR(m), "a region inside a Reserved range boots (%s)",
		ZD_IS_ERR(m) ? zd_machine_create_error() : "ok"))
		return;
	io = tap_iomem_text(m);
	ok(io && strstr(io, "100000000-17fffffff : Reserved\n  100000000-13fffffff : Persistent Memory"),
	   "and nests under it in iomem");
	free(io);
	zd_machine_destroy(m);
	unlink(pm.path);
}

int main(void)
{
	if (!ok(mkdtemp(dir) != NULL, "mkdtemp"))
		return done_testing();
	locks();
	refusals();
	namespace_write();
	nested_in_reserved();
	unlink(path("a.img"));
	rmdir(dir);
	return done_testing();
}
