/*
 * The namespace of a label-less region (drivers/nvdimm/namespace_devs.c,
 * pfn_devs.c probe side): its mode comes from the info block at offset
 * 4096, validated with every nd_pfn_validate() rule; create writes a fresh
 * block and claims the namespace, destroy releases the claim and erases the
 * block. ndctl-shaped listings.
 * Invariants: a refused block leaves the namespace raw and the media as it
 * was; create validates what it wrote before claiming; destroy disables
 * (waiting for page references) before it touches the media; a namespace
 * disabled on request stays down (no claim, no block device) until it is
 * enabled, probed, created or destroyed again.
 */
#include <zonedev/err.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "drivers/nvdimm/nd.h"
#include "base/align.h"
#include "base/backing.h"



const char *zd_nd_ns_mode_name(enum zd_nd_ns_mode mode)
{
	return mode == ZD_NS_MODE_FSDAX ? "fsdax" : mode == ZD_NS_MODE_DEVDAX ? "devdax" : "raw";
}

static void validate_ctx(const struct zd_nd_region *r, enum zd_nd_pfn_kind kind,
			 struct zd_nd_pfn_validate_ctx *ctx)
{
	const struct zd_arch *a = &r->m->arch;

	memset(ctx, 0, sizeof(*ctx));
	ctx->kind = kind;
	ctx->start = r->start;
	ctx->size = r->size;
	ctx->page_size = a->page_size;
	ctx->struct_page_size = sizeof(struct zd_page);
	ctx->compat_align = ZD_ND_DEFAULT_COMPAT_ALIGN;
	ctx->dax_aligns[0] = a->page_size;
	ctx->dax_aligns[1] = 1ULL << a->pmd_shift;
	ctx->dax_aligns[2] = a->thp_pud ? 1ULL << a->pud_shift : 0;
}

/* The claim drivers' pgmap from the block (__nvdimm_setup_pfn). */
void zd_nd_setup_pgmap(struct zd_nd_region *r, enum zd_memory_type type)
{
	const struct zd_arch *a = &r->m->arch;
	struct zd_dev_pagemap *pg = &r->pgmap;
	const struct zd_nd_pfn_layout *l = &r->layout;

	zd_dev_pagemap_init(pg);
	pg->type = type;
	pg->range.start = l->range_start;
	pg->range.end = l->range_end;
	pg->nr_range = 1;
	pg->backing_fd = r->fd;
	pg->backing_offset = l->range_start - r->start;
	pg->backing_read_only = r->read_only;
	if (l->has_altmap) {
		pg->flags |= ZD_PGMAP_ALTMAP_VALID;
		pg->altmap.base_pfn = l->base_pfn;
		pg->altmap.end_pfn = l->end_pfn;
		pg->altmap.reserve = l->reserve;
		pg->altmap.free = l->free;
		/* the struct pages live in the region file itself */
		pg->altmap.backing_fd = r->fd;
		pg->altmap.backing_offset = (l->base_pfn << a->page_shift) - r->start;
	}
}

static int read_and_validate(struct zd_nd_region *r, enum zd_nd_pfn_kind kind, char *why,
			     size_t len)
{
	struct zd_nd_pfn_validate_ctx ctx;
	int rc;

	validate_ctx(r, kind, &ctx);
	rc = zd_nd_pfn_validate_fd(r->fd, 0, &ctx, &r->info, why, len);
	if (!rc)
		rc = zd_nd_pfn_to_pgmap_layout(&r->info, r->start, r->start + r->size - 1,
					       r->m->arch.page_shift, &r->layout, why, len);
	return rc;
}

/* The namespace driver's claim on its range: the whole namespace for raw
 * and fsdax (pmem_attach_disk()), only the metadata for devdax
 * (__dax_pmem_probe(); dev_dax_probe() claims the data as daxN.0). */
static int ns_claim(struct zd_nd_region *r, enum zd_nd_ns_mode mode)
{
	char name[32];
	uint64_t size = mode == ZD_NS_MODE_DEVDAX ? r->layout.data_start - r->start : r->size;

	snprintf(name, sizeof(name), "namespace%d.0", r->id);
	if (!__zd_request_region(r->m, r->res, r->start, size, name, 0))
		return -EBUSY;
	r->ns_res_start = r->start;
	r->ns_res_size = size;
	return 0;
}

static void ns_unclaim(struct zd_nd_region *r)
{
	if (r->ns_res_size)
		__zd_release_region(r->m, r->res, r->ns_res_start, r->ns_res_size);
	r->ns_res_size = 0;
}

static int enable(struct zd_nd_region *r, enum zd_nd_ns_mode mode)
{
	int rc;

	/* map=dev writes every struct page into the namespace itself. */
	if (r->read_only && r->info.mode == ZD_PFN_MODE_PMEM) {
		zd_pr_err(r->m, "namespace%d.0: region is read-only, so the memmap (map=dev) "
			  "cannot be written into it", r->id);
		return -EROFS;
	}
	ns_unclaim(r);
	rc = ns_claim(r, mode);
	if (rc)
		return rc;
	r->mode = mode;
	rc = mode == ZD_NS_MODE_FSDAX ? zd_nd_pmem_enable(r) : zd_dev_dax_enable(r);
	if (rc)
		ns_unclaim(r);
	else
		r->user_disabled = false;
	return rc;
}

/* A raw namespace is the pmem driver's block device over all of it. */
static int raw_enable(struct zd_nd_region *r)
{
	ns_unclaim(r);
	if (ns_claim(r, ZD_NS_MODE_RAW))
		return -EBUSY;
	r->user_disabled = false;
	return 0;
}

/*
 * Boot-time probe: a block with the right signature must pass every rule
 * to be used; one that does not is refused and reported, and the
 * namespace comes up raw without anything being written. A valid block
 * whose claim then cannot be enabled leaves the namespace to the pfn/dax
 * device, disabled, with no block device: the kernel's pmem driver does
 * not fall back to raw over a valid info block (nd_pmem_probe() returns
 * -ENXIO once nd_pfn_probe() has claimed it), which would let a raw
 * write destroy the block and the data behind it.
 */
int zd_nd_namespace_probe(struct zd_nd_region *r)
{
	struct zd_nd_pfn_sb sb;
	char why[200] = "";
	enum zd_nd_pfn_kind kind;
	int rc;

	r->mode = ZD_NS_MODE_RAW;
	r->refused[0] = '\0';
	r->user_disabled = false;
	if (zd_nd_pfn_read_sb(r->fd, 0, &sb, why, sizeof(why)))
		return raw_enable(r);
	if (!memcmp(sb.signature, zd_nd_pfn_sig(ZD_ND_FSDAX), ZD_PFN_SIG_LEN))
		kind = ZD_ND_FSDAX;
	else if (!memcmp(sb.signature, zd_nd_pfn_sig(ZD_ND_DEVDAX), ZD_PFN_SIG_LEN))
		kind = ZD_ND_DEVDAX;
	else
		return raw_enable(r);     /* no claim: a raw namespace */
	rc = read_and_validate(r, kind, why, sizeof(why));
	if (rc) {
		snprintf(r->refused, sizeof(r->refused), "%s", why);
		zd_pr_err(r->m, "nd_pfn namespace%d.0: refusing the %s info block: %s (%s); "
			  "namespace left raw, media untouched", r->id,
			  kind == ZD_ND_FSDAX ? "pfn" : "dax", why, zd_errno_name(rc));
		raw_enable(r);
		return rc;
	}
	rc = enable(r, kind == ZD_ND_FSDAX ? ZD_NS_MODE_FSDAX : ZD_NS_MODE_DEVDAX);
	if (rc) {
		snprintf(r->refused, sizeof(r->refused), "enable failed: %s%s", zd_errno_name(rc),
			 rc == -EROFS ? " (read-only region, map=dev)" : "");
		r->mode = kind == ZD_ND_FSDAX ? ZD_NS_MODE_FSDAX : ZD_NS_MODE_DEVDAX;
		zd_pr_err(r->m, "nd_pmem namespace%d.0: the %s info block is valid but its claim "
			  "could not be enabled (%s): namespace disabled, no raw fallback",
			  r->id, kind == ZD_ND_FSDAX ? "pfn" : "dax", zd_errno_name(rc));
	}
	return rc;
}

/* A uuid that is stable for a given region — its number, place, size and
 * the mode — so scenarios print the same wherever the file lives. */
static void derived_uuid(const struct zd_nd_region *r, enum zd_nd_ns_mode mode, uint8_t u[16])
{
	uint64_t h = 1469598103934665603ULL;
	uint64_t in[4] = { (uint64_t)r->id, r->start, r->size, (uint64_t)mode };

	for (int i = 0; i < 4; i++)
		h = (h ^ in[i]) * 1099511628211ULL;
	for (int i = 0; i < 16; i++) {
		h = h * 6364136223846793005ULL + 1442695040888963407ULL;
		u[i] = (uint8_t)(h >> 56);
	}
	u[6] = (u[6] & 0x0f) | 0x40;   /* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;   /* variant */
}

/* "6G", "5136M", "4K": the largest binary unit that divides v (ndctl's
 * --size suffixes). */
static const char *size_suffix(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && !(v & ((1ULL << 10) - 1))) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", ULL(v));
	else
		snprintf(buf, len, "%llu%c", ULL(v), units[u]);
	return buf;
}

/* ndctl's validate_namespace_options() and check_dax_align(), in its order:
 * nothing on the media changes when one fails. */
static int ndctl_checks(struct zd_nd_region *r, const struct zd_nd_namespace_opts *o,
			uint64_t align)
{
	uint64_t units = 4096, size_align = align > units ? align : units;
	char sug[32];

	if (r->size % r->align) {
		zd_pr_err(r->m, "region%d: align setting is 0x%llx size 0x%llx is misaligned", r->id,
			  ULL(r->align), ULL(r->size));
		return -EINVAL;
	}
	if (r->size % size_align) {
		zd_pr_err(r->m, "namespace%d.0: '--size=' must align to interleave-width: 1 and "
			  "alignment: %llu; did you intend --size=%s?", r->id, ULL(align),
			  size_suffix((r->size / size_align + 1) * size_align, sug, sizeof(sug)));
		return -EINVAL;
	}
	if (!o->force && r->start & ((16ULL << 20) - 1)) {
		zd_pr_err(r->m, "namespace%d.0: 0x%llx misaligned to 16M, adjust region alignment and "
			  "retry", r->id, ULL(r->start));
		return -EINVAL;
	}
	return 0;
}

int zd_nd_create_namespace(struct zd_nd_region *r, const struct zd_nd_namespace_opts *o)
{
	struct zd_nd_pfn_params p = { 0 };
	struct zd_nd_pfn_sb sb, old;
	char why[400] = "";
	int rc;

	if ((r->mode != ZD_NS_MODE_RAW || r->claim) && !o->force) {
		zd_pr_err(r->m, "namespace%d.0: already %s; destroy it, or reconfigure with force "
			  "(ndctl -f)", r->id, zd_nd_ns_mode_name(r->mode));
		return -EBUSY;
	}
	if (o->mode == ZD_NS_MODE_RAW) {
		/* raw needs no metadata: just make sure no stale claim remains */
		return zd_nd_destroy_namespace(r);
	}
	if (r->read_only) {
		zd_pr_err(r->m, "namespace%d.0: region is read-only", r->id);
		return -ENXIO;
	}
	if (r->size < ZD_ND_MIN_NAMESPACE_SIZE) {
		zd_pr_err(r->m, "namespace%d.0: '--size=' must be >= 16MiB for '%s' mode (the "
			  "region holds %llu bytes)", r->id, zd_nd_ns_mode_name(o->mode), ULL(r->size));
		return -ENXIO;
	}
	p.kind = o->mode == ZD_NS_MODE_FSDAX ? ZD_ND_FSDAX : ZD_ND_DEVDAX;
	p.map = o->map ? o->map : ZD_ND_MAP_DEV;
	p.align = o->align ? o->align : 1ULL << r->m->arch.pmd_shift;
	rc = ndctl_checks(r, o, p.align);
	if (rc)
		return rc;
	p.start = r->start;
	p.size = r->size;
	p.page_size = r->m->arch.page_size;
	p.pmd_size = 1ULL << r->m->arch.pmd_shift;
	p.pud_size = 1ULL << r->m->arch.pud_shift;
	p.no_pud_thp = !r->m->arch.thp_pud;
	if (o->uuid)
		memcpy(p.uuid, o->uuid, 16);
	else
		derived_uuid(r, o->mode, p.uuid);
	rc = zd_nd_pfn_init_sb(&sb, &p, why, sizeof(why));
	/* Keep what the media held, so a failure below leaves it unchanged;
	 * a full filesystem refuses here, before the old claim goes. */
	if (!rc)
		rc = zd_nd_pfn_read_sb(r->fd, 0, &old, why, sizeof(why));
	if (!rc)
		rc = zd_nd_pfn_reserve(r->fd, 0, &sb, why, sizeof(why));
	if (rc)
		goto fail;
	/* ndctl -f -e: the active claim goes first (waiting for its pages). */
	zd_nd_namespace_disable(r);
	r->mode = ZD_NS_MODE_RAW;
	rc = zd_nd_pfn_write_sb(r->fd, 0, &sb, why, sizeof(why));
	if (!rc)
		rc = read_and_validate(r, p.kind, why, sizeof(why));
	if (!rc && (rc = enable(r, o->mode)))
		snprintf(why, sizeof(why), "the claim could not be enabled: %.120s",
			 r->refused[0] ? r->refused : zd_errno_name(rc));
	if (rc) {
		char why2[160];
		r->mode = ZD_NS_MODE_RAW;
		if (zd_nd_pfn_write_sb(r->fd, 0, &old, why2, sizeof(why2)))
			zd_pr_err(r->m, "namespace%d.0: could not restore the previous info block: %s",
				  r->id, why2);
		else
			zd_nd_namespace_probe(r);   /* what was there comes back */
		goto fail;
	}
	zd_pr_info(r->m, "namespace%d.0: %s map=%s align=0x%llx dataoff=0x%llx npfns=%llu", r->id,
		   zd_nd_ns_mode_name(r->mode), p.map == ZD_ND_MAP_DEV ? "dev" : "mem", ULL(p.align),
		   ULL(r->info.dataoff), ULL(r->info.npfns));
	return 0;
fail:
	zd_pr_err(r->m, "namespace%d.0: cannot create %s namespace: %s (%s)", r->id,
		  zd_nd_ns_mode_name(o->mode), why, zd_errno_name(rc));
	return rc;
}

void zd_nd_namespace_disable(struct zd_nd_region *r)
{
	if (r->claim) {
		zd_device_unregister(r->claim);   /* unbind: memunmap waits for references */
		r->claim = NULL;
	}
	ns_unclaim(r);
}

int zd_nd_rebind_namespace(struct zd_nd_region *r)
{
	if (r->mode == ZD_NS_MODE_RAW) {
		zd_pr_err(r->m, "namespace%d.0: raw namespaces have no claim to rebind", r->id);
		return -EINVAL;
	}
	zd_nd_namespace_disable(r);
	return zd_nd_namespace_probe(r);
}

int zd_nd_disable_namespace(struct zd_nd_region *r)
{
	struct zd_dax_info di;

	/* ndctl_namespace_disable_safe(): memory the page allocator holds
	 * cannot be unplugged from under it. */
	if (!zd_dax_info_get(r, &di) && di.online_memblocks) {
		zd_pr_err(r->m, "namespace%d.0: %s is active as system-ram (%u memory block%s "
			  "online), refusing to disable", r->id, di.chardev, di.online_memblocks,
			  di.online_memblocks == 1 ? "" : "s");
		return -EBUSY;
	}
	zd_nd_namespace_disable(r);
	r->user_disabled = true;
	zd_pr_info(r->m, "namespace%d.0: disabled", r->id);
	return 0;
}

int zd_nd_enable_namespace(struct zd_nd_region *r)
{
	if (!r->user_disabled && (r->mode == ZD_NS_MODE_RAW || r->claim))
		return 0;
	zd_nd_namespace_disable(r);
	return zd_nd_namespace_probe(r);
}

int zd_nd_destroy_namespace(struct zd_nd_region *r)
{
	static const struct zd_nd_pfn_sb zero;
	char why[160];
	int rc;

	if (r->read_only)
		return -ENXIO;
	zd_nd_namespace_disable(r);
	r->mode = ZD_NS_MODE_RAW;
	r->refused[0] = '\0';
	rc = zd_nd_pfn_write_sb(r->fd, 0, &zero, why, sizeof(why));
	if (rc)
		zd_pr_err(r->m, "namespace%d.0: cannot erase the info block: %s", r->id, why);
	raw_enable(r);
	return rc;
}

int zd_nd_namespace_get(struct zd_nd_region *r, struct zd_nd_namespace_info *in)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->dev, sizeof(in->dev), "namespace%d.0", r->id);
	in->mode = r->mode;
	in->user_disabled = r->user_disabled;
	in->enabled = !r->user_disabled && (r->mode == ZD_NS_MODE_RAW || r->claim);
	snprintf(in->refused, sizeof(in->refused), "%s", r->refused);
	if (r->mode == ZD_NS_MODE_RAW) {
		in->size = r->size;
		in->data_start = r->start;
		snprintf(in->blockdev, sizeof(in->blockdev), "pmem%d", r->id);
		return 0;
	}
	in->map = r->info.mode;
	in->align = r->info.align;
	in->size = r->layout.data_size;
	in->data_start = r->layout.data_start;
	zd_nd_uuid_format(r->info.uuid, in->uuid);
	if (r->mode == ZD_NS_MODE_FSDAX)
		snprintf(in->blockdev, sizeof(in->blockdev), "pmem%d", r->id);
	else
		snprintf(in->chardev, sizeof(in->chardev), "dax%d.0", r->id);
	return 0;
}

void *zd_nd_namespace_data(struct zd_nd_region *r, uint64_t *size)
{
	struct zd_nd_namespace_info in;

	zd_nd_namespace_get(r, &in);
	if (size)
		*size = in.enabled ? in.size : 0;
	return in.enabled ? r->virt + (in.data_start - r->start) : NULL;
}

int zd_nd_namespace_write(struct zd_nd_region *r, uint64_t off, const void *buf, size_t len)
{
	struct zd_nd_namespace_info in;
	uint64_t file_off;
	char why[400];
	int rc;

	zd_nd_namespace_get(r, &in);
	if (!in.enabled) {
		zd_pr_err(r->m, "namespace%d.0: disabled (%s): no block device to write through",
			  r->id, r->refused[0] ? r->refused : "not enabled");
		return -ENXIO;
	}
	if (r->read_only) {
		zd_pr_err(r->m, "namespace%d.0: region is read-only", r->id);
		return -EROFS;
	}
	if (off > in.size || len > in.size - off) {
		zd_pr_err(r->m, "namespace%d.0: %zu bytes at offset 0x%llx do not fit in its 0x%llx "
			  "byte data area", r->id, len, ULL(off), ULL(in.size));
		return -EINVAL;
	}
	/* Blocks first: a store into a hole of a full filesystem is a SIGBUS
	 * through the mapping, and pwrite could leave half the bytes. */
	file_off = in.data_start - r->start + off;
	rc = zd_backing_reserve(r->fd, file_off, len, "the write", why, sizeof(why));
	if (rc) {
		zd_pr_err(r->m, "namespace%d.0: %s", r->id, why);
		return rc;
	}
	rc = zd_backing_write(r->fd, buf, len, file_off);
	if (rc)
		zd_pr_err(r->m, "namespace%d.0: write of %zu bytes at 0x%llx of %s failed: %s", r->id,
			  len, ULL(file_off), r->path, strerror(-rc));
	return rc;
}

struct zd_dev_pagemap *zd_nd_namespace_pgmap(struct zd_nd_region *r)
{
	return r->claim ? &r->pgmap : NULL;
}

static void for_each_region(struct zd_machine *m, void (*fn)(struct zd_nd_region *, void *),
			    void *arg)
{
	char name[32];

	for (int i = 0; ; i++) {
		struct zd_nd_region *r;
		snprintf(name, sizeof(name), "region%d", i);
		r = zd_nd_region_find(m, name);
		if (!r)
			return;
		fn(r, arg);
	}
}

static void list_one_json(struct zd_nd_region *r, void *arg)
{
	FILE *f = ((void **)arg)[0];
	int *n = ((void **)arg)[1];
	struct zd_nd_namespace_info in;

	zd_nd_namespace_get(r, &in);
	fprintf(f, "%s\n  {\n    \"dev\":\"%s\",\n    \"mode\":\"%s\",\n", (*n)++ ? "," : "",
		in.dev, zd_nd_ns_mode_name(in.mode));
	if (in.mode != ZD_NS_MODE_RAW)
		fprintf(f, "    \"map\":\"%s\",\n", in.map == ZD_ND_MAP_DEV ? "dev" : "mem");
	fprintf(f, "    \"size\":%llu,\n", ULL(in.size));
	if (in.mode != ZD_NS_MODE_RAW)
		fprintf(f, "    \"uuid\":\"%s\",\n", in.uuid);
	if (in.mode == ZD_NS_MODE_DEVDAX)
		fprintf(f, "    \"chardev\":\"%s\",\n", in.chardev);
	if (in.mode != ZD_NS_MODE_DEVDAX)
		fprintf(f, "    \"sector_size\":512,\n");
	if (in.mode != ZD_NS_MODE_RAW)
		fprintf(f, "    \"align\":%llu,\n", ULL(in.align));
	if (in.blockdev[0])
		fprintf(f, "    \"blockdev\":\"%s\",\n", in.blockdev);
	if (!in.enabled)
		fprintf(f, "    \"state\":\"disabled\",\n");
	fprintf(f, "    \"numa_node\":%d\n  }", r->node);
}

void zd_nd_list_namespaces_json(struct zd_machine *m, FILE *f)
{
	int n = 0;
	void *arg[2] = { f, &n };

	fprintf(f, "[");
	for_each_region(m, list_one_json, arg);
	fprintf(f, "%s]\n", n ? "\n" : "");
}

static void list_one(struct zd_nd_region *r, void *arg)
{
	FILE *f = arg;
	struct zd_nd_namespace_info in;

	zd_nd_namespace_get(r, &in);
	fprintf(f, "%-14s %-7s %-4s size=%-14llu align=%-10llu %s%s%s\n", in.dev,
		zd_nd_ns_mode_name(in.mode),
		in.mode == ZD_NS_MODE_RAW ? "-" : in.map == ZD_ND_MAP_DEV ? "dev" : "mem",
		ULL(in.size), ULL(in.align), in.chardev[0] ? in.chardev : in.blockdev,
		in.refused[0] ? "  refused: " : "", in.refused);
}

void zd_nd_list_namespaces(struct zd_machine *m, FILE *f)
{
	for_each_region(m, list_one, f);
}
