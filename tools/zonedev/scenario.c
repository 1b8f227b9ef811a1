/*
 * The scenario schema: turns a loaded YAML document into a machine section
 * (arch, RAM, firmware ranges or an iomem file to import) and a list of
 * typed steps. Everything a run needs is checked here, before any machine
 * exists: unknown keys, bad sizes, unknown errno names, handles used before
 * a step defines them. Each error names FILE:LINE:COL of the offending node.
 * This file loads the document, checks its top-level keys and holds what
 * the parts share (scenario-internal.h): the handle names; 'machine:' is scenario-machine.c, each step schema*.c (both
 * table-driven by the schema engine).
 * Invariants: a parsed step is fully typed (the runner never looks at YAML);
 * step args[] list the operands in a fixed order, which is what the echo
 * line and the JSON "args" show; handle indexes are stable for the run.
 */
#include "scenario-internal.h"

#include <ctype.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

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

int find_handle(struct scenario *s, const char *name)
{
	for (int i = 0; i < s->nr_handles; i++)
		if (!strcmp(s->handles[i].name, name))
			return i;
	return -1;
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
	if (ymap_check(YF, root, keys, "scenario", NULL))
		return -1;
	v = ymap_get(YF, root, "description");
	if (v && !(s->description = yscalar(YF, v, "'description'")))
		return -1;
	v = ymap_get(YF, root, "machine");
	if (!v)
		return yerr(YF, root, "scenario: missing key 'machine' (use 'machine: {}' for "
			    "the default x86_64 machine)");
	if (parse_machine(s, v))
		return -1;
	v = ymap_get(YF, root, "steps");
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

int scenario_keep(struct scenario *s, char *str)
{
	char **k = realloc(s->kept, (s->nr_kept + 1) * sizeof(*k));

	if (!k) {
		free(str);
		return yerr(YF, NULL, "out of memory");
	}
	s->kept = k;
	s->kept[s->nr_kept++] = str;
	return 0;
}

void scenario_free(struct scenario *s)
{
	/* every entry parse_list() allocated, also one that failed a check */
	for (size_t i = 0; s->pmem && i < s->nr_entry_pos[ZD_DESC_PMEM]; i++)
		free((char *)s->pmem[i].path);
	free(s->pmem);
	free(s->pmem_files);
	free(s->gpus);
	free(s->steps);
	free(s->ram);
	free(s->reserved);
	free(s->pci);
	free(s->iomem_path);
	for (size_t i = 0; i < s->nr_kept; i++)
		free(s->kept[i]);
	free(s->kept);
	for (int l = 0; l <= ZD_DESC_GPU; l++)
		free(s->entry_pos[l]);
	free(s->dir);
	yfile_free(&s->yf);
	memset(s, 0, sizeof(*s));
}
