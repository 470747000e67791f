/* Messages and option parsing shared by every applet. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/retina.h"

const char *applet_name = "retina";

static void vmsg(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", applet_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(code);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", applet_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; try '%s --help'\n", applet_name);
	exit(EXIT_USAGE);
}

bool output_is_json(const char *arg)
{
	if (!strcmp(arg, "json"))
		return true;
	if (strcmp(arg, "table"))
		usage_error("bad output format '%s': use table or json", arg);
	return false;
}

void show_help(const char *help)
{
	fputs(help, stdout);
	exit(EXIT_OK);
}

static const struct option *find_long(const struct option *longopts, const char *arg)
{
	size_t n = strcspn(arg, "=");

	for (; longopts && longopts->name; longopts++)
		if (strlen(longopts->name) == n && !strncmp(longopts->name, arg, n))
			return longopts;
	return NULL;
}

int next_opt(int argc, char *const argv[], const char *shortopts, const struct option *longopts)
{
	char fmt[64];
	int c;

	/*
	 * Leading ':' makes a missing value come back as ':' rather than '?'. A
	 * leading '+' (stop at the first non-option: the command of nsenter)
	 * must stay first for musl to see it.
	 */
	if (shortopts[0] == '+')
		snprintf(fmt, sizeof(fmt), "+:%s", shortopts + 1);
	else
		snprintf(fmt, sizeof(fmt), ":%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, fmt, longopts, NULL);
	if (c != '?' && c != ':')
		return c;

	/* For long options musl reports the option's val in optopt: name the text. */
	/* A missing value at the end may leave optind past argc. */
	const char *arg = argv[optind - 1 < argc ? optind - 1 : argc - 1];
	bool is_long = !strncmp(arg, "--", 2);
	if (c == ':') {
		if (!is_long)
			usage_error("option '-%c' needs a value", optopt);
		usage_error("option '%s' needs a value", arg);
	}
	if (is_long && find_long(longopts, arg + 2))
		usage_error("option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
	if (!is_long && optopt)
		usage_error("unknown option '-%c'", optopt);
	usage_error("unknown option '%s'", arg);
}
