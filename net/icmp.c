/* ICMP echo build/parse and error names (see net/icmp.h). */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/retina.h"
#include "net/icmp.h"

enum {
	ICMP4_ECHO_REPLY = 0, ICMP4_UNREACH = 3, ICMP4_SOURCE_QUENCH = 4, ICMP4_REDIRECT = 5, ICMP4_ECHO = 8,
	ICMP4_TIME_EXCEEDED = 11, ICMP4_PARAM_PROB = 12,
	ICMP6_UNREACH = 1, ICMP6_TOO_BIG = 2, ICMP6_TIME_EXCEEDED = 3, ICMP6_PARAM_PROB = 4, ICMP6_ECHO = 128,
	ICMP6_ECHO_REPLY = 129,
	IPPROTO_ICMP_ = 1, IPPROTO_ICMPV6_ = 58,
};

uint16_t icmp_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

size_t icmp_echo_build(int family, uint16_t id, uint16_t seq, const uint8_t *payload, size_t plen, uint8_t *out,
		       size_t outlen)
{
	if (outlen < 8 + plen)
		return 0;
	out[0] = family == AF_INET ? ICMP4_ECHO : ICMP6_ECHO;
	out[1] = 0;
	out[2] = out[3] = 0;
	out[4] = (uint8_t)(id >> 8);
	out[5] = (uint8_t)id;
	out[6] = (uint8_t)(seq >> 8);
	out[7] = (uint8_t)seq;
	if (plen)
		memcpy(out + 8, payload, plen);
	if (family == AF_INET) {
		uint16_t c = icmp_checksum(out, 8 + plen);
		out[2] = (uint8_t)(c >> 8);
		out[3] = (uint8_t)c;
	}
	return 8 + plen;
}

/* The echo request an error message quotes: its IP header, then >= 8 bytes of ICMP. */
static int parse_quoted(int family, const uint8_t *q, size_t len, bool id_check, uint16_t id, struct icmp_pkt *out)
{
	size_t hl;

	if (family == AF_INET) {
		if (len < 20 || (q[0] >> 4) != 4)
			return -1;
		hl = (size_t)(q[0] & 0xf) * 4;
		if (hl < 20 || len < hl + 8 || q[9] != IPPROTO_ICMP_)
			return q[9] != IPPROTO_ICMP_ && len >= 20 ? 0 : -1;
		if (q[hl] != ICMP4_ECHO)
			return 0;
	} else {
		if (len < 40 || (q[0] >> 4) != 6)
			return -1;
		hl = 40;
		if (q[6] != IPPROTO_ICMPV6_ || len < hl + 8)
			return q[6] != IPPROTO_ICMPV6_ ? 0 : -1;
		if (q[hl] != ICMP6_ECHO)
			return 0;
	}
	uint16_t qid = get16(q + hl + 4);
	if (id_check && qid != id)
		return 0;
	out->id = qid;
	out->seq = get16(q + hl + 6);
	out->kind = ICMP_K_ERROR;
	return 0;
}

int icmp_parse(int family, bool with_ip, const uint8_t *pkt, size_t len, bool id_check, uint16_t id,
	       struct icmp_pkt *out)
{
	memset(out, 0, sizeof(*out));
	out->ttl = -1;
	out->kind = ICMP_K_OTHER;
	if (family == AF_INET && with_ip) {
		if (len < 20 || (pkt[0] >> 4) != 4)
			return -1;
		size_t hl = (size_t)(pkt[0] & 0xf) * 4;
		if (hl < 20 || hl > len)
			return -1;
		out->ttl = pkt[8];
		memcpy(out->src, pkt + 12, 4);
		pkt += hl;
		len -= hl;
	}
	if (len < 8)
		return -1;
	out->type = pkt[0];
	out->code = pkt[1];
	out->icmp_len = len;
	bool v4 = family == AF_INET;
	uint8_t reply = v4 ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY;

	if (out->type == reply) {
		out->id = get16(pkt + 4);
		out->seq = get16(pkt + 6);
		if (id_check && out->id != id)
			return 0;
		out->kind = ICMP_K_ECHO_REPLY;
		out->data = pkt + 8;
		out->data_len = len - 8;
		return 0;
	}
	bool is_error = v4 ? (out->type == ICMP4_UNREACH || out->type == ICMP4_SOURCE_QUENCH ||
			      out->type == ICMP4_REDIRECT || out->type == ICMP4_TIME_EXCEEDED ||
			      out->type == ICMP4_PARAM_PROB)
			   : (out->type >= ICMP6_UNREACH && out->type <= ICMP6_PARAM_PROB);
	if (!is_error)
		return 0;
	if (v4 && out->type == ICMP4_UNREACH && out->code == 4)
		out->info = get16(pkt + 6);
	else if (v4 && out->type == ICMP4_PARAM_PROB)
		out->info = pkt[4];
	else if (v4 && out->type == ICMP4_REDIRECT)
		out->info = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
	else if (!v4 && (out->type == ICMP6_TOO_BIG || out->type == ICMP6_PARAM_PROB))
		out->info = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
	return parse_quoted(family, pkt + 8, len - 8, id_check, id, out);
}

static const char *const unreach4[] = {
	"Destination Net Unreachable", "Destination Host Unreachable", "Destination Protocol Unreachable",
	"Destination Port Unreachable", NULL, "Source Route Failed", "Destination Net Unknown",
	"Destination Host Unknown", "Source Host Isolated", "Destination Net Prohibited",
	"Destination Host Prohibited", "Destination Net Unreachable for Type of Service",
	"Destination Host Unreachable for Type of Service", "Packet filtered", "Precedence Violation",
	"Precedence Cutoff",
};

static const char *const unreach6[] = {
	"No route", "Administratively prohibited", "Beyond scope of source address", "Address unreachable",
	"Port unreachable", "Source address failed ingress/egress policy", "Reject route to destination",
};

const char *icmp_error_text(int family, uint8_t type, uint8_t code, uint32_t info, char *buf, size_t len)
{
	if (family == AF_INET) {
		switch (type) {
		case ICMP4_UNREACH:
			if (code == 4)
				snprintf(buf, len, "Frag needed and DF set (mtu = %u)", info);
			else if (code < ARRAY_SIZE(unreach4))
				snprintf(buf, len, "%s", unreach4[code]);
			else
				snprintf(buf, len, "Dest Unreachable, Bad Code: %u", code);
			return buf;
		case ICMP4_SOURCE_QUENCH:
			return "Source Quench";
		case ICMP4_REDIRECT:
			snprintf(buf, len, "Redirect %s(New nexthop: %u.%u.%u.%u)",
				 code == 0 ? "Network" : code == 1 ? "Host" : code == 2 ? "Type of Service and Network"
				 : "Type of Service and Host", info >> 24, (info >> 16) & 0xff, (info >> 8) & 0xff,
				 info & 0xff);
			return buf;
		case ICMP4_TIME_EXCEEDED:
			return code == 0 ? "Time to live exceeded" : code == 1 ? "Frag reassembly time exceeded"
			       : "Time exceeded, Bad Code";
		case ICMP4_PARAM_PROB:
			snprintf(buf, len, "Parameter problem: pointer = %u", info);
			return buf;
		}
	} else {
		switch (type) {
		case ICMP6_UNREACH:
			if (code < ARRAY_SIZE(unreach6))
				snprintf(buf, len, "Destination unreachable: %s", unreach6[code]);
			else
				snprintf(buf, len, "Destination unreachable: Unknown code %u", code);
			return buf;
		case ICMP6_TOO_BIG:
			snprintf(buf, len, "Packet too big: mtu=%u", info);
			return buf;
		case ICMP6_TIME_EXCEEDED:
			return code == 0 ? "Time exceeded: Hop limit" : code == 1 ? "Time exceeded: Defragmentation failure"
			       : "Time exceeded: Unknown code";
		case ICMP6_PARAM_PROB:
			snprintf(buf, len, "Parameter problem: %s at %u",
				 code == 0 ? "Erroneous header field" : code == 1 ? "Unrecognized next header"
				 : code == 2 ? "Unrecognized IPv6 option" : "Unknown code", info);
			return buf;
		}
	}
	snprintf(buf, len, "Bad ICMP type: %u", type);
	return buf;
}
