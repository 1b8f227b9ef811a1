/*
 * Process steps: a process (an address space), fork and exit, and the
 * system calls on its VMAs (mmap, munmap, mprotect, mremap, madvise), its
 * CPU's loads and stores (write, read), the expect vma form and the maps,
 * smaps_rollup and page_tables reports. Each calls one libzonedev entry
 * point (include/zonedev/mm.h) and reports what it did.
 * Invariants: a process handle holds its mm from its process/fork step to
 * its exit step (the machine ends processes still alive when it goes); an
 * mmap or mremap handle records the address the call returned, usable as
 * any later step's address.
 */
#include "cli.h"
#include "devsteps.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The process a step names; NULL with the failure set if it ended. */
static struct zd_mm *step_mm(struct run *r, const struct step *st, struct step_result *res)
{
	if (!handle_held(r, st->process, "process", "exited", "process step", res))
		return NULL;
	return r->h[st->process].mm;
}

/* The process and the resolved start address of a step on a range. */
static struct zd_mm *step_mm_addr(struct run *r, const struct step *st,
				  struct step_result *res, uint64_t *addr)
{
	struct zd_mm *mm = step_mm(r, st, res);

	return mm && resolve_or_fail(r, &st->start, res, addr) ? mm : NULL;
}

static void mm_info(struct run *r, struct zd_mm *mm, struct step_result *res, const char *what)
{
	step_info(res, "%spid %d: %zu VMAs, %" PRIu64 " pages mapped", what, mm->pid, mm->map_count,
		  mm->total_vm);
	jw_ki64(r->json, "pid", mm->pid);
	jw_ku64(r->json, "map_count", mm->map_count);
	jw_ku64(r->json, "total_vm", mm->total_vm);
}

void exec_process(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_mm *mm;

	if (!handle_idle(r, st->handle, "a process", "exit", res))
		return;
	mm = zd_mm_alloc(r->m);
	if (ZD_IS_ERR(mm)) {
		res->err = (int)ZD_PTR_ERR(mm);
		return;
	}
	handle_set(r, st->handle, 0, false)->mm = mm;
	mm_info(r, mm, res, "");
}

void exec_fork(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_mm *mm = step_mm(r, st, res), *child;

	if (!mm || !handle_idle(r, st->handle, "a process", "exit", res))
		return;
	child = zd_dup_mm(mm);
	if (ZD_IS_ERR(child)) {
		res->err = (int)ZD_PTR_ERR(child);
		return;
	}
	handle_set(r, st->handle, 0, false)->mm = child;
	mm_info(r, child, res, "child ");
}

void exec_exit(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_mm *mm = step_mm(r, st, res);

	if (!mm)
		return;
	step_info(res, "pid %d exited, %zu VMAs unmapped", mm->pid, mm->map_count);
	zd_mmput(mm);
	r->h[st->process].live = false;
	r->h[st->process].mm = NULL;
}

/* The range a step ended with, as info and JSON. */
static void range_info(struct run *r, struct zd_mm *mm, uint64_t addr, uint64_t len,
		       const char *what, struct step_result *res)
{
	step_info(res, "%s [0x%" PRIx64 "-0x%" PRIx64 ") in pid %d (%zu VMAs)", what, addr,
		  addr + len, mm->pid, mm->map_count);
	jw_khex(r->json, "addr", addr);
	jw_ku64(r->json, "map_count", mm->map_count);
}

void exec_mmap(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t addr;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	int64_t got;

	struct zd_file *file = NULL;

	if (!mm)
		return;
	if (st->file_name) {
		/* open() of a DAX file; the mapping keeps its own reference */
		file = zd_daxfs_open(pmem_region(r->m, st->region), st->file_name,
				     ZD_FMODE_READ | ZD_FMODE_WRITE);
		if (ZD_IS_ERR(file)) {
			res->err = (int)ZD_PTR_ERR(file);
			return;
		}
	} else if (st->region >= 0) {
		/* open("/dev/daxN.0"); the mapping keeps its own reference */
		file = zd_dev_dax_open(pmem_region(r->m, st->region));
		if (ZD_IS_ERR(file)) {
			res->err = (int)ZD_PTR_ERR(file);
			return;
		}
	}
	got = zd_vm_mmap(mm, addr, st->size, (unsigned long)st->prot, (unsigned long)st->mflags,
			 file, st->offset);
	if (file)
		zd_fput(file);
	if (got < 0) {
		res->err = (int)got;
		return;
	}
	handle_set(r, st->handle, (uint64_t)got, false);
	range_info(r, mm, (uint64_t)got, st->size, "mapped", res);
}

void exec_mremap(struct run *r, const struct step *st, struct step_result *res)
{
	uint64_t addr, new_addr;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	int64_t got;

	if (!mm || !resolve_or_fail(r, &st->new_addr, res, &new_addr))
		return;
	got = zd_do_mremap(mm, addr, st->size, st->new_size, (unsigned long)st->mflags, new_addr);
	if (got < 0) {
		res->err = (int)got;
		return;
	}
	handle_set(r, st->handle, (uint64_t)got, false);
	range_info(r, mm, (uint64_t)got, st->new_size, "now", res);
}

/* munmap, mprotect, madvise: one call on the range, which the info shows. */
#define MM_RANGE_STEP(name, call, what)							\
	void name(struct run *r, const struct step *st, struct step_result *res)	\
	{										\
		uint64_t addr;								\
		struct zd_mm *mm = step_mm_addr(r, st, res, &addr);			\
											\
		if (!mm)								\
			return;								\
		res->err = (call);							\
		if (!res->err)								\
			range_info(r, mm, addr, st->size, what, res);			\
	}

MM_RANGE_STEP(exec_munmap, zd_vm_munmap(mm, addr, st->size), "unmapped")
MM_RANGE_STEP(exec_mprotect, zd_do_mprotect(mm, addr, st->size, (unsigned long)st->prot),
	      "protected")
MM_RANGE_STEP(exec_madvise, zd_do_madvise(mm, addr, st->size, st->advice), "advised")

/* The CPU's access: SIGSEGV, SIGBUS and OOM come back as the errno
 * zd_access_vm() gives (EFAULT, EIO, ENOMEM), which expect_error names. */
static void access_mem(struct run *r, const struct step *st, struct step_result *res, bool write)
{
	uint64_t addr;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	char *buf;

	if (!mm)
		return;
	buf = write ? (char *)st->data.p : calloc(1, st->data.len + 1);
	if (!buf) {
		step_fail(res, "out of memory");
		return;
	}
	res->err = zd_access_vm(mm, addr, buf, st->data.len, write);
	if (!res->err) {
		step_info(res, "pid %d: %zu bytes %s 0x%" PRIx64 " (minor faults so far: %lu)",
			  mm->pid, st->data.len, write ? "stored at" : "loaded from", addr,
			  mm->min_flt);
		if (!write)
			expect_bytes(res, "the bytes read", buf, st->data.p, st->data.len);
	}
	if (!write)
		free(buf);
}

void exec_write_mem(struct run *r, const struct step *st, struct step_result *res)
{
	access_mem(r, st, res, true);
}

void exec_read_mem(struct run *r, const struct step *st, struct step_result *res)
{
	access_mem(r, st, res, false);
}

/* pin: the pages of the range pinned for the handle; the info shows the
 * first page's counts (refcount, and pincount for a large folio). */
void exec_pin(struct run *r, const struct step *st, struct step_result *res)
{
	const uint64_t ps = r->m->arch.page_size;
	unsigned flags = (unsigned)st->mflags & ~PIN_FAST;
	struct handle_state *h = &r->h[st->handle];
	uint64_t addr, n;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	struct zd_page **pages;
	long got;

	if (!mm || !handle_idle(r, st->handle, "pinned pages", "unpin", res))
		return;
	n = (st->size + ps - 1) / ps;
	pages = calloc(n ? n : 1, sizeof(*pages));
	if (!pages) {
		step_fail(res, "out of memory");
		return;
	}
	got = st->mflags & PIN_FAST ? zd_pin_user_pages_fast(mm, addr, n, flags, pages)
				    : zd_pin_user_pages_unlocked(mm, addr, n, flags, pages);
	if (got < 0) {
		free(pages);
		res->err = (int)got;
		return;
	}
	handle_set(r, st->handle, addr, false);
	h->pins = pages;
	h->nr_pins = got;
	struct zd_page *folio = got ? zd_page_folio(r->m, pages[0]) : NULL;
	step_info(res, "pid %d: %ld of %" PRIu64 " pages pinned; the first is pfn 0x%" PRIx64
		  ", refcount %d, pincount %lu", mm->pid, got, n,
		  got ? zd_page_to_pfn(r->m, pages[0]) : 0, folio ? zd_page_ref_count(folio) : 0,
		  folio && zd_folio_order(r->m, folio) ? *zd_folio_pincount(folio) : 0UL);
	jw_ki64(r->json, "pinned", got);
}

void exec_unpin(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];

	if (!handle_held(r, st->handle, "pinned pages", "unpinned", "pin", res))
		return;
	zd_unpin_user_pages(r->m, h->pins, (unsigned long)h->nr_pins);
	step_info(res, "%ld pages unpinned", h->nr_pins);
	free(h->pins);
	h->pins = NULL;
	h->live = false;
}

/* ---------- expect vma ---------- */

void ex_vma(struct run *r, const struct step *st, struct step_result *res)
{
	struct zd_mm *mm = step_mm(r, st, res);
	struct zd_vm_area_struct *vma;
	uint64_t addr, start = 0, end = 0, f = 0;
	char perms[5] = "";

	if (!mm || !resolve_or_fail(r, &st->start, res, &addr))
		return;
	zd_mmap_read_lock(mm);
	vma = zd_vma_lookup(mm, addr);
	if (vma) {
		start = vma->vm_start;
		end = vma->vm_end;
		f = vma->vm_flags;
	}
	zd_mmap_read_unlock(mm);
	if (!vma) {
		step_info(res, "pid %d: no VMA at 0x%" PRIx64, mm->pid, addr);
		if (!st->has_mapped || st->mapped)
			step_fail(res, "pid %d: nothing is mapped at 0x%" PRIx64, mm->pid, addr);
		return;
	}
	snprintf(perms, sizeof(perms), "%c%c%c%c", f & ZD_VM_READ ? 'r' : '-',
		 f & ZD_VM_WRITE ? 'w' : '-', f & ZD_VM_EXEC ? 'x' : '-',
		 f & ZD_VM_MAYSHARE ? 's' : 'p');
	step_info(res, "pid %d: 0x%" PRIx64 " is in %08" PRIx64 "-%08" PRIx64 " %s", mm->pid, addr,
		  start, end, perms);
	if (st->has_mapped && !st->mapped)
		step_fail(res, "pid %d: 0x%" PRIx64 " is mapped (%08" PRIx64 "-%08" PRIx64 " %s), "
			  "expected nothing there", mm->pid, addr, start, end, perms);
	if (st->has_vma_start && start != st->vma_start)
		step_fail(res, "pid %d: the VMA at 0x%" PRIx64 " starts at 0x%" PRIx64 ", expected "
			  "0x%" PRIx64, mm->pid, addr, start, st->vma_start);
	if (st->has_vma_end && end != st->vma_end)
		step_fail(res, "pid %d: the VMA at 0x%" PRIx64 " ends at 0x%" PRIx64 ", expected "
			  "0x%" PRIx64, mm->pid, addr, end, st->vma_end);
	if (st->has_perms && strcmp(perms, st->perms))
		step_fail(res, "pid %d: the VMA at 0x%" PRIx64 " is %s, expected %s", mm->pid, addr,
			  perms, st->perms);
}

/* ---------- report maps ---------- */

/* Live processes in pid order (the machine's list is newest first). */
static size_t processes(struct zd_machine *m, struct zd_mm **out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&m->mm_list_lock);
	for (struct zd_mm *mm = m->mm_list; mm && n < max; mm = mm->next)
		out[n++] = mm;
	pthread_mutex_unlock(&m->mm_list_lock);
	for (size_t i = 0; i < n / 2; i++) {
		struct zd_mm *t = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	return n;
}

#define MAX_REPORTED 256

void maps_text(struct zd_machine *m, FILE *f)
{
	struct zd_mm *mms[MAX_REPORTED];
	size_t n = processes(m, mms, MAX_REPORTED);

	for (size_t i = 0; i < n; i++) {
		/* the headers head(1) prints between files */
		fprintf(f, "%s==> /proc/%d/maps <==\n", i ? "\n" : "", mms[i]->pid);
		zd_show_maps(mms[i], f);
	}
}

/* One text report per process with head(1)'s headers between them. */
static void per_process(struct zd_machine *m, FILE *f, const char *file,
			void (*show)(struct zd_mm *mm, FILE *f))
{
	struct zd_mm *mms[MAX_REPORTED];
	size_t n = processes(m, mms, MAX_REPORTED);

	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s==> /proc/%d/%s <==\n", i ? "\n" : "", mms[i]->pid, file);
		show(mms[i], f);
	}
}

static void ptdump_show(struct zd_mm *mm, FILE *f)
{
	if (zd_ptdump_show(mm, f))
		fprintf(f, "(no ptdump format for %s)\n", mm->m->arch.name);
}

void smaps_rollup_text(struct zd_machine *m, FILE *f)
{
	per_process(m, f, "smaps_rollup", zd_show_smaps_rollup);
}

void page_tables_text(struct zd_machine *m, FILE *f)
{
	per_process(m, f, "page_tables", ptdump_show);
}

void maps_json(struct zd_machine *m, struct jw *w)
{
	struct zd_mm *mms[MAX_REPORTED];
	size_t n = processes(m, mms, MAX_REPORTED);

	jw_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		jw_obj_begin(w);
		jw_ki64(w, "pid", mms[i]->pid);
		jw_key(w, "maps");
		jw_arr_begin(w);
		if (f) {
			zd_show_maps(mms[i], f);
			fclose(f);
		}
		for (const char *l = text; l && *l;) {
			size_t k = strcspn(l, "\n");

			jw_strn(w, l, k);
			l += k + (l[k] ? 1 : 0);
		}
		jw_arr_end(w);
		jw_obj_end(w);
		free(text);
	}
	jw_arr_end(w);
}
