/*
 * HTTP/1.1 client: one connection (plain TCP or TLS) carries requests one
 * after another (keep-alive); response bodies are read as a stream, with
 * chunked transfer coding and gzip content coding undone. Knows nothing of
 * Kubernetes: a `curl` applet can use it as it is.
 */
#ifndef RETINA_NET_HTTP_H
#define RETINA_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

struct tls_ctx;

struct http_url {
	bool https;
	char host[256];		/* name or address, no brackets */
	char port[8];
	char path[4096];	/* path and query, "/" at least */
};
/* "https://host:port/path?q"; the port defaults to 80/443. -1 with err. */
int http_url_parse(const char *url, struct http_url *u, char *err, size_t errlen);

struct http_header {
	const char *name, *value;
};

#define HTTP_MAX_HEADERS 64
#define HTTP_HEAD_MAX 16384

/* Chunked transfer decoding as a pure state machine (fuzzed). */
struct http_chunked {
	int state;
	uint64_t left;		/* bytes left in the current chunk */
	unsigned hexdigits;
};
enum { HTTP_CHUNK_MORE = 0, HTTP_CHUNK_DONE = 1, HTTP_CHUNK_BAD = -1 };
/*
 * Decode from in into out; *used / *made say how much of each was consumed
 * and produced. MORE: give more input (or room); DONE: the last chunk and
 * trailers have been read (*used stops right after them); BAD: malformed.
 */
int http_chunked_decode(struct http_chunked *d, const uint8_t *in, size_t inlen, size_t *used,
			uint8_t *out, size_t outlen, size_t *made);

struct http_response {
	int status;			/* 200 */
	int minor;			/* HTTP/1.x */
	const char *reason;		/* "OK" */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	int64_t content_length;		/* -1 when not given */
	bool chunked, gzip, keep_alive, no_body;
	char head[HTTP_HEAD_MAX];	/* the head as received; headers point into it */
	/* body reading state */
	int64_t body_left;
	bool body_done, until_close;
	struct http_chunked chunk;
	z_stream z;
	bool z_live;
};

/*
 * Parse a response head (status line + headers, ending in an empty line)
 * from buf into r. Returns its length when complete, 0 when more bytes are
 * needed, -1 when malformed (err says why). method_head: the request was
 * HEAD, so there is no body whatever the headers say.
 */
int http_parse_head(const char *buf, size_t len, struct http_response *r, bool method_head,
		    char *err, size_t errlen);
/* Case-insensitive header lookup; NULL when absent. */
const char *http_header(const struct http_response *r, const char *name);

struct http_conn;

/*
 * Connect to host:port (names resolved, every address tried), then TLS when
 * tls is not NULL (verified as host). NULL with err, naming host:port.
 */
struct http_conn *http_connect(const char *host, const char *port, struct tls_ctx *tls,
			       int timeout_ms, char *err, size_t errlen);
/*
 * Wrap a connected socket (for example one tunnelled through a proxy with
 * CONNECT), adding TLS when tls is not NULL. The socket is owned from here.
 */
struct http_conn *http_conn_wrap(int fd, const char *host, struct tls_ctx *tls,
				 int timeout_ms, char *err, size_t errlen);
/* Through an HTTP proxy with CONNECT (then TLS to host when tls is not NULL). */
struct http_conn *http_connect_proxy(const char *proxy_host, const char *proxy_port, const char *host,
				     const char *port, struct tls_ctx *tls, int timeout_ms, char *err, size_t errlen);
/* NO_PROXY semantics (curl/Go): comma list of names, .suffixes, addresses, CIDRs, or "*". */
int http_no_proxy_match(const char *no_proxy, const char *host);
void http_close(struct http_conn *c);
/* The connection may carry another request (the last body was read to its end). */
bool http_reusable(const struct http_conn *c);
/* Read timeout for bodies (default 30 s; < 0 waits forever, as a watch does). */
void http_set_read_timeout(struct http_conn *c, int timeout_ms);

struct http_request {
	const char *method;		/* "GET" */
	const char *host;		/* Host header */
	const char *path;		/* "/api/v1/pods?watch=1" */
	const struct http_header *headers;	/* extra headers */
	size_t nheaders;
	const void *body;
	size_t body_len;
	bool gzip;			/* send Accept-Encoding: gzip and inflate the body */
};

/* The request head http_request sends (NUL-terminated, malloc'd); NULL with err. */
char *http_request_head(const struct http_request *q, char *err, size_t errlen);
/* The TLS connection under c (NULL for plain TCP), for tls_get_info. */
struct tls_conn *http_conn_tls(const struct http_conn *c);

/*
 * Send the request and read the response head into r. 0, or -1 with err.
 * Then read the body with http_read_body until it returns 0.
 */
int http_request(struct http_conn *c, const struct http_request *q, struct http_response *r,
		 char *err, size_t errlen);
/* Up to len body bytes (decoded); 0 at its end; -1 with err (errno ETIMEDOUT on a read timeout). */
ssize_t http_read_body(struct http_conn *c, struct http_response *r, void *buf, size_t len,
		       char *err, size_t errlen);
/* The whole body into a malloc'd NUL-terminated buffer, at most max bytes. 0 or -1 with err. */
int http_read_all(struct http_conn *c, struct http_response *r, char **body, size_t *len, size_t max,
		  char *err, size_t errlen);
/* Release what a response holds (the gzip stream). */
void http_response_free(struct http_response *r);

/* Bytes buffered past the response head (raw, for protocol upgrades such as WebSocket). */
ssize_t http_raw_read(struct http_conn *c, void *buf, size_t len, int timeout_ms);
int http_raw_write(struct http_conn *c, const void *buf, size_t len);
/* The socket, to poll on; and whether bytes are already buffered (poll would not see them). */
int http_conn_fd(const struct http_conn *c);
bool http_has_buffered(const struct http_conn *c);

#endif
