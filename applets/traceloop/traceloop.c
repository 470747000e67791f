/*
 * traceloop: a syscall flight recorder per container ("straceback"). `record`
 * starts a background recorder: bpf/traceloop.bpf.c writes every syscall
 * entry and exit of the traced cgroups into an overwritable ring per cgroup,
 * and the recorder answers `list`, `show`, `stop` over a unix socket. The
 * rings live as long as the recorder, so a container that exited can still
 * be shown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "applets/traceloop/traceloop.h"
#include "bpf/traceloop.skel.h"
#include "lib/retina.h"
#include "lib/libbpf_log.h"
#include "lib/sys.h"
#include "node/pods.h"

#define DEFAULT_SOCKET "/run/retina-traceloop.sock"

const char traceloop_help[] =
	"usage: retina traceloop record (--cgroup PATH | --pod UID | --mntns INODE... | --all)\n"
	"                               [--records N] [--slots N]\n"
	"                               [--socket PATH] [--foreground] [-v]\n"
	"       retina traceloop list [-o table|json] [--socket PATH]\n"
	"       retina traceloop show ID [-o table|json] [--socket PATH]\n"
	"       retina traceloop clear ID [--socket PATH]\n"
	"       retina traceloop stop [--socket PATH]\n"
	"\n"
	"A syscall flight recorder per container: `record` starts a background recorder\n"
	"that keeps, for each cgroup below PATH (each container of the pod, or every\n"
	"cgroup with --all), an in-kernel ring of its last N syscalls (entry and exit,\n"
	"with decoded arguments for open/openat, read/write, connect/bind, execve,\n"
	"clone, exit_group). The rings outlive the containers: `show` prints what a\n"
	"container did even after it exited, until cleared or the recorder stops.\n"
	"\n"
	"  --cgroup PATH   trace the cgroups below this cgroup v2 directory (or a path\n"
	"                  relative to the cgroup2 mount)\n"
	"  --pod UID       trace the pod's cgroup (found from /proc/*/cgroup); on a cgroup v1\n"
	"                  node, the mount namespaces of its processes, a ring for each\n"
	"  --mntns INODE   trace these mount namespaces (repeat; stat -Lc %i /proc/PID/ns/mnt)\n"
	"  --all           trace every cgroup (the first --slots of them to make a syscall)\n"
	"  --records N     records per container, a power of two (default 2048)\n"
	"  --slots N       containers at most (default 32); memory is N x records x 168 B,\n"
	"                  preallocated: 32 x 2048 x 168 B = 10.5 MiB by default\n"
	"  --socket PATH   the recorder's control socket (default " DEFAULT_SOCKET ")\n"
	"  --foreground    do not detach (stop with Ctrl-C)\n"
	"  -v, --verbose   show libbpf's messages (why a kernel refuses the program)\n"
	"  -o, --output    table (default) or json\n"
	"\n"
	"ID is a container's number from `list`, or a prefix of its container ID.\n"
	"\n"
	"Needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): kubectl retina shell\n"
	"--capabilities BPF,PERFMON NODE; --pod needs --host-pid too.\n"
	"\n"
	"Examples:\n"
	"  retina traceloop record --pod 3f1c2a4e-8d2b-4f7a-9c1d-2b3e4f5a6b7c\n"
	"  retina traceloop list\n"
	"  retina traceloop show 0\n"
	"  retina traceloop stop\n";

/* ---- cgroups ------------------------------------------------------------ */

/* Find the directory of cgroup id (its inode) below dir; depth-limited. */
static bool find_cgroup(const char *dir, uint64_t id, int depth, char *out, size_t len)
{
	DIR *d;
	struct dirent *e;
	bool found = false;

	if (depth > 16 || !(d = opendir(dir)))
		return false;
	while (!found && (e = readdir(d))) {
		char path[4096];
		struct stat st;
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st))
			continue;
		if ((uint64_t)st.st_ino == id) {
			snprintf(out, len, "%s", path);
			found = true;
		} else {
			found = find_cgroup(path, id, depth + 1, out, len);
		}
	}
	closedir(d);
	return found;
}

/* ---- the recorder --------------------------------------------------------- */

struct slot_name {
	uint64_t key;		/* cgroup id, or mount namespace inode */
	int tries;		/* searches that failed: gone before it was named */
	char path[512];		/* "" until found */
	char pod[POD_UID_MAX], container[CONTAINER_ID_MAX];
};

struct recorder {
	struct traceloop_bpf *skel;
	const struct tl_record *ring;	/* mmap of the records map */
	size_t ring_bytes;
	uint32_t nslots, nrecords;
	bool key_mntns;		/* rings per mount namespace (cgroup v1 pods, --mntns) */
	char root[1024], scope[1024];
	struct slot_name *names;
	struct pod_names *pods;		/* pod UID -> namespace/name (node/pods.c) */
};

static bool read_slot(const struct recorder *r, uint32_t i, struct tl_slot *s)
{
	return !bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.slots), &i, s) && s->key;
}

/* A process in mount namespace ino (0 when none is left). */
static int pid_in_mntns(uint64_t ino)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	while (d && !found && (e = readdir(d))) {
		char path[64];
		struct stat st;
		int pid = atoi(e->d_name);
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		if (pid > 0 && !stat(path, &st) && (uint64_t)st.st_ino == ino)
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

/* Pod and container of pid, from its /proc/PID/cgroup (any hierarchy). */
static void pod_of_pid(int pid, struct slot_name *n)
{
	struct cgroup_ref ref;

	if (!pod_ref_of_pid(pid, &ref)) {
		snprintf(n->pod, sizeof(n->pod), "%s", ref.pod_uid);
		snprintf(n->container, sizeof(n->container), "%s", ref.container_id);
	}
}

/* Name the cgroups (mount namespaces) seen since last time, while they still exist. */
static void name_slots(struct recorder *r)
{
	for (uint32_t i = 0; i < r->nslots; i++) {
		struct tl_slot s;
		struct slot_name *n = &r->names[i];
		if (!read_slot(r, i, &s) || (n->key == s.key && (n->path[0] || n->tries >= 3)))
			continue;
		if (n->key != s.key)
			n->tries = 0;
		n->key = s.key;
		if (r->key_mntns) {
			int pid = pid_in_mntns(s.key);
			if (!pid) {
				n->tries++;
				continue;
			}
			snprintf(n->path, sizeof(n->path), "mnt:[%llu]", (unsigned long long)s.key);
			pod_of_pid(pid, n);
			continue;
		}
		if (!find_cgroup(r->scope, s.key, 0, n->path, sizeof(n->path))) {
			struct stat st;
			if (!stat(r->scope, &st) && (uint64_t)st.st_ino == s.key) {
				snprintf(n->path, sizeof(n->path), "%s", r->scope);
			} else {
				n->tries++;	/* the walk is not free: three tries, then "?" */
				continue;
			}
		}
		struct cgroup_ref ref;
		const char *rel = n->path + strlen(r->root);
		if (!cgroup_path_pod(rel, &ref)) {
			snprintf(n->pod, sizeof(n->pod), "%s", ref.pod_uid);
			snprintf(n->container, sizeof(n->container), "%s", ref.container_id);
		}
	}
}

static uint64_t slot_count(const struct recorder *r, const struct tl_slot *s)
{
	return s->head < r->nrecords ? s->head : r->nrecords;
}

static void reply_list(struct recorder *r, FILE *out, bool json)
{
	cJSON *arr = json ? cJSON_CreateArray() : NULL;

	name_slots(r);
	if (!json)
		fprintf(out, "%-3s %-10s %-36s %-12s %-7s %-8s %-24s %s\n", "ID", r->key_mntns ? "MNTNS" : "CGROUP-ID", "POD",
			"CONTAINER", "STATE", "RECORDS", "NAMESPACE/NAME", "PATH");
	for (uint32_t i = 0; i < r->nslots; i++) {
		struct tl_slot s;
		const struct slot_name *n = &r->names[i];
		struct stat st;
		if (!read_slot(r, i, &s))
			continue;
		const char *pname = n->pod[0] ? pod_names_uid(r->pods, n->pod) : NULL;
		bool alive = r->key_mntns ? pid_in_mntns(s.key) > 0 :
					    n->path[0] && !stat(n->path, &st) && (uint64_t)st.st_ino == s.key;
		if (json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "id", i);
			cJSON_AddNumberToObject(o, r->key_mntns ? "mntns" : "cgroup_id", (double)s.key);
			cJSON_AddStringToObject(o, "pod_uid", n->pod);
			cJSON_AddStringToObject(o, "pod", pname ? pname : "");
			cJSON_AddStringToObject(o, "container_id", n->container);
			cJSON_AddStringToObject(o, "state", alive ? "running" : "exited");
			cJSON_AddNumberToObject(o, "records", (double)slot_count(r, &s));
			cJSON_AddNumberToObject(o, "written", (double)s.head);
			cJSON_AddStringToObject(o, "path", n->path);
			cJSON_AddItemToArray(arr, o);
		} else {
			fprintf(out, "%-3u %-10llu %-36s %-12.12s %-7s %-8llu %-24s %s\n", i, (unsigned long long)s.key,
				n->pod[0] ? n->pod : "-", n->container[0] ? n->container : "-",
				alive ? "running" : "exited", (unsigned long long)slot_count(r, &s), pname ? pname : "-",
				n->path[0] ? n->path : "?");
		}
	}
	if (json) {
		char *txt = cJSON_PrintUnformatted(arr);
		if (txt)
			fprintf(out, "%s\n", txt);
		free(txt);
		cJSON_Delete(arr);
	} else if (r->skel->bss->no_slot) {
		fprintf(out, "(%llu syscalls of %s beyond the %u slots were not recorded: restart with more --slots)\n",
			(unsigned long long)r->skel->bss->no_slot, r->key_mntns ? "mount namespaces" : "cgroups",
			r->nslots);
	}
}

static int slot_by_id(struct recorder *r, const char *id)
{
	uint64_t v;

	name_slots(r);
	if (!parse_u64(id, 0, r->nslots - 1, &v)) {
		struct tl_slot s;
		return read_slot(r, (uint32_t)v, &s) ? (int)v : -1;
	}
	int found = -1;
	for (uint32_t i = 0; i < r->nslots; i++)
		if (r->names[i].container[0] && !strncmp(r->names[i].container, id, strlen(id))) {
			if (found >= 0)
				return -2;
			found = (int)i;
		}
	return found;
}

static void json_record(cJSON *arr, const struct tl_record *e, const struct tl_record *x, uint64_t t0)
{
	const struct tl_record *r = e ? e : x;
	cJSON *o = cJSON_CreateObject();
	char name[32], buf[1024], comm[17];

	snprintf(comm, sizeof(comm), "%.16s", r->comm);
	cJSON_AddNumberToObject(o, "time_ns", (double)(r->ts_ns - t0));
	cJSON_AddNumberToObject(o, "cpu", r->cpu);
	cJSON_AddNumberToObject(o, "pid", r->pid);
	cJSON_AddNumberToObject(o, "tid", r->tid);
	cJSON_AddStringToObject(o, "comm", comm);
	cJSON_AddStringToObject(o, "syscall", tl_record_name(r, name));
	if (e) {
		tl_format_args(e, buf, sizeof(buf));
		cJSON_AddStringToObject(o, "args", buf);
	}
	if (x) {
		cJSON_AddNumberToObject(o, "ret", (double)(long long)x->args[0]);
		tl_format_ret(x, buf, sizeof(buf));
		cJSON_AddStringToObject(o, "result", buf);
	}
	cJSON_AddItemToArray(arr, o);
}

static void reply_show(struct recorder *r, FILE *out, const char *id, bool json)
{
	int slot = slot_by_id(r, id);
	struct tl_slot s;

	if (slot == -2 || slot < 0 || !read_slot(r, (uint32_t)slot, &s)) {
		fprintf(out, "error: %s container '%s' (retina traceloop list shows them)\n",
			slot == -2 ? "more than one matches" : "no recorded", id);
		return;
	}
	uint64_t count = slot_count(r, &s), first = s.head - count;
	const struct tl_record *base = r->ring + (size_t)slot * r->nrecords;
	struct tl_record *copy = calloc(count ? count : 1, sizeof(*copy));
	bool *used = calloc(count ? count : 1, sizeof(*used));
	size_t n = 0;

	if (!copy || !used) {
		fprintf(out, "error: out of memory\n");
		free(copy), free(used);
		return;
	}
	/* Copy out in write order, skipping records overwritten while we read. */
	for (uint64_t q = first; q < s.head; q++) {
		const struct tl_record *src = &base[q & (r->nrecords - 1)];
		if (src->seq == q + 1)
			copy[n++] = *src;
	}
	uint64_t t0 = n ? copy[0].ts_ns : 0;
	cJSON *arr = json ? cJSON_CreateArray() : NULL;
	char line[2048];
	for (size_t i = 0; i < n; i++) {
		const struct tl_record *e = NULL, *x = NULL;
		if (used[i])
			continue;
		if (copy[i].kind == TL_ENTER) {
			e = &copy[i];
			/*
			 * Its exit: the next record of the same thread (exit_group and a
			 * successful execve have none), or for an exec from a non-leader
			 * thread, the exec's exit in the thread that took the leader's ID.
			 */
			bool thread_exec = tl_is_exec(e) && e->tid != e->pid;
			for (size_t j = i + 1; j < n; j++) {
				if (thread_exec && copy[j].tid == e->pid && copy[j].kind == TL_EXIT && copy[j].nr == e->nr &&
				    !used[j]) {
					x = &copy[j];
					used[j] = true;
					break;
				}
				if (copy[j].tid != e->tid)
					continue;
				if (copy[j].kind == TL_EXIT && copy[j].nr == e->nr) {
					x = &copy[j];
					used[j] = true;
				}
				break;
			}
		} else {
			x = &copy[i];
		}
		if (json) {
			json_record(arr, e, x, t0);
		} else {
			tl_format_line(e, x, t0, line, sizeof(line));
			fprintf(out, "%s\n", line);
		}
	}
	if (json) {
		char *txt = cJSON_PrintUnformatted(arr);
		if (txt)
			fprintf(out, "%s\n", txt);
		free(txt);
		cJSON_Delete(arr);
	}
	free(copy);
	free(used);
}

/*
 * Forget a container's records (its slot stays taken: the kernel side may
 * still write to it). Head 0 makes every older record's sequence number out
 * of range, so show skips them.
 */
static void reply_clear(struct recorder *r, FILE *out, const char *id)
{
	int slot = slot_by_id(r, id);
	struct tl_slot s;

	if (slot < 0 || !read_slot(r, (uint32_t)slot, &s)) {
		fprintf(out, "error: %s container '%s' (retina traceloop list shows them)\n",
			slot == -2 ? "more than one matches" : "no recorded", id);
		return;
	}
	__u32 key = (__u32)slot;
	s.head = 0;
	if (bpf_map_update_elem(bpf_map__fd(r->skel->maps.slots), &key, &s, 0))
		fprintf(out, "error: cannot clear: %s\n", strerror(errno));
	else
		fprintf(out, "cleared %d\n", slot);
}

/* One request per connection: "list [json]", "show ID [json]", "clear ID", "stop". */
static void serve(struct recorder *r, int lfd)
{
	int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	char req[256];
	ssize_t n;

	if (cfd < 0)
		return;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	tv.tv_sec = 10;	/* a client that stops reading cannot stall the recorder for good */
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = read(cfd, req, sizeof(req) - 1);
	FILE *out = fdopen(cfd, "w");
	if (!out) {
		close(cfd);
		return;
	}
	req[n > 0 ? n : 0] = '\0';
	req[strcspn(req, "\n")] = '\0';
	char cmd[16] = "", arg[128] = "", fmt[16] = "";
	sscanf(req, "%15s %127s %15s", cmd, arg, fmt);
	if (!strcmp(cmd, "list"))
		reply_list(r, out, !strcmp(arg, "json"));
	else if (!strcmp(cmd, "show") && arg[0])
		reply_show(r, out, arg, !strcmp(fmt, "json"));
	else if (!strcmp(cmd, "clear") && arg[0])
		reply_clear(r, out, arg);
	else if (!strcmp(cmd, "stop")) {
		fprintf(out, "stopped\n");
		stop_signal = SIGTERM;	/* `traceloop stop` ends the loop as its SIGTERM would */
	} else
		fprintf(out, "error: unknown request '%s'\n", req);
	fclose(out);
}

struct record_opts {
	const char *cgroup, *pod, *sock;
	bool all, foreground, verbose;
	uint64_t nrecords, nslots;
	unsigned int mntns[TL_MAX_MNTNS];
	size_t nmntns;
};

/* Its ring heads use BPF atomic fetch-and-add: a kernel before 5.12 refuses them ("BPF_STX uses reserved fields"). */
static bool kernel_has_bpf_atomics(void)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return true;
	return ma > 5 || (ma == 5 && mi >= 12);
}

static void parse_record(int argc, char **argv, struct record_opts *o)
{
	enum { OPT_CGROUP = 256, OPT_POD, OPT_ALL, OPT_RECORDS, OPT_SLOTS, OPT_SOCKET, OPT_FG, OPT_MNTNS };
	static const struct option longopts[] = {
		{ "cgroup", required_argument, NULL, OPT_CGROUP }, { "pod", required_argument, NULL, OPT_POD },
		{ "all", no_argument, NULL, OPT_ALL }, { "records", required_argument, NULL, OPT_RECORDS },
		{ "slots", required_argument, NULL, OPT_SLOTS }, { "socket", required_argument, NULL, OPT_SOCKET },
		{ "foreground", no_argument, NULL, OPT_FG }, { "mntns", required_argument, NULL, OPT_MNTNS },
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	while ((c = next_opt(argc, argv, "hv", longopts)) != -1) {
		switch (c) {
		case 'v': o->verbose = true; break;
		case OPT_CGROUP: o->cgroup = optarg; break;
		case OPT_POD: o->pod = optarg; break;
		case OPT_ALL: o->all = true; break;
		case OPT_RECORDS:
			if (parse_u64(optarg, 16, 1 << 20, &o->nrecords) || (o->nrecords & (o->nrecords - 1)))
				usage_error("--records '%s': a power of two from 16 to 1048576", optarg);
			break;
		case OPT_SLOTS:
			if (parse_u64(optarg, 1, 1024, &o->nslots))
				usage_error("--slots '%s': 1 to 1024 containers", optarg);
			break;
		case OPT_SOCKET: o->sock = optarg; break;
		case OPT_FG: o->foreground = true; break;
		case OPT_MNTNS:
			if (parse_u64(optarg, 1, 0xffffffffULL, &v) || o->nmntns == TL_MAX_MNTNS)
				usage_error("--mntns '%s': a mount namespace inode (stat -Lc %%i /proc/PID/ns/mnt), "
					    "at most %d", optarg, TL_MAX_MNTNS);
			o->mntns[o->nmntns++] = (unsigned int)v;
			break;
		case 'h': show_help(traceloop_help);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if ((o->cgroup != NULL) + (o->pod != NULL) + o->all + (o->nmntns > 0) != 1)
		usage_error("record needs one of --cgroup PATH, --pod UID, --mntns INODE or --all");
	if (o->nslots * o->nrecords * TL_RECORD_SIZE > (1ULL << 30))
		usage_error("--slots x --records x %zu B is over 1 GiB", TL_RECORD_SIZE);
	/* The recorder runs from /, so a relative socket path is made absolute first. */
	static char abs_sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char cwd[PATH_MAX];
	if (o->sock[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		if ((size_t)snprintf(abs_sock, sizeof(abs_sock), "%s/%s", cwd, o->sock) >= sizeof(abs_sock))
			usage_error("--socket path too long");
		o->sock = abs_sock;
	}
	if (strlen(o->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		usage_error("--socket path too long");
}

/* What to record: r->scope (a cgroup v2 directory) or the pod's mount namespaces into o. */
static void choose_scope(struct record_opts *o, struct recorder *r)
{
	if (!cgroup2_mount(r->root, sizeof(r->root)) && !o->nmntns && !o->pod)
		die(EXIT_FAIL, "no cgroup2 filesystem is mounted here: use --mntns (rings per mount namespace)");
	if (o->cgroup) {
		cgroup_resolve(o->cgroup, r->scope, sizeof(r->scope));
	} else if (o->pod) {
		if (!pod_trace_target(o->pod, r->scope, sizeof(r->scope), o->mntns, TL_MAX_MNTNS, &o->nmntns) &&
		    !o->nmntns)
			die(EXIT_FAIL, "--pod %s: its processes have neither a cgroup v2 directory nor a readable mount "
				       "namespace", o->pod);
	} else {
		snprintf(r->scope, sizeof(r->scope), "%s", r->root);
	}
}

/*
 * Unless --foreground: fork; the parent waits for the child's first line on
 * ready (its start or its error), prints it and returns the exit code; the
 * child (and a foreground recorder) gets -1 and goes on.
 */
static int detach(const struct record_opts *o, int ready[2])
{
	if (o->foreground)
		return -1;
	if (pipe(ready))
		die(EXIT_FAIL, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die(EXIT_FAIL, "fork: %s", strerror(errno));
	if (pid > 0) {	/* report the child's readiness, or its error, then leave it running */
		char msg[512];
		close(ready[1]);
		ssize_t n = read(ready[0], msg, sizeof(msg) - 1);
		if (n <= 0)
			die(EXIT_FAIL, "the recorder failed to start (run with --foreground to see why)");
		msg[n] = '\0';
		fputs(msg, stdout);
		return strncmp(msg, "error", 5) ? EXIT_OK : EXIT_FAIL;
	}
	close(ready[0]);
	setsid();
	if (chdir("/"))	/* pin no directory while it runs */
		_exit(EXIT_FAIL);
	return -1;
}

/* Load the program sized and filtered as asked; -1 (told on ready_fd) when the kernel refuses it. */
static int load(const struct record_opts *o, struct recorder *r, int ready_fd)
{
	char ebuf[16];
	int err;

	libbpf_messages(o->verbose);
	r->skel = traceloop_bpf__open();
	if (!r->skel)
		die(EXIT_FAIL, "cannot open the BPF program: %s", errno_name(errno, ebuf));
	r->nslots = (uint32_t)o->nslots;
	r->nrecords = (uint32_t)o->nrecords;
	r->key_mntns = o->nmntns > 0;
	r->skel->rodata->filter_cgroup = !o->all && !r->key_mntns;
	r->skel->rodata->filter_mntns = r->key_mntns;
	r->skel->rodata->key_mntns = r->key_mntns;
	r->skel->rodata->nr_records = r->nrecords;
	r->skel->rodata->nr_slots = r->nslots;
	r->skel->rodata->self_tgid = (uint32_t)getpid();
	bpf_map__set_max_entries(r->skel->maps.slots, r->nslots);
	bpf_map__set_max_entries(r->skel->maps.slot_of, r->nslots);
	bpf_map__set_max_entries(r->skel->maps.records, r->nslots * r->nrecords);
	err = traceloop_bpf__load(r->skel);
	if (err) {
		char msg[256];
		snprintf(msg, sizeof(msg), "error: cannot load the BPF program: %s%s\n", errno_name(-err, ebuf),
			 err == -EPERM ? ": needs CAP_BPF and CAP_PERFMON: kubectl retina shell --capabilities BPF,PERFMON"
			 : err == -EINVAL && !kernel_has_bpf_atomics()
				 ? ": this kernel predates BPF atomic fetch-and-add (5.12), which the recorder's rings need"
				 : "");
		if (ready_fd >= 0 && write(ready_fd, msg, strlen(msg)) < 0)
			_exit(EXIT_FAIL);
		fputs(msg, stderr);
		return -1;
	}
	return 0;
}

/* The filters (returns the cgroup's fd, or -1) and the rings mapped for reading. */
static int configure(const struct record_opts *o, struct recorder *r)
{
	int cg_fd = -1;

	for (size_t i = 0; i < o->nmntns; i++) {
		__u8 one = 1;
		if (bpf_map_update_elem(bpf_map__fd(r->skel->maps.mntns_allow), &o->mntns[i], &one, 0))
			die(EXIT_FAIL, "cannot set the mount namespace filter: %s", strerror(errno));
	}
	if (!o->all && !r->key_mntns) {
		__u32 zero = 0;
		cg_fd = open(r->scope, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg_fd < 0 || bpf_map_update_elem(bpf_map__fd(r->skel->maps.cgroup_filter), &zero, &cg_fd, 0))
			die(EXIT_FAIL, "cannot set the cgroup filter on %s: %s", r->scope, strerror(errno));
	}
	r->ring_bytes = (size_t)r->nslots * r->nrecords * TL_RECORD_SIZE;
	long page = sysconf(_SC_PAGESIZE);
	r->ring_bytes = (r->ring_bytes + (size_t)page - 1) / (size_t)page * (size_t)page;
	r->ring = mmap(NULL, r->ring_bytes, PROT_READ, MAP_SHARED, bpf_map__fd(r->skel->maps.records), 0);
	if (r->ring == MAP_FAILED)
		die(EXIT_FAIL, "cannot map the rings: %s", strerror(errno));
	r->names = calloc(r->nslots, sizeof(*r->names));
	r->pods = pod_names_new();
	if (!r->names || !r->pods)
		die(EXIT_FAIL, "out of memory");
	return cg_fd;
}

/* The first line (what is recorded, how much memory, where to ask), then stdio off a detached recorder. */
static void announce(const struct record_opts *o, const struct recorder *r, int ready_fd)
{
	char msg[1024];
	double bytes = (double)r->nslots * r->nrecords * TL_RECORD_SIZE;
	bool mib = bytes >= 1024.0 * 1024.0;

	snprintf(msg, sizeof(msg),
		 "recording syscalls of %s%s: up to %u containers x %u records x %zu B = %.1f %s; pid %d, socket %s\n",
		 o->all ? "every cgroup" : r->key_mntns ? "the mount namespaces of " : "the cgroups below ",
		 o->all ? "" : r->key_mntns ? (o->pod ? o->pod : "--mntns") : r->scope, r->nslots, r->nrecords,
		 TL_RECORD_SIZE, bytes / (mib ? 1024.0 * 1024.0 : 1024.0), mib ? "MiB" : "KiB", (int)getpid(), o->sock);
	if (ready_fd >= 0) {	/* to the parent waiting in detach() */
		if (write(ready_fd, msg, strlen(msg)) < 0)
			_exit(EXIT_FAIL);
		close(ready_fd);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
			close(devnull);
		}
	} else {
		fputs(msg, stderr);
	}
}

static int record(int argc, char **argv)
{
	struct record_opts o = { .sock = DEFAULT_SOCKET, .nrecords = 2048, .nslots = 32 };
	struct recorder r = { 0 };
	char ebuf[16];
	int err, ready[2] = { -1, -1 };

	parse_record(argc, argv, &o);
	choose_scope(&o, &r);

	/* Refuse to take over a live recorder's socket. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", o.sock);
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa)))
		die(EXIT_FAIL, "a recorder already runs on %s: retina traceloop stop --socket %s", o.sock, o.sock);
	if (probe >= 0)
		close(probe);

	int code = detach(&o, ready);
	if (code >= 0)
		return code;

	/*
	 * SA_RESTART: a reply being written to a slow client is not cut by the
	 * stop signal (the loop's poll() still returns EINTR, so the flag is seen
	 * within one turn); SA_RESETHAND: a second signal ends it at once.
	 */
	catch_stop_signals(SA_RESTART | SA_RESETHAND, false);
	signal(SIGPIPE, SIG_IGN);

	if (load(&o, &r, ready[1]))
		return EXIT_FAIL;
	int cg_fd = configure(&o, &r);

	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(o.sock);
	mode_t old = umask(077);	/* the socket is root's alone: syscall data may be secret */
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 8))
		die(EXIT_FAIL, "cannot listen on %s: %s", o.sock, strerror(errno));
	umask(old);
	err = traceloop_bpf__attach(r.skel);
	if (err)
		die(EXIT_FAIL, "cannot attach to raw_tp/sys_enter and sys_exit: %s", errno_name(-err, ebuf));
	announce(&o, &r, ready[1]);

	while (!stop_signal) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int n = poll(&pfd, 1, 500);
		if (n > 0)
			serve(&r, lfd);
		name_slots(&r);	/* name new cgroups while they exist */
	}
	close(lfd);
	unlink(o.sock);
	traceloop_bpf__destroy(r.skel);
	if (cg_fd >= 0)
		close(cg_fd);
	return EXIT_OK;
}

/* A client: send one request, copy the reply to stdout. */
static int client(const char *sock, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[65536];
	ssize_t n;
	bool error = false, first = true;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(EXIT_FAIL, "no recorder is running on %s (%s): start one with retina traceloop record --cgroup PATH",
		    sock, strerror(errno));
	if (write(fd, req, strlen(req)) < 0 || shutdown(fd, SHUT_WR))
		die(EXIT_FAIL, "cannot talk to the recorder: %s", strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 7 && !memcmp(buf, "error: ", 7)) {
			error = true;
			fflush(stdout);
			fprintf(stderr, "%s: %.*s", applet_name, (int)(n - 7), buf + 7);
		} else if (error) {
			fwrite(buf, 1, (size_t)n, stderr);
		} else {
			fwrite(buf, 1, (size_t)n, stdout);
		}
		first = false;
	}
	close(fd);
	return error ? EXIT_FAIL : EXIT_OK;
}

int traceloop_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *sock = DEFAULT_SOCKET;
	bool json = false;
	char req[256];
	int c;

	if (argc < 2)
		usage_error("needs a command: record, list, show ID or stop");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "record"))
		return record(argc - 1, argv + 1);
	if (strcmp(cmd, "list") && strcmp(cmd, "show") && strcmp(cmd, "clear") && strcmp(cmd, "stop"))
		usage_error("unknown command '%s': use record, list, show ID, clear ID or stop", cmd);
	argc--, argv++;
	while ((c = next_opt(argc, argv, "o:s:h", longopts)) != -1) {
		switch (c) {
		case 'o':
			json = output_is_json(optarg);
			break;
		case 's': sock = optarg; break;
		case 'h': show_help(traceloop_help);
		}
	}
	if (!strcmp(cmd, "show") || !strcmp(cmd, "clear")) {
		if (optind + 1 != argc)
			usage_error("%s needs one ID (retina traceloop list shows them)", cmd);
		if (strlen(argv[optind]) > 100 || strpbrk(argv[optind], " \t\n"))
			usage_error("bad ID '%s'", argv[optind]);
		snprintf(req, sizeof(req), "%s %s%s\n", cmd, argv[optind], json && !strcmp(cmd, "show") ? " json" : "");
	} else {
		if (optind != argc)
			usage_error("unexpected argument '%s'", argv[optind]);
		snprintf(req, sizeof(req), "%s%s\n", cmd, json && !strcmp(cmd, "list") ? " json" : "");
	}
	return client(sock, req);
}
