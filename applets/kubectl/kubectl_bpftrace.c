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
#include "applets/kubectl/kubectl_names.h"
#include "applets/kubectl/kubectl_pods.h"
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

/* The command line (kubectl_bpftrace_rules.c), and the image it names. */
static void parse_args(int argc, char **argv, struct bt_args *a)
{
	char err[300];

	a->default_version = RETINA_VERSION;
	bt_parse_args(argc, argv, a);
	ship_check_flags(&a->ship, a->repo, a->version);
	if (!a->ship.on && debugpod_image(a->image, sizeof(a->image), a->repo, a->version, kubectl_image_repo,
					  RETINA_VERSION, err, sizeof(err)))
		usage_error("%s", err);
	a->spec.image = a->image;
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
				.top = a->t.top };
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
			if (!a->t.f.count || !count_line(a, n)) {
				bt_namer_lock(a->namer);
				bt_handle_line(&n->s, &a->render, n->line, a->out, stderr);
				bt_namer_unlock(a->namer);
			}
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
	long long start = mono_ms(), deadline = a->t.duration_ms ? start + (long long)a->t.duration_ms : -1;
	long long drain_until = -1, drain_ms = STATS_DRAIN_MS;
	long long next_render = start + (long long)a->t.f.interval_ms, last_render = start;
	char buf[16384];

	if (a->t.f.count)	/* the next count line: an interval away, and the log's way here */
		drain_ms = (long long)a->t.f.interval_ms + STATS_DRAIN_MS - 1000;

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
		if (a->t.f.count && !a->render.json && drain_until < 0) {
			if (now >= next_render) {
				count_render(a, (now - last_render) / 1e3, false);
				last_render = now;
				while (next_render <= now)
					next_render += (long long)a->t.f.interval_ms;
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
		if (a->t.write_path && !stop_signal && pcap_flush((struct pcap_out *)&a->pcap))
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

/* pods/NAME, --pod-selector: their nodes, and the tracer filtered to their addresses. */
static int find_pods(struct kube_client *k, struct bt_args *a, const char *ns, char *err, size_t len)
{
	size_t room = (BT_MAX_TRACE_ARGS - 1 - a->argc) / 2;

	if (bt_pods_resolve(k, ns, a->pods, a->npods, a->pod_selector, room < TRACE_MAX_NETS ? room : TRACE_MAX_NETS,
			    &a->found, err, len))
		return -1;
	for (size_t i = 0; i < a->found.naddrs; i++) {
		a->argv[a->argc++] = "--ip";
		a->argv[a->argc++] = a->found.addrs[i];
	}
	a->argv[a->argc] = NULL;
	free(a->names);
	a->names = (const char **)a->found.nodes;
	a->nnodes = a->found.nnodes;
	bt_check_nodes(a, a->nnodes, "run the pods");
	return 0;
}

/* The nodes to trace: the pods', -l's matches, or the ones given, each checked (exists, runs Linux). */
static int find_nodes(struct kube_client *k, struct bt_args *a, const char *ns, char *err, size_t len)
{
	if ((a->npods || a->pod_selector) && find_pods(k, a, ns, err, len))
		return -1;
	if (!a->selector) {
		for (size_t i = 0; i < a->nnodes; i++)	/* all exist and run Linux, or no pod at all */
			if (debugpod_check_node(k, a->names[i], "retina trace", err, len))
				return -1;
		return 0;
	}
	char **found;
	size_t skipped;
	if (debugpod_select_nodes(k, a->selector, &found, &a->nnodes, &skipped, err, len))
		return -1;
	a->names = (const char **)found;
	if (skipped)
		fprintf(stderr, "%s: -l %s: %zu nodes skipped, not Linux (kubernetes.io/os)\n", applet_name,
			a->selector, skipped);
	if (!a->nnodes) {
		snprintf(err, len, "no Linux node matches -l '%s' (see: kubectl get nodes -l '%s' --show-labels)",
			 a->selector, a->selector);
		return -1;
	}
	bt_check_nodes(a, a->nnodes, "match -l");
	return 0;
}

/* A pod per node (-w: first an interface per node, named after it, before any packet). */
static int create_pods(struct kube_client *k, struct bt_args *a, struct bt_node *nodes, int created_fd, char *err,
		       size_t len)
{
	if (a->ship.on && ship_prepare(&a->ship, k, created_fd, a->spec.ns, a->names, a->nnodes, err, len))
		return -1;
	for (size_t i = 0; a->t.write_path && i < a->nnodes; i++) {
		int id = pcap_add_iface(&a->pcap, a->t.f.snaplen, a->names[i]);
		if (id < 0) {
			snprintf(err, len, "cannot write %s: %s", a->pcap.name, strerror(errno));
			return -1;
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
		if (debugpod_create(k, created_fd, &a->spec, err, len))
			fail_node(n, err);
		else
			n->state = BN_WAITING;
	}
	return 0;
}

/* A pod that did not start: why, and (for the first few) its events. */
static void pod_failed(struct kube_client *k, const struct bt_args *a, struct bt_node *n, char *err, size_t len,
		       unsigned *described)
{
	bool timeout = !strncmp(err, "timed out", 9);

	if (timeout) {	/* the pods share one deadline: name it, not this watch's rest */
		char why[300];
		const char *seen = strstr(err, "(last seen: ");
		snprintf(why, sizeof(why), "pod %s/%s did not run within --startup-timeout %llus %.*s; a slow "
			 "image pull may need a longer one", a->spec.ns, n->pod,
			 (unsigned long long)(a->startup_ms + 999) / 1000,
			 seen ? (int)(strcspn(seen, ")") + 1) : 0, seen ? seen : "");
		snprintf(err, len, "%s", why);
	}
	fail_node(n, err);
	/* the events of the first few say why; the rest are likely the same */
	if ((timeout || strstr(err, "runtime refused")) && ++*described <= 3)
		debugpod_print_events(k, a->spec.ns, n->pod);
}

/* Wait for the pods (one deadline for all: they start at once), a log reader for each running one. */
static size_t wait_pods(struct kube_client *k, const struct bt_args *a, struct bt_node *nodes, int created_fd)
{
	long long deadline = mono_ms() + (long long)a->startup_ms;
	size_t running = 0;
	unsigned described = 0;
	char err[1024];

	for (size_t i = 0; i < a->nnodes; i++) {
		struct bt_node *n = &nodes[i];
		if (n->state != BN_WAITING)
			continue;
		struct progress_ctx pc = { a, n, running };
		struct debugpod_wait w = { .container = DEBUGPOD_CONTAINER, .progress = progress, .arg = &pc };
		long long left = deadline - mono_ms();
		if (debugpod_wait(k, a->spec.ns, n->pod, left > 1 ? (int)left : 1, &w, err, sizeof(err))) {
			pod_failed(k, a, n, err, sizeof(err), &described);
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
	return running;
}

/* Trace the running nodes until a stop; how long it took. */
static double trace_nodes(struct kube_client *k, struct bt_args *a, struct bt_node *nodes)
{
	catch_stop_signals(0, true);	/* no SA_RESTART: poll() returns EINTR */
	if (!a->render.json && !a->t.f.count) {
		for (size_t i = 0; a->nnodes > 1 && i < a->nnodes; i++)
			if ((int)strlen(a->names[i]) > a->render.node_width)
				a->render.node_width = strlen(a->names[i]) > 63 ? 63 : (int)strlen(a->names[i]);
		bt_print_header(&a->render, a->out);
		fflush(a->out);
	}
	long long t0 = mono_ms();
	follow(k, a, nodes);
	double secs = (mono_ms() - t0) / 1000.0;
	if (a->t.f.count && !a->render.json)
		count_render(a, secs, true);
	for (size_t i = 0; i < a->nnodes; i++) {
		stop_reader(&nodes[i]);
		if (nodes[i].state == BN_RUNNING)
			nodes[i].state = BN_STOPPED;
	}
	return secs;
}

/* Each node's summary, the failures, -w's file; the number of failed nodes. */
static size_t report_nodes(struct bt_args *a, const struct bt_node *nodes, double secs)
{
	size_t failed = 0;

	for (size_t i = 0; i < a->nnodes; i++) {
		if (nodes[i].line && a->t.f.count)
			count_summary(a, &nodes[i], secs);
		else if (nodes[i].line)
			bt_print_summary(&nodes[i].s, applet_name, secs,
					 nodes[i].state == BN_FAILED ? nodes[i].why : NULL, stderr);
		else
			fprintf(stderr, "%s: node %s: not traced: %s\n", applet_name, nodes[i].name, nodes[i].why);
		failed += nodes[i].state == BN_FAILED;
	}
	if (failed)
		fprintf(stderr, "%s: %zu of %zu nodes failed%s\n", applet_name, failed, a->nnodes,
			failed == a->nnodes ? "" : "; the others traced to the end");
	if (a->t.write_path) {
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
	return failed;
}

/* The child: everything that talks to the cluster. Returns our exit code. */
static int run_trace(struct bt_args *a, const struct kube_config *cfg, int created_fd)
{
	char err[1024];
	struct kube_client *k = kube_client_new(cfg, a->verbosity, err, sizeof(err));
	struct bt_node *nodes = NULL;
	double secs = 0;

	if (!k || find_nodes(k, a, cfg->namespace, err, sizeof(err)))
		goto fail;
	if (!a->t.f.count) {	/* names known before the first event: the watches start with the pods */
		a->namer = bt_namer_start(cfg, a->verbosity, cfg->namespace);
		a->render.names = bt_namer_map(a->namer);
	}
	nodes = calloc(a->nnodes, sizeof(*nodes));
	if (!nodes) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (create_pods(k, a, nodes, created_fd, err, sizeof(err)))
		goto fail;
	if (wait_pods(k, a, nodes, created_fd))
		secs = trace_nodes(k, a, nodes);
	int code = report_nodes(a, nodes, secs) ? EXIT_FAIL : EXIT_OK;
	for (size_t i = 0; i < a->nnodes; i++)
		free(nodes[i].line);
	free(nodes);
	kube_client_free(k);
	return code;
fail:
	debugpod_progress_end();
	warnx("%s", err);
	free(nodes);
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
	if (a.t.write_path) {
		/* before any request: a file we cannot write stops us first */
		if (pcap_create(&a.pcap, a.t.write_path, "kubectl retina bpftrace"))
			die(EXIT_FAIL, "cannot write %s: %s", a.t.write_path, strerror(errno));
		if (!strcmp(a.t.write_path, "-"))
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
	free(a.names);	/* (the child's pods/NAME and -l nodes died with it) */
	free(a.pods);
	return code;
}
