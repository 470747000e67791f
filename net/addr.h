/* IP addresses and CIDR prefixes, IPv4 and IPv6, as users type them. */
#ifndef RETINA_NET_ADDR_H
#define RETINA_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ipaddr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t b[16];		/* network order; IPv4 uses b[0..3] */
};

struct cidr {
	struct ipaddr addr;	/* host bits cleared */
	int prefix;		/* 0..32 or 0..128 */
};

/* Longest text ipaddr_format/sockaddr_format write, with the NUL. */
#define IPADDR_STRLEN 46
#define SOCKADDR_STRLEN 56	/* "[" v6 "]:" port */

/* "10.0.0.1", "2001:db8::1" (no brackets, no zone). 0 or -1. */
int ipaddr_parse(const char *s, struct ipaddr *out);
/* "10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128. Host bits are cleared. */
int cidr_parse(const char *s, struct cidr *out);
bool cidr_contains(const struct cidr *c, const struct ipaddr *a);
bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4; others unchanged. */
void ipaddr_unmap(struct ipaddr *a);
char *ipaddr_format(const struct ipaddr *a, char *buf, size_t len);
/* "10.0.0.1:80", "[2001:db8::1]:443" */
char *sockaddr_format(const struct sockaddr *sa, char *buf, size_t len);
/* a and port into ss (zeroed first); returns the length bind/connect take. */
socklen_t ipaddr_to_sockaddr(const struct ipaddr *a, uint16_t port, struct sockaddr_storage *ss);
/* The address (and, when port is not NULL, the port) of an AF_INET or AF_INET6 sa. */
void sockaddr_to_ipaddr(const struct sockaddr *sa, struct ipaddr *a, uint16_t *port);
/* sizeof(struct sockaddr_in) or sizeof(struct sockaddr_in6), by sa's family. */
socklen_t sockaddr_len(const struct sockaddr *sa);
/*
 * Split "host:port", "[v6]:port", "v6" or "host" (port then stays NULL).
 * host and port point into buf (a copy of s). -1 when s does not fit or a
 * bracket is unbalanced.
 */
int hostport_split(const char *s, char *buf, size_t len, const char **host, const char **port);

#endif
