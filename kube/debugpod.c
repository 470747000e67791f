/* Debug pods: specs, waiting with hints, events (see debugpod.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/debugpod.h"
#include "lib/caps.h"

static cJSON *str_array(const char *const *v)
{
	cJSON *a = cJSON_CreateArray();

	for (; a && v && *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

/* stdin/tty, capabilities drop ALL + the asked ones, seccomp/AppArmor only when asked. */
static cJSON *container(const struct debugpod_spec *s)
{
	cJSON *c = cJSON_CreateObject(), *sc, *caps, *add;
	char name[32];

	cJSON_AddStringToObject(c, "name", s->name && !s->node ? s->name : DEBUGPOD_CONTAINER);
	cJSON_AddStringToObject(c, "image", s->image);
	cJSON_AddStringToObject(c, "imagePullPolicy", s->configmap ? "Never" : "IfNotPresent");
	if (s->command)
		cJSON_AddItemToObject(c, "command", str_array(s->command));
	if (s->open_stdin) {	/* false is the default, and omitted as the API server does */
		cJSON_AddBoolToObject(c, "stdin", true);
		cJSON_AddBoolToObject(c, "stdinOnce", true);
	}
	if (s->tty)	/* false is the default, and Go's omitempty drops it */
		cJSON_AddBoolToObject(c, "tty", true);
	if (s->target_container)
		cJSON_AddStringToObject(c, "targetContainerName", s->target_container);
	sc = cJSON_AddObjectToObject(c, "securityContext");
	caps = cJSON_AddObjectToObject(sc, "capabilities");
	cJSON_AddItemToObject(caps, "drop", str_array((const char *const[]){ "ALL", NULL }));
	if (s->caps) {
		add = cJSON_AddArrayToObject(caps, "add");
		for (int i = 0; i < CAP_COUNT; i++)
			if (s->caps & CAPBIT(i)) {
				snprintf(name, sizeof(name), "%s", cap_name(i));
				cJSON_AddItemToArray(add, cJSON_CreateString(name));
			}
	}
	if (s->seccomp_unconfined)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(sc, "seccompProfile"), "type", "Unconfined");
	if (s->apparmor_unconfined)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(sc, "appArmorProfile"), "type", "Unconfined");
	if (s->configmap) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddNumberToObject(sc, "runAsUser", 0);
		cJSON_AddNumberToObject(sc, "runAsGroup", 0);
		cJSON_AddStringToObject(m, "name", "retina-bin");
		cJSON_AddStringToObject(m, "mountPath", DEBUGPOD_SHIP_MOUNT);
		cJSON_AddBoolToObject(m, "readOnly", true);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "volumeMounts"), m);
	}
	if (s->mount_host) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "name", "host-root");
		cJSON_AddStringToObject(m, "mountPath", "/host");
		if (!s->host_write)	/* writable is the default (omitempty) */
			cJSON_AddBoolToObject(m, "readOnly", true);
		cJSON *mounts = cJSON_GetObjectItemCaseSensitive(c, "volumeMounts");
		cJSON_AddItemToArray(mounts ? mounts : cJSON_AddArrayToObject(c, "volumeMounts"), m);
	}
	return c;
}

cJSON *debugpod_node_pod(const struct debugpod_spec *s)
{
	cJSON *pod = cJSON_CreateObject(), *md, *labels, *spec, *tol;

	cJSON_AddStringToObject(pod, "apiVersion", "v1");
	cJSON_AddStringToObject(pod, "kind", "Pod");
	md = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(md, "name", s->name);
	cJSON_AddStringToObject(md, "namespace", s->ns);
	labels = cJSON_AddObjectToObject(md, "labels");
	cJSON_AddStringToObject(labels, DEBUGPOD_MANAGED_BY_LABEL, DEBUGPOD_MANAGED_BY);
	if (strlen(s->node) <= 63)	/* a label value's limit; node names may be longer */
		cJSON_AddStringToObject(labels, DEBUGPOD_NODE_LABEL, s->node);
	if (s->configmap)
		cJSON_AddStringToObject(labels, DEBUGPOD_CONFIGMAP_LABEL, s->configmap);
	spec = cJSON_AddObjectToObject(pod, "spec");
	cJSON_AddStringToObject(spec, "nodeName", s->node);
	cJSON_AddBoolToObject(spec, "hostNetwork", true);
	if (s->host_pid)
		cJSON_AddBoolToObject(spec, "hostPID", true);
	cJSON_AddStringToObject(spec, "restartPolicy", "Never");
	cJSON_AddNumberToObject(spec, "terminationGracePeriodSeconds", 0);
	cJSON_AddBoolToObject(spec, "automountServiceAccountToken", false);
	tol = cJSON_CreateObject();
	cJSON_AddStringToObject(tol, "operator", "Exists");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "tolerations"), tol);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "containers"), container(s));
	cJSON *vols = s->mount_host || s->configmap ? cJSON_AddArrayToObject(spec, "volumes") : NULL;
	if (s->configmap) {
		cJSON *v = cJSON_CreateObject(), *cm;
		cJSON_AddStringToObject(v, "name", "retina-bin");
		cm = cJSON_AddObjectToObject(v, "configMap");
		cJSON_AddStringToObject(cm, "name", s->configmap);
		cJSON_AddNumberToObject(cm, "defaultMode", 0555);
		cJSON_AddItemToArray(vols, v);
	}
	if (s->mount_host) {
		cJSON *v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "name", "host-root");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(v, "hostPath"), "path", "/");
		cJSON_AddItemToArray(vols, v);
	}
	return pod;
}

cJSON *debugpod_ephemeral(const struct debugpod_spec *s)
{
	return container(s);
}

void debugpod_name(char *buf, size_t len, const char *prefix)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)clock();
	snprintf(buf, len, "%s%08x", prefix, r);
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *named(const cJSON *array, const char *name)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, array) {
		const char *n = str(c, "name");
		if (n && !strcmp(n, name))
			return c;
	}
	return NULL;
}

static int pod_state(const cJSON *pod, const char *cname, bool ephemeral, const char **phase, char *err,
		     size_t errlen)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	const char *pname = str(md, "name") ? str(md, "name") : "?";
	const cJSON *cspec = named(cJSON_GetObjectItemCaseSensitive(spec, ephemeral ? "ephemeralContainers" : "containers"),
				   cname);
	const char *image = cspec && str(cspec, "image") ? str(cspec, "image") : "?";
	const cJSON *c;

	*phase = "scheduling";
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "conditions")) {
		const char *type = str(c, "type"), *reason = str(c, "reason");
		if (type && !strcmp(type, "PodScheduled") && reason && !strcmp(reason, "Unschedulable")) {
			snprintf(err, errlen, "pod %s cannot be scheduled: %s (check the node's taints, "
				 "conditions and free resources: kubectl describe node)", pname,
				 str(c, "message") ? str(c, "message") : "Unschedulable");
			return -1;
		}
		if (type && !strcmp(type, "PodScheduled") && str(c, "status") && !strcmp(str(c, "status"), "True"))
			*phase = "pulling image";
	}
	const cJSON *cs = named(cJSON_GetObjectItemCaseSensitive(st, ephemeral ? "ephemeralContainerStatuses"
											  : "containerStatuses"), cname);
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(cs, "state");
	const cJSON *waiting = cJSON_GetObjectItemCaseSensitive(state, "waiting");
	const cJSON *term = cJSON_GetObjectItemCaseSensitive(state, "terminated");
	if (cJSON_GetObjectItemCaseSensitive(state, "running")) {
		*phase = "running";
		return 1;
	}
	if (term) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(term, "exitCode");
		snprintf(err, errlen, "container %s in pod %s ended before it could be attached (%s, exit code %d)",
			 cname, pname, str(term, "reason") ? str(term, "reason") : "terminated",
			 cJSON_IsNumber(code) ? code->valueint : -1);
		return -1;
	}
	const char *phase_s = str(st, "phase");
	if (!cs && phase_s && (!strcmp(phase_s, "Failed") || !strcmp(phase_s, "Succeeded"))) {
		snprintf(err, errlen, "pod %s ended (%s) before its shell started: %s", pname, phase_s,
			 str(st, "message") ? str(st, "message") : "see its events");
		return -1;
	}
	if (waiting) {
		const char *reason = str(waiting, "reason") ? str(waiting, "reason") : "";
		const char *msg = str(waiting, "message") ? str(waiting, "message") : "";
		if (!strcmp(reason, "ErrImageNeverPull")) {	/* --ship-binary: an image the node listed */
			snprintf(err, errlen, "the node's container runtime refused image %s with imagePullPolicy: "
				 "Never (%s%s%s); the node listed it in status.images, so its runtime may have "
				 "removed it since or keeps it where the kubelet does not look: run again to pick "
				 "another image, or run without --ship-binary", image, reason, msg[0] ? ": " : "", msg);
			return -1;
		}
		if (!strcmp(reason, "ImagePullBackOff") || !strcmp(reason, "ErrImagePull") ||
		    !strcmp(reason, "InvalidImageName")) {
			snprintf(err, errlen, "the node cannot pull image %s (%s%s%s); if the node cannot reach "
				 "that registry, push the image to a mirror it can reach and set "
				 "--retina-shell-image-repo (or RETINA_SHELL_IMAGE_REPO), or run with --ship-binary "
				 "(no registry: an image the node has)", image, reason,
				 msg[0] ? ": " : "", msg);
			return -1;
		}
		if (!strcmp(reason, "CreateContainerConfigError") || !strcmp(reason, "CreateContainerError") ||
		    !strcmp(reason, "RunContainerError")) {
			snprintf(err, errlen, "the container runtime refused container %s in pod %s (%s%s%s); "
				 "the pod's events say more", cname, pname, reason, msg[0] ? ": " : "", msg);
			return -1;
		}
		*phase = !strcmp(reason, "ContainerCreating") || !strcmp(reason, "PodInitializing") ? "starting"
											 : "pulling image";
	}
	return 0;
}

struct waitctx {
	const struct debugpod_wait *w;
	const char *last;
};

int debugpod_check(const cJSON *pod, const char *cname, bool ephemeral, const char **phase,
		   char *err, size_t errlen)
{
	int rc = pod_state(pod, cname, ephemeral, phase, err, errlen);

	if (rc < 0)	/* the server's words reach a terminal: no control characters */
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
	return rc;
}

static int wait_done(const cJSON *pod, void *arg, char *err, size_t errlen)
{
	struct waitctx *x = arg;
	const char *phase;
	int rc = debugpod_check(pod, x->w->container, x->w->ephemeral, &phase, err, errlen);

	if (x->w->progress && phase != x->last)
		x->w->progress(phase, x->w->arg);
	x->last = phase;
	return rc;
}

int debugpod_wait(struct kube_client *k, const char *ns, const char *pod, int timeout_ms,
		  const struct debugpod_wait *w, char *err, size_t errlen)
{
	struct waitctx x = { .w = w };

	if (!kube_watch_pod(k, ns, pod, timeout_ms, wait_done, &x, err, errlen))
		return 0;
	if (!strncmp(err, "timed out", 9)) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (last seen: %s); a slow image pull may need a longer --timeout",
			 x.last ? x.last : "nothing");
	}
	return -1;
}

struct exitctx {
	const char *container;
	bool ephemeral;
	int code;
};

static int exit_done(const cJSON *pod, void *arg, char *err, size_t errlen)
{
	struct exitctx *x = arg;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
	const cJSON *cs = named(cJSON_GetObjectItemCaseSensitive(st, x->ephemeral ? "ephemeralContainerStatuses"
										    : "containerStatuses"), x->container);
	const cJSON *term = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cs, "state"),
							     "terminated");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(term, "exitCode");

	(void)err;
	(void)errlen;
	if (!cJSON_IsNumber(code))
		return 0;
	x->code = code->valueint;
	return 1;
}

int debugpod_exit_code(struct kube_client *k, const char *ns, const char *pod, const char *container,
		       bool ephemeral, int timeout_ms, int *code, char *err, size_t errlen)
{
	struct exitctx x = { .container = container, .ephemeral = ephemeral, .code = -1 };

	if (kube_watch_pod(k, ns, pod, timeout_ms, exit_done, &x, err, errlen))
		return -1;
	*code = x.code;
	return 0;
}

void debugpod_print_events(struct kube_client *k, const char *ns, const char *pod)
{
	cJSON *list = NULL, *e;
	char err[512];

	if (kube_list_pod_events(k, ns, pod, &list, err, sizeof(err))) {
		fprintf(stderr, "  (events unavailable: %s)\n", err);
		return;
	}
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	if (!cJSON_GetArraySize(items)) {
		fprintf(stderr, "Events: <none>\n");
		cJSON_Delete(list);
		return;
	}
	fprintf(stderr, "Events:\n  %-8s %-18s %-22s %s\n", "Type", "Reason", "From", "Message");
	int n = cJSON_GetArraySize(items), i = 0;
	cJSON_ArrayForEach(e, items) {
		if (i++ < n - 10)	/* the last ten, as recent ones matter */
			continue;
		const cJSON *src = cJSON_GetObjectItemCaseSensitive(e, "source");
		char type[16], reason[32], from[64], msg[400];
		snprintf(type, sizeof(type), "%s", str(e, "type") ? str(e, "type") : "");
		snprintf(reason, sizeof(reason), "%s", str(e, "reason") ? str(e, "reason") : "");
		snprintf(from, sizeof(from), "%s", str(src, "component") ? str(src, "component") : "");
		snprintf(msg, sizeof(msg), "%s", str(e, "message") ? str(e, "message") : "");
		for (char *f[] = { type, reason, from, msg }, **q = f; q < f + 4; q++)
			for (char *p = *q; *p; p++)	/* server text never drives the terminal */
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = ' ';
		fprintf(stderr, "  %-8.8s %-18.18s %-22.22s %s\n", type, reason, from, msg);
	}
	cJSON_Delete(list);
}

int debugpod_list_managed(struct kube_client *k, const char *ns, cJSON **list, char *err, size_t errlen)
{
	char path[400];

	if (ns && strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(ns)) {
		snprintf(err, errlen, "'%s' is not a valid namespace", ns);
		return -1;
	}
	snprintf(path, sizeof(path), "/api/v1/%s%s%spods?labelSelector=app.kubernetes.io%%2Fmanaged-by%%3D%s",
		 ns ? "namespaces/" : "", ns ? ns : "", ns ? "/" : "", DEBUGPOD_MANAGED_BY);
	return kube_request(k, "GET", path, NULL, NULL, list, NULL, err, errlen);
}

int debugpod_check_node(struct kube_client *k, const char *node, const char *tool, char *err, size_t errlen)
{
	cJSON *n;

	if (kube_get_node(k, node, &n, err, errlen))
		return -1;
	cJSON *labels = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(n, "metadata"), "labels");
	cJSON *os = cJSON_GetObjectItemCaseSensitive(labels, "kubernetes.io/os");
	if (cJSON_IsString(os) && strcmp(os->valuestring, "linux")) {
		snprintf(err, errlen, "node %s runs %.32s (kubernetes.io/os), and %s needs a Linux node", node,
			 os->valuestring, tool);
		cJSON_Delete(n);
		return -1;
	}
	cJSON_Delete(n);
	return 0;
}

void debugpod_progress_end(void)
{
	if (isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
}

static bool is_linux(const cJSON *node)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "metadata"),
								"labels");
	const cJSON *os = cJSON_GetObjectItemCaseSensitive(labels, "kubernetes.io/os");

	return !cJSON_IsString(os) || !strcmp(os->valuestring, "linux");
}

int debugpod_select_nodes(struct kube_client *k, const char *selector, char ***names, size_t *n, size_t *skipped,
			  char *err, size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char path[1200] = "/api/v1/nodes?labelSelector=";
	size_t used = strlen(path);
	cJSON *list = NULL, *node;

	*names = NULL;
	*n = *skipped = 0;
	for (const unsigned char *c = (const unsigned char *)selector; *c; c++) {
		if (used + 4 > sizeof(path)) {
			snprintf(err, errlen, "the label selector is too long");
			return -1;
		}
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~", *c) && *c) {
			path[used++] = *c;
		} else {
			path[used++] = '%';
			path[used++] = hex[*c >> 4];
			path[used++] = hex[*c & 15];
		}
	}
	path[used] = '\0';
	if (kube_request(k, "GET", path, NULL, NULL, &list, NULL, err, errlen))
		return -1;
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	*names = calloc(cJSON_GetArraySize(items) + 1, sizeof(**names));
	if (!*names) {
		cJSON_Delete(list);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(node, items) {
		const char *name = str(cJSON_GetObjectItemCaseSensitive(node, "metadata"), "name");
		if (!name)
			continue;
		/* a node's name is a DNS subdomain; anything else would reach a terminal and JSON */
		if (!name[0] || strlen(name) > 253 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(name)) {
			snprintf(err, errlen, "the server listed a node whose name is not a DNS name; not tracing");
			cJSON_Delete(list);
			return -1;
		}
		if (!is_linux(node)) {
			(*skipped)++;
			continue;
		}
		if (!((*names)[*n] = strdup(name)))
			break;
		(*n)++;
	}
	cJSON_Delete(list);
	return 0;
}
