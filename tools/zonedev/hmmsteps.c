/*
 * Scenario steps of HMM (issue 9): a dmirror GPU and a process. The
 * migrations (migrate_to_device / migrate_to_system: the device-level
 * HMM_DMIRROR_MIGRATE_TO_DEV/_SYS), a mirror's SNAPSHOT of a range (the
 * HMM_DMIRROR_PROT_* byte of each page, named) and the eviction of every
 * device page (the eviction half of HMM_DMIRROR_RELEASE).
 * Invariants: a snapshot's mirror lives for the step only, so it leaves
 * no notifier behind; every line the step prints is also in its JSON.
 */
#include "cli.h"
#include "devsteps.h"

#include <zonedev/test_hmm.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* migrate_to_device / migrate_to_system: a dmirror GPU moves the range. */
static void migrate_step(struct run *r, const struct step *st, struct step_result *res,
			 bool to_dev)
{
	struct zd_dmirror_device *mdev = gpu_device(r, st->gpu);
	struct zd_dmirror_stats s;
	uint64_t addr, cpages = 0;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);

	if (!mm)
		return;
	res->err = (to_dev ? zd_dmirror_migrate_to_dev : zd_dmirror_migrate_to_sys)(
		mdev, mm, addr, st->size >> r->m->arch.page_shift, &cpages);
	if (res->err)
		return;
	zd_dmirror_get_stats(mdev, &s);
	step_info(res, "cpages=%" PRIu64 " [0x%" PRIx64 "-0x%" PRIx64 ") pid %d; %s: %" PRIu64
		  " device pages in use", cpages, addr, addr + st->size, mm->pid,
		  r->s->gpus[st->gpu].name, s.calloc - s.cfree);
	jw_ku64(r->json, "cpages", cpages);
	jw_ku64(r->json, "device_pages_in_use", s.calloc - s.cfree);
}

void exec_migrate_to_device(struct run *r, const struct step *st, struct step_result *res)
{
	migrate_step(r, st, res, true);
}

void exec_migrate_to_system(struct run *r, const struct step *st, struct step_result *res)
{
	migrate_step(r, st, res, false);
}

/* snapshot: one HMM_DMIRROR_PROT_* byte per page, through a mirror of
 * the process opened for the step. */
static const char *prot_kind(uint8_t b)
{
	switch (b & 0xf0) {
	case ZD_HMM_DMIRROR_PROT_ZERO: return "zero";
	case ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL: return "device-private local";
	case ZD_HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE: return "device-private remote";
	case ZD_HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL: return "device-coherent local";
	case ZD_HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE: return "device-coherent remote";
	default: return "system";
	}
}

void exec_snapshot(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_dmirror_device *mdev = gpu_device(r, st->gpu);
	uint64_t addr, ps = r->m->arch.page_size, n = st->size / ps;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	struct zd_hmm_dmirror_cmd c;
	struct zd_dmirror *d;
	uint8_t *bytes;

	if (!mm)
		return;
	bytes = calloc(n ? n : 1, 1);
	d = zd_dmirror_open(mdev, mm);
	if (!bytes || ZD_IS_ERR(d)) {
		res->err = bytes ? (int)ZD_PTR_ERR(d) : -ENOMEM;
		free(bytes);
		return;
	}
	c = (struct zd_hmm_dmirror_cmd){ .addr = addr, .ptr = (uintptr_t)bytes, .npages = n };
	res->err = zd_dmirror_snapshot(d, &c);
	zd_dmirror_release(d);
	if (res->err) {
		free(bytes);
		return;
	}
	/* one line: the bytes in page order (the JSON names each) */
	char line[sizeof(res->info)];
	size_t at = (size_t)snprintf(line, sizeof(line), "%" PRIu64 " pages from 0x%" PRIx64
				     " (pid %d) as %s sees them:", c.cpages, addr, mm->pid,
				     r->s->gpus[st->gpu].name);
	jw_ku64(r->json, "cpages", c.cpages);
	jw_key(r->json, "pages");
	jw_arr_begin(r->json);
	for (uint64_t i = 0; i < c.cpages; i++) {
		uint8_t b = bytes[i];
		const char *kind = b == ZD_HMM_DMIRROR_PROT_ERROR ? "error" :
				   b == ZD_HMM_DMIRROR_PROT_NONE ? "none" : prot_kind(b);

		if (at + 8 < sizeof(line))
			at += (size_t)snprintf(line + at, sizeof(line) - at, " %02x", b);
		else if (at + 4 < sizeof(line))
			at += (size_t)snprintf(line + at, sizeof(line) - at, " ...");
		jw_obj_begin(r->json);
		jw_ku64(r->json, "addr", addr + i * ps);
		jw_ku64(r->json, "byte", b);
		jw_kstr(r->json, "kind", kind);
		jw_kbool(r->json, "write", b != ZD_HMM_DMIRROR_PROT_ERROR &&
			 (b & ZD_HMM_DMIRROR_PROT_WRITE));
		jw_obj_end(r->json);
	}
	step_info(res, "%s", line);
	jw_arr_end(r->json);
	free(bytes);
}

/* evict: every page of the GPU in use back to system memory. */
void exec_evict(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_dmirror_device *mdev = gpu_device(r, st->gpu);
	struct zd_dmirror_stats s;
	long n = zd_dmirror_evict(mdev);

	if (n < 0) {
		res->err = (int)n;
		return;
	}
	zd_dmirror_get_stats(mdev, &s);
	step_info(res, "%s: %ld pages evicted; %" PRIu64 " device pages in use",
		  r->s->gpus[st->gpu].name, n, s.calloc - s.cfree);
	jw_ki64(r->json, "evicted", n);
	jw_ku64(r->json, "device_pages_in_use", s.calloc - s.cfree);
}
