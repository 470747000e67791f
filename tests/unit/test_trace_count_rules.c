/* Unit tests for --count's pure parts: the count table, its table and JSON output, and the JSON read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applets/trace/trace_count.h"

static struct count_key key(const char *reason, unsigned dport)
{
	struct count_key k = { .netns = 4026531840u, .ifindex = 2, .dport = dport };

	snprintf(k.type, sizeof(k.type), "DROP");
	snprintf(k.reason, sizeof(k.reason), "%s", reason);
	snprintf(k.location, sizeof(k.location), "nft_do_chain+0x46f");
	snprintf(k.ifname, sizeof(k.ifname), "eth0");
	snprintf(k.proto, sizeof(k.proto), "udp");
	return k;
}

/* What f got, as a string the test frees. */
static char *text_of(void (*fill)(void *arg, FILE *f), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fill(arg, f);
	fclose(f);
	return buf;
}

struct table_arg {
	const struct count_table *t;
	struct count_view v;
};

static void fill_table(void *arg, FILE *f)
{
	const struct table_arg *a = arg;
	count_print_table(a->t, &a->v, f);
}

static void add_set_tick_keep_totals_and_deltas(void **state)
{
	struct count_table t = { 0 };
	struct count_key a = key("NETFILTER_DROP", 53), b = key("NO_SOCKET", 9);
	(void)state;

	assert_int_equal(count_table_add(&t, "", &a, 5), 0);
	assert_int_equal(count_table_add(&t, "", &b, 2), 0);
	assert_int_equal(count_table_add(&t, "", &a, 1), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.v[0].total, 6);
	assert_int_equal(t.v[0].delta, 6);
	assert_int_equal(t.total, 8);
	count_table_tick(&t);
	assert_int_equal(t.v[0].delta, 0);
	assert_int_equal(t.delta, 0);
	/* set: a running total from the kernel; only growth counts, a smaller one is old news */
	assert_int_equal(count_table_set(&t, "", &a, 10), 0);
	assert_int_equal(count_table_set(&t, "", &a, 7), 0);
	assert_int_equal(t.v[0].total, 10);
	assert_int_equal(t.v[0].delta, 4);
	assert_int_equal(t.total, 12);
	/* the same key on another node is another entry */
	assert_int_equal(count_table_add(&t, "node-b", &a, 3), 0);
	assert_int_equal(t.n, 3);
	count_table_free(&t);
	assert_int_equal(t.n, 0);
}

static void table_sorts_by_interval_and_cuts_at_top(void **state)
{
	struct count_table t = { 0 };
	struct count_key a = key("NETFILTER_DROP", 53), b = key("NO_SOCKET", 9), c = key("TCP_CSUM", 0);
	(void)state;

	count_table_add(&t, "", &a, 1000);
	count_table_add(&t, "", &c, 1);
	count_table_tick(&t);
	count_table_add(&t, "", &b, 30);
	count_table_add(&t, "", &a, 10);
	struct table_arg arg = { &t, { .title = "12:00:00 UTC, last 2.0s", .secs = 2, .by_delta = true, .top = 2 } };
	char *s = text_of(fill_table, &arg);
	const char *want =
		"12:00:00 UTC, last 2.0s: 40 events (20.0/s)\n"
		"       COUNT      RATE/s  TYPE      REASON                   PROTO DPORT IFACE           NETNS      LOCATION\n"
		"          30        15.0  DROP      NO_SOCKET                udp   9     eth0            4026531840 nft_do_chain+0x46f\n"
		"        1010         5.0  DROP      NETFILTER_DROP           udp   53    eth0            4026531840 nft_do_chain+0x46f\n";
	/* idle keys (TCP_CSUM) are not listed in an interval; no port is "-" */
	assert_string_equal(s, want);
	free(s);
	/* totals: by total, every key; --top 1 says how many more */
	arg.v = (struct count_view){ .title = "totals over 10.0s", .secs = 10, .top = 1 };
	s = text_of(fill_table, &arg);
	assert_non_null(strstr(s, "totals over 10.0s: 1041 events (104.1/s)\n"));
	assert_non_null(strstr(s, "        1010       101.0  DROP      NETFILTER_DROP "));
	assert_non_null(strstr(s, "(2 more keys; --top shows more)\n"));
	assert_null(strstr(s, "NO_SOCKET"));
	free(s);
	/* nothing at all */
	struct count_table empty = { 0 };
	arg.t = &empty;
	s = text_of(fill_table, &arg);
	assert_non_null(strstr(s, "(no events)\n"));
	free(s);
	count_table_free(&t);
}

static void several_nodes_get_a_node_column_and_a_total_row(void **state)
{
	struct count_table t = { 0 };
	struct count_key a = key("NETFILTER_DROP", 53), b = key("NO_SOCKET", 9);
	(void)state;

	count_table_add(&t, "node-b", &a, 30);
	count_table_add(&t, "node-a", &a, 10);
	count_table_add(&t, "node-a", &b, 5);
	struct table_arg arg = { &t, { .title = "t", .secs = 1, .by_delta = true, .node_col = true } };
	char *s = text_of(fill_table, &arg);
	const char *lines[] = { "t: 45 events (45.0/s)", "NODE                        COUNT      RATE/s  TYPE",
				"node-a                         10        10.0  DROP      NETFILTER_DROP",
				"node-b                         30        30.0  DROP      NETFILTER_DROP",
				"*                              40        40.0  DROP      NETFILTER_DROP",
				"node-a                          5         5.0  DROP      NO_SOCKET" };
	char *p = s;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_true(!strncmp(p, lines[i], strlen(lines[i])));
		p = strchr(p, '\n') + 1;
	}
	assert_string_equal(p, "");	/* a key on one node has no "*" row */
	free(s);
	count_table_free(&t);
}

struct json_arg {
	const struct count_table *t;
	bool final;
};

static void fill_json(void *arg, FILE *f)
{
	const struct json_arg *a = arg;
	count_print_json(a->t, "2026-12-05T07:50:01.000000000Z", a->final ? 10 : 0.5, a->final, 3, f);
}

static void json_has_deltas_then_totals_and_reads_back(void **state)
{
	struct count_table t = { 0 }, back = { 0 };
	struct count_key a = key("NETFILTER_DROP", 53), b = key("NO_\"SOCKET\\", 9);
	(void)state;

	count_table_add(&t, "", &a, 100);
	count_table_add(&t, "", &b, 1);
	count_table_tick(&t);
	count_table_add(&t, "", &a, 7);
	t.unkeyed_delta = t.unkeyed_total = 2;
	struct json_arg arg = { &t, false };
	char *s = text_of(fill_json, &arg);
	assert_string_equal(s, "{\"type\":\"COUNTS\",\"ts\":\"2026-12-05T07:50:01.000000000Z\",\"final\":false,"
			       "\"interval_s\":0.500,\"events\":7,\"rate\":14.0,\"unkeyed\":2,\"keys\":[{\"type\":\"DROP\","
			       "\"reason\":\"NETFILTER_DROP\",\"location\":\"nft_do_chain+0x46f\",\"netns\":4026531840,"
			       "\"ifindex\":2,\"ifname\":\"eth0\",\"proto\":\"udp\",\"dport\":53,\"count\":7,\"rate\":14.0}]}\n");
	/* the plugin reads it back: the deltas add up under the node */
	assert_int_equal(count_parse_json(&back, "n1", s), 1);
	assert_int_equal(count_parse_json(&back, "n1", s), 1);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.v[0].node, "n1");
	assert_int_equal(back.v[0].total, 14);
	assert_int_equal(back.unkeyed_total, 4);
	free(s);
	arg.final = true;
	s = text_of(fill_json, &arg);
	assert_non_null(strstr(s, "\"final\":true,\"duration_s\":10.000,\"events\":108,\"rate\":10.8,\"unkeyed\":2,"
				  "\"lost\":0,\"missed\":3,\"keys\":["));
	assert_non_null(strstr(s, "\"reason\":\"NO_\\\"SOCKET\\\\\""));	/* escaped, and read back as it was */
	/* a final line sets totals: exact even where intervals were missed; unkeyed not added twice */
	assert_int_equal(count_parse_json(&back, "n1", s), 2);
	assert_int_equal(back.n, 2);
	assert_int_equal(back.v[0].total, 107);
	assert_string_equal(back.v[1].k.reason, "NO_\"SOCKET\\");
	assert_int_equal(back.v[1].total, 1);
	assert_int_equal(back.unkeyed_total, 4);
	free(s);
	count_table_free(&t);
	count_table_free(&back);
}

static void malformed_counts_lines_add_nothing(void **state)
{
	struct count_table t = { 0 };
	static const char *const bad[] = {
		"{\"type\":\"COUNTS\",\"unkeyed\":0}",	/* no keys */
		"{\"type\":\"COUNTS\",\"unkeyed\":-1,\"keys\":[]}",
		/* the second key is broken: the first is not added either */
		"{\"type\":\"COUNTS\",\"unkeyed\":0,\"keys\":[{\"type\":\"DROP\",\"reason\":\"R\",\"location\":\"\","
		"\"netns\":1,\"ifindex\":1,\"ifname\":\"e\",\"proto\":\"udp\",\"dport\":1,\"count\":5},{\"type\":\"DROP\"}]}",
		"{\"type\":\"COUNTS\",\"unkeyed\":0,\"keys\":[{\"type\":\"DROP\",\"reason\":\"R\",\"location\":\"\","
		"\"netns\":1,\"ifindex\":1,\"ifname\":\"e\",\"proto\":\"udp\",\"dport\":70000,\"count\":5}]}",
		"{\"type\":\"COUNTS\",\"unkeyed\":0,\"keys\":[{\"type\":\"DROP\",\"reason\":\"R\",\"location\":\"\","
		"\"netns\":1,\"ifindex\":1,\"ifname\":\"e\",\"proto\":\"udp\",\"dport\":1,\"count\":1.5}]}",
		"{\"type\":\"COUNTS\",\"unkeyed\":0,\"keys\":[{\"type\":\"DROP\",\"reason\":\"R\",\"location\":\"\","
		"\"netns\":1,\"ifindex\":1,\"ifname\":\"e\",\"proto\":\"udp\",\"dport\":1,\"count\":1e300}]}",
		"{\"type\":\"COUNTS\",\"unkeyed\":0,\"keys\":[{\"type\":\"DROP\",\"reason\":\"R\",\"location\":\"\","
		"\"netns\":1,\"ifindex\":1,\"ifname\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\",\"proto\":\"udp\","
		"\"dport\":1,\"count\":1}]}",
		"{\"type\":\"COUNTS\",\"unkeyed\":0,\"keys\":[1]}",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(count_parse_json(&t, "n", bad[i]), -1);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.total, 0);
	/* not a COUNTS object at all: 0 */
	assert_int_equal(count_parse_json(&t, "n", "retina trace: attached DROP"), 0);
	assert_int_equal(count_parse_json(&t, "n", "{\"type\":\"STATS\"}"), 0);
	assert_int_equal(count_parse_json(&t, "n", "{\"type\":\"COUNTS\""), 0);
	/* control characters from a pod become blanks */
	assert_int_equal(count_parse_json(&t, "n",
					  "{\"type\":\"COUNTS\",\"unkeyed\":0,\"keys\":[{\"type\":\"DROP\",\"reason\":"
					  "\"R\\u001b[2J\",\"location\":\"\",\"netns\":1,\"ifindex\":1,\"ifname\":\"e\","
					  "\"proto\":\"udp\",\"dport\":1,\"count\":2}]}"),
			 1);
	assert_string_equal(t.v[0].k.reason, "R [2J");
	count_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_set_tick_keep_totals_and_deltas),
		cmocka_unit_test(table_sorts_by_interval_and_cuts_at_top),
		cmocka_unit_test(several_nodes_get_a_node_column_and_a_total_row),
		cmocka_unit_test(json_has_deltas_then_totals_and_reads_back),
		cmocka_unit_test(malformed_counts_lines_add_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
