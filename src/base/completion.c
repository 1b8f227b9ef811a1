/*
 * completion on a mutex and a condition variable (CLOCK_MONOTONIC waits).
 */
#include <zonedev/completion.h>
#include <time.h>

void zd_init_completion(struct zd_completion *c)
{
	pthread_condattr_t a;

	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &a);
	pthread_condattr_destroy(&a);
	c->done = 0;
}

void zd_destroy_completion(struct zd_completion *c)
{
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

void zd_complete(struct zd_completion *c)
{
	pthread_mutex_lock(&c->lock);
	c->done++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

bool zd_wait_for_completion_timeout(struct zd_completion *c, unsigned ms)
{
	struct timespec ts;
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->done && ok)
		ok = pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0;
	if (c->done) {
		c->done--;
		ok = true;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}
