// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * execsnoop: every execve/execveat, with its arguments and its result.
 * This kernel has no kprobes, no fentry and no tracefs, so both halves are
 * raw tracepoints: sys_enter (filtered on the syscall number) copies the
 * arguments while the caller's memory still holds them; sys_exit adds the
 * return value and the new comm and sends the event. Filters (cgroup, mount
 * namespace, comm) are applied here, in the kernel.
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
	const char *const *argv;
	struct exec_event *e;
	__u32 zero = 0, tid;

	if (nr != NR_execve && nr != NR_execveat)
		return 0;
	if (!wanted())
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	argv = (const char *const *)(nr == NR_execve ? SYSCALL_ARG1(regs) : SYSCALL_ARG2(regs));
	e->args_count = 0;
	e->args_size = 0;
	e->args_truncated = 0;

	__u32 off = 0;
	for (int i = 0; i < EXECSNOOP_MAX_ARGS; i++) {
		const char *arg = NULL;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			goto done;
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
	const char *more = NULL;
	if (!bpf_probe_read_user(&more, sizeof(more), &argv[EXECSNOOP_MAX_ARGS]) && more)
		e->args_truncated = 1;
done:
	e->args_size = off;
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &tid, e, BPF_ANY);
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
