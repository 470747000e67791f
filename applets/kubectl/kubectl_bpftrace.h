/*
 * kubectl retina bpftrace's pure part (applets/kubectl_bpftrace_rules.c):
 * one trace pod's log lines in, rendered events and counts out. No I/O but
 * the FILEs given, so unit tests feed it lines.
 *
 * The seam for more tracer flags: a flag the plugin passes to `retina trace`
 * (argv in kubectl_bpftrace.c) whose output is extra JSON fields needs
 * nothing here for -o json (every field is passed through, "node" added);
 * for the table, render its lines under the row in bt_render_extra().
 *
 * -w FILE: the tracer runs with --emit-packets, and each DROP's line ends in
 * ,"packet_len":N,"packet":"BASE64"} (last, so it can be cut off the line
 * as it is). The packet goes to r->packet (the pcapng writer), the line on
 * without those two fields.
 */
#ifndef RETINA_APPLETS_KUBECTL_BPFTRACE_H
#define RETINA_APPLETS_KUBECTL_BPFTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "applets/kubectl/kubectl_pods.h"
#include "applets/kubectl/kubectl_ship.h"
#include "applets/trace/trace_opts.h"
#include "kube/debugpod.h"
#include "kube/kubeconfig.h"
#include "kube/names.h"
#include "net/pcapng.h"

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
	/* -w: this node's interface in the pcapng file; packets written, unreadable */
	uint32_t ifid;
	uint64_t packets, bad_packets;
};

/* One dropped packet of a pod's line, for the pcapng writer. */
struct bt_packet {
	uint64_t ts_ns;		/* since the epoch, from the line's "ts" */
	const uint8_t *data;	/* from the IP header */
	uint32_t caplen, origlen;
	const char *comment;	/* "node=N type=DROP reason=... probe=... netns=... ifname=..." */
};

struct bt_render {
	bool json;
	int node_width;		/* > 0: a NODE column this wide (several nodes) */
	/* -w: each packet to packet(); lines go on without it */
	void (*packet)(void *ctx, struct bt_stream *s, const struct bt_packet *p);
	void *packet_ctx;
	/* the plugin's address -> name map: events gain src_pod/dst_svc/... (NULL: none) */
	const struct kube_names *names;
};

/* kubectl_names_rules.c: an event's names, from the map, at its "ts" */
struct bt_names {
	const char *src, *dst;		/* NULL: not named */
	enum kn_kind src_kind, dst_kind;
};
/* How many of the event's two addresses were named (0 without m, "ts" or addresses). */
int bt_names_of(const struct kube_names *m, const cJSON *o, struct bt_names *out);
/* "src_pod":"ns/name","dst_svc":"ns/name", (each with its comma; "" when none fit): its length */
size_t bt_names_json(const struct bt_names *n, char *buf, size_t len);
/* " (pod ns/name)" after the endpoint text in ep, when named */
void bt_names_beside(char *ep, size_t len, const char *name, enum kn_kind kind);
/* A JSON key the plugin writes itself (src_pod, dst_svc, ...): a pod's own goes. */
bool bt_names_key(const char *key);

enum bt_line { BT_EMPTY, BT_EVENT, BT_STATS, BT_TEXT };

/*
 * One line of a pod's log: an event goes to out (a table row, or the JSON
 * object with "node" added), a STATS line updates the counts (and a growing
 * lost count is said on err), anything else is the tracer's own message,
 * to err after the node's name. Returns what the line was.
 */
enum bt_line bt_handle_line(struct bt_stream *s, const struct bt_render *r, const char *line, FILE *out,
			    FILE *err);
/*
 * Where the packet fields start in a line of n bytes ending in '}': the
 * offset of ,"packet_len":N,"packet":"BASE64"}, or -1 when the line does not
 * end so (then nothing is cut).
 */
long bt_packet_suffix(const char *line, size_t n);
/* "2026-11-22T01:30:04.123456789Z" into ns since the epoch; -1 when not that form. */
int bt_parse_ts(const char *ts, uint64_t *ns);
/* The table header (with the NODE column when r->node_width > 0). */
void bt_print_header(const struct bt_render *r, FILE *out);
/* The per-node summary: counts by type and reason, lost events. failed: why the node stopped early, or NULL. */
void bt_print_summary(const struct bt_stream *s, const char *prog, double secs, const char *failed, FILE *err);

/* ---- the command line (bt_parse_args, pure: tests/unit/test_trace_opts.c) ---- */

#define BT_MAX_TRACE_ARGS 96
#define BT_NODES_WITHOUT_FLAG 20	/* more needs --max-nodes: no accidental fleet-wide BPF pods */

struct count_table;

struct bt_args {
	struct trace_opts t;	/* the trace flags (applets/trace/trace_opts.h) */
	const char **names;	/* the nodes given, or found by -l */
	size_t nnodes;
	const char *selector;
	uint64_t max_nodes;
	const char *argv[BT_MAX_TRACE_ARGS];	/* retina trace -o json ... */
	int argc;
	char argbuf[64];	/* numbers in argv */
	struct bt_render render;
	uint64_t startup_ms;
	const char *repo, *version;	/* --retina-shell-image-repo, --retina-shell-image-version */
	const char *default_version;	/* this binary's: the image tag without --retina-shell-image-version */
	struct debugpod_spec spec;	/* shared by the pods: name and node set per pod */
	struct kube_load_opts load;
	int verbosity;
	char image[512];
	struct pcap_out pcap;
	FILE *out;		/* table or JSON lines: stdout, or stderr with -w - */
	struct count_table *counts;	/* --count: every node's counts merged */
	struct bt_namer *namer;	/* pods, services, nodes watched: events named (kubectl_names.c) */
	const char **pods;	/* pods/NAME given (kubectl_pods.c) */
	size_t npods;
	const char *pod_selector;	/* --pod-selector */
	struct bt_pods found;	/* their nodes and addresses */
	struct ship ship;	/* --ship-binary (kubectl_ship.c) */
};

/*
 * Parse and check argv (argv[0] "bpftrace"): the trace flags through the
 * shared table, the plugin's own options, the nodes; then the trace pods'
 * command (a->argv) and capabilities. Bad input exits 2 before the cluster
 * is touched; --help prints the help and exits 0. a->names is malloc'd.
 */
void bt_parse_args(int argc, char **argv, struct bt_args *a);
/* More than BT_NODES_WITHOUT_FLAG pods only with --max-nodes, never more than it: exit 2. */
void bt_check_nodes(const struct bt_args *a, size_t n, const char *what);

#endif
