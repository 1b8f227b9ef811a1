/*
 * Shared by the libFuzzer targets in tests/fuzz/ and their replay driver.
 * Each target checks invariants of one input parser; a violated invariant
 * must stop the process with abort(), because that is what libFuzzer (and
 * the replay's fork) recognises as a finding, and it must say which
 * invariant failed, because the stack trace alone does not.
 */
#ifndef ZONEDEV_FUZZ_H
#define ZONEDEV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): it must fire in -DNDEBUG builds too. */
#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: invariant violated: %s: ",      \
				__FILE__, __LINE__, #cond);                     \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

#endif
