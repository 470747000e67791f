/*
 * curl: HTTP/1.1 GET/HEAD/POST over TCP or TLS with curl's options, output
 * and exit codes, on the project's resolver, TLS (BearSSL, verified by
 * default) and HTTP client. One URL per run; no progress meter.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "applets/curl.h"
#include "lib/retina.h"
#include "lib/sys.h"
#include "net/addr.h"
#include "net/http.h"
#include "net/resolv.h"
#include "net/tls.h"

const char curl_help[] =
	"usage: retina curl [options] URL\n"
	"\n"
	"HTTP/1.1 GET, HEAD or POST of one http:// or https:// URL, with curl's\n"
	"options, output and exit codes. Certificates are verified against the\n"
	"system bundle ($SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt)\n"
	"or --cacert; names are resolved with /etc/resolv.conf and /etc/hosts.\n"
	"\n"
	"  -v, --verbose         connection, TLS version/cipher, the server's certificate\n"
	"                        (subject, SANs, dates) and the headers, on stderr\n"
	"  -H, --header 'N: V'   add a request header ('N:' removes a default one)\n"
	"  -d, --data DATA       POST DATA (form-urlencoded); @FILE reads it, several join with &\n"
	"      --data-binary D   the same, @FILE kept byte for byte; --data-raw: no @\n"
	"  -X, --request METHOD  use METHOD\n"
	"  -I, --head            HEAD; print the response headers\n"
	"  -i, --include         print the response headers before the body\n"
	"  -o, --output FILE     write the body to FILE\n"
	"  -s, --silent          no error messages; -S, --show-error: errors even with -s\n"
	"  -f, --fail            no body and exit 22 when the status is 400 or more\n"
	"  -L, --location        follow redirects (at most --max-redirs, default 50)\n"
	"  -w, --write-out FMT   after the transfer print FMT: %{http_code} %{time_namelookup}\n"
	"                        %{time_connect} %{time_appconnect} %{time_starttransfer}\n"
	"                        %{time_total} %{size_download} %{remote_ip} ... and \\n\n"
	"  -k, --insecure        do not verify the server's certificate (warns)\n"
	"      --cacert FILE     trust the CAs in FILE (PEM) instead of the system bundle\n"
	"      --cert FILE, --key FILE   client certificate and key (PEM)\n"
	"      --resolve HOST:PORT:ADDR  connect to ADDR for HOST:PORT (the name is still verified)\n"
	"      --connect-timeout SECONDS   for TCP connect and TLS handshake\n"
	"  -m, --max-time SECONDS        for the whole transfer\n"
	"      --compressed      ask for gzip and decode it\n"
	"  -A, --user-agent UA   User-Agent (default retina-curl)\n"
	"  -4, -6                IPv4 / IPv6 only\n"
	"\n"
	"Exit status as curl's: 0 ok, 2 usage, 3 bad URL, 6 cannot resolve, 7 cannot\n"
	"connect, 22 HTTP error with -f, 23 write error, 28 timeout, 35 TLS handshake\n"
	"failed, 47 too many redirects, 52 empty reply, 56 receive error, 60 certificate\n"
	"problem, 77 cannot read the CA file.\n"
	"\n"
	"Examples:\n"
	"  retina curl -v https://10.96.0.1/healthz --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n"
	"  retina curl -sS -o /dev/null -w '%{http_code} %{time_connect} %{time_total}\\n' http://10.244.1.7:8080/\n"
	"  retina curl --resolve my.svc:443:10.244.1.7 https://my.svc/   test one backend by its name\n"
	"  retina curl -fsS --connect-timeout 2 http://svc.ns.svc.cluster.local/ready\n";

#define MAX_HEADERS 48
#define MAX_PINS 16

struct pin {
	char host[256];
	uint16_t port;
	struct ipaddr addr;
};

struct copts {
	const char *url, *output, *method, *write_out, *cacert, *cert, *key, *agent;
	char *data;
	size_t data_len;
	bool has_data, head, include, silent, show_error, fail, follow, verbose, insecure, compressed;
	int max_redirs, connect_ms, max_ms, family;
	struct http_header hdrs[MAX_HEADERS];
	size_t nhdrs;
	struct pin pins[MAX_PINS];
	int npins;
};

struct run {
	struct copts *o;
	long long t0;
	struct curl_stats st;
	struct tls_ctx *tls;
	int out_fd;			/* -1 until the first output */
	char url[8192];
};

static double since(const struct run *r)
{
	return (mono_us() - r->t0) / 1e6;
}

/* ms left of -m (-1: no limit; 0: none left). */
static int left_ms(const struct run *r)
{
	if (!r->o->max_ms)
		return -1;
	long long left = r->o->max_ms - (mono_us() - r->t0) / 1000;
	return left > 0 ? (int)left : 0;
}

static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* curl's one-line error: "retina curl: (7) Failed to connect ...". */
static int failure(struct run *r, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!r->o->silent || r->o->show_error)
		warnx("(%d) %s", code, msg);
	return code;
}

static void verbose(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void verbose(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->o->verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static char *read_file(const char *path, size_t *len)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t cap = 4096, used = 0;
	char *buf = NULL;
	ssize_t n;

	if (fd < 0)
		return NULL;
	for (;;) {
		if (!buf || used == cap) {
			char *p = realloc(buf, buf ? (cap *= 2) + 1 : cap + 1);
			if (!p)
				goto fail;
			buf = p;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	buf[used] = '\0';
	*len = used;
	return buf;
fail:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return NULL;
}

/* -d / --data-binary / --data-raw: several join with '&'; @FILE read (-d drops CR and LF). */
static void add_data(struct copts *o, const char *arg, int kind)
{
	char *piece;
	size_t plen;

	if (kind != 'r' && arg[0] == '@') {
		if (!(piece = read_file(arg + 1, &plen)))
			die(CURLE_READ_ERROR, "(26) cannot read data file %s: %s", arg + 1, strerror(errno));
		if (kind == 'd') {
			size_t j = 0;
			for (size_t i = 0; i < plen; i++)
				if (piece[i] != '\r' && piece[i] != '\n')
					piece[j++] = piece[i];
			plen = j;
		}
	} else {
		piece = strdup(arg);
		plen = strlen(arg);
	}
	char *all = realloc(o->data, o->data_len + plen + 2);
	if (!piece || !all)
		die(EXIT_FAIL, "out of memory");
	if (o->has_data)
		all[o->data_len++] = '&';
	memcpy(all + o->data_len, piece, plen);
	o->data_len += plen;
	all[o->data_len] = '\0';
	o->data = all;
	o->has_data = true;
	free(piece);
}

static void add_header(struct copts *o, char *arg)
{
	char *colon = strchr(arg, ':');

	if (!colon || colon == arg)
		usage_error("-H '%s': a header is 'Name: value'", arg);
	if (o->nhdrs == MAX_HEADERS)
		usage_error("at most %d -H headers", MAX_HEADERS);
	*colon = '\0';
	const char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	o->hdrs[o->nhdrs].name = arg;
	o->hdrs[o->nhdrs++].value = v;
}

static const struct http_header *user_header(const struct copts *o, const char *name)
{
	for (size_t i = 0; i < o->nhdrs; i++)
		if (!strcasecmp(o->hdrs[i].name, name))
			return &o->hdrs[i];
	return NULL;
}

/* ---- connecting ---------------------------------------------------------- */

static int resolve(struct run *r, const struct http_url *u, struct ipaddr *ip)
{
	struct resolv_conf rc;
	char err[256];
	long port = strtol(u->port, NULL, 10);

	for (int i = 0; i < r->o->npins; i++)
		if (!strcasecmp(r->o->pins[i].host, u->host) && r->o->pins[i].port == port) {
			*ip = r->o->pins[i].addr;
			return 0;
		}
	if (!ipaddr_parse(u->host, ip)) {
		if (r->o->family && ip->family != r->o->family)
			return failure(r, CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: %s (not IPv%d)",
				       u->host, r->o->family == AF_INET ? 4 : 6);
		return 0;
	}
	if (resolv_conf_load(NULL, &rc, err, sizeof(err)) ||
	    resolv_lookup(&rc, u->host, r->o->family, ip, err, sizeof(err)))
		return failure(r, CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: %s (%s)", u->host, err);
	return 0;
}

/* TCP connect within the connect timeout and -m; the socket, or -1 with the exit code in *code. */
static int dial(struct run *r, const struct http_url *u, const struct ipaddr *ip, int *code)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	uint16_t port = (uint16_t)strtol(u->port, NULL, 10);
	int timeout = min_timeout(r->o->connect_ms ? r->o->connect_ms : 300000, left_ms(r));
	long long start = mono_us();
	int fd, e = 0, one = 1;
	char addr[IPADDR_STRLEN];

	ipaddr_format(ip, addr, sizeof(addr));
	verbose(r, "*   Trying %s%s%s:%u...\n", ip->family == AF_INET6 ? "[" : "", addr,
		ip->family == AF_INET6 ? "]" : "", port);
	sl = ipaddr_to_sockaddr(ip, port, &ss);
	snprintf(r->st.remote_ip, sizeof(r->st.remote_ip), "%s", addr);
	r->st.remote_port = port;
	fd = socket(ip->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
	} else if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		e = errno;
	} else {
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int left = timeout - (int)((mono_us() - start) / 1000);
			int n = poll(&p, 1, left > 0 ? left : 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				e = n == 0 ? ETIMEDOUT : errno;
			break;
		}
		socklen_t el = sizeof(e);
		if (!e && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el))
			e = errno;
	}
	long long took = (mono_us() - start) / 1000;
	if (e) {
		if (fd >= 0)
			close(fd);
		if (e == ETIMEDOUT)
			*code = failure(r, CURLE_OPERATION_TIMEDOUT, "Failed to connect to %s port %u after %lld ms: "
					"Timeout was reached (no answer: filtered or the host is down?)",
					u->host, port, took);
		else
			*code = failure(r, CURLE_COULDNT_CONNECT, "Failed to connect to %s port %u after %lld ms: %s",
					u->host, port, took, strerror(e));
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	verbose(r, "* Connected to %s (%s) port %u (#0)\n", u->host, addr, port);
	return fd;
}

static int tls_setup(struct run *r, int *code)
{
	const struct copts *o = r->o;
	struct tls_opts to = {
		.insecure = o->insecure,
		.ca_words = "the CA bundle (--cacert FILE trusts another CA; -k skips verification)",
		.name_fix = "use the name the certificate has, with --resolve NAME:PORT:ADDR",
		.insecure_words = "-k",
	};
	const char *ca = o->cacert;
	char *ca_pem = NULL, *cert = NULL, *key = NULL, err[512];
	size_t ca_len = 0, cert_len = 0, key_len = 0;

	if (!ca)
		ca = getenv("SSL_CERT_FILE");
	if (!ca || !*ca)
		ca = getenv("CURL_CA_BUNDLE");
	if (!ca || !*ca)
		ca = "/etc/ssl/certs/ca-certificates.crt";
	if (!o->insecure && !(ca_pem = read_file(ca, &ca_len))) {
		*code = failure(r, CURLE_SSL_CACERT_BADFILE, "error setting certificate file: %s: %s "
				"(--cacert FILE names the CA bundle)", ca, strerror(errno));
		return -1;
	}
	if (o->cert && !(cert = read_file(o->cert, &cert_len))) {
		*code = failure(r, 58, "unable to read client certificate %s: %s", o->cert, strerror(errno));
		goto out;
	}
	if (o->cert && !(key = read_file(o->key ? o->key : o->cert, &key_len))) {
		*code = failure(r, 58, "unable to read client key %s: %s", o->key ? o->key : o->cert,
				strerror(errno));
		goto out;
	}
	to.ca_pem = ca_pem;
	to.ca_len = ca_len;
	to.cert_pem = cert;
	to.cert_len = cert_len;
	to.key_pem = key;
	to.key_len = key_len;
	if (!(r->tls = tls_ctx_new(&to, err, sizeof(err))))
		*code = failure(r, ca_pem && !cert ? CURLE_SSL_CACERT_BADFILE : 58, "%s: %s",
				cert ? "client certificate or CA file" : ca, err);
out:
	free(ca_pem);
	free(cert);
	if (key)
		explicit_bzero(key, key_len);
	free(key);
	return r->tls ? 0 : -1;
}

static void verbose_tls(struct run *r, struct http_conn *c)
{
	struct tls_info ti;

	if (!r->o->verbose || !http_conn_tls(c))
		return;
	tls_get_info(http_conn_tls(c), &ti);
	fprintf(stderr, "* SSL connection using %s / %s\n* Server certificate:\n", ti.version, ti.cipher);
	fprintf(stderr, "*  subject: %s\n*  start date: %s\n*  expire date: %s\n", ti.subject, ti.not_before,
		ti.not_after);
	fprintf(stderr, "*  subjectAltName: %s\n*  issuer: %s\n", ti.sans[0] ? ti.sans : "(none)", ti.issuer);
	fprintf(stderr, ti.verified ? "*  SSL certificate verify ok.\n"
		: "*  SSL certificate verify result: NOT verified (-k), continuing anyway.\n");
}

/* Connect (and handshake) to u; the connection, or NULL with the exit code in *code. */
static struct http_conn *open_conn(struct run *r, const struct http_url *u, int *code)
{
	struct ipaddr ip;
	char err[1024], prefix[300];
	int fd;

	if ((*code = resolve(r, u, &ip)))
		return NULL;
	r->st.t_namelookup = since(r);
	if ((fd = dial(r, u, &ip, code)) < 0)
		return NULL;
	r->st.t_connect = since(r);
	if (u->https && !r->tls && tls_setup(r, code)) {
		close(fd);
		return NULL;
	}
	int timeout = min_timeout(r->o->connect_ms ? r->o->connect_ms : 300000, left_ms(r));
	struct http_conn *c = http_conn_wrap(fd, u->host, u->https ? r->tls : NULL, timeout, err, sizeof(err));
	if (!c) {
		/* http_conn_wrap says "TLS with HOST: why"; curl's line carries the why */
		const char *why = err;
		snprintf(prefix, sizeof(prefix), "TLS with %s: ", u->host);
		if (!strncmp(err, prefix, strlen(prefix)))
			why = err + strlen(prefix);
		if (tls_ctx_cert_failed(r->tls))
			*code = failure(r, CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem: %s", why);
		else if (strstr(why, "timed out"))
			*code = failure(r, CURLE_OPERATION_TIMEDOUT, "TLS handshake with %s timed out after %d ms",
					u->host, timeout);
		else
			*code = failure(r, CURLE_SSL_CONNECT_ERROR, "TLS handshake with %s failed: %s", u->host, why);
		return NULL;
	}
	if (u->https)
		r->st.t_appconnect = since(r);
	verbose_tls(r, c);
	return c;
}

/* ---- one request --------------------------------------------------------- */

static int out_open(struct run *r)
{
	if (r->out_fd >= 0)
		return 0;
	if (!r->o->output || !strcmp(r->o->output, "-")) {
		r->out_fd = STDOUT_FILENO;
		return 0;
	}
	r->out_fd = open(r->o->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (r->out_fd < 0)
		return failure(r, CURLE_WRITE_ERROR, "Failed to open/create file %s: %s", r->o->output, strerror(errno));
	return 0;
}

static int out_write(struct run *r, const void *buf, size_t len)
{
	int code = out_open(r);

	if (code)
		return code;
	if (write_all(r->out_fd, buf, len))
		return failure(r, CURLE_WRITE_ERROR, "Failure writing output to %s: %s",
			       r->o->output ? r->o->output : "stdout", strerror(errno));
	return 0;
}

/* The response head as received, for -i/-I (CRLF lines) and -v ("< " lines). */
static int print_head(struct run *r, const struct http_response *resp, bool to_output)
{
	char line[HTTP_HEAD_MAX + 16];
	int n = snprintf(line, sizeof(line), "HTTP/1.%d %d %s", resp->minor, resp->status, resp->reason);
	int code = 0;

	r->st.size_header += (uint64_t)n + 2;
	if (to_output) {
		code = out_write(r, line, (size_t)n);
		code = code ? code : out_write(r, "\r\n", 2);
	}
	verbose(r, "< %s\n", line);
	for (size_t i = 0; i < resp->nheaders && !code; i++) {
		n = snprintf(line, sizeof(line), "%s: %s", resp->headers[i].name, resp->headers[i].value);
		r->st.size_header += (uint64_t)n + 2;
		if (to_output) {
			code = out_write(r, line, (size_t)n);
			code = code ? code : out_write(r, "\r\n", 2);
		}
		verbose(r, "< %s\n", line);
	}
	r->st.size_header += 2;
	verbose(r, "<\n");
	if (to_output && !code)
		code = out_write(r, "\r\n", 2);
	return code;
}

static void verbose_request(struct run *r, const struct http_request *q)
{
	char err[128], *head, *line, *save;

	if (!r->o->verbose || !(head = http_request_head(q, err, sizeof(err))))
		return;
	for (line = strtok_r(head, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		fprintf(stderr, "> %s\n", line);
	fprintf(stderr, ">\n");
	free(head);
}

static int timed_out(struct run *r)
{
	return failure(r, CURLE_OPERATION_TIMEDOUT, "Operation timed out after %lld milliseconds with %llu bytes received",
		       (mono_us() - r->t0) / 1000, (unsigned long long)r->st.size_download);
}

static bool is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The request as curl sends it: Host with the port only when not the scheme's default, then the headers. */
static struct http_request build_request(struct run *r, const struct http_url *u, const char *method, bool with_body,
					 struct http_header *hdrs, char *hostport, size_t hplen)
{
	const struct copts *o = r->o;
	size_t n = 0;

	bool v6 = strchr(u->host, ':') != NULL;
	bool dflt = !strcmp(u->port, u->https ? "443" : "80");
	snprintf(hostport, hplen, "%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "", dflt ? "" : ":",
		 dflt ? "" : u->port);
	const struct http_header *h = user_header(o, "Host");
	if (!user_header(o, "User-Agent"))
		hdrs[n++] = (struct http_header){ "User-Agent", o->agent ? o->agent : "retina-curl" };
	if (!user_header(o, "Accept"))
		hdrs[n++] = (struct http_header){ "Accept", "*/*" };
	for (size_t i = 0; i < o->nhdrs; i++)
		if (o->hdrs[i].value[0] && strcasecmp(o->hdrs[i].name, "Host"))
			hdrs[n++] = o->hdrs[i];
	if (with_body && !user_header(o, "Content-Type"))
		hdrs[n++] = (struct http_header){ "Content-Type", "application/x-www-form-urlencoded" };
	return (struct http_request){
		.method = method, .host = h && h->value[0] ? h->value : hostport, .path = u->path,
		.headers = hdrs, .nheaders = n, .gzip = o->compressed,
		.body = with_body ? o->data : NULL, .body_len = with_body ? o->data_len : 0,
	};
}

/* curl's exit code and message for a request that got no response. */
static int request_failed(struct run *r, const char *err)
{
	if (errno == ETIMEDOUT || left_ms(r) == 0)
		return timed_out(r);
	if (strstr(err, "without a response"))
		return failure(r, CURLE_GOT_NOTHING, "Empty reply from server");
	if (!strncmp(err, "sending", 7))
		return failure(r, CURLE_SEND_ERROR, "Failed sending data to the peer: %s", err);
	if (strstr(err, "reading the response") || strstr(err, "closed the connection"))
		return failure(r, CURLE_RECV_ERROR, "Failure when receiving data from the peer: %s", err);
	return failure(r, CURLE_WEIRD_SERVER_REPLY, "Weird server reply: %s", err);
}

/* The body to the output (read and dropped when following a redirect). Returns the exit code. */
static int read_body(struct run *r, struct http_conn *c, struct http_response *resp, bool following)
{
	char err[1024], buf[16384];
	int code = 0;

	for (;;) {
		http_set_read_timeout(c, left_ms(r));
		ssize_t got = http_read_body(c, resp, buf, sizeof(buf), err, sizeof(err));
		if (got == 0)
			break;
		if (got < 0) {
			if (errno == ETIMEDOUT || left_ms(r) == 0)
				code = timed_out(r);
			else if (strstr(err, "gzip"))
				code = failure(r, CURLE_BAD_CONTENT_ENCODING, "Error while processing content unencoding: %s",
					       err);
			else if (strstr(err, "in the middle of the body"))
				code = failure(r, CURLE_PARTIAL_FILE, "transfer closed with outstanding read data "
					       "remaining (%s)", err);
			else
				code = failure(r, CURLE_RECV_ERROR, "Failure when receiving data from the peer: %s", err);
			break;
		}
		if (following)
			continue;
		r->st.size_download += (uint64_t)got;
		if ((code = out_write(r, buf, (size_t)got)))
			break;
	}
	return code;
}

/*
 * One request/response on a new connection. *next gets the redirect target
 * when -L applies (the body is then skipped). Returns the exit code.
 */
static int exchange(struct run *r, const char *method, bool with_body, char *next, size_t nextlen)
{
	const struct copts *o = r->o;
	struct http_url u;
	struct http_header hdrs[MAX_HEADERS + 4];
	struct http_response *resp = NULL;
	struct http_conn *c;
	char err[1024], hostport[300];
	int code = 0;

	next[0] = '\0';
	if (http_url_parse(r->url, &u, err, sizeof(err)))
		return failure(r, strstr(r->url, "://") && strncasecmp(r->url, "http", 4) ? CURLE_UNSUPPORTED_PROTOCOL
			       : CURLE_URL_MALFORMAT, "%s", err);
	r->st.scheme = u.https ? "HTTPS" : "HTTP";
	if (!(c = open_conn(r, &u, &code)))
		return code;

	struct http_request q = build_request(r, &u, method, with_body, hdrs, hostport, sizeof(hostport));
	r->st.size_upload = q.body_len;
	verbose_request(r, &q);
	r->st.t_pretransfer = since(r);
	if (!(resp = malloc(sizeof(*resp)))) {
		http_close(c);
		return failure(r, EXIT_FAIL, "out of memory");
	}
	http_set_read_timeout(c, left_ms(r));
	if (http_request(c, &q, resp, err, sizeof(err))) {
		code = request_failed(r, err);
		goto out;
	}
	r->st.t_starttransfer = since(r);
	r->st.http_code = resp->status;
	const char *ct = http_header(resp, "Content-Type");
	static char ctype[256];
	snprintf(ctype, sizeof(ctype), "%s", ct ? ct : "");
	r->st.content_type = ct ? ctype : NULL;
	const char *loc = http_header(resp, "Location");
	if (loc && is_redirect(resp->status) && !curl_location(&u, loc, next, nextlen))
		r->st.redirect_url = next;
	else
		next[0] = '\0';

	bool failing = o->fail && resp->status >= 400;
	bool following = o->follow && next[0];
	if ((code = print_head(r, resp, (o->include || o->head) && !failing)))
		goto out;
	if (failing) {
		code = failure(r, CURLE_HTTP_RETURNED_ERROR, "The requested URL returned error: %d", resp->status);
		goto out;
	}
	if (!following && (code = out_open(r)))
		goto out;
	code = read_body(r, c, resp, following);
	if (!following)
		next[0] = '\0';
out:
	http_response_free(resp);
	free(resp);
	http_close(c);
	return code;
}

static int transfer(struct run *r)
{
	const struct copts *o = r->o;
	const char *method = o->method ? o->method : o->head ? "HEAD" : o->has_data ? "POST" : "GET";
	bool with_body = o->has_data;
	char next[sizeof(r->url)];
	int code;

	for (;;) {
		code = exchange(r, method, with_body, next, sizeof(next));
		if (code || !next[0])
			return code;
		if (r->st.num_redirects >= o->max_redirs)
			return failure(r, CURLE_TOO_MANY_REDIRECTS, "Maximum (%d) redirects followed", o->max_redirs);
		r->st.num_redirects++;
		verbose(r, "* Issue another request to this URL: '%s'\n", next);
		/* As curl: 303 turns anything but HEAD into GET, 301/302 turn POST into GET. */
		int s = r->st.http_code;
		if ((s == 303 && strcmp(method, "HEAD")) || ((s == 301 || s == 302) && !strcmp(method, "POST"))) {
			if (!o->method || s == 303)
				method = "GET";
			with_body = false;
		}
		snprintf(r->url, sizeof(r->url), "%s", next);
		r->st.redirect_url = NULL;
	}
}

/* ---- options ------------------------------------------------------------- */

enum {
	OPT_CACERT = 256, OPT_CERT, OPT_KEY, OPT_RESOLVE, OPT_CONNECT_TIMEOUT, OPT_COMPRESSED,
	OPT_DATA_BINARY, OPT_DATA_RAW, OPT_MAX_REDIRS, OPT_URL,
};

static const struct option longopts[] = {
	{ "verbose", no_argument, NULL, 'v' },
	{ "header", required_argument, NULL, 'H' },
	{ "data", required_argument, NULL, 'd' },
	{ "data-ascii", required_argument, NULL, 'd' },
	{ "data-binary", required_argument, NULL, OPT_DATA_BINARY },
	{ "data-raw", required_argument, NULL, OPT_DATA_RAW },
	{ "request", required_argument, NULL, 'X' },
	{ "head", no_argument, NULL, 'I' },
	{ "include", no_argument, NULL, 'i' },
	{ "output", required_argument, NULL, 'o' },
	{ "silent", no_argument, NULL, 's' },
	{ "show-error", no_argument, NULL, 'S' },
	{ "fail", no_argument, NULL, 'f' },
	{ "location", no_argument, NULL, 'L' },
	{ "max-redirs", required_argument, NULL, OPT_MAX_REDIRS },
	{ "write-out", required_argument, NULL, 'w' },
	{ "insecure", no_argument, NULL, 'k' },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "resolve", required_argument, NULL, OPT_RESOLVE },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "max-time", required_argument, NULL, 'm' },
	{ "compressed", no_argument, NULL, OPT_COMPRESSED },
	{ "user-agent", required_argument, NULL, 'A' },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "url", required_argument, NULL, OPT_URL },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static void parse_args(int argc, char **argv, struct copts *o)
{
	int c;
	uint64_t v;

	o->max_redirs = 50;
	while ((c = next_opt(argc, argv, "vH:d:X:Iio:sSfLw:km:A:46h", longopts)) != -1) {
		switch (c) {
		case 'v': o->verbose = true; break;
		case 'H': add_header(o, optarg); break;
		case 'd': add_data(o, optarg, 'd'); break;
		case OPT_DATA_BINARY: add_data(o, optarg, 'b'); break;
		case OPT_DATA_RAW: add_data(o, optarg, 'r'); break;
		case 'X': o->method = optarg; break;
		case 'I': o->head = true; break;
		case 'i': o->include = true; break;
		case 'o': o->output = optarg; break;
		case 's': o->silent = true; break;
		case 'S': o->show_error = true; break;
		case 'f': o->fail = true; break;
		case 'L': o->follow = true; break;
		case 'w': o->write_out = optarg; break;
		case 'k': o->insecure = true; break;
		case 'A': o->agent = optarg; break;
		case '4': o->family = AF_INET; break;
		case '6': o->family = AF_INET6; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_CERT: o->cert = optarg; break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_COMPRESSED: o->compressed = true; break;
		case OPT_URL: o->url = optarg; break;
		case OPT_MAX_REDIRS:
			if (parse_u64(optarg, 0, 1000, &v))
				usage_error("--max-redirs '%s': a number 0-1000", optarg);
			o->max_redirs = (int)v;
			break;
		case OPT_RESOLVE:
			if (o->npins == MAX_PINS)
				usage_error("at most %d --resolve entries", MAX_PINS);
			if (curl_resolve_parse(optarg, o->pins[o->npins].host, &o->pins[o->npins].port,
					       &o->pins[o->npins].addr))
				usage_error("--resolve '%s': want HOST:PORT:ADDR (ADDR an IP address)", optarg);
			o->npins++;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (curl_parse_seconds(optarg, &o->connect_ms))
				usage_error("--connect-timeout '%s': want seconds (2, 0.5)", optarg);
			break;
		case 'm':
			if (curl_parse_seconds(optarg, &o->max_ms))
				usage_error("--max-time '%s': want seconds (10, 0.5)", optarg);
			break;
		case 'h': show_help(curl_help);
		default: usage_error("unknown option");
		}
	}
	if (optind < argc && !o->url)
		o->url = argv[optind++];
	if (optind < argc)
		usage_error("one URL at a time ('%s' is extra)", argv[optind]);
	if (!o->url)
		usage_error("no URL given");
	if (o->head && o->has_data)
		usage_error("-I (HEAD) and -d (POST) cannot be used together");
}

int curl_main(int argc, char **argv)
{
	struct copts o = { 0 };
	struct run r = { .o = &o, .out_fd = -1 };
	int code;

	parse_args(argc, argv, &o);
	/* a peer or a reader that goes away is an error to report (23, 55), not a silent death */
	signal(SIGPIPE, SIG_IGN);
	snprintf(r.url, sizeof(r.url), "%s", o.url);
	/* bare "host/path" is http:// as in curl */
	if (!strstr(o.url, "://"))
		snprintf(r.url, sizeof(r.url), "http://%s", o.url);
	r.t0 = mono_us();
	code = transfer(&r);
	r.st.t_total = since(&r);
	/* curl's times are cumulative: a step not taken counts as the previous one's end */
	if (!r.st.t_starttransfer && !code)
		r.st.t_starttransfer = r.st.t_total;
	r.st.exitcode = code;
	r.st.url_effective = r.url;
	if (r.out_fd > STDOUT_FILENO && close(r.out_fd) && !code)
		code = failure(&r, CURLE_WRITE_ERROR, "Failure writing output to %s: %s", o.output, strerror(errno));
	if (o.write_out) {
		char out[8192], unknown[64];
		size_t n = curl_write_out(o.write_out, &r.st, out, sizeof(out), unknown, sizeof(unknown));
		if (unknown[0])
			warnx("unknown --write-out variable: '%s'", unknown);
		fflush(stderr);
		write_all(STDOUT_FILENO, out, n);
	}
	tls_ctx_free(r.tls);
	free(o.data);
	return code;
}
