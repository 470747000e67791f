/*
 * nsenter's own rules and lookups. Pure (applets/nsenter/nsenter_rules.c,
 * unit-tested): which process of a pod to enter and what to tell the user
 * when entering fails. I/O (applets/nsenter/nsenter_api.c): the pod as the
 * API server sees it. Finding pods on the node is node/pods.h.
 */
#ifndef RETINA_NSENTER_H
#define RETINA_NSENTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/pods.h"

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
