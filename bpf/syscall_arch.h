/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the raw_tp/sys_enter and sys_exit programs need to know of the CPU:
 * the numbers of the syscalls they decode and where the saved registers keep
 * the arguments (struct pt_regs in bpf/vmlinux_min.h, CO-RE relocated).
 * Built per target with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64.
 * 32-bit tasks (ia32 on x86_64, AArch32 on arm64) enter with another table's
 * numbers and are not told apart here.
 */
#ifndef RETINA_BPF_SYSCALL_ARCH_H
#define RETINA_BPF_SYSCALL_ARCH_H

#if defined(__TARGET_ARCH_x86)
enum {
	NR_read = 0, NR_write = 1, NR_open = 2, NR_pread64 = 17, NR_pwrite64 = 18, NR_connect = 42,
	NR_sendto = 44, NR_recvfrom = 45, NR_bind = 49, NR_execve = 59, NR_openat = 257, NR_execveat = 322,
	NR_openat2 = 437,
};
#define HAVE_NR_open 1
/* args: di, si, dx, r10, r8, r9; the number survives the call in orig_ax */
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, di)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, si)
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, dx)
#define SYSCALL_ARG3(regs) BPF_CORE_READ(regs, r10)
#define SYSCALL_ARG4(regs) BPF_CORE_READ(regs, r8)
#define SYSCALL_ARG5(regs) BPF_CORE_READ(regs, r9)
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#elif defined(__TARGET_ARCH_arm64)
/* The generic table (asm-generic/unistd.h): no open(), only openat(). */
enum {
	NR_read = 63, NR_write = 64, NR_pread64 = 67, NR_pwrite64 = 68, NR_connect = 203,
	NR_sendto = 206, NR_recvfrom = 207, NR_bind = 200, NR_execve = 221, NR_openat = 56,
	NR_execveat = 281, NR_openat2 = 437,
};
/* args: x0..x5; x0 becomes the return value, orig_x0 keeps the first argument */
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, orig_x0)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, regs[1])
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, regs[2])
#define SYSCALL_ARG3(regs) BPF_CORE_READ(regs, regs[3])
#define SYSCALL_ARG4(regs) BPF_CORE_READ(regs, regs[4])
#define SYSCALL_ARG5(regs) BPF_CORE_READ(regs, regs[5])
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#else
#error "bpf/syscall_arch.h: build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

#endif
