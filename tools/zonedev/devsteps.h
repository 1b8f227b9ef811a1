/*
 * Private interface of the ZONE_DEVICE steps (devsteps*.c): devsteps.c
 * holds direct pgmaps, memory_failure and the address expect forms;
 * devsteps-pmem.c the namespace steps; devsteps-gpu.c the GPU steps. Each
 * step's exec function is declared in cli.h (the schema tables name them).
 * Invariants: a step's region or GPU is on the booted machine (step_exec(),
 * for expect exec_expect(), checks it first); the expect helpers leave the
 * first failure in place (step_fail()).
 */
#ifndef ZONEDEV_DEVSTEPS_H
#define ZONEDEV_DEVSTEPS_H

#include "cli.h"

/* ---- devsteps.c ---- */

/* The pfn of a page in the vmemmap; false for a dpa device-private page
 * (its struct page is in its pgmap's own array). */
bool page_pfn(struct zd_machine *m, const struct zd_page *p, uint64_t *pfn);
/* "true" / "false". */
const char *tf(bool v);
/* Compare n bytes at got with want; on a mismatch say what was there. */
void expect_bytes(struct step_result *res, const char *what, const char *got,
		  const char *want, size_t n);

/* ---- devsteps-gpu.c: dmirror GPUs ---- */

/* The scenario's GPU idx on the booted machine, or NULL. */
struct zd_dmirror_device *gpu_device(struct run *r, int idx);
/* mmsteps.c: the process and the resolved start address of a range step;
 * NULL with the failure set. */
struct zd_mm *step_mm_addr(struct run *r, const struct step *st, struct step_result *res,
			   uint64_t *addr);

#endif
