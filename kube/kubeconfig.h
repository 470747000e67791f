/*
 * kubeconfig: files (YAML or JSON) merged the way kubectl merges them, the
 * context picked by --context / current-context, or in-cluster config; the
 * result is what a client needs to reach and authenticate to one cluster.
 */
#ifndef RETINA_KUBE_KUBECONFIG_H
#define RETINA_KUBE_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* ---- the raw model of kubeconfig files ---- */

struct kc_cluster {
	char *name, *server, *ca_file, *ca_data, *tls_server_name, *proxy_url;
	bool insecure;
};

struct kc_exec {
	char *api_version, *command, *install_hint;
	char **args;		/* NULL-terminated */
	char **env;		/* NULL-terminated "NAME=VALUE" */
	bool provide_cluster_info;
};

struct kc_user {
	char *name;
	char *cert_file, *cert_data, *key_file, *key_data;	/* data: base64 as in the file */
	char *token, *token_file;
	char *auth_provider;	/* its name when the user has one (not supported) */
	bool basic_auth;	/* username/password (not supported) */
	struct kc_exec *exec;
};

struct kc_context {
	char *name, *cluster, *user, *namespace;
};

struct kubeconfig {
	struct kc_cluster *clusters;
	size_t nclusters;
	struct kc_user *users;
	size_t nusers;
	struct kc_context *contexts;
	size_t ncontexts;
	char *current_context;
};

/*
 * Parse one kubeconfig (YAML or JSON) and merge it into kc: entries whose
 * names kc already has are ignored (the first file wins), and so is
 * current-context when kc has one. Relative paths are resolved against dir
 * (NULL: left as they are). 0, or -1 with err naming the problem.
 */
int kubeconfig_merge(struct kubeconfig *kc, const char *text, size_t len, const char *dir,
		     char *err, size_t errlen);
void kubeconfig_free(struct kubeconfig *kc);

/* ---- what a client uses ---- */

struct kube_load_opts {
	const char *kubeconfig;	/* --kubeconfig: this one file, KUBECONFIG ignored */
	const char *context;	/* --context */
	const char *namespace;	/* -n/--namespace */
	const char *sa_dir;	/* in-cluster secrets; NULL: /var/run/secrets/kubernetes.io/serviceaccount */
	int request_timeout_ms;	/* --request-timeout: 0 the default (30 s), -1 none */
};

struct kube_config {
	char *context, *cluster, *user;	/* names, for messages */
	char *server;			/* "https://host:port" */
	char *namespace;		/* never NULL after a load */
	char *ca_pem;			/* NULL with insecure */
	size_t ca_len;
	bool insecure;
	char *tls_server_name, *proxy_url;
	char *cert_pem, *key_pem;	/* client identity from the kubeconfig */
	size_t cert_len, key_len;
	char *token, *token_file;
	struct kc_exec *exec;		/* owned copy */
	char *origin;			/* where it came from: file list or "in-cluster" */
	bool in_cluster;
	int request_timeout_ms;		/* each request's (not a stream's): 0 30 s, -1 none */
};

/*
 * Load the kubeconfig as kubectl would: --kubeconfig, else every file of
 * KUBECONFIG (':'-separated, missing files skipped), else ~/.kube/config,
 * else in-cluster config (KUBERNETES_SERVICE_HOST/PORT + service account).
 * 0, or -1 with an error naming the file or entry and the fix.
 */
int kube_config_load(const struct kube_load_opts *o, struct kube_config *cfg, char *err, size_t errlen);
void kube_config_free(struct kube_config *cfg);
/* The context names of the kubeconfig files kube_config_load would read (malloc'd each). */
int kube_config_contexts(const struct kube_load_opts *o, char ***names, size_t *n, char *err, size_t errlen);

/* --request-timeout as kubectl takes it: a duration (a bare number is seconds), 0 for none. 0 or -1. */
int kube_parse_request_timeout(const char *s, int *ms);

/* Read a whole (small) file: malloc'd, NUL-terminated; NULL with errno. */
char *kube_read_file(const char *path, size_t max, size_t *len);

#endif
