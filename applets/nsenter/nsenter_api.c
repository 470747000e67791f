/*
 * nsenter --pod NAMESPACE/NAME through the API server: when a kubeconfig or
 * an in-cluster config is at hand, the pod's metadata.uid and its
 * containers' IDs come from GET /api/v1/namespaces/NS/pods/NAME, and the
 * node-local cgroup walk does the rest. The API's answer beats the hostname
 * heuristic, which cannot find pods with hostNetwork or spec.hostname.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "applets/nsenter/nsenter.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "lib/retina.h"

/* Is there a config kube_config_load would use? (Its own order: flag, KUBECONFIG, ~/.kube/config, in-cluster.) */
static bool config_present(const char *kubeconfig)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char path[4096];

	if (kubeconfig && *kubeconfig)
		return true;
	if (env && *env) {
		char list[4096], *f, *save = NULL;
		snprintf(list, sizeof(list), "%s", env);
		for (f = strtok_r(list, ":", &save); f; f = strtok_r(NULL, ":", &save))
			if (!access(f, F_OK))
				return true;
	} else if (home && *home) {
		snprintf(path, sizeof(path), "%s/.kube/config", home);
		if (!access(path, F_OK))
			return true;
	}
	return getenv("KUBERNETES_SERVICE_HOST") && getenv("KUBERNETES_SERVICE_PORT");
}

/* A DNS-1123 name as the API would accept it in a URL path (no '/', '?', '%', ...). */
static bool api_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* "containerd://3f2a...": the ID after the runtime's scheme. */
static void container_id(const char *s, char *out, size_t len)
{
	const char *sep = strstr(s, "://");

	snprintf(out, len, "%s", sep ? sep + 3 : s);
}

/* One status of status.{init,,ephemeral}ContainerStatuses; state: "running", "waiting: ImagePullBackOff"... */
static void add_status(struct pod_api *pa, const cJSON *st)
{
	struct pod_api_container *c;
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(st, "state"), *s;

	if (pa->nc >= ARRAY_SIZE(pa->c) || !*str_at(st, "name", NULL))
		return;
	c = &pa->c[pa->nc++];
	snprintf(c->name, sizeof(c->name), "%s", str_at(st, "name", NULL));
	container_id(str_at(st, "containerID", NULL), c->id, sizeof(c->id));
	s = state ? state->child : NULL;
	if (s && s->string) {
		const char *reason = str_at(s, "reason", NULL);
		snprintf(c->state, sizeof(c->state), "%s%s%s", s->string, *reason ? ": " : "", reason);
	}
}

static void parse_pod(const cJSON *pod, struct pod_api *pa)
{
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses",
					     "ephemeralContainerStatuses" };
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(pod, "status");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");

	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "metadata"),
							    "annotations");
	const char *mirror = str_at(ann, "kubernetes.io/config.mirror", NULL);

	/* A static pod's cgroup is named by its config hash; the API shows its mirror pod, which has another UID. */
	if (pod_uid_normalize(*mirror ? mirror : str_at(pod, "metadata", "uid"), pa->uid))
		pa->uid[0] = '\0';
	snprintf(pa->node, sizeof(pa->node), "%s", str_at(spec, "nodeName", NULL));
	snprintf(pa->phase, sizeof(pa->phase), "%s", str_at(status, "phase", NULL));
	pa->host_network = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "hostNetwork"));
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		const cJSON *st;
		cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(status, lists[i]))
			add_status(pa, st);
	}
}

int pod_api_lookup(const char *kubeconfig, const char *context, const char *ns, const char *name,
		   struct pod_api *pa, char *why, size_t len)
{
	struct kube_load_opts lo = { .kubeconfig = kubeconfig, .context = context };
	struct kube_config cfg;
	struct kube_client *k;
	char err[1024], path[512];
	cJSON *pod = NULL;
	int status = 0, rc;

	memset(pa, 0, sizeof(*pa));
	why[0] = '\0';
	if (!config_present(kubeconfig))
		return POD_API_NO_CONFIG;
	if (!api_name(ns, 63) || !api_name(name, 253))
		usage_error("--pod %s/%s: not a namespace and pod name (lowercase letters, digits, '-' and '.')", ns, name);
	if (kube_config_load(&lo, &cfg, err, sizeof(err))) {
		if (kubeconfig && *kubeconfig)	/* asked for by name: its problem is the answer */
			die(EXIT_FAIL, "--kubeconfig: %s", err);
		snprintf(why, len, "cannot use the kubeconfig: %s", err);
		return POD_API_UNUSABLE;
	}
	snprintf(pa->server, sizeof(pa->server), "%s", cfg.server);
	k = kube_client_new(&cfg, 0, err, sizeof(err));
	if (!k) {
		snprintf(why, len, "cannot use the API server %s: %s", cfg.server, err);
		kube_config_free(&cfg);
		return POD_API_UNUSABLE;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	rc = kube_request(k, "GET", path, NULL, NULL, &pod, &status, err, sizeof(err));
	err[strcspn(err, "\n")] = '\0';	/* the first line: the server's words, not the generic RBAC list */
	if (!rc) {
		parse_pod(pod, pa);
		rc = pa->uid[0] ? POD_API_OK : POD_API_UNUSABLE;
		if (rc)
			snprintf(why, len, "the API server %s sent pod %s/%s without metadata.uid", cfg.server, ns, name);
	} else if (status == 404) {
		die(EXIT_FAIL, "pod %s not found in namespace %s (API server %s, context %s): kubectl get pods -n %s "
			       "lists its pods", name, ns, cfg.server, cfg.context ? cfg.context : "?", ns);
	} else if (status == 403) {
		snprintf(why, len, "the API server %s refused (403 Forbidden): user %s lacks the RBAC verb \"get\" on "
			 "\"pods\" in namespace %s (kubectl auth can-i get pods -n %s) [%s]", cfg.server,
			 cfg.user ? cfg.user : "?", ns, ns, err);
		rc = POD_API_UNUSABLE;
	} else if (!status) {
		snprintf(why, len, "cannot reach the API server %s: %s", cfg.server, err);
		rc = POD_API_UNUSABLE;
	} else {
		snprintf(why, len, "the API server %s answered HTTP %d: %s", cfg.server, status, err);
		rc = POD_API_UNUSABLE;
	}
	cJSON_Delete(pod);
	kube_client_free(k);
	kube_config_free(&cfg);
	return rc;
}
