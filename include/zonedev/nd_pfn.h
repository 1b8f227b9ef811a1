/*
 * The libnvdimm pfn / dax info block (drivers/nvdimm/pfn.h, pfn_devs.c,
 * core.c, claim.c): the 4096-byte little-endian superblock that an fsdax
 * ("NVDIMM_PFN_INFO") or devdax ("NVDIMM_DAX_INFO") namespace carries at
 * namespace offset 4096, how a fresh one is sized, how an existing one is
 * validated, and how a valid one becomes a dev_pagemap range plus vmem_altmap.
 *
 * This layer is pure arithmetic on bytes plus pread/pwrite helpers: it needs
 * no machine, no memremap and no global state, so the same block a real
 * kernel wrote can be parsed, validated and reproduced byte for byte.
 *
 * Invariants:
 *  - struct zd_nd_pfn_sb is exactly the on-media layout (size 4096, no
 *    compiler padding; offsets checked by static_assert); its multi-byte
 *    fields hold little-endian values and are read through the accessors.
 *  - the checksum is Fletcher-64 over the 4096 bytes with the checksum field
 *    taken as zero; zd_nd_sb_checksum() leaves the block as it found it.
 *  - every failing call returns a negative errno and, when given a buffer,
 *    writes a one-line reason into `why`; validation reasons start with
 *    "rule N:" where N numbers the checks of devices.md §2.4.
 */
#ifndef ZONEDEV_ND_PFN_H
#define ZONEDEV_ND_PFN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZD_PFN_SIG_LEN 16
#define ZD_PFN_SIG "NVDIMM_PFN_INFO"          /* + NUL = 16 bytes */
#define ZD_DAX_SIG "NVDIMM_DAX_INFO"          /* + NUL = 16 bytes */

#define ZD_ND_INFOBLOCK_OFFSET   4096ULL      /* SZ_4K: block offset in the namespace */
#define ZD_ND_INFOBLOCK_SIZE     4096ULL      /* sizeof(struct nd_pfn_sb) */
#define ZD_ND_INFO_RESERVE       8192ULL      /* SZ_8K: label space + info block */
#define ZD_ND_MAX_STRUCT_PAGE_SIZE 64ULL      /* MAX_STRUCT_PAGE_SIZE */
#define ZD_ND_MIN_NAMESPACE_SIZE (16ULL << 20) /* ND_MIN_NAMESPACE_SIZE for claims */
#define ZD_ND_DEFAULT_COMPAT_ALIGN (2ULL << 20) /* memremap_compat_align() generic */
#define ZD_ND_VERSION_MAJOR 1
#define ZD_ND_VERSION_MINOR 4
#define ZD_ND_MAX_ALIGNS 4                    /* MAX_NVDIMM_ALIGN: zero-terminated list */

/* On-media layout. Multi-byte fields are little-endian (__le16/32/64). */
struct zd_nd_pfn_sb {
	uint8_t signature[ZD_PFN_SIG_LEN];    /*    0 */
	uint8_t uuid[16];                     /*   16 */
	uint8_t parent_uuid[16];              /*   32 */
	uint32_t flags;                       /*   48 __le32, zero since minor 3 */
	uint16_t version_major;               /*   52 __le16 */
	uint16_t version_minor;               /*   54 __le16 */
	uint64_t dataoff;                     /*   56 __le64, relative to base + start_pad */
	uint64_t npfns;                       /*   64 __le64 */
	uint32_t mode;                        /*   72 __le32, enum zd_nd_pfn_mode */
	/* minor 1 */
	uint32_t start_pad;                   /*   76 __le32 */
	uint32_t end_trunc;                   /*   80 __le32 */
	/* minor 2 */
	uint32_t align;                       /*   84 __le32 */
	/* minor 3: padding and flags guaranteed zero; minor 4: */
	uint32_t page_size;                   /*   88 __le32 */
	uint16_t page_struct_size;            /*   92 __le16 */
	uint8_t padding[3994];                /*   94 */
	uint64_t checksum;                    /* 4088 __le64 */
};

/* Which claim the block belongs to: it selects the signature. */
enum zd_nd_pfn_kind {
	ZD_ND_FSDAX = 0,   /* pfn device, "NVDIMM_PFN_INFO" */
	ZD_ND_DEVDAX = 1,  /* dax device, "NVDIMM_DAX_INFO" */
};

/* On-media `mode` (enum nd_pfn_mode): where the memmap lives. */
enum zd_nd_pfn_mode {
	ZD_PFN_MODE_NONE = 0,
	ZD_PFN_MODE_RAM = 1,   /* ndctl --map=mem: struct pages in DRAM */
	ZD_PFN_MODE_PMEM = 2,  /* ndctl --map=dev: struct pages in the namespace */
};
#define ZD_ND_MAP_MEM ZD_PFN_MODE_RAM
#define ZD_ND_MAP_DEV ZD_PFN_MODE_PMEM

/* Little-endian field access. */
uint16_t zd_le16_get(const uint16_t *p);
uint32_t zd_le32_get(const uint32_t *p);
uint64_t zd_le64_get(const uint64_t *p);
void zd_le16_put(uint16_t *p, uint16_t v);
void zd_le32_put(uint32_t *p, uint32_t v);
void zd_le64_put(uint64_t *p, uint64_t v);

/*
 * nd_fletcher64(): len/4 32-bit words (little-endian when le), 32-bit running
 * sum lo, 64-bit sum of sums hi; returns hi << 32 | lo. len must be a
 * multiple of 4 (a trailing partial word is ignored, as in the kernel).
 */
uint64_t zd_nd_fletcher64(const void *buf, size_t len, bool le);
/* nd_sb_checksum(): Fletcher-64 of the block with checksum zeroed, restored after. */
uint64_t zd_nd_sb_checksum(struct zd_nd_pfn_sb *sb);
/* Same, without touching the block (works on a copy). */
uint64_t zd_nd_sb_checksum_const(const struct zd_nd_pfn_sb *sb);
/* Recompute and store the checksum. */
void zd_nd_sb_set_checksum(struct zd_nd_pfn_sb *sb);

/* The 16 signature bytes for a kind. */
const uint8_t *zd_nd_pfn_sig(enum zd_nd_pfn_kind kind);
const char *zd_nd_pfn_mode_name(enum zd_nd_pfn_mode mode); /* "ram" "pmem" "none" */

/* ------------------------------------------------------------ sizing */

struct zd_nd_pfn_params {
	enum zd_nd_pfn_kind kind;       /* fsdax or devdax (signature) */
	enum zd_nd_pfn_mode map;        /* ZD_ND_MAP_DEV (PMEM) or ZD_ND_MAP_MEM (RAM) */
	uint64_t align;                 /* requested align; 0 = default (PMD size) */
	uint64_t start, size;           /* namespace physical start and size */
	uint8_t uuid[16];               /* the pfn/dax instance */
	uint8_t parent_uuid[16];        /* the namespace (zero when label-less) */
	uint64_t page_size;             /* PAGE_SIZE; 0 = 4096 */
	uint64_t struct_page_size;      /* sizeof(struct page); 0 = 64 */
	uint64_t compat_align;          /* memremap_compat_align(); 0 = 2 MiB */
	uint64_t pmd_size, pud_size;    /* huge mapping sizes; 0 = 2 MiB / 1 GiB */
	bool no_pud_thp;                /* the arch has no PUD-sized THP: PUD align refused */
	bool nvdimm_kmsan;              /* CONFIG_NVDIMM_KMSAN: budget a bigger struct page */
};

/*
 * nd_pfn_init() sizing (devices.md §2.5). Fills *sb (zeroed first) with a
 * version 1.4 block and its checksum. Errors: -EOPNOTSUPP align not in
 * nd_pfn_supported_alignments() (PAGE_SIZE, PMD, and PUD unless
 * no_pud_thp; the same set for fsdax and devdax);
 * -EINVAL start not compat-aligned, or struct page bigger than the 64-byte
 * budget for map=dev without nvdimm_kmsan; -ENXIO map is neither dev nor mem,
 * or the requested alignment leaves no data ("unable to satisfy requested
 * alignment").
 */
int zd_nd_pfn_init_sb(struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_params *p,
		      char *why, size_t whylen);

/* ------------------------------------------------------------ validation */

struct zd_nd_pfn_validate_ctx {
	enum zd_nd_pfn_kind kind;       /* expected signature */
	bool region_not_memory;         /* rule 1: parent region is not pmem */
	uint8_t parent_uuid[16];        /* the namespace's uuid */
	uint64_t start;                 /* namespace base (res.start) */
	uint64_t size;                  /* resource_size(res) */
	uint64_t end;                   /* res.end, inclusive; 0 = start + size - 1 */
	uint64_t capacity;              /* nvdimm_namespace_capacity(); 0 = size */
	uint64_t page_size;             /* 0 = 4096 */
	uint64_t struct_page_size;      /* sizeof(struct page); 0 = 64 */
	uint64_t compat_align;          /* 0 = 2 MiB */
	/* rule 11: zero-terminated; all zero = { page_size, 2 MiB, 1 GiB } */
	uint64_t dax_aligns[ZD_ND_MAX_ALIGNS];
	/* rule 12: a second probe compares with settings already adopted */
	bool adopted;
	uint8_t adopted_uuid[16];
	uint64_t adopted_align;
	enum zd_nd_pfn_mode adopted_mode;
};

/* Decoded block after minor-version defaults and rule 8. */
struct zd_nd_pfn_info {
	enum zd_nd_pfn_kind kind;
	uint8_t uuid[16], parent_uuid[16];
	uint32_t flags;
	uint16_t version_major, version_minor;
	uint64_t dataoff, npfns;
	enum zd_nd_pfn_mode mode;
	uint32_t start_pad, end_trunc;
	uint64_t align;                 /* effective: derived from dataoff when 0 on media */
	bool align_derived;             /* rule 8 applied */
	uint32_t page_size;
	uint16_t page_struct_size;
	uint64_t checksum;
};

/*
 * nd_pfn_validate(): rules 1 and 3-18 of devices.md §2.4 in order (rule 2 is
 * the read, see zd_nd_pfn_validate_fd()): zd_nd_pfn_check_rules() with all
 * of ctx known, stopping at the first failure. Returns 0 with *out filled (out may
 * be NULL), -ENODEV for "no valid block here" (rules 1, 3, 4, 5, 12 uuid),
 * -ENXIO for a bad mode (7), -EOPNOTSUPP for geometry and settings (9-18).
 */
int zd_nd_pfn_validate(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_validate_ctx *ctx,
		       struct zd_nd_pfn_info *out, char *why, size_t whylen);

/* Decode without validating (defaults of §2.2 and rule 8 applied). */
void zd_nd_pfn_decode(const struct zd_nd_pfn_sb *sb, uint64_t page_size, struct zd_nd_pfn_info *out);

/*
 * Every rule at once (src/drivers/nvdimm/pfn_validate.c), for a tool that
 * inspects a block found in a file rather than probes a namespace: each rule
 * gets its own result, also after the first failure (where the kernel would
 * have stopped), and a rule that needs a piece of namespace context the
 * caller does not have is skipped rather than passed. zd_nd_pfn_validate()
 * is this with every piece known, returning the first failure, so the two
 * cannot disagree.
 */
#define ZD_ND_NR_RULES 18

enum zd_nd_rule_result {
	ZD_ND_RULE_PASS = 0,   /* checked, holds */
	ZD_ND_RULE_FAIL,       /* checked, does not hold: err is what the kernel returns */
	ZD_ND_RULE_SKIPPED,    /* needs context the caller lacks (needs says which) */
	ZD_ND_RULE_INFO,       /* not a check (rules 6 and 8): what was applied */
};

/* What the caller knows; the `knows` mask of zd_nd_pfn_check_rules(). */
#define ZD_ND_KNOWS_REGION 0x01u  /* region_not_memory is meaningful (rule 1) */
#define ZD_ND_KNOWS_KIND   0x02u  /* ctx->kind is the claim probed; else either signature (3) */
#define ZD_ND_KNOWS_PARENT 0x04u  /* ctx->parent_uuid (rule 5) */
#define ZD_ND_KNOWS_START  0x08u  /* ctx->start (rules 15-17) */
#define ZD_ND_KNOWS_SIZE   0x10u  /* ctx->size and capacity (rules 13, 14, 17, 18) */
#define ZD_ND_KNOWS_ALL    0x1fu

struct zd_nd_pfn_rule {
	int rule;                       /* 1..18, devices.md §2.4 */
	enum zd_nd_rule_result result;
	int err;                        /* FAIL: the negative errno; otherwise 0 */
	unsigned needs;                 /* SKIPPED: the ZD_ND_KNOWS_ bits that were missing */
	char detail[200];               /* FAIL: the "rule N: ..." reason; else what was found */
};

struct zd_nd_pfn_check {
	struct zd_nd_pfn_rule rules[ZD_ND_NR_RULES];  /* rules[i] is rule i + 1 */
	int first_fail;                 /* the rule the kernel stops at; 0: none fails */
	int err;                        /* its errno (negative), 0 */
	struct zd_nd_pfn_info info;     /* decoded (rules 6 and 8); zero without a block */
};

/* A rule's short name, the condition it checks and the errno names it can
 * return ("" for 6 and 8); NULL outside 1..ZD_ND_NR_RULES. */
struct zd_nd_pfn_rule_desc {
	const char *name;
	const char *check;
	const char *errnos;
};
const struct zd_nd_pfn_rule_desc *zd_nd_pfn_rule_desc(int rule);

/*
 * Evaluate rules 1 and 3-18 in the kernel's order into *out. Rule 2 (the
 * read) is the caller's and is reported as passed with a placeholder
 * detail. Without KNOWS_KIND either signature passes rule 3 and selects the
 * kind the later rules use. A NULL sb fails rule 1 and skips the rest.
 */
void zd_nd_pfn_check_rules(const struct zd_nd_pfn_sb *sb, const struct zd_nd_pfn_validate_ctx *ctx,
			   unsigned knows, struct zd_nd_pfn_check *out);

/* ------------------------------------------------------------ dev_pagemap layout */

struct zd_nd_pfn_layout {
	uint64_t range_start, range_end;  /* pgmap range, end inclusive */
	uint64_t npfns;                   /* PMEM: from the range; RAM: from the block */
	bool npfns_truncated;             /* PMEM: the block claimed more pages */
	bool has_altmap;                  /* PMEM mode: PGMAP_ALTMAP_VALID */
	uint64_t base_pfn, reserve, free, alloc, end_pfn; /* vmem_altmap */
	uint64_t data_start, data_size;   /* pfn sysfs "resource" and "size" */
};

/*
 * __nvdimm_setup_pfn() arithmetic (devices.md §2.6). res_end is inclusive.
 * Errors: -EINVAL RAM mode with dataoff below the info reserve; -ENXIO mode
 * neither RAM nor PMEM; -EINVAL a page_shift outside 12..21 or a range the
 * block does not fit.
 */
int zd_nd_pfn_to_pgmap_layout(const struct zd_nd_pfn_info *info, uint64_t res_start,
			      uint64_t res_end, unsigned page_shift,
			      struct zd_nd_pfn_layout *out, char *why, size_t whylen);

/* ------------------------------------------------------------ file I/O */

/*
 * Read the block at ns_offset + 4096 of fd. -ENXIO ("rule 2: ...") on an I/O
 * error or a short read.
 */
int zd_nd_pfn_read_sb(int fd, uint64_t ns_offset, struct zd_nd_pfn_sb *sb,
		      char *why, size_t whylen);
/* The same at byte offset off of fd (a bare block, a dump at any offset);
 * *got (may be NULL) is how many bytes arrived before a short read. */
int zd_nd_pfn_read_sb_at(int fd, uint64_t off, struct zd_nd_pfn_sb *sb, size_t *got,
			 char *why, size_t whylen);
/* Write the block at ns_offset + 4096 of fd; -ENOSPC/-EDQUOT when the
 * filesystem is full, -EIO on other errors or a short write. */
int zd_nd_pfn_write_sb(int fd, uint64_t ns_offset, const struct zd_nd_pfn_sb *sb,
		       char *why, size_t whylen);
/* Allocate the file blocks the layout of sb will write (the info block; for
 * map=dev the memmap area up to dataoff) without changing any byte:
 * -ENOSPC (or -EDQUOT, -EFBIG) with why naming the file and the bytes. */
int zd_nd_pfn_reserve(int fd, uint64_t ns_offset, const struct zd_nd_pfn_sb *sb,
		      char *why, size_t whylen);
/* Rule 1, then the read (rule 2), then zd_nd_pfn_validate(). */
int zd_nd_pfn_validate_fd(int fd, uint64_t ns_offset, const struct zd_nd_pfn_validate_ctx *ctx,
			  struct zd_nd_pfn_info *out, char *why, size_t whylen);

/*
 * nd_pfn_init() on a namespace held in fd at ns_offset: validate the block
 * present against p (as a bound instance: uuid/align/mode already set);
 * 0 → use it; -ENODEV → size and write a fresh one (-ENXIO when read_only);
 * any other error is returned. *created says which happened (may be NULL).
 */
int zd_nd_pfn_init_fd(int fd, uint64_t ns_offset, const struct zd_nd_pfn_params *p,
		      bool read_only, struct zd_nd_pfn_info *out, bool *created,
		      char *why, size_t whylen);

/* ------------------------------------------------------------ text */

#define ZD_UUID_STR_LEN 37  /* 36 characters and a NUL */
/* "ec094fe8-1049-456b-884d-fe695d359ed0" (either case) → 16 bytes; -EINVAL. */
int zd_nd_uuid_parse(const char *s, uint8_t out[16]);
/* Lower-case canonical form into buf (ZD_UUID_STR_LEN bytes); returns buf. */
char *zd_nd_uuid_format(const uint8_t u[16], char *buf);

/*
 * ndctl read-infoblock shaped JSON object of the raw block (no validation):
 * "file" (omitted when NULL), signature, uuid, parent_uuid, flags,
 * version "M.m", dataoff, npfns, mode, start_pad, end_trunc, align,
 * page_size, page_struct_size. Returns the fprintf total or -EIO.
 */
int zd_nd_pfn_sb_dump_json(FILE *f, const struct zd_nd_pfn_sb *sb, const char *file);

#ifdef __cplusplus
}
#endif

#endif
