/*
 * A one-line progress display on stderr for what runs longer than about a
 * second: the label the CLI sets (a scenario step, a bench phase) and the
 * library's own long loops (sparse_init, __add_pages, memmap init) through
 * the machine's progress callback, with a bar, the rate and an ETA.
 * Only on a terminal and without --quiet: a pipe or a log file never sees
 * a carriage return. The line is erased before anything else is printed.
 * ZD_PROGRESS_DELAY_MS replaces the one-second delay (tests use 0).
 * Invariants: the library may call in from several threads at once, so an
 * update that finds another in progress is skipped (trylock); nothing
 * here allocates but the one wrapper stream for the --dmesg echo.
 */
#include "cli.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	bool enabled, drawn;
	double delay, start, last_draw, op_start;
	char label[160];
	char op[48];
} pg;
static pthread_mutex_t pg_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void progress_init(bool quiet)
{
	const char *d = getenv("ZD_PROGRESS_DELAY_MS");

	pg.enabled = !quiet && isatty(STDERR_FILENO);
	pg.delay = d && *d ? atof(d) / 1000 : 1.0;
	pg.start = now_s();
}

void progress_label(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pg.label, sizeof(pg.label), fmt, ap);
	va_end(ap);
}

void progress_erase_async(void)
{
	static const char erase[] = "\r\033[K";

	if (pg.drawn && write(STDERR_FILENO, erase, sizeof(erase) - 1) < 0)
		return;
}

void progress_clear(void)
{
	pthread_mutex_lock(&pg_lock);
	if (pg.drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		pg.drawn = false;
	}
	pthread_mutex_unlock(&pg_lock);
}

/* 12.3M: three digits and an SI prefix. */
static void fmt_rate(char *buf, size_t len, double v)
{
	static const char pfx[] = " kMGTP";
	int i = 0;

	while (v >= 1000 && i < 5) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, "%.3g%c", v, pfx[i]);
	if (pfx[i] == ' ')
		buf[strlen(buf) - 1] = '\0';
}

static void fmt_eta(char *buf, size_t len, double s)
{
	if (s < 60)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%.0fm%02.0fs", s / 60 - 0.5, s - 60 * (int)(s / 60));
	else
		snprintf(buf, len, "%.1fh", s / 3600);
}

static void draw(const char *what, uint64_t done, uint64_t total)
{
	double t = now_s(), frac, rate;
	char bar[21], eta[16], r[16];
	int fill;

	if (strncmp(pg.op, what, sizeof(pg.op) - 1) || done == 0) {
		snprintf(pg.op, sizeof(pg.op), "%s", what);
		pg.op_start = t;
	}
	/* Quick work stays silent; a drawn line is redrawn ten times a second. */
	if (t - pg.start < pg.delay || (pg.drawn && t - pg.last_draw < 0.1 && done < total))
		return;
	frac = done > total ? 1.0 : (double)done / (double)total;
	fill = (int)(frac * 20);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '-', (size_t)(20 - fill));
	bar[20] = '\0';
	rate = t > pg.op_start ? (double)done / (t - pg.op_start) : 0;
	if (rate > 0 && done < total)
		fmt_eta(eta, sizeof(eta), (double)(total - done) / rate);
	else
		snprintf(eta, sizeof(eta), "-");
	fmt_rate(r, sizeof(r), rate);
	/* The library counts pages; the CLI's own phases count steps. */
	fprintf(stderr, "\r%s%s%s [%s] %3.0f%% %s %s/s ETA %s\033[K", pg.label,
		pg.label[0] ? ": " : "", what, bar, frac * 100, r,
		strcmp(what, "steps") && strcmp(what, "rebinds") ? "pages" : what, eta);
	fflush(stderr);
	pg.drawn = true;
	pg.last_draw = t;
}

void progress_update(void *arg, const char *what, uint64_t done, uint64_t total)
{
	if (!pg.enabled || !total || pthread_mutex_trylock(&pg_lock))
		return;
	draw(what, done, total);
	pthread_mutex_unlock(&pg_lock);
}

/* The log echo's stream: the bar goes before each line is written. */
static ssize_t echo_write(void *cookie, const char *buf, size_t len)
{
	progress_clear();
	return (ssize_t)fwrite(buf, 1, len, cookie);
}

FILE *progress_wrap(FILE *f)
{
	static FILE *wrapped;
	static const cookie_io_functions_t io = { .write = echo_write };

	if (!pg.enabled || !f)
		return f;
	if (!wrapped)
		wrapped = fopencookie(f, "w", io);
	if (wrapped)
		setvbuf(wrapped, NULL, _IOLBF, 0);
	return wrapped ? wrapped : f;
}
