/*
 * A persistent machine: a machine file (a YAML file with a 'machine:'
 * section; any 'steps:' are not run) plus its region files, booted anew
 * for each zonedev ndctl/daxctl/lsmem/chmem command. The region files keep
 * what survives a reboot (info blocks, data). What only the running kernel
 * would keep — namespaces disabled on request, dax devices in system-ram
 * mode, memory blocks onlined or offlined by hand — lives in a state file
 * next to the machine file (MACHINE.state, or --state), replayed after
 * each boot and rewritten after each command; --reboot (or deleting the
 * file) drops it, as a reboot would.
 * Invariants: one command at a time per machine file (an exclusive flock
 * on it for the whole command, --reboot alone included); the state file is
 * replaced atomically (temporary file, fsync, rename, fsync of the
 * directory), the temporary made before the command acts, so a state that
 * cannot be written stops the command before it changes the media; it
 * names the machine file's fingerprint, so it is never applied to another
 * machine, and ends with an "end N" line counting its entries, so a cut
 * file is refused rather than half replayed; it records only differences
 * from the freshly booted machine, and is removed when there are none.
 */
#include "pmachine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <unistd.h>

struct pm_block {
	uint64_t id;
	enum zd_mem_state state;
	enum zd_zone_type zone;
};

bool pm_opt(int c, const char *arg, struct pm_opts *o)
{
	switch (c) {
	case PM_OPT_MACHINE: o->machine = arg; return true;
	case PM_OPT_STATE: o->state = arg; return true;
	case PM_OPT_REBOOT: o->reboot = true; return true;
	case PM_OPT_DMESG: o->dmesg = true; return true;
	}
	return false;
}

static void pm_err(const struct pmachine *pm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void pm_err(const struct pmachine *pm, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "zonedev %s: ", pm->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int pm_paths(struct pmachine *pm, const char *cmd, const struct pm_opts *o)
{
	const char *machine = o->machine;

	memset(pm, 0, sizeof(*pm));
	pm->cmd = cmd;
	pm->lock_fd = -1;
	pm->tmp_fd = -1;
	if (!machine || !*machine)
		machine = getenv("ZD_MACHINE");
	if (!machine || !*machine)
		return usage_error(cmd, "no machine: give --machine FILE (a YAML file with a "
				   "'machine:' section) or set ZD_MACHINE");
	if ((size_t)snprintf(pm->machine_path, sizeof(pm->machine_path), "%s", machine) >=
	    sizeof(pm->machine_path) ||
	    (size_t)snprintf(pm->state_path, sizeof(pm->state_path), "%s%s",
			     o->state ? o->state : machine, o->state ? "" : ".state") >=
	    sizeof(pm->state_path))
		return usage_error(cmd, "the machine or state path is too long");
	return EXIT_OK;
}

static int drop_state(struct pmachine *pm)
{
	if (unlink(pm->state_path) && errno != ENOENT) {
		pm_err(pm, "cannot remove the state file %s: %s", pm->state_path, strerror(errno));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Under the lock no command is writing the state: a temporary next to it
 * (STATE.XXXXXX) is what a killed one left. */
static void remove_stale_temporaries(struct pmachine *pm)
{
	char dir[4096], base[4096];
	const char *b;
	size_t blen;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s", pm->state_path);
	snprintf(base, sizeof(base), "%s", pm->state_path);
	b = basename(base);
	blen = strlen(b);
	d = opendir(dirname(dir));
	if (!d)
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, b, blen) && de->d_name[blen] == '.' &&
		    strlen(de->d_name + blen + 1) == 6 && unlinkat(dirfd(d), de->d_name, 0) == 0)
			fprintf(stderr, "zonedev %s: removed %s, left by a command that was killed\n",
				pm->cmd, de->d_name);
	closedir(d);
}

static int lock_machine(struct pmachine *pm)
{
	int rc;

	pm->lock_fd = open(pm->machine_path, O_RDONLY | O_CLOEXEC);
	if (pm->lock_fd < 0) {
		pm_err(pm, "cannot open the machine file %s: %s", pm->machine_path, strerror(errno));
		return EXIT_FAIL;
	}
	/* Commands on one machine run one after the other, like a script
	 * on one host; the region files' own locks would only refuse. */
	while ((rc = flock(pm->lock_fd, LOCK_EX)) && errno == EINTR)
		;
	if (rc) {
		pm_err(pm, "cannot lock the machine file %s: %s", pm->machine_path,
		       strerror(errno));
		return EXIT_FAIL;
	}
	remove_stale_temporaries(pm);
	return EXIT_OK;
}

int pm_reboot(struct pmachine *pm)
{
	int rc = lock_machine(pm) ?: drop_state(pm);

	if (pm->lock_fd >= 0)
		close(pm->lock_fd);
	pm->lock_fd = -1;
	return rc;
}

/* FNV-1a over the machine file: a state file belongs to one text of it. */
static int fingerprint(struct pmachine *pm)
{
	uint64_t h = 1469598103934665603ULL;
	unsigned char buf[8192];
	ssize_t n;

	while ((n = read(pm->lock_fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
	if (n < 0)
		return -errno;
	pm->fingerprint = h;
	return 0;
}

struct snap {
	struct pm_block *b;
	size_t n, cap;
};

static int snap_one(const struct zd_memory_block *mb, void *arg)
{
	struct snap *sn = arg;

	if (sn->n == sn->cap) {
		size_t cap = sn->cap ? 2 * sn->cap : 64;
		struct pm_block *b = realloc(sn->b, cap * sizeof(*b));

		if (!b)
			return -ENOMEM;
		sn->b = b;
		sn->cap = cap;
	}
	sn->b[sn->n++] = (struct pm_block){ mb->id, mb->state, mb->zone };
	return 0;
}

static int snapshot(struct zd_machine *m, struct snap *sn)
{
	memset(sn, 0, sizeof(*sn));
	return zd_for_each_memory_block(m, sn, snap_one);
}

static const struct pm_block *find_block(const struct pm_block *b, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (b[i].id == id)
			return &b[i];
	return NULL;
}

static int zone_by_name(const char *name)
{
	for (int z = 0; z < ZD_MAX_NR_ZONES; z++)
		if (zd_zone_names[z] && !strcmp(zd_zone_names[z], name))
			return z;
	return -1;
}

/* ---------- replay ---------- */

struct entry {
	int line;
	char kind;                 /* 'n' namespace disabled, 'd' dax system-ram, 'b' block */
	uint64_t id;
	bool online;
	int zone;
	char text[96];
};

static void replay_warn(struct pmachine *pm, const struct entry *e, int rc, const char *why)
{
	char en[32];

	pm_err(pm, "%s:%d: cannot restore '%s' (%s%s%s); the machine no longer holds it",
	       pm->state_path, e->line, e->text, fmt_errno(rc, en, sizeof(en)), why ? ": " : "",
	       why ? why : "");
}

static void replay_blocks(struct pmachine *pm, const struct entry *e, size_t n)
{
	struct zd_memory_block mb;

	/* Offline first (also what must move to another zone), then online
	 * in block order, so zones fill as they did. */
	for (size_t i = n; i-- > 0;) {
		if (e[i].kind != 'b' || zd_memory_block_get(pm->m, e[i].id, &mb) ||
		    mb.state != ZD_MEM_ONLINE || (e[i].online && (int)mb.zone == e[i].zone))
			continue;
		int rc = zd_memory_block_store_state(pm->m, e[i].id, "offline");
		if (rc)
			replay_warn(pm, &e[i], rc, "the block will not go offline");
	}
	for (size_t i = 0; i < n; i++) {
		int rc;

		if (e[i].kind != 'b')
			continue;
		if (zd_memory_block_get(pm->m, e[i].id, &mb)) {
			replay_warn(pm, &e[i], -ENODEV, "no such memory block");
			continue;
		}
		if (!e[i].online || mb.state == ZD_MEM_ONLINE)
			continue;
		rc = zd_memory_block_store_state(pm->m, e[i].id, e[i].zone == ZD_ZONE_MOVABLE ?
						 "online_movable" : "online_kernel");
		if (!rc && !zd_memory_block_get(pm->m, e[i].id, &mb) && (int)mb.zone != e[i].zone)
			replay_warn(pm, &e[i], -EINVAL, "it came online in another zone");
		else if (rc)
			replay_warn(pm, &e[i], rc, NULL);
	}
}

static void replay(struct pmachine *pm, const struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct zd_nd_region *r = e[i].kind == 'b' ? NULL : pm_region(pm, (int)e[i].id);
		static const struct zd_dax_reconfigure_opts ram = {
			.mode = ZD_DAX_MODE_SYSTEM_RAM, .no_online = true, .force = true,
		};
		int rc;

		if (e[i].kind == 'b')
			continue;
		if (!r) {
			replay_warn(pm, &e[i], -ENODEV, "no such region");
			continue;
		}
		rc = e[i].kind == 'n' ? zd_nd_disable_namespace(r) : zd_dax_reconfigure_device(r, &ram);
		if (rc)
			replay_warn(pm, &e[i], rc, NULL);
	}
	replay_blocks(pm, e, n);
}

/* Parse one line of the state file into e; 1 for a blank or comment
 * line, 0 for an entry, -1 for garbage. */
static int parse_entry(char *line, struct entry *e)
{
	char w1[16], w2[16], w3[16];
	unsigned long long id;
	int k;

	line[strcspn(line, "\n")] = '\0';
	if (!line[strspn(line, " \t")] || line[0] == '#')
		return 1;
	snprintf(e->text, sizeof(e->text), "%.95s", line);
	k = sscanf(line, "%15s %llu %15s %15s", w1, &id, w2, w3);
	e->id = id;
	if (k == 3 && !strcmp(w1, "namespace") && !strcmp(w2, "disabled"))
		e->kind = 'n';
	else if (k == 3 && !strcmp(w1, "dax") && !strcmp(w2, "system-ram"))
		e->kind = 'd';
	else if (k == 3 && !strcmp(w1, "block") && !strcmp(w2, "offline"))
		e->kind = 'b';
	else if (k == 4 && !strcmp(w1, "block") && !strcmp(w2, "online") &&
		 (e->zone = zone_by_name(w3)) >= 0)
		e->kind = 'b', e->online = true;
	else
		return -1;
	return 0;
}

/* Read and replay the state file, if there is one: 0, or -1 after the
 * message (a file that is not ours, or for another machine). */
static int load_state(struct pmachine *pm)
{
	FILE *f = fopen(pm->state_path, "r");
	struct entry *e = NULL;
	size_t n = 0, cap = 0;
	char line[8192];
	int lineno = 0, rc = 0, version = 0;
	bool header = false, ended = false;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		pm_err(pm, "cannot read the state file %s: %s", pm->state_path, strerror(errno));
		return -1;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		struct entry x = { .line = ++lineno };
		unsigned long long fp;
		int k, c;

		/* a comment names the machine file, whose path may be long */
		if (line[0] == '#' && !strchr(line, '\n')) {
			while ((c = getc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (!header && line[0] != '#') {
			if (sscanf(line, "zonedev-state %d %llx", &version, &fp) != 2 ||
			    version < 1 || version > 2) {
				pm_err(pm, "%s:%d: not a zonedev state file (version 1 or 2)",
				       pm->state_path, lineno);
				rc = -1;
			} else if (fp != pm->fingerprint) {
				pm_err(pm, "%s was written for another text of %s (the machine file "
				       "changed since): reboot with --reboot, or delete it",
				       pm->state_path, pm->machine_path);
				rc = -1;
			}
			header = true;
			continue;
		}
		if (!strncmp(line, "end ", 4) || ended) {
			size_t want;
			char extra;

			if (ended || sscanf(line, "end %zu %c", &want, &extra) != 1 || want != n) {
				pm_err(pm, "%s:%d: %s", pm->state_path, lineno, ended ?
				       "text after the 'end' line" : "the 'end' line does not count "
				       "the entries before it");
				rc = -1;
			}
			ended = true;
			continue;
		}
		k = parse_entry(line, &x);
		if (k < 0) {
			pm_err(pm, "%s:%d: cannot parse '%s'", pm->state_path, lineno, x.text);
			rc = -1;
		} else if (k == 0) {
			if (n == cap) {
				struct entry *ne = realloc(e, (cap = cap ? 2 * cap : 16) * sizeof(*e));

				if (!ne) {
					pm_err(pm, "out of memory reading %s", pm->state_path);
					rc = -1;
					break;
				}
				e = ne;
			}
			e[n++] = x;
		}
	}
	fclose(f);
	/* zonedev removes the file rather than leave one with no entries */
	if (!rc && !header) {
		pm_err(pm, "%s: no 'zonedev-state' line", pm->state_path);
		rc = -1;
	}
	/* a cut file would replay only part of what the kernel held (version
	 * 1, before the end line, is taken as it is) */
	if (!rc && header && !ended && version >= 2) {
		pm_err(pm, "%s: no 'end' line (the file was cut short): reboot with "
		       "--reboot, or delete it", pm->state_path);
		rc = -1;
	}
	if (!rc)
		replay(pm, e, n);
	free(e);
	return rc;
}

int pm_open(struct pmachine *pm, const char *cmd, const struct pm_opts *o)
{
	struct run_opts ro = { 0 };
	char fail[1024];
	struct snap sn;
	int rc = pm_paths(pm, cmd, o);

	if (rc)
		return rc;
	if (lock_machine(pm))
		return EXIT_FAIL;
	if ((rc = fingerprint(pm))) {
		pm_err(pm, "cannot read the machine file %s: %s", pm->machine_path,
		       strerror(-rc));
		return EXIT_FAIL;
	}
	if (o->reboot && drop_state(pm))
		return EXIT_FAIL;
	if (o->saves) {
		snprintf(pm->tmp_path, sizeof(pm->tmp_path), "%s.XXXXXX", pm->state_path);
		pm->tmp_fd = mkstemp(pm->tmp_path);
		if (pm->tmp_fd < 0) {
			pm_err(pm, "cannot write the state file %s: %s (nothing was done)",
			       pm->state_path, strerror(errno));
			return EXIT_FAIL;
		}
		/* A signal before the rename must not leave the temporary
		 * behind (after it the name is gone and the removal a no-op). */
		cleanup_register_file(pm->tmp_path);
	}
	pm->loaded = true;
	if (scenario_load_path(&pm->s, pm->machine_path)) {
		pm_err(pm, "%s", pm->s.yf.err);
		return EXIT_FAIL;
	}
	/* A region file we may not write (permissions, chattr +i, a read-only
	 * mount) is read-only media: listed as it is, its changes refused
	 * with ndctl's own message, as the kernel treats a read-only region. */
	for (size_t i = 0; i < pm->s.nr_pmem; i++) {
		struct zd_nd_region_desc *d = &pm->s.pmem[i];

		if (!d->read_only && d->path && access(d->path, W_OK) &&
		    (errno == EACCES || errno == EPERM || errno == EROFS) &&
		    !access(d->path, R_OK)) {
			d->read_only = true;
			pm->ro_fallback = d->path;
		}
	}
	pm->m = scenario_boot(&pm->s, &ro, o->dmesg ? stderr : NULL);
	if (ZD_IS_ERR_OR_NULL(pm->m)) {
		pm->m = NULL;
		pm_err(pm, "%s: cannot boot the machine: %s", pm->machine_path,
		       zd_machine_create_error());
		return EXIT_FAIL;
	}
	if (scenario_pci_build(&pm->s, pm->m, fail, sizeof(fail))) {
		pm_err(pm, "%s", fail);
		return EXIT_FAIL;
	}
	if (snapshot(pm->m, &sn)) {
		free(sn.b);
		pm_err(pm, "out of memory listing the memory blocks");
		return EXIT_FAIL;
	}
	pm->boot = sn.b;
	pm->nr_boot = sn.n;
	return load_state(pm) ? EXIT_FAIL : EXIT_OK;
}

/* ---------- save ---------- */

static int write_entries(struct pmachine *pm, FILE *f, size_t *count)
{
	struct snap now;
	int rc = snapshot(pm->m, &now);

	*count = 0;
	for (int i = 0; i < pm_nr_regions(pm); i++) {
		struct zd_nd_region *r = pm_region(pm, i);
		struct zd_nd_namespace_info in;
		struct zd_dax_info di;

		if (!r || zd_nd_namespace_get(r, &in))
			continue;
		if (in.user_disabled) {
			fprintf(f, "namespace %d disabled\n", i);
			++*count;
		}
		if (!zd_dax_info_get(r, &di) && di.mode == ZD_DAX_MODE_SYSTEM_RAM) {
			fprintf(f, "dax %d system-ram\n", i);
			++*count;
		}
	}
	for (size_t i = 0; !rc && i < now.n; i++) {
		const struct pm_block *b = &now.b[i], *was = find_block(pm->boot, pm->nr_boot, b->id);

		if (was && was->state == b->state && (b->state != ZD_MEM_ONLINE || was->zone == b->zone))
			continue;
		if (b->state == ZD_MEM_ONLINE && b->zone < ZD_MAX_NR_ZONES)
			fprintf(f, "block %" PRIu64 " online %s\n", b->id, zd_zone_names[b->zone]);
		else if (b->state == ZD_MEM_OFFLINE)
			fprintf(f, "block %" PRIu64 " offline\n", b->id);
		else
			continue;
		++*count;
	}
	free(now.b);
	return rc;
}

int pm_save(struct pmachine *pm)
{
	char dir[4096];
	size_t count;
	int fd = pm->tmp_fd, rc = 0;
	FILE *f;

	/* What this boot could not replay onto a region it had to take
	 * read-only still holds once the file is writable again: keep it. */
	if (pm->ro_fallback) {
		if (fd >= 0) {
			close(fd);
			unlink(pm->tmp_path);
		}
		pm->tmp_fd = -1;
		fprintf(stderr, "zonedev %s: %s cannot be written: the state file is kept as it "
			"was\n", pm->cmd, pm->ro_fallback);
		return 0;
	}
	if (fd < 0) {
		snprintf(pm->tmp_path, sizeof(pm->tmp_path), "%s.XXXXXX", pm->state_path);
		fd = mkstemp(pm->tmp_path);
		if (fd >= 0)
			cleanup_register_file(pm->tmp_path);
	}
	pm->tmp_fd = -1;
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		pm_err(pm, "cannot write the state file %s: %s", pm->state_path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(pm->tmp_path);
		}
		return -1;
	}
	fprintf(f, "# zonedev: what the running kernel of %s still holds (disabled\n"
		"# namespaces, dax devices in system-ram mode, memory block states), replayed\n"
		"# after each boot of it. A reboot drops it: --reboot, or delete this file.\n"
		"zonedev-state 2 %016" PRIx64 "\n", pm->machine_path, pm->fingerprint);
	if (write_entries(pm, f, &count))
		rc = -ENOMEM;
	fprintf(f, "end %zu\n", count);
	if (fflush(f) || fsync(fileno(f)))
		rc = -errno;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && !count) {
		unlink(pm->tmp_path);
		return drop_state(pm) ? -1 : 0;
	}
	if (!rc && rename(pm->tmp_path, pm->state_path))
		rc = -errno;
	if (rc) {
		pm_err(pm, "cannot write the state file %s: %s", pm->state_path, strerror(-rc));
		unlink(pm->tmp_path);
		return -1;
	}
	/* The rename itself must reach the disk. */
	snprintf(dir, sizeof(dir), "%s", pm->state_path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int pm_close(struct pmachine *pm, int rc)
{
	unsigned long warns = pm->m ? zd_warn_count(pm->m) : 0;

	/* A fired invariant check is a zonedev bug, whatever ndctl said. */
	if (warns) {
		pm_err(pm, "%lu invariant check%s fired (WARNING lines in the kernel log; "
		       "--dmesg shows them)", warns, warns == 1 ? "" : "s");
		rc = rc ? rc : EXIT_FAIL;
	}
	if (pm->m)
		zd_machine_destroy(pm->m);
	pm->m = NULL;
	if (pm->loaded)
		scenario_free(&pm->s);
	pm->loaded = false;
	free(pm->boot);
	pm->boot = NULL;
	if (pm->tmp_fd >= 0) {
		close(pm->tmp_fd);
		unlink(pm->tmp_path);
	}
	pm->tmp_fd = -1;
	if (pm->lock_fd >= 0)
		close(pm->lock_fd);
	pm->lock_fd = -1;
	return rc;
}

int pm_nr_regions(const struct pmachine *pm)
{
	return (int)pm->s.nr_pmem;
}

struct zd_nd_region *pm_region(struct pmachine *pm, int idx)
{
	char name[32];

	if (idx < 0 || idx >= pm_nr_regions(pm))
		return NULL;
	snprintf(name, sizeof(name), "region%d", idx);
	return zd_nd_region_find(pm->m, name);
}

void pm_library_why(struct pmachine *pm, unsigned long seq, const char *dev, int rc)
{
	static struct zd_log_line lines[64];
	unsigned long now = zd_log_seq(pm->m);
	char en[32];
	size_t n;

	if (now <= seq)
		return;
	n = zd_log_read(pm->m, now - seq > 64 ? now - 64 : seq, lines, 64);
	while (n--)
		if (lines[n].level <= ZD_LOG_WARNING) {
			fprintf(stderr, "zonedev %s: %s: %s: %s\n", pm->cmd, dev,
				fmt_errno(rc, en, sizeof(en)), lines[n].text);
			return;
		}
}

int pm_status(int rc)
{
	return rc < 0 ? (int)((unsigned)rc & 0xff) : rc;
}
