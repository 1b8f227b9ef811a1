/*
 * What the CLI leaves behind when it is stopped: the temporary files and
 * directories a run made itself (demo's directory, bench's region file) are
 * registered here and removed on exit and on SIGINT, SIGTERM, SIGHUP and
 * SIGPIPE. Files a user named are never registered, so never removed.
 * A SIGBUS from a fault on a page of a file on disk is a store into a
 * region-file page the filesystem could not provide (full, or an I/O
 * error): it ends the run as the running step's EIO, naming the file found
 * in /proc/self/maps, after the same clean-up. The machine cannot continue
 * from the middle of a library call, so the run stops there. Any other
 * SIGBUS (sent with kill, or a fault elsewhere) keeps its default action.
 * Invariants: the handler only uses async-signal-safe calls on state
 * written before the handlers were installed or before a slot was
 * published; a slot is published by its kind, written last.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CLEANUP_SLOTS 8

enum slot_kind { SLOT_FREE, SLOT_FILE, SLOT_DIR };

static struct {
	volatile sig_atomic_t kind;
	int dirfd;
	char path[4096];
} slots[CLEANUP_SLOTS];

static char context[512];

/* ---- async-signal-safe output ---- */

static void out_str(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void out_hex(uintptr_t v)
{
	char buf[2 + 2 * sizeof(v) + 1], *p = buf + sizeof(buf) - 1;

	*p = '\0';
	do {
		*--p = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	*--p = 'x';
	*--p = '0';
	out_str(p);
}

static uintptr_t parse_hex(const char **s)
{
	uintptr_t v = 0;

	for (;; (*s)++) {
		char c = **s;

		if (c >= '0' && c <= '9')
			v = v << 4 | (uintptr_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uintptr_t)(c - 'a' + 10);
		else
			return v;
	}
}

/* The file mapped at addr, from /proc/self/maps, into path (empty when
 * none). Lines are assembled from fixed-size reads: no stdio, no malloc. */
static bool find_mapping(uintptr_t addr, char *path, size_t pathlen)
{
	char buf[4096], line[4096 + 512];
	size_t len = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = '\0';
			len = 0;
			const char *p = line;
			uintptr_t lo = parse_hex(&p), hi;

			if (*p++ != '-')
				continue;
			hi = parse_hex(&p);
			if (addr < lo || addr >= hi)
				continue;
			const char *file = strchr(p, '/');
			size_t flen = file ? strlen(file) : 0;

			close(fd);
			if (!file || flen >= pathlen)
				return false;
			memcpy(path, file, flen + 1);
			return true;
		}
	}
	close(fd);
	return false;
}

/* ---- removal ---- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Empty a directory through its fd with getdents64 (opendir may allocate). */
static void empty_dir(int dirfd)
{
	char buf[4096] __attribute__((aligned(8)));
	long n;

	lseek(dirfd, 0, SEEK_SET);
	while ((n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			const char *nm = d->d_name;

			off += d->d_reclen;
			if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
				continue;
			unlinkat(dirfd, nm, 0);
		}
	}
}

void cleanup_run(void)
{
	for (int i = 0; i < CLEANUP_SLOTS; i++) {
		int kind = slots[i].kind;

		if (kind == SLOT_FILE) {
			unlink(slots[i].path);
		} else if (kind == SLOT_DIR) {
			empty_dir(slots[i].dirfd);
			rmdir(slots[i].path);
			close(slots[i].dirfd);
		}
		slots[i].kind = SLOT_FREE;
	}
}

/* A free slot takes path (a directory with its fd, to empty it later
 * without opendir); its kind, written last, publishes it. */
static int cleanup_register(const char *path, enum slot_kind kind)
{
	for (int i = 0; i < CLEANUP_SLOTS; i++) {
		int fd = -1;

		if (slots[i].kind != SLOT_FREE || strlen(path) >= sizeof(slots[i].path))
			continue;
		if (kind == SLOT_DIR && (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return -errno;
		memcpy(slots[i].path, path, strlen(path) + 1);
		slots[i].dirfd = fd;
		__atomic_store_n(&slots[i].kind, kind, __ATOMIC_RELEASE);
		return 0;
	}
	return -ENOSPC;
}

int cleanup_register_file(const char *path) { return cleanup_register(path, SLOT_FILE); }
int cleanup_register_dir(const char *path) { return cleanup_register(path, SLOT_DIR); }

void cleanup_set_context(const char *what)
{
	/* A signal mid-copy prints a torn context, nothing worse. */
	snprintf(context, sizeof(context), "%s", what ? what : "");
}

/* ---- handlers ---- */

/*
 * Only a fault on a page of a file on disk (a region file: the map=dev
 * memmap or the data) is a backing-store failure. Anything else (a kill -BUS,
 * a genuine bug, a huge page the host could not give) keeps its default
 * action, core dump included: the handler steps aside and the faulting
 * instruction runs again.
 */
static bool backing_fault(const siginfo_t *si, char *path, size_t len)
{
	size_t n;

	if (si->si_code != BUS_ADRERR)
		return false;
	if (!find_mapping((uintptr_t)si->si_addr, path, len))
		return false;
	n = strlen(path);
	return strncmp(path, "/dev/", 5) && strncmp(path, "/anon_hugepage", 14) &&
	       !(n > 10 && !strcmp(path + n - 10, " (deleted)"));
}

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	static char path[4096];
	static int first;

	/* Several memmap-init threads may fault at once: one reports and
	 * exits, the others wait for that exit. */
	if (__atomic_exchange_n(&first, 1, __ATOMIC_ACQ_REL)) {
		for (;;)
			pause();
	}
	if (!backing_fault(si, path, sizeof(path))) {
		signal(sig, SIG_DFL);
		/* A sent signal is not raised again by returning; a fault is. */
		if (si->si_code <= 0)
			raise(sig);
		__atomic_store_n(&first, 0, __ATOMIC_RELEASE);
		return;
	}
	progress_erase_async();
	out_str("zonedev: ");
	out_str(context[0] ? context : "error");
	out_str(": failed with EIO: SIGBUS at ");
	out_hex((uintptr_t)si->si_addr);
	out_str(", a page of the backing file ");
	out_str(path);
	out_str(" could not be provided (filesystem full or I/O error); the machine cannot go "
		"on mid-operation, so zonedev stops here\n");
	cleanup_run();
	_exit(EXIT_FAIL);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	progress_erase_async();
	cleanup_run();
	/* Die of the signal, so the shell sees 128 + sig as it would without
	 * the handler. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void cleanup_install(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* A signal ignored by whoever started us (nohup, a shell's
		 * background job) stays ignored, as for any well-behaved tool. */
		if (!sigaction(sigs[i], NULL, &old) && !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
	/* SIGBUS stays installed for every thread that faults (no
	 * SA_RESETHAND): on_bus lets one of them report. */
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	/* A region file beyond RLIMIT_FSIZE is EFBIG from the call, not a kill. */
	signal(SIGXFSZ, SIG_IGN);
	atexit(cleanup_run);
}
