/*
 * WebSocket client (RFC 6455) over an http_conn: the Upgrade handshake with
 * subprotocol choice, masked client frames, fragmented messages, ping/pong
 * and close. Knows nothing of Kubernetes' channel protocols.
 */
#ifndef RETINA_NET_WS_H
#define RETINA_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http.h"

enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

#define WS_MAX_MESSAGE (16u << 20)

struct ws_frame {
	bool fin, masked;
	int opcode;
	size_t header_len;	/* payload starts here */
	uint64_t len;		/* payload length */
	uint8_t mask[4];
};

/*
 * Parse one frame header at buf. Returns the whole frame's length when all
 * of it is in buf, 0 when more bytes are needed, -1 when it breaks the RFC
 * (err says how): reserved bits, unknown opcodes, fragmented or long control
 * frames, lengths beyond WS_MAX_MESSAGE.
 */
long long ws_parse_frame(const uint8_t *buf, size_t len, struct ws_frame *f, char *err, size_t errlen);
/* Unmask (or mask) payload in place, from offset off of the payload. */
void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t off);
/* A client frame (always masked) into out; returns its length or 0 when cap is too small. */
size_t ws_build_frame(uint8_t *out, size_t cap, int opcode, bool fin, const void *payload, size_t len,
		      const uint8_t mask[4]);
/* base64(SHA-1(key + GUID)), what the server must answer. out >= 29 bytes. */
void ws_accept_key(const char *key, char out[29]);

struct ws {
	struct http_conn *conn;		/* owned */
	char protocol[64];		/* the subprotocol the server chose */
	uint8_t *in;			/* raw bytes not yet parsed */
	size_t inlen, incap;
	uint8_t *msg;			/* the message being reassembled */
	size_t msglen, msgcap;
	int msgop;
	bool closed;
	int close_code;
};

/*
 * Upgrade conn (owned from here, closed on failure) with a GET of path;
 * protocols: the subprotocols to offer, in order of preference (NULL-ended).
 * extra: more request headers (Authorization). NULL with err on failure;
 * *status gets the HTTP status when the server answered with something
 * other than 101 (its body, a metav1.Status, goes to body/bodylen, malloc'd).
 */
struct ws *ws_connect(struct http_conn *conn, const char *host, const char *path,
		      const char *const *protocols, const struct http_header *extra, size_t nextra,
		      int *status, char **body, size_t *bodylen, char *err, size_t errlen);
/*
 * The next data message (text or binary): 1 with op, data and len set (data valid
 * until the next call), 0 when the server closed (close_code set), -1 on
 * error or timeout (errno ETIMEDOUT). Pings are answered on the way.
 */
int ws_recv(struct ws *w, int *op, const uint8_t **data, size_t *len, int timeout_ms, char *err, size_t errlen);
int ws_send(struct ws *w, int op, const void *data, size_t len);
/* A whole frame already waits in our buffers: ws_recv will not block for it. */
bool ws_has_buffered(const struct ws *w);
/* Send a close frame (best effort) and free. */
void ws_close(struct ws *w, int code);

#endif
