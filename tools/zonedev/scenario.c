/*
 * The scenario schema: turns a loaded YAML document into a machine section
 * (arch, RAM, firmware ranges or an iomem file to import) and a list of
 * typed steps. Everything a run needs is checked here, before any machine
 * exists: unknown keys, bad sizes, unknown errno names, handles used before
 * a step defines them. Each error names FILE:LINE:COL of the offending node.
 * This file loads the document, checks its top-level keys and holds what
 * every part of the schema shares (scenario-internal.h): the value getters,
 * handles and step args; the parts are scenario-machine.c, scenario-steps.c,
 * scenario-expect.c and scenario-devsteps.c.
 * Invariants: a parsed step is fully typed (the runner never looks at YAML);
 * step args[] list the operands in a fixed order, which is what the echo
 * line and the JSON "args" show; handle indexes are stable for the run.
 */
#include "scenario-internal.h"

#include <ctype.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

/* ---------- small value getters: 1 present, 0 absent, -1 error ---------- */

int get_node(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, yaml_node_t **out)
{
	yaml_node_t *v = ymap_get(YF, map, key, NULL);

	if (!v) {
		if (required)
			return yerr(YF, map, "%s: missing key '%s'", ctx, key);
		return 0;
	}
	*out = v;
	return 1;
}

/* The scalar text of key, and its node in *vp (when vp is not NULL). */
static int get_scalar(struct scenario *s, yaml_node_t *map, const char *key, bool required,
		      const char *ctx, yaml_node_t **vp, const char **out)
{
	yaml_node_t *v = NULL;
	int rc = get_node(s, map, key, required, ctx, &v);
	char what[96];

	if (rc <= 0)
		return rc;
	snprintf(what, sizeof(what), "'%s'", key);
	*out = yscalar(YF, v, what);
	if (vp)
		*vp = v;
	return *out ? 1 : -1;
}

int get_str(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	    const char *ctx, const char **out)
{
	return get_scalar(s, map, key, required, ctx, NULL, out);
}

int get_size(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, uint64_t *out)
{
	yaml_node_t *v;
	const char *text, *why;
	int rc = get_scalar(s, map, key, required, ctx, &v, &text);

	if (rc <= 0)
		return rc;
	if (parse_size(text, out, &why))
		return yerr(YF, v, "bad size '%s' for '%s': %s", text, key, why);
	return 1;
}

int get_uint(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, uint64_t max, uint64_t *out)
{
	yaml_node_t *v;
	const char *text, *why;
	int rc = get_scalar(s, map, key, required, ctx, &v, &text);

	if (rc <= 0)
		return rc;
	if (parse_uint(text, out, &why))
		return yerr(YF, v, "bad number '%s' for '%s': %s", text, key, why);
	if (*out > max)
		return yerr(YF, v, "'%s' is %s, the largest allowed is %llu", key, text,
			    (unsigned long long)max);
	return 1;
}

int get_bool(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, bool *out)
{
	yaml_node_t *v;
	const char *text;
	int rc = get_scalar(s, map, key, required, ctx, &v, &text);

	if (rc <= 0)
		return rc;
	if (parse_bool(text, out))
		return yerr(YF, v, "'%s' must be true or false, not '%s'", key, text);
	return 1;
}

/* ---------- handles ---------- */

bool is_identifier(const char *t)
{
	if (!isalpha((unsigned char)*t) && *t != '_')
		return false;
	for (t++; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '_' && *t != '-')
			return false;
	return true;
}

static const char *handle_kind_name(enum handle_kind k)
{
	switch (k) {
	case H_PAGES: return "allocated pages";
	case H_GPU_PAGE: return "a GPU page";
	case H_PGMAP: return "a memremap pgmap";
	case H_MEMINFO: return "a meminfo snapshot";
	case H_REGION: break;
	}
	return "a memory region";
}

int find_handle(struct scenario *s, const char *name)
{
	for (int i = 0; i < s->nr_handles; i++)
		if (!strcmp(s->handles[i].name, name))
			return i;
	return -1;
}

int define_handle(struct scenario *s, struct step *st, yaml_node_t *map, const char *key,
		  enum handle_kind kind, const char *ctx, const char *missing)
{
	const char *name;
	yaml_node_t *v = ymap_get(YF, map, key, NULL);
	int rc, i;

	st->handle = -1;
	if (!v && missing)
		return yerr(YF, map, "%s: missing key '%s' (%s)", ctx, key, missing);
	rc = get_str(s, map, key, false, ctx, &name);
	if (rc <= 0)
		return rc;
	if (!is_identifier(name))
		return yerr(YF, v, "handle name '%s' must start with a letter and hold only "
			    "letters, digits, '_' and '-'", name);
	i = find_handle(s, name);
	if (i >= 0 && s->handles[i].kind != kind)
		return yerr(YF, v, "handle '%s' already names %s", name,
			    handle_kind_name(s->handles[i].kind));
	if (i < 0) {
		if (s->nr_handles >= MAX_HANDLES)
			return yerr(YF, v, "too many handles (at most %d)", MAX_HANDLES);
		s->handles[s->nr_handles].name = name;
		s->handles[s->nr_handles].kind = kind;
		i = s->nr_handles++;
	}
	st->handle = i;
	add_arg(st, key, ARG_STR, 0, name);
	return 1;
}

int use_handle(struct scenario *s, struct step *st, yaml_node_t *a, const char *key,
	       enum handle_kind kind, const char *definer, const char *ctx, int *out)
{
	const char *text;

	if (get_str(s, a, key, true, ctx, &text) < 0)
		return -1;
	*out = find_handle(s, text);
	if (*out < 0 || s->handles[*out].kind != kind)
		return yerr(YF, ymap_get(YF, a, key, NULL), "no earlier %s step defined a "
			    "handle named '%s'", definer, text);
	add_arg(st, key, ARG_STR, 0, text);
	return 0;
}

int get_addr(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, struct addr_arg *out)
{
	yaml_node_t *v;
	const char *text, *why;
	int rc = get_scalar(s, map, key, required, ctx, &v, &text);

	if (rc <= 0)
		return rc;
	out->handle = -1;
	out->value = 0;
	if (!parse_size(text, &out->value, &why))
		return 1;
	if (is_identifier(text)) {
		out->handle = find_handle(s, text);
		if (out->handle >= 0)
			return 1;
		return yerr(YF, v, "bad address '%s' for '%s': not a number, and no earlier "
			    "step defined a handle of that name (as: %s)", text, key, text);
	}
	return yerr(YF, v, "bad address '%s' for '%s': %s", text, key, why);
}

/* ---------- step args (what the echo line shows) ---------- */

void add_arg(struct step *st, const char *key, enum arg_type type, uint64_t u,
	     const char *str)
{
	if (st->nargs >= STEP_MAX_ARGS)
		return;
	st->args[st->nargs++] = (struct step_arg){ .key = key, .type = type, .u = u, .s = str };
}

void add_addr_arg(struct scenario *s, struct step *st, const char *key,
		  const struct addr_arg *a)
{
	if (a->handle >= 0)
		add_arg(st, key, ARG_ADDR, 0, s->handles[a->handle].name);
	else
		add_arg(st, key, ARG_ADDR, a->value, NULL);
}

/* ---------- the document ---------- */

static int parse_document(struct scenario *s)
{
	static const char *const keys[] = { "description", "machine", "steps", NULL };
	yaml_node_t *root = yroot(YF), *v;
	yaml_node_item_t *it;

	if (root->type != YAML_MAPPING_NODE)
		return yerr(YF, root, "a scenario is a mapping with 'machine:' and 'steps:', not "
			    "%s", ykind(root));
	if (ymap_check(YF, root, keys, "scenario"))
		return -1;
	if (get_str(s, root, "description", false, "scenario", &s->description) < 0)
		return -1;
	v = ymap_get(YF, root, "machine", NULL);
	if (!v)
		return yerr(YF, root, "scenario: missing key 'machine' (use 'machine: {}' for "
			    "the default x86_64 machine)");
	if (parse_machine(s, v))
		return -1;
	v = ymap_get(YF, root, "steps", NULL);
	if (!v)
		return 0;
	if (v->type == YAML_SCALAR_NODE && !v->data.scalar.length)
		return 0;   /* "steps:" with nothing after it */
	if (v->type != YAML_SEQUENCE_NODE)
		return yerr(YF, v, "'steps' must be a list of steps, not %s", ykind(v));
	s->nr_steps = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	s->steps = calloc(s->nr_steps ? s->nr_steps : 1, sizeof(*s->steps));
	if (!s->steps)
		return yerr(YF, v, "out of memory");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
		if (parse_step(s, ynode(YF, *it), &s->steps[it - v->data.sequence.items.start]))
			return -1;
	return 0;
}

int scenario_load_path(struct scenario *s, const char *path)
{
	char *copy;

	memset(s, 0, sizeof(*s));
	s->file = path;
	copy = strdup(path);
	s->dir = copy ? strdup(dirname(copy)) : NULL;
	free(copy);
	if (!s->dir) {
		s->yf.name = path;
		snprintf(s->yf.err, sizeof(s->yf.err), "%s: out of memory", path);
		return -1;
	}
	if (yfile_load_path(&s->yf, path, path))
		return -1;
	return parse_document(s);
}

int scenario_load_text(struct scenario *s, const char *text, const char *disp)
{
	memset(s, 0, sizeof(*s));
	s->file = disp;
	s->dir = strdup(".");
	if (!s->dir) {
		s->yf.name = disp;
		snprintf(s->yf.err, sizeof(s->yf.err), "%s: out of memory", disp);
		return -1;
	}
	if (yfile_load_text(&s->yf, text, strlen(text), disp))
		return -1;
	return parse_document(s);
}

void scenario_free(struct scenario *s)
{
	for (size_t i = 0; i < s->nr_pmem; i++)
		free((char *)s->pmem[i].path);
	free(s->pmem);
	free(s->pmem_files);
	free(s->gpus);
	free(s->steps);
	free(s->ram);
	free(s->reserved);
	free(s->iomem_path);
	free(s->dir);
	yfile_free(&s->yf);
	memset(s, 0, sizeof(*s));
}
