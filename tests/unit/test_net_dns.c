/* Unit tests for net/dns and net/resolv: names, messages, resolv.conf, search lists. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/dns.h"
#include "net/resolv.h"

static void name_to_wire_encodes_labels_and_escapes(void **state)
{
	uint8_t w[300];
	(void)state;

	assert_int_equal(dns_name_to_wire("www.example.com", w, sizeof(w)), 17);
	assert_memory_equal(w, "\3www\7example\3com\0", 17);
	assert_int_equal(dns_name_to_wire("www.example.com.", w, sizeof(w)), 17);
	assert_int_equal(dns_name_to_wire(".", w, sizeof(w)), 1);
	assert_int_equal(w[0], 0);
	assert_int_equal(dns_name_to_wire("a\\.b.c", w, sizeof(w)), 7);
	assert_memory_equal(w, "\3a.b\1c\0", 7);
	assert_int_equal(dns_name_to_wire("\\065\\032x", w, sizeof(w)), 5);
	assert_memory_equal(w, "\3A x\0", 5);

	/* empty labels, a 64-byte label, a name over 255 bytes, bad escapes */
	char l64[80], long_name[300];
	memset(l64, 'a', 64);
	l64[64] = '\0';
	for (int i = 0; i < 64; i++)
		memcpy(long_name + i * 4, "abc.", 4);
	long_name[256] = '\0';
	const char *bad[] = { "", "a..b", ".a", l64, long_name, "a\\", "\\999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dns_name_to_wire(bad[i], w, sizeof(w)), -1);
	l64[63] = '\0';
	assert_int_equal(dns_name_to_wire(l64, w, sizeof(w)), 65);
	assert_int_equal(dns_name_to_wire("www.example.com", w, 10), -1);	/* output too small */
}

static void name_read_follows_pointers_and_refuses_loops(void **state)
{
	char t[DNS_NAME_TEXT];
	size_t next;
	(void)state;

	/* 12 bytes of header, then "example.com" at 12, "www" + pointer to 12 at 25 */
	uint8_t m[64] = { 0 };
	memcpy(m + 12, "\7example\3com\0", 13);
	memcpy(m + 25, "\3www\xc0\x0c", 6);
	assert_int_equal(dns_name_read(m, 31, 25, t, sizeof(t), &next), 0);
	assert_string_equal(t, "www.example.com.");
	assert_int_equal(next, 31);

	/* a pointer to itself, a forward pointer, a two-pointer cycle */
	uint8_t self[] = { [12] = 0xc0, [13] = 12 };
	assert_int_equal(dns_name_read(self, sizeof(self), 12, t, sizeof(t), &next), DNS_NAME_LOOP);
	uint8_t fwd[] = { [12] = 0xc0, [13] = 14, [14] = 0 };
	assert_int_equal(dns_name_read(fwd, sizeof(fwd), 12, t, sizeof(t), &next), DNS_NAME_LOOP);
	uint8_t cyc[] = { [12] = 0xc0, [13] = 14, [14] = 0xc0, [15] = 12 };
	assert_int_equal(dns_name_read(cyc, sizeof(cyc), 14, t, sizeof(t), &next), DNS_NAME_LOOP);

	/* a backwards chain of 200 pointers: no loop, but no real name needs it */
	uint8_t chain[12 + 1 + 400] = { 0 };
	for (int i = 0; i < 200; i++) {
		size_t at = 13 + 2 * (size_t)i;
		chain[at] = 0xc0 | (uint8_t)((at - (i ? 2 : 1)) >> 8);
		chain[at + 1] = (uint8_t)(at - (i ? 2 : 1));
	}
	assert_int_equal(dns_name_read(chain, sizeof(chain), 13 + 2 * 199, t, sizeof(t), &next), DNS_NAME_LOOP);
	assert_int_equal(dns_name_read(chain, sizeof(chain), 13 + 2 * 3, t, sizeof(t), &next), 0);
	assert_string_equal(t, ".");

	/* a label running past the end, a reserved label type */
	uint8_t trunc[] = { [12] = 10, 'a', 'b' };
	assert_int_equal(dns_name_read(trunc, sizeof(trunc), 12, t, sizeof(t), &next), DNS_NAME_TRUNCATED);
	uint8_t ext[] = { [12] = 0x41, 0 };
	assert_int_equal(dns_name_read(ext, sizeof(ext), 12, t, sizeof(t), &next), DNS_NAME_BAD_LABEL);

	/* special and unprintable bytes come out escaped, as bind prints them */
	uint8_t esc[] = { [12] = 4, 'a', '.', ' ', 0x7f, 0 };
	assert_int_equal(dns_name_read(esc, sizeof(esc), 12, t, sizeof(t), &next), 0);
	assert_string_equal(t, "a\\.\\032\\127.");
}

static void name_read_refuses_names_over_255_bytes(void **state)
{
	/* 12 + 5 labels of 63: 320 wire bytes */
	uint8_t m[400] = { 0 };
	char t[DNS_NAME_TEXT];
	size_t next, o = 12;
	(void)state;

	for (int i = 0; i < 5; i++) {
		m[o++] = 63;
		memset(m + o, 'x', 63);
		o += 63;
	}
	m[o++] = 0;
	assert_int_equal(dns_name_read(m, o, 12, t, sizeof(t), &next), DNS_NAME_TOO_LONG);
}

static void names_compare_case_insensitively(void **state)
{
	(void)state;
	assert_true(dns_name_equal("WWW.Example.com", "www.example.com."));
	assert_false(dns_name_equal("www.example.com", "www.example.org"));
}

static size_t put_rr(uint8_t *m, size_t o, const char *owner_ptr, uint16_t type, const void *rd, uint16_t rdlen)
{
	memcpy(m + o, owner_ptr, 2);
	o += 2;
	const uint8_t hdr[8] = { type >> 8, type & 0xff, 0, 1, 0, 0, 0x0e, 0x10 };
	memcpy(m + o, hdr, 8);
	o += 8;
	m[o++] = rdlen >> 8;
	m[o++] = rdlen & 0xff;
	memcpy(m + o, rd, rdlen);
	return o + rdlen;
}

static void query_builds_and_response_parses(void **state)
{
	uint8_t m[512];
	struct dns_query q = { .id = 0xbeef, .name = "example.test", .type = DNS_T_MX, .qclass = DNS_CLASS_IN,
			       .recurse = true, .edns_udp = 1232 };
	struct dns_msg msg;
	char err[200], out[4096];
	(void)state;

	int n = dns_query_build(&q, m, sizeof(m));
	assert_int_equal(n, 12 + 14 + 4 + 11);
	assert_int_equal(m[0], 0xbe);
	assert_int_equal(m[2], 0x01);	/* RD */
	assert_int_equal(dns_msg_parse(&msg, m, (size_t)n, err, sizeof(err)), 0);
	assert_true(msg.has_opt);
	assert_int_equal(msg.opt_udp, 1232);
	assert_false(dns_msg_answers(&msg, &q, err, sizeof(err)));	/* QR clear: a query */

	/* turn it into a response: QR RA, drop the OPT, add MX, TXT, SOA, CAA, A, unknown */
	m[2] = 0x81, m[3] = 0x80;
	size_t o = 12 + 14 + 4;
	m[7] = 6, m[11] = 0;
	o = put_rr(m, o, "\xc0\x0c", DNS_T_MX, "\0\x0a\4mail\xc0\x0c", 9);
	o = put_rr(m, o, "\xc0\x0c", DNS_T_TXT, "\5hello\3a\"b", 10);
	o = put_rr(m, o, "\xc0\x0c", DNS_T_SOA, "\3ns1\xc0\x0c\xc0\x0c\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5", 28);
	o = put_rr(m, o, "\xc0\x0c", DNS_T_CAA, "\0\5issue" "ca.test", 14);
	o = put_rr(m, o, "\xc0\x0c", DNS_T_A, "\xc0\0\2\1", 4);
	o = put_rr(m, o, "\xc0\x0c", 65280, "\x0a\0\0\1", 4);
	assert_int_equal(dns_msg_parse(&msg, m, o, err, sizeof(err)), 0);
	assert_true(dns_msg_answers(&msg, &q, err, sizeof(err)));
	assert_string_equal(msg.qname, "example.test.");

	const char *want[] = { "10 mail.example.test.", "\"hello\" \"a\\\"b\"",
			       "ns1.example.test. example.test. 1 2 3 4 5", "0 issue \"ca.test\"", "192.0.2.1",
			       "\\# 4 0A000001" };
	struct dns_iter it;
	struct dns_rr rr;
	size_t i = 0;
	dns_iter_init(&it, &msg, DNS_S_ANSWER);
	while (dns_iter_next(&it, &rr)) {
		assert_string_equal(rr.name, "example.test.");
		assert_int_equal(rr.ttl, 3600);
		assert_int_equal(dns_rdata_format(&msg, &rr, out, sizeof(out), err, sizeof(err)), 0);
		assert_string_equal(out, want[i]);
		i++;
	}
	assert_int_equal(i, 6);
	uint8_t a[4];
	assert_int_equal(dns_msg_first_addr(&msg, DNS_T_A, a), 0);
	assert_memory_equal(a, "\xc0\0\2\1", 4);

	/* the wrong ID, the wrong question */
	struct dns_query other = q;
	other.id = 1;
	assert_false(dns_msg_answers(&msg, &other, err, sizeof(err)));
	other = q;
	other.name = "example.org";
	assert_false(dns_msg_answers(&msg, &other, err, sizeof(err)));
	assert_non_null(strstr(err, "does not match"));
}

static void hostile_responses_are_refused_with_a_reason(void **state)
{
	uint8_t m[512];
	struct dns_query q = { .id = 7, .name = "x.test", .type = DNS_T_A, .qclass = DNS_CLASS_IN };
	struct dns_msg msg;
	char err[200];
	(void)state;

	int n = dns_query_build(&q, m, sizeof(m));
	m[2] = 0x80;
	/* ANCOUNT 1 but nothing follows */
	m[7] = 1;
	assert_int_equal(dns_msg_parse(&msg, m, (size_t)n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "answer record 1"));
	/* an answer whose owner name points at itself */
	size_t o = put_rr(m, (size_t)n, "\xc0\x18", DNS_T_A, "\1\2\3\4", 4);
	m[n] = 0xc0, m[n + 1] = (uint8_t)n;
	assert_int_equal(dns_msg_parse(&msg, m, o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "loop"));
	/* rdlength past the end */
	o = put_rr(m, (size_t)n, "\xc0\x0c", DNS_T_A, "\1\2\3\4", 4);
	m[o - 5] = 200;
	assert_int_equal(dns_msg_parse(&msg, m, o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "past the end"));
	/* A with 3 bytes, TXT whose lengths do not add up */
	o = put_rr(m, (size_t)n, "\xc0\x0c", DNS_T_A, "\1\2\3", 3);
	assert_int_equal(dns_msg_parse(&msg, m, o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not 4"));
	o = put_rr(m, (size_t)n, "\xc0\x0c", DNS_T_TXT, "\011abc", 4);
	assert_int_equal(dns_msg_parse(&msg, m, o, err, sizeof(err)), -1);
	/* a header alone, shorter than a header */
	assert_int_equal(dns_msg_parse(&msg, m, 5, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "12-byte header"));
}

static void type_names_round_trip(void **state)
{
	char b[16];
	(void)state;
	assert_int_equal(dns_type_parse("mx"), DNS_T_MX);
	assert_int_equal(dns_type_parse("CAA"), DNS_T_CAA);
	assert_int_equal(dns_type_parse("TYPE65280"), 65280);
	assert_int_equal(dns_type_parse("TYPE70000"), -1);
	assert_int_equal(dns_type_parse("bogus"), -1);
	assert_string_equal(dns_type_name(65280, b), "TYPE65280");
	assert_string_equal(dns_rcode_name(3, b), "NXDOMAIN");
}

static void reverse_names_for_v4_and_v6(void **state)
{
	char out[80];
	uint8_t v4[4] = { 10, 244, 1, 7 }, v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	(void)state;

	dns_reverse_name(AF_INET, v4, out, sizeof(out));
	assert_string_equal(out, "7.1.244.10.in-addr.arpa.");
	dns_reverse_name(AF_INET6, v6, out, sizeof(out));
	assert_string_equal(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.");
}

static void resolv_conf_parses_servers_search_and_options(void **state)
{
	struct resolv_conf rc;
	char ip[64];
	(void)state;

	resolv_conf_defaults(&rc);
	resolv_conf_parse("# pod resolv.conf\n"
			  "nameserver 10.96.0.10\n"
			  "nameserver 2001:db8::53 ; comment\n"
			  "nameserver not-an-ip\n"
			  "domain ignored.example\n"
			  "search default.svc.cluster.local svc.cluster.local cluster.local.\n"
			  "options ndots:5 timeout:2 attempts:9 rotate\n"
			  "nameserver 10.0.0.3\nnameserver 10.0.0.4\n",
			  &rc);
	assert_int_equal(rc.nns, 3);	/* MAXNS, as libc */
	inet_ntop(AF_INET, &((struct sockaddr_in *)&rc.ns[0])->sin_addr, ip, sizeof(ip));
	assert_string_equal(ip, "10.96.0.10");
	assert_int_equal(ntohs(((struct sockaddr_in *)&rc.ns[0])->sin_port), 53);
	assert_int_equal(rc.ns[1].ss_family, AF_INET6);
	assert_int_equal(rc.nsearch, 3);
	assert_string_equal(rc.search[0], "default.svc.cluster.local");
	assert_string_equal(rc.search[2], "cluster.local");	/* trailing dot dropped */
	assert_int_equal(rc.ndots, 5);
	assert_int_equal(rc.timeout_s, 2);
	assert_int_equal(rc.attempts, 5);	/* clamped as glibc does */
	assert_true(rc.timeout_set && rc.attempts_set);

	resolv_conf_defaults(&rc);
	resolv_conf_parse("search a.example\ndomain b.example\n", &rc);
	assert_int_equal(rc.nsearch, 1);	/* the last of search/domain wins */
	assert_string_equal(rc.search[0], "b.example");
	assert_int_equal(rc.ndots, 1);
	assert_int_equal(rc.timeout_s, 5);
	assert_false(rc.timeout_set || rc.attempts_set);
}

static void search_list_expands_like_libc(void **state)
{
	struct resolv_conf rc;
	char out[RESOLV_MAXSEARCH + 1][DNS_NAME_TEXT];
	(void)state;

	resolv_conf_defaults(&rc);
	resolv_conf_parse("search default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n", &rc);
	/* fewer dots than ndots: the search domains first, the name last */
	int n = resolv_search_names(&rc, "kubernetes", out, 9);
	assert_int_equal(n, 4);
	assert_string_equal(out[0], "kubernetes.default.svc.cluster.local.");
	assert_string_equal(out[3], "kubernetes.");
	/* the pod surprise: example.com (1 dot < 5) tries the cluster suffixes first */
	n = resolv_search_names(&rc, "www.example.com", out, 9);
	assert_int_equal(n, 4);
	assert_string_equal(out[0], "www.example.com.default.svc.cluster.local.");
	assert_string_equal(out[3], "www.example.com.");
	/* a trailing dot: only the name itself */
	n = resolv_search_names(&rc, "www.example.com.", out, 9);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "www.example.com.");
	/* ndots reached: the name first */
	rc.ndots = 1;
	n = resolv_search_names(&rc, "www.example.com", out, 9);
	assert_string_equal(out[0], "www.example.com.");
	assert_string_equal(out[1], "www.example.com.default.svc.cluster.local.");
	/* max bounds the output */
	assert_int_equal(resolv_search_names(&rc, "x", out, 2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_to_wire_encodes_labels_and_escapes),
		cmocka_unit_test(name_read_follows_pointers_and_refuses_loops),
		cmocka_unit_test(name_read_refuses_names_over_255_bytes),
		cmocka_unit_test(names_compare_case_insensitively),
		cmocka_unit_test(query_builds_and_response_parses),
		cmocka_unit_test(hostile_responses_are_refused_with_a_reason),
		cmocka_unit_test(type_names_round_trip),
		cmocka_unit_test(reverse_names_for_v4_and_v6),
		cmocka_unit_test(resolv_conf_parses_servers_search_and_options),
		cmocka_unit_test(search_list_expands_like_libc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
