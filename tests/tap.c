/*
 * TAP output for the tests (see tap.h). Single-threaded by contract: only
 * the main thread records assertions.
 */
#include "tap.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int tests_run, tests_failed;

static void watchdog_fired(int sig)
{
	static const char msg[] = "\nBail out! test exceeded its ZD_TEST_TIMEOUT (a leaked "
				  "reference keeping memunmap_pages() waiting, or a deadlock)\n";
	ssize_t n;

	(void)sig;
	n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(2);
}

/* Armed before main(): no test program can forget it. */
__attribute__((constructor)) static void tap_watchdog(void)
{
	const char *t = getenv("ZD_TEST_TIMEOUT");
	long secs = t && *t ? strtol(t, NULL, 10) : 300;

	if (secs <= 0)
		return;
	signal(SIGALRM, watchdog_fired);
	alarm((unsigned)secs);
}

static bool report(bool cond, const char *file, int line, const char *fmt, va_list ap)
{
	tests_run++;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	vprintf(fmt, ap);
	printf("\n");
	if (!cond) {
		tests_failed++;
		printf("#   Failed at %s line %d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(cond, file, line, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(got == want, file, line, fmt, ap);
	va_end(ap);
	if (got != want)
		printf("#          got: %lld\n#     expected: %lld\n", got, want);
	return got == want;
}

bool tap_is_u64(uint64_t got, uint64_t want, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(got == want, file, line, fmt, ap);
	va_end(ap);
	if (got != want)
		printf("#          got: %#llx\n#     expected: %#llx\n", (unsigned long long)got,
		       (unsigned long long)want);
	return got == want;
}

void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

void skip(const char *why)
{
	tests_run++;
	printf("ok %d # skip %s\n", tests_run, why);
}

int tap_failures(void)
{
	return tests_failed;
}

int done_testing(void)
{
	printf("1..%d\n", tests_run);
	return tests_failed ? 1 : 0;
}

uint64_t tap_rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}
