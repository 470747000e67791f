/*
 * nsenter's pure rules (see nsenter.h): which process of a pod to enter, and
 * the fix to suggest when entering fails. (Cgroup paths -> pod and container
 * are node/pods_rules.c.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/nsenter/nsenter.h"
#include "lib/caps.h"

bool pod_container_is_sandbox(const struct pod_proc *procs, size_t n, const char *uid, const char *cid)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(procs[i].ref.pod_uid, uid) || strcmp(procs[i].ref.container_id, cid) || procs[i].ref.conmon)
			continue;
		if (strcmp(procs[i].comm, "pause"))
			return false;
		any = true;
	}
	return any;
}

/* The first process of container cid: its parent is not in the container; lowest PID wins ties. */
static size_t container_init(const struct pod_proc *procs, size_t n, const char *uid, const char *cid)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++) {
		const struct pod_proc *p = &procs[i];
		bool parent_inside = false;

		if (strcmp(p->ref.pod_uid, uid) || strcmp(p->ref.container_id, cid) || p->ref.conmon)
			continue;
		for (size_t j = 0; j < n; j++)
			if (procs[j].pid == p->ppid && !strcmp(procs[j].ref.pod_uid, uid) &&
			    !strcmp(procs[j].ref.container_id, cid) && !procs[j].ref.conmon)
				parent_inside = true;
		if (!parent_inside && (best == n || p->pid < procs[best].pid))
			best = i;
	}
	return best;
}

enum pick_result pod_pick(const struct pod_proc *procs, size_t n, const char *uid, const char *container,
			  size_t *idx)
{
	const char *found = NULL, *sandbox = NULL;
	size_t matches = 0, in_pod = 0;

	for (size_t i = 0; i < n; i++) {
		const struct pod_proc *p = &procs[i];
		const char *cid = p->ref.container_id;
		bool seen = false;

		if (strcmp(p->ref.pod_uid, uid))
			continue;
		in_pod++;
		if (!cid[0] || p->ref.conmon)
			continue;
		/* Count each container once: only at its first process. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(procs[j].ref.pod_uid, uid) && !strcmp(procs[j].ref.container_id, cid) &&
			       !procs[j].ref.conmon;
		if (seen)
			continue;
		if (container) {
			bool by_name = p->container_name[0] && !strcmp(p->container_name, container);
			bool by_id = !strncmp(cid, container, strlen(container)) && strlen(container) > 0;
			if (by_name) {	/* an exact name beats any ID prefix */
				found = cid;
				matches = 1;
				break;
			}
			if (by_id) {
				found = cid;
				matches++;
			}
			continue;
		}
		if (pod_container_is_sandbox(procs, n, uid, cid)) {
			sandbox = cid;
			continue;
		}
		found = cid;
		matches++;
	}
	if (!in_pod)
		return PICK_NO_POD;
	if (matches > 1)
		return PICK_AMBIGUOUS;
	if (!matches && container)
		return PICK_NO_CONTAINER;
	if (!matches && !sandbox)
		return PICK_NO_CONTAINER;
	*idx = container_init(procs, n, uid, found ? found : sandbox);
	if (*idx == n)
		return PICK_NO_CONTAINER;
	return found ? PICK_OK : PICK_SANDBOX_ONLY;
}

const char *nsenter_fix(enum ns_step step, int err, uint64_t cap_eff, int seccomp, char *buf, size_t len)
{
	int cap = step == STEP_OPEN_NS ? CAPN_SYS_PTRACE : step == STEP_SETNS ? CAPN_SYS_ADMIN : CAPN_SYS_CHROOT;

	if (err != EPERM && err != EACCES) {
		snprintf(buf, len, "%s", err == ENOENT ? "the process exited, or this kernel lacks that namespace" :
					 err == EINVAL ? "that namespace cannot be entered from this one" : "");
		return buf;
	}
	if (!(cap_eff & CAPBIT(cap))) {
		snprintf(buf, len, "needs CAP_%s: kubectl retina shell --capabilities %s", cap_name(cap), cap_name(cap));
		return buf;
	}
	if (step == STEP_SETNS && seccomp == 2) {
		snprintf(buf, len, "CAP_SYS_ADMIN is there, so a seccomp filter refused setns: "
				   "kubectl retina shell --seccomp-unconfined");
		return buf;
	}
	if (step == STEP_OPEN_NS) {
		snprintf(buf, len, "CAP_SYS_PTRACE is there, so an LSM refused it: "
				   "kubectl retina shell --apparmor-unconfined");
		return buf;
	}
	snprintf(buf, len, "CAP_%s is there, so AppArmor refused it or the namespace belongs to another user "
			   "namespace: kubectl retina shell --apparmor-unconfined, or add -U", cap_name(cap));
	return buf;
}
