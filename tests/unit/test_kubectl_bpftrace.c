/*
 * kubectl retina bpftrace's line handling (applets/kubectl_bpftrace_rules.c):
 * events rendered as the tracer's table or JSON with "node", STATS lines
 * taken as counts and never shown, the tracer's words to stderr, the summary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "applets/kubectl/kubectl_bpftrace.h"
#include "applets/trace/trace.h"
#include "lib/base64.h"

#define EVENT "{\"time\":1.0,\"ts\":\"2026-11-22T01:30:04.123456789Z\",\"type\":\"DROP\",\"reason_code\":3," \
	      "\"reason\":\"NO_SOCKET\",\"probe\":\"kfree_skb\",\"proto\":\"tcp\",\"src_ip\":\"2001:db8::1\"," \
	      "\"src_port\":40000,\"dst_ip\":\"2001:db8::2\",\"dst_port\":9,\"netns\":4026531840}"

struct cap {
	char *out, *err;
	size_t outlen, errlen;
	FILE *o, *e;
};

static void cap_open(struct cap *c)
{
	memset(c, 0, sizeof(*c));
	c->o = open_memstream(&c->out, &c->outlen);
	c->e = open_memstream(&c->err, &c->errlen);
}

static void cap_close(struct cap *c)
{
	fclose(c->o);
	fclose(c->e);
}

static void cap_free(struct cap *c)
{
	free(c->out);
	free(c->err);
}

static void table_rows_match_the_tracer(void **state)
{
	struct bt_stream s = { .node = "node-a" };
	struct bt_render r = { .json = false, .node_width = 7 };
	struct cap c;
	char want[512];
	(void)state;

	cap_open(&c);
	assert_int_equal(bt_handle_line(&s, &r, EVENT, c.o, c.e), BT_EVENT);
	cap_close(&c);
	struct trace_row row = { "node-a", "01:30:04.123", "DROP", "NO_SOCKET", "kfree_skb", "[2001:db8::1]:40000",
				 "[2001:db8::2]:9" };
	format_row_text(&row, 7, want, sizeof(want));
	strcat(want, "\n");
	assert_string_equal(c.out, want);
	assert_string_equal(c.err, "");
	assert_int_equal(s.events, 1);
	cap_free(&c);
}

/* A 5.10 node's DROP has no reason: the row shows its location, as the tracer's own table does. */
static void row_of_a_drop_without_reason_shows_its_location(void **state)
{
	struct bt_stream s = { .node = "node-a" };
	struct bt_render r = { .json = false, .node_width = 7 };
	struct cap c;
	(void)state;

	cap_open(&c);
	assert_int_equal(bt_handle_line(&s, &r, "{\"ts\":\"2026-11-22T01:30:04.123456789Z\",\"type\":\"DROP\","
					    "\"reason\":\"-\",\"location\":\"tcp_v4_rcv+0x62\",\"probe\":\"kfree_skb\"}",
					 c.o, c.e),
			 BT_EVENT);
	cap_close(&c);
	assert_non_null(strstr(c.out, "DROP      tcp_v4_rcv+0x62           kfree_skb"));
	cap_free(&c);
}

static void json_gains_the_node_and_stats_stay_inside(void **state)
{
	struct bt_stream s = { .node = "node-a" };
	struct bt_render r = { .json = true };
	struct cap c;
	(void)state;

	cap_open(&c);
	assert_int_equal(bt_handle_line(&s, &r, EVENT, c.o, c.e), BT_EVENT);
	assert_int_equal(bt_handle_line(&s, &r,
					"{\"type\":\"STATS\",\"events\":1,\"lost\":5,\"lost_by_type\":{\"DROP\":5},"
					"\"final\":false}", c.o, c.e), BT_STATS);
	/* the same count again: said once */
	assert_int_equal(bt_handle_line(&s, &r, "{\"type\":\"STATS\",\"events\":1,\"lost\":5,\"lost_by_type\":{\"DROP\":5}}",
					c.o, c.e), BT_STATS);
	assert_int_equal(bt_handle_line(&s, &r, "retina trace: attached\x1b[2J DROP", c.o, c.e), BT_TEXT);
	/* runs of control characters, first and last: one blank each */
	assert_int_equal(bt_handle_line(&s, &r, "\x1b\x01x\x7f\ty\r", c.o, c.e), BT_TEXT);
	assert_int_equal(bt_handle_line(&s, &r, "", c.o, c.e), BT_EMPTY);
	cap_close(&c);
	/* the tracer's line as it came, "node" added: nothing reordered or reformatted */
	assert_memory_equal(c.out, EVENT, strlen(EVENT) - 1);
	assert_string_equal(c.out + strlen(EVENT) - 1, ",\"node\":\"node-a\"}\n");
	assert_null(strstr(c.out, "STATS"));
	assert_string_equal(c.err, "node-a: 5 events lost so far (the tracer's ring buffer was full)\n"
				   "node-a: retina trace: attached [2J DROP\n"
				   "node-a:   x  y \n");
	assert_int_equal(s.lost, 5);
	assert_int_equal(s.stats_lines, 2);
	cap_free(&c);
}

/* "node" is the plugin's: whatever the pod sent under that key is replaced, once (fuzz_bpftrace_lines) */
static void json_node_from_the_pod_is_replaced(void **state)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
		{ "{\"node\":1.0,\"type\":\"DROP\"}", "{\"type\":\"DROP\",\"node\":\"node-a\"}\n" },
		{ "{\"type\":\"DROP\",\"node\":\"evil\",\"node\":{\"x\":[]}}", "{\"type\":\"DROP\",\"node\":\"node-a\"}\n" },
		{ "{\"type\":\"X\",\"Node\":2}", "{\"type\":\"X\",\"Node\":2,\"node\":\"node-a\"}\n" },
	};
	struct bt_stream s = { .node = "node-a" };
	struct bt_render r = { .json = true };
	struct cap c;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cap_open(&c);
		assert_int_equal(bt_handle_line(&s, &r, cases[i].line, c.o, c.e), BT_EVENT);
		cap_close(&c);
		assert_string_equal(c.out, cases[i].want);
		assert_string_equal(c.err, "");
		cap_free(&c);
	}
}

static void summary_counts_by_type_reason_and_lost(void **state)
{
	struct bt_stream s = { .node = "node-a" };
	struct bt_render r = { .json = true };
	struct cap c;
	(void)state;

	cap_open(&c);
	bt_handle_line(&s, &r, EVENT, c.o, c.e);
	bt_handle_line(&s, &r, EVENT, c.o, c.e);
	bt_handle_line(&s, &r, "{\"type\":\"RST_SENT\",\"reason\":\"NO_SOCKET\"}", c.o, c.e);
	bt_handle_line(&s, &r, "{\"type\":\"STATS\",\"events\":4,\"lost\":9,\"lost_by_type\":{\"DROP\":2,\"RETRANS\":7}}",
		       c.o, c.e);
	cap_close(&c);
	cap_free(&c);
	/* trailing blanks, and a line that is more than one object, are handled */
	cap_open(&c);
	bt_handle_line(&s, &r, "{\"type\":\"X\"} \x01\t", c.o, c.e);
	assert_int_equal(bt_handle_line(&s, &r, "{\"type\":\"X\"}{}", c.o, c.e), BT_TEXT);
	cap_close(&c);
	assert_string_equal(c.out, "{\"type\":\"X\",\"node\":\"node-a\"}\n");
	cap_free(&c);
	s.events -= 1, s.n -= 1;	/* forget X */
	cap_open(&c);
	bt_print_summary(&s, "kubectl-retina bpftrace", 2.0, NULL, c.e);
	cap_close(&c);
	assert_string_equal(c.err, "kubectl-retina bpftrace: node node-a: 2.0s, 3 events, 9 lost (ring buffer full)\n"
				   "  DROP      2 (+2 lost)\n"
				   "    NO_SOCKET                    2\n"
				   "  RST_SENT  1\n"
				   "    NO_SOCKET                    1\n"
				   "  RETRANS   0 (+7 lost)\n"
				   "  (1 events the tracer sent did not arrive here)\n");
	cap_free(&c);
	/* no STATS ever: the lost count is unknown, and a failure is named */
	struct bt_stream none = { .node = "node-b" };
	cap_open(&c);
	bt_print_summary(&none, "x", 1.0, "pod deleted", c.e);
	cap_close(&c);
	assert_string_equal(c.err, "x: node node-b: 1.0s, 0 events, lost unknown (the tracer's counts never arrived); "
				   "FAILED: pod deleted\n");
	cap_free(&c);
}

/* --nft's rule, then --stack's frames under the row, as retina trace prints them; the pod's text sanitised */
static void nft_and_stack_render_under_the_row(void **state)
{
	struct bt_stream s = { .node = "node-a" };
	struct bt_render r = { .json = false };
	struct cap c;
	char line[1024];
	(void)state;

	snprintf(line, sizeof(line), "%.*s,\"nft\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":\"in\\u001bput\","
		 "\"table_handle\":1,\"chain_handle\":2,\"handle\":5,\"verdict\":\"drop\"},"
		 "\"stack\":[\"kfree_skb_reason+0x1\",\"nft_do_chain+0x2c [nf_tables]\"],\"stack_cut\":4,"
		 "\"stack_reused\":true}",
		 (int)strlen(EVENT) - 1, EVENT);
	cap_open(&c);
	assert_int_equal(bt_handle_line(&s, &r, line, c.o, c.e), BT_EVENT);
	/* a policy drop (no handle), family ip; junk in place of an object shows nothing */
	snprintf(line, sizeof(line), "%.*s,\"nft\":{\"family\":\"ip\",\"table\":\"filter\",\"chain\":\"INPUT\","
		 "\"policy\":\"drop\"}}", (int)strlen(EVENT) - 1, EVENT);
	assert_int_equal(bt_handle_line(&s, &r, line, c.o, c.e), BT_EVENT);
	snprintf(line, sizeof(line), "%.*s,\"nft\":7,\"stack\":{\"a\":1}}", (int)strlen(EVENT) - 1, EVENT);
	assert_int_equal(bt_handle_line(&s, &r, line, c.o, c.e), BT_EVENT);
	cap_close(&c);
	const char *first = strchr(c.out, '\n');
	assert_non_null(first);
	const char *want = "\n    nft: table inet t (1) chain in put (2) handle 5 drop\n"
			   "    kfree_skb_reason+0x1\n    nft_do_chain+0x2c [nf_tables]\n"
			   "    ... (--stack-depth 4: the walk stopped there)\n"
			   "    (this site's stack, walked by an earlier event: --stack-rate)\n";
	assert_memory_equal(first, want, strlen(want));
	assert_non_null(strstr(c.out, "\n    nft: table ip filter chain INPUT policy drop\n"));
	/* three rows, six lines under the first two */
	size_t n = 0;
	for (const char *p = c.out; *p; p++)
		n += *p == '\n';
	assert_int_equal(n, 3 + 5 + 1);
	cap_free(&c);
}

static void packet_suffix_is_cut_only_when_it_ends_the_line(void **state)
{
	static const char *ok = "{\"type\":\"DROP\",\"a\":\",\\\"packet_len\\\":1\",\"packet_len\":60,\"packet\":\"RQA+/w==\"}";
	(void)state;

	assert_int_equal(bt_packet_suffix(ok, strlen(ok)), strstr(ok, ",\"packet_len\":60") - ok);
	const char *bad[] = {
		"{\"type\":\"DROP\",\"packet_len\":60,\"packet\":\"RQ\\nA\"}",	/* not base64 */
		"{\"type\":\"DROP\",\"packet_len\":60,\"packet\":\"RQA\",\"x\":1}",	/* not last */
		"{\"type\":\"DROP\",\"packet_len\":,\"packet\":\"RQA\"}",		/* no length */
		"{\"type\":\"DROP\",\"packet_len\":99999999999,\"packet\":\"RQA\"}",	/* > 10 digits */
		"{\"type\":\"DROP\",\"packet\":\"RQA\",\"packet_len\":6}",		/* other order */
		"{\"type\":\"DROP\",\"packet_len\":6",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(bt_packet_suffix(bad[i], strlen(bad[i])), -1);
}

static void ts_parses_to_epoch_ns(void **state)
{
	uint64_t ns = 0;
	(void)state;

	assert_int_equal(bt_parse_ts("2026-11-22T01:30:04.123456789Z", &ns), 0);
	assert_true(ns == 1795311004123456789ull);	/* date -u -d 2026-11-22T01:30:04Z +%s: 1795311004 */
	assert_int_equal(bt_parse_ts("1970-01-01T00:00:00Z", &ns), 0);
	assert_true(ns == 0);
	assert_int_equal(bt_parse_ts("2000-02-29T23:59:59.5Z", &ns), 0);
	assert_true(ns == 951868799500000000ull);
	assert_int_equal(bt_parse_ts("2026-13-01T00:00:00Z", &ns), -1);
	assert_int_equal(bt_parse_ts("2026-11-22 01:30:04Z", &ns), -1);
	assert_int_equal(bt_parse_ts("2026-11-22T01:30:04.1+01:00", &ns), -1);
	assert_int_equal(bt_parse_ts("-", &ns), -1);
}

struct got {
	int n;
	uint64_t ts;
	uint32_t ifid, caplen, origlen;
	uint8_t data[8];
	char comment[256];
};

static void got_packet(void *ctx, struct bt_stream *s, const struct bt_packet *p)
{
	struct got *g = ctx;
	g->n++;
	g->ts = p->ts_ns;
	g->ifid = s->ifid;
	g->caplen = p->caplen;
	g->origlen = p->origlen;
	memcpy(g->data, p->data, p->caplen < 8 ? p->caplen : 8);
	snprintf(g->comment, sizeof(g->comment), "%s", p->comment);
}

/* -w: the packet to the writer with the node in its comment; the JSON line on without it */
static void packets_go_to_the_writer_not_to_stdout(void **state)
{
	struct bt_stream s = { .node = "node-b", .ifid = 1 };
	struct got g = { 0 };
	struct bt_render r = { .json = true, .packet = got_packet, .packet_ctx = &g };
	const uint8_t pkt[] = { 0x45, 0, 0, 60, 1, 2, 3 };
	char b64[16], line[1024];
	struct cap c;
	(void)state;

	assert_int_equal(base64_encode_to(b64, pkt, sizeof(pkt)), BASE64_LEN(sizeof(pkt)));
	assert_string_equal(b64, "RQAAPAECAw==");
	snprintf(line, sizeof(line), "%.*s,\"ifindex\":3,\"ifname\":\"v\\u0001b\",\"packet_len\":60,\"packet\":\"%s\"}",
		 (int)strlen(EVENT) - 1, EVENT, b64);
	cap_open(&c);
	assert_int_equal(bt_handle_line(&s, &r, line, c.o, c.e), BT_EVENT);
	r.json = false;	/* the table: no trace of the packet either */
	assert_int_equal(bt_handle_line(&s, &r, line, c.o, c.e), BT_EVENT);
	r.json = true;	/* not base64: counted, not written; the line still goes out */
	snprintf(line, sizeof(line), "%.*s,\"packet_len\":60,\"packet\":\"R!==\"}", (int)strlen(EVENT) - 1, EVENT);
	assert_int_equal(bt_handle_line(&s, &r, line, c.o, c.e), BT_EVENT);
	cap_close(&c);
	assert_int_equal(g.n, 2);
	assert_int_equal(s.packets, 2);
	assert_int_equal(s.bad_packets, 1);
	assert_int_equal(g.ifid, 1);
	assert_int_equal(g.caplen, sizeof(pkt));
	assert_int_equal(g.origlen, 60);
	assert_memory_equal(g.data, pkt, sizeof(pkt));
	assert_true(g.ts == 1795311004123456789ull);
	assert_string_equal(g.comment, "node=node-b type=DROP reason=NO_SOCKET probe=kfree_skb netns=4026531840 ifname=v?b");
	char want[1024];
	snprintf(want, sizeof(want), "%.*s,\"ifindex\":3,\"ifname\":\"v\\u0001b\",\"node\":\"node-b\"}\n",
		 (int)strlen(EVENT) - 1, EVENT);
	assert_memory_equal(c.out, want, strlen(want));
	assert_null(strstr(c.out, "packet"));
	cap_free(&c);
	/* the pod's words in the comment stay printable; no ts: time 0 */
	cap_open(&c);
	assert_int_equal(bt_handle_line(&s, &r, "{\"ts\":\"x\",\"type\":\"DROP\",\"reason\":\"A\\u001bB\","
					"\"packet_len\":1,\"packet\":\"RQ==\"}", c.o, c.e), BT_EVENT);
	cap_close(&c);
	assert_string_equal(g.comment, "node=node-b type=DROP reason=A?B probe=-");
	assert_true(g.ts == 0 && g.caplen == 1 && g.data[0] == 0x45);
	assert_string_equal(c.out, "{\"ts\":\"x\",\"type\":\"DROP\",\"reason\":\"A\\u001bB\",\"node\":\"node-b\"}\n");
	cap_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_rows_match_the_tracer),
		cmocka_unit_test(row_of_a_drop_without_reason_shows_its_location),
		cmocka_unit_test(nft_and_stack_render_under_the_row),
		cmocka_unit_test(packet_suffix_is_cut_only_when_it_ends_the_line),
		cmocka_unit_test(ts_parses_to_epoch_ns),
		cmocka_unit_test(packets_go_to_the_writer_not_to_stdout),
		cmocka_unit_test(json_gains_the_node_and_stats_stay_inside),
		cmocka_unit_test(json_node_from_the_pod_is_replaced),
		cmocka_unit_test(summary_counts_by_type_reason_and_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
