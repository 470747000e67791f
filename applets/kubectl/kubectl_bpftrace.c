/*
 * kubectl retina bpftrace: retina trace on one node or many, from the
 * workstation. One trace pod per node (kube/debugpod) runs `retina trace -o
 * json --stats-interval 1s` with the filters as an argument vector; we
 * follow every pod's log at once and render the lines here
 * (applets/kubectl_bpftrace_rules.c).
 *
 * Processes: the supervisor (debugpod_supervise) deletes every pod whatever
 * ends the child; the child creates, waits, then polls one pipe per node,
 * each fed by a log reader process of its own (the HTTP client retries
 * EINTR and blocks, so a reader per stream keeps the child's poll loop
 * single-threaded and a signal or --duration effective at once).
 *
 * Why the summary is reliable: the tracer writes its counts (events, lost)
 * as a STATS line every second. On a stop we keep reading until each node's
 * next STATS line arrived (at most STATS_DRAIN_MS), so its lost count is the
 * one of the moment we stopped, before the pod is deleted. Killing the
 * tracer instead would need exec into the pod, and a deleted pod's final
 * words do not reliably reach a log stream.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "applets/kubectl/kubectl_retina.h"
#include "applets/kubectl/kubectl_ship.h"
#include "applets/trace/trace.h"
#include "applets/trace/trace_count.h"
#include "applets/trace/trace_io.h"
#include "kube/client.h"
#include "kube/debugpod.h"
#include "kube/kubeconfig.h"
#include "lib/caps.h"
#include "lib/retina.h"
#include "lib/sys.h"
#include "version.h"

const char kubectl_bpftrace_help[] =
	"usage: kubectl retina bpftrace [OPTIONS] NODE [NODE...]\n"
	"       kubectl retina bpftrace [OPTIONS] -l SELECTOR\n"
	"\n"
	"Trace packet drops, RSTs, socket errors and retransmits on nodes: a pod per\n"
	"node runs `retina trace -o json` there (capabilities BPF and PERFMON only) and\n"
	"the events of all of them are shown here, with a NODE column for several.\n"
	"Every pod is deleted on Ctrl-C, SIGTERM, --duration and errors; a summary per\n"
	"node (counts by type and reason, events lost) goes to stderr. A node whose pod\n"
	"fails is reported and the others keep tracing (exit code 1 in the end).\n"
	"\n"
	"Options:\n"
	"      --drops, --rst, --errors, --retransmits, --all   event types (default: all)\n"
	"      --ip ADDR                     only packets from or to ADDR (repeatable; IPv4/IPv6)\n"
	"      --cidr NET                    only packets from or to NET (repeatable)\n"
	"      --port N                      only packets with source or destination port N (repeatable)\n"
	"      --stack[=all]                 the kernel stack of each DROP (=all: of every event), under\n"
	"                                    the row / as \"stack\" (adds SYSLOG to the pod: symbols)\n"
	"      --nft --allow-system-changes  the nftables rule that dropped each NETFILTER_DROP in the\n"
	"                                    node's network namespace: each pod adds the table inet\n"
	"                                    retina_nftrace while it runs (and NET_ADMIN to the pod)\n"
	"  -w, --write FILE                  write every node's dropped packets to one pcapng FILE\n"
	"                                    (raw IP; an interface per node, named after it; each\n"
	"                                    packet's comment: node, type, reason, probe, netns,\n"
	"                                    ifname); - for stdout, then the table or JSON lines go\n"
	"                                    to stderr. JSON lines on stdout carry no packet bytes\n"
	"      --snaplen N                   with -w: bytes of each packet from its IP header\n"
	"                                    (default 256, max 1024)\n"
	"  -c, --count                       count in the kernel instead (retina trace --count: exact at\n"
	"                                    any rate): every node's counts by type, reason, drop\n"
	"                                    location, netns, interface, protocol and port in one table\n"
	"                                    with a NODE column and a \"*\" row per key across nodes,\n"
	"                                    redrawn on a terminal, appended when piped; the totals at\n"
	"                                    the end. -o json: the nodes' COUNTS lines with \"node\"\n"
	"      --interval D                  with --count: how often (default 1s)\n"
	"      --top N                       with --count: the N busiest keys (default 20; 0: all)\n"
	"  -l, --selector SEL                every Linux node matching the label selector\n"
	"      --max-nodes N                 allow up to N trace pods (needed above 20)\n"
	"  -o, --output table|json           table (default), or JSON lines with a \"node\" field\n"
	"  -d, --duration D                  stop after D (30s, 5m; 0: until Ctrl-C, the default)\n"
	"      --startup-timeout D           how long to wait for the trace pods to start (30s)\n"
	"      --retina-shell-image-repo R   image repository (env RETINA_SHELL_IMAGE_REPO;\n"
	"                                    default: the build's: kubectl retina version)\n"
	"      --retina-shell-image-version V  image tag (env RETINA_SHELL_IMAGE_VERSION;\n"
	"                                    default this binary's version, " RETINA_VERSION ")\n"
	"      --ship-binary                 no registry: this binary goes to the nodes in a ConfigMap\n"
	"                                    and runs in an image each node has (its pause image)\n"
	"      --retina-binaries DIR         with --ship-binary: where the retina of another\n"
	"                                    architecture is (make dist's retina-V-linux-ARCH/)\n"
	"      --kubeconfig FILE             kubeconfig file (else KUBECONFIG, ~/.kube/config)\n"
	"      --context NAME                kubeconfig context\n"
	"      --request-timeout D           give up on an API request after D (30s; 0: never)\n"
	"  -n, --namespace NS                where the trace pods run\n"
	"  -v, --verbose N                   log API requests (1: method, URL, status, latency)\n"
	"\n"
	"Examples:\n"
	"  kubectl retina bpftrace node-1\n"
	"  kubectl retina bpftrace node-1 --drops --ip 10.0.0.4 --duration 60s\n"
	"  kubectl retina bpftrace node-1 node-2 --rst --port 443 -o json | jq .\n"
	"  kubectl retina bpftrace -l agentpool=blue --drops\n"
	"  kubectl retina bpftrace node-1 --drops --stack --nft --allow-system-changes\n"
	"  kubectl retina bpftrace node-1 node-2 --drops --ip 10.0.0.4 -w drops.pcapng\n"
	"  kubectl retina bpftrace -l agentpool=blue --drops -w - | tshark -r -\n"
	"  kubectl retina bpftrace -l agentpool=blue --drops --count --top 10\n";

#define MAX_TRACE_ARGS 96
#define NODES_WITHOUT_FLAG 20	/* more needs --max-nodes: no accidental fleet-wide BPF pods */
#define STATS_INTERVAL "1s"
#define STATS_DRAIN_MS 2500	/* one interval, and the log's way here */
#define LINE_MAX_BYTES 65536

struct bt_node {
	const char *name;
	char pod[64];
	enum { BN_NEW, BN_WAITING, BN_RUNNING, BN_STOPPED, BN_FAILED } state;
	char why[512];		/* BN_FAILED: what happened */
	pid_t reader;
	int fd;
	char *line;
	size_t used;
	uint64_t stats_at_stop;
	struct bt_stream s;
};

struct bt_args {
	const char **names;	/* the nodes given, or found by -l */
	size_t nnodes;
	const char *selector;
	uint64_t max_nodes;
	const char *argv[MAX_TRACE_ARGS];	/* retina trace -o json ... */
	int argc;
	struct bt_render render;
	uint64_t duration_ms, startup_ms;
	struct debugpod_spec spec;	/* shared by the pods: name and node set per pod */
	struct kube_load_opts load;
	int verbosity;
	char image[512];
	const char *write_path;	/* -w */
	uint32_t snaplen;
	struct pcap_out pcap;
	FILE *out;		/* table or JSON lines: stdout, or stderr with -w - */
	/* --count: every node's counts merged */
	bool count;
	uint64_t interval_ms, top;
	char interval[32];
	struct count_table *counts;	/* the table: the renderers are given a const bt_args */
	struct ship ship;	/* --ship-binary (kubectl_ship.c) */
};

static void push(struct bt_args *a, const char *s)
{
	if (a->argc >= MAX_TRACE_ARGS - 1)
		usage_error("too many filters (at most %d arguments)", MAX_TRACE_ARGS - 8);
	a->argv[a->argc++] = s;
}

static const char *node_name(const char *arg)
{
	const char *n = arg;

	if (!strncmp(n, "node/", 5))
		n += 5;
	else if (!strncmp(n, "nodes/", 6))
		n += 6;
	else if (!strncmp(n, "no/", 3))
		n += 3;
	if (!n[0] || strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(n) || strlen(n) > 253)
		usage_error("'%s' is not a valid node name (lowercase letters, digits, '-' and '.')", arg);
	return n;
}

/* More than 20 pods only when asked for, and never more than asked for: exit 2 before any pod. */
static void check_count(const struct bt_args *a, size_t n, const char *what)
{
	if (a->max_nodes && n > a->max_nodes)
		usage_error("%zu nodes %s, more than --max-nodes %llu: raise it to %zu or trace fewer nodes", n, what,
			    (unsigned long long)a->max_nodes, n);
	if (!a->max_nodes && n > NODES_WITHOUT_FLAG)
		usage_error("%zu nodes %s: a trace pod on more than %d nodes needs --max-nodes %zu", n, what,
			    NODES_WITHOUT_FLAG, n);
}

/* Everything checked here, before the cluster is touched: bad input exits 2. */
static void parse_args(int argc, char **argv, struct bt_args *a)
{
	const struct kubectl_cmd *cmd = kubectl_cmd_find("bpftrace");
	const char *repo = NULL, *version = NULL;
	unsigned nnets = 0, nports = 0, types = 0;
	bool nft = false, allow_changes = false;
	const char *stack = NULL, *snaplen = NULL, *interval = NULL;
	bool top_given = false;
	struct trace_net net;
	char err[300];
	uint64_t v;
	int c;

	a->startup_ms = 30000;
	push(a, "retina");
	push(a, "trace");
	push(a, "-o");
	push(a, "json");
	push(a, "--stats-interval");
	push(a, STATS_INTERVAL);
	optind = 1;
	while ((c = next_opt(argc, argv, cmd->shortopts, cmd->longopts)) != -1) {
		if (kubectl_connection_opt(c, optarg, &a->load))
			continue;
		switch (c) {
		case KO_DROPS: push(a, "--drops"); types |= 1u << TT_DROP; break;
		case KO_RST: push(a, "--rst"); types |= 1u << TT_RST_SENT; break;
		case KO_ERRORS: push(a, "--errors"); types |= 1u << TT_SOCK_ERR; break;
		case KO_RETRANS: push(a, "--retransmits"); types |= 1u << TT_RETRANS; break;
		case KO_ALL: push(a, "--all"); types |= (1u << TT_COUNT) - 1; break;
		case KO_STACK:
			if (!optarg || !strcmp(optarg, "drops"))
				stack = "--stack";
			else if (!strcmp(optarg, "all"))
				stack = "--stack=all";
			else
				usage_error("bad --stack '%s': use --stack (drops) or --stack=all (every event)", optarg);
			break;
		case KO_NFT: nft = true; break;
		case KO_ALLOW_CHANGES: allow_changes = true; break;
		case 'w':
			if (!optarg[0])
				usage_error("-w needs a file name (or - for stdout)");
			a->write_path = optarg;
			break;
		case KO_SNAPLEN:
			if (parse_u64(optarg, 1, TRACE_SNAPLEN_MAX, &v))
				usage_error("bad --snaplen '%s': give a number of bytes from 1 to %d", optarg,
					    TRACE_SNAPLEN_MAX);
			snaplen = optarg;
			a->snaplen = v;
			break;
		case KO_IP:
		case KO_CIDR:
			if (++nnets > TRACE_MAX_NETS)
				usage_error("too many --ip/--cidr filters (at most %d)", TRACE_MAX_NETS);
			if (trace_net_parse(optarg, c == KO_CIDR, &net))
				usage_error(c == KO_IP ? "bad --ip '%s': give an IPv4 or IPv6 address (for a network use --cidr)"
						      : "bad --cidr '%s': give a network like 10.0.0.0/8 or fd00::/8",
					    optarg);
			push(a, c == KO_IP ? "--ip" : "--cidr");
			push(a, optarg);
			break;
		case KO_PORT:
			if (++nports > TRACE_MAX_PORTS)
				usage_error("too many --port filters (at most %d)", TRACE_MAX_PORTS);
			if (parse_u64(optarg, 1, 65535, &v))
				usage_error("bad --port '%s': give a number from 1 to 65535", optarg);
			push(a, "--port");
			push(a, optarg);
			break;
		case 'l':
			/* the server parses it; we only keep out what no selector holds */
			if (!optarg[0] || strlen(optarg) > 256 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=!,() ") !=
				    strlen(optarg))
				usage_error("bad -l '%s': a label selector like agentpool=blue or 'zone in (a,b)'",
					    optarg);
			a->selector = optarg;
			break;
		case 'c': a->count = true; break;
		case KO_INTERVAL:
			if (parse_duration_ms(optarg, &a->interval_ms) || a->interval_ms < 10 || a->interval_ms > 86400000)
				usage_error("bad --interval '%s': a duration from 10ms to 24h, like 1s or 500ms", optarg);
			interval = optarg;
			break;
		case KO_TOP:
			if (parse_u64(optarg, 0, 1000000, &a->top))
				usage_error("bad --top '%s': a number of rows (0: all)", optarg);
			top_given = true;
			break;
		case KO_MAX_NODES:
			if (parse_u64(optarg, 1, 100000, &a->max_nodes))
				usage_error("bad --max-nodes '%s': a number of nodes from 1 to 100000", optarg);
			break;
		case 'o':
			if (!strcmp(optarg, "json"))
				a->render.json = true;
			else if (!strcmp(optarg, "table"))
				a->render.json = false;
			else
				usage_error("bad output format '%s': use table or json", optarg);
			break;
		case 'd':
			if (parse_duration_ms(optarg, &a->duration_ms))
				usage_error("bad --duration '%s': use e.g. 30s, 5m, 1h, or 0 for until Ctrl-C", optarg);
			break;
		case KO_STARTUP:
			if (parse_duration_ms(optarg, &a->startup_ms) || !a->startup_ms || a->startup_ms > 86400000)
				usage_error("bad --startup-timeout '%s': a duration like 30s, 2m or 1m30s", optarg);
			break;
		case KO_REPO: repo = optarg; break;
		case KO_VERSION: version = optarg; break;
		case KO_SHIP: a->ship.on = true; break;
		case KO_BINARIES: a->ship.bin_dir = optarg; break;
		case 'v':
			if (parse_u64(optarg, 0, 9, &v))
				usage_error("bad -v '%s': a level from 0 to 9", optarg);
			a->verbosity = (int)v;
			break;
		case 'h': show_help(kubectl_bpftrace_help);
		}
	}
	if (optind >= argc && !a->selector)
		usage_error("which nodes? give NODE [NODE...], or -l SELECTOR");
	if (optind < argc && a->selector)
		usage_error("give nodes or -l SELECTOR, not both (got '%s' and -l '%s')", argv[optind], a->selector);
	a->names = calloc(argc - optind + 1, sizeof(*a->names));
	if (!a->names)
		die(EXIT_FAIL, "out of memory");
	for (int i = optind; i < argc; i++) {
		const char *n = node_name(argv[i]);
		bool dup = false;
		for (size_t j = 0; j < a->nnodes && !dup; j++)
			dup = !strcmp(a->names[j], n);
		if (!dup)
			a->names[a->nnodes++] = n;
	}
	if (a->nnodes)
		check_count(a, a->nnodes, "given");
	/* the tracer's own checks, here: a bad combination exits 2 before any pod */
	if (!types)
		types = (1u << TT_COUNT) - 1;
	if (stack && !strcmp(stack, "--stack") && !(types & (1u << TT_DROP)))
		usage_error("--stack shows the stacks of DROP events: add --drops, or use --stack=all for every event");
	if (nft && !(types & (1u << TT_DROP)))
		usage_error("--nft names the rule of netfilter drops: use it with --drops (or no event flag)");
	if (nft && !allow_changes)
		usage_error("--nft changes the nodes: each trace pod adds the nftables table inet %s (nftrace on "
			    "every packet of the node's network namespace) while it runs, and needs NET_ADMIN for it; "
			    "allow that with --allow-system-changes", NFT_TRACE_TABLE);
	if (allow_changes && !nft)
		usage_error("--allow-system-changes allows --nft's tracing table: use it with --nft");
	if (a->write_path && !(types & (1u << TT_DROP)))
		usage_error("-w writes dropped packets: use it with --drops (or no event flag)");
	if (snaplen && !a->write_path)
		usage_error("--snaplen sets how much of each packet -w writes: use it with -w FILE");
	if (a->count) {
		const char *other = stack ? "--stack" : nft ? "--nft" : a->write_path ? "-w" : NULL;
		if (other)
			usage_error("%s works on each event, --count only counts them in the kernel: use one or the other",
				    other);
		/* the pods' cadence: their count lines instead of STATS lines (argv[4], argv[5]) */
		snprintf(a->interval, sizeof(a->interval), "%s", interval ? interval : "1s");
		a->argv[4] = "--interval";
		a->argv[5] = a->interval;
		push(a, "--count");
	} else if (interval || top_given) {
		usage_error("--%s sets how --count prints: use it with --count (-c)", interval ? "interval" : "top");
	}
	if (!a->interval_ms)
		a->interval_ms = 1000;
	if (!top_given)
		a->top = 20;
	if (stack)
		push(a, stack);
	if (nft) {
		push(a, "--nft");
		push(a, "--allow-system-changes");
	}
	if (a->write_path) {	/* the packets come in the JSON lines: logs carry text only */
		push(a, "--emit-packets");
		if (snaplen) {
			push(a, "--snaplen");
			push(a, snaplen);
		}
	}
	if (!a->snaplen)
		a->snaplen = 256;	/* the tracer's default */
	a->argv[a->argc] = NULL;
	if (a->ship.bin_dir && !a->ship.on)
		usage_error("--retina-binaries says where --ship-binary finds binaries: use it with --ship-binary");
	if (a->ship.on && (repo || version))
		usage_error("--ship-binary runs in an image the node already has: --retina-shell-image-%s does not "
			    "apply (use one or the other)", repo ? "repo" : "version");
	if (!a->ship.on && debugpod_image(a->image, sizeof(a->image), repo, version, kubectl_image_repo,
					  RETINA_VERSION, err, sizeof(err)))
		usage_error("%s", err);
	a->spec.image = a->image;
	a->spec.command = a->argv;
	/*
	 * what retina trace needs on 5.8+ (docs/trace.md): load BPF, attach
	 * tracepoints; --stack: SYSLOG, or /proc/kallsyms reads as zeros (raw
	 * addresses); --nft: NET_ADMIN to add its nftables table. Only when asked.
	 */
	a->spec.caps = CAPBIT(CAPN_BPF) | CAPBIT(CAPN_PERFMON);
	if (stack)
		a->spec.caps |= CAPBIT(CAPN_SYSLOG);
	if (nft)
		a->spec.caps |= CAPBIT(CAPN_NET_ADMIN);
}

struct progress_ctx {
	const struct bt_args *a;
	const struct bt_node *node;
	size_t running;
};

static void progress(const char *phase, void *arg)
{
	const struct progress_ctx *p = arg;

	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K[%zu/%zu running] pod %s/%s on %s: %s", p->running, p->a->nnodes,
			p->a->spec.ns, p->node->pod, p->node->name, phase);
	else
		fprintf(stderr, "%s: pod %s/%s on %s: %s\n", applet_name, p->a->spec.ns, p->node->pod, p->node->name,
			phase);
}

static void fail_node(struct bt_node *n, const char *why)
{
	n->state = BN_FAILED;
	snprintf(n->why, sizeof(n->why), "%s", why);
	for (char *p = n->why; *p; p++)	/* the server's words never drive the terminal */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	debugpod_progress_end();
	fprintf(stderr, "%s: node %s: %s\n", applet_name, n->name, n->why);
}

/* Why a running pod's log ended: deleted, or its container's end. */
static void explain_end(struct kube_client *k, const struct bt_args *a, struct bt_node *n)
{
	char err[512], why[768];
	cJSON *pod = NULL;
	const char *phase;

	if (kube_get_pod(k, a->spec.ns, n->pod, &pod, err, sizeof(err)))
		snprintf(why, sizeof(why), "the trace pod %s/%s went away (%s)", a->spec.ns, n->pod, err);
	else if (debugpod_check(pod, DEBUGPOD_CONTAINER, false, &phase, err, sizeof(err)) < 0)
		snprintf(why, sizeof(why), "the tracer stopped: %s; its last words are above", err);
	else
		snprintf(why, sizeof(why), "the trace pod's log ended (pod %s/%s %s)", a->spec.ns, n->pod, phase);
	cJSON_Delete(pod);
	fail_node(n, why);
}

/* A log reader: the pod's log into a pipe until it ends or we kill it. */
static int start_reader(struct kube_client *k, const struct bt_args *a, struct bt_node *n, int created_fd)
{
	int fds[2];
	char err[1024];

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive the child that reads us */
		/* Ctrl-C reaches the whole process group: we stop when the child says so */
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		close(created_fd);	/* the supervisor waits for the pipe's end */
		close(fds[0]);
		if (kube_stream_logs(k, a->spec.ns, n->pod, DEBUGPOD_CONTAINER, 1, fds[1], err, sizeof(err))) {
			dprintf(fds[1], "reading the trace pod's log: %s\n", err);
			_exit(EXIT_FAIL);
		}
		_exit(0);
	}
	close(fds[1]);
	n->reader = pid;
	n->fd = fds[0];
	return 0;
}

static void stop_reader(struct bt_node *n)
{
	if (n->reader > 0) {
		kill(n->reader, SIGKILL);
		while (waitpid(n->reader, NULL, 0) < 0 && errno == EINTR)
			;
		n->reader = 0;
	}
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

/*
 * --count: a node's COUNTS line merged (its JSON passed on with "node");
 * it also stands for a STATS line, for the drain on a stop. false: not
 * such a line (the tracer's own words, for bt_handle_line).
 */
static bool count_line(const struct bt_args *a, struct bt_node *n)
{
	int r = count_parse_json(a->counts, n->name, n->line);
	size_t len = strlen(n->line);

	if (r == 0)
		return false;
	if (r < 0) {
		fprintf(stderr, "%s: node %s: an unreadable count line was skipped (%zu bytes)\n", applet_name, n->name,
			len);
		return true;
	}
	n->s.stats_lines++;
	n->s.final_stats = r == 2;
	while (len && (unsigned char)n->line[len - 1] <= ' ')
		len--;
	if (a->render.json && len && n->line[len - 1] == '}')	/* parsed: an object; the node is a DNS label */
		fprintf(a->out, "%.*s,\"node\":\"%s\"}\n", (int)(len - 1), n->line, n->name);
	return true;
}

/* --count, as a table: the interval's merged counts (redrawn on a terminal), or the totals. */
static void count_render(const struct bt_args *a, double secs, bool totals)
{
	char title[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	if (totals)
		snprintf(title, sizeof(title), "totals over %.1fs", secs);
	else
		snprintf(title, sizeof(title), "%02d:%02d:%02d UTC, last %.1fs", tm.tm_hour, tm.tm_min, tm.tm_sec, secs);
	struct count_view v = { .title = title, .secs = secs, .by_delta = !totals, .node_col = a->nnodes > 1,
				.top = a->top };
	if (!totals && isatty(fileno(a->out)))
		fputs("\033[H\033[J", a->out);
	else
		fputc('\n', a->out);
	count_print_table(a->counts, &v, a->out);
	fflush(a->out);
	count_table_tick(a->counts);
}

/* The bytes a reader sent: whole lines to the renderer, a partial one kept. */
static void feed(const struct bt_args *a, struct bt_node *n, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			n->line[n->used] = '\0';
			if (!a->count || !count_line(a, n))
				bt_handle_line(&n->s, &a->render, n->line, a->out, stderr);
			n->used = 0;
		} else if (n->used < LINE_MAX_BYTES - 1) {
			n->line[n->used++] = buf[i];
		}
	}
}

/*
 * Follow every running node until a signal, --duration, or no node left;
 * then wait (bounded) for each node's next STATS line.
 */
static void follow(struct kube_client *k, const struct bt_args *a, struct bt_node *nodes)
{
	struct pollfd *p = calloc(a->nnodes, sizeof(*p));
	size_t *idx = calloc(a->nnodes, sizeof(*idx));
	long long start = mono_ms(), deadline = a->duration_ms ? start + (long long)a->duration_ms : -1;
	long long drain_until = -1, drain_ms = STATS_DRAIN_MS;
	long long next_render = start + (long long)a->interval_ms, last_render = start;
	char buf[16384];

	if (a->count)	/* the next count line: an interval away, and the log's way here */
		drain_ms = (long long)a->interval_ms + STATS_DRAIN_MS - 1000;

	if (!p || !idx) {
		warnx("out of memory");
		goto out;
	}
	for (;;) {
		long long now = mono_ms();
		if (drain_until < 0 && (stop_signal || (deadline >= 0 && now >= deadline))) {
			drain_until = now + drain_ms;
			for (size_t i = 0; i < a->nnodes; i++)
				nodes[i].stats_at_stop = nodes[i].s.stats_lines;
		}
		size_t np = 0;
		bool waiting_stats = false;
		for (size_t i = 0; i < a->nnodes; i++) {
			if (nodes[i].state != BN_RUNNING)
				continue;
			if (drain_until >= 0 && nodes[i].s.stats_lines > nodes[i].stats_at_stop)
				continue;	/* counted to the stop: done */
			waiting_stats = true;
			p[np] = (struct pollfd){ .fd = nodes[i].fd, .events = POLLIN };
			idx[np++] = i;
		}
		if (!np || (drain_until >= 0 && (!waiting_stats || now >= drain_until)))
			break;
		long long until = drain_until >= 0 ? drain_until : deadline;
		int wait_ms = until < 0 ? 1000 : until - now > 1000 ? 1000 : (int)(until - now);
		if (a->count && !a->render.json && drain_until < 0) {
			if (now >= next_render) {
				count_render(a, (now - last_render) / 1e3, false);
				last_render = now;
				while (next_render <= now)
					next_render += (long long)a->interval_ms;
			}
			if (next_render - now < wait_ms)
				wait_ms = (int)(next_render - now);
		}
		int r = poll(p, np, wait_ms);
		if (r <= 0)
			continue;	/* EINTR: stop_signal is looked at above */
		for (size_t j = 0; j < np; j++) {
			if (!p[j].revents)
				continue;
			struct bt_node *n = &nodes[idx[j]];
			ssize_t got = read(n->fd, buf, sizeof(buf));
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0) {
				feed(a, n, buf, got);
				continue;
			}
			if (n->used)
				feed(a, n, "\n", 1);
			stop_reader(n);
			if (drain_until >= 0 && n->s.final_stats)
				n->state = BN_STOPPED;	/* the tracer ended on its own stop, all said */
			else
				explain_end(k, a, n);
		}
		fflush(a->out);
		/* the file is full, or its reader (| tshark -r -) went away: stop as on Ctrl-C */
		if (a->write_path && !stop_signal && pcap_flush((struct pcap_out *)&a->pcap))
			stop_signal = SIGPIPE;
	}
out:
	fflush(a->out);
	free(p);
	free(idx);
}

/* --count's summary of a node: what arrived of its kernel counts. */
static void count_summary(const struct bt_args *a, const struct bt_node *n, double secs)
{
	uint64_t total = 0;
	size_t keys = 0;

	for (size_t i = 0; i < a->counts->n; i++)
		if (!strcmp(a->counts->v[i].node, n->name)) {
			total += a->counts->v[i].total;
			keys++;
		}
	fprintf(stderr, "%s: node %s: %.1fs, %llu events counted in the kernel, %zu keys, %llu count lines%s%s\n",
		applet_name, n->name, secs, (unsigned long long)total, keys, (unsigned long long)n->s.stats_lines,
		n->state == BN_FAILED ? "; FAILED: " : "", n->state == BN_FAILED ? n->why : "");
}

/* The child: everything that talks to the cluster. Returns our exit code. */
static int run_trace(struct bt_args *a, const struct kube_config *cfg, int created_fd)
{
	char err[1024];
	struct kube_client *k = kube_client_new(cfg, a->verbosity, err, sizeof(err));
	struct bt_node *nodes = NULL;
	size_t running = 0, failed = 0;
	unsigned described = 0;
	double secs = 0;
	int code;

	if (!k)
		goto fail;
	if (a->selector) {
		char **found;
		size_t skipped;
		if (debugpod_select_nodes(k, a->selector, &found, &a->nnodes, &skipped, err, sizeof(err)))
			goto fail;
		a->names = (const char **)found;
		if (skipped)
			fprintf(stderr, "%s: -l %s: %zu nodes skipped, not Linux (kubernetes.io/os)\n", applet_name,
				a->selector, skipped);
		if (!a->nnodes) {
			snprintf(err, sizeof(err), "no Linux node matches -l '%s' (see: kubectl get nodes -l '%s' "
				 "--show-labels)", a->selector, a->selector);
			goto fail;
		}
		check_count(a, a->nnodes, "match -l");
	} else {
		for (size_t i = 0; i < a->nnodes; i++)	/* all exist and run Linux, or no pod at all */
			if (debugpod_check_node(k, a->names[i], "retina trace", err, sizeof(err)))
				goto fail;
	}
	nodes = calloc(a->nnodes, sizeof(*nodes));
	if (!nodes) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (a->ship.on && ship_prepare(&a->ship, k, created_fd, a->spec.ns, a->names, a->nnodes, err, sizeof(err)))
		goto fail;
	/* -w: an interface per node, named after it, before any packet */
	for (size_t i = 0; a->write_path && i < a->nnodes; i++) {
		int id = pcap_add_iface(&a->pcap, a->snaplen, a->names[i]);
		if (id < 0) {
			snprintf(err, sizeof(err), "cannot write %s: %s", a->pcap.name, strerror(errno));
			goto fail;
		}
		nodes[i].s.ifid = id;
	}
	for (size_t i = 0; i < a->nnodes; i++) {
		struct bt_node *n = &nodes[i];
		n->name = n->s.node = a->names[i];
		n->fd = -1;
		debugpod_name(n->pod, sizeof(n->pod), "retina-bpftrace-");
		a->spec.name = n->pod;
		a->spec.node = n->name;
		if (a->ship.on && a->ship.nodes[i].why[0]) {	/* no image to run it in */
			fail_node(n, a->ship.nodes[i].why);
			continue;
		}
		if (a->ship.on)
			ship_spec(&a->ship, i, &a->spec);
		if (debugpod_create(k, created_fd, &a->spec, err, sizeof(err)))
			fail_node(n, err);
		else
			n->state = BN_WAITING;
	}
	/* all pods start at once in the cluster; their watches share one deadline */
	long long deadline = mono_ms() + (long long)a->startup_ms;
	for (size_t i = 0; i < a->nnodes; i++) {
		struct bt_node *n = &nodes[i];
		if (n->state != BN_WAITING)
			continue;
		struct progress_ctx pc = { a, n, running };
		struct debugpod_wait w = { .container = DEBUGPOD_CONTAINER, .progress = progress, .arg = &pc };
		long long left = deadline - mono_ms();
		if (debugpod_wait(k, a->spec.ns, n->pod, left > 1 ? (int)left : 1, &w, err, sizeof(err))) {
			bool timeout = !strncmp(err, "timed out", 9);
			if (timeout) {	/* the pods share one deadline: name it, not this watch's rest */
				char why[300];
				const char *seen = strstr(err, "(last seen: ");
				snprintf(why, sizeof(why), "pod %s/%s did not run within --startup-timeout %llus %.*s; a slow "
					 "image pull may need a longer one", a->spec.ns, n->pod,
					 (unsigned long long)(a->startup_ms + 999) / 1000,
					 seen ? (int)(strcspn(seen, ")") + 1) : 0, seen ? seen : "");
				snprintf(err, sizeof(err), "%s", why);
			}
			fail_node(n, err);
			/* the events of the first few say why; the rest are likely the same */
			if ((timeout || strstr(err, "runtime refused")) && ++described <= 3)
				debugpod_print_events(k, a->spec.ns, n->pod);
			continue;
		}
		if (!(n->line = malloc(LINE_MAX_BYTES)) || start_reader(k, a, n, created_fd)) {
			fail_node(n, "cannot start a log reader: out of memory or processes");
			continue;
		}
		n->state = BN_RUNNING;
		running++;
	}
	debugpod_progress_end();
	if (running) {
		catch_stop_signals(0, true);	/* no SA_RESTART: poll() returns EINTR */
		if (!a->render.json && !a->count) {
			for (size_t i = 0; a->nnodes > 1 && i < a->nnodes; i++)
				if ((int)strlen(a->names[i]) > a->render.node_width)
					a->render.node_width = strlen(a->names[i]) > 63 ? 63 : (int)strlen(a->names[i]);
			bt_print_header(&a->render, a->out);
			fflush(a->out);
		}
		long long t0 = mono_ms();
		follow(k, a, nodes);
		secs = (mono_ms() - t0) / 1000.0;
		if (a->count && !a->render.json)
			count_render(a, secs, true);
		for (size_t i = 0; i < a->nnodes; i++) {
			stop_reader(&nodes[i]);
			if (nodes[i].state == BN_RUNNING)
				nodes[i].state = BN_STOPPED;
		}
	}
	for (size_t i = 0; i < a->nnodes; i++) {
		if (nodes[i].line && a->count)
			count_summary(a, &nodes[i], secs);
		else if (nodes[i].line)
			bt_print_summary(&nodes[i].s, applet_name, secs,
					 nodes[i].state == BN_FAILED ? nodes[i].why : NULL, stderr);
		else
			fprintf(stderr, "%s: node %s: not traced: %s\n", applet_name, nodes[i].name, nodes[i].why);
	}
	for (size_t i = 0; i < a->nnodes; i++)
		failed += nodes[i].state == BN_FAILED;
	if (failed)
		fprintf(stderr, "%s: %zu of %zu nodes failed%s\n", applet_name, failed, a->nnodes,
			failed == a->nnodes ? "" : "; the others traced to the end");
	if (a->write_path) {
		uint64_t packets = 0, bad = 0;
		size_t from = 0;
		for (size_t i = 0; i < a->nnodes; i++) {
			packets += nodes[i].s.packets;
			bad += nodes[i].s.bad_packets;
			from += nodes[i].s.packets > 0;
		}
		pcap_close(&a->pcap);
		fprintf(stderr, "%s: %llu packets from %zu of %zu nodes written to %s\n", applet_name,
			(unsigned long long)packets, from, a->nnodes, a->pcap.name);
		if (bad)
			fprintf(stderr, "%s: %llu packets unreadable in the trace pods' lines, not written\n",
				applet_name, (unsigned long long)bad);
	}
	code = failed ? EXIT_FAIL : EXIT_OK;
	for (size_t i = 0; i < a->nnodes; i++)
		free(nodes[i].line);
	free(nodes);
	kube_client_free(k);
	return code;
fail:
	debugpod_progress_end();
	warnx("%s", err);
	kube_client_free(k);
	return EXIT_FAIL;
}

struct bt_run {
	struct bt_args *a;
	const struct kube_config *cfg;
};

static void on_packet(void *ctx, struct bt_stream *s, const struct bt_packet *p)
{
	pcap_write_raw(ctx, s->ifid, p->ts_ns, p->data, p->caplen, p->origlen, p->comment);
}

static int bt_child(void *arg, int created_fd)
{
	struct bt_run *r = arg;

	return run_trace(r->a, r->cfg, created_fd);
}

int kubectl_bpftrace_main(int argc, char **argv)
{
	struct bt_args a = { 0 };
	struct count_table counts = { 0 };
	struct kube_config cfg = { 0 };
	char err[1024];

	parse_args(argc, argv, &a);
	a.counts = &counts;
	if (kube_config_load(&a.load, &cfg, err, sizeof(err)))
		die(EXIT_FAIL, "%s", err);
	a.spec.ns = cfg.namespace;
	a.out = stdout;
	if (a.write_path) {
		/* before any request: a file we cannot write stops us first */
		if (pcap_create(&a.pcap, a.write_path, "kubectl retina bpftrace"))
			die(EXIT_FAIL, "cannot write %s: %s", a.write_path, strerror(errno));
		if (!strcmp(a.write_path, "-"))
			a.out = stderr;
		a.render.packet = on_packet;
		a.render.packet_ctx = &a.pcap;
		signal(SIGPIPE, SIG_IGN);	/* a reader gone is EPIPE on a write: we stop and clean up */
	}

	/* a signal while tracing is the normal way to stop: the child's code stands */
	struct bt_run r = { &a, &cfg };
	struct debugpod_super sup = { .cfg = &cfg, .verbosity = a.verbosity, .child = bt_child, .arg = &r };
	int code = debugpod_supervise(&sup);
	kube_config_free(&cfg);
	count_table_free(&counts);
	ship_free(&a.ship);
	free(a.names);
	return code;
}
