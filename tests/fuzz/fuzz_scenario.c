/*
 * libFuzzer target: the scenario loader (tools/zonedev/scenario*.c on top of
 * libyaml), fed arbitrary bytes as the text of a scenario file.
 * Invariants checked for every input:
 *  - scenario_load_text() never crashes, leaks or hangs, whatever the bytes;
 *  - a refused scenario explains itself as "fuzz.yaml:LINE:COL: message"
 *    (the CLI promises file:line:col for every error), with LINE and COL
 *    positive and LINE inside the text;
 *  - an accepted scenario carries no error text (the first error wins, so a
 *    recorded error that did not fail the load would hide the real one);
 *  - scenario_free() leaves the struct zeroed and can be called again.
 * The loader resolves ${NAME} from the environment; the fuzzer's environment
 * is fixed for a run, so results are reproducible.
 * Only the loader runs: the scenario is parsed and checked, never booted or
 * run. Running it would size machines, create pmem region files of any
 * size the text asks for under any path it names, and run steps whose cost
 * the text chooses, so a fuzzer could fill the disk or hang; and the loader
 * is the part that takes untrusted text (the runner has its own tests, the
 * scenarios in scenarios/). The loader opens only the lspci listings a
 * text names, for reading, and refuses what is no listing after its first
 * bytes (fuzz_lspci.c fuzzes their contents); other paths are only
 * resolved, so this target writes nothing outside its own memory.
 */
#include "fuzz.h"
#include "cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DISP "fuzz.yaml"

/* Digits at *p giving a positive number; advances *p. */
static bool positive(const char **p, unsigned long *v)
{
	char *end;

	if (**p < '1' || **p > '9')
		return false;
	*v = strtoul(*p, &end, 10);
	*p = end;
	return true;
}

/*
 * The most lines libyaml can count in text: every byte that may start a
 * line break (LF, CR, NEL as 0x85 or C2 85, LS/PS as E2 80 A8/A9). A UTF-16
 * document (BOM first) is counted in code units, so allow one per byte.
 */
static unsigned long max_lines(const char *text, size_t len)
{
	const unsigned char *t = (const unsigned char *)text;
	unsigned long n = 1;

	if (len >= 2 && ((t[0] == 0xfe && t[1] == 0xff) || (t[0] == 0xff && t[1] == 0xfe)))
		return len + 1;
	for (size_t i = 0; i < len; i++)
		if (t[i] == '\n' || t[i] == '\r' || t[i] == 0x85 || t[i] == 0xe2)
			n++;
	return n;
}

static void check_error(const char *err, const char *text)
{
	const char *p = err;
	unsigned long line, col;
	size_t n = strlen(DISP);

	FUZZ_CHECK(err[0] != '\0', "load failed with an empty error");
	FUZZ_CHECK(strncmp(p, DISP ":", n + 1) == 0, "error does not start with the file name: \"%s\"",
		   err);
	p += n + 1;
	FUZZ_CHECK(positive(&p, &line) && *p++ == ':' && positive(&p, &col) && *p++ == ':' &&
		   *p++ == ' ' && *p != '\0',
		   "error is not \"NAME:LINE:COL: message\": \"%s\"", err);
	FUZZ_CHECK(line <= max_lines(text, strlen(text)),
		   "error line %lu is past the end of the text (at most %lu lines): \"%s\"", line,
		   max_lines(text, strlen(text)), err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct scenario zero;
	struct scenario s;
	char *text = malloc(size + 1);
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';      /* the loader reads up to the first NUL */

	rc = scenario_load_text(&s, text, DISP);
	FUZZ_CHECK(rc == 0 || rc == -1, "scenario_load_text returned %d", rc);
	if (rc)
		check_error(s.yf.err, text);
	else
		FUZZ_CHECK(s.yf.err[0] == '\0', "load succeeded but recorded an error: \"%s\"",
			   s.yf.err);
	scenario_free(&s);
	FUZZ_CHECK(memcmp(&s, &zero, sizeof(s)) == 0, "scenario_free left state behind");
	scenario_free(&s);
	free(text);
	return 0;
}
