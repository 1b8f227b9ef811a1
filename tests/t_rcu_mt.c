/*
 * The grace period before a section's usage is freed (invariant 4),
 * checked deterministically: a reader sits inside zd_rcu_read_lock()
 * holding the usage pointer of a hot-added sub-section while another
 * thread removes it. The remover must unpublish the usage, then wait for
 * the reader (the grace period starts: the phase flips), and only free it
 * once the reader has left. Without the grace period the remover finishes
 * while the reader is still inside — caught here without any timing, and
 * the reader's late access is a use-after-free under ASan.
 * No wall clock is involved: the test waits on state, never on time.
 */
#include <zonedev/zonedev.h>
#include <pthread.h>
#include <sched.h>
#include "base/rcu.h"
#include "helpers.h"
#include "tap.h"

#define G (1ULL << 30)
#define SUB_PFN ((16 * G) >> 12)

static struct zd_machine *m;
static int removed;

static void *remover(void *arg)
{
	(void)arg;
	tap_remove_pages(m, SUB_PFN, 512, NULL);
	__atomic_store_n(&removed, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	struct zd_mem_section *ms;
	struct zd_mem_section_usage *u;
	unsigned long gp0, map0;
	unsigned idx, rounds = TAP_SLOW ? 20 : 200, early_free = 0, never_waited = 0, lost = 0;
	pthread_t t;

	m = tap_machine("x86_64", 40, 0, 1 * G, NULL, 0);
	if (!m)
		return done_testing();
	for (unsigned r = 0; r < rounds; r++) {
		if (tap_add_pages(m, SUB_PFN, 512, NULL)) {
			fail("round %u: the sub-section could not be added", r);
			break;
		}
		ms = zd_pfn_to_section(m, SUB_PFN);
		idx = zd_rcu_read_lock(&m->rcu);
		u = __atomic_load_n(&ms->usage, __ATOMIC_ACQUIRE);
		gp0 = __atomic_load_n(&m->rcu.gp, __ATOMIC_ACQUIRE);
		__atomic_store_n(&removed, 0, __ATOMIC_RELEASE);
		pthread_create(&t, NULL, remover, NULL);
		/* Either the grace period starts (the phase moves on, the
		 * remover now waits for us) or the remover finishes. */
		while (__atomic_load_n(&m->rcu.gp, __ATOMIC_ACQUIRE) == gp0 &&
		       !__atomic_load_n(&removed, __ATOMIC_ACQUIRE))
			sched_yield();
		never_waited += __atomic_load_n(&m->rcu.gp, __ATOMIC_ACQUIRE) == gp0;
		early_free += __atomic_load_n(&removed, __ATOMIC_ACQUIRE);
		/* Still inside the read section: the usage must be readable. */
		map0 = u ? __atomic_load_n(&u->subsection_map[0], __ATOMIC_RELAXED) : 1;
		lost += map0 != 0;   /* the remover cleared its bit before unpublishing */
		zd_rcu_read_unlock(&m->rcu, idx);
		tap_join_or_bail(t, 60, "remover");
	}
	is_int(never_waited, 0, "every removal started a grace period while a reader was inside");
	is_int(early_free, 0, "no removal finished (freed the usage) before the reader left");
	is_int(lost, 0, "the reader saw the usage cleared but not freed");
	ok(!zd_pfn_valid(m, SUB_PFN) && !zd_pfn_in_present_section(m, SUB_PFN),
	   "the sub-section is gone at the end");
	is_u64(zd_warn_count(m), 0, "no invariant check fired");
	zd_machine_destroy(m);
	return done_testing();
}
