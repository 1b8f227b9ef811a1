/*
 * The per-machine dmesg ring and WARN counter. Lines are numbered by a
 * machine-local sequence instead of a clock so two runs of one scenario print
 * the same log. The ring lock is a leaf lock: nothing is called under it.
 * It also guards the console filter (level and dynamic-debug clauses),
 * which decides what is echoed; the ring always keeps every line.
 */
#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/machine.h>
#include <string.h>
#include <unistd.h>

/* Functions carry the kernel's names behind the zd_ prefix; a query may
 * name either. */
static bool func_matches(const char *func, const char *want)
{
	return func && (!strcmp(func, want) || (!strncmp(func, "zd_", 3) && !strcmp(func + 3, want)));
}

static bool visible_locked(struct zd_machine *m, const struct zd_log_line *l)
{
	const struct zd_log_filter *f = &m->log_filter;

	if (l->level <= f->console_level)
		return true;
	if (l->level != ZD_LOG_DEBUG)
		return false;
	/* pr_debug: the newest matching dynamic-debug clause decides. */
	for (int i = f->nr - 1; i >= 0; i--) {
		const struct zd_dyndbg *d = &f->clauses[i];
		bool match = d->kind == ZD_DYNDBG_ALL ||
			     (d->kind == ZD_DYNDBG_FUNC && func_matches(l->func, d->text)) ||
			     (d->kind == ZD_DYNDBG_FORMAT && strstr(l->text, d->text));
		if (match)
			return d->enable;
	}
	return false;
}

bool zd_log_visible(struct zd_machine *m, const struct zd_log_line *l)
{
	bool v;

	pthread_mutex_lock(&m->log_lock);
	v = visible_locked(m, l);
	pthread_mutex_unlock(&m->log_lock);
	return v;
}

void zd_vprintk(struct zd_machine *m, enum zd_loglevel level, const char *func, const char *fmt,
		va_list ap)
{
	struct zd_log_line *l;

	pthread_mutex_lock(&m->log_lock);
	/* zd_log_seq() reads it without the lock */
	__atomic_store_n(&m->log_seq, m->log_seq + 1, __ATOMIC_RELAXED);
	l = &m->log_ring[m->log_seq % ZD_LOG_RING];
	l->seq = m->log_seq;
	l->level = level;
	l->func = func;
	l->caller = (int)gettid();
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	/* Kernel format strings end in "\n"; the ring stores bare lines. */
	l->text[strcspn(l->text, "\n")] = '\0';
	if (m->log_echo && visible_locked(m, l))
		fprintf(m->log_echo, "[%6lu] %s\n", l->seq, l->text);
	pthread_mutex_unlock(&m->log_lock);
}

void zd_printk(struct zd_machine *m, enum zd_loglevel level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zd_vprintk(m, level, NULL, fmt, ap);
	va_end(ap);
}

void zd_printk_func(struct zd_machine *m, enum zd_loglevel level, const char *func,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zd_vprintk(m, level, func, fmt, ap);
	va_end(ap);
}

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

int zd_loglevel_from_name(const char *name)
{
	if (name[0] >= '0' && name[0] <= '7' && !name[1])
		return name[0] - '0';
	if (!strcmp(name, "warn") || !strcmp(name, "error"))
		return !strcmp(name, "warn") ? ZD_LOG_WARNING : ZD_LOG_ERR;
	for (int i = 0; i < 8; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

int zd_log_set_console_level(struct zd_machine *m, enum zd_loglevel level)
{
	if ((unsigned)level > ZD_LOG_DEBUG)
		return -EINVAL;
	pthread_mutex_lock(&m->log_lock);
	m->log_filter.console_level = level;
	pthread_mutex_unlock(&m->log_lock);
	return 0;
}

/* One clause: "[func NAME | format TEXT] +p|-p" (words split on blanks). */
static int parse_clause(const char *c, struct zd_dyndbg *d, char *why, size_t len)
{
	char word[3][64];
	int n = sscanf(c, " %63s %63s %63s", word[0], word[1], word[2]);
	const char *flags;

	memset(d, 0, sizeof(*d));
	if (n == 1) {
		d->kind = ZD_DYNDBG_ALL;
		flags = word[0];
	} else if (n == 3 && (!strcmp(word[0], "func") || !strcmp(word[0], "format"))) {
		d->kind = !strcmp(word[0], "func") ? ZD_DYNDBG_FUNC : ZD_DYNDBG_FORMAT;
		snprintf(d->text, sizeof(d->text), "%s", word[1]);
		flags = word[2];
	} else {
		snprintf(why, len, "expected \"[func NAME | format TEXT] +p|-p\", got \"%s\"", c);
		return -EINVAL;
	}
	if (strcmp(flags, "+p") && strcmp(flags, "-p")) {
		snprintf(why, len, "flags \"%s\": only +p and -p are supported", flags);
		return -EINVAL;
	}
	d->enable = flags[0] == '+';
	return 0;
}

int zd_log_dyndbg(struct zd_machine *m, const char *query)
{
	struct zd_dyndbg parsed[ZD_DYNDBG_MAX];
	char buf[512], why[160] = "";
	int n = 0, rc = 0;

	snprintf(buf, sizeof(buf), "%s", query ? query : "");
	for (char *save = NULL, *c = strtok_r(buf, ";", &save); c && !rc;
	     c = strtok_r(NULL, ";", &save)) {
		if (!c[strspn(c, " \t")])
			continue;
		if (n == ZD_DYNDBG_MAX) {
			snprintf(why, sizeof(why), "more than %d clauses", ZD_DYNDBG_MAX);
			rc = -EINVAL;
		} else {
			rc = parse_clause(c, &parsed[n++], why, sizeof(why));
		}
	}
	if (!rc && !n) {
		snprintf(why, sizeof(why), "empty query");
		rc = -EINVAL;
	}
	pthread_mutex_lock(&m->log_lock);
	if (!rc && m->log_filter.nr + n > ZD_DYNDBG_MAX) {
		snprintf(why, sizeof(why), "more than %d clauses in all", ZD_DYNDBG_MAX);
		rc = -EINVAL;
	}
	for (int i = 0; !rc && i < n; i++)
		m->log_filter.clauses[m->log_filter.nr++] = parsed[i];
	pthread_mutex_unlock(&m->log_lock);
	if (rc)
		zd_pr_err(m, "dyndbg: bad query \"%s\": %s", query ? query : "", why);
	return rc;
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

void zd_log_dump_console(struct zd_machine *m, FILE *f)
{
	unsigned long first;

	pthread_mutex_lock(&m->log_lock);
	first = m->log_seq > ZD_LOG_RING ? m->log_seq - ZD_LOG_RING + 1 : 1;
	for (unsigned long s = first; s <= m->log_seq; s++) {
		const struct zd_log_line *l = &m->log_ring[s % ZD_LOG_RING];
		if (visible_locked(m, l))
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
