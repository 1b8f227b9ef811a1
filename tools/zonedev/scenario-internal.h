/*
 * Private interface of the scenario schema (scenario*.c): the YAML value
 * getters, handles and step args every part of the schema shares, and the
 * entry point of each part. scenario.c loads the document and owns the
 * shared helpers; scenario-machine.c parses 'machine:'; scenario-steps.c
 * the step table and the RAM steps; scenario-expect.c the expect forms;
 * scenario-devsteps.c the ZONE_DEVICE steps and expect forms.
 * Invariants: every function records the first error at its node in
 * s->yf (FILE:LINE:COL: ...) and returns -1; the getters return 1 when the
 * key is present, 0 when it is absent (leaving *out untouched, so a caller
 * sets a default first) and -1 on error; a step's args[] are added in the
 * order its operands are parsed, which is the order the echo line shows.
 */
#ifndef ZONEDEV_SCENARIO_INTERNAL_H
#define ZONEDEV_SCENARIO_INTERNAL_H

#include "cli.h"

#define YF (&s->yf)

/* ---- scenario.c: value getters (1 present, 0 absent, -1 error) ---- */

int get_node(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, yaml_node_t **out);
int get_str(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	    const char *ctx, const char **out);
int get_size(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, uint64_t *out);
/* A plain number of at most max. */
int get_uint(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, uint64_t max, uint64_t *out);
int get_bool(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, bool *out);
/* An address: a number, or the name of a handle an earlier step defined. */
int get_addr(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, struct addr_arg *out);

/* ---- scenario.c: handles ---- */

/* A letter or '_', then letters, digits, '_' and '-'. */
bool is_identifier(const char *t);
/* The index of the handle called name, or -1. */
int find_handle(struct scenario *s, const char *name);
/* Define (or re-use) the handle key's value names, as st->handle (-1 when
 * key is absent) and the arg key=NAME. missing: NULL when key is optional,
 * else why the step needs it (the text of the missing-key error). */
int define_handle(struct scenario *s, struct step *st, yaml_node_t *map, const char *key,
		  enum handle_kind kind, const char *ctx, const char *missing);
/* key: NAME of the given kind, defined by an earlier definer step; its
 * index in *out and the arg key=NAME. 0 or -1. */
int use_handle(struct scenario *s, struct step *st, yaml_node_t *a, const char *key,
	       enum handle_kind kind, const char *definer, const char *ctx, int *out);

/* ---- scenario.c: step args (what the echo line shows) ---- */

void add_arg(struct step *st, const char *key, enum arg_type type, uint64_t u,
	     const char *str);
void add_addr_arg(struct scenario *s, struct step *st, const char *key,
		  const struct addr_arg *a);

/* ---- the parts: 0 or -1 ---- */

/* scenario-machine.c: the 'machine:' mapping. */
int parse_machine(struct scenario *s, yaml_node_t *m);
/* scenario-steps.c: one item of 'steps:'. */
int parse_step(struct scenario *s, yaml_node_t *item, struct step *st);
/* scenario-steps.c: node: N (optional); the arg also when dflt. */
int parse_node_arg(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx,
		   bool dflt);
/* scenario-expect.c: an expect step's mapping a. */
int parse_expect(struct scenario *s, struct step *st, yaml_node_t *a);
/* scenario-devsteps.c: the arguments of a ZONE_DEVICE step, and the expect
 * forms that look at device memory (which names the form's key). */
int parse_dev_step(struct scenario *s, struct step *st, yaml_node_t *a, const char *ctx);
int parse_dev_expect(struct scenario *s, struct step *st, yaml_node_t *a, const char *which,
		     const char *ctx);

#endif
