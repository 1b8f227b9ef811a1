/*
 * The scenario runner: boots the machine a scenario describes, executes its
 * steps in order and judges each outcome against the step's expect_error,
 * then checks that no invariant check (WARN) fired. Text mode echoes each
 * step as "== FILE:LINE name args"; JSON mode writes one document with a
 * record per step. A caller may run only the first steps and look at the
 * machine before it goes (run_opts.at_end: zonedev map).
 * Invariants: the first failing step stops the run; every failure message
 * starts with FILE:LINE and names the step, the errno and the last dmesg
 * line the step logged; the exit code is 0 only if every step met its
 * expectation and the WARN counter is still zero.
 */
#include "cli.h"
#include "schema.h"

#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#define STEP_DMESG_LINES 16

struct zd_machine *scenario_boot(struct scenario *s, const struct run_opts *o,
					FILE *log_echo)
{
	struct zd_machine_desc d = {
		.arch = s->arch, .phys_bits = s->phys_bits, .va_bits = s->va_bits,
		.memory_block_size = s->block_size, .nr_nodes = s->nodes,
		.debug_vm = s->debug_vm, .auto_online_blocks = s->auto_online,
		.crashkernel = s->crashkernel, .swiotlb_size = s->swiotlb_size,
		.swiotlb_off = s->swiotlb_off, .device_private = s->device_private,
		.transparent_hugepage = s->thp,
		.device_exclusive_era = (enum zd_exclusive_era)s->exclusive_era,
		.pmem = s->pmem, .nr_pmem = s->nr_pmem, .gpus = s->gpus, .nr_gpus = s->nr_gpus,
		.iomem_path = s->iomem_path,
		.ram = s->ram, .nr_ram = s->nr_ram, .reserved = s->reserved,
		.nr_reserved = s->nr_reserved,
		.log_echo = log_echo, .console_loglevel = o->log_level, .dyndbg = o->dyndbg,
		.host_memory_unguarded = !s->host_memory_guard || o->no_memory_guard,
		.progress = progress_update,
	};

	if (s->default_layout)
		default_layout(s->arch, &d.ram, &d.nr_ram, &d.reserved, &d.nr_reserved);
	return zd_machine_create(&d);
}

/* "FILE:LINE:COL: machine.pmem entry 0" for the entry a failed boot was
 * about, else "FILE:LINE: machine". A default layout has no entries. */
static void boot_blame(const struct scenario *s, char *buf, size_t len)
{
	static const char *const names[] = {
		[ZD_DESC_RAM] = "ram", [ZD_DESC_RESERVED] = "reserved", [ZD_DESC_PMEM] = "pmem",
		[ZD_DESC_GPU] = "gpus",
	};
	struct zd_desc_blame b = zd_machine_create_blame();

	if (b.list == ZD_DESC_IOMEM && s->iomem_line)
		snprintf(buf, len, "%s:%d:%d: machine.iomem", s->file, s->iomem_line,
			 s->iomem_col);
	else if (b.list != ZD_DESC_NONE && b.list != ZD_DESC_IOMEM &&
		 b.index < s->nr_entry_pos[b.list] &&
	    s->entry_pos[b.list][b.index].line)
		snprintf(buf, len, "%s:%d:%d: machine.%s entry %zu", s->file,
			 s->entry_pos[b.list][b.index].line, s->entry_pos[b.list][b.index].col,
			 names[b.list], b.index);
	else
		snprintf(buf, len, "%s:%d: machine", s->file, s->machine_line);
}

/* ---------- argument formatting ---------- */

static const char *fmt_arg(const struct step_arg *a, char *buf, size_t len)
{
	switch (a->type) {
	case ARG_ADDR:
		if (a->s)
			snprintf(buf, len, "%s", a->s);
		else
			snprintf(buf, len, "0x%" PRIx64, a->u);
		break;
	case ARG_SIZE: fmt_size(a->u, buf, len); break;
	case ARG_AUTO:   /* never in args: the schema resolves it */
	case ARG_UINT: snprintf(buf, len, "%" PRIu64, a->u); break;
	case ARG_HEX: snprintf(buf, len, "0x%" PRIx64, a->u); break;
	case ARG_BOOL: snprintf(buf, len, "%s", a->u ? "true" : "false"); break;
	case ARG_KB: snprintf(buf, len, "%" PRIu64 "kB", a->u); break;
	case ARG_FLAGS: fmt_section_flags(a->u, buf, len); break;
	case ARG_STR: {
		char esc[200];
		bool quote = !a->s[0] || strpbrk(a->s, " \t\n\"'\\");

		for (const char *p = a->s; *p && !quote; p++)
			quote = (unsigned char)*p < 0x20 || *p == 0x7f;
		if (quote)
			snprintf(buf, len, "\"%s\"", fmt_escaped(a->s, strlen(a->s), esc,
								 sizeof(esc)));
		else
			snprintf(buf, len, "%s", a->s);
		break;
	}
	}
	return buf;
}

static void json_args(struct jw *w, const struct step *st)
{
	jw_key(w, "args");
	jw_obj_begin(w);
	for (int i = 0; i < st->nargs; i++) {
		const struct step_arg *a = &st->args[i];

		jw_key(w, a->key);
		switch (a->type) {
		case ARG_ADDR:
			if (a->s)
				jw_str(w, a->s);
			else
				jw_hex(w, a->u);
			break;
		case ARG_AUTO:
		case ARG_SIZE:
		case ARG_UINT:
		case ARG_KB:
			jw_u64(w, a->u);
			break;
		case ARG_HEX: jw_hex(w, a->u); break;
		case ARG_BOOL: jw_bool(w, a->u); break;
		case ARG_STR: jw_str(w, a->s); break;
		case ARG_FLAGS:
			jw_arr_begin(w);
			for (int f = 0; section_flag_names[f].name; f++)
				if (a->u & section_flag_names[f].bit)
					jw_str(w, section_flag_names[f].name);
			jw_arr_end(w);
			break;
		}
	}
	jw_obj_end(w);
}

/* Each line of text as a "# line" comment. */
static void print_comment(FILE *f, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n = strcspn(p, "\n");

		fprintf(f, "# %.*s\n", (int)n, p);
		p += n;
		if (*p)
			p++;
	}
}

static void echo_step(struct run *r, const struct step *st)
{
	char buf[256];

	if (st->def->flags & SD_COMMENT) {
		fputc('\n', r->out);
		print_comment(r->out, st->text);
		return;
	}
	fprintf(r->out, "== %s:%d %s", r->s->file, st->line, st->name);
	for (int i = 0; i < st->nargs; i++) {
		if ((st->def->flags & SD_BARE) && !i)   /* "report pagemap process=p ..." */
			fprintf(r->out, " %s", fmt_arg(&st->args[i], buf, sizeof(buf)));
		else
			fprintf(r->out, " %s=%s", st->args[i].key,
				fmt_arg(&st->args[i], buf, sizeof(buf)));
	}
	if (st->expect_error)
		fprintf(r->out, " expect_error=%s", st->expect_error_name);
	fputc('\n', r->out);
}

/* The lines of this step (the last STEP_DMESG_LINES of them): those
 * logged after seq0 except a background step's (run_task_line), plus, for
 * the step that waited for one, that thread's lines since it settled. */
static size_t step_log(struct run *r, unsigned long seq0, const struct step_result *res,
		       struct zd_log_line *lines)
{
	static struct zd_log_line all[ZD_LOG_RING];
	unsigned long now = zd_log_seq(r->m), from = seq0;
	size_t n, k = 0;

	if (res->log_caller && res->log_since < from)
		from = res->log_since;
	if (now <= from)
		return 0;
	n = zd_log_read(r->m, now - from > ZD_LOG_RING ? now - ZD_LOG_RING : from, all,
			ZD_LOG_RING);
	for (size_t i = 0; i < n; i++) {
		const struct zd_log_line *l = &all[i];
		bool mine = l->seq > seq0 ? !run_task_line(r, l) :
			    res->log_caller && l->caller == res->log_caller;

		if (!mine)
			continue;
		if (k == STEP_DMESG_LINES)
			memmove(lines, lines + 1, --k * sizeof(*lines));
		lines[k++] = *l;
	}
	return k;
}

/* Run one step (where: "FILE:LINE: step 'name'"); 0 if it met its
 * expectation, else -1 with fail set. */
static int run_step(struct run *r, const struct step *st, const char *where, char *fail,
		    size_t faillen)
{
	struct step_result res;
	struct zd_log_line lines[STEP_DMESG_LINES];
	unsigned long seq0, warn0, fired;
	const char *last = NULL, *result = "ok";
	char e1[32], ctx[sizeof(lines[0].text) + 16];
	bool chatty = !r->o->json && !r->o->quiet;
	size_t nlines;
	int rc = -1;

	if (chatty)
		echo_step(r, st);
	jw_obj_begin(r->json);
	jw_ku64(r->json, "line", (uint64_t)st->line);
	jw_kstr(r->json, "step", st->name);
	json_args(r->json, st);
	if (st->expect_error)
		jw_kstr(r->json, "expect_error", st->expect_error_name);
	fflush(r->out);
	seq0 = zd_log_seq(r->m);
	warn0 = zd_warn_count(r->m);
	step_exec(r, st, &res);
	if (r->step_delay_us)   /* ZD_STEP_DELAY_MS: see run_scenario */
		usleep(r->step_delay_us);
	progress_clear();
	fired = zd_warn_count(r->m) - warn0;
	/* The last line the console shows: debug lines (pr_debug) stay out of
	 * the CLI's output unless --log-level/--dyndbg turn them on, as on a
	 * kernel console: some carry timings, and output must not depend on
	 * the clock unless the user asks for them. */
	nlines = step_log(r, seq0, &res, lines);
	for (size_t i = nlines; i-- && !last;)
		if (zd_log_visible(r->m, &lines[i]))
			last = lines[i].text;
	if (res.why[0])
		snprintf(ctx, sizeof(ctx), "; %s", res.why);
	else
		snprintf(ctx, sizeof(ctx), "; dmesg: %s", last ? last : "(the step logged nothing)");

	if (st->has_expect_warn && fired != st->expect_warn)
		snprintf(fail, faillen, "%s: expected %" PRIu64 " invariant check%s to fire, %lu "
			 "fired%s", where, st->expect_warn, st->expect_warn == 1 ? "" : "s", fired,
			 ctx);
	else if (res.check_failed)
		snprintf(fail, faillen, "%s: %s", where, res.failure);
	else if (st->expect_error && !res.err)
		snprintf(fail, faillen, "%s: expected %s, but the step succeeded%s", where,
			 st->expect_error_name, ctx);
	else if (st->expect_error && -res.err != st->expect_error)
		snprintf(fail, faillen, "%s: expected %s, but it failed with %s%s", where,
			 st->expect_error_name, fmt_errno(res.err, e1, sizeof(e1)), ctx);
	else if (!st->expect_error && res.err)
		snprintf(fail, faillen, "%s: failed with %s (%d)%s", where,
			 fmt_errno(res.err, e1, sizeof(e1)), res.err, ctx);
	else
		rc = 0;
	if (!rc && st->expect_error) {
		result = "expected_error";
		if (chatty)
			fprintf(r->out, "   failed as expected: %s%s\n",
				fmt_errno(res.err, e1, sizeof(e1)), ctx);
	} else if (!rc && chatty && res.info[0]) {
		fprintf(r->out, "   %s\n", res.info);
	}
	if (!rc && st->expect_warn > 0) {
		r->expected_warns += fired;
		if (chatty)
			fprintf(r->out, "   %lu invariant check%s fired, as expected\n", fired,
				fired == 1 ? "" : "s");
	}

	jw_kstr(r->json, "result", rc ? "failed" : result);
	if (res.err)
		jw_kstr(r->json, "errno", fmt_errno(res.err, e1, sizeof(e1)));
	if (nlines) {
		jw_key(r->json, "dmesg");
		jw_arr_begin(r->json);
		for (size_t i = 0; i < nlines; i++)
			if (zd_log_visible(r->m, &lines[i]))
				jw_str(r->json, lines[i].text);
		jw_arr_end(r->json);
	}
	if (rc)
		jw_kstr(r->json, "error", fail);
	jw_obj_end(r->json);
	fflush(r->out);
	return rc;
}

static void json_machine(struct run *r)
{
	struct zd_machine *m = r->m;
	struct scenario *s = r->s;
	struct jw *w = &r->jw;

	jw_key(w, "machine");
	jw_obj_begin(w);
	jw_kstr(w, "arch", m->arch.name);
	jw_ku64(w, "phys_bits", m->arch.phys_bits);
	jw_ku64(w, "page_size", m->arch.page_size);
	jw_ku64(w, "section_size", 1ULL << m->arch.section_size_bits);
	jw_ku64(w, "memory_block_size", zd_memory_block_size_bytes(m));
	jw_ki64(w, "nodes", m->nr_nodes);
	jw_kbool(w, "debug_vm", s->debug_vm);
	jw_kstr(w, "layout", s->iomem_given ? "iomem" : s->default_layout ? "default" : "ram");
	if (s->iomem_given)
		jw_kstr(w, "iomem", s->iomem_given);
	jw_ku64(w, "totalram_bytes", (uint64_t)zd_totalram_pages(m) * m->arch.page_size);
	jw_khex(w, "max_pfn", zd_max_pfn(m));
	jw_kstr(w, "device_private", s->device_private == ZD_DEVICE_PRIVATE_DPA ? "dpa" : "pfn");
	if (m->arch.coverage == ZD_VMEMMAP_COVERS_LINEAR_MAP)
		jw_ku64(w, "va_bits", m->arch.va_bits);
	jw_key(w, "pmem");
	jw_arr_begin(w);
	for (size_t i = 0; i < s->nr_pmem; i++) {
		char name[32];

		snprintf(name, sizeof(name), "region%zu", i);
		jw_obj_begin(w);
		jw_kstr(w, "region", name);
		jw_khex(w, "start", s->pmem[i].start);
		jw_ku64(w, "size", s->pmem[i].size);
		jw_kstr(w, "file", s->pmem_files[i]);
		jw_kstr(w, "path", s->pmem[i].path);
		jw_ki64(w, "node", s->pmem[i].node);
		jw_kbool(w, "read_only", s->pmem[i].read_only);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "gpus");
	jw_arr_begin(w);
	for (size_t i = 0; i < s->nr_gpus; i++) {
		const struct zd_dmirror_desc *g = &s->gpus[i];

		jw_obj_begin(w);
		jw_kstr(w, "name", g->name);
		jw_kstr(w, "type", g->coherent_size ? "coherent" : "private");
		if (g->coherent_size) {
			jw_khex(w, "coherent_start", g->coherent_start);
			jw_ku64(w, "coherent_size", g->coherent_size);
		} else {
			jw_ku64(w, "vram", g->vram_size);
		}
		jw_ki64(w, "node", g->node);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void text_machine(struct run *r)
{
	struct zd_machine *m = r->m;
	char a[32], b[32];

	fprintf(r->out, "== %s:%d machine arch=%s phys_bits=%u memory_block_size=%s nodes=%d "
		"ram=%s max_pfn=0x%" PRIx64 "\n", r->s->file, r->s->machine_line, m->arch.name,
		m->arch.phys_bits, fmt_size(zd_memory_block_size_bytes(m), a, sizeof(a)),
		m->nr_nodes,
		fmt_size_human((uint64_t)zd_totalram_pages(m) * m->arch.page_size, b, sizeof(b)),
		zd_max_pfn(m));
	if (m->arch.coverage == ZD_VMEMMAP_COVERS_LINEAR_MAP && r->s->va_bits)
		fprintf(r->out, "   va_bits=%u: the linear map (and the vmemmap) covers %s from "
			"0x%" PRIx64 "\n", m->arch.va_bits,
			fmt_size_human(m->arch.linear_map_size, a, sizeof(a)),
			zd_pfn_phys(&m->arch, m->vmemmap_start_pfn));
	for (size_t i = 0; i < r->s->nr_pmem; i++) {
		const struct zd_nd_region_desc *d = &r->s->pmem[i];
		char name[32];
		struct zd_nd_region *rg;
		struct zd_nd_namespace_info in;

		snprintf(name, sizeof(name), "region%zu", i);
		rg = zd_nd_region_find(m, name);
		fprintf(r->out, "   %s: pmem [mem 0x%" PRIx64 "-0x%" PRIx64 "] (%s) node %d%s, file "
			"%s", name, d->start, d->start + d->size - 1,
			fmt_size(d->size, a, sizeof(a)), d->node, d->read_only ? " read-only" : "",
			r->s->pmem_files[i]);
		if (rg && !zd_nd_namespace_get(rg, &in))
			fprintf(r->out, "; %s is %s%s%s", in.dev, zd_nd_ns_mode_name(in.mode),
				in.refused[0] ? ", refused: " : "", in.refused);
		fputc('\n', r->out);
	}
	for (size_t i = 0; i < r->s->nr_gpus; i++) {
		const struct zd_dmirror_desc *g = &r->s->gpus[i];

		if (g->coherent_size)
			fprintf(r->out, "   %s: coherent device memory [mem 0x%" PRIx64 "-0x%" PRIx64
				"] (%s) node %d\n", g->name, g->coherent_start,
				g->coherent_start + g->coherent_size - 1,
				fmt_size(g->coherent_size, a, sizeof(a)), g->node);
		else
			fprintf(r->out, "   %s: %s of device-private VRAM, node %d, device_private=%s\n",
				g->name, fmt_size(g->vram_size, a, sizeof(a)), g->node,
				r->s->device_private == ZD_DEVICE_PRIVATE_DPA ? "dpa" : "pfn");
	}
}

/* Print the WARNING lines of the log to stderr. */
static void dump_warnings(struct zd_machine *m)
{
	struct zd_log_line *lines = calloc(ZD_LOG_RING, sizeof(*lines));
	size_t n = lines ? zd_log_read(m, 0, lines, ZD_LOG_RING) : 0;

	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i].text, "WARNING"))
			fprintf(stderr, "  [%6lu] %s\n", lines[i].seq, lines[i].text);
	free(lines);
}

int run_scenario(struct scenario *s, const struct run_opts *o)
{
	struct run *r = calloc(1, sizeof(*r));
	bool chatty = !o->json && !o->quiet;
	char fail[2048] = "", warnmsg[256] = "";
	unsigned long warns = 0;
	size_t done = 0;
	int rc = EXIT_OK;

	if (!r) {
		fprintf(stderr, "zonedev: out of memory\n");
		return EXIT_FAIL;
	}
	r->s = s;
	r->o = o;
	r->out = o->out ? o->out : stdout;
	/* A test hook: a pause after each step, before its log lines are
	 * taken. Output must not change with it (tests/scenarios.sh), which
	 * catches a background thread's line landing in whichever step runs. */
	if (getenv("ZD_STEP_DELAY_MS"))
		r->step_delay_us = (unsigned)(atof(getenv("ZD_STEP_DELAY_MS")) * 1000);
	if (o->json) {
		jw_init(&r->jw, stdout);
		r->json = &r->jw;
		jw_obj_begin(&r->jw);
		jw_kstr(&r->jw, "zonedev", ZONEDEV_VERSION);
		jw_kstr(&r->jw, "scenario", s->file);
		if (s->description)
			jw_kstr(&r->jw, "description", s->description);
	} else if (chatty && s->description) {
		print_comment(r->out, s->description);
	}

	snprintf(fail, sizeof(fail), "%s:%d: machine", s->file, s->machine_line);
	cleanup_set_context(fail);
	fail[0] = '\0';
	progress_init(o->quiet);
	progress_label("%s: booting", s->file);
	r->m = scenario_boot(s, o, o->dmesg && !o->json ? progress_wrap(stdout) : NULL);
	progress_clear();
	if (ZD_IS_ERR_OR_NULL(r->m)) {
		const char *why = zd_machine_create_error();
		char e[32], where[300];

		size_t wl = why ? strlen(why) : 0, el;

		fmt_errno(r->m ? (int)ZD_PTR_ERR(r->m) : -ENOMEM, e, sizeof(e));
		el = strlen(e);
		/* Device errors come as "pmem region 0 (FILE): EINVAL": the reason is
		 * in the kernel log, which --dmesg shows as it happens. */
		boot_blame(s, where, sizeof(where));
		if (wl >= el && !strcmp(why + wl - el, e))
			snprintf(fail, sizeof(fail), "%s: cannot boot: %s%s", where, why,
				 o->dmesg || o->json ? "" : " (run with --dmesg to see why)");
		else
			snprintf(fail, sizeof(fail), "%s: cannot boot: %s (%s)", where,
				 why && *why ? why : "no reason given", e);
		r->m = NULL;
		rc = EXIT_FAIL;
		goto out;
	}
	if (scenario_pci_build(s, r->m, fail, sizeof(fail))) {
		rc = EXIT_FAIL;
		goto out;
	}
	if (o->json) {
		json_machine(r);
		jw_key(&r->jw, "steps");
		jw_arr_begin(&r->jw);
	} else if (chatty) {
		text_machine(r);
	}
	for (size_t i = 0; i < s->nr_steps && (!o->has_limit || i < o->limit); i++) {
		char where[1024];

		snprintf(where, sizeof(where), "%s:%d: step '%s'", s->file, s->steps[i].line,
			 s->steps[i].name);
		cleanup_set_context(where);
		progress_clear();
		progress_label("%s: step %zu/%zu '%s'", s->file, i + 1, s->nr_steps,
			       s->steps[i].name);
		if (run_step(r, &s->steps[i], where, fail, sizeof(fail))) {
			rc = EXIT_FAIL;
			break;
		}
		done++;
	}
	progress_clear();
	jw_arr_end(r->json);
	/* Checks a step said it would fire are not failures. */
	warns = zd_warn_count(r->m) - r->expected_warns;
	if (warns) {
		snprintf(warnmsg, sizeof(warnmsg), "%s: %lu invariant check%s fired (WARNING "
			 "lines in dmesg)", s->file, warns, warns == 1 ? "" : "s");
		rc = EXIT_FAIL;
	}
	if (!rc && o->at_end)
		rc = o->at_end(r, done, o->at_end_arg);
out:
	fflush(stdout);
	if (fail[0])
		fprintf(stderr, "%s\n", fail);
	if (warnmsg[0]) {
		fprintf(stderr, "%s\n", warnmsg);
		dump_warnings(r->m);
	}
	if (o->errors && o->errors_len)
		snprintf(o->errors, o->errors_len, "%s%s%s", fail, fail[0] && warnmsg[0] ? "\n" : "",
			 warnmsg);
	jw_ku64(r->json, "steps_ok", done);
	jw_ku64(r->json, "warnings", warns);
	jw_kstr(r->json, "result", rc ? "failed" : "ok");
	if (fail[0] || warnmsg[0]) {
		jw_key(r->json, "errors");
		jw_arr_begin(r->json);
		if (fail[0])
			jw_str(r->json, fail);
		if (warnmsg[0])
			jw_str(r->json, warnmsg);
		jw_arr_end(r->json);
	}
	jw_obj_end(r->json);
	jw_finish(r->json);
	if (chatty && !rc) {
		fprintf(r->out, "== %s: %zu step%s ok, %s\n", s->file, done, done == 1 ? "" : "s",
			r->expected_warns ? "no unexpected invariant check fired"
					  : "no invariant check fired");
	}
	fflush(stdout);
	if (r->m) {
		run_release_handles(r);
		zd_machine_destroy(r->m);
	}
	free(r);
	return rc;
}
