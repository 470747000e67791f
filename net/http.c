/* HTTP/1.1 client connections: TCP/TLS, requests, streamed bodies (see http.h). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/addr.h"
#include "lib/sys.h"
#include "net/http.h"
#include "net/tls.h"

struct http_conn {
	int fd;
	struct tls_conn *tls;
	int read_timeout_ms;
	bool broken;			/* a request or body failed midway */
	bool idle;			/* the last response was read to its end */
	bool reusable;
	char where[300];		/* "host:port" for messages */
	size_t off, len;		/* unread bytes in buf */
	unsigned char buf[16384];
	unsigned char zin[8192];	/* framed body bytes waiting for inflate */
};

static int dial_one(const struct addrinfo *ai, long long deadline, int *err)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	int one = 1;

	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	for (;;) {
		long long left = deadline - mono_ms();
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int r = poll(&p, 1, left > 0 ? (int)left : 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*err = r == 0 ? ETIMEDOUT : errno;
			close(fd);
			return -1;
		}
		break;
	}
	socklen_t sl = sizeof(*err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &sl) || *err) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

struct http_conn *http_connect(const char *host, const char *port, struct tls_ctx *tls,
			       int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	long long deadline = mono_ms() + (timeout_ms < 0 ? 30000 : timeout_ms);
	char addr[SOCKADDR_STRLEN] = "";
	int fd = -1, e = 0;
	int rc = getaddrinfo(host, port, &hints, &res);

	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return NULL;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		sockaddr_format(ai->ai_addr, addr, sizeof(addr));
		fd = dial_one(ai, deadline, &e);
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s:%s (%s): %s", host, port, addr,
			 e == ETIMEDOUT ? "timed out" : strerror(e));
		return NULL;
	}
	return http_conn_wrap(fd, host, tls, timeout_ms, err, errlen);
}

struct http_conn *http_conn_wrap(int fd, const char *host, struct tls_ctx *tls,
				 int timeout_ms, char *err, size_t errlen)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	char terr[512];

	if (!c) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = fd;
	c->read_timeout_ms = 30000;
	c->idle = true;
	c->reusable = true;
	snprintf(c->where, sizeof(c->where), "%s", host);
	if (tls && !(c->tls = tls_connect(tls, fd, host, timeout_ms, terr, sizeof(terr)))) {
		snprintf(err, errlen, "TLS with %s: %s", host, terr);
		close(fd);
		free(c);
		return NULL;
	}
	return c;
}

void http_close(struct http_conn *c)
{
	if (!c)
		return;
	tls_close(c->tls);
	close(c->fd);
	free(c);
}

bool http_reusable(const struct http_conn *c)
{
	return c->reusable && c->idle && !c->broken;
}

void http_set_read_timeout(struct http_conn *c, int timeout_ms)
{
	c->read_timeout_ms = timeout_ms;
}

/* Raw transport I/O. */
static ssize_t conn_recv(struct http_conn *c, void *buf, size_t len, int timeout_ms)
{
	if (c->tls)
		return tls_read(c->tls, buf, len, timeout_ms);
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		ssize_t n = read(c->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

int http_raw_write(struct http_conn *c, const void *buf, size_t len)
{
	const char *p = buf;

	if (c->tls)
		return tls_write(c->tls, buf, len, c->read_timeout_ms);
	while (len) {
		ssize_t n = write(c->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Make sure buf holds unread bytes: 1, 0 at EOF, -1 on error. */
static int fill(struct http_conn *c, int timeout_ms)
{
	if (c->off < c->len)
		return 1;
	ssize_t n = conn_recv(c, c->buf, sizeof(c->buf), timeout_ms);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	c->off = 0;
	c->len = n;
	return 1;
}

ssize_t http_raw_read(struct http_conn *c, void *buf, size_t len, int timeout_ms)
{
	int r = fill(c, timeout_ms);

	if (r <= 0)
		return r;
	size_t n = c->len - c->off < len ? c->len - c->off : len;
	memcpy(buf, c->buf + c->off, n);
	c->off += n;
	return n;
}

int http_conn_fd(const struct http_conn *c)
{
	return c->fd;
}

bool http_has_buffered(const struct http_conn *c)
{
	return c->off < c->len || (c->tls && tls_pending(c->tls));
}

static void io_error(struct http_conn *c, const char *what, char *err, size_t errlen)
{
	int e = errno;
	char t[256];

	c->broken = true;
	if (e == ETIMEDOUT)
		snprintf(err, errlen, "%s %s: timed out after %d ms", what, c->where, c->read_timeout_ms);
	else if (c->tls && e == EPROTO)
		snprintf(err, errlen, "%s %s: %s", what, c->where, tls_error(c->tls, t, sizeof(t)));
	else
		snprintf(err, errlen, "%s %s: %s", what, c->where, strerror(e));
}

static bool has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n");
}

char *http_request_head(const struct http_request *q, char *err, size_t errlen)
{
	size_t cap = 256 + strlen(q->method) + strlen(q->path) + strlen(q->host), len;
	bool has_body = q->body || !strcmp(q->method, "POST") || !strcmp(q->method, "PUT") ||
			!strcmp(q->method, "PATCH");
	char *req;

	if (has_crlf(q->method) || has_crlf(q->path) || has_crlf(q->host) || strchr(q->path, ' ')) {
		snprintf(err, errlen, "request line or Host contains a space or line break");
		return NULL;
	}
	for (size_t i = 0; i < q->nheaders; i++) {
		if (has_crlf(q->headers[i].name) || has_crlf(q->headers[i].value)) {
			snprintf(err, errlen, "header %s contains a line break", q->headers[i].name);
			return NULL;
		}
		cap += strlen(q->headers[i].name) + strlen(q->headers[i].value) + 4;
	}
	if (!(req = malloc(cap))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	len = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n%s", q->method, q->path, q->host,
		       q->gzip ? "Accept-Encoding: gzip\r\n" : "");
	for (size_t i = 0; i < q->nheaders; i++)
		len += snprintf(req + len, cap - len, "%s: %s\r\n", q->headers[i].name, q->headers[i].value);
	if (has_body)
		len += snprintf(req + len, cap - len, "Content-Length: %zu\r\n", q->body_len);
	snprintf(req + len, cap - len, "\r\n");
	return req;
}

struct tls_conn *http_conn_tls(const struct http_conn *c)
{
	return c->tls;
}

int http_request(struct http_conn *c, const struct http_request *q, struct http_response *r,
		 char *err, size_t errlen)
{
	char *req;

	memset(r, 0, offsetof(struct http_response, head));
	r->z_live = false;
	if (!c->idle || c->broken) {
		snprintf(err, errlen, "connection to %s is busy with an unread response", c->where);
		return -1;
	}
	if (!(req = http_request_head(q, err, errlen)))
		return -1;
	size_t len = strlen(req);
	int w = http_raw_write(c, req, len);
	free(req);
	if (w || (q->body_len && http_raw_write(c, q->body, q->body_len))) {
		io_error(c, "sending to", err, errlen);
		return -1;
	}
	c->idle = false;

	/* Read the head; skip interim 100 Continue responses. */
	for (;;) {
		size_t have = 0;
		int n = 0;
		while (!n) {
			int f = fill(c, c->read_timeout_ms);
			if (f < 0) {
				io_error(c, "reading the response from", err, errlen);
				return -1;
			}
			if (f == 0) {
				c->broken = true;
				snprintf(err, errlen, "%s closed the connection %s", c->where,
					 have ? "in the middle of the response head" : "without a response");
				return -1;
			}
			/* Move bytes one line at a time so nothing past the head is taken. */
			while (c->off < c->len && have < HTTP_HEAD_MAX - 1) {
				char ch = c->buf[c->off++];
				r->head[have++] = ch;
				if (ch == '\n')
					break;
			}
			n = http_parse_head(r->head, have, r, !strcmp(q->method, "HEAD"), err, errlen);
			if (n < 0) {
				c->broken = true;
				return -1;
			}
		}
		if (r->status != 100)
			break;
	}
	if (!strcmp(q->method, "CONNECT") && r->status / 100 == 2) {
		/* a tunnel: what follows is the other end's bytes, not a body */
		r->no_body = r->body_done = r->keep_alive = true;
		r->until_close = false;
	}
	if (r->gzip && !q->gzip)
		r->gzip = false;	/* we did not ask: the bytes are the body as is */
	if (r->gzip && !r->no_body) {
		if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->z_live = true;
	}
	c->reusable = r->keep_alive;
	if (r->body_done && !r->z_live)
		c->idle = true;
	return 0;
}

/* Body bytes with the transfer framing removed; 0 at the end. */
static ssize_t framed_read(struct http_conn *c, struct http_response *r, unsigned char *buf, size_t len,
			   char *err, size_t errlen)
{
	while (!r->body_done) {
		int f = fill(c, c->read_timeout_ms);
		if (f < 0) {
			io_error(c, "reading the body from", err, errlen);
			return -1;
		}
		if (f == 0) {
			if (r->until_close) {
				r->body_done = true;
				break;
			}
			c->broken = true;
			snprintf(err, errlen, "%s closed the connection in the middle of the body", c->where);
			return -1;
		}
		unsigned char *in = c->buf + c->off;
		size_t avail = c->len - c->off;
		if (r->chunked) {
			size_t used, made;
			int st = http_chunked_decode(&r->chunk, in, avail, &used, buf, len, &made);
			c->off += used;
			if (st == HTTP_CHUNK_BAD) {
				c->broken = true;
				snprintf(err, errlen, "%s sent a malformed chunked body", c->where);
				return -1;
			}
			if (st == HTTP_CHUNK_DONE)
				r->body_done = true;
			if (made)
				return made;
			continue;
		}
		size_t n = avail < len ? avail : len;
		if (!r->until_close && (int64_t)n > r->body_left)
			n = r->body_left;
		memcpy(buf, in, n);
		c->off += n;
		if (!r->until_close && !(r->body_left -= n))
			r->body_done = true;
		return n;
	}
	return 0;
}

ssize_t http_read_body(struct http_conn *c, struct http_response *r, void *buf, size_t len,
		       char *err, size_t errlen)
{
	ssize_t n;

	if (!r->z_live) {
		n = framed_read(c, r, buf, len, err, errlen);
		if (n == 0)
			c->idle = true;
		return n;
	}
	r->z.next_out = buf;
	r->z.avail_out = len;
	while (r->z.avail_out == len) {
		if (r->z.avail_in == 0) {
			n = framed_read(c, r, c->zin, sizeof(c->zin), err, errlen);
			if (n < 0)
				return -1;
			if (n == 0) {
				c->broken = true;
				snprintf(err, errlen, "%s: the gzip body is cut short", c->where);
				return -1;
			}
			r->z.next_in = c->zin;
			r->z.avail_in = n;
		}
		int zr = inflate(&r->z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			size_t made = len - r->z.avail_out;
			inflateEnd(&r->z);
			r->z_live = false;
			/* The rest of the framing (the last chunk) must still be consumed. */
			unsigned char tail[64];
			while ((n = framed_read(c, r, tail, sizeof(tail), err, errlen)) > 0)
				;
			if (n < 0)
				return -1;
			c->idle = true;
			return made;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			c->broken = true;
			snprintf(err, errlen, "%s: the gzip body is corrupt", c->where);
			return -1;
		}
	}
	return len - r->z.avail_out;
}

int http_read_all(struct http_conn *c, struct http_response *r, char **body, size_t *len, size_t max,
		  char *err, size_t errlen)
{
	size_t cap = 4096, used = 0;
	char *p = malloc(cap + 1);
	ssize_t n;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		if (used == cap) {
			if (cap >= max) {
				free(p);
				c->broken = true;
				snprintf(err, errlen, "response from %s is larger than %zu bytes", c->where, max);
				return -1;
			}
			cap = cap * 2 > max ? max : cap * 2;
			char *q = realloc(p, cap + 1);
			if (!q) {
				free(p);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			p = q;
		}
		n = http_read_body(c, r, p + used, cap - used, err, errlen);
		if (n < 0) {
			free(p);
			return -1;
		}
		if (n == 0)
			break;
		used += n;
	}
	p[used] = '\0';
	*body = p;
	*len = used;
	return 0;
}

void http_response_free(struct http_response *r)
{
	if (r->z_live)
		inflateEnd(&r->z);
	r->z_live = false;
}

struct http_conn *http_connect_proxy(const char *proxy_host, const char *proxy_port, const char *host,
				     const char *port, struct tls_ctx *tls, int timeout_ms, char *err, size_t errlen)
{
	struct http_conn *c = http_connect(proxy_host, proxy_port, NULL, timeout_ms, err, errlen);
	struct http_response *r;
	char target[300], terr[512];

	if (!c)
		return NULL;
	snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	struct http_request q = { .method = "CONNECT", .host = target, .path = target };
	if (!(r = malloc(sizeof(*r)))) {
		http_close(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (http_request(c, &q, r, terr, sizeof(terr))) {
		snprintf(err, errlen, "proxy %s:%s: %s", proxy_host, proxy_port, terr);
		goto fail;
	}
	if (r->status / 100 != 2) {
		snprintf(err, errlen, "proxy %s:%s refused CONNECT to %s: %d %s", proxy_host, proxy_port,
			 target, r->status, r->reason);
		goto fail;
	}
	free(r);
	snprintf(c->where, sizeof(c->where), "%s", host);
	c->idle = c->reusable = true;
	if (tls && !(c->tls = tls_connect(tls, c->fd, host, timeout_ms, terr, sizeof(terr)))) {
		snprintf(err, errlen, "TLS with %s (through proxy %s:%s): %s", host, proxy_host, proxy_port, terr);
		http_close(c);
		return NULL;
	}
	return c;
fail:
	free(r);
	http_close(c);
	return NULL;
}
