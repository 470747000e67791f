/*
 * net/tls against a real peer: `openssl s_server` on 127.0.0.1 with a PKI
 * made by tests/fixtures/mkpki.sh. Verification must accept what kubectl
 * accepts and refuse the rest, saying why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bearssl.h>

#include "net/tls.h"
#include "net/x509.h"

static char pki[64];

static void run_argv(char *const argv[])
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int make_pki(void **state)
{
	(void)state;
	snprintf(pki, sizeof(pki), "/tmp/retina-tls-XXXXXX");
	if (!mkdtemp(pki))
		return -1;
	char *argv[] = { "tests/fixtures/mkpki.sh", pki, NULL };
	run_argv(argv);
	return 0;
}

/* Servers still running (a failed assertion skips stop_server): killed at the end. */
static pid_t running[8];

static int remove_pki(void **state)
{
	(void)state;
	for (size_t i = 0; i < 8; i++)
		if (running[i] > 0) {
			kill(running[i], SIGTERM);
			waitpid(running[i], NULL, 0);
		}
	char *argv[] = { "rm", "-rf", pki, NULL };
	run_argv(argv);
	return 0;
}

static char *slurp(const char *name, size_t *len)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", pki, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(65536);
	*len = fread(buf, 1, 65535, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

struct server {
	pid_t pid;
	int port;
};

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* openssl s_server -www with NAME.crt/NAME.key; want_client: demand a client cert from ca. */
static struct server start_server(const char *name, int want_client)
{
	struct server s = { .port = free_port() };
	char accept[32], cert[128], key[128], ca[128];

	snprintf(accept, sizeof(accept), "127.0.0.1:%d", s.port);
	snprintf(cert, sizeof(cert), "%s/%s.crt", pki, name);
	snprintf(key, sizeof(key), "%s/%s.key", pki, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		char *argv[] = { "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
				 "-www", "-quiet", "-Verify", "1", "-CAfile", ca, NULL };
		if (!want_client)
			argv[10] = NULL;
		execvp(argv[0], argv);
		_exit(127);
	}
	for (size_t i = 0; i < 8; i++)
		if (!running[i]) {
			running[i] = s.pid;
			break;
		}
	for (int i = 0; i < 100; i++) {	/* up to 5 s for it to listen */
		int fd = dial(s.port);
		if (fd >= 0) {
			close(fd);
			return s;
		}
		usleep(50000);
	}
	fail_msg("openssl s_server did not start");
	return s;
}

static void stop_server(struct server *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	for (size_t i = 0; i < 8; i++)
		if (running[i] == s->pid)
			running[i] = 0;
}

struct client {
	const char *ca, *cert, *key, *server_name, *host;
	bool insecure;
};

/* Connect, GET /, return 0 and the first response line, or -1 and the error. */
static int fetch(const struct server *s, const struct client *cl, char *out, size_t outlen)
{
	struct tls_opts o = { .insecure = cl->insecure, .server_name = cl->server_name };
	char *ca = NULL, *cert = NULL, *key = NULL;
	int rc = -1;

	if (cl->ca)
		o.ca_pem = ca = slurp(cl->ca, &o.ca_len);
	if (cl->cert) {
		o.cert_pem = cert = slurp(cl->cert, &o.cert_len);
		o.key_pem = key = slurp(cl->key, &o.key_len);
	}
	struct tls_ctx *ctx = tls_ctx_new(&o, out, outlen);
	if (!ctx)
		goto done;
	int fd = dial(s->port);
	assert_true(fd >= 0);
	struct tls_conn *c = tls_connect(ctx, fd, cl->host ? cl->host : "127.0.0.1", 5000, out, outlen);
	if (c) {
		static const char req[] = "GET / HTTP/1.0\r\n\r\n";
		size_t got = 0;
		ssize_t n;
		assert_int_equal(tls_write(c, req, sizeof(req) - 1, 5000), 0);
		while (got < outlen - 1 && (n = tls_read(c, out + got, outlen - 1 - got, 5000)) > 0)
			got += n;
		out[got] = '\0';
		char *nl = strchr(out, '\r');
		if (nl)
			*nl = '\0';
		rc = 0;
		tls_close(c);
	}
	close(fd);
	tls_ctx_free(ctx);
done:
	free(ca);
	free(cert);
	free(key);
	return rc;
}

#define EXPECT_OK(name_, ...) do { \
	struct server s_ = start_server(name_, 0); \
	struct client c_ = { __VA_ARGS__ }; \
	char out_[4096]; \
	int rc_ = fetch(&s_, &c_, out_, sizeof(out_)); \
	stop_server(&s_); \
	if (rc_) fail_msg("%s: %s", name_, out_); \
	assert_string_equal(out_, "HTTP/1.0 200 ok"); \
} while (0)

static void expect_refused(const char *server, int want_client, const struct client *cl, const char *msg)
{
	struct server s = start_server(server, want_client);
	char out[4096];
	int rc = fetch(&s, cl, out, sizeof(out));
	stop_server(&s);
	if (rc == 0)
		fail_msg("%s: accepted, wanted '%s'", server, msg);
	if (!strstr(out, msg))
		fail_msg("%s: error '%s' lacks '%s'", server, out, msg);
}

static void ip_san_accepted(void **state)
{
	(void)state;
	EXPECT_OK("server-ip", .ca = "ca.crt");
}

static void dns_san_accepted(void **state)
{
	(void)state;
	EXPECT_OK("server-dns", .ca = "ca.crt", .host = "localhost");
}

static void server_name_override(void **state)
{
	(void)state;
	/* dialled by address, verified as the name in tls-server-name */
	EXPECT_OK("server-dns", .ca = "ca.crt", .server_name = "kubernetes.default.svc");
}

static void wrong_name_refused_listing_names(void **state)
{
	(void)state;
	struct client by_ip = { .ca = "ca.crt" }, by_name = { .ca = "ca.crt", .host = "localhost" };
	expect_refused("server-dns", 0, &by_ip,
		       "certificate is valid for DNS:localhost, DNS:kubernetes.default.svc, not 127.0.0.1");
	expect_refused("server-ip", 0, &by_name, "certificate is valid for IP:127.0.0.1, IP:::1, not localhost");
	struct client other_ip = { .ca = "ca.crt", .server_name = "127.0.0.2" };
	expect_refused("server-ip", 0, &other_ip, "not 127.0.0.2");
}

static void unknown_authority_refused(void **state)
{
	(void)state;
	struct client cl = { .ca = "ca.crt" };
	expect_refused("server-other", 0, &cl, "certificate signed by unknown authority");
}

static void expired_and_future_refused(void **state)
{
	(void)state;
	struct client cl = { .ca = "ca.crt" };
	expect_refused("server-expired", 0, &cl,
		       "certificate has expired: it is valid from 2020-01-01 00:00:00 UTC to 2020-01-02 00:00:00 UTC");
	expect_refused("server-future", 0, &cl, "certificate is not yet valid");
}

static void client_certificates(void **state)
{
	(void)state;
	static const char *const keys[][2] = {
		{ "client-rsa.crt", "client-rsa.key" }, { "client-rsa.crt", "client-rsa.p8.key" },
		{ "client-ec.crt", "client-ec.key" }, { "client-ec.crt", "client-ec.p8.key" },
	};
	for (size_t i = 0; i < 4; i++) {
		struct server s = start_server("server-ip", 1);
		struct client cl = { .ca = "ca.crt", .cert = keys[i][0], .key = keys[i][1] };
		char out[4096];
		int rc = fetch(&s, &cl, out, sizeof(out));
		stop_server(&s);
		if (rc)
			fail_msg("%s: %s", keys[i][1], out);
		assert_string_equal(out, "HTTP/1.0 200 ok");
	}
	struct client none = { .ca = "ca.crt" };
	expect_refused("server-ip", 1, &none, "client certificate");
}

static void skip_verify_accepts_anything(void **state)
{
	(void)state;
	EXPECT_OK("server-other", .insecure = true);
	EXPECT_OK("server-expired", .insecure = true, .ca = "ca.crt", .host = "wrong.example");
}

static void bad_inputs_explained(void **state)
{
	char err[256];
	struct tls_opts none = { 0 };
	(void)state;

	assert_null(tls_ctx_new(&none, err, sizeof(err)));
	assert_non_null(strstr(err, "certificate-authority"));
	struct tls_opts junk = { .ca_pem = "hello", .ca_len = 5 };
	assert_null(tls_ctx_new(&junk, err, sizeof(err)));
	assert_non_null(strstr(err, "no PEM data"));
	static const char cut[] = "-----BEGIN CERTIFICATE-----\nMIIB\n";
	struct tls_opts trunc = { .ca_pem = cut, .ca_len = sizeof(cut) - 1 };
	assert_null(tls_ctx_new(&trunc, err, sizeof(err)));
	assert_non_null(strstr(err, "no END line"));
	static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
	size_t calen;
	char *ca = slurp("ca.crt", &calen);
	struct tls_opts encrypted = { .ca_pem = ca, .ca_len = calen, .cert_pem = ca, .cert_len = calen,
				      .key_pem = enc, .key_len = sizeof(enc) - 1 };
	assert_null(tls_ctx_new(&encrypted, err, sizeof(err)));
	assert_non_null(strstr(err, "encrypted"));
	struct tls_opts half = { .ca_pem = ca, .ca_len = calen, .cert_pem = ca, .cert_len = calen };
	assert_null(tls_ctx_new(&half, err, sizeof(err)));
	free(ca);
}

static void san_list_of_a_certificate(void **state)
{
	struct pem_obj *objs;
	char err[128], names[256];
	size_t len;
	(void)state;

	char *pem = slurp("server-ip.crt", &len);
	assert_int_equal(pem_decode(pem, len, &objs, err, sizeof(err)), 1);
	assert_string_equal(x509_san_list(objs[0].der, objs[0].len, names, sizeof(names)), "IP:127.0.0.1, IP:::1");
	struct ipaddr a;
	ipaddr_parse("::ffff:127.0.0.1", &a);
	assert_int_equal(x509_has_ip_san(objs[0].der, objs[0].len, &a), 1);
	ipaddr_parse("127.0.0.2", &a);
	assert_int_equal(x509_has_ip_san(objs[0].der, objs[0].len, &a), 0);
	/* a cut certificate names nothing and does not crash */
	assert_int_equal(x509_each_san(objs[0].der, objs[0].len / 2, NULL, NULL), -1);
	char subject[128], issuer[128];
	assert_int_equal(x509_names(objs[0].der, objs[0].len, subject, sizeof(subject), issuer, sizeof(issuer)), 0);
	assert_string_equal(subject, "CN=kube-apiserver");
	assert_string_equal(issuer, "CN=retina-test-ca");
	assert_int_equal(x509_names(objs[0].der, 40, subject, sizeof(subject), issuer, sizeof(issuer)), -1);
	pem_free(objs, 1);
	free(pem);
}

struct der_acc {
	unsigned char *p;
	size_t len, cap;
};

static void bearssl_append(void *ctx, const void *data, size_t len)
{
	struct der_acc *acc = ctx;

	assert_true(acc->len + len <= acc->cap);
	memcpy(acc->p + acc->len, data, len);
	acc->len += len;
}

/* BearSSL's own PEM decoder, the reference ours replaced: every object, DER concatenated. */
static size_t bearssl_pem_der(const char *text, size_t len, unsigned char *der, size_t cap, int *objs)
{
	br_pem_decoder_context pc;
	struct der_acc acc = { der, 0, cap };
	const unsigned char *p = (const unsigned char *)text;

	br_pem_decoder_init(&pc);
	*objs = 0;
	for (int nl = 0; len > 0 || !nl;) {
		if (len == 0) {
			p = (const unsigned char *)"\n";
			len = nl = 1;
		}
		size_t used = br_pem_decoder_push(&pc, p, len);
		p += used;
		len -= used;
		int ev = br_pem_decoder_event(&pc);
		assert_int_not_equal(ev, BR_PEM_ERROR);
		if (ev == BR_PEM_BEGIN_OBJ)
			br_pem_decoder_setdest(&pc, bearssl_append, &acc);
		if (ev == BR_PEM_END_OBJ)
			++*objs;
	}
	return acc.len;
}

static void pem_decode_matches_bearssl_on_every_fixture(void **state)
{
	static const char *const files[] = { "ca.crt", "server-ip.crt", "client-rsa.key", "client-rsa.p8.key",
					     "client-ec.key", "client-ec.p8.key", "client-ec.crt" };
	static unsigned char ref[16384], ours[16384];
	(void)state;

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct pem_obj *objs;
		char err[128];
		size_t len, reflen, ourlen = 0;
		int refn, n;
		char *pem = slurp(files[f], &len);

		reflen = bearssl_pem_der(pem, len, ref, sizeof(ref), &refn);
		n = pem_decode(pem, len, &objs, err, sizeof(err));
		assert_int_equal(n, refn);
		for (int i = 0; i < n; i++) {
			memcpy(ours + ourlen, objs[i].der, objs[i].len);
			ourlen += objs[i].len;
		}
		assert_int_equal(ourlen, reflen);
		assert_memory_equal(ours, ref, reflen);
		pem_free(objs, n);
		free(pem);
	}
}

static void pem_decode_edge_cases(void **state)
{
	struct pem_obj *objs;
	char err[128];
	(void)state;

	/* text around and between objects, CRLF, blanks, ragged wrapping, no final newline */
	static const char two[] = "subject=CN=x\r\n-----BEGIN CERTIFICATE-----\r\nZm9v\r\nYmFy \r\n"
				  "-----END CERTIFICATE-----\r\nBag Attributes\n-----BEGIN EC PRIVATE KEY-----\n"
				  "Z\nm9vYg==\n-----END EC PRIVATE KEY-----";
	assert_int_equal(pem_decode(two, sizeof(two) - 1, &objs, err, sizeof(err)), 2);
	assert_string_equal(objs[0].name, "CERTIFICATE");
	assert_int_equal(objs[0].len, 6);
	assert_memory_equal(objs[0].der, "foobar", 6);
	assert_string_equal(objs[1].name, "EC PRIVATE KEY");
	assert_int_equal(objs[1].len, 4);
	assert_memory_equal(objs[1].der, "foob", 4);
	pem_free(objs, 2);

	static const char badb64[] = "-----BEGIN CERTIFICATE-----\nZm9v!\n-----END CERTIFICATE-----\n";
	assert_int_equal(pem_decode(badb64, sizeof(badb64) - 1, &objs, err, sizeof(err)), -1);
	assert_string_equal(err, "not valid PEM (bad base64 in 'CERTIFICATE')");
	static const char nested[] = "-----BEGIN A-----\n-----BEGIN B-----\nZm9v\n-----END B-----\n";
	assert_int_equal(pem_decode(nested, sizeof(nested) - 1, &objs, err, sizeof(err)), -1);
	assert_string_equal(err, "not valid PEM (bad base64 in 'A')");
	static const char nodash[] = "-----BEGIN CERTIFICATE\nZm9v\n-----END CERTIFICATE-----\n";
	assert_int_equal(pem_decode(nodash, sizeof(nodash) - 1, &objs, err, sizeof(err)), -1);
	assert_string_equal(err, "not valid PEM (a BEGIN line does not end in -----)");
	/* a long name is cut to fit, not overrun */
	static const char longname[] = "-----BEGIN AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-----\nZm9v\n-----END X-----\n";
	assert_int_equal(pem_decode(longname, sizeof(longname) - 1, &objs, err, sizeof(err)), 1);
	assert_int_equal(strlen(objs[0].name), sizeof(objs[0].name) - 1);
	pem_free(objs, 1);
	assert_int_equal(pem_decode("", 0, &objs, err, sizeof(err)), -1);
	assert_string_equal(err, "no PEM data (expected -----BEGIN ...-----)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ip_san_accepted),
		cmocka_unit_test(dns_san_accepted),
		cmocka_unit_test(server_name_override),
		cmocka_unit_test(wrong_name_refused_listing_names),
		cmocka_unit_test(unknown_authority_refused),
		cmocka_unit_test(expired_and_future_refused),
		cmocka_unit_test(client_certificates),
		cmocka_unit_test(skip_verify_accepts_anything),
		cmocka_unit_test(bad_inputs_explained),
		cmocka_unit_test(san_list_of_a_certificate),
		cmocka_unit_test(pem_decode_matches_bearssl_on_every_fixture),
		cmocka_unit_test(pem_decode_edge_cases),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
