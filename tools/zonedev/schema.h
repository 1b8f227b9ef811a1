/*
 * The scenario step schema: one table entry per step (schema-steps.c) and
 * one per expect form (schema-expect.c), each a list of fields {key, type,
 * where the value goes in struct step, required or default, how it is
 * echoed}. schema.c reads a 'steps:' item against these tables: the keys a
 * step may take, every value's parsing and its error message, the default,
 * the echoed "key=value" args (and so the JSON "args"), and `zonedev run
 * --list-steps`. A step then costs a table entry and an exec function.
 * Invariants: a field's offset points at a member of the type its field
 * type writes (see enum field_type); fields are parsed, and their args
 * added, in table order, which is the order the echo line shows; a finish
 * hook runs after every field is parsed and only checks what involves more
 * than one field (or the machine section).
 */
#ifndef ZONEDEV_SCHEMA_H
#define ZONEDEV_SCHEMA_H

#include "cli.h"

#include <stddef.h>

/* What a field's value is, and the member of struct step it is stored in. */
enum field_type {
	FT_ADDR,         /* struct addr_arg: a number, or an earlier handle's name */
	FT_SIZE,         /* uint64_t: a size, suffixes allowed */
	FT_UINT,         /* uint64_t: a plain number, at most .max */
	FT_KB,           /* uint64_t: a meminfo quantity in kB */
	FT_BOOL,         /* bool */
	FT_STR,          /* const char * */
	FT_DATA,         /* struct bytes_arg: text to write or compare */
	FT_ENUM,         /* int: one of .enums */
	FT_FLAGS,        /* uint64_t: names of .enums joined by '|', OR'd */
	FT_REGION,       /* int: regionN (key region) or namespaceN.0 (key namespace) */
	FT_DAX,          /* int: daxN.0, the region's index */
	FT_GPU,          /* int: a machine.gpus name, its index */
	FT_UUID,         /* uint8_t[16] */
	FT_HANDLE_DEF,   /* int: the handle this step defines (as:) */
	FT_HANDLE_USE,   /* int: a handle of .handle's kind an earlier step defined */
	FT_HANDLE_ANY,   /* int: a handle of any kind */
	FT_NODE,         /* int: a NUMA node below machine.nodes */
	FT_CUSTOM,       /* .parse stores it and adds its args */
};

/* Field flags. Without an echo flag a field shows when it is given. */
#define FL_REQ          0x01  /* missing: an error */
#define FL_ECHO_ALWAYS  0x02  /* shown with its default when not given */
#define FL_ECHO_CHANGED 0x04  /* shown only when its value is not the default */
#define FL_NO_ECHO      0x08  /* never shown */
#define FL_NONZERO      0x10  /* 0 is refused */
#define FL_AUX          0x20  /* qualifies the check; not one of "what to check" */

struct enum_name {
	const char *name;
	int value;
	const char *show;          /* what the echo shows (an alias's real name); NULL: name */
};

struct enum_def {
	const char *what;          /* "unknown WHAT 'x' (...)" */
	const struct enum_name *names;   /* ends with a NULL name */
	bool icase;                /* names match in any case */
	const char *hint;          /* the text in parentheses; NULL: the names */
};

struct handle_spec {
	enum handle_kind kind;
	const char *definer;       /* HANDLE_USE: the step that defines such handles */
	const char *why;           /* HANDLE_DEF with FL_REQ: why the step needs it */
};

struct field;
/* obj is what the table's offsets are relative to: a struct step for the
 * steps' tables, the scenario or a list entry for the machine's. */
typedef int (*field_parse_fn)(struct scenario *s, void *obj, const struct field *f,
			      yaml_node_t *v);
/* A given value's checks beyond its type, after it is stored in obj. */
typedef int (*field_check_fn)(struct scenario *s, void *obj, const struct field *f,
			      yaml_node_t *v, const char *ctx);

struct field {
	const char *key;
	const char *alt;           /* FT_REGION: the other key that may name the target */
	enum field_type type;
	size_t off;                /* offsetof(struct step, ...) */
	size_t has;                /* HAS(member): a bool set when the key is given; 0 none */
	unsigned flags;
	enum arg_type show;        /* the echo's form; ARG_AUTO: the type's own */
	const char *dflt;          /* the value when not given, as it would be written */
	uint64_t max;              /* FT_UINT: the largest allowed; 0: no limit */
	const struct enum_def *enums;       /* FT_ENUM */
	const struct handle_spec *handle;   /* FT_HANDLE_DEF, FT_HANDLE_USE */
	field_parse_fn parse;      /* FT_CUSTOM */
	field_check_fn check;      /* NULL: the type's own checks only */
	const char *type_doc;      /* its type as --list-steps shows it; NULL: the type's */
};

#define AT(member) offsetof(struct step, member)
#define HAS(member) (offsetof(struct step, member) + 1)
#define AT_OF(type, member) offsetof(type, member)
/* A field of a type's member: its key, type and member, then its other
 * initialisers (.flags, .dflt, ...); F for struct step. */
#define F_OF(obj, k, t, m, ...) \
	{ .key = (k), .type = (t), .off = offsetof(obj, m), __VA_ARGS__ }
#define F(k, t, m, ...) F_OF(struct step, k, t, m, __VA_ARGS__)

typedef void step_fn(struct run *r, const struct step *st, struct step_result *res);
/* Cross-field checks after every field is parsed; map is the step's mapping. */
typedef int finish_fn(struct scenario *s, struct step *st, yaml_node_t *map);

/* Step flags. */
#define SD_MAY_FAIL 0x01    /* takes expect_error and expect_warn */
#define SD_SCALAR   0x02    /* its value is a scalar: the one field's value */
#define SD_BARE     0x04    /* the echo shows values without keys */
#define SD_COMMENT  0x08    /* echoed as '# text' lines, not as a step */
#define SD_EXPECT   0x10    /* no fields of its own: one of the expect forms */

struct expect_def {
	const char *name;          /* the selector: the form's first field */
	const struct field *fields;    /* ends with a NULL key */
	bool need_one;             /* at least one optional, non-FL_AUX field */
	finish_fn *finish;
	step_fn *eval;
};

struct step_def {
	const char *name;
	const struct field *fields;    /* ends with a NULL key; NULL: none */
	unsigned flags;
	finish_fn *finish;
	step_fn *exec;
	const char *doc;           /* one line for --list-steps */
};

/* schema-steps.c: the steps, ending with a NULL name. */
extern const struct step_def step_defs[];
/* schema-expect.c: the expect forms, ending with a NULL name. */
extern const struct expect_def expect_defs[];

/* schema-steps.c: names the expect forms share with the steps. */
extern const struct enum_def ns_modes, ns_maps, dax_modes, memory_types;
extern const struct handle_spec use_gpu_page, use_mm;

/* schema.c: true if a field of fields takes key (or has it as its alt). */
bool fields_have_key(const struct field *fields, const char *key);
/* schema.c: the fields of map into obj (the keys checked first), which
 * the fields' offsets fit: a struct step, echoed into echo, or the
 * scenario or a machine list entry (echo NULL). ctx names the step or
 * section in messages ("step 'add_memory'"). 0 or -1. */
int schema_parse(struct scenario *s, void *obj, struct step *echo, const struct field *fields,
		 yaml_node_t *map, const char *ctx);
/* scenario-machine.c: the machine section's tables (--list-steps shows
 * them); a list is machine.KEY, each entry parsed by fields into an array
 * of elem_size elements that struct scenario holds. */
struct machine_list {
	const char *key;
	const struct field *fields;
	enum zd_desc_list list;    /* whose entry positions (for boot errors) */
	const char *shape, *entry_shape;
	size_t elem_size, array_off, nr_off;
	int (*finish)(struct scenario *s, void *elem, yaml_node_t *e, const char *ctx);
};
extern const struct field machine_fields[];
extern const struct machine_list machine_lists[];
/* "a, b, c" (last_sep before the last one: " or " for "a, b or c") of the
 * names of a table whose entries start with their name and end with a NULL
 * one; buf holds it. */
const char *names_list(const void *table, size_t stride, const char *last_sep, char *buf,
		       size_t len);
/* "a, b or c": the names of an enum. */
const char *enum_names_list(const struct enum_def *e, char *buf, size_t len);
/* An arg for the echo (a custom field's parser adds its own). */
void add_arg(struct step *st, const char *key, enum arg_type type, uint64_t u,
	     const char *str);
/* Drop an arg from the echo (a finish hook's decision). */
void drop_arg(struct step *st, const char *key);
/* The value node of key in map, for a finish hook's messages. */
yaml_node_t *field_node(struct scenario *s, yaml_node_t *map, const char *key);

/* schema.c: what every step that may fail takes besides its fields
 * (expect_error, expect_warn), NULL for the others; whether a step takes
 * no arguments at all. */
const struct field *extra_fields(const struct step_def *d);
bool no_fields(const struct step_def *d);

/* schema-expect.c: the mapping of an SD_EXPECT step. */
int parse_expect(struct scenario *s, struct step *st, yaml_node_t *map);

#endif
