/*
 * The few kernel types our BPF programs touch, declared by hand instead of a
 * generated vmlinux.h: preserve_access_index makes every field access a CO-RE
 * relocation, resolved against the *running* kernel's BTF at load time, so
 * layout here need not match any kernel. Add fields as programs need them.
 */
#ifndef RETINA_VMLINUX_MIN_H
#define RETINA_VMLINUX_MIN_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

/* uapi (fixed layout, not relocated): what bpf_get_ns_current_pid_tgid() fills. */
struct bpf_pidns_info {
	__u32 pid;
	__u32 tgid;
};

/* uapi constants (linux/bpf.h), stable by ABI */
enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_CGROUP_ARRAY = 8,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0, BPF_NOEXIST = 1 };
enum { BPF_F_MMAPABLE = 1U << 10 };
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

/* raw_tp context: the tracepoint's arguments as u64s */
struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/*
 * The saved user registers as sys_enter/sys_exit see them (see bpf/syscall_arch.h).
 * arm64: arguments in regs[0..5]; x0 becomes the return value, orig_x0 keeps
 * the first argument. regs[] sits in an anonymous union in the kernel's; CO-RE finds it.
 */
#if defined(__TARGET_ARCH_arm64)
struct pt_regs {
	__u64 regs[31];
	__u64 sp, pc, pstate;
	__u64 orig_x0;
	__s32 syscallno;
};
#else
/*
 * x86_64: native arguments in di, si, dx, r10, r8, r9; i386 (int 0x80,
 * sysenter) ones in bx, cx, dx, si, di, bp.
 */
struct pt_regs {
	unsigned long di, si, dx, r10, r8, r9, orig_ax;
	unsigned long bx, cx, bp;
};

/* x86: status & TS_COMPAT while an i386 syscall runs (in_ia32_syscall()) */
struct thread_info {
	unsigned int status;
};
#endif

struct ns_common {
	unsigned int inum;
};

struct mnt_namespace {
	struct ns_common ns;
};

struct nsproxy {
	struct mnt_namespace *mnt_ns;
};

struct task_struct {
#if !defined(__TARGET_ARCH_arm64)
	struct thread_info thread_info;
#endif
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct nsproxy *nsproxy;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	char name[16];
	int ifindex;
	possible_net_t nd_net;
};

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__u32 u6_addr32[4];
	} in6_u;
};

/* Flattened: CO-RE finds these through the kernel's anonymous unions. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	int sk_err;
};

struct inet_sock {
	__be16 inet_sport;
};

/* Packet headers, read in place through bpf_rdonly_cast (6.2+): the kernel's own types. */
struct iphdr {
	__u8 protocol;
	__be16 frag_off;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6hdr {
	__u8 nexthdr;
	struct in6_addr saddr;
	struct in6_addr daddr;
};

struct udphdr {
	__be16 source;
	__be16 dest;
};

struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	int skb_iif;
	__be16 protocol;
	__u16 transport_header;
	__u16 network_header;
	unsigned int len;
	unsigned int data_len;
	unsigned char *head;
	unsigned char *data;
};

#pragma clang attribute pop

/* Existence checks only (bpf_core_type_exists): which tracepoint arguments this kernel has. */
enum skb_drop_reason {
	SKB_NOT_DROPPED_YET = 0,
};

enum sk_rst_reason {
	SK_RST_REASON_NOT_SPECIFIED = 0,
};

#endif
