/*
 * net/http: the pure parsers (URLs, response heads, chunked bodies) and the
 * client against a real HTTP/1.1 server (Python's http.server,
 * tests/fixtures/http_peer.py), over TCP and TLS.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/http.h"
#include "net/tls.h"
#include "net/ws.h"

static char dir[64], port[8], tls_port[8];
static pid_t peer, tls_peer;
static struct tls_ctx *tls;

static void run_argv(char *const argv[])
{
	int st;
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static pid_t start_peer(const char *portfile, char *portbuf, int with_tls)
{
	char cert[96], key[96];
	snprintf(cert, sizeof(cert), "%s/server-ip.crt", dir);
	snprintf(key, sizeof(key), "%s/server-ip.key", dir);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { "python3", "tests/fixtures/http_peer.py", (char *)portfile,
				 with_tls ? cert : NULL, key, NULL };
		execvp(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			assert_non_null(fgets(portbuf, 8, f));
			fclose(f);
			return pid;
		}
		usleep(25000);
	}
	fail_msg("http_peer.py did not start");
	return pid;
}

static int setup(void **state)
{
	char pf[96], ca[96], err[256];
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/retina-http-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char *argv[] = { "tests/fixtures/mkpki.sh", dir, NULL };
	run_argv(argv);
	snprintf(pf, sizeof(pf), "%s/port", dir);
	peer = start_peer(pf, port, 0);
	snprintf(pf, sizeof(pf), "%s/tls-port", dir);
	tls_peer = start_peer(pf, tls_port, 1);

	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	FILE *f = fopen(ca, "r");
	static char pem[8192];
	size_t n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	struct tls_opts o = { .ca_pem = pem, .ca_len = n };
	tls = tls_ctx_new(&o, err, sizeof(err));
	return tls ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	kill(peer, SIGTERM);
	kill(tls_peer, SIGTERM);
	waitpid(peer, NULL, 0);
	waitpid(tls_peer, NULL, 0);
	tls_ctx_free(tls);
	char *argv[] = { "rm", "-rf", dir, NULL };
	run_argv(argv);
	return 0;
}

/* ---- pure parsers ---- */

static void urls(void **state)
{
	struct http_url u;
	char err[128];
	(void)state;

	assert_int_equal(http_url_parse("https://10.0.0.1:6443/api?x=1#frag", &u, err, sizeof(err)), 0);
	assert_true(u.https);
	assert_string_equal(u.host, "10.0.0.1");
	assert_string_equal(u.port, "6443");
	assert_string_equal(u.path, "/api?x=1");
	assert_int_equal(http_url_parse("http://[2001:db8::1]", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "2001:db8::1");
	assert_string_equal(u.port, "80");
	assert_string_equal(u.path, "/");
	assert_int_equal(http_url_parse("https://kube.example?watch=1", &u, err, sizeof(err)), 0);
	assert_string_equal(u.path, "/?watch=1");
	assert_string_equal(u.port, "443");
	const char *bad[] = { "ftp://x", "https://", "https://:443/", "http://h:0/", "http://h:99999",
			      "http://u:p@h/", "http://h/a b", "http://[::1/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!http_url_parse(bad[i], &u, err, sizeof(err)))
			fail_msg("accepted %s", bad[i]);
}

static struct http_response resp;

static void heads(void **state)
{
	char err[128];
	(void)state;
	const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length:  12 \r\n\r\nbody";

	assert_int_equal(http_parse_head(h, 20, &resp, false, err, sizeof(err)), 0);	/* incomplete */
	assert_int_equal(http_parse_head(h, strlen(h), &resp, false, err, sizeof(err)), (int)strlen(h) - 4);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.reason, "OK");
	assert_int_equal(resp.content_length, 12);
	assert_true(resp.keep_alive);
	assert_string_equal(http_header(&resp, "content-type"), "application/json");
	assert_null(http_header(&resp, "X-None"));

	h = "HTTP/1.0 404 Not Found\nTransfer-Encoding: gzip, chunked\nContent-Encoding: gzip\n\n";
	assert_true(http_parse_head(h, strlen(h), &resp, false, err, sizeof(err)) > 0);
	assert_int_equal(resp.status, 404);
	assert_true(resp.chunked && resp.gzip && !resp.keep_alive);

	h = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	assert_true(http_parse_head(h, strlen(h), &resp, false, err, sizeof(err)) > 0);
	assert_true(resp.no_body && resp.body_done && !resp.keep_alive);

	const char *bad[] = {
		"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "ICY 200 OK\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_parse_head(bad[i], strlen(bad[i]), &resp, false, err, sizeof(err)) != -1)
			fail_msg("accepted %s", bad[i]);
}

static void chunked_any_split(void **state)
{
	static const char in[] = "5;name=v\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	const size_t inlen = sizeof(in) - 1;
	(void)state;

	/* feed it in pieces of every size: the output never changes */
	for (size_t step = 1; step <= inlen; step++) {
		struct http_chunked d = { 0 };
		uint8_t out[64];
		size_t o = 0, i = 0, used, made;
		int st = HTTP_CHUNK_MORE;
		while (st == HTTP_CHUNK_MORE && i < inlen) {
			size_t n = inlen - i < step ? inlen - i : step;
			st = http_chunked_decode(&d, (const uint8_t *)in + i, n, &used, out + o, 3, &made);
			i += used;
			o += made;
		}
		assert_int_equal(st, HTTP_CHUNK_DONE);
		assert_int_equal(o, 16);
		assert_memory_equal(out, "hello 0123456789", 16);
		assert_string_equal(in + i, "NEXT");	/* stops right after the trailers */
	}
	const char *bad[] = { "x\r\n", "5\r\nhelloX\r\n", "1234567890abcdef0\r\n", "\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_chunked d = { 0 };
		uint8_t out[64];
		size_t used, made;
		assert_int_equal(http_chunked_decode(&d, (const uint8_t *)bad[i], strlen(bad[i]), &used,
						     out, sizeof(out), &made), HTTP_CHUNK_BAD);
	}
}

/* ---- against a real server ---- */

static char *get(struct http_conn *c, const char *path, bool gzip, size_t *len, int *status)
{
	struct http_request q = { .method = "GET", .host = "127.0.0.1", .path = path, .gzip = gzip };
	char err[256], *body;

	if (http_request(c, &q, &resp, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	*status = resp.status;
	if (http_read_all(c, &resp, &body, len, 1 << 20, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	http_response_free(&resp);
	return body;
}

static void check_letters(const char *b, size_t len, size_t want)
{
	assert_int_equal(len, want);
	for (size_t i = 0; i < len; i++)
		if (b[i] != 'a' + (int)(i % 26))
			fail_msg("byte %zu is %c", i, b[i]);
}

static void bodies_over(struct tls_ctx *t, const char *p)
{
	char err[256];
	size_t len;
	int status;
	struct http_conn *c = http_connect("127.0.0.1", p, t, 5000, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);

	char *b = get(c, "/conn", false, &len, &status);
	char first_port[16];
	snprintf(first_port, sizeof(first_port), "%s", b);
	free(b);
	b = get(c, "/len/100000", false, &len, &status);
	check_letters(b, len, 100000);
	free(b);
	b = get(c, "/chunked/54321", false, &len, &status);
	check_letters(b, len, 54321);
	free(b);
	b = get(c, "/gzip/200000", true, &len, &status);
	check_letters(b, len, 200000);
	free(b);
	b = get(c, "/gzip/300", false, &len, &status);	/* not asked: not compressed */
	check_letters(b, len, 300);
	free(b);
	/* every request above went over the one connection */
	assert_true(http_reusable(c));
	b = get(c, "/conn", false, &len, &status);
	assert_string_equal(b, first_port);
	free(b);

	static const char json[] = "{\"kind\":\"Pod\"}";
	struct http_header h[] = { { "Content-Type", "application/json" }, { "Authorization", "Bearer x" } };
	struct http_request q = { .method = "POST", .host = "127.0.0.1", .path = "/echo", .headers = h,
				  .nheaders = 2, .body = json, .body_len = sizeof(json) - 1 };
	assert_int_equal(http_request(c, &q, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp.status, 201);
	assert_string_equal(http_header(&resp, "X-Got-Content-Type"), "application/json");
	assert_string_equal(http_header(&resp, "X-Got-Content-Length"), "14");
	assert_int_equal(http_read_all(c, &resp, &b, &len, 1000, err, sizeof(err)), 0);
	assert_string_equal(b, json);
	free(b);

	/* Python's send_error answers "Connection: close": the connection is done */
	b = get(c, "/missing", false, &len, &status);
	assert_int_equal(status, 404);
	free(b);
	assert_false(http_reusable(c));
	http_close(c);

	c = http_connect("127.0.0.1", p, t, 5000, err, sizeof(err));
	assert_non_null(c);
	b = get(c, "/close", false, &len, &status);
	check_letters(b, len, 5000);
	free(b);
	assert_false(http_reusable(c));
	http_close(c);
}

static void plain_bodies_and_keepalive(void **state)
{
	(void)state;
	bodies_over(NULL, port);
}

static void tls_bodies_and_keepalive(void **state)
{
	(void)state;
	bodies_over(tls, tls_port);
}

static void streaming_and_timeouts(void **state)
{
	char err[256], buf[64];
	(void)state;
	struct http_conn *c = http_connect("127.0.0.1", tls_port, tls, 5000, err, sizeof(err));
	assert_non_null(c);
	struct http_request q = { .method = "GET", .host = "127.0.0.1", .path = "/stream" };
	assert_int_equal(http_request(c, &q, &resp, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {	/* each event arrives as it is sent */
		char want[16];
		ssize_t n = http_read_body(c, &resp, buf, sizeof(buf), err, sizeof(err));
		snprintf(want, sizeof(want), "event %d\n", i);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(buf, want, n);
	}
	assert_int_equal(http_read_body(c, &resp, buf, sizeof(buf), err, sizeof(err)), 0);

	http_set_read_timeout(c, 300);
	q.path = "/slow";
	assert_int_equal(http_request(c, &q, &resp, err, sizeof(err)), 0);
	assert_int_equal(http_read_body(c, &resp, buf, sizeof(buf), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "timed out after 300 ms"));
	assert_false(http_reusable(c));
	http_close(c);

	/* nobody listens: refused, naming where */
	assert_null(http_connect("127.0.0.1", "1", NULL, 2000, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot connect to 127.0.0.1:1"));
	assert_non_null(strstr(err, "refused"));
	/* TLS errors keep their words through the HTTP layer */
	struct tls_opts none = { .insecure = false };
	(void)none;
	assert_null(http_connect("localhost", tls_port, tls, 2000, err, sizeof(err)));
	assert_non_null(strstr(err, "not localhost"));
}

static void refuses_header_injection(void **state)
{
	char err[256];
	(void)state;
	struct http_conn *c = http_connect("127.0.0.1", port, NULL, 5000, err, sizeof(err));
	assert_non_null(c);
	struct http_header h[] = { { "X-Evil", "a\r\nInjected: 1" } };
	struct http_request q = { .method = "GET", .host = "127.0.0.1", .path = "/len/1", .headers = h, .nheaders = 1 };
	assert_int_equal(http_request(c, &q, &resp, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line break"));
	http_close(c);
}

static void ws_frames(void **state)
{
	static uint8_t payload[70000], out[70100];
	const uint8_t mask[4] = { 1, 2, 3, 4 };
	char err[128];
	struct ws_frame f;
	(void)state;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = i * 7;
	const size_t lens[] = { 0, 1, 125, 126, 65535, 65536, 70000 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = ws_build_frame(out, sizeof(out), WS_BINARY, true, payload, lens[i], mask);
		assert_true(n > 0);
		assert_int_equal(ws_parse_frame(out, n - 1, &f, err, sizeof(err)), 0);	/* one byte short */
		assert_int_equal(ws_parse_frame(out, n, &f, err, sizeof(err)), (long long)n);
		assert_true(f.fin && f.masked);
		assert_int_equal(f.opcode, WS_BINARY);
		assert_int_equal(f.len, lens[i]);
		ws_mask(out + f.header_len, f.len, f.mask, 0);
		assert_memory_equal(out + f.header_len, payload, lens[i]);
	}
	const uint8_t bad[][4] = {
		{ 0xc2, 0x00 },		/* RSV1 */
		{ 0x83, 0x00 },		/* opcode 3 */
		{ 0x09, 0x00 },		/* fragmented ping */
		{ 0x89, 0x7e, 0x00, 0x80 },	/* ping of 128 bytes */
	};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(ws_parse_frame(bad[i], 4, &f, err, sizeof(err)), -1);
	const uint8_t huge[10] = { 0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0 };
	assert_int_equal(ws_parse_frame(huge, 10, &f, err, sizeof(err)), -1);
	char acc[29];
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc);	/* RFC 6455's example */
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static struct ws *ws_open(const char *path, int *status, char *err, size_t errlen)
{
	static const char *const protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", NULL };
	struct http_conn *c = http_connect("127.0.0.1", tls_port, tls, 5000, err, errlen);
	assert_non_null(c);
	return ws_connect(c, "127.0.0.1", path, protos, NULL, 0, status, NULL, NULL, err, errlen);
}

static void ws_over_tls(void **state)
{
	char err[256];
	int status, op;
	const uint8_t *data;
	size_t len;
	(void)state;

	struct ws *w = ws_open("/ws", &status, err, sizeof(err));
	if (!w)
		fail_msg("%s", err);
	assert_string_equal(w->protocol, "v5.channel.k8s.io");
	/* a ping (answered by us), then "hello " + "world" in two fragments */
	assert_int_equal(ws_recv(w, &op, &data, &len, 5000, err, sizeof(err)), 1);
	assert_int_equal(op, WS_TEXT);
	assert_int_equal(len, 11);
	assert_memory_equal(data, "hello world", 11);
	assert_int_equal(ws_recv(w, &op, &data, &len, 5000, err, sizeof(err)), 1);
	assert_int_equal(len, 18);
	assert_memory_equal(data, "pong:are you there", 18);	/* the server got our pong */

	static uint8_t big[100000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = i;
	assert_int_equal(ws_send(w, WS_BINARY, "\0abc", 4), 0);
	assert_int_equal(ws_recv(w, &op, &data, &len, 5000, err, sizeof(err)), 1);
	assert_int_equal(op, WS_BINARY);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "\0abc", 4);
	assert_int_equal(ws_send(w, WS_BINARY, big, sizeof(big)), 0);
	assert_int_equal(ws_recv(w, &op, &data, &len, 5000, err, sizeof(err)), 1);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	ws_close(w, 1000);

	w = ws_open("/ws/v4only", &status, err, sizeof(err));
	assert_non_null(w);
	assert_string_equal(w->protocol, "v4.channel.k8s.io");
	assert_int_equal(ws_send(w, WS_CLOSE, "\x03\xe8", 2), 0);
	int rc;
	while ((rc = ws_recv(w, &op, &data, &len, 5000, err, sizeof(err))) == 1)
		;	/* what the server sent before it saw our close */
	assert_int_equal(rc, 0);
	assert_int_equal(w->close_code, 1000);
	ws_close(w, 1000);

	assert_null(ws_open("/len/10", &status, err, sizeof(err)));
	assert_int_equal(status, 200);
	assert_non_null(strstr(err, "refused the WebSocket upgrade"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urls),
		cmocka_unit_test(heads),
		cmocka_unit_test(chunked_any_split),
		cmocka_unit_test(plain_bodies_and_keepalive),
		cmocka_unit_test(tls_bodies_and_keepalive),
		cmocka_unit_test(streaming_and_timeouts),
		cmocka_unit_test(refuses_header_injection),
		cmocka_unit_test(ws_frames),
		cmocka_unit_test(ws_over_tls),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
