/*
 * The dmirror's copy engine: one thread per device that does every copy
 * to and from its VRAM, as a GPU's DMA engine does. Callers queue copies
 * (a zero fill has no source) and get a fence; waiting for a fence waits
 * for that copy and every one queued before it (the queue is FIFO), so a
 * migration queues a batch and waits once before migrate_vma_pages, as a
 * driver waits for its DMA fence.
 * Invariants: the queue's indices change under the engine's lock, and a
 * copy runs without it; a waiter sees the bytes of every copy up to its
 * fence (the lock orders them); a waiter whose copies the thread has not
 * started yet runs them itself; the thread stops when nothing is left to
 * start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "test_hmm_internal.h"

/* Queued copies that wake the thread. */
#define ENGINE_BATCH 8

struct copy_job {
	void *dst;
	const void *src;           /* NULL: zeroes */
	size_t len;
	bool done;
};

struct dmirror_engine {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct copy_job *ring;
	size_t cap;                /* a power of two */
	/* jobs [completed, tail) are queued; [taken, tail) not started yet;
	 * fences are 1-based: fence f is done when completed >= f */
	uint64_t completed, taken, tail;
	bool stop;
};

/* Take the oldest jobs not started (up to ENGINE_TAKE), copy them without
 * the lock, and mark them done (the lock held on entry and on return).
 * Jobs finish out of order when two runners work at once; completed moves
 * over every finished one. */
#define ENGINE_TAKE 32
static void run_some(struct dmirror_engine *e)
{
	uint64_t first = e->taken, n = e->tail - e->taken;
	struct copy_job jobs[ENGINE_TAKE];

	if (n > ENGINE_TAKE)
		n = ENGINE_TAKE;
	for (uint64_t i = 0; i < n; i++)
		jobs[i] = e->ring[(first + i) & (e->cap - 1)];
	e->taken += n;
	pthread_mutex_unlock(&e->lock);
	for (uint64_t i = 0; i < n; i++) {
		if (jobs[i].src)
			memcpy(jobs[i].dst, jobs[i].src, jobs[i].len);
		else
			memset(jobs[i].dst, 0, jobs[i].len);
	}
	pthread_mutex_lock(&e->lock);
	for (uint64_t i = 0; i < n; i++)
		e->ring[(first + i) & (e->cap - 1)].done = true;
	while (e->completed < e->taken && e->ring[e->completed & (e->cap - 1)].done)
		e->completed++;
	pthread_cond_broadcast(&e->done);
}

static void *engine_thread(void *arg)
{
	struct dmirror_engine *e = arg;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (e->taken == e->tail && !e->stop)
			pthread_cond_wait(&e->work, &e->lock);
		if (e->taken == e->tail)
			break;   /* stopped, and nothing left to start */
		run_some(e);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int dmirror_engine_start(struct zd_dmirror_device *mdev)
{
	struct dmirror_engine *e = calloc(1, sizeof(*e));

	if (!e || !(e->ring = calloc(e->cap = 1024, sizeof(*e->ring)))) {
		free(e);
		return -ENOMEM;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work, NULL);
	pthread_cond_init(&e->done, NULL);
	if (pthread_create(&e->thread, NULL, engine_thread, e)) {
		pthread_cond_destroy(&e->done);
		pthread_cond_destroy(&e->work);
		pthread_mutex_destroy(&e->lock);
		free(e->ring);
		free(e);
		return -EAGAIN;
	}
	mdev->engine = e;
	return 0;
}

void dmirror_engine_stop(struct zd_dmirror_device *mdev)
{
	struct dmirror_engine *e = mdev->engine;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	pthread_cond_destroy(&e->done);
	pthread_cond_destroy(&e->work);
	pthread_mutex_destroy(&e->lock);
	free(e->ring);
	free(e);
	mdev->engine = NULL;
}

/* A full ring doubles: the jobs keep their places by index. */
static bool grow(struct dmirror_engine *e)
{
	struct copy_job *ring = calloc(2 * e->cap, sizeof(*ring));

	if (!ring)
		return false;
	for (uint64_t i = e->completed; i < e->tail; i++)
		ring[i & (2 * e->cap - 1)] = e->ring[i & (e->cap - 1)];
	free(e->ring);
	e->ring = ring;
	e->cap *= 2;
	return true;
}

uint64_t dmirror_engine_queue(struct zd_dmirror_device *mdev, void *dst, const void *src,
			      size_t len)
{
	struct dmirror_engine *e = mdev->engine;
	uint64_t fence;

	pthread_mutex_lock(&e->lock);
	/* a full ring that cannot grow: make room by copying the oldest */
	while (e->tail - e->completed == e->cap && !grow(e)) {
		if (e->taken < e->tail)
			run_some(e);
		else
			pthread_cond_wait(&e->done, &e->lock);
	}
	e->ring[e->tail & (e->cap - 1)] = (struct copy_job){ dst, src, len, false };
	fence = ++e->tail;
	/* the thread is woken for a batch; a lone copy its waiter runs (a
	 * wake-up per page fault would cost more than the copy) */
	if (e->tail - e->taken == ENGINE_BATCH)
		pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->lock);
	return fence;
}

/* The engine has no fixed speed: a waiter whose copies have not started
 * runs them itself, so a loaded host does not serialise every fault
 * behind one thread that is not getting a CPU. */
void dmirror_engine_wait(struct zd_dmirror_device *mdev, uint64_t fence)
{
	struct dmirror_engine *e = mdev->engine;

	pthread_mutex_lock(&e->lock);
	while (e->completed < fence) {
		if (e->taken < fence)
			run_some(e);
		else
			pthread_cond_wait(&e->done, &e->lock);
	}
	pthread_mutex_unlock(&e->lock);
}
