/* resolv.conf, search lists, the DNS exchange and host lookups (see net/resolv.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/retina.h"
#include "lib/sys.h"
#include "net/resolv.h"

void resolv_conf_defaults(struct resolv_conf *rc)
{
	memset(rc, 0, sizeof(*rc));
	rc->ndots = 1;
	rc->timeout_s = 5;
	rc->attempts = 2;
}

static int set_server(struct sockaddr_storage *ss, const char *text, uint16_t port)
{
	struct ipaddr a;

	if (ipaddr_parse(text, &a))
		return -1;
	ipaddr_to_sockaddr(&a, port, ss);
	return 0;
}

/* "ndots:5" -> 5, clamped as glibc clamps (ndots 15, timeout 30, attempts 5). */
static void parse_option(const char *opt, struct resolv_conf *rc)
{
	static const struct { const char *name; size_t off; int max; } opts[] = {
		{ "ndots:", offsetof(struct resolv_conf, ndots), 15 },
		{ "timeout:", offsetof(struct resolv_conf, timeout_s), 30 },
		{ "attempts:", offsetof(struct resolv_conf, attempts), 5 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		size_t n = strlen(opts[i].name);
		uint64_t v;
		if (strncmp(opt, opts[i].name, n) || parse_u64(opt + n, 0, 1000, &v))
			continue;
		if (v > (uint64_t)opts[i].max)
			v = (uint64_t)opts[i].max;
		if (v == 0 && opts[i].max != 15)	/* timeout/attempts of 0 mean 1 */
			v = 1;
		*(int *)((char *)rc + opts[i].off) = (int)v;
		if (opts[i].off == offsetof(struct resolv_conf, timeout_s))
			rc->timeout_set = true;
		if (opts[i].off == offsetof(struct resolv_conf, attempts))
			rc->attempts_set = true;
	}
}

static void add_search(struct resolv_conf *rc, const char *dom)
{
	size_t n = strlen(dom);

	if (n && dom[n - 1] == '.')
		n--;
	if (!n || n > DNS_NAME_WIRE_MAX - 2 || rc->nsearch >= RESOLV_MAXSEARCH)
		return;
	memcpy(rc->search[rc->nsearch], dom, n);
	rc->search[rc->nsearch][n] = '\0';
	rc->nsearch++;
}

void resolv_conf_parse(const char *text, struct resolv_conf *rc)
{
	const char *p = text;

	while (*p) {
		char line[1024], *save, *kw, *arg;
		size_t n = strcspn(p, "\n");

		if (n >= sizeof(line)) {	/* no directive is this long: skip it */
			p += n + (p[n] == '\n');
			continue;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		line[strcspn(line, "#;")] = '\0';
		kw = strtok_r(line, " \t\r", &save);
		if (!kw)
			continue;
		if (!strcmp(kw, "nameserver")) {
			arg = strtok_r(NULL, " \t\r", &save);
			if (arg && rc->nns < RESOLV_MAXNS && !set_server(&rc->ns[rc->nns], arg, 53))
				rc->nns++;
		} else if (!strcmp(kw, "search") || !strcmp(kw, "domain")) {
			rc->nsearch = 0;	/* the last search/domain line wins */
			while ((arg = strtok_r(NULL, " \t\r", &save)))
				add_search(rc, arg);
		} else if (!strcmp(kw, "options")) {
			while ((arg = strtok_r(NULL, " \t\r", &save)))
				parse_option(arg, rc);
		}
	}
}

const char *resolv_conf_path(void)
{
	const char *env = getenv(RESOLV_CONF_ENV);

	return env && *env ? env : RESOLV_CONF_DEFAULT;
}

int resolv_conf_load(const char *path, struct resolv_conf *rc, char *err, size_t errlen)
{
	char buf[16384];
	int fd;
	ssize_t n;

	if (!path)
		path = resolv_conf_path();
	resolv_conf_defaults(rc);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			return -1;
		}
		buf[n] = '\0';
		resolv_conf_parse(buf, rc);
	}
	if (!rc->nns) {
		set_server(&rc->ns[0], "127.0.0.1", 53);
		rc->nns = 1;
	}
	return 0;
}

static bool join_name(char *out, const char *name, const char *domain)
{
	size_t nl = strlen(name);

	if (nl && name[nl - 1] == '.')
		nl--;
	int w = domain ? snprintf(out, DNS_NAME_TEXT, "%.*s.%s.", (int)nl, name, domain)
		       : snprintf(out, DNS_NAME_TEXT, "%.*s.", (int)nl, name);
	uint8_t wire[DNS_NAME_WIRE_MAX + 1];
	return w > 0 && w < DNS_NAME_TEXT && dns_name_to_wire(out, wire, sizeof(wire)) > 0;
}

int resolv_search_names(const struct resolv_conf *rc, const char *name, char out[][DNS_NAME_TEXT], int max)
{
	size_t len = strlen(name);
	int dots = 0, n = 0;

	if (!len || max <= 0)
		return 0;
	if (name[len - 1] == '.') {
		if (join_name(out[0], name, NULL))
			return 1;
		return 0;
	}
	for (const char *p = name; *p; p++)
		dots += *p == '.';
	if (dots >= rc->ndots && join_name(out[n], name, NULL))
		n++;
	for (int i = 0; i < rc->nsearch && n < max; i++)
		if (join_name(out[n], name, rc->search[i]))
			n++;
	if (dots < rc->ndots && n < max && join_name(out[n], name, NULL))
		n++;
	return n;
}

/* ---- the exchange -------------------------------------------------------- */

void dns_reply_free(struct dns_reply *r)
{
	free(r->buf);
	r->buf = NULL;
}

uint16_t dns_random_id(void)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		id = (uint16_t)(ts.tv_nsec ^ getpid());
	}
	return id;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = (uint64_t)mono_us();
		if (now >= deadline)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, (int)((deadline - now + 999) / 1000));
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

enum { XF_OK = 0, XF_TIMEOUT = 1, XF_TRUNCATED = 2, XF_FATAL = -1 };

static int udp_try(const struct sockaddr *server, const uint8_t *qbuf, size_t qlen, const struct dns_query *q,
		   int timeout_ms, uint8_t *rbuf, size_t *rlen, struct dns_reply *r, char *why, size_t whylen,
		   char *err, size_t errlen)
{
	/* A new socket per try: a fresh random source port from the kernel. */
	int fd = socket(server->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t start = (uint64_t)mono_us(), deadline = start + (uint64_t)timeout_ms * 1000;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return XF_FATAL;
	}
	if (connect(fd, server, sockaddr_len(server)) || send(fd, qbuf, qlen, 0) != (ssize_t)qlen) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		close(fd);
		return XF_FATAL;
	}
	while (wait_fd(fd, POLLIN, deadline) > 0) {
		ssize_t n = recv(fd, rbuf, 65535, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(err, errlen, "%s", errno == ECONNREFUSED
				 ? "connection refused (ICMP port unreachable): nothing listens on that address and port"
				 : strerror(errno));
			close(fd);
			return XF_FATAL;
		}
		/* A stray datagram with another ID is ignored, as bind's dig does. */
		if (n < 4 || (rbuf[0] << 8 | rbuf[1]) != q->id) {
			r->ignored++;
			snprintf(why, whylen, "a reply with ID %u instead of %u",
				 n >= 2 ? (unsigned)(rbuf[0] << 8 | rbuf[1]) : 0u, q->id);
			continue;
		}
		r->rtt_us = (uint64_t)mono_us() - start;
		*rlen = (size_t)n;
		close(fd);
		return (rbuf[2] & (DNS_F_TC >> 8)) ? XF_TRUNCATED : XF_OK;
	}
	close(fd);
	return XF_TIMEOUT;
}

static int read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return -2;
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int tcp_try(const struct sockaddr *server, const uint8_t *qbuf, size_t qlen, int timeout_ms, uint8_t *rbuf,
		   size_t *rlen, struct dns_reply *r, char *err, size_t errlen)
{
	int fd = socket(server->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	uint64_t start = (uint64_t)mono_us(), deadline = start + (uint64_t)timeout_ms * 1000;
	uint8_t len2[2];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return XF_FATAL;
	}
	if (connect(fd, server, sockaddr_len(server)) && errno != EINPROGRESS) {
		snprintf(err, errlen, "TCP connect: %s", strerror(errno));
		goto fatal;
	}
	if (wait_fd(fd, POLLOUT, deadline) <= 0) {
		snprintf(err, errlen, "TCP connect timed out after %d ms", timeout_ms);
		goto fatal;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		snprintf(err, errlen, "TCP connect: %s", strerror(soerr));
		goto fatal;
	}
	uint8_t *out = malloc(qlen + 2);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		goto fatal;
	}
	out[0] = (uint8_t)(qlen >> 8);
	out[1] = (uint8_t)qlen;
	memcpy(out + 2, qbuf, qlen);
	ssize_t w = write(fd, out, qlen + 2);	/* a few hundred bytes into an empty socket buffer */
	free(out);
	if (w != (ssize_t)(qlen + 2)) {
		snprintf(err, errlen, "TCP send: %s", w < 0 ? strerror(errno) : "short write");
		goto fatal;
	}
	int e = read_full(fd, len2, 2, deadline);
	size_t n = (size_t)len2[0] << 8 | len2[1];
	if (!e)
		e = read_full(fd, rbuf, n, deadline);
	if (e) {
		snprintf(err, errlen, e == -2 ? "TCP answer timed out after %d ms" : "TCP connection closed mid-answer",
			 timeout_ms);
		goto fatal;
	}
	close(fd);
	r->rtt_us = (uint64_t)mono_us() - start;
	*rlen = n;
	return XF_OK;
fatal:
	close(fd);
	return XF_FATAL;
}

int dns_exchange(const struct sockaddr *server, const struct dns_query *q, const struct dns_xfer *x,
		 struct dns_reply *r, struct dns_msg *m, char *err, size_t errlen)
{
	uint8_t qbuf[512 + 11];
	int qlen = dns_query_build(q, qbuf, sizeof(qbuf));
	char why[128] = "", perr[200];
	size_t rlen = 0;
	int st = XF_TIMEOUT;

	memset(r, 0, sizeof(*r));
	if (qlen < 0) {
		snprintf(err, errlen, "'%s' is not a valid DNS name (labels of 1-63 bytes, 255 in all)", q->name);
		return -1;
	}
	r->buf = malloc(65536);
	if (!r->buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!x->tcp) {
		for (int i = 0; i < x->tries && st == XF_TIMEOUT; i++)
			st = udp_try(server, qbuf, (size_t)qlen, q, x->timeout_ms, r->buf, &rlen, r, why, sizeof(why),
				     err, errlen);
		if (st == XF_TIMEOUT) {
			snprintf(err, errlen, "timed out: no answer in %d tr%s of %d ms%s%s%s", x->tries,
				 x->tries == 1 ? "y" : "ies", x->timeout_ms, *why ? " (ignored " : "", why,
				 *why ? ")" : "");
			goto fail;
		}
		if (st == XF_FATAL)
			goto fail;
		if (st == XF_TRUNCATED && !x->no_tcp_retry)
			r->truncated_udp = true;
	}
	if (x->tcp || r->truncated_udp) {
		if (tcp_try(server, qbuf, (size_t)qlen, x->timeout_ms, r->buf, &rlen, r, err, errlen))
			goto fail;
		r->via_tcp = true;
	}
	r->len = rlen;
	if (dns_msg_parse(m, r->buf, rlen, perr, sizeof(perr))) {
		/* A truncated UDP answer we keep may end mid-record: that is allowed. */
		if (!(st == XF_TRUNCATED && !r->via_tcp)) {
			snprintf(err, errlen, "malformed response: %s", perr);
			goto fail;
		}
		m->count[DNS_S_ANSWER] = m->count[DNS_S_AUTHORITY] = m->count[DNS_S_ADDITIONAL] = 0;
	}
	if (!dns_msg_answers(m, q, why, sizeof(why))) {
		snprintf(err, errlen, "response does not match the query: %s", why);
		goto fail;
	}
	return 0;
fail:
	dns_reply_free(r);
	return -1;
}

/* ---- host lookups -------------------------------------------------------- */

static int hosts_lookup(const char *host, int family, struct ipaddr *out)
{
	FILE *f = fopen("/etc/hosts", "re");
	char line[1024];
	int found = -1;

	if (!f)
		return -1;
	while (found && fgets(line, sizeof(line), f)) {
		char *save, *addr, *name;
		struct ipaddr a;

		line[strcspn(line, "#\n")] = '\0';
		addr = strtok_r(line, " \t", &save);
		if (!addr || ipaddr_parse(addr, &a) || (family && a.family != family))
			continue;
		while ((name = strtok_r(NULL, " \t", &save)))
			if (!strcasecmp(name, host)) {
				*out = a;
				found = 0;
				break;
			}
	}
	fclose(f);
	return found;
}

int resolv_lookup(const struct resolv_conf *rc, const char *host, int family, struct ipaddr *out, char *err,
		  size_t errlen)
{
	char names[RESOLV_MAXSEARCH + 1][DNS_NAME_TEXT];
	char last[256] = "no such host";
	const uint16_t types[2] = { family == AF_INET6 ? DNS_T_AAAA : DNS_T_A, DNS_T_AAAA };
	int ntypes = family ? 1 : 2;
	struct dns_xfer x = { .timeout_ms = rc->timeout_s * 1000, .tries = rc->attempts };

	if (!ipaddr_parse(host, out)) {
		if (family && out->family != family) {
			snprintf(err, errlen, "%s is not an IPv%c address", host, family == AF_INET ? '4' : '6');
			return -1;
		}
		return 0;
	}
	if (!hosts_lookup(host, family, out))
		return 0;
	int n = resolv_search_names(rc, host, names, (int)ARRAY_SIZE(names));
	if (!n) {
		snprintf(err, errlen, "'%s' is not a valid host name", host);
		return -1;
	}
	for (int t = 0; t < ntypes; t++) {
		for (int i = 0; i < n; i++) {
			for (int s = 0; s < rc->nns; s++) {
				struct dns_query q = { .id = dns_random_id(), .name = names[i], .type = types[t],
						       .qclass = DNS_CLASS_IN, .recurse = true, .edns_udp = DNS_EDNS_UDP };
				struct dns_reply r;
				struct dns_msg m;
				char e[200], srv[SOCKADDR_STRLEN], rc_name[16];

				sockaddr_format((const struct sockaddr *)&rc->ns[s], srv, sizeof(srv));
				if (dns_exchange((const struct sockaddr *)&rc->ns[s], &q, &x, &r, &m, e, sizeof(e))) {
					snprintf(last, sizeof(last), "DNS server %s: %s", srv, e);
					continue;	/* next server */
				}
				int got = m.rcode == DNS_R_NOERROR ? dns_msg_first_addr(&m, q.type, out->b) : -1;
				unsigned rcode = m.rcode;
				dns_reply_free(&r);
				if (!got) {
					out->family = q.type == DNS_T_A ? AF_INET : AF_INET6;
					return 0;
				}
				if (rcode == DNS_R_NOERROR || rcode == DNS_R_NXDOMAIN) {
					snprintf(last, sizeof(last), "%s", rcode == DNS_R_NXDOMAIN ? "no such host (NXDOMAIN)"
						 : "the name has no address of that family");
					break;	/* an authoritative "no": next name */
				}
				snprintf(last, sizeof(last), "DNS server %s answered %s", srv,
					 dns_rcode_name(rcode, rc_name));
			}
		}
	}
	snprintf(err, errlen, "cannot resolve '%s': %s (resolver config %s)", host, last, resolv_conf_path());
	return -1;
}
