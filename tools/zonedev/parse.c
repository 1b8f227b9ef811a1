/*
 * Scalar parsers and formatters shared by the scenario loader and the CLI
 * options: sizes and addresses ("4G", "0x100000000", "128M"), kB quantities,
 * booleans; and the inverse formatting used when steps are echoed.
 * Invariants: a parser accepts the whole string or nothing (no trailing
 * garbage, no sign, no whitespace) and never wraps: a value that does not
 * fit 64 bits is an error, not a truncation. fmt_size() output parses back
 * to the same value.
 */
#include "cli.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

static const struct {
	const char *suffix;
	unsigned shift;
} suffixes[] = {
	{ "K", 10 }, { "M", 20 }, { "G", 30 }, { "T", 40 }, { "P", 50 },
	{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 }, { "PiB", 50 },
};

/* Digits of s in base 10 or 16 ("0x"); *end points past them. An empty
 * (or NULL) s is an error. */
static int parse_digits(const char *s, uint64_t *out, const char **end, const char **why)
{
	uint64_t v = 0;
	unsigned base = 10;
	const char *p = s;
	bool any = false;

	if (!s || !*s) {
		*why = "is empty";
		return -1;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v)) {
			*why = "does not fit in 64 bits";
			return -1;
		}
		any = true;
	}
	if (!any) {
		*why = "is not a number";
		return -1;
	}
	*out = v;
	*end = p;
	return 0;
}

int parse_size(const char *s, uint64_t *out, const char **why)
{
	uint64_t v;
	const char *end;

	if (parse_digits(s, &v, &end, why))
		return -1;
	if (!*end) {
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (strcmp(end, suffixes[i].suffix))
			continue;
		if (v > (UINT64_MAX >> suffixes[i].shift)) {
			*why = "does not fit in 64 bits";
			return -1;
		}
		*out = v << suffixes[i].shift;
		return 0;
	}
	*why = "has an unknown suffix (use K, M, G, T or P)";
	return -1;
}

int parse_uint(const char *s, uint64_t *out, const char **why)
{
	uint64_t v;
	const char *end;

	if (parse_digits(s, &v, &end, why))
		return -1;
	if (*end) {
		*why = "is not a whole number";
		return -1;
	}
	*out = v;
	return 0;
}

int parse_kb(const char *s, uint64_t *out_kb, const char **why)
{
	char buf[64];
	size_t n = strlen(s);
	uint64_t v;

	if (n >= sizeof(buf)) {
		*why = "is too long";
		return -1;
	}
	/* "1024 kB" / "1024kB": already kB, as /proc/meminfo prints it. */
	if (n > 2 && !strcmp(s + n - 2, "kB")) {
		n -= 2;
		while (n && s[n - 1] == ' ')
			n--;
		snprintf(buf, sizeof(buf), "%.*s", (int)n, s);
		return parse_uint(buf, out_kb, why);
	}
	/* a plain number is kB already ("" is refused as empty by both) */
	if (!parse_uint(s, out_kb, why))
		return 0;
	if (parse_size(s, &v, why))
		return -1;
	if (v & 1023) {
		*why = "is not a whole number of kB";
		return -1;
	}
	*out_kb = v >> 10;
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "true")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(s, "false")) {
		*out = false;
		return 0;
	}
	return -1;
}

const char *fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTP";

	if (v) {
		for (int i = 4; i >= 0; i--) {
			unsigned shift = 10 * (unsigned)(i + 1);

			if (!(v & ((1ULL << shift) - 1))) {
				snprintf(buf, len, "%" PRIu64 "%c", v >> shift, units[i]);
				return buf;
			}
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

const char *fmt_size_human(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	int i = 4;
	uint64_t unit;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", v);
		return buf;
	}
	while (i > 0 && v < (1ULL << (10 * (i + 1))))
		i--;
	unit = 1ULL << (10 * (i + 1));
	if (v % unit == 0)
		snprintf(buf, len, "%" PRIu64 " %s", v / unit, units[i]);
	else
		snprintf(buf, len, "%.1f %s", (double)v / (double)unit, units[i]);
	return buf;
}

const char *fmt_errno(int err, char *buf, size_t len)
{
	const char *n = zd_errno_name(err);

	if (err < 0)
		err = -err;
	if (n)
		snprintf(buf, len, "%s", n);
	else
		snprintf(buf, len, "errno %d", err);
	return buf;
}

int expand_env(const char *s, char **out, size_t *bad_off, char *why, size_t whylen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*bad_off = 0;
	if (!f) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (const char *p = s; *p;) {
		const char *val, *end;
		char name[128];
		size_t n;
		bool bad;

		if (p[0] != '$' || p[1] != '{') {
			fputc(*p++, f);
			continue;
		}
		end = strchr(p + 2, '}');
		*bad_off = (size_t)(p - s);
		if (!end) {
			snprintf(why, whylen, "unterminated '${' (write ${NAME})");
			goto fail;
		}
		/* letters, digits and '_', not starting with a digit */
		n = (size_t)(end - (p + 2));
		bad = !n || n >= sizeof(name) || isdigit((unsigned char)p[2]);
		for (size_t i = 0; i < n; i++)
			bad |= !isalnum((unsigned char)p[2 + i]) && p[2 + i] != '_';
		if (bad) {
			snprintf(why, whylen, "bad variable name '%.*s' (letters, digits and '_', not "
				 "starting with a digit)", (int)(end - p + 1), p);
			goto fail;
		}
		snprintf(name, sizeof(name), "%.*s", (int)n, p + 2);
		val = getenv(name);
		if (!val || !*val) {
			snprintf(why, whylen, "environment variable %s is %s (it is used as ${%s})",
				 name, val ? "empty" : "not set", name);
			goto fail;
		}
		fputs(val, f);
		p = end + 1;
	}
	if (!fclose(f) && buf) {
		*out = buf;
		return 0;
	}
	snprintf(why, whylen, "out of memory");
	free(buf);
	return -1;
fail:
	fclose(f);
	free(buf);
	return -1;
}

const char *fmt_escaped(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return buf;
	for (size_t i = 0; i < n && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			o += (size_t)snprintf(buf + o, len - o, "\\n");
		else if (c == '\t')
			o += (size_t)snprintf(buf + o, len - o, "\\t");
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o < len ? o : len - 1] = '\0';
	return buf;
}

size_t list_add(char *buf, size_t len, size_t used, const char *sep, const char *item)
{
	if (used < len)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? sep : "", item);
	return used;
}

const char *fmt_arch_names(void)
{
	static char buf[256];
	size_t used = 0;

	if (!buf[0])
		for (const char *const *n = zd_arch_names(); *n; n++)
			used = list_add(buf, sizeof(buf), used, ", ", *n);
	return buf;
}
