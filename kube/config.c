/*
 * From kubeconfig files (or a pod's service account) to one kube_config:
 * which files, which context, and the credentials it names.
 */
#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/kubeconfig.h"
#include "lib/base64.h"
#include "lib/retina.h"

#define MAX_FILE (4u << 20)
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define SYSTEM_CAS "/etc/ssl/certs/ca-certificates.crt"

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void kube_config_free(struct kube_config *cfg)
{
	free(cfg->context);
	free(cfg->cluster);
	free(cfg->user);
	free(cfg->server);
	free(cfg->namespace);
	free(cfg->ca_pem);
	free(cfg->tls_server_name);
	free(cfg->proxy_url);
	free(cfg->cert_pem);
	if (cfg->key_pem)
		explicit_bzero(cfg->key_pem, cfg->key_len);
	free(cfg->key_pem);
	if (cfg->token)
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	free(cfg->token_file);
	if (cfg->exec) {
		struct kc_exec *e = cfg->exec;
		free(e->api_version);
		free(e->command);
		free(e->install_hint);
		for (size_t i = 0; e->args && e->args[i]; i++)
			free(e->args[i]);
		for (size_t i = 0; e->env && e->env[i]; i++)
			free(e->env[i]);
		free(e->args);
		free(e->env);
		free(e);
	}
	free(cfg->origin);
	memset(cfg, 0, sizeof(*cfg));
}

static char **dup_list(char **v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	char **d = calloc(n + 1, sizeof(*d));
	for (size_t i = 0; d && i < n; i++)
		d[i] = strdup(v[i]);
	return d;
}

/* Bytes from NAME-data (base64) or NAME (a file): 0, or -1 with err. */
static int data_or_file(const char *data, const char *file, const char *what, const char *owner,
			char **out, size_t *len, char *err, size_t errlen)
{
	if (data && data[0]) {
		if (!(*out = (char *)base64_decode(data, len))) {
			snprintf(err, errlen, "%s: %s-data is not valid base64", owner, what);
			return -1;
		}
		return 0;
	}
	if (file && file[0]) {
		if (!(*out = kube_read_file(file, MAX_FILE, len))) {
			snprintf(err, errlen, "%s: cannot read %s %s: %s", owner, what, file, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void list_names(char *buf, size_t len, const void *arr, size_t n, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 *(char *const *)((const char *)arr + i * size));
	if (!n)
		snprintf(buf, len, "none");
}

static int in_cluster(const struct kube_load_opts *o, struct kube_config *cfg, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = o->sa_dir ? o->sa_dir : SA_DIR;
	char path[4096];
	size_t n;

	cfg->in_cluster = true;
	cfg->origin = strdup("in-cluster config");
	n = strlen(host) + strlen(port) + 16;
	cfg->server = malloc(n);
	snprintf(cfg->server, n, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	snprintf(path, sizeof(path), "%s/token", dir);
	if (access(path, R_OK)) {
		snprintf(err, errlen, "in-cluster config: cannot read the service account token %s: %s "
			 "(is automountServiceAccountToken false?)", path, strerror(errno));
		return -1;
	}
	cfg->token_file = strdup(path);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (!(cfg->ca_pem = kube_read_file(path, MAX_FILE, &cfg->ca_len))) {
		snprintf(err, errlen, "in-cluster config: cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/namespace", dir);
	char *ns = kube_read_file(path, 256, NULL);
	if (ns)
		ns[strcspn(ns, " \t\r\n")] = '\0';
	cfg->namespace = strdup(o->namespace ? o->namespace : ns && ns[0] ? ns : "default");
	free(ns);
	cfg->context = strdup("in-cluster");
	return 0;
}

/* Read and merge one file; missing ones are skipped when optional. */
static int merge_file(struct kubeconfig *kc, const char *path, bool optional, int *loaded,
		      char *err, size_t errlen)
{
	size_t len;
	char perr[300];
	char *text = kube_read_file(path, MAX_FILE, &len);

	if (!text) {
		if (optional && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read kubeconfig %s: %s", path, strerror(errno));
		return -1;
	}
	char *copy = strdup(path);
	int rc = kubeconfig_merge(kc, text, len, dirname(copy), perr, sizeof(perr));
	free(copy);
	free(text);
	if (rc) {
		snprintf(err, errlen, "kubeconfig %s: %s", path, perr);
		return -1;
	}
	(*loaded)++;
	return 0;
}

static int pick(const struct kube_load_opts *o, struct kubeconfig *kc, struct kube_config *cfg,
		char *err, size_t errlen)
{
	const char *org = cfg->origin;
	const char *want = o->context && o->context[0] ? o->context : kc->current_context;
	struct kc_context *ctx = NULL;
	struct kc_cluster *cl = NULL;
	struct kc_user *u = NULL;
	char names[512], who[300];

	list_names(names, sizeof(names), kc->contexts, kc->ncontexts, sizeof(*kc->contexts));
	if (!want || !want[0]) {
		snprintf(err, errlen, "no current-context in %s: pass --context NAME (contexts: %s)", org, names);
		return -1;
	}
	for (size_t i = 0; i < kc->ncontexts && !ctx; i++)
		if (!strcmp(kc->contexts[i].name, want))
			ctx = &kc->contexts[i];
	if (!ctx) {
		snprintf(err, errlen, "context \"%s\" does not exist in %s (contexts: %s)", want, org, names);
		return -1;
	}
	for (size_t i = 0; ctx->cluster && i < kc->nclusters && !cl; i++)
		if (!strcmp(kc->clusters[i].name, ctx->cluster))
			cl = &kc->clusters[i];
	if (!cl) {
		snprintf(err, errlen, "context \"%s\" names cluster \"%s\", which %s does not define",
			 want, ctx->cluster ? ctx->cluster : "", org);
		return -1;
	}
	if (ctx->user && ctx->user[0]) {
		for (size_t i = 0; i < kc->nusers && !u; i++)
			if (!strcmp(kc->users[i].name, ctx->user))
				u = &kc->users[i];
		if (!u) {
			snprintf(err, errlen, "context \"%s\" names user \"%s\", which %s does not define",
				 want, ctx->user, org);
			return -1;
		}
	}
	cfg->context = strdup(want);
	cfg->cluster = strdup(cl->name);
	cfg->user = xstrdup(u ? u->name : NULL);
	cfg->namespace = strdup(o->namespace && o->namespace[0] ? o->namespace :
				ctx->namespace && ctx->namespace[0] ? ctx->namespace : "default");

	snprintf(who, sizeof(who), "cluster \"%s\"", cl->name);
	if (!cl->server || !cl->server[0]) {
		snprintf(err, errlen, "%s has no server (in %s)", who, org);
		return -1;
	}
	cfg->server = strdup(cl->server);
	cfg->insecure = cl->insecure;
	cfg->tls_server_name = xstrdup(cl->tls_server_name);
	cfg->proxy_url = xstrdup(cl->proxy_url);
	if (cl->insecure && ((cl->ca_data && cl->ca_data[0]) || (cl->ca_file && cl->ca_file[0]))) {
		/* kubectl refuses this pair too */
		snprintf(err, errlen, "%s: specifying a root certificates file with the insecure flag is not allowed", who);
		return -1;
	}
	if (data_or_file(cl->ca_data, cl->ca_file, "certificate-authority", who, &cfg->ca_pem, &cfg->ca_len, err, errlen))
		return -1;
	if (!cfg->ca_pem && !cl->insecure && !strncmp(cfg->server, "https:", 6))
		cfg->ca_pem = kube_read_file(SYSTEM_CAS, MAX_FILE, &cfg->ca_len);	/* as kubectl: the system roots */

	if (!u)
		return 0;
	snprintf(who, sizeof(who), "user \"%s\"", u->name);
	if (u->auth_provider) {
		snprintf(err, errlen, "%s uses auth-provider \"%s\", which is not supported (kubectl dropped it too): "
			 "use an exec credential plugin (such as kubelogin or gke-gcloud-auth-plugin)", who, u->auth_provider);
		return -1;
	}
	if (u->basic_auth) {
		snprintf(err, errlen, "%s uses username/password, which Kubernetes removed in 1.19: "
			 "use a token, a client certificate or an exec plugin", who);
		return -1;
	}
	if (data_or_file(u->cert_data, u->cert_file, "client-certificate", who, &cfg->cert_pem, &cfg->cert_len, err, errlen) ||
	    data_or_file(u->key_data, u->key_file, "client-key", who, &cfg->key_pem, &cfg->key_len, err, errlen))
		return -1;
	if (!cfg->cert_pem != !cfg->key_pem) {
		snprintf(err, errlen, "%s has a client %s but no client %s", who,
			 cfg->cert_pem ? "certificate" : "key", cfg->cert_pem ? "key" : "certificate");
		return -1;
	}
	cfg->token = xstrdup(u->token && u->token[0] ? u->token : NULL);
	cfg->token_file = xstrdup(u->token_file && u->token_file[0] ? u->token_file : NULL);
	if (u->exec) {
		struct kc_exec *e = calloc(1, sizeof(*e));
		if (!e)
			return -1;
		e->api_version = xstrdup(u->exec->api_version);
		e->command = xstrdup(u->exec->command);
		e->install_hint = xstrdup(u->exec->install_hint);
		e->args = dup_list(u->exec->args);
		e->env = dup_list(u->exec->env);
		e->provide_cluster_info = u->exec->provide_cluster_info;
		cfg->exec = e;
		if (!e->api_version || (strcmp(e->api_version, "client.authentication.k8s.io/v1") &&
					strcmp(e->api_version, "client.authentication.k8s.io/v1beta1"))) {
			snprintf(err, errlen, "%s: exec apiVersion \"%s\" is not supported: use "
				 "client.authentication.k8s.io/v1 or v1beta1", who, e->api_version ? e->api_version : "");
			return -1;
		}
	}
	return 0;
}

/* The files as kubectl picks them: --kubeconfig, else KUBECONFIG, else ~/.kube/config. */
static int merge_files(const struct kube_load_opts *o, struct kubeconfig *kc, char *origin, size_t olen,
		       int *loaded, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	char home[4096];

	if (o->kubeconfig && o->kubeconfig[0]) {
		if (merge_file(kc, o->kubeconfig, false, loaded, err, errlen))
			return -1;
		snprintf(origin, olen, "%s", o->kubeconfig);
	} else if (env && env[0]) {
		char *list = strdup(env), *save = NULL;
		const char **seen = calloc(strlen(env) / 2 + 2, sizeof(*seen));
		size_t nseen = 0;
		if (!list || !seen) {
			free(list);
			free(seen);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (char *f = strtok_r(list, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
			bool again = false;	/* kubectl reads a file listed twice once (a FIFO could not be read twice) */
			for (size_t i = 0; i < nseen && !again; i++)
				again = !strcmp(seen[i], f);
			if (again)
				continue;
			seen[nseen++] = f;
			if (merge_file(kc, f, true, loaded, err, errlen)) {
				free(list);
				free(seen);
				return -1;
			}
		}
		free(seen);
		free(list);
		snprintf(origin, olen, "KUBECONFIG=%s", env);
	} else if (getenv("HOME")) {
		snprintf(home, sizeof(home), "%s/.kube/config", getenv("HOME"));
		if (merge_file(kc, home, true, loaded, err, errlen))
			return -1;
		snprintf(origin, olen, "%s", home);
	}
	return 0;
}

int kube_config_contexts(const struct kube_load_opts *o, char ***names, size_t *n, char *err, size_t errlen)
{
	struct kubeconfig kc = { 0 };
	char origin[1024];
	int loaded = 0;

	*names = NULL;
	*n = 0;
	err[0] = '\0';
	if (merge_files(o, &kc, origin, sizeof(origin), &loaded, err, errlen)) {
		kubeconfig_free(&kc);
		return -1;
	}
	if (kc.ncontexts && !(*names = calloc(kc.ncontexts, sizeof(char *)))) {
		kubeconfig_free(&kc);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < kc.ncontexts; i++)
		if (kc.contexts[i].name && ((*names)[*n] = strdup(kc.contexts[i].name)))
			(*n)++;
	kubeconfig_free(&kc);
	return 0;
}

int kube_config_load(const struct kube_load_opts *o, struct kube_config *cfg, char *err, size_t errlen)
{
	struct kubeconfig kc = { 0 };
	char origin[1024] = "";
	int loaded = 0, rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	cfg->request_timeout_ms = o->request_timeout_ms;
	if (merge_files(o, &kc, origin, sizeof(origin), &loaded, err, errlen))
		goto out;

	if (!loaded) {
		if (getenv("KUBERNETES_SERVICE_HOST") && getenv("KUBERNETES_SERVICE_PORT")) {
			rc = in_cluster(o, cfg, err, errlen);
			goto out;
		}
		snprintf(err, errlen, "no kubeconfig found (%s) and not running in a pod: pass --kubeconfig FILE "
			 "or set KUBECONFIG", origin[0] ? origin : "HOME is not set");
		goto out;
	}
	cfg->origin = strdup(origin);
	rc = pick(o, &kc, cfg, err, errlen);
	if (rc && !err[0])
		snprintf(err, errlen, "out of memory");
out:
	kubeconfig_free(&kc);
	if (rc)
		kube_config_free(cfg);
	return rc;
}

int kube_parse_request_timeout(const char *s, int *ms)
{
	uint64_t v;

	if (parse_duration_ms(s, &v) || v > 86400000)
		return -1;
	*ms = v ? (int)v : -1;
	return 0;
}
