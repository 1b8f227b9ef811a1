/*
 * A reference count with the kernel's percpu_ref semantics
 * (lib/percpu-refcount.c): starts live with one base reference; kill drops
 * the base reference and makes tryget_live fail from then on; the release
 * callback runs exactly once, when the count reaches zero after kill.
 * Invariants: the count and the dead bit live in one atomic word, so
 * tryget_live can never succeed on a killed ref; a put below zero WARNs
 * and leaves the count at zero (never underflowed, never released twice).
 * The kernel's per-CPU fast path is a performance device; one atomic word
 * gives the same ordering guarantees.
 */
#ifndef ZONEDEV_PERCPU_REFCOUNT_H
#define ZONEDEV_PERCPU_REFCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_percpu_ref;
struct zd_machine;
typedef void (*zd_percpu_ref_func_t)(struct zd_percpu_ref *);

struct zd_percpu_ref {
	uint64_t count;                  /* atomic: refs | ZD_PERCPU_REF_DEAD */
	zd_percpu_ref_func_t release;
	struct zd_machine *machine;      /* whose log an underflow WARNs in */
};

#define ZD_PERCPU_REF_DEAD (1ULL << 62)

/* m: the machine whose log and WARN counter report misuse (a put below
 * zero); NULL reports on stderr. */
int zd_percpu_ref_init(struct zd_percpu_ref *ref, zd_percpu_ref_func_t release,
		       struct zd_machine *m);
void zd_percpu_ref_exit(struct zd_percpu_ref *ref);
void zd_percpu_ref_get_many(struct zd_percpu_ref *ref, uint64_t nr);
void zd_percpu_ref_put_many(struct zd_percpu_ref *ref, uint64_t nr);
static inline void zd_percpu_ref_get(struct zd_percpu_ref *ref) { zd_percpu_ref_get_many(ref, 1); }
static inline void zd_percpu_ref_put(struct zd_percpu_ref *ref) { zd_percpu_ref_put_many(ref, 1); }
/* Succeeds while the count is non-zero, even after kill. */
bool zd_percpu_ref_tryget_many(struct zd_percpu_ref *ref, uint64_t nr);
/* Succeeds only while the ref is live (not killed). */
bool zd_percpu_ref_tryget_live(struct zd_percpu_ref *ref);
void zd_percpu_ref_kill(struct zd_percpu_ref *ref);
bool zd_percpu_ref_is_dying(const struct zd_percpu_ref *ref);
/* Current number of references (tests and reports). */
uint64_t zd_percpu_ref_read(const struct zd_percpu_ref *ref);

#ifdef __cplusplus
}
#endif

#endif
