/*
 * traceloop's record: one syscall entry or exit, as the BPF program writes it
 * into a container's ring and user space reads it (shared by both sides).
 */
#ifndef RETINA_BPF_TRACELOOP_H
#define RETINA_BPF_TRACELOOP_H

#define TL_DATA 72		/* decoded argument bytes kept per record */
#define TL_ARG_MAX 32		/* one execve argument in data */
#define TL_MAX_MNTNS 64		/* --pod on cgroup v1, --mntns */

enum tl_kind { TL_ENTER = 1, TL_EXIT = 2 };
enum tl_flags { TL_COMPAT = 1 };	/* an i386 syscall on x86_64: nr is from that table */

struct tl_record {
	__u64 seq;		/* 1 + the ring position it was written at; 0: never written */
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u32 pid, tid;
	__u16 nr;		/* syscall number in the traced CPU's numbering (x86_64, arm64; i386's with TL_COMPAT) */
	__u8 kind;		/* enum tl_kind */
	__u8 cpu;
	__u8 data_len;		/* bytes of data used */
	__u8 flags;		/* enum tl_flags */
	__u8 pad[2];
	char comm[16];
	__u64 args[6];		/* enter: the arguments; exit: args[0] is the return value */
	char data[TL_DATA];	/* path, data preview, sockaddr or NUL-separated argv */
};				/* 168 bytes */

/* Per container (cgroup, or mount namespace on cgroup v1): how far its ring was written. */
struct tl_slot {
	__u64 key;		/* cgroup v2 id, or mount namespace inode (key_mntns) */
	__u64 head;		/* records ever written; the ring holds the last nr_records */
};

#endif
