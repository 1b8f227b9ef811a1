/*
 * Process steps: a process (an address space), fork and exit, and the
 * system calls on its VMAs (mmap, munmap, mprotect, mremap, madvise), its
 * CPU's loads and stores (write, read, fill, check), GUP (pin/unpin,
 * gup/put), move_pages (migrate), the expect vma form and the maps,
 * smaps_rollup, page_tables and pagemap reports. Each calls one libzonedev
 * entry point (include/zonedev/mm.h) and reports what it did.
 * Invariants: a process handle holds its mm from its process/fork step to
 * its exit step (the machine ends processes still alive when it goes); an
 * mmap or mremap handle records the address the call returned, usable as
 * any later step's address; a pin or gup handle owns its page array and
 * one pin or reference per page until unpin/put (or the run's end).
 */
#include "cli.h"
#include "devsteps.h"

#include <zonedev/swapops.h>
#include <zonedev/test_hmm.h>

#include <errno.h>
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
struct zd_mm *step_mm_addr(struct run *r, const struct step *st, struct step_result *res,
			   uint64_t *addr)
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
	release_mirrors(r, st->process);   /* the GPUs' files close with the process */
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
	} else if (st->p2pmem) {
		/* open(".../p2pmem/allocate"); the mapping keeps its own reference */
		if (!(file = step_p2pmem_open(r, st, res)))
			return;
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

/* ---------- the CPU's loads and stores ---------- */

/*
 * The bytes a write or fill stores and a read or check expects, produced
 * in order chunk by chunk: the step's data, one byte repeated (pattern),
 * or the seed's stream: splitmix64 outputs, each as 8 bytes little endian,
 * the first from state seed + 0x9e3779b97f4a7c15.
 */
struct byte_src {
	const struct step *st;
	size_t off;
	uint64_t state, word;
	unsigned left;             /* bytes of word not yet used */
};

static uint8_t src_byte(struct byte_src *b)
{
	uint64_t z;

	if (b->st->has_pattern)
		return (uint8_t)b->st->pattern;
	if (!b->st->has_seed)
		return (uint8_t)b->st->data.p[b->off++];
	if (!b->left) {
		z = b->state += 0x9e3779b97f4a7c15ULL;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		b->word = z ^ (z >> 31);
		b->left = 8;
	}
	b->left--;
	return (uint8_t)(b->word >> (8 * (7 - b->left)));
}

/* The length of a step's range: its data's, or size. */
static size_t range_len(const struct step *st)
{
	return st->has_pattern || st->has_seed ? (size_t)st->size : st->data.len;
}

#define ACCESS_CHUNK 65536

/* What the source says, as a short text for messages. */
static const char *src_desc(const struct step *st, char *buf, size_t len)
{
	char esc[96];

	if (st->has_pattern)
		snprintf(buf, len, "pattern 0x%02" PRIx64, st->pattern);
	else if (st->has_seed)
		snprintf(buf, len, "the stream of seed %" PRIu64, st->seed);
	else
		snprintf(buf, len, "\"%s\"", fmt_escaped(st->data.p, st->data.len < 48 ?
							st->data.len : 48, esc, sizeof(esc)));
	return buf;
}

/* The CPU's access to the step's range, ACCESS_CHUNK bytes at a time:
 * stores of the source (write, fill), or loads compared with it (read,
 * check), the first differing byte failing the step with its address.
 * SIGSEGV, SIGBUS and OOM come back as the errno zd_access_vm() gives
 * (EFAULT, EIO, ENOMEM), which expect_error names. */
static void access_range(struct run *r, const struct step *st, struct step_result *res,
			 bool write, bool gpu)
{
	uint64_t addr, ps = r->m->arch.page_size;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	struct zd_dmirror *d = NULL;
	struct byte_src src = { st, 0, st->seed, 0, 0 };
	size_t len = range_len(st);
	uint8_t *want, *got;
	char what[128];

	if (!mm)
		return;
	/* the GPU's access goes through its mirror of the process, by pages */
	if (gpu && (len % ps || addr % ps)) {
		step_fail(res, "a GPU accesses whole pages: 0x%" PRIx64 " + %zu is not page aligned",
			  addr, len);
		return;
	}
	if (gpu && !(d = process_mirror(r, st, res)))
		return;
	want = malloc(ACCESS_CHUNK);
	got = malloc(ACCESS_CHUNK);
	if (!want || !got) {
		step_fail(res, "out of memory");
		goto out;
	}
	for (size_t off = 0; off < len && !res->err; off += ACCESS_CHUNK) {
		size_t n = len - off < ACCESS_CHUNK ? len - off : ACCESS_CHUNK;

		for (size_t i = 0; i < n; i++)
			want[i] = src_byte(&src);
		if (d) {
			struct zd_hmm_dmirror_cmd c = {
				.addr = addr + off, .ptr = (uintptr_t)(write ? want : got), .npages = n / ps,
			};

			res->err = write ? zd_dmirror_write(d, &c) : zd_dmirror_read(d, &c);
		} else {
			res->err = zd_access_vm(mm, addr + off, write ? want : got, n, write);
		}
		for (size_t i = 0; !write && !res->err && i < n; i++) {
			if (got[i] == want[i])
				continue;
			step_fail(res, "pid %d: the byte at 0x%" PRIx64 " is 0x%02x, expected 0x%02x "
				  "(the first that differs from %s over [0x%" PRIx64 "-0x%" PRIx64
				  "))", mm->pid, addr + off + i, got[i], want[i],
				  src_desc(st, what, sizeof(what)), addr, addr + len);
			jw_khex(r->json, "differs_at", addr + off + i);
			goto out;
		}
	}
	if (!res->err && d) {
		struct zd_dmirror_mirror_stats ms;

		zd_dmirror_mirror_stats(d, &ms);
		step_info(res, "%s: %zu bytes of pid %d %s 0x%" PRIx64 " (device faults so far: %"
			  PRIu64 ", %" PRIu64 " entries in its table)", r->s->gpus[st->gpu].name, len,
			  mm->pid, write ? "written at" : "read from", addr, ms.faults, ms.entries);
		jw_ku64(r->json, "bytes", len);
		jw_ku64(r->json, "device_faults", ms.faults);
	} else if (!res->err) {
		step_info(res, "pid %d: %zu bytes %s 0x%" PRIx64 " (minor faults so far: %lu)",
			  mm->pid, len, write ? "stored at" : "loaded from", addr, mm->min_flt);
		jw_ku64(r->json, "bytes", len);
	}
out:
	free(want);
	free(got);
}

void exec_write_mem(struct run *r, const struct step *st, struct step_result *res)
{
	access_range(r, st, res, true, false);
}

void exec_read_mem(struct run *r, const struct step *st, struct step_result *res)
{
	access_range(r, st, res, false, false);
}

void exec_fill(struct run *r, const struct step *st, struct step_result *res)
{
	access_range(r, st, res, true, false);
}

void exec_check(struct run *r, const struct step *st, struct step_result *res)
{
	access_range(r, st, res, false, false);
}

void exec_gpu_fill(struct run *r, const struct step *st, struct step_result *res)
{
	access_range(r, st, res, true, true);
}

void exec_gpu_check(struct run *r, const struct step *st, struct step_result *res)
{
	access_range(r, st, res, false, true);
}

/* pin and gup: the pages of the range pinned (FOLL_PIN) or referenced
 * (FOLL_GET) for the handle; the info shows the first page's counts
 * (refcount, and pincount for a large folio). */
static void gup_range(struct run *r, const struct step *st, struct step_result *res, bool pin)
{
	const uint64_t ps = r->m->arch.page_size;
	unsigned flags = (unsigned)st->mflags & ~PIN_FAST;
	bool fast = st->mflags & PIN_FAST;
	struct handle_state *h = &r->h[st->handle];
	uint64_t addr, n;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	struct zd_page **pages;
	long got;

	if (!mm || !handle_idle(r, st->handle, pin ? "pinned pages" : "referenced pages",
				pin ? "unpin" : "put", res))
		return;
	n = (st->size + ps - 1) / ps;
	pages = calloc(n ? n : 1, sizeof(*pages));
	if (!pages) {
		step_fail(res, "out of memory");
		return;
	}
	if (pin)
		got = fast ? zd_pin_user_pages_fast(mm, addr, n, flags, pages)
			   : zd_pin_user_pages_unlocked(mm, addr, n, flags, pages);
	else
		got = fast ? zd_get_user_pages_fast(mm, addr, n, flags, pages)
			   : zd_get_user_pages_unlocked(mm, addr, n, flags, pages);
	if (got < 0) {
		free(pages);
		res->err = (int)got;
		return;
	}
	handle_set(r, st->handle, addr, false);
	h->pins = pages;
	h->nr_pins = got;
	struct zd_page *folio = got ? zd_page_folio(r->m, pages[0]) : NULL;
	step_info(res, "pid %d: %ld of %" PRIu64 " pages %s; the first is pfn 0x%" PRIx64
		  ", refcount %d, pincount %lu", mm->pid, got, n, pin ? "pinned" : "referenced",
		  got ? zd_page_to_pfn(r->m, pages[0]) : 0, folio ? zd_page_ref_count(folio) : 0,
		  folio && zd_folio_order(r->m, folio) ? *zd_folio_pincount(folio) : 0UL);
	jw_ki64(r->json, pin ? "pinned" : "referenced", got);
}

void exec_pin(struct run *r, const struct step *st, struct step_result *res)
{
	gup_range(r, st, res, true);
}

void exec_gup(struct run *r, const struct step *st, struct step_result *res)
{
	gup_range(r, st, res, false);
}

/* unpin and put: the handle's pins go with unpin_user_pages(), GET
 * references with put_page() per page, as their holders must drop them. */
static void release_range(struct run *r, const struct step *st, struct step_result *res,
			  bool pin)
{
	struct handle_state *h = &r->h[st->handle];

	if (!handle_held(r, st->handle, pin ? "pinned pages" : "referenced pages",
			 pin ? "unpinned" : "put", pin ? "pin" : "gup", res))
		return;
	if (pin)
		zd_unpin_user_pages(r->m, h->pins, (unsigned long)h->nr_pins);
	else
		for (long i = 0; i < h->nr_pins; i++)
			zd_put_page(r->m, h->pins[i]);
	step_info(res, "%ld pages %s", h->nr_pins, pin ? "unpinned" : "put");
	free(h->pins);
	h->pins = NULL;
	h->live = false;
}

void exec_unpin(struct run *r, const struct step *st, struct step_result *res)
{
	release_range(r, st, res, true);
}

void exec_put(struct run *r, const struct step *st, struct step_result *res)
{
	release_range(r, st, res, false);
}

/* ---------- migrate ---------- */

static const char *status_why(int status)
{
	switch (status) {
	case -EFAULT: return "no VMA there, a VMA that cannot migrate (DAX, VM_IO, VM_PFNMAP), "
			     "or the zero page";
	case -EACCES: return "mapped by more than one process; flags move_all moves it";
	case -EBUSY: return "being migrated already, or a page kind that does not migrate yet";
	default: return "see dmesg";
	}
}

/* migrate: move_pages(2) of every page of the range to one node. Pages
 * with nothing present (-ENOENT) are skipped, as migrate_pages(2) skips
 * them; any other negative status fails the step with that errno, and
 * pages move_pages() could not migrate (pinned or otherwise referenced)
 * fail it with EBUSY. */
void exec_migrate(struct run *r, const struct step *st, struct step_result *res)
{
	const uint64_t ps = r->m->arch.page_size;
	uint64_t addr, n, *pages = NULL;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	int *nodes = NULL, *status = NULL;
	uint64_t on_node = 0, absent = 0, bad = 0;
	long rc;
	char e[32];

	if (!mm)
		return;
	n = (st->size + (addr & (ps - 1)) + ps - 1) / ps;
	pages = calloc(n ? n : 1, sizeof(*pages));
	nodes = calloc(n ? n : 1, sizeof(*nodes));
	status = calloc(n ? n : 1, sizeof(*status));
	if (!pages || !nodes || !status) {
		step_fail(res, "out of memory");
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		pages[i] = (addr & ~(ps - 1)) + i * ps;
		nodes[i] = (int)st->node;
		status[i] = INT32_MIN;   /* not written: a run that failed */
	}
	rc = zd_move_pages(mm, n, pages, nodes, status, (int)st->mflags);
	if (rc < 0) {
		res->err = (int)rc;
		goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (status[i] == (int)st->node)
			on_node++;
		else if (status[i] == -ENOENT)
			absent++;
		else if (status[i] < 0 && status[i] != INT32_MIN && !bad++) {
			res->err = status[i];
			snprintf(res->why, sizeof(res->why), "move_pages status of 0x%" PRIx64
				 ": %s (%s)", pages[i], fmt_errno(status[i], e, sizeof(e)),
				 status_why(status[i]));
		}
	}
	if (!res->err && rc > 0) {
		res->err = -EBUSY;
		snprintf(res->why, sizeof(res->why), "move_pages returned %ld: that many pages "
			 "were not migrated (pinned or otherwise referenced)", rc);
	}
	step_info(res, "pid %d: %" PRIu64 " of %" PRIu64 " pages on node %" PRIu64 ", %" PRIu64
		  " not present%s", mm->pid, on_node, n, st->node, absent,
		  rc > 0 ? ", some not migrated" : "");
	jw_ku64(r->json, "pages", n);
	jw_ku64(r->json, "on_node", on_node);
	jw_ku64(r->json, "not_present", absent);
	jw_ki64(r->json, "not_migrated", rc);
out:
	free(pages);
	free(nodes);
	free(status);
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

/* ---------- report pagemap ---------- */

/* The bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/
 * pagemap.rst), decoded as page-types(8) would. */
#define PM_PFRAME_BITS 55
#define PM_SWAP_TYPE_BITS 5
#define PM_MAX_PAGES 4096          /* a report is for reading, not a dump */

static const struct { unsigned bit; const char *name; } pm_flags[] = {
	{ 63, "present" }, { 62, "swap" }, { 61, "file" }, { 58, "guard" },
	{ 57, "uffd_wp" }, { 56, "exclusive" }, { 55, "soft_dirty" },
};

static const char *swap_type_name(struct zd_machine *m, unsigned type)
{
	switch (zd_softleaf_type(m, type)) {
	case ZD_SOFTLEAF_HWPOISON: return "hwpoison";
	case ZD_SOFTLEAF_MIGRATION_READ: return "migration-read";
	case ZD_SOFTLEAF_MIGRATION_READ_EXCLUSIVE: return "migration-read-exclusive";
	case ZD_SOFTLEAF_MIGRATION_WRITE: return "migration-write";
	case ZD_SOFTLEAF_DEVICE_PRIVATE_WRITE: return "device-write";
	case ZD_SOFTLEAF_DEVICE_PRIVATE_READ: return "device-read";
	case ZD_SOFTLEAF_DEVICE_EXCLUSIVE: return "device-exclusive";
	case ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ: return "migration-device-read";
	case ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_READ_EXCLUSIVE:
		return "migration-device-read-exclusive";
	case ZD_SOFTLEAF_MIGRATION_DEVICE_PRIVATE_WRITE: return "migration-device-write";
	case ZD_SOFTLEAF_MARKER: return "pte-marker";
	default: return "swap";
	}
}

static void pagemap_line(struct run *r, uint64_t addr, uint64_t pme)
{
	uint64_t frame = pme & ((1ULL << PM_PFRAME_BITS) - 1);
	unsigned type = (unsigned)(frame & ((1u << PM_SWAP_TYPE_BITS) - 1));
	char flags[96] = "";
	size_t used = 0;

	for (size_t i = 0; i < sizeof(pm_flags) / sizeof(pm_flags[0]); i++)
		if (pme >> pm_flags[i].bit & 1)
			used = list_add(flags, sizeof(flags), used, ",", pm_flags[i].name);
	if (!r->json) {
		fprintf(r->out, "%012" PRIx64 " %016" PRIx64 " %-32s", addr, pme, used ? flags : "-");
		if (pme >> 63 & 1)
			fprintf(r->out, " pfn=0x%" PRIx64, frame);
		else if (pme >> 62 & 1)
			fprintf(r->out, " type=%u (%s) offset=0x%" PRIx64, type, swap_type_name(r->m, type),
				frame >> PM_SWAP_TYPE_BITS);
		fputc('\n', r->out);
		return;
	}
	jw_obj_begin(r->json);
	jw_khex(r->json, "addr", addr);
	jw_khex(r->json, "entry", pme);
	for (size_t i = 0; i < sizeof(pm_flags) / sizeof(pm_flags[0]); i++)
		jw_kbool(r->json, pm_flags[i].name, pme >> pm_flags[i].bit & 1);
	if (pme >> 63 & 1)
		jw_khex(r->json, "pfn", frame);
	else if (pme >> 62 & 1) {
		jw_ku64(r->json, "swap_type", type);
		jw_kstr(r->json, "swap_kind", swap_type_name(r->m, type));
		jw_khex(r->json, "swap_offset", frame >> PM_SWAP_TYPE_BITS);
	}
	jw_obj_end(r->json);
}

void pagemap_report(struct run *r, const struct step *st, struct step_result *res)
{
	const uint64_t ps = r->m->arch.page_size;
	uint64_t addr, n, *buf;
	struct zd_mm *mm = step_mm_addr(r, st, res, &addr);
	long got;

	if (!mm)
		return;
	addr &= ~(ps - 1);
	n = (st->size + ps - 1) / ps;
	if (n > PM_MAX_PAGES) {
		step_fail(res, "report pagemap of %" PRIu64 " pages: at most %d at a time", n,
			  PM_MAX_PAGES);
		return;
	}
	buf = calloc(n ? n : 1, sizeof(*buf));
	if (!buf) {
		step_fail(res, "out of memory");
		return;
	}
	/* pread(fd, buf, n * 8, addr / PAGE_SIZE * 8) of /proc/PID/pagemap */
	got = zd_pagemap_read(mm, addr / ps * 8, buf, n * 8);
	if (got < 0) {
		res->err = (int)got;
		free(buf);
		return;
	}
	if (r->json) {
		jw_key(r->json, "report");
		jw_obj_begin(r->json);
		jw_ki64(r->json, "pid", mm->pid);
		jw_key(r->json, "pages");
		jw_arr_begin(r->json);
	} else {
		fflush(r->out);
		fprintf(r->out, "==> /proc/%d/pagemap [0x%" PRIx64 "-0x%" PRIx64 ") <==\n", mm->pid,
			addr, addr + n * ps);
		fprintf(r->out, "%-12s %-16s %-32s %s\n", "address", "entry", "flags", "pfn / swap");
	}
	for (uint64_t i = 0; i < (uint64_t)got / 8; i++)
		pagemap_line(r, addr + i * ps, buf[i]);
	if (r->json) {
		jw_arr_end(r->json);
		jw_obj_end(r->json);
	}
	free(buf);
}
