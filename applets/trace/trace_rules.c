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

#include "applets/trace/trace.h"
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

const char *event_location(const struct trace_names *nm, const struct trace_event *e, char *buf, size_t len)
{
	if (e->type != TT_DROP || !e->location)
		return NULL;
	return ksyms_frame(nm->ksyms, e->location, buf, len);
}

bool location_not_a_drop(const char *location)
{
	/*
	 * icmpv6_rcv: every ICMPv6 message it handled except echo replies
	 * (neighbour discovery, router advertisements); ip6_mc_input: multicast
	 * for a group this host has not joined.
	 */
	static const char *const handled[] = { "icmpv6_rcv", "ip6_mc_input" };

	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		size_t n = strlen(handled[i]);
		if (!strncmp(location, handled[i], n) && location[n] == '+')
			return true;
	}
	return false;
}

/* The REASON column: where the kernel gives no drop reason (before 5.17), where the packet died. */
static const char *row_reason(const struct trace_names *nm, const struct trace_event *e, char *buf, size_t len)
{
	const char *r = event_reason(nm, e, buf, len);

	if (!strcmp(r, "-")) {
		const char *loc = event_location(nm, e, buf, len);
		if (loc)
			return loc;
	}
	return r;
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

/*
 * Output is built with these appenders rather than snprintf: at 100k events/s
 * musl's snprintf (a FILE per call, a copy per conversion) was most of the
 * reader's CPU. Past the end of the buffer they count but write nothing.
 */
struct out {
	char *p;
	size_t len, used;
};

static void put_mem(struct out *o, const char *s, size_t n)
{
	if (o->used < o->len) {
		size_t room = o->len - o->used;
		memcpy(o->p + o->used, s, n < room ? n : room);
	}
	o->used += n;
}

static void put_str(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static void put_char(struct out *o, char c)
{
	put_mem(o, &c, 1);
}

/* v zero-padded to at least width digits. */
static void put_uint(struct out *o, uint64_t v, int width)
{
	char d[24];
	int n = 0;

	do
		d[sizeof(d) - 1 - n++] = '0' + v % 10;
	while ((v /= 10) && n < (int)sizeof(d));
	while (n < width && n < (int)sizeof(d))
		d[sizeof(d) - 1 - n++] = '0';
	put_mem(o, d + sizeof(d) - n, n);
}

/* s, then spaces up to width. */
static void put_padded(struct out *o, const char *s, size_t width)
{
	size_t n = strlen(s);

	put_mem(o, s, n);
	while (n++ < width)
		put_char(o, ' ');
}

/* NUL-terminate, always within the buffer; true when nothing was cut. */
static bool put_end(struct out *o)
{
	if (!o->len)
		return false;
	o->p[o->used < o->len ? o->used : o->len - 1] = '\0';
	return o->used < o->len;
}

static void put_ip(struct out *o, const struct ipaddr *a)
{
	if (a->family == AF_INET) {
		for (int i = 0; i < 4; i++) {
			if (i)
				put_char(o, '.');
			put_uint(o, a->b[i], 1);
		}
	} else {
		char ip[IPADDR_STRLEN];
		put_str(o, ipaddr_format(a, ip, sizeof(ip)));
	}
}

static void put_endpoint(struct out *o, const struct trace_event *e, bool src)
{
	struct ipaddr a;
	bool ports = e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP || e->proto == IPPROTO_SCTP;

	if (!have_addr(e)) {
		put_char(o, '-');
		return;
	}
	event_ip(e, src, &a);
	if (ports && a.family == AF_INET6)
		put_char(o, '[');
	put_ip(o, &a);
	if (ports) {
		put_str(o, a.family == AF_INET6 ? "]:" : ":");
		put_uint(o, src ? e->sport : e->dport, 1);
	}
}

char *format_endpoint(const struct trace_event *e, bool src, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	put_endpoint(&o, e, src);
	put_end(&o);
	return buf;
}

/* Broken-down UTC time of a second; the last one is remembered (events come in bursts). */
static void utc(uint64_t sec, struct tm *tm)
{
	static uint64_t last_sec = UINT64_MAX;
	static struct tm last;

	if (sec != last_sec) {
		time_t t = sec;
		gmtime_r(&t, &last);
		last_sec = sec;
	}
	*tm = last;
}

static void put_rfc3339(struct out *o, uint64_t wall_ns)
{
	struct tm tm;

	utc(wall_ns / 1000000000u, &tm);
	put_uint(o, tm.tm_year + 1900, 4);
	put_char(o, '-');
	put_uint(o, tm.tm_mon + 1, 2);
	put_char(o, '-');
	put_uint(o, tm.tm_mday, 2);
	put_char(o, 'T');
	put_uint(o, tm.tm_hour, 2);
	put_char(o, ':');
	put_uint(o, tm.tm_min, 2);
	put_char(o, ':');
	put_uint(o, tm.tm_sec, 2);
	put_char(o, '.');
	put_uint(o, wall_ns % 1000000000u, 9);
	put_char(o, 'Z');
}

char *format_rfc3339(uint64_t wall_ns, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	put_rfc3339(&o, wall_ns);
	put_end(&o);
	return buf;
}

/* Column widths of the table: TIME TYPE REASON PROBE, then "SRC -> DST". */
enum { W_TIME = 12, W_TYPE = 8, W_REASON = 24, W_PROBE = 20 };

static void put_row(struct out *o, const char *time, const char *type, const char *reason, const char *probe)
{
	put_padded(o, time, W_TIME + 2);
	put_padded(o, type, W_TYPE + 2);
	put_padded(o, reason, W_REASON + 2);
	put_padded(o, probe, W_PROBE + 2);
}

void format_header(char *buf, size_t len)
{
	format_header_node(buf, len, 0);
}

void format_header_node(char *buf, size_t len, int node_width)
{
	struct out o = { buf, len, 0 };

	if (node_width > 0)
		put_padded(&o, "NODE", node_width + 2);
	put_row(&o, "TIME", "TYPE", "REASON", "PROBE");
	put_str(&o, "SRC -> DST\n");
	size_t n = o.used - 1;
	for (size_t i = 0; i < n; i++)
		put_char(&o, '-');
	put_end(&o);
}

void format_row(const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns, char *buf,
		size_t len)
{
	struct out o = { buf, len, 0 };
	struct out t;
	char tbuf[16], rbuf[128];
	struct tm tm;

	utc(wall_ns / 1000000000u, &tm);
	t = (struct out){ tbuf, sizeof(tbuf), 0 };
	put_uint(&t, tm.tm_hour, 2);
	put_char(&t, ':');
	put_uint(&t, tm.tm_min, 2);
	put_char(&t, ':');
	put_uint(&t, tm.tm_sec, 2);
	put_char(&t, '.');
	put_uint(&t, wall_ns % 1000000000u / 1000000u, 3);
	put_end(&t);
	put_row(&o, tbuf, e->type < TT_COUNT ? trace_type_names[e->type] : "?", row_reason(nm, e, rbuf, sizeof(rbuf)),
		e->type < TT_COUNT ? trace_probe_names[e->type] : "?");
	put_endpoint(&o, e, true);
	put_str(&o, " -> ");
	put_endpoint(&o, e, false);
	put_end(&o);
}

void format_row_text(const struct trace_row *r, int node_width, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };

	if (node_width > 0)
		put_padded(&o, r->node ? r->node : "-", node_width + 2);
	put_row(&o, r->time, r->type, r->reason, r->probe);
	put_str(&o, r->src);
	put_str(&o, " -> ");
	put_str(&o, r->dst);
	put_end(&o);
}

/* A JSON string of at most n bytes of s (comm, ifname may hold anything). */
static void put_json_str(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	put_char(o, '"');
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char ch = s[i];
		if (ch == '"' || ch == '\\') {
			put_char(o, '\\');
			put_char(o, ch);
		} else if (ch < 0x20 || ch >= 0x7f) {
			put_str(o, "\\u00");
			put_char(o, hex[ch >> 4]);
			put_char(o, hex[ch & 15]);
		} else {
			put_char(o, ch);
		}
	}
	put_char(o, '"');
}

void format_json(const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns, char *buf,
		 size_t len)
{
	struct out o = { buf, len, 0 };
	char rbuf[64];
	const char *reason = event_reason(nm, e, rbuf, sizeof(rbuf));
	const char *proto = proto_name(e->proto);
	struct ipaddr a;

	/* Retina's "time" is the event's time too: seconds since the epoch with ns. */
	put_str(&o, "{\"time\":");
	put_uint(&o, wall_ns / 1000000000u, 1);
	put_char(&o, '.');
	put_uint(&o, wall_ns % 1000000000u, 9);
	put_str(&o, ",\"ts\":\"");
	put_rfc3339(&o, wall_ns);
	put_str(&o, "\",\"type\":\"");
	put_str(&o, e->type < TT_COUNT ? trace_type_names[e->type] : "?");
	put_str(&o, "\",\"reason_code\":");
	put_uint(&o, e->reason, 1);
	put_str(&o, ",\"reason\":");
	put_json_str(&o, reason, strlen(reason));
	char lbuf[128];
	const char *loc = event_location(nm, e, lbuf, sizeof(lbuf));
	if (loc) {
		put_str(&o, ",\"location\":");
		put_json_str(&o, loc, strlen(loc));
	}
	put_str(&o, ",\"probe\":\"");
	put_str(&o, e->type < TT_COUNT ? trace_probe_names[e->type] : "?");
	put_str(&o, "\",\"proto\":");
	if (proto) {
		put_char(&o, '"');
		put_str(&o, proto);
		put_char(&o, '"');
	} else {
		put_uint(&o, e->proto, 1);
	}
	if (have_addr(e)) {
		event_ip(e, true, &a);
		put_str(&o, ",\"src_ip\":\"");
		put_ip(&o, &a);
		put_str(&o, "\",\"src_port\":");
		put_uint(&o, e->sport, 1);
		event_ip(e, false, &a);
		put_str(&o, ",\"dst_ip\":\"");
		put_ip(&o, &a);
		put_str(&o, "\",\"dst_port\":");
		put_uint(&o, e->dport, 1);
	} else {
		put_str(&o, ",\"src_ip\":null,\"src_port\":null,\"dst_ip\":null,\"dst_port\":null");
	}
	if (e->state && (e->type == TT_RST_SENT || e->type == TT_RST_RECV || e->type == TT_RETRANS)) {
		char sbuf[16];
		put_str(&o, ",\"tcp_state\":\"");
		put_str(&o, tcp_state_name(e->state, sbuf));
		put_char(&o, '"');
	}
	if (e->pid) {
		put_str(&o, ",\"pid\":");
		put_uint(&o, e->pid, 1);
		put_str(&o, ",\"comm\":");
		put_json_str(&o, e->comm, sizeof(e->comm));
	}
	if (e->netns) {
		put_str(&o, ",\"netns\":");
		put_uint(&o, e->netns, 1);
	}
	if (e->ifindex) {
		put_str(&o, ",\"ifindex\":");
		put_uint(&o, e->ifindex, 1);
		if (e->ifname[0]) {
			put_str(&o, ",\"ifname\":");
			put_json_str(&o, e->ifname, sizeof(e->ifname));
		}
	}
	put_char(&o, '}');
	/* Truncated output must still be one valid object: never happens at 1 KiB. */
	if (!put_end(&o) && len > 2)
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
