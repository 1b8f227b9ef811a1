/*
 * Option plumbing every subcommand shares (declared in cli.h): getopt_long
 * with the CLI's own messages for unknown options and missing values, and
 * the one-line usage error with its --help hint. Kept out of main.c so the
 * subcommands link without the entry point (the fuzz replay programs).
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "zonedev%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'zonedev %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/* getopt_long over a subcommand's argv; reports unknown options itself. */
int next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
		    const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?') {
		if (optopt > 0 && optopt < 128 && argv[optind - 1][1] != '-')
			fprintf(stderr, "zonedev %s: unknown option '-%c'\n", cmd, optopt);
		else
			fprintf(stderr, "zonedev %s: unknown option '%s'\n", cmd,
				argv[optind - 1]);
		fprintf(stderr, "Try 'zonedev %s --help'.\n", cmd);
		return -2;
	}
	if (c == ':') {
		fprintf(stderr, "zonedev %s: option '%s' needs a value\nTry 'zonedev %s --help'.\n",
			cmd, argv[optind - 1], cmd);
		return -2;
	}
	return c;
}
