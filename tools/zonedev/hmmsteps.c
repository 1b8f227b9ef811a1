/*
 * Scenario steps of HMM (issue 9): a dmirror GPU and a process. The
 * migrations (migrate_to_device / migrate_to_system: the device-level
 * HMM_DMIRROR_MIGRATE_TO_DEV/_SYS), a mirror's SNAPSHOT of a range (the
 * HMM_DMIRROR_PROT_* byte of each page, named), the eviction of every
 * device page (the eviction half of HMM_DMIRROR_RELEASE), hmm_range_fault
 * of a range with the HMM_PFN_* bits of each page (as a driver of the GPU
 * would call it: its owner, its notifier) and make_device_exclusive.
 * Invariants: a step's mirror or notifier lives for the step only, so it
 * leaves nothing behind; every line the step prints is also in its JSON.
 */
#include "cli.h"
#include "devsteps.h"

#include <zonedev/hmm.h>
#include <zonedev/mm.h>
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
	/* HMM_DMIRROR_FLAGS: the next allocation fails (a 2 MiB one falls
	 * back to 4K pages, a 4K one leaves its page where it is) */
	if (st->fail_alloc)
		zd_dmirror_set_flags(mdev, ZD_HMM_DMIRROR_FLAG_FAIL_ALLOC);
	res->err = (to_dev ? zd_dmirror_migrate_to_dev : zd_dmirror_migrate_to_sys)(
		mdev, mm, addr, st->size >> r->m->arch.page_shift, &cpages);
	zd_dmirror_set_flags(mdev, 0);
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

/* Does the text "22 22 01" (hex bytes, spaces between) give exactly the
 * n bytes seen? */
static bool snapshot_matches(const char *want, const uint8_t *seen, uint64_t n)
{
	uint64_t i = 0;

	for (const char *p = want; *p; ) {
		char *end;
		unsigned long v;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		v = strtoul(p, &end, 16);
		if (end == p || v > 0xff || i >= n || seen[i] != v)
			return false;
		i++;
		p = end;
	}
	return i == n;
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
	if (st->bytes && !snapshot_matches(st->bytes, bytes, c.cpages))
		step_fail(res, "the device sees%s, not %s", strchr(line, ':') + 1,
				  st->bytes);
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

/* ---------- hmm_range_fault ---------- */

static bool step_invalidate(struct zd_mmu_interval_notifier *sub,
			    const struct zd_mmu_notifier_range *range, unsigned long cur_seq)
{
	(void)range;
	zd_mmu_interval_set_seq(sub, cur_seq);   /* nothing mirrored to drop */
	return true;
}

static const struct zd_mmu_interval_notifier_ops step_notifier_ops = {
	.invalidate = step_invalidate,
};

/* "VALID|WRITE|DEVICE_PRIVATE" of an entry's flag bits. */
static void hmm_flag_names(uint64_t e, char *buf, size_t len)
{
	static const struct { uint64_t bit; const char *name; } bits[] = {
		{ ZD_HMM_PFN_VALID, "VALID" }, { ZD_HMM_PFN_WRITE, "WRITE" },
		{ ZD_HMM_PFN_ERROR, "ERROR" }, { ZD_HMM_PFN_DEVICE_PRIVATE, "DEVICE_PRIVATE" },
	};
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (e & bits[i].bit)
			at += (size_t)snprintf(buf + at, len - at, "%s%s", at ? "|" : "", bits[i].name);
	if (!at)
		snprintf(buf, len, "0");
}

/* Does entry b continue the run that a starts (same flags and order, the
 * next pfn or offset)? */
static bool same_run(uint64_t a, uint64_t b, uint64_t k)
{
	return (a & ZD_HMM_PFN_FLAGS) == (b & ZD_HMM_PFN_FLAGS) &&
	       (!(a & ZD_HMM_PFN_VALID) || zd_hmm_pfn_to_pfn(b) == zd_hmm_pfn_to_pfn(a) + k);
}

void exec_hmm_range_fault(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t addr, ps = r->m->arch.page_size, n = st->size / ps;
	uint64_t req = (st->mflags & HMM_STEP_FAULT ? ZD_HMM_PFN_REQ_FAULT : 0) |
		       (st->mflags & HMM_STEP_WRITE ? ZD_HMM_PFN_REQ_WRITE : 0);
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	struct zd_mmu_interval_notifier mn = { 0 };
	struct zd_hmm_range range;
	unsigned long deadline = 1000;
	uint64_t *pfns;
	char line[sizeof(res->info)];
	bool cut = false;
	size_t at;

	if (!mm)
		return;
	pfns = calloc(n ? n : 1, sizeof(*pfns));
	if (!pfns) {
		res->err = -ENOMEM;
		return;
	}
	res->err = zd_mmu_interval_notifier_insert(&mn, mm, addr, st->size, &step_notifier_ops);
	if (res->err) {
		free(pfns);
		return;
	}
	range = (struct zd_hmm_range){ .notifier = &mn, .start = addr, .end = addr + st->size,
				       .hmm_pfns = pfns, .default_flags = req,
				       .dev_private_owner = st->gpu >= 0 ? gpu_device(r, st->gpu) : NULL };
	/* the driver's loop: -EBUSY means the range changed meanwhile */
	do {
		range.notifier_seq = zd_mmu_interval_read_begin(&mn);
		zd_mmap_read_lock(mm);
		res->err = zd_hmm_range_fault(&range);
		zd_mmap_read_unlock(mm);
	} while (res->err == -EBUSY && --deadline);
	zd_mmu_interval_notifier_remove(&mn);
	if (res->err) {
		free(pfns);
		return;
	}
	/* runs of pages with the same bits and consecutive pfns (offsets) */
	at = (size_t)snprintf(line, sizeof(line), "%" PRIu64 " pages from 0x%" PRIx64 " (pid %d)%s%s:",
			      n, addr, mm->pid, st->gpu >= 0 ? " for " : "",
			      st->gpu >= 0 ? r->s->gpus[st->gpu].name : "");
	jw_key(r->json, "runs");
	jw_arr_begin(r->json);
	for (uint64_t i = 0, k; i < n; i += k) {
		char flags[64], seg[128];
		uint64_t e = pfns[i];
		unsigned order = zd_hmm_pfn_to_map_order(e);

		for (k = 1; i + k < n && same_run(e, pfns[i + k], k); k++)
			;
		hmm_flag_names(e, flags, sizeof(flags));
		if (!(e & ZD_HMM_PFN_VALID))
			snprintf(seg, sizeof(seg), " %" PRIu64 " x %s;", k, flags);
		else if (order)
			snprintf(seg, sizeof(seg), " %" PRIu64 " x %s %s 0x%" PRIx64 " order %u;", k,
				 flags, e & ZD_HMM_PFN_DEVICE_PRIVATE ? "offset" : "pfn",
				 zd_hmm_pfn_to_pfn(e), order);
		else
			snprintf(seg, sizeof(seg), " %" PRIu64 " x %s %s 0x%" PRIx64 ";", k, flags,
				 e & ZD_HMM_PFN_DEVICE_PRIVATE ? "offset" : "pfn", zd_hmm_pfn_to_pfn(e));
		/* the text line holds what fits, the JSON every run */
		if (at + strlen(seg) + 5 < sizeof(line))
			at += (size_t)snprintf(line + at, sizeof(line) - at, "%s", seg);
		else if (!cut && (cut = true))
			at += (size_t)snprintf(line + at, sizeof(line) - at, " ...;");
		jw_obj_begin(r->json);
		jw_ku64(r->json, "addr", addr + i * ps);
		jw_ku64(r->json, "pages", k);
		jw_kstr(r->json, "flags", flags);
		if (e & ZD_HMM_PFN_VALID) {
			jw_ku64(r->json, e & ZD_HMM_PFN_DEVICE_PRIVATE ? "offset" : "pfn",
				zd_hmm_pfn_to_pfn(e));
			jw_ku64(r->json, "order", order);
		}
		jw_obj_end(r->json);
	}
	jw_arr_end(r->json);
	if (at && line[at - 1] == ';')
		line[at - 1] = '\0';
	step_info(res, "%s", line);
	free(pfns);
}

/* ---------- make_exclusive ---------- */

void exec_make_exclusive(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_dmirror_device *mdev = gpu_device(r, st->gpu);
	uint64_t addr, n = st->size / r->m->arch.page_size;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	struct zd_hmm_dmirror_cmd c;
	struct zd_dmirror *d;
	void *bounce;

	if (!mm)
		return;
	/* the ioctl copies what the device then sees into the caller's buffer */
	bounce = calloc(n ? n : 1, r->m->arch.page_size);
	d = zd_dmirror_open(mdev, mm);
	if (!bounce || ZD_IS_ERR(d)) {
		res->err = bounce ? (int)ZD_PTR_ERR(d) : -ENOMEM;
		free(bounce);
		return;
	}
	c = (struct zd_hmm_dmirror_cmd){ .addr = addr, .ptr = (uintptr_t)bounce, .npages = n };
	res->err = zd_dmirror_exclusive(d, &c);
	zd_dmirror_release(d);
	free(bounce);
	if (res->err)
		return;
	step_info(res, "%" PRIu64 " pages from 0x%" PRIx64 " (pid %d) device-exclusive for %s",
		  c.cpages, addr, mm->pid, r->s->gpus[st->gpu].name);
	jw_ku64(r->json, "cpages", c.cpages);
}

/* ---------- the GPUs' mirrors of each process ---------- */

struct zd_dmirror *process_mirror(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->process];
	struct zd_dmirror *d;

	if (!h->mirrors && !(h->mirrors = calloc(r->s->nr_gpus, sizeof(*h->mirrors)))) {
		step_fail(res, "out of memory");
		return NULL;
	}
	if (h->mirrors[st->gpu])
		return h->mirrors[st->gpu];
	d = zd_dmirror_open(gpu_device(r, st->gpu), h->mm);
	if (ZD_IS_ERR(d)) {
		res->err = (int)ZD_PTR_ERR(d);
		return NULL;
	}
	return h->mirrors[st->gpu] = d;
}

void release_mirrors(struct run *r, int process)
{
	for (int i = process < 0 ? 0 : process; i < (process < 0 ? r->s->nr_handles : process + 1);
	     i++) {
		struct handle_state *h = &r->h[i];

		if (r->s->handles[i].kind != H_MM || !h->mirrors)
			continue;
		for (size_t g = 0; g < r->s->nr_gpus; g++)
			if (h->mirrors[g])
				zd_dmirror_release(h->mirrors[g]);
		free(h->mirrors);
		h->mirrors = NULL;
	}
}
