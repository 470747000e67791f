/* Unit tests for retina trace's pure parts: reason names, filters, formatting. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "applets/trace/trace.h"
#include "net/addr.h"

/* A 6.4+ style kernel: core reasons, subsystems, and openvswitch's own enum. */
static void feed_kernel(struct reason_table *t)
{
	static const struct {
		const char *e, *n;
		int64_t v;
	} in[] = {
		{ "skb_drop_reason", "SKB_NOT_DROPPED_YET", 0 },
		{ "skb_drop_reason", "SKB_CONSUMED", 1 },
		{ "skb_drop_reason", "SKB_DROP_REASON_NOT_SPECIFIED", 2 },
		{ "skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET", 3 },
		{ "skb_drop_reason", "SKB_DROP_REASON_NETFILTER_DROP", 9 },
		{ "skb_drop_reason", "SKB_DROP_REASON_MAX", 128 },
		{ "skb_drop_reason", "SKB_DROP_REASON_SUBSYS_MASK", 0xffff0000 },
		{ "skb_drop_reason_subsys", "SKB_DROP_REASON_SUBSYS_CORE", 0 },
		{ "skb_drop_reason_subsys", "SKB_DROP_REASON_SUBSYS_MAC80211_UNUSABLE", 1 },
		{ "skb_drop_reason_subsys", "SKB_DROP_REASON_SUBSYS_OPENVSWITCH", 2 },
		{ "skb_drop_reason_subsys", "SKB_DROP_REASON_SUBSYS_NUM", 3 },
		{ "ovs_drop_reason", "OVS_DROP_LAST_ACTION", 2 << 16 | 1 },
		{ "ovs_drop_reason", "OVS_DROP_MAX", 2 << 16 | 9 },
		{ "mac80211_drop_reason", "RX_CONTINUE", 0 },
		{ "mac80211_drop_reason", "RX_QUEUED", 1 },
		{ "some_other_enum", "SKB_DROP_REASON_BOGUS", 77 },
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_true(reason_add(t, in[i].e, in[i].n, in[i].v) >= 0);
}

static void reason_names_follow_the_kernel_enums(void **state)
{
	struct reason_table t = { 0 };
	char buf[64];
	(void)state;

	feed_kernel(&t);
	assert_string_equal(reason_name(&t, 0, buf, sizeof(buf)), "NOT_DROPPED_YET");
	assert_string_equal(reason_name(&t, 1, buf, sizeof(buf)), "CONSUMED");
	assert_string_equal(reason_name(&t, 3, buf, sizeof(buf)), "NO_SOCKET");
	assert_string_equal(reason_name(&t, 9, buf, sizeof(buf)), "NETFILTER_DROP");
	/* markers are not reasons; a number the enum lacks is shown as a number */
	assert_string_equal(reason_name(&t, 128, buf, sizeof(buf)), "#128");
	assert_string_equal(reason_name(&t, 77, buf, sizeof(buf)), "#77");
	/* 6.4+ subsystem encoding: (subsystem << 16) | n */
	assert_string_equal(reason_name(&t, 2 << 16 | 1, buf, sizeof(buf)), "OVS_DROP_LAST_ACTION");
	assert_string_equal(reason_name(&t, 2 << 16 | 9, buf, sizeof(buf)), "OVS_DROP_MAX");
	assert_string_equal(reason_name(&t, 2 << 16 | 7, buf, sizeof(buf)), "OPENVSWITCH#7");
	assert_string_equal(reason_name(&t, 1 << 16 | 3, buf, sizeof(buf)), "MAC80211_UNUSABLE#3");
	assert_string_equal(reason_name(&t, 9 << 16 | 3, buf, sizeof(buf)), "#589827");
	/* mac80211's non-drop results do not shadow core reasons 0 and 1 */
	assert_int_equal(t.n, 7);
	/* where a subsystem's own enum lives: its module's BTF */
	assert_int_equal(t.nsubsys, 3);
	assert_string_equal(subsys_module(t.subsys[1].name, buf, sizeof(buf)), "mac80211");
	assert_string_equal(subsys_module(t.subsys[2].name, buf, sizeof(buf)), "openvswitch");
	assert_string_equal(subsys_module("CORE", buf, 3), "co");
	reason_free(&t);
}

static void reason_codes_accept_any_case_and_prefix(void **state)
{
	struct reason_table t = { 0 };
	(void)state;

	feed_kernel(&t);
	assert_int_equal(reason_code(&t, "NO_SOCKET"), 3);
	assert_int_equal(reason_code(&t, "netfilter_drop"), 9);
	assert_int_equal(reason_code(&t, "SKB_DROP_REASON_NETFILTER_DROP"), 9);
	assert_int_equal(reason_code(&t, "SKB_CONSUMED"), 1);
	assert_int_equal(reason_code(&t, "ovs_drop_last_action"), 2 << 16 | 1);
	assert_int_equal(reason_code(&t, "MAX"), -1);
	assert_int_equal(reason_code(&t, "SKB_DROP_REASON_"), -1);
	assert_int_equal(reason_code(&t, ""), -1);
	reason_free(&t);
}

static void rst_reasons_strip_their_prefix(void **state)
{
	struct reason_table t = { 0 };
	char buf[64];
	(void)state;

	assert_int_equal(reason_add(&t, "sk_rst_reason", "SK_RST_REASON_NOT_SPECIFIED", 0), 1);
	assert_int_equal(reason_add(&t, "sk_rst_reason", "SK_RST_REASON_NO_SOCKET", 1), 1);
	assert_int_equal(reason_add(&t, "sk_rst_reason", "SK_RST_REASON_MAX", 30), 0);
	assert_string_equal(reason_name(&t, 1, buf, sizeof(buf)), "NO_SOCKET");
	reason_free(&t);
}

static void tcp_states_and_protocols_have_names(void **state)
{
	char buf[16];
	(void)state;

	assert_string_equal(tcp_state_name(1, buf), "ESTABLISHED");
	assert_string_equal(tcp_state_name(2, buf), "SYN_SENT");
	assert_string_equal(tcp_state_name(12, buf), "NEW_SYN_RECV");
	assert_string_equal(tcp_state_name(0, buf), "STATE#0");
	assert_string_equal(tcp_state_name(99, buf), "STATE#99");
	assert_string_equal(proto_name(IPPROTO_UDP), "udp");
	assert_null(proto_name(253));
}

static void filters_become_masked_words(void **state)
{
	struct trace_net n;
	(void)state;

	assert_int_equal(trace_net_parse("10.1.2.3", false, &n), 0);
	assert_int_equal(n.family, AF_INET);
	assert_int_equal(n.addr[0], htonl(0x0a010203));
	assert_int_equal(n.mask[0], 0xffffffff);
	assert_int_equal(trace_net_parse("10.1.0.0/16", true, &n), 0);
	assert_int_equal(n.addr[0], htonl(0x0a010000));
	assert_int_equal(n.mask[0], htonl(0xffff0000));
	assert_int_equal(trace_net_parse("2001:db8::/36", true, &n), 0);
	assert_int_equal(n.family, AF_INET6);
	assert_int_equal(n.mask[0], 0xffffffff);
	assert_int_equal(n.mask[1], htonl(0xf0000000));
	assert_int_equal(n.mask[2], 0);
	assert_int_equal(n.addr[0], htonl(0x20010db8));
	assert_int_equal(trace_net_parse("::/0", true, &n), 0);
	assert_int_equal(n.mask[0] | n.mask[3], 0);
	assert_int_equal(trace_net_parse("fd00::1", false, &n), 0);
	assert_int_equal(n.mask[3], 0xffffffff);
	assert_int_equal(n.addr[3], htonl(1));
	/* an IPv4-mapped address is the IPv4 address it maps */
	assert_int_equal(trace_net_parse("::ffff:192.0.2.1", false, &n), 0);
	assert_int_equal(n.family, AF_INET);
	assert_int_equal(n.addr[0], htonl(0xc0000201));
	assert_int_equal(trace_net_parse("::ffff:192.0.2.0/120", true, &n), 0);
	assert_int_equal(n.family, AF_INET);
	assert_int_equal(n.mask[0], htonl(0xffffff00));
	/* --ip takes no prefix, --cidr needs one */
	assert_int_equal(trace_net_parse("10.0.0.0/8", false, &n), -1);
	assert_int_equal(trace_net_parse("10.0.0.1", true, &n), -1);
	assert_int_equal(trace_net_parse("10.0.0.0/33", true, &n), -1);
	assert_int_equal(trace_net_parse("2001:db8::/129", true, &n), -1);
	assert_int_equal(trace_net_parse("", false, &n), -1);
}

static struct trace_event v4_event(void)
{
	struct trace_event e = { .type = TT_DROP, .reason = 9, .family = AF_INET, .proto = IPPROTO_TCP,
				 .sport = 40000, .dport = 443, .pid = 42, .netns = 4026531840u, .ifindex = 3 };
	uint8_t s[4] = { 192, 0, 2, 1 }, d[4] = { 192, 0, 2, 2 };
	memcpy(e.saddr, s, 4);
	memcpy(e.daddr, d, 4);
	strcpy(e.comm, "cu\"rl\\\n");
	strcpy(e.ifname, "eth0");
	return e;
}

static void rows_and_json_say_the_same(void **state)
{
	struct reason_table drop = { 0 };
	struct trace_names nm = { &drop, NULL, NULL };
	struct trace_event e = v4_event();
	uint64_t wall = 1795311205ull * 1000000000ull + 852126494ull;	/* 2026-11-22T01:33:25.852126494Z */
	char buf[1024];
	(void)state;

	feed_kernel(&drop);
	format_row(&nm, &e, wall, buf, sizeof(buf));
	assert_string_equal(buf, "01:33:25.852  DROP      NETFILTER_DROP            kfree_skb             "
				 "192.0.2.1:40000 -> 192.0.2.2:443");
	format_header(buf, sizeof(buf));
	assert_non_null(strstr(buf, "TIME          TYPE      REASON                    PROBE                 SRC -> DST\n---"));
	/* the text renderer (kubectl retina bpftrace) prints the same row, and a NODE column */
	char same[1024];
	struct trace_row r = { "node-a", "01:33:25.852", "DROP", "NETFILTER_DROP", "kfree_skb", "192.0.2.1:40000",
			       "192.0.2.2:443" };
	format_row(&nm, &e, wall, buf, sizeof(buf));
	format_row_text(&r, 0, same, sizeof(same));
	assert_string_equal(same, buf);
	format_row_text(&r, 7, same, sizeof(same));
	assert_string_equal(same + 9, buf);
	assert_memory_equal(same, "node-a   ", 9);
	format_header_node(same, sizeof(same), 7);
	assert_non_null(strstr(same, "NODE     TIME          TYPE"));
	assert_int_equal(strlen(strchr(same, '\n') + 1), strchr(same, '\n') - same);	/* the rule spans it */
	format_json(&nm, &e, wall, buf, sizeof(buf));
	assert_string_equal(buf, "{\"time\":1795311205.852126494,\"ts\":\"2026-11-22T01:33:25.852126494Z\","
				 "\"type\":\"DROP\",\"reason_code\":9,\"reason\":\"NETFILTER_DROP\",\"probe\":\"kfree_skb\","
				 "\"proto\":\"tcp\",\"src_ip\":\"192.0.2.1\",\"src_port\":40000,\"dst_ip\":\"192.0.2.2\","
				 "\"dst_port\":443,\"pid\":42,\"comm\":\"cu\\\"rl\\\\\\u000a\",\"netns\":4026531840,"
				 "\"ifindex\":3,\"ifname\":\"eth0\"}");
	reason_free(&drop);
}

static void endpoints_of_v6_portless_and_unknown(void **state)
{
	struct trace_event e = { .family = AF_INET6, .proto = IPPROTO_UDP, .sport = 53, .dport = 5353 };
	char buf[SOCKADDR_STRLEN];
	(void)state;

	e.saddr[0] = 0x20, e.saddr[1] = 0x01, e.saddr[2] = 0x0d, e.saddr[3] = 0xb8, e.saddr[15] = 1;
	assert_string_equal(format_endpoint(&e, true, buf, sizeof(buf)), "[2001:db8::1]:53");
	assert_string_equal(format_endpoint(&e, false, buf, sizeof(buf)), "[::]:5353");
	/* a v4-mapped address of a dual-stack socket prints as IPv4 */
	memset(e.daddr, 0, 16);
	e.daddr[10] = e.daddr[11] = 0xff, e.daddr[12] = 192, e.daddr[15] = 9;
	assert_string_equal(format_endpoint(&e, false, buf, sizeof(buf)), "192.0.0.9:5353");
	e.proto = IPPROTO_ICMPV6;
	assert_string_equal(format_endpoint(&e, true, buf, sizeof(buf)), "2001:db8::1");
	e.family = 0;
	assert_string_equal(format_endpoint(&e, true, buf, sizeof(buf)), "-");
}

static void reasons_by_event_type(void **state)
{
	struct trace_names nm = { NULL, NULL, NULL };
	struct trace_event e = { .type = TT_SOCK_ERR, .reason = 111 };
	char buf[64];
	(void)state;

	assert_string_equal(event_reason(&nm, &e, buf, sizeof(buf)), "ECONNREFUSED");
	e.reason = 110;
	assert_string_equal(event_reason(&nm, &e, buf, sizeof(buf)), "ETIMEDOUT");
	e.type = TT_RETRANS, e.reason = 1;
	assert_string_equal(event_reason(&nm, &e, buf, sizeof(buf)), "ESTABLISHED");
	e.type = TT_RST_SENT;	/* a kernel before 6.10 has no RST reasons */
	assert_string_equal(event_reason(&nm, &e, buf, sizeof(buf)), "-");
	e.type = TT_DROP;	/* nor drop reasons before 5.17 */
	assert_string_equal(event_reason(&nm, &e, buf, sizeof(buf)), "-");
}

static void json_of_an_event_without_addresses_is_still_valid(void **state)
{
	struct reason_table drop = { 0 };
	struct trace_names nm = { &drop, NULL, NULL };
	struct trace_event e = { .type = TT_DROP, .reason = 3 };
	char buf[1024], small[8];
	(void)state;

	assert_int_equal(reason_add(&drop, "skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET", 4), 1);
	format_json(&nm, &e, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"reason\":\"#3\",\"probe\":\"kfree_skb\",\"proto\":0,\"src_ip\":null"));
	assert_null(strstr(buf, "pid"));
	format_json(&nm, &e, 0, small, sizeof(small));
	assert_string_equal(small, "{}");
	reason_free(&drop);
}

/*
 * Before 5.17 a DROP has no reason: its location (kfree_skb's caller) is
 * named from kallsyms and fills the REASON column; with reasons it is added
 * to the JSON beside them. Raw address when the symbol is unknown.
 */
static void drop_location_named_in_json_and_reason_column(void **state)
{
	static const char syms[] = "ffffffff81000000 T _stext\n"
				   "ffffffff81a00000 T tcp_v4_rcv\n"
				   "ffffffff81a01000 t tcp_v4_fill_cb\n"
				   "ffffffffc0200000 t nft_do_chain\t[nf_tables]\n";
	struct ksyms k = { 0 };
	struct reason_table drop = { 0 };
	struct trace_names old = { NULL, NULL, &k }, now = { &drop, NULL, &k };
	struct trace_event e = v4_event();
	char buf[1024], lbuf[64];
	FILE *f = fmemopen((void *)syms, strlen(syms), "r");
	(void)state;

	assert_non_null(f);
	assert_int_equal(ksyms_load(&k, f), 0);
	fclose(f);
	e.location = 0xffffffff81a001a2ull;
	e.reason = 0;
	format_row(&old, &e, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "DROP      tcp_v4_rcv+0x1a2          kfree_skb"));
	format_json(&old, &e, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"reason_code\":0,\"reason\":\"-\",\"location\":\"tcp_v4_rcv+0x1a2\",\"probe\""));
	/* with reasons: the reason in the column, both in JSON */
	feed_kernel(&drop);
	e.reason = 9;
	e.location = 0xffffffffc020046full;
	format_row(&now, &e, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "DROP      NETFILTER_DROP            kfree_skb"));
	format_json(&now, &e, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"reason\":\"NETFILTER_DROP\",\"location\":\"nft_do_chain+0x46f [nf_tables]\","));
	/* no symbols (kallsyms hidden): the raw address; no location at all: no field */
	now.ksyms = NULL;
	assert_string_equal(event_location(&now, &e, lbuf, sizeof(lbuf)), "0xffffffffc020046f");
	e.location = 0;
	assert_null(event_location(&now, &e, lbuf, sizeof(lbuf)));
	format_json(&now, &e, 0, buf, sizeof(buf));
	assert_null(strstr(buf, "location"));
	/* only DROPs carry one */
	e.location = 0xffffffff81a001a2ull, e.type = TT_RETRANS;
	assert_null(event_location(&old, &e, lbuf, sizeof(lbuf)));
	ksyms_free(&k);
	reason_free(&drop);
	/* before 5.17: handled packets freed through kfree_skb, by function */
	assert_true(location_not_a_drop("icmpv6_rcv+0x3c0"));
	assert_true(location_not_a_drop("ip6_mc_input+0x1f"));
	assert_false(location_not_a_drop("icmpv6_rcv_other+0x1"));
	assert_false(location_not_a_drop("tcp_v4_rcv+0x1a2"));
	assert_false(location_not_a_drop("0xffffffff81a001a2"));
}

static void counts_per_type_and_reason(void **state)
{
	static struct trace_counts c;
	struct trace_event e = { .type = TT_DROP, .reason = 3 };
	(void)state;

	counts_add(&c, &e);
	counts_add(&c, &e);
	e.reason = 9;
	counts_add(&c, &e);
	e.type = TT_RETRANS;
	counts_add(&c, &e);
	e.type = 200;
	counts_add(&c, &e);
	assert_int_equal(c.per_type[TT_DROP], 3);
	assert_int_equal(c.per_type[TT_RETRANS], 1);
	assert_int_equal(c.nreasons, 3);
	assert_int_equal(c.per_reason[0].n, 2);
	for (uint32_t r = 100; r < 400; r++) {
		e.type = TT_DROP, e.reason = r;
		counts_add(&c, &e);
	}
	assert_int_equal(c.nreasons, 256);
	assert_int_equal(c.overflow, 300 - 253);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reason_names_follow_the_kernel_enums),
		cmocka_unit_test(reason_codes_accept_any_case_and_prefix),
		cmocka_unit_test(rst_reasons_strip_their_prefix),
		cmocka_unit_test(tcp_states_and_protocols_have_names),
		cmocka_unit_test(filters_become_masked_words),
		cmocka_unit_test(rows_and_json_say_the_same),
		cmocka_unit_test(endpoints_of_v6_portless_and_unknown),
		cmocka_unit_test(reasons_by_event_type),
		cmocka_unit_test(json_of_an_event_without_addresses_is_still_valid),
		cmocka_unit_test(counts_per_type_and_reason),
		cmocka_unit_test(drop_location_named_in_json_and_reason_column),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
