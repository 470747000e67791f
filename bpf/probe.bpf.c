// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The smallest real tracing program: capcheck loads and attaches it to prove
 * that this process can run retina's tracer here (capabilities, seccomp, BTF
 * and CO-RE all have to work). It counts the syscalls of one process and
 * records that process's tgid twice: once by a CO-RE read of task_struct,
 * once by a helper, so user space can check the relocation was right.
 */
#include "bpf/vmlinux_min.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;	/* set before load */

__u64 hits = 0;
__u32 core_tgid = 0;

SEC("raw_tp/sys_enter")
int probe_sys_enter(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid != target_tgid)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	core_tgid = BPF_CORE_READ(task, tgid);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
