/*
 * Block reservation for backing files (backing.h). posix_fallocate()
 * allocates without changing data (fallocate mode 0, or glibc's emulation
 * that rewrites only zero bytes), so a refused reservation leaves the file
 * byte for byte as it was: callers reserve before they write anything.
 * The write helpers are the only places a region file's bytes or size
 * change outside its mappings, so each is a crash-injection point.
 */
#include "backing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

const char *zd_fd_path(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n <= 0) {
		snprintf(buf, len, "fd %d", fd);
		return buf;
	}
	buf[n] = '\0';
	return buf;
}

int zd_backing_reserve(int fd, uint64_t off, uint64_t len, const char *what,
		       char *why, size_t whylen)
{
	struct statvfs vfs;
	char path[256], avail[48] = "";
	int err;

	/*
	 * Test hook: without reservations a full filesystem shows up as a
	 * SIGBUS on the mapping, the path the CLI's SIGBUS net must handle.
	 */
	if (!len || getenv("ZD_BACKING_NORESERVE"))
		return 0;
	/* posix_fallocate, not fallocate: where the filesystem cannot
	 * reserve, glibc writes a zero byte into each block that reads as
	 * zero, which keeps every byte and still allocates the block. */
	do
		err = posix_fallocate(fd, (off_t)off, (off_t)len);
	while (err == EINTR);
	if (!err)
		return 0;
	if (!fstatvfs(fd, &vfs))
		snprintf(avail, sizeof(avail), ", %llu KiB free",
			 (unsigned long long)vfs.f_bavail * vfs.f_frsize >> 10);
	snprintf(why, whylen,
		 "%s: %s needs %llu bytes (%llu KiB) at offset 0x%llx: %s%s",
		 zd_fd_path(fd, path, sizeof(path)), what, (unsigned long long)len,
		 (unsigned long long)(len + 1023) >> 10, (unsigned long long)off,
		 strerror(err), avail);
	return err == ENOSPC || err == EDQUOT || err == EFBIG ? -err : -EIO;
}

int zd_backing_write(int fd, const void *buf, uint64_t len, uint64_t off)
{
	uint64_t n = len, done = 0;
	bool die = zd_crash_tear(&n);
	int rc = 0;

	while (done < n) {
		ssize_t w = pwrite(fd, (const char *)buf + done, (size_t)(n - done),
				   (off_t)(off + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		done += (uint64_t)w;
	}
	if (die)
		zd_crash_kill(done, len);
	return rc;
}

int zd_backing_size(int fd, uint64_t size)
{
	uint64_t n = 1;
	bool die = zd_crash_tear(&n);
	int rc = 0;

	if (n && ftruncate(fd, (off_t)size))
		rc = -errno;
	if (die)
		zd_crash_kill(n ? size : 0, size);
	return rc;
}
