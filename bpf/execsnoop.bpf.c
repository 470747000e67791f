// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * execsnoop: every execve/execveat, with its arguments and its result.
 * This kernel has no kprobes, no fentry and no tracefs, so both halves are
 * raw tracepoints: sys_enter (filtered on the syscall number) copies the
 * arguments while the caller's memory still holds them; sys_exit adds the
 * return value and the new comm and sends the event. Filters (cgroup, mount
 * namespace, comm) are applied here, in the kernel.
 *
 * Two traps: an exec from a thread that is not the leader returns in a
 * thread that took the leader's ID (de_thread), so sched_process_exec moves
 * the pending entry to the new ID; and an i386 execve (int 0x80 on x86_64)
 * has its own number (11) and 32-bit argv, told apart by TS_COMPAT.
 */
#include "bpf/vmlinux_min.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "bpf/execsnoop.h"
#include "bpf/syscall_arch.h"

/* Set before load. */
const volatile bool filter_cgroup = false;	/* only the cgroup in cgroup_filter[0] and its descendants */
const volatile bool filter_mntns = false;	/* only mount namespaces in mntns_allow */
const volatile char filter_comm[16] = {};	/* "": any */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Execs between enter and exit, by thread id (LRU: an exec whose exit never came cannot fill it). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct exec_event);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXECSNOOP_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, __u8);
} mntns_allow SEC(".maps");

/* Too big for the stack: built here, then copied into pending. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

__u64 lost = 0;		/* events the ring buffer had no room for */

static __always_inline __u32 current_mntns(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

static __always_inline bool wanted(void)
{
	/* Descendants count: a pod's cgroup holds its containers' cgroups. */
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	if (filter_mntns) {
		__u32 ns = current_mntns();
		if (!bpf_map_lookup_elem(&mntns_allow, &ns))
			return false;
	}
	return true;
}

SEC("raw_tp/sys_enter")
int execsnoop_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = (long)ctx->args[1];
	struct pt_regs *regs = (void *)ctx->args[0];
	unsigned long argv;
	struct exec_event *e;
	__u32 zero = 0, tid;
	bool compat = false;

	if (nr == NR_execve || nr == NR_execveat || (SC_HAS_COMPAT && (nr == COMPAT_NR_execve || nr == COMPAT_NR_execveat))) {
		compat = sc_in_compat();
		/* the other table's number: i386 59 is oldolduname, x86_64 11 is munmap */
		if (compat ? nr != COMPAT_NR_execve && nr != COMPAT_NR_execveat : nr != NR_execve && nr != NR_execveat)
			return 0;
	} else {
		return 0;
	}
	if (!wanted())
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	if (compat)
		argv = sc_compat_arg(regs, nr == COMPAT_NR_execve ? 1 : 2);
	else
		argv = sc_arg(regs, nr == NR_execve ? 1 : 2);
	e->args_count = 0;
	e->args_size = 0;
	e->args_truncated = 0;

	__u32 off = 0;
	for (int i = 0; i < EXECSNOOP_MAX_ARGS; i++) {
		const char *arg = NULL;
		long n;

		if (compat) {	/* an array of 32-bit pointers */
			__u32 a32 = 0;
			if (bpf_probe_read_user(&a32, sizeof(a32), (const void *)(argv + 4 * i)) || !a32)
				goto done;
			arg = (const char *)(unsigned long)a32;
		} else if (bpf_probe_read_user(&arg, sizeof(arg), (const void *)(argv + 8 * i)) || !arg) {
			goto done;
		}
		if (off > EXECSNOOP_ARGS_SIZE - EXECSNOOP_ARG_MAX) {
			e->args_truncated = 1;
			goto done;
		}
		n = bpf_probe_read_user_str(&e->args[off], EXECSNOOP_ARG_MAX, arg);
		if (n <= 0)
			goto done;
		if (n == EXECSNOOP_ARG_MAX)
			e->args_truncated = 1;
		off += n;
		e->args_count++;
	}
	/* Twenty arguments copied: is there a 21st? */
	unsigned long more = 0;
	if (!bpf_probe_read_user(&more, compat ? 4 : 8, (const void *)(argv + (compat ? 4 : 8) * EXECSNOOP_MAX_ARGS)) &&
	    more)
		e->args_truncated = 1;
done:
	e->args_size = off;
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &tid, e, BPF_ANY);
	return 0;
}

/*
 * A successful exec from a non-leader thread: de_thread() gave the thread the
 * leader's ID (old_pid is the ID it entered execve with), so the pending
 * entry moves to the ID sys_exit will look up.
 */
SEC("raw_tp/sched_process_exec")
int execsnoop_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 old = (__u32)ctx->args[1], tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_event *e;

	if (old == tid || !(e = bpf_map_lookup_elem(&pending, &old)))
		return 0;
	bpf_map_update_elem(&pending, &tid, e, BPF_ANY);
	bpf_map_delete_elem(&pending, &old);
	return 0;
}

static __always_inline bool comm_matches(const char comm[16])
{
	if (!filter_comm[0])
		return true;
	for (int i = 0; i < 16; i++) {
		if (comm[i] != filter_comm[i])
			return false;
		if (!comm[i])
			return true;
	}
	return true;
}

SEC("raw_tp/sys_exit")
int execsnoop_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct exec_event *e = bpf_map_lookup_elem(&pending, &tid);

	if (!e)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	e->ret = (__s32)ctx->args[1];
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pid_tgid >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->mntns = current_mntns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (comm_matches(e->comm) && bpf_ringbuf_output(&events, e, sizeof(*e), 0))
		__sync_fetch_and_add(&lost, 1);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
