/*
 * The JSON that ndctl and daxctl print (declared in pmachine.h): a small
 * tree of objects, arrays and scalars, printed the way json-c's
 * JSON_C_TO_STRING_PRETTY prints it (two-space indent, "key":value with no
 * space, '/' escaped as "\/", empty containers as {} and []), because
 * scripts and recorded outputs compare against exactly that. Sizes carry
 * ndctl's --human rendering ("7.87 GiB (8.45 GB)"), chosen per value.
 * Invariants: keys keep their insertion order (json-c's object order);
 * a node belongs to at most one parent and nj_free() frees its subtree;
 * allocation failure ends the process (the command's effect is already
 * saved when output is built).
 */
#include "pmachine.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum nj_type { NJ_OBJ, NJ_ARR, NJ_STR, NJ_U64, NJ_I64, NJ_BOOL, NJ_SIZE };

struct nj {
	enum nj_type type;
	char *key;                 /* in an object: the member name */
	char *s;
	uint64_t u;
	int64_t i;
	bool b, human;
	struct nj *first, *last, *next;
	size_t len;
};

static void *nj_alloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p) {
		fputs("zonedev: out of memory building JSON output\n", stderr);
		exit(EXIT_FAIL);
	}
	return p;
}

static struct nj *node(enum nj_type t)
{
	struct nj *n = nj_alloc(sizeof(*n));

	n->type = t;
	return n;
}

struct nj *nj_obj(void) { return node(NJ_OBJ); }
struct nj *nj_arr(void) { return node(NJ_ARR); }

struct nj *nj_str(const char *s)
{
	struct nj *n = node(NJ_STR);
	size_t len = strlen(s);

	n->s = nj_alloc(len + 1);
	memcpy(n->s, s, len + 1);
	return n;
}

struct nj *nj_u64(uint64_t v)
{
	struct nj *n = node(NJ_U64);

	n->u = v;
	return n;
}

struct nj *nj_int(int64_t v)
{
	struct nj *n = node(NJ_I64);

	n->i = v;
	return n;
}

struct nj *nj_bool(bool v)
{
	struct nj *n = node(NJ_BOOL);

	n->b = v;
	return n;
}

struct nj *nj_size(uint64_t v, bool human)
{
	struct nj *n = node(NJ_SIZE);

	n->u = v;
	n->human = human;
	return n;
}

void nj_add(struct nj *parent, const char *key, struct nj *child)
{
	if (key) {
		size_t len = strlen(key);

		child->key = nj_alloc(len + 1);
		memcpy(child->key, key, len + 1);
	}
	if (parent->last)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
	parent->len++;
}

size_t nj_len(const struct nj *n)
{
	return n ? n->len : 0;
}

struct nj *nj_first(const struct nj *n)
{
	return n ? n->first : NULL;
}

void nj_free(struct nj *n)
{
	while (n) {
		struct nj *next = n->next;

		nj_free(n->first);
		free(n->key);
		free(n->s);
		free(n);
		n = next;
	}
}

/* Detach the first member of an array (to print it alone). */
static struct nj *take_first(struct nj *arr)
{
	struct nj *n = arr->first;

	arr->first = n->next;
	if (!arr->first)
		arr->last = NULL;
	n->next = NULL;
	arr->len--;
	return n;
}

/*
 * ndctl's human size: below 5000 KiB the plain number; else the value in
 * hundredths of MiB (below 2 GiB), GiB (below 2 TiB) or TiB, rounded half
 * up, then the same in decimal units in parentheses.
 */
void nj_human_size(uint64_t b, char *buf, size_t len)
{
	static const char *const iec[] = { "MiB", "GiB", "TiB" };
	static const char *const si[] = { "MB", "GB", "TB" };
	uint64_t bin, dec;
	int u;

	if (b < 5000ULL << 10) {
		snprintf(buf, len, "%" PRIu64, b);
		return;
	}
	u = b < 2ULL << 30 ? 0 : b < 2ULL << 40 ? 1 : 2;
	bin = (b * 200 / (1ULL << (20 + 10 * u)) + 1) / 2;
	dec = (b / (u == 0 ? 5000ULL : u == 1 ? 5000000ULL : 5000000000ULL) + 1) / 2;
	snprintf(buf, len, "%" PRIu64 ".%02" PRIu64 " %s (%" PRIu64 ".%02" PRIu64 " %s)",
		 bin / 100, bin % 100, iec[u], dec / 100, dec % 100, si[u]);
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '/': fputs("\\/", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void put_value(FILE *f, const struct nj *n, int level)
{
	char buf[64];

	switch (n->type) {
	case NJ_OBJ:
	case NJ_ARR:
		fputc(n->type == NJ_OBJ ? '{' : '[', f);
		for (const struct nj *c = n->first; c; c = c->next) {
			fprintf(f, "%s\n%*s", c == n->first ? "" : ",", 2 * (level + 1), "");
			if (n->type == NJ_OBJ) {
				put_string(f, c->key);
				fputc(':', f);
			}
			put_value(f, c, level + 1);
		}
		if (n->first)
			fprintf(f, "\n%*s", 2 * level, "");
		fputc(n->type == NJ_OBJ ? '}' : ']', f);
		break;
	case NJ_STR: put_string(f, n->s); break;
	case NJ_U64: fprintf(f, "%" PRIu64, n->u); break;
	case NJ_I64: fprintf(f, "%" PRId64, n->i); break;
	case NJ_BOOL: fputs(n->b ? "true" : "false", f); break;
	case NJ_SIZE:
		nj_human_size(n->u, buf, sizeof(buf));
		if (n->human && n->u >= 5000ULL << 10)
			put_string(f, buf);
		else
			fprintf(f, "%" PRIu64, n->u);
		break;
	}
}

void nj_print(FILE *f, struct nj *n)
{
	put_value(f, n, 0);
	fputc('\n', f);
	nj_free(n);
}

/* util_display_json_array(): one member alone under --human, otherwise
 * the array; an empty array prints nothing under --human and warns. */
void nj_display_array(FILE *f, struct nj *arr, bool human)
{
	if (arr->len > 1 || !human) {
		if (!arr->len)
			fputs("  Warning: no matching devices found\n\n", stderr);
		nj_print(f, arr);
		return;
	}
	if (arr->len)
		nj_print(f, take_first(arr));
	nj_free(arr);
}

void nj_kstr(struct nj *o, const char *key, const char *s) { nj_add(o, key, nj_str(s)); }
void nj_ku64(struct nj *o, const char *key, uint64_t v) { nj_add(o, key, nj_u64(v)); }
void nj_kint(struct nj *o, const char *key, int64_t v) { nj_add(o, key, nj_int(v)); }
void nj_kbool(struct nj *o, const char *key, bool v) { nj_add(o, key, nj_bool(v)); }
void nj_ksize(struct nj *o, const char *key, uint64_t v, bool human)
{
	nj_add(o, key, nj_size(v, human));
}
