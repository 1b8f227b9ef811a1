/*
 * Crash injection (crash-inject.h): a counter of region-file writes and
 * one armed write number. Only the write helpers in backing.c call
 * zd_crash_tear(); the armed write is cut to its prefix there and the
 * process killed afterwards, so what reaches the file is exactly what a
 * kill -9 in the middle of that write could have left.
 */
#include <zonedev/crash-inject.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/backing.h"

static unsigned long writes;         /* region-file writes so far */
static unsigned long armed_at;       /* the write number that dies; 0: none */
static uint64_t armed_prefix;

void zd_crash_inject_set(unsigned long nth, uint64_t prefix)
{
	__atomic_store_n(&armed_prefix, prefix, __ATOMIC_RELAXED);
	__atomic_store_n(&armed_at, nth ? __atomic_load_n(&writes, __ATOMIC_RELAXED) + nth : 0,
			 __ATOMIC_RELEASE);
}

unsigned long zd_crash_inject_writes(void)
{
	return __atomic_load_n(&writes, __ATOMIC_RELAXED);
}

/* ZD_CRASH_WRITE=N[:PREFIX], read once when the library is loaded. */
__attribute__((constructor)) static void crash_inject_env(void)
{
	const char *s = getenv("ZD_CRASH_WRITE");
	char *end;
	unsigned long n;
	unsigned long long prefix = 0;

	if (!s || !*s)
		return;
	n = strtoul(s, &end, 0);
	if (*end == ':')
		prefix = strtoull(end + 1, &end, 0);
	if (*end || !n) {
		fprintf(stderr, "zonedev: ZD_CRASH_WRITE=%s is not N[:PREFIX] with N >= 1; "
			"crash injection stays off\n", s);
		return;
	}
	zd_crash_inject_set(n, prefix);
}

bool zd_crash_tear(uint64_t *len)
{
	unsigned long w = __atomic_add_fetch(&writes, 1, __ATOMIC_RELAXED);
	uint64_t prefix;

	if (__builtin_expect(__atomic_load_n(&armed_at, __ATOMIC_ACQUIRE) != w, 1))
		return false;
	prefix = __atomic_load_n(&armed_prefix, __ATOMIC_RELAXED);
	if (prefix < *len)
		*len = prefix;
	return true;
}

void zd_crash_kill(uint64_t done, uint64_t len)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "zonedev: crash injection: SIGKILL at region-file "
			 "write %lu after %llu of %llu bytes\n", __atomic_load_n(&writes, __ATOMIC_RELAXED),
			 (unsigned long long)done, (unsigned long long)len);

	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		msg[0] = '\0';
	raise(SIGKILL);
	_exit(137);   /* not reached: SIGKILL cannot be caught */
}
