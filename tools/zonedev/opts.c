/*
 * Option plumbing every subcommand shares (declared in cli.h): getopt_long
 * with the CLI's own messages for unknown options and missing values, and
 * the one-line usage error with its --help hint. Kept out of main.c so the
 * subcommands link without the entry point (the fuzz replay programs).
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "zonedev%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
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
	if (c == '?' && optopt > 0 && optopt < 128 && argv[optind - 1][1] != '-')
		usage_error(cmd, "unknown option '-%c'", optopt);
	else if (c == '?')
		usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	else if (c == ':')
		usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	return c == '?' || c == ':' ? -2 : c;
}
