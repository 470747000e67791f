/*
 * TLS client over BearSSL (see tls.h). The server's chain is checked by
 * br_x509_minimal, wrapped in a small x509 class of ours that also keeps the
 * end-entity certificate: to match IP-address SANs (BearSSL matches DNS
 * names only), to skip verification when asked, and to explain failures
 * with the names and dates the certificate really has.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "lib/retina.h"
#include "lib/sys.h"
#include "net/addr.h"
#include "net/tls.h"
#include "net/x509.h"

struct tls_ctx {
	br_x509_trust_anchor *tas;
	size_t ntas;
	br_x509_certificate *chain;
	size_t nchain;
	br_skey_decoder_context skey;
	int key_type;			/* 0: no client identity */
	bool insecure, warned;
	bool cert_failed;		/* the last handshake failed on the server's certificate */
	char *server_name;
	const char *ca_words, *name_fix, *insecure_words;	/* static strings of the caller */
};

/* Our x509 class: br_x509_minimal plus what we need to know of the leaf. */
struct verifier {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	br_x509_decoder_context leaf;	/* decodes the leaf: key (insecure mode), dates */
	unsigned char *leaf_der;
	size_t leaf_len, leaf_cap;
	int depth;
	bool insecure, want_is_ip;
	struct ipaddr want_ip;
	int err;			/* what end_chain returned */
};

struct tls_conn {
	br_ssl_client_context cc;
	struct verifier v;
	struct tls_ctx *ctx;
	int fd;
	int sys_err;			/* errno of the last socket failure */
	bool eof;			/* the peer closed TCP */
	bool dead;			/* a socket error ended the connection */
	char name[256];			/* the name verified */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* ---- the x509 class ----------------------------------------------------- */

#define VERIFIER(ctx) ((struct verifier *)(void *)(ctx))

static void v_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct verifier *v = VERIFIER(ctx);

	v->depth = 0;
	v->leaf_len = 0;
	v->err = 0;
	v->minimal.vtable->start_chain(&v->minimal.vtable, server_name);
}

static void v_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct verifier *v = VERIFIER(ctx);

	if (++v->depth == 1) {
		br_x509_decoder_init(&v->leaf, NULL, NULL);
		if (length > v->leaf_cap) {
			unsigned char *p = realloc(v->leaf_der, length);
			if (p) {
				v->leaf_der = p;
				v->leaf_cap = length;
			}
		}
	}
	v->minimal.vtable->start_cert(&v->minimal.vtable, length);
}

static void v_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct verifier *v = VERIFIER(ctx);

	if (v->depth == 1) {
		br_x509_decoder_push(&v->leaf, buf, len);
		if (v->leaf_len + len <= v->leaf_cap) {
			memcpy(v->leaf_der + v->leaf_len, buf, len);
			v->leaf_len += len;
		}
	}
	v->minimal.vtable->append(&v->minimal.vtable, buf, len);
}

static void v_end_cert(const br_x509_class **ctx)
{
	struct verifier *v = VERIFIER(ctx);

	v->minimal.vtable->end_cert(&v->minimal.vtable);
}

static unsigned v_end_chain(const br_x509_class **ctx)
{
	struct verifier *v = VERIFIER(ctx);
	unsigned err = v->minimal.vtable->end_chain(&v->minimal.vtable);

	if (v->insecure)
		return v->err = 0;
	if (err == 0 && v->want_is_ip && !x509_has_ip_san(v->leaf_der, v->leaf_len, &v->want_ip))
		err = BR_ERR_X509_BAD_SERVER_NAME;
	v->err = err;
	return err;
}

static const br_x509_pkey *v_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct verifier *v = VERIFIER(ctx);

	if (!v->insecure)
		return v->minimal.vtable->get_pkey(&v->minimal.vtable, usages);
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&v->leaf);
}

static const br_x509_class verifier_class = {
	sizeof(struct verifier),
	v_start_chain, v_start_cert, v_append, v_end_cert, v_end_chain, v_get_pkey,
};

/* ---- context: anchors, client identity ---------------------------------- */

struct dnbuf {
	unsigned char *p;
	size_t len;
	int oom;
};

static void dn_append(void *ctx, const void *data, size_t len)
{
	struct dnbuf *d = ctx;
	unsigned char *p;

	if (d->oom || !(p = realloc(d->p, d->len + len))) {
		d->oom = 1;
		return;
	}
	memcpy(p + d->len, data, len);
	d->p = p;
	d->len += len;
}

static unsigned char *dup_bytes(const void *p, size_t len)
{
	unsigned char *q = malloc(len ? len : 1);

	if (q)
		memcpy(q, p, len);
	return q;
}

static int add_anchor(struct tls_ctx *ctx, const struct pem_obj *o, char *err, size_t errlen)
{
	br_x509_decoder_context dc;
	struct dnbuf dn = { 0 };
	const br_x509_pkey *pk;
	br_x509_trust_anchor *ta, *grown;

	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, o->der, o->len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || dn.oom) {
		free(dn.p);
		snprintf(err, errlen, "CA certificate %zu cannot be decoded (BearSSL error %d)",
			 ctx->ntas + 1, br_x509_decoder_last_error(&dc));
		return -1;
	}
	grown = realloc(ctx->tas, (ctx->ntas + 1) * sizeof(*ta));
	if (!grown) {
		free(dn.p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ctx->tas = grown;
	ta = &ctx->tas[ctx->ntas++];
	memset(ta, 0, sizeof(*ta));
	ta->dn.data = dn.p;
	ta->dn.len = dn.len;
	/* A non-CA anchor is trusted as exactly that certificate (self-signed servers). */
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	return 0;
}

static int load_key(struct tls_ctx *ctx, const char *pem, size_t len, char *err, size_t errlen)
{
	struct pem_obj *objs;
	char perr[128];
	int n = pem_decode(pem, len, &objs, perr, sizeof(perr));

	if (n < 0) {
		snprintf(err, errlen, "client key: %s", perr);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = objs[i].name;
		if (!strcmp(name, "EC PARAMETERS"))	/* openssl ecparam -genkey writes it first */
			continue;
		if (!strcmp(name, "ENCRYPTED PRIVATE KEY") || strstr(name, "ENCRYPTED")) {
			snprintf(err, errlen, "client key is encrypted: decrypt it first "
				 "(openssl pkey -in KEY -out PLAIN.key)");
			break;
		}
		if (strcmp(name, "RSA PRIVATE KEY") && strcmp(name, "EC PRIVATE KEY") &&
		    strcmp(name, "PRIVATE KEY"))
			continue;
		br_skey_decoder_init(&ctx->skey);
		br_skey_decoder_push(&ctx->skey, objs[i].der, objs[i].len);
		int e = br_skey_decoder_last_error(&ctx->skey);
		if (e) {
			snprintf(err, errlen, "client key '%s' cannot be decoded (BearSSL error %d): "
				 "RSA or EC keys in PKCS#1, SEC1 or PKCS#8 form work", name, e);
			break;
		}
		ctx->key_type = br_skey_decoder_key_type(&ctx->skey);
		pem_free(objs, n);
		return 0;
	}
	if (!err[0])
		snprintf(err, errlen, "client key: no PRIVATE KEY in the PEM data");
	pem_free(objs, n);
	return -1;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	if (!ctx)
		return;
	for (size_t i = 0; i < ctx->ntas; i++) {
		br_x509_trust_anchor *ta = &ctx->tas[i];
		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else {
			free(ta->pkey.key.ec.q);
		}
	}
	free(ctx->tas);
	for (size_t i = 0; i < ctx->nchain; i++)
		free(ctx->chain[i].data);
	free(ctx->chain);
	free(ctx->server_name);
	explicit_bzero(&ctx->skey, sizeof(ctx->skey));
	free(ctx);
}

struct tls_ctx *tls_ctx_new(const struct tls_opts *o, char *err, size_t errlen)
{
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));
	struct pem_obj *objs = NULL;
	char perr[128];
	int n;

	err[0] = '\0';
	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctx->insecure = o->insecure;
	ctx->ca_words = o->ca_words ? o->ca_words : "the cluster's certificate-authority";
	ctx->name_fix = o->name_fix ? o->name_fix : "set tls-server-name in the kubeconfig cluster";
	ctx->insecure_words = o->insecure_words ? o->insecure_words : "insecure-skip-tls-verify";
	if (o->server_name && o->server_name[0] && !(ctx->server_name = strdup(o->server_name)))
		goto oom;
	if (o->ca_pem) {
		if ((n = pem_decode(o->ca_pem, o->ca_len, &objs, perr, sizeof(perr))) < 0) {
			snprintf(err, errlen, "certificate authority: %s", perr);
			goto fail;
		}
		for (int i = 0; i < n; i++)
			if (!strcmp(objs[i].name, "CERTIFICATE") && add_anchor(ctx, &objs[i], err, errlen))
				break;
		pem_free(objs, n);
		if (err[0])
			goto fail;
	}
	if (!ctx->ntas && !ctx->insecure) {
		if (o->ca_words)
			snprintf(err, errlen, "no CA certificate to verify the server with in %s", o->ca_words);
		else
			snprintf(err, errlen, "no CA certificate to verify the server with: set "
				 "certificate-authority(-data) for the cluster");
		goto fail;
	}
	if (!o->cert_pem != !o->key_pem) {
		snprintf(err, errlen, "a client certificate needs its key and a key its certificate");
		goto fail;
	}
	if (o->cert_pem) {
		if ((n = pem_decode(o->cert_pem, o->cert_len, &objs, perr, sizeof(perr))) < 0) {
			snprintf(err, errlen, "client certificate: %s", perr);
			goto fail;
		}
		if (!(ctx->chain = calloc(n, sizeof(*ctx->chain))))
			goto oom;
		for (int i = 0; i < n; i++) {
			if (strcmp(objs[i].name, "CERTIFICATE"))
				continue;
			ctx->chain[ctx->nchain].data = objs[i].der;
			ctx->chain[ctx->nchain++].data_len = objs[i].len;
			objs[i].der = NULL;
		}
		pem_free(objs, n);
		if (!ctx->nchain) {
			snprintf(err, errlen, "client certificate: no CERTIFICATE in the PEM data");
			goto fail;
		}
		if (load_key(ctx, o->key_pem, o->key_len, err, errlen))
			goto fail;
	}
	return ctx;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	tls_ctx_free(ctx);
	return NULL;
}

/* ---- socket I/O driving the engine -------------------------------------- */

/* Wait for fd to be ready; 0 ok, -1 with c->sys_err (ETIMEDOUT at the deadline). */
static int wait_fd(struct tls_conn *c, short events, long long deadline)
{
	for (;;) {
		int left = -1;
		if (deadline >= 0) {
			long long d = deadline - mono_ms();
			left = d > 0 ? (int)d : 0;
		}
		struct pollfd p = { .fd = c->fd, .events = events };
		int r = poll(&p, 1, left);
		if (r > 0)
			return 0;
		if (r == 0) {
			c->sys_err = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR) {
			c->sys_err = errno;
			return -1;
		}
	}
}

/*
 * Run the engine until one of the target states (BR_SSL_SENDAPP,
 * BR_SSL_RECVAPP) is reached. A timeout leaves the connection usable.
 */
static int run_until(struct tls_conn *c, unsigned target, long long deadline)
{
	br_ssl_engine_context *eng = &c->cc.eng;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		/* No state at all: the engine finished a close and has nothing left to do. */
		if (c->dead || (st & BR_SSL_CLOSED) || !st)
			return -1;
		if (st & BR_SSL_SENDREC) {
			size_t len;
			unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
			if (wait_fd(c, POLLOUT, deadline))
				return -1;
			ssize_t w = write(c->fd, buf, len);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				c->sys_err = w < 0 ? errno : EPIPE;
				c->dead = true;
				return -1;
			}
			br_ssl_engine_sendrec_ack(eng, w);
			continue;
		}
		if (st & target)
			return 0;
		if (st & BR_SSL_RECVAPP) {
			/* Want to send, but unread data blocks the engine: the caller must read first. */
			c->sys_err = EAGAIN;
			return -1;
		}
		if (st & BR_SSL_RECVREC) {
			size_t len;
			unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len);
			if (wait_fd(c, POLLIN, deadline))
				return -1;
			ssize_t r = read(c->fd, buf, len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				c->sys_err = r < 0 ? errno : 0;
				c->eof = r == 0;
				c->dead = true;
				return -1;
			}
			br_ssl_engine_recvrec_ack(eng, r);
			continue;
		}
		br_ssl_engine_flush(eng, 0);
	}
}

static long long deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
}

ssize_t tls_read(struct tls_conn *c, void *buf, size_t len, int timeout_ms)
{
	br_ssl_engine_context *eng = &c->cc.eng;
	size_t alen;

	c->sys_err = 0;
	if (run_until(c, BR_SSL_RECVAPP, deadline_of(timeout_ms)) < 0) {
		int e = br_ssl_engine_last_error(eng);
		/* close_notify, or (what many servers do) a plain TCP close */
		unsigned st = br_ssl_engine_current_state(eng);
		if ((c->dead && c->eof) || ((!st || (st & BR_SSL_CLOSED)) && e == 0))
			return 0;
		errno = c->sys_err ? c->sys_err : EPROTO;
		return -1;
	}
	unsigned char *p = br_ssl_engine_recvapp_buf(eng, &alen);
	if (alen > len)
		alen = len;
	memcpy(buf, p, alen);
	br_ssl_engine_recvapp_ack(eng, alen);
	return alen;
}

int tls_write(struct tls_conn *c, const void *buf, size_t len, int timeout_ms)
{
	br_ssl_engine_context *eng = &c->cc.eng;
	long long deadline = deadline_of(timeout_ms);
	const unsigned char *p = buf;

	c->sys_err = 0;
	while (len > 0) {
		size_t alen;
		if (run_until(c, BR_SSL_SENDAPP, deadline) < 0)
			goto fail;
		unsigned char *dst = br_ssl_engine_sendapp_buf(eng, &alen);
		if (alen > len)
			alen = len;
		memcpy(dst, p, alen);
		br_ssl_engine_sendapp_ack(eng, alen);
		p += alen;
		len -= alen;
	}
	br_ssl_engine_flush(eng, 0);
	if (run_until(c, BR_SSL_SENDAPP | BR_SSL_RECVAPP, deadline) < 0)
		goto fail;
	return 0;
fail:
	errno = c->sys_err ? c->sys_err : EPROTO;
	return -1;
}

bool tls_pending(struct tls_conn *c)
{
	return !c->dead && (br_ssl_engine_current_state(&c->cc.eng) & BR_SSL_RECVAPP);
}

void tls_close(struct tls_conn *c)
{
	if (!c)
		return;
	if (!c->dead && (br_ssl_engine_current_state(&c->cc.eng) & ~BR_SSL_CLOSED)) {
		/*
		 * Best effort close_notify, without waiting for the peer's (RFC 8446
		 * 6.1 allows it): a server busy streaming a watch never answers, and
		 * waiting cost every closed stream 200 ms.
		 */
		br_ssl_engine_context *eng = &c->cc.eng;
		br_ssl_engine_close(eng);
		while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
			size_t len;
			unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
			ssize_t w = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w <= 0)
				break;
			br_ssl_engine_sendrec_ack(eng, w);
		}
	}
	free(c->v.leaf_der);
	free(c);
}

/* ---- errors in words ---------------------------------------------------- */

static const char *alert_name(int a)
{
	switch (a) {
	case BR_ALERT_HANDSHAKE_FAILURE: return "handshake_failure";
	case BR_ALERT_BAD_CERTIFICATE: return "bad_certificate";
	case BR_ALERT_UNSUPPORTED_CERTIFICATE: return "unsupported_certificate";
	case BR_ALERT_CERTIFICATE_REVOKED: return "certificate_revoked";
	case BR_ALERT_CERTIFICATE_EXPIRED: return "certificate_expired";
	case BR_ALERT_CERTIFICATE_UNKNOWN: return "certificate_unknown";
	case BR_ALERT_UNKNOWN_CA: return "unknown_ca";
	case BR_ALERT_ACCESS_DENIED: return "access_denied";
	case BR_ALERT_DECRYPT_ERROR: return "decrypt_error";
	case BR_ALERT_PROTOCOL_VERSION: return "protocol_version";
	case BR_ALERT_INSUFFICIENT_SECURITY: return "insufficient_security";
	case BR_ALERT_INTERNAL_ERROR: return "internal_error";
	case 116: return "certificate_required";
	default: return "alert";
	}
}

static void describe(struct tls_conn *c, int handshake, char *buf, size_t len)
{
	int e = br_ssl_engine_last_error(&c->cc.eng);
	struct verifier *v = &c->v;
	char names[512], t1[40], t2[40];

	if (c->dead || e == BR_ERR_IO || e == 0) {
		if (c->eof)
			snprintf(buf, len, "the server closed the connection%s", handshake ?
				 " during the TLS handshake (is it a TLS port? does it want a client certificate?)" : "");
		else if (c->sys_err == ETIMEDOUT)
			snprintf(buf, len, "timed out%s", handshake ? " during the TLS handshake" : "");
		else
			snprintf(buf, len, "%s", strerror(c->sys_err ? c->sys_err : EPROTO));
		return;
	}
	if (e == BR_ERR_X509_NOT_TRUSTED) {
		snprintf(buf, len, "x509: certificate signed by unknown authority: the server's certificate "
			 "was not issued by %s", c->ctx->ca_words);
		return;
	}
	if (e == BR_ERR_X509_BAD_SERVER_NAME) {
		x509_san_list(v->leaf_der, v->leaf_len, names, sizeof(names));
		snprintf(buf, len, "x509: certificate is valid for %s, not %s (%s when the server is "
			 "reached by another name)",
			 names[0] ? names : "no names (it has no subjectAltName)", c->name, c->ctx->name_fix);
		return;
	}
	if (e == BR_ERR_X509_EXPIRED) {
		br_x509_decoder_context *d = &v->leaf;
		time_t now = time(NULL);
		uint32_t days = now / 86400 + 719528, secs = now % 86400;
		bool before = days < d->notbefore_days ||
			      (days == d->notbefore_days && secs < d->notbefore_seconds);
		bool after = days > d->notafter_days ||
			     (days == d->notafter_days && secs > d->notafter_seconds);
		if (after || before)
			snprintf(buf, len, "x509: certificate %s: it is valid from %s to %s (check the clock "
				 "of this machine and of the server)", after ? "has expired" : "is not yet valid",
				 x509_time_format(d->notbefore_days, d->notbefore_seconds, t1, sizeof(t1)),
				 x509_time_format(d->notafter_days, d->notafter_seconds, t2, sizeof(t2)));
		else
			snprintf(buf, len, "x509: a certificate in the server's chain has expired or is not yet valid");
		return;
	}
	if (e >= BR_ERR_X509_OK && e < 64) {
		snprintf(buf, len, "x509: the server's certificate cannot be verified (BearSSL error %d)", e);
		return;
	}
	if (e >= BR_ERR_SEND_FATAL_ALERT) {
		snprintf(buf, len, "TLS failed: we sent alert %s", alert_name(e - BR_ERR_SEND_FATAL_ALERT));
		return;
	}
	if (e >= BR_ERR_RECV_FATAL_ALERT) {
		int a = e - BR_ERR_RECV_FATAL_ALERT;
		const char *hint = "";
		if (a == BR_ALERT_BAD_CERTIFICATE || a == BR_ALERT_UNKNOWN_CA || a == 116 ||
		    a == BR_ALERT_CERTIFICATE_UNKNOWN || a == BR_ALERT_HANDSHAKE_FAILURE)
			hint = c->ctx->key_type ? ": the server refused our client certificate"
						 : ": the server may want a client certificate";
		snprintf(buf, len, "the server sent TLS alert %s%s", alert_name(a), hint);
		return;
	}
	snprintf(buf, len, "TLS failed (BearSSL error %d)", e);
}

const char *tls_error(struct tls_conn *c, char *buf, size_t len)
{
	describe(c, 0, buf, len);
	return buf;
}

/* ---- connect ------------------------------------------------------------ */

/*
 * What Kubernetes API servers speak (Go's crypto/tls with its defaults):
 * TLS 1.2 with ECDHE and AEAD suites. Far smaller than br_ssl_client_init_full
 * (no TLS 1.0/1.1, CBC, 3DES or static RSA code is linked in).
 */
static void engine_init(br_ssl_client_context *cc, br_x509_minimal_context *xc,
			const br_x509_trust_anchor *tas, size_t ntas)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	};
	static const br_hash_class *const hashes[] = {
		&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
	};
	br_ssl_engine_context *eng = &cc->eng;

	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, ARRAY_SIZE(suites));
	br_x509_minimal_init(xc, &br_sha256_vtable, tas, ntas);
	for (size_t i = 0; i < ARRAY_SIZE(hashes); i++) {
		int id = (hashes[i]->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK;
		br_x509_minimal_set_hash(xc, id, hashes[i]);
		br_ssl_engine_set_hash(eng, id, hashes[i]);
	}
	br_x509_minimal_set_rsa(xc, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
	br_ssl_engine_set_x509(eng, &xc->vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
	br_ssl_engine_set_default_ec(eng);
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);
}

struct tls_conn *tls_connect(struct tls_ctx *ctx, int fd, const char *host,
			     int timeout_ms, char *err, size_t errlen)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	time_t now = time(NULL);
	const char *sni;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->ctx = ctx;
	c->fd = fd;
	snprintf(c->name, sizeof(c->name), "%s", ctx->server_name ? ctx->server_name : host);
	sni = c->name;
	if (!ipaddr_parse(c->name, &c->v.want_ip)) {
		c->v.want_is_ip = true;
		sni = NULL;	/* no SNI for addresses (RFC 6066); the SAN check is ours */
	}
	c->v.insecure = ctx->insecure;
	if (ctx->insecure && !ctx->warned) {
		warnx("warning: not verifying the server's certificate (%s): "
		      "anyone on the path can read and change this traffic", ctx->insecure_words);
		ctx->warned = true;
	}

	engine_init(&c->cc, &c->v.minimal, ctx->tas, ctx->ntas);
	/* BearSSL needs the time given: days since 0000-01-01 and seconds in the day. */
	br_x509_minimal_set_time(&c->v.minimal, now / 86400 + 719528, now % 86400);
	c->v.vtable = &verifier_class;
	br_ssl_engine_set_x509(&c->cc.eng, &c->v.vtable);
	if (ctx->key_type == BR_KEYTYPE_RSA)
		br_ssl_client_set_single_rsa(&c->cc, ctx->chain, ctx->nchain,
					     br_skey_decoder_get_rsa(&ctx->skey), br_rsa_pkcs1_sign_get_default());
	else if (ctx->key_type == BR_KEYTYPE_EC)
		br_ssl_client_set_single_ec(&c->cc, ctx->chain, ctx->nchain,
					    br_skey_decoder_get_ec(&ctx->skey), BR_KEYTYPE_SIGN, 0,
					    br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	br_ssl_engine_set_buffer(&c->cc.eng, c->iobuf, sizeof(c->iobuf), 1);
	if (!br_ssl_client_reset(&c->cc, sni, 0)) {
		snprintf(err, errlen, "TLS setup failed (BearSSL error %d)", br_ssl_engine_last_error(&c->cc.eng));
		tls_close(c);
		return NULL;
	}
	ctx->cert_failed = false;
	if (run_until(c, BR_SSL_SENDAPP | BR_SSL_RECVAPP, deadline_of(timeout_ms)) < 0) {
		int e = br_ssl_engine_last_error(&c->cc.eng);
		ctx->cert_failed = !c->dead && e >= BR_ERR_X509_OK && e < 64 && e != BR_ERR_X509_OK;
		describe(c, 1, err, errlen);
		free(c->v.leaf_der);
		free(c);
		return NULL;
	}
	return c;
}

bool tls_ctx_cert_failed(const struct tls_ctx *ctx)
{
	return ctx->cert_failed;
}

/* OpenSSL's names for the suites engine_init offers (what curl -v prints). */
static const char *suite_name(unsigned id)
{
	switch (id) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: return "ECDHE-RSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: return "ECDHE-RSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: return "ECDHE-RSA-CHACHA20-POLY1305";
	default: return "unknown cipher";
	}
}

void tls_get_info(struct tls_conn *c, struct tls_info *out)
{
	br_ssl_session_parameters sp;
	br_x509_decoder_context *d = &c->v.leaf;

	memset(out, 0, sizeof(*out));
	br_ssl_engine_get_session_parameters(&c->cc.eng, &sp);
	out->version = br_ssl_engine_get_version(&c->cc.eng) == BR_TLS12 ? "TLSv1.2" : "TLS (not 1.2)";
	out->cipher = suite_name(sp.cipher_suite);
	x509_names(c->v.leaf_der, c->v.leaf_len, out->subject, sizeof(out->subject),
		   out->issuer, sizeof(out->issuer));
	x509_san_list(c->v.leaf_der, c->v.leaf_len, out->sans, sizeof(out->sans));
	x509_time_format(d->notbefore_days, d->notbefore_seconds, out->not_before, sizeof(out->not_before));
	x509_time_format(d->notafter_days, d->notafter_seconds, out->not_after, sizeof(out->not_after));
	out->verified = !c->v.insecure;
}
