/*
 * kubectl retina bpftrace: retina trace on one node, from the workstation.
 * A trace pod (kube/debugpod) runs `retina trace -o json` with the filters
 * as an argument vector; we follow its log and render each JSON line here.
 * Like shell, the work runs in a child and the parent deletes the pod
 * whatever ends the child. The child's log reader is a process of its own
 * (the HTTP client retries EINTR), so a signal or --duration stops us at once.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "applets/kubectl_retina.h"
#include "kube/client.h"
#include "kube/debugpod.h"
#include "kube/kubeconfig.h"
#include "lib/caps.h"
#include "lib/retina.h"
#include "applets/trace.h"
#include "version.h"

const char kubectl_bpftrace_help[] =
	"usage: kubectl retina bpftrace [OPTIONS] NODE\n"
	"\n"
	"Trace packet drops, RSTs, socket errors and retransmits on a node: a pod runs\n"
	"`retina trace -o json` there (capabilities BPF and PERFMON only) and its events\n"
	"are shown here. The pod is deleted on Ctrl-C, SIGTERM, --duration and errors;\n"
	"a summary goes to stderr.\n"
	"\n"
	"Options:\n"
	"      --drops, --rst, --errors, --retransmits, --all   event types (default: all)\n"
	"      --ip ADDR                     only packets from or to ADDR (repeatable; IPv4/IPv6)\n"
	"      --cidr NET                    only packets from or to NET (repeatable)\n"
	"      --port N                      only packets with source or destination port N (repeatable)\n"
	"  -o, --output table|json           table (default), or JSON lines with a \"node\" field\n"
	"  -d, --duration D                  stop after D (30s, 5m; 0: until Ctrl-C, the default)\n"
	"      --startup-timeout D           how long to wait for the trace pod to start (30s)\n"
	"      --retina-shell-image-repo R   image repository (env RETINA_SHELL_IMAGE_REPO;\n"
	"                                    default " DEBUGPOD_IMAGE_REPO ")\n"
	"      --retina-shell-image-version V  image tag (env RETINA_SHELL_IMAGE_VERSION;\n"
	"                                    default this binary's version, " RETINA_VERSION ")\n"
	"      --kubeconfig FILE             kubeconfig file (else KUBECONFIG, ~/.kube/config)\n"
	"      --context NAME                kubeconfig context\n"
	"  -n, --namespace NS                where the trace pod runs\n"
	"  -v, --verbose N                   log API requests (1: method, URL, status, latency)\n"
	"\n"
	"Examples:\n"
	"  kubectl retina bpftrace node-1\n"
	"  kubectl retina bpftrace node-1 --drops --ip 10.0.0.4 --duration 60s\n"
	"  kubectl retina bpftrace node-1 --rst --port 443 -o json | jq .\n";

#define MAX_TRACE_ARGS 96

struct bt_args {
	const char *node;
	const char *argv[MAX_TRACE_ARGS];	/* retina trace -o json ... */
	int argc;
	bool json;
	uint64_t duration_ms, startup_ms;
	struct debugpod_spec spec;
	struct kube_load_opts load;
	int verbosity;
	char image[512];
	char name[64];
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static bool image_part_ok(const char *s)
{
	return s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:/@") == strlen(s);
}

static void push(struct bt_args *a, const char *s)
{
	if (a->argc >= MAX_TRACE_ARGS - 1)
		usage_error("too many filters (at most %d arguments)", MAX_TRACE_ARGS - 8);
	a->argv[a->argc++] = s;
}

/* Everything checked here, before the cluster is touched: bad input exits 2. */
static void parse_args(int argc, char **argv, struct bt_args *a)
{
	const struct kubectl_cmd *cmd = kubectl_cmd_find("bpftrace");
	const char *repo = NULL, *version = NULL;
	unsigned nnets = 0, nports = 0;
	struct trace_net net;
	uint64_t v;
	int c;

	a->startup_ms = 30000;
	push(a, "retina");
	push(a, "trace");
	push(a, "-o");
	push(a, "json");
	optind = 1;
	while ((c = next_opt(argc, argv, cmd->shortopts, cmd->longopts)) != -1) {
		switch (c) {
		case KO_DROPS: push(a, "--drops"); break;
		case KO_RST: push(a, "--rst"); break;
		case KO_ERRORS: push(a, "--errors"); break;
		case KO_RETRANS: push(a, "--retransmits"); break;
		case KO_ALL: push(a, "--all"); break;
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
		case 'o':
			if (!strcmp(optarg, "json"))
				a->json = true;
			else if (!strcmp(optarg, "table"))
				a->json = false;
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
		case KO_KUBECONFIG: a->load.kubeconfig = optarg; break;
		case KO_CONTEXT: a->load.context = optarg; break;
		case 'n': a->load.namespace = optarg; break;
		case 'v':
			if (parse_u64(optarg, 0, 9, &v))
				usage_error("bad -v '%s': a level from 0 to 9", optarg);
			a->verbosity = (int)v;
			break;
		case 'h': show_help(kubectl_bpftrace_help);
		}
	}
	if (optind >= argc)
		usage_error("which node? give NODE (several nodes and -l come later)");
	if (optind + 1 < argc)
		usage_error("one node only in this version, got '%s' and '%s'", argv[optind], argv[optind + 1]);
	a->node = argv[optind];
	if (!strncmp(a->node, "node/", 5))
		a->node += 5;
	else if (!strncmp(a->node, "nodes/", 6))
		a->node += 6;
	if (!a->node[0] || strspn(a->node, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(a->node) ||
	    strlen(a->node) > 253)
		usage_error("'%s' is not a valid node name (lowercase letters, digits, '-' and '.')", a->node);
	a->argv[a->argc] = NULL;
	if (!repo || !repo[0])
		repo = getenv("RETINA_SHELL_IMAGE_REPO");
	if (!repo || !repo[0])
		repo = DEBUGPOD_IMAGE_REPO;
	if (!version || !version[0])
		version = getenv("RETINA_SHELL_IMAGE_VERSION");
	if (!version || !version[0])
		version = RETINA_VERSION;
	if (!image_part_ok(repo))
		usage_error("bad image repository '%s'", repo);
	if (!image_part_ok(version))
		usage_error("bad image version '%s'", version);
	snprintf(a->image, sizeof(a->image), "%s%s%s", repo, strchr(version, ':') ? "@" : ":", version);
	a->spec.image = a->image;
	a->spec.command = a->argv;
	/* what retina trace needs on 5.8+ (docs/trace.md): load BPF, attach tracepoints */
	a->spec.caps = CAPBIT(CAPN_BPF) | CAPBIT(CAPN_PERFMON);
}

static void progress(const char *phase, void *arg)
{
	const struct bt_args *a = arg;

	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[Kpod %s/%s: %s", a->spec.ns, a->spec.name, phase);
	else
		fprintf(stderr, "%s: pod %s/%s: %s\n", applet_name, a->spec.ns, a->spec.name, phase);
}

/* Counts for the summary, by the event's type and reason as the pod named them. */
struct bt_summary {
	uint64_t events, other;
	struct {
		char type[16], reason[48];
		uint64_t n;
	} v[128];
	size_t n;
};

static void summary_add(struct bt_summary *s, const char *type, const char *reason)
{
	s->events++;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].type, type) && !strcmp(s->v[i].reason, reason)) {
			s->v[i].n++;
			return;
		}
	if (s->n == sizeof(s->v) / sizeof(s->v[0])) {
		s->other++;
		return;
	}
	snprintf(s->v[s->n].type, sizeof(s->v[0].type), "%s", type);
	snprintf(s->v[s->n].reason, sizeof(s->v[0].reason), "%s", reason);
	s->v[s->n++].n = 1;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "-";
}

static void endpoint(const cJSON *o, const char *ipkey, const char *portkey, char *buf, size_t len)
{
	const cJSON *ip = cJSON_GetObjectItemCaseSensitive(o, ipkey);
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(o, portkey);

	if (!cJSON_IsString(ip)) {
		snprintf(buf, len, "-");
		return;
	}
	bool v6 = strchr(ip->valuestring, ':');
	if (cJSON_IsNumber(port) && port->valueint > 0)
		snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", ip->valuestring, v6 ? "]" : "", port->valueint);
	else
		snprintf(buf, len, "%s", ip->valuestring);
}

/* One line of the pod's log: an event (rendered) or the tracer's own message (to stderr). */
static void handle_line(const struct bt_args *a, struct bt_summary *s, const char *line)
{
	cJSON *o = line[0] == '{' ? cJSON_Parse(line) : NULL;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");

	if (!cJSON_IsString(type)) {
		cJSON_Delete(o);
		if (line[0])
			fprintf(stderr, "%s: %s\n", a->node, line);
		return;
	}
	summary_add(s, type->valuestring, jstr(o, "reason"));
	if (a->json) {
		cJSON_AddStringToObject(o, "node", a->node);
		char *out = cJSON_PrintUnformatted(o);
		if (out)
			printf("%s\n", out);
		free(out);
	} else {
		const char *ts = jstr(o, "ts");
		char tbuf[16], src[64], dst[64];
		/* "2026-11-22T01:30:04.123456789Z" -> "01:30:04.123" */
		snprintf(tbuf, sizeof(tbuf), "%.12s", strlen(ts) >= 23 ? ts + 11 : ts);
		endpoint(o, "src_ip", "src_port", src, sizeof(src));
		endpoint(o, "dst_ip", "dst_port", dst, sizeof(dst));
		printf("%-12s  %-10s  %-24s  %-18s  %s -> %s\n", tbuf, type->valuestring, jstr(o, "reason"),
		       jstr(o, "probe"), src, dst);
	}
	fflush(stdout);
	cJSON_Delete(o);
}

static void print_summary(const struct bt_args *a, const struct bt_summary *s, double secs)
{
	fprintf(stderr, "%s: node %s: %.1fs, %llu events\n", applet_name, a->node, secs,
		(unsigned long long)s->events);
	for (size_t i = 0; i < s->n; i++)
		fprintf(stderr, "  %-10s %-28s %llu\n", s->v[i].type, s->v[i].reason, (unsigned long long)s->v[i].n);
	if (s->other)
		fprintf(stderr, "  (%llu events of further reasons not itemized)\n", (unsigned long long)s->other);
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Follow the pod's log through a reader process; render until it ends, a signal, or --duration. */
static int follow(struct kube_client *k, struct bt_args *a)
{
	char err[1024], buf[8192], line[65536];
	size_t used = 0;
	int fds[2], code = 0;
	struct bt_summary *s = calloc(1, sizeof(*s));
	long long start = mono_ms(), deadline = a->duration_ms ? start + (long long)a->duration_ms : -1;

	if (!s || pipe(fds)) {
		warnx("out of memory or file descriptors");
		free(s);
		return EXIT_FAIL;
	}
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART: poll() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fflush(NULL);
	pid_t reader = fork();
	if (reader < 0) {
		warnx("fork: %s", strerror(errno));
		free(s);
		return EXIT_FAIL;
	}
	if (reader == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(fds[0]);
		if (kube_stream_logs(k, a->spec.ns, a->spec.name, DEBUGPOD_CONTAINER, 1, fds[1], err, sizeof(err))) {
			fprintf(stderr, "%s: reading the trace pod's log: %s\n", applet_name, err);
			_exit(EXIT_FAIL);
		}
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		if (got_signal)
			break;
		int wait_ms = -1;
		if (deadline >= 0) {
			long long left = deadline - mono_ms();
			if (left <= 0)
				break;
			wait_ms = left > 1000000 ? 1000000 : (int)left;
		}
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		int r = poll(&p, 1, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (got_signal)	/* Ctrl-C reached the reader too: our stop, not the pod's end */
				break;
			if (used) {
				line[used] = '\0';
				handle_line(a, s, line);
			}
			warnx("the trace pod %s/%s on node %s ended; see its log above", a->spec.ns, a->spec.name,
			      a->node);
			code = EXIT_FAIL;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				line[used] = '\0';
				handle_line(a, s, line);
				used = 0;
			} else if (used < sizeof(line) - 1) {
				line[used++] = buf[i];
			}
		}
	}
	kill(reader, SIGTERM);
	while (waitpid(reader, NULL, 0) < 0 && errno == EINTR)
		;
	close(fds[0]);
	print_summary(a, s, (mono_ms() - start) / 1000.0);
	free(s);
	return code;
}

/* The child: everything that talks to the cluster. Returns our exit code. */
static int run_trace(struct bt_args *a, const struct kube_config *cfg, int created_fd)
{
	char err[1024];
	struct kube_client *k = kube_client_new(cfg, a->verbosity, err, sizeof(err));

	if (!k)
		goto fail;
	if (debugpod_check_node(k, a->node, "retina trace", err, sizeof(err)))
		goto fail;
	cJSON *p = debugpod_node_pod(&a->spec), *out = NULL;
	if (write(created_fd, "c", 1) != 1) {	/* from here on the parent deletes the pod */
		cJSON_Delete(p);
		snprintf(err, sizeof(err), "internal: cannot tell the parent: %s", strerror(errno));
		goto fail;
	}
	int rc = kube_create_pod(k, a->spec.ns, p, &out, err, sizeof(err));
	ssize_t told = write(created_fd, "C", 1);
	(void)told;
	cJSON_Delete(p);
	cJSON_Delete(out);
	if (rc)
		goto fail;
	struct debugpod_wait w = { .container = DEBUGPOD_CONTAINER, .progress = progress, .arg = a };
	if (debugpod_wait(k, a->spec.ns, a->spec.name, (int)a->startup_ms, &w, err, sizeof(err))) {
		debugpod_progress_end();
		if (strstr(err, "--timeout"))
			fprintf(stderr, "%s: (for bpftrace the flag is --startup-timeout)\n", applet_name);
		warnx("%s", err);
		if (strstr(err, "timed out") || strstr(err, "runtime refused"))
			debugpod_print_events(k, a->spec.ns, a->spec.name);
		return EXIT_FAIL;
	}
	debugpod_progress_end();
	if (!a->json) {
		printf("%-12s  %-10s  %-24s  %-18s  %s\n", "TIME", "TYPE", "REASON", "PROBE", "SRC -> DST");
		fflush(stdout);
	}
	return follow(k, a);
fail:
	debugpod_progress_end();
	warnx("%s", err);
	return EXIT_FAIL;
}

int kubectl_bpftrace_main(int argc, char **argv)
{
	struct bt_args a = { 0 };
	struct kube_config cfg = { 0 };
	char err[1024], buf[2];
	int status, pipefd[2];

	parse_args(argc, argv, &a);
	if (kube_config_load(&a.load, &cfg, err, sizeof(err)))
		die(EXIT_FAIL, "%s", err);
	a.spec.ns = cfg.namespace;
	debugpod_name(a.name, sizeof(a.name), "retina-bpftrace-");
	a.spec.name = a.name;
	a.spec.node = a.node;

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (pipe(pipefd))
		die(EXIT_FAIL, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die(EXIT_FAIL, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* until the log is followed, a signal simply ends the child */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(pipefd[0]);
		int code = run_trace(&a, &cfg, pipefd[1]);
		fflush(NULL);
		_exit(code);
	}
	close(pipefd[1]);
	bool forwarded = false;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die(EXIT_FAIL, "waitpid: %s", strerror(errno));
		if (got_signal && !forwarded) {
			kill(pid, SIGTERM);	/* stops the child: summary, then exit */
			forwarded = true;
		}
	}
	/* a signal while tracing is the normal way to stop: the child's code stands */
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	ssize_t got = read(pipefd[0], buf, sizeof(buf));
	if (got > 0) {
		struct kube_client *k = kube_client_new(&cfg, a.verbosity, err, sizeof(err));
		int rc = k ? kube_delete_pod(k, a.spec.ns, a.name, err, sizeof(err)) : -1;
		if (!rc && got == 1) {
			sleep(1);	/* the create was in flight: it may land after this delete */
			rc = kube_delete_pod(k, a.spec.ns, a.name, err, sizeof(err));
		}
		if (rc)
			warnx("could not delete pod %s/%s: %s; delete it with: kubectl delete pod -n %s %s",
			      a.spec.ns, a.name, err, a.spec.ns, a.name);
		else
			fprintf(stderr, "%s: pod %s/%s deleted\n", applet_name, a.spec.ns, a.name);
		kube_client_free(k);
	}
	kube_config_free(&cfg);
	return code;
}
