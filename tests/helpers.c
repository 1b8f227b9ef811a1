/*
 * Shared test helpers (see helpers.h).
 */
#include "helpers.h"
#include "tap.h"
#include <zonedev/zonedev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double tap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tap_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts))
		;
}

void tap_join_or_bail(pthread_t tid, int secs, const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	if (pthread_timedjoin_np(tid, NULL, &ts)) {
		ok(0, "%s: thread did not finish within %d s", what, secs);
		fflush(stdout);
		exit(done_testing() | 1);
	}
}

bool tap_log_since(struct zd_machine *m, unsigned long seq, const char *needle)
{
	static struct zd_log_line lines[ZD_LOG_RING];
	size_t n = zd_log_read(m, seq, lines, ZD_LOG_RING);

	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i].text, needle))
			return true;
	return false;
}

char *tap_iomem_text(struct zd_machine *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	zd_iomem_dump(m, f);
	fclose(f);
	return buf;
}
