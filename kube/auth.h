/*
 * Credentials for each request: a static token, a tokenFile (re-read when it
 * changes), or an exec credential plugin (run with execve, cached until its
 * expirationTimestamp, re-run after a 401). Secrets are never printed.
 */
#ifndef RETINA_KUBE_AUTH_H
#define RETINA_KUBE_AUTH_H

#include <stddef.h>
#include <time.h>

struct kube_config;
struct kube_auth;

struct kube_auth *kube_auth_new(const struct kube_config *cfg);
void kube_auth_free(struct kube_auth *a);

struct kube_creds {
	const char *token;		/* bearer token, or NULL */
	const char *cert_pem, *key_pem;	/* client identity from an exec plugin, or NULL */
	size_t cert_len, key_len;
	unsigned generation;		/* changes whenever cert/key change: rebuild TLS then */
};

/* Fill c for the next request (running the plugin if needed). 0, or -1 with err. */
int kube_auth_get(struct kube_auth *a, struct kube_creds *c, char *err, size_t errlen);
/*
 * The server answered 401: forget cached plugin output so the next get runs
 * it again. Returns 1 when retrying can help (a plugin or a token file), else 0.
 */
int kube_auth_unauthorized(struct kube_auth *a);

/*
 * An exec plugin's stdout: an ExecCredential of api_version with a token, a
 * client certificate and key (PEM), or both. 0 with c filled (malloc'd, free
 * with kube_exec_cred_free), or -1 with err naming cmd.
 */
struct kube_exec_cred {
	char *token, *cert, *key;
	time_t expiry;			/* 0: none given */
};
int kube_exec_credential_parse(const char *out, const char *api_version, const char *cmd, struct kube_exec_cred *c,
			       char *err, size_t errlen);
void kube_exec_cred_free(struct kube_exec_cred *c);

/* "2024-05-01T10:00:00Z" (fraction and offset allowed) to time_t; -1 when invalid. */
time_t kube_parse_time(const char *s);

#endif
