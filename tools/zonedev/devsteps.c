/*
 * ZONE_DEVICE steps (pmem namespaces are in devsteps-pmem.c, GPUs in
 * devsteps-gpu.c); here direct pgmaps (memremap/memunmap with a small built-in ops table that
 * logs its calls), memory_failure, the handles that hold device memory,
 * and the expect forms that look at an address (page_is_ram,
 * valid_phys_addr_range, zone_device, pgmap, cpu_addressable).
 * Invariants: like steps.c, a step reports exactly what the library
 * returned; the few errors the CLI finds itself come with a reason in
 * res->why. A GPU page or a pgmap is held only by a live handle, and
 * run_release_handles() gives every one back before the machine goes.
 * Device-private pages of the dpa design have no pfn: their handle holds
 * the page's offset and is never used as a physical address.
 */
#include "devsteps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------- memory type names ---------- */

/* Memory types as scenarios name them ("devdax" is MEMORY_DEVICE_GENERIC). */
static const char *cli_memory_type_name(int type)
{
	switch (type) {
	case ZD_MEMORY_DEVICE_PRIVATE: return "private";
	case ZD_MEMORY_DEVICE_COHERENT: return "coherent";
	case ZD_MEMORY_DEVICE_FS_DAX: return "fsdax";
	case ZD_MEMORY_DEVICE_GENERIC: return "devdax";
	case ZD_MEMORY_DEVICE_PCI_P2PDMA: return "p2pdma";
	case PGMAP_NONE: return "none";
	default: return "invalid";
	}
}

/* ---------- where a struct page lives ---------- */

bool page_pfn(struct zd_machine *m, const struct zd_page *p, uint64_t *pfn)
{
	uintptr_t lo = (uintptr_t)m->vmemmap + m->vmemmap_start_pfn * sizeof(struct zd_page);
	uintptr_t hi = (uintptr_t)m->vmemmap + m->vmemmap_end_pfn * sizeof(struct zd_page);

	if ((uintptr_t)p < lo || (uintptr_t)p >= hi)
		return false;
	*pfn = ((uintptr_t)p - (uintptr_t)m->vmemmap) / sizeof(struct zd_page);
	return true;
}

/* ---------- the CLI's own pgmap ops: a driver that only logs ---------- */

static const char cli_owner[] = "zonedev-cli";

static void cli_folio_free(struct zd_page *folio)
{
	struct zd_dev_pagemap *pgmap = folio->pgmap;
	char where[64];
	uint64_t pfn;

	if (page_pfn(pgmap->machine, folio, &pfn))
		snprintf(where, sizeof(where), "pfn 0x%" PRIx64, pfn);
	else
		snprintf(where, sizeof(where), "device-private offset 0x%" PRIx64,
			 zd_device_private_page_to_offset(folio));
	zd_pr_info(pgmap->machine, "zonedev-cli ops: folio_free(%s) of a %s pgmap", where,
		   cli_memory_type_name(pgmap->type));
}

static int cli_migrate_to_ram(struct zd_vm_fault *vmf)
{
	/* no process maps the CLI's own pgmaps' pages (only dmirror's are
	 * migrated), so no fault reaches here; one would be a driver failure */
	(void)vmf;
	return -EFAULT;
}

static int cli_memory_failure(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			      unsigned long nr_pages, int mf_flags)
{
	zd_pr_info(pgmap->machine, "zonedev-cli ops: memory_failure(pfn 0x%lx, %lu page%s, "
		   "flags 0x%x) on a %s pgmap: declined, the generic handler takes it", pfn,
		   nr_pages, nr_pages == 1 ? "" : "s", (unsigned)mf_flags,
		   cli_memory_type_name(pgmap->type));
	return -EOPNOTSUPP;
}

static const struct zd_dev_pagemap_ops cli_pgmap_ops = {
	.folio_free = cli_folio_free,
	.migrate_to_ram = cli_migrate_to_ram,
	.memory_failure = cli_memory_failure,
};

/* ---------- direct pgmaps ---------- */

void exec_memremap(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	const char *hn = r->s->handles[st->handle].name;
	struct zd_dev_pagemap *pg;
	uint64_t start = 0, pages = st->size >> m->arch.page_shift;
	int nid = st->has_node ? (int)st->node : 0;
	bool cpu = false;
	char a[32];

	if (!handle_idle(r, st->handle, "a pgmap", "memunmap", res))
		return;
	if (!st->dpa && !resolve_or_fail(r, &st->start, res, &start))
		return;
	if (st->dpa && st->size & (m->arch.page_size - 1)) {
		res->err = -EINVAL;
		snprintf(res->why, sizeof(res->why), "size 0x%" PRIx64 " is not a whole number of %"
			 PRIu64 "-byte pages", st->size, m->arch.page_size);
		return;
	}
	pg = calloc(1, sizeof(*pg));
	if (!pg) {
		res->err = -ENOMEM;
		return;
	}
	zd_dev_pagemap_init(pg);
	pg->type = (enum zd_memory_type)st->mtype;
	pg->vmemmap_shift = st->vmemmap_shift;
	pg->ops = &cli_pgmap_ops;
	pg->owner = (void *)cli_owner;
	if (st->dpa) {
		/* the handle holds the offset in the device-private space */
		long long off;

		pg->nr_pages = pages;
		off = zd_memremap_device_private_pagemap(m, pg, nid);
		res->err = off < 0 ? (int)off : 0;
		start = (uint64_t)off;
	} else {
		void *ret;

		pg->range.start = start;
		pg->range.end = start + st->size - 1;
		pg->nr_range = 1;
		ret = zd_memremap_pages(m, pg, nid);
		res->err = ZD_IS_ERR(ret) ? (int)ZD_PTR_ERR(ret) : 0;
		cpu = ret != NULL;
	}
	if (res->err) {
		free(pg);
		return;
	}
	handle_set(r, st->handle, start, st->dpa)->pgmap = pg;
	step_info(res, "%s: %s pgmap %s0x%" PRIx64 "-0x%" PRIx64 "%s, %" PRIu64 " pages in folios "
		  "of %s, node %d, %s", hn, cli_memory_type_name(st->mtype),
		  st->dpa ? "in the device-private space [" : "[mem ", pg->range.start,
		  pg->range.end, "]", pages,
		  fmt_size(m->arch.page_size << st->vmemmap_shift, a, sizeof(a)), nid,
		  cpu ? "CPU-addressable" : "not CPU-addressable");
	jw_kstr(r->json, "space", st->dpa ? "device_private" : "physical");
	jw_khex(r->json, "start", pg->range.start);
	jw_khex(r->json, "end", pg->range.end);
	jw_ku64(r->json, "nr_pages", pages);
	jw_kbool(r->json, "cpu_addressable", cpu);
}

/* ---------- handles that hold device memory ---------- */

static void unmap_handle(struct handle_state *h)
{
	if (h->pgmap->pages)
		zd_memunmap_device_private_pagemap(h->pgmap);
	else
		zd_memunmap_pages(h->pgmap);
	free(h->pgmap);
	h->pgmap = NULL;
	h->live = false;
}

void run_release_handles(struct run *r)
{
	release_mirrors(r, -1);   /* before the processes go */
	for (int i = 0; i < r->s->nr_handles; i++) {
		struct handle_state *h = &r->h[i];

		if (h->live && r->s->handles[i].kind == H_GPU_PAGE) {
			zd_put_page(r->m, h->page);
			h->live = false;
		}
		if (h->live && r->s->handles[i].kind == H_GUP)
			for (long k = 0; k < h->nr_pins; k++)
				zd_put_page(r->m, h->pins[k]);   /* put_page(), as gup's holder must */
		if (h->live && (r->s->handles[i].kind == H_PIN || r->s->handles[i].kind == H_GUP)) {
			if (r->s->handles[i].kind == H_PIN)
				zd_unpin_user_pages(r->m, h->pins, (unsigned long)h->nr_pins);
			free(h->pins);
			h->pins = NULL;
			h->live = false;
		}
	}
	/* a background truncate waits for pins: joined once they are gone */
	run_join_tasks(r);
	for (int i = r->s->nr_handles - 1; i >= 0; i--)
		if (r->h[i].live && r->s->handles[i].kind == H_PGMAP)
			unmap_handle(&r->h[i]);
	for (int i = 0; i < r->s->nr_handles; i++) {
		free(r->h[i].meminfo);
		r->h[i].meminfo = NULL;
	}
}

/* ---------- memunmap, memory_failure ---------- */

void exec_memunmap(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];

	if (!handle_held(r, st->handle, "pgmap", "unmapped", "memremap", res))
		return;
	step_info(res, "%s: %s pgmap unmapped: its struct pages and its pgmap lookup are gone",
		  r->s->handles[st->handle].name, cli_memory_type_name(h->pgmap->type));
	unmap_handle(h);
}

void exec_memory_failure(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	uint64_t addr;

	if (!resolve_or_fail(r, &st->start, res, &addr))
		return;
	res->err = zd_memory_failure(m, (unsigned long)zd_phys_pfn(&m->arch, addr), 0);
	if (!res->err)
		step_info(res, "memory_failure(pfn 0x%" PRIx64 ") handled",
			  zd_phys_pfn(&m->arch, addr));
}

/* ---------- expect forms ---------- */

const char *tf(bool v)
{
	return v ? "true" : "false";
}

void expect_bytes(struct step_result *res, const char *what, const char *got,
		  const char *want, size_t n)
{
	char g[160], w[160];

	if (!memcmp(got, want, n))
		return;
	step_fail(res, "%s: got \"%s\", expected \"%s\"", what,
		  fmt_escaped(got, n < 48 ? n : 48, g, sizeof(g)),
		  fmt_escaped(want, n < 48 ? n : 48, w, sizeof(w)));
}

void ex_page_is_ram(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t addr, pfn;
	bool v;

	if (!expect_addr(r, st, res, &addr, &pfn))
		return;
	v = zd_page_is_ram(r->m, pfn) != 0;
	step_info(res, "page_is_ram(0x%" PRIx64 ") = %s", pfn, tf(v));
	if (v != st->want_bool)
		step_fail(res, "page_is_ram(pfn 0x%" PRIx64 ") for address 0x%" PRIx64 ": got %s, "
			  "expected %s", pfn, addr, tf(v), tf(st->want_bool));
}

void ex_valid_phys_addr_range(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t addr, pfn;
	bool v;

	if (!expect_addr(r, st, res, &addr, &pfn))
		return;
	v = zd_valid_phys_addr_range(r->m, addr, st->size);
	step_info(res, "valid_phys_addr_range(0x%" PRIx64 ", 0x%" PRIx64 ") = %s", addr, st->size,
		  tf(v));
	if (v != st->want_bool)
		step_fail(res, "valid_phys_addr_range(0x%" PRIx64 ", 0x%" PRIx64 "): got %s, expected "
			  "%s", addr, st->size, tf(v), tf(st->want_bool));
}

void ex_zone_device(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	uint64_t addr, pfn;
	bool valid, v;

	if (!expect_addr(r, st, res, &addr, &pfn))
		return;
	valid = zd_pfn_valid(m, pfn);
	v = valid && zd_is_zone_device_page(zd_pfn_to_page(m, pfn));
	step_info(res, "pfn 0x%" PRIx64 ": %s", pfn,
		  !valid ? "no struct page (pfn_valid false)" :
		  v ? "a ZONE_DEVICE page" : "not a ZONE_DEVICE page");
	if (v != st->want_bool)
		step_fail(res, "zone_device(pfn 0x%" PRIx64 ") for address 0x%" PRIx64 ": got %s, "
			  "expected %s%s", pfn, addr, tf(v), tf(st->want_bool),
			  valid ? "" : " (the pfn has no struct page)");
}

void ex_pgmap(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_dev_pagemap *pg;
	uint64_t addr, pfn;
	int type;

	if (!expect_addr(r, st, res, &addr, &pfn))
		return;
	pg = zd_get_dev_pagemap(r->m, (unsigned long)pfn);
	type = pg ? (int)pg->type : PGMAP_NONE;
	if (pg)
		step_info(res, "pfn 0x%" PRIx64 ": %s pgmap [mem 0x%" PRIx64 "-0x%" PRIx64 "]", pfn,
			  cli_memory_type_name(type), pg->range.start,
			  pg->ranges[pg->nr_range - 1].end);
	else
		step_info(res, "pfn 0x%" PRIx64 ": no pgmap", pfn);
	zd_put_dev_pagemap(pg);
	if (type != st->mtype)
		step_fail(res, "pgmap of pfn 0x%" PRIx64 " (address 0x%" PRIx64 "): got %s, "
			  "expected %s", pfn, addr, cli_memory_type_name(type),
			  cli_memory_type_name(st->mtype));
}

void ex_cpu_addressable(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	uint64_t addr, pfn, off;
	const char *p = NULL;
	char what[96];
	bool v;

	if (!expect_addr(r, st, res, &addr, &pfn))
		return;
	off = addr & (m->arch.page_size - 1);
	if (zd_pfn_valid(m, pfn)) {
		struct zd_page *page = zd_pfn_to_page(m, pfn);

		p = zd_is_zone_device_page(page) ? zd_device_page_address(m, page) :
						   zd_pfn_address(m, pfn);
	}
	v = p != NULL;
	step_info(res, "address 0x%" PRIx64 ": %s", addr,
		  v ? "the CPU can load and store here" : "no CPU mapping");
	if (v != st->want_bool) {
		step_fail(res, "cpu_addressable(0x%" PRIx64 "): got %s, expected %s", addr, tf(v),
			  tf(st->want_bool));
		return;
	}
	if (!v || !st->has_data)
		return;
	if (st->data.len > m->arch.page_size - off) {
		step_fail(res, "%zu bytes at 0x%" PRIx64 " cross a page boundary; compare at "
			  "most %" PRIu64 " bytes here", st->data.len, addr, m->arch.page_size - off);
		return;
	}
	snprintf(what, sizeof(what), "bytes at 0x%" PRIx64 " as the CPU reads them", addr);
	expect_bytes(res, what, p + off, st->data.p, st->data.len);
}
