/*
 * `zonedev run --list-steps`: the schema tables printed, as text or one
 * JSON document: every step with its keys (and the keys every step that
 * may fail takes), every expect form, then the machine section's keys and
 * each of its lists' entry keys. Generated from the same tables the parser
 * reads, so it cannot drift from what a scenario may say.
 * Invariant: a key's type is written as its field type parses it (the
 * choices of an enum, the limit of a number), or as its type_doc says.
 */
#include "schema.h"

#include <string.h>

static const char *type_doc(const struct field *f, char *buf, size_t len)
{
	static const char *const names[] = {
		[FT_ADDR] = "address", [FT_SIZE] = "size", [FT_UINT] = "number",
		[FT_KB] = "kB", [FT_BOOL] = "bool", [FT_STR] = "string", [FT_DATA] = "text",
		[FT_REGION] = "regionN", [FT_DAX] = "daxN.0", [FT_GPU] = "gpu name",
		[FT_UUID] = "uuid", [FT_HANDLE_DEF] = "handle name (defines it)",
		[FT_HANDLE_ANY] = "handle", [FT_NODE] = "node number",
	};
	char list[256];

	if (f->type_doc)
		snprintf(buf, len, "%s", f->type_doc);
	else if (f->type == FT_ENUM)
		snprintf(buf, len, "%s", enum_names_list(f->enums, list, sizeof(list)));
	else if (f->type == FT_FLAGS)
		snprintf(buf, len, "%s, joined by '|'", enum_names_list(f->enums, list,
									 sizeof(list)));
	else if (f->type == FT_REGION && !strcmp(f->key, "namespace"))
		snprintf(buf, len, "namespaceN.0");
	else if (f->type == FT_REGION)
		snprintf(buf, len, "regionN (namespace: namespaceN.0)");
	else if (f->type == FT_HANDLE_USE)
		snprintf(buf, len, "handle from %s", f->handle->definer);
	else if (f->type == FT_UINT && f->max)
		snprintf(buf, len, "number, at most %llu", (unsigned long long)f->max);
	else
		snprintf(buf, len, "%s", names[f->type]);
	return buf;
}

/* One field, as a text line (w NULL) or a JSON object. */
static void list_field(FILE *f, struct jw *w, const struct field *x)
{
	char type[300], key[64];

	type_doc(x, type, sizeof(type));
	if (!w) {
		snprintf(key, sizeof(key), "%s%s%s", x->key, x->alt ? "|" : "", x->alt ? x->alt : "");
		fprintf(f, "    %-22s %s%s%s\n", key, type, x->flags & FL_REQ ? "; required" :
			x->dflt ? "; default " : "", x->flags & FL_REQ || !x->dflt ? "" : x->dflt);
		return;
	}
	jw_obj_begin(w);
	jw_kstr(w, "key", x->key);
	if (x->alt)
		jw_kstr(w, "or", x->alt);
	jw_kstr(w, "type", type);
	jw_kbool(w, "required", x->flags & FL_REQ);
	if (x->dflt)
		jw_kstr(w, "default", x->dflt);
	if (x->type == FT_ENUM) {
		jw_key(w, "choices");
		jw_arr_begin(w);
		for (const struct enum_name *n = x->enums->names; n->name; n++)
			jw_str(w, n->name);
		jw_arr_end(w);
	}
	jw_obj_end(w);
}

/* The fields, then extra: text lines, or a JSON "keys" array. */
static void list_fields(FILE *f, struct jw *w, const struct field *fields,
			const struct field *extra)
{
	jw_key(w, "keys");
	jw_arr_begin(w);
	for (int i = 0; i < 2; i++)
		for (const struct field *x = i ? extra : fields; x && x->key; x++)
			list_field(f, w, x);
	jw_arr_end(w);
}

static bool named(const char *name, char **names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

bool step_name_known(const char *name)
{
	for (const struct step_def *d = step_defs; d->name; d++)
		if (!strcmp(d->name, name))
			return true;
	return false;
}

/* One walk over the tables writes either form: text lines on f, or (json)
 * one document whose writer is NULL for text. With names (n > 0) only
 * those steps, and the expect forms when "expect" is one of them: what
 * `zonedev run --list-steps STEP` shows of one step. */
void list_steps(FILE *f, bool json, char **names, int n)
{
	struct jw jw, *w = json ? &jw : NULL;
	bool forms = !n || named("expect", names, n);

	if (w)
		jw_init(w, f);
	jw_obj_begin(w);
	jw_key(w, "steps");
	jw_arr_begin(w);
	for (const struct step_def *d = step_defs; d->name; d++) {
		if (n && !named(d->name, names, n))
			continue;
		if (!w)
			fprintf(f, "%s%s: %s\n%s", d->name, d->flags & SD_SCALAR ? " VALUE" : "", d->doc,
				d->flags & SD_EXPECT ? "    (one of the expect forms below)\n" : "");
		jw_obj_begin(w);
		jw_kstr(w, "name", d->name);
		jw_kstr(w, "doc", d->doc);
		jw_kstr(w, "value", d->flags & SD_SCALAR ? "scalar" :
			d->flags & SD_EXPECT ? "expect form" : no_fields(d) ? "none" : "mapping");
		jw_kbool(w, "may_fail", d->flags & SD_MAY_FAIL);
		list_fields(f, w, d->fields, extra_fields(d));
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (!forms)
		goto out;
	if (!w)
		fputs("\nExpect forms (the first key says which one):\n", f);
	jw_key(w, "expect_forms");
	jw_arr_begin(w);
	for (const struct expect_def *e = expect_defs; e->name; e++) {
		if (!w)
			fprintf(f, "expect %s%s\n", e->name, e->need_one ?
				" (and at least one of the optional checks)" : "");
		jw_obj_begin(w);
		jw_kstr(w, "name", e->name);
		jw_kbool(w, "needs_a_check", e->need_one);
		list_fields(f, w, e->fields, NULL);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (n)
		goto out;
	if (!w)
		fputs("\nThe machine section (machine:):\n", f);
	jw_key(w, "machine");
	jw_obj_begin(w);
	list_fields(f, w, machine_fields, NULL);
	jw_key(w, "lists");
	jw_arr_begin(w);
	for (const struct machine_list *l = machine_lists; l->key; l++) {
		if (!w)
			fprintf(f, "machine.%s: each entry\n", l->key);
		jw_obj_begin(w);
		jw_kstr(w, "name", l->key);
		list_fields(f, w, l->fields, NULL);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
out:
	jw_obj_end(w);
	jw_finish(w);
}
