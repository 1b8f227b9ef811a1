/*
 * pmem namespace steps: create, destroy, rebind and list namespaces, write
 * into a namespace's data area, corrupt a byte of its info block (a test
 * hook), the expect namespace form, and how a namespace is shown (the
 * detail line, its JSON object, which the namespaces report uses too).
 * Invariants: a step reports exactly what the library returned; the CLI's
 * own refusals (a write past the end of the data area, a read-only region,
 * an unreadable region file) come with a reason in res->why. A corruption
 * goes to the region file only: the running namespace keeps what it
 * validated, and the next probe (boot, rebind) reads the damage.
 */
#include "devsteps.h"
#include <zonedev/log.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- how a namespace is shown ---------- */

struct zd_nd_region *pmem_region(struct zd_machine *m, int idx)
{
	char name[32];

	snprintf(name, sizeof(name), "region%d", idx);
	return zd_nd_region_find(m, name);
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
	jw_key(r->json, "namespace");
	namespace_json(r->json, rg);
}

void exec_write_namespace(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_nd_region *rg = pmem_region(r->m, st->region);
	uint64_t size;
	char a[32];

	/* The library says why a write is refused (disabled, read-only,
	 * beyond the data area, no space): its log line is the step's. */
	res->err = zd_nd_namespace_write(rg, st->offset, st->data.p, st->data.len);
	if (res->err)
		return;
	zd_nd_namespace_data(rg, &size);
	step_info(res, "wrote %zu bytes at offset 0x%" PRIx64 " of the %s data area of %s (the "
		  "region file keeps them)", st->data.len, st->offset, fmt_size(size, a, sizeof(a)),
		  st->dev_name);
}

void exec_mkfs(struct run *r, const struct step *st, struct step_result *res)
{
	res->err = zd_daxfs_mkfs(pmem_region(r->m, st->region));
	if (!res->err)
		step_info(res, "an empty DAX file system on %s", st->dev_name);
}

/* The file's extents, as the info line and JSON show them. */
static void file_info(struct run *r, const struct step *st, struct step_result *res,
		      const char *what)
{
	struct zd_daxfs_stat fs;
	unsigned pmd = 0;
	char a[32];

	if (zd_daxfs_stat(pmem_region(r->m, st->region), st->file_name, &fs))
		return;
	for (unsigned i = 0; i < fs.nr_extents; i++)
		pmd += fs.extents[i].nr_pages >= 512 && !(fs.extents[i].phys & ((2u << 20) - 1));
	step_info(res, "%s '%s' on %s: ino %" PRIu64 ", %s, %" PRIu64 " pages in %u extents "
		  "(%u 2M-aligned), the first at 0x%" PRIx64, what, st->file_name, st->dev_name,
		  fs.ino, fmt_size(fs.size, a, sizeof(a)), fs.blocks, fs.nr_extents, pmd,
		  fs.nr_extents ? fs.extents[0].phys : 0);
	jw_ku64(r->json, "ino", fs.ino);
	jw_ku64(r->json, "size", fs.size);
	jw_ku64(r->json, "blocks", fs.blocks);
	jw_ku64(r->json, "extents", fs.nr_extents);
}

void exec_dax_file(struct run *r, const struct step *st, struct step_result *res)
{
	res->err = zd_daxfs_create(pmem_region(r->m, st->region), st->file_name, st->size);
	if (!res->err)
		file_info(r, st, res, "created");
}

static int truncate_call(struct run *r, const struct step *st)
{
	return zd_daxfs_truncate(pmem_region(r->m, st->region), st->file_name, st->size);
}

static void truncate_done(struct run *r, const struct step *st, struct step_result *res)
{
	file_info(r, st, res, "truncated");
}

/* truncate with as: the call on a thread of its own, as another process
 * blocked in truncate(2) while a page of the range is pinned would be;
 * wait joins it. */
void exec_truncate(struct run *r, const struct step *st, struct step_result *res)
{
	static const struct task_ops ops = {
		.call = truncate_call, .done = truncate_done,
		.blocked = "to be unpinned", .waits = "it waits for a pinned page",
	};

	if (st->handle >= 0) {
		task_start(r, st, res, &ops);
		return;
	}
	res->err = truncate_call(r, st);
	if (!res->err)
		truncate_done(r, st, res);
}

/* The test hook: one byte of the info block, written straight into the
 * region's file as media corruption would; the running namespace keeps what
 * it validated, the next probe (boot, rebind) reads the damage. */
void exec_corrupt_infoblock(struct run *r, const struct step *st, struct step_result *res)
{
	const char *path = r->s->pmem[st->region].path;
	off_t off = (off_t)(ZD_ND_INFOBLOCK_OFFSET + st->offset);
	uint8_t old = 0, byte = (uint8_t)st->byte;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		res->err = -errno;
		snprintf(res->why, sizeof(res->why), "cannot open the region file %s: %s", path,
			 strerror(errno));
		return;
	}
	if (pread(fd, &old, 1, off) != 1 || pwrite(fd, &byte, 1, off) != 1) {
		res->err = errno ? -errno : -EIO;
		snprintf(res->why, sizeof(res->why), "cannot rewrite byte 0x%llx of %s: %s",
			 (unsigned long long)off, path, strerror(errno ? errno : EIO));
		close(fd);
		return;
	}
	close(fd);
	step_info(res, "region%d: info block byte %" PRIu64 " (file offset 0x%llx) 0x%02x -> "
		  "0x%02x; the next probe of the media will see it", st->region, st->offset,
		  (unsigned long long)off, old, byte);
	jw_khex(r->json, "file_offset", (uint64_t)off);
	jw_khex(r->json, "old", old);
	jw_khex(r->json, "new", byte);
}

/* ---------- dax devices ---------- */

static const char *dax_mode_name(enum zd_dax_mode mode)
{
	return mode == ZD_DAX_MODE_SYSTEM_RAM ? "system-ram" : "devdax";
}

/* "dax0.0: system-ram [mem ...] 62/62 blocks online, movable" */
static void dax_describe(const struct zd_dax_info *di, char *buf, size_t len)
{
	if (di->mode == ZD_DAX_MODE_DEVDAX)
		snprintf(buf, len, "%s: devdax, %" PRIu64 " MiB, align %" PRIu64 " KiB, node %d",
			 di->chardev, di->size >> 20, di->align >> 10, di->target_node);
	else
		snprintf(buf, len, "%s: system-ram [mem 0x%" PRIx64 "-0x%" PRIx64 "], %u/%u memory "
			 "blocks online%s%s", di->chardev, (uint64_t)di->kmem_start,
			 (uint64_t)(di->kmem_start + di->kmem_size - 1), di->online_memblocks,
			 di->total_memblocks, di->movable ? ", movable" : "",
			 di->stuck ? ", stuck until reboot" : "");
}

/* ---------- steps ---------- */

void exec_create_namespace(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_nd_region *rg = pmem_region(r->m, st->region);
	struct zd_nd_namespace_opts o = {
		.mode = (enum zd_nd_ns_mode)st->ns_mode,
		.map = (enum zd_nd_pfn_mode)st->ns_map,
		.align = st->align,
		.uuid = st->has_uuid ? st->uuid : NULL,
		.force = st->force,
	};

	res->err = zd_nd_create_namespace(rg, &o);
	if (!res->err)
		ns_result(r, rg, res);
}

void exec_destroy_namespace(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_nd_region *rg = pmem_region(r->m, st->region);

	res->err = zd_nd_destroy_namespace(rg);
	if (!res->err)
		ns_result(r, rg, res);
}

void exec_rebind_namespace(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_nd_region *rg = pmem_region(r->m, st->region);

	res->err = zd_nd_rebind_namespace(rg);
	ns_result(r, rg, res);
}

void exec_list_namespaces(struct run *r, const struct step *st, struct step_result *res)
{
	if (r->o->json) {
		jw_key(&r->jw, "namespaces");
		report_dump_json(r->m, zd_nd_list_namespaces_json, "[]", &r->jw);
	} else {
		/* like a report: printed with --quiet too */
		fflush(r->out);
		zd_nd_list_namespaces_json(r->m, r->out);
	}
}

void exec_reconfigure_device(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_nd_region *rg = pmem_region(r->m, st->region);
	struct zd_dax_reconfigure_opts o = {
		.mode = (enum zd_dax_mode)st->dax_mode, .no_online = !st->dax_online,
		.no_movable = !st->dax_movable, .force = st->force,
	};
	struct zd_dax_info di;

	res->err = zd_dax_reconfigure_device(rg, &o);
	if (!zd_dax_info_get(rg, &di))
		dax_describe(&di, res->info, sizeof(res->info));
}

/* ---------- expect namespace, dax ---------- */

void ex_dax(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_nd_region *rg = pmem_region(r->m, st->region);
	struct zd_dax_info di;

	if (zd_dax_info_get(rg, &di)) {
		step_fail(res, "dax%d.0: no such device (namespace%d.0 is not devdax)", st->region,
			  st->region);
		return;
	}
	dax_describe(&di, res->info, sizeof(res->info));
	if (st->has_mode && (int)di.mode != st->dax_mode)
		step_fail(res, "%s: mode is %s, expected %s", di.chardev, dax_mode_name(di.mode),
			  dax_mode_name((enum zd_dax_mode)st->dax_mode));
	if (st->has_online_blocks && di.online_memblocks != st->online_blocks)
		step_fail(res, "%s: %u online memory blocks, expected %" PRIu64, di.chardev,
			  di.online_memblocks, st->online_blocks);
	if (st->has_total_blocks && di.total_memblocks != st->total_blocks)
		step_fail(res, "%s: %u memory blocks, expected %" PRIu64, di.chardev,
			  di.total_memblocks, st->total_blocks);
	if (st->has_movable && di.movable != st->movable)
		step_fail(res, "%s: movable is %s, expected %s", di.chardev, tf(di.movable),
			  tf(st->movable));
}

void ex_namespace(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_nd_region *rg = pmem_region(r->m, st->region);
	struct zd_nd_namespace_info in;
	char a[32], b[32];

	zd_nd_namespace_get(rg, &in);
	ns_describe(rg, res->info, sizeof(res->info));
	if (st->has_mode && (int)in.mode != st->ns_mode)
		step_fail(res, "%s: mode is %s, expected %s%s%s%s", in.dev, zd_nd_ns_mode_name(in.mode),
			  zd_nd_ns_mode_name((enum zd_nd_ns_mode)st->ns_mode),
			  in.refused[0] ? " (refused: " : "", in.refused, in.refused[0] ? ")" : "");
	if (st->has_map && (in.mode == ZD_NS_MODE_RAW || (int)in.map != st->ns_map))
		step_fail(res, "%s: map is %s, expected %s", in.dev, map_name(&in),
			  st->ns_map == ZD_ND_MAP_DEV ? "dev" : "mem");
	if (st->has_size && in.size != st->size)
		step_fail(res, "%s: size is %s (%" PRIu64 "), expected %s (%" PRIu64 ")", in.dev,
			  fmt_size(in.size, a, sizeof(a)), in.size, fmt_size(st->size, b, sizeof(b)),
			  st->size);
	if (st->has_refused && !!in.refused[0] != st->refused)
		step_fail(res, "%s: refused is %s%s%s, expected %s", in.dev, tf(in.refused[0]),
			  in.refused[0] ? " (" : "", in.refused[0] ? in.refused : "", tf(st->refused));
	if (st->has_data) {
		uint64_t size;
		const char *data = zd_nd_namespace_data(rg, &size);
		char what[96];

		if (st->data_at > size || st->data.len > size - st->data_at) {
			step_fail(res, "%s: %zu bytes at offset 0x%" PRIx64 " are beyond its %s data area",
				  in.dev, st->data.len, st->data_at, fmt_size(size, a, sizeof(a)));
			return;
		}
		snprintf(what, sizeof(what), "%s: data at offset 0x%" PRIx64, in.dev, st->data_at);
		expect_bytes(res, what, data + st->data_at, st->data.p, st->data.len);
		if (!st->has_mode && !st->has_map && !st->has_size && !st->has_refused)
			step_info(res, "%s (%s): %zu bytes at offset 0x%" PRIx64 " of the data "
				  "area (phys 0x%" PRIx64 ")", in.dev, zd_nd_ns_mode_name(in.mode),
				  st->data.len, st->data_at, (uint64_t)in.data_start + st->data_at);
	}
	jw_key(r->json, "namespace");
	namespace_json(r->json, rg);
}
