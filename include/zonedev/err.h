/*
 * Error conventions shared by every zonedev API, the kernel's way: int
 * functions return 0 or a negative errno, pointer functions encode a negative
 * errno in the pointer (ERR_PTR) so one return value carries both outcomes.
 * Invariant: an ERR_PTR value is never a valid address (top 4095 values).
 */
#ifndef ZONEDEV_ERR_H
#define ZONEDEV_ERR_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZD_MAX_ERRNO 4095

static inline void *ZD_ERR_PTR(long error) { return (void *)error; }
static inline long ZD_PTR_ERR(const void *ptr) { return (long)ptr; }
static inline bool ZD_IS_ERR(const void *ptr)
{
	return (uintptr_t)ptr >= (uintptr_t)-ZD_MAX_ERRNO;
}
static inline bool ZD_IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || ZD_IS_ERR(ptr);
}

/* "EBUSY" for 16 / -16; NULL for numbers that have no name. */
const char *zd_errno_name(int err);
/* Inverse of zd_errno_name(): returns the positive errno or 0 if unknown. */
int zd_errno_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
