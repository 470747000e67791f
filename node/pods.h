/*
 * The pods and cgroups of this node as the node itself sees them, without the
 * API server: which pod and container a process belongs to (its
 * /proc/PID/cgroup), the container names the runtime keeps, what a pod calls
 * itself, and the cgroup v2 directory or mount namespaces a tracer filters on.
 * Used by nsenter, execsnoop and traceloop.
 *
 * node/pods_rules.c is the pure part (cgroup paths, UIDs, hostnames: no I/O,
 * so cmocka and libFuzzer drive it directly); node/pods.c reads /proc, the
 * cgroup2 mount and the runtime's state.
 */
#ifndef RETINA_NODE_PODS_H
#define RETINA_NODE_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POD_UID_MAX 37		/* 36-char UID (or 32 hex of a static pod) + NUL */
#define CONTAINER_ID_MAX 72

/* What a cgroup path says about the process in it. */
struct cgroup_ref {
	char pod_uid[POD_UID_MAX];	/* dashes, lowercase: "1b4e28ba-2fa1-11d2-883f-0016d3cca427" */
	char container_id[CONTAINER_ID_MAX]; /* "" when in the pod's own cgroup */
	char qos[12];			/* "guaranteed", "burstable" or "besteffort" */
	bool conmon;			/* CRI-O's monitor process, not part of the container */
	size_t pod_path_len;		/* path[0, len) is the pod's own cgroup; 0 when it is not a directory */
};

/*
 * Split one line of /proc/PID/cgroup, "HIER:CONTROLLERS:PATH", in place
 * (the trailing newline is dropped). 0 on success, -1 on a malformed line.
 */
int cgroup_line_split(char *line, int *hier, char **controllers, char **path);

/*
 * Pod UID, container ID and QoS class from a cgroup path of either driver and
 * cgroup version (kubepods.slice/...-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope,
 * /kubepods/burstable/pod<uid>/<id>, containerd's "...pod<uid>.slice:cri-containerd:<id>",
 * and paths relative to a cgroup namespace, "/../../pod<uid>/<id>").
 * 0 when the path is inside a pod, -1 when not.
 */
int cgroup_path_pod(const char *path, struct cgroup_ref *ref);

/* A user-typed pod UID ("_" or "-" separated, any case) into the dashed form; -1 when not a UID. */
int pod_uid_normalize(const char *in, char out[POD_UID_MAX]);

/*
 * Does a pod's hostname (its /etc/hostname) come from pod name NAME? The
 * kubelet truncates names over 63 characters and trims a trailing '-' or '.'.
 */
bool pod_hostname_matches(const char *name, const char *hostname);

/*
 * The pod's namespace from its resolv.conf text: the first search domain of
 * the form NS.svc.CLUSTER-DOMAIN (dnsPolicy ClusterFirst). -1 when absent.
 */
int resolv_pod_namespace(const char *resolv_conf, char *ns, size_t len);

/* One process found in a pod. */
struct pod_proc {
	int pid, ppid;
	char comm[16];
	struct cgroup_ref ref;
	char container_name[64];	/* from the runtime's state, "" when unknown */
};

/* ---- I/O: /proc, the cgroup2 mount, the runtime's state (node/pods.c) ---- */

/* Every process of this node that lives in a pod, from /proc/[pid]/cgroup. */
struct pod_scan {
	struct pod_proc *procs;
	size_t n, cap;
	size_t walked;		/* processes looked at */
};

int pod_scan_proc(struct pod_scan *s);
void pod_scan_free(struct pod_scan *s);
/* Container names from the runtime's state (containerd, CRI-O; $RETINA_RUNTIME_STATE). */
void pod_scan_names(struct pod_scan *s);

/* What a pod calls itself: from the runtime's annotations, else /etc/hostname and the namespace files. */
struct pod_identity {
	char name[254], ns[64];
	const char *source;	/* "runtime" or "hostname" */
};
int pod_identify(const struct pod_scan *s, const char *uid, struct pod_identity *id);

/*
 * Every network namespace of this node that pods' processes are in
 * (/proc/PID/ns/net of each process pod_scan_proc finds), each once, with
 * its pod's UID and, when pod_identify knows it, namespace/name. The host's
 * own namespace (hostNetwork pods) is left out. *out is malloc'd.
 */
struct pod_netns {
	unsigned int inode;
	char uid[POD_UID_MAX];
	bool named;
	struct pod_identity id;
};
int pod_netns_scan(struct pod_netns **out, size_t *n);

/* The pod (UID, container) of pid from its /proc/PID/cgroup: 0, or -1 when not in a pod. */
int pod_ref_of_pid(int pid, struct cgroup_ref *ref);

/*
 * Pod UID -> "namespace/name" (pod_identify), cached per UID; an unknown
 * UID walks /proc at most once a second. NULL: not known on this node.
 */
struct pod_names;
struct pod_names *pod_names_new(void);
void pod_names_free(struct pod_names *p);
const char *pod_names_uid(struct pod_names *p, const char *uid);

/* Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid node). */
bool cgroup2_mount(char *out, size_t len);
bool is_cgroup2_dir(const char *path);
/*
 * What a tracer filters on for pod UID arg: its cgroup v2 directory (true,
 * into dir), else the mount namespaces of its processes (false, up to max
 * into mntns; cgroup v1 nodes). Dies with a message when the pod is not here.
 */
bool pod_trace_target(const char *arg, char *dir, size_t len, unsigned int mntns[], size_t max, size_t *nmntns);
/*
 * --cgroup PATH of a tracer: PATH itself when it is a cgroup v2 directory,
 * else PATH below the cgroup2 mount, into out. Dies with one line naming
 * PATH when neither is one (or no cgroup2 is mounted).
 */
void cgroup_resolve(const char *arg, char *out, size_t len);

#endif
