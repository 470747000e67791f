/*
 * retina trace --pods: each event's network namespace named by the pod that
 * lives in it, from the node alone (node/pods.c: its processes' cgroups,
 * the runtime's state on disk), for the debug shell and air-gapped nodes.
 */
#ifndef RETINA_APPLETS_TRACE_PODS_H
#define RETINA_APPLETS_TRACE_PODS_H

struct trace_pods;

struct trace_pods *trace_pods_new(void);
void trace_pods_free(struct trace_pods *p);
/*
 * "namespace/name" of the pod in network namespace inode (its UID when the
 * node does not say its name), NULL for none (the host's, or not a pod's).
 * An inode not seen before looks again, at most once a second: pods come.
 */
const char *trace_pods_name(struct trace_pods *p, unsigned int inode);

#endif
