/*
 * Per-machine kernel log: a bounded dmesg-style ring of lines with a level,
 * plus the counter of fired invariant checks (the kernel's WARN_ON family).
 * Invariants: lines are numbered by a per-machine sequence (deterministic, no
 * wall clock), the ring keeps the newest ZD_LOG_RING lines, and the warning
 * counter only grows.
 */
#ifndef ZONEDEV_LOG_H
#define ZONEDEV_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;

enum zd_loglevel {
	ZD_LOG_EMERG, ZD_LOG_ALERT, ZD_LOG_CRIT, ZD_LOG_ERR,
	ZD_LOG_WARNING, ZD_LOG_NOTICE, ZD_LOG_INFO, ZD_LOG_DEBUG,
};

struct zd_log_line {
	unsigned long seq;
	enum zd_loglevel level;
	const char *func;          /* the function that logged it (NULL: unknown) */
	int caller;                /* the logging thread's id, as printk's caller_id */
	char text[512];            /* the kernel keeps ~1 KiB; paths make lines long */
};

#define ZD_LOG_RING 4096

/* The console filter (see zd_log_set_console_level, zd_log_dyndbg). */
enum zd_dyndbg_kind { ZD_DYNDBG_ALL, ZD_DYNDBG_FUNC, ZD_DYNDBG_FORMAT };
struct zd_dyndbg {
	enum zd_dyndbg_kind kind;
	bool enable;
	char text[64];
};
#define ZD_DYNDBG_MAX 16
struct zd_log_filter {
	enum zd_loglevel console_level;
	int nr;
	struct zd_dyndbg clauses[ZD_DYNDBG_MAX];
};

__attribute__((format(printf, 3, 4)))
void zd_printk(struct zd_machine *m, enum zd_loglevel level, const char *fmt, ...);
__attribute__((format(printf, 4, 5)))
void zd_printk_func(struct zd_machine *m, enum zd_loglevel level, const char *func,
		    const char *fmt, ...);
void zd_vprintk(struct zd_machine *m, enum zd_loglevel level, const char *func, const char *fmt,
		va_list ap);

#define zd_pr_err(m, ...)   zd_printk_func(m, ZD_LOG_ERR, __func__, __VA_ARGS__)
#define zd_pr_warn(m, ...)  zd_printk_func(m, ZD_LOG_WARNING, __func__, __VA_ARGS__)
#define zd_pr_info(m, ...)  zd_printk_func(m, ZD_LOG_INFO, __func__, __VA_ARGS__)
#define zd_pr_debug(m, ...) zd_printk_func(m, ZD_LOG_DEBUG, __func__, __VA_ARGS__)

/*
 * A fired invariant check: counted, and logged as a "WARNING:" line naming
 * the place. Evaluates to the condition so it can guard an early return.
 */
bool zd_warn_fire(struct zd_machine *m, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define ZD_WARN(m, cond, ...) ({ \
	bool __zd_c = !!(cond); \
	if (__zd_c) \
		zd_warn_fire(m, __FILE__, __LINE__, __VA_ARGS__); \
	__zd_c; })
#define ZD_WARN_ON(m, cond) ZD_WARN(m, cond, "%s", #cond)

unsigned long zd_warn_count(const struct zd_machine *m);
unsigned long zd_log_seq(const struct zd_machine *m);
/* Copy out lines with seq > since (0 = all kept); returns how many were written. */
size_t zd_log_read(struct zd_machine *m, unsigned long since, struct zd_log_line *out, size_t max);
/* dmesg-shaped dump ("[    12] text") of every kept line with level <= max_level. */
void zd_log_dump(struct zd_machine *m, FILE *f, enum zd_loglevel max_level);
/* The same shape, for the lines the console shows (zd_log_visible). */
void zd_log_dump_console(struct zd_machine *m, FILE *f);
/* True if a kept line contains needle (tests use it to assert the "why"). */
bool zd_log_contains(struct zd_machine *m, const char *needle);
/* Echo each new line the console shows (zd_log_visible) to f as it is
 * logged (NULL to stop); every line is kept in the ring either way. */
void zd_log_set_echo(struct zd_machine *m, FILE *f);

/*
 * What the console shows, like the kernel's console loglevel and dynamic
 * debug: lines up to the console level (default ZD_LOG_INFO: pr_debug is
 * off), plus the pr_debug lines dynamic debug enables. Lines kept in the
 * ring are not affected.
 */
int zd_log_set_console_level(struct zd_machine *m, enum zd_loglevel level);
/* A dynamic-debug control query, as written to
 * /sys/kernel/debug/dynamic_debug/control or passed as dyndbg=: one or more
 * ';'-separated "[func NAME | format TEXT] +p|-p" clauses (no match term:
 * every pr_debug). 0, or -EINVAL with one log line saying what is wrong. */
int zd_log_dyndbg(struct zd_machine *m, const char *query);
/* Would the console show this line? */
bool zd_log_visible(struct zd_machine *m, const struct zd_log_line *l);
/* Level by name ("err", "warn"/"warning", "info", "debug", ... or 0-7);
 * -1 if unknown. */
int zd_loglevel_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif
