/*
 * kubectl retina bpftrace names its events' addresses: a thread per
 * resource (pods, services, nodes) lists then watches it with a client of
 * its own and applies each object to the map under a mutex; the poll loop
 * takes the mutex around each line it renders (uncontended: ~20 ns).
 * Threads, not reader processes: the map is the renderer's, and the watch
 * streams block. They run with every signal blocked, so Ctrl-C still
 * interrupts the main thread's poll; they end with the process.
 *
 * A list of pods or services forbidden at the cluster scope (RBAC) falls
 * back to the namespaces the user may list: the namespaces are listed, each
 * asked with a one-item list (at most MAX_PROBE), and each that answers
 * gets a watch of its own (at most MAX_NS: a thread and a connection each,
 * so at most 2 * MAX_NS + 1 watches in all); without leave to list
 * namespaces, the -n/current one. What could not be named, and why (the
 * RBAC verb and resource), is said in one line per resource; naming never
 * fails the trace.
 */
#include <pthread.h>
#include <stdbool.h>
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
#define MAX_NS 16		/* namespaces watched per resource when the cluster scope is forbidden */
#define MAX_PROBE 256		/* namespaces asked at most: a request each, before the trace names them */

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
	const char *ns;		/* NULL: the cluster scope */
	uint32_t gen;		/* of the list in progress: its end closes what it did not hold */
	bool listed;		/* a list ended: a 403 now is the watch's */
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
		w->gen = kube_names_relist_begin_gen(n->m, w->kind);
	} else if (!strcmp(type, "END")) {
		kube_names_relist_end_in(n->m, w->kind, w->gen, w->ns, now);	/* another namespace's list may run */
		w->listed = true;
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

static void *watch_thread(void *arg);

static bool start_watch(struct watch *w)
{
	pthread_t t;
	pthread_attr_t attr;
	bool ok;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);	/* musl's default 128 KB is tight for TLS + JSON */
	ok = !pthread_create(&t, &attr, watch_thread, w);
	pthread_attr_destroy(&attr);
	return ok;
}

/* ", name" onto buf, or ", ..." once when it is full */
static void append(char *buf, size_t len, const char *name)
{
	size_t used = strlen(buf);

	if (used >= 3 && !strcmp(buf + used - 3, "..."))
		return;
	if (used + 2 + strlen(name) + 5 < len)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
	else
		snprintf(buf + used, len - used, "%s...", used ? ", " : "");
}

struct fallback {
	char ok[512], no[512];	/* namespaces named; forbidden (or failing) */
	int nok, nno, untried;
};

/* namespace name: ask for one item of the resource there; a watch of its own when it answers */
static void try_namespace(struct kube_client *k, struct watch *w, const char *name, struct fallback *f)
{
	char path[512], err[1024];
	cJSON *one = NULL;
	int st = 0;

	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name) || strlen(name) > 63)
		return;		/* not a namespace name: not into a path nor onto the terminal */
	if (f->nok >= MAX_NS || f->nok + f->nno >= MAX_PROBE) {
		f->untried++;
		return;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s?limit=1", name, resources[w->kind]);
	if (kube_request(k, "GET", path, NULL, NULL, &one, &st, err, sizeof(err))) {
		char what[96];
		snprintf(what, sizeof(what), st == 403 ? "%s" : "%s (HTTP %d)", name, st);	/* 0: no answer */
		f->nno++;
		append(f->no, sizeof(f->no), what);
		return;
	}
	cJSON_Delete(one);
	struct watch *nw = calloc(1, sizeof(*nw));
	char *ns = strdup(name);
	if (!nw || !ns) {
		free(nw);
		free(ns);
		f->nno++;
		append(f->no, sizeof(f->no), name);
		return;
	}
	*nw = (struct watch){ w->n, w->kind, ns, 0, false };	/* kept for the process's life, as the map */
	if (!start_watch(nw)) {
		f->nno++;
		append(f->no, sizeof(f->no), name);
		return;
	}
	f->nok++;
	append(f->ok, sizeof(f->ok), name);
}

/* The cluster scope forbidden: the namespaces the user may list, each watched; said in one line. */
static void fall_back(struct kube_client *k, struct watch *w)
{
	const char *res = resources[w->kind], *own = w->n->ns ? w->n->ns : "default";
	char err[1024], nons[160] = "";
	struct fallback f = { .nok = 0 };
	cJSON *list = NULL, *item;
	int st = 0;

	if (kube_request(k, "GET", "/api/v1/namespaces", NULL, NULL, &list, &st, err, sizeof(err))) {
		snprintf(nons, sizeof(nons), " nor namespaces (%s)",
			 st == 403 ? "RBAC: verb list on resource namespaces" : "cannot list them");
		try_namespace(k, w, own, &f);
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(list, "items")) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "metadata"),
								   "name");
		if (cJSON_IsString(nm))
			try_namespace(k, w, nm->valuestring, &f);
	}
	cJSON_Delete(list);
	char more[700] = "";
	if (f.nok && f.nno)
		snprintf(more, sizeof(more), "; not in %s (RBAC: list %s there)", f.no, res);
	if (f.untried)
		snprintf(more + strlen(more), sizeof(more) - strlen(more),
			 "; %d more not tried (at most %d namespaces are watched, %d asked)", f.untried, MAX_NS,
			 MAX_PROBE);
	if (!f.nok)
		warnx("cannot list %s at the cluster scope (RBAC: verbs list and watch on resource %s, see "
		      "docs/rbac.md)%s; no %s are named: list %s is forbidden in %s%s", res, res, nons, res, res,
		      f.nno ? f.no : "every namespace", more);
	else
		warnx("cannot list %s at the cluster scope (RBAC: verbs list and watch on resource %s, see "
		      "docs/rbac.md)%s; naming the %s of %d namespace%s you may list: %s%s", res, res, nons, res,
		      f.nok, f.nok == 1 ? "" : "s", f.ok, more);
}

static void *watch_thread(void *arg)
{
	struct watch *w = arg;
	const char *res = resources[w->kind];
	char err[1024], path[512], where[96] = "";
	int status = 0;
	struct kube_client *k = kube_client_new(w->n->cfg, w->n->verbosity, err, sizeof(err));

	if (!k) {
		warnx("cannot name %s: %s", res, err);
		return NULL;
	}
	if (w->ns) {
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s", w->ns, res);
		snprintf(where, sizeof(where), " in namespace %s", w->ns);
	} else {
		snprintf(path, sizeof(path), "/api/v1/%s", res);
	}
	if (!kube_list_watch(k, path, on_object, w, &status, err, sizeof(err)))
		goto out;
	if (status == 403 && w->listed)
		warnx("cannot watch %s%s (RBAC: verb watch on resource %s, see docs/rbac.md): named as first "
		      "listed, not followed", res, where, res);
	else if (status == 403 && !w->ns && w->kind != KN_NODE)
		fall_back(k, w);
	else if (status == 403)
		warnx("cannot list %s%s (RBAC: verbs list and watch on resource %s, see docs/rbac.md): their "
		      "addresses are not named", res, where, res);
	else
		warnx("cannot name %s%s: %s", res, where, err);
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
		w[i] = (struct watch){ n, (enum kn_kind)i, NULL, 0, false };
		started += start_watch(&w[i]);
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
