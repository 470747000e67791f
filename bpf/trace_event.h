/*
 * What bpf/trace.bpf.c sends to `retina trace` through the ring buffer, and
 * the filter it is configured with (read-only data, set before load). Shared
 * by the BPF program and user space: fixed-width types only.
 */
#ifndef RETINA_TRACE_EVENT_H
#define RETINA_TRACE_EVENT_H

enum trace_type {
	TT_DROP = 0,
	TT_RST_SENT,
	TT_RST_RECV,
	TT_SOCK_ERR,
	TT_RETRANS,
	TT_COUNT,
};

#define TRACE_MAX_NETS 16	/* --ip and --cidr together */
#define TRACE_MAX_PORTS 16
#define TRACE_MAX_REASONS 16

struct trace_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u32 reason;		/* drop reason, errno, TCP state or RST reason */
	__u32 pid;
	__u32 netns;		/* inode of the network namespace; 0 unknown */
	__u32 ifindex;		/* 0 unknown */
	__u8 saddr[16];		/* network order; IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport, dport;	/* host order; 0 when the protocol has none */
	__u8 type;		/* enum trace_type */
	__u8 family;		/* AF_INET, AF_INET6, 0 unknown */
	__u8 proto;		/* IPPROTO_* */
	__u8 state;		/* TCP state where known, else 0 */
	char comm[16];
	char ifname[16];
	/*
	 * DROP: the kernel function that freed the packet (kfree_skb's
	 * "location", a return address); user space names it from
	 * /proc/kallsyms. Before 5.17 the only clue where a packet died.
	 */
	__u64 location;
};

/*
 * With --stack or -w an event record goes on with this (the ring buffer
 * record is longer than struct trace_event; the packet bytes are cut to
 * caplen). The stack comes first so its offset is fixed.
 */
#define TRACE_MAX_FRAMES 32
#define TRACE_SNAPLEN_MAX 1024

struct trace_extra {
	__u32 nframes;		/* kernel return addresses in stack[], innermost first */
	__u32 caplen;		/* bytes of pkt[]: the packet from its network header */
	__u32 pktlen;		/* the packet's whole length from its network header */
	__u32 flags;		/* TX_* */
	__u64 stack[TRACE_MAX_FRAMES];
	__u8 pkt[TRACE_SNAPLEN_MAX];
};

#define TX_STACK 1		/* stack[] was asked for (nframes 0: the kernel gave none) */
#define TX_PKT 2		/* pkt[] holds an IPv4 or IPv6 packet */

struct trace_record {
	struct trace_event e;
	struct trace_extra x;
};

/* A network of --ip/--cidr: the address with host bits cleared, and its mask. */
struct trace_net {
	__u32 addr[4];
	__u32 mask[4];
	__u32 family;		/* AF_INET (uses word 0) or AF_INET6 */
};

#endif
