/*
 * ICMP and ICMPv6 echo: build requests, parse what a raw or datagram ICMP
 * socket receives (echo replies, and errors quoting one of our requests),
 * and name ICMP errors as iputils ping does. Pure code: no sockets.
 */
#ifndef RETINA_NET_ICMP_H
#define RETINA_NET_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum icmp_kind {
	ICMP_K_OTHER,		/* not for us: ignore */
	ICMP_K_ECHO_REPLY,
	ICMP_K_ERROR,		/* an error quoting one of our echo requests */
};

struct icmp_pkt {
	enum icmp_kind kind;
	uint8_t type, code;	/* of the received message */
	uint16_t id, seq;	/* of the reply, or of the quoted request */
	int ttl;		/* from the IPv4 header when present, else -1 */
	uint8_t src[4];		/* IPv4 source when the IP header was present */
	size_t icmp_len;	/* ICMP header + data: the "64 bytes" ping prints */
	const uint8_t *data;	/* echo payload (after the 8-byte header) */
	size_t data_len;
	uint32_t info;		/* MTU of "packet too big"/"frag needed", pointer of param. problem */
};

/* The Internet checksum (RFC 1071) of buf. */
uint16_t icmp_checksum(const void *buf, size_t len);

/*
 * An echo request of family AF_INET or AF_INET6 with payload; the IPv4
 * checksum is filled in (the kernel fills ICMPv6's). Returns its length, or
 * 0 when out is too small.
 */
size_t icmp_echo_build(int family, uint16_t id, uint16_t seq, const uint8_t *payload, size_t plen, uint8_t *out,
		       size_t outlen);

/*
 * Parse one received packet. with_ip: an IPv4 raw socket hands over the IP
 * header too. Datagram sockets get only echo replies of their own (the
 * kernel rewrites the ID), so id_check false skips the ID match. Returns
 * 0 with out filled (kind OTHER for anything not ours), -1 when malformed.
 */
int icmp_parse(int family, bool with_ip, const uint8_t *pkt, size_t len, bool id_check, uint16_t id,
	       struct icmp_pkt *out);

/* iputils' wording: "Destination Host Unreachable", "Time to live exceeded", ... */
const char *icmp_error_text(int family, uint8_t type, uint8_t code, uint32_t info, char *buf, size_t len);

#endif
