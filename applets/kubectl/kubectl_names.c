/*
 * kubectl retina bpftrace names its events' addresses: a thread per
 * resource (pods, services, nodes) lists then watches it with a client of
 * its own and applies each object to the map under a mutex; the poll loop
 * takes the mutex around each line it renders (uncontended: ~20 ns).
 * Threads, not reader processes: the map is the renderer's, and the watch
 * streams block. They run with every signal blocked, so Ctrl-C still
 * interrupts the main thread's poll; they end with the process.
 *
 * A list forbidden at the cluster scope (RBAC) falls back to the user's
 * namespace, said once per resource; naming never fails the trace.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applets/kubectl/kubectl_names.h"
#include "kube/client.h"
#include "lib/retina.h"

#define PRUNE_EVERY 4096		/* applies between prunes */
#define KEEP_NS (600LL * 1000000000)	/* intervals that ended this long ago: no event that old comes */

struct bt_namer {
	pthread_mutex_t mu;
	struct kube_names *m;
	const struct kube_config *cfg;
	int verbosity;
	const char *ns;
	unsigned applies;
};

struct watch {
	struct bt_namer *n;
	enum kn_kind kind;
};

static const char *const resources[KN_KINDS] = { "pods", "services", "nodes" };

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int on_object(const char *type, const cJSON *obj, void *arg)
{
	struct watch *w = arg;
	struct bt_namer *n = w->n;
	int64_t now = now_ns();

	pthread_mutex_lock(&n->mu);
	if (!strcmp(type, "BEGIN")) {
		kube_names_relist_begin(n->m, w->kind);
	} else if (!strcmp(type, "END")) {
		kube_names_relist_end(n->m, w->kind, now);
	} else if (!kube_names_apply(n->m, w->kind, type, obj, now) && n->verbosity > 0 && strcmp(type, "BOOKMARK")) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(md, "name");
		const cJSON *ns = cJSON_GetObjectItemCaseSensitive(md, "namespace");
		/* names passed kube_names_apply's check: [a-z0-9-./] only */
		warnx("names: %s %s%s%s %s", kube_names_key(w->kind), cJSON_IsString(ns) ? ns->valuestring : "",
		      cJSON_IsString(ns) ? "/" : "", nm->valuestring, type);
	}
	if (++n->applies % PRUNE_EVERY == 0)
		kube_names_prune(n->m, now - KEEP_NS);
	pthread_mutex_unlock(&n->mu);
	return 0;
}

static void *watch_thread(void *arg)
{
	struct watch *w = arg;
	const char *res = resources[w->kind];
	char err[1024], path[512];
	int status = 0;
	struct kube_client *k = kube_client_new(w->n->cfg, w->n->verbosity, err, sizeof(err));

	if (!k) {
		warnx("cannot name %s: %s", res, err);
		return NULL;
	}
	snprintf(path, sizeof(path), "/api/v1/%s", res);
	if (!kube_list_watch(k, path, on_object, w, &status, err, sizeof(err)))
		goto out;
	if (status == 403 && w->kind != KN_NODE) {
		warnx("cannot list %s at the cluster scope (RBAC: verbs list and watch on resource %s, see "
		      "docs/rbac.md): naming only the %s of namespace %s", res, res, res, w->n->ns);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s", w->n->ns, res);
		if (!kube_list_watch(k, path, on_object, w, &status, err, sizeof(err)))
			goto out;
	}
	if (status == 403)
		warnx("cannot list %s (RBAC: verbs list and watch on resource %s, see docs/rbac.md): their "
		      "addresses are not named", res, res);
	else
		warnx("cannot name %s: %s", res, err);
out:
	kube_client_free(k);
	return NULL;
}

struct bt_namer *bt_namer_start(const struct kube_config *cfg, int verbosity, const char *ns)
{
	static struct watch w[KN_KINDS];
	struct bt_namer *n = calloc(1, sizeof(*n));
	sigset_t all, old;
	int started = 0;

	if (!n || !(n->m = kube_names_new())) {
		free(n);
		warnx("out of memory: addresses are not named");
		return NULL;
	}
	pthread_mutex_init(&n->mu, NULL);
	n->cfg = cfg;
	n->verbosity = verbosity;
	n->ns = ns;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);	/* the threads inherit it: signals go to the poll loop */
	for (int i = 0; i < KN_KINDS; i++) {
		pthread_t t;
		pthread_attr_t attr;
		w[i] = (struct watch){ n, (enum kn_kind)i };
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256 * 1024);	/* musl's default 128 KB is tight for TLS + JSON */
		started += !pthread_create(&t, &attr, watch_thread, &w[i]);
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started)
		warnx("cannot start threads: addresses are not named");
	return n;	/* the map stays for the process's life: the threads may use it to the end */
}

const struct kube_names *bt_namer_map(struct bt_namer *n)
{
	return n ? n->m : NULL;
}

void bt_namer_lock(struct bt_namer *n)
{
	if (n)
		pthread_mutex_lock(&n->mu);
}

void bt_namer_unlock(struct bt_namer *n)
{
	if (n)
		pthread_mutex_unlock(&n->mu);
}
