/* The arm64 kernel's own layout of struct pt_regs, as arch/arm64/include/asm/ptrace.h
 * declares it (regs[] in an anonymous struct inside an anonymous union, then
 * orig_x0 and syscallno), for tests/arm64/test_bpf_core.py; the other types the
 * programs relocate come from vmlinux_min.h (they are not arch-specific). */
#define pt_regs pt_regs_of_the_program
#include "bpf/vmlinux_min.h"
#undef pt_regs
struct user_pt_regs { __u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate; };
struct pt_regs {
	union {
		struct user_pt_regs user_regs;
		struct { __u64 regs[31]; __u64 sp; __u64 pc; __u64 pstate; };
	};
	__u64 orig_x0;
	__s32 syscallno;
	__u32 unused2;
	__u64 sdei_ttbr1;
	__u64 pmr_save;
	__u64 stackframe[2];
	__u64 lockdep_hardirqs;
	__u64 exit_rcu;
};
struct pt_regs kernel_pt_regs;
struct task_struct kernel_task_struct;
