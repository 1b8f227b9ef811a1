/*
 * GPU steps: the dmirror test device's chunks of device memory, its pages
 * (allocated, written and read back through the device's copy engine,
 * freed), and the expect forms gpu (the driver's counters) and gpu_page
 * (the bytes a page holds).
 * Invariants: a GPU page is held only by a live handle (run_release_handles()
 * gives it back before the machine goes); a page of the dpa design has no
 * pfn, so its handle holds the page's device-private offset and is never
 * used as a physical address.
 */
#include "devsteps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

/* ---------- the device and its counters ---------- */

struct zd_dmirror_device *gpu_device(struct run *r, int idx)
{
	return zd_dmirror_find(r->m, r->s->gpus[idx].name);
}

static void gpu_stats_text(struct zd_dmirror_device *mdev, const char *name, char *buf,
			   size_t len)
{
	struct zd_dmirror_stats stt;
	char a[32];

	zd_dmirror_get_stats(mdev, &stt);
	snprintf(buf, len, "%s: chunks=%" PRIu64 " calloc=%" PRIu64 " cfree=%" PRIu64
		 " (%s registered)", name, stt.chunks, stt.calloc, stt.cfree,
		 fmt_size(stt.registered_bytes, a, sizeof(a)));
}

/* ---------- steps ---------- */

void exec_gpu_add_chunk(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_dmirror_device *mdev = gpu_device(r, st->gpu);
	struct zd_dmirror_stats before, now;
	uint64_t lo = UINT64_MAX, hi = 0;
	bool dpa = false;
	char stats[160];

	zd_dmirror_get_stats(mdev, &before);
	for (uint64_t i = 0; i < st->count; i++) {
		res->err = zd_dmirror_add_chunk(mdev);
		if (res->err)
			return;
	}
	/* The span of the new chunks: a coherent device maps its one range, a
	 * private one takes each chunk top-down (pfn) or bottom-up (dpa). */
	for (uint64_t i = before.chunks; i < before.chunks + st->count; i++) {
		struct zd_dev_pagemap *pg = zd_dmirror_chunk_pgmap(mdev, (unsigned)i);

		if (!pg)
			continue;
		lo = pg->range.start < lo ? pg->range.start : lo;
		hi = pg->range.end > hi ? pg->range.end : hi;
		dpa = pg->pages != NULL;
	}
	gpu_stats_text(mdev, st->dev_name, stats, sizeof(stats));
	if (lo <= hi)
		step_info(res, "%s; new: %s0x%" PRIx64 "-0x%" PRIx64 "%s", stats,
			  dpa ? "device-private space [" : "[mem ", lo, hi, "]");
	else
		step_info(res, "%s", stats);
	zd_dmirror_get_stats(mdev, &now);
	jw_ku64(r->json, "chunks", now.chunks);
	jw_ku64(r->json, "calloc", now.calloc);
	jw_ku64(r->json, "cfree", now.cfree);
	jw_ku64(r->json, "registered_bytes", now.registered_bytes);
	if (lo <= hi) {
		jw_kstr(r->json, "space", dpa ? "device_private" : "physical");
		jw_khex(r->json, "start", lo);
		jw_khex(r->json, "end", hi);
	}
}

void exec_gpu_alloc(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_dmirror_device *mdev = gpu_device(r, st->gpu);
	struct zd_machine *m = r->m;
	struct handle_state *h = &r->h[st->handle];
	const char *hn = r->s->handles[st->handle].name;
	struct zd_page *page;
	uint64_t pfn;

	if (!handle_idle(r, st->handle, "a GPU page", "gpu_free", res))
		return;
	page = zd_dmirror_alloc_page(mdev, 0);
	if (!page) {
		res->err = -ENOMEM;
		return;
	}
	h->page = page;
	h->mdev = mdev;
	h->order = 0;
	if (page_pfn(m, page, &pfn)) {
		handle_set(r, st->handle, zd_pfn_phys(&m->arch, pfn), false);
		step_info(res, "%s: pfn 0x%" PRIx64 " (phys 0x%" PRIx64 ") of %s", hn, pfn, h->addr,
			  st->dev_name);
		jw_khex(r->json, "pfn", pfn);
		jw_khex(r->json, "phys", h->addr);
	} else {
		handle_set(r, st->handle, zd_device_private_page_to_offset(page), true);
		step_info(res, "%s: device-private offset 0x%" PRIx64 " of %s (in pages: byte 0x%"
			  PRIx64 " of the device-private space; no pfn, no physical address)", hn,
			  h->addr, st->dev_name, h->addr << m->arch.page_shift);
		jw_khex(r->json, "offset", h->addr);
	}
}

void exec_gpu_write(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];

	if (!handle_held(r, st->handle, "GPU page", "freed", "gpu_alloc", res))
		return;
	res->err = zd_dmirror_copy_to_device(h->mdev, h->page, st->data.p, st->data.len);
	if (!res->err)
		step_info(res, "copied %zu bytes to %s through the device's copy engine",
			  st->data.len, r->s->handles[st->handle].name);
}

void exec_gpu_free(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];
	struct zd_device *dev;

	if (!handle_held(r, st->handle, "GPU page", "freed", "gpu_alloc", res))
		return;
	dev = zd_dmirror_to_device(h->mdev);
	zd_put_page(r->m, h->page);
	h->live = false;
	h->page = NULL;
	gpu_stats_text(h->mdev, zd_dev_name(dev), res->info, sizeof(res->info));
}

/* ---------- expect gpu, gpu_page ---------- */

void ex_gpu(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_dmirror_device *mdev = gpu_device(r, st->gpu);
	const char *name = r->s->gpus[st->gpu].name;
	struct zd_dmirror_stats s;

	zd_dmirror_get_stats(mdev, &s);
	gpu_stats_text(mdev, name, res->info, sizeof(res->info));
	if (st->has_chunks && s.chunks != st->chunks)
		step_fail(res, "%s: %" PRIu64 " chunks, expected %" PRIu64, name, s.chunks,
			  st->chunks);
	if (st->has_calloc && s.calloc != st->calloc)
		step_fail(res, "%s: calloc %" PRIu64 ", expected %" PRIu64, name, s.calloc,
			  st->calloc);
	if (st->has_cfree && s.cfree != st->cfree)
		step_fail(res, "%s: cfree %" PRIu64 ", expected %" PRIu64, name, s.cfree,
			  st->cfree);
}

void ex_gpu_page(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];
	const char *hn = r->s->handles[st->handle].name;
	char what[96], e[32];
	char *buf;
	int rc;

	if (!handle_held(r, st->handle, "GPU page", "freed", "gpu_alloc", res))
		return;
	buf = calloc(1, st->data.len + 1);
	if (!buf) {
		step_fail(res, "out of memory");
		return;
	}
	rc = zd_dmirror_copy_from_device(h->mdev, h->page, buf, st->data.len);
	if (rc) {
		step_fail(res, "copy from %s through the copy engine failed with %s", hn,
			  fmt_errno(rc, e, sizeof(e)));
	} else {
		step_info(res, "%s: %zu bytes read back through the copy engine", hn, st->data.len);
		snprintf(what, sizeof(what), "%s (read through the copy engine)", hn);
		expect_bytes(res, what, buf, st->data.p, st->data.len);
	}
	free(buf);
}
