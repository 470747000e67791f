// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * retina trace: network problems as they happen, from five tracepoints.
 * BTF-typed tracepoints (tp_btf) need no tracefs and no kprobes, so this
 * runs inside a container with BPF+PERFMON. Filters run here, before an
 * event costs a ring buffer slot; a full buffer is counted, never silent.
 */
#include "bpf/vmlinux_min.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/trace_event.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_SCTP 132
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_PERCPU_HASH 5
#define BPF_MAP_TYPE_STACK_TRACE 7
#define BPF_F_NO_PREALLOC 1
#define BPF_NOEXIST 1

/* Set by user space before load. */
const volatile __u32 n_nets = 0;
const volatile struct trace_net nets[TRACE_MAX_NETS] = {};
const volatile __u32 n_ports = 0;
const volatile __u16 ports[TRACE_MAX_PORTS] = {};
const volatile __u32 n_reasons = 0;
const volatile __u32 reasons[TRACE_MAX_REASONS] = {};
/* Drop reasons that are not problems; ~0 when this kernel has no such name. */
const volatile __u32 reason_not_dropped = ~0U;
const volatile __u32 reason_consumed = ~0U;
const volatile __u32 reason_not_specified = ~0U;
const volatile bool all_reasons = false;
/*
 * Whether kfree_skb (5.17+) and tcp_send_reset (6.10+) pass a reason: user
 * space sets these from the kernel's BTF (the enum exists with the argument).
 * A CO-RE type check would cost libbpf a scan of every kernel type and, on a
 * kernel without the enum, a load of every module's BTF.
 */
const volatile bool has_drop_reason = false;
const volatile bool has_rst_reason = false;
/*
 * 6.2+: the kfunc bpf_rdonly_cast turns the packet's address into a typed
 * pointer, so its headers are plain loads (a fault reads as 0) instead of a
 * bpf_probe_read_kernel call, a third of --count's cost per drop. User space
 * sets this from the kernel's BTF; where it is false the verifier drops the
 * branch that calls it, and libbpf leaves the weak extern unresolved.
 */
const volatile bool has_rdonly_cast = false;
extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym __weak;
/*
 * The reader drains on its own timer (sooner while events pour in); a CPU
 * that queued wake_bytes since it last looked asks the ring how much is
 * unread, and wakes the reader only when that is wake_avail or more (user
 * space sets it to a quarter of the ring): a reader that keeps up is never
 * woken, and a wakeup (an interrupt the dropping CPU raises on itself)
 * costs more than many events.
 */
const volatile __u64 wake_bytes = 65536;
const volatile __u64 wake_avail = 524288;
/* --stack: bit per enum trace_type whose events carry the kernel stack. */
const volatile __u32 stack_types = 0;
/* -w: bytes of each dropped packet to capture (0: none). */
const volatile __u32 snaplen = 0;

/* --count: count by key in the kernel (counts), no event leaves it. */
const volatile bool count_mode = false;

/* Events the ring buffer had no room for, per type. */
__u64 lost[TT_COUNT] = {};
/* --count: events counted under no key (the key table was full), per type. */
__u64 unkeyed[TT_COUNT] = {};

/*
 * No preallocation: memory for the keys seen, not for TRACE_COUNT_KEYS per
 * CPU (user space sets max_entries 1 when not counting).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TRACE_COUNT_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct trace_count_key);
	__type(value, struct trace_count_val);
} counts SEC(".maps");

/* --count: the slots in front of the hash (user space sets max_entries 1 when not counting). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACE_COUNT_SLOTS);
	__type(key, __u32);
	__type(value, struct trace_count_slot);
} count_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 << 20);
} events SEC(".maps");

/* --stack: each distinct stack once (user space sets max_entries 1 without it). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, TRACE_STACK_IDS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, TRACE_MAX_FRAMES * sizeof(__u64));
} stacks SEC(".maps");

/* --stack-rate: the nanoseconds a site's walked stack serves its later events (0: walk each). */
const volatile __u64 stack_gap_ns = 0;

/* A site's last walk: TRACE_STACK_SITES per event type (one program each: never nested with itself). */
struct stack_site {
	__u64 location;
	__u64 walked_ns;
	__u32 reason;
	__s32 stack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TT_COUNT * TRACE_STACK_SITES);
	__type(key, __u32);
	__type(value, struct stack_site);
} stack_sites SEC(".maps");

/* Where a record with a packet is built: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct trace_record);
} scratch SEC(".maps");

static __always_inline bool net_match(const __u8 *a, __u8 family)
{
	__u32 w[4];

	__builtin_memcpy(w, a, 16);
	for (__u32 i = 0; i < TRACE_MAX_NETS; i++) {
		if (i >= n_nets)
			break;
		if (nets[i].family != family)
			continue;
		if ((w[0] & nets[i].mask[0]) != nets[i].addr[0])
			continue;
		if (family == AF_INET)
			return true;
		if ((w[1] & nets[i].mask[1]) == nets[i].addr[1] && (w[2] & nets[i].mask[2]) == nets[i].addr[2] &&
		    (w[3] & nets[i].mask[3]) == nets[i].addr[3])
			return true;
	}
	return false;
}

static __always_inline bool port_match(__u16 p)
{
	for (__u32 i = 0; i < TRACE_MAX_PORTS; i++) {
		if (i >= n_ports)
			break;
		if (ports[i] == p)
			return true;
	}
	return false;
}

static __always_inline bool wanted(const struct trace_event *e)
{
	if (n_nets && !net_match(e->saddr, e->family) && !net_match(e->daddr, e->family))
		return false;
	if (n_ports && !port_match(e->sport) && !port_match(e->dport))
		return false;
	return true;
}

static __always_inline void from_sock(struct trace_event *e, const struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (e->family == AF_INET) {
		__be32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->saddr, &s, 4);
		__builtin_memcpy(e->daddr, &d, 4);
	} else if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr);
		/* A dual-stack socket talking IPv4 (::ffff:a.b.c.d) is an IPv4 flow: --ip/--cidr must see it so. */
		__u32 w[4];
		__builtin_memcpy(w, e->daddr, 16);
		if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
			__be32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
			__be32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			__builtin_memset(e->saddr, 0, 16);
			__builtin_memset(e->daddr, 0, 16);
			__builtin_memcpy(e->saddr, &s, 4);
			__builtin_memcpy(e->daddr, &d, 4);
			e->family = AF_INET;
		}
	} else {
		e->family = 0;
	}
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* A socket closed by the error already gave its port back: the header field stays. */
	if (!e->sport)
		e->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/*
 * IP header and ports of an skb; false when it carries no IP packet. typed:
 * skb is a tracepoint argument (tp_btf), so its fields are plain loads the
 * verifier guards, not a helper call each; the packet bytes still need one.
 * addrs: copy the addresses (--count without --ip/--cidr has no use for them).
 */
static __always_inline bool is_l4_with_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* from_skb_at's header reads through bpf_rdonly_cast (has_rdonly_cast): no helper call. */
static __always_inline bool from_headers_in_place(struct trace_event *e, unsigned char *head, __u16 nh, __u16 proto,
						  bool addrs)
{
	__u32 l4;

	if (proto == ETH_P_IP) {
		const struct iphdr *ip = bpf_rdonly_cast(head + nh, bpf_core_type_id_kernel(struct iphdr));
		__u8 vihl = *(const __u8 *)ip;	/* version and header length: wire format, no CO-RE */
		if ((vihl >> 4) != 4)
			return false;
		e->family = AF_INET;
		e->proto = ip->protocol;
		if (addrs) {
			__be32 s = ip->saddr, d = ip->daddr;
			__builtin_memcpy(e->saddr, &s, 4);
			__builtin_memcpy(e->daddr, &d, 4);
		}
		if (bpf_ntohs(ip->frag_off) & 0x1fff)
			return true;	/* a later fragment has no ports */
		l4 = nh + (vihl & 0xf) * 4;
	} else if (proto == ETH_P_IPV6) {
		const struct ipv6hdr *ip6 = bpf_rdonly_cast(head + nh, bpf_core_type_id_kernel(struct ipv6hdr));
		if ((*(const __u8 *)ip6 >> 4) != 6)
			return false;
		e->family = AF_INET6;
		e->proto = ip6->nexthdr;
		if (addrs) {
			__u32 w[8] = { ip6->saddr.in6_u.u6_addr32[0], ip6->saddr.in6_u.u6_addr32[1],
				       ip6->saddr.in6_u.u6_addr32[2], ip6->saddr.in6_u.u6_addr32[3],
				       ip6->daddr.in6_u.u6_addr32[0], ip6->daddr.in6_u.u6_addr32[1],
				       ip6->daddr.in6_u.u6_addr32[2], ip6->daddr.in6_u.u6_addr32[3] };
			__builtin_memcpy(e->saddr, &w[0], 16);
			__builtin_memcpy(e->daddr, &w[4], 16);
		}
		l4 = nh + 40;
	} else {
		return false;
	}
	if (is_l4_with_ports(e->proto)) {
		const struct udphdr *ports = bpf_rdonly_cast(head + l4, bpf_core_type_id_kernel(struct udphdr));
		e->sport = bpf_ntohs(ports->source);
		e->dport = bpf_ntohs(ports->dest);
	}
	return true;
}

static __always_inline bool from_skb_at(struct trace_event *e, const struct sk_buff *skb, bool typed, bool addrs)
{
	unsigned char *head = typed ? skb->head : BPF_CORE_READ(skb, head);
	__u16 nh = typed ? skb->network_header : BPF_CORE_READ(skb, network_header);
	__u16 proto = bpf_ntohs(typed ? skb->protocol : BPF_CORE_READ(skb, protocol));
	struct net_device *dev = typed ? skb->dev : BPF_CORE_READ(skb, dev);
	__u8 ip[44] __attribute__((aligned(8)));	/* the addresses copied as words, not byte by byte */
	__u32 l4;

	if (dev) {
		e->ifindex = typed ? dev->ifindex : BPF_CORE_READ(dev, ifindex);
		if (!count_mode && typed) {	/* plain loads: IFNAMSIZ bytes, NUL-terminated by the kernel */
			const __u64 *nm = (const __u64 *)dev->name;
			__u64 *to = (__u64 *)e->ifname;
			to[0] = nm[0];
			to[1] = nm[1];
		} else if (!count_mode) {	/* counting stores the name once per key */
			BPF_CORE_READ_STR_INTO(&e->ifname, dev, name);
		}
		e->netns = typed ? dev->nd_net.net->ns.inum : BPF_CORE_READ(dev, nd_net.net, ns.inum);
	}
	if (!head || nh == 0xffff)
		return false;
	if (typed && has_rdonly_cast)
		return from_headers_in_place(e, head, nh, proto, addrs);
	if (proto == ETH_P_IP) {
		/* header and ports in one read when there are no options (nearly always) */
		if (bpf_probe_read_kernel(ip, 24, head + nh) && bpf_probe_read_kernel(ip, 20, head + nh))
			return false;
		if ((ip[0] >> 4) != 4)
			return false;
		e->family = AF_INET;
		e->proto = ip[9];
		if (addrs) {
			__builtin_memcpy(e->saddr, &ip[12], 4);
			__builtin_memcpy(e->daddr, &ip[16], 4);
		}
		/* a later fragment has no ports */
		if ((((__u16)ip[6] << 8 | ip[7]) & 0x1fff) != 0)
			return true;
		if (ip[0] == 0x45) {
			if (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP || e->proto == IPPROTO_SCTP) {
				e->sport = (__u16)ip[20] << 8 | ip[21];
				e->dport = (__u16)ip[22] << 8 | ip[23];
			}
			return true;
		}
		l4 = nh + (ip[0] & 0xf) * 4;
	} else if (proto == ETH_P_IPV6) {
		if (bpf_probe_read_kernel(ip, 44, head + nh) && bpf_probe_read_kernel(ip, 40, head + nh))
			return false;
		if ((ip[0] >> 4) != 6)
			return false;
		e->family = AF_INET6;
		e->proto = ip[6];
		if (addrs) {
			__builtin_memcpy(e->saddr, &ip[8], 16);
			__builtin_memcpy(e->daddr, &ip[24], 16);
		}
		if (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP || e->proto == IPPROTO_SCTP) {
			e->sport = (__u16)ip[40] << 8 | ip[41];
			e->dport = (__u16)ip[42] << 8 | ip[43];
		}
		return true;
	} else {
		return false;
	}
	if (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP || e->proto == IPPROTO_SCTP) {
		__be16 pp[2];
		if (!bpf_probe_read_kernel(pp, sizeof(pp), head + l4)) {
			e->sport = bpf_ntohs(pp[0]);
			e->dport = bpf_ntohs(pp[1]);
		}
	}
	return true;
}

static __always_inline bool from_skb(struct trace_event *e, const struct sk_buff *skb)
{
	return from_skb_at(e, skb, false, true);
}

static __always_inline void swap_ends(struct trace_event *e)
{
	__u8 a[16];
	__u16 p = e->sport;

	__builtin_memcpy(a, e->saddr, 16);
	__builtin_memcpy(e->saddr, e->daddr, 16);
	__builtin_memcpy(e->daddr, a, 16);
	e->sport = e->dport;
	e->dport = p;
}

static __always_inline void start(struct trace_event *e, __u8 type)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	if (count_mode)	/* not in the key: three helper calls saved */
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
}

/* Bytes this CPU queued since it last woke the reader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unwoken SEC(".maps");

/* The flags that queue a record of size bytes: a wakeup only when the reader falls behind. */
static __always_inline __u64 wake_flags(__u64 size)
{
	/*
	 * Waking the reader per event costs more than the event (see
	 * wake_avail). A per-CPU count is an inlined array lookup; asking the
	 * ring for its unread bytes is a helper call: once per wake_bytes.
	 */
	__u32 zero = 0;
	__u64 *queued = bpf_map_lookup_elem(&unwoken, &zero);

	if (queued) {
		*queued += (size + 8 + 7) & ~7ULL;	/* with the record header */
		if (*queued >= wake_bytes) {
			*queued = 0;
			if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_avail)
				return BPF_RB_FORCE_WAKEUP;
		}
	}
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void emit(const void *rec, __u64 size, __u8 type)
{
	if (bpf_ringbuf_output(&events, (void *)rec, size, wake_flags(size)))
		__sync_fetch_and_add(&lost[type < TT_COUNT ? type : 0], 1);
}

/* Per-event mode without stacks or packets: events go out in batches (trace_event.h). */
const volatile bool batching = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct trace_batch);
} batch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct trace_batch_state);
} batch_state SEC(".maps");

#define barrier() asm volatile("" ::: "memory")

/* Send this CPU's staged events (the caller holds st->busy). */
static __noinline void flush_batch(struct trace_batch_state *st, struct trace_batch *b)
{
	__u32 n = st->n;

	if (!n)
		return;
	if (n > TRACE_BATCH)
		n = TRACE_BATCH;
	b->hdr.type = TT_BATCH;
	b->hdr.reason = n;
	__u64 size = sizeof(b->hdr) + n * sizeof(b->ev[0]);
	if (bpf_ringbuf_output(&events, b, size, wake_flags(size))) {
		for (__u32 i = 0; i < TRACE_BATCH; i++) {
			if (i >= n)
				break;
			__u8 t = b->ev[i].type;
			__sync_fetch_and_add(&lost[t < TT_COUNT ? t : 0], 1);
		}
	}
	st->n = 0;
}

/*
 * The next free slot of this CPU's batch, st->busy taken; NULL when not
 * batching, or when a program this one interrupted (or the flush program)
 * is using the batch: then the event goes straight to the ring.
 */
static __always_inline struct trace_event *stage_begin(struct trace_batch_state **stp)
{
	__u32 zero = 0;
	struct trace_batch_state *st = batching ? bpf_map_lookup_elem(&batch_state, &zero) : NULL;
	struct trace_batch *b = st ? bpf_map_lookup_elem(&batch, &zero) : NULL;

	if (!b || st->busy)
		return NULL;
	st->busy = 1;
	barrier();	/* busy is set before the count is read: an interrupt sees one or the other */
	*stp = st;
	return &b->ev[st->n & (TRACE_BATCH - 1)];
}

/* The slot stage_begin gave is filled: count it, send the batch when due, release busy. */
static __always_inline void stage_end(struct trace_batch_state *st, const struct trace_event *e)
{
	__u32 zero = 0;
	struct trace_batch *b = bpf_map_lookup_elem(&batch, &zero);

	if (!st->n)
		st->first_ns = e->ts_ns;
	st->n++;
	if (b && (st->n >= TRACE_BATCH || e->ts_ns - st->first_ns >= TRACE_BATCH_NS))
		flush_batch(st, b);
	barrier();
	st->busy = 0;
}

/* A plain event: staged, or straight to the ring. */
static __noinline void emit_event(const struct trace_event *e)
{
	struct trace_batch_state *st;
	struct trace_event *slot = stage_begin(&st);

	if (!slot) {
		emit(e, sizeof(*e), e->type);
		return;
	}
	__builtin_memcpy(slot, e, sizeof(*e));
	stage_end(st, slot);
}

/* Run by the reader on a CPU (BPF_PROG_TEST_RUN) whose batch has waited: send it. */
SEC("raw_tp")
int flush_staged(void *ctx)
{
	__u32 zero = 0;
	struct trace_batch_state *st = bpf_map_lookup_elem(&batch_state, &zero);
	struct trace_batch *b = bpf_map_lookup_elem(&batch, &zero);

	if (!st || !b || st->busy || !st->n)
		return 0;
	st->busy = 1;
	barrier();
	flush_batch(st, b);
	barrier();
	st->busy = 0;
	return 0;
}

/* The dropped packet from its network header: its linear part, up to snaplen. */
static __always_inline void capture(struct trace_extra *x, const struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned char *data = BPF_CORE_READ(skb, data);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u32 len = BPF_CORE_READ(skb, len);
	__u32 data_len = BPF_CORE_READ(skb, data_len);
	/* data may point before (a MAC header not yet pulled) or after (pulled) the network header */
	__s64 before = (__s64)(data - head) - nh;
	__s64 total = (__s64)len + before;
	__s64 linear = (__s64)(len - data_len) + before;
	__u32 cap;

	if (total <= 0 || linear <= 0 || total > 0xffff * 4)
		return;
	cap = linear < snaplen ? linear : snaplen;
	if (cap > TRACE_SNAPLEN_MAX)
		cap = TRACE_SNAPLEN_MAX;
	if (bpf_probe_read_kernel(x->pkt, cap, head + nh))
		return;
	x->caplen = cap;
	x->pktlen = total;
	x->flags |= TX_PKT;
}

/* A key's slot: a multiplicative hash of its three words (a few instructions). */
static __always_inline __u32 slot_of(const struct trace_count_key *k)
{
	const __u64 *w = (const __u64 *)k;
	__u64 h = (w[0] ^ (w[1] * 0x9e3779b97f4a7c15ULL) ^ (w[2] * 0xc2b2ae3d27d4eb4fULL)) * 0x9e3779b97f4a7c15ULL;

	return h >> 57;	/* the top 7 bits: TRACE_COUNT_SLOTS 128 */
}

static __always_inline bool key_eq(const struct trace_count_key *a, const struct trace_count_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2];
}

/*
 * --count: one more for k on this CPU. No atomic: the value is this CPU's,
 * and a program does not run nested on its CPU (the kernel counts such a
 * miss in the program's recursion_misses, which we report). dev: the
 * interface, whose name is stored with a key the first time it is seen
 * (on this CPU).
 */
static __always_inline void count_key(const struct trace_count_key *k, const struct net_device *dev)
{
	_Static_assert(sizeof(*k) == 24 && TRACE_COUNT_SLOTS == 128, "slot_of hashes three words into 7 bits");
	__u32 i = slot_of(k);
	/*
	 * Only drops use the slots: kfree_skb's program never runs nested on
	 * its CPU, so nothing changes a slot between its check and its claim.
	 */
	struct trace_count_slot *s = k->type == TT_DROP ? bpf_map_lookup_elem(&count_slots, &i) : NULL;

	if (s && s->used && key_eq(&s->k, k)) {
		s->v.count++;
		return;
	}
	struct trace_count_val *v = bpf_map_lookup_elem(&counts, k);
	if (v) {
		v->count++;
	} else {
		struct trace_count_val nv = { .count = 1 };
		if (dev)
			BPF_CORE_READ_STR_INTO(&nv.ifname, dev, name);
		if (bpf_map_update_elem(&counts, k, &nv, BPF_NOEXIST)) {
			/* another CPU added the key meanwhile (its value here is 0), or the table is full */
			v = bpf_map_lookup_elem(&counts, k);
			if (v)
				v->count++;
			else
				__sync_fetch_and_add(&unkeyed[k->type < TT_COUNT ? k->type : 0], 1);
		}
	}
	/* counted: the key takes its slot if free, for the next events (count stays 0 until then) */
	if (s && !s->used) {
		__builtin_memcpy(&s->k, k, sizeof(*k));
		if (dev)
			BPF_CORE_READ_STR_INTO(&s->v.ifname, dev, name);
		s->used = 1;
	}
}

/* One more for e's key (its type and reason given: count_drop fills only part of e). */
static __always_inline void count_event(const struct trace_event *e, __u8 type, __u32 reason, __u64 location,
					const struct net_device *dev)
{
	struct trace_count_key k = {
		.location = location,
		.reason = reason,
		.netns = e->netns,
		.ifindex = e->ifindex,
		.dport = e->dport,
		.type = type,
		.proto = e->proto,
	};

	count_key(&k, dev);
}

static __always_inline void count(const struct trace_event *e, __u64 location, const struct sk_buff *skb)
{
	count_event(e, e->type, e->reason, location, skb ? BPF_CORE_READ(skb, dev) : NULL);
}

/*
 * The stack of e's walk, or (--stack-rate) the one its site walked less
 * than stack_gap_ns ago, then TX_STACK_REUSED is set in *flags. A site is
 * type, reason and location: in a storm they are the same drop, and the
 * walk would cost the dropping CPU more than everything else it does.
 */
static __noinline long stack_of(void *ctx, const struct trace_event *e, __u32 *flags)
{
	if (!stack_gap_ns)
		return bpf_get_stackid(ctx, &stacks, 0);
	__u32 i = e->type * TRACE_STACK_SITES +
		  (__u32)(((e->location ^ e->reason) * 0x9e3779b97f4a7c15ULL) >> 60) % TRACE_STACK_SITES;
	struct stack_site *s = bpf_map_lookup_elem(&stack_sites, &i);

	if (s && s->location == e->location && s->reason == e->reason && s->stack_id >= 0 && s->walked_ns &&
	    e->ts_ns - s->walked_ns < stack_gap_ns) {
		*flags |= TX_STACK_REUSED;
		return s->stack_id;
	}
	long id = bpf_get_stackid(ctx, &stacks, 0);
	if (s) {
		s->location = e->location;
		s->reason = e->reason;
		s->stack_id = id;
		s->walked_ns = e->ts_ns;
	}
	return id;
}

/*
 * Built on the stack and copied in only when it passes the filters: a
 * filtered-out event never touches the ring buffer. skb: the dropped packet
 * (an IP packet), for -w. location: --count's, of a DROP.
 */
static __always_inline int finish_at(void *ctx, struct trace_event *e, const struct sk_buff *skb, __u64 location,
				     const struct sk_buff *dev_skb)
{
	bool want_stack = stack_types & (1u << e->type);
	bool want_pkt = snaplen && skb;
	__u32 zero = 0;

	if (!wanted(e))
		return 0;
	if (count_mode) {
		count(e, location, dev_skb);
		return 0;
	}
	if (!want_stack && !want_pkt) {
		emit_event(e);
		return 0;
	}
	/* only the filters' survivors get here: the stack walk costs no other drop */
	__u32 flags = want_stack ? TX_STACK : 0;
	long stack_id = want_stack ? stack_of(ctx, e, &flags) : 0;
	if (!want_pkt) {	/* small enough for the BPF stack: no scratch lookup, no copy */
		struct {
			struct trace_event e;
			__s32 stack_id;
			__u32 caplen, pktlen, flags;
		} s;
		__builtin_memcpy(&s.e, e, sizeof(*e));
		s.stack_id = stack_id;
		s.caplen = s.pktlen = 0;
		s.flags = flags;
		emit(&s, sizeof(s), e->type);
		return 0;
	}
	struct trace_record *r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	__builtin_memcpy(&r->e, e, sizeof(*e));
	r->x.stack_id = stack_id;
	r->x.caplen = r->x.pktlen = 0;
	r->x.flags = flags;
	if (want_pkt)
		capture(&r->x, skb);
	__u32 cap = r->x.caplen;
	if (cap > TRACE_SNAPLEN_MAX)
		cap = TRACE_SNAPLEN_MAX;
	emit(r, __builtin_offsetof(struct trace_record, x.pkt) + cap, e->type);
	return 0;
}

static __always_inline int finish(void *ctx, struct trace_event *e)
{
	return finish_at(ctx, e, NULL, 0, NULL);
}

static __always_inline bool reason_wanted(__u32 reason)
{
	if (reason == reason_not_dropped || reason == reason_consumed)
		return false;
	if (n_reasons) {
		for (__u32 i = 0; i < TRACE_MAX_REASONS; i++) {
			if (i >= n_reasons)
				break;
			if (reasons[i] == reason)
				return true;
		}
		return false;
	}
	return all_reasons || reason != reason_not_specified;
}

/*
 * --count without --ip/--cidr/--port: only what the key needs, no event
 * built (the addresses are never copied, nothing is zeroed but the key).
 * False when the skb is no IP packet: the general path decides then.
 */
static __always_inline bool count_drop(const struct sk_buff *skb, __u32 reason, __u64 location)
{
	struct trace_event ev;	/* only the fields below are read: the compiler drops the other stores */

	ev.netns = ev.ifindex = 0;
	ev.proto = 0;
	ev.dport = 0;
	if (!from_skb_at(&ev, skb, true, false))
		return false;
	count_event(&ev, TT_DROP, reason, location, skb->dev);
	return true;
}

/*
 * A plain drop event when nothing can reject it (no --ip/--cidr/--port, a
 * reason to tell a drop by, neither --stack nor a packet): built where the
 * ring buffer reserved it, not on the stack and copied.
 */
static __always_inline void drop_in_ring(const struct sk_buff *skb, __u32 reason, __u64 location)
{
	struct trace_batch_state *st = NULL;
	struct trace_event *e = stage_begin(&st);

	if (!e)
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost[TT_DROP], 1);
		return;
	}
	start(e, TT_DROP);
	e->reason = reason;
	e->location = location;
	if (!from_skb_at(e, skb, true, true)) {
		struct sock *sk = skb->sk;
		if (sk)
			from_sock(e, sk);
	}
	e->state = 0;
	if (st)
		stage_end(st, e);
	else
		bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(trace_kfree_skb, struct sk_buff *skb)
{
	struct trace_event ev, *e = &ev;
	__u32 reason = 0;

	if (has_drop_reason)
		reason = (__u32)ctx[2];
	if (!reason_wanted(reason))
		return 0;
	if (count_mode && !n_nets && !n_ports && count_drop(skb, reason, ctx[1]))
		return 0;
	if (!count_mode && !n_nets && !n_ports && has_drop_reason && !(stack_types & (1u << TT_DROP)) && !snaplen) {
		drop_in_ring(skb, reason, ctx[1]);
		return 0;
	}
	start(e, TT_DROP);
	e->reason = reason;
	e->location = ctx[1];	/* kfree_skb(skb, location, ...) on every kernel */
	bool ip = from_skb_at(e, skb, true, true);
	/*
	 * Before 5.17 (no reason) kfree_skb also frees what is no network
	 * drop: netlink messages, unix socket buffers. Only IP packets count
	 * there, unless --all-reasons.
	 */
	if (!ip && !has_drop_reason && !all_reasons)
		return 0;
	if (!ip) {
		struct sock *sk = skb->sk;
		if (sk)
			from_sock(e, sk);
	}
	e->state = 0;
	return finish_at(ctx, e, ip ? skb : NULL, e->location, skb);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(trace_tcp_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	struct trace_event ev, *e = &ev;

	start(e, TT_RST_SENT);
	if (has_rst_reason)
		e->reason = (__u32)ctx[2];
	/* skb is the segment that provoked the RST: the RST goes back to its source. */
	if (skb && from_skb(e, skb))
		swap_ends(e);
	else if (sk)
		from_sock(e, sk);
	if (sk)
		e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->proto = IPPROTO_TCP;
	return finish(ctx, e);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(trace_tcp_receive_reset, const struct sock *sk)
{
	struct trace_event ev, *e = &ev;

	start(e, TT_RST_RECV);
	from_sock(e, sk);
	e->proto = IPPROTO_TCP;
	e->reason = e->state;
	return finish(ctx, e);
}

SEC("tp_btf/inet_sk_error_report")
int BPF_PROG(trace_inet_sk_error_report, const struct sock *sk)
{
	int err = BPF_CORE_READ(sk, sk_err);
	struct trace_event ev, *e = &ev;

	if (!err)
		return 0;
	start(e, TT_SOCK_ERR);
	from_sock(e, sk);
	e->reason = err;
	return finish(ctx, e);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(trace_tcp_retransmit_skb, const struct sock *sk)
{
	struct trace_event ev, *e = &ev;

	start(e, TT_RETRANS);
	from_sock(e, sk);
	e->proto = IPPROTO_TCP;
	e->reason = e->state;
	return finish(ctx, e);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
