/*
 * Between the two halves of `zonedev infoblock`: infoblock.c parses the
 * options, opens and reads FILE and runs the rules; infoblock-show.c turns
 * the result into text or one JSON document. Nothing here holds the file
 * open past the read: the state is plain data once the rules have run.
 */
#ifndef ZONEDEV_INFOBLOCK_H
#define ZONEDEV_INFOBLOCK_H

#include "cli.h"

#include <zonedev/nd_pfn.h>

/* What the command line said; have_* tells given from default. */
struct ib_opts {
	const char *file;
	bool json;
	bool have_offset, have_start, have_size, have_parent, have_claim;
	bool have_uuid, have_align, have_map;
	uint64_t offset, start, size, align;
	uint8_t parent[16], uuid[16];
	enum zd_nd_pfn_kind claim;
	enum zd_nd_pfn_mode map;
	uint64_t page_size;             /* the arch's PAGE_SIZE, or --page-size's */
	const char *arch;               /* --arch, or the profile --page-size picked */
	bool have_arch, have_page_size;
	uint64_t dax_aligns[ZD_ND_MAX_ALIGNS];  /* the arch's fault sizes (rule 11) */
	uint64_t struct_page_size;      /* 0: the library's default (64) */
	uint64_t compat_align;          /* 0: the library's default (2 MiB) */
};

/* What was found. */
struct ib_state {
	int fd;
	const char *file_type;          /* "regular file", "block device", ... */
	uint64_t file_size;
	bool file_size_known;
	uint64_t offset;                /* where the block was read */
	char offset_source[96];         /* why there */
	size_t got;                     /* bytes read (short read: fewer than 4096) */
	uint64_t ns_size;
	bool ns_size_known;
	bool ns_size_guessed;           /* from FILE's size: a failure under it is no verdict */
	char size_source[200];          /* where ns_size came from, or why unknown */
	struct zd_nd_pfn_sb sb;
	struct zd_nd_pfn_check chk;
	const struct zd_nd_pfn_validate_ctx *ctx;
};

/* The block, its sizing and the rules, as text or JSON on stdout. */
void ib_show(const struct ib_state *s, const struct ib_opts *o);
/* FILE could not be opened or read: err (negative errno) and why on
 * stderr, and with --json a document saying so. Returns EXIT_FAIL. */
int ib_show_error(const struct ib_state *s, const struct ib_opts *o, int err, const char *why);

#endif
