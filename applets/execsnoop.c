/*
 * execsnoop: print every execve/execveat on this node as it happens (comm,
 * PID, parent, return value, arguments), filtered in the kernel by cgroup
 * (--cgroup, --pod), mount namespace and comm. bpf/execsnoop.bpf.c does the
 * tracing on raw tracepoints: no kprobes and no tracefs needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include <linux/types.h>

#include "bpf/execsnoop.h"
#include "bpf/execsnoop.skel.h"
#include "lib/retina.h"
#include "lib/libbpf_log.h"
#include "lib/sys.h"
#include "node/pods.h"


const char execsnoop_help[] =
	"usage: retina execsnoop [-o table|json] [--pod UID] [--cgroup PATH] [--mntns INODE]\n"
	"                        [--comm NAME] [--duration D] [-v]\n"
	"\n"
	"Print every execve/execveat as it returns: the new program's name, PID, parent\n"
	"PID, return value (0, or -errno: the exec failed) and the first 20 arguments.\n"
	"Filters run in the kernel; all of them must match.\n"
	"\n"
	"  -o, --output FMT     table (default: PCOMM PID PPID RET ARGS) or json (one object a line)\n"
	"      --pod UID        only the pod with this UID (its cgroup v2 directory, found from\n"
	"                       /proc/*/cgroup; on a cgroup v1 node, its processes' mount namespaces)\n"
	"      --cgroup PATH    only this cgroup v2 directory and the cgroups below it: a path on\n"
	"                       the cgroup2 mount, or relative to it (/kubepods.slice/...)\n"
	"      --mntns INODE    only this mount namespace (stat -Lc %i /proc/PID/ns/mnt)\n"
	"      --comm NAME      only execs whose new program's name (comm) is NAME\n"
	"  -d, --duration D     stop after D (30s, 2m; default: until Ctrl-C)\n"
	"  -v, --verbose        libbpf's messages\n"
	"\n"
	"Needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): kubectl retina shell\n"
	"--capabilities BPF,PERFMON NODE; --pod needs --host-pid too.\n"
	"\n"
	"Examples:\n"
	"  retina execsnoop\n"
	"  retina execsnoop --pod 3f1c2a4e-8d2b-4f7a-9c1d-2b3e4f5a6b7c -o json\n"
	"  retina execsnoop --cgroup /kubepods.slice --comm curl --duration 1m\n";

#define CG_PODS 64	/* cgroup -> pod UID, so a process gone already is still named */

struct ctx {
	bool json;
	unsigned long long events;
	struct pod_names *pods;	/* "pod": namespace/name beside cgroup_id */
	struct {
		uint64_t cg;
		char uid[POD_UID_MAX];
	} cg_pod[CG_PODS];
	unsigned ncg;
};

/* namespace/name of the event's pod: its cgroup's, learnt from a process in it while it lived */
static const char *pod_name(struct ctx *c, const struct exec_event *e)
{
	struct cgroup_ref ref;

	for (unsigned i = 0; i < c->ncg && i < CG_PODS; i++)
		if (c->cg_pod[i].cg == e->cgroup_id)
			return c->cg_pod[i].uid[0] ? pod_names_uid(c->pods, c->cg_pod[i].uid) : NULL;
	if (pod_ref_of_pid((int)e->pid, &ref))
		return NULL;	/* gone, or not in a pod: ask again next time */
	unsigned i = c->ncg++ % CG_PODS;
	c->cg_pod[i].cg = e->cgroup_id;
	snprintf(c->cg_pod[i].uid, sizeof(c->cg_pod[i].uid), "%s", ref.pod_uid);
	return pod_names_uid(c->pods, ref.pod_uid);
}

static void print_event(struct ctx *c, const struct exec_event *e)
{
	char args[EXECSNOOP_ARGS_SIZE + 8];
	size_t used = 0, size = e->args_size < EXECSNOOP_ARGS_SIZE ? e->args_size : EXECSNOOP_ARGS_SIZE;

	if (c->json) {
		cJSON *o = cJSON_CreateObject(), *a;
		char comm[17];

		snprintf(comm, sizeof(comm), "%.16s", e->comm);
		cJSON_AddNumberToObject(o, "ts_ns", (double)e->ts_ns);
		cJSON_AddStringToObject(o, "comm", comm);
		cJSON_AddNumberToObject(o, "pid", e->pid);
		cJSON_AddNumberToObject(o, "ppid", e->ppid);
		cJSON_AddNumberToObject(o, "uid", e->uid);
		cJSON_AddNumberToObject(o, "ret", e->ret);
		if (e->ret < 0) {
			char ebuf[16];
			cJSON_AddStringToObject(o, "error", errno_name(-e->ret, ebuf));
		}
		a = cJSON_AddArrayToObject(o, "args");
		for (size_t off = 0, i = 0; off < size && i < e->args_count; i++) {
			char one[EXECSNOOP_ARG_MAX + 1];
			size_t n = strnlen(e->args + off, size - off);
			snprintf(one, sizeof(one), "%.*s", (int)n, e->args + off);
			cJSON_AddItemToArray(a, cJSON_CreateString(one));
			off += n + 1;
		}
		cJSON_AddBoolToObject(o, "args_truncated", e->args_truncated);
		cJSON_AddNumberToObject(o, "cgroup_id", (double)e->cgroup_id);
		const char *pod = pod_name(c, e);
		if (pod)
			cJSON_AddStringToObject(o, "pod", pod);
		cJSON_AddNumberToObject(o, "mntns", e->mntns);
		char *s = cJSON_PrintUnformatted(o);
		if (s)
			puts(s);
		free(s);
		cJSON_Delete(o);
	} else {
		/* NUL-separated arguments, shown space-separated; control characters as '?'. */
		for (size_t i = 0; i < size && used + 1 < sizeof(args) - 5; i++) {
			unsigned char ch = (unsigned char)e->args[i];
			args[used++] = ch == '\0' ? ' ' : (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
		}
		while (used && args[used - 1] == ' ')
			used--;
		if (e->args_truncated)
			used += (size_t)snprintf(args + used, sizeof(args) - used, " ...");
		args[used] = '\0';
		printf("%-16.16s %-7u %-7u %4d %s\n", e->comm, e->pid, e->ppid, e->ret, args);
	}
	fflush(stdout);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct ctx *c = ctx;

	if (len < sizeof(struct exec_event))
		return 0;
	c->events++;
	print_event(c, data);
	return 0;
}

struct opts {
	const char *pod, *cgroup, *comm;
	uint64_t duration_ms;
	unsigned int mntns[EXECSNOOP_MAX_CGROUPS];
	size_t nmntns;
	bool verbose;
	char dir[2048];		/* the cgroup v2 directory filtered on, "" for none */
	int cg_fd;
};

static void parse_args(int argc, char **argv, struct opts *o, struct ctx *c)
{
	enum { OPT_POD = 256, OPT_CGROUP, OPT_MNTNS, OPT_COMM };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "pod", required_argument, NULL, OPT_POD },
		{ "cgroup", required_argument, NULL, OPT_CGROUP }, { "mntns", required_argument, NULL, OPT_MNTNS },
		{ "comm", required_argument, NULL, OPT_COMM }, { "duration", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	while ((ch = next_opt(argc, argv, "o:d:vh", longopts)) != -1) {
		switch (ch) {
		case 'o':
			c->json = output_is_json(optarg);
			break;
		case OPT_POD: o->pod = optarg; break;
		case OPT_CGROUP: o->cgroup = optarg; break;
		case OPT_MNTNS:
			if (o->nmntns == EXECSNOOP_MAX_CGROUPS)	/* the array's end */
				usage_error("--mntns '%s': at most %d mount namespaces", optarg, EXECSNOOP_MAX_CGROUPS);
			if (parse_u64(optarg, 1, 0xffffffffULL, &v))
				usage_error("--mntns '%s': the namespace's inode number (stat -Lc %%i /proc/PID/ns/mnt)", optarg);
			o->mntns[o->nmntns++] = (unsigned int)v;
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) > 15)
				usage_error("--comm '%s': a comm is 1 to 15 characters", optarg);
			o->comm = optarg;
			break;
		case 'd':
			if (parse_duration_ms(optarg, &o->duration_ms))
				usage_error("bad duration '%s' (like 30s, 2m, 500ms)", optarg);
			break;
		case 'v': o->verbose = true; break;
		case 'h': show_help(execsnoop_help);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (o->pod && (o->cgroup || o->nmntns))
		usage_error("--pod already chooses the cgroup or mount namespaces: drop --cgroup/--mntns");
}

/* --cgroup or --pod: the cgroup v2 directory (open in o->cg_fd) or the mount namespaces to filter on. */
static void choose_target(struct opts *o)
{
	if (o->cgroup)
		cgroup_resolve(o->cgroup, o->dir, sizeof(o->dir));
	else if (o->pod && !pod_trace_target(o->pod, o->dir, sizeof(o->dir), o->mntns, EXECSNOOP_MAX_CGROUPS,
					     &o->nmntns) && !o->nmntns)
		die(EXIT_FAIL, "--pod %s: its processes have neither a cgroup v2 directory nor a readable mount namespace",
		    o->pod);
	if (o->dir[0]) {
		o->cg_fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (o->cg_fd < 0)
			die(EXIT_FAIL, "cannot open cgroup %s: %s", o->dir, strerror(errno));
	}
}

/* Load the program with its filters and attach it; events go to c through *rb. */
static struct execsnoop_bpf *attach(const struct opts *o, struct ctx *c, struct ring_buffer **rb)
{
	char ebuf[16];
	int err;

	libbpf_messages(o->verbose);
	struct execsnoop_bpf *skel = execsnoop_bpf__open();
	if (!skel)
		die(EXIT_FAIL, "cannot open the BPF program: %s", errno_name(errno, ebuf));
	skel->rodata->filter_cgroup = o->cg_fd >= 0;
	skel->rodata->filter_mntns = o->nmntns > 0;
	if (o->comm)
		memcpy((char *)skel->rodata->filter_comm, o->comm, strlen(o->comm));
	err = execsnoop_bpf__load(skel);
	if (err) {
		execsnoop_bpf__destroy(skel);
		die(EXIT_FAIL, "cannot load the BPF program: %s%s", errno_name(-err, ebuf),
		    err == -EPERM ? ": needs CAP_BPF and CAP_PERFMON: kubectl retina shell --capabilities BPF,PERFMON "
				    "(retina capcheck trace tells more)" : " (retina execsnoop -v shows libbpf's messages)");
	}
	__u32 zero = 0;
	if (o->cg_fd >= 0 && bpf_map_update_elem(bpf_map__fd(skel->maps.cgroup_filter), &zero, &o->cg_fd, BPF_ANY))
		die(EXIT_FAIL, "cannot set the cgroup filter: %s", strerror(errno));
	for (size_t i = 0; i < o->nmntns; i++) {
		__u8 one = 1;
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.mntns_allow), &o->mntns[i], &one, BPF_ANY))
			die(EXIT_FAIL, "cannot set the mount namespace filter: %s", strerror(errno));
	}
	*rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, c, NULL);
	if (!*rb)
		die(EXIT_FAIL, "cannot set up the ring buffer: %s", strerror(errno));
	err = execsnoop_bpf__attach(skel);
	if (err)
		die(EXIT_FAIL, "cannot attach to raw_tp/sys_enter, sys_exit and sched_process_exec: %s", errno_name(-err, ebuf));
	return skel;
}

/* Print events until a stop signal or --duration. */
static void loop(const struct opts *o, struct ring_buffer *rb)
{
	long long t0 = mono_ms();
	char ebuf[16];

	while (!stop_signal) {
		int err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR) {
			warnx("reading events: %s", errno_name(-err, ebuf));
			break;
		}
		if (o->duration_ms && (uint64_t)(mono_ms() - t0) >= o->duration_ms)
			break;
	}
}

int execsnoop_main(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct opts o = { .cg_fd = -1 };
	struct ring_buffer *rb;

	parse_args(argc, argv, &o, &c);
	choose_target(&o);
	if (c.json && !(c.pods = pod_names_new()))
		die(EXIT_FAIL, "out of memory");

	/*
	 * Handlers first: a Ctrl-C between attach and the loop must not be lost.
	 * SA_RESTART: a write to a stuck stdout finishes instead of failing with
	 * EINTR (stdio would drop the rest of its buffer: a cut, glued line);
	 * SA_RESETHAND: a second Ctrl-C quits at once even then.
	 */
	catch_stop_signals(SA_RESTART | SA_RESETHAND, true);
	struct execsnoop_bpf *skel = attach(&o, &c, &rb);

	if (o.dir[0])
		warnx("tracing execs in cgroup %s%s", o.dir, o.comm ? " (with --comm)" : "; Ctrl-C to stop");
	else if (o.nmntns)
		warnx("tracing execs in %zu mount namespace%s; Ctrl-C to stop", o.nmntns, o.nmntns > 1 ? "s" : "");
	else
		warnx("tracing execs; Ctrl-C to stop");
	if (!c.json)
		printf("%-16s %-7s %-7s %4s %s\n", "PCOMM", "PID", "PPID", "RET", "ARGS");
	fflush(stdout);

	loop(&o, rb);
	ring_buffer__consume(rb);
	if (skel->bss->lost)
		warnx("%llu events lost: the ring buffer was full", (unsigned long long)skel->bss->lost);
	ring_buffer__free(rb);
	execsnoop_bpf__destroy(skel);
	if (o.cg_fd >= 0)
		close(o.cg_fd);
	pod_names_free(c.pods);
	return EXIT_OK;
}
