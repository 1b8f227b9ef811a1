/*
 * Helpers shared by the C tests: clocks, joins that cannot hang the
 * harness, and text views of machine state (log, iomem) for before/after
 * comparisons. Built into every test next to tap.c.
 */
#ifndef ZD_TEST_HELPERS_H
#define ZD_TEST_HELPERS_H

#include <pthread.h>
#include <stdbool.h>

struct zd_machine;

/* CLOCK_MONOTONIC in seconds. */
double tap_now(void);
void tap_sleep_ms(unsigned ms);
/* Join tid within secs, or fail the test and exit instead of hanging. */
void tap_join_or_bail(pthread_t tid, int secs, const char *what);
/* A log line logged after seq contains needle. */
bool tap_log_since(struct zd_machine *m, unsigned long seq, const char *needle);
/* The machine's /proc/iomem text (malloc'ed; free it). */
char *tap_iomem_text(struct zd_machine *m);

#endif
