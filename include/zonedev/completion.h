/*
 * completion (include/linux/completion.h): one side waits until the other
 * says done. Invariant: complete() before wait() is not lost.
 */
#ifndef ZONEDEV_COMPLETION_H
#define ZONEDEV_COMPLETION_H

#include <pthread.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_completion {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned done;
};

void zd_init_completion(struct zd_completion *c);
void zd_destroy_completion(struct zd_completion *c);
void zd_complete(struct zd_completion *c);
/* false on timeout. */
bool zd_wait_for_completion_timeout(struct zd_completion *c, unsigned ms);

#ifdef __cplusplus
}
#endif

#endif
