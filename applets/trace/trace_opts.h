/*
 * The trace flags: ONE table (applets/trace/trace_opts_rules.c) that both
 * `retina trace` and `kubectl retina bpftrace` parse with, so a flag is
 * spelled, checked, explained and passed on the same way on a node and from
 * the workstation. Pure: no I/O but the help text and usage_error.
 *
 * Adding a trace flag:
 *  1. a row in trace_flags[]: "--name", letter, argument, where (TF_TRACE,
 *     TF_PLUGIN or TF_BOTH), how the plugin passes it on (enum trace_fwd:
 *     TF_FWD_GIVEN for a filter, as typed and in order), repeat, help section,
 *     its setter (set_types, set_bool with OFF(field), or a new set_NAME
 *     returning one line naming the input and the fix) and its help;
 *  2. what it changes in the tracer: a field of struct trace_filter (read by
 *     trace.c's configure()); how a front end shows it: of struct trace_opts;
 *  3. a combination it forbids: trace_opts_check, one message for both;
 *  4. a sample in tests/unit/test_trace_opts.c samples[] (the test fails
 *     for a row without one, and when the plugin's `retina trace` command
 *     does not parse back to the same filter).
 * Both front ends' getopt tables, help and completion follow the row.
 *
 * Options of one front end only (the plugin's nodes, -l, --max-nodes,
 * kubeconfig, image; trace's -v) stay in that front end's own table:
 * bpftrace_own[] in applets/kubectl/kubectl_cmds_rules.c (a KO_ id in
 * kubectl_retina.h, its case in own_option() and its help line in bt_usage
 * of kubectl_bpftrace_rules.c), trace_parse_args' own[] here.
 */
#ifndef RETINA_APPLETS_TRACE_OPTS_H
#define RETINA_APPLETS_TRACE_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "applets/trace/trace.h"

#define TRACE_REASONS_LEN 768	/* --reason's list as given: TRACE_MAX_REASONS names */
#define TRACE_MAX_GIVEN 40	/* flags the plugin passes on as given */
#define TRACE_OPT_BASE 0x1000	/* getopt value of a row without a letter: TRACE_OPT_BASE + row */
#define TRACE_SNAPLEN_DEFAULT 256
#define STACK_EVERY UINT32_MAX		/* --stack-rate 0: a walk for every event */

/*
 * What the tracer does: the same whichever front end parsed the flags (the
 * plugin's argv to `retina trace` parses back to this, byte for byte).
 * trace_opts_init zeroes it, padding too, so it compares with memcmp.
 */
struct trace_filter {
	unsigned types;			/* bit per enum trace_type */
	struct trace_net nets[TRACE_MAX_NETS];
	unsigned nnets;
	uint16_t ports[TRACE_MAX_PORTS];
	unsigned nports;
	char reasons[TRACE_REASONS_LEN];	/* --reason: resolved once the kernel's BTF is read */
	bool all_reasons;
	unsigned stack_types;		/* --stack: bit per enum trace_type */
	uint32_t stack_depth;		/* --stack-depth: frames walked; 0: TRACE_STACK_DEPTH */
	uint32_t stack_rate;		/* --stack-rate: walks/s per site; 0: TRACE_STACK_RATE; STACK_EVERY: each event */
	bool packets;			/* -w or --emit-packets: dropped packets captured */
	uint32_t snaplen;
	bool nft, allow_changes;
	bool count;			/* --count */
	uint64_t interval_ms;		/* --count's cadence */
};

struct trace_flag;

/* The flags as parsed: the filter, and how this front end shows and stops. */
struct trace_opts {
	struct trace_filter f;
	bool json, list_reasons, emit_packets;
	bool pods;			/* --pods: each event's pod named from the node (trace_pods.c) */
	uint64_t duration_ms;
	uint64_t stats_ms;		/* --stats-interval: STATS lines in JSON */
	uint64_t top;
	bool top_given;
	const char *write_path;		/* -w */
	/* the plugin's pass-through flags in the order given (TF_FWD_GIVEN) */
	struct trace_given {
		const struct trace_flag *flag;
		const char *arg;
	} given[TRACE_MAX_GIVEN];
	unsigned ngiven;
};

enum {
	TF_TRACE = 1,		/* retina trace takes it */
	TF_PLUGIN = 2,		/* kubectl retina bpftrace takes it */
	TF_BOTH = TF_TRACE | TF_PLUGIN,
};

/* How kubectl retina bpftrace passes a flag on to retina trace. */
enum trace_fwd {
	TF_FWD_GIVEN,		/* as given, in order (filters, event types) */
	TF_FWD_CONFIG,		/* from the parsed config, after those (trace_opts_argv) */
	TF_FWD_NONE,		/* the front end's own doing (output, duration, rows) */
};

struct trace_flag {
	const char *name;	/* "--name" as typed (getopt gets name + 2) */
	char letter;		/* -x, or 0 */
	unsigned char has_arg;	/* no_argument, required_argument, optional_argument */
	unsigned char where;	/* TF_TRACE and/or TF_PLUGIN */
	unsigned char fwd;	/* enum trace_fwd */
	bool repeat;		/* may be given more than once (completion offers it again) */
	unsigned char section;	/* help: index into trace_sections[] */
	/* store arg in o; -1 with one line in err naming the input and the fix */
	int (*set)(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n);
	size_t param;		/* set's parameter: event bits, a field's offset, --ip or --cidr */
	const char *arg;	/* help: the argument's name */
	const char *help;	/* help: lines split by \n */
};

extern const struct trace_flag trace_flags[];
extern const size_t trace_nflags;
extern const char *const trace_sections[];

/* A zeroed config (padding too, for memcmp). */
void trace_opts_init(struct trace_opts *o);
/* The row getopt returned val for; NULL for an option of the front end's own. */
const struct trace_flag *trace_flag_of(int val);
/* Store one flag; -1 with the message in err. */
int trace_opts_set(struct trace_opts *o, const struct trace_flag *f, const char *arg, char *err, size_t n);
/* After the last flag: combinations and defaults for front end where; -1 with the message in err. */
int trace_opts_check(struct trace_opts *o, unsigned where, char *err, size_t n);

/*
 * A front end's getopt tables: the rows of where, then its own options
 * (own, NULL-terminated; own_short its letters). -1 when a table is too
 * small or an own option reuses a row's name or letter.
 */
int trace_opts_getopt(unsigned where, const struct option *own, const char *own_short, struct option *opts,
		      size_t nopts, char *shortopts, size_t nshort);

/*
 * Parse argv with a front end's tables (trace_opts_getopt): trace flags
 * into o, bad values exit 2 (usage_error). Returns the next option of the
 * front end's own, or -1 at the end (then call trace_opts_check).
 */
int trace_opts_next(int argc, char **argv, const char *shortopts, const struct option *longopts,
		    struct trace_opts *o);

/*
 * kubectl retina bpftrace's `retina trace` command for a checked o: -o json,
 * --stats-interval (or --count's --interval), the TF_FWD_GIVEN flags in
 * order, then the TF_FWD_CONFIG ones. buf holds formatted numbers. Returns
 * argc (argv[argc] = NULL), or -1 when max is too small.
 */
#define TRACE_STATS_INTERVAL "1s"
int trace_opts_argv(const struct trace_opts *o, const char **argv, int max, char *buf, size_t len);

/* The help of the rows of where, by section. */
void trace_opts_help(FILE *out, unsigned where);

/* retina trace's front end: parse and check argv into o (verbose: -v); exits 2 on bad input, 0 after --help. */
void trace_parse_args(int argc, char **argv, struct trace_opts *o, bool *verbose);

#endif
