/*
 * One armed point per machine, plus a small table of pass counters so a
 * test can learn how many times an operation passes a point before arming
 * each pass in turn.
 */
#include <zonedev/fault-inject.h>
#include <zonedev/machine.h>
#include <string.h>

void zd_fault_inject_set(struct zd_machine *m, const char *point, unsigned long nth)
{
	pthread_mutex_lock(&m->fault.lock);
	snprintf(m->fault.point, sizeof(m->fault.point), "%s", point);
	m->fault.nth = nth;
	m->fault.seen = 0;
	pthread_mutex_unlock(&m->fault.lock);
}

void zd_fault_inject_clear(struct zd_machine *m)
{
	pthread_mutex_lock(&m->fault.lock);
	m->fault.point[0] = '\0';
	m->fault.nth = 0;
	memset(m->fault.hits, 0, sizeof(m->fault.hits));
	pthread_mutex_unlock(&m->fault.lock);
}

static void count_hit(struct zd_machine *m, const char *point)
{
	for (int i = 0; i < ZD_FAULT_POINTS; i++) {
		if (!m->fault.hits[i].name[0])
			snprintf(m->fault.hits[i].name, sizeof(m->fault.hits[i].name), "%s", point);
		if (!strcmp(m->fault.hits[i].name, point)) {
			m->fault.hits[i].count++;
			return;
		}
	}
}

bool zd_should_fail(struct zd_machine *m, const char *point)
{
	bool fail = false;

	pthread_mutex_lock(&m->fault.lock);
	count_hit(m, point);
	if (m->fault.point[0] && !strcmp(m->fault.point, point) && ++m->fault.seen == m->fault.nth) {
		fail = true;
		m->fault.point[0] = '\0';
	}
	pthread_mutex_unlock(&m->fault.lock);
	if (fail)
		zd_pr_warn(m, "FAULT_INJECTION: forcing a failure at %s", point);
	return fail;
}

unsigned long zd_fault_inject_hits(struct zd_machine *m, const char *point)
{
	unsigned long n = 0;

	pthread_mutex_lock(&m->fault.lock);
	for (int i = 0; i < ZD_FAULT_POINTS; i++)
		if (!strcmp(m->fault.hits[i].name, point))
			n = m->fault.hits[i].count;
	pthread_mutex_unlock(&m->fault.lock);
	return n;
}
