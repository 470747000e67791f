/*
 * nsenter's pure rules: which pod and container a cgroup path belongs to,
 * which process of a pod to enter, and what to tell the user when entering
 * fails. No I/O here, so cmocka and libFuzzer drive it directly.
 */
#ifndef RETINA_NSENTER_H
#define RETINA_NSENTER_H

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

enum pick_result {
	PICK_OK,
	PICK_NO_POD,		/* no process has that pod UID */
	PICK_NO_CONTAINER,	/* --container matches none of the pod's containers */
	PICK_AMBIGUOUS,		/* several containers and no --container (or a prefix of several) */
	PICK_SANDBOX_ONLY,	/* only the pause container: OK for -n/-u/-i, picked with a warning */
};

/*
 * The process to enter: in pod `uid`, the container named `container` (a
 * name, or a prefix of its ID; NULL: the only application container), and in
 * it, the container's first process (its parent is outside the container).
 * *idx is the index into procs for PICK_OK and PICK_SANDBOX_ONLY.
 */
enum pick_result pod_pick(const struct pod_proc *procs, size_t n, const char *uid, const char *container,
			  size_t *idx);

/* A pause (sandbox) container: every process of it is named "pause". */
bool pod_container_is_sandbox(const struct pod_proc *procs, size_t n, const char *uid, const char *cid);

/* The steps of entering that can fail for want of a privilege. */
enum ns_step {
	STEP_OPEN_NS,		/* open /proc/PID/ns/X: ptrace access check */
	STEP_SETNS,		/* setns(): CAP_SYS_ADMIN in the namespace's owner */
	STEP_CHROOT,		/* --root: CAP_SYS_CHROOT */
};

/*
 * What to tell the user about err at step: the capability that is missing and
 * the `kubectl retina shell` flag that grants it, or the seccomp/AppArmor flag
 * when the capability is there but the call was refused anyway.
 * cap_eff: this process's effective set; seccomp: 0 off, 2 filter, -1 unknown.
 */
const char *nsenter_fix(enum ns_step step, int err, uint64_t cap_eff, int seccomp, char *buf, size_t len);

/* ---- I/O side, in nsenter_pods.c (not built into unit tests' logic) ---- */

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

/* Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid node). */
bool cgroup2_mount(char *out, size_t len);
bool is_cgroup2_dir(const char *path);
/*
 * What a tracer filters on for pod UID arg: its cgroup v2 directory (true,
 * into dir), else the mount namespaces of its processes (false, up to max
 * into mntns; cgroup v1 nodes). Dies with a message when the pod is not here.
 */
bool pod_trace_target(const char *arg, char *dir, size_t len, unsigned int mntns[], size_t max, size_t *nmntns);

/* ---- the API server's view, in nsenter_api.c ---- */

struct pod_api_container {
	char name[64];
	char id[CONTAINER_ID_MAX];	/* without "containerd://"; "" when not started */
	char state[48];			/* "running", "waiting: ImagePullBackOff", ... */
};

struct pod_api {
	char uid[POD_UID_MAX], node[254], phase[32];
	bool host_network;
	struct pod_api_container c[32];	/* containers, init and ephemeral containers */
	size_t nc;
	char server[256];
};

enum pod_api_result {
	POD_API_OK,
	POD_API_NO_CONFIG,	/* no kubeconfig and not in a pod: find the pod on the node alone */
	POD_API_UNUSABLE,	/* unreachable, 403, bad config: why says so; the node-local lookup may still work */
};

/*
 * GET the pod NS/NAME when a kubeconfig (kubeconfig: --kubeconfig, else
 * KUBECONFIG, ~/.kube/config) or an in-cluster config is present. Dies when
 * the server says the pod does not exist (404) or the --kubeconfig named
 * cannot be used.
 */
int pod_api_lookup(const char *kubeconfig, const char *context, const char *ns, const char *name,
		   struct pod_api *pa, char *why, size_t len);

#endif
