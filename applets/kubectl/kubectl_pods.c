/*
 * kubectl retina bpftrace pods/NAME: a pod is traced on its node, filtered
 * in the kernel to its addresses (status.podIPs, both families). Several
 * pods, or --pod-selector: each node once, the union of the addresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/kubectl/kubectl_pods.h"
#include "kube/client.h"
#include "lib/retina.h"

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-."

static int add_once(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0;
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

/* One pod's node and addresses into out. */
static int take(const cJSON *pod, const char *ns, size_t max_addrs, struct bt_pods *out, char *err, size_t errlen)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(spec, "nodeName"), *ip;
	const char *pn = cJSON_IsString(name) ? name->valuestring : "?";
	size_t before = out->naddrs;

	if (!cJSON_IsString(node) || !node->valuestring[0] ||
	    strspn(node->valuestring, NAME_CHARS) != strlen(node->valuestring)) {
		snprintf(err, errlen, "pod %s/%s is not scheduled on a node yet: nothing to trace", ns, pn);
		return -1;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "hostNetwork"))) {
		snprintf(err, errlen, "pod %s/%s uses the node's network (hostNetwork): its addresses are the node's; "
			 "trace the node instead (kubectl retina bpftrace %s)", ns, pn, node->valuestring);
		return -1;
	}
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(st, "podIPs")) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(ip, "ip");
		if (cJSON_IsString(a) && strspn(a->valuestring, "0123456789abcdefABCDEF.:") == strlen(a->valuestring) &&
		    add_once(&out->addrs, &out->naddrs, a->valuestring))
			goto oom;
	}
	ip = cJSON_GetObjectItemCaseSensitive(st, "podIP");
	if (out->naddrs == before && cJSON_IsString(ip) &&
	    strspn(ip->valuestring, "0123456789abcdefABCDEF.:") == strlen(ip->valuestring) && ip->valuestring[0] &&
	    add_once(&out->addrs, &out->naddrs, ip->valuestring))
		goto oom;
	if (out->naddrs == before) {
		snprintf(err, errlen, "pod %s/%s has no address yet (status.podIPs is empty): wait until it runs", ns, pn);
		return -1;
	}
	if (out->naddrs > max_addrs) {
		snprintf(err, errlen, "the pods have %zu addresses, more than the %zu the tracer filters on: "
			 "name fewer pods", out->naddrs, max_addrs);
		return -1;
	}
	if (add_once(&out->nodes, &out->nnodes, node->valuestring))
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int bt_pods_resolve(struct kube_client *k, const char *ns, const char *const *names, size_t n, const char *selector,
		    size_t max_addrs, struct bt_pods *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		cJSON *pod;
		if (kube_get_pod(k, ns, names[i], &pod, err, errlen))
			return -1;
		int rc = take(pod, ns, max_addrs, out, err, errlen);
		cJSON_Delete(pod);
		if (rc)
			return -1;
	}
	if (selector) {
		char path[600], q[400];
		size_t j = 0;
		for (const char *c = selector; *c && j + 4 < sizeof(q); c++)	/* checked: no '%', '&', '#' */
			j += snprintf(q + j, sizeof(q) - j, strchr(" =!(),", *c) ? "%%%02X" : "%c", (unsigned char)*c);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s", ns, q);
		cJSON *list, *pod;
		if (kube_request(k, "GET", path, NULL, NULL, &list, NULL, err, errlen))
			return -1;
		size_t found = 0;
		cJSON_ArrayForEach(pod, cJSON_GetObjectItemCaseSensitive(list, "items")) {
			const cJSON *phase = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod,
								"status"), "phase");
			if (cJSON_IsString(phase) && (!strcmp(phase->valuestring, "Succeeded") ||
						      !strcmp(phase->valuestring, "Failed")))
				continue;	/* ended: its address may be another's now */
			found++;
			if (take(pod, ns, max_addrs, out, err, errlen)) {
				cJSON_Delete(list);
				return -1;
			}
		}
		cJSON_Delete(list);
		if (!found) {
			snprintf(err, errlen, "no running pod in namespace %s matches --pod-selector '%s' (see: kubectl "
				 "get pods -n %s -l '%s')", ns, selector, ns, selector);
			return -1;
		}
	}
	return 0;
}

void bt_pods_free(struct bt_pods *p)
{
	for (size_t i = 0; i < p->nnodes; i++)
		free(p->nodes[i]);
	for (size_t i = 0; i < p->naddrs; i++)
		free(p->addrs[i]);
	free(p->nodes);
	free(p->addrs);
	memset(p, 0, sizeof(*p));
}
