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
 * caplen). A stack is kept once in the kernel's stack map (TRACE_MAX_FRAMES
 * return addresses, innermost first, 0 after the last): the event carries
 * its id, and user space reads and symbolises each id once.
 */
#define TRACE_MAX_FRAMES 32	/* --stack-depth's most */
/*
 * --stack's default depth: the kernel's unwinder costs ~30 ns a frame on
 * top of ~0.7 us a walk, and the drop site is at the top (the tracer's own
 * 2-4 frames first, which user space hides). The map's value size is the
 * depth: a stack that fills it is said to be cut there.
 */
#define TRACE_STACK_DEPTH 16
#define TRACE_SNAPLEN_MAX 1024
#define TRACE_STACK_IDS 16384	/* the stack map's size (ids are below it) */
/*
 * --stack-rate's default: stack walks per second per site (event type,
 * reason, location) and CPU. A walk costs the dropping CPU more than the
 * rest of the event (~1 us); in a storm the site's other events carry the
 * stack it last walked, marked TX_STACK_REUSED. 0 walks every event.
 */
#define TRACE_STACK_RATE 100
#define TRACE_STACK_SITES 16	/* per event type and CPU: the sites remembered */

struct trace_extra {
	__s32 stack_id;		/* in the stacks map; < 0: -errno, no stack (-EEXIST: its slot was taken) */
	__u32 caplen;		/* bytes of pkt[]: the packet from its network header */
	__u32 pktlen;		/* the packet's whole length from its network header */
	__u32 flags;		/* TX_* */
	__u8 pkt[TRACE_SNAPLEN_MAX];
};

#define TX_STACK 1		/* stack_id was asked for */
#define TX_PKT 2		/* pkt[] holds an IPv4 or IPv6 packet */
#define TX_STACK_REUSED 4	/* stack_id is the one its site walked less than 1/--stack-rate s before */

struct trace_record {
	struct trace_event e;
	struct trace_extra x;
};

/*
 * Plain events (no stack, no packet) are staged per CPU and sent
 * TRACE_BATCH at a time: one ring buffer reservation, whose lock with
 * interrupts off is most of what an event costs the dropping CPU, serves
 * them all. A batch record starts with a header event of type TT_BATCH
 * whose reason is how many events follow. A batch goes out when full, when
 * its first event is TRACE_BATCH_NS old at the next one, or when the reader
 * runs the flush program on that CPU (it does every poll, for a CPU whose
 * batch has waited that long).
 */
#define TRACE_BATCH 16
#define TRACE_BATCH_NS 1000000ULL
#define TT_BATCH 0xff

struct trace_batch {
	struct trace_event hdr;
	struct trace_event ev[TRACE_BATCH];
};

struct trace_batch_state {
	__u32 n;		/* events staged */
	__u32 busy;		/* a program is staging or flushing on this CPU */
	__u64 first_ns;		/* the first one's ts_ns */
};

/*
 * --count: events are counted in the kernel by this key (a per-CPU hash; no
 * ring buffer). The interface's name is stored with the count when the key
 * is first seen on a CPU: a hit costs no string read.
 */
struct trace_count_key {
	__u64 location;		/* DROP: kfree_skb's caller (kernel text address); else 0 */
	__u32 reason;
	__u32 netns;
	__u32 ifindex;
	__u16 dport;		/* host order; 0 when the protocol has none */
	__u8 type;		/* enum trace_type */
	__u8 proto;
};

struct trace_count_val {
	__u64 count;
	char ifname[16];	/* on the CPU that added the key; "" on the others */
};

#define TRACE_COUNT_KEYS 16384

/*
 * --count: a per-CPU table of TRACE_COUNT_SLOTS slots in front of the hash
 * (a storm's key is counted in its slot: no hash lookup). A key takes the
 * slot its hash names when the slot is free (used 0) and keeps it for the
 * run; a key whose slot is taken is counted in the hash. A key's count is
 * the sum of its slots (one per CPU at most) and its hash entry. The event
 * that takes the slot is counted in the hash: count > 0 only after a later
 * run of the program saw the key complete.
 */
#define TRACE_COUNT_SLOTS 128	/* a power of 2 */

struct trace_count_slot {
	struct trace_count_key k;
	struct trace_count_val v;
	__u32 used;
	__u32 pad;
};

/* A network of --ip/--cidr: the address with host bits cleared, and its mask. */
struct trace_net {
	__u32 addr[4];
	__u32 mask[4];
	__u32 family;		/* AF_INET (uses word 0) or AF_INET6 */
};

#endif
