/* Cross-cutting helpers every applet uses: messages, exit codes, options. */
#ifndef RETINA_LIB_H
#define RETINA_LIB_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes shared by all applets. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* ran, and the answer is "no" or something failed */
	EXIT_USAGE = 2,	/* bad command line: nothing was done */
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Name used in messages: "retina capcheck". Set by main before dispatch. */
extern const char *applet_name;

/* "retina APPLET: message" on stderr. */
void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* warnx, then exit(code). */
_Noreturn void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line naming the problem plus "try 'retina APPLET --help'", exit 2. */
_Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * getopt_long that never prints glibc/musl's own messages: an unknown flag or
 * a missing value ends in usage_error() naming it. Returns like getopt_long.
 */
int next_opt(int argc, char *const argv[], const char *shortopts, const struct option *longopts);

/* The value of -o/--output: true for "json", false for "table"; anything else is a usage error. */
bool output_is_json(const char *arg);

/* Print help text (an applet's usage and examples) to stdout and exit 0. */
_Noreturn void show_help(const char *help);

/* "EPERM" for EPERM; "E123" for numbers it does not know. buf >= 16 bytes. */
const char *errno_name(int err, char buf[16]);
/* EPERM for "EPERM" or "eperm"; -1 when unknown. */
int errno_from_name(const char *name);

/* Durations like 30s, 1m30s, 500ms, 2h, or a bare number of seconds. */
int parse_duration_ms(const char *s, uint64_t *ms);
/* Whole number in [min, max]; 0 on success, -1 on junk or out of range. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
