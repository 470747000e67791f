/*
 * retina trace's pure parts (applets/trace_rules.c): reason names from the
 * kernel's enums, filters, and output formatting. No libbpf and no I/O, so
 * unit tests drive them with made-up enums and events.
 */
#ifndef RETINA_TRACE_H
#define RETINA_TRACE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bpf/trace_event.h"

/* code -> name, as read from the running kernel's BTF enums. */
struct reason_entry {
	uint32_t code;
	char name[64];
};

struct reason_table {
	struct reason_entry *v;
	size_t n, cap;
	/* enum skb_drop_reason_subsys (6.4+): subsystem number -> name */
	struct reason_entry *subsys;
	size_t nsubsys, capsubsys;
};

/*
 * Feed one enumerator of the kernel's BTF. enum_name is the enum's name:
 * "skb_drop_reason" (core reasons), "skb_drop_reason_subsys" (6.4+
 * subsystems), any other "*drop_reason" enum (a subsystem's reasons, kept when
 * their value carries a subsystem number) or "sk_rst_reason". Prefixes
 * (SKB_DROP_REASON_, SKB_, SK_RST_REASON_) are stripped; markers that are not
 * reasons (..._MAX, ..._SUBSYS_MASK, ..._NUM) are skipped.
 * Returns 1 when kept, 0 when skipped, -1 when out of memory.
 */
int reason_add(struct reason_table *t, const char *enum_name, const char *entry, int64_t value);
/* The name of code; for an unknown code of a known subsystem "SUBSYS#N", else "#N". */
const char *reason_name(const struct reason_table *t, uint32_t code, char *buf, size_t len);
/* The code of name (case-insensitive, prefix optional); -1 when unknown. */
int64_t reason_code(const struct reason_table *t, const char *name);
void reason_free(struct reason_table *t);
/*
 * The module that defines a subsystem's reasons, from its subsystem name:
 * "openvswitch" for OPENVSWITCH, "mac80211" for MAC80211_UNUSABLE. Its BTF
 * is /sys/kernel/btf/MODULE when the module is loaded. buf >= 64 bytes.
 */
char *subsys_module(const char *subsys, char *buf, size_t len);

/* "ESTABLISHED" for TCP_ESTABLISHED; "STATE#N" for others. buf >= 16 bytes. */
const char *tcp_state_name(unsigned state, char *buf);
extern const char *const trace_type_names[TT_COUNT];	/* "DROP", "RST_SENT", ... */
extern const char *const trace_probe_names[TT_COUNT];	/* "kfree_skb", ... */
extern const char *const trace_tp_names[TT_COUNT];	/* tracepoint names in BTF */
/* "udp" for IPPROTO_UDP; NULL when unknown. */
const char *proto_name(unsigned proto);

/* --ip or --cidr (host bits must be clear for --cidr) into a kernel filter entry. -1 on junk. */
int trace_net_parse(const char *s, bool cidr_required, struct trace_net *out);
/* "TCP_STATE_NAME" etc. are decided by type: the reason of e as text. */
struct ksyms;
struct trace_names {
	const struct reason_table *drop, *rst;
	/* names DROP locations; NULL: shown as raw addresses */
	const struct ksyms *ksyms;
};
/*
 * A DROP's location, "tcp_v4_rcv+0x1a2" (raw "0xffff..." without symbols);
 * NULL for other events and when the kernel gave none.
 */
const char *event_location(const struct trace_names *nm, const struct trace_event *e, char *buf, size_t len);
/*
 * Before 5.17 kfree_skb frees packets that were handled, not dropped: a
 * location ("icmpv6_rcv+0x3c0") where that is what the kernel does. Such
 * DROPs are hidden unless --all-reasons (5.17+ calls them NOT_SPECIFIED).
 */
bool location_not_a_drop(const char *location);
const char *event_reason(const struct trace_names *nm, const struct trace_event *e, char *buf, size_t len);

/* The table header (two lines: names, then a rule), and one row. */
void format_header(char *buf, size_t len);
/* wall_ns: the event's time as ns since the epoch. */
void format_row(const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns, char *buf,
		size_t len);
/*
 * The same table from fields already formatted (kubectl retina bpftrace
 * renders its pods' JSON lines), so both print alike; node_width > 0 adds
 * a first NODE column that wide (the header's rule spans it too).
 */
struct trace_row {
	const char *node, *time, *type, *reason, *probe, *src, *dst;
};
void format_header_node(char *buf, size_t len, int node_width);
void format_row_text(const struct trace_row *r, int node_width, char *buf, size_t len);
/* One JSON object, no newline. */
void format_json(const struct trace_names *nm, const struct trace_event *e, uint64_t wall_ns, char *buf,
		 size_t len);
/* "2026-11-22T01:30:04.123456789Z" */
char *format_rfc3339(uint64_t wall_ns, char *buf, size_t len);
/* "10.0.0.1:80", "[2001:db8::1]:443", "10.0.0.1" (no port), "-" (unknown). */
char *format_endpoint(const struct trace_event *e, bool src, char *buf, size_t len);

/* Per type and per reason counts for the exit summary. */
struct trace_counts {
	uint64_t per_type[TT_COUNT];
	struct {
		uint8_t type;
		uint32_t reason;
		uint64_t n;
	} per_reason[256];
	size_t nreasons;
	uint64_t overflow;	/* events whose (type, reason) did not fit */
};
void counts_add(struct trace_counts *c, const struct trace_event *e);

/*
 * --stack (applets/trace_stack_rules.c): kernel text symbols from
 * /proc/kallsyms, and each distinct stack symbolised once.
 */
struct ksym {
	uint64_t addr;
	uint32_t name;		/* offset in names: "func" or "func [module]" */
};
struct ksyms {
	struct ksym *v;
	size_t n, cap;
	char *names;
	size_t nlen, ncap;
	size_t nread;		/* symbol lines read, of any type */
	bool hidden;		/* every address read 0: kptr_restrict or no CAP_SYSLOG */
};
/* Parse a kallsyms file (text symbols kept, sorted). -1: out of memory. */
int ksyms_load(struct ksyms *k, FILE *f);
void ksyms_free(struct ksyms *k);
/* The symbol holding addr and the offset in it; NULL when none. */
const char *ksyms_find(const struct ksyms *k, uint64_t addr, uint64_t *off);
/* "func+0x1c", "func+0x1c [mod]", or "0xffffffff81234567" when unknown. */
char *ksyms_frame(const struct ksyms *k, uint64_t addr, char *buf, size_t len);

#define STACK_CACHE_SLOTS 4096
struct stack_entry {
	uint64_t hash;
	uint32_t nframes, shown;	/* shown: frames after the tracer's own */
	bool cut;		/* nframes reached the cache's depth: the walk may have stopped short */
	uint64_t frames[TRACE_MAX_FRAMES];
	char *text;		/* "\n    func+0x1c" per frame: goes under a table row */
	char *json;		/* ["func+0x1c",...] */
};
struct stack_cache {
	const struct ksyms *ksyms;	/* NULL: raw addresses */
	uint32_t depth;		/* frames the kernel walked at most (--stack-depth); 0: not known */
	struct stack_entry slots[STACK_CACHE_SLOTS];
	size_t used;
	size_t lo, hi;		/* the used slots are among slots[lo..hi] */
	uint64_t hits, misses;
};
/*
 * The symbolised stack of frames (innermost first); NULL when out of memory.
 * A stack of c->depth frames is cut: its text ends with STACK_CUT_LINE.
 */
#define STACK_CUT_LINE "\n    ... (--stack-depth %u: the walk stopped there)"
/* Under a stack the event did not walk itself (TX_STACK_REUSED, "stack_reused" in JSON). */
#define STACK_REUSED_LINE "\n    (this site's stack, walked by an earlier event: --stack-rate)"
const struct stack_entry *stack_cache_get(struct stack_cache *c, const uint64_t *frames, uint32_t n);
void stack_cache_free(struct stack_cache *c);

/* -w (applets/trace/trace_pcap_rules.c; the pcapng file is net/pcapng.h): the packet comment: "type=DROP reason=NO_SOCKET probe=kfree_skb netns=N ifname=eth0". */
char *format_pcap_comment(const struct trace_names *nm, const struct trace_event *e, char *buf, size_t len);
/* The same from the event's fields as text (kubectl retina bpftrace has them as JSON); netns 0, ifname NULL or "": left out. */
char *format_pcap_comment_text(const char *type, const char *reason, const char *probe, unsigned netns,
				const char *ifname, char *buf, size_t len);

/*
 * --nft (applets/trace_nft_rules.c): nftables tracing. A table of ours sets
 * nftrace on every packet; the kernel then reports each rule a packet meets
 * on the NFNLGRP_NFTRACE netlink group, and the one that dropped it is
 * matched to the DROP event by its headers.
 */
#define NFT_TRACE_TABLE "retina_nftrace"
#define NFT_TRACE_PRIORITY (-2147483647)	/* before every other chain (raw is -300) */
struct nft_trace {
	uint8_t nfproto;	/* the table's family: NFPROTO_INET, _IPV4, ... */
	char table[64], chain[64];
	uint64_t handle;	/* the rule's */
	bool has_handle, has_verdict, has_pkt;
	uint32_t type;		/* NFT_TRACETYPE_RULE, _POLICY, _RETURN */
	int32_t verdict;	/* NF_DROP, NF_ACCEPT, ... */
	uint32_t id;		/* the same for each message about one packet */
	/* the packet, from the message's network and transport headers */
	uint8_t family, proto;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	/* not in trace messages: asked for afterwards (0: unknown) */
	uint64_t table_handle, chain_handle;
};
/* The batch that adds the table and its two chains (prerouting, output); 0 when buf is too small. */
size_t nft_build_setup(uint8_t *buf, size_t len, uint32_t seq, bool owner);
size_t nft_build_deltable(uint8_t *buf, size_t len, uint32_t seq);
/* A request for one table (chain false) or chain, to learn its handle. */
size_t nft_build_get(uint8_t *buf, size_t len, uint32_t seq, bool chain, uint8_t nfproto, const char *table,
		     const char *chain_name);
/* The handle in the answer to request seq: 1 found, 0 not in buf, -errno when refused. */
int nft_parse_handle(const uint8_t *buf, size_t len, uint32_t seq, uint64_t *handle);
/* One NFT_MSG_TRACE payload (nfgenmsg + attributes); -1 when it names no table. */
int nft_trace_parse(const uint8_t *msg, size_t len, struct nft_trace *t);
/* Every trace message of a netlink datagram to cb; the count, or -1 on a malformed header. */
typedef void (*nft_trace_cb)(void *ctx, const struct nft_trace *t);
int nft_parse_datagram(const uint8_t *buf, size_t len, nft_trace_cb cb, void *ctx);
/* A rule's drop verdict, or a chain policy's. */
bool nft_trace_is_drop(const struct nft_trace *t);
/* "table inet t (1) chain input (2) handle 5 drop", "table ip filter chain INPUT policy drop" */
char *nft_trace_format(const struct nft_trace *t, char *buf, size_t len);
const char *nft_family_name(uint8_t nfproto);
/* The same packet: family, protocol, addresses and ports. */
bool nft_trace_matches(const struct nft_trace *t, const struct trace_event *e);

#endif
