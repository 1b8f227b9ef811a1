/*
 * The per-machine dmesg ring and WARN counter. Lines are numbered by a
 * machine-local sequence instead of a clock so two runs of one scenario print
 * the same log. The ring lock is a leaf lock: nothing is called under it.
 */
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <string.h>

void zd_vprintk(struct zd_machine *m, enum zd_loglevel level, const char *fmt, va_list ap)
{
	struct zd_log_line *l;

	pthread_mutex_lock(&m->log_lock);
	m->log_seq++;
	l = &m->log_ring[m->log_seq % ZD_LOG_RING];
	l->seq = m->log_seq;
	l->level = level;
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	/* Kernel format strings end in "\n"; the ring stores bare lines. */
	l->text[strcspn(l->text, "\n")] = '\0';
	/* pr_debug lines stay in the ring but off the console, as with the
	 * kernel's dynamic debug off by default. */
	if (m->log_echo && level <= ZD_LOG_INFO)
		fprintf(m->log_echo, "[%6lu] %s\n", l->seq, l->text);
	pthread_mutex_unlock(&m->log_lock);
}

void zd_printk(struct zd_machine *m, enum zd_loglevel level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zd_vprintk(m, level, fmt, ap);
	va_end(ap);
}

bool zd_warn_fire(struct zd_machine *m, const char *file, int line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	const char *base = strrchr(file, '/');

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	__atomic_add_fetch(&m->warn_count, 1, __ATOMIC_RELAXED);
	zd_printk(m, ZD_LOG_WARNING, "WARNING: %s:%d: %s", base ? base + 1 : file, line, msg);
	return true;
}

unsigned long zd_warn_count(const struct zd_machine *m)
{
	return __atomic_load_n(&m->warn_count, __ATOMIC_RELAXED);
}

unsigned long zd_log_seq(const struct zd_machine *m)
{
	return __atomic_load_n(&m->log_seq, __ATOMIC_RELAXED);
}

size_t zd_log_read(struct zd_machine *m, unsigned long since, struct zd_log_line *out, size_t max)
{
	size_t n = 0;
	unsigned long first;

	pthread_mutex_lock(&m->log_lock);
	first = m->log_seq > ZD_LOG_RING ? m->log_seq - ZD_LOG_RING + 1 : 1;
	if (since + 1 > first)
		first = since + 1;
	for (unsigned long s = first; s <= m->log_seq && n < max; s++)
		out[n++] = m->log_ring[s % ZD_LOG_RING];
	pthread_mutex_unlock(&m->log_lock);
	return n;
}

static const char *const level_prefix[] = {
	"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
};

void zd_log_dump(struct zd_machine *m, FILE *f, enum zd_loglevel max_level)
{
	unsigned long first;

	pthread_mutex_lock(&m->log_lock);
	first = m->log_seq > ZD_LOG_RING ? m->log_seq - ZD_LOG_RING + 1 : 1;
	for (unsigned long s = first; s <= m->log_seq; s++) {
		const struct zd_log_line *l = &m->log_ring[s % ZD_LOG_RING];
		if (l->level <= max_level)
			fprintf(f, "[%6lu] %-6s %s\n", l->seq, level_prefix[l->level], l->text);
	}
	pthread_mutex_unlock(&m->log_lock);
}

bool zd_log_contains(struct zd_machine *m, const char *needle)
{
	bool found = false;
	unsigned long first;

	pthread_mutex_lock(&m->log_lock);
	first = m->log_seq > ZD_LOG_RING ? m->log_seq - ZD_LOG_RING + 1 : 1;
	for (unsigned long s = first; s <= m->log_seq && !found; s++)
		found = strstr(m->log_ring[s % ZD_LOG_RING].text, needle) != NULL;
	pthread_mutex_unlock(&m->log_lock);
	return found;
}

void zd_log_set_echo(struct zd_machine *m, FILE *f)
{
	pthread_mutex_lock(&m->log_lock);
	m->log_echo = f;
	pthread_mutex_unlock(&m->log_lock);
}
