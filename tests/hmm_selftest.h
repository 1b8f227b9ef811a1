/*
 * The harness of the hmm-tests port (t_hmm_tests.c, t_hmm_tests_thp.c):
 * the hmm/hmm2 fixtures (two dmirror devices, private or coherent, and a
 * process, on a machine of either design and THP policy), the kernel
 * test's buffer and ioctl helpers, and the loop that runs a test table
 * over every fixture and prints a summary per group. Everything is
 * static inline: each test program takes what it uses.
 */
#ifndef ZD_TEST_HMM_SELFTEST_H
#define ZD_TEST_HMM_SELFTEST_H

#include <zonedev/zonedev.h>
#include <zonedev/hmm.h>
#include <zonedev/migrate.h>
#include <zonedev/mmu_notifier.h>
#include <zonedev/swapops.h>
#include <zonedev/test_hmm.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define HMM_BUFFER_SIZE (1024ULL << 12)
#define NTIMES 10
#define PM_SWAP (1ULL << 62)
#define PM_PRESENT (1ULL << 63)

struct fx {
	const char *tag;
	bool coherent;
	enum zd_device_private_design design;
	enum zd_thp_policy thp;
	enum zd_exclusive_era era;
	struct zd_machine *m;
	struct zd_dmirror_device *dev[2];
	struct zd_mm *mm;
	struct zd_dmirror *fd0, *fd1;
	uint64_t ps, pmd;
	int pass, failed, skipped;
};

struct buffer {
	uint64_t ptr;          /* the process's VA */
	uint64_t size;
	int *mirror;           /* the device's view (cmd.ptr) */
	int *local;            /* the CPU's view, read/written through zd_access_vm */
	uint64_t cpages, faults;
};

static struct fx *F;
#define PS (F->ps)

static inline inline struct buffer *buf_new(uint64_t size)
{
	struct buffer *b = calloc(1, sizeof(*b));

	b->size = size;
	b->mirror = calloc(1, size);
	b->local = calloc(1, size);
	return b;
}
static inline void buf_free(struct buffer *b)
{
	if (b->ptr)
		zd_vm_munmap(F->mm, b->ptr, b->size);
	free(b->mirror);
	free(b->local);
	free(b);
}
static inline uint64_t map_anon(uint64_t size, unsigned long prot, unsigned long flags)
{
	int64_t a = zd_vm_mmap(F->mm, 0, size, prot, flags | ZD_MAP_ANONYMOUS, NULL, 0);

	return a < 0 ? 0 : (uint64_t)a;
}
/* ptr[i] = i + base over the whole buffer (the CPU's stores). */
static inline int cpu_fill(struct zd_mm *mm, struct buffer *b, uint64_t from, int base)
{
	for (uint64_t i = from / sizeof(int); i < b->size / sizeof(int); i++)
		b->local[i] = (int)i + base;
	return zd_access_vm(mm, b->ptr + from, (char *)b->local + from, b->size - from, true);
}
static inline int cpu_read(struct zd_mm *mm, struct buffer *b, uint64_t off, uint64_t len)
{
	return zd_access_vm(mm, b->ptr + off, (char *)b->local + off, len, false);
}
static inline bool ints(const int *p, uint64_t from, uint64_t to, int base)
{
	for (uint64_t i = from / sizeof(int); i < to / sizeof(int); i++)
		if (p[i] != (int)i + base)
			return false;
	return true;
}
static inline bool zeros(const int *p, uint64_t from, uint64_t to)
{
	for (uint64_t i = from / sizeof(int); i < to / sizeof(int); i++)
		if (p[i])
			return false;
	return true;
}

/* hmm_dmirror_cmd(): the ioctl on a mirror, cpages/faults into the buffer. */
static inline int run_cmd(struct zd_dmirror *d, int (*fn)(struct zd_dmirror *, struct zd_hmm_dmirror_cmd *),
		   struct buffer *b, uint64_t npages)
{
	struct zd_hmm_dmirror_cmd c = { .addr = b->ptr, .ptr = (uintptr_t)b->mirror,
					.npages = npages };
	int ret = fn(d, &c);

	b->cpages = c.cpages;
	b->faults = c.faults;
	return ret;
}
#define CMD(d, fn, b, n) run_cmd(d, zd_dmirror_##fn, b, n)
static inline int migrate_dev(struct zd_dmirror *d, struct buffer *b, uint64_t n)
{
	return run_cmd(d, zd_dmirror_ioctl_migrate_to_dev, b, n);
}
static inline int migrate_sys(struct zd_dmirror *d, struct buffer *b, uint64_t n)
{
	return run_cmd(d, zd_dmirror_ioctl_migrate_to_sys, b, n);
}

#define T(cond, ...) ok(cond, "%s: " __VA_ARGS__)
#define EQ(got, want, name) is_int((long long)(got), (long long)(want), "%s: %s", F->tag, name)

struct test { const char *name; void (*fn)(void); const char *skip; };

static inline bool fixture_up(struct fx *f)
{
	struct zd_mem_range ram[] = { { .start = 0, .size = 2 * G } };
	struct zd_machine_desc md = { .arch = "x86_64", .phys_bits = 40, .ram = ram, .nr_ram = 1,
				      .device_private = f->design, .transparent_hugepage = f->thp,
				      .device_exclusive_era = f->era };
	struct zd_dmirror_desc dd[2] = {
		{ .name = "hmm_dmirror0", .vram_size = 2 * ZD_DEVMEM_CHUNK_SIZE },
		{ .name = "hmm_dmirror1", .vram_size = 2 * ZD_DEVMEM_CHUNK_SIZE },
	};

	if (f->coherent) {
		/* spm_addr_dev0/1: device memory the CPU can address */
		dd[0] = (struct zd_dmirror_desc){ .name = "hmm_dmirror2",
			.coherent_start = 4 * G, .coherent_size = ZD_DEVMEM_CHUNK_SIZE };
		dd[1] = (struct zd_dmirror_desc){ .name = "hmm_dmirror3",
			.coherent_start = 5 * G, .coherent_size = ZD_DEVMEM_CHUNK_SIZE };
	}
	f->m = zd_machine_create(&md);
	if (ZD_IS_ERR(f->m)) {
		fail("%s: boot: %s", f->tag, zd_machine_create_error());
		return false;
	}
	f->ps = f->m->arch.page_size;
	f->pmd = 1ULL << f->m->arch.pt[ZD_PT_PMD].shift;
	for (int i = 0; i < 2; i++)
		f->dev[i] = zd_dmirror_create(f->m, &dd[i]);
	f->mm = zd_mm_alloc(f->m);
	if (!ok(!ZD_IS_ERR(f->dev[0]) && !ZD_IS_ERR(f->dev[1]) && !ZD_IS_ERR(f->mm),
		"%s: two devices and a process", f->tag))
		return false;
	f->fd0 = zd_dmirror_open(f->dev[0], f->mm);
	f->fd1 = zd_dmirror_open(f->dev[1], f->mm);
	return ok(!ZD_IS_ERR(f->fd0) && !ZD_IS_ERR(f->fd1), "%s: open_close: both devices open",
		  f->tag);
}

static inline void fixture_down(struct fx *f)
{
	struct zd_dmirror_stats st;

	zd_dmirror_release(f->fd0);
	zd_dmirror_release(f->fd1);
	zd_mmput(f->mm);
	for (int i = 0; i < 2; i++) {
		zd_dmirror_get_stats(f->dev[i], &st);
		is_u64(st.calloc - st.cfree, 0, "%s: device %d: every page back at exit", f->tag, i);
		zd_dmirror_destroy(f->dev[i]);
	}
	is_u64(zd_warn_count(f->m), 0, "%s: no WARN", f->tag);
	zd_machine_destroy(f->m);
}

/* Which tests a THP mode matters to (others run once, under madvise). */
static inline bool thp_matters(const char *name)
{
	return strstr(name, "huge") || strstr(name, "exclusive") || strstr(name, "child") ||
	       strstr(name, "remap") || strstr(name, "partial") || !strcmp(name, "anon_read") ||
	       !strcmp(name, "migrate");
}

static inline void run_fixture(struct fx *f, bool only_exclusive, const struct test *tests,
				size_t nr_tests)
{
	char summary[160];

	F = f;
	if (!fixture_up(f))
		return;
	for (size_t i = 0; i < nr_tests; i++) {
		const struct test *t = &tests[i];
		int before = tap_failures();

		if (only_exclusive ? !strstr(t->name, "exclusive") :
		    (f->thp != ZD_THP_MADVISE && !thp_matters(t->name)))
			continue;
		if (t->skip) {
			char why[200];

			snprintf(why, sizeof(why), "%s: %s: %s", f->tag, t->name, t->skip);
			skip(why);
			f->skipped++;
			continue;
		}
		if (t->fn)
			t->fn();
		if (tap_failures() > before)
			f->failed++;
		else
			f->pass++;
	}
	fixture_down(f);
	snprintf(summary, sizeof(summary), "summary %-40s pass %2d fail %2d skip %2d", f->tag,
		 f->pass, f->failed, f->skipped);
	diag("%s", summary);
}
static inline int hmm_selftest_main(const struct test *tests, size_t nr_tests,
				    bool exclusive_eras)
{
	static const char *thp_names[] = { "madvise", "always", "never" };
	char tags[16][80];
	int n = 0;

	for (int coherent = 0; coherent < 2; coherent++)
		for (int design = 0; design < 2; design++)
			for (int thp = 0; thp < 3; thp++) {
				struct fx f = { .coherent = coherent, .thp = (enum zd_thp_policy)thp,
						.design = (enum zd_device_private_design)design };

				snprintf(tags[n], sizeof(tags[n]), "hmm%s_device_%s %s thp=%s",
					 "", coherent ? "coherent" : "private", design ? "dpa" : "pfn",
					 thp_names[thp]);
				f.tag = tags[n++];
				run_fixture(&f, false, tests, nr_tests);
			}
	/* the v6.12 rule: THP always is the kernel's failure, madvise its pass */
	for (int thp = 0; exclusive_eras && thp < 2; thp++) {
		struct fx f = { .thp = thp ? ZD_THP_ALWAYS : ZD_THP_MADVISE,
				.era = ZD_EXCLUSIVE_ERA_V6_12 };

		snprintf(tags[n], sizeof(tags[n]), "hmm_device_private pfn thp=%s v6.12",
			 thp ? "always" : "madvise");
		f.tag = tags[n++];
		run_fixture(&f, true, tests, nr_tests);
	}
	return done_testing();
}


/* A recording mm notifier (the exclusive and owner tests): MMU_NOTIFY_
 * MIGRATE events, those carrying event_owner, MMU_NOTIFY_EXCLUSIVE ones. */
static int migrate_events __attribute__((unused)), migrate_events_owned __attribute__((unused));
static int exclusive_events __attribute__((unused));
static void *event_owner __attribute__((unused));
static inline int rec_start(struct zd_mmu_notifier *sub, const struct zd_mmu_notifier_range *r)
{
	if (r->event == ZD_MMU_NOTIFY_MIGRATE) {
		migrate_events++;
		migrate_events_owned += r->owner == event_owner;
	}
	exclusive_events += r->event == ZD_MMU_NOTIFY_EXCLUSIVE;
	return 0;
}
static const struct zd_mmu_notifier_ops rec_ops = { .invalidate_range_start = rec_start };

static struct zd_mmu_notifier rec __attribute__((unused)) = { .ops = &rec_ops };

#endif
