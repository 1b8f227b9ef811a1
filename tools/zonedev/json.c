/*
 * JSON output helpers: a streaming writer that emits one pretty-printed
 * document. The caller opens and closes containers in order; the writer
 * places commas, newlines and indentation.
 * A NULL writer writes nothing (the text-mode caller's).
 * Invariants: output is always valid JSON when calls are balanced (strings
 * are escaped, bytes that are not valid UTF-8 become U+FFFD); numbers are
 * emitted exactly as integers, and addresses go out as "0x..." strings.
 */
#include "cli.h"

#include <inttypes.h>
#include <string.h>

void jw_init(struct jw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

static void indent(struct jw *w)
{
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

/* Separator and indentation before a value or a key; false: no writer. */
static bool prefix(struct jw *w)
{
	if (!w)
		return false;
	if (w->after_key) {
		w->after_key = false;
		return true;
	}
	if (w->depth > 0) {
		if (w->count[w->depth - 1]++)
			fputc(',', w->f);
		fputc('\n', w->f);
		indent(w);
	}
	return true;
}

static void open_container(struct jw *w, char c)
{
	if (!prefix(w))
		return;
	fputc(c, w->f);
	if (w->depth < JW_MAX_DEPTH) {
		w->count[w->depth] = 0;
		w->depth++;
	}
}

static void close_container(struct jw *w, char c)
{
	if (!w)
		return;
	if (w->depth > 0) {
		w->depth--;
		if (w->count[w->depth]) {
			fputc('\n', w->f);
			indent(w);
		}
	}
	fputc(c, w->f);
}

void jw_obj_begin(struct jw *w) { open_container(w, '{'); }
void jw_obj_end(struct jw *w) { close_container(w, '}'); }
void jw_arr_begin(struct jw *w) { open_container(w, '['); }
void jw_arr_end(struct jw *w) { close_container(w, ']'); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void write_string(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0, l; i < n; i += l ? l : 1) {
		unsigned char c = p[i];
		const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" :
				  c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;

		l = esc || c < 0x20 || c == 0x7f ? 1 : utf8_len(p + i, n - i);
		if (esc)
			fputs(esc, f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else if (!l)
			fputs("\\ufffd", f);
		else
			fwrite(p + i, 1, l, f);
	}
	fputc('"', f);
}

void jw_key(struct jw *w, const char *key)
{
	if (!prefix(w))
		return;
	write_string(w->f, key, strlen(key));
	fputs(": ", w->f);
	w->after_key = true;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	if (!prefix(w))
		return;
	write_string(w->f, s, n);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_u64(struct jw *w, uint64_t v)
{
	if (!prefix(w))
		return;
	fprintf(w->f, "%" PRIu64, v);
}

void jw_double(struct jw *w, double v)
{
	if (!prefix(w))
		return;
	/* JSON has no NaN or infinity; measurements never produce them, but a
	 * zero-time division must not break the document. */
	if (v != v || v > 1e300 || v < -1e300)
		fputs("null", w->f);
	else
		fprintf(w->f, "%.4g", v);
}

static void jw_i64(struct jw *w, int64_t v)
{
	if (!prefix(w))
		return;
	fprintf(w->f, "%" PRId64, v);
}

void jw_bool(struct jw *w, bool v)
{
	if (!prefix(w))
		return;
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w)
{
	if (!prefix(w))
		return;
	fputs("null", w->f);
}

void jw_hex(struct jw *w, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	jw_str(w, buf);
}

void jw_raw(struct jw *w, const char *json)
{
	size_t n = strlen(json);

	while (n && (json[n - 1] == '\n' || json[n - 1] == ' ' || json[n - 1] == '\t' ||
		     json[n - 1] == '\r'))
		n--;
	if (!prefix(w))
		return;
	if (!n)
		fputs("null", w->f);
	else
		fwrite(json, 1, n, w->f);
}

void jw_finish(struct jw *w)
{
	if (!w)
		return;
	fputc('\n', w->f);
	fflush(w->f);
}

void jw_kstr(struct jw *w, const char *key, const char *s) { jw_key(w, key); jw_str(w, s); }
void jw_ku64(struct jw *w, const char *key, uint64_t v) { jw_key(w, key); jw_u64(w, v); }
void jw_ki64(struct jw *w, const char *key, int64_t v) { jw_key(w, key); jw_i64(w, v); }
void jw_kbool(struct jw *w, const char *key, bool v) { jw_key(w, key); jw_bool(w, v); }
void jw_khex(struct jw *w, const char *key, uint64_t v) { jw_key(w, key); jw_hex(w, v); }
void jw_kdouble(struct jw *w, const char *key, double v) { jw_key(w, key); jw_double(w, v); }
