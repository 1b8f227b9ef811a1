/*
 * Private interface of the scenario loader (scenario*.c, schema*.c): the
 * YAML value getters and handle names the parts share, and the entry point
 * of each part. scenario.c loads the document and owns the shared helpers;
 * scenario-machine.c parses 'machine:'; schema.c each item of 'steps:'
 * against the tables in schema-steps.c and schema-expect.c.
 * Invariants: every function records the first error at its node in
 * s->yf (FILE:LINE:COL: ...) and returns -1; the getters return 1 when the
 * key is present, 0 when it is absent (leaving *out untouched, so a caller
 * sets a default first) and -1 on error.
 */
#ifndef ZONEDEV_SCENARIO_INTERNAL_H
#define ZONEDEV_SCENARIO_INTERNAL_H

#include "cli.h"

#define YF (&s->yf)

/* ---- scenario.c: value getters (1 present, 0 absent, -1 error) ---- */

int get_str(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	    const char *ctx, const char **out);
int get_size(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, uint64_t *out);
/* A plain number of at most max. */
int get_uint(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, uint64_t max, uint64_t *out);
int get_bool(struct scenario *s, yaml_node_t *map, const char *key, bool required,
	     const char *ctx, bool *out);

/* ---- scenario.c: handles ---- */

/* A letter or '_', then letters, digits, '_' and '-'. */
bool is_identifier(const char *t);
/* The index of the handle called name, or -1. */
int find_handle(struct scenario *s, const char *name);

/* ---- the parts: 0 or -1 ---- */

/* scenario-machine.c: the 'machine:' mapping. */
int parse_machine(struct scenario *s, yaml_node_t *m);
/* schema.c: one item of 'steps:'. */
int parse_step(struct scenario *s, yaml_node_t *item, struct step *st);

#endif
