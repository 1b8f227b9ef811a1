/*
 * Replays fuzz inputs without libFuzzer: links against one fuzz target's
 * LLVMFuzzerTestOneInput() and runs it on every file named on the command
 * line, or every file in a directory named there (sorted, dot files and
 * subdirectories skipped, README* skipped). This is how `make check` keeps
 * each corpus, crash reproducers included, as a regression test.
 * Output is TAP: "ok N - FILE" per input and the plan at the end, so prove
 * can run it. Each input runs in a forked child, so one crash, abort or
 * invariant violation is reported as "not ok" with its signal and the other
 * inputs still run; ZD_FUZZ_NOFORK=1 runs them in-process (for a debugger).
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned n_tests, n_failed;
static bool nofork;

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap ? cap * 2 : 4096);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		size_t k = fread(buf + n, 1, cap - n, f);

		n += k;
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static void run_one(const char *path)
{
	size_t len = 0;
	uint8_t *buf = read_all(path, &len);
	int status;
	pid_t pid;

	n_tests++;
	if (!buf) {
		n_failed++;
		printf("not ok %u - %s: cannot read: %s\n", n_tests, path, strerror(errno));
		return;
	}
	/* The child's stdout would interleave with TAP; its stderr is the report. */
	fflush(stdout);
	if (nofork) {
		LLVMFuzzerTestOneInput(buf, len);
		printf("ok %u - %s\n", n_tests, path);
		free(buf);
		return;
	}
	pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(125);
		LLVMFuzzerTestOneInput(buf, len);
		/* exit(), not _exit(): LeakSanitizer checks at exit. */
		exit(0);
	}
	free(buf);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		n_failed++;
		printf("not ok %u - %s: fork/wait: %s\n", n_tests, path, strerror(errno));
	} else if (WIFSIGNALED(status)) {
		n_failed++;
		printf("not ok %u - %s: killed by signal %d (%s)\n", n_tests, path,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else if (WEXITSTATUS(status)) {
		n_failed++;
		printf("not ok %u - %s: exit status %d\n", n_tests, path, WEXITSTATUS(status));
	} else {
		printf("ok %u - %s\n", n_tests, path);
	}
}

static int skip_entry(const struct dirent *d)
{
	return d->d_name[0] != '.' && strncmp(d->d_name, "README", 6) != 0;
}

static void run_dir(const char *dir)
{
	struct dirent **list;
	int nr = scandir(dir, &list, skip_entry, alphasort);

	if (nr < 0) {
		n_tests++;
		n_failed++;
		printf("not ok %u - %s: cannot list: %s\n", n_tests, dir, strerror(errno));
		return;
	}
	if (nr == 0) {
		/* An empty corpus would pass as "1..0", a skip: it must fail. */
		n_tests++;
		n_failed++;
		printf("not ok %u - %s: no inputs\n", n_tests, dir);
	}
	for (int i = 0; i < nr; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			run_one(path);
		free(list[i]);
	}
	free(list);
}

int main(int argc, char **argv)
{
	const char *e = getenv("ZD_FUZZ_NOFORK");

	nofork = e && *e && strcmp(e, "0");
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_one(argv[i]);
	}
	printf("1..%u\n", n_tests);
	return n_failed ? 1 : 0;
}
