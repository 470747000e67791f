/*
 * TLS client over BearSSL. A tls_ctx holds what a kubeconfig cluster + user
 * give (trust anchors, client certificate and key, verification options) and
 * is shared by every connection made with it.
 */
#ifndef RETINA_NET_TLS_H
#define RETINA_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls_opts {
	const char *ca_pem;		/* PEM bundle of trusted CAs (required unless insecure) */
	size_t ca_len;
	const char *cert_pem;		/* client certificate chain, PEM (optional) */
	size_t cert_len;
	const char *key_pem;		/* its key: PKCS#1, SEC1 or PKCS#8, RSA or EC */
	size_t key_len;
	bool insecure;			/* do not verify the server (warns once per connection) */
	const char *server_name;	/* verify (and SNI) this name instead of the host dialled */
	/* How a user fixes things, in the words of the caller (NULL: kubeconfig words). */
	const char *ca_words;		/* "the cluster's certificate-authority" */
	const char *name_fix;		/* "set tls-server-name in the kubeconfig cluster" */
	const char *insecure_words;	/* "insecure-skip-tls-verify" */
};

/* What a connection negotiated and the server's certificate (for curl -v). */
struct tls_info {
	const char *version;		/* "TLSv1.2" */
	const char *cipher;		/* OpenSSL's name: "ECDHE-RSA-AES128-GCM-SHA256" */
	char subject[256], issuer[256];	/* "CN=kube-apiserver; O=..." */
	char sans[512];			/* "DNS:localhost, IP:127.0.0.1" */
	char not_before[40], not_after[40];
	bool verified;			/* false with insecure */
};

struct tls_ctx;
struct tls_conn;

/* NULL with a message in err when a PEM or key cannot be used. */
struct tls_ctx *tls_ctx_new(const struct tls_opts *o, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * Handshake on a connected socket fd (not owned: the caller closes it).
 * host is the name or IP address dialled: the certificate must name it
 * (or opts.server_name). NULL with a message in err, in words a user knows.
 */
struct tls_conn *tls_connect(struct tls_ctx *ctx, int fd, const char *host,
			     int timeout_ms, char *err, size_t errlen);
/*
 * Up to len bytes; 0 at a clean close, -1 on error (errno ETIMEDOUT when
 * nothing came within timeout_ms; < 0 waits forever).
 */
ssize_t tls_read(struct tls_conn *c, void *buf, size_t len, int timeout_ms);
/* All of buf or -1. */
int tls_write(struct tls_conn *c, const void *buf, size_t len, int timeout_ms);
/* The last error in words ("connection reset", "TLS alert: ..."). */
const char *tls_error(struct tls_conn *c, char *buf, size_t len);
/* Decrypted bytes are waiting: a read will not block. */
bool tls_pending(struct tls_conn *c);
/* Fill in what the handshake gave. */
void tls_get_info(struct tls_conn *c, struct tls_info *out);
/* The last failed handshake on ctx failed on the server's certificate (not the transport or TLS itself). */
bool tls_ctx_cert_failed(const struct tls_ctx *ctx);
/* Send close_notify (best effort) and free. */
void tls_close(struct tls_conn *c);

#endif
