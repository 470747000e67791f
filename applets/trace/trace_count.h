/*
 * retina trace --count and kubectl retina bpftrace --count, the pure parts
 * (applets/trace/trace_count_rules.c): a table of counts by key, its table and
 * JSON output, and the reading of that JSON back (the plugin merges its
 * nodes' lines). No libbpf and no I/O but the FILEs given.
 *
 * A key as text is what both ends print: the tracer turns its kernel keys
 * (struct trace_count_key) into text with its names and symbols; the plugin
 * has the text from the JSON lines.
 *
 * JSON, one object per line: every --interval
 *   {"type":"COUNTS","ts":"...","final":false,"interval_s":1.000,"events":N,
 *    "rate":R,"unkeyed":N,"keys":[{"type":"DROP","reason":"NETFILTER_DROP",
 *    "location":"nf_hook_slow+0x9b","netns":N,"ifindex":N,"ifname":"eth0",
 *    "proto":"udp","dport":53,"count":N,"rate":R},...]}
 * with the keys that changed and their deltas; at the end one more with
 * "final":true, "duration_s" and every key's total (rate: over the run).
 */
#ifndef RETINA_TRACE_COUNT_H
#define RETINA_TRACE_COUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define COUNT_NODE_MAX 64

struct count_key {
	char type[16], reason[64], location[96], ifname[32], proto[16];
	uint32_t netns, ifindex, dport;
};

struct count_entry {
	struct count_key k;
	char node[COUNT_NODE_MAX];	/* "" for the tracer's own */
	uint64_t total, delta;		/* delta: since the last count_table_tick() */
};

struct count_table {
	struct count_entry *v;
	size_t n, cap;
	uint64_t total, delta;		/* over every key */
	uint64_t unkeyed_total, unkeyed_delta;	/* counted under no key (kernel table full) */
};

/*
 * Add n to (node, key): total and delta grow. -1 when out of memory (then
 * the table is unchanged).
 */
int count_table_add(struct count_table *t, const char *node, const struct count_key *k, uint64_t n);
/* The key's running total becomes total (the kernel's sum); the growth is added. */
int count_table_set(struct count_table *t, const char *node, const struct count_key *k, uint64_t total);
/* Start a new interval: every delta to 0. */
void count_table_tick(struct count_table *t);
void count_table_free(struct count_table *t);

/*
 * The table: a title line, a header, then at most top keys (0: all), the
 * busiest first (by delta when by_delta, else by total). With several
 * nodes (node_col) a NODE column, and under each key's node rows one "*"
 * row with its total across nodes. secs: the interval (rates: delta/secs)
 * or the run (totals/secs).
 */
struct count_view {
	const char *title;	/* "07:50:01 interval 1.0s" or "totals over 12.3s" */
	double secs;
	bool by_delta, node_col;
	size_t top;
};
void count_print_table(const struct count_table *t, const struct count_view *v, FILE *out);
/*
 * One JSON line: deltas of the keys that changed (final false) or every
 * total (final true; secs: the run). ts: RFC 3339.
 */
void count_print_json(const struct count_table *t, const char *ts, double secs, bool final, uint64_t extra_missed,
		      FILE *out);

/*
 * One tracer JSON line back into t under node (the plugin): an interval's
 * deltas are added; a final line's totals are set (they are exact where
 * intervals were missed; its "unkeyed" is not added again). Returns 1 for an interval line, 2 for a final
 * one, 0 when the line is no COUNTS object, -1 when it is one but
 * malformed (nothing is added then) or memory ran out.
 */
int count_parse_json(struct count_table *t, const char *node, const char *line);

/* applets/trace/trace_count.c: the tracer's loop, once its programs are attached. */
#include <signal.h>
struct trace_names;
struct ksyms;
struct trace_bpf;
struct count_opts {
	const struct trace_names *names;
	const struct ksyms *ksyms;	/* NULL: locations as addresses */
	uint64_t interval_ms, duration_ms;
	size_t top;
	bool json, refresh;		/* refresh: a terminal, the table redrawn in place */
};
/* Events the kernel did not run our programs for (one already running on that CPU). */
uint64_t trace_recursion_misses(const struct trace_bpf *skel);
/* Print every interval until *stop or the duration, then the totals and the summary; -1: out of memory. */
int trace_count_loop(struct trace_bpf *skel, const struct count_opts *o, volatile sig_atomic_t *stop);

#endif
