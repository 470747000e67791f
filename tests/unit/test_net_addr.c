/* Unit tests for net/addr: parsing, CIDR matching and formatting, v4 and v6. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/addr.h"

static struct ipaddr ip(const char *s)
{
	struct ipaddr a;
	assert_int_equal(ipaddr_parse(s, &a), 0);
	return a;
}

static void parses_v4_and_v6_and_rejects_junk(void **state)
{
	struct ipaddr a;
	char buf[IPADDR_STRLEN];
	(void)state;

	a = ip("10.0.0.4");
	assert_int_equal(a.family, AF_INET);
	assert_string_equal(ipaddr_format(&a, buf, sizeof(buf)), "10.0.0.4");
	a = ip("2001:DB8::1");
	assert_int_equal(a.family, AF_INET6);
	assert_string_equal(ipaddr_format(&a, buf, sizeof(buf)), "2001:db8::1");
	const char *bad[] = { "", "10.0.0", "10.0.0.256", "1.2.3.4.5", "[::1]", "::g", "10.0.0.1/8", " 10.0.0.1", "host" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ipaddr_parse(bad[i], &a), -1);
}

static void cidr_matches_inside_and_not_outside(void **state)
{
	struct cidr c;
	(void)state;

	assert_int_equal(cidr_parse("10.1.0.0/16", &c), 0);
	struct ipaddr in = ip("10.1.255.3"), out = ip("10.2.0.1"), v6 = ip("::ffff:10.1.0.1");
	assert_true(cidr_contains(&c, &in));
	assert_false(cidr_contains(&c, &out));
	assert_false(cidr_contains(&c, &v6));	/* a different family never matches */
	ipaddr_unmap(&v6);
	assert_true(cidr_contains(&c, &v6));

	assert_int_equal(cidr_parse("2001:db8:abcd::/35", &c), 0);
	struct ipaddr yes = ip("2001:db8:b000::1"), no = ip("2001:db8:c000::1");
	assert_true(cidr_contains(&c, &yes));	/* 0xa/0xb share the top 3 bits of the 3rd group */
	assert_false(cidr_contains(&c, &no));
}

static void cidr_clears_host_bits_and_takes_bare_addresses(void **state)
{
	struct cidr c;
	char buf[IPADDR_STRLEN];
	(void)state;

	assert_int_equal(cidr_parse("192.0.2.77/24", &c), 0);
	assert_string_equal(ipaddr_format(&c.addr, buf, sizeof(buf)), "192.0.2.0");
	assert_int_equal(cidr_parse("2001:db8::5", &c), 0);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	struct ipaddr any = ip("203.0.113.9");
	assert_true(cidr_contains(&c, &any));
	const char *bad[] = { "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "/8", "fe80::/64/1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cidr_parse(bad[i], &c), -1);
}

static void formats_socket_addresses(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	char buf[SOCKADDR_STRLEN];
	(void)state;

	inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	assert_string_equal(sockaddr_format((struct sockaddr *)&in, buf, sizeof(buf)), "10.0.0.1:80");
	assert_string_equal(sockaddr_format((struct sockaddr *)&in6, buf, sizeof(buf)), "[2001:db8::1]:443");
}

static void splits_host_and_port(void **state)
{
	char buf[64];
	const char *host, *port;
	(void)state;

	assert_int_equal(hostport_split("example.com:8080", buf, sizeof(buf), &host, &port), 0);
	assert_string_equal(host, "example.com");
	assert_string_equal(port, "8080");
	assert_int_equal(hostport_split("[2001:db8::1]:443", buf, sizeof(buf), &host, &port), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_string_equal(port, "443");
	assert_int_equal(hostport_split("2001:db8::1", buf, sizeof(buf), &host, &port), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_null(port);
	assert_int_equal(hostport_split("node-1", buf, sizeof(buf), &host, &port), 0);
	assert_null(port);
	assert_int_equal(hostport_split("[::1", buf, sizeof(buf), &host, &port), -1);
	assert_int_equal(hostport_split("[::1]x", buf, sizeof(buf), &host, &port), -1);
	assert_int_equal(hostport_split("a-very-long-name-that-does-not-fit-in-the-tiny-buffer-given", buf, 16, &host,
					&port), -1);
}

static void converts_to_and_from_socket_addresses(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	struct ipaddr a, back;
	uint16_t port = 0;
	char buf[SOCKADDR_STRLEN];

	assert_int_equal(ipaddr_parse("10.1.2.3", &a), 0);
	assert_int_equal(ipaddr_to_sockaddr(&a, 8080, &ss), sizeof(struct sockaddr_in));
	assert_int_equal(sockaddr_len((struct sockaddr *)&ss), sizeof(struct sockaddr_in));
	assert_string_equal(sockaddr_format((struct sockaddr *)&ss, buf, sizeof(buf)), "10.1.2.3:8080");
	sockaddr_to_ipaddr((struct sockaddr *)&ss, &back, &port);
	assert_true(ipaddr_equal(&a, &back));
	assert_int_equal(port, 8080);

	assert_int_equal(ipaddr_parse("2001:db8::7", &a), 0);
	assert_int_equal(ipaddr_to_sockaddr(&a, 53, &ss), sizeof(struct sockaddr_in6));
	assert_int_equal(sockaddr_len((struct sockaddr *)&ss), sizeof(struct sockaddr_in6));
	assert_string_equal(sockaddr_format((struct sockaddr *)&ss, buf, sizeof(buf)), "[2001:db8::7]:53");
	sockaddr_to_ipaddr((struct sockaddr *)&ss, &back, NULL);
	assert_true(ipaddr_equal(&a, &back));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_v4_and_v6_and_rejects_junk),
		cmocka_unit_test(cidr_matches_inside_and_not_outside),
		cmocka_unit_test(cidr_clears_host_bits_and_takes_bare_addresses),
		cmocka_unit_test(formats_socket_addresses),
		cmocka_unit_test(splits_host_and_port),
		cmocka_unit_test(converts_to_and_from_socket_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
