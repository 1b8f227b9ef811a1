/*
 * GUP over huge device-dax leaves (mm/gup.c: gup_fast_pmd_leaf() and
 * gup_fast_pud_leaf(), follow_page_mask()'s page_mask, unpin_user_pages()
 * by folio): a leaf's subpages are taken in one go, so every count must
 * still come out per page. For 2M (PMD) and 1G (PUD) namespaces, with a
 * range that starts inside one folio and ends inside the next:
 *  - get_user_pages_fast_only takes the whole mapping (the lockless walk
 *    never hands devdax leaves to the slow path);
 *  - pin_user_pages_fast, pin_user_pages and pin_user_pages with
 *    FOLL_LONGTERM return the consecutive subpages of the right pfns, and
 *    each folio's refcount and pincount grow by exactly its own pages, as
 *    does the machine's nr_foll_pin_acquired;
 *  - get_user_pages(_fast) add one reference per page and no pin;
 *  - unpin_user_pages / put_page restore every count, and a batch that
 *    ends inside a leaf takes only what it was asked for.
 */
#include <zonedev/zonedev.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "tap.h"

#define M (1ULL << 20)
#define G (1ULL << 30)
#define PS 4096ULL

struct counts {
	int ref[2];
	unsigned long pin[2];
	unsigned long acquired, released;
};

static void snap(struct zd_machine *m, struct zd_page *f0, struct zd_page *f1, struct counts *c)
{
	c->ref[0] = zd_page_ref_count(f0);
	c->ref[1] = zd_page_ref_count(f1);
	c->pin[0] = *zd_folio_pincount(f0);
	c->pin[1] = *zd_folio_pincount(f1);
	c->acquired = m->nr_foll_pin_acquired;
	c->released = m->nr_foll_pin_released;
}

enum call { PIN_FAST, PIN, PIN_LONGTERM, GET_FAST, GET };
static const char *call_name[] = { "pin_user_pages_fast", "pin_user_pages",
				   "pin_user_pages(FOLL_LONGTERM)", "get_user_pages_fast",
				   "get_user_pages" };

static long call(struct zd_mm *mm, enum call c, uint64_t a, unsigned long n, struct zd_page **p)
{
	long r;

	switch (c) {
	case PIN_FAST: return zd_pin_user_pages_fast(mm, a, n, ZD_FOLL_WRITE, p);
	case GET_FAST: return zd_get_user_pages_fast(mm, a, n, ZD_FOLL_WRITE, p);
	default: break;
	}
	zd_mmap_read_lock(mm);
	if (c == GET)
		r = zd_get_user_pages(mm, a, n, ZD_FOLL_WRITE, p);
	else
		r = zd_pin_user_pages(mm, a, n, ZD_FOLL_WRITE |
				      (c == PIN_LONGTERM ? ZD_FOLL_LONGTERM : 0), p);
	zd_mmap_read_unlock(mm);
	return r;
}

/* n pages from skip pages before the second folio: skip on folio 0, the
 * rest on folio 1. */
static void across(struct zd_machine *m, struct zd_mm *mm, uint64_t a, uint64_t leaf,
		   uint64_t pfn0, const char *nm, enum call c, unsigned long skip, unsigned long n)
{
	uint64_t lp = leaf / PS;
	struct zd_page *f0 = zd_pfn_to_page(m, pfn0), *f1 = zd_pfn_to_page(m, pfn0 + lp);
	struct zd_page **p = calloc(n, sizeof(*p));
	bool pin = c <= PIN_LONGTERM, seq = true;
	unsigned long on1 = n > skip ? n - skip : 0, on0 = n - on1;
	struct counts b, d, e;
	long got;

	snap(m, f0, f1, &b);
	got = call(mm, c, a + leaf - skip * PS, n, p);
	snap(m, f0, f1, &d);
	is_int(got, (long)n, "%s: %s of %lu pages from %lu before the next folio", nm,
	       call_name[c], n, skip);
	for (unsigned long i = 0; got > 0 && i < (unsigned long)got; i++)
		seq &= p[i] == zd_pfn_to_page(m, pfn0 + lp - skip + i);
	ok(seq, "%s: %s: the consecutive subpages of the mapped pfns", nm, call_name[c]);
	ok(d.ref[0] - b.ref[0] == (int)on0 && d.ref[1] - b.ref[1] == (int)on1,
	   "%s: %s: each folio gains one reference per page of its own (%d/%lu, %d/%lu)", nm,
	   call_name[c], d.ref[0] - b.ref[0], on0, d.ref[1] - b.ref[1], on1);
	if (pin)
		ok(d.pin[0] - b.pin[0] == on0 && d.pin[1] - b.pin[1] == on1 &&
		   d.acquired - b.acquired == n,
		   "%s: %s: and one pin per page (pincount %lu/%lu, acquired %lu)", nm,
		   call_name[c], d.pin[0] - b.pin[0], d.pin[1] - b.pin[1], d.acquired - b.acquired);
	else
		ok(d.pin[0] == b.pin[0] && d.pin[1] == b.pin[1] && d.acquired == b.acquired,
		   "%s: %s: no pin", nm, call_name[c]);
	if (got > 0) {
		if (pin)
			zd_unpin_user_pages(m, p, (unsigned long)got);
		else
			for (long i = 0; i < got; i++)
				zd_put_page(m, p[i]);
	}
	snap(m, f0, f1, &e);
	ok(e.ref[0] == b.ref[0] && e.ref[1] == b.ref[1] && e.pin[0] == b.pin[0] &&
	   e.pin[1] == b.pin[1] && e.released - b.released == (pin ? n : 0),
	   "%s: %s: giving them back restores every count", nm, call_name[c]);
	free(p);
}

static void run(const char *path, uint64_t align, uint64_t region, const char *nm)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_nd_region_desc pm = { .start = 8 * G, .size = region, .path = path };
	struct zd_machine_desc d = { .arch = "x86_64", .ram = ram, .nr_ram = 1, .pmem = &pm,
				     .nr_pmem = 1 };
	struct zd_nd_namespace_opts o = { .mode = ZD_NS_MODE_DEVDAX, .map = ZD_ND_MAP_MEM,
					  .align = align };
	struct zd_nd_namespace_info in;
	uint64_t len = 2 * align, lp = align / PS;
	struct zd_machine *m;
	struct zd_mm *mm;
	struct zd_file *f;
	int64_t a;

	unlink(path);
	m = zd_machine_create(&d);
	if (!ok(!ZD_IS_ERR(m), "%s: a machine with a pmem region", nm))
		return;
	struct zd_nd_region *r = zd_nd_region_find(m, "region0");
	if (!ok(!zd_nd_create_namespace(r, &o), "%s: a devdax namespace", nm))
		goto out;
	zd_nd_namespace_get(r, &in);
	mm = zd_mm_alloc(m);
	f = zd_dev_dax_open(r);
	a = zd_vm_mmap(mm, 0, len, ZD_PROT_READ | ZD_PROT_WRITE, ZD_MAP_SHARED, f, 0);
	if (!ok(a > 0, "%s: mmap of two folios", nm))
		goto out_mm;
	for (uint64_t off = 0; off < len; off += align)
		zd_access_vm(mm, (uint64_t)a + off, "x", 1, true);
	uint64_t pfn0 = in.data_start / PS;

	struct zd_page **all = calloc(len / PS, sizeof(*all));
	is_int(zd_get_user_pages_fast_only(mm, (uint64_t)a, len / PS, ZD_FOLL_WRITE, all),
	       (long)(len / PS), "%s: the lockless walk takes the whole mapping", nm);
	for (uint64_t i = 0; i < len / PS; i++)
		zd_put_page(m, all[i]);
	free(all);
	for (enum call c = PIN_FAST; c <= GET; c++) {
		across(m, mm, (uint64_t)a, align, pfn0, nm, c, 3, 3 + 10);
		across(m, mm, (uint64_t)a, align, pfn0, nm, c, lp, lp + 5);
	}
	/* a batch ending inside a leaf: the rest of the leaf stays untaken */
	across(m, mm, (uint64_t)a, align, pfn0, nm, PIN_FAST, lp, 7);
	across(m, mm, (uint64_t)a, align, pfn0, nm, PIN, lp, 7);
	is_u64(zd_warn_count(m), 0, "%s: no WARN", nm);
	zd_vm_munmap(mm, (uint64_t)a, len);
out_mm:
	if (!ZD_IS_ERR(f))
		zd_fput(f);
	zd_mmput(mm);
out:
	zd_machine_destroy(m);
}

int main(void)
{
	char dir[] = "/tmp/zonedev-gup-huge-XXXXXX", path[64];

	if (!ok(mkdtemp(dir) != NULL, "a temporary directory"))
		return done_testing();
	snprintf(path, sizeof(path), "%s/region0.pmem", dir);
	run(path, 2 * M, 256 * M, "pmd");
	run(path, 1 * G, 4 * G, "pud");
	unlink(path);
	rmdir(dir);
	return done_testing();
}
