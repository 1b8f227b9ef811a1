/*
 * Backing files written through shared mappings (pmem region files). A
 * store into a hole of a full filesystem is a SIGBUS, so every writer
 * reserves the blocks first and gets ENOSPC instead. Every persistent
 * write to a region file (pwrite or sizing, never the mappings) goes
 * through zd_backing_write() / zd_backing_size(), which makes each one a
 * crash-injection point (crash-inject.h).
 */
#ifndef ZD_BASE_BACKING_H
#define ZD_BASE_BACKING_H

#include <stdbool.h>
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

/*
 * pwrite all of buf at off, retrying EINTR and short writes: 0, or the
 * negative errno (-EIO when the file takes no more bytes). A crash point.
 */
int zd_backing_write(int fd, const void *buf, uint64_t len, uint64_t off);
/* ftruncate a new file to size: 0 or the negative errno. A crash point
 * (a prefix of 0 kills before the size is set, any other after). */
int zd_backing_size(int fd, uint64_t size);

/* crash-inject.c: count one write of *len bytes; true when it is the armed
 * one, with *len cut to the prefix it may store; the caller then stores
 * that much and calls zd_crash_kill(), which does not return. */
bool zd_crash_tear(uint64_t *len);
__attribute__((noreturn)) void zd_crash_kill(uint64_t done, uint64_t len);

#endif
