/*
 * Crash injection: every persistent write to a region file (info block,
 * erase, namespace data, sizing a new file) goes through one helper that
 * counts it. Arming write N makes that write store only a prefix of its
 * bytes and then kill the process with SIGKILL, so a test can stop an
 * operation at an exact point, with a torn write, and check what the next
 * boot finds. The count is process-wide (a kill takes every machine down)
 * and costs one atomic add per write when nothing is armed.
 */
#ifndef ZONEDEV_CRASH_INJECT_H
#define ZONEDEV_CRASH_INJECT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The nth region-file write from now (1: the next one) stores its first
 * prefix bytes (all of them when prefix is at least its length: the kill
 * then comes right after the write) and raises SIGKILL; nth 0 disarms.
 * The environment can arm the same point at start-up:
 * ZD_CRASH_WRITE=N[:PREFIX] (PREFIX defaults to 0: killed before writing).
 */
void zd_crash_inject_set(unsigned long nth, uint64_t prefix);
/* Region-file writes this process has made (armed or not). */
unsigned long zd_crash_inject_writes(void);

#ifdef __cplusplus
}
#endif

#endif
