/*
 * The resolver every applet shares: /etc/resolv.conf (nameserver, search,
 * domain, options ndots/timeout/attempts), the search-list expansion glibc
 * and musl apply, and one query/response exchange over UDP with retries and
 * a TCP retry on truncation. Responses must come from the server asked and
 * match the query's random ID and its question.
 */
#ifndef RETINA_NET_RESOLV_H
#define RETINA_NET_RESOLV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/addr.h"
#include "net/dns.h"

#define RESOLV_CONF_DEFAULT "/etc/resolv.conf"
#define RESOLV_CONF_ENV "RETINA_RESOLV_CONF"	/* tests point this at their own file */
enum { RESOLV_MAXNS = 3, RESOLV_MAXSEARCH = 8 };

struct resolv_conf {
	struct sockaddr_storage ns[RESOLV_MAXNS];
	int nns;
	char search[RESOLV_MAXSEARCH][DNS_NAME_WIRE_MAX + 1];
	int nsearch;
	int ndots, timeout_s, attempts;
	bool timeout_set, attempts_set;	/* given in the file, not defaults */
};

/* glibc's defaults: no servers, ndots 1, timeout 5 s, 2 attempts. */
void resolv_conf_defaults(struct resolv_conf *rc);
/* Parse resolv.conf text into rc (on top of the defaults); unknown lines are ignored. */
void resolv_conf_parse(const char *text, struct resolv_conf *rc);
/* $RETINA_RESOLV_CONF, else /etc/resolv.conf. */
const char *resolv_conf_path(void);
/*
 * Load path (NULL: resolv_conf_path()). A missing file gives the defaults
 * with 127.0.0.1 as the server, as libc does; -1 with err on other errors.
 * With no nameserver line, 127.0.0.1 too.
 */
int resolv_conf_load(const char *path, struct resolv_conf *rc, char *err, size_t errlen);

/*
 * The names a lookup of name tries, in order (glibc res_search): a name
 * ending in '.' only itself; with at least ndots dots, itself first, then
 * each search domain appended; with fewer, the search domains first, then
 * itself. Returns how many were written (at most max).
 */
int resolv_search_names(const struct resolv_conf *rc, const char *name, char out[][DNS_NAME_TEXT], int max);

struct dns_xfer {
	int timeout_ms;		/* per try */
	int tries;		/* UDP sends per server */
	bool tcp;		/* TCP from the start */
	bool no_tcp_retry;	/* keep a truncated UDP answer (dig +ignore) */
};

struct dns_reply {
	uint8_t *buf;		/* malloc'd; free with dns_reply_free */
	size_t len;
	bool via_tcp;
	bool truncated_udp;	/* the UDP answer had TC set, TCP was used */
	uint64_t rtt_us;	/* of the exchange that produced buf */
	unsigned ignored;	/* replies dropped: wrong ID or question */
};
void dns_reply_free(struct dns_reply *r);

/* A random 16-bit query ID (getrandom). */
uint16_t dns_random_id(void);

/*
 * Send q to server and wait for its answer: UDP (tries x timeout), then TCP
 * when the answer is truncated (or at once with x->tcp). The reply is
 * parsed and validated into m (buf owned by r). 0, or -1 with err
 * ("timed out after 2 tries of 5000 ms", "malformed response: ...").
 */
int dns_exchange(const struct sockaddr *server, const struct dns_query *q, const struct dns_xfer *x,
		 struct dns_reply *r, struct dns_msg *m, char *err, size_t errlen);

/*
 * Host name or literal address to one address: literal, then /etc/hosts,
 * then DNS through rc's search list (A for AF_INET, AAAA for AF_INET6,
 * family 0: A then AAAA). 0, or -1 with err ("no such host", "no answer").
 */
int resolv_lookup(const struct resolv_conf *rc, const char *host, int family, struct ipaddr *out, char *err,
		  size_t errlen);

#endif
