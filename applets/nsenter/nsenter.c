/*
 * nsenter: run a command in another process's namespaces, like util-linux's,
 * plus what a node debug shell needs: find a pod's processes by pod UID or
 * NAMESPACE/NAME (through the API server when there is a config, else from
 * the node alone), and run this binary's own applets
 * inside a target that has no binaries at all (distroless): /proc/self/exe is
 * opened before setns() and executed with execveat(AT_EMPTY_PATH) after, so
 * nothing is looked up in the target's filesystem.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "applets/nsenter/nsenter.h"
#include "lib/caps.h"
#include "lib/proc.h"
#include "lib/retina.h"
#include "lib/table.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#define INIT_PID_NS_INO 0xEFFFFFFCUL

extern char **environ;

const char nsenter_help[] =
	"usage: retina nsenter [-t PID | --pod UID|NAMESPACE/NAME [--container NAME]]\n"
	"                      [-a] [-m] [-u] [-i] [-n] [-p] [-C] [-U] [-T] [-r[DIR]] [-w[DIR]]\n"
	"                      [-F] [--applet] [-v] [-- CMD [ARGS...]]\n"
	"       retina nsenter --list\n"
	"\n"
	"Run CMD in the namespaces of process PID, or of a pod's container, like\n"
	"util-linux nsenter. CMD may be one of this binary's applets even when the\n"
	"target has no binaries at all (distroless): retina runs itself from the\n"
	"file it opened before entering. Without a namespace flag, all of them (-a).\n"
	"\n"
	"  -t, --target PID      the process whose namespaces to enter\n"
	"      --pod UID         a pod on this node, found by its UID in /proc/*/cgroup\n"
	"      --pod NS/NAME     ... or by name: asks the API server for its UID when a\n"
	"                        kubeconfig or in-cluster config is present; else the\n"
	"                        runtime's annotations, else the pod's hostname and\n"
	"                        namespace files (not for hostNetwork or spec.hostname pods)\n"
	"      --kubeconfig FILE, --context NAME  for --pod NS/NAME (default: KUBECONFIG,\n"
	"                        ~/.kube/config, in-cluster)\n"
	"      --container NAME  the pod's container, by name or a prefix of its ID\n"
	"                        (default: the only one besides the pause container)\n"
	"      --list            list the pods and containers found on this node\n"
	"  -a, --all             every namespace of the target that differs from ours\n"
	"  -m, --mount[=FILE]    mount namespace (FILE: enter that namespace file)\n"
	"  -u, --uts[=FILE]      UTS namespace (hostname)\n"
	"  -i, --ipc[=FILE]      IPC namespace\n"
	"  -n, --net[=FILE]      network namespace, e.g. --net=/run/netns/NAME\n"
	"  -p, --pid[=FILE]      PID namespace (CMD runs in a child process)\n"
	"  -C, --cgroup[=FILE]   cgroup namespace\n"
	"  -U, --user[=FILE]     user namespace (then uid and gid 0 in it)\n"
	"  -T, --time[=FILE]     time namespace\n"
	"  -r, --root[=DIR]      root directory: DIR (a path here, before entering), or\n"
	"                        the target's root; with -m the target's root is the default\n"
	"  -w, --wd[=DIR]        working directory: DIR (a path in the target, after\n"
	"                        entering), or the target's; with -m the target's is the default\n"
	"  -F, --no-fork         do not fork before running CMD (then -p affects only its children)\n"
	"      --applet          CMD is this binary's applet, even if the target has a CMD\n"
	"  -v, --verbose         say which process, namespaces and command were used\n"
	"\n"
	"Which CMD runs: a CMD with a '/' is the target's file. A bare name is looked\n"
	"up in PATH inside the target; when the target has no such file and the name\n"
	"is an applet of this binary (retina --list) or \"retina\", the applet runs.\n"
	"--applet always runs the applet. Without CMD: $SHELL or /bin/sh of the target.\n"
	"\n"
	"Exit status: CMD's; 1 when entering failed, 2 on bad usage, 126 when CMD\n"
	"cannot run, 127 when it is not found.\n"
	"\n"
	"Needs: CAP_SYS_ADMIN (setns), CAP_SYS_PTRACE for other users' processes,\n"
	"CAP_SYS_CHROOT for the root; a shell with --host-pid to see pods' processes:\n"
	"  kubectl retina shell --host-pid --capabilities SYS_ADMIN,SYS_PTRACE,SYS_CHROOT NODE\n"
	"\n"
	"Examples:\n"
	"  retina nsenter --list\n"
	"  retina nsenter --pod 3f1c2a4e-8d2b-4f7a-9c1d-2b3e4f5a6b7c -- dig kubernetes.default\n"
	"  retina nsenter --pod default/web-7d9f --container nginx -n -- ping -c1 10.0.0.1\n"
	"  retina nsenter -t 4242 -n -- capcheck\n"
	"  retina nsenter --net=/run/netns/blue -- ip addr\n";

/* Entering order as util-linux's: the user namespace first, the mount namespace late. */
static const struct ns_kind {
	const char *name;	/* /proc/PID/ns/NAME */
	int clone_flag;
	char opt;
} kinds[] = {
	{ "user", CLONE_NEWUSER, 'U' }, { "cgroup", CLONE_NEWCGROUP, 'C' }, { "ipc", CLONE_NEWIPC, 'i' },
	{ "uts", CLONE_NEWUTS, 'u' },	{ "net", CLONE_NEWNET, 'n' },	    { "pid", CLONE_NEWPID, 'p' },
	{ "mnt", CLONE_NEWNS, 'm' },	{ "time", CLONE_NEWTIME, 'T' },
};
#define NKINDS ARRAY_SIZE(kinds)

static const char *const applet_names[] = {
#define APPLET(id, name, summary) name,
#include "applets/applets.def"
#undef APPLET
};

struct opts {
	int pid;
	bool want[NKINDS];
	const char *file[NKINDS];
	bool all, no_fork, force_applet, verbose, list;
	bool root_set, wd_set;
	const char *root_dir, *wd_dir;
	const char *pod, *container;
	const char *kubeconfig, *context;
};

static _Noreturn void die_step(enum ns_step step, int err, const char *what)
{
	struct proc_status st;
	char fix[256], ebuf[16];

	proc_self_status(&st);
	nsenter_fix(step, err, st.cap_eff, st.seccomp, fix, sizeof(fix));
	die(EXIT_FAIL, "%s: %s%s%s", what, errno_name(err, ebuf), fix[0] ? ": " : "", fix);
}

static bool host_pid_ns(void)
{
	struct stat st;

	return !stat("/proc/self/ns/pid", &st) && st.st_ino == INIT_PID_NS_INO;
}

static void check_pid(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (!access(path, F_OK))
		return;
	if (!host_pid_ns())
		die(EXIT_FAIL, "no process with PID %d in this shell's PID namespace: this is not a host-PID shell, so "
			       "the node's processes are invisible; start it with kubectl retina shell --host-pid NODE", pid);
	die(EXIT_FAIL, "no process with PID %d (it exited, or never was): ps or retina nsenter --list shows candidates",
	    pid);
}

/* ---- pods --------------------------------------------------------------- */

static const char *short_id(const char *cid, char buf[16])
{
	snprintf(buf, 16, "%.12s", cid);
	return buf;
}

/* "nginx (3f2a9c0d1e2b), sidecar (...)": the pod's containers, for error messages. */
static void list_containers(const struct pod_scan *s, const char *uid, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->n && used < len; i++) {
		const struct pod_proc *p = &s->procs[i];
		bool seen = false;
		char id[16];

		if (strcmp(p->ref.pod_uid, uid) || !p->ref.container_id[0] || p->ref.conmon)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(s->procs[j].ref.container_id, p->ref.container_id);
		if (seen)
			continue;
		used += snprintf(out + used, len - used, "%s%s (%s%s)", used ? ", " : "",
				 p->container_name[0] ? p->container_name : "?", short_id(p->ref.container_id, id),
				 pod_container_is_sandbox(s->procs, s->n, uid, p->ref.container_id) ? ", pause" : "");
	}
}

static _Noreturn void die_no_pods(const struct pod_scan *s, const char *what)
{
	if (!s->n && !host_pid_ns())
		die(EXIT_FAIL, "this shell is not in the host's PID namespace, so it sees no pod's processes; start it "
			       "with kubectl retina shell --host-pid NODE");
	die(EXIT_FAIL, "%s (walked %zu processes, %zu in pods): is the pod on this node (kubectl get pod -o wide)? "
		       "retina nsenter --list shows the pods here", what, s->walked, s->n);
}

/* NAMESPACE/NAME -> pod UID, from what the node itself knows. api_why: why the API server was not asked, or "". */
static void uid_by_name(const struct pod_scan *s, const char *arg, const char *ns, const char *name,
			const char *api_why, char uid[POD_UID_MAX])
{
	char sure[POD_UID_MAX] = "", unsure[POD_UID_MAX] = "";
	int nsure = 0, nunsure = 0;

	for (size_t i = 0; i < s->n; i++) {
		const char *u = s->procs[i].ref.pod_uid;
		struct pod_identity id;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(s->procs[j].ref.pod_uid, u);
		if (seen || pod_identify(s, u, &id))
			continue;
		bool name_ok = !strcmp(id.source, "runtime") ? !strcmp(id.name, name) : pod_hostname_matches(name, id.name);
		if (!name_ok || (id.ns[0] && strcmp(id.ns, ns)))
			continue;
		if (id.ns[0])
			nsure++, memcpy(sure, u, POD_UID_MAX);
		else
			nunsure++, memcpy(unsure, u, POD_UID_MAX);
	}
	if (nsure > 1 || (!nsure && nunsure > 1))
		die(EXIT_FAIL, "several pods on this node answer to %s (same hostname): use --pod UID", arg);
	if (nsure) {
		memcpy(uid, sure, POD_UID_MAX);
		return;
	}
	if (nunsure) {
		warnx("pod %s: found by hostname, but its namespace could not be confirmed (no service account token, "
		      "no cluster search domain); using pod %s", arg, unsure);
		memcpy(uid, unsure, POD_UID_MAX);
		return;
	}
	if (!s->n)
		die_no_pods(s, "no pod found");
	die(EXIT_FAIL, "no pod %s among the %zu processes in pods on this node (looked up by the runtime's "
		       "annotations, else by hostname: a pod with spec.hostname or hostNetwork cannot be found so); "
		       "%s%suse --pod UID (kubectl get pod -n %s %s -o jsonpath='{.metadata.uid}')", arg, s->n,
	    api_why[0] ? api_why : "no kubeconfig or in-cluster config to ask the API server (--kubeconfig FILE)",
	    "; ", ns, name);
}

/*
 * NAMESPACE/NAME -> pod UID: the API server's word when there is a config,
 * else (or when it cannot be asked) the node's. *pa is filled on the API path.
 */
static bool uid_of_pod(const struct opts *o, struct pod_scan *s, char uid[POD_UID_MAX], struct pod_api *pa)
{
	const char *arg = o->pod, *slash = strchr(arg, '/');
	const char *name = slash + 1;
	char ns[64], why[1536];

	if (slash == arg || !*name || strchr(name, '/') || (size_t)(slash - arg) >= sizeof(ns))
		usage_error("--pod '%s': use a pod UID or NAMESPACE/NAME", arg);
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - arg), arg);
	switch (pod_api_lookup(o->kubeconfig, o->context, ns, name, pa, why, sizeof(why))) {
	case POD_API_OK:
		memcpy(uid, pa->uid, POD_UID_MAX);
		if (o->verbose)
			warnx("pod %s: uid %s on node %s (%s), from the API server %s", arg, uid,
			      pa->node[0] ? pa->node : "?", pa->phase[0] ? pa->phase : "?", pa->server);
		return true;
	case POD_API_UNUSABLE:
		warnx("%s; looking for pod %s on this node instead (runtime annotations, hostname)", why, arg);
		break;
	default:
		why[0] = '\0';
	}
	uid_by_name(s, arg, ns, name, why, uid);
	return false;
}

/* The API's container names onto the processes; --container NAME into the container's ID. */
static const char *api_container(const struct opts *o, struct pod_scan *s, const struct pod_api *pa)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = 0; j < pa->nc; j++)
			if (pa->c[j].id[0] && !strcmp(s->procs[i].ref.container_id, pa->c[j].id) &&
			    !s->procs[i].container_name[0])
				snprintf(s->procs[i].container_name, sizeof(s->procs[i].container_name), "%s",
					 pa->c[j].name);
	if (!o->container)
		return NULL;
	for (size_t j = 0; j < pa->nc; j++) {
		if (strcmp(pa->c[j].name, o->container))
			continue;
		if (!pa->c[j].id[0])
			die(EXIT_FAIL, "pod %s: container %s has not started (%s): nothing to enter yet", o->pod,
			    o->container, pa->c[j].state[0] ? pa->c[j].state : "no status");
		return pa->c[j].id;
	}
	char names[1024];
	size_t used = 0;
	names[0] = '\0';
	for (size_t j = 0; j < pa->nc && used < sizeof(names); j++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "", pa->c[j].name);
	if (strspn(o->container, "0123456789abcdef") == strlen(o->container))
		return o->container;	/* an ID prefix, as without the API */
	die(EXIT_FAIL, "pod %s has no container '%s' (the API server lists: %s)", o->pod, o->container,
	    names[0] ? names : "none with a status yet");
}

static int resolve_pod(const struct opts *o)
{
	struct pod_scan s;
	char uid[POD_UID_MAX], list[1024], what[600];
	size_t idx = 0;
	struct pod_api pa;
	bool from_api = false;
	const char *container = o->container;

	if (pod_scan_proc(&s))
		die(EXIT_FAIL, "cannot walk /proc: %s", strerror(errno));
	pod_scan_names(&s);
	if (strchr(o->pod, '/')) {
		from_api = uid_of_pod(o, &s, uid, &pa);
		if (from_api)
			container = api_container(o, &s, &pa);
	} else if (pod_uid_normalize(o->pod, uid)) {
		usage_error("--pod '%s' is neither a pod UID (8-4-4-4-12 hex digits) nor NAMESPACE/NAME", o->pod);
	}

	switch (pod_pick(s.procs, s.n, uid, container, &idx)) {
	case PICK_OK:
		break;
	case PICK_SANDBOX_ONLY:
		warnx("pod %s runs only its pause container: entering that (the pod's network, IPC and UTS "
		      "namespaces; its files are the pause image's)", uid);
		break;
	case PICK_NO_POD:
		if (from_api && s.n)
			die(EXIT_FAIL, "pod %s (uid %s) has no process on this node: the API server places it on node %s "
				       "(phase %s); run this on that node", o->pod, uid, pa.node[0] ? pa.node : "(none yet)",
			    pa.phase[0] ? pa.phase : "?");
		snprintf(what, sizeof(what), "no process of pod %s on this node", uid);
		die_no_pods(&s, what);
	case PICK_NO_CONTAINER:
		list_containers(&s, uid, list, sizeof(list));
		die(EXIT_FAIL, "pod %s has no container %s%s%s; its containers: %s", uid, o->container ? "'" : "running",
		    o->container ? o->container : "", o->container ? "'" : "", list[0] ? list : "none");
	case PICK_AMBIGUOUS:
		list_containers(&s, uid, list, sizeof(list));
		die(EXIT_FAIL, "pod %s: %s several containers: %s; choose one with --container NAME (or an ID prefix)",
		    uid, o->container ? "that matches" : "it has", list);
	}
	const struct pod_proc *p = &s.procs[idx];
	int pid = p->pid;
	if (o->verbose) {
		char id[16];
		warnx("pod %s container %s (%s): pid %d [%s]", uid, p->container_name[0] ? p->container_name : "?",
		      short_id(p->ref.container_id, id), pid, p->comm);
	}
	pod_scan_free(&s);
	return pid;
}

static int list_pods(void)
{
	struct pod_scan s;
	struct table t;
	static const char *const head[] = { "POD UID", "NAMESPACE", "POD", "CONTAINER", "CONTAINER ID", "PID", "COMM" };

	if (pod_scan_proc(&s))
		die(EXIT_FAIL, "cannot walk /proc: %s", strerror(errno));
	if (!s.n)
		die_no_pods(&s, "no pod found");
	pod_scan_names(&s);
	table_init(&t, 7, head);
	for (size_t i = 0; i < s.n; i++) {
		const struct pod_proc *p = &s.procs[i];
		bool seen = false;
		struct pod_identity id;
		size_t idx;
		char pid[16], cid[16];

		/* One row per container, at its first process. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(s.procs[j].ref.pod_uid, p->ref.pod_uid) &&
			       !strcmp(s.procs[j].ref.container_id, p->ref.container_id);
		if (seen || p->ref.conmon || !p->ref.container_id[0])
			continue;
		if (pod_pick(s.procs, s.n, p->ref.pod_uid, p->ref.container_id, &idx) != PICK_OK)
			idx = i;
		bool known = !pod_identify(&s, p->ref.pod_uid, &id);
		snprintf(pid, sizeof(pid), "%d", s.procs[idx].pid);
		const char *row[] = { p->ref.pod_uid, known && id.ns[0] ? id.ns : "?", known ? id.name : "?",
				      pod_container_is_sandbox(s.procs, s.n, p->ref.pod_uid, p->ref.container_id) ?
					      "(pause)" : p->container_name[0] ? p->container_name : "?",
				      short_id(p->ref.container_id, cid), pid, s.procs[idx].comm };
		if (table_add(&t, row))
			die(EXIT_FAIL, "out of memory");
	}
	table_print(&t, stdout);
	table_free(&t);
	pod_scan_free(&s);
	return EXIT_OK;
}

/* ---- running the command ----------------------------------------------- */

static bool is_applet(const char *name)
{
	if (!strcmp(name, "retina"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(applet_names); i++)
		if (!strcmp(applet_names[i], name))
			return true;
	return false;
}

/* name in the target's PATH (we are inside it now), into out. */
static bool in_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096], *dir, *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s", path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;
		snprintf(out, len, "%s/%s", *dir ? dir : ".", name);
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
			return true;
	}
	return false;
}

static _Noreturn void exec_applet(int exe_fd, int exe_err, char **argv, bool verbose)
{
	if (exe_fd < 0)
		die(127, "cannot run applet '%s': /proc/self/exe could not be opened before entering (%s); is /proc "
			 "mounted here?", argv[0], strerror(exe_err));
	if (verbose)
		warnx("running applet '%s' of this binary", argv[0]);
	syscall(SYS_execveat, exe_fd, "", argv, environ, AT_EMPTY_PATH);
	die(126, "cannot run this binary's applet '%s' from its open file: %s", argv[0], strerror(errno));
}

static _Noreturn void exec_target(const char *file, char **argv, bool verbose)
{
	if (verbose)
		warnx("running %s of the target", file);
	execv(file, argv);
	die(errno == ENOENT ? 127 : 126, "cannot run %s in the target: %s", file, strerror(errno));
}

static _Noreturn void run_command(int argc, char **argv, int exe_fd, int exe_err, const struct opts *o)
{
	char found[4096];

	if (!argc) {
		static char *sh_argv[2];
		const char *sh = getenv("SHELL");
		sh_argv[0] = (char *)(sh && *sh ? sh : "/bin/sh");
		if (access(sh_argv[0], X_OK))
			die(127, "no shell %s in the target (distroless?): give a command, e.g. '-- capcheck', or any "
				 "applet of this binary (retina --list)", sh_argv[0]);
		exec_target(sh_argv[0], sh_argv, o->verbose);
	}
	if (o->force_applet) {
		if (!is_applet(argv[0]))
			die(127, "--applet: '%s' is not an applet of this binary (retina --list)", argv[0]);
		exec_applet(exe_fd, exe_err, argv, o->verbose);
	}
	if (strchr(argv[0], '/'))
		exec_target(argv[0], argv, o->verbose);
	if (in_path(argv[0], found, sizeof(found)))
		exec_target(found, argv, o->verbose);
	if (is_applet(argv[0]))
		exec_applet(exe_fd, exe_err, argv, o->verbose);
	die(127, "'%s' is neither in the target's PATH (%s) nor an applet of this binary (retina --list)", argv[0],
	    getenv("PATH") ? getenv("PATH") : "default");
}

static pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* The parent after -p: wait for the command, forward termination requests, pass its status on. */
static _Noreturn void wait_child(pid_t pid)
{
	struct sigaction sa = { .sa_handler = forward };
	int status;

	child_pid = pid;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGINT, SIG_IGN);	/* the terminal sends it to the child too */
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die(EXIT_FAIL, "waiting for the command: %s", strerror(errno));
	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	int sig = WTERMSIG(status);
	signal(sig, SIG_DFL);
	raise(sig);
	exit(128 + sig);
}

/* ---- entering ----------------------------------------------------------- */

static bool same_ns(const char *path_a, const char *path_b)
{
	struct stat a, b;

	return !stat(path_a, &a) && !stat(path_b, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int open_dir(const char *path, bool implicit)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && !implicit) {
		if (errno == EACCES || errno == EPERM)
			die_step(STEP_OPEN_NS, errno, path);
		die(EXIT_FAIL, "cannot open %s: %s", path, strerror(errno));
	}
	return fd;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_POD = 256, OPT_CONTAINER, OPT_APPLET, OPT_LIST, OPT_KUBECONFIG, OPT_CONTEXT };
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },  { "all", no_argument, NULL, 'a' },
		{ "mount", optional_argument, NULL, 'm' },   { "uts", optional_argument, NULL, 'u' },
		{ "ipc", optional_argument, NULL, 'i' },     { "net", optional_argument, NULL, 'n' },
		{ "pid", optional_argument, NULL, 'p' },     { "cgroup", optional_argument, NULL, 'C' },
		{ "user", optional_argument, NULL, 'U' },    { "time", optional_argument, NULL, 'T' },
		{ "root", optional_argument, NULL, 'r' },    { "wd", optional_argument, NULL, 'w' },
		{ "no-fork", no_argument, NULL, 'F' },	     { "verbose", no_argument, NULL, 'v' },
		{ "pod", required_argument, NULL, OPT_POD }, { "container", required_argument, NULL, OPT_CONTAINER },
		{ "applet", no_argument, NULL, OPT_APPLET }, { "list", no_argument, NULL, OPT_LIST },
		{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
		{ "context", required_argument, NULL, OPT_CONTEXT },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->pid = -1;
	while ((c = next_opt(argc, argv, "+t:am::u::i::n::p::C::U::T::r::w::Fvh", longopts)) != -1) {
		switch (c) {
		case 't':
			if (parse_u64(optarg, 1, 0x7fffffff, &v))
				usage_error("-t '%s': a PID is a positive number", optarg);
			o->pid = (int)v;
			break;
		case 'a': o->all = true; break;
		case 'r': o->root_set = true; o->root_dir = optarg; break;
		case 'w': o->wd_set = true; o->wd_dir = optarg; break;
		case 'F': o->no_fork = true; break;
		case 'v': o->verbose = true; break;
		case OPT_POD: o->pod = optarg; break;
		case OPT_CONTAINER: o->container = optarg; break;
		case OPT_APPLET: o->force_applet = true; break;
		case OPT_LIST: o->list = true; break;
		case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
		case OPT_CONTEXT: o->context = optarg; break;
		case 'h': show_help(nsenter_help);
		default:
			for (size_t k = 0; k < NKINDS; k++)
				if (c == kinds[k].opt) {
					o->want[k] = true;
					o->file[k] = optarg;
				}
		}
	}
	if (o->pid > 0 && o->pod)
		usage_error("give either -t PID or --pod, not both");
	if (o->container && !o->pod)
		usage_error("--container needs --pod");
	if ((o->kubeconfig || o->context) && (!o->pod || !strchr(o->pod, '/')))
		usage_error("--kubeconfig and --context are for --pod NAMESPACE/NAME");
}

/* -t, --pod or namespace files: o->pid (or -1 with files alone); and whether to enter all namespaces. */
static void choose_target(struct opts *o)
{
	bool any = false;

	for (size_t k = 0; k < NKINDS; k++)
		any |= o->want[k];
	if (o->pod)
		o->pid = resolve_pod(o);
	if (o->pid < 0) {
		bool files_only = any;
		for (size_t k = 0; k < NKINDS; k++)
			if (o->want[k] && !o->file[k])
				files_only = false;
		if (!files_only || o->all || (o->root_set && !o->root_dir) || (o->wd_set && !o->wd_dir))
			usage_error("which process? give -t PID or --pod UID (or namespace files: --net=FILE)");
	} else {
		check_pid(o->pid);
	}
	if (!any || o->all)	/* nothing named: all namespaces, as kubectl exec would */
		o->all = true;
}

/* What is opened before the first setns: afterwards the paths mean the target's files. */
struct targets {
	int ns_fd[NKINDS];	/* -1: not entered */
	int root_fd, wd_fd;	/* -1: kept */
};

static void open_targets(const struct opts *o, struct targets *t)
{
	char path[256];

	for (size_t k = 0; k < NKINDS; k++) {
		char mine[64];

		t->ns_fd[k] = -1;
		if (o->file[k])
			snprintf(path, sizeof(path), "%s", o->file[k]);
		else if (o->want[k] || o->all)
			snprintf(path, sizeof(path), "/proc/%d/ns/%s", o->pid, kinds[k].name);
		else
			continue;
		snprintf(mine, sizeof(mine), "/proc/self/ns/%s", kinds[k].name);
		/* Entering our own namespace is a no-op, except for user, where it is an error. */
		if (same_ns(path, mine) || (o->all && !o->want[k] && access(path, F_OK)))
			continue;
		t->ns_fd[k] = open(path, O_RDONLY | O_CLOEXEC);
		if (t->ns_fd[k] < 0) {
			if (errno == EACCES || errno == EPERM)
				die_step(STEP_OPEN_NS, errno, path);
			die(EXIT_FAIL, "cannot open %s: %s", path, strerror(errno));
		}
	}
	bool mnt_wanted = false;
	for (size_t k = 0; k < NKINDS; k++)
		mnt_wanted |= kinds[k].clone_flag == CLONE_NEWNS && t->ns_fd[k] >= 0;
	t->root_fd = t->wd_fd = -1;
	if (o->root_set || (mnt_wanted && o->pid > 0)) {
		if (o->root_dir)
			snprintf(path, sizeof(path), "%s", o->root_dir);
		else
			snprintf(path, sizeof(path), "/proc/%d/root", o->pid);
		t->root_fd = open_dir(path, !o->root_set);
	}
	if (o->wd_set && !o->wd_dir) {
		snprintf(path, sizeof(path), "/proc/%d/cwd", o->pid);
		t->wd_fd = open_dir(path, false);
	} else if (!o->wd_set && mnt_wanted && o->pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/cwd", o->pid);
		t->wd_fd = open_dir(path, true);
	}
}

/* setns into each opened namespace; their names into entered. true when the mount namespace was one. */
static bool enter_namespaces(const struct opts *o, struct targets *t, bool *entered_pid, char *entered, size_t len)
{
	bool entered_mnt = false;
	char what[256];

	for (size_t k = 0; k < NKINDS; k++) {
		if (t->ns_fd[k] < 0)
			continue;
		if (setns(t->ns_fd[k], kinds[k].clone_flag)) {
			snprintf(what, sizeof(what), "entering the %s namespace of %s%d", kinds[k].name,
				 o->pid > 0 ? "PID " : "", o->pid > 0 ? o->pid : 0);
			if (o->file[k])
				snprintf(what, sizeof(what), "entering the %s namespace %s", kinds[k].name, o->file[k]);
			die_step(STEP_SETNS, errno, what);
		}
		close(t->ns_fd[k]);
		*entered_pid |= kinds[k].clone_flag == CLONE_NEWPID;
		entered_mnt |= kinds[k].clone_flag == CLONE_NEWNS;
		size_t l = strlen(entered);
		snprintf(entered + l, len - l, "%s%s", l ? " " : "", kinds[k].name);
		if (kinds[k].clone_flag == CLONE_NEWUSER) {
			/* Be root in the new user namespace, as util-linux does. */
			setgroups(0, NULL);
			if (setgid(0) || setuid(0))
				die(EXIT_FAIL, "in the user namespace of PID %d: cannot become uid/gid 0: %s (is 0 mapped?)",
				    o->pid, strerror(errno));
		}
	}
	return entered_mnt;
}

/* The target's root and working directory (or --root/--wd), once inside its mount namespace. */
static void change_dirs(const struct opts *o, const struct targets *t, bool entered_mnt)
{
	if (t->root_fd >= 0) {
		if (fchdir(t->root_fd) || chroot(".")) {
			if (o->root_set)
				die_step(STEP_CHROOT, errno, "changing root to the target's");
			if (o->verbose)
				warnx("kept the mount namespace's root: chroot: %s", strerror(errno));
		}
		close(t->root_fd);
	}
	if (t->wd_fd >= 0) {
		if (fchdir(t->wd_fd))
			die(EXIT_FAIL, "cannot change to the target's working directory: %s", strerror(errno));
		close(t->wd_fd);
	} else if (o->wd_dir) {
		if (chdir(o->wd_dir))
			die(EXIT_FAIL, "--wd %s: %s (a path inside the target)", o->wd_dir, strerror(errno));
	} else if (t->root_fd >= 0 || entered_mnt) {
		if (chdir("/"))
			die(EXIT_FAIL, "cannot change to /: %s", strerror(errno));
	}
}

int nsenter_main(int argc, char **argv)
{
	struct opts o;
	struct targets t;
	int exe_fd, exe_err = 0;
	bool entered_pid = false;
	char entered[128] = "";

	parse_args(argc, argv, &o);
	if (o.list)
		return list_pods();
	choose_target(&o);

	exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe_fd < 0)
		exe_err = errno;
	open_targets(&o, &t);
	bool entered_mnt = enter_namespaces(&o, &t, &entered_pid, entered, sizeof(entered));
	change_dirs(&o, &t, entered_mnt);
	if (o.verbose)
		warnx("entered %s of %s%d", entered[0] ? entered : "no namespace (all are ours)",
		      o.pid > 0 ? "PID " : "", o.pid > 0 ? o.pid : 0);

	/* A new PID namespace applies to children only: the command runs in one. */
	if (entered_pid && !o.no_fork) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			die(EXIT_FAIL, "fork: %s", strerror(errno));
		if (pid > 0) {
			if (exe_fd >= 0)
				close(exe_fd);
			wait_child(pid);
		}
	}
	run_command(argc - optind, argv + optind, exe_fd, exe_err, &o);
}
