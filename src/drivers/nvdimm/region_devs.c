/*
 * pmem regions (drivers/nvdimm/region_devs.c): a physical range whose
 * contents are a real file. The file is created sparse when missing and
 * must match the region size when present; the region appears in iomem as
 * "Persistent Memory" and as device regionN. Probing its namespace happens
 * in namespace_devs.c.
 * Invariants: the file is never truncated or rewritten by opening it; it is
 * locked (flock) for as long as the region exists — exclusively, shared for
 * a read-only region — so two regions or two processes never alias one
 * file's persistent memory; a file the region created is removed again if
 * the region cannot come up.
 */
#include <zonedev/err.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "drivers/nvdimm/nd.h"
#include "base/align.h"
#include "base/backing.h"



static int region_count(struct zd_machine *m)
{
	int n = 0;
	char name[32];

	for (;; n++) {
		snprintf(name, sizeof(name), "region%d", n);
		if (!zd_device_find(m, name))
			return n;
	}
}

static void region_release(void *data)
{
	struct zd_nd_region *r = data;

	zd_nd_namespace_disable(r);
	if (r->virt)
		munmap(r->virt, r->size);
	if (r->res)
		zd_release_resource(r->m, r->res);
	/* A file this region created goes again if the region or the boot
	 * it belongs to never came up; before the close, which drops the
	 * lock another process could then take on the name. */
	if (r->created && (!r->up || !r->m->booted))
		unlink(r->path);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

static int open_backing(struct zd_machine *m, struct zd_nd_region *r)
{
	struct stat st;
	int err;

	r->fd = open(r->path, (r->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (r->fd < 0 && errno == ENOENT && !r->read_only) {
		r->fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		r->created = r->fd >= 0;
	}
	if (r->fd < 0) {
		err = errno;
		zd_pr_err(m, "nd_region: cannot open %s: %s", r->path, strerror(err));
		return -err;
	}
	if (fstat(r->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		zd_pr_err(m, "nd_region: %s is %s, not a regular file", r->path,
			  S_ISDIR(st.st_mode) ? "a directory" : "a special file");
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if (flock(r->fd, (r->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		err = errno;
		zd_pr_err(m, "nd_region: %s is in use by another region or process (%s): "
			  "persistent memory cannot be shared", r->path,
			  err == EWOULDBLOCK ? "locked" : strerror(err));
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	if (st.st_size == 0 && !r->read_only) {
		/* An empty file is a fresh region, whoever left it empty (a
		 * create killed before this point included). */
		err = zd_backing_size(r->fd, r->size);
		if (err) {
			zd_pr_err(m, "nd_region: cannot size %s to %llu bytes: %s", r->path,
				  ULL(r->size), strerror(-err));
			return err;
		}
	} else if ((uint64_t)st.st_size != r->size) {
		zd_pr_err(m, "nd_region: %s holds %llu bytes but the region is %llu: refusing to "
			  "resize persistent memory", r->path, ULL(st.st_size), ULL(r->size));
		return -EINVAL;
	}
	r->virt = mmap(NULL, r->size, PROT_READ | (r->read_only ? 0 : PROT_WRITE), MAP_SHARED,
		       r->fd, 0);
	if (r->virt == MAP_FAILED) {
		r->virt = NULL;
		return -ENOMEM;
	}
	return 0;
}

struct zd_nd_region *zd_nd_region_create(struct zd_machine *m, const struct zd_nd_region_desc *d)
{
	struct zd_nd_region *r;
	char name[32];
	int rc;

	uint64_t page = m->arch.page_size;

	if (d->path && strlen(d->path) >= sizeof(r->path)) {
		zd_pr_err(m, "nd_region: the file name of region 0x%llx+0x%llx is longer than %zu "
			  "bytes", ULL(d->start), ULL(d->size), sizeof(r->path) - 1);
		return ZD_ERR_PTR(-ENAMETOOLONG);
	}
	if (!d->path || !d->size || (d->start | d->size) & (page - 1)) {
		zd_pr_err(m, "nd_region: region 0x%llx+0x%llx needs a file and %llu-byte (PAGE_SIZE) "
			  "alignment", ULL(d->start), ULL(d->size), ULL(page));
		return ZD_ERR_PTR(-EINVAL);
	}
	/* align_store(): a power of two from PAGE_SIZE up to the region size. */
	if (d->align && (d->align & (d->align - 1) || d->align < page || d->align > d->size)) {
		zd_pr_err(m, "nd_region: align 0x%llx must be a power of two between PAGE_SIZE and "
			  "the region size 0x%llx", ULL(d->align), ULL(d->size));
		return ZD_ERR_PTR(-EINVAL);
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return ZD_ERR_PTR(-ENOMEM);
	r->m = m;
	r->fd = -1;
	r->start = d->start;
	r->size = d->size;
	r->node = d->node;
	r->read_only = d->read_only;
	/* default_align(): MEMREMAP_COMPAT_ALIGN_MAX (16 MiB), PAGE_SIZE for a
	 * region smaller than that (one mapping: no interleave scaling). */
	r->align = d->align ? d->align : d->size < (16ULL << 20) ? page : 16ULL << 20;
	snprintf(r->path, sizeof(r->path), "%s", d->path);
	r->id = region_count(m);
	snprintf(name, sizeof(name), "region%d", r->id);
	/* Not over RAM or another region, checked before the file is touched
	 * (the NFIT driver skips a range that already intersects persistent
	 * memory; anything else, a Reserved range or a PCI window, it nests
	 * under with insert_resource). */
	rc = zd_region_intersects(m, d->start, d->size, ZD_IORESOURCE_SYSTEM_RAM,
				  ZD_IORES_DESC_NONE) != ZD_REGION_DISJOINT ||
	     zd_region_intersects(m, d->start, d->size, ZD_IORESOURCE_MEM,
				  ZD_IORES_DESC_PERSISTENT_MEMORY) != ZD_REGION_DISJOINT ? -EBUSY : 0;
	if (rc)
		zd_pr_err(m, "nd_region: %s [mem 0x%llx-0x%llx] overlaps System RAM or another "
			  "region", name, ULL(d->start), ULL(d->start + d->size - 1));
	if (!rc)
		rc = open_backing(m, r);
	if (!rc) {
		r->res = zd_resource_alloc("Persistent Memory", d->start, d->size, ZD_IORESOURCE_MEM,
					   ZD_IORES_DESC_PERSISTENT_MEMORY);
		rc = !r->res ? -ENOMEM : zd_insert_resource(m, &m->iomem_resource, r->res);
		if (rc) {
			zd_resource_free(r->res);
			r->res = NULL;
			zd_pr_err(m, "nd_region: %s [mem 0x%llx-0x%llx] cannot be inserted in iomem "
				  "(%s)", name, ULL(d->start), ULL(d->start + d->size - 1),
				  zd_errno_name(rc));
		}
	}
	if (!rc) {
		r->dev = zd_device_register(m, name, d->node);
		if (ZD_IS_ERR(r->dev)) {
			rc = (int)ZD_PTR_ERR(r->dev);
			r->dev = NULL;
		}
	}
	if (rc) {
		region_release(r);
		return ZD_ERR_PTR(rc);
	}
	r->dev->driver_data = r;
	r->up = true;
	/* The region lives until its device goes; its namespace before it. */
	rc = zd_devm_add_action_or_reset(r->dev, region_release, r);
	if (rc)
		return ZD_ERR_PTR(rc);
	zd_pr_info(m, "%s: pmem [mem 0x%llx-0x%llx] backed by %s", name, ULL(d->start),
		   ULL(d->start + d->size - 1), r->path);
	zd_nd_namespace_probe(r);
	return r;
}

struct zd_nd_region *zd_nd_region_find(struct zd_machine *m, const char *name)
{
	struct zd_device *dev = zd_device_find(m, name);

	if (!dev || strncmp(name, "region", 6))
		return NULL;
	return dev->driver_data;
}

const char *zd_nd_region_name(const struct zd_nd_region *r)
{
	return zd_dev_name(r->dev);
}

uint64_t zd_nd_region_align(const struct zd_nd_region *r)
{
	return r->align;
}
