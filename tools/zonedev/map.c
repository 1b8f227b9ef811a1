/*
 * `zonedev map`: run a scenario up to a chosen step and write one
 * self-contained HTML page picturing the machine there (map-data.c makes
 * the data, map.js draws it in the browser). The runner does the running:
 * its at_end hook hands over the machine after the last step asked for,
 * and the data is built then, before the machine goes.
 * Invariants: nothing is written unless every step run met its
 * expectation and the page is complete; -o FILE replaces FILE in one
 * rename, so a failure leaves the old FILE as it was; the page loads
 * nothing from anywhere (styles, data and script are inline) and says on
 * its <body> whether its own checks passed (data-ok) and lists any script
 * error in #zd-errors.
 */
#include "map.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char map_help[] =
	"usage: zonedev map [FILE.yaml | --demo] [--steps N | --line LINE] [-o FILE.html]\n"
	"                   [--json] [--no-memory-guard]\n"
	"\n"
	"Run a scenario up to a point and picture the machine there as one\n"
	"self-contained HTML page (inline SVG, style and script; nothing fetched):\n"
	"the physical address space with its iomem resources, sparse sections and\n"
	"sub-sections, memory blocks and their states, zones per node, pgmaps by\n"
	"type and where each memmap lives (the vmemmap in RAM, deduplicated, an\n"
	"altmap on the device); on a device_private: dpa machine also the\n"
	"device-private address space next to it. The axis is piecewise: each\n"
	"stretch between two boundaries is as wide as the logarithm of its size,\n"
	"so a 52-bit space with a few GiB of RAM stays readable; a click zooms\n"
	"into a region, and the page also draws to a linear scale. Hovering shows\n"
	"the kernel's names and numbers. Steps run quietly: a step that fails, or\n"
	"an invariant check that fires, stops the command and no page is written.\n"
	"\n"
	"options:\n"
	"  -n, --steps N     run only the first N steps (every item of 'steps:',\n"
	"                    notes too; 0: the machine as booted). Default: all\n"
	"  -l, --line LINE   run the steps up to the one at LINE of the scenario, the\n"
	"                    line a run echoes as '== FILE:LINE' (a line inside a\n"
	"                    step means that step)\n"
	"  -o, --output FILE write the page to FILE, replaced only once the page is\n"
	"                    complete (default, or -: stdout)\n"
	"  --demo            map the built-in demo scenario (scenarios/demo.yaml)\n"
	"  --json            write the page's data as one JSON document instead (after\n"
	"                    a failure: the errors, with result \"failed\")\n"
	"  --no-memory-guard populate struct pages even beyond the host's available\n"
	"                    memory (default: refuse, saying what it would need)\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 1 bad scenario, failed step, fired invariant checks or\n"
	"             the page could not be written, 2 usage error\n";

/* Installed before the page's own script, so even a syntax error in it
 * lands in #zd-errors; console errors and warnings are recorded too. */
static const char guard_js[] =
	"(function () {\n"
	"  var count = 0;\n"
	"  function note(msg) {\n"
	"    var ul = document.getElementById('zd-errors'), li = document.createElement('li');\n"
	"    count++;\n"
	"    li.textContent = String(msg);\n"
	"    if (ul) ul.appendChild(li);\n"
	"    document.body.dataset.ok = '0';\n"
	"    document.body.dataset.errors = String(count);\n"
	"  }\n"
	"  window.zdNote = note;\n"
	"  window.zdErrorCount = function () { return count; };\n"
	"  window.addEventListener('error', function (e) {\n"
	"    note('error: ' + e.message + ' (line ' + e.lineno + ')');\n"
	"  });\n"
	"  window.addEventListener('unhandledrejection', function (e) {\n"
	"    note('unhandled rejection: ' + e.reason);\n"
	"  });\n"
	"  ['error', 'warn'].forEach(function (k) {\n"
	"    var orig = console[k];\n"
	"    console[k] = function () {\n"
	"      note('console.' + k + ': ' + Array.prototype.join.call(arguments, ' '));\n"
	"      orig.apply(console, arguments);\n"
	"    };\n"
	"  });\n"
	"})();\n";

struct map_job {
	char *data;                /* the JSON document, once built */
	size_t len;
};

static int map_at_end(struct run *r, size_t steps_run, void *arg)
{
	struct map_job *job = arg;
	FILE *f = open_memstream(&job->data, &job->len);
	struct jw w;
	int rc;

	if (!f) {
		fprintf(stderr, "zonedev map: cannot build the page: ENOMEM (%s)\n", strerror(errno));
		return EXIT_FAIL;
	}
	jw_init(&w, f);
	rc = map_data_json(r, steps_run, &w);
	if (fclose(f) || rc) {
		fprintf(stderr, "zonedev map: cannot build the page: ENOMEM (out of memory)\n");
		free(job->data);
		job->data = NULL;
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Text for HTML content and attribute values. */
static void put_html(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* JSON inside <script>: '<', '>' and '&' occur only in its strings, where
 * \u escapes mean the same, so no "</script>" can end the element early. */
static void put_json_in_script(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '<' || s[i] == '>' || s[i] == '&')
			fprintf(f, "\\u%04x", (unsigned char)s[i]);
		else
			fputc(s[i], f);
	}
}

static void put_page(FILE *f, const char *title, const struct map_job *job)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", f);
	fprintf(f, "<meta name=\"generator\" content=\"zonedev %s\">\n<title>zonedev map: ",
		ZONEDEV_VERSION);
	put_html(f, title);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body data-ok=\"0\">\n", map_page_css);
	fputs("<ul id=\"zd-errors\"></ul>\n", f);
	fprintf(f, "<script>\n%s</script>\n", guard_js);
	fputs("<div id=\"zd-app\"><noscript>This page draws its map with JavaScript."
	      "</noscript></div>\n<script type=\"application/json\" id=\"zd-data\">\n", f);
	put_json_in_script(f, job->data, job->len);
	fprintf(f, "</script>\n<script>\n%s</script>\n</body>\n</html>\n", map_page_js);
}

/* Write the page (or the JSON) to stdout or, through a temporary file in
 * its directory and one rename, to path. */
static int write_out(const char *path, const char *title, const struct map_job *job, bool json)
{
	char tmp[4096], *copy;
	FILE *f = stdout;
	int fd, err = 0;
	mode_t um;

	if (path && strcmp(path, "-")) {
		copy = strdup(path);
		if (!copy) {
			fprintf(stderr, "zonedev map: cannot write %s: ENOMEM (out of memory)\n", path);
			return EXIT_FAIL;
		}
		snprintf(tmp, sizeof(tmp), "%s/.zonedev-map-XXXXXX", dirname(copy));
		free(copy);
		fd = mkstemp(tmp);
		if (fd < 0 || !(f = fdopen(fd, "w"))) {
			char e[32];

			err = errno;
			if (fd >= 0)
				close(fd);
			fprintf(stderr, "zonedev map: cannot write %s: %s (%s)\n", path,
				fmt_errno(err, e, sizeof(e)), strerror(err));
			return EXIT_FAIL;
		}
		cleanup_register_file(tmp);
		um = umask(0);
		umask(um);
		if (fchmod(fd, 0666 & ~um))   /* as if created with open() */
			err = errno;
	}
	if (json)
		fwrite(job->data, 1, job->len, f);
	else
		put_page(f, title, job);
	if (fflush(f) || ferror(f))
		err = err ? err : errno ? errno : EIO;
	if (f == stdout)
		return err ? (fprintf(stderr, "zonedev map: cannot write the page to stdout: %s\n",
				      strerror(err)), EXIT_FAIL) : EXIT_OK;
	if (fclose(f) && !err)
		err = errno;
	if (!err && rename(tmp, path))
		err = errno;
	if (err) {
		char e[32];

		unlink(tmp);
		fprintf(stderr, "zonedev map: cannot write %s: %s (%s); it is left as it was\n",
			path, fmt_errno(err, e, sizeof(e)), strerror(err));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* How many steps --line asks for: those up to the last one starting at or
 * before line; -1 when none does. */
static long steps_to_line(const struct scenario *s, uint64_t line)
{
	long n = -1;

	for (size_t i = 0; i < s->nr_steps; i++)
		if ((uint64_t)s->steps[i].line <= line)
			n = (long)i + 1;
	return n;
}

enum { OPT_DEMO = 1000, OPT_JSON, OPT_NO_GUARD };

struct map_args {
	const char *out, *file;
	bool demo, json, has_steps, has_line, no_guard;
	uint64_t steps, line;
};

/* 0, -1 after --help, or EXIT_USAGE (reported). */
static int parse_map_args(int argc, char **argv, struct map_args *a)
{
	static const struct option opts[] = {
		{ "steps", required_argument, NULL, 'n' },
		{ "line", required_argument, NULL, 'l' },
		{ "output", required_argument, NULL, 'o' },
		{ "demo", no_argument, NULL, OPT_DEMO },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-memory-guard", no_argument, NULL, OPT_NO_GUARD },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	int c;

	while ((c = next_opt("map", argc, argv, "n:l:o:h", opts)) != -1) {
		switch (c) {
		case 'n':
			if (parse_uint(optarg, &a->steps, &why))
				return usage_error("map", "--steps wants a number of steps, not '%s' "
						   "(%s)", optarg, why);
			a->has_steps = true;
			break;
		case 'l':
			if (parse_uint(optarg, &a->line, &why) || !a->line)
				return usage_error("map", "--line wants a line number of the scenario "
						   "(1 or more), not '%s'", optarg);
			a->has_line = true;
			break;
		case 'o': a->out = optarg; break;
		case OPT_DEMO: a->demo = true; break;
		case OPT_JSON: a->json = true; break;
		case OPT_NO_GUARD: a->no_guard = true; break;
		case 'h': fputs(map_help, stdout); return -1;
		default: return EXIT_USAGE;
		}
	}
	if (a->has_steps && a->has_line)
		return usage_error("map", "--steps and --line both say where to stop; give one");
	if (optind < argc && a->demo)
		return usage_error("map", "unexpected argument '%s' (--demo maps the built-in "
				   "scenario)", argv[optind]);
	if (optind >= argc && !a->demo)
		return usage_error("map", "missing scenario FILE.yaml (or --demo)");
	if (optind + 1 < argc)
		return usage_error("map", "unexpected argument '%s' (one scenario per map)",
				   argv[optind + 1]);
	a->file = a->demo ? NULL : argv[optind];
	if (a->out && !*a->out)
		return usage_error("map", "-o wants a file name (or - for stdout)");
	return 0;
}

/* --json after a failure: still one document, saying what failed. */
static void json_failure(const char *file, const char *errors)
{
	struct jw w;

	jw_init(&w, stdout);
	jw_obj_begin(&w);
	jw_kstr(&w, "zonedev", ZONEDEV_VERSION);
	jw_kstr(&w, "scenario", file);
	jw_kstr(&w, "result", "failed");
	jw_key(&w, "errors");
	jw_arr_begin(&w);
	for (const char *e = errors; *e;) {
		size_t n = strcspn(e, "\n");

		if (n)
			jw_strn(&w, e, n);
		e += n + (e[n] == '\n');
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_finish(&w);
}

/* Run the loaded scenario up to where a asks, then write what it shows. */
static int map_loaded(struct scenario *s, const struct map_args *a)
{
	static char errors[4096];
	struct map_job job = { 0 };
	struct run_opts o = { .quiet = true, .no_memory_guard = a->no_guard,
			      .at_end = map_at_end, .at_end_arg = &job,
			      .errors = errors, .errors_len = sizeof(errors) };
	FILE *devnull;
	int rc;

	if (a->has_steps && a->steps > s->nr_steps)
		return usage_error("map", "--steps %" PRIu64 ": %s has %zu step%s", a->steps,
				   s->file, s->nr_steps, s->nr_steps == 1 ? "" : "s");
	if (a->has_line) {
		long n = steps_to_line(s, a->line);

		if (n < 0)
			return usage_error("map", "--line %" PRIu64 ": no step of %s starts at or "
					   "before that line%s", a->line, s->file, s->nr_steps ?
					   " (use --steps 0 for the machine as booted)" : "");
		o.has_limit = true;
		o.limit = (size_t)n;
	} else if (a->has_steps) {
		o.has_limit = true;
		o.limit = (size_t)a->steps;
	}
	/* Reports that steps print are not part of the picture. */
	devnull = fopen("/dev/null", "w");
	if (!devnull) {
		fprintf(stderr, "zonedev map: cannot open /dev/null: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	o.out = devnull;
	errors[0] = '\0';
	rc = run_scenario(s, &o);
	fclose(devnull);
	if (!rc)
		rc = write_out(a->out, s->file, &job, a->json);
	else if (a->json && (!a->out || !strcmp(a->out, "-")))
		json_failure(s->file, errors[0] ? errors : "the page could not be built");
	free(job.data);
	return rc;
}

int cmd_map(int argc, char **argv)
{
	struct map_args a = { 0 };
	struct scenario s;
	bool made_tmpdir = false;
	char tmpdir[4096];
	int rc = parse_map_args(argc, argv, &a);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (a.demo && (!getenv("ZD_TMPDIR") || !*getenv("ZD_TMPDIR"))) {
		const char *base = getenv("TMPDIR");

		/* as zonedev demo does: the pmem region files go here */
		snprintf(tmpdir, sizeof(tmpdir), "%s/zonedev-map-XXXXXX",
			 base && *base ? base : "/tmp");
		if (!mkdtemp(tmpdir) || setenv("ZD_TMPDIR", tmpdir, 1)) {
			fprintf(stderr, "zonedev map: cannot make a temporary directory %s: %s\n",
				tmpdir, strerror(errno));
			return EXIT_FAIL;
		}
		made_tmpdir = true;
		cleanup_register_dir(tmpdir);
	}
	if (a.demo ? scenario_load_text(&s, demo_scenario_yaml, "demo.yaml")
		   : scenario_load_path(&s, a.file)) {
		fprintf(stderr, "%s\n", s.yf.err);
		if (a.json && (!a.out || !strcmp(a.out, "-")))
			json_failure(s.file, s.yf.err);
		rc = EXIT_FAIL;
	} else {
		rc = map_loaded(&s, &a);
	}
	scenario_free(&s);
	if (made_tmpdir) {
		cleanup_run();
		unsetenv("ZD_TMPDIR");
	}
	return rc;
}
