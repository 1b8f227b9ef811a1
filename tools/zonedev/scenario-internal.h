/*
 * Private interface of the scenario loader (scenario*.c, schema*.c): the
 * handle names the parts share, and the entry point
 * of each part. scenario.c loads the document and owns the shared helpers;
 * scenario-machine.c parses 'machine:'; schema.c each item of 'steps:'
 * against the tables in schema-steps.c and schema-expect.c.
 * Invariants: every function records the first error at its node in
 * s->yf (FILE:LINE:COL: ...) and returns -1.
 */
#ifndef ZONEDEV_SCENARIO_INTERNAL_H
#define ZONEDEV_SCENARIO_INTERNAL_H

#include "cli.h"

#define YF (&s->yf)

/* ---- scenario.c: handles ---- */

/* A letter or '_', then letters, digits, '_' and '-'. */
bool is_identifier(const char *t);
/* The index of the handle called name, or -1. */
int find_handle(struct scenario *s, const char *name);

/* ---- the parts: 0 or -1 ---- */

/* scenario-machine.c: the 'machine:' mapping. */
int parse_machine(struct scenario *s, yaml_node_t *m);
struct field;
/* scenario.c: str (malloc'd) lives as long as the scenario; -1 (str
 * freed) when out of memory. */
int scenario_keep(struct scenario *s, char *str);
/* scenario-machine.c: path as is when absolute, else relative to the
 * scenario's directory; malloc'd, NULL when out of memory. */
char *resolve_path(struct scenario *s, const char *path);
/* machine.pci (devsteps-pci.c): the FT_CUSTOM parser. */
int parse_pci(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v);
/* devsteps-pci.c: a new declaration (the next in depth-first order). */
int pci_decl_add(struct scenario *s, yaml_node_t *n, enum pci_decl_kind kind, int parent,
		 struct pci_decl **out);
/* lspci.c: the host declaration host's domain (domain, or the listing's
 * first when -1) from `lspci -nn -vvv` text at path, appended as the
 * declarations under host. at is the node errors point to. */
int lspci_import(struct scenario *s, yaml_node_t *at, const char *path, int domain, int host);
/* schema.c: one item of 'steps:'. */
int parse_step(struct scenario *s, yaml_node_t *item, struct step *st);

#endif
