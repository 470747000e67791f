/* Kubernetes API client (see client.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/auth.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "lib/sys.h"
#include "net/http.h"
#include "net/tls.h"
#include "net/ws.h"

#define CONNECT_TIMEOUT_MS 15000
#define REQUEST_TIMEOUT_MS 30000	/* kubectl has none by default; a hung server must not hang us */
#define MAX_BODY (64u << 20)

struct kube_client {
	const struct kube_config *cfg;
	struct http_url url;
	char base[512];			/* path prefix of the server URL, without a trailing '/' */
	struct kube_auth *auth;
	struct tls_ctx *tls;
	unsigned tls_gen;
	struct http_conn *conn;		/* kept alive between requests */
	int verbosity;
	int timeout_ms;			/* 0: CONNECT_TIMEOUT_MS, and http's read default */
	const char *accept;		/* NULL: application/json */
	char proxy_host[256], proxy_port[8];
	struct http_response resp;
};

/* The proxy for this server: proxy-url, else HTTPS_PROXY/HTTP_PROXY unless NO_PROXY matches. */
static int pick_proxy(struct kube_client *k, char *err, size_t errlen)
{
	const char *p = k->cfg->proxy_url;
	struct http_url pu;
	char perr[300];

	if (!p || !p[0]) {
		const char *np = getenv("NO_PROXY") ? getenv("NO_PROXY") : getenv("no_proxy");
		if (k->url.https)
			p = getenv("HTTPS_PROXY") ? getenv("HTTPS_PROXY") : getenv("https_proxy");
		else
			p = getenv("HTTP_PROXY") ? getenv("HTTP_PROXY") : getenv("http_proxy");
		if (!p || !p[0] || http_no_proxy_match(np, k->url.host))
			return 0;
	}
	if (http_url_parse(p, &pu, perr, sizeof(perr)) || pu.https) {
		snprintf(err, errlen, "proxy '%s': %s", p, pu.https ? "https:// proxies are not supported, use http://" : perr);
		return -1;
	}
	snprintf(k->proxy_host, sizeof(k->proxy_host), "%s", pu.host);
	snprintf(k->proxy_port, sizeof(k->proxy_port), "%s", pu.port);
	return 0;
}

struct kube_client *kube_client_new(const struct kube_config *cfg, int verbosity, char *err, size_t errlen)
{
	struct kube_client *k = calloc(1, sizeof(*k));
	char uerr[300];

	if (!k || !(k->auth = kube_auth_new(cfg))) {
		free(k);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->cfg = cfg;
	k->verbosity = verbosity;
	if (http_url_parse(cfg->server, &k->url, uerr, sizeof(uerr))) {
		snprintf(err, errlen, "cluster \"%s\" server: %s", cfg->cluster ? cfg->cluster : "", uerr);
		goto fail;
	}
	snprintf(k->base, sizeof(k->base), "%.*s", (int)strcspn(k->url.path, "?"), k->url.path);
	size_t n = strlen(k->base);
	while (n && k->base[n - 1] == '/')
		k->base[--n] = '\0';
	if (pick_proxy(k, err, errlen))
		goto fail;
	return k;
fail:
	kube_client_free(k);
	return NULL;
}

void kube_client_free(struct kube_client *k)
{
	if (!k)
		return;
	http_close(k->conn);
	tls_ctx_free(k->tls);
	kube_auth_free(k->auth);
	free(k);
}

/* TLS material for these credentials (rebuilt when an exec plugin gives a new certificate). */
static int ensure_tls(struct kube_client *k, const struct kube_creds *c, char *err, size_t errlen)
{
	const struct kube_config *cfg = k->cfg;
	char terr[300];

	if (!k->url.https || (k->tls && k->tls_gen == c->generation))
		return 0;
	struct tls_opts o = {
		.ca_pem = cfg->ca_pem, .ca_len = cfg->ca_len, .insecure = cfg->insecure,
		.server_name = cfg->tls_server_name,
		.cert_pem = c->cert_pem ? c->cert_pem : cfg->cert_pem,
		.cert_len = c->cert_pem ? c->cert_len : cfg->cert_len,
		.key_pem = c->cert_pem ? c->key_pem : cfg->key_pem,
		.key_len = c->cert_pem ? c->key_len : cfg->key_len,
	};
	struct tls_ctx *t = tls_ctx_new(&o, terr, sizeof(terr));
	if (!t) {
		snprintf(err, errlen, "cluster \"%s\": %s", cfg->cluster ? cfg->cluster : "", terr);
		return -1;
	}
	http_close(k->conn);
	k->conn = NULL;
	tls_ctx_free(k->tls);
	k->tls = t;
	k->tls_gen = c->generation;
	return 0;
}

/* The longest wait for one answer; -1 none: the client's own bound
 * (kube_client_set_timeout, for completion), else --request-timeout. */
static int request_timeout(const struct kube_client *k)
{
	if (k->timeout_ms > 0)
		return k->timeout_ms;
	return k->cfg->request_timeout_ms ? k->cfg->request_timeout_ms : REQUEST_TIMEOUT_MS;
}

void kube_client_set_timeout(struct kube_client *k, int timeout_ms)
{
	k->timeout_ms = timeout_ms;
}

void kube_client_set_accept(struct kube_client *k, const char *accept)
{
	k->accept = accept;
}

static struct http_conn *dial(struct kube_client *k, char *err, size_t errlen)
{
	struct tls_ctx *t = k->url.https ? k->tls : NULL;
	int rt = request_timeout(k), ct = rt > 0 && rt < CONNECT_TIMEOUT_MS ? rt : CONNECT_TIMEOUT_MS;

	if (k->proxy_host[0])
		return http_connect_proxy(k->proxy_host, k->proxy_port, k->url.host, k->url.port, t, ct, err, errlen);
	return http_connect(k->url.host, k->url.port, t, ct, err, errlen);
}

static void log_request(struct kube_client *k, const char *method, const char *path, int status,
			const char *reason, long long start)
{
	bool v6 = strchr(k->url.host, ':') != NULL;

	if (k->verbosity < 1)
		return;
	/* URLs carry no credentials, and headers are never logged */
	fprintf(stderr, "retina: %s %s://%s%s%s:%s%s %d %s in %lld ms\n", method, k->url.https ? "https" : "http",
		v6 ? "[" : "", k->url.host, v6 ? "]" : "", k->url.port, path, status, reason ? reason : "",
		mono_ms() - start);
}

/*
 * Send one request on conn (opening or reopening it); the response head is
 * in r. Retries once on a stale kept-alive connection and once after a
 * 401 when new credentials may help. 0, or -1 with err (*status 0: no answer).
 */
static int send_request(struct kube_client *k, struct http_conn **conn, struct http_response *r,
			const char *method, const char *path, const char *ctype, const char *body, bool stream,
			int *status, char *err, size_t errlen)
{
	char full[4096], auth[4096];
	bool retried_401 = false;
	struct kube_creds c;

	*status = 0;
	if (snprintf(full, sizeof(full), "%s%s", k->base, path) >= (int)sizeof(full)) {
		snprintf(err, errlen, "request path too long");
		return -1;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		struct http_header h[4];
		size_t nh = 0;
		long long start = mono_ms();
		bool reused = *conn != NULL;

		if (kube_auth_get(k->auth, &c, err, errlen) || ensure_tls(k, &c, err, errlen))
			return -1;
		if (*conn && !http_reusable(*conn)) {
			http_close(*conn);
			*conn = NULL;
			reused = false;
		}
		if (!*conn && !(*conn = dial(k, err, errlen)))
			return -1;
		if (!stream)
			http_set_read_timeout(*conn, request_timeout(k));
		h[nh++] = (struct http_header){ "Accept", k->accept ? k->accept : "application/json" };
		h[nh++] = (struct http_header){ "User-Agent", "retina" };
		if (c.token) {
			snprintf(auth, sizeof(auth), "Bearer %s", c.token);
			h[nh++] = (struct http_header){ "Authorization", auth };
		}
		if (ctype)
			h[nh++] = (struct http_header){ "Content-Type", ctype };
		struct http_request q = { .method = method, .host = k->url.host, .path = full, .headers = h,
					  .nheaders = nh, .body = body, .body_len = body ? strlen(body) : 0,
					  .gzip = !stream };
		int rc = http_request(*conn, &q, r, err, errlen), e = errno;
		explicit_bzero(auth, sizeof(auth));
		if (rc) {
			http_close(*conn);
			*conn = NULL;
			if (reused && e != ETIMEDOUT)
				continue;	/* the server closed an idle connection: once more on a new one */
			if (e == ETIMEDOUT)
				snprintf(err + strlen(err), errlen - strlen(err), " waiting for %s %s; a slow API "
					 "server may need a longer --request-timeout", method, full);
			return -1;
		}
		*status = r->status;
		log_request(k, method, full, r->status, r->reason, start);
		if (r->status == 401 && !retried_401 && kube_auth_unauthorized(k->auth)) {
			char *junk;
			size_t jl;
			retried_401 = true;
			if (http_read_all(*conn, r, &junk, &jl, 1 << 16, err, errlen) == 0)
				free(junk);
			http_response_free(r);
			continue;
		}
		return 0;
	}
	snprintf(err, errlen, "%s %s: the connection kept failing", method, full);
	return -1;
}

/* Read the rest of a response: 2xx -> JSON in *out; else kubectl's error. */
static int finish(struct http_conn *conn, struct http_response *r, cJSON **out, char *err, size_t errlen)
{
	char *body;
	size_t len;
	int st = r->status;

	if (out)
		*out = NULL;
	if (http_read_all(conn, r, &body, &len, MAX_BODY, err, errlen)) {
		http_response_free(r);
		return -1;
	}
	http_response_free(r);
	if (st / 100 != 2) {
		kube_status_error(st, body, len, err, errlen);
		free(body);
		return -1;
	}
	if (out && len) {
		*out = cJSON_ParseWithLength(body, len);
		if (!*out) {
			snprintf(err, errlen, "the server answered with something that is not JSON");
			free(body);
			return -1;
		}
	}
	free(body);
	return 0;
}

int kube_request(struct kube_client *k, const char *method, const char *path, const char *content_type,
		 const char *body, cJSON **out, int *status, char *err, size_t errlen)
{
	int st;

	if (send_request(k, &k->conn, &k->resp, method, path, content_type, body, false, &st, err, errlen)) {
		if (status)
			*status = st;
		return -1;
	}
	if (status)
		*status = st;
	return finish(k->conn, &k->resp, out, err, errlen);
}

/* Names that go into URL paths: DNS-1123 labels/subdomains only. */
static int check_name(const char *what, const char *s, char *err, size_t errlen)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n) {
		snprintf(err, errlen, "%s '%s' is not a valid name (lowercase letters, digits, '-' and '.')",
			 what, s ? s : "");
		return -1;
	}
	return 0;
}

int kube_get_node(struct kube_client *k, const char *name, cJSON **node, char *err, size_t errlen)
{
	char path[300];

	if (check_name("node", name, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
	return kube_request(k, "GET", path, NULL, NULL, node, NULL, err, errlen);
}

int kube_list_nodes(struct kube_client *k, cJSON **list, char *err, size_t errlen)
{
	return kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, list, NULL, err, errlen);
}

int kube_create_pod(struct kube_client *k, const char *ns, const cJSON *pod, cJSON **created,
		    char *err, size_t errlen)
{
	char path[320];
	char *body;

	if (check_name("namespace", ns, err, errlen))
		return -1;
	if (!(body = cJSON_PrintUnformatted(pod))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
	int rc = kube_request(k, "POST", path, "application/json", body, created, NULL, err, errlen);
	free(body);
	return rc;
}

int kube_get_pod(struct kube_client *k, const char *ns, const char *name, cJSON **pod, char *err, size_t errlen)
{
	char path[600];

	if (check_name("namespace", ns, err, errlen) || check_name("pod", name, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	return kube_request(k, "GET", path, NULL, NULL, pod, NULL, err, errlen);
}

int kube_delete_pod(struct kube_client *k, const char *ns, const char *name, char *err, size_t errlen)
{
	static const char opts[] = "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0}";
	char path[600];
	int st;

	if (check_name("namespace", ns, err, errlen) || check_name("pod", name, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
	if (kube_request(k, "DELETE", path, "application/json", opts, NULL, &st, err, errlen))
		return st == 404 ? 0 : -1;
	return 0;
}

int kube_add_ephemeral_container(struct kube_client *k, const char *ns, const char *name,
				 const cJSON *container, cJSON **pod, char *err, size_t errlen)
{
	char path[640];

	if (check_name("namespace", ns, err, errlen) || check_name("pod", name, err, errlen))
		return -1;
	cJSON *patch = cJSON_CreateObject(), *spec = cJSON_AddObjectToObject(patch, "spec");
	cJSON *list = cJSON_AddArrayToObject(spec, "ephemeralContainers");
	cJSON_AddItemToArray(list, cJSON_Duplicate(container, 1));
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (!body) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/ephemeralcontainers", ns, name);
	int rc = kube_request(k, "PATCH", path, "application/strategic-merge-patch+json", body, pod, NULL, err, errlen);
	free(body);
	return rc;
}

int kube_list_pod_events(struct kube_client *k, const char *ns, const char *name, cJSON **list,
			 char *err, size_t errlen)
{
	char path[700];

	if (check_name("namespace", ns, err, errlen) || check_name("pod", name, err, errlen))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3D%s", ns, name);
	return kube_request(k, "GET", path, NULL, NULL, list, NULL, err, errlen);
}

struct kube_stream {
	struct http_conn *conn;
	struct http_response resp;
	char *buf;			/* unread bytes for kube_stream_line */
	size_t len, cap;
	bool eof;
};

int kube_stream_open(struct kube_client *k, const char *path, int timeout_ms, struct kube_stream **out,
		     char *err, size_t errlen)
{
	struct kube_stream *s = calloc(1, sizeof(*s));
	int st;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (send_request(k, &s->conn, &s->resp, "GET", path, NULL, NULL, true, &st, err, errlen)) {
		kube_stream_close(s);
		return -1;
	}
	if (st / 100 != 2) {
		finish(s->conn, &s->resp, NULL, err, errlen);
		kube_stream_close(s);
		return st == 410 || st == 403 ? -st : -1;
	}
	http_set_read_timeout(s->conn, timeout_ms);
	*out = s;
	return 0;
}

ssize_t kube_stream_read(struct kube_stream *s, void *buf, size_t len, int timeout_ms, char *err, size_t errlen)
{
	if (s->len) {	/* bytes kube_stream_line already took */
		size_t n = s->len < len ? s->len : len;
		memcpy(buf, s->buf, n);
		memmove(s->buf, s->buf + n, s->len - n);
		s->len -= n;
		return n;
	}
	http_set_read_timeout(s->conn, timeout_ms);
	return http_read_body(s->conn, &s->resp, buf, len, err, errlen);
}

char *kube_stream_line(struct kube_stream *s, int timeout_ms, char *err, size_t errlen)
{
	long long deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;

	err[0] = '\0';
	for (;;) {
		char *nl = s->len ? memchr(s->buf, '\n', s->len) : NULL;
		if (nl) {
			size_t n = nl - s->buf;
			char *line = malloc(n + 1);
			if (!line)
				return NULL;
			memcpy(line, s->buf, n);
			line[n] = '\0';
			memmove(s->buf, nl + 1, s->len - n - 1);
			s->len -= n + 1;
			return line;
		}
		if (s->eof)
			return NULL;
		if (s->cap - s->len < 4096) {
			if (s->cap >= MAX_BODY) {
				snprintf(err, errlen, "a line of the stream is larger than %u bytes", MAX_BODY);
				return NULL;
			}
			char *p = realloc(s->buf, s->cap ? s->cap * 2 : 16384);
			if (!p)
				return NULL;
			s->buf = p;
			s->cap = s->cap ? s->cap * 2 : 16384;
		}
		long long left = deadline < 0 ? -1 : deadline - mono_ms();
		if (deadline >= 0 && left <= 0)
			return NULL;
		http_set_read_timeout(s->conn, (int)left);
		ssize_t n = http_read_body(s->conn, &s->resp, s->buf + s->len, s->cap - s->len, err, errlen);
		if (n <= 0) {
			s->eof = true;
			if (n < 0 || !s->len)
				return NULL;
			s->buf[s->len++] = '\n';	/* a last line without its newline */
			continue;
		}
		s->len += n;
	}
}

void kube_stream_close(struct kube_stream *s)
{
	if (!s)
		return;
	http_response_free(&s->resp);
	http_close(s->conn);
	free(s->buf);
	free(s);
}

int kube_stream_logs(struct kube_client *k, const char *ns, const char *name, const char *container,
		     int follow, int fd, char *err, size_t errlen)
{
	char path[900], buf[8192];
	struct kube_stream *s;
	ssize_t n;

	if (check_name("namespace", ns, err, errlen) || check_name("pod", name, err, errlen) ||
	    (container && check_name("container", container, err, errlen)))
		return -1;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/log?%s%s%s", ns, name,
		 follow ? "follow=true" : "", container ? (follow ? "&container=" : "container=") : "",
		 container ? container : "");
	if (kube_stream_open(k, path, follow ? -1 : 30000, &s, err, errlen))
		return -1;
	while ((n = kube_stream_read(s, buf, sizeof(buf), follow ? -1 : 30000, err, errlen)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				snprintf(err, errlen, "writing the log: %s", strerror(errno));
				kube_stream_close(s);
				return -1;
			}
			off += w;
		}
	}
	kube_stream_close(s);
	return n < 0 ? -1 : 0;
}

int kube_ws_open(struct kube_client *k, const char *path, const char *const *protocols, struct ws **out,
		 char *err, size_t errlen)
{
	char full[4096], auth[4096];
	struct kube_creds c;

	*out = NULL;
	if (snprintf(full, sizeof(full), "%s%s", k->base, path) >= (int)sizeof(full)) {
		snprintf(err, errlen, "request path too long");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		struct http_header h[2];
		size_t nh = 0, bl = 0;
		char *body = NULL;
		int status;
		long long start = mono_ms();

		if (kube_auth_get(k->auth, &c, err, errlen) || ensure_tls(k, &c, err, errlen))
			return -1;
		struct http_conn *conn = dial(k, err, errlen);
		if (!conn)
			return -1;
		h[nh++] = (struct http_header){ "User-Agent", "retina" };
		if (c.token) {
			snprintf(auth, sizeof(auth), "Bearer %s", c.token);
			h[nh++] = (struct http_header){ "Authorization", auth };
		}
		*out = ws_connect(conn, k->url.host, full, protocols, h, nh, &status, &body, &bl, err, errlen);
		explicit_bzero(auth, sizeof(auth));
		log_request(k, "GET", full, *out ? 101 : status, *out ? "Switching Protocols" : "", start);
		if (*out)
			return 0;
		if (status == 401 && attempt == 0 && kube_auth_unauthorized(k->auth)) {
			free(body);
			continue;
		}
		if (status)
			kube_status_error(status, body, bl, err, errlen);
		free(body);
		return -1;
	}
	return -1;
}
