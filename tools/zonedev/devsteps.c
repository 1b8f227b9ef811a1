/*
 * ZONE_DEVICE steps: pmem namespaces (create, destroy, rebind, list, write,
 * a corruption hook), dmirror GPUs (chunks, pages through the copy engine),
 * direct pgmaps (memremap/memunmap with a small built-in ops table that logs
 * its calls), memory_failure, and the expect forms that look at device
 * memory (namespace, gpu, gpu_page, page_is_ram, valid_phys_addr_range,
 * zone_device, pgmap, cpu_addressable).
 * Invariants: like steps.c, a step reports exactly what the library
 * returned; the few errors the CLI finds itself (a write past the end of a
 * namespace, a read-only region, an unreadable region file) come with a
 * reason in res->why. A GPU page or a pgmap is held only by a live handle,
 * and run_release_handles() gives every one back before the machine goes.
 * Device-private pages of the dpa design have no pfn: their handle holds
 * the page's offset and is never used as a physical address.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- memory type names ---------- */

const char *cli_memory_type_name(int type)
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

int cli_memory_type_from_name(const char *name)
{
	static const struct { const char *name; int type; } names[] = {
		{ "private", ZD_MEMORY_DEVICE_PRIVATE }, { "coherent", ZD_MEMORY_DEVICE_COHERENT },
		{ "fsdax", ZD_MEMORY_DEVICE_FS_DAX }, { "devdax", ZD_MEMORY_DEVICE_GENERIC },
		{ "generic", ZD_MEMORY_DEVICE_GENERIC }, { "p2pdma", ZD_MEMORY_DEVICE_PCI_P2PDMA },
		{ "none", PGMAP_NONE },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].name, name))
			return names[i].type;
	return -1;
}

/* ---------- where a struct page lives ---------- */

/* The pfn of a page in the vmemmap; false for a dpa device-private page
 * (its struct page is in its pgmap's own array). */
static bool page_pfn(struct zd_machine *m, const struct zd_page *p, uint64_t *pfn)
{
	uintptr_t lo = (uintptr_t)m->vmemmap + m->vmemmap_start_pfn * sizeof(struct zd_page);
	uintptr_t hi = (uintptr_t)m->vmemmap + m->vmemmap_end_pfn * sizeof(struct zd_page);

	if ((uintptr_t)p < lo || (uintptr_t)p >= hi)
		return false;
	*pfn = ((uintptr_t)p - (uintptr_t)m->vmemmap) / sizeof(struct zd_page);
	return true;
}

static const char *page_where(struct zd_machine *m, const struct zd_page *p, char *buf,
			      size_t len)
{
	uint64_t pfn;

	if (page_pfn(m, p, &pfn))
		snprintf(buf, len, "pfn 0x%" PRIx64, pfn);
	else
		snprintf(buf, len, "device-private offset 0x%" PRIx64,
			 zd_device_private_page_to_offset(p));
	return buf;
}

/* ---------- the CLI's own pgmap ops: a driver that only logs ---------- */

static const char cli_owner[] = "zonedev-cli";

static void cli_folio_free(struct zd_page *folio)
{
	struct zd_dev_pagemap *pgmap = folio->pgmap;
	char where[64];

	zd_pr_info(pgmap->machine, "zonedev-cli ops: folio_free(%s) of a %s pgmap",
		   page_where(pgmap->machine, folio, where, sizeof(where)),
		   cli_memory_type_name(pgmap->type));
}

static int cli_migrate_to_ram(struct zd_vm_fault *vmf)
{
	(void)vmf;      /* no CPU faults on device memory yet: nothing to log against */
	return -EFAULT;
}

static int cli_memory_failure(struct zd_dev_pagemap *pgmap, unsigned long pfn,
			      unsigned long nr_pages, int mf_flags)
{
	zd_pr_info(pgmap->machine, "zonedev-cli ops: memory_failure(pfn 0x%lx, %lu page%s, "
		   "flags %#x) on a %s pgmap: declined, the generic handler takes it", pfn,
		   nr_pages, nr_pages == 1 ? "" : "s", (unsigned)mf_flags,
		   cli_memory_type_name(pgmap->type));
	return -EOPNOTSUPP;
}

static const struct zd_dev_pagemap_ops cli_pgmap_ops = {
	.folio_free = cli_folio_free,
	.migrate_to_ram = cli_migrate_to_ram,
	.memory_failure = cli_memory_failure,
};

/* ---------- namespaces ---------- */

static struct zd_nd_region *region_of(struct run *r, int idx)
{
	char name[32];

	snprintf(name, sizeof(name), "region%d", idx);
	return zd_nd_region_find(r->m, name);
}

static const char *map_name(const struct zd_nd_namespace_info *in)
{
	if (in->mode == ZD_NS_MODE_RAW)
		return "none";
	return in->map == ZD_ND_MAP_DEV ? "dev" : "mem";
}

/* "namespace0.0: fsdax map=dev size=1004M align=2M blockdev=pmem0 ..." */
static void ns_describe(struct zd_nd_region *rg, char *buf, size_t len)
{
	struct zd_nd_namespace_info in;
	char a[32], b[32];

	zd_nd_namespace_get(rg, &in);
	if (in.mode == ZD_NS_MODE_RAW)
		snprintf(buf, len, "%s: raw size=%s blockdev=%s data at 0x%" PRIx64 "%s%s", in.dev,
			 fmt_size(in.size, a, sizeof(a)), in.blockdev, (uint64_t)in.data_start,
			 in.refused[0] ? "; refused: " : "", in.refused);
	else
		snprintf(buf, len, "%s: %s map=%s size=%s align=%s %s=%s uuid=%s data at 0x%"
			 PRIx64 "%s", in.dev, zd_nd_ns_mode_name(in.mode), map_name(&in),
			 fmt_size(in.size, a, sizeof(a)), fmt_size(in.align, b, sizeof(b)),
			 in.chardev[0] ? "chardev" : "blockdev",
			 in.chardev[0] ? in.chardev : in.blockdev, in.uuid, (uint64_t)in.data_start,
			 in.enabled ? "" : " (disabled)");
}

void namespace_json(struct jw *w, struct zd_nd_region *rg)
{
	struct zd_nd_namespace_info in;

	zd_nd_namespace_get(rg, &in);
	jw_obj_begin(w);
	jw_kstr(w, "dev", in.dev);
	jw_kstr(w, "region", zd_nd_region_name(rg));
	jw_kstr(w, "mode", zd_nd_ns_mode_name(in.mode));
	jw_kstr(w, "map", map_name(&in));
	jw_ku64(w, "size", in.size);
	if (in.mode != ZD_NS_MODE_RAW) {
		jw_kstr(w, "uuid", in.uuid);
		jw_ku64(w, "align", in.align);
	}
	if (in.chardev[0])
		jw_kstr(w, "chardev", in.chardev);
	if (in.blockdev[0])
		jw_kstr(w, "blockdev", in.blockdev);
	jw_kbool(w, "enabled", in.enabled);
	jw_khex(w, "data_start", in.data_start);
	if (in.refused[0])
		jw_kstr(w, "refused", in.refused);
	jw_obj_end(w);
}

static void ns_result(struct run *r, struct zd_nd_region *rg, struct step_result *res)
{
	ns_describe(rg, res->info, sizeof(res->info));
	if (r->o->json) {
		jw_key(&r->jw, "namespace");
		namespace_json(&r->jw, rg);
	}
}

void namespaces_ndctl_json(struct zd_machine *m, struct jw *w)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		jw_null(w);
		return;
	}
	zd_nd_list_namespaces_json(m, f);
	fclose(f);
	jw_raw(w, buf ? buf : "[]");
	free(buf);
}

static void exec_write_namespace(struct run *r, const struct step *st, struct zd_nd_region *rg,
				 struct step_result *res)
{
	uint64_t size;
	char *data = zd_nd_namespace_data(rg, &size);
	char a[32];

	if (r->s->pmem[st->region].read_only) {
		res->err = -EROFS;
		snprintf(res->why, sizeof(res->why), "%s is on a read-only region "
			 "(machine.pmem read_only: true)", st->dev_name);
		return;
	}
	if (st->offset > size || st->data_len > size - st->offset) {
		res->err = -EINVAL;
		snprintf(res->why, sizeof(res->why), "%zu bytes at offset 0x%" PRIx64 " do not fit "
			 "in the %s data area of %s", st->data_len, st->offset,
			 fmt_size(size, a, sizeof(a)), st->dev_name);
		return;
	}
	memcpy(data + st->offset, st->data, st->data_len);
	snprintf(res->info, sizeof(res->info), "wrote %zu bytes at offset 0x%" PRIx64 " of the "
		 "%s data area of %s (the region file keeps them)", st->data_len, st->offset,
		 fmt_size(size, a, sizeof(a)), st->dev_name);
}

/* The test hook: one byte of the info block, written straight into the
 * region's file as media corruption would; the running namespace keeps what
 * it validated, the next probe (boot, rebind) reads the damage. */
static void exec_corrupt(struct run *r, const struct step *st, struct step_result *res)
{
	const char *path = r->s->pmem[st->region].path;
	off_t off = (off_t)(ZD_ND_INFOBLOCK_OFFSET + st->offset);
	uint8_t old = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		res->err = -errno;
		snprintf(res->why, sizeof(res->why), "cannot open the region file %s: %s", path,
			 strerror(errno));
		return;
	}
	if (pread(fd, &old, 1, off) != 1 || pwrite(fd, &st->byte, 1, off) != 1) {
		res->err = errno ? -errno : -EIO;
		snprintf(res->why, sizeof(res->why), "cannot rewrite byte 0x%llx of %s: %s",
			 (unsigned long long)off, path, strerror(errno ? errno : EIO));
		close(fd);
		return;
	}
	close(fd);
	snprintf(res->info, sizeof(res->info), "region%d: info block byte %" PRIu64 " (file "
		 "offset 0x%llx) 0x%02x -> 0x%02x; the next probe of the media will see it",
		 st->region, st->offset, (unsigned long long)off, old, st->byte);
	if (r->o->json) {
		jw_khex(&r->jw, "file_offset", (uint64_t)off);
		jw_khex(&r->jw, "old", old);
		jw_khex(&r->jw, "new", st->byte);
	}
}

/* ---------- GPUs ---------- */

static struct zd_dmirror_device *gpu_of(struct run *r, int idx)
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

static void gpu_stats_json(struct jw *w, struct zd_dmirror_device *mdev)
{
	struct zd_dmirror_stats stt;

	zd_dmirror_get_stats(mdev, &stt);
	jw_ku64(w, "chunks", stt.chunks);
	jw_ku64(w, "calloc", stt.calloc);
	jw_ku64(w, "cfree", stt.cfree);
	jw_ku64(w, "registered_bytes", stt.registered_bytes);
}

static void exec_gpu_add_chunk(struct run *r, const struct step *st, struct zd_dmirror_device *mdev,
			       struct step_result *res)
{
	struct zd_dmirror_stats before;
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
		snprintf(res->info, sizeof(res->info), "%s; new: %s0x%" PRIx64 "-0x%" PRIx64 "%s",
			 stats, dpa ? "device-private space [" : "[mem ", lo, hi, "]");
	else
		snprintf(res->info, sizeof(res->info), "%s", stats);
	if (r->o->json) {
		gpu_stats_json(&r->jw, mdev);
		if (lo <= hi) {
			jw_kstr(&r->jw, "space", dpa ? "device_private" : "physical");
			jw_khex(&r->jw, "start", lo);
			jw_khex(&r->jw, "end", hi);
		}
	}
}

static void exec_gpu_alloc(struct run *r, const struct step *st, struct zd_dmirror_device *mdev,
			   struct step_result *res)
{
	struct zd_machine *m = r->m;
	struct handle_state *h = &r->h[st->handle];
	const char *hn = r->s->handles[st->handle].name;
	struct zd_page *page;
	uint64_t pfn;

	if (h->live) {
		res->check_failed = true;
		snprintf(res->failure, sizeof(res->failure), "handle '%s' still holds a GPU page; "
			 "gpu_free it first", hn);
		return;
	}
	page = zd_dmirror_alloc_page(mdev, 0);
	if (!page) {
		res->err = -ENOMEM;
		return;
	}
	h->live = h->ever = true;
	h->page = page;
	h->mdev = mdev;
	h->order = 0;
	if (page_pfn(m, page, &pfn)) {
		h->addr = zd_pfn_phys(&m->arch, pfn);
		h->not_phys = false;
		snprintf(res->info, sizeof(res->info), "%s: pfn 0x%" PRIx64 " (phys 0x%" PRIx64 ") of "
			 "%s", hn, pfn, h->addr, st->dev_name);
		if (r->o->json) {
			jw_khex(&r->jw, "pfn", pfn);
			jw_khex(&r->jw, "phys", h->addr);
		}
	} else {
		h->addr = zd_device_private_page_to_offset(page);
		h->not_phys = true;
		snprintf(res->info, sizeof(res->info), "%s: device-private offset 0x%" PRIx64 " of %s "
			 "(in pages: byte 0x%" PRIx64 " of the device-private space; no pfn, no "
			 "physical address)", hn, h->addr, st->dev_name, h->addr << m->arch.page_shift);
		if (r->o->json)
			jw_khex(&r->jw, "offset", h->addr);
	}
}

static bool gpu_page_live(struct run *r, int handle, struct step_result *res)
{
	if (r->h[handle].live)
		return true;
	res->check_failed = true;
	snprintf(res->failure, sizeof(res->failure), "handle '%s' holds no GPU page (already "
		 "freed, or its gpu_alloc failed)", r->s->handles[handle].name);
	return false;
}

/* ---------- direct pgmaps ---------- */

static void exec_memremap(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	struct handle_state *h = &r->h[st->handle];
	const char *hn = r->s->handles[st->handle].name;
	struct zd_dev_pagemap *pg;
	uint64_t start = 0, pages = st->size >> m->arch.page_shift;
	int nid = st->has_node ? st->node : 0;
	bool cpu = false;
	char a[32];

	if (h->live) {
		res->check_failed = true;
		snprintf(res->failure, sizeof(res->failure), "handle '%s' still holds a pgmap; "
			 "memunmap it first", hn);
		return;
	}
	if (!st->dpa && !resolve_or_fail(r, &st->start, res, &start))
		return;
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
		long long off;

		if (st->size & (m->arch.page_size - 1)) {
			free(pg);
			res->err = -EINVAL;
			snprintf(res->why, sizeof(res->why), "size 0x%" PRIx64 " is not a whole number "
				 "of %" PRIu64 "-byte pages", st->size, m->arch.page_size);
			return;
		}
		pg->nr_pages = pages;
		off = zd_memremap_device_private_pagemap(m, pg, nid);
		if (off < 0) {
			free(pg);
			res->err = (int)off;
			return;
		}
		h->addr = (uint64_t)off;
		h->not_phys = true;
	} else {
		void *ret;

		pg->range.start = start;
		pg->range.end = start + st->size - 1;
		pg->nr_range = 1;
		ret = zd_memremap_pages(m, pg, nid);
		if (ZD_IS_ERR(ret)) {
			free(pg);
			res->err = (int)ZD_PTR_ERR(ret);
			return;
		}
		cpu = ret != NULL;
		h->addr = start;
		h->not_phys = false;
	}
	h->live = h->ever = true;
	h->pgmap = pg;
	snprintf(res->info, sizeof(res->info), "%s: %s pgmap %s0x%" PRIx64 "-0x%" PRIx64 "%s, %"
		 PRIu64 " pages in folios of %s, node %d, %s", hn, cli_memory_type_name(st->mtype),
		 st->dpa ? "in the device-private space [" : "[mem ", pg->range.start, pg->range.end,
		 "]", pages,
		 fmt_size(m->arch.page_size << st->vmemmap_shift, a, sizeof(a)), nid,
		 cpu ? "CPU-addressable" : "not CPU-addressable");
	if (r->o->json) {
		jw_kstr(&r->jw, "space", st->dpa ? "device_private" : "physical");
		jw_khex(&r->jw, "start", pg->range.start);
		jw_khex(&r->jw, "end", pg->range.end);
		jw_ku64(&r->jw, "nr_pages", pages);
		jw_kbool(&r->jw, "cpu_addressable", cpu);
	}
}

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
	for (int i = 0; i < r->s->nr_handles; i++) {
		struct handle_state *h = &r->h[i];

		if (h->live && r->s->handles[i].kind == H_GPU_PAGE) {
			zd_put_page(r->m, h->page);
			h->live = false;
		}
	}
	for (int i = r->s->nr_handles - 1; i >= 0; i--)
		if (r->h[i].live && r->s->handles[i].kind == H_PGMAP)
			unmap_handle(&r->h[i]);
}

void devstep_exec(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	struct zd_nd_region *rg = st->region >= 0 ? region_of(r, st->region) : NULL;
	struct zd_dmirror_device *mdev = st->gpu >= 0 ? gpu_of(r, st->gpu) : NULL;
	struct handle_state *h = st->handle >= 0 ? &r->h[st->handle] : NULL;
	uint64_t addr;

	if ((st->region >= 0 && !rg) || (st->gpu >= 0 && !mdev)) {
		res->err = -ENODEV;
		snprintf(res->why, sizeof(res->why), "%s is not on the booted machine", st->dev_name);
		return;
	}
	switch (st->kind) {
	case ST_CREATE_NAMESPACE: {
		struct zd_nd_namespace_opts o = {
			.mode = (enum zd_nd_ns_mode)st->ns_mode,
			.map = (enum zd_nd_pfn_mode)st->ns_map,
			.align = st->align,
			.uuid = st->has_uuid ? st->uuid : NULL,
		};

		res->err = zd_nd_create_namespace(rg, &o);
		if (!res->err)
			ns_result(r, rg, res);
		break;
	}
	case ST_DESTROY_NAMESPACE:
		res->err = zd_nd_destroy_namespace(rg);
		if (!res->err)
			ns_result(r, rg, res);
		break;
	case ST_REBIND_NAMESPACE:
		res->err = zd_nd_rebind_namespace(rg);
		ns_result(r, rg, res);
		break;
	case ST_LIST_NAMESPACES:
		if (r->o->json) {
			jw_key(&r->jw, "namespaces");
			namespaces_ndctl_json(m, &r->jw);
		} else {
			/* like a report: printed with --quiet too */
			fflush(r->out);
			zd_nd_list_namespaces_json(m, r->out);
		}
		break;
	case ST_WRITE_NAMESPACE:
		exec_write_namespace(r, st, rg, res);
		break;
	case ST_CORRUPT_INFOBLOCK:
		exec_corrupt(r, st, res);
		break;
	case ST_GPU_ADD_CHUNK:
		exec_gpu_add_chunk(r, st, mdev, res);
		break;
	case ST_GPU_ALLOC:
		exec_gpu_alloc(r, st, mdev, res);
		break;
	case ST_GPU_WRITE:
		if (!gpu_page_live(r, st->handle, res))
			break;
		res->err = zd_dmirror_copy_to_device(h->mdev, h->page, st->data, st->data_len);
		if (!res->err)
			snprintf(res->info, sizeof(res->info), "copied %zu bytes to %s through the "
				 "device's copy engine", st->data_len, r->s->handles[st->handle].name);
		break;
	case ST_GPU_FREE: {
		struct zd_device *dev;

		if (!gpu_page_live(r, st->handle, res))
			break;
		dev = zd_dmirror_to_device(h->mdev);
		zd_put_page(m, h->page);
		h->live = false;
		h->page = NULL;
		gpu_stats_text(h->mdev, zd_dev_name(dev), res->info, sizeof(res->info));
		break;
	}
	case ST_MEMREMAP:
		exec_memremap(r, st, res);
		break;
	case ST_MEMUNMAP:
		if (!h->live) {
			res->check_failed = true;
			snprintf(res->failure, sizeof(res->failure), "handle '%s' holds no pgmap "
				 "(already unmapped, or its memremap failed)",
				 r->s->handles[st->handle].name);
			break;
		}
		snprintf(res->info, sizeof(res->info), "%s: %s pgmap unmapped: its struct pages and "
			 "its pgmap lookup are gone", r->s->handles[st->handle].name,
			 cli_memory_type_name(h->pgmap->type));
		unmap_handle(h);
		break;
	case ST_MEMORY_FAILURE:
		if (!resolve_or_fail(r, &st->start, res, &addr))
			break;
		res->err = zd_memory_failure(m, (unsigned long)zd_phys_pfn(&m->arch, addr), 0);
		if (!res->err)
			snprintf(res->info, sizeof(res->info), "memory_failure(pfn 0x%" PRIx64 ") "
				 "handled", zd_phys_pfn(&m->arch, addr));
		break;
	default:
		break;
	}
}

/* ---------- expect ---------- */

static void fail(struct step_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct step_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->check_failed)
		return;    /* the first one explains it */
	res->check_failed = true;
	va_start(ap, fmt);
	vsnprintf(res->failure, sizeof(res->failure), fmt, ap);
	va_end(ap);
}

static const char *tf(bool v)
{
	return v ? "true" : "false";
}

/* Compare n bytes at got with want; on a mismatch say what was there. */
static void expect_bytes(struct step_result *res, const char *what, const char *got,
			 const char *want, size_t n)
{
	char g[160], w[160];

	if (!memcmp(got, want, n))
		return;
	fail(res, "%s: got \"%s\", expected \"%s\"", what,
	     fmt_escaped(got, n < 48 ? n : 48, g, sizeof(g)),
	     fmt_escaped(want, n < 48 ? n : 48, w, sizeof(w)));
}

static void expect_namespace(struct run *r, const struct expect *ex, struct step_result *res)
{
	struct zd_nd_region *rg = region_of(r, ex->region);
	struct zd_nd_namespace_info in;
	char a[32], b[32];

	if (!rg) {
		fail(res, "region%d is not on the booted machine", ex->region);
		return;
	}
	zd_nd_namespace_get(rg, &in);
	ns_describe(rg, res->info, sizeof(res->info));
	if (ex->has_mode && (int)in.mode != ex->mode)
		fail(res, "%s: mode is %s, expected %s%s%s%s", in.dev, zd_nd_ns_mode_name(in.mode),
		     zd_nd_ns_mode_name((enum zd_nd_ns_mode)ex->mode),
		     in.refused[0] ? " (refused: " : "", in.refused, in.refused[0] ? ")" : "");
	if (ex->has_map && (in.mode == ZD_NS_MODE_RAW || (int)in.map != ex->map))
		fail(res, "%s: map is %s, expected %s", in.dev, map_name(&in),
		     ex->map == ZD_ND_MAP_DEV ? "dev" : "mem");
	if (ex->has_size && in.size != ex->size)
		fail(res, "%s: size is %s (%" PRIu64 "), expected %s (%" PRIu64 ")", in.dev,
		     fmt_size(in.size, a, sizeof(a)), in.size, fmt_size(ex->size, b, sizeof(b)),
		     ex->size);
	if (ex->has_refused && !!in.refused[0] != ex->refused)
		fail(res, "%s: refused is %s%s%s, expected %s", in.dev, tf(in.refused[0]),
		     in.refused[0] ? " (" : "", in.refused[0] ? in.refused : "", tf(ex->refused));
	if (ex->has_data) {
		uint64_t size;
		const char *data = zd_nd_namespace_data(rg, &size);
		char what[96];

		if (ex->data_at > size || ex->data_len > size - ex->data_at) {
			fail(res, "%s: %zu bytes at offset 0x%" PRIx64 " are beyond its %s data area",
			     in.dev, ex->data_len, ex->data_at, fmt_size(size, a, sizeof(a)));
			return;
		}
		snprintf(what, sizeof(what), "%s: data at offset 0x%" PRIx64, in.dev, ex->data_at);
		expect_bytes(res, what, data + ex->data_at, ex->data, ex->data_len);
		if (!ex->has_mode && !ex->has_map && !ex->has_size && !ex->has_refused)
			snprintf(res->info, sizeof(res->info), "%s (%s): %zu bytes at offset 0x%" PRIx64
				 " of the data area (phys 0x%" PRIx64 ")", in.dev,
				 zd_nd_ns_mode_name(in.mode), ex->data_len, ex->data_at,
				 (uint64_t)in.data_start + ex->data_at);
	}
	if (r->o->json) {
		jw_key(&r->jw, "namespace");
		namespace_json(&r->jw, rg);
	}
}

void devexpect_exec(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_machine *m = r->m;
	const struct expect *ex = &st->ex;
	uint64_t addr = 0, pfn = 0;
	bool v = false;

	switch (ex->kind) {
	case EX_PAGE_IS_RAM: case EX_VALID_PHYS: case EX_ZONE_DEVICE: case EX_PGMAP:
	case EX_CPU_ADDRESSABLE:
		if (!resolve_or_fail(r, &ex->addr, res, &addr))
			return;
		pfn = zd_phys_pfn(&m->arch, addr);
		break;
	default:
		break;
	}

	switch (ex->kind) {
	case EX_NAMESPACE:
		expect_namespace(r, ex, res);
		break;
	case EX_GPU: {
		struct zd_dmirror_device *mdev = gpu_of(r, ex->gpu);
		struct zd_dmirror_stats s;

		if (!mdev) {
			fail(res, "%s is not on the booted machine", r->s->gpus[ex->gpu].name);
			break;
		}
		zd_dmirror_get_stats(mdev, &s);
		gpu_stats_text(mdev, r->s->gpus[ex->gpu].name, res->info, sizeof(res->info));
		if (ex->has_chunks && s.chunks != ex->chunks)
			fail(res, "%s: %" PRIu64 " chunks, expected %" PRIu64, r->s->gpus[ex->gpu].name,
			     s.chunks, ex->chunks);
		if (ex->has_calloc && s.calloc != ex->calloc)
			fail(res, "%s: calloc %" PRIu64 ", expected %" PRIu64, r->s->gpus[ex->gpu].name,
			     s.calloc, ex->calloc);
		if (ex->has_cfree && s.cfree != ex->cfree)
			fail(res, "%s: cfree %" PRIu64 ", expected %" PRIu64, r->s->gpus[ex->gpu].name,
			     s.cfree, ex->cfree);
		break;
	}
	case EX_GPU_PAGE: {
		struct handle_state *h = &r->h[st->handle];
		char *buf;
		int rc;

		if (!gpu_page_live(r, st->handle, res))
			break;
		buf = calloc(1, ex->data_len + 1);
		if (!buf) {
			fail(res, "out of memory");
			break;
		}
		rc = zd_dmirror_copy_from_device(h->mdev, h->page, buf, ex->data_len);
		if (rc) {
			char e[32];

			fail(res, "copy from %s through the copy engine failed with %s",
			     r->s->handles[st->handle].name, fmt_errno(rc, e, sizeof(e)));
		} else {
			char what[96];

			snprintf(res->info, sizeof(res->info), "%s: %zu bytes read back through the "
				 "copy engine", r->s->handles[st->handle].name, ex->data_len);
			snprintf(what, sizeof(what), "%s (read through the copy engine)",
				 r->s->handles[st->handle].name);
			expect_bytes(res, what, buf, ex->data, ex->data_len);
		}
		free(buf);
		break;
	}
	case EX_PAGE_IS_RAM:
		v = zd_page_is_ram(m, pfn) != 0;
		snprintf(res->info, sizeof(res->info), "page_is_ram(0x%" PRIx64 ") = %s", pfn, tf(v));
		if (v != ex->want_bool)
			fail(res, "page_is_ram(pfn 0x%" PRIx64 ") for address 0x%" PRIx64 ": got %s, "
			     "expected %s", pfn, addr, tf(v), tf(ex->want_bool));
		break;
	case EX_VALID_PHYS:
		v = zd_valid_phys_addr_range(m, addr, ex->size);
		snprintf(res->info, sizeof(res->info), "valid_phys_addr_range(0x%" PRIx64 ", 0x%" PRIx64
			 ") = %s", addr, ex->size, tf(v));
		if (v != ex->want_bool)
			fail(res, "valid_phys_addr_range(0x%" PRIx64 ", 0x%" PRIx64 "): got %s, expected "
			     "%s", addr, ex->size, tf(v), tf(ex->want_bool));
		break;
	case EX_ZONE_DEVICE: {
		bool valid = zd_pfn_valid(m, pfn);

		v = valid && zd_is_zone_device_page(zd_pfn_to_page(m, pfn));
		snprintf(res->info, sizeof(res->info), "pfn 0x%" PRIx64 ": %s", pfn,
			 !valid ? "no struct page (pfn_valid false)" :
			 v ? "a ZONE_DEVICE page" : "not a ZONE_DEVICE page");
		if (v != ex->want_bool)
			fail(res, "zone_device(pfn 0x%" PRIx64 ") for address 0x%" PRIx64 ": got %s, "
			     "expected %s%s", pfn, addr, tf(v), tf(ex->want_bool),
			     valid ? "" : " (the pfn has no struct page)");
		break;
	}
	case EX_PGMAP: {
		struct zd_dev_pagemap *pg = zd_get_dev_pagemap(m, (unsigned long)pfn);
		int type = pg ? (int)pg->type : PGMAP_NONE;

		if (pg)
			snprintf(res->info, sizeof(res->info), "pfn 0x%" PRIx64 ": %s pgmap [mem 0x%"
				 PRIx64 "-0x%" PRIx64 "]", pfn, cli_memory_type_name(type),
				 pg->range.start, pg->ranges[pg->nr_range - 1].end);
		else
			snprintf(res->info, sizeof(res->info), "pfn 0x%" PRIx64 ": no pgmap", pfn);
		zd_put_dev_pagemap(pg);
		if (type != ex->mtype)
			fail(res, "pgmap of pfn 0x%" PRIx64 " (address 0x%" PRIx64 "): got %s, expected %s",
			     pfn, addr, cli_memory_type_name(type), cli_memory_type_name(ex->mtype));
		break;
	}
	case EX_CPU_ADDRESSABLE: {
		uint64_t off = addr & (m->arch.page_size - 1);
		const char *p = NULL;

		if (zd_pfn_valid(m, pfn)) {
			struct zd_page *page = zd_pfn_to_page(m, pfn);

			p = zd_is_zone_device_page(page) ? zd_device_page_address(m, page) :
							   zd_pfn_address(m, pfn);
		}
		v = p != NULL;
		snprintf(res->info, sizeof(res->info), "address 0x%" PRIx64 ": %s", addr,
			 v ? "the CPU can load and store here" : "no CPU mapping");
		if (v != ex->want_bool) {
			fail(res, "cpu_addressable(0x%" PRIx64 "): got %s, expected %s", addr, tf(v),
			     tf(ex->want_bool));
			break;
		}
		if (v && ex->has_data) {
			char what[96];

			if (ex->data_len > m->arch.page_size - off) {
				fail(res, "%zu bytes at 0x%" PRIx64 " cross a page boundary; compare at "
				     "most %" PRIu64 " bytes here", ex->data_len, addr,
				     m->arch.page_size - off);
				break;
			}
			snprintf(what, sizeof(what), "bytes at 0x%" PRIx64 " as the CPU reads them",
				 addr);
			expect_bytes(res, what, p + off, ex->data, ex->data_len);
		}
		break;
	}
	default:
		break;
	}
}
