/*
 * Fault injection (the kernel's should_fail()): arm a named point so that
 * its nth pass fails once. Used to prove that multi-step operations undo
 * their own work at every step. Points are documented where they are
 * checked; zd_fault_inject_hits() tells how often a point was passed.
 */
#ifndef ZONEDEV_FAULT_INJECT_H
#define ZONEDEV_FAULT_INJECT_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;

void zd_fault_inject_set(struct zd_machine *m, const char *point, unsigned long nth);
void zd_fault_inject_clear(struct zd_machine *m);
/* true when this pass through point is the armed one (then disarms). */
bool zd_should_fail(struct zd_machine *m, const char *point);
/* Passes through point since it was armed (or since the machine booted). */
unsigned long zd_fault_inject_hits(struct zd_machine *m, const char *point);

#ifdef __cplusplus
}
#endif

#endif
