/*
 * Streaming stores of whole struct pages (the kernel's memmap init with
 * movnti/movntdq, as in __memcpy_flushcache): a line written in full with
 * non-temporal stores is never read for ownership first, so initialising
 * a memmap costs one store stream instead of a read and a write.
 * Invariants: the destination is 16-byte aligned (struct pages are 64
 * bytes in a page-aligned memmap); nothing may read the stored lines, in
 * this thread or another, before zd_stream_fence() (they are weakly
 * ordered); other architectures fall back to plain copies.
 */
#ifndef ZD_BASE_NTSTORE_H
#define ZD_BASE_NTSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zonedev/mm_types.h>

/*
 * A struct page template as four 16-byte store units, made once per range:
 * loading it from memory for every page would put a store-to-load forward
 * (8-byte patches read back as 16 bytes) on the critical path. Words 1 and
 * 2 (lru, compound_head) are the only pfn-dependent words of a memmap
 * init, so they are the ones a store can replace.
 */
#if defined(__x86_64__)
#include <emmintrin.h>

struct zd_stream_tmpl {
	__m128i v[4];
};

static inline void zd_stream_tmpl_init(struct zd_stream_tmpl *t, const struct zd_page *p)
{
	const __m128i *s = (const __m128i *)p;

	for (int i = 0; i < 4; i++)
		t->v[i] = _mm_loadu_si128(s + i);
}

/* The template with word 1 and, if set2, word 2 replaced. */
static inline void zd_stream_page_patch(struct zd_page *dst, const struct zd_stream_tmpl *t,
					bool set1, uint64_t w1, bool set2, uint64_t w2)
{
	__m128i *d = (__m128i *)dst;
	__m128i v0 = t->v[0], v1 = t->v[1];

	if (set1)
		v0 = _mm_unpacklo_epi64(v0, _mm_cvtsi64_si128((long long)w1));
	if (set2)
		v1 = _mm_castpd_si128(_mm_move_sd(_mm_castsi128_pd(v1),
						  _mm_castsi128_pd(_mm_cvtsi64_si128((long long)w2))));
	_mm_stream_si128(d, v0);
	_mm_stream_si128(d + 1, v1);
	_mm_stream_si128(d + 2, t->v[2]);
	_mm_stream_si128(d + 3, t->v[3]);
}

static inline void zd_stream_fence(void)
{
	_mm_sfence();
}
#else
struct zd_stream_tmpl {
	struct zd_page p;
};

static inline void zd_stream_tmpl_init(struct zd_stream_tmpl *t, const struct zd_page *p)
{
	t->p = *p;
}

static inline void zd_stream_page_patch(struct zd_page *dst, const struct zd_stream_tmpl *t,
					bool set1, uint64_t w1, bool set2, uint64_t w2)
{
	uint64_t *d = (uint64_t *)dst;

	memcpy(dst, &t->p, sizeof(*dst));
	if (set1)
		d[1] = w1;
	if (set2)
		d[2] = w2;
}

static inline void zd_stream_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#endif

static inline void zd_stream_page(struct zd_page *dst, const struct zd_stream_tmpl *t)
{
	zd_stream_page_patch(dst, t, false, 0, false, 0);
}

#endif
