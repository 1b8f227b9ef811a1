/*
 * Host backing of the machine's RAM contents: each hot-added or boot range
 * gets an anonymous MAP_NORESERVE mapping (free until touched), and every
 * section records the host address of its contents so page_address() is one
 * load and one add.
 * Invariants: a section's phys_base, once set, points into a backing that
 * covers the whole section; a backing is unmapped when no section uses it;
 * phys_base changes only under the hotplug write lock.
 */
#include <zonedev/err.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "mm/internal.h"

struct zd_phys_backing {
	struct zd_phys_backing *next;
	uint64_t start_pfn, nr_pages; /* section-aligned hull */
	char *host;
	uint64_t refs;                /* sections whose phys_base points here */
};

static char *biased_base(const struct zd_arch *a, char *host, uint64_t hull_pfn)
{
	return (char *)((uintptr_t)host - (uintptr_t)(hull_pfn << a->page_shift));
}

int zd_physmem_map_ram(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	const struct zd_arch *a = &m->arch;
	uint64_t s = pfn & ~(a->pages_per_section - 1);
	uint64_t e = (pfn + nr + a->pages_per_section - 1) & ~(a->pages_per_section - 1);
	struct zd_phys_backing *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->host = mmap(NULL, (size_t)((e - s) << a->page_shift), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->host == MAP_FAILED) {
		free(b);
		zd_pr_err(m, "physmem: cannot map %llu MiB of host backing",
			  (unsigned long long)((e - s) << a->page_shift >> 20));
		return -ENOMEM;
	}
	b->start_pfn = s;
	b->nr_pages = e - s;
	pthread_mutex_lock(&m->backing_lock);
	for (uint64_t p = s; p < e; p += a->pages_per_section) {
		struct zd_mem_section *ms = zd_pfn_to_section(m, p);
		if (!ms || __atomic_load_n(&ms->phys_base, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&ms->phys_base, biased_base(a, b->host, s), __ATOMIC_RELEASE);
		b->refs++;
	}
	if (!b->refs) {
		munmap(b->host, (size_t)(b->nr_pages << a->page_shift));
		free(b);
	} else {
		b->next = m->backings;
		m->backings = b;
	}
	pthread_mutex_unlock(&m->backing_lock);
	return 0;
}

/* Sections wholly inside [pfn, pfn+nr) lose their contents. */
void zd_physmem_unmap_ram(struct zd_machine *m, uint64_t pfn, uint64_t nr)
{
	const struct zd_arch *a = &m->arch;

	pthread_mutex_lock(&m->backing_lock);
	for (uint64_t p = pfn; p + a->pages_per_section <= pfn + nr; p += a->pages_per_section) {
		struct zd_mem_section *ms = zd_pfn_to_section(m, p);
		struct zd_phys_backing **pb;

		if (!ms || !ms->phys_base)
			continue;
		__atomic_store_n(&ms->phys_base, NULL, __ATOMIC_RELEASE);
		for (pb = &m->backings; *pb; pb = &(*pb)->next) {
			struct zd_phys_backing *b = *pb;
			if (p < b->start_pfn || p >= b->start_pfn + b->nr_pages)
				continue;
			if (--b->refs == 0) {
				*pb = b->next;
				munmap(b->host, (size_t)(b->nr_pages << a->page_shift));
				free(b);
			} else {
				/* Give the section's memory back even while the
				 * backing lives on for its other sections. */
				madvise(b->host + ((p - b->start_pfn) << a->page_shift),
					(size_t)(a->pages_per_section << a->page_shift), MADV_DONTNEED);
			}
			break;
		}
	}
	pthread_mutex_unlock(&m->backing_lock);
}

void zd_physmem_fini(struct zd_machine *m)
{
	while (m->backings) {
		struct zd_phys_backing *b = m->backings;
		m->backings = b->next;
		munmap(b->host, (size_t)(b->nr_pages << m->arch.page_shift));
		free(b);
	}
}

void *zd_pfn_address(struct zd_machine *m, uint64_t pfn)
{
	struct zd_mem_section *ms = zd_pfn_to_section(m, pfn);
	char *base = ms ? __atomic_load_n(&ms->phys_base, __ATOMIC_ACQUIRE) : NULL;

	return base ? (void *)((uintptr_t)base + (uintptr_t)(pfn << m->arch.page_shift)) : NULL;
}

void *zd_page_address(struct zd_machine *m, const struct zd_page *page)
{
	return zd_pfn_address(m, zd_page_to_pfn(m, page));
}
