/* Unit tests for net/icmp: echo build, reply and error parsing, iputils' error wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "net/icmp.h"

static void checksum_matches_rfc1071_example(void **state)
{
	/* RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2, so the checksum is 220d. */
	const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	(void)state;
	assert_int_equal(icmp_checksum(b, sizeof(b)), 0x220d);
}

static void echo_request_is_valid_and_its_reply_parses(void **state)
{
	uint8_t pkt[128], payload[56];
	struct icmp_pkt k;
	(void)state;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	size_t n = icmp_echo_build(AF_INET, 0x1234, 7, payload, sizeof(payload), pkt, sizeof(pkt));
	assert_int_equal(n, 64);
	assert_int_equal(pkt[0], 8);
	assert_int_equal(icmp_checksum(pkt, n), 0);	/* a valid checksum sums to zero */
	assert_int_equal(icmp_echo_build(AF_INET, 1, 1, payload, sizeof(payload), pkt, 10), 0);

	/* as a raw IPv4 socket hands it over: a 20-byte IP header (TTL 61), then the reply */
	uint8_t raw[20 + 64] = { 0x45, [8] = 61, [9] = 1, [12] = 192, 0, 2, 2 };
	memcpy(raw + 20, pkt, n);
	raw[20] = 0;	/* echo reply */
	assert_int_equal(icmp_parse(AF_INET, true, raw, sizeof(raw), true, 0x1234, &k), 0);
	assert_int_equal(k.kind, ICMP_K_ECHO_REPLY);
	assert_int_equal(k.seq, 7);
	assert_int_equal(k.ttl, 61);
	assert_int_equal(k.icmp_len, 64);
	assert_int_equal(k.data_len, 56);
	assert_memory_equal(k.data, payload, 56);
	/* someone else's ping: not ours */
	assert_int_equal(icmp_parse(AF_INET, true, raw, sizeof(raw), true, 0x9999, &k), 0);
	assert_int_equal(k.kind, ICMP_K_OTHER);
	/* our own request looped back (pinging a local address): not a reply */
	raw[20] = 8;
	assert_int_equal(icmp_parse(AF_INET, true, raw, sizeof(raw), true, 0x1234, &k), 0);
	assert_int_equal(k.kind, ICMP_K_OTHER);
	/* a datagram socket: no IP header, no ID check */
	pkt[0] = 0;
	assert_int_equal(icmp_parse(AF_INET, false, pkt, n, false, 0, &k), 0);
	assert_int_equal(k.kind, ICMP_K_ECHO_REPLY);
	assert_int_equal(k.ttl, -1);

	n = icmp_echo_build(AF_INET6, 0x1234, 9, payload, 8, pkt, sizeof(pkt));
	assert_int_equal(pkt[0], 128);
	pkt[0] = 129;
	assert_int_equal(icmp_parse(AF_INET6, false, pkt, n, true, 0x1234, &k), 0);
	assert_int_equal(k.kind, ICMP_K_ECHO_REPLY);
	assert_int_equal(k.seq, 9);
}

static void errors_name_the_quoted_request(void **state)
{
	uint8_t req[64], err[8 + 20 + 8];
	struct icmp_pkt k;
	char buf[96];
	(void)state;

	icmp_echo_build(AF_INET, 0x4242, 3, NULL, 0, req, sizeof(req));
	/* type 3 code 1, quoting IP header + 8 bytes of our request */
	memset(err, 0, sizeof(err));
	err[0] = 3, err[1] = 1;
	err[8] = 0x45, err[8 + 9] = 1;
	memcpy(err + 28, req, 8);
	assert_int_equal(icmp_parse(AF_INET, false, err, sizeof(err), true, 0x4242, &k), 0);
	assert_int_equal(k.kind, ICMP_K_ERROR);
	assert_int_equal(k.seq, 3);
	assert_string_equal(icmp_error_text(AF_INET, k.type, k.code, k.info, buf, sizeof(buf)),
			    "Destination Host Unreachable");
	/* quoting someone else's request, or a UDP packet: not ours */
	assert_int_equal(icmp_parse(AF_INET, false, err, sizeof(err), true, 0x1111, &k), 0);
	assert_int_equal(k.kind, ICMP_K_OTHER);
	err[8 + 9] = 17;
	assert_int_equal(icmp_parse(AF_INET, false, err, sizeof(err), true, 0x4242, &k), 0);
	assert_int_equal(k.kind, ICMP_K_OTHER);
	/* a quote cut short is malformed */
	err[8 + 9] = 1;
	assert_int_equal(icmp_parse(AF_INET, false, err, 8 + 20 + 4, true, 0x4242, &k), -1);
	/* too short to be ICMP at all; an IP header length past the packet */
	assert_int_equal(icmp_parse(AF_INET, false, err, 4, true, 0, &k), -1);
	uint8_t badip[24] = { 0x4f };
	assert_int_equal(icmp_parse(AF_INET, true, badip, sizeof(badip), true, 0, &k), -1);
}

static void error_wording_is_iputils(void **state)
{
	char b[96];
	(void)state;
	assert_string_equal(icmp_error_text(AF_INET, 3, 3, 0, b, sizeof(b)), "Destination Port Unreachable");
	assert_string_equal(icmp_error_text(AF_INET, 3, 4, 1400, b, sizeof(b)), "Frag needed and DF set (mtu = 1400)");
	assert_string_equal(icmp_error_text(AF_INET, 11, 0, 0, b, sizeof(b)), "Time to live exceeded");
	assert_string_equal(icmp_error_text(AF_INET6, 1, 3, 0, b, sizeof(b)), "Destination unreachable: Address unreachable");
	assert_string_equal(icmp_error_text(AF_INET6, 3, 0, 0, b, sizeof(b)), "Time exceeded: Hop limit");
	assert_string_equal(icmp_error_text(AF_INET6, 2, 0, 1280, b, sizeof(b)), "Packet too big: mtu=1280");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checksum_matches_rfc1071_example),
		cmocka_unit_test(echo_request_is_valid_and_its_reply_parses),
		cmocka_unit_test(errors_name_the_quoted_request),
		cmocka_unit_test(error_wording_is_iputils),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
