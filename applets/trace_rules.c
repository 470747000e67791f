/*
 * retina trace, the pure parts: reason names (from enumerators the caller
 * reads out of the kernel's BTF), --ip/--cidr into kernel filter entries, and
 * the table and JSON output. No libbpf, no I/O: unit-tested directly.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "applets/trace.h"
#include "lib/retina.h"
#include "net/addr.h"

const char *const trace_type_names[TT_COUNT] = { "DROP", "RST_SENT", "RST_RECV", "SOCK_ERR", "RETRANS" };
const char *const trace_probe_names[TT_COUNT] = { "kfree_skb", "tcp_send_reset", "tcp_receive_reset",
						  "inet_sk_error_report", "tcp_retransmit_skb" };
const char *const trace_tp_names[TT_COUNT] = { "kfree_skb", "tcp_send_reset", "tcp_receive_reset",
					       "inet_sk_error_report", "tcp_retransmit_skb" };

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static bool has_suffix(const char *s, const char *p)
{
	size_t n = strlen(s), m = strlen(p);
	return n >= m && !strcmp(s + n - m, p);
}

static int push(struct reason_entry **v, size_t *n, size_t *cap, uint32_t code, const char *name)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct reason_entry *nv = realloc(*v, ncap * sizeof(**v));
		if (!nv)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n].code = code;
	snprintf((*v)[*n].name, sizeof((*v)[*n].name), "%s", name);
	(*n)++;
	return 1;
}

int reason_add(struct reason_table *t, const char *enum_name, const char *entry, int64_t value)
{
	if (value < 0 || value > UINT32_MAX)
		return 0;
	if (!strcmp(enum_name, "skb_drop_reason_subsys")) {
		if (!has_prefix(entry, "SKB_DROP_REASON_SUBSYS_") || has_suffix(entry, "_NUM"))
			return 0;
		return push(&t->subsys, &t->nsubsys, &t->capsubsys, value, entry + strlen("SKB_DROP_REASON_SUBSYS_"));
	}
	if (!strcmp(enum_name, "skb_drop_reason")) {
		if (!strcmp(entry, "SKB_DROP_REASON_MAX") || !strcmp(entry, "SKB_DROP_REASON_SUBSYS_MASK"))
			return 0;
		if (has_prefix(entry, "SKB_DROP_REASON_"))
			entry += strlen("SKB_DROP_REASON_");
		else if (has_prefix(entry, "SKB_"))
			entry += strlen("SKB_");	/* SKB_NOT_DROPPED_YET, SKB_CONSUMED */
		return push(&t->v, &t->n, &t->cap, value, entry);
	}
	if (!strcmp(enum_name, "sk_rst_reason")) {
		if (has_suffix(entry, "_MAX"))
			return 0;
		if (has_prefix(entry, "SK_RST_REASON_"))
			entry += strlen("SK_RST_REASON_");
		return push(&t->v, &t->n, &t->cap, value, entry);
	}
	/*
	 * A subsystem's own reasons (mac80211, openvswitch): their values are
	 * (subsystem << 16) | n. Values without a subsystem in such enums are
	 * not drop reasons (mac80211's RX_CONTINUE, RX_QUEUED).
	 */
	if (has_suffix(enum_name, "drop_reason") && (value >> 16) != 0)
		return push(&t->v, &t->n, &t->cap, value, entry);
	return 0;
}

const char *reason_name(const struct reason_table *t, uint32_t code, char *buf, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].code == code)
			return t->v[i].name;
	uint32_t sub = code >> 16;
	if (sub) {
		for (size_t i = 0; i < t->nsubsys; i++)
			if (t->subsys[i].code == sub) {
				snprintf(buf, len, "%s#%u", t->subsys[i].name, code & 0xffff);
				return buf;
			}
	}
	snprintf(buf, len, "#%u", code);
	return buf;
}

int64_t reason_code(const struct reason_table *t, const char *name)
{
	static const char *const prefixes[] = { "SKB_DROP_REASON_", "SKB_", "SK_RST_REASON_" };

	for (size_t p = 0; p < ARRAY_SIZE(prefixes); p++)
		if (!strncasecmp(name, prefixes[p], strlen(prefixes[p])) && name[strlen(prefixes[p])]) {
			int64_t c = reason_code(t, name + strlen(prefixes[p]));
			if (c >= 0)
				return c;
		}
	for (size_t i = 0; i < t->n; i++)
		if (!strcasecmp(t->v[i].name, name))
			return t->v[i].code;
	return -1;
}

char *subsys_module(const char *subsys, char *buf, size_t len)
{
	size_t n = strcspn(subsys, "_");

	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = tolower((unsigned char)subsys[i]);
	buf[n] = '\0';
	return buf;
}

void reason_free(struct reason_table *t)
{
	free(t->v);
	free(t->subsys);
	memset(t, 0, sizeof(*t));
}

const char *tcp_state_name(unsigned state, char *buf)
{
	/* include/net/tcp_states.h: part of the ABI (ss, /proc/net/tcp) */
	static const char *const names[] = { NULL,	   "ESTABLISHED", "SYN_SENT",	"SYN_RECV",
					     "FIN_WAIT1",  "FIN_WAIT2",	  "TIME_WAIT",	"CLOSE",
					     "CLOSE_WAIT", "LAST_ACK",	  "LISTEN",	"CLOSING",
					     "NEW_SYN_RECV", "BOUND_INACTIVE" };

	if (state < ARRAY_SIZE(names) && names[state])
		return names[state];
	snprintf(buf, 16, "STATE#%u", state);
	return buf;
}

const char *proto_name(unsigned proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_IGMP: return "igmp";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_RAW: return "raw";
	}
	return NULL;
}

int trace_net_parse(const char *s, bool cidr_required, struct trace_net *out)
{
	struct cidr c;

	if (cidr_required && !strchr(s, '/'))
		return -1;
	if (!cidr_required && strchr(s, '/'))
		return -1;
	if (cidr_parse(s, &c))
		return -1;
	/* ::ffff:a.b.c.d is an IPv4 address: the kernel side reports such flows as IPv4 */
	if (c.addr.family == AF_INET6 && c.prefix >= 96) {
		struct ipaddr a = c.addr;
		ipaddr_unmap(&a);
		if (a.family == AF_INET) {
			c.addr = a;
			c.prefix -= 96;
		}
	}
	memset(out, 0, sizeof(*out));
	out->family = c.addr.family;
	for (int w = 0; w < 4; w++) {
		int bits = c.prefix - 32 * w;
		uint32_t m = bits >= 32 ? 0xffffffffu : bits <= 0 ? 0 : ~(0xffffffffu >> bits);
		uint32_t a;

		if (c.addr.family == AF_INET && w > 0)
			break;
		memcpy(&a, &c.addr.b[4 * w], 4);
		out->mask[w] = htonl(m);
		out->addr[w] = a & htonl(m);
	}
	return 0;
}

const char *event_reason(const struct trace_names *nm, const struct trace_event *e, char *buf, size_t len)
{
	char ebuf[16];

	switch (e->type) {
	case TT_DROP:
		/* Kernels before 5.17 give no reason. */
		if (!nm->drop || !nm->drop->n)
			return "-";
		return reason_name(nm->drop, e->reason, buf, len);
	case TT_RST_SENT:
		/* Kernels before 6.10 give no reason. */
		if (!nm->rst || !nm->rst->n)
			return "-";
		return reason_name(nm->rst, e->reason, buf, len);
	case TT_SOCK_ERR:
		snprintf(buf, len, "%s", errno_name(e->reason, ebuf));
		return buf;
	case TT_RST_RECV:
	case TT_RETRANS:
		snprintf(buf, len, "%s", tcp_state_name(e->reason, ebuf));
		return buf;
	}
	return "-";
}

static bool have_addr(const struct trace_event *e)
{
	return e->family == AF_INET || e->family == AF_INET6;
}

static void event_ip(const struct trace_event *e, bool src, struct ipaddr *a)
{
	a->family = e->family;
	memcpy(a->b, src ? e->saddr : e->daddr, 16);
	ipaddr_unmap(a);
}

char *format_endpoint(const struct trace_event *e, bool src, char *buf, size_t len)
{
	char ip[IPADDR_STRLEN];
	struct ipaddr a;
	unsigned port = src ? e->sport : e->dport;
	bool ports = e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP || e->proto == IPPROTO_SCTP;

	if (!have_addr(e)) {
		snprintf(buf, len, "-");
		return buf;
	}
	event_ip(e, src, &a);
	ipaddr_format(&a, ip, sizeof(ip));
	if (!ports)
		snprintf(buf, len, "%s", ip);
	else if (a.family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

char *format_rfc3339(uint64_t wall_ns, char *buf, size_t len)
{
	time_t sec = wall_ns / 1000000000u;
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_ns % 1000000000u));
	return buf;
}

#define ROW_FMT "%-12s  %-8s  %-24s  %-20s  %s -> %s"

void format_header(char *buf, size_t len)
{
	char head[160];
	int n = snprintf(head, sizeof(head), ROW_FMT, "TIME", "TYPE", "REASON", "PROBE", "SRC", "DST");
	char rule[160];

	memset(rule, '-', sizeof(rule));
	rule[n < (int)sizeof(rule) ? n : (int)sizeof(rule) - 1] = '\0';
	snprintf(buf, len, "%s\n%s", head, rule);
}

void format_row(const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns, char *buf,
		size_t len)
{
	char tbuf[16], rbuf[64], src[SOCKADDR_STRLEN], dst[SOCKADDR_STRLEN];
	time_t sec = wall_ns / 1000000000u;
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(tbuf, sizeof(tbuf), "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(wall_ns % 1000000000u / 1000000u));
	snprintf(buf, len, ROW_FMT, tbuf, e->type < TT_COUNT ? trace_type_names[e->type] : "?",
		 event_reason(nm, e, rbuf, sizeof(rbuf)), e->type < TT_COUNT ? trace_probe_names[e->type] : "?",
		 format_endpoint(e, true, src, sizeof(src)), format_endpoint(e, false, dst, sizeof(dst)));
}

/* A JSON string of at most n bytes of s (comm, ifname may hold anything). */
static size_t json_str(char *out, size_t len, const char *s, size_t n)
{
	size_t used = 0;

#define PUT(...) used += snprintf(out + used, used < len ? len - used : 0, __VA_ARGS__)
	PUT("\"");
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char ch = s[i];
		if (ch == '"' || ch == '\\')
			PUT("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			PUT("\\u%04x", ch);
		else
			PUT("%c", ch);
	}
	PUT("\"");
#undef PUT
	return used;
}

void format_json(const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns, char *buf,
		 size_t len)
{
	char ts[40], rbuf[64], ip[IPADDR_STRLEN];
	const char *reason = event_reason(nm, e, rbuf, sizeof(rbuf));
	const char *proto = proto_name(e->proto);
	struct ipaddr a;
	size_t used = 0;

#define PUT(...) used += snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__)
	format_rfc3339(wall_ns, ts, sizeof(ts));
	/* Retina's "time" is the event's time too: seconds since the epoch with ns. */
	PUT("{\"time\":%llu.%09u,\"ts\":\"%s\",\"type\":\"%s\",\"reason_code\":%u,\"reason\":",
	    (unsigned long long)(wall_ns / 1000000000u), (unsigned)(wall_ns % 1000000000u), ts,
	    e->type < TT_COUNT ? trace_type_names[e->type] : "?", e->reason);
	used += json_str(buf + used, used < len ? len - used : 0, reason, strlen(reason));
	PUT(",\"probe\":\"%s\"", e->type < TT_COUNT ? trace_probe_names[e->type] : "?");
	if (proto)
		PUT(",\"proto\":\"%s\"", proto);
	else
		PUT(",\"proto\":%u", e->proto);
	if (have_addr(e)) {
		event_ip(e, true, &a);
		PUT(",\"src_ip\":\"%s\",\"src_port\":%u", ipaddr_format(&a, ip, sizeof(ip)), e->sport);
		event_ip(e, false, &a);
		PUT(",\"dst_ip\":\"%s\",\"dst_port\":%u", ipaddr_format(&a, ip, sizeof(ip)), e->dport);
	} else {
		PUT(",\"src_ip\":null,\"src_port\":null,\"dst_ip\":null,\"dst_port\":null");
	}
	if (e->state && (e->type == TT_RST_SENT || e->type == TT_RST_RECV || e->type == TT_RETRANS)) {
		char sbuf[16];
		PUT(",\"tcp_state\":\"%s\"", tcp_state_name(e->state, sbuf));
	}
	if (e->pid) {
		PUT(",\"pid\":%u,\"comm\":", e->pid);
		used += json_str(buf + used, used < len ? len - used : 0, e->comm, sizeof(e->comm));
	}
	if (e->netns)
		PUT(",\"netns\":%u", e->netns);
	if (e->ifindex) {
		PUT(",\"ifindex\":%u", e->ifindex);
		if (e->ifname[0]) {
			PUT(",\"ifname\":");
			used += json_str(buf + used, used < len ? len - used : 0, e->ifname, sizeof(e->ifname));
		}
	}
	PUT("}");
#undef PUT
	/* Truncated output must still be one valid object: never happens at 1 KiB. */
	if (used >= len && len > 2)
		snprintf(buf, len, "{}");
}

void counts_add(struct trace_counts *c, const struct trace_event *e)
{
	if (e->type >= TT_COUNT)
		return;
	c->per_type[e->type]++;
	for (size_t i = 0; i < c->nreasons; i++)
		if (c->per_reason[i].type == e->type && c->per_reason[i].reason == e->reason) {
			c->per_reason[i].n++;
			return;
		}
	if (c->nreasons == ARRAY_SIZE(c->per_reason)) {
		c->overflow++;
		return;
	}
	c->per_reason[c->nreasons].type = e->type;
	c->per_reason[c->nreasons].reason = e->reason;
	c->per_reason[c->nreasons].n = 1;
	c->nreasons++;
}
