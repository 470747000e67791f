/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one place BPF programs learn the machine's syscalls: numbers, where
 * sys_enter finds the arguments, and whether a syscall came through the
 * 32-bit compat table (x86's i386 ABI: int 0x80, sysenter), whose numbers
 * and registers differ. The arguments are read from struct pt_regs
 * (bpf/vmlinux_min.h, CO-RE relocated). Selected by the -D__TARGET_ARCH_xxx
 * the Makefile passes to clang; user space's names for the numbers live in
 * applets/traceloop_syscalls.h, per architecture too.
 */
#ifndef RETINA_BPF_SYSCALL_ARCH_H
#define RETINA_BPF_SYSCALL_ARCH_H

#include <bpf/bpf_core_read.h>

#if defined(__TARGET_ARCH_x86)

enum {
	NR_read = 0, NR_write = 1, NR_open = 2, NR_pread64 = 17, NR_pwrite64 = 18, NR_connect = 42,
	NR_sendto = 44, NR_recvfrom = 45, NR_bind = 49, NR_execve = 59, NR_openat = 257, NR_execveat = 322,
	NR_openat2 = 437,
};
#define HAVE_NR_open 1
/* arch/x86/entry/syscalls/syscall_32.tbl */
enum { COMPAT_NR_execve = 11, COMPAT_NR_execveat = 358 };
#define SC_HAS_COMPAT 1
#define TS_COMPAT 0x0002

/* Argument n (0-5) of the syscall being entered, native ABI; the number survives the call in orig_ax. */
static __always_inline unsigned long sc_arg(struct pt_regs *regs, int n)
{
	switch (n) {
	case 0: return BPF_CORE_READ(regs, di);
	case 1: return BPF_CORE_READ(regs, si);
	case 2: return BPF_CORE_READ(regs, dx);
	case 3: return BPF_CORE_READ(regs, r10);
	case 4: return BPF_CORE_READ(regs, r8);
	default: return BPF_CORE_READ(regs, r9);
	}
}

/* Argument n of an i386 syscall (32-bit values). */
static __always_inline unsigned long sc_compat_arg(struct pt_regs *regs, int n)
{
	switch (n) {
	case 0: return (__u32)BPF_CORE_READ(regs, bx);
	case 1: return (__u32)BPF_CORE_READ(regs, cx);
	case 2: return (__u32)BPF_CORE_READ(regs, dx);
	case 3: return (__u32)BPF_CORE_READ(regs, si);
	case 4: return (__u32)BPF_CORE_READ(regs, di);
	default: return (__u32)BPF_CORE_READ(regs, bp);
	}
}

/* The syscall number at sys_exit (sys_exit's raw tracepoint does not pass it). */
static __always_inline long sc_exit_nr(struct pt_regs *regs)
{
	return BPF_CORE_READ(regs, orig_ax);
}

/* Is the current syscall an i386 one? (TS_COMPAT is set on entry through the 32-bit paths.) */
static __always_inline bool sc_in_compat(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	unsigned int status = 0;

	bpf_core_read(&status, sizeof(status), &task->thread_info.status);
	return status & TS_COMPAT;
}

#elif defined(__TARGET_ARCH_arm64)

/* include/uapi/asm-generic/unistd.h: arm64 has no open(2), only openat (no HAVE_NR_open) */
enum {
	NR_read = 63, NR_write = 64, NR_pread64 = 67, NR_pwrite64 = 68, NR_connect = 203,
	NR_sendto = 206, NR_recvfrom = 207, NR_bind = 200, NR_execve = 221, NR_openat = 56, NR_execveat = 281,
	NR_openat2 = 437,
};
/* AArch32 compat tasks are not told apart: their execs are not decoded */
enum { COMPAT_NR_execve = -1, COMPAT_NR_execveat = -1 };
#define SC_HAS_COMPAT 0

/* x0..x5; x0 becomes the return value, orig_x0 keeps the first argument. */
static __always_inline unsigned long sc_arg(struct pt_regs *regs, int n)
{
	switch (n) {
	case 0: return BPF_CORE_READ(regs, orig_x0);	/* regs[0] is the return value at exit */
	case 1: return BPF_CORE_READ(regs, regs[1]);
	case 2: return BPF_CORE_READ(regs, regs[2]);
	case 3: return BPF_CORE_READ(regs, regs[3]);
	case 4: return BPF_CORE_READ(regs, regs[4]);
	default: return BPF_CORE_READ(regs, regs[5]);
	}
}

static __always_inline unsigned long sc_compat_arg(struct pt_regs *regs, int n)
{
	return sc_arg(regs, n);
}

static __always_inline long sc_exit_nr(struct pt_regs *regs)
{
	return BPF_CORE_READ(regs, syscallno);
}

static __always_inline bool sc_in_compat(void)
{
	return false;
}

#else
#error "bpf/syscall_arch.h: no syscall table for this architecture (-D__TARGET_ARCH_x86 or arm64)"
#endif

#endif
