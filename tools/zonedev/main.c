/*
 * zonedev: command-line entry point. Parses the subcommand and its options
 * and hands off to the scenario loader/runner (demo, run) or boots a
 * machine just to print its physical address map (iomem).
 * Invariants: exit 0 = success, 1 = the scenario or machine failed (bad
 * scenario file, failing step, fired invariant checks), 2 = the command line
 * itself was wrong; help goes to stdout with exit 0, usage errors to stderr
 * with exit 2; --json prints exactly one JSON document on stdout.
 */
#include "bench.h"
#include "cli.h"
#include "pmachine.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char main_help[] =
	"usage: zonedev <command> [options]\n"
	"\n"
	"zonedev models Linux's sparse memory model, memory hotplug, the iomem\n"
	"resource tree, the buddy allocator and ZONE_DEVICE (pmem, device-private\n"
	"and coherent device memory) in userspace.\n"
	"\n"
	"commands:\n"
	"  demo              run the built-in tour scenario\n"
	"  run FILE.yaml     run a scenario file\n"
	"  iomem             boot a machine and print its /proc/iomem\n"
	"  map FILE.yaml     picture a scenario's machine as an HTML page\n"
	"  bench NAME        run a benchmark ('zonedev bench --help' lists them)\n"
	"  infoblock FILE    decode and validate a pfn/dax info block (never writes)\n"
	"  ndctl CMD         ndctl's list, create/destroy/enable/disable-namespace on a\n"
	"                    persistent machine (a machine file and its region files)\n"
	"  daxctl CMD        daxctl's list, reconfigure-device, online/offline-memory\n"
	"  lsmem             lsmem: a persistent machine's memory blocks\n"
	"  chmem             chmem: online or offline a persistent machine's memory\n"
	"  help [COMMAND]    show help for zonedev or for a command\n"
	"\n"
	"options:\n"
	"  -h, --help        show this help (or a command's, after the command)\n"
	"  -V, --version     print the version\n"
	"\n"
	"Every command takes --json to print one JSON document on stdout.\n"
	"Scenario format: docs/scenarios.md; commands: docs/cli.md.\n"
	"\n"
	"exit status: 0 ok, 1 scenario/step failure or fired invariant checks,\n"
	"             2 usage error\n";

static const char demo_help[] =
	"usage: zonedev demo [--json] [--quiet] [--dmesg] [--log-level L] [--dyndbg Q]\n"
	"                    [--no-memory-guard] [--print-scenario]\n"
	"\n"
	"Run the built-in tour: boot an x86_64 machine, show /proc/iomem, hot-add\n"
	"and online 1 GiB, allocate and free pages, show the reports, try illegal\n"
	"operations that must fail, then offline and remove the memory again;\n"
	"then ZONE_DEVICE: an fsdax pmem namespace and a GPU's device-private memory.\n"
	"The scenario is the same text as scenarios/demo.yaml.\n"
	"\n"
	"The pmem region's file goes to $ZD_TMPDIR. When ZD_TMPDIR is not set, the\n"
	"demo makes a temporary directory for it ($TMPDIR or /tmp) and removes it\n"
	"after the run.\n"
	"\n"
	"options:\n"
	"  --json            one JSON document on stdout instead of text\n"
	"  -q, --quiet       print only the reports (no step echo, no progress line)\n"
	"  --dmesg           echo kernel log lines as they are logged (text mode)\n"
	"  --log-level L     console loglevel: what dmesg output shows (default info;\n"
	"                    debug shows every pr_debug line, timings included)\n"
	"  --dyndbg Q        dynamic debug query, e.g. 'func memmap_init_zone_device +p'\n"
	"  --no-memory-guard populate struct pages even beyond the host's available\n"
	"                    memory (default: refuse, saying what it would need)\n"
	"  --print-scenario  print the built-in scenario's YAML and exit\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 1 a step failed or invariant checks fired, 2 usage error\n";

static const char run_help[] =
	"usage: zonedev run FILE.yaml [--json] [--quiet] [--dmesg] [--log-level L]\n"
	"                   [--dyndbg Q] [--no-memory-guard]\n"
	"       zonedev run --list-steps [--json] [STEP...]\n"
	"\n"
	"Run a scenario: boot the machine its 'machine:' section describes, then\n"
	"execute its 'steps:' in order. Each step is echoed as\n"
	"  == FILE:LINE step key=value ...\n"
	"A step that fails unexpectedly, or succeeds although it names an\n"
	"expect_error, stops the run with 'FILE:LINE: step 'name': ...' on stderr.\n"
	"After the run, fired invariant checks (kernel WARNs) also fail it.\n"
	"A pmem region's 'file' may use ${VAR} from the environment, e.g.\n"
	"  file: ${ZD_TMPDIR}/pmem0.img\n"
	"(an unset variable is an error); relative paths are relative to the\n"
	"scenario file's directory. The format is described in docs/scenarios.md.\n"
	"\n"
	"options:\n"
	"  --json            one JSON document on stdout instead of text\n"
	"  -q, --quiet       print only the reports and errors (no step echo, no\n"
	"                    progress line)\n"
	"  --dmesg           echo kernel log lines as they are logged (text mode)\n"
	"  --log-level L     console loglevel: what dmesg output shows (default info;\n"
	"                    debug shows every pr_debug line, timings included)\n"
	"  --dyndbg Q        dynamic debug query, e.g. 'func memmap_init_zone_device +p';\n"
	"                    ';' separates clauses (the kernel's dyndbg= syntax, +p/-p)\n"
	"  --no-memory-guard populate struct pages even beyond the host's available\n"
	"                    memory (default: refuse, saying what it would need)\n"
	"  --list-steps      print every step and expect form with the keys it takes,\n"
	"                    their types and defaults (with --json: as a document);\n"
	"                    with STEP names, only those steps\n"
	"  -h, --help        show this help\n"
	"\n"
	"exit status: 0 ok, 1 bad scenario, failed step or fired invariant checks,\n"
	"             2 usage error\n";

/* A failed scenario load, as text on stderr and, with --json, a document. */
static int load_failed(struct scenario *s, const struct run_opts *o)
{
	fprintf(stderr, "%s\n", s->yf.err);
	if (o->json) {
		struct jw w;

		jw_init(&w, stdout);
		jw_obj_begin(&w);
		jw_kstr(&w, "zonedev", ZONEDEV_VERSION);
		jw_kstr(&w, "scenario", s->file);
		jw_ku64(&w, "steps_ok", 0);
		jw_kstr(&w, "result", "failed");
		jw_key(&w, "errors");
		jw_arr_begin(&w);
		jw_str(&w, s->yf.err);
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	return EXIT_FAIL;
}

/* Run a scenario whose load returned load_rc (or say why it did not
 * load), then free it. */
static int run_loaded(struct scenario *s, int load_rc, const struct run_opts *o)
{
	int rc = load_rc ? load_failed(s, o) : run_scenario(s, o);

	scenario_free(s);
	return rc;
}

enum { OPT_JSON = 1000, OPT_DMESG, OPT_PRINT, OPT_LOG_LEVEL, OPT_DYNDBG, OPT_NO_GUARD };

/* The options of the commands that run a scenario (demo, run). */
#define RUN_LONGOPTS \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "dmesg", no_argument, NULL, OPT_DMESG }, \
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL }, \
	{ "dyndbg", required_argument, NULL, OPT_DYNDBG }, \
	{ "no-memory-guard", no_argument, NULL, OPT_NO_GUARD }

/* The options of demo and run: RUN_LONGOPTS, --help (which prints help)
 * and the command's own option own, which sets *flag. 0 to go on, -1 after
 * --help, EXIT_USAGE after a usage error (reported). */
static int parse_run_opts(const char *cmd, int argc, char **argv, const struct option *opts,
			  const char *help, int own, bool *flag, struct run_opts *o)
{
	int c, level;

	while ((c = next_opt(cmd, argc, argv, "qh", opts)) != -1) {
		switch (c) {
		case OPT_JSON: o->json = true; break;
		case 'q': o->quiet = true; break;
		case OPT_DMESG: o->dmesg = true; break;
		case OPT_LOG_LEVEL:
			level = zd_loglevel_from_name(optarg);
			if (level < 0)
				return usage_error(cmd, "--log-level wants emerg, alert, crit, err, "
						   "warning, notice, info, debug or 0-7, not '%s'",
						   optarg);
			o->log_level = level + 1;
			break;
		case OPT_DYNDBG: o->dyndbg = optarg; break;
		case OPT_NO_GUARD: o->no_memory_guard = true; break;
		case 'h': fputs(help, stdout); return -1;
		default:
			if (c != own)
				return EXIT_USAGE;
			*flag = true;
		}
	}
	return 0;
}

/* Remove the demo's own temporary directory: the files the run left in it
 * (the pmem region file), then the directory. Nothing outside it. */
static int cmd_demo(int argc, char **argv)
{
	static const struct option opts[] = {
		RUN_LONGOPTS,
		{ "print-scenario", no_argument, NULL, OPT_PRINT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { 0 };
	struct scenario s;
	bool print = false, made_tmpdir = false;
	char tmpdir[4096];
	int rc = parse_run_opts("demo", argc, argv, opts, demo_help, OPT_PRINT, &print, &o);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (optind < argc)
		return usage_error("demo", "unexpected argument '%s'", argv[optind]);
	if (print) {
		fputs(demo_scenario_yaml, stdout);
		return EXIT_OK;
	}
	if (!getenv("ZD_TMPDIR") || !*getenv("ZD_TMPDIR")) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/zonedev-demo-XXXXXX",
			 base && *base ? base : "/tmp");
		if (!mkdtemp(tmpdir) || setenv("ZD_TMPDIR", tmpdir, 1)) {
			fprintf(stderr, "zonedev demo: cannot make a temporary directory %s: %s\n",
				tmpdir, strerror(errno));
			return EXIT_FAIL;
		}
		made_tmpdir = true;
		cleanup_register_dir(tmpdir);
	}
	rc = run_loaded(&s, scenario_load_text(&s, demo_scenario_yaml, "demo.yaml"), &o);
	if (made_tmpdir) {
		cleanup_run();
		unsetenv("ZD_TMPDIR");
	}
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		RUN_LONGOPTS,
		{ "list-steps", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { 0 };
	struct scenario s;
	bool list = false;
	int rc = parse_run_opts("run", argc, argv, opts, run_help, 'L', &list, &o);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	for (int i = optind; list && i < argc; i++)
		if (!step_name_known(argv[i]))
			return usage_error("run", "--list-steps: unknown step '%s' (--list-steps "
					   "alone lists them)", argv[i]);
	if (list) {
		list_steps(stdout, o.json, argv + optind, argc - optind);
		return EXIT_OK;
	}
	if (optind >= argc)
		return usage_error("run", "missing scenario FILE.yaml");
	if (optind + 1 < argc)
		return usage_error("run", "unexpected argument '%s' (one scenario per run)",
				   argv[optind + 1]);
	return run_loaded(&s, scenario_load_path(&s, argv[optind]), &o);
}

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "demo", cmd_demo }, { "run", cmd_run }, { "iomem", cmd_iomem }, { "bench", cmd_bench },
	{ "infoblock", cmd_infoblock },
	{ "map", cmd_map },
	{ "ndctl", cmd_ndctl }, { "daxctl", cmd_daxctl }, { "lsmem", cmd_lsmem }, { "chmem", cmd_chmem },
	{ NULL, NULL },
};

static const struct command *find_command(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;
	const char *cmd;

	if (argc < 2) {
		fputs(main_help, stderr);
		return EXIT_USAGE;
	}
	cleanup_install();
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || (!strcmp(cmd, "help") && argc == 2)) {
		fputs(main_help, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("zonedev %s\n", ZONEDEV_VERSION);
		return EXIT_OK;
	}
	optind = 0;  /* full getopt reset for the subcommand's argv */
	if (!strcmp(cmd, "help")) {
		/* "help CMD" is "CMD --help" */
		if (argc > 3)
			return usage_error("help", "unexpected argument '%s'", argv[3]);
		c = find_command(argv[2]);
		if (!c)
			return usage_error(NULL, "unknown command '%s'", argv[2]);
		return c->run(2, (char *[]){ argv[2], "--help", NULL });
	}
	c = find_command(cmd);
	if (c)
		return c->run(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return usage_error(NULL, "unknown option '%s'", cmd);
	return usage_error(NULL, "unknown command '%s'", cmd);
}
