// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * traceloop: a syscall flight recorder. Every syscall entry and exit of the
 * traced cgroups is written into an overwritable ring per cgroup (a slice of
 * one preallocated, mmap-able array), so the last nr_records syscalls of each
 * container are there to read even after it exited. raw_tp/sys_enter and
 * sys_exit: no kprobes, fentry or tracefs needed. An i386 syscall on x86_64
 * (int 0x80) is recorded with its own number and TL_COMPAT, its arguments
 * raw: its numbers mean other calls in the native table.
 */
#include "bpf/vmlinux_min.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "bpf/traceloop.h"
#include "bpf/syscall_arch.h"	/* the numbers decoded here, and where the arguments are, per architecture */

const volatile bool filter_cgroup = false;	/* only below the cgroup in cgroup_filter[0] */
const volatile __u32 nr_records = 2048;		/* per slot; a power of two */
const volatile __u32 nr_slots = 32;
const volatile __u32 self_tgid = 0;		/* the recorder: never traced */
const volatile bool filter_mntns = false;	/* only the mount namespaces in mntns_allow */
const volatile bool key_mntns = false;		/* a ring per mount namespace, not per cgroup (cgroup v1) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_MNTNS);
	__type(key, __u32);
	__type(value, __u8);
} mntns_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

/* Sizes are set by user space before load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} slot_of SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_record);
} records SEC(".maps");

__u32 next_slot = 0;
__u64 no_slot = 0;	/* syscalls of cgroups that found every slot taken */

static __always_inline __u32 current_mntns(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

static __always_inline bool traced(void)
{
	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return false;
	if (filter_mntns) {
		__u32 ns = current_mntns();
		if (!bpf_map_lookup_elem(&mntns_allow, &ns))
			return false;
	}
	return !filter_cgroup || bpf_current_task_under_cgroup(&cgroup_filter, 0) == 1;
}

/* The next record of the current cgroup's (or mount namespace's) ring; a slot is taken on first sight. */
static __always_inline struct tl_record *reserve(__u64 *seq)
{
	__u64 cg = key_mntns ? current_mntns() : bpf_get_current_cgroup_id();
	__u32 *slotp = bpf_map_lookup_elem(&slot_of, &cg), slot;
	struct tl_slot *s;

	if (!slotp) {
		slot = __sync_fetch_and_add(&next_slot, 1);
		if (slot >= nr_slots) {
			__sync_fetch_and_add(&no_slot, 1);
			return NULL;
		}
		s = bpf_map_lookup_elem(&slots, &slot);
		if (!s)
			return NULL;
		s->key = cg;
		bpf_map_update_elem(&slot_of, &cg, &slot, BPF_NOEXIST);
		slotp = bpf_map_lookup_elem(&slot_of, &cg);	/* a racing CPU may have won */
		if (!slotp)
			return NULL;
	}
	slot = *slotp;
	s = bpf_map_lookup_elem(&slots, &slot);
	if (!s)
		return NULL;
	__u64 h = __sync_fetch_and_add(&s->head, 1);
	__u32 idx = slot * nr_records + (__u32)(h & (nr_records - 1));
	*seq = h + 1;
	return bpf_map_lookup_elem(&records, &idx);
}

static __always_inline void fill(struct tl_record *r, __u8 kind, __u16 nr)
{
	__u64 id = bpf_get_current_pid_tgid();

	r->ts_ns = bpf_ktime_get_ns();
	r->pid = id >> 32;
	r->tid = (__u32)id;
	r->nr = nr;
	r->kind = kind;
	r->cpu = (__u8)bpf_get_smp_processor_id();
	r->data_len = 0;
	r->flags = 0;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
}

static __always_inline void copy_str(struct tl_record *r, unsigned long uptr)
{
	long n = bpf_probe_read_user_str(r->data, TL_DATA, (const void *)uptr);

	r->data_len = n > 0 ? (__u8)n : 0;
}

static __always_inline void copy_bytes(struct tl_record *r, unsigned long uptr, __u64 len)
{
	__u32 n = len > TL_DATA ? TL_DATA : (__u32)len;

	if (n && !bpf_probe_read_user(r->data, n & 0x7f, (const void *)uptr))
		r->data_len = (__u8)n;
}

static __always_inline void copy_argv(struct tl_record *r, unsigned long argv_ptr)
{
	const char *const *argv = (const char *const *)argv_ptr;
	__u32 off = 0;

	for (int i = 0; i < 8; i++) {
		const char *arg = NULL;
		if (off > TL_DATA - TL_ARG_MAX)
			break;
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			break;
		long n = bpf_probe_read_user_str(&r->data[off], TL_ARG_MAX, arg);
		if (n <= 0)
			break;
		off += n;
	}
	r->data_len = (__u8)off;
}

SEC("raw_tp/sys_enter")
int traceloop_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (void *)ctx->args[0];
	long nr = (long)ctx->args[1];
	struct tl_record *r;
	__u64 seq;

	if (!traced() || !(r = reserve(&seq)))
		return 0;
	fill(r, TL_ENTER, (__u16)nr);
	if (sc_in_compat()) {
		r->flags = TL_COMPAT;
		for (int i = 0; i < 6; i++)
			r->args[i] = sc_compat_arg(regs, i);
		r->seq = seq;
		return 0;
	}
	for (int i = 0; i < 6; i++)
		r->args[i] = sc_arg(regs, i);
	switch (nr) {
#ifdef HAVE_NR_open
	case NR_open:
		copy_str(r, r->args[0]);
		break;
#endif
	case NR_openat:
	case NR_openat2:
		copy_str(r, r->args[1]);
		break;
	case NR_write:
	case NR_pwrite64:
	case NR_sendto:
		copy_bytes(r, r->args[1], r->args[2]);
		break;
	case NR_connect:
	case NR_bind:
		copy_bytes(r, r->args[1], r->args[2] > 28 ? 28 : r->args[2]);
		break;
	case NR_execve:
		copy_argv(r, r->args[1]);
		break;
	case NR_execveat:
		copy_argv(r, r->args[2]);
		break;
	}
	r->seq = seq;
	return 0;
}

SEC("raw_tp/sys_exit")
int traceloop_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (void *)ctx->args[0];
	long ret = (long)ctx->args[1];
	struct tl_record *r;
	__u64 seq;

	if (!traced() || !(r = reserve(&seq)))
		return 0;
	long nr = sc_exit_nr(regs);
	fill(r, TL_EXIT, (__u16)nr);
	r->args[0] = ret;
	if (sc_in_compat())
		r->flags = TL_COMPAT;
	/* What was read is only there now: the buffer pointer is still in the saved registers. */
	else if ((nr == NR_read || nr == NR_pread64 || nr == NR_recvfrom) && ret > 0)
		copy_bytes(r, sc_arg(regs, 1), ret);
	r->seq = seq;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
