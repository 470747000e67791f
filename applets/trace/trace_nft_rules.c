/*
 * retina trace --nft, the pure parts: the nf_tables netlink messages that add
 * (and remove) the tracing table, the parser of NFT_MSG_TRACE messages (what
 * `nft monitor trace` reads), and the match of a trace verdict to a DROP
 * event by packet headers. No sockets here: unit-tested and fuzzed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "applets/trace/trace.h"

#define NLA_ALIGN4(n) (((n) + 3u) & ~3u)

/* ---- building messages ---------------------------------------------------- */

struct nlbuf {
	uint8_t *p;
	size_t len, used;
	bool overflow;
	size_t nest[4];
	int depth;
};

static void *nb_put(struct nlbuf *b, const void *v, size_t n)
{
	size_t pad = NLA_ALIGN4(n) - n;

	if (b->overflow || n + pad > b->len - b->used) {
		b->overflow = true;
		return NULL;
	}
	void *at = b->p + b->used;
	if (v)
		memcpy(at, v, n);
	else
		memset(at, 0, n);
	memset(b->p + b->used + n, 0, pad);
	b->used += n + pad;
	return at;
}

static void attr(struct nlbuf *b, uint16_t type, const void *v, size_t n)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + n, .nla_type = type };

	nb_put(b, &a, sizeof(a));
	nb_put(b, v, n);
}

static void attr_str(struct nlbuf *b, uint16_t type, const char *s)
{
	attr(b, type, s, strlen(s) + 1);
}

static void attr_be32(struct nlbuf *b, uint16_t type, uint32_t v)
{
	v = htonl(v);
	attr(b, type, &v, 4);
}

static void nest_begin(struct nlbuf *b, uint16_t type)
{
	struct nlattr a = { .nla_len = 0, .nla_type = type | NLA_F_NESTED };

	if (b->depth < 4)
		b->nest[b->depth] = b->used;
	b->depth++;
	nb_put(b, &a, sizeof(a));
}

static void nest_end(struct nlbuf *b)
{
	b->depth--;
	if (b->overflow || b->depth < 0 || b->depth >= 4)
		return;
	struct nlattr *a = (struct nlattr *)(b->p + b->nest[b->depth]);
	a->nla_len = b->used - b->nest[b->depth];
}

static size_t msg_begin(struct nlbuf *b, uint16_t type, uint16_t flags, uint32_t seq, uint8_t family,
			uint16_t res_id)
{
	struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | flags, .nlmsg_seq = seq };
	struct nfgenmsg g = { .nfgen_family = family, .version = NFNETLINK_V0, .res_id = htons(res_id) };
	size_t at = b->used;

	nb_put(b, &h, sizeof(h));
	nb_put(b, &g, sizeof(g));
	return at;
}

static void msg_end(struct nlbuf *b, size_t at)
{
	if (!b->overflow)
		((struct nlmsghdr *)(b->p + at))->nlmsg_len = b->used - at;
}

#define NFT_TYPE(msg) ((NFNL_SUBSYS_NFTABLES << 8) | (msg))

/* A base chain on hook that sets nftrace on every packet, before anything else. */
static void chain_and_rule(struct nlbuf *b, uint32_t *seq, const char *table, const char *chain, uint32_t hook)
{
	size_t m = msg_begin(b, NFT_TYPE(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_ACK, (*seq)++, NFPROTO_INET, 0);
	attr_str(b, NFTA_CHAIN_TABLE, table);
	attr_str(b, NFTA_CHAIN_NAME, chain);
	nest_begin(b, NFTA_CHAIN_HOOK);
	attr_be32(b, NFTA_HOOK_HOOKNUM, hook);
	attr_be32(b, NFTA_HOOK_PRIORITY, (uint32_t)NFT_TRACE_PRIORITY);
	nest_end(b);
	attr_be32(b, NFTA_CHAIN_POLICY, NF_ACCEPT);
	attr_str(b, NFTA_CHAIN_TYPE, "filter");
	msg_end(b, m);

	/* meta nftrace set 1: [ immediate reg 1 0x01 ] [ meta set nftrace with reg 1 ] */
	const uint8_t one = 1;
	m = msg_begin(b, NFT_TYPE(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, (*seq)++, NFPROTO_INET,
		      0);
	attr_str(b, NFTA_RULE_TABLE, table);
	attr_str(b, NFTA_RULE_CHAIN, chain);
	nest_begin(b, NFTA_RULE_EXPRESSIONS);
	nest_begin(b, NFTA_LIST_ELEM);
	attr_str(b, NFTA_EXPR_NAME, "immediate");
	nest_begin(b, NFTA_EXPR_DATA);
	attr_be32(b, NFTA_IMMEDIATE_DREG, NFT_REG_1);
	nest_begin(b, NFTA_IMMEDIATE_DATA);
	attr(b, NFTA_DATA_VALUE, &one, 1);
	nest_end(b);
	nest_end(b);
	nest_end(b);
	nest_begin(b, NFTA_LIST_ELEM);
	attr_str(b, NFTA_EXPR_NAME, "meta");
	nest_begin(b, NFTA_EXPR_DATA);
	attr_be32(b, NFTA_META_KEY, NFT_META_NFTRACE);
	attr_be32(b, NFTA_META_SREG, NFT_REG_1);
	nest_end(b);
	nest_end(b);
	nest_end(b);
	msg_end(b, m);
}

size_t nft_build_setup(uint8_t *buf, size_t len, uint32_t seq, bool owner)
{
	struct nlbuf b = { buf, len, 0, false, { 0 }, 0 };
	size_t m;

	m = msg_begin(&b, NFNL_MSG_BATCH_BEGIN, 0, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	msg_end(&b, m);
	/* NLM_F_EXCL: a table of that name already there is an error, never reused */
	m = msg_begin(&b, NFT_TYPE(NFT_MSG_NEWTABLE), NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq++, NFPROTO_INET, 0);
	attr_str(&b, NFTA_TABLE_NAME, NFT_TRACE_TABLE);
	/* owned by this socket (5.12+): the kernel removes it when retina ends, even by SIGKILL */
	if (owner)
		attr_be32(&b, NFTA_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	msg_end(&b, m);
	chain_and_rule(&b, &seq, NFT_TRACE_TABLE, "prerouting", NF_INET_PRE_ROUTING);
	chain_and_rule(&b, &seq, NFT_TRACE_TABLE, "output", NF_INET_LOCAL_OUT);
	m = msg_begin(&b, NFNL_MSG_BATCH_END, 0, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	msg_end(&b, m);
	return b.overflow || b.depth ? 0 : b.used;
}

size_t nft_build_deltable(uint8_t *buf, size_t len, uint32_t seq)
{
	struct nlbuf b = { buf, len, 0, false, { 0 }, 0 };
	size_t m;

	m = msg_begin(&b, NFNL_MSG_BATCH_BEGIN, 0, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	msg_end(&b, m);
	m = msg_begin(&b, NFT_TYPE(NFT_MSG_DELTABLE), NLM_F_ACK, seq++, NFPROTO_INET, 0);
	attr_str(&b, NFTA_TABLE_NAME, NFT_TRACE_TABLE);
	msg_end(&b, m);
	m = msg_begin(&b, NFNL_MSG_BATCH_END, 0, seq++, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
	msg_end(&b, m);
	return b.overflow ? 0 : b.used;
}

size_t nft_build_get(uint8_t *buf, size_t len, uint32_t seq, bool chain, uint8_t nfproto, const char *table,
		     const char *chain_name)
{
	struct nlbuf b = { buf, len, 0, false, { 0 }, 0 };
	size_t m = msg_begin(&b, NFT_TYPE(chain ? NFT_MSG_GETCHAIN : NFT_MSG_GETTABLE), NLM_F_ACK, seq, nfproto, 0);

	if (chain) {
		attr_str(&b, NFTA_CHAIN_TABLE, table);
		attr_str(&b, NFTA_CHAIN_NAME, chain_name);
	} else {
		attr_str(&b, NFTA_TABLE_NAME, table);
	}
	msg_end(&b, m);
	return b.overflow ? 0 : b.used;
}

/* ---- parsing trace messages ------------------------------------------------ */

/* The next attribute of [p, end): false at the end or on a malformed one. */
static bool next_attr(const uint8_t **p, const uint8_t *end, uint16_t *type, const uint8_t **val, size_t *vlen)
{
	struct nlattr a;

	if (end - *p < (ptrdiff_t)sizeof(a))
		return false;
	memcpy(&a, *p, sizeof(a));
	if (a.nla_len < sizeof(a) || a.nla_len > end - *p)
		return false;
	*type = a.nla_type & NLA_TYPE_MASK;
	*val = *p + sizeof(a);
	*vlen = a.nla_len - sizeof(a);
	size_t step = NLA_ALIGN4(a.nla_len);
	*p = step > (size_t)(end - *p) ? end : *p + step;
	return true;
}

static bool get_be32(const uint8_t *v, size_t n, uint32_t *out)
{
	if (n < 4)
		return false;
	memcpy(out, v, 4);
	*out = ntohl(*out);
	return true;
}

static void get_str(const uint8_t *v, size_t n, char *out, size_t len)
{
	size_t i = 0;

	/* names are the ruleset author's: printable ASCII only, cut to fit */
	for (; i < n && i + 1 < len && v[i]; i++)
		out[i] = v[i] > ' ' && v[i] < 0x7f && v[i] != '"' && v[i] != '\\' ? v[i] : '?';
	out[i] = '\0';
}

static void parse_network(struct nft_trace *t, const uint8_t *v, size_t n)
{
	if (n >= 20 && v[0] >> 4 == 4) {
		t->family = AF_INET;
		t->proto = v[9];
		memcpy(t->saddr, v + 12, 4);
		memcpy(t->daddr, v + 16, 4);
		t->has_pkt = true;
	} else if (n >= 40 && v[0] >> 4 == 6) {
		t->family = AF_INET6;
		t->proto = v[6];
		memcpy(t->saddr, v + 8, 16);
		memcpy(t->daddr, v + 24, 16);
		t->has_pkt = true;
	}
}

int nft_trace_parse(const uint8_t *msg, size_t len, struct nft_trace *t)
{
	const uint8_t *p = msg + sizeof(struct nfgenmsg), *end = msg + len, *val;
	const uint8_t *l4 = NULL;
	size_t vlen, l4len = 0;
	uint16_t type;
	struct nfgenmsg g;

	memset(t, 0, sizeof(*t));
	if (len < sizeof(g))
		return -1;
	memcpy(&g, msg, sizeof(g));
	t->nfproto = g.nfgen_family;
	while (next_attr(&p, end, &type, &val, &vlen)) {
		uint32_t v32;
		switch (type) {
		case NFTA_TRACE_TABLE: get_str(val, vlen, t->table, sizeof(t->table)); break;
		case NFTA_TRACE_CHAIN: get_str(val, vlen, t->chain, sizeof(t->chain)); break;
		case NFTA_TRACE_RULE_HANDLE:
			if (vlen >= 8) {
				uint32_t hi, lo;
				memcpy(&hi, val, 4);
				memcpy(&lo, val + 4, 4);
				t->handle = (uint64_t)ntohl(hi) << 32 | ntohl(lo);
				t->has_handle = true;
			}
			break;
		case NFTA_TRACE_TYPE:
			if (get_be32(val, vlen, &v32))
				t->type = v32;
			break;
		case NFTA_TRACE_ID:
			if (get_be32(val, vlen, &v32))
				t->id = v32;
			break;
		case NFTA_TRACE_POLICY:
			if (get_be32(val, vlen, &v32)) {
				t->verdict = v32;
				t->has_verdict = true;
			}
			break;
		case NFTA_TRACE_VERDICT: {
			const uint8_t *q = val, *qend = val + vlen, *qv;
			size_t qlen;
			uint16_t qt;
			while (next_attr(&q, qend, &qt, &qv, &qlen))
				if (qt == NFTA_VERDICT_CODE && get_be32(qv, qlen, &v32)) {
					t->verdict = (int32_t)v32;
					t->has_verdict = true;
				}
			break;
		}
		case NFTA_TRACE_NETWORK_HEADER: parse_network(t, val, vlen); break;
		case NFTA_TRACE_TRANSPORT_HEADER:
			l4 = val;
			l4len = vlen;
			break;
		}
	}
	if (t->has_pkt && l4 && l4len >= 4 &&
	    (t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP || t->proto == IPPROTO_SCTP)) {
		t->sport = (uint16_t)l4[0] << 8 | l4[1];
		t->dport = (uint16_t)l4[2] << 8 | l4[3];
	}
	return t->table[0] ? 0 : -1;
}

int nft_parse_datagram(const uint8_t *buf, size_t len, nft_trace_cb cb, void *ctx)
{
	const uint8_t *p = buf;
	int n = 0;

	while ((size_t)(buf + len - p) >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > (size_t)(buf + len - p))
			return -1;
		if (h.nlmsg_type == NFT_TYPE(NFT_MSG_TRACE)) {
			struct nft_trace t;
			/* an aligned copy: attributes are read with memcpy, but keep the pointer honest */
			if (!nft_trace_parse(p + sizeof(h), h.nlmsg_len - sizeof(h), &t)) {
				cb(ctx, &t);
				n++;
			}
		}
		size_t step = NLMSG_ALIGN(h.nlmsg_len);
		if (step > (size_t)(buf + len - p))
			break;
		p += step;
	}
	return n;
}

int nft_parse_handle(const uint8_t *buf, size_t len, uint32_t seq, uint64_t *handle)
{
	const uint8_t *p = buf;

	while ((size_t)(buf + len - p) >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > (size_t)(buf + len - p))
			return -EPROTO;
		if (h.nlmsg_seq == seq && h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
			int err;
			memcpy(&err, p + sizeof(h), sizeof(err));
			if (err)
				return err < 0 ? err : -EPROTO;
		}
		bool table = h.nlmsg_type == NFT_TYPE(NFT_MSG_NEWTABLE);
		bool chain = h.nlmsg_type == NFT_TYPE(NFT_MSG_NEWCHAIN);
		if (h.nlmsg_seq == seq && (table || chain) && h.nlmsg_len >= sizeof(h) + sizeof(struct nfgenmsg)) {
			const uint8_t *a = p + sizeof(h) + sizeof(struct nfgenmsg), *end = p + h.nlmsg_len, *val;
			size_t vlen;
			uint16_t type;
			while (next_attr(&a, end, &type, &val, &vlen))
				if (type == (table ? NFTA_TABLE_HANDLE : NFTA_CHAIN_HANDLE) && vlen >= 8) {
					uint32_t hi, lo;
					memcpy(&hi, val, 4);
					memcpy(&lo, val + 4, 4);
					*handle = (uint64_t)ntohl(hi) << 32 | ntohl(lo);
					return 1;
				}
		}
		size_t step = NLMSG_ALIGN(h.nlmsg_len);
		if (step > (size_t)(buf + len - p))
			break;
		p += step;
	}
	return 0;
}

bool nft_trace_is_drop(const struct nft_trace *t)
{
	return t->has_verdict && t->verdict == NF_DROP &&
	       (t->type == NFT_TRACETYPE_RULE || t->type == NFT_TRACETYPE_POLICY);
}

static const char *nfproto_name(uint8_t p)
{
	switch (p) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_BRIDGE: return "bridge";
	case NFPROTO_NETDEV: return "netdev";
	}
	return "?";
}

const char *nft_family_name(uint8_t nfproto)
{
	return nfproto_name(nfproto);
}

char *nft_trace_format(const struct nft_trace *t, char *buf, size_t len)
{
	char th[32] = "", ch[32] = "";

	/* "(N)": the table's and chain's own handles, as nft -a shows them, when known */
	if (t->table_handle)
		snprintf(th, sizeof(th), " (%llu)", (unsigned long long)t->table_handle);
	if (t->chain_handle)
		snprintf(ch, sizeof(ch), " (%llu)", (unsigned long long)t->chain_handle);
	if (t->type == NFT_TRACETYPE_POLICY || !t->has_handle)
		snprintf(buf, len, "table %s %s%s chain %s%s policy drop", nfproto_name(t->nfproto), t->table, th,
			 t->chain, ch);
	else
		snprintf(buf, len, "table %s %s%s chain %s%s handle %llu drop", nfproto_name(t->nfproto), t->table, th,
			 t->chain, ch, (unsigned long long)t->handle);
	return buf;
}

bool nft_trace_matches(const struct nft_trace *t, const struct trace_event *e)
{
	size_t n = t->family == AF_INET ? 4 : 16;

	if (!t->has_pkt || t->family != e->family || t->proto != e->proto)
		return false;
	if (memcmp(t->saddr, e->saddr, n) || memcmp(t->daddr, e->daddr, n))
		return false;
	if (t->proto == IPPROTO_TCP || t->proto == IPPROTO_UDP || t->proto == IPPROTO_SCTP)
		return t->sport == e->sport && t->dport == e->dport;
	return true;
}
