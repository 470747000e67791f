// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The smallest real tracing program: capcheck loads and attaches it to prove
 * that this process can run retina's tracer here (capabilities, seccomp, BTF
 * and CO-RE all have to work). It counts the syscalls of one process and
 * records that process's global tgid twice: once by a CO-RE read of
 * task_struct, once by a helper, so user space can check the relocation was
 * right. The process is matched by its tgid as its own PID namespace sees it
 * (getpid() in a container is not the global tgid).
 */
#include "bpf/vmlinux_min.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* Set before load: getpid(), and the PID namespace it is in (/proc/self/ns/pid). */
const volatile __u32 target_tgid = 0;
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;

__u64 hits = 0;
__u32 core_tgid = 0;
__u32 helper_tgid = 0;

SEC("raw_tp/sys_enter")
int probe_sys_enter(void *ctx)
{
	struct bpf_pidns_info ns;

	/* Fails for tasks outside that namespace: they are not the target. */
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)) || ns.tgid != target_tgid)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	core_tgid = BPF_CORE_READ(task, tgid);
	helper_tgid = bpf_get_current_pid_tgid() >> 32;
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
