/*
 * Finding pods on this node without the API server: every process's
 * /proc/PID/cgroup names its pod UID and container ID (node/pods_rules.c parses
 * it); the container runtime's state names the containers; a pod's own files
 * (/etc/hostname, the service account's namespace, resolv.conf) name the pod.
 */
#define _GNU_SOURCE	/* O_PATH, for the host builds (glibc) of the unit tests */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <cjson/cJSON.h>

#include "lib/proc.h"
#include "lib/retina.h"
#include "lib/sys.h"
#include "node/pods.h"

#define CGROUP2_SUPER_MAGIC 0x63677270

/* Where containerd and CRI-O keep each container's OCI config.json (plus the same under /host). */
static const char default_state[] =
	"/run/containerd/io.containerd.runtime.v2.task/k8s.io:/run/containers/storage/overlay-containers:"
	"/host/run/containerd/io.containerd.runtime.v2.task/k8s.io:/host/run/containers/storage/overlay-containers";

static ssize_t read_all(int fd, char *buf, size_t len)
{
	size_t used = 0;

	while (used + 1 < len) {
		ssize_t n = read(fd, buf + used, len - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	return (ssize_t)used;
}

static ssize_t read_path(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read_all(fd, buf, len);
	close(fd);
	return n;
}

/* "PID (comm) S PPID ...": comm may hold spaces and parentheses, so take the last ')'. */
static int read_stat(int pid, struct pod_proc *p)
{
	char path[64], buf[512];
	char *open_paren, *close_paren;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -1;
	size_t n = (size_t)(close_paren - open_paren - 1);
	if (n >= sizeof(p->comm))
		n = sizeof(p->comm) - 1;
	memcpy(p->comm, open_paren + 1, n);
	p->comm[n] = '\0';
	if (sscanf(close_paren + 1, " %*c %d", &p->ppid) != 1)
		return -1;
	return 0;
}

static int pod_of(int pid, struct cgroup_ref *ref)
{
	char path[64], buf[4096];
	char *line, *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (read_path(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *controllers, *cg;
		int hier;
		if (!cgroup_line_split(line, &hier, &controllers, &cg) && !cgroup_path_pod(cg, ref))
			return 0;
	}
	return -1;
}

int pod_scan_proc(struct pod_scan *s)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	memset(s, 0, sizeof(*s));
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		struct pod_proc p = { .pid = (int)pid };

		if (*end || pid <= 0)
			continue;
		s->walked++;
		if (pod_of(p.pid, &p.ref) || read_stat(p.pid, &p))
			continue;	/* not in a pod, or exited meanwhile */
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct pod_proc *np = realloc(s->procs, cap * sizeof(*np));
			if (!np) {
				closedir(d);
				return -1;
			}
			s->procs = np;
			s->cap = cap;
		}
		s->procs[s->n++] = p;
	}
	closedir(d);
	return 0;
}

void pod_scan_free(struct pod_scan *s)
{
	free(s->procs);
	memset(s, 0, sizeof(*s));
}

/* The OCI config.json of container cid, parsed; NULL when no runtime state has it. */
static cJSON *runtime_config(const char *cid)
{
	const char *env = getenv("RETINA_RUNTIME_STATE");
	char dirs[1024], *dir, *save = NULL;
	static const char *const below[] = { "config.json", "userdata/config.json" };

	if (!cid[0] || strchr(cid, '/') || !strcmp(cid, "..") || !strcmp(cid, "."))
		return NULL;
	snprintf(dirs, sizeof(dirs), "%s", env && *env ? env : default_state);
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		for (size_t i = 0; i < 2; i++) {
			char path[1200];
			static char buf[256 * 1024];

			snprintf(path, sizeof(path), "%s/%s/%s", dir, cid, below[i]);
			if (read_path(path, buf, sizeof(buf)) <= 0)
				continue;
			cJSON *j = cJSON_Parse(buf);
			if (j)
				return j;
		}
	}
	return NULL;
}

/* The first of keys that the config's annotations hold, copied into out. */
static bool annotation(const cJSON *config, const char *const keys[], char *out, size_t len)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(config, "annotations");

	for (; *keys; keys++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, *keys);
		if (cJSON_IsString(v) && v->valuestring[0]) {
			snprintf(out, len, "%s", v->valuestring);
			return true;
		}
	}
	return false;
}

static const char *const container_name_keys[] = { "io.kubernetes.cri.container-name",
						   "io.kubernetes.container.name", NULL };
static const char *const pod_name_keys[] = { "io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name", NULL };
static const char *const pod_ns_keys[] = { "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace",
					   NULL };

void pod_scan_names(struct pod_scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct pod_proc *p = &s->procs[i];
		bool done = false;

		if (!p->ref.container_id[0] || p->ref.conmon)
			continue;
		for (size_t j = 0; j < i && !done; j++)
			if (!strcmp(s->procs[j].ref.container_id, p->ref.container_id)) {
				memcpy(p->container_name, s->procs[j].container_name, sizeof(p->container_name));
				done = true;
			}
		if (done)
			continue;
		cJSON *config = runtime_config(p->ref.container_id);
		if (config)
			annotation(config, container_name_keys, p->container_name, sizeof(p->container_name));
		cJSON_Delete(config);
	}
}

/*
 * Read a file of the container's own filesystem: symlinks inside it resolve
 * against its root (RESOLVE_IN_ROOT), never ours, so a container cannot
 * redirect the read to the node's files.
 */
static ssize_t read_in_root(int pid, const char *rel, char *buf, size_t len)
{
	char root[64];
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int dfd, fd;
	ssize_t n;

	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	close(dfd);
	if (fd < 0)
		return -1;
	n = read_all(fd, buf, len);
	close(fd);
	return n;
}

int pod_identify(const struct pod_scan *s, const char *uid, struct pod_identity *id)
{
	memset(id, 0, sizeof(*id));
	/* The runtime's annotations are authoritative: try every container of the pod. */
	for (size_t i = 0; i < s->n; i++) {
		const struct pod_proc *p = &s->procs[i];
		if (strcmp(p->ref.pod_uid, uid) || !p->ref.container_id[0])
			continue;
		cJSON *config = runtime_config(p->ref.container_id);
		bool ok = config && annotation(config, pod_name_keys, id->name, sizeof(id->name));
		if (ok)
			annotation(config, pod_ns_keys, id->ns, sizeof(id->ns));
		cJSON_Delete(config);
		if (ok) {
			id->source = "runtime";
			return 0;
		}
	}
	/* Else the pod's own files, from an application container (the pause image has none). */
	for (size_t i = 0; i < s->n; i++) {
		const struct pod_proc *p = &s->procs[i];
		char buf[4096];

		if (strcmp(p->ref.pod_uid, uid) || !strcmp(p->comm, "pause") || p->ref.conmon)
			continue;
		if (read_in_root(p->pid, "etc/hostname", buf, sizeof(buf)) <= 0)
			continue;
		buf[strcspn(buf, "\r\n")] = '\0';
		if (!buf[0])
			continue;
		snprintf(id->name, sizeof(id->name), "%s", buf);
		id->source = "hostname";
		if (read_in_root(p->pid, "var/run/secrets/kubernetes.io/serviceaccount/namespace", buf,
				 sizeof(buf)) > 0) {
			buf[strcspn(buf, "\r\n")] = '\0';
			snprintf(id->ns, sizeof(id->ns), "%s", buf);
		}
		if (!id->ns[0] && read_in_root(p->pid, "etc/resolv.conf", buf, sizeof(buf)) > 0)
			resolv_pod_namespace(buf, id->ns, sizeof(id->ns));
		return 0;
	}
	return -1;
}

/* ---- what tracers filter on ---------------------------------------------- */

/* Where cgroup2 is mounted (/sys/fs/cgroup on a v2 node, /sys/fs/cgroup/unified on a hybrid one). */
bool cgroup2_mount(char *out, size_t len)
{
	return proc_mount_of("cgroup2", out, len);
}

bool is_cgroup2_dir(const char *path)
{
	struct statfs fs;
	struct stat st;

	return !statfs(path, &fs) && fs.f_type == CGROUP2_SUPER_MAGIC && !stat(path, &st) && S_ISDIR(st.st_mode);
}

void cgroup_resolve(const char *arg, char *out, size_t len)
{
	char root[1024];

	if (is_cgroup2_dir(arg)) {
		snprintf(out, len, "%s", arg);
		return;
	}
	if (!cgroup2_mount(root, sizeof(root)))
		die(EXIT_FAIL, "--cgroup %s: no cgroup2 filesystem is mounted here (mount -t cgroup2 none /sys/fs/cgroup)",
		    arg);
	snprintf(out, len, "%s/%s", root, arg + (arg[0] == '/'));
	if (!is_cgroup2_dir(out))
		die(EXIT_FAIL, "--cgroup %s: neither it nor %s is a cgroup v2 directory", arg, out);
}

/*
 * --pod UID: the pod's cgroup v2 directory when its processes have one
 * (systemd or cgroupfs driver on v2, or hybrid); else the mount namespaces of
 * its processes (cgroup v1 only: new processes inherit them, and pods do not share them).
 */
bool pod_trace_target(const char *arg, char *dir, size_t len, unsigned int mntns[], size_t max, size_t *nmntns)
{
	struct pod_scan s;
	char uid[POD_UID_MAX], root[1024];
	bool have_root = cgroup2_mount(root, sizeof(root)), in_pod = false;

	if (pod_uid_normalize(arg, uid))
		usage_error("--pod '%s' is not a pod UID (8-4-4-4-12 hex digits)", arg);
	if (pod_scan_proc(&s))
		die(EXIT_FAIL, "cannot walk /proc: %s", strerror(errno));
	*nmntns = 0;
	for (size_t i = 0; i < s.n; i++) {
		const struct pod_proc *p = &s.procs[i];
		char path[64], buf[4096], *line, *save = NULL;
		struct stat st;

		if (strcmp(p->ref.pod_uid, uid))
			continue;
		in_pod = true;
		snprintf(path, sizeof(path), "/proc/%d/cgroup", p->pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		for (line = strtok_r(buf, "\n", &save); line && have_root; line = strtok_r(NULL, "\n", &save)) {
			char *ctl, *cg;
			int hier;
			struct cgroup_ref ref;
			if (cgroup_line_split(line, &hier, &ctl, &cg) || hier != 0 || ctl[0] || cgroup_path_pod(cg, &ref) ||
			    !ref.pod_path_len)
				continue;
			snprintf(dir, len, "%s%.*s", root, (int)ref.pod_path_len, cg);
			if (is_cgroup2_dir(dir)) {
				pod_scan_free(&s);
				return true;
			}
		}
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", p->pid);
		if (!stat(path, &st) && *nmntns < max) {
			bool dup = false;
			for (size_t j = 0; j < *nmntns; j++)
				dup |= mntns[j] == (unsigned int)st.st_ino;
			if (!dup)
				mntns[(*nmntns)++] = (unsigned int)st.st_ino;
		}
	}
	bool any = s.n > 0;
	pod_scan_free(&s);
	if (!in_pod) {
		struct stat st;
		if (!any && !stat("/proc/self/ns/pid", &st) && st.st_ino != 0xEFFFFFFCUL)
			die(EXIT_FAIL, "--pod: this shell is not in the host's PID namespace, so it sees no pod's processes; "
				       "start it with kubectl retina shell --host-pid NODE");
		die(EXIT_FAIL, "--pod %s: no process of that pod on this node (retina nsenter --list shows the pods here)",
		    uid);
	}
	return false;
}

/* ---- which pod a network namespace belongs to (retina trace --pods) ---------- */

int pod_netns_scan(struct pod_netns **out, size_t *n)
{
	struct pod_scan s = { 0 };
	struct stat self;
	char path[64];

	*out = NULL;
	*n = 0;
	if (stat("/proc/self/ns/net", &self) || pod_scan_proc(&s))
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		struct stat st;
		bool seen = false;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", s.procs[i].pid);
		/* the host's own namespace is every hostNetwork pod's: it names none of them */
		if (stat(path, &st) || st.st_ino == self.st_ino)
			continue;
		for (size_t j = 0; j < *n && !seen; j++)
			seen = (*out)[j].inode == st.st_ino;
		if (seen)
			continue;
		struct pod_netns *v = realloc(*out, (*n + 1) * sizeof(**out));
		if (!v) {
			pod_scan_free(&s);
			return -1;
		}
		*out = v;
		struct pod_netns *p = &v[(*n)++];
		memset(p, 0, sizeof(*p));
		p->inode = (unsigned int)st.st_ino;
		snprintf(p->uid, sizeof(p->uid), "%s", s.procs[i].ref.pod_uid);
		p->named = !pod_identify(&s, p->uid, &p->id);
	}
	pod_scan_free(&s);
	return 0;
}

/* ---- pod UID -> namespace/name, cached (execsnoop, traceloop) ----------------- */

int pod_ref_of_pid(int pid, struct cgroup_ref *ref)
{
	return pod_of(pid, ref);
}

#define POD_NAMES_MAX 256
#define POD_NAMES_RESCAN_MS 1000

struct pod_names {
	struct {
		char uid[POD_UID_MAX];
		char name[320];		/* "ns/name", "" when the node does not say */
	} v[POD_NAMES_MAX];
	size_t n, next;			/* full: the oldest is replaced */
	long long scanned_ms;
};

struct pod_names *pod_names_new(void)
{
	struct pod_names *p = calloc(1, sizeof(*p));

	if (p)
		p->scanned_ms = -POD_NAMES_RESCAN_MS;
	return p;
}

void pod_names_free(struct pod_names *p)
{
	free(p);
}

const char *pod_names_uid(struct pod_names *p, const char *uid)
{
	struct pod_scan s = { 0 };
	struct pod_identity id;

	if (!p || !uid[0])
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].uid, uid))
			return p->v[i].name[0] ? p->v[i].name : NULL;
	/* a walk of /proc per new pod, at most one a second */
	if (mono_ms() - p->scanned_ms < POD_NAMES_RESCAN_MS)
		return NULL;
	p->scanned_ms = mono_ms();
	if (pod_scan_proc(&s))
		return NULL;
	bool named = !pod_identify(&s, uid, &id);
	pod_scan_free(&s);
	size_t i = p->n < POD_NAMES_MAX ? p->n++ : p->next++ % POD_NAMES_MAX;
	snprintf(p->v[i].uid, sizeof(p->v[i].uid), "%s", uid);
	p->v[i].name[0] = '\0';
	if (named && id.name[0])
		snprintf(p->v[i].name, sizeof(p->v[i].name), "%s%s%s", id.ns, id.ns[0] ? "/" : "", id.name);
	/* from a pod's own files: printable, no quotes, for JSON and the terminal */
	for (char *c = p->v[i].name; *c; c++)
		if ((unsigned char)*c < 0x21 || *c == 0x7f || *c == '"' || *c == '\\')
			*c = '?';
	return p->v[i].name[0] ? p->v[i].name : NULL;
}
