/*
 * Scenario steps: each step's exec function (named by the step table,
 * schema-steps.c) calls one library entry point, or an expect form's eval
 * function checks one observable; either reports the outcome as a
 * step_result. The runner decides what the outcome means (expected error,
 * failure); steps only say what happened. This file: the RAM steps and
 * forms, and the dispatch.
 * Invariants: a step never retries or papers over a library error: err is
 * exactly what the library returned (NULL pointers become the errno the
 * kernel's callers would use: -EBUSY for a region request, -ENOMEM for an
 * allocation). Handles hold pages only between their alloc_pages and
 * free_pages; a region handle keeps its address for the rest of the run.
 * A failed check keeps its first reason (step_fail(), which every step,
 * the device ones too, reports through).
 */
#include "cli.h"
#include "devsteps.h"
#include "schema.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void step_fail(struct step_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->check_failed)
		return;    /* the first one explains it */
	res->check_failed = true;
	va_start(ap, fmt);
	vsnprintf(res->failure, sizeof(res->failure), fmt, ap);
	va_end(ap);
}

void step_info(struct step_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->info, sizeof(res->info), fmt, ap);
	va_end(ap);
}

/* The address an addr_arg stands for at this point of the run; -ENOENT if
 * its handle was never set, -EFAULT if it holds a dpa offset. */
static int resolve_addr(struct run *r, const struct addr_arg *a, uint64_t *out)
{
	if (a->handle < 0) {
		*out = a->value;
		return 0;
	}
	if (!r->h[a->handle].ever)
		return -ENOENT;
	if (r->h[a->handle].not_phys)
		return -EFAULT;
	*out = r->h[a->handle].addr;
	return 0;
}

bool resolve_or_fail(struct run *r, const struct addr_arg *a, struct step_result *res,
			    uint64_t *out)
{
	int rc = resolve_addr(r, a, out);

	if (!rc)
		return true;
	if (rc == -EFAULT)
		step_fail(res, "handle '%s' holds a device-private offset (device_private: dpa), "
			  "not a physical address", r->s->handles[a->handle].name);
	else
		step_fail(res, "handle '%s' holds no address (the step that defines it did not "
			  "succeed)", r->s->handles[a->handle].name);
	return false;
}

struct handle_state *handle_set(struct run *r, int handle, uint64_t addr, bool not_phys)
{
	struct handle_state *h = handle >= 0 ? &r->h[handle] : NULL;

	if (h) {
		h->live = h->ever = true;
		h->addr = addr;
		h->not_phys = not_phys;
	}
	return h;
}

bool handle_idle(struct run *r, int handle, const char *what, const char *release,
		 struct step_result *res)
{
	if (!r->h[handle].live)
		return true;
	step_fail(res, "handle '%s' still holds %s; %s it first", r->s->handles[handle].name,
		  what, release);
	return false;
}

bool handle_held(struct run *r, int handle, const char *what, const char *gone,
		 const char *definer, struct step_result *res)
{
	if (r->h[handle].live)
		return true;
	step_fail(res, "handle '%s' holds no %s (already %s, or its %s failed)",
		  r->s->handles[handle].name, what, gone, definer);
	return false;
}

/* A field of /proc/meminfo text ("MemFree:   123 kB"); 0, or -1 if absent. */
static int meminfo_text_field(const char *text, const char *field, uint64_t *kb)
{
	size_t n = strlen(field);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long long v;

		if (!strncmp(l, field, n) && l[n] == ':' && sscanf(l + n + 1, "%llu", &v) == 1) {
			*kb = v;
			return 0;
		}
	}
	return -1;
}

/* A pointer a library call returned, as an errno: 0 for a real pointer,
 * null_err for NULL, the errno an ERR_PTR encodes. */
static int ptr_err(const void *p, int null_err)
{
	if (!p)
		return null_err;
	return ZD_IS_ERR(p) ? (int)ZD_PTR_ERR(p) : 0;
}

static const char *zone_name_of(struct zd_machine *m, const struct zd_page *p)
{
	struct zd_zone *z = zd_page_zone(m, p);

	if (z->name)
		return z->name;
	return (unsigned)zd_page_zonenum(p) < ZD_MAX_NR_ZONES ? zd_zone_names[zd_page_zonenum(p)] : "?";
}

/* ---------- RAM steps ---------- */

/* The RAM steps on a range: its start resolved, then one library call
 * whose errno is the step's. */
#define RANGE_STEP(name, call)								\
	void name(struct run *r, const struct step *st, struct step_result *res)	\
	{										\
		uint64_t start;								\
											\
		if (resolve_or_fail(r, &st->start, res, &start))			\
			res->err = (call);						\
	}

RANGE_STEP(exec_add_memory, zd_add_memory(r->m, (int)st->node, start, st->size, ZD_MHP_NONE))
RANGE_STEP(exec_remove_memory, zd_remove_memory(r->m, start, st->size))
RANGE_STEP(exec_online_memory,
	   zd_online_memory_range(r->m, start, st->size, (enum zd_online_type)st->online))
RANGE_STEP(exec_offline_memory, zd_offline_memory_range(r->m, start, st->size))
RANGE_STEP(exec_request_mem_region,
	   ptr_err(zd_request_mem_region(r->m, start, st->size, st->res_name), -EBUSY))
RANGE_STEP(exec_release_mem_region, zd_release_mem_region(r->m, start, st->size))

void exec_alloc_pages(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	struct handle_state *h = st->handle >= 0 ? &r->h[st->handle] : NULL;
	struct zd_page *page;
	uint64_t pfn;
	char sz[32];

	if (h && !handle_idle(r, st->handle, "pages", "free_pages", res))
		return;
	if (st->has_node)
		page = zd_alloc_pages_node(m, (int)st->node, (zd_gfp_t)st->gfp, (unsigned)st->order);
	else
		page = zd_alloc_pages(m, (zd_gfp_t)st->gfp, (unsigned)st->order);
	res->err = ptr_err(page, -ENOMEM);
	if (res->err)
		return;
	pfn = zd_page_to_pfn(m, page);
	if (handle_set(r, st->handle, zd_pfn_phys(&m->arch, pfn), false)) {
		h->page = page;
		h->order = (unsigned)st->order;
	}
	step_info(res, "%s%spfn 0x%" PRIx64 " (phys 0x%" PRIx64 ", %s) in zone %s, node %d",
		  h ? r->s->handles[st->handle].name : "", h ? ": " : "", pfn,
		  zd_pfn_phys(&m->arch, pfn),
		  fmt_size(m->arch.page_size << st->order, sz, sizeof(sz)), zone_name_of(m, page),
		  zd_page_to_nid(page));
	jw_khex(r->json, "pfn", pfn);
	jw_khex(r->json, "phys", zd_pfn_phys(&m->arch, pfn));
	jw_kstr(r->json, "zone", zone_name_of(m, page));
	jw_ki64(r->json, "node", zd_page_to_nid(page));
}

void exec_request_free_mem_region(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_resource *rs = zd_request_free_mem_region(r->m, NULL, st->size, st->res_name);
	char sz[32];

	res->err = ptr_err(rs, -ENOMEM);
	if (res->err)
		return;
	handle_set(r, st->handle, rs->start, false);
	step_info(res, "%s%s[mem 0x%" PRIx64 "-0x%" PRIx64 "] (%s)",
		  st->handle >= 0 ? r->s->handles[st->handle].name : "",
		  st->handle >= 0 ? " = " : "", (uint64_t)rs->start, (uint64_t)rs->end,
		  fmt_size(zd_resource_size(rs), sz, sizeof(sz)));
	jw_khex(r->json, "start", rs->start);
	jw_khex(r->json, "end", rs->end);
}

/* ---------- expect: the RAM forms ---------- */

bool expect_addr(struct run *r, const struct step *st, struct step_result *res,
		 uint64_t *addr, uint64_t *pfn)
{
	if (!resolve_or_fail(r, &st->start, res, addr))
		return false;
	*pfn = zd_phys_pfn(&r->m->arch, *addr);
	return true;
}

void ex_pfn_valid(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t addr, pfn;
	bool v;

	if (!expect_addr(r, st, res, &addr, &pfn))
		return;
	v = zd_pfn_valid(r->m, pfn);
	step_info(res, "pfn_valid(0x%" PRIx64 ") = %s", pfn, v ? "true" : "false");
	if (v != st->want_bool)
		step_fail(res, "pfn_valid(0x%" PRIx64 ") for address 0x%" PRIx64 ": got %s, "
			  "expected %s", pfn, addr, v ? "true" : "false",
			  st->want_bool ? "true" : "false");
}

void ex_section(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	uint64_t addr, pfn, nr;
	unsigned long word, known = 0;
	bool present;
	char a[64] = "not_present", b[64] = "not_present";

	if (!expect_addr(r, st, res, &addr, &pfn))
		return;
	for (int i = 0; section_flag_names[i].name; i++)
		known |= section_flag_names[i].bit;
	nr = zd_pfn_section_nr(&m->arch, pfn);
	word = zd_section_word(zd_pfn_to_section(m, pfn)) & known;
	present = word & ZD_SECTION_MARKED_PRESENT;
	if (present)
		fmt_section_flags(word, a, sizeof(a));
	if (!st->not_present)
		fmt_section_flags(st->section_flags, b, sizeof(b));
	step_info(res, "section %" PRIu64 ": %s", nr, a);
	if (st->not_present ? present : word != st->section_flags)
		step_fail(res, "section %" PRIu64 " (address 0x%" PRIx64 "): got %s, "
			  "expected %s", nr, addr, a, b);
}

static void expect_block(struct run *r, const struct step *st, uint64_t id,
			 struct step_result *res)
{
	struct zd_memory_block mb;
	int state = zd_memory_block_get(r->m, id, &mb) ? BLOCK_ABSENT : (int)mb.state;
	const char *gs = state == BLOCK_ABSENT ? "absent" :
			 zd_mem_state_name((enum zd_mem_state)state);
	const char *ws = st->block_state == BLOCK_ABSENT ? "absent" :
			 zd_mem_state_name((enum zd_mem_state)st->block_state);
	const char *gz = state == ZD_MEM_ONLINE && (unsigned)mb.zone < ZD_MAX_NR_ZONES ?
			 zd_zone_names[mb.zone] : NULL;

	step_info(res, "memory%" PRIu64 ": %s%s%s", id, gs, gz ? " in " : "", gz ? gz : "");
	if (state != st->block_state)
		step_fail(res, "memory block %" PRIu64 " (memory%" PRIu64 "): got %s, "
			  "expected %s", id, id, gs, ws);
	else if (st->block_zone >= 0 && (!gz || strcmp(gz, zd_zone_names[st->block_zone])))
		step_fail(res, "memory block %" PRIu64 " (memory%" PRIu64 "): online in "
			  "zone %s, expected zone %s", id, id, gz ? gz : "?",
			  zd_zone_names[st->block_zone]);
}

void ex_memory_block(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t addr;

	if (resolve_or_fail(r, &st->start, res, &addr))
		expect_block(r, st, zd_phys_to_block_id(r->m, addr), res);
}

void ex_memory_block_id(struct run *r, const struct step *st, struct step_result *res)
{
	expect_block(r, st, st->id, res);
}

void ex_meminfo(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t got, then;
	int rc = zd_meminfo_field(r->m, st->field, &got);
	char a[64];

	if (rc) {
		step_fail(res, "meminfo has no field '%s' (%s)", st->field,
			  fmt_errno(rc, a, sizeof(a)));
		return;
	}
	if (st->since >= 0) {
		/* The field's fall since the snapshot is what is checked. */
		if (!handle_held(r, st->since, "meminfo snapshot", "gone", "meminfo_snapshot", res))
			return;
		if (meminfo_text_field(r->h[st->since].meminfo, st->field, &then)) {
			step_fail(res, "the snapshot '%s' has no field %s",
				  r->s->handles[st->since].name, st->field);
			return;
		}
		if (got > then) {
			step_fail(res, "meminfo %s rose by %" PRIu64 " kB since '%s'", st->field,
				  got - then, r->s->handles[st->since].name);
			return;
		}
		step_info(res, "%s: %" PRIu64 " kB, fell by %" PRIu64 " kB since '%s'", st->field,
			  got, then - got, r->s->handles[st->since].name);
		got = then - got;
	} else {
		step_info(res, "%s: %" PRIu64 " kB", st->field, got);
	}
	if (st->has_is && got != st->is)
		step_fail(res, "meminfo %s: got %" PRIu64 " kB, expected %" PRIu64 " kB",
			  st->field, got, st->is);
	else if (st->has_min && got < st->min)
		step_fail(res, "meminfo %s: got %" PRIu64 " kB, expected at least %" PRIu64
			  " kB", st->field, got, st->min);
	else if (st->has_max && got > st->max)
		step_fail(res, "meminfo %s: got %" PRIu64 " kB, expected at most %" PRIu64
			  " kB", st->field, got, st->max);
}

void ex_zoneinfo(struct run *r, const struct step *st, struct step_result *res)
{
	static const char *const k[] = { "start_pfn", "spanned", "present", "managed" };
	struct zd_machine *m = r->m;
	int node = (int)st->zone_node;
	struct zd_zone *z;
	uint64_t v[4];

	if (node >= m->nr_nodes) {
		step_fail(res, "node %d does not exist (the machine has %d)", node, m->nr_nodes);
		return;
	}
	z = &m->node_data[node]->node_zones[st->zone_idx];
	zd_get_online_mems(m);
	v[0] = z->zone_start_pfn;
	v[1] = z->spanned_pages;
	v[2] = z->present_pages;
	v[3] = (uint64_t)__atomic_load_n(&z->managed_pages, __ATOMIC_RELAXED);
	zd_put_online_mems(m);
	step_info(res, "Node %d, zone %s: start_pfn 0x%" PRIx64 " spanned %" PRIu64 " present %"
		  PRIu64 " managed %" PRIu64, node, zd_zone_names[st->zone_idx], v[0], v[1], v[2],
		  v[3]);
	for (int i = 0; i < 4; i++)
		if (st->has_zone_count[i] && v[i] != st->zone_count[i])
			step_fail(res, "Node %d, zone %s: %s is %" PRIu64 ", expected %" PRIu64,
				  node, zd_zone_names[st->zone_idx], k[i], v[i], st->zone_count[i]);
}

void ex_iomem(struct run *r, const struct step *st, struct step_result *res)
{
	/* One whole line of /proc/iomem, indentation and all. */
	size_t len = 0, n = strlen(st->field);
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);
	bool found = false;

	if (f) {
		zd_iomem_dump(r->m, f);
		fclose(f);
	}
	for (const char *l = text; l && *l && !found; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		found = !strncmp(l, st->field, n) && (l[n] == '\n' || !l[n]);
	free(text);
	step_info(res, "/proc/iomem %s \"%s\"", found ? "has" : "has no line", st->field);
	if (found != st->want_bool)
		step_fail(res, "/proc/iomem %s the line \"%s\"", found ? "has" : "has no",
			  st->field);
}

void ex_max_pfn(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t got = zd_max_pfn(r->m);

	step_info(res, "max_pfn = 0x%" PRIx64, got);
	if (got != st->is)
		step_fail(res, "max_pfn: got 0x%" PRIx64 ", expected 0x%" PRIx64, got, st->is);
}

void ex_handle(struct run *r, const struct step *st, struct step_result *res)
{
	const char *name = r->s->handles[st->start.handle].name;
	uint64_t got;

	if (!r->h[st->start.handle].ever) {
		step_fail(res, "handle '%s' holds no address (the step that defines it did "
			  "not succeed)", name);
		return;
	}
	got = r->h[st->start.handle].addr;
	step_info(res, "%s = 0x%" PRIx64, name, got);
	if (got != st->is)
		step_fail(res, "handle '%s': got 0x%" PRIx64 ", expected 0x%" PRIx64, name, got,
			  st->is);
}

void exec_expect(struct run *r, const struct step *st, struct step_result *res)
{
	/* A device the machine did not bring up fails the check. */
	if (st->region >= 0 && !pmem_region(r->m, st->region))
		step_fail(res, "region%d is not on the booted machine", st->region);
	else if (st->gpu >= 0 && !gpu_device(r, st->gpu))
		step_fail(res, "%s is not on the booted machine", r->s->gpus[st->gpu].name);
	else
		st->form->eval(r, st, res);
	jw_kstr(r->json, "observed", res->info);
	jw_kbool(r->json, "holds", !res->check_failed);
}

/* ---------- the other RAM steps ---------- */

void exec_free_pages(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];

	if (!handle_held(r, st->handle, "pages", "freed", "alloc_pages", res))
		return;
	zd___free_pages(r->m, h->page, h->order);
	h->live = false;
	h->page = NULL;
}

void exec_report(struct run *r, const struct step *st, struct step_result *res)
{
	if (st->report == RP_PAGEMAP) {
		pagemap_report(r, st, res);   /* of one process's range */
		return;
	}
	if (r->o->json) {
		jw_key(&r->jw, "report");
		report_json(r->m, (enum report_kind)st->report, &r->jw);
	} else {
		fflush(r->out);
		report_text(r->m, (enum report_kind)st->report, r->out);
	}
}

void exec_note(struct run *r, const struct step *st, struct step_result *res)
{
	jw_kstr(r->json, "text", st->text);
}

void exec_meminfo_snapshot(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];
	size_t len = 0;
	FILE *f;

	free(h->meminfo);
	h->meminfo = NULL;
	f = open_memstream(&h->meminfo, &len);
	if (f) {
		zd_meminfo_show(r->m, f);
		fclose(f);
	}
	h->live = h->ever = h->meminfo != NULL;
}

/* ---------- dispatch ---------- */

void step_exec(struct run *r, const struct step *st, struct step_result *res)
{
	memset(res, 0, sizeof(*res));
	/* A device named in the scenario that the machine did not bring up
	 * (an expect step checks for it itself). */
	if (!st->form && ((st->region >= 0 && !pmem_region(r->m, st->region)) ||
			  (st->gpu >= 0 && !gpu_device(r, st->gpu)))) {
		res->err = -ENODEV;
		snprintf(res->why, sizeof(res->why), "%s is not on the booted machine", st->dev_name);
		return;
	}
	st->def->exec(r, st, res);
}
