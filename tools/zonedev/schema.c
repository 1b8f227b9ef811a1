/*
 * The schema engine: reads one 'steps:' item against its table entry
 * (schema.h). An item is a mapping with one key, the step name, whose
 * value is the step's own mapping of arguments (a scalar for report and
 * note; nothing at all for a step without fields). Each field's value is
 * parsed by its type, with the type's error message at the value's
 * FILE:LINE:COL; defaults are parsed as if written, so a default and a
 * given value echo alike. `zonedev run --list-steps` is schema-list.c.
 * Invariants: keys are checked before any value, so an unknown key is
 * reported as such; expect_error and expect_warn come before the fields;
 * an arg is added when its field is parsed, in table order.
 */
#include "schema.h"
#include "scenario-internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define F_PTR(st, f, type) ((type *)((char *)(st) + (f)->off))

/* ---------- enums ---------- */

static const struct enum_name *enum_find(const struct enum_def *e, const char *name)
{
	for (const struct enum_name *n = e->names; n->name; n++)
		if (e->icase ? !strcasecmp(n->name, name) : !strcmp(n->name, name))
			return n;
	return NULL;
}

const char *names_list(const void *table, size_t stride, const char *last_sep, char *buf,
		       size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const char *e = table; *(const char *const *)e; e += stride)
		used = list_add(buf, len, used, *(const char *const *)(e + stride) ? ", " : last_sep,
				*(const char *const *)e);
	return buf;
}

const char *enum_names_list(const struct enum_def *e, char *buf, size_t len)
{
	return names_list(e->names, sizeof(*e->names), " or ", buf, len);
}

/* ---------- args ---------- */

void add_arg(struct step *st, const char *key, enum arg_type type, uint64_t u,
	     const char *str)
{
	if (st->nargs >= STEP_MAX_ARGS)
		return;
	st->args[st->nargs++] = (struct step_arg){ .key = key, .type = type, .u = u, .s = str };
}

void drop_arg(struct step *st, const char *key)
{
	for (int i = 0; i < st->nargs; i++) {
		if (strcmp(st->args[i].key, key))
			continue;
		memmove(&st->args[i], &st->args[i + 1],
			(size_t)(st->nargs - i - 1) * sizeof(st->args[0]));
		st->nargs--;
		return;
	}
}

yaml_node_t *field_node(struct scenario *s, yaml_node_t *map, const char *key)
{
	yaml_node_t *v = ymap_get(YF, map, key);

	return v ? v : map;
}

/* ---------- handles ---------- */

static const char *const handle_kind_names[] = {
	[H_REGION] = "a memory region", [H_PAGES] = "allocated pages",
	[H_GPU_PAGE] = "a GPU page", [H_PGMAP] = "a memremap pgmap",
	[H_MEMINFO] = "a meminfo snapshot", [H_MM] = "a process", [H_PIN] = "pinned pages",
	[H_GUP] = "referenced pages", [H_TASK] = "a background step",
};

static int handle_define(struct scenario *s, yaml_node_t *v, const char *name,
			 enum handle_kind kind)
{
	int i;

	if (!is_identifier(name))
		return yerr(YF, v, "handle name '%s' must start with a letter and hold only "
			    "letters, digits, '_' and '-'", name);
	i = find_handle(s, name);
	if (i >= 0 && s->handles[i].kind != kind)
		return yerr(YF, v, "handle '%s' already names %s", name,
			    handle_kind_names[s->handles[i].kind]);
	if (i >= 0)
		return i;
	if (s->nr_handles >= MAX_HANDLES)
		return yerr(YF, v, "too many handles (at most %d)", MAX_HANDLES);
	s->handles[s->nr_handles].name = name;
	s->handles[s->nr_handles].kind = kind;
	return s->nr_handles++;
}

/* ---------- pmem regions, dax devices, GPUs ---------- */

/* "region3" / "namespace3.0": the number, or -1. */
static long name_index(const char *text, const char *prefix, const char *suffix)
{
	size_t pl = strlen(prefix);
	const char *p = text + pl;
	char *end;
	unsigned long v;

	if (strncmp(text, prefix, pl) || !isdigit((unsigned char)*p))
		return -1;
	v = strtoul(p, &end, 10);
	if (strcmp(end, suffix) || v > 1000000)
		return -1;
	return (long)v;
}

static int region_index(struct scenario *s, yaml_node_t *v, const char *key, const char *text)
{
	bool reg = !strcmp(key, "region");
	long idx = reg ? name_index(text, "region", "") : name_index(text, "namespace", ".0");
	const char *sfx = reg ? "" : ".0";

	if (idx < 0)
		return yerr(YF, v, "bad %s name '%s' (%s)", key, text,
			    reg ? "regionN, e.g. region0" : "namespaceN.0, e.g. namespace0.0");
	if (!s->nr_pmem)
		return yerr(YF, v, "no %s '%s': the machine has no pmem regions (machine.pmem)",
			    key, text);
	if ((size_t)idx >= s->nr_pmem && s->nr_pmem == 1)
		return yerr(YF, v, "no %s '%s': the machine has 1 pmem region (%s0%s)", key, text,
			    key, sfx);
	if ((size_t)idx >= s->nr_pmem)
		return yerr(YF, v, "no %s '%s': the machine has %zu pmem regions (%s0%s to %s%zu%s)",
			    key, text, s->nr_pmem, key, sfx, key, s->nr_pmem - 1, sfx);
	return (int)idx;
}

static int dax_index(struct scenario *s, yaml_node_t *v, const char *text)
{
	long idx = name_index(text, "dax", ".0");

	if (idx < 0)
		return yerr(YF, v, "bad dax device name '%s' (daxN.0, e.g. dax0.0)", text);
	if ((size_t)idx >= s->nr_pmem)
		return yerr(YF, v, "no dax device '%s': the machine has %zu pmem region(s)", text,
			    s->nr_pmem);
	return (int)idx;
}

static int gpu_index(struct scenario *s, yaml_node_t *v, const char *text)
{
	for (size_t i = 0; i < s->nr_gpus; i++)
		if (!strcmp(s->gpus[i].name, text))
			return (int)i;
	if (!s->nr_gpus)
		return yerr(YF, v, "no gpu '%s': the machine has no gpus (machine.gpus)", text);
	return yerr(YF, v, "no gpu '%s' in machine.gpus", text);
}

/* ---------- one value ---------- */

/* A value of f's type from text (v: its node, for messages) into st; the
 * echo's number or string in *u / *sv. 0 or -1. */
static int parse_value(struct scenario *s, void *st, struct step *echo, const struct field *f,
		       const char *key, yaml_node_t *v, const char *text, uint64_t *u,
		       const char **sv)
{
	const char *why;
	int idx;

	*u = 0;
	*sv = NULL;
	switch (f->type) {
	case FT_ADDR: {
		struct addr_arg *a = F_PTR(st, f, struct addr_arg);

		a->handle = -1;
		a->value = 0;
		if (!parse_size(text, &a->value, &why)) {
			*u = a->value;
			return 0;
		}
		if (!is_identifier(text))
			return yerr(YF, v, "bad address '%s' for '%s': %s", text, key, why);
		a->handle = find_handle(s, text);
		if (a->handle < 0)
			return yerr(YF, v, "bad address '%s' for '%s': not a number, and no earlier "
				    "step defined a handle of that name (as: %s)", text, key, text);
		*sv = s->handles[a->handle].name;
		return 0;
	}
	case FT_SIZE:
		if (parse_size(text, u, &why))
			return yerr(YF, v, "bad size '%s' for '%s': %s", text, key, why);
		break;
	case FT_UINT:
		if (parse_uint(text, u, &why))
			return yerr(YF, v, "bad number '%s' for '%s': %s", text, key, why);
		if (f->max && *u > f->max)
			return yerr(YF, v, "'%s' is %s, the largest allowed is %llu", key, text,
				    (unsigned long long)f->max);
		break;
	case FT_KB:
		if (parse_kb(text, u, &why))
			return yerr(YF, v, "bad meminfo value '%s' for '%s': %s", text, key, why);
		break;
	case FT_BOOL: {
		bool b;

		if (parse_bool(text, &b))
			return yerr(YF, v, "'%s' must be true or false, not '%s'", key, text);
		*F_PTR(st, f, bool) = b;
		*u = b;
		return 0;
	}
	case FT_STR:
		*F_PTR(st, f, const char *) = *sv = text;
		return 0;
	case FT_DATA:
		*F_PTR(st, f, struct bytes_arg) = (struct bytes_arg){ text, strlen(text) };
		*sv = text;
		return 0;
	case FT_ENUM: {
		const struct enum_name *n = enum_find(f->enums, text);
		char list[256];

		if (!n)
			return yerr(YF, v, "unknown %s '%s' (%s)", f->enums->what, text,
				    f->enums->hint ? f->enums->hint :
				    enum_names_list(f->enums, list, sizeof(list)));
		*F_PTR(st, f, int) = n->value;
		*u = (uint64_t)(int64_t)n->value;
		*sv = n->show ? n->show : n->name;
		return 0;
	}
	case FT_FLAGS: {
		char name[64], list[256];
		const char *p = text;

		/* "read|write": every name one of the table's, the values OR'd */
		for (;;) {
			size_t n = strcspn(p, "|");
			const struct enum_name *e;

			snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), p);
			e = n < 63 ? enum_find(f->enums, name) : NULL;
			if (!e)
				return yerr(YF, v, "unknown %s '%s' in '%s' (%s, joined by '|')",
					    f->enums->what, name, text,
					    enum_names_list(f->enums, list, sizeof(list)));
			*u |= (uint64_t)(unsigned)e->value;
			if (!p[n])
				break;
			p += n + 1;
		}
		*F_PTR(st, f, uint64_t) = *u;
		*sv = text;
		return 0;
	}
	case FT_REGION:
	case FT_DAX:
	case FT_GPU:
		idx = f->type == FT_REGION ? region_index(s, v, key, text) :
		      f->type == FT_DAX ? dax_index(s, v, text) : gpu_index(s, v, text);
		if (idx < 0)
			return -1;
		*F_PTR(st, f, int) = idx;
		*sv = text;
		if (echo)
			echo->dev_name = text;
		return 0;
	case FT_UUID:
		if (zd_nd_uuid_parse(text, F_PTR(st, f, uint8_t)))
			return yerr(YF, v, "bad uuid '%s' (e.g. ec094fe8-1049-456b-884d-fe695d359ed0)",
				    text);
		*sv = text;
		return 0;
	case FT_HANDLE_DEF:
		idx = handle_define(s, v, text, f->handle->kind);
		if (idx < 0)
			return -1;
		*F_PTR(st, f, int) = idx;
		*sv = text;
		return 0;
	case FT_HANDLE_USE:
	case FT_HANDLE_ANY:
		idx = find_handle(s, text);
		if (f->type == FT_HANDLE_ANY && idx < 0)
			return yerr(YF, v, "no earlier step defined a handle named '%s'", text);
		if (f->type == FT_HANDLE_USE && (idx < 0 || s->handles[idx].kind != f->handle->kind))
			return yerr(YF, v, "no earlier %s step defined a handle named '%s'",
				    f->handle->definer, text);
		*F_PTR(st, f, int) = idx;
		*sv = text;
		return 0;
	case FT_NODE:
		if (parse_uint(text, u, &why))
			return yerr(YF, v, "bad number '%s' for '%s': %s", text, key, why);
		if (*u >= (uint64_t)s->nodes)
			return yerr(YF, v, "node %llu, but the machine has %llu node(s) (set "
				    "machine.nodes)", (unsigned long long)*u,
				    (unsigned long long)s->nodes);
		*F_PTR(st, f, int) = (int)*u;
		return 0;
	case FT_CUSTOM:
		return -1;   /* parsed from its node, in parse_field() */
	}
	*F_PTR(st, f, uint64_t) = *u;
	return 0;
}

static enum arg_type arg_type_of(const struct field *f)
{
	if (f->show != ARG_AUTO)
		return f->show;
	switch (f->type) {
	case FT_ADDR: return ARG_ADDR;
	case FT_SIZE: return ARG_SIZE;
	case FT_UINT: return ARG_UINT;
	case FT_KB: return ARG_KB;
	case FT_BOOL: return ARG_BOOL;
	default: return ARG_STR;
	}
}

/* The echo value of f's default (for FL_ECHO_CHANGED). */
static uint64_t default_echo(struct scenario *s, const struct field *f)
{
	struct step scratch;
	uint64_t u = 0;
	const char *sv;

	memset(&scratch, 0, sizeof(scratch));
	if (f->dflt)
		parse_value(s, &scratch, NULL, f, f->key, yroot(YF), f->dflt, &u, &sv);
	return u;
}

/* The field's "was given" flag (HAS(member)), if it has one. */
static void set_has(void *st, const struct field *f)
{
	if (f->has)
		*(bool *)((char *)st + f->has - 1) = true;
}

/* One field of map (the key or its alt), its default when absent. */
static int parse_field(struct scenario *s, void *st, struct step *echo, const struct field *f,
		       yaml_node_t *map, const char *ctx)
{
	yaml_node_t *v = ymap_get(YF, map, f->key);
	yaml_node_t *va = f->alt ? ymap_get(YF, map, f->alt) : NULL;
	const char *key = v ? f->key : f->alt, *text = NULL, *sv;
	bool given, shown;
	uint64_t u;
	char what[64];

	if (v && va)
		return yerr(YF, va, "%s: give '%s' or '%s', not both", ctx, f->key, f->alt);
	if (!v) {
		v = va;
		if (!v)
			key = f->key;
	}
	given = v != NULL;
	if (!given) {
		if (f->flags & FL_REQ) {
			if (f->type == FT_HANDLE_DEF && f->handle->why)
				return yerr(YF, map, "%s: missing key '%s' (%s)", ctx, key,
					    f->handle->why);
			if (f->alt)
				return yerr(YF, map, "%s: missing key '%s' (or '%s')", ctx, key,
					    f->alt);
			return yerr(YF, map, "%s: missing key '%s'", ctx, key);
		}
		if (!f->dflt)
			return 0;
		text = f->dflt;
		v = map;
	} else if (f->type == FT_CUSTOM) {
		set_has(st, f);
		return f->parse(s, st, f, v);
	} else {
		snprintf(what, sizeof(what), "'%s'", key);
		text = yscalar(YF, v, what);
		if (!text)
			return -1;
	}
	if (parse_value(s, st, echo, f, key, v, text, &u, &sv))
		return -1;
	if (given && (f->flags & FL_NONZERO) && !u)
		return yerr(YF, v, "%s must not be 0", key);
	if (given && f->check && f->check(s, st, f, v, ctx))
		return -1;
	if (given)
		set_has(st, f);
	if (!echo || (f->flags & FL_NO_ECHO))
		shown = false;
	else if (f->flags & FL_ECHO_CHANGED)
		shown = given && u != default_echo(s, f);
	else
		shown = given || (f->flags & FL_ECHO_ALWAYS);
	if (shown)
		add_arg(echo, key, arg_type_of(f), u, sv);
	return 0;
}

/* ---------- keys ---------- */

bool fields_have_key(const struct field *fields, const char *key)
{
	for (const struct field *f = fields; f && f->key; f++)
		if (!strcmp(f->key, key) || (f->alt && !strcmp(f->alt, key)))
			return true;
	return false;
}

/* Every key of map is a field's (of fields or extra), once. */
static int check_keys(struct scenario *s, yaml_node_t *map, const struct field *fields,
		      const struct field *extra, const char *ctx)
{
	const char *keys[64];
	char list[512] = "";
	size_t n = 0, used = 0;

	for (int i = 0; i < 2; i++) {
		for (const struct field *f = i ? extra : fields; f && f->key && n < 62; f++) {
			keys[n++] = f->key;
			used = list_add(list, sizeof(list), used, ", ", f->key);
			if (f->alt) {
				keys[n++] = f->alt;
				used = list_add(list, sizeof(list), used, ", ", f->alt);
			}
		}
	}
	keys[n] = NULL;
	return ymap_check(YF, map, keys, ctx, list);
}

int schema_parse(struct scenario *s, void *obj, struct step *echo, const struct field *fields,
		 yaml_node_t *map, const char *ctx)
{
	if (check_keys(s, map, fields, NULL, ctx))
		return -1;
	for (const struct field *f = fields; f && f->key; f++)
		if (parse_field(s, obj, echo, f, map, ctx))
			return -1;
	return 0;
}

/* ---------- expect_error, expect_warn ---------- */

/* expect_error: ERRNO (EBUSY or -EBUSY) — the step must fail with it. */
static int parse_errno(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v)
{
	struct step *st = obj;
	const char *name = yscalar(YF, v, "'expect_error'");
	int e;

	if (!name)
		return -1;
	e = zd_errno_from_name(name[0] == '-' ? name + 1 : name);
	if (!e)
		return yerr(YF, v, "unknown errno name '%s' for 'expect_error' (e.g. EBUSY, EINVAL, "
			    "EEXIST, ENOMEM, E2BIG, ERANGE)", name);
	st->expect_error = e;
	st->expect_error_name = zd_errno_name(e);
	return 0;
}

/* What every step that may fail takes besides its own fields; the runner
 * echoes them itself. expect_warn: N, the step fires exactly N invariant
 * checks (the kernel WARNs on some caller errors, e.g. an invalid pgmap). */
static const struct field may_fail_fields[] = {
	{ .key = "expect_error", .type = FT_CUSTOM, .parse = parse_errno,
	  .type_doc = "errno name" },
	{ .key = "expect_warn", .type = FT_UINT, .off = AT(expect_warn), .max = 1000,
	  .has = HAS(has_expect_warn), .flags = FL_NO_ECHO },
	{ 0 },
};

const struct field *extra_fields(const struct step_def *d)
{
	return d->flags & SD_MAY_FAIL ? may_fail_fields : NULL;
}

/* ---------- one item of steps: ---------- */

static const struct step_def *step_def_find(const char *name)
{
	for (const struct step_def *d = step_defs; d->name; d++)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

bool no_fields(const struct step_def *d)
{
	return !(d->flags & SD_EXPECT) && (!d->fields || !d->fields[0].key);
}

static void step_init(struct step *st)
{
	memset(st, 0, sizeof(*st));
	st->handle = -1;
	st->start.handle = -1;
	st->region = -1;
	st->gpu = -1;
	st->block_zone = -1;
	st->since = -1;
	st->process = -1;
	st->new_addr.handle = -1;
}

int parse_step(struct scenario *s, yaml_node_t *item, struct step *st)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k, *a;
	const struct step_def *def;
	const char *name;
	char ctx[96], list[1024];

	step_init(st);
	if (item->type == YAML_SCALAR_NODE) {
		/* "- list_namespaces": a step without arguments may be just its name. */
		def = step_def_find((const char *)item->data.scalar.value);
		if (def && no_fields(def) && !(def->flags & SD_SCALAR)) {
			st->def = def;
			st->name = def->name;
			st->line = yline(item);
			st->col = ycol(item);
			return 0;
		}
	}
	if (item->type != YAML_MAPPING_NODE)
		return yerr(YF, item, "a step is a mapping with one key, the step name (e.g. "
			    "'- add_memory: {start: 4G, size: 1G}'), not %s", ykind(item));
	pair = item->data.mapping.pairs.start;
	if (pair == item->data.mapping.pairs.top)
		return yerr(YF, item, "empty step");
	k = ynode(YF, pair->key);
	if (k->type != YAML_SCALAR_NODE)
		return yerr(YF, k, "a step name must be a plain name, not %s", ykind(k));
	name = (const char *)k->data.scalar.value;
	def = step_def_find(name);
	if (!def)
		return yerr(YF, k, "unknown key '%s' in steps (expected a step name: %s)", name,
			    names_list(step_defs, sizeof(*step_defs), ", ", list, sizeof(list)));
	if (pair + 1 < item->data.mapping.pairs.top) {
		yaml_node_t *k2 = ynode(YF, pair[1].key);

		return yerr(YF, k2, "unknown key '%s' in step '%s': a step has exactly one key; "
			    "its arguments (and expect_error) go in the step's own mapping",
			    ykey(k2) ? ykey(k2) : "?", name);
	}
	st->def = def;
	st->name = def->name;
	st->line = yline(k);
	st->col = ycol(k);
	a = ynode(YF, pair->value);
	snprintf(ctx, sizeof(ctx), "step '%s'", def->name);

	if ((def->flags & SD_SCALAR) && (a->type != YAML_MAPPING_NODE || !def->fields[1].key)) {
		/* report: iomem / note: text — the one field's value, no mapping */
		const struct field *f = &def->fields[0];
		const char *text = yscalar(YF, a, ctx), *sv;
		uint64_t u;

		if (!text || parse_value(s, st, st, f, f->key, a, text, &u, &sv))
			return -1;
		if (!(f->flags & FL_NO_ECHO))
			add_arg(st, f->key, arg_type_of(f), u, sv);
		return def->finish ? def->finish(s, st, a) : 0;
	}
	if (no_fields(def) && a->type == YAML_SCALAR_NODE && !a->data.scalar.length &&
	    a->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		return 0;   /* "- list_namespaces:" */
	if (a->type != YAML_MAPPING_NODE)
		return yerr(YF, a, "step '%s' takes a mapping of arguments, not %s", def->name,
			    ykind(a));
	if (def->flags & SD_EXPECT)
		return parse_expect(s, st, a);
	if (check_keys(s, a, def->fields, extra_fields(def), ctx))
		return -1;
	for (int i = 0; i < 2; i++)
		for (const struct field *f = i ? def->fields : extra_fields(def); f && f->key; f++)
			if (parse_field(s, st, st, f, a, ctx))
				return -1;
	return def->finish ? def->finish(s, st, a) : 0;
}
