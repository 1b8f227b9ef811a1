/*
 * What a dmirror device holds, for reports: each open mirror's process,
 * counters and device page table (the xarray the READ/WRITE ioctls and
 * migrations fill), in runs of pages of one kind and tag whose pages
 * follow each other (a device THP's or a THP's run reads as one line).
 * Invariants: read under mirrors_lock and each mirror's mutex, the order
 * the rest of the driver takes them; nothing is changed.
 */
#include <zonedev/device.h>
#include <zonedev/machine.h>
#include <zonedev/mm.h>
#include <zonedev/memremap.h>
#include <zonedev/test_hmm.h>
#include <inttypes.h>
#include <stdio.h>
#include "test_hmm_internal.h"

/* One entry's kind as the SNAPSHOT bytes name them. */
static const char *entry_kind(struct zd_dmirror *d, struct zd_page *page)
{
	struct zd_machine *m = d->m;

	if (!zd_is_zone_device_page(page))
		return "system";
	if (zd_is_device_private_page(m, page))
		return zd_page_pgmap(m, page)->owner == d->mdevice ? "device-private local" :
								      "device-private remote";
	return zd_page_pgmap(m, page)->owner == d->mdevice ? "device-coherent local" :
							      "device-coherent remote";
}

static const char *tag_name(uintptr_t tag)
{
	return tag == DPT_XA_TAG_WRITE ? "write" : tag == DPT_XA_TAG_ATOMIC ? "atomic" : "read";
}

static void show_mirror(struct zd_dmirror *d, FILE *f)
{
	unsigned shift = d->m->arch.page_shift;
	uint64_t idx = 0, start = 0, n = 0;
	uintptr_t first = 0;
	struct zd_page *prev = NULL;
	void *e;

	pthread_mutex_lock(&d->mutex);
	fprintf(f, "%s: mirror of pid %d: %" PRIu64 " entries, %" PRIu64 " faults, %" PRIu64
		" reads, %" PRIu64 " writes\n", zd_dev_name(d->mdevice->dev), d->mm->pid,
		(uint64_t)d->pt.count, d->faults, d->reads, d->writes);
	for (;;) {
		uintptr_t entry;
		struct zd_page *page;
		bool more = (e = zd_xa_find(&d->pt, &idx, UINT64_MAX)) != NULL;

		entry = (uintptr_t)e;
		page = (struct zd_page *)(entry & ~DPT_XA_TAG_MASK);
		/* the run goes on: the next VA, the next page, the same tag */
		if (more && n && idx == start + n && page == prev + 1 &&
		    (entry & DPT_XA_TAG_MASK) == (first & DPT_XA_TAG_MASK)) {
			n++;
			prev = page;
			idx++;
			continue;
		}
		if (n) {
			struct zd_page *p0 = (struct zd_page *)(first & ~DPT_XA_TAG_MASK);
			bool offsets = zd_is_device_private_page(d->m, p0) &&
				       d->m->device_private == ZD_DEVICE_PRIVATE_DPA;

			fprintf(f, "  0x%" PRIx64 "-0x%" PRIx64 " %" PRIu64 " pages %s %s 0x%" PRIx64
				" %s\n", start << shift, (start + n) << shift, n, entry_kind(d, p0),
				offsets ? "offset" : "pfn",
				offsets ? zd_device_private_page_to_offset(p0) :
					  zd_page_to_pfn(d->m, p0),
				tag_name(first & DPT_XA_TAG_MASK));
		}
		if (!more)
			break;
		start = idx;
		first = entry;
		prev = page;
		n = 1;
		idx++;
	}
	pthread_mutex_unlock(&d->mutex);
}

void zd_dmirror_show(struct zd_dmirror_device *mdev, FILE *f)
{
	unsigned shown = 0;

	pthread_mutex_lock(&mdev->mirrors_lock);
	for (struct zd_dmirror *d = mdev->mirrors; d; d = d->next, shown++)
		show_mirror(d, f);
	pthread_mutex_unlock(&mdev->mirrors_lock);
	if (!shown)
		fprintf(f, "%s: no mirror open\n", zd_dev_name(mdev->dev));
}
