#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/retina.h"
#include "net/addr.h"

int ipaddr_parse(const char *s, struct ipaddr *out)
{
	struct ipaddr a = { 0 };

	if (!s)
		return -1;
	if (inet_pton(AF_INET, s, a.b) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.b) == 1)
		a.family = AF_INET6;
	else
		return -1;
	*out = a;
	return 0;
}

static int max_prefix(int family)
{
	return family == AF_INET ? 32 : 128;
}

int cidr_parse(const char *s, struct cidr *out)
{
	char buf[64];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct cidr c;
	uint64_t prefix;

	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	if (slash)
		buf[slash - s] = '\0';
	if (ipaddr_parse(buf, &c.addr))
		return -1;
	c.prefix = max_prefix(c.addr.family);
	if (slash) {
		if (parse_u64(slash + 1, 0, (uint64_t)c.prefix, &prefix))
			return -1;
		c.prefix = (int)prefix;
	}
	for (int bit = c.prefix; bit < max_prefix(c.addr.family); bit++)
		c.addr.b[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	*out = c;
	return 0;
}

bool cidr_contains(const struct cidr *c, const struct ipaddr *a)
{
	int full = c->prefix / 8, rest = c->prefix % 8;

	if (a->family != c->addr.family)
		return false;
	if (memcmp(a->b, c->addr.b, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a->b[full] & mask) == c->addr.b[full];
}

bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b)
{
	return a->family == b->family && !memcmp(a->b, b->b, a->family == AF_INET ? 4 : 16);
}

void ipaddr_unmap(struct ipaddr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family != AF_INET6 || memcmp(a->b, prefix, sizeof(prefix)))
		return;
	memmove(a->b, a->b + 12, 4);
	memset(a->b + 4, 0, 12);
	a->family = AF_INET;
}

char *ipaddr_format(const struct ipaddr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, a->b, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

char *sockaddr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[IPADDR_STRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
	return buf;
}

socklen_t ipaddr_to_sockaddr(const struct ipaddr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)a->family;
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (void *)ss;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->b, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (void *)ss;
	in6->sin6_port = htons(port);
	memcpy(&in6->sin6_addr, a->b, 16);
	return sizeof(*in6);
}

void sockaddr_to_ipaddr(const struct sockaddr *sa, struct ipaddr *a, uint16_t *port)
{
	memset(a, 0, sizeof(*a));
	a->family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		memcpy(a->b, &in->sin_addr, 4);
		if (port)
			*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		memcpy(a->b, &in6->sin6_addr, 16);
		if (port)
			*port = ntohs(in6->sin6_port);
	}
}

socklen_t sockaddr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

int hostport_split(const char *s, char *buf, size_t len, const char **host, const char **port)
{
	size_t n = strlen(s);

	if (n >= len)
		return -1;
	memcpy(buf, s, n + 1);
	*port = NULL;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -1;
		*close = '\0';
		*host = buf + 1;
		if (close[1] == ':')
			*port = close + 2;
		return 0;
	}
	char *colon = strchr(buf, ':');
	/* two colons and no brackets: a bare IPv6 address, no port */
	if (colon && !strchr(colon + 1, ':')) {
		*colon = '\0';
		*port = colon + 1;
	}
	*host = buf;
	return 0;
}
