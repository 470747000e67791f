/*
 * Unit tests for retina trace --nft's netlink: the batch that adds the
 * tracing table (walked back attribute by attribute), the parser of trace
 * messages (well-formed, truncated and lying lengths), and the match of a
 * drop verdict to a DROP event.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applets/trace/trace.h"

#define NFT(m) ((NFNL_SUBSYS_NFTABLES << 8) | (m))

/* A trace message, built here the way the kernel builds it. */
struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put(struct msg *m, const void *v, size_t n)
{
	memcpy(m->b + m->n, v, n);
	m->n += (n + 3) & ~3u;
}

static void add_attr(struct msg *m, uint16_t type, const void *v, size_t n)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + n, .nla_type = type };
	put(m, &a, sizeof(a));
	put(m, v, n);
}

static void add_be32(struct msg *m, uint16_t type, uint32_t v)
{
	v = htonl(v);
	add_attr(m, type, &v, 4);
}

static size_t begin(struct msg *m, uint8_t family)
{
	struct nlmsghdr h = { .nlmsg_type = NFT(NFT_MSG_TRACE) };
	struct nfgenmsg g = { .nfgen_family = family };
	size_t at = m->n;
	put(m, &h, sizeof(h));
	put(m, &g, sizeof(g));
	return at;
}

static void end(struct msg *m, size_t at)
{
	((struct nlmsghdr *)(m->b + at))->nlmsg_len = m->n - at;
}

static const uint8_t ip4[20] = { 0x45, 0, 0, 33, 0, 0, 0x40, 0, 64, IPPROTO_UDP, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2 };
static const uint8_t udp[8] = { 0x9c, 0x40, 0x1f, 0x9b, 0, 13, 0, 0 };	/* 40000 -> 8091 */

/* A rule's drop: table, chain, handle, verdict, headers. */
static void rule_drop(struct msg *m, uint32_t id, bool headers)
{
	size_t at = begin(m, NFPROTO_INET);
	uint32_t hl[2] = { htonl(0), htonl(5) };
	uint8_t verdict[16];
	struct nlattr va = { .nla_len = 8, .nla_type = NFTA_VERDICT_CODE };
	uint32_t code = htonl(NF_DROP);

	add_attr(m, NFTA_TRACE_TABLE, "t", 2);
	add_attr(m, NFTA_TRACE_CHAIN, "input", 6);
	add_be32(m, NFTA_TRACE_ID, id);
	add_be32(m, NFTA_TRACE_TYPE, NFT_TRACETYPE_RULE);
	add_attr(m, NFTA_TRACE_RULE_HANDLE, hl, 8);
	memcpy(verdict, &va, 4);
	memcpy(verdict + 4, &code, 4);
	add_attr(m, NFTA_TRACE_VERDICT | NLA_F_NESTED, verdict, 8);
	if (headers) {
		add_attr(m, NFTA_TRACE_NETWORK_HEADER, ip4, sizeof(ip4));
		add_attr(m, NFTA_TRACE_TRANSPORT_HEADER, udp, sizeof(udp));
	}
	end(m, at);
}

static struct nft_trace seen[8];
static int nseen;

static void collect(void *ctx, const struct nft_trace *t)
{
	(void)ctx;
	if (nseen < 8)
		seen[nseen++] = *t;
}

static void rule_drop_is_parsed_and_matched(void **state)
{
	struct msg m = { .n = 0 };
	struct trace_event e = { .family = AF_INET, .proto = IPPROTO_UDP, .sport = 40000, .dport = 8091 };
	char buf[128];

	(void)state;
	rule_drop(&m, 0xabcd, true);
	nseen = 0;
	assert_int_equal(nft_parse_datagram(m.b, m.n, collect, NULL), 1);
	const struct nft_trace *t = &seen[0];
	assert_string_equal(t->table, "t");
	assert_string_equal(t->chain, "input");
	assert_true(t->has_handle);
	assert_int_equal(t->handle, 5);
	assert_int_equal(t->id, 0xabcd);
	assert_true(nft_trace_is_drop(t));
	assert_true(t->has_pkt);
	assert_int_equal(t->sport, 40000);
	assert_int_equal(t->dport, 8091);
	assert_string_equal(nft_trace_format(t, buf, sizeof(buf)), "table inet t chain input handle 5 drop");
	memcpy(e.saddr, ip4 + 12, 4);
	memcpy(e.daddr, ip4 + 16, 4);
	assert_true(nft_trace_matches(t, &e));
	e.dport = 8092;
	assert_false(nft_trace_matches(t, &e));
	e.dport = 8091;
	e.daddr[3] = 3;
	assert_false(nft_trace_matches(t, &e));
	e.daddr[3] = 2;
	e.family = AF_INET6;
	assert_false(nft_trace_matches(t, &e));
}

static void policy_drop_and_other_messages(void **state)
{
	struct msg m = { .n = 0 };
	char buf[128];

	(void)state;
	/* policy: no handle, no verdict attribute, the policy instead */
	size_t at = begin(&m, NFPROTO_IPV4);
	add_attr(&m, NFTA_TRACE_TABLE, "filter", 7);
	add_attr(&m, NFTA_TRACE_CHAIN, "INPUT", 6);
	add_be32(&m, NFTA_TRACE_TYPE, NFT_TRACETYPE_POLICY);
	add_be32(&m, NFTA_TRACE_POLICY, NF_DROP);
	end(&m, at);
	/* an accepting policy, and a message of another type in the same datagram */
	at = begin(&m, NFPROTO_IPV4);
	add_attr(&m, NFTA_TRACE_TABLE, "filter", 7);
	add_be32(&m, NFTA_TRACE_TYPE, NFT_TRACETYPE_POLICY);
	add_be32(&m, NFTA_TRACE_POLICY, NF_ACCEPT);
	end(&m, at);
	struct nlmsghdr other = { .nlmsg_len = 20, .nlmsg_type = NFT(NFT_MSG_NEWGEN) };
	put(&m, &other, sizeof(other));
	put(&m, "\0\0\0\0", 4);
	nseen = 0;
	assert_int_equal(nft_parse_datagram(m.b, m.n, collect, NULL), 2);
	assert_true(nft_trace_is_drop(&seen[0]));
	assert_false(seen[0].has_pkt);
	assert_string_equal(nft_trace_format(&seen[0], buf, sizeof(buf)), "table ip filter chain INPUT policy drop");
	assert_false(nft_trace_is_drop(&seen[1]));
	assert_string_equal(nft_family_name(NFPROTO_IPV6), "ip6");
}

static void hostile_messages_are_refused_or_cut(void **state)
{
	struct msg m = { .n = 0 };

	(void)state;
	rule_drop(&m, 1, true);
	/* every truncation of a good datagram: never read past it (ASan), never more than one */
	for (size_t n = 0; n <= m.n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, m.b, n);
		nseen = 0;
		int got = nft_parse_datagram(copy, n, collect, NULL);
		assert_true(got <= 1);
		free(copy);
	}
	/* an attribute claiming more than there is: parsing stops there */
	struct msg bad = { .n = 0 };
	size_t at = begin(&bad, NFPROTO_INET);
	add_attr(&bad, NFTA_TRACE_TABLE, "t", 2);
	struct nlattr liar = { .nla_len = 400, .nla_type = NFTA_TRACE_CHAIN };
	put(&bad, &liar, sizeof(liar));
	end(&bad, at);
	nseen = 0;
	assert_int_equal(nft_parse_datagram(bad.b, bad.n, collect, NULL), 1);
	assert_string_equal(seen[0].chain, "");
	/* a name with quotes and control bytes is made printable */
	struct msg odd = { .n = 0 };
	at = begin(&odd, NFPROTO_INET);
	add_attr(&odd, NFTA_TRACE_TABLE, "a\"b\n\\c", 7);
	end(&odd, at);
	nseen = 0;
	assert_int_equal(nft_parse_datagram(odd.b, odd.n, collect, NULL), 1);
	assert_string_equal(seen[0].table, "a?b??c");
	/* a header length below its own size */
	struct nlmsghdr tiny = { .nlmsg_len = 4, .nlmsg_type = NFT(NFT_MSG_TRACE) };
	assert_int_equal(nft_parse_datagram((uint8_t *)&tiny, sizeof(tiny), collect, NULL), -1);
}

/* Walk a batch: message types in order, each attribute inside its message. */
static int walk(const uint8_t *b, size_t n, uint16_t *types, int max)
{
	int k = 0;
	size_t off = 0;

	while (off < n) {
		struct nlmsghdr h;
		memcpy(&h, b + off, sizeof(h));
		assert_true(h.nlmsg_len >= sizeof(h) && off + h.nlmsg_len <= n);
		assert_int_equal(h.nlmsg_len % 4, 0);
		if (k < max)
			types[k] = h.nlmsg_type;
		k++;
		size_t a = off + sizeof(h) + sizeof(struct nfgenmsg);
		while (a < off + h.nlmsg_len) {
			struct nlattr at;
			memcpy(&at, b + a, sizeof(at));
			assert_true(at.nla_len >= 4 && a + at.nla_len <= off + h.nlmsg_len);
			a += (at.nla_len + 3) & ~3u;
		}
		assert_int_equal(a, off + h.nlmsg_len);
		off += h.nlmsg_len;
	}
	return k;
}

static void setup_batch_adds_table_chains_and_rules(void **state)
{
	uint8_t b[2048];
	uint16_t types[16];

	(void)state;
	size_t n = nft_build_setup(b, sizeof(b), 100, true);
	assert_true(n > 0);
	assert_int_equal(walk(b, n, types, 16), 7);
	const uint16_t want[] = { NFNL_MSG_BATCH_BEGIN, NFT(NFT_MSG_NEWTABLE), NFT(NFT_MSG_NEWCHAIN),
				  NFT(NFT_MSG_NEWRULE),	 NFT(NFT_MSG_NEWCHAIN),	 NFT(NFT_MSG_NEWRULE),
				  NFNL_MSG_BATCH_END };
	assert_memory_equal(types, want, sizeof(want));
	assert_non_null(memmem(b, n, NFT_TRACE_TABLE, strlen(NFT_TRACE_TABLE)));
	assert_non_null(memmem(b, n, "immediate", 9));
	uint32_t owner = htonl(NFT_TABLE_F_OWNER);
	assert_non_null(memmem(b, n, &owner, 4));
	size_t without = nft_build_setup(b, sizeof(b), 100, false);
	assert_int_equal(without, n - 8);
	/* too small by any amount: nothing */
	for (size_t len = 0; len < n; len += 7)
		assert_int_equal(nft_build_setup(b, len, 100, true), 0);
	n = nft_build_get(b, sizeof(b), 9, true, NFPROTO_INET, "t", "input");
	assert_int_equal(walk(b, n, types, 16), 1);
	assert_int_equal(types[0], NFT(NFT_MSG_GETCHAIN));
	assert_int_equal(nft_build_get(b, n - 1, 9, true, NFPROTO_INET, "t", "input"), 0);
	n = nft_build_deltable(b, sizeof(b), 7);
	assert_int_equal(walk(b, n, types, 16), 3);
	assert_int_equal(types[1], NFT(NFT_MSG_DELTABLE));
}

/* The kernel's answer to a GETCHAIN: a NEWCHAIN message with the handle, then an ack. */
static void handles_come_from_the_answer_to_our_request(void **state)
{
	struct msg m = { .n = 0 };
	struct nlmsghdr h = { .nlmsg_type = NFT(NFT_MSG_NEWCHAIN), .nlmsg_seq = 42 };
	struct nfgenmsg g = { .nfgen_family = NFPROTO_INET };
	uint32_t handle[2] = { htonl(0), htonl(3) };
	uint64_t got = 0;
	char buf[128];

	(void)state;
	put(&m, &h, sizeof(h));
	put(&m, &g, sizeof(g));
	add_attr(&m, NFTA_CHAIN_TABLE, "t", 2);
	add_attr(&m, NFTA_CHAIN_HANDLE, handle, 8);
	((struct nlmsghdr *)m.b)->nlmsg_len = m.n;
	assert_int_equal(nft_parse_handle(m.b, m.n, 41, &got), 0);	/* not ours */
	assert_int_equal(nft_parse_handle(m.b, m.n, 42, &got), 1);
	assert_int_equal(got, 3);
	for (size_t n = 0; n < m.n; n++)
		assert_true(nft_parse_handle(m.b, n, 42, &got) <= 0);
	/* refused: ENOENT for a chain deleted meanwhile */
	struct msg e = { .n = 0 };
	struct nlmsghdr eh = { .nlmsg_len = 36, .nlmsg_type = NLMSG_ERROR, .nlmsg_seq = 42 };
	int err = -ENOENT;
	put(&e, &eh, sizeof(eh));
	put(&e, &err, 4);
	put(&e, &h, sizeof(h));
	assert_int_equal(nft_parse_handle(e.b, e.n, 42, &got), -ENOENT);

	struct nft_trace t = { .nfproto = NFPROTO_INET, .table = "t", .chain = "input", .has_handle = true,
			       .handle = 5, .type = NFT_TRACETYPE_RULE, .table_handle = 1, .chain_handle = 3 };
	assert_string_equal(nft_trace_format(&t, buf, sizeof(buf)), "table inet t (1) chain input (3) handle 5 drop");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rule_drop_is_parsed_and_matched),
		cmocka_unit_test(policy_drop_and_other_messages),
		cmocka_unit_test(hostile_messages_are_refused_or_cut),
		cmocka_unit_test(setup_batch_adds_table_chains_and_rules),
		cmocka_unit_test(handles_come_from_the_answer_to_our_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
