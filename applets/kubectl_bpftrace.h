/*
 * kubectl retina bpftrace's pure part (applets/kubectl_bpftrace_rules.c):
 * one trace pod's log lines in, rendered events and counts out. No I/O but
 * the FILEs given, so unit tests feed it lines.
 *
 * The seam for more tracer flags: a flag the plugin passes to `retina trace`
 * (argv in kubectl_bpftrace.c) whose output is extra JSON fields needs
 * nothing here for -o json (every field is passed through, "node" added);
 * for the table, render its lines under the row in bt_render_extra().
 */
#ifndef RETINA_APPLETS_KUBECTL_BPFTRACE_H
#define RETINA_APPLETS_KUBECTL_BPFTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BT_MAX_REASONS 64
#define BT_MAX_TYPES 8

/* What one node's tracer sent: counted here, lost as the tracer counted it. */
struct bt_stream {
	const char *node;
	uint64_t events, other;		/* other: events whose (type, reason) did not fit */
	struct {
		char type[16], reason[48];
		uint64_t n;
	} v[BT_MAX_REASONS];
	size_t n;
	/* the tracer's STATS lines (retina trace --stats-interval) */
	uint64_t stats_lines, tracer_events, lost, lost_reported;
	bool final_stats;
	struct {
		char type[16];
		uint64_t n;
	} lost_by_type[BT_MAX_TYPES];
	size_t nlost_types;
};

struct bt_render {
	bool json;
	int node_width;		/* > 0: a NODE column this wide (several nodes) */
};

enum bt_line { BT_EMPTY, BT_EVENT, BT_STATS, BT_TEXT };

/*
 * One line of a pod's log: an event goes to out (a table row, or the JSON
 * object with "node" added), a STATS line updates the counts (and a growing
 * lost count is said on err), anything else is the tracer's own message,
 * to err after the node's name. Returns what the line was.
 */
enum bt_line bt_handle_line(struct bt_stream *s, const struct bt_render *r, const char *line, FILE *out,
			    FILE *err);
/* The table header (with the NODE column when r->node_width > 0). */
void bt_print_header(const struct bt_render *r, FILE *out);
/* The per-node summary: counts by type and reason, lost events. failed: why the node stopped early, or NULL. */
void bt_print_summary(const struct bt_stream *s, const char *prog, double secs, const char *failed, FILE *err);

#endif
