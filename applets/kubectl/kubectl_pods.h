/*
 * kubectl retina bpftrace pods/NAME and --pod-selector: the pods found,
 * their nodes (each traced once) and their addresses (the tracer's --ip
 * filters, both families): applets/kubectl/kubectl_pods.c.
 */
#ifndef RETINA_APPLETS_KUBECTL_PODS_H
#define RETINA_APPLETS_KUBECTL_PODS_H

#include <stdbool.h>
#include <stddef.h>

struct kube_client;

/* "pods/NAME", "pod/NAME", "po/NAME": true with NAME; exits 2 on a bad name. false: not a pod.
 * (pure: kubectl_bpftrace_rules.c, beside the node names) */
bool bt_pod_arg(const char *arg, const char **name);

struct bt_pods {
	char **nodes;		/* each once */
	size_t nnodes;
	char **addrs;		/* each once, IPv4 and IPv6 */
	size_t naddrs;
};

/*
 * The pods named (in ns) and those matching selector (in ns, may be NULL):
 * their nodes and addresses. -1 with err when a pod does not exist, is not
 * scheduled or has no address yet, when none matches, or on more than
 * max_addrs addresses.
 */
int bt_pods_resolve(struct kube_client *k, const char *ns, const char *const *names, size_t n, const char *selector,
		    size_t max_addrs, struct bt_pods *out, char *err, size_t errlen);
void bt_pods_free(struct bt_pods *p);

#endif
