/*
 * percpu_ref as one atomic word (see the header): the low bits count, bit 62
 * marks the ref dead. Release runs on the transition to zero of a dead ref.
 */
#include <zonedev/log.h>
#include <zonedev/percpu-refcount.h>
#include <stdio.h>

#define COUNT_MASK (ZD_PERCPU_REF_DEAD - 1)

int zd_percpu_ref_init(struct zd_percpu_ref *ref, zd_percpu_ref_func_t release,
		       struct zd_machine *m)
{
	ref->release = release;
	ref->machine = m;
	__atomic_store_n(&ref->count, 1, __ATOMIC_RELEASE);
	return 0;
}

void zd_percpu_ref_exit(struct zd_percpu_ref *ref)
{
	ref->release = NULL;
}

void zd_percpu_ref_get_many(struct zd_percpu_ref *ref, uint64_t nr)
{
	__atomic_add_fetch(&ref->count, nr, __ATOMIC_RELAXED);
}

void zd_percpu_ref_put_many(struct zd_percpu_ref *ref, uint64_t nr)
{
	uint64_t v = __atomic_load_n(&ref->count, __ATOMIC_RELAXED);

	/* A put of more than is held is a caller bug the kernel WARNs about:
	 * refuse it whole, so the count neither wraps nor releases twice. */
	do {
		if ((v & COUNT_MASK) < nr) {
			if (ref->machine)
				ZD_WARN(ref->machine, true, "percpu_ref %p: put of %llu with %llu held",
					(void *)ref, (unsigned long long)nr,
					(unsigned long long)(v & COUNT_MASK));
			else
				fprintf(stderr, "zonedev: percpu_ref %p underflow\n", (void *)ref);
			return;
		}
	} while (!__atomic_compare_exchange_n(&ref->count, &v, v - nr, true, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	if (v - nr == ZD_PERCPU_REF_DEAD && ref->release)
		ref->release(ref);
}

bool zd_percpu_ref_tryget_many(struct zd_percpu_ref *ref, uint64_t nr)
{
	uint64_t v = __atomic_load_n(&ref->count, __ATOMIC_RELAXED);

	do {
		if (!(v & COUNT_MASK))
			return false;
	} while (!__atomic_compare_exchange_n(&ref->count, &v, v + nr, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

bool zd_percpu_ref_tryget_live(struct zd_percpu_ref *ref)
{
	uint64_t v = __atomic_load_n(&ref->count, __ATOMIC_RELAXED);

	do {
		if (v & ZD_PERCPU_REF_DEAD || !(v & COUNT_MASK))
			return false;
	} while (!__atomic_compare_exchange_n(&ref->count, &v, v + 1, true, __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	return true;
}

void zd_percpu_ref_kill(struct zd_percpu_ref *ref)
{
	__atomic_or_fetch(&ref->count, ZD_PERCPU_REF_DEAD, __ATOMIC_ACQ_REL);
	zd_percpu_ref_put(ref);
}

bool zd_percpu_ref_is_dying(const struct zd_percpu_ref *ref)
{
	return __atomic_load_n(&ref->count, __ATOMIC_RELAXED) & ZD_PERCPU_REF_DEAD;
}

uint64_t zd_percpu_ref_read(const struct zd_percpu_ref *ref)
{
	return __atomic_load_n(&ref->count, __ATOMIC_RELAXED) & COUNT_MASK;
}
