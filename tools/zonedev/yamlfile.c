/*
 * YAML loading: one libyaml document per scenario, kept whole so every node
 * still knows its line and column for messages. Helpers check mapping keys
 * and fetch scalars with "NAME:LINE:COL: ..." errors.
 * Invariants: only the first error is kept (it is the one that explains the
 * rest); positions are 1-based; a file with more than one document, no
 * document, or bytes libyaml rejects is an error, never a crash. Aliases are
 * resolved by libyaml to shared nodes; the schema walk is bounded by the
 * schema's depth, so a cyclic alias cannot make it recurse forever.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define YFILE_MAX_BYTES (16u << 20)

int yline(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
int ycol(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }

/* Bytes of a line break at t[i] as libyaml counts them (CR LF, CR, LF, NEL, LS, PS). */
static size_t yaml_break(const unsigned char *t, size_t i, size_t len)
{
	if (t[i] == '\r')
		return i + 1 < len && t[i + 1] == '\n' ? 2 : 1;
	if (t[i] == '\n')
		return 1;
	if (t[i] == 0xc2 && i + 1 < len && t[i + 1] == 0x85)
		return 2;
	if (t[i] == 0xe2 && i + 2 < len && t[i + 1] == 0x80 && (t[i + 2] | 1) == 0xa9)
		return 3;
	return 0;
}

/*
 * libyaml ends a stream that lacks a final line break on a line of its own,
 * one past the last line of the file, and nodes or errors there carry that
 * position. Such a (line, col) becomes the end of the last line. Columns
 * count characters, as libyaml's do (UTF-8 bytes that start one).
 */
static void clamp_to_end(const struct yfile *yf, int *line, int *col)
{
	const unsigned char *t = (const unsigned char *)yf->text;
	int lines = 1, endcol = 1;
	size_t k;

	if (*col != 1 || !yf->len)
		return;
	for (size_t i = 0; i < yf->len; i += k ? k : 1) {
		k = yaml_break(t, i, yf->len);
		if (k && i + k == yf->len)
			return;         /* ends with a break: the position is real */
		if (k) {
			lines++;
			endcol = 1;
		} else if ((t[i] & 0xc0) != 0x80) {
			endcol++;
		}
	}
	if (*line == lines + 1) {
		*line = lines;
		*col = endcol;
	}
}

static void verr(struct yfile *yf, int line, int col, const char *fmt, va_list ap)
{
	char msg[768];

	if (yf->err[0])
		return;
	if (line > 0)
		clamp_to_end(yf, &line, &col);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(yf->err, sizeof(yf->err), "%s:%d:%d: %s", yf->name, line, col, msg);
	else
		snprintf(yf->err, sizeof(yf->err), "%s: %s", yf->name, msg);
}

int yerr(struct yfile *yf, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(yf, n ? yline(n) : 0, n ? ycol(n) : 0, fmt, ap);
	va_end(ap);
	return -1;
}

int yerr_at(struct yfile *yf, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(yf, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

void ytext_pos(const struct yfile *yf, size_t from, size_t to, int *line, int *col)
{
	for (size_t i = from; i < to && i < yf->len; i++) {
		if (yf->text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parser_error(struct yfile *yf, yaml_parser_t *p)
{
	int line, col;
	const char *problem = p->problem ? p->problem : "cannot parse YAML";

	if (p->error == YAML_MEMORY_ERROR)
		return yerr_at(yf, 0, 0, "out of memory while parsing YAML");
	if (p->error == YAML_READER_ERROR) {
		/* a reader error carries no mark, only a byte offset */
		line = col = 1;
		ytext_pos(yf, 0, p->problem_offset, &line, &col);
		return yerr_at(yf, line, col, "%s", problem);
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	if (p->context)
		return yerr_at(yf, line, col, "%s (%s at line %d)", problem, p->context,
			      (int)p->context_mark.line + 1);
	return yerr_at(yf, line, col, "%s", problem);
}

static int parse_text(struct yfile *yf)
{
	yaml_parser_t p;
	yaml_document_t extra;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return yerr_at(yf, 0, 0, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&p, (const unsigned char *)yf->text, yf->len);
	if (!yaml_parser_load(&p, &yf->doc)) {
		rc = parser_error(yf, &p);
		goto out;
	}
	yf->have_doc = true;
	if (!yaml_document_get_root_node(&yf->doc)) {
		rc = yerr_at(yf, 1, 1, "the file holds no YAML document");
		goto out;
	}
	/* A second document would be silently ignored: refuse it. */
	if (!yaml_parser_load(&p, &extra)) {
		rc = parser_error(yf, &p);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		rc = yerr_at(yf, (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1,
			    "more than one YAML document (a scenario is one document)");
	}
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&p);
	return rc;
}

int yfile_load_text(struct yfile *yf, const char *text, size_t len, const char *disp)
{
	memset(yf, 0, sizeof(*yf));
	yf->name = disp;
	yf->text = malloc(len + 1);
	if (!yf->text)
		return yerr_at(yf, 0, 0, "out of memory");
	memcpy(yf->text, text, len);
	yf->text[len] = '\0';
	yf->len = len;
	return parse_text(yf);
}

int yfile_load_path(struct yfile *yf, const char *path, const char *disp)
{
	FILE *f;
	struct stat st;
	size_t n;

	memset(yf, 0, sizeof(*yf));
	yf->name = disp;
	f = fopen(path, "rb");
	if (!f)
		return yerr_at(yf, 0, 0, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return yerr_at(yf, 0, 0, "not a regular file");
	}
	if ((uint64_t)st.st_size > YFILE_MAX_BYTES) {
		fclose(f);
		return yerr_at(yf, 0, 0, "too large for a scenario (%lld bytes)",
			      (long long)st.st_size);
	}
	yf->text = malloc((size_t)st.st_size + 1);
	if (!yf->text) {
		fclose(f);
		return yerr_at(yf, 0, 0, "out of memory");
	}
	n = fread(yf->text, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		fclose(f);
		return yerr_at(yf, 0, 0, "read error: %s", strerror(errno));
	}
	fclose(f);
	yf->text[n] = '\0';
	yf->len = n;
	return parse_text(yf);
}

void yfile_free(struct yfile *yf)
{
	if (yf->have_doc)
		yaml_document_delete(&yf->doc);
	yf->have_doc = false;
	free(yf->text);
	yf->text = NULL;
}

yaml_node_t *ynode(struct yfile *yf, int index)
{
	return yaml_document_get_node(&yf->doc, index);
}

yaml_node_t *yroot(struct yfile *yf)
{
	return yf->have_doc ? yaml_document_get_root_node(&yf->doc) : NULL;
}

const char *ykind(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

/* A plain, untagged empty scalar or "~"/"null" is YAML's null. */
static bool is_null_scalar(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

const char *yscalar(struct yfile *yf, yaml_node_t *n, const char *what)
{
	if (!n || n->type != YAML_SCALAR_NODE) {
		yerr(yf, n, "%s must be a single value, not %s", what, ykind(n));
		return NULL;
	}
	if (is_null_scalar(n)) {
		yerr(yf, n, "%s has no value", what);
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		yerr(yf, n, "%s contains a NUL character", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

const char *ykey(const yaml_node_t *k)
{
	return k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : NULL;
}

int ymap_check(struct yfile *yf, yaml_node_t *map, const char *const *allowed,
	       const char *context, const char *takes)
{
	yaml_node_pair_t *p, *q;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = ynode(yf, p->key);
		const char *name = ykey(k);
		bool ok = false;

		if (!name)
			return yerr(yf, k, "keys in %s must be plain names, not %s", context,
				    ykind(k));
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, name))
				ok = true;
		if (!ok)
			return yerr(yf, k, "unknown key '%s' in %s%s%s%s", name, context,
				    takes ? " (it takes: " : "", takes ? takes : "",
				    takes ? ")" : "");
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			const char *other = ykey(ynode(yf, q->key));

			if (other && !strcmp(other, name))
				return yerr(yf, k, "duplicate key '%s' in %s", name, context);
		}
	}
	return 0;
}

yaml_node_t *ymap_get(struct yfile *yf, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *name = ykey(ynode(yf, p->key));

		if (name && !strcmp(name, key))
			return ynode(yf, p->value);
	}
	return NULL;
}
