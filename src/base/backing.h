/*
 * Backing files written through shared mappings (pmem region files). A
 * store into a hole of a full filesystem is a SIGBUS, so every writer
 * reserves the blocks first and gets ENOSPC instead.
 */
#ifndef ZD_BASE_BACKING_H
#define ZD_BASE_BACKING_H

#include <stddef.h>
#include <stdint.h>

/* The path behind fd (from /proc/self/fd), or "fd N" when unknown. */
const char *zd_fd_path(int fd, char *buf, size_t len);

/*
 * Allocate the blocks of [off, off + len) without changing a byte of the
 * file (also where the filesystem has no fallocate: glibc's emulation).
 * 0 when reserved. Otherwise -ENOSPC, -EDQUOT,
 * -EFBIG or -EIO, with why saying which file, how many bytes and how much
 * the filesystem has free. With ZD_BACKING_NORESERVE set in the
 * environment nothing is reserved (a test hook for the SIGBUS path).
 */
int zd_backing_reserve(int fd, uint64_t off, uint64_t len, const char *what,
		       char *why, size_t whylen);

#endif
