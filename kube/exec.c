/* exec and attach over WebSocket with Kubernetes' channel protocol (see client.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/client.h"
#include "lib/retina.h"
#include "lib/sys.h"
#include "lib/tty.h"
#include "net/ws.h"

#define PING_MS 5000

static volatile sig_atomic_t resized;

/* Channel 4: the terminal size, as kubectl sends it. */
static void send_size(struct ws *w, int fd)
{
	unsigned cols, rows;
	char msg[64];

	if (tty_size(fd, &cols, &rows) || !cols || !rows)
		return;
	int n = snprintf(msg, sizeof(msg), "\x04{\"Width\":%u,\"Height\":%u}", cols, rows);
	ws_send(w, WS_BINARY, msg, n);
}

/* Percent-encode s for a query value into out. */
static size_t qencode(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < cap; s++) {
		unsigned char c = *s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
			out[o++] = c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

int kube_exec(struct kube_client *k, const struct kube_exec_opts *o, int *exit_code, char *err, size_t errlen)
{
	static const char *const protocols[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", NULL };
	char path[8192], enc[1024];
	size_t n;
	struct ws *w;
	int rc = -1;
	bool got_status = false, in_open = o->in_fd >= 0;

	*exit_code = -1;
	n = snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/%s?", o->ns, o->pod,
		     o->attach ? "attach" : "exec");
	for (size_t i = 0; !o->attach && o->command && o->command[i]; i++) {
		qencode(enc, sizeof(enc), o->command[i]);
		n += snprintf(path + n, sizeof(path) - n, "command=%s&", enc);
	}
	if (o->container) {
		qencode(enc, sizeof(enc), o->container);
		n += snprintf(path + n, sizeof(path) - n, "container=%s&", enc);
	}
	n += snprintf(path + n, sizeof(path) - n, "stdin=%s&stdout=true&stderr=%s&tty=%s",
		      in_open ? "true" : "false", o->tty ? "false" : "true", o->tty ? "true" : "false");
	if (n >= sizeof(path)) {
		snprintf(err, errlen, "the command line is too long");
		return -1;
	}
	if (strspn(o->ns, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(o->ns) ||
	    strspn(o->pod, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(o->pod)) {
		snprintf(err, errlen, "pod '%s/%s' is not a valid namespace/name", o->ns, o->pod);
		return -1;
	}
	if (kube_ws_open(k, path, protocols, &w, err, errlen))
		return -1;
	bool v5 = !strcmp(w->protocol, "v5.channel.k8s.io");
	int term = o->tty ? (in_open && isatty(o->in_fd) ? o->in_fd : isatty(o->out_fd) ? o->out_fd : -1) : -1;
	bool raw = false;
	if (term >= 0) {
		tty_watch_resize(&resized);
		send_size(w, term);
		/* raw only when our stdin is the terminal: keys go to the remote side as typed */
		raw = in_open && term == o->in_fd && tty_raw(term) == 0;
	}

	for (;;) {
		if (!ws_has_buffered(w)) {
			struct pollfd p[2] = { { .fd = http_conn_fd(w->conn), .events = POLLIN },
					       { .fd = in_open ? o->in_fd : -1, .events = POLLIN } };
			int r = poll(p, 2, PING_MS);
			if (resized && term >= 0) {
				resized = 0;
				send_size(w, term);
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				snprintf(err, errlen, "poll: %s", strerror(errno));
				goto out;
			}
			if (r == 0) {
				ws_send(w, WS_PING, "", 0);	/* keep proxies and load balancers from timing out */
				continue;
			}
			if (p[1].revents) {
				uint8_t buf[8193];
				ssize_t got = read(o->in_fd, buf + 1, sizeof(buf) - 1);
				if (got < 0 && errno == EINTR)
					continue;
				if (got > 0) {
					buf[0] = 0;
					if (ws_send(w, WS_BINARY, buf, got + 1)) {
						snprintf(err, errlen, "sending stdin: %s", strerror(errno));
						goto out;
					}
				} else {
					in_open = false;
					if (v5)	/* v5: tell the server stdin ended */
						ws_send(w, WS_BINARY, "\xff\x00", 2);
					else if (o->attach)	/* else the wait below looks like a hang */
						warnx("stdin ended, but this API server speaks v4.channel.k8s.io "
						      "(Kubernetes < 1.30), which cannot pass that on: the shell "
						      "goes on until it exits (end the input with 'exit') or Ctrl-C");
				}
			}
			if (!p[0].revents)
				continue;
		}
		int op;
		const uint8_t *data;
		size_t len;
		int r = ws_recv(w, &op, &data, &len, 1000, err, errlen);
		if (r < 0 && errno == ETIMEDOUT)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (len < 1)
			continue;	/* v5 opens with an empty frame */
		switch (data[0]) {
		case 1:
		case 2:
			if (write_all(data[0] == 1 ? o->out_fd : o->err_fd, data + 1, len - 1)) {
				snprintf(err, errlen, "writing output: %s", strerror(errno));
				goto out;
			}
			break;
		case 3:
			if (kube_exit_status((const char *)data + 1, len - 1, exit_code, err, errlen))
				goto out;
			got_status = true;
			break;
		default:
			break;
		}
	}
	if (!got_status) {
		snprintf(err, errlen, "the connection closed before the command's exit status came");
		goto out;
	}
	rc = 0;
out:
	if (raw)
		tty_restore();
	ws_close(w, 1000);
	return rc;
}
