/* DNS message build, parse and presentation (see net/dns.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lib/retina.h"
#include "net/dns.h"

static const struct { uint16_t type; const char *name; } types[] = {
	{ DNS_T_A, "A" }, { DNS_T_NS, "NS" }, { DNS_T_CNAME, "CNAME" }, { DNS_T_SOA, "SOA" },
	{ DNS_T_PTR, "PTR" }, { DNS_T_MX, "MX" }, { DNS_T_TXT, "TXT" }, { DNS_T_AAAA, "AAAA" },
	{ DNS_T_SRV, "SRV" }, { DNS_T_OPT, "OPT" }, { DNS_T_ANY, "ANY" }, { DNS_T_CAA, "CAA" },
	{ 13, "HINFO" }, { 35, "NAPTR" }, { 39, "DNAME" }, { 43, "DS" }, { 46, "RRSIG" },
	{ 47, "NSEC" }, { 48, "DNSKEY" }, { 52, "TLSA" }, { 64, "SVCB" }, { 65, "HTTPS" },
	{ 252, "AXFR" },
};

int dns_type_parse(const char *s)
{
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (!strcasecmp(s, types[i].name))
			return types[i].type;
	if (!strncasecmp(s, "TYPE", 4) && !parse_u64(s + 4, 0, 65535, &v))
		return (int)v;
	return -1;
}

const char *dns_type_name(unsigned type, char buf[16])
{
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (types[i].type == type)
			return types[i].name;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

const char *dns_rcode_name(unsigned rcode, char buf[16])
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
					     "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
					     "NOTZONE" };

	if (rcode < ARRAY_SIZE(names))
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	snprintf(buf, 16, "RCODE%u", rcode);
	return buf;
}

const char *dns_opcode_name(unsigned opcode, char buf[16])
{
	static const char *const names[] = { "QUERY", "IQUERY", "STATUS", "RESERVED3", "NOTIFY", "UPDATE" };

	if (opcode < ARRAY_SIZE(names))
		return names[opcode];
	snprintf(buf, 16, "RESERVED%u", opcode);
	return buf;
}

int dns_name_to_wire(const char *text, uint8_t *out, size_t outlen)
{
	size_t o = 0;
	const char *p = text;

	if (!text || !*text)
		return -1;
	if (!strcmp(text, ".")) {
		if (outlen < 1)
			return -1;
		out[0] = 0;
		return 1;
	}
	while (*p) {
		size_t len_at = o++;
		unsigned label = 0;

		while (*p && *p != '.') {
			unsigned c = (unsigned char)*p++;
			if (c == '\\') {
				if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
				    isdigit((unsigned char)p[2])) {
					c = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
					if (c > 255)
						return -1;
					p += 3;
				} else if (*p) {
					c = (unsigned char)*p++;
				} else {
					return -1;
				}
			}
			if (o >= outlen || ++label > 63)
				return -1;
			out[o++] = (uint8_t)c;
		}
		if (!label)	/* "a..b" or a leading dot */
			return -1;
		if (len_at >= outlen)
			return -1;
		out[len_at] = (uint8_t)label;
		if (*p == '.')
			p++;
	}
	if (o >= outlen || o + 1 > DNS_NAME_WIRE_MAX)
		return -1;
	out[o++] = 0;
	return (int)o;
}

const char *dns_name_strerror(int err)
{
	switch (err) {
	case DNS_NAME_TRUNCATED: return "name runs past the end of the message";
	case DNS_NAME_LOOP: return "compression pointer loop (a pointer not pointing backwards, or over 127 of them)";
	case DNS_NAME_TOO_LONG: return "name longer than 255 bytes";
	case DNS_NAME_BAD_LABEL: return "unknown label type (0x40/0x80)";
	}
	return "bad name";
}

/* Presentation escapes as bind prints them: specials with '\', others as \DDD. */
static size_t escape_byte(unsigned c, char *out, bool in_name)
{
	if (c < 0x20 || c > 0x7e || (in_name && c == ' '))
		return (size_t)sprintf(out, "\\%03u", c);
	if (c == '"' || c == '\\' || (in_name && strchr(".;()@$", (int)c))) {
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	out[0] = (char)c;
	return 1;
}

int dns_name_read(const uint8_t *msg, size_t len, size_t off, char *text, size_t textlen, size_t *next)
{
	size_t pos = off, wire = 0, t = 0;
	unsigned jumps = 0;
	bool jumped = false;

	if (textlen < DNS_NAME_TEXT)
		return DNS_NAME_TOO_LONG;
	for (;;) {
		if (pos >= len)
			return DNS_NAME_TRUNCATED;
		unsigned b = msg[pos];
		if ((b & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return DNS_NAME_TRUNCATED;
			size_t target = ((b & 0x3f) << 8) | msg[pos + 1];
			/*
			 * Strictly backwards: every jump lowers pos, so this ends. A
			 * name has at most 127 labels, so more jumps than that are a
			 * chain built to burn CPU.
			 */
			if (target >= pos || ++jumps > 127)
				return DNS_NAME_LOOP;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = target;
			continue;
		}
		if (b & 0xc0)
			return DNS_NAME_BAD_LABEL;
		if (pos + 1 + b > len)
			return DNS_NAME_TRUNCATED;
		wire += b + 1;
		if (wire > DNS_NAME_WIRE_MAX)
			return DNS_NAME_TOO_LONG;
		if (b == 0) {
			if (!jumped)
				*next = pos + 1;
			break;
		}
		for (unsigned i = 0; i < b; i++)
			t += escape_byte(msg[pos + 1 + i], text + t, true);
		text[t++] = '.';
		pos += 1 + b;
	}
	if (t == 0)
		text[t++] = '.';
	text[t] = '\0';
	return DNS_NAME_OK;
}

bool dns_name_equal(const char *a, const char *b)
{
	uint8_t wa[DNS_NAME_WIRE_MAX + 1], wb[DNS_NAME_WIRE_MAX + 1];
	int la = dns_name_to_wire(a, wa, sizeof(wa)), lb = dns_name_to_wire(b, wb, sizeof(wb));

	if (la < 0 || la != lb)
		return false;
	for (int i = 0; i < la; i++)
		if (tolower(wa[i]) != tolower(wb[i]))
			return false;
	return true;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int dns_query_build(const struct dns_query *q, uint8_t *out, size_t outlen)
{
	size_t need_opt = q->edns_udp ? 11 : 0;
	int n;

	if (outlen < DNS_HEADER_LEN)
		return -1;
	memset(out, 0, DNS_HEADER_LEN);
	put16(out, q->id);
	put16(out + 2, q->recurse ? DNS_F_RD : 0);
	put16(out + 4, 1);
	put16(out + 10, q->edns_udp ? 1 : 0);
	n = dns_name_to_wire(q->name, out + DNS_HEADER_LEN, outlen - DNS_HEADER_LEN);
	if (n < 0)
		return -1;
	size_t o = DNS_HEADER_LEN + (size_t)n;
	if (o + 4 + need_opt > outlen)
		return -1;
	put16(out + o, q->type);
	put16(out + o + 2, q->qclass);
	o += 4;
	if (q->edns_udp) {
		out[o] = 0;			/* root name */
		put16(out + o + 1, DNS_T_OPT);
		put16(out + o + 3, q->edns_udp);
		memset(out + o + 5, 0, 6);	/* ext rcode, version 0, flags, rdlen 0 */
		o += 11;
	}
	return (int)o;
}

static const char *const section_names[] = { "answer", "authority", "additional" };

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Read one record header at *off; advances *off past its rdata. */
static int read_rr(const uint8_t *buf, size_t len, size_t *off, struct dns_rr *rr)
{
	size_t next;
	int e = dns_name_read(buf, len, *off, rr->name, sizeof(rr->name), &next);

	if (e)
		return e;
	if (next + 10 > len)
		return DNS_NAME_TRUNCATED;
	rr->type = (uint16_t)get16(buf + next);
	rr->rclass = (uint16_t)get16(buf + next + 2);
	rr->ttl = get32(buf + next + 4);
	rr->rdlen = (uint16_t)get16(buf + next + 8);
	rr->rdoff = next + 10;
	if (rr->rdoff + rr->rdlen > len)
		return DNS_NAME_TRUNCATED;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

int dns_msg_parse(struct dns_msg *m, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	size_t off = DNS_HEADER_LEN;

	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;
	if (len < DNS_HEADER_LEN)
		return fail(err, errlen, "message is %zu bytes, shorter than the 12-byte header", len);
	m->id = (uint16_t)get16(buf);
	m->flags = (uint16_t)get16(buf + 2);
	m->opcode = (m->flags >> 11) & 0xf;
	m->rcode = m->flags & 0xf;
	m->qdcount = (uint16_t)get16(buf + 4);
	for (int s = 0; s < DNS_S_COUNT; s++)
		m->count[s] = (uint16_t)get16(buf + 6 + 2 * s);

	for (unsigned i = 0; i < m->qdcount; i++) {
		char name[DNS_NAME_TEXT];
		size_t next;
		int e = dns_name_read(buf, len, off, name, sizeof(name), &next);
		if (e)
			return fail(err, errlen, "question %u at offset %zu: %s", i + 1, off, dns_name_strerror(e));
		if (next + 4 > len)
			return fail(err, errlen, "question %u: type and class run past the end of the message", i + 1);
		if (i == 0) {
			memcpy(m->qname, name, strlen(name) + 1);
			m->qtype = (uint16_t)get16(buf + next);
			m->qclass = (uint16_t)get16(buf + next + 2);
		}
		off = next + 4;
	}

	/* Every count is checked against the bytes present, so a huge count ends early. */
	struct dns_rr *rr = malloc(sizeof(*rr));
	char *text = NULL;
	int ret = 0;
	if (!rr)
		return fail(err, errlen, "out of memory");
	for (int s = 0; s < DNS_S_COUNT && !ret; s++) {
		m->section_off[s] = off;
		for (unsigned i = 0; i < m->count[s]; i++) {
			size_t at = off;
			int e = read_rr(buf, len, &off, rr);
			if (e) {
				ret = fail(err, errlen, "%s record %u at offset %zu: %s", section_names[s], i + 1, at,
					   e == DNS_NAME_TRUNCATED ? "record runs past the end of the message"
								   : dns_name_strerror(e));
				break;
			}
			if (rr->type == DNS_T_OPT) {
				if (s != DNS_S_ADDITIONAL || m->has_opt || strcmp(rr->name, ".")) {
					ret = fail(err, errlen, "%s record %u: misplaced or second OPT record",
						   section_names[s], i + 1);
					break;
				}
				m->has_opt = true;
				m->opt_udp = rr->rclass;
				m->rcode |= (rr->ttl >> 24) << 4;
				m->opt_version = (uint8_t)(rr->ttl >> 16);
				m->opt_flags = (uint16_t)rr->ttl;
				continue;
			}
			size_t tl = dns_rdata_text_max(rr);
			char *t = realloc(text, tl);
			char why[160];
			if (!t) {
				ret = fail(err, errlen, "out of memory");
				break;
			}
			text = t;
			if (dns_rdata_format(m, rr, text, tl, why, sizeof(why))) {
				ret = fail(err, errlen, "%s record %u (%s): %s", section_names[s], i + 1, rr->name, why);
				break;
			}
		}
	}
	free(rr);
	free(text);
	return ret;
}

void dns_iter_init(struct dns_iter *it, const struct dns_msg *m, enum dns_section s)
{
	it->m = m;
	it->left = m->count[s];
	it->off = m->section_off[s];
}

bool dns_iter_next(struct dns_iter *it, struct dns_rr *rr)
{
	if (!it->left)
		return false;
	if (read_rr(it->m->buf, it->m->len, &it->off, rr)) {	/* only if not validated */
		it->left = 0;
		return false;
	}
	it->left--;
	return true;
}

size_t dns_rdata_text_max(const struct dns_rr *rr)
{
	return 4 * (size_t)rr->rdlen + 3 * DNS_NAME_TEXT + 64;
}

/* A sequence of <character-string>s, each quoted, as dig prints TXT. */
static size_t format_strings(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0, i = 0;

	while (i < n) {
		size_t l = p[i++];
		if (o)
			out[o++] = ' ';
		out[o++] = '"';
		for (size_t k = 0; k < l && i < n; k++)
			o += escape_byte(p[i++], out + o, false);
		out[o++] = '"';
	}
	out[o] = '\0';
	return o;
}

static bool strings_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n)
		i += 1 + p[i];
	return i == n;
}

int dns_rdata_format(const struct dns_msg *m, const struct dns_rr *rr, char *out, size_t outlen, char *err,
		     size_t errlen)
{
	const uint8_t *rd = m->buf + rr->rdoff;
	const size_t n = rr->rdlen, end = rr->rdoff + rr->rdlen;
	char name[DNS_NAME_TEXT], name2[DNS_NAME_TEXT];
	size_t next;
	int e;

	if (outlen < dns_rdata_text_max(rr))
		return fail(err, errlen, "output buffer too small");
	if (rr->rdoff + n > m->len)
		return fail(err, errlen, "rdata runs past the end of the message");

	/* Names in rdata must end inside the rdata. */
#define READ_NAME(at, dst)                                                                       \
	do {                                                                                     \
		e = dns_name_read(m->buf, end, (at), (dst), sizeof(dst), &next);                 \
		if (e)                                                                           \
			return fail(err, errlen, "%s", e == DNS_NAME_TRUNCATED                   \
				    ? "name runs past the end of the rdata" : dns_name_strerror(e)); \
	} while (0)

	switch (rr->type) {
	case DNS_T_A:
		if (n != 4)
			return fail(err, errlen, "A rdata is %zu bytes, not 4", n);
		inet_ntop(AF_INET, rd, out, (socklen_t)outlen);
		return 0;
	case DNS_T_AAAA:
		if (n != 16)
			return fail(err, errlen, "AAAA rdata is %zu bytes, not 16", n);
		inet_ntop(AF_INET6, rd, out, (socklen_t)outlen);
		return 0;
	case DNS_T_NS:
	case DNS_T_CNAME:
	case DNS_T_PTR:
		READ_NAME(rr->rdoff, name);
		if (next != end)
			return fail(err, errlen, "junk after the name in the rdata");
		snprintf(out, outlen, "%s", name);
		return 0;
	case DNS_T_MX:
		if (n < 3)
			return fail(err, errlen, "MX rdata too short");
		READ_NAME(rr->rdoff + 2, name);
		if (next != end)
			return fail(err, errlen, "junk after the MX exchange name");
		snprintf(out, outlen, "%u %s", get16(rd), name);
		return 0;
	case DNS_T_SRV:
		if (n < 7)
			return fail(err, errlen, "SRV rdata too short");
		READ_NAME(rr->rdoff + 6, name);
		if (next != end)
			return fail(err, errlen, "junk after the SRV target name");
		snprintf(out, outlen, "%u %u %u %s", get16(rd), get16(rd + 2), get16(rd + 4), name);
		return 0;
	case DNS_T_SOA:
		READ_NAME(rr->rdoff, name);
		READ_NAME(next, name2);
		if (next + 20 != end)
			return fail(err, errlen, "SOA rdata has %zd bytes of numbers, not 20", (ssize_t)end - (ssize_t)next);
		{
			const uint8_t *v = m->buf + next;
			snprintf(out, outlen, "%s %s %u %u %u %u %u", name, name2, get32(v), get32(v + 4),
				 get32(v + 8), get32(v + 12), get32(v + 16));
		}
		return 0;
	case DNS_T_TXT:
		if (!n || !strings_ok(rd, n))
			return fail(err, errlen, "TXT string lengths do not add up to the rdata length");
		format_strings(rd, n, out);
		return 0;
	case DNS_T_CAA: {
		if (n < 2 || rd[1] == 0 || 2u + rd[1] > n)
			return fail(err, errlen, "CAA tag length does not fit the rdata");
		size_t o = (size_t)sprintf(out, "%u ", rd[0]);
		for (unsigned i = 0; i < rd[1]; i++)
			o += escape_byte(rd[2 + i], out + o, true);
		out[o++] = ' ';
		out[o++] = '"';
		for (size_t i = 2u + rd[1]; i < n; i++)
			o += escape_byte(rd[i], out + o, false);
		out[o++] = '"';
		out[o] = '\0';
		return 0;
	}
	default: {
		size_t o = (size_t)sprintf(out, "\\# %zu", n);
		if (n)
			out[o++] = ' ';
		for (size_t i = 0; i < n; i++)
			o += (size_t)sprintf(out + o, "%02X", rd[i]);
		out[o] = '\0';
		return 0;
	}
	}
#undef READ_NAME
}

int dns_msg_first_addr(const struct dns_msg *m, uint16_t type, uint8_t *addr)
{
	struct dns_iter it;
	struct dns_rr rr;

	dns_iter_init(&it, m, DNS_S_ANSWER);
	while (dns_iter_next(&it, &rr)) {
		if (rr.type != type || rr.rclass != DNS_CLASS_IN)
			continue;
		if (rr.rdlen != (type == DNS_T_A ? 4 : 16))
			continue;
		memcpy(addr, m->buf + rr.rdoff, rr.rdlen);
		return 0;
	}
	return -1;
}

bool dns_msg_answers(const struct dns_msg *m, const struct dns_query *q, char *err, size_t errlen)
{
	char t1[16], t2[16];

	if (m->id != q->id) {
		fail(err, errlen, "ID %u does not match the query's %u", m->id, q->id);
		return false;
	}
	if (!(m->flags & DNS_F_QR)) {
		fail(err, errlen, "QR bit clear: a query, not a response");
		return false;
	}
	/* FORMERR/NOTIMP replies may legitimately omit the question. */
	if (m->qdcount == 0 && (m->rcode == DNS_R_FORMERR || m->rcode == DNS_R_NOTIMP))
		return true;
	if (m->qdcount != 1 || !dns_name_equal(m->qname, q->name) || m->qtype != q->type || m->qclass != q->qclass) {
		fail(err, errlen, "question (%s %s) does not match the query (%s %s)",
		     m->qdcount ? m->qname : "none", dns_type_name(m->qtype, t1), q->name, dns_type_name(q->type, t2));
		return false;
	}
	return true;
}

int dns_reverse_name(int family, const uint8_t *addr, char *out, size_t outlen)
{
	size_t o = 0;

	if (family == AF_INET) {
		snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa.", addr[3], addr[2], addr[1], addr[0]);
		return 0;
	}
	if (family != AF_INET6 || outlen < 74)
		return -1;
	for (int i = 15; i >= 0; i--)
		o += (size_t)sprintf(out + o, "%x.%x.", addr[i] & 0xf, addr[i] >> 4);
	snprintf(out + o, outlen - o, "ip6.arpa.");
	return 0;
}
