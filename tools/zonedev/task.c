/*
 * Background steps: a step given `as:` runs its library call on a thread of
 * its own, as another process blocked in the kernel would (truncate(2)
 * waiting for a pinned DAX page, an unbind waiting for p2pmem references),
 * and `wait` joins it. The step returns once the call has returned or has
 * logged that it blocks, so what the scenario prints does not depend on
 * timing; the lines the thread logs after that go with the `wait` step.
 * Invariants: a live H_TASK handle owns its task; every task is joined
 * before the machine goes (run_join_tasks).
 */
#include "cli.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zonedev/log.h>

struct bg_task {
	pthread_t thread;
	struct run *r;
	const struct step *st;
	const struct task_ops *ops;
	int err;
	int done;                  /* atomic: the call returned */
	int tid;                   /* atomic: the thread's id (its log lines' caller) */
	unsigned long shown;       /* its lines up to here went with the starting step */
};

static void *task_thread(void *arg)
{
	struct bg_task *t = arg;

	__atomic_store_n(&t->tid, (int)gettid(), __ATOMIC_RELEASE);
	t->err = t->ops->call(t->r, t->st);
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The call has returned, or logged that it blocks. */
static bool settled(struct zd_machine *m, struct bg_task *t, unsigned long seq)
{
	struct zd_log_line lines[64];
	size_t n;

	if (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
		return true;
	n = zd_log_read(m, seq, lines, 64);
	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i].text, t->ops->blocked))
			return true;
	return false;
}

void task_start(struct run *r, const struct step *st, struct step_result *res,
		const struct task_ops *ops)
{
	struct bg_task *t;
	unsigned long seq;

	if (!handle_idle(r, st->handle, "a background step", "wait", res))
		return;
	t = calloc(1, sizeof(*t));
	if (!t) {
		step_fail(res, "out of memory");
		return;
	}
	t->r = r;
	t->st = st;
	t->ops = ops;
	seq = zd_log_seq(r->m);
	if (pthread_create(&t->thread, NULL, task_thread, t)) {
		free(t);
		step_fail(res, "cannot start the background step's thread");
		return;
	}
	for (int ms = 0; ms < 10000 && !settled(r->m, t, seq); ms++)
		usleep(1000);
	while (!__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE))
		usleep(100);
	t->shown = zd_log_seq(r->m);
	handle_set(r, st->handle, 0, false);
	r->h[st->handle].task = t;
	step_info(res, "%s runs in the background: %s", st->name,
		  __atomic_load_n(&t->done, __ATOMIC_ACQUIRE) ? "it has returned already" :
		  ops->waits);
}

void exec_wait(struct run *r, const struct step *st, struct step_result *res)
{
	struct handle_state *h = &r->h[st->handle];
	struct bg_task *t = h->task;

	if (!handle_held(r, st->handle, "a background step", "waited for",
			 "truncate or p2pdma_release", res))
		return;
	pthread_join(t->thread, NULL);
	res->log_caller = t->tid;
	res->log_since = t->shown;
	res->err = t->err;
	if (!res->err)
		t->ops->done(r, t->st, res);
	free(t);
	h->task = NULL;
	h->live = false;
}

void run_join_tasks(struct run *r)
{
	for (int i = 0; i < r->s->nr_handles; i++)
		if (r->h[i].live && r->s->handles[i].kind == H_TASK) {
			pthread_join(r->h[i].task->thread, NULL);
			free(r->h[i].task);
			r->h[i].task = NULL;
			r->h[i].live = false;
		}
}

bool run_task_line(const struct run *r, const struct zd_log_line *l)
{
	for (int i = 0; i < r->s->nr_handles; i++)
		if (r->h[i].live && r->s->handles[i].kind == H_TASK &&
		    r->h[i].task->tid == l->caller && l->seq > r->h[i].task->shown)
			return true;
	return false;
}
