/* WebSocket client (see ws.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <bearssl.h>

#include "lib/base64.h"
#include "net/ws.h"

long long ws_parse_frame(const uint8_t *buf, size_t len, struct ws_frame *f, char *err, size_t errlen)
{
	size_t h = 2;
	uint64_t n;

	if (len < 2)
		return 0;
	f->fin = buf[0] & 0x80;
	f->opcode = buf[0] & 0x0f;
	f->masked = buf[1] & 0x80;
	if (buf[0] & 0x70) {
		snprintf(err, errlen, "WebSocket frame with reserved bits set (no extension was agreed)");
		return -1;
	}
	if ((f->opcode > WS_BINARY && f->opcode < WS_CLOSE) || f->opcode > WS_PONG) {
		snprintf(err, errlen, "WebSocket frame with unknown opcode %d", f->opcode);
		return -1;
	}
	n = buf[1] & 0x7f;
	if (n == 126) {
		if (len < 4)
			return 0;
		n = (uint64_t)buf[2] << 8 | buf[3];
		h = 4;
	} else if (n == 127) {
		if (len < 10)
			return 0;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | buf[2 + i];
		h = 10;
	}
	if (f->opcode >= WS_CLOSE && (!f->fin || n > 125)) {
		snprintf(err, errlen, "WebSocket control frame fragmented or longer than 125 bytes");
		return -1;
	}
	if (n > WS_MAX_MESSAGE) {
		snprintf(err, errlen, "WebSocket frame of %llu bytes is too large", (unsigned long long)n);
		return -1;
	}
	if (f->masked) {
		if (len < h + 4)
			return 0;
		memcpy(f->mask, buf + h, 4);
		h += 4;
	}
	f->header_len = h;
	f->len = n;
	return len >= h + n ? (long long)(h + n) : 0;
}

void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t off)
{
	for (size_t i = 0; i < len; i++)
		p[i] ^= mask[(off + i) & 3];
}

size_t ws_build_frame(uint8_t *out, size_t cap, int opcode, bool fin, const void *payload, size_t len,
		      const uint8_t mask[4])
{
	size_t h = 2;

	if (cap < len + 14)
		return 0;
	out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
	if (len < 126) {
		out[1] = 0x80 | len;
	} else if (len <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = len >> 8;
		out[3] = len;
		h = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint64_t)len >> (56 - 8 * i);
		h = 10;
	}
	memcpy(out + h, mask, 4);
	h += 4;
	if (len)
		memcpy(out + h, payload, len);
	ws_mask(out + h, len, mask, 0);
	return h + len;
}

void ws_accept_key(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	br_sha1_context sc;
	uint8_t d[20];

	br_sha1_init(&sc);
	br_sha1_update(&sc, key, strlen(key));
	br_sha1_update(&sc, guid, sizeof(guid) - 1);
	br_sha1_out(&sc, d);
	char *b = base64_encode(d, sizeof(d));
	snprintf(out, 29, "%s", b ? b : "");
	free(b);
}

static void random_bytes(uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;	/* never on Linux >= 3.17 for small reads */
		p += r;
		n -= r;
	}
}

struct ws *ws_connect(struct http_conn *conn, const char *host, const char *path,
		      const char *const *protocols, const struct http_header *extra, size_t nextra,
		      int *status, char **body, size_t *bodylen, char *err, size_t errlen)
{
	struct http_header h[16];
	struct http_response *r = malloc(sizeof(*r));
	struct ws *w = calloc(1, sizeof(*w));
	uint8_t nonce[16];
	char key[32], want[29], protos[256] = "";
	size_t nh = 0;

	*status = 0;
	if (body)
		*body = NULL;
	if (!r || !w || nextra > 10) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	random_bytes(nonce, sizeof(nonce));
	char *k = base64_encode(nonce, sizeof(nonce));
	snprintf(key, sizeof(key), "%s", k ? k : "");
	free(k);
	for (size_t i = 0; protocols && protocols[i]; i++)
		snprintf(protos + strlen(protos), sizeof(protos) - strlen(protos), "%s%s", i ? ", " : "", protocols[i]);
	h[nh++] = (struct http_header){ "Upgrade", "websocket" };
	h[nh++] = (struct http_header){ "Connection", "Upgrade" };
	h[nh++] = (struct http_header){ "Sec-WebSocket-Key", key };
	h[nh++] = (struct http_header){ "Sec-WebSocket-Version", "13" };
	if (protos[0])
		h[nh++] = (struct http_header){ "Sec-WebSocket-Protocol", protos };
	for (size_t i = 0; i < nextra; i++)
		h[nh++] = extra[i];
	struct http_request q = { .method = "GET", .host = host, .path = path, .headers = h, .nheaders = nh };
	if (http_request(conn, &q, r, err, errlen))
		goto fail;
	if (r->status != 101) {
		*status = r->status;
		char *b = NULL;
		size_t bl = 0;
		if (http_read_all(conn, r, &b, &bl, 1 << 20, err, errlen) == 0 && body) {
			*body = b;
			*bodylen = bl;
		} else {
			free(b);
		}
		http_response_free(r);
		snprintf(err, errlen, "the server refused the WebSocket upgrade: HTTP %d %s", r->status, r->reason);
		goto fail;
	}
	const char *up = http_header(r, "Upgrade"), *acc = http_header(r, "Sec-WebSocket-Accept");
	const char *proto = http_header(r, "Sec-WebSocket-Protocol");
	ws_accept_key(key, want);
	if (!up || strcasecmp(up, "websocket") || !acc || strcmp(acc, want)) {
		snprintf(err, errlen, "the server's WebSocket handshake is wrong (Upgrade or Sec-WebSocket-Accept)");
		goto fail;
	}
	if (protos[0]) {
		bool offered = false;
		for (size_t i = 0; proto && protocols[i]; i++)
			offered |= !strcmp(proto, protocols[i]);
		if (!offered) {
			snprintf(err, errlen, "the server chose no WebSocket subprotocol we offered (%s)", protos);
			goto fail;
		}
		snprintf(w->protocol, sizeof(w->protocol), "%s", proto);
	}
	free(r);
	w->conn = conn;
	w->msgop = -1;
	return w;
fail:
	free(r);
	free(w);
	http_close(conn);
	return NULL;
}

int ws_send(struct ws *w, int op, const void *data, size_t len)
{
	uint8_t mask[4], stackbuf[512], *buf = stackbuf;
	int rc;

	if (len + 14 > sizeof(stackbuf) && !(buf = malloc(len + 14)))
		return -1;
	random_bytes(mask, 4);
	size_t n = ws_build_frame(buf, len + 14 > sizeof(stackbuf) ? len + 14 : sizeof(stackbuf), op, true,
				  data, len, mask);
	rc = http_raw_write(w->conn, buf, n);
	if (buf != stackbuf)
		free(buf);
	return rc;
}

/* Make room for n more raw bytes. */
static int reserve(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16384;
	while (c < need)
		c *= 2;
	uint8_t *q = realloc(*p, c);
	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

int ws_recv(struct ws *w, int *op, const uint8_t **data, size_t *len, int timeout_ms, char *err, size_t errlen)
{
	struct ws_frame f;

	if (w->closed)
		return 0;
	for (;;) {
		long long n = ws_parse_frame(w->in, w->inlen, &f, err, errlen);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (reserve(&w->in, &w->incap, w->inlen + 16384)) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			ssize_t r = http_raw_read(w->conn, w->in + w->inlen, w->incap - w->inlen, timeout_ms);
			if (r < 0) {
				int e = errno;
				snprintf(err, errlen, "%s", e == ETIMEDOUT ? "timed out" : strerror(e));
				errno = e;	/* callers tell a timeout from a failure by it */
				return -1;
			}
			if (r == 0) {
				snprintf(err, errlen, "the server closed the connection without a WebSocket close");
				return -1;
			}
			w->inlen += r;
			continue;
		}
		uint8_t *p = w->in + f.header_len;
		if (f.masked)
			ws_mask(p, f.len, f.mask, 0);	/* servers should not mask; accept it anyway */
		if (f.opcode == WS_PING) {
			ws_send(w, WS_PONG, p, f.len);
		} else if (f.opcode == WS_CLOSE) {
			w->closed = true;
			w->close_code = f.len >= 2 ? p[0] << 8 | p[1] : 1005;
			ws_send(w, WS_CLOSE, p, f.len >= 2 ? 2 : 0);
			return 0;
		} else if (f.opcode != WS_PONG) {
			if (f.opcode == WS_CONT ? w->msgop < 0 : w->msgop >= 0) {
				snprintf(err, errlen, "WebSocket fragments out of order");
				return -1;
			}
			if (f.opcode != WS_CONT) {
				w->msgop = f.opcode;
				w->msglen = 0;
			}
			if (w->msglen + f.len > WS_MAX_MESSAGE ||
			    reserve(&w->msg, &w->msgcap, w->msglen + f.len + 1)) {
				snprintf(err, errlen, "WebSocket message too large");
				return -1;
			}
			memcpy(w->msg + w->msglen, p, f.len);
			w->msglen += f.len;
		}
		memmove(w->in, w->in + n, w->inlen - n);
		w->inlen -= n;
		if (f.fin && f.opcode <= WS_BINARY && w->msgop >= 0) {
			*op = w->msgop;
			*data = w->msg;
			*len = w->msglen;
			w->msgop = -1;
			return 1;
		}
	}
}

bool ws_has_buffered(const struct ws *w)
{
	struct ws_frame f;
	char err[8];

	return http_has_buffered(w->conn) || ws_parse_frame(w->in, w->inlen, &f, err, sizeof(err)) != 0;
}

void ws_close(struct ws *w, int code)
{
	if (!w)
		return;
	if (!w->closed) {
		uint8_t c[2] = { code >> 8, code & 0xff };
		ws_send(w, WS_CLOSE, c, 2);
	}
	http_close(w->conn);
	free(w->in);
	free(w->msg);
	free(w);
}
