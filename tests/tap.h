/*
 * Minimal TAP producer for the C tests run by prove. ok() records one
 * assertion with a description; done_testing() prints the plan and returns
 * the exit status (non-zero if any assertion failed). Every test program
 * runs under a watchdog (ZD_TEST_TIMEOUT seconds, default 300): a hang —
 * typically a leaked page reference that keeps memunmap_pages() waiting —
 * becomes a "Bail out!" and a failure instead of a stuck make check.
 */
#ifndef ZD_TAP_H
#define ZD_TAP_H

#include <stdbool.h>
#include <stdint.h>

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* An assertion that failed unconditionally (e.g. test data is missing). */
#define fail(...) tap_ok(false, __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_u64(got, want, ...) \
	tap_is_u64((uint64_t)(got), (uint64_t)(want), __FILE__, __LINE__, __VA_ARGS__)
bool tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
bool tap_is_u64(uint64_t got, uint64_t want, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void skip(const char *why);
/* Assertions failed so far (for per-group summaries). */
int tap_failures(void);
int done_testing(void);

/* Resident set size of this process in bytes (from /proc/self/statm). */
uint64_t tap_rss_bytes(void);

#endif
