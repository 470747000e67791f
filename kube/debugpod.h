/*
 * Debug pods retina starts on a user's behalf (kubectl retina shell, and
 * bpftrace later): the node pod spec, the ephemeral container for a pod,
 * waiting for it with hints a person can act on, and the pod's events.
 */
#ifndef RETINA_KUBE_DEBUGPOD_H
#define RETINA_KUBE_DEBUGPOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct kube_client;
struct kube_config;

#define DEBUGPOD_MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define DEBUGPOD_MANAGED_BY "kubectl-retina"
#define DEBUGPOD_NODE_LABEL "retina.io/node"
/* on a pod that mounts a --ship-binary ConfigMap: its name (the last run using it deletes it) */
#define DEBUGPOD_CONFIGMAP_LABEL "retina.io/configmap"
#define DEBUGPOD_CONFIGMAP_LABEL_Q "retina.io%2Fconfigmap"
#define DEBUGPOD_CONTAINER "retina-shell"
#define DEBUGPOD_SHIP_MOUNT "/retina-bin"	/* --ship-binary: where the ConfigMap is mounted */

struct debugpod_spec {
	const char *name;		/* the pod (node) or ephemeral container (pod) name */
	const char *ns;
	const char *node;		/* node pods */
	const char *image;
	const char *const *command;	/* NULL: the image's entrypoint (an interactive shell) */
	uint64_t caps;			/* capabilities to add (lib/caps.h bits); all others dropped */
	bool tty, open_stdin;
	bool mount_host, host_write, host_pid;
	bool apparmor_unconfined, seccomp_unconfined;
	const char *target_container;	/* ephemeral containers */
	/* --ship-binary: this ConfigMap at DEBUGPOD_SHIP_MOUNT (mode 0555), the image never
	 * pulled, run as root (a pause image's USER is 65535: no capabilities there) */
	const char *configmap;
};

/* The Pod to create for a node shell. NULL only when out of memory. */
cJSON *debugpod_node_pod(const struct debugpod_spec *s);
/* The EphemeralContainer to add to a pod. NULL only when out of memory. */
cJSON *debugpod_ephemeral(const struct debugpod_spec *s);

/* "retina-shell-" + 8 random hex digits into buf (>= 24 bytes). */
void debugpod_name(char *buf, size_t len, const char *prefix);

/*
 * Look at a pod while waiting for container (a regular or ephemeral one):
 * 1 when it runs, -1 with an actionable message when it cannot start
 * (image pull, config error, unschedulable, ended), 0 to keep waiting.
 * *phase: a short word for progress ("scheduling", "pulling image",
 * "starting", "running"), static.
 */
int debugpod_check(const cJSON *pod, const char *container, bool ephemeral, const char **phase,
		   char *err, size_t errlen);

struct debugpod_wait {
	const char *container;
	bool ephemeral;
	bool progress_tty;		/* progress on one line (\r) when stderr is a terminal */
	void (*progress)(const char *phase, void *arg);	/* NULL: quiet */
	void *arg;
};
/* Watch until the container runs: 0, or -1 with err (timeouts say so and suggest --timeout). */
/* The node must exist and run Linux; tool names who needs it in the error ("retina trace"). */
int debugpod_check_node(struct kube_client *k, const char *node, const char *tool, char *err, size_t errlen);
/*
 * The Linux nodes matching a label selector (passed to the server as is):
 * their names, malloc'd, in *names (*n of them); nodes of another OS are
 * skipped and counted in *skipped. 0, or -1 with err.
 */
int debugpod_select_nodes(struct kube_client *k, const char *selector, char ***names, size_t *n, size_t *skipped,
			  char *err, size_t errlen);
/* Clear the one-line progress that waiting drew on a terminal. */
void debugpod_progress_end(void);

int debugpod_wait(struct kube_client *k, const char *ns, const char *pod, int timeout_ms,
		  const struct debugpod_wait *w, char *err, size_t errlen);

/*
 * After an attach: the container's exit code from the pod's status (the
 * kubelet's attach always ends with Success; kubectl run reads it there too).
 * Waits up to timeout_ms for the container to be terminated: 0 with *code,
 * or -1 with err (still running, pod gone, no answer).
 */
int debugpod_exit_code(struct kube_client *k, const char *ns, const char *pod, const char *container,
		       bool ephemeral, int timeout_ms, int *code, char *err, size_t errlen);

/* The pod's recent events, as `kubectl describe` prints them, to stderr. */
void debugpod_print_events(struct kube_client *k, const char *ns, const char *pod);

/*
 * The image: "REPO:VERSION" (or REPO@sha256:... when VERSION is a digest).
 * repo/version: the flags (NULL or "": env RETINA_SHELL_IMAGE_REPO /
 * RETINA_SHELL_IMAGE_VERSION, then default_repo (the build's IMAGE_REPO; ""
 * for none) / default_version). -1 with err naming the bad or missing part.
 */
int debugpod_image(char *buf, size_t len, const char *repo, const char *version, const char *default_repo,
		   const char *default_version, char *err, size_t errlen);

/*
 * The supervisor (kube/debugpod_run.c): child(arg, created_fd) runs in a
 * child process and makes its pods with debugpod_create(); the parent
 * only waits, forwarding SIGINT/SIGTERM/SIGHUP as SIGTERM, and then deletes
 * every pod the child announced, whatever ended it (its return, an error,
 * a signal, a crash). A create still in flight when the child died is
 * deleted twice, a second apart, as it may land after the first delete.
 * Returns the child's exit code (128+N when killed by signal N); with
 * signal_sets_code, 128+N when we were stopped by signal N.
 */
struct debugpod_super {
	const struct kube_config *cfg;
	int verbosity;
	bool signal_sets_code;
	int (*child)(void *arg, int created_fd);
	void *arg;
};
int debugpod_supervise(const struct debugpod_super *s);
/* Tell the supervisor ('c'/'C': a pod, 'm'/'M': a ConfigMap, before and after its create). */
int debugpod_tell(int fd, char what, const char *ns, const char *name);
/* Tell the supervisor, create the pod (debugpod_node_pod(spec)), tell it the answer came. */
int debugpod_create(struct kube_client *k, int created_fd, const struct debugpod_spec *spec, char *err,
		    size_t errlen);

/* Pods carrying the managed-by label, in ns (NULL: every namespace): a PodList in *list. */
int debugpod_list_managed(struct kube_client *k, const char *ns, cJSON **list, char *err, size_t errlen);

#endif
